"""sigmoid.models.logistic.LogisticRegression: scikit-learn's estimator
checks, agreement with scikit-learn's solution, dtypes, input errors, and
life without scikit-learn."""
import doctest
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import warnings

import numpy as np
import pytest

import sigmoid.models.logistic as logistic
from sigmoid.models.logistic import ConvergenceWarning, DataConversionWarning, LogisticRegression, NotFittedError

try:
    import sklearn
    from sklearn.utils.estimator_checks import parametrize_with_checks
except ImportError:  # the checks need the test extra
    sklearn = None

SOLVERS = ["newton", "lbfgs"]


def _toy(n=200, d=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.linspace(1.0, -1.0, d)
    y = (X @ w + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return X.astype(dtype), y


def _params(m):
    return np.r_[m.coef_.ravel(), m.intercept_].astype(np.float64)


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---------------------------------------------------------------- scikit-learn's estimator checks

if sklearn is not None:
    with warnings.catch_warnings():
        # deliberate: no sklearn.base.BaseEstimator, so that sigmoid imports without scikit-learn
        warnings.filterwarnings("ignore", message="Estimator LogisticRegression does not inherit", category=UserWarning)
        _checks = parametrize_with_checks([LogisticRegression(solver=s) for s in SOLVERS])

    @_checks
    def test_sklearn_estimator_checks(estimator, check):
        check(estimator)
else:
    def test_sklearn_estimator_checks():
        # visible in the report, not silently absent: the checks are
        # scikit-learn's own and need it to be collected
        pytest.skip("scikit-learn is not installed: its estimator checks are not run")


# ---------------------------------------------------------------- agreement with scikit-learn


def _breast_cancer():
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _synthetic():
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.make_classification(n_samples=2000, n_features=12, n_informative=6, weights=[0.7, 0.3],
                                        flip_y=0.05, random_state=1)


@pytest.mark.parametrize("data", ["breast_cancer", "synthetic"])
@pytest.mark.parametrize("weighting", ["none", "sample_weight", "balanced", "both"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_agrees_with_sklearn(data, weighting, solver):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = _breast_cancer() if data == "breast_cancer" else _synthetic()
    rng = np.random.default_rng(3)
    sw = rng.uniform(0.2, 3.0, size=y.size) if weighting in ("sample_weight", "both") else None
    cw = "balanced" if weighting in ("balanced", "both") else None
    C = 1.0 if data == "breast_cancer" else 0.3
    # scikit-learn's newton-cholesky at tol=1e-12 is the reference (its
    # lbfgs stops near 1e-6 relative error on breast cancer: ftol=64 eps)
    ref = linear_model.LogisticRegression(C=C, class_weight=cw, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    ref.fit(X, y, sample_weight=sw)
    ours = LogisticRegression(C=C, class_weight=cw, solver=solver, tol=1e-10, max_iter=1000).fit(X, y, sample_weight=sw)
    assert _rel(_params(ours), _params(ref)) < 1e-6
    assert ours.coef_.shape == (1, X.shape[1]) and ours.intercept_.shape == (1,) and ours.n_iter_.shape == (1,)
    assert ours.n_iter_.dtype == np.int32 and ours.n_iter_[0] >= 1
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)


def test_breast_cancer_held_out_accuracy():
    model_selection = pytest.importorskip("sklearn.model_selection")
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = model_selection.train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    for solver in SOLVERS:
        clf = LogisticRegression(solver=solver).fit((Xtr - mu) / sd, ytr)
        assert clf.score((Xte - mu) / sd, yte) >= 0.95


@pytest.mark.parametrize("solver", SOLVERS)
def test_class_weight_dict_is_sample_weight(solver):
    X, y = _toy()
    a = LogisticRegression(solver=solver, class_weight={0: 3.0, 1: 0.5}, tol=1e-10).fit(X, y)
    b = LogisticRegression(solver=solver, tol=1e-10).fit(X, y, sample_weight=np.where(y == 0, 3.0, 0.5))
    assert _rel(_params(a), _params(b)) < 1e-7
    c = LogisticRegression(solver=solver, class_weight={1: 2.0}, tol=1e-10).fit(X, y)  # missing label weighs 1
    d = LogisticRegression(solver=solver, tol=1e-10).fit(X, y, sample_weight=np.where(y == 1, 2.0, 1.0))
    assert _rel(_params(c), _params(d)) < 1e-7


def test_solvers_agree_and_auto_picks_newton():
    X, y = _toy(500, 5)
    n = LogisticRegression(solver="newton", tol=1e-10).fit(X, y)
    lb = LogisticRegression(solver="lbfgs", tol=1e-10).fit(X, y)
    auto = LogisticRegression(tol=1e-10).fit(X, y)
    assert _rel(_params(n), _params(lb)) < 1e-7
    np.testing.assert_array_equal(_params(auto), _params(n))
    assert n.n_iter_[0] < 15  # Newton: a handful of iterations


def test_fit_intercept_false():
    X, y = _toy()
    m = LogisticRegression(fit_intercept=False).fit(X, y)
    assert m.intercept_.tolist() == [0.0]
    np.testing.assert_allclose(m.decision_function(X), X @ m.coef_.ravel())


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_stays_float32(solver):
    X64, y = _toy(1000, 4)
    X32 = X64.astype(np.float32)
    m32 = LogisticRegression(solver=solver, tol=1e-6).fit(X32, y)
    m64 = LogisticRegression(solver=solver, tol=1e-6).fit(X64, y)
    # as scikit-learn: float32 data give float32 coefficients and outputs
    assert m32.coef_.dtype == np.float32 and m32.intercept_.dtype == np.float32
    assert m32.decision_function(X32).dtype == np.float32
    assert m32.predict_proba(X32).dtype == np.float32
    assert m32.predict_log_proba(X32).dtype == np.float32
    assert m64.coef_.dtype == np.float64 and m64.decision_function(X32).dtype == np.float32
    assert m32.decision_function(X64).dtype == np.float64
    assert _rel(_params(m32), _params(m64)) < 1e-4
    # integers and float16 become float64
    mi = LogisticRegression(solver=solver).fit(np.round(X64 * 10).astype(np.int64), y)
    assert mi.coef_.dtype == np.float64
    assert LogisticRegression(solver=solver).fit(X64.astype(np.float16), y).coef_.dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_data_not_upcast(solver):
    # a float64 copy of X would take 2x the array's bytes: the fit must stay well below one copy
    X, y = _toy(100_000, 20, dtype=np.float32)
    LogisticRegression(solver=solver).fit(X[:1000], y[:1000])  # warm imports and caches
    tracemalloc.start()
    try:
        LogisticRegression(solver=solver).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes, (peak, X.nbytes)


# ---------------------------------------------------------------- outputs


def test_predict_log_proba_stable_for_huge_decision_values():
    X, y = _toy()
    m = LogisticRegression().fit(X, y)
    w = m.coef_.ravel()
    X_far = np.stack([w, -w]) / (w @ w) * 1e6  # decision values about +-1e6
    z = m.decision_function(X_far)
    lp = m.predict_log_proba(X_far)
    assert np.all(np.isfinite(lp))
    np.testing.assert_allclose(lp[0], [-z[0], 0.0], rtol=1e-12)
    np.testing.assert_allclose(lp[1], [0.0, z[1]], rtol=1e-12)
    with np.errstate(divide="ignore"):
        assert np.isneginf(np.log(m.predict_proba(X_far))).any()  # what log(proba) would give
    p = m.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(np.exp(m.predict_log_proba(X)), p, rtol=1e-14)


@pytest.mark.parametrize("labels", [["no", "yes"], [-3, 7], [False, True], ["b", "a"]])
def test_labels_any_two_classes(labels):
    X, y01 = _toy()
    y = np.asarray(labels)[y01]
    m = LogisticRegression().fit(X, y.tolist())
    np.testing.assert_array_equal(m.classes_, np.unique(y))
    ref = LogisticRegression().fit(X, np.searchsorted(np.unique(y), y))
    np.testing.assert_array_equal(_params(m), _params(ref))
    pred = m.predict(X)
    assert pred.dtype == m.classes_.dtype and set(pred.tolist()) <= set(y.tolist())
    assert m.score(X, y) == pytest.approx(np.mean(pred == y))


def test_column_vector_y_warns_and_is_flattened():
    X, y = _toy()
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        m = LogisticRegression().fit(X, y[:, None])
    np.testing.assert_array_equal(_params(m), _params(LogisticRegression().fit(X, y)))


def test_score_with_sample_weight():
    X, y = _toy()
    m = LogisticRegression().fit(X, y)
    right = m.predict(X) == y
    sw = np.where(right, 1.0, 3.0)
    assert m.score(X, y, sample_weight=sw) == pytest.approx(np.sum(sw * right) / np.sum(sw))


def test_feature_names_from_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _toy(d=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    m = LogisticRegression().fit(df, y)
    np.testing.assert_array_equal(m.feature_names_in_, ["a", "b", "c"])
    assert m.feature_names_in_.dtype == object and m.n_features_in_ == 3
    np.testing.assert_array_equal(m.predict(df), LogisticRegression().fit(X, y).predict(X))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        m.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        m.predict(df.rename(columns={"a": "z"}))
    m.fit(X, y)  # refit without names forgets them
    assert not hasattr(m, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names"):
        m.predict(df)


# ---------------------------------------------------------------- bad input


def _bad(**overrides):
    X, y = _toy(20, 2)
    args = {"X": X, "y": y, "sample_weight": None}
    args.update(overrides)
    return args


@pytest.mark.parametrize("args, error, match", [
    (_bad(X=np.where(np.eye(20, 2) == 1, np.nan, 1.0)), ValueError, r"^Input X contains NaN\.$"),
    (_bad(X=np.where(np.eye(20, 2) == 1, np.inf, 1.0)), ValueError, r"Input X contains infinity"),
    (_bad(y=np.r_[np.nan, np.zeros(19)]), ValueError, r"Input y contains NaN\."),
    (_bad(y=np.zeros(20, int)), ValueError,
     r"This solver needs samples of at least 2 classes in the data, but the data contains only one class: 0$"),
    (_bad(y=np.arange(20) % 3), ValueError, r"Only binary classification is supported\. The type of the target "
                                            r"is multiclass"),
    (_bad(y=np.linspace(0, 1, 20)), ValueError, r"Unknown label type: continuous"),
    (_bad(y=np.arange(19) % 2), ValueError, r"inconsistent numbers of samples: \[20, 19\]"),
    (_bad(X=np.ones(20)), ValueError, r"Expected 2D array, got 1D array instead"),
    (_bad(X=np.ones((20, 2, 2))), ValueError, r"Found array with dim 3"),
    (_bad(X=np.ones((20, 0))), ValueError, r"0 feature\(s\)"),
    (_bad(X=np.ones((20, 2)) + 1j), ValueError, r"Complex data not supported"),
    (_bad(y=None), ValueError, r"requires y to be passed, but the target y is None"),
    (_bad(y=(np.arange(20) % 2).reshape(10, 2)), ValueError, r"y should be a 1d array"),
    (_bad(sample_weight=-np.ones(20)), ValueError, r"Negative values in data passed to sample_weight"),
    (_bad(sample_weight=np.ones(21)), ValueError, r"sample_weight\.shape == \(21,\), expected \(20,\)!"),
    (_bad(sample_weight=np.zeros(20)), ValueError, r"Sample weights must contain at least one non-zero number"),
    (_bad(sample_weight=np.r_[np.nan, np.ones(19)]), ValueError, r"Input sample_weight contains NaN"),
    (_bad(y=np.arange(20) % 2, sample_weight=(np.arange(20) % 2).astype(float)), ValueError,
     r"2 classes with non-zero weight"),
])
def test_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        LogisticRegression().fit(args["X"], args["y"], sample_weight=args["sample_weight"])


@pytest.mark.parametrize("params, match", [
    ({"solver": "sag"}, r"The 'solver' parameter of LogisticRegression must be a str among"),
    ({"C": 0.0}, r"The 'C' parameter of LogisticRegression must be a float in the range \(0, inf\)\. Got 0\.0"),
    ({"C": -1}, r"The 'C' parameter"),
    ({"C": np.inf}, r"The 'C' parameter"),
    ({"tol": -1e-4}, r"The 'tol' parameter"),
    ({"max_iter": 1.5}, r"The 'max_iter' parameter"),
    ({"class_weight": "auto"}, r"The 'class_weight' parameter"),
    ({"class_weight": {2: 1.0}}, r"class_weight dict must have the class labels as keys"),
    ({"class_weight": {0: -1.0}}, r"class_weight values must be finite and non-negative"),
    ({"fit_intercept": "yes"}, r"The 'fit_intercept' parameter"),
])
def test_bad_params(params, match):
    X, y = _toy(20, 2)
    with pytest.raises(ValueError, match=match):
        LogisticRegression(**params).fit(X, y)


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")
    X, y = _toy(20, 2)
    with pytest.raises(TypeError, match="does not support sparse input"):
        LogisticRegression().fit(sparse.csr_matrix(X), y)
    m = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="sparse"):
        m.predict(sparse.csr_array(X))


def test_not_fitted_and_wrong_width():
    X, y = _toy(20, 2)
    m = LogisticRegression()
    for method in (m.predict, m.predict_proba, m.predict_log_proba, m.decision_function):
        with pytest.raises(NotFittedError, match="not fitted yet") as info:
            method(X)
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)
    if sklearn is not None:
        from sklearn.exceptions import NotFittedError as SkNotFitted

        with pytest.raises(SkNotFitted):
            m.predict(X)
    m.fit(X, y)
    with pytest.raises(ValueError, match=r"X has 1 features, but LogisticRegression is expecting 2 features"):
        m.predict(X[:, :1])


# ---------------------------------------------------------------- convergence, warm start, protocol


@pytest.mark.parametrize("solver", SOLVERS)
def test_convergence_warning(solver):
    X, y = _toy(300, 4)
    with pytest.warns(ConvergenceWarning, match="did not converge") as rec:
        m = LogisticRegression(solver=solver, max_iter=1, tol=1e-12).fit(X, y)
    assert m.n_iter_[0] == 1
    if sklearn is not None:
        from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

        assert issubclass(rec[0].category, SkConvergenceWarning)  # scikit-learn's filters apply
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(solver=solver).fit(X, y)  # converges: no warning


@pytest.mark.parametrize("solver", SOLVERS)
def test_warm_start(solver):
    X, y = _toy(500, 4)
    m = LogisticRegression(solver=solver, warm_start=True, tol=1e-8).fit(X, y)
    first = _params(m)
    m.fit(X, y)
    assert m.n_iter_[0] <= 2
    assert _rel(_params(m), first) < 1e-6


def test_history():
    X, y = _toy()
    m = LogisticRegression(solver="newton").fit(X, y)
    f = m.history_["objective"]
    # at least one step, so that the pairs below are not an empty set
    assert m.n_iter_[0] >= 1 and len(f) == m.n_iter_[0] + 1
    assert all(a >= b - 1e-12 for a, b in zip(f, f[1:]))
    assert f[-1] < f[0]
    assert m.history_["grad_max"][-1] <= m.tol
    m = LogisticRegression(solver="lbfgs").fit(X, y)
    assert len(m.history_["objective"]) == m.n_iter_[0]


def test_verbose_progress_bar(capsys):
    pytest.importorskip("tqdm")
    X, y = _toy()
    LogisticRegression(solver="newton", verbose=1).fit(X, y)
    assert "LogisticRegression" in capsys.readouterr().err


def test_params_clone_repr_pickle():
    m = LogisticRegression(C=0.5, solver="lbfgs")
    assert m.get_params()["C"] == 0.5 and m.get_params(deep=False) == m.get_params()
    assert repr(m) == "LogisticRegression(C=0.5, solver='lbfgs')"
    assert repr(LogisticRegression()) == "LogisticRegression()"
    assert m.set_params(C=2.0, tol=1e-3) is m and m.C == 2.0
    with pytest.raises(ValueError, match="invalid parameter 'penalty'"):
        m.set_params(penalty="l1")
    clone = type(m)(**m.get_params())
    X, y = _toy()
    m.fit(X, y)
    again = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(again.predict_proba(X), m.predict_proba(X))
    assert not hasattr(clone, "coef_")


def test_separable_data_and_dead_hessian():
    # separable data: the penalty keeps the optimum finite; with C large the
    # Hessian of the loss nearly vanishes and the line search must cope
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    for solver in SOLVERS:
        m = LogisticRegression(C=1e4, solver=solver, max_iter=500).fit(X, y)
        assert m.score(X, y) == 1.0 and np.all(np.isfinite(_params(m)))
    # a constant feature and an unused one
    X2 = np.c_[np.zeros(4), X, np.ones(4)]
    m = LogisticRegression(solver="newton").fit(X2, y)
    assert m.coef_[0, 0] == 0.0


def test_in_sklearn_pipeline_and_search():
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _synthetic()
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    assert cross_val_score(pipe, X, y, cv=3, scoring="roc_auc").min() > 0.8  # uses predict_proba
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 1.0]}, cv=3, scoring="neg_log_loss").fit(X, y)
    assert search.best_estimator_[-1].C in (0.01, 1.0)


def test_doctests():
    result = doctest.testmod(logistic, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_works_without_sklearn_and_scipy():
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # importing it now raises ImportError
        sys.modules["scipy"] = None
        import numpy as np
        from sigmoid.models.logistic import LogisticRegression, NotFittedError, ConvergenceWarning
        X = np.array([[-2.0, 1.0], [-1.0, 0.0], [1.0, 0.5], [2.0, -1.0], [0.5, 0.0], [-0.5, 1.0]])
        y = np.array([0, 0, 1, 1, 1, 0])
        m = LogisticRegression()
        try:
            m.predict(X)
        except NotFittedError as e:
            assert type(e) is NotFittedError
        else:
            raise AssertionError("predict before fit did not raise")
        m.fit(X, y)
        assert m.score(X, y) == 1.0, m.score(X, y)
        try:
            LogisticRegression(solver="lbfgs").fit(X, y)
        except ImportError as e:
            assert "SciPy" in str(e), e
        else:
            raise AssertionError("solver='lbfgs' fitted without SciPy")
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_import_does_not_import_sklearn():
    code = "import sys, sigmoid.models.logistic; print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["False", "False"], (r.stdout, r.stderr)
