/*
 * The table of contiguous kernels one instruction set provides, and the
 * functions that choose a table at run time.
 */
#ifndef SIGMOID_KERNELS_H
#define SIGMOID_KERNELS_H

#include <stddef.h>

enum sig_unary {
    SIG_SIGMOID,
    SIG_LOG_SIGMOID,
    SIG_SOFTPLUS,
    SIG_LOGIT,
    SIG_HARD_SIGMOID,
    SIG_SILU,
    SIG_N_UNARY
};

enum sig_binary {
    SIG_SIGMOID_BACKWARD,
    SIG_SIGMOID_BACKWARD_FROM_OUTPUT,
    SIG_HARD_SIGMOID_BACKWARD,
    SIG_SILU_BACKWARD,
    SIG_N_BINARY
};

/* `stream`: the output is large and 64-byte aligned; write it with
   non-temporal stores where the instruction set has them */
typedef void (*sig_u32_fn)(const float *x, float *y, ptrdiff_t n, int stream);
typedef void (*sig_u64_fn)(const double *x, double *y, ptrdiff_t n, int stream);
typedef void (*sig_b32_fn)(const float *x, const float *g, float *y, ptrdiff_t n, int stream);
typedef void (*sig_b64_fn)(const double *x, const double *g, double *y, ptrdiff_t n, int stream);

typedef struct {
    const char *isa;
    sig_u32_fn u32[SIG_N_UNARY];
    sig_u64_fn u64[SIG_N_UNARY];
    sig_b32_fn b32[SIG_N_BINARY];
    sig_b64_fn b64[SIG_N_BINARY];
} sig_kernel_table;

extern const sig_kernel_table sig_kernels_portable;
#if defined(SIG_WITH_X86_DISPATCH)
extern const sig_kernel_table sig_kernels_avx2;
extern const sig_kernel_table sig_kernels_avx512;
#endif

/* the table in use; set once at import, changed only by sig_select_isa */
extern const sig_kernel_table *sig_active;

/* the best table this CPU supports, honouring SIGMOID_ISA if set; returns 0
   on success, -1 if the requested name is unknown or unsupported */
int sig_select_isa(const char *name);
/* comma-separated names of the tables this CPU supports, best first */
const char *sig_supported_isas(void);

#endif
