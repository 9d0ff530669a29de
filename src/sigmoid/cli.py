"""The ``sigmoid`` command: ``sigmoid tour`` measures and draws every claim
about the sigmoid; ``sigmoid bench`` times the ufuncs against their peers."""
from __future__ import annotations

import argparse
import sys


def version_line() -> str:
    """``sigmoid --version``: the library's version, the instruction set its
    kernels run on here, and NumPy's version.

    Examples
    --------
    >>> version_line().startswith("sigmoid ")
    True
    """
    import numpy as np

    from . import __version__, _core

    return f"sigmoid {__version__} ({_core._get_isa()} kernels, numpy {np.__version__})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sigmoid", description="The logistic function and its family as exact, fast NumPy ufuncs."
    )
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    tour = sub.add_parser(
        "tour",
        help="measure and draw every claim about the sigmoid: an HTML report in ./sigmoid-tour",
        description="Measure and draw every claim about the sigmoid; write an HTML report.",
    )
    from . import tour as _tour

    _tour.add_arguments(tour)
    bench = sub.add_parser(
        "bench",
        help="time the ufuncs against SciPy, NumPy and PyTorch in one run",
        description="Time the ufuncs against SciPy, NumPy and PyTorch (those installed) in one run.",
    )
    from . import _bench

    _bench.add_arguments(bench)
    args = parser.parse_args(argv)
    if args.command == "tour":
        return _tour.run_from_args(args)
    if args.command == "bench":
        return _bench.run_from_args(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
