"""Benchmark the fused losses against PyTorch and the seed's NumPy formula.

For float32 and float64 at 10^5 and 10^7 elements (random logits, 30 %
positive targets), prints the median time per element of

  * bce_with_logits_and_grad (one pass: loss, gradient, mean) against
    torch's forward + backward of F.binary_cross_entropy_with_logits, with
    a fresh gradient array and with one passed as out= on every call (a
    training loop's reused buffer: no allocation, no page to clear);
  * bce_with_logits (loss alone) against the NumPy formula
    mean(max(x, 0) - x y + log1p(exp(-|x|)));
  * sigmoid_focal_loss_and_grad against torchvision's formula written with
    torch ops, forward + backward, for 0/1 targets and for soft targets
    (uniform in [0, 1]);

with the ratios ours / peer (below 1: ours is faster, as in `sigmoid bench`
and the other scripts), at the same thread count for this library and
torch.  With --accuracy it also checks the float32 mean over 10^8 elements
against math.fsum of per-element float64 losses computed here with NumPy,
(1 - y) log(1 + e^x) + y log(1 + e^-x) by np.logaddexp (about 2 GB).

    python benchmarks/bench_losses.py [--threads N] [--sizes 100000,10000000] [--accuracy [--accuracy-size N]]
"""
import argparse
import itertools
import math

import numpy as np
from _timing import median_time, with_threads

import sigmoid

PAUSE = 0.02  # seconds before each timing: the other library's worker threads go idle


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--sizes", default="100000,10000000")
    p.add_argument("--repeat", type=int, default=11)
    p.add_argument("--accuracy", action="store_true", help="the 10^8-element float32 mean against math.fsum")
    p.add_argument("--accuracy-size", type=float, default=1e8, help="elements of the --accuracy check")
    a = p.parse_args(argv)
    threads = a.threads or sigmoid.get_num_threads()
    torch = with_threads(threads)
    F = None if torch is None else torch.nn.functional
    print(f"threads: {threads}; torch {'not installed' if torch is None else torch.__version__}; "
          f"time per element; ratio = ours / peer, below 1: ours is faster")
    print(f"{'dtype':<8} {'n':>9}  {'fused bce+grad':>15} {'torch fwd+bwd':>14} {'ours/torch':>10}   "
          f"{'same, out=':>11} {'ours/torch':>10}   "
          f"{'bce loss':>9} {'seed numpy':>11} {'ours/seed':>9}   {'focal+grad':>11} {'torch':>9} "
          f"{'ours/torch':>10}   {'soft targets':>12} {'torch':>9} {'ours/torch':>10}")
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        for n in (int(float(s)) for s in a.sizes.split(",")):
            x = (3 * rng.standard_normal(n)).astype(dt)
            y = (rng.random(n) < 0.3).astype(dt)
            ys = rng.random(n).astype(dt)        # soft targets for the focal loss
            ours = median_time(lambda: sigmoid.bce_with_logits_and_grad(x, y), a.repeat, pause=PAUSE)
            g = np.empty_like(x)
            ours_out = median_time(lambda: sigmoid.bce_with_logits_and_grad(x, y, out=(None, g)), a.repeat,
                                   pause=PAUSE)
            ours_loss = median_time(lambda: sigmoid.bce_with_logits(x, y), a.repeat, pause=PAUSE)
            seed = median_time(lambda: (np.maximum(0, x) - x * y + np.log1p(np.exp(-np.abs(x)))).mean(), a.repeat, pause=PAUSE)
            focal = median_time(lambda: sigmoid.sigmoid_focal_loss_and_grad(x, y, reduction="mean"), a.repeat, pause=PAUSE)
            focal_soft = median_time(lambda: sigmoid.sigmoid_focal_loss_and_grad(x, ys, reduction="mean"), a.repeat, pause=PAUSE)
            tb = tf = tfs = float("nan")
            if torch is not None:
                tx = torch.from_numpy(x)

                def torch_bce(ty=torch.from_numpy(y)):
                    z = tx.detach().requires_grad_(True)
                    F.binary_cross_entropy_with_logits(z, ty).backward()

                def torch_focal(ty=torch.from_numpy(y)):
                    z = tx.detach().requires_grad_(True)
                    prob = torch.sigmoid(z)
                    ce = F.binary_cross_entropy_with_logits(z, ty, reduction="none")
                    p_t = prob * ty + (1 - prob) * (1 - ty)
                    loss = ce * (1 - p_t) ** 2
                    loss = (0.25 * ty + 0.75 * (1 - ty)) * loss
                    loss.mean().backward()

                tb = median_time(torch_bce, a.repeat, pause=PAUSE)
                tf = median_time(torch_focal, a.repeat, pause=PAUSE)
                tfs = median_time(lambda: torch_focal(torch.from_numpy(ys)), a.repeat, pause=PAUSE)
            ns = 1e9 / n
            print(f"{np.dtype(dt).name:<8} {n:>9}  {ours * ns:>12.3f} ns {tb * ns:>11.3f} ns {ours / tb:>10.3g}   "
                  f"{ours_out * ns:>8.3f} ns {ours_out / tb:>10.3g}   "
                  f"{ours_loss * ns:>6.3f} ns {seed * ns:>8.3f} ns {ours_loss / seed:>9.3g}   "
                  f"{focal * ns:>8.3f} ns {tf * ns:>6.3f} ns {focal / tf:>10.3g}   "
                  f"{focal_soft * ns:>9.3f} ns {tfs * ns:>6.3f} ns {focal_soft / tfs:>10.3g}", flush=True)
    if a.accuracy:
        n = int(a.accuracy_size)
        x = (3 * rng.standard_normal(n)).astype(np.float32)
        y = (rng.random(n) < 0.3).astype(np.float32)
        mean = float(sigmoid.bce_with_logits(x, y))
        exact = math.fsum(itertools.chain.from_iterable(
            _float64_bce(x[i:i + 10**7], y[i:i + 10**7]).tolist() for i in range(0, n, 10**7))) / n
        print(f"mean over {n:.0e} float32: {mean!r}; math.fsum of float64 losses (np.logaddexp) / n: {exact!r}; "
              f"relative difference {abs(mean - exact) / exact:.2e}")
    return 0


def _float64_bce(x, y):
    """Per-element BCE with logits in float64, written with NumPy alone (not
    this library): (1 - y) softplus(x) + y softplus(-x), softplus(v) =
    log(1 + e^v) = np.logaddexp(0, v), which neither overflows nor cancels;
    for 0/1 targets one term is exactly 0."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    return (1 - y) * np.logaddexp(0, x) + y * np.logaddexp(0, -x)


if __name__ == "__main__":
    raise SystemExit(main())
