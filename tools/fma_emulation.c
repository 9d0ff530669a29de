/*
 * The SSE2 table's emulated FMA (simd.h, SIG_ISA_SSE2) against libm's fmaf
 * and fma, lane by lane and bit for bit, on random operands of every
 * magnitude and on the cases that defeat an emulation without rounding to
 * odd: products 2^m (1 -+ j^2 2^-46) (float) or 2^m (1 -+ j^2 2^-104)
 * (double) added to a c whose grid puts the sum next to one of its
 * midpoints, exact cancellations, c at the product's rounding error, and
 * zeros, subnormals, infinities and NaN.  Prints how many lanes differ
 * (none) and exits 1 if any does.  Replacing the rounding to odd in simd.h by
 * a plain sum makes about 0.3% of the float lanes and 1.5% of the double
 * lanes differ.  Run on x86-64 (fma() is correctly rounded in glibc with or
 * without an FMA unit):
 *
 *   gcc -O2 -std=gnu11 -ffp-contract=off -fno-math-errno -DSIG_ISA=1 \
 *       -I src/sigmoid/_kernels tools/fma_emulation.c -o /tmp/fma_check -lm
 *   /tmp/fma_check 50000000
 */
#include <stdio.h>
#include <stdlib.h>
#include "simd.h"
static uint64_t st = 88172645463325252ull;
static uint64_t rnd(void){ st ^= st<<13; st ^= st>>7; st ^= st<<17; return st; }
static float rf(int emin, int emax){ uint32_t m = rnd() & 0x7fffff; int e = emin + (int)(rnd() % (uint64_t)(emax-emin+1)); uint32_t b = ((uint32_t)(e+127) << 23) | m | ((rnd()&1)<<31); float f; memcpy(&f,&b,4); return f; }
static double rd(int emin, int emax){ uint64_t m = rnd() & 0xfffffffffffffull; int e = emin + (int)(rnd() % (uint64_t)(emax-emin+1)); uint64_t b = ((uint64_t)(e+1023) << 52) | m | ((rnd()&1)<<63); double f; memcpy(&f,&b,8); return f; }
static float trunc_bits_f(float x, int k){ uint32_t b; memcpy(&b,&x,4); b &= ~((1u<<k)-1); memcpy(&x,&b,4); return x; }
static double trunc_bits_d(double x, int k){ uint64_t b; memcpy(&b,&x,8); b &= ~((1ull<<k)-1); memcpy(&x,&b,8); return x; }
int main(int argc, char **argv){
  long n = atol(argv[1]); long bad32=0, bad64=0;
  for (long it=0; it<n; it++){
    int kind = it % 8;
    float a[4], b[4], c[4]; double A[2], B[2], C[2];
    for (int l=0;l<4;l++){
      int sh = (int)(rnd()%40) - 20;
      a[l] = rf(-140, 60); b[l] = rf(-140, 60);
      if (kind==1) { a[l]=trunc_bits_f(a[l], rnd()%23); b[l]=trunc_bits_f(b[l], rnd()%23); }
      float p = a[l]*b[l];
      switch(kind){
        case 0: c[l] = rf(-149, 127); break;
        case 1: case 2: c[l] = -p; break;                          /* cancellation */
        case 3: c[l] = ldexpf(-p, sh); break;
        case 4: c[l] = trunc_bits_f(ldexpf(p, sh), rnd()%23) ; break;
        case 5: { double e = (double)a[l]*b[l] - p; c[l] = (float)ldexp(e, (int)(rnd()%60)-30); if (rnd()&1) c[l] = -c[l]; } break;
        default: {   /* a*b = 2^m (1 - j^2 2^-46): the sum lands next to a midpoint of c's grid */
          int j = 1 + (int)(rnd() % 2048), ka = (int)(rnd()%40) - 20, kb = (int)(rnd()%40) - 20;
          a[l] = ldexpf(1.0f + j * 0x1p-23f, ka); b[l] = ldexpf(1.0f - j * 0x1p-23f, kb);
          if (kind == 7) b[l] = ldexpf(1.0f + j * 0x1p-23f, kb);
          if (rnd()&1) a[l] = -a[l];
          if (rnd()&1) b[l] = -b[l];
          { int ec = ka + kb + 22 + (int)(rnd()%4); c[l] = rf(ec, ec); }
        }
      }
    }
    for (int l=0;l<2;l++){
      int sh = (int)(rnd()%120) - 60;
      A[l] = rd(-600, 490); B[l] = rd(-600, 490);
      if (kind==1) { A[l]=trunc_bits_d(A[l], rnd()%52); B[l]=trunc_bits_d(B[l], rnd()%52); }
      double p = A[l]*B[l];
      switch(kind){
        case 0: C[l] = rd(-1074+52, 1000); break;
        case 1: case 2: C[l] = -p; break;
        case 3: C[l] = ldexp(-p, sh); break;
        case 4: C[l] = trunc_bits_d(ldexp(p, sh), rnd()%52); break;
        case 5: { double e = fma(A[l], B[l], -p); C[l] = ldexp(e, (int)(rnd()%120)-60); if (rnd()&1) C[l] = -C[l]; if (rnd()&1) C[l] += ldexp(p, -53 - (int)(rnd()%3)); } break;
        default: {
          long j = 1 + (long)(rnd() % (1u<<25)); int ka = (int)(rnd()%400) - 200, kb = (int)(rnd()%400) - 200;
          A[l] = ldexp(1.0 + j * 0x1p-52, ka); B[l] = ldexp(1.0 - j * 0x1p-52, kb);
          if (kind == 7) B[l] = ldexp(1.0 + j * 0x1p-52, kb);
          if (rnd()&1) A[l] = -A[l];
          if (rnd()&1) B[l] = -B[l];
          { int ec = ka + kb + 51 + (int)(rnd()%4); C[l] = rd(ec, ec); }
        }
      }
      if (it % 97 == 0) { A[l] = rd(-1074+52, 1023); B[l] = rd(-1022, 1023); if (rnd()&1) C[l] = rd(-1022, 1023); }
      if (it % 89 == 0) { double sp[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-310, -5e-324, 1e308}; A[l] = sp[rnd()%8]; if (rnd()&1) B[l] = sp[rnd()%8]; if (rnd()&1) C[l] = sp[rnd()%8]; }
    }
    vf r = vf_fma(vf_load(a), vf_load(b), vf_load(c));
    vd R = vd_fma(vd_load(A), vd_load(B), vd_load(C));
    for (int l=0;l<4;l++){ float e = fmaf(a[l],b[l],c[l]); float g = r[l]; if (memcmp(&e,&g,4) && !(e!=e && g!=g)) { if (bad32++ < 5) printf("f32 %a %a %a: %a vs %a\n", a[l],b[l],c[l],g,e);} }
    for (int l=0;l<2;l++){ double e = fma(A[l],B[l],C[l]); double g = R[l]; if (memcmp(&e,&g,8) && !(e!=e && g!=g)) { if (bad64++ < 5) printf("f64 %a %a %a: %a vs %a\n", A[l],B[l],C[l],g,e);} }
  }
  printf("%ld iterations: %ld float32 lanes differ (of %ld), %ld float64 lanes differ (of %ld)\n", n, bad32, 4*n, bad64, 2*n);
  return bad32 || bad64;
}
