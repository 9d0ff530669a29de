/*
 * Per-element losses and their gradients, on double lanes.  float64 data
 * uses the full-precision cores; float32 data (converted to double) the
 * "light" ones, whose 2^-33 relative error is far below a float ulp.  The
 * usual case, BCE from logits of float32 data with targets 0 and 1, also
 * has a kernel on float lanes (vf_bce_hard).
 *
 * Binary cross-entropy from logits x, target y, weight w, pos_weight p:
 *
 *   loss = w [(1 - y) x - (1 + (p - 1) y) log sigma(x)]
 *        = w [(1 - y) softplus(x) + p y softplus(-x)]          (*)
 *        = w [(1 - y) x+ + p y x- + ((1 - y) + p y) L],
 *
 *   x+ = max(x, 0), x- = max(-x, 0), L = log1p(e^-|x|).  (*) is the same
 *   expression with softplus(-x) = softplus(x) - x applied to the first
 *   term; every term is >= 0 for y in [0, 1] and p >= 0, so nothing cancels
 *   and the loss is accurate to a few ulps even for |x| = 1e9.
 *
 *   dloss/dx = w [(1 - y) sigma(x) - p y sigma(-x)] = w R N,  R = sigma(|x|),
 *   N = (1 - y) - p y t  (x >= 0),  N = (1 - y) t - p y  (x < 0),  t = e^-|x|.
 *
 *   N is formed from the exact splits 1 - y = oh + ol (Fast2Sum),
 *   p y = Ph + Pl (FMA) and t = th + tl: only t's own error remains,
 *   relative to the larger of the two products.  Where they cancel to below
 *   2^-8 of it, the lane is flagged and recomputed in double-double
 *   (loss.c).  Float data rounds N once and the result in double, then
 *   once to float; double data
 *   (LOSS_EXACT) keeps N, R and the loss in double-double and rounds each
 *   result once, so that both are within 1 ULP.
 */
#ifndef SIGMOID_VLOSS_H
#define SIGMOID_VLOSS_H

#include "kernels.h"
#include "vfamily.h"

/* How a loss kernel evaluates, a constant in each instantiation:
   LOSS_LIGHT  float data in double, to about 2^-33;
   LOSS_QUICK  double data, the softparts of targets 0 and 1 for
               vd_bce_logits_hard (t to 2^-57, L to about 2^-55);
   LOSS_EXACT  double data, rounded once from double-double (t to 2^-63,
               L to about 2^-66). */
enum { LOSS_LIGHT = 1, LOSS_QUICK = 2, LOSS_EXACT = 3 };

/* t = e^-a (also as th + tl, up to a = SIG_LOSS_FAR: to about 2^-63 with
   fine set, else 2^-57; light 2^-34), R = sigma(a) (rounded once from
   R0 (1 + e)), L = log1p(t) as Lh + Ll with Lh the rounded value (fine:
   to about 2^-66 of itself, vd_log_fine or the series; else about 2^-55) */
typedef struct {
    vd t, th, tl, R, R0, e, Lh, Ll;
} vd_softparts;

SIG_INLINE vd_softparts vd_softparts_full(vd a, int fine)
{
    vd_softparts P;
    vd_exp_t E = fine ? vd_expneg_fine(a) : vd_expneg(a);
    vd S = vd_exp2m_clamped(E.kf);
    vd one = vd_set(1.0);
    vd T = vd_add(E.th, E.b);
    vd Wh = vd_fma(S, T, one);
    vd Wl = vd_fma(S, E.th, vd_sub(one, Wh));
    Wl = vd_fma(S, E.b, Wl);
    vd R0 = vd_div(one, Wh);
    vd Lh, Ll;
    if (fine)
        Lh = vd_log_fine(Wh, vd_mul(Wl, R0), &Ll);   /* 1 + t = Wh (1 + Wl/Wh) */
    else {
        vd_log_t G = vd_log_core_rel(Wh, vd_mul(Wl, R0));
        vd kl = vd_mul(G.k, vd_set(D_LN2_HI));
        Lh = vd_add(kl, G.hi);
        Ll = vd_add(vd_add(vd_sub(kl, Lh), G.hi), vd_fma(G.k, vd_set(D_LN2_LO), G.lo));
        /* normalise: Lh the rounded L, Ll the small rest (Fast2Sum, |Ll| < |Lh|) */
        vd Ln = vd_add(Lh, Ll);
        Ll = vd_add(vd_sub(Lh, Ln), Ll);
        Lh = Ln;
    }
    /* t < 2^-54: log1p(t) = t as rounded; 2^m applied once (subnormals) */
    vd tiny = vd_ldexp_kf(T, S, E.kf);
    md small = vd_gt(a, vd_set(37.5));
    P.t = vd_sel(small, tiny, vd_mul(S, T));
    /* th + tl: S is 2^m itself (m >= -1000, vd_exp2m_clamped) up to
       a = SIG_LOSS_FAR, and S tl keeps the 11 bits it needs there */
    md far = vd_gt(a, vd_set(SIG_LOSS_FAR));
    P.th = vd_sel(far, tiny, vd_mul(S, E.th));
    P.tl = vd_sel(far, vd_set(0.0), vd_mul(S, E.b));
    if (fine) {
        /* 1 + t as Wh + Wl is exact to 2^-106, which is 2^-56 of L where t is
           2^-50: below t = 2^-20 (a > 14), log1p(t) = t - t^2/2 + t^3/3
           from th + tl instead (t^4/4 is below 2^-60 t) */
        md series = vd_gt(a, vd_set(14.0));
        vd corr = vd_fnma(vd_mul(P.th, P.th), vd_fnma(P.th, vd_set(1.0 / 3.0), vd_set(0.5)), P.tl);
        vd sh = vd_add(P.th, corr);
        P.Lh = vd_sel(series, sh, Lh);
        P.Ll = vd_sel(series, vd_sub(corr, vd_sub(sh, P.th)), Ll);
    }
    else {
        P.Lh = vd_sel(small, tiny, Lh);
        P.Ll = vd_sel(small, vd_set(0.0), Ll);
    }
    /* 1/(Wh + Wl) = R0 (1 + e), e = 1 - R0 (Wh + Wl) */
    P.R0 = R0;
    P.e = vd_fnma(R0, Wl, vd_fnma(R0, Wh, one));
    P.R = vd_fma(R0, P.e, R0);
    return P;
}

/* float data: L = log1p(t) = 2 atanh(t/(2 + t)) and R = 1/(1 + t), both
   from one division */
SIG_INLINE vd_softparts vd_softparts_light(vd a)
{
    vd_softparts P;
    vd kf;
    vd t = vd_expneg_light(a, &kf);
    P.t = vd_mul(t, vd_exp2m(kf));
    P.th = P.t;
    P.tl = vd_set(0.0);
    /* one division for both quotients: r = 1/((1 + t)(2 + t)) */
    vd one_t = vd_add(vd_set(1.0), P.t), two_t = vd_add(vd_set(2.0), P.t);
    vd r = vd_div(vd_set(1.0), vd_mul(one_t, two_t));
    P.Lh = vd_2atanh_light(vd_mul(vd_mul(P.t, one_t), r));
    P.Ll = vd_set(0.0);
    P.R = vd_mul(two_t, r);
    P.R0 = P.R;
    P.e = vd_set(0.0);
    return P;
}

/* (ah + al)(bh + bl) and (ah + al) + (bh + bl) as hi + lo (double-double) */
SIG_INLINE vd vd_dd_mul(vd ah, vd al, vd bh, vd bl, vd *lo)
{
    vd p = vd_mul(ah, bh);
    vd e = vd_fma(ah, bl, vd_fma(al, bh, vd_fms(ah, bh, p)));
    vd h = vd_add(p, e);
    *lo = vd_sub(e, vd_sub(h, p));
    return h;
}

SIG_INLINE vd vd_dd_add(vd ah, vd al, vd bh, vd bl, vd *lo)
{
    vd e;
    vd s = vd_two_sum(ah, bh, &e);
    e = vd_add(e, vd_add(al, bl));
    vd h = vd_add(s, e);
    *lo = vd_sub(e, vd_sub(h, s));
    return h;
}

/* |x| clamps: full 1500 (e^-1500 times any double weight vanishes), light
   400 (e^-400 times the largest float weight squared vanishes in float) */
#define LOSS_CLAMP_FULL 1500.0
#define LOSS_CLAMP_LIGHT 400.0

typedef struct {
    vd loss, grad;   /* grad: times gs ge from vd_bce_logits, before them from vd_bce_logits_hard */
    md fix;          /* lanes whose N cancelled: recompute in double-double */
} vd_bce_t;

SIG_INLINE vd loss_abs(vd x, int light)
{
    return vd_min(vd_set(light ? LOSS_CLAMP_LIGHT : LOSS_CLAMP_FULL), vd_abs(x));
}

SIG_INLINE vd_softparts loss_softparts(vd x, int mode)
{
    return mode == LOSS_LIGHT ? vd_softparts_light(loss_abs(x, 1))
                              : vd_softparts_full(loss_abs(x, 0), mode == LOSS_EXACT);
}

/*
 * When N is recomputed.  N carries t's error, 2^-63 (exact) or 2^-34
 * (light) of the larger product `big`; kept where |N| >= f big,
 * its relative error is at most that divided by f:
 *   exact, f = 2^-8: 2^-55 relative, at most a quarter of an ulp of double,
 *                    to which the double-double product w N R g adds about
 *                    2^-100 before its one rounding: within 1 ULP;
 *   light, f = 2^-8: 2^-26 relative, a quarter of a float ulp; R, w and g,
 *                    each rounded once in double, add a few 2^-53 before
 *                    the result is rounded to float once: within 1 ULP.
 * Larger f would recompute more lanes in double-double (loss.c) for nothing.
 * Exact lanes with a > SIG_LOSS_FAR, where t (below 2^-995) is one rounded
 * double, subnormal or not, are recomputed too wherever its error,
 * F (2^-53 t + 2^-1075), can reach 2^-60 K: F/K above 2^980, which takes
 * p y within 2^-980 of 0, 1 - y = 0, or a pos_weight beyond 2^920.
 */
#define BCE_FIX_EXACT 0x1p-8
#define BCE_FIX_LIGHT 0x1p-8

/* y: the (smoothed) target; w, p: weight, pos_weight; P from
   loss_softparts(x, mode), mode LOSS_LIGHT or LOSS_EXACT; the gradient comes out times gs ge (the
   reduction factor and grad_output) */
SIG_INLINE vd_bce_t vd_bce_logits(vd x, vd y, vd w, vd p, vd_softparts P, int mode, vd gs, vd ge)
{
    vd_bce_t o;
    vd zero = vd_set(0.0), one = vd_set(1.0);
    vd oh = vd_sub(one, y);
    vd ol = vd_sub(vd_sub(one, oh), y);
    vd Ph = vd_mul(p, y);
    vd Pl = vd_fms(p, y, Ph);
    md neg = vd_lt(x, zero);
    if (mode != LOSS_EXACT) {
        vd xp = vd_max(zero, x), xm = vd_max(zero, vd_neg(x));
        /* a zero factor times an infinite logit is 0 (the limit), not nan */
        vd A = vd_sel(vd_eq(oh, zero), zero, vd_mul(oh, xp));
        vd B = vd_sel(vd_eq(Ph, zero), zero, vd_mul(Ph, xm));
        vd C = vd_add(oh, Ph);
        vd Lsum = vd_fma(C, P.Lh, vd_mul(C, P.Ll));
        o.loss = vd_mul(w, vd_add(vd_add(A, B), Lsum));
        /* (oh + ol) - (Ph + Pl)(th + tl) and (oh + ol)(th + tl) - (Ph + Pl):
           the large product inside one FMA, the small ones added after */
        vd Npos = vd_add(vd_fnma(Ph, P.th, oh), vd_sub(ol, vd_fma(Ph, P.tl, vd_mul(Pl, P.th))));
        vd Nneg = vd_add(vd_fms(oh, P.th, Ph), vd_sub(vd_fma(oh, P.tl, vd_mul(ol, P.th)), Pl));
        vd N = vd_sel(neg, Nneg, Npos);
        vd n1 = vd_sel(neg, vd_mul(oh, P.t), oh);
        vd n2 = vd_sel(neg, Ph, vd_mul(Ph, P.t));
        vd big = vd_max(n1, n2);
        o.fix = md_and(md_and(vd_gt(n1, zero), vd_gt(n2, zero)),
                       vd_lt(vd_abs(N), vd_mul(big, vd_set(BCE_FIX_LIGHT))));
        o.grad = vd_mul(vd_mul(vd_mul(vd_mul(N, P.R), w), gs), ge);
        return o;
    }
    /*
     * Double data: the loss and the gradient in double-double, each rounded
     * once.  With u = |x| and, for x >= 0, K = 1 - y, F = p y (for x < 0 the
     * two swap):
     *   loss = w [K u + (K + F) L]: two terms >= 0, so only L's error
     *     (2^-66) and the final rounding remain;
     *   gradient = +-w gs ge (K - F t) R, the sign that of x.
     */
    vd u = vd_abs(x);
    vd Kh = vd_sel(neg, Ph, oh), Kl = vd_sel(neg, Pl, ol);
    vd Fh = vd_sel(neg, oh, Ph), Fl = vd_sel(neg, ol, Pl);
    md k0 = vd_eq(Kh, zero);      /* K u is 0 even at u = inf (the limit) */
    vd Ah = vd_sel(k0, zero, vd_mul(Kh, u));
    vd Al = vd_sel(k0, zero, vd_fma(Kl, u, vd_fms(Kh, u, Ah)));
    vd Cl, Ch = vd_two_sum(Kh, Fh, &Cl);
    Cl = vd_add(Cl, vd_add(Kl, Fl));
    vd CLl, CLh = vd_dd_mul(Ch, Cl, P.Lh, P.Ll, &CLl);
    vd Sl, Sh = vd_dd_add(Ah, Al, CLh, CLl, &Sl);
    vd Wl, loss = vd_dd_mul(w, zero, Sh, Sl, &Wl);
    /* an infinite term (u or w) makes the low parts nan: the plain value */
    o.loss = vd_sel(vd_lt(vd_abs(loss), vd_set(INFINITY)), loss, vd_mul(w, vd_add(Ah, CLh)));

    vd mh = vd_mul(Fh, P.th);
    vd ml = vd_fms(Fh, P.th, mh);
    vd Ml, Mh = vd_two_sum(Kh, vd_neg(mh), &Ml);
    Ml = vd_sub(vd_add(Ml, Kl), vd_add(ml, vd_fma(Fh, P.tl, vd_mul(Fl, P.th))));
    vd big = vd_max(Kh, mh);
    md cancel = md_and(md_and(vd_gt(Kh, zero), vd_gt(mh, zero)),
                       vd_lt(vd_abs(Mh), vd_mul(big, vd_set(BCE_FIX_EXACT))));
    md far = md_and(vd_gt(u, vd_set(SIG_LOSS_FAR)), vd_gt(Fh, vd_mul(Kh, vd_set(0x1p980))));
    o.fix = md_or(cancel, far);
    vd Gl, Gh = vd_dd_mul(Mh, Ml, P.R0, vd_mul(P.R0, P.e), &Gl);
    vd gh = vd_mul(gs, ge);
    vd Vl, Vh = vd_dd_mul(w, zero, gh, vd_fms(gs, ge, gh), &Vl);
    vd Ol, grad = vd_dd_mul(Gh, Gl, Vh, Vl, &Ol);
    grad = vd_sel(vd_lt(vd_abs(grad), vd_set(INFINITY)), grad, vd_mul(vd_mul(vd_mul(Mh, P.R), w), gh));
    o.grad = vd_sel(neg, vd_neg(grad), grad);
    return o;
}

/* targets 0 and 1 only, weight and pos_weight 1 (the usual case): the loss
   is softplus(-+x) = x-+ + L and the gradient sigma(x) - y a single product
   with R, so nothing can cancel */
SIG_INLINE vd_bce_t vd_bce_logits_hard(vd x, vd y, vd_softparts P)
{
    vd_bce_t o;
    vd zero = vd_set(0.0), one = vd_set(1.0);
    md y1 = vd_eq(y, one), neg = vd_lt(x, zero);
    vd xs = vd_max(zero, vd_sel(y1, vd_neg(x), x));
    /* xs + Lh + Ll rounded once (Ll is 0 for float data, whose double
       result is rounded to float anyway) */
    vd e, s = vd_two_sum(xs, P.Lh, &e);
    o.loss = vd_sel(vd_eq(xs, vd_set(INFINITY)), xs, vd_add(s, vd_add(e, P.Ll)));  /* e: nan at inf */
    /* sigma(a) = R and sigma(-a) = t R0 (1 + e), each rounded once;
       sigma(x) - y is one of them or its negative */
    vd pos = P.R;
    vd negv = vd_fma(P.R0, P.th, vd_mul(P.R0, vd_fma(P.th, P.e, P.tl)));
    o.grad = vd_sel(y1, vd_neg(vd_sel(neg, pos, negv)), vd_sel(neg, negv, pos));
    o.fix = vd_lt(one, zero);
    return o;
}

/*
 * The same case on float lanes, for float32 data with |x| <= LOSS_F_MAX (the
 * kernels send other vectors to the double lanes).  t = e^-a = 2^m (th + b)
 * from vf_expneg (to about 2^-27); then
 *
 *   gradient: sigma(a) = R0 (1 + e) and sigma(-a) = t R0 (1 + e) as in the
 *     float sigmoid (vlogistic.h), each rounded once, then times the
 *     reduction factor gs = gsh + gsl (float + float): one more rounding.
 *   loss: L = log1p(t) = 2 atanh(s), s = t/(2 + t).  With t = tf + tl
 *     (tf = fl(t)) and 2 + tf = q + ql, both exact, and s0 = fl(tf / q),
 *     the residual t - s0 (2 + t) = (tf - s0 q) + (tl - s0 (ql + tl)) gives
 *     s = s0 + ds to about 2^-45; L = 2 s0 + [2 ds + 2 s0 z F(z)] is rounded
 *     once (z = s0^2, F to 2^-29.8 in L).  The loss u+ + L (u = x or -x)
 *     adds one more rounding where u > 0.
 *   near 0, |u| <= 1/2: the loss is ln2 + u/2 + w, w = u^2 H(u^2) plus
 *     ln2's low part (H in consts.h, to 2^-35.8).  From one u to the next w,
 *     rounded, moves by less than u/2 does, so the roundings of u/2 + w and
 *     of ln2's high part plus that sum never move against u; the form above
 *     moves by up to about 2^-28 between neighbours, there more than the
 *     loss itself.
 * So the loss never moves against softplus(u), and the gradient never
 * falls (sigma(-a) for a <= 1/8 as 1 - sigma(a), as the sigmoid): all 2^32
 * logits of both targets (tools/sweep_float32.py).
 *
 * For |x| <= 40 no operand or result is subnormal (save u^2 for |x| below
 * 2^-63): t >= 2^-58, and the product 2 s0 z F (below 2^-170) is only
 * formed inside an FMA.
 */
#define LOSS_F_MAX 40.0f

/* The computation in two stages, so that the loop can overlap them (as the
 * ufuncs do, vlogistic.h): the first forms t = e^-a and starts both
 * divisions, the second finishes from their quotients.  While one vector is
 * in its second stage the next is in its first, and every operand of the
 * second stage is ready when its instruction issues. */
typedef struct {
    vf xs, sign;        /* x or -x (y = 1), and the sign bit of y = 1 */
    vf th, b, S;        /* t = S (th + b) */
    vf tf, tl, q, qlt;  /* t = tf + tl, 2 + tf = q + ql, qlt = ql + tl */
    vf R0, rq;          /* 1/fl(1 + t), 1/q */
} vf_bce_s1;

SIG_INLINE vf_bce_s1 vf_bce_hard_s1(vf x, vf y)
{
    vf one = vf_set(1.0f), two = vf_set(2.0f);
    vf_bce_s1 s;
    vf_exp_t E = vf_expneg(vf_abs(x));
    s.S = vf_exp2m(E.kf);
    s.th = E.th;
    s.b = E.b;
    vf u = vf_add(E.th, E.b);
    s.R0 = vf_div(one, vf_fma(s.S, u, one));
    s.tf = vf_mul(u, s.S);
    s.tl = vf_mul(vf_add(vf_sub(E.th, u), E.b), s.S);
    s.q = vf_add(two, s.tf);
    s.qlt = vf_add(vf_add(vf_sub(two, s.q), s.tf), s.tl);
    s.rq = vf_div(one, s.q);
    /* the sign bit for y = 1 (bits 0x3f800000 shifted left by 8), 0 for y = 0;
       xs = x (y = 0) or -x (y = 1) */
    s.sign = vfi_float(vfi_sll(vf_bits(y), 8));
    s.xs = vf_xor(x, s.sign);
    return s;
}

SIG_INLINE void vf_bce_hard_s2(vf_bce_s1 s, vf gsh, vf gsl, vf *loss, vf *grad)
{
    vf one = vf_set(1.0f), zero = vf_set(0.0f);
    /* sigma(x) - y: sigma(a) for x >= 0, y = 0; -sigma(-a) for x >= 0, y = 1;
       sigma(-a) for x < 0, y = 0; -sigma(a) for x < 0, y = 1 */
    vf R0S = vf_mul(s.R0, s.S);
    vf e = vf_fnma(R0S, s.b, vf_fnma(R0S, s.th, vf_sub(one, s.R0)));
    vf pos = vf_fma(s.R0, e, s.R0);
    vf neg = vf_mul(vf_fma(s.R0, s.th, vf_mul(s.R0, vf_fma(s.th, e, s.b))), s.S);
    /* sigma(-a) for a <= 1/8 as 1 - sigma(a), as the sigmoid does
       (vlogistic.h): there it moves by less than the error of the form above */
    neg = vf_sel(vf_lt(s.xs, vf_set(-0.125f)), neg, vf_fnma(s.R0, e, vf_sub(one, s.R0)));
    vf g = vf_xor(vf_sel(vf_lt(s.xs, zero), neg, pos), s.sign);
    *grad = vf_fma(g, gsh, vf_mul(g, gsl));
    vf s0 = vf_mul(s.tf, s.rq);
    vf rho = vf_add(vf_fnma(s0, s.q, s.tf), vf_fnma(s0, s.qlt, s.tl));
    vf ds = vf_mul(rho, s.rq);
    vf z = vf_mul(s0, s0);
    vf P = vf_fma(vf_set(F_ATANH_F4), z, vf_set(F_ATANH_F3));
    P = vf_fma(P, z, vf_set(F_ATANH_F2));
    P = vf_fma(P, z, vf_set(F_ATANH_F1));
    P = vf_fma(P, z, vf_set(F_ATANH_F0));
    vf s2 = vf_add(s0, s0);
    vf c = vf_fma(s2, vf_mul(z, P), vf_add(ds, ds));
    /* softplus(u) = u+ + L, u = xs: L rounded, then the sum (where this
       form is kept, u+ = 0 or u+ > 1/2, and L's rounding moves the sum by
       less than half its change from one u to the next) */
    vf u = s.xs;
    vf general = vf_add(vf_max(zero, u), vf_add(s2, c));
    /* |u| <= 1/2: ln2 + u/2 + u^2 H(u^2) */
    vf zu = vf_mul(u, u);
    vf H = vf_fma(vf_set(F_SP_H3), zu, vf_set(F_SP_H2));
    H = vf_fma(H, zu, vf_set(F_SP_H1));
    H = vf_fma(H, zu, vf_set(F_SP_H0));
    vf v = vf_fma(u, vf_set(0.5f), vf_fma(zu, H, vf_set(F_LN2_LO)));
    vf series = vf_add(vf_set(F_LN2_HI), v);
    *loss = vf_sel(vf_le(vf_abs(u), vf_set(F_SP_SERIES)), series, general);
}

SIG_INLINE void vf_bce_hard(vf x, vf y, vf gsh, vf gsl, vf *loss, vf *grad)
{
    vf_bce_hard_s2(vf_bce_hard_s1(x, y), gsh, gsl, loss, grad);
}

/* a nan input (q or x) makes the loss and the gradient nan, quieted: the
   selects of the kernels would hide it */
SIG_INLINE void loss_keep_nan(vd v, vd *loss, vd *grad)
{
    md n = vd_isnan(v);
    *loss = vd_sel(n, vd_add(v, v), *loss);
    *grad = vd_sel(n, vd_add(v, v), *grad);
}

/* max(h + l, c) of a double-double and a double */
SIG_INLINE vd vd_dd_max(vd h, vd *l, vd c)
{
    md below = md_or(vd_lt(h, c), md_and(vd_eq(h, c), vd_lt(*l, vd_set(0.0))));
    *l = vd_sel(below, vd_set(0.0), *l);
    return vd_sel(below, c, h);
}

/*
 * Binary cross-entropy on probabilities q, as PyTorch defines it:
 *   loss = -w [y max(log q, -100) + (1 - y) max(log(1 - q), -100)]
 *   grad = w (q - y) / max(q (1 - q), 1e-12)
 * Both logarithms are <= 0, so the loss does not cancel; log(1 - q) is
 * log1p(-q), exact for small q.  Double data: the logarithms, the loss,
 * q - y, q (1 - q) and the quotient in double-double, each result rounded
 * once (the logarithms, from vd_log_fine, are good to about 2^-66).
 */
SIG_INLINE void vd_bce_probs(vd q, vd y, vd w, int light, vd *loss, vd *grad)
{
    vd zero = vd_set(0.0), one = vd_set(1.0), half = vd_set(0.5);
    md inside = md_and(vd_gt(q, zero), vd_lt(q, one));
    vd qc = vd_sel(inside, q, half);
    vd m100 = vd_set(-100.0);
    if (light) {
        vd lq = vd_log_light(qc);
        /* log(1 - q): log1p(-q) = 2 atanh(-q/(2 - q)) for q <= 1/2 */
        vd s = vd_div(vd_neg(qc), vd_sub(vd_set(2.0), qc));
        vd l1q = vd_sel(vd_le(qc, half), vd_2atanh_light(s), vd_log_light(vd_sub(one, qc)));
        /* q = 0 or 1: the clamped logarithm of 0 is -100, that of 1 is 0 */
        lq = vd_sel(vd_eq(q, zero), m100, vd_sel(vd_eq(q, one), zero, lq));
        l1q = vd_sel(vd_eq(q, one), m100, vd_sel(vd_eq(q, zero), zero, l1q));
        lq = vd_max(m100, lq);
        l1q = vd_max(m100, l1q);
        vd oh = vd_sub(one, y);
        vd s1 = vd_sel(vd_eq(y, zero), zero, vd_mul(y, lq));
        vd s2 = vd_sel(vd_eq(oh, zero), zero, vd_mul(oh, l1q));
        *loss = vd_neg(vd_mul(w, vd_add(s1, s2)));
        vd den = vd_max(vd_set(1e-12), vd_mul(q, vd_sub(one, q)));
        *grad = vd_mul(w, vd_div(vd_sub(q, y), den));
    }
    else {
        vd eps = vd_set(1e-12);
        vd rh = vd_sub(one, qc);
        vd rl = vd_sub(vd_sub(one, rh), qc);             /* 1 - q = rh + rl */
        vd lql, lqh = vd_log_fine(qc, zero, &lql);
        vd l1l, l1h = vd_log_fine(rh, vd_div(rl, rh), &l1l);
        /* q = 0 or 1: the clamped logarithm of 0 is -100, that of 1 is 0 */
        md q0 = vd_eq(q, zero), q1 = vd_eq(q, one);
        lqh = vd_sel(q0, m100, vd_sel(q1, zero, lqh));
        lql = vd_sel(md_or(q0, q1), zero, lql);
        l1h = vd_sel(q1, m100, vd_sel(q0, zero, l1h));
        l1l = vd_sel(md_or(q0, q1), zero, l1l);
        lqh = vd_dd_max(lqh, &lql, m100);
        l1h = vd_dd_max(l1h, &l1l, m100);
        vd oh = vd_sub(one, y);
        vd ol = vd_sub(vd_sub(one, oh), y);
        vd t1l, t1h = vd_dd_mul(y, zero, lqh, lql, &t1l);
        vd t2l, t2h = vd_dd_mul(oh, ol, l1h, l1l, &t2l);
        vd sl, sh = vd_dd_add(t1h, t1l, t2h, t2l, &sl);
        vd wl, lw = vd_dd_mul(w, zero, sh, sl, &wl);
        *loss = vd_neg(vd_sel(vd_lt(vd_abs(lw), vd_set(INFINITY)), lw, vd_mul(w, sh)));
        /* (q - y) / max(q (1 - q), 1e-12): numerator and denominator exact
           as double-double, the quotient to about 2^-104 */
        vd dl, dh = vd_two_sum(q, vd_neg(y), &dl);
        vd ph = vd_sub(one, q);
        vd pl = vd_sub(vd_sub(one, ph), q);              /* 1 - q, q = 0 and 1 too */
        vd Dh = vd_mul(q, ph);
        vd Dl = vd_fma(q, pl, vd_fms(q, ph, Dh));
        Dh = vd_dd_max(Dh, &Dl, eps);
        vd Q1 = vd_div(dh, Dh);
        vd Q2 = vd_div(vd_fnma(Q1, Dl, vd_add(vd_fnma(Q1, Dh, dh), dl)), Dh);
        vd gl, g = vd_dd_mul(w, zero, Q1, Q2, &gl);
        *grad = vd_sel(vd_lt(vd_abs(g), vd_set(INFINITY)), g, vd_mul(w, Q1));
    }
    loss_keep_nan(q, loss, grad);
}

/*
 * Focal loss (torchvision's sigmoid_focal_loss):
 *   ce = bce_with_logits(x, y) (p = w = 1),
 *   m  = 1 - p_t = y sigma(-x) + (1 - y) sigma(x),
 *   loss = alpha_t ce m^gamma  (gamma = 0: m^gamma = 1),
 *   alpha_t = alpha y + (1 - alpha)(1 - y), or 1 when alpha < 0;
 *   dloss/dx = alpha_t m^gamma [(sigma(x) - y)
 *                               + gamma ce (1 - 2y) sigma(x) sigma(-x)/m].
 * m^gamma and the ratio sigma(x) sigma(-x)/m <= 1 are taken in log space,
 *   log m = -L + logaddexp(log y - x+, log(1 - y) - x-),
 *   ratio = exp(-|x| - 2L - log m),
 * so nothing overflows or underflows early for |x| up to 1e9 or beyond.
 */

/* -log ratio = a + 2L + log m as hi + lo, where a = |x| and log m nearly
   cancel for confident logits: summed with their low parts */
SIG_INLINE vd focal_ratio_arg(vd a, vd_softparts P, vd lmh, vd lml, vd *lo)
{
    vd e5, e6;
    vd s3 = vd_two_sum(a, lmh, &e5);
    vd s4 = vd_two_sum(s3, vd_add(P.Lh, P.Lh), &e6);
    vd rest = vd_add(vd_add(e5, e6), vd_add(lml, vd_add(P.Ll, P.Ll)));
    vd h = vd_add(s4, rest);
    *lo = vd_sub(rest, vd_sub(h, s4));
    return h;
}

/* infinite logits: the limits, lane by lane (rare).  With q = 1 - p_t =
   m at the limit (1 - y at +inf, y at -inf), ce is +inf unless q = 0, the
   modulating factor is q^gamma, and the gradient
   alpha_t q^gamma (sigma(x) - y) = +-alpha_t q^(gamma + 1), the second term
   vanishing with e^-|x|.  A nan logit gives nan (quieted). */
SIG_INLINE void focal_limits(vd x, vd y, double alpha, double gamma, vd *loss, vd *grad, md *fix)
{
    md xinf = vd_eq(vd_abs(x), vd_set(INFINITY));
    if (md_any(xinf)) {
        double xs[VD_N], ys[VD_N], ls[VD_N], gs[VD_N];
        vd_store(xs, x);
        vd_store(ys, y);
        vd_store(ls, *loss);
        vd_store(gs, *grad);
        for (int k = 0; k < VD_N; k++) {
            if (!isinf(xs[k])) continue;
            double yk = ys[k], q = xs[k] > 0 ? 1.0 - yk : yk;
            double atk = alpha < 0 ? 1.0 : fma(yk, 2.0 * alpha - 1.0, 1.0 - alpha);
            double fk = gamma == 0.0 ? 1.0 : pow(q, gamma);
            ls[k] = q > 0 && atk > 0 ? INFINITY : 0.0;
            gs[k] = (xs[k] > 0 ? 1.0 : -1.0) * (atk * fk * q);
        }
        *loss = vd_load(ls);
        *grad = vd_load(gs);
        *fix = md_andnot(xinf, *fix);
    }
    loss_keep_nan(x, loss, grad);
}

/*
 * The focal loss of double data, each result rounded once from
 * double-double (within 1 ULP):
 *   loss = alpha_t ce f,  gradient = alpha_t f (first + second),
 *   f = m^gamma = e^(gamma log m), first = sigma(x) - y,
 *   second = gamma ce (1 - 2y) ratio,  ratio = sigma(x) sigma(-x)/m.
 * Every factor is carried as hi + lo:
 *   - sigma(|x|) = R0 (1 + e) and sigma(-|x|) = t sigma(|x|), with t to
 *     2^-63 and L = log1p(t) to about 2^-66 (vd_softparts_full, fine);
 *   - ce = (1 - y) x+ + y x- + L, three terms >= 0;
 *   - log m: targets 0 and 1, -(x-+ + L); other targets
 *     -L + logaddexp(log y - x+, log(1 - y) - x-), the logarithms from
 *     vd_log_fine and |u - v| exact as a two-sum, about 2^-63 absolute;
 *   - f = 2^k (fh + fl) from vd_expneg_fine of -gamma log m, its 2^k applied
 *     to the rounded result, so that a tiny f times a huge ce loses nothing;
 *     for gamma 1 and 2, m itself (squared as a double-double): sigma(-+x)
 *     for targets 0 and 1 while |x| <= 300, y sigma(-x) + (1 - y) sigma(x)
 *     for the others while m >= 2^-400, there with its power of two apart;
 *   - alpha_t = alpha y + (1 - alpha)(1 - y) exactly as a double-double;
 *   - first: sigma(x) or -sigma(-x) for targets 0 and 1, otherwise
 *     N sigma(|x|), N = (1 - y) - y t (x >= 0) or (1 - y) t - y, from the
 *     exact parts of 1 - y and y t: only t's 2^-63 of the larger product
 *     remains;
 *   - ratio: sigma(-+x) itself for targets 0 and 1; where m itself is
 *     formed, sigma(x) sigma(-x)/m divided as a double-double; otherwise
 *     e^-(|x| + 2L + log m), the argument summed with its low parts.
 * The two terms of the gradient have the same sign for targets 0 and 1.
 * Each lane takes its case by its own values, never by its neighbours', so
 * that the results do not depend on the vector width.
 * Other targets can cancel: a lane whose N falls below FOCAL_FIX_N of its
 * larger product, or whose sum falls below FOCAL_FIX_SECOND of the second
 * term, is recomputed in scalar double-double (loss.c).  Above those the
 * sum is good to 2^-55 + 2^-55 relative, the other factors to about 2^-60:
 * less than an ulp before the one rounding.
 */
#define FOCAL_FIX_N 0x1p-8
#define FOCAL_FIX_SECOND 0x1p-6

SIG_INLINE void vd_focal_full(vd x, vd y, double alpha, double gamma, vd *loss, vd *grad, md *fix)
{
    vd zero = vd_set(0.0), one = vd_set(1.0);
    vd a = loss_abs(x, 0);
    vd_softparts P = vd_softparts_full(a, 1);
    md neg = vd_lt(x, zero);
    md hard = md_or(vd_eq(y, zero), vd_eq(y, one));
    md soft = md_andnot(hard, vd_eq(one, one));
    int anysoft = md_any(soft);
    /* sigma(|x|) = ah + al, sigma(-|x|) = bh + bl */
    vd ah = P.R, al = vd_fma(P.R0, P.e, vd_sub(P.R0, P.R));
    vd bl, bh = vd_dd_mul(P.th, P.tl, ah, al, &bl);
    vd oh = vd_sub(one, y), ol = vd_sub(vd_sub(one, oh), y);
    vd xp = vd_max(zero, x), xm = vd_max(zero, vd_neg(x));
    md y1 = vd_eq(y, one);
    /* ce = (1 - y) x+ + y x- + L: x+- + L for targets 0 and 1 */
    vd cl, ch = vd_two_sum(vd_sel(y1, xm, xp), P.Lh, &cl);
    cl = vd_add(cl, P.Ll);
    if (anysoft) {
        vd c1l, c1h = vd_dd_mul(oh, ol, xp, zero, &c1l);
        vd c2h = vd_mul(y, xm), c2l = vd_fms(y, xm, c2h);
        vd c3l, c3h = vd_dd_add(c1h, c1l, c2h, c2l, &c3l);
        c3h = vd_dd_add(c3h, c3l, P.Lh, P.Ll, &c3l);
        ch = vd_sel(soft, c3h, ch);
        cl = vd_sel(soft, c3l, cl);
    }
    /* sigma(x) = sph + spl, sigma(-x) = snh + snl */
    vd sph = vd_sel(neg, bh, ah), spl = vd_sel(neg, bl, al);
    vd snh = vd_sel(neg, ah, bh), snl = vd_sel(neg, al, bl);
    /* gamma 1 and 2, other targets: m = y sigma(-x) + (1 - y) sigma(x)
       itself, two terms >= 0 as a double-double, where m >= 2^-400; the
       ratio is divided out below.  For f, m = 2^e (msh + msl) with msh in
       [1, 2), both parts scaled exactly, and f's 2^(gamma e) goes to the
       rounded results as the exponential's 2^k does (mkf = D_SHIFT + 16
       gamma e): a loss or gradient below 2^-1022 is rounded to a double,
       then scaled, rather than formed from double-double products whose low
       parts are subnormal (three times as many of those were 1 ULP off). */
    md msoft = vd_lt(one, zero);
    vd mmh = one, mml = zero, msh = one, msl = zero, mkf = vd_set(D_SHIFT);
    if (anysoft && (gamma == 1.0 || gamma == 2.0)) {
        vd m1l, m1h = vd_dd_mul(y, zero, snh, snl, &m1l);
        vd m2l, m2h = vd_dd_mul(oh, ol, sph, spl, &m2l);
        mmh = vd_dd_add(m1h, m1l, m2h, m2l, &mml);
        msoft = md_and(soft, vd_ge(mmh, vd_set(0x1p-400)));
        vdi nb = vdi_srl(vd_bits(vd_sel(msoft, mmh, one)), 52);        /* e + 1023 */
        vd nd = vd_sub(vdi_double(vdi_or(nb, vd_bits(vd_set(0x1p52)))), vd_set(0x1p52));
        vd inv = vdi_double(vdi_sll(vdi_sub(vdi_set(2046), nb), 52));   /* 2^-e */
        msh = vd_mul(mmh, inv);
        msl = vd_mul(mml, inv);
        mkf = vd_fma(vd_set(16.0 * gamma), vd_sub(nd, vd_set(1023.0)), vd_set(D_SHIFT));
    }
    /* the lanes that take log m: other targets where m is not formed */
    int logsoft = md_any(md_andnot(msoft, soft));
    /* log m: targets 0 and 1 */
    vd lml, lmh = vd_two_sum(vd_neg(vd_sel(y1, xp, xm)), vd_neg(P.Lh), &lml);
    lml = vd_sub(lml, P.Ll);
    if (logsoft && gamma != 0.0) {
        /* u = log y - x+, v = log(1 - y) - x-, log m = -L + max(u, v) + log1p(e^-|u - v|) */
        vd yc = vd_sel(soft, y, one), oc = vd_sel(soft, oh, one);
        vd yl, ylo, yh = vd_log_fine(yc, zero, &yl);
        vd vlo, vh = vd_log_fine(oc, vd_div(vd_sel(soft, ol, zero), oc), &vlo);
        vd e1, e2;
        vd uh = vd_two_sum(yh, vd_neg(xp), &e1);
        vh = vd_two_sum(vh, vd_neg(xm), &e2);
        ylo = vd_add(yl, e1);
        vlo = vd_add(vlo, e2);
        vd dl, dh = vd_two_sum(uh, vd_neg(vh), &dl);
        dl = vd_add(dl, vd_sub(ylo, vlo));
        md ubig = vd_ge(dh, zero);
        vd Mh = vd_sel(ubig, uh, vh), Ml = vd_sel(ubig, ylo, vlo);
        /* |u - v| = du + dd, dd's effect on log1p(e^-|u - v|) is -sigma(-du) dd */
        vd du = vd_abs(dh), dd = vd_sel(ubig, dl, vd_neg(dl));
        vd_softparts Q = vd_softparts_full(vd_min(vd_set(LOSS_CLAMP_FULL), du), 1);
        vd e3, e4;
        vd s1 = vd_two_sum(Mh, vd_neg(P.Lh), &e3);
        vd s2 = vd_two_sum(s1, Q.Lh, &e4);
        vd rest = vd_add(vd_add(e3, e4), vd_add(vd_sub(Ml, P.Ll), vd_fnma(vd_mul(Q.t, Q.R), dd, Q.Ll)));
        vd sh = vd_add(s2, rest);
        vd sl = vd_sub(rest, vd_sub(sh, s2));
        lmh = vd_sel(soft, sh, lmh);
        lml = vd_sel(soft, sl, lml);
    }
    /* f = e^(gamma log m) = 2^k (fh + fl), kf = D_SHIFT + 16 k; for gamma 1
       and 2, m itself: sigma(x) for y = 0 and sigma(-x) for y = 1 while m^2
       stays normal (|x| <= 300), and the other targets' m >= 2^-400 (above).
       Each lane by its own case, so that results do not depend on the
       vector's width. */
    vd fh = one, fl = zero, kf = vd_sel(msoft, mkf, vd_set(D_SHIFT));
    if (gamma != 0.0) {
        md direct = vd_lt(one, zero);
        if (gamma == 1.0 || gamma == 2.0) {
            direct = md_or(md_andnot(vd_gt(a, vd_set(300.0)), hard), msoft);
            fh = vd_sel(msoft, msh, vd_sel(y1, snh, sph));
            fl = vd_sel(msoft, msl, vd_sel(y1, snl, spl));
            if (gamma == 2.0) fh = vd_dd_mul(fh, fl, fh, fl, &fl);
        }
        if (md_any(md_andnot(direct, vd_eq(one, one)))) {
            vd g = vd_set(gamma);
            vd gh = vd_mul(g, lmh);
            vd gl = vd_fma(g, lml, vd_fms(g, lmh, gh));
            vd_exp_t E = vd_expneg_fine(vd_min(vd_set(LOSS_CLAMP_FULL), vd_max(zero, vd_neg(gh))));
            fh = vd_sel(direct, fh, E.th);
            fl = vd_sel(direct, fl, vd_fma(E.th, gl, E.b));      /* e^gl = 1 + gl: gl^2 is below 2^-80 */
            kf = vd_sel(direct, kf, E.kf);
        }
    }
    /* alpha_t = alpha y + (1 - alpha)(1 - y): alpha or 1 - alpha (c1 + c1e
       exactly) for targets 0 and 1 */
    vd ath = one, atl = zero;
    if (alpha >= 0) {
        double c1e, c1 = 1.0 - alpha;
        c1e = (1.0 - c1) - alpha;
        ath = vd_sel(y1, vd_set(alpha), vd_set(c1));
        atl = vd_sel(y1, zero, vd_set(c1e));
        if (anysoft) {
            vd pl, ph = vd_mul(vd_set(alpha), y);
            pl = vd_fms(vd_set(alpha), y, ph);
            vd ql, qh = vd_dd_mul(vd_set(c1), vd_set(c1e), oh, ol, &ql);
            qh = vd_dd_add(ph, pl, qh, ql, &ql);
            ath = vd_sel(soft, qh, ath);
            atl = vd_sel(soft, ql, atl);
        }
    }
    vd S = vd_exp2m_clamped(kf);
    vd Fl, Fh = vd_dd_mul(ath, atl, fh, fl, &Fl);     /* alpha_t f / 2^k */
    vd vl, vh = vd_dd_mul(Fh, Fl, ch, cl, &vl);
    vd v = vd_add(vh, vl);
    /* past 2^1023 (|x| near the largest double) the plain product */
    md vbig = vd_nle(vd_abs(v), vd_set(0x1.fffffffffffffp1023));
    if (md_any(vbig))
        v = vd_sel(vbig, vd_mul(vd_mul(ath, vd_ldexp_kf(fh, S, kf)), ch), v);
    *loss = vd_ldexp_kf(v, S, kf);
    /* first = sigma(x) - y: sigma(x) or -sigma(-x) for targets 0 and 1,
       otherwise N sigma(|x|) */
    vd frh = vd_sel(y1, vd_neg(snh), sph), frl = vd_sel(y1, vd_neg(snl), spl);
    md cancel = vd_lt(one, zero);
    if (anysoft) {
        vd mh = vd_mul(y, P.th), ml = vd_fma(y, P.tl, vd_fms(y, P.th, mh));
        vd nl1, n1 = vd_dd_add(oh, ol, vd_neg(mh), vd_neg(ml), &nl1);           /* x >= 0 */
        vd ptl, pth = vd_dd_mul(oh, ol, P.th, P.tl, &ptl);
        vd nl2, n2 = vd_dd_add(pth, ptl, vd_neg(y), zero, &nl2);                 /* x < 0 */
        vd Nh = vd_sel(neg, n2, n1), Nl = vd_sel(neg, nl2, nl1);
        vd big = vd_sel(neg, vd_max(pth, y), vd_max(oh, mh));
        vd nfl, nfh = vd_dd_mul(Nh, Nl, ah, al, &nfl);
        frh = vd_sel(soft, nfh, frh);
        frl = vd_sel(soft, nfl, frl);
        cancel = vd_lt(vd_abs(Nh), vd_mul(vd_set(FOCAL_FIX_N), big));
    }
    vd bkh = frh, bkl = frl, sum = frh;
    if (gamma != 0.0) {
        /* ratio: sigma(-x) for y = 0, sigma(x) for y = 1 */
        vd rh = vd_sel(y1, sph, snh), rl = vd_sel(y1, spl, snl);
        if (md_any(msoft)) {
            /* sigma(x) sigma(-x)/m: q1 = fl(n/m), then the residual's quotient */
            vd nl, nh = vd_dd_mul(ah, al, bh, bl, &nl);
            vd den = vd_sel(msoft, mmh, one);   /* no 0/0 in the other lanes */
            vd q1 = vd_div(nh, den);
            vd r = vd_add(vd_fnma(q1, den, nh), vd_fnma(q1, mml, nl));
            vd q2 = vd_div(r, den);
            vd qh = vd_add(q1, q2);
            rh = vd_sel(msoft, qh, rh);
            rl = vd_sel(msoft, vd_sub(q2, vd_sub(qh, q1)), rl);
        }
        if (logsoft) {
            md lsoft = md_andnot(msoft, soft);
            vd argl, argh = focal_ratio_arg(a, P, lmh, lml, &argl);
            vd_exp_t E = vd_expneg_fine(vd_min(vd_set(LOSS_CLAMP_FULL), vd_max(zero, argh)));
            vd S2 = vd_exp2m_clamped(E.kf);
            vd b2 = vd_fnma(E.th, argl, E.b);
            vd qh = vd_add(E.th, b2), ql = vd_add(vd_sub(E.th, qh), b2);
            rh = vd_sel(lsoft, vd_ldexp_kf(qh, S2, E.kf), rh);
            rl = vd_sel(lsoft, vd_ldexp_kf(ql, S2, E.kf), rl);
        }
        /* 1 - 2y: k exact when y >= 1/4, else the residual is exact (Sterbenz) */
        vd k = vd_fnma(vd_set(2.0), y, one);
        vd kl = vd_sub(vd_sub(one, k), vd_add(y, y));
        vd ql, qh = ch;
        ql = cl;
        if (anysoft)
            qh = vd_dd_mul(ch, cl, k, kl, &ql);
        else {                                          /* k = +-1 */
            qh = vd_mul(k, qh);
            ql = vd_mul(k, ql);
        }
        qh = vd_dd_mul(qh, ql, rh, rl, &ql);
        if (gamma == 2.0) {                             /* exact */
            qh = vd_add(qh, qh);
            ql = vd_add(ql, ql);
        }
        else qh = vd_dd_mul(qh, ql, vd_set(gamma), zero, &ql);
        md none = vd_eq(rh, zero);                      /* 0 * (huge ce) */
        qh = vd_sel(none, zero, qh);
        ql = vd_sel(none, zero, ql);
        bkh = vd_dd_add(frh, frl, qh, ql, &bkl);
        sum = vd_add(frh, qh);
        cancel = md_or(cancel, vd_lt(vd_abs(bkh), vd_mul(vd_set(FOCAL_FIX_SECOND), vd_abs(qh))));
    }
    vd gl2, gh2 = vd_dd_mul(Fh, Fl, bkh, bkl, &gl2);
    /* a zero keeps the sign of the terms (the low parts' sum may be +0) */
    vd gv = vd_add(gh2, gl2);
    gv = vd_sel(vd_eq(gv, zero), vd_mul(Fh, sum), gv);
    md gbig = vd_nle(vd_abs(gv), vd_set(0x1.fffffffffffffp1023));
    if (md_any(gbig))
        gv = vd_sel(gbig, vd_mul(vd_mul(ath, vd_ldexp_kf(fh, S, kf)), bkh), gv);
    *grad = vd_ldexp_kf(gv, S, kf);
    *fix = md_and(soft, cancel);
    /* infinite logits (rare): the limits as in focal_limits, the gradient
       +-alpha_t q^(gamma + 1) = +-alpha_t e^((gamma + 1) log q) in
       double-double, q = 1 - y (+inf) or y (-inf) */
    md xinf = vd_eq(vd_abs(x), vd_set(INFINITY));
    if (md_any(xinf)) {
        md pos = vd_gt(x, zero);
        vd qh = vd_sel(pos, oh, y), ql = vd_sel(pos, ol, zero);
        md qz = vd_eq(qh, zero);
        vd qc = vd_sel(qz, one, qh);
        vd lql, lqh = vd_log_fine(qc, vd_div(vd_sel(qz, zero, ql), qc), &lql);
        vd g1l, g1h = vd_two_sum(vd_set(gamma), one, &g1l);
        vd el, eh = vd_dd_mul(g1h, g1l, lqh, lql, &el);
        vd_exp_t E = vd_expneg_fine(vd_min(vd_set(LOSS_CLAMP_FULL), vd_max(zero, vd_neg(eh))));
        vd rl, rh = vd_dd_mul(ath, atl, E.th, vd_fma(E.th, el, E.b), &rl);
        vd r = vd_ldexp_kf(vd_add(rh, rl), vd_exp2m_clamped(E.kf), E.kf);
        r = vd_sel(qz, zero, r);
        r = vd_sel(pos, r, vd_neg(r));
        vd inf = vd_set(INFINITY);
        md lossinf = md_andnot(qz, vd_gt(ath, zero));
        *loss = vd_sel(xinf, vd_sel(lossinf, inf, zero), *loss);
        *grad = vd_sel(xinf, r, *grad);
        *fix = md_andnot(xinf, *fix);
    }
    loss_keep_nan(x, loss, grad);
}

/* e^-a (1 + c), c tiny, rounded once (subnormal results included), to
   2^-34 relative: float data */
SIG_INLINE vd loss_expneg_light(vd a, vd c)
{
    vd kf;
    vd t = vd_expneg_light(a, &kf);
    return vd_ldexp_kf(vd_fma(t, c, t), vd_exp2m_clamped(kf), kf);
}

/* Float data: the pieces are good to about 2^-34 of the larger of |first|,
   |second| and y, and the bracket is kept where it is at least 2^-8 of
   that: 2^-26 relative before the single rounding to float. */
#define FOCAL_FIX_LIGHT 0x1p-8

SIG_INLINE void vd_focal_light(vd x, vd y, double alpha, double gamma, vd *loss, vd *grad, md *fix)
{
    vd zero = vd_set(0.0), one = vd_set(1.0);
    vd_softparts P = loss_softparts(x, LOSS_LIGHT);
    vd_bce_t ce = vd_bce_logits(x, y, one, one, P, LOSS_LIGHT, one, one);
    md hard = md_or(vd_eq(y, zero), vd_eq(y, one));
    int soft = md_any(md_andnot(hard, vd_eq(one, one)));
    vd oh = vd_sub(one, y);
    /* sigma(x) and sigma(-x), each to about 2^-33 relative */
    vd sa = P.R, sb = vd_mul(P.t, P.R);      /* sigma(|x|), sigma(-|x|) */
    md neg = vd_lt(x, zero);
    vd sp = vd_sel(neg, sb, sa), sn = vd_sel(neg, sa, sb);
    /*
     * Targets 0 and 1: m = sigma(-x) (y = 1) or sigma(x) (y = 0), and the
     * gradient's ratio sigma(x) sigma(-x)/m is the other one.  Both are
     * formed directly: m >= sigma(-400) = 2^-577 (|x| clamps at
     * LOSS_CLAMP_LIGHT), and where m m underflows in double the true loss
     * and gradient, below ce e^-2|x|, are far below the smallest float.
     * Other targets: m = y sigma(-x) + (1 - y) sigma(x) in double, two terms
     * >= 0 good to about 2^-33, and m >= 2^-151 (a float target in (0, 1) is
     * at least 2^-149 from both ends), so that the clamp changes m by less
     * than 2^-420 of itself; then sigma(x) sigma(-x)/m by one division.
     * No logarithm of y, 1 - y or m.
     */
    md yone = vd_eq(y, one);
    vd m = vd_sel(yone, sn, sp), ratio = vd_sel(yone, sp, sn);
    if (soft) {
        vd ms = vd_fma(y, sn, vd_mul(oh, sp));
        ratio = vd_sel(hard, ratio, vd_div(vd_mul(sp, sn), ms));
        m = vd_sel(hard, m, ms);
    }
    /* m^gamma: m m for gamma = 2, m for 1; otherwise e^-n with one
       exponential for all lanes, n = -gamma log m >= 0: for targets 0 and 1
       log m = -(x+- + L), gamma log m = gh + gl, n = nh - gl (nh = -gh, gl
       the exponential's factor 1 + gl); for the others n = nh from m's
       logarithm (gl = 0) */
    vd f = one;
    if (gamma == 2.0) f = vd_mul(m, m);
    else if (gamma == 1.0) f = m;
    else if (gamma != 0.0) {
        vd xp = vd_max(zero, x), xm = vd_max(zero, vd_neg(x));
        vd lml, lmh = vd_two_sum(vd_neg(vd_sel(yone, xp, xm)), vd_neg(P.Lh), &lml);
        lml = vd_sub(lml, P.Ll);
        vd g = vd_set(gamma);
        vd gh = vd_mul(g, lmh);
        vd gl = vd_fma(g, lml, vd_fms(g, lmh, gh));
        vd nh = vd_neg(gh);
        if (soft) {
            nh = vd_sel(hard, nh, vd_max(zero, vd_mul(vd_set(-gamma), vd_log_light(m))));
            gl = vd_sel(hard, gl, zero);
        }
        /* e^(gh + gl) = e^gh (1 + gl); beyond the clamp the result is 0 */
        f = loss_expneg_light(vd_min(vd_set(LOSS_CLAMP_FULL), nh), gl);
    }
    /* alpha y + (1 - alpha)(1 - y) = (1 - alpha) + y (2 alpha - 1): one rounding */
    vd at = alpha < 0 ? one : vd_fma(y, vd_set(2.0 * alpha - 1.0), vd_set(1.0 - alpha));
    *loss = vd_mul(vd_mul(at, ce.loss), f);
    /* sigma(x) - y = R N (pos_weight 1) */
    vd first = ce.grad;
    vd bracket = first;
    vd big = vd_max(vd_abs(first), y);
    if (gamma != 0.0) {
        vd second = vd_mul(vd_mul(vd_set(gamma), ce.loss), vd_mul(vd_fnma(vd_set(2.0), y, one), ratio));
        second = vd_sel(vd_eq(ratio, zero), zero, second);   /* 0 * (huge ce) */
        bracket = vd_add(first, second);
        big = vd_max(vd_max(vd_abs(first), vd_abs(second)), y);
    }
    *grad = vd_mul(vd_mul(at, f), bracket);
    /* soft targets: a deep cancellation of the two terms, or of sigma(x)
       and y inside the first, is recomputed in scalar double-double */
    *fix = md_andnot(hard, vd_lt(vd_abs(bracket), vd_mul(big, vd_set(FOCAL_FIX_LIGHT))));
    focal_limits(x, y, alpha, gamma, loss, grad, fix);
}

SIG_INLINE void vd_focal(vd x, vd y, double alpha, double gamma, int light, vd *loss, vd *grad, md *fix)
{
    if (light) vd_focal_light(x, y, alpha, gamma, loss, grad, fix);
    else vd_focal_full(x, y, alpha, gamma, loss, grad, fix);
}

#endif
