"""The sigmoid family and its losses for any Array API array (NumPy, PyTorch,
CuPy, JAX, Dask, array-api-strict), computed with that library's own
operations.  Needs the ``array-api-compat`` package.

The implementation is :mod:`sigmoid.interop.array_api`; see its docstring for
the dispatch rules and the stable formulas.
"""
from __future__ import annotations

from .interop.array_api import (
    bce_with_logits,
    hard_sigmoid,
    hard_sigmoid_backward,
    log_sigmoid,
    logit,
    sigmoid,
    sigmoid_backward,
    sigmoid_focal_loss,
    silu,
    silu_backward,
    softplus,
)

__all__ = [
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "logit",
    "hard_sigmoid",
    "silu",
    "sigmoid_backward",
    "hard_sigmoid_backward",
    "silu_backward",
    "bce_with_logits",
    "sigmoid_focal_loss",
]
