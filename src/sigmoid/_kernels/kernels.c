/*
 * The contiguous kernels of one instruction set.  This file is compiled once
 * per instruction set with SIG_ISA set (see meson.build); each compilation
 * exports one sig_kernel_table.
 */
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vlogistic.h"
#include "vfamily.h"
#include "vloss.h"
#include "vgate.h"

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
 * stack.  y may be x itself or trail it (y = x - d, d > 0: NumPy's uncopied
 * overlap), because every element is loaded before any later element is
 * stored; y must not lead x.
 */
#define UNARY(NAME, T, N, LOAD, STORE, STREAM, FN)                          \
    static void NAME(const T *x, T *y, ptrdiff_t n, int stream)             \
    {                                                                       \
        ptrdiff_t i = 0;                                                    \
        if (stream) {                                                       \
            for (; i + N <= n; i += N) STREAM(y + i, FN(LOAD(x + i)));      \
            sig_stream_fence();                                             \
        }                                                                   \
        for (; i + N <= n; i += N) STORE(y + i, FN(LOAD(x + i)));           \
        if (i < n) {                                                        \
            T bx[N], by[N];                                                 \
            memset(bx, 0, sizeof bx);                                       \
            memcpy(bx, x + i, (size_t)(n - i) * sizeof(T));                 \
            STORE(by, FN(LOAD(bx)));                                        \
            memcpy(y + i, by, (size_t)(n - i) * sizeof(T));                 \
        }                                                                   \
    }

#define BINARY(NAME, T, N, LOAD, STORE, STREAM, FN)                         \
    static void NAME(const T *x, const T *g, T *y, ptrdiff_t n, int stream) \
    {                                                                       \
        ptrdiff_t i = 0;                                                    \
        if (stream) {                                                       \
            for (; i + N <= n; i += N)                                      \
                STREAM(y + i, FN(LOAD(x + i), LOAD(g + i)));                \
            sig_stream_fence();                                             \
        }                                                                   \
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

#define U32(NAME, FN) UNARY(NAME, float, VF_N, vf_load, vf_store, vf_stream, FN)
#define U64(NAME, FN) UNARY(NAME, double, VD_N, vd_load, vd_store, vd_stream, FN)
#define B32(NAME, FN) BINARY(NAME, float, VF_N, vf_load, vf_store, vf_stream, FN)
#define B64(NAME, FN) BINARY(NAME, double, VD_N, vd_load, vd_store, vd_stream, FN)

/*
 * A three-stage software pipeline over `nvec` whole vectors, two vectors per
 * step: while a pair finishes (FIN), the next pair is in stage 2 and the pair
 * after it in stage 1.  The out-of-order core then finds ready operands for
 * almost every instruction it issues, instead of filling its window with a
 * single long dependency chain.  Stage 1 also ORs into the returned mask the
 * lanes that need a slower path (float kernels).  Reads run two pairs ahead
 * of writes, so y may be x or trail it.
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

/* The same for functions of (x, g): stage 1 sees both (for the range mask),
 * FIN receives g again. */
#define PIPELINE3B(NAME, T, NV, LOAD, STORE, M, M0, T1, S1, T2, S2, FIN)         \
    static inline M NAME(const T *x, const T *g, T *y, ptrdiff_t nvec)           \
    {                                                                            \
        M w = M0;                                                                \
        ptrdiff_t np = nvec / 2, p = 0;                                          \
        if (np > 0) {                                                            \
            T2 b0 = S2(S1(LOAD(x), LOAD(g), &w));                                \
            T2 b1 = S2(S1(LOAD(x + NV), LOAD(g + NV), &w));                      \
            if (np > 1) {                                                        \
                T1 a0 = S1(LOAD(x + 2 * NV), LOAD(g + 2 * NV), &w);              \
                T1 a1 = S1(LOAD(x + 3 * NV), LOAD(g + 3 * NV), &w);              \
                for (; p + 2 < np; p++) {                                        \
                    ptrdiff_t o = (p + 2) * 2 * NV, q = p * 2 * NV;              \
                    T1 c0 = S1(LOAD(x + o), LOAD(g + o), &w);                    \
                    T1 c1 = S1(LOAD(x + o + NV), LOAD(g + o + NV), &w);          \
                    T2 d0 = S2(a0), d1 = S2(a1);                                 \
                    STORE(y + q, FIN(b0, LOAD(g + q)));                          \
                    STORE(y + q + NV, FIN(b1, LOAD(g + q + NV)));                \
                    b0 = d0;                                                     \
                    b1 = d1;                                                     \
                    a0 = c0;                                                     \
                    a1 = c1;                                                     \
                }                                                                \
                T2 d0 = S2(a0), d1 = S2(a1);                                     \
                STORE(y + p * 2 * NV, FIN(b0, LOAD(g + p * 2 * NV)));            \
                STORE(y + p * 2 * NV + NV, FIN(b1, LOAD(g + p * 2 * NV + NV)));  \
                b0 = d0;                                                         \
                b1 = d1;                                                         \
                p++;                                                             \
            }                                                                    \
            STORE(y + p * 2 * NV, FIN(b0, LOAD(g + p * 2 * NV)));                \
            STORE(y + p * 2 * NV + NV, FIN(b1, LOAD(g + p * 2 * NV + NV)));      \
        }                                                                        \
        if (nvec & 1) {                                                          \
            ptrdiff_t i = (nvec - 1) * NV;                                       \
            STORE(y + i, FIN(S2(S1(LOAD(x + i), LOAD(g + i), &w)), LOAD(g + i))); \
        }                                                                        \
        return w;                                                                \
    }

/* whether m floats at a and at b share memory */
SIG_INLINE int f_overlap(const float *a, const float *b, ptrdiff_t m)
{
    return (uintptr_t)a < (uintptr_t)(b + m) && (uintptr_t)b < (uintptr_t)(a + m);
}

/* Float kernels: the pipelined fast path over blocks (the tail padded with
 * zeros into one more vector), then only the lanes out of the fast range are
 * recomputed by WIDE, from the input (copied aside first when the output
 * overlaps it: in place, or trailing it as NumPy allows), and blended into
 * the fast results.  Each result therefore depends
 * on its own input only, never on its neighbours or its position.  Blocks
 * are long because starting and draining the pipeline costs several hundred
 * cycles. */
#define F_BLOCK (VF_N * 1024)
#define FAST_WIDE_U32(NAME, PIPE, WIDE, NEEDS_WIDE)                             \
    static void NAME(const float *x, float *y, ptrdiff_t n, int stream)         \
    {                                                                           \
        float saved[F_BLOCK + VF_N], out[VF_N];                                 \
        for (ptrdiff_t i0 = 0; i0 < n; i0 += F_BLOCK) {                         \
            ptrdiff_t m = n - i0 < F_BLOCK ? n - i0 : F_BLOCK;                  \
            ptrdiff_t mv = m / VF_N * VF_N, nv = (m + VF_N - 1) / VF_N;         \
            const float *src = x + i0;                                          \
            float *dst = y + i0;                                                \
            if (f_overlap(src, dst, m) || mv < m) {                             \
                memcpy(saved, src, (size_t)m * sizeof(float));                  \
                memset(saved + m, 0, (size_t)(nv * VF_N - m) * sizeof(float));  \
                src = saved;                                                    \
            }                                                                   \
            mf wide = stream ? PIPE##_nt(src, dst, mv / VF_N)                   \
                             : PIPE(src, dst, mv / VF_N);                       \
            if (stream) sig_stream_fence();                                     \
            if (mv < m) {                                                       \
                wide = mf_or(wide, PIPE(src + mv, out, 1));                     \
                memcpy(dst + mv, out, (size_t)(m - mv) * sizeof(float));        \
            }                                                                   \
            if (!mf_any(wide)) continue;                                        \
            for (ptrdiff_t i = 0; i < nv * VF_N; i += VF_N) {                   \
                vf v = vf_load(src + i);                                        \
                mf w = NEEDS_WIDE(v);                                           \
                if (!mf_any(w)) continue;                                       \
                if (i < mv) {                                                   \
                    vf_store(dst + i, vf_sel(w, WIDE(v), vf_load(dst + i)));    \
                }                                                               \
                else {                                                          \
                    memcpy(out, dst + i, (size_t)(m - i) * sizeof(float));      \
                    vf_store(out, vf_sel(w, WIDE(v), vf_load(out)));            \
                    memcpy(dst + i, out, (size_t)(m - i) * sizeof(float));      \
                }                                                               \
            }                                                                   \
        }                                                                       \
    }

/* The same for functions of (x, g). */
#define FAST_WIDE_B32(NAME, PIPE, WIDE, NEEDS_WIDE)                             \
    static void NAME(const float *x, const float *g, float *y, ptrdiff_t n,     \
                     int stream)                                                \
    {                                                                           \
        float sx[F_BLOCK + VF_N], sg[F_BLOCK + VF_N], out[VF_N];                \
        for (ptrdiff_t i0 = 0; i0 < n; i0 += F_BLOCK) {                         \
            ptrdiff_t m = n - i0 < F_BLOCK ? n - i0 : F_BLOCK;                  \
            ptrdiff_t mv = m / VF_N * VF_N, nv = (m + VF_N - 1) / VF_N;         \
            const float *px = x + i0, *pg = g + i0;                             \
            float *dst = y + i0;                                                \
            size_t pad = (size_t)(nv * VF_N - m) * sizeof(float);               \
            if (f_overlap(px, dst, m) || mv < m) {                              \
                memcpy(sx, px, (size_t)m * sizeof(float));                      \
                memset(sx + m, 0, pad);                                         \
                px = sx;                                                        \
            }                                                                   \
            if (f_overlap(pg, dst, m) || mv < m) {                              \
                memcpy(sg, pg, (size_t)m * sizeof(float));                      \
                memset(sg + m, 0, pad);                                         \
                pg = sg;                                                        \
            }                                                                   \
            mf wide = stream ? PIPE##_nt(px, pg, dst, mv / VF_N)                \
                             : PIPE(px, pg, dst, mv / VF_N);                    \
            if (stream) sig_stream_fence();                                     \
            if (mv < m) {                                                       \
                wide = mf_or(wide, PIPE(px + mv, pg + mv, out, 1));             \
                memcpy(dst + mv, out, (size_t)(m - mv) * sizeof(float));        \
            }                                                                   \
            if (!mf_any(wide)) continue;                                        \
            for (ptrdiff_t i = 0; i < nv * VF_N; i += VF_N) {                   \
                vf v = vf_load(px + i), w = vf_load(pg + i);                    \
                mf k = NEEDS_WIDE(v, w);                                        \
                if (!mf_any(k)) continue;                                       \
                if (i < mv) {                                                   \
                    vf_store(dst + i, vf_sel(k, WIDE(v, w), vf_load(dst + i))); \
                }                                                               \
                else {                                                          \
                    memcpy(out, dst + i, (size_t)(m - i) * sizeof(float));      \
                    vf_store(out, vf_sel(k, WIDE(v, w), vf_load(out)));         \
                    memcpy(dst + i, out, (size_t)(m - i) * sizeof(float));      \
                }                                                               \
            }                                                                   \
        }                                                                       \
    }

/* Double kernels: the pipeline over all whole vectors, the tail padded. */
#define PIPED_U64(NAME, PIPE, VEC)                                              \
    static void NAME(const double *x, double *y, ptrdiff_t n, int stream)       \
    {                                                                           \
        ptrdiff_t nv = n / VD_N;                                                \
        if (stream) {                                                           \
            PIPE##_nt(x, y, nv);                                                \
            sig_stream_fence();                                                 \
        }                                                                       \
        else PIPE(x, y, nv);                                                    \
        if (nv * VD_N < n) {                                                    \
            double t[VD_N];                                                     \
            ptrdiff_t i = nv * VD_N;                                            \
            memset(t, 0, sizeof t);                                             \
            memcpy(t, x + i, (size_t)(n - i) * sizeof(double));                 \
            vd_store(t, VEC(vd_load(t)));                                       \
            memcpy(y + i, t, (size_t)(n - i) * sizeof(double));                 \
        }                                                                       \
    }

#define PIPED_B64(NAME, PIPE, VEC)                                              \
    static void NAME(const double *x, const double *g, double *y, ptrdiff_t n,  \
                     int stream)                                                \
    {                                                                           \
        ptrdiff_t nv = n / VD_N;                                                \
        if (stream) {                                                           \
            PIPE##_nt(x, g, y, nv);                                             \
            sig_stream_fence();                                                 \
        }                                                                       \
        else PIPE(x, g, y, nv);                                                 \
        if (nv * VD_N < n) {                                                    \
            double tx[VD_N], tg[VD_N];                                          \
            ptrdiff_t i = nv * VD_N;                                            \
            memset(tx, 0, sizeof tx);                                           \
            memset(tg, 0, sizeof tg);                                           \
            memcpy(tx, x + i, (size_t)(n - i) * sizeof(double));                \
            memcpy(tg, g + i, (size_t)(n - i) * sizeof(double));                \
            vd_store(tx, VEC(vd_load(tx), vd_load(tg)));                        \
            memcpy(y + i, tx, (size_t)(n - i) * sizeof(double));                \
        }                                                                       \
    }

#define F_NO_LANES vf_lt(vf_set(1.0f), vf_set(0.0f))
#define D_NO_LANES vd_lt(vd_set(1.0), vd_set(0.0))


/* each pipeline with plain stores, and its twin NAME_nt with streaming stores */
#define PIPELINES_U32(NAME, ...)                                                \
    PIPELINE3(NAME, float, VF_N, vf_load, vf_store, mf, F_NO_LANES, __VA_ARGS__) \
    PIPELINE3(NAME##_nt, float, VF_N, vf_load, vf_stream, mf, F_NO_LANES, __VA_ARGS__)
#define PIPELINES_U64(NAME, ...)                                                \
    PIPELINE3(NAME, double, VD_N, vd_load, vd_store, md, D_NO_LANES, __VA_ARGS__) \
    PIPELINE3(NAME##_nt, double, VD_N, vd_load, vd_stream, md, D_NO_LANES, __VA_ARGS__)
#define PIPELINES_B32(NAME, ...)                                                \
    PIPELINE3B(NAME, float, VF_N, vf_load, vf_store, mf, F_NO_LANES, __VA_ARGS__) \
    PIPELINE3B(NAME##_nt, float, VF_N, vf_load, vf_stream, mf, F_NO_LANES, __VA_ARGS__)
#define PIPELINES_B64(NAME, ...)                                                \
    PIPELINE3B(NAME, double, VD_N, vd_load, vd_store, md, D_NO_LANES, __VA_ARGS__) \
    PIPELINE3B(NAME##_nt, double, VD_N, vd_load, vd_stream, md, D_NO_LANES, __VA_ARGS__)

/* lanes the float fast paths cannot take: |x| beyond F_FAST_MAX, inf, nan;
 * for the gradients also a grad_output that could overflow an intermediate */
SIG_INLINE mf needs_wide_logistic(vf x) { return vf_nle(vf_abs(x), vf_set(F_FAST_MAX)); }
#define DEFINE_NEEDS_WIDE_G(NAME, GMAX)                                              \
    SIG_INLINE mf NAME(vf x, vf g)                                                   \
    {                                                                                \
        return mf_or(vf_nle(vf_abs(x), vf_set(F_FAST_MAX)), vf_nle(vf_abs(g), vf_set(GMAX))); \
    }                                                                                \
    SIG_INLINE vf_lg1 NAME##_s1(vf x, vf g, mf *w)                                   \
    {                                                                                \
        *w = mf_or(*w, vf_nle(vf_abs(g), vf_set(GMAX)));                             \
        return vf_lg_stage1(x, w);                                                   \
    }
DEFINE_NEEDS_WIDE_G(needs_wide_sbw, 0x1p126f)
DEFINE_NEEDS_WIDE_G(needs_wide_silubw, 0x1p120f)

SIG_INLINE vd_lg1 vd_lg_s1(vd x, md *w) { (void)w; return vd_lg_stage1(x); }
SIG_INLINE vd_lg1 vd_lg_s1b(vd x, vd g, md *w) { (void)w; (void)g; return vd_lg_stage1_grad(x); }

/* ------------------------------------------------------------------ sigma */

PIPELINES_U32(pipe_sigmoid_f32, vf_lg1, vf_lg_stage1, vf_lg2, vf_lg_stage2, vf_sigmoid_fin)
FAST_WIDE_U32(k_sigmoid_f32, pipe_sigmoid_f32, vf_sigmoid_wide, needs_wide_logistic)
PIPELINES_U64(pipe_sigmoid_f64, vd_lg1, vd_lg_s1, vd_lg2, vd_lg_stage2, vd_sigmoid_fin)
PIPED_U64(k_sigmoid_f64, pipe_sigmoid_f64, vd_sigmoid)

/* ------------------------------------------------------------------- silu */

PIPELINES_U32(pipe_silu_f32, vf_lg1, vf_lg_stage1, vf_lg2, vf_lg_stage2, vf_silu_fin)
FAST_WIDE_U32(k_silu_f32, pipe_silu_f32, vf_silu_wide, needs_wide_logistic)
PIPELINES_U64(pipe_silu_f64, vd_lg1, vd_lg_s1, vd_lg2, vd_lg_stage2, vd_silu_fin)
PIPED_U64(k_silu_f64, pipe_silu_f64, vd_silu)

/* ------------------------------------------------------ sigmoid_backward */

PIPELINES_B32(pipe_sbw_f32, vf_lg1, needs_wide_sbw_s1, vf_lg2, vf_lg_stage2, vf_sigmoid_backward_fin)
FAST_WIDE_B32(k_sigmoid_backward_f32, pipe_sbw_f32, vf_sigmoid_backward_wide, needs_wide_sbw)
PIPELINES_B64(pipe_sbw_f64, vd_lg1, vd_lg_s1b, vd_lg2, vd_lg_stage2, vd_sigmoid_backward_fin)
PIPED_B64(k_sigmoid_backward_f64, pipe_sbw_f64, vd_sigmoid_backward)

/* --------------------------------------------------------- silu_backward */

PIPELINES_B32(pipe_silubw_f32, vf_lg1, needs_wide_silubw_s1, vf_lg2, vf_lg_stage2, vf_silu_backward_fin)
FAST_WIDE_B32(k_silu_backward_f32, pipe_silubw_f32, vf_silu_backward_wide, needs_wide_silubw)
PIPELINES_B64(pipe_silubw_f64, vd_lg1, vd_lg_s1b, vd_lg2, vd_lg_stage2, vd_silu_backward_fin)
PIPED_B64(k_silu_backward_f64, pipe_silubw_f64, vd_silu_backward)

/* ------------------------------------------------ the log family, hard */

/* float log family: computed in double, pipelined around the division */
#define PIPED_U32(NAME, PIPE, VEC)                                              \
    static void NAME(const float *x, float *y, ptrdiff_t n, int stream)         \
    {                                                                           \
        ptrdiff_t nv = n / VF_N;                                                \
        if (stream) {                                                           \
            PIPE##_nt(x, y, nv);                                                \
            sig_stream_fence();                                                 \
        }                                                                       \
        else PIPE(x, y, nv);                                                    \
        if (nv * VF_N < n) {                                                    \
            float t[VF_N];                                                      \
            ptrdiff_t i = nv * VF_N;                                            \
            memset(t, 0, sizeof t);                                             \
            memcpy(t, x + i, (size_t)(n - i) * sizeof(float));                  \
            vf_store(t, VEC(vf_load(t)));                                       \
            memcpy(y + i, t, (size_t)(n - i) * sizeof(float));                  \
        }                                                                       \
    }

PIPELINES_U32(pipe_softplus_f32, vd2_div_t, vf_softplus_s1, vd2_s_t, vd2_divide, vf_softplus_fin)
PIPED_U32(k_softplus_f32, pipe_softplus_f32, vf_softplus)
PIPELINES_U32(pipe_log_sigmoid_f32, vd2_div_t, vf_log_sigmoid_s1, vd2_s_t, vd2_divide, vf_log_sigmoid_fin)
PIPED_U32(k_log_sigmoid_f32, pipe_log_sigmoid_f32, vf_log_sigmoid)
PIPELINES_U32(pipe_logit_f32, vd2_div_t, vf_logit_s1, vd2_s_t, vd2_divide, vf_logit_fin)
PIPED_U32(k_logit_f32, pipe_logit_f32, vf_logit)
U64(k_softplus_f64, vd_softplus)
U64(k_log_sigmoid_f64, vd_log_sigmoid)
U64(k_logit_f64, vd_logit)
U32(k_hard_sigmoid_f32, vf_hard_sigmoid)
U64(k_hard_sigmoid_f64, vd_hard_sigmoid)
B32(k_hard_sigmoid_backward_f32, vf_hard_sigmoid_backward)
B64(k_hard_sigmoid_backward_f64, vd_hard_sigmoid_backward)
B32(k_sbfo_f32, vf_sigmoid_backward_from_output)
B64(k_sbfo_f64, vd_sigmoid_backward_from_output)

/* ------------------------------------------------------------------ losses */

/*
 * The sum of the losses: a double-double per lane.  TwoSum gives each
 * addition's rounding error exactly, and the errors are summed in c, so a
 * lane's s + c is its exact sum to about n 2^-106 of the sum (the losses are
 * all >= 0: no cancellation).  The lanes and the tail are then combined in
 * scalar double-double, in a fixed order.
 */
typedef struct {
    vd s, c;
} vd_acc;

SIG_INLINE vd_acc acc_zero(void)
{
    vd_acc a;
    a.s = vd_set(0.0);
    a.c = vd_set(0.0);
    return a;
}

SIG_INLINE void acc_add(vd_acc *a, vd v)
{
    vd e;
    a->s = vd_two_sum(a->s, v, &e);
    a->c = vd_add(a->c, e);
}

/* hi + lo += v, in scalar double-double */
SIG_INLINE void dd_acc(double *hi, double *lo, double v)
{
    double s = *hi + v, bb = s - *hi;
    *lo += (*hi - (s - bb)) + (v - bb);
    *hi = s;
}

/* the lanes of a, then `tail` (hi + lo), as one double-double */
SIG_INLINE double acc_total(vd_acc a, double tail_hi, double tail_lo, double *lo)
{
    double s[VD_N], c[VD_N], hi = tail_hi, l = tail_lo;
    vd_store(s, a.s);
    vd_store(c, a.c);
    for (int k = 0; k < VD_N; k++) {
        dd_acc(&hi, &l, s[k]);
        l += c[k];
    }
    if (!isfinite(hi)) {  /* an infinite or nan loss (the errors are nan then) */
        *lo = 0.0;
        return hi;
    }
    /* normalised: |lo| at most half an ulp of hi */
    double h = hi + l;
    *lo = l - (h - hi);
    return h;
}

/* kind and f32 (which selects the light cores) are constants in each
   instantiation of loss_vec and loss_body below */
SIG_INLINE void loss_vec(const sig_loss_params *P, const int kind, const int light, vd x, vd y, vd w,
                         vd pw, vd *loss, vd *grad, md *fix, md *bad)
{
    vd zero = vd_set(0.0), one = vd_set(1.0);
    *bad = md_or(*bad, vd_nle(zero, y));
    *bad = md_or(*bad, vd_nle(y, one));
    *fix = vd_lt(one, zero);
    if (kind == SIG_LOSS_BCE_LOGITS) {
        y = vd_fma(y, vd_set(1.0 - P->smoothing), vd_set(0.5 * P->smoothing));
        vd_bce_t o = vd_bce_logits(x, y, w, pw, loss_softparts(x, light), light);
        *loss = o.loss;
        *grad = o.grad;
        *fix = o.fix;
    }
    else if (kind == SIG_LOSS_BCE_PROBS) {
        /* probabilities outside [0, 1]; a nan probability gives a nan loss */
        *bad = md_or(*bad, md_or(vd_lt(x, zero), vd_gt(x, one)));
        vd_bce_probs(x, y, w, light, loss, grad);
    }
    else {
        vd_focal(x, y, P->alpha, P->gamma, light, loss, grad, fix);
    }
}

/* one vector of an operand (element step 0 or 1), as doubles */
SIG_INLINE vd loss_load(const void *p, int step, ptrdiff_t i, int f32)
{
    if (p == NULL) return vd_set(1.0);
    if (step == 0) return vd_set(f32 ? (double)*(const float *)p : *(const double *)p);
    return f32 ? vd_load_f32((const float *)p + i) : vd_load((const double *)p + i);
}

SIG_INLINE void loss_store(void *p, ptrdiff_t i, vd v, int f32)
{
    if (f32) vd_store_f32((float *)p + i, v);
    else vd_store((double *)p + i, v);
}

SIG_INLINE void loss_note_fixes(md f, ptrdiff_t i, ptrdiff_t *fix, ptrdiff_t *nfix)
{
    if (md_any(f)) {
        double fl[VD_N];
        vd_store(fl, vd_sel(f, vd_set(1.0), vd_set(0.0)));
        for (int k = 0; k < VD_N; k++)
            if (fl[k] != 0.0) fix[(*nfix)++] = i + k;
    }
}

SIG_INLINE void loss_one(const sig_loss_params *P, const int kind, const int f32, const sig_loss_io *io,
                         ptrdiff_t j, vd *l, vd *g, md *f, md *bad)
{
    loss_vec(P, kind, f32, loss_load(io->x, 1, j, f32), loss_load(io->y, 1, j, f32),
             loss_load(io->w, io->sw, j, f32), loss_load(io->pw, io->spw, j, f32), l, g, f, bad);
}

/* LOSS_U independent vectors per step, so that their long dependency chains
   (exponential, division, logarithm) overlap */
#define LOSS_U 2

SIG_INLINE md loss_soft(vd y)
{
    vd one = vd_set(1.0);
    return md_andnot(md_or(vd_eq(y, vd_set(0.0)), vd_eq(y, one)), vd_eq(one, one));
}

/*
 * The usual case of BCE from logits: no weight, pos_weight or smoothing, and
 * targets 0 and 1.  From vector i, while the targets of LOSS_U vectors at a
 * time are all 0 or 1, up to n; returns where it stopped.
 */
/*
 * BCE from logits without weight, pos_weight or smoothing (the usual call).
 * Each element's formula depends on its own x and y only, never on its
 * neighbours, so that results do not depend on the vector width, the
 * alignment or the thread count:
 *   - float32, y in {0, 1}, |x| <= LOSS_F_MAX, no grad_output array: the
 *     float lanes (vf_bce_hard);
 *   - else y in {0, 1}: the double lanes' vd_bce_logits_hard;
 *   - else: the general vd_bce_logits (with its double-double fix-ups).
 * Groups of LOSS_U * VD_N elements (one float vector for float32 data).
 */
#define LOSS_G (LOSS_U * VD_N)

SIG_INLINE mf loss_f_ok(vf x, vf y)
{
    /* y (1 - y) = 0 for y = 0 and 1 only (every other value, nan included,
       gives a nonzero or nan product) */
    return mf_and(vf_eq(vf_fnma(y, y, y), vf_set(0.0f)), vf_le(vf_abs(x), vf_set(LOSS_F_MAX)));
}

SIG_INLINE void loss_f_put(const sig_loss_io *io, ptrdiff_t i, vf l, vf g, vd_acc *sum)
{
    acc_add(sum, vf_lo_vd(l));
    acc_add(sum, vf_hi_vd(l));
    if (io->loss) vf_store((float *)io->loss + i, l);
    if (io->grad) vf_store((float *)io->grad + i, g);
}

/* from group i on, the groups whose every element takes the float lanes,
   two float vectors per step where it can; returns where it stopped */
SIG_INLINE ptrdiff_t loss_f_run(const sig_loss_io *io, ptrdiff_t i, ptrdiff_t n, vf gsh, vf gsl, vd_acc *sum)
{
    const float *xp = (const float *)io->x, *yp = (const float *)io->y;
    mf all = vf_eq(gsh, gsh);
    while (i < n) {
        vf x0 = vf_load(xp + i), y0 = vf_load(yp + i);
        if (mf_any(mf_andnot(loss_f_ok(x0, y0), all))) break;
        vf l0, g0;
        if (i + 2 * VF_N <= n) {
            vf x1 = vf_load(xp + i + VF_N), y1 = vf_load(yp + i + VF_N);
            if (!mf_any(mf_andnot(loss_f_ok(x1, y1), all))) {
                vf l1, g1;
                vf_bce_hard(x0, y0, gsh, gsl, &l0, &g0);
                vf_bce_hard(x1, y1, gsh, gsl, &l1, &g1);
                loss_f_put(io, i, l0, g0, sum);
                loss_f_put(io, i + VF_N, l1, g1, sum);
                i += 2 * VF_N;
                continue;
            }
        }
        vf_bce_hard(x0, y0, gsh, gsl, &l0, &g0);
        loss_f_put(io, i, l0, g0, sum);
        i += VF_N;
    }
    return i;
}

/* one group, each element by its own formula; l: the losses for the sum */
SIG_INLINE void loss_plain_group(const int f32, const sig_loss_io *io, ptrdiff_t i, int floats, vd gs, vf gsh,
                                 vf gsl, vd l[LOSS_U], md f[LOSS_U], md *bad)
{
    vd zero = vd_set(0.0), one = vd_set(1.0);
    vd g[LOSS_U];
    for (int k = 0; k < LOSS_U; k++) {
        vd x = loss_load(io->x, 1, i + k * VD_N, f32), y = loss_load(io->y, 1, i + k * VD_N, f32);
        vd_softparts P = loss_softparts(x, f32);
        vd_bce_t o = vd_bce_logits_hard(x, y, P);
        md hard = md_or(vd_eq(y, zero), vd_eq(y, one));
        if (md_any(md_andnot(hard, vd_eq(one, one)))) {
            *bad = md_or(*bad, md_or(vd_nle(zero, y), vd_nle(y, one)));
            vd_bce_t s = vd_bce_logits(x, y, one, one, P, f32);
            o.loss = vd_sel(hard, o.loss, s.loss);
            o.grad = vd_sel(hard, o.grad, s.grad);
            o.fix = md_andnot(hard, s.fix);
        }
        l[k] = o.loss;
        g[k] = vd_mul(vd_mul(o.grad, gs), loss_load(io->g, io->sg, i + k * VD_N, f32));
        f[k] = o.fix;
    }
    if (floats) {
        vf xf = vf_load((const float *)io->x + i), yf = vf_load((const float *)io->y + i);
        mf ok = loss_f_ok(xf, yf);
        if (mf_any(ok)) {
            vf lf, gf;
            vf_bce_hard(xf, yf, gsh, gsl, &lf, &gf);
            lf = vf_sel(ok, lf, vd2_vf(l[0], l[1]));
            gf = vf_sel(ok, gf, vd2_vf(g[0], g[1]));
            l[0] = vf_lo_vd(lf);
            l[1] = vf_hi_vd(lf);
            if (io->loss) vf_store((float *)io->loss + i, lf);
            if (io->grad) vf_store((float *)io->grad + i, gf);
            return;
        }
    }
    for (int k = 0; k < LOSS_U; k++) {
        if (io->loss) loss_store(io->loss, i + k * VD_N, l[k], f32);
        if (io->grad) loss_store(io->grad, i + k * VD_N, g[k], f32);
    }
}

SIG_INLINE double loss_bce_plain(const int f32, ptrdiff_t m, const sig_loss_io *io, ptrdiff_t *fix,
                                 ptrdiff_t *nfix, int *bad, double *lo)
{
    vd_acc sum = acc_zero();
    vd gs = vd_set(io->gscale);
    float h = (float)io->gscale;
    vf gsh = vf_set(h), gsl = vf_set((float)(io->gscale - (double)h));
    md badm = vd_lt(vd_set(1.0), vd_set(0.0));
    int floats = f32 && io->g == NULL && LOSS_G == VF_N;
    ptrdiff_t ng = m / LOSS_G * LOSS_G, i = 0;
    *nfix = 0;
    while (i < ng) {
        if (floats) {
            i = loss_f_run(io, i, ng, gsh, gsl, &sum);
            if (i >= ng) break;
        }
        vd l[LOSS_U];
        md f[LOSS_U];
        loss_plain_group(f32, io, i, floats, gs, gsh, gsl, l, f, &badm);
        for (int k = 0; k < LOSS_U; k++) {
            acc_add(&sum, l[k]);
            if (io->grad) loss_note_fixes(f[k], i + k * VD_N, fix, nfix);
        }
        i += LOSS_G;
    }
    double total = 0.0, total_lo = 0.0;
    if (ng < m) {
        /* the tail through one padded group, in local buffers */
        size_t sz = f32 ? 4 : 8;
        double bx[LOSS_G], by[LOSS_G], bg[LOSS_G], bl[LOSS_G], bgr[LOSS_G];
        memset(bx, 0, sizeof bx);
        memset(by, 0, sizeof by);
        memset(bg, 0, sizeof bg);
        size_t nb = (size_t)(m - ng) * sz;
        memcpy(bx, (const char *)io->x + (size_t)ng * sz, nb);
        memcpy(by, (const char *)io->y + (size_t)ng * sz, nb);
        sig_loss_io t = *io;
        t.x = bx;
        t.y = by;
        if (io->g != NULL && io->sg != 0) {
            memcpy(bg, (const char *)io->g + (size_t)ng * sz, nb);
            t.g = bg;
        }
        t.loss = bl;
        t.grad = bgr;
        vd l[LOSS_U];
        md f[LOSS_U];
        loss_plain_group(f32, &t, 0, floats, gs, gsh, gsl, l, f, &badm);
        double ls[LOSS_G], fl[LOSS_G];
        for (int k = 0; k < LOSS_U; k++) {
            vd_store(ls + k * VD_N, l[k]);
            vd_store(fl + k * VD_N, vd_sel(f[k], vd_set(1.0), vd_set(0.0)));
        }
        for (ptrdiff_t j = ng; j < m; j++) {
            int k = (int)(j - ng);
            dd_acc(&total, &total_lo, ls[k]);
            if (io->grad && fl[k] != 0.0) fix[(*nfix)++] = j;
        }
        if (io->loss) memcpy((char *)io->loss + (size_t)ng * sz, bl, nb);
        if (io->grad) memcpy((char *)io->grad + (size_t)ng * sz, bgr, nb);
        /* padding lanes (x = y = 0) are valid targets: badm stays correct */
    }
    if (md_any(badm)) *bad = 1;
    return acc_total(sum, total, total_lo, lo);
}

SIG_INLINE void loss_put(const sig_loss_io *io, const int f32, ptrdiff_t j, vd l, vd g, md f, vd gs,
                         vd_acc *sum, ptrdiff_t *fix, ptrdiff_t *nfix)
{
    acc_add(sum, l);
    if (io->loss) loss_store(io->loss, j, l, f32);
    if (io->grad) {
        loss_store(io->grad, j, vd_mul(vd_mul(g, gs), loss_load(io->g, io->sg, j, f32)), f32);
        loss_note_fixes(f, j, fix, nfix);
    }
}

/* m elements; the indices of gradients to recompute go to fix[] */
SIG_INLINE double loss_body(const sig_loss_params *P, const int kind, const int f32, ptrdiff_t m,
                            const sig_loss_io *io, ptrdiff_t *fix, ptrdiff_t *nfix, int *bad, double *lo)
{
    vd_acc sum = acc_zero();
    vd gs = vd_set(io->gscale);
    *nfix = 0;
    md badm = vd_lt(vd_set(1.0), vd_set(0.0));
    ptrdiff_t nu = m / (LOSS_U * VD_N) * (LOSS_U * VD_N);
    ptrdiff_t nv = m / VD_N * VD_N;
    if (kind == SIG_LOSS_BCE_LOGITS && io->w == NULL && io->pw == NULL && P->smoothing == 0.0)
        return loss_bce_plain(f32, m, io, fix, nfix, bad, lo);
    for (ptrdiff_t i = 0; i < nu; i += LOSS_U * VD_N) {
        vd l[LOSS_U], g[LOSS_U];
        md f[LOSS_U];
        for (int k = 0; k < LOSS_U; k++)
            loss_one(P, kind, f32, io, i + k * VD_N, &l[k], &g[k], &f[k], &badm);
        for (int k = 0; k < LOSS_U; k++)
            loss_put(io, f32, i + k * VD_N, l[k], g[k], f[k], gs, &sum, fix, nfix);
    }
    for (ptrdiff_t i = nu; i < nv; i += VD_N) {
        vd l, g;
        md f;
        loss_one(P, kind, f32, io, i, &l, &g, &f, &badm);
        loss_put(io, f32, i, l, g, f, gs, &sum, fix, nfix);
    }
    double tail = 0.0, tail_lo = 0.0;
    if (nv < m) {
        /* the tail through one padded vector (valid values, left out of the sum) */
        double t[6][VD_N];
        for (int k = 0; k < VD_N; k++) {
            ptrdiff_t j = nv + k;
            int in = j < m;
#define EL(p, step) ((p) == NULL ? 1.0 : (f32 ? (double)((const float *)(p))[(step) ? j : 0] \
                                               : ((const double *)(p))[(step) ? j : 0]))
            t[0][k] = in ? EL(io->x, 1) : 0.0;
            t[1][k] = in ? EL(io->y, 1) : 0.0;
            t[2][k] = in ? EL(io->w, io->sw) : 1.0;
            t[3][k] = in ? EL(io->pw, io->spw) : 1.0;
            t[4][k] = in ? EL(io->g, io->sg) : 1.0;
#undef EL
        }
        vd l, g;
        md f;
        loss_vec(P, kind, f32, vd_load(t[0]), vd_load(t[1]), vd_load(t[2]), vd_load(t[3]), &l, &g, &f, &badm);
        g = vd_mul(vd_mul(g, gs), vd_load(t[4]));
        vd_store(t[0], l);
        vd_store(t[1], g);
        vd_store(t[5], vd_sel(f, vd_set(1.0), vd_set(0.0)));
        for (ptrdiff_t j = nv; j < m; j++) {
            int k = (int)(j - nv);
            dd_acc(&tail, &tail_lo, t[0][k]);
            if (io->loss) {
                if (f32) ((float *)io->loss)[j] = (float)t[0][k];
                else ((double *)io->loss)[j] = t[0][k];
            }
            if (io->grad) {
                if (f32) ((float *)io->grad)[j] = (float)t[1][k];
                else ((double *)io->grad)[j] = t[1][k];
                if (t[5][k] != 0.0) fix[(*nfix)++] = j;
            }
        }
    }
    if (md_any(badm)) *bad = 1;
    return acc_total(sum, tail, tail_lo, lo);
}

#define LOSS_CASE(kind)                                                                          \
    case kind:                                                                                   \
        return f32 ? loss_body(P, kind, 1, m, io, fix, nfix, bad, lo)                            \
                   : loss_body(P, kind, 0, m, io, fix, nfix, bad, lo);

static double k_loss(const sig_loss_params *P, ptrdiff_t m, int f32, const sig_loss_io *io,
                     ptrdiff_t *fix, ptrdiff_t *nfix, int *bad, double *lo)
{
    switch (P->kind) {
        LOSS_CASE(SIG_LOSS_BCE_LOGITS)
        LOSS_CASE(SIG_LOSS_BCE_PROBS)
        default:
        LOSS_CASE(SIG_LOSS_FOCAL)
    }
}
#undef LOSS_CASE

/* ------------------------------------------------- LSTM and GRU cells */

/*
 * Each pass walks the rows, and each row in blocks of CELL_BLOCK columns.
 * In a row, the H columns of every array block (the H-wide arrays, and the
 * gate blocks of the 3H- and 4H-wide ones) are one column stream each.  A
 * phase loads a column vector of each of its input streams, computes, and
 * stores a column vector of each output stream; the forward passes run two
 * phases per block, handing values over in double through stack buffers
 * (the "mid" streams), so that every loop iteration is independent work.
 *
 * Aliasing: a column of an input is read, in the phase that reads it,
 * before the same column of any output is written, and no later phase reads
 * an array an earlier phase writes: an output may be the same array region
 * as an input of its shape.  The tail of a row goes through zero-padded
 * vectors on the stack, all its inputs copied before any output is written.
 */
#define CELL_MAX 8
#define CELL_BLOCK 128
#define CELL_MID 2
#define MID(k) (-1 - (k))

typedef struct {
    signed char arr;    /* index into sig_gate_io's in[] or out[]; MID(k): mid buffer k */
    signed char width;  /* the array's row width, in units of H */
    signed char block;  /* the stream's block in the row */
} cell_stream;

/* the streams of one phase; cell_nin and cell_nout below give their numbers */
typedef struct {
    cell_stream in[CELL_MAX], out[CELL_MAX];
} cell_phase;

static const cell_phase cell_phases[SIG_N_GATE][2] = {
    [SIG_GATE_LSTM_FORWARD] = {
        /* gi, gf, gg, go, c_prev -> i, f, g, o, c; mid c, o */
        {{{0, 4, 0}, {0, 4, 1}, {0, 4, 2}, {0, 4, 3}, {1, 1, 0}},
         {{2, 4, 0}, {2, 4, 1}, {2, 4, 2}, {2, 4, 3}, {1, 1, 0}, {MID(0), 1, 0}, {MID(1), 1, 0}}},
        /* mid c, o -> h, tanh(c) */
        {{{MID(0), 1, 0}, {MID(1), 1, 0}}, {{0, 1, 0}, {3, 1, 0}}},
    },
    [SIG_GATE_LSTM_BACKWARD] = {
        /* dh, dc, i, f, g, o, c_prev, tanh(c) -> d(gi), d(gf), d(gg), d(go), dc_prev */
        {{{0, 1, 0}, {1, 1, 0}, {2, 4, 0}, {2, 4, 1}, {2, 4, 2}, {2, 4, 3}, {3, 1, 0}, {4, 1, 0}},
         {{0, 4, 0}, {0, 4, 1}, {0, 4, 2}, {0, 4, 3}, {1, 1, 0}}},
    },
    [SIG_GATE_GRU_FORWARD] = {
        /* gi_r, gh_r, gi_z, gh_z -> r, z; mid r, z */
        {{{0, 3, 0}, {1, 3, 0}, {0, 3, 1}, {1, 3, 1}},
         {{1, 4, 0}, {1, 4, 1}, {MID(0), 1, 0}, {MID(1), 1, 0}}},
        /* mid r, z, gi_n, gh_n, h_prev -> h, n, gh_n */
        {{{MID(0), 1, 0}, {MID(1), 1, 0}, {0, 3, 2}, {1, 3, 2}, {2, 1, 0}},
         {{0, 1, 0}, {1, 4, 2}, {1, 4, 3}}},
    },
    [SIG_GATE_GRU_BACKWARD] = {
        /* dh, r, z, n, gh_n, h_prev -> dgi (r, z, n), dgh (r, z, n), dh_prev */
        {{{0, 1, 0}, {1, 4, 0}, {1, 4, 1}, {1, 4, 2}, {1, 4, 3}, {2, 1, 0}},
         {{0, 3, 0}, {0, 3, 1}, {0, 3, 2}, {1, 3, 0}, {1, 3, 1}, {1, 3, 2}, {2, 1, 0}}},
    },
};

/* constants in each instantiation of cell_rows (the table's entries are not
   always folded, and the loops over the streams must unroll) */
SIG_INLINE int cell_nphases(const int kind)
{
    return kind == SIG_GATE_LSTM_FORWARD || kind == SIG_GATE_GRU_FORWARD ? 2 : 1;
}

SIG_INLINE int cell_nin(const int kind, const int phase)
{
    switch (kind) {
        case SIG_GATE_LSTM_FORWARD: return phase == 0 ? 5 : 2;
        case SIG_GATE_LSTM_BACKWARD: return 8;
        case SIG_GATE_GRU_FORWARD: return phase == 0 ? 4 : 5;
        default: return 6;
    }
}

SIG_INLINE int cell_nout(const int kind, const int phase)
{
    switch (kind) {
        case SIG_GATE_LSTM_FORWARD: return phase == 0 ? 7 : 2;
        case SIG_GATE_LSTM_BACKWARD: return 5;
        case SIG_GATE_GRU_FORWARD: return phase == 0 ? 4 : 3;
        default: return 7;
    }
}

/* whether stream k is a mid buffer (MID in cell_phases): the first two
   inputs of the second phases, the last two outputs of the first phases */
SIG_INLINE int cell_mid_in(const int kind, const int phase, int k)
{
    return cell_nphases(kind) == 2 && phase == 1 && k < CELL_MID;
}

SIG_INLINE int cell_mid_out(const int kind, const int phase, int k)
{
    return cell_nphases(kind) == 2 && phase == 0 && k >= cell_nout(kind, phase) - CELL_MID;
}

/* float32 data takes the light forms of sigma and tanh (vgate.h) */
SIG_INLINE void cell_vec(const int kind, const int phase, const int f32, const vd *x, vd *y)
{
    if (kind == SIG_GATE_LSTM_FORWARD) {
        if (phase == 0) vd_lstm_forward_gates(f32, x, y);
        else vd_lstm_forward_out(f32, x, y);
    }
    else if (kind == SIG_GATE_LSTM_BACKWARD) vd_lstm_backward(x, y);
    else if (kind == SIG_GATE_GRU_FORWARD) {
        if (phase == 0) vd_gru_forward_gates(f32, x, y);
        else vd_gru_forward_out(f32, x, y);
    }
    else vd_gru_backward(x, y);
}

/* one column vector of a stream: arrays hold the data type, mid buffers double */
SIG_INLINE vd cell_load(const char *p, int mid, const int f32)
{
    if (mid) return vd_load((const double *)p);
    return f32 ? vd_load_f32((const float *)p) : vd_load((const double *)p);
}

SIG_INLINE void cell_store(char *p, int mid, vd v, const int f32)
{
    if (mid) vd_store((double *)p, v);
    else if (f32) vd_store_f32((float *)p, v);
    else vd_store((double *)p, v);
}

/* columns [j0, j0 + m) of a row through one phase; ip and op point at column
   j0 of each stream */
SIG_INLINE void cell_phase_run(const int kind, const int phase, const int f32, ptrdiff_t m,
                               const char *const *ip, char *const *op)
{
    const int nin = cell_nin(kind, phase), nout = cell_nout(kind, phase);
    const ptrdiff_t sz = f32 ? 4 : 8;
    const ptrdiff_t nv = m / VD_N * VD_N;
#define ISZ(k) (cell_mid_in(kind, phase, k) ? 8 : sz)
#define OSZ(k) (cell_mid_out(kind, phase, k) ? 8 : sz)
    for (ptrdiff_t j = 0; j < nv; j += VD_N) {
        vd x[CELL_MAX], y[CELL_MAX];
        for (int k = 0; k < nin; k++) x[k] = cell_load(ip[k] + j * ISZ(k), cell_mid_in(kind, phase, k), f32);
        cell_vec(kind, phase, f32, x, y);
        for (int k = 0; k < nout; k++)
            cell_store(op[k] + j * OSZ(k), cell_mid_out(kind, phase, k), y[k], f32);
    }
    if (nv < m) {
        /* mid buffers have room for whole vectors; the arrays go through bx, by */
        double bx[CELL_MAX][VD_N], by[CELL_MAX][VD_N];
        vd x[CELL_MAX], y[CELL_MAX];
        memset(bx, 0, sizeof bx);
        for (int k = 0; k < nin; k++) memcpy(bx[k], ip[k] + nv * ISZ(k), (size_t)((m - nv) * ISZ(k)));
        for (int k = 0; k < nin; k++) x[k] = cell_load((const char *)bx[k], cell_mid_in(kind, phase, k), f32);
        cell_vec(kind, phase, f32, x, y);
        for (int k = 0; k < nout; k++) {
            cell_store((char *)by[k], cell_mid_out(kind, phase, k), y[k], f32);
            memcpy(op[k] + nv * OSZ(k), by[k], (size_t)((m - nv) * OSZ(k)));
        }
    }
#undef ISZ
#undef OSZ
}

/* the streams of a phase at column j0 of a row */
SIG_INLINE void cell_streams(const int kind, const int phase, const int f32, const sig_gate_io *io,
                             ptrdiff_t row, ptrdiff_t j0, ptrdiff_t H, double (*mid)[CELL_BLOCK],
                             const char **ip, char **op)
{
    const cell_phase *P = &cell_phases[kind][phase];
    const ptrdiff_t sz = f32 ? 4 : 8;
    for (int k = 0; k < cell_nin(kind, phase); k++) {
        const cell_stream c = P->in[k];
        ip[k] = c.arr < 0 ? (const char *)mid[-1 - c.arr]
                          : (const char *)io->in[(int)c.arr] + ((row * c.width + c.block) * H + j0) * sz;
    }
    for (int k = 0; k < cell_nout(kind, phase); k++) {
        const cell_stream c = P->out[k];
        op[k] = c.arr < 0 ? (char *)mid[-1 - c.arr]
                          : (char *)io->out[(int)c.arr] + ((row * c.width + c.block) * H + j0) * sz;
    }
}

SIG_INLINE void cell_rows(const int kind, const int f32, ptrdiff_t rows, ptrdiff_t H,
                          const sig_gate_io *io)
{
    double mid[CELL_MID][CELL_BLOCK];
    const char *ip[CELL_MAX];
    char *op[CELL_MAX];
    for (ptrdiff_t row = 0; row < rows; row++) {
        for (ptrdiff_t j0 = 0; j0 < H; j0 += CELL_BLOCK) {
            ptrdiff_t m = H - j0 < CELL_BLOCK ? H - j0 : CELL_BLOCK;
            cell_streams(kind, 0, f32, io, row, j0, H, mid, ip, op);
            cell_phase_run(kind, 0, f32, m, ip, op);
            if (cell_nphases(kind) == 2) {
                cell_streams(kind, 1, f32, io, row, j0, H, mid, ip, op);
                cell_phase_run(kind, 1, f32, m, ip, op);
            }
        }
    }
}

#define CELL_CASE(kind)                                                   \
    case kind:                                                            \
        if (f32) cell_rows(kind, 1, rows, H, io);                         \
        else cell_rows(kind, 0, rows, H, io);                             \
        return;

static void k_gate(int kind, int f32, ptrdiff_t rows, ptrdiff_t H, const sig_gate_io *io)
{
    switch (kind) {
        CELL_CASE(SIG_GATE_LSTM_FORWARD)
        CELL_CASE(SIG_GATE_LSTM_BACKWARD)
        CELL_CASE(SIG_GATE_GRU_FORWARD)
        CELL_CASE(SIG_GATE_GRU_BACKWARD)
        default:
            return;
    }
}
#undef CELL_CASE

const sig_kernel_table TABLE = {
    .isa = ISA_NAME,
    .loss = k_loss,
    .gate = k_gate,
    .u32 = {
        [SIG_SIGMOID] = k_sigmoid_f32,
        [SIG_LOG_SIGMOID] = k_log_sigmoid_f32,
        [SIG_SOFTPLUS] = k_softplus_f32,
        [SIG_LOGIT] = k_logit_f32,
        [SIG_HARD_SIGMOID] = k_hard_sigmoid_f32,
        [SIG_SILU] = k_silu_f32,
    },
    .u64 = {
        [SIG_SIGMOID] = k_sigmoid_f64,
        [SIG_LOG_SIGMOID] = k_log_sigmoid_f64,
        [SIG_SOFTPLUS] = k_softplus_f64,
        [SIG_LOGIT] = k_logit_f64,
        [SIG_HARD_SIGMOID] = k_hard_sigmoid_f64,
        [SIG_SILU] = k_silu_f64,
    },
    .b32 = {
        [SIG_SIGMOID_BACKWARD] = k_sigmoid_backward_f32,
        [SIG_SIGMOID_BACKWARD_FROM_OUTPUT] = k_sbfo_f32,
        [SIG_HARD_SIGMOID_BACKWARD] = k_hard_sigmoid_backward_f32,
        [SIG_SILU_BACKWARD] = k_silu_backward_f32,
    },
    .b64 = {
        [SIG_SIGMOID_BACKWARD] = k_sigmoid_backward_f64,
        [SIG_SIGMOID_BACKWARD_FROM_OUTPUT] = k_sbfo_f64,
        [SIG_HARD_SIGMOID_BACKWARD] = k_hard_sigmoid_backward_f64,
        [SIG_SILU_BACKWARD] = k_silu_backward_f64,
    },
};
