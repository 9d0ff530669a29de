"""The fused multiply-add every kernel builds on, a b + c rounded once, on
every instruction set this machine offers: native FMA (AVX2, AVX-512, NEON),
libm's fma (portable) and SSE2's exact emulation in vector code, against the
exact value rounded to nearest even here, with rational arithmetic.  The
kernels' results are bit-identical across instruction sets only if this is."""
import math
from fractions import Fraction

import numpy as np
import pytest

from sigmoid import _core

ISAS = _core._supported_isas().split(",")

# significand bits, smallest normal exponent, largest finite value
FORMATS = {
    np.float32: (24, -126, Fraction(2**24 - 1, 2**23) * 2**127),
    np.float64: (53, -1022, Fraction(2**53 - 1, 2**52) * 2**1023),
}


def _round(v, dt):
    """The exact nonzero rational v rounded to nearest, ties to even, in dt
    (subnormal results and overflow to infinity included)."""
    p, emin, top = FORMATS[dt]
    a = abs(v)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1                                   # now 2^e <= a < 2^(e + 1)
    u = max(e, emin) - (p - 1)                   # the ulp of a's binade (or of the subnormals)
    r = round(a / Fraction(2) ** u) * Fraction(2) ** u    # round() of a Fraction: half to even
    r = math.inf if r > top else float(r)
    return -r if v < 0 else r


def _exact_fma(a, b, c, dt):
    """a b + c rounded once, as IEEE 754's fusedMultiplyAdd."""
    out = np.empty(a.size, dt)
    for i, (x, y, z) in enumerate(zip(a.tolist(), b.tolist(), c.tolist())):
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            # the product of finite a and b is finite, however large: only an
            # infinite operand makes it infinite (0 inf is NaN, so is inf - inf)
            if math.isfinite(x) and math.isfinite(y):
                out[i] = z
            else:
                with np.errstate(all="ignore"):
                    out[i] = np.float64(x) * np.float64(y) + np.float64(z)
            continue
        v = Fraction(x) * Fraction(y) + Fraction(z)
        if v != 0:
            out[i] = _round(v, dt)
        elif x * y == 0 and z == 0:
            # a zero product plus a zero: negative only if both are
            neg = (math.copysign(1, x) * math.copysign(1, y) < 0) and math.copysign(1, z) < 0
            out[i] = -0.0 if neg else 0.0
        else:
            out[i] = 0.0                      # exact cancellation rounds to +0
    return out


def _finite_bits(rng, n, dt):
    """n finite values of dt with uniformly random bit patterns: every
    exponent, subnormals, both signs."""
    it = np.uint32 if dt == np.float32 else np.uint64
    info = np.iinfo(it)
    v = rng.integers(0, info.max, n, dtype=it, endpoint=True).view(dt)
    while True:
        bad = ~np.isfinite(v)
        if not bad.any():
            return v
        v[bad] = rng.integers(0, info.max, int(bad.sum()), dtype=it, endpoint=True).view(dt)


def _near_midpoints(dt):
    """a b + c a tiny step beside a midpoint m of dt's grid next to c:
    a = 2^i (1 + 2^-k), b = ±2^j (1 - 2^-k), 2^(i + j) half an ulp of c, so
    that a b = ±2^(i + j) (1 - 2^-2k); c's significand odd or even, the step
    above or below m.  For float32 the step is below half an ulp of double,
    so a b + c rounded to double lands on m, and rounding that to float
    breaks the tie the wrong way for half of them; for float64 the steps are
    2^-55 to 2^-105 of an ulp, which the emulation's exact sums must keep."""
    p = 24 if dt == np.float32 else 53
    ks = range(p // 2 + 3, p) if dt == np.float32 else range(27, 53)
    A, B, C = [], [], []
    for E in range(-100, 101, 9):
        for odd in (0, 1):
            for sign_c in (1, -1):
                c = sign_c * (1 + (2 * 5 + odd) * 2.0 ** (1 - p)) * 2.0**E
                for k in ks:
                    for sign_p in (1, -1):
                        i = (E - p) // 2
                        A.append(2.0**i * (1 + 2.0**-k))
                        B.append(sign_p * 2.0 ** (E - p - i) * (1 - 2.0**-k))
                        C.append(c)
    return [np.array(v, dt) for v in (A, B, C)]


def _near_subnormal_midpoints():
    """The same below float's normal range, where the grid is 2^-149: c a
    subnormal float near 2^-127 (its significand odd or even), a b = ±2^-150
    (1 - 2^-2k), so that a b + c is 2^-(150 + 2k) beside an odd multiple of
    2^-150, below half an ulp of double there (2^-180)."""
    A, B, C = [], [], []
    for odd in (0, 1):
        for sign_c in (1, -1):
            for m in (2**22 + 10 + odd, 2**22 + 2**21 + 6 + odd):
                for k in range(16, 24):
                    for sign_p in (1, -1):
                        A.append(2.0**-75 * (1 + 2.0**-k))
                        B.append(sign_p * 2.0**-75 * (1 - 2.0**-k))
                        C.append(sign_c * m * 2.0**-149)
    return [np.array(v, np.float32) for v in (A, B, C)]


def _cases(dt):
    rng = np.random.default_rng(11 if dt == np.float32 else 12)
    n = 2500
    sets = [[_finite_bits(rng, n, dt) for _ in range(3)]]
    # moderate magnitudes, and c nearly -a b: deep cancellation
    a = (rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))).astype(dt)
    b = (rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))).astype(dt)
    c = (-(a.astype(np.float64) * b) * (1 + rng.standard_normal(n) * 2.0**-20)).astype(dt)
    sets.append([a, b, c])
    # products near the bottom of the range beside subnormal and tiny c
    lo = -75 if dt == np.float32 else -540
    a = (rng.random(n) + 0.5) * np.exp2(rng.integers(lo - 5, lo + 5, n))
    b = (rng.random(n) + 0.5) * np.exp2(rng.integers(lo - 5, lo + 5, n))
    c = rng.standard_normal(n) * np.exp2(rng.integers(2 * lo - 10, 2 * lo + 10, n))
    sets.append([v.astype(dt) for v in (a, b, c)])
    sets.append(_near_midpoints(dt))
    if dt == np.float32:
        sets.append(_near_subnormal_midpoints())
    # products beside the largest finite values
    big = np.finfo(dt).max
    a = (np.sqrt(big) * (1 + rng.random(200))).astype(dt)
    b = (np.sqrt(big) * (0.5 + rng.random(200) / 2)).astype(dt)
    c = (-big * rng.random(200)).astype(dt)
    sets.append([a, b, c])
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0**-140 if dt == np.float32 else 5e-324,
                        big, -big], dt)
    grid = np.array(np.meshgrid(special, special, special, indexing="ij")).reshape(3, -1)
    sets.append(list(grid))
    return [np.ascontiguousarray(np.concatenate([s[k] for s in sets])) for k in range(3)]


@pytest.fixture(scope="module", params=[np.float32, np.float64], ids=["float32", "float64"])
def cases(request):
    dt = request.param
    a, b, c = _cases(dt)
    return dt, a, b, c, _exact_fma(a, b, c, dt)


def test_the_midpoint_cases_defeat_rounding_twice():
    """The float32 cases beside midpoints are what they claim: a b + c in
    double lands on a float midpoint, and rounding that to float gives
    another result than the FMA for about half of them."""
    a, b, c = _near_midpoints(np.float32)
    s = a.astype(np.float64) * b + c           # the product is exact in double
    low = s.view(np.uint64) & np.uint64(0x1FFFFFFF)
    assert np.all(low == np.uint64(0x10000000))
    wrong = s.astype(np.float32) != _exact_fma(a, b, c, np.float32)
    assert 0.3 < wrong.mean() < 0.7, wrong.mean()
    a, b, c = _near_subnormal_midpoints()
    s = a.astype(np.float64) * b + c
    assert np.all(np.abs(s) < 2.0**-126) and np.all(np.abs(s * 2.0**150) % 2 == 1)
    with np.errstate(under="ignore"):          # rounding to a subnormal float
        wrong = s.astype(np.float32) != _exact_fma(a, b, c, np.float32)
    assert 0.3 < wrong.mean() < 0.7, wrong.mean()


@pytest.mark.parametrize("isa", ISAS)
def test_fma_is_rounded_once_on_every_instruction_set(isa, cases):
    dt, a, b, c, want = cases
    old = _core._get_isa()
    _core._set_isa(isa)
    try:
        got = _core._fma(a, b, c)
        # every length around the vector widths: the padded tail too
        tails = [_core._fma(a[:m].copy(), b[:m].copy(), c[:m].copy()) for m in range(1, 20)]
    finally:
        _core._set_isa(old)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    bad = np.flatnonzero(~nan & (got.view(f"u{got.itemsize}") != want.view(f"u{want.itemsize}")))
    assert bad.size == 0, [(a[i], b[i], c[i], got[i], want[i]) for i in bad[:5]]
    for m, t in enumerate(tails, 1):
        np.testing.assert_array_equal(t, got[:m])


def test_fma_refuses_what_it_cannot_take():
    x = np.zeros(4, np.float32)
    with pytest.raises(TypeError, match=r"_fma\(\): argument 2"):
        _core._fma(x, np.zeros(4), x)
    with pytest.raises(TypeError, match=r"_fma\(\): argument 3"):
        _core._fma(x, x, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"_fma\(\): argument 1"):
        _core._fma(np.zeros(4, np.int32), x, x)
