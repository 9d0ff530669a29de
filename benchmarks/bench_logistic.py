"""Benchmark sigmoid's LogisticRegression against scikit-learn's, fit time.

On make_classification data (half the features informative) of each size
n x d, in float64 and in float32, prints the median fit time (the four
solvers take turns, so that a slow spell of a shared machine slows them
alike) of

  * ours, solver="newton" (exact Hessian, Cholesky, line search) and
    solver="lbfgs" (SciPy's L-BFGS-B on the fused loss and gradient);
  * scikit-learn's "lbfgs" and "newton-cholesky" solvers on the same array;

all with the same C and tol, the ratio of our faster solver to scikit-learn's
faster one (below 1: ours is faster), and the largest relative difference
max|theta - theta_ref| / max|theta_ref| of our coefficients and intercept
from the reference theta_ref: scikit-learn's newton-cholesky solution on the
float64 data at that tol (for float32 rows too, so their column shows how
far float32 data leave the float64 optimum), and the largest difference of
the predicted probabilities on the training data from the reference's.
make_classification adds redundant features (linear combinations of the
informative ones): along those directions only the penalty ||w||^2 / (2 C n)
holds the coefficients, so the coefficient differences there are large
beside the probability differences.  A star marks a fit that warned of
non-convergence.

Threads: --threads N sets sigmoid.set_num_threads(N) and, before NumPy is
loaded, the BLAS thread count (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS); scikit-learn's own loss loops use one thread.  The header
prints the BLAS in use and the OPENBLAS_* settings of the environment, which
decide much of the time (Newton's Hessian is one BLAS syrk per block).

    python benchmarks/bench_logistic.py [--threads N] [--sizes 1e4x20,1e5x100,1e6x100]
                                        [--repeat 3] [--C 1.0] [--tol 1e-4] [--dtypes float64,float32]
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
from sigmoid.models.logistic import LogisticRegression  # noqa: E402


def timed_round_robin(runs, repeat, budget_s=60.0):
    """{name: (median seconds, last model, warned?)} for the fits in `runs`
    ({name: fit}), taken in turns (one fit of each per round) so that a
    slow spell of this shared machine slows every solver alike: `repeat`
    rounds, 5 repeat if the slowest first fit took under 0.1 s, one if a
    first fit took over budget_s."""
    times = {k: [] for k in runs}
    models, warned = {}, dict.fromkeys(runs, False)
    rounds = repeat
    r = 0
    while r < rounds:
        for name, fit in runs.items():
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                t0 = time.perf_counter()
                models[name] = fit()
                times[name].append(time.perf_counter() - t0)
            warned[name] |= any("converge" in str(w.message) for w in rec)
        if r == 0:
            slowest = max(t[0] for t in times.values())
            rounds = 1 if slowest > budget_s else 5 * repeat if slowest < 0.1 else repeat
        r += 1
    return {k: (float(np.median(times[k])), models[k], warned[k]) for k in runs}


def params(m):
    return np.r_[np.ravel(m.coef_), np.ravel(m.intercept_)].astype(np.float64)


def rel_diff(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def blas_description():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(libs) or "none found"


def parse_sizes(text):
    out = []
    for item in text.split(","):
        n, d = item.lower().split("x")
        out.append((int(float(n)), int(float(d))))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--sizes", default="1e4x20,1e5x100,1e6x100", help="comma-separated n x d, e.g. 1e5x100")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--dtypes", default="float64,float32")
    a = p.parse_args(argv)
    import sklearn
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    threads = a.threads or sigmoid.get_num_threads()
    sigmoid.set_num_threads(threads)
    print(f"sigmoid {sigmoid.__version__}, numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
          f"sigmoid threads: {threads}")
    print(f"BLAS: {blas_description()}")
    print("env: " + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in
                              ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")))
    print(f"C={a.C}, tol={a.tol}; median of {a.repeat} fits per solver, the solvers taking turns "
          f"({5 * a.repeat} fits if all take under 0.1 s, 1 if one takes over 60 s); "
          "times in ms; * = warned of non-convergence")
    head = (f"{'dtype':<8}{'n':>9}{'d':>5} | {'ours newton':>12}{'ours lbfgs':>12} | {'sk lbfgs':>10}"
            f"{'sk newton-ch':>13} | {'best/min(sk)':>12} | {'rel diff N':>10}{'rel diff L':>11} | "
            f"{'dp N':>8}{'dp L':>9} | iters N/L/skL/skN")
    print(head)
    print("-" * len(head))
    for n, d in parse_sizes(a.sizes):
        X64, y = make_classification(n_samples=n, n_features=d, n_informative=max(2, d // 2), random_state=0)
        ref = None
        for dtname in a.dtypes.split(","):
            X = X64.astype(dtname, copy=False)
            common = {"C": a.C, "tol": a.tol, "max_iter": 1000}
            runs = {
                "ours newton": lambda: LogisticRegression(solver="newton", **common).fit(X, y),
                "ours lbfgs": lambda: LogisticRegression(solver="lbfgs", **common).fit(X, y),
                "sk lbfgs": lambda: SkLogisticRegression(solver="lbfgs", **common).fit(X, y),
                "sk newton-cholesky": lambda: SkLogisticRegression(solver="newton-cholesky", **common).fit(X, y),
            }
            res = timed_round_robin(runs, a.repeat)

            def cell(name, width):
                t, _, warned = res[name]
                return f"{t * 1e3:>{width - 1}.1f}{'*' if warned else ' '}"

            ours = min(res["ours newton"][0], res["ours lbfgs"][0])
            theirs = min(res["sk lbfgs"][0], res["sk newton-cholesky"][0])
            if ref is None:
                ref_model = (SkLogisticRegression(solver="newton-cholesky", **common).fit(X64, y)
                             if X.dtype != np.float64 else res["sk newton-cholesky"][1])
                ref, ref_p = params(ref_model), ref_model.predict_proba(X64)[:, 1]
            dn = rel_diff(params(res["ours newton"][1]), ref)
            dl = rel_diff(params(res["ours lbfgs"][1]), ref)
            pn = float(np.max(np.abs(res["ours newton"][1].predict_proba(X)[:, 1] - ref_p)))
            pl = float(np.max(np.abs(res["ours lbfgs"][1].predict_proba(X)[:, 1] - ref_p)))
            iters = "/".join(str(int(np.ravel(res[k][1].n_iter_)[0])) for k in runs)
            print(f"{dtname:<8}{n:>9}{d:>5} | {cell('ours newton', 12)}{cell('ours lbfgs', 12)} | "
                  f"{cell('sk lbfgs', 10)}{cell('sk newton-cholesky', 13)} | {ours / theirs:>12.2f} | "
                  f"{dn:>10.1e}{dl:>11.1e} | {pn:>8.1e}{pl:>9.1e} | {iters}", flush=True)
            del runs, res
        del X64, X, ref, ref_p


if __name__ == "__main__":
    main()
