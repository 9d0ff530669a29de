"""Fail unless every test that pytest skipped was a comparison with a peer
that is not installed.

    python .ci/check_skips.py pytest-output.txt

Reads the "SKIPPED [n] file:line: reason" lines of `pytest -rs` and checks
each reason against the peers a skip may name: PyTorch and JAX (optional
comparisons), scikit-learn's own array-API checks (which need
SCIPY_ARRAY_API set) and the comparison of instruction sets on a CPU that
has only one.
"""
import re
import sys

ALLOWED = re.compile(r"PyTorch|torch|JAX|jax|SCIPY_ARRAY_API|only one instruction set", re.IGNORECASE)


def main(path):
    with open(path, encoding="utf-8") as f:
        skipped = [line.strip() for line in f if line.startswith("SKIPPED")]
    bad = [line for line in skipped if not ALLOWED.search(line.split(": ", 1)[-1])]
    total = sum(int(m.group(1)) for line in skipped if (m := re.match(r"SKIPPED \[(\d+)\]", line)))
    print(f"{total} tests skipped, all for a missing peer" if not bad else "tests skipped for another reason:")
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
