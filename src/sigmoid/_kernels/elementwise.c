/*
 * The elementwise kernels of one instruction set (the ufuncs' loops call
 * them on contiguous stretches), and the table of all its kernels.  This
 * file, loss_kernels.c and gate_kernels.c are compiled once per instruction
 * set with SIG_ISA set (see meson.build); each compilation of this one
 * exports one sig_kernel_table.
 */
#include <stdint.h>
#include <string.h>

#include "kernels_isa.h"
#include "vlogistic.h"
#include "vfamily.h"
#include "vcr.h"

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

/* three operands, no streaming */
#define TERNARY(NAME, T, N, LOAD, STORE, FN)                                \
    static void NAME(T *y, const T *a, const T *b, const T *c, ptrdiff_t n) \
    {                                                                       \
        ptrdiff_t i = 0;                                                    \
        for (; i + N <= n; i += N)                                          \
            STORE(y + i, FN(LOAD(a + i), LOAD(b + i), LOAD(c + i)));        \
        if (i < n) {                                                        \
            T ba[N], bb[N], bc[N], by[N];                                   \
            memset(ba, 0, sizeof ba);                                       \
            memset(bb, 0, sizeof bb);                                       \
            memset(bc, 0, sizeof bc);                                       \
            memcpy(ba, a + i, (size_t)(n - i) * sizeof(T));                 \
            memcpy(bb, b + i, (size_t)(n - i) * sizeof(T));                 \
            memcpy(bc, c + i, (size_t)(n - i) * sizeof(T));                 \
            STORE(by, FN(LOAD(ba), LOAD(bb), LOAD(bc)));                    \
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
 * single long dependency chain.  Stage 1 also ORs into the returned mask, w,
 * the lanes that need a slower path (float kernels); a final stage that does
 * too is passed as a macro that names w.  Reads run two pairs ahead of
 * writes, so y may be x or trail it.
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

/*
 * With 16 vector registers (AVX2, SSE2) two vectors per stage do not fit:
 * the compiler spills them, and every stage then waits on the stack.  There
 * the pipeline carries one vector per stage.  The results are the same.
 */
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_SSE2
#undef PIPELINE3
#undef PIPELINE3B
#define PIPELINE3(NAME, T, NV, LOAD, STORE, M, M0, T1, S1, T2, S2, FIN)          \
    static inline M NAME(const T *x, T *y, ptrdiff_t nvec)                       \
    {                                                                            \
        M w = M0;                                                                \
        ptrdiff_t i = 0;                                                         \
        if (nvec >= 2) {                                                         \
            T2 b = S2(S1(LOAD(x), &w));                                          \
            T1 a = S1(LOAD(x + NV), &w);                                         \
            for (; i + 2 < nvec; i++) {                                          \
                T1 c = S1(LOAD(x + (i + 2) * NV), &w);                           \
                T2 d = S2(a);                                                    \
                STORE(y + i * NV, FIN(b));                                       \
                b = d;                                                           \
                a = c;                                                           \
            }                                                                    \
            T2 d = S2(a);                                                        \
            STORE(y + i * NV, FIN(b));                                           \
            STORE(y + (i + 1) * NV, FIN(d));                                     \
            i += 2;                                                              \
        }                                                                        \
        if (i < nvec) STORE(y + i * NV, FIN(S2(S1(LOAD(x + i * NV), &w))));     \
        return w;                                                                \
    }
#define PIPELINE3B(NAME, T, NV, LOAD, STORE, M, M0, T1, S1, T2, S2, FIN)         \
    static inline M NAME(const T *x, const T *g, T *y, ptrdiff_t nvec)           \
    {                                                                            \
        M w = M0;                                                                \
        ptrdiff_t i = 0;                                                         \
        if (nvec >= 2) {                                                         \
            T2 b = S2(S1(LOAD(x), LOAD(g), &w));                                 \
            T1 a = S1(LOAD(x + NV), LOAD(g + NV), &w);                           \
            for (; i + 2 < nvec; i++) {                                          \
                ptrdiff_t o = (i + 2) * NV;                                      \
                T1 c = S1(LOAD(x + o), LOAD(g + o), &w);                         \
                T2 d = S2(a);                                                    \
                STORE(y + i * NV, FIN(b, LOAD(g + i * NV)));                     \
                b = d;                                                           \
                a = c;                                                           \
            }                                                                    \
            T2 d = S2(a);                                                        \
            STORE(y + i * NV, FIN(b, LOAD(g + i * NV)));                         \
            STORE(y + (i + 1) * NV, FIN(d, LOAD(g + (i + 1) * NV)));             \
            i += 2;                                                              \
        }                                                                        \
        if (i < nvec)                                                            \
            STORE(y + i * NV, FIN(S2(S1(LOAD(x + i * NV), LOAD(g + i * NV), &w)), \
                                  LOAD(g + i * NV)));                            \
        return w;                                                                \
    }
#endif

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
                vf v = vf_load(src + i), r;                                     \
                if (i < mv) r = vf_load(dst + i);                               \
                else {                                                          \
                    memcpy(out, dst + i, (size_t)(m - i) * sizeof(float));      \
                    r = vf_load(out);                                           \
                }                                                               \
                mf w = NEEDS_WIDE(v, r);                                        \
                if (!mf_any(w)) continue;                                       \
                r = vf_sel(w, WIDE(v), r);                                      \
                if (i < mv) vf_store(dst + i, r);                               \
                else {                                                          \
                    vf_store(out, r);                                           \
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

/* F_NO_LANES: vcr.h */
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
SIG_INLINE mf needs_wide_logistic(vf x, vf r) { (void)r; return vf_nle(vf_abs(x), vf_set(F_FAST_MAX)); }
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
DEFINE_NEEDS_WIDE_G(needs_wide_sbw_range, 0x1p126f)

/* sigmoid_backward's lanes for the double stages: out of range, or with
 * g 2^m below 2^-123 (the final stage marks those; 2^m as vf_lg_stage2
 * forms it) */
SIG_INLINE mf needs_wide_sbw(vf x, vf g)
{
    vf S = vf_exp2m(vf_expneg_kf(vf_abs(x)));
    return mf_or(needs_wide_sbw_range(x, g), vf_scaled_g_tiny(vf_mul(g, S)));
}
#define SBW_FIN_W(s, g) vf_sigmoid_backward_fin((s), (g), &w)

/* silu_backward's: out of range, or as the final stage marks them */
DEFINE_NEEDS_WIDE_G(needs_wide_silubw_range, 0x1p120f)
SIG_INLINE mf needs_wide_silubw(vf x, vf g)
{
    vf S = vf_exp2m(vf_expneg_kf(vf_abs(x)));
    return mf_or(mf_or(needs_wide_silubw_range(x, g), vf_silubw_g_tiny(g, S)), vf_silu_taylor_tiny(x, g));
}
#define SILUBW_FIN_W(s, g) vf_silu_backward_fin((s), (g), &w)

SIG_INLINE vd_lg1 vd_lg_s1(vd x, md *w) { (void)w; return vd_lg_stage1(x); }
SIG_INLINE vd_lg1 vd_lg_s1b(vd x, vd g, md *w) { (void)w; (void)g; return vd_lg_stage1_grad(x); }

/* ------------------------------------------------------------------ sigma */

/* float sigma and SiLU are correctly rounded (vcr.h): the final stage
 * decides the lanes its rounding test leaves open (about one in 1,300 with
 * AVX-512) with a rare call.  Marking them instead, as softplus does below
 * with AVX-512, and recomputing a block's marked lanes after the pipeline
 * took 18% more time (sigma, 10^5 elements, AVX-512 on a Zen 5): a block of
 * 16,384 elements nearly always holds one, and the second pass then reads
 * the whole block again. */
#if SIG_ISA == SIG_ISA_SSE2
/* without FMA, in double (vcr.h); the same bits */
PIPELINES_U32(pipe_sigmoid_f32, vf_nf1, vf_nf_stage1, vf_nf2, vf_nf_stage2, vf_sigmoid_nf_fin)
PIPELINES_U32(pipe_silu_f32, vf_nf1, vf_nf_stage1, vf_nf2, vf_nf_stage2, vf_silu_nf_fin)
#else
PIPELINES_U32(pipe_sigmoid_f32, vf_cr1, vf_cr_stage1, vf_cr2, vf_cr_stage2, vf_sigmoid_cr_fin)
PIPELINES_U32(pipe_silu_f32, vf_cr1, vf_cr_stage1, vf_cr2, vf_cr_stage2, vf_silu_cr_fin)
#endif
FAST_WIDE_U32(k_sigmoid_f32, pipe_sigmoid_f32, vf_sigmoid_cr_wide, needs_wide_logistic)
FAST_WIDE_U32(k_silu_f32, pipe_silu_f32, vf_silu_cr_wide, needs_wide_logistic)
PIPELINES_U64(pipe_sigmoid_f64, vd_lg1, vd_lg_s1, vd_lg2, vd_lg_stage2, vd_sigmoid_fin)
PIPED_U64(k_sigmoid_f64, pipe_sigmoid_f64, vd_sigmoid)

/* ------------------------------------------------------------------- silu */

PIPELINES_U64(pipe_silu_f64, vd_lg1, vd_lg_s1, vd_lg2, vd_lg_stage2, vd_silu_fin)
PIPED_U64(k_silu_f64, pipe_silu_f64, vd_silu)

/* ------------------------------------------------------ sigmoid_backward */

PIPELINES_B32(pipe_sbw_f32, vf_lg1, needs_wide_sbw_range_s1, vf_lg2, vf_lg_stage2, SBW_FIN_W)
FAST_WIDE_B32(k_sigmoid_backward_f32, pipe_sbw_f32, vf_sigmoid_backward_wide, needs_wide_sbw)
PIPELINES_B64(pipe_sbw_f64, vd_lg1, vd_lg_s1b, vd_lg2, vd_lg_stage2, vd_sigmoid_backward_fin)
PIPED_B64(k_sigmoid_backward_f64, pipe_sbw_f64, vd_sigmoid_backward)

/* --------------------------------------------------------- silu_backward */

PIPELINES_B32(pipe_silubw_f32, vf_lg1, needs_wide_silubw_range_s1, vf_lg2, vf_lg_stage2, SILUBW_FIN_W)
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

/* softplus and log_sigmoid.  With AVX-512 the final stage marks the lanes
 * that its rounding test cannot decide (vfamily.h) with a value the function
 * never returns and ORs them into the pipeline's lane mask, w; the marked
 * lanes of a block are then computed by the vector function, which decides
 * them.  Deciding them inside the pipeline (a rare call) cost about 4% more
 * there (softplus, 10^5 elements).  With 16 vector registers (AVX2, SSE2) it
 * is the other way round: the mask and the marks cost about 10% more than
 * the call. */
#if SIG_ISA == SIG_ISA_AVX512
#define SOFTPLUS_FIN_W(s) vf_softplus_fin_mark((s), &w)
#define LOG_SIGMOID_FIN_W(s) vf_log_sigmoid_fin_mark((s), &w)
SIG_INLINE mf softplus_marked(vf x, vf r) { (void)x; return vf_eq(r, vf_set(F_SOFTPLUS_MARK)); }
SIG_INLINE mf log_sigmoid_marked(vf x, vf r) { (void)x; return vf_eq(r, vf_set(-F_SOFTPLUS_MARK)); }
PIPELINES_U32(pipe_softplus_f32, vd2_div_t, vf_softplus_s1, vd2_s_t, vd2_divide, SOFTPLUS_FIN_W)
FAST_WIDE_U32(k_softplus_f32, pipe_softplus_f32, vf_softplus, softplus_marked)
PIPELINES_U32(pipe_log_sigmoid_f32, vd2_div_t, vf_log_sigmoid_s1, vd2_s_t, vd2_divide, LOG_SIGMOID_FIN_W)
FAST_WIDE_U32(k_log_sigmoid_f32, pipe_log_sigmoid_f32, vf_log_sigmoid, log_sigmoid_marked)
#else
PIPELINES_U32(pipe_softplus_f32, vd2_div_t, vf_softplus_s1, vd2_s_t, vd2_divide, vf_softplus_fin)
PIPED_U32(k_softplus_f32, pipe_softplus_f32, vf_softplus)
PIPELINES_U32(pipe_log_sigmoid_f32, vd2_div_t, vf_log_sigmoid_s1, vd2_s_t, vd2_divide, vf_log_sigmoid_fin)
PIPED_U32(k_log_sigmoid_f32, pipe_log_sigmoid_f32, vf_log_sigmoid)
#endif
#if SIG_ISA == SIG_ISA_SSE2
PIPELINES_U32(pipe_logit_f32, vd2_div_t, vf_logit_s1, vd2_s_t, vd2_divide, vf_logit_fin_nofma)
#else
PIPELINES_U32(pipe_logit_f32, vd2_div_t, vf_logit_s1, vd2_s_t, vd2_divide, vf_logit_fin)
#endif
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

/* the fused multiply-add itself, for _core._fma (the tests) */
TERNARY(k_fma_f32, float, VF_N, vf_load, vf_store, vf_fma)
TERNARY(k_fma_f64, double, VD_N, vd_load, vd_store, vd_fma)

const sig_kernel_table SIG_ISA_NAME(sig_kernels) = {
    .isa = SIG_ISA_STRING,
    .loss = SIG_ISA_NAME(sig_loss_kernel),
    .gate = SIG_ISA_NAME(sig_gate_kernel),
    .panel = SIG_ISA_NAME(sig_panel_kernel),
    .panel_wf = VF_N,
    .panel_wd = VD_N,
#if SIG_ISA == SIG_ISA_AVX512
    .panel_narrow = SIG_ISA_NAME(sig_panel_narrow_kernel),
#endif
    .transpose_f32 = SIG_ISA_NAME(sig_transpose_f32),
    .transpose_f64 = SIG_ISA_NAME(sig_transpose_f64),
    .pack2_f32 = SIG_ISA_NAME(sig_pack2_f32),
    .unpack2_f32 = SIG_ISA_NAME(sig_unpack2_f32),
    .pack2_f64 = SIG_ISA_NAME(sig_pack2_f64),
    .unpack2_f64 = SIG_ISA_NAME(sig_unpack2_f64),
    .half_in = SIG_ISA_NAME(sig_half_in),
    .half_out = SIG_ISA_NAME(sig_half_out),
    .half_in32 = SIG_ISA_NAME(sig_half_in32),
    .half_out32 = SIG_ISA_NAME(sig_half_out32),
    .fma_f32 = k_fma_f32,
    .fma_f64 = k_fma_f64,
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
