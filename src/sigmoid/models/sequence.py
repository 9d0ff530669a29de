"""Recurrent sequence models and the long-memory tasks that tell gated cells
from the plain tanh RNN.

The sigmoid's most consequential job is a gate: in the LSTM the forget gate
f_t = sigma(.) multiplies the cell state, c_t = f_t c_(t-1) + i_t g_t, so the
gradient that flows back along the cell is a product of forget-gate values,
which the network can hold near 1 for as long as it must remember.  The
plain recurrent cell h_t = tanh(W_ih x_t + W_hh h_(t-1) + b) has no such
path: its gradient to early steps is a product of tanh'(.) W_hh factors and
vanishes geometrically with the distance (Bengio, Simard and Frasconi 1994;
Hochreiter and Schmidhuber 1997).

This module gives

* two tasks that need a long memory: :func:`first_symbol_task` (classify a
  sequence by the symbol at its first step, the rest being distractor
  symbols) and :func:`adding_problem` (sum the two marked values);
* :class:`SequenceClassifier` and :class:`SequenceRegressor`: an LSTM, GRU
  or tanh-RNN stack (:mod:`sigmoid.nn`) and a linear head on the last hidden
  state, trained with Adam and gradient-norm clipping, recording per step
  the loss, the accuracy and the gradient that reaches the first time step;
* :meth:`SequenceClassifier.gate_values` and ``forget_gate_values``: the
  gates' activations, recomputed from the trained weights;
* :func:`vanishing_gradient_profile`: ||dL/dx_t|| for every step t.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._core import sigmoid as _sigmoid
from ..losses import bce_with_logits_and_grad, log_softmax, softmax
from ..nn import GRU, LSTM, RNN, Linear
from ..nn.module import check_dtype
from ..optim import Adam, _norm, clip_grad_norm
from ._training import Estimator, History, Progress, as_generator

__all__ = ["first_symbol_task", "adding_problem", "SequenceClassifier", "SequenceRegressor",
           "vanishing_gradient_profile"]

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
_GATE_NAMES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


# ------------------------------------------------------------------ checks

def _int_at_least(owner, name, value, least):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    if value < least:
        raise ValueError(f"{owner}: {name} must be >= {least}, got {value!r}")
    return int(value)


def _positive(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


# ------------------------------------------------------------------- tasks

def first_symbol_task(n: int, length: int, n_symbols: int = 2, random_state=None, dtype=np.float32):
    r"""The delayed-recall task: name the symbol shown at the first step,
    through ``length - 1`` steps of distractors.

    Each sequence has `length` steps and ``2 K`` input channels (K =
    `n_symbols`): the first K one-hot encode the target symbol s, shown at
    step 0 only; the last K one-hot encode a distractor symbol d_t drawn
    afresh at each of the steps 1 .. ``length - 1``::

        x_0 = [onehot(s), 0],   x_t = [0, onehot(d_t)],   s, d_t ~ U{0 .. K-1},
        y = s

    The answer is asked for at the last step, ``length - 1`` steps after it
    was shown, while the distractors keep driving the state.  An LSTM keeps
    s in its cell with the forget gates near 1 (the gradient reaches step 0
    along the cell, multiplied only by the forget gates); the tanh RNN's
    gradient to step 0 is a product of ``length - 1`` factors
    diag(1 - h^2) W_hh and vanishes, so it stays at chance (1 / K) far
    longer.

    Parameters
    ----------
    n : int
        Number of sequences.
    length : int, >= 2
        Number of steps of each sequence.
    n_symbols : int, >= 2
        Size K of the alphabet; 2 makes a binary task (is the first symbol
        1?), fit with the sigmoid and BCE with logits.
    random_state : None, int, SeedSequence or Generator
        Seed of the draws.
    dtype : float32 or float64
        Dtype of `X`.

    Returns
    -------
    X : ndarray, shape (n, length, 2 n_symbols), `dtype`
        The sequences, batch first.
    y : ndarray of int64, shape (n,)
        The first symbol of each sequence, in 0 .. n_symbols - 1.

    Examples
    --------
    >>> from sigmoid.models.sequence import first_symbol_task
    >>> X, y = first_symbol_task(4, 5, random_state=1)
    >>> X.shape, y
    ((4, 5, 4), array([0, 1, 1, 1]))
    >>> X[1].astype(int)      # step 0: the target, 1; then distractors 0, 0, 1, 0
    array([[0, 1, 0, 0],
           [0, 0, 1, 0],
           [0, 0, 1, 0],
           [0, 0, 0, 1],
           [0, 0, 1, 0]])
    """
    owner = "first_symbol_task"
    n = _int_at_least(owner, "n", n, 0)
    length = _int_at_least(owner, "length", length, 2)
    k = _int_at_least(owner, "n_symbols", n_symbols, 2)
    dt = check_dtype(owner, dtype)
    rng = as_generator(random_state)
    y = rng.integers(0, k, n)
    d = rng.integers(0, k, (n, length - 1))
    X = np.zeros((n, length, 2 * k), dt)
    X[np.arange(n), 0, y] = 1
    np.put_along_axis(X[:, 1:], k + d[:, :, None], 1, axis=2)
    return X, y.astype(np.int64)


def adding_problem(n: int, length: int, random_state=None, dtype=np.float32):
    r"""The adding problem (Hochreiter and Schmidhuber 1997): sum the two
    marked values of a long sequence.

    Two input channels: values u_t ~ U(0, 1), and a marker m_t that is 1 at
    exactly two steps, one drawn uniformly from the first half and one from
    the second half, 0 elsewhere::

        y = sum_t m_t u_t = u_a + u_b,   0 <= a < length // 2 <= b < length

    A model that ignores the markers predicts the mean, 1, with mean
    squared error 1/6 ~ 0.167; solving the task brings it to 0.

    Parameters
    ----------
    n : int
        Number of sequences.
    length : int, >= 2
        Number of steps of each sequence.
    random_state : None, int, SeedSequence or Generator
        Seed of the draws.
    dtype : float32 or float64
        Dtype of `X` and `y`.

    Returns
    -------
    X : ndarray, shape (n, length, 2), `dtype`
        Channel 0 the values, channel 1 the markers; batch first.
    y : ndarray, shape (n,), `dtype`
        The sum of the two marked values.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.models.sequence import adding_problem
    >>> X, y = adding_problem(3, 10, random_state=0)
    >>> X.shape, X[:, :, 1].sum(axis=1)
    ((3, 10, 2), array([2., 2., 2.], dtype=float32))
    >>> bool(np.allclose((X[:, :, 0] * X[:, :, 1]).sum(axis=1), y))
    True
    """
    owner = "adding_problem"
    n = _int_at_least(owner, "n", n, 0)
    length = _int_at_least(owner, "length", length, 2)
    dt = check_dtype(owner, dtype)
    rng = as_generator(random_state)
    half = length // 2
    X = np.zeros((n, length, 2), dt)
    X[:, :, 0] = rng.random((n, length))
    rows = np.arange(n)
    a = rng.integers(0, half, n)
    b = rng.integers(half, length, n)
    X[rows, a, 1] = 1
    X[rows, b, 1] = 1
    y = X[rows, a, 0] + X[rows, b, 0]
    return X, y.astype(dt)


# ------------------------------------------------------------------ models

class _SequenceModel(Estimator):
    """A recurrent stack and a linear head on its last hidden state."""

    _name = ""

    def __init__(self, cell: str = "lstm", hidden_size: int = 16, num_layers: int = 1, lr: float = 1e-2,
                 batch_size: int = 32, n_steps: int = 300, clip_grad_norm: float | None = 1.0,
                 forget_bias: float | str | None = "chrono", random_state=None, verbose: bool = False,
                 dtype=np.float32):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lr = lr
        self.batch_size = batch_size
        self.n_steps = n_steps
        self.clip_grad_norm = clip_grad_norm
        self.forget_bias = forget_bias
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    # --------------------------------------------------------------- checks

    def _check_params(self):
        owner = self._name
        if not isinstance(self.cell, str) or self.cell.lower() not in _CELLS:
            raise ValueError(f"{owner}: cell must be one of 'lstm', 'gru', 'rnn', got {self.cell!r}")
        _int_at_least(owner, "hidden_size", self.hidden_size, 1)
        _int_at_least(owner, "num_layers", self.num_layers, 1)
        _positive(owner, "lr", self.lr)
        _int_at_least(owner, "batch_size", self.batch_size, 1)
        _int_at_least(owner, "n_steps", self.n_steps, 1)
        if self.clip_grad_norm is not None:
            _positive(owner, "clip_grad_norm", self.clip_grad_norm)
        fb = self.forget_bias
        if fb is not None and not (isinstance(fb, str) and fb == "chrono") and (
                isinstance(fb, (bool, str)) or not isinstance(fb, numbers.Real) or not np.isfinite(fb)):
            raise ValueError(f"{owner}: forget_bias must be a finite number, 'chrono' or None, got {fb!r}")
        return self.cell.lower(), check_dtype(owner, self.dtype)

    def _check_X(self, X, where, n_features=None):
        owner = f"{self._name}.{where}"
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{owner}: X must hold numbers, got dtype {X.dtype}")
        if X.ndim != 3:
            raise ValueError(f"{owner}: X must be 3-D (n_samples, length, n_features), got shape {X.shape}")
        if X.shape[0] < 1 or X.shape[1] < 1 or X.shape[2] < 1:
            raise ValueError(f"{owner}: X has an empty axis, shape {X.shape}")
        if n_features is not None and X.shape[2] != n_features:
            raise ValueError(f"{owner}: X has {X.shape[2]} features, the model was fit with {n_features}")
        X = np.ascontiguousarray(X, dtype=self._dtype if hasattr(self, "_dtype") else self.dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"{owner}: X contains NaN or infinity")
        return X

    def _check_fitted(self, where):
        self._require_fitted("rnn_", f"{self._name}.{where}")

    # ------------------------------------------------------------- building

    def _build(self, n_features, n_outputs, rng, length):
        """Create the recurrent stack and the head, from `rng`."""
        kind, dt = self._check_params()
        self._dtype = dt
        self.cell_ = kind
        self.n_features_in_ = int(n_features)
        self.rnn_ = _CELLS[kind](n_features, self.hidden_size, num_layers=self.num_layers, batch_first=True,
                                 dtype=dt, rng=rng)
        fb = self.forget_bias
        if kind != "rnn" and fb is not None:
            # the gate that keeps the state (the LSTM's f, the GRU's z: the
            # second block of H rows in both) starts open: b_ih = b, b_hh = 0
            H = self.hidden_size
            for layer in range(self.num_layers):
                b_ih = getattr(self.rnn_, f"bias_ih_l{layer}").data
                b_hh = getattr(self.rnn_, f"bias_hh_l{layer}").data
                if isinstance(fb, str):
                    # chrono (Tallec and Ollivier 2018): b = log u, u ~ U(1, T - 1),
                    # so f = sigma(b) = 1 - 1/(1 + u), a memory of about 1 + u steps
                    b = np.log(rng.uniform(1.0, max(float(length) - 1.0, 1.0), H))
                    if kind == "lstm":
                        b_ih[:H], b_hh[:H] = -b, 0
                else:
                    b = float(fb)
                b_ih[H:2 * H], b_hh[H:2 * H] = b, 0
        self.head_ = Linear(self.hidden_size, n_outputs, dtype=dt, rng=rng)

    def _parameters(self):
        return self.rnn_.parameters() + self.head_.parameters()

    # -------------------------------------------------------------- passes

    def _forward(self, X):
        out, _ = self.rnn_(X)
        return self.head_(out[:, -1])

    def _backward(self, d_out_last, T):
        """Backpropagate the gradient of the head's output; returns dx (B, T, I)."""
        dh = self.head_.backward(d_out_last)
        d_out = np.zeros((dh.shape[0], T, self.hidden_size), self._dtype)
        d_out[:, -1] = dh
        dx, dh0 = self.rnn_.backward(d_out)
        if isinstance(dh0, tuple):
            dh0 = dh0[0]
        return dx, dh0

    def _decision(self, X, where):
        self._check_fitted(where)
        X = self._check_X(X, where, self.n_features_in_)
        self.rnn_.eval()
        out = []
        with np.errstate(under="ignore"):
            for s in range(0, X.shape[0], 4096):
                out.append(self._forward(X[s:s + 4096]))
        return np.concatenate(out)

    # ------------------------------------------------------------- training

    def _y_of(self, X, y, fitting, what):
        """(the name of the calling method, y as a 1-D array of one entry
        per sequence of X), or a ValueError naming them."""
        owner = f"{self._name}.{'fit' if fitting else 'score'}"
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"{owner}: y must be 1-D (n_samples,), got shape {y.shape}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{owner}: y has {y.shape[0]} {what}, X has {X.shape[0]} sequences")
        return owner, y

    def fit(self, X, y):
        """Train on sequences `X` (n_samples, length, n_features) and targets
        `y` (n_samples,) with Adam on minibatches of `batch_size`, for
        `n_steps` updates; records ``history_``.  Returns self."""
        kind, dt = self._check_params()
        self._dtype = dt
        X = self._check_X(X, "fit")
        y = self._check_y(X, y)
        rng = as_generator(self.random_state)
        self._build(X.shape[2], self._n_outputs(), rng, X.shape[1])
        params = self._parameters()
        opt = Adam(params, lr=float(self.lr))
        history = History()
        n, T = X.shape[:2]
        B = min(int(self.batch_size), n)
        order, pos = rng.permutation(n), 0
        self.rnn_.train()
        with Progress(int(self.n_steps), f"{self._name}({kind})", self.verbose) as bar, np.errstate(under="ignore"):
            for step in range(int(self.n_steps)):
                if pos + B > n:
                    order, pos = rng.permutation(n), 0
                idx = order[pos:pos + B]
                pos += B
                opt.zero_grad()
                out = self._forward(X[idx])
                loss, dout, metrics = self._loss(out, y[idx])
                dx, dh0 = self._backward(dout, T)
                gnorm = (clip_grad_norm(params, self.clip_grad_norm) if self.clip_grad_norm is not None
                         else float(np.sqrt(sum(_norm(p.grad) ** 2 for p in params))))
                opt.step()
                history.record(step, loss=loss, **metrics, grad_x0=_norm(dx[:, 0]), grad_xlast=_norm(dx[:, -1]),
                               grad_h0=_norm(dh0), grad_norm=gnorm)
                bar.update(1, loss=loss, **metrics)
        self.rnn_.eval()
        self.history_ = history
        return self

    # ---------------------------------------------------------- diagnostics

    def input_gradient_norms(self, X, y=None) -> np.ndarray:
        r"""||dL/dx_t|| for every step t: how much of the loss's gradient
        reaches each step of the input.

        .. math:: n_t = \Bigl(\sum_{b, j} \Bigl(\frac{\partial L}{\partial x_{b,t,j}}\Bigr)^2\Bigr)^{1/2},
                  \quad t = 0, \dots, T - 1

        L is the training loss (the mean over the sequences) when `y` is
        given, else the mean over the sequences of the sum of the outputs
        (the logits).  For the tanh RNN n_0 / n_(T-1) falls geometrically
        with T; gated cells keep it within a few orders of magnitude.

        Parameters
        ----------
        X : array_like, shape (n_samples, length, n_features)
        y : array_like, shape (n_samples,), optional

        Returns
        -------
        ndarray of float64, shape (length,)
        """
        self._check_fitted("input_gradient_norms")
        X = self._check_X(X, "input_gradient_norms", self.n_features_in_)
        self.rnn_.eval()
        with np.errstate(under="ignore"):
            out = self._forward(X)
            if y is None:
                dout = np.full_like(out, 1.0 / out.shape[0])
            else:
                _, dout, _ = self._loss(out, self._check_y(X, y, fitting=False))
            dx, _ = self._backward(dout, X.shape[1])
            self._zero_grad()
            return np.array([_norm(dx[:, t]) for t in range(X.shape[1])])

    def _zero_grad(self):
        for p in self._parameters():
            p.grad = None

    def gate_values(self, X) -> dict[str, np.ndarray]:
        r"""The gates' activations over the sequences `X`, recomputed from
        the trained weights.

        For the LSTM (PyTorch's equations, layer by layer, h_(-1) = c_(-1) = 0)::

            i_t = sigma(W_ii x_t + b_ii + W_hi h_(t-1) + b_hi)
            f_t = sigma(W_if x_t + b_if + W_hf h_(t-1) + b_hf)
            g_t = tanh(W_ig x_t + b_ig + W_hg h_(t-1) + b_hg)
            o_t = sigma(W_io x_t + b_io + W_ho h_(t-1) + b_ho)
            c_t = f_t c_(t-1) + i_t g_t,   h_t = o_t tanh(c_t)

        and for the GRU r_t, z_t = sigma(...), n_t = tanh(W_in x_t + b_in +
        r_t (W_hn h_(t-1) + b_hn)), h_t = (1 - z_t) n_t + z_t h_(t-1).

        Returns
        -------
        dict of str to ndarray, each of shape (num_layers, n_samples, length, hidden_size)
            Keys "i", "f", "g", "o" (LSTM) or "r", "z", "n" (GRU), plus "h"
            (and "c" for the LSTM), the states after each step.

        Raises
        ------
        ValueError
            For the plain RNN, which has no gates.
        """
        self._check_fitted("gate_values")
        if self.cell_ not in _GATE_NAMES:
            raise ValueError(f"{self._name}.gate_values: cell 'rnn' has no gates (use 'lstm' or 'gru')")
        X = self._check_X(X, "gate_values", self.n_features_in_)
        names = _GATE_NAMES[self.cell_] + (("h", "c") if self.cell_ == "lstm" else ("h",))
        found = {k: [] for k in names}
        inp = X
        H = self.hidden_size
        with np.errstate(under="ignore"):
            for layer in range(self.num_layers):
                p = {k: getattr(self.rnn_, f"{k}_l{layer}").data
                     for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
                gi = inp @ p["weight_ih"].T + p["bias_ih"]                 # (B, T, G H)
                n, T = inp.shape[:2]
                h = np.zeros((n, H), X.dtype)
                c = np.zeros((n, H), X.dtype)
                vals = {k: np.empty((n, T, H), X.dtype) for k in names}
                for t in range(T):
                    gh = h @ p["weight_hh"].T + p["bias_hh"]
                    if self.cell_ == "lstm":
                        a = gi[:, t] + gh
                        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H])
                        g, o = np.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
                        c = f * c + i * g
                        h = o * np.tanh(c)
                        step = {"i": i, "f": f, "g": g, "o": o, "h": h, "c": c}
                    else:
                        r = _sigmoid(gi[:, t, :H] + gh[:, :H])
                        z = _sigmoid(gi[:, t, H:2 * H] + gh[:, H:2 * H])
                        nn_ = np.tanh(gi[:, t, 2 * H:] + r * gh[:, 2 * H:])
                        h = (1 - z) * nn_ + z * h
                        step = {"r": r, "z": z, "n": nn_, "h": h}
                    for k in names:
                        vals[k][:, t] = step[k]
                for k in names:
                    found[k].append(vals[k])
                inp = vals["h"]
        return {k: np.stack(v) for k, v in found.items()}

    def forget_gate_values(self, X) -> np.ndarray:
        r"""The LSTM's forget gates f_t = sigma(W_if x_t + b_if + W_hf h_(t-1)
        + b_hf) at every step of the sequences `X` (see :meth:`gate_values`).

        Training drives the gates to the rails, the sigmoid acting as a
        switch: near 1 where the cell must remember, near 0 where it must
        forget.  On :func:`first_symbol_task`, where nothing is to be
        forgotten, they go to 1: from ``forget_bias=1`` (every f between 0.6
        and 0.8 at the start) a third to a half of them end above 0.9 at
        length 20; with the chrono initialisation they start above 0.9
        already (about 90 % stay there, 85 % above 0.99, at length 100).

        Returns
        -------
        ndarray, shape (num_layers, n_samples, length, hidden_size)

        Raises
        ------
        ValueError
            If the model's cell is not an LSTM.
        """
        self._check_fitted("forget_gate_values")
        if self.cell_ != "lstm":
            raise ValueError(f"{self._name}.forget_gate_values: cell is {self.cell_!r}; only the LSTM has a "
                             f"forget gate (the GRU's update gate z is in gate_values(X)['z'])")
        return self.gate_values(X)["f"]


class SequenceClassifier(_SequenceModel):
    r"""A recurrent classifier of whole sequences: an LSTM, GRU or tanh-RNN
    stack, and a linear head on the last hidden state.

    .. math:: h_T = \mathrm{RNN}(x_0, \dots, x_{T-1}),\quad z = W h_T + b,\quad
              p(y = 1) = \sigma(z)

    Two classes: one logit, the sigmoid and BCE with logits
    (:func:`~sigmoid.bce_with_logits_and_grad`); K > 2 classes: K logits,
    the softmax and cross-entropy.  Trained with Adam on minibatches, the
    gradients' joint norm clipped at `clip_grad_norm`.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
        The recurrent layer: :class:`~sigmoid.nn.LSTM`,
        :class:`~sigmoid.nn.GRU` or the plain tanh :class:`~sigmoid.nn.RNN`.
    hidden_size : int
        Size of the hidden state.
    num_layers : int
        Number of stacked recurrent layers.
    lr : float
        Adam's learning rate.
    batch_size : int
        Sequences per update (at most the number of sequences).
    n_steps : int
        Number of updates; the minibatches go through reshuffled epochs.
    clip_grad_norm : float or None
        Bound on the joint norm of the gradients (:func:`clip_grad_norm`);
        None leaves them alone.
    forget_bias : "chrono", float or None
        The initial bias of the gate that keeps the state: the LSTM's forget
        gate f, the GRU's update gate z (b_ih set to it, b_hh to 0 in that
        block).  "chrono" (the default; Tallec and Ollivier 2018) draws
        b = log u, u ~ U(1, T - 1) per unit, T the length of the training
        sequences, so that f = sigma(b) spans memories of 2 to T steps (and,
        for the LSTM, sets the input gate's bias to -b); a number sets every
        unit's bias to it (1.0 is Jozefowicz et al. 2015's advice); None
        keeps PyTorch's U(-1/sqrt(H), 1/sqrt(H)), with which f and z start
        near 1/2 and the gradient along the state halves at every step.
        The plain RNN has no gate, and ignores it.
    random_state : None, int or Generator
        Seeds the initial weights and the order of the minibatches: the same
        seed gives the same model, bit for bit.
    verbose : bool
        A progress bar (tqdm) with the loss and the accuracy.
    dtype : float32 or float64
        Dtype of the parameters; inputs are converted to it.

    Attributes
    ----------
    rnn_ : sigmoid.nn.LSTM, GRU or RNN
        The recurrent stack (batch first).
    head_ : sigmoid.nn.Linear
    classes_ : ndarray
        The class labels, sorted.
    history_ : History
        Per update: "loss", "accuracy" (on the minibatch), "grad_x0" and
        "grad_xlast" (||dL/dx_t|| at the first and the last step),
        "grad_h0" (||dL/dh_(-1)||, the initial state) and "grad_norm" (the
        parameters' gradient norm before clipping).

    Examples
    --------
    >>> from sigmoid.models.sequence import SequenceClassifier, first_symbol_task
    >>> X, y = first_symbol_task(64, 5, random_state=0)
    >>> clf = SequenceClassifier("lstm", hidden_size=4, n_steps=30, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.predict(X[:2]).shape, len(clf.history_["loss"])
    ((2, 2), (2,), 30)
    >>> clf.forget_gate_values(X[:3]).shape      # (layers, sequences, steps, hidden)
    (1, 3, 5, 4)

    Notes
    -----
    Measured on :func:`first_symbol_task` with length 100 (99 distractor
    steps), 1024 training sequences, hidden_size 16, batch_size 32, lr 0.01,
    200 updates, float32, seeds 0 to 3: the LSTM and the GRU reach 100 %
    on held-out sequences (the minibatch accuracy passes 95 % after 60 to
    110 updates), the tanh RNN stays at chance (47 % to 52 %, one run at
    71 %).  At length 50 the tanh RNN sometimes finds a latch with Adam
    (after 170 to 830 updates in 4 runs of 6), so length 100 separates the
    cells more cleanly.  With ``forget_bias=None`` (PyTorch's
    initialisation) the LSTM does not learn the task at length 50 within
    400 updates either: the initial bias is what opens the path.
    """

    _name = "SequenceClassifier"

    def _check_y(self, X, y, fitting=True):
        owner, y = self._y_of(X, y, fitting, "labels")
        if fitting:
            classes, codes = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise ValueError(f"{owner}: y has a single class {classes!r}; need at least 2")
            self.classes_ = classes
            return codes
        pos = np.searchsorted(self.classes_, y)
        pos = np.clip(pos, 0, self.classes_.size - 1)
        if not (self.classes_[pos] == y).all():
            raise ValueError(f"{owner}: y has labels not seen in fit (the classes are {self.classes_!r})")
        return pos

    def _n_outputs(self):
        return 1 if self.classes_.size == 2 else int(self.classes_.size)

    def _loss(self, out, codes):
        """Mean loss, its gradient with respect to the outputs, and the
        accuracy."""
        if out.shape[1] == 1:
            loss, g = bce_with_logits_and_grad(out[:, 0], codes.astype(out.dtype))
            acc = np.mean((out[:, 0] > 0) == (codes == 1))
            return float(loss), g[:, None], {"accuracy": float(acc)}
        lp = log_softmax(out, axis=1)
        rows = np.arange(out.shape[0])
        loss = -float(np.mean(lp[rows, codes], dtype=np.float64))
        g = softmax(out, axis=1)
        g[rows, codes] -= 1
        g /= out.dtype.type(out.shape[0])
        acc = np.mean(out.argmax(axis=1) == codes)
        return loss, g, {"accuracy": float(acc)}

    def decision_function(self, X) -> np.ndarray:
        """The logits: shape (n_samples,) for two classes, else (n_samples, K)."""
        z = self._decision(X, "decision_function")
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes): [1 - sigma(z),
        sigma(z)] for two classes, softmax(z) for more."""
        z = self._decision(X, "predict_proba")
        if z.shape[1] == 1:
            p = _sigmoid(z[:, 0])
            return np.stack([_sigmoid(-z[:, 0]), p], axis=1)
        return softmax(z, axis=1)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sequence."""
        z = self._decision(X, "predict")
        codes = (z[:, 0] > 0).astype(np.intp) if z.shape[1] == 1 else z.argmax(axis=1)
        return self.classes_[codes]

    def score(self, X, y) -> float:
        """Accuracy on (X, y)."""
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"{self._name}.score: y has shape {y.shape}, X has {pred.shape[0]} sequences")
        return float(np.mean(pred == y))


class SequenceRegressor(_SequenceModel):
    r"""A recurrent regressor of whole sequences (one real target per
    sequence), trained on the mean squared error.

    .. math:: \hat y = W h_T + b,\quad L = \frac{1}{B} \sum_b (\hat y_b - y_b)^2

    Parameters are those of :class:`SequenceClassifier`.  ``history_``
    records "loss" (the minibatch's MSE) and the gradient norms;
    :meth:`score` is the coefficient of determination R^2.

    Examples
    --------
    >>> from sigmoid.models.sequence import SequenceRegressor, adding_problem
    >>> X, y = adding_problem(64, 6, random_state=0)
    >>> reg = SequenceRegressor("gru", hidden_size=4, n_steps=20, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape, sorted(reg.history_.keys())[:3]
    ((3,), ['grad_h0', 'grad_norm', 'grad_x0'])
    """

    _name = "SequenceRegressor"

    def _check_y(self, X, y, fitting=True):
        owner, y = self._y_of(X, y, fitting, "targets")
        if y.dtype.kind not in "biuf" or not np.isfinite(y).all():
            raise ValueError(f"{owner}: y must hold finite numbers")
        return y.astype(self._dtype)

    def _n_outputs(self):
        return 1

    def _loss(self, out, y):
        r = out[:, 0] - y
        loss = float(np.mean(np.square(r, dtype=np.float64)))
        g = (r * out.dtype.type(2.0 / out.shape[0]))[:, None]
        return loss, g, {}

    def predict(self, X) -> np.ndarray:
        """The predicted target of each sequence, shape (n_samples,)."""
        return self._decision(X, "predict")[:, 0]

    def score(self, X, y) -> float:
        """R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2."""
        y = np.asarray(y, dtype=np.float64)
        pred = self.predict(X).astype(np.float64)
        if y.shape != pred.shape:
            raise ValueError(f"{self._name}.score: y has shape {y.shape}, X has {pred.shape[0]} sequences")
        ss = np.sum((y - y.mean()) ** 2)
        return float(1 - np.sum((y - pred) ** 2) / ss) if ss > 0 else 0.0


# -------------------------------------------------------------- gradients

def vanishing_gradient_profile(model, X, y=None, *, hidden_size: int = 16, num_layers: int = 1,
                               forget_bias: float | str | None = "chrono", random_state=None,
                               dtype=np.float32) -> np.ndarray:
    r"""How much gradient reaches each step: ||dL/dx_t|| for t = 0 .. T-1.

    .. math:: n_t = \Bigl\lVert \frac{\partial L}{\partial x_t} \Bigr\rVert_2,
              \qquad \frac{\partial h_T}{\partial h_t} = \prod_{s=t+1}^{T}
              \mathrm{diag}(1 - h_s^2)\, W_{hh}  \ \text{(tanh RNN)}

    For the tanh RNN at PyTorch's initialisation (W_hh ~ U(-1/sqrt(H),
    1/sqrt(H)), spectral radius about 1/sqrt(3)) the factors shrink the
    gradient at every step, and n_0 is many orders of magnitude below
    n_(T-1) (1e-15 to 1e-32 at T = 100, H = 16).  Along the LSTM's cell
    the factors are the forget gates f_s, along the GRU's state the update
    gates z_s: with ``forget_bias="chrono"`` they start near 1 and n_0 /
    n_(T-1) is about 1e-2 to 1e-1 at T = 100.  (With PyTorch's own
    initialisation, ``forget_bias=None``, f and z start near 1/2 and the
    gated cells' gradient vanishes too, 1e-15 to 1e-22 at T = 100: the
    gates must be trained, or initialised, to hold.)

    Parameters
    ----------
    model : SequenceClassifier, SequenceRegressor, or {"lstm", "gru", "rnn"}
        A fitted model, or the name of a cell: then a fresh, untrained
        :class:`SequenceClassifier` with that cell, `hidden_size`,
        `num_layers`, `forget_bias`, `random_state` and `dtype` (otherwise
        unused) is initialised for X's features.
    X : array_like, shape (n_samples, length, n_features)
    y : array_like, shape (n_samples,), optional
        Targets: L is then the model's loss; without, the mean over the
        sequences of the summed outputs.  A fresh model has two classes
        (0 and 1), so y must then be 0/1.

    Returns
    -------
    ndarray of float64, shape (length,)

    Examples
    --------
    >>> from sigmoid.models.sequence import first_symbol_task, vanishing_gradient_profile
    >>> X, y = first_symbol_task(32, 50, random_state=0)
    >>> rnn = vanishing_gradient_profile("rnn", X, y, random_state=1)
    >>> lstm = vanishing_gradient_profile("lstm", X, y, random_state=1)
    >>> rnn.shape, bool(rnn[0] / rnn[-1] < 1e-10), bool(lstm[0] / lstm[-1] > 1e-2)
    ((50,), True, True)
    """
    if isinstance(model, str):
        m = SequenceClassifier(model, hidden_size=hidden_size, num_layers=num_layers, forget_bias=forget_bias,
                               random_state=random_state, dtype=dtype)
        m._check_params()
        X = m._check_X(X, "input_gradient_norms")
        m.classes_ = np.array([0, 1])
        m._build(X.shape[2], 1, as_generator(random_state), X.shape[1])
        model = m
    elif not isinstance(model, _SequenceModel):
        raise ValueError(f"vanishing_gradient_profile: model must be a SequenceClassifier, a SequenceRegressor "
                         f"or one of 'lstm', 'gru', 'rnn', got {model!r}")
    return model.input_gradient_norms(X, y)
