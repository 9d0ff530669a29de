"""What the benchmark scripts that measure in subprocesses share: their
command line, running a child and reading its JSON lines, the peak memory
of one call (Linux), and timing ours and the peers alternately."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _timing import torch_version, with_threads  # noqa: F401  (re-exported for the scripts)


def _status(field):
    """A field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def peak_rise(run):
    """Bytes by which the resident set's high-water mark rises above its
    level just before ``run()``.  The mark is reset first (writing 5 to
    /proc/self/clear_refs), so that earlier peaks (imports, making the
    inputs) do not hide the call's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status("VmRSS")
    run()
    return _status("VmHWM") - before


def child(script, args):
    """Run ``python script *args``; the JSON values it printed, one a line."""
    out = subprocess.run([sys.executable, os.path.abspath(script)] + list(args), capture_output=True, text=True,
                         check=True, env=dict(os.environ))
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith(("{", "["))]


def parser(doc, sizes, repeat):
    """The command line of a script that times in one child per thread
    count and measures memory in one child per case: --sizes, --repeat,
    --no-memory, and the children's --threads and --memory."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--sizes", default=sizes)
    p.add_argument("--repeat", type=int, default=repeat)
    p.add_argument("--threads", type=int, default=None, help="(internal) time with this many threads")
    p.add_argument("--memory", default=None, help="(internal) measure the peak memory of one case")
    p.add_argument("--no-memory", action="store_true")
    return p


def alternating_medians(fns, repeat, own_first=False):
    """Median wall-clock seconds of each callable of ``fns`` (name ->
    callable): one warm-up call each, then ``repeat`` rounds in which each
    runs once in turn, so that all see the same load.

    own_first: each timed call comes right after an untimed call of the
    same callable, so that it finds memory and caches as its own previous
    call left them, never as another library's did.  What ran before
    matters on virtual machines: on one, after a pass that freed about a
    gigabyte, single first touches of fresh memory stalled for up to 5 ms."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            if own_first:
                f()
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}
