"""float64 and float16 accuracy of this library, SciPy and PyTorch, side by side.

float64: the points of the test suite (every binade of both signs, the
edges, at least 10^5 points per function) against mpmath at 60 digits.
float16: all 65,536 inputs against the correctly rounded result.  Prints the
maximum ULP error and the share of results that are not correctly rounded.

    python tools/accuracy_float64.py [function ...]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import reference as R  # noqa: E402
import samples  # noqa: E402
import sigmoid  # noqa: E402


def peers(name):
    out = {"ours": getattr(sigmoid, name)}
    try:
        import scipy.special as sp

        table = {"sigmoid": "expit", "log_sigmoid": "log_expit", "logit": "logit"}
        if name in table and hasattr(sp, table[name]):
            out["scipy"] = getattr(sp, table[name])
    except ImportError:
        pass
    try:
        import torch
        import torch.nn.functional as F

        fw = {"sigmoid": torch.sigmoid, "log_sigmoid": F.logsigmoid, "logit": torch.logit,
              "softplus": F.softplus, "hard_sigmoid": F.hardsigmoid, "silu": F.silu}
        if name in fw:
            f = fw[name]
            out["torch"] = lambda *a: f(*(torch.from_numpy(np.ascontiguousarray(v)) for v in a)).numpy()
    except ImportError:
        pass
    return out


def row(label, got, want):
    d = R.ulp_distance(np.asarray(got, dtype=want.dtype), want)
    return f"{label:<8} max {int(d.max()):>6} ULP   not correctly rounded {100 * np.mean(d > 0):6.3f}%"


def main(argv=None):
    names = (argv if argv else None) or sys.argv[1:] or list(R.FUNCTIONS_1 + R.FUNCTIONS_2)
    for name in names:
        rng = np.random.default_rng(20261128)
        args = samples.args(name, np.float64, 24, rng)
        if args[0].size < 10**5:
            more = samples.args(name, np.float64, 120, rng)
            args = tuple(np.concatenate([a, b]) for a, b in zip(args, more))
        want = R.exact(name, *args)
        print(f"{name}: float64, {args[0].size} points against mpmath")
        for label, f in peers(name).items():
            with np.errstate(all="ignore"):
                print("   " + row(label, f(*args), want))
        x16 = np.arange(2**16, dtype=np.uint16).view(np.float16)
        a16 = (x16,) if name in R.FUNCTIONS_1 else (x16, np.ones_like(x16))
        want16 = R.fast32(name, *a16, dtype=np.float16)
        print(f"{name}: float16, all 65,536 inputs" + ("" if name in R.FUNCTIONS_1 else " (grad_output = 1)"))
        for label, f in peers(name).items():
            with np.errstate(all="ignore"):
                print("   " + row(label, f(*a16), want16))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
