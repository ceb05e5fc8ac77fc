"""Developer tools: the benchmarks (`python tools/bench.py` or `python -m tools.bench`)
and the GPU checks (tools/gpu/)."""
