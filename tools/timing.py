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


def interleaved_medians(fn_a, fn_b, repeats=5, warmup=2, clock=None, more=()):
    """Median times (wall by default, or `clock`) of `fn_a()` and `fn_b()`
    (and of the functions in `more`), called in turn (a, b, ..., a, b, ...)
    so that all see the same noise of a shared machine; one median per
    function, in their order."""
    import statistics

    clock = clock or time.perf_counter
    fns = (fn_a, fn_b, *more)
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, t in zip(fns, times):
            t0 = clock()
            fn()
            t.append(clock() - t0)
    return tuple(statistics.median(t) for t in times)


def rows_from_process(section, call, timeout=1800):
    """The rows `tools.benchmarks.<section>.<call>` returns, computed in a
    fresh Python process (thread pools can only be sized before TensorFlow
    starts, and a process' own state moves some figures); [] if that
    process fails. `call` is Python source such as "_measure(False)"."""
    import json
    import os
    import subprocess
    import sys

    # run in the repository (`python -c` imports from its working folder)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (f"import json; from tools.benchmarks import {section} as m; "
            f"print('ROWS' + json.dumps(m.{call}, default=str))")
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
    notes. Rows without a ratio (file sizes) are taken from the first
    process, their notes giving the range where processes differ. One
    process' ratio can be off by 10% on a shared machine
    (`docs/kernels.md`); the median of several is steadier."""
    import statistics

    runs = [r for r in runs if r]
    if len(runs) < 2:
        return runs[0] if runs else []

    def median(values):
        values = [v for v in values if isinstance(v, (int, float))]
        return statistics.median(values) if values else None

    combined = []
    for i, row in enumerate(runs[0]):
        same = [r[i] for r in runs if len(r) > i and r[i]["benchmark"] == row["benchmark"]]
        ratios = [r["ratio"] for r in same if isinstance(r.get("ratio"), (int, float))]
        if not ratios:
            values = [r.get("ours") for r in same]
            if len(set(map(repr, values))) > 1:
                numbers = [v for v in values if isinstance(v, (int, float))]
                spread = (f"{min(numbers)}-{max(numbers)}" if len(numbers) == len(values)
                          else ", ".join(map(repr, values)))
                row = dict(row, notes="; ".join(
                    [row.get("notes", "")] * bool(row.get("notes"))
                    + [f"differs between processes: {spread}"]))
            combined.append(row)
            continue
        notes = "; ".join([row.get("notes", "")] * bool(row.get("notes")) + [
            f"median of {len(ratios)} processes, ratio {min(ratios):.2f}-{max(ratios):.2f}"])
        combined.append(dict(row, ours=median(r.get("ours") for r in same),
                             peer=median(r.get("peer") for r in same),
                             ratio=statistics.median(ratios), notes=notes))
    return combined


def run_section(section, measure, args):
    """A section's rows: `measure(quick)` in this process when one process
    is asked for (`--processes 1`, or `--quick` without `--processes`),
    else `combine_processes` over `--processes` fresh processes (default 3)
    each running `tools.benchmarks.<section>._measure(quick)`."""
    quick = bool(getattr(args, "quick", False))
    processes = getattr(args, "processes", None) or (1 if quick else 3)
    if processes <= 1:
        return measure(quick)
    return combine_processes([rows_from_process(section, f"_measure({quick!r})")
                              for _ in range(processes)])
