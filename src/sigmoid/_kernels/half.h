/*
 * IEEE binary16 and bfloat16 <-> binary64 conversions in portable C.  To
 * double they are exact; from double they round to nearest, ties to even,
 * in one step (no double rounding through float).
 */
#ifndef SIGMOID_HALF_H
#define SIGMOID_HALF_H

#include <stdint.h>
#include <string.h>
#include <math.h>

static inline double sig_half_to_double(uint16_t h)
{
    uint64_t sign = (uint64_t)(h & 0x8000u) << 48;
    uint32_t e = (h >> 10) & 0x1Fu;
    uint64_t m = h & 0x3FFu;
    uint64_t bits;
    double d;
    if (e == 0) {
        d = (double)m * 0x1p-24;  /* zero or subnormal: exact */
        memcpy(&bits, &d, 8);
        bits |= sign;
    }
    else if (e == 31) {
        bits = sign | 0x7FF0000000000000ull | (m << 42) | (m ? 0x0008000000000000ull : 0);
    }
    else {
        bits = sign | ((uint64_t)(e - 15 + 1023) << 52) | (m << 42);
    }
    memcpy(&d, &bits, 8);
    return d;
}

static inline uint16_t sig_double_to_half(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    uint16_t sign = (uint16_t)((bits >> 48) & 0x8000u);
    uint64_t abits = bits & 0x7FFFFFFFFFFFFFFFull;
    if (abits > 0x7FF0000000000000ull) {  /* NaN: keep the top payload bits, quiet */
        return (uint16_t)(sign | 0x7E00u | ((abits >> 42) & 0x3FFu));
    }
    if (abits >= 0x40EFFE0000000000ull) {  /* |d| >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7C00u);
    }
    if (abits < 0x3F10000000000000ull) {  /* |d| < 2^-14: subnormal half or zero */
        double a;
        memcpy(&a, &abits, 8);
        return (uint16_t)(sign | (uint16_t)nearbyint(a * 0x1p24));
    }
    uint64_t e = (abits >> 52) - 1023 + 15;
    uint64_t mant = abits & 0xFFFFFFFFFFFFFull;
    uint64_t h = (e << 10) | (mant >> 42);
    uint64_t rem = mant & 0x3FFFFFFFFFFull;
    if (rem > 0x20000000000ull || (rem == 0x20000000000ull && (h & 1))) h += 1;
    return (uint16_t)(sign | h);
}

/* bfloat16: the top 16 bits of a float32 (8-bit significand, float32's
   exponent range) */
static inline double sig_bf16_to_double(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return (double)f;
}

static inline uint16_t sig_double_to_bf16(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    uint16_t sign = (uint16_t)((bits >> 48) & 0x8000u);
    uint64_t abits = bits & 0x7FFFFFFFFFFFFFFFull;
    if (abits > 0x7FF0000000000000ull) {  /* NaN: keep the top payload bits, quiet */
        return (uint16_t)(sign | 0x7FC0u | ((abits >> 45) & 0x7Fu));
    }
    /* |d| >= (2 - 2^-8) 2^127, halfway above the largest bfloat16, rounds to
       infinity (the largest has an odd significand, so the tie goes up) */
    if (abits >= 0x47EFF00000000000ull) return (uint16_t)(sign | 0x7F80u);
    if (abits < 0x3810000000000000ull) {  /* |d| < 2^-126: subnormal or zero */
        double a;
        memcpy(&a, &abits, 8);
        return (uint16_t)(sign | (uint16_t)nearbyint(a * 0x1p133));
    }
    uint64_t e = (abits >> 52) - 1023 + 127;
    uint64_t mant = abits & 0xFFFFFFFFFFFFFull;
    uint64_t h = (e << 7) | (mant >> 45);
    uint64_t rem = mant & 0x1FFFFFFFFFFFull;
    if (rem > 0x100000000000ull || (rem == 0x100000000000ull && (h & 1))) h += 1;
    return (uint16_t)(sign | h);
}

/* float <-> the 16-bit types: to float exactly, from float through the
   exact widening to double and so rounded once */
static inline float sig_half_to_float(uint16_t h) { return (float)sig_half_to_double(h); }

static inline float sig_bf16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t sig_float_to_half(float f) { return sig_double_to_half((double)f); }
static inline uint16_t sig_float_to_bf16(float f) { return sig_double_to_bf16((double)f); }

/* either type: float16 (bf = 0) or bfloat16 (bf = 1) */
static inline double sig_16bit_to_double(uint16_t h, int bf) { return bf ? sig_bf16_to_double(h) : sig_half_to_double(h); }
static inline float sig_16bit_to_float(uint16_t h, int bf) { return bf ? sig_bf16_to_float(h) : sig_half_to_float(h); }
static inline uint16_t sig_double_to_16bit(double d, int bf) { return bf ? sig_double_to_bf16(d) : sig_double_to_half(d); }
static inline uint16_t sig_float_to_16bit(float f, int bf) { return bf ? sig_float_to_bf16(f) : sig_float_to_half(f); }

/*
 * Whether a float result is a NaN or may lie on a 16-bit rounding boundary,
 * the midpoint between two neighbouring float16 (bf = 0) or bfloat16
 * values.  Every float that does is flagged (and a few others, which costs
 * nothing but time).  bfloat16 is the top half of a float, subnormals
 * included: a boundary is a float whose low 16 bits read 0x8000.  float16
 * keeps 11 of float's 24 bits: from 2^-14 up a boundary's low 13 bits read
 * 0x1000; below 2^-14 float16's spacing is fixed (2^-24), and |f| + 2^-14,
 * which lands in the binade of 2^-14 and is exact for a boundary (an odd
 * multiple of 2^-25), is tested instead.
 */
static inline int sig_float_16bit_unsure(float f, int bf)
{
    uint32_t bits;
    if (isnan(f)) return 1;
    if (bf) {
        memcpy(&bits, &f, 4);
        return (bits & 0xFFFFu) == 0x8000u;
    }
    float a = fabsf(f);
    if (a < 0x1p-14f) a += 0x1p-14f;
    memcpy(&bits, &a, 4);
    return (bits & 0x1FFFu) == 0x1000u;
}

/*
 * Whether a double may be a 16-bit rounding boundary (the loops test these
 * exactly, in loops.c).  Every boundary is flagged, and few others.  From
 * float16's smallest normal 2^-14 (bfloat16's 2^-126) up, the 53 - p bits
 * below the 16-bit ulp (p = 11 or 8 significant bits) read 2^(52 - p) at a
 * boundary; below it the spacing is fixed, and |r| plus that smallest
 * normal, exact for a boundary, is tested instead.  NaN payloads may pass.
 */
static inline int sig_double_16bit_candidate(double r, int bf)
{
    double a = fabs(r), tiny = bf ? 0x1p-126 : 0x1p-14;
    if (a < tiny) a += tiny;
    uint64_t bits;
    memcpy(&bits, &a, 8);
    return (bits & ((bf ? UINT64_C(1) << 45 : UINT64_C(1) << 42) - 1)) == (bf ? UINT64_C(1) << 44 : UINT64_C(1) << 41);
}

#endif
