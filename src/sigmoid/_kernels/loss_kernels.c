/*
 * The loss family of one instruction set: per-element losses and their
 * gradients on double lanes (vloss.h), the usual case of BCE on float lanes,
 * and the sums of a block in double-double.  loss.c walks the operands and
 * calls sig_loss_kernel_<isa> on packed blocks.  Compiled once per
 * instruction set (see elementwise.c).
 */
#include <math.h>
#include <string.h>

#include "kernels_isa.h"
#include "vloss.h"

/*
 * The sum of the losses: a double-double per lane.  TwoSum gives each
 * addition's rounding error exactly, and the errors are summed in c, so a
 * lane's s + c is its exact sum to about n 2^-106 of the sum (the losses are
 * all >= 0: no cancellation).  The lanes and the tail are then combined in
 * scalar double-double, in a fixed order.
 */
typedef struct {
    vd s, c;
} vd_acc;

SIG_INLINE vd_acc acc_zero(void)
{
    vd_acc a;
    a.s = vd_set(0.0);
    a.c = vd_set(0.0);
    return a;
}

SIG_INLINE void acc_add(vd_acc *a, vd v)
{
    vd e;
    a->s = vd_two_sum(a->s, v, &e);
    a->c = vd_add(a->c, e);
}

/* a += b, lane by lane: the TwoSum of the two leading parts, the rest into
   the correction */
SIG_INLINE void acc_merge(vd_acc *a, vd_acc b)
{
    vd e;
    a->s = vd_two_sum(a->s, b.s, &e);
    a->c = vd_add(a->c, vd_add(b.c, e));
}

/* hi + lo += v, in scalar double-double */
SIG_INLINE void dd_acc(double *hi, double *lo, double v)
{
    double s = *hi + v, bb = s - *hi;
    *lo += (*hi - (s - bb)) + (v - bb);
    *hi = s;
}

/* the lanes of a, then `tail` (hi + lo), as one double-double */
SIG_INLINE double acc_total(vd_acc a, double tail_hi, double tail_lo, double *lo)
{
    double s[VD_N], c[VD_N], hi = tail_hi, l = tail_lo;
    vd_store(s, a.s);
    vd_store(c, a.c);
    for (int k = 0; k < VD_N; k++) {
        dd_acc(&hi, &l, s[k]);
        l += c[k];
    }
    if (!isfinite(hi)) {  /* an infinite or nan loss (the errors are nan then) */
        *lo = 0.0;
        return hi;
    }
    /* normalised: |lo| at most half an ulp of hi */
    double h = hi + l;
    *lo = l - (h - hi);
    return h;
}

/* kind and f32 (which selects the light cores) are constants in each
   instantiation of loss_vec and loss_body below.  The gradient of BCE from
   logits comes out times gs ge (the reduction factor and grad_output),
   which its double-double form rounds with the rest; the other losses'
   gradients before them (loss_put scales them). */
SIG_INLINE void loss_vec(const sig_loss_params *P, const int kind, const int light, vd x, vd y, vd w,
                         vd pw, vd gs, vd ge, vd *loss, vd *grad, md *fix, md *bad)
{
    vd zero = vd_set(0.0), one = vd_set(1.0);
    *bad = md_or(*bad, vd_nle(zero, y));
    *bad = md_or(*bad, vd_nle(y, one));
    *fix = vd_lt(one, zero);
    if (kind == SIG_LOSS_BCE_LOGITS) {
        y = vd_fma(y, vd_set(1.0 - P->smoothing), vd_set(0.5 * P->smoothing));
        int mode = light ? LOSS_LIGHT : LOSS_EXACT;
        vd_bce_t o = vd_bce_logits(x, y, w, pw, loss_softparts(x, mode), mode, gs, ge);
        *loss = o.loss;
        *grad = o.grad;
        *fix = o.fix;
        return;
    }
    else if (kind == SIG_LOSS_BCE_PROBS) {
        /* probabilities outside [0, 1]; a nan probability gives a nan loss */
        *bad = md_or(*bad, md_or(vd_lt(x, zero), vd_gt(x, one)));
        vd_bce_probs(x, y, w, light, loss, grad);
    }
    else {
        vd_focal(x, y, P->alpha, P->gamma, light, loss, grad, fix);
    }
}

/* one vector of an operand (element step 0 or 1), as doubles */
SIG_INLINE vd loss_load(const void *p, int step, ptrdiff_t i, int f32)
{
    if (p == NULL) return vd_set(1.0);
    if (step == 0) return vd_set(f32 ? (double)*(const float *)p : *(const double *)p);
    return f32 ? vd_load_f32((const float *)p + i) : vd_load((const double *)p + i);
}

SIG_INLINE void loss_store(void *p, ptrdiff_t i, vd v, int f32)
{
    if (f32) vd_store_f32((float *)p + i, v);
    else vd_store((double *)p + i, v);
}

SIG_INLINE void loss_note_fixes(md f, ptrdiff_t i, ptrdiff_t *fix, ptrdiff_t *nfix)
{
    if (md_any(f)) {
        double fl[VD_N];
        vd_store(fl, vd_sel(f, vd_set(1.0), vd_set(0.0)));
        for (int k = 0; k < VD_N; k++)
            if (fl[k] != 0.0) fix[(*nfix)++] = i + k;
    }
}

SIG_INLINE void loss_one(const sig_loss_params *P, const int kind, const int f32, const sig_loss_io *io,
                         ptrdiff_t j, vd gs, vd *l, vd *g, md *f, md *bad)
{
    vd ge = kind == SIG_LOSS_BCE_LOGITS ? loss_load(io->g, io->sg, j, f32) : vd_set(1.0);
    loss_vec(P, kind, f32, loss_load(io->x, 1, j, f32), loss_load(io->y, 1, j, f32),
             loss_load(io->w, io->sw, j, f32), loss_load(io->pw, io->spw, j, f32), gs, ge, l, g, f, bad);
}

/* LOSS_U independent vectors per step, so that their long dependency chains
   (exponential, division, logarithm) overlap */
#define LOSS_U 2
/* With 16 vector registers, the double-double code of double data (the
   general losses' loop) spills less one vector at a time: on AVX2, BCE on
   probabilities took 0.85 of the time and the focal loss 0.97; the light
   code of float data keeps two (one alone took 1.2 of the time). */
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_SSE2
#define LOSS_U64 1
#else
#define LOSS_U64 LOSS_U
#endif


/*
 * The usual case of BCE from logits: no weight, pos_weight or smoothing, and
 * targets 0 and 1.  From vector i, while the targets of LOSS_U vectors at a
 * time are all 0 or 1, up to n; returns where it stopped.
 */
/*
 * BCE from logits without weight, pos_weight or smoothing (the usual call).
 * Each element's formula depends on its own x and y only, never on its
 * neighbours, so that results do not depend on the vector width, the
 * alignment or the thread count:
 *   - float32, y in {0, 1}, |x| <= LOSS_F_MAX, no grad_output array: the
 *     float lanes (vf_bce_hard);
 *   - else y in {0, 1}: the double lanes' vd_bce_logits_hard;
 *   - else: the general vd_bce_logits (with its double-double fix-ups).
 * Groups of LOSS_U * VD_N elements (one float vector for float32 data).
 */
#define LOSS_G (LOSS_U * VD_N)

SIG_INLINE mf loss_f_ok(vf x, vf y)
{
    /* y (1 - y) = 0 for y = 0 and 1 only (every other value, nan included,
       gives a nonzero or nan product) */
    return mf_and(vf_eq(vf_fnma(y, y, y), vf_set(0.0f)), vf_le(vf_abs(x), vf_set(LOSS_F_MAX)));
}

/* The float lanes' losses lie in [0, 41] (|x| <= LOSS_F_MAX).  Summed into
 * accumulators that start at F_RUN_BIAS = 64, every addition has the larger
 * operand first, so Fast2Sum gives its rounding error exactly (three
 * operations, where TwoSum takes six), and the accumulator is double-double
 * as everywhere else.  The bias comes off exactly at the end: s - 64 is
 * exact for 64 <= s < 2^59, where 64 is a multiple of an ulp of s. */
#define F_RUN_BIAS 64.0

SIG_INLINE void acc_add_fast(vd_acc *a, vd v)
{
    vd s = vd_add(a->s, v);
    a->c = vd_add(a->c, vd_add(vd_sub(a->s, s), v));
    a->s = s;
}

/* the second stage of the vector at i: its loss and gradient stored, the
   loss summed into two local accumulators (the lower and upper half of the
   vector), in the order of the elements */
SIG_INLINE void loss_f_finish(const sig_loss_io *io, ptrdiff_t i, vf_bce_s1 s, vf gsh, vf gsl, vd_acc *lo,
                              vd_acc *hi)
{
    vf l, g;
    vf_bce_hard_s2(s, gsh, gsl, &l, &g);
    acc_add_fast(lo, vf_lo_vd(l));
    acc_add_fast(hi, vf_hi_vd(l));
    if (io->loss) vf_store((float *)io->loss + i, l);
    if (io->grad) vf_store((float *)io->grad + i, g);
}

/* From group i on, the groups whose every element takes the float lanes;
   returns where it stopped.  The first stage of the vectors ahead runs
   before the second stage of the current one, so that their chains
   (exponential, divisions, logarithm) overlap:
     - with 32 vector registers, software-pipelined: the next vector's first
       stage, then the current one's second;
     - with AVX2's 16, those two stages' values do not fit: the loop
       spilled and copied them, and that made up half of its instructions.
       There the first stage of a block of LOSS_F_BLOCK vectors goes to a
       buffer, then the second stage of each in turn (Zen 5, 10^5:
       1.39 -> 1.29-1.31 ns per element, 10^7: 1.33 -> 1.25-1.27; blocks of
       8, 16 and 32 within 1%; AVX-512 the same either way, SSE2, whose
       emulated FMAs dominate, 1-5% slower with blocks).
   The accumulators start at F_RUN_BIAS and go into *sum at the end. */
#define LOSS_F_BLOCK 16

SIG_INLINE ptrdiff_t loss_f_run(const sig_loss_io *io, ptrdiff_t i, ptrdiff_t n, vf gsh, vf gsl, vd_acc *sum)
{
    const float *xp = (const float *)io->x, *yp = (const float *)io->y;
    mf all = vf_eq(gsh, gsh);
    vd_acc lo = {vd_set(F_RUN_BIAS), vd_set(0.0)}, hi = lo;
#if SIG_ISA == SIG_ISA_AVX2
    vf_bce_s1 buf[LOSS_F_BLOCK];
    for (int full = 1; full && i < n;) {
        int k = 0;
        for (; k < LOSS_F_BLOCK && i + k * VF_N < n; k++) {
            vf x = vf_load(xp + i + k * VF_N), y = vf_load(yp + i + k * VF_N);
            if (mf_any(mf_andnot(loss_f_ok(x, y), all))) break;
            buf[k] = vf_bce_hard_s1(x, y);
        }
        full = k == LOSS_F_BLOCK;
        for (int j = 0; j < k; j++, i += VF_N) loss_f_finish(io, i, buf[j], gsh, gsl, &lo, &hi);
    }
#else
    if (i >= n) return i;
    vf x = vf_load(xp + i), y = vf_load(yp + i);
    if (mf_any(mf_andnot(loss_f_ok(x, y), all))) return i;
    vf_bce_s1 cur = vf_bce_hard_s1(x, y);
    for (ptrdiff_t j = i + VF_N;; j += VF_N) {
        int more = j < n;
        if (more) {
            x = vf_load(xp + j);
            y = vf_load(yp + j);
            more = !mf_any(mf_andnot(loss_f_ok(x, y), all));
        }
        vf_bce_s1 next = cur;
        if (more) next = vf_bce_hard_s1(x, y);
        loss_f_finish(io, i, cur, gsh, gsl, &lo, &hi);
        i = j;
        if (!more) break;
        cur = next;
    }
#endif
    lo.s = vd_sub(lo.s, vd_set(F_RUN_BIAS));
    hi.s = vd_sub(hi.s, vd_set(F_RUN_BIAS));
    acc_merge(&lo, hi);
    acc_merge(sum, lo);
    return i;
}

/* targets 0 and 1 (hard) by vd_bce_logits_hard */
SIG_INLINE vd_bce_t loss_bce_hard(vd x, vd y, vd_softparts P, vd gs, vd ge)
{
    vd_bce_t o = vd_bce_logits_hard(x, y, P);
    o.grad = vd_mul(vd_mul(o.grad, gs), ge);
    return o;
}

/* one vector of the usual call, each lane by its own formula: targets 0 and
   1 by vd_bce_logits_hard, others (soft) by vd_bce_logits, for double data
   exactly (LOSS_EXACT) */
SIG_INLINE vd_bce_t loss_plain_vec(const int f32, vd x, vd y, md hard, vd gs, vd ge)
{
    vd one = vd_set(1.0);
    if (!md_any(md_andnot(hard, vd_eq(one, one))))
        return loss_bce_hard(x, y, loss_softparts(x, f32 ? LOSS_LIGHT : LOSS_QUICK), gs, ge);
    /* float data shares its light softparts between the two forms; double
       data's hard lanes take the quicker ones */
    const int mode = f32 ? LOSS_LIGHT : LOSS_EXACT;
    vd_softparts P = loss_softparts(x, mode);
    vd_bce_t s = vd_bce_logits(x, y, one, one, P, mode, gs, ge);
    if (!md_any(hard)) return s;
    vd_bce_t o = loss_bce_hard(x, y, f32 ? P : loss_softparts(x, LOSS_QUICK), gs, ge);
    o.loss = vd_sel(hard, o.loss, s.loss);
    o.grad = vd_sel(hard, o.grad, s.grad);
    o.fix = md_andnot(hard, s.fix);
    return o;
}

/* a group of double data with a soft target somewhere, out of line: inlined,
   its double-double code crowds the usual case's loop */
static __attribute__((noinline)) void loss_plain_soft_f64(const vd x[LOSS_U], const vd y[LOSS_U],
                                                          const md hard[LOSS_U], vd gs, const vd ge[LOSS_U],
                                                          vd_bce_t o[LOSS_U])
{
    for (int k = 0; k < LOSS_U; k++) o[k] = loss_plain_vec(0, x[k], y[k], hard[k], gs, ge[k]);
}

/* one group, each element by its own formula; l: the losses for the sum */
SIG_INLINE void loss_plain_group(const int f32, const sig_loss_io *io, ptrdiff_t i, int floats, vd gs, vf gsh,
                                 vf gsl, vd l[LOSS_U], md f[LOSS_U], md *bad)
{
    vd zero = vd_set(0.0), one = vd_set(1.0);
    vd g[LOSS_U], x[LOSS_U], y[LOSS_U], ge[LOSS_U];
    md hard[LOSS_U];
    vd_bce_t o[LOSS_U];
    md soft = vd_lt(one, zero), anyhard = soft;
    for (int k = 0; k < LOSS_U; k++) {
        x[k] = loss_load(io->x, 1, i + k * VD_N, f32);
        y[k] = loss_load(io->y, 1, i + k * VD_N, f32);
        ge[k] = loss_load(io->g, io->sg, i + k * VD_N, f32);
        hard[k] = md_or(vd_eq(y[k], zero), vd_eq(y[k], one));
        soft = md_or(soft, md_andnot(hard[k], vd_eq(one, one)));
        anyhard = md_or(anyhard, hard[k]);
        *bad = md_or(*bad, md_or(vd_nle(zero, y[k]), vd_nle(y[k], one)));
    }
    if (f32 && !md_any(anyhard)) {
        /* no target 0 or 1 in the group: its vectors in one straight line,
           which the core overlaps (with a test and a branch in each, float32
           soft targets took 1.07 (AVX-512) and 1.35 (AVX2) times as long) */
        for (int k = 0; k < LOSS_U; k++)
            o[k] = vd_bce_logits(x[k], y[k], one, one, loss_softparts(x[k], LOSS_LIGHT), LOSS_LIGHT, gs, ge[k]);
    }
    else if (f32)
        for (int k = 0; k < LOSS_U; k++) o[k] = loss_plain_vec(1, x[k], y[k], hard[k], gs, ge[k]);
    else if (md_any(soft))
        loss_plain_soft_f64(x, y, hard, gs, ge, o);
    else
        for (int k = 0; k < LOSS_U; k++)
            o[k] = loss_bce_hard(x[k], y[k], loss_softparts(x[k], LOSS_QUICK), gs, ge[k]);
    for (int k = 0; k < LOSS_U; k++) {
        l[k] = o[k].loss;
        g[k] = o[k].grad;
        f[k] = o[k].fix;
    }
    if (floats) {
        vf xf = vf_load((const float *)io->x + i), yf = vf_load((const float *)io->y + i);
        mf ok = loss_f_ok(xf, yf);
        if (mf_any(ok)) {
            vf lf, gf;
            vf_bce_hard(xf, yf, gsh, gsl, &lf, &gf);
            lf = vf_sel(ok, lf, vd2_vf(l[0], l[1]));
            gf = vf_sel(ok, gf, vd2_vf(g[0], g[1]));
            l[0] = vf_lo_vd(lf);
            l[1] = vf_hi_vd(lf);
            if (io->loss) vf_store((float *)io->loss + i, lf);
            if (io->grad) vf_store((float *)io->grad + i, gf);
            return;
        }
    }
    for (int k = 0; k < LOSS_U; k++) {
        if (io->loss) loss_store(io->loss, i + k * VD_N, l[k], f32);
        if (io->grad) loss_store(io->grad, i + k * VD_N, g[k], f32);
    }
}

SIG_INLINE double loss_bce_plain(const int f32, ptrdiff_t m, const sig_loss_io *io, ptrdiff_t *fix,
                                 ptrdiff_t *nfix, int *bad, double *lo)
{
    vd_acc sum = acc_zero();
    vd gs = vd_set(io->gscale);
    float h = (float)io->gscale;
    vf gsh = vf_set(h), gsl = vf_set((float)(io->gscale - (double)h));
    md badm = vd_lt(vd_set(1.0), vd_set(0.0));
    int floats = f32 && io->g == NULL && LOSS_G == VF_N;
    ptrdiff_t ng = m / LOSS_G * LOSS_G, i = 0;
    *nfix = 0;
    while (i < ng) {
        if (floats) {
            i = loss_f_run(io, i, ng, gsh, gsl, &sum);
            if (i >= ng) break;
        }
        vd l[LOSS_U];
        md f[LOSS_U];
        loss_plain_group(f32, io, i, floats, gs, gsh, gsl, l, f, &badm);
        for (int k = 0; k < LOSS_U; k++) {
            acc_add(&sum, l[k]);
            if (io->grad) loss_note_fixes(f[k], i + k * VD_N, fix, nfix);
        }
        i += LOSS_G;
    }
    double total = 0.0, total_lo = 0.0;
    if (ng < m) {
        /* the tail through one padded group, in local buffers */
        size_t sz = f32 ? 4 : 8;
        double bx[LOSS_G], by[LOSS_G], bg[LOSS_G], bl[LOSS_G], bgr[LOSS_G];
        memset(bx, 0, sizeof bx);
        memset(by, 0, sizeof by);
        memset(bg, 0, sizeof bg);
        size_t nb = (size_t)(m - ng) * sz;
        memcpy(bx, (const char *)io->x + (size_t)ng * sz, nb);
        memcpy(by, (const char *)io->y + (size_t)ng * sz, nb);
        sig_loss_io t = *io;
        t.x = bx;
        t.y = by;
        if (io->g != NULL && io->sg != 0) {
            memcpy(bg, (const char *)io->g + (size_t)ng * sz, nb);
            t.g = bg;
        }
        t.loss = bl;
        t.grad = bgr;
        vd l[LOSS_U];
        md f[LOSS_U];
        loss_plain_group(f32, &t, 0, floats, gs, gsh, gsl, l, f, &badm);
        double ls[LOSS_G], fl[LOSS_G];
        for (int k = 0; k < LOSS_U; k++) {
            vd_store(ls + k * VD_N, l[k]);
            vd_store(fl + k * VD_N, vd_sel(f[k], vd_set(1.0), vd_set(0.0)));
        }
        for (ptrdiff_t j = ng; j < m; j++) {
            int k = (int)(j - ng);
            dd_acc(&total, &total_lo, ls[k]);
            if (io->grad && fl[k] != 0.0) fix[(*nfix)++] = j;
        }
        if (io->loss) memcpy((char *)io->loss + (size_t)ng * sz, bl, nb);
        if (io->grad) memcpy((char *)io->grad + (size_t)ng * sz, bgr, nb);
        /* padding lanes (x = y = 0) are valid targets: badm stays correct */
    }
    if (md_any(badm)) *bad = 1;
    return acc_total(sum, total, total_lo, lo);
}

SIG_INLINE void loss_put(const sig_loss_io *io, const int kind, const int f32, ptrdiff_t j, vd l, vd g, md f,
                         vd gs, vd_acc *sum, ptrdiff_t *fix, ptrdiff_t *nfix)
{
    acc_add(sum, l);
    if (io->loss) loss_store(io->loss, j, l, f32);
    if (io->grad) {
        if (kind != SIG_LOSS_BCE_LOGITS) g = vd_mul(vd_mul(g, gs), loss_load(io->g, io->sg, j, f32));
        loss_store(io->grad, j, g, f32);
        loss_note_fixes(f, j, fix, nfix);
    }
}

/* m elements; the indices of gradients to recompute go to fix[] */
SIG_INLINE double loss_body(const sig_loss_params *P, const int kind, const int f32, ptrdiff_t m,
                            const sig_loss_io *io, ptrdiff_t *fix, ptrdiff_t *nfix, int *bad, double *lo)
{
    vd_acc sum = acc_zero();
    vd gs = vd_set(io->gscale);
    *nfix = 0;
    md badm = vd_lt(vd_set(1.0), vd_set(0.0));
    const int ub = f32 ? LOSS_U : LOSS_U64;
    ptrdiff_t nu = m / (ub * VD_N) * (ub * VD_N);
    ptrdiff_t nv = m / VD_N * VD_N;
    if (kind == SIG_LOSS_BCE_LOGITS && io->w == NULL && io->pw == NULL && P->smoothing == 0.0)
        return loss_bce_plain(f32, m, io, fix, nfix, bad, lo);
    for (ptrdiff_t i = 0; i < nu; i += ub * VD_N) {
        vd l[LOSS_U], g[LOSS_U];
        md f[LOSS_U];
        for (int k = 0; k < ub; k++)
            loss_one(P, kind, f32, io, i + k * VD_N, gs, &l[k], &g[k], &f[k], &badm);
        for (int k = 0; k < ub; k++)
            loss_put(io, kind, f32, i + k * VD_N, l[k], g[k], f[k], gs, &sum, fix, nfix);
    }
    for (ptrdiff_t i = nu; i < nv; i += VD_N) {
        vd l, g;
        md f;
        loss_one(P, kind, f32, io, i, gs, &l, &g, &f, &badm);
        loss_put(io, kind, f32, i, l, g, f, gs, &sum, fix, nfix);
    }
    double tail = 0.0, tail_lo = 0.0;
    if (nv < m) {
        /* the tail through one padded vector (valid values, left out of the sum) */
        double t[6][VD_N];
        for (int k = 0; k < VD_N; k++) {
            ptrdiff_t j = nv + k;
            int in = j < m;
#define EL(p, step) ((p) == NULL ? 1.0 : (f32 ? (double)((const float *)(p))[(step) ? j : 0] \
                                               : ((const double *)(p))[(step) ? j : 0]))
            t[0][k] = in ? EL(io->x, 1) : 0.0;
            t[1][k] = in ? EL(io->y, 1) : 0.0;
            t[2][k] = in ? EL(io->w, io->sw) : 1.0;
            t[3][k] = in ? EL(io->pw, io->spw) : 1.0;
            t[4][k] = in ? EL(io->g, io->sg) : 1.0;
#undef EL
        }
        vd l, g;
        md f;
        loss_vec(P, kind, f32, vd_load(t[0]), vd_load(t[1]), vd_load(t[2]), vd_load(t[3]), gs, vd_load(t[4]),
                 &l, &g, &f, &badm);
        if (kind != SIG_LOSS_BCE_LOGITS) g = vd_mul(vd_mul(g, gs), vd_load(t[4]));
        vd_store(t[0], l);
        vd_store(t[1], g);
        vd_store(t[5], vd_sel(f, vd_set(1.0), vd_set(0.0)));
        for (ptrdiff_t j = nv; j < m; j++) {
            int k = (int)(j - nv);
            dd_acc(&tail, &tail_lo, t[0][k]);
            if (io->loss) {
                if (f32) ((float *)io->loss)[j] = (float)t[0][k];
                else ((double *)io->loss)[j] = t[0][k];
            }
            if (io->grad) {
                if (f32) ((float *)io->grad)[j] = (float)t[1][k];
                else ((double *)io->grad)[j] = t[1][k];
                if (t[5][k] != 0.0) fix[(*nfix)++] = j;
            }
        }
    }
    if (md_any(badm)) *bad = 1;
    return acc_total(sum, tail, tail_lo, lo);
}

#define LOSS_CASE(kind)                                                                          \
    case kind:                                                                                   \
        return f32 ? loss_body(P, kind, 1, m, io, fix, nfix, bad, lo)                            \
                   : loss_body(P, kind, 0, m, io, fix, nfix, bad, lo);

/* P->kind is one of sig_loss_kind (loss.c refuses any other) */
double SIG_ISA_NAME(sig_loss_kernel)(const sig_loss_params *P, ptrdiff_t m, int f32, const sig_loss_io *io,
                                     ptrdiff_t *fix, ptrdiff_t *nfix, int *bad, double *lo)
{
    switch (P->kind) {
        LOSS_CASE(SIG_LOSS_BCE_LOGITS)
        LOSS_CASE(SIG_LOSS_BCE_PROBS)
        LOSS_CASE(SIG_LOSS_FOCAL)
    }
    *nfix = 0;
    *lo = 0.0;
    return NAN;
}
#undef LOSS_CASE
