/* count.c KIND N: runs one kernel of a table once over N elements (for
   instructions.py): KIND 0 sigma float32, 1 sigma float64, 2 and 3 the BCE
   with logits and its gradient, float32 and float64 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#ifndef TABLE
#define TABLE sig_kernels_portable
#endif
extern const sig_kernel_table TABLE;
int main(int argc, char **argv) {
    int kind = atoi(argv[1]); long n = atol(argv[2]);
    float *x = malloc(n * 4 + 64), *y = malloc(n * 4 + 64), *g = malloc(n * 4 + 64);
    double *xd = malloc(n * 8 + 64), *yd = malloc(n * 8 + 64);
    unsigned s = 1;
    for (long i = 0; i < n; i++) { s = s * 1103515245u + 12345u; x[i] = ((int)(s >> 8) % 20001 - 10000) * 0.002f; xd[i] = x[i]; y[i] = (s >> 3) & 1; }
    const sig_kernel_table *t = &TABLE;
    double lo = 0, r = 0; int bad = 0;
    if (kind == 0) t->u32[SIG_SIGMOID](x, y, n, 0);
    if (kind == 1) t->u64[SIG_SIGMOID](xd, yd, n, 0);
    if (kind == 2 || kind == 3) {
        sig_loss_params P = {SIG_LOSS_BCE_LOGITS, kind == 2, 0.0, -1.0, 0.0};
        ptrdiff_t *fix = malloc(n * sizeof *fix), nfix = 0;
        sig_loss_io io = {0};
        if (kind == 2) { io.x = x; io.y = y; io.grad = g; }
        else { for (long i = 0; i < n; i++) yd[i] = y[i]; io.x = xd; io.y = yd; io.grad = malloc(n * 8); }
        io.gscale = 1.0 / n;
        r = t->loss(&P, n, kind == 2, &io, fix, &nfix, &bad, &lo);
    }
    printf("%g %g %g\n", (double)y[n / 2], yd[n / 2], r);
    return 0;
}
