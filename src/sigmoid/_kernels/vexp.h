/*
 * The exponential core shared by every kernel:
 *
 *     e^{-a} = 2^m (th + b),   a >= 0,   m = floor(k/16),
 *
 * with th = hi part of 2^(j/16) from a 16-entry table (j = k mod 16) and b a
 * small correction (|b| < 0.045) that carries the table's lo part and
 * th*expm1(r).  Keeping th + b unevaluated makes e^{-a} available to about
 * 2^-27 (float) or 2^-56 (double) relative, well beyond the precision of the
 * output type; the kernels then round once at the very end.
 *
 * Argument reduction (Cody-Waite with an FMA):
 *     k  = round(-16 a / ln2)                   via the 1.5*2^p shifter
 *     r  = -a - k*(ln2/16)_hi                   exact (see consts.h)
 *        - k*(ln2/16)_lo                        one rounding, < 2^-30 / 2^-59
 *     e^{-a} = 2^m * 2^(j/16) * (1 + expm1(r)),  |r| <= ln2/32
 */
#ifndef SIGMOID_VEXP_H
#define SIGMOID_VEXP_H

#include "simd.h"
#include "consts.h"

typedef struct {
    vf th, b;  /* e^{-a} = 2^m (th + b) */
    vf kf;     /* F_SHIFT + k: its low bits hold k */
} vf_exp_t;

typedef struct {
    vd th, b;
    vd kf;     /* D_SHIFT + k */
} vd_exp_t;

/* F_SHIFT + k, k = round(-16a/ln2): the reduction's index, whose 2^m
   (m = floor(k/16)) vf_exp2m forms */
SIG_INLINE vf vf_expneg_kf(vf a) { return vf_fnma(a, vf_set(F_16_LN2), vf_set(F_SHIFT)); }

SIG_INLINE vf_exp_t vf_expneg(vf a)
{
    vf_exp_t E;
    E.kf = vf_expneg_kf(a);                                   /* SHIFT - 16a/ln2 */
    vf kn = vf_sub(E.kf, vf_set(F_SHIFT));
    vf r = vf_fnms(kn, vf_set(F_LN2_16_HI), a);              /* -a - kn*hi */
    r = vf_fnma(kn, vf_set(F_LN2_16_LO), r);                 /* r - kn*lo */
    vf p = vf_fma(vf_set(F_EXPM1_C3), r, vf_set(F_EXPM1_C2));
    vf q = vf_fma(p, vf_mul(r, r), r);                       /* expm1(r) */
    vfi j = vf_bits(E.kf);
    E.th = vf_lookup16(F_EXP2_HI, j);
    E.b = vf_fma(E.th, q, vf_lookup16(F_EXP2_LO, j));        /* th*q + tl */
    return E;
}

/* 1/2! + r/3! + ... + r^5/7!, the Horner steps below the top term `top`
   (1/7!, or 1/7! + r/8! for vd_expneg_fine) */
SIG_INLINE vd vd_expm1_poly(vd r, vd top)
{
    vd p = vd_fma(top, r, vd_set(D_EXPM1_C6));
    p = vd_fma(p, r, vd_set(D_EXPM1_C5));
    p = vd_fma(p, r, vd_set(D_EXPM1_C4));
    p = vd_fma(p, r, vd_set(D_EXPM1_C3));
    return vd_fma(p, r, vd_set(D_EXPM1_C2));
}

SIG_INLINE vd_exp_t vd_expneg(vd a)
{
    vd_exp_t E;
    E.kf = vd_fnma(a, vd_set(D_16_LN2), vd_set(D_SHIFT));
    vd kn = vd_sub(E.kf, vd_set(D_SHIFT));
    vd r = vd_fnms(kn, vd_set(D_LN2_16_HI), a);
    r = vd_fnma(kn, vd_set(D_LN2_16_LO), r);
    vd q = vd_fma(vd_expm1_poly(r, vd_set(D_EXPM1_C7)), vd_mul(r, r), r);
    vdi j = vd_bits(E.kf);
    E.th = vd_lookup16(D_EXP2_HI, j);
    E.b = vd_fma(E.th, q, vd_lookup16(D_EXP2_LO, j));
    return E;
}

/*
 * The same e^{-a} = 2^m (th + b) to about 2^-63 relative, th + b normalised
 * (|b| about half an ulp of th at most), for the float64 losses, whose gradient
 * (1 - y) sigma(x) - p y sigma(-x) may cancel to 2^-8 of its larger term
 * before it is recomputed (vloss.h).  The errors of vd_expneg, each near
 * 2^-58, are removed one by one:
 *   - the rounding of r: r + rl = r1 - kn lo exactly (r1 is exact, and so is
 *     r1 - r, by Sterbenz or because both are tiny); (ln2/16)'s third part
 *     times |kn| < 2^16 is below 2^-99;
 *   - the truncation: Taylor to r^8/8! (2^-68.2 absolute, consts.h);
 *   - expm1(r + rl) = qh + ql: qh = r + s rounded, s = r^2 P(r) (|s| <
 *     2^-12, its roundings below 2^-64), its error exact by Fast2Sum (|r| >=
 *     |s|), plus rl (1 + r) (rl r^2 is below 2^-69);
 *   - (TH + TL)(1 + qh + ql): TH qh exact as a two-product, TH + ph by
 *     Fast2Sum, then the small terms pl, TH ql and TL (1 + qh).
 */
SIG_INLINE vd_exp_t vd_expneg_fine(vd a)
{
    vd_exp_t E;
    E.kf = vd_fnma(a, vd_set(D_16_LN2), vd_set(D_SHIFT));
    vd kn = vd_sub(E.kf, vd_set(D_SHIFT));
    vd r1 = vd_fnms(kn, vd_set(D_LN2_16_HI), a);
    vd r = vd_fnma(kn, vd_set(D_LN2_16_LO), r1);
    vd rl = vd_fnma(kn, vd_set(D_LN2_16_LO), vd_sub(r1, r));
    vd p = vd_expm1_poly(r, vd_fma(vd_set(D_EXPM1_C8), r, vd_set(D_EXPM1_C7)));
    vd s = vd_mul(p, vd_mul(r, r));
    vd qh = vd_add(r, s);
    vd ql = vd_add(vd_sub(s, vd_sub(qh, r)), vd_fma(rl, r, rl));
    vdi j = vd_bits(E.kf);
    vd TH = vd_lookup16(D_EXP2_HI, j), TL = vd_lookup16(D_EXP2_LO, j);
    vd ph = vd_mul(TH, qh);
    vd pl = vd_fms(TH, qh, ph);
    E.th = vd_add(TH, ph);
    vd small = vd_add(pl, vd_fma(TH, ql, vd_fma(TL, qh, TL)));
    E.b = vd_add(vd_sub(ph, vd_sub(E.th, TH)), small);
    return E;
}

/*
 * e^{-a} as one double to about 2^-34, for the float results computed in
 * double (a <= D_LIGHT_CLAMP): the same table reduction with a one-constant
 * Cody-Waite step (kn (ln2/16) is exact to 2^-47.9 for a <= 110) and a
 * degree-4 expm1 (truncation 2^-34.5 at |r| = ln2/32).
 */
/* where float results computed in double clamp |x|: e^-110 = 2^-158.7 is
   far below half the smallest float subnormal (2^-150), so sigma(-x) and
   log1p(e^-x) round to 0 there and stay 0 beyond */
#define D_LIGHT_CLAMP 110.0

/* The pieces: e^-a = 2^m th (1 + q), th = 2^(j/16) from the table, q =
 * e^r - 1 by the polynomial, returned; *kf_out = SHIFT + k, 2^m =
 * vd_exp2m(kf).  With fine != 0 (a constant), a degree-5 expm1: truncation
 * 2^-42.7, and r^5/720 <= 2^-37.2 relative to q itself, which for k = 0
 * (a < ln2/32: th = 1, m = 0) is -expm1(-a) with r = -a exact. */
SIG_INLINE vd vd_expneg_light_q(vd a, vd *kf_out, vd *th, int fine)
{
    vd kf = vd_fnma(a, vd_set(D_16_LN2), vd_set(D_SHIFT));
    vd kn = vd_sub(kf, vd_set(D_SHIFT));
    vd r = vd_fnms(kn, vd_set(D_LN2_16_HI), a);
    vd p = fine ? vd_fma(vd_fma(vd_set(D_EXPM1_C5), r, vd_set(D_EXPM1_C4)), r, vd_set(D_EXPM1_C3))
                : vd_fma(vd_set(D_EXPM1_C4), r, vd_set(D_EXPM1_C3));
    p = vd_fma(p, r, vd_set(D_EXPM1_C2));
    *th = vd_lookup16(D_EXP2_HI, vd_bits(kf));
    *kf_out = kf;
    return vd_fma(p, vd_mul(r, r), r);
}

SIG_INLINE vd vd_expneg_light_deg(vd a, vd *kf_out, int fine)
{
    vd th, q = vd_expneg_light_q(a, kf_out, &th, fine);
    return vd_fma(th, q, th);  /* 2^(j/16) e^r; times 2^m by the caller */
}

SIG_INLINE vd vd_expneg_light(vd a, vd *kf_out) { return vd_expneg_light_deg(a, kf_out, 0); }

/*
 * 2^m from kf = SHIFT + k, m = floor(k/16), for 2^m a normal number.
 * k sits in the low bits of kf; shifting it left puts floor(k/16) in the
 * exponent field (the arithmetic shift by 4 comes free because the low 4 bits
 * are masked off), then the exponent bias is added.
 */
SIG_INLINE vf vf_exp2m(vf kf)
{
    vfi e = vfi_and(vfi_sll(vf_bits(kf), 19), vfi_set((int32_t)0xFF800000u));
    return vfi_float(vfi_add(e, vfi_set(127 << 23)));
}

SIG_INLINE vd vd_exp2m(vd kf)
{
    vdi e = vdi_and(vdi_sll(vd_bits(kf), 48), vdi_set((int64_t)0xFFF0000000000000ull));
    return vdi_double(vdi_add(e, vdi_set((int64_t)1023 << 52)));
}

/* e^-a itself, 2^m applied, with the degree-5 expm1 (2^-42.6), for
 * a <= D_LIGHT_CLAMP: the float results computed in double with a rounding
 * test (softplus, log_sigmoid, and sigma and silu's double path) */
#if SIG_ISA != SIG_ISA_SSE2
SIG_INLINE vd vd_expneg_light_scaled(vd a)
{
    vd kf;
    vd t = vd_expneg_light_deg(a, &kf, 1);
    return vd_mul(t, vd_exp2m(kf));
}
#else
/*
 * SSE2 has no FMA, and its exact emulation (simd.h) costs tens of
 * operations each; the results computed here are only ever rounded to
 * float by a rounding test, so any evaluation within their error bound
 * gives the same bits.  Here, with plain operations, k = round(-16 a/ln2)
 * (any nearby integer would do), |k| <= 2539 for a <= 110, k = 16 m + j:
 *   r1 = -k L1 - a        exact: L1 = ln2/16 to 41 bits, so -k L1 is
 *                         exact, and for k != 0 (a > ln2/32 - 2^-40) both
 *                         terms are multiples of 2^-45 and r1, below 2^-5,
 *                         one of 40 bits at most (for k = 0, r1 = -a)
 *   r  = r1 - k L2        L1 + L2 = ln2/16 to 2^-106: r within 2^-58.4,
 *                         |r| <= ln2/32 + 2^-40 < 0.02167
 *   q  = r + r^2 P(r)     P the Taylor terms 1/2! .. 1/6!: truncation below
 *                         0.02167^7/7! (1 + 1/8 + ...) < 2^-50.9; the
 *                         roundings below 2^-58 (r^2 P < 2^-12.4)
 *   2^m (th + th q)       th = 2^(j/16) rounded (2^-53), two roundings;
 *                         2^m exact (a normal double for a <= 110)
 * so the result is e^-a (1 + eps), |eps| < 2^-50.9/0.978 + 3 2^-53 <
 * 2^-50.2, well inside the 2^-42.6 the callers allow.
 */
#define D_NF_LN2_16_1 0x1.62e42fefa3000p-5
#define D_NF_LN2_16_2 0x1.3de6af278ece6p-46
SIG_INLINE vd vd_expneg_light_scaled(vd a)
{
    vd kf = vd_sub(vd_set(D_SHIFT), vd_mul(a, vd_set(D_16_LN2)));
    vd nk = vd_sub(vd_set(D_SHIFT), kf);                  /* -k, exact */
    vd r1 = vd_sub(vd_mul(nk, vd_set(D_NF_LN2_16_1)), a);
    vd r = vd_add(r1, vd_mul(nk, vd_set(D_NF_LN2_16_2)));
    vd p = vd_add(vd_mul(vd_set(D_EXPM1_C6), r), vd_set(D_EXPM1_C5));
    p = vd_add(vd_mul(p, r), vd_set(D_EXPM1_C4));
    p = vd_add(vd_mul(p, r), vd_set(D_EXPM1_C3));
    p = vd_add(vd_mul(p, r), vd_set(D_EXPM1_C2));
    vd q = vd_add(r, vd_mul(vd_mul(r, r), p));
    vd th = vd_lookup16(D_EXP2_HI, vd_bits(kf));
    return vd_mul(vd_add(th, vd_mul(th, q)), vd_exp2m(kf));
}
#endif

/* v 2^m where `scale` holds, v elsewhere, from S = 2^m = vf_exp2m(kf): m is
 * added to v's exponent field, which is the exact product v S wherever
 * both v and v S are normal numbers (the caller's guarantee) */
SIG_INLINE vf vf_scale_exp2m_where(mf scale, vf v, vf S)
{
    vf m = vf_sel(scale, vfi_float(vfi_sub(vf_bits(S), vf_bits(vf_set(1.0f)))), vf_set(0.0f));
    return vfi_float(vfi_add(vf_bits(v), vf_bits(m)));
}

/* 2^max(m, -1000): always normal, for the terms where only the size matters */
#define D_KF_MIN (D_SHIFT - 16000.0)
SIG_INLINE vd vd_exp2m_clamped(vd kf) { return vd_exp2m(vd_max(kf, vd_set(D_KF_MIN))); }

/*
 * v * 2^m, m = floor(k/16), with a single rounding for every m the kernels
 * produce (down to about -1100, deep in the subnormal range).  S is
 * vd_exp2m_clamped(kf).  Without a scale instruction the lanes whose 2^m is
 * below the clamp are finished in scalar code; they only occur for results
 * below 2^-1000.
 */
SIG_INLINE vd vd_ldexp_kf(vd v, vd S, vd kf)
{
#ifdef SIG_HAVE_SCALE
    (void)S;
    return vd_scale(v, vd_mul(vd_sub(kf, vd_set(D_SHIFT)), vd_set(0.0625)));
#else
    vd y = vd_mul(v, S);
    md low = vd_lt(kf, vd_set(D_KF_MIN));
    if (md_any(low)) {
        double vv[VD_N], kk[VD_N], yy[VD_N];
        vd_store(vv, v);
        vd_store(kk, kf);
        vd_store(yy, y);
        for (int i = 0; i < VD_N; i++) {
            if (kk[i] < D_KF_MIN) {
                yy[i] = ldexp(vv[i], (int)floor((kk[i] - D_SHIFT) * 0.0625));
            }
        }
        y = vd_load(yy);
    }
    return y;
#endif
}

#endif /* SIGMOID_VEXP_H */
