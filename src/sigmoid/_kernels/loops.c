/*
 * NumPy inner loops: strides, float16, threads and the floating-point status.
 *
 * Contiguous operands go straight to the kernel.  Strided operands (views,
 * negative strides, broadcast scalars with stride 0) are packed into a small
 * block on the stack, computed, and unpacked; views of every second element
 * by the instruction set's vector code (block_kernels.c).  float16 and
 * bfloat16 (the ml_dtypes type, when installed) are correctly rounded for
 * every one of the 65,536 inputs of each (the test suite checks all): most
 * functions through the float32 kernels, sigmoid_backward and silu_backward
 * through the float64 kernels, each rounded once more (converted by the same file's
 * code); see f16_through_float and half_is_boundary below.
 *
 * The kernels compute subnormal results, NaN comparisons and infinities on
 * purpose; the floating-point status flags they raise are not errors of the
 * caller's data, so each loop restores the flags it found on entry.  NumPy's
 * errstate therefore never reports anything for these functions.
 */
#include "loops.h"

#include <math.h>
#include <string.h>

#include "half.h"
#include "kernels.h"
#include "threads.h"

/* elements per packed block of a strided operand: long, because starting
   a kernel's software pipeline costs a few hundred cycles */
#define BLOCK 4096
/* below this many elements a call runs on the calling thread only */
#define MIN_PARALLEL ((ptrdiff_t)1 << 16)
#define CHUNK_ALIGN 16
/* outputs at least this large are written with non-temporal stores: they do
   not fit in the last-level cache together with their input anyway, and
   streaming them saves reading every output line before it is written */
#define STREAM_BYTES ((npy_intp)16 << 20)

enum { K16, KB16, K32, K64 };

typedef struct {
    const sig_kernel_table *table;
    int kind, fn, binary, stream;
    char *in0, *in1, *out;
    npy_intp s0, s1, so;
} job_t;

/* NumPy hands ufunc loops aligned operands, so a stride is a multiple of
   the item size and typed element accesses are safe */
#define DEFINE_PACK(T, SUFFIX)                                                  \
    static inline const T *pack_##SUFFIX(const sig_kernel_table *tab, T *buf,   \
                                         const char *p, npy_intp s, npy_intp m) \
    {                                                                           \
        if (s == (npy_intp)sizeof(T)) return (const T *)p;                      \
        const T *q = (const T *)p;                                              \
        npy_intp st = s / (npy_intp)sizeof(T);                                  \
        if (st == 2) {                                                          \
            tab->pack2_##SUFFIX(buf, q, m);                                     \
            return buf;                                                         \
        }                                                                       \
        _Pragma("GCC unroll 8")                                                 \
        for (npy_intp j = 0; j < m; j++) buf[j] = q[j * st];                    \
        return buf;                                                             \
    }                                                                           \
    static inline void unpack_##SUFFIX(const sig_kernel_table *tab, char *p,    \
                                       npy_intp s, const T *buf, npy_intp m)    \
    {                                                                           \
        T *q = (T *)p;                                                          \
        npy_intp st = s / (npy_intp)sizeof(T);                                  \
        if (st == 2) {                                                          \
            tab->unpack2_##SUFFIX(q, buf, m);                                   \
            return;                                                             \
        }                                                                       \
        _Pragma("GCC unroll 8")                                                 \
        for (npy_intp j = 0; j < m; j++) q[j * st] = buf[j];                    \
    }

DEFINE_PACK(float, f32)
DEFINE_PACK(double, f64)

/*
 * 16-bit blocks (float16, bf = 0, or bfloat16, bf = 1) to and from double
 * or float: the table's vector code where the operand is contiguous.
 * half_block_out<SUFFIX> also lists in at[] the results the loops look at
 * again (LISTED: for double, those that may be 16-bit rounding boundaries;
 * for float, also NaN) and returns their number.
 */
#define DEFINE_HALF_BLOCKS(T, SUFFIX, WIDEN, NARROW, LISTED)                       \
    static inline void half_block_in##SUFFIX(const sig_kernel_table *tab, T *buf,  \
                                             const char *p, npy_intp s,           \
                                             npy_intp m, int bf)                  \
    {                                                                              \
        if (s == 2) {                                                              \
            tab->half_in##SUFFIX(buf, (const uint16_t *)p, m, bf);                 \
            return;                                                                \
        }                                                                          \
        for (npy_intp j = 0; j < m; j++) {                                         \
            uint16_t h;                                                            \
            memcpy(&h, p + j * s, 2);                                              \
            buf[j] = WIDEN(h, bf);                                                 \
        }                                                                          \
    }                                                                              \
    static inline npy_intp half_block_out##SUFFIX(const sig_kernel_table *tab,     \
                                                  char *p, npy_intp s,             \
                                                  const T *buf, npy_intp m,        \
                                                  int bf, int32_t *at)             \
    {                                                                              \
        if (s == 2) return tab->half_out##SUFFIX((uint16_t *)p, buf, m, bf, at);   \
        npy_intp c = 0;                                                            \
        for (npy_intp j = 0; j < m; j++) {                                         \
            uint16_t h = NARROW(buf[j], bf);                                       \
            memcpy(p + j * s, &h, 2);                                              \
            if (LISTED(buf[j], bf)) at[c++] = (int32_t)j;                          \
        }                                                                          \
        return c;                                                                  \
    }

DEFINE_HALF_BLOCKS(double, , sig_16bit_to_double, sig_double_to_16bit, sig_double_16bit_candidate)
DEFINE_HALF_BLOCKS(float, 32, sig_16bit_to_float, sig_float_to_16bit, sig_float_16bit_unsure)

#define DEFINE_UNARY_RANGE(T, SUFFIX, KFN)                                       \
    static void unary_##SUFFIX(const sig_kernel_table *tab, KFN k, char *in,     \
                               npy_intp is, char *out, npy_intp os, npy_intp n,  \
                               int stream)                                       \
    {                                                                            \
        if (is == (npy_intp)sizeof(T) && os == (npy_intp)sizeof(T)) {            \
            k((const T *)in, (T *)out, n, stream);                               \
            return;                                                              \
        }                                                                        \
        T buf[BLOCK], obuf[BLOCK];                                               \
        for (npy_intp i = 0; i < n; i += BLOCK) {                                \
            npy_intp m = n - i < BLOCK ? n - i : BLOCK;                          \
            const T *src = pack_##SUFFIX(tab, buf, in + i * is, is, m);          \
            T *dst = os == (npy_intp)sizeof(T) ? (T *)(out + i * os) : obuf;     \
            k(src, dst, m, 0);                                                   \
            if (dst == obuf) unpack_##SUFFIX(tab, out + i * os, os, obuf, m);    \
        }                                                                        \
    }

#define DEFINE_BINARY_RANGE(T, SUFFIX, KFN)                                      \
    static void binary_##SUFFIX(const sig_kernel_table *tab, KFN k, char *in0,   \
                                npy_intp s0, char *in1, npy_intp s1, char *out,  \
                                npy_intp os, npy_intp n, int stream)             \
    {                                                                            \
        if (s0 == (npy_intp)sizeof(T) && s1 == (npy_intp)sizeof(T) &&            \
            os == (npy_intp)sizeof(T)) {                                         \
            k((const T *)in0, (const T *)in1, (T *)out, n, stream);              \
            return;                                                              \
        }                                                                        \
        T b0[BLOCK], b1[BLOCK], bo[BLOCK];                                       \
        for (npy_intp i = 0; i < n; i += BLOCK) {                                \
            npy_intp m = n - i < BLOCK ? n - i : BLOCK;                          \
            const T *x = pack_##SUFFIX(tab, b0, in0 + i * s0, s0, m);            \
            const T *g = pack_##SUFFIX(tab, b1, in1 + i * s1, s1, m);            \
            T *dst = os == (npy_intp)sizeof(T) ? (T *)(out + i * os) : bo;       \
            k(x, g, dst, m, 0);                                                  \
            if (dst == bo) unpack_##SUFFIX(tab, out + i * os, os, bo, m);        \
        }                                                                        \
    }

DEFINE_UNARY_RANGE(float, f32, sig_u32_fn)
DEFINE_UNARY_RANGE(double, f64, sig_u64_fn)
DEFINE_BINARY_RANGE(float, f32, sig_b32_fn)
DEFINE_BINARY_RANGE(double, f64, sig_b64_fn)

/*
 * sigmoid_backward and silu_backward compute the 16-bit types in float64
 * and round once (and so do the others for the few results that
 * f16_through_float cannot decide).  A float64 result within its error of a 16-bit rounding
 * boundary would not decide the rounding; for transcendental values that
 * does not happen on 16-bit inputs (the test suite checks all 65,536 of
 * each type), but for arguments far below 1 a term of the Taylor series can
 * fall below a float64 ulp, leaving the float64 result exactly on a
 * boundary while the true value lies to one side (bfloat16 has float32's
 * exponent range, so its subnormals reach 2^-133).  For |x| < 2^-20 a
 * boundary (at most 9 significant bits) within 2^-40 of x/2, g/4 or g/2
 * can only be that number itself, so the side is the sign of the next term:
 *   silu(x) = x/2 + x^2/4 - ...          above x/2
 *   g sigma'(x) = g (1/4 - x^2/16 + ...) below g/4 in size
 *   g silu'(x) = g (1/2 + x/2 + ...)     the sign of g x
 * and g y (1 - y), whose inputs make short exact products, has its exact
 * residual.  half_tie_direction gives the side of the true value for a
 * result on a boundary, and the result moves one float64 ulp that way.
 */
static inline int half_is_boundary(double r, int bf)
{
    /* a boundary lies half a 16-bit ulp from a 16-bit value: its low bits,
       below the half ulp, are zero, and at least 41 (float16) or 44
       (bfloat16) of them lie below it in a double.  Zero, double
       subnormals (far below every 16-bit boundary), infinities and NaN are
       not boundaries.  Almost every result fails this first test, which is
       one branch (and not one per condition: results of 0 would mispredict
       it, as hard_sigmoid_backward's often are). */
    uint64_t bits;
    memcpy(&bits, &r, sizeof bits);
    int be = (int)((bits >> 52) & 0x7FF);
    if (!(((bits & ((bf ? UINT64_C(1) << 44 : UINT64_C(1) << 41) - 1)) == 0) & ((unsigned)(be - 1) < 0x7FEu)))
        return 0;
    /* with r = M 2^(e - 52), M the significand with its leading bit, and
       2^u the 16-bit ulp at r, r is a boundary if it is an odd multiple of
       2^(u - 1): if M's lowest set bit is that of 2^(u - 1) */
    int p = bf ? 8 : 11, emin = bf ? -126 : -14, e = be - 1023;
    int u = (e > emin ? e : emin) - (p - 1);
    uint64_t M = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    return __builtin_ctzll(M) == u - 1 - e + 52;
}

static int sign_of(double v) { return (v > 0) - (v < 0); }

static int half_tie_direction(int fn, int binary, double x, double g, double r)
{
    if (!binary) return fn == SIG_SILU && fabs(x) < 0x1p-20 && x != 0.0 ? 1 : 0;
    switch (fn) {
    case SIG_SIGMOID_BACKWARD:
        return fabs(x) < 0x1p-20 && x != 0.0 ? -sign_of(g) : 0;
    case SIG_SILU_BACKWARD:
        return fabs(x) < 0x1p-20 ? sign_of(g) * sign_of(x) : 0;
    case SIG_SIGMOID_BACKWARD_FROM_OUTPUT: {
        /* g y (1 - y) - r: 1 - y = w + d (TwoSum), y w = P + Pl (FMA) */
        double y = x, w = 1.0 - y, bb = w - 1.0;
        double d = (1.0 - (w - bb)) + (-y - bb);
        double P = y * w, Pl = fma(y, w, -P);
        return sign_of(fma(g, P, -r) + g * fma(y, d, Pl));
    }
    default:
        return 0;
    }
}

/* the float64 result r of inputs x (and g), moved off a boundary that the
   true value does not lie on */
static double half_settle(int fn, int bf, int binary, double x, double g, double r)
{
    if (!half_is_boundary(r, bf)) return r;
    int dir = half_tie_direction(fn, binary, x, g, r);
    return dir != 0 ? nextafter(r, dir > 0 ? INFINITY : -INFINITY) : r;
}

/*
 * The one-argument functions take the float32 kernels for 16-bit data, and
 * so do sigmoid_backward_from_output and hard_sigmoid_backward.  A 16-bit
 * value is a float, so the kernel sees the exact input, and its result r
 * is faithful: one of the two floats around the true value t (the error
 * before its last rounding is a small fraction of an ulp; log_sigmoid,
 * softplus, logit, hard_sigmoid and g/6 are correctly rounded, sigma and
 * silu within 1 ULP, and g y (1 - y) is computed in double, exactly but for
 * two roundings of 2^-53).  A 16-bit rounding boundary is itself a float,
 * and no float lies strictly between r and t, so unless r is a boundary, r
 * and t lie on the same side of every boundary and round to the same
 * 16-bit value: r rounded once more is correctly rounded.  The results that
 * may be boundaries (about one in 2^13 for float16, 2^16 for bfloat16,
 * sig_float_16bit_unsure) are computed again by the float64 path above.  So
 * are NaN results; a NaN input of a one-argument function then gives itself
 * back, quieted, on every instruction set and at every position (the
 * kernels' NaN signs vary with both).  All 65,536 inputs of each type (and
 * for the two others every x with several g) are checked against the
 * correctly rounded results on every instruction set
 * (tests/test_accuracy.py).  float16 sigma at 10^5 took 2.1 to 2.5 ns per
 * element through float64 and takes 0.6 to 0.8 this way (Zen 4, AVX-512,
 * one thread).
 */
/* the two-argument functions that take this path */
static int half_pair_through_float(int fn)
{
    return fn == SIG_SIGMOID_BACKWARD_FROM_OUTPUT || fn == SIG_HARD_SIGMOID_BACKWARD;
}

#define HALF_REDO 256

/* in1 is NULL for one argument */
static void f16_through_float(const sig_kernel_table *tab, int fn, char *in0, npy_intp s0, char *in1, npy_intp s1,
                              char *out, npy_intp os, npy_intp n, int bf)
{
    const int binary = in1 != NULL;
    float x[BLOCK], g[BLOCK], y[BLOCK];
    int32_t unsure[BLOCK];
    for (npy_intp i = 0; i < n; i += BLOCK) {
        npy_intp m = n - i < BLOCK ? n - i : BLOCK;
        half_block_in32(tab, x, in0 + i * s0, s0, m, bf);
        if (binary) {
            half_block_in32(tab, g, in1 + i * s1, s1, m, bf);
            tab->b32[fn](x, g, y, m, 0);
        }
        else {
            tab->u32[fn](x, y, m, 0);
        }
        npy_intp nu = half_block_out32(tab, out + i * os, os, y, m, bf, unsure);
        /* the unsure ones through the float64 kernel, HALF_REDO at a time;
           their inputs come from x and g (out may be an input, already
           written) */
        for (npy_intp u = 0; u < nu;) {
            double d[HALF_REDO], e[HALF_REDO];
            int32_t at[HALF_REDO];
            int c = 0;
            for (; u < nu && c < HALF_REDO; u++) {
                int32_t j = unsure[u];
                if (!binary && isnan(x[j])) {
                    uint16_t h = sig_float_to_16bit(x[j], bf);
                    memcpy(out + (i + j) * os, &h, 2);
                    continue;
                }
                at[c] = j;
                e[c] = binary ? (double)g[j] : 0.0;
                d[c++] = (double)x[j];
            }
            if (binary) tab->b64[fn](d, e, d, c, 0);
            else tab->u64[fn](d, d, c, 0);
            for (int k = 0; k < c; k++) {
                int32_t j = at[k];
                double r = half_settle(fn, bf, binary, (double)x[j], binary ? (double)g[j] : 0.0, d[k]);
                uint16_t h = sig_double_to_16bit(r, bf);
                memcpy(out + (i + j) * os, &h, 2);
            }
        }
    }
}

/* sigmoid_backward and silu_backward: in float64, rounded once; the
   results that may be boundaries (listed by the rounding) are settled and,
   where they moved, rounded again.  Their inputs come from x and g: out may be either
   input, already written. */
#define HALF_BLOCK (BLOCK / 2)

static void binary_f16(const sig_kernel_table *tab, sig_b64_fn k, int fn, char *in0, npy_intp s0,
                       char *in1, npy_intp s1, char *out, npy_intp os, npy_intp n, int bf)
{
    double x[HALF_BLOCK], g[HALF_BLOCK], r[HALF_BLOCK];
    int32_t cand[HALF_BLOCK];
    for (npy_intp i = 0; i < n; i += HALF_BLOCK) {
        npy_intp m = n - i < HALF_BLOCK ? n - i : HALF_BLOCK;
        half_block_in(tab, x, in0 + i * s0, s0, m, bf);
        half_block_in(tab, g, in1 + i * s1, s1, m, bf);
        k(x, g, r, m, 0);
        npy_intp nc = half_block_out(tab, out + i * os, os, r, m, bf, cand);
        for (npy_intp c = 0; c < nc; c++) {
            int32_t j = cand[c];
            double v = half_settle(fn, bf, 1, x[j], g[j], r[j]);
            if (v == r[j]) continue;
            uint16_t h = sig_double_to_16bit(v, bf);
            memcpy(out + (i + j) * os, &h, 2);
        }
    }
}

/* ---------------------------------------------------------------- overlap */

/* the bytes [*lo, *hi) that n elements of `size` bytes from p with step s
   occupy (s may be negative or 0) */
static void extent(const char *p, npy_intp s, npy_intp n, npy_intp size, uintptr_t *lo,
                   uintptr_t *hi)
{
    uintptr_t a = (uintptr_t)p, last = (uintptr_t)(p + (n - 1) * s);
    *lo = s < 0 ? last : a;
    *hi = (s < 0 ? a : last) + (uintptr_t)size;
}

/* whether the output shares memory with an input other than element for
   element (the same address and step: in place) */
static int out_overlaps(const char *in, npy_intp is, const char *out, npy_intp os, npy_intp n,
                        npy_intp size)
{
    if (in == out && is == os) return 0;
    uintptr_t ilo, ihi, olo, ohi;
    extent(in, is, n, size, &ilo, &ihi);
    extent(out, os, n, size, &olo, &ohi);
    return ilo < ohi && olo < ihi;
}

/* ------------------------------------------------------------------- jobs */

static void run_range(void *vjob, ptrdiff_t b, ptrdiff_t e, int tid)
{
    (void)tid;
    const job_t *j = (const job_t *)vjob;
    npy_intp n = e - b;
    char *in0 = j->in0 + b * j->s0, *out = j->out + b * j->so;
    if (!j->binary) {
        switch (j->kind) {
        case K16:
        case KB16: f16_through_float(j->table, j->fn, in0, j->s0, NULL, 0, out, j->so, n, j->kind == KB16); break;
        case K32: unary_f32(j->table, j->table->u32[j->fn], in0, j->s0, out, j->so, n, j->stream); break;
        default: unary_f64(j->table, j->table->u64[j->fn], in0, j->s0, out, j->so, n, j->stream); break;
        }
        return;
    }
    char *in1 = j->in1 + b * j->s1;
    switch (j->kind) {
    case K16:
    case KB16:
        if (half_pair_through_float(j->fn))
            f16_through_float(j->table, j->fn, in0, j->s0, in1, j->s1, out, j->so, n, j->kind == KB16);
        else
            binary_f16(j->table, j->table->b64[j->fn], j->fn, in0, j->s0, in1, j->s1, out, j->so, n, j->kind == KB16);
        break;
    case K32:
        binary_f32(j->table, j->table->b32[j->fn], in0, j->s0, in1, j->s1, out, j->so, n, j->stream);
        break;
    default:
        binary_f64(j->table, j->table->b64[j->fn], in0, j->s0, in1, j->s1, out, j->so, n, j->stream);
        break;
    }
}

static void run(int kind, int binary, char **args, npy_intp const *dims,
                npy_intp const *steps, void *data)
{
    FP_SAVE;
    job_t j;
    j.table = sig_active;
    j.kind = kind;
    j.fn = (int)(intptr_t)data;
    j.binary = binary;
    j.stream = 0;
    j.in0 = args[0];
    j.s0 = steps[0];
    if (binary) {
        j.in1 = args[1];
        j.s1 = steps[1];
        j.out = args[2];
        j.so = steps[2];
    }
    else {
        j.in1 = NULL;
        j.s1 = 0;
        j.out = args[1];
        j.so = steps[1];
    }
    npy_intp n = dims[0];
    /* NumPy's buffers are usually 16 bytes past a cache line: run the first
       few elements on their own so that the vector stores (and, for equally
       placed inputs, the loads) of the rest never straddle two lines.  Each
       result depends on its own input only, so the split changes nothing
       but the speed. */
    npy_intp size = kind == K16 || kind == KB16 ? 2 : kind == K32 ? 4 : 8;
    if (size > 2 && j.so == size && n >= 4 * CHUNK_ALIGN) {
        npy_intp head = (npy_intp)((64 - ((uintptr_t)j.out & 63)) & 63) / size;
        if (head > 0 && ((uintptr_t)j.out % (uintptr_t)size) == 0) {
            run_range(&j, 0, head, 0);
            j.in0 += head * j.s0;
            if (binary) j.in1 += head * j.s1;
            j.out += head * j.so;
            n -= head;
        }
        j.stream = ((uintptr_t)j.out & 63) == 0 && n * size >= STREAM_BYTES;
    }
    /* NumPy passes an input that overlaps the output uncopied when the
       output trails it (out[i] is in[i - d], d > 0, in the order of the
       steps): processing the elements in order then gives the result of
       copying the input first.  Chunks on several threads would not keep
       that order (a later chunk could overwrite what an earlier one has yet
       to read), so such a call runs on this thread, in order; every kernel
       reads each element before it writes any later one, or copies it. */
    int ordered = n > 0 && (out_overlaps(j.in0, j.s0, j.out, j.so, n, size) ||
                            (binary && out_overlaps(j.in1, j.s1, j.out, j.so, n, size)));
    if (ordered) run_range(&j, 0, n, 0);
    else sig_parallel_for(n, MIN_PARALLEL, CHUNK_ALIGN, SIG_MAX_THREADS, run_range, &j);
    FP_RESTORE;
}

void sig_loop_u16(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(K16, 0, a, d, s, p); }
void sig_loop_u32(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(K32, 0, a, d, s, p); }
void sig_loop_u64(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(K64, 0, a, d, s, p); }
void sig_loop_b16(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(K16, 1, a, d, s, p); }
void sig_loop_ubf16(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(KB16, 0, a, d, s, p); }
void sig_loop_bbf16(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(KB16, 1, a, d, s, p); }
void sig_loop_b32(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(K32, 1, a, d, s, p); }
void sig_loop_b64(char **a, npy_intp const *d, npy_intp const *s, void *p) { run(K64, 1, a, d, s, p); }
