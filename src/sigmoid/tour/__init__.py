"""``sigmoid tour``: every claim about the sigmoid, measured by this library
and drawn, in one HTML report.

The report (``index.html``, with the figures embedded and also saved as PNG
files beside it) opens with a table of every claim, the number measured for
it on this machine and whether it held.  Each claim is decided by a verdict
that compares the measurement with a reference that is not this library
(exact decimal arithmetic, NumPy, scikit-learn, the data or a stated bound),
and that says "not held" when there was nothing to compare.  Drawing needs
matplotlib (``pip install "sigmoid[plot]"``).
"""
from __future__ import annotations

import argparse
import platform
import sys
import time

from . import _sections
from ._report import Claim, Figure, Section, write

__all__ = ["SECTIONS", "run", "Claim", "Figure", "Section"]

#: the sections by key, in the report's order: (number, function)
SECTIONS = {
    "range": _sections.range_and_derivative,
    "relations": _sections.relations,
    "alternatives": _sections.alternatives,
    "vanishing": _sections.vanishing,
    "gates": _sections.gates,
    "logistic": _sections.logistic,
    "multilabel": _sections.multilabel,
    "gan": _sections.gan,
    "exactness": _sections.exactness_and_speed,
    "history": _sections.history,
    "diffusion": __import__(f"{__name__}._diffusion", fromlist=["diffusion"]).diffusion,
    "spam": __import__("sigmoid.tour._spam", fromlist=["spam"]).spam,
}


def run(out_dir: str = "sigmoid-tour", quick: bool = False, sections=None, verbose: bool = True):
    """Measure and draw the chosen sections (all by default) and write the
    report into ``out_dir``; returns ``(path of index.html, sections)``."""
    import importlib.util

    for need in ("matplotlib", "sklearn"):      # drawing; the breast-cancer data
        if importlib.util.find_spec(need) is None:
            raise ImportError(f'sigmoid tour: needs {need}: pip install "sigmoid[plot]"')
    keys = list(SECTIONS) if not sections else list(sections)
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        raise ValueError(f"sigmoid tour: unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    from ..models._training import Progress

    done = []
    with Progress(len(keys), "sigmoid tour", verbose) as bar:
        for k in keys:
            t = time.perf_counter()
            s = SECTIONS[k](quick)
            s.seconds = time.perf_counter() - t
            done.append(s)
            bar.update(1, held=sum(c.held for c in s.claims))
    from .. import __version__

    header = (f"Measured by sigmoid {__version__} on {platform.machine()} with Python "
              f"{platform.python_version()}{' (quick run)' if quick else ''}.")
    return write(done, out_dir, header), done


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="sigmoid-tour", help="folder of the report (default: ./sigmoid-tour)")
    p.add_argument("--quick", action="store_true", help="smaller measurements: seconds instead of minutes")
    p.add_argument("--sections", default="", help=f"comma-separated subset of: {', '.join(SECTIONS)}")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_from_args(args: argparse.Namespace) -> int:
    keys = [k for k in args.sections.split(",") if k]
    try:
        path, done = run(args.out, quick=args.quick, sections=keys or None, verbose=not args.no_progress)
    except (ImportError, ValueError) as e:
        print(e, file=sys.stderr)
        return 2
    claims = [c for s in done for c in s.claims]
    held = sum(c.held for c in claims)
    for s in done:
        for c in s.claims:
            print(f"[{'held' if c.held else 'NOT HELD'}] {s.title.split('. ', 1)[-1]}: {c.text}: {c.measured}")
    print(f"{held} of {len(claims)} claims held; report: {path}")
    return 0
