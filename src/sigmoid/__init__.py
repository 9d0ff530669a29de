"""The logistic function sigma(x) = 1/(1 + e^-x) and its family as NumPy ufuncs.

Every function is a real :class:`numpy.ufunc` compiled from C, with loops for
float16, float32 and float64, exact to the last bit or two over every input
(see each docstring for its bound), vectorised for AVX-512, AVX2 and portable
SIMD, and threaded for long inputs.

Threads: long inputs use all cores available to the process by default;
:func:`set_num_threads` or the environment variable ``SIGMOID_NUM_THREADS``
(read at import) change that.
"""
from __future__ import annotations

import os as _os
import sys as _sys
import warnings as _warnings

from . import _core
from ._core import (
    get_num_threads,
    hard_sigmoid,
    hard_sigmoid_backward,
    log_sigmoid,
    logit,
    sigmoid,
    sigmoid_backward,
    sigmoid_backward_from_output,
    silu,
    silu_backward,
    softplus,
)

from . import _ufunc_docs

for _name in _ufunc_docs._TEMPLATES:
    _core._set_doc(getattr(_core, _name), _ufunc_docs.docstring(_name))
del _name

from .losses import (
    bce_with_logits,
    bce_with_logits_and_grad,
    bce_with_logits_backward,
    binary_cross_entropy,
    binary_cross_entropy_backward,
    log_softmax,
    sigmoid_focal_loss,
    sigmoid_focal_loss_and_grad,
    sigmoid_focal_loss_backward,
    softmax,
)

from ._attention import attention, attention_backward
from ._siglip import siglip_loss, siglip_loss_and_grad

__version__ = "0.1.0"

#: ``scipy.special`` name of :data:`sigmoid`: the same ufunc object.
expit = sigmoid

__all__ = [
    "attention",
    "attention_backward",
    "siglip_loss",
    "siglip_loss_and_grad",
    "bce_with_logits",
    "bce_with_logits_and_grad",
    "bce_with_logits_backward",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "log_softmax",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_and_grad",
    "sigmoid_focal_loss_backward",
    "softmax",
    "expit",
    "get_num_threads",
    "hard_sigmoid",
    "hard_sigmoid_backward",
    "log_sigmoid",
    "logit",
    "set_num_threads",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_backward_from_output",
    "silu",
    "silu_backward",
    "softplus",
]


def set_num_threads(n: int) -> None:
    """Set the number of threads the ufuncs use for long inputs.

    Parameters
    ----------
    n : int
        Threads to use, the calling thread included, from 1 to 1024.  1 runs
        every call on the calling thread.

    Notes
    -----
    Inputs shorter than 65,536 elements always run on the calling thread,
    so short calls never pay for waking threads.  The default is
    the number of cores available to the process, or ``SIGMOID_NUM_THREADS``
    if set when :mod:`sigmoid` is imported.

    Examples
    --------
    >>> import sigmoid
    >>> old = sigmoid.get_num_threads()
    >>> sigmoid.set_num_threads(1)
    >>> sigmoid.get_num_threads()
    1
    >>> sigmoid.set_num_threads(old)
    """
    _core.set_num_threads(n)


def _configure_from_environment() -> None:
    value = _os.environ.get("SIGMOID_NUM_THREADS", "").strip()
    cores = _core._available_cores()
    n = cores
    if value:
        try:
            n = int(value)
            if not 1 <= n <= 1024:
                raise ValueError
        except ValueError:
            _warnings.warn(
                f"sigmoid: ignoring SIGMOID_NUM_THREADS={value!r}: expected an integer "
                f"from 1 to 1024; using the {cores} core{'s' if cores != 1 else ''} available "
                f"to this process instead",
                RuntimeWarning,
                stacklevel=3,
            )
            n = cores
    _core.set_num_threads(n)
    isa = _os.environ.get("SIGMOID_ISA", "").strip()
    if isa:
        try:
            _core._set_isa(isa)
        except ValueError as exc:
            _warnings.warn(f"sigmoid: ignoring SIGMOID_ISA: {exc}", RuntimeWarning, stacklevel=3)


def _register_bfloat16(ml_dtypes) -> None:
    import numpy

    _core._register_bfloat16(numpy.dtype(ml_dtypes.bfloat16).num)


class _AfterImport:
    """A meta path finder that runs ``then(module)`` right after the module
    `name` is first imported, then leaves ``sys.meta_path``."""

    def __init__(self, name, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        import importlib.util

        _sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)     # from the other finders
        if spec is None or spec.loader is None:
            return spec
        inner, then = spec.loader, self.then

        class _Loader:
            def create_module(self, spec):
                return inner.create_module(spec)

            def exec_module(self, module):
                inner.exec_module(module)
                then(module)

            def __getattr__(self, attr):           # the rest of the loader's protocol (resources, ...)
                return getattr(inner, attr)

        spec.loader = _Loader()
        return spec


def _enable_bfloat16() -> None:
    """bfloat16 loops for ml_dtypes' bfloat16 (JAX's NumPy bfloat16):
    computed by the float64 kernels and rounded once.  Registered now if
    ml_dtypes is already imported, else when it is (importing it costs
    about 0.6 s, which ``import sigmoid`` does not pay for users who never
    touch bfloat16)."""
    if _sys.modules.get("ml_dtypes") is not None:
        _register_bfloat16(_sys.modules["ml_dtypes"])
    elif "ml_dtypes" not in _sys.modules:          # (None there: its import is blocked)
        _sys.meta_path.insert(0, _AfterImport("ml_dtypes", _register_bfloat16))


_configure_from_environment()
_enable_bfloat16()
