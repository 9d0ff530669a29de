"""The tour's report: sections of measured claims and figures, written as one
HTML file (figures embedded, and saved as PNG files beside it)."""
from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field


@dataclass
class Claim:
    """A statement about sigma, the number measured for it, and whether the
    measurement bears it out."""

    text: str
    measured: str
    held: bool


@dataclass
class Figure:
    name: str        # file name stem
    alt: str         # what the figure shows, for readers who cannot see it
    png: bytes = b""


@dataclass
class Section:
    key: str
    title: str
    intro: str
    claims: list[Claim] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def png_of(fig) -> bytes:
    """A matplotlib figure as PNG bytes (and the figure closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.held { color: #106b21; font-weight: 600; }
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
             "<table>", "<thead><tr><th>section</th><th>claim</th><th>measured</th><th>held</th></tr></thead>",
             "<tbody>"]
    for s in sections:
        for c in s.claims:
            cls, word = ("held", "yes") if c.held else ("missed", "no")
            parts.append(f'<tr><td><a href="#{e(s.key)}">{e(s.title)}</a></td><td>{e(c.text)}</td>'
                         f'<td>{e(c.measured)}</td><td class="{cls}">{word}</td></tr>')
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
