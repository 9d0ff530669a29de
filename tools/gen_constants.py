"""Generate src/sigmoid/_kernels/consts.h: the tables and polynomial
coefficients the kernels use, from mpmath at 100 digits.

Run from the project root:

    python tools/gen_constants.py > src/sigmoid/_kernels/consts.h

Every number in consts.h comes from this script; edit the script, never the
header.  Contents:

* 1/i! as double-double and a third part of ln2/16, for the double-double
  exponential of the loss gradients' fix-ups.
* 2^(j/16), j = 0..15, split as hi + lo (float and double): the table of the
  exponential's argument reduction  e^z = 2^(k/16) e^r,  |r| <= ln2/32.
* ln2/16 split as hi + lo (Cody-Waite), with hi chosen so that
  z - kn*hi is exact for every |kn| the kernels produce.
* expm1 on |r| <= ln2/32 (slightly widened for the rounding of kn):
  float: minimax of degree 3 with exact linear term (Remez, below);
  double: Taylor of degree 7 (truncation error < 2^-59 relative).
* For the correctly rounded float32 sigma and SiLU on float lanes
  (vcr.h): 2^(j/N) = th[j] e^{L[j]} for N = 16 and 32, th the float
  nearest 2^(j/N) (F_EXP2_HI for N = 16) and L its logarithmic remainder
  as a float; ln2/32 split
  as hi + lo (half of ln2/16's parts, exactly); and expm1(r) ~ r + r^2 (C2
  + C3 r + C4 r^2), minimax on |r| <= ln2/(2N) (widened), float
  coefficients.
* log: the atanh series  log((1+s)/(1-s)) = 2s + 2s^3/3 + ...  used with
  |s| <= 3 - 2*sqrt(2); Taylor coefficients 2/(2i+1) to degree 21.
* F(z) = (atanh(sqrt z)/sqrt z - 1)/z on [0, 1/9] for the float32 paths that
  compute in double: 2 atanh(s) = 2s (1 + z F(z)), z = s^2; nearly minimax
  in the relative error of 2 atanh(s) by Lawson's iteratively reweighted
  least squares (atanh_lawson), degree 5 (2^-38.4) and degree 6 (2^-43.7,
  the correctly rounded float32 softplus and log_sigmoid, whose rounding
  test assumes 2^-42 in all); and for the float32 loss path in float
  arithmetic, least squares of degree 4 with float coefficients (relative
  error left in 2 atanh(s) below 2^-29).
* For the float32 logit computed in double: c_j = 1 + j/16, j = -5..7, with
  log(c_j) and 1/c_j (table index j + 5), and log1p(v) = v + v^2 G(v),
  G(v) = -1/2 + v/3 - ... (Taylor to v^6, truncation < 2^-32 for |v| <= 0.046).
* For the float64 losses, log z to about 2^-66 absolute: 16 intervals of
  [sqrt(2)/2, sqrt(2)) by bit pattern, 1/c_i and -log(1/c_i) as a
  double-double whose high part is a multiple of 2^-43, and the Taylor
  coefficients of log1p to r^13.
* Taylor coefficients of silu'(x) at its zero x0 = -1.2784645...
* silu'(x1 + h) = m1 + B z^2, z = h + h^2 P(h), B = silu^(3)(x1)/2, about
  the maximum x1 = 2.39935... of silu' (and its minimum -x1), for |h| < 1/16:
  P by least squares on Chebyshev nodes weighted by the error it leaves in
  silu', degree 3 with float coefficients and degree 8 in double; and that
  window, 1/16, which the kernels test against (F/D_SILUBW_WINDOW).
* sigma'(x) = 1/4 - (u - u^2 Q(u))/16, u = x^2, for |x| < 1/2: Q by least
  squares on Chebyshev nodes, degree 3 with float coefficients and degree 7
  in double; and the window 1/2 (F/D_SBW_WINDOW).
* softplus(u) = ln2 + u/2 + u^2 H(u^2) about 0, for the binary cross-entropy
  from logits (softplus(+-x)) near x = 0, where it moves by less than the
  error of its general form from one input to the next: on float lanes for
  |u| <= 1/2, least squares of degree 3 with float coefficients, and ln2
  as float hi + lo.
* tanh(x) = x + x^3 P(x^2) for |x| < 0.5625: P fits (tanh(x) - x)/x^3 in
  z = x^2, degree 10, least squares on Chebyshev nodes weighted so that the
  fit minimises the relative error of tanh itself; and degree 5 for
  float32 data computed in double.
"""
from __future__ import annotations

import struct

import mpmath as mp
import numpy as np

mp.mp.dps = 100

LN2 = mp.log(2)


def f32(x) -> float:
    return float(np.float32(float(x)))


def hexf(x: float) -> str:
    return float.hex(x)


def cfloat(x: float) -> str:
    """C literal for a float32 value, exactly."""
    x = f32(x)
    return f"{hexf(x)}f"


def cdouble(x: float) -> str:
    return hexf(float(x))


def split_f32(x):
    hi = f32(x)
    lo = f32(x - mp.mpf(hi))
    return hi, lo


def split_f64(x):
    hi = float(x)
    lo = float(x - mp.mpf(hi))
    return hi, lo


def chebyshev_lsq(fn, top, degree, rnd=float, weight=None, bottom=0):
    """Least-squares polynomial c0 + c1 z + ... of `degree` for fn on
    [bottom, top], fitted on 200 Chebyshev nodes, its coefficients rounded by
    `rnd`; returns them and the largest |weight(z) (fn(z) - fit(z))| on a
    grid of 2001 points (weight 1 by default)."""
    mid, half = (top + bottom) / mp.mpf(2), (top - bottom) / mp.mpf(2)
    nodes = [mid - half * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / 200) for i in range(200)]
    A = mp.matrix([[z**j for j in range(degree + 1)] for z in nodes])
    coef = mp.qr_solve(A, mp.matrix([fn(z) for z in nodes]))[0]
    c = [rnd(coef[j]) for j in range(degree + 1)]
    grid = [bottom + (top - bottom) * mp.mpf(i) / 2000 for i in range(2001)]
    err = max((weight(z) if weight else 1) * abs(fn(z) - sum(mp.mpf(c[j]) * z**j for j in range(degree + 1)))
              for z in grid)
    return c, err


LAWSON_NODES, LAWSON_ITERATIONS = 200, 60


def atanh_lawson(degree: int):
    """F0..F_degree (doubles) for 2 atanh(s) ~ 2s (1 + z F(z)), z = s^2 in
    [0, 1/9], nearly minimax in the relative error of 2 atanh(s): Lawson's
    iteration (weighted least squares, each node's weight multiplied by its
    error after every round) on Chebyshev nodes in z, at 40 digits.  Returns
    the coefficients and the largest relative error with them rounded, on
    4000 points of s in (0, 1/3]."""
    with mp.workdps(40):
        zmax, n = mp.mpf(1) / 9, LAWSON_NODES
        z = [zmax / 2 - zmax / 2 * mp.cos(mp.pi * (i + mp.mpf(1) / 2) / n) for i in range(n)]
        s = [mp.sqrt(t) for t in z]
        at = [mp.atanh(v) for v in s]
        # relative error (A c - b)_i of 2 s_i (1 + z_i F(z_i)) against 2 atanh(s_i)
        A = [[s[i] * z[i] ** (j + 1) / at[i] for j in range(degree + 1)] for i in range(n)]
        b = [(at[i] - s[i]) / at[i] for i in range(n)]
        wt = [mp.mpf(1) / n] * n
        for _ in range(LAWSON_ITERATIONS):
            sw = [mp.sqrt(v) for v in wt]
            M = mp.matrix([[A[i][j] * sw[i] for j in range(degree + 1)] for i in range(n)])
            c = mp.qr_solve(M, mp.matrix([b[i] * sw[i] for i in range(n)]))[0]
            wt = [wt[i] * abs(mp.fsum(A[i][j] * c[j] for j in range(degree + 1)) - b[i]) for i in range(n)]
            total = mp.fsum(wt)
            wt = [v / total for v in wt]
        cd = [float(c[j]) for j in range(degree + 1)]
        err = mp.mpf(0)
        for k in range(1, 4001):
            g = mp.mpf(k) / 12000
            zz = g * g
            approx = 2 * g * (1 + zz * mp.fsum(mp.mpf(cd[j]) * zz**j for j in range(degree + 1)))
            err = max(err, abs(approx / (2 * mp.atanh(g)) - 1))
        return cd, err


def remez_expm1_poly(h: float, powers, iters: int = 40, start=None, grid_n: int = 600):
    """Minimax (absolute error) for expm1(r) - r ~ sum c_p r^p over `powers`
    on [-h, h]: Remez exchange from the alternation points `start` (default:
    Chebyshev extrema), extrema searched from a grid of grid_n intervals."""
    h = mp.mpf(h)
    n = len(powers)
    pts = start(h) if start else [h * mp.cos(mp.pi * (n - i) / n) for i in range(n + 1)]
    c = None
    for _ in range(iters):
        A = mp.matrix(n + 1, n + 1)
        b = mp.matrix(n + 1, 1)
        for i, r in enumerate(pts):
            for k, pw in enumerate(powers):
                A[i, k] = r**pw
            A[i, n] = (-1) ** i
            b[i] = mp.expm1(r) - r
        sol = mp.lu_solve(A, b)
        c = [sol[k] for k in range(n)]

        def err(r, c=c):
            return mp.expm1(r) - r - sum(c[k] * r**powers[k] for k in range(n))

        grid = [h * (2 * mp.mpf(i) / grid_n - 1) for i in range(grid_n + 1)]
        vals = [err(r) for r in grid]
        inner = [
            mp.findroot(lambda r: mp.diff(err, r), grid[i])
            for i in range(1, len(grid) - 1)
            if (vals[i] - vals[i - 1]) * (vals[i + 1] - vals[i]) < 0
        ]
        new = [-h] + inner + [h]
        if len(new) != n + 1:
            break
        pts = new
    return c


def remez_expm1_f32(h: float):
    """Minimax (absolute error) for expm1(r) ~ r + c2 r^2 + c3 r^3 on [-h, h],
    from the alternation points -h, h/7, h."""
    return tuple(remez_expm1_poly(h, [2, 3], iters=30, start=lambda h: [-h, h / 7, h], grid_n=400))


def main() -> None:
    out = []
    w = out.append
    w("/* Generated by tools/gen_constants.py; do not edit. */")
    w("#ifndef SIGMOID_CONSTS_H")
    w("#define SIGMOID_CONSTS_H")
    w("")

    # ---------------------------------------------------------------- exp
    w("/* e^z = 2^(k/16) * e^r:  k = round(16 z / ln2),  r = z - k ln2/16 */")
    w(f"#define F_16_LN2 {cfloat(16 / LN2)}")
    w(f"#define D_16_LN2 {cdouble(16 / LN2)}")
    w("/* round-to-integer shifters: 1.5*2^23 and 1.5*2^52 */")
    w("#define F_SHIFT 0x1.8p23f")
    w("#define D_SHIFT 0x1.8p52")
    c = LN2 / 16
    chi, clo = split_f32(c)
    w("/* ln2/16 = hi + lo; kn*hi is exact inside the FMA and z - kn*hi is exact")
    w("   because its value is a multiple of ulp(hi)/2 below 2^-5 in magnitude */")
    w(f"#define F_LN2_16_HI {cfloat(chi)}")
    w(f"#define F_LN2_16_LO {cfloat(clo)}")
    dhi, dlo = split_f64(c)
    w(f"#define D_LN2_16_HI {cdouble(dhi)}")
    w(f"#define D_LN2_16_LO {cdouble(dlo)}")
    w("/* the third part, for the double-double exponential of the loss fix-ups */")
    w(f"#define D_LN2_16_LO2 {cdouble(float(c - mp.mpf(dhi) - mp.mpf(dlo)))}")
    w("")
    w("/* 2^(j/16) = hi[j] + lo[j] */")
    th = [split_f32(mp.power(2, mp.mpf(j) / 16)) for j in range(16)]
    w("static const float F_EXP2_HI[16] = {" + ", ".join(cfloat(a) for a, _ in th) + "};")
    w("static const float F_EXP2_LO[16] = {" + ", ".join(cfloat(b) for _, b in th) + "};")
    td = [split_f64(mp.power(2, mp.mpf(j) / 16)) for j in range(16)]
    w("static const double D_EXP2_HI[16] = {" + ", ".join(cdouble(a) for a, _ in td) + "};")
    w("static const double D_EXP2_LO[16] = {" + ", ".join(cdouble(b) for _, b in td) + "};")
    w("")
    h = float(LN2 / 32) * 1.002
    c2, c3 = remez_expm1_f32(h)
    c2f, c3f = f32(c2), f32(c3)
    # error of the rounded coefficients
    grid = [mp.mpf(h) * (2 * mp.mpf(i) / 4000 - 1) for i in range(4001)]
    e_rounded = max(abs(mp.expm1(r) - r - c2f * r**2 - c3f * r**3) for r in grid)
    w(f"/* float expm1(r) ~ r + r^2 (C2 + C3 r) on |r| <= {h:.6f}: minimax,")
    w(f"   max abs error 2^{float(mp.log(e_rounded, 2)):.2f} with the coefficients rounded */")
    w(f"#define F_EXPM1_C2 {cfloat(c2f)}")
    w(f"#define F_EXPM1_C3 {cfloat(c3f)}")
    taylor = [float(1 / mp.factorial(i)) for i in range(2, 8)]
    trunc = mp.mpf(h) ** 8 / mp.factorial(8)
    w(f"/* double expm1(r) ~ r + r^2 (1/2! + r/3! + ... + r^5/7!): Taylor, truncation error")
    w(f"   2^{float(mp.log(trunc, 2)):.1f} on |r| <= {h:.6f} */")
    for i, v in enumerate(taylor, start=2):
        w(f"#define D_EXPM1_C{i} {cdouble(v)}")
    trunc9 = mp.mpf(h) ** 9 / mp.factorial(9)
    w(f"/* and r^6/8!, for the double-double exponential of the float64 losses: truncation")
    w(f"   2^{float(mp.log(trunc9, 2)):.1f} */")
    w(f"#define D_EXPM1_C8 {cdouble(float(1 / mp.factorial(8)))}")
    w("/* 1/i! as double-double, i = 0..14: Taylor series of e^r in double-double */")
    fh = [split_f64(1 / mp.factorial(i)) for i in range(15)]
    w("static const double D_INVFACT_HI[15] = {" + ", ".join(cdouble(a) for a, _ in fh) + "};")
    w("static const double D_INVFACT_LO[15] = {" + ", ".join(cdouble(b) for _, b in fh) + "};")
    w("")

    # ---------------------------------------------------------------- log
    w("/* ln 2 = hi + lo, hi with 32 trailing zero bits so that k*hi is exact for |k| < 2^20 */")
    l2hi = float(mp.mpf(int(LN2 * 2**21)) / 2**21)
    w(f"#define D_LN2_HI {cdouble(l2hi)}")
    w(f"#define D_LN2_LO {cdouble(float(LN2 - mp.mpf(l2hi)))}")
    w(f"#define D_LN2 {cdouble(float(LN2))}")
    w(f"#define D_SQRT2 {cdouble(float(mp.sqrt(2)))}")
    smax = 3 - 2 * mp.sqrt(2)
    nterms = 10
    trunc = smax ** (2 * nterms + 1) * 2 / (2 * nterms + 1) / (2 * smax)
    w("/* log1p(f) = 2 atanh(s), s = f/(2+f), |s| <= 3-2sqrt2 = 0.1716:")
    w("   2 atanh(s) = 2s + s*R(s^2),  R(z) = z (L1 + z (L2 + ...)),  Li = 2/(2i+1);")
    w(f"   relative truncation error 2^{float(mp.log(trunc, 2)):.1f} */")
    for i in range(1, nterms + 1):
        w(f"#define D_LOG_L{i} {cdouble(float(mp.mpf(2) / (2 * i + 1)))}")
    w("")

    zmax = mp.mpf(1) / 9

    def F(z):
        if z == 0:
            return mp.mpf(1) / 3
        r = mp.sqrt(z)
        return (mp.atanh(r) / r - 1) / z

    fc, err = atanh_lawson(5)
    w("/* F(z) = (atanh(sqrt z)/sqrt z - 1)/z ~ F0 + F1 z + ... + F5 z^5 on [0, 1/9],")
    w("   fitted to the relative error of 2 atanh(s) = 2s + 2s z F(z), z = s^2, by")
    w(f"   iteratively reweighted least squares (Lawson, {LAWSON_ITERATIONS} rounds) on {LAWSON_NODES} Chebyshev")
    w(f"   nodes: that error is at most 2^{float(mp.log(err, 2)):.1f} on s in (0, 1/3] (4000 points) */")
    for j in range(6):
        w(f"#define D_ATANH_F{j} {cdouble(fc[j])}")
    gc, gerr = atanh_lawson(6)
    w(f"/* the same fit of degree 6, for the correctly rounded float softplus: 2^{float(mp.log(gerr, 2)):.1f} */")
    for j in range(7):
        w(f"#define D_ATANH_G{j} {cdouble(gc[j])}")
    w("")

    # the same F in float arithmetic (the float32 loss path): degree 4, the
    # coefficients rounded to float; what matters is z (F - fit), the
    # relative error it leaves in 2 atanh(s) = 2s (1 + z F)
    ff, err4 = chebyshev_lsq(F, zmax, 4, rnd=f32, weight=lambda z: z)
    w("/* float: F(z) ~ F0 + ... + F4 z^4 on [0, 1/9], float coefficients; relative error")
    w(f"   left in 2 atanh(s): 2^{float(mp.log(err4, 2)):.1f} */")
    for j in range(5):
        w(f"#define F_ATANH_F{j} {cfloat(ff[j])}")
    w("")

    w("/* float32 logit in double: log(m) = log(c_j) + log1p((m - c_j)/c_j), c_j = 1 + j/16,")
    w("   j = round(16 (m - 1)) in -5..7 for m in [sqrt(2)/2, sqrt(2)); entry j + 5 */")
    logc = [float(mp.log(1 + mp.mpf(j) / 16)) for j in range(-5, 8)] + [0.0] * 3
    invc = [float(1 / (1 + mp.mpf(j) / 16)) for j in range(-5, 8)] + [1.0] * 3
    w("static const double D_LOGT_LOGC[16] = {" + ", ".join(cdouble(v) for v in logc) + "};")
    w("static const double D_LOGT_INVC[16] = {" + ", ".join(cdouble(v) for v in invc) + "};")
    for i in range(7):
        w(f"#define D_LOG1P_G{i} {cdouble(float(mp.mpf((-1) ** (i + 1)) / (i + 2)))}")
    w("")

    # log to about 2^-66 absolute, for the float64 losses
    w("/* log z for z in [sqrt(2)/2, sqrt(2)) to about 2^-66: the 16 intervals of 2^48")
    w("   bit patterns from sqrt(2)/2 on, i = (bits(z) - bits(sqrt(2)/2)) >> 48; c_i the")
    w("   middle of interval i (1 for the one holding 1), INVC = 1/c_i rounded, and")
    w("   -log(INVC) = LOGC_HI + LOGC_LO, LOGC_HI a multiple of 2^-43 so that")
    w("   k ln2_hi + LOGC_HI is exact for |k| < 2^10; then log z = -log(INVC) + log1p(r),")
    w("   r = z INVC - 1 (exact as a double-double) */")
    base = struct.unpack("<q", struct.pack("<d", float(mp.sqrt(2) / 2)))[0]
    bits = lambda b: mp.mpf(struct.unpack("<d", struct.pack("<q", b))[0])
    invc, lch, lcl, rmax = [], [], [], mp.mpf(0)
    for i in range(16):
        lo, hi = bits(base + (i << 48)), bits(base + ((i + 1) << 48))
        c = mp.mpf(1) if lo <= 1 < hi else (lo + hi) / 2
        ic = float(1 / c)
        lc = -mp.log(ic)
        h = float(mp.nint(lc * 2**43) / 2**43)
        invc.append(ic)
        lch.append(h)
        lcl.append(float(lc - h))
        rmax = max(rmax, abs(lo * ic - 1), abs(hi * ic - 1))
    w("static const double D_LOGF_INVC[16] = {" + ", ".join(cdouble(v) for v in invc) + "};")
    w("static const double D_LOGF_LOGC_HI[16] = {" + ", ".join(cdouble(v) for v in lch) + "};")
    w("static const double D_LOGF_LOGC_LO[16] = {" + ", ".join(cdouble(v) for v in lcl) + "};")
    nt = 13
    w(f"/* log1p(r) = r - r^2/2 + r^3 (T3 + T4 r + ... + T{nt} r^{nt - 3}), Ti = (-1)^(i+1)/i (Taylor),")
    w(f"   |r| <= {float(rmax):.5f}: truncation 2^{float(mp.log(rmax ** (nt + 1) / (nt + 1), 2)):.1f} */")
    for i in range(3, nt + 1):
        w(f"#define D_LOGF_T{i} {cdouble(float(mp.mpf((-1) ** (i + 1)) / i))}")
    w("")

    # ---------------------------------------------------------------- silu'
    w("/* silu'(x) = sigma(x) (1 + x sigma(-x)) vanishes at x0; near x0 it is")
    w("   evaluated by its Taylor series in h = x - x0 (x0 = hi + lo) */")
    sig = lambda x: 1 / (1 + mp.exp(-x))  # noqa: E731
    dsilu = lambda x: sig(x) * (1 + x * sig(-x))  # noqa: E731
    x0 = mp.findroot(dsilu, -1.28)
    x0hi, x0lo = split_f64(x0)
    w(f"#define D_SILU_X0_HI {cdouble(x0hi)}")
    w(f"#define D_SILU_X0_LO {cdouble(x0lo)}")
    coeffs = mp.taylor(dsilu, x0, 14)
    a1hi, a1lo = split_f64(coeffs[1])
    w(f"#define D_SILU_A1_HI {cdouble(a1hi)}")
    w(f"#define D_SILU_A1_LO {cdouble(a1lo)}")
    for i in range(2, 15):
        w(f"#define D_SILU_A{i} {cdouble(float(coeffs[i]))}")
    fx0hi, fx0lo = split_f32(x0)
    w(f"#define F_SILU_X0_HI {cfloat(fx0hi)}")
    w(f"#define F_SILU_X0_LO {cfloat(fx0lo)}")
    fa1hi, fa1lo = split_f32(coeffs[1])
    w(f"#define F_SILU_A1_HI {cfloat(fa1hi)}")
    w(f"#define F_SILU_A1_LO {cfloat(fa1lo)}")
    for i in range(2, 8):
        w(f"#define F_SILU_A{i} {cfloat(float(coeffs[i]))}")
    w("")

    # ------------------------------------- silu' near its extremes +-x1
    # silu'(x1 + h) = m1 + B z^2 with z = h + h^2 P(h), B = silu^(3)(x1)/2
    # (silu''(x1) = 0, silu' is largest there), and silu'(-x1 - h) =
    # 1 - silu'(x1 + h): one P serves both extremes, in h = |x| - x1.
    # z/h - 1 = h P(h) is small, which keeps the evaluation monotone (see
    # vfamily.h).  P is fitted with the exact B and weighted by 2 |B h^3|,
    # the absolute error in silu' of an error in P.
    x1 = mp.findroot(lambda x: mp.diff(dsilu, x), 2.4)
    m1 = dsilu(x1)
    B = mp.diff(dsilu, x1, 2) / 2

    def BP(h):
        if h == 0:
            return mp.diff(dsilu, x1, 3) / 6 / B / 2
        return (mp.sqrt((dsilu(x1 + h) - m1) / (B * h * h)) - 1) / h

    w("/* silu'(x1 + h) = m1 + B z^2, z = h + h^2 P(h), near its maximum x1, and")
    w("   silu'(-x1 - h) = (1 - m1) - B z^2 near its minimum -x1 */")
    bwin = mp.mpf(1) / 16
    for pre, split, rnd, cnum, degree in (("F", split_f32, f32, cfloat, 3), ("D", split_f64, float, cdouble, 8)):
        for name, v in (("X1", x1), ("M1", m1), ("N1", 1 - m1)):
            hi, lo = split(v)
            w(f"#define {pre}_SILUBW_{name}_HI {cnum(hi)}")
            w(f"#define {pre}_SILUBW_{name}_LO {cnum(lo)}")
        w(f"#define {pre}_SILUBW_B {cnum(rnd(B))}")
        bp, bperr = chebyshev_lsq(BP, bwin, degree, rnd=rnd, weight=lambda h: 2 * abs(B * h**3), bottom=-bwin)
        w("/* the kernels take the series for |h| < WINDOW, the interval P is fitted on */")
        w(f"#define {pre}_SILUBW_WINDOW {cnum(rnd(bwin))}")
        w(f"/* |h| < 1/16: P0 + ... + P{degree} h^{degree}; error left in silu' 2^{float(mp.log(bperr, 2)):.1f} */")
        for j in range(degree + 1):
            w(f"#define {pre}_SILUBW_P{j} {cnum(bp[j])}")
    w("")

    # ------------------------------------------------- sigma' near x = 0
    # sigma'(x) = 1/4 - K/16 with K = u - u c, u = x^2, c = u Q(u): the float
    # kernel evaluates that for |x| < 1/2 (u < 1/4), where c < 0.042, so Q
    # needs only about 2^-24 absolute; least squares on Chebyshev nodes,
    # float coefficients
    sumax = mp.mpf(1) / 4

    def SQ(u):
        if u == 0:
            return mp.mpf(1) / 6
        s = 1 / (1 + mp.exp(-mp.sqrt(u)))
        K = 16 * (mp.mpf(1) / 4 - s * (1 - s))
        return (1 - K / u) / u

    w("/* the kernels take this form for |x| < WINDOW, u = x^2 < 1/4, where Q is fitted */")
    w(f"#define F_SBW_WINDOW {cfloat(mp.sqrt(sumax))}")
    w(f"#define D_SBW_WINDOW {cdouble(float(mp.sqrt(sumax)))}")
    sq, serr = chebyshev_lsq(SQ, sumax, 3, rnd=f32)
    w("/* sigma'(x) = 1/4 - (u - u^2 Q(u))/16, u = x^2: Q ~ Q0 + Q1 u + Q2 u^2 + Q3 u^3")
    w(f"   on [0, 1/4], float coefficients, max abs error 2^{float(mp.log(serr, 2)):.1f} */")
    for j in range(4):
        w(f"#define F_SBW_Q{j} {cfloat(sq[j])}")
    # the same for the double kernel: degree 7, double coefficients
    sd, sderr = chebyshev_lsq(SQ, sumax, 7)
    w(f"/* double: Q0 + ... + Q7 u^7, max abs error 2^{float(mp.log(sderr, 2)):.1f} */")
    for j in range(8):
        w(f"#define D_SBW_Q{j} {cdouble(sd[j])}")
    w("")

    # ---------------------------------------------------------------- tanh
    # Q(z) = (tanh(x) - x)/x^3, z = x^2: analytic in z except for the pole of
    # tanh at x = i pi/2 (z = -pi^2/4), far from [0, zmax], so a polynomial of
    # modest degree converges fast.  The fit is weighted by x^3/tanh(x): the
    # error of x^3 P(z) relative to tanh(x) is what the result sees.
    txmax = mp.mpf(9) / 16
    tzmax = txmax**2
    tdeg = 10

    def Q(z):
        if z == 0:
            return -mp.mpf(1) / 3
        x = mp.sqrt(z)
        return (mp.tanh(x) - x) / (x * z)

    def tw(z):
        if z == 0:
            return mp.mpf(0)
        x = mp.sqrt(z)
        return x * z / mp.tanh(x)

    tnodes = [tzmax / 2 * (1 - mp.cos(mp.pi * (i + mp.mpf(1) / 2) / 300)) for i in range(300)]
    At = mp.matrix([[tw(z) * z**j for j in range(tdeg + 1)] for z in tnodes])
    tc = mp.qr_solve(At, mp.matrix([tw(z) * Q(z) for z in tnodes]))[0]
    tcf = [float(tc[j]) for j in range(tdeg + 1)]
    tgrid = [tzmax * i / 3000 for i in range(1, 3001)]
    terr = max(tw(z) * abs(Q(z) - sum(mp.mpf(tcf[j]) * z**j for j in range(tdeg + 1))) for z in tgrid)
    w(f"/* tanh(x) = x + x^3 (T0 + T1 z + ... + T{tdeg} z^{tdeg}), z = x^2, for |x| < D_TANH_SMALL:")
    w("   weighted least squares on Chebyshev nodes; relative error left in tanh with the")
    w(f"   coefficients rounded: 2^{float(mp.log(terr, 2)):.1f} */")
    w(f"#define D_TANH_SMALL {cdouble(float(txmax))}")
    for j in range(tdeg + 1):
        w(f"#define D_TANH_T{j} {cdouble(tcf[j])}")

    # ----------------------------------- correctly rounded float sigma
    w("/* correctly rounded float32 sigma and SiLU on float lanes (vcr.h):")
    w("   2^(j/N) = th[j] e^{L[j]}, th[j] the float nearest 2^(j/N), L[j] rounded */")
    for n in (16, 32):
        th = [f32(mp.power(2, mp.mpf(j) / n)) for j in range(n)]
        lg = [f32(mp.mpf(j) * LN2 / n - mp.log(mp.mpf(t))) for j, t in enumerate(th)]
        if n == 32:  # for N = 16, th is F_EXP2_HI
            w(f"static const float F_CR{n}_TH[{n}] = {{" + ", ".join(cfloat(a) for a in th) + "};")
        w(f"static const float F_CR{n}_L[{n}] = {{" + ", ".join(cfloat(a) for a in lg) + "};")
        h = float(LN2 / (2 * n)) * 1.002
        cr = [f32(v) for v in remez_expm1_poly(h, [2, 3, 4])]
        grid = [mp.mpf(h) * (2 * mp.mpf(i) / 4000 - 1) for i in range(4001)]
        e_cr = max(abs(mp.expm1(r) - r - sum(mp.mpf(cr[k]) * r ** (k + 2) for k in range(3))) for r in grid)
        w(f"/* expm1(r) ~ r + r^2 (C2 + C3 r + C4 r^2) on |r| <= {h:.6f}: minimax, max abs")
        w(f"   error 2^{float(mp.log(e_cr, 2)):.2f} with the coefficients rounded */")
        for k in range(3):
            w(f"#define F_CR{n}_C{k + 2} {cfloat(cr[k])}")
    w(f"#define F_32_LN2 {cfloat(2 * f32(16 / LN2))}")
    w(f"#define F_LN2_32_HI {cfloat(chi / 2)}")
    w(f"#define F_LN2_32_LO {cfloat(clo / 2)}")
    w("")
    # ------------------------------------------------- softplus about 0
    def SH(z):
        if z == 0:
            return mp.mpf(1) / 8
        u = mp.sqrt(z)
        return (mp.log1p(mp.exp(u)) - LN2 - u / 2) / z

    spmax = mp.mpf(1) / 4         # z = u^2, |u| <= 1/2
    sh, sherr = chebyshev_lsq(SH, spmax, 3, rnd=f32, weight=lambda z: z)
    lhi, llo = split_f32(LN2)
    w("/* softplus(u) = ln2 + u/2 + u^2 (H0 + H1 z + H2 z^2 + H3 z^3), z = u^2, for")
    w("   |u| <= F_SP_SERIES = 1/2 (float32 BCE on float lanes): least squares with")
    w(f"   float coefficients, absolute error left in u^2 H: 2^{float(mp.log(sherr, 2)):.1f}; ln2 = hi + lo */")
    w("#define F_SP_SERIES 0x1p-1f")
    for j in range(4):
        w(f"#define F_SP_H{j} {cfloat(sh[j])}")
    w(f"#define F_LN2_HI {cfloat(lhi)}")
    w(f"#define F_LN2_LO {cfloat(llo)}")
    w("")
    w("#endif")
    print("\n".join(out))


if __name__ == "__main__":
    main()
