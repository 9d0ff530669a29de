"""sigmoid.array_api: the family and the losses on NumPy, array-api-strict,
PyTorch (CPU), Dask and JAX arrays, against references that are not this
library: mpmath at 60 digits (tests/reference.py: ``exact``, ``ref_bce``,
``ref_focal``) for float64, and for float32 the float64 formulas of
``reference.fast32``, whose rounding to float32 is proven correct (mpmath
where it is not).

NumPy and Dask-of-NumPy arrays go to the compiled ufuncs and losses: they
must keep the ufuncs' documented bounds (sigmoid 1 ULP, the rest 2, the hard
sigmoid correctly rounded; losses as sigmoid._accuracy says).  Every other library computes with
its own operations: a few ULP (8) for well-conditioned inputs.  Every result
must give the right finite or infinite value for extreme inputs with no nan
and no floating-point flag (the conftest raises on every NumPy flag:
array-api-strict computes with NumPy), and keep the input's array type,
device and dtype.
"""
import doctest
import functools
import importlib
import math

import mpmath as mp
import numpy as np
import pytest

import reference as R
from sigmoid._accuracy import loss_bound

pytest.importorskip("array_api_compat", reason="array-api-compat is not installed (pip install array-api-compat)")
import array_api_compat as aac  # noqa: E402

A = importlib.import_module("sigmoid.array_api")

UNARY = ["sigmoid", "log_sigmoid", "softplus", "logit", "hard_sigmoid", "silu"]
BINARY = ["sigmoid_backward", "hard_sigmoid_backward", "silu_backward"]
DTYPES = ["float32", "float64"]
X0 = -1.2784645427610738  # the zero of silu'


# ------------------------------------------------------------- backends

class Backend:
    """Conversions between NumPy and one array library.

    ``ftz``: the library flushes subnormal results to zero (JAX on CPU, by
    design: jax-ml/jax#16200); its expected results are the correctly
    rounded ones flushed likewise (``expect``).  Subnormal inputs are not
    given to it (``usable``): XLA's float32 log of 2^-149 is -inf or
    -103.97 depending on the array's length, neither the input's log nor
    that of a flushed 0 consistently."""

    def __init__(self, name, to, back, dtype_of, ftz=False):
        self.name, self.to, self.back, self.dtype_of, self.ftz = name, to, back, dtype_of, ftz

    def __repr__(self):
        return self.name

    def expect(self, a):
        return _flush(a) if self.ftz else a

    def usable(self, x):
        x = np.asarray(x)
        return x[~(np.abs(x) < np.finfo(x.dtype).smallest_normal) | (x == 0)] if self.ftz else x


def _flush(a):
    """a with every subnormal replaced by a zero of its sign."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return a
    tiny = np.finfo(a.dtype).smallest_normal
    return np.where(np.abs(a) < tiny, np.copysign(np.zeros_like(a), a), a)


def _numpy():
    return Backend("numpy", lambda a: np.asarray(a), lambda a: np.asarray(a), lambda a: a.dtype.name)


def _strict():
    xps = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    return Backend("array_api_strict", xps.asarray, lambda a: np.from_dlpack(a), lambda a: str(a.dtype).split(".")[-1])


def _torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    return Backend("torch", lambda a: torch.from_numpy(np.array(a)), lambda a: a.detach().cpu().numpy(),
                   lambda a: str(a.dtype).split(".")[-1])


def _jax():
    jax = pytest.importorskip("jax", reason="JAX is not installed (pip install jax): its tests are skipped")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    return Backend("jax", jnp.asarray, np.asarray, lambda a: a.dtype.name, ftz=True)


BACKENDS = {"numpy": _numpy, "array_api_strict": _strict, "torch": _torch, "jax": _jax}


@pytest.fixture(params=list(BACKENDS))
def backend(request):
    return BACKENDS[request.param]()


def _same_kind(got, like, bk):
    """Result type, device and dtype equal those of the input."""
    assert type(got) is type(like), (type(got), type(like))
    assert aac.device(got) == aac.device(like)
    assert bk.dtype_of(got) == bk.dtype_of(like)


# ------------------------------------------------------------- samples

def _x(dtype, rng, n=4000):
    """Well-conditioned inputs of every magnitude the family cares about."""
    x = np.concatenate([rng.uniform(-40, 40, n), rng.standard_normal(n) * 3, [0.0, -0.0, 1.0, -1.0, 2.5, -2.5]])
    return x.astype(dtype)


def _p(dtype, rng, n=4000):
    lo = 7 if dtype == "float32" else 15
    p = np.concatenate([rng.uniform(0, 1, n), 0.5 + rng.standard_normal(n // 4) * 1e-3,
                        10 ** rng.uniform(-30, 0, n // 4), 1 - 10 ** rng.uniform(-lo, 0, n // 4),
                        [0.25, 0.5, 0.75, 0.5 + 2.0 ** -20]])
    p = p.astype(dtype)
    return p[(p > 0) & (p < 1)]


EXTREME = np.array([30.0, -30.0, 100.0, -100.0, 1e4, -1e4, np.inf, -np.inf, 0.0, -0.0])
EXTREME_P = np.array([0.0, 1.0, 1e-30, 2.0 ** -149, 0.5, 1 - 2.0 ** -24, 1 - 2.0 ** -53])


def _ulps(got, ref, dtype):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return np.abs(got - ref) / np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)


def _close(got, ref, **kw):
    # the comparison itself may underflow (rtol * tiny); the functions may not
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, ref, **kw)


def _call(name, a, g=None):
    f = getattr(A, name)
    return f(a) if g is None else f(a, g)


# ----------------------------------------------------------- references

# The bounds the docstrings of sigmoid.array_api state, in ULP from the
# correctly rounded value: NumPy arrays (and Dask arrays of NumPy blocks) get
# the compiled ufuncs' bounds, the other libraries "a few ULP".
UFUNC_BOUND = {"sigmoid": 1, "hard_sigmoid": 0, "hard_sigmoid_backward": 0}
GENERIC_BOUND = {"hard_sigmoid": 1, "hard_sigmoid_backward": 0}


# JAX's compiler (XLA) multiplies by the reciprocal of a constant divisor:
# g / 6 is within 1 ULP there, not correctly rounded (the docstring says so)
JAX_BOUND = {"hard_sigmoid_backward": 1}


def _bound(name, bk):
    if bk.name == "numpy":
        return UFUNC_BOUND.get(name, 2)
    if bk.name == "jax" and name in JAX_BOUND:
        return JAX_BOUND[name]
    return GENERIC_BOUND.get(name, 8)


@functools.lru_cache(maxsize=None)
def _ref_cached(name, dtype, *blobs):
    args = [np.frombuffer(b, dtype=dtype) for b in blobs]
    with np.errstate(all="ignore"):
        if dtype == "float32":
            return R.fast32(name, *args)
        return R.exact(name, *args, dtype=np.float64)


def _ref(name, x, g=None):
    """The correctly rounded value of function `name` (mpmath, or float64
    with a proven bound for float32), in x's dtype; never this library."""
    x = np.ascontiguousarray(x)
    args = (x,) if g is None else (x, np.ascontiguousarray(np.broadcast_to(np.asarray(g, x.dtype), x.shape)))
    return _ref_cached(name, x.dtype.name, *(a.tobytes() for a in args)).reshape(x.shape)


def _np_sigma(x):
    """sigma(x) in float64 from NumPy alone (a tolerance's scale, not a
    reference): exp(-log(1 + e^-x)), no overflow."""
    with np.errstate(all="ignore"):
        return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


def _mp_bce(x, y, w=1.0, p=1.0):
    """The exact per-element BCE with logits (mpmath), the limits at +-inf."""
    if math.isinf(x):
        # (1 - y) softplus(x) + p y softplus(-x): the infinite term, or 0
        # where its factor is 0
        factor = (1 - y) if x > 0 else p * y
        return mp.mpf(0) if factor == 0 or w == 0 else mp.inf
    return R.ref_bce(x, y, w, p)[0]


@functools.lru_cache(maxsize=None)
def _bce_ref_cached(dtype, xb, yb, wb, pb):
    x, y, w, p = (np.frombuffer(b, dtype=dtype) for b in (xb, yb, wb, pb))
    return [_mp_bce(*map(float, t)) for t in zip(x, y, w, p)]


def _rounded(vals, dtype, shape):
    return np.array([R.round_exact(v, dtype) for v in vals], dtype=dtype).reshape(shape)


def _bce_ref(x, y, weight=None, pos_weight=None):
    """(per-element values correctly rounded to x's dtype, their exact sum
    as an mpmath number)."""
    parts = [np.ascontiguousarray(np.broadcast_to(np.asarray(1.0 if a is None else a, x.dtype), x.shape)).ravel()
             for a in (x, y, weight, pos_weight)]
    vals = _bce_ref_cached(x.dtype.name, *(a.tobytes() for a in parts))
    with mp.workdps(60):
        total = mp.fsum(vals)
    return _rounded(vals, x.dtype, x.shape), total


@functools.lru_cache(maxsize=None)
def _focal_ref_cached(dtype, xb, yb, alpha, gamma):
    x, y = (np.frombuffer(b, dtype=dtype) for b in (xb, yb))
    return [R.ref_focal(float(a), float(b), alpha, gamma)[0] for a, b in zip(x, y)]


def _focal_ref(x, y, alpha, gamma):
    """(per-element values correctly rounded to x's dtype, their exact sum):
    torchvision's focal loss from the definitions (mpmath)."""
    vals = _focal_ref_cached(x.dtype.name, np.ascontiguousarray(x).tobytes(), np.ascontiguousarray(y).tobytes(),
                             -1.0 if alpha is None else float(alpha), float(gamma))
    with mp.workdps(60):
        total = mp.fsum(vals)
    return _rounded(vals, x.dtype, x.shape), total


def _assert_within(got, want, bound, what):
    """ULP distance of got from the correctly rounded want (both of one
    dtype; nan only where want is nan) at most `bound`."""
    got = np.asarray(got)
    d = R.ulp_distance(got, np.asarray(want, dtype=got.dtype))
    i = int(np.argmax(d))
    assert d.max() <= bound, f"{what}: {d.max()} ULP (bound {bound}) at element {i}: got {got.flat[i]!r}, " \
                             f"want {np.asarray(want).flat[i]!r}"


# ------------------------------------------------------------ accuracy

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_within_its_bound_of_the_correctly_rounded_value(backend, name, dtype):
    rng = np.random.default_rng(1)
    x = _p(dtype, rng) if name == "logit" else _x(dtype, rng)
    xa = backend.to(x)
    got = _call(name, xa)
    _same_kind(got, xa, backend)
    want = backend.expect(_ref(name, x))
    _assert_within(backend.back(got), want, _bound(name, backend), f"{name} {dtype} on {backend}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY)
def test_backward_within_its_bound_of_the_correctly_rounded_value(backend, name, dtype):
    rng = np.random.default_rng(2)
    x = _x(dtype, rng)
    g = rng.standard_normal(x.size).astype(dtype)
    xa, ga = backend.to(x), backend.to(g)
    got = _call(name, xa, ga)
    _same_kind(got, xa, backend)
    got = backend.back(got)
    ref = backend.expect(_ref(name, x, g)).astype(np.float64)
    err = np.abs(got.astype(np.float64) - ref)
    tol = _bound(name, backend) * np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    if name == "silu_backward" and backend.name != "numpy":
        # near its zero x0, silu' = sigma(x)(1 + x sigma(-x)) cancels: the
        # generic formula is accurate to a few ULP of g sigma(x) there
        tol = tol + 8 * np.spacing((np.abs(g) * _np_sigma(x)).astype(dtype)).astype(np.float64)
    bad = ~(err <= tol)
    assert not bad.any(), f"{name} {dtype} on {backend}: x = {x[bad][:5]}, got {got[bad][:5]}, want {ref[bad][:5]}"


@pytest.mark.parametrize("name", BINARY)
def test_backward_with_a_python_number(backend, name):
    x = np.array([-3.5, -1.0, 0.0, 0.5, 2.0, 40.0])
    xa = backend.to(x)
    want = backend.expect(_ref(name, x, 1.0))
    got = _call(name, xa, 1.0)
    _same_kind(got, xa, backend)
    _assert_within(backend.back(got), want, _bound(name, backend), f"{name} on {backend}")
    # the default grad_output is 1
    _assert_within(backend.back(getattr(A, name)(xa)), want, _bound(name, backend), f"{name}(x) on {backend}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY + BINARY)
def test_extreme_inputs(backend, name, dtype):
    """+-30, +-100, +-1e4, +-inf: the limits, no nan, no flag."""
    x = backend.usable((EXTREME_P if name == "logit" else EXTREME).astype(dtype))
    xa = backend.to(x)
    got = _call(name, xa) if name in UNARY else _call(name, xa, backend.to(np.ones_like(x)))
    _same_kind(got, xa, backend)
    got = backend.back(got)
    ref = backend.expect(_ref(name, x) if name in UNARY else _ref(name, x, np.ones_like(x)))
    assert not np.isnan(got).any(), f"{name} on {backend}: nan at {x[np.isnan(got)]}"
    # subnormal results (sigma(-100) in float32) may differ by a few of the
    # smallest steps; everything else a few ULP
    tiny = np.finfo(dtype).smallest_subnormal
    _close(got, ref, rtol=8 * np.finfo(dtype).eps, atol=8 * tiny)
    assert (np.isinf(got) == np.isinf(ref)).all()


def test_logit_outside_the_domain_is_nan(backend):
    p = np.array([-0.5, 1.5, -np.inf, np.inf, np.nan])
    got = backend.back(A.logit(backend.to(p)))
    assert np.isnan(got).all()


def test_nan_propagates(backend):
    x = np.array([np.nan, 1.0])
    for name in UNARY:
        assert np.isnan(backend.back(_call(name, backend.to(x)))[0]), name
    for name in BINARY:
        assert np.isnan(backend.back(_call(name, backend.to(x), 1.0))[0]), name


def test_logit_near_one_half_keeps_relative_accuracy(backend):
    # log(p) - log1p(-p) cancels here; the log1p form does not
    p = 0.5 + np.array([2.0 ** -30, -(2.0 ** -40), 3e-9, -1e-12])
    got = backend.back(A.logit(backend.to(p)))
    assert _ulps(got, _ref("logit", p), "float64").max() <= 4


def test_integers_promote_to_floating(backend):
    got = A.sigmoid(backend.to(np.array([0, 1, -2])))
    xp = aac.array_namespace(got)
    assert xp.isdtype(got.dtype, "real floating")
    if backend.name == "numpy":
        # NumPy arrays promote as numpy.exp does (the ufuncs)
        assert got.dtype == np.exp(np.array([0, 1, -2])).dtype
    _close(backend.back(got), _ref("sigmoid", np.array([0.0, 1.0, -2.0])), rtol=1e-6)


def test_numpy_0d_input_gives_an_array():
    got = A.sigmoid(np.asarray(0.0))
    assert type(got) is np.ndarray and got.shape == () and float(got) == 0.5


# -------------------------------------------------------------- losses

def _loss_data(dtype, rng, n=96):
    x = np.concatenate([rng.standard_normal(n) * 4, [0.0, 30.0, -30.0, 17.0, -17.0]]).astype(dtype)
    y = rng.uniform(0, 1, x.size)
    y[: x.size // 3] = 0.0
    y[x.size // 3: 2 * x.size // 3] = 1.0
    return x, rng.permutation(y).astype(dtype)


def _reduced_tol(dtype):
    return 1e-6 if dtype == "float32" else 1e-14


def _loss_bound(backend, loss="bce_with_logits"):
    # the docstrings: NumPy within the library's bound for any targets
    # (float64's, the larger), others a few ULP
    return loss_bound(loss, "any", "float64")[0] if backend.name == "numpy" else 8


def _reduced(total, n, reduction):
    return float(total / n) if reduction == "mean" else float(total)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weights", ["none", "arrays", "numbers"])
def test_bce_with_logits(backend, dtype, reduction, weights):
    rng = np.random.default_rng(3)
    x, y = _loss_data(dtype, rng)
    w = pw = None
    kw = {}
    if weights == "arrays":
        w = rng.uniform(0.5, 2, x.size).astype(dtype)
        pw = rng.uniform(0.5, 3, x.size).astype(dtype)
        kw = {"weight": backend.to(w), "pos_weight": backend.to(pw)}
    elif weights == "numbers":
        w, pw = 0.5, 3.0
        kw = {"weight": w, "pos_weight": pw}
    xa = backend.to(x)
    got = A.bce_with_logits(xa, backend.to(y), reduction=reduction, **kw)
    _same_kind(got, xa, backend)
    got = backend.back(got)
    per, total = _bce_ref(x, y, w, pw)
    if reduction == "none":
        assert got.shape == x.shape
        _assert_within(got, backend.expect(per), _loss_bound(backend), f"bce {dtype} on {backend}")
    else:
        assert got.shape == ()
        _close(got, _reduced(total, x.size, reduction), rtol=_reduced_tol(dtype))


def test_bce_pos_weight_along_the_last_axis(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 3))
    y = (rng.uniform(size=(6, 3)) > 0.5).astype(np.float64)
    pw = np.array([1.0, 2.0, 5.0])
    got = A.bce_with_logits(backend.to(x), backend.to(y), pos_weight=backend.to(pw), reduction="none")
    # the reference takes pos_weight broadcast by hand: column j weighs pw[j]
    _assert_within(backend.back(got), _bce_ref(x, y, None, np.broadcast_to(pw, x.shape))[0],
                   _loss_bound(backend), f"bce with a row of pos_weight on {backend}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_extreme_logits(backend, dtype):
    x = np.repeat(EXTREME, 3).astype(dtype)
    y = np.tile([0.0, 1.0, 0.3], EXTREME.size).astype(dtype)
    got = backend.back(A.bce_with_logits(backend.to(x), backend.to(y), reduction="none"))
    ref = backend.expect(_bce_ref(x, y)[0])
    assert not np.isnan(got).any()
    _close(got, ref, rtol=8 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).smallest_subnormal)
    assert (np.isinf(got) == np.isinf(ref)).all()


def _focal_tol(x, y, gamma, dtype):
    """A few ULP times the condition number 1 + gamma |log(1 - p_t)| of the
    log-space factor."""
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        one_minus_pt = y * _np_sigma(-x) + (1 - y) * _np_sigma(x)
        cond = 1 + gamma * np.abs(np.log(one_minus_pt))
    return 8 * np.finfo(dtype).eps * cond


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (None, 0.5), (0.75, 0.0), (None, 0.0)])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_sigmoid_focal_loss(backend, dtype, alpha, gamma, reduction):
    rng = np.random.default_rng(5)
    x, y = _loss_data(dtype, rng)
    xa = backend.to(x)
    got = A.sigmoid_focal_loss(xa, backend.to(y), alpha=alpha, gamma=gamma, reduction=reduction)
    _same_kind(got, xa, backend)
    got = backend.back(got)
    per, total = _focal_ref(x, y, alpha, gamma)
    if reduction == "none":
        if backend.name == "numpy":
            _assert_within(got, per, 4, f"focal {dtype} on numpy")
        per = backend.expect(per).astype(np.float64)
        rel = np.abs(got.astype(np.float64) - per) / np.maximum(np.abs(per), np.finfo(dtype).tiny)
        tol = _focal_tol(x, y, gamma, dtype)
        assert (rel <= tol).all(), f"{backend} {dtype}: worst at x = {x[np.argmax(rel / tol)]}"
    else:
        _close(got, float(total), rtol=_reduced_tol(dtype) * (1 + 20 * gamma))


@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_extreme_logits(backend, dtype):
    finite = EXTREME[np.isfinite(EXTREME)]
    x = np.repeat(np.concatenate([finite, [1e9, -1e9]]), 3).astype(dtype)
    y = np.tile([0.0, 1.0, 0.3], x.size // 3).astype(dtype)
    got = backend.back(A.sigmoid_focal_loss(backend.to(x), backend.to(y), reduction="none"))
    ref = backend.expect(_focal_ref(x, y, 0.25, 2.0)[0])
    assert not np.isnan(got).any()
    _close(got, ref, rtol=64 * np.finfo(dtype).eps, atol=8 * np.finfo(dtype).smallest_subnormal)
    assert (np.isinf(got) == np.isinf(ref)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_infinite_logits_give_the_limits(backend, dtype):
    x = np.array([-np.inf, np.inf, np.inf, -np.inf, np.inf, -np.inf], dtype=dtype)
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.3], dtype=dtype)
    got = backend.back(A.sigmoid_focal_loss(backend.to(x), backend.to(y), alpha=0.25, gamma=2.0))
    np.testing.assert_array_equal(got, [0.0, 0.0, np.inf, np.inf, np.inf, np.inf])


@pytest.mark.parametrize("alpha", [None, 0.75])
def test_focal_with_gamma_0_is_alpha_t_times_bce(backend, alpha):
    """gamma = 0 drops the focusing factor: the loss is alpha_t BCE (BCE
    itself without alpha), checked against the BCE of the definitions (not
    against this library's BCE, which the NumPy path shares a kernel with)."""
    rng = np.random.default_rng(6)
    x, y = _loss_data("float64", rng)
    xa, ya = backend.to(x), backend.to(y)
    f = backend.back(A.sigmoid_focal_loss(xa, ya, alpha=alpha, gamma=0.0))
    at = 1.0 if alpha is None else alpha * y + (1 - alpha) * (1 - y)
    want = backend.expect(_bce_ref(x, y, at)[0])
    _assert_within(f, want, _loss_bound(backend, "sigmoid_focal_loss"), f"focal(gamma=0, alpha={alpha}) on {backend}")


def test_loss_argument_errors(backend):
    x = backend.to(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="same shape"):
        A.bce_with_logits(x, backend.to(np.zeros(4)))
    with pytest.raises(ValueError, match="reduction"):
        A.bce_with_logits(x, backend.to(np.zeros((4, 1))), reduction="avg")
    with pytest.raises(ValueError, match="gamma"):
        A.sigmoid_focal_loss(x, backend.to(np.zeros((4, 1))), gamma=-1.0)
    with pytest.raises(ValueError, match="weight"):
        A.bce_with_logits(x, backend.to(np.zeros((4, 1))), weight=backend.to(np.ones(3)))


# ---------------------------------------------------------- mixed types

def test_mixed_array_types_raise_naming_both():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x = np.zeros(3)
    t = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"numpy\.ndarray.*torch\.Tensor"):
        A.sigmoid_backward(x, t)
    with pytest.raises(TypeError, match=r"torch\.Tensor.*numpy\.ndarray"):
        A.silu_backward(t, x)
    with pytest.raises(TypeError, match=r"torch\.Tensor.*numpy\.ndarray"):
        A.bce_with_logits(t, x)
    with pytest.raises(TypeError, match=r"torch\.Tensor.*numpy\.ndarray"):
        A.bce_with_logits(t, t, weight=x)
    with pytest.raises(TypeError, match=r"torch\.Tensor.*numpy\.ndarray"):
        A.sigmoid_focal_loss(t, x)


def test_mixed_strict_and_numpy_raise():
    xps = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    with pytest.raises(TypeError, match=r"array_api_strict\..*Array.*numpy\.ndarray"):
        A.hard_sigmoid_backward(xps.zeros(3), np.zeros(3))


def test_non_arrays_raise():
    with pytest.raises(TypeError, match="must be an array"):
        A.sigmoid(1.0)
    with pytest.raises(TypeError, match="not an array"):
        A.sigmoid("x")


# ----------------------------------------------------------------- torch

def test_torch_results_are_differentiable():
    """On tensors the generic formulas are torch operations: autograd
    differentiates them (d softplus = sigma)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    x = torch.linspace(-20, 20, 81, dtype=torch.float64, requires_grad=True)
    A.softplus(x).sum().backward()
    _close(x.grad.numpy(), _ref("sigmoid", x.detach().numpy()), rtol=1e-14, atol=1e-300)


def test_torch_float16_and_bfloat16_are_kept():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    for dt in (torch.float16, torch.bfloat16):
        x = torch.tensor([-1e4, -3.0, 0.0, 3.0, 1e4], dtype=dt)
        for name in UNARY:
            got = _call(name, x if name != "logit" else torch.sigmoid(x))
            assert got.dtype == dt, name


# ------------------------------------------------------------------ dask

def _lazy_dask(x, counter, chunks):
    """A Dask array whose data come from a task that counts its runs."""
    dask = pytest.importorskip("dask", reason="Dask is not installed")
    import dask.array as da

    def make():
        counter.append(1)
        return x

    return da.from_delayed(dask.delayed(make)(), shape=x.shape, dtype=x.dtype).rechunk(chunks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dask_stays_lazy(dtype):
    pytest.importorskip("dask", reason="Dask is not installed")
    import dask.array as da

    rng = np.random.default_rng(7)
    x = _x(dtype, rng, 500)
    p = _p(dtype, rng, 500)[: x.size]
    p = np.concatenate([p, np.full(x.size - p.size, 0.5, dtype)])
    g = rng.standard_normal(x.size).astype(dtype)
    _, y = _loss_data(dtype, rng, x.size - 5)
    runs = []
    xd, pd, gd, yd = (_lazy_dask(a, runs, 250) for a in (x, p, g, y))
    results = {name: _call(name, pd if name == "logit" else xd) for name in UNARY}
    results.update({name: _call(name, xd, gd) for name in BINARY})
    results["bce"] = A.bce_with_logits(xd, yd, reduction="none")
    results["bce_mean"] = A.bce_with_logits(xd, yd, weight=gd * 0 + 2, reduction="mean")
    results["focal"] = A.sigmoid_focal_loss(xd, yd, reduction="none")
    results["bce_numbers"] = A.bce_with_logits(xd, yd, weight=0.5, pos_weight=3.0, reduction="none")
    for name, r in results.items():
        assert isinstance(r, da.Array), name
        assert r.dtype == np.dtype(dtype), name
    assert runs == [], "a function computed its Dask input before being asked"
    computed = dict(zip(results, da.compute(*results.values())))
    assert runs, "the inputs were never computed"
    # Dask arrays of NumPy blocks take the ufuncs, block by block: the
    # ufuncs' bounds, element by element, against the references
    numpy_like = Backend("numpy", None, None, None)
    for name in UNARY:
        _assert_within(computed[name], _ref(name, p if name == "logit" else x), _bound(name, numpy_like),
                       f"{name} on Dask")
    for name in BINARY:
        _assert_within(computed[name], _ref(name, x, g), _bound(name, numpy_like), f"{name} on Dask")
    per, total = _bce_ref(x, y)
    _assert_within(computed["bce"], per, 4, "bce on Dask")
    _close(computed["bce_mean"], float(2 * total / x.size), rtol=1e-6)
    _assert_within(computed["focal"], _focal_ref(x, y, 0.25, 2.0)[0], 4, "focal on Dask")
    assert computed["bce_numbers"].dtype == np.dtype(dtype)
    _assert_within(computed["bce_numbers"], _bce_ref(x, y, 0.5, 3.0)[0], 4, "bce(weights) on Dask")


# -------------------------------------------------------------- doctests

@pytest.mark.parametrize("name", A.__all__)
def test_docstrings(name):
    pytest.importorskip("array_api_strict", reason="the examples use array-api-strict")
    f = getattr(A, name)
    doc = f.__doc__
    assert doc.split("\n")[0].strip().endswith(".")
    for section in ("Parameters", "Returns", "Notes", "Examples", "See also"):
        assert f"\n    {section}\n    {'-' * len(section)}\n" in doc, section
    assert ".. math::" in doc and "Special values" in doc and "Accuracy" in doc
    test = doctest.DocTestParser().get_doctest(doc, {}, name, None, 0)
    # an example that shows no output checks nothing: at least one must
    assert any(e.want.strip() for e in test.examples), f"{name}: no example shows its result"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_one_public_path():
    """sigmoid.array_api is the public name of sigmoid.interop.array_api:
    the same objects, one list of names, one documentation; each object
    names the public module."""
    impl = importlib.import_module("sigmoid.interop.array_api")
    assert A.__all__ is impl.__all__ and A.__doc__ is impl.__doc__
    assert sorted(n for n in vars(A) if not n.startswith("_")) == sorted(A.__all__)
    for name in A.__all__:
        f = getattr(A, name)
        assert f is getattr(impl, name) and f.__module__ == "sigmoid.array_api", name
