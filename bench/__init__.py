"""Benchmark harness: `python bench/run.py --help`. Benchmarks, not tests."""
