"""Generated script API tables (see v2gkit.testsys.api.generate)."""
