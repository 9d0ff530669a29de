"""Inputs that cover every binade of both signs, plus the edges each
function cares about.  Deterministic (seeded)."""
import numpy as np

import reference as R

_INFO = {
    np.float16: (-24, 15),
    np.float32: (-149, 127),
    np.float64: (-1074, 1023),
}


def binades(dtype, per_binade, rng, signs=(-1, 1), lo=None, hi=None):
    """`per_binade` random values in every binade [2^e, 2^(e+1)) of the type
    (subnormal binades included), for each sign."""
    dtype = np.dtype(dtype).type
    emin, emax = _INFO[dtype]
    emin = emin if lo is None else max(emin, lo)
    emax = emax if hi is None else min(emax, hi)
    e = np.repeat(np.arange(emin, emax + 1), per_binade)
    m = rng.uniform(1.0, 2.0, e.size)
    with np.errstate(over="ignore", under="ignore"):
        v = np.ldexp(m, e).astype(dtype)
    v = v[np.isfinite(v)]
    return np.concatenate([s * v for s in signs])


def edges(name, dtype):
    """Special and boundary inputs for function `name` (first argument)."""
    dtype = np.dtype(dtype).type
    fi = np.finfo(dtype)
    common = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
              fi.smallest_normal, -fi.smallest_normal, fi.max, -fi.max, fi.eps, 1.0, -1.0]
    if name == "logit":
        return np.array(common + [0.5, 0.25, 0.75, 1 - fi.epsneg, fi.epsneg, 0.5 + fi.eps, 0.5 - fi.epsneg,
                                  1.5, -0.25], dtype=dtype)
    if name == "sigmoid_backward_from_output":
        return np.array(common + [0.5, 1 - fi.epsneg], dtype=dtype)
    if dtype == np.float64:
        special = [709.78, -709.78, 708.4, -708.4, 745.13, -745.13, 745.2, -745.2, 36.7, 37.5, -37.5,
                   1e9, -1e9, 3.0, -3.0, np.nextafter(3.0, 0), np.nextafter(-3.0, 0), -1.2784645427610737]
    elif dtype == np.float32:
        special = [88.72, -88.72, 87.33, -87.33, 103.97, -103.97, 104.0, -104.0, 86.0, -86.0, 16.64,
                   17.33, 1e9, -1e9, 3.0, -3.0, np.nextafter(np.float32(3), np.float32(0)),
                   np.nextafter(np.float32(-3), np.float32(0)), -1.2784646]
    else:
        special = [11.09, -11.09, 17.33, -17.33, 3.0, -3.0, -1.278]
    return np.array(common + special, dtype=dtype)


def args(name, dtype, per_binade, rng):
    """Argument tuple for function `name` covering all binades and edges."""
    dtype = np.dtype(dtype).type
    if name == "logit":
        small = binades(dtype, per_binade, rng, signs=(1,), hi=-2)
        p = np.concatenate([small, (1 - small).astype(dtype), rng.uniform(0, 1, 4 * per_binade).astype(dtype),
                            edges(name, dtype)])
        return (p,)
    if name == "sigmoid_backward_from_output":
        small = binades(dtype, per_binade, rng, signs=(1,), hi=-1)
        y = np.concatenate([small, (1 - small).astype(dtype), edges(name, dtype)])
        g = binades(dtype, 1, rng)
        g = rng.choice(g[np.isfinite(g)], y.size).astype(dtype)
        return (y, g)
    x = np.concatenate([binades(dtype, per_binade, rng), edges(name, dtype)])
    if name in R.FUNCTIONS_2:
        g = rng.standard_normal(x.size) * np.exp2(rng.integers(-40, 40, x.size))
        g[: x.size // 10] = 1.0
        return (x, g.astype(dtype))
    return (x,)


#: float32 inputs whose results lie closest to a rounding boundary, found by
#: tools/sweep_float32.py over all 2^32 inputs (--list): for logit, the
#: inputs the double-precision path alone rounds to the wrong side; for
#: softplus, inputs from every binade that the fast path alone rounded to
#: the wrong side (its rounding test must send them on), then the six whose
#: float64 result is still within 4 double ulps of a rounding boundary, all
#: 2^32 searched (they are computed in double-double; 0x1.d483a0p-12 would
#: round wrongly from float64), then one per binade and sign of the inputs
#: that SSE2's double path (vexp.h, without FMA) rounds to the wrong side
#: without its rounding test (all 2^32 searched); log_sigmoid's are their
#: negatives
_SOFTPLUS_HARD = ["0x1.105c62p-24", "-0x1.df29eep-25", "0x1.0882dcp-19", "-0x1.001ff4p-13", "0x1.0189bep-9",
                  "-0x1.000fd8p-5", "0x1.0052a2p-1", "0x1.0513d0p+0", "-0x1.0185dep+1", "-0x1.00f822p+3",
                  "-0x1.004c5cp+5",
                  "0x1.172c44p-12", "0x1.d483a0p-12", "0x1.ad174ep-10", "0x1.47f110p+2", "-0x1.df473ep-25",
                  "-0x1.65cf30p+6",
                  "0x1.882e30p-23", "0x1.441718p-22", "0x1.220b8ap-21", "0x1.1105c2p-20", "0x1.1882dap-19",
                  "0x1.0c4160p-18", "0x1.1a2092p-17", "0x1.1f100cp-16", "0x1.8e86f8p-15", "0x1.0c42fep-14",
                  "0x1.0b9fdcp-13", "0x1.1c2c18p-12", "0x1.099fe6p-11", "0x1.1f1822p-10", "0x1.3af1b2p-9",
                  "0x1.137e4cp-7", "0x1.0db2a4p-6", "0x1.4bf7bcp-5", "0x1.58e4dep-4", "0x1.0f1d5cp-3",
                  "0x1.07e6bcp-2", "0x1.4d3846p-1", "0x1.2f1102p+0", "-0x1.df4708p-25", "-0x1.77d1c4p-23",
                  "-0x1.3be8e4p-22", "-0x1.1df474p-21", "-0x1.0efa3ep-20", "-0x1.177d26p-19", "-0x1.1bbea2p-18",
                  "-0x1.19df6ep-17", "-0x1.00efe4p-16", "-0x1.137866p-15", "-0x1.413d7cp-14", "-0x1.0ba024p-13",
                  "-0x1.6536c4p-12", "-0x1.12a0b2p-11", "-0x1.03d43ap-10", "-0x1.187046p-9", "-0x1.2c92ecp-7",
                  "-0x1.1f8a32p-6", "-0x1.956b56p-5", "-0x1.43e7eep-4", "-0x1.c0c966p-3", "-0x1.07e6bcp-2",
                  "-0x1.53b894p-1", "-0x1.413b82p+0", "-0x1.04c3a8p+1"]
#: for sigma and silu: inputs from every binade that the float path alone,
#: without its rounding test, rounds to the wrong side (an emulation of the
#: path in NumPy, 2^18 inputs per binade and sign, for both table sizes),
#: the first ones the sweep found rounded to even at 1/2 + x/4 (sigma), and
#: those whose float64 result is still within 4 double ulps of a rounding
#: boundary (all 2^32 searched; they are computed in double-double), beyond
#: the series' ranges (sigma |x| >= 2^-13, silu |x| >= 2^-30), then one per
#: binade and sign of the inputs that SSE2's double path (vcr.h) rounds to
#: the wrong side without its rounding test (all 2^32 searched; silu has none)
_SIGMOID_HARD = ["-0x1.3cfaf2p+6", "-0x1.7026aap+5", "-0x1.74d278p+4", "-0x1.4aa6fap+3", "-0x1.40813cp+2",
                 "-0x1.a672d2p+1", "-0x1.d90806p+0", "-0x1.9b1080p-1", "-0x1.ffc522p-2", "-0x1.375e88p-3",
                 "-0x1.910a00p-4", "-0x1.b3204cp-6", "-0x1.cbab6ep-7", "-0x1.45df2cp-8", "0x1.8dbc40p-7",
                 "0x1.a29454p-6", "0x1.ed716ep-5", "0x1.59de68p-3", "0x1.d3826ap-2", "0x1.a14ac8p-1",
                 "0x1.5dd25ap+0", "0x1.800000p-22", "0x1.c00000p-21", "-0x1.800000p-23", "-0x1.c00000p-22",
                 "0x1.d13002p-11", "0x1.250c08p-9", "0x1.437902p-5", "-0x1.250c02p-10", "-0x1.2082e0p-3",
                 "-0x1.32c9a0p-1", "-0x1.65cf30p+6",
                 "0x1.600000p-20", "0x1.300000p-19", "0x1.180000p-18", "0x1.0c0000p-17", "-0x1.600000p-21",
                 "-0x1.300000p-20", "-0x1.180000p-19", "-0x1.0c0000p-18", "-0x1.060000p-17"]
_SILU_HARD = ["-0x1.4311eap+6", "-0x1.4ccc7ap+5", "-0x1.54c3dap+4", "-0x1.957386p+3", "-0x1.869714p+2",
              "-0x1.f4ddb2p+1", "-0x1.a10b7cp+0", "-0x1.f10a9ep-1", "-0x1.9ec932p-2", "-0x1.f06170p-3",
              "-0x1.8ad5b2p-4", "-0x1.ec095ep-5", "-0x1.cb604cp-7", "0x1.75907ep-8", "0x1.f468e2p-7",
              "0x1.fb5532p-6", "0x1.ef0436p-5", "0x1.e25aa0p-4", "0x1.7a849ep-3", "0x1.8401e0p-2",
              "0x1.b4d72ap-1", "0x1.000000p-23", "0x1.800000p-21", "0x1.c48c60p-20", "0x1.400000p-19",
              "0x1.c00000p-19", "0x1.200000p-17", "0x1.2388acp-17", "0x1.600000p-17", "0x1.a00000p-17",
              "0x1.e00000p-17", "0x1.24d91cp-15", "-0x1.000000p-23", "-0x1.800000p-21", "-0x1.c48c60p-20",
              "-0x1.400000p-19", "-0x1.c00000p-19", "-0x1.200000p-17", "-0x1.2388acp-17", "-0x1.600000p-17",
              "-0x1.a00000p-17", "-0x1.e00000p-17", "-0x1.24d91cp-15"]
HARD_FLOAT32 = {
    "sigmoid": _SIGMOID_HARD,
    "silu": _SILU_HARD,
    "logit": ["0x1.13986cp-22", "0x1.0dbf94p-2", "0x1.d378d4p-2", "0x1.d3f89cp-2"],
    "softplus": _SOFTPLUS_HARD,
    "log_sigmoid": [h[1:] if h[0] == "-" else "-" + h for h in _SOFTPLUS_HARD],
}
