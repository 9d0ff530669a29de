"""The identities that tie the family together, and the gradients checked
by central differences in float64."""
import mpmath as mp
import numpy as np
import pytest

import reference as R
import sigmoid as S

X = np.concatenate([np.linspace(-30, 30, 4001), [-1e-3, 1e-3, 0.0]])


def _np_sigma(x):
    """sigma(x) = exp(-log(1 + e^-x)) from NumPy's float64 functions alone:
    within a few ULP of float64, no overflow."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_log_sigmoid_is_minus_softplus_of_minus_x(dt):
    """The kernels compute log_sigmoid(x) as -softplus(-x) (in every dtype),
    so comparing the two functions of this library would compare a function
    with itself.  Instead log_sigmoid(x) is held to the correctly rounded
    value of -softplus(-x) = -log(1 + e^-x) computed elsewhere: mpmath for
    float64, reference.fast32 (float64 with a proven bound, mpmath where it
    does not decide) for float32 and float16; within the documented bounds
    (2 ULP; float16 correctly rounded)."""
    x = np.linspace(-100, 100, 20001 if dt != np.float64 else 4001).astype(dt)
    got = S.log_sigmoid(x)
    if dt == np.float64:
        want = -R.exact("softplus", -x)
    else:
        want = -R.fast32("softplus", -x, dtype=dt)
    bound = 0 if dt == np.float16 else 2
    d = R.ulp_distance(got, want)
    assert d.max() <= bound, (x[np.argmax(d)], got[np.argmax(d)], want[np.argmax(d)])


def test_softplus_derivative_is_sigmoid():
    h = 1e-6
    d = (S.softplus(X + h) - S.softplus(X - h)) / (2 * h)
    np.testing.assert_allclose(d, _np_sigma(X), rtol=1e-8, atol=1e-12)


def test_silu_is_x_times_sigmoid():
    """silu(x) against x sigma(x) computed without this library: mpmath for
    float64, x times NumPy's float64 sigma for float32 (a product of few-ULP
    float64 factors rounds to float32 correctly but at a near-tie)."""
    for dt in (np.float32, np.float64):
        x = X.astype(dt)
        if dt == np.float64:
            ref = R.exact("silu", x)
        else:
            ref = (x.astype(np.float64) * _np_sigma(x)).astype(dt)
        assert R.ulp_distance(S.silu(x), ref).max() <= 1


def test_tanh_is_a_rescaled_sigmoid():
    np.testing.assert_allclose(2 * S.sigmoid(2 * X) - 1, np.tanh(X), rtol=0, atol=4e-16)


def test_sigmoid_of_a_difference_is_two_class_softmax():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 10, (5000, 2))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    softmax0 = e[:, 0] / e.sum(axis=1)
    d = z[:, 0] - z[:, 1]
    # the rounding of z1 - z2 (relative 2^-53) moves sigma by up to |d| 2^-53 relative
    tol = 2.0**-52 * (4 + np.abs(d)) * softmax0
    assert np.all(np.abs(S.sigmoid(d) - softmax0) <= tol)


def test_logit_inverts_sigmoid():
    x = np.linspace(-30, 30, 6001)
    # the rounding of sigma(x) (half an ulp) is magnified by 1/(1 - sigma(x))
    tol = 2.0**-52 * (1 + np.exp(np.abs(x)))
    assert np.all(np.abs(S.logit(S.sigmoid(x)) - x) <= tol * np.maximum(1, np.abs(x)))
    p = np.linspace(0.001, 0.999, 999)
    # logit(p) within 2 ULP; sigma moves that by (1 - p) |logit(p)| relative
    tol = 2.0**-51 * (2 + (1 - p) * np.abs(S.logit(p))) * p
    assert np.all(np.abs(S.sigmoid(S.logit(p)) - p) <= tol)


def test_sigmoid_symmetry_and_ceiling_of_its_gradient():
    np.testing.assert_allclose(S.sigmoid(-X), 1 - S.sigmoid(X), rtol=0, atol=2e-16)
    d = S.sigmoid_backward(np.linspace(-50, 50, 100001), 1.0)
    assert d.max() == 0.25
    assert S.sigmoid_backward(0.0, 1.0) == 0.25
    assert np.all(d <= 0.25)


@pytest.mark.parametrize(
    "name, forward",
    [("sigmoid_backward", "sigmoid"), ("silu_backward", "silu"), ("hard_sigmoid_backward", "hard_sigmoid")],
)
def test_gradients_by_central_differences(name, forward):
    f, df = getattr(S, forward), getattr(S, name)
    x = X[np.abs(np.abs(X) - 3) > 1e-3] if forward == "hard_sigmoid" else X
    g = np.random.default_rng(1).normal(size=x.size)
    h = 1e-6 * np.maximum(1, np.abs(x))
    numeric = g * (f(x + h) - f(x - h)) / (2 * h)
    np.testing.assert_allclose(df(x, g), numeric, rtol=1e-7, atol=1e-10)


def test_hard_sigmoid_gradient_at_the_kinks_is_zero():
    for dt in (np.float16, np.float32, np.float64):
        x = np.array([-3, 3], dtype=dt)
        assert np.all(S.hard_sigmoid_backward(x, dt(1)) == 0)
        inside = np.nextafter(x, dt(0))
        assert np.all(S.hard_sigmoid_backward(inside, dt(6)) == 1)


def test_backward_from_output_agrees_where_the_output_carries_the_information():
    x = np.linspace(-8, 8, 1601)
    g = np.cos(x)
    np.testing.assert_allclose(S.sigmoid_backward_from_output(S.sigmoid(x), g), S.sigmoid_backward(x, g),
                               rtol=2e-12, atol=1e-300)


def test_the_seeds_sigma_one_minus_sigma_cancels_where_ours_does_not():
    x = np.float32(20.0)
    assert S.sigmoid_backward_from_output(S.sigmoid(x), np.float32(1)) == 0
    want = np.float32(R.round_exact(mp.exp(-20) / (1 + mp.exp(-20)) ** 2, np.float32))
    assert S.sigmoid_backward(x, np.float32(1)) == want


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_silu_backward_near_its_zero(dt):
    """silu' changes sign at x0 = -1.27846...; the floats around x0 are
    where 1 + x sigma(-x) cancels.  Every one of the 2000 floats nearest x0,
    and 4000 points within 0.3 of it, against mpmath."""
    mp.mp.dps = 60
    x0 = mp.findroot(lambda x: (1 + x / (1 + mp.exp(x))), -1.28)
    c = dt(float(x0))
    nearest = c + np.arange(-1000, 1000).astype(dt) * np.spacing(c)
    spread = (float(x0) + np.linspace(-0.3, 0.3, 4000)).astype(dt)
    x = np.concatenate([nearest, spread]).astype(dt)
    g = np.ones_like(x)
    got = S.silu_backward(x, g)
    want = R.exact("silu_backward", x.astype(np.float64), g.astype(np.float64), dtype=dt)
    assert R.ulp_distance(got, want).max() <= 2
    assert np.all(np.sign(got) == np.sign(want))
