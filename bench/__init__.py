"""Benchmarks: each reports a ratio against a baseline measured in the same process, never a bare time.

Run them as modules from the project root, e.g. ``.venv/bin/python -m bench.scoring --employees 100000``;
BENCHMARKS.md records the figures.
"""
