"""The examples of the documentation's pages run and print what the pages say.

Each page's ``>>>`` examples (in ```python or ```pycon blocks) run in order,
sharing their names, under ``np.errstate(all="raise")`` with warnings as
errors, as every test.  Blocks that use PyTorch are self-contained and run
separately, skipped where PyTorch is not installed.  (The figures are drawn
by the documentation build itself, which fails on an error.)  The bounds the
pages show are read from ``sigmoid._accuracy``, never written by hand.
"""
import doctest
import glob
import importlib.util
import io
import os
import re

import pytest

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")
_FENCE = re.compile(r"^```(?:python|pycon)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
_TORCH = re.compile(r"^\s*(>>>|\.\.\.) .*\b(import torch|from torch|sigmoid\.torch|sigmoid\.interop\.torch)\b", re.M)


def pages():
    found = glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True)
    return sorted(os.path.relpath(p, DOCS) for p in found if "_build" not in p and "generated" not in p)


def blocks(page, text=None):
    """The page's example blocks: (uses_torch, source), in order."""
    if text is None:
        with open(os.path.join(DOCS, page), encoding="utf-8") as f:
            text = f.read()
    return [(bool(_TORCH.search(b)), b) for b in _FENCE.findall(text) if ">>>" in b]


def run_examples(name, sources):
    """Run the blocks as one doctest sharing its names; return (tries, failures, report)."""
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    report = io.StringIO()
    globs = {"__name__": name}
    for i, source in enumerate(sources):
        test = parser.get_doctest(source, globs, f"{name}[block {i}]", name, 0)
        runner.run(test, out=report.write, clear_globs=False)
        globs = test.globs          # (a DocTest works on a copy) the next block sees these names
    return runner.tries, runner.failures, report.getvalue()


PAGES = [p for p in pages() if blocks(p)] if os.path.isdir(DOCS) else []


def test_the_guide_has_examples():
    """The pages that teach by example are found and parsed (the checks
    below cannot pass by finding nothing)."""
    if not os.path.isdir(DOCS):
        pytest.skip("docs/ is not next to the tests")
    for page in ("getting-started.md", "guide/functions.md", "guide/losses.md", "guide/gates.md",
                 "guide/models.md", "guide/interop.md"):
        assert page in PAGES, page
        assert sum(not t for t, _ in blocks(page)) >= 1, page


@pytest.mark.parametrize("page", PAGES)
def test_page_examples(page):
    sources = [b for uses_torch, b in blocks(page) if not uses_torch]
    if not sources:
        return  # this page's examples all use PyTorch: test_page_torch_examples runs them
    tries, failures, report = run_examples(page, sources)
    assert tries > 0, page
    assert failures == 0, report


def test_torch_examples():
    if not os.path.isdir(DOCS):
        pytest.skip("docs/ is not next to the tests")
    torch_blocks = [(page, b) for page in PAGES for uses_torch, b in blocks(page) if uses_torch]
    assert torch_blocks, "the interop guide shows sigmoid.torch"
    pytest.importorskip("torch", reason="PyTorch is not installed: the PyTorch examples of the docs are skipped")
    for i, (page, source) in enumerate(torch_blocks):
        tries, failures, report = run_examples(f"{page}[torch {i}]", [source])
        assert tries > 0 and failures == 0, report


def test_the_runner_reports_a_wrong_example():
    """A page whose example prints something else, or raises, fails."""
    text = "```python\n>>> 1 + 1\n3\n\n```\n\n```pycon\n>>> import numpy as np\n>>> np.float64(1) / 0\ninf\n\n```\n"
    found = blocks("x.md", text)
    assert [t for t, _ in found] == [False, False]
    tries, failures, _ = run_examples("x.md", [b for _, b in found])
    assert (tries, failures) == (3, 2)
    assert blocks("y.md", "```python\n>>> import torch\n\n```\n")[0][0] is True
    assert blocks("z.md", "```bash\n>>> not python\n```\n") == []


def undescribed_sections(text):
    """The tour's sections (``sigmoid.tour.SECTIONS``) that a page does not
    describe as a definition (a line ```key``` followed by ``: ...``)."""
    from sigmoid.tour import SECTIONS

    return [k for k in SECTIONS if not re.search(rf"^`{re.escape(k)}`\n: ", text, re.M)]


def test_the_tour_page_describes_every_section():
    if not os.path.isdir(DOCS):
        pytest.skip("docs/ is not next to the tests")
    with open(os.path.join(DOCS, "guide", "tour.md"), encoding="utf-8") as f:
        text = f.read()
    assert undescribed_sections(text) == []
    assert undescribed_sections(text.replace("`gates`\n:", "`gates`:")) == ["gates"]


# ------------------------------------------------------- the table of bounds

def tables():
    """docs/_ext/sigmoid_tables.py: what the pages render of sigmoid._accuracy."""
    if not os.path.isdir(DOCS):
        pytest.skip("docs/ is not next to the tests")
    spec = importlib.util.spec_from_file_location("sigmoid_tables", os.path.join(DOCS, "_ext", "sigmoid_tables.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(rows, name):
    """The text cells of the rows about sigmoid.<name>."""
    return [[c for c in r if not isinstance(c, tuple)] for r in rows if r[0][1].endswith(f".{name}")]


def test_the_rendered_bounds_are_read_from_the_table(monkeypatch):
    """Every function of sigmoid._accuracy has its row, and a bound changed
    in the table changes what the pages show (nothing is copied)."""
    from sigmoid import _accuracy as A

    T = tables()
    assert [r[0][1] for r in T.ufunc_rows()[1]] == [f"sigmoid.{n}" for n in A.UFUNCS]
    assert [r[0][1] for r in T.softmax_rows()[1]] == [f"sigmoid.{n}" for n in A.SOFTMAX]
    n_cases = sum(len(c) for c in A.LOSSES.values())
    assert len(T.loss_rows()[1]) == len(T.reduced_rows()[1]) == n_cases
    assert len(T.schedule_rows()[1]) == len(A.SCHEDULES)

    monkeypatch.setitem(A.UFUNCS["sigmoid"], "float32", 7)
    monkeypatch.setitem(A.SOFTMAX["log_softmax"], "bfloat16", 6)
    monkeypatch.setitem(A.LOSSES["binary_cross_entropy"]["any"], "float64", (5, 3))
    monkeypatch.setitem(A.SCHEDULES, "cosine", 9)
    header, rows = T.ufunc_rows()
    assert cells(rows, "sigmoid")[0][header.index("float32") - 1] == "7"
    assert T.ulp("ufuncs") == 7 and T.ulp("sigmoid float32") == 7 and T.ulp("sigmoid float64") == 1
    header, rows = T.softmax_rows()
    assert cells(rows, "log_softmax")[0][header.index("bfloat16") - 1] == "6"
    assert cells(T.loss_rows()[1], "binary_cross_entropy")[0][-2:] == ["5", "3"]
    assert cells(T.reduced_rows()[1], "binary_cross_entropy")[0][-1] == "6"     # one more than 5
    assert cells(T.schedule_rows()[1], "CosineSchedule")[0][0].startswith("9 ")
    with pytest.raises(ValueError, match="NAME DTYPE"):
        T.ulp("sigmoid float128")


# a bound stated in words or digits ("within one or two ULPs", "at most 4 ULP")
_HAND_BOUND = re.compile(r"\b(within|at most|up to)\s+(\d+|one|two|three|four|five)"
                         r"(\s+or\s+(\d+|one|two|three|four|five))?\s+ULPs?\b", re.I)
_CODE = re.compile(r"^(```|:::).*?^\1\s*$", re.S | re.M)


def hand_written_bounds(text):
    """The bounds a page's prose writes out instead of rendering them from
    sigmoid._accuracy (``{sigmoid-ulp}`...``` and the tables)."""
    return [m.group(0) for m in _HAND_BOUND.finditer(_CODE.sub("", text))]


def test_the_pages_quote_no_bound_by_hand():
    T = tables()
    texts = {}
    for page in pages():
        with open(os.path.join(DOCS, page), encoding="utf-8") as f:
            texts[page] = f.read()
    found = {p: hand_written_bounds(t) for p, t in texts.items() if hand_written_bounds(t)}
    assert not found, f"write {{sigmoid-ulp}}`...` or a {{sigmoid-accuracy}} table instead: {found}"
    for which in T.TABLES:
        assert f"```{{sigmoid-accuracy}} {which}\n" in texts["accuracy.md"], which
    # what the check catches, and what it leaves alone
    assert hand_written_bounds("every ufunc within one or two ULPs of it") == ["within one or two ULPs"]
    assert hand_written_bounds("stays within 1 ULP everywhere") == ["within 1 ULP"]
    assert hand_written_bounds("within {sigmoid-ulp}`ufuncs` ULP; 2²³ ULPs off") == []
    assert hand_written_bounds("```python\n>>> x  # within 1 ULP\n```\n") == []
