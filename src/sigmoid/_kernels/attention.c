/*
 * _attention: the tiled attention forward pass (attention.h), as a private
 * function of _core:
 *
 *   _attention(q, k, v, out, lse, index, masks, scale, bias, softmax, causal)
 *
 *   q      (Bq, L, E)            float32 or float64, C-contiguous
 *   k      (Bk, S, E)            the keys
 *   v      (Bv, S, Evp)          the values, rows zero-padded to Evp
 *   out    (B, L, Ev)            written, Ev <= Evp < Ev + SIG_ATTN_PAD
 *   lse    (B, L) or None        written (softmax): log sum_j e^(s_ij)
 *   index  (B, 3 + len(masks))   int64: per batch entry, the entries of q,
 *                                ktb, v and of each mask
 *   masks  tuple of (kind, array (Bm, L or 1, S or 1)): kind 0 keeps the
 *          pairs where the (bool or uint8) array is nonzero, kind 1 adds the
 *          array (of the data type) to the scores
 *
 * Every array is checked (dtype, contiguity, shapes, every index in range)
 * before any is written.  The work items (batch entry, query block) run on
 * the library's threads, the longest first (with causality, later query
 * blocks see more keys), without the GIL.
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

static sig_attn_item_fn attn_item_for_active_isa(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    if (strcmp(sig_active->isa, "avx512") == 0) return sig_attn_item_avx512;
    if (strcmp(sig_active->isa, "avx2") == 0) return sig_attn_item_avx2;
#endif
    return sig_attn_item_portable;
}

typedef struct {
    const sig_attn_args *A;
    sig_attn_item_fn item;
    ptrdiff_t nqb;          /* query blocks per batch entry */
    size_t scratch_bytes;
    int failed;             /* a scratch allocation failed */
} attn_job;

static void attn_range(void *ctx, ptrdiff_t begin, ptrdiff_t end, int tid)
{
    (void)tid;
    attn_job *J = (attn_job *)ctx;
    FP_SAVE;
    void *scratch = NULL;
    if (posix_memalign(&scratch, 64, J->scratch_bytes) != 0) {
        J->failed = 1;
        return;
    }
    for (ptrdiff_t w = begin; w < end; w++) {
        /* item w: query block nqb - 1 - w / B (the longest first), batch entry w % B */
        ptrdiff_t b = w % J->A->B, qblock = J->nqb - 1 - w / J->A->B;
        J->item(J->A, b, qblock, scratch);
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

PyObject *sig_py_attention(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *oq, *ok, *ov, *oout, *olse, *oidx, *omasks;
    double scale, bias;
    int softmax, causal;
    if (!PyArg_ParseTuple(args, "OOOOOOO!ddpp", &oq, &ok, &ov, &oout, &olse, &oidx, &PyTuple_Type, &omasks,
                          &scale, &bias, &softmax, &causal))
        return NULL;
    if (!PyArray_Check(oq)) {
        PyErr_SetString(PyExc_TypeError, "_attention: q must be an ndarray");
        return NULL;
    }
    int typenum = PyArray_TYPE((PyArrayObject *)oq);
    if (typenum != NPY_FLOAT && typenum != NPY_DOUBLE) {
        PyErr_SetString(PyExc_TypeError, "_attention: q must be float32 or float64");
        return NULL;
    }
    PyArrayObject *q, *k, *v, *out, *lse = NULL, *idx;
    if (check_array(oq, "q", 3, typenum, 0, &q) || check_array(ok, "k", 3, typenum, 0, &k) ||
        check_array(ov, "v", 3, typenum, 0, &v) || check_array(oout, "out", 3, typenum, 1, &out) ||
        (olse != Py_None && check_array(olse, "lse", 2, typenum, 1, &lse)) ||
        check_array(oidx, "index", 2, NPY_INT64, 0, &idx))
        return NULL;
    Py_ssize_t nmasks = PyTuple_GET_SIZE(omasks);
    if (nmasks > SIG_ATTN_MAX_MASKS) {
        PyErr_Format(PyExc_ValueError, "_attention: at most %d masks", SIG_ATTN_MAX_MASKS);
        return NULL;
    }
    sig_attn_args A;
    memset(&A, 0, sizeof A);
    A.f32 = typenum == NPY_FLOAT;
    A.softmax = softmax;
    A.causal = causal;
    A.nmasks = (int)nmasks;
    A.B = PyArray_DIM(out, 0);
    A.L = PyArray_DIM(q, 1);
    A.E = PyArray_DIM(q, 2);
    A.S = PyArray_DIM(v, 1);
    A.Evp = PyArray_DIM(v, 2);
    A.Ev = PyArray_DIM(out, 2);
    A.scale = scale;
    A.bias = bias;
    int bad = A.L < 1 || A.S < 1 || A.E < 1 || A.Ev < 1 || PyArray_DIM(out, 1) != A.L ||
              PyArray_DIM(k, 1) != A.S || PyArray_DIM(k, 2) != A.E ||
              A.Evp % SIG_ATTN_PAD != 0 || A.Evp < A.Ev || A.Evp >= A.Ev + SIG_ATTN_PAD ||
              PyArray_DIM(idx, 0) != A.B || PyArray_DIM(idx, 1) != 3 + nmasks;
    if (lse != NULL) bad |= PyArray_DIM(lse, 0) != A.B || PyArray_DIM(lse, 1) != A.L;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "_attention: inconsistent shapes");
        return NULL;
    }
    npy_intp limit[3 + SIG_ATTN_MAX_MASKS] = {PyArray_DIM(q, 0), PyArray_DIM(k, 0), PyArray_DIM(v, 0)};
    for (Py_ssize_t k = 0; k < nmasks; k++) {
        PyObject *t = PyTuple_GET_ITEM(omasks, k);
        int kind;
        PyObject *om;
        if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "iO", &kind, &om)) {
            PyErr_SetString(PyExc_TypeError, "_attention: a mask must be a (kind, array) tuple");
            return NULL;
        }
        PyArrayObject *m;
        if (!PyArray_Check(om) || (kind != 0 && kind != 1)) {
            PyErr_SetString(PyExc_ValueError, "_attention: a mask is (0, bool array) or (1, float array)");
            return NULL;
        }
        int mt = PyArray_TYPE((PyArrayObject *)om);
        if (kind == 0 && mt != NPY_BOOL && mt != NPY_UINT8) {
            PyErr_SetString(PyExc_ValueError, "_attention: a keep mask must be bool or uint8");
            return NULL;
        }
        if (check_array(om, "mask", 3, kind == 0 ? mt : typenum, 0, &m)) return NULL;
        npy_intp r = PyArray_DIM(m, 1), c = PyArray_DIM(m, 2);
        if ((r != 1 && r != A.L) || (c != 1 && c != A.S)) {
            PyErr_SetString(PyExc_ValueError, "_attention: a mask must be (Bm, L or 1, S or 1)");
            return NULL;
        }
        A.masks[k].kind = kind;
        A.masks[k].data = PyArray_DATA(m);
        A.masks[k].rows = r;
        A.masks[k].cols = c;
        limit[3 + k] = PyArray_DIM(m, 0);
    }
    const int64_t *ix = (const int64_t *)PyArray_DATA(idx);
    for (npy_intp b = 0; b < A.B; b++)
        for (Py_ssize_t k = 0; k < 3 + nmasks; k++)
            if (ix[b * (3 + nmasks) + k] < 0 || ix[b * (3 + nmasks) + k] >= limit[k]) {
                PyErr_SetString(PyExc_ValueError, "_attention: index out of range");
                return NULL;
            }
    A.q = PyArray_DATA(q);
    A.v = PyArray_DATA(v);
    A.out = PyArray_DATA(out);
    A.lse = lse ? PyArray_DATA(lse) : NULL;
    A.index = ix;
    if (A.B == 0) Py_RETURN_NONE;

    A.k = PyArray_DATA(k);
    attn_job J;
    J.A = &A;
    J.item = attn_item_for_active_isa();
    J.nqb = (A.L + SIG_ATTN_BQ - 1) / SIG_ATTN_BQ;
    J.scratch_bytes = (size_t)SIG_ATTN_SCRATCH(A.E, A.Evp) * (A.f32 ? sizeof(float) : sizeof(double));
    J.failed = 0;
    ptrdiff_t items = A.B * J.nqb;
    Py_BEGIN_ALLOW_THREADS
    sig_parallel_for(items, 2, 1, SIG_MAX_THREADS, attn_range, &J);
    Py_END_ALLOW_THREADS
    if (J.failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
}
