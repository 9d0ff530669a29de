"""Benchmark sigmoid.nn's LSTM and GRU against torch.nn at the same thread count.

Batch 64, input 512, hidden 512, 100 steps, float32 (the sizes can be
changed): the median time of the forward pass and of forward + backward
(gradients of the input, the initial state and every parameter), and the
ratio ours / torch (below 1: faster).  The same weights are loaded into both.
The matrix products are NumPy's BLAS; for OpenBLAS, the kernels it uses
(OPENBLAS_CORETYPE, printed in the header) decide most of the time.

    python benchmarks/bench_rnn.py [--threads N] [--repeat R] [--batch B] [--input I] [--hidden H] [--steps T]
"""
import argparse
import os
import sys


from _timing import blas_threads_from_argv, median_time, with_threads  # noqa: E402  (before NumPy: it sets the BLAS threads)

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import sigmoid  # noqa: E402
import sigmoid.nn as nn  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--input", type=int, default=512)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    a = p.parse_args(argv)
    threads = a.threads or sigmoid.get_num_threads()
    torch = with_threads(threads)
    dt = np.dtype(a.dtype)
    B, I, H, T = a.batch, a.input, a.hidden, a.steps
    print(f"threads: {threads} (NumPy's BLAS: {os.environ.get('OPENBLAS_NUM_THREADS', 'its default')} threads, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}); "
          f"torch {'not installed' if torch is None else torch.__version__}; "
          f"batch {B}, input {I}, hidden {H}, {T} steps, {dt}")
    print(f"{'layer':<6} {'pass':<17} {'ours':>10} {'torch':>10} {'ours/torch':>11}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(dt)
    for kind in ("LSTM", "GRU"):
        m = getattr(nn, kind)(I, H, dtype=dt, rng=rng)
        out, _ = m(x)
        g = rng.standard_normal(out.shape).astype(dt)

        def ours_fwd():
            m(x)

        def ours_both():
            m.zero_grad()
            m(x)
            m.backward(g)

        tf = median_time(ours_fwd, a.repeat)
        tb = median_time(ours_both, a.repeat)
        rf = rb = float("nan")
        if torch is not None:
            tm = getattr(torch.nn, kind)(I, H, dtype=getattr(torch, str(dt)))
            tm.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
            xt, gt = torch.from_numpy(x), torch.from_numpy(g)

            def torch_fwd():
                with torch.no_grad():
                    tm(xt)

            def torch_both():
                tm.zero_grad()
                xr = xt.detach().requires_grad_(True)
                o, _ = tm(xr)
                o.backward(gt)

            rf = median_time(torch_fwd, a.repeat)
            rb = median_time(torch_both, a.repeat)
        for name, o, t in (("forward", tf, rf), ("forward+backward", tb, rb)):
            print(f"{kind:<6} {name:<17} {o * 1e3:>7.1f} ms {t * 1e3:>7.1f} ms {o / t:>10.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
