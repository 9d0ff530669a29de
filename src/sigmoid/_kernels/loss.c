/*
 * The fused loss passes: one pass over logits (or probabilities), targets
 * and the optional weight, pos_weight and grad_output, writing the
 * per-element losses and/or the gradient and summing the losses on the way.
 *
 * NumPy's iterator does the broadcasting (weight to the logits' shape,
 * pos_weight along the trailing axes) and hands out inner loops; those are
 * packed into double blocks, computed by the kernel of the active
 * instruction set, and unpacked.  The iteration space is cut into fixed
 * chunks of LOSS_CHUNK elements, each summed on its own in double-double
 * (the kernels keep every addition's rounding error) and the chunk sums
 * combined in order at the end: the result does not depend on the number of
 * threads, its error does not grow with n, and the rounded sum is the
 * correctly rounded sum of the per-element losses unless that lies within
 * about n 2^-106 of a rounding boundary (so different instruction sets, whose
 * vectors add in different orders, agree except in such rare cases).
 */
#include "loops.h"

#include <math.h>
#include <string.h>

#define PY_ARRAY_UNIQUE_SYMBOL sigmoid_ARRAY_API
#define NO_IMPORT_ARRAY
#include <numpy/arrayobject.h>

#include "consts.h"
#include "ddouble.h"
#include "expansion.h"
#include "kernels.h"
#include "threads.h"

#define LOSS_CHUNK ((npy_intp)1 << 16)
#define MAX_OPS 7

/* ------------------------------------------------------ double-double */

/* hi + lo += vh + vl (double-double; the losses are >= 0, nothing cancels) */
static inline void dd_accumulate(double *hi, double *lo, double vh, double vl)
{
    double e;
    *hi = dd_two_sum(*hi, vh, &e);
    *lo += e + vl;
}

/* hi + lo rounded once; inf or nan as they are */
static inline double dd_round(double hi, double lo)
{
    return isfinite(hi) ? hi + lo : hi;
}

/*
 * The BCE gradient of a lane whose N = (1 - y) - p y t (x >= 0) or
 * (1 - y) t - p y (x < 0) cancelled, t = e^-|x|:  w N R g, R = 1/(1 + t),
 * g = the reduction factor times grad_output (gh + gl exactly), rounded
 * once from double-double.  N in double-double from a t good to about
 * 2^-104 keeps 2^-58 of its own size while it is at least 2^-46 of the
 * larger product; a deeper cancellation (logits within about 2^-46 of the
 * zero, relatively), or |x| > SIG_LOSS_FAR, takes t as an expansion good
 * to 2^-140 (expansion.h), scaled by 2^k so that nothing leaves the normal
 * range.
 */
static double bce_grad_fix(double x, double y, double w, double p, double gh, double gl)
{
    double a = fabs(x), th, tl, ol, Pl, qh, ql, Nh, Nl;
    dd_expneg(a, &th, &tl);
    double oh = dd_two_sum(1.0, -y, &ol);
    double Ph = p * y;
    Pl = fma(p, y, -Ph);
    if (x >= 0) {
        dd_mul(Ph, Pl, th, tl, &qh, &ql);
        dd_add(oh, ol, -qh, -ql, &Nh, &Nl);
    }
    else {
        dd_mul(oh, ol, th, tl, &qh, &ql);
        dd_add(qh, ql, -Ph, -Pl, &Nh, &Nl);
    }
    /* beyond SIG_LOSS_FAR th and tl leave the normal range: the expansion,
       scaled, there too */
    if (a > SIG_LOSS_FAR || fabs(Nh) < 0x1p-46 * fmax(fabs(qh), x >= 0 ? oh : Ph)) {
        xp_t E, n, q;
        int k;
        xp_expneg(a, &E, &k);
        n.n = 0;
        if (x >= 0) {            /* (1 - y) - 2^-k (p y) E */
            xp_t P;
            P.n = 0;
            xp_push(&P, Ph);
            xp_push(&P, Pl);
            xp_mul(&q, &P, &E);
            xp_ldexp(&q, &q, -k);
            xp_push(&n, oh);
            xp_push(&n, ol);
            xp_append(&n, &q, -1.0);
            xp_dd(&n, &Nh, &Nl);
        }
        else {                   /* 2^-k [(1 - y) E - 2^k p y] */
            xp_t O;
            O.n = 0;
            xp_push(&O, oh);
            xp_push(&O, ol);
            xp_mul(&q, &O, &E);
            xp_push(&q, -ldexp(Ph, k));
            xp_push(&q, -ldexp(Pl, k));
            xp_dd(&q, &Nh, &Nl);
            Nh = ldexp(Nh, -k);
            Nl = ldexp(Nl, -k);
        }
    }
    /* R = 1/(1 + t) in double-double, then N R w g, rounded once */
    double uh, ul, Rh, Rl, rh, rl;
    dd_add(1.0, 0.0, th, tl, &uh, &ul);
    dd_div(1.0, 0.0, uh, ul, &Rh, &Rl);
    dd_mul(Nh, Nl, Rh, Rl, &rh, &rl);
    dd_mul(rh, rl, w, 0.0, &rh, &rl);
    dd_mul(rh, rl, gh, gl, &rh, &rl);
    return rh + rl;
}

/* The focal-loss gradient of a lane with a soft target whose two terms
   (sigma(x) - y) and gamma ce (1 - 2y) sigma(x) sigma(-x) / m cancelled:
   the bracket, alpha_t, m^gamma = e^(gamma log m) and the factor gh + gl
   (the reduction's times grad_output) in double-double, rounded once. */
static double focal_grad_fix(double x, double y, double alpha, double gamma, double gh, double gl)
{
    double a = fmin(fabs(x), 745.0), th, tl, e;
    dd_expneg(a, &th, &tl);
    double uh, ul, Rh, Rl, Sh, Sl, sph, spl, snh, snl;
    dd_add(1.0, 0.0, th, tl, &uh, &ul);
    dd_div(1.0, 0.0, uh, ul, &Rh, &Rl);        /* sigma(|x|) */
    dd_mul(th, tl, Rh, Rl, &Sh, &Sl);          /* sigma(-|x|) */
    if (x >= 0) { sph = Rh; spl = Rl; snh = Sh; snl = Sl; }
    else { sph = Sh; spl = Sl; snh = Rh; snl = Rl; }
    double oh = dd_two_sum(1.0, -y, &e), ol = e;
    double fh, fl, Lh, Ll, ch, cl, qh, ql, mh, ml, ph, pl, kh, kl, bh, bl;
    dd_add(sph, spl, -y, 0.0, &fh, &fl);       /* sigma(x) - y */
    dd_log1p(th, tl, &Lh, &Ll);
    /* ce = (1 - y) x+ + y x- + L */
    dd_mul(oh, ol, fmax(x, 0.0), 0.0, &ch, &cl);
    dd_mul(y, 0.0, fmax(-x, 0.0), 0.0, &qh, &ql);
    dd_add(ch, cl, qh, ql, &ch, &cl);
    dd_add(ch, cl, Lh, Ll, &ch, &cl);
    /* m = y sigma(-x) + (1 - y) sigma(x) */
    dd_mul(y, 0.0, snh, snl, &mh, &ml);
    dd_mul(oh, ol, sph, spl, &qh, &ql);
    dd_add(mh, ml, qh, ql, &mh, &ml);
    /* gamma ce (1 - 2y) sigma(x) sigma(-x) / m */
    dd_mul(sph, spl, snh, snl, &ph, &pl);
    dd_div(ph, pl, mh, ml, &ph, &pl);
    double k1 = dd_two_sum(1.0, -2.0 * y, &e);
    dd_mul(k1, e, ph, pl, &kh, &kl);
    dd_mul(kh, kl, ch, cl, &kh, &kl);
    dd_mul(kh, kl, gamma, 0.0, &kh, &kl);
    dd_add(fh, fl, kh, kl, &bh, &bl);
    /* m^gamma: below 2^-1075 the result is 0 (the bracket is below 1 here) */
    double Fh = 1.0, Fl = 0.0;
    if (gamma != 0.0) {
        double lh, ll;
        if (!(mh > 0x1p-1022)) return 0.0 * bh;
        dd_log_unit(mh, ml, &lh, &ll);
        double g1 = gamma * lh, g2 = fma(gamma, lh, -g1) + gamma * ll;
        if (-g1 > 745.0) return 0.0 * bh;
        dd_expneg(-g1, &Fh, &Fl);
        Fh = dd_quick_two_sum(Fh, fma(Fh, g2, Fl), &Fl);   /* e^g2 = 1 + g2: g2^2 below 2^-84 */
    }
    /* alpha_t = alpha y + (1 - alpha)(1 - y) */
    double ah = 1.0, al = 0.0;
    if (alpha >= 0) {
        double c1 = dd_two_sum(1.0, -alpha, &e), ch1 = e;
        double p1 = alpha * y, p1l = fma(alpha, y, -p1);
        dd_mul(c1, ch1, oh, ol, &qh, &ql);
        dd_add(p1, p1l, qh, ql, &ah, &al);
    }
    dd_mul(ah, al, Fh, Fl, &ah, &al);
    dd_mul(ah, al, bh, bl, &ah, &al);
    dd_mul(ah, al, gh, gl, &ah, &al);
    return ah + al;
}

/* ------------------------------------------------------------ the pass */

enum { OX, OY, OW, OP, OG, OLOSS, OGRAD };

#define LOSS_BLOCK 4096

/* one thread's buffers for the packed blocks of a pass (about 260 KB:
   allocated once per call and thread, not on the stack) */
typedef struct {
    char x[LOSS_BLOCK * 8], y[LOSS_BLOCK * 8], w[LOSS_BLOCK * 8], pw[LOSS_BLOCK * 8];
    char g[LOSS_BLOCK * 8], loss[LOSS_BLOCK * 8], grad[LOSS_BLOCK * 8];
    ptrdiff_t fix[LOSS_BLOCK];
} loss_scratch;

typedef struct {
    const sig_kernel_table *table;
    sig_loss_params P;
    int f32;
    int idx[MAX_OPS];           /* operand index in the iterator, -1 if absent */
    double gscale;
    npy_intp n, nchunks;
    NpyIter **iters;            /* one per thread */
    loss_scratch **scratch;     /* one per thread */
    NpyIter_IterNextFunc **next;
    double *psum, *psum_lo;     /* per chunk: its sum, double-double */
    unsigned char *bad;         /* per chunk */
    unsigned char *failed;      /* per chunk: an iterator reset failed */
} loss_job;


/* a block of m elements of an operand as a contiguous array (the data itself
   when it already is one), and its element step: 0 for a stride of 0 */
static const char *pack(char *buf, const char *p, npy_intp s, npy_intp m, npy_intp size, int *step)
{
    if (s == 0) {
        *step = 0;
        return p;
    }
    *step = 1;
    if (s == size) return p;
    for (npy_intp i = 0; i < m; i++) memcpy(buf + i * size, p + i * s, (size_t)size);
    return buf;
}

/* the same, always contiguous (a broadcast logit or target is repeated) */
static const char *contiguous(char *buf, const char *p, npy_intp s, npy_intp m, npy_intp size)
{
    if (s == size) return p;
    for (npy_intp i = 0; i < m; i++) memcpy(buf + i * size, p + i * s, (size_t)size);
    return buf;
}

static double element(const char *p, int step, npy_intp i, int f32)
{
    if (p == NULL) return 1.0;
    npy_intp j = step ? i : 0;
    return f32 ? (double)((const float *)p)[j] : ((const double *)p)[j];
}

static void inner(loss_job *J, loss_scratch *sc, char **dp, const npy_intp *st, npy_intp n, double *sum,
                  double *comp, int *bad)
{
    char *bx = sc->x, *by = sc->y, *bw = sc->w, *bp = sc->pw, *bg = sc->g, *bl = sc->loss, *bgr = sc->grad;
    ptrdiff_t *fix = sc->fix;
    const int *ix = J->idx;
    npy_intp size = J->f32 ? 4 : 8;
    for (npy_intp i = 0; i < n; i += LOSS_BLOCK) {
        npy_intp m = n - i < LOSS_BLOCK ? n - i : LOSS_BLOCK;
#define AT(o) (dp[ix[o]] + i * st[ix[o]])
        sig_loss_io io;
        io.x = contiguous(bx, AT(OX), st[ix[OX]], m, size);
        io.y = contiguous(by, AT(OY), st[ix[OY]], m, size);
        io.w = ix[OW] >= 0 ? pack(bw, AT(OW), st[ix[OW]], m, size, &io.sw) : NULL;
        io.pw = ix[OP] >= 0 ? pack(bp, AT(OP), st[ix[OP]], m, size, &io.spw) : NULL;
        io.g = ix[OG] >= 0 ? pack(bg, AT(OG), st[ix[OG]], m, size, &io.sg) : NULL;
        if (io.w == NULL) io.sw = 0;
        if (io.pw == NULL) io.spw = 0;
        if (io.g == NULL) io.sg = 0;
        int lo_direct = ix[OLOSS] >= 0 && st[ix[OLOSS]] == size;
        int gr_direct = ix[OGRAD] >= 0 && st[ix[OGRAD]] == size;
        io.loss = ix[OLOSS] < 0 ? NULL : lo_direct ? AT(OLOSS) : bl;
        io.grad = ix[OGRAD] < 0 ? NULL : gr_direct ? AT(OGRAD) : bgr;
        io.gscale = J->gscale;
        ptrdiff_t nfix = 0;
        double lo;
        double hi = J->table->loss(&J->P, m, J->f32, &io, fix, &nfix, bad, &lo);
        dd_accumulate(sum, comp, hi, lo);
        for (ptrdiff_t k = 0; k < nfix; k++) {  /* gradients that cancelled: double-double */
            npy_intp j = fix[k];
            double xk = element(io.x, 1, j, J->f32), yk = element(io.y, 1, j, J->f32);
            double sm = J->P.smoothing;
            if (sm != 0.0) yk = fma(yk, 1.0 - sm, 0.5 * sm);
            double ge = element(io.g, io.sg, j, J->f32), gh = J->gscale * ge;
            double gl = fma(J->gscale, ge, -gh);   /* the factor, exactly */
            double g = J->P.kind == SIG_LOSS_FOCAL
                           ? focal_grad_fix(xk, yk, J->P.alpha, J->P.gamma, gh, gl)
                           : bce_grad_fix(xk, yk, element(io.w, io.sw, j, J->f32),
                                          element(io.pw, io.spw, j, J->f32), gh, gl);
            if (J->f32) ((float *)io.grad)[j] = (float)g;
            else ((double *)io.grad)[j] = g;
        }
        if (io.loss && !lo_direct) {
            for (npy_intp k = 0; k < m; k++) memcpy(AT(OLOSS) + k * st[ix[OLOSS]], bl + k * size, (size_t)size);
        }
        if (io.grad && !gr_direct) {
            for (npy_intp k = 0; k < m; k++) memcpy(AT(OGRAD) + k * st[ix[OGRAD]], bgr + k * size, (size_t)size);
        }
#undef AT
    }
}

static void loss_range(void *ctx, ptrdiff_t b, ptrdiff_t e, int tid)
{
    loss_job *J = (loss_job *)ctx;
    NpyIter *it = J->iters[tid];
    NpyIter_IterNextFunc *next = J->next[tid];
    char **dp = NpyIter_GetDataPtrArray(it);
    npy_intp *st = NpyIter_GetInnerStrideArray(it);
    npy_intp *size = NpyIter_GetInnerLoopSizePtr(it);
    for (ptrdiff_t c = b; c < e; c++) {
        npy_intp lo = c * LOSS_CHUNK, hi = lo + LOSS_CHUNK < J->n ? lo + LOSS_CHUNK : J->n;
        char *err = NULL;
        if (NpyIter_ResetToIterIndexRange(it, lo, hi, &err) != NPY_SUCCEED) {
            J->failed[c] = 1;
            continue;
        }
        double sum = 0.0, comp = 0.0;
        int bad = 0;
        do {
            inner(J, J->scratch[tid], dp, st, *size, &sum, &comp, &bad);
        } while (next(it));
        J->psum[c] = sum;
        J->psum_lo[c] = comp;
        J->bad[c] = (unsigned char)bad;
    }
}

/*
 * _loss(kind, x, y, w, pw, gout, smoothing, alpha, gamma, gscale,
 *       want_loss, want_grad[, loss_out, grad_out])
 *   -> (loss or None, grad or None, sum, bad)
 * x and y: arrays of one dtype (float32 or float64); w, pw, gout: None or
 * arrays of that dtype broadcastable to x's shape.  loss_out and grad_out:
 * None (the result is allocated) or writeable arrays of x's shape and dtype
 * that share no memory with the inputs (the caller checks that: the
 * cancelled gradients are recomputed from x after the block is written).
 */
PyObject *sig_py_loss(PyObject *self, PyObject *args)
{
    (void)self;
    int kind, want_loss, want_grad;
    PyObject *xo, *yo, *wo, *po, *go, *lout = Py_None, *gout = Py_None;
    double smoothing, alpha, gamma, gscale;
    if (!PyArg_ParseTuple(args, "iOOOOOddddpp|OO", &kind, &xo, &yo, &wo, &po, &go, &smoothing, &alpha,
                          &gamma, &gscale, &want_loss, &want_grad, &lout, &gout))
        return NULL;
    if (!PyArray_Check(xo) || !PyArray_Check(yo)) {
        PyErr_SetString(PyExc_TypeError, "_loss: x and y must be arrays");
        return NULL;
    }
    if (kind != SIG_LOSS_BCE_LOGITS && kind != SIG_LOSS_BCE_PROBS && kind != SIG_LOSS_FOCAL) {
        PyErr_Format(PyExc_ValueError, "_loss: unknown loss kind %d", kind);
        return NULL;
    }
    PyArray_Descr *dt = PyArray_DESCR((PyArrayObject *)xo);
    if (dt->type_num != NPY_FLOAT && dt->type_num != NPY_DOUBLE) {
        PyErr_SetString(PyExc_TypeError, "_loss: float32 or float64 only");
        return NULL;
    }
    PyObject *given[MAX_OPS] = {xo, yo, wo, po, go, lout, gout};
    loss_job J;
    memset(&J, 0, sizeof J);
    PyArrayObject *ops[MAX_OPS];
    npy_uint32 op_flags[MAX_OPS];
    PyArray_Descr *op_dt[MAX_OPS];
    int nop = 0;
    for (int o = 0; o < MAX_OPS; o++) {
        J.idx[o] = -1;
        int is_out = o >= OLOSS;
        if (is_out ? !(o == OLOSS ? want_loss : want_grad) : given[o] == Py_None) continue;
        int allocate = is_out && given[o] == Py_None;
        if (!allocate) {
            if (!PyArray_Check(given[o]) ||
                !PyArray_EquivTypes(PyArray_DESCR((PyArrayObject *)given[o]), dt)) {
                PyErr_SetString(PyExc_TypeError, "_loss: every operand must share x's dtype");
                return NULL;
            }
        }
        J.idx[o] = nop;
        ops[nop] = allocate ? NULL : (PyArrayObject *)given[o];
        op_flags[nop] = !is_out    ? NPY_ITER_READONLY
                        : allocate ? NPY_ITER_WRITEONLY | NPY_ITER_ALLOCATE
                                   : NPY_ITER_WRITEONLY | NPY_ITER_NO_BROADCAST;
        op_dt[nop] = dt;
        nop++;
    }
    NpyIter *it = NpyIter_MultiNew(
        nop, ops,
        NPY_ITER_EXTERNAL_LOOP | NPY_ITER_BUFFERED | NPY_ITER_GROWINNER | NPY_ITER_RANGED |
            NPY_ITER_ZEROSIZE_OK | NPY_ITER_DELAY_BUFALLOC,
        NPY_KEEPORDER, NPY_NO_CASTING, op_flags, op_dt);
    if (it == NULL) return NULL;

    J.table = sig_active;
    J.P.kind = kind;
    J.P.light = dt->type_num == NPY_FLOAT;
    J.P.smoothing = smoothing;
    J.P.alpha = alpha;
    J.P.gamma = gamma;
    J.f32 = J.P.light;
    J.gscale = gscale;
    J.n = NpyIter_GetIterSize(it);
    J.nchunks = (J.n + LOSS_CHUNK - 1) / LOSS_CHUNK;

    PyObject *result = NULL;
    int threads = J.nchunks > 0 ? sig_planned_threads(J.nchunks, 2, 1) : 1;
    J.iters = PyMem_Calloc((size_t)threads, sizeof(NpyIter *));
    J.next = PyMem_Calloc((size_t)threads, sizeof(NpyIter_IterNextFunc *));
    J.scratch = PyMem_Calloc((size_t)threads, sizeof(loss_scratch *));
    J.psum = PyMem_Calloc((size_t)J.nchunks + 1, sizeof(double));
    J.psum_lo = PyMem_Calloc((size_t)J.nchunks + 1, sizeof(double));
    J.bad = PyMem_Calloc((size_t)J.nchunks + 1, 1);
    J.failed = PyMem_Calloc((size_t)J.nchunks + 1, 1);
    if (!J.iters || !J.next || !J.scratch || !J.psum || !J.psum_lo || !J.bad || !J.failed) {
        PyErr_NoMemory();
        goto done;
    }
    for (int t = 0; t < threads && J.nchunks > 0; t++) {
        J.scratch[t] = PyMem_Malloc(sizeof(loss_scratch));
        if (J.scratch[t] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    J.iters[0] = it;
    for (int t = 1; t < threads; t++) {
        J.iters[t] = NpyIter_Copy(it);
        if (J.iters[t] == NULL) goto done;
    }
    for (int t = 0; t < threads; t++) {
        J.next[t] = NpyIter_GetIterNext(J.iters[t], NULL);
        if (J.next[t] == NULL) goto done;
    }
    if (J.nchunks > 0) {
        FP_SAVE;
        Py_BEGIN_ALLOW_THREADS
        sig_parallel_for(J.nchunks, 2, 1, threads, loss_range, &J);
        Py_END_ALLOW_THREADS
        FP_RESTORE;
    }
    double sum = 0.0, comp = 0.0;
    int bad = 0;
    for (npy_intp c = 0; c < J.nchunks; c++) {
        if (J.failed[c]) {
            PyErr_SetString(PyExc_RuntimeError, "sigmoid: the loss iterator could not be reset");
            goto done;
        }
        dd_accumulate(&sum, &comp, J.psum[c], J.psum_lo[c]);
        bad |= J.bad[c];
    }
    {
        PyArrayObject **arrs = NpyIter_GetOperandArray(it);
        PyObject *lo = J.idx[OLOSS] >= 0 ? (PyObject *)arrs[J.idx[OLOSS]] : Py_None;
        PyObject *gr = J.idx[OGRAD] >= 0 ? (PyObject *)arrs[J.idx[OGRAD]] : Py_None;
        result = Py_BuildValue("OOdO", lo, gr, dd_round(sum, comp), bad ? Py_True : Py_False);
    }
done:
    if (J.iters) {
        for (int t = 0; t < threads; t++)
            if (J.iters[t]) NpyIter_Deallocate(J.iters[t]);
    }
    else {
        NpyIter_Deallocate(it);
    }
    PyMem_Free(J.iters);
    PyMem_Free(J.next);
    if (J.scratch) {
        for (int t = 0; t < threads; t++) PyMem_Free(J.scratch[t]);
    }
    PyMem_Free(J.scratch);
    PyMem_Free(J.psum);
    PyMem_Free(J.psum_lo);
    PyMem_Free(J.bad);
    PyMem_Free(J.failed);
    return result;
}
