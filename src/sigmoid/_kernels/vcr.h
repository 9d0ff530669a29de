/*
 * Correctly rounded float32 sigma and SiLU.
 *
 * The fast path works on float lanes and carries sigma as z + Q, two
 * floats (|Q| < 2^-20 z), within a relative error E of the true value.  A
 * rounding test then decides almost every lane: the true value lies in
 * [z + Q - m, z + Q + m] for m = EPS z >= E (z + Q), and where
 * fl(z + (Q - m)) equals fl(z + (Q + m)), every point of that interval
 * rounds to the same float, which is then the correctly rounded result
 * (each is one addition of floats, rounded once; the rounding of Q -+ m,
 * below 2^-45 z, is inside the margin).  The lanes the test leaves open
 * (about one in 1,300 with AVX-512, one in 270 elsewhere) and those out of
 * the fast range are computed again in double (vf_cr_wide_lanes), with
 * rounding tests of their own.  tools/sweep_float32.py checks every
 * float32 input on each table size.
 *
 * The exponential: e^-a = 2^m th e^(rh + rl), a = |x| <= F_FAST_MAX, from
 * k = round(-N a/ln2) = N m + j, N = 2^F_CR_BITS (32 with AVX-512, whose
 * two-source permute reads a 32-entry table in one instruction; 16
 * elsewhere):
 *   rh = -a - k (ln2/N)_hi                exact (as in vexp.h)
 *   rl = L[j] - k (ln2/N)_lo              2^(j/N) = th[j] e^L[j], th[j] the
 *                                         float nearest 2^(j/N); |rl| < 2^-22
 *   r  = fl(rh + rl),  e^(rh + rl) - 1 = rh + c,
 *   c  = rl + r^2 (C2 + C3 r + C4 r^2)    |c| < 2^-14 (N = 32), 2^-12 (16)
 *   th (1 + rh + c) = hi + lo:  hi = fl(th + th rh), lo = (th + th rh - hi)
 *                                + th c, the first part exact by an FMA
 *                                (th - hi is exact, Sterbenz);
 *   then renormalised by Fast2Sum, so that |lo| <= 2^-24 hi.
 * Absolute error of rh + c against e^(rh + rl) - 1, N = 32 (N = 16):
 *   the polynomial's truncation                      2^-42.5 (2^-37.5)
 *   r for rh + rl in it: |r| times r's half ulp      2^-37.5 (2^-35.5)
 *   the roundings of C2 + ..., of r^2 and of c       2^-38.0, 2^-39, 2^-39
 *                                                    (2^-36.0, 2^-37, 2^-37)
 * and relative to th e^(rh + rl), the rounding of lo before the
 * renormalisation, 2^-38 (2^-36), and of rl, (ln2/N)_lo and L, below 2^-45:
 * hi + lo is within eps_t = 2^-35.85 (2^-33.76) of e^-a / 2^m.
 *
 * sigma from hi + lo, with S = 2^m, D = fl(1 + S hi), R0 = fl(1/D):
 *   e  = 1 - R0 (1 + S hi + S lo)        (1 - R0) - R0 S hi - R0 S lo, 1 - R0
 *                                        exact, R0 S hi exact in the FMA; |e|
 *                                        < 2^-22.4, its roundings below 2^-46
 *   x >= 0: sigma = R0 (1 + e) + O(e^2):      z = R0,  Q = R0 e
 *   x <  0: sigma = S (hi + lo) R0 (1 + e):   z = R0 hi rounded, Q = (R0 hi -
 *           z) + R0 (hi e + lo), the first part exact (FMA), and the
 *           result scaled by S exactly (adding m to the exponent: z + Q is in
 *           [1/4, 2) and S (z + Q) >= 2^-125 for a <= F_FAST_MAX).
 * The relative error of z + Q is eps_t times t/(1 + t) <= 1/2 (x >= 0) or
 * 1 + t/(1 + t) <= 3/2 (x < 0), plus e^2 and roundings below 2^-44: at
 * most E = 2^-35.27 (N = 32) and 2^-33.17 (N = 16), against EPS = 2^-35
 * and 2^-32.75.
 *
 * SiLU is x (z + Q): x z is exact in an FMA, x Q rounds by less than 2^-45
 * of x z, and the margin is |x| m, so its test is the same.  For 0 < |x| <
 * 2^-80, x m would underflow; those lanes take the double path, where
 * silu(x) = x/2 + x^2/4 is x/2 moved up by a sticky term.
 */
#ifndef SIGMOID_VCR_H
#define SIGMOID_VCR_H

#include "vfamily.h"

#if SIG_ISA == SIG_ISA_AVX512
/* 32 entries: one two-source permute per table */
#define F_CR_BITS 5
#define F_CR_N_LN2 F_32_LN2
#define F_CR_LN2_HI F_LN2_32_HI
#define F_CR_LN2_LO F_LN2_32_LO
#define F_CR_TH F_CR32_TH
#define F_CR_L F_CR32_L
#define F_CR_C2 F_CR32_C2
#define F_CR_C3 F_CR32_C3
#define F_CR_C4 F_CR32_C4
#define F_CR_EPS 0x1p-35f
SIG_INLINE vf vf_cr_lookup(const float *t, vfi i)
{
    return _mm512_permutex2var_ps(_mm512_loadu_ps(t), i, _mm512_loadu_ps(t + 16));
}
#else
#define F_CR_BITS 4
#define F_CR_N_LN2 F_16_LN2
#define F_CR_LN2_HI F_LN2_16_HI
#define F_CR_LN2_LO F_LN2_16_LO
#define F_CR_TH F_EXP2_HI
#define F_CR_L F_CR16_L
#define F_CR_C2 F_CR16_C2
#define F_CR_C3 F_CR16_C3
#define F_CR_C4 F_CR16_C4
#define F_CR_EPS 0x1.306fe0p-33f  /* 2^-32.75 */
#define vf_cr_lookup vf_lookup16
#endif

typedef struct {
    vf x, hi, lo, kf;
} vf_cr1;

typedef struct {
    vf x, hi, lo, S, R0;
} vf_cr2;

/* records in *wide the lanes beyond the fast range (and NaN) */
SIG_INLINE vf_cr1 vf_cr_stage1(vf x, mf *wide)
{
    vf_cr1 s;
    vf a = vf_abs(x);
    *wide = mf_or(*wide, vf_nle(a, vf_set(F_FAST_MAX)));
    s.x = x;
    s.kf = vf_fnma(a, vf_set(F_CR_N_LN2), vf_set(F_SHIFT));   /* SHIFT + k */
    vf kn = vf_sub(s.kf, vf_set(F_SHIFT));
    vfi j = vf_bits(s.kf);
    vf rh = vf_fnms(kn, vf_set(F_CR_LN2_HI), a);
    vf rl = vf_fnma(kn, vf_set(F_CR_LN2_LO), vf_cr_lookup(F_CR_L, j));
    vf r = vf_add(rh, rl);
    vf p = vf_fma(vf_fma(vf_set(F_CR_C4), r, vf_set(F_CR_C3)), r, vf_set(F_CR_C2));
    vf c = vf_fma(p, vf_mul(r, r), rl);
    vf th = vf_cr_lookup(F_CR_TH, j);
    s.hi = vf_fma(th, rh, th);
    s.lo = vf_fma(th, c, vf_fma(th, rh, vf_sub(th, s.hi)));
    return s;
}

SIG_INLINE vf_cr2 vf_cr_stage2(vf_cr1 s1)
{
    vf_cr2 s;
    s.x = s1.x;
    /* hi + lo renormalised (Fast2Sum, |lo| < |hi|): |lo| <= 2^-24 after */
    s.hi = vf_add(s1.hi, s1.lo);
    s.lo = vf_add(vf_sub(s1.hi, s.hi), s1.lo);
    /* 2^m, m = floor(k/N): as vf_exp2m, for N = 2^F_CR_BITS */
    vfi e = vfi_and(vfi_sll(vf_bits(s1.kf), 23 - F_CR_BITS), vfi_set((int32_t)0xFF800000u));
    s.S = vfi_float(vfi_add(e, vfi_set(127 << 23)));
    s.R0 = vf_div(vf_set(1.0f), vf_fma(s.S, s.hi, vf_set(1.0f)));
    return s;
}

/* sigma (unscaled for x < 0) as z + Q, and the margin m */
SIG_INLINE void vf_cr_sum(vf_cr2 s, mf neg, vf *z, vf *Q, vf *m)
{
    vf R0S = vf_mul(s.R0, s.S);
    vf e = vf_fnma(R0S, s.hi, vf_sub(vf_set(1.0f), s.R0));
    e = vf_fnma(R0S, s.lo, e);
    vf P = vf_mul(s.R0, s.hi);
    vf w = vf_sel(neg, vf_fma(s.hi, e, s.lo), e);
    vf pe = vf_sel(neg, vf_fms(s.R0, s.hi, P), vf_set(0.0f));
    *z = vf_sel(neg, P, s.R0);
    *Q = vf_fma(s.R0, w, pe);
    *m = vf_mul(*z, vf_set(F_CR_EPS));
}

/* sigma rounded, and in *open the lanes the test leaves open */
SIG_INLINE vf vf_cr_sigmoid_fast(vf_cr2 s, mf *open)
{
    mf neg = vf_lt(s.x, vf_set(0.0f));
    vf z, Q, m;
    vf_cr_sum(s, neg, &z, &Q, &m);
    vf u = vf_add(z, vf_sub(Q, m));
    *open = vf_lt(u, vf_add(z, vf_add(Q, m)));
    return vf_scale_exp2m_where(neg, u, s.S);
}

SIG_INLINE vf vf_cr_silu_fast(vf_cr2 s, mf *open)
{
    mf neg = vf_lt(s.x, vf_set(0.0f));
    vf z, Q, m;
    vf_cr_sum(s, neg, &z, &Q, &m);
    vf xq = vf_mul(s.x, Q), xm = vf_mul(vf_abs(s.x), m);
    vf u = vf_fma(s.x, z, vf_sub(xq, xm));
    *open = vf_lt(u, vf_fma(s.x, z, vf_add(xq, xm)));
    return vf_scale_exp2m_where(neg, u, s.S);
}

/* --------------------------------------------------- the double path */

/*
 * sigma and silu of float inputs in double, correctly rounded to float:
 * the light double result (within 2^-42 relative: e^-a to 2^-42.6 as for
 * softplus, two more roundings) is decided by its rounding test wherever it
 * lies more than F_SETTLE_NEAR = 2^12 double ulps from a float rounding
 * boundary; else the double kernel's (within 1 ulp) wherever it lies more
 * than 4; else double-double (vd_float_settle).
 */
SIG_INLINE vd vd_cr_light(vd x, int silu)
{
    vd t = vd_expneg_light_scaled(vd_min(vd_set(D_LIGHT_CLAMP), vd_abs(x)));
    vd num = vd_sel(vd_lt(x, vd_set(0.0)), t, vd_set(1.0));
    /* silu(-inf) = -0: x clamped where |x| e^-|x| is far below 2^-150 */
    if (silu) num = vd_mul(vd_max(vd_set(-D_LIGHT_CLAMP), x), num);
    return vd_div(num, vd_add(vd_set(1.0), t));
}

static __attribute__((noinline, unused)) vd vd_cr_settle(vd x, vd y, int silu)
{
    y = vd_float_settle(x, y, silu ? F_SETTLE_SILU : F_SETTLE_SIGMOID);
    if (!silu) {
        /* |x| < 2^-13: sigma(x) = 1/2 + x/4 - x^3/48 + ..., and 1/2 + x/4 can be
         * a float rounding boundary itself (x = 0x1.8p-22), with the true value
         * nearer to it than the double kernel resolves.  1/2 + x/4 -
         * x 2^-30, one FMA, lies on the same side of every boundary: its
         * distance from 1/2 + x/4 exceeds x^3/48 - x^5/480 (same sign), and
         * 1/2 + x/4, a multiple of ulp(x)/4, is either a boundary (a multiple
         * of 2^-26) or at least ulp(x)/4 > |x| 2^-26 from one */
        md tiny = vd_lt(vd_abs(x), vd_set(0x1p-13));
        if (md_any(tiny)) y = vd_sel(tiny, vd_fma(x, vd_set(0.25 - 0x1p-30), vd_set(0.5)), y);
    }
    else {
        /* |x| < 2^-30: silu(x) = x/2 + x^2/4 - ... lies above x/2 by far less
         * than half a float ulp of it; x/2 + |x| 2^-40 is on the same side of
         * every float rounding boundary (x/2 itself may be one, below 2^-125);
         * x = -0 keeps its y = -0, which the sum would turn into +0 */
        md tiny = md_and(vd_lt(vd_abs(x), vd_set(0x1p-30)), vd_gt(vd_abs(x), vd_set(0.0)));
        if (md_any(tiny))
            y = vd_sel(tiny, vd_fma(vd_abs(x), vd_set(0x1p-40), vd_mul(x, vd_set(0.5))), y);
    }
    return y;
}

/* the lanes of `open` (the halves that hold any), the others left as r */
static __attribute__((noinline, unused)) vf vf_cr_wide_lanes(vf x, vf r, mf open, int silu)
{
    unsigned bits = mf_bits(open), half = (1u << VD_N) - 1;
    vd lo = vf_lo_vd(r), hi = vf_hi_vd(r);
    if (bits & half) {
        vd xl = vf_lo_vd(x);
        lo = vd_cr_settle(xl, vd_cr_light(xl, silu), silu);
    }
    if (bits >> VD_N) {
        vd xh = vf_hi_vd(x);
        hi = vd_cr_settle(xh, vd_cr_light(xh, silu), silu);
    }
    return vf_sel(open, vd2_vf(lo, hi), r);
}

/* every lane: the vectors out of the fast range */
#define F_ALL_LANES vf_lt(vf_set(0.0f), vf_set(1.0f))
#define F_NO_LANES vf_lt(vf_set(1.0f), vf_set(0.0f))
SIG_INLINE vf vf_sigmoid_cr_wide(vf x) { return vf_cr_wide_lanes(x, x, F_ALL_LANES, 0); }
SIG_INLINE vf vf_silu_cr_wide(vf x) { return vf_cr_wide_lanes(x, x, F_ALL_LANES, 1); }

/* ------------------------------------------------- the final stages */

/* silu's lanes 0 < |x| < 2^-80 are open too */
SIG_INLINE mf vf_silu_cr_tiny(vf x)
{
    vf a = vf_abs(x);
    return mf_and(vf_lt(a, vf_set(0x1p-80f)), vf_gt(a, vf_set(0.0f)));
}

SIG_INLINE vf vf_sigmoid_cr_fin(vf_cr2 s)
{
    mf open;
    vf r = vf_cr_sigmoid_fast(s, &open);
    if (__builtin_expect(mf_any(open), 0)) r = vf_cr_wide_lanes(s.x, r, open, 0);
    return r;
}

SIG_INLINE vf vf_silu_cr_fin(vf_cr2 s)
{
    mf open;
    vf r = vf_cr_silu_fast(s, &open);
    open = mf_or(open, vf_silu_cr_tiny(s.x));
    if (__builtin_expect(mf_any(open), 0)) r = vf_cr_wide_lanes(s.x, r, open, 1);
    return r;
}

/* ------------------------------------------- SSE2: double, without FMA */

#if SIG_ISA == SIG_ISA_SSE2
/*
 * SSE2 has no FMA, and the float path above, whose every FMA is emulated
 * exactly (simd.h), costs tens of nanoseconds per element there.  These
 * results are correctly rounded, so any evaluation that rounds correctly
 * gives the same bits: on SSE2, sigma and silu of |x| <= F_FAST_MAX are
 * computed in double with plain operations, and decided by a rounding test.
 * t = e^-|x| from vd_expneg_light_scaled (SSE2's, within 2^-50.2), then
 * sigma(x) = 1/(1 + t) (x >= 0) or t/(1 + t) (x < 0): 1 + t and the
 * division round once each, and t's error enters with a factor at most 1:
 * within 2^-50.2 + 2^-52 < 2^-49.8 relative; silu's product one rounding
 * more, below 2^-49.6.  That is less than 2^3.5 double ulps of the result,
 * and vd_near_float_boundary(y, F_NF_NEAR = 16) decides every lane not
 * within 16 of a float rounding boundary (the results are normal floats:
 * sigma >= sigma(-86) > 2^-125, and silu's lanes 0 < |x| < 2^-80 are not
 * taken here).  A vector with an undecided lane (about one lane in 2^24)
 * is computed again by the double path above, as the lanes out of range
 * are.
 */
#define F_NF_NEAR 16

typedef struct {
    vf x;
    vd t[2];
} vf_nf1;

typedef struct {
    vf x;
    vd y[2];
} vf_nf2;

/* records in *wide the lanes beyond the fast range (and NaN) */
SIG_INLINE vf_nf1 vf_nf_stage1(vf x, mf *wide)
{
    vf_nf1 s;
    vf a = vf_abs(x);
    *wide = mf_or(*wide, vf_nle(a, vf_set(F_FAST_MAX)));
    s.x = x;
    /* the wide lanes (NaN included) are clamped to stay ordinary numbers */
    a = vf_min(a, vf_set(F_FAST_MAX));
    s.t[0] = vd_expneg_light_scaled(vf_lo_vd(a));
    s.t[1] = vd_expneg_light_scaled(vf_hi_vd(a));
    return s;
}

SIG_INLINE vf_nf2 vf_nf_stage2(vf_nf1 s1)
{
    vf_nf2 s;
    s.x = s1.x;
    vd xh[2] = {vf_lo_vd(s1.x), vf_hi_vd(s1.x)};
    for (int h = 0; h < 2; h++) {
        vd num = vd_sel(vd_lt(xh[h], vd_set(0.0)), s1.t[h], vd_set(1.0));
        s.y[h] = vd_div(num, vd_add(vd_set(1.0), s1.t[h]));
    }
    return s;
}

SIG_INLINE vf vf_nf_fin(vf_nf2 s, int silu)
{
    vd y[2] = {s.y[0], s.y[1]};
    if (silu) {
        y[0] = vd_mul(vf_lo_vd(s.x), y[0]);
        y[1] = vd_mul(vf_hi_vd(s.x), y[1]);
    }
    md near = md_or(vd_near_float_boundary(y[0], F_NF_NEAR), vd_near_float_boundary(y[1], F_NF_NEAR));
    mf tiny = silu ? vf_silu_cr_tiny(s.x) : F_NO_LANES;
    if (__builtin_expect(md_any(near) || mf_any(tiny), 0)) return vf_cr_wide_lanes(s.x, s.x, F_ALL_LANES, silu);
    return vd2_vf(y[0], y[1]);
}

SIG_INLINE vf vf_sigmoid_nf_fin(vf_nf2 s) { return vf_nf_fin(s, 0); }
SIG_INLINE vf vf_silu_nf_fin(vf_nf2 s) { return vf_nf_fin(s, 1); }
#endif

#endif /* SIGMOID_VCR_H */
