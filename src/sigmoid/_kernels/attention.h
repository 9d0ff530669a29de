/*
 * The tiled attention forward pass (attention_isa.c, compiled once per
 * instruction set) and its Python entry (attention.c).
 *
 * One work item is one block of SIG_ATTN_BQ query rows of one batch entry:
 * its queries, scaled and transposed, are packed once; then every block of
 * SIG_ATTN_BK keys it may see is visited in turn: the scores of the block
 * pair are computed by a register-blocked product into a small buffer (key
 * by query), turned into weights (sigma of score + bias, or the online
 * softmax's e^(s - running max), the running max and sum kept per query)
 * and accumulated into the block's output with a second register-blocked
 * product.  Nothing of size L x S is ever formed; a work item needs about
 * (BQ + BK)(d + BQ) + BQ d_v numbers of scratch.
 */
#ifndef SIGMOID_ATTENTION_H
#define SIGMOID_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#define SIG_ATTN_BQ 96
#define SIG_ATTN_BK 256
#define SIG_ATTN_PAD 16         /* the values' row length is padded to a multiple of this */

/* one mask of the scores: 0 keep (bytes, nonzero takes part), 1 add (the
   data type, added to the scores); element (i, j) of batch entry b lies at
   data + index[b] (L' S') + (L' > 1 ? i : 0) S' + (S' > 1 ? j : 0) */
typedef struct {
    int kind;
    const void *data;
    ptrdiff_t rows, cols;   /* L' in {1, L}, S' in {1, S} */
} sig_attn_mask;

#define SIG_ATTN_MAX_MASKS 2

typedef struct {
    int f32, softmax, causal, nmasks;
    ptrdiff_t B, L, S, E, Ev, Evp, Ep;
    double scale, bias;
    const void *q;      /* (Bq, L, E) */
    const void *k;      /* (Bk, S, E) */
    const void *v;      /* (Bv, S, Evp) */
    void *out;          /* (B, L, Ev): the forward pass's output */
    void *lse;          /* (B, L) or NULL: the softmax's log-sum-exp (written forward, read backward) */
    /* the backward pass */
    const void *dout;   /* (B, L, Ev) */
    const void *D;      /* (B, L) or NULL: rowsum(dout out), for the softmax */
    void *dk, *dv;      /* (B, S, E), (B, S, Ev) */
    const int64_t *index;   /* (B, 3 + nmasks): the entry of q, k, v and of each mask */
    sig_attn_mask masks[SIG_ATTN_MAX_MASKS];
} sig_attn_args;

/* scratch of one work item, in elements of the data type */
#define SIG_ATTN_SCRATCH(E, Evp) \
    ((ptrdiff_t)(E) * (SIG_ATTN_BQ + SIG_ATTN_BK) + (ptrdiff_t)SIG_ATTN_BK * (SIG_ATTN_BQ + 16) + \
     (ptrdiff_t)SIG_ATTN_BQ * ((Evp) + 3) + 64)

/* the backward pass's scratch, Ep and Evp the padded feature sizes */
#define SIG_ATTN_BWD_SCRATCH(Ep, Evp) \
    (2 * (ptrdiff_t)SIG_ATTN_BK * ((Ep) + (Evp) + SIG_ATTN_BQ + 16) + 2 * (ptrdiff_t)SIG_ATTN_BQ * ((Ep) + (Evp) + 1) + 64)

/* work item `item` = (batch entry, query block) forward, or (batch entry,
   key block) backward, with `scratch` of SIG_ATTN_SCRATCH or
   SIG_ATTN_BWD_SCRATCH elements, 64-byte aligned; backward, `dq` is the
   calling thread's (B, Lp, Ep) accumulator, Lp = L rounded up to BQ */
typedef void (*sig_attn_item_fn)(const sig_attn_args *A, ptrdiff_t b, ptrdiff_t block, void *scratch, void *dq);

/* the SigLIP loss of rows of x against rows of y (x0, y0: the global index
   of their first rows, for the matching pairs; Bn: the batch size it is
   divided by); dx, dy NULL for the loss alone */
typedef struct {
    int f32;
    ptrdiff_t Bx, By, D, Dp, x0, y0, Bn;
    double t, b;
    const void *x, *y;      /* (Bx, D), (By, D) */
    void *dx;               /* (Bx, D) or NULL */
} sig_siglip_args;

/* its scratch: Dp (2 BQ + BK) + BK (BQ + 16) + BQ Dp */
#define SIG_SIGLIP_SCRATCH(Dp) \
    ((ptrdiff_t)(Dp) * (3 * SIG_ATTN_BQ + SIG_ATTN_BK) + (ptrdiff_t)SIG_ATTN_BK * (SIG_ATTN_BQ + 16) + 64)

/* row block `rb` of x; `dy`: the (By rounded up to BK, Dp) accumulator of
   the caller's thread slot; out[0..2]: the block's sums of the loss terms,
   of (t x).(G y) and of g */
typedef void (*sig_siglip_fn)(const sig_siglip_args *G, ptrdiff_t rb, void *scratch, void *dy, double *out);

typedef struct {
    sig_attn_item_fn forward, backward;
    sig_siglip_fn siglip;
} sig_attn_kernel;

extern const sig_attn_kernel sig_attn_portable;
#if defined(SIG_WITH_X86_DISPATCH)
extern const sig_attn_kernel sig_attn_avx2;
extern const sig_attn_kernel sig_attn_avx512;
#endif

#endif
