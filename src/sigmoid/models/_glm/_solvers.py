"""The solvers of penalized logistic regression, each written once against
the interface of :mod:`._problem` (so each runs on dense, CSR and Dask data,
for two classes or a softmax):

* :func:`newton_cholesky`: Newton's method with the exact Hessian, solved by
  Cholesky, a backtracking line search and Hessian reuse;
* :func:`newton_cg`: truncated Newton, conjugate gradients on Hessian-vector
  products with a diagonal preconditioner;
* :func:`lbfgs`: SciPy's L-BFGS-B;
* :func:`owlqn`: orthant-wise L-BFGS (Andrew and Gao, 2007) for an L1 or
  elastic-net penalty, whose iterates are exactly 0 where the solution is;
* :func:`prox_newton`: proximal Newton for an L1 or elastic-net penalty,
  coordinate descent on the quadratic model with the exact L1 term, for
  problems whose Hessian fits in memory.

Each takes ``(prob, p, tol, max_iter, progress, history)`` and returns a
:class:`Result`; none of them warns (the estimator does, in scikit-learn's
words for the solver the user named).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from . import _cd

# Newton keeps its Hessian while no decision value has moved by more than
# this since it was formed (see newton_cholesky): the kept Hessian is then
# within a factor exp(+-0.1) of the current one, and its step contracts the
# error by expm1(0.1) = 0.105 or better
_REUSE_DRIFT = 0.1
# Armijo's constant of sufficient decrease
_ARMIJO = 1e-4
_MAX_HALVINGS = 50


@dataclass
class Result:
    """What a solver returns: the parameters, the iterations run, "converged"
    or the reason it stopped, the objective there (with its L1 part) and the
    largest component of the (pseudo-)gradient."""

    p: np.ndarray
    n_iter: int
    status: str
    objective: float
    grad_max: float

    @property
    def converged(self) -> bool:
        return self.status == "converged"


def _eps(prob):
    return float(np.finfo(prob.dtype).eps)


def _rounding_level(f_new, f, t, eps):
    """A full step whose increase of f is below the rounding of f: near the
    optimum the decrease of a good step can be smaller than that."""
    return t == 1.0 and f_new - f <= 16 * eps * abs(f)


def _stopped(p, n_iter, max_iter, f, gmax, tol, what="gradient"):
    return Result(p, n_iter, f"max_iter={max_iter} reached (max |{what}| = {gmax:.3g}, tol = {tol:.3g})", f, gmax)


def _failed(p, n_iter, f, gmax, tol, what="gradient"):
    if gmax <= tol:
        return Result(p, n_iter, "converged", f, gmax)
    return Result(p, n_iter, f"the line search found no decrease (max |{what}| = {gmax:.3g}, tol = {tol:.3g})",
                  f, gmax)


def _backtrack(line, f, slope, eps, hessian=False):
    """Backtracking along a line of the problem from t = 1, halving: the
    first t that meets Armijo's sufficient decrease f(t) <= f + c t slope,
    or a full step whose change of f is at rounding level.  Returns
    (t, f(t), grad f(t)), or None after `_MAX_HALVINGS` halvings."""
    t = 1.0
    for _ in range(_MAX_HALVINGS):
        f_t, g_t = line(t, hessian=hessian)
        if f_t <= f + _ARMIJO * t * slope or _rounding_level(f_t, f, t, eps):
            return t, f_t, g_t
        t *= 0.5
    return None


# ------------------------------------------------------------------ Newton with Cholesky


def newton_step(H, grad, basis=None):
    """-H^-1 grad, with H made positive definite by the smallest added
    multiple of the identity that lets Cholesky succeed (none in the usual
    case: the penalty makes the Hessian positive definite in the
    coefficients; only an intercept's row can vanish, when every sample is
    classified with certainty).  Along the orthonormal columns of `basis`
    (directions the objective does not see, where H is singular and the
    gradient has no component) a multiple of ``basis basis^T`` is added, so
    the step has no component there either."""
    k = H.shape[0]
    if k == 0:
        return np.zeros(0)
    scale = max(1.0, float(np.max(np.abs(np.diag(H)))))
    if basis is not None:
        H = H + scale * (basis @ basis.T)
    for jitter in (0.0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0):
        A = H if jitter == 0.0 else H + (jitter * scale) * np.eye(k)
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            continue
        y = np.linalg.solve(L, -grad)
        return np.linalg.solve(L.T, y)
    return -grad / scale


def newton_cholesky(prob, p, tol, max_iter, progress, history):
    """Newton's method with backtracking (Armijo) line search; converged when
    max |grad f| <= tol and half the squared Newton decrement g . H^-1 g is
    <= tol at the current point (the criteria of scikit-learn's
    newton-cholesky).  The Newton step computed for that check is then taken
    too (one more evaluation, not counted in n_iter) when it does not
    increase f: near the optimum it cuts the error quadratically, so the
    answer is far more accurate than the criteria promise.

    The Hessian is the expensive part (n k^2 / 2 multiply-adds).  It is kept
    from one iteration to the next while the decision values have moved by
    at most `_REUSE_DRIFT` since it was formed: each weight
    h_i = s_i sigma(z_i) sigma(-z_i) then changed by a factor within
    exp(+-drift) (|d log sigma'(z) / dz| <= 1; for a softmax the weights
    P_a (delta_ab - P_b) move by at most twice the largest change of a
    score), so the kept matrix is within that factor of the current one in
    every direction, and the step it gives contracts the error by about
    expm1(drift) or better: as fast as a fresh Newton step this close to the
    optimum, for a fraction of the cost.  After a step whose decrement was
    within `tol`, the kept Hessian is tried first for the convergence check
    (a fresh one is formed only if the check fails).  On Dask data each
    trial point of the line search is one pass that also gives the Hessian
    there when it will be needed."""
    f, g = prob.value_grad(p, hessian=True)
    eps = _eps(prob)
    basis = prob.null_basis()
    drift_per_dz = 2.0 if prob.multinomial else 1.0
    n_iter = 0
    H, drift, fresh = prob.hessian(p), 0.0, True
    while True:
        gmax = float(np.max(np.abs(g)))
        history.record(n_iter, objective=f, grad_max=gmax)
        step = prob.project(newton_step(H, g, basis))
        slope = float(g @ step)     # directional derivative, < 0
        if not fresh and drift > _REUSE_DRIFT and not (gmax <= tol and -0.5 * slope <= tol):
            # a Hessian kept only to confirm convergence, which it does not: form it here
            H, drift, fresh = prob.hessian(p), 0.0, True
            step = prob.project(newton_step(H, g, basis))
            slope = float(g @ step)
        if gmax <= tol and -0.5 * slope <= tol:
            if slope < 0:
                f_t, g_t = prob.line(p, step)(1.0)
                if f_t <= f + 16 * eps * abs(f):
                    p = p + step
            return Result(p, n_iter, "converged", f, gmax)
        if n_iter >= max_iter:
            return _stopped(p, n_iter, max_iter, f, gmax, tol)
        if not slope < 0:
            return _failed(p, n_iter, f, gmax, tol)
        half_dec = -0.5 * slope
        line = prob.line(p, step)
        # on Dask, the Hessian at the trial point comes with it when it is
        # likely to be wanted: a large decrement means a fresh one
        found = _backtrack(line, f, slope, eps, hessian=half_dec > tol)
        if found is None:
            return _failed(p, n_iter, f, gmax, tol)
        t, f_t, g_t = found
        p, f, g = p + t * step, f_t, g_t
        drift += t * drift_per_dz * line.max_dz
        n_iter += 1
        progress.update(1, objective=f, grad=gmax)
        if drift <= _REUSE_DRIFT or half_dec <= tol:
            fresh = False       # keep H: close enough, or only needed to confirm convergence
        else:
            H, drift, fresh = prob.hessian(p), 0.0, True


# ------------------------------------------------------------------ truncated Newton


def _pcg(hv, b, Minv, project, atol, maxiter):
    """Preconditioned conjugate gradients for H x = b from x = 0, stopped
    when sum |r| <= atol (scikit-learn's newton-cg criterion), after
    `maxiter` products, or at a direction of (almost) no curvature: where
    q . H q <= 1e-12 q . M q, M the diagonal preconditioner (H's diagonal),
    H is singular to working accuracy along q, and a step along it would be
    unbounded.  The preconditioner is diag(Minv) followed by `project`, so
    that every direction stays in the subspace of the solution.  Returns
    (x, products)."""
    x = np.zeros_like(b)
    r = b.copy()
    z = project(r * Minv)
    q = z.copy()
    rz = float(r @ z)
    used = 0
    M = np.where(Minv > 0, 1.0 / np.where(Minv > 0, Minv, 1.0), 0.0)
    while used < maxiter and float(np.sum(np.abs(r))) > atol:
        Hq = hv(q)
        used += 1
        curv = float(q @ Hq)
        if not curv > 1e-12 * float(q @ (M * q)):
            if used == 1:
                x = z          # no curvature at all: the preconditioned gradient
            break
        alpha = rz / curv
        x += alpha * q
        r -= alpha * Hq
        z = project(r * Minv)
        rz_new = float(r @ z)
        q = z + (rz_new / rz) * q
        rz = rz_new
    return x, used


def newton_cg(prob, p, tol, max_iter, progress, history, max_inner=200):
    """Truncated Newton: each step solves H s = -g by conjugate gradients on
    Hessian-vector products (two passes over X each, one on CSR data), to
    the relative accuracy min(0.5, sqrt(max |g|)) in the 1-norm as
    scikit-learn's newton-cg, preconditioned by the diagonal of H, then a
    backtracking line search.  Converged when max |grad f| <= tol.  Records
    ``cg_iterations`` in the history."""
    f, g = prob.value_grad(p)
    eps = _eps(prob)
    n_iter = 0
    used = 0            # conjugate-gradient products of the step that led here
    while True:
        gmax = float(np.max(np.abs(g)))
        history.record(n_iter, objective=f, grad_max=gmax, cg_iterations=used)
        if gmax <= tol:
            return Result(p, n_iter, "converged", f, gmax)
        if n_iter >= max_iter:
            return _stopped(p, n_iter, max_iter, f, gmax, tol)
        hv = prob.hessp(p)
        dg = prob.class_mean(prob.hessian_diag(p))
        Minv = np.where(dg > 0, 1.0 / np.where(dg > 0, dg, 1.0), 1.0)
        eta = min(0.5, np.sqrt(gmax))
        step, used = _pcg(hv, -g, Minv, prob.project, eta * float(np.sum(np.abs(g))), max_inner)
        slope = float(g @ step)
        if not slope < 0:
            step, slope = -g, -float(g @ g)
        found = _backtrack(prob.line(p, step), f, slope, eps)
        if found is None:
            return _failed(p, n_iter, f, gmax, tol)
        t, f_t, g_t = found
        p, f, g = p + t * step, f_t, g_t
        n_iter += 1
        progress.update(1, objective=f, grad=gmax)


# ------------------------------------------------------------------ L-BFGS (SciPy)


def lbfgs(prob, p, tol, max_iter, progress, history):
    """SciPy's L-BFGS-B on f with scikit-learn's settings (gtol=tol on the
    max |gradient|, up to 50 line-search steps) except ftol: eps, where
    scikit-learn's 64 eps stops the iterations at about 1e-6 relative error
    on ill-conditioned data whatever `tol` asks.  Each evaluation is one
    pass of the loss and two products with X."""
    try:
        from scipy.optimize import minimize
    except ImportError as exc:  # pragma: no cover - scipy is an extra
        raise ImportError("LogisticRegression(solver='lbfgs') needs SciPy (pip install scipy); "
                          "solver='newton-cholesky' and 'newton-cg' need NumPy only") from exc

    def fun(q):
        return prob.value_grad(q)

    def callback(intermediate_result):
        f = getattr(intermediate_result, "fun", None)
        if f is not None:
            history.record(len(history.steps), objective=f)
            progress.update(1, objective=f)
        else:  # pragma: no cover - SciPy < 1.11 passes the point
            progress.update(1)

    res = minimize(fun, p, method="L-BFGS-B", jac=True, callback=callback,
                   options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": np.finfo(float).eps})
    x = np.asarray(res.x, dtype=np.float64)
    gmax = float(np.max(np.abs(res.jac))) if np.size(res.jac) else 0.0
    n_iter = min(int(res.nit), max_iter)
    status = "converged" if res.success else f"L-BFGS-B stopped (status={res.status}): {res.message}"
    return Result(prob.project(x), n_iter, status, float(res.fun), gmax)


# ------------------------------------------------------------------ OWL-QN


def pseudo_gradient(p, g, l1w):
    """The minimum-norm subgradient of f + sum l1w |p| (zero where 0 is a
    subgradient): the steepest-descent direction's negative, 0 exactly at
    the optimum."""
    pg = g.copy()
    if l1w is None:
        return pg
    pos, neg, zero = p > 0, p < 0, p == 0
    pg[pos] += l1w[pos]
    pg[neg] -= l1w[neg]
    gz, wz = g[zero], l1w[zero]
    pg[zero] = np.where(gz + wz < 0, gz + wz, np.where(gz - wz > 0, gz - wz, 0.0))
    return pg


def _two_loop(v, S, Y):
    """L-BFGS's product of the inverse-Hessian approximation with v."""
    q = v.copy()
    alphas = []
    for s, y, rho in reversed(list(zip(S, Y, (1.0 / float(y @ s) for s, y in zip(S, Y))))):
        a = rho * float(s @ q)
        alphas.append((a, rho, s, y))
        q -= a * y
    if S:
        s, y = S[-1], Y[-1]
        q *= float(s @ y) / float(y @ y)
    for a, rho, s, y in reversed(alphas):
        b = rho * float(y @ q)
        q += (a - b) * s
    return q


def owlqn(prob, p, tol, max_iter, progress, history, memory=10):
    """Orthant-wise limited-memory quasi-Newton (Andrew and Gao, "Scalable
    training of L1-regularized log-linear models", ICML 2007) on
    f + sum l1w |p|: L-BFGS directions from the pseudo-gradient, kept in
    the orthant of the current point (a coordinate that would change sign
    stops at exactly 0), with a backtracking line search on the whole
    objective.  Converged when the largest component of the
    pseudo-gradient is <= tol.  With no L1 part it is plain L-BFGS."""
    l1w = prob.l1w
    eps = _eps(prob)
    S, Y = deque(maxlen=memory), deque(maxlen=memory)
    f, g = prob.value_grad(p)
    F = f + prob.l1_value(p)
    n_iter = 0
    restarted = False
    penalized = (l1w > 0) if l1w is not None else np.zeros(p.size, dtype=bool)
    while True:
        pg = pseudo_gradient(p, g, l1w)
        pgmax = float(np.max(np.abs(pg))) if pg.size else 0.0
        history.record(n_iter, objective=F, grad_max=pgmax)
        if pgmax <= tol:
            return Result(p, n_iter, "converged", F, pgmax)
        if n_iter >= max_iter:
            return _stopped(p, n_iter, max_iter, F, pgmax, tol, "pseudo-gradient")
        d = -_two_loop(pg, S, Y)
        d[penalized & (d * pg >= 0)] = 0.0    # an L1 coordinate moves only against its pseudo-gradient
        d = prob.project(d)
        if not float(d @ pg) < 0:
            d = -pg
        orthant = np.where(p != 0, np.sign(p), -np.sign(pg))
        t = 1.0 if S else min(1.0, 1.0 / max(float(np.sum(np.abs(pg))), 1e-300))
        for _ in range(_MAX_HALVINGS):
            p_t = p + t * d
            cross = penalized & (p_t * orthant <= 0)
            p_t[cross] = 0.0
            f_t, g_t = prob.value_grad(p_t)
            F_t = f_t + prob.l1_value(p_t)
            if F_t <= F + _ARMIJO * float(pg @ (p_t - p)) or _rounding_level(F_t, F, t, eps):
                break
            t *= 0.5
        else:
            if S and not restarted:     # a stale memory: start again from steepest descent
                S.clear()
                Y.clear()
                restarted = True
                continue
            return _failed(p, n_iter, F, pgmax, tol, "pseudo-gradient")
        restarted = False
        s, y = p_t - p, g_t - g
        if float(s @ y) > 1e-10 * float(np.sqrt((s @ s) * (y @ y))):
            S.append(s)
            Y.append(y)
        p, f, g, F = p_t, f_t, g_t, F_t
        n_iter += 1
        progress.update(1, objective=F, grad=pgmax)


# ------------------------------------------------------------------ proximal Newton


class _Centring:
    """The change of coordinates to centred features: with mu the column
    means of X, x . w + a b = (x - mu) . w + a b' for b' = b + mu . w / a.
    The objective and the L1 term (on w only) are the same in (w, b'), but
    its Hessian there is far better conditioned when features sit far from
    0 (X ~ 100 + noise makes the intercept's column and the features' nearly
    parallel), which coordinate descent needs: Newton's step is the same in
    any coordinates, coordinate descent's is not.  p = T p' with T = I + N,
    N sending each class's w to -mu . w / a in its intercept (N^2 = 0, so
    T^-1 = I - N); the Hessian becomes T^T H T, the gradient T^T g, in
    O(K k^2).  The identity when there is no unpenalized intercept or the
    data are Dask arrays (whose means would cost a pass)."""

    def __init__(self, prob):
        self.on = bool(prob.fit_intercept and prob.mask[-1] == 0 and hasattr(prob, "design"))
        if not self.on:
            return
        X = prob.design.X
        mu = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        K, d, k = prob.K, prob.d, prob.k
        self.b = K * d + np.arange(K)                   # where the intercepts sit
        self.N = np.zeros((k, K))                      # column c: -mu / a at class c's coefficients
        for c in range(K):
            self.N[c * d:(c + 1) * d, c] = -mu / prob.a

    def to_centred(self, p):
        if not self.on:
            return p
        q = p.copy()
        q[self.b] -= self.N.T @ p
        return q

    def step(self, dc):
        if not self.on:
            return dc
        d = dc.copy()
        d[self.b] += self.N.T @ dc
        return d

    def gradient(self, g):
        return g if not self.on else g + self.N @ g[self.b]

    def hessian(self, H):
        if not self.on:
            return H
        HB = H[:, self.b]                               # H N = HB N^T
        HN = HB @ self.N.T
        return H + HN + HN.T + self.N @ (H[np.ix_(self.b, self.b)] @ self.N.T)


def prox_newton(prob, p, tol, max_iter, progress, history):
    """Proximal Newton for f + sum l1w |p| with the exact Hessian (Lee, Sun
    and Saunders, "Proximal Newton-type methods for minimizing composite
    functions", SIAM J. Optim. 2014; the method of newGLMNET, Yuan, Ho and
    Lin 2012): each direction minimizes the quadratic model of f plus the
    exact L1 term, by coordinate descent (``_cd.cd_quadratic``, in C), so the
    model's zeros are exact; a backtracking line search on the whole
    objective (Armijo's condition with the model's predicted decrease)
    follows.  The model handles what a Newton step on a fixed orthant
    cannot: directions where f is flat and only the L1 term decides (a
    softmax model's class-sums, collinear features).  For up to a few
    hundred parameters (the Hessian is formed, k x k).

    Converged when max |pseudo-gradient| <= tol and the decrease the model
    predicts is <= tol; the step computed at that point is taken too when
    it lowers the objective (not counted in n_iter)."""
    l1w = prob.l1w if prob.l1w is not None else np.zeros(p.size)
    eps = _eps(prob)
    f, g = prob.value_grad(p, hessian=True)
    F = f + prob.l1_value(p)
    n_iter = 0
    inner = 0.1
    shift = _Centring(prob)
    while True:
        pg = pseudo_gradient(p, g, l1w)
        pgmax = float(np.max(np.abs(pg))) if pg.size else 0.0
        history.record(n_iter, objective=F, grad_max=pgmax)
        # the model in centred coordinates (see _Centring), solved there
        Hc, gc, pc = shift.hessian(prob.hessian(p)), shift.gradient(g), shift.to_centred(p)
        x = pc.copy()
        _cd.cd_quadratic(np.ascontiguousarray(Hc), gc, pc, l1w, x, max(min(inner * pgmax, 1e-2), 1e-2 * tol),
                         100_000)
        d = prob.project(shift.step(x - pc))
        decrease = float(g @ d) + float(l1w @ (np.abs(p + d) - np.abs(p)))   # predicted by the model, < 0
        converged = pgmax <= tol and -decrease <= tol
        if n_iter >= max_iter and not converged:
            return _stopped(p, n_iter, max_iter, F, pgmax, tol, "pseudo-gradient")
        if not decrease < 0:
            if converged or pgmax == 0:
                return Result(p, n_iter, "converged", F, pgmax)
            inner *= 0.1      # the inner solve was too rough to descend: tighten it
            if inner < 1e-12:
                return _failed(p, n_iter, F, pgmax, tol, "pseudo-gradient")
            continue
        t = 1.0
        for _ in range(_MAX_HALVINGS):
            p_t = p + t * d
            f_t, g_t = prob.value_grad(p_t)
            F_t = f_t + prob.l1_value(p_t)
            if F_t <= F + _ARMIJO * t * decrease or _rounding_level(F_t, F, t, eps):
                break
            t *= 0.5
        else:
            if converged:
                return Result(p, n_iter, "converged", F, pgmax)
            return _failed(p, n_iter, F, pgmax, tol, "pseudo-gradient")
        if converged:
            if t == 1.0 and F_t <= F:
                p, F = p_t, F_t
            return Result(p, n_iter, "converged", F, pgmax)
        p, f, g, F = p_t, f_t, g_t, F_t
        n_iter += 1
        progress.update(1, objective=F, grad=pgmax)
