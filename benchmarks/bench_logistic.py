"""Benchmark sigmoid's LogisticRegression against scikit-learn's: fit time
and the objective reached, on the problems of the issue that added sparse,
multinomial and L1 fits.

Problems (``--problems``, comma-separated):

* ``sparse``: a text-like CSR matrix, n = d = 10^5 with ~110 stored values
  per row (column frequencies ~ Zipf, log(1 + count) weights, rows of unit
  norm), two classes, L2, C = 1; scikit-learn's lbfgs, newton-cg, saga,
  liblinear.
* ``multinomial``: make_classification, 10^5 x 100, 10 classes, L2, C = 1;
  scikit-learn's lbfgs, newton-cg, newton-cholesky, sag, saga.
* ``l1``: make_classification, 10^4 x 10^3, two classes, L1, C = 0.1;
  scikit-learn's saga and liblinear.
* ``dense``: make_classification, 10^5 x 100, two classes, L2, C = 1 (the
  previous table); scikit-learn's lbfgs and newton-cholesky.

For each solver: the median fit time (the solvers take turns, ``--repeat``
rounds, one round when a fit takes over a minute, so that a slow spell of a
shared machine slows them alike), the number of iterations, and the
objective it reached, computed here with NumPy/SciPy (scikit-learn's,
divided by C n: the mean loss plus the penalty over C n) and shown as the
gap to the lowest value any solver reached.  liblinear minimizes another
objective (its intercept is penalized); its solution is scored by the same
one.  Ours runs at the default tol (1e-4) and at 1e-5.

The verdict of a problem compares the fastest scikit-learn solver with
the faster of our two fits whose objective is at least as low as that
solver's (to 1e-9 of it, relative: "faster" must not mean "less
converged"): the time ratio ours/theirs against the issue's target.

Threads: ``--threads N`` sets ``sigmoid.set_num_threads(N)`` (our sparse
products) and, before NumPy is loaded, the BLAS thread count, for both
libraries; scikit-learn's own loops (liblinear, saga, its loss) run on one
thread whatever N.  The header prints the instruction set, the BLAS and the
thread counts.

    python benchmarks/bench_logistic.py [--threads N] [--problems sparse,multinomial,l1]
                                        [--repeat 3] [--scale 1.0] [--sk-solvers saga,lbfgs]
"""
import argparse
import os
import sys
import time
import warnings

from _timing import blas_threads_from_argv  # noqa: E402  (before NumPy: it sets the BLAS threads)

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import sigmoid  # noqa: E402
from sigmoid import _core  # noqa: E402
from sigmoid.models.logistic import LogisticRegression  # noqa: E402

TARGETS = {"sparse": 0.7, "multinomial": 0.7, "l1": 1.0, "dense": 1.0}


def sparse_text(n, d, nnz=100, seed=0):
    """A bag-of-words-like CSR matrix (see the module docstring) and labels
    from a sparse linear model with logistic noise."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, d + 1) ** 0.9
    p /= p.sum()
    draws = int(nnz * 1.25)
    cols = rng.choice(d, size=n * draws, p=p).astype(np.int32)
    rows = np.repeat(np.arange(n, dtype=np.int32), draws)
    X = sp.csr_matrix((np.ones(n * draws), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.add.reduceat(X.data ** 2, X.indptr[:-1]))
    X.data /= np.repeat(norms, np.diff(X.indptr))
    w = rng.standard_normal(d) * (rng.random(d) < 0.1) * 10
    z = X @ w
    y = (z + rng.logistic(size=n) > np.median(z)).astype(int)
    return X, y


def problem(name, scale):
    """(X, y, params of both estimators, scikit-learn solvers, description)."""
    from sklearn.datasets import make_classification

    if name == "sparse":
        n = int(1e5 * scale)
        X, y = sparse_text(n, n)
        return X, y, {"C": 1.0}, ["lbfgs", "newton-cg", "saga", "liblinear"], \
            f"sparse CSR {n} x {n}, {X.nnz / n:.0f} stored/row, binary, L2, C=1"
    if name == "multinomial":
        n = int(1e5 * scale)
        X, y = make_classification(n, 100, n_informative=50, n_classes=10, random_state=0)
        return X, y, {"C": 1.0}, ["lbfgs", "newton-cg", "newton-cholesky", "sag", "saga"], \
            f"dense {n} x 100, 10 classes (multinomial), L2, C=1"
    if name == "l1":
        n = int(1e4 * scale)
        X, y = make_classification(n, 1000, n_informative=50, random_state=0)
        return X, y, {"C": 0.1, "l1_ratio": 1.0}, ["saga", "liblinear"], \
            f"dense {n} x 1000, binary, L1, C=0.1"
    if name == "dense":
        n = int(1e5 * scale)
        X, y = make_classification(n, 100, n_informative=50, random_state=0)
        return X, y, {"C": 1.0}, ["lbfgs", "newton-cholesky"], f"dense {n} x 100, binary, L2, C=1"
    raise ValueError(f"unknown problem {name!r}")


def objective(X, y, coef, intercept, C, l1_ratio=0.0):
    """scikit-learn's objective divided by C n, from NumPy and SciPy."""
    from scipy.special import logsumexp

    n = X.shape[0]
    coef = np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef, dtype=np.float64)
    Z = np.asarray(X @ coef.T) + intercept
    if coef.shape[0] == 1:
        z = Z[:, 0]
        loss = np.sum(np.logaddexp(0, z) - (y == np.max(y)) * z)
    else:
        loss = np.sum(logsumexp(Z, axis=1) - Z[np.arange(n), np.searchsorted(np.unique(y), y)])
    penalty = (1 - l1_ratio) * 0.5 * np.sum(coef ** 2) + l1_ratio * np.sum(np.abs(coef))
    return float(loss / n + penalty / (C * n))


def timed_round_robin(runs, repeat, budget_s=60.0):
    """{name: (median seconds, model, warned)}: one fit of each per round."""
    times = {k: [] for k in runs}
    models, warned = {}, dict.fromkeys(runs, False)
    rounds, r = repeat, 0
    while r < rounds:
        for name, fit in runs.items():
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                models[name] = fit()
                times[name].append(time.perf_counter() - t0)
            warned[name] |= any("converge" in str(w.message) for w in rec)
            print(f"  {name}: {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
        if r == 0 and max(t[0] for t in times.values()) > budget_s:
            rounds = 1
        r += 1
    return {k: (float(np.median(times[k])), models[k], warned[k]) for k in runs}


def blas_description():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(libs) or "none found"


def run_problem(name, scale, repeat, only=None):
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    X, y, params, sk_solvers, what = problem(name, scale)
    if only:
        sk_solvers = [s for s in sk_solvers if s in only]
    C, ratio = params["C"], params.get("l1_ratio", 0.0)
    runs = {"ours (tol 1e-4)": lambda: LogisticRegression(max_iter=1000, **params).fit(X, y),
            "ours (tol 1e-5)": lambda: LogisticRegression(max_iter=1000, tol=1e-5, **params).fit(X, y)}
    for s in sk_solvers:
        runs[f"sk {s}"] = (lambda s=s: SkLogisticRegression(solver=s, max_iter=1000, **params).fit(X, y))
    res = timed_round_robin(runs, repeat)
    f = {k: objective(X, y, m.coef_, m.intercept_, C, ratio) for k, (_, m, _) in res.items()}
    best = min(f.values())
    print(f"\n{name}: {what}")
    head = f"  {'solver':<20}{'time (s)':>10}{'iterations':>12}{'objective':>20}{'gap to best':>13}   ran"
    print(head)
    print("  " + "-" * (len(head) - 2))
    for k, (t, m, warned) in res.items():
        ran = getattr(m, "solver_", "")
        print(f"  {k:<20}{t:>9.2f}{'*' if warned else ' '}{int(np.ravel(m.n_iter_)[0]):>12}{f[k]:>20.12f}"
              f"{f[k] - best:>13.2e}   {ran}")
    sk = {k: v for k, v in res.items() if k.startswith("sk ")}
    fastest = min(sk, key=lambda k: sk[k][0])
    # ours at a tol that reaches the fastest scikit-learn fit's objective (to 1e-9 of it, relative): the
    # faster of our two runs that does
    reach = [k for k in res if k.startswith("ours") and f[k] <= f[fastest] + 1e-9 * abs(f[fastest])]
    if reach:
        ours = min(reach, key=lambda k: res[k][0])
        r = res[ours][0] / sk[fastest][0]
        verdict = "met" if r <= TARGETS[name] else "MISSED"
        print(f"  {ours} / fastest scikit-learn ({fastest}): {r:.2f} (target <= {TARGETS[name]}), at an objective "
              f"{f[ours] - f[fastest]:+.2e} from its: {verdict}")
    else:
        r, verdict = float("nan"), "MISSED"
        print(f"  neither of our runs reached the objective of the fastest scikit-learn fit ({fastest}): {verdict}")
    return name, r, bool(reach), verdict


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--problems", default="sparse,multinomial,l1")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scale", type=float, default=1.0, help="multiply the number of samples")
    p.add_argument("--sk-solvers", default="", help="comma-separated: time only these of scikit-learn's solvers")
    a = p.parse_args(argv)
    import sklearn

    threads = a.threads or sigmoid.get_num_threads()
    sigmoid.set_num_threads(threads)
    print(f"sigmoid {sigmoid.__version__}, numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
          f"instruction set {_core._get_isa()}; sigmoid threads: {threads}; os.cpu_count() = {os.cpu_count()}")
    print(f"BLAS: {blas_description()}")
    print("env: " + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in
                              ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")))
    print(f"median of {a.repeat} fits per solver, the solvers taking turns (1 if one takes over 60 s); "
          "* = warned of non-convergence; objective = scikit-learn's / (C n)")
    only = [v for v in a.sk_solvers.split(",") if v]
    summary = [run_problem(name, a.scale, a.repeat, only) for name in a.problems.split(",")]
    print("\nsummary: " + "; ".join(f"{n} {r:.2f} ({v})" for n, r, _, v in summary))


if __name__ == "__main__":
    main()
