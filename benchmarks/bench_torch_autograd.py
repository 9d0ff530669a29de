"""Benchmark sigmoid.torch (fused compiled kernels under autograd) against pure
PyTorch at the same thread count, and sigmoid.array_api on GPU arrays.

Training steps (forward + backward, gradients of every parameter), median of
repeats, ours / torch (below 1: faster):

* BCE:    logits = Linear(256 -> 256)(x) on a (4096, 256) batch, BCE with logits
* BCE-1M: logits = Linear(16 -> 1)(x) on 10^6 rows, BCE with logits
* focal:  the BCE model with torchvision's focal loss (torch ops) vs ours
* LSTM:   LSTMCell(256, 256) unrolled over 50 steps, B = 64, loss = sum(h_T)
* GRU:    GRUCell(256, 256), the same

Then the elementwise functions of sigmoid.array_api against torch's own on
torch CPU tensors (the generic path: torch operations), and, when available,
on torch CUDA tensors and CuPy arrays (with their largest error against the
NumPy ufuncs); without a GPU those sections print why they are skipped.

    python benchmarks/bench_torch_autograd.py [--threads N] [--repeat R] [--dtype float32|float64] [--quick]
"""
import argparse
import sys

import numpy as np
from _timing import median_time

import sigmoid


def row(name, ours, theirs, note=""):
    print(f"{name:<34} {ours * 1e3:>10.3f} {theirs * 1e3:>10.3f} {ours / theirs:>7.2f}  {note}")


def header(title, a="ours ms", b="torch ms"):
    print(f"\n{title}")
    print(f"{'case':<34} {a:>10} {b:>10} {'ratio':>7}")


def torchvision_focal(x, y, alpha=0.25, gamma=2.0):
    import torch
    F = torch.nn.functional
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    return ((alpha * y + (1 - alpha) * (1 - y)) * ce * (1 - p_t) ** gamma).mean()


def bench_losses(torch, ST, dtype, repeat, quick):
    F = torch.nn.functional
    header("training steps: Linear + loss, forward + backward")
    cases = [("BCE (4096, 256)", 4096, 256, 256), ("BCE-1M (10^6, 1)", 10 ** 5 if quick else 10 ** 6, 16, 1)]
    for name, n, fin, fout in cases:
        torch.manual_seed(0)
        lin = torch.nn.Linear(fin, fout, dtype=dtype)
        x = torch.randn(n, fin, dtype=dtype)
        y = (torch.rand(n, fout) > 0.5).to(dtype)

        def step(loss_fn):
            def f():
                lin.zero_grad(set_to_none=True)
                loss_fn(lin(x), y).backward()
            return f

        ours = median_time(step(lambda z, t: ST.bce_with_logits(z, t)), repeat)
        theirs = median_time(step(lambda z, t: F.binary_cross_entropy_with_logits(z, t)), repeat)
        row(name, ours, theirs)
        if fout > 1:
            ours = median_time(step(lambda z, t: ST.sigmoid_focal_loss(z, t, reduction="mean")), repeat)
            theirs = median_time(step(torchvision_focal), repeat)
            row("focal (4096, 256)", ours, theirs, "vs torchvision's formula")
        # the loss alone, forward + backward, no Linear
        z = torch.randn(n, fout, dtype=dtype, requires_grad=True)

        def alone(loss_fn):
            def f():
                z.grad = None
                loss_fn(z, y).backward()
            return f

        ours = median_time(alone(lambda z, t: ST.bce_with_logits(z, t)), repeat)
        theirs = median_time(alone(lambda z, t: F.binary_cross_entropy_with_logits(z, t)), repeat)
        row(f"  loss only {tuple(z.shape)}", ours, theirs)


def bench_cells(torch, ST, dtype, repeat, quick):
    header("recurrent cells unrolled, forward + backward")
    B, I, H, T = 64, 256, 256, (10 if quick else 50)
    for label, Ours, Ref, lstm in (("LSTMCell", ST.LSTMCell, torch.nn.LSTMCell, True),
                                   ("GRUCell", ST.GRUCell, torch.nn.GRUCell, False)):
        torch.manual_seed(0)
        ref = Ref(I, H, dtype=dtype)
        ours = Ours(I, H, dtype=dtype)
        ours.load_state_dict(ref.state_dict())
        xs = torch.randn(T, B, I, dtype=dtype)

        def step(cell):
            def f():
                cell.zero_grad(set_to_none=True)
                state = None
                for t in range(T):
                    state = cell(xs[t], state)
                (state[0] if lstm else state).sum().backward()
            return f

        def fwd(cell):
            def f():
                with torch.no_grad():
                    state = None
                    for t in range(T):
                        state = cell(xs[t], state)
            return f

        row(f"{label} T={T} B={B} H={H} fwd+bwd", median_time(step(ours), repeat), median_time(step(ref), repeat))
        row(f"{label} T={T} B={B} H={H} fwd", median_time(fwd(ours), repeat), median_time(fwd(ref), repeat))


UNARY = ["sigmoid", "log_sigmoid", "softplus", "silu", "hard_sigmoid", "logit"]


def _native(torch, name):
    F = torch.nn.functional
    return {"sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "softplus": F.softplus, "silu": F.silu,
            "hard_sigmoid": F.hardsigmoid, "logit": torch.logit}[name]


def _max_ulps(got, x, name, dtype):
    """Largest distance of `got` from the ufunc's result, in spacings of the
    latter (ULP).  NaN on both sides, or the same infinity, is no error; a
    NaN on one side only, or an infinity the other side does not have,
    counts as an infinite error."""
    ref = getattr(sigmoid, name)(x)
    spacing = np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    ref, got = ref.astype(np.float64), np.asarray(got).astype(np.float64)
    with np.errstate(all="ignore"):
        d = np.abs(got - ref) / spacing
    d[(np.isnan(got) & np.isnan(ref)) | (np.isinf(ref) & (got == ref))] = 0
    d[(np.isnan(got) != np.isnan(ref)) | (np.isinf(ref) & (got != ref))] = np.inf
    return float(d.max()) if d.size else 0.0


def bench_array_api_torch(torch, A, dtype, device, repeat, n):
    npdt = np.float32 if dtype == torch.float32 else np.float64
    rng = np.random.default_rng(0)
    xn = (rng.standard_normal(n) * 8).astype(npdt)
    pn = rng.uniform(0, 1, n).astype(npdt)
    sync = torch.cuda.synchronize if device == "cuda" else None
    header(f"sigmoid.array_api on torch {device} tensors, n = {n:.0e}", "ours ms", "torch ms")
    for name in UNARY:
        src = pn if name == "logit" else xn
        t = torch.from_numpy(src).to(device)
        ours = median_time(lambda: getattr(A, name)(t), repeat, sync=sync)
        theirs = median_time(lambda: _native(torch, name)(t), repeat, sync=sync)
        got = getattr(A, name)(t).cpu().numpy()
        row(name, ours, theirs, f"max {_max_ulps(got, src, name, npdt):.0f} ULP vs the ufunc")
    yt = torch.from_numpy((rng.uniform(size=n) > 0.5).astype(npdt)).to(device)
    t = torch.from_numpy(xn).to(device)
    ours = median_time(lambda: A.bce_with_logits(t, yt), repeat, sync=sync)
    theirs = median_time(lambda: torch.nn.functional.binary_cross_entropy_with_logits(t, yt), repeat, sync=sync)
    row("bce_with_logits (mean)", ours, theirs)


def bench_array_api_cupy(A, repeat, n):
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # not installed, or no device
        print(f"\nCuPy: skipped ({type(exc).__name__}: {exc})")
        return
    rng = np.random.default_rng(0)
    xn = (rng.standard_normal(n) * 8).astype(np.float32)
    pn = rng.uniform(0, 1, n).astype(np.float32)
    sync = cupy.cuda.Device().synchronize
    header(f"sigmoid.array_api on CuPy float32 arrays, n = {n:.0e}", "ours ms", "naive ms")
    naive = {"sigmoid": lambda x: 1 / (1 + cupy.exp(-x)), "log_sigmoid": lambda x: -cupy.log1p(cupy.exp(-x)),
             "softplus": lambda x: cupy.log1p(cupy.exp(x)), "silu": lambda x: x / (1 + cupy.exp(-x)),
             "hard_sigmoid": lambda x: cupy.clip(x / 6 + 0.5, 0, 1), "logit": lambda p: cupy.log(p / (1 - p))}
    for name in UNARY:
        src = pn if name == "logit" else xn
        a = cupy.asarray(src)
        ours = median_time(lambda: getattr(A, name)(a), repeat, sync=sync)
        theirs = median_time(lambda: naive[name](a), repeat, sync=sync)
        got = cupy.asnumpy(getattr(A, name)(a))
        row(name, ours, theirs, f"max {_max_ulps(got, src, name, np.float32):.0f} ULP vs the ufunc (naive: "
                                f"one expression)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None, help="threads for torch and sigmoid (default: torch's)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    a = p.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: nothing to compare against (pip install torch)")
        return 0
    import sigmoid.torch as ST
    if a.threads:
        torch.set_num_threads(a.threads)
    n_threads = torch.get_num_threads()
    sigmoid.set_num_threads(n_threads)  # the same thread count on both sides
    dtype = getattr(torch, a.dtype)
    print(f"torch {torch.__version__}, sigmoid {sigmoid.__version__}, {a.dtype}, {n_threads} threads "
          f"(torch and sigmoid), median of {a.repeat}; ratio = ours / torch, below 1 is faster")
    bench_losses(torch, ST, dtype, a.repeat, a.quick)
    bench_cells(torch, ST, dtype, a.repeat, a.quick)
    try:
        import sigmoid.array_api as A
    except ImportError as exc:
        print(f"\nsigmoid.array_api: skipped ({exc})")
        return 0
    n = 10 ** 5 if a.quick else 10 ** 6
    bench_array_api_torch(torch, A, dtype, "cpu", a.repeat, n)
    if torch.cuda.is_available():
        bench_array_api_torch(torch, A, dtype, "cuda", a.repeat, 10 ** 7)
    else:
        print("\ntorch CUDA: skipped (torch.cuda.is_available() is False: no GPU or a CPU-only build)")
    bench_array_api_cupy(A, a.repeat, 10 ** 7)
    return 0


if __name__ == "__main__":
    sys.exit(main())
