"""sigmoid.nn: PyTorch parity of every layer (outputs, states, all
gradients), gradcheck in float64, state dicts, and what bad input gets."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

import sigmoid
import sigmoid.nn as nn
from sigmoid.nn import gradcheck

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")


def close(got, want, dt):
    want = want.detach().numpy() if hasattr(want, "detach") else want
    scale = max(1.0, float(np.max(np.abs(want)))) if np.size(want) else 1.0
    np.testing.assert_allclose(got, want, rtol=TOL[dt]["rtol"], atol=TOL[dt]["atol"] * scale)


def tdtype(torch, dt):
    return torch.float64 if dt == np.float64 else torch.float32


def grads_match(ours, theirs, dt):
    """Every parameter gradient, matched by name: the two layers have the
    same parameter names, and each of ours has PyTorch's gradient."""
    tg = {k: p.grad for k, p in theirs.named_parameters()}
    names = [k for k, _ in ours.named_parameters()]
    assert sorted(names) == sorted(tg), f"ours {sorted(names)}, PyTorch's {sorted(tg)}"
    for k, p in ours.named_parameters():
        assert p.grad is not None, k
        close(p.grad, tg[k], dt)


def backward_both(torch, m, kind, r, ours, theirs, c0t, dt):
    """The same random gradients of the outputs and final states (both
    states for an LSTM) through our stack's backward and PyTorch's; checks
    an LSTM's dc_0 against c0t.grad and returns our dx and dh_0."""
    (out, hn), (ot, hnt, cnt) = ours, theirs
    g, gh, gc = (r.standard_normal(a.shape).astype(dt) for a in (out, hn, hn))
    if kind == "LSTM":
        dx, (dh0, dc0) = m.backward(g, (gh, gc))
        torch.autograd.backward([ot, hnt, cnt], [torch.from_numpy(a) for a in (g, gh, gc)])
        close(dc0, c0t.grad, dt)
        return dx, dh0
    dx, dh0 = m.backward(g, gh)
    torch.autograd.backward([ot, hnt], [torch.from_numpy(a) for a in (g, gh)])
    return dx, dh0


# ------------------------------------------------------------- recurrent

@pytest.fixture(params=["split", "split, step-major", "combined", "split, panels", "combined, panels"])
def layout(request, monkeypatch):
    """The layouts of the recurrent products (rnn._split_layout): the
    input's product for the whole sequence apart, read in place or turned
    step-major first (rnn.STEP_MAJOR_BELOW), or [W_ih, b, W_hh] [x_t; 1; h]
    per step (the LSTM's and RNN's; the GRU is always split); the per-step
    products through the BLAS or through the panel kernel
    (rnn._panel_products), whatever the instruction set; with the panels,
    the products over all steps (the split layout's input product, the
    weights' and the input's gradients) through the kernel too, in panels
    from the layer's spare arrays."""
    from sigmoid.nn import rnn

    split = not request.param.startswith("combined")
    panels = "panels" in request.param
    monkeypatch.setattr(rnn, "_split_layout", lambda kind, I, H, *measure: split or kind == "GRU")
    monkeypatch.setattr(rnn, "STEP_MAJOR_BELOW", 10**9 if "step-major" in request.param else 0)
    monkeypatch.setattr(rnn, "_panel_products", lambda B, dtype, forward=False, shape=None: panels)
    monkeypatch.setattr(rnn, "_long_panel", lambda M, K, N, dtype: panels)
    monkeypatch.setattr(rnn, "_input_panel", lambda M, I, N, dtype: panels)
    return request.param


def test_the_layout_follows_the_widths():
    from sigmoid.nn import rnn

    assert rnn._split_layout("LSTM", 512, 512) and rnn._split_layout("RNN", 64, 32)
    assert rnn._split_layout("LSTM", rnn.SPLIT_INPUT, 2 * rnn.SPLIT_INPUT)   # a wide input: split
    assert not rnn._split_layout("LSTM", 256, 512)                            # a narrower one: combined
    assert not rnn._split_layout("RNN", 32, 512)
    assert rnn._split_layout("GRU", 32, 512)                                  # the GRU: always split


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 2])
def test_the_panel_kernel_takes_the_measured_batches_at_one_thread(isa, n, dt, threads):
    import sigmoid
    from sigmoid.nn import rnn

    sigmoid.set_num_threads(n)
    assert set(rnn.PANEL_BATCH) == {"avx2", "avx512"}
    limits = rnn.PANEL_BATCH.get(isa, {}).get(dt)
    if limits is None:
        assert not any(rnn._panel_products(b, dt) for b in range(1, 300))
        return
    lo, hi = limits
    assert 1 < lo <= hi
    on = n == 1
    assert [rnn._panel_products(b, np.dtype(dt)) for b in (lo - 1, lo, hi, hi + 1)] == [False, on, on, False]
    # the forward pass's products up to PANEL_FORWARD_UP_TO, where it is larger
    fhi = max(hi, rnn.PANEL_FORWARD_UP_TO.get(isa, 0))
    assert [rnn._panel_products(b, dt, forward=True) for b in (lo - 1, lo, hi, fhi, fhi + 1)] == \
        [False, on, on, on, False]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_each_pass_takes_the_panel_kernel_by_its_own_rule(isa, kind, monkeypatch, threads):
    """The forward pass asks for the forward pass's limits and the backward
    pass for its own: counted calls of the panel kernel at a batch between
    PANEL_BATCH's limit and PANEL_FORWARD_UP_TO's (or inside both)."""
    import sigmoid
    from sigmoid.nn import rnn

    sigmoid.set_num_threads(1)
    calls = []
    real = rnn._core._panel_matmul
    monkeypatch.setattr(rnn._core, "_panel_matmul", lambda *a: calls.append(1) or real(*a))
    limits = rnn.PANEL_BATCH.get(isa, {}).get("float32")
    B = (limits[1] + 1 if isa in rnn.PANEL_FORWARD_UP_TO else limits[1]) if limits else 40
    m = getattr(nn, kind)(8, 6, dtype=np.float32, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((5, B, 8)).astype(np.float32)
    y, _ = m(x)
    forward = len(calls)
    m.backward(np.ones_like(y))
    backward = len(calls) - forward
    want_fwd, want_bwd = rnn._panel_products(B, np.float32, forward=True), rnn._panel_products(B, np.float32)
    assert (forward, backward) == (5 * want_fwd, 5 * want_bwd)
    if isa in rnn.PANEL_FORWARD_UP_TO:
        assert (want_fwd, want_bwd) == (True, False)


def fake_times(monkeypatch, panel, blas, whole=0.0):
    """rnn's measurements replaced: every per-step product takes `panel` or
    `blas` seconds per multiply-add, the input's whole-sequence product
    `whole`; returns the list of the shapes asked for."""
    from sigmoid.nn import rnn

    asked = []
    monkeypatch.setattr(rnn, "_product_times",
                        lambda M, K, B, dtype: asked.append((M, K, B)) or (panel * M * K * B, blas * M * K * B))
    monkeypatch.setattr(rnn, "_input_product_time", lambda M, I, N, dtype: whole * M * I * N)
    return asked


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_a_decisive_measurement_overrides_the_panel_tables(isa, dt, monkeypatch, threads):
    """Given the weight's shape, _panel_products follows the measured
    times where one way is DECISIVE times as fast, the tables elsewhere,
    and the tables alone below MEASURE_FROM and on the instruction sets
    without the panel kernel; at two threads, where the tables give the
    BLAS, a decisive measurement still takes the kernel."""
    import sigmoid
    from sigmoid.nn import rnn

    sigmoid.set_num_threads(1)
    M, K = 2048, 512
    limits = rnn.PANEL_BATCH.get(isa, {}).get(dt)
    for B in (1, 8, 64, 300):
        table = rnn._panel_products(B, dt)
        asked = fake_times(monkeypatch, 1.0, 1.0)
        assert rnn._panel_products(B, dt, shape=(M, K)) == table
        assert asked == ([(M, K, B)] if limits else [])
        fake_times(monkeypatch, 1.0, rnn.DECISIVE)
        assert rnn._panel_products(B, dt, shape=(M, K)) == (limits is not None)
        fake_times(monkeypatch, rnn.DECISIVE, 1.0)
        assert rnn._panel_products(B, dt, shape=(M, K)) is False
        fake_times(monkeypatch, 1.0, 0.99 * rnn.DECISIVE)      # not decisive: the table
        assert rnn._panel_products(B, dt, shape=(M, K)) == table
    # a product below MEASURE_FROM multiply-adds is not measured
    asked = fake_times(monkeypatch, 1.0, rnn.DECISIVE)
    small = (8, rnn.MEASURE_FROM // 8 // 64 - 1)
    assert rnn._panel_products(64, dt, shape=small) == rnn._panel_products(64, dt) and asked == []
    sigmoid.set_num_threads(2)
    for B in (8, 64):
        assert not rnn._panel_products(B, dt)
        asked = fake_times(monkeypatch, 1.0, 0.99 * rnn.DECISIVE)     # not decisive: the BLAS
        assert not rnn._panel_products(B, dt, shape=(M, K))
        assert asked == ([(M, K, B)] if limits else [])
        fake_times(monkeypatch, 1.0, rnn.DECISIVE)
        assert rnn._panel_products(B, dt, shape=(M, K)) == (limits is not None)


def test_a_decisive_measurement_overrides_the_layout_rule(isa, monkeypatch, threads):
    """_split_layout with the batch, steps and dtype compares the split
    layout's whole-sequence product plus T products of K = H against T
    products of K = I + 1 + H, and overrides the width rule only where one
    is DECISIVE times as fast; the GRU always splits, and small layers keep
    the rule."""
    import sigmoid
    from sigmoid.nn import rnn

    sigmoid.set_num_threads(1)
    measured = isa in rnn.PANEL_BATCH
    B, T = 64, 10
    for kind in ("LSTM", "RNN"):
        for I, H in ((512, 512), (256, 512)):
            rule = rnn._split_layout(kind, I, H)
            assert rule == (I >= H)
            # per-step products take 1 s per multiply-add: split costs
            # T G H B (w I + H) with the whole product at w s per
            # multiply-add, combined T G H B (I + 1 + H)
            for w, want in ((0.0, True), (2.0, False), (1.0, rule)):
                fake_times(monkeypatch, 1.0, 1.0, w)
                assert rnn._split_layout(kind, I, H, B, T, np.float32) == (want if measured else rule), (I, H, w)
            assert rnn._split_layout("GRU", I, H, B, T, np.float32)
    # below MEASURE_FROM: the rule, nothing asked
    asked = fake_times(monkeypatch, 1.0, 1.0, 2.0)
    assert rnn._split_layout("RNN", 512, 512, 1, T, np.float32) and asked == []


def test_the_input_product_counts_the_transposing_copy(isa, monkeypatch, threads):
    """The split layout's whole-sequence product takes the panel kernel
    only if the kernel stays DECISIVE times as fast with the input's
    transposing copy added to its time (and never without a measurement),
    at one thread and at two, each timed at its own thread count."""
    import sigmoid
    from sigmoid.nn import rnn

    sigmoid.set_num_threads(1)
    M, I, N = 2048, 512, 6400
    monkeypatch.setattr(rnn, "_TIMES", {})
    fake_times(monkeypatch, 1.0, 2.0)       # the kernel twice as fast, the copy (real) next to nothing
    measured = isa in rnn.PANEL_BATCH
    assert rnn._input_panel(M, I, N, np.float32) == measured
    if measured:
        (key,) = [k for k in rnn._TIMES if "transpose" in k]
        n = key[-1]
        rnn._TIMES[key] = 0.5 * M * I * n    # a copy of half the kernel's time: 1.5 against 2
        assert rnn._input_panel(M, I, N, np.float32)
        rnn._TIMES[key] = 0.7 * M * I * n    # 1.7 against 2: not DECISIVE
        assert not rnn._input_panel(M, I, N, np.float32)
    sigmoid.set_num_threads(2)
    assert rnn._input_panel(M, I, N, np.float32) == measured    # a copy timed at two threads
    if measured:
        (key2,) = [k for k in rnn._TIMES if "transpose" in k and k != key]
        assert key2[2] == 2 and key[2] == 1
        rnn._TIMES[key2] = 0.7 * M * I * n
        assert not rnn._input_panel(M, I, N, np.float32)


def test_product_times_are_measured_once_per_shape(isa, monkeypatch, threads):
    """The real measurement: positive times, each shape timed once per
    process and instruction set (the second ask runs nothing)."""
    from sigmoid.nn import rnn

    calls = []
    real = rnn._core._panel_matmul
    monkeypatch.setattr(rnn._core, "_panel_matmul", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(rnn, "_TIMES", {})
    first = rnn._product_times(96, 40, 24, np.float32)
    n = len(calls)
    assert n >= 4 and all(0 < t < 1 for t in first)
    assert rnn._product_times(96, 40, 24, np.float32) == first and len(calls) == n
    whole = rnn._input_product_time(96, 40, 5000, np.float32)
    assert 0 < whole < 1 and rnn._input_product_time(96, 40, 5000, np.float32) == whole


@pytest.mark.parametrize("threads_", [1, 2, 3])
def test_the_panel_kernel_is_timed_on_one_thread_and_credited_up_to_two(isa, threads_, monkeypatch, threads):
    """_product_times runs the panel kernel on one thread whatever the
    library's count (put back after), the BLAS on the caller's, and credits
    the kernel PANEL_THREAD_GAIN times min(threads, 2) its one-thread speed
    on several, where it takes PANEL_THREAD_FROM seconds or more; each
    thread count keeps its own entry."""
    import sigmoid
    from sigmoid.nn import rnn

    seen = []
    took = [1.0]

    def fake_best_time(f, n):
        seen.append(rnn._core.get_num_threads())
        return took[0]

    monkeypatch.setattr(rnn, "_best_time", fake_best_time)
    monkeypatch.setattr(rnn, "_TIMES", {})
    sigmoid.set_num_threads(threads_)
    M, K, B = 96, 40, 24             # within the MEASURE_ limits: no scaling
    panel, blas = rnn._product_times(M, K, B, np.float32)
    assert seen == [1, threads_] and rnn._core.get_num_threads() == threads_
    gain = 1.0 if threads_ == 1 else rnn.PANEL_THREAD_GAIN * min(threads_, 2)
    assert panel == pytest.approx(1.0 / gain) and blas == 1.0
    sigmoid.set_num_threads(1)
    assert rnn._product_times(M, K, B, np.float32) == (1.0, 1.0)
    assert len(rnn._TIMES) == (1 if threads_ == 1 else 2)
    # a product shorter than PANEL_THREAD_FROM: not credited
    sigmoid.set_num_threads(threads_)
    took[0] = 0.99 * rnn.PANEL_THREAD_FROM
    assert rnn._product_times(M, K, B + 1, np.float32) == (took[0], took[0])


@pytest.mark.parametrize("combined_faster", [True, False])
def test_a_layer_takes_the_measured_layout(isa, combined_faster, monkeypatch, threads):
    """An LSTM large enough to be measured packs the weight of the layout
    the (faked) measurement favours, at one thread and at two, and its
    output is the BLAS route's to rounding (a measurement that favours the
    BLAS: nothing packed); on the instruction sets without the panel kernel
    nothing is packed."""
    import sigmoid
    from sigmoid.nn import rnn

    sigmoid.set_num_threads(1)
    fake_times(monkeypatch, 1.0, 2.0, 10.0 if combined_faster else 0.0)
    packed = []
    real = rnn._core._panel_pack
    monkeypatch.setattr(rnn._core, "_panel_pack", lambda a, *out: packed.append(a.shape) or real(a, *out))
    I = H = 64
    B, T = 64, 3
    m = nn.LSTM(I, H, dtype=np.float32, rng=rng(3))
    x = rng(4).standard_normal((T, B, I)).astype(np.float32)
    with nn.no_grad():
        y, _ = m(x)
    if isa in rnn.PANEL_BATCH:
        # split: the input's whole-sequence product (_input_panel, the kernel
        # twice as fast here too) and the per-step weight
        assert packed == ([(4 * H, I + 1 + H)] if combined_faster else [(4 * H, I), (4 * H, H)])
    else:
        assert packed == []
    first = list(packed)
    sigmoid.set_num_threads(2)
    del packed[:]
    with nn.no_grad():
        y2, _ = m(x)
    assert packed == first
    close(y2, y, np.float32)
    # the BLAS twice as fast: the same layout's decision, nothing packed
    fake_times(monkeypatch, 2.0, 1.0, 10.0 if combined_faster else 0.0)
    del packed[:]
    with nn.no_grad():
        want, _ = m(x)
    assert packed == []
    close(y, want, np.float32)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layers, bidirectional, batch_first, bias",
                         [(1, False, False, True), (2, True, False, True), (2, False, True, False),
                          (3, True, True, True)])
def test_stack_matches_torch(torch, layout, dt, kind, layers, bidirectional, batch_first, bias):
    """Outputs, final states and all gradients (input, initial states, every
    parameter) through 21 steps, with gradients flowing into the final
    states too, in either layout of the products."""
    torch.manual_seed(0)
    T, B, I, H = 21, 3, 5, 4
    tm = getattr(torch.nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                                 bias=bias, dtype=tdtype(torch, dt))
    m = getattr(nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                          bias=bias, dtype=dt)
    m.load_state_dict(tm.state_dict())
    D = 2 if bidirectional else 1
    r = rng(1)
    x = r.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dt)
    h0 = r.standard_normal((layers * D, B, H)).astype(dt)
    c0 = r.standard_normal((layers * D, B, H)).astype(dt)
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    if kind == "LSTM":
        out, (hn, cn) = m(x, (h0, c0))
        ot, (hnt, cnt) = tm(xt, (h0t, c0t))
        close(cn, cnt, dt)
    else:
        out, hn = m(x, h0)
        ot, hnt = tm(xt, h0t)
    close(out, ot, dt)
    close(hn, hnt, dt)
    dx, dh0 = backward_both(torch, m, kind, r, (out, hn), (ot, hnt, cnt if kind == "LSTM" else None), c0t, dt)
    close(dx, xt.grad, dt)
    close(dh0, h0t.grad, dt)
    grads_match(m, tm, dt)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("opts, batch", [(dict(), 3), (dict(), 1), (dict(num_layers=2, bidirectional=True), 2),
                                         (dict(num_layers=3), 3), (dict(batch_first=True, hidden_size=1), 4),
                                         (dict(input_size=16, num_layers=2), 3)])
def test_work_arrays_kept_between_passes_change_nothing(layout, kind, opts, batch, monkeypatch):
    """A layer lends the large work arrays of one pass to the next
    (rnn._Spare; here every array, however small): a second and third pass
    with other inputs and other shapes give what a fresh layer gives, and
    leave every array the earlier passes returned or took as it was (an
    input of 4 H features has the bytes of the LSTM's gate arrays)."""
    from sigmoid.nn import rnn

    monkeypatch.setattr(rnn._Spare, "MIN_BYTES", 0)
    size = dict(input_size=5, hidden_size=4)
    size.update(opts)
    make = lambda: getattr(nn, kind)(**size, dtype=np.float64, rng=rng(7))       # noqa: E731
    layer = make()
    I = size["input_size"]
    lstm = kind == "LSTM"

    def shaped(r, T, B, last):
        return r.standard_normal((B, T, last) if size.get("batch_first") else (T, B, last))

    def both(m, x, g):
        m.zero_grad()
        out, state = m(x)
        back = m.backward(g)
        results = [out] + (list(state) if lstm else [state]) + [back[0]] + \
            (list(back[1]) if lstm else [back[1]]) + [p.grad for p in m.parameters()]
        return results

    r = rng(8)
    earlier = []
    for T, B in ((6, batch), (6, batch), (3, batch + 1)):
        D = 2 if size.get("bidirectional") else 1
        x, g = shaped(r, T, B, I), shaped(r, T, B, D * size["hidden_size"])
        given = [x.copy(), g.copy()]
        got = both(layer, x, g)
        want = both(make(), x, g)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        for arrays, copies in earlier:
            for a, c in zip(arrays, copies):
                np.testing.assert_array_equal(a, c)
        returned = got[:-len(layer.parameters())]
        earlier.append(([x, g] + returned, given + [a.copy() for a in returned]))
    assert len(layer._spare.arrays) <= rnn._Spare.KEEP


def test_spare_lends_an_array_of_the_same_size_once_and_keeps_the_last_ones(monkeypatch):
    from sigmoid.nn import rnn

    monkeypatch.setattr(rnn._Spare, "MIN_BYTES", 64)
    monkeypatch.setattr(rnn._Spare, "KEEP", 3)
    s = rnn._Spare()
    a = s.empty((4, 4), np.float64)
    assert a.shape == (4, 4) and a.dtype == np.float64 and not s.arrays
    s.give(a, None, np.empty(7))           # 56 bytes: too small to keep
    assert len(s.arrays) == 1
    b = s.empty((8, 4), np.float32)        # the same 128 bytes, another shape and dtype
    assert b.shape == (8, 4) and b.dtype == np.float32 and np.shares_memory(a, b) and not s.arrays
    c = s.empty((8, 4), np.float32)        # nothing left to lend: fresh
    assert not np.shares_memory(b, c)
    kept = [np.empty(16 * (i + 1)) for i in range(5)]
    s.give(*kept)
    assert [x.nbytes for x in s.arrays] == [384, 512, 640]


def test_the_layers_work_arrays_start_on_cache_lines(monkeypatch):
    """The panel kernel's loads of a row straddle two cache lines where the
    row does not start on one: the spare arrays, lent fresh or again, start
    on a line, and an array given back that does not is not lent."""
    from sigmoid.nn import rnn

    monkeypatch.setattr(rnn._Spare, "MIN_BYTES", 64)
    s = rnn._Spare()
    shapes = [((3, 5), np.float32), ((7,), np.float64), ((2, 64, 64), np.float32)]
    shapes += [((n,), np.float32) for n in range(1, 40)]     # NumPy's own: 16 bytes, 1 in 4 on a line
    for shape, dt in shapes:
        a = rnn._line_empty(shape, dt)
        b = s.empty(shape, dt)
        for x in (a, b):
            assert x.shape == shape and x.dtype == dt and x.flags.c_contiguous and x.flags.writeable
            assert x.ctypes.data % rnn.LINE == 0
            x[...] = 1                      # the whole array is ours to write
    b = s.empty((2, 64, 64), np.float32)
    s.give(b)
    assert s.empty((2, 64, 64), np.float32).ctypes.data % rnn.LINE == 0 and not s.arrays
    off = rnn._line_empty((4 * 64 + 4,), np.float32)[4:]      # 16 bytes past a line
    s.give(off)
    again = s.empty((4, 64), np.float32)
    assert not np.shares_memory(again, off) and again.ctypes.data % rnn.LINE == 0


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_unbatched_sequence_and_default_state(torch, dt, kind):
    torch.manual_seed(1)
    tm = getattr(torch.nn, kind)(3, 2, dtype=tdtype(torch, dt))
    m = getattr(nn, kind)(3, 2, dtype=dt).load_state_dict(tm.state_dict())
    x = rng(2).standard_normal((6, 3)).astype(dt)
    xt = torch.tensor(x, requires_grad=True)
    out, st = m(x)
    ot, stt = tm(xt)
    close(out, ot, dt)
    close(st[0] if kind == "LSTM" else st, stt[0] if kind == "LSTM" else stt, dt)
    dx = m.backward(np.ones_like(out))[0]
    ot.sum().backward()
    close(dx, xt.grad, dt)
    grads_match(m, tm, dt)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(torch, dt, batched):
    torch.manual_seed(2)
    r = rng(3)
    shape = (4, 5) if batched else (5,)
    hshape = (4, 3) if batched else (3,)
    x, h, c = r.standard_normal(shape).astype(dt), r.standard_normal(hshape).astype(dt), \
        r.standard_normal(hshape).astype(dt)
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    # LSTMCell
    tl = torch.nn.LSTMCell(5, 3, dtype=tdtype(torch, dt))
    ml = nn.LSTMCell(5, 3, dtype=dt).load_state_dict(tl.state_dict())
    h1, c1 = ml(x, (h, c))
    h1t, c1t = tl(xt, (ht, ct))
    close(h1, h1t, dt)
    close(c1, c1t, dt)
    gh, gc = r.standard_normal(hshape).astype(dt), r.standard_normal(hshape).astype(dt)
    dx, (dh, dc) = ml.backward(gh, gc)
    torch.autograd.backward([h1t, c1t], [torch.from_numpy(gh), torch.from_numpy(gc)])
    for a, b in ((dx, xt.grad), (dh, ht.grad), (dc, ct.grad)):
        close(a, b, dt)
    grads_match(ml, tl, dt)
    # GRUCell
    xt.grad = ht.grad = None
    tg = torch.nn.GRUCell(5, 3, dtype=tdtype(torch, dt))
    mg = nn.GRUCell(5, 3, dtype=dt).load_state_dict(tg.state_dict())
    h2 = mg(x, h)
    h2t = tg(xt, ht)
    close(h2, h2t, dt)
    dx, dh = mg.backward(gh)
    h2t.backward(torch.from_numpy(gh))
    close(dx, xt.grad, dt)
    close(dh, ht.grad, dt)
    grads_match(mg, tg, dt)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("opts", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True, bias=False),
                                  dict(num_layers=2, dropout=0.5)])
def test_stack_gradcheck(layout, kind, opts):
    m = getattr(nn, kind)(3, 2, dtype=np.float64, rng=rng(4), **opts)
    x = rng(5).standard_normal((2, 4, 3) if opts.get("batch_first") else (4, 2, 3))
    D = 2 if opts.get("bidirectional") else 1
    h0 = rng(6).standard_normal((opts.get("num_layers", 1) * D, 2, 2))
    state = (h0, h0 * 0.5) if kind == "LSTM" else h0
    if opts.get("dropout"):
        wrapped = SameDropoutMasks(m, seed=7)
        assert [n for n, _ in wrapped.named_parameters()] == ["inner." + n for n, _ in m.named_parameters()]
        assert gradcheck(wrapped, (x, state))
        return
    assert gradcheck(m, (x, state))


class SameDropoutMasks(nn.Module):
    """A stack with dropout that draws the same masks in every forward pass
    (its generator reset before each), so that central differences see one
    function.  A Module holding the stack: gradcheck finds and checks the
    stack's parameters through it."""

    def __init__(self, inner, seed):
        super().__init__()
        self.inner = inner
        object.__setattr__(self, "seed", seed)

    def forward(self, *args):
        object.__setattr__(self.inner, "_rng", rng(self.seed))
        return self.inner(*args)

    def backward(self, *args):
        return self.inner.backward(*args)


# ----------------------------------------- gradcheck itself can fail

class Scaled(nn.Module):
    """y = a x (a parameter) for each of its inputs; ``backward`` returns
    the input gradients and accumulates a's, each spoilable on purpose."""

    def __init__(self, n_inputs=1, spoil=None):
        super().__init__()
        self.a = nn.Parameter(np.array([1.5, -0.5]))
        object.__setattr__(self, "spoil", spoil)
        object.__setattr__(self, "n_inputs", n_inputs)

    def forward(self, *xs):
        object.__setattr__(self, "xs", xs)
        out = tuple(self.a.data * x for x in xs)
        return out if len(xs) > 1 else out[0]

    def backward(self, *gs):
        grads = [self.a.data * g for g in gs]
        da = sum((g * x).sum(axis=0) for g, x in zip(gs, self.xs))
        if self.spoil == "input":
            grads[0] = grads[0] * (1 + 1e-3)
        if self.spoil == "missing input":
            grads = grads[:-1]
        if self.spoil == "shape":
            grads[0] = grads[0].sum(axis=0)      # broadcasts against the input: the shape must be checked
        if self.spoil == "parameter":
            da = da * (1 + 1e-3)
        if self.spoil != "missing parameter":
            self.a.accumulate(da)
        return tuple(grads) if len(grads) != 1 else grads[0]


@pytest.mark.parametrize("spoil, words", [
    ("input", r"gradcheck: input 0, element \(\d+, \d+\): backward gives"),
    ("missing input", r"gradcheck: backward returned 1 input gradient array\(s\) for 2 input array\(s\)"),
    ("shape", r"gradcheck: input 0: backward gives a gradient of shape \(2,\) for an array of shape \(3, 2\)"),
    ("parameter", r"gradcheck: parameter a, element \(\d+,\): backward gives"),
    ("missing parameter", r"gradcheck: parameter a, element \(\d+,\): backward gives 0\.0"),
])
def test_gradcheck_fails_on_a_wrong_backward(spoil, words):
    """gradcheck passes the right backward and names what is wrong in each
    spoilt one: a wrong input or parameter gradient, one left out, one of
    the wrong shape."""
    x = (rng(50).standard_normal((3, 2)), rng(51).standard_normal((3, 2)))
    assert gradcheck(Scaled(2), x)
    with pytest.raises(AssertionError, match=words):
        gradcheck(Scaled(2, spoil), x)


def test_gradcheck_checks_the_parameters_behind_a_wrapper():
    """A wrong parameter gradient deep inside a wrapped dropout stack is
    found, through a Module wrapper and through a plain object that
    forwards named_parameters()."""
    m = nn.GRU(3, 2, num_layers=2, dropout=0.5, dtype=np.float64, rng=rng(4))
    x = rng(5).standard_normal((4, 2, 3))
    backward = m.backward

    def spoilt(*a):
        out = backward(*a)
        m.weight_hh_l1.grad[0, 0] *= 1.01
        return out

    object.__setattr__(m, "backward", spoilt)

    class Plain:
        def __init__(self):
            self.wrapped = SameDropoutMasks(m, seed=7)
            self.named_parameters = m.named_parameters

        def __call__(self, *a):
            return self.wrapped(*a)

        def backward(self, *a):
            return self.wrapped.backward(*a)

    for wrapper in (SameDropoutMasks(m, seed=7), Plain()):
        with pytest.raises(AssertionError, match=r"parameter (inner\.)?weight_hh_l1, element \(0, 0\)"):
            gradcheck(wrapper, (x,))
    object.__setattr__(m, "backward", backward)
    assert gradcheck(Plain(), (x,))


@pytest.mark.parametrize("cls", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradcheck(cls, bias):
    m = cls(3, 2, bias=bias, dtype=np.float64, rng=rng(8))
    x, h = rng(9).standard_normal((4, 3)), rng(10).standard_normal((4, 2))
    assert gradcheck(m, (x, (h, h * 0.3) if cls is nn.LSTMCell else h))


def test_dropout_only_in_training():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, rng=rng(11))
    ref = nn.LSTM(3, 4, num_layers=2, dtype=np.float64).load_state_dict(m.state_dict())
    x = rng(12).standard_normal((5, 2, 3))
    assert not np.allclose(m(x)[0], ref(x)[0])
    np.testing.assert_array_equal(m.eval()(x)[0], ref(x)[0])
    assert not m.training and m.train().training


def test_gates_saturate_without_nan():
    """Huge pre-activations: the gates commit to exactly 0 or 1 and the
    candidate to exactly -1 or 1, with no nan and no warning (the suite
    turns warnings into errors).  Observed step by step from the states:
    c_t = f c_(t-1) + i g is then an integer with |c_t| <= t (from c_0 = 0),
    and h_t = o tanh(c_t) is 0 or tanh(c_t).  The saturated gates pass no
    gradient: sigma' and tanh' are exactly 0 there, and so is dx."""
    m = nn.LSTM(2, 3, dtype=np.float64, rng=rng(13))
    for p in m.parameters():
        p.data *= 1e6
    x = rng(14).standard_normal((8, 2, 2)) * 1e3
    h, c = np.zeros((1, 2, 3)), np.zeros((1, 2, 3))
    for t in range(len(x)):
        out, (h, c) = m(x[t:t + 1], (h, c))
        assert np.array_equal(c, np.round(c)) and np.all(np.abs(c) <= t + 1), c
        off = h == 0
        np.testing.assert_allclose(h[~off], np.tanh(c[~off]), rtol=4e-16, atol=0)
    assert 0 < np.count_nonzero(c) and 0 < np.count_nonzero(h == 0) < h.size   # both kinds of gate occur
    out, (h, c) = m(x)
    assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= 1)
    dx, _ = m.backward(np.ones_like(out))
    np.testing.assert_array_equal(dx, 0)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_plain_rnn_cell_matches_torch(torch, dt, nonlinearity):
    torch.manual_seed(3)
    tc = torch.nn.RNNCell(5, 3, nonlinearity=nonlinearity, dtype=tdtype(torch, dt))
    mc = nn.RNNCell(5, 3, nonlinearity=nonlinearity, dtype=dt).load_state_dict(tc.state_dict())
    r = rng(26)
    x, h = r.standard_normal((4, 5)).astype(dt), r.standard_normal((4, 3)).astype(dt)
    xt, ht = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    h1, h1t = mc(x, h), tc(xt, ht)
    close(h1, h1t, dt)
    g = r.standard_normal((4, 3)).astype(dt)
    dx, dh = mc.backward(g)
    h1t.backward(torch.from_numpy(g))
    close(dx, xt.grad, dt)
    close(dh, ht.grad, dt)
    grads_match(mc, tc, dt)
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(2, 2, nonlinearity="sigmoid")


def test_recurrent_layers_are_siblings_with_pytorchs_names():
    """LSTM, GRU and RNN derive from one private base, none from another
    (an RNN is not a GRU: isinstance checks and changes to one layer do not
    reach the other); so do the three cells.  The plain RNN keeps PyTorch's
    parameter names (as documented for torch.nn.RNN) and its call."""
    for family in ((nn.LSTM, nn.GRU, nn.RNN), (nn.LSTMCell, nn.GRUCell, nn.RNNCell)):
        for a in family:
            assert not any(issubclass(a, b) for b in family if b is not a), a.__name__
        (base,) = {a.__mro__[1] for a in family}
        assert base.__name__.startswith("_") and issubclass(base, nn.Module)
    rnn = nn.RNN(3, 2, num_layers=2, bidirectional=True, nonlinearity="relu")
    assert not isinstance(rnn, nn.GRU)
    want = {f"{w}_{k}_l{layer}{sfx}" for w in ("weight", "bias") for k in ("ih", "hh")
            for layer in (0, 1) for sfx in ("", "_reverse")}
    assert set(rnn.state_dict()) == want
    assert set(nn.RNNCell(3, 2).state_dict()) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}
    out, h = rnn(np.ones((4, 5, 3), np.float32), lengths=[4, 1, 0, 2, 3])
    assert out.shape == (4, 5, 4) and h.shape == (4, 5, 2)
    assert np.all(out >= 0)          # relu


# ---------------------------------------------------------- feed-forward

@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_linear_and_activations_match_torch(torch, dt):
    import torch.nn.functional as F
    r = rng(15)
    x = (r.standard_normal((6, 8)) * 4).astype(dt)
    x[0, :4] = [0.0, 3.0, -3.0, 40.0]
    g = r.standard_normal((6, 8)).astype(dt)
    pairs = [(nn.Sigmoid(), torch.sigmoid), (nn.HardSigmoid(), F.hardsigmoid), (nn.Tanh(), torch.tanh),
             (nn.ReLU(), torch.relu), (nn.SiLU(), F.silu)]
    for ours, theirs in pairs:
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.from_numpy(g))
        close(ours(x), yt, dt)
        if isinstance(ours, nn.HardSigmoid):
            # PyTorch's float64 gradient multiplies by 1/6 rounded to float32
            np.testing.assert_array_equal(ours.backward(g), np.where(np.abs(x) < 3, g / dt(6), 0))
            np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=3e-8 if dt == np.float64 else 2.5e-7)
            continue
        close(ours.backward(g), xt.grad, dt)
    tl = torch.nn.Linear(8, 3, dtype=tdtype(torch, dt))
    lin = nn.Linear(8, 3, dtype=dt).load_state_dict(tl.state_dict())
    xt = torch.tensor(x, requires_grad=True)
    yt = tl(xt)
    gy = r.standard_normal((6, 3)).astype(dt)
    yt.backward(torch.from_numpy(gy))
    close(lin(x), yt, dt)
    close(lin.backward(gy), xt.grad, dt)
    grads_match(lin, tl, dt)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_glu_matches_torch(torch, dt, axis):
    import torch.nn.functional as F
    x = (rng(16).standard_normal((4, 6, 2)) * 5).astype(dt)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.glu(xt, dim=axis)
    g = rng(17).standard_normal(tuple(yt.shape)).astype(dt)
    yt.backward(torch.from_numpy(g))
    m = nn.GLU(axis)
    close(m(x), yt, dt)
    close(m.backward(g), xt.grad, dt)


def test_straight_through_sigmoid():
    """Forward the hard decision; backward sigma'(x) g = g e / (1 + e)^2 with
    e = exp(-|x|), written here in NumPy: each operation rounds once and
    exp is within 1 ULP, so the formula is within about 5 ULP; the kernel
    within 2 ULP: rtol 2e-15 (9 ULP) holds both."""
    x = np.array([-600.0, -40.0, -17.5, -2.0, -0.0, 0.0, 1e-300, 0.25, 3.0, 40.0, 600.0])
    g = rng(27).standard_normal(x.size)
    m = nn.StraightThroughSigmoid()
    np.testing.assert_array_equal(m(x), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    e = np.exp(-np.abs(x))
    np.testing.assert_allclose(m.backward(g), g * e / (1 + e) ** 2, rtol=2e-15, atol=0)


@pytest.mark.parametrize("module, shape", [(nn.Linear(4, 3, dtype=np.float64, rng=rng(18)), (5, 4)),
                                           (nn.GLU(0), (4, 3)), (nn.Sigmoid(), (3, 2)), (nn.SiLU(), (3, 2)),
                                           (nn.Tanh(), (3, 2)),
                                           (nn.Sequential(nn.Linear(4, 6, dtype=np.float64, rng=rng(19)), nn.GLU(),
                                                          nn.Linear(3, 2, dtype=np.float64, rng=rng(20))), (5, 4))])
def test_feedforward_gradcheck(module, shape):
    assert gradcheck(module, (rng(21).standard_normal(shape),))


def test_sequential_names_and_state_dict_round_trip(tmp_path):
    m = nn.Sequential(nn.Linear(3, 4, rng=rng(22)), nn.Sigmoid(), nn.Linear(4, 1, rng=rng(23)))
    sd = m.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    other = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
    np.savez(tmp_path / "w.npz", **sd)
    other.load_state_dict(tmp_path / "w.npz")
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])


def test_safetensors_file_loads_without_torch(tmp_path):
    """A file from the safetensors package loads in a process where neither
    torch nor the safetensors package can be imported."""
    st = pytest.importorskip("safetensors.numpy", reason="needs the safetensors package")
    m = nn.GRU(3, 2, num_layers=2, rng=rng(24))
    st.save_file(m.state_dict(), str(tmp_path / "gru.safetensors"))
    code = (
        "import sys\n"
        "sys.modules['torch'] = sys.modules['safetensors'] = None\n"   # any import of them raises ImportError
        "import numpy as np\n"
        "import sigmoid.nn as nn\n"
        "other = nn.GRU(3, 2, num_layers=2).load_state_dict(sys.argv[1] + '/gru.safetensors')\n"
        "np.savez(sys.argv[1] + '/loaded.npz', **other.state_dict())\n"
        "assert sys.modules['torch'] is None and sys.modules['safetensors'] is None\n")
    r = subprocess.run([sys.executable, "-W", "error", "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    other = nn.GRU(3, 2, num_layers=2).load_state_dict(tmp_path / "loaded.npz")
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    x = rng(25).standard_normal((4, 1, 3)).astype(np.float32)
    np.testing.assert_array_equal(other(x)[0], m(x)[0])


# ------------------------------------------------------------ bad input

def test_load_state_dict_names_every_bad_key_and_loads_nothing():
    m = nn.LSTM(3, 2)
    before = m.state_dict()
    sd = dict(before)
    del sd["bias_hh_l0"]
    sd["weight_ih_l0"] = np.zeros((8, 4))
    sd["extra"] = np.zeros(1)
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    for part in ("missing key 'bias_hh_l0'", "unexpected key 'extra'", "'weight_ih_l0': shape (8, 4) given, (8, 3)"):
        assert part in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(TypeError, match="mapping of arrays"):
        m.load_state_dict([1, 2])


def test_bad_input_names_layer_argument_and_shapes():
    lstm = nn.LSTM(3, 2, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: input of shape \(4, 2, 5\).*input = 3"):
        lstm(np.zeros((4, 2, 5), np.float32))
    with pytest.raises(ValueError, match=r"LSTM: input of shape \(4,\)"):
        lstm(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"LSTM: h_0 has shape \(1, 2, 2\), expected \(2, 2, 2\)"):
        lstm(np.zeros((4, 2, 3), np.float32), (np.zeros((1, 2, 2), np.float32), np.zeros((2, 2, 2), np.float32)))
    with pytest.raises(TypeError, match="LSTM: input has dtype float64, the layer's parameters are float32"):
        lstm(np.zeros((4, 2, 3)))
    with pytest.raises(TypeError, match="GRU: c_0|GRU: h_0 has dtype int64"):
        nn.GRU(3, 2)(np.zeros((4, 2, 3), np.float32), np.zeros((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match="GRU.backward: called before forward"):
        nn.GRU(3, 2).backward(np.zeros((4, 2, 2), np.float32))
    with pytest.raises(ValueError, match="Linear.backward: called before forward"):
        nn.Linear(3, 2).backward(np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="LSTMCell.backward: called before forward"):
        nn.LSTMCell(3, 2).backward(np.zeros((1, 2), np.float32))
    gru = nn.GRU(3, 2)
    gru(np.zeros((4, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"GRU.backward: grad_output has shape \(4, 2, 3\), the output had \(4, 2, 2\)"):
        gru.backward(np.zeros((4, 2, 3), np.float32))
    with pytest.raises(ValueError, match="GLU: axis -1 of the input has odd length 3"):
        nn.GLU()(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="Linear: dtype must be float32 or float64, got float16"):
        nn.Linear(2, 2, dtype=np.float16)
    with pytest.raises(ValueError, match="LSTM: dropout must be in"):
        nn.LSTM(2, 2, dropout=1.0)
    with pytest.raises(ValueError, match=r"LSTMCell: input of shape \(2, 4\), expected \(batch, 3\)"):
        nn.LSTMCell(3, 2)(np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("module", ["sigmoid.nn.layers", "sigmoid.nn.rnn", "sigmoid.nn.gradcheck",
                                    "sigmoid.nn.module"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------- state dicts: all or nothing

class Params(nn.Module):
    """Parameters of any shape and float dtype, by name, to load into."""

    def __init__(self, **spec):
        super().__init__()
        for name, (shape, dtype) in spec.items():
            setattr(self, name, nn.Parameter(np.zeros(shape, dtype)))


def two_layers():
    return nn.Sequential(nn.Linear(3, 4, rng=rng(30)), nn.Sigmoid(), nn.Linear(4, 2, rng=rng(31)))


def snapshot(m):
    return {k: p.data.copy() for k, p in m.named_parameters()}


def assert_untouched(m, before):
    """Every parameter bit for bit as it was (NaNs and signed zeros too)."""
    now = dict(m.named_parameters())
    assert list(now) == list(before)
    for k, p in now.items():
        assert p.dtype == before[k].dtype and p.shape == before[k].shape, k
        assert p.data.tobytes() == before[k].tobytes(), k


def moved(before):
    """A float64 state dict in which every value differs from ``before``, so
    that a load which stops half-way shows in the keys it did load."""
    return {k: v.astype(np.float64) + 1.0 for k, v in before.items()}


@pytest.mark.parametrize("fp", ["raise", "warn", "ignore"])
def test_load_state_dict_overflowing_cast_is_an_error_and_loads_nothing(fp):
    """1e300 does not fit float32: an error naming the key and the values,
    under every floating-point error mode, with no warning and nothing
    loaded (the keys before it in the dict included)."""
    m = two_layers()
    before = snapshot(m)
    sd = moved(before)
    sd["2.weight"][1, 3] = 1e300
    sd["2.weight"][0, 0] = -1e39
    with np.errstate(all=fp), pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    assert str(e.value) == ("Sequential.load_state_dict: key '2.weight': values in [-1e+39, 1e+300] overflow "
                            "float32 (largest finite 3.4028235e+38); nothing was loaded")
    assert_untouched(m, before)


def test_load_state_dict_names_every_overflow_and_a_read_only_parameter():
    m = two_layers()
    before = snapshot(m)
    sd = moved(before)
    sd["0.bias"][2], sd["2.bias"][0] = 1e39, -1e39
    with pytest.raises(ValueError, match=r"key '0\.bias': values in \[.*, 1e\+39\] overflow float32.*; "
                                         r"key '2\.bias': values in \[-1e\+39, .*\] overflow float32"):
        m.load_state_dict(sd)
    assert_untouched(m, before)
    m[2].bias.data.flags.writeable = False
    with pytest.raises(ValueError, match=r"parameter '2\.bias' is read-only; nothing was loaded"):
        m.load_state_dict(moved(before))
    assert_untouched(m, before)


def test_load_state_dict_overflow_is_judged_by_the_rounded_value():
    """float32's largest finite number is 2**128 - 2**104 and its spacing
    there is 2**104: a float64 below the midpoint 2**128 - 2**103 rounds down
    to it and loads; the midpoint itself rounds (to even) to inf: an error."""
    top = 2.0**128 - 2.0**104
    below_midpoint = 2.0**128 - 2.0**103 - 2.0**75       # float64's spacing there is 2**75
    m = nn.Linear(1, 1).load_state_dict({"weight": [[below_midpoint]], "bias": [-below_midpoint]})
    assert m.weight.data[0, 0] == top and m.bias.data[0] == -top
    with pytest.raises(ValueError, match=r"key 'bias': values in \[-3\.4028236e\+38, -3\.4028236e\+38\] overflow"):
        m.load_state_dict({"weight": [[1.0]], "bias": [-(2.0**128 - 2.0**103)]})
    assert m.weight.data[0, 0] == top


def test_load_state_dict_keeps_the_given_inf_and_nan():
    """Non-finite values are the user's data and load as they are; the range
    an overflow error reports is that of the finite values."""
    m = nn.Linear(3, 1, dtype=np.float32)
    m.load_state_dict({"weight": np.array([[np.inf, -np.inf, np.nan]]), "bias": np.array([-0.0])})
    np.testing.assert_array_equal(m.weight.data, np.array([[np.inf, -np.inf, np.nan]], np.float32))
    assert m.bias.data[0] == 0 and np.signbit(m.bias.data[0])
    before = snapshot(m)
    with pytest.raises(ValueError, match=r"key 'weight': values in \[-2, 1e\+300\] overflow float32"):
        m.load_state_dict({"weight": np.array([[np.nan, 1e300, -2.0]]), "bias": np.array([np.inf])})
    assert_untouched(m, before)


@pytest.mark.parametrize("spoil, error, words", [
    (lambda sd: sd.update({"2.bias": np.zeros(3)}), ValueError, r"key '2\.bias': shape \(3,\) given, \(2,\) expected"),
    (lambda sd: sd.pop("2.bias"), ValueError, r"missing key '2\.bias' \(shape \(2,\)\)"),
    (lambda sd: sd.update({"3.weight": np.zeros(1)}), ValueError, r"unexpected key '3\.weight'"),
    (lambda sd: sd.update({"2.bias": np.array(["a", "b"])}), TypeError, r"key '2\.bias' holds <U1 data"),
    (lambda sd: sd.update({"2.bias": np.array([True, False])}), TypeError, r"key '2\.bias' holds bool data"),
    (lambda sd: sd.update({"2.bias": np.array([1j, 2])}), TypeError, r"key '2\.bias' holds complex128 data"),
    (lambda sd: sd.update({"2.bias": np.array([1.0, None])}), TypeError, r"key '2\.bias' holds object data"),
    (lambda sd: sd.update({"2.bias": [[1.0], [1.0, 2.0]]}), TypeError, r"key '2\.bias' holds a list that is not"),
], ids=["shape", "missing", "unexpected", "str", "bool", "complex", "object", "ragged"])
def test_load_state_dict_changes_nothing_when_any_key_is_bad(spoil, error, words):
    m = two_layers()
    before = snapshot(m)
    sd = moved(before)
    spoil(sd)
    with pytest.raises(error, match=r"Sequential\.load_state_dict: .*" + words):
        m.load_state_dict(sd)
    assert_untouched(m, before)


def test_load_state_dict_not_strict_keeps_what_is_not_given():
    m = two_layers()
    before = snapshot(m)
    m.load_state_dict({"0.bias": [1.0, 2.0, 3.0, 4.0]}, strict=False)
    np.testing.assert_array_equal(m[0].bias.data, np.array([1, 2, 3, 4], np.float32))
    assert_untouched(m, {**before, "0.bias": np.array([1, 2, 3, 4], np.float32)})
    with pytest.raises(ValueError, match="unexpected key 'extra'"):
        m.load_state_dict({"0.bias": [0.0] * 4, "extra": [1.0]}, strict=False)
    np.testing.assert_array_equal(m[0].bias.data, np.array([1, 2, 3, 4], np.float32))


# ------------------------------------------------- state dicts from files

UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return 0.0


class _Tripwire:
    """Records in UNPICKLED when anything unpickles it."""

    def __reduce__(self):
        return _record_unpickling, ()


def test_npy_and_pickles_are_refused_and_never_unpickled(tmp_path):
    m = nn.Linear(2, 1)
    before = snapshot(m)
    np.save(tmp_path / "dict.npy", {"weight": np.ones((1, 2)), "bias": _Tripwire()})     # np.save pickles a dict
    np.save(tmp_path / "one.npy", np.ones((1, 2)))
    np.savez(tmp_path / "objects.npz", weight=np.ones((1, 2)), bias=np.array([_Tripwire()], dtype=object))
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"weight": np.ones((1, 2)), "bias": _Tripwire()}))
    np.load(tmp_path / "dict.npy", allow_pickle=True)
    assert UNPICKLED == [True]                             # the tripwire trips when unpickled
    UNPICKLED.clear()
    for f in ("dict.npy", "one.npy"):
        with pytest.raises(ValueError, match=rf"Linear\.load_state_dict: '.*{f}' is a \.npy file, which holds one "
                                             r"array without names.*never loaded.*give an \.npz archive.*\.safetensors"):
            m.load_state_dict(tmp_path / f)
    with pytest.raises(ValueError, match=r"cannot read key 'bias' of '.*objects\.npz'.*pickled objects"):
        m.load_state_dict(tmp_path / "objects.npz")
    with pytest.raises(ValueError, match=r"'.*pickle\.npz' is not an \.npz archive"):
        m.load_state_dict(str(tmp_path / "pickle.npz"))
    assert UNPICKLED == []
    assert_untouched(m, before)


def test_broken_npz_is_named(tmp_path):
    m = two_layers()
    before = snapshot(m)
    sd = {k: v + np.float32(1) for k, v in before.items()}
    np.savez(tmp_path / "good.npz", **sd)
    raw = (tmp_path / "good.npz").read_bytes()
    flipped = bytearray(raw)
    flipped[raw.index(sd["2.weight"].tobytes())] ^= 0xFF
    (tmp_path / "cut.npz").write_bytes(raw[:len(raw) // 2])
    (tmp_path / "bits.npz").write_bytes(bytes(flipped))
    (tmp_path / "text.npz").write_text("weights")
    (tmp_path / "empty.npz").write_bytes(b"")
    for f, words in [("cut", r"is not a readable \.npz archive \(truncated or corrupt\)"),
                     ("bits", r"cannot read key '2\.weight' of '.*bits\.npz'.*CRC"),
                     ("text", r"is not an \.npz archive"), ("empty", r"is not an \.npz archive")]:
        with pytest.raises(ValueError, match=r"Sequential\.load_state_dict: .*" + words):
            m.load_state_dict(tmp_path / f"{f}.npz")
        assert_untouched(m, before)
    m.load_state_dict(tmp_path / "good.npz")                # the same file unbroken loads
    assert_untouched(m, sd)


def test_missing_file_unknown_extension_and_directory_are_named(tmp_path):
    m = nn.Linear(2, 1)
    for f in ("nothing.npz", "nothing.safetensors"):
        with pytest.raises(FileNotFoundError, match=rf"Linear\.load_state_dict: there is no file '.*{f}'"):
            m.load_state_dict(tmp_path / f)
    np.savez(tmp_path / "w.npz", weight=np.ones((1, 2)), bias=np.ones(1))
    for f in ("w.pt", "w.bin", "w"):                         # an .npz inside, but a name that does not say so
        (tmp_path / f).write_bytes((tmp_path / "w.npz").read_bytes())
        with pytest.raises(ValueError, match=rf"cannot read '.*{f}': the extension '.*' is neither \.npz nor "
                                             r"\.safetensors; give an \.npz archive.*torch\.load"):
            m.load_state_dict(tmp_path / f)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(OSError, match=r"Linear\.load_state_dict: cannot open '.*folder\.npz'"):
        m.load_state_dict(tmp_path / "folder.npz")
    assert not np.any(m.weight.data == 1)


def write_safetensors(path, tensors):
    """The safetensors layout, written by hand: an 8-byte little-endian
    header length, a JSON header {name: {dtype, shape, data_offsets}}, then
    the tensors' bytes.  ``tensors``: name -> (dtype, shape, bytes)."""
    header, at = {"__metadata__": {"format": "np"}}, 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [at, at + len(raw)]}
        at += len(raw)
    head = json.dumps(header).encode()
    path.write_bytes(len(head).to_bytes(8, "little") + head + b"".join(raw for *_, raw in tensors.values()))
    return path


def bfloat16_value(bits: int) -> float:
    """A bfloat16 from its definition: sign, 8 exponent bits (bias 127), 7
    fraction bits; exponent 0 subnormal, 255 inf or NaN."""
    sign, exponent, fraction = -1.0 if bits >> 15 else 1.0, (bits >> 7) & 0xFF, bits & 0x7F
    if exponent == 0xFF:
        return sign * np.inf if fraction == 0 else np.nan
    if exponent == 0:
        return sign * fraction / 128 * 2.0**-126
    return sign * (1 + fraction / 128) * 2.0**(exponent - 127)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_bfloat16_in_a_safetensors_file_loads_exactly(tmp_path, dt):
    """All 65,536 bfloat16 bit patterns, read without torch, against their
    values from the definition; beside them other dtypes in the same file."""
    bits = np.arange(2**16, dtype=np.uint16)
    want = np.array([bfloat16_value(b) for b in bits.tolist()])
    halves = rng(40).standard_normal(5).astype(np.float16)
    path = write_safetensors(tmp_path / "bf16.safetensors", {
        "h": ("F16", (5,), halves.astype("<f2").tobytes()),
        "bf": ("BF16", (256, 256), bits.astype("<u2").tobytes()),
        "i": ("I32", (2,), np.array([-7, 2**24], "<i4").tobytes()),
        "d": ("F64", (1,), np.array([0.1], "<f8").tobytes())})
    m = Params(h=((5,), dt), bf=((256, 256), dt), i=((2,), dt), d=((1,), dt)).load_state_dict(path)
    got = m.bf.data.ravel()
    nan = np.isnan(want)
    assert nan.sum() == 2 * 127
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan], want[~nan])
    np.testing.assert_array_equal(np.signbit(got[~nan]), np.signbit(want[~nan]))
    np.testing.assert_array_equal(m.h.data, [float(v) for v in halves.tolist()])
    np.testing.assert_array_equal(m.i.data, [-7.0, 16777216.0])
    assert m.d.data[0] == dt(0.1)


def test_bfloat16_into_float16_must_fit(tmp_path):
    """bfloat16 0x477F is 65280, a float16; 0x4780 is 65536, past float16's
    65504: an error; bfloat16's own -inf loads as -inf."""
    m = Params(value=((3,), np.float16))
    m.load_state_dict(write_safetensors(tmp_path / "fits.safetensors", {
        "value": ("BF16", (3,), np.array([0x477F, 0x3F80, 0xFF80], "<u2").tobytes())}))
    np.testing.assert_array_equal(m.value.data, np.array([65280, 1, -np.inf], np.float16))
    before = snapshot(m)
    with pytest.raises(ValueError, match=r"Params\.load_state_dict: key 'value': values in \[1, 65536\] overflow "
                                         r"float16 \(largest finite 65504\)"):
        m.load_state_dict(write_safetensors(tmp_path / "big.safetensors", {
            "value": ("BF16", (3,), np.array([0x3F80, 0x4780, 0x3F80], "<u2").tobytes())}))
    assert_untouched(m, before)


def test_broken_safetensors_file_is_named(tmp_path):
    m = nn.Linear(2, 1)
    before = snapshot(m)
    w, b = np.array([[1, 2]], "<f4").tobytes(), np.array([3], "<f4").tobytes()
    good = write_safetensors(tmp_path / "good.safetensors", {"weight": ("F32", (1, 2), w), "bias": ("F32", (1,), b)})
    raw = good.read_bytes()
    junk = b"{not json"
    cases = {
        "cut": (raw[:-2], r"tensor 'bias' lies at bytes 8\.\.12 of the data, which has 10 \(truncated\?\)"),
        "short": (raw[:5], r"5 bytes, fewer than the 8 of the header length"),
        "cuthead": (raw[:20], r"the header length says \d+ bytes, the file has 12 after it"),
        "json": (len(junk).to_bytes(8, "little") + junk, r"the header is not JSON"),
        "list": (len(b"[]").to_bytes(8, "little") + b"[]", r"the header is not a JSON object"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / f"{name}.safetensors").write_bytes(data)
    for name, tensors, words in [
            ("size", {"weight": ("F32", (1, 3), w), "bias": ("F32", (1,), b)},
             r"tensor 'weight' of shape \(1, 3\) and dtype F32 needs 12 bytes, its data_offsets span 8"),
            ("fields", {"weight": ("F32", "1x2", w), "bias": ("F32", (1,), b)}, r"tensor 'weight' has a malformed")]:
        write_safetensors(tmp_path / f"{name}.safetensors", tensors)
        cases[name] = (None, words)
    header = json.dumps({"weight": {"shape": [1, 2]}}).encode()
    (tmp_path / "nodtype.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + w)
    cases["nodtype"] = (None, r"tensor 'weight' lacks a dtype, a shape or two data_offsets")
    for name, (_, words) in cases.items():
        with pytest.raises(ValueError, match=rf"Linear\.load_state_dict: '.*{name}\.safetensors' is not a valid "
                                             rf"\.safetensors file: {words}"):
            m.load_state_dict(tmp_path / f"{name}.safetensors")
        assert_untouched(m, before)
    for dtype in ("F8_E4M3", "BOOL", "C64"):
        path = write_safetensors(tmp_path / "odd.safetensors", {"weight": ("F32", (1, 2), w),
                                                                "bias": (dtype, (1,), b[:1] if dtype != "C64" else w)})
        with pytest.raises(TypeError, match=rf"key 'bias' of '.*odd\.safetensors' holds '{dtype}' data, expected "
                                            r"real numbers: float16, float32, float64, bfloat16 or integers"):
            m.load_state_dict(path)
        assert_untouched(m, before)
    m.load_state_dict(good)                                  # the same file unbroken loads
    np.testing.assert_array_equal(m.weight.data, [[1, 2]])


def test_bfloat16_and_float16_torch_state_dicts_load_exactly(torch):
    """Against torch's own widening of its bfloat16 and float16 tensors."""
    tl = torch.nn.Linear(5, 3)
    with torch.no_grad():
        tl.weight[0, 0] = -1e38                              # beyond float16, within bfloat16
    for tdt, dt in [(torch.bfloat16, np.float32), (torch.bfloat16, np.float64), (torch.float16, np.float32)]:
        sd = {k: v.to(tdt) for k, v in tl.state_dict().items()}
        ours = nn.Linear(5, 3, dtype=dt).load_state_dict(sd)
        for k, v in sd.items():
            np.testing.assert_array_equal(getattr(ours, k).data, v.to(torch.float64).numpy().astype(dt))
    assert ours.weight.data[0, 0] == -np.inf                 # float16 -inf: torch's own rounding, loaded as given


def test_torch_tensors_numpy_lacks_are_named(torch):
    m = nn.Linear(2, 1)
    before = snapshot(m)
    with pytest.raises(TypeError, match=r"Linear\.load_state_dict: key 'bias' holds a tensor of dtype "
                                        r"torch\.float8_e4m3fn that NumPy cannot take"):
        m.load_state_dict({"weight": torch.zeros(1, 2), "bias": torch.ones(1).to(torch.float8_e4m3fn)})
    with pytest.raises(TypeError, match=r"key 'bias' holds complex64 data"):
        m.load_state_dict({"weight": torch.zeros(1, 2), "bias": torch.ones(1, dtype=torch.complex64)})
    assert_untouched(m, before)


def test_safetensors_written_by_the_reference_writer_load(tmp_path, torch):
    """Files from the safetensors package itself (its header padding and
    metadata), bfloat16 included, against torch's widening; and the
    package reads the hand-written layout the tests above use."""
    st = pytest.importorskip("safetensors.torch", reason="needs the safetensors package")
    t = {"bf": torch.randn(7, 3).to(torch.bfloat16), "h": torch.randn(4).to(torch.float16), "d": torch.randn(2, 2)}
    st.save_file(t, str(tmp_path / "ref.safetensors"), metadata={"made": "by safetensors"})
    m = Params(bf=((7, 3), np.float32), h=((4,), np.float64), d=((2, 2), np.float32))
    m.load_state_dict(tmp_path / "ref.safetensors")
    for k, v in t.items():
        np.testing.assert_array_equal(getattr(m, k).data, v.to(torch.float64).numpy().astype(getattr(m, k).dtype))
    bits = np.arange(2**16, dtype=np.uint16)
    mine = write_safetensors(tmp_path / "mine.safetensors", {"bf": ("BF16", (2**16,), bits.astype("<u2").tobytes())})
    theirs = st.load_file(str(mine))["bf"].to(torch.float32).numpy()
    ours = Params(bf=((2**16,), np.float32)).load_state_dict(mine).bf.data
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))


# ------------------------------------------ variable lengths, PackedSequence

LENGTHS = np.array([3, 9, 1, 6])       # unsorted, one full-length sequence, one of a single step


def _stack_pair(torch, kind, dt, **opts):
    tm = getattr(torch.nn, kind)(5, 4, dtype=tdtype(torch, dt), **opts)
    m = getattr(nn, kind)(5, 4, dtype=dt, **opts).load_state_dict(tm.state_dict())
    return m, tm


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_lengths_match_torch_packed_sequences(torch, layout, dt, kind, batch_first, layers, bidirectional):
    """lengths= gives PyTorch's results for the packed batch: outputs (0
    past each sequence's end, as pad_packed_sequence pads them), final
    states taken at each sequence's last step (the first one for the
    reverse direction), and every gradient: input, initial states and
    parameters, with gradients flowing into the final states too.  The
    padding holds nan: it must never be read."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(3)
    m, tm = _stack_pair(torch, kind, dt, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    T, B, D = 9, len(LENGTHS), 2 if bidirectional else 1
    r = rng(30)
    x = r.standard_normal((B, T, 5) if batch_first else (T, B, 5)).astype(dt)
    pad = np.arange(T)[None, :] >= LENGTHS[:, None]                       # (B, T)
    x[pad if batch_first else pad.T] = np.nan
    h0, c0 = (r.standard_normal((layers * D, B, 4)).astype(dt) for _ in range(2))
    xt = torch.tensor(np.nan_to_num(x), requires_grad=True)
    h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (h0, c0))
    packed = pack_padded_sequence(xt, torch.from_numpy(LENGTHS), batch_first=batch_first, enforce_sorted=False)
    if kind == "LSTM":
        out, (hn, cn) = m(x, (h0, c0), lengths=LENGTHS)
        ot, (hnt, cnt) = tm(packed, (h0t, c0t))
        close(cn, cnt, dt)
    else:
        out, hn = m(x, h0, lengths=LENGTHS)
        ot, hnt = tm(packed, h0t)
    ot, _ = pad_packed_sequence(ot, batch_first=batch_first, total_length=T)
    assert out.shape == tuple(ot.shape)
    close(out, ot, dt)
    close(hn, hnt, dt)
    assert np.all(out[pad if batch_first else pad.T] == 0)
    dx, dh0 = backward_both(torch, m, kind, r, (out, hn), (ot, hnt, cnt if kind == "LSTM" else None), c0t, dt)
    close(dx, xt.grad, dt)
    assert np.all(dx[pad if batch_first else pad.T] == 0)
    close(dh0, h0t.grad, dt)
    grads_match(m, tm, dt)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_sequence_in_packed_sequence_out(torch, kind, enforce_sorted):
    """A PackedSequence input gives a PackedSequence output of the same
    layout (as PyTorch's layers do) with PyTorch's values, and the backward
    pass takes the output's gradient packed and returns the input's packed:
    the gradient of the packed data."""
    from torch.nn.utils.rnn import pack_padded_sequence

    torch.manual_seed(4)
    m, tm = _stack_pair(torch, kind, np.float64, num_layers=2, bidirectional=True, batch_first=True)
    lengths = np.sort(LENGTHS)[::-1].copy() if enforce_sorted else LENGTHS
    x = torch.randn(len(lengths), 9, 5, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.from_numpy(lengths), batch_first=True, enforce_sorted=enforce_sorted)
    packed.data.requires_grad_(True)
    out, state = m(packed)
    ot, st = tm(packed)
    assert type(out) is type(ot)
    for a in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        assert (getattr(out, a) is None and getattr(ot, a) is None) or torch.equal(getattr(out, a), getattr(ot, a))
    close(out.data.numpy(), ot.data, np.float64)
    close(state[0] if kind == "LSTM" else state, st[0] if kind == "LSTM" else st, np.float64)
    g = torch.randn(ot.data.shape, dtype=torch.float64)
    dx = m.backward(type(ot)(g, ot.batch_sizes, ot.sorted_indices, ot.unsorted_indices))[0]
    ot.data.backward(g)
    assert type(dx) is type(packed)
    close(dx.data.numpy(), packed.data.grad, np.float64)
    grads_match(m, tm, np.float64)


class WithLengths(nn.Module):
    """A stack called with fixed lengths, for gradcheck."""

    def __init__(self, inner, lengths):
        super().__init__()
        self.inner = inner
        object.__setattr__(self, "lengths", lengths)

    def forward(self, x, state):
        return self.inner(x, state, lengths=self.lengths)

    def backward(self, *grads):
        return self.inner.backward(*grads)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_lengths_gradcheck(kind):
    """Central differences, which know nothing of the freezing of the states
    past each end: the backward pass with lengths, a length 0 included (the
    final state is then the initial one, the outputs all 0)."""
    m = getattr(nn, kind)(3, 2, num_layers=2, bidirectional=True, dtype=np.float64, rng=rng(31))
    x = rng(32).standard_normal((5, 3, 3))
    h0 = rng(33).standard_normal((4, 3, 2))
    state = (h0, h0 * 0.5) if kind == "LSTM" else h0
    lengths = np.array([5, 0, 2])
    assert gradcheck(WithLengths(m, lengths), (x, state))
    out, st = m(x, state, lengths=lengths)
    assert np.all(out[:, 1] == 0)
    np.testing.assert_array_equal((st[0] if kind == "LSTM" else st)[:, 1], h0[:, 1])


def test_lengths_bad_input_is_named():
    lstm = nn.LSTM(3, 2, num_layers=2)
    x = np.zeros((4, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"LSTM: lengths has shape \(3,\), expected \(2,\): one length per sequence"):
        lstm(x, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"LSTM: lengths must lie in \[0, 4\] .*got values from 1 to 5"):
        lstm(x, lengths=[1, 5])
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 4\]"):
        nn.GRU(3, 2)(x, lengths=np.array([-1, 2]))
    with pytest.raises(TypeError, match="LSTM: lengths must be integers .* got dtype float64"):
        lstm(x, lengths=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"LSTM: lengths= needs a batch of sequences \(a 3-D input\)"):
        lstm(x[:, 0], lengths=[4])


def test_lengths_and_a_packed_sequence_are_one_too_many(torch):
    from torch.nn.utils.rnn import pack_padded_sequence

    packed = pack_padded_sequence(torch.zeros(4, 2, 3), torch.tensor([4, 2]))
    with pytest.raises(ValueError, match="GRU: lengths= was given with a PackedSequence"):
        nn.GRU(3, 2)(packed, lengths=[4, 2])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"])
def test_float64_into_a_float32_layer_says_how_to_fix_it(torch, kind):
    """As PyTorch, nothing is cast: a float64 input of a float32 layer is an
    error (so is a float32 one of a float64 layer), and the message gives
    both fixes; each fix then runs."""
    layer = getattr(nn, kind)(3, 2)
    x = rng(34).standard_normal((4, 2, 3) if "Cell" not in kind else (2, 3))
    ref = getattr(torch.nn, kind)(3, 2)
    with pytest.raises((ValueError, RuntimeError), match="dtype"):
        ref(torch.from_numpy(x))       # PyTorch's rule: refused
    with pytest.raises(TypeError, match=rf"{kind}: input has dtype float64, the layer's parameters are float32; "
                                        rf"nothing is cast implicitly \(as in PyTorch\): convert it "
                                        rf"\(input.astype\(np.float32\)\), or build the layer in float64 "
                                        rf"\({kind}\(..., dtype=np.float64\), then load_state_dict"):
        layer(x)
    layer(x.astype(np.float32))
    wide = getattr(nn, kind)(3, 2, dtype=np.float64).load_state_dict(layer.state_dict())
    wide(x)
    with pytest.raises(TypeError, match=rf"{kind}: input has dtype float32, the layer's parameters are float64"):
        wide(x.astype(np.float32))
    state = np.zeros((1, 2, 2) if "Cell" not in kind else (2, 2))
    with pytest.raises(TypeError, match=r"h(_0)? has dtype float64, the layer's parameters are float32; .*"
                                        r"astype\(np.float32\)"):
        layer(x.astype(np.float32), (state, state) if kind.startswith("LSTM") else state)


# ------------------------------------------------------------------ no_grad

def _same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif a is None:
        assert b is None
    else:
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("B", [1, 3, 200])
@pytest.mark.parametrize("extra", [{}, {"bidirectional": True, "num_layers": 2}])
def test_no_grad_forward_gives_the_same_bits_and_keeps_nothing(kind, B, extra):
    # B = 200 takes the combined layout of the products (LSTM, RNN), B = 1
    # and 3 the split one; with lengths the state freezes after each end
    r = rng(40)
    m = getattr(nn, kind)(7, 5, dtype=np.float64, rng=rng(41), **extra)
    x = r.standard_normal((6, B, 7))
    lengths = r.integers(1, 7, B)
    for kw in ({}, {"lengths": lengths}):
        want = m(x, **kw)
        with nn.no_grad():
            assert not nn.is_grad_enabled()
            got = m(x, **kw)
        assert nn.is_grad_enabled()
        _same(want, got)
        with pytest.raises(ValueError, match=f"{kind}.backward: the last forward pass ran under "
                                             r"sigmoid.nn.no_grad\(\)"):
            m.backward(np.ones_like(got[0]))
    # a forward pass outside it keeps again what backward needs
    out = m(x)[0]
    dx = m.backward(np.ones_like(out))[0]
    assert dx.shape == x.shape and np.isfinite(dx).all()


@pytest.mark.parametrize("cell", [nn.LSTMCell, nn.GRUCell, nn.RNNCell])
def test_no_grad_cells_and_feedforward_modules(cell):
    c = cell(3, 2, dtype=np.float64, rng=rng(42))
    x = rng(43).standard_normal((4, 3))
    want = c(x)
    with nn.no_grad():
        got = c(x)
    _same(want, got)
    with pytest.raises(ValueError, match=f"{cell.__name__}.backward: the last forward pass ran under"):
        c.backward(np.ones((4, 2)))
    seq = nn.Sequential(nn.Linear(3, 4, dtype=np.float64, rng=rng(44)), nn.Sigmoid(),
                        nn.GLU(), nn.Linear(2, 1, dtype=np.float64, rng=rng(45)))
    y = seq(x)
    with nn.no_grad():
        _same(y, seq(x))
    with pytest.raises(ValueError, match="the last forward pass ran under sigmoid.nn.no_grad"):
        seq.backward(np.ones_like(y))
    assert seq.backward(np.ones_like(seq(x))).shape == x.shape


def test_no_grad_nests_is_per_thread_and_restores_after_an_error():
    import threading

    seen = []
    with nn.no_grad():
        with nn.no_grad():
            assert not nn.is_grad_enabled()
        assert not nn.is_grad_enabled()
        t = threading.Thread(target=lambda: seen.append(nn.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True] and nn.is_grad_enabled()
    with pytest.raises(KeyError):
        with nn.no_grad():
            raise KeyError("inside")
    assert nn.is_grad_enabled()
