"""Timing the ufuncs against their peers, all measured in the same run.

Used by ``sigmoid bench`` and by ``benchmarks/bench_ufuncs.py``.  For each
function, dtype, size and layout it prints the median time per element of
this library and of every installed peer, and the ratio ours/peer (below 1:
we are faster).  ``np.copyto`` of the same array is the memory-bandwidth
floor.  Peers that are not installed are skipped, and the table says so.
"""
from __future__ import annotations

import argparse
import importlib
import math
import numbers
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _core
from . import hard_sigmoid, hard_sigmoid_backward, log_sigmoid, logit, sigmoid
from . import sigmoid_backward, sigmoid_backward_from_output, silu, silu_backward, softplus

ALL_FUNCTIONS = (
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "logit",
    "hard_sigmoid",
    "silu",
    "sigmoid_backward",
    "sigmoid_backward_from_output",
    "hard_sigmoid_backward",
    "silu_backward",
)
#: the dtypes that can be timed, and those timed unless others are asked
#: for (float16 runs through the float32 or float64 kernels and is rounded
#: once more)
DTYPES = ("float32", "float64", "float16")
DEFAULT_DTYPES = ("float32", "float64")


def _optional(name: str):
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any import failure means "not installed"
        return None


@dataclass
class Operands:
    x: np.ndarray
    g: np.ndarray
    out: np.ndarray


#: the step through the inputs of each layout ("strided" also steps through the output)
_STEPS = {"contiguous": 1, "strided": 2, "strided-in": 2}


def _operands(name: str, n: int, dtype, layout: str, rng) -> Operands:
    """Inputs and output of n elements: all contiguous ("contiguous"), every
    second element of each input and of the output ("strided"), or of the
    inputs only, into a contiguous output ("strided-in": f(x[::2]))."""
    if layout not in _STEPS:
        raise ValueError(f"sigmoid._bench: layout {layout!r} is unknown; choose from {', '.join(_STEPS)}")
    step = _STEPS[layout]
    if name == "logit":
        base = rng.uniform(0.0, 1.0, n * step)
    elif name == "sigmoid_backward_from_output":
        base = 1 / (1 + np.exp(-5 * rng.standard_normal(n * step)))
    else:
        base = 5 * rng.standard_normal(n * step)
    x = base.astype(dtype)[::step]
    g = rng.standard_normal(n * step).astype(dtype)[::step]
    out = np.empty(n * step, dtype=dtype)[::step] if layout == "strided" else np.empty(n, dtype=dtype)
    return Operands(x, g, out)


def _peers(name: str, ops: Operands, torch_too: bool = True) -> dict[str, Callable[[], object] | None]:
    """name -> callable, or None when the peer is not installed (or, for
    PyTorch's, left out by `torch_too`)."""
    x, g, out = ops.x, ops.g, ops.out
    scipy_special = _optional("scipy.special")
    torch = _optional("torch") if torch_too else None
    peers: dict[str, Callable[[], object] | None] = {}
    if torch is not None:
        tx, tg, to = torch.from_numpy(x), torch.from_numpy(g), torch.from_numpy(out)
    nn = torch._C._nn if torch is not None else None
    aten = torch.ops.aten if torch is not None else None

    def t(f):
        return f if torch is not None else None

    if name == "sigmoid":
        peers["scipy.expit"] = (lambda: scipy_special.expit(x, out=out)) if scipy_special else None
        peers["torch.sigmoid"] = t(lambda: torch.sigmoid(tx, out=to))
        peers["numpy 1/(1+exp(-x))"] = lambda: np.divide(1, np.add(1, np.exp(np.negative(x)), out=out), out=out)
        peers["np.exp"] = lambda: np.exp(x, out=out)
    elif name == "log_sigmoid":
        peers["scipy.log_expit"] = (
            (lambda: scipy_special.log_expit(x, out=out))
            if scipy_special is not None and hasattr(scipy_special, "log_expit")
            else None
        )
        peers["torch F.logsigmoid"] = t(lambda: torch.nn.functional.logsigmoid(tx))
        peers["numpy -logaddexp(0,-x)"] = lambda: np.negative(np.logaddexp(0, np.negative(x), out=out), out=out)
    elif name == "softplus":
        peers["torch F.softplus"] = t(lambda: nn.softplus(tx, 1, 20, out=to))
        peers["numpy logaddexp(0,x)"] = lambda: np.logaddexp(0, x, out=out)
    elif name == "logit":
        peers["scipy.logit"] = (lambda: scipy_special.logit(x, out=out)) if scipy_special else None
        peers["torch.logit"] = t(lambda: torch.logit(tx, out=to))
        peers["numpy log(p/(1-p))"] = lambda: np.log(np.divide(x, np.subtract(1, x, out=out), out=out), out=out)
    elif name == "hard_sigmoid":
        peers["torch F.hardsigmoid"] = t(lambda: nn.hardsigmoid(tx, out=to))
        peers["numpy clip(x/6+1/2)"] = lambda: np.clip(np.add(np.divide(x, 6, out=out), 0.5, out=out), 0, 1, out=out)
    elif name == "silu":
        peers["torch F.silu"] = t(lambda: nn.silu(tx, out=to))
        peers["numpy x/(1+exp(-x))"] = lambda: np.divide(x, np.add(1, np.exp(np.negative(x)), out=out), out=out)
    elif name == "sigmoid_backward":
        peers["torch sigmoid+sigmoid_backward"] = t(
            lambda: aten.sigmoid_backward.grad_input(tg, torch.sigmoid(tx), grad_input=to)
        )
        peers["numpy g*s*(1-s)"] = lambda: _np_sigmoid_backward(x, g, out)
    elif name == "sigmoid_backward_from_output":
        peers["torch sigmoid_backward"] = t(lambda: aten.sigmoid_backward.grad_input(tg, tx, grad_input=to))
        peers["numpy g*y*(1-y)"] = lambda: np.multiply(np.multiply(g, x, out=out), np.subtract(1, x), out=out)
    elif name == "hard_sigmoid_backward":
        peers["torch hardsigmoid_backward"] = t(
            lambda: aten.hardsigmoid_backward.grad_input(tg, tx, grad_input=to)
        )
        peers["numpy where(|x|<3, g/6, 0)"] = lambda: np.copyto(out, np.where(np.abs(x) < 3, g / 6, 0))
    elif name == "silu_backward":
        peers["torch silu_backward"] = t(lambda: aten.silu_backward.grad_input(tg, tx, grad_input=to))
        peers["numpy g*s*(1+x*(1-s))"] = lambda: _np_silu_backward(x, g, out)
    peers["np.copyto (floor)"] = lambda: np.copyto(out, x)
    return peers


def _np_sigmoid_backward(x, g, out):
    s = 1 / (1 + np.exp(-x))
    np.multiply(g, s * (1 - s), out=out)


def _np_silu_backward(x, g, out):
    s = 1 / (1 + np.exp(-x))
    np.multiply(g, s * (1 + x * (1 - s)), out=out)


def _ours(name: str, ops: Operands) -> Callable[[], object]:
    f = {
        "sigmoid": sigmoid,
        "log_sigmoid": log_sigmoid,
        "softplus": softplus,
        "logit": logit,
        "hard_sigmoid": hard_sigmoid,
        "silu": silu,
        "sigmoid_backward": sigmoid_backward,
        "sigmoid_backward_from_output": sigmoid_backward_from_output,
        "hard_sigmoid_backward": hard_sigmoid_backward,
        "silu_backward": silu_backward,
    }[name]
    if f.nin == 1:
        return lambda: f(ops.x, out=ops.out)
    return lambda: f(ops.x, ops.g, out=ops.out)


def time_call(f: Callable[[], object], repeat: int, min_sample: float = 2e-3) -> float:
    """Median seconds per call over `repeat` samples of >= min_sample each."""
    f()
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            f()
        dt = time.perf_counter() - t0
        if dt >= min_sample or calls >= 1 << 20:
            break
        calls *= 2
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            f()
        samples.append((time.perf_counter() - t0) / calls)
    return float(np.median(samples))


@dataclass
class Row:
    function: str
    dtype: str
    n: int
    layout: str
    ours_ns: float
    peers: dict[str, float | None]


def run(
    functions=ALL_FUNCTIONS,
    dtypes=DEFAULT_DTYPES,
    sizes=(10**3, 10**5, 10**7),
    layouts=("contiguous", "strided", "strided-in"),
    threads: int | None = None,
    repeat: int = 7,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    torch_too: bool = True,
) -> list[Row]:
    """Time `functions` and their peers for every dtype, size and layout;
    one :class:`Row` each.  ``torch_too=False`` leaves PyTorch out (not even
    imported: its import alone takes a second).

    Raises
    ------
    ValueError
        Before anything is timed, for an unknown function, dtype or layout
        (the aliases such as ``"expit"`` are the command line's), a size
        below 1, or a repeat or thread count below 1.
    """
    _check_run(functions, dtypes, sizes, layouts, threads, repeat)
    torch = _optional("torch") if torch_too else None
    old = _core.get_num_threads()
    threads = old if threads is None else threads
    _core.set_num_threads(threads)
    if torch is not None:
        old_torch = torch.get_num_threads()
        torch.set_num_threads(threads)
    rows = []
    rng = np.random.default_rng(seed)
    try:
        for name in functions:
            for dt in dtypes:
                for n in sizes:
                    for layout in layouts:
                        if progress:
                            progress(f"{name} {dt} {n} {layout}")
                        ops = _operands(name, n, np.dtype(dt), layout, rng)
                        ours = time_call(_ours(name, ops), repeat)
                        peers = {}
                        # NumPy's formulas overflow in float16 (e^-x beyond 65504)
                        with np.errstate(all="ignore"):
                            for pname, pf in _peers(name, ops, torch_too).items():
                                peers[pname] = None if pf is None else time_call(pf, repeat) / n * 1e9
                        rows.append(Row(name, dt, n, layout, ours / n * 1e9, peers))
    finally:
        _core.set_num_threads(old)
        if torch is not None:
            torch.set_num_threads(old_torch)
    return rows


def _check_run(functions, dtypes, sizes, layouts, threads, repeat) -> None:
    for what, got, allowed in (("functions", functions, ALL_FUNCTIONS), ("dtypes", dtypes, DTYPES),
                               ("layouts", layouts, LAYOUTS)):
        if isinstance(got, str):
            raise ValueError(f"sigmoid._bench.run: {what} must be a sequence of names, not the string {got!r}")
        bad = [g for g in got if g not in allowed]
        if bad:
            raise ValueError(f"sigmoid._bench.run: {what}: unknown {bad!r}; choose from {', '.join(allowed)}")
    bad = [n for n in sizes if not (isinstance(n, numbers.Integral) and n >= 1)]
    if bad:
        raise ValueError(f"sigmoid._bench.run: sizes: {bad!r} are not numbers of elements (integers >= 1)")
    for what, v in (("threads", threads), ("repeat", repeat)):
        if v is not None and not (isinstance(v, numbers.Integral) and v >= 1):
            raise ValueError(f"sigmoid._bench.run: {what} must be an integer of at least 1, not {v!r}")


def format_table(rows: list[Row]) -> str:
    """The rows as one compact table per function: our time per element, then
    ours/peer for each peer (below 1: we are faster; "-": not installed, and
    listed under the table).

    Examples
    --------
    >>> print(format_table([Row("sigmoid", "float32", 1000, "contiguous", 0.5,
    ...                         {"scipy.expit": 1.0, "torch.sigmoid": None})]))
    sigmoid: ns per element, and ours/peer (< 1: ours is faster)
    dtype    n      layout      ours ns  scipy.expit  torch.sigmoid
    float32  1e+03  contiguous    0.500        0.50x              -
    not installed: torch.sigmoid
    """
    blocks = []
    for name in dict.fromkeys(r.function for r in rows):
        mine = [r for r in rows if r.function == name]
        peers = list(dict.fromkeys(k for r in mine for k in r.peers))
        widths = [max(len(k), 6) for k in peers]
        lines = [f"{name}: ns per element, and ours/peer (< 1: ours is faster)",
                 f"{'dtype':<8} {'n':<6} {'layout':<10} {'ours ns':>8}  " + "  ".join(
                     f"{k:>{w}}" for k, w in zip(peers, widths))]
        missing = []
        for r in mine:
            cells = []
            for k, w in zip(peers, widths):
                v = r.peers.get(k)
                if v is None:
                    missing.append(k)
                cells.append(f"{'-' if v is None or not v > 0 else f'{r.ours_ns / v:.2f}x':>{w}}")
            lines.append(f"{r.dtype:<8} {r.n:<6.0e} {r.layout:<10} {r.ours_ns:>8.3f}  " + "  ".join(cells))
        if missing:
            lines.append("not installed: " + ", ".join(dict.fromkeys(missing)))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _installed_version(dist: str) -> str:
    """The installed version of a distribution, read from its metadata (the
    package is not imported), or "not installed"."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine(threads: int) -> str:
    return (
        f"sigmoid {_core._get_isa()} kernels, {threads} thread(s); "
        f"numpy {np.__version__}, scipy {_installed_version('scipy')}, "
        f"torch {_installed_version('torch')}; "
        f"{platform.machine()}, {os.cpu_count()} cpus"
    )


#: other names accepted by ``--functions``: SciPy's
ALIASES = {"expit": "sigmoid"}
LAYOUTS = tuple(_STEPS)
QUICK = dict(functions=("sigmoid",), dtypes=("float32",), sizes=(10**3, 10**5), layouts=("contiguous",), repeat=3)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--functions", default=",".join(ALL_FUNCTIONS),
                   help=f"comma-separated (default: all; also {', '.join(ALIASES)})")
    p.add_argument("--dtypes", default=",".join(DEFAULT_DTYPES), help=f"comma-separated, of {', '.join(DTYPES)}")
    p.add_argument("--sizes", default="1000,100000,10000000", help="comma-separated element counts (1e5 works)")
    p.add_argument("--layouts", default=",".join(LAYOUTS))
    p.add_argument("--threads", type=int, default=None, help="threads for this library and torch (default: all cores)")
    p.add_argument("--repeat", type=int, default=7, help="samples per timing (median)")
    p.add_argument("--quick", action="store_true",
                   help="seconds: sigmoid only, float32, 10^3 and 10^5 elements, contiguous, 3 samples")
    p.add_argument("--no-progress", action="store_true", help="no line per function on standard error")


def _choices(what: str, text: str, allowed, aliases=None) -> tuple:
    aliases = aliases or {}
    got = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in got if f not in allowed and f not in aliases]
    if bad or not got:
        raise ValueError(f"sigmoid bench: --{what}: {'unknown ' + repr(bad) if bad else 'nothing chosen'}; "
                         f"choose from {', '.join([*allowed, *aliases])}")
    return tuple(dict.fromkeys(aliases.get(f, f) for f in got))


def _sizes(text: str) -> tuple:
    out = []
    for f in (f.strip() for f in text.split(",")):
        try:
            n = float(f)
        except ValueError:
            n = math.nan
        if not (n >= 1 and n == int(n) and n < 2**40):
            raise ValueError(f"sigmoid bench: --sizes: {f!r} is not a number of elements (write e.g. 1000,1e5)")
        out.append(int(n))
    return tuple(out)


def selection(args: argparse.Namespace) -> dict:
    """The run's functions, dtypes, sizes, layouts, threads and repeat from
    the command line, checked before anything is timed.

    Raises
    ------
    ValueError
        Naming the option and the value that is wrong.

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_arguments(p)
    >>> sel = selection(p.parse_args(["--functions", "expit,logit", "--sizes", "1e3,2000"]))
    >>> sel["functions"], sel["sizes"]
    (('sigmoid', 'logit'), (1000, 2000))
    >>> selection(p.parse_args(["--layouts", "diagonal"]))
    Traceback (most recent call last):
    ...
    ValueError: sigmoid bench: --layouts: unknown ['diagonal']; choose from contiguous, strided, strided-in
    """
    sel = dict(functions=_choices("functions", args.functions, ALL_FUNCTIONS, ALIASES),
               dtypes=_choices("dtypes", args.dtypes, DTYPES), sizes=_sizes(args.sizes),
               layouts=_choices("layouts", args.layouts, LAYOUTS), repeat=args.repeat)
    if args.repeat < 1:
        raise ValueError(f"sigmoid bench: --repeat must be at least 1, not {args.repeat}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"sigmoid bench: --threads must be at least 1, not {args.threads}")
    if args.quick:
        sel.update(QUICK)
    sel["threads"] = args.threads if args.threads is not None else _core.get_num_threads()
    return sel


def run_from_args(args: argparse.Namespace) -> int:
    try:
        sel = selection(args)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    print(describe_machine(sel["threads"]), flush=True)
    rows, functions = [], sel.pop("functions")
    for i, name in enumerate(functions, 1):
        t = time.perf_counter()
        rows += run((name,), **sel)
        if not getattr(args, "no_progress", False):
            print(f"sigmoid bench [{i}/{len(functions)}] {name}: {time.perf_counter() - t:.1f} s",
                  file=sys.stderr, flush=True)
    print(format_table(rows))
    return 0
