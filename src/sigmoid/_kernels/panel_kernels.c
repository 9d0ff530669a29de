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
 * dimension.  For each panel of MR rows and each pair of vector blocks of
 * batch columns, PANEL_PAIR_ROWS rows at a time (six, or all twelve with
 * AVX-512) take two vectors of H's row k and one broadcast weight per row
 * and k into two accumulators per row (two FMAs per weight loaded); the
 * columns left over take one vector block at a time, twelve rows.  The MR
 * weights of a k are adjacent in the panel.  k runs in blocks of
 * PANEL_KBYTES per row of H, so that the panel's block and a pair block of
 * H stay in the first-level cache while they are reused; an accumulator
 * starts from C (or zero) in the first block and from Y after it, which is
 * exact, so each output is the sum over k in order, one FMA per term,
 * rounded as without the blocks.  The result therefore does not depend on
 * the vector width or the rows per pass.
 */
#include <string.h>

#include "kernels_isa.h"

#define MR SIG_PANEL_MR
/* the bytes of one block of k of a row of H: a pair block of H (2 vectors
   wide) and the panel's block (MR values per k) stay in the first-level
   cache while the pairs (and the passes over the panel's rows) reuse them */
#define PANEL_KBYTES 1024
/* the rows of a pass over a pair block: 2 PANEL_PAIR_ROWS accumulators.
   AVX-512's 32 registers hold all MR rows' 24, so that each pair block of
   H is read once per block of k instead of twice: the (2048, 512) float32
   weight by 64 columns took 0.82 of OpenBLAS's time instead of 0.98 (Zen
   4, one thread), and every float64 shape timed was as fast or faster.
   With 16 registers, six rows (twelve accumulators) leave room for the
   two vectors of H and a broadcast weight. */
#if SIG_ISA == SIG_ISA_AVX512
#define PANEL_PAIR_ROWS MR
#else
#define PANEL_PAIR_ROWS (MR / 2)
#endif

/* the first value of an accumulator: row m, columns j0 to j0 + w - 1 (w <= the
   vector width) of C, or of Y after an earlier block of k (from), or zero */
#define PANEL_INIT(NAME, T, V, VN, LOAD, SET)                                                       \
    static inline V NAME(const sig_panel_job *J, int from_y, ptrdiff_t m, ptrdiff_t j0, ptrdiff_t w) \
    {                                                                                              \
        const T *S = from_y ? (const T *)J->Y : (const T *)J->C;                                   \
        const ptrdiff_t ld = from_y ? J->ldy : J->ldc;                                             \
        if (S == NULL) return SET((T)0);                                                           \
        if (!from_y && J->ccs == 0) return SET(S[m * ld]);                                         \
        if (w == VN) return LOAD(S + m * ld + j0);                                                 \
        T buf[VN] = {0};                                                                           \
        memcpy(buf, S + m * ld + j0, (size_t)w * sizeof(T));                                       \
        return LOAD(buf);                                                                          \
    }

/* one panel p, one block of k (k0 to k0 + kn - 1), columns jb to je - 1 of Y
   (jb a multiple of 2 VN; je = B or a multiple of 2 VN) */
#define PANEL_BLOCK(NAME, INIT, T, V, VN, LOAD, STORE, SET, FMA)                                    \
    static inline void NAME(const sig_panel_job *J, ptrdiff_t p, ptrdiff_t k0, ptrdiff_t kn,        \
                            ptrdiff_t jb, ptrdiff_t je)                                             \
    {                                                                                              \
        const ptrdiff_t K = J->K, B = J->B, M = J->M, ldh = J->ldh, ldy = J->ldy;                  \
        T *Y = (T *)J->Y;                                                                          \
        const ptrdiff_t m0 = p * MR;                                                               \
        const int rows = M - m0 < MR ? (int)(M - m0) : MR;                                         \
        const T *Pk = (const T *)J->P + p * K * MR + k0 * MR;                                      \
        const int from_y = k0 > 0;                                                                 \
        ptrdiff_t j0 = jb;                                                                         \
        /* pairs of whole vector blocks: PANEL_PAIR_ROWS rows at a time, two                       \
           accumulators per row */                                                                 \
        for (; j0 + 2 * VN <= je; j0 += 2 * VN) {                                                  \
            for (int r0 = 0; r0 < rows; r0 += PANEL_PAIR_ROWS) {                                   \
                const T *h = (const T *)J->H + k0 * ldh + j0;                                      \
                V a[PANEL_PAIR_ROWS], b[PANEL_PAIR_ROWS];                                          \
                for (int i = 0; i < PANEL_PAIR_ROWS; i++) {                                        \
                    int live = r0 + i < rows;                                                      \
                    a[i] = live ? INIT(J, from_y, m0 + r0 + i, j0, VN) : SET((T)0);                \
                    b[i] = live ? INIT(J, from_y, m0 + r0 + i, j0 + VN, VN) : SET((T)0);           \
                }                                                                                  \
                const T *pk = Pk + r0;                                                             \
                for (ptrdiff_t k = 0; k < kn; k++, pk += MR, h += ldh) {                           \
                    V h0 = LOAD(h), h1 = LOAD(h + VN);                                             \
                    for (int i = 0; i < PANEL_PAIR_ROWS; i++) {                                    \
                        V w = SET(pk[i]);                                                          \
                        a[i] = FMA(w, h0, a[i]);                                                   \
                        b[i] = FMA(w, h1, b[i]);                                                   \
                    }                                                                              \
                }                                                                                  \
                for (int i = 0; i < PANEL_PAIR_ROWS && r0 + i < rows; i++) {                       \
                    STORE(Y + (m0 + r0 + i) * ldy + j0, a[i]);                                     \
                    STORE(Y + (m0 + r0 + i) * ldy + j0 + VN, b[i]);                                \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        /* the rest: one vector block at a time, twelve rows */                                    \
        for (; j0 < je; j0 += VN) {                                                                \
            const ptrdiff_t w = B - j0 < VN ? B - j0 : VN;                                         \
            const T *h = w == VN ? (const T *)J->H + k0 * ldh + j0 : (const T *)J->Htail + k0 * VN; \
            const ptrdiff_t lh = w == VN ? ldh : VN;                                               \
            V a[MR];                                                                               \
            for (int i = 0; i < MR; i++)                                                           \
                a[i] = i < rows ? INIT(J, from_y, m0 + i, j0, w) : SET((T)0);                      \
            const T *pk = Pk;                                                                      \
            for (ptrdiff_t k = 0; k < kn; k++, pk += MR, h += lh) {                                \
                V hv = LOAD(h);                                                                    \
                for (int i = 0; i < MR; i++) a[i] = FMA(SET(pk[i]), hv, a[i]);                     \
            }                                                                                      \
            for (int i = 0; i < rows; i++) {                                                       \
                if (w == VN) {                                                                     \
                    STORE(Y + (m0 + i) * ldy + j0, a[i]);                                          \
                } else {                                                                           \
                    T buf[VN];                                                                     \
                    STORE(buf, a[i]);                                                              \
                    memcpy(Y + (m0 + i) * ldy + j0, buf, (size_t)w * sizeof(T));                   \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* While H is at most PANEL_WIDE columns and PANEL_HBYTES, each panel runs
   through all of k before the next (its rows of Y stay in cache).  A wider
   or longer H (a product over every step and batch column, such as the
   weights' gradients) is taken in column blocks of PANEL_WIDE, and within
   each, block of k by block of k over all the panels: the block of H
   (PANEL_KBYTES per row) then stays in the second-level cache while every
   panel reads it, where panel by panel the whole of H would stream from
   memory once per panel (a (1536, 25600) by (25600, 512) float32 product:
   72 GFLOP/s panel by panel, 231 in blocks, Zen 5, one thread).  Each
   output is still the sum over k in order, so the bits are the same
   either way. */
#define PANEL_WIDE 512
#define PANEL_HBYTES (1 << 20)

#define PANEL_KERNEL(NAME, BLOCK, T)                                                                \
    static void NAME(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)                           \
    {                                                                                              \
        const ptrdiff_t K = J->K, B = J->B;                                                        \
        const ptrdiff_t KB = PANEL_KBYTES / (ptrdiff_t)sizeof(T);                                  \
        /* K == 0 still sets Y (to C or zero): one empty block of k */                             \
        if (B <= PANEL_WIDE && K * B * (ptrdiff_t)sizeof(T) <= PANEL_HBYTES) {                     \
            for (ptrdiff_t p = p0; p < p1; p++)                                                    \
                for (ptrdiff_t k0 = 0; k0 < K || (k0 == 0 && K == 0); k0 += KB)                    \
                    BLOCK(J, p, k0, K - k0 < KB ? K - k0 : KB, 0, B);                              \
            return;                                                                                \
        }                                                                                          \
        for (ptrdiff_t jb = 0; jb < B; jb += PANEL_WIDE) {                                         \
            const ptrdiff_t je = B - jb < PANEL_WIDE ? B : jb + PANEL_WIDE;                        \
            for (ptrdiff_t k0 = 0; k0 < K || (k0 == 0 && K == 0); k0 += KB)                        \
                for (ptrdiff_t p = p0; p < p1; p++)                                                \
                    BLOCK(J, p, k0, K - k0 < KB ? K - k0 : KB, jb, je);                            \
        }                                                                                          \
    }

PANEL_INIT(panel_init_f32, float, vf, VF_N, vf_load, vf_set)
PANEL_INIT(panel_init_f64, double, vd, VD_N, vd_load, vd_set)
PANEL_BLOCK(panel_block_f32, panel_init_f32, float, vf, VF_N, vf_load, vf_store, vf_set, vf_fma)
PANEL_BLOCK(panel_block_f64, panel_init_f64, double, vd, VD_N, vd_load, vd_store, vd_set, vd_fma)
PANEL_KERNEL(panel_f32, panel_block_f32, float)
PANEL_KERNEL(panel_f64, panel_block_f64, double)

void SIG_ISA_NAME(sig_panel_kernel)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)
{
    if (J->f32) panel_f32(J, p0, p1);
    else panel_f64(J, p0, p1);
}
