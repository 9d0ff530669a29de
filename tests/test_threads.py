"""Threads: configuration, identical results on every thread count, the
environment variables, fork safety and concurrent callers."""
import multiprocessing as mpc
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import reference as R
import sigmoid as S
from sigmoid import _core

N = 1_000_003  # above the threading threshold, odd on purpose


def args_for(name, n, dt, rng):
    with np.errstate(under="ignore"):  # float16 casts of tiny values
        if name == "logit":
            return (rng.uniform(0, 1, n).astype(dt),)
        x = (20 * rng.standard_normal(n)).astype(dt)
        if name in R.FUNCTIONS_2:
            return (x, rng.standard_normal(n).astype(dt))
        return (x,)


def test_get_and_set(threads):
    S.set_num_threads(1)
    assert S.get_num_threads() == 1
    S.set_num_threads(3)
    assert S.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, -1, 1025, 2**70])
def test_set_num_threads_rejects_out_of_range(bad, threads):
    before = S.get_num_threads()
    with pytest.raises(ValueError, match=r"set_num_threads\(\): n must be between 1 and 1024"):
        S.set_num_threads(bad)
    assert S.get_num_threads() == before


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_set_num_threads_rejects_non_integers(bad, threads):
    with pytest.raises(TypeError, match=r"set_num_threads\(\): n must be an int"):
        S.set_num_threads(bad)


# A fresh process counts its threads (Linux: /proc/self/task) before and
# after calls of one function on N elements with 1, then 3, then 8 threads.
# The pool starts its workers when a call first wants them, so the counts
# show how many threads the calls used: none added for 1, 2 for 3 (the
# caller is the third), 5 more for 8.
_COUNT_THREADS = """
import os, sys
import numpy as np
import sigmoid as S
name, dt = sys.argv[1], np.dtype(sys.argv[2])
n = int(sys.argv[3])
x = np.linspace(0, 1, n) if name == "logit" else np.linspace(-20, 20, n)
args = (x.astype(dt),) + ((np.ones(n, dt),) if sys.argv[4] == "2" else ())
f = getattr(S, name)
counts = [len(os.listdir("/proc/self/task"))]
for k in (1, 3, 8):
    S.set_num_threads(k)
    f(*args)
    counts.append(len(os.listdir("/proc/self/task")))
print(*counts)
"""


def threads_started(name, dt):
    """Threads the calls of `name` with 1, 3 and 8 threads added to a fresh
    process: [0, 2, 7] when the thread setting is obeyed."""
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("the threads of a process are counted from /proc/self/task (Linux)")
    r = _run(_COUNT_THREADS, name, np.dtype(dt).name, str(N), "2" if name in R.FUNCTIONS_2 else "1",
             SIGMOID_NUM_THREADS="1")
    assert r.returncode == 0, r.stderr
    start, *after = map(int, r.stdout.split())
    return [a - start for a in after]


@pytest.mark.parametrize("name", R.FUNCTIONS_1 + R.FUNCTIONS_2)
@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_results_do_not_depend_on_the_thread_count(name, dt, threads):
    """The same bits from 1, 2, 3 and 8 threads, contiguous and strided;
    and the calls with several threads did use them (counted in a fresh
    process), so that the comparison is not of one thread with itself."""
    rng = np.random.default_rng(5)
    args = args_for(name, N, dt, rng)
    f = getattr(S, name)
    S.set_num_threads(1)
    one = f(*args)
    one_strided = f(*(a[::-3] for a in args))
    for n in (2, 3, 8):
        S.set_num_threads(n)
        np.testing.assert_array_equal(f(*args), one)
        np.testing.assert_array_equal(f(*(a[::-3] for a in args)), one_strided)
    assert threads_started(name, dt) == [0, 2, 7]


def _overlap_buffer(name, n, dt, rng):
    """Values of every path: ordinary, beyond the float fast range,
    infinities and nans."""
    x = rng.uniform(-0.1, 1.1, n) if name == "logit" else 30 * rng.standard_normal(n)
    for v in (np.inf, -np.inf, np.nan):
        x[rng.integers(0, n, n // 50)] = v
    with np.errstate(over="ignore", under="ignore"):
        return x.astype(dt)


# (offset of the input, offset of the output, step) into one buffer.  Where
# the output trails the input NumPy passes both to the loop uncopied and
# expects the elements in order; where it leads, NumPy copies the input.
OVERLAPS = [(1, 0, 1), (64, 0, 1), (4099, 0, 1), (2, 0, 2), (5, 0, -1), (0, 3, 1), (0, 64, -2)]


@pytest.mark.parametrize("name", R.FUNCTIONS_1 + R.FUNCTIONS_2)
@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_out_overlapping_an_input_gives_the_result_of_a_separate_output(name, dt, nthreads, isa, threads):
    """out= sharing memory with the inputs, as NumPy's own loops handle it:
    on every instruction set, one thread or several, contiguous, strided or
    reversed; for the gradients both inputs overlap the output."""
    S.set_num_threads(nthreads)
    f = getattr(S, name)
    m = 300_000  # several chunks per thread
    buf = _overlap_buffer(name, 2 * m + 8200, dt, np.random.default_rng(17))

    def view(a, at, step):
        v = a if step > 0 else a[::-1]
        return v[at:at + m * abs(step):abs(step)]

    for i0, o0, step in OVERLAPS:
        a = buf.copy()
        ins = [view(a, i0, step)] + ([view(a, i0 + 1, step)] if name in R.FUNCTIONS_2 else [])
        want = f(*[v.copy() for v in ins])
        out = view(a, o0, step)
        got = f(*ins, out=out)
        assert got is out
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        assert same.all(), f"input at {i0}, output at {o0}, step {step}: {np.count_nonzero(~same)} elements differ"


def _run(code, *args, **env):
    """Run `code` in a fresh Python (warnings are errors) with `args` as
    sys.argv[1:], and `env` added to the environment."""
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-W", "error", "-c", code, *args], capture_output=True, text=True, env=e)


def test_environment_variable_sets_the_default():
    """A value that differs from the default (the cores available) is the
    thread count, and the calls use that many threads."""
    cores = _core._available_cores()
    value = 3 if cores != 3 else 5
    code = ("import os, numpy as np, sigmoid\n"
            "before = len(os.listdir('/proc/self/task')) if os.path.isdir('/proc/self/task') else -1\n"
            "sigmoid.sigmoid(np.zeros(1_000_003))\n"
            "after = len(os.listdir('/proc/self/task')) if before >= 0 else -1\n"
            "print(sigmoid.get_num_threads(), after - before if before >= 0 else 'unknown')")
    r = _run(code, SIGMOID_NUM_THREADS=str(value))
    assert r.returncode == 0, r.stderr
    got, started = r.stdout.split()
    assert int(got) == value != cores
    if started != "unknown":                      # Linux: the pool's workers, the caller being one more
        assert int(started) == value - 1
    r = _run("import sigmoid; print(sigmoid.get_num_threads())", SIGMOID_NUM_THREADS="")
    assert r.stdout.strip() == str(cores)


def test_invalid_environment_variable_warns_and_uses_the_default():
    r = _run("import sigmoid", SIGMOID_NUM_THREADS="many")
    assert r.returncode != 0 and "SIGMOID_NUM_THREADS='many'" in r.stderr  # -W error turns it into an error
    cores = _core._available_cores()
    for value in ("0", "-3", "2000"):
        r = subprocess.run(
            [sys.executable, "-c", "import sigmoid; print(sigmoid.get_num_threads())"],
            capture_output=True, text=True, env=dict(os.environ, SIGMOID_NUM_THREADS=value),
        )
        # the message says what happens: the cores available, not the value given
        assert "RuntimeWarning" in r.stderr and f"using the {cores} core" in r.stderr, r.stderr
        assert f"using {value} " not in r.stderr and r.stdout.strip() == str(cores)


def test_isa_environment_variable():
    r = _run("from sigmoid import _core; print(_core._get_isa())", SIGMOID_ISA="portable")
    assert r.stdout.strip() == "portable"
    r = subprocess.run([sys.executable, "-c", "from sigmoid import _core; print(_core._get_isa())"],
                       capture_output=True, text=True, env=dict(os.environ, SIGMOID_ISA="sse9"))
    assert "RuntimeWarning" in r.stderr and "sse9" in r.stderr
    assert r.stdout.strip() == _core._supported_isas().split(",")[0]


def test_set_isa_rejects_unknown_names():
    with pytest.raises(ValueError, match="not an instruction set"):
        _core._set_isa("sse9")


def _child(q, x, parents):
    """In the forked child: sigma of x with the pool the child starts
    afresh (4 threads: 3 workers), against the parent's result; sends back
    the elements that differ and the threads the call started."""
    tasks = len(os.listdir("/proc/self/task"))
    mine = S.sigmoid(x)
    q.put((int(np.count_nonzero(mine != parents)), len(os.listdir("/proc/self/task")) - tasks))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_fork_after_threads_were_used(threads):
    """A child forked after the pool ran gets the parent's bits, with
    threads of its own (the parent's workers do not exist in it)."""
    S.set_num_threads(4)
    x = np.linspace(-10, 10, N)
    before = S.sigmoid(x)
    ctx = mpc.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, x, before))   # fork: the arrays are inherited, not sent
    with warnings.catch_warnings():
        # JAX, once imported by another test, warns at every fork of its process; the child here uses only
        # this library
        warnings.filterwarnings("ignore", r"os\.fork\(\) was called.*JAX", RuntimeWarning)
        p.start()
    p.join(60)
    assert p.exitcode == 0
    differ, started = q.get(timeout=5)
    assert differ == 0 and started == 3
    np.testing.assert_array_equal(S.sigmoid(x), before)


def test_concurrent_callers(threads):
    """Python threads calling at once (the GIL is released): one uses the
    pool, the others run on their own thread; all results are right."""
    S.set_num_threads(2)
    rng = np.random.default_rng(9)
    xs = [rng.normal(0, 5, N) for _ in range(6)]
    want = [S.sigmoid(x) for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(3):
            got[i] = S.sigmoid(xs[i])

    ts = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------------
# Threads on a busy machine: the verdict of benchmarks/bench_threads.py, and
# workers that start late (a call does not wait for a worker that has not
# started, so a worker may come to a job after its caller has finished it
# and posted the next one).
# ---------------------------------------------------------------------------


def _bench_threads(monkeypatch):
    import importlib

    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
    return importlib.import_module("bench_threads")


def test_bench_threads_verdict_is_computed_from_the_ratios(monkeypatch):
    """benchmarks/bench_threads.py says "held" only when every measured ratio
    all-threads / one-thread is at most 1.1; one ratio above it, or no
    measurement at all, does not hold."""
    bench = _bench_threads(monkeypatch)
    assert bench.verdict([0.62, 1.0, 1.1]) == "held"
    assert bench.verdict([0.62, 1.0, 1.12]) == "not held"
    assert bench.verdict([2.8]) == "not held"
    assert bench.verdict([]) == "no measurement"


def test_back_to_back_calls_on_more_threads_than_cores(threads):
    """Many more threads than cores and calls one after another on fresh
    arrays: workers often wake up after their call is over.  None of them may
    leave a chunk undone or run one for the wrong call, so every result
    equals the one-thread result, element for element and sum for sum (the
    loss pass also uses a per-thread iterator for each tid)."""
    rng = np.random.default_rng(21)
    sizes = [70_001, 131_073, 300_007]  # just above the threading threshold, and a few times it
    xs = [rng.normal(0, 8, n) for n in sizes]
    ys = [(rng.random(n) < 0.5).astype(np.float64) for n in sizes]
    S.set_num_threads(1)
    want = [S.sigmoid(x) for x in xs]
    want_loss = [S.bce_with_logits(x, y, reduction="sum") for x, y in zip(xs, ys)]
    S.set_num_threads(max(16, 4 * _core._available_cores()))
    for i in range(400):
        k = i % len(sizes)
        out = np.full(sizes[k], np.nan)
        S.sigmoid(xs[k], out=out)
        np.testing.assert_array_equal(out, want[k], err_msg=f"call {i}, n={sizes[k]}")
        assert S.bce_with_logits(xs[k], ys[k], reduction="sum") == want_loss[k], f"call {i}, n={sizes[k]}"
