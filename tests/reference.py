"""Reference values for the accuracy tests and the float32 sweeps.

Two references, both giving the *correctly rounded* result in the target
dtype:

* ``exact(name, *args, dtype)``: mpmath at 60 significant digits, then one
  correct rounding (ties to even, subnormals included).  Slow (tens of
  microseconds a point): used for float64 and for undecided float32 points.

* ``fast32(name, *args)``: for float32 (and float16) inputs, a float64
  formula together with a bound on its relative error.  Where the interval
  ``ref * (1 +- bound)`` contains no float32 rounding boundary, its float32
  rounding is the correctly rounded result, provably; the few points where
  it does are recomputed with mpmath.  The bounds are generous multiples of
  the float64 formula's worst case (each libm call within 1 ulp, each
  operation 1/2 ulp) and, where a formula cancels, computed per point from
  the absolute error.

ULP distance: both results are mapped to integers that order the floats
(-0 and +0 both to 0); the distance is the difference of those integers, so
1 means "adjacent floats".
"""
from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import numpy as np

mp.mp.dps = 60

FUNCTIONS_1 = ("sigmoid", "log_sigmoid", "softplus", "logit", "hard_sigmoid", "silu")
FUNCTIONS_2 = (
    "sigmoid_backward",
    "sigmoid_backward_from_output",
    "hard_sigmoid_backward",
    "silu_backward",
)

_FORMATS = {
    np.dtype(np.float16): (11, -14, 15),   # mantissa bits (with the implicit one), emin, emax
    np.dtype(np.float32): (24, -126, 127),
    np.dtype(np.float64): (53, -1022, 1023),
}

# ----------------------------------------------------------------- rounding


def _format(dtype):
    """(mantissa bits, emin, emax) of a float dtype, bfloat16 included."""
    if dtype.name == "bfloat16":
        return 8, -126, 127
    return _FORMATS[dtype]


def round_exact(v: mp.mpf, dtype) -> float:
    """Round an mpmath value to the nearest ``dtype`` number, ties to even."""
    dtype = np.dtype(dtype)
    p, emin, emax = _format(dtype)
    if mp.isnan(v):
        return float("nan")
    if mp.isinf(v):
        return float(v)
    if v == 0:
        return 0.0
    sign = -1 if v < 0 else 1
    a = abs(v)
    e = int(mp.floor(mp.log(a, 2)))
    # guard against log rounding at exact powers of two
    if mp.ldexp(1, e) > a:
        e -= 1
    elif mp.ldexp(1, e + 1) <= a:
        e += 1
    q = max(e, emin) - (p - 1)  # exponent of the last mantissa bit
    scaled = mp.ldexp(a, -q)  # to be rounded to an integer
    n = int(mp.floor(scaled))
    frac = scaled - n
    if frac > 0.5 or (frac == 0.5 and n % 2 == 1):
        n += 1
    if n >= 2**p and e >= emax:
        return sign * float("inf")
    out = float(mp.ldexp(n, q))
    if abs(out) > (2 - 2.0 ** (1 - p)) * 2.0**emax:
        return sign * float("inf")
    return sign * out


def _exact_rational(fr: Fraction, dtype) -> float:
    # enough digits for every bit of the quotient that can decide a rounding
    with mp.workdps(len(str(fr.numerator)) + len(str(fr.denominator)) + 40):
        return round_exact(mp.mpf(fr.numerator) / fr.denominator, dtype)


# ------------------------------------------------------------ mpmath forms


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _mp_value(name: str, args: tuple[float, ...]):
    """The exact value (mpmath) of function `name`, or a Fraction when it is
    rational in its arguments, or a float for special values."""
    if name == "hard_sigmoid":
        (x,) = args
        if np.isnan(x):
            return float("nan")
        if x <= -3:
            return 0.0
        if x >= 3:
            return 1.0
        return (Fraction(x) + 3) / 6
    if name == "hard_sigmoid_backward":
        x, g = args
        if np.isnan(x) or np.isnan(g):
            return float("nan")
        if -3 < x < 3:
            return Fraction(g) / 6 if np.isfinite(g) else g / 6
        return g * 0.0
    if name == "sigmoid_backward_from_output":
        y, g = args
        if not (np.isfinite(y) and np.isfinite(g)):
            return g * (y * (1 - y))
        return Fraction(g) * Fraction(y) * (1 - Fraction(y))
    if any(np.isnan(a) for a in args):
        return float("nan")
    x = mp.mpf(args[0])
    if name == "sigmoid":
        if np.isinf(args[0]):
            return 1.0 if x > 0 else 0.0
        return _sig(x)
    if name == "log_sigmoid":
        if np.isinf(args[0]):
            return -0.0 if x > 0 else float("-inf")
        return -mp.log1p(mp.exp(-x))
    if name == "softplus":
        if np.isinf(args[0]):
            return float("inf") if x > 0 else 0.0
        return mp.log1p(mp.exp(x))
    if name == "logit":
        p = args[0]
        if p < 0 or p > 1:
            return float("nan")
        if p == 0:
            return float("-inf")
        if p == 1:
            return float("inf")
        return mp.log(x / (1 - x))
    if name == "silu":
        if np.isinf(args[0]):
            return float("inf") if x > 0 else -0.0
        return x * _sig(x)
    if name == "sigmoid_backward":
        g = args[1]
        if np.isinf(args[0]):
            return g * 0.0
        d = _sig(x) * _sig(-x)
        if np.isinf(g):
            return g
        return mp.mpf(g) * d
    if name == "silu_backward":
        g = args[1]
        if np.isinf(args[0]):
            return g * (1.0 if x > 0 else 0.0)
        d = _sig(x) * (1 + x * _sig(-x))
        if np.isinf(g):
            return g * float(mp.sign(d))
        return mp.mpf(g) * d
    raise KeyError(name)


def _digits(args) -> int:
    """Working digits for arguments far below 1: the terms of a series in x
    that decide a rounding sit about 2 |log10 x| digits below its first one
    (x/2 + x^2/4 for silu at x = 2^-133), so 60 digits are not enough there."""
    tiny = [abs(a) for a in args if a != 0 and np.isfinite(a) and abs(a) < 1]
    return 60 + (int(-2 * np.log10(min(tiny))) + 10 if tiny else 0)


def exact(name: str, *args, dtype=np.float64) -> np.ndarray:
    """Correctly rounded reference for arrays of arguments (mpmath)."""
    dtype = np.dtype(dtype)
    arrs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args])
    out = np.empty(arrs[0].shape, dtype=dtype)
    flat = [a.ravel() for a in arrs]
    res = out.ravel()
    for i in range(res.size):
        args_i = tuple(float(a[i]) for a in flat)
        with mp.workdps(_digits(args_i)):
            v = _mp_value(name, args_i)
            if isinstance(v, Fraction):
                res[i] = _exact_rational(v, dtype)
            elif isinstance(v, float):
                res[i] = v
            else:
                res[i] = round_exact(v, dtype)
    return out


# ------------------------------------------------- float64 fast references


def _f64_value(name: str, args: tuple[np.ndarray, ...]):
    """float64 value and relative error bound (array) for float32 inputs."""
    eps = 2.0**-52
    with np.errstate(all="ignore"):
        if name in ("sigmoid", "silu", "sigmoid_backward"):
            x = args[0]
            e = np.exp(-np.abs(x))
            pos = 1 / (1 + e)
            neg = e / (1 + e)
            s = np.where(x >= 0, pos, neg)
            if name == "sigmoid":
                return s, np.full(x.shape, 8 * eps)
            if name == "silu":
                return x * s, np.full(x.shape, 10 * eps)
            return args[1] * (pos * neg), np.full(x.shape, 16 * eps)
        if name == "log_sigmoid":
            x = args[0]
            v = np.where(x >= 0, -np.log1p(np.exp(-x)), x - np.log1p(np.exp(x)))
            return v, np.full(x.shape, 8 * eps)
        if name == "softplus":
            x = args[0]
            return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), np.full(x.shape, 8 * eps)
        if name == "logit":
            p = args[0]
            d = 2 * p - 1  # exact for float32 p
            mid = np.log1p(d) - np.log1p(-d)
            tail = np.log(p) - np.log1p(-p)
            v = np.where(np.abs(d) <= 0.5, mid, tail)
            return v, np.full(p.shape, 8 * eps)
        if name == "hard_sigmoid":
            x = args[0]
            v = np.clip((x + 3) / 6, 0, 1)
            return v, np.full(x.shape, 2 * eps)
        if name == "hard_sigmoid_backward":
            x, g = args
            v = np.where(np.abs(x) < 3, g / 6, g * 0.0)
            v = np.where(np.isnan(x), np.nan, v)
            return v, np.full(x.shape, 2 * eps)
        if name == "sigmoid_backward_from_output":
            y, g = args
            return g * (y * (1 - y)), np.full(y.shape, 4 * eps)
        if name == "silu_backward":
            x, g = args
            e = np.exp(-np.abs(x))
            pos = 1 / (1 + e)
            neg = e / (1 + e)
            s = np.where(x >= 0, pos, neg)
            sm = np.where(x >= 0, neg, pos)
            m = 1 + x * sm
            v = g * (s * m)
            # 1 + x sigma(-x) cancels near x0: bound its absolute error
            rel = (8 * eps * (1 + np.abs(x * sm))) / np.maximum(np.abs(m), 1e-300) + 8 * eps
            return v, rel
    raise KeyError(name)


def fast32(name: str, *args, dtype=np.float32) -> np.ndarray:
    """Correctly rounded float32 (or float16) results for float32 inputs."""
    dtype = np.dtype(dtype)
    arrs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in args])
    flat = tuple(a.ravel() for a in arrs)
    v, rel = _f64_value(name, flat)
    with np.errstate(all="ignore"):
        rel = rel + 2.0**-51
        lo = (v - np.abs(v) * rel).astype(dtype)
        hi = (v + np.abs(v) * rel).astype(dtype)
        out = v.astype(dtype)
    undecided = (lo != hi) & np.isfinite(v)
    # every function gives nan for nan in any argument; infinite arguments
    # go to mpmath's special-value rules; finite arguments with a non-finite
    # value (logit outside (0, 1)) are right in float64 already
    nan_in = np.zeros(v.shape, dtype=bool)
    inf_in = np.zeros(v.shape, dtype=bool)
    for a in flat:
        nan_in |= np.isnan(a)
        inf_in |= np.isinf(a)
    out[nan_in] = np.nan
    redo = (undecided | inf_in) & ~nan_in
    if np.any(redo):
        idx = np.nonzero(redo)[0]
        out[idx] = exact(name, *[a[idx] for a in flat], dtype=dtype)
    return out.reshape(arrs[0].shape)


# -------------------------------------------------------------------- ulp


def ordinal(a: np.ndarray) -> np.ndarray:
    """Map floats to int64 so that adjacent floats differ by 1 (-0 -> 0)."""
    a = np.asarray(a)
    itype = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(itype).astype(np.int64)
    mag = i & np.int64(np.iinfo(itype).max)
    return np.where(i < 0, -mag, mag)


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """ULP distance; 0 where both are NaN, huge where exactly one is."""
    got = np.asarray(got)
    want = np.asarray(want, dtype=got.dtype)
    d = np.abs(ordinal(got) - ordinal(want))
    gn, wn = np.isnan(got), np.isnan(want)
    d = np.where(gn & wn, 0, d)
    return np.where(gn ^ wn, np.int64(2**62), d)


# ------------------------------------------------------------ losses (mpmath)


def _softplus(x):
    # log1p(e^x) without overflow at huge x
    return x + mp.log1p(mp.exp(-x)) if x > 0 else mp.log1p(mp.exp(x))


def smoothed(y, s):
    """The smoothed target as the library forms it: y (1 - s) + s/2 with one
    rounding to double (an FMA of the rounded 1 - s and s/2)."""
    return float(mp.mpf(y) * mp.mpf(1.0 - s) + mp.mpf(0.5 * s))


def ref_bce(x, y, w=1.0, p=1.0, s=0.0):
    """(loss, dloss/dx) exactly, from the definitions."""
    if s:
        y = smoothed(y, s)
    x, y, w, p = mp.mpf(x), mp.mpf(y), mp.mpf(w), mp.mpf(p)
    loss = w * ((1 - y) * _softplus(x) + p * y * _softplus(-x))
    grad = w * ((1 - y) * _sig(x) - p * y * _sig(-x))
    return loss, grad


def ref_focal(x, y, alpha, gamma):
    # alpha and gamma as the doubles given: 1 - alpha and gamma - 1 in
    # Python floats would be rounded (gamma = 0.3: 25 ULP at x = -264)
    x, y, alpha, gamma = mp.mpf(x), mp.mpf(y), mp.mpf(alpha), mp.mpf(gamma)
    ce, dce = ref_bce(x, y)
    m = y * _sig(-x) + (1 - y) * _sig(x)
    at = 1 if alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
    f = m**gamma if gamma != 0 else mp.mpf(1)
    loss = at * ce * f
    dm = (1 - 2 * y) * _sig(x) * _sig(-x)
    grad = at * (dce * f + (ce * gamma * m ** (gamma - 1) * dm if gamma != 0 else 0))
    return loss, grad


def ref_bce_probs(q, y, w=1.0):
    q, y, w = mp.mpf(q), mp.mpf(y), mp.mpf(w)
    lq = max(mp.log(q), -100) if q > 0 else mp.mpf(-100)
    l1q = max(mp.log1p(-q), -100) if q < 1 else mp.mpf(-100)
    loss = -w * (y * lq + (1 - y) * l1q)
    grad = w * (q - y) / max(q * (1 - q), mp.mpf(1e-12))  # PyTorch's eps: the double nearest 1e-12
    return loss, grad
