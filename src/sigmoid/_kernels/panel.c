/*
 * The recurrent layers' per-step products for a small batch, as private
 * functions of _core (the kernels are in panel_kernels.c):
 *
 *   _panel_pack(a, out=None) -> p
 *                                a (M, K), any strides; p (ceil(M/MR), K, MR),
 *                                into out when given
 *   _panel_matmul(p, h, out, c)  out = c + a h, h (K, B), out (M, B), c
 *                                (M, B) or None
 *   _copy_tiled(dst, src)        dst[...] = src, 2-D or 3-D, any strides, in
 *                                tiles of the last two axes
 *
 * float32 or float64, one dtype, native byte order.  h, out and c must have
 * a unit column stride (c may also broadcast a column, stride 0); rows may
 * lie anywhere.  out may be the very same region as c, and must not overlap
 * p or h.  Every check comes before anything is written.  The panels are
 * spread over the library's threads (sigmoid.set_num_threads).
 */
#include "loops.h"

#include <stdlib.h>
#include <string.h>

#define PY_ARRAY_UNIQUE_SYMBOL sigmoid_ARRAY_API
#define NO_IMPORT_ARRAY
#include <numpy/arrayobject.h>

#include "kernels.h"
#include "threads.h"

#define MR SIG_PANEL_MR

/* multiply-adds per chunk of panels below which threads do not pay */
#define PANEL_CHUNK_WORK 65536
/* the cache line, and the fewest rows of a product whose H is copied to
   rows aligned on it (see _panel_matmul) */
#define SIG_LINE 64
#define PANEL_ALIGN_ROWS 256

static int float_dtype(PyArrayObject *a)
{
    int t = PyArray_DESCR(a)->type_num;
    return (t == NPY_FLOAT || t == NPY_DOUBLE) && PyArray_ISNOTSWAPPED(a);
}

static int need_array(const char *fn, const char *arg, PyObject *o, int nd, PyArrayObject **out)
{
    if (!PyArray_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s(): argument '%s' must be a numpy.ndarray, not %.200s", fn, arg,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    PyArrayObject *a = (PyArrayObject *)o;
    if (!float_dtype(a)) {
        PyErr_Format(PyExc_TypeError,
                     "%s(): argument '%s' has dtype %S; it must be float32 or float64 (native byte order)",
                     fn, arg, (PyObject *)PyArray_DESCR(a));
        return -1;
    }
    if (PyArray_NDIM(a) != nd) {
        PyErr_Format(PyExc_ValueError, "%s(): argument '%s' must be %d-dimensional, not %d-dimensional", fn,
                     arg, nd, PyArray_NDIM(a));
        return -1;
    }
    *out = a;
    return 0;
}

PyObject *sig_py_panel_pack(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    static const char *fn = "_panel_pack";
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 1 or 2 positional arguments but %zd were given", fn,
                     (Py_ssize_t)nargs);
        return NULL;
    }
    PyArrayObject *a;
    if (need_array(fn, "a", args[0], 2, &a) != 0) return NULL;
    npy_intp M = PyArray_DIM(a, 0), K = PyArray_DIM(a, 1);
    npy_intp np_ = (M + MR - 1) / MR;
    npy_intp dims[3] = {np_, K, MR};
    int f32 = PyArray_DESCR(a)->type_num == NPY_FLOAT;
    PyArrayObject *p;
    if (nargs == 2 && args[1] != Py_None) {
        /* into an array the caller keeps for reuse: a fresh one of a long
           product's size costs its pages' first touch on every call */
        if (need_array(fn, "out", args[1], 3, &p) != 0) return NULL;
        if (PyArray_DESCR(p)->type_num != PyArray_DESCR(a)->type_num) {
            PyErr_Format(PyExc_TypeError, "%s(): argument 'out' has dtype %S but 'a' has dtype %S", fn,
                         (PyObject *)PyArray_DESCR(p), (PyObject *)PyArray_DESCR(a));
            return NULL;
        }
        if (PyArray_DIM(p, 0) != np_ || PyArray_DIM(p, 1) != K || PyArray_DIM(p, 2) != MR ||
            !PyArray_IS_C_CONTIGUOUS(p) || !PyArray_ISALIGNED(p) || !PyArray_ISWRITEABLE(p)) {
            PyErr_Format(PyExc_ValueError, "%s(): argument 'out' must be a writeable, aligned, C-contiguous "
                         "array of shape (%zd, %zd, %d)", fn, (Py_ssize_t)np_, (Py_ssize_t)K, MR);
            return NULL;
        }
        if (sig_overlap(p, a)) {
            PyErr_Format(PyExc_ValueError, "%s(): output 'out' overlaps 'a'", fn);
            return NULL;
        }
        Py_INCREF(p);
    } else {
        p = (PyArrayObject *)PyArray_EMPTY(3, dims, f32 ? NPY_FLOAT : NPY_DOUBLE, 0);
        if (p == NULL) return NULL;
    }
    const char *src = PyArray_BYTES(a);
    npy_intp s0 = PyArray_STRIDE(a, 0), s1 = PyArray_STRIDE(a, 1);
    char *dst = PyArray_BYTES(p);
    Py_BEGIN_ALLOW_THREADS
    /* panel by panel, k by k: MR values from MR rows (MR streams along the
       rows) to one contiguous run of the panel (rows past M as zeros) */
    for (npy_intp q = 0; q < np_; q++) {
        const char *rows[MR];
        int live = (int)(M - q * MR < MR ? M - q * MR : MR);
        for (int i = 0; i < live; i++) rows[i] = src + (q * MR + i) * s0;
        if (f32) {
            float *d = (float *)dst + (size_t)q * (size_t)K * MR;
            for (npy_intp k = 0; k < K; k++, d += MR) {
                for (int i = 0; i < live; i++) memcpy(d + i, rows[i] + k * s1, sizeof(float));
                for (int i = live; i < MR; i++) d[i] = 0.0f;
            }
        } else {
            double *d = (double *)dst + (size_t)q * (size_t)K * MR;
            for (npy_intp k = 0; k < K; k++, d += MR) {
                for (int i = 0; i < live; i++) memcpy(d + i, rows[i] + k * s1, sizeof(double));
                for (int i = live; i < MR; i++) d[i] = 0.0;
            }
        }
    }
    Py_END_ALLOW_THREADS
    return (PyObject *)p;
}

/* rows anywhere (a whole number of elements apart), unit column stride */
static int rows_layout(const char *fn, const char *arg, PyArrayObject *a, int allow_broadcast)
{
    if (PyArray_SIZE(a) == 0) return 0;
    npy_intp item = PyArray_ITEMSIZE(a);
    npy_intp s0 = PyArray_STRIDE(a, 0), s1 = PyArray_STRIDE(a, 1);
    int ok = s0 % item == 0 && (s1 == item || PyArray_DIM(a, 1) <= 1 || (allow_broadcast && s1 == 0)) &&
             PyArray_ISALIGNED(a);
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s(): argument '%s' must be aligned with a unit column stride%s", fn, arg,
                     allow_broadcast ? " (or 0)" : "");
        return -1;
    }
    return 0;
}

typedef struct {
    sig_panel_job J;
    sig_panel_fn fn;
} panel_ctx;

static void panel_range(void *ctx, ptrdiff_t begin, ptrdiff_t end, int tid)
{
    (void)tid;
    const panel_ctx *c = (const panel_ctx *)ctx;
    c->fn(&c->J, begin, end);
}

PyObject *sig_py_panel_matmul(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    static const char *fn = "_panel_matmul";
    static const char *names[4] = {"p", "h", "out", "c"};
    static const int nds[4] = {3, 2, 2, 2};
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "%s() takes 4 positional arguments but %zd were given", fn,
                     (Py_ssize_t)nargs);
        return NULL;
    }
    PyArrayObject *arr[4] = {NULL, NULL, NULL, NULL};
    int n = args[3] == Py_None ? 3 : 4;
    for (int k = 0; k < n; k++)
        if (need_array(fn, names[k], args[k], nds[k], &arr[k]) != 0) return NULL;
    int type = PyArray_DESCR(arr[0])->type_num;
    for (int k = 1; k < n; k++) {
        if (PyArray_DESCR(arr[k])->type_num != type) {
            PyErr_Format(PyExc_TypeError, "%s(): argument '%s' has dtype %S but 'p' has dtype %S", fn,
                         names[k], (PyObject *)PyArray_DESCR(arr[k]), (PyObject *)PyArray_DESCR(arr[0]));
            return NULL;
        }
    }
    PyArrayObject *P = arr[0], *H = arr[1], *Y = arr[2], *C = arr[3];
    npy_intp np_ = PyArray_DIM(P, 0), K = PyArray_DIM(P, 1);
    npy_intp M = PyArray_DIM(Y, 0), B = PyArray_DIM(Y, 1);
    if (PyArray_DIM(P, 2) != MR || !PyArray_IS_C_CONTIGUOUS(P) || !PyArray_ISALIGNED(P)) {
        PyErr_Format(PyExc_ValueError, "%s(): argument 'p' must be a C-contiguous (panels, K, %d) array from "
                     "_panel_pack", fn, MR);
        return NULL;
    }
    if (PyArray_DIM(H, 0) != K || PyArray_DIM(H, 1) != B) {
        PyErr_Format(PyExc_ValueError, "%s(): argument 'h' has shape (%zd, %zd), expected (K, B) = (%zd, %zd)",
                     fn, (Py_ssize_t)PyArray_DIM(H, 0), (Py_ssize_t)PyArray_DIM(H, 1), (Py_ssize_t)K,
                     (Py_ssize_t)B);
        return NULL;
    }
    if (M > np_ * MR || M <= (np_ - 1) * MR) {
        PyErr_Format(PyExc_ValueError, "%s(): argument 'out' has %zd rows, but 'p' packs %zd panels of %d rows",
                     fn, (Py_ssize_t)M, (Py_ssize_t)np_, MR);
        return NULL;
    }
    if (C != NULL && (PyArray_DIM(C, 0) != M || PyArray_DIM(C, 1) != B)) {
        PyErr_Format(PyExc_ValueError, "%s(): argument 'c' has shape (%zd, %zd), expected that of 'out', "
                     "(%zd, %zd)", fn, (Py_ssize_t)PyArray_DIM(C, 0), (Py_ssize_t)PyArray_DIM(C, 1),
                     (Py_ssize_t)M, (Py_ssize_t)B);
        return NULL;
    }
    if (rows_layout(fn, "h", H, 0) != 0 || rows_layout(fn, "out", Y, 0) != 0 ||
        (C != NULL && rows_layout(fn, "c", C, 1) != 0))
        return NULL;
    if (!PyArray_ISWRITEABLE(Y)) {
        PyErr_Format(PyExc_ValueError, "%s(): output 'out' is read-only", fn);
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        if (k == 2 || !sig_overlap(Y, arr[k])) continue;
        if (k == 3 && PyArray_BYTES(C) == PyArray_BYTES(Y) && PyArray_STRIDE(C, 0) == PyArray_STRIDE(Y, 0) &&
            PyArray_STRIDE(C, 1) == PyArray_STRIDE(Y, 1))
            continue;
        PyErr_Format(PyExc_ValueError, "%s(): output 'out' overlaps '%s' (it may only be the very same "
                     "region as 'c')", fn, names[k]);
        return NULL;
    }
    if (M == 0 || B == 0) Py_RETURN_NONE;
    int f32 = type == NPY_FLOAT;
    npy_intp item = PyArray_ITEMSIZE(Y);
    const sig_kernel_table *table = sig_active;
    /* a batch of at most SIG_PANEL_NARROW columns fills few lanes of vectors
       that run along it; an instruction set with a kernel whose vectors run
       along the weight's rows instead gives it those (AVX-512: float32, a
       (2048, 1025) weight by 8 columns, 107 -> 245 GFLOP/s; float64 by 4,
       50 -> 80; Zen 5, one thread).  Each output is the same sum in the
       same order either way, so the bits do not change. */
    const int narrow = table->panel_narrow != NULL && B <= SIG_PANEL_NARROW;
    ptrdiff_t w = f32 ? table->panel_wf : table->panel_wd;
    panel_ctx ctx;
    sig_panel_job J;
    J.P = PyArray_DATA(P);
    J.H = PyArray_DATA(H);
    J.C = C != NULL ? PyArray_DATA(C) : NULL;
    J.Y = PyArray_DATA(Y);
    J.M = M;
    J.K = K;
    J.B = B;
    J.ldh = PyArray_STRIDE(H, 0) / item;
    J.ldy = PyArray_STRIDE(Y, 0) / item;
    J.ldc = C != NULL ? PyArray_STRIDE(C, 0) / item : 0;
    J.ccs = C != NULL && B > 1 && PyArray_STRIDE(C, 1) == 0 ? 0 : 1;
    J.f32 = f32;
    J.Htail = NULL;
    void *tail = NULL, *aligned = NULL;
    ptrdiff_t rem = narrow ? 0 : B % w;
    /* The kernel loads H's rows a vector at a time, and NumPy aligns its
       arrays to 16 bytes only: with 32- and 64-byte vectors, a row that
       does not start on a cache line makes every load (AVX-512) or every
       other one (AVX2) straddle two lines, each such load counting twice.
       A product of at least PANEL_ALIGN_ROWS rows then reads a copy of H's
       whole vectors whose rows start on cache lines.  A (2048, 512) weight
       by 64 float32 columns 16 bytes off a line, one thread of an Intel
       Xeon VM (AVX-512 with AMX): 144 GFLOP/s before, 157 with the copy,
       161 for an aligned H; the avx2 kernels 84 -> 99.  The copy costs one
       read and write of H, which each of the M rows reads: with K = 512
       and 64 columns it lost below 192 rows (128: 147 -> 140) and won from
       256.  The sums are the same, so are the bits.  The layers' own work
       arrays start on cache lines (nn/rnn.py, _line_empty). */
    ptrdiff_t full = B - rem;
    /* (the kernel copies a wide H's blocks itself, aligned) */
    const int wide = SIG_PANEL_IS_WIDE(B, K, item);
    if (!narrow && !wide && w * item > 16 && M >= PANEL_ALIGN_ROWS && K > 0 && full > 0 &&
        (((uintptr_t)J.H % SIG_LINE) != 0 || (J.ldh * item) % SIG_LINE != 0)) {
        ptrdiff_t ld = (full * item + SIG_LINE - 1) / SIG_LINE * (SIG_LINE / item);
        aligned = aligned_alloc(SIG_LINE, (size_t)K * (size_t)ld * (size_t)item);
        if (aligned == NULL) return PyErr_NoMemory();
        sig_copy_rows(aligned, ld * item, PyArray_BYTES(H), PyArray_STRIDE(H, 0), K, (size_t)full * item);
        J.H = aligned;
        J.ldh = ld;
    }
    if (rem != 0) {
        /* H's last rem columns, zero-padded to w */
        tail = calloc((size_t)(K > 0 ? K : 1) * (size_t)w, (size_t)item);
        if (tail == NULL) {
            free(aligned);
            return PyErr_NoMemory();
        }
        sig_copy_rows(tail, w * item, PyArray_BYTES(H) + (B - rem) * item, PyArray_STRIDE(H, 0), K,
                      (size_t)rem * item);
        J.Htail = tail;
    }
    ptrdiff_t per_panel = MR * (K > 0 ? K : 1) * ((B + w - 1) / w) * w;
    ptrdiff_t chunk = (PANEL_CHUNK_WORK + per_panel - 1) / per_panel;
    ctx.J = J;
    ctx.fn = narrow ? table->panel_narrow : table->panel;
    FP_SAVE;
    Py_BEGIN_ALLOW_THREADS
    /* the narrow kernel takes its panels in groups of up to four, and a
       wide H's blocks are copied once per run of SIG_PANEL_COPY panels or more */
    sig_parallel_for(np_, 8 * chunk, narrow ? 4 : wide ? SIG_PANEL_COPY : 1, SIG_MAX_THREADS, panel_range,
                     &ctx);
    Py_END_ALLOW_THREADS
    FP_RESTORE;
    free(tail);
    free(aligned);
    Py_RETURN_NONE;
}

/* The layers keep each step's arrays feature by batch, so their inputs,
   outputs and gradients go through transposing copies: NumPy's copy walks
   one side of those along a stride of a whole row, a cache line per
   element (17 ms for a (100, 256, 512) float32 input into (100, 512, 256),
   three times a plain copy).  Here the last two axes go in tiles of
   TILE x TILE, whose lines of both sides stay in the first-level cache. */
#define TILE 32

#define COPY_TILED(NAME, T)                                                                          \
    static void NAME(char *d, const char *s, npy_intp n0, npy_intp R, npy_intp C, const npy_intp *ds,  \
                     const npy_intp *ss)                                                             \
    {                                                                                                \
        for (npy_intp a = 0; a < n0; a++)                                                            \
            for (npy_intp r0 = 0; r0 < R; r0 += TILE)                                                \
                for (npy_intp c0 = 0; c0 < C; c0 += TILE) {                                          \
                    const npy_intp r1 = R - r0 < TILE ? R : r0 + TILE;                               \
                    const npy_intp c1 = C - c0 < TILE ? C : c0 + TILE;                               \
                    for (npy_intp r = r0; r < r1; r++) {                                             \
                        char *dr = d + a * ds[0] + r * ds[1];                                        \
                        const char *sr = s + a * ss[0] + r * ss[1];                                  \
                        for (npy_intp c = c0; c < c1; c++)                                           \
                            *(T *)(dr + c * ds[2]) = *(const T *)(sr + c * ss[2]);                   \
                    }                                                                                \
                }                                                                                    \
    }

COPY_TILED(copy_tiled_f32, float)
COPY_TILED(copy_tiled_f64, double)

PyObject *sig_py_copy_tiled(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    static const char *fn = "_copy_tiled";
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes 2 positional arguments but %zd were given", fn,
                     (Py_ssize_t)nargs);
        return NULL;
    }
    if (!PyArray_Check(args[0]) || !PyArray_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "%s(): arguments 'dst' and 'src' must be numpy.ndarrays", fn);
        return NULL;
    }
    PyArrayObject *d, *s;
    int nd = PyArray_NDIM((PyArrayObject *)args[0]) == 3 ? 3 : 2;
    if (need_array(fn, "dst", args[0], nd, &d) != 0 || need_array(fn, "src", args[1], nd, &s) != 0) return NULL;
    if (PyArray_DESCR(d)->type_num != PyArray_DESCR(s)->type_num) {
        PyErr_Format(PyExc_TypeError, "%s(): argument 'src' has dtype %S but 'dst' has dtype %S", fn,
                     (PyObject *)PyArray_DESCR(s), (PyObject *)PyArray_DESCR(d));
        return NULL;
    }
    for (int k = 0; k < nd; k++) {
        if (PyArray_DIM(d, k) != PyArray_DIM(s, k)) {
            PyErr_Format(PyExc_ValueError, "%s(): 'src' and 'dst' must have the same shape", fn);
            return NULL;
        }
    }
    if (!PyArray_ISWRITEABLE(d)) {
        PyErr_Format(PyExc_ValueError, "%s(): output 'dst' is read-only", fn);
        return NULL;
    }
    if (!PyArray_ISALIGNED(d) || !PyArray_ISALIGNED(s)) {
        PyErr_Format(PyExc_ValueError, "%s(): 'src' and 'dst' must be aligned", fn);
        return NULL;
    }
    if (sig_overlap(d, s)) {
        PyErr_Format(PyExc_ValueError, "%s(): output 'dst' overlaps 'src'", fn);
        return NULL;
    }
    npy_intp ds[3] = {0, 0, 0}, ss[3] = {0, 0, 0};
    npy_intp n0 = nd == 3 ? PyArray_DIM(d, 0) : 1;
    for (int k = 0; k < nd; k++) {
        ds[3 - nd + k] = PyArray_STRIDE(d, k);
        ss[3 - nd + k] = PyArray_STRIDE(s, k);
    }
    npy_intp R = PyArray_DIM(d, nd - 2), C = PyArray_DIM(d, nd - 1);
    if (PyArray_SIZE(d) == 0) Py_RETURN_NONE;
    int f32 = PyArray_DESCR(d)->type_num == NPY_FLOAT;
    npy_intp item = PyArray_ITEMSIZE(d);
    const sig_kernel_table *table = sig_active;
    /* rows of dst and columns of src contiguous: a transpose, whole
       blocks in registers */
    int transpose = ds[2] == item && ss[1] == item && ds[1] % item == 0 && ss[2] % item == 0;
    Py_BEGIN_ALLOW_THREADS
    if (transpose) {
        for (npy_intp a = 0; a < n0; a++) {
            char *dp = PyArray_BYTES(d) + a * ds[0];
            const char *sp = PyArray_BYTES(s) + a * ss[0];
            if (f32) table->transpose_f32((float *)dp, ds[1] / item, (const float *)sp, ss[2] / item, R, C);
            else table->transpose_f64((double *)dp, ds[1] / item, (const double *)sp, ss[2] / item, R, C);
        }
    } else if (f32) {
        copy_tiled_f32(PyArray_BYTES(d), PyArray_BYTES(s), n0, R, C, ds, ss);
    } else {
        copy_tiled_f64(PyArray_BYTES(d), PyArray_BYTES(s), n0, R, C, ds, ss);
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}
