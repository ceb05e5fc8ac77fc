"""Benchmark sections for tools/bench.py; one module per area."""
