r"""Scaled dot-product attention with a softmax or a sigmoid score, forward
and backward, in tiles: the n x n matrix of scores is never formed.

Queries are taken ``tile_q`` rows at a time and keys ``tile_k`` rows at a
time; the scores of one tile pair are one BLAS product into a reused
buffer, passed through this library's compiled sigma (sigmoid score) or a
max-shifted exponential with a running row maximum and row sum (softmax
score, the online softmax of Milakov & Gimelshein, 2018, as FlashAttention
uses it), and accumulated into the output with a second product.  The
backward pass recomputes the scores tile by tile (FlashAttention-2's
order: keys outside, queries inside), so the extra memory of either pass is
O(n d + tile_q tile_k) whatever n is.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _core

__all__ = ["attention", "attention_backward"]

_SCORES = ("softmax", "sigmoid")

#: (query rows, key rows) of a tile, by item size.  A tile of scores is
#: 256 KiB (float32) or 512 KiB (float64); with the two operand blocks it
#: stays in a core's L2 cache, where the products run at their best.
_TILES = {4: (256, 256), 8: (256, 256)}


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


# ------------------------------------------------------------------- tiles

def _index(a, idx, batch_ndim):
    """The (n, d) slice of `a` for the broadcast batch index `idx`."""
    lead = a.ndim - 2
    own = idx[batch_ndim - lead:] if lead else ()
    return a[tuple(0 if a.shape[i] == 1 else j for i, j in enumerate(own))]


def _mask_index(m, idx, batch_ndim):
    """The (L or 1, S or 1) slice of a mask for batch index `idx`."""
    a = m.array
    if a.ndim == 1:
        return a[None, :]
    lead = a.ndim - 2
    own = idx[batch_ndim - lead:] if lead else ()
    return a[tuple(0 if a.shape[i] == 1 else j for i, j in enumerate(own))]


class _Tiles:
    """Buffers and the masking of one head's tiles."""

    def __init__(self, p: _Problem, masks2d, nbuf: int):
        self.p = p
        self.tq, self.tk = _TILES[p.dtype.itemsize]
        self.tq, self.tk = min(self.tq, p.L), min(self.tk, p.S)
        self.bufs = [np.empty((self.tq, self.tk), p.dtype) for _ in range(nbuf)]
        self.masks = masks2d
        self.keep = np.empty((self.tq, self.tk), np.bool_) if masks2d or p.causal else None
        self.ninf = p.dtype.type(-np.inf)

    def pairs_of_query(self, i0, i1):
        """The key blocks query rows [i0, i1) see."""
        end = min(self.p.S, i1) if self.p.causal else self.p.S
        return [(j0, min(j0 + self.tk, self.p.S)) for j0 in range(0, end, self.tk)]

    def scores(self, qs_i, k_j, i0, i1, j0, j1, buf):
        """buf <- scale q_i k_j^T + bias + float masks, with -inf where a
        bool mask or causality excludes a pair; returns the tile and the
        bool tile of excluded pairs (None when there are none)."""
        St = buf[: i1 - i0, : j1 - j0]
        np.matmul(qs_i, k_j.T, out=St)
        if self.p.bias:
            np.add(St, self.p.bias, out=St)
        excluded = None
        for m in self.masks:
            a = m.array
            tile = a[i0:i1] if a.shape[0] > 1 else a
            tile = tile[:, j0:j1] if a.shape[1] > 1 else tile
            if m.kind == "add":
                np.add(St, tile, out=St, casting="unsafe")
            else:
                ex = self.keep[: i1 - i0, : j1 - j0]
                if excluded is None:
                    np.logical_not(tile, out=ex)
                    excluded = ex
                else:
                    ex |= ~tile
        if self.p.causal and j1 - 1 > i0:       # a key after some query of the tile
            above = np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None]
            if excluded is None:
                excluded = self.keep[: i1 - i0, : j1 - j0]
                np.copyto(excluded, above)
            else:
                excluded |= above
        if excluded is not None:
            np.copyto(St, self.ninf, where=excluded)
        return St, excluded


def _backward_head(p: _Problem, q, k, v, masks2d, dout, out, lse, dq, dk, dv):
    """One head's gradients, added into dq (L, E), dk (S, E), dv (S, Ev)."""
    dt = p.dtype
    qs = q * dt.type(p.scale)
    T = _Tiles(p, masks2d, 2)
    softmax = p.score == "softmax"
    if softmax:
        D = np.einsum("ij,ij->i", dout, out)
        # a row that attends to nothing has lse = -inf: e^(s - inf) = 0 makes its weights 0
        lse_b = np.where(lse == -np.inf, np.inf, lse).astype(dt)
    dq_s = np.zeros(q.shape, dt)
    tmp_q = np.empty((T.tq, q.shape[-1]), dt)
    dk_j = np.empty((T.tk, k.shape[-1]), dt)
    dv_j = np.empty((T.tk, v.shape[-1]), dt)
    tmp_k = np.empty((T.tk, k.shape[-1]), dt)
    tmp_v = np.empty((T.tk, v.shape[-1]), dt)
    for j0 in range(0, p.S, T.tk):
        j1 = min(j0 + T.tk, p.S)
        a_k, a_v = dk_j[: j1 - j0], dv_j[: j1 - j0]
        a_k[...] = 0
        a_v[...] = 0
        t_k, t_v = tmp_k[: j1 - j0], tmp_v[: j1 - j0]
        first = (j0 // T.tq) * T.tq if p.causal else 0     # earlier queries see none of these keys
        for i0 in range(first, p.L, T.tq):
            i1 = min(i0 + T.tq, p.L)
            if p.causal and j0 >= i1:
                continue
            St, excluded = T.scores(qs[i0:i1], k[j0:j1], i0, i1, j0, j1, T.bufs[0])
            dP = T.bufs[1][: i1 - i0, : j1 - j0]
            np.matmul(dout[i0:i1], v[j0:j1].T, out=dP)
            if softmax:
                np.subtract(St, lse_b[i0:i1, None], out=St)
                np.exp(St, out=St)                          # P
                np.subtract(dP, D[i0:i1, None], out=dP)
                np.multiply(dP, St, out=dP)                 # dS = P (dP - D)
            else:
                _core.sigmoid_backward(St, dP, out=dP)      # dS = sigma(s) sigma(-s) dP
                _core.sigmoid(St, out=St)                   # P
            if excluded is not None:
                np.copyto(dP, 0, where=excluded)            # an excluded pair takes no part, whatever dP is
            np.matmul(St.T, dout[i0:i1], out=t_v)
            a_v += t_v
            t_q = tmp_q[: i1 - i0]
            np.matmul(dP, k[j0:j1], out=t_q)
            dq_s[i0:i1] += t_q
            np.matmul(dP.T, qs[i0:i1], out=t_k)
            a_k += t_k
        dk[j0:j1] += a_k
        dv[j0:j1] += a_v
    dq_s *= dt.type(p.scale)
    dq += dq_s


_PAD = 16           # the values' rows are padded to a multiple of this (SIG_ATTN_PAD, _kernels/attention.h)


def _flat(a, batch, tail):
    """`a` (its own leading axes, then `tail` axes) as a C-contiguous
    (n, *tail) array, and for each entry of the broadcast `batch` the row of
    it that entry reads."""
    lead = a.shape[:a.ndim - tail]
    n = math.prod(lead)
    rows = np.broadcast_to(np.arange(n, dtype=np.int64).reshape(lead), batch).reshape(-1)
    return np.ascontiguousarray(a.reshape((n,) + a.shape[a.ndim - tail:])), rows


def _run_forward(p: _Problem, want_lse: bool):
    """The compiled forward pass over every batch entry: out (*batch, L, Ev)
    and, for the softmax, the log-sum-exp (*batch, L)."""
    dt, L, S, E, Ev = p.dtype, p.L, p.S, p.q.shape[-1], p.v.shape[-1]
    B = math.prod(p.batch)
    q3, iq = _flat(p.q, p.batch, 2)
    k3, ik = _flat(p.k, p.batch, 2)
    v3, iv = _flat(p.v, p.batch, 2)
    Evp = -(-Ev // _PAD) * _PAD
    if Evp != Ev:
        v3 = np.concatenate([v3, np.zeros(v3.shape[:2] + (Evp - Ev,), dt)], axis=2)
    index = [iq, ik, iv]
    masks = []
    for m in p.masks:
        a = m.array if m.array.ndim >= 2 else m.array[None, :]
        a = a.astype(np.bool_ if m.kind == "keep" else dt, copy=False)
        a3, im = _flat(a, p.batch, 2)
        masks.append((0 if m.kind == "keep" else 1, a3))
        index.append(im)
    out = np.empty((B, L, Ev), dt)
    lse = np.empty((B, L), dt) if p.score == "softmax" else None
    _core._attention(q3, k3, v3, out, lse, np.ascontiguousarray(np.stack(index, axis=1)), tuple(masks),
                     p.scale, p.bias if p.score == "sigmoid" else 0.0, p.score == "softmax", p.causal)
    out = out.reshape(p.batch + (L, Ev))
    if lse is not None:
        lse = lse.reshape(p.batch + (L,))
    return out, (lse if want_lse else None)


def _run_backward(p: _Problem, dout, out, lse):
    dq = np.zeros(p.q.shape, p.dtype)
    dk = np.zeros(p.k.shape, p.dtype)
    dv = np.zeros(p.v.shape, p.dtype)
    nb = len(p.batch)
    with np.errstate(all="ignore"):
        for idx in np.ndindex(*p.batch):
            masks2d = [_Mask(m.kind, _mask_index(m, idx, nb)) for m in p.masks]
            _backward_head(p, _index(p.q, idx, nb), _index(p.k, idx, nb), _index(p.v, idx, nb), masks2d,
                           dout[idx], None if out is None else out[idx], None if lse is None else lse[idx],
                           _index(dq, idx, nb), _index(dk, idx, nb), _index(dv, idx, nb))
    return dq, dk, dv


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
    Computed in tiles of at most 256 x 256 scores: each tile is one BLAS
    product, the compiled sigma (or a max-shifted exp with the running
    row maximum and sum of the online softmax), and one product into the
    output; the n x n matrix never exists, and the memory beyond the
    inputs and the output is O(L d + tile^2).

    Special values: a row whose keys are all excluded gives 0 (as PyTorch's
    ``scaled_dot_product_attention``).  A NaN score s_ij (from the inputs or
    the mask) makes row i of the output NaN and no other row; an excluded
    pair (False in a bool mask, or above the diagonal with ``causal``) takes
    no part whatever its score.

    Accuracy: the float32 results agree with a float64 evaluation of the
    formula to a few ULP of the largest output of each row (the products
    are BLAS's, the sums tiled in the input dtype).

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
