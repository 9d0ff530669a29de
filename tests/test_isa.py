"""Which kernel tables this machine offers, and how SIGMOID_ISA picks one."""
import os
import platform
import subprocess
import sys

from sigmoid import _core

X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def _cpu_has_fma():
    """Whether /proc/cpuinfo lists the fma flag (None where there is none)."""
    if not os.path.exists("/proc/cpuinfo"):
        return None
    with open("/proc/cpuinfo") as f:
        return "fma" in f.read().split()


def _isa_in_subprocess(value):
    env = dict(os.environ, SIGMOID_ISA=value)
    r = subprocess.run([sys.executable, "-c", "from sigmoid import _core; print(_core._get_isa())"],
                       capture_output=True, text=True, env=env, check=True)
    return r.stdout.strip()


def test_x86_64_offers_sse2_below_the_fma_tables():
    """Every x86-64 CPU has SSE2: its table comes after avx512/avx2 (when the
    CPU has them), before portable when the CPU has no FMA unit (libm's fma
    is software there) and after it when it has one; other machines have the
    portable table only."""
    isas = _core._supported_isas().split(",")
    if X86_64:
        has_fma = _cpu_has_fma()
        assert sorted(isas[-2:]) == ["portable", "sse2"], isas
        assert set(isas[:-2]) <= {"avx512", "avx2"}, isas
        if has_fma is not None:
            assert isas[-2:] == (["portable", "sse2"] if has_fma else ["sse2", "portable"]), isas
    else:
        assert isas == ["portable"], isas


def test_sigmoid_isa_selects_each_offered_table_and_the_default_is_the_first():
    isas = _core._supported_isas().split(",")
    for isa in isas:
        assert _isa_in_subprocess(isa) == isa
    assert _isa_in_subprocess("") == isas[0]
