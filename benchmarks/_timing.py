"""What the benchmark scripts share: the BLAS thread count, set before NumPy
is loaded, this library's and PyTorch's threads, and the median time of a
call.  (No NumPy import here: a script
imports this module first.)"""
import os
import statistics
import time


def blas_threads_from_argv(argv):
    """If argv holds ``--threads N`` (or ``--threads=N``), set the thread
    count of NumPy's BLAS to N; it is read when NumPy is loaded, so call
    this before importing NumPy.  Returns N as given, or None."""
    n = None
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    if n:
        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[v] = n
    return n


def median_time(f, repeat, *, pause=0.0, sync=None):
    """Median wall time of ``f()`` over `repeat` calls after one warm-up
    call.  `pause` seconds first let another library's worker threads go
    idle; `sync()` waits for work an asynchronous device has queued."""
    if pause:
        time.sleep(pause)
    f()
    if sync:
        sync()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        if sync:
            sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def torch_version():
    """PyTorch's version, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


def with_threads(threads):
    """Set this library's threads and PyTorch's (when installed) to
    ``threads``; PyTorch's module, or None."""
    import sigmoid

    sigmoid.set_num_threads(threads)
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch
