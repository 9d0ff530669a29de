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
    # on this 2-core machine; two single-threaded workers, loopback only; the
    # dashboard on a free port (8787 may be taken by another cluster, and
    # distributed warns then)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
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


# ------------------------------------------------- softmax on Dask arrays

def _counted(x, chunks, calls):
    """A Dask array of x whose blocks come from tasks that count their runs."""
    def block(i):
        calls.append(i)
        return x[i * chunks[0]:(i + 1) * chunks[0]]

    n = -(-x.shape[0] // chunks[0])
    parts = [da.from_delayed(dask.delayed(block)(i), shape=x[i * chunks[0]:(i + 1) * chunks[0]].shape,
                             dtype=x.dtype) for i in range(n)]
    return da.concatenate(parts).rechunk(chunks)


def _scipy_softmax(x, axis, log):
    special = pytest.importorskip("scipy.special")
    x = x.astype(np.float64)
    return special.log_softmax(x, axis=axis) if log else special.softmax(x, axis=axis)


@pytest.mark.parametrize("f", [sigmoid.softmax, sigmoid.log_softmax])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_on_dask_stays_lazy(f, axis, dtype):
    """softmax and log_softmax of a Dask array are Dask arrays: nothing is
    computed until asked, the other axes keep their chunks, the class axis
    becomes one chunk, the dtype is kept; the values are those of SciPy's
    functions (float64), and of the NumPy path exactly."""
    x = np.random.default_rng(40).standard_normal((12, 7, 5)).astype(dtype) * 30
    calls = []
    d = _counted(x, (4, 3, 2), calls)
    out = f(d, axis=axis)
    assert isinstance(out, da.Array)
    assert calls == [], "the scores were computed before the result was asked for"
    assert out.dtype == dtype and out.shape == x.shape
    ax = axis % 3
    assert out.chunks[ax] == (x.shape[ax],)
    assert all(out.chunks[i] == d.chunks[i] for i in range(3) if i != ax)
    with dask.config.set(scheduler="sync"):
        got = out.compute()
    assert sorted(set(calls)) == [0, 1, 2]
    np.testing.assert_array_equal(got, f(x, axis=axis))
    want = _scipy_softmax(x, axis, f is sigmoid.log_softmax)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=4 * eps, atol=4 * eps * np.abs(want).max())


def test_softmax_on_dask_checks_its_arguments_without_computing():
    calls = []
    d = _counted(np.zeros((6, 3)), (2, 3), calls)
    with pytest.raises(np.exceptions.AxisError, match=r"softmax\(\): axis 2 is out of bounds"):
        sigmoid.softmax(d, axis=2)
    with pytest.raises(TypeError, match=r"log_softmax\(\): argument 'x' has dtype complex128"):
        sigmoid.log_softmax(d.astype(np.complex128))
    assert sigmoid.softmax(d.astype(np.int32)).dtype == np.float64   # integers promote as by numpy.exp
    unknown = d[d[:, 0] >= 0]
    with pytest.raises(ValueError, match=r"softmax\(\): the scores have unknown chunk sizes along axis 0"):
        sigmoid.softmax(unknown, axis=0)
    lazy = sigmoid.softmax(unknown, axis=1)          # rows of unknown number: whole rows still
    assert isinstance(lazy, da.Array)
    assert calls == []
    with dask.config.set(scheduler="sync"):
        np.testing.assert_allclose(lazy.compute(), np.full((6, 3), 1 / 3), rtol=1e-15)


def test_losses_detect_dask_arrays_and_nothing_else():
    """The one detector: Dask arrays only (a Dask bag or a delayed value is
    not one), found without importing Dask for other objects."""
    import subprocess
    import sys

    from sigmoid.interop.dask import is_dask_array, numpy_backed

    assert is_dask_array(da.zeros(3)) and numpy_backed(da.zeros(3))
    assert not is_dask_array(np.zeros(3)) and not is_dask_array(dask.delayed(np.zeros)(3))
    import dask.bag as db

    assert not is_dask_array(db.from_sequence([1.0, 2.0]))
    code = ("import sys, numpy as np, sigmoid\n"
            "sigmoid.bce_with_logits(np.zeros(3), np.zeros(3)); sigmoid.softmax(np.zeros(3))\n"
            "assert 'dask' not in sys.modules, 'dask imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------- softmax on labelled arrays

@pytest.mark.parametrize("f", [sigmoid.softmax, sigmoid.log_softmax])
def test_softmax_keeps_xarray_labels_as_the_ufuncs_do(f):
    """A DataArray in, a DataArray out with the dims, coordinates, name and
    attributes the ufunc sigmoid gives; the class axis may be named; a
    DataArray of Dask data stays lazy."""
    xr = pytest.importorskip("xarray", reason="xarray is not installed")
    values = np.random.default_rng(41).standard_normal((4, 3))
    a = xr.DataArray(values, dims=("sample", "class"), coords={"class": ["cat", "dog", "owl"],
                                                               "sample": [10, 20, 30, 40]},
                     name="scores", attrs={"units": "logits"})
    like = sigmoid.sigmoid(a)
    for axis in (-1, 1, "class"):
        out = f(a, axis=axis)
        assert isinstance(out, xr.DataArray)
        assert out.dims == like.dims and out.name == like.name and out.attrs == like.attrs
        assert all(out.coords[k].equals(like.coords[k]) for k in like.coords)
        np.testing.assert_array_equal(out.values, f(values, axis=1))
    np.testing.assert_array_equal(f(a, axis="sample").values, f(values, axis=0))
    lazy = f(a.chunk({"sample": 2}), axis="class")
    assert isinstance(lazy, xr.DataArray) and isinstance(lazy.data, da.Array)
    np.testing.assert_array_equal(lazy.compute().values, f(values, axis=1))


@pytest.mark.parametrize("f", [sigmoid.softmax, sigmoid.log_softmax])
def test_softmax_keeps_pandas_labels_as_the_ufuncs_do(f):
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    values = np.random.default_rng(42).standard_normal((3, 4))
    df = pd.DataFrame(values, index=["a", "b", "c"], columns=["w", "x", "y", "z"])
    df.attrs["source"] = "test"
    like = sigmoid.sigmoid(df)
    out = f(df)
    assert type(out) is type(like)
    pd.testing.assert_index_equal(out.index, like.index)
    pd.testing.assert_index_equal(out.columns, like.columns)
    assert out.attrs == like.attrs
    np.testing.assert_array_equal(out.to_numpy(), f(values, axis=-1))
    np.testing.assert_array_equal(f(df, axis=0).to_numpy(), f(values, axis=0))
    s = pd.Series(values[0], index=list("pqrs"), name="row")
    got, like = f(s), sigmoid.sigmoid(s)
    assert type(got) is type(like) and got.name == like.name
    pd.testing.assert_index_equal(got.index, like.index)
    np.testing.assert_array_equal(got.to_numpy(), f(values[0]))
