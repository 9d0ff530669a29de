"""The ``sigmoid`` command."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sigmoid", description="The logistic function, exact and fast.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("bench", help="time the ufuncs against SciPy, NumPy and PyTorch")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from . import _bench

        return _bench.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
