"""What the models of :mod:`sigmoid.models` share: scikit-learn's parameter
protocol and its "not fitted" error, seeding, the progress bar and the
recorded curves."""
from __future__ import annotations

import functools
import inspect
import sys

import numpy as np

__all__ = ["ConvergenceWarning", "DataConversionWarning", "Estimator", "History", "NotFittedError", "Progress",
           "as_generator"]


# ------------------------------------------------------ errors and warnings

class NotFittedError(ValueError, AttributeError):
    """Raised when a prediction method is called before ``fit``.

    A ValueError and an AttributeError (as scikit-learn's NotFittedError);
    once :mod:`sklearn` is imported, the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError``."""


class ConvergenceWarning(UserWarning):
    """Warned when the solver stops before meeting its tolerance.

    Once :mod:`sklearn` is imported, the warning is also an instance of
    ``sklearn.exceptions.ConvergenceWarning``, so scikit-learn's filters
    apply to it."""


class DataConversionWarning(UserWarning):
    """Warned when ``y`` is a column vector and is flattened (as
    scikit-learn's DataConversionWarning, an instance of it once
    :mod:`sklearn` is imported)."""


@functools.lru_cache(maxsize=None)
def _with_base(ours, theirs):
    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__, "__doc__": ours.__doc__,
                                                "__qualname__": ours.__qualname__})


def _flavoured(cls):
    """`cls`, or a subclass of it and of scikit-learn's class of the same name
    when ``sklearn.exceptions`` has been imported (code that catches or
    filters scikit-learn's class must have imported it)."""
    mod = sys.modules.get("sklearn.exceptions")
    theirs = getattr(mod, cls.__name__, None) if mod is not None else None
    if not (isinstance(theirs, type) and issubclass(theirs, BaseException)):
        return cls
    return _with_base(cls, theirs)


# ------------------------------------------------------------ the training loop

def as_generator(random_state) -> np.random.Generator:
    """A NumPy Generator from None, an int seed, a SeedSequence, a legacy
    RandomState or a Generator (returned as is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


class History:
    """Curves recorded during training: ``history["loss"]`` is the list of
    values of "loss", one per ``record`` call that gave it; ``steps`` the
    step (epoch, iteration) of each record."""

    def __init__(self):
        self._curves: dict[str, list[float]] = {}
        self.steps: list[int] = []

    def record(self, step: int, **values) -> None:
        self.steps.append(int(step))
        for k, v in values.items():
            self._curves.setdefault(k, []).append(float(v))

    def __getitem__(self, name: str) -> list[float]:
        return self._curves[name]

    def __contains__(self, name: str) -> bool:
        return name in self._curves

    def keys(self):
        return self._curves.keys()

    def as_dict(self) -> dict[str, list[float]]:
        return {"step": list(self.steps), **{k: list(v) for k, v in self._curves.items()}}

    def __repr__(self) -> str:
        return f"History({', '.join(f'{k}: {len(v)}' for k, v in self._curves.items())})"


class Progress:
    """A tqdm progress bar when tqdm is installed and ``verbose`` is true,
    else nothing at all.  ``update(n, **shown)`` advances it and shows the
    given numbers (loss, metric) beside it."""

    def __init__(self, total: int, desc: str, verbose) -> None:
        self._bar = None
        if verbose:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=desc, leave=False)

    def update(self, n: int = 1, **shown) -> None:
        if self._bar is not None:
            if shown:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Estimator:
    """scikit-learn's parameter protocol without scikit-learn: the
    constructor's arguments are kept, unchanged, as attributes of the same
    names; ``get_params`` and ``set_params`` read and write them, and the
    repr shows those that differ from their defaults."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters, by name (``deep`` is accepted;
        there are no nested estimators)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters by name; returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__}.set_params: invalid parameter {name!r}; valid "
                                 f"parameters are {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def _require_fitted(self, attribute: str, where: str = "this estimator") -> None:
        """Raise NotFittedError (also scikit-learn's, once it is imported)
        when fit has not set `attribute`."""
        if not hasattr(self, attribute):
            raise _flavoured(NotFittedError)(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                f"before using {where}.")

    def __repr__(self) -> str:
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()
                    if k != "self"}
        shown = []
        for name, default in defaults.items():
            value = getattr(self, name, None)
            try:
                same = value is default or (type(value) is type(default) and bool(value == default))
            except Exception:       # arrays and other values without a truth value
                same = False
            if not same:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"
