/*
 * The pointwise part of the recurrent cells on double vectors: tanh, and one
 * column vector of the LSTM and GRU cells, forward and backward.  Float32
 * data is widened on load and rounded once on store by the drivers
 * (gate_kernels.c); everything here is double, with shorter forms of sigma and
 * tanh for float32 data (`light`).
 *
 * Gate orders and equations are PyTorch's:
 *   LSTM  gates i, f, g, o:  i = sigma(gi), f = sigma(gf), g = tanh(gg),
 *         o = sigma(go), c = f c_prev + i g, h = o tanh(c)
 *   GRU   gates r, z, n:     r = sigma(gi_r + gh_r), z = sigma(gi_z + gh_z),
 *         n = tanh(gi_n + r gh_n), h = (1 - z) n + z h_prev
 */
#ifndef SIGMOID_VGATE_H
#define SIGMOID_VGATE_H

#include "vlogistic.h"

/* ------------------------------------------------------------------- tanh */

/*
 * tanh(x), within about 1 ULP:
 *
 *   |x| <  D_TANH_SMALL = 0.5625:  x + x^3 P(x^2), P of degree 10 fitted to
 *       (tanh(x) - x)/x^3 (consts.h, relative error 2^-57).  x^3 P is at most
 *       0.11 |x|, so the roundings of x^3 and P weigh a tenth of an ulp and
 *       the final FMA rounds once.  Tiny x give x (x^3 underflows).
 *   |x| >= D_TANH_SMALL:  tanh(a) = 1 - 2 sigma(-2a), a = |x|, with
 *       sigma(-2a) = 2^m (R0 th + R0 (b + th e)) from vlogistic.h rounded
 *       once (an exact scaling: 2^m stays normal), then 1 - 2s rounded once.
 *       tanh(a) >= 0.51 here and 2s <= 0.49, so the error of s adds at most
 *       a quarter ulp to the final rounding.
 * Both branches work on a = |x| and the sign of x is put back last, so that
 * tanh is exactly odd and tanh(-0) = -0.
 *
 * 2a is clamped at D_TANH_CLAMP = 40: tanh(a) rounds to 1 from a = 19.1 on
 * (1 - tanh(a) < 2 e^{-2a} < 2^-54), and the clamp keeps 2^m normal.  NaN
 * passes the clamp (min returns its second operand) and propagates.  Both
 * branches are computed for every lane; the one not taken may raise
 * floating-point flags (inf - inf in the polynomial at |x| = inf), which the
 * entry points discard with the rest of the pass's status.
 */
#define D_TANH_CLAMP 40.0

SIG_INLINE vd vd_tanh(vd x)
{
    vd a = vd_abs(x);
    vd z = vd_mul(x, x);
    vd p = vd_fma(vd_set(D_TANH_T10), z, vd_set(D_TANH_T9));
    p = vd_fma(p, z, vd_set(D_TANH_T8));
    p = vd_fma(p, z, vd_set(D_TANH_T7));
    p = vd_fma(p, z, vd_set(D_TANH_T6));
    p = vd_fma(p, z, vd_set(D_TANH_T5));
    p = vd_fma(p, z, vd_set(D_TANH_T4));
    p = vd_fma(p, z, vd_set(D_TANH_T3));
    p = vd_fma(p, z, vd_set(D_TANH_T2));
    p = vd_fma(p, z, vd_set(D_TANH_T1));
    p = vd_fma(p, z, vd_set(D_TANH_T0));
    vd small = vd_fma(vd_mul(a, z), p, a);

    vd_logistic_t L = vd_lg_stage3(vd_lg_stage2(vd_lg_stage1_clamped(vd_add(a, a), D_TANH_CLAMP)));
    vd s = vd_mul(vd_logistic_neg_unscaled(L), L.S);              /* sigma(-2a) */
    vd big = vd_fnma(vd_set(2.0), s, vd_set(1.0));
    return vd_copysign(vd_sel(vd_lt(a, vd_set(D_TANH_SMALL)), small, big), x);
}

/* ---------------------------------------------------------- float32 data */

/*
 * For float32 data, whose results are rounded to float once at the end, a
 * relative error of 2^-33 in double leaves the rounding faithful (and
 * almost always correct), so the float passes use shorter forms, one
 * division each:
 *
 *   sigma(x):  t = e^{-a} to 2^-34 (vd_expneg_light, a = min(|x|, 110):
 *              sigma(-110) is far below the smallest float); sigma(a) =
 *              1/(1 + t), sigma(-a) = t/(1 + t).
 *   tanh(x):   sign(x) (1 - t)/(1 + t), t = e^{-2a} = S (1 + q), S = 2^m th,
 *              with 2a clamped at D_TANH_CLAMP as above and the degree-5 q
 *              (vd_expneg_light_q): 1 - t = (1 - S) - S q, 1 - S exact
 *              (Sterbenz) for S >= 1/2.  For a < ln2/64 (k = 0), S = 1 and
 *              1 - t = -q to 2^-37.2 relative, so small arguments lose
 *              nothing to the subtraction, and tiny ones give x (q = r =
 *              -2a); otherwise 1 - t >= 0.021, and q's absolute error
 *              2^-42.7 is 2^-37.1 of it.  One branch for every argument,
 *              where a polynomial below D_TANH_SMALL and this form above
 *              were both computed for every lane: the float32 LSTM's
 *              forward step takes 0.92 of its former time with avx512 and
 *              0.90 with avx2, the GRU's 0.94 and 0.92 (with sigma's one
 *              division for x < 0 instead of a product by 1/(1 + t); Zen
 *              5, one thread, alternating processes).
 */
SIG_INLINE vd vd_sigmoid_light(vd x)
{
    vd kf;
    vd t = vd_expneg_light(vd_min(vd_set(D_LIGHT_CLAMP), vd_abs(x)), &kf);
    t = vd_mul(t, vd_exp2m(kf));
    return vd_div(vd_sel(vd_lt(x, vd_set(0.0)), t, vd_set(1.0)), vd_add(vd_set(1.0), t));
}

SIG_INLINE vd vd_tanh_light(vd x)
{
    vd kf, th, one = vd_set(1.0);
    vd a = vd_abs(x);
    vd q = vd_expneg_light_q(vd_min(vd_set(D_TANH_CLAMP), vd_add(a, a)), &kf, &th, 1);
    vd S = vd_mul(th, vd_exp2m(kf));
    vd num = vd_fnma(S, q, vd_sub(one, S)), den = vd_fma(S, q, vd_add(one, S));
    return vd_copysign(vd_div(num, den), x);
}

/* the forms for the data type: `light` is a constant in each instantiation */
SIG_INLINE vd cell_sigmoid(vd x, const int light) { return light ? vd_sigmoid_light(x) : vd_sigmoid(x); }
SIG_INLINE vd cell_tanh(vd x, const int light) { return light ? vd_tanh_light(x) : vd_tanh(x); }

/* -------------------------------------------------------------------- LSTM */

/*
 * Forward, in two phases over a block of columns (gate_kernels.c), so that each
 * loop carries independent work only: the four gates and c first, then
 * tanh(c) and h from c and o kept in double.
 *
 * Phase 1.  in: gi, gf, gg, go (the gate pre-activations), c_prev.
 *           out: i, f, g, o, c, and c, o again for phase 2.
 *   c = f c_prev + i g: the product i g rounded, then one FMA.
 */
SIG_INLINE void vd_lstm_forward_gates(const int light, const vd *in, vd *out)
{
    vd i = cell_sigmoid(in[0], light), f = cell_sigmoid(in[1], light);
    vd g = cell_tanh(in[2], light), o = cell_sigmoid(in[3], light);
    vd c = vd_fma(f, in[4], vd_mul(i, g));
    out[0] = i;
    out[1] = f;
    out[2] = g;
    out[3] = o;
    out[4] = c;
    out[5] = c;
    out[6] = o;
}

/* Phase 2.  in: c, o.  out: h = o tanh(c), tanh(c). */
SIG_INLINE void vd_lstm_forward_out(const int light, const vd *in, vd *out)
{
    vd tc = cell_tanh(in[0], light);
    out[0] = vd_mul(in[1], tc);
    out[1] = tc;
}

/*
 * Backward.  in: dh, dc, i, f, g, o, c_prev, tanh(c).
 * out: the gradients of the pre-activations gi, gf, gg, go, and dc_prev.
 *   dct = dc + dh o (1 - tanh(c)^2)      (dc: from the next step)
 *   d_gi = dct g  i (1 - i)      d_gf = dct c_prev f (1 - f)
 *   d_gg = dct i (1 - g^2)       d_go = dh tanh(c) o (1 - o)
 *   dc_prev = dct f
 * The factors s (1 - s) and 1 - t^2 are each one FMA (s - s s, 1 - t t),
 * rounded once from their exact values.
 */
SIG_INLINE void vd_lstm_backward(const vd *in, vd *out)
{
    vd one = vd_set(1.0);
    vd dh = in[0], dc = in[1], i = in[2], f = in[3], g = in[4], o = in[5], cp = in[6], tc = in[7];
    vd dct = vd_fma(vd_mul(dh, o), vd_fnma(tc, tc, one), dc);
    out[0] = vd_mul(vd_mul(dct, g), vd_fnma(i, i, i));
    out[1] = vd_mul(vd_mul(dct, cp), vd_fnma(f, f, f));
    out[2] = vd_mul(vd_mul(dct, i), vd_fnma(g, g, one));
    out[3] = vd_mul(vd_mul(dh, tc), vd_fnma(o, o, o));
    out[4] = vd_mul(dct, f);
}

/* --------------------------------------------------------------------- GRU */

/*
 * Forward, in two phases like the LSTM's: r and z, then n and h.
 *
 * Phase 1.  in: gi_r, gh_r, gi_z, gh_z.  out: r, z, and r, z again for
 *           phase 2.  Each sum of the two projections is rounded once.
 */
SIG_INLINE void vd_gru_forward_gates(const int light, const vd *in, vd *out)
{
    vd r = cell_sigmoid(vd_add(in[0], in[1]), light);
    vd z = cell_sigmoid(vd_add(in[2], in[3]), light);
    out[0] = r;
    out[1] = z;
    out[2] = r;
    out[3] = z;
}

/*
 * Phase 2.  in: r, z, gi_n, gh_n, h_prev.  out: h, n, gh_n (saved for the
 *           backward pass).
 *   n = tanh(gi_n + r gh_n), the argument one FMA;
 *   h = (1 - z) n + z h_prev: the product (1 - z) n rounded, then one FMA.
 */
SIG_INLINE void vd_gru_forward_out(const int light, const vd *in, vd *out)
{
    vd r = in[0], z = in[1];
    vd n = cell_tanh(vd_fma(r, in[3], in[2]), light);
    out[0] = vd_fma(z, in[4], vd_mul(vd_sub(vd_set(1.0), z), n));
    out[1] = n;
    out[2] = in[3];
}

/*
 * Backward.  in: dh, r, z, n, gh_n, h_prev.
 * out: d(gi_r), d(gi_z), d(gi_n), d(gh_r), d(gh_z), d(gh_n), and the direct
 * part of dh_prev (the caller adds dgh W_hh):
 *   dn_pre = dh (1 - z) (1 - n^2)     dz_pre = dh (h_prev - n) z (1 - z)
 *   dr_pre = dn_pre gh_n r (1 - r)    d(gh_n) = dn_pre r
 *   d(gi_r) = d(gh_r) = dr_pre,  d(gi_z) = d(gh_z) = dz_pre,  d(gi_n) = dn_pre
 *   dh_prev = dh z
 */
SIG_INLINE void vd_gru_backward(const vd *in, vd *out)
{
    vd one = vd_set(1.0);
    vd dh = in[0], r = in[1], z = in[2], n = in[3], ghn = in[4], hp = in[5];
    vd dn = vd_mul(vd_mul(dh, vd_sub(one, z)), vd_fnma(n, n, one));
    vd dz = vd_mul(vd_mul(dh, vd_sub(hp, n)), vd_fnma(z, z, z));
    vd dr = vd_mul(vd_mul(dn, ghn), vd_fnma(r, r, r));
    out[0] = dr;
    out[1] = dz;
    out[2] = dn;
    out[3] = dr;
    out[4] = dz;
    out[5] = vd_mul(dn, r);
    out[6] = vd_mul(dh, z);
}

#endif /* SIGMOID_VGATE_H */
