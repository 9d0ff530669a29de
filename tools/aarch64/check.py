"""The portable kernels on aarch64, bit for bit against this machine.

Cross-compiles the portable kernels (and harness.c) for aarch64, runs them
under qemu-aarch64 on 200,000 inputs per dtype (every binade, the edges,
random gradients) and compares every result with the installed library.
Needs Debian's gcc-aarch64-linux-gnu and qemu-user:

    apt-get install gcc-aarch64-linux-gnu qemu-user
    python tools/aarch64/check.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import reference as R  # noqa: E402
import samples  # noqa: E402
import sigmoid  # noqa: E402


def main():
    kdir = os.path.join(ROOT, "src", "sigmoid", "_kernels")
    rng = np.random.default_rng(5)
    n = 200_000
    x64 = np.concatenate([samples.args("sigmoid", np.float64, 40, rng)[0], rng.uniform(-2, 2, n // 4),
                          rng.uniform(0, 1, n // 4)])
    x64 = np.resize(x64, n)
    g64 = rng.standard_normal(n) * np.exp2(rng.integers(-30, 30, n))
    with np.errstate(all="ignore"):
        x32, g32 = x64.astype(np.float32), g64.astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "harness")
        subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-std=c11", "-ffp-contract=off", "-fno-math-errno",
                        "-DSIG_ISA=0", "-I", kdir, "-static", os.path.join(HERE, "harness.c"),
                        os.path.join(kdir, "kernels.c"), "-o", exe, "-lm"], check=True)
        files = []
        for a, name in [(x32, "x32"), (g32, "g32"), (x64, "x64"), (g64, "g64")]:
            files.append(os.path.join(d, name + ".bin"))
            a.tofile(files[-1])
        subprocess.run(["qemu-aarch64", exe, str(n), *files, os.path.join(d, "arm")], check=True)
        differ = 0
        for i, name in enumerate(R.FUNCTIONS_1 + R.FUNCTIONS_2):
            binary = name in R.FUNCTIONS_2
            for dt, x, g, off in [(np.float32, x32, g32, 0), (np.float64, x64, g64, 100)]:
                k = (200 if binary else 0) + off + (i - len(R.FUNCTIONS_1) if binary else i)
                arm = np.fromfile(os.path.join(d, f"arm_{k}.bin"), dt)
                with np.errstate(all="ignore"):
                    here = getattr(sigmoid, name)(*((x, g) if binary else (x,)))
                itype = np.int32 if dt == np.float32 else np.int64
                same = (arm.view(itype) == here.view(itype)) | (np.isnan(arm) & np.isnan(here))
                differ += int((~same).sum())
                print(f"{name:<30} {dt.__name__:<8} {'identical' if same.all() else f'{(~same).sum()} differ'}")
    total = 2 * n * len(R.FUNCTIONS_1 + R.FUNCTIONS_2)
    print(f"aarch64 (qemu) against {sigmoid._core._get_isa()} here: {differ} differences in {total} results")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
