#!/usr/bin/env python
"""Benchmarks: prints a Markdown table and writes it to a file.

Each module in tools/benchmarks/ defines `SECTION` (a title) and
`run(args) -> list[dict]`, each dict one row with at least the keys
`benchmark`, `ours`, `peer`, `ratio` and `unit` (extra keys become a `notes`
column). Ratios are measured against the peer in the same run: the machines
are shared and noisy, so compare ratios, not absolute numbers.

    python tools/bench.py                 # every section
    python tools/bench.py --only layers   # one section
    python tools/bench.py --quick         # fewer repeats, smaller sizes
    python tools/bench.py --only layers --processes 5   # median of 5 processes
    python -m tools.bench --only layers   # the same, as a module
"""
import argparse
import datetime
import importlib
import os
import pkgutil
import platform
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if not __package__:
    # Run as a file (`python tools/bench.py`), Python puts tools/ on sys.path
    # but not the repository, which this needs for the `tools` package (and
    # measures its own checkout of keras_rnnx). `python -m tools.bench` from
    # the repository needs nothing.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def machine_line():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(g.name for g in gpus) or "CPU only"
    return (
        f"{platform.machine()} {os.cpu_count()} cores, {device}; TF {tf.__version__}; "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}"
    )


def format_table(rows):
    cols = ["section", "benchmark", "ours", "peer", "ratio", "unit", "notes"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if isinstance(v, float):
                v = f"{v:.4g}"
            cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv=None):
    from tools import benchmarks

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=names, help="sections to run")
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller sizes")
    p.add_argument("--out", default="bench_results.md", help="file to write the table to")
    p.add_argument("--processes", type=int, default=None,
                   help="fresh processes to take the median over, for sections that "
                        "support it (layers, decoding, tflite; default 3, 1 with --quick)")
    p.add_argument("--rows-json", help=argparse.SUPPRESS)  # internal: one section's rows
    args = p.parse_args(argv)
    sections = args.only or names
    rows = []
    if len(sections) > 1:
        # Each section runs in its own process: no TensorFlow state (thread
        # settings, dtype policies, traced functions, memory) leaks from one
        # section's measurements into the next.
        import json
        import subprocess
        import tempfile

        for name in sections:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "rows.json")
                cmd = [sys.executable, os.path.abspath(__file__), "--only", name,
                       "--out", os.path.join(tmp, "table.md"), "--rows-json", out]
                if args.quick:
                    cmd.append("--quick")
                if args.processes is not None:
                    cmd += ["--processes", str(args.processes)]
                code = subprocess.call(cmd)
                if code != 0 or not os.path.exists(out):
                    rows.append({"section": name, "benchmark": "(section failed)",
                                 "notes": f"exit code {code}"})
                    continue
                with open(out) as f:
                    rows.extend(json.load(f))
        return _write(rows, args.out)
    for name in sections:
        mod = importlib.import_module(f"tools.benchmarks.{name}")
        print(f"## {mod.SECTION}", flush=True)
        for row in mod.run(args):
            row.setdefault("section", name)
            known = {"section", "benchmark", "ours", "peer", "ratio", "unit"}
            extra = {k: v for k, v in row.items() if k not in known | {"notes"}}
            if extra:
                row["notes"] = "; ".join(
                    [row.get("notes", "")] * bool(row.get("notes"))
                    + [f"{k}={v}" for k, v in extra.items()]
                )
            print("  ", {k: row.get(k) for k in ("benchmark", "ours", "peer", "ratio", "unit")}, flush=True)
            rows.append(row)
    if args.rows_json:
        import json

        with open(args.rows_json, "w") as f:
            json.dump(rows, f, default=str)
    return _write(rows, args.out)


def _write(rows, path):
    text = f"# keras_rnnx benchmarks\n\n{machine_line()}\n\n{format_table(rows)}\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    print(text)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
