/*
 * The contiguous kernels of one instruction set.  This file is compiled once
 * per instruction set with SIG_ISA set (see meson.build); each compilation
 * exports one sig_kernel_table.
 */
#include <string.h>

#include "kernels.h"
#include "vlogistic.h"
#include "vfamily.h"

#if SIG_ISA == SIG_ISA_AVX512
#define TABLE sig_kernels_avx512
#define ISA_NAME "avx512"
#elif SIG_ISA == SIG_ISA_AVX2
#define TABLE sig_kernels_avx2
#define ISA_NAME "avx2"
#else
#define TABLE sig_kernels_portable
#define ISA_NAME "portable"
#endif

/*
 * Drivers: whole vectors, then the tail through a zero-padded vector on the
 * stack.  x and y may be the same array (each vector is loaded before it is
 * stored), but must not otherwise overlap.
 */
#define UNARY(NAME, T, N, LOAD, STORE, FN)                                  \
    static void NAME(const T *x, T *y, ptrdiff_t n)                         \
    {                                                                       \
        ptrdiff_t i = 0;                                                    \
        for (; i + N <= n; i += N) STORE(y + i, FN(LOAD(x + i)));           \
        if (i < n) {                                                        \
            T bx[N], by[N];                                                 \
            memset(bx, 0, sizeof bx);                                       \
            memcpy(bx, x + i, (size_t)(n - i) * sizeof(T));                 \
            STORE(by, FN(LOAD(bx)));                                        \
            memcpy(y + i, by, (size_t)(n - i) * sizeof(T));                 \
        }                                                                   \
    }

#define BINARY(NAME, T, N, LOAD, STORE, FN)                                 \
    static void NAME(const T *x, const T *g, T *y, ptrdiff_t n)             \
    {                                                                       \
        ptrdiff_t i = 0;                                                    \
        for (; i + N <= n; i += N)                                          \
            STORE(y + i, FN(LOAD(x + i), LOAD(g + i)));                     \
        if (i < n) {                                                        \
            T bx[N], bg[N], by[N];                                          \
            memset(bx, 0, sizeof bx);                                       \
            memset(bg, 0, sizeof bg);                                       \
            memcpy(bx, x + i, (size_t)(n - i) * sizeof(T));                 \
            memcpy(bg, g + i, (size_t)(n - i) * sizeof(T));                 \
            STORE(by, FN(LOAD(bx), LOAD(bg)));                              \
            memcpy(y + i, by, (size_t)(n - i) * sizeof(T));                 \
        }                                                                   \
    }

#define U32(NAME, FN) UNARY(NAME, float, VF_N, vf_load, vf_store, FN)
#define U64(NAME, FN) UNARY(NAME, double, VD_N, vd_load, vd_store, FN)
#define B32(NAME, FN) BINARY(NAME, float, VF_N, vf_load, vf_store, FN)
#define B64(NAME, FN) BINARY(NAME, double, VD_N, vd_load, vd_store, FN)

/*
 * A three-stage software pipeline over `nvec` whole vectors, two vectors per
 * step: while a pair finishes (FIN), the next pair is in stage 2 and the pair
 * after it in stage 1.  The out-of-order core then finds ready operands for
 * almost every instruction it issues, instead of filling its window with a
 * single long dependency chain.  Stage 1 also ORs into the returned mask the
 * lanes that need a slower path (float kernels).  Reads run two pairs ahead
 * of writes, so y == x is safe.
 */
#define PIPELINE3(NAME, T, NV, LOAD, STORE, M, M0, T1, S1, T2, S2, FIN)          \
    static inline M NAME(const T *x, T *y, ptrdiff_t nvec)                       \
    {                                                                            \
        M w = M0;                                                                \
        ptrdiff_t np = nvec / 2, p = 0;                                          \
        if (np > 0) {                                                            \
            T2 b0 = S2(S1(LOAD(x), &w)), b1 = S2(S1(LOAD(x + NV), &w));          \
            if (np > 1) {                                                        \
                T1 a0 = S1(LOAD(x + 2 * NV), &w), a1 = S1(LOAD(x + 3 * NV), &w); \
                for (; p + 2 < np; p++) {                                        \
                    const T *xp = x + (p + 2) * 2 * NV;                          \
                    T1 c0 = S1(LOAD(xp), &w), c1 = S1(LOAD(xp + NV), &w);        \
                    T2 d0 = S2(a0), d1 = S2(a1);                                 \
                    STORE(y + p * 2 * NV, FIN(b0));                              \
                    STORE(y + p * 2 * NV + NV, FIN(b1));                         \
                    b0 = d0;                                                     \
                    b1 = d1;                                                     \
                    a0 = c0;                                                     \
                    a1 = c1;                                                     \
                }                                                                \
                T2 d0 = S2(a0), d1 = S2(a1);                                     \
                STORE(y + p * 2 * NV, FIN(b0));                                  \
                STORE(y + p * 2 * NV + NV, FIN(b1));                             \
                b0 = d0;                                                         \
                b1 = d1;                                                         \
                p++;                                                             \
            }                                                                    \
            STORE(y + p * 2 * NV, FIN(b0));                                      \
            STORE(y + p * 2 * NV + NV, FIN(b1));                                 \
        }                                                                        \
        if (nvec & 1) {                                                          \
            ptrdiff_t i = (nvec - 1) * NV;                                       \
            STORE(y + i, FIN(S2(S1(LOAD(x + i), &w))));                          \
        }                                                                        \
        return w;                                                                \
    }

/* Float kernels: the pipelined fast path over blocks, then the vectors with
 * a lane out of the fast range again through WIDE, from the input (copied
 * aside first when the call is in place).  The tail goes through WIDE. */
#define F_BLOCK (VF_N * 256)
#define FAST_WIDE_U32(NAME, PIPE, WIDE, NEEDS_WIDE)                             \
    static void NAME(const float *x, float *y, ptrdiff_t n)                     \
    {                                                                           \
        float saved[F_BLOCK], tail[VF_N];                                       \
        for (ptrdiff_t i0 = 0; i0 < n; i0 += F_BLOCK) {                         \
            ptrdiff_t m = n - i0 < F_BLOCK ? n - i0 : F_BLOCK;                  \
            ptrdiff_t mv = m / VF_N * VF_N;                                     \
            const float *src = x + i0;                                          \
            if (x == y) {                                                       \
                memcpy(saved, src, (size_t)m * sizeof(float));                  \
                src = saved;                                                    \
            }                                                                   \
            if (mf_any(PIPE(src, y + i0, mv / VF_N))) {                         \
                for (ptrdiff_t i = 0; i < mv; i += VF_N) {                      \
                    vf v = vf_load(src + i);                                    \
                    if (mf_any(NEEDS_WIDE(v))) vf_store(y + i0 + i, WIDE(v));   \
                }                                                               \
            }                                                                   \
            if (mv < m) {                                                       \
                memset(tail, 0, sizeof tail);                                   \
                memcpy(tail, src + mv, (size_t)(m - mv) * sizeof(float));       \
                vf_store(tail, WIDE(vf_load(tail)));                            \
                memcpy(y + i0 + mv, tail, (size_t)(m - mv) * sizeof(float));    \
            }                                                                   \
        }                                                                       \
    }

/* Double kernels: the pipeline over all whole vectors, the tail padded. */
#define PIPED_U64(NAME, PIPE, VEC)                                              \
    static void NAME(const double *x, double *y, ptrdiff_t n)                   \
    {                                                                           \
        ptrdiff_t nv = n / VD_N;                                                \
        PIPE(x, y, nv);                                                         \
        if (nv * VD_N < n) {                                                    \
            double t[VD_N];                                                     \
            ptrdiff_t i = nv * VD_N;                                            \
            memset(t, 0, sizeof t);                                             \
            memcpy(t, x + i, (size_t)(n - i) * sizeof(double));                 \
            vd_store(t, VEC(vd_load(t)));                                       \
            memcpy(y + i, t, (size_t)(n - i) * sizeof(double));                 \
        }                                                                       \
    }

#define F_NO_LANES vf_lt(vf_set(1.0f), vf_set(0.0f))
#define D_NO_LANES vd_lt(vd_set(1.0), vd_set(0.0))

SIG_INLINE mf needs_wide_logistic(vf x) { return vf_nle(vf_abs(x), vf_set(F_FAST_MAX)); }
SIG_INLINE vd_lg1 vd_lg_s1(vd x, md *w) { (void)w; return vd_lg_stage1(x); }

/* ------------------------------------------------------------------ sigma */

PIPELINE3(pipe_sigmoid_f32, float, VF_N, vf_load, vf_store, mf, F_NO_LANES,
          vf_lg1, vf_lg_stage1, vf_lg2, vf_lg_stage2, vf_sigmoid_fin)
FAST_WIDE_U32(k_sigmoid_f32, pipe_sigmoid_f32, vf_sigmoid_wide, needs_wide_logistic)

PIPELINE3(pipe_sigmoid_f64, double, VD_N, vd_load, vd_store, md, D_NO_LANES,
          vd_lg1, vd_lg_s1, vd_lg2, vd_lg_stage2, vd_sigmoid_fin)
PIPED_U64(k_sigmoid_f64, pipe_sigmoid_f64, vd_sigmoid)

const sig_kernel_table TABLE = {
    .isa = ISA_NAME,
    .u32 = {
        [SIG_SIGMOID] = k_sigmoid_f32,
    },
    .u64 = {
        [SIG_SIGMOID] = k_sigmoid_f64,
    },
};
