"""Losses built on the sigmoid: binary cross-entropy (from logits and from
probabilities), focal loss, and the softmax pair, each with its gradient.

The element-wise work, the gradient and the reduction run in one compiled
pass over the data (``_core._loss``); this module checks the arguments and
shapes the results.  Dask arrays are accepted everywhere (logits, targets,
weights, grad_output, the scores of softmax): the result is a Dask array,
computed block by block by the same pass and reduced by Dask, when asked
(the helpers are :mod:`sigmoid.interop.dask`).  softmax and log_softmax keep
the labels of xarray and pandas objects, as the ufuncs do.
"""
from __future__ import annotations

import math
import numbers
import re
import textwrap
from typing import NamedTuple

import numpy as np

from . import _accuracy, _core
from .interop import dask as _dask

__all__ = [
    "bce_with_logits",
    "bce_with_logits_backward",
    "bce_with_logits_and_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_backward",
    "sigmoid_focal_loss_and_grad",
    "softmax",
    "log_softmax",
]

_REDUCTIONS = ("none", "mean", "sum")
_NOT_DASK = (np.ndarray, type(None), float, int)


def _with_params(func):
    """Insert the shared parameter descriptions, and the accuracy from the
    one table of bounds (_accuracy.py), into a docstring."""
    doc = func.__doc__
    for marker, text in (("@BCE_PARAMS@", "_DOC_BCE_PARAMS"), ("@FOCAL_PARAMS@", "_DOC_FOCAL_PARAMS"),
                         ("@OUT_LOSS@", "_DOC_OUT_LOSS"), ("@OUT_GRAD@", "_DOC_OUT_GRAD"),
                         ("@OUT_BOTH@", "_DOC_OUT_BOTH")):
        if marker in doc:
            doc = doc.replace(f"    {marker}\n", globals()[text].lstrip("\n") + "\n")
    m = re.search(r"@ACCURACY (\w+)(?: (\w+))?@", doc)
    if m:
        text = (_accuracy.loss_text(m.group(1), m.group(2)) if m.group(2)
                else _accuracy.softmax_text(m.group(1)))
        doc = doc.replace(m.group(0), textwrap.indent(text, "    ").lstrip())
    func.__doc__ = doc
    return func


# the loss kinds of the compiled pass, defined once in C (kernels.h)
_BCE_LOGITS, _BCE_PROBS, _FOCAL = _core.LOSS_BCE_LOGITS, _core.LOSS_BCE_PROBS, _core.LOSS_FOCAL


_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def _is_bfloat16(dt) -> bool:
    """ml_dtypes' bfloat16 (JAX's NumPy bfloat16)."""
    return dt.kind == "V" and dt.name == "bfloat16"


def _float_dtype(name, arrays):
    """The result dtype: float16/32/64 as NumPy promotes (integers and bool
    promote as by numpy.exp), bfloat16 where every floating argument is one
    (computed in float32, which holds it exactly, and rounded once);
    anything else is a TypeError naming the argument."""
    dts = [a.dtype for _, a in arrays]
    if dts[0] in _NATIVE and all(d == dts[0] for d in dts):
        return dts[0]       # the usual call, without the cost of the checks below
    for arg, a in arrays:
        if not (_is_bfloat16(a.dtype) or (a.dtype.kind in "biuf" and a.dtype != np.longdouble)):
            raise TypeError(
                f"{name}(): argument '{arg}' has dtype {a.dtype}, which is not supported; "
                f"use float16, float32, float64 or bfloat16 (or integers, promoted as by numpy.exp)"
            )
    if any(_is_bfloat16(d) for d in dts):
        others = [d for d in dts if not _is_bfloat16(d)]
        if all(d.kind in "biu" for d in others):
            return next(d for d in dts if _is_bfloat16(d))
        return np.result_type(*others, np.float32)
    return np.result_type(*dts, np.float16)


def _broadcastable(name, arg, a, shape):
    try:
        ok = np.broadcast_shapes(a.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name}(): {arg} of shape {a.shape} does not broadcast to the shape of the "
            f"{'logits' if name != 'binary_cross_entropy' else 'probabilities'} {shape}"
        )


def _run_dask(name, kind, x, y, *, weight, pos_weight, reduction, grad_output, xname, want_loss, want_grad,
              **kw):
    """The loss of Dask arrays, lazily: the compiled pass on each block
    (per-element losses and gradients, by _run), the reduction by Dask's own
    tree sum in float64 (interop.dask).  Nothing is computed until asked; a
    target outside [0, 1] raises when the result is computed."""
    extras = {"weight": weight, "pos_weight": pos_weight}
    if want_grad and grad_output is not None and reduction == "none" and np.ndim(grad_output) != 0:
        extras["grad_output"] = grad_output
    x, y, extras = _dask.align(name, xname, x, y, extras, _broadcastable)
    scale = 1.0
    if want_grad and grad_output is not None and "grad_output" not in extras:
        if np.size(grad_output) != 1:
            raise ValueError(
                f"{name}(): with reduction={reduction!r} the loss is a scalar, so grad_output must be "
                f"one number, got shape {np.shape(grad_output)}")
        scale = float(np.asarray(grad_output).reshape(()))
    n = x.size
    if want_grad and reduction == "mean":
        scale = scale / n if n else scale
    dt = _float_dtype(name, [(xname, np.empty(0, x.dtype)), ("targets", np.empty(0, y.dtype))]
                      + [(k, np.empty(0, a.dtype)) for k, a in extras.items()])

    def block(xb, yb, weight=None, pos_weight=None, grad_output=scale):
        loss, gr = _run(name, kind, xb, yb, weight=weight, pos_weight=pos_weight, reduction="none",
                        want_loss=want_loss, want_grad=want_grad, grad_output=grad_output, xname=xname, **kw)
        return [a for a in (loss, gr) if a is not None]

    parts = _dask.map_elementwise(block, x, y, extras, int(want_loss) + int(want_grad), dt)
    loss = grad = None
    if want_loss:
        loss = parts[0] if reduction == "none" else _dask.reduce_float64(parts[0], reduction, dt)
    if want_grad:
        grad = parts[-1]
    return loss, grad


def _outputs(name, out, want_loss, want_grad, reduction, shape, dt):
    """The caller's output arrays (loss, grad) from `out`, checked before
    anything is computed, so that a refused call leaves them untouched."""
    if out is None:
        return None, None
    if want_loss and want_grad:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"{name}(): out must be a tuple (loss_out, grad_out), either of them None, "
                            f"got {type(out).__name__}")
        given = [("out[0]", out[0]), ("out[1]", out[1])]
    else:
        given = [("out", out), ("out", None)] if want_loss else [("out", None), ("out", out)]
    arrays = []
    for k, (arg, o) in enumerate(given):
        if o is None:
            arrays.append(None)
            continue
        if not isinstance(o, np.ndarray):
            raise TypeError(f"{name}(): {arg} must be a NumPy array, got {type(o).__name__}")
        if k == 0 and reduction != "none":
            raise ValueError(f"{name}(): {arg} receives per-element losses, which needs reduction='none', "
                             f"got reduction={reduction!r}")
        if not o.flags.writeable:
            raise ValueError(f"{name}(): {arg} is read-only")
        if o.shape != shape:
            raise ValueError(f"{name}(): {arg} has shape {o.shape}, the result has shape {shape}")
        if not np.can_cast(dt, o.dtype, "same_kind"):
            raise TypeError(f"{name}(): {arg} has dtype {o.dtype}, to which the {dt} result cannot be cast "
                            f"(casting='same_kind')")
        arrays.append(o)
    if arrays[0] is not None and arrays[1] is not None and np.may_share_memory(arrays[0], arrays[1]):
        raise ValueError(f"{name}(): out[0] and out[1] share memory")
    return arrays[0], arrays[1]


def _deliver(loss, grad, lo_out, gr_out):
    """The results, written into the caller's outputs where given (already
    there when the pass wrote them itself)."""
    with np.errstate(all="ignore"):
        if lo_out is not None:
            if loss is not lo_out:
                np.copyto(lo_out, loss, casting="same_kind")
            loss = lo_out
        if gr_out is not None:
            if grad is not gr_out:
                np.copyto(gr_out, grad, casting="same_kind")
            grad = gr_out
    return loss, grad


def _any_dask(*arrays):
    for a in arrays:
        if type(a) not in _NOT_DASK and _dask.is_dask_array(a):
            return True
    return False


def _run(name, kind, x, y, *, weight=None, pos_weight=None, reduction="mean", smoothing=0.0, alpha=-1.0,
         gamma=0.0, check_targets=True, want_loss=True, want_grad=False, grad_output=None, xname="logits",
         out=None):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}(): reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, got {reduction!r}")
    if _any_dask(x, y, weight, pos_weight, grad_output):
        if out is not None:
            raise TypeError(f"{name}(): out must be None for Dask arrays (the result is a new Dask array)")
        return _run_dask(name, kind, x, y, weight=weight, pos_weight=pos_weight, reduction=reduction,
                         grad_output=grad_output, xname=xname, want_loss=want_loss, want_grad=want_grad,
                         smoothing=smoothing, alpha=alpha, gamma=gamma, check_targets=check_targets)
    if kind == _FOCAL and gamma == 0.0 and alpha < 0:
        # no focusing and no class weighting: the focal loss is the binary
        # cross-entropy, computed by the same kernel (so the two agree exactly)
        kind = _BCE_LOGITS
    x = np.asarray(x)
    y = np.asarray(y)
    named = [(xname, x), ("targets", y)]
    w = None if weight is None else np.asarray(weight)
    p = None if pos_weight is None else np.asarray(pos_weight)
    if w is not None:
        named.append(("weight", w))
    if p is not None:
        named.append(("pos_weight", p))
    dt = _float_dtype(name, named)
    if x.shape != y.shape:
        raise ValueError(
            f"{name}(): {xname} and targets must have the same shape, got {x.shape} and {y.shape} "
            f"(reshape explicitly; broadcasting an (N, 1) against an (N,) is refused on purpose)"
        )
    if w is not None:
        _broadcastable(name, "weight", w, x.shape)
    if p is not None:
        _broadcastable(name, "pos_weight", p, x.shape)
    cdt = _NATIVE[0] if dt.itemsize <= 4 else _NATIVE[1]
    n = x.size
    g_arr = None
    gscale = 1.0
    if want_grad and grad_output is not None:
        g = np.asarray(grad_output)
        if g.dtype.kind not in "biuf":
            raise TypeError(f"{name}(): grad_output has dtype {g.dtype}, which is not supported")
        if reduction == "none":
            if g.ndim == 0:
                gscale = float(g)
            else:
                _broadcastable(name, "grad_output", g, x.shape)
                g_arr = g.astype(cdt, copy=False)
        else:
            if g.size != 1:
                raise ValueError(
                    f"{name}(): with reduction={reduction!r} the loss is a scalar, so grad_output must be "
                    f"one number, got shape {g.shape}"
                )
            gscale = float(g.reshape(()))
    if want_grad and reduction == "mean":
        gscale = gscale / n if n else gscale
    if kind == _BCE_LOGITS and not (
            (type(smoothing) is float or isinstance(smoothing, numbers.Real)) and 0.0 <= smoothing <= 1.0):
        raise ValueError(f"{name}(): label_smoothing must be a number in [0, 1], got {smoothing!r}")
    lo_out, gr_out = _outputs(name, out, want_loss, want_grad, reduction, x.shape, dt)
    xc, yc = x.astype(cdt, copy=False), y.astype(cdt, copy=False)
    wc = None if w is None else w.astype(cdt, copy=False)
    pc = None if p is None else p.astype(cdt, copy=False)
    # the pass writes into an output of the computed dtype that no input
    # overlaps (it reads the logits again for the gradients it recomputes);
    # any other is filled from the result afterwards
    direct = [None, None]
    if out is not None:
        read = [a for a in (xc, yc, wc, pc, g_arr) if a is not None]
        direct = [o if o is not None and o.dtype == dt == cdt and not any(np.may_share_memory(o, a) for a in read)
                  else None for o in (lo_out, gr_out)]
    loss, grad, total, bad = _core._loss(
        kind, xc, yc, wc, pc, g_arr, float(smoothing), float(alpha), float(gamma), gscale,
        bool(want_loss and reduction == "none"), bool(want_grad), direct[0], direct[1],
    )
    if bad and (check_targets or kind == _BCE_PROBS):
        if kind == _BCE_PROBS:
            raise ValueError(f"{name}(): probabilities and targets must lie in [0, 1] (found values outside, or nan)")
        raise ValueError(
            f"{name}(): targets must lie in [0, 1] (found values outside, or nan); pass check_targets=False "
            f"to skip this check"
        )
    out_loss = None
    if want_loss and reduction != "none":
        out_loss = total if reduction == "sum" else (total / n if n else math.nan)
    if dt == cdt and (out_loss is None or dt.itemsize == 8 or abs(out_loss) < 3.4e38):
        # no rounding that could overflow (float32's largest is 3.4028e38)
        if want_loss and reduction == "none":
            out_loss = loss
        elif out_loss is not None:
            out_loss = dt.type(out_loss)
        return _deliver(out_loss, grad, lo_out, gr_out)
    # float16 results are rounded from float32 (never a warning: the rounding
    # of an underflowing or overflowing value is the answer)
    with np.errstate(all="ignore"):
        if want_loss:
            out_loss = loss.astype(dt, copy=False) if reduction == "none" else dt.type(out_loss)
        out_grad = None if grad is None else grad.astype(dt, copy=False)
    return _deliver(out_loss, out_grad, lo_out, gr_out)


_DOC_OUT_WRITE = """\
        Written by the pass itself when its dtype is the result's and it
        shares no memory with the inputs (a loop that passes the same array
        each time allocates nothing); otherwise filled from the result.
        Targets (and the probabilities of binary_cross_entropy) found
        outside [0, 1] raise after the pass, which may have written it by
        then; any other refused call leaves it untouched."""

_DOC_OUT_LOSS = """
    out : ndarray, optional
        Receives the per-element losses (``reduction="none"`` only), and is
        returned: the inputs' shape, any dtype the result casts to under
        ``casting="same_kind"``.
""" + _DOC_OUT_WRITE

_DOC_OUT_GRAD = """
    out : ndarray, optional
        Receives the gradient, and is returned: the inputs' shape, any dtype
        the result casts to under ``casting="same_kind"``.
""" + _DOC_OUT_WRITE

_DOC_OUT_BOTH = """
    out : tuple (loss_out, grad_out), optional
        Arrays that receive the per-element losses (``reduction="none"``
        only) and the gradient, either of them None, returned in their
        place: the inputs' shape, any dtype the result casts to under
        ``casting="same_kind"``.
""" + _DOC_OUT_WRITE

_DOC_BCE_PARAMS = """
    logits : array_like
        Raw scores x, any shape.
    targets : array_like
        Targets y in [0, 1] (hard 0/1 labels or soft values), the shape of
        `logits` exactly.
    weight : array_like, optional
        Rescales each element's loss; broadcast to the logits' shape.
    pos_weight : array_like, optional
        Weight p of the positive term, broadcast like NumPy (a vector of
        length C applies along the last axis of (..., C) logits).
    reduction : {"mean", "sum", "none"}
        "mean" (over all elements, weights included, as PyTorch), "sum", or
        the per-element losses.
    label_smoothing : float in [0, 1]
        Targets become y (1 - s) + s/2 (the Keras definition), formed in
        float64 with one rounding; the accuracy bound is for that target.
    check_targets : bool
        Raise ValueError if a target lies outside [0, 1] or is nan.  The
        check is made during the same pass (one comparison per element);
        ``check_targets=False`` skips raising."""


@_with_params
def bce_with_logits(logits, targets, *, weight=None, pos_weight=None, reduction="mean", label_smoothing=0.0,
                    check_targets=True, out=None):
    r"""Binary cross-entropy from logits, stable for any logit.

    .. math::
        \ell = w \left[(1 - y)\,x - (1 + (p - 1)\,y)\,\log\sigma(x)\right]
             = w \left[(1 - y)\,\mathrm{softplus}(x) + p\,y\,\mathrm{softplus}(-x)\right]

    PyTorch's ``F.binary_cross_entropy_with_logits``, computed from the
    second form, a sum of non-negative terms that neither overflows nor
    cancels (never as ``log(sigmoid(x))``).

    Parameters
    ----------
    @BCE_PARAMS@
    @OUT_LOSS@

    Returns
    -------
    loss : scalar or ndarray
        A scalar of the (promoted) input dtype, or per-element losses of the
        logits' shape for ``reduction="none"``.

    Notes
    -----
    float16 and float32 compute in float64 internally; float64 with
    double-double intermediates.  The sum is accumulated in float64 with
    compensation, so its error does not grow with the number of elements.

    Special values: a nan logit gives a nan loss; logits of +-1e9 give
    finite losses, and +-inf the limits (0 where the term's factor is 0:
    y = 1 at x = +inf; inf where the logit is certain of the wrong class).

    @ACCURACY bce_with_logits loss@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import bce_with_logits
    >>> float(bce_with_logits(np.array([2.0, -1.0]), np.array([1.0, 0.0])))
    0.22009484928059764
    >>> bce_with_logits(np.array([1e9, -1e9]), np.array([0.0, 0.0]), reduction="none")
    array([1.e+09, 0.e+00])

    See also
    --------
    bce_with_logits_and_grad, bce_with_logits_backward, binary_cross_entropy, log_sigmoid
    """
    loss, _ = _run("bce_with_logits", _BCE_LOGITS, logits, targets, weight=weight, pos_weight=pos_weight,
                   reduction=reduction, smoothing=label_smoothing, check_targets=check_targets, out=out)
    return loss


@_with_params
def bce_with_logits_backward(logits, targets, grad_output=1.0, *, weight=None, pos_weight=None, reduction="mean",
                             label_smoothing=0.0, check_targets=True, out=None):
    r"""Gradient of :func:`bce_with_logits` with respect to the logits.

    .. math::
        \frac{\partial \ell}{\partial x} = w \left[(1 - y)\,\sigma(x) - p\,y\,\sigma(-x)\right]

    times `grad_output`, divided by the number of elements for "mean".

    Parameters
    ----------
    @BCE_PARAMS@
    grad_output : array_like
        The gradient of the outer loss with respect to this loss: a number
        for "mean" and "sum", broadcast to the logits' shape for "none".
    @OUT_GRAD@

    Returns
    -------
    grad : ndarray
        The logits' shape and (promoted) dtype.

    Notes
    -----
    Where the two terms nearly cancel (soft targets, x near the logit of the
    target) the lane is recomputed in double-double, so the gradient keeps
    its relative accuracy down to its zero.  For x = +-1e9 the gradient is
    exactly sigma(x) - y in the output dtype (pos_weight and weight 1).

    Special values: nan logits give nan; +-inf logits give the limits.

    @ACCURACY bce_with_logits gradient@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import bce_with_logits_backward
    >>> bce_with_logits_backward(np.array([0.0, 1e9]), np.array([1.0, 0.25]), reduction="none")
    array([-0.5 ,  0.75])

    See also
    --------
    bce_with_logits, bce_with_logits_and_grad
    """
    _, grad = _run("bce_with_logits_backward", _BCE_LOGITS, logits, targets, weight=weight, pos_weight=pos_weight,
                   reduction=reduction, smoothing=label_smoothing, check_targets=check_targets, want_loss=False,
                   want_grad=True, grad_output=grad_output, out=out)
    return grad


@_with_params
def bce_with_logits_and_grad(logits, targets, *, weight=None, pos_weight=None, reduction="mean",
                             label_smoothing=0.0, check_targets=True, out=None):
    r"""Loss and gradient of :func:`bce_with_logits` from one pass.

    .. math:: (\ell,\ \partial \ell / \partial x)

    Logits and targets are read once, the gradient written once, and the
    loss reduced in the same pass (float64 accumulation with compensation).

    Parameters
    ----------
    @BCE_PARAMS@
    @OUT_BOTH@

    Returns
    -------
    loss : scalar or ndarray
        As :func:`bce_with_logits`.
    grad : ndarray
        The gradient of `loss` (of its sum for "none") with respect to the
        logits; the logits' shape and dtype.

    Notes
    -----
    Special values: as :func:`bce_with_logits` and
    :func:`bce_with_logits_backward`.

    @ACCURACY bce_with_logits both@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import bce_with_logits_and_grad
    >>> loss, grad = bce_with_logits_and_grad(np.array([0.0, 0.0]), np.array([1.0, 0.0]))
    >>> float(loss), grad
    (0.6931471805599453, array([-0.25,  0.25]))

    See also
    --------
    bce_with_logits, bce_with_logits_backward
    """
    return _run("bce_with_logits_and_grad", _BCE_LOGITS, logits, targets, weight=weight, pos_weight=pos_weight,
                reduction=reduction, smoothing=label_smoothing, check_targets=check_targets, want_grad=True,
                out=out)


@_with_params
def binary_cross_entropy(probs, targets, *, weight=None, reduction="mean", out=None):
    r"""Binary cross-entropy on probabilities, as PyTorch defines it.

    .. math::
        \ell = -w \left[y \max(\log q, -100) + (1 - y) \max(\log(1 - q), -100)\right]

    PyTorch's ``F.binary_cross_entropy``, including its clamp of each
    logarithm at -100 (so q = 0 or 1 gives a finite loss).  Prefer
    :func:`bce_with_logits` when the logits are at hand.

    Parameters
    ----------
    probs : array_like
        Probabilities q in [0, 1].
    targets : array_like
        Targets in [0, 1], the shape of `probs` exactly.
    weight : array_like, optional
        Broadcast to the shape of `probs`.
    reduction : {"mean", "sum", "none"}
    @OUT_LOSS@

    Returns
    -------
    loss : scalar or ndarray

    Notes
    -----
    log(1 - q) is log1p(-q), exact for small q.  Probabilities or targets
    outside [0, 1] raise ValueError, as in PyTorch (so do nan targets; a nan
    probability gives a nan loss).

    Special values: q = 0 with y = 1, or q = 1 with y = 0, give 100 w.

    @ACCURACY binary_cross_entropy loss@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import binary_cross_entropy
    >>> binary_cross_entropy(np.array([0.9, 0.0]), np.array([1.0, 1.0]), reduction="none")
    array([  0.10536052, 100.        ])

    See also
    --------
    binary_cross_entropy_backward, bce_with_logits
    """
    loss, _ = _run("binary_cross_entropy", _BCE_PROBS, probs, targets, weight=weight, reduction=reduction,
                   xname="probs", out=out)
    return loss


@_with_params
def binary_cross_entropy_backward(probs, targets, grad_output=1.0, *, weight=None, reduction="mean", out=None):
    r"""Gradient of :func:`binary_cross_entropy` with respect to the probabilities.

    .. math::
        \frac{\partial \ell}{\partial q} = w \frac{q - y}{\max(q (1 - q), 10^{-12})}

    PyTorch's formula (its 1e-12 keeps the gradient finite at q = 0 and 1),
    times `grad_output`, divided by the number of elements for "mean".

    Parameters
    ----------
    probs, targets, weight, reduction
        As :func:`binary_cross_entropy`.
    grad_output : array_like
        A number for "mean" and "sum"; broadcast to the shape for "none".
    @OUT_GRAD@

    Returns
    -------
    grad : ndarray

    Notes
    -----
    Special values: q = y gives 0; q = 0 or 1 gives +-1e12 w (PyTorch's).

    @ACCURACY binary_cross_entropy gradient@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import binary_cross_entropy_backward
    >>> binary_cross_entropy_backward(np.array([0.5, 0.8]), np.array([1.0, 0.0]), reduction="none")
    array([-2.,  5.])

    See also
    --------
    binary_cross_entropy
    """
    _, grad = _run("binary_cross_entropy_backward", _BCE_PROBS, probs, targets, weight=weight,
                   reduction=reduction, want_loss=False, want_grad=True, grad_output=grad_output, xname="probs",
                   out=out)
    return grad


_DOC_FOCAL_PARAMS = """
    logits : array_like
        Raw scores x, any shape.
    targets : array_like
        Targets y in [0, 1], the shape of `logits` exactly.
    alpha : float or None
        Weight of the positive class (alpha y + (1 - alpha)(1 - y)); None or
        a negative number disables the weighting, as in torchvision.
    gamma : float >= 0
        Focusing parameter; 0 gives binary cross-entropy.
    reduction : {"none", "mean", "sum"}
        torchvision's default is "none".
    check_targets : bool
        As for :func:`bce_with_logits`."""


def _focal_args(name, alpha, gamma):
    if alpha is None:
        alpha = -1.0
    # math, not NumPy: torch.compile traces this check (sigmoid.torch)
    if not (isinstance(alpha, numbers.Real) and math.isfinite(alpha) and alpha <= 1):
        raise ValueError(f"{name}(): alpha must be None or a number <= 1, got {alpha!r}")
    if not (isinstance(gamma, numbers.Real) and math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"{name}(): gamma must be a finite number >= 0, got {gamma!r}")
    return float(alpha), float(gamma)


@_with_params
def sigmoid_focal_loss(logits, targets, *, alpha=0.25, gamma=2.0, reduction="none", check_targets=True, out=None):
    r"""Focal loss (torchvision's ``sigmoid_focal_loss``), in log space.

    .. math::
        \ell = \alpha_t\, \mathrm{CE}(x, y)\, (1 - p_t)^\gamma,\quad
        1 - p_t = y\,\sigma(-x) + (1 - y)\,\sigma(x)

    with CE the binary cross-entropy from logits.  (1 - p_t)^gamma is
    exp(gamma log(1 - p_t)), with log(1 - p_t) from log-sigmoids, so the loss
    stays finite and exact for logits up to 1e9 and beyond.  Targets strictly
    between 0 and 1 of float32 (or narrower) data form 1 - p_t itself in
    float64, where it is at least 2^-151 and accurate.

    Parameters
    ----------
    @FOCAL_PARAMS@
    @OUT_LOSS@

    Returns
    -------
    loss : scalar or ndarray

    Notes
    -----
    With gamma = 0 and alpha=None the result equals
    ``bce_with_logits(logits, targets, reduction="none")`` exactly.

    Special values: nan logits give nan; +-inf logits give the limits.

    @ACCURACY sigmoid_focal_loss loss@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import sigmoid_focal_loss
    >>> sigmoid_focal_loss(np.array([3.0, -1e9]), np.array([1.0, 1.0]))
    array([2.73208311e-05, 2.50000000e+08])

    See also
    --------
    sigmoid_focal_loss_and_grad, bce_with_logits
    """
    a, g = _focal_args("sigmoid_focal_loss", alpha, gamma)
    loss, _ = _run("sigmoid_focal_loss", _FOCAL, logits, targets, reduction=reduction, alpha=a, gamma=g,
                   check_targets=check_targets, out=out)
    return loss


@_with_params
def sigmoid_focal_loss_backward(logits, targets, grad_output=1.0, *, alpha=0.25, gamma=2.0, reduction="none",
                                check_targets=True, out=None):
    r"""Gradient of :func:`sigmoid_focal_loss` with respect to the logits.

    .. math::
        \frac{\partial \ell}{\partial x} = \alpha_t (1 - p_t)^\gamma
        \left[\sigma(x) - y + \gamma\, \mathrm{CE}\, (1 - 2y)\,
        \frac{\sigma(x)\sigma(-x)}{1 - p_t}\right]

    times `grad_output` (divided by the number of elements for "mean").

    Parameters
    ----------
    @FOCAL_PARAMS@
    grad_output : array_like
        A number for "mean" and "sum"; broadcast to the shape for "none".
    @OUT_GRAD@

    Returns
    -------
    grad : ndarray

    Notes
    -----
    Special values: nan logits give nan; the gradient vanishes for
    confidently right logits, and is alpha_t (sigma(x) - y) for confidently
    wrong ones.

    @ACCURACY sigmoid_focal_loss gradient@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import sigmoid_focal_loss_backward
    >>> sigmoid_focal_loss_backward(np.array([0.0]), np.array([1.0]), alpha=None)
    array([-0.2982868])

    See also
    --------
    sigmoid_focal_loss, sigmoid_focal_loss_and_grad
    """
    a, g = _focal_args("sigmoid_focal_loss_backward", alpha, gamma)
    _, grad = _run("sigmoid_focal_loss_backward", _FOCAL, logits, targets, reduction=reduction, alpha=a, gamma=g,
                   check_targets=check_targets, want_loss=False, want_grad=True, grad_output=grad_output, out=out)
    return grad


@_with_params
def sigmoid_focal_loss_and_grad(logits, targets, *, alpha=0.25, gamma=2.0, reduction="none", check_targets=True,
                                out=None):
    r"""Loss and gradient of :func:`sigmoid_focal_loss` from one pass.

    .. math:: (\ell,\ \partial \ell / \partial x)

    Parameters
    ----------
    @FOCAL_PARAMS@
    @OUT_BOTH@

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray
        Gradient of `loss` (of its sum for "none").

    Notes
    -----
    Special values: as :func:`sigmoid_focal_loss` and
    :func:`sigmoid_focal_loss_backward`.

    @ACCURACY sigmoid_focal_loss both@

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import sigmoid_focal_loss_and_grad
    >>> loss, grad = sigmoid_focal_loss_and_grad(np.array([0.0]), np.array([0.0]), gamma=0.0, alpha=None)
    >>> loss, grad
    (array([0.69314718]), array([0.5]))

    See also
    --------
    sigmoid_focal_loss
    """
    a, g = _focal_args("sigmoid_focal_loss_and_grad", alpha, gamma)
    return _run("sigmoid_focal_loss_and_grad", _FOCAL, logits, targets, reduction=reduction, alpha=a, gamma=g,
                check_targets=check_targets, want_grad=True, out=out)


def _along_slices(name, x, axis, finish):
    """softmax / log_softmax of any input: NumPy arrays and array-likes by
    _by_rows; Dask arrays lazily, block by block (each block holding whole
    slices); xarray and pandas objects keep their labels, as the ufuncs
    keep them."""
    if _dask.is_dask_array(x):
        axis = _class_axis(name, axis, x.ndim)
        dt = _floating(name, np.empty(0, x.dtype)).dtype     # checked without computing x
        return _dask.map_slices(name, lambda b: _by_rows(name, b, axis, finish), x, axis, dt)
    labelled = _labelled(x)
    if labelled is None:
        return _by_rows(name, x, axis, finish)
    if labelled == "xarray":
        if isinstance(axis, str):
            axis = x.get_axis_num(axis)                          # a dimension's name
        # the data may be a Dask array: it stays lazy
        return x.copy(data=_along_slices(name, x.data, axis, finish))
    values = _by_rows(name, x.to_numpy(), axis, finish)
    out = type(x)(values, index=x.index, **({"columns": x.columns} if x.ndim == 2 else {"name": x.name}))
    out.attrs = dict(x.attrs)
    return out


def _labelled(x):
    """"xarray" for an xarray.DataArray, "pandas" for a pandas Series or
    DataFrame, else None (the packages are imported only for their own
    objects)."""
    top = type(x).__module__.partition(".")[0]
    if top == "xarray":
        import xarray

        return "xarray" if isinstance(x, xarray.DataArray) else None
    if top == "pandas":
        import pandas

        return "pandas" if isinstance(x, (pandas.Series, pandas.DataFrame)) else None
    return None


def _floating(name, x):
    x = np.asarray(x)
    if _is_bfloat16(x.dtype):  # computed in float64 and rounded once, as float16
        return x
    if x.dtype.kind not in "biuf" or x.dtype == np.longdouble:
        raise TypeError(f"{name}(): argument 'x' has dtype {x.dtype}, which is not supported")
    if x.dtype.kind != "f":
        x = x.astype(np.result_type(x.dtype, np.float16))
    return x


def _class_axis(name, axis, ndim):
    """`axis` as a non-negative int, or an error naming the function."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name}(): argument 'axis' must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(
            f"{name}(): axis {axis} is out of bounds for an array of dimension {ndim}"
        )
    return int(axis) % ndim


# Elements per block: a block's float64 temporaries (a dozen or two, 128 KiB
# each) stay in cache and come from memory the allocator already holds, where
# whole-array temporaries cost a page fault per 4 KiB each.
_BLOCK = 1 << 14


def _by_rows(name, x, axis, finish):
    """Check the arguments, then run `finish(w, shifted)` on blocks of whole
    slices laid out as rows (w their scores in float64, shifted from
    _shifted_exponentials), writing into a new C-ordered array of x's shape
    and dtype; an empty axis gives an empty array."""
    x = _floating(name, x)
    axis = _class_axis(name, axis, x.ndim)
    out = np.empty(x.shape, x.dtype)
    n = x.shape[axis]
    if x.size == 0:
        return out
    # views with the slices last; merged into rows where that is a view too,
    # else cut across their first axis (a block then copied to rows)
    xm, om = np.moveaxis(x, axis, -1), np.moveaxis(out, axis, -1)
    if xm.ndim == 1 or (xm.flags.c_contiguous and om.flags.c_contiguous):
        xm, om = xm.reshape(-1, n), om.reshape(-1, n)
    step = max(1, _BLOCK * xm.shape[0] // x.size)
    for i in range(0, xm.shape[0], step):
        w = np.ascontiguousarray(xm[i:i + step], dtype=np.float64).reshape(-1, n)
        with np.errstate(under="ignore"):          # e^(x - m) below 2^-1022: see _shifted_exponentials
            value = finish(w, _shifted_exponentials(w, x.dtype == np.float64))
        with np.errstate(over="ignore", under="ignore"):   # float16/32 round to -inf and 0 as they must
            om[i:i + step] = value.reshape(om[i:i + step].shape)
    return out


def _two_sum(a, b):
    """(s, t) with s = fl(a + b) and s + t = a + b exactly (Knuth's TwoSum;
    no condition on the magnitudes, no overflow while |a + b| is finite)."""
    s = a + b
    bv = s - a
    av = s - bv
    np.subtract(a, av, out=av)                     # in place: fewer fresh temporaries
    np.subtract(b, bv, out=bv)
    return s, np.add(av, bv, out=av)


# Scores more than _FAR below their slice's maximum get e^(x - m) = 0 without
# computing it: e^-2048 is far below float64's smallest subnormal (e^-744.4).
# Below _LOW, e^(x - m) would be subnormal or near it, and its rounding there
# (to a multiple of 2^-1074) would be large against a sum or a quotient of
# such terms: those are computed as e^(x - m) 2^1024 and scaled back once, at
# the end.  1024 ln 2 = _LN2_1024[0] + _LN2_1024[1], the first rounded to
# float64 and so exactly 1024 times a float64.
_FAR = 2048.0
_LOW = -700.0
_LN2_1024 = (1024 * 0.6931471805599453, 1024 * 2.3190468138462996e-17)


class _Shifted(NamedTuple):
    m: np.ndarray            # each slice's maximum (keepdims): nan if any nan, +inf if any +inf
    normal: np.ndarray       # where m is finite; the other slices take their limits in _with_limits
    zh: np.ndarray           # x - m, = zh + zl exactly for float64 scores
    zl: np.ndarray | None    # None for float16/32 scores (zh is then enough)
    far: np.ndarray | None   # x - m < -2048 (the -inf scores included); None: no such score
    low: np.ndarray | None   # -2048 <= x - m < -700; None: no such score (nor far one)
    eh: np.ndarray           # e^(x - m) = eh (1 + c) 2^(-1024 low), eh = 0 where far
    c: np.ndarray | None     # None with zl
    n_max: np.ndarray        # how many scores equal m (keepdims)
    t: np.ndarray            # the sum of e^(x - m) over the others (keepdims)


def _sum_of_exponentials(d):
    """The sum along the last axis of d >= 0, within eps/2 + n^3 eps^2/2 relative
    (under 0.6 ulp up to n = 10^5 terms; a plain sum errs up to (n - 1) eps/2,
    and NumPy sums pairwise only along a contiguous axis).

    Each d is split at sigma = 2^ceil(log2(n M)), M the largest d in the
    slice: hi = fl(sigma + d) - sigma is exact (Sterbenz) and a multiple of
    ulp(sigma), so the sum of the hi's, below 2 sigma, is exact in any order;
    lo = d - hi is exact (the rounding error of sigma + d), with
    |lo| <= min(d, ulp(sigma)/2), so the rounding errors of the sum of the
    lo's are O(n^3 eps^2) against the sum.  d is overwritten (by the lo's).
    """
    sigma = np.ldexp(1.0, np.frexp(d.shape[-1] * np.max(d, axis=-1, keepdims=True))[1])
    hi = sigma + d
    hi -= sigma
    d -= hi
    return np.sum(hi, axis=-1, keepdims=True) + np.sum(d, axis=-1, keepdims=True)


def _shifted_exponentials(w, exact_shift):
    """The max-shifted exponentials of the float64 scores `w`, slices as rows.

    float16/32 scores (exact_shift false): float64 arithmetic is enough.  x - m
    errs at most |x - m| 2^-53, which moves e^(x - m) by under 2^-45 relative
    wherever it can reach a float32 result (|x - m| < 104), no difference of
    float32 numbers overflows, and a plain sum errs (n - 1) 2^-53 relative:
    under 2^-33 up to 2^20 classes.  Each result is then rounded once.

    float64 scores: to about 1 ulp, however far apart and however many.
    zh + zl = x - m exactly (TwoSum): the max-shift itself is not rounded.
    Rounding it would cost |x - m| eps/2 relative in e^(x - m), 350 ULP at
    x - m = -700 (exp's condition number is |x - m|).  Then
    e^(x - m) = e^zh (1 + zl): zl <= ulp(zh)/2 <= 2^-42 (|zh| <= 2049), so the
    neglected zl^2/2 is below 2^-84.  The sum of the others is formed by
    _sum_of_exponentials.

    Element-wise selections (np.where on a mask that varies along the axis)
    are slow, so they are made only where some slice needs them.
    """
    m = np.max(w, axis=-1, keepdims=True)
    normal = np.isfinite(m)
    ws, m0 = w, m
    if not normal.all():
        # the other slices compute harmless numbers from 0s, overwritten later
        ws, m0 = np.where(normal, w, 0.0), np.where(normal, m, 0.0)
    far = low = zl = c = None
    if not exact_shift:
        zh = ws - m0
        eh = np.exp(zh)
        at_max = zh == 0.0                         # x == m: e = 1 exactly
        t = np.sum(eh - at_max, axis=-1, keepdims=True)
    elif np.min(np.min(ws, axis=-1, keepdims=True) * 0.5 - m0 * 0.5) >= 0.5 * _LOW:
        # (halves: no overflow) every score within 700 of its maximum
        zh, zl = _two_sum(ws, -m0)
        eh, c = np.exp(zh), zl
        at_max = zh == 0.0                         # x == m: zl = 0 and e = 1 exactly
        others = eh * c
        others += eh
        others -= at_max
        t = _sum_of_exponentials(others)
    else:
        # halves again: rounding is monotone, so far implies x - m < -2048
        # exactly and not far implies x - m > -2049, finite
        far = ws * 0.5 - m0 * 0.5 < -0.5 * _FAR
        zh, zl = _two_sum(np.where(far, m0, ws), -m0)
        low = (zh < _LOW) & ~far
        # low: zh + 1024 ln2_hi is exact (Sterbenz, for zh >= -1419; below,
        # e is under 2^-2048 and no float64 result sees it), its exp normal
        eh = np.where(far, 0.0, np.exp(np.where(low, zh + _LN2_1024[0], zh)))
        c = np.where(low, zl + _LN2_1024[1], zl)
        at_max = (zh == 0.0) & ~far
        e = eh + eh * c
        t = (_sum_of_exponentials(np.where(at_max | low, 0.0, e))
             + np.ldexp(_sum_of_exponentials(np.where(low, e, 0.0)), -1024))
    n_max = np.sum(at_max, axis=-1, keepdims=True, dtype=np.float64)
    return _Shifted(m, normal, zh, zl, far, low, eh, c, n_max, t)


def _with_limits(value, w, sh, at_inf, elsewhere):
    """`value` (the normal slices' results) with the limits in the other
    slices: where k >= 1 scores are +inf (and none NaN), at_inf(k) at those
    and `elsewhere` at the others; NaN in the slices with a NaN or with only
    -inf."""
    if sh.normal.all():
        return value
    inf_slice = sh.m == np.inf
    k = np.where(inf_slice, np.sum(w == np.inf, axis=-1, keepdims=True, dtype=np.float64), 1.0)
    special = np.where(inf_slice, np.where(w == np.inf, at_inf(k), elsewhere), np.nan)
    return np.where(sh.normal, value, special)


def _log_softmax_rows(w, sh):
    # log of the sum n_max + t; log1p keeps a sum near 1 (n_max = 1, t tiny)
    # from rounding to log(1) = 0
    lse = np.log1p((sh.n_max - 1.0) + sh.t)
    # x - m - lse: both terms <= 0, so no cancellation; for float64 the
    # rounding of zh - lse is kept and added back with zl
    if sh.zl is None:
        value = sh.zh - lse
    else:
        s, r = _two_sum(sh.zh, -lse)
        value = s + (r + sh.zl)
    if sh.far is not None:
        # |x - m| > 2048 >> lse: one rounding of x - m and one of the
        # difference are within 1 ulp; x - m may overflow to -inf, which is
        # then the exact result rounded
        with np.errstate(over="ignore"):
            z = np.where(sh.normal, w, 0.0) - np.where(sh.normal, sh.m, 0.0)
        value = np.where(sh.far, z - lse, value)
    return _with_limits(value, w, sh, lambda k: 0.0 - np.log(k), -np.inf)


def _softmax_rows(w, sh):
    if sh.c is None:
        value = sh.eh / (sh.n_max + sh.t)
    else:
        # e^(x - m) / (n_max + t) = eh (1 + c) / (s_hi + s_lo) 2^(-1024 low),
        # to first order q + q (c - s_lo/s_hi) with q = eh / s_hi: one
        # rounding after exp's and the quotient's, and one more for a low
        # score (scaled back by 2^-1024: rounds only to a subnormal result)
        s_hi, s_lo = _two_sum(sh.n_max, sh.t)
        q = sh.eh / s_hi
        value = q + q * (sh.c - s_lo / s_hi)
        if sh.low is not None:
            value = np.ldexp(value, np.where(sh.low, -1024, 0))
    return _with_limits(value, w, sh, lambda k: 1.0 / k, 0.0)


@_with_params
def log_softmax(x, axis=-1):
    r"""Logarithm of the softmax along an axis, max-shifted.

    .. math:: \log\mathrm{softmax}(x)_i = (x_i - m) - \log \sum_j e^{x_j - m},\quad m = \max_j x_j

    Parameters
    ----------
    x : array_like, Dask array, xarray.DataArray or pandas object
        Scores, any shape; integers promote as by numpy.exp.  A Dask array
        gives a Dask array, computed when asked (blocks of whole slices:
        the class axis becomes one chunk); an xarray or pandas object gives
        one with the same labels, as the ufuncs do.
    axis : int
        The axis of the classes, in ``[-x.ndim, x.ndim)``; otherwise
        ``numpy.exceptions.AxisError`` (a 0-d `x` has no axis).  For an
        xarray.DataArray, also the name of a dimension.

    Returns
    -------
    ndarray (or the type of `x`, see above)
        Same shape and dtype (float16, float32, float64), a new array; each
        slice's exponentials sum to 1.

    Notes
    -----
    Special values, per slice along `axis` (other slices are unaffected),
    each the limit of the finite formula:

    * a NaN anywhere in the slice: the whole slice is NaN;
    * k >= 1 scores +inf (and no NaN): -log(k) at each of them, -inf at
      every other score (finite or -inf), as the limit of x_i - m - log(k +
      sum of the other e^(x_j - m)) when the k scores grow together;
    * every score -inf: NaN for the whole slice, as PyTorch gives.  No limit
      exists: the result does not change when all the scores move together,
      so scores that go to -inf together may tend to any log-probabilities;
    * an empty axis (length 0): an empty result of the same shape, as
      NumPy's element-wise functions give.

    A score -inf among finite ones gives -inf; scores far apart, such as
    [1e308, -1e308], give [0, -inf] (the difference overflows, exactly as the
    exact result does).  No floating-point warning is raised (under any
    ``numpy.errstate``).

    @ACCURACY log_softmax@  The float64 bound follows from NumPy's exp and log1p
    being within 1 ULP: the max-shift x - m is carried exactly and the sum of
    the exponentials to about 1/2 ulp (up to 10^5 classes), so the bound does
    not grow with the spread of the scores.  Against mpmath (50 digits), on
    random and extreme slices, the most seen is 2 ULP.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import log_softmax
    >>> log_softmax(np.array([1000.0, 0.0]))
    array([    0., -1000.])
    >>> log_softmax(np.array([np.inf, 0.0, np.inf]))
    array([-0.69314718,        -inf, -0.69314718])
    >>> log_softmax(np.array([[-np.inf, -np.inf], [np.nan, 0.0], [0.0, 0.0]]))
    array([[        nan,         nan],
           [        nan,         nan],
           [-0.69314718, -0.69314718]])

    See also
    --------
    softmax, log_sigmoid
    """
    return _along_slices("log_softmax", x, axis, _log_softmax_rows)


@_with_params
def softmax(x, axis=-1):
    r"""Softmax along an axis, max-shifted.

    .. math:: \mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},\quad m = \max_j x_j

    For two classes, softmax([z1, z2])[0] = sigma(z1 - z2): binary sigmoid
    classification is two-class softmax classification.

    Parameters
    ----------
    x : array_like, Dask array, xarray.DataArray or pandas object
        Scores, any shape; integers promote as by numpy.exp.  A Dask array
        gives a Dask array, computed when asked (blocks of whole slices:
        the class axis becomes one chunk); an xarray or pandas object gives
        one with the same labels, as the ufuncs do.
    axis : int
        The axis of the classes, in ``[-x.ndim, x.ndim)``; otherwise
        ``numpy.exceptions.AxisError`` (a 0-d `x` has no axis).  For an
        xarray.DataArray, also the name of a dimension.

    Returns
    -------
    ndarray (or the type of `x`, see above)
        Same shape and dtype (float16, float32, float64), a new array,
        non-negative, summing to 1 along `axis`.

    Notes
    -----
    Special values, per slice along `axis` (other slices are unaffected),
    each the limit of the finite formula:

    * a NaN anywhere in the slice: the whole slice is NaN;
    * k >= 1 scores +inf (and no NaN): 1/k at each of them and 0 at every
      other score (finite or -inf), the limit when the k scores grow together;
    * every score -inf: NaN for the whole slice, as PyTorch gives.  No limit
      exists: the result does not change when all the scores move together,
      so scores that go to -inf together may tend to any probabilities;
    * an empty axis (length 0): an empty result of the same shape, as
      NumPy's element-wise functions give.

    A score -inf among finite ones gives 0; no overflow for large scores or
    large spreads (softmax([1e308, -1e308]) is [1, 0]).  No floating-point
    warning is raised (under any ``numpy.errstate``).

    @ACCURACY softmax@  The float64 bound follows from NumPy's exp
    being within 1 ULP: the max-shift x - m is carried exactly and the sum
    of the exponentials to about 1/2 ulp (up to 10^5 classes), so the bound
    does not grow with the spread of the scores.  Against mpmath (50
    digits), on random and extreme slices, the most seen is 2 ULP.

    So the exact sum of each slice of the result is within 4 eps of 1 in
    float64 and within eps in float16 and float32 (eps of the dtype), give or
    take 4 (float64) or 1 of the dtype's smallest subnormal for each
    subnormal element.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import softmax, sigmoid
    >>> softmax(np.array([3.0, 1.0]))
    array([0.88079708, 0.11920292])
    >>> float(sigmoid(3.0 - 1.0))
    0.8807970779778824
    >>> softmax(np.array([np.inf, 0.0, np.inf, -np.inf]))
    array([0.5, 0. , 0.5, 0. ])

    See also
    --------
    log_softmax, sigmoid
    """
    return _along_slices("softmax", x, axis, _softmax_rows)
