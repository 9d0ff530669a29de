r"""PyTorch operators over this library's fused compiled kernels, with
autograd, ``torch.compile`` and mixed precision (public as :mod:`sigmoid.torch`).

Each kernel is registered as a ``torch.library`` custom operator in the
``sigmoid`` namespace (``torch.ops.sigmoid.*``) with a fake (meta) kernel,
which gives it shapes and dtypes without running it, and an autograd
formula.  So the functions below are differentiable, and a model that calls
them compiles with ``torch.compile(model, fullgraph=True)``: the operators
are opaque nodes of the graph, no graph break.  The kernels run on NumPy
views of the tensors' memory (``tensor.detach().numpy()``: no copy), and
their outputs become tensors over the kernels' output buffers
(``torch.from_numpy``: no copy either).

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

The ``torch.autograd.Function`` classes of earlier versions
(:class:`BCEWithLogitsFunction` and the three others) keep their names and
their ``apply``, which now calls the function of the same arguments.

Dtypes: float32 and float64 run their own kernels.  float16 and bfloat16
tensors (mixed-precision training) are computed by the float32 kernels, which
hold them exactly, and each result and gradient is rounded once to the
input's dtype.  The tensors of one call share one dtype (anything else is a
``TypeError``), except under ``torch.autocast`` on the CPU: there, as
autocast does for PyTorch's ``binary_cross_entropy_with_logits`` and cells,
half-precision arguments are widened to float32 and the results are
float32.

Scope: CPU tensors, strided layout.  CUDA and other devices raise
``TypeError`` saying so (use :mod:`sigmoid.array_api`, whose functions run on
any device with torch's own operations and are differentiable by autograd,
or torch's own functions).  Inputs that are not C-contiguous are copied once
to contiguous memory.

Double backward (``create_graph=True``, then differentiating the gradient):
:func:`bce_with_logits` has it, from its second derivative
w (1 - y + p y) sigma(x) sigma(-x), one more compiled pass; the focal loss and
the recurrent steps raise ``RuntimeError`` saying that it is not supported,
when a second derivative is asked for (not before).

Threads: the kernels use :func:`sigmoid.set_num_threads` threads for long
inputs, independently of ``torch.set_num_threads``; set both when comparing.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .. import losses as _losses
from . import _publish

try:
    import torch
except ImportError as _exc:  # pragma: no cover - exercised only without torch
    raise ImportError("sigmoid.torch needs PyTorch: pip install torch (or the 'torch' extra of sigmoid)") from _exc

from torch import Tensor
from torch.library import custom_op

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

_HALF = (torch.float16, torch.bfloat16)
_DTYPES = (torch.float32, torch.float64) + _HALF
_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------- helpers

def _check_tensor(fname, arg, t, dtype=None):
    """TypeError unless `t` is a strided CPU tensor of a supported float
    dtype (of `dtype` if given)."""
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
                        f"torch.float32, torch.float64, torch.float16 or torch.bfloat16")
    if dtype is not None and t.dtype != dtype:
        raise TypeError(f"{fname}(): argument '{arg}' has dtype {t.dtype} but the first argument has dtype "
                        f"{dtype}; the tensors must share one dtype (convert one of them explicitly)")


def _compute_dtype(dtype):
    """The dtype of the kernel that computes `dtype`: float16 and bfloat16
    through float32, which holds every one of their values exactly."""
    return torch.float32 if dtype in _HALF else dtype


def _autocast(*tensors):
    """Under CPU autocast, half-precision tensors widened to float32, as
    autocast does for PyTorch's BCE with logits (whose results are then
    float32); otherwise the tensors as given."""
    if not torch.is_autocast_enabled("cpu"):
        return tensors
    return tuple(t.float() if isinstance(t, torch.Tensor) and t.dtype in _HALF else t for t in tensors)


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


def _loss_aux(fname, name, a, like):
    """weight / pos_weight: None, or a CPU tensor of the dtype of the logits
    `like`, broadcastable to their shape; a Python number becomes a 0-d
    tensor of that dtype (as a Python number takes the tensor's dtype in
    torch)."""
    if a is None:
        return None
    if isinstance(a, torch.Tensor):
        _check_tensor(fname, name, a, like.dtype)
        try:
            ok = torch.broadcast_shapes(a.shape, like.shape) == like.shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"{fname}(): {name} of shape {tuple(a.shape)} does not broadcast to the shape of "
                             f"the logits {tuple(like.shape)}")
        return a
    if isinstance(a, numbers.Real) and not isinstance(a, bool):
        return torch.full((), float(a), dtype=_compute_dtype(like.dtype))
    raise TypeError(f"{fname}(): argument '{name}' must be a torch.Tensor, a number or None, not "
                    f"{type(a).__name__}")


def _numpy_or_none(t):
    return None if t is None else _as_numpy(t)


def _loss_shape(logits, reduction):
    return logits.shape if reduction == "none" else ()


def _tensor(a):
    # a NumPy scalar for "mean" and "sum": a 0-d tensor of its dtype
    return torch.from_numpy(np.asarray(a))


def _refuse_double_backward(name):
    raise RuntimeError(
        f"sigmoid.torch.{name}: double backward is not supported (its second derivatives are not "
        f"implemented); differentiate once, or use PyTorch's own function where second derivatives are "
        f"needed"
    )


def _not_twice(op, name):
    """Register for `op`, which computes first derivatives of `name`, an
    autograd formula that raises: asking for its derivative is asking for a
    second derivative of `name`."""

    def backward(ctx, *grads):
        _refuse_double_backward(name)

    op.register_autograd(backward, setup_context=lambda ctx, inputs, output: None)


# --------------------------------------------------------------- losses
#
# The custom operators compute in float32 or float64 only: the functions
# below bring half-precision tensors to float32 before calling them, and
# round the results back (torch's .to(), so autograd rounds the gradients
# back too).

@custom_op("sigmoid::bce_with_logits", mutates_args=(), device_types="cpu")
def _bce_op(logits: Tensor, targets: Tensor, weight: Tensor | None, pos_weight: Tensor | None,
            reduction: str) -> Tensor:
    """The loss alone, where no gradient is needed (no autograd formula:
    the differentiable operator is bce_with_logits_and_grad)."""
    x = _as_numpy(logits)
    return _tensor(_losses.bce_with_logits(x, _as_numpy(targets), weight=_numpy_or_none(weight),
                                           pos_weight=_numpy_or_none(pos_weight), reduction=reduction))


@_bce_op.register_fake
def _(logits, targets, weight, pos_weight, reduction):
    return logits.new_empty(_loss_shape(logits, reduction))


@custom_op("sigmoid::bce_with_logits_and_grad", mutates_args=(), device_types="cpu")
def _bce_grad_op(logits: Tensor, targets: Tensor, weight: Tensor | None, pos_weight: Tensor | None,
                 reduction: str) -> tuple[Tensor, Tensor]:
    """The loss and its gradient (of the sum for "none", already divided by
    the size for "mean") from one pass."""
    loss, grad = _losses.bce_with_logits_and_grad(
        _as_numpy(logits), _as_numpy(targets), weight=_numpy_or_none(weight),
        pos_weight=_numpy_or_none(pos_weight), reduction=reduction)
    return _tensor(loss), _tensor(grad)


@_bce_grad_op.register_fake
def _(logits, targets, weight, pos_weight, reduction):
    return logits.new_empty(_loss_shape(logits, reduction)), torch.empty_like(logits)


@custom_op("sigmoid::bce_with_logits_hessian", mutates_args=(), device_types="cpu")
def _bce_hessian_op(logits: Tensor, targets: Tensor, weight: Tensor | None, pos_weight: Tensor | None,
                    reduction: str) -> Tensor:
    """d(grad_i)/dx_i = w (1 - y + p y) sigma(x) sigma(-x) (divided by the
    size for "mean"): the loss is a sum of functions of one logit each, so
    its Hessian is this diagonal."""
    x = _as_numpy(logits)
    # (1 - y) sigma(x) - p y sigma(-x) differentiated: sigma' = sigma(x) sigma(-x)
    # in both terms (the ufunc computes it without cancellation), times
    # 1 - y + p y, which is 1 without pos_weight
    factor = 1.0
    if pos_weight is not None:
        y = _as_numpy(targets)
        factor = (1.0 - y) + _as_numpy(pos_weight) * y
    if weight is not None:
        factor = factor * _as_numpy(weight)
    if reduction == "mean" and x.size:
        factor = factor / x.size
    # the factors broadcast to the logits' shape (checked by the caller), so
    # the result has that shape
    return _tensor(_core.sigmoid_backward(x, np.asarray(factor, dtype=x.dtype)))


@_bce_hessian_op.register_fake
def _(logits, targets, weight, pos_weight, reduction):
    return torch.empty_like(logits)


_not_twice(_bce_hessian_op, "bce_with_logits (its third derivative)")


def _setup_bce(ctx, inputs, output):
    logits, targets, weight, pos_weight, reduction = inputs
    # unused outputs give None, not zeros: the saved gradient's own
    # gradient arrives only when a second derivative is asked for
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(output[1], logits, targets, weight, pos_weight)
    ctx.reduction = reduction


def _bce_backward(ctx, g_loss, g_grad):
    grad, x, y, w, p = ctx.saved_tensors
    dx = None
    if g_loss is not None:
        # d(outer)/dx = grad_output * dl/dx: a scalar for "mean"/"sum", one
        # factor per element for "none"
        dx = grad * g_loss
    if g_grad is not None:
        # the gradient differentiated in turn (double backward): through the
        # diagonal Hessian of the loss
        t = g_grad * _bce_hessian_op(x, y, w, p, ctx.reduction)
        dx = t if dx is None else dx + t
    return dx, None, None, None, None


_bce_grad_op.register_autograd(_bce_backward, setup_context=_setup_bce)


@custom_op("sigmoid::sigmoid_focal_loss", mutates_args=(), device_types="cpu")
def _focal_op(logits: Tensor, targets: Tensor, alpha: float, gamma: float, reduction: str) -> Tensor:
    """The loss alone (differentiable: sigmoid_focal_loss_and_grad)."""
    return _tensor(_losses.sigmoid_focal_loss(_as_numpy(logits), _as_numpy(targets), alpha=alpha, gamma=gamma,
                                              reduction=reduction))


@_focal_op.register_fake
def _(logits, targets, alpha, gamma, reduction):
    return logits.new_empty(_loss_shape(logits, reduction))


@custom_op("sigmoid::sigmoid_focal_loss_and_grad", mutates_args=(), device_types="cpu")
def _focal_grad_op(logits: Tensor, targets: Tensor, alpha: float, gamma: float,
                   reduction: str) -> tuple[Tensor, Tensor]:
    loss, grad = _losses.sigmoid_focal_loss_and_grad(_as_numpy(logits), _as_numpy(targets), alpha=alpha,
                                                     gamma=gamma, reduction=reduction)
    return _tensor(loss), _tensor(grad)


@_focal_grad_op.register_fake
def _(logits, targets, alpha, gamma, reduction):
    return logits.new_empty(_loss_shape(logits, reduction)), torch.empty_like(logits)


def _setup_focal(ctx, inputs, output):
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(output[1])


def _focal_backward(ctx, g_loss, g_grad):
    if g_grad is not None:
        _refuse_double_backward("sigmoid_focal_loss")
    grad = ctx.saved_tensors[0]
    return (None if g_loss is None else grad * g_loss), None, None, None, None


_focal_grad_op.register_autograd(_focal_backward, setup_context=_setup_focal)


def _loss_args(fname, logits, targets, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}(): reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}")
    _check_tensor(fname, "logits", logits)
    _check_tensor(fname, "targets", targets, logits.dtype)
    if logits.shape != targets.shape:
        raise ValueError(f"{fname}(): logits and targets must have the same shape, got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")


def _wants_grad(t):
    return t.requires_grad and torch.is_grad_enabled()


def _compute(*tensors):
    """The tensors in the kernels' dtype (half precision as float32: exact)."""
    dt = _compute_dtype(tensors[0].dtype)
    return [t if t is None or t.dtype == dt else t.to(dt) for t in tensors]


def bce_with_logits(logits, targets, weight=None, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy from logits, differentiable, from one fused pass.

    .. math::
        \ell = w \left[(1 - y)\,\mathrm{softplus}(x) + p\,y\,\mathrm{softplus}(-x)\right],\qquad
        \frac{\partial \ell}{\partial x} = w \left[(1 - y)\,\sigma(x) - p\,y\,\sigma(-x)\right]

    A replacement for ``torch.nn.functional.binary_cross_entropy_with_logits``
    on CPU tensors, as the operator ``torch.ops.sigmoid.bce_with_logits_and_grad``
    (``torch.compile`` sees one node).  The forward pass calls
    :func:`sigmoid.bce_with_logits_and_grad`, which computes the loss and its
    gradient in one compiled pass; the gradient is saved, and the backward
    pass multiplies it by grad_output.  Twice differentiable.

    Parameters
    ----------
    logits : torch.Tensor
        x, any shape, float32, float64, float16 or bfloat16, on the CPU.
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
        dtype (float32 for half precision under CPU autocast).
        Differentiable with respect to `logits` only, twice.

    Raises
    ------
    TypeError
        A tensor not on the CPU (CUDA tensors included), a dtype other than
        float32, float64, float16 or bfloat16, or tensors of different dtypes.
    ValueError
        `targets`, `weight` or `pos_weight` requiring grad (this function
        gives no gradient for them: detach them, or use PyTorch's function);
        targets outside [0, 1]; shapes that do not match.

    Notes
    -----
    The saved gradient costs one tensor of the logits' size, as PyTorch's
    own function saves its inputs.  When the logits do not require grad the
    loss alone is computed.  float16 and bfloat16 are computed in float32
    and rounded once.  The second derivative (double backward, e.g. for a
    gradient penalty) is the diagonal w (1 - y + p y) sigma(x) sigma(-x), one
    more compiled pass; a third derivative raises ``RuntimeError``.

    Special values: logits of +-1e9 give finite losses; +-inf logits give
    the limits (0 for a right one, inf for a wrong one), and the gradient
    its limits, w (1 - y) at +inf and -w p y at -inf, never nan.

    Accuracy: at most 1 ULP per element for loss and gradient
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
    logits, targets, weight, pos_weight = _autocast(logits, targets, weight, pos_weight)
    _loss_args(fname, logits, targets, reduction)
    _no_grad_for(fname, [("targets", targets), ("weight", weight), ("pos_weight", pos_weight)])
    w = _loss_aux(fname, "weight", weight, logits)
    p = _loss_aux(fname, "pos_weight", pos_weight, logits)
    out = logits.dtype
    x, y, w, p = _compute(logits, targets, w, p)
    if _wants_grad(logits):
        loss, _ = _bce_grad_op(x, y, w, p, reduction)
    else:
        loss = _bce_op(x, y, w, p, reduction)
    return loss.to(out)


def sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0, reduction="none"):
    r"""Focal loss (torchvision's ``sigmoid_focal_loss``), differentiable, from one fused pass.

    .. math::
        \ell = \alpha_t\, \mathrm{CE}(x, y)\, (1 - p_t)^\gamma,\quad
        1 - p_t = y\,\sigma(-x) + (1 - y)\,\sigma(x),\quad
        \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    The operator ``torch.ops.sigmoid.sigmoid_focal_loss_and_grad`` calls
    :func:`sigmoid.sigmoid_focal_loss_and_grad` (loss and gradient in one
    compiled pass, in log space); the backward pass multiplies the saved
    gradient by grad_output (elementwise for ``reduction="none"``).

    Parameters
    ----------
    logits : torch.Tensor
        x, any shape, float32, float64, float16 or bfloat16, on the CPU.
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
        Per-element losses or a 0-d tensor, the logits' dtype (float32 for
        half precision under CPU autocast); differentiable once with respect
        to `logits` only.

    Raises
    ------
    TypeError
        As :func:`bce_with_logits`.
    ValueError
        `targets` requiring grad, targets outside [0, 1], bad alpha/gamma.
    RuntimeError
        When a second derivative is asked for (double backward): not
        supported.

    Notes
    -----
    float16 and bfloat16 are computed in float32 and rounded once.
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
    logits, targets = _autocast(logits, targets)
    _loss_args(fname, logits, targets, reduction)
    _no_grad_for(fname, [("targets", targets)])
    a, g = _losses._focal_args(fname, alpha, gamma)
    out = logits.dtype
    x, y = _compute(logits, targets)
    if _wants_grad(logits):
        loss, _ = _focal_grad_op(x, y, a, g, reduction)
    else:
        loss = _focal_op(x, y, a, g, reduction)
    return loss.to(out)


# ------------------------------------------------------- recurrent cells

@custom_op("sigmoid::lstm_pointwise", mutates_args=(), device_types="cpu")
def _lstm_op(gates: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(h, c, act, tanh(c)) with act = [sigma(i), sigma(f), tanh(g), sigma(o)]:
    what the backward pass needs, so that it computes no transcendental
    function."""
    g, cp = _as_numpy(gates), _as_numpy(c_prev)
    B, H = cp.shape
    h, c, act, tanhc = (_empty(s, gates) for s in ((B, H), (B, H), (B, 4 * H), (B, H)))
    _core._lstm_forward(g, cp, h.numpy(), c.numpy(), act.numpy(), tanhc.numpy())
    return h, c, act, tanhc


@_lstm_op.register_fake
def _(gates, c_prev):
    B, H = c_prev.shape
    return (c_prev.new_empty((B, H)), c_prev.new_empty((B, H)), c_prev.new_empty((B, 4 * H)),
            c_prev.new_empty((B, H)))


@custom_op("sigmoid::lstm_pointwise_backward", mutates_args=(), device_types="cpu")
def _lstm_backward_op(dh: Tensor, dc: Tensor, act: Tensor, c_prev: Tensor,
                      tanhc: Tensor) -> tuple[Tensor, Tensor]:
    B, H = c_prev.shape
    dgates, dc_prev = _empty((B, 4 * H), act), _empty((B, H), act)
    _core._lstm_backward(_as_numpy(dh), _as_numpy(dc), _as_numpy(act), _as_numpy(c_prev), _as_numpy(tanhc),
                         dgates.numpy(), dc_prev.numpy())
    return dgates, dc_prev


@_lstm_backward_op.register_fake
def _(dh, dc, act, c_prev, tanhc):
    return act.new_empty(act.shape), c_prev.new_empty(c_prev.shape)


_not_twice(_lstm_backward_op, "lstm_pointwise")


def _setup_lstm(ctx, inputs, output):
    # act and tanh(c) are kept for the backward pass, not results: they have
    # no gradient.  c_prev is saved as the input tensor, so autograd detects
    # an in-place change before backward
    ctx.mark_non_differentiable(output[2], output[3])
    ctx.save_for_backward(output[2], inputs[1], output[3])


def _lstm_backward(ctx, dh, dc, dact, dtanhc):
    act, c_prev, tanhc = ctx.saved_tensors
    return _lstm_backward_op(dh, dc, act, c_prev, tanhc)


_lstm_op.register_autograd(_lstm_backward, setup_context=_setup_lstm)


@custom_op("sigmoid::gru_pointwise", mutates_args=(), device_types="cpu")
def _gru_op(gi: Tensor, gh: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor]:
    """(h, act) with act = [r, z, n, gh_n]."""
    a, b, hp = _as_numpy(gi), _as_numpy(gh), _as_numpy(h_prev)
    B, H = hp.shape
    h, act = _empty((B, H), gi), _empty((B, 4 * H), gi)
    _core._gru_forward(a, b, hp, h.numpy(), act.numpy())
    return h, act


@_gru_op.register_fake
def _(gi, gh, h_prev):
    B, H = h_prev.shape
    return h_prev.new_empty((B, H)), h_prev.new_empty((B, 4 * H))


@custom_op("sigmoid::gru_pointwise_backward", mutates_args=(), device_types="cpu")
def _gru_backward_op(dh: Tensor, act: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    B, H = h_prev.shape
    dgi, dgh, dh_prev = _empty((B, 3 * H), act), _empty((B, 3 * H), act), _empty((B, H), act)
    _core._gru_backward(_as_numpy(dh), _as_numpy(act), _as_numpy(h_prev), dgi.numpy(), dgh.numpy(),
                        dh_prev.numpy())
    return dgi, dgh, dh_prev


@_gru_backward_op.register_fake
def _(dh, act, h_prev):
    B, H = h_prev.shape
    return h_prev.new_empty((B, 3 * H)), h_prev.new_empty((B, 3 * H)), h_prev.new_empty((B, H))


_not_twice(_gru_backward_op, "gru_pointwise")


def _setup_gru(ctx, inputs, output):
    ctx.mark_non_differentiable(output[1])
    ctx.save_for_backward(output[1], inputs[2])


def _gru_backward(ctx, dh, dact):
    act, h_prev = ctx.saved_tensors
    # dh_prev is the direct part dh z; the part through gh = h_prev W_hh^T
    # reaches h_prev through autograd's matmul
    return _gru_backward_op(dh, act, h_prev)


_gru_op.register_autograd(_gru_backward, setup_context=_setup_gru)


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
        blocks in PyTorch's order i, f, g, o; float32, float64, float16 or
        bfloat16, CPU.
    c_prev : torch.Tensor
        (B, H) previous cell state, the dtype of `gates`.

    Returns
    -------
    h, c : torch.Tensor
        (B, H) each, the dtype of `gates`.

    Notes
    -----
    One compiled pass forward (the operator ``torch.ops.sigmoid.lstm_pointwise``)
    saves the activations and tanh(c); one pass backward
    (``torch.ops.sigmoid.lstm_pointwise_backward``) computes the gradients of
    the gates and of c_prev from them.  float16 and bfloat16 are computed in
    float32 and rounded once.  Differentiable once: a second derivative
    raises ``RuntimeError``.  sigma'(a) is
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
    >>> c.detach()  # 0.5 * 1 + 0.5 * tanh(0)
    tensor([[0.5000]], dtype=torch.float64)
    >>> c.sum().backward()
    >>> gates.grad  # dc/d(i, f, g, o) = (sigma'(0) tanh(0), sigma'(0) c_prev, sigma(0), 0)
    tensor([[0.0000, 0.2500, 0.5000, 0.0000]], dtype=torch.float64)

    See also
    --------
    lstm_cell, LSTMCell, gru_pointwise
    """
    gates, c_prev = _autocast(gates, c_prev)
    _check_2d("lstm_pointwise", [("gates", gates), ("c_prev", c_prev)], (4, 1))
    out = gates.dtype
    h, c, _, _ = _lstm_op(*_compute(gates, c_prev))
    return h.to(out), c.to(out)


def gru_pointwise(gi, gh, h_prev):
    r"""The pointwise GRU step, differentiable: input and hidden projections to h.

    .. math::
        r = \sigma(i_r + h_r),\quad z = \sigma(i_z + h_z),\quad
        n = \tanh(i_n + r \odot h_n),\quad h = (1 - z) \odot n + z \odot h_{prev}

    Parameters
    ----------
    gi : torch.Tensor
        (B, 3H) x W_ih^T + b_ih, blocks in PyTorch's order r, z, n;
        float32, float64, float16 or bfloat16, CPU.
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
    One compiled pass each way (``torch.ops.sigmoid.gru_pointwise`` and
    ``gru_pointwise_backward``).  The gradient returned for `h_prev` is the
    direct part dh z; the part through `gh` reaches h_prev through autograd
    when gh was computed from it (as in :func:`gru_cell`).  float16 and
    bfloat16 are computed in float32 and rounded once.  Differentiable
    once: a second derivative raises ``RuntimeError``.

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
    gi, gh, h_prev = _autocast(gi, gh, h_prev)
    _check_2d("gru_pointwise", [("gi", gi), ("gh", gh), ("h_prev", h_prev)], (3, 3, 1))
    out = gi.dtype
    h, _ = _gru_op(*_compute(gi, gh, h_prev))
    return h.to(out)


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
        (B, I), or (I,) unbatched; float32, float64, float16 or bfloat16, CPU.
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
    Under ``torch.autocast`` the products run in the autocast dtype and the
    pointwise step in float32, as in ``torch.nn.LSTMCell``.

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
        (B, I), or (I,) unbatched; float32, float64, float16 or bfloat16, CPU.
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
    (PyTorch's GRU, not the original paper's).  Under ``torch.autocast``,
    as :func:`lstm_cell`.

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
    h1 = gru_pointwise(_project(x, w_ih, b_ih), _project(h, w_hh, b_hh), h.contiguous())
    return h1 if batched else h1.squeeze(0)


class LSTMCell(torch.nn.LSTMCell):
    """``torch.nn.LSTMCell`` with the fused pointwise step of :func:`lstm_cell`.

    Same constructor, parameters (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) and state dict as ``torch.nn.LSTMCell``, so either loads the
    other's weights; ``forward(input, hx=None) -> (h, c)``.  CPU; float32,
    float64, float16 or bfloat16.

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
    ``forward(input, hx=None) -> h``.  CPU; float32, float64, float16 or
    bfloat16.

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



# ------------------------------------- the Function names of earlier versions
#
# These were torch.autograd.Function subclasses; the operators above replace
# them (torch.compile, half precision, double backward).  The names stay so
# that ``Name.apply(...)`` in code written for them keeps working.

class _Apply:
    """``apply(*args)`` of the function named by `function`."""

    function = None

    @classmethod
    def apply(cls, *args):
        return cls.function(*args)


class BCEWithLogitsFunction(_Apply):
    """:func:`bce_with_logits` under its name of earlier versions.

    ``BCEWithLogitsFunction.apply(logits, targets, weight, pos_weight,
    reduction)`` is ``bce_with_logits`` with its arguments in that order.

    Kept for code written when it was a ``torch.autograd.Function``; it is
    now a plain class whose ``apply`` calls the function (new code calls
    the function).

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import BCEWithLogitsFunction
    >>> x = torch.tensor([2.5, -1.0, 30.0], dtype=torch.float64, requires_grad=True)
    >>> y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    >>> BCEWithLogitsFunction.apply(x, y, None, None, "mean").backward()
    >>> x.grad        # (sigma(x) - y) / 3
    tensor([-0.0253,  0.0896,  0.3333], dtype=torch.float64)
    """

    function = staticmethod(bce_with_logits)


class SigmoidFocalLossFunction(_Apply):
    """:func:`sigmoid_focal_loss` under its name of earlier versions.

    ``SigmoidFocalLossFunction.apply(logits, targets, alpha, gamma,
    reduction)`` is ``sigmoid_focal_loss`` with its arguments in that order.

    Kept for code written when it was a ``torch.autograd.Function`` (see
    :class:`BCEWithLogitsFunction`).

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import SigmoidFocalLossFunction
    >>> x = torch.tensor([0.0, 0.0], dtype=torch.float64)
    >>> SigmoidFocalLossFunction.apply(x, torch.tensor([1.0, 0.0], dtype=torch.float64), 0.25, 0.0, "none")
    tensor([0.1733, 0.5199], dtype=torch.float64)
    """

    function = staticmethod(sigmoid_focal_loss)


class LSTMPointwiseFunction(_Apply):
    """:func:`lstm_pointwise` under its name of earlier versions.

    ``LSTMPointwiseFunction.apply(gates, c_prev)`` is ``lstm_pointwise``.

    Kept for code written when it was a ``torch.autograd.Function`` (see
    :class:`BCEWithLogitsFunction`).

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import LSTMPointwiseFunction
    >>> h, c = LSTMPointwiseFunction.apply(torch.zeros(1, 4, dtype=torch.float64),
    ...                                    torch.ones(1, 1, dtype=torch.float64))
    >>> c          # 0.5 * 1 + 0.5 * tanh(0)
    tensor([[0.5000]], dtype=torch.float64)
    """

    function = staticmethod(lstm_pointwise)


class GRUPointwiseFunction(_Apply):
    """:func:`gru_pointwise` under its name of earlier versions.

    ``GRUPointwiseFunction.apply(gi, gh, h_prev)`` is ``gru_pointwise``.

    Kept for code written when it was a ``torch.autograd.Function`` (see
    :class:`BCEWithLogitsFunction`).

    Examples
    --------
    >>> import torch
    >>> from sigmoid.torch import GRUPointwiseFunction
    >>> z = torch.zeros(1, 3, dtype=torch.float64)
    >>> GRUPointwiseFunction.apply(z, z, torch.ones(1, 1, dtype=torch.float64))   # 0.5 tanh(0) + 0.5
    tensor([[0.5000]], dtype=torch.float64)
    """

    function = staticmethod(gru_pointwise)


_publish(globals(), "sigmoid.torch")
