"""Coverage-guided fuzzing of v2gkit's parsers: ``./run fuzz --help``.

targets.py holds the harness functions and their oracles, seeds.py the seed corpora, run.py the driver
(atheris/libFuzzer workers, progress, findings, summary) and mutate.py a small deterministic mutator that
tests/test_fuzz_harness.py uses so the harness is exercised in CI without the engine.
"""
