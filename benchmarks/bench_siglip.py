"""Benchmark sigmoid.siglip_loss_and_grad against the naive PyTorch SigLIP loss.

Forward and backward (the gradients of x, y, t' and b) at B = 4096 and
16384 pairs of D = 512 unit embeddings, float32, one thread and all
threads.  The peer is the paper's pseudocode in PyTorch: the B x B logits
t x y^T + b, the labels 2 I - 1, -logsigmoid summed, and autograd's
backward.  Times are medians of repeats, wall clock, ours and the peer
alternating; each thread count runs in a subprocess of its own, its
NumPy BLAS threads set before NumPy loads.  Then the peak memory of each
side at each B, one case per fresh process: the rise of the resident
set's high-water mark (VmHWM, reset just before the call) above the inputs.
A B x B float32 matrix is 64 MiB at 4096 and 1 GiB at 16384.

    python benchmarks/bench_siglip.py [--sizes 4096,16384] [--repeat R] [--torch-upto 16384] [--no-memory]
"""
import json
import math
import sys

from _timing import blas_threads_from_argv  # noqa: E402  (before NumPy: it sets the BLAS threads)
from _process import alternating_medians, child, parser, peak_rise, torch_version, with_threads  # noqa: E402

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import sigmoid  # noqa: E402

D = 512
T0, B0 = math.log(10.0), -10.0


def _inputs(B):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, D), dtype=np.float32)
    y = x + rng.standard_normal((B, D), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return x, y


def ours(x, y):
    return sigmoid.siglip_loss_and_grad(x, y, T0, B0)


def naive(torch, x, y):
    tx, ty = (torch.from_numpy(a).requires_grad_(True) for a in (x, y))
    tp = torch.tensor(T0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    logits = tx @ ty.T * tp.exp() + b
    labels = 2 * torch.eye(len(x)) - 1
    loss = -torch.nn.functional.logsigmoid(labels * logits).sum() / len(x)
    loss.backward()
    return loss


def timings(threads, sizes, repeat, torch_upto):
    """In this process: ours and the naive peer alternating at each B,
    medians in seconds."""
    torch = with_threads(threads)
    rows = []
    for B in sizes:
        x, y = _inputs(B)
        fns = {"ours": lambda: ours(x, y)}
        if torch is not None and B <= torch_upto:
            fns["naive torch"] = lambda: naive(torch, x, y)
        rows.append({"B": B, **alternating_medians(fns, repeat)})
    return rows


def memory(side, B):
    """One call of one side; print the rise of the resident set's high-water mark."""
    torch = None
    if side == "naive torch":
        import torch
        torch.set_num_threads(1)
    x, y = _inputs(B)
    rise = peak_rise(lambda: ours(x, y) if torch is None else naive(torch, x, y))
    print(json.dumps({"side": side, "B": B, "bytes": rise}))


def main(argv=None):
    p = parser(__doc__, "4096,16384", 3)
    p.add_argument("--torch-upto", type=int, default=16384, help="time the naive peer up to this B")
    p.add_argument("--memory-b", type=int, default=4096)
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    if a.memory:
        memory(a.memory, a.memory_b)
        return 0
    if a.threads:
        print(json.dumps(timings(a.threads, sizes, a.repeat, a.torch_upto)))
        return 0
    tv = torch_version() or "not installed"
    cores = sigmoid._core._available_cores()
    print(f"instruction set: {sigmoid._core._get_isa()}; {cores} cores available; torch {tv}; D = {D}, float32; "
          f"forward + backward; medians of {a.repeat} repeats, wall clock, ours and the peer alternating")
    print(f"{'threads':>7} {'B':>6} {'ours':>10} {'naive torch':>12} {'ours/naive':>11}")
    for threads in sorted({1, cores}):
        for r in child(__file__, ["--threads", str(threads), "--sizes", a.sizes, "--repeat", str(a.repeat),
                         "--torch-upto", str(a.torch_upto)])[0]:
            peer = r.get("naive torch")
            print(f"{threads:>7} {r['B']:>6} {r['ours']:>8.3f} s "
                  + (f"{peer:>10.3f} s {r['ours'] / peer:>10.2f}x" if peer else f"{'-':>12} {'-':>11}"))
    if a.no_memory:
        return 0
    print("\npeak memory (rise of the resident set's high-water mark above the inputs; one thread)")
    for B in sizes:
        for side in ("ours", "naive torch"):
            if side == "naive torch" and tv == "not installed":
                continue
            r = child(__file__, ["--memory", side, "--memory-b", str(B)])[0]
            bb = B * B * 4
            print(f"  B = {B:>6} {side:<12} {r['bytes'] / 2**20:>9.1f} MiB   ({r['bytes'] / bb:.2f} B x B float32 "
                  f"matrices; {'within' if r['bytes'] < 2**30 else 'over'} 1 GiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
