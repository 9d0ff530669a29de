/*
 * sigma(a) and sigma(-a) for a = |x|, with the extra precision that lets every
 * kernel round only once at the end.
 *
 * With t = e^{-a} = 2^m (th + b) from vexp.h and D = 1 + t:
 *
 *   R0 = fl(1 / fl(D))                 one division
 *   e  = 1 - R0 D                      computed as (1 - R0) - R0 2^m th - R0 2^m b;
 *                                      1 - R0 is exact (Sterbenz, R0 in [1/2, 1])
 *                                      and the result is tiny (|e| < 2^-22 or
 *                                      2^-51), so its own rounding is negligible
 *   sigma(a)  = 1/D = R0 / (1 - e) = R0 + R0 e + O(e^2)
 *   sigma(-a) = t/D = 2^m R0 (th + b)(1 + e)
 *             = 2^m (R0 th + R0 (b + th e)) + O(2^m b e)
 *
 * The computation is split in three stages (the exponential; the division;
 * the rest) so that the kernels can software-pipeline it: while one vector
 * finishes, the next is in its division and the one after in its
 * exponential.  Every operand is then ready when its instruction issues, and
 * the long dependency chain no longer fills the out-of-order window.
 */
#ifndef SIGMOID_VLOGISTIC_H
#define SIGMOID_VLOGISTIC_H

#include "vexp.h"

/* ------------------------------------------------------------- double */

typedef struct {
    vd x;       /* the input */
    vd a;       /* min(|x|, clamp) */
    vd th, b;   /* t = e^{-a} = 2^m (th + b) */
    vd kf;      /* holds k, m = floor(k/16) */
} vd_lg1;

typedef struct {
    vd x, a, th, b, kf;
    vd S;       /* 2^max(m, -1000) */
    vd R0;      /* fl(1/fl(1 + t)) */
} vd_lg2;

/* the rounded result of sigma(|x|) and the unscaled sigma(-|x|) */
typedef struct {
    vd R0, e;   /* sigma(a) = R0 + R0 e */
    vd th, b, S, kf;
} vd_logistic_t;

/* |x| is clamped so that k and m stay in range; the clamp must lie where
 * the result no longer depends on |x|: D_CLAMP_VALUE = 760 for the values
 * (e^-760 < 2^-1096 is below half the smallest subnormal), D_CLAMP_GRAD =
 * 1500 for the gradients, whose result g sigma'(x) must vanish even for
 * g = DBL_MAX < 2^1024 (e^-1500 < 2^-2164).  min(clamp, |x|) lets NaN
 * through, and NaN then propagates through every later operation. */
#define D_CLAMP_VALUE 760.0
#define D_CLAMP_GRAD 1500.0

SIG_INLINE vd_lg1 vd_lg_stage1_clamped(vd x, double clamp)
{
    vd_lg1 s;
    s.x = x;
    s.a = vd_min(vd_set(clamp), vd_abs(x));
    vd_exp_t E = vd_expneg(s.a);
    s.th = E.th;
    s.b = E.b;
    s.kf = E.kf;
    return s;
}

SIG_INLINE vd_lg1 vd_lg_stage1(vd x) { return vd_lg_stage1_clamped(x, D_CLAMP_VALUE); }
SIG_INLINE vd_lg1 vd_lg_stage1_grad(vd x) { return vd_lg_stage1_clamped(x, D_CLAMP_GRAD); }

SIG_INLINE vd_lg2 vd_lg_stage2(vd_lg1 s1)
{
    vd_lg2 s;
    s.x = s1.x;
    s.a = s1.a;
    s.th = s1.th;
    s.b = s1.b;
    s.kf = s1.kf;
    s.S = vd_exp2m_clamped(s1.kf);
    vd D = vd_fma(s.S, vd_add(s1.th, s1.b), vd_set(1.0));   /* fl(1 + t) */
    s.R0 = vd_div(vd_set(1.0), D);
    return s;
}

SIG_INLINE vd_logistic_t vd_lg_stage3(vd_lg2 s)
{
    vd_logistic_t L;
    L.R0 = s.R0;
    L.th = s.th;
    L.b = s.b;
    L.S = s.S;
    L.kf = s.kf;
    vd R0S = vd_mul(s.R0, s.S);
    L.e = vd_fnma(R0S, s.th, vd_sub(vd_set(1.0), s.R0));    /* 1 - R0 D */
    L.e = vd_fnma(R0S, s.b, L.e);
    return L;
}

SIG_INLINE vd_logistic_t vd_logistic(vd x) { return vd_lg_stage3(vd_lg_stage2(vd_lg_stage1(x))); }

/* sigma(a), rounded once */
SIG_INLINE vd vd_logistic_pos(vd_logistic_t L) { return vd_fma(L.R0, L.e, L.R0); }

/* sigma(-a) / 2^m, rounded once */
SIG_INLINE vd vd_logistic_neg_unscaled(vd_logistic_t L)
{
    return vd_fma(L.R0, L.th, vd_mul(L.R0, vd_fma(L.th, L.e, L.b)));
}

/* -------------------------------------------------------------- float */

/* The float stages are valid for |x| <= F_FAST_MAX: then 2^m, R0 2^m and
 * sigma(-|x|) are normal numbers and no operation sees a subnormal (which
 * would also be slow).  Kernels send vectors with larger |x|, infinities
 * or NaN to the double stages instead. */
#define F_FAST_MAX 86.0f

typedef struct {
    vf x, th, b, kf;
} vf_lg1;

typedef struct {
    vf x, th, b;
    vf S;       /* 2^m exactly */
    vf R0;
} vf_lg2;

typedef struct {
    vf R0, e;
    vf th, b, S;
} vf_logistic_t;

/* also records in *wide the lanes that need the double stages */
SIG_INLINE vf_lg1 vf_lg_stage1(vf x, mf *wide)
{
    vf_lg1 s;
    s.x = x;
    vf a = vf_abs(x);
    *wide = mf_or(*wide, vf_nle(a, vf_set(F_FAST_MAX)));
    vf_exp_t E = vf_expneg(a);
    s.th = E.th;
    s.b = E.b;
    s.kf = E.kf;
    return s;
}

SIG_INLINE vf_lg2 vf_lg_stage2(vf_lg1 s1)
{
    vf_lg2 s;
    s.x = s1.x;
    s.th = s1.th;
    s.b = s1.b;
    s.S = vf_exp2m(s1.kf);
    vf D = vf_fma(s.S, vf_add(s1.th, s1.b), vf_set(1.0f));
    s.R0 = vf_div(vf_set(1.0f), D);
    return s;
}

SIG_INLINE vf_logistic_t vf_lg_stage3(vf_lg2 s)
{
    vf_logistic_t L;
    L.R0 = s.R0;
    L.th = s.th;
    L.b = s.b;
    L.S = s.S;
    vf R0S = vf_mul(s.R0, s.S);
    L.e = vf_fnma(R0S, s.th, vf_sub(vf_set(1.0f), s.R0));
    L.e = vf_fnma(R0S, s.b, L.e);
    return L;
}

SIG_INLINE vf vf_logistic_pos(vf_logistic_t L) { return vf_fma(L.R0, L.e, L.R0); }

SIG_INLINE vf vf_logistic_neg_unscaled(vf_logistic_t L)
{
    return vf_fma(L.R0, L.th, vf_mul(L.R0, vf_fma(L.th, L.e, L.b)));
}

/* ------------------------------------------------------------------ sigma */

SIG_INLINE vd vd_sigmoid_fin(vd_lg2 s)
{
    vd_logistic_t L = vd_lg_stage3(s);
    vd pos = vd_logistic_pos(L);
    vd neg = vd_ldexp_kf(vd_logistic_neg_unscaled(L), L.S, L.kf);
    return vd_sel(vd_lt(s.x, vd_set(0.0)), neg, pos);
}

SIG_INLINE vd vd_sigmoid(vd x) { return vd_sigmoid_fin(vd_lg_stage2(vd_lg_stage1(x))); }

/*
 * For x in [-1/8, 0), sigma(x) = 1 - sigma(a) = (1 - R0) - R0 e, rounded
 * once (1 - R0 is exact).  sigma moves by about 2^-26 |x| from one float to
 * the next there, less than the error of 2^m (Vh + Vl) through e^-a
 * (up to 2^-28 relative): with it, sigma fell 759 times as x rose, in
 * [-0.11, -0.02].  1 - sigma(a) has the absolute error of sigma(a), which
 * never falls for x > 0, and over all 2^32 inputs it never falls either
 * (tests/test_accuracy.py checks every float near the switch).  Below
 * -1/8 it would lose relative accuracy to the cancellation, and the steps
 * of sigma are large enough for the other form.
 */
#if SIG_ISA == SIG_ISA_AVX512
/* With AVX-512 the three results are formed by one FMA whose
 * operands are chosen first; each has R0 for its first factor:
 *   x >= 0:        R0 e + R0                        (vf_logistic_pos)
 *   -1/8 <= x < 0: R0 (-e) + (1 - R0)
 *   x < -1/8:      R0 th + R0 (th e + b), times 2^m  (unscaled, as below)
 * The product by 2^m = S is m added to the exponent: u lies in [1/4, 1]
 * and u 2^m is a normal number for |x| <= F_FAST_MAX, so the sum of the
 * bits is exactly the product vf_mul(u, S).  Three multiplications fewer
 * than below, and the same bits (every float32 input compared): 8-13%
 * less time with AVX-512 (Zen 4).  With AVX2's 16 registers it took 13%
 * more (they spill), and on NEON 24.1 instructions per element against
 * 21.8 (tools/aarch64/instructions.py), so the others keep the form below. */
SIG_INLINE vf vf_sigmoid_fin(vf_lg2 s)
{
    vf_logistic_t L = vf_lg_stage3(s);
    mf neg = vf_lt(s.x, vf_set(0.0f)), far = vf_lt(s.x, vf_set(-0.125f));
    vf q = vf_sel(far, L.th, vf_sel(neg, vf_neg(L.e), L.e));
    vf z = vf_sel(far, vf_mul(L.R0, vf_fma(L.th, L.e, L.b)), vf_sel(neg, vf_sub(vf_set(1.0f), L.R0), L.R0));
    vf u = vf_fma(L.R0, q, z);
    return vf_scale_exp2m_where(far, u, L.S);
}
#else
SIG_INLINE vf vf_sigmoid_fin(vf_lg2 s)
{
    vf_logistic_t L = vf_lg_stage3(s);
    vf pos = vf_logistic_pos(L);
    vf neg = vf_mul(vf_logistic_neg_unscaled(L), L.S);
    vf near = vf_fnma(L.R0, L.e, vf_sub(vf_set(1.0f), L.R0));
    neg = vf_sel(vf_lt(s.x, vf_set(-0.125f)), neg, near);
    return vf_sel(vf_lt(s.x, vf_set(0.0f)), neg, pos);
}
#endif

/* whole float vectors through the double stages: the double result is within
 * 2^-52 relative of the truth, so rounding it to float is faithful (and
 * almost always correctly rounded) */
SIG_INLINE vf vf_sigmoid_wide(vf x)
{
    return vd2_vf(vd_sigmoid(vf_lo_vd(x)), vd_sigmoid(vf_hi_vd(x)));
}

#endif /* SIGMOID_VLOGISTIC_H */
