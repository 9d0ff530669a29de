"""Binary logistic regression with an L2 penalty, fitted with this library's
fused loss-and-gradient kernel: a scikit-learn-compatible estimator that
does not need scikit-learn.

Two solvers: Newton's method with the exact Hessian (NumPy only) and
L-BFGS (SciPy's ``L-BFGS-B``).  scikit-learn is used only when it is
installed and asked for: ``__sklearn_tags__`` builds its tags object, and
the errors and warnings raised here are also instances of scikit-learn's
classes of the same name once :mod:`sklearn` has been imported.
"""
from __future__ import annotations

import numbers
import sys
import warnings

import numpy as np

from .. import bce_with_logits_and_grad, log_sigmoid, sigmoid, sigmoid_backward
from ._training import (ConvergenceWarning, DataConversionWarning, Estimator, History, NotFittedError, Progress,
                        _flavoured)

__all__ = ["ConvergenceWarning", "DataConversionWarning", "LogisticRegression", "NotFittedError"]


# ------------------------------------------------------------------ input checks


def _describe_nonfinite(name, a):
    if np.isnan(a).any():
        return f"Input {name} contains NaN."
    return f"Input {name} contains infinity or a value too large for dtype({str(a.dtype)!r})."


def _check_finite(name, a):
    # a finite sum proves every element finite (one pass, no temporary);
    # otherwise look element by element for the message
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum()
    if not np.isfinite(total) and not np.isfinite(a).all():
        raise ValueError(_describe_nonfinite(name, a))


def _is_sparse(X):
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def _feature_names(X):
    cols = getattr(X, "columns", None)
    if cols is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(cols, dtype=object)
    if names.ndim != 1 or names.size == 0:
        return None
    types = sorted({type(v).__qualname__ for v in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, but your input has "
            f"{types} as feature name / column name types. If you want feature names to be stored and "
            "validated, you must convert them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input data, or convert them "
            "all to a non-string data type."
        )
    return names if types == ["str"] else None


def _as_numeric_2d(X, owner):
    """X as a float32 or float64 2-D ndarray (float32 and float64 kept, other
    numbers converted to float64; no copy when none is needed)."""
    if X is None:
        raise ValueError(f"{owner} expected an array-like X, got None")
    if _is_sparse(X):
        raise TypeError(
            f"{owner} does not support sparse input X (got a {type(X).__name__}); "
            "convert it to a dense array with X.toarray()"
        )
    X = np.asarray(X)
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported\n{X!r}\n")
    if kind in "USV" or kind in "mM":
        raise ValueError(f"{owner} needs numeric X, got an array of dtype {X.dtype}; "
                         "convert your data to numbers explicitly")
    if kind == "O":
        X = X.astype(np.float64)  # TypeError/ValueError from NumPy name the bad element
    elif X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        if X.ndim < 2:
            raise ValueError(
                f"Expected 2D array, got {X.ndim}D array instead:\narray={X!r}.\nReshape your data either "
                "using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
                "contains a single sample."
            )
        raise ValueError(f"Found array with dim {X.ndim}. {owner} expected <= 2.")
    n, d = X.shape
    if n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    _check_finite("X", X)
    return X


def _label_repr(c):
    return repr(c.item() if isinstance(c, np.generic) else c)


_CONTINUOUS = ("Unknown label type: continuous. Maybe you are trying to fit a classifier, which expects "
               "discrete classes on a regression target with continuous values.")


def _check_label_array(y, n_samples, owner):
    """The checks of y that need no pass over its values (NumPy or Dask):
    present, dense, 1-D (a column vector is raveled, with scikit-learn's
    warning), n_samples long, of a label dtype.  Returns y."""
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None.")
    if _is_sparse(y):
        raise TypeError(f"{owner} does not support a sparse y; pass a 1-D array of labels")
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
            "(n_samples, ), for example using ravel().",
            _flavoured(DataConversionWarning),
            stacklevel=4,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if y.shape[0] != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n_samples}, {y.shape[0]}]")
    if y.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    if y.dtype.kind in "mMV":
        raise ValueError(f"Unknown label type: labels of dtype {y.dtype}")
    return y


def _check_two_classes(classes):
    """A ValueError unless the labels hold exactly two classes."""
    if classes.size > 2:
        shown = ", ".join(_label_repr(c) for c in classes[:5]) + (", ..." if classes.size > 5 else "")
        raise ValueError(
            "Only binary classification is supported. The type of the target is multiclass "
            f"({classes.size} classes: {shown}); LogisticRegression is a binary classifier."
        )
    if classes.size < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data contains only one "
            f"class: {_label_repr(classes[0])}"
        )


def _check_targets(y, n_samples, owner):
    """(classes, y01 as int8): y validated as binary class labels."""
    if y is not None and not _is_sparse(y):
        y = np.asarray(y)
    y = _check_label_array(y, n_samples, owner)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(_describe_nonfinite("y", y))
        if np.any(y != np.trunc(y)):
            raise ValueError(_CONTINUOUS)
    try:
        classes, y01 = np.unique(y, return_inverse=True)
    except TypeError as exc:
        types = sorted({type(v).__qualname__ for v in y.tolist()})
        raise TypeError(f"y must be uniformly strings or numbers, got labels of types {types}") from exc
    _check_two_classes(classes)
    return classes, y01.reshape(-1).astype(np.int8)


def _check_sample_weight(sample_weight, n_samples):
    """sample_weight as float64 of shape (n_samples,), or None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sw = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        sw = np.asarray(sample_weight)
        if sw.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight must be numbers, got dtype {sw.dtype}")
        sw = sw.astype(np.float64)  # always a copy: the caller's array is never written
        if sw.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got shape {sw.shape}")
        if sw.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n_samples,)}!")
    if not np.isfinite(sw).all():
        raise ValueError(_describe_nonfinite("sample_weight", sw))
    if np.any(sw < 0):
        raise ValueError("Negative values in data passed to sample_weight")
    return sw


# ------------------------------------------------------------------ the numerical core

# Rows per block when forming X^T diag(h) X: the scaled block stays in cache
# while BLAS's syrk reads it; each block's product is added in float64.
_BLOCK_BYTES = 1 << 20
_MIN_BLOCK_ROWS = 2048
# Newton keeps its Hessian while no decision value has moved by more than
# this since it was formed (see _fit_newton): the kept Hessian is then within
# a factor exp(+-0.1) of the current one, and its step contracts the error by
# expm1(0.1) = 0.105 or better
_REUSE_DRIFT = 0.1
# Rows per block of X^T g for float32 data: each block's float32 product is
# added to a float64 total, so the gradient's rounding does not grow with n.
_GRAD_BLOCK_ROWS = 2048


class _Problem:
    """The penalized objective, in scikit-learn's normalization:

        f(w, b) = (1/S) sum_i s_i BCE(x_i.w + b, y_i) + ||w||^2 / (2 C S),

    S the sum of the weights s.  Minimizing f minimizes
    0.5 ||w||^2 + C sum_i s_i BCE_i.  Data stay in X's dtype; parameters,
    objective and gradient are float64."""

    def __init__(self, X, y01, s, C, fit_intercept):
        self.X = X
        self.dtype = X.dtype
        self.y = y01.astype(X.dtype)
        self.s = None if s is None else s.astype(X.dtype)
        self.S = float(X.shape[0]) if s is None else float(np.sum(s))
        self.lam = 1.0 / C
        self.fit_intercept = bool(fit_intercept)
        self.d = X.shape[1]
        self.k = self.d + int(self.fit_intercept)
        # at least _MIN_BLOCK_ROWS rows: each block's product also reads and
        # writes a k x k matrix, which must stay small beside its k^2 rows work
        self.block_rows = max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (X.dtype.itemsize * self.k))

    def decision(self, p):
        z = self.X @ p[: self.d].astype(self.dtype)
        if self.fit_intercept:
            z += self.dtype.type(p[self.d])
        return z

    def loss_grad_z(self, z):
        """(sum_i s_i BCE_i in float64, s (sigma(z) - y)) from one fused pass."""
        if self.dtype == np.float64:
            loss, g = bce_with_logits_and_grad(z, self.y, weight=self.s, reduction="sum")
            return float(loss), g
        # the fused sum is accumulated in float64 but returned in float32:
        # sum the per-element losses in float64 instead
        losses, g = bce_with_logits_and_grad(z, self.y, weight=self.s, reduction="none")
        return float(np.sum(losses, dtype=np.float64)), g

    def objective(self, p, loss):
        w = p[: self.d]
        return (loss + 0.5 * self.lam * float(w @ w)) / self.S

    def gradient(self, p, z, g, hessian=False):
        """The gradient of f (and its Hessian) from g = s (sigma(z) - y): one
        pass over X for both."""
        X, d, k = self.X, self.d, self.k
        grad = np.empty(k)
        H = None
        if not hessian and self.dtype == np.float64:
            grad[:d] = X.T @ g
        elif not hessian:
            acc = np.zeros(d)
            for a in range(0, X.shape[0], _GRAD_BLOCK_ROWS):
                acc += X[a:a + _GRAD_BLOCK_ROWS].T @ g[a:a + _GRAD_BLOCK_ROWS]
            grad[:d] = acc
        else:
            h = sigmoid_backward(z, self.s if self.s is not None else 1.0)  # s sigma(z) sigma(-z), no cancellation
            root = np.sqrt(h)
            acc = np.zeros(d)
            H = np.zeros((k, k))
            rows = self.block_rows
            B = np.empty((min(rows, X.shape[0]), k), dtype=self.dtype)
            for a in range(0, X.shape[0], rows):
                Xb = X[a:a + rows]
                Bb = B[: Xb.shape[0]]
                np.multiply(Xb, root[a:a + rows, None], out=Bb[:, :d])
                if self.fit_intercept:
                    Bb[:, d] = root[a:a + rows]
                H += Bb.T @ Bb  # syrk: [X 1]^T diag(h) [X 1] for these rows
                acc += Xb.T @ g[a:a + rows]
            grad[:d] = acc
            H /= self.S
            H[np.arange(d), np.arange(d)] += self.lam / self.S
        grad[:d] += self.lam * p[:d]
        if self.fit_intercept:
            grad[d] = np.sum(g, dtype=np.float64)
        grad /= self.S
        return grad, H


def _newton_step(H, grad):
    """-H^-1 grad, with H made positive definite by the smallest added
    multiple of the identity that lets Cholesky succeed (none in the usual
    case: H = X^T D X / S + I / (C S) is positive definite in w; only the
    intercept's row can vanish, when every sample is classified with
    certainty)."""
    k = H.shape[0]
    scale = max(1.0, float(np.max(np.abs(np.diag(H)))))
    for jitter in (0.0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0):
        A = H if jitter == 0.0 else H + (jitter * scale) * np.eye(k)
        try:
            np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            continue
        return np.linalg.solve(A, -grad)
    return -grad / scale


def _fit_newton(prob, p, tol, max_iter, progress, history):
    """Newton's method with backtracking (Armijo) line search; converged when
    max |grad f| <= tol and half the squared Newton decrement <= tol (the
    criteria of scikit-learn's newton-cholesky).  Returns (p, n_iter, status).

    The Hessian is the expensive part (n k^2 / 2 multiply-adds).  It is kept
    from one iteration to the next while the decision values have moved by
    at most `_REUSE_DRIFT` since it was formed: each weight
    h_i = s_i sigma(z_i) sigma(-z_i) then changed by a factor within
    exp(+-drift) (|d log sigma'(z) / dz| <= 1), so the kept matrix is within
    that factor of the current one in every direction, and the step it gives
    contracts the error by about expm1(drift) or better: as fast as a fresh
    Newton step this close to the optimum, for a fraction of the cost."""
    z = prob.decision(p)
    loss, g = prob.loss_grad_z(z)
    f = prob.objective(p, loss)
    eps = np.finfo(prob.dtype).eps
    half_dec = np.inf  # half the squared Newton decrement of the last step taken
    n_iter = 0
    mode = "fresh"  # next Hessian: "fresh" (with the gradient), "keep", or "lazy" (only if still needed)
    H, drift = None, 0.0
    while True:
        grad, H_new = prob.gradient(p, z, g, hessian=mode == "fresh")
        if H_new is not None:
            H, drift = H_new, 0.0
        gmax = float(np.max(np.abs(grad)))
        history.record(n_iter, objective=f, grad_max=gmax)
        if gmax <= tol and half_dec <= tol:
            return p, n_iter, "converged"
        if n_iter >= max_iter:
            return p, n_iter, f"max_iter={max_iter} reached (max |gradient| = {gmax:.3g}, tol = {tol:.3g})"
        if mode == "lazy":
            _, H = prob.gradient(p, z, g, hessian=True)
            drift = 0.0
        step = _newton_step(H, grad)
        slope = float(grad @ step)  # directional derivative, < 0
        dz = prob.X @ step[: prob.d].astype(prob.dtype)
        if prob.fit_intercept:
            dz += prob.dtype.type(step[prob.d])
        t = 1.0
        for _ in range(50):
            z_t = z + prob.dtype.type(t) * dz if t != 1.0 else z + dz
            p_t = p + t * step
            loss_t, g_t = prob.loss_grad_z(z_t)
            f_t = prob.objective(p_t, loss_t)
            # Armijo's sufficient decrease; near the optimum the decrease of a
            # full step falls below the rounding of f: accept it there
            if f_t <= f + 1e-4 * t * slope or (t == 1.0 and f_t - f <= 16 * eps * abs(f)):
                break
            t *= 0.5
        else:
            if gmax <= tol:
                return p, n_iter, "converged"
            return p, n_iter, f"line search failed (max |gradient| = {gmax:.3g}, tol = {tol:.3g})"
        p, z, g, f = p_t, z_t, g_t, f_t
        half_dec = -0.5 * slope
        drift += t * float(max(dz.max(), -dz.min()))
        n_iter += 1
        progress.update(1, objective=f, grad=gmax)
        if drift <= _REUSE_DRIFT:
            mode = "keep"
        elif half_dec <= tol:
            # a small decrement predicts convergence at the next check: compute
            # the gradient alone, and the Hessian only if still needed
            mode = "lazy"
        else:
            mode = "fresh"


def _fit_lbfgs(prob, p, tol, max_iter, progress, history):
    """SciPy's L-BFGS-B on f with scikit-learn's settings (gtol=tol on the
    max |gradient|, up to 50 line-search steps) except ftol: eps, where
    scikit-learn's 64 eps stops the iterations at about 1e-6 relative error
    on ill-conditioned data whatever `tol` asks.  Objective and gradient come
    from one fused kernel pass and two passes over X."""
    try:
        from scipy.optimize import minimize
    except ImportError as exc:  # pragma: no cover - scipy is an extra
        raise ImportError("LogisticRegression(solver='lbfgs') needs SciPy (pip install scipy); "
                          "solver='newton' needs NumPy only") from exc

    def fun(q):
        if isinstance(prob, _DaskProblem):
            return prob.evaluate(q)[:2]
        z = prob.decision(q)
        loss, g = prob.loss_grad_z(z)
        grad, _ = prob.gradient(q, z, g)
        return prob.objective(q, loss), grad

    def callback(intermediate_result):
        f = getattr(intermediate_result, "fun", None)
        if f is not None:
            history.record(len(history.steps), objective=f)
            progress.update(1, objective=f)
        else:  # pragma: no cover - SciPy < 1.11 passes the point
            progress.update(1)

    res = minimize(fun, p, method="L-BFGS-B", jac=True, callback=callback,
                   options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": np.finfo(float).eps})
    status = "converged" if res.success else f"L-BFGS-B stopped: {res.message} (status={res.status})"
    return np.asarray(res.x, dtype=np.float64), int(res.nit), status


# ------------------------------------------------------------------ Dask arrays
#
# A Dask X is fitted with the same solvers, the data never gathered: each
# pass over the data maps every row block to its partial sums (loss, X^T g,
# and for Newton X^T diag(h) X), which Dask adds in a tree; the small k x k
# solve happens here.  Dask is imported only when an input is a Dask array.


def _is_dask_array(a):
    if not type(a).__module__.startswith("dask"):
        return False
    import dask.array as da

    return isinstance(a, da.Array)


def _unknown_chunks_error(name):
    return ValueError(
        f"{name} is a Dask array with unknown chunk sizes (NaN in {name}.chunks), but its shape is needed to "
        f"check the inputs; call {name}.compute_chunk_sizes() first (or build it with known lengths, e.g. "
        "DataFrame.to_dask_array(lengths=True)) so that nothing is computed silently."
    )


def _has_unknown(chunks):
    return any(np.isnan(c) for c in chunks)


def _dask_2d(X, owner, need_rows):
    """X as a Dask array of float32 or float64, chunked along rows only."""
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError("Complex data not supported")
    if kind in "USV" or kind in "mM":
        raise ValueError(f"{owner} needs numeric X, got an array of dtype {X.dtype}; "
                         "convert your data to numbers explicitly")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        if X.ndim < 2:
            raise ValueError(f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either using "
                             "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) "
                             "if it contains a single sample.")
        raise ValueError(f"Found array with dim {X.ndim}. {owner} expected <= 2.")
    if _has_unknown(X.chunks[1]) or (_has_unknown(X.chunks[0]) and (need_rows or X.numblocks[1] > 1)):
        raise _unknown_chunks_error("X")
    n, d = X.shape
    if need_rows and n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def _dask_1d(a, rows, name):
    """`a` (Dask or not) as a 1-D Dask array with the row chunks `rows`."""
    import dask.array as da

    if _is_dask_array(a):
        if _has_unknown(a.chunks[0]):
            raise _unknown_chunks_error(name)
        if a.chunks[0] != rows and a.shape[0] == sum(rows):
            a = a.rechunk((rows,) + a.chunks[1:])
        return a
    a = np.asarray(a)
    return da.from_array(a, chunks=(rows,) + a.shape[1:]) if a.ndim >= 1 and a.shape[0] == sum(rows) else a


def _encode_block(yb, classes):
    return np.searchsorted(classes, yb).astype(np.int8)


def _weights_block(yb, sb, class_w):
    w = class_w[yb]
    return w if sb is None else sb * w


def _dask_partials(Xb, yb, sb, p, step, fit_intercept, hessian):
    """One row block's partial sums, as a (1, m) float64 row: the loss
    sum_i s_i BCE_i, X^T g (and sum g), X^T diag(h) X when `hessian`, and
    max |X step| when `step` is given; the same arithmetic as _Problem."""
    _check_finite("X", Xb)
    prob = _Problem(Xb, yb, sb, 1.0, fit_intercept)
    prob.lam, prob.S = 0.0, 1.0  # raw sums: the penalty and the scaling are applied on the client
    with np.errstate(under="ignore"):
        z = prob.decision(p)
        loss, g = prob.loss_grad_z(z)
        grad, H = prob.gradient(p, z, g, hessian=hessian)
        out = [np.array([loss]), grad]
        if hessian:
            out.append(H.ravel())
        if step is not None:
            dz = Xb @ step[: prob.d].astype(Xb.dtype)
            if fit_intercept:
                dz += Xb.dtype.type(step[prob.d])
            out.append(np.array([float(max(dz.max(), -dz.min())) if dz.size else 0.0]))
    return np.concatenate(out)[None, :]


class _DaskProblem:
    """The objective of _Problem on Dask arrays X (rows chunked), y01 and s
    (aligned with X's row chunks; s None for unit weights), S = sum(s)."""

    def __init__(self, X, y01, s, S, C, fit_intercept):
        self.X, self.y, self.s = X, y01, s
        self.dtype = X.dtype
        self.S = float(S)
        self.lam = 1.0 / C
        self.fit_intercept = bool(fit_intercept)
        self.d = X.shape[1]
        self.k = self.d + int(self.fit_intercept)

    def evaluate(self, p, hessian=False, step=None):
        """(f, grad f, Hessian of f or None, max |X step| or None) at p, from
        one pass over the data."""
        import dask
        import dask.array as da

        d, k = self.d, self.k
        m = 1 + k + (k * k if hessian else 0) + (step is not None)
        s_args = (self.s, "i") if self.s is not None else (None, None)
        parts = da.blockwise(_dask_partials, "ik", self.X, "ij", self.y, "i", *s_args,
                             new_axes={"k": m}, adjust_chunks={"i": 1}, concatenate=True,
                             dtype=np.float64, meta=np.empty((0, 0)), p=np.array(p, dtype=np.float64),
                             step=None if step is None else np.array(step, dtype=np.float64),
                             fit_intercept=self.fit_intercept, hessian=hessian)
        if step is None:
            (sums,) = dask.compute(parts.sum(axis=0))
            max_dz = None
        else:
            sums, max_dz = dask.compute(parts[:, : m - 1].sum(axis=0), parts[:, m - 1].max())
            max_dz = float(max_dz)
        loss = float(sums[0])
        grad = np.array(sums[1:1 + k], dtype=np.float64)
        grad[:d] += self.lam * p[:d]
        grad /= self.S
        H = None
        if hessian:
            H = sums[1 + k:1 + k + k * k].reshape(k, k) / self.S
            H[np.arange(d), np.arange(d)] += self.lam / self.S
        w = p[:d]
        f = (loss + 0.5 * self.lam * float(w @ w)) / self.S
        return f, grad, H, max_dz


def _fit_newton_dask(prob, p, tol, max_iter, progress, history):
    """_fit_newton's iterations on a _DaskProblem: each line-search trial is
    one pass giving the objective, the gradient and (unless a Newton
    decrement within `tol` makes it unneeded) the Hessian at the trial
    point, so that an accepted step costs one pass.  Same steps, same
    Hessian reuse and stopping rules as _fit_newton."""
    f, grad, H_at, _ = prob.evaluate(p, hessian=True)
    eps = np.finfo(prob.dtype).eps
    half_dec = np.inf
    n_iter = 0
    mode = "fresh"
    H, drift = None, 0.0
    while True:
        if mode == "fresh":
            H, drift = H_at, 0.0
        gmax = float(np.max(np.abs(grad)))
        history.record(n_iter, objective=f, grad_max=gmax)
        if gmax <= tol and half_dec <= tol:
            return p, n_iter, "converged"
        if n_iter >= max_iter:
            return p, n_iter, f"max_iter={max_iter} reached (max |gradient| = {gmax:.3g}, tol = {tol:.3g})"
        if mode == "lazy":
            _, _, H, _ = prob.evaluate(p, hessian=True)
            drift = 0.0
        step = _newton_step(H, grad)
        slope = float(grad @ step)
        want_hessian = -0.5 * slope > tol  # else the next mode is "keep" or "lazy"
        t = 1.0
        max_dz = None
        for _ in range(50):
            p_t = p + t * step
            f_t, grad_t, H_t, m = prob.evaluate(p_t, hessian=want_hessian, step=step if max_dz is None else None)
            if m is not None:
                max_dz = m
            if f_t <= f + 1e-4 * t * slope or (t == 1.0 and f_t - f <= 16 * eps * abs(f)):
                break
            t *= 0.5
        else:
            if gmax <= tol:
                return p, n_iter, "converged"
            return p, n_iter, f"line search failed (max |gradient| = {gmax:.3g}, tol = {tol:.3g})"
        p, f, grad, H_at = p_t, f_t, grad_t, H_t
        half_dec = -0.5 * slope
        drift += t * max_dz
        n_iter += 1
        progress.update(1, objective=f, grad=gmax)
        if drift <= _REUSE_DRIFT:
            mode = "keep"
        elif half_dec <= tol:
            mode = "lazy"
        else:
            mode = "fresh"


def _decision_block(Xb, w, b):
    _check_finite("X", Xb)
    with np.errstate(under="ignore"):
        z = Xb @ w
        z += Xb.dtype.type(b)
    return z


def _proba_block(Xb, w, b, log):
    z = _decision_block(Xb, w, b)
    f = log_sigmoid if log else sigmoid
    return np.stack([f(-z), f(z)], axis=1)


def _labels_block(Xb, w, b, classes):
    return classes[(_decision_block(Xb, w, b) > 0).astype(np.intp)]


# ------------------------------------------------------------------ the estimator

_SOLVERS = ("auto", "newton", "lbfgs")
# solver="auto" uses Newton's method up to this many features.  A Newton
# iteration costs n d^2 / 2 multiply-adds (BLAS syrk, compute-bound) and
# two passes over X; an L-BFGS iteration two memory-bound passes over X.
# Newton needs about 5-8 iterations whatever the conditioning, L-BFGS 20 on
# easy data to several hundred on ill-conditioned data.  Measured on this
# project's 2-core machine (make_classification, n = 2e4 and 5e4): Newton
# 3-5x faster at d = 100 to 400, still 3x at d = 1000 where L-BFGS had not
# converged in 100 iterations, 4x slower at d = 2000.  500 is where the
# flop counts tie for well-conditioned data (L-BFGS in 40 iterations).
_AUTO_NEWTON_MAX_FEATURES = 500


class LogisticRegression(Estimator):
    r"""Binary logistic regression with an L2 penalty.

    Minimizes, over the coefficients w and the intercept b,

    .. math::
        \frac{1}{2}\lVert w\rVert^2 + C \sum_{i=1}^{n} s_i
        \left[\mathrm{softplus}(x_i^\top w + b) - y_i\,(x_i^\top w + b)\right]

    with y_i in {0, 1} (the second of the two sorted class labels is 1), s_i
    the sample weight times the class weight, and the intercept not
    penalized: scikit-learn's ``LogisticRegression(penalty="l2")`` objective,
    for two classes.  The loss term and its gradient come from one fused pass
    of :func:`sigmoid.bce_with_logits_and_grad`; probabilities are
    :data:`sigmoid.sigmoid` of the decision function and log-probabilities
    :data:`sigmoid.log_sigmoid` of it, so neither rounds to 0, 1 or -inf
    while the true value is representable.

    Parameters
    ----------
    C : float > 0, default 1.0
        Inverse of the penalty's strength, as in scikit-learn.
    fit_intercept : bool, default True
        Fit the intercept b (unpenalized); if False, b = 0.
    class_weight : None, "balanced" or dict, default None
        Weights of the classes, multiplying the sample weights: a dict maps
        a class label to its weight (missing labels weigh 1); "balanced"
        gives class c the weight ``sum(s) / (2 * sum(s[y == c]))``.
    tol : float >= 0, default 1e-4
        Stop when ``max |grad f| <= tol`` (and, for Newton, half the squared
        Newton decrement is <= tol), f being the objective divided by
        ``C * sum(s)``: scikit-learn's convention, so the same `tol` means
        the same accuracy.
    max_iter : int >= 0, default 100
        Maximum number of Newton or L-BFGS iterations.
    solver : {"auto", "newton", "lbfgs"}, default "auto"
        "newton": Newton's method with the exact Hessian
        ``X^T diag(s sigma(z) sigma(-z)) X + I/C``, formed block by block with
        BLAS's syrk, Cholesky-checked and solved with NumPy, with a
        backtracking line search; needs NumPy only.  "lbfgs": SciPy's
        L-BFGS-B.  "auto": "newton" for at most 500 features, where its
        few iterations win (see ``benchmarks/bench_logistic.py``), else
        "lbfgs", whose iterations cost two passes over X whatever the
        number of features (a Newton iteration costs n d^2 / 2
        multiply-adds).
    random_state : None, int or Generator, default None
        Accepted for compatibility; both solvers are deterministic and
        ignore it.
    verbose : int, default 0
        If true, show a progress bar (when tqdm is installed).
    warm_start : bool, default False
        Start from the previous fit's coefficients when the number of
        features matches.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The class labels, sorted (``numpy.unique``, as scikit-learn's
        LabelEncoder); ``classes_[1]`` is the positive class.
    coef_ : ndarray of shape (1, n_features)
        The coefficients w, in the dtype of the training X (float32 stays
        float32; other inputs are converted to float64).
    intercept_ : ndarray of shape (1,)
        The intercept b (0 when ``fit_intercept=False``), same dtype.
    n_iter_ : ndarray of shape (1,), int32
        Iterations the solver ran.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,), object
        Column names, when X was a DataFrame whose columns are all strings.
    history_ : sigmoid.models._training.History
        The objective f after each iteration (and, for Newton, the largest
        gradient component).

    Notes
    -----
    Data are never upcast: float32 X is multiplied in float32 (decision
    values, gradient blocks of 2048 rows, Hessian blocks) and the fused
    kernel returns float32 gradients; the blocks, the loss, the gradient and
    the Hessian are summed in float64, and the parameters are float64 during
    the fit.  ``decision_function``, ``predict_proba`` and
    ``predict_log_proba`` return X's dtype, as scikit-learn does.

    scikit-learn's ``check_estimator`` passes in full (no expected
    failures); the class does not inherit from scikit-learn's BaseEstimator,
    so that this module imports without scikit-learn.  Input checks raise
    scikit-learn's messages.  Sparse X is refused with a TypeError.

    Special values: X, y or sample weights with NaN or infinity are refused
    (ValueError).  Any finite decision value z gives finite
    log-probabilities (-1e9 for z = +-1e9, where ``log(predict_proba)``
    gives -inf) and probabilities in [0, 1]; the columns are
    ``sigmoid(-z)`` and ``sigmoid(z)``, each as accurate as
    :data:`sigmoid.sigmoid`, so a tiny probability keeps its relative
    accuracy.

    Accuracy: the solution meets `tol` (ConvergenceWarning when it does
    not); with tol=1e-10 it agrees with scikit-learn's newton-cholesky
    solution to 1e-6 relative (tested on breast-cancer and synthetic data,
    both solvers, with sample and class weights).  For float32 data the
    gradient is exact to about 1e-8 (the rounding of float32 decision
    values), which fixes the probabilities to float32 accuracy; along nearly
    collinear directions of X, held only by the penalty, the coefficients
    can differ from the float64 fit's by much more (1e-3 relative measured
    with C = 1, n = 1e6).

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
    >>> p = clf.predict_proba([[0.0, 0.0], [100.0, 100.0]])
    >>> p.shape, bool(p[1, 1] > 0)
    ((2, 2), True)

    See also
    --------
    sigmoid.bce_with_logits_and_grad, sigmoid.log_sigmoid,
    sklearn.linear_model.LogisticRegression
    """

    _estimator_type = "classifier"  # scikit-learn < 1.6

    def __init__(self, *, C=1.0, fit_intercept=True, class_weight=None, tol=1e-4, max_iter=100,
                 solver="auto", random_state=None, verbose=0, warm_start=False):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # -------------------------------------------------------------- estimator protocol

    def __sklearn_tags__(self):
        """scikit-learn's tags (scikit-learn >= 1.6 is imported here, only
        when asked): a classifier of two classes, on dense 2-D float input."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True, one_d_labels=False, two_d_labels=False),
            classifier_tags=ClassifierTags(multi_class=False, multi_label=False, poor_score=False),
            input_tags=InputTags(two_d_array=True, sparse=False, allow_nan=False),
            requires_fit=True,
        )

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": True, "requires_y": True}

    def __sklearn_is_fitted__(self):
        return hasattr(self, "coef_")

    # -------------------------------------------------------------- checks

    def _check_params(self):
        name = type(self).__name__

        def bad(param, expected):
            return ValueError(f"The {param!r} parameter of {name} must be {expected}. "
                              f"Got {getattr(self, param)!r} instead.")

        def real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool)

        if not (real(self.C) and 0 < self.C < np.inf):
            raise bad("C", "a float in the range (0, inf)")
        if not (real(self.tol) and 0 <= self.tol < np.inf):
            raise bad("tol", "a float in the range [0, inf)")
        if not (isinstance(self.max_iter, numbers.Integral) and not isinstance(self.max_iter, bool)
                and self.max_iter >= 0):
            raise bad("max_iter", "an int in the range [0, inf)")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise bad("fit_intercept", "an instance of 'bool'")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise bad("warm_start", "an instance of 'bool'")
        if not isinstance(self.solver, str) or self.solver not in _SOLVERS:
            raise bad("solver", f"a str among {set(_SOLVERS)}")
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise bad("class_weight", "a dict, 'balanced' or None")
        if not (isinstance(self.verbose, (numbers.Integral, bool))):
            raise bad("verbose", "an int")

    def _check_X(self, X, reset):
        owner = type(self).__name__
        names = _feature_names(X)
        X = _as_numeric_2d(X, owner)
        if reset:
            self.n_features_in_ = X.shape[1]
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return X
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {owner} was fitted with feature names",
                          UserWarning, stacklevel=3)
        elif fitted is None and names is not None:
            warnings.warn(f"X has feature names, but {owner} was fitted without feature names",
                          UserWarning, stacklevel=3)
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
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting {self.n_features_in_} "
                             "features as input.")
        return X

    def _dask_params(self, X):
        """A Dask X checked against the fit (chunked along rows only), and
        the coefficients and intercept in its dtype."""
        owner = type(self).__name__
        X = _dask_2d(X, owner, need_rows=False)
        if getattr(self, "feature_names_in_", None) is not None:
            warnings.warn(f"X does not have valid feature names, but {owner} was fitted with feature names",
                          UserWarning, stacklevel=4)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {owner} is expecting {self.n_features_in_} "
                             "features as input.")
        return X, self.coef_.ravel().astype(X.dtype, copy=False), float(self.intercept_[0])

    def _dask_proba(self, X, log):
        self._check_fitted()
        X, w, b = self._dask_params(X)
        return X.map_blocks(_proba_block, w, b, log, chunks=(X.chunks[0], (2,)), dtype=X.dtype,
                            meta=np.empty((0, 0), X.dtype))

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise _flavoured(NotFittedError)(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                "before using this estimator."
            )

    def _class_weights(self, classes, y01, sw):
        """The weight of each of the two classes (float64, shape (2,))."""
        cw = self.class_weight
        if cw is None:
            return np.ones(2)
        if isinstance(cw, str):  # "balanced"
            counts = np.bincount(y01, weights=sw, minlength=2).astype(np.float64)
            return counts.sum() / (2.0 * counts)
        keys = {(k.item() if isinstance(k, np.generic) else k) for k in cw}
        labels = [c.item() if isinstance(c, np.generic) else c for c in classes]
        unknown = [k for k in keys if k not in labels]
        if unknown:
            raise ValueError(f"The given class_weight dict must have the class labels as keys; "
                             f"{sorted(map(repr, unknown))} are not among the classes {labels!r}")
        out = np.array([float(cw.get(c, cw.get(classes[i], 1.0))) for i, c in enumerate(labels)])
        if not (np.isfinite(out).all() and np.all(out >= 0)):
            raise ValueError(f"class_weight values must be finite and non-negative, got {cw!r}")
        return out

    # -------------------------------------------------------------- fit and predict

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Training data; float32 is kept, other numbers become float64.
        y : array_like of shape (n_samples,)
            Labels of exactly two classes (numbers, strings or booleans).
        sample_weight : array_like of shape (n_samples,) or float, optional
            Non-negative weights s_i; weight k is equivalent to repeating a
            sample k times.

        Returns
        -------
        self
        """
        self._check_params()
        if _is_dask_array(X):
            return self._fit_dask(X, y, sample_weight)
        if _is_dask_array(y):
            y = y.compute()
        if _is_dask_array(sample_weight):
            sample_weight = sample_weight.compute()
        X = self._check_X(X, reset=True)
        n, d = X.shape
        classes, y01 = _check_targets(y, n, type(self).__name__)
        sw = _check_sample_weight(sample_weight, n)
        class_w = self._class_weights(classes, y01, sw)
        if sw is None and np.all(class_w == 1.0):
            s = None
        else:
            s = class_w[y01] if sw is None else sw * class_w[y01]
            if not np.any(s > 0):
                raise ValueError("Sample weights must contain at least one non-zero number (all sample "
                                 "weights, times the class weights, are zero).")
            present = np.bincount(y01, weights=s, minlength=2) > 0
            if not present.all():
                raise ValueError(
                    "This solver needs samples of at least 2 classes with non-zero weight, but only class "
                    f"{_label_repr(classes[int(np.argmax(present))])} has any."
                )
        solver = self.solver
        if solver == "auto":
            solver = "newton" if d <= _AUTO_NEWTON_MAX_FEATURES else "lbfgs"

        with np.errstate(under="ignore"):  # tiny products in the Hessian are harmless
            prob = _Problem(X, y01, s, float(self.C), self.fit_intercept)

            def log_odds():
                wts = np.ones(n) if s is None else s
                return float(np.sum(wts[y01 == 1])), float(np.sum(wts[y01 == 0]))

            return self._solve(prob, solver, classes, log_odds)

    def _solve(self, prob, solver, classes, log_odds, stacklevel=3):
        """Run the solver from the starting point and set the fitted
        attributes; log_odds() gives the weights of the classes 1 and 0."""
        d = prob.d
        with np.errstate(under="ignore"):
            p = np.zeros(prob.k)
            prev = getattr(self, "coef_", None) if self.warm_start else None
            if prev is not None and prev.shape == (1, d):
                p[:d] = prev.ravel()
                if self.fit_intercept:
                    p[d] = float(self.intercept_[0])
            elif self.fit_intercept:
                # start at the weighted log-odds of the positive class
                pos, neg = log_odds()
                p[d] = np.log(pos) - np.log(neg)
            history = History()
            with Progress(int(self.max_iter), f"LogisticRegression ({solver})", self.verbose) as progress:
                if solver == "newton":
                    fit = _fit_newton_dask if isinstance(prob, _DaskProblem) else _fit_newton
                else:
                    fit = _fit_lbfgs
                p, n_iter, status = fit(prob, p, float(self.tol), int(self.max_iter), progress, history)
        dtype = prob.dtype
        self.classes_ = classes
        self.coef_ = p[:d].astype(dtype).reshape(1, d)
        self.intercept_ = np.array([p[d] if self.fit_intercept else 0.0], dtype=dtype)
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        self.history_ = history
        if status != "converged":
            warnings.warn(
                f"LogisticRegression(solver={solver!r}) did not converge: {status}. Increase max_iter, or "
                "standardize the features.",
                _flavoured(ConvergenceWarning),
                stacklevel=stacklevel,
            )
        return self

    def _fit_dask(self, X, y, sample_weight):
        """fit on a Dask X: two passes over y (and the sample weights) for
        the checks and the class weights, then one pass over the data per
        solver evaluation, on the default scheduler (a dask.distributed
        client when one is active)."""
        import dask
        import dask.array as da

        owner = type(self).__name__
        X = _dask_2d(X, owner, need_rows=True)
        n, d = X.shape
        self.n_features_in_ = d
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        rows = X.chunks[0]
        if y is not None and not _is_sparse(y):
            y = _dask_1d(y, rows, "y")
        y = _check_label_array(y, n, owner)
        kind = y.dtype.kind
        sw = None
        if sample_weight is not None:
            if isinstance(sample_weight, numbers.Number):
                sw = da.full(n, float(sample_weight), chunks=(rows,), dtype=np.float64)
            else:
                sw = _dask_1d(sample_weight, rows, "sample_weight")
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
            raise ValueError(_CONTINUOUS)
        if sw is not None and not got["sw_finite"]:
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if sw is not None and got["sw_min"] < 0:
            raise ValueError("Negative values in data passed to sample_weight")
        classes = np.asarray(got["classes"])
        _check_two_classes(classes)
        y01 = y.map_blocks(_encode_block, classes, dtype=np.int8)

        # pass 2: the (weighted) size of each class
        ones = y01 == 1
        if sw is None:
            c1 = ones.sum(dtype=np.float64)
            c0 = n - c1
        else:
            c1 = da.where(ones, sw, 0.0).sum()
            c0 = da.where(ones, 0.0, sw).sum()
        c0, c1 = (float(c) for c in dask.compute(c0, c1))
        if self.class_weight is None:
            class_w = np.ones(2)
        elif isinstance(self.class_weight, str):  # "balanced"
            class_w = (c0 + c1) / (2.0 * np.array([c0, c1]))
        else:
            class_w = self._class_weights(classes, None, None)
        neg, pos = class_w[0] * c0, class_w[1] * c1
        if sw is None and np.all(class_w == 1.0):
            s = None
        else:
            s = y01.map_blocks(_weights_block, sw, class_w, dtype=np.float64) if sw is not None else \
                y01.map_blocks(_weights_block, None, class_w, dtype=np.float64)
            if not pos + neg > 0:
                raise ValueError("Sample weights must contain at least one non-zero number (all sample "
                                 "weights, times the class weights, are zero).")
            present = np.array([neg > 0, pos > 0])
            if not present.all():
                raise ValueError(
                    "This solver needs samples of at least 2 classes with non-zero weight, but only class "
                    f"{_label_repr(classes[int(np.argmax(present))])} has any."
                )
        solver = self.solver
        if solver == "auto":
            solver = "newton" if d <= _AUTO_NEWTON_MAX_FEATURES else "lbfgs"
        prob = _DaskProblem(X, y01, s, float(n) if s is None else pos + neg, float(self.C), self.fit_intercept)
        return self._solve(prob, solver, classes, lambda: (pos, neg), stacklevel=4)

    def decision_function(self, X):
        """The decision values z = X w + b.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        z : ndarray of shape (n_samples,)
            X's dtype (float32 stays float32; other inputs give float64).
        """
        self._check_fitted()
        if _is_dask_array(X):
            X, w, b = self._dask_params(X)
            return X.map_blocks(_decision_block, w, b, drop_axis=1, dtype=X.dtype, meta=np.empty((0,), X.dtype))
        X = self._check_X(X, reset=False)
        with np.errstate(under="ignore"):  # a product rounding to 0 is the answer
            z = X @ self.coef_.ravel().astype(X.dtype, copy=False)
            z += X.dtype.type(self.intercept_[0])
        return z

    def predict(self, X):
        """The class with the larger probability: ``classes_[1]`` where z > 0.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Elements of `classes_`.
        """
        if _is_dask_array(X):
            self._check_fitted()
            X, w, b = self._dask_params(X)
            return X.map_blocks(_labels_block, w, b, self.classes_, drop_axis=1, dtype=self.classes_.dtype,
                                meta=np.empty((0,), self.classes_.dtype))
        positive = self.decision_function(X) > 0  # first: unfitted raises NotFittedError
        return self.classes_[positive.astype(np.intp)]

    def predict_proba(self, X):
        """Class probabilities ``[sigmoid(-z), sigmoid(z)]``.

        Each column is computed directly (not as 1 minus the other), so a
        small probability keeps its relative accuracy.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            X's dtype; column j is the probability of ``classes_[j]``.
        """
        if _is_dask_array(X):
            return self._dask_proba(X, log=False)
        z = self.decision_function(X)
        return np.stack([sigmoid(-z), sigmoid(z)], axis=1)

    def predict_log_proba(self, X):
        """Log-probabilities ``[log_sigmoid(-z), log_sigmoid(z)]``.

        Computed from z with :data:`sigmoid.log_sigmoid`, never as the log
        of a rounded probability: finite for any finite z (-1e9 for z = 1e9
        where ``log(predict_proba)`` gives -inf).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, 2)
            X's dtype.
        """
        if _is_dask_array(X):
            return self._dask_proba(X, log=True)
        z = self.decision_function(X)
        return np.stack([log_sigmoid(-z), log_sigmoid(z)], axis=1)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against `y`, optionally weighted.

        Returns
        -------
        score : float
        """
        pred = self.predict(X)
        if _is_dask_array(pred):
            pred = pred.compute()
        if _is_dask_array(y):
            y = y.compute()
        if _is_dask_array(sample_weight):
            sample_weight = sample_weight.compute()
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape != pred.shape:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{pred.shape[0]}, {y.shape[0] if y.ndim else 0}]")
        sw = _check_sample_weight(sample_weight, pred.shape[0])
        return float(np.average(pred == y, weights=sw))
