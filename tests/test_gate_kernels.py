"""The recurrent cells' pointwise kernels of sigmoid._core (_lstm_forward,
_lstm_backward, _gru_forward, _gru_backward): every output against mpmath,
tanh to 2 ULP over every binade, bit-identical instruction sets, outputs that
are their inputs, and the argument checks."""
import ctypes
import ctypes.util
import platform
import sys

import mpmath as mp
import numpy as np
import pytest

import reference as R  # noqa: F401  (sets mpmath's precision: 60 digits)
import samples
from sigmoid import _core

DTYPES = [np.float32, np.float64]
SHAPES = [(3, 37), (2, 300), (1, 1), (4, 8)]

# The relative error of the computation in double: float32 data takes the
# shorter forms of sigma and tanh (2^-33), float64 data the full ones.
EPS = {np.float32: 2.0**-33, np.float64: 2.0**-53}
# the output's own rounding: once to float, or the last few double roundings
ULPS = {np.float32: 1, np.float64: 2}

# ------------------------------------------------------------------- helpers


def emap(f, *arrays):
    """f of mpmath numbers, elementwise over float arrays of one shape; f
    returns a tuple, and emap one float64 array per entry.  (Plain loops:
    NumPy's object loops would report the NaN comparisons inside mpmath as
    floating-point errors.)"""
    arrays = [np.asarray(a) for a in arrays]
    res = [f(*(mp.mpf(float(a.flat[k])) for a in arrays)) for k in range(arrays[0].size)]
    return [np.array([float(r[j]) for r in res]).reshape(arrays[0].shape) for j in range(len(res[0]))]


def sig(x):
    return 1 / (1 + mp.exp(-x))


def mulz(a, b):
    """a b, with 0 for a = 0 even where b is infinite (a zero derivative
    times an infinite argument: no error)."""
    return mp.mpf(0) if a == 0 else a * b


def assert_close(what, got, want, scale, dtype):
    """|got - want| <= ULPS ulp(want) + 8 EPS scale elementwise: the output's
    rounding plus the double computation's error, where `scale` bounds the
    terms that may cancel.  want and scale come from mpmath; want is within
    half an ulp of float64, which the tolerance absorbs."""
    got = np.asarray(got)
    assert got.dtype == dtype
    with np.errstate(all="ignore"):
        ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
        err = np.abs(got.astype(np.float64) - want)
        tol = ULPS[dtype] * ulp + 8 * EPS[dtype] * scale + np.spacing(np.abs(want))
        bad = ~(err <= tol) & ~(got == want) & ~(np.isnan(got) & np.isnan(want))
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} off, e.g. got {got[bad][:3]}, "
                           f"want {want[bad][:3]}, err/tol {(err / tol)[bad][:3]}")


def preacts(rng, shape, dtype, infinities=True):
    """Gate pre-activations: normal ones, with large magnitudes, infinities,
    zeros and the tanh branch point at random places."""
    x = rng.standard_normal(shape) * 4.0
    special = [30.0, -30.0, 800.0, -800.0, 0.0, -0.0, 1e-30, -1e-30, 0.5625, -0.5625, 20.0]
    if infinities:
        special += [np.inf, -np.inf]
    pick = rng.random(shape) < 0.2
    x[pick] = rng.choice(special, int(pick.sum()))
    return x.astype(dtype)


def empty(dtype, *shapes):
    return [np.full(s, 7.0, dtype) for s in shapes]


def lstm_forward(gates, c_prev):
    B, H = c_prev.shape
    h, c, tc = empty(gates.dtype, (B, H), (B, H), (B, H))
    act = np.full((B, 4 * H), 7.0, gates.dtype)
    _core._lstm_forward(gates, c_prev, h, c, act, tc)
    return h, c, act, tc


def lstm_backward(dh, dc, act, c_prev, tanhc):
    B, H = dh.shape
    dg, dcp = empty(dh.dtype, (B, 4 * H), (B, H))
    _core._lstm_backward(dh, dc, act, c_prev, tanhc, dg, dcp)
    return dg, dcp


def gru_forward(gi, gh, h_prev):
    B, H = h_prev.shape
    h, act = empty(gi.dtype, (B, H), (B, 4 * H))
    _core._gru_forward(gi, gh, h_prev, h, act)
    return h, act


def gru_backward(dh, act, h_prev):
    B, H = dh.shape
    dgi, dgh, dhp = empty(dh.dtype, (B, 3 * H), (B, 3 * H), (B, H))
    _core._gru_backward(dh, act, h_prev, dgi, dgh, dhp)
    return dgi, dgh, dhp


def blocks(a, k):
    H = a.shape[1] // k
    return [a[:, j * H:(j + 1) * H] for j in range(k)]


def lstm_inputs(rng, B, H, dtype):
    return preacts(rng, (B, 4 * H), dtype), (rng.standard_normal((B, H)) * 3).astype(dtype)


def gru_inputs(rng, B, H, dtype):
    gi = preacts(rng, (B, 3 * H), dtype)
    gh = preacts(rng, (B, 3 * H), dtype, infinities=False)  # r gh_n: 0 * inf is nan
    return gi, gh, (rng.standard_normal((B, H)) * 3).astype(dtype)


# -------------------------------------------------------------------- values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_lstm_forward_matches_mpmath(dtype, shape, isa):
    rng = np.random.default_rng(1)
    B, H = shape
    gates, c_prev = lstm_inputs(rng, B, H, dtype)
    h, c, act, tc = lstm_forward(gates, c_prev)

    def ref(gi, gf, gg, go, cp):
        i, f, g, o = sig(gi), sig(gf), mp.tanh(gg), sig(go)
        c = f * cp + i * g
        t = mp.tanh(c)
        sc = abs(f * cp) + abs(i * g)
        st = abs(t) + sc
        return i, f, g, o, c, t, o * t, sc, st, abs(o) * st

    i, f, g, o, cr, tcr, hr, sc, st, sh = emap(ref, *blocks(gates, 4), c_prev)
    for name, got, want in zip("ifgo", blocks(act, 4), (i, f, g, o)):
        assert_close(name, got, want, np.abs(want), dtype)
    assert_close("c", c, cr, sc, dtype)
    assert_close("tanh(c)", tc, tcr, st, dtype)
    assert_close("h", h, hr, sh, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_gates_are_sigma_and_tanh_within_an_ulp(dtype):
    """i, f, o are sigma and g is tanh of the pre-activations, each within
    1 ULP of the correctly rounded value (float64: sigma to 1 ULP, tanh to 2)."""
    rng = np.random.default_rng(2)
    x = np.concatenate([samples.binades(dtype, 2, rng, hi=12), samples.edges("sigmoid", dtype)])
    n = x.size
    gates = np.tile(x, 4).reshape(1, 4 * n)
    _, _, act, _ = lstm_forward(gates, np.zeros((1, n), dtype))
    xm = [mp.mpf(float(v)) for v in x]
    sg = np.array([R.round_exact(sig(v), dtype) for v in xm], dtype)
    tnh = np.array([R.round_exact(mp.tanh(v), dtype) for v in xm], dtype)
    i, f, g, o = (b[0] for b in blocks(act, 4))
    for got, want, most in ((i, sg, 1), (f, sg, 1), (o, sg, 1), (g, tnh, 1 if dtype == np.float32 else 2)):
        d = R.ulp_distance(got, want)
        assert d.max() <= most, (x[d > most][:5], got[d > most][:5], want[d > most][:5])


def test_float32_gates_are_almost_always_correctly_rounded(isa):
    """The float32 forms of sigma and tanh are within 2^-34 and 2^-36 in
    double before the one rounding to float (vgate.h): a result can round
    the wrong way only where the true value lies that close to a midpoint
    between floats, at most 2 E / 2^-24 of the inputs (2^-9 and 2^-11).
    40,000 inputs over every binade from 2^-12 to 2^5 and densely where
    tanh's t = e^-2|x| needs no reduction (|x| < ln2/64, where 1 - t = -q):
    measured 1 and 0 misrounded; a degree-4 q, 2^-29 there, gives 54 for tanh."""
    rng = np.random.default_rng(7)
    x = np.concatenate([samples.binades(np.float32, 1000, rng, lo=-12, hi=4),
                        rng.uniform(-0.02, 0.02, 6000).astype(np.float32)])
    n = x.size
    _, _, act, _ = lstm_forward(np.tile(x, 4).reshape(1, 4 * n), np.zeros((1, n), np.float32))
    xm = [mp.mpf(float(v)) for v in x]
    sg = np.array([R.round_exact(sig(v), np.float32) for v in xm], np.float32)
    tnh = np.array([R.round_exact(mp.tanh(v), np.float32) for v in xm], np.float32)
    i, f, g, o = (b[0] for b in blocks(act, 4))
    for name, got, want, most in (("i", i, sg, 2.0**-9), ("f", f, sg, 2.0**-9), ("o", o, sg, 2.0**-9),
                                  ("g", g, tnh, 2.0**-11)):
        assert R.ulp_distance(got, want).max() <= 1, name
        assert np.mean(got != want) <= most, (name, np.mean(got != want), x[got != want][:5])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_lstm_backward_matches_mpmath(dtype, shape, isa):
    rng = np.random.default_rng(3)
    B, H = shape
    gates, c_prev = lstm_inputs(rng, B, H, dtype)
    _, _, act, tanhc = lstm_forward(gates, c_prev)
    dh = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dc = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dg, dcp = lstm_backward(dh, dc, act, c_prev, tanhc)

    def ref(i, f, g, o, cp, tc, dh, dc):
        dct = dc + dh * o * (1 - tc * tc)
        sct = abs(dc) + abs(dh * o * (1 - tc * tc))
        d_o = dh * tc * o * (1 - o)
        return (dct * g * i * (1 - i), dct * cp * f * (1 - f), dct * i * (1 - g * g), d_o, dct * f,
                sct * abs(g * i * (1 - i)), sct * abs(cp * f * (1 - f)), sct * abs(i * (1 - g * g)),
                abs(d_o), sct * abs(f))

    r = emap(ref, *blocks(act, 4), c_prev, tanhc, dh, dc)
    for k, (name, got) in enumerate(zip(("d_i", "d_f", "d_g", "d_o", "dc_prev"), blocks(dg, 4) + [dcp])):
        assert_close(name, got, r[k], r[k + 5], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gru_forward_matches_mpmath(dtype, shape, isa):
    rng = np.random.default_rng(4)
    B, H = shape
    gi, gh, h_prev = gru_inputs(rng, B, H, dtype)
    h, act = gru_forward(gi, gh, h_prev)

    def ref(ir, iz, in_, hr, hz, hn, hp):
        r, z = sig(ir + hr), sig(iz + hz)
        n = mp.tanh(in_ + r * hn)
        # the argument sums are rounded once in double: sigma' = s (1 - s)
        # carries that error; r's error reaches n through gh_n, z's reaches h
        # through both terms
        sr = abs(r) + mulz(r * (1 - r), abs(ir) + abs(hr))
        sz = abs(z) + mulz(z * (1 - z), abs(iz) + abs(hz))
        sn = abs(n) + mulz(1 - n * n, abs(in_) + sr * abs(hn))
        sh = abs(1 - z) * sn + sz * (abs(n) + abs(hp))
        return r, z, n, (1 - z) * n + z * hp, sr, sz, sn, sh

    r, z, n, hr, sr, sz, sn, sh = emap(ref, *blocks(gi, 3), *blocks(gh, 3), h_prev)
    ar, az, an, ag = blocks(act, 4)
    assert_close("r", ar, r, sr, dtype)
    assert_close("z", az, z, sz, dtype)
    assert_close("n", an, n, sn, dtype)
    np.testing.assert_array_equal(ag, blocks(gh, 3)[2])
    assert_close("h", h, hr, sh, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gru_backward_matches_mpmath(dtype, shape, isa):
    rng = np.random.default_rng(5)
    B, H = shape
    gi, gh, h_prev = gru_inputs(rng, B, H, dtype)
    _, act = gru_forward(gi, gh, h_prev)
    dh = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dgi, dgh, dhp = gru_backward(dh, act, h_prev)

    def ref(r, z, n, ghn, hp, dh):
        dn = dh * (1 - z) * (1 - n * n)
        dz = dh * (hp - n) * z * (1 - z)
        return dn * ghn * r * (1 - r), dz, dn, dn * r, dh * z

    want = emap(ref, *blocks(act, 4), h_prev, dh)
    # products only: each within a few roundings of its own value
    got = (blocks(dgi, 3)[0], blocks(dgi, 3)[1], blocks(dgi, 3)[2], blocks(dgh, 3)[2], dhp)
    for name, g, w in zip(("dgi_r", "dgi_z", "dgi_n", "dgh_n", "dh_prev"), got, want):
        assert_close(name, g, w, np.abs(w), dtype)
    np.testing.assert_array_equal(blocks(dgh, 3)[0], blocks(dgi, 3)[0])
    np.testing.assert_array_equal(blocks(dgh, 3)[1], blocks(dgi, 3)[1])


# ---------------------------------------------------------------------- tanh


def kernel_tanh(x):
    """tanh as the kernels compute it: the g block of _lstm_forward's act_out."""
    n = x.size
    gates = np.zeros((1, 4 * n), x.dtype)
    gates[0, 2 * n:3 * n] = x
    _, _, act, _ = lstm_forward(gates, np.zeros((1, n), x.dtype))
    return act[0, 2 * n:3 * n]


def ulp_error(got, x):
    """|got - tanh(x)| in ULPs of tanh(x) (float64), from mpmath."""
    worst, where = 0.0, None
    for xi, gi in zip(x, got):
        v = mp.tanh(mp.mpf(float(xi)))
        if v == 0:
            assert gi == 0
            continue
        e = max(int(mp.floor(mp.log(abs(v), 2))), -1022) - 52
        err = float(abs(mp.mpf(float(gi)) - v) / mp.ldexp(1, e))
        if err > worst:
            worst, where = err, xi
    return worst, where


def test_tanh_within_2_ulp_over_every_binade():
    """10^5 points: every binade of both signs from the smallest subnormal up
    to 2^6 (tanh is +-1 beyond), densely around the branch point 0.5625 and
    over [-20, 20].  Measured: 0.77 ULP at most, near x = 0.57."""
    rng = np.random.default_rng(6)
    x = np.concatenate([samples.binades(np.float64, 12, rng, hi=6),
                        rng.uniform(-20.0, 20.0, 50000),
                        rng.uniform(0.5, 0.625, 20000) * rng.choice([-1.0, 1.0], 20000),
                        samples.binades(np.float64, 2, rng, lo=7)])
    assert x.size >= 100000
    worst, where = ulp_error(kernel_tanh(x), x)
    assert worst <= 2.0, (worst, where)


def test_tanh_special_values():
    fi = np.finfo(np.float64)
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
                  fi.smallest_normal, 1e-300, -1e-200, 1e-9, 20.0, -20.0, 1e300, -fi.max])
    want = np.array([0.0, -0.0, 1.0, -1.0, np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
                     fi.smallest_normal, 1e-300, -1e-200, 1e-9, 1.0, -1.0, 1.0, -1.0])
    for dtype in DTYPES:
        with np.errstate(all="ignore"):
            xs, ws = x.astype(dtype), want.astype(dtype)
            if dtype == np.float32:
                ws[np.abs(xs) < 1e-30] = xs[np.abs(xs) < 1e-30]
        got = kernel_tanh(xs)
        same = (np.isnan(got) & np.isnan(ws)) | ((got == ws) & (np.signbit(got) == np.signbit(ws)))
        assert same.all(), (dtype, xs[~same], got[~same])


# ------------------------------------------------- instruction sets, aliasing


def run_all(dtype, B, H, seed):
    """Every kernel on one set of inputs; the list of all outputs."""
    rng = np.random.default_rng(seed)
    gates, c_prev = lstm_inputs(rng, B, H, dtype)
    h, c, act, tc = lstm_forward(gates, c_prev)
    dh = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dc = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dg, dcp = lstm_backward(dh, dc, act, c_prev, tc)
    gi, gh, h_prev = gru_inputs(rng, B, H, dtype)
    gh_, gact = gru_forward(gi, gh, h_prev)
    dgi, dgh, dhp = gru_backward(dh, gact, h_prev)
    return [h, c, act, tc, dg, dcp, gh_, gact, dgi, dgh, dhp]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 37), (2, 300), (5, 3)])
def test_every_instruction_set_gives_identical_bits(dtype, shape):
    isas = _core._supported_isas().split(",")
    if len(isas) < 2:
        # one instruction set would only be compared with itself
        pytest.skip(f"this CPU has one instruction set ({isas[0]}): nothing to compare")
    old = _core._get_isa()
    try:
        results = {}
        for isa in isas:
            _core._set_isa(isa)
            results[isa] = run_all(dtype, *shape, seed=7)
    finally:
        _core._set_isa(old)
    itype = np.int32 if dtype == np.float32 else np.int64
    # against the portable C, every other instruction set
    ref_isa = "portable" if "portable" in results else isas[-1]
    ref = results[ref_isa]
    others = [isa for isa in results if isa != ref_isa]
    assert others and all(len(results[isa]) == len(ref) == 11 for isa in others)
    for isa in others:
        for k, (a, b) in enumerate(zip(results[isa], ref)):
            same = (a.view(itype) == b.view(itype)) | (np.isnan(a) & np.isnan(b))
            assert same.all(), f"{isa}: output {k} differs from {ref_isa}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_outputs_may_be_their_inputs(dtype):
    """act_out may be gates itself (and any output an input of its shape):
    the results are those of separate arrays, bit for bit."""
    rng = np.random.default_rng(8)
    B, H = 3, 37
    gates, c_prev = lstm_inputs(rng, B, H, dtype)
    h, c, act, tc = lstm_forward(gates, c_prev)
    g2, cp2 = gates.copy(), c_prev.copy()
    h2, tc2 = empty(dtype, (B, H), (B, H))
    _core._lstm_forward(g2, cp2, h2, cp2, g2, tc2)            # act_out = gates, c_out = c_prev
    for a, b in ((h2, h), (cp2, c), (g2, act), (tc2, tc)):
        np.testing.assert_array_equal(a, b)

    dh = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dc = (rng.standard_normal((B, H)) * 2).astype(dtype)
    dg, dcp = lstm_backward(dh, dc, act, c_prev, tc)
    a2, dc2 = act.copy(), dc.copy()
    _core._lstm_backward(dh, dc2, a2, c_prev, tc, a2, dc2)     # dgates_out = act, dc_prev_out = dc
    np.testing.assert_array_equal(a2, dg)
    np.testing.assert_array_equal(dc2, dcp)

    gi, gh, h_prev = gru_inputs(rng, B, H, dtype)
    hg, gact = gru_forward(gi, gh, h_prev)
    hp2 = h_prev.copy()
    (act2,) = empty(dtype, (B, 4 * H))
    _core._gru_forward(gi, gh, hp2, hp2, act2)                 # h_out = h_prev
    np.testing.assert_array_equal(hp2, hg)
    np.testing.assert_array_equal(act2, gact)

    dgi, dgh, dhp = gru_backward(dh, gact, h_prev)
    dh2 = dh.copy()
    dgi2, dgh2 = empty(dtype, (B, 3 * H), (B, 3 * H))
    _core._gru_backward(dh2, gact, h_prev, dgi2, dgh2, dh2)    # dh_prev_out = dh
    for a, b in ((dgi2, dgi), (dgh2, dgh), (dh2, dhp)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")),
                    reason="reads the status flags through glibc's fetestexcept")
def test_no_floating_point_flags_escape():
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    fe_all = 0x3D
    rng = np.random.default_rng(9)
    gates = np.array([[np.inf, -np.inf, 800.0, -800.0] * 4], np.float64).reshape(1, 16)
    c_prev = np.array([[np.inf, 1e-310, 1e308, 0.0]])
    outs = [np.empty((1, 4)), np.empty((1, 4)), np.empty((1, 16)), np.empty((1, 4))]
    gi, gh, h_prev = gru_inputs(rng, 2, 9, np.float32)
    go = [np.empty((2, 9), np.float32), np.empty((2, 36), np.float32)]
    libm.feclearexcept(fe_all)
    _core._lstm_forward(gates, c_prev, *outs)
    _core._gru_forward(gi, gh, h_prev, *go)
    assert libm.fetestexcept(fe_all) == 0


# ------------------------------------------------------------ argument checks


def lstm_args(dtype=np.float64, B=4, H=6):
    return [np.zeros((B, 4 * H), dtype), np.zeros((B, H), dtype), np.full((B, H), 7.0, dtype),
            np.full((B, H), 7.0, dtype), np.full((B, 4 * H), 7.0, dtype), np.full((B, H), 7.0, dtype)]


def untouched(args, first_output):
    return all((a == 7.0).all() for a in args[first_output:])


def test_dtype_must_be_float32_or_float64():
    args = lstm_args()
    args[0] = args[0].astype(np.int64)
    with pytest.raises(TypeError, match=r"_lstm_forward\(\): argument 'gates' has dtype int64"):
        _core._lstm_forward(*args)
    args = lstm_args()
    args[3] = args[3].astype(np.float32)
    with pytest.raises(TypeError, match=r"_lstm_forward\(\): argument 'c_out' has dtype float32 but "
                                        r"'gates' has dtype float64"):
        _core._lstm_forward(*args)
    assert untouched(args, 2)
    a = [np.zeros((2, 3), np.float16)] * 3 + [np.zeros((2, 9), np.float16)] * 2 + [np.zeros((2, 3), np.float16)]
    with pytest.raises(TypeError, match=r"_gru_backward\(\): argument 'dh' has dtype float16"):
        _core._gru_backward(*a)
    args = lstm_args()
    args[1] = args[1].astype(">f8")
    with pytest.raises(TypeError, match=r"argument 'c_prev' has dtype >f8"):
        _core._lstm_forward(*args)


@pytest.mark.parametrize("k, shape, want", [
    (0, (4, 25), r"argument 'gates' has shape \(4, 25\), expected \(B, 4H\) = \(4, 24\)"),
    (2, (3, 6), r"argument 'h_out' has shape \(3, 6\), expected \(B, H\) = \(4, 6\)"),
    (5, (4, 6, 1), r"argument 'tanhc_out' has shape \(4, 6, 1\), expected \(B, H\) = \(4, 6\)"),
    (4, (96,), r"argument 'act_out' has shape \(96,\), expected \(B, 4H\) = \(4, 24\)"),
    (1, (24,), r"argument 'c_prev' must have shape \(B, H\), got \(24,\)"),
])
def test_shapes_are_checked_before_anything_is_written(k, shape, want):
    args = lstm_args()
    args[k] = np.full(shape, 7.0)
    with pytest.raises(ValueError, match=r"_lstm_forward\(\): " + want):
        _core._lstm_forward(*args)
    assert untouched(args, 2)


def test_other_kernels_check_shapes():
    B, H = 2, 5
    z = np.zeros
    with pytest.raises(ValueError, match=r"_lstm_backward\(\): argument 'act' has shape \(2, 15\), "
                                         r"expected \(B, 4H\) = \(2, 20\)"):
        _core._lstm_backward(z((B, H)), z((B, H)), z((B, 3 * H)), z((B, H)), z((B, H)), z((B, 4 * H)), z((B, H)))
    with pytest.raises(ValueError, match=r"_gru_forward\(\): argument 'gh' has shape \(2, 12\), "
                                         r"expected \(B, 3H\) = \(2, 15\)"):
        _core._gru_forward(z((B, 3 * H)), z((B, 12)), z((B, H)), z((B, H)), z((B, 4 * H)))
    with pytest.raises(ValueError, match=r"_gru_backward\(\): argument 'dgh_out' has shape \(2, 20\), "
                                         r"expected \(B, 3H\) = \(2, 15\)"):
        _core._gru_backward(z((B, H)), z((B, 4 * H)), z((B, H)), z((B, 3 * H)), z((B, 4 * H)), z((B, H)))


def test_layout_writability_and_overlap_are_checked():
    args = lstm_args()
    args[1] = np.zeros((6, 4)).T
    with pytest.raises(ValueError, match=r"_lstm_forward\(\): argument 'c_prev' must be C-contiguous"):
        _core._lstm_forward(*args)
    args = lstm_args()
    args[3].flags.writeable = False
    with pytest.raises(ValueError, match=r"_lstm_forward\(\): output 'c_out' is read-only"):
        _core._lstm_forward(*args)
    assert untouched(args, 2)
    args = lstm_args()
    args[3] = args[2]
    with pytest.raises(ValueError, match=r"_lstm_forward\(\): output 'h_out' overlaps 'c_out'"):
        _core._lstm_forward(*args)
    # act_out overlapping gates without being the same region
    buf = np.zeros(4 * 24 + 1)
    args = lstm_args()
    args[0], args[4] = buf[:96].reshape(4, 24), buf[1:].reshape(4, 24)
    with pytest.raises(ValueError, match=r"output 'act_out' overlaps 'gates'"):
        _core._lstm_forward(*args)
    assert (buf == 0).all()
    # an output of another shape on an input's memory
    args = lstm_args()
    args[2] = args[0].reshape(-1)[:24].reshape(4, 6)
    with pytest.raises(ValueError, match=r"output 'h_out' overlaps 'gates'"):
        _core._lstm_forward(*args)


def test_arguments_must_be_arrays_and_counted():
    args = lstm_args()
    args[1] = args[1].tolist()
    with pytest.raises(TypeError, match=r"_lstm_forward\(\): argument 'c_prev' must be a numpy.ndarray, not list"):
        _core._lstm_forward(*args)
    with pytest.raises(TypeError, match=r"_lstm_forward\(\) takes 6 positional arguments but 5 were given"):
        _core._lstm_forward(*lstm_args()[:5])
    with pytest.raises(TypeError):
        _core._gru_forward(*lstm_args()[:5], h_out=None)


def test_empty_arrays():
    for B, H in ((0, 5), (3, 0)):
        _core._lstm_forward(*lstm_args(B=B, H=H))
        args = lstm_args(np.float32, B=B, H=H)
        _core._gru_forward(np.zeros((B, 3 * H), np.float32), np.zeros((B, 3 * H), np.float32), args[1], args[2],
                           args[4])
