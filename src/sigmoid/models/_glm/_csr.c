/*
 * sigmoid.models._glm._csr: the products of a CSR matrix that logistic
 * regression needs, in one pass over the stored values where SciPy needs two.
 *
 * X is given by its three arrays (data: float32 or float64; indices and
 * indptr: int32 or int64, as scipy.sparse stores them) and a range of rows
 * [start, stop), so that the caller can split the rows between threads.  Every
 * other array is float64 and C-contiguous; every sum is accumulated in
 * float64, so float32 data are read as they are stored, never copied or
 * rounded to float32 on the way.
 *
 *   matvec     out[i, :]  = sum_j x_ij V[j, :]                 (X V)
 *   rmatvec    out[j, :] += x_ij G[i, :]                       (X^T G)
 *   sq_rmatvec out[j, :] += x_ij^2 G[i, :]                     (diag of X^T diag(g) X)
 *   hessp      u_i = x_i . v + vb,  r_i = h_i u_i,  out[j] += r_i x_ij; returns sum_i r_i
 *                                                              (X^T diag(h) (X v + vb), one pass)
 *   hessp_softmax
 *              u_i = x_i V + vb (K values), r_ik = s_i P_ik (u_ik - sum_l P_il u_il),
 *              out[j, :] += x_ij r_i, rsum += r_i               (the multinomial Hessian times [V; vb])
 *
 * The GIL is released while a kernel runs.  The callers (_problem.py) check
 * shapes and dtypes, and the column indices once, when the matrix is taken
 * in (every index in [0, n_features), indptr non-decreasing): a kernel trusts
 * them and checks only the sizes of its other arrays against n_features.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_20_API_VERSION
#include <numpy/arrayobject.h>

#include <stdint.h>

/* ------------------------------------------------------------------ kernels */

/* x_i . v over the stored values q in [lo, hi): four partial sums, so that
   the additions do not wait on each other (the order is fixed: the result
   does not depend on anything but the row) */
#define ROW_DOT(ACC, data, ind, lo, hi, v)                                                            \
    do {                                                                                              \
        double a0_ = 0.0, a1_ = 0.0, a2_ = 0.0, a3_ = 0.0;                                            \
        Py_ssize_t q_ = (Py_ssize_t)(lo), e_ = (Py_ssize_t)(hi);                                      \
        for (; q_ + 4 <= e_; q_ += 4) {                                                               \
            a0_ += (double)data[q_] * v[ind[q_]];                                                     \
            a1_ += (double)data[q_ + 1] * v[ind[q_ + 1]];                                             \
            a2_ += (double)data[q_ + 2] * v[ind[q_ + 2]];                                             \
            a3_ += (double)data[q_ + 3] * v[ind[q_ + 3]];                                             \
        }                                                                                             \
        for (; q_ < e_; q_++) a0_ += (double)data[q_] * v[ind[q_]];                                   \
        ACC = (a0_ + a1_) + (a2_ + a3_);                                                              \
    } while (0)

/* out[ind[q]] += x_q r for q in [lo, hi), four at a time (the indices of a
   row are distinct, so the four updates are independent) */
#define ROW_AXPY(data, ind, lo, hi, r, out)                                                           \
    do {                                                                                              \
        Py_ssize_t q_ = (Py_ssize_t)(lo), e_ = (Py_ssize_t)(hi);                                      \
        for (; q_ + 4 <= e_; q_ += 4) {                                                               \
            const double x0_ = (double)data[q_] * (r), x1_ = (double)data[q_ + 1] * (r);              \
            const double x2_ = (double)data[q_ + 2] * (r), x3_ = (double)data[q_ + 3] * (r);          \
            out[ind[q_]] += x0_;                                                                      \
            out[ind[q_ + 1]] += x1_;                                                                  \
            out[ind[q_ + 2]] += x2_;                                                                  \
            out[ind[q_ + 3]] += x3_;                                                                  \
        }                                                                                             \
        for (; q_ < e_; q_++) out[ind[q_]] += (double)data[q_] * (r);                                 \
    } while (0)

#define DEFINE_KERNELS(SUF, DT, IT)                                                                   \
    static void matvec_##SUF(const DT *data, const IT *ind, const IT *ptr, Py_ssize_t start,          \
                             Py_ssize_t stop, const double *V, Py_ssize_t K, double *out)             \
    {                                                                                                 \
        for (Py_ssize_t i = start; i < stop; i++) {                                                   \
            double *o = out + (i - start) * K;                                                        \
            for (Py_ssize_t k = 0; k < K; k++) o[k] = 0.0;                                            \
            if (K == 1) {                                                                             \
                ROW_DOT(o[0], data, ind, ptr[i], ptr[i + 1], V);                                      \
            } else {                                                                                  \
                for (IT q = ptr[i]; q < ptr[i + 1]; q++) {                                            \
                    const double x = (double)data[q];                                                 \
                    const double *v = V + (Py_ssize_t)ind[q] * K;                                     \
                    for (Py_ssize_t k = 0; k < K; k++) o[k] += x * v[k];                              \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
    static void rmatvec_##SUF(const DT *data, const IT *ind, const IT *ptr, Py_ssize_t start,         \
                              Py_ssize_t stop, const double *G, Py_ssize_t K, int square,             \
                              double *out)                                                            \
    {                                                                                                 \
        for (Py_ssize_t i = start; i < stop; i++) {                                                   \
            const double *g = G + i * K;                                                              \
            if (K == 1) {                                                                             \
                const double gi = g[0];                                                               \
                if (gi == 0.0) continue;                                                              \
                if (square) {                                                                         \
                    for (IT q = ptr[i]; q < ptr[i + 1]; q++) {                                        \
                        const double x = (double)data[q];                                             \
                        out[ind[q]] += x * x * gi;                                                    \
                    }                                                                                 \
                } else {                                                                              \
                    ROW_AXPY(data, ind, ptr[i], ptr[i + 1], gi, out);                                 \
                }                                                                                     \
            } else {                                                                                  \
                for (IT q = ptr[i]; q < ptr[i + 1]; q++) {                                            \
                    double x = (double)data[q];                                                       \
                    if (square) x = x * x;                                                            \
                    double *o = out + (Py_ssize_t)ind[q] * K;                                         \
                    for (Py_ssize_t k = 0; k < K; k++) o[k] += x * g[k];                              \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
    static double hessp_##SUF(const DT *data, const IT *ind, const IT *ptr, Py_ssize_t start,         \
                              Py_ssize_t stop, const double *v, double vb, const double *h,           \
                              double *out)                                                            \
    {                                                                                                 \
        double rsum = 0.0;                                                                            \
        for (Py_ssize_t i = start; i < stop; i++) {                                                   \
            if (h[i] == 0.0) continue;                                                                \
            double u;                                                                                 \
            ROW_DOT(u, data, ind, ptr[i], ptr[i + 1], v);                                             \
            const double r = h[i] * (u + vb);                                                         \
            rsum += r;                                                                                \
            ROW_AXPY(data, ind, ptr[i], ptr[i + 1], r, out);                                          \
        }                                                                                             \
        return rsum;                                                                                  \
    }                                                                                                 \
    static void hessp_softmax_##SUF(const DT *data, const IT *ind, const IT *ptr, Py_ssize_t start,   \
                                    Py_ssize_t stop, const double *V, const double *vb,               \
                                    const double *P, const double *s, Py_ssize_t K, double *u,        \
                                    double *out, double *rsum)                                        \
    {                                                                                                 \
        for (Py_ssize_t i = start; i < stop; i++) {                                                   \
            const double si = s ? s[i] : 1.0;                                                         \
            if (si == 0.0) continue;                                                                  \
            const double *p = P + i * K;                                                              \
            for (Py_ssize_t k = 0; k < K; k++) u[k] = vb[k];                                          \
            for (IT q = ptr[i]; q < ptr[i + 1]; q++) {                                                \
                const double x = (double)data[q];                                                     \
                const double *vj = V + (Py_ssize_t)ind[q] * K;                                        \
                for (Py_ssize_t k = 0; k < K; k++) u[k] += x * vj[k];                                 \
            }                                                                                         \
            double pu = 0.0;                                                                          \
            for (Py_ssize_t k = 0; k < K; k++) pu += p[k] * u[k];                                     \
            for (Py_ssize_t k = 0; k < K; k++) {                                                      \
                u[k] = si * p[k] * (u[k] - pu);                                                       \
                rsum[k] += u[k];                                                                      \
            }                                                                                         \
            for (IT q = ptr[i]; q < ptr[i + 1]; q++) {                                                \
                const double x = (double)data[q];                                                     \
                double *o = out + (Py_ssize_t)ind[q] * K;                                             \
                for (Py_ssize_t k = 0; k < K; k++) o[k] += x * u[k];                                  \
            }                                                                                         \
        }                                                                                             \
    }

DEFINE_KERNELS(f32_i32, float, int32_t)
DEFINE_KERNELS(f32_i64, float, int64_t)
DEFINE_KERNELS(f64_i32, double, int32_t)
DEFINE_KERNELS(f64_i64, double, int64_t)

/* ------------------------------------------------------------------ argument checks */

typedef struct {
    PyArrayObject *data, *ind, *ptr;
    int f64, i64;
    Py_ssize_t start, stop;
} csr_args;

static int is_c_float64(PyObject *o, const char *name, PyArrayObject **out)
{
    if (!PyArray_Check(o) || PyArray_TYPE((PyArrayObject *)o) != NPY_DOUBLE ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)o)) {
        PyErr_Format(PyExc_TypeError, "_csr: %s must be a C-contiguous float64 array", name);
        return 0;
    }
    *out = (PyArrayObject *)o;
    return 1;
}

static int parse_csr(PyObject *data, PyObject *ind, PyObject *ptr, Py_ssize_t start, Py_ssize_t stop,
                     csr_args *a)
{
    if (!PyArray_Check(data) || !PyArray_Check(ind) || !PyArray_Check(ptr)) {
        PyErr_SetString(PyExc_TypeError, "_csr: data, indices and indptr must be arrays");
        return 0;
    }
    a->data = (PyArrayObject *)data;
    a->ind = (PyArrayObject *)ind;
    a->ptr = (PyArrayObject *)ptr;
    int td = PyArray_TYPE(a->data), ti = PyArray_TYPE(a->ind), tp = PyArray_TYPE(a->ptr);
    if ((td != NPY_FLOAT && td != NPY_DOUBLE) || (ti != NPY_INT32 && ti != NPY_INT64) || ti != tp ||
        !PyArray_IS_C_CONTIGUOUS(a->data) || !PyArray_IS_C_CONTIGUOUS(a->ind) ||
        !PyArray_IS_C_CONTIGUOUS(a->ptr) || PyArray_NDIM(a->data) != 1 || PyArray_NDIM(a->ind) != 1 ||
        PyArray_NDIM(a->ptr) != 1 || PyArray_DIM(a->data, 0) != PyArray_DIM(a->ind, 0)) {
        PyErr_SetString(PyExc_TypeError,
                        "_csr: data must be float32/float64 and indices, indptr both int32 or both int64, "
                        "1-D and C-contiguous, data and indices of one length");
        return 0;
    }
    a->f64 = td == NPY_DOUBLE;
    a->i64 = ti == NPY_INT64;
    Py_ssize_t n = PyArray_DIM(a->ptr, 0) - 1;
    if (start < 0 || stop < start || stop > n) {
        PyErr_SetString(PyExc_ValueError, "_csr: the row range is outside the matrix");
        return 0;
    }
    a->start = start;
    a->stop = stop;
    return 1;
}

static int check_2d(PyArrayObject *x, Py_ssize_t rows, Py_ssize_t K, const char *name)
{
    Py_ssize_t size = PyArray_SIZE(x);
    if (size != rows * K) {
        PyErr_Format(PyExc_ValueError, "_csr: %s has %zd elements, expected %zd x %zd", name, size, rows, K);
        return 0;
    }
    return 1;
}

#define DISPATCH(a, CALL)                                                                             \
    do {                                                                                              \
        if ((a).f64 && (a).i64) {                                                                     \
            CALL(f64_i64, double, int64_t);                                                           \
        } else if ((a).f64) {                                                                         \
            CALL(f64_i32, double, int32_t);                                                           \
        } else if ((a).i64) {                                                                         \
            CALL(f32_i64, float, int64_t);                                                            \
        } else {                                                                                      \
            CALL(f32_i32, float, int32_t);                                                            \
        }                                                                                             \
    } while (0)

#define ARRAYS(a, DT, IT)                                                                             \
    const DT *data_ = PyArray_DATA((a).data);                                                         \
    const IT *ind_ = PyArray_DATA((a).ind);                                                           \
    const IT *ptr_ = PyArray_DATA((a).ptr)

/* ------------------------------------------------------------------ Python functions */

static PyObject *py_matvec(PyObject *self, PyObject *args)
{
    PyObject *data, *ind, *ptr, *Vo, *outo;
    Py_ssize_t start, stop, K;
    Py_ssize_t d;
    if (!PyArg_ParseTuple(args, "OOOnnnOnO", &data, &ind, &ptr, &d, &start, &stop, &Vo, &K, &outo)) return NULL;
    csr_args a;
    PyArrayObject *V, *out;
    if (!parse_csr(data, ind, ptr, start, stop, &a) || !is_c_float64(Vo, "V", &V) ||
        !is_c_float64(outo, "out", &out) || K < 1 || !check_2d(out, stop - start, K, "out") ||
        !check_2d(V, d, K, "V"))
        return NULL;
    const double *Vd = PyArray_DATA(V);
    double *od = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
#define CALL(SUF, DT, IT) { ARRAYS(a, DT, IT); matvec_##SUF(data_, ind_, ptr_, start, stop, Vd, K, od); }
    DISPATCH(a, CALL);
#undef CALL
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *rmatvec_common(PyObject *args, int square)
{
    PyObject *data, *ind, *ptr, *Go, *outo;
    Py_ssize_t start, stop, K;
    Py_ssize_t d;
    if (!PyArg_ParseTuple(args, "OOOnnnOnO", &data, &ind, &ptr, &d, &start, &stop, &Go, &K, &outo)) return NULL;
    csr_args a;
    PyArrayObject *G, *out;
    if (!parse_csr(data, ind, ptr, start, stop, &a) || !is_c_float64(Go, "G", &G) ||
        !is_c_float64(outo, "out", &out) || K < 1)
        return NULL;
    Py_ssize_t n = PyArray_DIM(a.ptr, 0) - 1;
    if (!check_2d(G, n, K, "G") || !check_2d(out, d, K, "out")) return NULL;
    const double *Gd = PyArray_DATA(G);
    double *od = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
#define CALL(SUF, DT, IT) { ARRAYS(a, DT, IT); rmatvec_##SUF(data_, ind_, ptr_, start, stop, Gd, K, square, od); }
    DISPATCH(a, CALL);
#undef CALL
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *py_rmatvec(PyObject *self, PyObject *args) { return rmatvec_common(args, 0); }
static PyObject *py_sq_rmatvec(PyObject *self, PyObject *args) { return rmatvec_common(args, 1); }

static PyObject *py_hessp(PyObject *self, PyObject *args)
{
    PyObject *data, *ind, *ptr, *vo, *ho, *outo;
    Py_ssize_t start, stop;
    double vb;
    Py_ssize_t d;
    if (!PyArg_ParseTuple(args, "OOOnnnOdOO", &data, &ind, &ptr, &d, &start, &stop, &vo, &vb, &ho, &outo))
        return NULL;
    csr_args a;
    PyArrayObject *v, *h, *out;
    if (!parse_csr(data, ind, ptr, start, stop, &a) || !is_c_float64(vo, "v", &v) ||
        !is_c_float64(ho, "h", &h) || !is_c_float64(outo, "out", &out))
        return NULL;
    Py_ssize_t n = PyArray_DIM(a.ptr, 0) - 1;
    if (!check_2d(h, n, 1, "h") || !check_2d(v, d, 1, "v") || !check_2d(out, d, 1, "out")) return NULL;
    const double *vd = PyArray_DATA(v), *hd = PyArray_DATA(h);
    double *od = PyArray_DATA(out);
    double rsum = 0.0;
    Py_BEGIN_ALLOW_THREADS
#define CALL(SUF, DT, IT) { ARRAYS(a, DT, IT); rsum = hessp_##SUF(data_, ind_, ptr_, start, stop, vd, vb, hd, od); }
    DISPATCH(a, CALL);
#undef CALL
    Py_END_ALLOW_THREADS
    return PyFloat_FromDouble(rsum);
}

static PyObject *py_hessp_softmax(PyObject *self, PyObject *args)
{
    PyObject *data, *ind, *ptr, *Vo, *vbo, *Po, *so, *outo, *rsumo;
    Py_ssize_t start, stop, K;
    Py_ssize_t d;
    if (!PyArg_ParseTuple(args, "OOOnnnOOOOnOO", &data, &ind, &ptr, &d, &start, &stop, &Vo, &vbo, &Po, &so, &K,
                          &outo, &rsumo))
        return NULL;
    csr_args a;
    PyArrayObject *V, *vb, *P, *s = NULL, *out, *rsum;
    if (!parse_csr(data, ind, ptr, start, stop, &a) || !is_c_float64(Vo, "V", &V) ||
        !is_c_float64(vbo, "vb", &vb) || !is_c_float64(Po, "P", &P) || !is_c_float64(outo, "out", &out) ||
        !is_c_float64(rsumo, "rsum", &rsum) || (so != Py_None && !is_c_float64(so, "s", &s)) || K < 1)
        return NULL;
    Py_ssize_t n = PyArray_DIM(a.ptr, 0) - 1;
    if (!check_2d(P, n, K, "P") || !check_2d(vb, 1, K, "vb") || !check_2d(rsum, 1, K, "rsum") ||
        (s != NULL && !check_2d(s, n, 1, "s")) || !check_2d(V, d, K, "V") || !check_2d(out, d, K, "out"))
        return NULL;
    double *u = PyMem_Malloc((size_t)K * sizeof(double));
    if (u == NULL) return PyErr_NoMemory();
    const double *Vd = PyArray_DATA(V), *vbd = PyArray_DATA(vb), *Pd = PyArray_DATA(P);
    const double *sd = s ? PyArray_DATA(s) : NULL;
    double *od = PyArray_DATA(out), *rd = PyArray_DATA(rsum);
    Py_BEGIN_ALLOW_THREADS
#define CALL(SUF, DT, IT) { ARRAYS(a, DT, IT); hessp_softmax_##SUF(data_, ind_, ptr_, start, stop, Vd, vbd, Pd, sd, K, u, od, rd); }
    DISPATCH(a, CALL);
#undef CALL
    Py_END_ALLOW_THREADS
    PyMem_Free(u);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"matvec", py_matvec, METH_VARARGS,
     "matvec(data, indices, indptr, n_features, start, stop, V, K, out): out[i - start, :] = X[i] V for rows i in "
     "[start, stop); V (n_features, K), out (stop - start, K), float64"},
    {"rmatvec", py_rmatvec, METH_VARARGS,
     "rmatvec(data, indices, indptr, n_features, start, stop, G, K, out): out[j, :] += x_ij G[i, :] for rows i in "
     "[start, stop); G (n_rows, K), out (n_features, K), float64"},
    {"sq_rmatvec", py_sq_rmatvec, METH_VARARGS,
     "sq_rmatvec(data, indices, indptr, n_features, start, stop, G, K, out): out[j, :] += x_ij^2 G[i, :]"},
    {"hessp", py_hessp, METH_VARARGS,
     "hessp(data, indices, indptr, n_features, start, stop, v, vb, h, out) -> sum_i r_i: out[j] += x_ij r_i with "
     "r_i = h_i (x_i . v + vb), in one pass"},
    {"hessp_softmax", py_hessp_softmax, METH_VARARGS,
     "hessp_softmax(data, indices, indptr, n_features, start, stop, V, vb, P, s, K, out, rsum): the multinomial "
     "Hessian-vector product, in one pass"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_csr",
    "One-pass products of CSR matrices for logistic regression (see _problem.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__csr(void)
{
    import_array();
    return PyModule_Create(&moduledef);
}
