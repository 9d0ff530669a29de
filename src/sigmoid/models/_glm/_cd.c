/*
 * sigmoid.models._glm._cd: coordinate descent on an L1-penalized quadratic,
 * the inner solver of the proximal Newton method (_solvers.prox_newton).
 *
 *   minimize over x   g . (x - p) + (x - p)^T H (x - p) / 2 + sum_j w_j |x_j|
 *
 * H symmetric positive semi-definite (k x k, C-contiguous float64), g, p, w,
 * x float64 vectors of length k; x is the starting point and is updated in
 * place.  Each coordinate is minimized exactly: with a = H_jj (plus a tiny
 * ridge where it vanishes) and b = r_j - a x_j, r = g + H (x - p) the
 * gradient of the smooth part, the minimizer of a x^2 / 2 + b x + w |x| is
 * -soft(b, w) / a, soft(b, w) = sign(b) max(|b| - w, 0), exactly 0 when
 * |b| <= w.  Sweeps over the nonzero (and unpenalized) coordinates repeat
 * while one moves by more than tol (its move times sqrt(a)), newGLMNET's
 * way; then a sweep over every coordinate, after which the model's
 * minimum-norm subgradient (r_j + w_j sign(x_j), or r_j shrunk by w_j at 0)
 * is checked: done when its largest component is <= tol, or after
 * max_sweeps sweeps.  Returns the number of sweeps.
 *
 * Plain C loops (a Python loop over the coordinates costs microseconds
 * each, and the proximal Newton method takes tens of sweeps); the GIL is
 * released while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_20_API_VERSION
#include <numpy/arrayobject.h>

#include <math.h>

static int as_vector(PyObject *o, const char *name, Py_ssize_t k, double **out)
{
    if (!PyArray_Check(o) || PyArray_TYPE((PyArrayObject *)o) != NPY_DOUBLE ||
        !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)o) || PyArray_SIZE((PyArrayObject *)o) != k) {
        PyErr_Format(PyExc_TypeError, "_cd: %s must be a C-contiguous float64 array of %zd elements", name, k);
        return 0;
    }
    *out = PyArray_DATA((PyArrayObject *)o);
    return 1;
}

static Py_ssize_t cd_quadratic(const double *H, const double *g, const double *p, const double *w, double *x,
                               Py_ssize_t k, double tol, Py_ssize_t max_sweeps, double *r, double *a,
                               Py_ssize_t *active)
{
    double amax = 0.0;
    for (Py_ssize_t j = 0; j < k; j++) {
        a[j] = H[j * k + j] > 0.0 ? H[j * k + j] : 0.0;
        if (a[j] > amax) amax = a[j];
    }
    const double ridge = 1e-12 * (amax > 0.0 ? amax : 1e-300);
    for (Py_ssize_t j = 0; j < k; j++) a[j] += ridge;
    /* r = g + H (x - p) */
    for (Py_ssize_t i = 0; i < k; i++) {
        double acc = g[i];
        const double *Hi = H + i * k;
        for (Py_ssize_t j = 0; j < k; j++) acc += Hi[j] * (x[j] - p[j]);
        r[i] = acc;
    }
    Py_ssize_t n_active = k, sweeps = 0;
    int full = 1;
    for (Py_ssize_t j = 0; j < k; j++) active[j] = j;
    while (sweeps < max_sweeps) {
        sweeps++;
        double biggest = 0.0;
        for (Py_ssize_t q = 0; q < n_active; q++) {
            const Py_ssize_t j = active[q];
            const double xj = x[j], b = r[j] - a[j] * xj;
            double nx = 0.0;
            if (b > w[j]) nx = -(b - w[j]) / a[j];
            else if (b < -w[j]) nx = -(b + w[j]) / a[j];
            const double delta = nx - xj;
            if (delta != 0.0) {
                x[j] = nx;
                const double *Hj = H + j * k; /* row j = column j */
                for (Py_ssize_t i = 0; i < k; i++) r[i] += delta * Hj[i];
                const double moved = fabs(delta) * sqrt(a[j]);
                if (moved > biggest) biggest = moved;
            }
        }
        if (full) {
            double worst = 0.0; /* the model's optimality: its minimum-norm subgradient */
            for (Py_ssize_t j = 0; j < k; j++) {
                double s;
                if (x[j] > 0.0) s = r[j] + w[j];
                else if (x[j] < 0.0) s = r[j] - w[j];
                else s = r[j] > w[j] ? r[j] - w[j] : (r[j] < -w[j] ? r[j] + w[j] : 0.0);
                if (fabs(s) > worst) worst = fabs(s);
            }
            if (worst <= tol) return sweeps;
        }
        if (biggest <= tol && !full) {
            full = 1; /* check on every coordinate */
            n_active = k;
            for (Py_ssize_t j = 0; j < k; j++) active[j] = j;
        } else {
            full = 0;
            n_active = 0;
            for (Py_ssize_t j = 0; j < k; j++)
                if (x[j] != 0.0 || w[j] == 0.0) active[n_active++] = j;
        }
    }
    return sweeps;
}

static PyObject *py_cd_quadratic(PyObject *self, PyObject *args)
{
    PyObject *Ho, *go, *po, *wo, *xo;
    double tol;
    Py_ssize_t max_sweeps;
    if (!PyArg_ParseTuple(args, "OOOOOdn", &Ho, &go, &po, &wo, &xo, &tol, &max_sweeps)) return NULL;
    if (!PyArray_Check(xo)) {
        PyErr_SetString(PyExc_TypeError, "_cd: x must be an array");
        return NULL;
    }
    Py_ssize_t k = PyArray_SIZE((PyArrayObject *)xo);
    double *H, *g, *p, *w, *x;
    if (!as_vector(Ho, "H", k * k, &H) || !as_vector(go, "g", k, &g) || !as_vector(po, "p", k, &p) ||
        !as_vector(wo, "w", k, &w) || !as_vector(xo, "x", k, &x))
        return NULL;
    if (!PyArray_ISWRITEABLE((PyArrayObject *)xo)) {
        PyErr_SetString(PyExc_ValueError, "_cd: x must be writeable");
        return NULL;
    }
    double *r = PyMem_Malloc((size_t)(k > 0 ? k : 1) * 2 * sizeof(double));
    Py_ssize_t *active = PyMem_Malloc((size_t)(k > 0 ? k : 1) * sizeof(Py_ssize_t));
    if (r == NULL || active == NULL) {
        PyMem_Free(r);
        PyMem_Free(active);
        return PyErr_NoMemory();
    }
    Py_ssize_t sweeps;
    Py_BEGIN_ALLOW_THREADS
    sweeps = cd_quadratic(H, g, p, w, x, k, tol, max_sweeps, r, r + k, active);
    Py_END_ALLOW_THREADS
    PyMem_Free(r);
    PyMem_Free(active);
    return PyLong_FromSsize_t(sweeps);
}

static PyMethodDef methods[] = {
    {"cd_quadratic", py_cd_quadratic, METH_VARARGS,
     "cd_quadratic(H, g, p, w, x, tol, max_sweeps) -> sweeps: coordinate descent on "
     "g.(x - p) + (x - p)^T H (x - p) / 2 + sum w |x|, x updated in place"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_cd", "Coordinate descent on an L1-penalized quadratic (see _solvers.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__cd(void)
{
    import_array();
    return PyModule_Create(&moduledef);
}
