"""LSTM and GRU cells and stacks, with PyTorch's equations, gate order and
parameter names, and exact backward passes.

The matrix products go to NumPy's BLAS or, with the avx2 and avx512
kernels, to the library's panel kernel (_core._panel_matmul), whichever the
tables below (at one thread) and the layer's own measurement of its shapes
(at any thread count) pick (_panel_products, _split_layout, _long_panel);
the pointwise part of a step (the sigma and tanh of the gates, the new cell
and hidden state) runs in one compiled pass, forward and backward.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import _core
from .layers import as_float_input, check_grad, no_grad_error
from .module import Module, Parameter, check_dtype, is_grad_enabled

__all__ = ["LSTMCell", "GRUCell", "RNNCell", "LSTM", "GRU", "RNN"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _init(rng, shape, hidden, dtype):
    k = 1.0 / np.sqrt(hidden) if hidden > 0 else 0.0
    return Parameter(rng.uniform(-k, k, shape).astype(dtype))


def _dtype_error(owner, name, given, dtype):
    """PyTorch's rule: an input of another dtype than the parameters is an
    error, never cast silently (a float64 array into a float32 layer would
    otherwise cost a copy and lose bits unseen); the message says how to
    fix it."""
    fix = f"convert it ({name}.astype(np.{dtype}))"
    if given in (np.float32, np.float64):
        fix += (f", or build the layer in {given} ({owner.split('.')[0]}(..., dtype=np.{given}), then "
                f"load_state_dict(layer.state_dict()) to keep the weights)")
    return TypeError(f"{owner}: {name} has dtype {given}, the layer's parameters are {dtype}; nothing is cast "
                     f"implicitly (as in PyTorch): {fix}")


def _layer_input(owner, x, dtype):
    """x as an array of the layer's dtype, or the TypeError of _dtype_error."""
    a = np.asarray(x)
    if a.dtype != dtype:
        raise _dtype_error(owner, "input", a.dtype, dtype)
    return as_float_input(owner, a, dtype)


def _state(owner, name, s, shape, dtype):
    """An initial state given by the caller, checked, or zeros."""
    if s is None:
        return np.zeros(shape, dtype)
    a = np.asarray(s)
    if a.dtype != dtype:
        raise _dtype_error(owner, name, a.dtype, dtype)
    if a.shape != tuple(shape):
        raise ValueError(f"{owner}: {name} has shape {a.shape}, expected {tuple(shape)}")
    return np.ascontiguousarray(a)


# ------------------------------------------------------------ one direction

def _steps_done(done):
    """Per step, None where no sequence has ended (nothing to do), else the
    (B,) booleans of the sequences that have."""
    if done is None:
        return _NOTHING_DONE
    return [row if row.any() else None for row in done]


class _NothingDone:
    def __getitem__(self, t):
        return None


_NOTHING_DONE = _NothingDone()


#: The layout of the matrix products (_split_layout).  Split: the input's
#: product for the whole sequence is one matrix product, W_ih [x_1 ... x_T]
#: with T B columns, and each step multiplies only the hidden state,
#: W_hh h_(t-1) (B columns), and adds its block of the input's product.
#: Combined: the LSTM and the RNN multiply [W_ih, b_ih + b_hh, W_hh] by
#: [x_t; 1; h_(t-1)] per step, one product of B columns.  The long product
#: of T B columns runs at the BLAS's best speed and a product of B columns
#: below it, so splitting pays when the input's share of the work is large;
#: the split layout's extra pass over each step's gates (the addition) and
#: its array of every step's input product cost the same at any input width,
#: so it loses when the input is narrow.  Measured with OpenBLAS at one
#: thread, split's time over combined's, LSTM forward and backward, 50
#: steps at batch 1, 8, 32, 64 and 128: input 512, hidden 512: 0.68, 0.70,
#: 0.93, 0.92, 1.00; input 512, hidden 128: 0.62 to 0.84; input and hidden
#: 128: 0.78, 0.68, 0.99, 0.98, 0.99; input 128, hidden 512: 1.06 to 1.11;
#: input 32, hidden 512: 1.04 to 1.26.  On an AVX2 EPYC (Zen 3), 100 steps:
#: input and hidden 512 at batch 256: 0.88 to 0.97 (LSTM), 0.95 to 1.00
#: (RNN); input 512, hidden 1024, batch 64: 0.89 to 0.94 (forward 0.95);
#: input 256, hidden 512, batch 64: 1.04 to 1.06.  Hence split when the
#: input is at least as wide as the hidden state (as in every layer of a
#: stack after the first) or at least SPLIT_INPUT wide, at any batch.  The
#: GRU, whose new gate needs W_hh h apart from W_ih x, is always split.
#: Both layouts give the same result to rounding.
SPLIT_INPUT = 512
#: below this batch the split layout keeps the input's products step-major
#: (_Run._input_products)
STEP_MAJOR_BELOW = 32


#: The batch sizes whose per-step products go through the library's own
#: kernel (_core._panel_matmul) instead of the BLAS, by instruction set and
#: dtype: the weight is packed once per pass, and the batch is the vector
#: dimension.  A BLAS copies the whole weight into its own layout on every
#: call and runs a product of a few columns far below its speed.
#:
#: avx2, measured at one thread against OpenBLAS (Haswell kernels) on an
#: AVX2 EPYC (Zen 3), the panel kernel's time over the BLAS's for weights
#: (4H, H) and (H, 4H), H = 128, 512 and 1024: float32, 0.57 to 0.73 at
#: batch 8, 0.63 to 0.79 at batch 16, 0.78 to 0.90 at batch 32, 0.83 to
#: 1.20 at batch 64; float64, 0.43 to 0.63, 0.63 to 0.83, 0.76 to 1.01 and
#: 0.95 to 1.13.  At batch 1 the product is a matrix-vector product, where
#: the BLAS is 1.4 to 3.3 times faster.
#:
#: avx512, measured at one thread against OpenBLAS (SkylakeX kernels) on an
#: AVX-512 EPYC (Zen 4), whole layers' time with the panel kernel over
#: their time with the BLAS (LSTM, GRU and RNN, input = hidden = 128, 512
#: and 1024, and input 256, hidden 512; forward and forward + backward):
#: float32, 0.66 to 1.01 from batch 8 to 128, 0.87 to 2.09 at batches 2
#: and 4; float64, 0.28 to 1.07 from batch 4 to 128 (above 1 only with
#: hidden 128), 0.48 to 1.52 at batch 2.
#:
#: On two threads (both the library's and the BLAS's) the BLAS splits its
#: work better: the LSTM with the panel kernel took 1.07 (batch 8) to 1.2
#: (batch 32) times as long as with the BLAS (avx2); with avx512, whole
#: layers took 0.93 to 0.98 of their time at batch 8 but 1.07 to 1.26 from
#: batch 32 to 128.  So with several threads the tables give the BLAS, and
#: only a decisive measurement (below) takes the kernel.
#: The other instruction sets keep the BLAS (_panel_products).
PANEL_BATCH = {
    "avx2": {"float32": (2, 32), "float64": (2, 32)},
    "avx512": {"float32": (8, 128), "float64": (4, 128)},
}
#: The forward pass's products keep the panel kernel up to a larger batch.
#: avx512 (Zen 4, one thread, input = hidden = 512, 50 steps), whole
#: layers' forward time with the kernel over the BLAS's, LSTM, GRU and
#: RNN: float32 0.94 to 0.98 at batch 192 and 256 (0.89 for the LSTM over
#: 100 steps), 0.90 to 1.01 at 384 and 512; float64 0.88 to 0.99 at 192
#: and 256, up to 1.06 at 384.  Forward + backward with the kernel in the
#: forward pass only took 0.97 to 1.00 of the time at 192 and 256, and
#: 1.00 to 1.02 with the backward pass's products through it too, so the
#: backward pass keeps PANEL_BATCH's limit.
PANEL_FORWARD_UP_TO = {"avx512": 256}


#: The tables above are what two machines measured, and a third differs:
#: on an AVX-512 EPYC (Zen 5), whose vector units are a full 512 bits
#: wide, NumPy's OpenBLAS took its Haswell (AVX2) kernels and ran at
#: 115-130 GFLOP/s (float32, one thread) while the panel kernel ran
#: (4H, H) by (H, B) at 250-260 from batch 32 on, and float64 at 115-126
#: against 40-60.  So each pass also times its own products once per
#: process and thread count (_product_times: the layer's shapes scaled
#: down, constant data, the best of three; the kernel on one thread and
#: credited for more (PANEL_THREAD_GAIN), the BLAS on its own threads) and
#: overrides the tables where one way is at least DECISIVE times as fast
#: as the other.  On two threads of that machine the tables' BLAS made the
#: LSTM 1.5 to 2.2 times as slow as PyTorch (batch 8 to 256).  Products of
#: fewer than MEASURE_FROM multiply-adds keep the tables.
DECISIVE = 1.25
MEASURE_FROM = 1 << 20

#: (isa, dtype, threads, M, K, B) -> (panel, BLAS) seconds of one product,
#: (isa, dtype, threads, M, I, -N') -> the BLAS's seconds for N' columns of
#: the input's whole-sequence product, and (isa, dtype, threads,
#: "transpose", I, N') -> the seconds of the input's transposing copy
_TIMES = {}


def _best_time(f, n):
    """The best of three timings of n calls of f, per call, after one call."""
    f()
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, time.perf_counter() - t0)
    return best / n


#: the measurements multiply at most MEASURE_ROWS rows of a weight by at
#: most MEASURE_COLUMNS columns, over at most MEASURE_DEPTH terms, and
#: scale the time: both ways take time in proportion to each
MEASURE_ROWS = 256
MEASURE_COLUMNS = 512
MEASURE_DEPTH = 1024

#: On several threads the panel kernel is credited PANEL_THREAD_GAIN times
#: min(threads, 2) its speed on one: timed there, it can lose to a cold
#: core.  On the Zen 5 VM with 2 vCPUs, the second vCPU took 40 to 65 ms of
#: continuous work before it ran the kernel's share (a (512, 512) by 64
#: product took 0.134 ms on two threads until then, 0.070 after, 0.134 on
#: one), and OpenBLAS's threads spin on for a while after each of its
#: calls, holding it: timed on two threads, the kernel ran at one thread's
#: speed against the BLAS's two, lost the measurement, and the LSTM took
#: 1.5 to 2.2 times PyTorch's time.  Its panels split evenly over the
#: threads: warm, it ran 1.80 to 1.88 times as fast on two as on one there
#: ((2048, 512) by 64 and by 6400, (512, 128) by 64).  More threads than
#: two are credited as two: not measured.  A product of less than
#: PANEL_THREAD_FROM seconds on one thread is not credited: in a layer's
#: steps, the other thread's wake-up takes a good part of it (a (2048, 512)
#: weight by 1 or 8 columns, 0.06 ms on one thread, 0.034 on two when kept
#: busy; at batch 1, credited, the LSTM took 1.9x PyTorch's time on two
#: threads).
PANEL_THREAD_GAIN = 0.9
PANEL_THREAD_FROM = 2e-4


def _product_times(M: int, K: int, B: int, dtype):
    """(panel kernel, BLAS) seconds of one product of an (M, K) weight by a
    (K, B) block, measured once per process and thread count (within the
    MEASURE_ limits, on constant data: the time does not depend on normal
    values).  The kernel runs on one thread and is credited PANEL_THREAD_GAIN
    times min(threads, 2) that speed on several where it takes at least
    PANEL_THREAD_FROM seconds; the BLAS runs on its own threads."""
    dt = np.dtype(dtype)
    threads = _core.get_num_threads()
    key = (_core._get_isa(), dt.name, threads, M, K, B)
    if key not in _TIMES:
        m, k, b = min(M, MEASURE_ROWS), min(K, MEASURE_DEPTH), min(B, MEASURE_COLUMNS)
        w = np.full((m, k), 0.5, dt)
        h = np.full((k, b), 0.25, dt)
        out = np.empty((m, b), dt)
        wp = _core._panel_pack(w)
        n = max(1, (1 << 22) // (m * k * b))
        scale = (M / m) * (K / k) * (B / b)
        try:
            _core.set_num_threads(1)
            panel = _best_time(lambda: _core._panel_matmul(wp, h, out, None), n) * scale
        finally:
            _core.set_num_threads(threads)
        if threads > 1 and panel >= PANEL_THREAD_FROM:
            panel /= PANEL_THREAD_GAIN * min(threads, 2)
        _TIMES[key] = (panel, _best_time(lambda: np.matmul(w, h, out=out), n) * scale)
    return _TIMES[key]


def _long_panel(M: int, K: int, N: int, dtype) -> bool:
    """Whether a product over every step and batch column, (M, K) by (K,
    N) with K = T B (the weights' gradients) or N = T B (the input's
    gradient), takes the panel kernel: where _measured allows and it is
    DECISIVE times as fast as the BLAS (the panel kernel needs its
    operands packed and rows contiguous, copies the BLAS does without)."""
    if not _measured(M, K, N, dtype):
        return False
    panel, blas = _product_times(M, K, N, dtype)
    return panel * DECISIVE <= blas


def _input_panel(M: int, I: int, N: int, dtype) -> bool:
    """Whether the split layout's whole-sequence product, W_ih (M, I) by the
    input's N = T B columns, takes the panel kernel: _long_panel's rule with
    the input's transposing copy (which the kernel needs and the BLAS does
    not) added to the kernel's time.  Without it, the RNN at batch 256
    (avx2 kernels, Zen 5, one thread) went from 249-262 to 286-328 ms
    forward: its products are a quarter of the LSTM's, the copy the same."""
    if not _measured(M, I, N, dtype):
        return False
    panel, blas = _product_times(M, I, N, dtype)
    dt = np.dtype(dtype)
    n = min(N, 4096)
    key = (_core._get_isa(), dt.name, _core.get_num_threads(), "transpose", I, n)
    if key not in _TIMES:
        src = np.full((n, I), 0.5, dt)
        dst = np.empty((I, n), dt)
        _TIMES[key] = _best_time(lambda: _core._copy_tiled(dst, src.T), 1)
    return (panel + _TIMES[key] * N / n) * DECISIVE <= blas


#: rows per panel of _core._panel_pack
PANEL_ROWS = 12


def _packed(a, spare):
    """a (M, L)'s panels for the panel kernel, in an array from `spare` (the
    caller gives it back): a fresh one of a long product's size (105 MB for
    an LSTM's hidden 1024) costs its pages' first touch on every pass, up to
    200 ms per backward pass on a virtual machine."""
    M, L = a.shape
    return _core._panel_pack(a, spare.empty((-(-M // PANEL_ROWS), L, PANEL_ROWS), a.dtype))


def _times_rows(a, rows, spare, packed=None, out=None):
    """a (M, L) times rows (L, N), C-contiguous, through the panel kernel,
    into out when given; packed: a's panels when already made, else made by
    _packed.  Returns (product, panels); the caller gives the panels back
    to `spare`."""
    if packed is None:
        packed = _packed(a, spare)
    if out is None:
        out = np.empty((a.shape[0], rows.shape[1]), a.dtype)
    _core._panel_matmul(packed, rows, out, None)
    return out, packed


def _input_product_time(M: int, I: int, N: int, dtype):
    """Seconds of the split layout's whole-sequence product through the
    BLAS, W_ih (M, I) by the input's N columns (read transposed, as
    _Run._input_products does), from min(M, MEASURE_ROWS) rows by
    min(N, MEASURE_COLUMNS) columns, measured once per process and thread
    count."""
    dt = np.dtype(dtype)
    m, n = min(M, MEASURE_ROWS), min(N, MEASURE_COLUMNS)
    key = (_core._get_isa(), dt.name, _core.get_num_threads(), M, I, -n)
    if key not in _TIMES:
        w = np.full((m, I), 0.5, dt)
        x = np.full((n, I), 0.25, dt)
        g = np.empty((m, n), dt)
        _TIMES[key] = _best_time(lambda: np.matmul(w, x.T, out=g), 1) * M / m
    return _TIMES[key] * N / n


def _measured(M: int, K: int, B: int, dtype) -> bool:
    """Whether the products of an (M, K) weight by B columns are timed (the
    panel kernel's instruction sets, large enough)."""
    return _core._get_isa() in PANEL_BATCH and M * K * B >= MEASURE_FROM


def _panel_products(B: int, dtype, forward: bool = False, shape=None) -> bool:
    """Whether the per-step products of a batch of B in `dtype` take the
    panel kernel (see PANEL_BATCH; PANEL_FORWARD_UP_TO for the forward
    pass's): on avx2 and avx512, by the tables at one thread, and never by
    them on several.  shape: the weight's (M, K) as multiplied; where it is
    given, a decisive measurement (DECISIVE) overrides the tables."""
    isa = _core._get_isa()
    limits = PANEL_BATCH.get(isa, {}).get(np.dtype(dtype).name)
    if limits is None:
        return False
    hi = max(limits[1], PANEL_FORWARD_UP_TO.get(isa, 0)) if forward else limits[1]
    table = limits[0] <= B <= hi and _core.get_num_threads() == 1
    if shape is not None and _measured(shape[0], shape[1], B, dtype):
        panel, blas = _product_times(shape[0], shape[1], B, dtype)
        if panel * DECISIVE <= blas:
            return True
        if blas * DECISIVE <= panel:
            return False
    return table


def _step_time(M: int, K: int, B: int, dtype) -> float:
    """Seconds of one per-step product the way _panel_products picks it."""
    panel, blas = _product_times(M, K, B, dtype)
    return panel if _panel_products(B, dtype, forward=True, shape=(M, K)) else blas


def _split_layout(kind: str, I: int, H: int, B: int = 0, T: int = 0, dtype=None) -> bool:
    """Whether a layer of `kind` with input I and hidden H takes the split
    layout (see SPLIT_INPUT).  Given the batch B, the steps T and the
    dtype, the LSTM's and RNN's forward pass times both layouts' products
    where _measured allows: the split one's whole-sequence product and T
    products of K = H, against T products of K = I + 1 + H; one that is
    DECISIVE times as fast as the other overrides the rule.  The
    whole-sequence product is timed through the BLAS even where
    _long_panel would give it to the panel kernel: the estimate leaves out
    the split layout's own costs (the input's transposing copy for the
    kernel, each step's addend read from the long product), and with the
    kernel's time in it, the default LSTM on a Zen 5 (one thread) went
    from the combined layout to the split one, and from 126-131 to 145-147
    ms."""
    split = kind == "GRU" or I >= min(H, SPLIT_INPUT)
    if kind == "GRU" or dtype is None:
        return split
    M, Kc = _GATES[kind] * H, I + 1 + H
    if not _measured(M, H, B, dtype):          # (then M Kc B, larger, is measured too)
        return split
    t_split = _input_product_time(M, I, T * B, dtype) + T * _step_time(M, H, B, dtype)
    t_combined = T * _step_time(M, Kc, B, dtype)
    if t_combined * DECISIVE <= t_split:
        return False
    if t_split * DECISIVE <= t_combined:
        return True
    return split


#: the alignment of the layers' work arrays: a cache line
LINE = 64


def _line_empty(shape, dtype):
    """np.empty whose data starts on a cache line (NumPy aligns to 16
    bytes).  The panel kernel loads rows of its right-hand operand a vector
    at a time, and with 32- and 64-byte vectors a row 16 bytes off a line
    makes every load (avx512) or every other one (avx2) straddle two lines:
    a (2048, 512) float32 weight by 64 such columns ran at 144 GFLOP/s
    instead of 161 (avx512, an Intel Xeon VM, one thread).  The layers'
    arrays of a step's columns (B of them to a row) keep every row aligned
    where a row is a whole number of lines (float32 batches that are
    multiples of 16)."""
    dtype = np.dtype(dtype)
    n = math.prod(shape) * dtype.itemsize
    buf = np.empty(n + LINE, np.uint8)
    start = -buf.ctypes.data % LINE
    return buf[start:start + n].view(dtype).reshape(shape)


class _Spare:
    """The large work arrays of a recurrent layer's passes, lent again to
    its next passes instead of fresh memory.

    A pass over T steps of a batch of B allocates arrays of T G H B values
    (the input's product, the gates' activations and gradients and their
    copies feature by batch), 210 MB each for an LSTM with hidden 512 at
    batch 256 over 100 steps.  Fresh memory costs a page fault and the
    zeroing of each page on first touch: with transparent huge pages, a
    quarter of the time of that LSTM's forward and backward went to
    clearing pages (perf, one thread, a Zen 4 VM).  The arrays that never
    leave the layer come back here when their pass no longer needs them,
    and the next array of the same size takes one of them; the stack
    shares one _Spare between its layers and directions.  At most KEEP
    arrays wait, the ones given back last; an array given back must not be
    read or written again by anyone."""

    #: smaller arrays are made anew every time
    MIN_BYTES = 1 << 20
    KEEP = 16

    def __init__(self):
        self.arrays = []

    def empty(self, shape, dtype):
        """An uninitialised array, as np.empty, starting on a cache line
        (_line_empty)."""
        dtype = np.dtype(dtype)
        n = math.prod(shape) * dtype.itemsize
        if n >= self.MIN_BYTES:
            for i, a in enumerate(self.arrays):
                if a.nbytes == n and a.ctypes.data % LINE == 0:
                    return self.arrays.pop(i).view(dtype).reshape(shape)
        return _line_empty(shape, dtype)

    def give(self, *arrays):
        """Take back C-contiguous arrays from empty() that nothing reads any
        more (None is skipped)."""
        for a in arrays:
            if a is not None and a.nbytes >= self.MIN_BYTES:
                self.arrays.append(a.reshape(-1).view(np.uint8))
        del self.arrays[:-self.KEEP]


class _Run:
    """One layer, one direction, over a whole sequence: the forward pass and
    what its backward pass needs.

    Inside, every per-step array is kept transposed, feature by batch:
    the recurrent product is then W @ h^T, (G H, K) by (K, B), the shape
    BLAS runs fastest for a small batch, and the four (three) gate blocks of
    a step are each one contiguous run of H B values, which the compiled
    pointwise pass takes as a single row.  The products are laid out as
    _split_layout decides: in the combined layout the LSTM's and RNN's input
    and previous hidden state sit one above the other in
    Z_t = [x_t; 1; h_(t-1)], so that each step is one product
    [W_ih, b_ih + b_hh, W_hh] Z_t.
    """

    def __init__(self, kind, w_ih, w_hh, b_ih, b_hh, nonlinearity=None, spare=None):
        self.kind, self.w_ih, self.w_hh, self.b_ih, self.b_hh = kind, w_ih, w_hh, b_ih, b_hh
        self.nonlinearity = nonlinearity
        self.spare = _Spare() if spare is None else spare
        self.saved = None
        self.kept = True      # False after a forward pass under no_grad
        self.done = None
        self.split = True

    def _input_products(self, x, panels):
        """W_ih x_t for every step in one product, with the biases that can be
        added in advance (b_ih + b_hh; the GRU's b_ih only).  Returns the
        function giving step t's (G H, B) block, and the array behind it
        (for self.spare once the pass is done).  panels: whether the
        per-step products take the panel kernel.

        The product comes out as (G H, T B), step t in columns t B to
        (t + 1) B - 1.  Below STEP_MAJOR_BELOW rows of batch those blocks
        are runs of a few bytes, slow to read a step at a time, so one pass
        turns the whole product step-major, (T, G H, B), adding the biases;
        from there on the extra pass costs more than it saves (measured at
        one thread, batch 8: GRU forward 48 -> 41 ms; batch 64: LSTM
        forward 235 -> 246 ms).  The panel kernel adds the LSTM's and RNN's
        blocks in place, a vector of batch per row, and there the pass only
        costs (their forward at batch 4 to 16 took 0.95 to 0.99 of the time
        without it, avx512, Zen 4); the GRU's pointwise pass needs
        contiguous blocks."""
        T, B, I = x.shape
        GH = self.w_ih.data.shape[0]
        g = self.spare.empty((GH, T * B), x.dtype)
        bias = None
        if self.b_ih is not None:
            bias = (self.b_ih.data if self.kind == "GRU" else self.b_ih.data + self.b_hh.data)[:, None]
        direct = B >= STEP_MAJOR_BELOW or (panels and self.kind != "GRU")
        if _input_panel(GH, I, T * B, x.dtype):
            # the panel kernel needs the input feature by step and batch; it
            # starts each sum from the bias, where a separate pass over the
            # product took 1.6 ms (the default LSTM's 52 MB, Zen 5)
            xt = self.spare.empty((I, T * B), x.dtype)
            _core._copy_tiled(xt, x.reshape(T * B, I).T)
            wp = _packed(self.w_ih.data, self.spare)
            c = np.broadcast_to(bias, g.shape) if direct and bias is not None else None
            _core._panel_matmul(wp, xt, g, c)
            self.spare.give(xt, wp)
            if c is not None:
                bias = None         # in g already
        else:
            np.matmul(self.w_ih.data, x.reshape(T * B, I).T, out=g)
        if direct:
            if bias is not None:
                g += bias
            return (lambda t: g[:, t * B:(t + 1) * B]), g
        steps = self.spare.empty((T, g.shape[0], B), g.dtype)
        by_step = g.reshape(g.shape[0], T, B).transpose(1, 0, 2)
        if bias is None:
            np.copyto(steps, by_step)
        else:
            np.add(by_step, bias, out=steps)
        self.spare.give(g)
        return (lambda t: steps[t]), steps

    def _weight_gradients(self, dG, x, hs):
        """Accumulate the weights' and biases' gradients from the gate
        gradients of every step, dG (T, G H, B) (for the GRU, those of the
        input's product), in three products over the T B columns; return
        dG as (G H, T B) for the input's gradient."""
        T, B, I = x.shape
        dgt = _by_feature(dG, self.spare)
        GH, H, dt = dgt.shape[0], hs.shape[1], dgt.dtype
        packed = None
        if _long_panel(GH, T * B, I, dt):
            dw, packed = _times_rows(dgt, x.reshape(T * B, I), self.spare)
            self.w_ih.accumulate(dw)
        else:
            self.w_ih.accumulate(dgt @ x.reshape(T * B, I))
        if self.kind != "GRU":
            if _long_panel(GH, T * B, H, dt):
                # h_t's rows, batch by feature: (T B, H)
                hr = _by_row(hs[:T], self.spare)
                dw, packed = _times_rows(dgt, hr, self.spare, packed)
                self.spare.give(hr)
                self.w_hh.accumulate(dw)
            else:
                hst = _by_feature(hs[:T], self.spare)
                self.w_hh.accumulate(dgt @ hst.T)
                self.spare.give(hst)
            if self.b_ih is not None:
                db = dgt.sum(axis=1)
                self.b_ih.accumulate(db)
                self.b_hh.accumulate(db)
        elif self.b_ih is not None:
            self.b_ih.accumulate(dgt.sum(axis=1))
        self.spare.give(packed)
        return dgt

    def _input_gradient(self, dgt, shape):
        """dx (T, B, I) = W_ih^T dG_t for every step, in one product, turned
        step-major in tiles (NumPy's copy of a (100, 256, 512) float32 one
        took 15 ms, _core._copy_tiled 9).  The product goes into one of the
        spare arrays: fresh memory (52 MB at batch 256 and input 512) costs
        page faults and page clearing on every pass (the RNN's backward
        pass there, avx2 kernels on an Intel Xeon VM, one thread, six
        passes each: 818-1152 ms before, 753-979 after)."""
        T, B, I = shape
        w = self.w_ih.data
        dx = self.spare.empty((I, T * B), dgt.dtype)
        if _long_panel(I, w.shape[0], T * B, dgt.dtype):
            _, packed = _times_rows(w.T, dgt, self.spare, out=dx)
            self.spare.give(packed)
        else:
            np.matmul(w.T, dgt, out=dx)
        out = np.empty((T, B, I), dx.dtype)
        _core._copy_tiled(out, dx.reshape(I, T, B).transpose(1, 2, 0))
        self.spare.give(dx)
        return out

    def forward(self, x, h0, c0, done=None):
        """x: (T, B, I) contiguous; h0, c0: (B, H).  Returns out (T, B, H),
        h_n and c_n (B, H).

        done: None, or (T, B) booleans, True from each sequence's end on
        (t >= length).  There the step leaves the state as it was, so h_n
        and c_n are the states at each sequence's last step; the outputs
        there are the frozen state (the caller zeroes them).

        Under no_grad nothing is saved, and the gate activations and cell
        states of one step are overwritten by the next."""
        self.kept = keep = is_grad_enabled()
        self.done = done = _steps_done(done)
        T, B, I = self.shape = x.shape
        H = self.w_hh.data.shape[1]
        dt = x.dtype
        self.split = _split_layout(self.kind, I, H, B, T, dt)
        G = _GATES[self.kind]
        panels = _panel_products(B, dt, forward=True,
                                 shape=(G * H, H if self.split else I + (self.b_ih is not None) + H))
        # the output (T, B, H), each step's h turned while it is in cache
        out = np.empty((T, B, H), dt)
        gbuf = None         # the input's products, for self.spare after the pass
        wp = None           # the per-step product's panels, likewise
        Z = None            # the combined layout's [x_t; 1; h_(t-1)]
        if not self.split:
            # Z_t = [x_t; 1; h_(t-1)] and [W_ih, b_ih + b_hh, W_hh]: the bias
            # rides in the product (and its gradient comes out of the
            # weights' one)
            parts = [self.w_ih.data]
            if self.b_ih is not None:
                parts.append((self.b_ih.data + self.b_hh.data)[:, None])
            wc = np.concatenate(parts + [self.w_hh.data], axis=1)
            o = wc.shape[1] - H                     # first row of h in Z_t
            # from the spare arrays (as the split layout's input products):
            # a fresh array of this size costs its pages' first touch on
            # every pass; it goes back after the pass that needs it last
            Z = self.spare.empty((T + 1, o + H, B), dt)
            _core._copy_tiled(Z[:T, :I], x.transpose(0, 2, 1))
            Z[:, I:o] = 1
            Z[0, o:] = h0.T
            hs = Z[:, o:]

            if panels:
                wp = _packed(wc, self.spare)

                def product(t, out):
                    _core._panel_matmul(wp, Z[t], out, None)
            else:
                def product(t, out):
                    np.matmul(wc, Z[t], out=out)
        else:
            if keep:
                hs = _line_empty((T + 1, H, B), dt)
            else:
                # under no_grad the steps' states take turns in two slots
                # (each step's output is copied out as it is made) instead
                # of T + 1 in fresh memory, 52 MB at batch 256 and hidden
                # 512, whose pages each pass would touch first
                ring = _line_empty((2, H, B), dt)
                hs = [ring[t % 2] for t in range(T + 1)]
            np.copyto(hs[0], h0.T)
            gx, gbuf = self._input_products(x, panels)
            # the GRU adds b_hh to its recurrent product (its input's product
            # holds b_ih only); the others add the input's product
            if self.kind != "GRU":
                add = gx
            elif self.b_hh is not None:
                bhh = np.broadcast_to(self.b_hh.data[:, None], (3 * H, B))
                add = lambda t: bhh                                # noqa: E731
            else:
                add = lambda t: None                               # noqa: E731
            if panels:
                wp = _packed(self.w_hh.data, self.spare)

                def product(t, out):
                    _core._panel_matmul(wp, hs[t], out, add(t))
            else:
                def product(t, out):
                    np.matmul(self.w_hh.data, hs[t], out=out)
                    c = add(t)
                    if c is not None:
                        out += c
        if self.kind == "RNN":
            relu = self.nonlinearity == "relu"
            for t in range(T):
                h = hs[t + 1]
                product(t, h)
                if relu:
                    np.maximum(h, 0, out=h)
                else:
                    np.tanh(h, out=h)
                if done[t] is not None:
                    np.copyto(h, hs[t], where=done[t])
                _core._copy_tiled(out[t], h.T)
            if keep:
                self.saved = (wc, Z) if not self.split else (x, hs)
            hn = self._final_state(hs, Z, keep)
            self.spare.give(gbuf, wp)
            return out, hn, None
        # kept: every step's gate activations (and the LSTM's tanh c and
        # cell states) for backward; else one step's, overwritten
        Ts = T if keep else 1
        if self.kind == "LSTM":
            cs = self.spare.empty((T + 1 if keep else 2, H, B), dt)
            cs[0] = c0.T
            act = self.spare.empty((Ts, 4 * H, B), dt)
            tanhc = self.spare.empty((Ts, H, B), dt)
            buf = np.empty((4 * H, B), dt)
            for t in range(T):
                product(t, buf)
                tk, c_in, c_out = (t, t, t + 1) if keep else (0, t % 2, (t + 1) % 2)
                _core._lstm_forward(buf.reshape(1, -1), cs[c_in].reshape(1, -1), hs[t + 1].reshape(1, -1),
                                    cs[c_out].reshape(1, -1), act[tk].reshape(1, -1), tanhc[tk].reshape(1, -1))
                if done[t] is not None:
                    np.copyto(hs[t + 1], hs[t], where=done[t])
                    np.copyto(cs[c_out], cs[c_in], where=done[t])
                _core._copy_tiled(out[t], hs[t + 1].T)
            if keep:
                self.saved = (wc, Z, cs, act, tanhc) if not self.split else (x, hs, cs, act, tanhc)
            else:
                self.spare.give(act, tanhc)
            hn = self._final_state(hs, Z, keep)
            self.spare.give(gbuf, wp)
            return out, hn, cs[T if keep else T % 2].T
        act = self.spare.empty((Ts, 4 * H, B), dt)
        buf = np.empty((3 * H, B), dt)
        gi = np.empty((3 * H, B), dt)
        for t in range(T):
            product(t, buf)
            g_t = gx(t)
            if not g_t.flags.c_contiguous:
                np.copyto(gi, g_t)
                g_t = gi
            _core._gru_forward(g_t.reshape(1, -1), buf.reshape(1, -1), hs[t].reshape(1, -1),
                               hs[t + 1].reshape(1, -1), act[t if keep else 0].reshape(1, -1))
            if done[t] is not None:
                np.copyto(hs[t + 1], hs[t], where=done[t])
            _core._copy_tiled(out[t], hs[t + 1].T)
        if keep:
            self.saved = (x, hs, act)
        else:
            self.spare.give(act)
        self.spare.give(gbuf, wp)
        return out, hs[T].T, None

    def _final_state(self, hs, Z, keep):
        """h_n, (B, H).  Under no_grad the combined layout's Z, of which hs is
        a view, goes back to the spare arrays, so h_n is copied out first."""
        hn = hs[-1].T
        if Z is not None and not keep:
            hn = hn.copy()
            self.spare.give(Z)
        return hn

    def backward(self, d_out, dh_n, dc_n):
        """d_out: (T, B, H) gradient of the outputs (0 where done); dh_n,
        dc_n: of the final states (B, H), or None.  Accumulates the
        parameters' gradients; returns dx (T, B, I), dh0 and dc0 (B, H).

        Where a step was done (the state passed through unchanged) its gate
        gradients are 0 and the state's gradient passes through to the step
        before, unchanged."""
        H = self.w_hh.data.shape[1]
        done = self.done
        T, B, I = self.shape
        if self.kind == "GRU":
            return self._gru_backward(d_out, dh_n)
        G = _GATES[self.kind]
        dt = self.w_hh.data.dtype
        dG = self.spare.empty((T, G * H, B), dt)
        if not self.split:
            wc, Z = self.saved[:2]
            o = wc.shape[1] - H
            hs = Z[:, o:]
            # dZ[t + 1, o:]: gradient of h_t.  From the spare arrays, and dx
            # copied out of it at the end: after PyTorch's backward pass in
            # the same process, the first touch of a fresh array's pages
            # took 7 us a page here (97 ms for 52 MB, 4 ms before)
            dZ = self.spare.empty((T + 1, o + H, B), Z.dtype)
            dZ[T, o:] = 0 if dh_n is None else dh_n.T
            dhs = dZ[:, o:]
            back_out = dZ                               # the gradients of x_t and h_(t-1)
            back_product, back_panels = _back_product(wc, dG, self.spare)
        else:
            x, hs = self.saved[:2]
            dhs = self.spare.empty((T + 1, H, B), hs.dtype)
            dhs[T] = 0 if dh_n is None else dh_n.T
            back_out = dhs
            back_product, back_panels = _back_product(self.w_hh.data, dG, self.spare)
        if self.kind == "LSTM":
            cs, act, tanhc = self.saved[-3:]
            dc = np.zeros((H, B), dt) if dc_n is None else np.ascontiguousarray(dc_n.T)
            dc_prev = np.empty((H, B), dt)
        # the outputs' gradients feature by batch, as the steps use them
        d_turned = _turned(d_out, self.spare)
        for t in range(T - 1, -1, -1):
            dh = dhs[t + 1]
            dh += d_turned[t]
            if self.kind == "RNN":
                h = hs[t + 1]
                if self.nonlinearity == "relu":
                    np.multiply(dh, h > 0, out=dG[t])
                else:
                    np.multiply(dh, 1 - h * h, out=dG[t])
            else:
                _core._lstm_backward(dh.reshape(1, -1), dc.reshape(1, -1), act[t].reshape(1, -1),
                                     cs[t].reshape(1, -1), tanhc[t].reshape(1, -1), dG[t].reshape(1, -1),
                                     dc_prev.reshape(1, -1))
                if done[t] is not None:
                    np.copyto(dc_prev, dc, where=done[t])
                dc, dc_prev = dc_prev, dc
            if done[t] is not None:
                np.copyto(dG[t], 0, where=done[t])
            back_product(t, back_out[t])
            if done[t] is not None:
                np.copyto(dhs[t], dh, where=done[t])
        self.spare.give(d_turned, back_panels)
        dc0 = dc.T if self.kind == "LSTM" else None
        if self.kind == "LSTM":
            self.spare.give(act, tanhc, cs)     # c_n left as a copy (cn, or the cell's state)
        self.saved = None
        if not self.split:
            # sum over t of dG_t Z_t^T
            dgt = _by_feature(dG, self.spare)
            if _long_panel(G * H, T * B, o + H, dt):
                zr = _by_row(Z[:T], self.spare)
                dW, packed = _times_rows(dgt, zr, self.spare)
                self.spare.give(zr, packed)
            else:
                zt = _by_feature(Z[:T], self.spare)
                dW = dgt @ zt.T
                self.spare.give(zt)
            self.spare.give(dG, dgt, Z)
            self.w_ih.accumulate(dW[:, :I])
            self.w_hh.accumulate(dW[:, o:])
            if self.b_ih is not None:
                self.b_ih.accumulate(dW[:, I])
                self.b_hh.accumulate(dW[:, I])
            dx = np.empty((T, B, I), dt)
            _core._copy_tiled(dx, dZ[:T, :I].transpose(0, 2, 1))
            dh0 = dhs[0].T.copy()
            self.spare.give(dZ)
            return dx, dh0, dc0
        dgt = self._weight_gradients(dG, x, hs)
        self.spare.give(dG)
        dx = self._input_gradient(dgt, (T, B, I))
        self.spare.give(dgt)
        dh0 = dhs[0].T.copy()
        self.spare.give(dhs)
        return dx, dh0, dc0

    def _gru_backward(self, d_out, dh_n):
        x, hs, act = self.saved
        T, B, I = x.shape
        H = self.w_hh.data.shape[1]
        done = self.done
        dt = x.dtype
        dh = np.zeros((H, B), dt) if dh_n is None else np.ascontiguousarray(dh_n.T)
        dh_prev = np.empty((H, B), dt)
        dgi = self.spare.empty((T, 3 * H, B), dt)
        dgh = self.spare.empty((T, 3 * H, B), dt)
        back_product, back_panels = _back_product(self.w_hh.data, dgh, self.spare)
        d_turned = _turned(d_out, self.spare)
        for t in range(T - 1, -1, -1):
            dh += d_turned[t]
            _core._gru_backward(dh.reshape(1, -1), act[t].reshape(1, -1), hs[t].reshape(1, -1),
                                dgi[t].reshape(1, -1), dgh[t].reshape(1, -1), dh_prev.reshape(1, -1))
            if done[t] is not None:
                np.copyto(dgi[t], 0, where=done[t])
                np.copyto(dgh[t], 0, where=done[t])
                np.copyto(dh_prev, dh, where=done[t])
            back_product(t, dh, dh_prev)
        self.spare.give(act, d_turned, back_panels)
        dght = _by_feature(dgh, self.spare)
        if _long_panel(3 * H, T * B, H, dt):
            hr = _by_row(hs[:T], self.spare)
            dw, packed = _times_rows(dght, hr, self.spare)
            self.w_hh.accumulate(dw)
            self.spare.give(hr, packed)
        else:
            hst = _by_feature(hs[:T], self.spare)
            self.w_hh.accumulate(dght @ hst.T)
            self.spare.give(hst)
        self.spare.give(dght)
        if self.b_hh is not None:
            self.b_hh.accumulate(dgh.sum(axis=(0, 2)))
        self.spare.give(dgh)
        dgt = self._weight_gradients(dgi, x, hs)
        self.spare.give(dgi)
        self.saved = None
        dx = self._input_gradient(dgt, (T, B, I))
        self.spare.give(dgt)
        return dx, dh.T, None


def _by_feature(a, spare):
    """a (T, F, B) as (F, T B), step t in columns t B to (t + 1) B - 1: a copy
    (into an array from `spare`) that moves whole rows of B, so that the sum
    over steps and batch of the products a_t b_t^T is one product,
    _by_feature(a) @ _by_feature(b).T, whose transposed operand the BLAS
    reads in place (tensordot's transposing copy of b and its product took
    1.7 s where these take 1.3 s: dG and Z of an LSTM at batch 256, hidden
    512, 100 steps, one thread)."""
    T, F, B = a.shape
    out = spare.empty((F, T * B), a.dtype)
    np.copyto(out.reshape(F, T, B), a.transpose(1, 0, 2))
    return out


def _turned(a, spare):
    """a (T, X, Y) as (T, Y, X): a transposing copy into an array from
    `spare`, in tiles (_core._copy_tiled; NumPy's copy of a transposed view
    took two to three times as long)."""
    T, X, Y = a.shape
    out = spare.empty((T, Y, X), a.dtype)
    if a.flags.aligned:
        _core._copy_tiled(out, a.transpose(0, 2, 1))
    else:
        np.copyto(out, a.transpose(0, 2, 1))
    return out


def _by_row(a, spare):
    """a (T, F, B) as (T B, F), row t B + b holding a[t, :, b]: a transposing
    copy (into an array from `spare`) whose rows the panel kernel takes as
    its right operand, where _by_feature's layout suits the BLAS."""
    T, F, B = a.shape
    return _turned(a, spare).reshape(T * B, F)


def _back_product(w, src, spare):
    """The backward pass's per-step product by w^T: (back, panels), where
    back(t, out, c=None) sets out to w^T src[t] (+ c), through the panel
    kernel for the batches PANEL_BATCH names; panels (or None) go back to
    `spare` after the last step."""
    if _panel_products(src.shape[-1], src.dtype, shape=w.T.shape):
        wtp = _packed(w.T, spare)

        def back(t, out, c=None):
            _core._panel_matmul(wtp, src[t], out, c)
    else:
        # w^T in place for a matrix-vector product, where the BLAS reads a
        # transposed matrix as fast as a copy and the copy (4 MB for an
        # LSTM's hidden 512) costs about 5 ms; a copy for the rest, whose
        # products run about 10% faster on it (OpenBLAS, batch 64)
        B = src.shape[-1]
        wt = w.T if B == 1 else np.ascontiguousarray(w.T)

        wtp = None

        def back(t, out, c=None):
            np.matmul(wt, src[t], out=out)
            if c is not None:
                out += c
    return back, wtp


# ------------------------------------------------------------------- cells

class _Cell(Module):
    """The base of the three cells: parameters in PyTorch's layout for
    `kind`, input checks, and the step of a cell with one hidden state."""

    kind = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__()
        name = self.kind + "Cell"
        dt = check_dtype(name, dtype)
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{name}: input_size and hidden_size must be positive, got "
                             f"{input_size} and {hidden_size}")
        rng = np.random.default_rng() if rng is None else rng
        G = _GATES[self.kind]
        self.input_size, self.hidden_size, self.dtype = int(input_size), int(hidden_size), dt
        self.weight_ih = _init(rng, (G * hidden_size, input_size), hidden_size, dt)
        self.weight_hh = _init(rng, (G * hidden_size, hidden_size), hidden_size, dt)
        self.bias_ih = _init(rng, (G * hidden_size,), hidden_size, dt) if bias else None
        self.bias_hh = _init(rng, (G * hidden_size,), hidden_size, dt) if bias else None
        object.__setattr__(self, "_run", None)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}, dtype={self.dtype}"

    def _input(self, x):
        name = self.kind + "Cell"
        x = _layer_input(name, x, self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape}, expected (batch, {self.input_size}) "
                             f"or ({self.input_size},)")
        batched = x.ndim == 2
        x2 = x if batched else x[None]
        return np.ascontiguousarray(x2)[None], batched

    def _begin(self):
        run = _Run(self.kind, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                   getattr(self, "nonlinearity", None))
        object.__setattr__(self, "_run", run)
        return run

    def _need(self):
        if self._run is None or self._run.saved is None:
            name = f"{self.kind}Cell.backward"
            no_grad = self._run is not None and not self._run.kept
            raise ValueError(no_grad_error(name) if no_grad else f"{name}: called before forward")
        return self._run

    def forward(self, x, h=None):
        # one hidden state (GRUCell, RNNCell); LSTMCell's has two
        x3, batched = self._input(x)
        B, H = x3.shape[1], self.hidden_size
        h0 = _state(f"{self.kind}Cell", "h", h, (B, H) if batched else (H,), self.dtype).reshape(B, H)
        _, hn, _ = self._begin().forward(x3, h0, None)
        object.__setattr__(self, "_batched", batched)
        return hn.copy() if batched else hn[0].copy()

    def backward(self, grad_output):
        run = self._need()
        B, H = run.shape[1], self.hidden_size
        shape = (B, H) if self._batched else (H,)
        g = check_grad(f"{self.kind}Cell.backward", grad_output, shape, self.dtype).reshape(1, B, H)
        dx, dh0, _ = run.backward(g, None, None)
        return (dx[0], dh0) if self._batched else (dx[0, 0], dh0[0])


class LSTMCell(_Cell):
    """One LSTM step, PyTorch's ``nn.LSTMCell``:

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)      (input gate)
        f = sigma(W_if x + b_if + W_hf h + b_hf)      (forget gate)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigma(W_io x + b_io + W_ho h + b_ho)      (output gate)
        c' = f c + i g,    h' = o tanh(c')

    ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H) stack the gates in the
    order i, f, g, o; ``bias_ih``, ``bias_hh`` (4H,).  ``cell(x, (h, c))``
    returns ``(h', c')``; the state defaults to zeros.
    ``backward(dh', dc')`` (dc' optional) accumulates the parameters'
    gradients and returns ``(dx, (dh, dc))``.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import LSTMCell
    >>> cell = LSTMCell(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> h, c = cell(np.ones((5, 3)))
    >>> dx, (dh, dc) = cell.backward(np.ones_like(h))
    >>> h.shape, dx.shape, dc.shape
    ((5, 2), (5, 3), (5, 2))
    """

    kind = "LSTM"

    def forward(self, x, state=None):
        x3, batched = self._input(x)
        B, H = x3.shape[1], self.hidden_size
        shape = (B, H) if batched else (H,)
        h0, c0 = (None, None) if state is None else state
        h0 = _state("LSTMCell", "h", h0, shape, self.dtype).reshape(B, H)
        c0 = _state("LSTMCell", "c", c0, shape, self.dtype).reshape(B, H)
        _, h, c = self._begin().forward(x3, h0, c0)
        object.__setattr__(self, "_batched", batched)
        return (h.copy(), c.copy()) if batched else (h[0].copy(), c[0].copy())

    def backward(self, grad_h, grad_c=None):
        run = self._need()
        B, H = run.shape[1], self.hidden_size
        shape = (B, H) if self._batched else (H,)
        dh = np.zeros((B, H), self.dtype) if grad_h is None else check_grad("LSTMCell.backward", grad_h, shape, self.dtype)
        dc = None if grad_c is None else check_grad("LSTMCell.backward", grad_c, shape, self.dtype).reshape(B, H)
        dx, dh0, dc0 = run.backward(dh.reshape(1, B, H), None, dc)
        return (dx[0], (dh0, dc0)) if self._batched else (dx[0, 0], (dh0[0], dc0[0]))


class GRUCell(_Cell):
    """One GRU step, PyTorch's ``nn.GRUCell``:

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)      (reset gate)
        z = sigma(W_iz x + b_iz + W_hz h + b_hz)      (update gate)
        n = tanh(W_in x + b_in + r (W_hn h + b_hn))
        h' = (1 - z) n + z h

    ``weight_ih`` (3H, I) and ``weight_hh`` (3H, H) stack r, z, n.
    ``cell(x, h)`` returns ``h'``; ``backward(dh')`` returns ``(dx, dh)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import GRUCell
    >>> cell = GRUCell(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> h = cell(np.ones((5, 3)))
    >>> dx, dh = cell.backward(np.ones_like(h))
    >>> h.shape, dx.shape, dh.shape
    ((5, 2), (5, 3), (5, 2))
    """

    kind = "GRU"


# ------------------------------------------------------------------ stacks

class _RNN(Module):
    """The base of the three stacks (as PyTorch's RNNBase): the layers'
    parameters, the passes over the sequence, and the call of a stack with
    one hidden state."""

    kind = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None):
        super().__init__()
        name = self.kind
        dt = check_dtype(name, dtype)
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, got "
                             f"{input_size}, {hidden_size} and {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.dtype = bool(bidirectional), dt
        object.__setattr__(self, "_rng", np.random.default_rng() if rng is None else rng)
        G, D = _GATES[self.kind], 2 if bidirectional else 1
        for layer in range(num_layers):
            isz = input_size if layer == 0 else hidden_size * D
            for sfx in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{layer}{sfx}", _init(self._rng, (G * hidden_size, isz), hidden_size, dt))
                setattr(self, f"weight_hh_l{layer}{sfx}",
                        _init(self._rng, (G * hidden_size, hidden_size), hidden_size, dt))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{sfx}", _init(self._rng, (G * hidden_size,), hidden_size, dt))
                    setattr(self, f"bias_hh_l{layer}{sfx}", _init(self._rng, (G * hidden_size,), hidden_size, dt))
        object.__setattr__(self, "_saved", None)
        object.__setattr__(self, "_spare", _Spare())    # work arrays kept between passes

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for k, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s + f", dtype={self.dtype}"

    def forward(self, x, h0=None, lengths=None):
        """``out, h_n = layer(x, h_0, lengths=None)``: as :meth:`LSTM.forward`,
        without the cell state (GRU, RNN; LSTM's has two states)."""
        out, hn, _ = self._forward(x, h0, None, lengths)
        return out, hn

    def backward(self, grad_output, grad_h_n=None):
        """``dx, dh_0 = layer.backward(d_out, dh_n)``: as :meth:`LSTM.backward`."""
        dx, dh0, _ = self._backward(grad_output, grad_h_n, None)
        return dx, dh0

    def _runs(self, layer):
        D = 2 if self.bidirectional else 1
        out = []
        for sfx in ("", "_reverse")[:D]:
            p = self._params
            out.append(_Run(self.kind, p[f"weight_ih_l{layer}{sfx}"], p[f"weight_hh_l{layer}{sfx}"],
                            p.get(f"bias_ih_l{layer}{sfx}"), p.get(f"bias_hh_l{layer}{sfx}"),
                            getattr(self, "nonlinearity", None), self._spare))
        return out

    def _forward(self, x, h0, c0, lengths=None):
        name = self.kind
        packed = None
        if _is_packed_sequence(x):
            if lengths is not None:
                raise ValueError(f"{name}: lengths= was given with a PackedSequence, which holds its own lengths; "
                                 f"pass one or the other")
            packed = x
            x, lengths = _unpack(name, x, self.batch_first)
        x = _layer_input(name, x, self.dtype)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            order = "(batch, seq, input)" if self.batch_first else "(seq, batch, input)"
            raise ValueError(f"{name}: input of shape {x.shape}, expected {order} or (seq, input) "
                             f"with input = {self.input_size}")
        batched = x.ndim == 3
        if not batched:
            if lengths is not None:
                raise ValueError(f"{name}: lengths= needs a batch of sequences (a 3-D input); one unbatched "
                                 f"sequence of shape {x.shape} is all valid: cut it to its length instead")
            x = x[:, None]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, B, _ = x.shape
        valid = rev = None
        if lengths is not None:
            lengths = _check_lengths(name, lengths, T, B)
            valid = np.arange(T)[:, None] < lengths                 # (T, B)
            # padding is never read: zeros (not 0 * x, which is nan for a nan)
            x = np.where(valid[:, :, None], x, x.dtype.type(0))
            # the reverse direction reads each sequence backwards from its own
            # last step: t -> length - 1 - t, the padding left in place
            t = np.arange(T)[:, None]
            rev = (np.where(valid, lengths - 1 - t, t), np.arange(B))
        x = np.ascontiguousarray(x)
        D, H, L = 2 if self.bidirectional else 1, self.hidden_size, self.num_layers
        sshape = (L * D, B, H) if batched else (L * D, H)
        h0 = _state(name, "h_0", h0, sshape, self.dtype).reshape(L * D, B, H)
        if self.kind == "LSTM":
            c0 = _state(name, "c_0", c0, sshape, self.dtype).reshape(L * D, B, H)
        hn = np.empty((L * D, B, H), self.dtype)
        cn = np.empty((L * D, B, H), self.dtype) if self.kind == "LSTM" else None
        layers = []
        inp = x
        for layer in range(L):
            mask = None
            if layer > 0 and self.training and self.dropout > 0:
                keep = 1.0 - self.dropout
                mask = (self._rng.random(inp.shape) < keep).astype(self.dtype) / self.dtype.type(keep)
                inp = inp * mask
            runs = self._runs(layer)
            outs = []
            for d, run in enumerate(runs):
                k = layer * D + d
                xi = inp if d == 0 else _reversed(inp, rev)
                out, hn[k], ck = run.forward(xi, h0[k], c0[k] if cn is not None else None,
                                             None if valid is None else ~valid)
                if cn is not None:
                    cn[k] = ck
                outs.append(out if d == 0 else _reversed(out, rev))
            layers.append((runs, mask))
            inp = outs[0] if D == 1 else np.concatenate(outs, axis=2)
            if valid is not None:
                # outputs past each sequence's end are 0, as PyTorch pads them
                inp = np.where(valid[:, :, None], inp, inp.dtype.type(0))
        keep = is_grad_enabled()
        object.__setattr__(self, "_saved", (layers, batched, valid, rev, packed) if keep else None)
        object.__setattr__(self, "_no_grad", not keep)
        out = inp
        if not batched:
            out, hn = out[:, 0], hn[:, 0]
            cn = cn[:, 0] if cn is not None else None
        elif packed is not None:
            return _pack_like(packed, out), hn, cn
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        return np.ascontiguousarray(out), hn, cn

    def _backward(self, grad_output, dhn, dcn):
        name = f"{self.kind}.backward"
        if self._saved is None:
            raise ValueError(no_grad_error(name) if getattr(self, "_no_grad", False)
                             else f"{name}: called before forward")
        layers, batched, valid, rev, packed = self._saved
        D, H, L = 2 if self.bidirectional else 1, self.hidden_size, self.num_layers
        T, B = layers[0][0][0].shape[:2]
        if packed is not None and _is_packed_sequence(grad_output):
            g = _unpack_data(grad_output, T, B)                    # (T, B, D H)
        else:
            oshape = ((B, T) if self.batch_first else (T, B)) + (D * H,) if batched else (T, D * H)
            g = check_grad(name, grad_output, oshape, self.dtype)
            g = g[:, None] if not batched else (g.transpose(1, 0, 2) if self.batch_first else g)
        if g.shape != (T, B, D * H):
            raise ValueError(f"{name}: grad_output holds {g.shape[-1]} features per step, the output had {D * H}")
        g = g.astype(self.dtype, copy=False)
        if valid is not None:
            # the outputs past each sequence's end are constants (0)
            g = np.where(valid[:, :, None], g, g.dtype.type(0))
        sshape = (L * D, B, H) if batched else (L * D, H)
        dhn = None if dhn is None else check_grad(name, dhn, sshape, self.dtype).reshape(L * D, B, H)
        dcn = None if dcn is None else check_grad(name, dcn, sshape, self.dtype).reshape(L * D, B, H)
        dh0 = np.zeros((L * D, B, H), self.dtype)
        dc0 = np.zeros((L * D, B, H), self.dtype) if self.kind == "LSTM" else None
        for layer in range(L - 1, -1, -1):
            runs, mask = layers[layer]
            dinp = None
            for d, run in enumerate(runs):
                k = layer * D + d
                gd = g[:, :, d * H:(d + 1) * H]
                if d == 1:
                    gd = _reversed(gd, rev)
                dx, dh0[k], dck = run.backward(gd, None if dhn is None else dhn[k],
                                               None if dcn is None else dcn[k])
                if dc0 is not None:
                    dc0[k] = dck
                if d == 1:
                    dx = _reversed(dx, rev)
                dinp = dx if dinp is None else dinp + dx
            if mask is not None:
                dinp = dinp * mask
            g = dinp
        object.__setattr__(self, "_saved", None)
        dx = g
        if not batched:
            dx, dh0 = dx[:, 0], dh0[:, 0]
            dc0 = dc0[:, 0] if dc0 is not None else None
        elif packed is not None:
            return _pack_like(packed, dx), dh0, dc0
        elif self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return np.ascontiguousarray(dx), dh0, dc0


# ------------------------------------------- variable lengths, PackedSequence

def _reversed(a, rev):
    """a (T, B, ...) with each sequence's steps reversed: all T of them, or
    (with rev from the lengths) its first length ones, the padding left in
    place.  An involution: applying it twice gives a back."""
    return np.ascontiguousarray(a[::-1]) if rev is None else a[rev]


def _check_lengths(owner, lengths, T, B):
    """lengths as (B,) int64 in [0, T], or an error naming the problem."""
    if hasattr(lengths, "detach") and hasattr(lengths, "cpu"):     # a torch tensor, as PyTorch takes them
        lengths = lengths.detach().cpu().numpy()
    a = np.asarray(lengths)
    if a.dtype.kind not in "iu" or a.dtype == np.bool_:
        raise TypeError(f"{owner}: lengths must be integers (one per sequence of the batch), got dtype {a.dtype}")
    if a.shape != (B,):
        raise ValueError(f"{owner}: lengths has shape {a.shape}, expected ({B},): one length per sequence of "
                         f"the batch")
    if B and (a.min() < 0 or a.max() > T):
        raise ValueError(f"{owner}: lengths must lie in [0, {T}] (the number of steps of the input), got values "
                         f"from {a.min()} to {a.max()}")
    return a.astype(np.int64)


def _is_packed_sequence(x) -> bool:
    """A torch.nn.utils.rnn.PackedSequence (found without importing torch)."""
    t = type(x)
    return t.__name__ == "PackedSequence" and t.__module__.startswith("torch")


def _packed_layout(ps):
    """(batch_sizes, sorted_indices) of a PackedSequence as NumPy arrays."""
    sizes = ps.batch_sizes.detach().cpu().numpy().astype(np.int64)
    B = int(sizes[0]) if sizes.size else 0
    order = np.arange(B) if ps.sorted_indices is None else ps.sorted_indices.detach().cpu().numpy()
    return sizes, order


def _unpack_data(ps, T, B):
    """The data of PackedSequence `ps` laid out (T, B, ...), zeros after each
    sequence's end: step t holds the batch_sizes[t] longest sequences."""
    sizes, order = _packed_layout(ps)
    data = ps.data.detach().cpu().numpy()
    out = np.zeros((T, B) + data.shape[1:], data.dtype)
    start = 0
    for t, n in enumerate(sizes):
        out[t, order[:n]] = data[start:start + n]
        start += n
    return out


def _unpack(owner, ps, batch_first):
    """A PackedSequence as the padded array of the layer's layout, and the
    lengths in the original batch order."""
    sizes, order = _packed_layout(ps)
    T, B = sizes.size, (int(sizes[0]) if sizes.size else 0)
    lengths = np.empty(B, np.int64)
    lengths[order] = (sizes[:, None] > np.arange(B)).sum(axis=0)
    x = _unpack_data(ps, T, B)
    return (x.transpose(1, 0, 2) if batch_first else x), lengths


def _pack_like(ps, a):
    """a (T, B, F), padded, as a PackedSequence of the layout of `ps`
    (PyTorch's recurrent layers answer a packed input with packed outputs)."""
    import torch   # ps is a PackedSequence: torch is there

    sizes, order = _packed_layout(ps)
    data = np.concatenate([a[t, order[:n]] for t, n in enumerate(sizes)]) if sizes.size else a[:0, 0]
    return torch.nn.utils.rnn.PackedSequence(torch.from_numpy(np.ascontiguousarray(data)), ps.batch_sizes,
                                             ps.sorted_indices, ps.unsorted_indices)


# The options every stack shares; _with_stack_doc puts them in place of the
# {stack} line of LSTM's, GRU's and RNN's docstrings.  (A class docstring must
# be a plain string literal: a ``"""...""".format(...)`` expression in its
# place is an ordinary expression, and the class has no __doc__ at all.)
_STACK_DOC = """Options as PyTorch's ``nn.{kind}``: ``num_layers`` stacked layers
    (layer k > 0 reads the outputs of layer k - 1, with ``dropout`` applied to
    them in training mode), ``bidirectional`` (a second pass over the reversed
    sequence, outputs concatenated), ``batch_first`` (inputs and outputs
    (batch, seq, feature)), ``bias``.  Inputs are (seq, batch, input_size),
    or (seq, input_size) for one unbatched sequence.  Parameters
    ``weight_ih_l{{k}}``, ``weight_hh_l{{k}}``, ``bias_ih_l{{k}}``,
    ``bias_hh_l{{k}}`` and the same with ``_reverse``, in PyTorch's shapes and
    gate order, so ``load_state_dict`` takes a PyTorch state dict unchanged."""


def _with_stack_doc(cls):
    """Put the shared options (_STACK_DOC, for ``cls.kind``) in place of the
    ``{stack}`` line of the class's docstring (absent under ``python -OO``)."""
    marker = "{stack}"
    if cls.__doc__ is None:
        return cls
    if cls.__doc__.count(marker) != 1:
        raise AssertionError(f"{cls.__name__}: the docstring needs exactly one {marker} line")
    cls.__doc__ = cls.__doc__.replace(marker, _STACK_DOC.format(kind=cls.kind))
    return cls


@_with_stack_doc
class LSTM(_RNN):
    """A stack of LSTM layers over whole sequences, PyTorch's ``nn.LSTM``.

    Each step is :class:`LSTMCell`'s:
    c_t = f_t c_(t-1) + i_t g_t,  h_t = o_t tanh(c_t),  i, f, o = sigma(...),
    g = tanh(...).  ``out, (h_n, c_n) = lstm(x, (h_0, c_0))`` with states of
    shape (num_layers * num_directions, batch, hidden_size), zeros when not
    given.  ``dx, (dh_0, dc_0) = lstm.backward(d_out, (dh_n, dc_n))`` (the
    second argument optional) backpropagates through time, accumulating
    every parameter's gradient.

    {stack}

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import LSTM
    >>> lstm = LSTM(4, 3, num_layers=2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> out, (h, c) = lstm(np.ones((7, 2, 4)))
    >>> out.shape, h.shape
    ((7, 2, 3), (2, 2, 3))
    >>> dx, (dh0, dc0) = lstm.backward(np.ones_like(out))
    >>> dx.shape, lstm.weight_hh_l1.grad.shape
    ((7, 2, 4), (12, 3))
    """

    kind = "LSTM"

    def forward(self, x, state=None, lengths=None):
        """``out, (h_n, c_n) = lstm(x, (h_0, c_0), lengths=None)``.

        Parameters
        ----------
        x : ndarray or torch.nn.utils.rnn.PackedSequence
            (seq, batch, input_size), (batch, seq, input_size) with
            ``batch_first``, or (seq, input_size) unbatched; of the layer's
            dtype exactly (a float64 array into a float32 layer is a
            TypeError saying how to fix it, as PyTorch refuses it too).  A
            PackedSequence (when torch is installed) gives its lengths and
            makes ``out`` a PackedSequence of the same layout.
        state : (h_0, c_0), optional
            Each (num_layers * num_directions, batch, hidden_size); zeros.
        lengths : array of int, optional
            (batch,) valid steps of each padded sequence, in [0, seq]: the
            results of PyTorch on the packed batch.  Each sequence's steps
            past its length are never read; its outputs there are 0, and
            h_n, c_n are the states after its last step (the reverse
            direction reads the sequence backwards from that step).

        Returns
        -------
        out : ndarray or PackedSequence
            (seq, batch, num_directions * hidden_size), or the input's layout.
        (h_n, c_n) : ndarray
            The final states, shaped as the initial ones.

        Examples
        --------
        >>> import numpy as np
        >>> from sigmoid.nn import LSTM
        >>> lstm = LSTM(2, 3, dtype=np.float64, rng=np.random.default_rng(0))
        >>> x = np.ones((4, 2, 2))                       # two sequences, padded to 4 steps
        >>> out, (h, c) = lstm(x, lengths=[4, 2])
        >>> bool(np.all(out[2:, 1] == 0)), bool(np.allclose(h[0, 1], out[1, 1]))
        (True, True)
        """
        h0, c0 = (None, None) if state is None else state
        out, hn, cn = self._forward(x, h0, c0, lengths)
        return out, (hn, cn)

    def backward(self, grad_output, grad_state=None):
        """``dx, (dh_0, dc_0) = lstm.backward(d_out, (dh_n, dc_n))``, the
        second argument optional.  With lengths, the gradient of the outputs
        past each sequence's end is ignored (they are constants) and ``dx``
        is 0 there; after a PackedSequence input, ``d_out`` may be a
        PackedSequence of the output's layout and ``dx`` is one."""
        dhn, dcn = (None, None) if grad_state is None else grad_state
        dx, dh0, dc0 = self._backward(grad_output, dhn, dcn)
        return dx, (dh0, dc0)


@_with_stack_doc
class GRU(_RNN):
    """A stack of GRU layers over whole sequences, PyTorch's ``nn.GRU``.

    Each step is :class:`GRUCell`'s: r, z = sigma(...),
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
    ``out, h_n = gru(x, h_0)``; ``dx, dh_0 = gru.backward(d_out, dh_n)``.

    {stack}

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import GRU
    >>> gru = GRU(4, 3, bidirectional=True, batch_first=True, dtype=np.float64,
    ...           rng=np.random.default_rng(0))
    >>> out, h = gru(np.ones((2, 7, 4)))
    >>> out.shape, h.shape
    ((2, 7, 6), (2, 2, 3))
    >>> dx, dh0 = gru.backward(np.ones_like(out))
    >>> dx.shape
    (2, 7, 4)
    """

    kind = "GRU"


def _nonlinearity(owner, value):
    if value not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {value!r}")
    return value


class RNNCell(_Cell):
    """One step of the plain (Elman) recurrent cell, PyTorch's ``nn.RNNCell``:

        h' = tanh(W_ih x + b_ih + W_hh h + b_hh)      (or relu)

    ``weight_ih`` (H, I), ``weight_hh`` (H, H); ``cell(x, h)`` returns
    ``h'``; ``backward(dh')`` returns ``(dx, dh)``.  Without gates, the
    gradient that reaches early steps is a product of tanh' W_hh factors:
    the vanishing gradient that the LSTM and GRU were built to avoid.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import RNNCell
    >>> cell = RNNCell(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> h = cell(np.ones((5, 3)))
    >>> [a.shape for a in cell.backward(np.ones_like(h))]
    [(5, 3), (5, 2)]
    """

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        self.nonlinearity = _nonlinearity("RNNCell", nonlinearity)


@_with_stack_doc
class RNN(_RNN):
    """A stack of plain recurrent layers, PyTorch's ``nn.RNN``:
    h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu).
    ``out, h_n = rnn(x, h_0)``; ``dx, dh_0 = rnn.backward(d_out, dh_n)``.

    {stack}

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import RNN
    >>> rnn = RNN(4, 3, num_layers=2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> out, h = rnn(np.ones((7, 2, 4)))
    >>> out.shape, h.shape
    ((7, 2, 3), (2, 2, 3))
    """

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, dtype=dtype, rng=rng)
        self.nonlinearity = _nonlinearity("RNN", nonlinearity)
