#ifndef SIGMOID_LOOPS_H
#define SIGMOID_LOOPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/ndarraytypes.h>

/* FP_SAVE ... FP_RESTORE: every pass leaves the floating-point status flags
   as it found them, so that no input ever raises a NumPy warning */
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
#define FP_SAVE const unsigned int sig_saved_csr_ = _mm_getcsr()
#define FP_RESTORE _mm_setcsr(sig_saved_csr_)
#else
#include <fenv.h>
#define FP_SAVE fexcept_t sig_saved_fe_; fegetexceptflag(&sig_saved_fe_, FE_ALL_EXCEPT)
#define FP_RESTORE fesetexceptflag(&sig_saved_fe_, FE_ALL_EXCEPT)
#endif

/* Whether the bytes that the elements of a and b span intersect (any
   strides; an empty array overlaps nothing): the drivers' check that an
   output does not overlap an input (gate.c). */
int sig_overlap(PyArrayObject *a, PyArrayObject *b);

/* NumPy inner loops; `data` carries the sig_unary / sig_binary index */
void sig_loop_u16(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_u32(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_u64(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_b16(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_b32(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_b64(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
/* bfloat16, registered for the ml_dtypes type when it is installed */
void sig_loop_ubf16(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_bbf16(char **args, npy_intp const *dims, npy_intp const *steps, void *data);

#endif
