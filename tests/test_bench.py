"""tools/bench.py and tools/benchmarks/: the runner's entry points, and
combining rows measured in several processes (tools.timing)."""
import os
import subprocess
import sys

import pytest

from tools import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ["attention", "classification", "decoding", "layers", "micro", "tflite",
            "word2vec"]


def _row(name, ours, peer):
    return {"benchmark": name, "ours": ours, "peer": peer, "ratio": peer / ours,
            "unit": "ms", "notes": "n"}


def test_combine_processes_takes_medians_and_reports_the_range():
    runs = [[_row("a", 10.0, 15.0), _row("b", 4.0, 4.0)],
            [_row("a", 11.0, 11.0), _row("b", 5.0, 6.0)],
            [_row("a", 9.0, 18.0), _row("b", 3.0, 2.0)]]
    a, b = timing.combine_processes(runs)
    assert (a["benchmark"], a["ours"], a["peer"]) == ("a", 10.0, 15.0)
    # the median of the per-process ratios (1.5, 1.0, 2.0), not peer/ours of medians
    assert a["ratio"] == 1.5
    assert a["notes"] == "n; median of 3 processes, ratio 1.00-2.00"
    assert (b["ours"], b["peer"], b["ratio"]) == (4.0, 4.0, 1.0)
    assert b["notes"].endswith("ratio 0.67-1.20")


def test_combine_processes_keeps_size_rows_and_flags_differences():
    size = {"benchmark": "flash", "ours": 100, "peer": None, "ratio": None,
            "unit": "bytes", "notes": "n"}
    runs = [[size, _row("a", 10.0, 15.0)], [size, _row("a", 11.0, 11.0)]]
    same, a = timing.combine_processes(runs)
    assert same == size and a["ratio"] == pytest.approx((1.5 + 1.0) / 2)
    other = dict(size, ours=104)
    flagged, _ = timing.combine_processes([[size, _row("a", 1.0, 1.0)],
                                           [other, _row("a", 1.0, 1.0)]])
    assert flagged["ours"] == 100 and flagged["notes"] == "n; differs between processes: 100-104"


def test_combine_processes_skips_failed_processes():
    one = [_row("a", 10.0, 15.0)]
    assert timing.combine_processes([[], one]) == one
    assert timing.combine_processes([[], []]) == []
    two = timing.combine_processes([one, [], [_row("a", 10.0, 20.0)]])
    assert two[0]["ratio"] == pytest.approx(1.75)
    assert "median of 2 processes" in two[0]["notes"]


def test_combine_processes_keeps_rows_without_a_ratio_or_notes():
    size = {"benchmark": "file size", "ours": None, "peer": 100, "ratio": None,
            "unit": "bytes", "notes": "x"}
    bare = {"benchmark": "c", "ours": 2.0, "peer": 3.0, "ratio": 1.5, "unit": "ms"}
    runs = [[size, bare], [dict(size, peer=200), dict(bare, ratio=0.5)],
            [size, dict(bare, ratio=1.0)]]
    first, c = timing.combine_processes(runs)
    assert first == size  # no ratio: the first process' row
    assert c["ratio"] == 1.0 and c["notes"] == "median of 3 processes, ratio 0.50-1.50"


@pytest.mark.parametrize("entry", [["tools/bench.py"], ["-m", "tools.bench"]])
def test_runner_starts_as_a_file_and_as_a_module(entry):
    """`python tools/bench.py` (Makefile, README) and `python -m tools.bench`
    from the repository: the same options and the same sections."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # as a user runs it: nothing but the entry point
    proc = subprocess.run([sys.executable, *entry, "--help"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for option in ("--only", "--quick", "--out", "--processes"):
        assert option in proc.stdout
    assert "{" + ",".join(SECTIONS) + "}" in proc.stdout.replace("\n", "").replace(" ", "")


def test_no_sys_path_edits_in_benchmark_modules():
    """Sections import `tools.timing` / `tools.benchmarks` as a package;
    only the runner script, run as a file, puts the repository on sys.path."""
    folder = os.path.join(ROOT, "tools", "benchmarks")
    paths = [os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".py")]
    paths.append(os.path.join(ROOT, "tools", "timing.py"))
    for path in paths:
        with open(path) as f:
            assert "sys.path" not in f.read(), path
