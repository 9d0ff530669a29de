"""``sigmoid tour``: every claim about the sigmoid, measured by this library
and drawn, in one HTML report.

The report (``index.html``, with the figures embedded and also saved as PNG
files beside it) opens with a summary: one row per section, its headline
number and whether its claims held.  Each claim is decided by a verdict that
compares the measurement with a reference that is not this library (exact
decimal arithmetic, NumPy, scikit-learn, the data or a stated bound), and
that says "not held" when there was nothing to compare.  Drawing needs
matplotlib (``pip install "sigmoid[plot]"``).

A section is a function ``f(quick) -> Section``; adding one is one line in
:data:`SECTIONS`.  The report numbers the sections from their place there
(a number at the start of a section's own title is replaced).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time

from . import _sections
from ._report import Claim, Figure, Section, write

__all__ = ["SECTIONS", "run", "Claim", "Figure", "Section"]


#: the sections by key, in the report's order (numbered from it)
SECTIONS = {
    "range": _sections.range_and_derivative,
    "relations": _sections.relations,
    "alternatives": _sections.alternatives,
    "vanishing": _sections.vanishing,
    "gates": _sections.gates,
    "logistic": _sections.logistic,
    "spam": __import__(f"{__name__}._spam", fromlist=["spam"]).spam,
    "multilabel": _sections.multilabel,
    "gan": _sections.gan,
    "attention": __import__(f"{__name__}._attention", fromlist=["attention_section"]).attention_section,
    "exactness": _sections.exactness_and_speed,
    "history": _sections.history,
    "diffusion": __import__(f"{__name__}._diffusion", fromlist=["diffusion"]).diffusion,
}

_NUMBER = re.compile(r"^\s*\d+\.\s+")


def numbered_title(key: str, title: str) -> str:
    """`title` numbered by the place of `key` in :data:`SECTIONS` (a number
    already at its start is dropped).

    Examples
    --------
    >>> numbered_title("relations", "7. Relatives: tanh and the two-class softmax")
    '2. Relatives: tanh and the two-class softmax'
    """
    return f"{list(SECTIONS).index(key) + 1}. {_NUMBER.sub('', title)}"


def check_out_dir(out_dir: str) -> str:
    """Make sure the report can be written into `out_dir` (created if
    missing) before anything is measured; returns its absolute path.

    Raises
    ------
    ValueError
        Naming the folder and what is wrong: it is a file, or it cannot be
        created or written to.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     check_out_dir(f.name)
    Traceback (most recent call last):
    ...
    ValueError: sigmoid tour: --out ... is a file, not a folder
    """
    path = os.path.abspath(out_dir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"sigmoid tour: --out {out_dir} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(f"sigmoid tour: --out {out_dir} cannot be written to: {e.strerror or e}") from None
    return path


def run(out_dir: str = "sigmoid-tour", quick: bool = False, sections=None, verbose: bool = True):
    """Measure and draw the chosen sections (all by default) and write the
    report into ``out_dir``; returns ``(path of index.html, sections)``.

    The folder is checked first (see :func:`check_out_dir`); with `verbose`,
    one line per section goes to standard error as it ends: its number, key,
    time and how many of its claims held."""
    import importlib.util

    for need in ("matplotlib", "sklearn"):      # drawing; the breast-cancer data
        if importlib.util.find_spec(need) is None:
            raise ImportError(f'sigmoid tour: needs {need}: pip install "sigmoid[plot]"')
    keys = list(SECTIONS) if not sections else list(sections)
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        raise ValueError(f"sigmoid tour: unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    check_out_dir(out_dir)
    done = []
    start = time.perf_counter()
    for i, k in enumerate(keys, 1):
        t = time.perf_counter()
        s = SECTIONS[k](quick)
        s.seconds = time.perf_counter() - t
        s.title = numbered_title(k, s.title)
        done.append(s)
        if verbose:
            held = sum(c.held for c in s.claims)
            print(f"sigmoid tour [{i:>{len(str(len(keys)))}}/{len(keys)}] {k:<12} {s.seconds:6.1f} s  "
                  f"{held} of {len(s.claims)} claims held", file=sys.stderr, flush=True)
    from .. import __version__

    header = (f"Measured by sigmoid {__version__} on {platform.machine()} with Python "
              f"{platform.python_version()}{' (quick run)' if quick else ''} in "
              f"{time.perf_counter() - start:.0f} s.")
    return write(done, out_dir, header), done


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="sigmoid-tour", help="folder of the report (default: ./sigmoid-tour)")
    p.add_argument("--quick", action="store_true", help="smaller measurements: seconds instead of a minute")
    p.add_argument("--sections", default="", help=f"comma-separated subset of: {', '.join(SECTIONS)}")
    p.add_argument("--no-progress", action="store_true", help="no line per section on standard error")


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
            print(f"[{'held' if c.held else 'NOT HELD'}] {s.title}: {c.text}: {c.measured}")
    print(f"{held} of {len(claims)} claims held; report: {path}")
    return 0
