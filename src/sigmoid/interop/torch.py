r"""PyTorch autograd wrappers of this library's fused compiled kernels.

Each wrapper is a ``torch.autograd.Function`` whose forward and backward run
the compiled kernels of :mod:`sigmoid` on NumPy views of the tensors' memory
(``tensor.detach().numpy()``: no copy), and whose outputs are tensors over the
kernels' output buffers (``torch.from_numpy``: no copy either).

* :func:`bce_with_logits` and :func:`sigmoid_focal_loss`: one compiled pass
  computes the loss *and* its gradient with respect to the logits; the
  gradient is kept, and the backward pass only scales it by grad_output.
* :func:`lstm_pointwise` and :func:`gru_pointwise`: the pointwise part of an
  LSTM / GRU step (the gate nonlinearities and the state update) in one pass
  forward and one pass backward, from the activations saved by the forward
  pass.  :func:`lstm_cell` and :func:`gru_cell` add the matrix products
  (torch's), and :class:`LSTMCell` / :class:`GRUCell` are drop-in
  subclasses of ``torch.nn.LSTMCell`` / ``torch.nn.GRUCell`` (same
  parameters, same state dict) that use them.

Scope: CPU tensors of dtype float32 or float64, strided layout.  Other
devices raise ``TypeError`` (use :mod:`sigmoid.array_api`, whose functions
run on any device with torch's own operations and are differentiable by
autograd, or torch's own functions); mixed dtypes raise ``TypeError``.
Inputs that are not C-contiguous are copied once to contiguous memory.
The backward passes are not themselves differentiable (no double backward).

Threads: the kernels use :func:`sigmoid.set_num_threads` threads for long
inputs, independently of ``torch.set_num_threads``; set both when comparing.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .. import losses as _losses

try:
    import torch
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise ImportError("sigmoid.torch needs PyTorch: pip install torch (or the 'torch' extra of sigmoid)") from _exc

__all__ = [
    "bce_with_logits",
    "sigmoid_focal_loss",
    "lstm_pointwise",
    "gru_pointwise",
    "lstm_cell",
    "gru_cell",
    "LSTMCell",
    "GRUCell",
    "BCEWithLogitsFunction",
    "SigmoidFocalLossFunction",
    "LSTMPointwiseFunction",
    "GRUPointwiseFunction",
]

_DTYPES = (torch.float32, torch.float64)
_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------- helpers

def _check_tensor(fname, arg, t, dtype=None):
    """TypeError unless `t` is a strided CPU float32/float64 tensor (of
    `dtype` if given)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' must be a torch.Tensor, not {type(t).__name__}")
    if t.device.type != "cpu":
        raise TypeError(
            f"{fname}(): argument '{arg}' is on device {t.device}; sigmoid.torch runs its compiled kernels "
            f"on CPU tensors only (move the tensor with .cpu(), or use sigmoid.array_api, which runs on any "
            f"device with torch's own operations)"
        )
    if t.layout != torch.strided:
        raise TypeError(f"{fname}(): argument '{arg}' has layout {t.layout}; only dense (strided) tensors are "
                        f"supported")
    if t.dtype not in _DTYPES:
        raise TypeError(f"{fname}(): argument '{arg}' has dtype {t.dtype}, which is not supported; use "
                        f"torch.float32 or torch.float64")
    if dtype is not None and t.dtype != dtype:
        raise TypeError(f"{fname}(): argument '{arg}' has dtype {t.dtype} but the first argument has dtype "
                        f"{dtype}; the tensors must share one dtype (convert one of them explicitly)")


def _as_numpy(t):
    """A NumPy view of the memory of CPU tensor `t`, made C-contiguous first
    (a copy only if it was not).  Writing to the view writes to the tensor."""
    t = t.detach()
    if not t.is_contiguous():
        t = t.contiguous()
    return t.resolve_conj().resolve_neg().numpy()


def _empty(shape, like):
    return torch.empty(shape, dtype=like.dtype, device="cpu")


def _no_grad_for(fname, named):
    for arg, t in named:
        if isinstance(t, torch.Tensor) and t.requires_grad:
            raise ValueError(
                f"{fname}(): argument '{arg}' requires grad, but sigmoid.torch differentiates with respect "
                f"to the logits only; pass {arg}.detach() (or use torch.nn.functional for gradients of "
                f"{arg})"
            )


def _loss_aux(fname, name, a, dtype):
    """weight / pos_weight: None, a Python number (as a float), or a CPU
    tensor of the logits' dtype."""
    if a is None or isinstance(a, torch.Tensor):
        if a is not None:
            _check_tensor(fname, name, a, dtype)
        return a
    if isinstance(a, numbers.Real) and not isinstance(a, bool):
        return float(a)
    raise TypeError(f"{fname}(): argument '{name}' must be a torch.Tensor, a number or None, not "
                    f"{type(a).__name__}")


def _aux_numpy(a, x):
    """A weight for the kernel: a number takes the dtype of the logits `x`
    (as a Python number does in torch), a tensor is viewed."""
    if a is None:
        return None
    return np.asarray(a, dtype=x.dtype) if isinstance(a, float) else _as_numpy(a)


# --------------------------------------------------------------- losses

class _FusedLossFunction(torch.autograd.Function):
    """A loss whose forward pass also computes the gradient with respect to
    the logits (one fused pass) and saves it; the backward pass scales it by
    grad_output.  Subclasses name the fused and the loss-only function."""

    @staticmethod
    def _forward(ctx, with_grad, loss_only, x, y, **kw):
        if ctx.needs_input_grad[0]:
            # one pass: the loss and its gradient (of the sum for "none",
            # already divided by the size for "mean")
            loss, grad = with_grad(x, y, **kw)
            ctx.save_for_backward(torch.from_numpy(np.asarray(grad)))
        else:
            loss = loss_only(x, y, **kw)
        # a NumPy scalar for "mean" and "sum": a 0-d tensor of its dtype
        return torch.from_numpy(np.asarray(loss))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        # d(outer)/dx = grad_output * dl/dx: a scalar for "mean"/"sum", one
        # factor per element for "none"; no gradient for the other arguments
        return grad * grad_output, None, None, None, None


class BCEWithLogitsFunction(_FusedLossFunction):
    """``torch.autograd.Function`` of :func:`bce_with_logits`: apply as
    ``BCEWithLogitsFunction.apply(logits, targets, weight, pos_weight, reduction)``
    (arguments checked by :func:`bce_with_logits`).

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import BCEWithLogitsFunction
    >>> x = torch.tensor([2.5, -1.0, 30.0], dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    >>> loss = BCEWithLogitsFunction.apply(x, y, None, None, "mean")
    >>> loss.backward()
    >>> x.grad        # (sigma(x) - y) / 3, kept from the forward pass
    tensor([-0.0253,  0.0896,  0.3333], dtype=torch.float64)
    >>> bool(torch.isclose(loss, torch.nn.functional.binary_cross_entropy_with_logits(x, y)))
    True
    """

    @staticmethod
    def forward(ctx, logits, targets, weight, pos_weight, reduction):
        x = _as_numpy(logits)
        return _FusedLossFunction._forward(
            ctx, _losses.bce_with_logits_and_grad, _losses.bce_with_logits, x, _as_numpy(targets),
            weight=_aux_numpy(weight, x), pos_weight=_aux_numpy(pos_weight, x), reduction=reduction)


class SigmoidFocalLossFunction(_FusedLossFunction):
    """``torch.autograd.Function`` of :func:`sigmoid_focal_loss`: apply as
    ``SigmoidFocalLossFunction.apply(logits, targets, alpha, gamma, reduction)``.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import SigmoidFocalLossFunction
    >>> x = torch.tensor([2.5, -1.0, 30.0], dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    >>> loss = SigmoidFocalLossFunction.apply(x, y, 0.25, 2.0, "sum")
    >>> loss.backward()
    >>> round(loss.item(), 4), x.grad
    (22.5171, tensor([-3.1890e-04,  3.9436e-02,  7.5000e-01], dtype=torch.float64))
    """

    @staticmethod
    def forward(ctx, logits, targets, alpha, gamma, reduction):
        return _FusedLossFunction._forward(
            ctx, _losses.sigmoid_focal_loss_and_grad, _losses.sigmoid_focal_loss, _as_numpy(logits),
            _as_numpy(targets), alpha=alpha, gamma=gamma, reduction=reduction)


def _loss_args(fname, logits, targets, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}(): reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}")
    _check_tensor(fname, "logits", logits)
    _check_tensor(fname, "targets", targets, logits.dtype)
    if logits.shape != targets.shape:
        raise ValueError(f"{fname}(): logits and targets must have the same shape, got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")


def bce_with_logits(logits, targets, weight=None, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy from logits, differentiable, from one fused pass.

    .. math::
        \ell = w \left[(1 - y)\,\mathrm{softplus}(x) + p\,y\,\mathrm{softplus}(-x)\right],\qquad
        \frac{\partial \ell}{\partial x} = w \left[(1 - y)\,\sigma(x) - p\,y\,\sigma(-x)\right]

    A replacement for ``torch.nn.functional.binary_cross_entropy_with_logits``
    on CPU tensors.  The forward pass calls
    :func:`sigmoid.bce_with_logits_and_grad`, which computes the loss and its
    gradient in one compiled pass; the gradient is saved, and the backward
    pass multiplies it by grad_output.

    Parameters
    ----------
    logits : torch.Tensor
        x, any shape, float32 or float64, on the CPU.
    targets : torch.Tensor
        y in [0, 1], exactly the shape and dtype of `logits`.
    weight : torch.Tensor or float, optional
        w, broadcast to the logits' shape; the logits' dtype.
    pos_weight : torch.Tensor or float, optional
        p, broadcast to the logits' shape (a vector of length C applies along
        the last axis of (..., C) logits, as in PyTorch); the logits' dtype.
    reduction : {"mean", "sum", "none"}
        As PyTorch: "mean" over all elements (weights included), "sum", or
        the per-element losses.

    Returns
    -------
    torch.Tensor
        A 0-d tensor for "mean" and "sum", else the logits' shape; the logits'
        dtype.  Differentiable with respect to `logits` only.

    Raises
    ------
    TypeError
        A tensor not on the CPU, a dtype other than float32/float64, or
        tensors of different dtypes.
    ValueError
        `targets`, `weight` or `pos_weight` requiring grad (this function
        gives no gradient for them: detach them, or use PyTorch's function);
        targets outside [0, 1]; shapes that do not match.

    Notes
    -----
    The saved gradient costs one tensor of the logits' size, as PyTorch's
    own function saves its inputs.  When the logits do not require grad the
    loss alone is computed.

    Special values: logits of +-1e9 give finite losses; +-inf logits give
    the limits (0 for a right one, inf for a wrong one), and the gradient
    its limits, w (1 - y) at +inf and -w p y at -inf, never nan.

    Accuracy: at most 4 ULP per element for loss and gradient
    (:func:`sigmoid.bce_with_logits_and_grad`); the reductions accumulate in
    float64 with compensation.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import bce_with_logits
    >>> x = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)
    >>> loss = bce_with_logits(x, torch.tensor([1.0, 0.0], dtype=torch.float64))
    >>> loss.backward()
    >>> loss.item(), x.grad
    (0.6931471805599453, tensor([-0.2500,  0.2500], dtype=torch.float64))

    See also
    --------
    sigmoid.bce_with_logits_and_grad, sigmoid_focal_loss
    """
    fname = "bce_with_logits"
    _loss_args(fname, logits, targets, reduction)
    _no_grad_for(fname, [("targets", targets), ("weight", weight), ("pos_weight", pos_weight)])
    w = _loss_aux(fname, "weight", weight, logits.dtype)
    p = _loss_aux(fname, "pos_weight", pos_weight, logits.dtype)
    return BCEWithLogitsFunction.apply(logits, targets, w, p, reduction)


def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Focal loss (torchvision's ``sigmoid_focal_loss``), differentiable, from one fused pass.

    .. math::
        \ell = \alpha_t\, \mathrm{CE}(x, y)\, (1 - p_t)^\gamma,\quad
        1 - p_t = y\,\sigma(-x) + (1 - y)\,\sigma(x),\quad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    The forward pass calls :func:`sigmoid.sigmoid_focal_loss_and_grad`
    (loss and gradient in one compiled pass, in log space); the backward
    pass multiplies the saved gradient by grad_output (elementwise for
    ``reduction="none"``).

    Parameters
    ----------
    logits : torch.Tensor
        x, any shape, float32 or float64, on the CPU.
    targets : torch.Tensor
        y in [0, 1], exactly the shape and dtype of `logits`.
    alpha : float or None
        Weight of the positive class; None or a negative number disables the
        weighting (torchvision's convention).
    gamma : float >= 0
        Focusing parameter; 0 gives (alpha-weighted) binary cross-entropy.
    reduction : {"none", "mean", "sum"}
        torchvision's default is "none".

    Returns
    -------
    torch.Tensor
        Per-element losses or a 0-d tensor, the logits' dtype;
        differentiable with respect to `logits` only.

    Raises
    ------
    TypeError
        As :func:`bce_with_logits`.
    ValueError
        `targets` requiring grad, targets outside [0, 1], bad alpha/gamma.

    Notes
    -----
    1 - p_t comes from log-sigmoids, never as 1 - sigmoid(x), so loss and
    gradient keep their relative accuracy where sigmoid(x) rounds to 1
    (torchvision's formula gives exactly 0 there, from x = 17.4 in float32).

    Special values: finite losses and gradients for logits up to +-1e9;
    +-inf logits give the limits (loss 0 for a confidently right logit, inf
    for a wrong one).

    Accuracy: at most 4 ULP per element for the loss; the gradient as
    :func:`sigmoid.sigmoid_focal_loss_backward`.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import sigmoid_focal_loss
    >>> x = torch.tensor([3.0, -1e9], dtype=torch.float64, requires_grad=True)
    >>> loss = sigmoid_focal_loss(x, torch.ones(2, dtype=torch.float64), reduction="sum")
    >>> loss.backward()
    >>> loss.item(), x.grad
    (250000000.00002733, tensor([-7.8718e-05, -2.5000e-01], dtype=torch.float64))

    See also
    --------
    sigmoid.sigmoid_focal_loss_and_grad, bce_with_logits
    """
    fname = "sigmoid_focal_loss"
    _loss_args(fname, logits, targets, reduction)
    _no_grad_for(fname, [("targets", targets)])
    a, g = _losses._focal_args(fname, alpha, gamma)
    return SigmoidFocalLossFunction.apply(logits, targets, a, g, reduction)


# ------------------------------------------------------- recurrent cells

class LSTMPointwiseFunction(torch.autograd.Function):
    """``torch.autograd.Function`` of :func:`lstm_pointwise`: apply as
    ``LSTMPointwiseFunction.apply(gates, c_prev)`` with C-contiguous 2-D
    tensors of one dtype (checked by :func:`lstm_pointwise`).

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import LSTMPointwiseFunction
    >>> gates = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    >>> h, c = LSTMPointwiseFunction.apply(gates, torch.ones(1, 1, dtype=torch.float64))
    >>> c.item(), h.item()          # c = 0.5 * 1 + 0.5 * tanh(0), h = 0.5 tanh(c)
    (0.5, 0.23105857863000487)
    >>> h.sum().backward()
    >>> tuple(gates.grad.shape)
    (1, 4)
    """

    @staticmethod
    def forward(ctx, gates, c_prev):
        g, cp = _as_numpy(gates), _as_numpy(c_prev)
        B, H = cp.shape
        h, c, act, tanhc = (_empty(s, gates) for s in ((B, H), (B, H), (B, 4 * H), (B, H)))
        _core._lstm_forward(g, cp, h.numpy(), c.numpy(), act.numpy(), tanhc.numpy())
        # act = [sigma(i), sigma(f), tanh(g), sigma(o)]: the backward pass
        # needs no transcendental function.  c_prev is saved as the input
        # tensor, so autograd detects an in-place change before backward.
        ctx.save_for_backward(act, c_prev, tanhc)
        return h, c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh, dc):
        act, c_prev, tanhc = ctx.saved_tensors
        B, H = c_prev.shape
        dgates, dc_prev = _empty((B, 4 * H), act), _empty((B, H), act)
        _core._lstm_backward(_as_numpy(dh), _as_numpy(dc), act.numpy(), _as_numpy(c_prev), tanhc.numpy(),
                             dgates.numpy(), dc_prev.numpy())
        return dgates, dc_prev


class GRUPointwiseFunction(torch.autograd.Function):
    """``torch.autograd.Function`` of :func:`gru_pointwise`: apply as
    ``GRUPointwiseFunction.apply(gi, gh, h_prev)``.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import GRUPointwiseFunction
    >>> gi = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    >>> h = GRUPointwiseFunction.apply(gi, torch.zeros(1, 3, dtype=torch.float64),
    ...                                torch.ones(1, 1, dtype=torch.float64))
    >>> h.item()                    # (1 - z) tanh(0) + z * 1 with z = 1/2
    0.5
    >>> h.sum().backward()
    >>> gi.grad                     # d/dz = h_prev - n = 1, times sigma'(0); d/dn = 1 - z
    tensor([[0.0000, 0.2500, 0.5000]], dtype=torch.float64)
    """

    @staticmethod
    def forward(ctx, gi, gh, h_prev):
        a, b, hp = _as_numpy(gi), _as_numpy(gh), _as_numpy(h_prev)
        B, H = hp.shape
        h, act = _empty((B, H), gi), _empty((B, 4 * H), gi)
        _core._gru_forward(a, b, hp, h.numpy(), act.numpy())
        # act = [r, z, n, gh_n]
        ctx.save_for_backward(act, h_prev)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dh):
        act, h_prev = ctx.saved_tensors
        B, H = h_prev.shape
        dgi, dgh, dh_prev = _empty((B, 3 * H), act), _empty((B, 3 * H), act), _empty((B, H), act)
        _core._gru_backward(_as_numpy(dh), act.numpy(), _as_numpy(h_prev), dgi.numpy(), dgh.numpy(),
                            dh_prev.numpy())
        # dh_prev is the direct part dh z; the part through gh = h_prev W_hh^T
        # reaches h_prev through autograd's matmul
        return dgi, dgh, dh_prev


def _check_2d(fname, named, widths):
    """All tensors 2-D (B, w H) for the widths given, one dtype, CPU."""
    dtype = None
    for arg, t in named:
        _check_tensor(fname, arg, t, dtype)
        dtype = t.dtype
        if t.dim() != 2:
            raise ValueError(f"{fname}(): argument '{arg}' must be 2-D (B, ...), got shape {tuple(t.shape)}")
    ref = named[-1][1]
    B, H = ref.shape
    for (arg, t), w in zip(named, widths):
        if tuple(t.shape) != (B, w * H):
            want = "(B, H)" if w == 1 else f"(B, {w}H)"
            raise ValueError(f"{fname}(): argument '{arg}' has shape {tuple(t.shape)}, expected {want} = "
                             f"{(B, w * H)}")


def lstm_pointwise(gates, c_prev):
    r"""The pointwise LSTM step, differentiable: gate pre-activations to (h, c).

    .. math::
        i, f, g, o = \sigma(a_i), \sigma(a_f), \tanh(a_g), \sigma(a_o),\quad
        c = f \odot c_{prev} + i \odot g,\quad h = o \odot \tanh(c)

    Parameters
    ----------
    gates : torch.Tensor
        (B, 4H) pre-activations a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh,
        blocks in PyTorch's order i, f, g, o; float32 or float64, CPU.
    c_prev : torch.Tensor
        (B, H) previous cell state, the dtype of `gates`.

    Returns
    -------
    h, c : torch.Tensor
        (B, H) each, the dtype of `gates`.

    Notes
    -----
    One compiled pass forward (``sigmoid._core._lstm_forward``) saves the
    activations and tanh(c); one pass backward (``_lstm_backward``) computes
    the gradients of the gates and of c_prev from them.  sigma'(a) is
    computed as sigma(a) sigma(-a), exact where 1 - sigma(a) rounds to 0.

    Special values: saturated gates (+-inf pre-activations) give the limits
    (0 or 1) and zero gradients, never nan.

    Accuracy: a few ULP per element, forward and backward.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import lstm_pointwise
    >>> gates = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    >>> h, c = lstm_pointwise(gates, torch.ones(1, 1, dtype=torch.float64))
    >>> c  # 0.5 * 1 + 0.5 * tanh(0)
    tensor([[0.5000]], dtype=torch.float64, grad_fn=<LSTMPointwiseFunctionBackward>)

    See also
    --------
    lstm_cell, LSTMCell, gru_pointwise
    """
    _check_2d("lstm_pointwise", [("gates", gates), ("c_prev", c_prev)], (4, 1))
    return LSTMPointwiseFunction.apply(gates, c_prev)


def gru_pointwise(gi, gh, h_prev):
    r"""The pointwise GRU step, differentiable: input and hidden projections to h.

    .. math::
        r = \sigma(i_r + h_r),\quad z = \sigma(i_z + h_z),\quad
        n = \tanh(i_n + r \odot h_n),\quad h = (1 - z) \odot n + z \odot h_{prev}

    Parameters
    ----------
    gi : torch.Tensor
        (B, 3H) x W_ih^T + b_ih, blocks in PyTorch's order r, z, n;
        float32 or float64, CPU.
    gh : torch.Tensor
        (B, 3H) h_prev W_hh^T + b_hh (the reset gate multiplies its n block
        after the matrix product, as in PyTorch).
    h_prev : torch.Tensor
        (B, H) previous hidden state.

    Returns
    -------
    h : torch.Tensor
        (B, H), the dtype of the inputs.

    Notes
    -----
    The gradient returned for `h_prev` is the direct part dh z; the part
    through `gh` reaches h_prev through autograd when gh was computed from
    it (as in :func:`gru_cell`).

    Special values: saturated gates (+-inf in the r, z and n blocks) give the
    limits and zero gradients; an infinite n block of `gh` makes the reset
    gate's gradient 0 * inf = nan, as in PyTorch's chain rule.

    Accuracy: a few ULP per element, forward and backward.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import gru_pointwise
    >>> z = torch.zeros(1, 3, dtype=torch.float64)
    >>> gru_pointwise(z, z, torch.ones(1, 1, dtype=torch.float64))  # 0.5 tanh(0) + 0.5 * 1
    tensor([[0.5000]], dtype=torch.float64)

    See also
    --------
    gru_cell, GRUCell, lstm_pointwise
    """
    _check_2d("gru_pointwise", [("gi", gi), ("gh", gh), ("h_prev", h_prev)], (3, 3, 1))
    return GRUPointwiseFunction.apply(gi, gh, h_prev)


def _project(x, w, b):
    # x W^T + b as one addmm when there is a bias
    return torch.addmm(b, x, w.t()) if b is not None else x @ w.t()


def _cell_input(fname, input, hx, hidden, n_states):
    _check_tensor(fname, "input", input)
    if input.dim() not in (1, 2):
        raise ValueError(f"{fname}(): input must be 1-D (unbatched) or 2-D (B, I), got shape {tuple(input.shape)}")
    batched = input.dim() == 2
    x = input if batched else input.unsqueeze(0)
    if hx is None:
        z = torch.zeros(x.shape[0], hidden, dtype=x.dtype, device=x.device)
        states = (z,) * n_states
    else:
        states = (hx,) if n_states == 1 else tuple(hx)
        states = tuple(s if batched else s.unsqueeze(0) for s in states)
    return x, states, batched


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    r"""One LSTM step with PyTorch's parameters: ``torch.nn.LSTMCell``'s forward, fused.

    .. math::
        a = x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh},\quad
        (h', c') = \mathrm{lstm\_pointwise}(a, c)

    Parameters
    ----------
    input : torch.Tensor
        (B, I), or (I,) unbatched; float32 or float64, CPU.
    hx : tuple of torch.Tensor or None
        (h, c), each (B, H) (or (H,) unbatched); None for zeros.
    w_ih, w_hh : torch.Tensor
        (4H, I) and (4H, H), gate blocks in the order i, f, g, o.
    b_ih, b_hh : torch.Tensor, optional
        (4H,) each.

    Returns
    -------
    h, c : torch.Tensor
        (B, H) each (or (H,) unbatched).

    Notes
    -----
    The matrix products are torch's (``addmm``), the pointwise step is
    :func:`lstm_pointwise`; gradients reach every argument through autograd.

    Special values: as :func:`lstm_pointwise`.

    Accuracy: the pointwise step a few ULP; the products as torch's.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import lstm_cell
    >>> cell = torch.nn.LSTMCell(3, 2, dtype=torch.float64)
    >>> x = torch.randn(5, 3, dtype=torch.float64)
    >>> h, c = lstm_cell(x, None, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> h_ref, c_ref = cell(x)
    >>> bool(torch.allclose(h, h_ref, rtol=1e-12, atol=1e-15))
    True

    See also
    --------
    LSTMCell, lstm_pointwise, gru_cell
    """
    H = w_hh.shape[1]
    x, (h, c), batched = _cell_input("lstm_cell", input, hx, H, 2)
    gates = _project(x, w_ih, b_ih) + _project(h, w_hh, b_hh)
    h1, c1 = lstm_pointwise(gates, c.contiguous())
    return (h1, c1) if batched else (h1.squeeze(0), c1.squeeze(0))


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    r"""One GRU step with PyTorch's parameters: ``torch.nn.GRUCell``'s forward, fused.

    .. math::
        g_i = x W_{ih}^T + b_{ih},\quad g_h = h W_{hh}^T + b_{hh},\quad
        h' = \mathrm{gru\_pointwise}(g_i, g_h, h)

    Parameters
    ----------
    input : torch.Tensor
        (B, I), or (I,) unbatched; float32 or float64, CPU.
    hx : torch.Tensor or None
        h, (B, H) (or (H,) unbatched); None for zeros.
    w_ih, w_hh : torch.Tensor
        (3H, I) and (3H, H), gate blocks in the order r, z, n.
    b_ih, b_hh : torch.Tensor, optional
        (3H,) each.

    Returns
    -------
    h : torch.Tensor
        (B, H) (or (H,) unbatched).

    Notes
    -----
    The reset gate multiplies the n block of g_h after the matrix product
    (PyTorch's GRU, not the original paper's).

    Special values: as :func:`gru_pointwise`.

    Accuracy: the pointwise step a few ULP; the products as torch's.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import gru_cell
    >>> cell = torch.nn.GRUCell(3, 2, dtype=torch.float64)
    >>> x = torch.randn(5, 3, dtype=torch.float64)
    >>> h = gru_cell(x, None, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> bool(torch.allclose(h, cell(x), rtol=1e-12, atol=1e-15))
    True

    See also
    --------
    GRUCell, gru_pointwise, lstm_cell
    """
    H = w_hh.shape[1]
    x, (h,), batched = _cell_input("gru_cell", input, hx, H, 1)
    h = h.contiguous()
    h1 = gru_pointwise(_project(x, w_ih, b_ih), _project(h, w_hh, b_hh), h)
    return h1 if batched else h1.squeeze(0)


class LSTMCell(torch.nn.LSTMCell):
    """``torch.nn.LSTMCell`` with the fused pointwise step of :func:`lstm_cell`.

    Same constructor, parameters (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) and state dict as ``torch.nn.LSTMCell``, so either loads the
    other's weights; ``forward(input, hx=None) -> (h, c)``.  CPU, float32 or
    float64.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import LSTMCell
    >>> cell = LSTMCell(3, 2)
    >>> h, c = cell(torch.randn(4, 3))
    >>> tuple(h.shape), tuple(c.shape)
    ((4, 2), (4, 2))
    """

    def forward(self, input, hx=None):
        return lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(torch.nn.GRUCell):
    """``torch.nn.GRUCell`` with the fused pointwise step of :func:`gru_cell`.

    Same constructor, parameters and state dict as ``torch.nn.GRUCell``;
    ``forward(input, hx=None) -> h``.  CPU, float32 or float64.

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import GRUCell
    >>> cell = GRUCell(3, 2)
    >>> tuple(cell(torch.randn(4, 3)).shape)
    (4, 2)
    """

    def forward(self, input, hx=None):
        return gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
