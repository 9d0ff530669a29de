"""Optimizers for the parameters of :mod:`sigmoid.nn`: SGD and Adam with
PyTorch's update rules.

Each optimizer holds ``param_groups`` (a list of dicts: the parameters and
their options) and ``state`` (a dict of buffers per parameter, keyed by the
:class:`~sigmoid.nn.Parameter` object), and updates every parameter's
``data`` in place, so the modules that own the parameters see the new
values.  The arithmetic follows ``torch.optim.SGD`` and ``torch.optim.Adam``
(their single-tensor implementations, ``foreach=False``) operation by
operation, with each Python scalar rounded to the parameter's dtype as
PyTorch does; ``state_dict`` has PyTorch's layout (state and parameters
numbered in the order of the groups).
"""
from __future__ import annotations

import copy
import numbers
from collections.abc import Callable

import numpy as np

from .nn.module import Parameter

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _number(owner: str, name: str, value) -> float:
    """``value`` as a Python float (so that it rounds to the parameter's
    dtype in the arithmetic, as a PyTorch scalar does), or a TypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    return float(value)


def _at_least_zero(owner: str, name: str, value) -> float:
    v = _number(owner, name, value)
    if not v >= 0.0:                      # also refuses nan
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return v


def _as_param(owner: str, where: str, p) -> Parameter:
    if not isinstance(p, Parameter):
        raise TypeError(f"{owner}: {where} is a {type(p).__name__}, not a sigmoid.nn.Parameter "
                        f"(pass module.parameters() or a list of Parameters)")
    if p.data.dtype not in _FLOATS:
        raise TypeError(f"{owner}: {where} holds {p.data.dtype} data; only float32 and float64 "
                        f"parameters can be optimized")
    return p


class Optimizer:
    """Base of the optimizers: parameter groups, per-parameter state and
    their ``state_dict``.

    Parameters
    ----------
    params : iterable
        The parameters to optimize: :class:`~sigmoid.nn.Parameter` objects,
        ``(name, Parameter)`` pairs (as ``Module.named_parameters()``
        yields), or dicts, each a parameter group with a ``"params"`` entry
        and any options that differ from `defaults`.
    defaults : dict
        The options of the optimizer, used where a group does not set them.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (a list of Parameters), every
        option, and ``"param_names"`` when names were given.  The options
        may be changed between steps (a learning-rate schedule sets
        ``group["lr"]``).
    state : dict
        Per-parameter dict of buffers, keyed by the Parameter object.  A
        parameter that has never had a gradient at ``step()`` has no entry.
    defaults : dict
        The options given to the constructor.

    Notes
    -----
    Subclasses implement ``_check_options(group)`` (validate, and return the
    options normalised) and ``_update(group, params, grads)``.  ``step()``
    checks every gradient before changing anything, so a mis-shaped gradient
    leaves all parameters and buffers as they were.

    Unlike PyTorch, a parameter listed twice (in one group or in two) and an
    option name the optimizer does not know are errors, not warnings.

    Examples
    --------
    An optimizer of its own, signSGD (Bernstein et al., 2018): every
    parameter moves by ``lr`` against the sign of its gradient.

    >>> import numpy as np
    >>> from sigmoid.nn import Parameter
    >>> from sigmoid.optim import Optimizer
    >>> class SignSGD(Optimizer):
    ...     def __init__(self, params, lr=0.01):
    ...         super().__init__(params, {"lr": lr})
    ...     def _update(self, group, params, grads):
    ...         for p, g in zip(params, grads):
    ...             p.data -= group["lr"] * np.sign(g)
    >>> w = Parameter(np.array([1.0, -2.0, 3.0]))
    >>> opt = SignSGD([w], lr=0.5)
    >>> w.grad = np.array([0.1, -4.0, 0.0])
    >>> opt.step()
    >>> w.data
    array([ 0.5, -1.5,  3. ])
    >>> opt.state_dict()
    {'state': {}, 'param_groups': [{'lr': 0.5, 'params': [0]}]}
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict[Parameter, dict] = {}
        self.param_groups: list[dict] = []
        owner = type(self).__name__
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(f"{owner}: params must be an iterable of Parameters or of dicts, "
                            f"got a single {type(params).__name__}; wrap it in a list")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{owner}: params must be an ordered collection (a list), not a set, so that "
                            f"the state_dict numbers the parameters the same way every run")
        if isinstance(params, dict):
            raise TypeError(f"{owner}: params must be an iterable of Parameters or of dicts; to give one "
                            f"parameter group, pass [group]")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{owner}: params must be an iterable of Parameters or of dicts, "
                            f"got {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{owner}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)
        if not any(g["params"] for g in self.param_groups):
            raise ValueError(f"{owner}: got an empty parameter list (every parameter group is empty)")

    # ---------------------------------------------------------------- groups

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (those it does not
        set are taken from ``defaults``), e.g. to train layers unfrozen
        later on.  The group is checked as the constructor's arguments are."""
        owner = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{owner}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{owner}: a parameter group must have a 'params' entry")
        unknown = [k for k in param_group if k not in self.defaults and k not in ("params", "param_names")]
        if unknown:
            raise TypeError(f"{owner}: unknown option(s) {', '.join(map(repr, unknown))} in a parameter group; "
                            f"the options are {', '.join(map(repr, self.defaults))}")
        index = len(self.param_groups)
        raw = param_group["params"]
        if isinstance(raw, Parameter):
            raw = [raw]
        elif isinstance(raw, (set, frozenset)):
            raise TypeError(f"{owner}: the parameters of a group must be an ordered collection (a list), "
                            f"not a set")
        else:
            try:
                raw = list(raw)
            except TypeError:
                raise TypeError(f"{owner}: 'params' of parameter group {index} must be a Parameter or an "
                                f"iterable of them, got {type(raw).__name__}") from None
        params, names = [], []
        for i, item in enumerate(raw):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                item = item[1]
            params.append(_as_param(owner, f"parameter {i} of group {index}", item))
        if names and len(names) != len(params):
            raise ValueError(f"{owner}: parameter group {index} mixes named and unnamed parameters; "
                             f"give names to all or to none")
        if len(set(map(id, params))) != len(params):
            raise ValueError(f"{owner}: parameter group {index} lists a parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{owner}: some parameters appear in more than one parameter group")
        if self.param_groups and bool(names) != ("param_names" in self.param_groups[0]):
            raise ValueError(f"{owner}: all parameter groups must be given with names or all without")
        group = {k: param_group.get(k, v) for k, v in self.defaults.items()}
        group = self._check_options(group)
        group["params"] = params
        if names:
            group["param_names"] = names
        self.param_groups.append(group)

    def _check_options(self, group: dict) -> dict:
        """Validate one group's options; return them normalised."""
        return group

    # ------------------------------------------------------------- stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``grad`` back to None (or, with
        ``set_to_none=False``, filled with zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], object] | None = None):
        """Update every parameter that has a gradient (those whose ``grad``
        is None are skipped and get no state).

        Parameters
        ----------
        closure : callable, optional
            Called first (it may recompute the loss and the gradients); its
            result is returned.

        Raises
        ------
        ValueError
            If a gradient's shape is not its parameter's; nothing is updated.
        """
        loss = closure() if closure is not None else None
        owner = f"{type(self).__name__}.step"
        work = []
        for gi, group in enumerate(self.param_groups):
            params, grads = [], []
            for pi, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                g = np.asarray(p.grad)
                if g.shape != p.data.shape:
                    raise ValueError(f"{owner}: parameter {pi} of group {gi} has data of shape {p.data.shape} "
                                     f"but a grad of shape {g.shape}; nothing was updated")
                params.append(p)
                grads.append(g.astype(p.data.dtype, copy=False))
            work.append((group, params, grads))
        # underflow to subnormals or zero is the IEEE result PyTorch gives too,
        # never an error; overflow and invalid values follow numpy's settings
        with np.errstate(under="ignore"):
            for group, params, grads in work:
                if params:
                    self._update(group, params, grads)
        return loss

    def _update(self, group: dict, params: list[Parameter], grads: list[np.ndarray]) -> None:
        raise NotImplementedError(f"{type(self).__name__}._update")

    # ---------------------------------------------------------- state dicts

    def state_dict(self) -> dict:
        """The options and buffers, as copies, in PyTorch's layout.

        Returns
        -------
        dict
            ``{"state": {index: {name: buffer}}, "param_groups": [{option:
            value, "params": [index, ...]}]}``, the parameters numbered from 0
            in the order of the groups.  Only parameters with state appear
            in ``"state"``.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load options and buffers saved by :meth:`state_dict` (from an
        optimizer of the same kind over parameters of the same shapes, in
        the same groups).  Buffers are copied and converted to each
        parameter's dtype; the current state is replaced.  Any mismatch
        raises ValueError and then nothing is loaded."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{owner}: expected a dict with 'state' and 'param_groups' entries "
                             f"(as state_dict() returns)")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{owner}: the state dict has {len(saved_groups)} parameter group(s), "
                             f"the optimizer has {len(self.param_groups)}")
        id_map = {}
        new_groups = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{owner}: parameter group {gi} of the state dict has {len(saved['params'])} "
                                 f"parameter(s), the optimizer's has {len(group['params'])}")
            for k, p in zip(saved["params"], group["params"]):
                id_map[k] = p
            options = {k: copy.deepcopy(v) for k, v in saved.items() if k not in ("params", "param_names")}
            unknown = [k for k in options if k not in self.defaults]
            if unknown:
                raise ValueError(f"{owner}: parameter group {gi} has unknown option(s) "
                                 f"{', '.join(map(repr, unknown))} (saved from another kind of optimizer?)")
            missing = [k for k in self.defaults if k not in options]
            if missing:
                raise ValueError(f"{owner}: parameter group {gi} lacks option(s) {', '.join(map(repr, missing))}")
            new = self._check_options(options)
            new["params"] = group["params"]
            if "param_names" in group:
                new["param_names"] = list(group["param_names"])
            new_groups.append(new)
        new_state = {}
        for k, buffers in state_dict["state"].items():
            if k not in id_map:
                raise ValueError(f"{owner}: the state dict has state for parameter {k!r}, which is not in "
                                 f"its parameter groups")
            p = id_map[k]
            entry = {}
            for name, v in buffers.items():
                if name == "step":
                    entry[name] = int(v)
                    continue
                a = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
                if a.shape != p.data.shape:
                    raise ValueError(f"{owner}: buffer {name!r} of parameter {k!r} has shape {a.shape}, "
                                     f"the parameter has {p.data.shape}")
                entry[name] = np.array(a, dtype=p.data.dtype, copy=True)
            new_state[p] = entry
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(v):
    return v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)


def _fma(x, y, z, dtype: np.dtype, out=None, scratch=None) -> np.ndarray:
    """x * y + z as PyTorch's CPU kernels compute it (``add`` with alpha,
    ``lerp``, ``addcmul``: a fused multiply-add).  For float32 the product
    of two float32 numbers is exact in float64, so the result rounds once
    (to float64, then to float32: a double rounding that differs from a
    true fused multiply-add about once in 2**29 operations).  For float64,
    NumPy has no fused multiply-add: two roundings.  A scalar must already
    be of `dtype`.

    With `out` (an array of `dtype`, which may be `z` itself) the result is
    written there and `out` is returned; `scratch`, a float64 array of the
    result's shape, then holds the product, so that an update in place
    allocates nothing.  The roundings are the same either way."""
    if out is None:
        if dtype == np.float32:
            r = np.multiply(x, y, dtype=np.float64)
            r += z
            return r.astype(np.float32)
        return x * y + z
    if scratch is None:
        scratch = np.empty(out.shape, np.float64)
    if dtype != np.float32:
        return np.add(np.multiply(x, y, out=scratch), z, out=out)
    np.multiply(x, y, out=scratch, dtype=np.float64)
    scratch += z
    out[...] = scratch                  # the float64 sum rounded to float32, as astype rounds it
    return out


def _flat_of(arrays, n, dtype) -> np.ndarray:
    """The arrays' elements one after another, as one 1-D array of `dtype`
    (the only array's own elements, not a copy, when there is one)."""
    if len(arrays) == 1:
        return arrays[0].reshape(n)
    return np.concatenate([a.reshape(-1) for a in arrays]).astype(dtype, copy=False)


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum (heavy-ball or Nesterov),
    L2 weight decay and dampening, as ``torch.optim.SGD``.

    For each parameter p with gradient g, step t = 1, 2, ...::

        g <- -g                        if maximize
        g <- g + weight_decay * p      if weight_decay != 0
        if momentum != 0:
            b <- g                                   at the first step
            b <- momentum * b + (1 - dampening) * g  after it
            g <- g + momentum * b      if nesterov
            g <- b                     otherwise
        p <- p - lr * g

    Parameters
    ----------
    params : iterable
        Parameters, ``(name, Parameter)`` pairs, or dicts of parameter
        groups with their own options (see :class:`Optimizer`).
    lr : float, >= 0
        Learning rate.
    momentum : float, >= 0
        Momentum factor; 0 keeps no buffer.
    dampening : float
        Dampening of the momentum (the gradient enters the buffer with
        weight 1 - dampening), not applied at the first step.
    weight_decay : float, >= 0
        L2 penalty: ``weight_decay * p`` is added to the gradient.
    nesterov : bool
        Nesterov momentum; needs momentum > 0 and dampening = 0.
    maximize : bool
        Ascend the objective instead of descending it.

    Raises
    ------
    ValueError
        For a negative lr, momentum or weight_decay, Nesterov momentum
        without momentum or with dampening, or no parameters.
    TypeError
        For an item of `params` that is not a Parameter (or group), or an
        option that is not a number.

    Notes
    -----
    The state of a parameter is ``{"momentum_buffer": b}`` (an array of the
    parameter's dtype) when momentum is non-zero; with no momentum there is
    none.  The operations are PyTorch's, in its order, with every scalar
    rounded to the parameter's dtype.  Each ``a + alpha * b`` is one fused
    multiply-add in PyTorch's CPU kernels; for float32 it is computed here
    with one rounding too (the product is exact in float64), so float32
    results are PyTorch's bit for bit on CPUs with FMA.  float64 rounds the
    product and the sum separately: within an ulp or two of PyTorch.

    Examples
    --------
    Minimize f(w) = sum((w - 3)^2), whose gradient is 2 (w - 3):

    >>> import numpy as np
    >>> from sigmoid.nn import Parameter
    >>> from sigmoid.optim import SGD
    >>> w = Parameter(np.zeros(2))
    >>> opt = SGD([w], lr=0.1, momentum=0.5)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     w.grad = 2 * (w.data - 3.0)
    ...     opt.step()
    >>> np.round(w.data, 6)
    array([3., 3.])
    >>> sorted(opt.state[w])
    ['momentum_buffer']
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        # the constructor's own arguments are checked even if every group overrides them
        self._check_options(dict(defaults))
        super().__init__(params, defaults)

    def _check_options(self, group: dict) -> dict:
        owner = "SGD"
        _at_least_zero(owner, "lr", group["lr"])
        momentum = _at_least_zero(owner, "momentum", group["momentum"])
        dampening = _number(owner, "dampening", group["dampening"])
        _at_least_zero(owner, "weight_decay", group["weight_decay"])
        group["nesterov"] = bool(group["nesterov"])
        group["maximize"] = bool(group["maximize"])
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum and zero dampening "
                             f"(got nesterov=True, momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r})")
        return group

    def _update(self, group, params, grads):
        nesterov, maximize = group["nesterov"], group["maximize"]
        for p, g in zip(params, grads):
            dt = p.data.dtype
            scratch = np.empty(p.data.shape, np.float64)           # the products, before they are rounded
            # the options as PyTorch's kernels see them: rounded to the dtype
            neg_lr = dt.type(-float(group["lr"]))
            momentum = dt.type(float(group["momentum"]))
            one_minus_dampening = dt.type(1 - float(group["dampening"]))
            weight_decay = dt.type(float(group["weight_decay"]))
            if maximize:
                g = -g
            if weight_decay != 0:
                g = _fma(p.data, weight_decay, g, dt)          # g.add(p, alpha=weight_decay)
            if momentum != 0:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = np.array(g, dtype=dt, copy=True)
                    state["momentum_buffer"] = buf
                else:
                    buf *= momentum                                # buf.mul_(momentum)
                    _fma(g, one_minus_dampening, buf, dt, out=buf, scratch=scratch)  # .add_(g, alpha=1 - dampening)
                g = _fma(buf, momentum, g, dt) if nesterov else buf    # g.add(buf, alpha=momentum)
            _fma(g, neg_lr, p.data, dt, out=p.data, scratch=scratch)  # p.add_(g, alpha=-lr)


class Adam(Optimizer):
    """Adam (and AMSGrad), with L2 weight decay added to the gradient, as
    ``torch.optim.Adam``.

    For each parameter p with gradient g, step t = 1, 2, ..., first and
    second moments m and v (zero before the first step)::

        g <- -g                        if maximize
        g <- g + weight_decay * p      if weight_decay != 0
        m <- m + (1 - beta1) * (g - m)            (beta1 * m + (1 - beta1) * g)
        v <- beta2 * v + (1 - beta2) * g * g
        v_max <- max(v_max, v)         if amsgrad (the denominator uses v_max)
        step_size = lr / (1 - beta1^t)
        denom = sqrt(v) / sqrt(1 - beta2^t) + eps
        p <- p - step_size * m / denom

    Parameters
    ----------
    params : iterable
        Parameters, ``(name, Parameter)`` pairs, or dicts of parameter
        groups with their own options (see :class:`Optimizer`).
    lr : float, >= 0
        Learning rate.
    betas : (float, float), each in [0, 1)
        Decay rates (beta1, beta2) of the first and second moments.
    eps : float, >= 0
        Added to the denominator (after the bias correction).
    weight_decay : float, >= 0
        L2 penalty added to the gradient (Adam's, not AdamW's decoupled
        decay).
    amsgrad : bool
        Normalize by the running maximum of v (AMSGrad).
    maximize : bool
        Ascend the objective instead of descending it.

    Raises
    ------
    ValueError
        For a negative lr, eps or weight_decay, a beta outside [0, 1), or no
        parameters.
    TypeError
        For an item of `params` that is not a Parameter (or group), or an
        option that is not a number.

    Notes
    -----
    The state of a parameter is ``{"step": t, "exp_avg": m, "exp_avg_sq":
    v}`` and, with amsgrad, ``"max_exp_avg_sq"``; the buffers have the
    parameter's dtype, the step count is an int.  The parameters of a group
    that share a dtype and a step count are updated together: their
    buffers are views of one flat array per moment, so a step costs one
    run of array operations rather than one per parameter (a buffer
    replaced in ``state``, or a loaded state dict, is taken up at the next
    step).  The moment update is
    PyTorch's ``lerp`` (the form above when 1 - beta1 < 0.5, else
    ``g - (g - m) * beta1``); the bias corrections, step_size and
    sqrt(1 - beta2^t) are computed in float64 as Python floats and rounded
    to the parameter's dtype where they meet an array, as in PyTorch.  The
    multiply-adds PyTorch fuses (weight decay, ``lerp``, ``addcmul``) round
    once for float32, as in :class:`SGD`.  The square root is NumPy's,
    correctly rounded; PyTorch's vectorised one is not always (it differs by
    an ulp for a sixth of float32 inputs on an AVX-512 CPU), so the updates
    agree with PyTorch's to an ulp or two, not bit for bit.

    Examples
    --------
    Minimize f(w) = sum((w - 3)^2), whose gradient is 2 (w - 3):

    >>> import numpy as np
    >>> from sigmoid.nn import Parameter
    >>> from sigmoid.optim import Adam
    >>> w = Parameter(np.zeros(2, dtype=np.float32))
    >>> opt = Adam([w], lr=0.1)
    >>> for _ in range(500):
    ...     opt.zero_grad()
    ...     w.grad = 2 * (w.data - 3.0)
    ...     opt.step()
    >>> np.round(w.data, 3), w.data.dtype
    (array([3., 3.], dtype=float32), dtype('float32'))
    >>> opt.state[w]["step"]
    500
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        self._check_options(dict(defaults))
        super().__init__(params, defaults)

    def _check_options(self, group: dict) -> dict:
        owner = "Adam"
        _at_least_zero(owner, "lr", group["lr"])
        betas = group["betas"]
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: betas must be a pair of numbers (beta1, beta2), got {betas!r}") from None
        for i, b in enumerate((b1, b2)):
            v = _number(owner, f"betas[{i}]", b)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{owner}: betas[{i}] must be in [0, 1), got {b!r}")
        group["betas"] = (b1, b2)
        _at_least_zero(owner, "eps", group["eps"])
        _at_least_zero(owner, "weight_decay", group["weight_decay"])
        group["amsgrad"] = bool(group["amsgrad"])
        group["maximize"] = bool(group["maximize"])
        return group

    def _update(self, group, params, grads):
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        # the parameters of one dtype at the same step share every scalar:
        # they are updated together, in one run of array operations over
        # flat buffers of which their moments are views (see _flat)
        runs: dict[tuple, list] = {}
        for p, g in zip(params, grads):
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
            for name in names:
                if name not in state:                # new, or amsgrad switched on later
                    state[name] = np.zeros_like(p.data)
            runs.setdefault((p.data.dtype, state["step"]), []).append((p, g))
        for (dt, step), run in runs.items():
            ps = [p for p, _ in run]
            m, v, vmax = self._flat(ps, names) + ((None,) if not amsgrad else ())
            g = _flat_of([g for _, g in run], m.size, dt)
            step += 1
            for p in ps:
                self.state[p]["step"] = step

            if maximize:
                g = -g
            if weight_decay != 0:
                pd = _flat_of([p.data for p in ps], m.size, dt)
                g = _fma(pd, dt.type(weight_decay), g, dt)   # g.add(p, alpha=weight_decay)

            # m.lerp_(g, w) with w = 1 - beta1 rounded to the dtype; torch's
            # two branches: m + w (g - m) for |w| < 0.5, else g + (w - 1) (g - m).
            # Every multiply-add goes through `scratch` into its target, and
            # `d` is reused for (1 - beta2) g and then for the denominator:
            # three temporaries per run, the roundings unchanged.
            scratch = np.empty(m.shape, np.float64)
            w = dt.type(1 - beta1)
            d = g - m
            if abs(w) < 0.5:
                _fma(d, w, m, dt, out=m, scratch=scratch)
            else:
                _fma(d, w - dt.type(1), g, dt, out=m, scratch=scratch)
            # v.mul_(beta2).addcmul_(g, g, value=1 - beta2): v + ((1 - beta2) g) g
            v *= dt.type(beta2)
            np.multiply(g, dt.type(1 - beta2), out=d)
            _fma(d, g, v, dt, out=v, scratch=scratch)

            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2 ** 0.5
            if amsgrad:
                np.maximum(vmax, v, out=vmax)
                denom = np.sqrt(vmax, out=d)
            else:
                denom = np.sqrt(v, out=d)
            denom /= dt.type(bias_correction2_sqrt)
            denom += dt.type(eps)
            # p.addcdiv_(m, denom, value=-step_size): p + (value * m) / denom
            upd = dt.type(-step_size) * m
            upd /= denom
            start = 0
            for p in ps:
                p.data += upd[start:start + p.data.size].reshape(p.data.shape)
                start += p.data.size

    def _flat(self, params, names):
        """For each buffer name, one flat array holding that buffer of every
        parameter of `params` in turn, the state's buffers being views of
        it.  Kept between steps; made again (the current values copied in)
        when the state no longer holds those views: another set of
        parameters, a loaded state dict, a buffer replaced."""
        cache = self.__dict__.setdefault("_flat_buffers", {})
        key = (tuple(map(id, params)), names)
        kept = cache.get(key)
        if kept is not None and all(self.state[p][name] is view and view.base is flat
                                    for p, views in zip(params, kept[1])
                                    for name, view, flat in zip(names, views, kept[0])):
            return kept[0]
        n = sum(p.data.size for p in params)
        flats = tuple(np.empty(n, params[0].data.dtype) for _ in names)
        views, start = [], 0
        for p in params:
            size, state = p.data.size, self.state[p]
            vs = []
            for name, flat in zip(names, flats):
                view = flat[start:start + size].reshape(p.data.shape)
                view[...] = state[name]
                state[name] = view
                vs.append(view)
            views.append(vs)
            start += size
        cache[key] = (flats, views)
        return flats


# ------------------------------------------------------------------ clipping

def _norm(a) -> float:
    """The Euclidean (Frobenius) norm, accumulated in float64 so that the
    squares of a vanishing gradient neither underflow nor lose digits."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(under="ignore"):
        q = np.abs(a)
        s = np.max(q) if a.size else 0.0
        if s == 0:
            return 0.0
        q /= s                             # (|a| / s)^2 = (a / s)^2, in one array
        return float(s * np.sqrt(np.sum(np.square(q, out=q))))


def clip_grad_norm(parameters, max_norm: float) -> float:
    r"""Scale the gradients of `parameters` together so that their joint
    norm is at most `max_norm`, as ``torch.nn.utils.clip_grad_norm_``.

    .. math:: g \leftarrow g \cdot \min\left(1, \frac{c}{\lVert g \rVert_2 + 10^{-6}}\right),
              \quad \lVert g \rVert_2 = \Bigl(\sum_p \lVert g_p \rVert_2^2\Bigr)^{1/2}

    Parameters
    ----------
    parameters : iterable of sigmoid.nn.Parameter
        Those whose ``grad`` is None are skipped.
    max_norm : float, > 0
        The bound c.

    Returns
    -------
    float
        The joint norm before clipping (computed in float64).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.nn import Parameter
    >>> from sigmoid.optim import clip_grad_norm
    >>> p = Parameter(np.zeros(2))
    >>> p.grad = np.array([3.0, 4.0])
    >>> clip_grad_norm([p], 1.0), np.round(p.grad, 6)
    (5.0, array([0.6, 0.8]))
    """
    c = _number("clip_grad_norm", "max_norm", max_norm)
    if not (c > 0 and np.isfinite(c)):
        raise ValueError(f"clip_grad_norm: max_norm must be a finite number > 0, got {max_norm!r}")
    params = [p for p in parameters if p.grad is not None]
    total = float(np.sqrt(sum(_norm(p.grad) ** 2 for p in params)))
    scale = c / (total + 1e-6)
    if scale < 1:
        with np.errstate(under="ignore"):       # a vanishing component may go to zero
            for p in params:
                p.grad *= p.grad.dtype.type(scale)
    return total
