"""Bridges from :mod:`sigmoid` to other array libraries (the interop layer).

The modules here are the implementations; users import the public paths
:mod:`sigmoid.array_api` and :mod:`sigmoid.torch`, which are these modules'
names, ``__all__`` lists and objects under a shorter path (each public
object's ``__module__`` is its public path, so ``help``, the documentation
and pickles name that one).

``sigmoid.interop.array_api``  (public as :mod:`sigmoid.array_api`)
    The family and the losses for any array the ``array-api-compat``
    package recognises (NumPy, PyTorch, CuPy, JAX, Dask, array-api-strict),
    computed with that library's own operations; NumPy arrays go to the
    compiled ufuncs.  Needs ``array-api-compat``.
``sigmoid.interop.torch``  (public as :mod:`sigmoid.torch`)
    The fused compiled kernels (BCE with logits, focal loss, the LSTM and
    GRU pointwise steps) as ``torch.library`` custom operators with
    autograd, for CPU tensors, zero-copy through NumPy views.  Needs
    ``torch``.
``sigmoid.interop.dask``  (internal: not in ``__all__``, no public path)
    The one detector of Dask arrays and the helpers that run this library's
    kernels on them block by block, lazily.  Imports Dask only when given a
    Dask array.  The library's own modules use it (:mod:`sigmoid.losses`,
    the array-API module); users hand their Dask arrays to the functions.

The torch and array-API modules depend on an optional package and are
imported only when asked for, so ``import sigmoid`` never imports them.
They may use every layer below (kernels, ufuncs, losses, nn); the Dask
module uses NumPy alone, so that the losses can call it.
"""
from __future__ import annotations

import importlib

__all__ = ["array_api", "torch"]


def _publish(namespace: dict, public: str) -> None:
    """Name `public` as the module of every object in ``namespace["__all__"]``
    (the implementation's globals): the path users import it from."""
    for name in namespace["__all__"]:
        obj = namespace[name]
        if getattr(obj, "__module__", None) == namespace["__name__"]:
            obj.__module__ = public


def __getattr__(name):
    # ``sigmoid.interop.torch`` as an attribute imports the submodule on first use
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
