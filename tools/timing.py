"""Timing helpers shared by the benchmark sections in tools/benchmarks/."""
import time


def median_time(fn, repeats=5, warmup=1):
    """Median wall time of `fn()` in seconds over `repeats` runs."""
    import statistics

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(fn_a, fn_b, repeats=5, warmup=2, clock=None):
    """Median times (wall by default, or `clock`) of `fn_a()` and `fn_b()`,
    called alternately (a, b, a, b, ...) so that both see the same noise of
    a shared machine."""
    import statistics

    clock = clock or time.perf_counter
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            t0 = clock()
            fn()
            times.append(clock() - t0)
    return statistics.median(ta), statistics.median(tb)


def rows_in_process(section, function, *args, timeout=1800):
    """Rows from `tools.benchmarks.<section>.<function>(*args)` run in a
    fresh Python process (thread pools can only be sized before TensorFlow
    starts, and each process' figure moves: see `combine_processes`); []
    if that process fails. `args` must be literals (their repr is used)."""
    import json
    import os
    import subprocess
    import sys

    # run in the repository (`python -c` imports from its working folder)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    call = ", ".join(repr(a) for a in args)
    code = (f"import json; from tools.benchmarks import {section}; "
            f"print('ROWS' + json.dumps({section}.{function}({call})))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=timeout, cwd=root)
    except subprocess.TimeoutExpired:
        return []
    for line in proc.stdout.splitlines():
        if line.startswith("ROWS"):
            return json.loads(line[4:])
    return []


def combine_processes(runs):
    """One row per benchmark from the rows of several processes: the median
    of each time and of the per-process ratios, the ratios' range in the
    notes. Rows without a ratio (sizes) are taken from the first process,
    their notes giving the range where processes differ.
    A peer's time can move from one process to the next, so one process'
    ratio can be off by 10% (`docs/kernels.md`); the median of several is
    steadier."""
    import statistics

    runs = [r for r in runs if r]
    if len(runs) < 2:
        return runs[0] if runs else []
    combined = []
    for i, row in enumerate(runs[0]):
        if row.get("ratio") is None:
            values = [r[i]["ours"] for r in runs if len(r) > i]
            if len(set(map(repr, values))) > 1:
                row = dict(row, notes=f"{row['notes']}; differs between processes: "
                                      f"{min(values)}-{max(values)}")
            combined.append(row)
            continue
        same = [r[i] for r in runs if len(r) > i and r[i]["benchmark"] == row["benchmark"]]
        ratios = [r["ratio"] for r in same]
        combined.append(dict(
            row,
            ours=statistics.median(r["ours"] for r in same),
            peer=statistics.median(r["peer"] for r in same),
            ratio=statistics.median(ratios),
            notes=(f"{row['notes']}; median of {len(same)} processes, ratio "
                   f"{min(ratios):.2f}-{max(ratios):.2f}"),
        ))
    return combined
