/*
 * The recurrent cells' pointwise passes of one instruction set: the LSTM
 * and GRU steps, forward and backward, over rows of gate blocks (vgate.h
 * has the equations, gate.c checks the arguments and calls
 * sig_gate_kernel_<isa>).  Compiled once per instruction set (see
 * elementwise.c).
 */
#include <string.h>

#include "kernels_isa.h"
#include "vgate.h"

/*
 * Each pass walks the rows, and each row in blocks of CELL_BLOCK columns.
 * In a row, the H columns of every array block (the H-wide arrays, and the
 * gate blocks of the 3H- and 4H-wide ones) are one column stream each.  A
 * phase loads a column vector of each of its input streams, computes, and
 * stores a column vector of each output stream; the forward passes run two
 * phases per block, handing values over in double through stack buffers
 * (the "mid" streams), so that every loop iteration is independent work.
 *
 * Aliasing: a column of an input is read, in the phase that reads it,
 * before the same column of any output is written, and no later phase reads
 * an array an earlier phase writes: an output may be the same array region
 * as an input of its shape.  The tail of a row goes through zero-padded
 * vectors on the stack, all its inputs copied before any output is written.
 */
#define CELL_MAX 8
#define CELL_BLOCK 128
#define CELL_MID 2
#define MID(k) (-1 - (k))

typedef struct {
    signed char arr;    /* index into sig_gate_io's in[] or out[]; MID(k): mid buffer k */
    signed char width;  /* the array's row width, in units of H */
    signed char block;  /* the stream's block in the row */
} cell_stream;

/* the streams of one phase; cell_nin and cell_nout below give their numbers */
typedef struct {
    cell_stream in[CELL_MAX], out[CELL_MAX];
} cell_phase;

static const cell_phase cell_phases[SIG_N_GATE][2] = {
    [SIG_GATE_LSTM_FORWARD] = {
        /* gi, gf, gg, go, c_prev -> i, f, g, o, c; mid c, o */
        {{{0, 4, 0}, {0, 4, 1}, {0, 4, 2}, {0, 4, 3}, {1, 1, 0}},
         {{2, 4, 0}, {2, 4, 1}, {2, 4, 2}, {2, 4, 3}, {1, 1, 0}, {MID(0), 1, 0}, {MID(1), 1, 0}}},
        /* mid c, o -> h, tanh(c) */
        {{{MID(0), 1, 0}, {MID(1), 1, 0}}, {{0, 1, 0}, {3, 1, 0}}},
    },
    [SIG_GATE_LSTM_BACKWARD] = {
        /* dh, dc, i, f, g, o, c_prev, tanh(c) -> d(gi), d(gf), d(gg), d(go), dc_prev */
        {{{0, 1, 0}, {1, 1, 0}, {2, 4, 0}, {2, 4, 1}, {2, 4, 2}, {2, 4, 3}, {3, 1, 0}, {4, 1, 0}},
         {{0, 4, 0}, {0, 4, 1}, {0, 4, 2}, {0, 4, 3}, {1, 1, 0}}},
    },
    [SIG_GATE_GRU_FORWARD] = {
        /* gi_r, gh_r, gi_z, gh_z -> r, z; mid r, z */
        {{{0, 3, 0}, {1, 3, 0}, {0, 3, 1}, {1, 3, 1}},
         {{1, 4, 0}, {1, 4, 1}, {MID(0), 1, 0}, {MID(1), 1, 0}}},
        /* mid r, z, gi_n, gh_n, h_prev -> h, n, gh_n */
        {{{MID(0), 1, 0}, {MID(1), 1, 0}, {0, 3, 2}, {1, 3, 2}, {2, 1, 0}},
         {{0, 1, 0}, {1, 4, 2}, {1, 4, 3}}},
    },
    [SIG_GATE_GRU_BACKWARD] = {
        /* dh, r, z, n, gh_n, h_prev -> dgi (r, z, n), dgh (r, z, n), dh_prev */
        {{{0, 1, 0}, {1, 4, 0}, {1, 4, 1}, {1, 4, 2}, {1, 4, 3}, {2, 1, 0}},
         {{0, 3, 0}, {0, 3, 1}, {0, 3, 2}, {1, 3, 0}, {1, 3, 1}, {1, 3, 2}, {2, 1, 0}}},
    },
};

/* constants in each instantiation of cell_rows (the table's entries are not
   always folded, and the loops over the streams must unroll) */
SIG_INLINE int cell_nphases(const int kind)
{
    return kind == SIG_GATE_LSTM_FORWARD || kind == SIG_GATE_GRU_FORWARD ? 2 : 1;
}

SIG_INLINE int cell_nin(const int kind, const int phase)
{
    switch (kind) {
        case SIG_GATE_LSTM_FORWARD: return phase == 0 ? 5 : 2;
        case SIG_GATE_LSTM_BACKWARD: return 8;
        case SIG_GATE_GRU_FORWARD: return phase == 0 ? 4 : 5;
        default: return 6;
    }
}

SIG_INLINE int cell_nout(const int kind, const int phase)
{
    switch (kind) {
        case SIG_GATE_LSTM_FORWARD: return phase == 0 ? 7 : 2;
        case SIG_GATE_LSTM_BACKWARD: return 5;
        case SIG_GATE_GRU_FORWARD: return phase == 0 ? 4 : 3;
        default: return 7;
    }
}

/* whether stream k is a mid buffer (MID in cell_phases): the first two
   inputs of the second phases, the last two outputs of the first phases */
SIG_INLINE int cell_mid_in(const int kind, const int phase, int k)
{
    return cell_nphases(kind) == 2 && phase == 1 && k < CELL_MID;
}

SIG_INLINE int cell_mid_out(const int kind, const int phase, int k)
{
    return cell_nphases(kind) == 2 && phase == 0 && k >= cell_nout(kind, phase) - CELL_MID;
}

/* float32 data takes the light forms of sigma and tanh (vgate.h) */
SIG_INLINE void cell_vec(const int kind, const int phase, const int f32, const vd *x, vd *y)
{
    if (kind == SIG_GATE_LSTM_FORWARD) {
        if (phase == 0) vd_lstm_forward_gates(f32, x, y);
        else vd_lstm_forward_out(f32, x, y);
    }
    else if (kind == SIG_GATE_LSTM_BACKWARD) vd_lstm_backward(x, y);
    else if (kind == SIG_GATE_GRU_FORWARD) {
        if (phase == 0) vd_gru_forward_gates(f32, x, y);
        else vd_gru_forward_out(f32, x, y);
    }
    else vd_gru_backward(x, y);
}

/* one column vector of a stream: arrays hold the data type, mid buffers double */
SIG_INLINE vd cell_load(const char *p, int mid, const int f32)
{
    if (mid) return vd_load((const double *)p);
    return f32 ? vd_load_f32((const float *)p) : vd_load((const double *)p);
}

SIG_INLINE void cell_store(char *p, int mid, vd v, const int f32)
{
    if (mid) vd_store((double *)p, v);
    else if (f32) vd_store_f32((float *)p, v);
    else vd_store((double *)p, v);
}

/* columns [j0, j0 + m) of a row through one phase; ip and op point at column
   j0 of each stream */
SIG_INLINE void cell_phase_run(const int kind, const int phase, const int f32, ptrdiff_t m,
                               const char *const *ip, char *const *op)
{
    const int nin = cell_nin(kind, phase), nout = cell_nout(kind, phase);
    const ptrdiff_t sz = f32 ? 4 : 8;
    const ptrdiff_t nv = m / VD_N * VD_N;
#define ISZ(k) (cell_mid_in(kind, phase, k) ? 8 : sz)
#define OSZ(k) (cell_mid_out(kind, phase, k) ? 8 : sz)
    for (ptrdiff_t j = 0; j < nv; j += VD_N) {
        vd x[CELL_MAX], y[CELL_MAX];
        for (int k = 0; k < nin; k++) x[k] = cell_load(ip[k] + j * ISZ(k), cell_mid_in(kind, phase, k), f32);
        cell_vec(kind, phase, f32, x, y);
        for (int k = 0; k < nout; k++)
            cell_store(op[k] + j * OSZ(k), cell_mid_out(kind, phase, k), y[k], f32);
    }
    if (nv < m) {
        /* mid buffers have room for whole vectors; the arrays go through bx, by */
        double bx[CELL_MAX][VD_N], by[CELL_MAX][VD_N];
        vd x[CELL_MAX], y[CELL_MAX];
        memset(bx, 0, sizeof bx);
        for (int k = 0; k < nin; k++) memcpy(bx[k], ip[k] + nv * ISZ(k), (size_t)((m - nv) * ISZ(k)));
        for (int k = 0; k < nin; k++) x[k] = cell_load((const char *)bx[k], cell_mid_in(kind, phase, k), f32);
        cell_vec(kind, phase, f32, x, y);
        for (int k = 0; k < nout; k++) {
            cell_store((char *)by[k], cell_mid_out(kind, phase, k), y[k], f32);
            memcpy(op[k] + nv * OSZ(k), by[k], (size_t)((m - nv) * OSZ(k)));
        }
    }
#undef ISZ
#undef OSZ
}

/* the streams of a phase at column j0 of a row */
SIG_INLINE void cell_streams(const int kind, const int phase, const int f32, const sig_gate_io *io,
                             ptrdiff_t row, ptrdiff_t j0, ptrdiff_t H, double (*mid)[CELL_BLOCK],
                             const char **ip, char **op)
{
    const cell_phase *P = &cell_phases[kind][phase];
    const ptrdiff_t sz = f32 ? 4 : 8;
    for (int k = 0; k < cell_nin(kind, phase); k++) {
        const cell_stream c = P->in[k];
        ip[k] = c.arr < 0 ? (const char *)mid[-1 - c.arr]
                          : (const char *)io->in[(int)c.arr] + ((row * c.width + c.block) * H + j0) * sz;
    }
    for (int k = 0; k < cell_nout(kind, phase); k++) {
        const cell_stream c = P->out[k];
        op[k] = c.arr < 0 ? (char *)mid[-1 - c.arr]
                          : (char *)io->out[(int)c.arr] + ((row * c.width + c.block) * H + j0) * sz;
    }
}

SIG_INLINE void cell_rows(const int kind, const int f32, ptrdiff_t rows, ptrdiff_t H,
                          const sig_gate_io *io)
{
    double mid[CELL_MID][CELL_BLOCK];
    const char *ip[CELL_MAX];
    char *op[CELL_MAX];
    for (ptrdiff_t row = 0; row < rows; row++) {
        for (ptrdiff_t j0 = 0; j0 < H; j0 += CELL_BLOCK) {
            ptrdiff_t m = H - j0 < CELL_BLOCK ? H - j0 : CELL_BLOCK;
            cell_streams(kind, 0, f32, io, row, j0, H, mid, ip, op);
            cell_phase_run(kind, 0, f32, m, ip, op);
            if (cell_nphases(kind) == 2) {
                cell_streams(kind, 1, f32, io, row, j0, H, mid, ip, op);
                cell_phase_run(kind, 1, f32, m, ip, op);
            }
        }
    }
}

#define CELL_CASE(kind)                                                   \
    case kind:                                                            \
        if (f32) cell_rows(kind, 1, rows, H, io);                         \
        else cell_rows(kind, 0, rows, H, io);                             \
        return;

void SIG_ISA_NAME(sig_gate_kernel)(int kind, int f32, ptrdiff_t rows, ptrdiff_t H, const sig_gate_io *io)
{
    switch (kind) {
        CELL_CASE(SIG_GATE_LSTM_FORWARD)
        CELL_CASE(SIG_GATE_LSTM_BACKWARD)
        CELL_CASE(SIG_GATE_GRU_FORWARD)
        CELL_CASE(SIG_GATE_GRU_BACKWARD)
        default:
            return;
    }
}
#undef CELL_CASE
