/*
 * What each compilation of the kernel files (elementwise.c, loss_kernels.c,
 * gate_kernels.c; once per instruction set, with SIG_ISA set by meson.build)
 * calls its exports: name_portable, name_sse2, name_avx2 or name_avx512.
 */
#ifndef SIGMOID_KERNELS_ISA_H
#define SIGMOID_KERNELS_ISA_H

#include "kernels.h"
#include "simd.h"

#if SIG_ISA == SIG_ISA_AVX512
#define SIG_ISA_NAME(name) name##_avx512
#define SIG_ISA_STRING "avx512"
#elif SIG_ISA == SIG_ISA_AVX2
#define SIG_ISA_NAME(name) name##_avx2
#define SIG_ISA_STRING "avx2"
#elif SIG_ISA == SIG_ISA_SSE2
#define SIG_ISA_NAME(name) name##_sse2
#define SIG_ISA_STRING "sse2"
#else
#define SIG_ISA_NAME(name) name##_portable
#define SIG_ISA_STRING "portable"
#endif

/* the loss and gate families of this instruction set (loss_kernels.c,
   gate_kernels.c), gathered into its table by elementwise.c */
double SIG_ISA_NAME(sig_loss_kernel)(const sig_loss_params *P, ptrdiff_t m, int f32, const sig_loss_io *io,
                                     ptrdiff_t *fix, ptrdiff_t *nfix, int *bad, double *lo);
void SIG_ISA_NAME(sig_gate_kernel)(int kind, int f32, ptrdiff_t rows, ptrdiff_t H, const sig_gate_io *io);
void SIG_ISA_NAME(sig_panel_kernel)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1);
void SIG_ISA_NAME(sig_transpose_f32)(float *d, ptrdiff_t ldd, const float *s, ptrdiff_t lds, ptrdiff_t R,
                                     ptrdiff_t C);
void SIG_ISA_NAME(sig_transpose_f64)(double *d, ptrdiff_t ldd, const double *s, ptrdiff_t lds, ptrdiff_t R,
                                     ptrdiff_t C);
#if SIG_ISA == SIG_ISA_AVX512
void SIG_ISA_NAME(sig_panel_narrow_kernel)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1);
#endif
/* step-2 views and 16-bit arrays into blocks and back (block_kernels.c) */
void SIG_ISA_NAME(sig_pack2_f32)(float *buf, const float *q, ptrdiff_t m);
void SIG_ISA_NAME(sig_unpack2_f32)(float *q, const float *buf, ptrdiff_t m);
void SIG_ISA_NAME(sig_pack2_f64)(double *buf, const double *q, ptrdiff_t m);
void SIG_ISA_NAME(sig_unpack2_f64)(double *q, const double *buf, ptrdiff_t m);
void SIG_ISA_NAME(sig_half_in)(double *buf, const uint16_t *p, ptrdiff_t m, int bf);
ptrdiff_t SIG_ISA_NAME(sig_half_out)(uint16_t *p, const double *buf, ptrdiff_t m, int bf, int32_t *cand);
void SIG_ISA_NAME(sig_half_in32)(float *buf, const uint16_t *p, ptrdiff_t m, int bf);
ptrdiff_t SIG_ISA_NAME(sig_half_out32)(uint16_t *p, const float *buf, ptrdiff_t m, int bf, int32_t *unsure);

#endif
