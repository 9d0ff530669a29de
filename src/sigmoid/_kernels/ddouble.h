/*
 * Scalar double-double arithmetic: a number is hi + lo with |lo| at most
 * half an ulp of hi, good to about 2^-104 relative after each operation
 * (the functions below say what they keep).  Used for the rare elements
 * that a kernel's rounding or cancellation test sends on: the losses'
 * cancelling gradients, and the float results that lie too near a
 * rounding boundary for double to decide.
 */
#ifndef SIGMOID_DDOUBLE_H
#define SIGMOID_DDOUBLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "consts.h"

static inline double dd_two_sum(double a, double b, double *e)
{
    double s = a + b, bb = s - a;
    *e = (a - (s - bb)) + (b - bb);
    return s;
}

static inline double dd_quick_two_sum(double a, double b, double *e)
{
    double s = a + b;
    *e = b - (s - a);
    return s;
}

static inline void dd_mul(double ah, double al, double bh, double bl, double *rh, double *rl)
{
    double p = ah * bh;
    double e = fma(ah, bh, -p) + (ah * bl + al * bh);
    *rh = dd_quick_two_sum(p, e, rl);
}

static inline void dd_add(double ah, double al, double bh, double bl, double *rh, double *rl)
{
    double e;
    double s = dd_two_sum(ah, bh, &e);
    e += al + bl;
    *rh = dd_quick_two_sum(s, e, rl);
}

/* e^-a as th + tl to about 2^-100, 0 <= a <= 745 */
static inline void dd_expneg(double a, double *th, double *tl)
{
    double k = nearbyint(-a * D_16_LN2);
    long ki = (long)k;
    long j = ki & 15, m = (ki - j) / 16;
    double r1 = fma(-k, D_LN2_16_HI, -a);  /* exact */
    double p2 = -k * D_LN2_16_LO;
    double p2l = fma(-k, D_LN2_16_LO, -p2);
    double e;
    double rh = dd_two_sum(r1, p2, &e);
    double rl = e + p2l - k * D_LN2_16_LO2;
    /* the terms from r^7/7! on are below 2^-50 (|r| <= ln2/32): their sum
       in double is enough; the first seven in double-double */
    double q = D_INVFACT_HI[14];
    for (int i = 13; i >= 7; i--) q = fma(q, rh, D_INVFACT_HI[i]);
    double qh = q, ql = 0.0;
    for (int i = 6; i >= 0; i--) {
        dd_mul(qh, ql, rh, rl, &qh, &ql);
        dd_add(qh, ql, D_INVFACT_HI[i], D_INVFACT_LO[i], &qh, &ql);
    }
    dd_mul(D_EXP2_HI[j], D_EXP2_LO[j], qh, ql, &qh, &ql);
    *th = ldexp(qh, (int)m);
    *tl = ldexp(ql, (int)m);
}

static inline void dd_div(double ah, double al, double bh, double bl, double *rh, double *rl)
{
    double q1 = ah / bh, ph, pl, e;
    dd_mul(q1, 0.0, bh, bl, &ph, &pl);
    double r = dd_two_sum(ah, -ph, &e);
    e += al - pl;
    double q2 = (r + e) / bh;
    *rh = dd_quick_two_sum(q1, q2, rl);
}

/* log1p(t) for 0 <= t <= 1 in double-double, to about 2^-92 relative:
   below t = 2^-8 the series t - t^2/2 + ... + t^13/13 by Horner (the rest
   below 2^-107 t); above, y0 = log1p(th) to an ulp, then one Newton step,
   log(1 + t) = y0 + log((1 + t) e^-y0) with the argument of the last log
   within 2^-51 of 1 (e^-y0's 2^-100 then absolute, at most 2^-92 of y0) */
static inline void dd_log1p(double th, double tl, double *rh, double *rl)
{
    if (th < 0x1p-8) {
        double sh = 1.0 / 13.0, sl = fma(-sh, 13.0, 1.0) / 13.0;
        for (int k = 12; k >= 1; k--) {
            double ch = 1.0 / k, cl = fma(-ch, (double)k, 1.0) / k;
            dd_mul(th, tl, sh, sl, &sh, &sl);
            dd_add(ch, cl, -sh, -sl, &sh, &sl);
        }
        dd_mul(th, tl, sh, sl, rh, rl);
        return;
    }
    double y0 = log1p(th), eh, el, uh, ul, ph, pl, dh, dl;
    dd_expneg(y0, &eh, &el);
    dd_add(1.0, 0.0, th, tl, &uh, &ul);
    dd_mul(uh, ul, eh, el, &ph, &pl);
    dd_add(ph, pl, -1.0, 0.0, &dh, &dl);
    dd_add(y0, 0.0, dh, dl, rh, rl);
}

/* log m for a double-double m in (2^-1022, 1]: y0 = log(mh) to an ulp, then
   log m = y0 + log(m e^-y0) = y0 + (m - e^y0)/e^y0 to about 2^-100 */
static inline void dd_log_unit(double mh, double ml, double *rh, double *rl)
{
    double y0 = log(mh), eh, el, dh, dl;
    dd_expneg(-y0, &eh, &el);
    dd_add(mh, ml, -eh, -el, &dh, &dl);
    *rh = dd_quick_two_sum(y0, (dh + dl) / eh, rl);
}

/* h + l (|l| at most half an ulp of h, h a normal double) rounded once to
   float, as a double: h + l is first rounded to odd in double (the
   neighbour of h toward l, if l is not 0, or h itself, whichever has an odd
   last bit), which keeps the side of every float rounding boundary since
   double has more than two bits beyond float's, subnormal floats included */
static inline double dd_round_float(double h, double l)
{
    if (l != 0.0) {
        uint64_t u;
        memcpy(&u, &h, 8);
        if ((l < 0) != (h < 0)) u -= 1;   /* the neighbour toward 0 */
        u |= 1;
        memcpy(&h, &u, 8);
    }
    return (double)(float)h;
}

#endif
