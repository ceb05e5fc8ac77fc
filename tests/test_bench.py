"""tools/benchmarks/layers.py: combining rows measured in several processes."""
import os
import sys

import pytest

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


@pytest.fixture(scope="module")
def layers_bench():
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    sys.path[:0] = [TOOLS, os.path.join(TOOLS, "benchmarks")]
    try:
        import layers
        yield layers
    finally:  # tools/ modules have generic names ("layers", "bench")
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            if name in ("layers", "bench") or name.startswith("benchmarks"):
                del sys.modules[name]


def _row(name, ours, peer):
    return {"benchmark": name, "ours": ours, "peer": peer, "ratio": peer / ours,
            "unit": "ms", "notes": "n"}


def test_combine_processes_takes_medians_and_reports_the_range(layers_bench):
    runs = [[_row("a", 10.0, 15.0), _row("b", 4.0, 4.0)],
            [_row("a", 11.0, 11.0), _row("b", 5.0, 6.0)],
            [_row("a", 9.0, 18.0), _row("b", 3.0, 2.0)]]
    a, b = layers_bench.combine_processes(runs)
    assert (a["benchmark"], a["ours"], a["peer"]) == ("a", 10.0, 15.0)
    # the median of the per-process ratios (1.5, 1.0, 2.0), not peer/ours of medians
    assert a["ratio"] == 1.5
    assert a["notes"] == "n; median of 3 processes, ratio 1.00-2.00"
    assert (b["ours"], b["peer"], b["ratio"]) == (4.0, 4.0, 1.0)
    assert b["notes"].endswith("ratio 0.67-1.20")


def test_combine_processes_skips_failed_processes(layers_bench):
    one = [_row("a", 10.0, 15.0)]
    assert layers_bench.combine_processes([[], one]) == one
    assert layers_bench.combine_processes([[], []]) == []
    two = layers_bench.combine_processes([one, [], [_row("a", 10.0, 20.0)]])
    assert two[0]["ratio"] == pytest.approx(1.75)
    assert "median of 2 processes" in two[0]["notes"]
