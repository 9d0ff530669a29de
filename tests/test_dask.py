"""LogisticRegression on Dask arrays (distributed and threaded schedulers),
and the ufuncs on Dask arrays."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import sigmoid  # noqa: E402
from sigmoid.models.logistic import LogisticRegression  # noqa: E402

N, D, CHUNK = 20_000, 10, 5_000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    w = rng.standard_normal(D)
    y = (X @ w + 0.5 + rng.logistic(size=N) > 0).astype(np.int64)
    sw = rng.uniform(0.0, 2.0, N)
    return X, y, sw


@pytest.fixture(scope="module")
def distributed():
    # only the tests of the distributed scheduler need it: the threaded
    # scheduler's tests run with dask alone
    return pytest.importorskip("distributed", reason="dask.distributed is not installed")


@pytest.fixture(scope="module")
def client(distributed):
    # in-process workers (processes=False): quick to start, nothing to spawn
    # on this 2-core machine; two single-threaded workers, loopback only
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  protocol="tcp", host="127.0.0.1", silence_logs=40) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def _dask(X, y, sw=None):
    out = [da.from_array(X, chunks=(CHUNK, D)), da.from_array(y, chunks=CHUNK)]
    if sw is not None:
        out.append(da.from_array(sw, chunks=CHUNK))
    return out


def _assert_same_fit(got, ref):
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=0)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-8, atol=0)
    np.testing.assert_array_equal(got.classes_, ref.classes_)
    assert got.n_features_in_ == ref.n_features_in_


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_fit_distributed_matches_in_memory(client, data, solver):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    ref = LogisticRegression(solver=solver).fit(X, y)
    got = LogisticRegression(solver=solver).fit(Xd, yd)
    _assert_same_fit(got, ref)


def test_fit_distributed_runs_tasks_on_workers(client, distributed, data):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    with distributed.get_task_stream(client) as ts:
        LogisticRegression(solver="newton").fit(Xd, yd)
    partials = [t for t in ts.data if "dask_partials" in str(t["key"])]
    assert partials  # the per-block sums ran as tasks of the cluster
    assert len({t["worker"] for t in ts.data}) == 2


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_fit_weights_distributed(client, data, solver):
    X, y, sw = data
    Xd, yd, swd = _dask(X, y, sw)
    kw = dict(solver=solver, class_weight="balanced", C=0.5)
    ref = LogisticRegression(**kw).fit(X, y, sample_weight=sw)
    got = LogisticRegression(**kw).fit(Xd, yd, sample_weight=swd)
    _assert_same_fit(got, ref)


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_fit_threaded_scheduler(data, solver):
    X, y, _ = data
    labels = np.array(["no", "yes"])[y]
    Xd = da.from_array(X, chunks=(3_000, 4))  # columns split: rechunked to one column block
    yd = da.from_array(labels, chunks=7_000)  # other row chunks: aligned to X's
    with dask.config.set(scheduler="threads"):
        ref = LogisticRegression(solver=solver, class_weight={"yes": 2.0}).fit(X, labels)
        got = LogisticRegression(solver=solver, class_weight={"yes": 2.0}).fit(Xd, yd)
    _assert_same_fit(got, ref)


def test_matches_sklearn(data):
    sklearn_lm = pytest.importorskip("sklearn.linear_model")
    X, y, _ = data
    Xd, yd = _dask(X, y)
    with dask.config.set(scheduler="threads"):
        got = LogisticRegression(solver="newton", tol=1e-10).fit(Xd, yd)
    sk = sklearn_lm.LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(got.coef_, sk.coef_, rtol=1e-6)
    np.testing.assert_allclose(got.intercept_, sk.intercept_, rtol=1e-6)


def test_predictions_lazy(client, data):
    """The lazy predictions are the formulas of the fitted coefficients,
    written here with NumPy alone: z = X w + b, P(1) = 1/(1 + e^-z),
    log P = -log(1 + e^-+z), the label of the larger probability."""
    X, y, _ = data
    Xd, yd = _dask(X, y)
    clf = LogisticRegression().fit(Xd, yd)
    z = X @ clf.coef_.ravel() + clf.intercept_[0]
    expected = {
        "decision_function": z,
        "predict_proba": np.stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], axis=1),
        "predict_log_proba": np.stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)], axis=1),
        "predict": clf.classes_[(z > 0).astype(int)],
    }
    for method, expect in expected.items():
        out = getattr(clf, method)(Xd)
        assert isinstance(out, da.Array), method
        assert out.chunks[0] == Xd.chunks[0], method
        assert out.shape == expect.shape and out.dtype == expect.dtype, method
        if method == "predict":
            np.testing.assert_array_equal(out.compute(), expect)
        else:
            np.testing.assert_allclose(out.compute(), expect, rtol=1e-12, atol=1e-300)
    assert clf.score(Xd, yd) == pytest.approx(np.mean(expected["predict"] == y), rel=1e-15)


def test_predict_proba_float32_lazy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2_000, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    Xd = da.from_array(X, chunks=(500, 3))
    with dask.config.set(scheduler="threads"):
        clf = LogisticRegression().fit(Xd, da.from_array(y, chunks=500))
        assert clf.coef_.dtype == np.float32
        P = clf.predict_proba(Xd)
        assert P.dtype == np.float32
        np.testing.assert_allclose(P.compute(), LogisticRegression().fit(X, y).predict_proba(X), rtol=1e-3)


def test_unknown_chunk_sizes_raise(data):
    X, y, _ = data
    Xd, yd = _dask(X, y)
    keep = da.from_array(np.arange(N) % 3 != 0, chunks=CHUNK)
    Xu, yu = Xd[keep], yd[keep]
    assert np.isnan(Xu.shape[0])
    with pytest.raises(ValueError, match=r"X is a Dask array with unknown chunk sizes.*X\.compute_chunk_sizes\(\)"):
        LogisticRegression().fit(Xu, yu)
    with pytest.raises(ValueError, match=r"y is a Dask array with unknown chunk sizes.*y\.compute_chunk_sizes\(\)"):
        LogisticRegression().fit(Xd, yd[keep])
    # after compute_chunk_sizes the fit works
    with dask.config.set(scheduler="threads"):
        clf = LogisticRegression().fit(Xu.compute_chunk_sizes(), yu.compute_chunk_sizes())
        ref = LogisticRegression().fit(X[np.arange(N) % 3 != 0], y[np.arange(N) % 3 != 0])
    _assert_same_fit(clf, ref)
    # predictions do not need the number of rows: they stay lazy
    assert isinstance(clf.predict_proba(Xu), da.Array)


def test_dask_input_errors():
    Xd = da.zeros((10, 2), chunks=5)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LogisticRegression().fit(Xd, da.zeros(9, chunks=5))
    with dask.config.set(scheduler="sync"):
        with pytest.raises(ValueError, match="only one class"):
            LogisticRegression().fit(Xd, da.zeros(10, chunks=5))
        with pytest.raises(ValueError, match="multiclass"):
            LogisticRegression(solver="liblinear").fit(Xd, da.arange(10, chunks=5) % 3)
        Xn = da.from_array(np.array([[np.nan, 1.0], [1.0, 2.0], [0.0, 1.0], [2.0, 0.0]]), chunks=2)
        with pytest.raises(ValueError, match="Input X contains NaN"):
            LogisticRegression().fit(Xn, np.array([0, 1, 0, 1]))
    clf = LogisticRegression().fit(np.eye(2), [0, 1])
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict_proba(da.zeros((4, 3), chunks=2))


def test_sigmoid_ufunc_on_dask_is_lazy():
    calls = []

    def block(i):
        calls.append(i)
        return np.linspace(-5, 5, 10) + i

    parts = [da.from_delayed(dask.delayed(block)(i), shape=(10,), dtype=np.float64) for i in range(3)]
    x = da.concatenate(parts)
    out = sigmoid.sigmoid(x)
    assert isinstance(out, da.Array)
    assert out.chunks == x.chunks and out.dtype == np.float64
    assert calls == []
    with dask.config.set(scheduler="sync"):
        got = out.compute()
    assert sorted(calls) == [0, 1, 2]
    ref = np.concatenate([np.linspace(-5, 5, 10) + i for i in range(3)])
    # sigma from NumPy's exp: the ufunc itself is not the reference
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-ref)), rtol=1e-15)
    log = sigmoid.log_sigmoid(da.from_array(ref, chunks=7))
    assert isinstance(log, da.Array) and log.chunks == ((7, 7, 7, 7, 2),)
