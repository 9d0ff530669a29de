r"""Multi-head attention with PyTorch's parameters and masks, a softmax or a
sigmoid score, and the output gate of Qiu et al. (2025).

The attention itself is :func:`sigmoid.attention`'s tiled computation: the
(L, S) matrix of each head is never formed, forward or backward.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _attention as _A
from .. import _core
from .layers import Linear, _Saved, check_grad
from .module import Module, Parameter, check_dtype

__all__ = ["MultiheadAttention"]

_GATES = (None, "headwise", "elementwise")


def _xavier_uniform(rng, shape, dtype):
    fan_out, fan_in = shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return Parameter(rng.uniform(-bound, bound, shape).astype(dtype))


class MultiheadAttention(Module):
    r"""Multi-head attention, PyTorch's ``nn.MultiheadAttention``, with a
    sigmoid score and a sigmoid output gate as options.

    .. math::
        \mathrm{head}_h = \mathrm{attention}(X_q W_q^{(h)} + b_q,\ X_k W_k^{(h)} + b_k,\ X_v W_v^{(h)} + b_v),
        \qquad
        Y = \big[\mathrm{head}_1, \dots, \mathrm{head}_H\big] \odot \sigma(X_q W_\theta + b_\theta),
        \qquad
        \mathrm{out} = Y W_o^\top + b_o

    where attention is :func:`sigmoid.attention` with the scale
    1/sqrt(embed_dim / num_heads), the softmax score or the sigmoid one
    sigma(s - log S) (Ramapuram et al., 2024), and the gate (the factor
    sigma(X_q W_theta + b_theta), left out when ``gate`` is None) is the
    query-dependent sigmoid gate after scaled dot-product attention of Qiu
    et al. (2025), "Gated Attention for Large Language Models:
    Non-linearity, Sparsity, and Attention-Sink-Free": one value per head
    and query ("headwise", W_theta of shape (embed_dim, num_heads)) or one
    per feature ("elementwise", (embed_dim, embed_dim)).

    Parameters
    ----------
    embed_dim, num_heads : int
        E and H; H must divide E.
    dropout : float
        Must be 0: dropout on the attention weights would need the (L, S)
        weights, which this layer never forms.
    bias : bool
        The biases of the projections (and of the gate).
    add_bias_kv, add_zero_attn : bool
        As PyTorch: a learnt key and value (``bias_k``, ``bias_v``) and a
        zero key and value appended to every sequence of keys.
    kdim, vdim : int, optional
        Feature sizes of the keys and values, E by default; when either
        differs from E the projections are separate parameters
        (``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``).
    batch_first : bool
        Inputs and outputs (batch, seq, feature) instead of (seq, batch,
        feature).
    score : {"softmax", "sigmoid"}
        The attention weights of each head.
    gate : {None, "headwise", "elementwise"}
        The output gate and its parameters ``gate_proj.weight`` (W_theta,
        (H, E) or (E, E) as a PyTorch Linear stores it) and
        ``gate_proj.bias``.
    dtype : float32 or float64
    rng : numpy.random.Generator, optional
        Source of the initial values: PyTorch's (Xavier-uniform projections,
        zero biases; the output projection and the gate as
        :class:`Linear`).

    Notes
    -----
    Parameters are named and laid out as PyTorch's (``in_proj_weight``
    (3E, E) stacking the query, key and value projections,
    ``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``, ``bias_k``,
    ``bias_v``), so that a PyTorch state dict loads unchanged; with
    ``score="softmax"`` and ``gate=None`` the layer computes what PyTorch's
    does.  The forward pass is
    ``out, weights = layer(query, key, value, key_padding_mask=None,
    need_weights=False, attn_mask=None, average_attn_weights=True,
    is_causal=False)`` with PyTorch's masks: ``attn_mask`` (L, S) or
    (N H, L, S) and ``key_padding_mask`` (N, S), bool (True: the pair is
    left out) or float (added to the scores); ``is_causal=True`` leaves out
    the keys after each query, together with ``attn_mask`` when one is
    given (PyTorch takes it as a hint that ``attn_mask`` is that mask).  A
    query that no key is left for gives 0, as PyTorch's fused path does.
    ``need_weights`` is False by default (PyTorch's is True): the weights
    are the (L, S) matrices this layer avoids; asked for, they are
    computed, averaged over the heads unless ``average_attn_weights`` is
    False, and not differentiated.  ``backward(grad_output)`` accumulates
    every parameter's gradient and returns the gradients of ``query``,
    ``key`` and ``value`` (add them for self-attention).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import MultiheadAttention
    >>> mha = MultiheadAttention(8, 2, batch_first=True, gate="headwise", dtype=np.float64,
    ...                          rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).standard_normal((3, 5, 8))
    >>> out, _ = mha(x, x, x, is_causal=True)
    >>> dq, dk, dv = mha.backward(np.ones_like(out))
    >>> out.shape, (dq + dk + dv).shape, mha.gate_proj.weight.grad.shape
    ((3, 5, 8), (3, 5, 8), (2, 8))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *, score: str = "softmax",
                 gate: str | None = None, dtype=np.float32, rng=None):
        super().__init__()
        name = "MultiheadAttention"
        dt = check_dtype(name, dtype)
        for arg, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(f"{name}: num_heads ({num_heads}) must divide embed_dim ({embed_dim})")
        kdim = embed_dim if kdim is None else kdim
        vdim = embed_dim if vdim is None else vdim
        for arg, n in (("kdim", kdim), ("vdim", vdim)):
            if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {n!r}")
        if dropout != 0:
            raise ValueError(f"{name}: dropout must be 0, got {dropout!r}: dropout of the attention weights needs "
                             f"the (L, S) weights, which this layer never forms; apply dropout to the output")
        if score not in _A._SCORES:
            raise ValueError(f"{name}: score must be 'softmax' or 'sigmoid', got {score!r}")
        if gate not in _GATES:
            raise ValueError(f"{name}: gate must be None, 'headwise' or 'elementwise', got {gate!r}")
        rng = np.random.default_rng() if rng is None else rng
        E = int(embed_dim)
        self.embed_dim, self.num_heads, self.head_dim = E, int(num_heads), E // int(num_heads)
        self.kdim, self.vdim, self.dropout = int(kdim), int(vdim), 0.0
        self.batch_first, self.score, self.gate, self.dtype = bool(batch_first), score, gate, dt
        self.add_zero_attn = bool(add_zero_attn)
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _xavier_uniform(rng, (3 * E, E), dt)
        else:
            self.q_proj_weight = _xavier_uniform(rng, (E, E), dt)
            self.k_proj_weight = _xavier_uniform(rng, (E, self.kdim), dt)
            self.v_proj_weight = _xavier_uniform(rng, (E, self.vdim), dt)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dt))
        self.out_proj = Linear(E, E, bias=bias, dtype=dt, rng=rng)
        if bias:
            self.out_proj.bias.data[...] = 0
        if add_bias_kv:
            self.bias_k = Parameter((rng.standard_normal((1, 1, E)) / math.sqrt(E)).astype(dt))
            self.bias_v = Parameter((rng.standard_normal((1, 1, E)) / math.sqrt(E)).astype(dt))
        if gate is not None:
            self.gate_proj = Linear(E, self.num_heads if gate == "headwise" else E, bias=bias, dtype=dt, rng=rng)
        object.__setattr__(self, "_saved", _Saved())

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, score={self.score!r}, gate={self.gate!r}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if "bias_k" in self._params:
            s += ", add_bias_kv=True"
        if self.add_zero_attn:
            s += ", add_zero_attn=True"
        return s + f", batch_first={self.batch_first}, dtype={self.dtype}"

    # ------------------------------------------------------------ helpers

    def _weights(self):
        """(W_q, W_k, W_v) and (b_q, b_k, b_v) (None without biases)."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight.data
            ws = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            ws = (self.q_proj_weight.data, self.k_proj_weight.data, self.v_proj_weight.data)
        b = self._params.get("in_proj_bias")
        bs = (None, None, None) if b is None else (b.data[:E], b.data[E:2 * E], b.data[2 * E:])
        return ws, bs

    def _inputs(self, query, key, value):
        """The inputs checked, as (N, L, feature) arrays; and whether they
        were batched."""
        name = "MultiheadAttention"
        arrays = []
        for arg, a, dim in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            a = np.asarray(a)
            if a.dtype != self.dtype:
                raise TypeError(f"{name}: {arg} has dtype {a.dtype}, the layer's parameters are {self.dtype}")
            if a.ndim not in (2, 3) or a.shape[-1] != dim:
                order = "(batch, seq, " if self.batch_first else "(seq, batch, "
                raise ValueError(f"{name}: {arg} of shape {a.shape}, expected {order}{dim}) or (seq, {dim})")
            arrays.append(a)
        q, k, v = arrays
        if not (q.ndim == k.ndim == v.ndim):
            raise ValueError(f"{name}: query, key and value must all be batched (3-d) or all unbatched (2-d), "
                             f"got shapes {q.shape}, {k.shape} and {v.shape}")
        batched = q.ndim == 3
        if not batched:
            q, k, v = q[None], k[None], v[None]
        elif not self.batch_first:
            q, k, v = (a.transpose(1, 0, 2) for a in (q, k, v))
        if k.shape[:2] != v.shape[:2] or q.shape[0] != k.shape[0]:
            raise ValueError(f"{name}: query, key and value must share the batch size, and key and value the "
                             f"sequence length; got shapes {query.shape if hasattr(query, 'shape') else q.shape}, "
                             f"{np.shape(key)} and {np.shape(value)}")
        if q.shape[1] == 0 or k.shape[1] == 0:
            raise ValueError(f"{name}: the sequences must not be empty, got query, key and value of shapes "
                             f"{np.shape(query)}, {np.shape(key)} and {np.shape(value)}")
        return q, k, v, batched

    def _masks(self, attn_mask, key_padding_mask, N, L, S0, batched):
        """The masks as the attention core takes them, shaped to broadcast
        against (N, H, L, S); S0 keys before the extra ones, which are never
        masked."""
        name, H = "MultiheadAttention", self.num_heads
        extra = int("bias_k" in self._params) + int(self.add_zero_attn)
        S = S0 + extra
        masks = []
        if attn_mask is not None:
            m = np.asarray(attn_mask)
            want = [(L, S0), (N * H, L, S0)]
            if m.shape not in want:
                raise ValueError(f"{name}: attn_mask of shape {m.shape}, expected {want[0]} or {want[1]} "
                                 f"(L = {L} queries, S = {S0} keys, batch {N} x {H} heads)")
            m = _A._check_mask(name, "attn_mask", m.reshape((N, H, L, S0) if m.ndim == 3 else (L, S0)),
                               (N, H), L, S0, keep_is_true=False)
            masks.append(m)
        if key_padding_mask is not None:
            m = np.asarray(key_padding_mask)
            want = (N, S0) if batched else (S0,)
            if m.shape != want:
                raise ValueError(f"{name}: key_padding_mask of shape {m.shape}, expected {want} "
                                 f"(batch {N}, S = {S0} keys)")
            m = _A._check_mask(name, "key_padding_mask", m.reshape(N, 1, 1, S0), (N, H), L, S0, keep_is_true=False)
            masks.append(m)
        for m in masks:         # the appended keys take part
            if extra:
                pad = np.ones if m.kind == "keep" else np.zeros
                filler = pad(m.array.shape[:-1] + (extra,), m.array.dtype)
                m.array = np.concatenate([m.array, filler], axis=-1)
        return masks, S

    # ------------------------------------------------------------ forward

    def forward(self, query, key, value, key_padding_mask=None, need_weights=False, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = "MultiheadAttention"
        q_in, k_in, v_in, batched = self._inputs(query, key, value)
        N, L, _ = q_in.shape
        S0 = k_in.shape[1]
        if not isinstance(is_causal, (bool, np.bool_)):
            raise TypeError(f"{name}: is_causal must be True or False, got {is_causal!r}")
        masks, S = self._masks(attn_mask, key_padding_mask, N, L, S0, batched)
        E, H, hd, dt = self.embed_dim, self.num_heads, self.head_dim, self.dtype
        (wq, wk, wv), (bq, bk, bv) = self._weights()

        def project(x, w, b):
            y = x @ w.T
            if b is not None:
                y += b
            return y

        qp, kp, vp = project(q_in, wq, bq), project(k_in, wk, bk), project(v_in, wv, bv)
        if "bias_k" in self._params:
            kp = np.concatenate([kp, np.broadcast_to(self.bias_k.data, (N, 1, E))], axis=1)
            vp = np.concatenate([vp, np.broadcast_to(self.bias_v.data, (N, 1, E))], axis=1)

        def heads(x):
            return np.ascontiguousarray(x.reshape(x.shape[0], x.shape[1], H, hd).transpose(0, 2, 1, 3))

        qh, kh, vh = heads(qp), heads(kp), heads(vp)
        if self.add_zero_attn:
            kh = np.concatenate([kh, np.zeros((N, H, 1, hd), dt)], axis=2)
            vh = np.concatenate([vh, np.zeros((N, H, 1, hd), dt)], axis=2)
        bias = -math.log(S) if self.score == "sigmoid" else 0.0
        p = _A._Problem(qh, kh, vh, (N, H), self.score, 1.0 / math.sqrt(hd), bias, bool(is_causal), masks)
        a, lse = _A._run_forward(p, True)                      # (N, H, L, hd)
        y = a.transpose(0, 2, 1, 3).reshape(N, L, E)
        g_pre = g = None
        if self.gate is not None:
            g_pre = self.gate_proj(q_in)                         # (N, L, H) or (N, L, E)
            g = _core.sigmoid(g_pre)
            if self.gate == "headwise":
                y = (a.transpose(0, 2, 1, 3) * g[..., None]).reshape(N, L, E)
            else:
                y = y * g
        out = self.out_proj(y)
        sv = self._saved
        sv.x = (q_in, k_in, v_in)
        sv.p, sv.a, sv.lse, sv.g_pre, sv.g, sv.batched, sv.S0 = p, a, lse, g_pre, g, batched, S0
        weights = self._attention_weights(p, lse, average_attn_weights) if need_weights else None
        if not batched:
            out = out[0]
            weights = None if weights is None else weights[0]
        elif not self.batch_first:
            out = out.transpose(1, 0, 2)
        return np.ascontiguousarray(out), weights

    def _attention_weights(self, p, lse, average):
        """The (N, H, L, S) weights, formed because they were asked for."""
        N, H = p.batch
        w = np.empty((N, H, p.L, p.S), p.dtype)
        with np.errstate(all="ignore"):
            for n in range(N):
                for h in range(H):
                    s = (p.q[n, h] * p.dtype.type(p.scale)) @ p.k[n, h].T
                    keep = np.ones(s.shape, bool)
                    for m in p.masks:
                        a = _A._mask_index(m, (n, h), 2)
                        if m.kind == "add":
                            s = s + a.astype(p.dtype)
                        else:
                            keep &= a
                    if p.causal:
                        keep &= np.tri(p.L, p.S, dtype=bool)
                    if p.score == "softmax":
                        # a query left without keys has lse = -inf and weights 0
                        r = np.where(np.isneginf(lse[n, h])[:, None], 0, np.exp(s - lse[n, h][:, None]))
                    else:
                        r = _core.sigmoid(s + p.dtype.type(p.bias))
                    w[n, h] = np.where(keep, r, 0)
        return w.mean(axis=1) if average else w

    # ----------------------------------------------------------- backward

    def backward(self, grad_output, grad_weights=None):
        name = "MultiheadAttention.backward"
        sv = self._saved
        x = sv.need(name)
        if grad_weights is not None:
            raise ValueError(f"{name}: the attention weights are returned for inspection and are not "
                             f"differentiated; pass grad_weights=None")
        q_in, k_in, v_in = x
        p, a, lse, g_pre, g = sv.p, sv.a, sv.lse, sv.g_pre, sv.g
        N, L, _ = q_in.shape
        E, H, hd = self.embed_dim, self.num_heads, self.head_dim
        shape = (N, L, E) if sv.batched else (L, E)
        if sv.batched and not self.batch_first:
            shape = (L, N, E)
        gout = check_grad(name, grad_output, shape, self.dtype)
        if not sv.batched:
            gout = gout[None]
        elif not self.batch_first:
            gout = gout.transpose(1, 0, 2)
        dy = self.out_proj.backward(gout)                        # (N, L, E)
        at = a.transpose(0, 2, 1, 3)                             # (N, L, H, hd)
        dq_in = np.zeros(q_in.shape, self.dtype)
        if self.gate is not None:
            dy4 = dy.reshape(N, L, H, hd)
            if self.gate == "headwise":
                dg = np.einsum("nlhd,nlhd->nlh", dy4, at)
                da = dy4 * g[..., None]
            else:
                g4 = g.reshape(N, L, H, hd)
                dg = (dy4 * at).reshape(N, L, E)
                da = dy4 * g4
            dq_in += self.gate_proj.backward(_core.sigmoid_backward(g_pre, dg))
        else:
            da = dy.reshape(N, L, H, hd)
        da = np.ascontiguousarray(da.transpose(0, 2, 1, 3))      # (N, H, L, hd)
        dqh, dkh, dvh = _A._run_backward(p, da, a, lse)
        if self.add_zero_attn:
            dkh, dvh = dkh[:, :, :-1], dvh[:, :, :-1]

        def unheads(x):
            return x.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], E)

        dqp, dkp, dvp = unheads(dqh), unheads(dkh), unheads(dvh)
        if "bias_k" in self._params:
            self.bias_k.accumulate(dkp[:, -1].sum(axis=0).reshape(1, 1, E))
            self.bias_v.accumulate(dvp[:, -1].sum(axis=0).reshape(1, 1, E))
            dkp, dvp = dkp[:, :-1], dvp[:, :-1]
        (wq, wk, wv), _ = self._weights()
        grads_w = []
        for dp, xin in ((dqp, q_in), (dkp, k_in), (dvp, v_in)):
            grads_w.append(np.tensordot(dp, xin, axes=([0, 1], [0, 1])))
        if self._qkv_same_embed_dim:
            self.in_proj_weight.accumulate(np.concatenate(grads_w, axis=0))
        else:
            self.q_proj_weight.accumulate(grads_w[0])
            self.k_proj_weight.accumulate(grads_w[1])
            self.v_proj_weight.accumulate(grads_w[2])
        if "in_proj_bias" in self._params:
            self.in_proj_bias.accumulate(np.concatenate([d.sum(axis=(0, 1)) for d in (dqp, dkp, dvp)]))
        dq_in += dqp @ wq
        dk_in = dkp @ wk
        dv_in = dvp @ wv
        if not sv.batched:
            return dq_in[0], dk_in[0], dv_in[0]
        if not self.batch_first:
            dq_in, dk_in, dv_in = (d.transpose(1, 0, 2) for d in (dq_in, dk_in, dv_in))
        return tuple(np.ascontiguousarray(d) for d in (dq_in, dk_in, dv_in))
