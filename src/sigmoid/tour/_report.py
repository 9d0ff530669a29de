"""The tour's report: sections of measured claims and figures, written as one
HTML file (figures embedded, and saved as PNG files beside it), and the
verdicts that decide the claims.

Every claim of the tour is decided by one of the verdict functions below:
small pure functions of the measurement and of its reference (never this
library's own output standing in for the truth), one per kind of claim.
A verdict holds only when there was something to judge: an empty sample, a
NaN, a missing peer or a missing reference makes it "not held", never
vacuously held.
"""
from __future__ import annotations

import base64
import html
import io
import math
import operator
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Claim:
    """A statement about sigma, the number measured for it, whether the
    measurement bears it out, and the kind of verdict that decided it (one
    of :data:`VERDICTS`; empty for a claim that no verdict decided)."""

    text: str
    measured: str
    held: bool
    kind: str = ""


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}"


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def meets(text: str, measured: str, conditions: Sequence[tuple[str, float, str, float]]) -> Claim:
    """Verdict "bounds": each measured number on the right side of its limit.

    Parameters
    ----------
    text, measured : str
        The claim, and the measurement as the report shows it.
    conditions : sequence of (label, value, op, limit)
        ``value op limit`` with op one of ``<``, ``<=``, ``>``, ``>=``; the
        limit is the reference (a chance level, a published bound, another
        measured number).

    Returns
    -------
    Claim
        Held iff there is at least one condition and every value and limit
        is a finite number and every condition is true; the missed ones are
        named after the measurement.

    Examples
    --------
    >>> meets("accurate", "accuracy 0.97", [("accuracy", 0.97, ">=", 0.95)]).held
    True
    >>> c = meets("accurate", "accuracy 0.62", [("accuracy", 0.62, ">=", 0.95)])
    >>> c.held, c.measured
    (False, 'accuracy 0.62; missed: accuracy 0.62 >= 0.95')
    """
    missed = [f"{label} {_fmt(float(v)) if _finite(v) else v} {op} {_fmt(float(lim)) if _finite(lim) else lim}"
              for label, v, op, lim in conditions
              if not (_finite(v) and _finite(lim) and _OPS[op](float(v), float(lim)))]
    if not conditions:
        missed = ["nothing to judge"]
    return Claim(text, measured + (f"; missed: {', '.join(missed)}" if missed else ""), not missed, "bounds")


def every(text: str, measured: str, ok) -> Claim:
    """Verdict "for all": a property checked point by point.

    Held iff `ok` (one bool per point checked) is not empty and all true;
    otherwise the measurement says at how many points it failed.

    Examples
    --------
    >>> every("positive", "min 0.1", [True, True]).held
    True
    >>> every("positive", "nothing", []).measured
    'nothing; no point checked'
    """
    ok = np.asarray(ok, dtype=bool).ravel()
    if ok.size == 0:
        return Claim(text, measured + "; no point checked", False, "for all")
    bad = int(ok.size - np.count_nonzero(ok))
    return Claim(text, measured + (f"; fails at {bad:,} of {ok.size:,} points" if bad else ""), bad == 0, "for all")


def max_abs_difference(got, want) -> float:
    """max |got - want| in float64; inf when the shapes differ, nothing was
    measured, or a difference is not finite.

    Examples
    --------
    >>> max_abs_difference([1.0, 2.0], [1.0, 2.5])
    0.5
    >>> max_abs_difference([], [])
    inf
    """
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape or got.size == 0:
        return math.inf
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(got - want)
    return float(d.max()) if np.all(np.isfinite(d)) else math.inf


def agrees(text: str, sides: Mapping[str, tuple], tol: float, note: str = "") -> Claim:
    """Verdict "agreement": computed values against an independent reference.

    Parameters
    ----------
    sides : mapping of label to (got, want)
        Each measured array and its reference, same shape.
    tol : float
        The largest |got - want| allowed.
    note : str
        Appended to the measurement (e.g. how many points).

    Returns
    -------
    Claim
        Held iff `sides` is not empty and every max |got - want| (see
        :func:`max_abs_difference`) is at most `tol`.

    Examples
    --------
    >>> agrees("2 x = x + x", {"2 x": ([2.0], [2.0])}, 0.0).held
    True
    >>> c = agrees("2 x = x + x", {"2 x": ([2.0], [2.5])}, 0.1)
    >>> c.held, c.measured
    (False, 'max |difference|: 2 x 0.5 (tolerance 0.1)')
    """
    devs = {label: max_abs_difference(g, w) for label, (g, w) in sides.items()}
    held = bool(devs) and all(d <= tol for d in devs.values())
    shown = ", ".join(f"{label} {_fmt(d)}" for label, d in devs.items()) or "nothing measured"
    return Claim(text, f"max |difference|: {shown} (tolerance {_fmt(tol)}){note}", held, "agreement")


def ulp_distance(got, want) -> np.ndarray:
    """Per element, the distance from got to want counted in steps from one
    float of the dtype to the next (0: equal, 1: neighbours; -0 and +0
    equal); inf where either is NaN, or everywhere when the dtypes or
    shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> one = np.float32(1)
    >>> ulp_distance(np.array([one]), np.array([np.nextafter(one, np.float32(0))]))
    array([1.])
    """
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype or got.shape != want.shape or got.dtype not in (np.float32, np.float64):
        return np.full(got.shape if got.shape == want.shape else (1,), math.inf)
    shape = got.shape
    got, want = got.ravel(), want.ravel()        # array arithmetic: integer wrap-around is silent
    it = np.int32 if got.dtype == np.float32 else np.int64

    def order(a):   # sign-magnitude bits -> integers in the floats' order; -0 and +0 both to 0
        b = a.view(it).astype(np.int64)
        return np.where(b < 0, np.iinfo(it).min - b, b)

    ka, kb = order(got), order(want)
    same_sign = (ka >= 0) == (kb >= 0)      # then ka - kb cannot overflow
    d = np.where(same_sign, np.abs(ka - kb).astype(np.float64),
                 np.abs(ka.astype(np.float64)) + np.abs(kb.astype(np.float64)))
    d[np.isnan(got) | np.isnan(want)] = math.inf
    return d.reshape(shape)


def within_ulps(text: str, results: Mapping[str, np.ndarray], want: np.ndarray, bound: int, judged: str,
                note: str = "") -> Claim:
    """Verdict "accuracy": ULP distance to the correctly rounded reference.

    Parameters
    ----------
    results : mapping of name to array
        This library's results and the peers', all of `want`'s dtype; only
        `judged` decides, the others are shown.
    want : ndarray
        The correctly rounded values, from an independent reference.
    bound : int
        The largest distance allowed, in ulps.

    Returns
    -------
    Claim
        Held iff `judged` was measured on at least one input and its
        largest distance is at most `bound`.

    Examples
    --------
    >>> import numpy as np
    >>> want = np.array([0.5, 0.25], np.float32)
    >>> within_ulps("exact", {"ours": want.copy()}, want, 1, "ours").held
    True
    >>> off = np.nextafter(np.nextafter(want, 1), 1)
    >>> within_ulps("exact", {"ours": off}, want, 1, "ours").measured
    'max ulp: ours 2 (2 inputs)'
    """
    d = {k: ulp_distance(v, want) for k, v in results.items()}
    worst = {k: (float(v.max()) if v.size else math.inf) for k, v in d.items()}
    held = judged in worst and np.asarray(want).size > 0 and worst[judged] <= bound
    shown = ", ".join(f"{k} {int(v):,}" if _finite(v) else f"{k} not comparable" for k, v in worst.items())
    if judged not in worst:
        shown = f"{shown}; not measured: {judged}".lstrip("; ")
    return Claim(text, f"max ulp: {shown} ({np.asarray(want).size:,} inputs){note}", bool(held), "accuracy")


def peak(text: str, x, y, ceiling: float, at: float) -> Claim:
    """Verdict "ceiling": a sampled curve never exceeds `ceiling` and reaches
    it exactly, only at x = `at`.

    Held iff x and y have the same non-empty shape, y is finite, max y equals
    `ceiling` and every sample where it is reached has x = `at`.

    Examples
    --------
    >>> peak("peaks at 1/4", [-1, 0, 1], [0.2, 0.25, 0.2], 0.25, 0).held
    True
    >>> peak("peaks at 1/4", [-1, 0, 1], [0.2, 0.25, 0.26], 0.25, 0).measured
    'max 0.26 at x = 1'
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or y.size == 0 or not np.all(np.isfinite(y)):
        return Claim(text, "no finite values to judge", False, "ceiling")
    top = y.max()
    where = x[y == top]
    held = bool(top == ceiling and np.all(where == at))
    return Claim(text, f"max {float(top)!r} at x = {', '.join(f'{v:g}' for v in where[:3])}", held, "ceiling")


def same_points(text: str, points: Mapping[str, tuple], note: str = "") -> Claim:
    """Verdict "exact points": floats where this library does something
    (measured) against where the exact function does it (reference).

    Parameters
    ----------
    points : mapping of label to (measured, reference)
        A measured float, or None when it was not found, and the exact one.
    note : str
        Appended to the measurement.

    Returns
    -------
    Claim
        Held iff `points` is not empty and every measured float equals its
        reference.

    Examples
    --------
    >>> same_points("ends", {"1 from": (17.5, 17.5)}).held
    True
    >>> c = same_points("ends", {"1 from": (None, 17.5)})
    >>> c.held, c.measured
    (False, '1 from x = not found (exact: 17.5)')
    """
    held = bool(points) and all(m is not None and m == r for m, r in points.values())
    shown = "; ".join(f"{label} x = {'not found' if m is None else str(m)} (exact: {str(r)})"
                      for label, (m, r) in points.items())
    return Claim(text, (shown or "nothing measured") + note, held, "exact points")


def faster(text: str, ours_ns: float, peers: Mapping[str, float | None], required: Sequence[str],
           slack: float = 1.05) -> Claim:
    """Verdict "speed": this library's time per element against the peers the
    claim names.

    Parameters
    ----------
    ours_ns : float
        Our time per element.
    peers : mapping of peer name to ns per element, None if not installed
        Every peer measured in the same run; all are shown as ours/peer.
    required : sequence of str
        The peers the claim is about: each must have been measured.
    slack : float
        Ours may be this factor slower than a peer and still count as
        faster (timing noise).

    Returns
    -------
    Claim
        Held iff `required` is not empty, every required peer was measured
        and ours <= slack * peer for each; a required peer that was not
        measured is named ("not measured") and the claim is not held.

    Examples
    --------
    >>> faster("faster", 1.0, {"a": 2.0}, ["a"]).held
    True
    >>> c = faster("faster", 1.42, {"a": 1.0, "b": None}, ["a", "b", "c"])
    >>> c.held, c.measured
    (False, '1.420 ns per element; ours/peer: a 1.42x; not measured: b (not installed), c (not in this run)')
    """
    measured = {k: v for k, v in peers.items() if v is not None}
    ok = _finite(ours_ns) and ours_ns > 0
    missing = []
    for name in required:
        if name not in peers:
            missing.append(f"{name} (not in this run)")
        elif peers[name] is None:
            missing.append(f"{name} (not installed)")
        elif not (_finite(peers[name]) and peers[name] > 0):
            missing.append(f"{name} (no valid time)")
        elif not (ok and ours_ns <= slack * peers[name]):
            ok = False
    held = bool(required) and ok and not missing
    shown = f"{ours_ns:.3f} ns per element; ours/peer: " + ", ".join(
        f"{k} {ours_ns / v:.2f}x" for k, v in measured.items() if _finite(v) and v > 0)
    if missing:
        shown += "; not measured: " + ", ".join(missing)
    return Claim(text, shown, held, "speed")


#: the kinds of verdict, each decided by one function above
VERDICTS = {"bounds": meets, "for all": every, "agreement": agrees, "accuracy": within_ulps,
            "ceiling": peak, "exact points": same_points, "speed": faster}


@dataclass
class Figure:
    name: str        # file name stem
    alt: str         # what the figure shows, for readers who cannot see it
    png: bytes = b""


@dataclass
class Section:
    """One section of the report.  `headline` is the number the summary
    shows for it (its first claim's measurement, to the first ";", when
    empty)."""

    key: str
    title: str
    intro: str
    claims: list[Claim] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    headline: str = ""


def headline(s: Section) -> str:
    """What the summary shows of a section: its headline, or its first
    claim's measurement up to the first ";".

    Examples
    --------
    >>> headline(Section("k", "t", "i", [Claim("c", "max 0.25 at x = 0; more", True)]))
    'max 0.25 at x = 0'
    """
    if s.headline:
        return s.headline
    return s.claims[0].measured.split(";")[0] if s.claims else "no claim measured"


_DPI = 110
_PAD = 11           # pixels of white kept around the ink, 0.1 inch at _DPI
_BOTTOM = 0.5       # inches below the axes, room for the x labels' descenders


def png_of(fig) -> bytes:
    """A matplotlib figure as PNG bytes, cropped to its ink (and the figure
    closed).

    The figure is drawn once, its white margin cut off the pixels and a
    margin of 0.1 inch put back, which is what
    ``savefig(bbox_inches="tight")`` gives at three quarters of its cost (it lays
    every text out once more to find the box).  When the ink touches the
    figure's edge, so that something crosses it, the figure is saved the
    slow way, which widens the canvas to take it in.  An artist wholly
    outside the figure is not drawn, as with a plain ``savefig``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> png_of(plt.subplots(figsize=(2, 1))[0])[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    import matplotlib.pyplot as plt
    from PIL import Image           # a dependency of matplotlib's own

    try:
        if fig.get_layout_engine() is None:
            h = fig.get_size_inches()[1]
            fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, min(_BOTTOM / h, 0.3)))
        fig.set_dpi(_DPI)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        ink = (rgba[..., :3] < 250).any(axis=-1)
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        buf = io.BytesIO()
        if rows.size and (rows[0] == 0 or cols[0] == 0 or rows[-1] == ink.shape[0] - 1
                          or cols[-1] == ink.shape[1] - 1):
            fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
            return buf.getvalue()
        rgb = rgba[..., :3]
        if rows.size:           # the ink, and a white margin of _PAD pixels around it
            rgb = np.pad(rgb[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], ((_PAD, _PAD), (_PAD, _PAD), (0, 0)),
                         constant_values=255)
        Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.held { color: #106b21; font-weight: 600; }
table.summary td:nth-child(1) { text-align: right; }
.missed { color: #a11; font-weight: 600; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9rem; color: #444; }
code { background: #f5f5f5; padding: 0 .2rem; }
"""


def write(sections: list[Section], out_dir: str, header: str) -> str:
    """Write ``index.html`` and the PNG figures into ``out_dir``; return the
    path of the HTML file."""
    os.makedirs(out_dir, exist_ok=True)
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>The sigmoid, measured</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             "<h1>The sigmoid, measured</h1>", f"<p>{e(header)}</p>", "<h2>Summary</h2>",
             '<table class="summary">',
             "<thead><tr><th>#</th><th>section</th><th>headline</th><th>claims held</th></tr></thead>",
             "<tbody>"]
    for s in sections:
        number, _, title = s.title.partition(". ")
        if not title:
            number, title = "", s.title
        n_held = sum(c.held for c in s.claims)
        ok = bool(s.claims) and n_held == len(s.claims)
        missed = [c.text for c in s.claims if not c.held]
        word = (f"{n_held} of {len(s.claims)}" + ("" if ok else
                "; not held: " + "; ".join(missed) if missed else "; no claim"))
        parts.append(f'<tr><td>{e(number)}</td><td><a href="#{e(s.key)}">{e(title)}</a></td>'
                     f'<td>{e(headline(s))}</td><td class="{"held" if ok else "missed"}">{e(word)}</td></tr>')
    parts += ["</tbody>", "</table>"]
    for s in sections:
        parts.append(f'<section id="{e(s.key)}">')
        parts.append(f"<h2>{e(s.title)}</h2>")
        parts.append(f"<p>{e(s.intro)}</p>")
        if s.claims:
            parts.append("<ul>")
            for c in s.claims:
                cls = "held" if c.held else "missed"
                parts.append(f'<li>{e(c.text)}: <strong>{e(c.measured)}</strong> '
                             f'<span class="{cls}">({"held" if c.held else "not held"})</span></li>')
            parts.append("</ul>")
        for f in s.figures:
            fname = f"{f.name}.png"
            with open(os.path.join(out_dir, fname), "wb") as fh:
                fh.write(f.png)
            data = base64.b64encode(f.png).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{e(f.alt)}">'
                         f'<figcaption>{e(f.alt)} (<a href="{e(fname)}">{e(fname)}</a>)</figcaption></figure>')
        for n in s.notes:
            parts.append(f"<p>{e(n)}</p>")
        parts.append(f"<p><small>measured in {s.seconds:.1f} s</small></p>")
        parts.append("</section>")
    parts += ["</body>", "</html>"]
    path = os.path.join(out_dir, "index.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts) + "\n")
    return path
