/*
 * Operands into the kernels' blocks and results out of them (loops.c), one
 * instruction set per compilation (see elementwise.c, whose table holds
 * these): views of every second element, and float16 and bfloat16 arrays,
 * which the float32 or the float64 kernels compute (see loops.c).
 *
 * Every second element (x[::2], a column of a two-column array, the
 * commonest strided view).  Packing reads whole vectors, which also cover
 * the elements in between: each loop stops while its last load still ends
 * at an element of the view, q[2(m - 1)], so that nothing past the view is
 * read.  Unpacking must not write the elements in between (they belong to
 * someone else, maybe to another thread): AVX-512 spreads a vector over the
 * even lanes of two and stores them under a mask, which leaves the odd
 * lanes' memory untouched (0.11 ns per element against 0.29 for single
 * stores, Zen 4).  AVX2 does the same with VMASKMOVPS/PD where the CPU
 * runs them fast (sig_fast_masked_stores, dispatch.c: 0.06 ns per float
 * against 0.14 on a Zen 5; 0.85 on a Zen 4), and only while the last lane
 * of each store, written or not, is still within the view's span, so no
 * masked-off lane can touch an unmapped page; the others store one element
 * at a time.
 *
 * 16-bit values to double are exact (F16C's vcvtph2ps for float16, a shift
 * for bfloat16, then a widening).  Doubles to 16 bits round once, to
 * nearest with ties to even, as half.h's scalar conversions do: first to
 * float rounding to odd (truncated, and the last bit set when the
 * truncation was inexact), then to nearest from the float (vcvtps2ph, or
 * integer rounding of the float's bits for bfloat16).  Rounding to odd in a
 * format at least two bits wider makes the second rounding the correct one
 * (Boldo and Melquiond); float has 24 bits against 11 and 8, and float's
 * normal range covers float16's subnormals, while bfloat16's subnormals are
 * float's, 16 bits coarser.  NaN keeps its sign and the top bits of its
 * payload, quieted, as in half.h.
 *
 * 16-bit values to float are exact too.  Floats to 16 bits round to nearest
 * once (vcvtps2ph, or the integer rounding above).  Both roundings list the
 * results the loops look at again (see f16_through_float and binary_f16 in
 * loops.c): the doubles that may be 16-bit rounding boundaries, the floats
 * that may be or are NaN; a compare of their low bits per vector, and a
 * scan of the lanes only where one is set.
 */
#include <stdint.h>

#include "half.h"
#include "kernels_isa.h"

#if SIG_ISA == SIG_ISA_AVX512

void SIG_ISA_NAME(sig_pack2_f32)(float *buf, const float *q, ptrdiff_t m)
{
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    ptrdiff_t j = 0;
    for (; j + 17 <= m; j += 16)   /* reads q[2j] to q[2j + 31] */
        _mm512_storeu_ps(buf + j, _mm512_permutex2var_ps(_mm512_loadu_ps(q + 2 * j), even,
                                                         _mm512_loadu_ps(q + 2 * j + 16)));
    for (; j < m; j++) buf[j] = q[2 * j];
}

void SIG_ISA_NAME(sig_unpack2_f32)(float *q, const float *buf, ptrdiff_t m)
{
    const __m512i lo = _mm512_set_epi32(0, 7, 0, 6, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0);
    const __m512i hi = _mm512_set_epi32(0, 15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8);
    ptrdiff_t j = 0;
    for (; j + 16 <= m; j += 16) {   /* writes q[2j], q[2j + 2], ..., q[2j + 30] only */
        __m512 r = _mm512_loadu_ps(buf + j);
        _mm512_mask_storeu_ps(q + 2 * j, 0x5555, _mm512_permutexvar_ps(lo, r));
        _mm512_mask_storeu_ps(q + 2 * j + 16, 0x5555, _mm512_permutexvar_ps(hi, r));
    }
    if (j < m) {   /* the last m - j < 16 elements: the same, with the mask cut short */
        __mmask32 keep = (__mmask32)(0x55555555u & ((1u << (2 * (m - j) - 1)) - 1u) );
        __m512 r = _mm512_maskz_loadu_ps((__mmask16)((1u << (m - j)) - 1u), buf + j);
        _mm512_mask_storeu_ps(q + 2 * j, (__mmask16)keep, _mm512_permutexvar_ps(lo, r));
        _mm512_mask_storeu_ps(q + 2 * j + 16, (__mmask16)(keep >> 16), _mm512_permutexvar_ps(hi, r));
    }
}

void SIG_ISA_NAME(sig_pack2_f64)(double *buf, const double *q, ptrdiff_t m)
{
    const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    ptrdiff_t j = 0;
    for (; j + 9 <= m; j += 8)   /* reads q[2j] to q[2j + 15] */
        _mm512_storeu_pd(buf + j, _mm512_permutex2var_pd(_mm512_loadu_pd(q + 2 * j), even,
                                                         _mm512_loadu_pd(q + 2 * j + 8)));
    for (; j < m; j++) buf[j] = q[2 * j];
}

void SIG_ISA_NAME(sig_unpack2_f64)(double *q, const double *buf, ptrdiff_t m)
{
    const __m512i lo = _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0);
    const __m512i hi = _mm512_set_epi64(0, 7, 0, 6, 0, 5, 0, 4);
    ptrdiff_t j = 0;
    for (; j + 8 <= m; j += 8) {
        __m512d r = _mm512_loadu_pd(buf + j);
        _mm512_mask_storeu_pd(q + 2 * j, 0x55, _mm512_permutexvar_pd(lo, r));
        _mm512_mask_storeu_pd(q + 2 * j + 8, 0x55, _mm512_permutexvar_pd(hi, r));
    }
    if (j < m) {
        unsigned keep = 0x5555u & ((1u << (2 * (m - j) - 1)) - 1u);
        __m512d r = _mm512_maskz_loadu_pd((__mmask8)((1u << (m - j)) - 1u), buf + j);
        _mm512_mask_storeu_pd(q + 2 * j, (__mmask8)keep, _mm512_permutexvar_pd(lo, r));
        _mm512_mask_storeu_pd(q + 2 * j + 8, (__mmask8)(keep >> 8), _mm512_permutexvar_pd(hi, r));
    }
}

#else

void SIG_ISA_NAME(sig_pack2_f32)(float *buf, const float *q, ptrdiff_t m)
{
    ptrdiff_t j = 0;
#if SIG_ISA == SIG_ISA_AVX2
    for (; j + 9 <= m; j += 8) {   /* reads q[2j] to q[2j + 15] */
        __m256 a = _mm256_loadu_ps(q + 2 * j), b = _mm256_loadu_ps(q + 2 * j + 8);
        __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   /* a0 a2 b0 b2 | a4 a6 b4 b6 */
        _mm256_storeu_ps(buf + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e),
                                                                         _MM_SHUFFLE(3, 1, 2, 0))));
    }
#endif
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_SSE2
    for (; j + 5 <= m; j += 4) {   /* reads q[2j] to q[2j + 7] */
        __m128 a = _mm_loadu_ps(q + 2 * j), b = _mm_loadu_ps(q + 2 * j + 4);
        _mm_storeu_ps(buf + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
    }
#endif
    for (; j < m; j++) buf[j] = q[2 * j];
}

void SIG_ISA_NAME(sig_unpack2_f32)(float *q, const float *buf, ptrdiff_t m)
{
    ptrdiff_t j = 0;
#if SIG_ISA == SIG_ISA_AVX2
    if (sig_fast_masked_stores) {
        const __m256i even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
        for (; j + 9 <= m; j += 8) {   /* q[2j] to q[2j + 15], within the view's span */
            __m256 r = _mm256_loadu_ps(buf + j);
            __m256 lo = _mm256_unpacklo_ps(r, r), hi = _mm256_unpackhi_ps(r, r);   /* r0 r0 r1 r1 | r4 r4 r5 r5 */
            _mm256_maskstore_ps(q + 2 * j, even, _mm256_permute2f128_ps(lo, hi, 0x20));
            _mm256_maskstore_ps(q + 2 * j + 8, even, _mm256_permute2f128_ps(lo, hi, 0x31));
        }
    }
#endif
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_SSE2
    for (; j + 4 <= m; j += 4) {
        __m128 r = _mm_loadu_ps(buf + j);
        _mm_store_ss(q + 2 * j, r);
        _mm_store_ss(q + 2 * j + 2, _mm_shuffle_ps(r, r, 1));
        _mm_store_ss(q + 2 * j + 4, _mm_movehl_ps(r, r));
        _mm_store_ss(q + 2 * j + 6, _mm_shuffle_ps(r, r, 3));
    }
#endif
    for (; j < m; j++) q[2 * j] = buf[j];
}

void SIG_ISA_NAME(sig_pack2_f64)(double *buf, const double *q, ptrdiff_t m)
{
    ptrdiff_t j = 0;
#if SIG_ISA == SIG_ISA_AVX2
    for (; j + 5 <= m; j += 4) {   /* reads q[2j] to q[2j + 7] */
        __m256d a = _mm256_loadu_pd(q + 2 * j), b = _mm256_loadu_pd(q + 2 * j + 4);
        __m256d e = _mm256_unpacklo_pd(a, b);   /* a0 b0 | a2 b2 */
        _mm256_storeu_pd(buf + j, _mm256_permute4x64_pd(e, _MM_SHUFFLE(3, 1, 2, 0)));
    }
#endif
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_SSE2
    for (; j + 2 <= m; j += 2)   /* reads q[2j] and q[2j + 2] only */
        _mm_storeu_pd(buf + j, _mm_unpacklo_pd(_mm_load_sd(q + 2 * j), _mm_load_sd(q + 2 * j + 2)));
#endif
    for (; j < m; j++) buf[j] = q[2 * j];
}

void SIG_ISA_NAME(sig_unpack2_f64)(double *q, const double *buf, ptrdiff_t m)
{
    ptrdiff_t j = 0;
#if SIG_ISA == SIG_ISA_AVX2
    if (sig_fast_masked_stores) {
        const __m256i even = _mm256_setr_epi64x(-1, 0, -1, 0);
        for (; j + 5 <= m; j += 4) {   /* q[2j] to q[2j + 7], within the view's span */
            __m256d r = _mm256_loadu_pd(buf + j);
            _mm256_maskstore_pd(q + 2 * j, even, _mm256_permute4x64_pd(r, _MM_SHUFFLE(1, 1, 0, 0)));
            _mm256_maskstore_pd(q + 2 * j + 4, even, _mm256_permute4x64_pd(r, _MM_SHUFFLE(3, 3, 2, 2)));
        }
    }
#endif
    for (; j < m; j++) q[2 * j] = buf[j];
}

#endif

/* ------------------------------------------------------- 16-bit <-> double */

#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_AVX512
/* 8 floats from 8 doubles, each truncated with its last bit set when the
   truncation was inexact (or the double a NaN): rounding to odd.  The
   conversion rounds to nearest; where that went away from zero, the float
   one step nearer zero is the truncation (the bit pattern minus one: the
   magnitude was not zero). */
static inline __m256i round_to_odd8(const double *d)
{
    __m256i r[2];
    const __m256d mag = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
    for (int h = 0; h < 2; h++) {
        __m256d x = _mm256_loadu_pd(d + 4 * h);
        __m128 f = _mm256_cvtpd_ps(x);
        __m256d back = _mm256_cvtps_pd(f);
        __m256d away = _mm256_cmp_pd(_mm256_and_pd(back, mag), _mm256_and_pd(x, mag), _CMP_GT_OQ);
        __m256d inexact = _mm256_cmp_pd(back, x, _CMP_NEQ_UQ);
        /* the low 32 bits of each 64-bit mask lane, in order */
        const __m256i lo = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        __m128i a = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(away), lo));
        __m128i e = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(inexact), lo));
        __m128i b = _mm_add_epi32(_mm_castps_si128(f), a);                      /* a is 0 or -1 */
        r[h] = _mm256_castsi128_si256(_mm_or_si128(b, _mm_and_si128(e, _mm_set1_epi32(1))));
    }
    return _mm256_inserti128_si256(r[0], _mm256_castsi256_si128(r[1]), 1);
}

/* 8 floats (as bits) to bfloat16: to nearest, ties to even, on the bits; a
   NaN keeps its sign and top payload bits, quieted */
static inline __m128i bf16_round8(__m256i f)
{
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(f, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(f, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), odd)), 16);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(f, _mm256_set1_epi32(0x7FFFFFFF)),
                                     _mm256_set1_epi32(0x7F800000));
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(f, 16), _mm256_set1_epi32(0x0040));
    r = _mm256_blendv_epi8(r, q, nan);
    /* 32-bit lanes to 16 bits (each below 2^16), in order */
    __m256i packed = _mm256_packus_epi32(r, r);    /* per 128-bit half: 4 values twice */
    packed = _mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm256_castsi256_si128(packed);
}

/* 8 16-bit values to float, exactly */
static inline __m256 widen8(const uint16_t *p, int bf)
{
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return bf ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

#endif

void SIG_ISA_NAME(sig_half_in)(double *buf, const uint16_t *p, ptrdiff_t m, int bf)
{
    ptrdiff_t j = 0;
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_AVX512
    for (; j + 8 <= m; j += 8) {
        __m256 f = widen8(p + j, bf);
        _mm256_storeu_pd(buf + j, _mm256_cvtps_pd(_mm256_castps256_ps128(f)));
        _mm256_storeu_pd(buf + j + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)));
    }
#endif
    for (; j < m; j++) buf[j] = sig_16bit_to_double(p[j], bf);
}

/* doubles to 16 bits, rounded once; the positions of those that may be a
   16-bit rounding boundary (sig_double_16bit_candidate, which the vector
   loop computes alike) go to cand[], and their number is returned */
ptrdiff_t SIG_ISA_NAME(sig_half_out)(uint16_t *p, const double *buf, ptrdiff_t m, int bf, int32_t *cand)
{
    ptrdiff_t j = 0, c = 0;
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_AVX512
    const __m256d mag = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
    const __m256d tiny = _mm256_set1_pd(bf ? 0x1p-126 : 0x1p-14);
    const __m256i low = _mm256_set1_epi64x((bf ? INT64_C(1) << 45 : INT64_C(1) << 42) - 1);
    const __m256i mid = _mm256_set1_epi64x(bf ? INT64_C(1) << 44 : INT64_C(1) << 41);
    for (; j + 8 <= m; j += 8) {
        int bits = 0;
        for (int h = 0; h < 2; h++) {
            __m256d a = _mm256_and_pd(_mm256_loadu_pd(buf + j + 4 * h), mag);
            a = _mm256_blendv_pd(a, _mm256_add_pd(a, tiny), _mm256_cmp_pd(a, tiny, _CMP_LT_OQ));
            __m256i t = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_castpd_si256(a), low), mid);
            bits |= _mm256_movemask_pd(_mm256_castsi256_pd(t)) << (4 * h);
        }
        while (bits != 0) {    /* rare */
            cand[c++] = (int32_t)(j + __builtin_ctz((unsigned)bits));
            bits &= bits - 1;
        }
        __m256i f = round_to_odd8(buf + j);
        __m128i h;
        if (!bf) {
            h = _mm256_cvtps_ph(_mm256_castsi256_ps(f), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        }
        else {
            h = bf16_round8(f);
        }
        _mm_storeu_si128((__m128i *)(p + j), h);
    }
#endif
    for (; j < m; j++) {
        p[j] = sig_double_to_16bit(buf[j], bf);
        if (sig_double_16bit_candidate(buf[j], bf)) cand[c++] = (int32_t)j;
    }
    return c;
}

/* ------------------------------------------------------- 16-bit <-> float */

void SIG_ISA_NAME(sig_half_in32)(float *buf, const uint16_t *p, ptrdiff_t m, int bf)
{
    ptrdiff_t j = 0;
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_AVX512
    for (; j + 8 <= m; j += 8) _mm256_storeu_ps(buf + j, widen8(p + j, bf));
#endif
    for (; j < m; j++) buf[j] = sig_16bit_to_float(p[j], bf);
}

/* floats to 16 bits, rounded to nearest (ties to even); the positions of
   those that are NaN or may lie on a 16-bit rounding boundary
   (sig_float_16bit_unsure, which the vector loop computes alike) go to
   unsure[], and their number is returned */
ptrdiff_t SIG_ISA_NAME(sig_half_out32)(uint16_t *p, const float *buf, ptrdiff_t m, int bf, int32_t *unsure)
{
    ptrdiff_t j = 0, c = 0;
#if SIG_ISA == SIG_ISA_AVX2 || SIG_ISA == SIG_ISA_AVX512
    const __m256i low = _mm256_set1_epi32(bf ? 0xFFFF : 0x1FFF), mid = _mm256_set1_epi32(bf ? 0x8000 : 0x1000);
    const __m256 mag = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), tiny = _mm256_set1_ps(0x1p-14f);
    for (; j + 8 <= m; j += 8) {
        __m256 f = _mm256_loadu_ps(buf + j);
        __m256i t;
        if (bf) {
            _mm_storeu_si128((__m128i *)(p + j), bf16_round8(_mm256_castps_si256(f)));
            t = _mm256_castps_si256(f);
        }
        else {
            _mm_storeu_si128((__m128i *)(p + j), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            __m256 a = _mm256_and_ps(f, mag);
            a = _mm256_blendv_ps(a, _mm256_add_ps(a, tiny), _mm256_cmp_ps(a, tiny, _CMP_LT_OQ));
            t = _mm256_castps_si256(a);
        }
        __m256i u = _mm256_or_si256(_mm256_cmpeq_epi32(_mm256_and_si256(t, low), mid),
                                    _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)));
        int bits = _mm256_movemask_ps(_mm256_castsi256_ps(u));
        while (bits != 0) {    /* rare */
            unsure[c++] = (int32_t)(j + __builtin_ctz((unsigned)bits));
            bits &= bits - 1;
        }
    }
#endif
    for (; j < m; j++) {
        p[j] = sig_float_to_16bit(buf[j], bf);
        if (sig_float_16bit_unsure(buf[j], bf)) unsure[c++] = (int32_t)j;
    }
    return c;
}
