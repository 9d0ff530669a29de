"""LSTM and GRU cells and stacks, with PyTorch's equations, gate order and
parameter names, and exact backward passes.

The matrix products go to NumPy's BLAS (the input projection of a whole
sequence in one product, the recurrent one per step); the pointwise part of
a step (the sigma and tanh of the gates, the new cell and hidden state) runs
in one compiled pass, forward and backward.
"""
from __future__ import annotations

import numpy as np

from .. import _core
from .layers import as_float_input, check_grad
from .module import Module, Parameter, check_dtype

__all__ = ["LSTMCell", "GRUCell", "RNNCell", "LSTM", "GRU", "RNN"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _init(rng, shape, hidden, dtype):
    k = 1.0 / np.sqrt(hidden) if hidden > 0 else 0.0
    return Parameter(rng.uniform(-k, k, shape).astype(dtype))


def _state(owner, name, s, shape, dtype):
    """An initial state given by the caller, checked, or zeros."""
    if s is None:
        return np.zeros(shape, dtype)
    a = np.asarray(s)
    if a.dtype != dtype:
        raise TypeError(f"{owner}: {name} has dtype {a.dtype}, the layer's parameters are {dtype}")
    if a.shape != tuple(shape):
        raise ValueError(f"{owner}: {name} has shape {a.shape}, expected {tuple(shape)}")
    return np.ascontiguousarray(a)


# ------------------------------------------------------------ one direction

class _Run:
    """One layer, one direction, over a whole sequence: the forward pass and
    what its backward pass needs.

    Inside, every per-step array is kept transposed, feature by batch:
    the recurrent product is then W @ h^T, (G H, K) by (K, B), the shape
    BLAS runs fastest for a small batch, and the four (three) gate blocks of
    a step are each one contiguous run of H B values, which the compiled
    pointwise pass takes as a single row.  For the LSTM the input and the
    previous hidden state sit one above the other in Z_t = [x_t; 1; h_(t-1)],
    so that each step is one product [W_ih, b_ih + b_hh, W_hh] Z_t.
    """

    def __init__(self, kind, w_ih, w_hh, b_ih, b_hh, nonlinearity=None):
        self.kind, self.w_ih, self.w_hh, self.b_ih, self.b_hh = kind, w_ih, w_hh, b_ih, b_hh
        self.nonlinearity = nonlinearity
        self.saved = None

    def forward(self, x, h0, c0):
        """x: (T, B, I) contiguous; h0, c0: (B, H).  Returns out (T, B, H),
        h_n and c_n (B, H)."""
        T, B, I = self.shape = x.shape
        H = self.w_hh.data.shape[1]
        dt = x.dtype
        if self.kind != "GRU":
            # Z_t = [x_t; 1; h_(t-1)] and [W_ih, b_ih + b_hh, W_hh]: the bias
            # rides in the product (and its gradient comes out of the
            # weights' one)
            parts = [self.w_ih.data]
            if self.b_ih is not None:
                parts.append((self.b_ih.data + self.b_hh.data)[:, None])
            wc = np.concatenate(parts + [self.w_hh.data], axis=1)
            o = wc.shape[1] - H                     # first row of h in Z_t
            Z = np.empty((T + 1, o + H, B), dt)
            Z[:T, :I] = x.transpose(0, 2, 1)
            Z[:, I:o] = 1
            Z[0, o:] = h0.T
            if self.kind == "RNN":
                relu = self.nonlinearity == "relu"
                for t in range(T):
                    h = Z[t + 1, o:]
                    np.matmul(wc, Z[t], out=h)
                    if relu:
                        np.maximum(h, 0, out=h)
                    else:
                        np.tanh(h, out=h)
                self.saved = (wc, Z)
                return Z[1:, o:].transpose(0, 2, 1), Z[T, o:].T, None
            cs = np.empty((T + 1, H, B), dt)
            cs[0] = c0.T
            act = np.empty((T, 4 * H, B), dt)
            tanhc = np.empty((T, H, B), dt)
            buf = np.empty((4 * H, B), dt)
            for t in range(T):
                np.matmul(wc, Z[t], out=buf)
                _core._lstm_forward(buf.reshape(1, -1), cs[t].reshape(1, -1), Z[t + 1, o:].reshape(1, -1),
                                    cs[t + 1].reshape(1, -1), act[t].reshape(1, -1), tanhc[t].reshape(1, -1))
            self.saved = (wc, Z, cs, act, tanhc)
            return Z[1:, o:].transpose(0, 2, 1), Z[T, o:].T, cs[T].T
        gi = np.matmul(self.w_ih.data, x.transpose(0, 2, 1))       # (T, 3H, B)
        if self.b_ih is not None:
            gi += self.b_ih.data[:, None]
        bhh = None if self.b_hh is None else self.b_hh.data[:, None]
        hs = np.empty((T + 1, H, B), dt)
        hs[0] = h0.T
        act = np.empty((T, 4 * H, B), dt)
        buf = np.empty((3 * H, B), dt)
        for t in range(T):
            np.matmul(self.w_hh.data, hs[t], out=buf)
            if bhh is not None:
                buf += bhh
            _core._gru_forward(gi[t].reshape(1, -1), buf.reshape(1, -1), hs[t].reshape(1, -1),
                               hs[t + 1].reshape(1, -1), act[t].reshape(1, -1))
        self.saved = (x, hs, act)
        return hs[1:].transpose(0, 2, 1), hs[T].T, None

    def backward(self, d_out, dh_n, dc_n):
        """d_out: (T, B, H) gradient of the outputs; dh_n, dc_n: of the final
        states (B, H), or None.  Accumulates the parameters' gradients;
        returns dx (T, B, I), dh0 and dc0 (B, H)."""
        H = self.w_hh.data.shape[1]
        if self.kind != "GRU":
            T, B, I = self.shape
            wc, Z = self.saved[:2]
            dt = Z.dtype
            o = wc.shape[1] - H
            G = _GATES[self.kind]
            wct = np.ascontiguousarray(wc.T)
            dZ = np.empty((T + 1, o + H, B), dt)    # dZ[t + 1, o:]: gradient of h_t
            dZ[T, o:] = 0 if dh_n is None else dh_n.T
            dG = np.empty((T, G * H, B), dt)
            if self.kind == "LSTM":
                _, _, cs, act, tanhc = self.saved
                dc = np.zeros((H, B), dt) if dc_n is None else np.ascontiguousarray(dc_n.T)
                dc_prev = np.empty((H, B), dt)
            for t in range(T - 1, -1, -1):
                dh = dZ[t + 1, o:]
                dh += d_out[t].T
                if self.kind == "RNN":
                    h = Z[t + 1, o:]
                    if self.nonlinearity == "relu":
                        np.multiply(dh, h > 0, out=dG[t])
                    else:
                        np.multiply(dh, 1 - h * h, out=dG[t])
                else:
                    _core._lstm_backward(dh.reshape(1, -1), dc.reshape(1, -1), act[t].reshape(1, -1),
                                         cs[t].reshape(1, -1), tanhc[t].reshape(1, -1), dG[t].reshape(1, -1),
                                         dc_prev.reshape(1, -1))
                    dc, dc_prev = dc_prev, dc
                np.matmul(wct, dG[t], out=dZ[t])
            dW = np.tensordot(dG, Z[:T], axes=([0, 2], [0, 2]))     # sum over t, b of dG_t Z_t^T
            self.w_ih.accumulate(dW[:, :I])
            self.w_hh.accumulate(dW[:, o:])
            if self.b_ih is not None:
                self.b_ih.accumulate(dW[:, I])
                self.b_hh.accumulate(dW[:, I])
            self.saved = None
            return dZ[:T, :I].transpose(0, 2, 1), dZ[0, o:].T, dc.T if self.kind == "LSTM" else None
        x, hs, act = self.saved
        T, B, I = x.shape
        dt = x.dtype
        whh_t = np.ascontiguousarray(self.w_hh.data.T)
        dh = np.zeros((H, B), dt) if dh_n is None else np.ascontiguousarray(dh_n.T)
        dh_prev = np.empty((H, B), dt)
        dgi = np.empty((T, 3 * H, B), dt)
        dgh = np.empty((T, 3 * H, B), dt)
        for t in range(T - 1, -1, -1):
            dh += d_out[t].T
            _core._gru_backward(dh.reshape(1, -1), act[t].reshape(1, -1), hs[t].reshape(1, -1),
                                dgi[t].reshape(1, -1), dgh[t].reshape(1, -1), dh_prev.reshape(1, -1))
            np.matmul(whh_t, dgh[t], out=dh)
            dh += dh_prev
        self.w_ih.accumulate(np.tensordot(dgi, x, axes=([0, 2], [0, 1])))
        self.w_hh.accumulate(np.tensordot(dgh, hs[:T], axes=([0, 2], [0, 2])))
        if self.b_ih is not None:
            self.b_ih.accumulate(dgi.sum(axis=(0, 2)))
            self.b_hh.accumulate(dgh.sum(axis=(0, 2)))
        dx = np.matmul(self.w_ih.data.T, dgi).transpose(0, 2, 1)   # (T, B, I)
        self.saved = None
        return dx, dh.T, None


# ------------------------------------------------------------------- cells

class _Cell(Module):
    kind = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__()
        name = self.kind + "Cell"
        dt = check_dtype(name, dtype)
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{name}: input_size and hidden_size must be positive, got "
                             f"{input_size} and {hidden_size}")
        rng = np.random.default_rng() if rng is None else rng
        G = _GATES[self.kind]
        self.input_size, self.hidden_size, self.dtype = int(input_size), int(hidden_size), dt
        self.weight_ih = _init(rng, (G * hidden_size, input_size), hidden_size, dt)
        self.weight_hh = _init(rng, (G * hidden_size, hidden_size), hidden_size, dt)
        self.bias_ih = _init(rng, (G * hidden_size,), hidden_size, dt) if bias else None
        self.bias_hh = _init(rng, (G * hidden_size,), hidden_size, dt) if bias else None
        object.__setattr__(self, "_run", None)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}, dtype={self.dtype}"

    def _input(self, x):
        name = self.kind + "Cell"
        x = as_float_input(name, x, self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape}, expected (batch, {self.input_size}) "
                             f"or ({self.input_size},)")
        batched = x.ndim == 2
        x2 = x if batched else x[None]
        return np.ascontiguousarray(x2)[None], batched

    def _begin(self):
        run = _Run(self.kind, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                   getattr(self, "nonlinearity", None))
        object.__setattr__(self, "_run", run)
        return run

    def _need(self):
        if self._run is None or self._run.saved is None:
            raise ValueError(f"{self.kind}Cell.backward: called before forward")
        return self._run


class LSTMCell(_Cell):
    """One LSTM step, PyTorch's ``nn.LSTMCell``:

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)      (input gate)
        f = sigma(W_if x + b_if + W_hf h + b_hf)      (forget gate)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        o = sigma(W_io x + b_io + W_ho h + b_ho)      (output gate)
        c' = f c + i g,    h' = o tanh(c')

    ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H) stack the gates in the
    order i, f, g, o; ``bias_ih``, ``bias_hh`` (4H,).  ``cell(x, (h, c))``
    returns ``(h', c')``; the state defaults to zeros.
    ``backward(dh', dc')`` (dc' optional) accumulates the parameters'
    gradients and returns ``(dx, (dh, dc))``.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import LSTMCell
    >>> cell = LSTMCell(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> h, c = cell(np.ones((5, 3)))
    >>> dx, (dh, dc) = cell.backward(np.ones_like(h))
    >>> h.shape, dx.shape, dc.shape
    ((5, 2), (5, 3), (5, 2))
    """

    kind = "LSTM"

    def forward(self, x, state=None):
        x3, batched = self._input(x)
        B, H = x3.shape[1], self.hidden_size
        shape = (B, H) if batched else (H,)
        h0, c0 = (None, None) if state is None else state
        h0 = _state("LSTMCell", "h", h0, shape, self.dtype).reshape(B, H)
        c0 = _state("LSTMCell", "c", c0, shape, self.dtype).reshape(B, H)
        _, h, c = self._begin().forward(x3, h0, c0)
        object.__setattr__(self, "_batched", batched)
        return (h.copy(), c.copy()) if batched else (h[0].copy(), c[0].copy())

    def backward(self, grad_h, grad_c=None):
        run = self._need()
        B, H = run.shape[1], self.hidden_size
        shape = (B, H) if self._batched else (H,)
        dh = np.zeros((B, H), self.dtype) if grad_h is None else check_grad("LSTMCell.backward", grad_h, shape, self.dtype)
        dc = None if grad_c is None else check_grad("LSTMCell.backward", grad_c, shape, self.dtype).reshape(B, H)
        dx, dh0, dc0 = run.backward(dh.reshape(1, B, H), None, dc)
        return (dx[0], (dh0, dc0)) if self._batched else (dx[0, 0], (dh0[0], dc0[0]))


class GRUCell(_Cell):
    """One GRU step, PyTorch's ``nn.GRUCell``:

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)      (reset gate)
        z = sigma(W_iz x + b_iz + W_hz h + b_hz)      (update gate)
        n = tanh(W_in x + b_in + r (W_hn h + b_hn))
        h' = (1 - z) n + z h

    ``weight_ih`` (3H, I) and ``weight_hh`` (3H, H) stack r, z, n.
    ``cell(x, h)`` returns ``h'``; ``backward(dh')`` returns ``(dx, dh)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import GRUCell
    >>> cell = GRUCell(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> h = cell(np.ones((5, 3)))
    >>> dx, dh = cell.backward(np.ones_like(h))
    >>> h.shape, dx.shape, dh.shape
    ((5, 2), (5, 3), (5, 2))
    """

    kind = "GRU"

    def forward(self, x, h=None):
        x3, batched = self._input(x)
        B, H = x3.shape[1], self.hidden_size
        h0 = _state(f"{self.kind}Cell", "h", h, (B, H) if batched else (H,), self.dtype).reshape(B, H)
        _, hn, _ = self._begin().forward(x3, h0, None)
        object.__setattr__(self, "_batched", batched)
        return hn.copy() if batched else hn[0].copy()

    def backward(self, grad_output):
        run = self._need()
        B, H = run.shape[1], self.hidden_size
        shape = (B, H) if self._batched else (H,)
        g = check_grad(f"{self.kind}Cell.backward", grad_output, shape, self.dtype).reshape(1, B, H)
        dx, dh0, _ = run.backward(g, None, None)
        return (dx[0], dh0) if self._batched else (dx[0, 0], dh0[0])


# ------------------------------------------------------------------ stacks

class _RNN(Module):
    kind = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None):
        super().__init__()
        name = self.kind
        dt = check_dtype(name, dtype)
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, got "
                             f"{input_size}, {hidden_size} and {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.dtype = bool(bidirectional), dt
        object.__setattr__(self, "_rng", np.random.default_rng() if rng is None else rng)
        G, D = _GATES[self.kind], 2 if bidirectional else 1
        for layer in range(num_layers):
            isz = input_size if layer == 0 else hidden_size * D
            for sfx in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{layer}{sfx}", _init(self._rng, (G * hidden_size, isz), hidden_size, dt))
                setattr(self, f"weight_hh_l{layer}{sfx}",
                        _init(self._rng, (G * hidden_size, hidden_size), hidden_size, dt))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{sfx}", _init(self._rng, (G * hidden_size,), hidden_size, dt))
                    setattr(self, f"bias_hh_l{layer}{sfx}", _init(self._rng, (G * hidden_size,), hidden_size, dt))
        object.__setattr__(self, "_saved", None)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for k, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s + f", dtype={self.dtype}"

    def _runs(self, layer):
        D = 2 if self.bidirectional else 1
        out = []
        for sfx in ("", "_reverse")[:D]:
            p = self._params
            out.append(_Run(self.kind, p[f"weight_ih_l{layer}{sfx}"], p[f"weight_hh_l{layer}{sfx}"],
                            p.get(f"bias_ih_l{layer}{sfx}"), p.get(f"bias_hh_l{layer}{sfx}"),
                            getattr(self, "nonlinearity", None)))
        return out

    def _forward(self, x, h0, c0):
        name = self.kind
        x = as_float_input(name, x, self.dtype)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            order = "(batch, seq, input)" if self.batch_first else "(seq, batch, input)"
            raise ValueError(f"{name}: input of shape {x.shape}, expected {order} or (seq, input) "
                             f"with input = {self.input_size}")
        batched = x.ndim == 3
        if not batched:
            x = x[:, None]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        x = np.ascontiguousarray(x)
        T, B, _ = x.shape
        D, H, L = 2 if self.bidirectional else 1, self.hidden_size, self.num_layers
        sshape = (L * D, B, H) if batched else (L * D, H)
        h0 = _state(name, "h_0", h0, sshape, self.dtype).reshape(L * D, B, H)
        if self.kind == "LSTM":
            c0 = _state(name, "c_0", c0, sshape, self.dtype).reshape(L * D, B, H)
        hn = np.empty((L * D, B, H), self.dtype)
        cn = np.empty((L * D, B, H), self.dtype) if self.kind == "LSTM" else None
        layers = []
        inp = x
        for layer in range(L):
            mask = None
            if layer > 0 and self.training and self.dropout > 0:
                keep = 1.0 - self.dropout
                mask = (self._rng.random(inp.shape) < keep).astype(self.dtype) / self.dtype.type(keep)
                inp = inp * mask
            runs = self._runs(layer)
            outs = []
            for d, run in enumerate(runs):
                k = layer * D + d
                xi = inp if d == 0 else np.ascontiguousarray(inp[::-1])
                out, hn[k], ck = run.forward(xi, h0[k], c0[k] if cn is not None else None)
                if cn is not None:
                    cn[k] = ck
                outs.append(out if d == 0 else out[::-1])
            layers.append((runs, mask))
            inp = outs[0] if D == 1 else np.concatenate(outs, axis=2)
        object.__setattr__(self, "_saved", (layers, batched))
        out = inp
        if not batched:
            out, hn = out[:, 0], hn[:, 0]
            cn = cn[:, 0] if cn is not None else None
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        return np.ascontiguousarray(out), hn, cn

    def _backward(self, grad_output, dhn, dcn):
        name = f"{self.kind}.backward"
        if self._saved is None:
            raise ValueError(f"{name}: called before forward")
        layers, batched = self._saved
        D, H, L = 2 if self.bidirectional else 1, self.hidden_size, self.num_layers
        T, B = layers[0][0][0].shape[:2]
        oshape = ((B, T) if self.batch_first else (T, B)) + (D * H,) if batched else (T, D * H)
        g = check_grad(name, grad_output, oshape, self.dtype)
        g = g[:, None] if not batched else (g.transpose(1, 0, 2) if self.batch_first else g)
        sshape = (L * D, B, H) if batched else (L * D, H)
        dhn = None if dhn is None else check_grad(name, dhn, sshape, self.dtype).reshape(L * D, B, H)
        dcn = None if dcn is None else check_grad(name, dcn, sshape, self.dtype).reshape(L * D, B, H)
        dh0 = np.zeros((L * D, B, H), self.dtype)
        dc0 = np.zeros((L * D, B, H), self.dtype) if self.kind == "LSTM" else None
        for layer in range(L - 1, -1, -1):
            runs, mask = layers[layer]
            dinp = None
            for d, run in enumerate(runs):
                k = layer * D + d
                gd = g[:, :, d * H:(d + 1) * H]
                if d == 1:
                    gd = gd[::-1]
                dx, dh0[k], dck = run.backward(gd, None if dhn is None else dhn[k],
                                               None if dcn is None else dcn[k])
                if dc0 is not None:
                    dc0[k] = dck
                if d == 1:
                    dx = dx[::-1]
                dinp = dx if dinp is None else dinp + dx
            if mask is not None:
                dinp = dinp * mask
            g = dinp
        object.__setattr__(self, "_saved", None)
        dx = g
        if not batched:
            dx, dh0 = dx[:, 0], dh0[:, 0]
            dc0 = dc0[:, 0] if dc0 is not None else None
        elif self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return np.ascontiguousarray(dx), dh0, dc0


# The options every stack shares; _with_stack_doc puts them in place of the
# {stack} line of LSTM's, GRU's and RNN's docstrings.  (A class docstring must
# be a plain string literal: a ``"""...""".format(...)`` expression in its
# place is an ordinary expression, and the class has no __doc__ at all.)
_STACK_DOC = """Options as PyTorch's ``nn.{kind}``: ``num_layers`` stacked layers
    (layer k > 0 reads the outputs of layer k - 1, with ``dropout`` applied to
    them in training mode), ``bidirectional`` (a second pass over the reversed
    sequence, outputs concatenated), ``batch_first`` (inputs and outputs
    (batch, seq, feature)), ``bias``.  Inputs are (seq, batch, input_size),
    or (seq, input_size) for one unbatched sequence.  Parameters
    ``weight_ih_l{{k}}``, ``weight_hh_l{{k}}``, ``bias_ih_l{{k}}``,
    ``bias_hh_l{{k}}`` and the same with ``_reverse``, in PyTorch's shapes and
    gate order, so ``load_state_dict`` takes a PyTorch state dict unchanged."""


def _with_stack_doc(cls):
    """Put the shared options (_STACK_DOC, for ``cls.kind``) in place of the
    ``{stack}`` line of the class's docstring (absent under ``python -OO``)."""
    marker = "{stack}"
    if cls.__doc__ is None:
        return cls
    if cls.__doc__.count(marker) != 1:
        raise AssertionError(f"{cls.__name__}: the docstring needs exactly one {marker} line")
    cls.__doc__ = cls.__doc__.replace(marker, _STACK_DOC.format(kind=cls.kind))
    return cls


@_with_stack_doc
class LSTM(_RNN):
    """A stack of LSTM layers over whole sequences, PyTorch's ``nn.LSTM``.

    Each step is :class:`LSTMCell`'s:
    c_t = f_t c_(t-1) + i_t g_t,  h_t = o_t tanh(c_t),  i, f, o = sigma(...),
    g = tanh(...).  ``out, (h_n, c_n) = lstm(x, (h_0, c_0))`` with states of
    shape (num_layers * num_directions, batch, hidden_size), zeros when not
    given.  ``dx, (dh_0, dc_0) = lstm.backward(d_out, (dh_n, dc_n))`` (the
    second argument optional) backpropagates through time, accumulating
    every parameter's gradient.

    {stack}

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import LSTM
    >>> lstm = LSTM(4, 3, num_layers=2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> out, (h, c) = lstm(np.ones((7, 2, 4)))
    >>> out.shape, h.shape
    ((7, 2, 3), (2, 2, 3))
    >>> dx, (dh0, dc0) = lstm.backward(np.ones_like(out))
    >>> dx.shape, lstm.weight_hh_l1.grad.shape
    ((7, 2, 4), (12, 3))
    """

    kind = "LSTM"

    def forward(self, x, state=None):
        h0, c0 = (None, None) if state is None else state
        out, hn, cn = self._forward(x, h0, c0)
        return out, (hn, cn)

    def backward(self, grad_output, grad_state=None):
        dhn, dcn = (None, None) if grad_state is None else grad_state
        dx, dh0, dc0 = self._backward(grad_output, dhn, dcn)
        return dx, (dh0, dc0)


@_with_stack_doc
class GRU(_RNN):
    """A stack of GRU layers over whole sequences, PyTorch's ``nn.GRU``.

    Each step is :class:`GRUCell`'s: r, z = sigma(...),
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
    ``out, h_n = gru(x, h_0)``; ``dx, dh_0 = gru.backward(d_out, dh_n)``.

    {stack}

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import GRU
    >>> gru = GRU(4, 3, bidirectional=True, batch_first=True, dtype=np.float64,
    ...           rng=np.random.default_rng(0))
    >>> out, h = gru(np.ones((2, 7, 4)))
    >>> out.shape, h.shape
    ((2, 7, 6), (2, 2, 3))
    >>> dx, dh0 = gru.backward(np.ones_like(out))
    >>> dx.shape
    (2, 7, 4)
    """

    kind = "GRU"

    def forward(self, x, h0=None):
        out, hn, _ = self._forward(x, h0, None)
        return out, hn

    def backward(self, grad_output, grad_h_n=None):
        dx, dh0, _ = self._backward(grad_output, grad_h_n, None)
        return dx, dh0


def _nonlinearity(owner, value):
    if value not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {value!r}")
    return value


class RNNCell(GRUCell):
    """One step of the plain (Elman) recurrent cell, PyTorch's ``nn.RNNCell``:

        h' = tanh(W_ih x + b_ih + W_hh h + b_hh)      (or relu)

    ``weight_ih`` (H, I), ``weight_hh`` (H, H); ``cell(x, h)`` returns
    ``h'``; ``backward(dh')`` returns ``(dx, dh)``.  Without gates, the
    gradient that reaches early steps is a product of tanh' W_hh factors:
    the vanishing gradient that the LSTM and GRU were built to avoid.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import RNNCell
    >>> cell = RNNCell(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> h = cell(np.ones((5, 3)))
    >>> [a.shape for a in cell.backward(np.ones_like(h))]
    [(5, 3), (5, 2)]
    """

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        self.nonlinearity = _nonlinearity("RNNCell", nonlinearity)


@_with_stack_doc
class RNN(GRU):
    """A stack of plain recurrent layers, PyTorch's ``nn.RNN``:
    h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu).
    ``out, h_n = rnn(x, h_0)``; ``dx, dh_0 = rnn.backward(d_out, dh_n)``.

    {stack}

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import RNN
    >>> rnn = RNN(4, 3, num_layers=2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> out, h = rnn(np.ones((7, 2, 4)))
    >>> out.shape, h.shape
    ((7, 2, 3), (2, 2, 3))
    """

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, num_layers=num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, dtype=dtype, rng=rng)
        self.nonlinearity = _nonlinearity("RNN", nonlinearity)
