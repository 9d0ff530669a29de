"""Accuracy against correctly rounded references.

float64: mpmath at 60 digits over every binade of both signs plus the edges,
>= 10^5 points per function under -m slow (CI), fewer by default.  float32: >= 10^6 points over every binade
against a float64 reference with a proven error bound (mpmath where it does
not decide the rounding; see reference.py); tools/sweep_float32.py checks all
2^32 inputs.  float16: every one of the 65,536 inputs, correctly rounded.
Bounds (ULP from the correctly rounded result): the library's one table,
sigmoid._accuracy, which the docstrings and the README also show.
"""
import functools

import numpy as np
import pytest

import reference as R
import samples
import sigmoid
from sigmoid._accuracy import ufunc_bound

ALL = R.FUNCTIONS_1 + R.FUNCTIONS_2


def check(name, got, want, args, bound):
    d = R.ulp_distance(got, want)
    worst = int(np.argmax(d))
    assert d.max() <= bound, (
        f"{name}: {d.max()} ULP at {[a[worst] for a in args]}: got {got[worst]!r}, want {want[worst]!r}; "
        f"histogram {np.bincount(np.minimum(d, 10))}"
    )
    return d


# every binade of both signs at 3 points each (about 1.3 10^4 points, the
# one-sided domains 5x more) by default; the full sample, >= 10^5 points per
# function, under -m slow, which CI runs
DENSITIES = [3, pytest.param(24, marks=pytest.mark.slow, id="full")]


@pytest.mark.parametrize("per_binade", DENSITIES)
@pytest.mark.parametrize("name", ALL)
def test_float64_against_mpmath(name, per_binade):
    rng = np.random.default_rng(20261128)
    args = samples.args(name, np.float64, per_binade, rng)
    if name in ("logit", "sigmoid_backward_from_output"):  # one-sided domains: add more points
        more = samples.args(name, np.float64, 5 * per_binade, rng)
        args = tuple(np.concatenate([a, b]) for a, b in zip(args, more))
    assert args[0].size >= 4000 * per_binade
    got = getattr(sigmoid, name)(*args)
    want = R.exact(name, *args)
    check(name, got, want, args, ufunc_bound(name, np.float64))


@pytest.mark.parametrize("name", ALL)
def test_float32_sampled(name):
    rng = np.random.default_rng(7)
    args = samples.args(name, np.float32, 3700, rng)
    if args[0].size < 10**6:
        more = samples.args(name, np.float32, 2 * (10**6 // args[0].size + 1) * 3700, rng)
        args = tuple(np.concatenate([a, b]) for a, b in zip(args, more))
    assert args[0].size >= 10**6
    got = getattr(sigmoid, name)(*args)
    want = R.fast32(name, *args)
    check(name, got, want, args, ufunc_bound(name, np.float32))


def _all_float16():
    return np.arange(2**16, dtype=np.uint16).view(np.float16)


def _all_bfloat16():
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 needs ml_dtypes (in the test extra)")
    return np.arange(2**16, dtype=np.uint16).view(ml_dtypes.bfloat16)


def _sixteen_bit(dt):
    if dt == "bfloat16":
        return _all_bfloat16()
    return _all_float16()


@functools.lru_cache(maxsize=None)
def _sixteen_bit_reference(name, dt):
    x = _sixteen_bit(dt)
    with np.errstate(invalid="ignore"):  # the signalling nans among the inputs, widened for the reference
        return R.fast32(name, x.astype(np.float32), dtype=x.dtype)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", R.FUNCTIONS_1)
def test_16_bit_exhaustive_correctly_rounded(name, dt, isa):
    """float16 and ml_dtypes' bfloat16: every one of the 65,536 inputs, on
    every instruction set, against the correctly rounded result.  They are
    computed by the float32 kernels and rounded once more, which is correct
    rounding wherever the float result is faithful and not itself a 16-bit
    rounding boundary; the boundaries are computed again in float64 (a few
    hundred of these inputs for bfloat16 silu and hard_sigmoid).  Contiguous,
    reversed, every second element out, and in place, where the recomputed
    inputs must not be read from the output."""
    x = _sixteen_bit(dt)
    f = getattr(sigmoid, name)
    want = _sixteen_bit_reference(name, dt)
    got = f(x)
    assert got.dtype == x.dtype
    check(name, got, want, (x,), ufunc_bound(name, x.dtype))
    bits = got.view(np.uint16)
    assert np.array_equal(f(x[::-1])[::-1].view(np.uint16), bits)
    wide = np.zeros(2 * x.size, dtype=x.dtype)
    f(x, out=wide[::2])
    assert np.array_equal(wide[::2].view(np.uint16), bits)
    assert not wide[1::2].view(np.uint16).any()
    y = x.copy()
    f(y, out=y)
    assert np.array_equal(y.view(np.uint16), bits)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_16_bit_nan_inputs_come_back_themselves(dt, isa):
    """Every NaN input of a one-argument function gives itself back,
    quieted (sign and payload kept), among ordinary values at every position
    of rows of 1, 7, 37 and 100 (whole arrays, and row by row for the
    vector tails), on every instruction set; a NaN result of a number
    (logit outside [0, 1]) is a NaN."""
    x = _sixteen_bit(dt)
    u = x.view(np.uint16)
    quiet = 0x0040 if dt == "bfloat16" else 0x0200
    exp = 0x7F80 if dt == "bfloat16" else 0x7C00
    nan = ((u & exp) == exp) & ((u & (exp ^ 0x7FFF)) != 0)
    assert np.count_nonzero(nan) == (2 * 127 if dt == "bfloat16" else 2 * 1023)
    nans = x[nan]
    for name in R.FUNCTIONS_1:
        f = getattr(sigmoid, name)
        for n in (1, 7, 37, 100):
            y = np.full((nans.size, n), 0.375, dtype=x.dtype)
            col = np.arange(nans.size) % n
            y[np.arange(nans.size), col] = nans
            for got in (f(y), np.stack([f(row) for row in y[:3 * n]])):
                rows = np.arange(got.shape[0])
                assert np.array_equal(got[rows, col[rows]].view(np.uint16), u[nan][rows] | quiet), name
    assert np.isnan(sigmoid.logit(np.array([-0.5, 1.5, np.inf, -np.inf], dtype=x.dtype))).all()


def _gradient_inputs(name, g, dt):
    x = _sixteen_bit(dt)
    if name == "sigmoid_backward_from_output":
        x = x[(x >= 0) & (x <= 1)]
    return x, np.full(x.shape, g, dtype=x.dtype)


@functools.lru_cache(maxsize=None)
def _gradient_reference(name, g, dt):
    x, gg = _gradient_inputs(name, g, dt)
    with np.errstate(invalid="ignore"):
        return R.fast32(name, x.astype(np.float32), gg.astype(np.float32), dtype=x.dtype)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", R.FUNCTIONS_2)
@pytest.mark.parametrize("g", [1.0, -0.75, 3.0e-5, 1.5e4, 6.1e-8])
def test_16_bit_exhaustive_gradients_correctly_rounded(name, g, dt, isa):
    """Every 16-bit x with five grad_outputs, on every instruction set
    (sigmoid_backward and silu_backward computed in float64, the others in
    float32, and rounded once more); in place (into either argument) as
    well, where the results on a rounding boundary are settled from the
    inputs after the output is written."""
    x, gg = _gradient_inputs(name, g, dt)
    f = getattr(sigmoid, name)
    got = f(x, gg)
    assert got.dtype == x.dtype
    check(name, got, _gradient_reference(name, g, dt), (x, gg), ufunc_bound(name, x.dtype))
    for y, z in ((x.copy(), gg), (x, gg.copy())):
        f(y, z, out=y if y is not x else z)
        assert np.array_equal((y if y is not x else z).view(np.uint16), got.view(np.uint16))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_instruction_set_gives_identical_bits(name, dt):
    """The kernels use only correctly rounded operations, so AVX-512 and
    AVX2 must agree with the portable path bit for bit."""
    from sigmoid import _core

    isas = _core._supported_isas().split(",")
    assert "portable" in isas
    others = [isa for isa in isas if isa != "portable"]
    if not others:
        pytest.skip(f"this CPU runs only the portable kernels ({isas}): no other instruction set to compare")
    rng = np.random.default_rng(3)
    args = samples.args(name, dt, 20, rng)
    f = getattr(sigmoid, name)
    old = _core._get_isa()
    try:
        results = {}
        for isa in ["portable"] + others:
            _core._set_isa(isa)
            assert _core._get_isa() == isa
            results[isa] = f(*args)
    finally:
        _core._set_isa(old)
    ref = results["portable"]
    itype = np.int32 if dt == np.float32 else np.int64
    for isa in others:
        r = results[isa]
        same = (r.view(itype) == ref.view(itype)) | (np.isnan(r) & np.isnan(ref))
        assert same.all(), (f"{isa} differs from portable in {np.count_nonzero(~same)} of {same.size} results, "
                            f"at {[a[~same][:3] for a in args]}")


@functools.lru_cache(maxsize=None)
def _near_silu_zero(dt):
    x0 = -1.2784645427610738
    x = np.concatenate([np.linspace(-1.2786, -1.2783, 14001), np.linspace(x0 - 0.07, x0 + 0.07, 20001)]).astype(dt)
    if dt == np.float32:
        x = np.concatenate([x, np.float32(x0) + np.arange(-3000, 3000, dtype=np.float32) * np.float32(2**-23),
                            # the 8 of all 2^32 inputs that were 2 ULP off, just outside the old series window
                            np.array([-1.3131126, -1.313594, -1.3144156, -1.3147866, -1.3148195, -1.3148816,
                                      -1.3148817, -1.3150041], dtype=np.float32)])
    g = np.ones_like(x)
    return x, g, R.exact("silu_backward", x.astype(np.float64), g.astype(np.float64), dtype=dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_silu_backward_near_its_zero(dt, isa):
    """silu'(x) = 0 at x0 = -1.27846...: dense consecutive inputs around it
    (the series about x0 carries the low part of x0 into h^2 too), against
    mpmath, on every instruction set."""
    x, g, want = _near_silu_zero(dt)
    check("silu_backward", sigmoid.silu_backward(x, g), want, (x, g), ufunc_bound("silu_backward", dt))


@functools.lru_cache(maxsize=None)
def _silu_backward_rising():
    """Every float32 in [-0.75, -0.375], in order, and the correctly rounded
    silu'(x) there (g = 1)."""
    lo, hi = np.array([-0.375, -0.75], dtype=np.float32).view(np.int32)
    x = np.arange(hi, lo - 1, -1, dtype=np.int32).view(np.float32)
    return x, R.fast32("silu_backward", x, np.ones_like(x))


def test_silu_backward_float32_rises_where_silu_prime_rises(isa):
    """In [-0.75, -0.375] silu' rises by about an ulp per 200 input steps,
    and 1 - x sigma(-x) rounds in float where x sigma(-x) < 1/2: unless the
    kernel carries that rounding, a quarter of the results there are
    misrounded and 19,084 steps fall.  Every consecutive input."""
    x, want = _silu_backward_rising()
    got = sigmoid.silu_backward(x, np.ones_like(x))
    assert np.count_nonzero(np.diff(got) < 0) == 0
    assert np.all(R.ulp_distance(got, want) <= 1)
    assert np.count_nonzero(got != want) < 0.02 * x.size


def _float32_run(lo, hi):
    """Every float32 in [lo, hi) (0 <= lo < hi), in increasing order."""
    a, b = np.array([lo, hi], dtype=np.float32).view(np.int32)
    return np.arange(a, b, dtype=np.int32).view(np.float32)


#: x1 = 2.39936...: silu' is largest there and smallest at -x1
_SILU_PRIME_X1 = 2.3993572805154675


def _silu_prime_steps(x):
    """For consecutive x[i] < x[i + 1]: +1 where silu' rises, -1 where it
    falls, 0 across an extreme (either way is right).  The sign of silu'' is
    that of 2 - x tanh(x/2), which float64 gets right except within about
    10^-15 of +-x1."""
    d = np.sign(2 - x * np.tanh(x / 2))
    return np.where(d[1:] == d[:-1], d[1:], 0)


@pytest.mark.parametrize("g", [1.0, -3.0, 3e30, 1e-30])
def test_silu_backward_float32_monotone_near_its_extremes(g, isa):
    """Every float32 with |x| in [1.5, 3], both signs: g silu'(x) never
    moves against silu'.  silu' is flat about its extremes +-x1: within 1/16
    of them the evaluation through e^-|x| moved against it, and for x in
    [1.5, 3] the sum sigma(a) + a sigma(a) sigma(-a) rounded in two steps did
    too (the old kernel: 31,814 reversals over all 2^32 inputs with g = 1).
    With g = 1e-30 the lanes take the double kernel.  On every 64th input
    within 1 ULP of the correctly rounded result; within 1/16 of +-x1, all
    but 1 in 10^3 correctly rounded with g = 1 (the old kernel: 2 and 6 in
    100 at -x1 and +x1)."""
    run = _float32_run(1.5, 3.0)
    for x in (run, -run[::-1]):
        gg = np.full_like(x, np.float32(g))
        got = sigmoid.silu_backward(x, gg).astype(np.float64)
        against = np.count_nonzero(np.diff(got) * np.sign(g) * _silu_prime_steps(x.astype(np.float64)) < 0)
        assert against == 0, f"{against} steps against silu', g = {g}"
        if g in (1.0, 1e-30):
            want = R.fast32("silu_backward", x[::64], gg[::64])
            assert np.all(R.ulp_distance(got[::64].astype(np.float32), want) <= 1)
        if g == 1.0:
            near = np.abs(np.abs(x.astype(np.float64)) - _SILU_PRIME_X1) < 0.0625
            want = R.fast32("silu_backward", x[near], gg[near])
            wrong = np.count_nonzero(got[near].astype(np.float32) != want)
            assert wrong < 1e-3 * want.size, f"{wrong} of {want.size} misrounded, g = {g}"


@pytest.mark.parametrize("h", [-0.6, -0.2, -0.0625, -0.05, -0.01, -0.001, 0.0, 0.001, 0.01, 0.05, 0.0625, 0.2])
def test_silu_backward_float64_monotone_near_its_extremes(h, isa):
    """The same in float64, on 10^6 consecutive doubles around x1 + h and
    -(x1 + h): the old kernel moved against silu' in thousands of steps of
    such runs within 0.2 of +x1 and within 0.01 of -x1, and hundreds at
    x1 - 0.6; at |h| = 1/16 the kernel changes method.  Within 1 ULP of
    mpmath on a sample."""
    b = np.float64(_SILU_PRIME_X1 + h).view(np.int64)
    run = np.arange(b - 5 * 10**5, b + 5 * 10**5, dtype=np.int64).view(np.float64)
    for x in (run, -run[::-1]):
        steps = _silu_prime_steps(x)
        for g in (1.0, -3.0):
            got = sigmoid.silu_backward(x, np.full_like(x, g))
            against = np.count_nonzero(np.diff(got) * np.sign(g) * steps < 0)
            assert against == 0, f"{against} steps against silu', g = {g}"
        xs = x[::2001]
        gs = np.ones_like(xs)
        check("silu_backward", sigmoid.silu_backward(xs, gs), R.exact("silu_backward", xs, gs, dtype=np.float64),
              (xs, gs), ufunc_bound("silu_backward", np.float64))


@pytest.mark.parametrize("g", [1.0, -3.0, 1e-30])
def test_silu_backward_float32_rises_below_zero(g, isa):
    """silu'(x) = 1/2 + x/2 + ... rises by half an ulp of x per step just
    below 0, a small fraction of an ulp of the result, which the formula for
    x < 0 (through e^-|x|) did not resolve: it stepped against silu' 521
    times in [-0.03, -0.0004], 333 of them in [-2^-5, -2^-6).  The first
    2^21 floats of each binade from -2^-12 to -2^-4, and 2^16 on each side
    of -1/8 (where the kernel changes method): never against silu'; on every
    64th input within 1 ULP of the correctly rounded result."""
    runs = [_float32_run(2.0**-k, 2.0**-k * (1 + 2.0**-2)) for k in range(4, 13)]
    for run in runs + [_float32_around(0.125, 2**16)]:
        x = -run[::-1]
        gg = np.full_like(x, np.float32(g))
        got = sigmoid.silu_backward(x, gg).astype(np.float64)
        against = np.count_nonzero(np.diff(got) * np.sign(g) < 0)
        assert against == 0, f"{against} steps against silu', g = {g}"
        want = R.fast32("silu_backward", x[::64], gg[::64])
        assert np.all(R.ulp_distance(got[::64].astype(np.float32), want) <= 1)


@pytest.mark.parametrize("start", [-0.01, -0.02, -0.125])
def test_silu_backward_float64_rises_below_zero(start, isa):
    """The same in float64, 10^6 consecutive doubles around each start (the
    old formula stepped against silu' 6 and 34 times in such runs around
    -0.01 and -0.02), and within 1 ULP of mpmath on a sample."""
    b = np.float64(start).view(np.int64)
    x = np.sort(np.arange(b - 5 * 10**5, b + 5 * 10**5, dtype=np.int64).view(np.float64))
    for g in (1.0, -3.0):
        got = sigmoid.silu_backward(x, np.full_like(x, g))
        assert np.count_nonzero(np.diff(got) * np.sign(g) < 0) == 0
    xs = x[::2001]
    gs = np.ones_like(xs)
    check("silu_backward", sigmoid.silu_backward(xs, gs), R.exact("silu_backward", xs, gs, dtype=np.float64),
          (xs, gs), ufunc_bound("silu_backward", np.float64))


def _float32_around(center, half_width):
    """The 2 half_width consecutive float32 around `center` (> 0)."""
    c = np.float32(center).view(np.int32)
    return np.arange(c - half_width, c + half_width, dtype=np.int32).view(np.float32)


@functools.lru_cache(maxsize=None)
def _sigmoid_near_zero_sample():
    """Every 16th float32 with |x| in [2^-6, 1/8) and around 1/8, both
    signs, with the correctly rounded sigma(x)."""
    x = np.concatenate([_float32_run(2.0**-6, 0.125)[::16], _float32_around(0.125, 2**12)])
    x = np.concatenate([x, -x])
    return x, R.fast32("sigmoid", x)


def test_sigmoid_float32_rises_near_zero(isa):
    """Every float32 with |x| in [2^-10, 1/8], both signs, and 2^16 on each
    side of -1/8 and 1/8 (at -1/8 the kernel changes method): sigma never
    falls as x rises.  Through e^-|x| it fell 759 times in [-0.11, -0.02],
    where its error exceeds the step of sigma between neighbours.  To the
    table's bound on a sample."""
    runs = [_float32_run(2.0**-k, np.nextafter(np.float32(2.0 ** (1 - k)), np.float32(1))) for k in range(4, 11)]
    for run in runs + [_float32_around(0.125, 2**16)]:
        for x in (run, -run[::-1]):
            y = sigmoid.sigmoid(x).astype(np.float64)
            falls = np.nonzero(np.diff(y) < 0)[0]
            assert falls.size == 0, f"sigma falls {falls.size} times, first at {x[falls[:3]]}"
    x, want = _sigmoid_near_zero_sample()
    check("sigmoid", sigmoid.sigmoid(x), want, (x,), ufunc_bound("sigmoid", np.float32))


@functools.lru_cache(maxsize=None)
def _sigmoid_prime_flat():
    """Runs of consecutive float32 |x| where sigma' is flat against its
    rounding: around 3.4554649e-4 (where sigma' first rounds below 1/4, and
    the old kernel reversed a step), 2^21 from 2^-6 and from 2^-4 (3,527
    and 5,587 of the old kernel's reversals with g = 1 lay in those
    binades), and 2^16 on each side of 1/2, where the kernel changes
    method."""
    return [_float32_around(3.4554649e-4, 2**19), _float32_run(2.0**-6, 2.0**-6 * (1 + 2.0**-2)),
            _float32_run(2.0**-4, 2.0**-4 * (1 + 2.0**-2)), _float32_around(0.5, 2**16)]


@pytest.mark.parametrize("g", [1.0, -2.5, 0.37, 3e37, 1e-30])
def test_sigmoid_backward_float32_falls_as_abs_x_rises(g, isa):
    """g sigma'(x) moves towards 0 at every step of |x| away from 0, for
    every consecutive float32 in the flat runs and in both signs: the error
    of the evaluation through e^-|x| is larger there than the step of sigma'
    from one input to the next, so only an evaluation monotone by
    construction keeps the order
    (the old kernel reversed 29,794 steps with g = 1).  Within 1 ULP of
    the correctly rounded result too."""
    for run in _sigmoid_prime_flat():
        for x in (run, -run):
            gg = np.full_like(x, np.float32(g))
            got = sigmoid.sigmoid_backward(x, gg).astype(np.float64)
            steps = np.diff(got) * np.sign(g)
            assert np.count_nonzero(steps > 0) == 0, f"{np.count_nonzero(steps > 0)} steps rise, g = {g}"
            if g in (1.0, 1e-30):   # every 16th input: the sweep checks them all
                want = R.fast32("sigmoid_backward", x[::16], gg[::16])
                assert np.all(R.ulp_distance(got[::16].astype(np.float32), want) <= 1)


@pytest.mark.parametrize("start", [1e-3, 0.01, 0.02, 0.07, 0.2, 0.5])
def test_sigmoid_backward_float64_falls_as_abs_x_rises(start, isa):
    """The same in float64, on 10^6 consecutive doubles around each
    start (the kernel through e^-|x| reversed hundreds to thousands of
    steps in such runs of 10^7 from 0.01 to 0.2; at 1/2 the kernel changes
    method): g sigma'(x) never moves away from 0 as |x| grows, and stays
    within 1 ULP of mpmath on a sample."""
    b = np.float64(start).view(np.int64)
    run = np.arange(b - 5 * 10**5, b + 5 * 10**5, dtype=np.int64).view(np.float64)
    for x in (run, -run):
        for g in (1.0, -3.0):
            got = sigmoid.sigmoid_backward(x, np.full_like(x, g))
            assert np.count_nonzero(np.diff(got) * np.sign(g) > 0) == 0
    xs = run[::2001]
    gs = np.ones_like(xs)
    check("sigmoid_backward", sigmoid.sigmoid_backward(xs, gs), R.exact("sigmoid_backward", xs, gs, dtype=np.float64),
          (xs, gs), ufunc_bound("sigmoid_backward", np.float64))


def test_sigmoid_backward_float32_subnormal_results_rounded_once(isa):
    """A result below 2^-126 (a tiny grad_output, or |x| large) was the
    rounded g W scaled by 2^m, rounded a second time: up to an ulp off and
    20,132 reversals over all x for g = 10^-40.  Every float32 |x| in
    [1/2, 9/16) and in [60, 61) with g whose results there are subnormal:
    correctly rounded and monotone."""
    for lo, hi, g in ((0.5, 0.5625, 1e-40), (60.0, 61.0, 1e-12), (60.0, 61.0, 3e-15)):
        run = _float32_run(lo, hi)
        for x in (run, -run):
            gg = np.full_like(x, np.float32(g))
            got = sigmoid.sigmoid_backward(x, gg)
            assert np.abs(got).max() < 2.0**-126
            assert np.count_nonzero(np.diff(got.astype(np.float64)) > 0) == 0
            np.testing.assert_array_equal(got, R.fast32("sigmoid_backward", x, gg))


def test_silu_backward_float32_tiny_results_rounded_once(isa):
    """The same for silu_backward, whose low parts also lose bits below
    2^-126 when g is tiny: with g = 10^-40, 25% of the results for x in
    [-0.5625, -0.5] were misrounded and 235 steps went the wrong way.
    Every float32 in runs with subnormal results, and near silu's zero x0
    with g = 10^-35 and 2*10^-32, where some results are subnormal and
    others just above: correctly rounded, and never against the function."""
    x0 = np.float32(-1.2784645427610738)
    runs = [(-_float32_run(0.5, 0.5625), 1e-40), (-_float32_run(3.0, 3.0625), 1e-40),
            (-_float32_run(60.0, 61.0), 1e-12), (_float32_run(0.5, 0.5625), -7e-45),
            (-_float32_around(-x0, 2**18), 1e-35), (-_float32_around(-x0, 2**18), 2e-32)]
    for x, g in runs:
        gg = np.full_like(x, np.float32(g))
        got = sigmoid.silu_backward(x, gg)
        np.testing.assert_array_equal(got, R.fast32("silu_backward", x, gg))
        ref = R._f64_value("silu_backward", (x.astype(np.float64), gg.astype(np.float64)))[0]
        assert np.count_nonzero(np.diff(got.astype(np.float64)) * np.diff(ref) < 0) == 0


@pytest.mark.parametrize("dt", ["float16", pytest.param("bfloat16", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", R.FUNCTIONS_2)
def test_16_bit_gradients_with_subnormal_grad_output(name, dt):
    """Small arguments with subnormal grad_output: products like g/4 or
    g/2 land exactly on a 16-bit rounding boundary in float64 while the true
    value lies to one side (bfloat16 reaches 2^-133), and must still round
    correctly."""
    x = _sixteen_bit(dt)
    with np.errstate(invalid="ignore"):  # the signalling nans, widened
        x64 = x.astype(np.float64)
    ax = np.abs(x64)
    x = x[(ax < 2.0**-10) | ((ax > 0.25) & (ax < 1))] if name != "sigmoid_backward_from_output" else x[
        (x64 >= 0) & (x64 <= 1)]
    sub = np.array(np.arange(1, 2, dtype=np.uint16)).view(x.dtype)[0]  # the smallest subnormal
    for k in (1, 3, 5, 6, 7, -3):
        g = np.full(x.shape, sub, dtype=x.dtype) * x.dtype.type(k)
        got = getattr(sigmoid, name)(x, g)
        with np.errstate(invalid="ignore"):
            want = R.fast32(name, x.astype(np.float32), g.astype(np.float32), dtype=x.dtype)
        check(name, got, want, (x, g), ufunc_bound(name, x.dtype))


HARD_FLOAT32 = samples.HARD_FLOAT32
CORRECTLY_ROUNDED_FLOAT32 = sorted(n for n in R.FUNCTIONS_1 if ufunc_bound(n, np.float32) == 0)


def _around(hexes, k=8):
    """The given float32 inputs and their k neighbours on each side."""
    bits = np.array([float.fromhex(h) for h in hexes], dtype=np.float32).view(np.int32)
    return np.unique((bits[:, None] + np.arange(-k, k + 1, dtype=np.int32)).ravel().view(np.float32))


@pytest.mark.parametrize("name", sorted(HARD_FLOAT32))
def test_float32_hard_cases_at_every_lane(name, isa):
    """The hard inputs and their neighbours, each placed at every position of
    an array of ordinary inputs (64 elements: every lane of a vector and of
    the pipeline's pairs; 37: the padded tail too), on every instruction
    set: correctly rounded to the table's bound."""
    hard = _around(HARD_FLOAT32[name])
    rng = np.random.default_rng(11)
    fill = (rng.uniform(0.01, 0.99, 64) if name == "logit" else rng.standard_normal(64)).astype(np.float32)
    want_hard, want_fill = R.fast32(name, hard), R.fast32(name, fill)
    f = getattr(sigmoid, name)
    for n in (64, 37):
        for j in range(n):
            x = np.tile(fill[:n], (hard.size, 1))
            x[:, j] = hard
            want = np.tile(want_fill[:n], (hard.size, 1))
            want[:, j] = want_hard
            got = f(x) if n == 64 else np.stack([f(row) for row in x])
            check(name, got.ravel(), want.ravel(), (x.ravel(),), ufunc_bound(name, np.float32))


def test_the_correctly_rounded_functions_have_their_hard_cases_listed():
    """Every float32 function the table calls correctly rounded has the
    inputs its sweep found listed above, so that the test above covers it
    (hard_sigmoid, (x + 3)/6 with one rounding, has none)."""
    assert CORRECTLY_ROUNDED_FLOAT32 == sorted(set(HARD_FLOAT32) | {"hard_sigmoid"})


@pytest.mark.slow
@pytest.mark.parametrize("name", CORRECTLY_ROUNDED_FLOAT32)
def test_float32_correctly_rounded_on_ten_million_inputs(name):
    """10^7 float32 inputs drawn uniformly over the bit patterns of the
    domain (logit: (0, 1)) and the hard cases with their neighbours,
    correctly rounded (CI's -m slow run; the sweep checks all 2^32)."""
    rng = np.random.default_rng(5)
    hi = 0x3F800000 if name == "logit" else 2**32
    x = rng.integers(1 if name == "logit" else 0, hi, 10**7, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([x, _around(HARD_FLOAT32.get(name, []))])
    got = getattr(sigmoid, name)(x)
    with np.errstate(invalid="ignore"):
        want = R.fast32(name, x)
    check(name, got, want, (x,), 0)


_MONOTONE_STARTS = {
    # near hard cases, around 0 and -1/8, where the old kernel fell, and
    # where the results become subnormal
    "sigmoid": ["-0x1.000000p-20", "0x1.7fff00p-22", "-0x1.c00000p-3", "-0x1.d00000p-5", "-0x1.000000p-3",
                "-0x1.5d0000p+6", "0x1.d38000p-2"],
    "logit": ["0x1.0p-30", "0x1.0dbf00p-2", "0x1.d37000p-2", "0x1.fff000p-2", "0x1.000400p-1", "0x1.ffe000p-1"],
    # near the hard cases, and where the results become subnormal
    "softplus": ["0x1.105c00p-24", "-0x1.df2900p-25", "0x1.47f000p+2", "-0x1.004c00p+5", "-0x1.5c0000p+6"],
    "log_sigmoid": ["-0x1.105c00p-24", "0x1.df2900p-25", "-0x1.47f000p+2", "0x1.004c00p+5", "0x1.5c0000p+6"],
}


@pytest.mark.parametrize("name, start", [(n, s) for n in _MONOTONE_STARTS for s in _MONOTONE_STARTS[n]])
def test_float32_never_decreases_on_consecutive_inputs(name, start):
    """Correct rounding makes these functions monotone: 2^20 consecutive
    float32 inputs from each start (downwards for a negative one), including
    hard cases, and the results never decrease as x grows, on every
    instruction set."""
    from sigmoid import _core

    x = (np.float32(float.fromhex(start)).view(np.int32) + np.arange(2**20, dtype=np.int32)).view(np.float32)
    x = np.sort(x[x < 1] if name == "logit" else x)
    old = _core._get_isa()
    try:
        for isa in _core._supported_isas().split(","):
            _core._set_isa(isa)
            y = getattr(sigmoid, name)(x)
            falls = np.nonzero(np.diff(y) < 0)[0]
            assert falls.size == 0, f"{isa}: {name} falls at {x[falls[:5]]}"
    finally:
        _core._set_isa(old)


@pytest.mark.parametrize("name", ["softplus", "log_sigmoid", "sigmoid", "silu"])
def test_float32_subnormal_results_correctly_rounded(name, isa):
    """Every float32 x whose result is subnormal or rounds to 0, |x| in [87,
    105] (sigma and silu: x in [-105, -86], the double path's range), on
    every instruction set: softplus's rounding test reads the normal float
    grid, so for its results this exhaustive check is the proof (vfamily.h,
    vf_softplus_light); sigma's and silu's test reads the subnormal grid
    too (vd_near_float_boundary), and this checks it."""
    lo, hi = np.float32(86 if name in ("sigmoid", "silu") else 87).view(np.int32), np.float32(105).view(np.int32)
    x = np.arange(lo, hi, dtype=np.int32).view(np.float32)
    x = x if name == "log_sigmoid" else -x
    check(name, getattr(sigmoid, name)(x), R.fast32(name, x), (x,), 0)


def test_sigmoid_float32_near_zero_boundaries(isa):
    """For |x| < 2^-13, 1/2 + x/4 is a float rounding boundary wherever x/4
    is an odd multiple of 2^-25 (2^-26 below 1/2), and sigma(x) lies off it
    by x^3/48, closer than the double kernel resolves (0x1.8p-22: the
    first version rounded these to even).  Every such x, both signs, and
    their neighbours: correctly rounded, on every instruction set."""
    k = np.arange(0, 2**10, dtype=np.float64)
    x = np.concatenate([(2 * k + 1) * 2.0**-23, -(2 * k + 1) * 2.0**-24])
    x = x[np.abs(x) < 2.0**-13].astype(np.float32)
    bits = x.view(np.int32)
    x = np.unique((bits[:, None] + np.arange(-2, 3, dtype=np.int32)).ravel().view(np.float32))
    check("sigmoid", sigmoid.sigmoid(x), R.fast32("sigmoid", x), (x,), 0)


def test_silu_float32_tiny_inputs(isa):
    """silu(x) = x/2 + x^2/4 - ... for tiny x: x/2 is a rounding boundary
    for odd subnormal x (silu then rounds up, not to even), and below 2^-80
    the fast path's margin would underflow.  Subnormal and tiny normal
    inputs of both signs, each alone and at every position of a vector:
    correctly rounded, on every instruction set."""
    rng = np.random.default_rng(21)
    sub = rng.integers(1, 2**23, 3000).astype(np.int32)
    tiny = rng.integers(np.float32(2.0**-126).view(np.int32), np.float32(2.0**-20).view(np.int32), 3000)
    x = np.concatenate([sub, tiny.astype(np.int32), np.arange(1, 64, dtype=np.int32)]).view(np.float32)
    x = np.concatenate([x, -x, np.float32([0.0, -0.0])])
    want = R.fast32("silu", x)
    check("silu", sigmoid.silu(x), want, (x,), 0)
    assert np.array_equal(np.signbit(sigmoid.silu(np.float32([0.0, -0.0]))), [False, True])
    for j in range(17):     # one tiny input among ordinary ones, at every lane
        y = np.full(17, 0.75, np.float32)
        y[j] = x[j]
        got = sigmoid.silu(y)
        assert got[j] == want[j] and np.all(np.delete(got, j) == R.fast32("silu", np.float32([0.75]))[0])


def test_silu_float32_correctly_rounded_around_its_minimum(isa):
    """2^20 consecutive float32 around x = -1.2785, where silu has its
    minimum and the old kernel's results moved against the true function
    694 times (it changes there by less than a float32 evaluation error
    from one input to the next): every result correctly rounded."""
    x = _float32_around(1.2784645, 2**19)
    x = -x
    check("silu", sigmoid.silu(x), R.fast32("silu", x), (x,), 0)
