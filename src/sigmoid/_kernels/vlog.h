/*
 * The logarithm core (double): for u > 0 and a small correction ulo
 * (|ulo| <= ulp(u)),
 *
 *     log(u + ulo) = k ln2 + hi + lo,     hi + lo = log1p(f) + ulo/u,
 *
 * with u = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)), f exact (Sterbenz),
 * and log1p(f) = 2 atanh(s), s = f/(2 + f):
 *
 *     log1p(f) = f - (hfsq - s (hfsq + R(s^2))),   hfsq = f^2/2,
 *
 * R(z) = z (2/3 + z (2/5 + ...)) the tail of the atanh series.  hi = f is
 * exact and lo carries everything else; lo's own rounding is relative to
 * f^2/2, far below an ulp of the result.  k is returned as a double so that
 * callers combine k ln2 with the other terms in extended precision, or let
 * the k of two logarithms cancel exactly (logit).
 *
 * u must be finite and positive (normal or subnormal); callers select the
 * results for 0, negative, infinite and NaN arguments themselves.
 */
#ifndef SIGMOID_VLOG_H
#define SIGMOID_VLOG_H

#include "simd.h"
#include "consts.h"

typedef struct {
    vd k;           /* integer-valued */
    vd hi, lo;      /* log1p(f) + ulo/u = hi + lo, hi = f exact */
} vd_log_t;

#define D_SQRT_HALF_BITS 0x3FE6A09E667F3BCDll
#define D_TWO52 0x1p52

SIG_INLINE vd vd_log_tail(vd z)
{
    vd p = vd_fma(vd_set(D_LOG_L10), z, vd_set(D_LOG_L9));
    p = vd_fma(p, z, vd_set(D_LOG_L8));
    p = vd_fma(p, z, vd_set(D_LOG_L7));
    p = vd_fma(p, z, vd_set(D_LOG_L6));
    p = vd_fma(p, z, vd_set(D_LOG_L5));
    p = vd_fma(p, z, vd_set(D_LOG_L4));
    p = vd_fma(p, z, vd_set(D_LOG_L3));
    p = vd_fma(p, z, vd_set(D_LOG_L2));
    p = vd_fma(p, z, vd_set(D_LOG_L1));
    return vd_mul(p, z);
}

/* u = 2^k m with m in [sqrt(2)/2, sqrt(2)), for positive normal u; k is
 * returned as a double.  The top 12 bits of tmp hold k + 1024. */
SIG_INLINE vd vd_split_sqrt2(vd u, vd *k)
{
    vdi bits = vd_bits(u);
    vdi tmp = vdi_add(vdi_sub(bits, vdi_set(D_SQRT_HALF_BITS)), vdi_set((int64_t)1024 << 52));
    vdi top = vdi_and(tmp, vdi_set((int64_t)0xFFF0000000000000ull));
    /* k + 1024 < 2^12 as a double: place it in the mantissa of 2^52 */
    vd kb = vdi_double(vdi_or(vdi_srl(top, 52), vd_bits(vd_set(D_TWO52))));
    *k = vd_sub(kb, vd_set(D_TWO52 + 1024.0));
    return vdi_double(vdi_sub(bits, vdi_sub(top, vdi_set((int64_t)1024 << 52))));
}

/* the core with the correction given relative: log(u (1 + c)) */
SIG_INLINE vd_log_t vd_log_core_rel(vd u, vd c)
{
    vd_log_t L;
    /* subnormal u: scale by 2^54 first, and take 54 off k */
    md sub = vd_lt(u, vd_set(0x1p-1022));
    u = vd_sel(sub, vd_mul(u, vd_set(0x1p54)), u);
    vd m = vd_split_sqrt2(u, &L.k);
    L.k = vd_sub(L.k, vd_sel(sub, vd_set(54.0), vd_set(0.0)));
    vd f = vd_sub(m, vd_set(1.0));
    vd s = vd_div(f, vd_add(vd_set(2.0), f));
    vd hfsq = vd_mul(vd_mul(vd_set(0.5), f), f);
    vd R = vd_log_tail(vd_mul(s, s));
    L.hi = f;
    L.lo = vd_sub(c, vd_fnma(s, vd_add(hfsq, R), hfsq));  /* c - (hfsq - s (hfsq + R)) */
    return L;
}

/* log(u + ulo) = log(u) + ulo/u + O(2^-106) */
SIG_INLINE vd_log_t vd_log_core(vd u, vd ulo) { return vd_log_core_rel(u, vd_div(ulo, u)); }

/*
 * For float results computed in double: 2 atanh(s) = log((1 + s)/(1 - s))
 * = 2s (1 + z F(z)), z = s^2 <= 1/9, with F fitted to 2^-33 (consts.h):
 * relative error below 2^-36, far under float's 2^-24.
 */
/* 2 atanh(s) for s in [0, 1/3]: 2^-38.4 relative, or 2^-43.7 with fine != 0
   (a constant; one more FMA) */
SIG_INLINE vd vd_2atanh_light_deg(vd s, int fine)
{
    /* without FMA on SSE2 for the fine one (the float softplus's rounding
       test decides, and needs 2^-42): the Horner steps' roundings and the
       last two then add less than 2^-52 relative to 2^-43.7 */
    const int plain = fine && SIG_ISA == SIG_ISA_SSE2;
    vd z = vd_mul(s, s);
    vd p;
    if (fine) {
        p = vd_madd(vd_set(D_ATANH_G6), z, vd_set(D_ATANH_G5), plain);
        p = vd_madd(p, z, vd_set(D_ATANH_G4), plain);
        p = vd_madd(p, z, vd_set(D_ATANH_G3), plain);
        p = vd_madd(p, z, vd_set(D_ATANH_G2), plain);
        p = vd_madd(p, z, vd_set(D_ATANH_G1), plain);
        p = vd_madd(p, z, vd_set(D_ATANH_G0), plain);
    }
    else {
        p = vd_fma(vd_set(D_ATANH_F5), z, vd_set(D_ATANH_F4));
        p = vd_fma(p, z, vd_set(D_ATANH_F3));
        p = vd_fma(p, z, vd_set(D_ATANH_F2));
        p = vd_fma(p, z, vd_set(D_ATANH_F1));
        p = vd_fma(p, z, vd_set(D_ATANH_F0));
    }
    vd s2 = vd_add(s, s);
    return vd_madd(vd_mul(s2, z), p, s2, plain);
}

SIG_INLINE vd vd_2atanh_light(vd s) { return vd_2atanh_light_deg(s, 0); }

/* exact sum a + b = s + err (Knuth's TwoSum) */
SIG_INLINE vd vd_two_sum(vd a, vd b, vd *err)
{
    vd s = vd_add(a, b);
    vd bb = vd_sub(s, a);
    *err = vd_add(vd_sub(a, vd_sub(s, bb)), vd_sub(b, bb));
    return s;
}

/*
 * log(u (1 + c)) as hi + lo (hi the rounded value) to about 2^-66 absolute,
 * for the float64 losses, whose results are rounded once from
 * double-double: u > 0 finite, |c| <= 2^-52.  With u = 2^k z as above,
 *
 *     log z = -log(1/c_i) + log1p(r),   r = z/c_i - 1 = z INVC_i - 1,
 *
 * from the 16-entry table of consts.h (|r| <= 0.0393).  r is exact as
 * rh + rl: the product z INVC as a two-product, whose high part minus 1 is
 * exact (Sterbenz).  log1p(rh) = rh - rh^2/2 + rh^3 T(rh) with rh^2/2 exact
 * as a two-product and T to r^13 (truncation 2^-69); rl enters as
 * rl (1 - rh), c as itself.  k ln2_hi + LOGC_HI is exact (both multiples of
 * 2^-43 below 2^10), the two larger additions are two-sums, and the small
 * terms, each below 2^-11, are added in double.  No division.
 */
SIG_INLINE vd vd_log_fine(vd u, vd c, vd *lo)
{
    md sub = vd_lt(u, vd_set(0x1p-1022));
    u = vd_sel(sub, vd_mul(u, vd_set(0x1p54)), u);
    vd k;
    vd z = vd_split_sqrt2(u, &k);
    k = vd_sub(k, vd_sel(sub, vd_set(54.0), vd_set(0.0)));
    vdi i = vdi_srl(vdi_sub(vd_bits(z), vdi_set(D_SQRT_HALF_BITS)), 48);
    vd invc = vd_lookup16(D_LOGF_INVC, i);
    vd ph = vd_mul(z, invc);
    vd pl = vd_fms(z, invc, ph);
    vd r0 = vd_sub(ph, vd_set(1.0));
    vd rh = vd_add(r0, pl);
    vd rl = vd_sub(pl, vd_sub(rh, r0));
    vd hr = vd_mul(vd_set(0.5), rh);
    vd qh = vd_mul(hr, rh);
    vd ql = vd_fms(hr, rh, qh);
    vd p = vd_fma(vd_set(D_LOGF_T13), rh, vd_set(D_LOGF_T12));
    p = vd_fma(p, rh, vd_set(D_LOGF_T11));
    p = vd_fma(p, rh, vd_set(D_LOGF_T10));
    p = vd_fma(p, rh, vd_set(D_LOGF_T9));
    p = vd_fma(p, rh, vd_set(D_LOGF_T8));
    p = vd_fma(p, rh, vd_set(D_LOGF_T7));
    p = vd_fma(p, rh, vd_set(D_LOGF_T6));
    p = vd_fma(p, rh, vd_set(D_LOGF_T5));
    p = vd_fma(p, rh, vd_set(D_LOGF_T4));
    p = vd_fma(p, rh, vd_set(D_LOGF_T3));
    vd T = vd_mul(vd_mul(p, rh), vd_mul(rh, rh));
    vd K = vd_fma(k, vd_set(D_LN2_HI), vd_lookup16(D_LOGF_LOGC_HI, i));
    vd e1, e2;
    vd h1 = vd_two_sum(K, rh, &e1);
    vd h2 = vd_two_sum(h1, vd_neg(qh), &e2);
    vd l = vd_fma(k, vd_set(D_LN2_LO), vd_lookup16(D_LOGF_LOGC_LO, i));
    l = vd_add(l, vd_fnma(rl, rh, rl));
    l = vd_add(l, vd_sub(c, ql));
    l = vd_add(l, vd_add(T, vd_add(e1, e2)));
    vd h = vd_add(h2, l);
    *lo = vd_sub(l, vd_sub(h, h2));
    return h;
}

#endif
