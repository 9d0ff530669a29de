/*
 * Choosing the kernel table at run time.  The x86-64 tables are compiled with
 * their own -m flags; only this file's checks decide whether they may run, so
 * the extension loads on any x86-64 CPU and on other architectures uses the
 * portable table (NEON vectors with NEON's FMA on aarch64, see simd.h).
 *
 * On x86-64, best first: avx512, avx2, then for a CPU without an FMA unit
 * sse2 -- x86-64's baseline, with the FMA emulated exactly in vector code,
 * measured 35 to 100 times faster at 10^5 than the per-lane calls of libm's
 * software fma (GLIBC_TUNABLES=glibc.cpu.hwcaps=-FMA,-AVX2 on an FMA
 * machine; 180-310 ns a call there, likely more than on real hardware) -- and
 * portable, the per-lane fmaf/fma reference, kept selectable with
 * SIGMOID_ISA=portable so that the suite compares every table with it.  A
 * CPU with FMA but without AVX2 (AMD family 15h) puts portable before sse2:
 * libm's fma runs on the FMA unit there, and on a Zen 5 (whose libm fma
 * does too) the per-lane calls took 0.22 to 0.29 of sse2's time for the
 * float64 functions at 10^5, though 1.4 to 7.5 times sse2's for the float32
 * ones (sse2 computes the correctly rounded ones in double without the FMA
 * and rounds most float FMAs straight from double).  One table serves both
 * dtypes, neither order wins both, and the order stays.
 */
#include <stdlib.h>
#include <string.h>
#if defined(SIG_WITH_X86_DISPATCH)
#include <cpuid.h>
#endif

#include "kernels.h"

const sig_kernel_table *sig_active = &sig_kernels_portable;
int sig_fast_masked_stores = 0;

/* Intel's cores since Haswell store under a mask at about the rate of plain
   stores (by the published instruction tables; no Intel CPU measured here);
   AMD's before Zen 5 (family 1Ah) run VMASKMOVPS/PD stores as microcode
   (0.85 ns per element written on a Zen 4, where single stores took 0.29),
   and on a Zen 5 they take 0.06 ns per float written against 0.14 for
   single stores.  Other vendors keep the single stores. */
static int masked_stores_fast(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    unsigned a, b, c, d;
    __builtin_cpu_init();
    if (__builtin_cpu_is("intel")) return 1;
    if (!__builtin_cpu_is("amd") || !__get_cpuid(1, &a, &b, &c, &d)) return 0;
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    return family >= 0x1a;
#else
    return 0;
#endif
}

static int have_avx512(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int have_avx2(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static int have_fma(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static const sig_kernel_table *lookup(const char *name)
{
#if defined(SIG_WITH_X86_DISPATCH)
    if (strcmp(name, "avx512") == 0) return have_avx512() ? &sig_kernels_avx512 : NULL;
    if (strcmp(name, "avx2") == 0) return have_avx2() ? &sig_kernels_avx2 : NULL;
    if (strcmp(name, "sse2") == 0) return &sig_kernels_sse2;
#endif
    if (strcmp(name, "portable") == 0) return &sig_kernels_portable;
    return NULL;
}

int sig_select_isa(const char *name)
{
    sig_fast_masked_stores = masked_stores_fast();
    if (name == NULL || name[0] == '\0') {
        const char *s = sig_supported_isas();
        char best[16];
        size_t n = strcspn(s, ",");
        memcpy(best, s, n);
        best[n] = '\0';
        sig_active = lookup(best);
        return 0;
    }
    const sig_kernel_table *t = lookup(name);
    if (t == NULL) return -1;
    sig_active = t;
    return 0;
}

const char *sig_supported_isas(void)
{
#if defined(SIG_WITH_X86_DISPATCH)
    if (have_avx512()) return "avx512,avx2,portable,sse2";
    if (have_avx2()) return "avx2,portable,sse2";
    if (have_fma()) return "portable,sse2";
    return "sse2,portable";
#else
    return "portable";
#endif
}
