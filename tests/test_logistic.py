"""sigmoid.models.logistic.LogisticRegression: scikit-learn's estimator
checks for every solver and penalty, agreement with scikit-learn's solutions
(binary, multinomial, sparse, L1, elastic net, no penalty, liblinear's
objective), dtypes, solver names, warnings, input errors, Dask, and life
without scikit-learn.  scikit-learn's own test module runs as
tests/test_logistic_sklearn.py; the problem and the solvers' pieces are
tested in tests/test_logistic_problem.py."""
import doctest
import functools
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

SOLVERS = ["newton", "newton-cg", "lbfgs", "owlqn"]


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

# every solver, every penalty (lbfgs given room: unscaled iris needs more than 100 iterations)
CHECKED = [
    LogisticRegression(),
    LogisticRegression(solver="newton-cholesky"),
    LogisticRegression(solver="newton"),
    LogisticRegression(solver="newton-cg"),
    LogisticRegression(solver="lbfgs", max_iter=1000),
    LogisticRegression(solver="owlqn", max_iter=1000),
    LogisticRegression(solver="sag"),
    # the sample-weight checks compare fits to 1e-7: the L1 fits are asked for that accuracy
    LogisticRegression(l1_ratio=1.0, tol=1e-10),
    LogisticRegression(l1_ratio=0.5, solver="saga", tol=1e-10),
    LogisticRegression(penalty="l1", solver="owlqn", max_iter=1000),
    LogisticRegression(penalty="elasticnet", l1_ratio=0.3, solver="prox-newton", tol=1e-10),
    LogisticRegression(penalty="l1", solver="prox-newton", C=0.5, tol=1e-10),
    LogisticRegression(C=np.inf, max_iter=1000),
    LogisticRegression(penalty=None, solver="newton-cg", max_iter=1000),
    LogisticRegression(solver="liblinear"),
    LogisticRegression(solver="liblinear", penalty="l1", intercept_scaling=10.0),
]

if sklearn is not None:
    with warnings.catch_warnings():
        # deliberate: no sklearn.base.BaseEstimator, so that sigmoid imports without scikit-learn
        warnings.filterwarnings("ignore", message="Estimator LogisticRegression does not inherit", category=UserWarning)
        _checks = parametrize_with_checks(CHECKED)

    # (configuration, check) -> why it fails; each is asserted to fail, so the list cannot go stale
    CHECK_DIFFERENCES = {
        ("C=inf", "check_classifiers_train(readonly_memmap=True,X_dtype=float32)"):
            "without a penalty the fit saturates: a float32 probability rounds to 1, whose log 0 the check "
            "compares with atol=1e-9 to our log-probability -3e-9, the exact log1p of the other class's",
        ("penalty=None", "check_classifiers_train(readonly_memmap=True,X_dtype=float32)"):
            "as for C=inf",
        ("C=inf", "check_sample_weight_equivalence_on_dense_data"):
            "the check's data (15 samples, 30 features) are separable: without a penalty the optimum is at "
            "infinity, and the two fits stop at tol on different paths (scikit-learn marks this check as an "
            "expected failure of its own LogisticRegression)",
        ("C=inf", "check_sample_weight_equivalence_on_sparse_data"): "as on dense data",
    }

    @_checks
    def test_sklearn_estimator_checks(estimator, check, request):
        test_id = request.node.callspec.id
        why = [r for (est, chk), r in CHECK_DIFFERENCES.items() if est in test_id and test_id.endswith(f"-{chk}")]
        if why:
            with pytest.raises(AssertionError):
                check(estimator)
        else:
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
    ({"solver": "sgd"}, r"The 'solver' parameter of LogisticRegression must be a str among"),
    ({"C": 0.0}, r"The 'C' parameter of LogisticRegression must be a float in the range \(0, inf\]\. Got 0\.0"),
    ({"C": -1}, r"The 'C' parameter"),
    ({"C": np.nan}, r"The 'C' parameter"),
    ({"penalty": "l3"}, r"The 'penalty' parameter"),
    ({"l1_ratio": 1.5}, r"The 'l1_ratio' parameter of LogisticRegression must be a float in the range \[0, 1\]"),
    ({"intercept_scaling": 0.0}, r"The 'intercept_scaling' parameter"),
    ({"dual": "no"}, r"The 'dual' parameter"),
    ({"n_jobs": 1.5}, r"The 'n_jobs' parameter"),
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
    with pytest.warns(ConvergenceWarning, match="did not converge|failed to converge") as rec:
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
    with pytest.raises(ValueError, match="invalid parameter 'alpha'"):
        m.set_params(alpha=1.0)
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


# ---------------------------------------------------------------- many classes (softmax)


def _multiclass(name):
    datasets = pytest.importorskip("sklearn.datasets")
    if name == "iris":
        X, y = datasets.load_iris(return_X_y=True)
    elif name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        X = X / 16.0
    else:
        X, y = datasets.make_classification(n_samples=3000, n_features=20, n_informative=12, n_classes=10,
                                            random_state=0)
    return X, y


def _sk_reference(X, y, **kw):
    """scikit-learn's solution, converged far below our tolerance."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    kw.setdefault("solver", "newton-cholesky")
    return linear_model.LogisticRegression(tol=1e-12, max_iter=10_000, **kw).fit(X, y)


@functools.lru_cache(maxsize=None)
def _multiclass_reference(data):
    X, y = _multiclass(data)
    return _sk_reference(X, y, C=0.5)


@pytest.mark.parametrize("data, solver", [(data, solver) for data in ("iris", "digits", "make_classification")
                                          for solver in ("auto", "newton-cholesky", "newton-cg", "lbfgs")
                                          if (data, solver) != ("digits", "lbfgs")])   # L-BFGS: 30 s to 1e-10
def test_multinomial_agrees_with_sklearn(data, solver):
    """The issue's target: coefficients within 1e-6 relative of
    scikit-learn's at the optimum of the penalized objective."""
    X, y = _multiclass(data)
    ref = _multiclass_reference(data)
    m = LogisticRegression(C=0.5, solver=solver, tol=1e-10, max_iter=2000).fit(X, y)
    K = np.unique(y).size
    assert m.coef_.shape == (K, X.shape[1]) and m.intercept_.shape == (K,)
    assert _rel(_params(m), _params(ref)) < 1e-6
    np.testing.assert_allclose(m.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(m.predict(X), ref.predict(X))
    # the symmetric solution: coefficients and intercepts sum to 0 over the classes
    np.testing.assert_allclose(m.coef_.sum(axis=0), 0, atol=1e-10)
    assert abs(m.intercept_.sum()) < 1e-10


def test_multinomial_weights_and_string_labels():
    X, y = _multiclass("iris")
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.2, 3.0, y.size)
    ref = _sk_reference(X, labels, class_weight="balanced")
    ref_w = _sk_reference(X, labels, class_weight={"setosa": 3.0})
    m = LogisticRegression(class_weight="balanced", tol=1e-10).fit(X, labels)
    assert _rel(_params(m), _params(ref)) < 1e-6
    m = LogisticRegression(class_weight={"setosa": 3.0}, tol=1e-10).fit(X, labels)
    assert _rel(_params(m), _params(ref_w)) < 1e-6
    # weight 2 s is each sample twice with weight s
    a = LogisticRegression(tol=1e-10).fit(X, labels, sample_weight=2 * sw)
    b = LogisticRegression(tol=1e-10).fit(np.repeat(X, 2, axis=0), np.repeat(labels, 2), sample_weight=np.repeat(sw, 2))
    assert _rel(_params(a), _params(b)) < 1e-8
    assert list(a.classes_) == ["setosa", "versicolor", "virginica"]


def test_multinomial_probabilities():
    X, y = _multiclass("iris")
    m = LogisticRegression(C=100.0).fit(X, y)
    Z = X @ m.coef_.T + m.intercept_
    np.testing.assert_allclose(m.decision_function(X), Z, rtol=1e-12)
    # softmax written with NumPy here, not by the library
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(m.predict_proba(X), E / E.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(m.predict_proba(X).sum(axis=1), 1.0, rtol=1e-15)
    far = m.predict_log_proba(X * 1e6)                   # scores about 1e7 apart: finite, not log(0)
    assert np.all(np.isfinite(far))
    np.testing.assert_array_equal(m.predict(X), np.argmax(Z, axis=1))


# ---------------------------------------------------------------- sparse input


def _sparse_problem(n=400, d=60, seed=0):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.1, format="csr", random_state=rng)
    w = rng.standard_normal(d) * 3
    y = (X @ w + 0.3 * rng.standard_normal(n) > np.median(X @ w)).astype(int)
    return X, y


@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array", "csc_matrix", "coo_matrix"])
@pytest.mark.parametrize("solver", ["auto", "newton-cholesky", "newton-cg", "lbfgs"])
def test_sparse_equals_dense(fmt, solver):
    sp = pytest.importorskip("scipy.sparse")
    X, y = _sparse_problem()
    Xs = getattr(sp, fmt)(X)
    dense = LogisticRegression(solver=solver, tol=1e-10).fit(X.toarray(), y)
    sparse = LogisticRegression(solver=solver, tol=1e-10).fit(Xs, y)
    close = 1e-7 if solver == "lbfgs" else 1e-9     # L-BFGS's path depends on the rounding of each product
    assert _rel(_params(sparse), _params(dense)) < close
    np.testing.assert_allclose(sparse.decision_function(Xs), dense.decision_function(X.toarray()), rtol=close,
                               atol=close * 10)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X.toarray()), rtol=close, atol=1e-10)
    ref = _sk_reference(X, y)
    assert _rel(_params(sparse), _params(ref)) < 1e-6


def test_sparse_multinomial_and_l1():
    X, y = _sparse_problem(600, 40)
    y3 = y + (X[:, 0].toarray().ravel() > 0.5)
    ref = _sk_reference(X, y3)
    m = LogisticRegression(tol=1e-10, solver="newton-cg").fit(X, y3)
    assert _rel(_params(m), _params(ref)) < 1e-6
    ref = _sk_reference(X, y, l1_ratio=1.0, solver="saga", C=2.0)
    m = LogisticRegression(tol=1e-10, l1_ratio=1.0, C=2.0).fit(X, y)
    assert _rel(_params(m), _params(ref)) < 1e-5
    np.testing.assert_array_equal(m.coef_ == 0, ref.coef_ == 0)


def test_sparse_float32_is_not_densified():
    """float32 CSR stays float32 (coefficients, outputs) and is never made
    dense: the fit's memory stays far below one dense copy."""
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(2)
    n, d = 20_000, 5_000
    X = sp.random(n, d, density=0.002, format="csr", random_state=rng, dtype=np.float32)
    y = (X @ rng.standard_normal(d) > 0).astype(int)
    LogisticRegression(solver="newton-cg").fit(X[:200], y[:200])     # warm imports
    tracemalloc.start()
    try:
        m = LogisticRegression(solver="newton-cg").fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * d * 4 / 10, peak                  # a dense float32 copy would be 400 MB
    assert m.coef_.dtype == np.float32 and m.intercept_.dtype == np.float32
    assert m.decision_function(X).dtype == np.float32 and m.predict_proba(X).dtype == np.float32
    ref = LogisticRegression(solver="newton-cg").fit(X.astype(np.float64), y)
    assert _rel(_params(m), _params(ref)) < 1e-5       # float32 data read as stored, summed in float64


# ---------------------------------------------------------------- penalties


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
@pytest.mark.parametrize("solver", ["auto", "owlqn", "prox-newton", "saga"])
def test_l1_and_elastic_net_agree_with_saga(l1_ratio, solver):
    """Against scikit-learn's saga run to tol=1e-12: the same coefficients,
    and exact zeros exactly where saga's are."""
    X, y = _breast_cancer()
    ref = _sk_reference(X, y, l1_ratio=l1_ratio, C=0.05, solver="saga")
    m = LogisticRegression(l1_ratio=l1_ratio, C=0.05, solver=solver, tol=1e-10, max_iter=5000).fit(X, y)
    assert _rel(_params(m), _params(ref)) < 1e-5
    assert np.count_nonzero(ref.coef_ == 0) >= 3                 # the check is not vacuous
    np.testing.assert_array_equal(m.coef_ == 0, ref.coef_ == 0)


def test_l1_multinomial_agrees_with_saga():
    X, y = _multiclass("iris")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    ref = _sk_reference(X, y, l1_ratio=1.0, C=0.3, solver="saga")
    m = LogisticRegression(l1_ratio=1.0, C=0.3, tol=1e-10).fit(X, y)
    assert _rel(_params(m), _params(ref)) < 1e-5
    assert np.count_nonzero(ref.coef_ == 0) >= 2
    np.testing.assert_array_equal(m.coef_ == 0, ref.coef_ == 0)


def _logistic_samples(n, d, K, seed):
    """Samples of a softmax model (K classes; K = 2 a logistic one): never
    separable, so the unpenalized optimum exists."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((K, d))
    Z = X @ W.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return X, y


@pytest.mark.parametrize("spelling", [{"C": np.inf}, {"penalty": None}])
@pytest.mark.parametrize("K", [2, 4])
def test_no_penalty(spelling, K):
    X, y = _logistic_samples(1000, 5, K, seed=K)
    ref = _sk_reference(X, y, C=np.inf)
    m = LogisticRegression(tol=1e-10, max_iter=1000, **spelling).fit(X, y)
    assert _rel(_params(m), _params(ref)) < 1e-6
    if K > 2:
        np.testing.assert_allclose(m.coef_.sum(axis=0), 0, atol=1e-10)


def test_liblinear_objective():
    """solver="liblinear" solves liblinear's problem (the intercept a
    penalized coefficient of a constant feature intercept_scaling), not the
    others' (scikit-learn's liblinear at tol=1e-12 is the reference; its
    coordinate descent visits the coordinates in a random order, which now
    and then ran out of iterations: random_state fixes it)."""
    X, y = _synthetic()
    for penalty, ratio in (("l2", 0.0), ("l1", 1.0)):
        kw = dict(solver="liblinear", C=0.05, intercept_scaling=3.0)
        ref = _sk_reference(X, y, l1_ratio=ratio, random_state=0, **kw)
        m = LogisticRegression(tol=1e-10, penalty=penalty, **kw).fit(X, y)
        assert _rel(_params(m), _params(ref)) < 1e-6
        other = LogisticRegression(tol=1e-10, penalty=penalty, C=0.05, intercept_scaling=3.0).fit(X, y)
        assert _rel(_params(other), _params(ref)) > 1e-3      # the intercept is not penalized elsewhere


def test_penalty_spellings():
    X, y = _synthetic()
    same = [
        (LogisticRegression(l1_ratio=1.0, C=0.1), LogisticRegression(penalty="l1", C=0.1)),
        (LogisticRegression(l1_ratio=0.4, C=0.1), LogisticRegression(penalty="elasticnet", l1_ratio=0.4, C=0.1)),
        (LogisticRegression(penalty="elasticnet", l1_ratio=0.0), LogisticRegression(penalty="l2")),
        (LogisticRegression(l1_ratio=None), LogisticRegression()),
        (LogisticRegression(penalty="deprecated", l1_ratio=1.0), LogisticRegression(penalty="l1")),
    ]
    for a, b in same:
        np.testing.assert_array_equal(_params(a.fit(X, y)), _params(b.fit(X, y)))
        assert a.solver_ == b.solver_
    with pytest.raises(ValueError, match="l1_ratio must be specified when penalty is elasticnet"):
        LogisticRegression(penalty="elasticnet", l1_ratio=None).fit(X, y)
    with pytest.warns(UserWarning, match=r"l1_ratio parameter is only used when penalty is 'elasticnet'"):
        LogisticRegression(penalty="l2", l1_ratio=0.5).fit(X, y)
    with pytest.warns(UserWarning, match=r"Inconsistent values: penalty=l2 with l1_ratio=1"):
        LogisticRegression(penalty="l2", l1_ratio=1).fit(X, y)
    with pytest.warns(UserWarning, match="Setting penalty=None will ignore the C"):
        LogisticRegression(penalty=None, C=3.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegression(penalty="l1", solver="liblinear").fit(X, y)     # scikit-learn <= 1.7's spelling
        LogisticRegression(n_jobs=2).fit(X, y)                            # accepted, no effect


# ---------------------------------------------------------------- solver names


@pytest.mark.parametrize("solver, kw, data, ran", [
    ("auto", {}, "binary", "newton-cholesky"),
    ("auto", {}, "wide", "newton-cg"),
    ("auto", {}, "sparse_wide", "newton-cg"),
    ("auto", {"l1_ratio": 1.0}, "binary", "prox-newton"),
    ("auto", {"l1_ratio": 1.0}, "sparse_wide", "owlqn"),
    ("newton", {}, "binary", "newton-cholesky"),
    ("newton-cholesky", {}, "wide", "newton-cholesky"),
    ("newton-cg", {}, "binary", "newton-cg"),
    ("lbfgs", {}, "binary", "lbfgs"),
    ("sag", {}, "binary", "newton-cholesky"),
    ("saga", {}, "binary", "newton-cholesky"),
    ("saga", {"l1_ratio": 0.5}, "binary", "prox-newton"),
    ("liblinear", {}, "binary", "newton-cholesky"),
    ("liblinear", {"penalty": "l1"}, "binary", "prox-newton"),
    ("owlqn", {"l1_ratio": 1.0}, "binary", "owlqn"),
    ("prox-newton", {"l1_ratio": 1.0}, "binary", "prox-newton"),
])
def test_solver_names_map_to_solvers(solver, kw, data, ran):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    if data == "binary":
        X, y = _toy(300, 5)
    else:
        X = rng.standard_normal((300, 600))
        y = (X[:, 0] + 0.5 * rng.standard_normal(300) > 0).astype(int)
        if data == "sparse_wide":
            X = sp.csr_matrix(np.where(np.abs(X) > 1.5, X, 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = LogisticRegression(solver=solver, **kw).fit(X, y)
    assert m.solver_ == ran


@pytest.mark.parametrize("solver, kw, match", [
    ("lbfgs", {"l1_ratio": 1.0}, r"Solver lbfgs supports only 'l2' or None penalties, got l1 penalty\."),
    ("newton-cg", {"penalty": "elasticnet", "l1_ratio": 0.5},
     r"Solver newton-cg supports only 'l2' or None penalties, got elasticnet penalty\."),
    ("newton", {"penalty": "l1"}, r"Solver newton supports only 'l2' or None penalties"),
    ("lbfgs", {"dual": True}, r"Solver lbfgs supports only dual=False, got dual=True"),
    ("liblinear", {"l1_ratio": 0.5}, r"Only 'saga' solver supports elasticnet penalty, got solver=liblinear\."),
    ("liblinear", {"C": np.inf}, r"penalty=None is not supported for the liblinear solver"),
    ("liblinear", {"dual": True, "penalty": "l1"}, r"penalty='l1' and loss='logistic_regression' are not supported "
                                                   r"when dual=True"),
])
def test_solver_penalty_rules(solver, kw, match):
    X, y = _toy()
    with pytest.raises(ValueError, match=match):
        LogisticRegression(solver=solver, **kw).fit(X, y)


def test_liblinear_two_classes_only():
    X, y = _multiclass("iris")
    with pytest.raises(ValueError, match="The 'liblinear' solver does not support multiclass classification"):
        LogisticRegression(solver="liblinear").fit(X, y)
    Xb, yb = _toy()
    m = LogisticRegression(solver="liblinear", dual=True).fit(Xb, yb)     # the primal is solved
    ref = LogisticRegression(solver="liblinear").fit(Xb, yb)
    np.testing.assert_array_equal(_params(m), _params(ref))


@pytest.mark.parametrize("solver, message", [
    ("lbfgs", r"(?s)lbfgs failed to converge after 2 iteration\(s\).*Increase the number of iterations to improve "
              r"the convergence \(max_iter=2\)"),
    ("newton-cg", r"newton-cg failed to converge at loss = [0-9.e-]+\. Increase the number of iterations\."),
    ("newton-cholesky", r"Newton solver did not converge after 2 iterations\."),
    ("liblinear", r"Liblinear failed to converge, increase the number of iterations\."),
    ("sag", r"The max_iter was reached which means the coef_ did not converge"),
    ("saga", r"The max_iter was reached which means the coef_ did not converge"),
    ("auto", r"LogisticRegression\(solver='auto'\) did not converge \(sigmoid's newton-cholesky solver: "
             r"max_iter=2 reached"),
])
def test_convergence_warning_in_sklearn_s_words(solver, message):
    X, y = _multiclass("iris")
    y = (y == 1).astype(int)
    with pytest.warns(ConvergenceWarning, match=message):
        m = LogisticRegression(solver=solver, max_iter=2, tol=1e-15).fit(X, y)
    assert m.n_iter_.tolist() == [2] and m.n_iter_.dtype == np.int32


@pytest.mark.parametrize("solver", ["auto", "newton-cg", "lbfgs", "saga", "liblinear"])
def test_max_iter_zero(solver):
    """scikit-learn's meaning: the starting point, no step."""
    X, y = _multiclass("iris")
    y = y == 2
    with pytest.warns(ConvergenceWarning):
        m = LogisticRegression(solver=solver, max_iter=0).fit(X, y)
    assert m.n_iter_.tolist() == [0]
    np.testing.assert_array_equal(m.coef_, 0)
    np.testing.assert_array_equal(m.intercept_, 0)
    np.testing.assert_array_equal(m.predict_proba(X), 0.5)


def test_warm_start_multinomial():
    X, y = _multiclass("iris")
    m = LogisticRegression(warm_start=True, tol=1e-8).fit(X, y)
    first = _params(m)
    m.fit(X, y)
    assert m.n_iter_[0] <= 1 and _rel(_params(m), first) < 1e-7
    # two single Newton steps with a warm start are the two steps of one fit
    a = LogisticRegression(solver="newton-cg", max_iter=2)
    b = LogisticRegression(solver="newton-cg", max_iter=1, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X, y)
        b.fit(X, y)
        b.fit(X, y)
    np.testing.assert_allclose(_params(a), _params(b), rtol=1e-12)


def test_sparsify_densify():
    sp = pytest.importorskip("scipy.sparse")
    X, y = _breast_cancer()
    m = LogisticRegression(l1_ratio=1.0, C=0.05).fit(X, y)
    dense_z = m.decision_function(X)
    assert m.sparsify() is m and sp.issparse(m.coef_)
    assert m.coef_.nnz == np.count_nonzero(m.densify().coef_)
    m.sparsify()
    np.testing.assert_allclose(m.decision_function(X), dense_z, rtol=1e-14)
    np.testing.assert_allclose(m.decision_function(sp.csr_matrix(X)), dense_z, rtol=1e-12)
    assert isinstance(m.densify().coef_, np.ndarray)
    with pytest.raises(NotFittedError):
        LogisticRegression().sparsify()


def test_newton_cg_records_its_conjugate_gradients():
    X, y = _sparse_problem(2000, 300)
    m = LogisticRegression(solver="newton-cg", tol=1e-8).fit(X, y)
    cg = m.history_["cg_iterations"]
    assert len(cg) == m.n_iter_[0] + 1 and cg[0] == 0 and all(c >= 1 for c in cg[1:])


# ---------------------------------------------------------------- Dask arrays


@pytest.fixture
def threaded_dask():
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.array")
    with dask.config.set(scheduler="threads"):
        yield


@pytest.mark.parametrize("kw", [{}, {"solver": "newton-cg"}, {"solver": "lbfgs"}, {"l1_ratio": 1.0, "C": 0.5},
                                {"l1_ratio": 0.5, "solver": "owlqn"}])
def test_dask_multinomial_and_penalties(threaded_dask, kw):
    import dask.array as da

    X, y = _multiclass("iris")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xd, yd = da.from_array(X, chunks=(40, 4)), da.from_array(y, chunks=40)
    ref = LogisticRegression(tol=1e-10, max_iter=1000, **kw).fit(X, y)
    got = LogisticRegression(tol=1e-10, max_iter=1000, **kw).fit(Xd, yd)
    assert got.solver_ == ref.solver_
    assert _rel(_params(got), _params(ref)) < 1e-8
    P = got.predict_proba(Xd)
    assert isinstance(P, da.Array) and P.shape == (150, 3)
    np.testing.assert_allclose(P.compute(), ref.predict_proba(X), rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(got.predict(Xd).compute(), ref.predict(X))
    assert got.decision_function(Xd).compute().shape == (150, 3)


def test_dask_rejects_liblinear_multiclass(threaded_dask):
    import dask.array as da

    X, y = _multiclass("iris")
    with pytest.raises(ValueError, match="'liblinear' solver does not support multiclass"):
        LogisticRegression(solver="liblinear").fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
