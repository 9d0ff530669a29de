/* Docstrings of the ufuncs (NumPy prepends the call signature). */
#ifndef SIGMOID_DOCS_H
#define SIGMOID_DOCS_H

#define DOC_COMMON_PARAMS                                                      \
    "out : ndarray, None, or tuple of ndarray and None, optional\n"            \
    "    Where to write the result, as for any ufunc.\n"                       \
    "where : array_like, optional\n"                                           \
    "    Where False, `out` keeps its value, as for any ufunc.\n"              \
    "**kwargs\n"                                                               \
    "    ``dtype``, ``casting``, ``order``, ``subok``, ``signature``: as for\n" \
    "    any ufunc.\n"

#define DOC_DTYPES                                                             \
    "Loops exist for float16, float32 and float64; the result has the\n"       \
    "dtype of the (promoted) input.  Integer and bool inputs promote as for\n" \
    ":data:`numpy.exp` (int8 and bool to float16, int16 to float32, wider\n"   \
    "integers to float64); complex, object, string and datetime inputs\n"     \
    "raise ``TypeError``.\n"

#define DOC_SIGMOID                                                            \
    "Logistic sigmoid, elementwise.\n"                                         \
    "\n"                                                                       \
    ".. math:: \\sigma(x) = \\frac{1}{1 + e^{-x}}\n"                           \
    "\n"                                                                       \
    "Also exported as ``expit``.\n"                                            \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    Input of any shape.\n"                                                \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "y : ndarray or scalar\n"                                                  \
    "    sigma(x), in the open interval (0, 1) wherever it is not rounded to\n" \
    "    0 or 1; same shape as `x`.\n"                                         \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: sigma(+-0) = 0.5, sigma(+inf) = 1, sigma(-inf) = +0,\n"   \
    "sigma(nan) = nan.  Results that are subnormal numbers (x between about\n" \
    "-103.97 and -87.34 in float32, -745.13 and -708.40 in float64) are\n"    \
    "computed, not flushed to zero.  No floating-point warning is raised\n"    \
    "for any input.\n"                                                         \
    "\n"                                                                       \
    "Accuracy: at most 1 ULP from the correctly rounded result in float32\n"   \
    "(checked on all 2**32 inputs) and float64; correctly rounded in\n"       \
    "float16 (all 65,536 inputs).\n"                                           \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import sigmoid\n"                                        \
    ">>> sigmoid(np.array([-1.0, 0.0, 1.0]))\n"                                \
    "array([0.26894142, 0.5       , 0.73105858])\n"                            \
    ">>> sigmoid(np.float32(-100.0))  # subnormal, not 0\n"                    \
    "np.float32(3.8e-44)\n"                                                      \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "sigmoid_backward, log_sigmoid, logit, hard_sigmoid, scipy.special.expit\n"

#define DOC_SIGMOID_BACKWARD                                                   \
    "Gradient of the sigmoid times an incoming gradient, from the input.\n"    \
    "\n"                                                                       \
    ".. math:: \\mathrm{grad\\_output} \\cdot \\sigma(x)\\,\\sigma(-x)\n"      \
    "\n"                                                                       \
    "sigma'(x) = sigma(x) (1 - sigma(x)) = sigma(x) sigma(-x).  The second\n"  \
    "form keeps full relative accuracy where sigma(x) rounds to 1: in\n"      \
    "float32, 1 - sigma(x) is 0 for x > 17.33 although sigma'(x) is about\n"  \
    "e^-x there.\n"                                                            \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    The input of the forward pass.\n"                                     \
    "grad_output : array_like\n"                                               \
    "    Gradient of the loss with respect to sigma(x); broadcast with `x`.\n" \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "grad_input : ndarray or scalar\n"                                         \
    "    Gradient with respect to `x`, of the broadcast shape.\n"              \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: sigma'(0) = 0.25 is the maximum; sigma'(+-inf) = 0, so\n" \
    "an infinite grad_output there gives nan (0 * inf); nan in either\n"      \
    "argument gives nan.\n"                                                    \
    "\n"                                                                       \
    "Accuracy: at most 2 ULP in float32 and float64; correctly rounded in\n"   \
    "float16.\n"                                                               \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import sigmoid_backward\n"                               \
    ">>> sigmoid_backward(np.array([0.0, 2.0]), 1.0)\n"                        \
    "array([0.25      , 0.10499359])\n"                                        \
    ">>> sigmoid_backward(np.float32(20.0), np.float32(1.0))  # not 0\n"       \
    "np.float32(2.0611537e-09)\n"                                              \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "sigmoid, sigmoid_backward_from_output\n"

#define DOC_SIGMOID_BACKWARD_FROM_OUTPUT                                       \
    "Gradient of the sigmoid times an incoming gradient, from the output.\n"   \
    "\n"                                                                       \
    ".. math:: \\mathrm{grad\\_output} \\cdot y (1 - y), \\quad y = \\sigma(x)\n" \
    "\n"                                                                       \
    "For callers that kept only y = sigma(x), as PyTorch's autograd does.\n"   \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "y : array_like\n"                                                         \
    "    Output of the forward pass, in [0, 1].\n"                             \
    "grad_output : array_like\n"                                               \
    "    Gradient with respect to y; broadcast with `y`.\n"                    \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "grad_input : ndarray or scalar\n"                                         \
    "    grad_output * y * (1 - y), of the broadcast shape.\n"                 \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "The product is exact to 1 ULP for the given y, but y itself carries\n"   \
    "the rounding of the forward pass.  Where\n"                              \
    "sigma(x) is close to 1 that rounding is everything: in float32 y rounds\n" \
    "to exactly 1 for x > 17.33, where this function returns 0 while the\n"   \
    "true gradient is about e^-x; for x > 8 or so fewer than half of the\n"   \
    "digits of 1 - y are right.  Near 0 (x very negative) there is no such\n" \
    "loss.  Use :func:`sigmoid_backward` when the input x is available.\n"     \
    "Values of y outside [0, 1] are accepted and give the same formula.\n"    \
    "\n"                                                                       \
    "Special values: y = 0 or y = 1 gives a zero (with the sign of\n"         \
    "grad_output); an infinite grad_output there gives nan (inf * 0); nan in\n" \
    "either argument gives nan.\n"                                             \
    "\n"                                                                       \
    "Accuracy: at most 1 ULP from grad_output * y * (1 - y) for the given y\n" \
    "in float32 and float64; correctly rounded in float16.\n"                 \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import sigmoid, sigmoid_backward_from_output\n"          \
    ">>> y = sigmoid(np.array([0.0, 2.0]))\n"                                  \
    ">>> sigmoid_backward_from_output(y, 1.0)\n"                               \
    "array([0.25      , 0.10499359])\n"                                        \
    ">>> sigmoid_backward_from_output(sigmoid(np.float32(20.0)), np.float32(1.0))\n" \
    "np.float32(0.0)\n"                                                        \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "sigmoid_backward\n"

#define DOC_LOG_SIGMOID                                                        \
    "Logarithm of the sigmoid, elementwise.\n"                                 \
    "\n"                                                                       \
    ".. math:: \\log\\sigma(x) = -\\log(1 + e^{-x}) = -\\mathrm{softplus}(-x)\n" \
    "\n"                                                                       \
    "Computed without forming sigma(x), so it stays exact where sigma(x)\n"    \
    "underflows (log_sigmoid(-1000) = -1000) and where it rounds to 1\n"       \
    "(log_sigmoid(40) = -4.25e-18).\n"                                         \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    Input of any shape.\n"                                                \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "y : ndarray or scalar\n"                                                  \
    "    log(sigma(x)) <= 0, same shape as `x`.\n"                             \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: log_sigmoid(0) = -log(2), log_sigmoid(+inf) = -0,\n"      \
    "log_sigmoid(-inf) = -inf, log_sigmoid(nan) = nan.\n"                      \
    "\n"                                                                       \
    "Accuracy: at most 2 ULP in float32 and float64; correctly rounded in\n"   \
    "float16.\n"                                                               \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import log_sigmoid\n"                                    \
    ">>> log_sigmoid(np.array([-1000.0, 0.0, 40.0]))\n"                        \
    "array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])\n"             \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "softplus, sigmoid, scipy.special.log_expit\n"

#define DOC_SOFTPLUS                                                           \
    "Softplus, elementwise.\n"                                                 \
    "\n"                                                                       \
    ".. math:: \\mathrm{softplus}(x) = \\log(1 + e^{x})\n"                     \
    "\n"                                                                       \
    "A smooth max(x, 0) whose derivative is sigma(x); computed as\n"           \
    "``max(x, 0) + log1p(exp(-abs(x)))``, without overflow for large x and with full\n"  \
    "relative accuracy for very negative x, where it equals e^x.\n"            \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    Input of any shape.\n"                                                \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "y : ndarray or scalar\n"                                                  \
    "    log(1 + exp(x)) >= 0, same shape as `x`.\n"                           \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "This is the exact function; PyTorch's ``F.softplus`` returns x itself\n"  \
    "above a threshold (20 by default), which differs from log(1 + e^x) by\n"  \
    "up to 2e-9.\n"                                                            \
    "\n"                                                                       \
    "Special values: softplus(0) = log(2), softplus(+inf) = +inf,\n"           \
    "softplus(-inf) = +0, softplus(nan) = nan; subnormal results for very\n"   \
    "negative x are computed, not flushed to zero.\n"                          \
    "\n"                                                                       \
    "Accuracy: at most 2 ULP in float32 and float64; correctly rounded in\n"   \
    "float16.\n"                                                               \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import softplus\n"                                       \
    ">>> softplus(np.array([-50.0, 0.0, 1000.0]))\n"                           \
    "array([1.92874985e-22, 6.93147181e-01, 1.00000000e+03])\n"                \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "log_sigmoid, sigmoid, numpy.logaddexp\n"

#define DOC_LOGIT                                                              \
    "Logit, the inverse of the sigmoid, elementwise.\n"                        \
    "\n"                                                                       \
    ".. math:: \\mathrm{logit}(p) = \\log\\frac{p}{1 - p}\n"                    \
    "\n"                                                                       \
    "Accurate near p = 0.5, where the naive formula cancels: logit(p) is\n"   \
    "computed from log(p) and log(1 - p) in extended precision, with the\n"   \
    "powers of two of both logarithms cancelling exactly.\n"                   \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "p : array_like\n"                                                         \
    "    Probabilities in [0, 1].\n"                                           \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "x : ndarray or scalar\n"                                                  \
    "    log(p / (1 - p)), same shape as `p`.\n"                               \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: logit(0) = -inf, logit(1) = +inf, logit(0.5) = 0; p\n"    \
    "outside [0, 1] and nan give nan, without a warning.\n"                    \
    "\n"                                                                       \
    "Accuracy: at most 2 ULP in float32 and float64; correctly rounded in\n"   \
    "float16.\n"                                                               \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import logit, sigmoid\n"                                 \
    ">>> logit(np.array([0.0, 0.25, 0.5, 1.0]))\n"                             \
    "array([       -inf, -1.09861229,  0.        ,         inf])\n"            \
    ">>> p = 0.5 + 2.0**-30  # logit(p) = 4 * 2**-30 to 17 digits\n"            \
    ">>> float(logit(p)), float(np.log(p / (1 - p)))\n"                        \
    "(3.725290298461914e-09, 3.72529029152302e-09)\n"                          \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "sigmoid, scipy.special.logit\n"

#define DOC_HARD_SIGMOID                                                       \
    "Hard sigmoid, elementwise.\n"                                             \
    "\n"                                                                       \
    ".. math:: \\mathrm{hard\\_sigmoid}(x) = \\min(\\max(x/6 + 1/2, 0), 1)\n"  \
    "\n"                                                                       \
    "The piecewise-linear sigmoid of PyTorch (``F.hardsigmoid``), JAX\n"       \
    "(``jax.nn.hard_sigmoid``) and Keras 3: 0 for x <= -3, 1 for x >= 3.\n"    \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    Input of any shape.\n"                                                \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "y : ndarray or scalar\n"                                                  \
    "    Values in [0, 1], same shape as `x`.\n"                               \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: hard_sigmoid(0) = 0.5, hard_sigmoid(-inf) = 0,\n"         \
    "hard_sigmoid(+inf) = 1, hard_sigmoid(nan) = nan.\n"                        \
    "\n"                                                                       \
    "Accuracy: correctly rounded in every dtype ((x + 3)/6 is computed with\n" \
    "one rounding).\n"                                                         \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import hard_sigmoid\n"                                   \
    ">>> hard_sigmoid(np.array([-4.0, -1.5, 0.0, 1.5, 4.0]))\n"                \
    "array([0.  , 0.25, 0.5 , 0.75, 1.  ])\n"                                  \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "hard_sigmoid_backward, sigmoid\n"

#define DOC_HARD_SIGMOID_BACKWARD                                              \
    "Gradient of the hard sigmoid times an incoming gradient.\n"               \
    "\n"                                                                       \
    ".. math:: \\mathrm{grad\\_output} / 6 \\ \\text{if}\\ -3 < x < 3,\\ \\text{else}\\ 0\n" \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    The input of the forward pass.\n"                                     \
    "grad_output : array_like\n"                                               \
    "    Gradient with respect to hard_sigmoid(x); broadcast with `x`.\n"      \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "grad_input : ndarray or scalar\n"                                         \
    "    Gradient with respect to `x`, of the broadcast shape.\n"              \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: the result is grad_output times the derivative in IEEE\n" \
    "arithmetic.\n"                                                          \
    "At the kinks x = -3 and x = 3 the function has no derivative; as in\n"   \
    "PyTorch's ``hardsigmoid_backward`` the derivative is taken on the open\n" \
    "interval (-3, 3), so it is 0 at the kinks.  Outside (-3, 3) the result\n" \
    "is a zero with the sign of grad_output, or nan where grad_output is\n"  \
    "infinite or nan; nan in x gives nan.  (PyTorch returns +0 in all of\n"  \
    "these cases.)\n"                                                       \
    "\n"                                                                    \
    "Accuracy: correctly rounded (one division by 6).\n"                        \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import hard_sigmoid_backward\n"                          \
    ">>> hard_sigmoid_backward(np.array([-4.0, -3.0, 0.0, 3.0]), 6.0)\n"        \
    "array([0., 0., 1., 0.])\n"                                                \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "hard_sigmoid\n"

#define DOC_SILU                                                               \
    "SiLU (swish), elementwise.\n"                                             \
    "\n"                                                                       \
    ".. math:: \\mathrm{silu}(x) = x\\,\\sigma(x) = \\frac{x}{1 + e^{-x}}\n"  \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    Input of any shape.\n"                                                \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "y : ndarray or scalar\n"                                                  \
    "    x * sigma(x), same shape as `x`.\n"                                   \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: silu(+-0) = +-0, silu(+inf) = +inf, silu(-inf) = -0\n"    \
    "(the limit; x * sigma(x) evaluated naively gives nan there),\n"          \
    "silu(nan) = nan.\n"                                                       \
    "\n"                                                                       \
    "Accuracy: at most 2 ULP in float32 and float64; correctly rounded in\n"   \
    "float16.\n"                                                               \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import silu\n"                                           \
    ">>> silu(np.array([-np.inf, -1.0, 0.0, 1.0]))\n"                          \
    "array([-0.        , -0.26894142,  0.        ,  0.73105858])\n"           \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "silu_backward, sigmoid\n"

#define DOC_SILU_BACKWARD                                                      \
    "Gradient of SiLU times an incoming gradient.\n"                           \
    "\n"                                                                       \
    ".. math:: \\mathrm{grad\\_output} \\cdot \\sigma(x)\\,(1 + x\\,\\sigma(-x))\n" \
    "\n"                                                                       \
    "silu'(x) changes sign at x0 = -1.2784645...; around x0 it is evaluated\n" \
    "from its Taylor series about x0, so it keeps full relative accuracy\n"    \
    "where 1 + x sigma(-x) cancels.\n"                                         \
    "\n"                                                                       \
    "Parameters\n"                                                             \
    "----------\n"                                                             \
    "x : array_like\n"                                                         \
    "    The input of the forward pass.\n"                                     \
    "grad_output : array_like\n"                                               \
    "    Gradient with respect to silu(x); broadcast with `x`.\n"              \
    DOC_COMMON_PARAMS                                                          \
    "\n"                                                                       \
    "Returns\n"                                                                \
    "-------\n"                                                                \
    "grad_input : ndarray or scalar\n"                                         \
    "    Gradient with respect to `x`, of the broadcast shape.\n"              \
    "\n"                                                                       \
    "Notes\n"                                                                  \
    "-----\n"                                                                  \
    DOC_DTYPES                                                                 \
    "\n"                                                                       \
    "Special values: silu'(0) = 0.5, silu'(+inf) = 1, silu'(-inf) = 0 (an\n"   \
    "infinite grad_output there gives nan); nan in either argument gives\n"   \
    "nan.\n"                                                                   \
    "\n"                                                                       \
    "Accuracy: at most 2 ULP in float32 and float64; correctly rounded in\n"   \
    "float16.\n"                                                               \
    "\n"                                                                       \
    "Examples\n"                                                               \
    "--------\n"                                                               \
    ">>> import numpy as np\n"                                                 \
    ">>> from sigmoid import silu_backward\n"                                  \
    ">>> silu_backward(np.array([0.0, 1.0]), 1.0)\n"                           \
    "array([0.5       , 0.92767051])\n"                                        \
    "\n"                                                                       \
    "See also\n"                                                               \
    "--------\n"                                                               \
    "silu\n"

#endif
