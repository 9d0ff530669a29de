"""The accuracy of every function: the one table of this library's error
bounds, which the docstrings, the README, the documentation and the tests
all read.

A bound is the largest distance, in units in the last place (ULP), from the
correctly rounded result over every input of the dtype; 0 means correctly
rounded.  float32 bounds are checked on all 2**32 inputs
(``tools/sweep_float32.py``), float16 ones on all 65,536, float64 ones
against mpmath over every binade of both signs (``tests/``).
"""
from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["UFUNCS", "LOSSES", "SOFTMAX", "SCHEDULES", "TIME_AT", "ufunc_bound", "loss_bound", "reduced_bound",
           "softmax_bound", "ufunc_text", "loss_text", "softmax_text", "schedule_text"]

DTYPES = ("float16", "float32", "float64", "bfloat16")

#: name -> {dtype: ULP}; bfloat16 is ml_dtypes' (JAX's NumPy bfloat16),
#: computed like float16: by the float32 kernels (one argument, and
#: sigmoid_backward_from_output and hard_sigmoid_backward) or the float64
#: kernels (sigmoid_backward, silu_backward), rounded once more
UFUNCS: dict[str, dict[str, int]] = {
    "sigmoid": {"float16": 0, "float32": 0, "float64": 1, "bfloat16": 0},
    "log_sigmoid": {"float16": 0, "float32": 0, "float64": 1, "bfloat16": 0},
    "softplus": {"float16": 0, "float32": 0, "float64": 1, "bfloat16": 0},
    "logit": {"float16": 0, "float32": 0, "float64": 1, "bfloat16": 0},
    "hard_sigmoid": {"float16": 0, "float32": 0, "float64": 0, "bfloat16": 0},
    "silu": {"float16": 0, "float32": 0, "float64": 1, "bfloat16": 0},
    "sigmoid_backward": {"float16": 0, "float32": 1, "float64": 1, "bfloat16": 0},
    "sigmoid_backward_from_output": {"float16": 0, "float32": 1, "float64": 1, "bfloat16": 0},
    "hard_sigmoid_backward": {"float16": 0, "float32": 0, "float64": 0, "bfloat16": 0},
    "silu_backward": {"float16": 0, "float32": 1, "float64": 1, "bfloat16": 0},
}

# what a bound of a function of (x, grad_output) is measured against
_UFUNC_NOTES = {
    "hard_sigmoid": "(x + 3)/6 is computed with one rounding",
    "hard_sigmoid_backward": "one division by 6",
    "sigmoid_backward_from_output": "the exact g y (1 - y) for the given y, any y",
}

#: loss -> case -> {dtype: (loss ULP, gradient ULP)}, per element.  "0/1":
#: targets 0 and 1 without weights or label smoothing; "any": any targets
#: in [0, 1], weights, pos_weight, label smoothing.
#: float32 losses are computed in double to about 2^-26 relative (their
#: cancellations recomputed) and rounded once, hence 1 ULP throughout.
LOSSES: dict[str, dict[str, dict[str, tuple[int, int]]]] = {
    "bce_with_logits": {
        "0/1": {"float32": (1, 1), "float64": (1, 1)},
        "any": {"float32": (1, 1), "float64": (1, 1)},
    },
    "sigmoid_focal_loss": {
        "0/1": {"float32": (1, 1), "float64": (1, 1)},
        "any": {"float32": (1, 1), "float64": (1, 1)},
    },
    "binary_cross_entropy": {
        "any": {"float32": (1, 1), "float64": (1, 1)},
    },
}

#: softmax and log_softmax, per element against the exact result of the
#: given scores: float16 and float32 computed in float64 and rounded once.
SOFTMAX: dict[str, dict[str, int]] = {
    "softmax": {"float16": 1, "float32": 1, "float64": 4, "bfloat16": 1},
    "log_softmax": {"float16": 1, "float32": 1, "float64": 4, "bfloat16": 1},
}

# where a bound is relative to something other than the result
_LOSS_NOTES = {
    ("sigmoid_focal_loss", "any"): ("for soft targets, on the few dozen logits nearest the gradient's zero, "
                                    "where its two terms (sigma(x) - y) and gamma ce (1 - 2y) sigma(x) sigma(-x) / m "
                                    "cancel beyond double-double, the gradient's bound is relative to the larger "
                                    "of the two"),
}

_CASE_WORDS = {
    ("bce_with_logits", "0/1"): "for targets 0 and 1 without weights (float32: all 2**32 logits checked)",
    ("bce_with_logits", "any"): "for soft targets, weight, pos_weight and label smoothing",
    ("sigmoid_focal_loss", "0/1"): "for targets 0 and 1",
    ("sigmoid_focal_loss", "any"): "for soft targets",
    ("binary_cross_entropy", "any"): "for any targets and weights",
}


#: noise schedule of :mod:`sigmoid.diffusion` -> the bound on the error of its
#: float64 log-SNR lambda(t), over every t in [0, 1] and every choice of the
#: schedule's parameters, against mpmath, in units of eps * M(t): eps = 2**-52
#: and M(t) = max(1, |lambda(t)|), and for the sigmoid schedule also
#: max(|start|, |end|) / tau, the size of the terms whose sum lambda is.
#: Where lambda is infinite (t = 0, and t = 1 for a schedule that ends in
#: pure noise) it is exactly +-inf.  alpha_bar = sigma(lambda) and
#: 1 - alpha_bar = sigma(-lambda) are then within (bound + 1) eps M(t)
#: relative.
SCHEDULES: dict[str, int] = {"linear": 4, "cosine": 4, "sigmoid": 4}

#: the bound on |time_at(lambda(t)) - t| of every schedule, in units of eps:
#: the inverse recovers t to within a few units of 2**-52, absolutely (so a
#: t of 1e-300 may come back as 0).
TIME_AT = 4


def schedule_text(name: str) -> str:
    """The Accuracy paragraph of a noise schedule's docstring."""
    unit = ("eps max(1, abs(lambda), max(abs(start), abs(end)) / tau)" if name == "sigmoid"
            else "eps max(1, abs(lambda))")
    return _wrap(f"Accuracy: lambda(t) within {SCHEDULES[name]} {unit} of the exact value for every t in "
                 f"[0, 1] (eps = 2**-52; checked against mpmath, the ends t = 0 and t = 1 and subnormal t "
                 f"included); +-inf exactly where the schedule reaches clean data or pure noise.")


def _dt(dtype) -> str:
    return np.dtype(dtype).name


def ufunc_bound(name: str, dtype) -> int:
    """The ULP bound of ufunc `name` in `dtype`."""
    return UFUNCS[name][_dt(dtype)]


def loss_bound(name: str, case: str, dtype) -> tuple[int, int]:
    """(loss, gradient) ULP bounds of `name` per element; case "0/1" or "any"."""
    cases = LOSSES[name]
    return cases[case if case in cases else "any"][_dt(dtype)]


def softmax_bound(name: str, dtype) -> int:
    """The ULP bound of `softmax` or `log_softmax` in `dtype`."""
    return SOFTMAX[name][_dt(dtype)]


def softmax_text(name: str) -> str:
    """The Accuracy paragraph of softmax's or log_softmax's docstring."""
    b = SOFTMAX[name]
    what = "softmax" if name == "softmax" else "log-softmax"
    return _wrap(f"Accuracy: at most {b['float64']} ULP per element in float64 against the exact {what} "
                 f"of the given scores, subnormal results included; float16, bfloat16 and float32 are "
                 f"computed in float64 and rounded once: at most {b['float32']} ULP per element in "
                 f"float32, {b['float16']} in float16 and {b['bfloat16']} in bfloat16.")


def reduced_bound(name: str, case: str, dtype) -> int:
    """The bound of the sum and the mean: the losses are summed in
    double-double and rounded once, so float32 (summed from double values)
    stays within 1 ULP, float64 within one ULP more than its elements."""
    if _dt(dtype) == "float32":
        return 1
    return loss_bound(name, case, dtype)[0] + 1


def _ulps(n: int) -> str:
    return "correctly rounded" if n == 0 else f"at most {n} ULP"


def ufunc_text(name: str) -> str:
    """The Accuracy paragraph of ufunc `name`'s docstring."""
    b = UFUNCS[name]
    note = _UFUNC_NOTES.get(name)
    if all(v == 0 for v in b.values()):
        text = "Accuracy: correctly rounded in float16, bfloat16, float32 and float64"
        text += f" ({note})." if note else "."
    else:
        half = (f"{_ulps(b['float16'])} in float16 and bfloat16" if b["float16"] == b["bfloat16"]
                else f"{_ulps(b['float16'])} in float16, {_ulps(b['bfloat16'])} in bfloat16")
        f32 = ("correctly rounded in float32" if b["float32"] == 0
               else f"{_ulps(b['float32'])} from the correctly rounded result in float32")
        text = (f"Accuracy: {f32} "
                f"(all 2**32 inputs checked) and {_ulps(b['float64'])} in float64 (against mpmath); "
                f"{half} (all 65,536 inputs of each)")
        text += f"; measured against {note}." if note else "."
    return _wrap(text)


def loss_text(name: str, part: str = "both") -> str:
    """The Accuracy paragraph of a loss's docstring: part "loss",
    "gradient" or "both"."""
    lines = []
    for case, by_dtype in LOSSES[name].items():
        b32, b64 = by_dtype["float32"], by_dtype["float64"]
        idx = {"loss": [0], "gradient": [1], "both": [0, 1]}[part]
        what = {0: "loss", 1: "gradient"}
        pieces = []
        for i in idx:
            if b32[i] == b64[i]:
                pieces.append(f"{what[i]} {_ulps(b32[i])}")
            else:
                pieces.append(f"{what[i]} {_ulps(b32[i])} in float32 and {_ulps(b64[i])} in float64")
        sentence = f"{_CASE_WORDS[name, case]}: " + ", ".join(pieces)
        note = _LOSS_NOTES.get((name, case))
        if note and part != "loss":
            sentence += f" ({note})"
        lines.append(sentence)
    text = "Accuracy, per element against the exact value: " + "; ".join(lines) + "."
    if part != "gradient":
        text += ("  The mean and the sum: at most 1 ULP in float32, and 1 ULP more than the elements' bound "
                 "in float64 (summed in double-double, rounded once).")
    return _wrap(text)


def _wrap(text: str, width: int = 72) -> str:
    return textwrap.fill(text, width, break_on_hyphens=False)
