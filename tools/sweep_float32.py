"""Exhaustive float32 accuracy sweep: every one of the 2^32 inputs.

For each function, compares this library (and SciPy's and PyTorch's
counterparts, when installed, in the same run) with the correctly rounded
float32 result, and prints the maximum ULP error, the worst input and a
histogram.  The reference is the float64 formula with a proven error bound
of tests/reference.py, with mpmath wherever that bound does not decide the
rounding.  Functions of (x, grad_output) sweep every x with grad_output = 1
(or the values given with --g).

    python tools/sweep_float32.py                   # all functions, all cores
    python tools/sweep_float32.py sigmoid --peers   # with SciPy and PyTorch
    python tools/sweep_float32.py silu --chunks 8   # a quick partial run

The binary cross-entropy from logits is swept as a function of x for the
targets 0 and 1 (2^33 inputs): `bce_with_logits` (the per-element loss,
softplus(x) or softplus(-x)) and `bce_with_logits_backward` (its gradient,
sigma(x) - y).

Takes about a minute per function and peer on two cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import reference as R  # noqa: E402

CHUNK_BITS = 24
N_CHUNKS = 1 << (32 - CHUNK_BITS)
HIST = 8  # ULP errors 0..6, and >= 7
LIST_CAP = 256  # misrounded inputs kept per chunk and implementation

#: non-decreasing in x on the whole line: a result that falls while x rises
#: is a reversal
INCREASING = ("sigmoid", "log_sigmoid", "softplus", "logit", "hard_sigmoid")


LOSSES = ("bce_with_logits", "bce_with_logits_backward")


def _loss_reference(name, x, y):
    """Correctly rounded float32 loss or gradient for 0/1 targets y."""
    sign = np.float32(1) - 2 * y  # softplus(x) for y = 0, softplus(-x) for y = 1
    if name == "bce_with_logits":
        return R.fast32("softplus", sign * x)
    return sign * R.fast32("sigmoid", sign * x)  # sigma(x) or -sigma(-x)


def _torch_loss(name):
    import torch
    import torch.nn.functional as F

    def f(x, y):
        xt = torch.from_numpy(x).requires_grad_(name != "bce_with_logits")
        loss = F.binary_cross_entropy_with_logits(xt, torch.from_numpy(y), reduction="none")
        if name == "bce_with_logits":
            return loss.detach().numpy()
        loss.sum().backward()
        return xt.grad.numpy()

    return f


def _peer(name: str, impl: str):
    """A callable float32 -> float32 for `impl` ('ours', 'scipy', 'torch'), or None."""
    if impl == "ours":
        import sigmoid

        sigmoid.set_num_threads(1)
        if name in LOSSES:
            return lambda x, y: getattr(sigmoid, name)(x, y, reduction="none")
        return getattr(sigmoid, name)
    if name in LOSSES:
        if impl != "torch":
            return None
        try:
            import torch
        except ImportError:
            return None
        torch.set_num_threads(1)
        return _torch_loss(name)
    if impl == "scipy":
        try:
            import scipy.special as sp
        except ImportError:
            return None
        table = {"sigmoid": "expit", "log_sigmoid": "log_expit", "logit": "logit"}
        return getattr(sp, table[name], None) if name in table else None
    if impl == "torch":
        try:
            import torch
            import torch.nn.functional as F
        except ImportError:
            return None
        torch.set_num_threads(1)
        fw = {
            "sigmoid": torch.sigmoid,
            "log_sigmoid": F.logsigmoid,
            "softplus": F.softplus,  # its default: x itself above x = 20
            "logit": torch.logit,
            "hard_sigmoid": F.hardsigmoid,
            "silu": F.silu,
        }
        if name not in fw:
            return None
        f = fw[name]
        return lambda *a: f(*(torch.from_numpy(np.ascontiguousarray(v)) for v in a)).numpy()
    raise ValueError(impl)


def _chunk(job):
    name, impls, c, g = job
    bits = np.arange(c << CHUNK_BITS, (c + 1) << CHUNK_BITS, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    if name in LOSSES:
        cases = [(x, np.full_like(x, t)) for t in (0.0, 1.0)]
    else:
        cases = [(x,) if name in R.FUNCTIONS_1 else (x, np.full_like(x, g))]
    out = {}
    for args in cases:
        with np.errstate(all="ignore"):
            want = _loss_reference(name, *args) if name in LOSSES else R.fast32(name, *args)
        for impl in impls:
            f = _peer(name, impl)
            with np.errstate(all="ignore"):
                got = np.asarray(f(*args), dtype=np.float32)
            d = R.ulp_distance(got, want)
            hist = np.bincount(np.minimum(d, HIST - 1), minlength=HIST)
            rev = _reversals(name, args, got)
            bad = np.nonzero(d > 0)[0][:LIST_CAP]
            missed = [(float(x[k]), float(got[k]), float(want[k])) for k in bad]
            i = int(np.argmax(d))
            target = float(args[1][i]) if name in LOSSES else None   # the y of the worst (x, y) of a loss
            worst = (int(d[i]), float(x[i]), target, float(got[i]), float(want[i]))
            if impl in out:
                h0, r0, m0, *w0 = out[impl]
                out[impl] = ([(np.array(h0) + hist).tolist(), r0 + rev, m0 + missed]
                             + (w0 if w0[0] >= worst[0] else list(worst)))
            else:
                out[impl] = [hist.tolist(), rev, missed, *worst]
    return out


def _reversals(name, args, got):
    """Consecutive inputs (in increasing x) whose results move against the
    function; pairs with a NaN are skipped.  The function's direction
    between two inputs is that of its float64 evaluation (tests/reference.py),
    whose error is far below its change from one float32 to the next, even
    where the correctly rounded results are equal (near an extremum).  The
    losses are monotone: softplus(x) for target 0 rises with x, softplus(-x)
    for target 1 falls, and their gradient sigma(x) - y rises."""
    x = args[0]
    if np.signbit(x[0]):            # a chunk of negative inputs: x falls as the bits rise
        got = got[::-1]
    with np.errstate(invalid="ignore"):
        dg = np.diff(got.astype(np.float64))
    if name in LOSSES:
        falling = name == "bce_with_logits" and args[1][0] == 1
        return int(np.count_nonzero(np.isfinite(dg) & ((dg > 0) if falling else (dg < 0))))
    with np.errstate(all="ignore"):
        ref = R._f64_value(name, tuple(a.astype(np.float64) for a in args))[0]
    if np.signbit(x[0]):
        ref = ref[::-1]
    with np.errstate(invalid="ignore"):
        dw = np.diff(ref.astype(np.float64))
    ok = np.isfinite(dg) & np.isfinite(dw)
    if name in INCREASING:
        return int(np.count_nonzero(ok & (dg < 0)))
    return int(np.count_nonzero(ok & (dg * dw < 0)))


def sweep(name, impls, chunks, g, workers):
    total = {impl: [np.zeros(HIST, dtype=np.int64), -1, None, 0, []] for impl in impls}
    jobs = [(name, impls, c, g) for c in chunks]
    with ProcessPoolExecutor(workers) as ex:
        for res in ex.map(_chunk, jobs):
            for impl, (hist, rev, missed, dmax, xw, yw, gw, ww) in res.items():
                t = total[impl]
                t[0] += np.array(hist)
                t[3] += rev
                t[4] += missed
                if dmax > t[1]:
                    t[1], t[2] = dmax, (xw, yw, gw, ww)
    return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("functions", nargs="*", default=list(R.FUNCTIONS_1 + R.FUNCTIONS_2) + list(LOSSES))
    p.add_argument("--peers", action="store_true", help="also sweep SciPy and PyTorch")
    p.add_argument("--chunks", type=int, default=N_CHUNKS, help=f"sweep the first K of {N_CHUNKS} chunks "
                   "(spread over the whole range)")
    p.add_argument("--g", type=float, action="append", help="grad_output values (default 1.0)")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--list", type=int, default=0, metavar="K",
                   help="print up to K inputs whose result is not correctly rounded")
    a = p.parse_args(argv)
    step = max(1, N_CHUNKS // a.chunks)
    chunks = list(range(0, N_CHUNKS, step))[: a.chunks]
    impls = ["ours"] + (["scipy", "torch"] if a.peers else [])
    results = []
    print(f"{'function':<30} {'impl':<6} {'inputs':>11} {'max ULP':>8} {'reversals':>9}  worst input "
          f"(x, y for the losses) -> got (correctly rounded)"
          f"   histogram of ULP errors 0, 1, 2, ..., >={HIST - 1}")
    for name in a.functions:
        for g in (a.g or [1.0]) if name in R.FUNCTIONS_2 else [None]:
            avail = [i for i in impls if _peer(name, i) is not None]
            t0 = time.time()
            total = sweep(name, avail, chunks, g, a.workers)
            dt = time.time() - t0
            label = name if g is None else f"{name}(g={g:g})"
            for impl in avail:
                hist, dmax, worst, rev, missed = total[impl]
                xw, yw, gw, ww = worst
                n = int(hist.sum())
                at = f"{xw!r}" if yw is None else f"x={xw!r}, y={yw:g}"
                print(f"{label:<30} {impl:<6} {n:>11} {dmax:>8} {rev:>9}  {at} -> {gw!r} ({ww!r})   "
                      f"{' '.join(str(int(h)) for h in hist)}   [{dt:.0f} s]", flush=True)
                for xm, gm, wm in missed[:a.list]:
                    print(f"    {xm.hex()} ({xm!r}) -> {gm!r}, correctly rounded {wm!r}")
                results.append(dict(function=name, g=g, impl=impl, inputs=n, max_ulp=dmax, reversals=rev,
                                    worst_input=xw, worst_target=yw, worst_got=gw, worst_want=ww,
                                    histogram=[int(h) for h in hist],
                                    not_correctly_rounded=[m[0] for m in missed]))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
