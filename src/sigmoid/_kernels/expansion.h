/*
 * Floating-point expansions for the rare results that cancel too deeply for
 * double-double: a number is the exact sum of the n doubles of an xp_t, in
 * any order.  Sums, negations, scalings by powers of two and products (every
 * partial product split exactly by an FMA) are error-free; only
 * xp_normalize drops anything: after four error-free VecSum passes (each
 * TwoSum pushes the sum of a pair to its right, its rounding error to its
 * left) the last element is the sum rounded, the ones before it its
 * successive remainders, and parts below 2^-212 of the sum are dropped.
 * With condition numbers far below 2^150 (the cancellations of a loss
 * gradient between doubles stay below about 2^70), four passes leave every
 * kept part correct, and a normalized number is good to about 2^-200.
 * Scalar code, used on a handful of elements per call; no overflow or
 * underflow may occur inside (callers scale).
 */
#ifndef SIGMOID_EXPANSION_H
#define SIGMOID_EXPANSION_H

#include <math.h>
#include <string.h>

#define XP_MAX 40   /* room for the product of two normalized numbers */
#define XP_KEEP 4   /* parts a normalized number keeps at most */

typedef struct {
    int n;
    double c[XP_MAX];
} xp_t;

static inline double xp_two_sum(double a, double b, double *e)
{
    double s = a + b, bb = s - a;
    *e = (a - (s - bb)) + (b - bb);
    return s;
}

static inline void xp_set(xp_t *r, double a)
{
    r->n = 1;
    r->c[0] = a;
}

/* r += a (exact) */
static inline void xp_push(xp_t *r, double a)
{
    if (a != 0.0) r->c[r->n++] = a;
}

/* r += s a (exact; s = +-1) */
static inline void xp_append(xp_t *r, const xp_t *a, double s)
{
    for (int i = 0; i < a->n; i++) xp_push(r, s * a->c[i]);
}

/* the sum, rounded (after xp_normalize: the last part) */
static inline double xp_top(const xp_t *a)
{
    return a->n ? a->c[a->n - 1] : 0.0;
}

/* the sum as hi + lo, normalized first */
static inline void xp_normalize(xp_t *a);

static inline void xp_dd(xp_t *a, double *hi, double *lo)
{
    xp_normalize(a);
    *hi = xp_top(a);
    *lo = a->n > 1 ? a->c[a->n - 2] : 0.0;
}

static inline void xp_normalize(xp_t *a)
{
    for (int pass = 0; pass < 4; pass++) {
        for (int i = 0; i + 1 < a->n; i++) {
            double e;
            a->c[i + 1] = xp_two_sum(a->c[i], a->c[i + 1], &e);
            a->c[i] = e;
        }
    }
    /* drop zeros and the parts far below the sum */
    double s = fabs(xp_top(a)) * 0x1p-212;
    int m = 0;
    for (int i = 0; i < a->n; i++)
        if (a->c[i] != 0.0 && fabs(a->c[i]) >= s) a->c[m++] = a->c[i];
    a->n = m;
    if (m > XP_KEEP) {
        /* not expected after four passes: keep the largest parts (sorted by
           magnitude, the sum's rounded value last) */
        for (int i = 1; i < m; i++) {
            double v = a->c[i];
            int j = i - 1;
            for (; j >= 0 && fabs(a->c[j]) > fabs(v); j--) a->c[j + 1] = a->c[j];
            a->c[j + 1] = v;
        }
        memmove(a->c, a->c + (m - XP_KEEP), XP_KEEP * sizeof(double));
        a->n = XP_KEEP;
    }
}


/* r = a b, normalized (r may not be a or b) */
static inline void xp_mul(xp_t *r, const xp_t *a, const xp_t *b)
{
    r->n = 0;
    for (int i = 0; i < a->n; i++) {
        for (int j = 0; j < b->n; j++) {
            double p = a->c[i] * b->c[j];
            xp_push(r, fma(a->c[i], b->c[j], -p));
            xp_push(r, p);
        }
    }
    xp_normalize(r);
}

/* r = a d for a double d, normalized */
static inline void xp_mul_d(xp_t *r, const xp_t *a, double d)
{
    xp_t b;
    xp_set(&b, d);
    xp_mul(r, a, &b);
}

/* r = a 2^k, exact (no part may leave the normal range) */
static inline void xp_ldexp(xp_t *r, const xp_t *a, int k)
{
    r->n = a->n;
    for (int i = 0; i < a->n; i++) r->c[i] = ldexp(a->c[i], k);
}

/* r = a / d for a small positive integer d: long division, one part of the
   quotient per step (each remainder exact), to about 2^-200 */
static inline void xp_div_int(xp_t *r, const xp_t *a, double d)
{
    xp_t rem = *a, q;
    q.n = 0;
    xp_normalize(&rem);
    for (int step = 0; step < 4 && rem.n > 0; step++) {
        double qi = xp_top(&rem) / d;
        xp_push(&q, qi);
        double p = -qi * d;
        xp_push(&rem, fma(-qi, d, -p));
        xp_push(&rem, p);
        xp_normalize(&rem);
    }
    xp_normalize(&q);
    *r = q;
}

/*
 * e^-a for 0 <= a <= 1500 as 2^-k E, E = e^-r in [0.7, 1.42]: k = round(a /
 * ln 2), r = a - k ln2 with ln2 in three parts (2^-160; the error of r is
 * then below 2^-150 absolute), e^-r = (e^-r/1024)^1024 with the series of
 * e^-u, |u| <= 2^-11, summed to u^12 (truncation below 2^-170) by Horner,
 * 1 - u/i (1 - u/(i+1) (...)), and ten squarings (which multiply the
 * relative error by 1024).  E is good to about 2^-140.
 */
static inline void xp_expneg(double a, xp_t *E, int *k)
{
    double kd = nearbyint(a * (D_16_LN2 / 16.0));
    xp_t r, u, s, t;
    r.n = 0;
    xp_push(&r, a);
    const double ln2[3] = {16.0 * D_LN2_16_HI, 16.0 * D_LN2_16_LO, 16.0 * D_LN2_16_LO2};
    for (int i = 0; i < 3; i++) {
        double p = kd * ln2[i];
        xp_push(&r, -p);
        xp_push(&r, -fma(kd, ln2[i], -p));
    }
    xp_normalize(&r);
    xp_ldexp(&u, &r, -10);
    xp_set(&s, 1.0);
    for (int i = 12; i >= 1; i--) {
        xp_mul(&t, &s, &u);
        xp_div_int(&s, &t, (double)i);
        xp_t one;
        xp_set(&one, 1.0);
        xp_append(&one, &s, -1.0);
        xp_normalize(&one);
        s = one;
    }
    for (int i = 0; i < 10; i++) {
        xp_mul(&t, &s, &s);
        s = t;
    }
    *E = s;
    *k = (int)kd;
}

#endif
