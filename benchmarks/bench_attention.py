"""Benchmark sigmoid.attention against PyTorch, one thread and all threads, in one run.

8 heads of d = 64, float32, n = 1024 and 4096 queries and keys (the sizes
can be changed).  Ours: the sigmoid score (b = -log n) and the softmax,
forward and forward + backward.  Peers measured in the same process, each
call alternating with ours so that both see the same load:

* ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention`` on
  (1, 8, n, 64) tensors, which takes PyTorch's fused flash kernel on CPU;
* ``sdpa 3-d``: the same on (8, n, 64) tensors, which the fused kernels
  refuse, so that PyTorch falls back to its math path (the n x n matrix);
* ``naive sigmoid``: ``sigmoid(q @ k^T s + b) @ v``, the n x n matrix formed.

Times are medians of repeats of wall-clock time (the machine is shared:
the medians hide the other load's spikes, the ratios cancel its level).
Each thread count runs in a subprocess of its own.  Then the peak memory:
each case runs once in a fresh subprocess, which reports its resident-set
high-water mark (VmHWM, reset just before the call) above its resident
set then (inputs made, libraries loaded); the naive n x n matrix of the 8
heads is the yardstick.

    python benchmarks/bench_attention.py [--sizes 1024,4096] [--repeat R] [--no-memory]
"""
import json
import sys

from _timing import blas_threads_from_argv  # noqa: E402  (before NumPy: it sets the BLAS threads)
from _process import alternating_medians, child, parser, peak_rise, torch_version, with_threads  # noqa: E402

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import sigmoid  # noqa: E402

H, D = 8, 64


def _inputs(n, torch=None, four_d=True):
    rng = np.random.default_rng(0)
    q, k, v, g = (rng.standard_normal((H, n, D), dtype=np.float32) for _ in range(4))
    if torch is None:
        return q, k, v, g
    t = [torch.from_numpy(a) for a in (q, k, v, g)]
    return [a[None] if four_d else a for a in t]


def cases(n, torch):
    """name -> (callable, kind) for one size: kind "ours" or the peer's name."""
    q, k, v, g = _inputs(n)
    b = -float(np.log(n))
    out = {
        "sigmoid forward": lambda: sigmoid.attention(q, k, v, score="sigmoid"),
        "softmax forward": lambda: sigmoid.attention(q, k, v),
        "sigmoid forward+backward": lambda: (sigmoid.attention(q, k, v, score="sigmoid"),
                                             sigmoid.attention_backward(q, k, v, g, score="sigmoid")),
    }

    def ours_softmax_both():
        o, lse = sigmoid.attention(q, k, v, return_logsumexp=True)
        return sigmoid.attention_backward(q, k, v, g, output=o, logsumexp=lse)

    out["softmax forward+backward"] = ours_softmax_both
    peers = {}
    if torch is not None:
        F = torch.nn.functional
        t4 = _inputs(n, torch)
        t3 = _inputs(n, torch, four_d=False)

        def with_grad(ts):
            return [a.detach().requires_grad_(True) for a in ts[:3]] + [ts[3]]

        def sdpa(ts):
            with torch.no_grad():
                return F.scaled_dot_product_attention(*ts[:3])

        def sdpa_both(ts):
            a, b_, c, gt = with_grad(ts)
            F.scaled_dot_product_attention(a, b_, c).backward(gt)

        def naive(ts):
            with torch.no_grad():
                return torch.sigmoid(ts[0] @ ts[1].transpose(-1, -2) * D ** -0.5 + b) @ ts[2]

        def naive_both(ts):
            a, b_, c, gt = with_grad(ts)
            (torch.sigmoid(a @ b_.transpose(-1, -2) * D ** -0.5 + b) @ c).backward(gt)

        peers = {
            "sigmoid forward": {"sdpa": lambda: sdpa(t4), "sdpa 3-d": lambda: sdpa(t3), "naive sigmoid": lambda: naive(t4)},
            "softmax forward": {"sdpa": lambda: sdpa(t4), "sdpa 3-d": lambda: sdpa(t3)},
            "sigmoid forward+backward": {"sdpa": lambda: sdpa_both(t4), "naive sigmoid": lambda: naive_both(t4)},
            "softmax forward+backward": {"sdpa": lambda: sdpa_both(t4), "sdpa 3-d": lambda: sdpa_both(t3)},
        }
    return out, peers


def timings(threads, sizes, repeat):
    """In this process (its BLAS threads set from --threads): every case,
    ours and the peers alternating, medians in seconds."""
    torch = with_threads(threads)
    rows = []
    for n in sizes:
        ours, peers = cases(n, torch)
        for name, f in ours.items():
            rows.append({"n": n, "case": name, **alternating_medians({"ours": f, **peers.get(name, {})}, repeat)})
    return rows


def memory(case, n):
    """Run one case once; print the rise of the resident-set high-water mark, in bytes."""
    torch = None
    if case.startswith("torch"):
        import torch
        torch.set_num_threads(1)
    sigmoid.set_num_threads(1)
    q, k, v, g = _inputs(n)
    if torch is not None:
        tq, tk, tv, tg = (torch.from_numpy(a)[None] for a in (q, k, v, g))

    def run():
        if case == "ours sigmoid forward":
            sigmoid.attention(q, k, v, score="sigmoid")
        elif case == "ours sigmoid forward+backward":
            sigmoid.attention(q, k, v, score="sigmoid")
            sigmoid.attention_backward(q, k, v, g, score="sigmoid")
        elif case == "ours softmax forward+backward":
            o, lse = sigmoid.attention(q, k, v, return_logsumexp=True)
            sigmoid.attention_backward(q, k, v, g, output=o, logsumexp=lse)
        elif case == "torch naive sigmoid forward":
            with torch.no_grad():
                torch.sigmoid(tq @ tk.transpose(-1, -2) * D ** -0.5 - float(np.log(n))) @ tv
        elif case == "torch naive sigmoid forward+backward":
            a, b, c = (t.requires_grad_(True) for t in (tq, tk, tv))
            (torch.sigmoid(a @ b.transpose(-1, -2) * D ** -0.5 - float(np.log(n))) @ c).backward(tg)
        elif case == "torch sdpa forward+backward":
            a, b, c = (t.requires_grad_(True) for t in (tq, tk, tv))
            torch.nn.functional.scaled_dot_product_attention(a, b, c).backward(tg)

    print(json.dumps({"case": case, "n": n, "bytes": peak_rise(run)}))


MEMORY_CASES = ["ours sigmoid forward", "ours sigmoid forward+backward", "ours softmax forward+backward",
                "torch naive sigmoid forward", "torch naive sigmoid forward+backward", "torch sdpa forward+backward"]


def main(argv=None):
    p = parser(__doc__, "1024,4096", 5)
    p.add_argument("--memory-n", type=int, default=4096)
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    if a.memory:
        memory(a.memory, a.memory_n)
        return 0
    if a.threads:
        print(json.dumps(timings(a.threads, sizes, a.repeat)))
        return 0
    tv = torch_version() or "not installed"
    cores = sigmoid._core._available_cores()
    print(f"instruction set: {sigmoid._core._get_isa()}; {cores} cores available; torch {tv}; "
          f"{H} heads, d = {D}, float32; medians of {a.repeat} repeats, wall clock, ours and the peers alternating")
    peers = ["sdpa", "sdpa 3-d", "naive sigmoid"]
    for threads in sorted({1, cores}):
        rows = child(__file__, ["--threads", str(threads), "--sizes", a.sizes, "--repeat", str(a.repeat)])[0]
        print(f"\n{threads} thread{'s' if threads > 1 else ''} (ours: sigmoid.set_num_threads; torch.set_num_threads; "
              f"OPENBLAS_NUM_THREADS={threads})")
        print(f"{'n':>5} {'case':<25} {'ours':>9} " + " ".join(f"{k:>13}" for k in peers)
              + "   " + " ".join(f"{'ours/' + k:>18}" for k in peers))
        for r in rows:
            t = [f"{r[k] * 1e3:>10.1f} ms" if k in r else f"{'-':>13}" for k in peers]
            ratio = [f"{r['ours'] / r[k]:>17.2f}x" if k in r else f"{'-':>18}" for k in peers]
            print(f"{r['n']:>5} {r['case']:<25} {r['ours'] * 1e3:>6.1f} ms " + " ".join(t) + "   " + " ".join(ratio))
    if a.no_memory:
        return 0
    n = 4096
    naive = H * n * n * 4
    print(f"\npeak memory at n = {n}, one case per fresh process (rise of the resident set's high-water mark above the inputs; "
          f"the naive n x n float32 matrix of {H} heads is {naive / 2**20:.0f} MiB)")
    for case in MEMORY_CASES:
        if case.startswith("torch") and tv == "not installed":
            continue
        r = child(__file__, ["--memory", case, "--memory-n", str(n)])[0]
        print(f"  {case:<40} {r['bytes'] / 2**20:>8.1f} MiB   {r['bytes'] / naive:>7.1%} of the n x n matrix")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
