r"""The problem of logistic regression: the penalized loss, its gradient, its
Hessian and its Hessian-vector products, on dense, sparse (CSR) or Dask data,
for two classes (one sigma per sample) or more (a softmax).

The solvers of :mod:`._solvers` see a problem only through this interface:

``value_grad(p) -> (f, g)``
    the smooth objective and its gradient at the parameters p (float64);
``hessian(p) -> H``, ``hessp(p) -> (v -> H v)``, ``hessian_diag(p)``
    second derivatives at a point where ``value_grad`` was just evaluated;
``line(p, step) -> (t[, hessian] -> (f, g))``
    the objective along a line, with ``max_dz`` (the largest change of a
    decision value for t = 1);
``project(v)``, ``null_basis()``
    the directions the objective does not see (the class-sum of a softmax
    model's intercepts, and of its coefficients when nothing penalizes
    them), removed;
``l1w``
    the weight of each parameter in the L1 part of the penalty (or None),
    which the smooth objective leaves to the solver.

The objective is scikit-learn's, divided by C S:

.. math::
    f(p) = \frac{1}{S}\sum_i s_i\,\ell_i(p)
           + \frac{\lambda_2}{2}\sum_j m_j p_j^2 + \lambda_1 \sum_j m_j |p_j|,
    \qquad \lambda_2 = \frac{1 - \rho}{C S},\ \lambda_1 = \frac{\rho}{C S},

with s_i the sample weight times the class weight, S their sum, rho the L1
ratio, m_j = 1 for the coefficients and 0 for the intercepts (1 under
liblinear's convention, where the intercept is the coefficient of a constant
feature ``intercept_scaling``), and l_i the binary cross-entropy of
z_i = x_i . w + b (two classes) or the multinomial one,
``logsumexp(z_i) - z_{i, y_i}`` with z_i = W x_i + b (K classes).

Parameters are one float64 vector: the K x d coefficients row by row, then
the K intercepts (K = 1 for two classes).  Data keep their dtype: float32 X
is multiplied in float32 (dense) or read as stored and summed in float64
(CSR); every sum over samples is accumulated in float64.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from ... import bce_with_logits_and_grad, sigmoid_backward
from ._checks import check_finite

# Rows per block when forming X^T diag(h) X: the scaled block stays in cache
# while BLAS reads it; each block's product is added in float64.
_BLOCK_BYTES = 1 << 20
_MIN_BLOCK_ROWS = 2048
# Rows per block of X^T G for float32 data: each block's float32 product is
# added to a float64 total, so the gradient's rounding does not grow with n.
_GRAD_BLOCK_ROWS = 2048
# Stored values per thread below which a CSR product runs on one thread.
_CSR_NNZ_PER_THREAD = 250_000


# ------------------------------------------------------------------ the data


class DenseDesign:
    """X as a NumPy array (float32 or float64): products by BLAS."""

    sparse = False

    def __init__(self, X):
        self.X = X
        self.dtype = X.dtype          # of the decision values
        self.n, self.d = X.shape

    def matmat(self, W):
        """The decision values X W^T as a (K, n) array of X's dtype."""
        Wc = W.astype(self.dtype, copy=False)
        if Wc.shape[0] == 1:
            return (self.X @ Wc[0])[None, :]
        return Wc @ self.X.T

    def rmatmat(self, G):
        """G X (K x d, float64) for G of shape (K, n); float32 blocks of rows
        are summed in float64."""
        X = self.X
        if self.dtype == np.float64:
            return (X.T @ G[0])[None, :] if G.shape[0] == 1 else G @ X
        acc = np.zeros((G.shape[0], self.d))
        for a in range(0, self.n, _GRAD_BLOCK_ROWS):
            Xb = X[a:a + _GRAD_BLOCK_ROWS]
            Gb = G[:, a:a + _GRAD_BLOCK_ROWS].astype(self.dtype, copy=False)
            acc += (Xb.T @ Gb[0])[None, :] if G.shape[0] == 1 else Gb @ Xb
        return acc

    def sq_rmatmat(self, H):
        """sum_i H[k, i] x_ij^2 (K x d, float64): the diagonals of the
        blocks X^T diag(H_k) X."""
        X = self.X
        acc = np.zeros((H.shape[0], self.d))
        rows = max(1, _BLOCK_BYTES // (X.dtype.itemsize * self.d))
        for a in range(0, self.n, rows):
            Xb = X[a:a + rows]
            acc += H[:, a:a + rows].astype(self.dtype, copy=False) @ (Xb * Xb)
        return acc

    def gram(self, h, a, nonneg=True):
        """[X a1]^T diag(h) [X a1] (float64; without the last row and column
        when a is None), summed over blocks of rows; for h >= 0 one BLAS
        syrk per block on sqrt(h) X, else a gemm."""
        X, d = self.X, self.d
        k = d + (a is not None)
        H = np.zeros((k, k))
        rows = max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (X.dtype.itemsize * k))
        B = np.empty((min(rows, self.n), k), dtype=self.dtype)
        for s in range(0, self.n, rows):
            Xb = X[s:s + rows]
            hb = h[s:s + rows].astype(self.dtype, copy=False)
            Bb = B[: Xb.shape[0]]
            f = np.sqrt(hb) if nonneg else hb
            np.multiply(Xb, f[:, None], out=Bb[:, :d])
            if a is not None:
                Bb[:, d] = f * self.dtype.type(a)
            if nonneg:
                H += Bb.T @ Bb      # syrk
            else:
                if a is not None:
                    Cb = np.empty_like(Bb)
                    Cb[:, :d] = Xb
                    Cb[:, d] = self.dtype.type(a)
                else:
                    Cb = Xb
                H += Bb.T @ Cb
        return H

    def softmax_weights(self, P):
        return P

    def hessp_sigmoid(self, v, vb, h):
        """(X^T (h (X v + vb)), sum h (X v + vb)) for the binary Hessian."""
        u = self.matmat(v[None, :])[0]
        u += self.dtype.type(vb)
        u *= h
        return self.rmatmat(u[None, :])[0], float(np.sum(u, dtype=np.float64))

    def hessp_softmax(self, V, vb, P, s):
        """(R X, sum_i R[:, i]) with R = s P (U - sum_k P U), U = V X^T + vb:
        the multinomial Hessian times (V, vb), without its 1/S."""
        U = self.matmat(V)
        U += vb.astype(self.dtype)[:, None]
        R = P * (U - np.sum(P * U, axis=0))
        if s is not None:
            R *= s
        return self.rmatmat(R), np.sum(R, axis=1, dtype=np.float64)


_POOL = None
_POOL_LOCK = threading.Lock()


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="sigmoid-csr")
        return _POOL


class CSRDesign:
    """X as a CSR matrix (float32 or float64 values, int32 or int64
    indices, checked by _checks.as_csr): products by the one-pass kernels of
    _csr.c, the rows split between ``sigmoid.get_num_threads()`` threads,
    every sum in float64 (the decision values are float64)."""

    sparse = True

    def __init__(self, X):
        from . import _csr
        from ... import get_num_threads

        self._k = _csr
        self.X = X
        self.data, self.indices, self.indptr = X.data, X.indices, X.indptr
        self.dtype = np.dtype(np.float64)
        self.n, self.d = X.shape
        nnz = int(self.indptr[-1])
        T = max(1, min(get_num_threads(), nnz // _CSR_NNZ_PER_THREAD, self.n))
        # row ranges with about the same number of stored values each
        cuts = np.searchsorted(self.indptr, np.linspace(0, nnz, T + 1)[1:-1])
        bounds = [0, *sorted(set(int(c) for c in cuts) - {0, self.n}), self.n]
        self.ranges = list(zip(bounds[:-1], bounds[1:]))

    def _run(self, fn):
        if len(self.ranges) == 1:
            return [fn(*self.ranges[0])]
        futures = [_pool().submit(fn, a, b) for a, b in self.ranges]
        return [f.result() for f in futures]

    def _args(self):
        return self.data, self.indices, self.indptr, self.d

    def matmat(self, W):
        K = W.shape[0]
        V = np.ascontiguousarray(W.T, dtype=np.float64)
        out = np.empty((self.n, K))
        self._run(lambda a, b: self._k.matvec(*self._args(), a, b, V, K, out[a:b]))
        return out.reshape(1, self.n) if K == 1 else np.ascontiguousarray(out.T)

    def _scatter(self, kernel, G):
        K = G.shape[0]
        Gt = np.ascontiguousarray(G.T, dtype=np.float64)

        def part(a, b):
            o = np.zeros((self.d, K))
            kernel(*self._args(), a, b, Gt, K, o)
            return o

        outs = self._run(part)
        total = outs[0]
        for o in outs[1:]:
            total += o
        return total.reshape(1, self.d) if K == 1 else np.ascontiguousarray(total.T)

    def rmatmat(self, G):
        return self._scatter(self._k.rmatvec, G)

    def sq_rmatmat(self, H):
        return self._scatter(self._k.sq_rmatvec, H)

    def gram(self, h, a, nonneg=True):
        X, d = self.X, self.d
        k = d + (a is not None)
        XH = X.multiply(np.asarray(h, dtype=np.float64)[:, None]).tocsr()
        H = np.zeros((k, k))
        H[:d, :d] = (X.T @ XH).toarray()
        if a is not None:
            col = np.asarray(XH.sum(axis=0)).ravel() * a
            H[:d, d] = H[d, :d] = col
            H[d, d] = float(np.sum(h, dtype=np.float64)) * a * a
        return H

    def softmax_weights(self, P):
        return np.ascontiguousarray(P.T, dtype=np.float64)

    def hessp_sigmoid(self, v, vb, h):
        v = np.ascontiguousarray(v, dtype=np.float64)
        h = np.ascontiguousarray(h, dtype=np.float64)

        def part(a, b):
            o = np.zeros(self.d)
            return o, self._k.hessp(*self._args(), a, b, v, float(vb), h, o)

        parts = self._run(part)
        out = parts[0][0]
        for o, _ in parts[1:]:
            out += o
        return out, float(sum(r for _, r in parts))

    def hessp_softmax(self, V, vb, Pt, s):
        K = V.shape[0]
        Vt = np.ascontiguousarray(V.T, dtype=np.float64)
        vb = np.ascontiguousarray(vb, dtype=np.float64)
        s = None if s is None else np.ascontiguousarray(s, dtype=np.float64)

        def part(a, b):
            o = np.zeros((self.d, K))
            r = np.zeros(K)
            self._k.hessp_softmax(*self._args(), a, b, Vt, vb, Pt, s, K, o, r)
            return o, r

        parts = self._run(part)
        out, rs = parts[0]
        for o, r in parts[1:]:
            out += o
            rs += r
        return np.ascontiguousarray(out.T), rs


def design_of(X):
    """The design object for an in-memory X (ndarray or checked CSR)."""
    return CSRDesign(X) if getattr(X, "format", None) == "csr" else DenseDesign(X)


# ------------------------------------------------------------------ the softmax pass


def softmax_loss_grad(Z, codes, s):
    r"""The multinomial cross-entropy of each column of Z (K x n scores,
    float32 or float64) against the class indices `codes`, in one fused,
    stable pass.

    Returns ``(loss, G, P)``: the sum over samples of s_i times
    ``logsumexp(z_i) - z_{i, y_i}`` (float64), its gradient with respect
    to Z, ``G = s (P - Y)``, and the probabilities P, all (K, n) in Z's
    dtype.

    With m the largest score of a sample, the exponentials e^(z - m) are in
    (0, 1], 1 at the n_max scores equal to m.  Their sum is n_max + t, t the
    sum of the others, carried apart so that nothing is lost when the largest
    score is far ahead (t below the rounding of 1):

    * the true class scores m: loss = log(n_max + t) = log1p((n_max - 1) + t),
      and the gradient 1 - P_y = ((n_max - 1) + t) / (n_max + t), both with
      their relative accuracy;
    * otherwise: loss = log(n_max + t) + (m - z_y), two non-negative terms,
      and 1 - P_y = (n_max + t - e_y) / (n_max + t), where the numerator is
      >= 1 (no cancellation).

    This is :func:`sigmoid.log_softmax`'s decomposition (the split into n_max
    and t) without its double-word corrections, in the class-major layout
    that makes every step a contiguous NumPy loop over the samples: on
    10^5 x 10 scores it is several times faster than computing
    ``log_softmax`` and ``softmax`` separately, and it is within a few ulp of
    them (tests/test_logistic.py compares them).
    """
    K, n = Z.shape
    m = Z.max(axis=0)
    E = Z - m
    is_max = E == 0
    np.exp(E, out=E)
    E[is_max] = 0
    t = E.sum(axis=0)
    n_max = np.count_nonzero(is_max, axis=0).astype(Z.dtype)
    S = n_max + t                       # >= 1
    cols = np.arange(n)
    y_max = is_max[codes, cols]
    other = np.where(y_max, (n_max - 1) + t, S - E[codes, cols])
    loss = np.where(y_max, np.log1p(other), np.log(S) + (m - Z[codes, cols]))
    P = E
    P += is_max
    P /= S
    G = P.copy()
    G[codes, cols] = -(other / S)
    if s is not None:
        G *= s
        loss *= s
    return float(np.sum(loss, dtype=np.float64)), G, P


# ------------------------------------------------------------------ the problem in memory


def _set_penalty(prob, penalize_intercept, l2, l1):
    """The penalty's attributes of a problem with k parameters, K d
    coefficients first: mask (1 for a penalized parameter), l2, l1, and the
    per-parameter weights l2w and l1w (None without an L1 part)."""
    mask = np.ones(prob.k)
    if prob.fit_intercept and not penalize_intercept:
        mask[prob.K * prob.d:] = 0.0
    prob.mask = mask
    prob.l2, prob.l1 = float(l2), float(l1)
    prob.l2w = prob.l2 * mask
    prob.l1w = prob.l1 * mask if prob.l1 > 0 else None


class Problem:
    """The penalized objective on an in-memory X (see the module docstring).

    Parameters
    ----------
    design : DenseDesign or CSRDesign
    codes : ndarray of intp, (n,)
        The class index of each sample (0 or 1 for two classes).
    s : ndarray of float64 (n,) or None
        The weight of each sample (None: all 1).
    n_classes : int
    fit_intercept : bool
    intercept_scaling : float
        The value of the constant feature the intercept multiplies (1, but
        for liblinear's convention).
    penalize_intercept : bool
        liblinear's convention: the intercept is penalized like a
        coefficient.
    l2, l1 : float
        lambda_2 and lambda_1 of the module docstring.
    S : float or None
        The normalization (None: sum of s, or n).  A Dask block uses
        l2 = l1 = 0 and S = 1 to return raw sums.
    """

    def __init__(self, design, codes, s, n_classes, *, fit_intercept, intercept_scaling=1.0,
                 penalize_intercept=False, l2=0.0, l1=0.0, S=None):
        self.design = design
        self.dtype = design.dtype
        self.n_classes = int(n_classes)
        self.K = 1 if self.n_classes == 2 else self.n_classes
        self.multinomial = self.K > 1
        self.d = design.d
        self.fit_intercept = bool(fit_intercept)
        self.a = float(intercept_scaling)
        self.k = self.K * (self.d + self.fit_intercept)
        self.codes = codes
        self.y = None if self.multinomial else codes.astype(self.dtype)
        self.s = None if s is None else np.asarray(s, dtype=self.dtype)
        self.S = float(S) if S is not None else (float(design.n) if s is None else float(np.sum(s)))
        _set_penalty(self, penalize_intercept, l2, l1)
        self._state = None

    # ---------------------------------------------------------- pieces

    def split(self, p):
        KD = self.K * self.d
        W = p[:KD].reshape(self.K, self.d)
        b = p[KD:] if self.fit_intercept else np.zeros(self.K)
        return W, b

    def decision_linear(self, p):
        """Z = W X^T + a b, (K, n) in the dtype of the decision values."""
        W, b = self.split(p)
        Z = self.design.matmat(W)
        if self.fit_intercept:
            Z += (self.a * b).astype(Z.dtype)[:, None]
        return Z

    def _loss_pass(self, Z):
        """(sum_i s_i l_i in float64, G = dloss/dZ (K, n), P or None)."""
        if self.multinomial:
            return softmax_loss_grad(Z, self.codes, self.s)
        z = Z[0]
        if z.dtype == np.float64:
            loss, g = bce_with_logits_and_grad(z, self.y, weight=self.s, reduction="sum")
            return float(loss), g[None, :], None
        # the fused sum is accumulated in float64 but returned in float32:
        # sum the per-element losses in float64 instead
        losses, g = bce_with_logits_and_grad(z, self.y, weight=self.s, reduction="none")
        return float(np.sum(losses, dtype=np.float64)), g[None, :], None

    def _raw_grad(self, G):
        gW = self.design.rmatmat(G)
        if not self.fit_intercept:
            return gW.ravel()
        gb = self.a * np.sum(G, axis=1, dtype=np.float64)
        return np.concatenate([gW.ravel(), gb])

    def _finish(self, p, loss, graw):
        g = graw / self.S
        g += self.l2w * p
        f = loss / self.S + 0.5 * float(np.dot(self.l2w * p, p))
        return f, g

    def _evaluate(self, p, Z):
        loss, G, P = self._loss_pass(Z)
        f, g = self._finish(p, loss, self._raw_grad(G))
        self._state = (p.copy(), Z, P)
        return f, g

    def _state_at(self, p):
        if self._state is None or not np.array_equal(self._state[0], p):
            self.value_grad(p)
        return self._state

    # ---------------------------------------------------------- the interface

    def value_grad(self, p, hessian=False):
        """(f, grad f) at p; remembers the decision values for the second
        derivatives and line searches from p."""
        return self._evaluate(p, self.decision_linear(p))

    def objective(self, p):
        """The whole objective f + lambda_1 sum m |p| (float)."""
        f, _ = self.value_grad(p)
        return f + self.l1_value(p)

    def l1_value(self, p):
        return 0.0 if self.l1w is None else float(np.dot(self.l1w, np.abs(p)))

    def _sigmoid_weights(self, Z):
        return sigmoid_backward(Z[0], self.s if self.s is not None else 1.0)

    def hessian(self, p):
        """The Hessian of f at p (k x k, float64)."""
        _, Z, P = self._state_at(p)
        a = self.a if self.fit_intercept else None
        if not self.multinomial:
            H = self.design.gram(self._sigmoid_weights(Z), a, nonneg=True) / self.S
        else:
            K, d = self.K, self.d
            H = np.zeros((self.k, self.k))
            KD = K * d
            for c in range(K):
                for e in range(c, K):
                    w = -P[c] * P[e] if c != e else P[c] * (1 - P[c])
                    if self.s is not None:
                        w = w * self.s
                    B = self.design.gram(w, a, nonneg=c == e) / self.S
                    H[c * d:(c + 1) * d, e * d:(e + 1) * d] = B[:d, :d]
                    if a is not None:
                        H[c * d:(c + 1) * d, KD + e] = B[:d, d]
                        H[KD + c, e * d:(e + 1) * d] = B[d, :d]
                        H[KD + c, KD + e] = B[d, d]
                    if e != c:
                        H[e * d:(e + 1) * d, c * d:(c + 1) * d] = B[:d, :d].T
                        if a is not None:
                            H[e * d:(e + 1) * d, KD + c] = B[d, :d]
                            H[KD + e, c * d:(c + 1) * d] = B[:d, d]
                            H[KD + e, KD + c] = B[d, d]
        H[np.diag_indices_from(H)] += self.l2w
        return H

    def hessp(self, p):
        """v -> (Hessian of f at p) v."""
        _, Z, P = self._state_at(p)
        K, d, S = self.K, self.d, self.S
        KD = K * d
        fi, a = self.fit_intercept, self.a
        if not self.multinomial:
            h = self._sigmoid_weights(Z)

            def hv(v):
                vb = a * v[d] if fi else 0.0
                out_w, rsum = self.design.hessp_sigmoid(v[:d], vb, h)
                out = np.empty(self.k)
                out[:d] = out_w / S
                if fi:
                    out[d] = a * rsum / S
                out += self.l2w * v
                return out
            return hv
        Pw = self.design.softmax_weights(P)

        def hv(v):
            V = v[:KD].reshape(K, d)
            vb = a * v[KD:] if fi else np.zeros(K)
            out_W, rsum = self.design.hessp_softmax(V, vb, Pw, self.s)
            out = np.empty(self.k)
            out[:KD] = out_W.ravel() / S
            if fi:
                out[KD:] = a * rsum / S
            out += self.l2w * v
            return out
        return hv

    def hessian_diag(self, p):
        """The diagonal of the Hessian of f at p (for preconditioning)."""
        _, Z, P = self._state_at(p)
        if not self.multinomial:
            Hw = self._sigmoid_weights(Z)[None, :]
        else:
            Hw = P * (1 - P)
            if self.s is not None:
                Hw = Hw * self.s
        dg = self.design.sq_rmatmat(Hw).ravel()
        if self.fit_intercept:
            dg = np.concatenate([dg, self.a ** 2 * np.sum(Hw, axis=1, dtype=np.float64)])
        return dg / self.S + self.l2w

    def line(self, p, step):
        """The objective along p + t step, from the decision values at p and
        the change of them for t = 1 (one product with X for the whole line
        search)."""
        return _Line(self, p, step)

    # ---------------------------------------------------------- the subspace of the solution

    def _centred_parts(self):
        """Which blocks of a softmax model's parameters sum to 0 over the
        classes at the solution: the intercepts (unpenalized: adding a
        constant to all of them changes nothing), and the coefficients
        unless an L1 part is penalized (adding the same vector to every
        class's coefficients changes no probability, and removing their
        class-mean lowers any L2 penalty: the solution has mean 0, and is
        the one scikit-learn reports when nothing penalizes them)."""
        if not self.multinomial:
            return False, False
        return self.l1 == 0, self.fit_intercept and self.mask[-1] == 0

    def _by_class_means(self, v, keep):
        """v with each block of _centred_parts replaced: its class-mean
        removed (keep=False) or kept alone (keep=True)."""
        coef, icpt = self._centred_parts()
        if not (coef or icpt):
            return v
        v = v.copy()
        KD = self.K * self.d
        blocks = ([v[:KD].reshape(self.K, self.d)] if coef else []) + ([v[KD:, None]] if icpt else [])
        for B in blocks:
            mean = B.mean(axis=0)
            B[...] = mean if keep else B - mean
        return v

    def project(self, v):
        """v with those blocks' class-means removed (the orthogonal
        projection on the subspace that holds the solution and the
        iterates; v itself for two classes)."""
        return self._by_class_means(v, keep=False)

    def class_mean(self, v):
        """v with each of those blocks replaced by its class-mean: a
        diagonal preconditioner made so commutes with :meth:`project`."""
        return self._by_class_means(v, keep=True)

    def null_basis(self):
        """An orthonormal basis (k x m) of the directions f does not see at
        all (the class-sums of the intercepts, and of the coefficients when
        nothing penalizes them), where its Hessian is singular; or None."""
        coef, icpt = self._centred_parts()
        coef = coef and self.l2 == 0
        if not (coef or icpt):
            return None
        K, d = self.K, self.d
        cols = []
        if coef:
            for j in range(d):
                u = np.zeros(self.k)
                u[j:K * d:d] = 1 / np.sqrt(K)
                cols.append(u)
        if icpt:
            u = np.zeros(self.k)
            u[K * d:] = 1 / np.sqrt(K)
            cols.append(u)
        return np.stack(cols, axis=1)


class _Line:
    """f along p + t step for an in-memory problem: Z_t = Z + t dZ."""

    def __init__(self, prob, p, step):
        _, Z, _ = prob._state_at(p)
        self.prob, self.p, self.step, self.Z = prob, p, step, Z
        dZ = prob.decision_linear(step)
        self.dZ = dZ
        self.max_dz = float(np.max(np.abs(dZ))) if dZ.size else 0.0

    def __call__(self, t, hessian=False):
        Z_t = self.Z + self.dZ if t == 1.0 else self.Z + self.dZ.dtype.type(t) * self.dZ
        return self.prob._evaluate(self.p + t * self.step, Z_t)


# ------------------------------------------------------------------ the problem on Dask arrays
#
# A Dask X is fitted with the same solvers, the data never gathered: each
# evaluation maps every row block to its partial sums (loss, gradient, and
# when asked the Hessian, a Hessian-vector product, max |dz|), computed by
# the in-memory Problem on that block with no penalty and no scaling; Dask
# adds them in a tree and the small k-vectors are finished here.  Dask is
# imported only when an input is a Dask array.


def _dask_partials(Xb, cb, sb, p, n_classes, fit_intercept, a, penalize_intercept, hessian, v, step):
    check_finite("X", Xb)
    prob = Problem(DenseDesign(Xb), cb, sb, n_classes, fit_intercept=fit_intercept, intercept_scaling=a,
                   penalize_intercept=penalize_intercept, S=1.0)
    with np.errstate(under="ignore"):
        loss, g = prob.value_grad(p)
        out = [np.array([loss]), g]
        if hessian:
            out.append(prob.hessian(p).ravel())
        if v is not None:
            out.append(prob.hessp(p)(v))
        if step is not None:
            dz = prob.decision_linear(step)
            out.append(np.array([float(np.max(np.abs(dz))) if dz.size else 0.0]))
    return np.concatenate(out)[None, :]


class DaskProblem:
    """The objective of Problem on Dask arrays: X (rows chunked, one column
    block), codes and s aligned with X's row chunks (s None for unit
    weights), S = sum(s).  Each evaluation is one pass over the data on the
    default scheduler (a dask.distributed client when one is active)."""

    def __init__(self, X, codes, s, n_classes, S, *, fit_intercept, intercept_scaling=1.0,
                 penalize_intercept=False, l2=0.0, l1=0.0):
        self.X, self.codes, self.s = X, codes, s
        self.dtype = X.dtype
        self.n_classes = int(n_classes)
        self.K = 1 if self.n_classes == 2 else self.n_classes
        self.multinomial = self.K > 1
        self.d = X.shape[1]
        self.fit_intercept = bool(fit_intercept)
        self.a = float(intercept_scaling)
        self.penalize_intercept = bool(penalize_intercept)
        self.k = self.K * (self.d + self.fit_intercept)
        self.S = float(S)
        _set_penalty(self, penalize_intercept, l2, l1)
        self._cache = None      # (p, f, g, H or None)

    def _pass(self, p, hessian=False, v=None, step=None):
        import dask
        import dask.array as da

        k = self.k
        m = 1 + k + (k * k if hessian else 0) + (k if v is not None else 0) + (step is not None)
        s_args = (self.s, "i") if self.s is not None else (None, None)
        parts = da.blockwise(
            _dask_partials, "ik", self.X, "ij", self.codes, "i", *s_args,
            new_axes={"k": m}, adjust_chunks={"i": 1}, concatenate=True, dtype=np.float64,
            meta=np.empty((0, 0)), p=np.array(p, dtype=np.float64), n_classes=self.n_classes,
            fit_intercept=self.fit_intercept, a=self.a, penalize_intercept=self.penalize_intercept,
            hessian=hessian, v=None if v is None else np.array(v, dtype=np.float64),
            step=None if step is None else np.array(step, dtype=np.float64))
        if step is None:
            (sums,) = dask.compute(parts.sum(axis=0))
            max_dz = None
        else:
            sums, max_dz = dask.compute(parts[:, : m - 1].sum(axis=0), parts[:, m - 1].max())
            max_dz = float(max_dz)
        out = {"loss": float(sums[0]), "g": np.array(sums[1:1 + k])}
        at = 1 + k
        if hessian:
            out["H"] = sums[at:at + k * k].reshape(k, k)
            at += k * k
        if v is not None:
            out["Hv"] = np.array(sums[at:at + k])
        out["max_dz"] = max_dz
        return out

    def _finish(self, p, r):
        f = r["loss"] / self.S + 0.5 * float(np.dot(self.l2w * p, p))
        g = r["g"] / self.S + self.l2w * p
        H = None
        if "H" in r:
            H = r["H"] / self.S
            H[np.diag_indices_from(H)] += self.l2w
        self._cache = (np.array(p, copy=True), f, g, H)
        return f, g

    def value_grad(self, p, hessian=False):
        return self._finish(p, self._pass(p, hessian=hessian))

    def objective(self, p):
        f, _ = self.value_grad(p)
        return f + self.l1_value(p)

    l1_value = Problem.l1_value
    project = Problem.project
    class_mean = Problem.class_mean
    _by_class_means = Problem._by_class_means
    null_basis = Problem.null_basis
    _centred_parts = Problem._centred_parts

    def hessian(self, p):
        c = self._cache
        if c is not None and c[3] is not None and np.array_equal(c[0], p):
            return c[3]
        self.value_grad(p, hessian=True)
        return self._cache[3]

    def hessp(self, p):
        def hv(v):
            return self._pass(p, v=v)["Hv"] / self.S + self.l2w * v
        return hv

    def hessian_diag(self, p):
        return np.diag(self.hessian(p)).copy()

    def line(self, p, step):
        return _DaskLine(self, p, step)


class _DaskLine:
    """f along p + t step: one pass per trial t (which also gives max |dz|
    on the first, and the Hessian at t when asked)."""

    def __init__(self, prob, p, step):
        self.prob, self.p, self.step = prob, p, step
        self.max_dz = None

    def __call__(self, t, hessian=False):
        p_t = self.p + t * self.step
        r = self.prob._pass(p_t, hessian=hessian, step=self.step if self.max_dz is None else None)
        if r["max_dz"] is not None:
            self.max_dz = r["max_dz"]
        return self.prob._finish(p_t, r)
