"""Benchmark the diffusion denoiser of sigmoid.models against the same network in PyTorch.

The network of DiffusionModel's defaults (2-D points, width 64, two
conditioned residual blocks, a time embedding of width 32), float32, with
the same weights: the median time of the forward pass, of forward +
backward (gradients of the input, the time and every parameter), and of a
whole training step (a batch drawn, noised with the cosine schedule, the
loss, its gradient and Adam), and the ratio ours / torch (below 1: faster).
Then the cost of computing the schedules without cancellation: the log-SNR
of 10^6 times, against the papers' formulas in NumPy (which lose the ends).

    python benchmarks/bench_diffusion.py [--threads N] [--repeat R] [--batch B] [--width W]
"""
import argparse
import math
import os
import sys

from _timing import blas_threads_from_argv, median_time, with_threads  # noqa: E402  (before NumPy: it sets the BLAS threads)

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import sigmoid  # noqa: E402
from sigmoid import _core  # noqa: E402
from sigmoid.diffusion import CosineSchedule, LinearSchedule, SigmoidSchedule  # noqa: E402
from sigmoid.models import Denoiser  # noqa: E402
from sigmoid.optim import Adam  # noqa: E402


def torch_denoiser(torch, state, n_blocks, frequency_dim):
    """The denoiser as a function of tensors named as our state dict: no
    torch.nn module, each operation written out."""
    F = torch.nn.functional
    P = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in state.items()}
    half = frequency_dim // 2
    freqs = 1000.0 * torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)

    def lin(name, x):
        return F.linear(x, P[name + ".weight"], P[name + ".bias"])

    def forward(x, t):
        ph = t.to(torch.float64)[:, None] * freqs
        c = lin("time_embedding.linear_2", F.silu(lin("time_embedding.linear_1",
                                                      torch.cat([ph.cos(), ph.sin()], 1).float())))
        h = lin("proj_in", x)
        for i in range(n_blocks):
            b = f"blocks.{i}."
            shift, scale, gate = lin(b + "modulation", F.silu(c)).chunk(3, dim=-1)
            hn = F.layer_norm(h, (h.shape[-1],), eps=1e-6) * (1 + scale) + shift
            h = h + torch.sigmoid(gate) * lin(b + "fc2", F.silu(lin(b + "fc1", hn)))
        return lin("proj_out", h)

    return P, forward


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=21)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--width", type=int, default=64)
    a = p.parse_args(argv)
    threads = a.threads or sigmoid.get_num_threads()
    torch = with_threads(threads)
    B, W, blocks, freq = a.batch, a.width, 2, 32
    print(f"instruction set: {_core._get_isa()}; threads: {threads} (NumPy's BLAS: "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'its default')} threads); torch "
          f"{'not installed' if torch is None else torch.__version__}; batch {B}, width {W}, {blocks} blocks, "
          f"float32; medians of {a.repeat} runs on a shared machine")
    print(f"{'what':<28} {'ours':>10} {'torch':>10} {'ours/torch':>11}")
    rng = np.random.default_rng(0)
    net = Denoiser(2, W, blocks, 32, freq, zero_init=False, rng=rng)
    x = rng.standard_normal((B, 2)).astype(np.float32)
    t = rng.random(B)
    g = rng.standard_normal((B, 2)).astype(np.float32)
    sch = CosineSchedule()
    opt = Adam(net.parameters(), lr=1e-3)

    def ours_step():
        x0 = x
        tt = rng.random(B)
        eps = rng.standard_normal(x0.shape).astype(np.float32)
        al, sg = sch.scales(tt)
        xt = al[:, None].astype(np.float32) * x0 + sg[:, None].astype(np.float32) * eps
        opt.zero_grad()
        diff = net(xt, tt) - eps
        net.backward(diff * np.float32(2 / diff.size))
        opt.step()

    def ours_both():
        net.zero_grad()
        net(x, t)
        net.backward(g)

    ours = {"forward": median_time(lambda: net(x, t), a.repeat), "forward+backward": median_time(ours_both, a.repeat),
            "training step (Adam)": median_time(ours_step, a.repeat)}
    theirs = dict.fromkeys(ours, float("nan"))
    if torch is not None:
        P, fwd = torch_denoiser(torch, net.state_dict(), blocks, freq)
        xt_, t_, g_ = torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(g)
        topt = torch.optim.Adam(list(P.values()), lr=1e-3, foreach=False)

        def torch_fwd():
            with torch.no_grad():
                fwd(xt_, t_)

        def torch_both():
            for v in P.values():
                v.grad = None
            xr, tr = xt_.detach().requires_grad_(True), t_.detach().requires_grad_(True)
            fwd(xr, tr).backward(g_)

        def torch_step():
            tt = rng.random(B)
            eps = torch.from_numpy(rng.standard_normal((B, 2)).astype(np.float32))
            al, sg = sch.scales(tt)
            xt = torch.from_numpy(al[:, None].astype(np.float32)) * xt_ + torch.from_numpy(
                sg[:, None].astype(np.float32)) * eps
            topt.zero_grad()
            ((fwd(xt, torch.from_numpy(tt)) - eps) ** 2).mean().backward()
            topt.step()

        theirs = {"forward": median_time(torch_fwd, a.repeat), "forward+backward": median_time(torch_both, a.repeat),
                  "training step (Adam)": median_time(torch_step, a.repeat)}
    for k in ours:
        print(f"{k:<28} {ours[k] * 1e3:>7.2f} ms {theirs[k] * 1e3:>7.2f} ms {ours[k] / theirs[k]:>10.2f}x", flush=True)

    print()
    print(f"{'log-SNR of 10^6 times':<28} {'ours':>10} {'papers':>10} {'ours/papers':>11}")
    times = np.random.default_rng(1).random(10**6)
    naive = {
        "linear": lambda t: np.log(np.exp(-(0.1 * t + 9.95 * t * t)) / (1 - np.exp(-(0.1 * t + 9.95 * t * t)))),
        "cosine": lambda t: np.log(1 / (np.cos(np.pi / 2 * 0.008 / 1.008) ** 2 / np.cos(
            np.pi / 2 * (t + 0.008) / 1.008) ** 2 - 1)),
        "sigmoid": lambda t: np.log((_sg(3.0) - _sg(6 * t - 3)) / (_sg(6 * t - 3) - _sg(-3.0))),
    }
    for name, sch in (("linear", LinearSchedule()), ("cosine", CosineSchedule()), ("sigmoid", SigmoidSchedule())):
        o = median_time(lambda: sch.log_snr(times), max(3, a.repeat // 4))
        r = median_time(lambda: naive[name](times), max(3, a.repeat // 4))
        print(f"{name:<28} {o * 1e3:>7.1f} ms {r * 1e3:>7.1f} ms {o / r:>10.2f}x", flush=True)
    return 0


def _sg(z):
    return 1 / (1 + np.exp(-z))


if __name__ == "__main__":
    raise SystemExit(main())
