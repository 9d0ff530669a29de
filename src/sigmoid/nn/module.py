"""Parameters and the Module protocol of :mod:`sigmoid.nn`."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
import json
import math
import os
import threading
import zipfile
import zlib

import numpy as np

__all__ = ["Parameter", "Module", "no_grad", "is_grad_enabled"]

_GRAD = threading.local()


def is_grad_enabled() -> bool:
    """Whether forward passes keep what their backward passes need (True
    unless inside :class:`no_grad`, in this thread).

    Examples
    --------
    >>> from sigmoid.nn import is_grad_enabled, no_grad
    >>> with no_grad():
    ...     inside = is_grad_enabled()
    >>> inside, is_grad_enabled()
    (False, True)
    """
    return getattr(_GRAD, "enabled", True)


class no_grad:
    """Context manager for inference, as PyTorch's ``torch.no_grad``: the
    forward passes run inside it keep nothing for a backward pass.

    The recurrent layers then keep one step of gate activations instead of
    every step's (at batch 256 and hidden 512, an LSTM over 100 steps in
    float32 writes about 310 MB less), and every module's ``backward`` after such a forward
    raises a ValueError that says so.  Results are the same bits.  The
    setting is per thread; contexts nest.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import LSTM, no_grad
    >>> lstm = LSTM(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> x = np.ones((5, 1, 3))
    >>> with no_grad():
    ...     y, _ = lstm(x)
    >>> bool(np.array_equal(y, lstm(x)[0]))
    True
    """

    def __enter__(self) -> "no_grad":
        self._prev = is_grad_enabled()
        _GRAD.enabled = False
        return self

    def __exit__(self, *exc) -> None:
        _GRAD.enabled = self._prev

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

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import Parameter
    >>> w = Parameter(np.zeros(3))
    >>> w, w.grad is None
    (Parameter(shape=(3,), dtype=float64), True)
    >>> w.accumulate(np.ones(3)); w.accumulate(np.ones(3))
    >>> w.grad
    array([2., 2., 2.])
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

    Examples
    --------
    A layer of its own: ``forward`` keeps what ``backward`` needs.

    >>> import numpy as np
    >>> from sigmoid.nn import Module, Parameter
    >>> class Scale(Module):
    ...     def __init__(self, n):
    ...         super().__init__()
    ...         self.weight = Parameter(np.ones(n))
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x * self.weight.data
    ...     def backward(self, grad_output):
    ...         self.weight.accumulate((grad_output * self.x).sum(axis=0))
    ...         return grad_output * self.weight.data
    >>> layer = Scale(2)
    >>> y = layer(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> layer.backward(np.ones_like(y)), layer.weight.grad
    (array([[1., 1.],
           [1., 1.]]), array([4., 6.]))
    >>> layer.state_dict()
    {'weight': array([1., 1.])}
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
        """Load parameters by name, all of them or none.

        Every entry is checked and converted to its parameter's dtype before
        the first parameter changes; when anything is wrong, the call raises
        and no parameter of the module or of its sub-modules has changed.

        Parameters
        ----------
        state : mapping or path
            Arrays by name (NumPy arrays, nested lists, PyTorch tensors), as
            :meth:`state_dict` or PyTorch's ``state_dict()`` returns them; or
            the path of an ``.npz`` archive (``np.savez(path, **state)``) or of
            a ``.safetensors`` file (read here, neither torch nor the
            ``safetensors`` package needed).  Values may be float16, float32,
            float64, bfloat16 (widened exactly to float32 first) or integers.
            Pickles are never loaded.
        strict : bool, default True
            When True every parameter must be given; when False the
            parameters not given keep their values.  Unexpected keys are an
            error either way.

        Returns
        -------
        Module
            ``self``, so that ``Layer(...).load_state_dict(sd)`` chains.

        Raises
        ------
        ValueError
            Naming every key that is missing (when ``strict``), unexpected or
            of the wrong shape; naming every key holding a finite value that
            would overflow to +-inf in the parameter's dtype, with the range of
            the given values (values that are already inf or NaN load as
            they are); a file that is truncated, corrupt, a ``.npy`` file, or
            whose extension is neither ``.npz`` nor ``.safetensors``.
        TypeError
            ``state`` is neither a mapping nor a path, or a key holds data
            that is not real numbers (bool, complex, strings, objects, a
            dtype NumPy lacks such as float8), named with its dtype.
        FileNotFoundError
            No file at the path.
        OSError
            The file exists but cannot be opened (a directory, no permission).

        Examples
        --------
        >>> import numpy as np
        >>> from sigmoid.nn import Linear
        >>> lin = Linear(2, 1)
        >>> lin.load_state_dict({"weight": [[0.5, -2.0]], "bias": [0.25]}).weight.data
        array([[ 0.5, -2. ]], dtype=float32)
        >>> lin.load_state_dict({"weight": [[1.0, 1.0]], "bias": [1e300]})
        Traceback (most recent call last):
        ...
        ValueError: Linear.load_state_dict: key 'bias': values in [1e+300, 1e+300] overflow float32 (largest finite 3.4028235e+38); nothing was loaded
        >>> lin.weight.data
        array([[ 0.5, -2. ]], dtype=float32)
        """
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
            elif k in arrays and not p.data.flags.writeable:
                problems.append(f"parameter {k!r} is read-only")
        if not problems:
            converted = {k: _cast(arrays[k], p.dtype) for k, p in mine.items() if k in arrays}
            problems = [f"key {k!r}: {why}" for k, (_, why) in converted.items() if why]
        if problems:
            raise ValueError(f"{owner}: " + "; ".join(problems) + "; nothing was loaded")
        for k, (a, _) in converted.items():      # same shape and dtype: these copies cannot fail
            mine[k].data[...] = a
        return self

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self._modules.items())
        return f"{type(self).__name__}({self.extra_repr()}{inner}{chr(10) if inner else ''})"

    def extra_repr(self) -> str:
        return ""


_NUMBERS = "real numbers: float16, float32, float64, bfloat16 or integers"
_FILES = ("an .npz archive (np.savez(path, **module.state_dict())) or a .safetensors file; "
          "for a PyTorch checkpoint pass torch.load(path, weights_only=True)")


def _cast(a: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, str | None]:
    """A new array of ``a``'s values in ``dtype``, and why it will not do:
    a finite value that rounds to +-inf there (the user's own inf and NaN
    pass unchanged)."""
    with np.errstate(all="ignore"):          # overflow is judged below, by value
        out = a.astype(dtype)
        if dtype.kind != "f":
            return out, None
        finite = np.isfinite(a)
        if not (np.isinf(out) & finite).any():
            return out, None
        given = a[finite]
    return out, (f"values in [{given.min():.8g}, {given.max():.8g}] overflow {dtype} "
                 f"(largest finite {np.finfo(dtype).max:.8g})")


def _widen_bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 numbers, given by their 16 bits, as float32: exact, since a
    bfloat16 is the upper half of the float32 of the same value."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _to_numpy(owner, key, value) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):   # a torch tensor
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            import torch   # present: t is one of its tensors

            return _widen_bfloat16(t.view(torch.int16).numpy().view(np.uint16))
        try:
            value = t.numpy()
        except (TypeError, RuntimeError) as e:
            raise TypeError(f"{owner}: key {key!r} holds a tensor of dtype {t.dtype} that NumPy cannot take "
                            f"({e}); expected {_NUMBERS}") from None
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{owner}: key {key!r} holds a {type(value).__name__} that is not an array: {e}") from None
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{owner}: key {key!r} holds {a.dtype} data, expected {_NUMBERS}")
    return a


def _read_state(owner: str, state) -> dict[str, np.ndarray]:
    if isinstance(state, (str, os.PathLike)):
        state = _read_file(owner, state)
    if not isinstance(state, Mapping):
        raise TypeError(f"{owner}: state must be a mapping of arrays or the path of {_FILES}, "
                        f"got {type(state).__name__}")
    return {str(k): _to_numpy(owner, k, v) for k, v in state.items()}


def _read_file(owner: str, path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` or ``.safetensors`` file, by name."""
    name = os.fsdecode(path)
    ext = os.path.splitext(name)[1].lower()
    if ext == ".npy":
        raise ValueError(f"{owner}: {name!r} is a .npy file, which holds one array without names (and a dict "
                         f"saved with np.save is a pickle, which is never loaded: unpickling can run code); "
                         f"give {_FILES}")
    if ext not in (".npz", ".safetensors"):
        raise ValueError(f"{owner}: cannot read {name!r}: the extension {ext or '(none)'!r} is neither .npz nor "
                         f".safetensors; give {_FILES}")
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{owner}: there is no file {name!r}") from None
    except OSError as e:
        raise type(e)(f"{owner}: cannot open {name!r}: {e.strerror or e}") from e
    with f:
        return (_read_npz if ext == ".npz" else _read_safetensors)(owner, name, f)


def _read_npz(owner: str, name: str, f) -> dict[str, np.ndarray]:
    broken = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError)
    if f.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):      # a zip's first entry, or an empty zip
        raise ValueError(f"{owner}: {name!r} is not an .npz archive (it does not start as a zip file does); "
                         f"give {_FILES}")
    f.seek(0)
    try:
        archive = np.load(f, allow_pickle=False)
    except broken as e:
        raise ValueError(f"{owner}: {name!r} is not a readable .npz archive (truncated or corrupt): {e}") from None
    with archive:
        out = {}
        for k in archive.files:
            try:
                out[k] = archive[k]
            except broken as e:
                raise ValueError(f"{owner}: cannot read key {k!r} of {name!r} (truncated or corrupt, or "
                                 f"pickled objects, which are never loaded): {e}") from None
    return out


# safetensors dtype -> the little-endian NumPy dtype of its bytes (BF16: its bits)
_SAFETENSORS = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
                "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
                "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1"}


def _read_safetensors(owner: str, name: str, f) -> dict[str, np.ndarray]:
    """A safetensors file: an 8-byte little-endian header length, a JSON
    header {name: {dtype, shape, data_offsets: [begin, end]}} (and an optional
    ``__metadata__``), then the tensors' bytes, offsets counted from there."""
    def bad(what):
        return ValueError(f"{owner}: {name!r} is not a valid .safetensors file: {what}")

    size = os.fstat(f.fileno()).st_size
    if size < 8:
        raise bad(f"{size} bytes, fewer than the 8 of the header length (truncated?)")
    n = int.from_bytes(f.read(8), "little")
    if n > size - 8:
        raise bad(f"the header length says {n} bytes, the file has {size - 8} after it (truncated?)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except ValueError as e:
        raise bad(f"the header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    data = memoryview(f.read())
    out = {}
    for k, entry in header.items():
        if k == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], list(entry["shape"]), entry["data_offsets"]
            ints = [*shape, begin, end]
        except (TypeError, KeyError, ValueError):
            raise bad(f"tensor {k!r} lacks a dtype, a shape or two data_offsets: {entry!r}") from None
        if not all(type(i) is int and i >= 0 for i in ints) or begin > end:
            raise bad(f"tensor {k!r} has a malformed shape or data_offsets: {entry!r}")
        if dtype not in _SAFETENSORS:
            raise TypeError(f"{owner}: key {k!r} of {name!r} holds {dtype!r} data, expected {_NUMBERS}")
        dt = np.dtype(_SAFETENSORS[dtype])
        if end - begin != math.prod(shape) * dt.itemsize:
            raise bad(f"tensor {k!r} of shape {tuple(shape)} and dtype {dtype} needs "
                      f"{math.prod(shape) * dt.itemsize} bytes, its data_offsets span {end - begin}")
        if end > len(data):
            raise bad(f"tensor {k!r} lies at bytes {begin}..{end} of the data, which has {len(data)} (truncated?)")
        a = np.frombuffer(data[begin:end], dt).reshape(shape)
        out[k] = _widen_bfloat16(a) if dtype == "BF16" else a
    return out
