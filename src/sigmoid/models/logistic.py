"""Logistic regression as scikit-learn's: binary (sigma) and multinomial
(softmax), penalties L2, L1, elastic net or none, dense, sparse (CSR/CSC) or
Dask data, scikit-learn's parameter names, solver names, attributes, errors
and warnings, without needing scikit-learn.

The estimator sits on two layers of :mod:`sigmoid.models._glm`: the problem
(the penalized loss, gradient, Hessian and Hessian-vector products, from this
library's fused kernels) and the solvers written once against it.
scikit-learn is used only when it is installed and asked for:
``__sklearn_tags__`` builds its tags object, and the errors and warnings
raised here are also instances of scikit-learn's classes of the same name
once :mod:`sklearn` has been imported.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import log_sigmoid, log_softmax, sigmoid, softmax
from ._glm import _solvers
from ._glm._checks import (
    CONTINUOUS,
    as_numeric_2d,
    check_finite,
    check_label_array,
    check_n_classes,
    check_sample_weight,
    check_targets,
    check_weighted_classes,
    class_weights,
    dask_1d,
    dask_2d,
    encode_block,
    feature_names,
    is_dask_array,
    is_sparse,
    weights_block,
)
from ._glm._problem import DaskProblem, Problem, design_of
from ._training import ConvergenceWarning, DataConversionWarning, Estimator, History, NotFittedError, Progress
from ._training import _flavoured as flavoured

__all__ = ["ConvergenceWarning", "DataConversionWarning", "LogisticRegression", "NotFittedError"]

# the solver names accepted: scikit-learn's, and this library's own
_SKLEARN_SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")
_SOLVERS = ("auto", "newton", "owlqn", "prox-newton") + _SKLEARN_SOLVERS
_PENALTIES = ("auto", "l2", "l1", "elasticnet", None)
# scikit-learn >= 1.8's default for `penalty`, taken as "auto" so that its
# get_params() output can be passed here unchanged
_SKLEARN_PENALTY_DEFAULT = "deprecated"

# solver="auto" (and "sag", "saga", "liblinear" for an L2 penalty, whose
# optimum is the same) runs Newton-Cholesky up to this many parameters.  A
# Newton iteration costs n k^2 / 2 multiply-adds (BLAS syrk, compute-bound)
# for k parameters and two passes over X; an L-BFGS or conjugate-gradient
# iteration two passes over X.  Newton needs about 5-8 iterations whatever
# the conditioning, L-BFGS 20 on easy data to several hundred on
# ill-conditioned data.  Measured on this project's 2-core machine (binary
# make_classification, n = 2e4 and 5e4): Newton 3-5x faster at d = 100 to
# 400, still 3x at d = 1000 where L-BFGS had not converged in 100
# iterations, 4x slower at d = 2000.  500 is where the flop counts tie for
# well-conditioned data.  A softmax model's Hessian has K(K+1)/2 blocks of
# that cost: its limit counts all K (d + 1) parameters.
# beyond: truncated Newton (conjugate gradients on Hessian-vector products,
# one pass over CSR data each); see benchmarks/bench_logistic.py
_AUTO_NEWTON_MAX_PARAMS = 500
# An L1 or elastic-net penalty: proximal Newton (the Hessian formed, then
# coordinate descent in C on the model) up to this many parameters of dense
# data, 500 of sparse data, OWL-QN beyond.  On 10^4 x 10^3 dense data with
# 760 nonzero coefficients (benchmarks/bench_logistic.py), 7 proximal Newton
# iterations took 3.6 s, 9 of them forming the Hessian (n k^2 / 2), where
# OWL-QN took 389 iterations and 8-12 s.
_AUTO_PROX_MAX_PARAMS = 1500

_SK_DOC = "https://scikit-learn.org/stable/modules/"


def _real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _bool(v):
    return isinstance(v, (bool, np.bool_))


class LogisticRegression(Estimator):
    r"""Logistic regression: binary (sigma) or multinomial (softmax), with an
    L2, L1, elastic-net or no penalty; scikit-learn's estimator, as a
    drop-in.

    Minimizes, over the coefficients W (one row per class, one row in all for
    two classes) and the intercepts b,

    .. math::
        \frac{1 - \rho}{2}\lVert W\rVert_F^2 + \rho\,\lVert W\rVert_1
        + C \sum_{i=1}^{n} s_i\,\ell_i,

    scikit-learn's objective, with s_i the sample weight times the class
    weight, rho the L1 ratio, the intercepts not penalized, and

    * for two classes (y_i = 1 for ``classes_[1]``), z_i = x_i . w + b and
      :math:`\ell_i = \mathrm{softplus}(z_i) - y_i z_i`, the binary
      cross-entropy, from one fused pass of
      :func:`sigmoid.bce_with_logits_and_grad`;
    * for K >= 3 classes, z_i = W x_i + b and
      :math:`\ell_i = \log\sum_k e^{z_{ik}} - z_{i y_i}`, the multinomial
      cross-entropy (softmax regression), from one fused, stable
      log-softmax pass (see :func:`sigmoid.models._glm._problem.softmax_loss_grad`).

    Probabilities are :data:`sigmoid.sigmoid` of the decision function for
    two classes (:func:`sigmoid.softmax` of it for more), log-probabilities
    :data:`sigmoid.log_sigmoid` (:func:`sigmoid.log_softmax`) of it, so
    neither rounds to 0, 1 or -inf while the true value is representable.

    Parameters
    ----------
    penalty : {"auto", "l2", "l1", "elasticnet", None}, default "auto"
        "auto": as scikit-learn >= 1.8 decides from `l1_ratio` and `C`: L2
        for ``l1_ratio=0``, L1 for 1, elastic net in between, none for
        ``C=np.inf``.  Named explicitly, as scikit-learn <= 1.7 takes it
        (without 1.8's deprecation warning): `l1_ratio` is then used only
        by "elasticnet" (warned otherwise); None ignores `C` (warned when C
        is not 1).
    C : float in (0, inf], default 1.0
        Inverse of the penalty's strength; ``np.inf``: no penalty.
    l1_ratio : float in [0, 1] or None, default 0.0
        rho, the elastic-net mixing: 0 is L2, 1 is L1.  None counts as 0,
        except with ``penalty="elasticnet"``, which needs a value.
    dual : bool, default False
        Accepted with ``solver="liblinear"`` and an L2 penalty only, as
        scikit-learn; the primal problem is solved (its solution is the
        dual's).
    tol : float >= 0, default 1e-4
        Stop when the largest component of the gradient of the objective
        divided by ``C * sum(s)`` is <= tol (of its minimum-norm subgradient
        for an L1 part), and, for Newton-Cholesky, half the squared Newton
        decrement is <= tol: scikit-learn's convention, so the same `tol`
        means the same accuracy.
    fit_intercept : bool, default True
        Fit the intercepts (unpenalized); if False, b = 0.
    intercept_scaling : float > 0, default 1
        Used with ``solver="liblinear"`` only, with liblinear's meaning: the
        intercept is the coefficient of a constant feature of this value,
        penalized like the others (the objective then differs from the
        other solvers', as in scikit-learn).
    class_weight : None, "balanced" or dict, default None
        Weights of the classes, multiplying the sample weights: a dict maps
        a class label to its weight (missing labels weigh 1); "balanced"
        gives class c the weight ``sum(s) / (n_classes * sum(s[y == c]))``
        (s the sample weights).
    random_state : None, int or Generator, default None
        Accepted for compatibility; every solver here is deterministic.
    solver : str, default "auto"
        One of scikit-learn's names ("lbfgs", "newton-cg",
        "newton-cholesky", "sag", "saga", "liblinear"), with their penalty
        rules (an L1 or elastic-net penalty needs "saga", or "liblinear" for
        L1), or one of this library's ("auto", "newton", "owlqn",
        "prox-newton"), each mapped to a solver here with the same
        optimum:

        ===================  ====================================================
        asked                what runs
        ===================  ====================================================
        "newton-cholesky",   Newton's method, exact Hessian formed block by block
        "newton"             (BLAS syrk), Cholesky, Hessian reuse
        "newton-cg"          truncated Newton: conjugate gradients on
                             Hessian-vector products with a diagonal
                             preconditioner (one pass over CSR data each)
        "lbfgs"              SciPy's L-BFGS-B
        "owlqn"              orthant-wise L-BFGS (Andrew and Gao, 2007)
        "prox-newton"        proximal Newton (newGLMNET's method): coordinate
                             descent on the quadratic model with the exact L1
                             term, the Hessian formed (k x k)
        "auto", "sag",       L2 or none: Newton-Cholesky up to 500 parameters
        "saga"               (K (d + 1) for K >= 3 classes), else truncated
                             Newton; L1 or elastic net: "prox-newton" up to
                             1500 parameters (500 for sparse X), else "owlqn"
        "liblinear"          two classes only; liblinear's objective (the
                             intercept penalized, see `intercept_scaling`), by
                             the choice of "auto"
        ===================  ====================================================

        The L1 solvers leave exact zeros where the solution has them.  The
        attribute ``solver_`` names what ran.
    max_iter : int >= 0, default 100
        Maximum number of iterations of the solver; 0 returns the starting
        point (zeros, or the warm start) with ``n_iter_ = [0]``.
    verbose : int, default 0
        If true, show a progress bar (when tqdm is installed).
    warm_start : bool, default False
        Start from the previous fit's coefficients when their shape matches.
    n_jobs : None or int, default None
        Accepted; no effect, as in scikit-learn >= 1.8.  Threads are set by
        :func:`sigmoid.set_num_threads` (the sparse products) and by the
        BLAS (the dense ones).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (``numpy.unique``).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The coefficients, in the dtype of the training X (float32 stays
        float32; other inputs become float64); one row for two classes
        (the coefficients of ``classes_[1]``).  A CSR matrix after
        :meth:`sparsify`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The intercepts (0 when ``fit_intercept=False``), same dtype.  For K
        classes, the intercepts sum to 0 (and, without a penalty, each column
        of ``coef_`` too), the solution scikit-learn reports among the
        equivalent ones.
    n_iter_ : ndarray of shape (1,), int32
        Iterations the solver ran.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,), object
        Column names, when X was a DataFrame whose columns are all strings.
    solver_ : str
        The solver that ran ("newton-cholesky", "newton-cg", "lbfgs",
        "owlqn" or "prox-newton").
    history_ : sigmoid.models._training.History
        The objective after each iteration (and the largest gradient
        component, for all but "lbfgs").

    Raises
    ------
    ValueError
        In ``fit``: parameters outside their ranges (scikit-learn's
        messages), a penalty the named solver does not support, liblinear
        with more than two classes, X or y or the weights with NaN or
        infinity, fewer than two classes with weight.
    TypeError
        Labels of mixed types; a sparse y.

    Notes
    -----
    Data are never densified or upcast: float32 X is multiplied in float32
    (dense; blocks of 2048 rows summed in float64) or read as stored with
    float64 sums (sparse); the loss, gradient and Hessian are summed in
    float64 and the parameters are float64 during the fit.  CSR matrices
    and arrays are used as they are; CSC and other formats are converted to
    CSR once (as scikit-learn does).  ``decision_function``,
    ``predict_proba`` and ``predict_log_proba`` return X's dtype.

    Dask arrays (dense blocks, chunked along rows) are fitted without
    gathering them, by every solver (each pass over the data maps the row
    blocks to partial sums on the active scheduler, a dask.distributed
    client included); predictions on them stay lazy.

    scikit-learn's ``check_estimator`` passes in full for every solver and
    penalty; the class does not inherit from scikit-learn's BaseEstimator,
    so that this module imports without scikit-learn.  scikit-learn's own
    test module ``sklearn/linear_model/tests/test_logistic.py`` runs against
    this class as ``tests/test_logistic_sklearn.py`` (the tests it leaves
    out are listed there, with the reason for each).

    Special values: X, y or sample weights with NaN or infinity are refused
    (ValueError).  Any finite decision value gives finite log-probabilities
    and probabilities in [0, 1], each as accurate as :data:`sigmoid.sigmoid`
    (two classes) or :func:`sigmoid.softmax` (more).

    Accuracy: the solution meets `tol` (ConvergenceWarning when it does
    not); with tol=1e-10 it agrees with scikit-learn's to 1e-6 relative in
    the coefficients on the tests' data (binary and multinomial, with sample
    and class weights, dense and sparse; L1 against liblinear).  For float32
    data the gradient is exact to about the rounding of float32 decision
    values, which fixes the probabilities to float32 accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.models.logistic import LogisticRegression
    >>> X = np.array([[-2.0, -1.0], [-1.0, -2.0], [-1.5, 0.5], [1.0, 2.0], [2.0, 1.0], [0.5, 1.5]])
    >>> y = np.array(["spam", "spam", "spam", "ham", "ham", "ham"])
    >>> clf = LogisticRegression(C=10.0).fit(X, y)
    >>> clf.classes_
    array(['ham', 'spam'], dtype='<U4')
    >>> clf.predict([[-1.0, -1.0], [1.0, 1.0]])
    array(['spam', 'ham'], dtype='<U4')
    >>> clf.score(X, y)
    1.0

    Three classes (softmax), an L1 penalty and sparse input:

    >>> from scipy import sparse
    >>> X3 = sparse.csr_matrix(np.array([[3.0, 0.0], [2.5, 0.5], [0.0, 3.0], [0.5, 2.5], [0.0, 0.0], [0.2, 0.1]]))
    >>> y3 = [0, 0, 1, 1, 2, 2]
    >>> m = LogisticRegression(C=10.0, l1_ratio=1.0).fit(X3, y3)
    >>> m.coef_.shape, m.solver_
    ((3, 2), 'prox-newton')
    >>> m.predict(X3).tolist()
    [0, 0, 1, 1, 2, 2]
    >>> bool(np.allclose(m.predict_proba(X3).sum(axis=1), 1.0))
    True

    See also
    --------
    sigmoid.bce_with_logits_and_grad, sigmoid.log_softmax,
    sklearn.linear_model.LogisticRegression
    """

    _estimator_type = "classifier"  # scikit-learn < 1.6

    def __init__(self, penalty="auto", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4, fit_intercept=True,
                 intercept_scaling=1, class_weight=None, random_state=None, solver="auto", max_iter=100,
                 verbose=0, warm_start=False, n_jobs=None):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    # -------------------------------------------------------------- estimator protocol

    def __sklearn_tags__(self):
        """scikit-learn's tags (scikit-learn >= 1.6 is imported here, only
        when asked): a classifier of any number of classes (two for
        liblinear), on dense or sparse 2-D float input."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True, one_d_labels=False, two_d_labels=False),
            classifier_tags=ClassifierTags(multi_class=self.solver != "liblinear", multi_label=False,
                                           poor_score=False),
            input_tags=InputTags(two_d_array=True, sparse=True, allow_nan=False),
            requires_fit=True,
        )

    def _more_tags(self):  # scikit-learn < 1.6
        return {"requires_y": True, "binary_only": self.solver == "liblinear"}

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    # -------------------------------------------------------------- checks

    def _check_params(self):
        name = type(self).__name__

        def bad(param, expected):
            return ValueError(f"The {param!r} parameter of {name} must be {expected}. "
                              f"Got {getattr(self, param)!r} instead.")

        if not (self.penalty in _PENALTIES or self.penalty == _SKLEARN_PENALTY_DEFAULT) or \
                not (self.penalty is None or isinstance(self.penalty, str)):
            raise bad("penalty", "a str among {'auto', 'l1', 'l2', 'elasticnet'} or None")
        if not (_real(self.C) and 0 < self.C <= np.inf):
            raise bad("C", "a float in the range (0, inf]")
        if not (self.l1_ratio is None or (_real(self.l1_ratio) and 0 <= self.l1_ratio <= 1)):
            raise bad("l1_ratio", "a float in the range [0, 1] or None")
        if not _bool(self.dual):
            raise bad("dual", "an instance of 'bool'")
        if not (_real(self.tol) and 0 <= self.tol < np.inf):
            raise bad("tol", "a float in the range [0, inf)")
        if not (isinstance(self.max_iter, numbers.Integral) and not _bool(self.max_iter) and self.max_iter >= 0):
            raise bad("max_iter", "an int in the range [0, inf)")
        if not _bool(self.fit_intercept):
            raise bad("fit_intercept", "an instance of 'bool'")
        if not (_real(self.intercept_scaling) and 0 < self.intercept_scaling < np.inf):
            raise bad("intercept_scaling", "a float in the range (0, inf)")
        if not _bool(self.warm_start):
            raise bad("warm_start", "an instance of 'bool'")
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise bad("solver", f"a str among {set(_SOLVERS)}")
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise bad("class_weight", "a dict, 'balanced' or None")
        if not isinstance(self.verbose, (numbers.Integral, bool)):
            raise bad("verbose", "an int")
        if not (self.n_jobs is None or (isinstance(self.n_jobs, numbers.Integral) and not _bool(self.n_jobs))):
            raise bad("n_jobs", "an int or None")

    def _resolve_penalty(self):
        """(penalty in {"l2", "l1", "elasticnet", None}, C, rho), with
        scikit-learn's warnings and errors for the combinations it warns of
        or refuses."""
        C, ratio = float(self.C), self.l1_ratio
        if self.penalty in ("auto", _SKLEARN_PENALTY_DEFAULT):
            r = 0.0 if ratio is None else float(ratio)
            penalty = "l2" if r == 0 else "l1" if r == 1 else "elasticnet"
            if C == np.inf:
                return None, np.inf, r
            return penalty, C, r
        penalty = self.penalty
        if penalty == "elasticnet":
            if ratio is None:
                raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
            r = float(ratio)
            # the ends of the mixing are the pure penalties (and run as them)
            penalty = "l2" if r == 0 else "l1" if r == 1 else penalty
        else:
            r = 1.0 if penalty == "l1" else 0.0
            if ratio is not None and 0 < float(ratio) < 1:
                warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got "
                              f"(penalty={penalty})", UserWarning, stacklevel=4)
            elif penalty == "l2" and ratio == 1:
                warnings.warn(f"Inconsistent values: penalty={penalty} with l1_ratio={ratio}: l1_ratio is "
                              "used only when penalty is 'elasticnet' (or 'auto')", UserWarning, stacklevel=4)
        if penalty is None:
            if C != 1.0:
                warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters", UserWarning,
                              stacklevel=4)
            return None, np.inf, 0.0
        if C == np.inf:
            return None, np.inf, r
        return penalty, C, r

    def _check_solver(self, penalty):
        """scikit-learn's rules for a solver and a penalty (its messages)."""
        solver, dual = self.solver, bool(self.dual)
        smooth_only = solver in ("lbfgs", "newton-cg", "newton-cholesky", "sag", "newton")
        if smooth_only and penalty not in ("l2", None):
            raise ValueError(f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty.")
        if solver != "liblinear" and dual:
            raise ValueError(f"Solver {solver} supports only dual=False, got dual={dual}")
        if penalty == "elasticnet" and solver == "liblinear":
            raise ValueError(f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
        if solver == "liblinear" and penalty is None:
            raise ValueError("C=np.inf as well as penalty=None is not supported for the liblinear solver")
        if solver == "liblinear" and dual and penalty == "l1":
            raise ValueError("Unsupported set of arguments: The combination of penalty='l1' and "
                             "loss='logistic_regression' are not supported when dual=True, Parameters: "
                             "penalty='l1', loss='logistic_regression', dual=True")

    def _run_solver(self, penalty, n_params, sparse):
        """The solver that runs (see the `solver` parameter)."""
        if self.solver in ("owlqn", "prox-newton"):
            return self.solver
        if penalty in ("l1", "elasticnet"):
            return "prox-newton" if n_params <= (_AUTO_NEWTON_MAX_PARAMS if sparse else _AUTO_PROX_MAX_PARAMS) \
                else "owlqn"
        named = {"newton": "newton-cholesky", "newton-cholesky": "newton-cholesky", "newton-cg": "newton-cg",
                 "lbfgs": "lbfgs"}
        if self.solver in named:
            return named[self.solver]
        if n_params <= _AUTO_NEWTON_MAX_PARAMS:
            return "newton-cholesky"
        return "newton-cg"

    def _check_X(self, X, reset):
        owner = type(self).__name__
        names = feature_names(X)
        X = as_numeric_2d(X, owner)
        if reset:
            self.n_features_in_ = X.shape[1]
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return X
        self._check_names(names, stacklevel=4)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting {self.n_features_in_} "
                             "features as input.")
        return X

    def _check_names(self, names, stacklevel):
        owner = type(self).__name__
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {owner} was fitted with feature names",
                          UserWarning, stacklevel=stacklevel)
        elif fitted is None and names is not None:
            warnings.warn(f"X has feature names, but {owner} was fitted without feature names",
                          UserWarning, stacklevel=stacklevel)
        elif fitted is not None and (len(fitted) != len(names) or np.any(fitted != names)):
            unseen = [c for c in names if c not in set(fitted)]
            missing = [c for c in fitted if c not in set(names)]
            msg = "The feature names should match those that were passed during fit.\n"
            if unseen:
                msg += "Feature names unseen at fit time:\n" + "".join(f"- {c}\n" for c in unseen)
            if missing:
                msg += "Feature names seen at fit time, yet now missing:\n" + "".join(f"- {c}\n" for c in missing)
            if not unseen and not missing:
                msg += "Feature names must be in the same order as they were in fit.\n"
            raise ValueError(msg)

    def _check_fitted(self):
        self._require_fitted("coef_")

    # -------------------------------------------------------------- fit

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)
            Training data: a NumPy array, a scipy.sparse matrix or array
            (CSR used as it is, other formats converted to CSR), or a Dask
            array; float32 is kept, other numbers become float64.
        y : array_like of shape (n_samples,)
            Labels of at least two classes (numbers, strings or booleans).
        sample_weight : array_like of shape (n_samples,) or float, optional
            Non-negative weights s_i; weight k is equivalent to repeating a
            sample k times.

        Returns
        -------
        self
        """
        self._check_params()
        penalty, C, ratio = self._resolve_penalty()
        self._check_solver(penalty)
        if is_dask_array(X):
            return self._fit_dask(X, y, sample_weight, penalty, C, ratio)
        if is_dask_array(y):
            y = y.compute()
        if is_dask_array(sample_weight):
            sample_weight = sample_weight.compute()
        X = self._check_X(X, reset=True)
        n = X.shape[0]
        classes, codes = check_targets(y, n, type(self).__name__)
        self._check_liblinear(classes, X)
        sw = check_sample_weight(sample_weight, n)
        K = classes.size
        counts = np.bincount(codes, weights=sw, minlength=K).astype(np.float64)
        class_w = class_weights(self.class_weight, classes, counts)
        if sw is None and np.all(class_w == 1.0):
            s = None
        else:
            s = class_w[codes] if sw is None else sw * class_w[codes]
        weighted = counts * class_w
        check_weighted_classes(classes, weighted)
        with np.errstate(under="ignore"):   # tiny products in the Hessian are harmless
            prob = Problem(design_of(X), codes, s, K, **self._penalty_args(penalty, C, ratio, float(weighted.sum())))
            return self._solve(prob, classes, weighted, penalty, sparse=is_sparse(X))

    def _check_liblinear(self, classes, X):
        if self.solver != "liblinear":
            return
        if classes.size > 2:
            raise ValueError(
                "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). Only binary "
                "classification is supported with it. Either use another solver or wrap the estimator in a "
                "OneVsRestClassifier to keep applying a one-versus-rest scheme."
            )
        big = (X.data if is_sparse(X) else X)
        if big.size and float(np.max(big)) > 1e30:
            raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results in a "
                             "frozen fit. Please choose another solver or rescale the input X.")

    def _penalty_args(self, penalty, C, ratio, S):
        lam = 0.0 if penalty is None else 1.0 / (C * S)
        liblinear = self.solver == "liblinear" and bool(self.fit_intercept)
        return {"fit_intercept": bool(self.fit_intercept),
                "intercept_scaling": float(self.intercept_scaling) if liblinear else 1.0,
                "penalize_intercept": liblinear,
                "l2": (1.0 - ratio) * lam, "l1": ratio * lam}

    def _start(self, prob, weighted):
        """The starting point: the warm start, or zeros with the intercepts
        at the log-odds (log-frequencies for a softmax) of the weighted
        classes, the minimizer over the intercepts alone (none of it for
        max_iter=0: zeros, as scikit-learn starts)."""
        K, d = prob.K, prob.d
        p = np.zeros(prob.k)
        prev = getattr(self, "coef_", None) if self.warm_start else None
        if prev is not None and is_sparse(prev):
            prev = prev.toarray()
        if prev is not None and np.shape(prev) == (K, d):
            p[:K * d] = np.asarray(prev, dtype=np.float64).ravel()
            if prob.fit_intercept:
                p[K * d:] = np.asarray(self.intercept_, dtype=np.float64) / prob.a
            return prob.project(p)
        if prob.fit_intercept and self.max_iter > 0:
            with np.errstate(divide="ignore"):
                logs = np.log(weighted)
            if prob.multinomial:
                # a class without weight: its intercept heads to -inf; start at the lowest present one
                logs = np.where(weighted > 0, logs, np.min(logs[weighted > 0]))
                p[K * d:] = (logs - logs.mean()) / prob.a
            else:
                p[d] = (logs[1] - logs[0]) / prob.a
        return p

    def _solve(self, prob, classes, weighted, penalty, sparse, stacklevel=3):
        ran = self._run_solver(penalty, prob.k, sparse)
        tol, max_iter = float(self.tol), int(self.max_iter)
        p = self._start(prob, weighted)
        history = History()
        with np.errstate(under="ignore"), Progress(max_iter, f"LogisticRegression ({ran})", self.verbose) as bar:
            if max_iter == 0:
                f, g = prob.value_grad(p)
                pg = _solvers.pseudo_gradient(p, g, prob.l1w)
                gmax = float(np.max(np.abs(pg))) if pg.size else 0.0
                history.record(0, objective=f + prob.l1_value(p), grad_max=gmax)
                res = _solvers.Result(p, 0, "converged" if gmax <= tol else
                                      f"max_iter=0 reached (max |gradient| = {gmax:.3g}, tol = {tol:.3g})",
                                      f + prob.l1_value(p), gmax)
            else:
                solve = {"newton-cholesky": _solvers.newton_cholesky, "newton-cg": _solvers.newton_cg,
                         "lbfgs": _solvers.lbfgs, "owlqn": _solvers.owlqn,
                         "prox-newton": _solvers.prox_newton}[ran]
                res = solve(prob, p, tol, max_iter, bar, history)
        p = res.p
        K, d = prob.K, prob.d
        dtype = prob.design.X.dtype if hasattr(prob, "design") else prob.dtype
        self.classes_ = classes
        self.coef_ = p[:K * d].reshape(K, d).astype(dtype)
        if prob.fit_intercept:
            self.intercept_ = (prob.a * p[K * d:]).astype(dtype)
        else:
            self.intercept_ = np.zeros(K, dtype=dtype)
        self.n_iter_ = np.array([res.n_iter], dtype=np.int32)
        self.solver_ = ran
        self.history_ = history
        if not res.converged:
            warnings.warn(self._convergence_message(res, ran), flavoured(ConvergenceWarning),
                          stacklevel=stacklevel)
        return self

    def _convergence_message(self, res, ran):
        """The warning in scikit-learn's words for the solver the user named,
        then what happened here."""
        name, max_iter = self.solver, int(self.max_iter)
        detail = f"sigmoid's {ran} solver: {res.status}"
        if name == "lbfgs":
            msg = f"lbfgs failed to converge after {res.n_iter} iteration(s) ({detail}):\n"
            if res.n_iter == max_iter:
                msg += f"\nIncrease the number of iterations to improve the convergence (max_iter={max_iter})."
            return (msg + f"\nYou might also want to scale the data as shown in:\n    {_SK_DOC}preprocessing.html\n"
                    "Please also refer to the documentation for alternative solver options:\n"
                    f"    {_SK_DOC}linear_model.html#logistic-regression")
        if name == "newton-cg":
            return f"newton-cg failed to converge at loss = {res.objective}. Increase the number of iterations. ({detail})"
        if name == "newton-cholesky":
            return f"Newton solver did not converge after {res.n_iter} iterations. ({detail})"
        if name == "liblinear":
            return f"Liblinear failed to converge, increase the number of iterations. ({detail})"
        if name in ("sag", "saga"):
            return f"The max_iter was reached which means the coef_ did not converge ({detail})"
        return (f"LogisticRegression(solver={name!r}) did not converge ({detail}). Increase max_iter, or "
                "standardize the features.")

    def _fit_dask(self, X, y, sample_weight, penalty, C, ratio):
        """fit on a Dask X: two passes over y (and the sample weights) for
        the checks and the class weights, then one pass over the data per
        evaluation of the solver, on the default scheduler (a
        dask.distributed client when one is active)."""
        import dask
        import dask.array as da

        owner = type(self).__name__
        X = dask_2d(X, owner, need_rows=True)
        n, d = X.shape
        self.n_features_in_ = d
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        rows = X.chunks[0]
        if y is not None and not is_sparse(y):
            y = dask_1d(y, rows, "y")
        y = check_label_array(y, n, owner, stacklevel=6)
        kind = y.dtype.kind
        sw = None
        if sample_weight is not None:
            if isinstance(sample_weight, numbers.Number):
                sw = da.full(n, float(sample_weight), chunks=(rows,), dtype=np.float64)
            else:
                sw = dask_1d(sample_weight, rows, "sample_weight")
                if sw.dtype.kind not in "biuf":
                    raise ValueError(f"sample_weight must be numbers, got dtype {sw.dtype}")
                if sw.ndim != 1:
                    raise ValueError(f"Sample weights must be 1D array or scalar, got shape {sw.shape}")
                if sw.shape != (n,):
                    raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n,)}!")
                sw = sw.astype(np.float64)

        # pass 1: the classes, and the checks of y and of the weights
        checks = {"classes": da.unique(y)}
        if kind == "f":
            checks["y_finite"] = da.isfinite(y).all()
            checks["y_integral"] = (y == da.trunc(y)).all()
        if sw is not None:
            checks["sw_finite"] = da.isfinite(sw).all()
            checks["sw_min"] = sw.min()
        (got,) = dask.compute(checks)
        if kind == "f" and not got["y_finite"]:
            raise ValueError("Input y contains NaN or infinity.")
        if kind == "f" and not got["y_integral"]:
            raise ValueError(CONTINUOUS)
        if sw is not None and not got["sw_finite"]:
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if sw is not None and got["sw_min"] < 0:
            raise ValueError("Negative values in data passed to sample_weight")
        classes = np.asarray(got["classes"])
        check_n_classes(classes)
        if self.solver == "liblinear" and classes.size > 2:
            self._check_liblinear(classes, np.zeros((0, 0)))
        K = classes.size
        codes = y.map_blocks(encode_block, classes, dtype=np.intp)

        # pass 2: the (weighted) size of each class
        counts = da.bincount(codes, weights=sw, minlength=K) if sw is not None else \
            da.bincount(codes, minlength=K)
        (counts,) = dask.compute(counts)
        counts = np.asarray(counts, dtype=np.float64)
        class_w = class_weights(self.class_weight, classes, counts)
        if sw is None and np.all(class_w == 1.0):
            s = None
        else:
            s = codes.map_blocks(weights_block, sw, class_w, dtype=np.float64)
        weighted = counts * class_w
        check_weighted_classes(classes, weighted)
        prob = DaskProblem(X, codes, s, K, float(weighted.sum()),
                           **self._penalty_args(penalty, C, ratio, float(weighted.sum())))
        return self._solve(prob, classes, weighted, penalty, sparse=False, stacklevel=4)

    # -------------------------------------------------------------- predict

    def _coef_in(self, dtype):
        coef = self.coef_
        if is_sparse(coef):
            coef = coef.toarray()
        return np.asarray(coef).astype(dtype, copy=False), np.asarray(self.intercept_).astype(dtype, copy=False)

    def _dask_params(self, X):
        """A Dask X checked against the fit (chunked along rows only), and
        the coefficients and intercepts in its dtype."""
        owner = type(self).__name__
        X = dask_2d(X, owner, need_rows=False)
        if getattr(self, "feature_names_in_", None) is not None:
            warnings.warn(f"X does not have valid feature names, but {owner} was fitted with feature names",
                          UserWarning, stacklevel=4)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting {self.n_features_in_} "
                             "features as input.")
        W, b = self._coef_in(X.dtype)
        return X, W, b

    def decision_function(self, X):
        """The decision values: z = X w + b for two classes, the scores
        Z = X W^T + b for more.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        z : ndarray of shape (n_samples,) or (n_samples, n_classes)
            X's dtype (float32 stays float32; other inputs give float64).
        """
        self._check_fitted()
        if is_dask_array(X):
            X, W, b = self._dask_params(X)
            if W.shape[0] == 1:
                return X.map_blocks(_decision_block, W, b, drop_axis=1, dtype=X.dtype, meta=np.empty((0,), X.dtype))
            return X.map_blocks(_decision_block, W, b, chunks=(X.chunks[0], (W.shape[0],)), dtype=X.dtype,
                                meta=np.empty((0, 0), X.dtype))
        X = self._check_X(X, reset=False)
        W, b = self._coef_in(X.dtype)
        return _decision_block(X, W, b, check=False)

    def predict(self, X):
        """The class of the largest probability (``classes_[1]`` where z > 0
        for two classes).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Elements of `classes_`.
        """
        if is_dask_array(X):
            self._check_fitted()
            X, W, b = self._dask_params(X)
            return X.map_blocks(_labels_block, W, b, self.classes_, drop_axis=1, dtype=self.classes_.dtype,
                                meta=np.empty((0,), self.classes_.dtype))
        z = self.decision_function(X)  # first: unfitted raises NotFittedError
        return self.classes_[_labels_of(z)]

    def predict_proba(self, X):
        """Class probabilities: ``[sigmoid(-z), sigmoid(z)]`` for two classes
        (each column computed directly, not as 1 minus the other, so a small
        probability keeps its relative accuracy), the softmax of the scores
        for more.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            X's dtype; column j is the probability of ``classes_[j]``; rows
            sum to 1.
        """
        if is_dask_array(X):
            return self._dask_proba(X, log=False)
        return _proba_of(self.decision_function(X), log=False)

    def predict_log_proba(self, X):
        """Log-probabilities: ``[log_sigmoid(-z), log_sigmoid(z)]`` for two
        classes, the log-softmax of the scores for more.

        Computed from z with :data:`sigmoid.log_sigmoid` or
        :func:`sigmoid.log_softmax`, never as the log of a rounded
        probability: finite for any finite z (-1e9 for z = 1e9 where
        ``log(predict_proba)`` gives -inf).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            X's dtype.
        """
        if is_dask_array(X):
            return self._dask_proba(X, log=True)
        return _proba_of(self.decision_function(X), log=True)

    def _dask_proba(self, X, log):
        self._check_fitted()
        X, W, b = self._dask_params(X)
        K = max(2, W.shape[0])
        return X.map_blocks(_proba_block, W, b, log, chunks=(X.chunks[0], (K,)), dtype=X.dtype,
                            meta=np.empty((0, 0), X.dtype))

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against `y`, optionally weighted.

        Returns
        -------
        score : float
        """
        pred = self.predict(X)
        if is_dask_array(pred):
            pred = pred.compute()
        if is_dask_array(y):
            y = y.compute()
        if is_dask_array(sample_weight):
            sample_weight = sample_weight.compute()
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape != pred.shape:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{pred.shape[0]}, {y.shape[0] if y.ndim else 0}]")
        sw = check_sample_weight(sample_weight, pred.shape[0])
        return float(np.average(pred == y, weights=sw))

    def sparsify(self):
        """Store ``coef_`` as a CSR matrix (worth it when most coefficients
        are 0, as after an L1 fit); predictions accept it.  Returns self.

        Examples
        --------
        >>> import numpy as np
        >>> from sigmoid.models.logistic import LogisticRegression
        >>> m = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1]).sparsify()
        >>> type(m.coef_).__name__, m.densify().coef_.shape
        ('csr_matrix', (1, 4))
        """
        self._check_fitted()
        import scipy.sparse as sp

        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def densify(self):
        """Store ``coef_`` as a NumPy array again (after :meth:`sparsify`).
        Returns self."""
        self._check_fitted()
        if is_sparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self


# ------------------------------------------------------------------ predictions (NumPy, sparse and Dask blocks)


def _decision_block(Xb, W, b, check=True):
    """(n,) decision values for one row of W, (n, K) scores for K rows (a
    Dask block is checked here; in memory, X was checked before)."""
    if check and not is_sparse(Xb):
        check_finite("X", Xb)
    with np.errstate(under="ignore"):  # a product rounding to 0 is the answer
        Z = Xb @ W.T
        Z = np.asarray(Z, dtype=W.dtype)
        Z += b
    return Z[:, 0] if W.shape[0] == 1 else Z


def _labels_of(z):
    return (z > 0).astype(np.intp) if z.ndim == 1 else np.argmax(z, axis=1)


def _proba_of(z, log):
    if z.ndim == 1:
        f = log_sigmoid if log else sigmoid
        return np.stack([f(-z), f(z)], axis=1)
    return log_softmax(z, axis=1) if log else softmax(z, axis=1)


def _proba_block(Xb, W, b, log):
    return _proba_of(_decision_block(Xb, W, b), log)


def _labels_block(Xb, W, b, classes):
    return classes[_labels_of(_decision_block(Xb, W, b))]
