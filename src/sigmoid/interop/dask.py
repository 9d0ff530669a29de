"""Dask arrays: the one detector, and the helpers that run this library's
compiled passes on them block by block, lazily.

Internal to the library (:mod:`sigmoid.losses` and the array-API module
import it), not a public API: users pass Dask arrays to the functions.

Nothing here computes: each helper returns Dask arrays whose tasks call the
NumPy code of the library on blocks when, and only when, the caller asks for
a result (``.compute()``, ``dask.compute``, ``.persist()``), on whatever
scheduler is in use (threads, processes, a ``dask.distributed`` cluster).

This module imports NumPy alone; Dask is imported only when it is handed a
Dask array, so that ``import sigmoid`` never imports Dask.  It knows nothing
of the losses: :mod:`sigmoid.losses` gives it the function to run on each
block.  (The compiled ufuncs need nothing from here: they are real
``numpy.ufunc`` objects, which Dask maps over blocks by itself.)
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_dask_array", "numpy_backed", "align", "map_elementwise", "reduce_float64", "map_slices"]


def is_dask_array(a) -> bool:
    """True if `a` is a ``dask.array.Array``.

    The type's module is looked at first, so Dask is imported only for
    objects that come from it (a Dask DataFrame or a delayed value is not a
    Dask array).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.interop.dask import is_dask_array
    >>> is_dask_array(np.zeros(3))
    False
    """
    if type(a).__module__.partition(".")[0] != "dask":
        return False
    import dask.array as da

    return isinstance(a, da.Array)


def numpy_backed(a) -> bool:
    """True if `a` is a Dask array whose blocks are NumPy arrays (not CuPy,
    not sparse): the compiled code can run on its blocks."""
    return is_dask_array(a) and isinstance(getattr(a, "_meta", None), np.ndarray)


def _unknown_chunks(name, what, axis=None):
    where = "" if axis is None else f" along axis {axis}"
    return ValueError(f"{name}(): {what} have unknown chunk sizes{where}; call .compute_chunk_sizes() on them "
                      f"first")


def align(name, xname, x, y, extras, check_broadcast):
    """`x` and `y` as Dask arrays of one shape and one chunking (x's), and
    each array of `extras` (a dict; None values are dropped) broadcast to
    that shape and chunked alike.

    Raises ValueError naming `name` for unknown chunk sizes (a shape is
    needed to check the arguments, and nothing is computed silently) and
    for different shapes; `check_broadcast(name, arg, a, shape)` judges
    the extras.
    """
    import dask.array as da

    x, y = da.asarray(x), da.asarray(y)
    if any(np.isnan(s) for s in x.shape + y.shape):
        raise _unknown_chunks(name, f"{xname} or targets")
    if x.shape != y.shape:
        raise ValueError(
            f"{name}(): {xname} and targets must have the same shape, got {x.shape} and {y.shape} "
            f"(reshape explicitly; broadcasting an (N, 1) against an (N,) is refused on purpose)"
        )
    out = {}
    for arg, a in extras.items():
        if a is None:
            continue
        a = da.asarray(a)
        check_broadcast(name, arg, a, x.shape)
        out[arg] = da.broadcast_to(a, x.shape).rechunk(x.chunks)
    return x, y.rechunk(x.chunks), out


def map_elementwise(block, x, y, extras, n_out, dtype):
    """`n_out` Dask arrays of x's shape and chunks, lazily: on each block,
    ``block(xb, yb, **extras_b)`` returns a list of `n_out` NumPy arrays of
    the block's shape (one pass computes them all; Dask keeps them stacked
    on a leading axis until they are taken apart)."""
    import dask.array as da

    names = list(extras)

    def stacked(xb, yb, *rest):
        return np.stack(block(xb, yb, **dict(zip(names, rest))))

    both = da.map_blocks(stacked, x, y, *extras.values(), dtype=dtype, new_axis=0,
                         chunks=((n_out,),) + x.chunks, meta=np.empty((0,) * (x.ndim + 1), dtype))
    return [both[i] for i in range(n_out)]


def reduce_float64(per_element, reduction, dtype):
    """The "sum" or "mean" of a Dask array, accumulated in float64 by Dask's
    tree reduction, rounded once to `dtype`; lazy, a 0-d Dask array."""
    total = per_element.astype(np.float64).sum()
    if reduction == "mean":
        total = total / per_element.size
    return total.astype(dtype)


def map_slices(name, f, x, axis, dtype):
    """``f(block)`` on blocks that hold whole slices along `axis` (that axis
    rechunked to one chunk, the others as they are), lazily: for functions
    of whole slices, such as softmax.  `f` keeps the block's shape."""
    if np.isnan(x.shape[axis]):
        raise _unknown_chunks(name, "the scores", axis)
    if x.numblocks[axis] > 1:
        x = x.rechunk({axis: -1})
    return x.map_blocks(f, dtype=dtype, meta=np.empty((0,) * x.ndim, dtype), token=name)
