"""The standard matrix of extreme inputs: signed zeros, infinities, NaN,
subnormals, the overflow edges and huge logits, in every dtype; exact
expected values, and no floating-point warning for any of them (the suite
runs under np.errstate(all="raise") and with warnings as errors)."""
import math

import numpy as np
import pytest

import reference as R
import sigmoid as S

FLOATS = [np.float16, np.float32, np.float64]
inf, nan = np.inf, np.nan


def same(got, want):
    """Equal including the sign of zero; NaN equals NaN."""
    got, want = np.asarray(got), np.asarray(want, dtype=np.asarray(got).dtype)
    both_nan = np.isnan(got) & np.isnan(want)
    equal = (got == want) & (np.signbit(got) == np.signbit(want))
    return bool(np.all(both_nan | equal))


CASES = {
    "sigmoid": [(0.0, 0.5), (-0.0, 0.5), (inf, 1.0), (-inf, 0.0), (nan, nan), (1e4, 1.0), (-1e4, 0.0)],
    "log_sigmoid": [(0.0, -math.log(2)), (inf, -0.0), (-inf, -inf), (nan, nan), (-1e4, -1e4), (1e4, -0.0)],
    "softplus": [(0.0, math.log(2)), (inf, inf), (-inf, 0.0), (nan, nan), (1e4, 1e4), (-1e4, 0.0)],
    "logit": [(0.0, -inf), (-0.0, -inf), (1.0, inf), (0.5, 0.0), (nan, nan), (1.5, nan), (-0.25, nan),
              (inf, nan), (-inf, nan)],
    "hard_sigmoid": [(0.0, 0.5), (-0.0, 0.5), (3.0, 1.0), (-3.0, 0.0), (inf, 1.0), (-inf, 0.0), (nan, nan),
                     (1.5, 0.75), (-1.5, 0.25)],
    "silu": [(0.0, 0.0), (-0.0, -0.0), (inf, inf), (-inf, -0.0), (nan, nan), (-1e4, -0.0), (1e4, 1e4)],
}

CASES2 = {
    "sigmoid_backward": [((0.0, 1.0), 0.25), ((-0.0, 1.0), 0.25), ((inf, 1.0), 0.0), ((-inf, 1.0), 0.0),
                         ((inf, inf), nan), ((-inf, -inf), nan), ((0.0, inf), inf), ((1.0, -inf), -inf),
                         ((nan, 1.0), nan), ((0.0, nan), nan), ((1e4, 1.0), 0.0), ((-1e4, 2.0), 0.0),
                         ((0.0, -4.0), -1.0), ((1e4, -1.0), -0.0)],
    "sigmoid_backward_from_output": [((0.5, 1.0), 0.25), ((0.0, 1.0), 0.0), ((1.0, 1.0), 0.0),
                                     ((1.0, inf), nan), ((0.5, inf), inf), ((nan, 1.0), nan),
                                     ((0.5, nan), nan), ((0.0, -1.0), -0.0), ((-0.0, 1.0), 0.0),
                                     ((-0.0, -1.0), -0.0), ((1.0, -1.0), -0.0)],
    "hard_sigmoid_backward": [((0.0, 6.0), 1.0), ((-3.0, 6.0), 0.0), ((3.0, 6.0), 0.0), ((-3.0, -6.0), -0.0),
                              ((4.0, inf), nan), ((nan, 1.0), nan), ((0.0, nan), nan), ((inf, 1.0), 0.0),
                              ((1.0, inf), inf), ((-inf, -2.0), -0.0)],
    "silu_backward": [((0.0, 1.0), 0.5), ((-0.0, 2.0), 1.0), ((inf, 1.0), 1.0), ((-inf, 1.0), 0.0),
                      ((inf, inf), inf), ((-inf, inf), nan), ((nan, 1.0), nan), ((0.0, nan), nan),
                      ((1e4, 3.0), 3.0), ((-1e4, 3.0), -0.0), ((0.0, -inf), -inf)],
}


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("name", list(CASES))
def test_special_values_unary(name, dt):
    f = getattr(S, name)
    x = np.array([c[0] for c in CASES[name]], dtype=dt)
    want = np.array([c[1] for c in CASES[name]], dtype=dt)
    got = f(x)
    for i in range(x.size):
        assert same(got[i], want[i]), f"{name}({x[i]!r}) = {got[i]!r}, want {want[i]!r}"
        # scalars and the strided/tail paths agree with the vector result
        assert same(f(x[i]), want[i])


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("name", list(CASES2))
def test_special_values_gradients(name, dt):
    f = getattr(S, name)
    x = np.array([c[0][0] for c in CASES2[name]], dtype=dt)
    g = np.array([c[0][1] for c in CASES2[name]], dtype=dt)
    want = np.array([c[1] for c in CASES2[name]], dtype=dt)
    got = f(x, g)
    for i in range(x.size):
        assert same(got[i], want[i]), f"{name}({x[i]!r}, {g[i]!r}) = {got[i]!r}, want {want[i]!r}"


@pytest.mark.parametrize("dt", FLOATS)
def test_subnormal_inputs(dt):
    tiny = np.array([np.finfo(dt).smallest_subnormal, -np.finfo(dt).smallest_subnormal,
                     np.finfo(dt).smallest_normal * 0.5], dtype=dt)
    assert np.all(S.sigmoid(tiny) == dt(0.5))
    assert np.all(S.softplus(tiny) == dt(math.log(2)))
    assert np.all(S.log_sigmoid(tiny) == dt(-math.log(2)))
    # silu(x) = x/2 + x^2/4: within its 2-ULP bound (the x^2/4 that breaks the
    # tie of x/2 at the smallest subnormals is below every float32 operation)
    assert R.ulp_distance(S.silu(tiny), R.exact("silu", tiny.astype(np.float64), dtype=dt)).max() <= 1
    assert np.all(S.hard_sigmoid(tiny) == dt(0.5))
    assert np.all(S.sigmoid_backward(tiny, dt(1)) == dt(0.25))
    assert np.all(S.silu_backward(tiny, dt(1)) == dt(0.5))
    p = np.abs(tiny)
    want = R.exact("logit", p.astype(np.float64), dtype=dt)
    assert np.array_equal(S.logit(p), want)
    assert np.all(np.isfinite(S.logit(p)))


@pytest.mark.parametrize("dt", FLOATS)
def test_signed_zeros_beside_lanes_on_other_paths(dt, isa):
    """silu(-0) = -0 (and silu(+0) = +0) at every position of arrays whose
    other elements send their vector down a slower path: a tiny nonzero
    input (silu's double path), inputs near a rounding boundary (the hard
    cases of the rounding tests), and inputs beyond the fast range."""
    others = np.array([np.finfo(dt).smallest_subnormal, -np.finfo(dt).smallest_subnormal, float.fromhex("0x1.8p-22"),
                       float.fromhex("-0x1.4311eap+6"), 100.0, -100.0, 1e-30, 3.0], dtype=dt)
    for zero in (-0.0, 0.0):
        for n in (16, 37):
            for j in range(n):
                x = np.resize(others, n)
                x[j] = zero
                got = S.silu(x)
                assert same(got[j], dt(zero)), f"silu({zero}) = {got[j]!r} at position {j} of {n}"
                assert S.sigmoid(x)[j] == dt(0.5)


EDGES = {
    np.float32: {
        # the float32 sigmoid is subnormal for x in about [-103.97, -87.34]
        "subnormal_sigmoid": [-87.5, -95.0, -103.0, -103.9],
        "zero_sigmoid": [-104.0, -110.0, -1e9],
        # sigma(x) rounds to 1 from x = 17.33 (1 - sigma(x) <= 2^-25)
        "one_sigmoid": [17.34, 20.0, 88.8, 1e9],
        "below_one_sigmoid": [16.7, 17.3],
    },
    np.float64: {
        "subnormal_sigmoid": [-708.5, -720.0, -740.0, -745.0],
        "zero_sigmoid": [-745.2, -800.0, -1e9],
        # from x = 37.43 (1 - sigma(x) <= 2^-54)
        "one_sigmoid": [37.44, 40.0, 709.8, 1e9],
        "below_one_sigmoid": [36.8, 37.4],
    },
}


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_overflow_edges(dt):
    e = EDGES[dt]
    sub = S.sigmoid(np.array(e["subnormal_sigmoid"], dtype=dt))
    assert np.all((sub > 0) & (sub < np.finfo(dt).smallest_normal)), sub
    # the subnormal results are the correctly rounded ones, not flushed
    xs = np.array(e["subnormal_sigmoid"], dtype=dt)
    np.testing.assert_array_equal(sub, R.exact("sigmoid", xs.astype(np.float64), dtype=dt))
    assert np.all(S.sigmoid(np.array(e["zero_sigmoid"], dtype=dt)) == 0)
    assert np.all(S.sigmoid(np.array(e["one_sigmoid"], dtype=dt)) == 1)
    assert np.all(S.sigmoid(np.array(e["below_one_sigmoid"], dtype=dt)) == np.nextafter(dt(1), dt(0)))
    # softplus(x) = e^x for very negative x, subnormal included
    sp = S.softplus(xs)
    np.testing.assert_array_equal(sp, R.exact("softplus", xs.astype(np.float64), dtype=dt))
    assert np.all(sp > 0)
    # log_sigmoid(x) = x for very negative x, without overflow in e^-x
    big = np.array([-1e4, -3e4, -np.finfo(dt).max], dtype=dt)
    np.testing.assert_array_equal(S.log_sigmoid(big), big)
    np.testing.assert_array_equal(S.softplus(-big), -big)


@pytest.mark.parametrize("dt", FLOATS)
def test_gradients_vanish_exactly_at_huge_logits(dt):
    x = np.array([1e9, -1e9, 1e4, -1e4], dtype=dt) if dt != np.float16 else np.array([6e4, -6e4], dtype=dt)
    g = np.ones_like(x)
    assert np.all(S.sigmoid_backward(x, g) == 0)
    # even with the largest finite incoming gradient
    assert np.all(S.sigmoid_backward(x, np.full_like(x, np.finfo(dt).max)) == 0)
    big = np.full_like(x, np.finfo(dt).max)
    np.testing.assert_array_equal(S.silu_backward(x, big), np.where(x > 0, big, 0))


def test_no_warning_for_any_special_input():
    """One call per function and dtype over the whole matrix, under
    errstate(all="raise") (autouse) and warnings as errors."""
    vals = [0.0, -0.0, inf, -inf, nan, 1e-320, -1e-320, 5e-324, 1e308, -1e308, 709.78, -745.13, 88.72,
            -103.97, 1e9, -1e9, 0.5, 1.0, 2.0]
    for dt in FLOATS:
        with np.errstate(over="ignore", under="ignore"):
            x = np.array(vals).astype(dt)
        for name in R.FUNCTIONS_1:
            getattr(S, name)(x)
        for name in R.FUNCTIONS_2:
            getattr(S, name)(x, x[::-1])


# ------------------------------------------------- signed zeros and nans

def _grad_points(name, dt):
    """x (or y) values of both signs of the derivative, long enough for the
    vector paths and their tails."""
    if name == "sigmoid_backward_from_output":
        x = np.concatenate([np.linspace(0, 1, 41), [-3.0, -1e-3, 1.5, 7.0, 1e4]])
    else:
        x = np.concatenate([np.linspace(-8, 8, 61), [-1.2785, -1.2784, -1e4, 1e4, -40.0, 40.0]])
    return x.astype(dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("name", R.FUNCTIONS_2)
def test_zero_grad_output_gives_the_signed_zero_of_the_product(name, dt, isa):
    """grad_output * f'(x) with grad_output = +-0 is a zero with the sign
    of the exact product, as IEEE multiplication gives (the derivative's
    sign from mpmath; 0 times a zero derivative has the sign of g)."""
    f = getattr(S, name)
    x = _grad_points(name, dt)
    d = R.exact(name, x.astype(np.float64), np.ones(x.size), dtype=np.float64)
    for g0 in (0.0, -0.0):
        g = np.full(x.size, g0, dtype=dt)
        got = f(x, g)
        want_neg = np.signbit(g) ^ np.signbit(d)
        bad = (got != 0) | (np.signbit(got) != want_neg)
        assert not bad.any(), f"{name}(x, {g0}) at x = {x[bad][:5]}: got {got[bad][:5]}"


_SNAN = {np.float16: (np.uint16, 0x7C01, 0x0200), np.float32: (np.uint32, 0x7F800001, 0x00400000),
         np.float64: (np.uint64, 0x7FF0000000000001, 0x0008000000000000)}


def _snan(dt, n):
    it, bits, _ = _SNAN[dt]
    return np.full(n, bits, dtype=it).view(dt)


def _quiet(a, dt):
    it, _, qbit = _SNAN[dt]
    return np.isnan(a).all() and bool(np.all(a.view(it) & it(qbit)))


@pytest.mark.parametrize("dt", FLOATS)
def test_signalling_nans_come_back_quiet(dt, isa):
    """An operation on a signalling NaN returns a quiet NaN (IEEE 754), in
    every function, for either argument."""
    n = 37
    s, one = _snan(dt, n), np.ones(n, dtype=dt)
    assert not _quiet(s, dt)
    for name in R.FUNCTIONS_1:
        assert _quiet(getattr(S, name)(s), dt), name
    for name in R.FUNCTIONS_2:
        f = getattr(S, name)
        assert _quiet(f(s, one), dt), name
        assert _quiet(f(np.full(n, 0.5, dtype=dt), s), dt), name
    if dt != np.float16:
        y = np.zeros(n, dtype=dt)
        for loss in (S.bce_with_logits_and_grad, S.sigmoid_focal_loss_and_grad):
            lv, gv = loss(s, y, reduction="none")
            assert _quiet(lv, dt) and _quiet(gv, dt), loss.__name__
        lv = S.binary_cross_entropy(s, y, reduction="none")
        assert _quiet(lv, dt)


def test_sigmoid_backward_from_output_never_overflows_inside():
    """g y (1 - y) for y outside [0, 1] (any float64 y, not only sigma's
    outputs): no overflow where the result is finite, 0 for g = 0 (never
    nan), within 1 ULP of the exact rational product, subnormal results
    included."""
    big = np.finfo(np.float64).max
    y = np.array([2.5e154, -2.5e154, big, -big, 1e300, -1e-300, 1.0 + 2**-52, 3.0, 1e200, 1e200, 1e-160])
    g = np.array([-6.75e-18, 1e-300, 0.0, -0.0, 1e-310, 3.0, 1e308, -5e-324, 1e-300, 1e-320, 1e-160])
    got = S.sigmoid_backward_from_output(y, g)
    assert got[0] == pytest.approx(4.21875e291, rel=1e-15)
    assert same(got[2], -0.0) and same(got[3], 0.0)
    want = R.exact("sigmoid_backward_from_output", y, g)
    assert R.ulp_distance(got, want).max() <= 1, (got, want)
    rng = np.random.default_rng(3)
    y = np.concatenate([np.ldexp(rng.uniform(-1, 1, 4000), rng.integers(-1000, 1000, 4000)),
                        1 + np.ldexp(rng.uniform(0, 1, 1000), rng.integers(-50, 1000, 1000))])
    y = y[(y < 0) | (y > 1)]
    with np.errstate(under="ignore"):
        g = np.ldexp(rng.uniform(-1, 1, y.size), rng.integers(-1070, 1000, y.size))
    got = S.sigmoid_backward_from_output(y, g)
    want = R.exact("sigmoid_backward_from_output", y, g)
    assert R.ulp_distance(got, want).max() <= 1
