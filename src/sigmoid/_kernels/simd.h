/*
 * A small vector abstraction: the same operations on float vectors (vf),
 * double vectors (vd), their integer views (vfi, vdi) and masks (mf, md),
 * for three instruction sets selected by SIG_ISA at compile time:
 *
 *   SIG_ISA_AVX512    AVX-512 F/DQ/VL/BW: 16 floats, 8 doubles per vector
 *   SIG_ISA_AVX2      AVX2 + FMA:         8 floats, 4 doubles
 *   SIG_ISA_SSE2      x86-64's baseline, for CPUs without AVX2 and FMA: the
 *                     16-byte vectors below, with the fused multiply-add
 *                     emulated exactly in vector code (see vf_fma, vd_fma)
 *   SIG_ISA_PORTABLE  GCC/Clang vector extensions of 16 bytes: 4 floats,
 *                     2 doubles.  On aarch64 these are NEON vectors and the
 *                     FMA is NEON's (FMLA; ASIMD is part of every aarch64
 *                     CPU, so no run-time check is needed); elsewhere each
 *                     FMA is a per-lane call of fmaf/fma, the plain reference
 *                     that SIGMOID_ISA=portable keeps on x86-64.
 *
 * Every operation is an IEEE-754 operation with a single rounding (or an
 * exact one: selects, bit operations, scaling by powers of two), never an
 * approximation such as rcp14: the same source therefore gives bit-identical
 * results on every instruction set, which the test suite checks.
 *
 * A float vector always holds twice as many lanes as a double vector, so a
 * float vector converts to exactly two double vectors (vf_lo_vd/vf_hi_vd).
 *
 * Semantics that the kernels rely on:
 *   - min(a, b) is (a < b ? a : b) and max(a, b) is (a > b ? a : b): when
 *     either operand is NaN the second operand is returned, as with x86
 *     MINPS/MAXPS. Kernels put the data second to let NaN through.
 *   - mf_bits(m) has bit i set where lane i of m is set.
 *   - vf_lookup16(t, i) returns t[i & 15] per lane; only the low 4 bits of
 *     each integer lane are read.
 */
#ifndef SIGMOID_SIMD_H
#define SIGMOID_SIMD_H

#include <stdint.h>
#include <string.h>
#include <math.h>

#define SIG_ISA_PORTABLE 0
#define SIG_ISA_SSE2 1
#define SIG_ISA_AVX2 2
#define SIG_ISA_AVX512 3

#ifndef SIG_ISA
#error "SIG_ISA must be defined"
#endif

#define SIG_INLINE static inline __attribute__((always_inline))

#if SIG_ISA == SIG_ISA_AVX512
/* ======================================================================== */
#include <immintrin.h>

typedef __m512 vf;
typedef __m512d vd;
typedef __m512i vfi;
typedef __m512i vdi;
typedef __mmask16 mf;
typedef __mmask8 md;
#define VF_N 16
#define VD_N 8

SIG_INLINE vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
SIG_INLINE void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
SIG_INLINE vf vf_set(float c) { return _mm512_set1_ps(c); }
SIG_INLINE vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
SIG_INLINE vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
SIG_INLINE vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
SIG_INLINE vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
SIG_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
SIG_INLINE vf vf_fms(vf a, vf b, vf c) { return _mm512_fmsub_ps(a, b, c); }
SIG_INLINE vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
SIG_INLINE vf vf_fnms(vf a, vf b, vf c) { return _mm512_fnmsub_ps(a, b, c); }
SIG_INLINE vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
SIG_INLINE vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
SIG_INLINE vf vf_and(vf a, vf b) { return _mm512_and_ps(a, b); }
SIG_INLINE vf vf_or(vf a, vf b) { return _mm512_or_ps(a, b); }
SIG_INLINE vf vf_xor(vf a, vf b) { return _mm512_xor_ps(a, b); }
SIG_INLINE vf vf_andnot(vf a, vf b) { return _mm512_andnot_ps(a, b); }
SIG_INLINE mf vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
SIG_INLINE mf vf_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
SIG_INLINE mf vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
SIG_INLINE mf vf_ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
SIG_INLINE mf vf_eq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
SIG_INLINE mf vf_nle(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ); }
SIG_INLINE mf vf_isnan(vf a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
SIG_INLINE vf vf_sel(mf m, vf t, vf f) { return _mm512_mask_blend_ps(m, f, t); }
SIG_INLINE int mf_any(mf m) { return m != 0; }
SIG_INLINE unsigned mf_bits(mf m) { return m; }
SIG_INLINE mf mf_or(mf a, mf b) { return (mf)(a | b); }
SIG_INLINE mf mf_and(mf a, mf b) { return (mf)(a & b); }
SIG_INLINE mf mf_andnot(mf a, mf b) { return (mf)(~a & b); }
SIG_INLINE vfi vf_bits(vf a) { return _mm512_castps_si512(a); }
SIG_INLINE vf vfi_float(vfi a) { return _mm512_castsi512_ps(a); }
SIG_INLINE vfi vfi_set(int32_t c) { return _mm512_set1_epi32(c); }
SIG_INLINE vfi vfi_add(vfi a, vfi b) { return _mm512_add_epi32(a, b); }
SIG_INLINE vfi vfi_sub(vfi a, vfi b) { return _mm512_sub_epi32(a, b); }
SIG_INLINE vfi vfi_and(vfi a, vfi b) { return _mm512_and_si512(a, b); }
SIG_INLINE vfi vfi_or(vfi a, vfi b) { return _mm512_or_si512(a, b); }
SIG_INLINE vfi vfi_max(vfi a, vfi b) { return _mm512_max_epi32(a, b); }
SIG_INLINE mf vfi_eq(vfi a, vfi b) { return _mm512_cmpeq_epi32_mask(a, b); }
SIG_INLINE mf vfi_lt(vfi a, vfi b) { return _mm512_cmplt_epi32_mask(a, b); }
#define vfi_sll(a, n) _mm512_slli_epi32((a), (n))
#define vfi_srl(a, n) _mm512_srli_epi32((a), (n))
#define vfi_sra(a, n) _mm512_srai_epi32((a), (n))
SIG_INLINE vf vfi_cvt(vfi a) { return _mm512_cvtepi32_ps(a); }
SIG_INLINE vf vf_lookup16(const float *t, vfi i) {
    return _mm512_permutexvar_ps(i, _mm512_loadu_ps(t));
}
/* a * 2^floor(e), one rounding, for any e (subnormal results included) */
SIG_INLINE vf vf_scale(vf a, vf e) { return _mm512_scalef_ps(a, e); }
#define SIG_HAVE_SCALE 1

SIG_INLINE vd vd_load(const double *p) { return _mm512_loadu_pd(p); }
SIG_INLINE void vd_store(double *p, vd v) { _mm512_storeu_pd(p, v); }
SIG_INLINE vd vd_set(double c) { return _mm512_set1_pd(c); }
SIG_INLINE vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
SIG_INLINE vd vd_sub(vd a, vd b) { return _mm512_sub_pd(a, b); }
SIG_INLINE vd vd_mul(vd a, vd b) { return _mm512_mul_pd(a, b); }
SIG_INLINE vd vd_div(vd a, vd b) { return _mm512_div_pd(a, b); }
SIG_INLINE vd vd_fma(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
SIG_INLINE vd vd_fms(vd a, vd b, vd c) { return _mm512_fmsub_pd(a, b, c); }
SIG_INLINE vd vd_fnma(vd a, vd b, vd c) { return _mm512_fnmadd_pd(a, b, c); }
SIG_INLINE vd vd_fnms(vd a, vd b, vd c) { return _mm512_fnmsub_pd(a, b, c); }
SIG_INLINE vd vd_min(vd a, vd b) { return _mm512_min_pd(a, b); }
SIG_INLINE vd vd_max(vd a, vd b) { return _mm512_max_pd(a, b); }
SIG_INLINE vd vd_and(vd a, vd b) { return _mm512_and_pd(a, b); }
SIG_INLINE vd vd_or(vd a, vd b) { return _mm512_or_pd(a, b); }
SIG_INLINE vd vd_xor(vd a, vd b) { return _mm512_xor_pd(a, b); }
SIG_INLINE vd vd_andnot(vd a, vd b) { return _mm512_andnot_pd(a, b); }
SIG_INLINE md vd_lt(vd a, vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
SIG_INLINE md vd_le(vd a, vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
SIG_INLINE md vd_gt(vd a, vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ); }
SIG_INLINE md vd_ge(vd a, vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ); }
SIG_INLINE md vd_eq(vd a, vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
SIG_INLINE md vd_nle(vd a, vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_NLE_UQ); }
SIG_INLINE md vd_isnan(vd a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q); }
SIG_INLINE vd vd_sel(md m, vd t, vd f) { return _mm512_mask_blend_pd(m, f, t); }
SIG_INLINE int md_any(md m) { return m != 0; }
SIG_INLINE md md_or(md a, md b) { return (md)(a | b); }
SIG_INLINE md md_and(md a, md b) { return (md)(a & b); }
SIG_INLINE md md_andnot(md a, md b) { return (md)(~a & b); }
SIG_INLINE vdi vd_bits(vd a) { return _mm512_castpd_si512(a); }
SIG_INLINE vd vdi_double(vdi a) { return _mm512_castsi512_pd(a); }
SIG_INLINE vdi vdi_set(int64_t c) { return _mm512_set1_epi64(c); }
SIG_INLINE vdi vdi_add(vdi a, vdi b) { return _mm512_add_epi64(a, b); }
SIG_INLINE vdi vdi_sub(vdi a, vdi b) { return _mm512_sub_epi64(a, b); }
SIG_INLINE vdi vdi_and(vdi a, vdi b) { return _mm512_and_si512(a, b); }
SIG_INLINE vdi vdi_or(vdi a, vdi b) { return _mm512_or_si512(a, b); }
SIG_INLINE md vdi_lt(vdi a, vdi b) { return _mm512_cmplt_epi64_mask(a, b); }
#define vdi_sll(a, n) _mm512_slli_epi64((a), (n))
#define vdi_srl(a, n) _mm512_srli_epi64((a), (n))
SIG_INLINE vd vd_lookup16(const double *t, vdi i) {
    return _mm512_permutex2var_pd(_mm512_loadu_pd(t), i, _mm512_loadu_pd(t + 8));
}
SIG_INLINE vd vd_scale(vd a, vd e) { return _mm512_scalef_pd(a, e); }

SIG_INLINE vd vf_lo_vd(vf a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
SIG_INLINE vd vf_hi_vd(vf a) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)); }
SIG_INLINE vf vd2_vf(vd lo, vd hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)),
                              _mm512_cvtpd_ps(hi), 1);
}
/* the low 32 bits of every lane of two double vectors, in some fixed order */
SIG_INLINE vfi vd2_lo32(vd a, vd b) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_epi32(_mm512_castpd_si512(a), even, _mm512_castpd_si512(b));
}

#elif SIG_ISA == SIG_ISA_AVX2
/* ======================================================================== */
#include <immintrin.h>

typedef __m256 vf;
typedef __m256d vd;
typedef __m256i vfi;
typedef __m256i vdi;
typedef __m256 mf;
typedef __m256d md;
#define VF_N 8
#define VD_N 4

SIG_INLINE vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
SIG_INLINE void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
SIG_INLINE vf vf_set(float c) { return _mm256_set1_ps(c); }
SIG_INLINE vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
SIG_INLINE vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
SIG_INLINE vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
SIG_INLINE vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
SIG_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
SIG_INLINE vf vf_fms(vf a, vf b, vf c) { return _mm256_fmsub_ps(a, b, c); }
SIG_INLINE vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
SIG_INLINE vf vf_fnms(vf a, vf b, vf c) { return _mm256_fnmsub_ps(a, b, c); }
SIG_INLINE vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
SIG_INLINE vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
SIG_INLINE vf vf_and(vf a, vf b) { return _mm256_and_ps(a, b); }
SIG_INLINE vf vf_or(vf a, vf b) { return _mm256_or_ps(a, b); }
SIG_INLINE vf vf_xor(vf a, vf b) { return _mm256_xor_ps(a, b); }
SIG_INLINE vf vf_andnot(vf a, vf b) { return _mm256_andnot_ps(a, b); }
SIG_INLINE mf vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
SIG_INLINE mf vf_le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
SIG_INLINE mf vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
SIG_INLINE mf vf_ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
SIG_INLINE mf vf_eq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
SIG_INLINE mf vf_nle(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NLE_UQ); }
SIG_INLINE mf vf_isnan(vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
SIG_INLINE vf vf_sel(mf m, vf t, vf f) { return _mm256_blendv_ps(f, t, m); }
SIG_INLINE int mf_any(mf m) { return _mm256_movemask_ps(m) != 0; }
SIG_INLINE unsigned mf_bits(mf m) { return (unsigned)_mm256_movemask_ps(m); }
SIG_INLINE mf mf_or(mf a, mf b) { return _mm256_or_ps(a, b); }
SIG_INLINE mf mf_and(mf a, mf b) { return _mm256_and_ps(a, b); }
SIG_INLINE mf mf_andnot(mf a, mf b) { return _mm256_andnot_ps(a, b); }
SIG_INLINE vfi vf_bits(vf a) { return _mm256_castps_si256(a); }
SIG_INLINE vf vfi_float(vfi a) { return _mm256_castsi256_ps(a); }
SIG_INLINE vfi vfi_set(int32_t c) { return _mm256_set1_epi32(c); }
SIG_INLINE vfi vfi_add(vfi a, vfi b) { return _mm256_add_epi32(a, b); }
SIG_INLINE vfi vfi_sub(vfi a, vfi b) { return _mm256_sub_epi32(a, b); }
SIG_INLINE vfi vfi_and(vfi a, vfi b) { return _mm256_and_si256(a, b); }
SIG_INLINE vfi vfi_or(vfi a, vfi b) { return _mm256_or_si256(a, b); }
SIG_INLINE vfi vfi_max(vfi a, vfi b) { return _mm256_max_epi32(a, b); }
SIG_INLINE mf vfi_eq(vfi a, vfi b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
SIG_INLINE mf vfi_lt(vfi a, vfi b) { return _mm256_castsi256_ps(_mm256_cmpgt_epi32(b, a)); }
#define vfi_sll(a, n) _mm256_slli_epi32((a), (n))
#define vfi_srl(a, n) _mm256_srli_epi32((a), (n))
#define vfi_sra(a, n) _mm256_srai_epi32((a), (n))
SIG_INLINE vf vfi_cvt(vfi a) { return _mm256_cvtepi32_ps(a); }
SIG_INLINE vf vf_lookup16(const float *t, vfi i) {
    vf lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(t), i);
    vf hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(t + 8), i);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)));
}

SIG_INLINE vd vd_load(const double *p) { return _mm256_loadu_pd(p); }
SIG_INLINE void vd_store(double *p, vd v) { _mm256_storeu_pd(p, v); }
SIG_INLINE vd vd_set(double c) { return _mm256_set1_pd(c); }
SIG_INLINE vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
SIG_INLINE vd vd_sub(vd a, vd b) { return _mm256_sub_pd(a, b); }
SIG_INLINE vd vd_mul(vd a, vd b) { return _mm256_mul_pd(a, b); }
SIG_INLINE vd vd_div(vd a, vd b) { return _mm256_div_pd(a, b); }
SIG_INLINE vd vd_fma(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
SIG_INLINE vd vd_fms(vd a, vd b, vd c) { return _mm256_fmsub_pd(a, b, c); }
SIG_INLINE vd vd_fnma(vd a, vd b, vd c) { return _mm256_fnmadd_pd(a, b, c); }
SIG_INLINE vd vd_fnms(vd a, vd b, vd c) { return _mm256_fnmsub_pd(a, b, c); }
SIG_INLINE vd vd_min(vd a, vd b) { return _mm256_min_pd(a, b); }
SIG_INLINE vd vd_max(vd a, vd b) { return _mm256_max_pd(a, b); }
SIG_INLINE vd vd_and(vd a, vd b) { return _mm256_and_pd(a, b); }
SIG_INLINE vd vd_or(vd a, vd b) { return _mm256_or_pd(a, b); }
SIG_INLINE vd vd_xor(vd a, vd b) { return _mm256_xor_pd(a, b); }
SIG_INLINE vd vd_andnot(vd a, vd b) { return _mm256_andnot_pd(a, b); }
SIG_INLINE md vd_lt(vd a, vd b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
SIG_INLINE md vd_le(vd a, vd b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
SIG_INLINE md vd_gt(vd a, vd b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
SIG_INLINE md vd_ge(vd a, vd b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
SIG_INLINE md vd_eq(vd a, vd b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
SIG_INLINE md vd_nle(vd a, vd b) { return _mm256_cmp_pd(a, b, _CMP_NLE_UQ); }
SIG_INLINE md vd_isnan(vd a) { return _mm256_cmp_pd(a, a, _CMP_UNORD_Q); }
SIG_INLINE vd vd_sel(md m, vd t, vd f) { return _mm256_blendv_pd(f, t, m); }
SIG_INLINE int md_any(md m) { return _mm256_movemask_pd(m) != 0; }
SIG_INLINE md md_or(md a, md b) { return _mm256_or_pd(a, b); }
SIG_INLINE md md_and(md a, md b) { return _mm256_and_pd(a, b); }
SIG_INLINE md md_andnot(md a, md b) { return _mm256_andnot_pd(a, b); }
SIG_INLINE vdi vd_bits(vd a) { return _mm256_castpd_si256(a); }
SIG_INLINE vd vdi_double(vdi a) { return _mm256_castsi256_pd(a); }
SIG_INLINE vdi vdi_set(int64_t c) { return _mm256_set1_epi64x(c); }
SIG_INLINE vdi vdi_add(vdi a, vdi b) { return _mm256_add_epi64(a, b); }
SIG_INLINE vdi vdi_sub(vdi a, vdi b) { return _mm256_sub_epi64(a, b); }
SIG_INLINE vdi vdi_and(vdi a, vdi b) { return _mm256_and_si256(a, b); }
SIG_INLINE vdi vdi_or(vdi a, vdi b) { return _mm256_or_si256(a, b); }
SIG_INLINE md vdi_lt(vdi a, vdi b) { return _mm256_castsi256_pd(_mm256_cmpgt_epi64(b, a)); }
#define vdi_sll(a, n) _mm256_slli_epi64((a), (n))
#define vdi_srl(a, n) _mm256_srli_epi64((a), (n))
SIG_INLINE vd vd_lookup16(const double *t, vdi i) {
    return _mm256_i64gather_pd(t, _mm256_and_si256(i, _mm256_set1_epi64x(15)), 8);
}

SIG_INLINE vd vf_lo_vd(vf a) { return _mm256_cvtps_pd(_mm256_castps256_ps128(a)); }
SIG_INLINE vd vf_hi_vd(vf a) { return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)); }
SIG_INLINE vf vd2_vf(vd lo, vd hi) {
    return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}
/* the low 32 bits of every lane of two double vectors, in some fixed order */
SIG_INLINE vfi vd2_lo32(vd a, vd b) {
    return _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castpd_ps(a), _mm256_castpd_ps(b), 0x88));
}

#elif SIG_ISA == SIG_ISA_PORTABLE || SIG_ISA == SIG_ISA_SSE2
/* ======================================================================== */
#if SIG_ISA == SIG_ISA_SSE2 && !defined(__x86_64__)
#error "SIG_ISA_SSE2 is the x86-64 baseline"
#endif
#if SIG_ISA == SIG_ISA_PORTABLE && defined(__aarch64__)
#define SIG_NEON 1
#include <arm_neon.h>
#elif defined(__x86_64__)
#include <emmintrin.h>
#endif
typedef float vf __attribute__((vector_size(16)));
typedef double vd __attribute__((vector_size(16)));
typedef int32_t vfi __attribute__((vector_size(16)));
typedef int64_t vdi __attribute__((vector_size(16)));
typedef vfi mf;
typedef vdi md;
#define VF_N 4
#define VD_N 2

SIG_INLINE vf vf_load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
SIG_INLINE void vf_store(float *p, vf v) { memcpy(p, &v, sizeof v); }
SIG_INLINE vf vf_set(float c) { vf v = {c, c, c, c}; return v; }
SIG_INLINE vf vf_add(vf a, vf b) { return a + b; }
SIG_INLINE vf vf_sub(vf a, vf b) { return a - b; }
SIG_INLINE vf vf_mul(vf a, vf b) { return a * b; }
SIG_INLINE vf vf_div(vf a, vf b) { return a / b; }
SIG_INLINE vfi vf_bits(vf a) { return (vfi)a; }
SIG_INLINE vf vfi_float(vfi a) { return (vf)a; }
SIG_INLINE vf vf_sel(mf m, vf t, vf f) { return (vf)((m & (vfi)t) | (~m & (vfi)f)); }
SIG_INLINE vf vf_min(vf a, vf b) { return vf_sel(a < b, a, b); }
SIG_INLINE vf vf_max(vf a, vf b) { return vf_sel(a > b, a, b); }
SIG_INLINE vf vf_and(vf a, vf b) { return (vf)((vfi)a & (vfi)b); }
SIG_INLINE vf vf_or(vf a, vf b) { return (vf)((vfi)a | (vfi)b); }
SIG_INLINE vf vf_xor(vf a, vf b) { return (vf)((vfi)a ^ (vfi)b); }
SIG_INLINE vf vf_andnot(vf a, vf b) { return (vf)(~(vfi)a & (vfi)b); }
SIG_INLINE mf vf_lt(vf a, vf b) { return a < b; }
SIG_INLINE mf vf_le(vf a, vf b) { return a <= b; }
SIG_INLINE mf vf_gt(vf a, vf b) { return a > b; }
SIG_INLINE mf vf_ge(vf a, vf b) { return a >= b; }
SIG_INLINE mf vf_eq(vf a, vf b) { return a == b; }
SIG_INLINE mf vf_nle(vf a, vf b) { return ~(a <= b); }
SIG_INLINE mf vf_isnan(vf a) { return ~(a == a); }
SIG_INLINE int mf_any(mf m) {
    int r = 0;
    for (int i = 0; i < VF_N; i++) r |= m[i] != 0;
    return r;
}
SIG_INLINE unsigned mf_bits(mf m) {
    unsigned r = 0;
    for (int i = 0; i < VF_N; i++) r |= (unsigned)(m[i] != 0) << i;
    return r;
}
SIG_INLINE mf mf_or(mf a, mf b) { return a | b; }
SIG_INLINE mf mf_and(mf a, mf b) { return a & b; }
SIG_INLINE mf mf_andnot(mf a, mf b) { return ~a & b; }
SIG_INLINE vfi vfi_set(int32_t c) { vfi v = {c, c, c, c}; return v; }
SIG_INLINE vfi vfi_add(vfi a, vfi b) { return (vfi)((uint32_t __attribute__((vector_size(16))))a + (uint32_t __attribute__((vector_size(16))))b); }
SIG_INLINE vfi vfi_sub(vfi a, vfi b) { return (vfi)((uint32_t __attribute__((vector_size(16))))a - (uint32_t __attribute__((vector_size(16))))b); }
SIG_INLINE vfi vfi_and(vfi a, vfi b) { return a & b; }
SIG_INLINE vfi vfi_or(vfi a, vfi b) { return a | b; }
SIG_INLINE vfi vfi_max(vfi a, vfi b) { return ((a > b) & a) | (~(a > b) & b); }
SIG_INLINE mf vfi_eq(vfi a, vfi b) { return a == b; }
SIG_INLINE mf vfi_lt(vfi a, vfi b) { return a < b; }
#define vfi_sll(a, n) ((vfi)((uint32_t __attribute__((vector_size(16))))(a) << (n)))
#define vfi_srl(a, n) ((vfi)((uint32_t __attribute__((vector_size(16))))(a) >> (n)))
#define vfi_sra(a, n) ((a) >> (n))
SIG_INLINE vf vfi_cvt(vfi a) { return __builtin_convertvector(a, vf); }
SIG_INLINE vf vf_lookup16(const float *t, vfi i) {
    vf r;
    for (int k = 0; k < VF_N; k++) r[k] = t[i[k] & 15];
    return r;
}

SIG_INLINE vd vd_load(const double *p) { vd v; memcpy(&v, p, sizeof v); return v; }
SIG_INLINE void vd_store(double *p, vd v) { memcpy(p, &v, sizeof v); }
SIG_INLINE vd vd_set(double c) { vd v = {c, c}; return v; }
SIG_INLINE vd vd_add(vd a, vd b) { return a + b; }
SIG_INLINE vd vd_sub(vd a, vd b) { return a - b; }
SIG_INLINE vd vd_mul(vd a, vd b) { return a * b; }
SIG_INLINE vd vd_div(vd a, vd b) { return a / b; }
SIG_INLINE vdi vd_bits(vd a) { return (vdi)a; }
SIG_INLINE vd vdi_double(vdi a) { return (vd)a; }
SIG_INLINE vd vd_sel(md m, vd t, vd f) { return (vd)((m & (vdi)t) | (~m & (vdi)f)); }
SIG_INLINE vd vd_min(vd a, vd b) { return vd_sel(a < b, a, b); }
SIG_INLINE vd vd_max(vd a, vd b) { return vd_sel(a > b, a, b); }
SIG_INLINE vd vd_and(vd a, vd b) { return (vd)((vdi)a & (vdi)b); }
SIG_INLINE vd vd_or(vd a, vd b) { return (vd)((vdi)a | (vdi)b); }
SIG_INLINE vd vd_xor(vd a, vd b) { return (vd)((vdi)a ^ (vdi)b); }
SIG_INLINE vd vd_andnot(vd a, vd b) { return (vd)(~(vdi)a & (vdi)b); }
SIG_INLINE md vd_lt(vd a, vd b) { return a < b; }
SIG_INLINE md vd_le(vd a, vd b) { return a <= b; }
SIG_INLINE md vd_gt(vd a, vd b) { return a > b; }
SIG_INLINE md vd_ge(vd a, vd b) { return a >= b; }
SIG_INLINE md vd_eq(vd a, vd b) { return a == b; }
SIG_INLINE md vd_nle(vd a, vd b) { return ~(a <= b); }
SIG_INLINE md vd_isnan(vd a) { return ~(a == a); }
SIG_INLINE int md_any(md m) {
    int r = 0;
    for (int i = 0; i < VD_N; i++) r |= m[i] != 0;
    return r;
}
SIG_INLINE md md_or(md a, md b) { return a | b; }
SIG_INLINE md md_and(md a, md b) { return a & b; }
SIG_INLINE md md_andnot(md a, md b) { return ~a & b; }
SIG_INLINE vdi vdi_set(int64_t c) { vdi v = {c, c}; return v; }
SIG_INLINE vdi vdi_add(vdi a, vdi b) { return (vdi)((uint64_t __attribute__((vector_size(16))))a + (uint64_t __attribute__((vector_size(16))))b); }
SIG_INLINE vdi vdi_sub(vdi a, vdi b) { return (vdi)((uint64_t __attribute__((vector_size(16))))a - (uint64_t __attribute__((vector_size(16))))b); }
SIG_INLINE vdi vdi_and(vdi a, vdi b) { return a & b; }
SIG_INLINE vdi vdi_or(vdi a, vdi b) { return a | b; }
SIG_INLINE md vdi_lt(vdi a, vdi b) { return (md)(a < b); }
#define vdi_sll(a, n) ((vdi)((uint64_t __attribute__((vector_size(16))))(a) << (n)))
#define vdi_srl(a, n) ((vdi)((uint64_t __attribute__((vector_size(16))))(a) >> (n)))
SIG_INLINE vd vd_lookup16(const double *t, vdi i) {
    vd r;
    for (int k = 0; k < VD_N; k++) r[k] = t[i[k] & 15];
    return r;
}

SIG_INLINE vd vf_lo_vd(vf a) { vd r = {a[0], a[1]}; return r; }
SIG_INLINE vd vf_hi_vd(vf a) { vd r = {a[2], a[3]}; return r; }
SIG_INLINE vf vd2_vf(vd lo, vd hi) {
    vf r = {(float)lo[0], (float)lo[1], (float)hi[0], (float)hi[1]};
    return r;
}
/* the low 32 bits of every lane of two double vectors, in some fixed order */
SIG_INLINE vfi vd2_lo32(vd a, vd b) {
    vdi ia = vd_bits(a), ib = vd_bits(b);
    vfi r = {(int32_t)ia[0], (int32_t)ia[1], (int32_t)ib[0], (int32_t)ib[1]};
    return r;
}


/* ---- the fused multiply-add of the 16-byte vectors ---------------------- */
#if defined(SIG_NEON)
/* NEON's FMLA: one rounding, the same results as x86's VFMADD */
SIG_INLINE vf vf_fma(vf a, vf b, vf c) {
    return (vf)vfmaq_f32((float32x4_t)c, (float32x4_t)a, (float32x4_t)b);
}
SIG_INLINE vd vd_fma(vd a, vd b, vd c) {
    return (vd)vfmaq_f64((float64x2_t)c, (float64x2_t)a, (float64x2_t)b);
}

#elif SIG_ISA == SIG_ISA_SSE2
/*
 * SSE2 has no FMA, and results must equal the FMA machines' bit for bit, so
 * a*b + c is computed exactly and rounded once, in vector code.  The tools:
 *
 *  - TwoSum (Knuth): s = RN(x + y), e = (x - (s - bv)) + (y - bv) with
 *    bv = s - x gives s + e = x + y exactly, for any x, y whose sum is
 *    finite.
 *  - Rounding to odd: RO(s + e), for s = RN(s + e), is s if e = 0, else the
 *    neighbour of the exact value with an odd significand: s | 1 (in bits)
 *    when e has the sign of s, (s - 1) | 1 when it has the other sign.
 *    (s != 0 when e != 0, since the exact sum is then not zero and RN does
 *    not flush it.)
 *  - Boldo & Melquiond, "Emulation of a FMA and correctly rounded sums:
 *    proved algorithms using rounding to odd", IEEE Trans. Computers 57(4),
 *    2008 (proved in Coq): (i) if x is rounded to odd with k >= 2 more bits
 *    than the target format, rounding that to nearest gives RN(x) (no double
 *    rounding error); (ii) for u + v + w with (s, e) = TwoSum(u, v),
 *    RN(s + RO(e + w)) = RN(u + v + w) -- the sum of three numbers, as in
 *    glibc's software fma.
 *
 * float: a*b is exact in double (24 + 24 <= 53 bits; |a*b| >= 2^-298 or 0,
 * far inside double's normal range), TwoSum(a*b, c) is exact, so the double
 * RO(a*b + c) has 53 >= 24 + 2 bits and one conversion to float rounds it
 * correctly by (i), subnormal and overflowing float results included (a
 * float subnormal's grid is coarser still).  Infinities and NaN: e is then
 * NaN or 0, RO leaves s alone, and s is the IEEE result (fma(0, inf, c) and
 * inf - inf are NaN, an infinite c or a*b is carried).  No lane needs more.
 *
 * double: a*b = p + pl exactly by Veltkamp's split and Dekker's product,
 * then (ii) with u = c, v = p, w = pl.  These hold when nothing overflows and
 * no rounding happens below 2^-1022: ulp(a) ulp(b) > |a b| 2^-106, so for
 * |a b| >= 2^-960 every value computed is a multiple of ulp(a) ulp(b) >=
 * 2^-1074 and the subnormal range only ever holds exact values; |a|, |b| <=
 * 2^995 keeps the split (a * (2^27 + 1)) finite, |a b|, |c| <= 2^1000 the
 * sums.  A product that is exactly zero (a or b zero) gives RN(a*b + c) =
 * a*b + c as two IEEE operations, signs of zero included.  Every other lane
 * (a product below 2^-960, an operand near overflow, inf or NaN; none in
 * the kernels' ordinary range) falls back to libm's fma for that lane only.
 */
typedef uint64_t vdu __attribute__((vector_size(16)));

SIG_INLINE vd sig_fma_two_sum(vd x, vd y, vd *e)
{
    vd s = x + y, bv = s - x;
    *e = (x - (s - bv)) + (y - bv);
    return s;
}

/* s + e rounded to odd, for s = RN(s + e) */
SIG_INLINE vd sig_fma_round_odd(vd s, vd e)
{
    vdu ax = (vdu)e & (vdu)vdi_set(INT64_MAX);
    vdi inexact = (vd)ax > 0;                              /* e != 0, not NaN */
    vdi toward = ((e < 0) ^ (s < 0)) & inexact;            /* -1: toward zero */
    return (vd)(((vdu)s + (vdu)toward) | ((vdu)inexact & 1));
}

/* RO(a*b + c) in double, for a, b, c floats widened to double */
SIG_INLINE vd sig_fma_f32_odd(vd a, vd b, vd c)
{
    vd e, s = sig_fma_two_sum(a * b, c, &e);
    return sig_fma_round_odd(s, e);
}

/* The double s = RN(a*b + c) (the product is exact) rounds to the same float
 * as a*b + c itself unless s is a float midpoint: every float midpoint is a
 * double, so rounding to double never carries a*b + c across one, it can only
 * land on it.  For |s| in float's normal range or above, s is a midpoint
 * when its low 29 bits are 1 followed by 28 zeros.  Below 2^-126 the float
 * grid is coarser and the test does not hold; s is never a double subnormal
 * (a*b and c are multiples of 2^-298).  Those vectors, where some lane is a
 * midpoint or 0 < |s| < 2^-126 (rare), take the rounding to odd above.
 * Zeros, infinities and NaN come out of s as before (the IEEE result). */
SIG_INLINE vf vf_fma(vf a, vf b, vf c)
{
    __m128 A = (__m128)a, B = (__m128)b, C = (__m128)c;
    vd al = (vd)_mm_cvtps_pd(A), bl = (vd)_mm_cvtps_pd(B), cl = (vd)_mm_cvtps_pd(C);
    vd ah = (vd)_mm_cvtps_pd(_mm_movehl_ps(A, A)), bh = (vd)_mm_cvtps_pd(_mm_movehl_ps(B, B)),
       ch = (vd)_mm_cvtps_pd(_mm_movehl_ps(C, C));
    vd lo = al * bl + cl, hi = ah * bh + ch;
    __m128 L = _mm_castpd_ps((__m128d)lo), H = _mm_castpd_ps((__m128d)hi);
    __m128i low = _mm_castps_si128(_mm_shuffle_ps(L, H, 0x88));    /* the low 32 bits of each */
    __m128i top = _mm_and_si128(_mm_castps_si128(_mm_shuffle_ps(L, H, 0xDD)), _mm_set1_epi32(0x7fffffff));
    __m128i mid = _mm_cmpeq_epi32(_mm_and_si128(low, _mm_set1_epi32(0x1fffffff)), _mm_set1_epi32(0x10000000));
    __m128i tiny = _mm_and_si128(_mm_cmpgt_epi32(top, _mm_setzero_si128()),
                                 _mm_cmplt_epi32(top, _mm_set1_epi32(0x38100000)));   /* 2^-126's top half */
    if (__builtin_expect(_mm_movemask_epi8(_mm_or_si128(mid, tiny)) != 0, 0)) {
        lo = sig_fma_f32_odd(al, bl, cl);
        hi = sig_fma_f32_odd(ah, bh, ch);
    }
    return (vf)_mm_movelh_ps(_mm_cvtpd_ps((__m128d)lo), _mm_cvtpd_ps((__m128d)hi));
}

SIG_INLINE vd vd_fma(vd a, vd b, vd c)
{
    const vd split = {134217729.0, 134217729.0};          /* 2^27 + 1 */
    vd p = a * b;
    vd ga = a * split, ah = ga - (ga - a), al = a - ah;    /* a = ah + al, 26 bits each */
    vd gb = b * split, bh = gb - (gb - b), bl = b - bh;
    vd pl = ((ah * bh - p) + ah * bl + al * bh) + al * bl; /* a*b = p + pl */
    vd e, s = sig_fma_two_sum(c, p, &e);                   /* c + p = s + e */
    vd w, t = sig_fma_two_sum(e, pl, &w);                  /* e + pl = t + w */
    vd r = s + sig_fma_round_odd(t, w);
    vdi zero = (a == 0) | (b == 0);
    r = (vd)((zero & (vdi)(p + c)) | (~zero & (vdi)r));
    vdu m = (vdu)vdi_set(INT64_MAX);
    vd ap = (vd)((vdu)p & m);
    /* MAXPD returns its second operand when either is NaN: a NaN a, b or c
       fails one comparison (a NaN a or b through |p|) */
    vd abmax = (vd)_mm_max_pd((__m128d)((vdu)a & m), (__m128d)((vdu)b & m));
    vd pcmax = (vd)_mm_max_pd((__m128d)ap, (__m128d)((vdu)c & m));
    vdi ok = (ap >= 0x1p-960) & (pcmax <= 0x1p1000) & (abmax <= 0x1p995);
    int good = _mm_movemask_pd((__m128d)(ok | zero));
    if (__builtin_expect(good != 3, 0)) {
        for (int i = 0; i < VD_N; i++)
            if (!(good >> i & 1)) r[i] = fma(a[i], b[i], c[i]);
    }
    return r;
}

#else
/* the reference: libm's correctly rounded fma, lane by lane */
SIG_INLINE vf vf_fma(vf a, vf b, vf c) {
    vf r;
    for (int i = 0; i < VF_N; i++) r[i] = fmaf(a[i], b[i], c[i]);
    return r;
}
SIG_INLINE vd vd_fma(vd a, vd b, vd c) {
    vd r;
    for (int i = 0; i < VD_N; i++) r[i] = fma(a[i], b[i], c[i]);
    return r;
}
#endif
SIG_INLINE vf vf_fms(vf a, vf b, vf c) { return vf_fma(a, b, -c); }
SIG_INLINE vf vf_fnma(vf a, vf b, vf c) { return vf_fma(-a, b, c); }
SIG_INLINE vf vf_fnms(vf a, vf b, vf c) { return vf_fma(-a, b, -c); }
SIG_INLINE vd vd_fms(vd a, vd b, vd c) { return vd_fma(a, b, -c); }
SIG_INLINE vd vd_fnma(vd a, vd b, vd c) { return vd_fma(-a, b, c); }
SIG_INLINE vd vd_fnms(vd a, vd b, vd c) { return vd_fma(-a, b, -c); }

#else
#error "unknown SIG_ISA"
#endif

/* VD_N floats loaded as doubles, and doubles stored as VD_N floats */
#if SIG_ISA == SIG_ISA_AVX512
SIG_INLINE vd vd_load_f32(const float *p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
SIG_INLINE void vd_store_f32(float *p, vd v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
#elif SIG_ISA == SIG_ISA_AVX2
SIG_INLINE vd vd_load_f32(const float *p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
SIG_INLINE void vd_store_f32(float *p, vd v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
#else
SIG_INLINE vd vd_load_f32(const float *p) { vd r = {p[0], p[1]}; return r; }
SIG_INLINE void vd_store_f32(float *p, vd v) { p[0] = (float)v[0]; p[1] = (float)v[1]; }
#endif

/* non-temporal stores to 64-byte-aligned addresses (plain stores where the
   instruction set has none), and the fence that orders them */
#if SIG_ISA == SIG_ISA_AVX512
SIG_INLINE void vf_stream(float *p, vf v) { _mm512_stream_ps(p, v); }
SIG_INLINE void vd_stream(double *p, vd v) { _mm512_stream_pd(p, v); }
SIG_INLINE void sig_stream_fence(void) { _mm_sfence(); }
#elif SIG_ISA == SIG_ISA_AVX2
SIG_INLINE void vf_stream(float *p, vf v) { _mm256_stream_ps(p, v); }
SIG_INLINE void vd_stream(double *p, vd v) { _mm256_stream_pd(p, v); }
SIG_INLINE void sig_stream_fence(void) { _mm_sfence(); }
#else
SIG_INLINE void vf_stream(float *p, vf v) { vf_store(p, v); }
SIG_INLINE void vd_stream(double *p, vd v) { vd_store(p, v); }
SIG_INLINE void sig_stream_fence(void) {}
#endif

SIG_INLINE vf vf_abs(vf a) { return vf_andnot(vf_set(-0.0f), a); }
SIG_INLINE vd vd_abs(vd a) { return vd_andnot(vd_set(-0.0), a); }
SIG_INLINE vf vf_neg(vf a) { return vf_xor(vf_set(-0.0f), a); }
SIG_INLINE vd vd_neg(vd a) { return vd_xor(vd_set(-0.0), a); }
/* a b + c rounded once (FMA), or, where plain != 0 (a constant), as a product
   and a sum: the light double paths of correctly rounded float results, which
   SSE2 runs without emulating the FMA (their rounding tests allow for it) */
SIG_INLINE vd vd_madd(vd a, vd b, vd c, int plain) { return plain ? vd_add(vd_mul(a, b), c) : vd_fma(a, b, c); }
/* sign bit of b on |a| */
SIG_INLINE vf vf_copysign(vf a, vf b) {
    return vf_or(vf_andnot(vf_set(-0.0f), a), vf_and(vf_set(-0.0f), b));
}
SIG_INLINE vd vd_copysign(vd a, vd b) {
    return vd_or(vd_andnot(vd_set(-0.0), a), vd_and(vd_set(-0.0), b));
}

#endif /* SIGMOID_SIMD_H */
