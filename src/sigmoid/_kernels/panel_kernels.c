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
 * PANEL_KBYTES per row of H, so that the panel's block and H's stay in
 * cache while they are reused; an accumulator
 * starts from C (or zero) in the first block and from Y after it, which is
 * exact, so each output is the sum over k in order, one FMA per term,
 * rounded as without the blocks.  The result therefore does not depend on
 * the vector width or the rows per pass.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels_isa.h"

#define MR SIG_PANEL_MR

/* The first two stages of transposing 8 x 8 floats, v[j] holding column j
   (AVX2: 8 rows; AVX-512: 16, two blocks in its 256-bit halves), within
   each 128-bit lane: afterwards u[i] (u[i + 4]) holds, in lane L, row 4 L +
   i's columns 0-3 (4-7).  The last stage, across lanes, is the caller's. */
#define TRANSPOSE8_LANES(v, t, u, UNPACKLO, UNPACKHI, SHUFFLE)                                     \
    do {                                                                                          \
        for (int m_ = 0; m_ < 4; m_++) {                                                          \
            t[2 * m_] = UNPACKLO(v[2 * m_], v[2 * m_ + 1]);                                       \
            t[2 * m_ + 1] = UNPACKHI(v[2 * m_], v[2 * m_ + 1]);                                   \
        }                                                                                         \
        for (int c_ = 0; c_ < 8; c_ += 4) {                                                       \
            u[c_] = SHUFFLE(t[c_], t[c_ + 2], 0x44);                                              \
            u[c_ + 1] = SHUFFLE(t[c_], t[c_ + 2], 0xEE);                                          \
            u[c_ + 2] = SHUFFLE(t[c_ + 1], t[c_ + 3], 0x44);                                      \
            u[c_ + 3] = SHUFFLE(t[c_ + 1], t[c_ + 3], 0xEE);                                      \
        }                                                                                         \
    } while (0)
/* the bytes of one block of k of a row of H: the panel's block (MR values
   per k) stays in the first-level cache while the pairs (and the passes
   over the panel's rows) reuse it, and H's block in the second-level one.
   2048 bytes (512 float32 terms), with column blocks of PANEL_WIDE = 256,
   against 1024 with 512: fewer passes of the accumulators through Y.
   Float32, Zen 5, one thread, GFLOP/s: (2048, 512) by 64 columns 253 ->
   263, by 256 253 -> 264, by 6400 246 -> 250, by 25600 239 -> 249; the
   weights' gradients, (2048, 25600) by 512, 248 -> 253; float64 by 64 121
   -> 126, by 25600 110 -> 117; the avx2 kernels 1 to 5% faster */
#define PANEL_KBYTES 2048
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

/* the panel's prefetch distance, in k: a weight that does not fit the
   cache otherwise comes from memory at the speed of the hardware's
   prefetch alone (float32, (4096, 1024) by 64 columns: 155 GFLOP/s
   without, 248 with; by 8 columns in the narrow kernel below, (4096, 2049):
   71 without, 196 with, 162 at 16 k ahead, 180 at 128; Zen 5, one thread) */
#define PANEL_PF 64
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
                            ptrdiff_t jb, ptrdiff_t je, const T *Hk, ptrdiff_t ldh)                 \
    {                                                                                              \
        const ptrdiff_t K = J->K, B = J->B, M = J->M, ldy = J->ldy;                                \
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
                const T *h = Hk + (j0 - jb);                                                       \
                V a[PANEL_PAIR_ROWS], b[PANEL_PAIR_ROWS];                                          \
                for (int i = 0; i < PANEL_PAIR_ROWS; i++) {                                        \
                    int live = r0 + i < rows;                                                      \
                    a[i] = live ? INIT(J, from_y, m0 + r0 + i, j0, VN) : SET((T)0);                \
                    b[i] = live ? INIT(J, from_y, m0 + r0 + i, j0 + VN, VN) : SET((T)0);           \
                }                                                                                  \
                const T *pk = Pk + r0;                                                             \
                for (ptrdiff_t k = 0; k < kn; k++, pk += MR, h += ldh) {                           \
                    __builtin_prefetch(pk + PANEL_PF * MR);                                          \
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
            const T *h = w == VN ? Hk + (j0 - jb) : (const T *)J->Htail + k0 * VN;                 \
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

/* While H is at most PANEL_WIDE columns and SIG_PANEL_HBYTES, each panel runs
   through all of k before the next (its rows of Y stay in cache).  A wider
   or longer H (a product over every step and batch column, such as the
   weights' gradients) is taken in column blocks of PANEL_WIDE, and within
   each, block of k by block of k over all the panels: the block of H
   (PANEL_KBYTES per row) then stays in the second-level cache while every
   panel reads it, where panel by panel the whole of H would stream from
   memory once per panel (a (1536, 25600) by (25600, 512) float32 product:
   72 GFLOP/s panel by panel, 231 in blocks, Zen 5, one thread).
   The block's rows lie a whole row of H apart (25 KB for 6400 float32
   columns), a page or more each, and their lines fall in a few sets of
   the first-level cache; from PANEL_COPY panels on, each block's whole
   vectors are first copied to a contiguous, aligned buffer of PANEL_KBYTES
   by PANEL_WIDE, read by every panel.  On one thread of an Intel Xeon VM
   (AVX-512 with AMX), (2048, 512) by 6400 columns: float32 132-137 ->
   146-161 GFLOP/s, float64 57-59 -> 67-71, the avx2 kernels 77-80 -> 89-93;
   (512, 512) by 6400 126-131 -> 143; with 48 rows (4 panels) 109 -> 114
   and 41 -> 55 (float64).  Each output is still the sum over k in order,
   so the bits are the same either way. */
#define PANEL_WIDE SIG_PANEL_WIDE
#define PANEL_COPY SIG_PANEL_COPY

#define PANEL_KERNEL(NAME, BLOCK, T, VN)                                                            \
    static void NAME(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)                           \
    {                                                                                              \
        const ptrdiff_t K = J->K, B = J->B, ldh = J->ldh;                                          \
        const ptrdiff_t KB = PANEL_KBYTES / (ptrdiff_t)sizeof(T);                                  \
        const T *H = (const T *)J->H;                                                              \
        /* K == 0 still sets Y (to C or zero): one empty block of k */                             \
        if (!SIG_PANEL_IS_WIDE(B, K, sizeof(T))) {                                                 \
            for (ptrdiff_t p = p0; p < p1; p++)                                                    \
                for (ptrdiff_t k0 = 0; k0 < K || (k0 == 0 && K == 0); k0 += KB)                    \
                    BLOCK(J, p, k0, K - k0 < KB ? K - k0 : KB, 0, B, H + k0 * ldh, ldh);            \
            return;                                                                                \
        }                                                                                          \
        const ptrdiff_t full = B - B % VN;                                                         \
        /* without memory for the copy, the blocks are read where they are */                    \
        T *copy = p1 - p0 >= PANEL_COPY ? aligned_alloc(64, KB * PANEL_WIDE * sizeof(T)) : NULL;  \
        for (ptrdiff_t jb = 0; jb < B; jb += PANEL_WIDE) {                                         \
            const ptrdiff_t je = B - jb < PANEL_WIDE ? B : jb + PANEL_WIDE;                        \
            const ptrdiff_t jf = je < full ? je : full;                                            \
            for (ptrdiff_t k0 = 0; k0 < K || (k0 == 0 && K == 0); k0 += KB) {                      \
                const ptrdiff_t kn = K - k0 < KB ? K - k0 : KB;                                    \
                const T *Hk = H + k0 * ldh + jb;                                                   \
                ptrdiff_t ld = ldh;                                                                \
                if (copy != NULL && jf > jb) {                                                     \
                    sig_copy_rows(copy, PANEL_WIDE * (ptrdiff_t)sizeof(T), Hk, ldh * (ptrdiff_t)sizeof(T), \
                                  kn, (size_t)(jf - jb) * sizeof(T));                               \
                    Hk = copy;                                                                     \
                    ld = PANEL_WIDE;                                                               \
                }                                                                                  \
                for (ptrdiff_t p = p0; p < p1; p++) BLOCK(J, p, k0, kn, jb, je, Hk, ld);            \
            }                                                                                      \
        }                                                                                          \
        free(copy);                                                                                \
    }

PANEL_INIT(panel_init_f32, float, vf, VF_N, vf_load, vf_set)
PANEL_INIT(panel_init_f64, double, vd, VD_N, vd_load, vd_set)
PANEL_BLOCK(panel_block_f32, panel_init_f32, float, vf, VF_N, vf_load, vf_store, vf_set, vf_fma)
PANEL_BLOCK(panel_block_f64, panel_init_f64, double, vd, VD_N, vd_load, vd_store, vd_set, vd_fma)
PANEL_KERNEL(panel_f32, panel_block_f32, float, VF_N)
PANEL_KERNEL(panel_f64, panel_block_f64, double, VD_N)

#if SIG_ISA == SIG_ISA_AVX512
/*
 * A narrow batch (at most SIG_PANEL_NARROW columns) fills few lanes of a
 * vector that runs along it: eight float32 columns are half of AVX-512's
 * sixteen lanes (107 GFLOP/s for the (2048, 1025) weight by 8 columns, Zen
 * 5, one thread).  Here the vectors run along the weight's rows instead.
 * A group of G adjacent panels (four of float32, two of float64) holds 12 G
 * consecutive rows, three whole vectors, each loaded from one or two
 * panels with masks; each of H's values of a k is broadcast and multiplies
 * the three vectors into one accumulator per vector and column, 3 NB in
 * all (245 GFLOP/s for the shape above).  The accumulators start from C
 * (or zero) and take every k in order, one FMA per term, so each output is
 * the same sum, rounded the same, as in the kernel above.  H's K rows of NB
 * values are read once per group and stay in the first- or second-level
 * cache, so k is not blocked.  Panels left over (fewer than a group) run
 * one at a time.
 */
/* Eight columns of a block of C or Y to and from row vectors, in
   registers (a scalar copy through a buffer cost 10% of a product by eight
   columns with a full C, K = 512).  The network transposes each 8 x 8
   block whose columns are the eight vectors' 256-bit halves (float32, 16
   rows) or whole vectors (float64, 8 rows); the transpose of a transpose
   is the block, so the one network serves both ways.  After it, v[r] holds
   rows r and r + 8 (float32) or row r (float64). */
static inline __attribute__((always_inline)) void narrow_transpose_f32(__m512 v[8])
{
    __m512 t[8], u[8];
    TRANSPOSE8_LANES(v, t, u, _mm512_unpacklo_ps, _mm512_unpackhi_ps, _mm512_shuffle_ps);
    /* row r = 4 q + i: lanes q and q + 2 of u[i] and u[i + 4] */
    const __m512i q0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i q1 = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int i = 0; i < 4; i++) {
        v[i] = _mm512_permutex2var_ps(u[i], q0, u[i + 4]);
        v[i + 4] = _mm512_permutex2var_ps(u[i], q1, u[i + 4]);
    }
}

static inline __attribute__((always_inline)) void narrow_transpose_f64(__m512d v[8])
{
    __m512d t[8], s[8];
    for (int m = 0; m < 4; m++) {
        t[2 * m] = _mm512_unpacklo_pd(v[2 * m], v[2 * m + 1]);     /* rows 2L, columns 2m, 2m + 1 */
        t[2 * m + 1] = _mm512_unpackhi_pd(v[2 * m], v[2 * m + 1]); /* rows 2L + 1 */
    }
    /* s[2 e + f] from rows of parity e, columns 4 f to 4 f + 3: rows 0 and 2
       (or 1 and 3) and then rows 4 and 6 (5 and 7) */
    for (int e = 0; e < 2; e++)
        for (int f = 0; f < 2; f++) {
            s[4 * e + 2 * f] = _mm512_shuffle_f64x2(t[4 * f + e], t[4 * f + e + 2], 0x44);
            s[4 * e + 2 * f + 1] = _mm512_shuffle_f64x2(t[4 * f + e], t[4 * f + e + 2], 0xEE);
        }
    for (int e = 0; e < 2; e++)
        for (int g = 0; g < 2; g++) {
            v[4 * g + e] = _mm512_shuffle_f64x2(s[4 * e + g], s[4 * e + 2 + g], 0x88);
            v[4 * g + e + 2] = _mm512_shuffle_f64x2(s[4 * e + g], s[4 * e + 2 + g], 0xDD);
        }
}

static inline __attribute__((always_inline)) void narrow_put_f32(float *Y, ptrdiff_t ld, int r, __m512 v)
{
    _mm256_storeu_ps(Y + r * ld, _mm512_castps512_ps256(v));
    _mm256_storeu_pd((double *)(Y + (r + 8) * ld), _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

static inline __attribute__((always_inline)) __m512 narrow_get_f32(const float *C, ptrdiff_t ld, int r)
{
    __m512d lo = _mm512_castpd256_pd512(_mm256_loadu_pd((const double *)(C + r * ld)));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_loadu_pd((const double *)(C + (r + 8) * ld)), 1));
}

static inline __attribute__((always_inline)) void narrow_put_f64(double *Y, ptrdiff_t ld, int r, __m512d v)
{
    _mm512_storeu_pd(Y + r * ld, v);
}

static inline __attribute__((always_inline)) __m512d narrow_get_f64(const double *C, ptrdiff_t ld, int r)
{
    return _mm512_loadu_pd(C + r * ld);
}

#define NARROW_KERNEL(NAME, T, V, VN, MT, G, LOADU, MASKZ_LOADU, MASK_LOADU, STOREU, SET, FMA, TR, PUT, GET) \
    /* group rows r0 to r0 + VN - 1 at k: from the panel holding r0 and, past its                          \
       last row, from the next one (panels beyond the group's g give zeros) */                             \
    static inline __attribute__((always_inline)) V NAME##_load(const T *const *pp, ptrdiff_t kk, int r0,  \
                                                              int g)                                     \
    {                                                                                                    \
        const int a = r0 / MR, off = r0 % MR, n1 = MR - off;                                             \
        if (n1 >= VN) return LOADU(pp[a] + kk + off);                                                    \
        V v = MASKZ_LOADU((MT)((1u << n1) - 1u), pp[a] + kk + off);                                      \
        if (a + 1 >= g) return v;                                                                        \
        /* lane n1 is the next panel's first row: its k starts n1 lanes in */                            \
        return MASK_LOADU(v, (MT)~((1u << n1) - 1u), pp[a + 1] + kk - n1);                               \
    }                                                                                                    \
    /* the first value of column j's accumulator of group rows r0 to r0 + VN - 1 */                       \
    static inline __attribute__((always_inline)) V NAME##_init(const sig_panel_job *J, ptrdiff_t m0,      \
                                                              ptrdiff_t rows, int r0, int j)             \
    {                                                                                                    \
        const T *C = (const T *)J->C;                                                                    \
        if (C == NULL) return SET((T)0);                                                                 \
        T buf[VN];                                                                                       \
        for (int l = 0; l < VN; l++)                                                                     \
            buf[l] = r0 + l < rows ? C[(m0 + r0 + l) * J->ldc + j * J->ccs] : (T)0;                       \
        return LOADU(buf);                                                                               \
    }                                                                                                    \
    static inline __attribute__((always_inline)) void NAME##_out(const sig_panel_job *J, ptrdiff_t m0,    \
                                                                ptrdiff_t rows, int r0, int j, V a)      \
    {                                                                                                    \
        T buf[VN], *Y = (T *)J->Y;                                                                       \
        STOREU(buf, a);                                                                                  \
        for (int l = 0; l < VN && r0 + l < rows; l++) Y[(m0 + r0 + l) * J->ldy + j] = buf[l];            \
    }                                                                                                    \
    /* the NB accumulators of group rows r0 to r0 + VN - 1, from C (or zero) */                          \
    static inline __attribute__((always_inline)) void NAME##_start(const sig_panel_job *J, ptrdiff_t m0,  \
                                                                  ptrdiff_t rows, int r0, const int NB,  \
                                                                  V *a)                                   \
    {                                                                                                    \
        if (NB == 8 && J->C != NULL && J->ccs != 0 && r0 + VN <= rows) {                                 \
            const T *C = (const T *)J->C + (m0 + r0) * J->ldc;                                           \
            for (int r = 0; r < 8; r++) a[r] = GET(C, J->ldc, r);                                        \
            TR(a);                                                                                       \
            return;                                                                                      \
        }                                                                                                \
        _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++)                                             \
            a[j] = j > 0 && J->ccs == 0 ? a[0] : NAME##_init(J, m0, rows, r0, j);                        \
    }                                                                                                    \
    /* ... and out to Y */                                                                              \
    static inline __attribute__((always_inline)) void NAME##_finish(const sig_panel_job *J, ptrdiff_t m0, \
                                                                   ptrdiff_t rows, int r0, const int NB, \
                                                                   V *a)                                  \
    {                                                                                                    \
        if (NB == 8 && r0 + VN <= rows) {                                                                \
            TR(a);                                                                                       \
            for (int r = 0; r < 8; r++) PUT((T *)J->Y + (m0 + r0) * J->ldy, J->ldy, r, a[r]);           \
            return;                                                                                      \
        }                                                                                                \
        _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) NAME##_out(J, m0, rows, r0, j, a[j]);       \
    }                                                                                                    \
    /* one array of accumulators per vector: the compiler keeps each in registers */                     \
    static inline __attribute__((always_inline)) void NAME##_group(const sig_panel_job *J, ptrdiff_t p,   \
                                                                  const int g, const int NB)              \
    {                                                                                                    \
        const ptrdiff_t K = J->K, M = J->M, ldh = J->ldh;                                                \
        const int nv = (g * MR + VN - 1) / VN;                                                           \
        const ptrdiff_t m0 = p * MR;                                                                     \
        const ptrdiff_t rows = M - m0 < g * MR ? M - m0 : g * MR;                                        \
        const T *pp[G];                                                                                  \
        for (int a = 0; a < g; a++) pp[a] = (const T *)J->P + (p + a) * K * MR;                          \
        V a0[SIG_PANEL_NARROW], a1[SIG_PANEL_NARROW], a2[SIG_PANEL_NARROW];                              \
        NAME##_start(J, m0, rows, 0, NB, a0);                                                            \
        if (nv > 1) NAME##_start(J, m0, rows, VN, NB, a1);                                               \
        if (nv > 2) NAME##_start(J, m0, rows, 2 * VN, NB, a2);                                           \
        const T *h = (const T *)J->H;                                                                    \
        for (ptrdiff_t k = 0; k < K; k++, h += ldh) {                                                    \
            /* each panel of the group is a stream of its own; past the end of                      \
               its panel it goes on at the start of the same panel of the next group */                 \
            const ptrdiff_t kp = k + PANEL_PF < K ? k + PANEL_PF : k + PANEL_PF + (G - 1) * K;            \
            for (int a = 0; a < g; a++) _mm_prefetch((const char *)(pp[a] + kp * MR), _MM_HINT_T0);      \
            const V w0 = NAME##_load(pp, k * MR, 0, g);                                                  \
            const V w1 = nv > 1 ? NAME##_load(pp, k * MR, VN, g) : w0;                                   \
            const V w2 = nv > 2 ? NAME##_load(pp, k * MR, 2 * VN, g) : w0;                               \
            _Pragma("GCC unroll 8") for (int j = 0; j < NB; j++) {                                       \
                const V hb = SET(h[j]);                                                                  \
                a0[j] = FMA(w0, hb, a0[j]);                                                              \
                if (nv > 1) a1[j] = FMA(w1, hb, a1[j]);                                                  \
                if (nv > 2) a2[j] = FMA(w2, hb, a2[j]);                                                  \
            }                                                                                            \
        }                                                                                                \
        NAME##_finish(J, m0, rows, 0, NB, a0);                                                           \
        if (nv > 1) NAME##_finish(J, m0, rows, VN, NB, a1);                                              \
        if (nv > 2) NAME##_finish(J, m0, rows, 2 * VN, NB, a2);                                          \
    }                                                                                                    \
    static inline __attribute__((always_inline)) void NAME##_run(const sig_panel_job *J, ptrdiff_t p0,    \
                                                                ptrdiff_t p1, const int NB)               \
    {                                                                                                    \
        ptrdiff_t p = p0;                                                                                \
        for (; p + G <= p1; p += G) NAME##_group(J, p, G, NB);                                           \
        for (; p < p1; p++) NAME##_group(J, p, 1, NB);                                                   \
    }                                                                                                    \
    static void NAME(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)                                 \
    {                                                                                                    \
        switch (J->B) {                                                                                  \
        case 1: NAME##_run(J, p0, p1, 1); break;                                                         \
        case 2: NAME##_run(J, p0, p1, 2); break;                                                         \
        case 3: NAME##_run(J, p0, p1, 3); break;                                                         \
        case 4: NAME##_run(J, p0, p1, 4); break;                                                         \
        case 5: NAME##_run(J, p0, p1, 5); break;                                                         \
        case 6: NAME##_run(J, p0, p1, 6); break;                                                         \
        case 7: NAME##_run(J, p0, p1, 7); break;                                                         \
        default: NAME##_run(J, p0, p1, 8); break;                                                        \
        }                                                                                                \
    }

NARROW_KERNEL(narrow_f32, float, __m512, 16, __mmask16, 4, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
              _mm512_mask_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps, narrow_transpose_f32,
              narrow_put_f32, narrow_get_f32)
NARROW_KERNEL(narrow_f64, double, __m512d, 8, __mmask8, 2, _mm512_loadu_pd, _mm512_maskz_loadu_pd,
              _mm512_mask_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd, narrow_transpose_f64,
              narrow_put_f64, narrow_get_f64)

void SIG_ISA_NAME(sig_panel_narrow_kernel)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)
{
    if (J->f32) narrow_f32(J, p0, p1);
    else narrow_f64(J, p0, p1);
}
#endif

/* d[r ld_d + c] = s[c ld_s + r] for r < R, c < C: a transposing copy, in
   tiles of 32 x 32 whose lines stay in the first-level cache, and within
   them blocks of 8 x 8 floats or 4 x 4 doubles transposed in registers
   where there are vectors of that width (panel.c's _copy_tiled). */
#define TRANSPOSE_TILE 32

#if SIG_ISA >= SIG_ISA_AVX2
static inline __attribute__((always_inline)) void block8_f32(float *d, ptrdiff_t ldd, const float *s,
                                                              ptrdiff_t lds)
{
    __m256 v[8], t[8], u[8];
    for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_ps(s + i * lds);
    TRANSPOSE8_LANES(v, t, u, _mm256_unpacklo_ps, _mm256_unpackhi_ps, _mm256_shuffle_ps);
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + i * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

static inline __attribute__((always_inline)) void block4_f64(double *d, ptrdiff_t ldd, const double *s,
                                                              ptrdiff_t lds)
{
    __m256d v0 = _mm256_loadu_pd(s), v1 = _mm256_loadu_pd(s + lds);
    __m256d v2 = _mm256_loadu_pd(s + 2 * lds), v3 = _mm256_loadu_pd(s + 3 * lds);
    __m256d t0 = _mm256_unpacklo_pd(v0, v1), t1 = _mm256_unpackhi_pd(v0, v1);
    __m256d t2 = _mm256_unpacklo_pd(v2, v3), t3 = _mm256_unpackhi_pd(v2, v3);
    _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(d + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(d + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(d + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#define BLOCK_F32 8
#define BLOCK_F64 4
#else
#define BLOCK_F32 0
#define BLOCK_F64 0
#define block8_f32(d, ldd, s, lds) ((void)0)
#define block4_f64(d, ldd, s, lds) ((void)0)
#endif

#define TRANSPOSE(NAME, T, NB, BLOCK)                                                                 \
    void SIG_ISA_NAME(NAME)(T *d, ptrdiff_t ldd, const T *s, ptrdiff_t lds, ptrdiff_t R, ptrdiff_t C) \
    {                                                                                                \
        for (ptrdiff_t r0 = 0; r0 < R; r0 += TRANSPOSE_TILE)                                         \
            for (ptrdiff_t c0 = 0; c0 < C; c0 += TRANSPOSE_TILE) {                                   \
                const ptrdiff_t r1 = R - r0 < TRANSPOSE_TILE ? R : r0 + TRANSPOSE_TILE;              \
                const ptrdiff_t c1 = C - c0 < TRANSPOSE_TILE ? C : c0 + TRANSPOSE_TILE;              \
                ptrdiff_t rb = r0, cb = c0;                                                          \
                if (NB > 0) {                                                                        \
                    rb = r0 + (r1 - r0) / (NB > 0 ? NB : 1) * NB;                                    \
                    cb = c0 + (c1 - c0) / (NB > 0 ? NB : 1) * NB;                                    \
                    for (ptrdiff_t r = r0; r < rb; r += NB)                                          \
                        for (ptrdiff_t c = c0; c < cb; c += NB) BLOCK(d + r * ldd + c, ldd, s + c * lds + r, lds); \
                }                                                                                    \
                /* the edges: rows past the blocks, and the blocks' rows past their columns */      \
                for (ptrdiff_t r = r0; r < r1; r++)                                                  \
                    for (ptrdiff_t c = r < rb ? cb : c0; c < c1; c++) d[r * ldd + c] = s[c * lds + r];  \
            }                                                                                        \
    }

TRANSPOSE(sig_transpose_f32, float, BLOCK_F32, block8_f32)
TRANSPOSE(sig_transpose_f64, double, BLOCK_F64, block4_f64)

void SIG_ISA_NAME(sig_panel_kernel)(const sig_panel_job *J, ptrdiff_t p0, ptrdiff_t p1)
{
    if (J->f32) panel_f32(J, p0, p1);
    else panel_f64(J, p0, p1);
}
