"""Directives that render parts of the documentation from the code itself, so
that they cannot drift from it:

``.. sigmoid-accuracy:: ufuncs | losses | reduced | softmax | schedules``
    a table of the library's error bounds, read from the one table
    ``sigmoid._accuracy`` (which the docstrings and the tests also read;
    ``sigmoid_tables.py`` has the rows);
``:sigmoid-ulp:`ufuncs``` or ``:sigmoid-ulp:`NAME DTYPE```
    one bound of that table in the prose (the largest of the ufuncs', or
    one function's), so that a sentence cannot quote a stale number;
``.. sigmoid-cli:: [subcommand]``
    the ``--help`` text of the ``sigmoid`` command, as argparse prints it.
"""
from __future__ import annotations

import contextlib
import io
import os

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx import addnodes

from sigmoid_tables import TABLES, ulp


def _ref(role: str, target: str) -> nodes.Node:
    """A cross-reference to a Python object, shown by its short name."""
    short = target.rsplit(".", 1)[-1]
    return addnodes.pending_xref("", nodes.literal(short, short), refdomain="py", reftype=role,
                                 reftarget=target, refexplicit=False, refwarn=True)


def _cell(content) -> nodes.entry:
    entry = nodes.entry()
    para = nodes.paragraph()
    para += _ref(*content) if isinstance(content, tuple) else nodes.Text(str(content))
    entry += para
    return entry


def _table(header: list[str], rows: list[list]) -> nodes.table:
    """A docutils table (the same in Markdown and reStructuredText pages);
    a cell is text or a (role, target) cross-reference."""
    table = nodes.table(classes=["sigmoid-accuracy"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    line = nodes.row()
    for h in header:
        line += _cell(h)
    head += line
    for r in rows:
        if len(r) != len(header):
            raise ValueError(f"a row of {len(r)} cells under {len(header)} columns: {r}")
        line = nodes.row()
        for c in r:
            line += _cell(c)
        body += line
    return table


class AccuracyTable(Directive):
    """A table of bounds from ``sigmoid._accuracy``."""

    required_arguments = 1
    has_content = False

    def run(self):
        which = self.arguments[0]
        if which not in TABLES:
            raise self.error(f"sigmoid-accuracy: unknown table {which!r}; choose from {', '.join(TABLES)}")
        header, rows = TABLES[which]()
        if not rows:
            raise self.error(f"sigmoid-accuracy: the table {which!r} of sigmoid._accuracy is empty")
        return [_table(header, rows)]


def cli_help(words: list[str]) -> str:
    """What ``sigmoid <words> --help`` prints, 80 columns wide."""
    from sigmoid.cli import main

    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"
    try:
        with contextlib.redirect_stdout(out):
            try:
                main(words + ["--help"])
            except SystemExit as e:
                if e.code not in (0, None):
                    raise RuntimeError(f"sigmoid {' '.join(words)} --help exited with {e.code}") from None
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    text = out.getvalue().rstrip()
    if not text.startswith("usage:"):
        raise RuntimeError(f"sigmoid {' '.join(words)} --help printed no usage")
    return text


class CliHelp(Directive):
    """The help of the ``sigmoid`` command or of one of its subcommands."""

    optional_arguments = 1
    has_content = False
    option_spec = {"caption": directives.unchanged}

    def run(self):
        words = self.arguments[0].split() if self.arguments else []
        try:
            text = cli_help(words)
        except Exception as e:      # reported as a build warning, an error under -W
            raise self.error(f"sigmoid-cli: {e}") from None
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def ulp_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:sigmoid-ulp:`...```: the number, from ``sigmoid._accuracy``."""
    try:
        value = ulp(text)
    except ValueError as e:
        msg = inliner.reporter.error(f"sigmoid-ulp: {e}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.Text(str(value))], []


def setup(app):
    app.add_directive("sigmoid-accuracy", AccuracyTable)
    app.add_role("sigmoid-ulp", ulp_role)
    app.add_directive("sigmoid-cli", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
