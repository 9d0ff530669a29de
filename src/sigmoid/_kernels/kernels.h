/*
 * The table of contiguous kernels one instruction set provides, and the
 * functions that choose a table at run time.
 */
#ifndef SIGMOID_KERNELS_H
#define SIGMOID_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* losses: one block of packed doubles at a time (loss.c packs and unpacks) */
enum sig_loss_kind { SIG_LOSS_BCE_LOGITS, SIG_LOSS_BCE_PROBS, SIG_LOSS_FOCAL };

/* beyond |x| = SIG_LOSS_FAR, e^-|x| (below 2^-995) leaves the range where the
   double lanes keep it as a double-double; the gradients of BCE from logits
   that depend on it there are recomputed by loss.c's scaled expansion */
#define SIG_LOSS_FAR 690.0

typedef struct {
    int kind;
    int light;          /* float32 data: the shorter polynomials suffice */
    double smoothing;   /* BCE from logits: targets y (1 - s) + s/2 */
    double alpha;       /* focal: < 0 for no class weighting */
    double gamma;       /* focal */
} sig_loss_params;

/* Operands of one contiguous stretch of a loss pass: x, y and the outputs
   are contiguous arrays of the data type (float or double); w, pw and g
   (grad_output) are NULL (all ones) or arrays whose element step is 0 (one
   value for the whole stretch) or 1. */
typedef struct {
    const void *x, *y, *w, *pw, *g;
    int sw, spw, sg;
    void *loss, *grad;      /* NULL when not wanted */
    double gscale;          /* the gradient's reduction factor */
} sig_loss_io;

/* Computes m elements; returns the sum of their losses as the double-double
   hi + *lo (every addition's rounding error is kept, so the sum does not
   depend on the vector width beyond its last few bits of lo); *bad |= 1 if a
   target (or a probability) lies outside [0, 1] or is nan.  The indices of
   gradients to recompute in double-double go to fix[] (*nfix of them; fix
   has room for m). */
typedef double (*sig_loss_fn)(const sig_loss_params *P, ptrdiff_t m, int f32,
                              const sig_loss_io *io, ptrdiff_t *fix, ptrdiff_t *nfix, int *bad,
                              double *lo);

/* The recurrent cells' pointwise passes (gate.c checks the arguments). */
enum sig_gate_kind {
    SIG_GATE_LSTM_FORWARD,
    SIG_GATE_LSTM_BACKWARD,
    SIG_GATE_GRU_FORWARD,
    SIG_GATE_GRU_BACKWARD,
    SIG_N_GATE
};

/* The arrays of one pass, in the order of the Python arguments: C-contiguous
   arrays of the data type (float or double) with `rows` rows of H, 3H or 4H
   elements each:
     LSTM forward:   in  gates (4H), c_prev           out h, c, act (4H), tanh(c)
     LSTM backward:  in  dh, dc, act (4H), c_prev, tanh(c)
                     out dgates (4H), dc_prev
     GRU forward:    in  gi (3H), gh (3H), h_prev     out h, act (4H)
     GRU backward:   in  dh, act (4H), h_prev         out dgi (3H), dgh (3H), dh_prev
   An output may be the very same array region as an input of its shape (each
   column vector is read in full before it is written); no other overlap is
   allowed. */
typedef struct {
    const void *in[5];
    void *out[4];
} sig_gate_io;

typedef void (*sig_gate_fn)(int kind, int f32, ptrdiff_t rows, ptrdiff_t H, const sig_gate_io *io);

/* The recurrent layers' per-step products for a small batch (panel.c):
   Y = C + A H, A (M, K) packed once per pass as panels of SIG_PANEL_MR rows
   (P[p][k][i] = A[p MR + i][k], the last panel padded with zeros), H (K, B)
   and Y (M, B) with unit column stride, C (M, B) with column stride 1 or 0
   (a column broadcast), or NULL for zero.  panel() computes panels [p0, p1)
   of Y; Htail, when B is not a multiple of the vector width w, holds H's last
   B mod w columns zero-padded to w, K rows of w.  Y is never read; a C
   that is the same region as Y is read before Y is written. */
#define SIG_PANEL_MR 12
/* the most columns of a narrow-batch kernel (panel_narrow) */
#define SIG_PANEL_NARROW 8
/* An H of more than SIG_PANEL_WIDE columns or SIG_PANEL_HBYTES bytes is
   taken in column blocks of SIG_PANEL_WIDE, each block of k over all the
   panels, from an aligned copy of the block where panel() has at least
   SIG_PANEL_COPY panels (panel_kernels.c) */
#define SIG_PANEL_WIDE 256
#define SIG_PANEL_HBYTES (1 << 20)
#define SIG_PANEL_COPY 2
#define SIG_PANEL_IS_WIDE(B, K, item) \
    ((B) > SIG_PANEL_WIDE || (ptrdiff_t)(K) * (ptrdiff_t)(B) * (ptrdiff_t)(item) > SIG_PANEL_HBYTES)

/* `rows` runs of `bytes` bytes, ld_src bytes apart in src, to ld_dst bytes
   apart in dst: the panel kernel's copies of parts of H */
static inline void sig_copy_rows(void *dst, ptrdiff_t ld_dst, const void *src, ptrdiff_t ld_src,
                                 ptrdiff_t rows, size_t bytes)
{
    for (ptrdiff_t k = 0; k < rows; k++)
        memcpy((char *)dst + k * ld_dst, (const char *)src + k * ld_src, bytes);
}

typedef struct {
    const void *P, *H, *Htail, *C;
    void *Y;
    ptrdiff_t M, K, B, ldh, ldc, ccs, ldy;
    int f32;
} sig_panel_job;

typedef void (*sig_panel_fn)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1);
/* d[r ld_d + c] = s[c ld_s + r], r < R, c < C (panel_kernels.c) */
typedef void (*sig_transpose_f32_fn)(float *d, ptrdiff_t ldd, const float *s, ptrdiff_t lds, ptrdiff_t R,
                                     ptrdiff_t C);
typedef void (*sig_transpose_f64_fn)(double *d, ptrdiff_t ldd, const double *s, ptrdiff_t lds, ptrdiff_t R,
                                     ptrdiff_t C);

/* every second element (step 2) into a contiguous block of m, and back;
   m contiguous float16 (bf = 0) or bfloat16 (bf = 1) values to doubles and
   back, rounded once, and to floats and back (half_out lists the doubles
   that may be 16-bit rounding boundaries, half_out32 the floats that are
   NaN or may be) (block_kernels.c) */
typedef void (*sig_pack2_f32_fn)(float *buf, const float *q, ptrdiff_t m);
typedef void (*sig_unpack2_f32_fn)(float *q, const float *buf, ptrdiff_t m);
typedef void (*sig_pack2_f64_fn)(double *buf, const double *q, ptrdiff_t m);
typedef void (*sig_unpack2_f64_fn)(double *q, const double *buf, ptrdiff_t m);
typedef void (*sig_half_in_fn)(double *buf, const uint16_t *p, ptrdiff_t m, int bf);
typedef ptrdiff_t (*sig_half_out_fn)(uint16_t *p, const double *buf, ptrdiff_t m, int bf, int32_t *cand);
typedef void (*sig_half_in32_fn)(float *buf, const uint16_t *p, ptrdiff_t m, int bf);
typedef ptrdiff_t (*sig_half_out32_fn)(uint16_t *p, const float *buf, ptrdiff_t m, int bf, int32_t *unsure);
/* r = a b + c rounded once, by the vf_fma and vd_fma every kernel builds on
   (emulated where the CPU has no FMA; _core._fma, for the tests) */
typedef void (*sig_fma_f32_fn)(float *r, const float *a, const float *b, const float *c, ptrdiff_t n);
typedef void (*sig_fma_f64_fn)(double *r, const double *a, const double *b, const double *c, ptrdiff_t n);

typedef struct {
    const char *isa;
    sig_loss_fn loss;
    sig_gate_fn gate;
    sig_panel_fn panel;
    int panel_wf, panel_wd;  /* vector widths (floats, doubles) of panel's batch blocks */
    sig_panel_fn panel_narrow;  /* for B <= SIG_PANEL_NARROW, or NULL */
    sig_transpose_f32_fn transpose_f32;
    sig_transpose_f64_fn transpose_f64;
    sig_pack2_f32_fn pack2_f32;
    sig_unpack2_f32_fn unpack2_f32;
    sig_pack2_f64_fn pack2_f64;
    sig_unpack2_f64_fn unpack2_f64;
    sig_half_in_fn half_in;
    sig_half_out_fn half_out;
    sig_half_in32_fn half_in32;
    sig_half_out32_fn half_out32;
    sig_fma_f32_fn fma_f32;
    sig_fma_f64_fn fma_f64;
    sig_u32_fn u32[SIG_N_UNARY];
    sig_u64_fn u64[SIG_N_UNARY];
    sig_b32_fn b32[SIG_N_BINARY];
    sig_b64_fn b64[SIG_N_BINARY];
} sig_kernel_table;

extern const sig_kernel_table sig_kernels_portable;
#if defined(SIG_WITH_X86_DISPATCH)
extern const sig_kernel_table sig_kernels_sse2;
extern const sig_kernel_table sig_kernels_avx2;
extern const sig_kernel_table sig_kernels_avx512;
#endif

/* nonzero where AVX2's masked stores (VMASKMOVPS/PD) are about as fast as
   plain ones, so that the avx2 table writes every second element with them
   (block_kernels.c); set with the table by sig_select_isa */
extern int sig_fast_masked_stores;

/* the table in use; set once at import, changed only by sig_select_isa */
extern const sig_kernel_table *sig_active;

/* the best table this CPU supports, honouring SIGMOID_ISA if set; returns 0
   on success, -1 if the requested name is unknown or unsupported */
int sig_select_isa(const char *name);
/* comma-separated names of the tables this CPU supports, best first */
const char *sig_supported_isas(void);

#endif
