"""Subprocess plumbing for the reliability tests: timeouts that never hang CI."""
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB = os.path.join(ROOT, "tests", "helpers", "train_job.py")


def env(**extra):
    e = dict(os.environ)
    e.pop("TF_CONFIG", None)
    e.update({"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
              "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""})
    e.update(extra)
    return e


def start(args, **extra_env):
    """Starts `train_job.py ARGS` in its own process group."""
    return subprocess.Popen(
        [sys.executable, JOB, *args], env=env(**extra_env), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def kill(proc, sig=signal.SIGKILL):
    """Kills `proc`'s process group (only processes this test started)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        return ""


def finish(procs, timeout):
    """Waits for all `procs`; kills every one of them if any runs past `timeout`.

    Returns their outputs; raises AssertionError naming the failure.
    """
    import time

    deadline = time.monotonic() + timeout
    outs = []
    try:
        for p in procs:
            left = max(1.0, deadline - time.monotonic())
            outs.append(p.communicate(timeout=left)[0])
    except subprocess.TimeoutExpired:
        tails = [kill(p)[-2000:] for p in procs]
        raise AssertionError(f"subprocess ran past {timeout}s and was killed: {tails}")
    for p, out in zip(procs, outs):
        assert p.returncode == 0, f"exit {p.returncode}:\n{out[-4000:]}"
    return outs
