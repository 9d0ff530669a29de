"""A multi-label classifier: a multilayer perceptron with one sigmoid output
per label, trained with the fused binary cross-entropy of :mod:`sigmoid.losses`."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from ..losses import bce_with_logits_and_grad
from ..nn import Linear, ReLU, Sequential, SiLU, Sigmoid, Tanh
from ..nn.module import check_dtype
from ..optim import Adam
from ._training import Estimator, History, Progress, as_generator

__all__ = ["MultiLabelClassifier"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "silu": SiLU, "sigmoid": Sigmoid, "logistic": Sigmoid}


class MultiLabelClassifier(Estimator):
    r"""Multi-label classifier: a multilayer perceptron with one sigmoid
    output per label, trained with per-label binary cross-entropy.

    For an input x the network computes hidden layers
    :math:`h_0 = x,\ h_k = f(W_k h_{k-1} + b_k)` and one logit per label,
    :math:`z = W_{K+1} h_K + b_{K+1}`; label l is present with probability
    :math:`\sigma(z_l)`, independently of the other labels (the
    probabilities of a sample need not sum to 1).  Training minimises, over
    each mini-batch of n samples with L labels,

    .. math::
        J = \frac{1}{nL} \sum_{i=1}^{n} \sum_{l=1}^{L}
            \left[(1 - y_{il})\,\mathrm{softplus}(z_{il})
                  + p_l\,y_{il}\,\mathrm{softplus}(-z_{il})\right]
            + \frac{\alpha}{2 n L} \sum_k \lVert W_k \rVert_F^2

    with Adam.  The loss and its gradient with respect to the logits come
    from one fused pass (:func:`sigmoid.bce_with_logits_and_grad`); the
    backward pass is :mod:`sigmoid.nn`'s.  With :math:`p_l = 1`, J is
    scikit-learn's ``MLPClassifier`` objective for indicator targets (and
    its L2 convention: biases are not penalised) divided by L, so Adam's
    steps are the same.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Width of each hidden layer.
    activation : {"relu", "tanh", "silu", "sigmoid"}, default "relu"
        Hidden activation f ("logistic" is accepted for "sigmoid", as in
        scikit-learn).
    alpha : float, default 1e-4
        Strength of the L2 penalty on the weights (not the biases).
    pos_weight : None, "balanced" or array_like of shape (n_labels,)
        Weight p_l of the positive term of each label's loss.  "balanced"
        sets n_neg / n_pos per label from the training targets (1 for a
        label that is never or always present), which raises the recall of
        rare labels.
    batch_size : int or "auto", default "auto"
        Mini-batch size; "auto" is min(200, n_samples).
    learning_rate_init : float, default 1e-3
        Adam's learning rate (betas 0.9, 0.999, eps 1e-8).
    max_iter : int, default 200
        Maximum number of epochs.
    tol : float, default 1e-4
        Improvement below which an epoch counts as no improvement (of the
        training loss, or of the validation score with early stopping).
    n_iter_no_change : int, default 10
        Training stops after more than this many epochs in a row without
        improvement.
    early_stopping : bool, default False
        Hold out `validation_fraction` of the data, score it (subset
        accuracy) after every epoch, stop when it stops improving and keep
        the best parameters.
    validation_fraction : float in (0, 1), default 0.1
    shuffle : bool, default True
        Shuffle the samples every epoch.
    random_state : None, int or numpy.random.Generator
        Seeds the initial weights, the validation split and the shuffling.
    verbose : bool, default False
        Show a progress bar (tqdm, when installed) with the loss.
    dtype : float32 or float64, default float32
        Dtype of the parameters and of the computation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_labels,)
        The label indices 0, ..., L - 1.
    n_labels_ : int
    n_features_in_ : int
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Training objective J per epoch (mean over the epoch's samples).
    validation_scores_ : list of float or None
        Subset accuracy on the held-out data per epoch (early stopping only).
    best_validation_score_ : float or None
    history_ : sigmoid.models._training.History
        Per epoch: "loss", and with early stopping "val_loss" and
        "val_score".
    pos_weight_ : ndarray of shape (n_labels,) or None
        The positive weights used.
    network_ : sigmoid.nn.Sequential
        The trained network (input to logits).

    Notes
    -----
    Weights and biases start uniform in :math:`\pm\sqrt{6/(n_{in} + n_{out})}`
    (:math:`\sqrt{2/(\cdot)}` for sigmoid units), scikit-learn's
    initialisation.  Inputs are not scaled: standardise them first.
    Training that runs all `max_iter` epochs without meeting the stopping
    rule is not warned about; ``n_iter_ == max_iter`` tells.

    Examples
    --------
    Two labels: the signs of two features.

    >>> import numpy as np
    >>> from sigmoid.models.multilabel import MultiLabelClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 3))
    >>> Y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
    >>> clf = MultiLabelClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01,
    ...                            max_iter=100, random_state=0).fit(X, Y)
    >>> clf.predict(np.array([[2.0, -2.0, 0.0], [-2.0, 2.0, 0.0]]))
    array([[1, 0],
           [0, 1]])
    >>> clf.predict_proba(X[:4]).shape, clf.score(X, Y) > 0.9
    ((4, 2), True)

    See also
    --------
    sigmoid.bce_with_logits_and_grad, sigmoid.nn.Sequential, sigmoid.optim.Adam
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alpha=1e-4, pos_weight=None,
                 batch_size="auto", learning_rate_init=1e-3, max_iter=200, tol=1e-4, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, shuffle=True, random_state=None,
                 verbose=False, dtype=np.float32):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.pos_weight = pos_weight
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    # ------------------------------------------------------ scikit-learn API

    # -------------------------------------------------------------- checking

    def _check_params(self):
        name = "MultiLabelClassifier"
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise TypeError(f"{name}: hidden_layer_sizes must be a tuple of ints, got {sizes!r}") from None
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"{name}: hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of 'relu', 'tanh', 'silu', 'sigmoid', "
                             f"got {self.activation!r}")
        for arg, lo in (("alpha", 0.0), ("tol", 0.0)):
            v = getattr(self, arg)
            if not (isinstance(v, numbers.Real) and np.isfinite(v) and v >= lo):
                raise ValueError(f"{name}: {arg} must be a finite number >= {lo}, got {v!r}")
        lr = self.learning_rate_init
        if not (isinstance(lr, numbers.Real) and np.isfinite(lr) and lr > 0):
            raise ValueError(f"{name}: learning_rate_init must be a positive number, got {lr!r}")
        for arg, lo in (("max_iter", 1), ("n_iter_no_change", 1)):
            v = getattr(self, arg)
            if not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= lo):
                raise ValueError(f"{name}: {arg} must be an int >= {lo}, got {v!r}")
        bs = self.batch_size
        if not (bs == "auto" if isinstance(bs, str) else
                isinstance(bs, numbers.Integral) and not isinstance(bs, bool) and bs >= 1):
            raise ValueError(f"{name}: batch_size must be 'auto' or an int >= 1, got {bs!r}")
        vf = self.validation_fraction
        if self.early_stopping and not (isinstance(vf, numbers.Real) and 0.0 < vf < 1.0):
            raise ValueError(f"{name}: validation_fraction must be in (0, 1), got {vf!r}")
        return sizes, check_dtype(name, self.dtype)

    def _check_X(self, X, dtype, where="X"):
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"MultiLabelClassifier: {where} must be numeric, got dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(f"MultiLabelClassifier: {where} must be 2-D (n_samples, n_features), "
                             f"got shape {X.shape}")
        X = X.astype(dtype, copy=False)
        if not np.isfinite(X).all():
            raise ValueError(f"MultiLabelClassifier: {where} contains nan or inf")
        return np.ascontiguousarray(X)

    def _check_fitted(self):
        self._require_fitted("network_")

    def _check_predict_X(self, X):
        self._check_fitted()
        X = self._check_X(X, self._dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"MultiLabelClassifier: X has {X.shape[1]} features, the model was fitted "
                             f"with {self.n_features_in_}")
        return X

    @staticmethod
    def _check_Y(Y, n_samples):
        if hasattr(Y, "toarray"):            # scipy sparse indicator matrix
            Y = Y.toarray()
        Y = np.asarray(Y)
        if Y.ndim != 2:
            raise ValueError(f"MultiLabelClassifier: Y must be a 2-D binary indicator matrix "
                             f"(n_samples, n_labels), got shape {Y.shape}; for one binary label use "
                             f"Y.reshape(-1, 1)")
        if Y.shape[0] != n_samples:
            raise ValueError(f"MultiLabelClassifier: X and Y have different numbers of samples "
                             f"({n_samples} and {Y.shape[0]})")
        if Y.shape[1] == 0:
            raise ValueError("MultiLabelClassifier: Y has no labels (0 columns)")
        if Y.dtype.kind not in "biuf" or not np.isin(Y, (0, 1)).all():
            raise ValueError("MultiLabelClassifier: Y must be a binary indicator matrix "
                             "(only 0 and 1, or False and True)")
        return Y

    def _pos_weight(self, Y, dtype):
        pw = self.pos_weight
        L = Y.shape[1]
        if pw is None:
            return None
        if isinstance(pw, str):
            if pw != "balanced":
                raise ValueError(f"MultiLabelClassifier: pos_weight must be None, 'balanced' or an array "
                                 f"of shape ({L},), got {pw!r}")
            n_pos = Y.sum(axis=0, dtype=np.float64)
            n_neg = Y.shape[0] - n_pos
            ok = (n_pos > 0) & (n_neg > 0)
            w = np.ones(L)
            w[ok] = n_neg[ok] / n_pos[ok]
            return w.astype(dtype)
        w = np.asarray(pw, dtype=np.float64) if np.asarray(pw).dtype.kind in "biuf" else None
        if w is None or w.shape != (L,):
            raise ValueError(f"MultiLabelClassifier: pos_weight must be None, 'balanced' or an array of "
                             f"shape ({L},) (one weight per label), got {pw!r}")
        if not (np.isfinite(w).all() and (w >= 0).all()):
            raise ValueError("MultiLabelClassifier: pos_weight must be finite and >= 0")
        return w.astype(dtype)

    # -------------------------------------------------------------- training

    def _build(self, sizes, n_in, n_out, dtype, rng):
        act = _ACTIVATIONS[self.activation]
        factor = 2.0 if act is Sigmoid else 6.0
        layers = []
        widths = (n_in,) + sizes + (n_out,)
        for k in range(len(widths) - 1):
            lin = Linear(widths[k], widths[k + 1], dtype=dtype, rng=rng)
            bound = np.sqrt(factor / (widths[k] + widths[k + 1]))
            # scikit-learn's initialisation (Glorot's uniform), drawn as it draws it
            lin.weight.data[...] = rng.uniform(-bound, bound, (widths[k], widths[k + 1])).T
            lin.bias.data[...] = rng.uniform(-bound, bound, widths[k + 1])
            layers.append(lin)
            if k < len(widths) - 2:
                layers.append(act())
        return Sequential(*layers)

    def _weights(self):
        return [m.weight for m in self.network_ if isinstance(m, Linear)]

    def _loss_and_grads(self, X, Y):
        """The objective J on the batch (X, Y), with the gradients of every
        parameter accumulated into their ``grad`` (which must start at None).
        Returns J as a float."""
        n, L = Y.shape
        logits = self.network_(X)
        loss, g = bce_with_logits_and_grad(logits, Y, pos_weight=self.pos_weight_, reduction="mean")
        self.network_.backward(g)
        loss = float(loss)
        if self.alpha:
            scale = self.alpha / (n * L)
            sq = 0.0
            for w in self._weights():
                sq += float(np.vdot(w.data, w.data))
                w.grad += w.data.dtype.type(scale) * w.data
            loss += 0.5 * scale * sq
        return loss

    def fit(self, X, Y):
        """Train on inputs X (n_samples, n_features) and a binary indicator
        matrix Y (n_samples, n_labels); returns self."""
        sizes, dtype = self._check_params()
        X = self._check_X(X, dtype)
        Y = self._check_Y(Y, X.shape[0])
        if X.shape[0] < 1:
            raise ValueError("MultiLabelClassifier: X has no samples")
        rng = as_generator(self.random_state)
        n, L = Y.shape
        Yf = Y.astype(dtype)

        if self.early_stopping:
            n_val = int(np.ceil(self.validation_fraction * n))
            if n_val < 2 or n - n_val < 1:
                raise ValueError(f"MultiLabelClassifier: the validation set would have {n_val} samples of "
                                 f"{n}; increase validation_fraction or give more data")
            perm = rng.permutation(n)
            val, train = perm[:n_val], perm[n_val:]
            X_tr, Y_tr, X_val, Y_val = X[train], Yf[train], X[val], Yf[val]
        else:
            X_tr, Y_tr, X_val, Y_val = X, Yf, None, None

        self._dtype = dtype
        self.n_features_in_ = X.shape[1]
        self.n_labels_ = L
        self.classes_ = np.arange(L)
        self.pos_weight_ = self._pos_weight(Y_tr, dtype)
        self.network_ = self._build(sizes, X.shape[1], L, dtype, rng)
        params = self.network_.parameters()
        opt = Adam(params, lr=float(self.learning_rate_init), betas=(0.9, 0.999), eps=1e-8)

        n_tr = X_tr.shape[0]
        batch = min(200, n_tr) if self.batch_size == "auto" else min(int(self.batch_size), n_tr)
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.best_loss_ = np.inf
        self.history_ = History()
        best_state = None
        no_improvement = 0
        idx = np.arange(n_tr)
        self.n_iter_ = 0
        with Progress(self.max_iter, "MultiLabelClassifier", self.verbose) as bar:
            for epoch in range(1, self.max_iter + 1):
                if self.shuffle:
                    idx = rng.permutation(n_tr)
                total = 0.0
                for start in range(0, n_tr, batch):
                    b = idx[start:start + batch]
                    opt.zero_grad()
                    total += self._loss_and_grads(X_tr[b], Y_tr[b]) * len(b)
                    opt.step()
                epoch_loss = total / n_tr
                if not np.isfinite(epoch_loss):
                    raise FloatingPointError(f"MultiLabelClassifier: the training loss became {epoch_loss} at "
                                             f"epoch {epoch}; lower learning_rate_init or scale the inputs")
                self.n_iter_ = epoch
                self.loss_curve_.append(epoch_loss)
                record = {"loss": epoch_loss}
                if self.early_stopping:
                    z = self.network_(X_val)
                    val_score = float(np.all(self._threshold(z, 0.5) == Y_val, axis=1).mean())
                    val_loss = float(bce_with_logits_and_grad(z, Y_val, pos_weight=self.pos_weight_)[0])
                    self.validation_scores_.append(val_score)
                    record.update(val_loss=val_loss, val_score=val_score)
                    improved = val_score >= self.best_validation_score_ + self.tol
                    if val_score > self.best_validation_score_:
                        self.best_validation_score_ = val_score
                        best_state = self.network_.state_dict()
                else:
                    improved = epoch_loss <= self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, epoch_loss)
                no_improvement = 0 if improved else no_improvement + 1
                self.history_.record(epoch, **record)
                bar.update(1, **record)
                if no_improvement > self.n_iter_no_change:
                    break
        if best_state is not None:
            self.network_.load_state_dict(best_state)
        self.network_.zero_grad()
        return self

    # ------------------------------------------------------------ predicting

    def decision_function(self, X):
        """The logits z, shape (n_samples, n_labels)."""
        X = self._check_predict_X(X)
        return self.network_(X)

    def predict_proba(self, X):
        """Probability of each label, sigma(z), shape (n_samples, n_labels);
        each label's independently (rows need not sum to 1)."""
        return _core.sigmoid(self.decision_function(X))

    def predict(self, X, threshold=0.5):
        """The indicator matrix of labels whose probability exceeds
        `threshold` (a number, or one per label), as ints."""
        t = np.asarray(threshold, dtype=np.float64)
        if t.ndim > 1 or (t.ndim == 1 and t.shape != (getattr(self, "n_labels_", t.size),)) or \
                not ((t >= 0) & (t <= 1)).all():
            raise ValueError(f"MultiLabelClassifier.predict: threshold must be a probability in [0, 1] or one "
                             f"per label, got {threshold!r}")
        return self._threshold(self.decision_function(X), t)

    @staticmethod
    def _threshold(logits, t):
        return (_core.sigmoid(logits) > t).astype(np.int64)

    def score(self, X, Y):
        """Subset accuracy: the fraction of samples whose labels are all
        predicted right (scikit-learn's ``accuracy_score`` for indicator
        matrices)."""
        X = self._check_predict_X(X)
        Y = self._check_Y(Y, X.shape[0])
        if Y.shape[1] != self.n_labels_:
            raise ValueError(f"MultiLabelClassifier: Y has {Y.shape[1]} labels, the model was fitted with "
                             f"{self.n_labels_}")
        return float(np.all(self.predict(X) == Y, axis=1).mean())
