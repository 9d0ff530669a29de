#ifndef SIGMOID_LOOPS_H
#define SIGMOID_LOOPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/ndarraytypes.h>

/* NumPy inner loops; `data` carries the sig_unary / sig_binary index */
void sig_loop_u16(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_u32(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_u64(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_b16(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_b32(char **args, npy_intp const *dims, npy_intp const *steps, void *data);
void sig_loop_b64(char **args, npy_intp const *dims, npy_intp const *steps, void *data);

#endif
