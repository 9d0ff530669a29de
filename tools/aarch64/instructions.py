"""Instructions executed per element by the kernels, counted under qemu.

Builds count.c with the kernels three ways -- aarch64 (the portable table:
NEON), x86-64 AVX2 and x86-64 SSE2 -- runs each under qemu-user with its
translation-block log (`-d in_asm,exec,nochain`), and counts the guest
instructions executed outside main() for N and 2N elements; the difference
divided by N is the count per element of the steady state (the set-up and
the block tails cancel).  Inputs are uniform on [-20, 20].  Kernels: sigma
float32 and float64, and the fused BCE with logits and its gradient
(float32 and float64, the loss kernel of the table).  Needs
gcc-aarch64-linux-gnu and qemu-user (qemu-x86_64 7.2 or later runs AVX2):

    python tools/aarch64/instructions.py
"""
import os
import re
import subprocess
import sys
import tempfile

from sources import KDIR, kernel_sources

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["sigmoid float32", "sigmoid float64", "bce+grad float32", "bce+grad float64"]
BUILDS = {   # name: (compiler, flags, qemu)
    "aarch64 NEON": ("aarch64-linux-gnu-gcc", ["-DSIG_ISA=0"], ["qemu-aarch64"]),
    "x86-64 AVX2": ("gcc", ["-DSIG_ISA=2", "-DTABLE=sig_kernels_avx2", "-mavx2", "-mfma", "-mf16c"],
                    ["qemu-x86_64", "-cpu", "max"]),
    "x86-64 SSE2": ("gcc", ["-DSIG_ISA=1", "-DTABLE=sig_kernels_sse2"], ["qemu-x86_64", "-cpu", "max"]),
}
N = 40_000


def executed(qemu, exe, kind, n, log):
    """Guest instructions executed outside main() by `exe kind n`."""
    subprocess.run(qemu + ["-d", "in_asm,exec,nochain", "-D", log, exe, str(kind), str(n)],
                   check=True, capture_output=True)
    size, cur, total = {}, None, 0
    with open(log) as f:
        for line in f:
            m = re.match(r"0x([0-9a-f]+):\s", line)
            if m:
                if cur is None:
                    cur = int(m.group(1), 16)
                    size[cur] = 0
                size[cur] += 1
            elif line.startswith("Trace"):
                m = re.search(r"\[[0-9a-f]+/([0-9a-f]+)/[^\]]*\]\s*(\S*)", line)
                if m.group(2) != "main":
                    total += size[int(m.group(1), 16)]
            else:
                cur = None
    os.remove(log)
    return total


def main():
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        for name, (cc, flags, qemu) in BUILDS.items():
            exe = os.path.join(d, name.replace(" ", "_"))
            subprocess.run([cc, "-O3", "-std=gnu11", "-static", "-ffp-contract=off", "-fno-math-errno", *flags,
                            "-I", KDIR, os.path.join(HERE, "count.c")]
                           + kernel_sources()
                           + ["-o", exe, "-lm"], check=True)
            log = os.path.join(d, "log")
            rows[name] = [(executed(qemu, exe, k, 2 * N, log) - executed(qemu, exe, k, N, log)) / N
                          for k in range(len(KINDS))]
    print(f"{'instructions per element':<26}" + "".join(f"{b:>15}" for b in BUILDS))
    for k, kind in enumerate(KINDS):
        print(f"{kind:<26}" + "".join(f"{rows[b][k]:>15.1f}" for b in BUILDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
