"""Linear, Sequential, the activations the seed compares, and GLU."""
from __future__ import annotations

import numpy as np

from .. import _core
from .module import Module, Parameter, check_dtype, is_grad_enabled

__all__ = ["Linear", "Sequential", "Sigmoid", "HardSigmoid", "StraightThroughSigmoid", "Tanh", "ReLU",
           "SiLU", "GLU"]


def as_float_input(owner: str, x, dtype: np.dtype | None = None) -> np.ndarray:
    """x as an array of the layer's float dtype (or any float dtype when the
    layer has none), or a TypeError naming the layer and both dtypes."""
    a = np.asarray(x)
    if dtype is None:
        if a.dtype.kind in "biu":
            return a.astype(np.result_type(a.dtype, np.float16))
        if a.dtype.kind != "f":
            raise TypeError(f"{owner}: input must be a float array, got {a.dtype}")
        return a
    if a.dtype != dtype:
        raise TypeError(f"{owner}: input has dtype {a.dtype}, the layer's parameters are {dtype}")
    return a


def check_grad(owner: str, g, shape, dtype) -> np.ndarray:
    g = np.asarray(g)
    if g.shape != tuple(shape):
        raise ValueError(f"{owner}: grad_output has shape {g.shape}, the output had {tuple(shape)}")
    return g.astype(dtype, copy=False)


class _Saved:
    """What a forward pass keeps for its backward pass: nothing under
    :class:`no_grad` (each value is dropped as it is set)."""

    def __setattr__(self, name, value):
        kept = is_grad_enabled()
        object.__setattr__(self, name, value if kept else None)
        object.__setattr__(self, "_no_grad", not kept)

    def need(self, owner: str, name: str = "x"):
        v = getattr(self, name, None)
        if v is None:
            raise ValueError(no_grad_error(owner) if getattr(self, "_no_grad", False)
                             else f"{owner}: called before forward")
        return v


def no_grad_error(owner: str) -> str:
    return (f"{owner}: the last forward pass ran under sigmoid.nn.no_grad(), which keeps nothing for a "
            f"backward pass; run the forward pass again outside it")


class Linear(Module):
    """y = x W^T + b, for inputs of shape (..., in_features).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the last axis of the input and of the output.
    bias : bool, default True
        Whether to add the learnt bias ``b`` (shape ``(out_features,)``).
    dtype : float32 or float64, default float32
        Dtype of the parameters; inputs must have the same.
    rng : numpy.random.Generator, optional
        Source of the initial values, U(-1/sqrt(in), 1/sqrt(in)) as in
        PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import Linear
    >>> lin = Linear(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> y = lin(np.ones((4, 3)))
    >>> lin.backward(np.ones_like(y)).shape, lin.weight.grad.shape
    ((4, 3), (2, 3))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__()
        dt = check_dtype("Linear", dtype)
        rng = np.random.default_rng() if rng is None else rng
        k = 1.0 / np.sqrt(in_features) if in_features > 0 else 0.0
        self.in_features, self.out_features, self.dtype = int(in_features), int(out_features), dt
        self.weight = Parameter(rng.uniform(-k, k, (out_features, in_features)).astype(dt))
        self.bias = Parameter(rng.uniform(-k, k, out_features).astype(dt)) if bias else None
        object.__setattr__(self, "_saved", _Saved())

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}, dtype={self.dtype}"

    def forward(self, x):
        x = as_float_input("Linear", x, self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input of shape {x.shape}, expected (..., {self.in_features})")
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        self._saved.x = x
        return y

    def backward(self, grad_output):
        x = self._saved.need("Linear.backward")
        g = check_grad("Linear.backward", grad_output, x.shape[:-1] + (self.out_features,), self.dtype)
        g2, x2 = g.reshape(-1, self.out_features), x.reshape(-1, self.in_features)
        self.weight.accumulate(g2.T @ x2)
        if self.bias is not None:
            self.bias.accumulate(g2.sum(axis=0))
        return g @ self.weight.data


class Sequential(Module):
    """Modules applied in turn; backward runs them in reverse.  Children are
    named "0", "1", ... as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import Linear, Sequential, Tanh
    >>> rng = np.random.default_rng(0)
    >>> mlp = Sequential(Linear(3, 4, dtype=np.float64, rng=rng), Tanh(),
    ...                  Linear(4, 1, dtype=np.float64, rng=rng))
    >>> [name for name, _ in mlp.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> y = mlp(np.ones((5, 3)))
    >>> mlp.backward(np.ones_like(y)).shape, mlp[0].weight.grad.shape
    ((5, 3), (4, 3))
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output):
        for m in reversed(list(self._modules.values())):
            grad_output = m.backward(grad_output)
        return grad_output


class _Pointwise(Module):
    """An activation applied elementwise; keeps its input."""

    name = ""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "_saved", _Saved())

    def forward(self, x):
        x = as_float_input(self.name, x)
        self._saved.x = x
        y = self._f(x)
        self._saved.y = y
        return y

    def backward(self, grad_output):
        x = self._saved.need(f"{self.name}.backward")
        g = check_grad(f"{self.name}.backward", grad_output, x.shape, x.dtype)
        return self._df(x, self._saved.y, g)


class Sigmoid(_Pointwise):
    """y = sigma(x); the backward pass is g sigma(x) sigma(-x), computed from x
    (exact where the textbook y (1 - y) cancels).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import Sigmoid
    >>> act = Sigmoid()
    >>> act(np.array([-1.0, 0.0, 20.0], dtype=np.float32))
    array([0.26894143, 0.5       , 1.        ], dtype=float32)
    >>> act.backward(np.ones(3, dtype=np.float32))   # y (1 - y) would give 0 at x = 20
    array([1.9661193e-01, 2.5000000e-01, 2.0611537e-09], dtype=float32)
    """

    name = "Sigmoid"

    def _f(self, x):
        return _core.sigmoid(x)

    def _df(self, x, y, g):
        return _core.sigmoid_backward(x, g)


class HardSigmoid(_Pointwise):
    """y = clip(x/6 + 1/2, 0, 1) (PyTorch's ``F.hardsigmoid``); gradient g/6
    strictly inside (-3, 3), 0 outside and at the kinks.  (PyTorch's
    float64 gradient uses 1/6 rounded to float32, 3e-8 away.)

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import HardSigmoid
    >>> act = HardSigmoid()
    >>> act(np.array([-4.0, 0.0, 1.5, 3.0]))
    array([0.  , 0.5 , 0.75, 1.  ])
    >>> act.backward(np.ones(4))
    array([0.        , 0.16666667, 0.16666667, 0.        ])
    """

    name = "HardSigmoid"

    def _f(self, x):
        return _core.hard_sigmoid(x)

    def _df(self, x, y, g):
        return _core.hard_sigmoid_backward(x, g)


class StraightThroughSigmoid(_Pointwise):
    """Forward: the hard decision 1 where sigma(x) > 1/2 (x > 0), else 0.
    Backward: sigma's gradient, as if the forward had been sigma(x): the
    straight-through estimator of a binary gate.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import StraightThroughSigmoid
    >>> gate = StraightThroughSigmoid()
    >>> gate(np.array([-2.0, 0.0, 0.5]))
    array([0., 0., 1.])
    >>> gate.backward(np.ones(3))       # sigma'(x), not the step's zero gradient
    array([0.10499359, 0.25      , 0.23500371])
    """

    name = "StraightThroughSigmoid"

    def _f(self, x):
        return (x > 0).astype(x.dtype)

    def _df(self, x, y, g):
        return _core.sigmoid_backward(x, g)


class Tanh(_Pointwise):
    """y = tanh(x); gradient g (1 - y^2).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import Tanh
    >>> act = Tanh()
    >>> act(np.array([-1.0, 0.0, 2.0]))
    array([-0.76159416,  0.        ,  0.96402758])
    >>> act.backward(np.ones(3))
    array([0.41997434, 1.        , 0.07065082])
    """

    name = "Tanh"

    def _f(self, x):
        return np.tanh(x)

    def _df(self, x, y, g):
        return g * (1 - y * y)


class ReLU(_Pointwise):
    """y = max(x, 0); gradient g where x > 0, else 0 (0 at x = 0, as PyTorch).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import ReLU
    >>> act = ReLU()
    >>> act(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    >>> act.backward(np.ones(3))
    array([0., 0., 1.])
    """

    name = "ReLU"

    def _f(self, x):
        return np.maximum(x, 0, dtype=x.dtype)

    def _df(self, x, y, g):
        return np.where(x > 0, g, 0).astype(x.dtype, copy=False)


class SiLU(_Pointwise):
    """y = x sigma(x); gradient g sigma(x) (1 + x sigma(-x)).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import SiLU
    >>> act = SiLU()
    >>> act(np.array([-1.0, 0.0, 2.0]))
    array([-0.26894142,  0.        ,  1.76159416])
    >>> act.backward(np.ones(3))
    array([0.07232949, 0.5       , 1.09078425])
    """

    name = "SiLU"

    def _f(self, x):
        return _core.silu(x)

    def _df(self, x, y, g):
        return _core.silu_backward(x, g)


class GLU(Module):
    """Gated linear unit: split x in two halves a, b along ``axis`` and
    return a sigma(b) (PyTorch's ``F.glu``).

    The backward pass gives g sigma(b) to a and g a sigma(b) sigma(-b) to b.
    The axis must have even length (``ValueError`` otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import GLU
    >>> glu = GLU()
    >>> glu(np.array([[1.0, 2.0, 0.0, 100.0]]))     # a = [1, 2] gated by sigma([0, 100])
    array([[0.5, 2. ]])
    >>> glu.backward(np.ones((1, 2)))
    array([[5.00000000e-01, 1.00000000e+00, 2.50000000e-01, 7.44015195e-44]])
    """

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = int(axis)
        object.__setattr__(self, "_saved", _Saved())

    def extra_repr(self):
        return f"axis={self.axis}"

    def forward(self, x):
        x = as_float_input("GLU", x)
        if x.ndim == 0:
            raise ValueError("GLU: input must have at least one axis")
        ax = self.axis % x.ndim if -x.ndim <= self.axis < x.ndim else None
        if ax is None:
            raise ValueError(f"GLU: axis {self.axis} is out of range for an input of shape {x.shape}")
        if x.shape[ax] % 2:
            raise ValueError(f"GLU: axis {self.axis} of the input has odd length {x.shape[ax]} "
                             f"(input shape {x.shape})")
        a, b = np.split(x, 2, axis=ax)
        s = _core.sigmoid(b)
        self._saved.x, self._saved.ax = x, ax
        return a * s

    def backward(self, grad_output):
        x = self._saved.need("GLU.backward")
        ax = self._saved.ax
        a, b = np.split(x, 2, axis=ax)
        g = check_grad("GLU.backward", grad_output, a.shape, x.dtype)
        return np.concatenate([g * _core.sigmoid(b), _core.sigmoid_backward(b, g * a)], axis=ax)
