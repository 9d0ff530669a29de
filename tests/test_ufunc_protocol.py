"""The ufuncs behave as NumPy ufuncs: promotion, out=, where=, casting,
broadcasting, views and strides, sizes, errors and __array_ufunc__."""
import sys

import numpy as np
import pytest

import sigmoid
from sigmoid import _core
from test_api import UFUNCS_1, UFUNCS_2

ALL = UFUNCS_1 + UFUNCS_2
INT_TYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]


def f_(name):
    return getattr(sigmoid, name)


def sample(name, n, dtype, rng):
    """Valid-domain inputs for function `name` (tuple of arrays)."""
    if name in ("logit", "sigmoid_backward_from_output"):
        # uniform on [0, 1): in float16 about 1 draw in 16,000 is subnormal,
        # which NumPy's cast reports as an underflow; those are inputs too
        with np.errstate(under="ignore"):
            p = rng.uniform(0, 1, n).astype(dtype)
        return (p,) if name == "logit" else (p, rng.standard_normal(n).astype(dtype))
    x = (4 * rng.standard_normal(n)).astype(dtype)
    if name in UFUNCS_2:
        return (x, rng.standard_normal(n).astype(dtype))
    return (x,)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dt", INT_TYPES)
def test_integer_and_bool_inputs_promote_as_numpy_exp(name, dt):
    f = f_(name)
    x = np.array([0, 1, 1, 0], dtype=dt)
    args = (x,) * f.nin
    ref = np.exp(x) if f.nin == 1 else np.arctan2(x, x)
    y = f(*args)
    assert y.dtype == ref.dtype
    np.testing.assert_array_equal(y, f(*(a.astype(ref.dtype) for a in args)))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dt", FLOATS)
def test_dtype_in_is_dtype_out(name, dt):
    f = f_(name)
    args = sample(name, 33, dt, np.random.default_rng(0))
    assert f(*args).dtype == dt
    assert type(f(*(a[0] for a in args))) is dt
    # Python floats are weak scalars (NEP 50): they keep the array's dtype
    if f.nin == 2:
        assert f(args[0], 0.5).dtype == dt


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    "bad",
    [
        np.array([1 + 2j]),
        np.array([1 + 2j], dtype=np.complex64),
        np.array([1], dtype=object),
        np.array(["a"]),
        np.array([b"a"]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.array([1.0], dtype=np.longdouble),
    ],
    ids=lambda a: str(a.dtype),
)
def test_unsupported_dtypes_raise_typeerror_naming_function_and_dtype(name, bad):
    f = f_(name)
    for position in range(f.nin):
        args = [np.array([0.5])] * f.nin
        args[position] = bad
        with pytest.raises(TypeError) as info:
            f(*args)
        msg = str(info.value)
        assert msg.startswith(f"{name}(): argument")
        assert str(bad.dtype) in msg


@pytest.mark.parametrize("name", ALL)
def test_out_where_dtype_casting(name):
    f = f_(name)
    rng = np.random.default_rng(1)
    args = sample(name, 50, np.float64, rng)
    full = f(*args)
    out = np.full(50, -7.0)
    r = f(*args, out=out)
    assert r is out
    np.testing.assert_array_equal(out, full)
    # where=: untouched elsewhere
    mask = rng.random(50) < 0.5
    out = np.full(50, -7.0)
    f(*args, out=out, where=mask)
    np.testing.assert_array_equal(out[mask], full[mask])
    assert np.all(out[~mask] == -7.0)
    # dtype= selects the loop
    y32 = f(*args, dtype=np.float32)
    assert y32.dtype == np.float32
    np.testing.assert_array_equal(y32, f(*(a.astype(np.float32) for a in args)))
    # casting: float64 into a float32 out needs same_kind (the default) ...
    out32 = np.empty(50, np.float32)
    f(*args, out=out32)
    np.testing.assert_array_equal(out32, full.astype(np.float32))
    # ... and is refused under casting="no", leaving out untouched
    out32[:] = 3
    with pytest.raises(TypeError):
        f(*args, out=out32, casting="no")
    assert np.all(out32 == 3)
    # order= and subok= are accepted
    assert f(*args, order="F", subok=False).shape == (50,)


@pytest.mark.parametrize("name", ALL)
def test_bad_out_is_refused_and_left_untouched(name):
    f = f_(name)
    args = sample(name, 8, np.float64, np.random.default_rng(2))
    wrong_shape = np.full(7, 5.0)
    with pytest.raises(ValueError):
        f(*args, out=wrong_shape)
    assert np.all(wrong_shape == 5.0)
    wrong_dtype = np.full(8, 5, dtype=np.int64)
    with pytest.raises(TypeError):
        f(*args, out=wrong_dtype)
    assert np.all(wrong_dtype == 5)
    readonly = np.full(8, 5.0)
    readonly.flags.writeable = False
    with pytest.raises(ValueError):
        f(*args, out=readonly)
    assert np.all(readonly == 5.0)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dt", FLOATS)
def test_views_strides_in_place_and_broadcasting(name, dt):
    f = f_(name)
    rng = np.random.default_rng(3)
    args = sample(name, 3000, dt, rng)
    want = f(*args)
    # reversed, strided, 2-D non-contiguous views
    np.testing.assert_array_equal(f(*(a[::-1] for a in args)), want[::-1])
    np.testing.assert_array_equal(f(*(a[::3] for a in args)), want[::3])
    np.testing.assert_array_equal(f(*(a[::-7] for a in args)), want[::-7])
    a2 = [a.reshape(60, 50) for a in args]
    np.testing.assert_array_equal(f(*(a.T for a in a2)), want.reshape(60, 50).T)
    # strided output
    big = np.zeros(6000, dt)
    f(*args, out=big[::2])
    np.testing.assert_array_equal(big[::2], want)
    assert np.all(big[1::2] == 0)
    # every second element in and out (a path of its own), over more than
    # one packed block of 4096 elements, with a partial last block
    long = sample(name, 2 * 4500 + 1, dt, rng)
    want_long = f(*long)[::2]
    big = np.zeros(2 * want_long.size, dt)
    f(*(a[::2] for a in long), out=big[::2])
    np.testing.assert_array_equal(big[::2], want_long)
    assert np.all(big[1::2] == 0)
    # in place, on every argument
    for i in range(f.nin):
        work = [a.copy() for a in args]
        f(*work, out=work[i])
        np.testing.assert_array_equal(work[i], want)
    # broadcasting
    if f.nin == 2:
        x, g = args
        col = f(x[:40, None], g[None, :30])
        assert col.shape == (40, 30)
        np.testing.assert_array_equal(col[:, 7], f(x[:40], g[7]))
        np.testing.assert_array_equal(f(x, g[5]), f(x, np.full_like(x, g[5])))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dt", FLOATS)
def test_every_length_matches_elementwise(name, dt):
    """Lengths around the vector widths, blocks and the pipeline depth: the
    tail handling must give the same answer as one element at a time."""
    f = f_(name)
    rng = np.random.default_rng(4)
    args = sample(name, 1100, dt, rng)
    one_by_one = np.array([f(*(a[i] for a in args)) for i in range(1100)], dtype=dt)
    for n in list(range(0, 70)) + [127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 1100]:
        np.testing.assert_array_equal(f(*(a[:n] for a in args)), one_by_one[:n])
    # every second element in and out, packed and unpacked a vector at a
    # time (up to 16 elements with AVX-512) with a tail of single ones or a
    # shorter mask
    for n in list(range(0, 50)) + [255, 256, 257, 549, 550]:
        out = np.zeros(2 * n, dt)
        f(*(a[: 2 * n : 2] for a in args), out=out[::2])
        np.testing.assert_array_equal(out[::2], one_by_one[: 2 * n : 2])
        assert np.all(out[1::2] == 0)


@pytest.mark.parametrize("name", ALL)
def test_zero_size_and_zero_d(name):
    f = f_(name)
    empty = f(*([np.empty((0, 3))] * f.nin))
    assert empty.shape == (0, 3)
    zero_d = f(*([np.array(0.25)] * f.nin))
    assert isinstance(zero_d, np.float64)
    assert f(*([np.array(0.25)] * f.nin), out=np.empty(())).shape == ()


def test_numpy_and_python_scalars():
    assert sigmoid.sigmoid(0) == 0.5
    assert sigmoid.sigmoid(0.0) == 0.5
    assert sigmoid.sigmoid(np.float32(0)) == np.float32(0.5)
    assert sigmoid.sigmoid([0.0, 0.0]).tolist() == [0.5, 0.5]


class Recorder:
    """A duck array that records the __array_ufunc__ calls it receives."""

    def __init__(self, data):
        self.data = np.asarray(data)
        self.calls = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        self.calls.append((ufunc, method))
        unwrapped = [i.data if isinstance(i, Recorder) else i for i in inputs]
        return Recorder(getattr(ufunc, method)(*unwrapped, **kwargs))


@pytest.mark.parametrize("name", ALL)
def test_array_ufunc_dispatch(name):
    f = f_(name)
    r = Recorder([0.25, 0.5])
    out = f(*([r] * f.nin))
    assert isinstance(out, Recorder)
    assert r.calls[0] == (f, "__call__")
    np.testing.assert_array_equal(out.data, f(*([np.array([0.25, 0.5])] * f.nin)))


def test_dask_dispatch():
    da = pytest.importorskip("dask.array", reason="dask is not installed")
    x = np.linspace(-5, 5, 1000)
    d = da.from_array(x, chunks=100)
    lazy = sigmoid.sigmoid(d)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), sigmoid.sigmoid(x))
    g = da.from_array(np.ones_like(x), chunks=100)
    np.testing.assert_array_equal(sigmoid.silu_backward(d, g).compute(), sigmoid.silu_backward(x, 1.0))


def test_xarray_dispatch():
    xr = pytest.importorskip("xarray", reason="xarray is not installed")
    a = xr.DataArray(np.linspace(-3, 3, 7), dims="t", coords={"t": np.arange(7)})
    y = sigmoid.sigmoid(a)
    assert isinstance(y, xr.DataArray)
    assert y.dims == ("t",)
    np.testing.assert_array_equal(y.values, sigmoid.sigmoid(a.values))


def test_reduce_and_accumulate_are_refused_for_unary():
    with pytest.raises(ValueError):
        sigmoid.sigmoid.reduce(np.ones(3))


@pytest.mark.slow
@pytest.mark.skipif(sys.maxsize < 2**40, reason="needs a 64-bit address space")
def test_more_than_2_to_the_31_elements():
    """Loop counters and thread chunks are 64-bit: 2**31 + 40 float16 results
    (4 GiB) from a broadcast input.  Checks both ends and the middle."""
    n = 2**31 + 40
    x = np.broadcast_to(np.float16(-1.0), (n,))
    out = np.empty(n, dtype=np.float16)
    sigmoid.hard_sigmoid(x, out=out)
    want = np.float16(1 / 3)  # (-1 + 3) / 6 rounded to float16
    assert out[0] == want and out[-1] == want and out[n // 2] == want
    assert out[2**31 - 1] == want and out[2**31] == want
    del out


def test_without_ml_dtypes_nothing_changes():
    """bfloat16 loops appear only where ml_dtypes is installed; without it
    the import and every other dtype work as before."""
    import subprocess

    code = ("import sys; sys.modules['ml_dtypes'] = None\n"
            "import numpy as np, sigmoid\n"
            "assert sigmoid.sigmoid(np.float32(0)) == 0.5\n"
            "print(sorted(sigmoid.sigmoid.types))")
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['d->d', 'e->e', 'f->f']"


@pytest.mark.parametrize("first", ["sigmoid", "ml_dtypes"])
def test_bfloat16_loops_whichever_is_imported_first(first):
    """``import sigmoid`` does not import ml_dtypes (0.6 s); the bfloat16
    loops are registered when ml_dtypes is imported, before or after."""
    pytest.importorskip("ml_dtypes")
    import subprocess

    other = "ml_dtypes" if first == "sigmoid" else "sigmoid"
    code = (f"import sys, numpy as np\nimport {first}\n"
            "lazy = 'ml_dtypes' not in sys.modules\n"
            f"import {other}\nimport ml_dtypes, sigmoid\n"
            "x = np.array([1.0, -0.5], dtype=ml_dtypes.bfloat16)\n"
            "y = sigmoid.sigmoid(x)\n"
            "assert np.array_equal(y.astype(np.float64), [0.73046875, 0.376953125])\n"   # sigma rounded to bfloat16
            "print(lazy, y.dtype, sigmoid.silu(x).dtype)")
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lazy, *dtypes = r.stdout.split()
    assert lazy == str(first == "sigmoid")
    assert dtypes == ["bfloat16", "bfloat16"]



class _GuardedPage:
    """A page of memory followed by an inaccessible one: a read past the
    page's end faults.  `tail(dt, m)` is a view of m elements, every second
    one, whose last element ends the page."""

    def __init__(self):
        import ctypes
        import mmap

        self.size = mmap.PAGESIZE
        self.mm = mmap.mmap(-1, 2 * self.size)
        self.buf = np.frombuffer(self.mm, dtype=np.uint8)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self._protect(0)  # PROT_NONE

    def _protect(self, prot):
        import ctypes

        if self.libc.mprotect(self.buf.ctypes.data + self.size, self.size, prot) != 0:
            raise OSError(ctypes.get_errno(), "mprotect")

    def tail(self, dt, m):
        whole = self.buf[: self.size].view(dt)
        return whole[whole.size - 2 * m + 1 :: 2]

    def close(self):
        self._protect(3)  # PROT_READ | PROT_WRITE; the mapping goes with its last view


@pytest.mark.skipif(sys.platform != "linux", reason="mprotect through the C library")
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_every_second_element_is_read_within_the_view(name, dt):
    """The packing of a[::2] loads several elements at a time and the
    unpacking stores them a vector at a time: on views whose last element
    ends a page followed by an inaccessible one, neither may touch memory
    past that element (a fault would end the process)."""
    f = f_(name)
    pages = [_GuardedPage() for _ in range(f.nin + 1)]
    try:
        n = pages[0].size // np.dtype(dt).itemsize // 2
        args = sample(name, n, dt, np.random.default_rng(5))
        want = np.array([f(*(a[i] for a in args)) for i in range(n)], dtype=dt)
        for m in (n, n - 1, n - 2, n - 3, n - 15, n - 16, n - 17, 33, 18, 17, 16, 15, 9, 5, 4, 3, 1):
            views = [pg.tail(dt, m) for pg in pages]
            for v, a in zip(views, args):
                v[...] = a[:m]
            assert views[0].strides == (2 * np.dtype(dt).itemsize,)
            np.testing.assert_array_equal(f(*views[:-1]), want[:m])
            whole = pages[-1].buf[: pages[-1].size].view(dt)
            whole[...] = 0
            out = views[-1]
            assert f(*views[:-1], out=out) is out
            np.testing.assert_array_equal(out, want[:m])
            start = whole.size - 2 * m + 1   # out's first element
            assert np.all(whole[:start] == 0) and np.all(whole[start + 1 :: 2] == 0)
    finally:
        for pg in pages:
            pg.close()


def _widen_16bit_reference(bits, bf):
    """16-bit patterns as doubles, by NumPy: float16's own widening, or
    bfloat16's bits as the top half of a float32's."""
    with np.errstate(invalid="ignore"):   # signalling NaNs are quieted
        if not bf:
            return bits.view(np.float16).astype(np.float64)
        return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def _round_16bit_reference(x, bf):
    """Finite or infinite doubles rounded to nearest, ties to even, as
    float16 or bfloat16 bits, in double arithmetic: x is scaled by a power of
    two so that the 16-bit ulp of its binade (at least the smallest
    subnormal's) is 1, rounded by np.rint (ties to even) and scaled back,
    both exactly; beyond the largest finite value it is infinite."""
    p, emin, top = (11, -14, 65504.0) if not bf else (8, -126, float(np.ldexp(2 - 2.0 ** -7, 127)))
    _, e = np.frexp(x)
    u = np.maximum(e - 1, emin) - (p - 1)
    with np.errstate(over="ignore"):
        y = np.ldexp(np.rint(np.ldexp(x, -u)), u)
    y = np.where(np.abs(y) > top, np.copysign(np.inf, x), y)
    if not bf:
        return y.astype(np.float16).view(np.uint16)
    return (y.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _doubles_around_16bit(bf, rng):
    """Doubles that test a rounding to float16 (bf False) or bfloat16: every
    finite 16-bit value, the midpoints between neighbours (ties), a double
    ulp either side of each midpoint, random doubles over the type's range
    and beyond, the overflow threshold, zeros, infinities and NaNs with
    payloads of both signs."""
    wide = _widen_16bit_reference(np.arange(1 << 16, dtype=np.uint16), bf)
    fin = np.sort(np.unique(wide[np.isfinite(wide)]))
    mid = (fin[:-1] + fin[1:]) / 2          # exact: a 16-bit value has few bits
    top = fin[-1] + (fin[-1] - fin[-2]) / 2  # halfway to the next binade's first step: overflows
    span = (-30, 20) if not bf else (-140, 130)
    rand = rng.uniform(1, 2, 200_000) * np.exp2(rng.integers(*span, 200_000)) * rng.choice([-1, 1], 200_000)
    nan_bits = np.array([0x7FF8000000000000, 0x7FF0000000000001, 0x7FF4000000000000, 0xFFF8000000000123,
                         0x7FFFFFFFFFFFFFFF, 0xFFF0080000000000], dtype=np.uint64).view(np.float64)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324, 2.0 ** -1022, np.finfo(np.float64).max])
    return np.concatenate([wide[np.isfinite(wide)], mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf),
                           [top, np.nextafter(top, 0), -top, -np.nextafter(top, 0)], rand, nan_bits, special])


@pytest.mark.parametrize("bf", [False, True], ids=["float16", "bfloat16"])
def test_16_bit_blocks_convert_like_the_scalar_code(bf, isa):
    """The loops' 16-bit conversions, vector code on avx2 and avx512: every
    16-bit pattern widens to the same double as the portable (scalar) code,
    and every double of _doubles_around_16bit rounds to the same bits, ties
    and NaN payloads included; both also against NumPy (its float16
    conversions, and the references above)."""
    rng = np.random.default_rng(16)
    bits = np.arange(1 << 16, dtype=np.uint16)
    x = _doubles_around_16bit(bf, rng)
    # every length from 0 to 20: the vector loops' tails
    got_w = _core._from_16bit(bits, bf)
    got_r, got_c = _core._to_16bit(x, bf)
    tails = [_core._to_16bit(x[:n].copy(), bf) for n in range(21)]
    old = _core._get_isa()
    try:
        _core._set_isa("portable")
        want_w = _core._from_16bit(bits, bf)
        want_r, want_c = _core._to_16bit(x, bf)
    finally:
        _core._set_isa(old)
    np.testing.assert_array_equal(got_w.view(np.uint64), want_w.view(np.uint64))
    np.testing.assert_array_equal(got_r, want_r)
    np.testing.assert_array_equal(got_c, want_c)
    for n, (t, c) in enumerate(tails):
        np.testing.assert_array_equal(t, want_r[:n])
        np.testing.assert_array_equal(c, want_c[want_c < n])
    # the candidates for the exact boundary test: every midpoint between
    # neighbouring 16-bit values, by the bits below the 16-bit ulp
    # (shifted into the smallest normal binade below it), few others
    wide = _widen_16bit_reference(np.arange(1 << 16, dtype=np.uint16), bf)
    fin = np.unique(wide[np.isfinite(wide)])
    mids = (fin[:-1] + fin[1:]) / 2
    tiny = 2.0**-126 if bf else 2.0**-14
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        a = np.where(a < tiny, a + tiny, a)
    low, mid = ((1 << 45) - 1, 1 << 44) if bf else ((1 << 42) - 1, 1 << 41)
    np.testing.assert_array_equal(got_c, np.flatnonzero((a.view(np.uint64) & np.uint64(low)) == np.uint64(mid)))
    listed = np.zeros(x.size, bool)
    listed[got_c] = True
    at_mid = np.isin(np.abs(x), mids)
    assert listed[at_mid].all() and np.count_nonzero(listed) < 2 * np.count_nonzero(at_mid)
    fin = ~np.isnan(x)
    np.testing.assert_array_equal(got_r[fin], _round_16bit_reference(x[fin], bf))
    ref_w = _widen_16bit_reference(bits, bf)
    ok = ~np.isnan(ref_w)
    np.testing.assert_array_equal(got_w[ok].view(np.uint64), ref_w[ok].view(np.uint64))
    assert np.all(np.isnan(got_w[~ok]))
    if not bf:
        with np.errstate(over="ignore", under="ignore"):   # NumPy rounding to infinity or zero
            np.testing.assert_array_equal(got_r[fin], x[fin].astype(np.float16).view(np.uint16))
    # NaN stays NaN with its sign and top payload bits, quieted
    nan = np.isnan(x)
    assert nan.sum() >= 6
    exp16 = 0x7C00 if not bf else 0x7F80
    quiet = 0x0200 if not bf else 0x0040
    r = got_r[nan]
    assert np.all((r & exp16) == exp16) and np.all(r & quiet)
    assert np.array_equal(r >> 15, (x[nan].view(np.uint64) >> 63).astype(np.uint16))


def _unsure_reference(f, bf):
    """The floats the 16-bit loops compute again, from NumPy alone: NaN, and
    those whose bits below the 16-bit rounding position read as a midpoint
    (float16 below 2^-14: after adding 2^-14, where the spacing is fixed)."""
    a = np.abs(f.astype(np.float32))
    if not bf:
        with np.errstate(invalid="ignore", over="ignore"):
            a = np.where(a < np.float32(2.0**-14), a + np.float32(2.0**-14), a).astype(np.float32)
    low, mid = (0xFFFF, 0x8000) if bf else (0x1FFF, 0x1000)
    return np.isnan(f) | ((a.view(np.uint32) & low) == mid)


@pytest.mark.parametrize("bf", [False, True], ids=["float16", "bfloat16"])
def test_16_bit_blocks_convert_floats_like_the_scalar_code(bf, isa):
    """The float conversions of the one-argument 16-bit loops: every 16-bit
    pattern widens to the float NumPy's widening gives; floats (every 16-bit
    value, every midpoint between neighbours and the floats either side,
    random floats, the overflow threshold, NaNs) round to the bits of the
    portable code and of NumPy's rounding, and the positions listed for
    recomputation are the NaNs and the floats whose low bits read as a
    midpoint, every midpoint among them, at every length from 0 to 20."""
    rng = np.random.default_rng(32)
    bits = np.arange(1 << 16, dtype=np.uint16)
    ref_w = _widen_16bit_reference(bits, bf)
    got_w = _core._from_16bit(bits, bf, True)
    assert got_w.dtype == np.float32
    ok = ~np.isnan(ref_w)
    np.testing.assert_array_equal(got_w[ok].astype(np.float64), ref_w[ok])
    assert np.isnan(got_w[~ok]).all()
    fin = np.sort(np.unique(ref_w[np.isfinite(ref_w)]))
    mid = ((fin[:-1] + fin[1:]) / 2).astype(np.float32)   # exact: 12 or 9 significant bits
    assert np.array_equal(mid.astype(np.float64), (fin[:-1] + fin[1:]) / 2)
    top = np.float32(fin[-1] + (fin[-1] - fin[-2]) / 2)
    span = (-30, 20) if not bf else (-140, 128)
    with np.errstate(under="ignore"):   # float subnormals among them
        rand = (rng.uniform(1, 2, 200_000) * np.exp2(rng.integers(*span, 200_000))
                * rng.choice([-1, 1], 200_000)).astype(np.float32)
    nans = np.array([0x7FC00000, 0x7F800001, 0xFFC00123, 0x7FFFFFFF, 0xFF808000, 0x7FC08000],
                    dtype=np.uint32).view(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 2.0**-126], dtype=np.float32)
    with np.errstate(under="ignore"):   # nextafter into the float subnormals
        x = np.concatenate([ref_w[np.isfinite(ref_w)].astype(np.float32), mid, np.nextafter(mid, np.float32(np.inf)),
                            np.nextafter(mid, np.float32(-np.inf)), [top, np.nextafter(top, np.float32(0)), -top],
                            rand, nans, special]).astype(np.float32)
    got, unsure = _core._to_16bit(x, bf)
    tails = [_core._to_16bit(x[:n].copy(), bf) for n in range(21)]
    old = _core._get_isa()
    try:
        _core._set_isa("portable")
        want, want_unsure = _core._to_16bit(x, bf)
    finally:
        _core._set_isa(old)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(unsure, want_unsure)
    for n, (t, u) in enumerate(tails):
        np.testing.assert_array_equal(t, want[:n])
        np.testing.assert_array_equal(u, want_unsure[want_unsure < n])
    f = ~np.isnan(x)
    np.testing.assert_array_equal(got[f], _round_16bit_reference(x[f].astype(np.float64), bf))
    np.testing.assert_array_equal(unsure, np.flatnonzero(_unsure_reference(x, bf)))
    listed = np.zeros(x.size, bool)
    listed[unsure] = True
    at_mid = np.isin(x, mid) | np.isin(x, -mid) | np.isin(x, [top, -top])
    assert listed[at_mid].all() and listed[np.isnan(x)].all()
    assert np.count_nonzero(listed) < 2 * np.count_nonzero(at_mid)   # few others
