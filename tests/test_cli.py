"""The ``sigmoid`` command."""
import subprocess
import sys

import pytest

from sigmoid import cli


def test_bench_quick_prints_a_table(capsys):
    assert cli.main(["bench", "--quick", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "ours ns/el" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("sigmoid ") and "float32" in ln]
    assert len(lines) == 2  # 10^3 and 10^5
    assert "np.copyto (floor)" in out
    assert ("torch.sigmoid: not installed" in out) or ("torch.sigmoid: " in out and "x)" in out)


def test_bench_selection(capsys):
    assert cli.main(["bench", "--functions", "logit,hard_sigmoid", "--dtypes", "float64", "--sizes", "1000",
                     "--layouts", "strided", "--threads", "1", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "1 thread(s)" in out
    assert out.count("strided") == 2


def test_bench_rejects_unknown_functions():
    with pytest.raises(SystemExit, match="unknown function"):
        cli.main(["bench", "--functions", "tanh"])


def test_console_entry_point_and_module():
    r = subprocess.run([sys.executable, "-m", "sigmoid", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "bench" in r.stdout
    r = subprocess.run([sys.executable, "-m", "sigmoid"], capture_output=True, text=True)
    assert r.returncode == 2 and "required" in r.stderr
