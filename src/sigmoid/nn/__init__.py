"""Layers with explicit forward and backward passes in NumPy: sigma as a gate.

Parameters are NumPy arrays (float32 or float64, chosen at construction)
named as in PyTorch, so that a PyTorch ``state_dict`` loads unchanged.  A
module's forward pass (``module(x)``) keeps what its ``backward`` needs;
``backward(grad_output)`` returns the input gradient and accumulates the
parameters' gradients, which :mod:`sigmoid.optim` then applies.  Inside
``with no_grad():`` forward passes keep nothing (inference).
"""
from .attention import MultiheadAttention
from .conditioning import ConditionedResidualBlock, TimestepEmbedding, sinusoidal_embedding
from .gradcheck import gradcheck
from .layers import GLU, HardSigmoid, Linear, ReLU, Sequential, SiLU, Sigmoid, StraightThroughSigmoid, Tanh
from .module import Module, Parameter, is_grad_enabled, no_grad
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = ["Module", "Parameter", "Linear", "Sequential", "Sigmoid", "HardSigmoid", "StraightThroughSigmoid",
           "Tanh", "ReLU", "SiLU", "GLU", "LSTMCell", "LSTM", "GRUCell", "GRU", "RNNCell", "RNN",
           "MultiheadAttention", "TimestepEmbedding", "ConditionedResidualBlock", "sinusoidal_embedding",
           "gradcheck", "no_grad", "is_grad_enabled"]
