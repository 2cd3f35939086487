"""Generated codecs (see v2gkit.codegen)."""
