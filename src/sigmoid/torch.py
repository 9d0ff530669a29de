"""PyTorch autograd wrappers of the fused compiled kernels of :mod:`sigmoid`
(BCE with logits, focal loss, LSTM and GRU pointwise steps and cells), for
CPU tensors, zero-copy through NumPy views.  Needs ``torch``.

The implementation is :mod:`sigmoid.interop.torch`; see its docstring.
"""
from __future__ import annotations

from .interop.torch import (
    BCEWithLogitsFunction,
    GRUCell,
    GRUPointwiseFunction,
    LSTMCell,
    LSTMPointwiseFunction,
    SigmoidFocalLossFunction,
    bce_with_logits,
    gru_cell,
    gru_pointwise,
    lstm_cell,
    lstm_pointwise,
    sigmoid_focal_loss,
)

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
