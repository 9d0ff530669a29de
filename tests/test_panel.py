"""The recurrent layers' per-step product for a small batch, sigmoid._core's
_panel_pack and _panel_matmul (out = c + a h): exact on integers, within the
dot product's error bound on random data, every layout it accepts, the same
bits on any thread count, the argument checks, and the layers that use it
against the BLAS."""
import math

import numpy as np
import pytest

import sigmoid
import sigmoid.nn.rnn as R
from sigmoid import _core, nn

DTYPES = [np.float32, np.float64]
MR = 12
# rows around a panel's edge, batches around every vector width's (2, 4, 8
# and 16 lanes): whole blocks and partial ones
SHAPES = [(1, 1, 1), (11, 3, 2), (12, 7, 4), (13, 1, 5), (25, 9, 8), (24, 16, 9), (40, 33, 16), (37, 5, 17),
          (12, 64, 33), (13, 300, 33), (25, 530, 7),
          # groups of panels and panels left over, for a batch of at most 8
          (61, 40, 8), (100, 13, 3), (49, 70, 1),
          # wider than PANEL_WIDE (256) columns: column blocks, k blocks over all panels
          (13, 300, 530), (25, 270, 1041),
          # more than PANEL_HBYTES (1 MiB) of H in either dtype: k blocks over all panels
          (13, 4000, 70)]


def packed(a):
    p = _core._panel_pack(a)
    assert p.shape == (-(-a.shape[0] // MR), a.shape[1], MR) and p.dtype == a.dtype
    return p


def exact_products(a, h, c):
    """c + a h with every sum exact (math.fsum of exact products: each
    double split in halves of 26 bits, Veltkamp's way), rounded once to
    double: a reference that does not depend on long double."""
    def split(v):
        v = v.astype(np.float64)
        t = v * (2.0**27 + 1)
        hi = t - (t - v)
        return hi, v - hi
    ah, al = split(a)
    hh, hl = split(h)
    out = np.empty(c.shape)
    for i in range(a.shape[0]):
        for j in range(h.shape[1]):
            terms = [ah[i] * hh[:, j], ah[i] * hl[:, j], al[i] * hh[:, j], al[i] * hl[:, j]]
            out[i, j] = math.fsum(np.concatenate(terms).tolist() + [float(c[i, j])])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("with_c", [False, True])
def test_integer_products_are_exact(dtype, shape, with_c, isa):
    """Small integers: every sum is exact in either dtype, so any term
    missed, doubled or taken from the wrong row or column shows."""
    M, K, B = shape
    rng = np.random.default_rng(M * 1000 + K * 10 + B)
    a = rng.integers(-8, 9, (M, K)).astype(dtype)
    h = rng.integers(-8, 9, (K, B)).astype(dtype)
    c = rng.integers(-100, 101, (M, B)).astype(dtype) if with_c else None
    out = np.full((M, B), np.nan, dtype)
    _core._panel_matmul(packed(a), h, out, c)
    want = a.astype(np.int64) @ h.astype(np.int64) + (0 if c is None else c.astype(np.int64))
    np.testing.assert_array_equal(out, want.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(25, 9, 8), (37, 200, 17), (130, 513, 3)])
def test_random_products_within_the_dot_product_bound(dtype, shape, isa):
    """|out - (c + a h)| <= gamma_(K+1) (|c| + |a| |h|), gamma_n = n u / (1 - n u),
    against the exact sums rounded once to double (exact_products)."""
    M, K, B = shape
    rng = np.random.default_rng(K)
    a = rng.standard_normal((M, K)).astype(dtype)
    h = rng.standard_normal((K, B)).astype(dtype)
    c = rng.standard_normal((M, B)).astype(dtype)
    out = np.empty((M, B), dtype)
    _core._panel_matmul(packed(a), h, out, c)
    want = exact_products(a, h, c)
    scale = np.abs(a.astype(np.float64)) @ np.abs(h.astype(np.float64)) + np.abs(c.astype(np.float64))
    u = np.finfo(dtype).eps / 2
    n = K + 1
    # the bound, computed in double, raised by its own rounding (n + 2 ulps)
    bound = n * u / (1 - n * u) * scale * (1 + (n + 2) * 2.0**-52)
    err = np.abs(out.astype(np.float64) - want)
    if dtype == np.float64:   # want itself may be half an ulp of it off
        err = np.maximum(err - np.spacing(np.abs(want)) / 2, 0)
    assert np.all(err <= bound), float(np.max(err / bound))
    # and not trivially: the sums do round
    assert np.any(err > 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_same_bits_on_every_instruction_set(dtype):
    """Each output is the sum over k in order, one FMA per term, whatever
    the vector width, the rows per pass over a pair of vector blocks or the
    kernel a batch of at most 8 columns runs on (avx512: vectors along the
    rows of groups of panels, and single panels left over): every batch
    from 1 to 70 and k past the blocks of k give the bits of the portable
    kernel, with 37 rows (four panels, one of them short) and 61 (six)."""
    rng = np.random.default_rng(11)
    K = 700
    old = _core._get_isa()
    try:
        for M in (37, 61):
            a = rng.standard_normal((M, K)).astype(dtype)
            c = rng.standard_normal((M, 70)).astype(dtype)
            h = rng.standard_normal((K, 70)).astype(dtype)
            for B in range(1, 71):
                got = {}
                for name in _core._supported_isas().split(","):
                    _core._set_isa(name)
                    out = np.empty((M, B), dtype)
                    _core._panel_matmul(packed(a), h[:, :B], out, c[:, :B])
                    got[name] = out
                for name, out in got.items():
                    np.testing.assert_array_equal(out, got["portable"], err_msg=f"{name}, {M} rows, batch {B}")
    finally:
        _core._set_isa(old)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_products_give_the_bits_of_narrow_ones(dtype, isa):
    """Past PANEL_WIDE (256) columns or PANEL_HBYTES (1 MiB) of h the
    kernel takes column blocks and runs each block of k over all the
    panels: every column gets the bits it gets in a product of 20 columns,
    panel by panel, with c, and with c the very same region as out."""
    rng = np.random.default_rng(12)
    for M, K, B in ((29, 700, 513), (29, 700, 530), (29, 700, 1041), (29, 4000, 70)):
        a = rng.standard_normal((M, K)).astype(dtype)
        p = packed(a)
        h = rng.standard_normal((K, B)).astype(dtype)
        c = rng.standard_normal((M, B)).astype(dtype)
        wide = np.empty((M, B), dtype)
        _core._panel_matmul(p, h, wide, c)
        narrow = np.empty((M, B), dtype)
        for j in range(0, B, 20):
            _core._panel_matmul(p, np.ascontiguousarray(h[:, j:j + 20]), narrow[:, j:j + 20], c[:, j:j + 20])
        np.testing.assert_array_equal(wide, narrow, err_msg=f"batch {B}")
        y = c.copy()
        _core._panel_matmul(p, h, y, y)
        np.testing.assert_array_equal(y, narrow, err_msg=f"batch {B}, in place")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(29, 11, 6), (261, 40, 37), (256, 9, 64)])
def test_layouts(dtype, shape, isa):
    """Rows anywhere: h and c column slices of wider arrays, out a column
    slice, c a broadcast column, c the very same region as out, a packed from
    a transposed view.  From 256 rows on, an h whose rows do not start on
    cache lines is read from an aligned copy (whole vectors; the columns
    past them from their own block)."""
    M, K, B = shape
    rng = np.random.default_rng(5)
    a = rng.integers(-8, 9, (K, M)).astype(dtype).T            # a transposed view
    assert not a.flags.c_contiguous
    np.testing.assert_array_equal(_core._panel_pack(a), _core._panel_pack(np.ascontiguousarray(a)))
    hw = rng.integers(-8, 9, (K, B + 7)).astype(dtype)
    h = hw[:, 3:3 + B]
    cw = rng.integers(-50, 51, (M, B + 5)).astype(dtype)
    c = cw[:, 2:2 + B]
    ow = np.full((M, B + 4), -7, dtype)
    out = ow[:, 1:1 + B]
    exact = a.astype(np.int64) @ h.astype(np.int64)
    p = packed(a)
    _core._panel_matmul(p, h, out, c)
    np.testing.assert_array_equal(out, exact + c)
    assert np.all(ow[:, 0] == -7) and np.all(ow[:, 1 + B:] == -7)
    col = rng.integers(-50, 51, (M, 1)).astype(dtype)
    _core._panel_matmul(p, h, out, np.broadcast_to(col, (M, B)))
    np.testing.assert_array_equal(out, exact + col)
    y = c.copy()
    _core._panel_matmul(p, h, y, y)
    np.testing.assert_array_equal(y, exact + c)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_same_bits_on_any_thread_count(dtype, threads):
    """Each output is one thread's sum in k order, whichever thread runs its
    panel."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2048, 512)).astype(dtype)
    p = packed(a)
    for B in (8, 600):     # panel by panel, and in column blocks
        h = rng.standard_normal((512, B)).astype(dtype)
        c = rng.standard_normal((2048, B)).astype(dtype)
        outs = []
        for n in (1, 2, 3):
            sigmoid.set_num_threads(n)
            out = np.empty((2048, B), dtype)
            _core._panel_matmul(p, h, out, c)
            outs.append(out)
        np.testing.assert_array_equal(outs[0], outs[1])
        np.testing.assert_array_equal(outs[0], outs[2])


def test_empty_and_zero_k():
    p = _core._panel_pack(np.zeros((5, 0), np.float32))
    assert p.shape == (1, 0, MR)
    out = np.full((5, 3), np.nan, np.float32)
    _core._panel_matmul(p, np.zeros((0, 3), np.float32), out, None)
    np.testing.assert_array_equal(out, 0)
    c = np.arange(15, dtype=np.float32).reshape(5, 3)
    _core._panel_matmul(p, np.zeros((0, 3), np.float32), out, c)
    np.testing.assert_array_equal(out, c)
    assert _core._panel_pack(np.zeros((0, 4))).shape == (0, 4, MR)
    _core._panel_matmul(_core._panel_pack(np.ones((3, 4))), np.ones((4, 0)), np.empty((3, 0)), None)


def test_no_floating_point_flags_escape():
    """Overflow to inf inside the product raises nothing (the tests run with
    every NumPy floating-point error raising)."""
    a = np.full((3, 2), 3e38, np.float32)
    out = np.empty((3, 2), np.float32)
    _core._panel_matmul(_core._panel_pack(a), np.full((2, 2), 3e38, np.float32), out, None)
    assert np.all(np.isinf(out))


def bad_calls():
    f32, f64 = np.float32, np.float64
    p = _core._panel_pack(np.ones((13, 4), f32))
    h = np.ones((4, 3), f32)
    c = np.ones((13, 3), f32)
    wide = np.ones((4, 6), f32)
    yield (p, h.astype(f64), None), TypeError, "argument 'h' has dtype float64 but 'p' has dtype float32"
    yield (p, h.astype(np.int32), None), TypeError, "argument 'h' has dtype int32; it must be float32 or float64"
    yield (p, h, c.astype(f64)), TypeError, "argument 'c' has dtype float64"
    yield (p.reshape(2, -1), h, None), ValueError, "argument 'p' must be 3-dimensional, not 2-dimensional"
    yield (p[:, :, :6], h, None), ValueError, "argument 'p' must be a C-contiguous (panels, K, 12) array"
    yield (p, np.ones((5, 3), f32), None), ValueError, "argument 'h' has shape (5, 3), expected (K, B) = (4, 3)"
    yield (p, h, np.ones((13, 2), f32)), ValueError, "argument 'c' has shape (13, 2), expected that of 'out'"
    yield (p, wide[:, ::2], None), ValueError, "argument 'h' must be aligned with a unit column stride"
    yield (p, h, np.ones((13, 6), f32)[:, ::2]), ValueError, "argument 'c' must be aligned with a unit column"
    yield (p, h, "c"), TypeError, "argument 'c' must be a numpy.ndarray, not str"
    yield (p, [[1.0]], None), TypeError, "argument 'h' must be a numpy.ndarray, not list"


@pytest.mark.parametrize("args, error, message", list(bad_calls()))
def test_bad_arguments_name_the_argument_and_write_nothing(args, error, message):
    out = np.full((13, 3), -1.0, np.float32)
    with pytest.raises(error, match="^_panel_matmul\\(\\): " + message.replace("(", "\\(").replace(")", "\\)")):
        _core._panel_matmul(args[0], args[1], out, args[2])
    assert np.all(out == -1)


def test_out_is_checked_and_never_written_on_failure():
    p = _core._panel_pack(np.ones((13, 4), np.float32))
    h = np.ones((4, 3), np.float32)
    for rows in (12, 25):
        out = np.full((rows, 3), -1.0, np.float32)
        with pytest.raises(ValueError, match=rf"^_panel_matmul\(\): argument 'out' has {rows} rows, but 'p' packs "
                                             r"2 panels of 12 rows"):
            _core._panel_matmul(p, h, out, None)
        assert np.all(out == -1)
    ro = np.full((13, 3), -1.0, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"^_panel_matmul\(\): output 'out' is read-only"):
        _core._panel_matmul(p, h, ro, None)
    # out overlapping h, or c other than as the very same region
    big = np.full((13, 4), -1.0, np.float32)
    with pytest.raises(ValueError, match=r"^_panel_matmul\(\): output 'out' overlaps 'c'"):
        _core._panel_matmul(p, h, big[:, :3], big[:, 1:])
    assert np.all(big == -1)
    hb = np.ones((13, 3), np.float32)
    with pytest.raises(ValueError, match=r"^_panel_matmul\(\): output 'out' overlaps 'h'"):
        _core._panel_matmul(p, hb[:4], hb, None)
    with pytest.raises(TypeError, match=r"^_panel_matmul\(\) takes 4 positional arguments but 3 were given"):
        _core._panel_matmul(p, h, big[:, :3])
    with pytest.raises(TypeError, match=r"^_panel_pack\(\): argument 'a' must be a numpy.ndarray, not list"):
        _core._panel_pack([[1.0]])
    with pytest.raises(ValueError, match=r"^_panel_pack\(\): argument 'a' must be 2-dimensional"):
        _core._panel_pack(np.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiled_copies_are_the_copies(dtype, isa):
    """_copy_tiled(dst, src) leaves dst equal to NumPy's copy, bit for bit,
    and nothing around it touched: transposes (blocks in registers, their
    edges, tiles of 32) of every shape around 4, 8 and 32, a 3-D stack,
    slices of wider arrays on either side, and layouts that are not
    transposes."""
    rng = np.random.default_rng(3)
    shapes = [(r, c) for r in (1, 3, 4, 7, 8, 9, 31, 32, 33, 70) for c in (1, 4, 5, 8, 15, 32, 41)]
    for shape in shapes + [(3, 40, 17), (2, 9, 64)]:
        nd = len(shape)
        swap = tuple(range(nd - 2)) + (nd - 1, nd - 2)
        base = rng.standard_normal(tuple(shape[i] for i in swap)).astype(dtype)
        sources = {
            "transposed view": base.transpose(swap),
            "transposed slice": np.concatenate([base, base], axis=-1)[..., 1:1 + shape[-2]].transpose(swap),
            "contiguous": np.ascontiguousarray(base.transpose(swap)),
            "every second column": np.repeat(np.ascontiguousarray(base.transpose(swap)), 2, axis=-1)[..., ::2],
        }
        for name, src in sources.items():
            assert src.shape == shape
            wide = np.full(shape[:-1] + (shape[-1] + 5,), -7.0, dtype)
            dst = wide[..., 2:2 + shape[-1]]
            _core._copy_tiled(dst, src)
            np.testing.assert_array_equal(dst, src, err_msg=f"{name}, {shape}")
            assert np.all(wide[..., :2] == -7) and np.all(wide[..., 2 + shape[-1]:] == -7), (name, shape)
            # and into a transposed destination
            dt = np.full(tuple(shape[i] for i in swap), -7.0, dtype)
            _core._copy_tiled(dt.transpose(swap), src)
            np.testing.assert_array_equal(dt.transpose(swap), src, err_msg=f"{name}, {shape}, into a view")


@pytest.mark.parametrize("dtype", DTYPES)
def test_packing_into_a_given_array(dtype):
    """_panel_pack(a) and _panel_pack(a, out) give the documented layout,
    built here with NumPy: panel p holds rows 12 p to 12 p + 11 column by
    column, the rows past M zeros; out is filled whatever it held and
    returned; a wrong out raises and is left as it was."""
    rng = np.random.default_rng(8)
    for M, K in ((13, 7), (24, 5), (1, 3), (37, 40)):
        a = rng.standard_normal((K, M)).astype(dtype).T
        P = -(-M // MR)
        want = np.zeros((P * MR, K), dtype)
        want[:M] = a
        want = want.reshape(P, MR, K).transpose(0, 2, 1)
        np.testing.assert_array_equal(_core._panel_pack(a), want)
        out = np.full(want.shape, np.nan, dtype)
        assert _core._panel_pack(a, out) is out
        np.testing.assert_array_equal(out, want)
    a = np.ones((13, 4), dtype)
    other = np.float32 if dtype == np.float64 else np.float64
    cases = [
        (np.zeros((2, 4, MR), other), TypeError, "argument 'out' has dtype"),
        (np.zeros((2, 5, MR), dtype), ValueError, r"argument 'out' must be a writeable, aligned, C-contiguous "
                                                  r"array of shape \(2, 4, 12\)"),
        (np.zeros((1, 4, MR), dtype), ValueError, r"of shape \(2, 4, 12\)"),
        (np.zeros((2, 4, 2 * MR), dtype)[:, :, ::2], ValueError, "C-contiguous"),
        (np.zeros((2, 4 * MR), dtype), ValueError, "argument 'out' must be 3-dimensional"),
        ("out", TypeError, "argument 'out' must be a numpy.ndarray, not str"),
    ]
    for out, error, message in cases:
        before = out.copy() if isinstance(out, np.ndarray) else None
        with pytest.raises(error, match=r"^_panel_pack\(\): .*" + message):
            _core._panel_pack(a, out)
        if before is not None:
            np.testing.assert_array_equal(out, before)
    ro = np.zeros((2, 4, MR), dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"^_panel_pack\(\): argument 'out' must be a writeable"):
        _core._panel_pack(a, ro)
    buf = np.zeros(2 * 4 * MR + 13 * 4, dtype)
    with pytest.raises(ValueError, match=r"^_panel_pack\(\): output 'out' overlaps 'a'"):
        _core._panel_pack(buf[:13 * 4].reshape(13, 4), buf[13 * 4 - 8:-8].reshape(2, 4, MR))
    with pytest.raises(TypeError, match=r"^_panel_pack\(\) takes 1 or 2 positional arguments but 3 were given"):
        _core._panel_pack(a, None, None)


def test_tiled_copy_checks_its_arguments_and_writes_nothing():
    f32 = np.float32
    dst = np.full((4, 3), -1.0, f32)
    cases = [
        ((dst, np.ones((4, 3))), TypeError, r"argument 'src' has dtype float64 but 'dst' has dtype float32"),
        ((dst, np.ones((3, 4), f32)), ValueError, r"'src' and 'dst' must have the same shape"),
        ((dst, np.ones((4, 3), np.int32)), TypeError, r"argument 'src' has dtype int32; it must be float32"),
        ((dst, [[1.0]]), TypeError, r"arguments 'dst' and 'src' must be numpy.ndarrays"),
        ((dst, np.ones((2, 4, 3), f32)), ValueError, r"argument 'src' must be 2-dimensional, not 3-dimensional"),
        ((dst, dst.T.T), ValueError, r"output 'dst' overlaps 'src'"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=r"^_copy_tiled\(\): " + message):
            _core._copy_tiled(*args)
        assert np.all(dst == -1)
    ro = np.full((4, 3), -1.0, f32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"^_copy_tiled\(\): output 'dst' is read-only"):
        _core._copy_tiled(ro, np.ones((4, 3), f32))
    with pytest.raises(TypeError, match=r"^_copy_tiled\(\) takes 2 positional arguments but 1 were given"):
        _core._copy_tiled(dst)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [2, 9, 16])
def test_layers_through_the_panel_kernel_match_the_blas(kind, dtype, batch, monkeypatch, isa):
    """The layers' outputs and every gradient, with the per-step products
    forced through the panel kernel and forced through the BLAS, agree to
    rounding: for both layouts (input at least as wide as the hidden state
    or not), with a bias, and with lengths (steps that leave the state)."""
    cls = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}[kind]
    rng = np.random.default_rng(batch)
    for I, H in ((24, 16), (8, 20)):
        m = cls(I, H, dtype=dtype, rng=np.random.default_rng(1))
        x = rng.standard_normal((7, batch, I)).astype(dtype)
        g = rng.standard_normal((7, batch, H)).astype(dtype)
        lengths = rng.integers(1, 8, batch)
        results = []
        # both passes' products through the kernel, and the backward pass's
        # products over every step (_long_panel) too; the forward pass's
        # only (as for the batches between PANEL_BATCH and
        # PANEL_FORWARD_UP_TO); neither
        for use in ((True, True, True), (True, True, False), (True, False, False), (False, False, False)):
            monkeypatch.setattr(R, "_panel_products", lambda B, dtype, forward=False, shape=None, use=use: use[not forward])
            monkeypatch.setattr(R, "_long_panel", lambda M, K, N, dtype, use=use: use[2])
            m.zero_grad()
            y, state = m(x, lengths=lengths)
            dx = m.backward(g * (np.arange(7)[:, None] < lengths)[:, :, None])[0]
            results.append([y, dx] + [p.grad.copy() for p in m.parameters()])
        tol = {np.float32: 2e-5, np.float64: 1e-12}[dtype]
        for other in results[:3]:
            for a, b in zip(other, results[3]):
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
