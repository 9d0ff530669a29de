/*
 * The recurrent cells' pointwise passes, as private functions of _core:
 *
 *   _lstm_forward(gates, c_prev, h_out, c_out, act_out, tanhc_out)
 *   _lstm_backward(dh, dc, act, c_prev, tanhc, dgates_out, dc_prev_out)
 *   _gru_forward(gi, gh, h_prev, h_out, act_out)
 *   _gru_backward(dh, act, h_prev, dgi_out, dgh_out, dh_prev_out)
 *
 * Every argument is a C-contiguous, aligned 2-D array of one dtype, float32
 * or float64, in native byte order; B and H come from the argument of shape
 * (B, H) named in the table below, and every other shape must match exactly.
 * The outputs are written in place and None is returned.  All checks come
 * before any output is written: a call that raises leaves them untouched.
 * The equations are in vgate.h, the streams over the arrays in gate_kernels.c.
 */
#include "loops.h"

#include <stdio.h>
#include <string.h>

#define PY_ARRAY_UNIQUE_SYMBOL sigmoid_ARRAY_API
#define NO_IMPORT_ARRAY
#include <numpy/arrayobject.h>

#include "kernels.h"

#define GATE_MAX_ARGS 7

typedef struct {
    const char *name;
    int kind;
    int nin, nout;                          /* inputs first, then outputs */
    const char *args[GATE_MAX_ARGS];
    int width[GATE_MAX_ARGS];               /* row width in units of H */
    int ref;                                /* the argument of shape (B, H) */
} gate_spec;

static const gate_spec gate_specs[SIG_N_GATE] = {
    [SIG_GATE_LSTM_FORWARD] = {"_lstm_forward", SIG_GATE_LSTM_FORWARD, 2, 4,
                               {"gates", "c_prev", "h_out", "c_out", "act_out", "tanhc_out"},
                               {4, 1, 1, 1, 4, 1}, 1},
    [SIG_GATE_LSTM_BACKWARD] = {"_lstm_backward", SIG_GATE_LSTM_BACKWARD, 5, 2,
                                {"dh", "dc", "act", "c_prev", "tanhc", "dgates_out", "dc_prev_out"},
                                {1, 1, 4, 1, 1, 4, 1}, 0},
    [SIG_GATE_GRU_FORWARD] = {"_gru_forward", SIG_GATE_GRU_FORWARD, 3, 2,
                              {"gi", "gh", "h_prev", "h_out", "act_out"},
                              {3, 3, 1, 1, 4}, 2},
    [SIG_GATE_GRU_BACKWARD] = {"_gru_backward", SIG_GATE_GRU_BACKWARD, 3, 3,
                               {"dh", "act", "h_prev", "dgi_out", "dgh_out", "dh_prev_out"},
                               {1, 4, 1, 3, 3, 1}, 0},
};

/* "(2, 3)" or "(5,)" */
static void format_shape(char *buf, size_t size, PyArrayObject *a)
{
    int nd = PyArray_NDIM(a);
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < nd && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ", %zd" : "%zd", (Py_ssize_t)PyArray_DIM(a, d));
    if (n < size) snprintf(buf + n, size - n, nd == 1 ? ",)" : ")");
}

/* "(B, 4H) = (2, 12)" */
static void format_expected(char *buf, size_t size, int width, npy_intp B, npy_intp H)
{
    if (width == 1) snprintf(buf, size, "(B, H) = (%zd, %zd)", (Py_ssize_t)B, (Py_ssize_t)H);
    else snprintf(buf, size, "(B, %dH) = (%zd, %zd)", width, (Py_ssize_t)B, (Py_ssize_t)(width * H));
}

/* declared in loops.h */
int sig_overlap(PyArrayObject *a, PyArrayObject *b)
{
    const char *lo[2], *hi[2];
    PyArrayObject *arr[2] = {a, b};
    for (int j = 0; j < 2; j++) {
        lo[j] = hi[j] = PyArray_BYTES(arr[j]);
        for (int d = 0; d < PyArray_NDIM(arr[j]); d++) {
            npy_intp n = PyArray_DIM(arr[j], d), s = PyArray_STRIDE(arr[j], d);
            if (n == 0) return 0;
            if (s < 0) lo[j] += (n - 1) * s;
            else hi[j] += (n - 1) * s;
        }
        hi[j] += PyArray_ITEMSIZE(arr[j]);
    }
    return lo[0] < hi[1] && lo[1] < hi[0];
}

/* the same elements at the same positions: an output may be such an input */
static int same_region(PyArrayObject *a, PyArrayObject *b)
{
    return PyArray_BYTES(a) == PyArray_BYTES(b) && PyArray_DIM(a, 0) == PyArray_DIM(b, 0) &&
           PyArray_DIM(a, 1) == PyArray_DIM(b, 1);
}

/* the checks, in the order of the messages: count, type, dtype, shape,
   layout, writability, overlap */
static int gate_check(const gate_spec *S, PyObject *const *args, Py_ssize_t nargs,
                      PyArrayObject **arr, npy_intp *B, npy_intp *H)
{
    const char *fn = S->name;
    int n = S->nin + S->nout;
    char got[96], want[96];
    if (nargs != n) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d positional arguments but %zd were given", fn, n,
                     (Py_ssize_t)nargs);
        return -1;
    }
    for (int k = 0; k < n; k++) {
        if (!PyArray_Check(args[k])) {
            PyErr_Format(PyExc_TypeError, "%s(): argument '%s' must be a numpy.ndarray, not %.200s", fn,
                         S->args[k], Py_TYPE(args[k])->tp_name);
            return -1;
        }
        arr[k] = (PyArrayObject *)args[k];
    }
    PyArray_Descr *d0 = PyArray_DESCR(arr[0]);
    for (int k = 0; k < n; k++) {
        PyArray_Descr *d = PyArray_DESCR(arr[k]);
        int ok = (d->type_num == NPY_FLOAT || d->type_num == NPY_DOUBLE) && PyArray_ISNOTSWAPPED(arr[k]);
        if (!ok) {
            PyErr_Format(PyExc_TypeError,
                         "%s(): argument '%s' has dtype %S, which is not supported; the arrays must "
                         "all be float32 or all float64 (native byte order)",
                         fn, S->args[k], (PyObject *)d);
            return -1;
        }
        if (d->type_num != d0->type_num) {
            PyErr_Format(PyExc_TypeError,
                         "%s(): argument '%s' has dtype %S but '%s' has dtype %S; the arrays must all "
                         "share one dtype",
                         fn, S->args[k], (PyObject *)d, S->args[0], (PyObject *)d0);
            return -1;
        }
    }
    PyArrayObject *r = arr[S->ref];
    if (PyArray_NDIM(r) != 2) {
        format_shape(got, sizeof got, r);
        PyErr_Format(PyExc_ValueError, "%s(): argument '%s' must have shape (B, H), got %s", fn,
                     S->args[S->ref], got);
        return -1;
    }
    *B = PyArray_DIM(r, 0);
    *H = PyArray_DIM(r, 1);
    for (int k = 0; k < n; k++) {
        PyArrayObject *a = arr[k];
        if (PyArray_NDIM(a) != 2 || PyArray_DIM(a, 0) != *B || PyArray_DIM(a, 1) != S->width[k] * *H) {
            format_shape(got, sizeof got, a);
            format_expected(want, sizeof want, S->width[k], *B, *H);
            PyErr_Format(PyExc_ValueError, "%s(): argument '%s' has shape %s, expected %s", fn,
                         S->args[k], got, want);
            return -1;
        }
    }
    for (int k = 0; k < n; k++) {
        if (!PyArray_IS_C_CONTIGUOUS(arr[k]) || !PyArray_ISALIGNED(arr[k])) {
            PyErr_Format(PyExc_ValueError, "%s(): argument '%s' must be C-contiguous and aligned", fn,
                         S->args[k]);
            return -1;
        }
    }
    for (int k = S->nin; k < n; k++) {
        if (!PyArray_ISWRITEABLE(arr[k])) {
            PyErr_Format(PyExc_ValueError, "%s(): output '%s' is read-only", fn, S->args[k]);
            return -1;
        }
    }
    for (int k = S->nin; k < n; k++) {
        for (int q = 0; q < n; q++) {
            if (q == k || !sig_overlap(arr[k], arr[q])) continue;
            if (q < S->nin && same_region(arr[k], arr[q])) continue;
            PyErr_Format(PyExc_ValueError,
                         "%s(): output '%s' overlaps '%s' (an output may only be the very same "
                         "array as an input of its shape)",
                         fn, S->args[k], S->args[q]);
            return -1;
        }
    }
    return 0;
}

static PyObject *gate_call(int kind, PyObject *const *args, Py_ssize_t nargs)
{
    const gate_spec *S = &gate_specs[kind];
    PyArrayObject *arr[GATE_MAX_ARGS];
    npy_intp B, H;
    if (gate_check(S, args, nargs, arr, &B, &H) != 0) return NULL;
    sig_gate_io io;
    memset(&io, 0, sizeof io);
    for (int k = 0; k < S->nin; k++) io.in[k] = PyArray_DATA(arr[k]);
    for (int k = 0; k < S->nout; k++) io.out[k] = PyArray_DATA(arr[S->nin + k]);
    int f32 = PyArray_DESCR(arr[0])->type_num == NPY_FLOAT;
    if (B > 0 && H > 0) {
        const sig_kernel_table *table = sig_active;
        FP_SAVE;
        Py_BEGIN_ALLOW_THREADS
        table->gate(kind, f32, (ptrdiff_t)B, (ptrdiff_t)H, &io);
        Py_END_ALLOW_THREADS
        FP_RESTORE;
    }
    Py_RETURN_NONE;
}

PyObject *sig_py_lstm_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return gate_call(SIG_GATE_LSTM_FORWARD, args, nargs);
}

PyObject *sig_py_lstm_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return gate_call(SIG_GATE_LSTM_BACKWARD, args, nargs);
}

PyObject *sig_py_gru_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return gate_call(SIG_GATE_GRU_FORWARD, args, nargs);
}

PyObject *sig_py_gru_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return gate_call(SIG_GATE_GRU_BACKWARD, args, nargs);
}
