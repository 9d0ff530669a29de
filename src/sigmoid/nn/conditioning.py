r"""Timestep conditioning of diffusion and flow networks: the sinusoidal
embedding of t through an MLP with SiLU (x sigma(x)), and a residual block
modulated by it (FiLM scale and shift) with an optional sigma gate."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core
from .layers import Linear, _Saved, as_float_input, check_grad
from .module import Module, check_dtype

__all__ = ["TimestepEmbedding", "ConditionedResidualBlock", "sinusoidal_embedding"]


def _size(owner: str, name: str, v, least: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < least:
        raise ValueError(f"{owner}: {name} must be an int >= {least}, got {v!r}")
    return int(v)


def _positive(owner: str, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v > 0):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {v!r}")
    return float(v)


def _frequencies(dim: int, max_period: float) -> np.ndarray:
    half = dim // 2
    return np.exp(-math.log(max_period) * np.arange(half) / half)


def _phases(owner: str, t, dim: int, max_period: float, scale: float):
    a = np.asarray(t)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{owner}: t must be real numbers, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ValueError(f"{owner}: t must have shape (batch,), got shape {a.shape}")
    x = a.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{owner}: t contains nan or inf")
    f = scale * _frequencies(dim, max_period)
    return x[:, None] * f, f


def sinusoidal_embedding(t, dim: int, *, max_period: float = 10000.0, scale: float = 1000.0) -> np.ndarray:
    r"""The sinusoidal features of times t, as in DDPM and ADM.

    Vaswani et al., 2017; Dhariwal & Nichol, 2021: for k = 0 ... dim/2 - 1,

    .. math::
        e(t) = [\cos(\omega_0 s t), \ldots, \cos(\omega_{h-1} s t),
                \sin(\omega_0 s t), \ldots, \sin(\omega_{h-1} s t)],
        \qquad \omega_k = P^{-k/h}, \ h = \mathrm{dim}/2,

    with P = `max_period` and s = `scale` (1000: continuous t in [0, 1]
    spans the phases DDPM's integer steps 0 ... 1000 do).  The phases are
    formed in float64.

    Parameters
    ----------
    t : array_like, shape (batch,)
        Real, finite times.
    dim : int
        Number of features, even, >= 2.
    max_period : float, default 10000.0
    scale : float, default 1000.0

    Returns
    -------
    ndarray of shape (batch, dim), float64

    Raises
    ------
    ValueError
        If t is not a finite real 1-D array, dim is odd or < 2, or
        max_period or scale is not a finite number > 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import sinusoidal_embedding
    >>> sinusoidal_embedding(np.array([0.0, 0.001]), 4).round(4)
    array([[1.    , 1.    , 0.    , 0.    ],
           [0.5403, 1.    , 0.8415, 0.01  ]])
    """
    owner = "sinusoidal_embedding"
    dim = _size(owner, "dim", dim, 2)
    if dim % 2:
        raise ValueError(f"{owner}: dim must be even, got {dim}")
    ph, _ = _phases(owner, t, dim, _positive(owner, "max_period", max_period), _positive(owner, "scale", scale))
    return np.concatenate([np.cos(ph), np.sin(ph)], axis=1)


class TimestepEmbedding(Module):
    r"""The timestep-conditioning network of DDPM and ADM: sinusoids of t, Linear, SiLU, Linear.

    .. math::
        c(t) = W_2\,\mathrm{SiLU}(W_1 e(t) + b_1) + b_2, \qquad \mathrm{SiLU}(x) = x\sigma(x),

    with e(t) from :func:`sinusoidal_embedding` (``frequency_dim``
    features): Ho et al., 2020 ("Denoising Diffusion Probabilistic
    Models") and Dhariwal & Nichol, 2021 ("Diffusion Models Beat GANs on
    Image Synthesis", ADM).  The parameters are named as in diffusers'
    ``TimestepEmbedding`` (``linear_1``, ``linear_2``), so its state dict
    loads unchanged.

    Parameters
    ----------
    embedding_dim : int
        Width of the output (and of the hidden layer).
    frequency_dim : int, default 64
        Number of sinusoidal features, even.
    max_period, scale : float, default 10000.0 and 1000.0
        As in :func:`sinusoidal_embedding`.
    dtype : float32 or float64, default float32
    rng : numpy.random.Generator, optional
        Source of the initial values (PyTorch's ``nn.Linear`` init).

    Notes
    -----
    ``forward(t)`` takes times of shape (batch,) (any real dtype; the
    phases are formed in float64, then the features rounded to ``dtype``)
    and returns (batch, embedding_dim).  ``backward(g)`` accumulates the
    parameters' gradients and returns dL/dt, shape (batch,), float64: the
    derivative of the features, :math:`-s\omega_k\sin` and
    :math:`s\omega_k\cos`, chained with the MLP's.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import TimestepEmbedding, gradcheck
    >>> emb = TimestepEmbedding(8, frequency_dim=6, dtype=np.float64, rng=np.random.default_rng(0))
    >>> c = emb(np.array([0.0, 0.5, 1.0]))
    >>> c.shape, emb.backward(np.ones_like(c)).shape
    ((3, 8), (3,))
    >>> gradcheck(emb, (np.array([0.1, 0.7]),), eps=1e-7, rtol=1e-5)
    True
    """

    def __init__(self, embedding_dim: int, frequency_dim: int = 64, *, max_period: float = 10000.0,
                 scale: float = 1000.0, dtype=np.float32, rng=None):
        super().__init__()
        owner = "TimestepEmbedding"
        dt = check_dtype(owner, dtype)
        self.embedding_dim = _size(owner, "embedding_dim", embedding_dim)
        self.frequency_dim = _size(owner, "frequency_dim", frequency_dim, 2)
        if self.frequency_dim % 2:
            raise ValueError(f"{owner}: frequency_dim must be even, got {frequency_dim}")
        self.max_period = _positive(owner, "max_period", max_period)
        self.scale = _positive(owner, "scale", scale)
        self.dtype = dt
        rng = np.random.default_rng() if rng is None else rng
        self.linear_1 = Linear(self.frequency_dim, self.embedding_dim, dtype=dt, rng=rng)
        self.linear_2 = Linear(self.embedding_dim, self.embedding_dim, dtype=dt, rng=rng)
        object.__setattr__(self, "_saved", _Saved())

    def extra_repr(self):
        return (f"embedding_dim={self.embedding_dim}, frequency_dim={self.frequency_dim}, "
                f"max_period={self.max_period}, scale={self.scale}, dtype={self.dtype}")

    def forward(self, t):
        return self._evaluate(t, keep=True)

    def embed(self, t) -> np.ndarray:
        """c(t) as :meth:`forward` computes it, keeping nothing for a
        backward pass (to inspect a network between training steps)."""
        return self._evaluate(t, keep=False)

    def _evaluate(self, t, keep):
        ph, f = _phases("TimestepEmbedding", t, self.frequency_dim, self.max_period, self.scale)
        cos, sin = np.cos(ph), np.sin(ph)
        e = np.concatenate([cos, sin], axis=1).astype(self.dtype)
        if not keep:
            l1, l2 = self.linear_1, self.linear_2
            return _core.silu(e @ l1.weight.data.T + l1.bias.data) @ l2.weight.data.T + l2.bias.data
        h = self.linear_1(e)
        out = self.linear_2(_core.silu(h))
        self._saved.x, self._saved.h, self._saved.trig = e, h, (cos, sin, f)
        return out

    def backward(self, grad_output):
        h = self._saved.need("TimestepEmbedding.backward", "h")
        g = check_grad("TimestepEmbedding.backward", grad_output, h.shape, self.dtype)
        ge = self.linear_1.backward(_core.silu_backward(h, self.linear_2.backward(g)))
        cos, sin, f = self._saved.trig
        half = f.size
        ge = ge.astype(np.float64)
        # d cos(w t)/dt = -w sin(w t), d sin(w t)/dt = w cos(w t)
        return (ge[:, half:] * cos - ge[:, :half] * sin) @ f


class ConditionedResidualBlock(Module):
    r"""A residual MLP block with FiLM scale and shift from a conditioning vector, and a sigma gate.

    .. math::
        [\beta, \gamma, g] = W_m\,\mathrm{SiLU}(c) + b_m, \qquad
        h = \hat x \odot (1 + \gamma) + \beta, \qquad
        y = x + \sigma(g) \odot W_2\,\mathrm{SiLU}(W_1 h + b_1) + b_2,

    with :math:`\hat x` the layer normalisation of x (no learnt affine,
    :math:`\epsilon` = `eps`) when ``norm`` is true, else x itself; without
    the gate, :math:`y = x + W_2\,\mathrm{SiLU}(W_1 h + b_1) + b_2`.  FiLM
    is Perez et al., 2018 ("FiLM: Visual Reasoning with a General
    Conditioning Layer"), its use for the timestep ADM's scale-shift norm
    (Dhariwal & Nichol, 2021) and DiT's adaLN (Peebles & Xie, 2023), whose
    gate is linear; here it is :math:`\sigma(g)`, in (0, 1), so that the
    block can shut its residual branch for some t and open it for others.

    Parameters
    ----------
    features : int
        Width of x and y.
    cond_features : int
        Width of the conditioning vector c (e.g. a :class:`TimestepEmbedding`'s output).
    hidden_features : int, optional
        Width of the hidden layer of the MLP (default 2 ``features``).
    gate : bool, default True
        Whether to gate the residual branch with :math:`\sigma(g)`.
    norm : bool, default True
        Whether to layer-normalise x before the FiLM.
    eps : float, default 1e-6
        Added to the variance in the normalisation.
    zero_init : bool, default True
        Start the modulation layer at 0 (adaLN-Zero, Peebles & Xie): scale
        and shift 0 and the gate :math:`\sigma(0) = 1/2` for every c, so
        that at first the block is a plain residual MLP and the
        conditioning is learnt.
    dtype : float32 or float64, default float32
    rng : numpy.random.Generator, optional

    Attributes
    ----------
    modulation : Linear
        :math:`W_m`, :math:`b_m`: ``cond_features`` to 3 ``features`` (2
        without the gate), the rows in the order shift, scale, gate (as
        ``torch.chunk(3, dim=-1)`` splits them).
    fc1, fc2 : Linear

    Notes
    -----
    ``forward(x, c)`` takes x of shape (..., features) and c of shape (...,
    cond_features), the same leading shape; ``backward(g)`` returns
    ``(dx, dc)``.  :meth:`film` gives the shift, scale and gate for given c
    (what the tour draws against t).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import ConditionedResidualBlock, gradcheck
    >>> r = np.random.default_rng(0)
    >>> blk = ConditionedResidualBlock(4, 3, zero_init=False, dtype=np.float64, rng=r)
    >>> x, c = r.standard_normal((5, 4)), r.standard_normal((5, 3))
    >>> y = blk(x, c)
    >>> dx, dc = blk.backward(np.ones_like(y))
    >>> y.shape, dx.shape, dc.shape
    ((5, 4), (5, 4), (5, 3))
    >>> gradcheck(blk, (x, c))
    True
    >>> sorted(blk.film(c))
    ['gate', 'scale', 'shift']
    """

    def __init__(self, features: int, cond_features: int, hidden_features: int | None = None, *,
                 gate: bool = True, norm: bool = True, eps: float = 1e-6, zero_init: bool = True,
                 dtype=np.float32, rng=None):
        super().__init__()
        owner = "ConditionedResidualBlock"
        dt = check_dtype(owner, dtype)
        self.features = _size(owner, "features", features)
        self.cond_features = _size(owner, "cond_features", cond_features)
        self.hidden_features = _size(owner, "hidden_features",
                                     2 * self.features if hidden_features is None else hidden_features)
        self.gate, self.norm = bool(gate), bool(norm)
        self.eps = _positive(owner, "eps", eps)
        self.dtype = dt
        rng = np.random.default_rng() if rng is None else rng
        self.modulation = Linear(self.cond_features, (3 if self.gate else 2) * self.features, dtype=dt, rng=rng)
        if zero_init:
            self.modulation.weight.data[...] = 0
            self.modulation.bias.data[...] = 0
        self.fc1 = Linear(self.features, self.hidden_features, dtype=dt, rng=rng)
        self.fc2 = Linear(self.hidden_features, self.features, dtype=dt, rng=rng)
        object.__setattr__(self, "_saved", _Saved())

    def extra_repr(self):
        return (f"features={self.features}, cond_features={self.cond_features}, "
                f"hidden_features={self.hidden_features}, gate={self.gate}, norm={self.norm}, dtype={self.dtype}")

    def _modulate(self, c):
        m = self.modulation(_core.silu(c))
        F = self.features
        return m[..., :F], m[..., F:2 * F], (m[..., 2 * F:] if self.gate else None)

    def film(self, c) -> dict[str, np.ndarray]:
        r"""The modulation for conditioning vectors c, shape (...,
        cond_features): ``shift`` :math:`\beta`, ``scale`` :math:`\gamma`
        (the FiLM multiplies by :math:`1 + \gamma`) and, with the gate,
        ``gate`` :math:`\sigma(g)`; each of shape (..., features).  Keeps
        nothing for a backward pass."""
        c = self._check_c("ConditionedResidualBlock.film", c, None)
        m = _core.silu(c) @ self.modulation.weight.data.T + self.modulation.bias.data
        F = self.features
        out = {"shift": m[..., :F], "scale": m[..., F:2 * F]}
        if self.gate:
            out["gate"] = _core.sigmoid(m[..., 2 * F:])
        return out

    def _check_c(self, owner, c, lead):
        c = as_float_input(owner, c, self.dtype)
        if c.ndim < 1 or c.shape[-1] != self.cond_features:
            raise ValueError(f"{owner}: c must have shape (..., {self.cond_features}), got {c.shape}")
        if lead is not None and c.shape[:-1] != lead:
            raise ValueError(f"{owner}: x has leading shape {lead} and c {c.shape[:-1]}; they must match")
        return c

    def forward(self, x, c):
        owner = "ConditionedResidualBlock"
        x = as_float_input(owner, x, self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.features:
            raise ValueError(f"{owner}: x must have shape (..., {self.features}), got {x.shape}")
        c = self._check_c(owner, c, x.shape[:-1])
        shift, scale, g = self._modulate(c)
        if self.norm:
            k = self.dtype.type(1 / self.features)
            xc = x - x.sum(axis=-1, keepdims=True) * k
            inv = 1 / np.sqrt((xc * xc).sum(axis=-1, keepdims=True) * k + self.dtype.type(self.eps))
            xn = xc * inv
        else:
            xn, inv = x, None
        h = xn * (1 + scale) + shift
        a = self.fc1(h)
        y = self.fc2(_core.silu(a))
        sv = self._saved
        sv.x, sv.c, sv.xn, sv.inv, sv.scale, sv.a, sv.y, sv.g = x, c, xn, inv, scale, a, y, g
        return x + (_core.sigmoid(g) * y if self.gate else y)

    def backward(self, grad_output):
        sv = self._saved
        x = sv.need("ConditionedResidualBlock.backward")
        go = check_grad("ConditionedResidualBlock.backward", grad_output, x.shape, self.dtype)
        if self.gate:
            dy = go * _core.sigmoid(sv.g)
            dg = _core.sigmoid_backward(sv.g, go * sv.y)         # d sigma(g) = sigma(g) sigma(-g): exact
        else:
            dy, dg = go, None
        dh = self.fc1.backward(_core.silu_backward(sv.a, self.fc2.backward(dy)))
        dscale, dshift = dh * sv.xn, dh
        dxn = dh * (1 + sv.scale)
        if self.norm:
            # x_hat = (x - mean) / std: dx = (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) / std
            k = self.dtype.type(1 / self.features)
            dx = (dxn - dxn.sum(axis=-1, keepdims=True) * k
                  - sv.xn * ((dxn * sv.xn).sum(axis=-1, keepdims=True) * k)) * sv.inv
        else:
            dx = dxn
        dm = np.concatenate([dshift, dscale] + ([dg] if self.gate else []), axis=-1)
        dc = _core.silu_backward(sv.c, self.modulation.backward(dm))
        return go + dx, dc
