"""The portable kernels on aarch64, bit for bit against this machine.

On aarch64 the portable table is NEON code with NEON's FMA (simd.h); no
kernel calls fmaf or fma there (`aarch64-linux-gnu-objdump -d` of the
objects shows no call, and instructions.py counts what runs).
Cross-compiles the portable kernels (and harness.c) for aarch64, runs them
under qemu-aarch64 on 200,000 inputs per dtype and compares every result
with the installed library.  The functions of a real x get every binade of
both signs of their dtype, the edges, and uniform values in [-2, 2] and
[-40, 40]; logit and sigmoid_backward_from_output, defined on [0, 1], get
inputs of their own (a second run of the harness): every binade of p and of
1 - p, uniform values in [0, 1], the edges, and a few values outside [0, 1]
(negative, above 1, infinities and NaN).  The gradients get random
grad_output over 60 binades.  The loss kernels (BCE from logits, with and
without label smoothing, three focal losses, BCE on probabilities) get the
same inputs as logits or probabilities, with targets 0, 1, uniform and down
to 2^-1000; their losses are compared everywhere, their gradients where the
library does not recompute them in scalar double-double (loss.c).  Each
line gives how many results were compared and how many of them are NaN on
both sides.
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
from sources import KDIR, kernel_sources  # noqa: E402

N = 200_000
ON_0_1 = ("logit", "sigmoid_backward_from_output")      # functions of a probability


def _filled(parts, dt, rng, filler):
    """The concatenated `parts` in `dt`, then `filler(k)` up to N values."""
    x = np.concatenate(parts).astype(dt)
    assert x.size <= N, (x.size, N)
    return np.concatenate([x, filler(N - x.size).astype(dt)])


def _hard(names):
    """The float32 inputs nearest a rounding boundary (samples.HARD_FLOAT32)
    of these functions: where the correctly rounded kernels take their rare
    paths (a table; the float64 kernel; double-double)."""
    return np.array([float.fromhex(h) for n in names for h in samples.HARD_FLOAT32.get(n, [])])


def real_inputs(dt, rng):
    per = {np.float32: 120, np.float64: 20}[dt]
    return _filled([samples.args("sigmoid", dt, per, rng)[0], rng.uniform(-2, 2, N // 5),
                    rng.uniform(-40, 40, N // 5), _hard(R.FUNCTIONS_1)], dt, rng,
                   lambda k: 8 * rng.standard_normal(k))


def probability_inputs(dt, rng):
    per = {np.float32: 200, np.float64: 20}[dt]
    outside = np.array([-0.0, -1e-30, -0.5, -1.0, 1.0 + 2**-20, 1.5, 2.0, 1e30, np.inf, -np.inf, np.nan])
    return _filled([samples.args("logit", dt, per, rng)[0],
                    samples.args("sigmoid_backward_from_output", dt, per, rng)[0], outside, _hard(ON_0_1)], dt,
                   rng, lambda k: rng.uniform(0, 1, k))


def gradients(dt, rng):
    with np.errstate(over="ignore", under="ignore"):
        return (rng.standard_normal(N) * np.exp2(rng.integers(-30, 30, N))).astype(dt)


def targets(dt, rng):
    y = np.where(rng.random(N) < 0.5, rng.integers(0, 2, N), rng.uniform(0, 1, N))
    tiny = rng.random(N) < 0.05
    with np.errstate(under="ignore"):
        y[tiny] = np.exp2(-rng.uniform(1, 1000 if dt == np.float64 else 140, int(tiny.sum())))
    return y.astype(dt)


# the harness's loss cases, in its order: (name, kind of input, call)
LOSSES = [
    ("bce_with_logits", "real", lambda x, y: sigmoid.bce_with_logits_and_grad(x, y, reduction="none")),
    ("bce_with_logits s=0.1", "real",
     lambda x, y: sigmoid.bce_with_logits_and_grad(x, y, label_smoothing=0.1, reduction="none")),
    ("focal 0.25, 2", "real",
     lambda x, y: sigmoid.sigmoid_focal_loss_and_grad(x, y, alpha=0.25, gamma=2.0, reduction="none")),
    ("focal None, 0.5", "real",
     lambda x, y: sigmoid.sigmoid_focal_loss_and_grad(x, y, alpha=None, gamma=0.5, reduction="none")),
    ("focal 0.4, 0.3", "real",
     lambda x, y: sigmoid.sigmoid_focal_loss_and_grad(x, y, alpha=0.4, gamma=0.3, reduction="none")),
    ("binary_cross_entropy", "prob",
     lambda q, y: (sigmoid.binary_cross_entropy(q, y, reduction="none"),
                   sigmoid.binary_cross_entropy_backward(q, y, reduction="none"))),
]


def compare(arm, here, itype, mask=None):
    both_nan = np.isnan(arm) & np.isnan(here)
    same = (arm.view(itype) == here.view(itype)) | both_nan
    if mask is not None:
        same, both_nan = same[mask], both_nan[mask]
    return same, both_nan


def run_harness(exe, d, prefix, x32, g32, x64, g64, y32, y64):
    files = []
    for a, name in [(x32, "x32"), (g32, "g32"), (x64, "x64"), (g64, "g64"), (y32, "y32"), (y64, "y64")]:
        files.append(os.path.join(d, f"{prefix}_{name}.bin"))
        a.tofile(files[-1])
    subprocess.run(["qemu-aarch64", exe, str(N), *files[:4], os.path.join(d, prefix), *files[4:]], check=True)


def main():
    rng = np.random.default_rng(5)
    inputs = {kind: {dt: make(dt, rng) for dt in (np.float32, np.float64)}
              for kind, make in (("real", real_inputs), ("prob", probability_inputs))}
    g = {dt: gradients(dt, rng) for dt in (np.float32, np.float64)}
    y = {dt: targets(dt, rng) for dt in (np.float32, np.float64)}
    p = inputs["prob"][np.float64]
    print(f"inputs on [0, 1] for {', '.join(ON_0_1)}: {np.count_nonzero((p >= 0) & (p <= 1))} of {N} (float64), "
          f"{np.count_nonzero((inputs['prob'][np.float32] >= 0) & (inputs['prob'][np.float32] <= 1))} (float32)")
    with tempfile.TemporaryDirectory() as d:
        exe = os.path.join(d, "harness")
        subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-std=c11", "-ffp-contract=off", "-fno-math-errno",
                        "-DSIG_ISA=0", "-I", KDIR, "-static", os.path.join(HERE, "harness.c")]
                       + kernel_sources()
                       + ["-o", exe, "-lm"], check=True)
        for kind, xs in inputs.items():
            run_harness(exe, d, kind, xs[np.float32], g[np.float32], xs[np.float64], g[np.float64],
                        y[np.float32], y[np.float64])
        differ = total = 0
        for i, name in enumerate(R.FUNCTIONS_1 + R.FUNCTIONS_2):
            binary = name in R.FUNCTIONS_2
            kind = "prob" if name in ON_0_1 else "real"
            for dt, off in [(np.float32, 0), (np.float64, 100)]:
                k = (200 if binary else 0) + off + (i - len(R.FUNCTIONS_1) if binary else i)
                arm = np.fromfile(os.path.join(d, f"{kind}_{k}.bin"), dt)
                x = inputs[kind][dt]
                with np.errstate(all="ignore"):
                    here = getattr(sigmoid, name)(*((x, g[dt]) if binary else (x,)))
                itype = np.int32 if dt == np.float32 else np.int64
                same, both_nan = compare(arm, here, itype)
                differ += int((~same).sum())
                total += same.size
                verdict = "identical" if same.all() else f"{(~same).sum()} differ"
                print(f"{name:<30} {dt.__name__:<8} {kind:<5} {same.size} compared, "
                      f"{int(both_nan.sum()):>6} NaN on both sides: {verdict}")
        for c, (name, kind, call) in enumerate(LOSSES):
            for dt, base in [(np.float32, 1000), (np.float64, 2000)]:
                x, yt = inputs[kind][dt], y[dt]
                itype = np.int32 if dt == np.float32 else np.int64
                mask = (x >= 0) & (x <= 1) if kind == "prob" else np.ones(N, bool)
                with np.errstate(all="ignore"):
                    here = call(np.where(mask, x, 0).astype(dt), yt)
                fixed = np.fromfile(os.path.join(d, f"{kind}_{base + 10 * c + 2}.bin"), np.uint8) != 0
                for part, m in ((0, mask), (1, mask & ~fixed)):
                    arm = np.fromfile(os.path.join(d, f"{kind}_{base + 10 * c + part}.bin"), dt)
                    same, both_nan = compare(arm, np.asarray(here[part]), itype, m)
                    differ += int((~same).sum())
                    total += same.size
                    verdict = "identical" if same.all() else f"{(~same).sum()} differ"
                    print(f"{name + (' grad' if part else ' loss'):<30} {dt.__name__:<8} {kind:<5} {same.size} "
                          f"compared, {int(both_nan.sum()):>6} NaN on both sides: {verdict}")
    print(f"aarch64 (qemu) against {sigmoid._core._get_isa()} here: {differ} differences in {total} results")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
