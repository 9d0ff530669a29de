r"""The sigmoid family and its losses for any Array API array (public as
:mod:`sigmoid.array_api`).

Every function takes arrays of one library that ``array-api-compat``
recognises (NumPy, PyTorch, CuPy, JAX, Dask, array-api-strict, ...) and
returns an array of the same library, on the same device, computed with that
library's own operations, found with ``array_api_compat.array_namespace``:
no data goes through NumPy.  The formulas are the library's stable ones:

* σ(x) from e = exp(-abs(x)) and r = 1/(1 + e): r for x >= 0, e r for x < 0,
  that is exp(min(x, 0)) r (exp never sees a positive argument, so nothing
  overflows; the second exp replaces a select, bit for bit, because a
  select costs more than an exp on CPUs: PyTorch's ``where`` is scalar);
* softplus(x) = max(x, 0) + log1p(exp(-abs(x))) and
  log σ(x) = min(x, 0) - log1p(exp(-abs(x))), never log(sigmoid(x));
* every product 0 · ∞ whose limit is 0 is made safe before it is
  evaluated: the infinite factor is replaced by a finite stand-in
  (``maximum``/``minimum``) or selected away (``where`` computes both
  sides, so the side not taken is made safe first).

Dispatch
--------
* NumPy arrays (and NumPy scalars) go to the compiled ufuncs and losses of
  :mod:`sigmoid`, exact to a few ULP or correctly rounded;
* Dask arrays of NumPy chunks go to the same ufuncs and losses, block by
  block and lazily (the ufuncs are real ``numpy.ufunc`` objects, which Dask
  maps over its blocks; :mod:`sigmoid.losses` maps its compiled pass over
  the blocks and reduces with Dask, through :mod:`sigmoid.interop.dask`);
* everything else (PyTorch on any device, CuPy, JAX, array-api-strict, Dask
  of CuPy, ...) uses the generic formulas with the library's own
  operations.  On PyTorch tensors they are differentiable by autograd.

Arguments
---------
The first argument must be an array; the second argument of the backward
functions (grad_output) and `weight` / `pos_weight` may also be Python
numbers.  Arrays of two different libraries in one call raise
``TypeError`` naming both types: convert one of them explicitly.  Integer
and bool inputs promote to the library's default floating dtype (NumPy
arrays: as ``numpy.exp`` promotes).  Float dtypes are kept; two arrays of
different float dtypes promote as the library promotes them.

Floating-point flags: for libraries that compute with NumPy
(array-api-strict) the generic formulas run under
``numpy.errstate(under="ignore")``: exp(-abs(x)) underflows to 0 or a
subnormal for large abs(x), which is the correct value.  No other flag is
raised for any input, infinities included, except by the caller's own
infinite grad_output; logit also ignores "divide" and "invalid", whose
flags there only announce its documented results (-inf at 0, +inf at 1,
nan outside [0, 1]).  As with the ufuncs, nothing warns.

JAX on the CPU: XLA flushes subnormal numbers to zero (JAX's documented
choice), so a result that would be subnormal (sigmoid(-100) in float32)
is 0 there, and subnormal inputs give what XLA makes of them; and XLA
multiplies by the reciprocal of a constant divisor, so the divisions by 6
of the hard sigmoid and its gradient are within 1 ULP there rather than
correctly rounded.  The bounds below hold otherwise, and are tested on
JAX's CPU arrays with these two exceptions.
"""
from __future__ import annotations

import math
import numbers
import sys

import numpy as np

from .. import _core
from .. import losses as _losses
from . import _publish
from . import dask as _dask

try:
    import array_api_compat as _aac
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sigmoid.array_api needs the 'array-api-compat' package: pip install array-api-compat "
        "(or the 'array-api' extra of sigmoid)"
    ) from _exc

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

_REDUCTIONS = ("none", "mean", "sum")


# --------------------------------------------------------------- dispatch

def _type_name(a):
    t = type(a)
    mod = t.__module__
    # array_api_strict._array_object.Array -> array_api_strict.Array
    top = mod.split(".")[0]
    if mod != top and getattr(sys.modules.get(top), t.__name__, None) is t:
        mod = top
    return f"{mod}.{t.__qualname__}"


def _is_scalar(a):
    return isinstance(a, numbers.Number) and not isinstance(a, np.generic)


def _namespace(fname, named):
    """The namespace of the arrays among `named` ((argument name, value)
    pairs; None and Python numbers are skipped); TypeError if they come from
    two libraries or one is not an array."""
    xp = first = None
    for arg, a in named:
        if a is None or _is_scalar(a):
            continue
        try:
            ns = _aac.array_namespace(a)
        except TypeError:
            raise TypeError(
                f"{fname}(): argument '{arg}' is a {_type_name(a)}, which is not an array that "
                f"array-api-compat recognises (NumPy, PyTorch, CuPy, JAX, Dask, array-api-strict, ...)"
            ) from None
        if xp is None:
            xp, first = ns, (arg, a)
        elif ns is not xp:
            raise TypeError(
                f"{fname}(): argument '{first[0]}' is a {_type_name(first[1])} but '{arg}' is a "
                f"{_type_name(a)}; the arrays of one call must come from one library "
                f"(convert one of them explicitly)"
            )
    if xp is None:
        raise TypeError(f"{fname}(): argument '{named[0][0]}' must be an array, got {_type_name(named[0][1])}")
    return xp


def _numpy_kernels(x):
    """True where the compiled ufuncs apply: NumPy arrays and scalars, and
    Dask arrays of NumPy blocks (mapped lazily through ``__array_ufunc__``)."""
    return _aac.is_numpy_array(x) or _dask.numpy_backed(x)


def _np_result(x, y):
    # a ufunc returns a NumPy scalar for 0-d input: keep the input's type
    if isinstance(x, np.ndarray) and not isinstance(y, np.ndarray):
        return np.asarray(y)
    return y


def _default_float(xp, x):
    try:
        return xp.__array_namespace_info__().default_dtypes(device=_aac.device(x))["real floating"]
    except Exception:  # a namespace without the inspection API
        return xp.float64 if hasattr(xp, "float64") else xp.float32


def _floating(fname, arg, xp, a):
    """`a` as a real floating array of namespace `xp` (Python numbers pass)."""
    if a is None or _is_scalar(a):
        return a
    if xp.isdtype(a.dtype, "real floating"):
        return a
    if xp.isdtype(a.dtype, ("integral", "bool")):
        return xp.astype(a, _default_float(xp, a))
    raise TypeError(
        f"{fname}(): argument '{arg}' has dtype {a.dtype}, which is not supported; use a real floating "
        f"dtype (or integers, promoted to the default floating dtype)"
    )


def _c(xp, value, like):
    """A 0-d constant of `like`'s dtype on its device (for where, maximum:
    0-d arrays are part of every version of the standard)."""
    return xp.asarray(value, dtype=like.dtype, device=_aac.device(like))


def _quiet_underflow():
    """Underflow of exp(-abs(x)) to 0 or a subnormal is the right answer; for
    the namespaces that compute with NumPy (array-api-strict) it must not
    raise under a caller's ``np.errstate(under="raise")``.  Other flags stay
    as the caller set them (the formulas raise none)."""
    return np.errstate(under="ignore")


# ----------------------------------------------------- stable primitives

def _exp_neg_abs(xp, x):
    """(e, r) = (exp(-abs(x)), 1/(1 + e)): e in [0, 1], so neither overflows."""
    e = xp.exp(-xp.abs(x))
    return e, 1.0 / (1.0 + e)


def _sigma(xp, x, r):
    # sigma(x) = 1/(1 + e^-x) = r for x >= 0; for x < 0, multiplying by
    # e^x / e^x gives e^x/(1 + e^x) = e r.  Both cases are exp(min(x, 0)) r:
    # exp(0) = 1 exactly, and for x < 0 exp(x) is e itself, so the result is
    # bit for bit the select where(x >= 0, r, e r), without the select (a
    # second exp costs less than a select on CPUs: torch's where is not
    # vectorised).  exp sees no positive argument; nan gives nan.
    return xp.exp(xp.minimum(x, _c(xp, 0.0, x))) * r


def _sigma_neg(xp, x, r):
    # sigma(-x): the same identity for -x (e r for x >= 0, r for x < 0)
    return xp.exp(-xp.maximum(x, _c(xp, 0.0, x))) * r


def _a_sigma(xp, x, a, r):
    """a sigma(x) for a finite a of the order of x (x, or x times a number).

    (a exp(min(x, 0))) r is a r for x >= 0 and a e r for x < 0.  Where
    e = exp(-abs(x)) is subnormal (x < -87.3 in float32, -708.4 in float64) it
    has lost bits although a e may be normal; there sigma(x) a is written
    (a t)(t r) with t = exp(x/2) normal, so only the final product can be
    subnormal and it is rounded once."""
    zero = _c(xp, 0.0, x)
    m = xp.minimum(x, zero)
    usual = (a * xp.exp(m)) * r
    t = xp.exp(0.5 * m)
    deep = (a * t) * (t * r)
    return xp.where(x < math.log(xp.finfo(x.dtype).smallest_normal), deep, usual)


def _no_minus_inf(xp, x):
    """x with -inf replaced by -max: a stand-in where the other factor is
    exactly 0 (x sigma(x) at -inf)."""
    return xp.maximum(x, _c(xp, -xp.finfo(x.dtype).max, x))


def _finite(xp, x):
    """x with +-inf replaced by +-max (x sigma(-x) at both infinities)."""
    big = xp.finfo(x.dtype).max
    return xp.minimum(xp.maximum(x, _c(xp, -big, x)), _c(xp, big, x))


def _mul0(xp, a, b):
    """a * b with 0 * inf = 0: b is replaced by 0 where a is 0 before the
    product (the limits of the losses give 0 there, IEEE gives nan)."""
    return a * xp.where(a == 0, xp.zeros_like(b), b)


# -------------------------------------------------------- the family

def sigmoid(x, /):
    r"""Logistic sigmoid of an array of any Array API library.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}} =
        \begin{cases} 1/(1 + e^{-|x|}) & x \ge 0 \\ e^{-|x|}/(1 + e^{-|x|}) & x < 0 \end{cases}

    Parameters
    ----------
    x : array
        Any shape; float16/float32/float64 (or the library's floating
        dtypes) are kept, integers promote to the default floating dtype.

    Returns
    -------
    array
        Same library, device, shape and dtype as `x`, values in [0, 1].

    Notes
    -----
    NumPy arrays (and Dask arrays of NumPy blocks) use the ufunc
    :data:`sigmoid.sigmoid`; other libraries evaluate the second form with
    their own exp, as exp(min(x, 0)) / (1 + exp(-abs(x))): exp only sees
    arguments <= 0, so nothing overflows.

    Special values: sigmoid(0) = 0.5, sigmoid(-inf) = 0, sigmoid(+inf) = 1,
    sigmoid(nan) = nan.

    Accuracy: NumPy, at most 1 ULP (the ufunc); other libraries, a few ULP
    (three roundings after their exp).

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import sigmoid
    >>> sigmoid(xps.asarray([-1000.0, 0.0, 1000.0]))
    Array([0. , 0.5, 1. ], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.sigmoid, log_sigmoid, sigmoid_backward
    """
    xp = _namespace("sigmoid", [("x", x)])
    if _numpy_kernels(x):
        return _np_result(x, _core.sigmoid(x))
    x = _floating("sigmoid", "x", xp, x)
    with _quiet_underflow():
        _, r = _exp_neg_abs(xp, x)
        return _sigma(xp, x, r)


def log_sigmoid(x, /):
    r"""Logarithm of the sigmoid, for any Array API library.

    .. math:: \log\sigma(x) = -\mathrm{softplus}(-x) = \min(x, 0) - \log(1 + e^{-|x|})

    Parameters
    ----------
    x : array
        Any shape and real floating dtype (integers promote).

    Returns
    -------
    array
        Same library, device, shape and dtype as `x`, values <= 0.

    Notes
    -----
    Never ``log(sigmoid(x))``, which is -inf once sigma(x) underflows
    (x < -745 in float64) although the true value is about x.

    Special values: log_sigmoid(+inf) = 0, log_sigmoid(-inf) = -inf,
    log_sigmoid(nan) = nan.

    Accuracy: NumPy, at most 2 ULP (the ufunc); other libraries, a few ULP
    (log1p of an exact-to-an-ULP argument, one subtraction of like signs).

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import log_sigmoid
    >>> log_sigmoid(xps.asarray([-1000.0, -1.0, 0.0]))  # log(sigmoid(-1000.0)) is -inf
    Array([-1.00000000e+03, -1.31326169e+00, -6.93147181e-01], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.log_sigmoid, softplus
    """
    xp = _namespace("log_sigmoid", [("x", x)])
    if _numpy_kernels(x):
        return _np_result(x, _core.log_sigmoid(x))
    x = _floating("log_sigmoid", "x", xp, x)
    with _quiet_underflow():
        # log sigma(x) = -log(1 + e^-x) = min(x, 0) - log(1 + e^-|x|): for
        # x < 0 factor e^-x = e^|x| out of the logarithm
        return xp.minimum(x, _c(xp, 0.0, x)) - xp.log1p(xp.exp(-xp.abs(x)))


def softplus(x, /):
    r"""Softplus log(1 + e^x), for any Array API library.

    .. math:: \mathrm{softplus}(x) = \log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})

    Parameters
    ----------
    x : array
        Any shape and real floating dtype (integers promote).

    Returns
    -------
    array
        Same library, device, shape and dtype as `x`, values >= 0.

    Notes
    -----
    The second form never overflows (log(1 + exp(x)) is inf from x = 710 in
    float64) and keeps full relative accuracy for very negative x, where
    softplus(x) is about e^x.

    Special values: softplus(-inf) = 0, softplus(+inf) = +inf,
    softplus(nan) = nan.

    Accuracy: NumPy, at most 2 ULP (the ufunc); other libraries, a few ULP.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import softplus
    >>> softplus(xps.asarray([-1000.0, 0.0, 1.0]))
    Array([0.        , 0.69314718, 1.31326169], dtype=array_api_strict.float64)
    >>> float(softplus(xps.asarray(1000.0)))  # log1p(exp(1000.0)) is inf
    1000.0

    See also
    --------
    sigmoid.softplus, log_sigmoid
    """
    xp = _namespace("softplus", [("x", x)])
    if _numpy_kernels(x):
        return _np_result(x, _core.softplus(x))
    x = _floating("softplus", "x", xp, x)
    with _quiet_underflow():
        # log(1 + e^x) = x + log(1 + e^-x) for x > 0: factor e^x out
        return xp.maximum(x, _c(xp, 0.0, x)) + xp.log1p(xp.exp(-xp.abs(x)))


def logit(p, /):
    r"""Logit, the inverse of the sigmoid, for any Array API library.

    .. math::
        \mathrm{logit}(p) = \log\frac{p}{1 - p} =
        \begin{cases} \mathrm{sign}(2p - 1)\,\log\bigl(1 + |2p - 1| / \min(p, 1 - p)\bigr)
                          & 1/4 \le p \le 3/4 \\
                      \log p - \log(1 - p) & \text{otherwise} \end{cases}

    Parameters
    ----------
    p : array
        Probabilities in [0, 1], any shape and real floating dtype.

    Returns
    -------
    array
        Same library, device, shape and dtype as `p`.

    Notes
    -----
    log p - log1p(-p) cancels near p = 1/2, where both logarithms are about
    -0.69 and the result is about 4(p - 1/2).  There the first form is used:
    2p - 1 and 1 - p (for p >= 1/2) are exact for p in [1/4, 3/4] (Sterbenz),
    the quotient is rounded once, and log1p keeps the relative accuracy of
    its small argument.  Taking logit(p) = -logit(1 - p) below 1/2 keeps that
    argument in [0, 2], where log1p's condition number is at most 1 (the
    quotient (2p - 1)/(1 - p) reaches -2/3 there, where it is 1.8); it also
    keeps away from XLA's float64 log1p on the CPU, up to 129 ULP off for
    arguments in (-0.53, -0.28) (jax-ml/jax#39707).  Away from 1/2 the second
    form cancels at most by a factor 1.3, and its IEEE values at the ends
    are the limits: log 0 = -inf, log1p(-1) = -inf.

    Special values: logit(0) = -inf, logit(1) = +inf, logit(0.5) = 0;
    p outside [0, 1] and nan give nan, without a warning.

    Accuracy: NumPy, at most 2 ULP (the ufunc); other libraries, a few ULP.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import logit
    >>> logit(xps.asarray([0.0, 0.25, 0.5, 1.0]))
    Array([       -inf, -1.09861229,  0.        ,         inf], dtype=array_api_strict.float64)
    >>> float(logit(xps.asarray(0.5 + 2.0**-30)))  # 4 * 2**-30 to 16 digits
    3.725290298461914e-09

    See also
    --------
    sigmoid.logit, sigmoid
    """
    xp = _namespace("logit", [("p", p)])
    if _numpy_kernels(p):
        return _np_result(p, _core.logit(p))
    p = _floating("logit", "p", xp, p)
    # IEEE arithmetic gives the special values themselves: log(0) - log1p(0)
    # = -inf, log(1) - log1p(-1) = +inf, nan outside [0, 1].  The flags that
    # NumPy-backed namespaces raise on the way (divide, invalid) describe
    # exactly these documented results, so they are not raised; the branch
    # not selected may be infinite but is never nan where it is dropped.
    with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
        # log(p/(1 - p)) = log(1 + (p - (1 - p))/(1 - p)) = log1p((2p - 1)/(1 - p))
        # for p >= 1/2, and -logit(1 - p) = -log1p((1 - 2p)/p) below: the
        # argument |2p - 1| / min(p, 1 - p) is never negative.  The divisor is
        # at least 1/4 where this branch is taken; held there elsewhere, so
        # that the branch not taken cannot overflow
        d = 2.0 * p - 1.0
        near = xp.sign(d) * xp.log1p(xp.abs(d) / xp.maximum(xp.minimum(p, 1.0 - p), _c(xp, 0.25, p)))
        far = xp.log(p) - xp.log1p(-p)
        return xp.where((p >= 0.25) & (p <= 0.75), near, far)


def hard_sigmoid(x, /):
    r"""Hard sigmoid (PyTorch's ``hardsigmoid``), for any Array API library.

    .. math:: \mathrm{hard\_sigmoid}(x) = \min(\max((x + 3)/6, 0), 1)

    Parameters
    ----------
    x : array
        Any shape and real floating dtype (integers promote).

    Returns
    -------
    array
        Same library, device, shape and dtype as `x`, values in [0, 1].

    Notes
    -----
    0 for x <= -3, 1 for x >= 3.

    Special values: hard_sigmoid(0) = 0.5, hard_sigmoid(-inf) = 0,
    hard_sigmoid(+inf) = 1, hard_sigmoid(nan) = nan.

    Accuracy: NumPy, correctly rounded (the ufunc); other libraries, at
    most 1 ULP ((x + 3)/6 with two roundings).

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import hard_sigmoid
    >>> hard_sigmoid(xps.asarray([-4.0, -1.5, 0.0, 1.5, 4.0]))
    Array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.hard_sigmoid, hard_sigmoid_backward
    """
    xp = _namespace("hard_sigmoid", [("x", x)])
    if _numpy_kernels(x):
        return _np_result(x, _core.hard_sigmoid(x))
    x = _floating("hard_sigmoid", "x", xp, x)
    # maximum and minimum propagate nan in every library of the standard
    return xp.minimum(xp.maximum((x + 3.0) / 6.0, _c(xp, 0.0, x)), _c(xp, 1.0, x))


def silu(x, /):
    r"""SiLU (swish) x σ(x), for any Array API library.

    .. math:: \mathrm{silu}(x) = x\,\sigma(x)

    Parameters
    ----------
    x : array
        Any shape and real floating dtype (integers promote).

    Returns
    -------
    array
        Same library, device, shape and dtype as `x`.

    Notes
    -----
    sigma(x) as in :func:`sigmoid`; x = -inf is replaced by the largest
    finite negative number before the product, so the result is the limit
    -0 rather than -inf * 0 = nan.  Where exp(-abs(x)) is subnormal (x < -87.3
    in float32) the product is formed as (x t)(t r) with t = exp(x/2), so
    only the result is rounded into the subnormals.

    Special values: silu(+-0) = +-0, silu(+inf) = +inf, silu(-inf) = -0,
    silu(nan) = nan.

    Accuracy: NumPy, at most 2 ULP (the ufunc); other libraries, a few ULP.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import silu
    >>> silu(xps.asarray([-float("inf"), -1.0, 0.0, 1.0]))
    Array([-0.        , -0.26894142,  0.        ,  0.73105858], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.silu, silu_backward
    """
    xp = _namespace("silu", [("x", x)])
    if _numpy_kernels(x):
        return _np_result(x, _core.silu(x))
    x = _floating("silu", "x", xp, x)
    with _quiet_underflow():
        _, r = _exp_neg_abs(xp, x)
        # at -inf, sigma = 0 and the finite stand-in for x gives the limit -0
        # (not -inf * 0 = nan); at +inf, x r = inf
        return _a_sigma(xp, x, _no_minus_inf(xp, x), r)


# --------------------------------------------------------- backward

def sigmoid_backward(x, grad_output=1.0, /):
    r"""Gradient of the sigmoid times an incoming gradient, from the input.

    .. math:: \mathrm{grad\_output} \cdot \sigma(x)\,\sigma(-x) =
        \mathrm{grad\_output} \cdot \frac{e^{-|x|}}{(1 + e^{-|x|})^2}

    Parameters
    ----------
    x : array
        The input of the forward pass (real floating; integers promote).
    grad_output : array or float
        Gradient with respect to sigmoid(x), broadcast with `x`; an array of
        the same library, or a Python number (default 1.0).

    Returns
    -------
    array
        The broadcast shape; the dtype the library promotes `x` and
        `grad_output` to; same library and device.

    Notes
    -----
    sigma(x) sigma(-x) is even in x and equals e/(1 + e)^2 with
    e = exp(-abs(x)): no cancellation (the textbook sigma (1 - sigma) is 0 in
    float32 from x = 17.3 although the true value is about e^-x).

    Special values: sigma'(0) = 0.25, sigma'(+-inf) = 0; nan gives nan.

    Accuracy: NumPy, at most 2 ULP (the ufunc); other libraries, a few ULP.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import sigmoid_backward
    >>> sigmoid_backward(xps.asarray([0.0, 40.0], dtype=xps.float32))  # sigma (1 - sigma) gives 0 at 40
    Array([2.500000e-01, 4.248354e-18], dtype=array_api_strict.float32)

    See also
    --------
    sigmoid.sigmoid_backward, sigmoid
    """
    xp = _namespace("sigmoid_backward", [("x", x), ("grad_output", grad_output)])
    if _numpy_kernels(x):
        return _np_result(x, _core.sigmoid_backward(x, grad_output))
    x = _floating("sigmoid_backward", "x", xp, x)
    g = _floating("sigmoid_backward", "grad_output", xp, grad_output)
    with _quiet_underflow():
        e, r = _exp_neg_abs(xp, x)
        # sigma(x) sigma(-x) = [1/(1 + e)] [e/(1 + e)] for either sign of x
        return g * (e * r * r)


def hard_sigmoid_backward(x, grad_output=1.0, /):
    r"""Gradient of the hard sigmoid times an incoming gradient.

    .. math:: \mathrm{grad\_output} / 6 \ \text{if}\ -3 < x < 3,\ \text{else}\ 0

    Parameters
    ----------
    x : array
        The input of the forward pass.
    grad_output : array or float
        Gradient with respect to hard_sigmoid(x), broadcast with `x`.

    Returns
    -------
    array
        The broadcast shape and promoted dtype; same library and device.

    Notes
    -----
    As PyTorch's ``hardsigmoid_backward``, the derivative is taken on the
    open interval (-3, 3), so it is 0 at the kinks.  Computed as
    (grad_output / 6) times a mask of 1, 0 or nan (nan where x is nan).

    Special values: outside (-3, 3) a zero with the sign of grad_output (nan
    where grad_output is infinite or nan); nan in x gives nan.

    Accuracy: correctly rounded (one division by 6) in every library but
    JAX, where it is within 1 ULP (XLA multiplies by 1/6 instead).

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import hard_sigmoid_backward
    >>> hard_sigmoid_backward(xps.asarray([-4.0, -3.0, 0.0, 3.0]), 6.0)
    Array([0., 0., 1., 0.], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.hard_sigmoid_backward, hard_sigmoid
    """
    xp = _namespace("hard_sigmoid_backward", [("x", x), ("grad_output", grad_output)])
    if _numpy_kernels(x):
        return _np_result(x, _core.hard_sigmoid_backward(x, grad_output))
    x = _floating("hard_sigmoid_backward", "x", xp, x)
    g = _floating("hard_sigmoid_backward", "grad_output", xp, grad_output)
    mask = xp.astype((x > -3.0) & (x < 3.0), x.dtype)
    mask = xp.where(xp.isnan(x), x, mask)
    # (g/6) * 1 is g/6 rounded once; (g/6) * 0 is a signed zero (nan for inf g)
    return (g / 6.0) * mask


def silu_backward(x, grad_output=1.0, /):
    r"""Gradient of SiLU times an incoming gradient.

    .. math:: \mathrm{grad\_output} \cdot \sigma(x)\,\bigl(1 + x\,\sigma(-x)\bigr)

    Parameters
    ----------
    x : array
        The input of the forward pass.
    grad_output : array or float
        Gradient with respect to silu(x), broadcast with `x`.

    Returns
    -------
    array
        The broadcast shape and promoted dtype; same library and device.

    Notes
    -----
    This is the textbook g s (1 + x (1 - s)) with 1 - sigma(x) replaced by
    sigma(-x), computed from exp(-abs(x)) without cancellation; infinite x is
    replaced by the largest finite number in the product x sigma(-x),
    whose limit there is 0.  The
    one remaining cancellation is intrinsic: silu' changes sign at
    x0 = -1.2784645, where 1 + x sigma(-x) passes through 0; near x0 the
    error is a few ULP of sigma(x), not of the result (the NumPy ufunc uses
    a Taylor series there and stays accurate relative to the result).

    Special values: silu'(0) = 0.5, silu'(+inf) = 1, silu'(-inf) = 0;
    nan in either argument gives nan.

    Accuracy: NumPy, at most 2 ULP (the ufunc); other libraries, a few ULP
    away from x0.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import silu_backward
    >>> silu_backward(xps.asarray([0.0, 1.0]), 1.0)
    Array([0.5       , 0.92767051], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.silu_backward, silu
    """
    xp = _namespace("silu_backward", [("x", x), ("grad_output", grad_output)])
    if _numpy_kernels(x):
        return _np_result(x, _core.silu_backward(x, grad_output))
    x = _floating("silu_backward", "x", xp, x)
    g = _floating("silu_backward", "grad_output", xp, grad_output)
    with _quiet_underflow():
        _, r = _exp_neg_abs(xp, x)
        # d/dx x sigma(x) = sigma(x) (1 + x sigma(-x)), with the finite
        # stand-in for x: at +inf sigma(-x) = 0, so u = 1; at -inf, u is
        # finite and sigma(x) = 0, so the result is 0 (the limits)
        u = 1.0 + _finite(xp, x) * _sigma_neg(xp, x, r)
        return g * _a_sigma(xp, x, u, r)         # u can be about x


# ------------------------------------------------------------- losses

def _check_reduction(fname, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}(): reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}")


def _known(shape):
    # Dask (nan) and the standard (None) mark dimensions unknown until computed
    return all(isinstance(d, numbers.Integral) for d in shape)


def _check_shapes(fname, x, y, extra):
    if not (_known(x.shape) and _known(y.shape)):
        return  # checked by the library when the shapes are known
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(
            f"{fname}(): logits and targets must have the same shape, got {tuple(x.shape)} and "
            f"{tuple(y.shape)} (reshape explicitly; broadcasting an (N, 1) against an (N,) is refused on "
            f"purpose)"
        )
    for arg, a in extra:
        if a is None or _is_scalar(a) or not _known(a.shape):
            continue
        try:
            ok = np.broadcast_shapes(tuple(a.shape), tuple(x.shape)) == tuple(x.shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{fname}(): {arg} of shape {tuple(a.shape)} does not broadcast to the shape "
                             f"of the logits {tuple(x.shape)}")


def _weak(x, a):
    if _is_scalar(a) and np.asarray(x).dtype.kind == "f":
        return np.asarray(a, dtype=np.asarray(x).dtype)
    return a


def _reduce(xp, loss, reduction):
    if reduction == "sum":
        return xp.sum(loss)
    if reduction == "mean":
        return xp.mean(loss)
    return loss


def _softplus_pair(xp, x):
    """(softplus(x), softplus(-x)) sharing one exp and one log1p."""
    l = xp.log1p(xp.exp(-xp.abs(x)))
    zero = _c(xp, 0.0, x)
    return xp.maximum(x, zero) + l, xp.maximum(-x, zero) + l


def bce_with_logits(logits, targets, *, weight=None, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy from logits, for any Array API library.

    .. math::
        \ell = w \left[(1 - y)\,\mathrm{softplus}(x) + p\,y\,\mathrm{softplus}(-x)\right]
             = -w \left[p\,y \log\sigma(x) + (1 - y) \log\sigma(-x)\right]

    PyTorch's ``F.binary_cross_entropy_with_logits``, from the first form,
    a sum of non-negative terms that neither overflows nor cancels.

    Parameters
    ----------
    logits : array
        Raw scores x, any shape, real floating dtype.
    targets : array
        Targets y in [0, 1], exactly the shape of `logits`, same library.
    weight : array or float, optional
        w, rescales each element's loss; broadcast to the logits' shape.
    pos_weight : array or float, optional
        p, weight of the positive term; broadcast to the logits' shape (a
        vector of length C applies along the last axis of (..., C) logits).
    reduction : {"mean", "sum", "none"}
        "mean" over all elements (weights included, as PyTorch), "sum", or
        the per-element losses.

    Returns
    -------
    array
        A 0-d array for "mean" and "sum" (NumPy: a 0-d ndarray), else the
        logits' shape; the promoted floating dtype; same library and device.

    Notes
    -----
    NumPy arrays use :func:`sigmoid.bce_with_logits` (one compiled pass;
    float64 accumulation with compensation for the reductions); Dask arrays
    of NumPy blocks use it per block and reduce with Dask.  Other
    libraries use softplus(x) and softplus(-x) from one exp(-abs(x)) and one
    log1p, and reduce with the library's own sum or mean in the input dtype.
    Targets are not checked against [0, 1] in any library (a check would
    force a device synchronisation or a Dask computation); NumPy arrays are
    passed with ``check_targets=False`` so every library agrees.

    Special values: a nan logit gives a nan loss; logits of +-1e9 or +-inf
    give finite losses where the weight of the infinite term is 0 (y = 1 at
    x = +inf, y = 0 at x = -inf give 0, not 0 * inf = nan).

    Accuracy: per element, NumPy at most 1 ULP, other libraries a few ULP;
    the reductions add the summation error of the library.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import bce_with_logits
    >>> x = xps.asarray([2.0, -1.0, 1e9])
    >>> y = xps.asarray([1.0, 0.0, 1.0])
    >>> bce_with_logits(x, y, reduction="none")
    Array([0.12692801, 0.31326169, 0.        ], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.bce_with_logits, sigmoid_focal_loss
    """
    fname = "bce_with_logits"
    _check_reduction(fname, reduction)
    xp = _namespace(fname, [("logits", logits), ("targets", targets), ("weight", weight),
                            ("pos_weight", pos_weight)])
    if _aac.is_numpy_array(logits):
        # Python numbers are weak, as in the other libraries: they take the
        # logits' floating dtype instead of promoting it to float64
        weight, pos_weight = (_weak(logits, a) for a in (weight, pos_weight))
        loss = _losses.bce_with_logits(logits, targets, weight=weight, pos_weight=pos_weight,
                                       reduction=reduction, check_targets=False)
        return np.asarray(loss)
    if _is_scalar(targets):
        raise TypeError(f"{fname}(): targets must be an array of the logits' shape, got a number")
    x = _floating(fname, "logits", xp, logits)
    y = _floating(fname, "targets", xp, targets)
    w = _floating(fname, "weight", xp, weight)
    p = _floating(fname, "pos_weight", xp, pos_weight)
    _check_shapes(fname, x, y, [("weight", w), ("pos_weight", p)])
    if _dask.numpy_backed(x):
        # the compiled loss on each block, reduced by Dask (sigmoid.losses
        # does both, lazily); Python numbers take the logits' dtype
        w, p = (np.asarray(a, dtype=x.dtype) if _is_scalar(a) else a for a in (w, p))
        return _losses.bce_with_logits(x, y, weight=w, pos_weight=p, reduction=reduction, check_targets=False)
    with _quiet_underflow():
        sp, sn = _softplus_pair(xp, x)
        a = 1.0 - y
        b = y if p is None else p * y
        # (1 - y) softplus(x): 0 when y = 1 even at x = +inf (the limit of the
        # term, not 0 * inf); likewise p y softplus(-x) at y = 0, x = -inf
        loss = _mul0(xp, a, sp) + _mul0(xp, b, sn)
        if w is not None:
            loss = w * loss
        return _reduce(xp, loss, reduction)


def sigmoid_focal_loss(logits, targets, *, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Focal loss (torchvision's ``sigmoid_focal_loss``), for any Array API library.

    .. math::
        \ell = \alpha_t\, \mathrm{CE}(x, y)\, (1 - p_t)^\gamma,\quad
        \log(1 - p_t) = \log\bigl(y\,\sigma(-x) + (1 - y)\,\sigma(x)\bigr)
        = \mathrm{logaddexp}\bigl(\log y + \log\sigma(-x),\ \log(1 - y) + \log\sigma(x)\bigr)

    with CE the binary cross-entropy from logits and
    alpha_t = alpha y + (1 - alpha)(1 - y).

    Parameters
    ----------
    logits : array
        Raw scores x, any shape, real floating dtype.
    targets : array
        Targets y in [0, 1], exactly the shape of `logits`, same library.
    alpha : float or None
        Weight of the positive class; None or a negative number disables
        the weighting, as in torchvision.
    gamma : float >= 0
        Focusing parameter; 0 gives binary cross-entropy.
    reduction : {"none", "mean", "sum"}
        torchvision's default is "none".

    Returns
    -------
    array
        Per-element losses of the logits' shape, or a 0-d array; the
        promoted floating dtype; same library and device.

    Notes
    -----
    In log space: (1 - p_t)^gamma = exp(gamma log(1 - p_t)), with
    log(1 - p_t) from log-sigmoids, so nothing underflows before the final
    exp and the loss stays finite for logits up to 1e9 and beyond.  For
    hard targets log(1 - p_t) is exactly log sigma(-x) (y = 1) or
    log sigma(x) (y = 0): logaddexp with -inf returns its other argument.
    gamma = 0 skips the factor (the loss is then alpha_t times BCE).
    NumPy arrays use :func:`sigmoid.sigmoid_focal_loss` (with
    ``check_targets=False``, as for :func:`bce_with_logits`).

    Special values: nan logits give nan; +-inf logits give the limits
    (0 for a confidently right logit, alpha_t * inf for a wrong one).

    Accuracy: NumPy at most 4 ULP per element; other libraries a few ULP
    times (1 + gamma abs(log(1 - p_t))), the condition number of the exp.

    Examples
    --------
    >>> import array_api_strict as xps
    >>> from sigmoid.array_api import sigmoid_focal_loss
    >>> sigmoid_focal_loss(xps.asarray([3.0, -1e9]), xps.asarray([1.0, 1.0]))
    Array([2.73208311e-05, 2.50000000e+08], dtype=array_api_strict.float64)

    See also
    --------
    sigmoid.sigmoid_focal_loss, bce_with_logits
    """
    fname = "sigmoid_focal_loss"
    _check_reduction(fname, reduction)
    a, g = _losses._focal_args(fname, alpha, gamma)
    xp = _namespace(fname, [("logits", logits), ("targets", targets)])
    if _aac.is_numpy_array(logits):
        loss = _losses.sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction=reduction,
                                          check_targets=False)
        return np.asarray(loss)
    if _is_scalar(targets):
        raise TypeError(f"{fname}(): targets must be an array of the logits' shape, got a number")
    x = _floating(fname, "logits", xp, logits)
    y = _floating(fname, "targets", xp, targets)
    _check_shapes(fname, x, y, [])
    if _dask.numpy_backed(x):
        return _losses.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction=reduction, check_targets=False)
    with _quiet_underflow():
        sp, sn = _softplus_pair(xp, x)
        ce = _mul0(xp, 1.0 - y, sp) + _mul0(xp, y, sn)
        loss = ce
        if g != 0.0:
            ninf = _c(xp, -math.inf, x)
            one = _c(xp, 1.0, y)
            zero = _c(xp, 0.0, y)
            pos = y > 0
            neg = y < 1
            # log(y sigma(-x)) = log y - softplus(x); -inf where y = 0 (the
            # logarithm is taken of a safe 1 there, then replaced)
            t1 = xp.where(pos, xp.log(xp.where(pos, y, one)) - sp, ninf)
            # log((1 - y) sigma(x)) = log1p(-y) - softplus(-x); -inf at y = 1
            t2 = xp.where(neg, xp.log1p(-xp.where(neg, y, zero)) - sn, ninf)
            factor = xp.exp(g * xp.logaddexp(t1, t2))
            # an underflowed factor times an infinite CE is 0, the limit
            loss = _mul0(xp, factor, ce)
        if a >= 0:
            loss = (a * y + (1.0 - a) * (1.0 - y)) * loss
        return _reduce(xp, loss, reduction)


_publish(globals(), "sigmoid.array_api")
