"""The ``sigmoid`` command: ``sigmoid bench`` and ``sigmoid --version``
(``sigmoid tour`` is tested in test_tour.py)."""
import importlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import sigmoid
from sigmoid import _bench, _core, cli


def _blocks(out):
    """The compact table as {function: [(dtype, n, layout, ours, {peer: ratio or None})]}."""
    found = {}
    for block in out.split("\n\n"):
        lines = block.strip().splitlines()
        head = [ln for ln in lines if ": ns per element, and ours/peer" in ln]
        if not head:
            continue
        name = head[0].split(":")[0]
        i = lines.index(head[0])
        peers = re.split(r"\s{2,}", lines[i + 1].split("ours ns", 1)[1].strip())
        rows = []
        for ln in lines[i + 2:]:
            if ln.startswith("not installed:"):
                continue
            cells = ln.split()
            ratios = [None if c == "-" else float(c.rstrip("x")) for c in cells[4:]]
            assert len(ratios) == len(peers), ln
            rows.append((cells[0], float(cells[1]), cells[2], float(cells[3]), dict(zip(peers, ratios))))
        found[name] = rows
    return found


def test_the_table_shows_ours_over_each_peer():
    # ratios computed here from the rows' times, not by the formatter
    rows = [_bench.Row("sigmoid", "float32", 1000, "contiguous", 0.5, {"a": 2.0, "peer b": None, "c": 0.4}),
            _bench.Row("sigmoid", "float64", 10**7, "strided", 3.0, {"a": 1.5, "peer b": 6.0, "c": 3.0}),
            _bench.Row("logit", "float32", 10**5, "contiguous", 1.0, {"d": 4.0})]
    got = _blocks(_bench.format_table(rows))
    assert list(got) == ["sigmoid", "logit"]
    for r, (dt, n, layout, ours, ratios) in zip(rows, got["sigmoid"] + got["logit"]):
        assert (dt, n, layout, ours) == (r.dtype, r.n, r.layout, r.ours_ns)
        want = {k: None if v is None else round(r.ours_ns / v, 2) for k, v in r.peers.items()}
        assert ratios == want
    assert "not installed: peer b" in _bench.format_table(rows)


def test_the_table_check_catches_a_wrong_ratio():
    rows = [_bench.Row("sigmoid", "float32", 1000, "contiguous", 0.5, {"a": 2.0})]
    table = _bench.format_table(rows)
    assert _blocks(table)["sigmoid"][0][4] == {"a": 0.25}
    assert _blocks(table.replace("0.25x", "4.00x"))["sigmoid"][0][4] != {"a": 0.25}    # peer / ours


def test_bench_quick_prints_a_table_and_a_line_per_function(capsys):
    assert cli.main(["bench", "--quick"]) == 0
    cap = capsys.readouterr()
    got = _blocks(cap.out)
    assert list(got) == ["sigmoid"]
    assert [r[:3] for r in got["sigmoid"]] == [("float32", 1e3, "contiguous"), ("float32", 1e5, "contiguous")]
    for r in got["sigmoid"]:
        assert r[3] > 0 and r[4]["np.copyto (floor)"] > 0
        assert {"scipy.expit", "numpy 1/(1+exp(-x))", "torch.sigmoid"} <= set(r[4])
    assert re.fullmatch(r"sigmoid bench \[1/1\] sigmoid: [0-9.]+ s\n", cap.err)


def test_bench_selection_and_the_expit_alias(capsys):
    assert cli.main(["bench", "--functions", "logit,expit,hard_sigmoid,sigmoid", "--dtypes", "float64",
                     "--sizes", "1e3", "--layouts", "strided", "--threads", "1", "--repeat", "1"]) == 0
    cap = capsys.readouterr()
    assert "1 thread(s)" in cap.out
    got = _blocks(cap.out)
    assert list(got) == ["logit", "sigmoid", "hard_sigmoid"]      # expit is sigmoid, timed once
    assert all(len(v) == 1 and v[0][:3] == ("float64", 1e3, "strided") for v in got.values())
    assert [ln.split("] ")[1].split(":")[0] for ln in cap.err.splitlines()] == ["logit", "sigmoid", "hard_sigmoid"]


@pytest.mark.parametrize("layout, in_step, out_step", [("contiguous", 1, 1), ("strided", 2, 2), ("strided-in", 2, 1)])
def test_bench_layouts(layout, in_step, out_step):
    """"strided" steps through every second element of the inputs and of the
    output, "strided-in" through the inputs' only (f(x[::2]))."""
    ops = _bench._operands("silu_backward", 5, np.dtype(np.float32), layout, np.random.default_rng(0))
    assert ops.x.shape == ops.g.shape == ops.out.shape == (5,)
    assert ops.x.strides == ops.g.strides == (4 * in_step,) and ops.out.strides == (4 * out_step,)


@pytest.mark.parametrize("args, says", [
    (["--sizes", "abc"], "--sizes: 'abc' is not a number of elements"),
    (["--sizes", "1000,0"], "--sizes: '0'"),
    (["--sizes", "1.5"], "--sizes: '1.5'"),
    (["--layouts", "diagonal"], "--layouts: unknown ['diagonal']"),
    (["--dtypes", "float8"], "--dtypes: unknown ['float8']"),
    (["--functions", "tanh"], "--functions: unknown ['tanh']"),
    (["--functions", ","], "--functions: nothing chosen"),
    (["--repeat", "0"], "--repeat must be at least 1"),
    (["--threads", "0"], "--threads must be at least 1"),
])
def test_bench_rejects_bad_options_before_timing(monkeypatch, capsys, args, says):
    def no_timing(*a, **k):
        raise AssertionError("timed before the options were checked")

    monkeypatch.setattr(_bench, "run", no_timing)
    assert cli.main(["bench", *args]) == 2
    cap = capsys.readouterr()
    assert says in cap.err and cap.out == ""


@pytest.mark.parametrize("kw, says", [
    (dict(layouts=("diagonal",)), "layouts: unknown ['diagonal']"),
    (dict(layouts="strided"), "layouts must be a sequence of names, not the string 'strided'"),
    (dict(functions=("expit",)), "functions: unknown ['expit']"),
    (dict(dtypes=("bfloat16",)), "dtypes: unknown ['bfloat16']"),
    (dict(sizes=(1000, 0)), "sizes: [0]"),
    (dict(sizes=(1e3,)), "sizes: [1000.0]"),
    (dict(repeat=0), "repeat must be an integer of at least 1, not 0"),
    (dict(threads=0), "threads must be an integer of at least 1, not 0"),
])
def test_bench_run_checks_its_arguments_before_timing(monkeypatch, kw, says):
    """A direct call of the benchmark names what is wrong instead of timing
    something else (an unknown layout was once timed as a strided input)."""
    def no_timing(*a, **k):
        raise AssertionError("timed before the arguments were checked")

    monkeypatch.setattr(_bench, "time_call", no_timing)
    with pytest.raises(ValueError, match=r"^sigmoid\._bench\.run: ") as e:
        _bench.run(**{"sizes": (1000,), "repeat": 1, **kw}, torch_too=False)
    assert says in str(e.value)


def test_bench_operands_refuse_an_unknown_layout():
    with pytest.raises(ValueError, match="layout 'diagonal' is unknown"):
        _bench._operands("sigmoid", 5, np.dtype(np.float32), "diagonal", np.random.default_rng(0))


def test_bench_ufuncs_markdown_checks_the_options(monkeypatch, tmp_path, capsys):
    """benchmarks/bench_ufuncs.py --markdown takes the options through the
    same checks as `sigmoid bench`, and the run gets them as checked."""
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
    bench = importlib.import_module("bench_ufuncs")
    calls = []
    monkeypatch.setattr(_bench, "run", lambda **k: calls.append(k) or [])
    out = tmp_path / "t.md"
    assert bench.main(["--markdown", str(out), "--layouts", "diagonal"]) == 2
    assert "--layouts: unknown ['diagonal']" in capsys.readouterr().err and calls == [] and not out.exists()
    assert bench.main(["--markdown", str(out), "--functions", "expit", "--sizes", "1e3", "--layouts",
                       "strided-in", "--dtypes", "float32", "--threads", "1", "--repeat", "2"]) == 0
    assert [(k["functions"], k["sizes"], k["layouts"], k["dtypes"], k["threads"], k["repeat"]) for k in calls] == [
        (("sigmoid",), (1000,), ("strided-in",), ("float32",), 1, 2)]
    assert out.exists()


def test_version():
    r = subprocess.run([sys.executable, "-m", "sigmoid", "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.strip() == f"sigmoid {sigmoid.__version__} ({_core._get_isa()} kernels, numpy {np.__version__})"


def test_console_entry_point_and_module():
    r = subprocess.run([sys.executable, "-m", "sigmoid", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "bench" in r.stdout and "--version" in r.stdout
    r = subprocess.run([sys.executable, "-m", "sigmoid"], capture_output=True, text=True)
    assert r.returncode == 2 and "required" in r.stderr


def test_the_examples_of_the_bench_run():
    import doctest

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for obj in (_bench.format_table, _bench.selection, cli.version_line):
        test = doctest.DocTestParser().get_doctest(obj.__doc__, dict(vars(sys.modules[obj.__module__])),
                                                   obj.__name__, None, 0)
        assert test.examples, obj.__name__
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
