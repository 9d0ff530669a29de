"""The ``sigmoid`` command."""
import re
import subprocess
import sys

import pytest

from sigmoid import cli

_ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+([0-9.]+)\s+(.*)$")
_PEER = re.compile(r"([^;:]+): (?:not installed|([0-9.]+) \(([0-9.]+)x\))")


def _check_row(line):
    """A row's printed ratios are ours / peer of its printed times (to the
    printed digits); returns {peer: ns per element, or None if missing}."""
    row = _ROW.match(line)
    assert row, line
    ours = float(row.group(5))
    assert ours > 0, line
    found = {}
    for m in _PEER.finditer(row.group(6)):
        name = m.group(1).strip()
        if m.group(2) is None:
            found[name] = None
            continue
        peer, ratio = float(m.group(2)), float(m.group(3))
        assert peer > 0, line
        # both times are rounded to 3 decimals, the ratio to 2
        lo = (ours - 5e-4) / (peer + 5e-4)
        hi = (ours + 5e-4) / max(peer - 5e-4, 1e-12)
        assert lo - 5e-3 <= ratio <= hi + 5e-3, (name, ours, peer, ratio)
        found[name] = peer
    assert found, line
    return found


def test_bench_quick_prints_a_table(capsys):
    assert cli.main(["bench", "--quick", "--repeat", "3"]) == 0
    out = capsys.readouterr().out
    assert "ours ns/el" in out
    lines = [ln for ln in out.splitlines() if ln.startswith("sigmoid ") and "float32" in ln]
    assert [ln.split()[2] for ln in lines] == ["1000", "100000"]
    for ln in lines:
        peers = _check_row(ln)
        assert peers.get("np.copyto (floor)") is not None
        assert "numpy 1/(1+exp(-x))" in peers and "torch.sigmoid" in peers and "scipy.expit" in peers
        try:
            import torch  # noqa: F401
        except ImportError:
            assert peers["torch.sigmoid"] is None
        else:
            assert peers["torch.sigmoid"] is not None


def test_row_check_catches_a_wrong_ratio():
    good = "sigmoid  float32  1000 contiguous  0.683  np.exp: 0.726 (0.94x); np.copyto (floor): 0.347 (1.97x)"
    assert _check_row(good) == {"np.exp": 0.726, "np.copyto (floor)": 0.347}
    with pytest.raises(AssertionError):
        _check_row(good.replace("(0.94x)", "(1.06x)"))   # peer / ours instead of ours / peer


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
