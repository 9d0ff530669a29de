"""The kernel sources compiled once per instruction set, as meson.build lists
them (`kernel_src`), so that the cross-compiled checks build what the
package builds."""
import os
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
KDIR = os.path.join(ROOT, "src", "sigmoid", "_kernels")


def kernel_sources():
    """Paths of the per-instruction-set kernel sources."""
    with open(os.path.join(ROOT, "meson.build")) as fh:
        text = fh.read()
    m = re.search(r"^kernel_src\s*=\s*files\((.*?)\)", text, re.S | re.M)
    if m is None:
        raise RuntimeError("meson.build has no kernel_src = files(...)")
    names = re.findall(r"kdir\s*/\s*'([^']+\.c)'", m.group(1))
    if not names:
        raise RuntimeError("kernel_src in meson.build names no C file")
    return [os.path.join(KDIR, n) for n in names]
