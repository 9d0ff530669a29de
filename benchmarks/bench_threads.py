"""Is a call on all threads ever much slower than on one thread?

For sigma (``sigmoid.sigmoid``) in float32 and float64 at 10^5, 10^6 and
10^7 elements, times the same call with ``sigmoid.set_num_threads(1)`` and
with every available core, first on the machine as it is, then with one and
with two competing busy processes (``python -c "while True: pass"``, started
here and killed at the end).  Prints the medians, the ratio
all-threads / one-thread per case, and a verdict computed from those ratios:
"never much slower than one thread" holds when every measured ratio is at
most 1.1.

Also prints the CPU model, the instruction set of the kernels, the cores
available, the load average of the machine (other people's work counts
against us too) and whether two busy processes on this machine run in
parallel or share one core (two busy loops taking about twice one).

    python benchmarks/bench_threads.py
    python benchmarks/bench_threads.py --loads 0,2 --sizes 1e6 --rounds 9

Never part of the test suite: these machines are shared and noisy, so
numbers belong here and in the README, not in assertions.
"""
import argparse
import atexit
import os
import platform
import statistics
import subprocess
import sys
import time

from _timing import median_time

import numpy as np

import sigmoid
from sigmoid import _core

LIMIT = 1.1  # all threads may take at most this many times one thread
SPIN_FOREVER = "while True: pass"
# a fixed amount of pure-Python work; prints the seconds it took
BUSY_LOOP = (
    "import sys, time\n"
    "t = time.perf_counter()\n"
    "for _ in range(int(sys.argv[1])): pass\n"
    "print(time.perf_counter() - t)\n"
)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or what platform knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def busy_loops(k, iterations):
    """Run `k` busy loops of `iterations` each at once in separate processes;
    the median of the seconds each took."""
    ps = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(iterations)], stdout=subprocess.PIPE, text=True)
          for _ in range(k)]
    return statistics.median(float(p.communicate()[0]) for p in ps)


def parallel_check(repeats=3, iterations=10_000_000):
    """(one loop's seconds, two loops' seconds at once): medians of `repeats`.
    Two cores that run in parallel take about as long for two loops as for
    one; two vCPUs sharing one core take about twice as long."""
    one = statistics.median(busy_loops(1, iterations) for _ in range(repeats))
    two = statistics.median(busy_loops(2, iterations) for _ in range(repeats))
    return one, two


class Competitors:
    """`k` processes spinning in a Python loop until stopped (also at exit)."""

    def __init__(self, k):
        self.procs = [subprocess.Popen([sys.executable, "-c", SPIN_FOREVER]) for _ in range(k)]
        atexit.register(self.stop)
        time.sleep(0.2 if k else 0.0)  # let them get going

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def time_case(f, threads, rounds, budget):
    """Median seconds per call of f() on one thread and on `threads` threads.
    The two settings alternate, `rounds` times, so that a change in the
    machine's load falls on both; each round times enough calls to fill
    about `budget` seconds."""
    sigmoid.set_num_threads(1)
    f()
    t = time.perf_counter()
    f()
    calls = int(min(max(budget / max(time.perf_counter() - t, 1e-7), 5), 5000))
    one, all_ = [], []
    for _ in range(rounds):
        sigmoid.set_num_threads(1)
        one.append(median_time(f, calls))
        sigmoid.set_num_threads(threads)
        all_.append(median_time(f, calls))
    return statistics.median(one), statistics.median(all_)


def verdict(ratios, limit=LIMIT):
    """'held' when every ratio all-threads/one-thread is at most `limit`,
    'not held' when one is above it, 'no measurement' when there is none
    (a claim over no cases holds nothing)."""
    ratios = list(ratios)
    if not ratios:
        return "no measurement"
    return "held" if max(ratios) <= limit else "not held"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--function", default="sigmoid", help="the ufunc to time (default sigmoid)")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--sizes", default="1e5,1e6,1e7")
    p.add_argument("--loads", default="0,1,2", help="numbers of competing busy processes")
    p.add_argument("--threads", type=int, default=None, help="'all threads' (default: the cores available)")
    p.add_argument("--rounds", type=int, default=7, help="alternations of the two settings per case")
    p.add_argument("--budget", type=float, default=0.1, help="seconds of calls per round and setting")
    a = p.parse_args(argv)
    f = getattr(sigmoid, a.function)
    sizes = [int(float(s)) for s in a.sizes.split(",")]
    dtypes = a.dtypes.split(",")
    loads = [int(k) for k in a.loads.split(",")]
    cores = _core._available_cores()
    threads = a.threads or cores
    old = sigmoid.get_num_threads()

    print(f"CPU: {cpu_model()} ({platform.machine()}); kernels: {_core._get_isa()} "
          f"(supported: {_core._supported_isas()}); cores available: {cores} of {os.cpu_count()}; "
          f"numpy {np.__version__}; python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    one, two = parallel_check()
    shared = two / one
    print(f"two busy processes at once: {two:.3f} s each vs {one:.3f} s alone ({shared:.2f}x): "
          + ("they run in parallel" if shared < 1.4 else
             "they share one core (not parallel): more threads cannot be faster here, only as fast"
             if shared > 1.7 else "partly parallel"))
    print(f"'all threads' = {threads}; limit: all threads <= {LIMIT} x one thread; medians of {a.rounds} rounds\n")

    head = f"{'competitors':>11} {'load avg':>8} {'dtype':<8} {'n':>9} {'1 thread ms':>12} {f'{threads} threads ms':>13} {'ratio':>6}  "
    print(head)
    print("-" * len(head))
    rows = []
    try:
        for k in loads:
            with Competitors(k):
                for dt in dtypes:
                    for n in sizes:
                        x = np.random.default_rng(0).normal(0, 5, n).astype(dt)
                        out = np.empty_like(x)
                        t1, tn = time_case(lambda: f(x, out=out), threads, a.rounds, a.budget)
                        r = tn / t1
                        rows.append((k, dt, n, t1, tn, r))
                        print(f"{k:>11} {os.getloadavg()[0]:>8.2f} {dt:<8} {n:>9} {t1 * 1e3:>12.4f} {tn * 1e3:>13.4f} "
                              f"{r:>6.2f}  {'ok' if r <= LIMIT else 'SLOWER'}", flush=True)
    finally:
        sigmoid.set_num_threads(old)

    ratios = [r[-1] for r in rows]
    v = verdict(ratios)
    print()
    if rows:
        worst = max(rows, key=lambda r: r[-1])
        print(f"worst case: {worst[0]} competitor(s), {worst[1]}, n={worst[2]}: ratio {worst[-1]:.2f}")
        for k in loads:
            rk = [r[-1] for r in rows if r[0] == k]
            print(f"  {k} competitor(s): ratios {min(rk):.2f} .. {max(rk):.2f}, "
                  f"never much slower: {verdict(rk)}")
    print(f"verdict: a call on {threads} threads is never much slower than on one thread "
          f"(ratio <= {LIMIT} in all {len(ratios)} cases): {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
