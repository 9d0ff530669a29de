/*
 * _attention: the tiled attention passes (attention.h), as a private
 * function of _core:
 *
 *   _attention(0, (q, k, v, out, lse, index), masks, scale, bias, softmax, causal)       forward
 *   _attention(1, (q, k, v, dout, lse, D, index, dq, dk, dv), masks, scale, bias, softmax, causal)
 *                                                                                      backward
 *   _attention(2, x, y, dx, dy, t, b, x0, y0, B) -> (sum of the terms, dt', db)      SigLIP
 *
 *   q      (Bq, L, E)            float32 or float64, C-contiguous
 *   k      (Bk, S, E)            the keys
 *   v      (Bv, S, Evp)          the values, rows zero-padded to Evp
 *   out    (B, L, Ev)            written, Ev <= Evp < Ev + SIG_ATTN_PAD
 *   lse    (B, L) or None        the softmax's log sum_j e^(s_ij): written
 *                                forward, read backward
 *   index  (B, 3 + len(masks))   int64: per batch entry, the entries of q,
 *                                k, v and of each mask
 *   masks  tuple of (kind, array (Bm, L or 1, S or 1)): kind 0 keeps the
 *          pairs where the (bool or uint8) array is nonzero, kind 1 adds the
 *          array (of the data type) to the scores
 *   dout   (B, L, Ev)            the gradient of the output
 *   D      (B, L) or None        rowsum(dout out), for the softmax
 *   dq     (B, L, E), dk (B, S, E), dv (B, S, Ev)    written: the gradients
 *          per batch entry (the caller sums those of broadcast inputs)
 *
 * The SigLIP loss (sigmoid.siglip_loss, attention.h): x (Bx, D) and y
 * (By, D) float32 or float64, their first rows the pairs x0 and y0 of a
 * batch of B; dx (Bx, D) and dy (By, D) written, or both None for the loss
 * alone.  Work items are blocks of rows of x; the gradient of y is summed
 * by thread slots, each slot the same blocks whatever the threads, so the
 * result depends on the number of slots only (sig_planned_threads).
 *
 * Every array is checked (dtype, contiguity, shapes, every index in range)
 * before any is written.  The work items run on the library's threads,
 * the longest first, without the GIL: forward (batch entry, block of
 * queries), later query blocks first (with causality they see more keys);
 * backward (batch entry, block of keys), each thread adding the queries'
 * gradients into an accumulator of its own, summed at the end; when there
 * are at least as many batch entries as threads, an item is a whole batch
 * entry, and the result does not depend on the number of threads.
 */
#include "loops.h"

#include <stdlib.h>
#include <string.h>

#define PY_ARRAY_UNIQUE_SYMBOL sigmoid_ARRAY_API
#define NO_IMPORT_ARRAY
#include <numpy/arrayobject.h>

#include "attention.h"
#include "kernels.h"
#include "threads.h"

static const sig_attn_kernel *attn_kernel_for_active_isa(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    if (strcmp(sig_active->isa, "avx512") == 0) return &sig_attn_avx512;
    if (strcmp(sig_active->isa, "avx2") == 0) return &sig_attn_avx2;
#endif
    return &sig_attn_portable;
}

typedef struct {
    const sig_attn_args *A;
    sig_attn_item_fn item;
    int backward;
    int whole;              /* backward: an item is a whole batch entry, its key blocks in order */
    ptrdiff_t nblocks;      /* query blocks (forward) or key blocks (backward) per batch entry */
    size_t scratch_bytes;
    char *dq;               /* backward: one accumulator per thread */
    size_t dq_bytes;
    int failed;             /* a scratch allocation failed */
} attn_job;

/* a work range's scratch, 64-byte aligned; NULL, with *failed set, when there is no memory */
static void *range_scratch(size_t bytes, int *failed)
{
    void *scratch = NULL;
    if (posix_memalign(&scratch, 64, bytes) != 0) {
        *failed = 1;
        return NULL;
    }
    return scratch;
}

static void attn_range(void *ctx, ptrdiff_t begin, ptrdiff_t end, int tid)
{
    attn_job *J = (attn_job *)ctx;
    void *scratch = range_scratch(J->scratch_bytes, &J->failed);
    if (!scratch) return;
    FP_SAVE;
    /* whole entries: one accumulator, each entry's rows written by one thread */
    void *dq = J->backward ? J->dq + (J->whole ? 0 : (size_t)tid * J->dq_bytes) : NULL;
    for (ptrdiff_t w = begin; w < end; w++) {
        if (J->whole) {
            for (ptrdiff_t block = 0; block < J->nblocks; block++) J->item(J->A, w, block, scratch, dq);
            continue;
        }
        ptrdiff_t b = w % J->A->B, block = w / J->A->B;
        if (!J->backward) block = J->nblocks - 1 - block;
        J->item(J->A, b, block, scratch, dq);
    }
    free(scratch);
    FP_RESTORE;
}

static int check_array(PyObject *o, const char *name, int nd, int typenum, int writeable, PyArrayObject **out)
{
    if (!PyArray_Check(o)) {
        PyErr_Format(PyExc_TypeError, "_attention: %s must be an ndarray", name);
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)o;
    if (PyArray_NDIM(a) != nd || PyArray_TYPE(a) != typenum || !PyArray_IS_C_CONTIGUOUS(a) ||
        !PyArray_ISNOTSWAPPED(a) || !PyArray_ISALIGNED(a) || (writeable && !PyArray_ISWRITEABLE(a))) {
        PyErr_Format(PyExc_ValueError,
                     "_attention: %s must be a C-contiguous, aligned, native%s %d-d array of the data type",
                     name, writeable ? ", writeable" : "", nd);
        return -1;
    }
    *out = a;
    return 0;
}

/* the type of the first array, float32 or float64, or an error */
static int float_type(PyObject *o, const char *name, int *typenum)
{
    if (!PyArray_Check(o)) {
        PyErr_Format(PyExc_TypeError, "_attention: %s must be an ndarray", name);
        return -1;
    }
    *typenum = PyArray_TYPE((PyArrayObject *)o);
    if (*typenum != NPY_FLOAT && *typenum != NPY_DOUBLE) {
        PyErr_Format(PyExc_TypeError, "_attention: %s must be float32 or float64", name);
        return -1;
    }
    return 0;
}

/* dst (rows x cols, row stride cols) = scale times the sum of the `slots`
   accumulators at src (each `bytes` apart; rows x ld), in order */
static void sum_slots(int f32, void *dst, const char *src, int slots, size_t bytes, ptrdiff_t rows, ptrdiff_t cols,
                      ptrdiff_t ld, double scale)
{
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t c = 0; c < cols; c++) {
            size_t off = (size_t)(r * ld + c);
            if (f32) {
                float acc = 0;
                for (int s = 0; s < slots; s++) acc += ((const float *)(src + (size_t)s * bytes))[off];
                ((float *)dst)[r * cols + c] = acc * (float)scale;
            }
            else {
                double acc = 0;
                for (int s = 0; s < slots; s++) acc += ((const double *)(src + (size_t)s * bytes))[off];
                ((double *)dst)[r * cols + c] = acc * scale;
            }
        }
}

static int bad_shapes(void)
{
    PyErr_SetString(PyExc_ValueError, "_attention: inconsistent shapes");
    return -1;
}

/* the masks of the tuple into A, with the number of their entries */
static int parse_masks(PyObject *omasks, int typenum, sig_attn_args *A, npy_intp *limit)
{
    Py_ssize_t n = PyTuple_GET_SIZE(omasks);
    if (n > SIG_ATTN_MAX_MASKS) {
        PyErr_Format(PyExc_ValueError, "_attention: at most %d masks", SIG_ATTN_MAX_MASKS);
        return -1;
    }
    A->nmasks = (int)n;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *t = PyTuple_GET_ITEM(omasks, k), *om;
        int kind;
        if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "iO", &kind, &om)) {
            PyErr_SetString(PyExc_TypeError, "_attention: a mask must be a (kind, array) tuple");
            return -1;
        }
        if (!PyArray_Check(om) || (kind != 0 && kind != 1)) {
            PyErr_SetString(PyExc_ValueError, "_attention: a mask is (0, bool array) or (1, float array)");
            return -1;
        }
        int mt = PyArray_TYPE((PyArrayObject *)om);
        if (kind == 0 && mt != NPY_BOOL && mt != NPY_UINT8) {
            PyErr_SetString(PyExc_ValueError, "_attention: a keep mask must be bool or uint8");
            return -1;
        }
        PyArrayObject *m;
        if (check_array(om, "mask", 3, kind == 0 ? mt : typenum, 0, &m)) return -1;
        npy_intp r = PyArray_DIM(m, 1), c = PyArray_DIM(m, 2);
        if ((r != 1 && r != A->L) || (c != 1 && c != A->S)) {
            PyErr_SetString(PyExc_ValueError, "_attention: a mask must be (Bm, L or 1, S or 1)");
            return -1;
        }
        A->masks[k].kind = kind;
        A->masks[k].data = PyArray_DATA(m);
        A->masks[k].rows = r;
        A->masks[k].cols = c;
        limit[3 + k] = PyArray_DIM(m, 0);
    }
    return 0;
}

typedef struct {
    const sig_siglip_args *G;
    sig_siglip_fn item;
    ptrdiff_t nrb, slots;
    size_t scratch_bytes, dy_bytes;
    char *dy;               /* one accumulator per slot */
    double *sums;           /* (nrb, 3) */
    int failed;
} siglip_job;

/* slot s takes the row blocks s, s + slots, ...: the same blocks, in the same order, whatever thread runs it */
static void siglip_range(void *ctx, ptrdiff_t begin, ptrdiff_t end, int tid)
{
    (void)tid;
    siglip_job *J = (siglip_job *)ctx;
    void *scratch = range_scratch(J->scratch_bytes, &J->failed);
    if (!scratch) return;
    FP_SAVE;
    for (ptrdiff_t s = begin; s < end; s++)
        for (ptrdiff_t rb = s; rb < J->nrb; rb += J->slots)
            J->item(J->G, rb, scratch, J->dy + (size_t)s * J->dy_bytes, J->sums + 3 * rb);
    free(scratch);
    FP_RESTORE;
}

static PyObject *siglip(PyObject *args)
{
    int mode;
    PyObject *ox, *oy, *odx, *ody;
    double t, b;
    Py_ssize_t x0, y0, Bn;
    int typenum;
    if (!PyArg_ParseTuple(args, "iOOOOddnnn", &mode, &ox, &oy, &odx, &ody, &t, &b, &x0, &y0, &Bn) ||
        float_type(ox, "x", &typenum))
        return NULL;
    PyArrayObject *x, *y, *dx = NULL, *dy = NULL;
    if (check_array(ox, "x", 2, typenum, 0, &x) || check_array(oy, "y", 2, typenum, 0, &y) ||
        (odx != Py_None && check_array(odx, "dx", 2, typenum, 1, &dx)) ||
        (ody != Py_None && check_array(ody, "dy", 2, typenum, 1, &dy)))
        return NULL;
    sig_siglip_args G;
    memset(&G, 0, sizeof G);
    G.f32 = typenum == NPY_FLOAT;
    G.Bx = PyArray_DIM(x, 0);
    G.By = PyArray_DIM(y, 0);
    G.D = PyArray_DIM(x, 1);
    G.Dp = (G.D + SIG_ATTN_PAD - 1) / SIG_ATTN_PAD * SIG_ATTN_PAD;
    G.x0 = x0;
    G.y0 = y0;
    G.Bn = Bn;
    G.t = t;
    G.b = b;
    if (G.Bx < 1 || G.By < 1 || G.D < 1 || Bn < 1 || PyArray_DIM(y, 1) != G.D || (dx == NULL) != (dy == NULL) ||
        (dx && (PyArray_DIM(dx, 0) != G.Bx || PyArray_DIM(dx, 1) != G.D)) ||
        (dy && (PyArray_DIM(dy, 0) != G.By || PyArray_DIM(dy, 1) != G.D))) {
        bad_shapes();
        return NULL;
    }
    G.x = PyArray_DATA(x);
    G.y = PyArray_DATA(y);
    G.dx = dx ? PyArray_DATA(dx) : NULL;
    size_t esize = G.f32 ? sizeof(float) : sizeof(double);
    siglip_job J;
    memset(&J, 0, sizeof J);
    J.G = &G;
    J.item = attn_kernel_for_active_isa()->siglip;
    J.nrb = (G.Bx + SIG_ATTN_BQ - 1) / SIG_ATTN_BQ;
    J.slots = sig_planned_threads(J.nrb, 2, 1);
    J.scratch_bytes = (size_t)SIG_SIGLIP_SCRATCH(G.Dp) * esize;
    ptrdiff_t Byp = (G.By + SIG_ATTN_BK - 1) / SIG_ATTN_BK * SIG_ATTN_BK;
    J.dy_bytes = dx ? (size_t)(Byp * G.Dp) * esize : 0;
    J.sums = calloc((size_t)(3 * J.nrb), sizeof(double));
    J.dy = dx ? calloc((size_t)J.slots, J.dy_bytes) : NULL;
    if (J.sums == NULL || (dx && J.dy == NULL)) {
        free(J.sums);
        free(J.dy);
        return PyErr_NoMemory();
    }
    double tot[3] = {0, 0, 0};
    Py_BEGIN_ALLOW_THREADS
    sig_parallel_for(J.slots, 1, 1, (int)J.slots, siglip_range, &J);
    if (!J.failed) {
        FP_SAVE;
        for (ptrdiff_t rb = 0; rb < J.nrb; rb++)      /* the blocks' sums, in order */
            for (int k = 0; k < 3; k++) tot[k] += J.sums[3 * rb + k];
        if (dy)                                       /* the slots' sums, in order, the padding dropped */
            sum_slots(G.f32, PyArray_DATA(dy), J.dy, (int)J.slots, J.dy_bytes, G.By, G.D, G.Dp, 1.0);
        FP_RESTORE;
    }
    Py_END_ALLOW_THREADS
    free(J.sums);
    free(J.dy);
    if (J.failed) return PyErr_NoMemory();
    return Py_BuildValue("ddd", tot[0], tot[1], tot[2]);
}

PyObject *sig_py_attention(PyObject *self, PyObject *args)
{
    (void)self;
    if (PyTuple_GET_SIZE(args) > 0 && PyLong_Check(PyTuple_GET_ITEM(args, 0)) &&
        PyLong_AsLong(PyTuple_GET_ITEM(args, 0)) == 2)
        return siglip(args);
    PyObject *arrays, *omasks;
    double scale, bias;
    int backward, softmax, causal;
    if (!PyArg_ParseTuple(args, "iO!O!ddpp", &backward, &PyTuple_Type, &arrays, &PyTuple_Type, &omasks, &scale,
                          &bias, &softmax, &causal))
        return NULL;
    if (backward != 0 && backward != 1) {
        PyErr_SetString(PyExc_ValueError, "_attention: mode must be 0, 1 or 2");
        return NULL;
    }
    Py_ssize_t want = backward ? 10 : 6;
    if (PyTuple_GET_SIZE(arrays) != want) {
        PyErr_Format(PyExc_ValueError, "_attention: %zd arrays expected", want);
        return NULL;
    }
    PyObject *oq = PyTuple_GET_ITEM(arrays, 0);
    int typenum;
    if (float_type(oq, "q", &typenum)) return NULL;
    PyArrayObject *q, *k, *v, *out = NULL, *lse = NULL, *idx, *dout = NULL, *D = NULL, *dq = NULL, *dk = NULL,
                  *dv = NULL;
    PyObject *olse = PyTuple_GET_ITEM(arrays, 4);
    if (check_array(oq, "q", 3, typenum, 0, &q) || check_array(PyTuple_GET_ITEM(arrays, 1), "k", 3, typenum, 0, &k) ||
        check_array(PyTuple_GET_ITEM(arrays, 2), "v", 3, typenum, 0, &v) ||
        check_array(PyTuple_GET_ITEM(arrays, 3), backward ? "dout" : "out", 3, typenum, !backward,
                    backward ? &dout : &out) ||
        (olse != Py_None && check_array(olse, "lse", 2, typenum, !backward, &lse)))
        return NULL;
    if (backward) {
        PyObject *oD = PyTuple_GET_ITEM(arrays, 5);
        if ((oD != Py_None && check_array(oD, "D", 2, typenum, 0, &D)) ||
            check_array(PyTuple_GET_ITEM(arrays, 6), "index", 2, NPY_INT64, 0, &idx) ||
            check_array(PyTuple_GET_ITEM(arrays, 7), "dq", 3, typenum, 1, &dq) ||
            check_array(PyTuple_GET_ITEM(arrays, 8), "dk", 3, typenum, 1, &dk) ||
            check_array(PyTuple_GET_ITEM(arrays, 9), "dv", 3, typenum, 1, &dv))
            return NULL;
        if ((lse == NULL) != (D == NULL) || (softmax && lse == NULL)) {
            PyErr_SetString(PyExc_ValueError, "_attention: the softmax's backward pass needs lse and D");
            return NULL;
        }
    }
    else if (check_array(PyTuple_GET_ITEM(arrays, 5), "index", 2, NPY_INT64, 0, &idx)) {
        return NULL;
    }
    sig_attn_args A;
    memset(&A, 0, sizeof A);
    PyArrayObject *o = backward ? dout : out;
    A.f32 = typenum == NPY_FLOAT;
    A.softmax = softmax;
    A.causal = causal;
    A.B = PyArray_DIM(o, 0);
    A.L = PyArray_DIM(q, 1);
    A.E = PyArray_DIM(q, 2);
    A.S = PyArray_DIM(v, 1);
    A.Evp = PyArray_DIM(v, 2);
    A.Ev = PyArray_DIM(o, 2);
    A.Ep = (A.E + SIG_ATTN_PAD - 1) / SIG_ATTN_PAD * SIG_ATTN_PAD;
    A.scale = scale;
    A.bias = bias;
    npy_intp limit[3 + SIG_ATTN_MAX_MASKS] = {PyArray_DIM(q, 0), PyArray_DIM(k, 0), PyArray_DIM(v, 0)};
    if (parse_masks(omasks, typenum, &A, limit)) return NULL;
    int bad = A.L < 1 || A.S < 1 || A.E < 1 || A.Ev < 1 || PyArray_DIM(o, 1) != A.L ||
              PyArray_DIM(k, 1) != A.S || PyArray_DIM(k, 2) != A.E ||
              A.Evp % SIG_ATTN_PAD != 0 || A.Evp < A.Ev || A.Evp >= A.Ev + SIG_ATTN_PAD ||
              PyArray_DIM(idx, 0) != A.B || PyArray_DIM(idx, 1) != 3 + A.nmasks;
    if (lse != NULL) bad |= PyArray_DIM(lse, 0) != A.B || PyArray_DIM(lse, 1) != A.L;
    if (D != NULL) bad |= PyArray_DIM(D, 0) != A.B || PyArray_DIM(D, 1) != A.L;
    if (backward) {
        bad |= PyArray_DIM(dq, 0) != A.B || PyArray_DIM(dq, 1) != A.L || PyArray_DIM(dq, 2) != A.E ||
               PyArray_DIM(dk, 0) != A.B || PyArray_DIM(dk, 1) != A.S || PyArray_DIM(dk, 2) != A.E ||
               PyArray_DIM(dv, 0) != A.B || PyArray_DIM(dv, 1) != A.S || PyArray_DIM(dv, 2) != A.Ev;
    }
    if (bad) {
        bad_shapes();
        return NULL;
    }
    const int64_t *ix = (const int64_t *)PyArray_DATA(idx);
    for (npy_intp b = 0; b < A.B; b++)
        for (int j = 0; j < 3 + A.nmasks; j++)
            if (ix[b * (3 + A.nmasks) + j] < 0 || ix[b * (3 + A.nmasks) + j] >= limit[j]) {
                PyErr_SetString(PyExc_ValueError, "_attention: index out of range");
                return NULL;
            }
    A.q = PyArray_DATA(q);
    A.k = PyArray_DATA(k);
    A.v = PyArray_DATA(v);
    A.out = out ? PyArray_DATA(out) : NULL;
    A.lse = lse ? PyArray_DATA(lse) : NULL;
    A.dout = dout ? PyArray_DATA(dout) : NULL;
    A.D = D ? PyArray_DATA(D) : NULL;
    A.dk = dk ? PyArray_DATA(dk) : NULL;
    A.dv = dv ? PyArray_DATA(dv) : NULL;
    A.index = ix;
    if (A.B == 0) Py_RETURN_NONE;

    const sig_attn_kernel *K = attn_kernel_for_active_isa();
    size_t esize = A.f32 ? sizeof(float) : sizeof(double);
    attn_job J;
    memset(&J, 0, sizeof J);
    J.A = &A;
    J.backward = backward;
    J.item = backward ? K->backward : K->forward;
    J.nblocks = backward ? (A.S + SIG_ATTN_BK - 1) / SIG_ATTN_BK : (A.L + SIG_ATTN_BQ - 1) / SIG_ATTN_BQ;
    J.scratch_bytes = (size_t)(backward ? SIG_ATTN_BWD_SCRATCH(A.Ep, A.Evp) : SIG_ATTN_SCRATCH(A.E, A.Evp)) * esize;
    ptrdiff_t items = A.B * J.nblocks;
    int threads = sig_planned_threads(items, 2, 1);
    /* with a batch entry per item the queries' gradients of each entry are summed by one thread, in
       the order of the key blocks: the same result for any number of threads */
    J.whole = backward && (threads <= 1 || A.B >= threads);
    if (J.whole) {
        items = A.B;
        threads = sig_planned_threads(items, 2, 1);
    }
    ptrdiff_t Lp = (A.L + SIG_ATTN_BQ - 1) / SIG_ATTN_BQ * SIG_ATTN_BQ;
    if (backward) {
        J.dq_bytes = (size_t)(A.B * Lp * A.Ep) * esize;
        J.dq = calloc(J.whole ? 1 : (size_t)threads, J.dq_bytes);
        if (J.dq == NULL) return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    int used = sig_parallel_for(items, 2, 1, threads, attn_range, &J);
    if (J.whole) used = 1;
    if (backward && !J.failed) {
        FP_SAVE;
        /* dq = c (the threads' sums), the padding dropped: each batch entry's L rows of its Lp */
        for (ptrdiff_t b = 0; b < A.B; b++)
            sum_slots(A.f32, (char *)PyArray_DATA(dq) + (size_t)(b * A.L * A.E) * esize,
                      J.dq + (size_t)(b * Lp * A.Ep) * esize, used, J.dq_bytes, A.L, A.E, A.Ep, A.scale);
        FP_RESTORE;
    }
    Py_END_ALLOW_THREADS
    free(J.dq);
    if (J.failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
}
