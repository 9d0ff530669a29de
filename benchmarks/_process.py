"""What the benchmark scripts that measure in subprocesses share: running
a child and reading its JSON lines, and the peak memory of one call
(Linux)."""
import json
import os
import subprocess
import sys


def _status(field):
    """A field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def peak_rise(run):
    """Bytes by which the resident set's high-water mark rises above its
    level just before ``run()``.  The mark is reset first (writing 5 to
    /proc/self/clear_refs), so that earlier peaks (imports, making the
    inputs) do not hide the call's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status("VmRSS")
    run()
    return _status("VmHWM") - before


def child(script, args):
    """Run ``python script *args``; the JSON values it printed, one a line."""
    out = subprocess.run([sys.executable, os.path.abspath(script)] + list(args), capture_output=True, text=True,
                         check=True, env=dict(os.environ))
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith(("{", "["))]
