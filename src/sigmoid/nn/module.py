"""Parameters and the Module protocol of :mod:`sigmoid.nn`."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
import os

import numpy as np

__all__ = ["Parameter", "Module"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(owner: str, dtype) -> np.dtype:
    """The float dtype a layer was asked for, or a TypeError naming it."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in _FLOATS:
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dt}")
    return dt


class Parameter:
    """A trainable array and its accumulated gradient.

    ``data`` is the value (a NumPy array, updated in place by the optimizers
    of :mod:`sigmoid.optim`); ``grad`` is None until a backward pass
    accumulates into it, then an array of the same shape and dtype.
    """

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data)
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def accumulate(self, g: np.ndarray) -> None:
        """Add ``g`` to the gradient (allocating it on first use)."""
        if self.grad is None:
            self.grad = np.array(g, dtype=self.data.dtype, copy=True).reshape(self.data.shape)
        else:
            self.grad += g

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base of the layers: explicit forward and backward in NumPy.

    A module's ``forward`` (also ``__call__``) returns its output and keeps
    what ``backward`` needs; ``backward(grad_output)`` returns the gradient
    with respect to the input and accumulates the parameters' gradients.
    Parameters and sub-modules are found from the attributes, in the order
    they were set, and named with dots as in PyTorch (``0.weight``,
    ``weight_ih_l0``), so that a PyTorch ``state_dict`` loads unchanged.
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_params" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call Module.__init__() before setting attributes")
        self._params.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._params[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    # -------------------------------------------------------------- calling

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # ----------------------------------------------------------- parameters

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._params.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator["Module"]:
        yield self
        for m in self._modules.values():
            yield from m.modules()

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (``grad`` back to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    # ---------------------------------------------------------- state dicts

    def state_dict(self) -> dict[str, np.ndarray]:
        """The parameters by name, as copies."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict: bool = True) -> "Module":
        """Load parameters from a dict of arrays, an ``.npz`` file or a
        ``.safetensors`` file (read with the ``safetensors`` package's NumPy
        API, no torch needed).  Arrays are converted to each parameter's
        dtype.  Missing (when ``strict``), unexpected or mis-shaped keys
        raise ``ValueError`` naming every one, and then nothing is loaded."""
        owner = f"{type(self).__name__}.load_state_dict"
        arrays = _read_state(owner, state)
        mine = dict(self.named_parameters())
        problems = []
        if strict:
            problems += [f"missing key {k!r} (shape {mine[k].shape})" for k in mine if k not in arrays]
        problems += [f"unexpected key {k!r}" for k in arrays if k not in mine]
        for k, p in mine.items():
            if k in arrays and tuple(arrays[k].shape) != p.shape:
                problems.append(f"key {k!r}: shape {tuple(arrays[k].shape)} given, {p.shape} expected")
        if problems:
            raise ValueError(f"{owner}: " + "; ".join(problems) + "; nothing was loaded")
        for k, p in mine.items():
            if k in arrays:
                p.data[...] = arrays[k]
        return self

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self._modules.items())
        return f"{type(self).__name__}({self.extra_repr()}{inner}{chr(10) if inner else ''})"

    def extra_repr(self) -> str:
        return ""


def _to_numpy(owner, key, value) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):   # a torch tensor
        value = value.detach().cpu().numpy()
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{owner}: key {key!r} holds {a.dtype} data, expected numbers")
    return a


def _read_state(owner: str, state) -> dict[str, np.ndarray]:
    if isinstance(state, (str, os.PathLike)):
        path = os.fspath(state)
        if path.endswith(".safetensors"):
            try:
                from safetensors.numpy import load_file
            except ImportError:
                raise ImportError(f"{owner}: reading {path!r} needs the 'safetensors' package") from None
            state = load_file(path)
        else:
            with np.load(path, allow_pickle=False) as f:
                state = {k: f[k] for k in f.files}
    if not isinstance(state, Mapping):
        raise TypeError(f"{owner}: state must be a mapping of arrays or a path to a .npz or "
                        f".safetensors file, got {type(state).__name__}")
    return {str(k): _to_numpy(owner, k, v) for k, v in state.items()}
