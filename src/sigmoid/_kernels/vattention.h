/*
 * The attention work item for one data type; included by attention_isa.c
 * once for float and once for double, with these defined:
 *
 *   T, V, VN              the element, its vector and the lanes of one vector
 *   VLOAD VSTORE VSET VMAX VMIN VADD VSUB VMUL VSEL VGT VEQ
 *   MADD(a, b, c)         a b + c (one FMA where the instruction set has it)
 *   VSIGMOID(x)           the library's sigma of a vector, <= 1 ulp
 *   EXPNEG_MAX            the largest a for which e^-a is computed (beyond: 0)
 *   EXPNEG(a)             e^-a for 0 <= a <= EXPNEG_MAX, about 1 ulp
 *   RQ, CQ                register tile of the scores: RQ rows x CQ vectors
 *   RP, CP                register tile of the output: RP rows x CP vectors
 *   RPT                   its rows for the backward pass's key-by-query products (a divisor of BK)
 *   FN(name)              the name with the data type's suffix
 *   TEXP, TLOG            the scalar exp and log of the type
 */

#define BQ SIG_ATTN_BQ
#define BK SIG_ATTN_BK
/* The score tile is kept transposed, key by query: st[j][i].  Its row
   stride is BQ plus one cache line, so that its rows do not all fall into
   the same sets of the L1 cache. */
#define SLD (SIG_ATTN_BQ + 64 / (ptrdiff_t)sizeof(T))
/* keys per sweep of the output tile: their values (KSUB rows) stay in the
   L1 cache while every row group of the block reads them */
#define KSUB 64

/* st (RQ keys x CQ VN queries, row stride SLD) = kr (RQ keys x E, row
   stride E) times qt (E x CQ VN, row stride BQ): the keys broadcast one
   number at a time, the transposed queries read one vector at a time */
SIG_INLINE void FN(qk_micro)(const T *kr, ptrdiff_t E, const T *qt, T *st, const int sigmoid, V bias)
{
    V acc[RQ][CQ];
#pragma GCC unroll 16
    for (int r = 0; r < RQ; r++)
#pragma GCC unroll 4
        for (int c = 0; c < CQ; c++) acc[r][c] = VSET(0);
#pragma GCC unroll 4
    for (ptrdiff_t d = 0; d < E; d++) {
        V b[CQ];
#pragma GCC unroll 4
        for (int c = 0; c < CQ; c++) b[c] = VLOAD(qt + d * BQ + c * VN);
#pragma GCC unroll 16
        for (int r = 0; r < RQ; r++) {
            V a = VSET(kr[r * E + d]);
#pragma GCC unroll 4
            for (int c = 0; c < CQ; c++) acc[r][c] = MADD(a, b[c], acc[r][c]);
        }
    }
    if (sigmoid) {          /* the weights sigma(s + b) straight from the registers */
#pragma GCC unroll 16
        for (int r = 0; r < RQ; r++)
#pragma GCC unroll 4
            for (int c = 0; c < CQ; c++) acc[r][c] = VSIGMOID(VADD(acc[r][c], bias));
    }
#pragma GCC unroll 16
    for (int r = 0; r < RQ; r++)
#pragma GCC unroll 4
        for (int c = 0; c < CQ; c++) VSTORE(st + r * SLD + c * VN, acc[r][c]);
}

/* st (nkr keys x nq queries) = kb (nkr x E) qt (E x nq, row stride BQ), or
   sigma of that plus the bias; nq a multiple of CQ VN; E a constant at each
   call, so that the register tile addresses its RQ key rows with constant
   offsets (a runtime E costs one register per row, more than the tile leaves
   free) */
SIG_INLINE void FN(qk_tile_e)(const T *kb, ptrdiff_t nkr, ptrdiff_t nq, const T *qt, T *st, const ptrdiff_t E,
                              const int sigmoid, V bias)
{
    for (ptrdiff_t j = 0; j < nkr; j += RQ) {
        /* the next row group's keys, on their way from L2 while this one is computed */
        const char *next = (const char *)(kb + (j + RQ < nkr ? j + RQ : j) * E);
        for (ptrdiff_t off = 0; off < (ptrdiff_t)(RQ * E * sizeof(T)); off += 64) __builtin_prefetch(next + off);
        for (ptrdiff_t i = 0; i < nq; i += CQ * VN) FN(qk_micro)(kb + j * E, E, qt + i, st + j * SLD + i, sigmoid, bias);
    }
}

#define QK_CASES(SIG)                                                         \
    switch (E) {        /* the usual head sizes */                            \
    case 32: FN(qk_tile_e)(kb, nkr, nq, qt, st, 32, SIG, bias); break;            \
    case 64: FN(qk_tile_e)(kb, nkr, nq, qt, st, 64, SIG, bias); break;            \
    case 128: FN(qk_tile_e)(kb, nkr, nq, qt, st, 128, SIG, bias); break;          \
    default: FN(qk_tile_e)(kb, nkr, nq, qt, st, E, SIG, bias); break;             \
    }

static __attribute__((noinline)) void FN(qk_tile)(const T *kb, ptrdiff_t nkr, ptrdiff_t nq, const T *qt, T *st,
                                                  ptrdiff_t E, int sigmoid, T b)
{
    const V bias = VSET(b);
    if (sigmoid) QK_CASES(1) else QK_CASES(0)
}
#undef QK_CASES

/* o (rp rows x nc VN, row stride ldo) += p (rp rows x m, element (r, j) at
   p[r rs + j ps]) times v (m x nc VN, row stride ldv): p broadcast one
   number at a time, v read one vector at a time; rs, ps, rp <= RP and
   nc <= CP are constants at each call */
SIG_INLINE void FN(pv_micro)(const T *p, const ptrdiff_t rs, const ptrdiff_t ps, ptrdiff_t m, const T *v,
                             ptrdiff_t ldv, T *o, ptrdiff_t ldo, const int rp, const int nc)
{
    V acc[RP][CP];
#pragma GCC unroll 16
    for (int r = 0; r < RP; r++)
#pragma GCC unroll 4
        for (int c = 0; c < CP; c++)
            if (r < rp && c < nc) acc[r][c] = VLOAD(o + r * ldo + c * VN);
    for (ptrdiff_t j = 0; j < m; j++) {
        V b[CP];
#pragma GCC unroll 4
        for (int c = 0; c < CP; c++)
            if (c < nc) b[c] = VLOAD(v + j * ldv + c * VN);
#pragma GCC unroll 16
        for (int r = 0; r < RP; r++) {
            if (r >= rp) continue;
            V a = VSET(p[r * rs + j * ps]);
#pragma GCC unroll 4
            for (int c = 0; c < CP; c++)
                if (c < nc) acc[r][c] = MADD(a, b[c], acc[r][c]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < RP; r++)
#pragma GCC unroll 4
        for (int c = 0; c < CP; c++)
            if (r < rp && c < nc) VSTORE(o + r * ldo + c * VN, acc[r][c]);
}

/* one group of rp rows of pv_block_s, across the width */
SIG_INLINE void FN(pv_rows)(const T *pi, const ptrdiff_t rs, const ptrdiff_t ps, ptrdiff_t mm, const T *vj,
                            ptrdiff_t ldv, ptrdiff_t width, T *oi, ptrdiff_t ldo, const int rp)
{
    ptrdiff_t e = 0;
    for (; e + CP * VN <= width; e += CP * VN) FN(pv_micro)(pi, rs, ps, mm, vj + e, ldv, oi + e, ldo, rp, CP);
    switch ((width - e) / VN) {     /* the last 1 .. CP-1 vectors */
    case 0: break;
#if CP > 1
    case 1: FN(pv_micro)(pi, rs, ps, mm, vj + e, ldv, oi + e, ldo, rp, 1); break;
#endif
#if CP > 2
    case 2: FN(pv_micro)(pi, rs, ps, mm, vj + e, ldv, oi + e, ldo, rp, 2); break;
#endif
#if CP > 3
    case 3: FN(pv_micro)(pi, rs, ps, mm, vj + e, ldv, oi + e, ldo, rp, 3); break;
#endif
    default: break;
    }
}

/* o (rows x width, row stride ldo) += p (rows x m, element (r, j) at
   p[r rs + j ps]) v (m x width, row stride ldv), KSUB of the m at a time:
   those rows of v stay in the L1 cache while every row group reads them.
   width is a multiple of VN; rows need not be one of rp (<= 6): the last
   1 .. rp - 1 rows are a group of their own, so that a short block
   computes only the rows it has. */
SIG_INLINE void FN(pv_block_s)(const T *p, const ptrdiff_t rs, const ptrdiff_t ps, ptrdiff_t rows, ptrdiff_t m,
                               const T *v, ptrdiff_t ldv, ptrdiff_t width, T *o, ptrdiff_t ldo, const int rp)
{
    const ptrdiff_t full = rows / rp * rp;
    for (ptrdiff_t j = 0; j < m; j += KSUB) {
        const ptrdiff_t mm = m - j < KSUB ? m - j : KSUB;
        const T *vj = v + j * ldv;
        for (ptrdiff_t i = 0; i < full; i += rp)
            FN(pv_rows)(p + i * rs + j * ps, rs, ps, mm, vj, ldv, width, o + i * ldo, ldo, rp);
        const T *pi = p + full * rs + j * ps;
        T *oi = o + full * ldo;
        switch (rows - full) {
        case 0: break;
        case 1: FN(pv_rows)(pi, rs, ps, mm, vj, ldv, width, oi, ldo, 1); break;
        case 2: FN(pv_rows)(pi, rs, ps, mm, vj, ldv, width, oi, ldo, 2); break;
        case 3: FN(pv_rows)(pi, rs, ps, mm, vj, ldv, width, oi, ldo, 3); break;
        case 4: FN(pv_rows)(pi, rs, ps, mm, vj, ldv, width, oi, ldo, 4); break;
        default: FN(pv_rows)(pi, rs, ps, mm, vj, ldv, width, oi, ldo, 5); break;
        }
    }
}

/* o (rows x width) += P (rows x m) v (m x width), from st = P^T (m x BQ, row stride SLD) */
static __attribute__((noinline)) void FN(pv_block)(const T *st, ptrdiff_t rows, ptrdiff_t m, const T *v,
                                                   ptrdiff_t ldv, ptrdiff_t width, T *o, ptrdiff_t ldo)
{
    FN(pv_block_s)(st, 1, SLD, rows, m, v, ldv, width, o, ldo, RP);
}

/* o (nk x width) += st (nk x m, row stride SLD) v (m x width) */
static __attribute__((noinline)) void FN(pvt_block)(const T *st, ptrdiff_t nk, ptrdiff_t m, const T *v, ptrdiff_t ldv,
                                                    ptrdiff_t width, T *o, ptrdiff_t ldo)
{
    FN(pv_block_s)(st, SLD, 1, nk, m, v, ldv, width, o, ldo, RPT);
}

/* the masks and causality of one tile: -inf where a pair is excluded, the
   additive masks added; `rows` valid queries from global query i0, nk keys
   from global key j0 */
static void FN(mask_tile)(const sig_attn_args *A, ptrdiff_t b, T *st, ptrdiff_t rows, ptrdiff_t i0,
                          ptrdiff_t nk, ptrdiff_t j0)
{
    const T ninf = (T)-INFINITY;
    for (int k = 0; k < A->nmasks; k++) {
        const sig_attn_mask *M = &A->masks[k];
        const ptrdiff_t entry = (ptrdiff_t)A->index[b * (3 + A->nmasks) + 3 + k];
        const ptrdiff_t rs = M->rows > 1 ? M->cols : 0, cs = M->cols > 1;   /* steps per query, per key */
        const ptrdiff_t base = entry * M->rows * M->cols + i0 * rs + j0 * cs;
        for (ptrdiff_t j = 0; j < nk; j++) {
            T *row = st + j * SLD;
            if (M->kind == 0) {
                const uint8_t *m = (const uint8_t *)M->data + base + j * cs;
                for (ptrdiff_t i = 0; i < rows; i++) row[i] = m[i * rs] ? row[i] : ninf;
            }
            else {
                const T *m = (const T *)M->data + base + j * cs;
                for (ptrdiff_t i = 0; i < rows; i++) row[i] += m[i * rs];
            }
        }
    }
    if (A->causal) {
        for (ptrdiff_t j = 0; j < nk; j++) {
            /* key j0 + j lies after the queries before it */
            ptrdiff_t upto = j0 + j - i0;
            if (upto > rows) upto = rows;
            for (ptrdiff_t i = 0; i < upto; i++) st[j * SLD + i] = ninf;
        }
    }
}

static void FN(attn_item)(const sig_attn_args *A, ptrdiff_t b, ptrdiff_t qblock, void *scratch)
{
    const ptrdiff_t E = A->E, Ev = A->Ev, Evp = A->Evp, L = A->L, S = A->S;
    const ptrdiff_t nidx = 3 + A->nmasks;
    const T *q = (const T *)A->q + (ptrdiff_t)A->index[b * nidx + 0] * L * E;
    const T *k = (const T *)A->k + (ptrdiff_t)A->index[b * nidx + 1] * S * E;
    const T *v = (const T *)A->v + (ptrdiff_t)A->index[b * nidx + 2] * S * Evp;
    T *out = (T *)A->out + b * L * Ev;
    T *lse = A->lse ? (T *)A->lse + b * L : NULL;

    T *qt = (T *)scratch;                   /* E x BQ: the scaled queries, transposed */
    T *st = qt + E * BQ;                    /* BK x BQ (row stride SLD): scores, then weights */
    T *o = st + BK * SLD;                   /* BQ x Evp: the output's accumulators */
    T *kpad = o + BQ * Evp;                 /* BK x E: a last, partial block of keys, zero-padded */
    T *mq = kpad + BK * E;                  /* BQ: the running maximum of each query (softmax) */
    T *lq = mq + BQ;                        /* BQ: the running sum */
    T *aq = lq + BQ;                        /* BQ: the factor of this block's rescaling */

    const ptrdiff_t i0 = qblock * BQ;
    const ptrdiff_t rows = L - i0 < BQ ? L - i0 : BQ;
    /* the query columns computed: rows rounded up to the score tile's width (a divisor of BQ) */
    const ptrdiff_t nq = (rows + CQ * VN - 1) / (CQ * VN) * (CQ * VN);
    const T scale = (T)A->scale;
    const V bias = VSET((T)A->bias), ninf = VSET((T)-INFINITY), zero = VSET(0), lim = VSET((T)EXPNEG_MAX);
    for (ptrdiff_t d = 0; d < E; d++)
        for (ptrdiff_t i = 0; i < nq; i++) qt[d * BQ + i] = i < rows ? q[(i0 + i) * E + d] * scale : (T)0;
    memset(o, 0, (size_t)(rows * Evp) * sizeof(T));
    for (ptrdiff_t i = 0; i < nq; i++) {
        mq[i] = (T)-INFINITY;
        lq[i] = 0;
    }
    /* with causality, queries i0 .. i0 + rows - 1 see keys up to i0 + rows - 1 */
    const ptrdiff_t send = A->causal ? (i0 + rows < S ? i0 + rows : S) : S;
    for (ptrdiff_t j0 = 0; j0 < send; j0 += BK) {
        const ptrdiff_t nk = send - j0 < BK ? send - j0 : BK;
        const ptrdiff_t nkr = (nk + RQ - 1) / RQ * RQ;
        const T *kb = k + j0 * E;
        if (nkr > nk && j0 + nkr > S) {     /* the register tile would read past the last key */
            memcpy(kpad, kb, (size_t)(nk * E) * sizeof(T));
            memset(kpad + nk * E, 0, (size_t)((nkr - nk) * E) * sizeof(T));
            kb = kpad;
        }
        /* a tile that masks or causality touch: the scores first, then the exclusions */
        const int touched = A->nmasks > 0 || (A->causal && j0 + nk - 1 > i0);
        /* otherwise the sigmoid's weights come straight out of the product's registers */
        FN(qk_tile)(kb, nkr, nq, qt, st, E, !A->softmax && !touched, (T)A->bias);
        if (touched) FN(mask_tile)(A, b, st, rows, i0, nk, j0);
        if (!A->softmax && touched) {
            for (ptrdiff_t j = 0; j < nk; j++) {
                T *row = st + j * SLD;
                ptrdiff_t i = 0;
                for (; i + 2 * VN <= nq; i += 2 * VN) {     /* two independent vectors at a time */
                    V x0 = VADD(VLOAD(row + i), bias), x1 = VADD(VLOAD(row + i + VN), bias);
                    VSTORE(row + i, VSIGMOID(x0));
                    VSTORE(row + i + VN, VSIGMOID(x1));
                }
                for (; i < nq; i += VN) VSTORE(row + i, VSIGMOID(VADD(VLOAD(row + i), bias)));
            }
        }
        else if (A->softmax) {
            for (ptrdiff_t i = 0; i < nq; i += VN) {
                /* the running maximum of these queries (a NaN score is skipped here, and reaches its
                   query through its weight) */
                V m_old = VLOAD(mq + i), m_new = m_old;
                for (ptrdiff_t j = 0; j < nk; j++) m_new = VMAX(VLOAD(st + j * SLD + i), m_new);
                /* a query excluded from every key so far keeps -inf, and is shifted by 0: e^(-inf) = 0 */
                V shift = VSEL(VEQ(m_new, ninf), zero, m_new);
                V a = VSUB(shift, m_old);                   /* >= 0; +inf for the first keys */
                V alpha = VSEL(VGT(a, lim), zero, EXPNEG(VMIN(lim, a)));
                V sum = VMUL(VLOAD(lq + i), alpha);
                for (ptrdiff_t j = 0; j < nk; j++) {
                    T *p = st + j * SLD + i;
                    V x = VSUB(shift, VLOAD(p));            /* >= 0, +inf where excluded, NaN stays */
                    V w = VSEL(VGT(x, lim), zero, EXPNEG(VMIN(lim, x)));
                    VSTORE(p, w);
                    sum = VADD(sum, w);
                }
                VSTORE(lq + i, sum);
                VSTORE(mq + i, m_new);
                VSTORE(aq + i, alpha);
            }
            for (ptrdiff_t i = 0; i < rows; i++) {
                if (aq[i] == (T)1) continue;
                T *orow = o + i * Evp;
                V al = VSET(aq[i]);
                for (ptrdiff_t e = 0; e < Evp; e += VN) VSTORE(orow + e, VMUL(VLOAD(orow + e), al));
            }
        }
        FN(pv_block)(st, rows, nk, v + j0 * Evp, Evp, Evp, o, Evp);
    }
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *dst = out + (i0 + i) * Ev;
        const T *src = o + i * Evp;
        if (A->softmax) {
            T l = lq[i];
            if (l == 0) {           /* every key excluded: attention over nothing is 0 */
                for (ptrdiff_t e = 0; e < Ev; e++) dst[e] = 0;
                if (lse) lse[i0 + i] = (T)-INFINITY;
            }
            else {
                for (ptrdiff_t e = 0; e < Ev; e++) dst[e] = src[e] / l;
                if (lse) lse[i0 + i] = mq[i] + TLOG(l);
            }
        }
        else {
            memcpy(dst, src, (size_t)Ev * sizeof(T));
        }
    }
}

/*
 * The backward pass of one block of BK keys of one batch entry, over every
 * block of queries that sees them (FlashAttention-2's order): with the
 * scores S^T recomputed and the weights P^T from them,
 *     dP^T = V dO^T,   dS^T = sigma'(s) dP^T  or  P^T (dP^T - D),
 *     dV += P^T dO,    dK += dS^T (c Q),      dQ' += dS K
 * dV and dK of the block are this item's own; dQ' (not yet scaled by c) is
 * added into `dq`, this thread's (B, Lp, Ep) accumulator.
 */
static void FN(attn_bwd_item)(const sig_attn_args *A, ptrdiff_t b, ptrdiff_t kblock, void *scratch, T *dq)
{
    const ptrdiff_t E = A->E, Ev = A->Ev, Evp = A->Evp, Ep = A->Ep, L = A->L, S = A->S;
    const ptrdiff_t Lp = (L + BQ - 1) / BQ * BQ;
    const ptrdiff_t nidx = 3 + A->nmasks;
    const T *q = (const T *)A->q + (ptrdiff_t)A->index[b * nidx + 0] * L * E;
    const T *k = (const T *)A->k + (ptrdiff_t)A->index[b * nidx + 1] * S * E;
    const T *v = (const T *)A->v + (ptrdiff_t)A->index[b * nidx + 2] * S * Evp;
    const T *dout = (const T *)A->dout + b * L * Ev;
    const T *lse = A->lse ? (const T *)A->lse + b * L : NULL;
    const T *Drow = A->D ? (const T *)A->D + b * L : NULL;
    T *dk = (T *)A->dk + b * S * E, *dv = (T *)A->dv + b * S * Ev;
    T *dqb = dq + b * Lp * Ep;

    T *kp = (T *)scratch;                   /* BK x Ep: the keys, zero-padded */
    T *vp = kp + BK * Ep;                   /* BK x Evp: the values */
    T *qt = vp + BK * Evp;                  /* Ep x BQ: the scaled queries, transposed */
    T *qs = qt + Ep * BQ;                   /* BQ x Ep: the scaled queries */
    T *dot = qs + BQ * Ep;                  /* Evp x BQ: grad_output, transposed */
    T *dob = dot + Evp * BQ;                /* BQ x Evp: grad_output */
    T *st = dob + BQ * Evp;                 /* BK x SLD: scores, then weights P^T */
    T *dpt = st + BK * SLD;                 /* BK x SLD: dP^T, then dS^T */
    T *dka = dpt + BK * SLD;                /* BK x Ep */
    T *dva = dka + BK * Ep;                 /* BK x Evp */
    T *lq = dva + BK * Evp;                 /* BQ: the log-sum-exp of each query (softmax) */
    T *Dq = lq + BQ;                        /* BQ: rowsum(dO O) of each query (softmax) */

    const ptrdiff_t j0 = kblock * BK;
    const ptrdiff_t nk = S - j0 < BK ? S - j0 : BK;
    const ptrdiff_t nkr = (nk + RQ - 1) / RQ * RQ;
    const T scale = (T)A->scale;
    const V bias = VSET((T)A->bias), zero = VSET(0), ninf = VSET((T)-INFINITY), lim = VSET((T)EXPNEG_MAX);
    memset(kp, 0, (size_t)(nkr * Ep) * sizeof(T));
    memset(vp, 0, (size_t)(nkr * Evp) * sizeof(T));
    for (ptrdiff_t j = 0; j < nk; j++) {
        memcpy(kp + j * Ep, k + (j0 + j) * E, (size_t)E * sizeof(T));
        memcpy(vp + j * Evp, v + (j0 + j) * Evp, (size_t)Evp * sizeof(T));
    }
    memset(dka, 0, (size_t)(nk * Ep) * sizeof(T));
    memset(dva, 0, (size_t)(nk * Evp) * sizeof(T));
    /* with causality, the queries before j0 see none of these keys */
    for (ptrdiff_t i0 = A->causal ? j0 / BQ * BQ : 0; i0 < L; i0 += BQ) {
        const ptrdiff_t rows = L - i0 < BQ ? L - i0 : BQ;
        const ptrdiff_t nq = (rows + CQ * VN - 1) / (CQ * VN) * (CQ * VN);     /* as forward */
        for (ptrdiff_t i = 0; i < nq; i++) {
            const int live = i < rows;
            for (ptrdiff_t d = 0; d < Ep; d++) {
                T x = live && d < E ? q[(i0 + i) * E + d] * scale : (T)0;
                qt[d * BQ + i] = x;
                qs[i * Ep + d] = x;
            }
            for (ptrdiff_t e = 0; e < Evp; e++) {
                T g = live && e < Ev ? dout[(i0 + i) * Ev + e] : (T)0;
                dot[e * BQ + i] = g;
                dob[i * Evp + e] = g;
            }
            if (lse) {
                /* a query without keys (lse = -inf) and the padding get +inf: e^(s - inf) = 0 */
                T l = live ? lse[i0 + i] : (T)INFINITY;
                lq[i] = l == (T)-INFINITY ? (T)INFINITY : l;
                Dq[i] = live ? Drow[i0 + i] : (T)0;
            }
        }
        FN(qk_tile)(kp, nkr, nq, qt, st, Ep, 0, 0);
        const int touched = A->nmasks > 0 || (A->causal && j0 + nk - 1 > i0);
        if (touched) FN(mask_tile)(A, b, st, rows, i0, nk, j0);
        FN(qk_tile)(vp, nkr, nq, dot, dpt, Evp, 0, 0);
        for (ptrdiff_t j = 0; j < nk; j++) {
            T *srow = st + j * SLD, *drow = dpt + j * SLD;
            for (ptrdiff_t i = 0; i < nq; i += VN) {
                V x = VLOAD(srow + i), g = VLOAD(drow + i), p, ds;
                if (lse) {
                    V a = VSUB(VLOAD(lq + i), x);           /* >= 0; +inf where excluded */
                    p = VSEL(VGT(a, lim), zero, EXPNEG(VMIN(lim, a)));
                    ds = VMUL(p, VSUB(g, VLOAD(Dq + i)));
                }
                else {
                    x = VADD(x, bias);
                    ds = VSIGBW(x, g);
                    p = VSIGMOID(x);
                }
                if (touched) ds = VSEL(VEQ(x, ninf), zero, ds);    /* an excluded pair: no gradient */
                VSTORE(srow + i, p);
                VSTORE(drow + i, ds);
            }
        }
        /* the padding queries' rows of dO and Q are 0: only the live ones are summed over */
        FN(pvt_block)(st, nk, rows, dob, Evp, Evp, dva, Evp);
        FN(pvt_block)(dpt, nk, rows, qs, Ep, Ep, dka, Ep);
        FN(pv_block)(dpt, rows, nk, kp, Ep, Ep, dqb + i0 * Ep, Ep);
    }
    for (ptrdiff_t j = 0; j < nk; j++) {
        memcpy(dk + (j0 + j) * E, dka + j * Ep, (size_t)E * sizeof(T));
        memcpy(dv + (j0 + j) * Ev, dva + j * Evp, (size_t)Ev * sizeof(T));
    }
}

/*
 * The SigLIP loss (and its gradients) of one block of BQ rows of x against
 * every block of BK rows of y.  With u = t x.y + b and w = -z u (u for the
 * other pairs, -u for the matching ones), each term is softplus(w), summed
 * here in double; g = -z sigma(w) / B is d(loss)/du, from which
 *     dx_i += t (G y)_i,   dy_j += (G^T t x)_j,   dt' += (t x_i).(G y)_i,   db += sum g.
 * dx of the block is the item's own; dy goes into `dy`, the (Bp, Dp)
 * accumulator of the item's thread slot.  out[0..2] get the item's sums of
 * the terms, of (t x).(G y) and of g.
 */
static void FN(siglip_item)(const sig_siglip_args *G, ptrdiff_t rb, void *scratch, T *dy, double *out)
{
    const ptrdiff_t D = G->D, Dp = G->Dp, Bx = G->Bx, By = G->By;
    const T *x = (const T *)G->x, *y = (const T *)G->y;
    const int grad = G->dx != NULL;
    T *xt = (T *)scratch;                   /* Dp x BQ: t x, transposed */
    T *xs = xt + Dp * BQ;                   /* BQ x Dp: t x */
    T *yp = xs + BQ * Dp;                   /* BK x Dp: a block of y, zero-padded */
    T *st = yp + BK * Dp;                   /* BK x SLD: t x.y, then g */
    T *dxa = st + BK * SLD;                 /* BQ x Dp: G y */
    const ptrdiff_t i0 = rb * BQ;
    const ptrdiff_t m = Bx - i0 < BQ ? Bx - i0 : BQ;
    const ptrdiff_t nq = (m + CQ * VN - 1) / (CQ * VN) * (CQ * VN);    /* the columns computed */
    const T t = (T)G->t, bias = (T)G->b, invB = (T)(1.0 / (double)G->Bn);
    for (ptrdiff_t i = 0; i < nq; i++)
        for (ptrdiff_t d = 0; d < Dp; d++) {
            T v = i < m && d < D ? x[(i0 + i) * D + d] * t : (T)0;
            xt[d * BQ + i] = v;
            xs[i * Dp + d] = v;
        }
    if (grad) memset(dxa, 0, (size_t)(BQ * Dp) * sizeof(T));
    vd lacc[2] = {vd_set(0.0), vd_set(0.0)}, gacc[2] = {vd_set(0.0), vd_set(0.0)};   /* sums in double */
    double gdiag = 0;
    const V vb = VSET(bias), vinv = VSET(invB);
    for (ptrdiff_t j0 = 0; j0 < By; j0 += BK) {
        const ptrdiff_t nk = By - j0 < BK ? By - j0 : BK;
        const ptrdiff_t nkr = (nk + RQ - 1) / RQ * RQ;
        memset(yp, 0, (size_t)(BK * Dp) * sizeof(T));
        for (ptrdiff_t j = 0; j < nk; j++) memcpy(yp + j * Dp, y + (j0 + j) * D, (size_t)D * sizeof(T));
        FN(qk_tile)(yp, nkr, nq, xt, st, Dp, 0, 0);
        for (ptrdiff_t j = 0; j < nk; j++) {
            T *row = st + j * SLD;
            /* the padding rows of x take no part: w = -inf gives softplus 0 and g 0 */
            for (ptrdiff_t i = m; i < nq; i++) row[i] = (T)-INFINITY;
            /* the matching pair of this y row, if in the block: w = -(s + b), written so that s + b gives it */
            const ptrdiff_t id = G->y0 + j0 + j - (G->x0 + i0);
            const int has = id >= 0 && id < m;
            if (has) row[id] = -row[id] - bias - bias;
            for (ptrdiff_t i = 0; i < nq; i += VN) {
                V w = VADD(VLOAD(row + i), vb);
                VSUMD(lacc, VSOFTPLUS(w));
                if (grad) {
                    V g = VSIGMOID(w);
                    VSUMD(gacc, g);
                    if (has && id >= i && id < i + VN) {
                        T lanes[VN];
                        VSTORE(lanes, g);
                        gdiag += (double)lanes[id - i];
                    }
                    VSTORE(row + i, VMUL(g, vinv));
                }
            }
            if (grad && has) row[id] = -row[id];      /* -sigma(-u) for the matching pair */
        }
        if (grad) {
            FN(pv_block)(st, m, nk, yp, Dp, Dp, dxa, Dp);              /* G y */
            FN(pvt_block)(st, nk, m, xs, Dp, Dp, dy + j0 * Dp, Dp);    /* G^T t x */
        }
    }
    double lanes[2 * VD_N];
    vd_store(lanes, vd_add(lacc[0], lacc[1]));
    double loss = 0, gsum = 0;
    for (int l = 0; l < VD_N; l++) loss += lanes[l];
    vd_store(lanes, vd_add(gacc[0], gacc[1]));
    for (int l = 0; l < VD_N; l++) gsum += lanes[l];
    out[0] = loss;
    out[1] = out[2] = 0;
    if (!grad) return;
    double dt = 0;
    T *dx = (T *)G->dx;
    for (ptrdiff_t i = 0; i < m; i++) {
        for (ptrdiff_t d = 0; d < D; d++) {
            dt += (double)xs[i * Dp + d] * (double)dxa[i * Dp + d];
            dx[(i0 + i) * D + d] = t * dxa[i * Dp + d];
        }
    }
    out[1] = dt;
    out[2] = (gsum - 2.0 * gdiag) / (double)G->Bn;
}

#undef BQ
#undef BK
#undef SLD
#undef KSUB
