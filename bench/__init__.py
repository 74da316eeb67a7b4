"""Benchmarks (run as scripts: ``python bench/<name>.py``); shared helpers importable by tests."""
