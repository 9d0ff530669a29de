"""sigmoid.attention, attention_backward and nn.MultiheadAttention.

The reference is the formula itself, written out in float64 NumPy with the
(L, S) matrix of weights formed (the thing the library avoids); gradients
are checked against that formula's own derivatives and against float64
central differences of it, and, where PyTorch is installed, against
``scaled_dot_product_attention``, autograd and ``nn.MultiheadAttention``.
"""
import math
import tracemalloc

import numpy as np
import pytest
from numdiff import central_differences

import sigmoid
from sigmoid import _attention, attention, attention_backward
from sigmoid.nn import Module, MultiheadAttention, gradcheck


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")


# ----------------------------------------------------------------- reference

def ref_sigma(x):
    """1/(1 + e^-x) as e^(-log(1 + e^-x)), stable for any x (NumPy only)."""
    return np.exp(-np.logaddexp(0.0, -x))


def reference(q, k, v, score="softmax", bias=None, scale=None, causal=False, mask=None):
    """The output, the weights P, the scores (bias included for the
    sigmoid) and the pairs taking part, from the formula in float64."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    c = 1 / math.sqrt(E) if scale is None else scale
    s = c * (q @ np.swapaxes(k, -1, -2))
    keep = np.ones(s.shape, bool)
    if mask is not None:
        if mask.dtype == bool:
            keep = keep & mask
        else:
            s = s + mask
    if causal:
        keep = keep & np.tri(L, S, dtype=bool)
    with np.errstate(under="ignore", invalid="ignore", divide="ignore", over="ignore"):
        if score == "softmax":
            sm = np.where(keep, s, -np.inf)
            m = np.max(sm, axis=-1, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
            e = np.exp(sm - m)
            z = np.sum(e, axis=-1, keepdims=True)
            P = np.where(z == 0, 0, e / np.where(z == 0, 1, z))     # no key: 0; NaN stays NaN
        else:
            s = s + (-math.log(S) if bias is None else bias)
            P = np.where(keep, ref_sigma(s), 0)
    return P @ v, P, s, keep, c


def _sum_to(a, shape):
    """Sum a broadcast gradient back to an input's shape."""
    lead = a.ndim - len(shape)
    a = a.sum(axis=tuple(range(lead))) if lead else a
    return a.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and a.shape[i] != 1), keepdims=True)


def reference_grads(q, k, v, dout, **kw):
    """dq, dk, dv of the formula: dV = P^T dO, dP = dO V^T, dS from the
    weights' derivative (softmax: P (dP - rowsum(P dP)); sigmoid: sigma'),
    dQ = c dS K, dK = c dS^T Q."""
    out, P, s, keep, c = reference(q, k, v, **kw)
    dout = np.asarray(dout, np.float64)
    q64, k64, v64 = (np.asarray(a, np.float64) for a in (q, k, v))
    dv = np.swapaxes(P, -1, -2) @ dout
    dP = dout @ np.swapaxes(v64, -1, -2)
    with np.errstate(invalid="ignore"):
        if kw.get("score", "softmax") == "softmax":
            dS = P * (dP - np.sum(P * dP, axis=-1, keepdims=True))
        else:
            dS = np.where(keep, ref_sigma(s) * ref_sigma(-s) * dP, 0)
    dq = c * dS @ k64
    dk = c * np.swapaxes(dS, -1, -2) @ q64
    return _sum_to(dq, q.shape), _sum_to(dk, k.shape), _sum_to(dv, v.shape)


def close(got, want, tol):
    """max |got - want| within tol times the reference's scale (at least 1)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    err = np.abs(got - want).max()
    assert err <= tol * max(1.0, np.abs(want).max()), err


TOL = {np.float32: 1e-5, np.float64: 1e-12}
MASKS = [None, "bool", "bool_keys", "float", "float_queries"]


def make(rng, dtype, B=(2, 3), L=150, S=300, E=24, Ev=20, mask=None, kb=None):
    """Inputs crossing several blocks of queries (96) and keys (256) with
    partial last blocks; k shared by the heads (broadcast), Ev not a
    multiple of 16."""
    q = rng.standard_normal(B + (L, E)).astype(dtype)
    k = rng.standard_normal((B[0], 1, S, E) if kb is None else kb + (S, E)).astype(dtype)
    v = rng.standard_normal(B + (S, Ev)).astype(dtype)
    m = None
    if mask == "bool":
        m = rng.random((L, S)) < 0.7
    elif mask == "bool_keys":                       # a key padding mask, (batch, 1, 1, S)
        m = rng.random((B[0], 1, 1, S)) < 0.8
    elif mask == "float":
        m = rng.standard_normal(B + (L, S)).astype(dtype)
    elif mask == "float_queries":                   # one value per query, broadcast over the keys
        m = rng.standard_normal((L, 1))
    return q, k, v, m


# ------------------------------------------------------------------- forward

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask", MASKS)
def test_forward_matches_the_formula(dtype, score, causal, mask):
    rng = np.random.default_rng(0)
    q, k, v, m = make(rng, dtype, mask=mask)
    out = attention(q, k, v, score=score, causal=causal, mask=m)
    assert out.dtype == dtype and out.shape == (2, 3, 150, 20)
    close(out, reference(q, k, v, score=score, causal=causal, mask=m)[0], TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_every_instruction_set_gives_the_formula(isa, dtype, score):
    rng = np.random.default_rng(1)
    for E in (32, 64, 128, 40):                     # the specialised head sizes and a general one
        q, k, v, m = make(rng, dtype, B=(2,), L=70, S=270, E=E, Ev=16, mask="bool", kb=(2,))
        want = reference(q, k, v, score=score, causal=True, mask=m)[0]
        close(attention(q, k, v, score=score, causal=True, mask=m), want, TOL[dtype])


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_scale_bias_and_logsumexp(score):
    rng = np.random.default_rng(2)
    q, k, v, _ = make(rng, np.float64, B=(3,), L=40, S=90, kb=(1,))
    kw = dict(score=score, scale=0.3) | ({"bias": 1.5} if score == "sigmoid" else {})
    close(attention(q, k, v, **kw), reference(q, k, v, **kw)[0], 1e-12)
    if score == "softmax":
        out, lse = attention(q, k, v, return_logsumexp=True)
        s = reference(q, k, v)[2]
        close(lse, np.logaddexp.reduce(s, axis=-1), 1e-12)


def test_weights_of_one_query_are_sigma_of_its_scores_and_compete_only_under_softmax():
    # v = identity: the output rows are the weights themselves
    rng = np.random.default_rng(3)
    q, k = rng.standard_normal((4, 8)), rng.standard_normal((6, 8))
    s = q @ k.T / math.sqrt(8)
    w = attention(q, k, np.eye(6), score="sigmoid", bias=-1.0)
    close(w, ref_sigma(s - 1.0), 1e-15)
    k2 = np.vstack([k, rng.standard_normal((1, 8))])
    w2 = attention(q, k2, np.eye(7), score="sigmoid", bias=-1.0)
    assert np.array_equal(w2[:, :6], w)             # another key changes no weight
    p2 = attention(q, k2, np.eye(7))
    assert np.abs(p2[:, :6] - attention(q, k, np.eye(6))).min() > 0    # under softmax every one moves


def test_unaligned_and_strided_inputs():
    rng = np.random.default_rng(23)
    q, k, v, _ = make(rng, np.float64, B=(2,), L=30, S=40, kb=(2,))
    buf = np.zeros(q.size * 8 + 1, np.uint8)
    qu = np.frombuffer(buf.data, np.float64, q.size, offset=1).reshape(q.shape)   # misaligned
    qu[...] = q
    kt = np.asfortranarray(k)                                                       # not C-contiguous
    want = reference(q, k, v)[0]
    close(attention(qu, kt, v[:, ::-1][:, ::-1]), want, 1e-12)
    g = rng.standard_normal(want.shape)
    for a, b in zip(attention_backward(qu, kt, v, g), reference_grads(q, k, v, g)):
        close(a, b, 1e-12)


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_one_thread_and_two_give_the_same_result(threads, score):
    rng = np.random.default_rng(4)
    q, k, v, m = make(rng, np.float32, mask="bool")
    sigmoid.set_num_threads(1)
    a = attention(q, k, v, score=score, mask=m)
    sigmoid.set_num_threads(2)
    assert np.array_equal(attention(q, k, v, score=score, mask=m), a)


# ------------------------------------------------------------------ backward

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask", MASKS)
def test_backward_matches_the_formula(dtype, score, causal, mask):
    rng = np.random.default_rng(5)
    q, k, v, m = make(rng, dtype, B=(2, 2), L=100, S=300, mask=mask)
    if mask == "float":
        m = m[:, :2]
    g = rng.standard_normal(q.shape[:-1] + (v.shape[-1],)).astype(dtype)
    got = attention_backward(q, k, v, g, score=score, causal=causal, mask=m)
    want = reference_grads(q, k, v, g, score=score, causal=causal, mask=m)
    for a, b, x in zip(got, want, (q, k, v)):
        assert a.dtype == dtype and a.shape == x.shape
        close(a, b, 10 * TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_backward_on_every_instruction_set(isa, dtype, score):
    rng = np.random.default_rng(21)
    for E in (64, 40):
        q, k, v, m = make(rng, dtype, B=(2,), L=70, S=270, E=E, Ev=24, mask="float", kb=(2,))
        g = rng.standard_normal((2, 70, 24)).astype(dtype)
        got = attention_backward(q, k, v, g, score=score, causal=True, mask=m)
        for a, b in zip(got, reference_grads(q, k, v, g, score=score, causal=True, mask=m)):
            close(a, b, 10 * TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_short_blocks_on_every_instruction_set(isa, dtype, score):
    # a block computes only the queries and keys it has: every remainder of the register tiles' rows
    # (6 and 4) and of their query columns, a single query, and blocks past the first of each
    rng = np.random.default_rng(23)
    for L, S in ((1, 1), (2, 5), (3, 7), (5, 13), (17, 29), (31, 3), (101, 263)):
        for causal in (False, True):
            q, k, v, m = make(rng, dtype, B=(3,), L=L, S=S, E=8, Ev=5, mask="bool", kb=(3,))
            m[:, 0] = True                      # every query keeps a key (causal: the first)
            g = rng.standard_normal((3, L, 5)).astype(dtype)
            kw = dict(score=score, causal=causal, mask=m)
            close(attention(q, k, v, **kw), reference(q, k, v, **kw)[0], TOL[dtype])
            for a, b in zip(attention_backward(q, k, v, g, **kw), reference_grads(q, k, v, g, **kw)):
                close(a, b, 10 * TOL[dtype])


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_backward_threads(threads, score):
    rng = np.random.default_rng(22)
    q, k, v, m = make(rng, np.float32, B=(2, 2), L=100, S=600, mask="bool")
    g = rng.standard_normal((2, 2, 100, 20)).astype(np.float32)
    sigmoid.set_num_threads(1)
    one = attention_backward(q, k, v, g, score=score, mask=m)
    sigmoid.set_num_threads(2)
    # four batch entries for two threads: each entry's gradients summed by one thread, in order
    assert all(np.array_equal(a, b) for a, b in zip(attention_backward(q, k, v, g, score=score, mask=m), one))
    # one entry: the threads share its blocks of keys and add their sums of the queries' gradients
    got = attention_backward(q[:1, :1], k[:1], v[:1, :1], g[:1, :1], score=score, mask=m)
    for a, b in zip(got, reference_grads(q[:1, :1], k[:1], v[:1, :1], g[:1, :1], score=score, mask=m)):
        close(a, b, 1e-4)


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_backward_against_central_differences_of_the_formula(score):
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 4))
    m = rng.random((5, 6)) < 0.8
    w = rng.standard_normal((2, 5, 4))
    kw = dict(score=score, causal=True, mask=m)
    got = attention_backward(q, k, v, w, **kw)

    def f():
        return float(np.sum(reference(q, k, v, **kw)[0] * w))

    for x, gx in zip((q, k, v), got):
        np.testing.assert_allclose(gx, central_differences(f, x), rtol=1e-6, atol=1e-8)


def test_backward_reuses_the_forward_outputs():
    rng = np.random.default_rng(8)
    q, k, v, _ = make(rng, np.float64, B=(2,), L=30, S=40, kb=(2,))
    g = rng.standard_normal((2, 30, 20))
    out, lse = attention(q, k, v, return_logsumexp=True)
    given = attention_backward(q, k, v, g, output=out, logsumexp=lse)
    for a, b in zip(given, reference_grads(q, k, v, g)):
        close(a, b, 1e-12)


# ------------------------------------------------------------ special values

@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_a_nan_score_stays_in_its_row_and_column(score):
    rng = np.random.default_rng(9)
    q, k, v, _ = make(rng, np.float64, B=(1,), L=100, S=300, kb=(1,))
    m = np.zeros((100, 300))
    m[37, 211] = np.nan
    out = attention(q, k, v, score=score, mask=m)
    assert np.flatnonzero(np.isnan(out).any(axis=-1)).tolist() == [37]
    g = rng.standard_normal(out.shape)
    dq, dk, dv = attention_backward(q, k, v, g, score=score, mask=m)
    assert np.flatnonzero(np.isnan(dq).any(axis=-1)).tolist() == [37]
    rdq, rdk, rdv = reference_grads(q, k, v, g, score=score, mask=m)
    for a, b in ((dk, rdk), (dv, rdv)):                 # the formula's own pattern
        assert np.array_equal(np.isnan(a), np.isnan(b))
    if score == "sigmoid":                              # sigma couples nothing: key 211 alone
        assert np.flatnonzero(np.isnan(dk).any(axis=-1)).tolist() == [211]
        assert np.flatnonzero(np.isnan(dv).any(axis=-1)).tolist() == [211]
    finite = ~np.isnan(rdq)
    close(dq[finite], rdq[finite], 1e-12)


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_an_excluded_pair_takes_no_part_whatever_its_score(score):
    # NaN and +inf scores above the diagonal, which causality excludes
    rng = np.random.default_rng(10)
    q, k, v, _ = make(rng, np.float64, B=(1,), L=100, S=300, kb=(1,))
    m = rng.standard_normal((100, 300))
    above = np.triu(np.ones((100, 300), bool), 1)
    poisoned = np.where(above & (rng.random((100, 300)) < 0.5), np.nan, m)
    poisoned[above & np.isfinite(poisoned)] = np.inf
    g = rng.standard_normal((1, 100, 20))
    out = attention(q, k, v, score=score, causal=True, mask=poisoned)
    close(out, reference(q, k, v, score=score, causal=True, mask=m)[0], 1e-12)
    got = attention_backward(q, k, v, g, score=score, causal=True, mask=poisoned)
    for a, b in zip(got, reference_grads(q, k, v, g, score=score, causal=True, mask=m)):
        close(a, b, 1e-12)


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
def test_a_query_without_keys_gives_zero(score):
    rng = np.random.default_rng(11)
    q, k, v, _ = make(rng, np.float32, B=(1,), L=70, S=30, kb=(1,))
    keep = np.ones((70, 30), bool)
    keep[66] = False
    out = attention(q, k, v, score=score, mask=keep)
    assert np.all(out[0, 66] == 0)
    close(out, reference(q, k, v, score=score, mask=keep)[0], 1e-5)
    if score == "softmax":
        _, lse = attention(q, k, v, mask=keep, return_logsumexp=True)
        assert lse[0, 66] == -np.inf and np.isfinite(np.delete(lse[0], 66)).all()


def test_large_scores_neither_overflow_nor_warn():
    # scores of +-1e4: the softmax stays max-shifted, sigma saturates to 0 and 1 exactly
    q = np.array([[100.0, 0.0], [-100.0, 0.0]])
    k = np.array([[100.0, 0.0], [0.0, 1.0]])
    v = np.array([[1.0], [2.0]])
    assert attention(q, k, v, scale=1.0).tolist() == [[1.0], [2.0]]
    assert attention(q, k, v, score="sigmoid", bias=0.0, scale=1.0).tolist() == [[2.0], [1.0]]


# ---------------------------------------------------------------- bad input

A = np.zeros((2, 4, 3))
BAD = [
    (dict(q=A, k=np.zeros((2, 4, 5)), v=A), ValueError, ["q and k", "(2, 4, 3)", "(2, 4, 5)"]),
    (dict(q=A, k=A, v=np.zeros((2, 5, 3))), ValueError, ["k and v", "(2, 5, 3)"]),
    (dict(q=A, k=A, v=A.astype(np.float32)), ValueError, ["one dtype", "float32"]),
    (dict(q=A.astype(np.int64), k=A, v=A), TypeError, ["q", "int64"]),
    (dict(q=np.zeros(3), k=A, v=A), ValueError, ["(..., n, d)"]),
    (dict(q=np.zeros((3, 4, 3)), k=A, v=A), ValueError, ["do not broadcast", "(3, 4, 3)"]),
    (dict(q=np.zeros((2, 0, 3)), k=A, v=A), ValueError, ["at least one query", "(2, 0, 3)"]),
    (dict(q=A, k=np.zeros((2, 0, 3)), v=np.zeros((2, 0, 3))), ValueError, ["at least one query and one key"]),
    (dict(q=A, k=A, v=A, mask=np.ones((4, 5), bool)), ValueError, ["mask of shape (4, 5)", "(2, 4, 4)"]),
    (dict(q=A, k=A, v=A, mask=np.ones((3, 4, 4), bool)), ValueError, ["mask of shape (3, 4, 4)"]),
    (dict(q=A, k=A, v=A, mask=np.ones((4, 4), np.int64)), TypeError, ["mask", "int64"]),
    (dict(q=A, k=A, v=A, score="tanh"), ValueError, ["score", "'tanh'"]),
    (dict(q=A, k=A, v=A, bias=1.0), ValueError, ["bias", "sigmoid"]),
    (dict(q=A, k=A, v=A, score="sigmoid", bias=np.inf), ValueError, ["bias", "finite"]),
    (dict(q=A, k=A, v=A, scale=np.nan), ValueError, ["scale", "finite"]),
    (dict(q=A, k=A, v=A, causal=1), TypeError, ["causal"]),
    (dict(q=A, k=A, v=A, score="sigmoid", return_logsumexp=True), ValueError, ["return_logsumexp"]),
]


@pytest.mark.parametrize("kw, exc, words", BAD)
def test_bad_input_is_named(kw, exc, words):
    with pytest.raises(exc) as e:
        attention(**kw)
    assert str(e.value).startswith("attention:")
    for w in words:
        assert w in str(e.value)


def test_bad_backward_input_is_named():
    with pytest.raises(ValueError, match=r"attention_backward: grad_output must have the output's shape \(2, 4, 3\)"):
        attention_backward(A, A, A, np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="both output and logsumexp"):
        attention_backward(A, A, A, A, output=A)
    with pytest.raises(ValueError, match="softmax' only"):
        attention_backward(A, A, A, A, score="sigmoid", output=A, logsumexp=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"logsumexp must have shape \(2, 4\)"):
        attention_backward(A, A, A, A, output=A, logsumexp=np.zeros(4))


# -------------------------------------------------------------------- memory

def test_peak_memory_is_far_below_the_n_by_n_matrix():
    # one head of 4096 queries and keys: its (n, n) float32 weights are 64 MiB; the passes need
    # the inputs' size a few times over and two tiles of 256 x 256
    n, d = 4096, 64
    rng = np.random.default_rng(12)
    q, k, v, g = (rng.standard_normal((1, n, d)).astype(np.float32) for _ in range(4))
    tracemalloc.start()
    try:
        for score in ("softmax", "sigmoid"):
            attention_backward(q, k, v, g, score=score, causal=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < n * n * 4 / 8, peak


# ------------------------------------------------------------------- PyTorch

def _grads_torch(torch, f, *arrays, g):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = f(*ts)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "causal", "bool", "float", "rectangular_causal"])
def test_softmax_matches_torch_sdpa(torch, dtype, case):
    rng = np.random.default_rng(13)
    L, S = (300, 130) if case == "rectangular_causal" else (150, 300)
    q = rng.standard_normal((2, 3, L, 32)).astype(dtype)
    k, v = (rng.standard_normal((2, 3, S, 32)).astype(dtype) for _ in range(2))
    mask = {"bool": rng.random((L, S)) < 0.7, "float": rng.standard_normal((L, S)).astype(dtype)}.get(case)
    causal = "causal" in case
    g = rng.standard_normal((2, 3, L, 32)).astype(dtype)
    tm = None if mask is None else torch.tensor(mask)
    want, wgrads = _grads_torch(
        torch, lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c, attn_mask=tm,
                                                                                 is_causal=causal),
        q, k, v, g=g)
    tol = {np.float32: 1e-5, np.float64: 1e-10}[dtype]
    close(attention(q, k, v, causal=causal, mask=mask), want, tol)
    for a, b in zip(attention_backward(q, k, v, g, causal=causal, mask=mask), wgrads):
        close(a, b, tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_torch_autograd(torch, dtype):
    rng = np.random.default_rng(14)
    q, k, v, m = make(rng, dtype, B=(2,), L=150, S=300, mask="bool", kb=(2,))
    g = rng.standard_normal((2, 150, 20)).astype(dtype)

    def f(a, b, c):
        s = a @ b.transpose(-1, -2) / math.sqrt(a.shape[-1]) - math.log(b.shape[-2])
        return (torch.sigmoid(s) * torch.tensor(m)) @ c

    want, wgrads = _grads_torch(torch, f, q, k, v, g=g)
    tol = {np.float32: 1e-5, np.float64: 1e-10}[dtype]
    close(attention(q, k, v, score="sigmoid", mask=m), want, tol)
    for a, b in zip(attention_backward(q, k, v, g, score="sigmoid", mask=m), wgrads):
        close(a, b, tol)


# ---------------------------------------------------- nn.MultiheadAttention

@pytest.mark.parametrize("module", ["sigmoid.nn.attention", "sigmoid._attention"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0



CONFIGS = {
    "plain": {},
    "batch_first": dict(batch_first=True),
    "kdim_vdim": dict(kdim=5, vdim=7),
    "no_bias": dict(bias=False),
    "bias_kv_zero_attn": dict(add_bias_kv=True, add_zero_attn=True, attn="bool", kpm="bool"),
    "attn_bool": dict(attn="bool"),
    "attn_float3d_kpm_float": dict(attn="float3d", kpm="float"),
    "causal": dict(attn="causal", is_causal=True, L=300),
    "weights": dict(need_weights=True, attn="bool", kpm="bool"),
    "weights_per_head": dict(need_weights=True, average=False, attn="float3d"),
    "unbatched": dict(unbatched=True, kpm="bool"),
}


def _mha_inputs(rng, dtype, c, E, H, L, S, N):
    kd, vd = c.get("kdim", E), c.get("vdim", E)

    def shape(n, d):
        if c.get("unbatched"):
            return (n, d)
        return (N, n, d) if c.get("batch_first") else (n, N, d)

    q = rng.standard_normal(shape(L, E)).astype(dtype)
    k = rng.standard_normal(shape(S, kd)).astype(dtype)
    v = rng.standard_normal(shape(S, vd)).astype(dtype)
    am = {"bool": lambda: rng.random((L, S)) < 0.3,
          "float3d": lambda: rng.standard_normal((N * H, L, S)).astype(dtype),
          "causal": lambda: np.triu(np.ones((L, S), bool), 1)}.get(c.get("attn"), lambda: None)()
    kpm = {"bool": lambda: rng.random((S,) if c.get("unbatched") else (N, S)) < 0.3,
           "float": lambda: rng.standard_normal((N, S)).astype(dtype)}.get(c.get("kpm"), lambda: None)()
    return q, k, v, am, kpm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_multihead_attention_matches_torch(torch, dtype, name):
    c = CONFIGS[name]
    E, H, N, L, S = 16, 4, 3, c.get("L", 37), 300
    torch.manual_seed(0)
    opts = {k: c[k] for k in ("bias", "add_bias_kv", "add_zero_attn", "kdim", "vdim", "batch_first") if k in c}
    tm = torch.nn.MultiheadAttention(E, H, dtype=torch.float64 if dtype == np.float64 else torch.float32, **opts)
    m = MultiheadAttention(E, H, dtype=dtype, **opts).load_state_dict(tm.state_dict())
    rng = np.random.default_rng(15)
    q, k, v, am, kpm = _mha_inputs(rng, dtype, c, E, H, L, S, N)
    call = dict(need_weights=c.get("need_weights", False), average_attn_weights=c.get("average", True),
                is_causal=c.get("is_causal", False))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    to, tw = tm(tq, tk, tv, key_padding_mask=None if kpm is None else torch.tensor(kpm),
                attn_mask=None if am is None else torch.tensor(am), **call)
    g = rng.standard_normal(to.shape).astype(dtype)
    to.backward(torch.tensor(g))
    out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=am, **call)
    grads = m.backward(g)
    tol = {np.float32: 1e-5, np.float64: 1e-10}[dtype]
    assert out.dtype == dtype
    close(out, to.detach().numpy(), tol)
    for a, t in zip(grads, (tq, tk, tv)):
        close(a, t.grad.numpy(), tol)
    theirs = dict(tm.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(theirs)     # names, order and shapes as PyTorch's
    for n, p in m.named_parameters():
        close(p.grad, theirs[n].grad.numpy(), tol)
    if call["need_weights"]:
        close(w, tw.detach().numpy(), tol)
    else:
        assert w is None


def test_our_state_dict_loads_into_torch(torch):
    m = MultiheadAttention(12, 3, kdim=5, add_bias_kv=True, dtype=np.float64, rng=np.random.default_rng(0))
    tm = torch.nn.MultiheadAttention(12, 3, kdim=5, add_bias_kv=True, dtype=torch.float64)
    tm.load_state_dict({k: torch.from_numpy(a) for k, a in m.state_dict().items()})   # strict
    x, kv = np.ones((2, 1, 12)), np.ones((3, 1, 5))
    x[0] = 0.5
    out = tm(torch.tensor(x), torch.tensor(kv), torch.tensor(np.ones((3, 1, 12))), need_weights=False)[0]
    close(m(x, kv, np.ones((3, 1, 12)))[0], out.detach().numpy(), 1e-12)


def _reference_layer(m, q, k, v, key_padding_mask=None, attn_mask=None, is_causal=False):
    """The layer's formula in float64 NumPy, batch first: projections, the
    reference attention per head, the gate sigma(q W_theta^T + b), the
    output projection."""
    E, H = m.embed_dim, m.num_heads
    hd = E // H
    w, b = m.in_proj_weight.data, m.in_proj_bias.data
    qp, kp, vp = (x @ w[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in enumerate((q, k, v)))
    N, L, S = q.shape[0], q.shape[1], k.shape[1]

    def heads(x):
        return x.reshape(N, x.shape[1], H, hd).transpose(0, 2, 1, 3)

    keep = np.ones((N, 1, L, S), bool)
    if attn_mask is not None:
        keep = keep & ~attn_mask
    if key_padding_mask is not None:
        keep = keep & ~key_padding_mask[:, None, None, :]
    a = reference(heads(qp), heads(kp), heads(vp), score=m.score, causal=is_causal, mask=keep)[0]
    y = a.transpose(0, 2, 1, 3)
    if m.gate is not None:
        gate = ref_sigma(q @ m.gate_proj.weight.data.T + m.gate_proj.bias.data)
        y = y * (gate[..., None] if m.gate == "headwise" else gate.reshape(N, L, H, hd))
    return y.reshape(N, L, E) @ m.out_proj.weight.data.T + m.out_proj.bias.data


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
@pytest.mark.parametrize("gate", [None, "headwise", "elementwise"])
def test_multihead_attention_matches_its_formula(score, gate):
    rng = np.random.default_rng(16)
    m = MultiheadAttention(12, 3, batch_first=True, score=score, gate=gate, dtype=np.float64, rng=rng)
    q, k, v = rng.standard_normal((2, 70, 12)), rng.standard_normal((2, 260, 12)), rng.standard_normal((2, 260, 12))
    am = rng.random((70, 260)) < 0.2
    kpm = rng.random((2, 260)) < 0.2
    for causal in (False, True):
        out, _ = m(q, k, v, key_padding_mask=kpm, attn_mask=am, is_causal=causal)
        close(out, _reference_layer(m, q, k, v, kpm, am, causal), 1e-12)


class _Masked(Module):
    """A layer called with fixed masks, for gradcheck."""

    def __init__(self, layer, **masks):
        super().__init__()
        self.layer = layer
        object.__setattr__(self, "masks", masks)

    def forward(self, q, k, v):
        return self.layer(q, k, v, **self.masks)

    def backward(self, *g):
        return self.layer.backward(*g)


@pytest.mark.parametrize("score", ["softmax", "sigmoid"])
@pytest.mark.parametrize("gate", [None, "headwise", "elementwise"])
def test_multihead_attention_gradcheck(score, gate):
    rng = np.random.default_rng(17)
    m = MultiheadAttention(6, 2, score=score, gate=gate, add_bias_kv=True, add_zero_attn=True, kdim=4,
                           dtype=np.float64, rng=rng)
    q, k, v = rng.standard_normal((4, 2, 6)), rng.standard_normal((5, 2, 4)), rng.standard_normal((5, 2, 6))
    masks = dict(key_padding_mask=np.array([[False, True, False, False, False], [False] * 5]),
                 attn_mask=rng.standard_normal((4, 5)), is_causal=True)
    assert gradcheck(_Masked(m, **masks), (q, k, v))


def test_gradcheck_fails_for_a_wrong_gate_gradient(monkeypatch):
    # the check can fail: a gate whose backward forgets sigma' is caught
    rng = np.random.default_rng(18)
    m = MultiheadAttention(4, 2, gate="headwise", dtype=np.float64, rng=rng)
    q = rng.standard_normal((3, 1, 4))
    monkeypatch.setattr("sigmoid.nn.attention._core.sigmoid_backward", lambda x, g: g)
    with pytest.raises(AssertionError, match="gradcheck"):
        gradcheck(m, (q, q.copy(), q.copy()))


def test_is_causal_alone_is_the_causal_mask():
    rng = np.random.default_rng(19)
    m = MultiheadAttention(8, 2, dtype=np.float64, rng=rng)
    x = rng.standard_normal((90, 2, 8))
    explicit = m(x, x, x, attn_mask=np.triu(np.ones((90, 90), bool), 1))[0]
    close(m(x, x, x, is_causal=True)[0], explicit, 1e-13)


def test_a_sequence_without_keys_gives_the_output_bias():
    rng = np.random.default_rng(20)
    m = MultiheadAttention(8, 2, dtype=np.float32, rng=rng)
    m.out_proj.bias.data[...] = rng.standard_normal(8)
    x = rng.standard_normal((5, 2, 8)).astype(np.float32)
    kpm = np.array([[False] * 5, [True] * 5])
    out = m(x, x, x, key_padding_mask=kpm)[0]
    assert np.array_equal(out[:, 1], np.broadcast_to(m.out_proj.bias.data, (5, 8)))


MHA_BAD = [
    (lambda: MultiheadAttention(10, 3), ValueError, "num_heads (3) must divide embed_dim (10)"),
    (lambda: MultiheadAttention(8, 2, dropout=0.1), ValueError, "dropout must be 0"),
    (lambda: MultiheadAttention(8, 2, gate="channel"), ValueError, "gate must be None, 'headwise'"),
    (lambda: MultiheadAttention(8, 2, score="relu"), ValueError, "score must be"),
    (lambda: MultiheadAttention(8, 0), ValueError, "num_heads must be a positive integer"),
    (lambda: MultiheadAttention(8, 2, dtype=np.float16), TypeError, "dtype must be float32 or float64"),
]


@pytest.mark.parametrize("make_layer, exc, words", MHA_BAD)
def test_multihead_attention_bad_construction(make_layer, exc, words):
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        make_layer()


def test_multihead_attention_bad_calls():
    m = MultiheadAttention(8, 2, dtype=np.float64)
    x = np.zeros((5, 2, 8))
    with pytest.raises(ValueError, match="called before forward"):
        m.backward(x)
    with pytest.raises(TypeError, match="query has dtype float32"):
        m(x.astype(np.float32), x, x)
    with pytest.raises(ValueError, match=r"key of shape \(5, 2, 7\)"):
        m(x, np.zeros((5, 2, 7)), x)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(5, 4\), expected \(5, 5\) or \(4, 5, 5\)"):
        m(x, x, x, attn_mask=np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(5, 2\), expected \(2, 5\)"):
        m(x, x, x, key_padding_mask=np.zeros((5, 2), bool))
    with pytest.raises(TypeError, match="attn_mask must be a bool or float array"):
        m(x, x, x, attn_mask=np.zeros((5, 5), np.int64))
    with pytest.raises(ValueError, match="must share the batch size"):
        m(x, np.zeros((5, 3, 8)), np.zeros((5, 3, 8)))
    out, _ = m(x, x, x)
    with pytest.raises(ValueError, match=r"grad_output has shape \(5, 8\)"):
        m.backward(np.zeros((5, 8)))
    with pytest.raises(ValueError, match="not differentiated"):
        m.backward(out, np.zeros((2, 5, 5)))
