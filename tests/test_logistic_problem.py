"""sigmoid.models._glm: the CSR kernels, the fused softmax pass, the problem's
derivatives and the solvers' building blocks, each against an independent
reference (dense NumPy products, mpmath, central differences, the
definitions)."""
import mpmath as mp
import numpy as np
import pytest

import sigmoid
from sigmoid import log_softmax
from sigmoid.models._glm import _csr, _solvers
from sigmoid.models._glm._checks import as_csr
from sigmoid.models._glm._problem import CSRDesign, DaskProblem, DenseDesign, Problem, softmax_loss_grad

sparse = pytest.importorskip("scipy.sparse")  # a test dependency; the kernels take scipy's arrays


def _csr_matrix(n=40, d=25, density=0.2, dtype=np.float64, index=np.int32, seed=0, duplicates=False):
    """A random CSR matrix with empty rows (and repeated entries when
    `duplicates`, which scipy sums), and its dense float64 twin."""
    rng = np.random.default_rng(seed)
    A = sparse.random(n, d, density=density, format="coo", random_state=rng, dtype=np.float64)
    rows, cols, vals = A.row, A.col, A.data * rng.choice([-3.0, 1.0, 2.5], size=A.nnz)
    if duplicates:
        rows, cols, vals = np.r_[rows, rows[:7]], np.r_[cols, cols[:7]], np.r_[vals, vals[:7] * 0.5]
    keep = rows % 7 != 3                       # some empty rows
    X = sparse.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n, d))
    if duplicates:                             # undo the summing done by the constructor
        order = np.argsort(rows[keep], kind="stable")
        r, c, v = rows[keep][order], cols[keep][order], vals[keep][order]
        indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=n))]
        X = sparse.csr_matrix((v, c, indptr), shape=(n, d))
        assert not X.has_canonical_format
    X = sparse.csr_matrix((X.data.astype(dtype), X.indices.astype(index), X.indptr.astype(index)), shape=(n, d))
    dense = np.zeros((n, d))
    for i in range(n):                         # summed by hand: the reference does not rely on scipy
        for q in range(X.indptr[i], X.indptr[i + 1]):
            dense[i, X.indices[q]] += float(X.data[q])
    return X, dense


# ---------------------------------------------------------------- the CSR kernels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("duplicates", [False, True])
def test_csr_kernels_match_dense_products(dtype, index, K, duplicates):
    X, D = _csr_matrix(dtype=dtype, index=index, duplicates=duplicates)
    n, d = D.shape
    rng = np.random.default_rng(1)
    V = rng.standard_normal((d, K))
    G = rng.standard_normal((n, K))
    args = (X.data, X.indices, X.indptr, d)

    out = np.empty((n, K))
    _csr.matvec(*args, 0, n, V, K, out)
    np.testing.assert_allclose(out, D @ V, rtol=1e-13, atol=1e-13)
    part = np.empty((n - 10, K))
    _csr.matvec(*args, 5, n - 5, V, K, part)   # a range of rows
    np.testing.assert_allclose(part, (D @ V)[5:n - 5], rtol=1e-13, atol=1e-13)

    acc = np.zeros((d, K))
    _csr.rmatvec(*args, 0, n, G, K, acc)
    np.testing.assert_allclose(acc, D.T @ G, rtol=1e-13, atol=1e-13)
    if not duplicates:      # squares of stored values: canonical matrices only (as_csr makes them so)
        acc = np.zeros((d, K))
        _csr.sq_rmatvec(*args, 0, n, G, K, acc)
        np.testing.assert_allclose(acc, (D * D).T @ G, rtol=1e-13, atol=1e-13)

    h = rng.uniform(0, 1, n)
    if K == 1:
        v = V[:, 0].copy()
        acc = np.zeros(d)
        rsum = _csr.hessp(*args, 0, n, v, 0.7, h, acc)
        u = h * (D @ v + 0.7)
        np.testing.assert_allclose(acc, D.T @ u, rtol=1e-13, atol=1e-13)
        assert rsum == pytest.approx(u.sum(), rel=1e-13, abs=1e-13)
    P = rng.dirichlet(np.ones(K), size=n)
    s = rng.uniform(0, 2, n)
    vb = rng.standard_normal(K)
    acc, rs = np.zeros((d, K)), np.zeros(K)
    _csr.hessp_softmax(*args, 0, n, V, vb, P, s, K, acc, rs)
    U = D @ V + vb
    R = s[:, None] * P * (U - np.sum(P * U, axis=1, keepdims=True))
    np.testing.assert_allclose(acc, D.T @ R, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rs, R.sum(axis=0), rtol=1e-12, atol=1e-12)


def test_csr_kernels_check_their_arguments():
    X, _ = _csr_matrix()
    n, d = X.shape
    out = np.empty((n, 1))
    with pytest.raises(TypeError, match="data must be float32/float64"):
        _csr.matvec(X.data.astype(np.float16), X.indices, X.indptr, d, 0, n, np.ones(d), 1, out)
    with pytest.raises(TypeError, match="both int32 or both int64"):
        _csr.matvec(X.data, X.indices.astype(np.int64), X.indptr, d, 0, n, np.ones(d), 1, out)
    with pytest.raises(ValueError, match="row range"):
        _csr.matvec(X.data, X.indices, X.indptr, d, 0, n + 1, np.ones(d), 1, out)
    with pytest.raises(ValueError, match="V has 24 elements"):
        _csr.matvec(X.data, X.indices, X.indptr, d, 0, n, np.ones(d - 1), 1, out)
    with pytest.raises(TypeError, match="out must be a C-contiguous float64"):
        _csr.matvec(X.data, X.indices, X.indptr, d, 0, n, np.ones(d), 1, np.empty((n, 1), np.float32))


def test_as_csr_validates_once():
    X, _ = _csr_matrix()
    bad = X.copy()
    bad.indices[3] = X.shape[1]
    with pytest.raises(ValueError, match="column index outside"):
        as_csr(bad, "LogisticRegression")
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        as_csr(bad, "LogisticRegression")
    assert as_csr(X, "LogisticRegression") is X                       # valid CSR: used as it is
    Xdup, D = _csr_matrix(duplicates=True)
    got = as_csr(Xdup, "LogisticRegression")
    assert got.has_canonical_format and not Xdup.has_canonical_format  # summed on a copy
    np.testing.assert_array_equal(got.toarray(), D)
    got = as_csr(X.tocsc(), "LogisticRegression")                      # other formats: converted once
    assert got.format == "csr" and got.dtype == np.float64
    assert as_csr(sparse.csr_matrix(X, dtype=np.float32), "LR").dtype == np.float32
    assert as_csr(sparse.csr_matrix(X, dtype=np.int64), "LR").dtype == np.float64


@pytest.mark.parametrize("K", [1, 4])
def test_csr_design_threads_agree(threads, K):
    """The rows split between threads give the products of one thread (the
    partial sums are added in another order: equal to rounding)."""
    X, D = _csr_matrix(n=3000, d=200, density=0.1, seed=3)
    rng = np.random.default_rng(4)
    W, G = rng.standard_normal((K, 200)), rng.standard_normal((K, 3000))
    sigmoid.set_num_threads(1)
    one = CSRDesign(X)
    sigmoid.set_num_threads(2)
    import sigmoid.models._glm._problem as problem

    old = problem._CSR_NNZ_PER_THREAD
    problem._CSR_NNZ_PER_THREAD = 1000
    try:
        two = CSRDesign(X)
    finally:
        problem._CSR_NNZ_PER_THREAD = old
    assert len(one.ranges) == 1 and len(two.ranges) == 2
    for design in (one, two):
        np.testing.assert_allclose(design.matmat(W), W @ D.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(design.rmatmat(G), G @ D, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the fused softmax pass

mp.mp.dps = 60


def _mp_loss_grad(z, y):
    """log sum_k e^z_k - z_y and softmax(z) - onehot(y), at 60 digits."""
    zz = [mp.mpf(float(v)) for v in z]
    m = max(zz)
    lse = m + mp.log(mp.fsum(mp.exp(v - m) for v in zz))
    p = [mp.exp(v - lse) for v in zz]
    return lse - zz[y], [p[k] - (1 if k == y else 0) for k in range(len(zz))]


_CASES = [
    ([0.5, -1.0, 2.0], 2),
    ([0.5, -1.0, 2.0], 1),
    ([40.0, 0.0, -10.0], 0),          # the true class far ahead: loss ~ 4e-18, below the rounding of 1
    ([745.0, 0.0, 1.0], 0),           # e^-745 of the others: subnormal terms
    ([0.0, 800.0, -3.0], 0),          # the true class 800 behind: loss ~ 800
    ([3.0, 3.0, -1.0], 0),            # a tie for the largest score
    ([3.0, 3.0, 3.0], 2),             # all equal: log 3
    ([1e-20, 0.0, -1e-20], 1),        # scores closer than the rounding of 1
    ([-1e300, 1e300, 0.0], 0),        # spreads beyond the float range: the loss is 2e300
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_pass_against_mpmath(dtype):
    eps = float(np.finfo(dtype).eps)
    for z, y in _CASES:
        if dtype == np.float32 and max(abs(v) for v in z) > 1e30:
            continue
        Z = np.array(z, dtype=dtype)[:, None]
        with np.errstate(under="ignore"):
            loss, G, P = softmax_loss_grad(Z, np.array([y]), None)
        want_loss, want_g = _mp_loss_grad(Z[:, 0], y)
        assert G.dtype == dtype and P.dtype == dtype
        # the loss to a few roundings of the dtype, relative, even where it is 1e-18
        assert abs(loss - float(want_loss)) <= 4 * eps * float(want_loss) + 1e-300, (z, y, loss, want_loss)
        for k in range(3):
            w = float(want_g[k])
            assert abs(float(G[k, 0]) - w) <= 4 * eps * abs(w) + 1e-300 * (w == 0) or \
                (abs(w) < float(np.finfo(dtype).tiny) and abs(float(G[k, 0])) < float(np.finfo(dtype).tiny)), \
                (z, y, k, G[k, 0], w)
        np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=4 * eps)


def test_softmax_pass_where_a_naive_one_fails():
    """The case that makes the split into n_max and t necessary: the loss of
    a sample classified with certainty is e^-40 ~ 4e-18, which log of the
    rounded sum 1 + 4e-18 gives as 0."""
    Z = np.array([[40.0], [0.0], [-10.0]])
    naive = float(np.log(np.sum(np.exp(Z[:, 0] - 40.0))))
    loss, G, _ = softmax_loss_grad(Z, np.array([0]), None)
    want, want_g = _mp_loss_grad(Z[:, 0], 0)
    assert naive == 0.0 and float(want) > 0
    assert loss == pytest.approx(float(want), rel=1e-15)
    assert float(G[0, 0]) == pytest.approx(float(want_g[0]), rel=1e-15)   # not 1 - 1 = 0


def test_softmax_pass_matches_log_softmax_and_weights():
    """Consistent with this library's exact log_softmax (the pass is its
    decomposition, faster), and the weights multiply loss and gradient."""
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((6, 500)) * 8
    codes = rng.integers(0, 6, 500)
    s = rng.uniform(0, 3, 500)
    with np.errstate(under="ignore"):
        loss, G, P = softmax_loss_grad(Z, codes, s)
        ls = log_softmax(Z, axis=0)
    per = -ls[codes, np.arange(500)]
    assert loss == pytest.approx(float(np.sum(s * per)), rel=1e-14)
    Y = np.zeros_like(Z)
    Y[codes, np.arange(500)] = 1
    np.testing.assert_allclose(G, s * (np.exp(ls) - Y), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(P, np.exp(ls), rtol=1e-13, atol=1e-300)


# ---------------------------------------------------------------- the problem's derivatives


def _problem(kind, n_classes, fit_intercept=True, liblinear=False, l1=0.0, l2=1e-2, weights=True, seed=0):
    rng = np.random.default_rng(seed)
    n, d = 60, 5
    Xd = rng.standard_normal((n, d))
    Xd[rng.random((n, d)) < 0.3] = 0.0
    codes = rng.integers(0, n_classes, n)
    s = rng.uniform(0.2, 2.0, n) if weights else None
    X = sparse.csr_matrix(Xd) if kind == "csr" else Xd
    design = CSRDesign(X) if kind == "csr" else DenseDesign(X)
    return Problem(design, codes, s, n_classes, fit_intercept=fit_intercept,
                   intercept_scaling=3.0 if liblinear else 1.0, penalize_intercept=liblinear, l2=l2, l1=l1), rng


CONFIGS = [(kind, K, fi, lib) for kind in ("dense", "csr") for K in (2, 4) for fi in (True, False)
           for lib in (False, True) if not (lib and (K > 2 or not fi))]


@pytest.mark.parametrize("kind, K, fit_intercept, liblinear", CONFIGS)
def test_derivatives_by_central_differences(kind, K, fit_intercept, liblinear):
    prob, rng = _problem(kind, K, fit_intercept, liblinear)
    p = rng.standard_normal(prob.k) * 0.7
    f, g = prob.value_grad(p)
    h = 1e-6
    E = np.eye(prob.k)
    num_g = np.array([(prob.value_grad(p + h * e)[0] - prob.value_grad(p - h * e)[0]) / (2 * h) for e in E])
    np.testing.assert_allclose(g, num_g, rtol=1e-6, atol=1e-8)
    prob.value_grad(p)
    H = prob.hessian(p)
    num_H = np.stack([(prob.value_grad(p + h * e)[1] - prob.value_grad(p - h * e)[1]) / (2 * h) for e in E])
    np.testing.assert_allclose(H, num_H, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-14)
    prob.value_grad(p)
    v = rng.standard_normal(prob.k)
    np.testing.assert_allclose(prob.hessp(p)(v), H @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(prob.hessian_diag(p), np.diag(H), rtol=1e-10, atol=1e-13)
    # along a line: the same values as at the points
    step = rng.standard_normal(prob.k)
    line = prob.line(p, step)
    f_t, g_t = line(0.375)
    f_p, g_p = prob.value_grad(p + 0.375 * step)
    assert f_t == pytest.approx(f_p, rel=1e-13)
    np.testing.assert_allclose(g_t, g_p, rtol=1e-11, atol=1e-14)


def test_objective_is_scikit_learn_s():
    """f is scikit-learn's objective divided by C S: written out here with
    NumPy's logaddexp."""
    prob, rng = _problem("dense", 2, l2=0.03, l1=0.02)
    p = rng.standard_normal(prob.k)
    X, y, s = prob.design.X, prob.codes, prob.s
    z = X @ p[:-1] + p[-1]
    want = np.sum(s * (np.logaddexp(0, z) - y * z)) / s.sum() + 0.015 * p[:-1] @ p[:-1]
    assert prob.value_grad(p)[0] == pytest.approx(want, rel=1e-13)
    assert prob.objective(p) == pytest.approx(want + 0.02 * np.abs(p[:-1]).sum(), rel=1e-13)


def test_subspace_of_the_solution():
    prob, rng = _problem("dense", 4, l2=0.0)
    B = prob.null_basis()
    assert B.shape == (prob.k, prob.d + 1)
    np.testing.assert_allclose(B.T @ B, np.eye(prob.d + 1), atol=1e-14)
    p = rng.standard_normal(prob.k)
    prob.value_grad(p)
    H = prob.hessian(p)
    np.testing.assert_allclose(H @ B, 0, atol=1e-12)         # directions the objective does not see
    v = prob.project(rng.standard_normal(prob.k))
    np.testing.assert_allclose(B.T @ v, 0, atol=1e-13)
    np.testing.assert_allclose(prob.project(v), v, atol=0)
    # with an L1 part only the intercepts are centred
    prob1, _ = _problem("dense", 4, l1=0.1, l2=0.0)
    w = rng.standard_normal(prob1.k)
    got = prob1.project(w)
    np.testing.assert_array_equal(got[:-4], w[:-4])
    assert abs(got[-4:].sum()) < 1e-14


def test_dask_problem_matches_in_memory():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    prob, rng = _problem("dense", 3)
    X = prob.design.X
    dprob = DaskProblem(da.from_array(X, chunks=(17, 5)), da.from_array(prob.codes, chunks=17),
                        da.from_array(prob.s, chunks=17), 3, prob.S, fit_intercept=True, l2=prob.l2)
    p = rng.standard_normal(prob.k)
    v = rng.standard_normal(prob.k)
    with dask.config.set(scheduler="sync"):
        f, g = prob.value_grad(p)
        fd, gd = dprob.value_grad(p, hessian=True)
        assert fd == pytest.approx(f, rel=1e-13)
        np.testing.assert_allclose(gd, g, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(dprob.hessian(p), prob.hessian(p), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(dprob.hessp(p)(v), prob.hessp(p)(v), rtol=1e-12, atol=1e-15)
        line = dprob.line(p, v)
        f_t, _ = line(0.5)
        assert f_t == pytest.approx(prob.value_grad(p + 0.5 * v)[0], rel=1e-13)
        assert line.max_dz == pytest.approx(prob.line(p, v).max_dz, rel=1e-13)


# ---------------------------------------------------------------- the solvers' pieces


def test_pseudo_gradient_is_the_minimum_norm_subgradient():
    """Against the definition: the subgradient of g + w |p| of least
    magnitude, coordinate by coordinate (the interval [g - w, g + w] at 0)."""
    p = np.array([1.0, -2.0, 0.0, 0.0, 0.0, 0.0, 3.0])
    g = np.array([0.5, 0.5, 0.3, -0.3, 1.5, -1.5, 0.2])
    w = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    want = []
    for pi, gi, wi in zip(p, g, w):
        if pi != 0:
            want.append(gi + wi * np.sign(pi))
        else:
            lo, hi = gi - wi, gi + wi
            want.append(0.0 if lo <= 0 <= hi else (lo if lo > 0 else hi))
    np.testing.assert_array_equal(_solvers.pseudo_gradient(p, g, w), want)
    np.testing.assert_array_equal(_solvers.pseudo_gradient(p, g, None), g)


def test_newton_step_on_a_singular_hessian():
    """Along the columns of `basis` (where H is singular and the gradient
    is 0) the step has no component; elsewhere it solves H s = -g."""
    rng = np.random.default_rng(7)
    A = rng.standard_normal((6, 6))
    u = np.ones(6) / np.sqrt(6)
    Pu = np.eye(6) - np.outer(u, u)
    H = Pu @ (A @ A.T) @ Pu
    g = Pu @ rng.standard_normal(6)
    s = _solvers.newton_step(H, g, u[:, None])
    assert abs(s @ u) < 1e-10
    np.testing.assert_allclose(H @ s, -g, atol=1e-10)


def test_pcg_stops_on_a_direction_without_curvature():
    """Conjugate gradients on a singular system stop instead of stepping to
    infinity: the step stays bounded by the solution on the range of H."""
    H = np.diag([2.0, 1.0, 1e-30])
    b = np.array([1.0, 1.0, 1e-3])
    x, used = _solvers._pcg(lambda v: H @ v, b, np.ones(3), lambda v: v, 1e-12, 50)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) < 10
    # and on a definite system it solves it
    x, _ = _solvers._pcg(lambda v: H[:2, :2] @ v, b[:2], np.ones(2), lambda v: v, 1e-14, 50)
    np.testing.assert_allclose(x, [0.5, 1.0], rtol=1e-12)
