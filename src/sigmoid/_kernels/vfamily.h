/*
 * The rest of the family, built on vexp.h, vlogistic.h and vlog.h.  Each
 * function keeps its intermediate result as an unevaluated sum hi + lo and
 * rounds once at the end, multiplying by 2^m last when the result may be
 * subnormal.  The comments name the identity behind every branch.
 */
#ifndef SIGMOID_VFAMILY_H
#define SIGMOID_VFAMILY_H

#include "vlogistic.h"
#include "vlog.h"
#include "ddouble.h"

/* =============================================================== silu */

/*
 * silu(x) = x sigma(x) = x (sh + sl) rounded once (FMA), then scaled:
 *   x >= 0:  sigma(a) = R0 + R0 e
 *   x <  0:  sigma(-a) = 2^m (Vh + Vl),  V = R0 th + R0 (b + th e) with
 *            Vh = R0 th rounded and Vl its exact FMA remainder plus the
 *            small terms; the product is multiplied by 2^m last.
 * For x < -D_CLAMP_VALUE (760), |x| e^-|x| is far below the smallest
 * subnormal: x is clamped there so that x V cannot overflow; silu(-inf) =
 * -0 is the limit.
 * silu(+inf) = +inf is selected (x (R0 e) would be inf - inf).
 */
SIG_INLINE vd vd_silu_fin(vd_lg2 s)
{
    vd_logistic_t L = vd_lg_stage3(s);
    vd x = s.x;
    md neg = vd_lt(x, vd_set(0.0));
    /* sigma(x) as hi + lo: R0 + R0 e, or 2^m (Vh + Vl) */
    vd Vh = vd_mul(L.R0, L.th);
    vd Vl = vd_fma(L.R0, vd_fma(L.th, L.e, L.b), vd_fms(L.R0, L.th, Vh));
    vd sh = vd_sel(neg, Vh, L.R0);
    vd sl = vd_sel(neg, Vl, vd_mul(L.R0, L.e));
    vd xc = vd_max(vd_set(-D_CLAMP_VALUE), x);
    vd y = vd_fma(xc, sh, vd_mul(xc, sl));
    /* 2^m only for x < 0: k + 16 m' with m' = 0 is k itself when k = 0 */
    vd kf = vd_sel(neg, L.kf, vd_set(D_SHIFT));
    y = vd_ldexp_kf(y, vd_sel(neg, L.S, vd_set(1.0)), kf);
    return vd_sel(vd_eq(x, vd_set(INFINITY)), x, y);
}

SIG_INLINE vd vd_silu(vd x) { return vd_silu_fin(vd_lg_stage2(vd_lg_stage1(x))); }

/* float32 silu: vcr.h */

/* ======================================================= sigmoid_backward */

/* sigma'(x) = 1/4 - K/16 for |x| < 1/2 in double, as vf_sigmoid_backward_near0
 * below: Q of degree 7 (2^-56.5).  sigma' moves by about x^2 2^-53 of
 * itself from one double to the next, less than the error of its
 * evaluation through e^-|x|: in runs of 10^7 consecutive doubles from
 * 0.01, 0.02, 0.07 and 0.2 that evaluation rose at 783, 3,164, 16,985 and
 * 15,473 steps. */
/* D_SBW_WINDOW (1/2, consts.h): the interval its Q is fitted on */

SIG_INLINE vd vd_sigmoid_backward_near0(vd x, vd g)
{
    vd u = vd_mul(x, x);
    vd q = vd_fma(vd_set(D_SBW_Q7), u, vd_set(D_SBW_Q6));
    q = vd_fma(q, u, vd_set(D_SBW_Q5));
    q = vd_fma(q, u, vd_set(D_SBW_Q4));
    q = vd_fma(q, u, vd_set(D_SBW_Q3));
    q = vd_fma(q, u, vd_set(D_SBW_Q2));
    q = vd_fma(q, u, vd_set(D_SBW_Q1));
    q = vd_fma(q, u, vd_set(D_SBW_Q0));
    vd K = vd_fnma(u, vd_mul(u, q), u);
    return vd_fnma(g, vd_mul(K, vd_set(0.0625)), vd_mul(g, vd_set(0.25)));
}

/*
 * sigma'(x) = sigma(a) sigma(-a) = t R^2 = 2^m (th + b) R0^2 (1 + e)^2
 *           = 2^m (W_hi + W_lo),   W_hi = fl(P th), P = fl(R0^2),
 *             W_lo = [P th - W_hi] + (R0^2 - P) th + P (b + 2 e th)
 * grad_output * sigma'(x) is rounded once (FMA with the split product), then
 * scaled by 2^m.  W < 2 unscaled, so g W/2 cannot overflow: the halving is
 * moved into the exponent (k + 16 is m + 1).
 * Infinite or zero grad_output: g times a positive number (the FMA would
 * form inf - inf, or +0 from -0 plus a product of the other sign); at
 * x = +-inf sigma' is 0 and g * 0 follows IEEE.
 */
SIG_INLINE vd vd_sigmoid_backward_fin(vd_lg2 s, vd g)
{
    vd_logistic_t L = vd_lg_stage3(s);
    vd P = vd_mul(L.R0, L.R0);
    vd Pl = vd_fms(L.R0, L.R0, P);
    vd Wh = vd_mul(P, L.th);
    vd Wl = vd_fms(P, L.th, Wh);
    Wl = vd_fma(Pl, L.th, Wl);
    Wl = vd_fma(P, vd_fma(vd_add(L.e, L.e), L.th, L.b), Wl);
    vd half = vd_set(0.5);
    vd y = vd_fma(g, vd_mul(Wh, half), vd_mul(g, vd_mul(Wl, half)));
    vd kf1 = vd_add(L.kf, vd_set(16.0));
    y = vd_ldexp_kf(y, vd_exp2m_clamped(kf1), kf1);
    vd ax = vd_abs(s.x);
    /* near the peak, the evaluation that is monotone by construction (see
       the float kernel below; the same argument with 2^-53 for 2^-24) */
    y = vd_sel(vd_lt(ax, vd_set(D_SBW_WINDOW)), vd_sigmoid_backward_near0(s.x, g), y);
    /* infinite or zero g: g times a positive number (the FMA would form
       inf - inf, or add zeros of either sign) */
    md gspecial = md_or(vd_eq(vd_abs(g), vd_set(INFINITY)), vd_eq(g, vd_set(0.0)));
    y = vd_sel(gspecial, vd_mul(g, Wh), y);
    return vd_sel(vd_eq(ax, vd_set(INFINITY)), vd_mul(g, vd_set(0.0)), y);
}

SIG_INLINE vd vd_sigmoid_backward(vd x, vd g)
{
    return vd_sigmoid_backward_fin(vd_lg_stage2(vd_lg_stage1_grad(x)), g);
}

/*
 * sigma' near its maximum, |x| < 1/2, where it is flat: 1/4 - sigma'(x) is
 * about x^2/16, and from one float x to the next sigma' moves by about
 * x^2 2^-24 of itself (2^-40 at |x| = 2^-8), far less than the float path's
 * error (2^-28.6 relative at worst there).  Wherever such a small move
 * carries sigma' across a rounding boundary, that error could round the
 * larger of two neighbours down and the smaller up: 29,794 pairs of
 * consecutive inputs in |x| in [2^-12, 1/2) did so (with g = 1).
 * So there sigma'(x) = 1/4 - K/16 with u = x^2, c = u Q(u) and
 * K = u - u c, each step monotone in |x| by construction:
 *   u = fl(x x) does not decrease as |x| grows;
 *   where u moves up one ulp (at least 2^-24 u), u - u c moves up at least
 *   2^-24 u (1 - 2c) - u ulp(c) > 0 (c < 0.042 and c's rounding and Q's
 *   moves are within 2^-22.6 c), and fl() keeps the order;
 *   g/4 - g (K/16) is one FMA, monotone in K/16 for every g: K/16 is exact
 *   unless it is below 2^-126, far below an ulp of the result, and g/4 is
 *   exact unless it is subnormal, and so is every g/4 whose lane the
 *   double path does not take (see vf_scaled_g_tiny).
 * The error is that of u (2^-24) and c, about 2^-28 of the result at
 * |x| = 1/2, the same as the float path's there; tools/sweep_float32.py
 * checks the result on all 2^32 inputs, the boundary at 1/2 included.
 */
/* F_SBW_WINDOW (1/2) is in consts.h, beside Q */

SIG_INLINE vf vf_sigmoid_backward_near0(vf x, vf g)
{
    vf u = vf_mul(x, x);
    vf q = vf_fma(vf_fma(vf_fma(vf_set(F_SBW_Q3), u, vf_set(F_SBW_Q2)), u, vf_set(F_SBW_Q1)),
                  u, vf_set(F_SBW_Q0));
    vf K = vf_fnma(u, vf_mul(u, q), u);
    return vf_fnma(g, vf_mul(K, vf_set(0.0625f)), vf_mul(g, vf_set(0.25f)));
}

/* whether a nonzero g times the 2^m of e^-|x| lies below 2^-123.  The float
 * gradients round g W once and scale the result by 2^m, which is exact
 * unless the result is below 2^-126, and then rounds it a second time (up
 * to an ulp off and not monotone: 20,132 reversals in x with g = 10^-40).
 * W < 2, and W > 1/5 where g W 2^m is a gradient of sigma, so every result
 * below 2^-126 has g 2^m below 2^-123; those lanes are computed in double.
 * (Folding 2^m into g first instead would push the low part of g W below
 * 2^-126 for results up to 2^-102.) */
SIG_INLINE mf vf_scaled_g_tiny(vf gS)
{
    vf a = vf_abs(gS);
    return mf_and(vf_lt(vf_set(0.0f), a), vf_lt(a, vf_set(0x1p-123f)));
}

/* float, |x| <= F_FAST_MAX and |g| <= 2^126 (so g W cannot overflow):
 * g W is rounded once and scaled exactly; the lanes whose result could be
 * below 2^-126 are ORed into *w */
SIG_INLINE vf vf_sigmoid_backward_fin(vf_lg2 s, vf g, mf *w)
{
    vf_logistic_t L = vf_lg_stage3(s);
    vf P = vf_mul(L.R0, L.R0);
    vf Pl = vf_fms(L.R0, L.R0, P);
    vf Wh = vf_mul(P, L.th);
    vf Wl = vf_fms(P, L.th, Wh);
    Wl = vf_fma(Pl, L.th, Wl);
    Wl = vf_fma(P, vf_fma(vf_add(L.e, L.e), L.th, L.b), Wl);
    *w = mf_or(*w, vf_scaled_g_tiny(vf_mul(g, L.S)));
    vf y = vf_mul(vf_fma(g, Wh, vf_mul(g, Wl)), L.S);
    mf near = vf_lt(vf_abs(s.x), vf_set(F_SBW_WINDOW));
    y = vf_sel(near, vf_sigmoid_backward_near0(s.x, g), y);
    return vf_sel(vf_eq(g, vf_set(0.0f)), g, y);   /* the sign of g times a positive number */
}

SIG_INLINE vf vf_sigmoid_backward_wide(vf x, vf g)
{
    return vd2_vf(vd_sigmoid_backward(vf_lo_vd(x), vf_lo_vd(g)),
                  vd_sigmoid_backward(vf_hi_vd(x), vf_hi_vd(g)));
}

/* ============================================ sigmoid_backward_from_output */

/*
 * g y (1 - y) for a y outside [0, 1] (not an output of sigma, but computed
 * all the same): y (1 - y) < 0 there, and it may overflow although the
 * product with g does not (y = 2.5e154, g = -6.75e-18), so each factor is
 * split as m 2^e (frexp), the mantissas multiplied with one rounding as in
 * [0, 1] (1 - y = w + d by TwoSum), and the exponent applied last (ldexp:
 * overflow to inf, or one more rounding for a subnormal result).  g = 0
 * gives a zero of the sign of -g, as the exact product of g and a negative
 * number does; infinite y gives g (-inf), nan for g = 0.
 */
static inline double sbfo_outside(double y, double g)
{
    if (isnan(y) || isnan(g)) return y + g;          /* quiet nan */
    if (isinf(y) || isinf(g) || g == 0.0) return g * -(isinf(y) ? INFINITY : 1.0);
    double w = 1.0 - y, bb = w - 1.0;
    double d = (1.0 - (w - bb)) + (-y - bb);         /* TwoSum: w + d = 1 - y */
    int ey, ew, eg;
    double my = frexp(y, &ey), mw = frexp(w, &ew), mg = frexp(g, &eg);
    double md = ldexp(d, -ew);
    double P = my * mw;
    double lo = fma(my, md, fma(my, mw, -P));
    return ldexp(fma(mg, P, mg * lo), ey + ew + eg);
}

/*
 * g y (1 - y).  For y in [0, 1]: w = fl(1 - y) with its exact remainder
 * d = (1 - w) - y (Fast2Sum, |y| <= 1), y w = P + Pl exactly (FMA), so
 * y (1 - y) = P + Pl + y d and g times it is rounded once.  Outside [0, 1]
 * the plain formula g (y (1 - y)).  y = -0 is y = 0: y + 0 is +0 there (and
 * y itself elsewhere), so that the result is a zero with the sign of g.
 */
SIG_INLINE vd vd_sigmoid_backward_from_output(vd y, vd g)
{
    vd one = vd_set(1.0);
    y = vd_add(y, vd_set(0.0));
    vd w = vd_sub(one, y);
    vd d = vd_sub(vd_sub(one, w), y);
    vd P = vd_mul(y, w);
    vd lo = vd_fma(y, d, vd_fms(y, w, P));
    vd r = vd_fma(g, P, vd_mul(g, lo));
    /* infinite or zero g: g times the (rounded) derivative P >= 0, avoiding
       inf - inf and zeros of the wrong sign */
    md gspecial = md_or(vd_eq(vd_abs(g), vd_set(INFINITY)), vd_eq(g, vd_set(0.0)));
    r = vd_sel(gspecial, vd_mul(g, P), r);
    /* y outside [0, 1], or nan: rare, lane by lane (sbfo_outside) */
    md in01 = md_and(vd_ge(y, vd_set(0.0)), vd_le(y, one));
    if (md_any(md_andnot(in01, vd_eq(one, one)))) {
        double ys[VD_N], gs[VD_N], rs[VD_N];
        vd_store(ys, y);
        vd_store(gs, g);
        vd_store(rs, r);
        for (int k = 0; k < VD_N; k++)
            if (!(ys[k] >= 0.0 && ys[k] <= 1.0)) rs[k] = sbfo_outside(ys[k], gs[k]);
        r = vd_load(rs);
    }
    return r;
}

/* float: in double, where y (1 - y) is exact for y in [0, 1] up to the
 * rounding of 1 - y (only for y < 2^-29, where it is harmless); y = -0 as
 * above */
SIG_INLINE vd vd_sbfo_of_floats(vd y, vd g)
{
    y = vd_add(y, vd_set(0.0));
    return vd_mul(g, vd_mul(y, vd_sub(vd_set(1.0), y)));
}
SIG_INLINE vf vf_sigmoid_backward_from_output(vf y, vf g)
{
    return vd2_vf(vd_sbfo_of_floats(vf_lo_vd(y), vf_lo_vd(g)),
                  vd_sbfo_of_floats(vf_hi_vd(y), vf_hi_vd(g)));
}

/* =================================================================== hard */

/*
 * hard_sigmoid(x) = (x + 3)/6 on (-3, 3), 0 below, 1 above.
 * x + 3 = sh + sl exactly (Fast2Sum, |x| < 3); q = fl(sh fl(1/6)) is within
 * an ulp of sh/6, so the remainder r = sh - 6q (FMA) is exact, and so is
 * r + sl; the result q + r/6 is rounded once, with r/6 a correctly rounded
 * division, so that exact midpoints (x + 3 = 6 M) still round to even.
 * Without FMA (SSE2) the remainder is (sh - 4q) - 2q, both subtractions
 * exact by Sterbenz's lemma (sh/q and (sh - 4q)/q lie near 6 and 2), so the
 * bits are the same.
 */
#if SIG_ISA == SIG_ISA_SSE2
#define HARD_REM(P, T, sh, q) P##_sub(P##_sub(sh, P##_mul(P##_set((T)4), q)), P##_add(q, q))
#else
#define HARD_REM(P, T, sh, q) P##_fnma(P##_set((T)6), q, sh)
#endif
#define DEFINE_HARD(P, V, T, M)                                                 \
    SIG_INLINE V P##_hard_sigmoid(V x)                                          \
    {                                                                           \
        V three = P##_set((T)3), six = P##_set((T)6);                           \
        V sh = P##_add(x, three);                                               \
        V sl = P##_add(P##_sub(three, sh), x);                                  \
        V q = P##_mul(sh, P##_set((T)1 / (T)6));                                \
        V r = P##_add(HARD_REM(P, T, sh, q), sl);                               \
        V y = P##_add(q, P##_div(r, six));                                      \
        y = P##_sel(P##_le(x, P##_set((T)-3)), P##_set((T)0), y);               \
        return P##_sel(P##_ge(x, three), P##_set((T)1), y);                     \
    }                                                                           \
    /* g/6 on the open interval (-3, 3), g * 0 outside, nan for nan x */        \
    SIG_INLINE V P##_hard_sigmoid_backward(V x, V g)                            \
    {                                                                           \
        V ax = P##_abs(x);                                                      \
        V y = P##_sel(P##_lt(ax, P##_set((T)3)), P##_div(g, P##_set((T)6)),     \
                      P##_mul(g, P##_set((T)0)));                               \
        return P##_sel(P##_isnan(x), P##_add(x, x), y);  /* quieted */           \
    }

DEFINE_HARD(vf, vf, float, mf)
DEFINE_HARD(vd, vd, double, md)

/* ================================================= softplus, log_sigmoid */

/*
 * softplus(x) = max(x, 0) + log1p(t),  t = e^-|x| = 2^m (th + b).
 *   t < 2^-54 (|x| > 37.5):  log1p(t) = t (1 - t/2 + ...) rounds as t does:
 *                            2^m (th + b), rounded once (subnormals too).
 *   otherwise:  1 + t = Wh + Wl exactly enough (Wh = fl(1 + t), Wl from two
 *               exact-remainder FMAs), log(Wh + Wl) = k ln2 + hi + lo from
 *               the log core, and k ln2_hi + hi is summed exactly (Fast2Sum:
 *               k is 0 or 1 and |hi| < ln 2).
 * The sum with max(x, 0) >= 0 adds one rounding; all terms are >= 0, so the
 * error stays below 1 ULP.  log_sigmoid(x) = -softplus(-x).
 */
SIG_INLINE vd vd_softplus(vd x)
{
    vd a = vd_min(vd_set(D_CLAMP_VALUE), vd_abs(x));
    vd_exp_t E = vd_expneg(a);
    vd S = vd_exp2m_clamped(E.kf);
    vd one = vd_set(1.0);
    vd Wh = vd_fma(S, vd_add(E.th, E.b), one);
    vd Wl = vd_fma(S, E.th, vd_sub(one, Wh));
    Wl = vd_fma(S, E.b, Wl);
    vd_log_t G = vd_log_core(Wh, Wl);
    vd kl = vd_mul(G.k, vd_set(D_LN2_HI));
    vd Lh = vd_add(kl, G.hi);
    vd Ll = vd_add(vd_add(vd_sub(kl, Lh), G.hi), vd_fma(G.k, vd_set(D_LN2_LO), G.lo));
    vd L = vd_add(Lh, Ll);
    vd tiny = vd_ldexp_kf(vd_add(E.th, E.b), S, E.kf);
    L = vd_sel(vd_gt(a, vd_set(37.5)), tiny, L);
    return vd_add(vd_max(vd_set(0.0), x), L);
}

SIG_INLINE vd vd_log_sigmoid(vd x) { return vd_neg(vd_softplus(vd_neg(x))); }

/* ================================================================= logit */

/*
 * logit(p) = log(p) - log(1 - p), 1 - p = qh + ql exactly (Fast2Sum).
 * With log(p) = k1 ln2 + h1 + l1 and log(1 - p) = k2 ln2 + h2 + l2 from the
 * log core, the powers of two cancel exactly in (k1 - k2) ln2: near p = 1/2,
 * k1 = k2 and logit(p) = log1p(2p - 1) - log1p(1 - 2p) with no cancellation
 * at all (h1 = 2p - 1 and h2 = 1 - 2p exactly).  The remaining sums are
 * done with TwoSum and rounded once.
 * logit(0) = -inf, logit(1) = +inf, p outside [0, 1] gives nan.
 */
SIG_INLINE vd vd_logit(vd p)
{
    vd one = vd_set(1.0), zero = vd_set(0.0);
    vd qh = vd_sub(one, p);
    vd ql = vd_sub(vd_sub(one, qh), p);
    /* the core needs positive finite arguments; the special values are
       selected at the end */
    md inside = md_and(vd_gt(p, zero), vd_lt(p, one));
    vd half = vd_set(0.5);
    vd_log_t A = vd_log_core_rel(vd_sel(inside, p, half), zero);
    vd_log_t B = vd_log_core(vd_sel(inside, qh, half), vd_sel(inside, ql, zero));
    vd dk = vd_sub(A.k, B.k);
    vd e1, e2;
    vd h = vd_two_sum(A.hi, vd_neg(B.hi), &e1);
    vd H = vd_two_sum(vd_mul(dk, vd_set(D_LN2_HI)), h, &e2);
    vd lo = vd_add(vd_add(e1, e2), vd_fma(dk, vd_set(D_LN2_LO), vd_sub(A.lo, B.lo)));
    vd y = vd_add(H, lo);
    if (!md_any(md_andnot(inside, vd_eq(zero, zero)))) return y;   /* every lane in (0, 1) */
    y = vd_sel(vd_eq(p, zero), vd_set(-INFINITY), y);
    y = vd_sel(vd_eq(p, one), vd_set(INFINITY), y);
    y = vd_sel(md_or(vd_lt(p, zero), vd_gt(p, one)), vd_set(NAN), y);
    return vd_sel(vd_isnan(p), vd_add(p, p), y);   /* a nan, quieted */
}

/* ======================================================= silu_backward */

/*
 * silu'(x) = sigma(x) (1 + x sigma(-x)), a = |x|.
 *   x >= 0:  sigma(a) + a sigma(a) sigma(-a) = R0 + R0 e + a 2^m W, every
 *            term positive (W = Wh + Wl as in sigmoid_backward; 2^m may be
 *            clamped at 2^-1000, where the term is far below an ulp of R0).
 *            R0 + a 2^m Wh is kept exact as sh + sl (Fast2Sum, R0 >= 1/2
 *            being the larger), the small terms join sl, and g (sh + sl) is
 *            rounded once.  Rounding R0 e + a 2^m W first, as one float,
 *            left errors of up to a tenth of an ulp that varied from one
 *            input to the next, more than silu' moves per step on [1.5, 3]:
 *            30,651 of all float32 inputs stepped against silu' there.
 *   x in [-1/8, 0): 1 - silu'(a) = (1 - sh) - sl - ..., rounded once (1 - sh
 *            is exact).  silu' moves by half an ulp of x per step there
 *            (at most 1/16 of an ulp of the result for |x| < 2^-4), less
 *            than the error of the formula below varies from one input to
 *            the next: through it, float32 silu' stepped against the
 *            function 521 times in [-0.03, -0.0004].  This form carries
 *            the error of silu'(a) (above), and silu' in [0.44, 0.5] does
 *            not cancel.
 *   a is |x| clamped at 1500, where g silu'(x) = g (1 - a) e^-a vanishes
 *   even for g = DBL_MAX.
 *   x <  0:  sigma(-a) (1 - a sigma(a)) = 2^m V M with V = Vh + Vl as in silu
 *            and M = 1 - a R0 (1 + e) = Mh + Ml: a R0 = Ph + Pl exactly (FMA)
 *            and 1 - Ph by TwoSum.  V M is kept as hi + lo, multiplied by g
 *            and rounded once, then scaled; a factor 2^-12 moves into the
 *            exponent so that g V M (|V M| < 2 (1 + 1500)) cannot overflow.
 *   |x - x0| < 1/16, x0 = -1.27846... the zero of silu': M cancels there,
 *            so silu' is taken from its Taylor series about x0 instead, in
 *            h = (x - x0_hi) - x0_lo (the first difference exact):
 *            silu' = A1 h + h^2 (A2 + A3 h + ... + A13 h^11), A1 h in
 *            double-double, the rest in hh = x - x0_hi with the first-order
 *            correction -2 A2 hh x0_lo of h^2; truncation < 2^-70 relative
 *            (float: to h^7, |h| < 1/16, truncation < 2^-39).
 *   ||x| - x1| < 1/16, x1 = 2.39936... where silu' is largest (and -x1,
 *            where it is smallest): silu' moves by less than the error of
 *            the formulas above from one input to the next there, so it is
 *            taken as silu'(+-(x1 + h)) = m1 + B z^2 or (1 - m1) - B z^2,
 *            z = h + h^2 P(h), B = silu'''(x1)/2, in h = (|x| - x1_hi) -
 *            x1_lo (the first difference exact), and g times that as
 *            fma(g, m_hi, g fl(m_lo +- B z^2)).  That is monotone in x by
 *            construction: h rises with |x|; z rises with h (h^2 P(h)
 *            changes by less than 2 |h P(h)| < 0.04 of each step of h);
 *            z^2, the FMA with m_lo, the product with g and the final FMA
 *            each keep the order.  The error: the fit (2^-42.2 float,
 *            2^-76.1 double; tools/gen_constants.py) and one rounding of
 *            relative size 2^-24 (2^-53) of |B z^2| < 2^-12.
 * Infinite or zero g: g times the sign of silu' (avoids inf - inf and zeros
 * of the wrong sign); at x = -inf silu' = 0 and g * 0 follows IEEE.
 */
SIG_INLINE vd vd_silu_taylor(vd x, vd g)
{
    vd hh = vd_sub(x, vd_set(D_SILU_X0_HI));
    vd p = vd_fma(vd_set(D_SILU_A13), hh, vd_set(D_SILU_A12));
    p = vd_fma(p, hh, vd_set(D_SILU_A11));
    p = vd_fma(p, hh, vd_set(D_SILU_A10));
    p = vd_fma(p, hh, vd_set(D_SILU_A9));
    p = vd_fma(p, hh, vd_set(D_SILU_A8));
    p = vd_fma(p, hh, vd_set(D_SILU_A7));
    p = vd_fma(p, hh, vd_set(D_SILU_A6));
    p = vd_fma(p, hh, vd_set(D_SILU_A5));
    p = vd_fma(p, hh, vd_set(D_SILU_A4));
    p = vd_fma(p, hh, vd_set(D_SILU_A3));
    p = vd_fma(p, hh, vd_set(D_SILU_A2));
    vd a1 = vd_set(D_SILU_A1_HI);
    vd fh = vd_mul(a1, hh);
    /* A1 h - fh = [a1 hh - fh] - a1 x0_lo + a1_lo hh */
    vd fl = vd_fma(vd_set(D_SILU_A1_LO), hh, vd_fms(a1, hh, fh));
    fl = vd_fnma(a1, vd_set(D_SILU_X0_LO), fl);
    /* h^2 = hh^2 - 2 hh x0_lo + ...: the series in hh, plus the first-order
       correction of its leading term A2 h^2 (without it the result would be
       off by 2 A2 x0_lo / A1, nearly an ulp, for every h) */
    fl = vd_fma(vd_set(-2.0 * D_SILU_A2 * D_SILU_X0_LO), hh, fl);
    fl = vd_fma(vd_mul(hh, hh), p, fl);
    return vd_fma(g, fh, vd_mul(g, fl));
}

/* where 1 + x sigma(-x) cancels too much for the direct formula: there the
 * error of R (about 2^-59 absolute in a R) is divided by |M| = 0.56 |x - x0|,
 * which stays below 2^-54 relative for |x - x0| >= 1/16 */
#define D_SILU_WINDOW 0.0625

/* D_SILUBW_WINDOW (1/16, consts.h): the interval P is fitted on */

SIG_INLINE md vd_silubw_ext_lanes(vd a)
{
    return vd_lt(vd_abs(vd_sub(a, vd_set(D_SILUBW_X1_HI))), vd_set(D_SILUBW_WINDOW));
}

/* g silu'(x) for ||x| - x1| < 1/16 (see above) */
SIG_INLINE vd vd_silubw_near_ext(vd x, vd a, vd g)
{
    vd h = vd_sub(vd_sub(a, vd_set(D_SILUBW_X1_HI)), vd_set(D_SILUBW_X1_LO));
    vd p = vd_fma(vd_set(D_SILUBW_P8), h, vd_set(D_SILUBW_P7));
    p = vd_fma(p, h, vd_set(D_SILUBW_P6));
    p = vd_fma(p, h, vd_set(D_SILUBW_P5));
    p = vd_fma(p, h, vd_set(D_SILUBW_P4));
    p = vd_fma(p, h, vd_set(D_SILUBW_P3));
    p = vd_fma(p, h, vd_set(D_SILUBW_P2));
    p = vd_fma(p, h, vd_set(D_SILUBW_P1));
    p = vd_fma(p, h, vd_set(D_SILUBW_P0));
    vd z = vd_fma(vd_mul(h, h), p, h);
    md neg = vd_lt(x, vd_set(0.0));
    vd B = vd_sel(neg, vd_set(-D_SILUBW_B), vd_set(D_SILUBW_B));
    vd t = vd_fma(B, vd_mul(z, z), vd_sel(neg, vd_set(D_SILUBW_N1_LO), vd_set(D_SILUBW_M1_LO)));
    return vd_fma(g, vd_sel(neg, vd_set(D_SILUBW_N1_HI), vd_set(D_SILUBW_M1_HI)), vd_mul(g, t));
}

SIG_INLINE vd vd_silu_backward_fin(vd_lg2 s, vd g)
{
    vd_logistic_t L = vd_lg_stage3(s);
    vd x = s.x, a = s.a;
    vd one = vd_set(1.0);
    /* x >= 0 */
    vd P = vd_mul(L.R0, L.R0);
    vd Wh = vd_mul(P, L.th);
    vd Wl = vd_fma(vd_fms(L.R0, L.R0, P), L.th, vd_fms(P, L.th, Wh));
    Wl = vd_fma(P, vd_fma(vd_add(L.e, L.e), L.th, L.b), Wl);
    /* R0 + a 2^m Wh exact as sh + sl (Fast2Sum: R0 >= 1/2 > a 2^m Wh) */
    vd ph = vd_mul(a, Wh);
    vd pl = vd_fma(a, Wl, vd_fms(a, Wh, ph));
    vd aVh = vd_mul(ph, L.S);
    vd sh = vd_add(L.R0, aVh);
    vd sl = vd_sub(aVh, vd_sub(sh, L.R0));
    vd lo = vd_add(sl, vd_fma(L.R0, L.e, vd_mul(pl, L.S)));
    vd pos = vd_fma(g, sh, vd_mul(g, lo));
    /* x in [-1/8, 0): silu'(x) = 1 - silu'(a), 1 - sh exact */
    vd near0 = vd_fma(g, vd_sub(one, sh), vd_mul(g, vd_neg(lo)));
    /* x < 0 */
    vd Vh = vd_mul(L.R0, L.th);
    vd Vl = vd_fma(L.R0, vd_fma(L.th, L.e, L.b), vd_fms(L.R0, L.th, Vh));
    vd Ph = vd_mul(a, L.R0);
    vd Pl = vd_fms(a, L.R0, Ph);
    vd em;
    vd Mh = vd_two_sum(one, vd_neg(Ph), &em);
    vd Ml = vd_sub(em, vd_fma(Ph, L.e, Pl));
    vd Qh = vd_mul(Vh, Mh);
    vd Ql = vd_fms(Vh, Mh, Qh);
    Ql = vd_fma(Vh, Ml, Ql);
    Ql = vd_fma(Vl, Mh, Ql);
    vd sc = vd_set(0x1p-12);
    vd neg = vd_fma(g, vd_mul(Qh, sc), vd_mul(g, vd_mul(Ql, sc)));
    vd kf = vd_add(L.kf, vd_set(16.0 * 12.0));
    neg = vd_ldexp_kf(neg, vd_exp2m_clamped(kf), kf);
    md isneg = vd_lt(x, vd_set(0.0));
    vd y = vd_sel(isneg, vd_sel(vd_lt(x, vd_set(-0.125)), neg, near0), pos);
    vd sign = vd_sel(isneg, Qh, L.R0);
    md ext = vd_silubw_ext_lanes(a);
    if (md_any(ext)) y = vd_sel(ext, vd_silubw_near_ext(x, a, g), y);
    md near = vd_lt(vd_abs(vd_sub(x, vd_set(D_SILU_X0_HI))), vd_set(D_SILU_WINDOW));
    if (md_any(near)) {
        vd t = vd_silu_taylor(x, g);
        y = vd_sel(near, t, y);
        sign = vd_sel(near, vd_sub(vd_sub(x, vd_set(D_SILU_X0_HI)), vd_set(D_SILU_X0_LO)), sign);
    }
    /* infinite or zero g: g times the sign of silu' (avoids inf - inf and
       zeros of the wrong sign) */
    md gspecial = md_or(vd_eq(vd_abs(g), vd_set(INFINITY)), vd_eq(g, vd_set(0.0)));
    y = vd_sel(gspecial, vd_mul(g, sign), y);
    return vd_sel(vd_eq(x, vd_set(-INFINITY)), vd_mul(g, vd_set(0.0)), y);
}

SIG_INLINE vd vd_silu_backward(vd x, vd g)
{
    return vd_silu_backward_fin(vd_lg_stage2(vd_lg_stage1_grad(x)), g);
}

/* float, |x| <= F_FAST_MAX and |g| <= 2^120: the same with float
 * arithmetic and an exact final scaling; Taylor window in float */
/* F_SILUBW_WINDOW (1/16) is in consts.h, beside P */

SIG_INLINE mf vf_silubw_ext_lanes(vf a)
{
    return vf_lt(vf_abs(vf_sub(a, vf_set(F_SILUBW_X1_HI))), vf_set(F_SILUBW_WINDOW));
}

SIG_INLINE vf vf_silubw_near_ext(vf x, vf a, vf g)
{
    vf h = vf_sub(vf_sub(a, vf_set(F_SILUBW_X1_HI)), vf_set(F_SILUBW_X1_LO));
    vf p = vf_fma(vf_set(F_SILUBW_P3), h, vf_set(F_SILUBW_P2));
    p = vf_fma(p, h, vf_set(F_SILUBW_P1));
    p = vf_fma(p, h, vf_set(F_SILUBW_P0));
    vf z = vf_fma(vf_mul(h, h), p, h);
    mf neg = vf_lt(x, vf_set(0.0f));
    vf B = vf_sel(neg, vf_set(-F_SILUBW_B), vf_set(F_SILUBW_B));
    vf t = vf_fma(B, vf_mul(z, z), vf_sel(neg, vf_set(F_SILUBW_N1_LO), vf_set(F_SILUBW_M1_LO)));
    return vf_fma(g, vf_sel(neg, vf_set(F_SILUBW_N1_HI), vf_set(F_SILUBW_M1_HI)), vf_mul(g, t));
}

SIG_INLINE vf vf_silu_taylor(vf x, vf g)
{
    vf hh = vf_sub(x, vf_set(F_SILU_X0_HI));
    vf p = vf_fma(vf_set(F_SILU_A7), hh, vf_set(F_SILU_A6));
    p = vf_fma(p, hh, vf_set(F_SILU_A5));
    p = vf_fma(p, hh, vf_set(F_SILU_A4));
    p = vf_fma(p, hh, vf_set(F_SILU_A3));
    p = vf_fma(p, hh, vf_set(F_SILU_A2));
    vf a1 = vf_set(F_SILU_A1_HI);
    vf fh = vf_mul(a1, hh);
    vf fl = vf_fma(vf_set(F_SILU_A1_LO), hh, vf_fms(a1, hh, fh));
    fl = vf_fnma(a1, vf_set(F_SILU_X0_LO), fl);
    fl = vf_fma(vf_set(-2.0f * F_SILU_A2 * F_SILU_X0_LO), hh, fl);  /* as in double */
    fl = vf_fma(vf_mul(hh, hh), p, fl);
    return vf_fma(g, fh, vf_mul(g, fl));
}

/* Lanes for the double path, so that every result is rounded once:
 * - x < 0 scales g (Qh + Ql) by 2^m last, which rounds a second time below
 *   2^-126 (for g = 10^-40 and x in [-0.5625, -0.5], 25% of the results
 *   misrounded and 235 steps the wrong way).  |Q| = V |M| is above 2^-6
 *   outside the series window (V >= 1/2, |M| >= 0.035) and below 2^8, so
 *   every such result has g 2^m below 2^-119.
 * - |g| < 2^-96: products of g with the low parts (2^-30 of Q and less)
 *   fall below 2^-126 and lose bits.
 * - in the series window (unscaled), |silu'(x)| >= 0.18 |x - x0_hi| for
 *   x != x0_hi, so every result below 2^-102, whose low part g fl would be
 *   subnormal, has |g (x - x0_hi)| below 2^-98; those lanes, and x = x0_hi
 *   itself, go too (vf_silu_taylor_tiny, tested only in the window).
 * A zero g never does. */
SIG_INLINE mf vf_silubw_g_tiny(vf g, vf S)
{
    /* |g| min(2^m, 2^-23) < 2^-119: one of the two (a product that
       underflows to 0 counts, since g != 0 is tested on g itself) */
    vf ag = vf_abs(g);
    mf tiny = vf_lt(vf_mul(ag, vf_min(S, vf_set(0x1p-23f))), vf_set(0x1p-119f));
    return mf_and(tiny, vf_lt(vf_set(0.0f), ag));
}

/* the float series' window, |x - x0_hi| < 1/16: vf_silu_taylor_tiny must
   flag lanes in exactly the window vf_silu_backward_fin gives the series */
#define F_SILU_WINDOW 0.0625f

SIG_INLINE mf vf_silu_taylor_tiny(vf x, vf g)
{
    vf hh = vf_sub(x, vf_set(F_SILU_X0_HI));
    mf near = vf_lt(vf_abs(hh), vf_set(F_SILU_WINDOW));
    mf tiny = vf_lt(vf_abs(vf_mul(g, hh)), vf_set(0x1p-98f));
    return mf_andnot(vf_eq(g, vf_set(0.0f)), mf_and(near, tiny));
}

SIG_INLINE vf vf_silu_backward_fin(vf_lg2 s, vf g, mf *w)
{
    vf_logistic_t L = vf_lg_stage3(s);
    vf x = s.x;
    vf a = vf_abs(x);
    vf one = vf_set(1.0f);
    vf P = vf_mul(L.R0, L.R0);
    vf Wh = vf_mul(P, L.th);
    vf Wl = vf_fma(vf_fms(L.R0, L.R0, P), L.th, vf_fms(P, L.th, Wh));
    Wl = vf_fma(P, vf_fma(vf_add(L.e, L.e), L.th, L.b), Wl);
    /* x >= 0 as in double: R0 + a 2^m Wh = sh + sl exactly (Fast2Sum:
       R0 >= 1/2 > a 2^m Wh, which is at most 0.224) */
    vf ph = vf_mul(a, Wh);
    vf pl = vf_fma(a, Wl, vf_fms(a, Wh, ph));
    vf aVh = vf_mul(ph, L.S);
    vf sh = vf_add(L.R0, aVh);
    vf sl = vf_sub(aVh, vf_sub(sh, L.R0));
    vf lo = vf_add(sl, vf_fma(L.R0, L.e, vf_mul(pl, L.S)));
    vf pos = vf_fma(g, sh, vf_mul(g, lo));
    vf near0 = vf_fma(g, vf_sub(one, sh), vf_mul(g, vf_neg(lo)));
    vf Vh = vf_mul(L.R0, L.th);
    vf Vl = vf_fma(L.R0, vf_fma(L.th, L.e, L.b), vf_fms(L.R0, L.th, Vh));
    vf Ph = vf_mul(a, L.R0);
    vf Pl = vf_fms(a, L.R0, Ph);
    /* M = 1 - a sigma(a) = Mh + Ml.  1 - Ph is exact for Ph in [1/2, 2^24]
       (Sterbenz below 2; above, 1 - Ph is a multiple of ulp(Ph) smaller
       than Ph); below 1/2 it rounds, by up to 2^-25, which would pass into
       the result as up to half an ulp.  Fast2Sum's error term
       -Ph - (Mh - 1), exact for Ph <= 1 and 0 wherever Mh is exact, takes
       that rounding into Ml at any Ph */
    vf Mh = vf_sub(one, Ph);
    vf Mr = vf_add(Ph, vf_sub(Mh, one));
    vf Ml = vf_fnms(Ph, L.e, vf_add(Pl, Mr));
    vf Qh = vf_mul(Vh, Mh);
    vf Ql = vf_fms(Vh, Mh, Qh);
    Ql = vf_fma(Vh, Ml, Ql);
    Ql = vf_fma(Vl, Mh, Ql);
    vf neg = vf_mul(vf_fma(g, Qh, vf_mul(g, Ql)), L.S);
    *w = mf_or(*w, vf_silubw_g_tiny(g, L.S));
    mf isneg = vf_lt(x, vf_set(0.0f));
    vf y = vf_sel(isneg, vf_sel(vf_lt(x, vf_set(-0.125f)), neg, near0), pos);
    vf sign = vf_sel(isneg, Qh, L.R0);
    mf ext = vf_silubw_ext_lanes(a);
    if (mf_any(ext)) y = vf_sel(ext, vf_silubw_near_ext(x, a, g), y);
    /* the float R is good to about 2^-30 in a R, so the direct formula
       keeps its error below 2^-25 relative for |x - x0| >= 1/32; that is
       not quite 1 ULP (8 inputs near |x - x0| = 0.035 were 2 ULP off), so
       the series, good to 2^-39 for |h| < 1/16 (its next term A8 h^8), takes
       over from 1/16 */
    mf near = vf_lt(vf_abs(vf_sub(x, vf_set(F_SILU_X0_HI))), vf_set(F_SILU_WINDOW));
    if (mf_any(near)) {
        y = vf_sel(near, vf_silu_taylor(x, g), y);
        sign = vf_sel(near, vf_sub(vf_sub(x, vf_set(F_SILU_X0_HI)), vf_set(F_SILU_X0_LO)), sign);
        *w = mf_or(*w, vf_silu_taylor_tiny(x, g));
    }
    /* zero g: g times the sign of silu' */
    return vf_sel(vf_eq(g, vf_set(0.0f)), vf_mul(g, sign), y);
}

SIG_INLINE vf vf_silu_backward_wide(vf x, vf g)
{
    return vd2_vf(vd_silu_backward(vf_lo_vd(x), vf_lo_vd(g)),
                  vd_silu_backward(vf_hi_vd(x), vf_hi_vd(g)));
}

/* ===================================== float log family, computed in double */

/*
 * These compute in double with shorter polynomials, and round once to float:
 *   softplus(x) = max(x, 0) + log1p(t),  t = e^-|x| (|x| clamped at 110,
 *                 where e^-110 is below half the smallest float subnormal),
 *                 log1p(t) = 2 atanh(t/(2 + t)) with no cancellation for
 *                 any t in (0, 1].
 *   logit(p)    = log(p/(1 - p)), below.
 * Both are correctly rounded: softplus by a rounding test on its double
 * result (vf_softplus_light), logit by a table of its four hard inputs.
 */
/* softplus in three stages (for the software pipeline): the exponential and
 * the division; the atanh series; the sum.  Each stage holds both double
 * halves of a float vector. */
typedef struct { vd x[2], num[2], den[2]; int hard; } vd2_div_t;
typedef struct { vd x[2], s[2]; int hard; } vd2_s_t;

SIG_INLINE vd2_div_t vf_softplus_s1(vf xf, mf *w)
{
    (void)w;
    vd2_div_t r;
    r.hard = 0;
    for (int h = 0; h < 2; h++) {
        vd x = h ? vf_hi_vd(xf) : vf_lo_vd(xf);
        vd t = vd_expneg_light_scaled(vd_min(vd_set(D_LIGHT_CLAMP), vd_abs(x)));
        r.x[h] = x;
        r.num[h] = t;
        r.den[h] = vd_add(vd_set(2.0), t);
    }
    return r;
}

SIG_INLINE vd2_s_t vd2_divide(vd2_div_t d)
{
    vd2_s_t r;
    r.hard = d.hard;
    for (int h = 0; h < 2; h++) {
        r.x[h] = d.x[h];
        r.s[h] = vd_div(d.num[h], d.den[h]);
    }
    return r;
}

/*
 * The lanes of y, a double about to be rounded to float, that lie within w
 * double ulps (w a power of two, at most 2^27) of a float rounding boundary,
 * the midpoint between two consecutive floats.  In the normal float range
 * the 29 low bits of y's significand decide its rounding, and the boundary
 * is where they read 2^28; u below is their distance from it, plus w,
 * modulo 2^29.  Below 2^-126 the floats have the fixed spacing 2^-149 of
 * the binade [2^-126, 2^-125), so |y| + 2^-126 is tested instead (the sum
 * rounds by half a double ulp of 2^-126 at most).  Infinities, NaN and 0
 * are never near.
 */
SIG_INLINE md vd_near_float_boundary(vd y, int64_t w)
{
    vd a = vd_abs(y);
    a = vd_sel(vd_lt(a, vd_set(0x1p-126)), vd_add(a, vd_set(0x1p-126)), a);
    vdi u = vdi_and(vdi_add(vd_bits(a), vdi_set(w - ((int64_t)1 << 28))),
                    vdi_set(((int64_t)1 << 29) - 1));
    return vdi_lt(u, vdi_set(2 * w));
}

/*
 * Correct rounding of the float softplus.  The double result y of the fast
 * path is within E = 2^-42 (relative) of softplus(x):
 *   t = e^-|x| to 2^-42.6: the degree-5 expm1's truncation, 2^-42.7 at
 *     |r| = ln2/32; the one-constant reduction, 2^-47.9; roundings, 2^-51;
 *   s = t/(2 + t) adds two roundings;
 *   log1p(t) = 2 atanh(s) passes on s's error with a factor of at most 1.08
 *     (at t = 1) and adds the degree-6 polynomial's 2^-43.7 and roundings
 *     of 2^-51;
 *   adding max(x, 0) >= 0 adds one rounding and only lowers the rest.
 * In double ulps of y's binade that is below E 2^53 = 2^11, and below 2^10
 * for the results under 2^-126 (tested at the binade of 2^-126, see above).
 * So wherever y is more than F_SETTLE_NEAR = 2^12 double ulps from a
 * float rounding boundary, the true value is on the same side and y rounds
 * correctly.  The lanes that are not (about 1 in 2^16) take the double
 * kernel, within 1 ULP of double; where that is still within 4 double ulps
 * of a boundary (6 of the 2^32 inputs, listed in tests/samples.py),
 * softplus is evaluated in double-double (ddouble.h), to about 2^-90, while
 * the nearest of those lies 2^-57 from its boundary (relative).
 * tools/sweep_float32.py checks all 2^32 inputs.  The results below 2^-126
 * are covered by an exhaustive test instead (vf_softplus_light).  sigma and
 * silu of float inputs are settled the same way (vcr.h).
 */
/* the settle thresholds in double ulps, for any double result within 2^-42
   of the true value (softplus here; sigma and silu's double path, vcr.h) */
#define F_SETTLE_NEAR ((int64_t)1 << 12)
#define D_SETTLE_NEAR 4

/* the float results that f_settle_dd computes */
enum { F_SETTLE_SOFTPLUS, F_SETTLE_SIGMOID, F_SETTLE_SILU };

/* softplus, sigma or silu of x (a float) in double-double, rounded once to
   float: e^-|x| to 2^-100 (|x| < 745 here, where the results are not 0),
   then log1p to 2^-92 or one division (and a product) to about 2^-100 */
static __attribute__((noinline, cold, unused)) double f_settle_dd(double x, int fn)
{
    double th, tl, h, l;
    dd_expneg(fabs(x), &th, &tl);
    if (fn == F_SETTLE_SOFTPLUS) {
        dd_log1p(th, tl, &h, &l);
        dd_add(fmax(x, 0.0), 0.0, h, l, &h, &l);
    }
    else {
        double uh, ul;
        dd_add(1.0, 0.0, th, tl, &uh, &ul);
        if (x < 0) dd_div(th, tl, uh, ul, &h, &l);
        else dd_div(1.0, 0.0, uh, ul, &h, &l);
        if (fn == F_SETTLE_SILU) dd_mul(h, l, x, 0.0, &h, &l);
    }
    return dd_round_float(h, l);
}

/* the double results y of fn at the float inputs x, settled: the lanes
   within F_SETTLE_NEAR double ulps of a float rounding boundary take the
   double kernel, and those still within D_SETTLE_NEAR of one f_settle_dd */
static __attribute__((noinline, unused)) vd vd_float_settle(vd x, vd y, int fn)
{
    md near = vd_near_float_boundary(y, F_SETTLE_NEAR);
    if (!md_any(near)) return y;
    vd y2 = fn == F_SETTLE_SOFTPLUS ? vd_softplus(x) : fn == F_SETTLE_SILU ? vd_silu(x) : vd_sigmoid(x);
    y = vd_sel(near, y2, y);
    md still = md_and(near, vd_near_float_boundary(y2, D_SETTLE_NEAR));
    if (md_any(still)) {
        double xx[VD_N], yy[VD_N], ss[VD_N];
        vd_store(xx, x);
        vd_store(yy, y);
        vd_store(ss, vd_sel(still, vd_set(1.0), vd_set(0.0)));
        for (int i = 0; i < VD_N; i++)
            if (ss[i] != 0.0) yy[i] = f_settle_dd(xx[i], fn);
        y = vd_load(yy);
    }
    return y;
}

/* the fast path's double results y of a float vector, and the lanes that
 * the rounding test leaves undecided: vd_near_float_boundary on both halves
 * at once, on the 32 low bits of y (y >= 0 here).  That test reads the
 * normal float grid; for the results below 2^-126 (|x| in about [87, 104])
 * it is not a proof, but there the float grid is coarse against y's 2^-42
 * error, and every one of those inputs is checked, correctly rounded, on
 * every instruction set by tests/test_accuracy.py (all |x| in [87, 105]);
 * beyond, y < 2^-151 rounds to 0 with room to spare. */
SIG_INLINE mf vf_softplus_light(vd2_s_t s, vd y[2], vf *r)
{
    for (int h = 0; h < 2; h++)
        y[h] = vd_add(vd_max(vd_set(0.0), s.x[h]), vd_2atanh_light_deg(s.s[h], 1));
    *r = vd2_vf(y[0], y[1]);
    vfi u = vfi_and(vfi_add(vd2_lo32(y[0], y[1]), vfi_set((int32_t)(F_SETTLE_NEAR - (1 << 28)))),
                    vfi_set((1 << 29) - 1));
    return vfi_lt(u, vfi_set((int32_t)(2 * F_SETTLE_NEAR)));
}

/* the final stage for the pipelined kernels: the undecided lanes are
 * F_SOFTPLUS_MARK, a value softplus never returns, and are ORed into *w */
#define F_SOFTPLUS_MARK (-1.0f)
SIG_INLINE vf vf_softplus_fin_mark(vd2_s_t s, mf *w)
{
    vd y[2];
    vf r;
    mf near = vf_softplus_light(s, y, &r);
    *w = mf_or(*w, near);
    return vf_sel(near, vf_set(F_SOFTPLUS_MARK), r);
}

/* the final stage that decides every lane itself, and the correctly
 * rounded softplus of a float vector */
SIG_INLINE vf vf_softplus_fin(vd2_s_t s)
{
    vd y[2];
    vf r;
    if (mf_any(vf_softplus_light(s, y, &r))) {
        for (int h = 0; h < 2; h++)
            y[h] = vd_float_settle(s.x[h], y[h], F_SETTLE_SOFTPLUS);
        r = vd2_vf(y[0], y[1]);
    }
    return r;
}

SIG_INLINE vf vf_softplus(vf x)
{
    mf w;   /* not used by vf_softplus_s1 */
    return vf_softplus_fin(vd2_divide(vf_softplus_s1(x, &w)));
}

/* log_sigmoid(x) = -softplus(-x) */
SIG_INLINE vd2_div_t vf_log_sigmoid_s1(vf x, mf *w) { return vf_softplus_s1(vf_neg(x), w); }
SIG_INLINE vf vf_log_sigmoid_fin_mark(vd2_s_t s, mf *w) { return vf_neg(vf_softplus_fin_mark(s, w)); }
SIG_INLINE vf vf_log_sigmoid_fin(vd2_s_t s) { return vf_neg(vf_softplus_fin(s)); }
SIG_INLINE vf vf_log_sigmoid(vf x) { return vf_neg(vf_softplus(vf_neg(x))); }

/*
 * logit(p) = log(rho), rho = p/(1 - p): 1 - p is exact for float p >= 2^-29
 * (harmless below) and rho rounds once, which near p = 1/2 is an absolute
 * 2^-53 in the logarithm against |logit(p)| >= 2^-23 for float p != 1/2.
 * log(rho) without a second division: rho = 2^k m, m in [sqrt(2)/2, sqrt(2)),
 * c = 1 + j/16 the nearest table point (|m - c| <= 1/32, exact), and
 * log(m) = log(c) + log1p((m - c)/c), log1p(v) = v + v^2 G(v).  Near
 * p = 1/2, k = j = 0 and log(rho) = log1p(m - 1) with m - 1 exact.
 */
/*
 * The double result rounds to the correctly rounded float for every float
 * input but these four, where the true logit lies within about 2^-55
 * (relative) of a float rounding boundary and the double lands on the
 * other side: tools/sweep_float32.py over all 2^32 inputs.  Their results
 * are set from this table (correctly rounded, from mpmath), which makes the
 * float kernel correctly rounded everywhere.  A change to the float path
 * must run the sweep again and update the table.
 */
#define F_LOGIT_HARD 4
static const float F_LOGIT_HARD_P[F_LOGIT_HARD] = {0x1.13986cp-22f, 0x1.0dbf94p-2f, 0x1.d378d4p-2f,
                                                  0x1.d3f89cp-2f};
static const float F_LOGIT_HARD_Y[F_LOGIT_HARD] = {-0x1.e59d8ap+3f, -0x1.073a82p+0f, -0x1.652056p-3f,
                                                  -0x1.611a62p-3f};
/* the bits in which the four inputs agree (the AND of the complements of
   their pairwise XORs), and their values there */
#define F_LOGIT_HARD_MASK 0xf5908c03u
#define F_LOGIT_HARD_BITS 0x34808c02u

SIG_INLINE vd2_div_t vf_logit_s1(vf pf, mf *w)
{
    (void)w;
    vd2_div_t r;
    /* the four inputs of F_LOGIT_HARD_P share these 13 bits: one test
       passes them and about one input in 2^13 else, and only then are the
       four compared (vf_logit_fin) */
    vfi key = vfi_and(vf_bits(pf), vfi_set((int32_t)F_LOGIT_HARD_MASK));
    r.hard = mf_any(vfi_eq(key, vfi_set((int32_t)F_LOGIT_HARD_BITS)));
    for (int h = 0; h < 2; h++) {
        vd p = h ? vf_hi_vd(pf) : vf_lo_vd(pf);
        r.x[h] = p;
        r.num[h] = p;
        r.den[h] = vd_sub(vd_set(1.0), p);
    }
    return r;
}

/* with plain != 0 (a constant), without FMA (vd_madd): SSE2's logit below */
SIG_INLINE vd vd_log_light_p(vd rho, int plain)
{
    vd k;
    vd m = vd_split_sqrt2(rho, &k);
    vd jf = vd_madd(m, vd_set(16.0), vd_set(D_SHIFT - 11.0), plain);  /* SHIFT + j + 5 */
    vd c = vd_madd(vd_sub(jf, vd_set(D_SHIFT)), vd_set(0.0625), vd_set(0.6875), plain);
    vd v = vd_mul(vd_sub(m, c), vd_lookup16(D_LOGT_INVC, vd_bits(jf)));
    vd g = vd_madd(vd_set(D_LOG1P_G6), v, vd_set(D_LOG1P_G5), plain);
    g = vd_madd(g, v, vd_set(D_LOG1P_G4), plain);
    g = vd_madd(g, v, vd_set(D_LOG1P_G3), plain);
    g = vd_madd(g, v, vd_set(D_LOG1P_G2), plain);
    g = vd_madd(g, v, vd_set(D_LOG1P_G1), plain);
    g = vd_madd(g, v, vd_set(D_LOG1P_G0), plain);
    vd l1p = vd_madd(vd_mul(v, v), g, v, plain);
    return vd_add(vd_madd(k, vd_set(D_LN2), vd_lookup16(D_LOGT_LOGC, vd_bits(jf)), plain), l1p);
}

SIG_INLINE vd vd_log_light(vd rho) { return vd_log_light_p(rho, 0); }

/* outside (0, 1): logit(0) = -inf, logit(1) = +inf, nan otherwise (the
 * input itself if it is nan): (p - p) * inf is nan for every such p */
SIG_INLINE vd vd_logit_special(vd p)
{
    vd other = vd_mul(vd_sub(p, p), vd_set(INFINITY));
    return vd_sel(vd_eq(p, vd_set(0.0)), vd_set(-INFINITY),
                  vd_sel(vd_eq(p, vd_set(1.0)), vd_set(INFINITY), vd_sel(vd_isnan(p), p, other)));
}

SIG_INLINE vf vf_logit_fin(vd2_s_t s)
{
    vd y[2];
    for (int h = 0; h < 2; h++) {
        vd p = s.x[h];
        md inside = md_and(vd_gt(p, vd_set(0.0)), vd_lt(p, vd_set(1.0)));
        md every = vd_eq(vd_set(0.0), vd_set(0.0));
        y[h] = vd_log_light(s.s[h]);
        /* the special values only where some lane lies outside (0, 1) */
        if (md_any(md_andnot(inside, every))) y[h] = vd_sel(inside, y[h], vd_logit_special(p));
    }
    vf r = vd2_vf(y[0], y[1]);
    if (s.hard) {
        vf pf = vd2_vf(s.x[0], s.x[1]);     /* the inputs, exactly */
        for (int k = 0; k < F_LOGIT_HARD; k++)
            r = vf_sel(vf_eq(pf, vf_set(F_LOGIT_HARD_P[k])), vf_set(F_LOGIT_HARD_Y[k]), r);
    }
    return r;
}

SIG_INLINE vf vf_logit(vf p) { mf w; return vf_logit_fin(vd2_divide(vf_logit_s1(p, &w))); }

#if SIG_ISA == SIG_ISA_SSE2
/*
 * SSE2 (no FMA): vd_log_light_p, plain, rounded to float where
 * a rounding test decides, else vf_logit (the FMA emulated, and its table).
 * The FMAs of the index and of c are exact (m 16 and (j + 5)/16 are), so
 * only the polynomial and the sum change.  The error of y against logit(p):
 *   absolute: rho = p/(1 - p) rounded (and 1 - p for p < 2^-29): 2^-51.9
 *             in its log; v, the table's log c and the polynomial's
 *             roundings below 2^-54 together
 *   relative: log1p's truncation, |v|^9/9 (1 + |v|) for |v| <= 1/22, is at
 *             most 2^-43.2, against |y| >= 0.3466 where |v| is that large
 *             (c = 11/16, or k != 0); at most 2^-41.7 of |y| for every c;
 *             k ln2's rounding and the sums' below 2^-49.6 of |y| (|y| >=
 *             |k| ln2 / 2 for k != 0)
 * so the margin |y| 2^-41.5 + 2^-51 holds it, the test's own two roundings
 * included, and where y - margin and y + margin round to the same float so
 * does logit(p).  About one lane in 2^17 is left open, and near p = 1/2,
 * where the absolute part dominates, the lanes with |p - 1/2| < 2^-20 or
 * so.  Outside (0, 1) the special values, as above.
 */
SIG_INLINE vf vf_logit_fin_nofma(vd2_s_t s)
{
    vd y[2], lo[2], hi[2];
    md every = vd_eq(vd_set(0.0), vd_set(0.0)), out = md_andnot(every, every), inside[2];
    for (int h = 0; h < 2; h++) {
        vd p = s.x[h];
        inside[h] = md_and(vd_gt(p, vd_set(0.0)), vd_lt(p, vd_set(1.0)));
        out = md_or(out, md_andnot(inside[h], every));
        /* p = 1/2 gives y = 0 exactly (rho = 1, v = 0), as it should */
        md test = md_andnot(vd_eq(p, vd_set(0.5)), inside[h]);
        y[h] = vd_log_light_p(s.s[h], 1);
        vd margin = vd_add(vd_mul(vd_abs(y[h]), vd_set(0x1.6a09e667f3bcdp-42)), vd_set(0x1p-51));
        lo[h] = vd_sel(test, vd_sub(y[h], margin), vd_set(0.0));
        hi[h] = vd_sel(test, vd_add(y[h], margin), vd_set(0.0));
    }
    vf r = vd2_vf(y[0], y[1]);
    mf open = mf_andnot(vf_eq(vd2_vf(lo[0], lo[1]), vd2_vf(hi[0], hi[1])), vf_eq(vf_set(0.0f), vf_set(0.0f)));
    if (__builtin_expect(mf_any(open), 0)) return vf_logit(vd2_vf(s.x[0], s.x[1]));
    if (md_any(out)) {
        for (int h = 0; h < 2; h++) y[h] = vd_sel(inside[h], y[h], vd_logit_special(s.x[h]));
        r = vd2_vf(y[0], y[1]);
    }
    return r;
}
#endif

#endif /* SIGMOID_VFAMILY_H */
