"""Benchmark every ufunc against SciPy, NumPy and PyTorch in one run.

Prints, for float32 and float64, 10^3 / 10^5 / 10^7 elements, contiguous,
strided (every second element of input and output) and strided-in (every
second element of the input, a contiguous output), the median time per
element of this library and of each installed peer with the ratio ours/peer,
and np.copyto of the same array (the memory-bandwidth floor).  PyTorch runs
with the same thread count as this library.

    python benchmarks/bench_ufuncs.py                  # all cores
    python benchmarks/bench_ufuncs.py --threads 1
    python benchmarks/bench_ufuncs.py --markdown out.md --functions sigmoid

Never part of the test suite: these machines are shared and noisy, so
numbers belong here and in the README, not in assertions.
"""
import argparse
import sys

from sigmoid import _bench


def markdown(rows, threads):
    out = [f"Threads: {threads}.  ns per element (ours / peer).", "",
           "| function | dtype | n | layout | ours ns/el | vs torch | vs scipy | vs numpy | vs copyto |",
           "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        def ratio(prefix):
            for k, v in r.peers.items():
                if k.startswith(prefix) and v is not None:
                    return f"{r.ours_ns / v:.2f}x"
            return "-"
        out.append(f"| {r.function} | {r.dtype} | {r.n:.0e} | {r.layout} | {r.ours_ns:.3f} | {ratio('torch')} | "
                   f"{ratio('scipy')} | {ratio('numpy')} | {ratio('np.copyto')} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _bench.add_arguments(p)
    p.add_argument("--markdown", help="also write a markdown table to this file")
    a = p.parse_args(argv)
    if not a.markdown:
        return _bench.run_from_args(a)
    try:
        sel = _bench.selection(a)      # the options checked, as `sigmoid bench` does
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    threads = sel["threads"]
    print(_bench.describe_machine(threads))
    rows = _bench.run(**sel, progress=lambda s: print(s, file=sys.stderr, flush=True))
    print(_bench.format_table(rows))
    with open(a.markdown, "w") as fh:
        fh.write(_bench.describe_machine(threads) + "\n\n" + markdown(rows, threads) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
