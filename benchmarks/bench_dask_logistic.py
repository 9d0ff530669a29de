"""LogisticRegression on a Dask array larger than the memory of each worker.

The data (float32 X and labels from a fixed logistic model) are generated
block by block from a seeded generator on every pass, never persisted, so a
fit streams the array through the workers (two LocalCluster worker
processes with a memory limit below the array's size).  Reports the fit
time and each worker's peak resident memory, and compares with dask-ml's
LogisticRegression when dask-ml is installed.

    python benchmarks/bench_dask_logistic.py                      # 1e7 x 50 float32 (2 GB)
    python benchmarks/bench_dask_logistic.py --rows 2000000 --cols 50
"""
import argparse
import resource
import time

import numpy as np


def make_block(block_id, rows, cols, seed, w):
    """Rows of [X | y] for one block: X standard normal (float32), y from
    the logistic model w; block i always gives the same numbers."""
    rng = np.random.default_rng([seed, block_id[0]])
    X = rng.standard_normal((rows, cols), dtype=np.float32)
    z = X @ w[:cols] + w[cols]
    y = (z + rng.logistic(size=rows).astype(np.float32) > 0).astype(np.float32)
    return np.concatenate([X, y[:, None]], axis=1)


def peak_rss_mib(dask_worker=None):
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--cols", type=int, default=50)
    ap.add_argument("--chunk-rows", type=int, default=200_000)
    ap.add_argument("--memory-limit", default="1GB", help="per worker (default 1GB)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--solver", default="both", choices=["newton", "lbfgs", "both"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import dask.array as da
    import distributed

    from sigmoid.models.logistic import LogisticRegression

    n, d, c = args.rows, args.cols, args.chunk_rows
    rng = np.random.default_rng(args.seed)
    w = (rng.standard_normal(d + 1) / np.sqrt(d)).astype(np.float32)
    row_chunks = tuple([c] * (n // c) + ([n % c] if n % c else []))

    def block(block_id=None):
        return make_block(block_id, row_chunks[block_id[0]], d, args.seed, w)

    A = da.map_blocks(block, chunks=(row_chunks, (d + 1,)), dtype=np.float32, meta=np.empty((0, 0), np.float32))
    X, y = A[:, :d], A[:, d]
    print(f"X: {n} x {d} float32 = {X.nbytes / 2**30:.2f} GiB in {len(row_chunks)} blocks of {c} rows; "
          f"{args.workers} workers, memory_limit={args.memory_limit} each (data regenerated on every pass)")

    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  memory_limit=args.memory_limit, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        base = client.run(peak_rss_mib)
        print("worker peak RSS before fitting (MiB):", {k[-5:]: round(v) for k, v in base.items()})
        solvers = ["newton", "lbfgs"] if args.solver == "both" else [args.solver]
        for solver in solvers:
            t = time.perf_counter()
            clf = LogisticRegression(solver=solver).fit(X, y)
            dt = time.perf_counter() - t
            peaks = client.run(peak_rss_mib)
            err = float(np.max(np.abs(clf.coef_.ravel() - w[:d])))
            print(f"sigmoid LogisticRegression(solver={solver!r}): {dt:.1f} s, n_iter={int(clf.n_iter_[0])}, "
                  f"max |coef - true| = {err:.3g}; worker peak RSS (MiB, process lifetime): "
                  f"{ {k[-5:]: round(v) for k, v in peaks.items()} }")
        P = clf.predict_proba(X)
        print(f"predict_proba is lazy: {type(P).__module__}.{type(P).__name__}, chunks {P.chunksize}")

        try:
            from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression
        except ImportError:
            print("dask-ml is not installed: no comparison with dask_ml.linear_model.LogisticRegression")
        else:
            t = time.perf_counter()
            m = DaskMLLogisticRegression(solver="lbfgs", C=1.0).fit(X, y)
            dt = time.perf_counter() - t
            err = float(np.max(np.abs(np.ravel(m.coef_) - w[:d])))
            print(f"dask-ml LogisticRegression(solver='lbfgs'): {dt:.1f} s, max |coef - true| = {err:.3g}")


if __name__ == "__main__":
    main()
