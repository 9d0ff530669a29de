/*
 * sigmoid._core: the ufuncs and the controls of their threads and
 * instruction set.
 */
#include "loops.h"

#define PY_ARRAY_UNIQUE_SYMBOL sigmoid_ARRAY_API
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#include <string.h>

#include "kernels.h"
#include "threads.h"

/* PyErr_GetRaisedException appeared in Python 3.12 */
static PyObject *PyErr_GetRaisedException_compat(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

static void PyErr_SetRaisedException_compat(PyObject *exc)
{
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
}

static PyUFuncGenericFunction unary_loops[3] = {sig_loop_u16, sig_loop_u32, sig_loop_u64};
static PyUFuncGenericFunction binary_loops[3] = {sig_loop_b16, sig_loop_b32, sig_loop_b64};
static char unary_types[6] = {NPY_HALF, NPY_HALF, NPY_FLOAT, NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE};
static char binary_types[9] = {NPY_HALF,  NPY_HALF,  NPY_HALF,   NPY_FLOAT, NPY_FLOAT,
                               NPY_FLOAT, NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE};

typedef struct {
    const char *name;
    int binary;
    int fn;
    const char *args[2];
    void *data[3];
} ufunc_spec;

static ufunc_spec specs[] = {
    {"sigmoid", 0, SIG_SIGMOID, {"x"}, {0}},
    {"log_sigmoid", 0, SIG_LOG_SIGMOID, {"x"}, {0}},
    {"softplus", 0, SIG_SOFTPLUS, {"x"}, {0}},
    {"logit", 0, SIG_LOGIT, {"p"}, {0}},
    {"hard_sigmoid", 0, SIG_HARD_SIGMOID, {"x"}, {0}},
    {"silu", 0, SIG_SILU, {"x"}, {0}},
    {"sigmoid_backward", 1, SIG_SIGMOID_BACKWARD, {"x", "grad_output"}, {0}},
    {"sigmoid_backward_from_output", 1, SIG_SIGMOID_BACKWARD_FROM_OUTPUT, {"y", "grad_output"}, {0}},
    {"hard_sigmoid_backward", 1, SIG_HARD_SIGMOID_BACKWARD, {"x", "grad_output"}, {0}},
    {"silu_backward", 1, SIG_SILU_BACKWARD, {"x", "grad_output"}, {0}},
};

/*
 * NumPy's type resolution, with a clearer error for the dtypes no loop can
 * take (complex, object, strings, bytes, void, datetime, timedelta, long
 * double): it names the function, the argument and the dtype.  Every other
 * error (an `out=` that cannot take the result, say) is NumPy's own.
 */
static int unsupported_kind(PyArray_Descr *d)
{
    return strchr("cOSUVMm", d->kind) != NULL || d->type_num == NPY_LONGDOUBLE;
}

static int type_resolver(PyUFuncObject *ufunc, NPY_CASTING casting, PyArrayObject **operands,
                         PyObject *type_tup, PyArray_Descr **out_dtypes)
{
    int r = PyUFunc_DefaultTypeResolver(ufunc, casting, operands, type_tup, out_dtypes);
    if (r >= 0 || !PyErr_ExceptionMatches(PyExc_TypeError)) return r;
    const ufunc_spec *spec = NULL;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        if (strcmp(specs[i].name, ufunc->name) == 0) spec = &specs[i];
    }
    for (int i = 0; spec != NULL && i < ufunc->nin; i++) {
        PyArray_Descr *d = PyArray_DESCR(operands[i]);
        if (!unsupported_kind(d)) continue;
        PyObject *cause = PyErr_GetRaisedException_compat();
        PyErr_Format(PyExc_TypeError,
                     "%s(): argument '%s' has dtype %S, which is not supported; %s "
                     "computes in float16, float32 or float64 (bool and integer "
                     "inputs are promoted as by numpy.exp); convert with "
                     ".astype(np.float64) first",
                     spec->name, spec->args[i], (PyObject *)d, spec->name);
        PyObject *exc = PyErr_GetRaisedException_compat();
        PyException_SetCause(exc, cause);
        PyErr_SetRaisedException_compat(exc);
        return -1;
    }
    return r;
}

/* _set_doc(ufunc, doc): the docstrings live in Python (_ufunc_docs.py, with
   the bounds of _accuracy.py); NumPy reads ufunc->doc, which must outlive
   the ufunc, so each is copied once and kept */
static PyObject *py_set_doc(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *uf, *doc;
    if (!PyArg_ParseTuple(args, "O!U", &PyUFunc_Type, &uf, &doc)) return NULL;
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(doc, &n);
    if (text == NULL) return NULL;
    char *copy = PyMem_RawMalloc((size_t)n + 1);
    if (copy == NULL) return PyErr_NoMemory();
    memcpy(copy, text, (size_t)n + 1);
    ((PyUFuncObject *)uf)->doc = copy;
    Py_RETURN_NONE;
}

/* _register_bfloat16(typenum): loops for a bfloat16 user dtype (ml_dtypes'),
   computed by the float64 kernels and rounded once */
static PyObject *py_register_bfloat16(PyObject *self, PyObject *arg)
{
    (void)self;
    static int types[3];
    long t = PyLong_AsLong(arg);
    if (t == -1 && PyErr_Occurred()) return NULL;
    PyObject *mod = PyImport_ImportModule("sigmoid._core");
    if (mod == NULL) return NULL;
    types[0] = types[1] = types[2] = (int)t;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        PyObject *uf = PyObject_GetAttrString(mod, specs[i].name);
        if (uf == NULL) {
            Py_DECREF(mod);
            return NULL;
        }
        int r = PyUFunc_RegisterLoopForType((PyUFuncObject *)uf, (int)t,
                                            specs[i].binary ? sig_loop_bbf16 : sig_loop_ubf16, types,
                                            (void *)(intptr_t)specs[i].fn);
        Py_DECREF(uf);
        if (r < 0) {
            Py_DECREF(mod);
            return NULL;
        }
    }
    Py_DECREF(mod);
    Py_RETURN_NONE;
}

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyLong_Check(arg) || PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError,
                     "set_num_threads(): n must be an int, got %.200s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    int overflow = 0;
    long n = PyLong_AsLongAndOverflow(arg, &overflow);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (overflow != 0 || n < 1 || n > 1024) {
        PyErr_Format(PyExc_ValueError,
                     "set_num_threads(): n must be between 1 and 1024, got %R", arg);
        return NULL;
    }
    sig_set_num_threads((int)n);
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromLong(sig_get_num_threads());
}

static PyObject *py_available_cores(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromLong(sig_available_cores());
}

static PyObject *py_get_isa(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(sig_active->isa);
}

static PyObject *py_supported_isas(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(sig_supported_isas());
}

static PyObject *py_set_isa(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) return NULL;
    if (sig_select_isa(name) != 0) {
        PyErr_Format(PyExc_ValueError,
                     "set_isa(): %R is not an instruction set this CPU supports (%s)", arg,
                     sig_supported_isas());
        return NULL;
    }
    Py_RETURN_NONE;
}

/* the 16-bit conversions of the loops' blocks, for the tests:
   _to_16bit(x, bf) rounds a contiguous float64 or float32 vector to
   float16 (bf false) or bfloat16 bits, and gives them with the positions
   the loops look at again (as int32): for float64 the results that may be
   16-bit rounding boundaries, for float32 also NaN.
   _from_16bit(h, bf, single=False) widens uint16 bits to float64, or to
   float32 */
static PyObject *py_16bit(PyObject *args, int to)
{
    PyObject *obj;
    int bf, single = 0;
    if (!PyArg_ParseTuple(args, to ? "Op" : "Op|p", &obj, &bf, &single)) return NULL;
    const char *fn = to ? "_to_16bit" : "_from_16bit";
    PyArrayObject *in = (PyArrayObject *)obj;
    if (to && PyArray_Check(obj)) single = PyArray_TYPE(in) == NPY_FLOAT;
    int tin = to ? (single ? NPY_FLOAT : NPY_DOUBLE) : NPY_UINT16;
    int tout = to ? NPY_UINT16 : (single ? NPY_FLOAT : NPY_DOUBLE);
    if (!PyArray_Check(obj) || PyArray_TYPE(in) != tin || PyArray_NDIM(in) != 1 || !PyArray_IS_C_CONTIGUOUS(in)) {
        PyErr_Format(PyExc_TypeError, "%s(): argument 1 must be a contiguous 1-D %s array", fn,
                     to ? "float64 or float32" : "uint16");
        return NULL;
    }
    npy_intp n = PyArray_DIM(in, 0);
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, tout);
    if (out == NULL) return NULL;
    if (!to) {
        if (single) sig_active->half_in32((float *)PyArray_DATA(out), (const uint16_t *)PyArray_DATA(in), n, bf);
        else sig_active->half_in((double *)PyArray_DATA(out), (const uint16_t *)PyArray_DATA(in), n, bf);
        return (PyObject *)out;
    }
    PyArrayObject *at = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_INT32);
    if (at == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    npy_intp c = single ? sig_active->half_out32((uint16_t *)PyArray_DATA(out), (const float *)PyArray_DATA(in), n,
                                                 bf, (int32_t *)PyArray_DATA(at))
                        : sig_active->half_out((uint16_t *)PyArray_DATA(out), (const double *)PyArray_DATA(in), n,
                                               bf, (int32_t *)PyArray_DATA(at));
    PyObject *pos = PySequence_GetSlice((PyObject *)at, 0, c);
    Py_DECREF(at);
    if (pos == NULL) {
        Py_DECREF(out);
        return NULL;
    }
    return Py_BuildValue("(NN)", (PyObject *)out, pos);
}

static PyObject *py_to_16bit(PyObject *self, PyObject *args)
{
    (void)self;
    return py_16bit(args, 1);
}

static PyObject *py_from_16bit(PyObject *self, PyObject *args)
{
    (void)self;
    return py_16bit(args, 0);
}

/* _fma(a, b, c): a b + c rounded once, by the fused multiply-add of the
   kernels in use, for three contiguous 1-D arrays of one dtype (float32 or
   float64) and length (tests) */
static PyObject *py_fma(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *o[3];
    if (!PyArg_ParseTuple(args, "OOO", &o[0], &o[1], &o[2])) return NULL;
    int t = PyArray_Check(o[0]) ? PyArray_TYPE((PyArrayObject *)o[0]) : -1;
    for (int k = 0; k < 3; k++) {
        PyArrayObject *a = (PyArrayObject *)o[k];
        if (!PyArray_Check(o[k]) || (t != NPY_FLOAT && t != NPY_DOUBLE) || PyArray_TYPE(a) != t ||
            PyArray_NDIM(a) != 1 || !PyArray_IS_C_CONTIGUOUS(a) ||
            PyArray_DIM(a, 0) != PyArray_DIM((PyArrayObject *)o[0], 0)) {
            PyErr_Format(PyExc_TypeError,
                         "_fma(): argument %d must be a contiguous 1-D float32 or float64 array of the dtype "
                         "and length of the first", k + 1);
            return NULL;
        }
    }
    npy_intp n = PyArray_DIM((PyArrayObject *)o[0], 0);
    PyArrayObject *r = (PyArrayObject *)PyArray_SimpleNew(1, &n, t);
    if (r == NULL) return NULL;
    void *d[3];
    for (int k = 0; k < 3; k++) d[k] = PyArray_DATA((PyArrayObject *)o[k]);
    if (t == NPY_FLOAT) sig_active->fma_f32((float *)PyArray_DATA(r), d[0], d[1], d[2], n);
    else sig_active->fma_f64((double *)PyArray_DATA(r), d[0], d[1], d[2], n);
    return (PyObject *)r;
}

PyObject *sig_py_loss(PyObject *self, PyObject *args);
PyObject *sig_py_lstm_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_panel_pack(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_panel_matmul(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_copy_tiled(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_lstm_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_gru_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_gru_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *sig_py_attention(PyObject *self, PyObject *args);

static PyMethodDef methods[] = {
    {"_loss", sig_py_loss, METH_VARARGS,
     "_loss(kind, x, y, w, pw, gout, smoothing, alpha, gamma, gscale, want_loss, want_grad[, loss_out, grad_out])\n"
     "-> (loss or None, grad or None, sum, bad_target).  The fused loss pass."},
    {"_lstm_forward", (PyCFunction)(void (*)(void))sig_py_lstm_forward, METH_FASTCALL,
     "_lstm_forward(gates, c_prev, h_out, c_out, act_out, tanhc_out, /)\n--\n\n"
     "The pointwise LSTM cell.  gates (B, 4H): pre-activations in PyTorch's order\n"
     "i, f, g, o.  Writes h_out = o tanh(c) and c_out = f c_prev + i g (B, H),\n"
     "act_out = [i, f, g, o] (B, 4H; may be gates itself) and tanhc_out = tanh(c)."},
    {"_lstm_backward", (PyCFunction)(void (*)(void))sig_py_lstm_backward, METH_FASTCALL,
     "_lstm_backward(dh, dc, act, c_prev, tanhc, dgates_out, dc_prev_out, /)\n--\n\n"
     "The LSTM cell's backward pass: from dh and dc (B, H) and the saved act,\n"
     "c_prev and tanhc, writes the gradients of the gate pre-activations\n"
     "(B, 4H, order i, f, g, o) and dc_prev (B, H)."},
    {"_gru_forward", (PyCFunction)(void (*)(void))sig_py_gru_forward, METH_FASTCALL,
     "_gru_forward(gi, gh, h_prev, h_out, act_out, /)\n--\n\n"
     "The pointwise GRU cell.  gi = x W_ih^T + b_ih and gh = h_prev W_hh^T + b_hh\n"
     "(B, 3H, order r, z, n).  Writes h_out = (1 - z) n + z h_prev (B, H) and\n"
     "act_out = [r, z, n, gh_n] (B, 4H)."},
    {"_gru_backward", (PyCFunction)(void (*)(void))sig_py_gru_backward, METH_FASTCALL,
     "_gru_backward(dh, act, h_prev, dgi_out, dgh_out, dh_prev_out, /)\n--\n\n"
     "The GRU cell's backward pass: writes the gradients of gi and gh (B, 3H)\n"
     "and the direct part dh z of dh_prev (B, H; the caller adds dgh W_hh)."},
    {"_panel_pack", (PyCFunction)(void (*)(void))sig_py_panel_pack, METH_FASTCALL,
     "_panel_pack(a, out=None, /)\n--\n\n"
     "a (M, K) float32 or float64 packed for _panel_matmul: (ceil(M/12), K, 12),\n"
     "panel p holding rows 12p to 12p + 11 column by column, zero-padded; into\n"
     "out (C-contiguous, of that shape and a's dtype) when given."},
    {"_panel_matmul", (PyCFunction)(void (*)(void))sig_py_panel_matmul, METH_FASTCALL,
     "_panel_matmul(p, h, out, c, /)\n--\n\n"
     "out = c + a h for a packed by _panel_pack: h (K, B), out and c (M, B)\n"
     "(c None for zero; c may broadcast a column).  The recurrent layers' per-step\n"
     "product for a small batch, on the library's threads."},
    {"_copy_tiled", (PyCFunction)(void (*)(void))sig_py_copy_tiled, METH_FASTCALL,
     "_copy_tiled(dst, src, /)\n--\n\n"
     "dst[...] = src for float32 or float64 arrays of one shape, 2-D or 3-D,\n"
     "any strides, in tiles of the last two axes: the layers' transposing copies."},
    {"_attention", sig_py_attention, METH_VARARGS, "The tiled attention forward pass (attention.c)."},
    {"_set_doc", py_set_doc, METH_VARARGS, "_set_doc(ufunc, doc): set a ufunc's docstring."},
    {"_register_bfloat16", py_register_bfloat16, METH_O,
     "_register_bfloat16(typenum): loops for a bfloat16 dtype (ml_dtypes')."},
    {"set_num_threads", py_set_num_threads, METH_O,
     "set_num_threads(n, /)\n--\n\n"
     "Set the number of threads used for long inputs (the calling thread\n"
     "included); 1 disables threading.  See :func:`sigmoid.set_num_threads`."},
    {"get_num_threads", py_get_num_threads, METH_NOARGS,
     "get_num_threads()\n--\n\n"
     "The number of threads used for long inputs, the calling thread included.\n\n"
     "Returns\n-------\nint\n"
     "    From 1 to 1024: the cores available to the process by default,\n"
     "    ``SIGMOID_NUM_THREADS`` if set at import, or the last\n"
     "    :func:`sigmoid.set_num_threads`.\n\n"
     "Examples\n--------\n"
     ">>> import sigmoid\n"
     ">>> old = sigmoid.get_num_threads()\n"
     ">>> sigmoid.set_num_threads(2)\n"
     ">>> sigmoid.get_num_threads()\n"
     "2\n"
     ">>> sigmoid.set_num_threads(old)\n"},
    {"_available_cores", py_available_cores, METH_NOARGS,
     "Cores this process may run on (its CPU affinity)."},
    {"_get_isa", py_get_isa, METH_NOARGS, "The instruction set of the kernels in use."},
    {"_to_16bit", py_to_16bit, METH_VARARGS,
     "_to_16bit(x, bf): float64 or float32 to (float16 (bf false) or bfloat16 bits, as the loops round,\n"
     "positions the loops look at again) (tests)."},
    {"_from_16bit", py_from_16bit, METH_VARARGS,
     "_from_16bit(h, bf, single=False): float16 or bfloat16 bits to float64 (or float32), as the loops\n"
     "widen (tests)."},
    {"_fma", py_fma, METH_VARARGS,
     "_fma(a, b, c): a b + c rounded once, by the kernels' fused multiply-add (tests)."},
    {"_supported_isas", py_supported_isas, METH_NOARGS,
     "Comma-separated instruction sets this CPU supports, best first."},
    {"_set_isa", py_set_isa, METH_O, "Use the kernels of the named instruction set."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_core", "Compiled kernels and ufuncs of sigmoid.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    import_umath();
    if (sig_threads_init() != 0) {
        PyErr_SetString(PyExc_RuntimeError, "sigmoid: cannot install the fork handler");
        return NULL;
    }
    sig_select_isa(NULL);

    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    /* the loss kinds of _loss, defined once (kernels.h) */
    if (PyModule_AddIntConstant(m, "LOSS_BCE_LOGITS", SIG_LOSS_BCE_LOGITS) < 0 ||
        PyModule_AddIntConstant(m, "LOSS_BCE_PROBS", SIG_LOSS_BCE_PROBS) < 0 ||
        PyModule_AddIntConstant(m, "LOSS_FOCAL", SIG_LOSS_FOCAL) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        ufunc_spec *s = &specs[i];
        for (int k = 0; k < 3; k++) s->data[k] = (void *)(intptr_t)s->fn;
        PyObject *uf = PyUFunc_FromFuncAndData(
            s->binary ? binary_loops : unary_loops, s->data,
            s->binary ? binary_types : unary_types, 3, s->binary ? 2 : 1, 1, PyUFunc_None,
            s->name, NULL, 0);
        if (uf != NULL) ((PyUFuncObject *)uf)->type_resolver = type_resolver;
        if (uf == NULL || PyModule_AddObject(m, s->name, uf) < 0) {
            Py_XDECREF(uf);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
