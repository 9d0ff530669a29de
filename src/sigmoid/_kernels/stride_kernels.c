/*
 * Every second element (x[::2], a column of a two-column array, the
 * commonest strided view): packed into a contiguous block for the kernels
 * and unpacked from it (loops.c), one instruction set per compilation (see
 * elementwise.c, whose table holds them).
 *
 * Packing reads whole vectors, which also cover the elements in between:
 * each loop stops while its last load still ends at an element of the view,
 * q[2(m - 1)], so that nothing past the view is read.  Unpacking must not
 * write the elements in between (they belong to someone else, maybe to
 * another thread): AVX-512 spreads a vector over the even lanes of two and
 * stores them under a mask, which leaves the odd lanes' memory untouched
 * (0.11 ns per element against 0.29 for single stores, Zen 4); the others
 * store one element at a time (AVX2's masked store, vmaskmovps, took 0.85
 * there).
 */
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
    for (ptrdiff_t j = 0; j < m; j++) q[2 * j] = buf[j];
}

#endif
