r"""Diffusion and flow matching, where sigma sits in three places: the noise
schedule, the sampling of training times and the conditioning network.

Variance-preserving diffusion corrupts data :math:`x_0` into

.. math::
    x_t = \alpha_t x_0 + \sigma_t \varepsilon, \qquad
    \alpha_t^2 = \bar\alpha(t), \quad \sigma_t^2 = 1 - \bar\alpha(t), \quad
    \varepsilon \sim N(0, I),

for times t in [0, 1] (t = 0 the data, t = 1 noise).  Everything follows
from the log signal-to-noise ratio :math:`\lambda(t) = \log(\alpha_t^2 /
\sigma_t^2) = \operatorname{logit}\bar\alpha(t)`: inverting the logit,

.. math::
    \bar\alpha(t) = \sigma(\lambda(t)), \qquad 1 - \bar\alpha(t) = \sigma(-\lambda(t)),

so each schedule here computes :math:`\lambda(t)` without cancellation, and
:math:`\bar\alpha`, :math:`1 - \bar\alpha`, :math:`\alpha_t` and
:math:`\sigma_t` come from this library's ``sigmoid`` and ``log_sigmoid``
of it: near t = 0, where :math:`1 - \bar\alpha` is tiny, and near t = 1,
where :math:`\bar\alpha` is, no difference of nearly equal numbers is ever
formed.

This module is the mathematics (schedules, time samplers, the samplers that
turn a trained network into samples, and a two-sample distance to judge
them).  The networks are in :mod:`sigmoid.nn` (:class:`~sigmoid.nn.TimestepEmbedding`,
:class:`~sigmoid.nn.ConditionedResidualBlock`), the denoiser and its training
in :mod:`sigmoid.models` (:class:`~sigmoid.models.Denoiser`,
:class:`~sigmoid.models.DiffusionModel`).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import _core
from ._accuracy import TIME_AT as _TIME_AT
from ._accuracy import schedule_text as _schedule_text

__all__ = [
    "NoiseSchedule",
    "LinearSchedule",
    "CosineSchedule",
    "SigmoidSchedule",
    "get_schedule",
    "UniformTimesteps",
    "LogitNormalTimesteps",
    "ddpm_sample",
    "ddim_sample",
    "euler_sample",
    "energy_distance",
]

_LN2 = math.log(2.0)


# ------------------------------------------------------------- checking input

def _real(owner: str, name: str, value, *, positive: bool = False, nonnegative: bool = False) -> float:
    """A finite real parameter as a float, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    if positive and not v > 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")
    if nonnegative and not v >= 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return v


def _count(owner: str, name: str, value, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ValueError(f"{owner}: {name} must be an int >= {least}, got {value!r}")
    return int(value)


def _first_bad(bad: np.ndarray):
    """The index (a tuple, or an int for 1-D) of the first True."""
    k = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return k[0] if len(k) == 1 else tuple(int(i) for i in k)


def _times(owner: str, t, name: str = "t") -> tuple[np.ndarray, np.dtype]:
    """t as a float64 array with values in [0, 1], and the dtype results
    take (t's float dtype, float64 for integers); a ValueError naming the
    first value outside [0, 1] (NaN included) otherwise."""
    a = np.asarray(t)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{owner}: {name} must be real numbers in [0, 1], got dtype {a.dtype}")
    out = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    x = a.astype(np.float64)
    bad = ~((x >= 0) & (x <= 1))           # NaN fails both
    if bad.any():
        k = _first_bad(bad) if x.ndim else None
        where = "" if k is None else f" (at index {k})"
        raise ValueError(f"{owner}: {name} must be in [0, 1], got {float(x[bad].flat[0])!r}{where}")
    return x, out


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - e^-d) for d >= 0, without cancellation (Maechler 2012):
    log(-expm1(-d)) for d <= log 2, where 1 - e^-d is small and expm1
    keeps its digits; log1p(-e^-d) beyond, where e^-d is small and log1p
    keeps them.  d = 0 gives -inf (log of an exact 0, intended); e^-d
    underflowing to 0 for d > 745 gives -0, off by less than 1e-323."""
    d = np.asarray(d, np.float64)
    with np.errstate(divide="ignore", under="ignore"):
        out = np.asarray(np.log1p(-np.exp(-d)))
        near = d <= _LN2
        if near.any():
            out[near] = np.log(-np.expm1(-d[near]))
    return out


_TINY = 1e-280      # below this a product k u is formed in logarithms: it could be subnormal, or 0


def _log1mexp_of_product(u: np.ndarray, k) -> np.ndarray:
    """log(1 - e^(-k u)) for u >= 0, k > 0 (k may be an array): where k u
    is tiny, log(k) + log(u) (1 - e^-d = d (1 - d/2 + ...), the rest below
    1e-280), so that a product that would be subnormal keeps its digits."""
    u = np.asarray(u, np.float64)
    d = np.asarray(k * u)
    out = _log1mexp(d)
    small = d < _TINY
    if small.any():
        with np.errstate(divide="ignore"):      # log(0) = -inf at u = 0: intended
            out[small] = np.asarray(np.log(k) + np.log(u))[small] if np.ndim(k) else math.log(k) + np.log(u[small])
    return out


def _log_sin_of_product(a: float, u: np.ndarray) -> np.ndarray:
    """log(sin(a u)) for a u in [0, pi/2]: log(a) + log(u) where a u is
    tiny (sin w = w (1 - w^2/6 + ...))."""
    w = np.asarray(a * u)
    with np.errstate(divide="ignore"):          # log sin 0 = -inf: intended
        out = np.asarray(np.log(np.sin(w)))
        small = w < _TINY
        if small.any():
            out[small] = math.log(a) + np.log(np.asarray(u)[small])
    return out


def _cast(v: np.ndarray, dtype: np.dtype):
    out = np.asarray(v).astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out


# ------------------------------------------------------------------ schedules

class NoiseSchedule:
    r"""Base of the noise schedules: :math:`\lambda(t)` defines everything.

    A subclass implements ``_log_snr(t)`` for float64 ``t`` in [0, 1] (and,
    optionally, ``_time_at`` and ``_betas``); this class checks the input
    and derives the rest from :math:`\bar\alpha = \sigma(\lambda)`.

    Every method takes ``t`` of any shape, with values in [0, 1], computes
    in float64 and returns t's float dtype (float64 for integer t).
    """

    name = ""

    def _owner(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"

    # the subclasses' formulas
    def _log_snr(self, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _lam(self, t: np.ndarray) -> np.ndarray:
        # products of a tiny t may underflow; the formulas take their logarithms there instead
        with np.errstate(under="ignore"):
            return self._log_snr(t)

    def log_snr(self, t):
        r"""The log signal-to-noise ratio :math:`\lambda(t) = \log(\bar\alpha/(1 - \bar\alpha))`.

        Decreasing in t; +inf at t = 0 (clean data), and -inf at t = 1
        where the schedule ends in pure noise.

        Parameters
        ----------
        t : array_like
            Times in [0, 1].

        Returns
        -------
        ndarray or scalar, t's float dtype (float64 for integers)

        Raises
        ------
        ValueError
            If a time lies outside [0, 1] or is NaN, naming the first.
        """
        x, dt = _times(self._owner("log_snr"), t)
        return _cast(self._lam(x), dt)

    def alpha_bar(self, t):
        r""":math:`\bar\alpha(t) = \sigma(\lambda(t))`, the variance of the
        signal in :math:`x_t` (DDPM's cumulative product of
        :math:`1 - \beta`); 1 at t = 0.

        ``alpha_bar(t)`` and ``1 - alpha_bar(t)`` are each accurate to a few
        units of :math:`\epsilon \max(1, |\lambda|)` relative (see
        :data:`sigmoid._accuracy.SCHEDULES`); for the second, use
        :meth:`noise_variance`, never the subtraction.
        """
        x, dt = _times(self._owner("alpha_bar"), t)
        return _cast(_core.sigmoid(self._lam(x)), dt)

    def noise_variance(self, t):
        r""":math:`1 - \bar\alpha(t) = \sigma(-\lambda(t))`, computed without
        the subtraction (which would round to 0 near t = 0)."""
        x, dt = _times(self._owner("noise_variance"), t)
        return _cast(_core.sigmoid(-self._lam(x)), dt)

    def scales(self, t):
        r"""The signal and noise scales :math:`(\alpha_t, \sigma_t)` of
        :math:`x_t = \alpha_t x_0 + \sigma_t \varepsilon`:
        :math:`\alpha_t = e^{\log\sigma(\lambda)/2}`,
        :math:`\sigma_t = e^{\log\sigma(-\lambda)/2}`, both from this
        library's ``log_sigmoid`` (no square root of a rounded
        :math:`1 - \bar\alpha`).

        Returns
        -------
        alpha, sigma : ndarray or scalar, t's float dtype
        """
        x, dt = _times(self._owner("scales"), t)
        lam = self._lam(x)
        with np.errstate(under="ignore"):      # e^(-746) and below are 0: the scale's true value rounds there
            a = np.exp(0.5 * _core.log_sigmoid(lam))
            s = np.exp(0.5 * _core.log_sigmoid(-lam))
        return _cast(a, dt), _cast(s, dt)

    def time_at(self, log_snr):
        r"""The inverse of :math:`\lambda`: the time t in [0, 1] at which the
        log-SNR equals `log_snr` (+inf gives 0).

        Parameters
        ----------
        log_snr : array_like
            Values of :math:`\lambda` (float64), within the schedule's range
            :math:`[\lambda(1), +\infty]`.

        Returns
        -------
        ndarray or float, float64

        Raises
        ------
        ValueError
            If a value is NaN or below :math:`\lambda(1)` (never reached).

        Notes
        -----
        Accuracy: ``time_at(log_snr(t))`` is within {time_at} eps of t
        (eps = 2**-52), absolutely, for every schedule (checked over t in
        [0, 1]); 0 and 1 exactly at the ends.
        """
        owner = self._owner("time_at")
        lam = np.asarray(log_snr)
        if lam.dtype.kind not in "iuf":
            raise ValueError(f"{owner}: log_snr must be real numbers, got dtype {lam.dtype}")
        lam = lam.astype(np.float64)
        low = float(self._lam(np.array(1.0)))
        bad = ~(lam >= low)
        if bad.any():
            raise ValueError(f"{owner}: log_snr must be >= log_snr(1) = {low!r}, the schedule's least value; "
                             f"got {float(lam[bad].flat[0])!r}")
        with np.errstate(under="ignore"):      # tiny products added to normal numbers
            t = np.clip(self._time_at(lam), 0.0, 1.0)
        t = np.where(lam == np.inf, 0.0, np.where(lam == -np.inf, 1.0, t))     # the ends, exactly
        return t[()] if t.ndim == 0 else t

    def _time_at(self, lam: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def betas(self, steps: int, max_beta: float = 1.0) -> np.ndarray:
        r"""The discrete schedule of DDPM for `steps` steps:
        :math:`\beta_i = 1 - \bar\alpha(i/T)/\bar\alpha((i-1)/T)`, i = 1 ... T.

        Their cumulative products :math:`\prod_{j \le i}(1 - \beta_j)` are
        the continuous :math:`\bar\alpha(i/T)`.  Computed from the identity
        :math:`\sigma(a) - \sigma(b) = \sigma(a)\sigma(-b)(1 - e^{-(a-b)})`,
        :math:`\beta_i = \sigma(-\lambda_i)(1 - e^{-(\lambda_{i-1} - \lambda_i)})`:
        a product, never the difference of two nearly equal
        :math:`\bar\alpha`.

        Parameters
        ----------
        steps : int
            T, at least 1.
        max_beta : float, default 1.0
            Clip the betas at this value in (0, 1].  Nichol & Dhariwal
            (2021) clip the cosine schedule's at 0.999, so that
            :math:`\bar\alpha_T > 0`; with the default 1 nothing is clipped
            and a schedule ending in pure noise has :math:`\beta_T = 1`.

        Returns
        -------
        ndarray of shape (steps,), float64

        Raises
        ------
        ValueError
            If `steps` is not an int >= 1, or `max_beta` is not in (0, 1].
        """
        owner = self._owner("betas")
        n = _count(owner, "steps", steps, 1)
        cap = _real(owner, "max_beta", max_beta)
        if not 0 < cap <= 1:
            raise ValueError(f"{owner}: max_beta must be in (0, 1], got {max_beta!r}")
        return np.minimum(self._betas(n), cap)

    def _betas(self, n: int) -> np.ndarray:
        lam = self._lam(np.arange(n + 1) / n)
        gap = lam[:-1] - lam[1:]                # > 0: lambda decreases; inf at i = 1
        with np.errstate(invalid="ignore"):     # inf - inf where both ends are infinite (n = 1): beta = 1
            b = _core.sigmoid(-lam[1:]) * -np.expm1(-gap)
        return np.where(np.isnan(b), 1.0, b)

    def __call__(self, t):
        """``(alpha_bar(t), log_snr(t))``."""
        x, dt = _times(self._owner("__call__"), t)
        lam = self._lam(x)
        return _cast(_core.sigmoid(lam), dt), _cast(lam, dt)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._params()})"

    def _params(self) -> str:
        return ""

    def __eq__(self, other):
        return type(other) is type(self) and self._params() == other._params()

    def __hash__(self):
        return hash((type(self).__name__, self._params()))


class LinearSchedule(NoiseSchedule):
    r"""The linear noise schedule of DDPM, in continuous time.

    Ho et al., 2020, "Denoising Diffusion Probabilistic Models", in the
    continuous time of Song et al., 2021, "Score-Based Generative Modeling
    through Stochastic Differential Equations" (the VP SDE).

    The noise rate grows linearly, :math:`\beta(t) = \beta_{min} + t(\beta_{max} - \beta_{min})`, so

    .. math::
        \bar\alpha(t) = e^{-I(t)}, \quad I(t) = \beta_{min} t + \tfrac12(\beta_{max} - \beta_{min}) t^2,
        \qquad \lambda(t) = -I(t) - \log(1 - e^{-I(t)}),

    the last logarithm by ``expm1`` or ``log1p`` on either side of
    :math:`I = \log 2`, so that neither end cancels.  With the defaults and
    T = 1000 the discrete betas are within 2.1e-4 of DDPM's
    ``linspace(1e-4, 0.02, 1000)`` and the cumulative products within
    8.2e-4 of DDPM's (:math:`\bar\alpha(1)` = 4.3e-5 against 4.0e-5).

    Parameters
    ----------
    beta_min, beta_max : float, default 0.1 and 20.0
        :math:`0 \le \beta_{min} < \beta_{max}`, finite (the rates per unit
        time: T times DDPM's per-step betas).

    Raises
    ------
    ValueError
        If a parameter is not finite, beta_min < 0, or beta_min >= beta_max.

    Notes
    -----
    {accuracy}

    :math:`\bar\alpha(1) = e^{-(\beta_{min} + \beta_{max})/2} = 4.3 \cdot
    10^{-5}` with the defaults: this schedule stops short of pure noise.
    The inverse (:meth:`time_at`): :math:`I = \operatorname{softplus}(-\lambda)`,
    then the positive root of the quadratic.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.diffusion import LinearSchedule
    >>> s = LinearSchedule()
    >>> s.log_snr(np.array([0.0, 1e-12, 0.5, 1.0]))
    array([         inf,  29.93360621,  -2.45513547, -10.04995681])
    >>> float(s.noise_variance(1e-12))      # 1 - alpha_bar(t) = sigma(-lambda): all digits
    1.0000000000994504e-13
    >>> float(1 - s.alpha_bar(1e-12))       # the subtraction keeps three
    1.000310945187266e-13
    """

    name = "linear"

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0):
        owner = "LinearSchedule"
        self.beta_min = _real(owner, "beta_min", beta_min, nonnegative=True)
        self.beta_max = _real(owner, "beta_max", beta_max)
        if not self.beta_min < self.beta_max:
            raise ValueError(f"{owner}: beta_min must be < beta_max, got beta_min={beta_min!r}, "
                             f"beta_max={beta_max!r}")

    def _params(self):
        return f"beta_min={self.beta_min!r}, beta_max={self.beta_max!r}"

    def _integral(self, t):
        return t * (self.beta_min + 0.5 * (self.beta_max - self.beta_min) * t)

    def _log_snr(self, t):
        # lambda = log(e^-I / (1 - e^-I)) = -I - log(1 - e^-I); +inf at I = 0.  I = t g(t) with
        # g = beta_min + (beta_max - beta_min) t / 2, or for beta_min = 0, I = t^2 (beta_max / 2)
        i = self._integral(t)
        if self.beta_min > 0:
            return -i - _log1mexp_of_product(t, self.beta_min + 0.5 * (self.beta_max - self.beta_min) * t)
        k = 0.5 * self.beta_max
        small = t < 1e-140                      # t^2 would be subnormal: log I = log k + 2 log t
        with np.errstate(divide="ignore"):      # t = 0: -inf, intended
            return -i - np.where(small, math.log(k) + 2 * np.log(np.where(small, t, 1.0)),
                                 _log1mexp(k * np.where(small, 1.0, t) ** 2))

    def _time_at(self, lam):
        # e^-lambda = e^I - 1, so I = log(1 + e^-lambda) = softplus(-lambda); then
        # beta_min t + (beta_max - beta_min) t^2 / 2 = I, its positive root written without cancellation
        i = _core.softplus(-lam)
        d = self.beta_max - self.beta_min
        root = self.beta_min + np.sqrt(self.beta_min ** 2 + 2 * d * i)
        return np.where(i > 0, 2 * i / np.where(i > 0, root, 1.0), 0.0)      # i = 0: lambda = +inf, t = 0

    def _betas(self, n):
        # I(i/T) - I((i-1)/T) = beta_min / T + (beta_max - beta_min) (2i - 1) / (2 T^2): no difference formed
        i = np.arange(1, n + 1)
        gap = self.beta_min / n + (self.beta_max - self.beta_min) * (2 * i - 1) / (2.0 * n * n)
        return -np.expm1(-gap)


class CosineSchedule(NoiseSchedule):
    r"""The cosine noise schedule of improved DDPM.

    Nichol & Dhariwal, 2021, "Improved Denoising Diffusion Probabilistic
    Models":

    .. math::
        \bar\alpha(t) = \frac{\cos^2\bigl(\tfrac{\pi}{2}\tfrac{t + s}{1 + s}\bigr)}
                             {\cos^2\bigl(\tfrac{\pi}{2}\tfrac{s}{1 + s}\bigr)},

    computed as :math:`\lambda(t) = 2\log\sin(a(1 - t)) - \log\sin(at) - \log\sin(a(t + 2s))`
    with :math:`a = \pi / (2(1 + s))`, from :math:`\cos(\pi/2 - x) = \sin x`
    and :math:`\cos^2 u - \cos^2 v = \sin(v - u)\sin(v + u)`: each sine of an
    argument in :math:`[0, \pi/2]`, no cosine of a number near
    :math:`\pi/2` and no subtraction of nearly equal values.

    Parameters
    ----------
    s : float, default 0.008
        The offset that keeps :math:`\beta` from vanishing at t = 0; finite, >= 0.

    Raises
    ------
    ValueError
        If `s` is negative or not finite.

    Notes
    -----
    {accuracy}

    :math:`\bar\alpha(1) = 0`: the schedule ends in pure noise, where an
    :math:`\varepsilon`-prediction cannot be inverted (see
    :func:`ddpm_sample`).  Nichol & Dhariwal clip the discrete betas at
    0.999 (``betas(T, max_beta=0.999)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.diffusion import CosineSchedule
    >>> s = CosineSchedule()
    >>> s.log_snr(np.array([0.0, 0.5, 1 - 1e-9, 1.0]))
    array([            inf, -2.46268828e-02, -4.05591472e+01,            -inf])
    >>> float(s.alpha_bar(1 - 1e-9))        # the cosine of a number near pi/2 would lose 7 digits
    2.4287687356537686e-18
    """

    name = "cosine"

    def __init__(self, s: float = 0.008):
        self.s = _real("CosineSchedule", "s", s, nonnegative=True)
        self._a = math.pi / (2 * (1 + self.s))

    def _params(self):
        return f"s={self.s!r}"

    def _log_snr(self, t):
        a, s = self._a, self.s
        # log sin 0: lambda = +inf at t = 0 and -inf at t = 1
        return 2 * _log_sin_of_product(a, 1 - t) - _log_sin_of_product(a, t) - _log_sin_of_product(a, t + 2 * s)

    def _time_at(self, lam):
        # with w = a t and k = 2 a s: sin(w) sin(w + k) = p, p = (1 - alpha_bar) cos^2(a s); as a quadratic in
        # tan w, its positive root without cancellation, the discriminant being 4 c^2 alpha_bar (p + sin^2(a s))
        a, s = self._a, self.s
        c, sn = math.cos(a * s), math.sin(a * s)
        p = _core.sigmoid(-lam) * c * c
        den = math.sin(2 * a * s) + 2 * c * np.sqrt(_core.sigmoid(lam) * (p + sn * sn))
        return np.arctan2(2 * p, den) / a       # arctan of the quotient, also where den = 0 (s = 0, t = 1)


class SigmoidSchedule(NoiseSchedule):
    r"""The sigmoid noise schedule, with start, end and temperature tau.

    Jabri, Fleet & Chen, 2022, "Scalable Adaptive Computation for Iterative
    Generation"; Chen, 2023, "On the Importance of Noise Scheduling for
    Diffusion Models", Algorithm 1:

    .. math::
        \bar\alpha(t) = \gamma(t) = \frac{v_e - \sigma(z(t))}{v_e - v_s}, \quad
        z(t) = \frac{t(e - s) + s}{\tau}, \quad v_s = \sigma(s/\tau),\ v_e = \sigma(e/\tau),

    with start s, end e and temperature :math:`\tau`.  Both
    :math:`\gamma` and :math:`1 - \gamma` are differences of sigmoids, and
    :math:`\sigma(a) - \sigma(b) = \sigma(a)\sigma(-b)(1 - e^{-(a-b)})` turns
    them into products; with :math:`\log\sigma(z) - \log\sigma(-z) = z`,

    .. math::
        \lambda(t) = -z + \log\sigma(e/\tau) - \log\sigma(-s/\tau)
                     + \log\bigl(1 - e^{-(1-t)(e-s)/\tau}\bigr) - \log\bigl(1 - e^{-t(e-s)/\tau}\bigr),

    evaluated with this library's ``log_sigmoid``; :math:`(1 - t)(e - s)`
    and :math:`t(e - s)` are formed directly, never as differences of
    :math:`z`.

    Parameters
    ----------
    start, end : float, default -3.0 and 3.0
        Where the sigmoid is cut, start < end (Chen's defaults; Chen also
        uses start = 0, end = 3).
    tau : float, default 1.0
        The temperature, > 0.  Where start = -end, :math:`\lambda(1/2) = 0`
        whatever :math:`\tau`, which then sets how steeply the SNR falls
        there; otherwise :math:`\tau` also moves the time at which
        :math:`\lambda = 0` (:meth:`time_at`).

    Raises
    ------
    ValueError
        If a parameter is not finite, start >= end, or tau <= 0.

    Notes
    -----
    {accuracy}

    Chen clips :math:`\gamma` at 1e-9 from below; here nothing is
    clipped: :math:`\bar\alpha(1) = 0`, :math:`\lambda(1) = -\infty`.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.diffusion import SigmoidSchedule
    >>> s = SigmoidSchedule(start=0.0, end=3.0, tau=0.5)
    >>> s.log_snr(np.array([0.0, 0.5, 1.0]))
    array([       inf, -2.3093285,       -inf])
    >>> float(s.time_at(0.0))               # where the SNR crosses 1
    0.18200490905869346
    """

    name = "sigmoid"

    def __init__(self, start: float = -3.0, end: float = 3.0, tau: float = 1.0):
        owner = "SigmoidSchedule"
        self.start = _real(owner, "start", start)
        self.end = _real(owner, "end", end)
        self.tau = _real(owner, "tau", tau, positive=True)
        if not self.start < self.end:
            raise ValueError(f"{owner}: start must be < end, got start={start!r}, end={end!r}")
        self._span = (self.end - self.start) / self.tau
        if not math.isfinite(self._span):
            raise ValueError(f"{owner}: (end - start) / tau overflows: start={start!r}, end={end!r}, tau={tau!r}")
        self._t0 = -self.start / (self.end - self.start)
        # log sigma(e / tau) - log sigma(-s / tau): the constant part of lambda
        self._c = float(_core.log_sigmoid(self.end / self.tau) - _core.log_sigmoid(-self.start / self.tau))

    def _params(self):
        return f"start={self.start!r}, end={self.end!r}, tau={self.tau!r}"

    def _log_snr(self, t):
        # z = (t - t0) span, t0 = -start / (end - start) the time where z = 0: exact for t near t0 when t0
        # is a float (1/2 for start = -end, 0 for start = 0), where t (end - start) + start would round
        z = (t - self._t0) * self._span
        # lambda = log(v_e - sigma(z)) - log(sigma(z) - v_s), each difference of sigmoids as a product
        return -z + self._c + _log1mexp_of_product(1 - t, self._span) - _log1mexp_of_product(t, self._span)

    def _time_at(self, lam):
        # sigma(z) = v_s + (1 - alpha_bar)(v_e - v_s) and sigma(-z) = sigma(-e/tau) + alpha_bar (v_e - v_s):
        # sums of non-negative terms, v_e - v_s = sigma(e/tau) sigma(-s/tau) (1 - e^-span) a product; then
        # z = log sigma(z) - log sigma(-z)
        e, st = self.end / self.tau, self.start / self.tau
        width = float(_core.sigmoid(e) * _core.sigmoid(-st) * -math.expm1(-self._span))
        p = _core.sigmoid(st) + _core.sigmoid(-lam) * width
        q = _core.sigmoid(-e) + _core.sigmoid(lam) * width
        return (np.log(p) - np.log(q)) / self._span + self._t0


_SCHEDULES = {"linear": LinearSchedule, "cosine": CosineSchedule, "sigmoid": SigmoidSchedule}

NoiseSchedule.time_at.__doc__ = NoiseSchedule.time_at.__doc__.replace("{time_at}", str(_TIME_AT))
for _cls in _SCHEDULES.values():        # the Accuracy paragraph, from the one table of bounds
    _cls.__doc__ = _cls.__doc__.replace("{accuracy}", _schedule_text(_cls.name).replace("\n", "\n    "))
del _cls


def get_schedule(schedule, **params) -> NoiseSchedule:
    """A noise schedule by name, or a NoiseSchedule returned as is.

    The names: "linear", "cosine", "sigmoid", with the schedule's
    parameters as keywords.

    Parameters
    ----------
    schedule : str or NoiseSchedule
    **params
        The schedule's parameters (only with a name).

    Returns
    -------
    NoiseSchedule

    Raises
    ------
    ValueError
        For an unknown name, or parameters given with a schedule object.
    TypeError
        If `schedule` is neither a name nor a NoiseSchedule.

    Examples
    --------
    >>> from sigmoid.diffusion import get_schedule
    >>> get_schedule("sigmoid", start=0.0, end=3.0, tau=0.7)
    SigmoidSchedule(start=0.0, end=3.0, tau=0.7)
    """
    if isinstance(schedule, NoiseSchedule):
        if params:
            raise ValueError(f"get_schedule: parameters {sorted(params)} given with a schedule object {schedule!r}")
        return schedule
    if isinstance(schedule, str):
        if schedule not in _SCHEDULES:
            raise ValueError(f"get_schedule: unknown schedule {schedule!r}; choose from "
                             f"{', '.join(map(repr, _SCHEDULES))}")
        return _SCHEDULES[schedule](**params)
    raise TypeError(f"get_schedule: schedule must be a name or a NoiseSchedule, got {type(schedule).__name__}")


# ----------------------------------------------------------- training times

class UniformTimesteps:
    """Training times drawn uniformly from [0, 1).

    DDPM's uniform choice of step (Ho et al., 2020), in continuous time:
    the density :math:`p(t) = 1` on [0, 1].

    Examples
    --------
    >>> from sigmoid.diffusion import UniformTimesteps
    >>> t = UniformTimesteps().sample(5, random_state=0)
    >>> t.shape, bool(((t >= 0) & (t < 1)).all())
    ((5,), True)
    """

    name = "uniform"

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """n times, shape (n,), float64.  `random_state`: None, an int seed
        or a ``numpy.random.Generator`` (used as is)."""
        n = _count(f"{type(self).__name__}.sample", "n", n, 0)
        return np.random.default_rng(random_state).random(n)

    def pdf(self, t):
        """The density on [0, 1]: 1."""
        x, dt = _times(f"{type(self).__name__}.pdf", t)
        return _cast(np.ones_like(x), dt)

    def __repr__(self):
        return "UniformTimesteps()"


class LogitNormalTimesteps:
    r"""Logit-normal training times: t = sigma(u), u normal with mean m and std s.

    :math:`t = \sigma(u)`, :math:`u \sim N(m, s^2)` (Esser et al., 2024,
    "Scaling Rectified Flow Transformers for High-Resolution Image
    Synthesis", Stable Diffusion 3).

    The density on (0, 1),

    .. math::
        p(t) = \frac{1}{s\sqrt{2\pi}}\,\frac{1}{t(1 - t)}
               \exp\Bigl(-\frac{(\operatorname{logit}(t) - m)^2}{2 s^2}\Bigr),

    puts more of training in the middle of the trajectory than the uniform
    one (for m = 0, s = 1, 73 % of the times fall in [1/4, 3/4] against
    50 %).  For the rectified flow :math:`x_t = (1 - t)x_0 + t\varepsilon`
    the log-SNR is :math:`-2\operatorname{logit}(t) = -2u`: logit-normal
    times are normally distributed log-SNRs.

    Parameters
    ----------
    mean : float, default 0.0
        m, finite; m > 0 leans towards noise (t near 1).
    std : float, default 1.0
        s, finite and > 0.

    Raises
    ------
    ValueError
        If mean or std is not finite, or std <= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid import logit
    >>> from sigmoid.diffusion import LogitNormalTimesteps
    >>> t = LogitNormalTimesteps(mean=0.5, std=1.0).sample(100_000, random_state=0)
    >>> u = logit(t)
    >>> round(float(u.mean()), 2), round(float(u.std()), 2)
    (0.5, 1.0)
    """

    name = "logit_normal"

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        self.mean = _real("LogitNormalTimesteps", "mean", mean)
        self.std = _real("LogitNormalTimesteps", "std", std, positive=True)

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """n times sigma(m + s z), z standard normal: shape (n,), float64,
        in [0, 1] (exactly 0 or 1 only for abs(u) > 36, once in 1e280 draws
        for the defaults)."""
        n = _count("LogitNormalTimesteps.sample", "n", n, 0)
        u = self.mean + self.std * np.random.default_rng(random_state).standard_normal(n)
        return _core.sigmoid(u)

    def pdf(self, t):
        """The density p(t) above; 0 at t = 0 and t = 1."""
        x, dt = _times("LogitNormalTimesteps.pdf", t)
        inside = (x > 0) & (x < 1)
        xs = np.where(inside, x, 0.5)
        z = (_core.logit(xs) - self.mean) / self.std
        with np.errstate(under="ignore"):          # far tails: the density is 0 to float64
            p = np.exp(-0.5 * z * z) / (self.std * math.sqrt(2 * math.pi) * xs * (1 - xs))
        return _cast(np.where(inside, p, 0.0), dt)

    def __repr__(self):
        return f"LogitNormalTimesteps(mean={self.mean!r}, std={self.std!r})"


# ------------------------------------------------------------------- samplers

def _check_start(owner: str, x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype not in (np.float32, np.float64):
        raise ValueError(f"{owner}: x must be a float32 or float64 array of starting noise, got dtype {a.dtype}")
    if a.ndim < 1 or a.shape[0] < 1:
        raise ValueError(f"{owner}: x must have shape (n, ...) with n >= 1, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{owner}: x contains nan or inf")
    return a


def _grid(owner: str, steps, t_max) -> np.ndarray:
    n = _count(owner, "steps", steps, 1)
    top = _real(owner, "t_max", t_max)
    if not 0 < top <= 1:
        raise ValueError(f"{owner}: t_max must be in (0, 1], got {t_max!r}")
    return top * np.arange(n, -1, -1) / n          # t_max, ..., 0: n steps


def _clip_bounds(owner: str, clip_denoised):
    if clip_denoised is None:
        return None
    if isinstance(clip_denoised, tuple) and len(clip_denoised) == 2:
        lo, hi = (np.asarray(v, np.float64) for v in clip_denoised)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all() and np.all(lo < hi)):
            raise ValueError(f"{owner}: clip_denoised (low, high) must be finite with low < high")
        return lo, hi
    c = _real(owner, "clip_denoised", clip_denoised, positive=True)
    return -c, c


def _predict(owner: str, model, x: np.ndarray, t: float, what: str) -> np.ndarray:
    out = np.asarray(model(x, np.full(x.shape[0], t)))
    if out.shape != x.shape:
        raise ValueError(f"{owner}: the model returned shape {out.shape} for x of shape {x.shape}; "
                         f"it must predict {what} of x's shape")
    if not np.isfinite(out).all():
        raise FloatingPointError(f"{owner}: the model's prediction at t = {t!r} is not finite")
    return out.astype(np.float64, copy=False)


def _eps_steps(owner, model, x, schedule, steps, t_max, clip_denoised, step):
    """The loop the epsilon samplers share: x0 from the model's epsilon at
    each time s of the grid, then ``step(x, x0, eps, coefficients)`` to the
    next time r."""
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"{owner}: schedule must be a NoiseSchedule (e.g. CosineSchedule()), "
                        f"got {type(schedule).__name__}")
    x = _check_start(owner, x)
    grid = _grid(owner, steps, t_max)
    bounds = _clip_bounds(owner, clip_denoised)
    lam = schedule.log_snr(grid)
    if not lam[0] > -np.inf:
        raise ValueError(f"{owner}: alpha_bar(t_max) = 0 for {schedule!r} at t_max = {grid[0]!r}: an epsilon "
                         f"prediction cannot be turned into x0 where there is no signal; start below it, e.g. "
                         f"t_max=schedule.time_at(-10.0)")
    a, s = schedule.scales(grid)
    dtype = x.dtype
    x = x.astype(np.float64)
    for i in range(len(grid) - 1):
        eps = _predict(owner, model, x.astype(dtype), float(grid[i]), "the noise epsilon")
        x0 = (x - s[i] * eps) / a[i]
        if bounds is not None:
            x0 = np.clip(x0, *bounds)
            eps = (x - a[i] * x0) / s[i]        # the noise consistent with the clipped x0
        # c = 1 - SNR(r) ... : the share of the noise at s that the step to r removes, 1 - e^(lambda_s - lambda_r)
        c = -math.expm1(lam[i] - lam[i + 1])
        x = step(x, x0, eps, a[i + 1], s[i + 1], lam[i] - lam[i + 1], c, last=i == len(grid) - 2)
    return x.astype(dtype)


def ddpm_sample(model, x, schedule: NoiseSchedule, steps: int, *, random_state=None, t_max: float = 1.0,
                clip_denoised=None) -> np.ndarray:
    r"""Ancestral sampling of DDPM for a network that predicts the noise.

    Ho et al., 2020, Algorithm 2, on a grid of `steps` equal time steps
    from `t_max` to 0.

    From time s to r < s, with :math:`\hat x_0 = (x_s - \sigma_s\hat\varepsilon)/\alpha_s`
    and :math:`c = 1 - e^{\lambda_s - \lambda_r}` (the posterior
    :math:`q(x_r \mid x_s, x_0)`, Kingma et al., 2021, "Variational
    Diffusion Models"),

    .. math::
        x_r = \alpha_r e^{\lambda_s - \lambda_r}\frac{x_s}{\alpha_s} + \alpha_r c\,\hat x_0
              + \sqrt{c}\,\sigma_r z, \qquad z \sim N(0, I),

    which for the grid i/T of :meth:`NoiseSchedule.betas` is Ho et al.'s
    step :math:`\tfrac{1}{\sqrt{1-\beta_t}}(x_t - \tfrac{\beta_t}{\sqrt{1-\bar\alpha_t}}\hat\varepsilon) + \tilde\beta_t^{1/2} z`
    with the posterior variance :math:`\tilde\beta_t`.  The last step (to
    r = 0) returns :math:`\hat x_0`, without noise.

    Parameters
    ----------
    model : callable
        ``model(x, t)`` for x of shape (n, ...) and t of shape (n,)
        (float64, all equal) returns :math:`\hat\varepsilon` of x's shape.
    x : ndarray, float32 or float64, shape (n, ...)
        The starting noise, :math:`x \sim N(0, I)`.  Not modified.
    schedule : NoiseSchedule
    steps : int
        Number of steps, >= 1 (one step returns :math:`\hat x_0` at once).
    random_state : None, int or numpy.random.Generator
        The noise z of each step.
    t_max : float, default 1.0
        The first time, in (0, 1]; :math:`\bar\alpha(t_{max})` must be > 0.
    clip_denoised : None, float c > 0 or (low, high)
        Clip :math:`\hat x_0` to [-c, c] (or [low, high], broadcast over
        the last axes) before each step, as DDPM does for images in
        [-1, 1]; the noise estimate is then recomputed from the clipped
        :math:`\hat x_0`.

    Returns
    -------
    ndarray of x's shape and dtype
        (computed in float64; the model is called with x's dtype.)

    Raises
    ------
    ValueError
        If steps < 1, t_max is not in (0, 1], :math:`\bar\alpha(t_{max}) = 0`,
        x is not a float array of shape (n, ...) or not finite, or the model
        returns another shape.
    TypeError
        If schedule is not a NoiseSchedule.
    FloatingPointError
        If the model returns nan or inf.

    Examples
    --------
    With the exact noise predictor of a point mass at 0.5, one step lands on it:

    >>> import numpy as np
    >>> from sigmoid.diffusion import LinearSchedule, ddpm_sample
    >>> sch = LinearSchedule()
    >>> def eps(x, t):
    ...     a, s = sch.scales(t[:, None])
    ...     return (x - a * 0.5) / s
    >>> x1 = np.random.default_rng(0).standard_normal((3, 2))
    >>> ddpm_sample(eps, x1, sch, steps=1)
    array([[0.5, 0.5],
           [0.5, 0.5],
           [0.5, 0.5]])
    """
    owner = "ddpm_sample"
    rng = np.random.default_rng(random_state)

    def step(x, x0, eps, a_r, s_r, gap, c, last):
        return _posterior_step(x, x0, eps, a_r, s_r, gap, c, last, rng, eta=1.0)

    return _eps_steps(owner, model, x, schedule, steps, t_max, clip_denoised, step)


def _posterior_step(x, x0, eps, a_r, s_r, gap, c, last, rng, eta):
    r"""One DDIM step with :math:`\eta` (Song et al., 2021, eq. 12): x_r =
    alpha_r x0 + sqrt(sigma_r^2 - s^2) eps + s z, s^2 = eta^2 c sigma_r^2.
    eta = 1 is DDPM's ancestral step with the posterior variance: its mean
    alpha_r x0 + sigma_r e^(gap/2) eps is the posterior mean written with
    the noise consistent with x0."""
    if last:
        return x0
    keep = (1 - eta * eta) + eta * eta * math.exp(gap)      # 1 - eta^2 c, as a sum of non-negative terms
    out = a_r * x0 + s_r * math.sqrt(keep) * eps
    if eta > 0:
        out += eta * math.sqrt(c) * s_r * rng.standard_normal(x.shape)
    return out


def ddim_sample(model, x, schedule: NoiseSchedule, steps: int, *, eta: float = 0.0, random_state=None,
                t_max: float = 1.0, clip_denoised=None) -> np.ndarray:
    r"""DDIM sampling for a network that predicts the noise; deterministic for eta = 0.

    Song, Meng & Ermon, 2021, "Denoising Diffusion Implicit Models".

    From time s to r < s, with :math:`\hat x_0 = (x_s - \sigma_s\hat\varepsilon)/\alpha_s`
    and :math:`c = 1 - e^{\lambda_s - \lambda_r}`,

    .. math::
        x_r = \alpha_r\hat x_0 + \sqrt{\sigma_r^2 - \eta^2 c\,\sigma_r^2}\;\hat\varepsilon
              + \eta\sqrt{c}\,\sigma_r z;

    :math:`\eta = 0` follows the probability-flow ODE (the exponential
    integrator of Lu et al., 2022), :math:`\eta = 1` is :func:`ddpm_sample`
    step for step (same noise draws, same result).

    Parameters
    ----------
    model, x, schedule, steps, t_max, clip_denoised
        As for :func:`ddpm_sample`.
    eta : float, default 0.0
        In [0, 1].
    random_state : None, int or numpy.random.Generator
        Used only when eta > 0.

    Returns
    -------
    ndarray of x's shape and dtype

    Raises
    ------
    ValueError, TypeError, FloatingPointError
        As for :func:`ddpm_sample`; ValueError also for eta outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.diffusion import CosineSchedule, ddim_sample
    >>> sch = CosineSchedule()
    >>> def eps(x, t):                      # the exact predictor for data at +-1 with equal weights
    ...     a, s = sch.scales(t[:, None])
    ...     return (x - a * np.tanh(a * x / s**2)) / s
    >>> x1 = np.array([[-0.3], [0.2], [1.5]])
    >>> ddim_sample(eps, x1, sch, steps=100, t_max=0.99).round(3)
    array([[-1.],
           [ 1.],
           [ 1.]])
    """
    owner = "ddim_sample"
    e = _real(owner, "eta", eta)
    if not 0 <= e <= 1:
        raise ValueError(f"{owner}: eta must be in [0, 1], got {eta!r}")
    rng = np.random.default_rng(random_state) if e > 0 else None

    def step(x, x0, eps, a_r, s_r, gap, c, last):
        return _posterior_step(x, x0, eps, a_r, s_r, gap, c, last, rng, eta=e)

    return _eps_steps(owner, model, x, schedule, steps, t_max, clip_denoised, step)


def euler_sample(model, x, steps: int, *, t_max: float = 1.0) -> np.ndarray:
    r"""Euler's method for a flow, from noise at t_max to data at 0.

    Integrates :math:`dx/dt = \hat v(x, t)` in `steps` equal steps,
    :math:`x_r = x_s + (r - s)\hat v(x_s, s)`.

    For the rectified flow (Liu et al., 2023, "Flow Straight and Fast";
    Lipman et al., 2023, "Flow Matching for Generative Modeling")
    :math:`x_t = (1 - t)x_0 + t\varepsilon` and the network predicts the
    velocity :math:`v = \varepsilon - x_0`; the paths of the exact
    velocity field are straight where one data point explains x, and a
    single step then lands on it.

    Parameters
    ----------
    model : callable
        ``model(x, t)`` returns :math:`\hat v` of x's shape.
    x : ndarray, float32 or float64, shape (n, ...)
        The starting noise at t_max.  Not modified.
    steps : int
        >= 1.
    t_max : float, default 1.0
        In (0, 1].

    Returns
    -------
    ndarray of x's shape and dtype

    Raises
    ------
    ValueError
        If steps < 1, t_max is not in (0, 1], x is not a finite float array
        of shape (n, ...), or the model returns another shape.
    FloatingPointError
        If the model returns nan or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.diffusion import euler_sample
    >>> def v(x, t):                        # the exact velocity towards a point mass at 2
    ...     return (x - 2.0) / t[:, None]
    >>> euler_sample(v, np.array([[0.3], [-1.0]]), steps=1)
    array([[2.],
           [2.]])
    """
    owner = "euler_sample"
    x = _check_start(owner, x)
    grid = _grid(owner, steps, t_max)
    dtype = x.dtype
    x = x.astype(np.float64)
    for i in range(len(grid) - 1):
        v = _predict(owner, model, x.astype(dtype), float(grid[i]), "the velocity")
        x = x + (grid[i + 1] - grid[i]) * v
    return x.astype(dtype)


# ------------------------------------------------------------ judging samples

def _points(owner: str, name: str, v) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind not in "iuf" or a.ndim not in (1, 2) or a.shape[0] < 1 or (a.ndim == 2 and a.shape[1] < 1):
        raise ValueError(f"{owner}: {name} must be a non-empty real array of shape (n,) or (n, d), "
                         f"got shape {a.shape} and dtype {a.dtype}")
    a = a.astype(np.float64).reshape(a.shape[0], -1)
    if not np.isfinite(a).all():
        raise ValueError(f"{owner}: {name} contains nan or inf")
    return a


def _mean_distance(x: np.ndarray, y: np.ndarray, block: int = 256) -> float:
    """The mean of |x_i - y_j| over all pairs (differences formed directly,
    not from |x|^2 + |y|^2 - 2 x.y, which cancels for near points)."""
    total = 0.0
    yt = np.ascontiguousarray(y.T)
    for i in range(0, x.shape[0], block):
        xb = x[i:i + block]
        d2 = np.subtract.outer(xb[:, 0], yt[0])
        d2 *= d2
        for k in range(1, x.shape[1]):          # one coordinate at a time: no (block, m, d) array
            dk = np.subtract.outer(xb[:, k], yt[k])
            dk *= dk
            d2 += dk
        total += float(np.sqrt(d2, out=d2).sum())
    return total / (x.shape[0] * y.shape[0])


def energy_distance(x, y) -> float:
    r"""The energy distance between two samples of points.

    Szekely & Rizzo, 2013, "Energy statistics: A class of statistics based
    on distances":

    .. math::
        D(X, Y) = \bigl(2\,\overline{|x - y|} - \overline{|x - x'|} - \overline{|y - y'|}\bigr)^{1/2},

    each bar the mean Euclidean distance over all pairs of the samples (the
    V-statistic: pairs of a point with itself included).  :math:`D^2` is the
    squared maximum mean discrepancy with the kernel
    :math:`k(a, b) = |a| + |b| - |a - b|`, a proper metric on
    distributions: it is 0 only for equal distributions, and between two
    independent samples of one distribution it is small but positive
    (about :math:`(\overline{|x - x'|}/n)^{1/2}`), which is the floor a
    generated sample can be judged against.  In one dimension it equals
    ``scipy.stats.energy_distance``.

    Parameters
    ----------
    x, y : array_like, shape (n,) or (n, d), and (m,) or (m, d)
        Real, finite, non-empty, the same d.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For empty, non-finite, non-real or mis-shaped samples, or different d.

    Notes
    -----
    Costs n m + n^2 + m^2 distances, in blocks of 256 rows (memory 256 max(n,
    m) floats).

    Examples
    --------
    >>> import numpy as np
    >>> from sigmoid.diffusion import energy_distance
    >>> energy_distance([0.0, 1.0], [0.0, 1.0])
    0.0
    >>> round(energy_distance([[0.0, 0.0]], [[3.0, 4.0]]), 6)          # sqrt(2 * 5)
    3.162278
    """
    owner = "energy_distance"
    a, b = _points(owner, "x", x), _points(owner, "y", y)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{owner}: x has {a.shape[1]} features per point and y {b.shape[1]}")
    d2 = 2 * _mean_distance(a, b) - _mean_distance(a, a) - _mean_distance(b, b)
    return math.sqrt(max(d2, 0.0))
