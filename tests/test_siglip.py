"""sigmoid.siglip_loss and siglip_loss_and_grad, NumPy and Dask.

The reference is the loss written out in float64 NumPy with the B x B
matrix of logits formed: -(1/B) sum log sigma(z u) = (1/B) sum
logaddexp(0, -z u); its gradients come from float64 central differences,
and, where PyTorch is installed, from autograd on the same formula.
"""
import math
import tracemalloc

import numpy as np
import pytest
from numdiff import central_differences

from sigmoid import siglip_loss, siglip_loss_and_grad


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")


def reference(x, y, t_prime, b):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    u = math.exp(t_prime) * (x @ y.T) + b
    z = 2 * np.eye(len(x)) - 1
    return float(np.sum(np.logaddexp(0.0, -z * u)) / len(x))


def embeddings(rng, B, D, dtype=np.float64):
    """Unit rows, each y_i near its x_i: the pairs match better than the rest."""
    x = rng.standard_normal((B, D))
    y = x + 0.8 * rng.standard_normal((B, D))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return x.astype(dtype), y.astype(dtype)


T0, B0 = math.log(10.0), -10.0          # the paper's initial t' and b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B, block", [(1, None), (7, 3), (203, 64), (300, None), (1500, 512)])
def test_loss_matches_the_formula(dtype, B, block):
    rng = np.random.default_rng(B)
    x, y = embeddings(rng, B, 24, dtype)
    for tp, b in ((T0, B0), (0.0, 0.0), (3.0, -2.5)):
        got = siglip_loss(x, y, tp, b, block_size=block)
        assert isinstance(got, np.float64)
        want = reference(x, y, tp, b)
        # float32: the logits carry the products' rounding, t |x.y| ~ 20 times 2^-24 each
        tol = 1e-13 if dtype == np.float64 else 3e-6
        assert abs(got - want) <= tol * max(1.0, abs(want)), (got, want)


def test_blocks_of_any_size_give_the_full_loss():
    # the chunked loss equals the one of the whole matrix to rounding: float64 sums of the same terms
    rng = np.random.default_rng(1)
    x, y = embeddings(rng, 257, 16)
    full = reference(x, y, T0, B0)
    for block in (1, 2, 16, 100, 256, 257, 4096):
        assert abs(siglip_loss(x, y, T0, B0, block_size=block) - full) <= 1e-14 * full


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_match_central_differences(dtype):
    rng = np.random.default_rng(2)
    B, D = 37, 5
    x, y = embeddings(rng, B, D, dtype)
    tp, b = 1.7, -3.0
    loss, dx, dy, dtp, db = siglip_loss_and_grad(x, y, tp, b, block_size=10)
    assert dx.dtype == dy.dtype == dtype and isinstance(dtp, np.float64) and isinstance(db, np.float64)
    assert abs(loss - siglip_loss(x, y, tp, b, block_size=10)) == 0
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    eps = 1e-6

    tol = dict(rtol=1e-6, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dx, central_differences(lambda: reference(x64, y64, tp, b), x64), **tol)
    np.testing.assert_allclose(dy, central_differences(lambda: reference(x64, y64, tp, b), y64), **tol)
    np.testing.assert_allclose(dtp, (reference(x64, y64, tp + eps, b) - reference(x64, y64, tp - eps, b)) / (2 * eps),
                               **tol)
    np.testing.assert_allclose(db, (reference(x64, y64, tp, b + eps) - reference(x64, y64, tp, b - eps)) / (2 * eps),
                               **tol)


def test_the_gradient_of_a_wrong_sign_is_caught():
    # the check above fails for a gradient that treats the matching pairs as the others
    rng = np.random.default_rng(3)
    x, y = embeddings(rng, 6, 3)
    _, dx, _, _, _ = siglip_loss_and_grad(x, y, 0.5, -1.0)
    e = 1e-6
    xp = x.copy()
    xp[2, 1] += e
    xm = x.copy()
    xm[2, 1] -= e
    numeric = (reference(xp, y, 0.5, -1.0) - reference(xm, y, 0.5, -1.0)) / (2 * e)
    assert abs(dx[2, 1] - numeric) < 1e-8
    # sigma(u) everywhere (no -1 on the diagonal) is off by t y_2 / B on row 2
    u = math.exp(0.5) * (x @ y.T) - 1.0
    wrong = (math.exp(0.5) / 6) * (1 / (1 + np.exp(-u))) @ y
    assert abs(wrong[2, 1] - numeric) > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_autograd(torch, dtype):
    rng = np.random.default_rng(4)
    x, y = embeddings(rng, 300, 32, dtype)
    tx, ty = (torch.tensor(a, requires_grad=True) for a in (x, y))
    tt = torch.tensor(T0, dtype=tx.dtype, requires_grad=True)
    tb = torch.tensor(B0, dtype=tx.dtype, requires_grad=True)
    logits = tx @ ty.T * tt.exp() + tb
    z = 2 * torch.eye(300, dtype=tx.dtype) - 1
    loss = -torch.nn.functional.logsigmoid(z * logits).sum() / 300
    loss.backward()
    got = siglip_loss_and_grad(x, y, T0, B0, block_size=128)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, w in zip(got, (loss, tx.grad, ty.grad, tt.grad, tb.grad)):
        w = np.asarray(w.detach().numpy(), np.float64)
        assert np.abs(np.asarray(a, np.float64) - w).max() <= tol * max(1.0, np.abs(w).max())


def test_every_instruction_set_gives_the_formula(isa):
    rng = np.random.default_rng(8)
    for dtype, D in ((np.float32, 64), (np.float64, 40)):
        x, y = embeddings(rng, 333, D, dtype)
        loss, dx, dy, dtp, db = siglip_loss_and_grad(x, y, T0, B0)
        tol = 3e-6 if dtype == np.float32 else 1e-13
        assert abs(loss - reference(x, y, T0, B0)) <= tol * reference(x, y, T0, B0)
        ref = siglip_loss_and_grad(x.astype(np.float64), y.astype(np.float64), T0, B0, block_size=50)
        for a, w in zip((dx, dy, dtp, db), ref[1:]):
            assert np.abs(np.asarray(a, np.float64) - w).max() <= 10 * tol * max(1.0, np.abs(w).max())


def test_threads_give_the_same_bits_from_run_to_run(threads):
    import sigmoid

    rng = np.random.default_rng(9)
    x, y = embeddings(rng, 1000, 32, np.float32)
    sigmoid.set_num_threads(2)
    a = siglip_loss_and_grad(x, y, T0, B0)
    b = siglip_loss_and_grad(x, y, T0, B0)
    assert all(np.array_equal(u, w) for u, w in zip(a, b))
    sigmoid.set_num_threads(1)
    c = siglip_loss_and_grad(x, y, T0, B0)
    assert c[0] == pytest.approx(a[0], rel=1e-12)
    np.testing.assert_allclose(c[2], a[2], rtol=1e-5, atol=1e-9)


def test_strided_and_unaligned_inputs():
    rng = np.random.default_rng(10)
    x, y = embeddings(rng, 50, 8)
    buf = np.zeros(x.size * 8 + 3, np.uint8)
    xu = np.frombuffer(buf.data, np.float64, x.size, offset=3).reshape(x.shape)
    xu[...] = x
    got = siglip_loss_and_grad(xu, np.asfortranarray(y), T0, B0)
    want = siglip_loss_and_grad(x, y, T0, B0)
    assert all(np.allclose(u, w, rtol=1e-14, atol=0) for u, w in zip(got, want))


def test_extreme_logits_stay_finite_and_nan_propagates():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss, dx, dy, dtp, db = siglip_loss_and_grad(x, x, 6.0, -200.0)    # logits -200 +- 403
    assert np.isfinite([loss, dtp, db]).all() and np.isfinite(dx).all() and np.isfinite(dy).all()
    assert loss == pytest.approx(reference(x, x, 6.0, -200.0), rel=1e-15)
    x2 = x.copy()
    x2[1, 0] = np.nan
    assert np.isnan(siglip_loss(x2, x, 0.0, 0.0))


def test_peak_memory_is_far_below_the_b_by_b_matrix():
    # B = 8192: the float32 logits alone would be 256 MiB; two 1024 x 1024 blocks are 8 MiB
    B, D = 8192, 16
    rng = np.random.default_rng(5)
    x, y = embeddings(rng, B, D, np.float32)
    tracemalloc.start()
    try:
        siglip_loss_and_grad(x, y, T0, B0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < B * B * 4 / 16, peak


BAD = [
    (dict(x=np.zeros((4, 3)), y=np.zeros((4, 2))), ValueError, ["same shape", "(4, 3)", "(4, 2)"]),
    (dict(x=np.zeros((4, 3)), y=np.zeros((5, 3))), ValueError, ["(5, 3)"]),
    (dict(x=np.zeros(4), y=np.zeros(4)), ValueError, ["(B, D)"]),
    (dict(x=np.zeros((4, 3)), y=np.zeros((4, 3), np.float32)), ValueError, ["one dtype", "float32"]),
    (dict(x=np.zeros((4, 3), np.int64), y=np.zeros((4, 3))), TypeError, ["x", "int64"]),
    (dict(x=np.zeros((0, 3)), y=np.zeros((0, 3))), ValueError, ["at least one row"]),
    (dict(t_prime=np.inf), ValueError, ["t_prime", "finite"]),
    (dict(t_prime=np.nan), ValueError, ["t_prime", "finite"]),
    (dict(t_prime=100.0, x=np.zeros((4, 3), np.float32), y=np.zeros((4, 3), np.float32)), ValueError,
     ["exp(100.0)", "overflows float32"]),
    (dict(b=-np.inf), ValueError, ["b must be finite"]),
    (dict(b="1"), TypeError, ["b must be a real number"]),
    (dict(block_size=0), ValueError, ["block_size"]),
]


@pytest.mark.parametrize("kw, exc, words", BAD)
@pytest.mark.parametrize("f", [siglip_loss, siglip_loss_and_grad])
def test_bad_input_is_named(f, kw, exc, words):
    args = dict(x=np.zeros((4, 3)), y=np.zeros((4, 3)), t_prime=0.0, b=0.0) | kw
    block = args.pop("block_size", None)
    with pytest.raises(exc) as e:
        f(**args, block_size=block)
    assert str(e.value).startswith(f.__name__ + ":")
    for w in words:
        assert w in str(e.value)


# ---------------------------------------------------------------------- Dask

@pytest.fixture(scope="module")
def da():
    return pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  protocol="tcp", host="127.0.0.1", silence_logs=40) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def _pair_tasks(*arrays):
    """The number of _pair calls in the graphs of the arrays."""
    keys = set()
    for a in arrays:
        keys |= set(dict(a.__dask_graph__()))
    return sum(1 for k in keys if str(k[0] if isinstance(k, tuple) else k).startswith("_pair"))


def test_dask_on_a_local_cluster_equals_numpy(da, client):
    rng = np.random.default_rng(6)
    x, y = embeddings(rng, 700, 24, np.float32)
    xd, yd = da.from_array(x, chunks=(200, 24)), da.from_array(y, chunks=(300, 12))
    lazy = siglip_loss_and_grad(xd, yd, T0, B0)
    assert _pair_tasks(*lazy) == 4 * 3                  # each pair of row chunks is a task
    got = client.compute(list(lazy), sync=True)
    want = siglip_loss_and_grad(x, y, T0, B0)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    for a, w in zip(got[1:3], want[1:3]):
        assert a.dtype == np.float32 and a.shape == w.shape
        np.testing.assert_allclose(a, w, rtol=1e-5, atol=1e-7)
    for a, w in zip(got[3:], want[3:]):
        assert a == pytest.approx(w, rel=1e-6)
    assert client.compute(siglip_loss(xd, yd, T0, B0), sync=True) == pytest.approx(want[0], rel=1e-12)


def test_dask_threaded_matches_the_formula(da):
    rng = np.random.default_rng(7)
    x, y = embeddings(rng, 333, 8)
    got = siglip_loss(da.from_array(x, chunks=100), y, T0, B0).compute(scheduler="threads")
    assert got == pytest.approx(reference(x, y, T0, B0), rel=1e-13)


def test_dask_checks_before_building_the_graph(da):
    with pytest.raises(ValueError, match=r"siglip_loss: x and y must be \(B, D\) arrays of the same shape"):
        siglip_loss(da.zeros((10, 3), chunks=5), da.zeros((9, 3), chunks=5), 0.0, 0.0)
    with pytest.raises(ValueError, match="t_prime must be finite"):
        siglip_loss_and_grad(da.zeros((10, 3), chunks=5), da.zeros((10, 3), chunks=5), np.nan, 0.0)
