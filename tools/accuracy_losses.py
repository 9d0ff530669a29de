"""Per-element accuracy of the losses and their gradients, ours and PyTorch's.

Logits in every binade of both signs up to 1e9 (subnormals included) and
uniform in [-12, 12], with targets 0, 1 and soft values, against mpmath at 60 digits.  Prints, for each
loss, dtype and kind of target, the maximum ULP error of the loss and of its
gradient (reduction "none", grad_output 1), and how many results are not
finite where the true value is.  PyTorch's gradients come from autograd.

    python tools/accuracy_losses.py [--per-binade N]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import reference as R  # noqa: E402
import samples  # noqa: E402
import sigmoid  # noqa: E402

ALPHA, GAMMA = 0.25, 2.0


def inputs(dtype, per_binade, rng):
    x = samples.binades(dtype, per_binade, rng, hi=30)
    x = np.concatenate([x[np.abs(x) <= 1e9], rng.uniform(-12, 12, 6000).astype(dtype)])
    y = rng.uniform(0, 1, x.size)
    kind = rng.integers(0, 3, x.size)          # 0 and 1: hard targets, 2: soft
    y = np.where(kind < 2, kind, y).astype(dtype)
    return x, y, kind == 2


def torch_impls():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return {}

    def run(loss_of):
        def f(x, y):
            xt = torch.from_numpy(x).requires_grad_(True)
            loss = loss_of(xt, torch.from_numpy(y))
            loss.backward(torch.ones_like(loss))
            return loss.detach().numpy(), xt.grad.numpy()
        return f

    def focal(x, y):  # torchvision.ops.sigmoid_focal_loss, reduction "none"
        p = torch.sigmoid(x)
        ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        return (ALPHA * y + (1 - ALPHA) * (1 - y)) * ce * (1 - p_t) ** GAMMA

    return {"bce_with_logits": run(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none")),
            "sigmoid_focal_loss": run(focal)}


def ours():
    return {"bce_with_logits": lambda x, y: sigmoid.bce_with_logits_and_grad(x, y, reduction="none"),
            "sigmoid_focal_loss": lambda x, y: sigmoid.sigmoid_focal_loss_and_grad(
                x, y, alpha=ALPHA, gamma=GAMMA, reduction="none")}


def reference(name, x, y):
    if name == "bce_with_logits":
        pairs = [R.ref_bce(a, b) for a, b in zip(x.tolist(), y.tolist())]
    else:
        pairs = [R.ref_focal(a, b, ALPHA, GAMMA) for a, b in zip(x.tolist(), y.tolist())]
    return ([R.round_exact(p[0], x.dtype.type) for p in pairs],
            [R.round_exact(p[1], x.dtype.type) for p in pairs])


def measure(got, want):
    got = np.asarray(got)
    want = np.asarray(want, dtype=got.dtype)
    d = R.ulp_distance(got, want)
    bad = int(np.sum(~np.isfinite(got) & np.isfinite(want)))
    return int(d.max()), bad


def cell(m):
    ulp, bad = m
    text = f"{ulp:,}" if ulp < 2**62 else "nan"
    return text + (f" ({bad} not finite)" if bad else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-binade", type=int, default=0,
                    help="points per binade and sign (default 60 for float32, 8 for float64)")
    args = ap.parse_args(argv)
    impls = {"ours": ours(), **({"torch": torch_impls()} if torch_impls() else {})}
    print("| loss | dtype | targets | points | " + " | ".join(
        f"{k}: loss | {k}: grad" for k in impls) + " |")
    print("|---|---|---|---:|" + "---:|---:|" * len(impls))
    for name in ("bce_with_logits", "sigmoid_focal_loss"):
        for dt in (np.float32, np.float64):
            rng = np.random.default_rng(20261128)
            x, y, soft = inputs(dt, args.per_binade or (60 if dt == np.float32 else 8), rng)
            want_l, want_g = reference(name, x, y)
            want_l, want_g = np.array(want_l, dtype=dt), np.array(want_g, dtype=dt)
            results = {k: v[name](x, y) for k, v in impls.items()}
            for label, sel in (("0 and 1", ~soft), ("soft", soft)):
                cells = []
                for k in impls:
                    loss, grad = results[k]
                    cells += [cell(measure(loss[sel], want_l[sel])), cell(measure(grad[sel], want_g[sel]))]
                print(f"| `{name}` | {np.dtype(dt).name} | {label} | {int(sel.sum()):,} | "
                      + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
