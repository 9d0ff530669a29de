"""MultiLabelClassifier: against scikit-learn's MLPClassifier on the same split
and architecture, its objective's gradient against central differences, and
its handling of bad input."""
import doctest
import warnings

import numpy as np
import pytest

from sigmoid.models import multilabel
from sigmoid.models.multilabel import MultiLabelClassifier

# scikit-learn is needed only here: for its synthetic multi-label data and its
# split (the `data` fixture), and for the comparison with its MLPClassifier.
# The tests that need neither (gradients, input checks, parameters, dtypes,
# docstrings) run without it.  scikit-learn ships no multi-label data set
# offline (its fetch_* need the network), so the data are its synthetic
# generator's.
N_SAMPLES, N_FEATURES, N_LABELS = 2000, 20, 5
EPOCHS = 200             # MLPClassifier's default max_iter
# Measured (random_state 0..4, relu and sigmoid units): our micro F1 0.734 to
# 0.750, scikit-learn's 0.736 to 0.747, paired differences at most 0.008.
MICRO_F1_FLOOR = 0.70
MARGIN = 0.03


def _sklearn(module):
    return pytest.importorskip(module, reason="scikit-learn is not installed: its data and its MLP are not available")


@pytest.fixture(scope="module")
def data():
    datasets, model_selection = _sklearn("sklearn.datasets"), _sklearn("sklearn.model_selection")
    X, Y = datasets.make_multilabel_classification(n_samples=N_SAMPLES, n_features=N_FEATURES, n_classes=N_LABELS,
                                                   random_state=0)
    Xtr, Xte, Ytr, Yte = model_selection.train_test_split(X, Y, test_size=0.25, random_state=0)
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    return (Xtr - mu) / sd, (Xte - mu) / sd, Ytr, Yte


@pytest.fixture(scope="module")
def ours(data):
    Xtr, _, Ytr, _ = data
    return MultiLabelClassifier(hidden_layer_sizes=(100,), activation="relu", max_iter=EPOCHS,
                                random_state=0).fit(Xtr, Ytr)


def _f1(Y, P):
    f1_score = _sklearn("sklearn.metrics").f1_score
    return f1_score(Y, P, average="micro"), f1_score(Y, P, average="macro")


def test_f1_against_sklearn_mlp(data, ours):
    Xtr, Xte, Ytr, Yte = data
    ConvergenceWarning = _sklearn("sklearn.exceptions").ConvergenceWarning
    MLPClassifier = _sklearn("sklearn.neural_network").MLPClassifier
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # scikit-learn's own arithmetic underflows harmlessly, and it warns
        # when it runs all max_iter epochs
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = MLPClassifier(hidden_layer_sizes=(100,), activation="relu", solver="adam", max_iter=EPOCHS,
                           random_state=0).fit(Xtr, Ytr)
        sk_pred = sk.predict(Xte)
    our_micro, our_macro = _f1(Yte, ours.predict(Xte))
    sk_micro, sk_macro = _f1(Yte, sk_pred)
    print(f"\nmulti-label F1, {N_SAMPLES} samples x {N_FEATURES} features, {N_LABELS} labels, test 25%, "
          f"MLP (100,) relu, adam, {EPOCHS} epochs"
          f"\n  {'':28} {'micro':>7} {'macro':>7}"
          f"\n  {'sigmoid MultiLabelClassifier':28} {our_micro:7.4f} {our_macro:7.4f}"
          f"\n  {'sklearn MLPClassifier':28} {sk_micro:7.4f} {sk_macro:7.4f}")
    assert our_micro >= MICRO_F1_FLOOR
    assert our_micro >= sk_micro - MARGIN
    assert our_macro >= sk_macro - MARGIN
    assert ours.score(Xte, Yte) == pytest.approx(sk.score(Xte, Yte), abs=0.06)   # subset accuracy


def test_fitted_attributes(data, ours):
    Xtr, _, Ytr, _ = data
    assert ours.n_features_in_ == N_FEATURES and ours.n_labels_ == N_LABELS
    np.testing.assert_array_equal(ours.classes_, np.arange(N_LABELS))
    assert 1 <= ours.n_iter_ <= EPOCHS
    assert len(ours.loss_curve_) == ours.n_iter_ == len(ours.history_["loss"])
    assert ours.history_.steps == list(range(1, ours.n_iter_ + 1))
    assert ours.loss_curve_[-1] < 0.5 * ours.loss_curve_[0]
    assert ours.validation_scores_ is None and ours.pos_weight_ is None
    assert all(p.grad is None for p in ours.network_.parameters())


def test_probabilities_are_independent_per_label(data, ours):
    _, Xte, _, _ = data
    P = ours.predict_proba(Xte)
    Z = ours.decision_function(Xte)
    assert P.shape == Z.shape == (Xte.shape[0], N_LABELS) and P.dtype == Z.dtype == np.float32
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P, 1 / (1 + np.exp(-Z.astype(np.float64))), rtol=1e-6)
    sums = P.sum(axis=1)
    assert np.mean(np.abs(sums - 1) > 0.1) > 0.5           # rows do not sum to 1
    assert sums.max() > 1.5                                 # several labels can be likely at once
    np.testing.assert_array_equal(ours.predict(Xte), (P > 0.5).astype(int))
    np.testing.assert_array_equal(ours.predict(Xte, threshold=0.3), (P > 0.3).astype(int))
    t = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    np.testing.assert_array_equal(ours.predict(Xte, threshold=t), (P > t).astype(int))


def test_reproducible_with_random_state(data):
    Xtr, Xte, Ytr, _ = data
    X, Y = Xtr[:400], Ytr[:400]

    def fit(seed):
        return MultiLabelClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=seed).fit(X, Y)

    a, b, c = fit(7), fit(7), fit(8)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(Xte), b.predict_proba(Xte))
    assert a.loss_curve_ != c.loss_curve_
    rng = np.random.default_rng(3)
    d = MultiLabelClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=rng).fit(X, Y)
    e = MultiLabelClassifier(hidden_layer_sizes=(32,), max_iter=5,
                             random_state=np.random.default_rng(3)).fit(X, Y)
    assert d.loss_curve_ == e.loss_curve_


def test_balanced_pos_weight_raises_recall_of_a_rare_label(data):
    Xtr, Xte, Ytr, Yte = data
    # a rare sixth label: the first three all present (11.5% of samples)
    rare_tr = Ytr[:, 0] & Ytr[:, 1] & Ytr[:, 2]
    rare_te = Yte[:, 0] & Yte[:, 1] & Yte[:, 2]
    Ytr6, Yte6 = np.column_stack([Ytr, rare_tr]), np.column_stack([Yte, rare_te])
    recall = {}
    for pw in (None, "balanced"):
        clf = MultiLabelClassifier(max_iter=100, pos_weight=pw, random_state=0).fit(Xtr, Ytr6)
        P = clf.predict(Xte)
        recall[pw] = np.sum((P == 1) & (Yte6 == 1), axis=0) / np.sum(Yte6 == 1, axis=0)   # per label
    n_pos = Ytr6.sum(axis=0)
    np.testing.assert_allclose(clf.pos_weight_, (len(Ytr6) - n_pos) / n_pos, rtol=1e-6)
    # measured: 0.00 without weights, 0.51 balanced (0.45 to 0.57 over seeds)
    assert recall["balanced"][5] >= recall[None][5] + 0.25
    assert np.all(recall["balanced"] >= recall[None] - 0.02)


@pytest.mark.parametrize("activation", ["relu", "tanh", "silu", "sigmoid"])
def test_objective_gradient_matches_central_differences(activation):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 3))
    Y = rng.integers(0, 2, (7, 2))
    alpha, pos_weight = 0.3, np.array([2.0, 0.5])
    clf = MultiLabelClassifier(hidden_layer_sizes=(4, 3), activation=activation, alpha=alpha,
                               pos_weight=pos_weight, max_iter=1, dtype=np.float64, random_state=0).fit(X, Y)
    net = clf.network_
    params = net.parameters()

    def objective():
        net.zero_grad()
        return clf._loss_and_grads(X, Y.astype(np.float64))

    J = objective()
    analytic = [p.grad.copy() for p in params]
    # the objective, written out independently
    Z = net(X)
    bce = (1 - Y) * np.logaddexp(0, Z) + pos_weight * Y * np.logaddexp(0, -Z)
    n, L = Y.shape
    penalty = sum(np.sum(w.data ** 2) for w in clf._weights()) * alpha / (2 * n * L)
    assert J == pytest.approx(bce.mean() + penalty, rel=1e-12)
    eps = 1e-6
    for p, a in zip(params, analytic):
        flat = p.data.reshape(-1)
        numeric = np.empty(flat.size)
        for j in range(flat.size):
            v = flat[j]
            flat[j] = v + eps
            up = objective()
            flat[j] = v - eps
            down = objective()
            flat[j] = v
            numeric[j] = (up - down) / (2 * eps)
        np.testing.assert_allclose(a.reshape(-1), numeric, rtol=1e-6, atol=1e-9)


def test_early_stopping_keeps_the_best_epoch(data):
    Xtr, _, Ytr, _ = data
    clf = MultiLabelClassifier(hidden_layer_sizes=(64,), early_stopping=True, n_iter_no_change=3, max_iter=100,
                               learning_rate_init=0.01, random_state=0).fit(Xtr, Ytr)
    assert clf.n_iter_ < 100
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(clf.history_["val_score"]) == len(clf.history_["val_loss"])
    assert clf.history_["val_score"] == scores
    assert clf.best_validation_score_ == max(scores)
    assert all(0 <= s <= 1 for s in scores)
    # the parameters of the best epoch are kept: rebuild the held-out set
    # (the first draw of fit's generator is the split's permutation)
    n_val = int(np.ceil(0.1 * len(Xtr)))
    val = np.random.default_rng(0).permutation(len(Xtr))[:n_val]
    assert scores[-1] < max(scores)       # so that keeping the last epoch would be caught
    assert clf.score(Xtr[val], Ytr[val]) == clf.best_validation_score_


def test_dtype_float64():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    Y = (X[:, :2] > 0).astype(bool)
    clf = MultiLabelClassifier(hidden_layer_sizes=(8,), max_iter=3, dtype=np.float64, random_state=0).fit(X, Y)
    assert clf.predict_proba(X).dtype == np.float64
    assert all(p.data.dtype == np.float64 for p in clf.network_.parameters())
    assert clf.predict(X).dtype == np.int64


def test_params_protocol():
    clf = MultiLabelClassifier(hidden_layer_sizes=(10, 5), alpha=0.1)
    params = clf.get_params()
    assert params["hidden_layer_sizes"] == (10, 5) and params["alpha"] == 0.1
    assert params["activation"] == "relu" and params["batch_size"] == "auto"
    assert clf.set_params(alpha=0.5, activation="tanh") is clf
    assert clf.alpha == 0.5 and clf.activation == "tanh"
    with pytest.raises(ValueError, match="invalid parameter 'alpah'"):
        clf.set_params(alpah=1.0)
    assert repr(clf) == "MultiLabelClassifier(hidden_layer_sizes=(10, 5), activation='tanh', alpha=0.5)"


def test_sklearn_clone():
    clone = _sklearn("sklearn.base").clone
    clf = MultiLabelClassifier(hidden_layer_sizes=(10, 5), alpha=0.5, activation="tanh")
    c = clone(clf)
    assert c is not clf and c.get_params() == clf.get_params()


def test_verbose_progress_bar(capsys):
    pytest.importorskip("tqdm")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    MultiLabelClassifier(hidden_layer_sizes=(4,), max_iter=3, verbose=True, random_state=0).fit(X, X > 0)
    assert "MultiLabelClassifier" in capsys.readouterr().err


_X = np.random.default_rng(0).standard_normal((6, 3))
_Y = np.array([[0, 1], [1, 0], [1, 1], [0, 0], [1, 0], [0, 1]])


@pytest.mark.parametrize("X, Y, message", [
    (_X, _Y[:, 0], r"Y must be a 2-D binary indicator matrix .*got shape \(6,\)"),
    (_X, _Y * 2, "Y must be a binary indicator matrix"),
    (_X, _Y - 0.5, "Y must be a binary indicator matrix"),
    (_X, np.where(_Y == 1, np.nan, 0.0), "Y must be a binary indicator matrix"),
    (_X, np.array([["a", "b"]] * 6), "Y must be a binary indicator matrix"),
    (_X[:5], _Y, r"X and Y have different numbers of samples \(5 and 6\)"),
    (np.where(_X > 1, np.inf, _X), _Y, "X contains nan or inf"),
    (np.where(_X > 1, np.nan, _X), _Y, "X contains nan or inf"),
    (_X[:, 0], _Y, r"X must be 2-D \(n_samples, n_features\)"),
    (_X, np.zeros((6, 0)), "Y has no labels"),
])
def test_bad_input(X, Y, message):
    with pytest.raises(ValueError, match=message):
        MultiLabelClassifier(max_iter=1).fit(X, Y)


@pytest.mark.parametrize("params, message", [
    (dict(activation="softmax"), "activation must be one of"),
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be positive ints"),
    (dict(pos_weight="auto"), "pos_weight must be None, 'balanced' or an array"),
    (dict(pos_weight=[1.0, 2.0, 3.0]), r"pos_weight must be .* shape \(2,\)"),
    (dict(pos_weight=[1.0, -2.0]), "pos_weight must be finite and >= 0"),
    (dict(alpha=-1.0), "alpha must be a finite number >= 0"),
    (dict(learning_rate_init=0), "learning_rate_init must be a positive number"),
    (dict(batch_size=0), "batch_size must be 'auto' or an int >= 1"),
    (dict(max_iter=0), "max_iter must be an int >= 1"),
    (dict(early_stopping=True, validation_fraction=1.5), r"validation_fraction must be in \(0, 1\)"),
    (dict(early_stopping=True, validation_fraction=0.1), "the validation set would have 1 samples"),
])
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        MultiLabelClassifier(max_iter=params.pop("max_iter", 1), **params).fit(_X, _Y)


def test_bad_input_at_prediction():
    clf = MultiLabelClassifier(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    with pytest.raises(AttributeError, match="not fitted yet"):
        clf.predict(_X)
    clf.fit(_X, _Y)
    with pytest.raises(ValueError, match="X has 2 features, the model was fitted with 3"):
        clf.predict(_X[:, :2])
    with pytest.raises(ValueError, match="X contains nan or inf"):
        clf.predict_proba(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="threshold must be a probability"):
        clf.predict(_X, threshold=1.5)
    with pytest.raises(ValueError, match="threshold must be a probability"):
        clf.predict(_X, threshold=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="Y has 1 labels, the model was fitted with 2"):
        clf.score(_X, _Y[:, :1])


def test_docstring_examples():
    result = doctest.testmod(multilabel, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
