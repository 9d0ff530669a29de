"""Check a layer's backward pass against central differences in float64."""
from __future__ import annotations

import numpy as np


__all__ = ["gradcheck"]


def _flatten(tree):
    if isinstance(tree, (tuple, list)):
        return [a for t in tree for a in _flatten(t)]
    return [] if tree is None else [tree]


def _like(tree, leaves):
    """The structure of `tree` with its arrays replaced from `leaves`."""
    if isinstance(tree, (tuple, list)):
        return tuple(_like(t, leaves) for t in tree)
    return None if tree is None else next(leaves)


def _named_parameters(module) -> list:
    """The parameters by name of a Module, or of any object with a
    ``named_parameters()`` method (a wrapper around a layer); an object
    without one has none."""
    named = getattr(module, "named_parameters", None)
    return list(named()) if callable(named) else []


def gradcheck(module, inputs, *, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-8,
              seed: int = 0) -> bool:
    """Compare ``module.backward`` with float64 central differences.

    With random cotangents ``w`` for the outputs (of the structure the
    forward pass returns), the scalar L = sum(out * w) is differentiated
    numerically, (L(v + eps) - L(v - eps)) / (2 eps), with respect to every
    element of every input array and of every parameter, and compared with
    what the backward pass returns (inputs) or accumulates (``grad`` of the
    parameters).

    Parameters
    ----------
    module : Module, or any object with ``__call__`` and ``backward``
        Called as ``module(*inputs)``; ``backward`` receives the output
        cotangents (one argument per element when the forward returns a
        tuple) and returns the input gradients in the structure of
        ``inputs`` (a single array for a single input).  Its parameters
        are those ``module.named_parameters()`` yields; an object that is
        not a Module and wraps one must provide that method (or be made a
        Module holding the layer), or its parameters go unchecked.
    inputs : tuple
        Arrays (float64) or nested tuples of arrays, e.g. ``(x, (h0, c0))``.
    eps, rtol, atol : float
        Step, and the tolerance of ``numpy.isclose``.
    seed : int
        Seed of the cotangents.

    Returns
    -------
    True, or raises ``AssertionError`` naming the first array and element
    that disagree, or saying that ``backward`` returned fewer or more
    input gradients than there are input arrays, or one of another shape.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import GRU, gradcheck
    >>> gru = GRU(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    >>> x = np.random.default_rng(1).standard_normal((4, 2, 3))
    >>> gradcheck(gru, (x,))
    True
    """
    inputs = tuple(inputs)
    leaves_in = _flatten(inputs)
    named = _named_parameters(module)
    for a in leaves_in + [p.data for _, p in named]:
        if not (isinstance(a, np.ndarray) and a.dtype == np.float64):
            raise TypeError("gradcheck: inputs and parameters must be float64 arrays")
    rng = np.random.default_rng(seed)
    out = module(*inputs)
    cot = _like(out, iter([rng.standard_normal(np.shape(a)) for a in _flatten(out)]))

    def loss():
        o = module(*inputs)
        return sum(float(np.sum(a * w)) for a, w in zip(_flatten(o), _flatten(cot)))

    for _, p in named:
        p.grad = None
    module(*inputs)
    got = module.backward(*cot) if isinstance(out, tuple) else module.backward(cot)
    if len(inputs) == 1 and isinstance(got, tuple):
        got = got[0]
    got_in = _flatten(got if len(inputs) > 1 else (got,))
    if len(got_in) != len(leaves_in):
        raise AssertionError(f"gradcheck: backward returned {len(got_in)} input gradient array(s) for "
                             f"{len(leaves_in)} input array(s)")
    checks = [(f"input {i}", a, np.asarray(g)) for i, (a, g) in enumerate(zip(leaves_in, got_in))]
    checks += [(f"parameter {n}", p.data, np.zeros_like(p.data) if p.grad is None else p.grad.copy())
               for n, p in named]
    for name, arr, analytic in checks:
        if analytic.shape != arr.shape:
            raise AssertionError(f"gradcheck: {name}: backward gives a gradient of shape {analytic.shape} "
                                 f"for an array of shape {arr.shape}")
        numeric = np.empty_like(arr)
        flat = arr.reshape(-1)
        for j in range(flat.size):
            v = flat[j]
            flat[j] = v + eps
            up = loss()
            flat[j] = v - eps
            down = loss()
            flat[j] = v
            numeric.reshape(-1)[j] = (up - down) / (2 * eps)
        ok = np.isclose(analytic, numeric, rtol=rtol, atol=atol)
        if not ok.all():
            k = tuple(int(i) for i in np.unravel_index(int(np.argmin(ok)), arr.shape))
            raise AssertionError(f"gradcheck: {name}, element {k}: backward gives {float(analytic[k])!r}, "
                                 f"central differences {float(numeric[k])!r}")
    return True
