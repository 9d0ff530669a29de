r"""The pairwise sigmoid loss of SigLIP (Zhai et al., 2023), in blocks.

Every image-text pair (i, j) of a batch is a binary problem of its own,
matching (i = j) or not, so the loss is a sum over the B x B logits that
needs no normalization across a row or a column: it is computed block of
rows by block of columns by the compiled kernel of ``_kernels/vattention.h``
(the products register-tiled as attention's, the terms from the library's
softplus and the gradient's factors from its sigma, on the library's
threads), and the B x B matrix never exists.  On Dask arrays each pair of
chunks is a task, the chunked form of the paper.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core
from .interop.dask import is_dask_array

__all__ = ["siglip_loss", "siglip_loss_and_grad"]

def _scalar(owner, name, v):
    if isinstance(v, np.ndarray) and v.ndim == 0:
        v = v[()]
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{owner}: {name} must be finite, got {f!r}")
    return f


def _check(owner, x, y, t_prime, b, block_size):
    """Shapes, dtypes and scalars, before anything is computed; returns the
    temperature t = e^t' (finite in the data type) and the block size."""
    for name, a in (("x", x), ("y", y)):
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{owner}: {name} must be a float32 or float64 array, got dtype {a.dtype}")
    if x.dtype != y.dtype:
        raise ValueError(f"{owner}: x and y must have one dtype, got {x.dtype} and {y.dtype}")
    if x.ndim != 2 or y.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"{owner}: x and y must be (B, D) arrays of the same shape (row i of x pairs with "
                         f"row i of y), got x {x.shape} and y {y.shape}")
    if any(isinstance(n, float) and math.isnan(n) for n in x.shape):
        raise ValueError(f"{owner}: x and y have unknown chunk sizes; call .compute_chunk_sizes() first")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{owner}: x and y must have at least one row and one column, got x {x.shape} and "
                         f"y {y.shape}")
    tp = _scalar(owner, "t_prime", t_prime)
    bb = _scalar(owner, "b", b)
    with np.errstate(over="ignore"):
        t = x.dtype.type(np.exp(tp))
    if not np.isfinite(t):
        raise ValueError(f"{owner}: the temperature t = exp(t_prime) = exp({tp!r}) overflows {x.dtype}")
    if block_size is None:
        n = None
    elif isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1:
        raise ValueError(f"{owner}: block_size must be a positive integer, got {block_size!r}")
    else:
        n = int(block_size)
    return t, x.dtype.type(bb), n


def _pair(x_i, y_j, i0, j0, t, b, B, want_grad, block):
    """Rows x_i of x (from row i0) against rows y_j of y (from row j0), in
    blocks of `block` rows of each (all at once when None), each block pair
    one pass of the compiled kernel.  Returns the sum of the terms
    (float64, not yet divided by B) and, when asked, dx_i, dy_j and the
    float64 parts of dt' and db."""
    # C-contiguous and aligned (a chunk that Dask sent over a wire may be neither)
    x_i, y_j = (np.require(a, requirements=["C_CONTIGUOUS", "ALIGNED"]) for a in (x_i, y_j))
    dt = x_i.dtype
    step_x = x_i.shape[0] if block is None else block
    step_y = y_j.shape[0] if block is None else block
    whole = step_x >= x_i.shape[0] and step_y >= y_j.shape[0]    # one pass writes dx and dy themselves
    dx = (np.empty if whole else np.zeros)(x_i.shape, dt) if want_grad else None
    dy = (np.empty if whole else np.zeros)(y_j.shape, dt) if want_grad else None
    loss = d_tp = d_b = 0.0
    for a0 in range(0, x_i.shape[0], step_x):
        xa = x_i[a0:a0 + step_x]
        for c0 in range(0, y_j.shape[0], step_y):
            yc = y_j[c0:c0 + step_y]
            gx = gy = None
            if want_grad:
                gx = dx if whole else np.empty(xa.shape, dt)
                gy = dy if whole else np.empty(yc.shape, dt)
            terms, part_tp, part_b = _core._attention(2, xa, yc, gx, gy, float(t), float(b), i0 + a0, j0 + c0, B)
            loss += terms
            if want_grad:
                if not whole:
                    dx[a0:a0 + step_x] += gx
                    dy[c0:c0 + step_y] += gy
                d_tp += part_tp
                d_b += part_b
    return loss, dx, dy, d_tp, d_b


def _run(owner, x, y, t_prime, b, want_grad, block_size):
    if is_dask_array(x) or is_dask_array(y):
        return _run_dask(owner, x, y, t_prime, b, want_grad, block_size)
    x, y = np.asarray(x), np.asarray(y)
    t, bb, block = _check(owner, x, y, t_prime, b, block_size)
    B = x.shape[0]
    with np.errstate(all="ignore"):                 # the sums of NaN parts give NaN, quietly
        loss, dx, dy, d_tp, d_b = _pair(x, y, 0, 0, t, bb, B, want_grad, block)
    loss = np.float64(loss / B)
    if not want_grad:
        return loss
    return loss, dx, dy, np.float64(d_tp), np.float64(d_b)


def _run_dask(owner, x, y, t_prime, b, want_grad, block_size):
    """Each pair of row chunks a task; the parts of dx (dy) of one chunk of
    rows summed by a task of their own; nothing computed until asked."""
    import dask
    import dask.array as da

    x, y = da.asarray(x), da.asarray(y)
    t, bb, block = _check(owner, x, y, t_prime, b, block_size)
    x, y = x.rechunk({1: -1}), y.rechunk({1: -1})    # whole rows in a chunk
    B, D = x.shape
    xo = np.concatenate([[0], np.cumsum(x.chunks[0])])
    yo = np.concatenate([[0], np.cumsum(y.chunks[0])])
    pair = dask.delayed(_pair, nout=5, pure=True)
    parts = [[pair(xb, yb, int(xo[i]), int(yo[j]), t, bb, B, want_grad, block)
              for j, yb in enumerate(y.to_delayed().ravel())]
             for i, xb in enumerate(x.to_delayed().ravel())]
    flat = [p for row in parts for p in row]
    add = dask.delayed(sum, pure=True)
    loss = da.from_delayed(add([p[0] for p in flat]) / B, shape=(), dtype=np.float64)
    if not want_grad:
        return loss
    dx = da.concatenate([da.from_delayed(add([p[1] for p in parts[i]]), shape=(int(n), D), dtype=x.dtype)
                         for i, n in enumerate(x.chunks[0])])
    dy = da.concatenate([da.from_delayed(add([parts[i][j][2] for i in range(len(parts))]), shape=(int(n), D),
                                         dtype=y.dtype)
                         for j, n in enumerate(y.chunks[0])])
    d_tp = da.from_delayed(add([p[3] for p in flat]), shape=(), dtype=np.float64)
    d_b = da.from_delayed(add([p[4] for p in flat]), shape=(), dtype=np.float64)
    return loss, dx, dy, d_tp, d_b


def siglip_loss(x, y, t_prime, b, *, block_size=None):
    r"""The pairwise sigmoid loss of SigLIP, without the B x B matrix.

    .. math::
        L = -\frac{1}{B} \sum_{i=1}^{B} \sum_{j=1}^{B}
            \log \sigma\big(z_{ij}\,(t\, x_i \cdot y_j + b)\big),
        \qquad z_{ii} = 1,\ z_{ij} = -1\ (i \ne j),\qquad t = e^{t'}

    (Zhai et al., 2023, "Sigmoid Loss for Language Image Pre-Training"):
    each of the B^2 pairs of an image embedding x_i and a text embedding
    y_j is a binary problem, matching or not, with the learnt temperature
    t = e^t' and bias b (the paper starts from t' = log 10, b = -10).

    Parameters
    ----------
    x, y : ndarray, shape (B, D)
        The two embeddings of each pair, row i of x with row i of y,
        float32 or float64 (normalize them first, as the paper does); or
        Dask arrays, chunked along the rows.
    t_prime, b : float
        The log-temperature t' and the bias b.
    block_size : int, optional
        Split x and y into chunks of this many rows and run the compiled
        pass on each pair of chunks (the form the Dask version takes); by
        default one pass over everything.  The kernel itself works on
        blocks of 96 x 256 logits either way.

    Returns
    -------
    loss : numpy.float64
        The loss, each term -log sigma(.) = softplus(-.) computed by the
        compiled :func:`softplus` in the inputs' dtype and summed in float64;
        a 0-d Dask array for Dask inputs.

    Raises
    ------
    TypeError
        x or y not a float32 or float64 array; t_prime or b not a real
        number.
    ValueError
        x and y of different shapes or dtypes, not 2-d, or empty; t_prime or
        b not finite, or exp(t_prime) overflowing the dtype; a block_size
        that is not a positive integer.  Raised before anything is computed.

    Notes
    -----
    Compiled, on the library's threads: for each block of 96 rows of x
    (scaled by t once) and 256 rows of y, a register-tiled product gives the
    logits t x_i . y_j + b, the matching pairs' signs are flipped, and the
    library's softplus gives the terms, summed in float64.  The memory
    beyond the inputs is O(B D) (a copy of y's gradient per thread when the
    gradients are asked for), never B x B.  On Dask arrays every pair of
    chunks of rows is a task and Dask adds the partial sums.

    Special values: a NaN in x or y makes the loss NaN; logits of any size
    give finite terms (softplus does not overflow where its result is
    finite).

    Accuracy: each term is within :func:`softplus`'s bound of the exact
    softplus of its computed logit; the logits carry the rounding of their
    sums in the inputs' dtype; the terms are summed in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import siglip_loss
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(siglip_loss(x, x, np.log(10.0), -5.0)), 6)   # logits 5 for the pairs, -5 for the others
    0.013431
    >>> round(float(siglip_loss(x, x[::-1], np.log(10.0), -5.0)), 6)   # the pairs swapped
    10.013431

    See also
    --------
    siglip_loss_and_grad, softplus, log_sigmoid, bce_with_logits
    """
    return _run("siglip_loss", x, y, t_prime, b, False, block_size)


def siglip_loss_and_grad(x, y, t_prime, b, *, block_size=None):
    r"""The SigLIP loss and its gradients with respect to x, y, t' and b.

    .. math::
        g_{ij} = \frac{\partial L}{\partial u_{ij}} = \frac{\sigma(u_{ij}) - [i = j]}{B},
        \quad u_{ij} = t\, x_i \cdot y_j + b;\qquad
        \frac{\partial L}{\partial x} = t\, G Y,\quad
        \frac{\partial L}{\partial y} = t\, G^\top X,\quad
        \frac{\partial L}{\partial t'} = \sum_{ij} g_{ij}\, t\, x_i \cdot y_j,\quad
        \frac{\partial L}{\partial b} = \sum_{ij} g_{ij}

    computed block by block with the loss (:func:`siglip_loss`): each
    block's g comes from the compiled :func:`sigmoid` of the same logits,
    sigma(u) for the other pairs and -sigma(-u) = sigma(u) - 1 for the
    matching ones (computed as such, with no cancellation).

    Parameters
    ----------
    x, y, t_prime, b, block_size
        As :func:`siglip_loss`.

    Returns
    -------
    loss : numpy.float64
    dx, dy : ndarray, shape (B, D)
        The dtype of x.
    dt_prime, db : numpy.float64
        Summed in float64.  For Dask inputs all five are Dask arrays.

    Raises
    ------
    TypeError, ValueError
        As :func:`siglip_loss`.

    Notes
    -----
    dt' is sum_i (t x_i) . (G Y)_i, from the product that dx needs anyway,
    so the logits are never differenced with b.  The gradient of y is summed
    by as many slots as :func:`get_num_threads` gives, each slot always
    the same blocks in the same order: the result depends on the number of
    threads (its last bits), not on how the threads run.

    Special values: as :func:`siglip_loss`; NaN inputs give NaN gradients.

    Accuracy: the gradients carry the rounding of their sums in the
    inputs' dtype; sigma is within :func:`sigmoid`'s bound of each computed
    logit's.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import siglip_loss_and_grad
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> loss, dx, dy, dtp, db = siglip_loss_and_grad(x, x, 0.0, 0.0)
    >>> round(float(db), 6)   # (2 (sigma(1) - 1) + 2 sigma(0)) / B, B = 2
    0.231059
    >>> dx   # t g y: (sigma(1) - 1)/2 on the pairs, sigma(0)/2 off them
    array([[-0.13447071,  0.25      ],
           [ 0.25      , -0.13447071]])

    See also
    --------
    siglip_loss, sigmoid, sigmoid_backward
    """
    return _run("siglip_loss_and_grad", x, y, t_prime, b, True, block_size)
