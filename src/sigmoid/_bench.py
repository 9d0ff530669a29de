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
import os
import platform
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


def _operands(name: str, n: int, dtype, strided: bool, rng) -> Operands:
    step = 2 if strided else 1
    if name == "logit":
        base = rng.uniform(0.0, 1.0, n * step)
    elif name == "sigmoid_backward_from_output":
        base = 1 / (1 + np.exp(-5 * rng.standard_normal(n * step)))
    else:
        base = 5 * rng.standard_normal(n * step)
    x = base.astype(dtype)[::step]
    g = rng.standard_normal(n * step).astype(dtype)[::step]
    out = np.empty(n * step, dtype=dtype)[::step]
    return Operands(x, g, out)


def _peers(name: str, ops: Operands) -> dict[str, Callable[[], object] | None]:
    """name -> callable, or None when the peer is not installed."""
    x, g, out = ops.x, ops.g, ops.out
    scipy_special = _optional("scipy.special")
    torch = _optional("torch")
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
    dtypes=("float32", "float64"),
    sizes=(10**3, 10**5, 10**7),
    layouts=("contiguous", "strided"),
    threads: int | None = None,
    repeat: int = 7,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    torch = _optional("torch")
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
                        ops = _operands(name, n, np.dtype(dt), layout == "strided", rng)
                        ours = time_call(_ours(name, ops), repeat)
                        peers = {}
                        for pname, pf in _peers(name, ops).items():
                            peers[pname] = None if pf is None else time_call(pf, repeat) / n * 1e9
                        rows.append(Row(name, dt, n, layout, ours / n * 1e9, peers))
    finally:
        _core.set_num_threads(old)
        if torch is not None:
            torch.set_num_threads(old_torch)
    return rows


def format_table(rows: list[Row]) -> str:
    lines = []
    header = f"{'function':<30} {'dtype':<8} {'n':>9} {'layout':<10} {'ours ns/el':>10}  peers: ns/el (ours/peer)"
    lines.append(header)
    lines.append("-" * len(header))
    for r in rows:
        parts = []
        for pname, v in r.peers.items():
            if v is None:
                parts.append(f"{pname}: not installed")
            else:
                parts.append(f"{pname}: {v:.3f} ({r.ours_ns / v:.2f}x)")
        lines.append(
            f"{r.function:<30} {r.dtype:<8} {r.n:>9} {r.layout:<10} {r.ours_ns:>10.3f}  " + "; ".join(parts)
        )
    return "\n".join(lines)


def describe_machine(threads: int) -> str:
    torch = _optional("torch")
    scipy = _optional("scipy")
    return (
        f"sigmoid {_core._get_isa()} kernels, {threads} thread(s); "
        f"numpy {np.__version__}, scipy {getattr(scipy, '__version__', 'not installed')}, "
        f"torch {getattr(torch, '__version__', 'not installed')}; "
        f"{platform.machine()}, {os.cpu_count()} cpus"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sigmoid bench", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run_from_args(p.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--functions", default=",".join(ALL_FUNCTIONS), help="comma-separated (default: all)")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--sizes", default="1000,100000,10000000", help="comma-separated element counts")
    p.add_argument("--layouts", default="contiguous,strided")
    p.add_argument("--threads", type=int, default=None, help="threads for this library and torch (default: all cores)")
    p.add_argument("--repeat", type=int, default=7, help="samples per timing (median)")
    p.add_argument("--quick", action="store_true", help="sigmoid only, float32, 10^3 and 10^5, contiguous")


def run_from_args(args: argparse.Namespace) -> int:
    functions = tuple(f for f in args.functions.split(",") if f)
    unknown = [f for f in functions if f not in ALL_FUNCTIONS]
    if unknown:
        raise SystemExit(f"sigmoid bench: unknown function(s) {unknown}; choose from {', '.join(ALL_FUNCTIONS)}")
    sizes = tuple(int(float(s)) for s in args.sizes.split(","))
    dtypes = tuple(args.dtypes.split(","))
    layouts = tuple(args.layouts.split(","))
    if args.quick:
        functions, dtypes, sizes, layouts = ("sigmoid",), ("float32",), (10**3, 10**5), ("contiguous",)
    threads = args.threads if args.threads is not None else _core.get_num_threads()
    print(describe_machine(threads))
    rows = run(functions, dtypes, sizes, layouts, threads=threads, repeat=args.repeat)
    print(format_table(rows))
    return 0
