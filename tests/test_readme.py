"""The README's examples run and print what the README says."""
import doctest
import os
import subprocess
import sys

import numpy as np
import pytest

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_examples():
    if not os.path.exists(README):  # an installed copy of the tests without the sources
        pytest.skip("README.md is not next to the tests")
    with np.errstate(all="ignore"):
        result = doctest.testfile(README, module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0


def _table_rows(start, end):
    with open(README, encoding="utf-8") as f:
        text = f.read()
    i = text.index(start)
    block = text[i:text.index(end, i)]
    return [line for line in block.splitlines() if line.startswith("| ")]


def test_readme_accuracy_tables_show_the_table_of_bounds():
    """The README's bounds are the library's table (sigmoid._accuracy), the
    one the docstrings show and the tests assert: no number may drift."""
    import re

    if not os.path.exists(README):
        pytest.skip("README.md is not next to the tests")
    from sigmoid import _accuracy

    rows = _table_rows("<!-- start: accuracy -->", "### Losses")
    seen = set()
    for line in rows:
        m = re.match(r"\| `(\w+)` \|", line)
        if not m or m.group(1) not in _accuracy.UFUNCS:
            continue
        bold = [int(v) for v in re.findall(r"\*\*(\d+)\*\*", line)]
        b = _accuracy.UFUNCS[m.group(1)]
        assert b["float16"] == b["bfloat16"]  # one column shows both
        assert bold == [b["float32"], b["float64"], b["float16"]], line
        seen.add(m.group(1))
    assert seen == set(_accuracy.UFUNCS)

    names = {"BCE from logits": "bce_with_logits", "focal loss": "sigmoid_focal_loss"}
    checked = 0
    for line in _table_rows("Per element (`reduction=\"none\"`)", "<!-- end: accuracy -->"):
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = next((v for k, v in names.items() if cells[0].startswith(k)), None)
        if name is None or cells[1] not in ("float32", "float64"):
            continue
        case = "0/1" if cells[2].startswith("0 and 1") else "any"
        bold = tuple(int(re.search(r"\*\*(\d+)\*\*", c).group(1)) for c in cells[3:5])
        assert bold == _accuracy.loss_bound(name, case, cells[1]), line
        checked += 1
    assert checked == 8


@pytest.mark.slow
def test_the_constants_header_is_what_the_generator_writes():
    """The development section's `python tools/gen_constants.py >
    src/sigmoid/_kernels/consts.h` regenerates every table and coefficient:
    the committed header must be exactly what the script writes, or the
    next regeneration would silently change (or drop) constants the kernels
    were proved with."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    script = os.path.join(root, "tools", "gen_constants.py")
    header = os.path.join(root, "src", "sigmoid", "_kernels", "consts.h")
    if not (os.path.exists(script) and os.path.exists(header)):
        pytest.skip("tools/ and src/ are not next to the tests")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True).stdout
    with open(header, encoding="utf-8") as f:
        committed = f.read()
    assert out == committed
