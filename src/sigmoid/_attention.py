r"""Scaled dot-product attention with a softmax or a sigmoid score, forward
and backward, in tiles: the n x n matrix of scores is never formed.

Both passes are compiled (``_kernels/attention.c`` and ``vattention.h``):
queries are taken 96 at a time and keys 256 at a time; the scores of one
pair of blocks are a register-tiled product into a small buffer, turned
into weights by this library's compiled sigma (sigmoid score) or by a
max-shifted exponential with a running maximum and sum per query (softmax
score: the online softmax of Milakov & Gimelshein, 2018, as FlashAttention
uses it), and accumulated into the output by a second product.  The
backward pass recomputes the scores block by block (FlashAttention-2's
order: keys outside, queries inside), so the extra memory of either pass
is O(n d + tile^2) whatever n is.  This module checks the arguments and
lays the arrays out for the kernels.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core

__all__ = ["attention", "attention_backward"]

_SCORES = ("softmax", "sigmoid")


@dataclass
class _Mask:
    """One mask, as the tiles read it: ``kind`` "keep" (bool, True takes
    part) or "add" (float, added to the scores); ``array`` broadcastable to
    (*batch, L, S)."""

    kind: str
    array: np.ndarray


@dataclass
class _Problem:
    """Checked arguments of one attention call."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    batch: tuple
    score: str
    scale: float
    bias: float
    causal: bool
    masks: list = field(default_factory=list)

    @property
    def dtype(self):
        return self.q.dtype

    @property
    def L(self):
        return self.q.shape[-2]

    @property
    def S(self):
        return self.k.shape[-2]


# ---------------------------------------------------------------- arguments

def _float_array(owner, name, a):
    a = np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner}: {name} must be a float32 or float64 array, got dtype {a.dtype}")
    return a


def _real(owner, name, value, *, positive=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{owner}: {name} must be a finite{' positive' if positive else ''} number, got {v!r}")
    return v


def _check_mask(owner, name, mask, batch, L, S, *, keep_is_true=True):
    """A user's mask as a _Mask: bool (True takes part, or is masked out when
    ``keep_is_true`` is False) or float (added); broadcastable to
    (*batch, L, S) without growing it."""
    m = np.asarray(mask)
    want = tuple(batch) + (L, S)
    if m.dtype == np.bool_:
        kind = "keep"
        if not keep_is_true:
            m = ~m
    elif m.dtype.kind == "f" and m.dtype != np.longdouble:
        kind = "add"
    else:
        raise TypeError(f"{owner}: {name} must be a bool or float array, got dtype {m.dtype}")
    try:
        ok = m.ndim >= 1 and np.broadcast_shapes(m.shape, want) == want
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{owner}: {name} of shape {m.shape} does not broadcast to the shape of the scores "
                         f"{want} (batch {tuple(batch)}, {L} queries, {S} keys)")
    return _Mask(kind, m)


def _problem(owner, q, k, v, score, bias, scale, causal, mask):
    """Check every argument before anything is computed."""
    q, k, v = (_float_array(owner, n, a) for n, a in (("q", q), ("k", k), ("v", v)))
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"{owner}: q, k and v must have one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    shapes = f"q {q.shape}, k {k.shape}, v {v.shape}"
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(f"{owner}: q, k and v must have shape (..., n, d), got {shapes}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{owner}: q and k must have the same last axis (the feature size d), got {shapes}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{owner}: k and v must have the same number of rows (the keys), got {shapes}")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{owner}: the leading (batch) axes of q, k and v do not broadcast: {shapes}") from None
    if 0 in (q.shape[-2], k.shape[-2]):
        raise ValueError(f"{owner}: there must be at least one query and one key, got {shapes}")
    if 0 in (q.shape[-1], v.shape[-1]):
        raise ValueError(f"{owner}: the feature sizes must be positive, got {shapes}")
    if score not in _SCORES:
        raise ValueError(f"{owner}: score must be 'softmax' or 'sigmoid', got {score!r}")
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"{owner}: causal must be True or False, got {causal!r}")
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    if score == "softmax":
        if bias is not None:
            raise ValueError(f"{owner}: bias applies to score='sigmoid' only (a constant added to every score "
                             f"cancels in the softmax), got bias={bias!r}")
        b = 0.0
    else:
        b = -math.log(S) if bias is None else _real(owner, "bias", bias)
    s = 1.0 / math.sqrt(E) if scale is None else _real(owner, "scale", scale)
    masks = [] if mask is None else [_check_mask(owner, "mask", mask, batch, L, S)]
    return _Problem(q, k, v, batch, score, s, b, bool(causal), masks)


# ---------------------------------------------------------------- layout

def _mask_index(m, idx, batch_ndim):
    """The (L or 1, S or 1) slice of a mask for batch index `idx`."""
    a = m.array
    if a.ndim == 1:
        return a[None, :]
    lead = a.ndim - 2
    own = idx[batch_ndim - lead:] if lead else ()
    return a[tuple(0 if a.shape[i] == 1 else j for i, j in enumerate(own))]


_PAD = 16           # the values' rows are padded to a multiple of this (SIG_ATTN_PAD, _kernels/attention.h)


def _c(a, dtype=None):
    """`a` C-contiguous and aligned, as the kernels read it (a copy only
    when it is not)."""
    return np.require(a, dtype, ["C_CONTIGUOUS", "ALIGNED"])


def _flat(a, batch, tail):
    """`a` (its own leading axes, then `tail` axes) as a C-contiguous
    (n, *tail) array, and for each entry of the broadcast `batch` the row of
    it that entry reads."""
    lead = a.shape[:a.ndim - tail]
    n = math.prod(lead)
    rows = np.broadcast_to(np.arange(n, dtype=np.int64).reshape(lead), batch).reshape(-1)
    return _c(a.reshape((n,) + a.shape[a.ndim - tail:])), rows


def _packed(p: _Problem):
    """q, k, v as (entries, n, d) arrays (v's rows zero-padded to a multiple
    of _PAD), the masks as (kind, (entries, L or 1, S or 1)), and for each
    batch entry the entry of each that it reads."""
    q3, iq = _flat(p.q, p.batch, 2)
    k3, ik = _flat(p.k, p.batch, 2)
    v3, iv = _flat(p.v, p.batch, 2)
    Ev = v3.shape[2]
    Evp = -(-Ev // _PAD) * _PAD
    if Evp != Ev:
        v3 = np.concatenate([v3, np.zeros(v3.shape[:2] + (Evp - Ev,), p.dtype)], axis=2)
    index = [iq, ik, iv]
    masks = []
    for m in p.masks:
        a = m.array if m.array.ndim >= 2 else m.array[None, :]
        a = a.astype(np.bool_ if m.kind == "keep" else p.dtype, copy=False)
        a3, im = _flat(a, p.batch, 2)
        masks.append((0 if m.kind == "keep" else 1, a3))
        index.append(im)
    return (q3, k3, v3), np.ascontiguousarray(np.stack(index, axis=1)), tuple(masks)


def _run_forward(p: _Problem, want_lse: bool):
    """The compiled forward pass over every batch entry: out (*batch, L, Ev)
    and, for the softmax, the log-sum-exp (*batch, L)."""
    dt, L, Ev = p.dtype, p.L, p.v.shape[-1]
    B = math.prod(p.batch)
    (q3, k3, v3), index, masks = _packed(p)
    out = np.empty((B, L, Ev), dt)
    lse = np.empty((B, L), dt) if p.score == "softmax" else None
    _core._attention(False, (q3, k3, v3, out, lse, index), masks, p.scale,
                     p.bias if p.score == "sigmoid" else 0.0, p.score == "softmax", p.causal)
    out = out.reshape(p.batch + (L, Ev))
    if lse is not None:
        lse = lse.reshape(p.batch + (L,))
    return out, (lse if want_lse else None)


def _run_backward(p: _Problem, dout, out, lse):
    """The compiled backward pass: dq, dk, dv of the inputs' shapes (the
    gradients of broadcast inputs summed over the broadcast axes)."""
    dt, L, S, E, Ev = p.dtype, p.L, p.S, p.q.shape[-1], p.v.shape[-1]
    B = math.prod(p.batch)
    (q3, k3, v3), index, masks = _packed(p)
    dout3 = _c(np.reshape(dout, (B, L, Ev)), dt)
    lse3 = D = None
    if p.score == "softmax":
        lse3 = _c(np.reshape(lse, (B, L)), dt)
        with np.errstate(all="ignore"):     # NaN or inf outputs give NaN rows: as the formula
            D = np.einsum("bij,bij->bi", dout3, np.asarray(out).reshape(B, L, Ev)).astype(dt)
    dq = np.empty((B, L, E), dt)
    dk = np.empty((B, S, E), dt)
    dv = np.empty((B, S, Ev), dt)
    _core._attention(True, (q3, k3, v3, dout3, lse3, D, index, dq, dk, dv), masks, p.scale,
                     p.bias if p.score == "sigmoid" else 0.0, p.score == "softmax", p.causal)
    return tuple(_sum_to(g.reshape(p.batch + g.shape[1:]), x.shape) for g, x in ((dq, p.q), (dk, p.k), (dv, p.v)))


def _sum_to(g, shape):
    """A gradient of the broadcast shape summed to an input's shape."""
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape[:-2]) if n == 1 and g.shape[i] != 1)
    return np.ascontiguousarray(g.sum(axis=axes, keepdims=True) if axes else g)


# ------------------------------------------------------------------ public

def attention(q, k, v, *, score="softmax", bias=None, scale=None, causal=False, mask=None,
              return_logsumexp=False):
    r"""Scaled dot-product attention, softmax or sigmoid, without the n x n matrix.

    .. math::
        \text{softmax:}\quad o_i = \sum_j \frac{e^{s_{ij}}}{\sum_l e^{s_{il}}}\, v_j,
        \qquad
        \text{sigmoid:}\quad o_i = \sum_j \sigma(s_{ij} + b)\, v_j,
        \qquad s_{ij} = c\, q_i \cdot k_j + m_{ij}

    with the scale c = 1/sqrt(d) by default and m the additive mask (0
    without one).  Sigmoid attention (Ramapuram et al., 2024, "Theory,
    Analysis, and Best Practices for Sigmoid Self-Attention") replaces the
    row normalization by sigma of each score: the weights of a row do not
    sum to 1 and the keys do not compete; the bias b = -log n (n the number
    of keys) keeps the output's norm bounded as n grows.

    Parameters
    ----------
    q : ndarray, shape (..., L, d)
        Queries, float32 or float64.
    k : ndarray, shape (..., S, d)
        Keys, the dtype of `q`.
    v : ndarray, shape (..., S, d_v)
        Values, the dtype of `q`.  The leading axes of `q`, `k`, `v` (and
        `mask`) broadcast against each other.
    score : {"softmax", "sigmoid"}
        The attention weights: the softmax of each row of scores, or
        sigma(s + b) of each score.
    bias : float, optional
        The sigmoid's b; -log S by default.  Only for ``score="sigmoid"``
        (a constant cancels in the softmax).
    scale : float, optional
        c, 1/sqrt(d) by default.
    causal : bool
        Query i sees keys j <= i only (the upper-left triangle, as
        PyTorch's ``is_causal``).
    mask : ndarray, optional
        Broadcastable to (..., L, S).  bool: True where the pair takes
        part (PyTorch's ``scaled_dot_product_attention`` convention);
        float: added to the scores (-inf excludes a pair).
    return_logsumexp : bool
        Softmax only: also return log sum_j e^(s_ij) per query, which
        :func:`attention_backward` takes to skip recomputing it.

    Returns
    -------
    out : ndarray, shape (..., L, d_v)
        The dtype of `q`.
    logsumexp : ndarray, shape (..., L)
        With ``return_logsumexp=True``.

    Raises
    ------
    TypeError
        An input that is not a float32 or float64 array; a mask that is
        neither bool nor float.
    ValueError
        q, k, v of different dtypes, feature sizes or key counts, or
        batch axes that do not broadcast; no query or no key; a mask that
        does not broadcast to (..., L, S); a bias with the softmax; a
        non-finite bias or scale.  Named, with the shapes, before anything
        is computed.

    Notes
    -----
    Computed in tiles of 96 queries by 256 keys, compiled and run on the
    library's threads: each tile is one register-tiled product, the
    compiled sigma (or a max-shifted exp with the running maximum and sum
    of the online softmax), and one product into the output; the n x n
    matrix never exists, and the memory beyond the inputs and the output
    is O(L d + tile^2).

    Special values: a row whose keys are all excluded gives 0 (as PyTorch's
    ``scaled_dot_product_attention``).  A NaN score s_ij (from the inputs or
    the mask) makes row i of the output NaN and no other row; an excluded
    pair (False in a bool mask, or above the diagonal with ``causal``) takes
    no part whatever its score.

    Accuracy: the weights are the library's sigma (within its bound) or a
    max-shifted exp of about 1 ULP, of scores summed in the input dtype;
    the float32 outputs agree with a float64 evaluation of the formula to
    about 1e-6 of the largest output (checked in the tests).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import attention
    >>> q = k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[1.0], [2.0]])
    >>> attention(q, k, v, scale=1.0)
    array([[1.26894142],
           [1.73105858]])
    >>> attention(q, k, v, score="sigmoid", bias=0.0, scale=1.0)  # sigma(1) + 2 sigma(0), ...
    array([[1.73105858],
           [1.96211716]])

    See also
    --------
    attention_backward, sigmoid.nn.MultiheadAttention, sigmoid
    """
    p = _problem("attention", q, k, v, score, bias, scale, causal, mask)
    if return_logsumexp and p.score != "softmax":
        raise ValueError("attention: return_logsumexp applies to score='softmax' only")
    out, lse = _run_forward(p, return_logsumexp)
    return (out, lse) if return_logsumexp else out


def attention_backward(q, k, v, grad_output, *, score="softmax", bias=None, scale=None, causal=False, mask=None,
                       output=None, logsumexp=None):
    r"""Gradients of :func:`attention` with respect to q, k and v.

    .. math::
        dV = P^\top dO,\quad dP = dO\,V^\top,\quad
        dS = \begin{cases} P \odot (dP - \mathrm{rowsum}(dO \odot O)) & \text{softmax}\\
                           \sigma(s + b)\,\sigma(-s - b) \odot dP & \text{sigmoid}\end{cases},\quad
        dQ = c\, dS\, K,\quad dK = c\, dS^\top Q

    computed tile by tile from recomputed scores (the n x n matrices P, dP
    and dS never exist).  The sigmoid's derivative is taken from the score
    as sigma(x) sigma(-x) (:func:`sigmoid_backward`), exact where
    sigma(1 - sigma) cancels.

    Parameters
    ----------
    q, k, v : ndarray
        As for :func:`attention`.
    grad_output : ndarray, shape (..., L, d_v)
        The gradient of the loss with respect to the output.
    score, bias, scale, causal, mask
        As for :func:`attention`, the same values as the forward pass.
    output, logsumexp : ndarray, optional
        Softmax only: the forward pass's output and log-sum-exp
        (``attention(..., return_logsumexp=True)``); recomputed when not
        given.

    Returns
    -------
    dq, dk, dv : ndarray
        The shapes and dtype of q, k, v (summed over the axes along which
        an input was broadcast).

    Raises
    ------
    TypeError, ValueError
        As :func:`attention`; also a grad_output, output or logsumexp of
        the wrong shape or dtype.

    Notes
    -----
    Compiled, per block of 256 keys and the blocks of queries that see
    them, on the library's threads.  When the batch has at least as many
    entries as threads, each entry's dq is summed by one thread in a fixed
    order, and the result does not depend on the number of threads;
    otherwise the threads share an entry's blocks of keys and add their
    partial dq, which may change its last bits from run to run.

    Special values: for the sigmoid a NaN score s_ij makes row i of dq and
    row j of dk and dv NaN and nothing else; for the softmax it makes row i
    of dq NaN, and through that row's normalization every row of dk and dv
    (as in the formula).  Excluded pairs contribute exactly 0.

    Accuracy: as :func:`attention`.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import attention_backward
    >>> q = k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[1.0], [2.0]])
    >>> dq, dk, dv = attention_backward(q, k, v, np.ones((2, 1)), score="sigmoid", bias=0.0, scale=1.0)
    >>> dv  # the column sums of the weights: sigma(1) + sigma(0), twice
    array([[1.23105858],
           [1.23105858]])

    See also
    --------
    attention, sigmoid_backward
    """
    owner = "attention_backward"
    p = _problem(owner, q, k, v, score, bias, scale, causal, mask)
    want = p.batch + (p.L, p.v.shape[-1])
    dout = _float_array(owner, "grad_output", grad_output)
    if dout.dtype != p.dtype or dout.shape != want:
        raise ValueError(f"{owner}: grad_output must have the output's shape {want} and dtype {p.dtype}, "
                         f"got {dout.shape} and {dout.dtype}")
    out = lse = None
    if p.score == "softmax":
        if (output is None) != (logsumexp is None):
            raise ValueError(f"{owner}: give both output and logsumexp, or neither")
        if output is None:
            out, lse = _run_forward(p, True)
        else:
            out = _float_array(owner, "output", output)
            lse = _float_array(owner, "logsumexp", logsumexp)
            if out.shape != want or out.dtype != p.dtype:
                raise ValueError(f"{owner}: output must have shape {want} and dtype {p.dtype}, "
                                 f"got {out.shape} and {out.dtype}")
            if lse.shape != p.batch + (p.L,):
                raise ValueError(f"{owner}: logsumexp must have shape {p.batch + (p.L,)}, got {lse.shape}")
    elif output is not None or logsumexp is not None:
        raise ValueError(f"{owner}: output and logsumexp apply to score='softmax' only")
    return _run_backward(p, dout, out, lse)
