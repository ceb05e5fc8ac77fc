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
