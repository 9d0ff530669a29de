"""Benchmark sigmoid.nn's LSTM, GRU and RNN against torch.nn at the same thread count.

The median time of the forward pass (inference: both under no_grad) and of
forward + backward (gradients of the input, the initial state and every
parameter), and the ratio ours / torch (below 1: faster), ours and torch
called in turn so that both see the same load, each timed call right after
an untimed one of the same pass (see _process.alternating_medians).  The same weights are loaded into both.  One case by default:
batch 64, input 512, hidden 512, 100 steps, one layer, float32 (the sizes
can be changed); ``--sweep`` runs that case and, one change at a time,
batch 1, 8 and 256, hidden 128 and 1024, bidirectional, 2 layers, and
float64.  The header names the instruction set of this library's kernels,
NumPy's BLAS (its core type decides most of the time: the matrix products
are the BLAS's) and both thread counts.

    python benchmarks/bench_rnn.py [--threads N] [--repeat R] [--batch B] [--input I] [--hidden H]
                                   [--steps T] [--layers L] [--bidirectional] [--dtype D]
                                   [--kinds LSTM,GRU,RNN] [--sweep]
"""
import argparse
import os
import sys

from _timing import blas_threads_from_argv, with_threads  # noqa: E402  (before NumPy: it sets the BLAS threads)
from _process import alternating_medians  # noqa: E402

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import sigmoid  # noqa: E402
import sigmoid.nn as nn  # noqa: E402
from sigmoid import _core  # noqa: E402

KINDS = ("LSTM", "GRU", "RNN")

#: the sweep: the default case, then one change at a time
SWEEP = (
    ("default", {}),
    ("batch 1", {"batch": 1}),
    ("batch 8", {"batch": 8}),
    ("batch 256", {"batch": 256}),
    ("hidden 128", {"hidden": 128}),
    ("hidden 1024", {"hidden": 1024}),
    ("bidirectional", {"bidirectional": True}),
    ("2 layers", {"layers": 2}),
    ("float64", {"dtype": "float64"}),
)


def blas_description():
    """NumPy's BLAS: library, version, core type and threads (threadpoolctl
    when it is installed, else NumPy's build configuration)."""
    try:
        from threadpoolctl import threadpool_info

        for d in threadpool_info():
            if d.get("user_api") == "blas":
                return (f"{d.get('internal_api')} {d.get('version')}, core type {d.get('architecture')}, "
                        f"{d.get('num_threads')} thread(s)")
    except ImportError:
        pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return (f"{blas.get('name')} {blas.get('version')}, OPENBLAS_CORETYPE="
            f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}, OPENBLAS_NUM_THREADS="
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'its default')}")


def run_case(torch, kind, B, I, H, T, layers, bidirectional, dt, repeat, rng):
    """(ours forward, torch forward, ours both, torch both) in seconds; the
    torch times are NaN when it is not installed."""
    m = getattr(nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional, dtype=dt, rng=rng)
    x = rng.standard_normal((T, B, I)).astype(dt)
    out, _ = m(x)
    g = rng.standard_normal(out.shape).astype(dt)

    def ours_fwd():
        with nn.no_grad():      # inference, as torch's forward below
            m(x)

    def ours_both():
        m.zero_grad()
        m(x)
        m.backward(g)

    fns = {"ours_fwd": ours_fwd, "ours_both": ours_both}
    if torch is not None:
        tm = getattr(torch.nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional,
                                     dtype=getattr(torch, str(dt)))
        tm.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
        xt, gt = torch.from_numpy(x), torch.from_numpy(g)
        with torch.no_grad():
            want = tm(xt)[0].numpy()
        tol = 1e-4 if dt == np.float32 else 1e-10
        assert np.max(np.abs(out - want)) <= tol, f"{kind}: ours and torch's outputs differ"

        def torch_fwd():
            with torch.no_grad():
                tm(xt)

        def torch_both():
            tm.zero_grad()
            xr = xt.detach().requires_grad_(True)
            o, _ = tm(xr)
            o.backward(gt)

        fns.update(torch_fwd=torch_fwd, torch_both=torch_both)
    t = alternating_medians(fns, repeat, own_first=True)
    nan = float("nan")
    return t["ours_fwd"], t.get("torch_fwd", nan), t["ours_both"], t.get("torch_both", nan)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--input", type=int, default=512)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, of " + ", ".join(KINDS))
    p.add_argument("--sweep", action="store_true", help="the default case and one change at a time (see above)")
    a = p.parse_args(argv)
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        p.error(f"--kinds: unknown {bad}, expected some of {', '.join(KINDS)}")
    threads = a.threads or sigmoid.get_num_threads()
    torch = with_threads(threads)
    base = dict(batch=a.batch, input=a.input, hidden=a.hidden, steps=a.steps, layers=a.layers,
                bidirectional=a.bidirectional, dtype=a.dtype)
    cases = SWEEP if a.sweep else (("as given", {}),)
    print(f"sigmoid {_core._get_isa()} kernels, {threads} thread(s); torch "
          f"{'not installed' if torch is None else f'{torch.__version__}, {torch.get_num_threads()} thread(s)'}; "
          f"NumPy's BLAS: {blas_description()}; load average {os.getloadavg()[0]:.1f}")
    print(f"default case: batch {a.batch}, input {a.input}, hidden {a.hidden}, {a.steps} steps, {a.layers} layer(s)"
          f"{', bidirectional' if a.bidirectional else ''}, {a.dtype}; medians of {a.repeat}")
    print(f"{'case':<14} {'layer':<5} {'pass':<16} {'ours':>10} {'torch':>10} {'ours/torch':>10}")
    rng = np.random.default_rng(0)
    for label, change in cases:
        c = dict(base, **change)
        for kind in kinds:
            of, tf, ob, tb = run_case(torch, kind, c["batch"], c["input"], c["hidden"], c["steps"], c["layers"],
                                      c["bidirectional"], np.dtype(c["dtype"]), a.repeat, rng)
            for name, o, t in (("forward", of, tf), ("forward+backward", ob, tb)):
                print(f"{label:<14} {kind:<5} {name:<16} {o * 1e3:>7.1f} ms {t * 1e3:>7.1f} ms {o / t:>9.2f}x",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
