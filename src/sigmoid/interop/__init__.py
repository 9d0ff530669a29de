"""Bridges from :mod:`sigmoid` to other array libraries (the interop layer).

Each submodule depends on an optional package and is imported only when it
is asked for, so ``import sigmoid`` never imports them:

``sigmoid.interop.array_api``  (public as :mod:`sigmoid.array_api`)
    The family and the losses for any array the ``array-api-compat``
    package recognises (NumPy, PyTorch, CuPy, JAX, Dask, array-api-strict),
    computed with that library's own operations; NumPy arrays go to the
    compiled ufuncs.  Needs ``array-api-compat``.
``sigmoid.interop.torch``  (public as :mod:`sigmoid.torch`)
    ``torch.autograd.Function`` wrappers of the fused compiled kernels
    (BCE with logits, focal loss, the LSTM and GRU pointwise steps) for CPU
    tensors, zero-copy through NumPy views.  Needs ``torch``.

This layer may use every layer below it (kernels, ufuncs, losses, nn); nothing
below imports it.
"""
from __future__ import annotations

import importlib

__all__ = ["array_api", "torch"]


def __getattr__(name):
    # ``sigmoid.interop.torch`` as an attribute imports the submodule on first use
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
