/*
 * The recurrent layers' per-step product Y = C + A H for a small batch, of
 * one instruction set (panel.c packs A, checks the arguments and spreads the
 * panels over the threads; kernels.h describes the job).  Compiled once per
 * instruction set (see elementwise.c).
 *
 * A BLAS multiplies a (4H, H) weight by a few columns of hidden state far
 * below its speed: it copies the whole weight into its own panel layout on
 * every call, and its kernels are shaped for long products.  Here the weight
 * is packed once for all the steps of a pass, and the batch is the vector
 * dimension: for each panel of MR rows and each block of w batch columns,
 * MR accumulators (one vector per row) take one vector of H's row k and MR
 * broadcast weights per k.  The MR weights of a k are adjacent in the panel,
 * the panel (MR K values) stays in the first-level cache across the batch
 * blocks, and one FMA per weight loaded keeps the load ports below the FMA
 * units' rate.  Each output is the sum over k in order, one FMA per term.
 */
#include <string.h>

#include "kernels_isa.h"

#define MR SIG_PANEL_MR

#define PANEL_KERNEL(NAME, T, V, VN, LOAD, STORE, SET, FMA)                                         \
    static void NAME(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)                           \
    {                                                                                              \
        const ptrdiff_t K = J->K, B = J->B, M = J->M;                                              \
        const T *C = (const T *)J->C;                                                              \
        T *Y = (T *)J->Y;                                                                          \
        for (ptrdiff_t p = p0; p < p1; p++) {                                                      \
            const T *Pp = (const T *)J->P + p * K * MR;                                            \
            const ptrdiff_t m0 = p * MR;                                                           \
            const ptrdiff_t rows = M - m0 < MR ? M - m0 : MR;                                      \
            for (ptrdiff_t j0 = 0; j0 < B; j0 += VN) {                                             \
                const ptrdiff_t w = B - j0 < VN ? B - j0 : VN;                                     \
                const T *h = w == VN ? (const T *)J->H + j0 : (const T *)J->Htail;                 \
                const ptrdiff_t ldh = w == VN ? J->ldh : VN;                                       \
                V a[MR];                                                                           \
                for (int i = 0; i < MR; i++) {                                                     \
                    if (C == NULL || i >= rows) {                                                  \
                        a[i] = SET((T)0);                                                          \
                    } else if (J->ccs == 0) {                                                      \
                        a[i] = SET(C[(m0 + i) * J->ldc]);                                          \
                    } else if (w == VN) {                                                          \
                        a[i] = LOAD(C + (m0 + i) * J->ldc + j0);                                   \
                    } else {                                                                       \
                        T buf[VN] = {0};                                                           \
                        memcpy(buf, C + (m0 + i) * J->ldc + j0, (size_t)w * sizeof(T));           \
                        a[i] = LOAD(buf);                                                          \
                    }                                                                              \
                }                                                                                  \
                const T *pk = Pp;                                                                  \
                for (ptrdiff_t k = 0; k < K; k++, pk += MR) {                                      \
                    V hv = LOAD(h + k * ldh);                                                      \
                    for (int i = 0; i < MR; i++) a[i] = FMA(SET(pk[i]), hv, a[i]);                 \
                }                                                                                  \
                for (int i = 0; i < MR; i++) {                                                     \
                    if (i >= rows) break;                                                          \
                    if (w == VN) {                                                                 \
                        STORE(Y + (m0 + i) * J->ldy + j0, a[i]);                                   \
                    } else {                                                                       \
                        T buf[VN];                                                                 \
                        STORE(buf, a[i]);                                                          \
                        memcpy(Y + (m0 + i) * J->ldy + j0, buf, (size_t)w * sizeof(T));            \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

PANEL_KERNEL(panel_f32, float, vf, VF_N, vf_load, vf_store, vf_set, vf_fma)
PANEL_KERNEL(panel_f64, double, vd, VD_N, vd_load, vd_store, vd_set, vd_fma)

void SIG_ISA_NAME(sig_panel_kernel)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)
{
    if (J->f32) panel_f32(J, p0, p1);
    else panel_f64(J, p0, p1);
}
