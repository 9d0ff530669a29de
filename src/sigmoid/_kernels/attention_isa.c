/*
 * The attention work item (attention.h) of one instruction set: this file
 * is compiled with elementwise.c, once per instruction set, and exports
 * sig_attn_item_<isa>.  The body, for float and for double, is vattention.h.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "attention.h"
#include "vfamily.h"

#if SIG_ISA == SIG_ISA_AVX512
#define KERNEL sig_attn_avx512
/* score tile 8 keys x 2 vectors of queries (16 accumulators), output tile 6 x 4 (24) of the
   32 registers; 4 x 4 for the backward pass's products of BK = 256 rows */
#define RQ 8
#define CQ 2
#define RP 6
#define RPT 4
#define CP 4
#elif SIG_ISA == SIG_ISA_AVX2
#define KERNEL sig_attn_avx2
/* 16 registers: 8 accumulators each, the operands beside them */
#define RQ 4
#define CQ 2
#define RP 4
#define RPT 4
#define CP 2
#else
#define KERNEL sig_attn_portable
#define RQ 4
#define CQ 2
#define RP 4
#define RPT 4
#define CP 2
#endif

/* The products' multiply-adds: one FMA where the instruction set has one;
   the portable build has none in hardware (its vf_fma calls fmaf per lane),
   so there a multiply and an add.  Only the order of the sums and these
   roundings differ between instruction sets, as between BLAS libraries. */
#if SIG_ISA == SIG_ISA_PORTABLE
#define MADD_F(a, b, c) vf_add(vf_mul(a, b), c)
#define MADD_D(a, b, c) vd_add(vd_mul(a, b), c)
#else
#define MADD_F(a, b, c) vf_fma(a, b, c)
#define MADD_D(a, b, c) vd_fma(a, b, c)
#endif

/* sigma of a float vector: the fast stages, and the lanes out of their range
   (|x| > 86, infinities, NaN) again through the double ones, except the
   scores of excluded pairs (masked, or after the query), -inf: sigma(-inf)
   = 0 exactly, and a tile that causality touches has them in most vectors */
SIG_INLINE vf attn_sigmoid_f(vf x)
{
    mf wide = vf_lt(x, x);      /* no lane */
    vf r = vf_sigmoid_fin(vf_lg_stage2(vf_lg_stage1(x, &wide)));
    if (!mf_any(wide)) return r;
    mf excluded = vf_eq(x, vf_set(-INFINITY));
    r = vf_sel(excluded, vf_set(0.0f), r);
    wide = mf_andnot(excluded, wide);
    return mf_any(wide) ? vf_sel(wide, vf_sigmoid_wide(x), r) : r;
}

/* g sigma'(x) of a float vector, the library's sigmoid_backward: the fast
   stages, and the lanes out of their range again through the double ones,
   except x = -inf with a finite g, whose g sigma'(x) is exactly 0 */
SIG_INLINE vf attn_sigmoid_backward_f(vf x, vf g)
{
    mf wide = vf_nle(vf_abs(g), vf_set(0x1p126f));
    vf r = vf_sigmoid_backward_fin(vf_lg_stage2(vf_lg_stage1(x, &wide)), g, &wide);
    if (!mf_any(wide)) return r;
    mf excluded = mf_and(vf_eq(x, vf_set(-INFINITY)), vf_le(vf_abs(g), vf_set(FLT_MAX)));
    r = vf_sel(excluded, vf_set(0.0f), r);
    wide = mf_andnot(excluded, wide);
    return mf_any(wide) ? vf_sel(wide, vf_sigmoid_backward_wide(x, g), r) : r;
}

/* the same in double: the scores of excluded pairs, -inf, are replaced by 0
   before the kernel and their results by 0 after it, so that they do not take
   its path for results below 2^-1000 (scalar where there is no vector scale
   instruction) */
SIG_INLINE vd attn_sigmoid_d(vd x)
{
    md excluded = vd_eq(x, vd_set(-INFINITY));
    return vd_sel(excluded, vd_set(0.0), vd_sigmoid(vd_sel(excluded, vd_set(0.0), x)));
}

SIG_INLINE vd attn_sigmoid_backward_d(vd x, vd g)
{
    md excluded = md_and(vd_eq(x, vd_set(-INFINITY)), vd_le(vd_abs(g), vd_set(DBL_MAX)));
    return vd_sel(excluded, vd_set(0.0), vd_sigmoid_backward(vd_sel(excluded, vd_set(0.0), x), g));
}

/* e^-a = 2^m (th + b) for 0 <= a <= 87 (float) or 708 (double): 2^m is then
   a normal number and the product rounds once */
SIG_INLINE vf attn_expneg_f(vf a)
{
    vf_exp_t E = vf_expneg(a);
    return vf_mul(vf_add(E.th, E.b), vf_exp2m(E.kf));
}

SIG_INLINE vd attn_expneg_d(vd a)
{
    vd_exp_t E = vd_expneg(a);
    return vd_mul(vd_add(E.th, E.b), vd_exp2m(E.kf));
}

#define T float
#define V vf
#define VN VF_N
#define VLOAD vf_load
#define VSTORE vf_store
#define VSET vf_set
#define VMAX vf_max
#define VMIN vf_min
#define VADD vf_add
#define VSUB vf_sub
#define VMUL vf_mul
#define VSEL vf_sel
#define VGT vf_gt
#define VEQ vf_eq
#define MADD MADD_F
#define VSIGMOID attn_sigmoid_f
#define VSOFTPLUS vf_softplus
#define VSUMD(acc, v) ((acc)[0] = vd_add((acc)[0], vf_lo_vd(v)), (acc)[1] = vd_add((acc)[1], vf_hi_vd(v)))
#define VSIGBW attn_sigmoid_backward_f
#define EXPNEG attn_expneg_f
#define EXPNEG_MAX 87.0f
#define TEXP expf
#define TLOG logf
#define FN(name) name##_f
#include "vattention.h"
#undef T
#undef V
#undef VN
#undef VLOAD
#undef VSTORE
#undef VSET
#undef VMAX
#undef VMIN
#undef VADD
#undef VSUB
#undef VMUL
#undef VSEL
#undef VGT
#undef VEQ
#undef MADD
#undef VSIGMOID
#undef VSOFTPLUS
#undef VSUMD
#undef VSIGBW
#undef EXPNEG
#undef EXPNEG_MAX
#undef TEXP
#undef TLOG
#undef FN

#define T double
#define V vd
#define VN VD_N
#define VLOAD vd_load
#define VSTORE vd_store
#define VSET vd_set
#define VMAX vd_max
#define VMIN vd_min
#define VADD vd_add
#define VSUB vd_sub
#define VMUL vd_mul
#define VSEL vd_sel
#define VGT vd_gt
#define VEQ vd_eq
#define MADD MADD_D
#define VSIGMOID attn_sigmoid_d
#define VSOFTPLUS vd_softplus
#define VSUMD(acc, v) ((acc)[0] = vd_add((acc)[0], (v)))
#define VSIGBW attn_sigmoid_backward_d
#define EXPNEG attn_expneg_d
#define EXPNEG_MAX 708.0
#define TEXP exp
#define TLOG log
#define FN(name) name##_d
#include "vattention.h"

static void forward(const sig_attn_args *A, ptrdiff_t b, ptrdiff_t block, void *scratch, void *dq)
{
    (void)dq;
    if (A->f32) attn_item_f(A, b, block, scratch);
    else attn_item_d(A, b, block, scratch);
}

static void backward(const sig_attn_args *A, ptrdiff_t b, ptrdiff_t block, void *scratch, void *dq)
{
    if (A->f32) attn_bwd_item_f(A, b, block, scratch, (float *)dq);
    else attn_bwd_item_d(A, b, block, scratch, (double *)dq);
}

static void siglip(const sig_siglip_args *G, ptrdiff_t rb, void *scratch, void *dy, double *out)
{
    if (G->f32) siglip_item_f(G, rb, scratch, (float *)dy, out);
    else siglip_item_d(G, rb, scratch, (double *)dy, out);
}

const sig_attn_kernel KERNEL = {forward, backward, siglip};
