"""The docstrings of the ufuncs, with their accuracy from the one table of
bounds (_accuracy.py); set on the compiled ufuncs at import."""
from __future__ import annotations

from . import _accuracy

_PARAMS = """out : ndarray, None, or tuple of ndarray and None, optional
    Where to write the result, as for any ufunc.
where : array_like, optional
    Where False, `out` keeps its value, as for any ufunc.
**kwargs
    ``dtype``, ``casting``, ``order``, ``subok``, ``signature``: as for
    any ufunc.
"""

_DTYPES = """Loops exist for float16, float32 and float64; the result has the
dtype of the (promoted) input.  Integer and bool inputs promote as for
:data:`numpy.exp` (int8 and bool to float16, int16 to float32, wider
integers to float64); complex, object, string and datetime inputs
raise ``TypeError``.
"""

_TEMPLATES = {
    "sigmoid": r"""Logistic sigmoid, elementwise.

.. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

Also exported as ``expit``.

Parameters
----------
x : array_like
    Input of any shape.
@PARAMS@
Returns
-------
y : ndarray or scalar
    sigma(x), in the open interval (0, 1) wherever it is not rounded to
    0 or 1; same shape as `x`.

Notes
-----
@DTYPES@
Special values: sigma(+-0) = 0.5, sigma(+inf) = 1, sigma(-inf) = +0,
sigma(nan) = nan.  Results that are subnormal numbers (x between about
-103.97 and -87.34 in float32, -745.13 and -708.40 in float64) are
computed, not flushed to zero.  No floating-point warning is raised
for any input.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import sigmoid
>>> sigmoid(np.array([-1.0, 0.0, 1.0]))
array([0.26894142, 0.5       , 0.73105858])
>>> sigmoid(np.float32(-100.0))  # subnormal, not 0
np.float32(3.8e-44)

See also
--------
sigmoid_backward, log_sigmoid, logit, hard_sigmoid, scipy.special.expit
""",
    "log_sigmoid": r"""Logarithm of the sigmoid, elementwise.

.. math:: \log\sigma(x) = -\log(1 + e^{-x}) = -\mathrm{softplus}(-x)

Computed without forming sigma(x), so it stays exact where sigma(x)
underflows (log_sigmoid(-1000) = -1000) and where it rounds to 1
(log_sigmoid(40) = -4.25e-18).

Parameters
----------
x : array_like
    Input of any shape.
@PARAMS@
Returns
-------
y : ndarray or scalar
    log(sigma(x)) <= 0, same shape as `x`.

Notes
-----
@DTYPES@
Special values: log_sigmoid(0) = -log(2), log_sigmoid(+inf) = -0,
log_sigmoid(-inf) = -inf, log_sigmoid(nan) = nan.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import log_sigmoid
>>> log_sigmoid(np.array([-1000.0, 0.0, 40.0]))
array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])

See also
--------
softplus, sigmoid, scipy.special.log_expit
""",
    "softplus": r"""Softplus, elementwise.

.. math:: \mathrm{softplus}(x) = \log(1 + e^{x})

A smooth max(x, 0) whose derivative is sigma(x); computed as
``max(x, 0) + log1p(exp(-abs(x)))``, without overflow for large x and with full
relative accuracy for very negative x, where it equals e^x.

Parameters
----------
x : array_like
    Input of any shape.
@PARAMS@
Returns
-------
y : ndarray or scalar
    log(1 + exp(x)) >= 0, same shape as `x`.

Notes
-----
@DTYPES@
This is the exact function; PyTorch's ``F.softplus`` returns x itself
above a threshold (20 by default), which differs from log(1 + e^x) by
up to 2e-9.

Special values: softplus(0) = log(2), softplus(+inf) = +inf,
softplus(-inf) = +0, softplus(nan) = nan; subnormal results for very
negative x are computed, not flushed to zero.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import softplus
>>> softplus(np.array([-50.0, 0.0, 1000.0]))
array([1.92874985e-22, 6.93147181e-01, 1.00000000e+03])

See also
--------
log_sigmoid, sigmoid, numpy.logaddexp
""",
    "logit": r"""Logit, the inverse of the sigmoid, elementwise.

.. math:: \mathrm{logit}(p) = \log\frac{p}{1 - p}

Accurate near p = 0.5, where the naive formula cancels: logit(p) is
computed from log(p) and log(1 - p) in extended precision, with the
powers of two of both logarithms cancelling exactly.

Parameters
----------
p : array_like
    Probabilities in [0, 1].
@PARAMS@
Returns
-------
x : ndarray or scalar
    log(p / (1 - p)), same shape as `p`.

Notes
-----
@DTYPES@
Special values: logit(0) = -inf, logit(1) = +inf, logit(0.5) = 0; p
outside [0, 1] and nan give nan, without a warning.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import logit, sigmoid
>>> logit(np.array([0.0, 0.25, 0.5, 1.0]))
array([       -inf, -1.09861229,  0.        ,         inf])
>>> p = 0.5 + 2.0**-30  # logit(p) = 4 * 2**-30 to 17 digits
>>> float(logit(p)), float(np.log(p / (1 - p)))
(3.725290298461914e-09, 3.72529029152302e-09)

See also
--------
sigmoid, scipy.special.logit
""",
    "hard_sigmoid": r"""Hard sigmoid, elementwise.

.. math:: \mathrm{hard\_sigmoid}(x) = \min(\max(x/6 + 1/2, 0), 1)

The piecewise-linear sigmoid of PyTorch (``F.hardsigmoid``), JAX
(``jax.nn.hard_sigmoid``) and Keras 3: 0 for x <= -3, 1 for x >= 3.

Parameters
----------
x : array_like
    Input of any shape.
@PARAMS@
Returns
-------
y : ndarray or scalar
    Values in [0, 1], same shape as `x`.

Notes
-----
@DTYPES@
Special values: hard_sigmoid(0) = 0.5, hard_sigmoid(-inf) = 0,
hard_sigmoid(+inf) = 1, hard_sigmoid(nan) = nan.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import hard_sigmoid
>>> hard_sigmoid(np.array([-4.0, -1.5, 0.0, 1.5, 4.0]))
array([0.  , 0.25, 0.5 , 0.75, 1.  ])

See also
--------
hard_sigmoid_backward, sigmoid
""",
    "silu": r"""SiLU (swish), elementwise.

.. math:: \mathrm{silu}(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}

Parameters
----------
x : array_like
    Input of any shape.
@PARAMS@
Returns
-------
y : ndarray or scalar
    x * sigma(x), same shape as `x`.

Notes
-----
@DTYPES@
Special values: silu(+-0) = +-0, silu(+inf) = +inf, silu(-inf) = -0
(the limit; x * sigma(x) evaluated naively gives nan there),
silu(nan) = nan.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import silu
>>> silu(np.array([-np.inf, -1.0, 0.0, 1.0]))
array([-0.        , -0.26894142,  0.        ,  0.73105858])

See also
--------
silu_backward, sigmoid
""",
    "sigmoid_backward": r"""Gradient of the sigmoid times an incoming gradient, from the input.

.. math:: \mathrm{grad\_output} \cdot \sigma(x)\,\sigma(-x)

sigma'(x) = sigma(x) (1 - sigma(x)) = sigma(x) sigma(-x).  The second
form keeps full relative accuracy where sigma(x) rounds to 1: in
float32, 1 - sigma(x) is 0 for x > 17.33 although sigma'(x) is about
e^-x there.

Parameters
----------
x : array_like
    The input of the forward pass.
grad_output : array_like
    Gradient of the loss with respect to sigma(x); broadcast with `x`.
@PARAMS@
Returns
-------
grad_input : ndarray or scalar
    Gradient with respect to `x`, of the broadcast shape.

Notes
-----
@DTYPES@
Special values: sigma'(0) = 0.25 is the maximum; sigma'(+-inf) = 0, so
an infinite grad_output there gives nan (0 * inf); a zero grad_output
gives a zero with the sign of grad_output (sigma' > 0); nan in either
argument gives nan (a signalling nan comes back quiet).

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import sigmoid_backward
>>> sigmoid_backward(np.array([0.0, 2.0]), 1.0)
array([0.25      , 0.10499359])
>>> sigmoid_backward(np.float32(20.0), np.float32(1.0))  # not 0
np.float32(2.0611537e-09)

See also
--------
sigmoid, sigmoid_backward_from_output
""",
    "sigmoid_backward_from_output": r"""Gradient of the sigmoid times an incoming gradient, from the output.

.. math:: \mathrm{grad\_output} \cdot y (1 - y), \quad y = \sigma(x)

For callers that kept only y = sigma(x), as PyTorch's autograd does.

Parameters
----------
y : array_like
    Output of the forward pass, in [0, 1].
grad_output : array_like
    Gradient with respect to y; broadcast with `y`.
@PARAMS@
Returns
-------
grad_input : ndarray or scalar
    grad_output * y * (1 - y), of the broadcast shape.

Notes
-----
@DTYPES@
The product is exact to 1 ULP for the given y, but y itself carries
the rounding of the forward pass.  Where
sigma(x) is close to 1 that rounding is everything: in float32 y rounds
to exactly 1 for x > 17.33, where this function returns 0 while the
true gradient is about e^-x; for x > 8 or so fewer than half of the
digits of 1 - y are right.  Near 0 (x very negative) there is no such
loss.  Use :func:`sigmoid_backward` when the input x is available.
Values of y outside [0, 1] are accepted and give the same formula,
computed without an intermediate overflow: the result is infinite only
where the exact product is beyond the largest float.

Special values: y = 0 or y = 1 gives a zero (with the sign of
grad_output); an infinite grad_output there gives nan (inf * 0); a zero
grad_output gives the zero of the exact product's sign (that of -g for
y outside [0, 1], also at y = +-max); nan in either argument gives nan.

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import sigmoid, sigmoid_backward_from_output
>>> y = sigmoid(np.array([0.0, 2.0]))
>>> sigmoid_backward_from_output(y, 1.0)
array([0.25      , 0.10499359])
>>> sigmoid_backward_from_output(sigmoid(np.float32(20.0)), np.float32(1.0))
np.float32(0.0)

See also
--------
sigmoid_backward
""",
    "hard_sigmoid_backward": r"""Gradient of the hard sigmoid times an incoming gradient.

.. math:: \mathrm{grad\_output} / 6 \ \text{if}\ -3 < x < 3,\ \text{else}\ 0

Parameters
----------
x : array_like
    The input of the forward pass.
grad_output : array_like
    Gradient with respect to hard_sigmoid(x); broadcast with `x`.
@PARAMS@
Returns
-------
grad_input : ndarray or scalar
    Gradient with respect to `x`, of the broadcast shape.

Notes
-----
@DTYPES@
Special values: the result is grad_output times the derivative in IEEE
arithmetic.
At the kinks x = -3 and x = 3 the function has no derivative; as in
PyTorch's ``hardsigmoid_backward`` the derivative is taken on the open
interval (-3, 3), so it is 0 at the kinks.  Outside (-3, 3) the result
is a zero with the sign of grad_output, or nan where grad_output is
infinite or nan; nan in x gives nan.  (PyTorch returns +0 in all of
these cases.)

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import hard_sigmoid_backward
>>> hard_sigmoid_backward(np.array([-4.0, -3.0, 0.0, 3.0]), 6.0)
array([0., 0., 1., 0.])

See also
--------
hard_sigmoid
""",
    "silu_backward": r"""Gradient of SiLU times an incoming gradient.

.. math:: \mathrm{grad\_output} \cdot \sigma(x)\,(1 + x\,\sigma(-x))

silu'(x) changes sign at x0 = -1.2784645...; around x0 it is evaluated
from its Taylor series about x0, so it keeps full relative accuracy
where 1 + x sigma(-x) cancels.

Parameters
----------
x : array_like
    The input of the forward pass.
grad_output : array_like
    Gradient with respect to silu(x); broadcast with `x`.
@PARAMS@
Returns
-------
grad_input : ndarray or scalar
    Gradient with respect to `x`, of the broadcast shape.

Notes
-----
@DTYPES@
Special values: silu'(0) = 0.5, silu'(+inf) = 1, silu'(-inf) = 0 (an
infinite grad_output there gives nan); a zero grad_output gives the zero
of the exact product's sign (silu' < 0 for x below -1.2785); nan in
either argument gives nan (a signalling nan comes back quiet).

@ACCURACY@

Examples
--------
>>> import numpy as np
>>> from sigmoid import silu_backward
>>> silu_backward(np.array([0.0, 1.0]), 1.0)
array([0.5       , 0.92767051])

See also
--------
silu
""",
}


def docstring(name: str) -> str:
    """The docstring of ufunc `name` (NumPy prepends the call signature)."""
    return (_TEMPLATES[name].replace("@PARAMS@", _PARAMS).replace("@DTYPES@", _DTYPES)
            .replace("@ACCURACY@", _accuracy.ufunc_text(name)))
