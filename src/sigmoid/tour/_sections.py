"""The sections of the tour: each measures one family of claims about sigma
with this library and draws it.  Every function takes ``quick`` (seconds
instead of a minute) and returns a :class:`Section`.

Every claim is decided by a verdict of :mod:`._report` against a reference
that is not the code under test: the exact values below (Python's
:mod:`decimal`), NumPy's own exp and tanh, scikit-learn's metrics, the data,
or a bound stated by the claim.
"""
from __future__ import annotations

import csv
import os
from decimal import Context, Decimal, DivisionByZero, InvalidOperation

import numpy as np

from .. import _core, hard_sigmoid, hard_sigmoid_backward, sigmoid, sigmoid_backward, silu, silu_backward, softmax
from .._accuracy import ufunc_bound
from ._report import (
    Figure,
    Section,
    agrees,
    every,
    faster,
    max_abs_difference,
    meets,
    peak,
    png_of,
    same_points,
    ulp_distance,
    within_ulps,
)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}"


# ------------------------------------------------------------ the references
# Independent of this library.  The exact ones use Python's decimal module (in
# the standard library, so the tour needs nothing more): its exp and ln are
# correctly rounded to the context's precision, and +, -, / round once each.
# The NumPy ones are for claims whose tolerance is far wider than their error.

_PREC = 30      # decimal digits of the first attempt; doubled where undecided


def _context(prec: int) -> Context:
    # exponents to 10^6; beyond, exp overflows quietly to Infinity and 1/(1 + Infinity) = 0 is sigma's limit
    return Context(prec=prec, Emax=10**6, Emin=-10**6, traps=[InvalidOperation, DivisionByZero])


def _sigma(v: float, prec: int) -> Decimal:
    """sigma(v) = 1/(1 + e^-v) for a float v, with relative error below
    2 * 10^(1 - prec): exp is correctly rounded (relative error at most
    half a unit in the last digit, 5 * 10^-prec), and the addition and the
    division add one such rounding each; the error of e^-v enters 1 + e^-v
    scaled by e^-v / (1 + e^-v) < 1, so the three add up to less than
    1.5 * 10^(1 - prec).  The argument -v is exact (negating a float is)."""
    c = _context(prec)
    return c.divide(1, c.add(1, c.exp(Decimal(-v))))


def _round_float32(s: Decimal, margin: Decimal, c: Context) -> np.float32 | None:
    """The float32 nearest `s` (ties to even), or None when `s` lies within
    `margin` of a rounding midpoint.  The first guess rounds twice (to
    float64, then to float32) and may be a float off; the midpoints to a
    guess's neighbours are exact in float64 (25 significant bits at most),
    and the differences to them are rounded by `c`, which keeps their signs.
    Call it under ``np.errstate(under="ignore")``: the neighbours of a
    subnormal are subnormal."""
    r = np.float32(float(s))
    while True:                 # each step moves towards s, so this ends
        lo = (float(r) + float(np.nextafter(r, np.float32(-np.inf)))) / 2
        hi = (float(r) + float(np.nextafter(r, np.float32(np.inf)))) / 2
        below, above = c.subtract(s, Decimal(lo)), c.subtract(Decimal(hi), s)
        if below > margin and above > margin:
            return r
        if below < -margin:
            r = np.nextafter(r, np.float32(-np.inf))
        elif above < -margin:
            r = np.nextafter(r, np.float32(np.inf))
        else:
            return None


def _nearest_float32(v: float, prec: int) -> np.float32:
    """The float32 nearest sigma(v) (ties to even), proven so: the decimal
    value s is at most 2 * 10^(1 - prec) |s| from sigma(v) (see _sigma), and
    is rounded only when it is more than 10^(3 - prec) |s| from every
    rounding midpoint, so that sigma(v) rounds the same way.  Where it is
    that close, the precision is doubled: sigma(v) of a float v != 0 is
    transcendental (Lindemann), never a midpoint, so this ends; sigma(0) =
    1/2 exactly."""
    while True:
        c = _context(prec)
        s = _sigma(v, prec)
        r = _round_float32(s, c.multiply(s, Decimal(10) ** (3 - prec)), c)
        if r is not None:
            return r
        prec *= 2


def exact_sigmoid_float32(x) -> np.ndarray:
    """The correctly rounded float32 sigma of each float32 in `x` (decimal
    arithmetic, about 10 microseconds an element).

    Examples
    --------
    >>> import numpy as np
    >>> exact_sigmoid_float32(np.array([-100.0, 0.0, 17.0, 17.5], np.float32))
    array([3.7835059e-44, 5.0000000e-01, 9.9999994e-01, 1.0000000e+00],
          dtype=float32)
    """
    x = np.asarray(x, np.float32)
    with np.errstate(under="ignore"):           # stepping to subnormal neighbours is intended
        out = np.array([_nearest_float32(v, _PREC) for v in x.ravel().tolist()], np.float32)
    return out.reshape(x.shape)


def exact_sigmoid_of_difference(z1, z2) -> np.ndarray:
    """sigma(z1 - z2) = 1/(1 + e^(z2 - z1)) for float64 arrays: the
    difference to 60 digits, sigma to 30 (relative error below 10^-28 for
    |z1 - z2| < 10^30), then rounded once to float64; 0 or 1 where
    |z1 - z2| > 2.3 * 10^6, as sigma's float64 values are there.

    Examples
    --------
    >>> import numpy as np
    >>> exact_sigmoid_of_difference(np.array([3.0]), np.array([1.0]))
    array([0.88079708])
    """
    z1, z2 = np.broadcast_arrays(np.asarray(z1, np.float64), np.asarray(z2, np.float64))
    c, wide = _context(_PREC), _context(2 * _PREC)
    out = [float(c.divide(1, c.add(1, c.exp(wide.subtract(Decimal(b), Decimal(a))))))
           for a, b in zip(z1.ravel().tolist(), z2.ravel().tolist())]
    return np.array(out, np.float64).reshape(z1.shape)


# (p, q): the precision in bits, and 2^-q the least subnormal
_FORMATS = {np.dtype(np.float32): (24, 149), np.dtype(np.float64): (53, 1074)}


def _float_at_or_above(bound: Decimal, dtype) -> np.floating:
    """The least float of `dtype` >= bound (comparisons of exact decimals)."""
    t = np.dtype(dtype).type
    r = t(float(bound))
    while Decimal(float(r)) < bound:
        r = np.nextafter(r, t(np.inf))
    while Decimal(float(np.nextafter(r, t(-np.inf)))) >= bound:
        r = np.nextafter(r, t(-np.inf))
    return r


def exact_rounding_ends(dtype) -> dict[str, np.floating]:
    """Where the correctly rounded sigma of `dtype` (float32 or float64)
    becomes exactly 1 and exactly 0.

    ``"one"``: the least x with round(sigma(x)) = 1.  With p the precision,
    the float below 1 is 1 - 2^-p and their midpoint 1 - 2^-(p+1) rounds to
    1 (ties to even), so round(sigma(x)) = 1 iff sigma(x) >= 1 - 2^-(p+1)
    iff e^-x <= 1/(2^(p+1) - 1) iff x >= ln(2^(p+1) - 1).

    ``"zero"``: the greatest x with round(sigma(x)) = 0.  With 2^-q the least
    subnormal, the midpoint 2^-(q+1) rounds to 0, so round(sigma(x)) = 0 iff
    1 + e^-x >= 2^(q+1) iff x <= -ln(2^(q+1) - 1).

    Both logarithms are irrational, never a float, and are computed to 60
    digits (more until no float of the type lies within 10^-50 of them).

    Examples
    --------
    >>> import numpy as np
    >>> exact_rounding_ends(np.float32)
    {'one': np.float32(17.32868), 'zero': np.float32(-103.972084)}
    """
    p, q = _FORMATS[np.dtype(dtype)]
    t = np.dtype(dtype).type
    prec = 60
    while True:
        c = _context(prec)
        l_one = c.ln(Decimal(2 ** (p + 1) - 1))
        l_zero = c.minus(c.ln(Decimal(2 ** (q + 1) - 1)))
        one = _float_at_or_above(l_one, dtype)
        # no float equals l_zero (checked below), so the one under the least above it is the greatest below
        zero = np.nextafter(_float_at_or_above(l_zero, dtype), t(-np.inf))
        tiny = Decimal(10) ** -50
        near = [c.abs(c.subtract(Decimal(float(v)), lv)) for v, lv in ((one, l_one), (zero, l_zero),
                (np.nextafter(one, t(-np.inf)), l_one), (np.nextafter(zero, t(np.inf)), l_zero))]
        if min(near) > tiny:
            return {"one": one, "zero": zero}
        prec *= 2


def numpy_sigmoid(x) -> np.ndarray:
    """sigma(x) with NumPy's exp, from e^-|x| (no overflow): relative error
    a few float64 ulps."""
    x = np.asarray(x, np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def numpy_sigmoid_derivative(x) -> np.ndarray:
    """sigma'(x) = e^-|x| / (1 + e^-|x|)^2 with NumPy's exp: relative error a
    few float64 ulps."""
    e = np.exp(-np.abs(np.asarray(x, np.float64)))
    return e / (1 + e) ** 2


# ------------------------------------------------------------------ 1 range

def _first_x(dtype, lo, hi, pred):
    """The smallest x of the type in [lo, hi] with pred(sigma(x)), for a
    predicate that turns from false to true as x grows (bisection on the
    floats' order: their bit patterns mapped to increasing integers); None
    when the predicate does not turn over the interval."""
    ut = np.uint32 if dtype == np.float32 else np.uint64
    sign = 1 << (8 * np.dtype(ut).itemsize - 1)

    def order(v):
        b = int(np.array(v, dtype).view(ut))
        return -(b ^ sign) if b & sign else b

    def value(k):
        return np.array(k if k >= 0 else (-k) | sign, dtype=ut).view(dtype)[()]

    a, b = order(lo), order(hi)
    if not pred(sigmoid(value(b))) or pred(sigmoid(value(a))):
        return None
    while b - a > 1:
        m = (a + b) // 2
        if pred(sigmoid(value(m))):
            b = m
        else:
            a = m
    return value(b)


def _g(v) -> str:
    """The shortest decimal that reads back as the same number of its type."""
    return str(v)


def range_and_derivative(quick: bool) -> Section:
    plt = _plt()
    s = Section("range", "The curve, its range and its 0.25 gradient ceiling",
                "sigma(x) = 1/(1 + e^-x) maps the real line onto (0, 1); its derivative sigma(x) sigma(-x) "
                "peaks at x = 0.  In floating point the ends of the range are reached: the table gives where "
                "this library's sigma becomes exactly 0 and 1, against where the exact sigma, correctly "
                "rounded, does (from ln(2^(p+1) - 1) and the least subnormal, in decimal arithmetic).")
    x = np.linspace(-12, 12, 2401)
    d = sigmoid_backward(x, 1.0)
    s.claims.append(peak("the derivative never exceeds 1/4, reached at x = 0", x, d, 0.25, 0.0))
    ends = {}
    for dt, hi, lo in ((np.float32, (10.0, 40.0), (-120.0, -80.0)), (np.float64, (30.0, 50.0), (-760.0, -700.0))):
        one = _first_x(dt, hi[0], hi[1], lambda v: v == 1)
        # the largest x with sigma(x) == 0: the float below the first one where it is positive
        pos = _first_x(dt, lo[0], lo[1], lambda v: v > 0)
        zero = None if pos is None else np.nextafter(pos, dt(-np.inf))
        ref = exact_rounding_ends(dt)
        ends[np.dtype(dt).name] = ref
        s.claims.append(same_points(f"{np.dtype(dt).name}: sigma rounds to exactly 1 from x = {_g(ref['one'])} "
                                    f"and to exactly 0 at and below x = {_g(ref['zero'])}",
                                    {"this library: sigma = 1 from": (one, ref["one"]),
                                     "sigma = 0 at and below": (zero, ref["zero"])},
                                    "" if one is None or pos is None else
                                    f"; sigma of the float below {_g(one)}: {_g(sigmoid(np.nextafter(one, dt(0))))}, "
                                    f"sigma({_g(pos)}) = {_g(sigmoid(pos))}"))
    s.headline = (f"sigma' at most {_g(d.max())}, at x = 0; float32 sigma = 1 from x = {_g(ends['float32']['one'])}, "
                  f"= 0 at x <= {_g(ends['float32']['zero'])}")
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].plot(x, sigmoid(x), label="sigma(x)")
    ax[0].plot(x, d, label="sigma'(x) = sigma(x) sigma(-x)")
    ax[0].axhline(0.25, ls=":", c="gray")
    ax[0].annotate("0.25 at x = 0", (0, 0.25), (2, 0.4), arrowprops=dict(arrowstyle="->"))
    ax[0].set_xlabel("x")
    ax[0].set_ylabel("value")
    ax[0].legend(loc="upper left", fontsize=8)
    ax[0].set_title("sigma and its derivative")
    xs = np.linspace(-110, 40, 3001)
    ax[1].semilogy(xs, sigmoid(xs.astype(np.float32)).astype(np.float64) + 1e-46, label="float32 sigma(x)")
    ax[1].semilogy(xs, 1 - sigmoid(xs.astype(np.float32)).astype(np.float64) + 1e-46, label="float32 1 - sigma(x)")
    one32, zero32 = ends["float32"]["one"], ends["float32"]["zero"]
    ax[1].axvline(float(one32), ls=":", c="C1")
    ax[1].axvline(float(zero32), ls=":", c="C0")
    ax[1].annotate(f"sigma = 1\nfrom x = {_g(one32)}", (float(one32), 1e-20), (float(one32) - 45, 1e-30),
                   arrowprops=dict(arrowstyle="->"), fontsize=8)
    ax[1].annotate(f"sigma = 0\nat x <= {_g(zero32)}", (float(zero32), 1e-20), (float(zero32) + 12, 1e-12),
                   arrowprops=dict(arrowstyle="->"), fontsize=8)
    ax[1].set_ylim(1e-46, 2)
    ax[1].set_ylabel("value (+ 1e-46 to show 0)")
    ax[1].set_xlabel("x")
    ax[1].legend(fontsize=8)
    ax[1].set_title("float32: where sigma becomes exactly 0 and 1")
    s.figures.append(Figure("range", "Left: sigma(x) and its derivative, which peaks at 0.25 at x = 0. Right: "
                            f"float32 sigma(x) and 1 - sigma(x) on a log scale, down to subnormal values, with "
                            f"the points where sigma becomes exactly 1 (from x = {_g(one32)}) and exactly 0 (at and "
                            f"below x = {_g(zero32)}).", png_of(fig)))
    return s


# -------------------------------------------------------------- 2 relations

def relations(quick: bool) -> Section:
    plt = _plt()
    s = Section("relations", "Relatives: tanh and the two-class softmax",
                "tanh(x) = 2 sigma(2x) - 1, and sigma(z1 - z2) is the first probability of softmax([z1, z2]): "
                "the logistic function is a rescaled tanh and a two-class softmax.")
    rng = np.random.default_rng(0)
    x = np.linspace(-20, 20, 20001 if quick else 400001)
    eps = np.finfo(np.float64).eps
    two_sigma = 2 * sigmoid(2 * x) - 1
    dev_t = np.abs(np.tanh(x) - two_sigma)
    # NumPy's tanh is the reference: within an ulp or two, while the claim's tolerance is 4 eps
    s.claims.append(agrees("tanh(x) = 2 sigma(2x) - 1 (float64, x in [-20, 20])",
                           {"2 sigma(2x) - 1 from NumPy's tanh(x)": (two_sigma, np.tanh(x))}, 4 * eps,
                           f" over {len(x):,} points"))
    # both sides against the exact value 1/(1 + e^(z2 - z1)) (decimal): each could be wrong alone, and a
    # softmax that routed through this sigma would not pass by agreeing with it
    z = rng.standard_normal((10**4 if quick else 10**5, 2)) * 10
    p = softmax(z, axis=1)[:, 0]
    q = sigmoid(z[:, 0] - z[:, 1])
    exact = exact_sigmoid_of_difference(z[:, 0], z[:, 1])
    dev_s = np.abs(p - q)
    s.claims.append(agrees("softmax([z1, z2])[0] = sigma(z1 - z2) (float64, random z)",
                           {"softmax([z1, z2])[0] from the exact value": (p, exact),
                            "sigma(z1 - z2) from the exact value": (q, exact)}, 4 * eps,
                           f"; between the two {_fmt(dev_s.max())}, over {len(z):,} pairs"))
    s.headline = (f"max |difference| in eps: tanh {_fmt(dev_t.max() / eps)}, two-class softmax "
                  f"{_fmt(max_abs_difference(p, exact) / eps)} (tolerance 4)")
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    step = max(1, len(x) // 20001)          # every point of the quick run; the full one thinned for drawing
    ax[0].plot(x[::step], (two_sigma - np.tanh(x))[::step] / eps, ".", ms=1, rasterized=True)
    for lim in (-4, 4):
        ax[0].axhline(lim, ls=":", c="gray")
    ax[0].set_xlabel("x")
    ax[0].set_ylabel("(2 sigma(2x) - 1) - tanh(x), in eps")
    ax[0].set_title(f"tanh: max {_fmt(dev_t.max() / eps)} eps (tolerance 4)")
    d = z[:, 0] - z[:, 1]
    ax[1].plot(d, (p - exact) / eps, ".", ms=2, alpha=.5, label="softmax([z1, z2])[0] - exact", rasterized=True)
    ax[1].plot(d, (q - exact) / eps, ".", ms=1, alpha=.5, label="sigma(z1 - z2) - exact", rasterized=True)
    for lim in (-4, 4):
        ax[1].axhline(lim, ls=":", c="gray")
    ax[1].set_xlabel("z1 - z2")
    ax[1].set_ylabel("difference, in eps")
    ax[1].legend(fontsize=8, markerscale=6)
    ax[1].set_title(f"two-class softmax and sigma (apart: max {_fmt(dev_s.max() / eps)} eps)")
    s.figures.append(Figure("relations", "Measured differences, in units of float64's eps, with the tolerance of "
                            "4 eps dotted. Left: 2 sigma(2x) - 1 minus NumPy's tanh(x) over [-20, 20]. Right: the "
                            "first softmax probability of two logits and sigma of their difference, each minus "
                            "the exact value 1/(1 + e^(z2 - z1)).", png_of(fig)))
    return s


# ----------------------------------------------------------- 3 alternatives

def alternatives(quick: bool) -> Section:
    from .. import nn

    plt = _plt()
    s = Section("alternatives", "The alternatives: hard sigmoid, straight-through, tanh, ReLU, SiLU",
                "Cheaper or differently shaped gates and activations, with the gradients they pass back.")
    x = np.linspace(-8, 8, 16001)
    hs, sg = hard_sigmoid(x), sigmoid(x)
    dev = np.abs(hs - sg)
    dev_hs = max_abs_difference(hs, np.clip(x / 6 + 0.5, 0, 1))
    dev_sg = max_abs_difference(sg, numpy_sigmoid(x))
    # the distance is between this library's two functions; each is held to its formula (NumPy), so the
    # claim is about clip(x/6 + 1/2, 0, 1) and sigma and not about whatever the library computes
    s.claims.append(meets("the hard sigmoid clip(x/6 + 1/2, 0, 1) stays close to sigma",
                          f"max |hard - sigma| {_fmt(dev.max())} at x = {x[np.argmax(dev)]:.2f}",
                          [("max |hard - sigma|", dev.max(), "<", 0.1),
                           ("max |hard sigmoid - clip(x/6 + 1/2, 0, 1)|", dev_hs, "<=", 1e-15),
                           ("max |sigma - NumPy's 1/(1 + e^-x)|", dev_sg, "<=", 1e-15)]))
    g = hard_sigmoid_backward(x, 1.0)
    ds = sigmoid_backward(x, 1.0)
    out = np.abs(x) >= 3
    s.claims.append(every("the hard sigmoid passes no gradient outside (-3, 3), where sigma still does",
                          f"hard: {int(np.count_nonzero(g[out]))} nonzero gradients for |x| >= 3; "
                          f"sigma'(4) = {_fmt(sigmoid_backward(4.0, 1.0))}, sigma' > 0 at "
                          f"{int(np.count_nonzero(ds[out] > 0)):,} of those {int(out.sum()):,} points",
                          np.concatenate([g[out] == 0, ds[out] > 0])))
    # the library's layer, against the step x > 0 and NumPy's sigma'(x) = e^-|x| / (1 + e^-|x|)^2
    st = nn.StraightThroughSigmoid()
    y = st(x)
    gst = st.backward(np.ones_like(x))
    dref = numpy_sigmoid_derivative(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(gst - dref) / dref
    s.claims.append(every("the straight-through sigmoid outputs exactly 0 or 1 and passes sigma's gradient",
                          f"forward values {sorted(set(y.tolist()))}, equal to the step x > 0 at "
                          f"{int(np.count_nonzero(y == (x > 0))):,} of {len(x):,} points; gradient within "
                          f"{_fmt(float(np.nanmax(rel)))} (relative) of sigma'(x)",
                          (y == (x > 0)) & (rel <= 1e-14)))
    s.headline = (f"max |hard sigmoid - sigma| {_fmt(dev.max())}; straight-through gradient = sigma' to "
                  f"{_fmt(float(np.nanmax(rel)))}")
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    xx = np.linspace(-6, 6, 1201)
    curves = [("sigmoid", sigmoid(xx), sigmoid_backward(xx, 1.0)),
              ("hard sigmoid", hard_sigmoid(xx), hard_sigmoid_backward(xx, 1.0)),
              ("straight-through (forward: x > 0)", st(xx), st.backward(np.ones_like(xx))),
              ("tanh", np.tanh(xx), 1 - np.tanh(xx) ** 2),
              ("ReLU", np.maximum(xx, 0), (xx > 0).astype(float)),
              ("SiLU", silu(xx), silu_backward(xx, 1.0))]
    for i, (name, f, df) in enumerate(curves):
        straight = "straight" in name
        # the straight-through gradient is sigma's: sigma's curve drawn wide underneath, the other dotted on top
        style = dict(ls=":", lw=2, marker="o", ms=3, markevery=60) if straight else \
            dict(lw=4 if name == "sigmoid" else 1.5, alpha=.45 if name == "sigmoid" else 1)
        ax[0].plot(xx, f, c=f"C{i}", label=name, **style)
        ax[1].plot(xx, df, c=f"C{i}", label="straight-through (= sigma')" if straight else name, **style)
    ax[0].set_ylim(-1.2, 2.5)
    ax[0].set_xlabel("x")
    ax[0].set_ylabel("f(x)")
    ax[0].set_title("forward")
    ax[0].legend(fontsize=7)
    ax[1].set_ylim(-0.05, 1.15)
    ax[1].set_xlabel("x")
    ax[1].set_ylabel("df/dx: the gradient passed back")
    ax[1].set_title("backward")
    ax[1].legend(fontsize=7)
    s.figures.append(Figure("alternatives", "Left: sigmoid, hard sigmoid, the straight-through step, tanh, ReLU and "
                            "SiLU. Right: the gradient each passes back; the straight-through step passes sigma's, "
                            "drawn dotted over sigma's wide curve.",
                            png_of(fig)))
    return s


# ------------------------------------------------------ 4 vanishing gradient

def _numpy_backprop(x, params, activation: str) -> np.ndarray:
    """The reference for the vanishing-gradient claims: the norm of the
    gradient at the input of each layer of a stack of Linear + activation
    layers, from a unit gradient at the top, in plain NumPy (sigma' from
    NumPy's exp), layer 1 first."""
    act, dact = {"sigmoid": (numpy_sigmoid, numpy_sigmoid_derivative),
                 "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
                 "ReLU": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype))}[activation]
    pre, h = [], x
    for w, b in params:
        pre.append(h @ w.T + b)
        h = act(pre[-1])
    g = np.ones_like(h) / np.sqrt(h.size)
    norms = []
    for (w, _), z in zip(params[::-1], pre[::-1]):
        g = (g * dact(z)) @ w
        norms.append(float(np.linalg.norm(g)))
    return np.array(norms[::-1])


def vanishing(quick: bool) -> Section:
    from .. import nn

    plt = _plt()
    depth, width, batch = 30, 64, 256
    s = Section("vanishing", "Vanishing gradients through deep stacks",
                f"Stacks of {depth} Linear layers of width {width}, each followed by the activation, each with "
                "its usual initialisation (Glorot for sigmoid and tanh, He for ReLU): the norm of the gradient "
                "that reaches the input of each layer, from a unit gradient at the top.  sigma' <= 1/4 shrinks it "
                "at every sigmoid layer.")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width))
    profiles, agreement = {}, []
    for name, act, gain in (("sigmoid", nn.Sigmoid, "glorot"), ("tanh", nn.Tanh, "glorot"), ("ReLU", nn.ReLU, "he")):
        layers = []
        for _ in range(depth):
            lin = nn.Linear(width, width, dtype=np.float64, rng=rng)
            bound = np.sqrt(6 / (2 * width)) if gain == "glorot" else np.sqrt(6 / width)
            lin.weight.data[...] = rng.uniform(-bound, bound, (width, width))
            lin.bias.data[...] = 0
            layers += [lin, act()]
        net = nn.Sequential(*layers)
        out = net(x)
        g = np.ones_like(out) / np.sqrt(out.size)
        norms = []
        for m in reversed(list(net._modules.values())):
            g = m.backward(g)
            if isinstance(m, nn.Linear):
                norms.append(float(np.linalg.norm(g)))
        profiles[name] = np.array(norms[::-1])    # layer 1 .. depth
        ref = _numpy_backprop(x, [(m.weight.data, m.bias.data) for m in layers[::2]], name)
        with np.errstate(invalid="ignore", divide="ignore"):
            agreement.append(float(np.max(np.abs(profiles[name] - ref) / ref)))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = {k: v[0] / v[-1] for k, v in profiles.items()}
    s.claims.append(meets(f"the gradient vanishes through {depth} sigmoid layers",
                          f"first / last layer gradient norm: sigmoid {_fmt(ratio['sigmoid'])}, "
                          f"tanh {_fmt(ratio['tanh'])}, ReLU {_fmt(ratio['ReLU'])}; NumPy's backpropagation "
                          f"through the same stacks agrees to {_fmt(max(agreement))} (relative)",
                          [("sigmoid", ratio["sigmoid"], "<", 1e-6),
                           ("tanh", ratio["tanh"], ">", 1e3 * ratio["sigmoid"]),
                           ("ReLU", ratio["ReLU"], ">", 1e3 * ratio["sigmoid"]),
                           ("largest relative difference from NumPy's backpropagation", max(agreement), "<=", 1e-9)]))
    with np.errstate(invalid="ignore", divide="ignore"):
        per = profiles["sigmoid"][:-1] / profiles["sigmoid"][1:]
    s.claims.append(every("each sigmoid layer shrinks the gradient (sigma' <= 1/4)",
                          f"median factor per layer {_fmt(float(np.median(per)))}, largest {_fmt(float(per.max()))} "
                          f"({len(per)} layers)", per < 1))
    s.headline = (f"first / last layer gradient: sigmoid {_fmt(ratio['sigmoid'])}, tanh {_fmt(ratio['tanh'])}, "
                  f"ReLU {_fmt(ratio['ReLU'])}")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for k, v in profiles.items():
        ax.semilogy(np.arange(1, depth + 1), v, "o-", ms=3, label=k)
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel("gradient norm at the layer's input")
    ax.legend()
    ax.set_title(f"{depth}-layer stacks: the gradient reaching each layer")
    s.figures.append(Figure("vanishing", f"Gradient norm at each of {depth} layers on a log scale: it falls by "
                            "orders of magnitude towards the input in the sigmoid stack and stays within a few "
                            "orders for tanh and ReLU.", png_of(fig)))
    return s


# ------------------------------------------------------- 9 exactness, speed

#: sigma's float32 bound in ulps, from the library's one table of bounds
SIGMOID_ULP_BOUND = ufunc_bound("sigmoid", np.float32)
#: the peers the speed claims name, as sigmoid._bench calls them
SPEED_PEERS = ("scipy.expit", "numpy 1/(1+exp(-x))")


def float32_accuracy(n: int, seed: int = 1, torch_too: bool = True):
    """float32 sigma of this library and of the installed peers on `n`
    random inputs from every binade of [-128, 128] with exponents -20 .. 7,
    against the correctly rounded values (decimal arithmetic); PyTorch's
    only with `torch_too`.  Returns (claim, ulp distances by
    implementation, notes)."""
    rng = np.random.default_rng(seed)
    e = rng.uniform(-20, 7, n)
    x = (np.sign(rng.standard_normal(n)) * np.exp2(e)).astype(np.float32)
    want = exact_sigmoid_float32(x)
    impls = {"sigmoid": sigmoid(x)}
    notes = []
    try:
        import scipy.special as sp

        impls["SciPy expit"] = sp.expit(x)
    except ImportError:
        notes.append("SciPy is not installed: its column is left out.")
    if not torch_too:
        notes.append("PyTorch is left out of the quick run (its import alone takes a second); the full run "
                     "measures it when it is installed.")
        return _accuracy_claim(impls, want, notes)
    try:
        import torch

        impls["torch.sigmoid"] = torch.sigmoid(torch.from_numpy(x)).numpy()
    except ImportError:
        notes.append("PyTorch is not installed: its column is left out.")
    return _accuracy_claim(impls, want, notes)


def _accuracy_claim(impls, want, notes):
    claim = within_ulps(f"float32 sigma within {SIGMOID_ULP_BOUND} ulp of the correctly rounded value", impls, want,
                        SIGMOID_ULP_BOUND, "sigmoid")
    return claim, {k: ulp_distance(v, want) for k, v in impls.items()}, notes


def exactness_and_speed(quick: bool) -> Section:
    from .. import _bench

    plt = _plt()
    s = Section("exactness", "Exactness and speed, on this machine",
                "float32 sigma on random inputs from every binade in [-128, 128], against the correctly rounded "
                "value (computed exactly in decimal arithmetic, independently of this library), and the time per "
                "element against the peers that are installed.")
    n = 10**4 if quick else 2 * 10**5        # the exact reference costs about 15 microseconds an input
    claim, d, notes = float32_accuracy(n, torch_too=not quick)
    s.claims.append(claim)
    s.headline = claim.measured.split(" (")[0] + f" ({n:,} inputs)"
    sizes = (10**5,) if quick else (10**5, 10**7)
    rows = _bench.run(functions=("sigmoid",), dtypes=("float32", "float64"), sizes=sizes, layouts=("contiguous",),
                      repeat=3 if quick else 5, torch_too=not quick)
    for r in rows:
        s.claims.append(faster(f"sigma {r.dtype} at {r.n:,} elements: faster than SciPy and the NumPy formula",
                               r.ours_ns, r.peers, SPEED_PEERS))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    edges = np.arange(0, 9) - 0.5
    for i, (k, v) in enumerate(d.items()):
        counts, _ = np.histogram(np.minimum(v, 7), bins=edges)    # inf (not comparable) counts as >= 7
        ax.bar(np.arange(8) + (i - 1) * 0.27, counts / n, width=0.27, label=k)
    ax.set_yscale("log")
    ax.set_xticks(range(8), [str(i) for i in range(7)] + [">=7"])
    ax.set_xlabel("error in ulps (float32)")
    ax.set_ylabel("share of inputs")
    ax.legend(fontsize=8)
    ax.set_title("float32 sigma: distance to the correctly rounded value")
    s.figures.append(Figure("exactness", "Histogram of float32 sigma errors in ulps, log scale, for this library "
                            "and the installed peers.", png_of(fig)))
    s.notes += notes + [_bench.describe_machine(_core.get_num_threads())]
    return s


# --------------------------------------------------------------- 10 history

def _census():
    path = os.path.join(os.path.dirname(__file__), "data", "us_census.csv")
    with open(path, encoding="utf-8") as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    t = np.array([float(r[0]) for r in rows[1:]])
    p = np.array([float(r[1]) for r in rows[1:]])
    return t, p


def fit_logistic_growth(t, p, iters: int = 200):
    """Least-squares fit of P(t) = K sigma(r (t - t0)) by Levenberg-Marquardt
    on the relative errors; returns (K, r, t0)."""
    K, r, t0 = 2 * p.max(), 0.03, t[np.argmin(np.abs(p - p.max() / 2))]
    lam = 1e-3

    def resid(K, r, t0):
        return (K * sigmoid(r * (t - t0)) - p) / p

    cost = float(np.sum(resid(K, r, t0) ** 2))
    for _ in range(iters):
        s = sigmoid(r * (t - t0))
        ds = sigmoid_backward(r * (t - t0), 1.0)
        J = np.stack([s, K * ds * (t - t0), -K * ds * r], 1) / p[:, None]
        res = resid(K, r, t0)
        A = J.T @ J
        step = np.linalg.solve(A + lam * np.diag(np.diag(A)), -J.T @ res)
        new = (K + step[0], r + step[1], t0 + step[2])
        c = float(np.sum(resid(*new) ** 2))
        if c < cost:
            K, r, t0 = new
            lam = max(lam / 3, 1e-12)
            if cost - c < 1e-15 * cost:
                cost = c
                break
            cost = c
        else:
            lam *= 4
    return K, r, t0


#: the last census year of the fit; the later counts are shown beside it, not fitted
FIT_UNTIL = 1950


def history(quick: bool) -> Section:
    plt = _plt()
    s = Section("history", "Where it began: Verhulst's logistic growth",
                "Verhulst (1838) proposed that a population grows as P(t) = K / (1 + e^(-r (t - t0))): "
                "exponentially at first, then levelling off at a carrying capacity K.  Pearl and Reed fitted it "
                f"to the United States census in 1920; here it is fitted to the counts of 1790-{FIT_UNTIL}, and "
                f"the counts of the later censuses, which the fit never saw, show where it stops predicting.")
    t_all, p_all = _census()
    old = t_all <= FIT_UNTIL
    t, p = t_all[old], p_all[old]
    K, r, t0 = fit_logistic_growth(t, p)
    fit = K * sigmoid(r * (t - t0))
    err = np.abs(fit / p - 1)
    s.claims.append(meets(f"a logistic curve follows {int(t[-1] - t[0])} years of census counts",
                          f"K = {K:.0f} million, r = {r:.4f} per year, midpoint {t0:.0f}; largest relative "
                          f"error {100 * err.max():.1f} %", [("largest relative error", err.max(), "<", 0.1)]))
    t_new, p_new = t_all[~old], p_all[~old]
    pred = K * sigmoid(r * (t_new - t0))
    miss = p_new / pred - 1
    off = t_new[np.abs(miss) > 0.1]
    s.claims.append(meets(f"after {FIT_UNTIL} the curve stops predicting: the population passes the fitted "
                          "carrying capacity K",
                          f"{t_new[-1]:.0f} census {p_new[-1]:.0f} million, {p_new[-1] / K:.2f} K, against "
                          f"{pred[-1]:.0f} million predicted; first census off by more than 10 %: "
                          f"{f'{off[0]:.0f}' if off.size else 'none'} ({t_new.size} censuses after {FIT_UNTIL})",
                          [(f"{t_new[-1]:.0f} census / K", p_new[-1] / K if t_new.size else np.nan, ">", 1),
                           (f"{t_new[-1]:.0f} census / prediction - 1", miss[-1] if t_new.size else np.nan,
                            ">", 0.1)]))
    s.headline = f"K = {K:.0f} million from 1790-{FIT_UNTIL}; {t_new[-1]:.0f}: {p_new[-1]:.0f} million"
    fig, ax = plt.subplots(figsize=(7, 3.8))
    tt = np.linspace(1780, 2030, 400)
    ax.plot(t, p, "o", c="C0", label=f"census 1790-{FIT_UNTIL} (fitted)")
    ax.plot(t_new, p_new, "s", mfc="none", c="C3", label=f"census {t_new[0]:.0f}-{t_new[-1]:.0f} (not fitted)")
    ax.plot(tt, K * sigmoid(r * (tt - t0)), c="C1", label=f"K sigma(r (t - t0)), K = {K:.0f} million")
    ax.axhline(K, ls=":", c="gray")
    ax.axvline(FIT_UNTIL + 5, ls="--", c="gray", lw=.8)
    ax.text(FIT_UNTIL + 7, 0, "end of the fit", fontsize=8, color="gray")
    ax.set_xlabel("year")
    ax.set_ylabel("population, millions")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Verhulst's curve fitted to the US census, 1790-{FIT_UNTIL}, and what came after")
    s.figures.append(Figure("history", f"US census counts 1790-{FIT_UNTIL} as points and the logistic curve fitted "
                            f"to them, which levels off at its carrying capacity K = {K:.0f} million; the counts "
                            f"of {t_new[0]:.0f}-{t_new[-1]:.0f}, not used in the fit, rise above K to "
                            f"{p_new[-1]:.0f} million.", png_of(fig)))
    return s


# ------------------------------------------------------------ 7 multi-label

def multilabel(quick: bool) -> Section:
    from .. import softmax
    from ..models.multilabel import MultiLabelClassifier

    plt = _plt()
    s = Section("multilabel", "Multi-label classification: one sigmoid per label",
                "Each label gets its own sigmoid, so a sample can carry several labels or none: the "
                "probabilities of a sample need not sum to 1.  A softmax over the same logits forces them to.")
    rng = np.random.default_rng(2)
    n, d, L = (1500, 10, 4) if quick else (6000, 10, 4)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, L))
    Y = (X @ W + 0.5 * rng.standard_normal((n, L)) > 0.4).astype(np.float64)
    cut = int(0.8 * n)
    m = MultiLabelClassifier(hidden_layer_sizes=(32,), max_iter=40 if quick else 120, random_state=0,
                             dtype=np.float64).fit(X[:cut], Y[:cut])
    P = m.predict_proba(X[cut:])
    pred = P > 0.5
    Yt = Y[cut:].astype(bool)
    tp, fp, fn = np.sum(pred & Yt), np.sum(pred & ~Yt), np.sum(~pred & Yt)
    f1 = 2 * tp / (2 * tp + fp + fn)
    sums = P.sum(axis=1)
    soft = softmax(m.decision_function(X[cut:]), axis=1).sum(axis=1)
    s.claims.append(meets("independent sigmoids: a sample's label probabilities need not sum to 1",
                          f"sums from {sums.min():.2f} to {sums.max():.2f}; "
                          f"{np.mean(Yt.sum(1) != 1):.0%} of test samples carry 0 or several labels",
                          [("spread of the sums", sums.max() - sums.min(), ">", 1)]))
    s.claims.append(agrees("a softmax over the same logits sums to 1", {"sums from 1": (soft, np.ones_like(soft))},
                           1e-12))
    s.claims.append(meets(f"the classifier learns {L} overlapping labels", f"micro F1 {f1:.3f} on held-out samples",
                          [("micro F1", f1, ">", 0.8)]))
    s.headline = f"micro F1 {f1:.3f}; label probabilities sum to {sums.min():.2f} .. {sums.max():.2f}"
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    ax[0].hist(sums, bins=40, alpha=.7, label="sigmoid outputs")
    ax[0].axvline(1, c="C1", lw=3, label="softmax outputs (all exactly 1)")
    ax[0].set_xlabel("sum of a sample's label probabilities")
    ax[0].legend(fontsize=8)
    ax[0].set_title("sigmoid outputs need not sum to 1")
    k = 6
    for i in range(k):
        ax[1].bar(np.arange(L) + i * (L + 1), P[i], color=[f"C{j}" for j in range(L)])
    ax[1].set_xticks([i * (L + 1) + (L - 1) / 2 for i in range(k)], [f"sample {i + 1}" for i in range(k)],
                     fontsize=8)
    ax[1].set_ylim(0, 1.15)
    ax[1].axhline(0.5, ls=":", c="gray")
    ax[1].set_ylabel("sigma(logit of the label)")
    from matplotlib.patches import Patch

    ax[1].legend(handles=[Patch(color=f"C{j}", label=f"label {j + 1}") for j in range(L)], fontsize=7, ncol=L,
                 loc="upper center")
    ax[1].set_title(f"per-label probabilities ({L} labels)")
    s.figures.append(Figure("multilabel", "Left: histogram of the sums of each test sample's label probabilities, "
                            "spread well beyond 1, against softmax outputs that always sum to exactly 1. Right: "
                            "the probabilities of four labels for six samples.", png_of(fig)))
    return s


# --------------------------------------------------------------------- 8 GAN

#: the GAN's generator steps: full run, quick run
GAN_STEPS = {False: 1500, True: 300}


def gan(quick: bool) -> Section:
    from ..models.gan import GAN, mixture_of_gaussians

    plt = _plt()
    s = Section("gan", "A GAN: the sigmoid discriminator that ends up unsure",
                "A generator learns a ring of 8 Gaussians while a discriminator with one sigmoid output tells real "
                "from generated points.  At the equilibrium the discriminator's sigmoid says 1/2 everywhere the "
                "data lives.")
    k, radius = 8, 2.0
    X = mixture_of_gaussians(4000, k=k, radius=radius, random_state=0)
    steps = GAN_STEPS[quick]
    g = GAN(n_steps=steps, random_state=0).fit(X)
    h = g.history_
    tail = max(1, steps // 5)
    d_real, d_fake = float(np.mean(h["d_real"][-tail:])), float(np.mean(h["d_fake"][-tail:]))
    s.claims.append(meets("the discriminator's sigmoid approaches 1/2 on real and generated points",
                          f"mean sigma(D) over the last {tail} steps: real {d_real:.3f}, fake {d_fake:.3f}",
                          [("|real - 1/2|", abs(d_real - 0.5), "<", 0.1),
                           ("|fake - 1/2|", abs(d_fake - 0.5), "<", 0.1)]))
    S = g.sample(2000, random_state=1)
    ang = 2 * np.pi * np.arange(k) / k        # the centres of the data, as mixture_of_gaussians places them
    centres = radius * np.stack([np.cos(ang), np.sin(ang)], 1)
    dist = np.linalg.norm(S[:, None, :] - centres[None], axis=2)
    share = np.bincount(dist.argmin(1), minlength=k) / len(S)
    covered = int(np.sum(share >= 0.02))
    s.claims.append(meets("the generator covers the modes", f"{covered} of {k} modes hold >= 2 % "
                          f"of the samples; mean distance to the nearest centre {dist.min(1).mean():.3f}",
                          [("modes covered", covered, ">=", 6)]))
    s.headline = f"sigma(D): real {d_real:.3f}, fake {d_fake:.3f}; {covered} of {k} modes covered"
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.4), layout="constrained")   # room for the colour bar and titles
    grid = np.linspace(-3, 3, 121)
    gx, gy = np.meshgrid(grid, grid)
    pz = g.discriminator_proba(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)).reshape(gx.shape)
    cs = ax[0].contourf(gx, gy, pz, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=.7)
    fig.colorbar(cs, ax=ax[0], label="sigma(D(x))", location="left", shrink=.9)
    ax[0].scatter(X[:600, 0], X[:600, 1], s=3, c="k", label="real")
    ax[0].scatter(S[:600, 0], S[:600, 1], s=3, c="gold", label="generated")
    ax[0].legend(fontsize=8, loc="upper right")
    ax[0].set_aspect("equal")
    ax[0].set_title("samples and the discriminator's probability")
    ax[1].plot(h.steps, h["d_real"], lw=.6, label="mean sigma(D(real))")
    ax[1].plot(h.steps, h["d_fake"], lw=.6, label="mean sigma(D(fake))")
    ax[1].axhline(0.5, c="gray", ls=":")
    ax[1].set_xlabel("generator step")
    ax[1].legend(fontsize=8)
    ax[1].set_title("the discriminator's outputs over training")
    s.figures.append(Figure("gan", "Left: real points of the 8-Gaussian ring and generated points over the "
                            "discriminator's probability surface. Right: the mean discriminator output on real "
                            "and generated points per step, both tending to 1/2.", png_of(fig)))
    if quick:
        s.notes.append(f"Quick run: {steps} generator steps (the full run: {GAN_STEPS[False]}).")
    return s


# ------------------------------------------------------------------ 5 gates

#: the Adam steps of the three cells on the long task: full run, quick run
GATES_STEPS = {False: 250, True: 100}


def gates(quick: bool) -> Section:
    from ..models.sequence import SequenceClassifier, first_symbol_task

    plt = _plt()
    length = 100
    s = Section("gates", "Gates: LSTM and GRU remember where a plain RNN forgets",
                f"The task: tell which symbol was shown at the first of {length} steps, through {length - 1} steps "
                "of distracting symbols.  A plain tanh RNN passes the gradient back through a product of "
                "tanh' W factors that vanishes; the sigmoid gates of the LSTM and GRU keep a path open.  "
                "Then the LSTM's forget gates, before and after training on a 20-step version: the share of "
                "them that leave the undecided middle [0.1, 0.9], and on which side.")
    X, y = first_symbol_task(1024 + 256, length, random_state=0)
    Xtr, ytr, Xte, yte = X[:1024], y[:1024], X[1024:], y[1024:]
    steps = GATES_STEPS[quick]
    models, acc, g0 = {}, {}, {}
    for cell in ("lstm", "gru", "rnn"):
        m = SequenceClassifier(cell, hidden_size=16, n_steps=steps, random_state=0).fit(Xtr, ytr)
        models[cell] = m
        acc[cell] = float(np.mean(m.predict(Xte) == yte))      # accuracy counted here, not by the model
        g0[cell] = float(m.history_["grad_x0"][0] / m.history_["grad_xlast"][0])
    s.claims.append(meets(f"gated cells learn a {length}-step dependency that the plain RNN does not",
                          f"held-out accuracy: LSTM {acc['lstm']:.3f}, GRU {acc['gru']:.3f}, tanh RNN {acc['rnn']:.3f}",
                          [("LSTM", acc["lstm"], ">", 0.9), ("GRU", acc["gru"], ">", 0.9),
                           ("tanh RNN (chance: 1/2)", acc["rnn"], "<", 0.7)]))
    s.claims.append(meets("the gradient reaching the first step vanishes without gates",
                          f"||dL/dx_0|| / ||dL/dx_last|| at the start: LSTM {_fmt(g0['lstm'])}, GRU {_fmt(g0['gru'])}, "
                          f"tanh RNN {_fmt(g0['rnn'])}",
                          [("tanh RNN", g0["rnn"], "<", 1e-8), ("LSTM", g0["lstm"], ">", 1e-8),
                           ("GRU", g0["gru"], ">", 1e-8)]))
    Xc, yc = first_symbol_task(512, 20, random_state=3)
    kw = dict(hidden_size=8, forget_bias=1.0, random_state=0)
    f0 = SequenceClassifier("lstm", n_steps=1, lr=1e-12, **kw).fit(Xc, yc).forget_gate_values(Xc[:64]).ravel()
    f1 = SequenceClassifier("lstm", n_steps=150 if quick else 300, **kw).fit(Xc, yc).forget_gate_values(Xc[:64]).ravel()

    def committed(v):
        return float(np.mean((v > 0.9) | (v < 0.1)))

    s.claims.append(meets("training moves forget gates out of the middle: more of them outside [0.1, 0.9]",
                          f"share of forget-gate values outside [0.1, 0.9]: {committed(f0):.0%} before, "
                          f"{committed(f1):.0%} after training (after: {np.mean(f1 < 0.1):.0%} below 0.1, "
                          f"{np.mean(f1 > 0.9):.0%} above 0.9)",
                          [("share after training", committed(f1), ">", committed(f0) + 0.1)]))
    s.headline = (f"accuracy LSTM {acc['lstm']:.2f}, GRU {acc['gru']:.2f}, tanh RNN {acc['rnn']:.2f}; "
                  f"first-step gradient ratio RNN {_fmt(g0['rnn'])}")
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    for cell, name in (("lstm", "LSTM"), ("gru", "GRU"), ("rnn", "tanh RNN")):
        h = models[cell].history_
        a = np.convolve(h["accuracy"], np.ones(10) / 10, mode="valid")
        ax[0].plot(a, label=name)
        with np.errstate(divide="ignore", invalid="ignore"):
            ax[1].semilogy(np.asarray(h["grad_x0"]) / np.asarray(h["grad_xlast"]), lw=.7, label=name)
    ax[0].set_xlabel("update")
    ax[0].set_ylabel("batch accuracy (mean of 10)")
    ax[0].legend(fontsize=8)
    ax[0].set_title(f"learning a {length}-step dependency")
    ax[1].set_xlabel("update")
    ax[1].set_ylabel("||dL/dx_0|| / ||dL/dx_last||")
    ax[1].set_title("gradient reaching the first step, relative")
    ax[1].legend(fontsize=8)
    ax[2].hist(f0, bins=40, range=(0, 1), alpha=.6, label="before training")
    ax[2].hist(f1, bins=40, range=(0, 1), alpha=.6, label="after training")
    ax[2].set_xlabel("forget gate value f")
    ax[2].legend(fontsize=8)
    ax[2].set_ylabel("count")
    ax[2].axvspan(0.1, 0.9, color="gray", alpha=.12, lw=0)
    ax[2].set_title("LSTM forget gates (shaded: undecided)")
    s.figures.append(Figure("gates", "Left: batch accuracy over training for LSTM, GRU and tanh RNN on the "
                            f"{length}-step first-symbol task; the RNN stays at chance. Middle: the norm of the "
                            "gradient reaching the first time step divided by the one at the last step, log scale, "
                            "orders of magnitude smaller for the RNN. Right: histograms of LSTM forget-gate values "
                            f"before and after training, the middle [0.1, 0.9] shaded; after training "
                            f"{np.mean(f1 < 0.1):.0%} lie below 0.1 and {np.mean(f1 > 0.9):.0%} above 0.9.",
                            png_of(fig)))
    if quick:
        s.notes.append(f"Quick run: each cell trained for {steps} Adam steps on the {length}-step task (the full "
                       f"run: {GATES_STEPS[False]}).")
    return s


# ---------------------------------------------------- 6 logistic regression

def wilson_interval(k, n, z: float = 1.959963984540054):
    """The Wilson score interval of a binomial proportion: `k` successes of
    `n` trials, at the normal quantile `z` (95 % by default); returns
    (lower, upper) arrays.

    Examples
    --------
    >>> lo, hi = wilson_interval(0, 10)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.0, 0.2775)
    """
    k, n = np.asarray(k, np.float64), np.asarray(n, np.float64)
    f = k / n
    mid = (f + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(f * (1 - f) / n + z * z / (4 * n * n))
    return np.atleast_1d(np.maximum(mid - half, 0)), np.atleast_1d(np.minimum(mid + half, 1))


def logistic(quick: bool) -> Section:
    from ..models.logistic import LogisticRegression

    plt = _plt()
    s = Section("logistic", "Binary classification: logistic regression on breast-cancer data",
                "P(malignant | x) = sigma(w . x + b), fitted by Newton's method with the exact Hessian "
                "(weights sigma(z) sigma(-z)) on the Wisconsin diagnostic breast-cancer data (569 tumours, 30 "
                "features, standardised; 30 % held out).  Sigma's output is a probability: the reliability "
                "diagram checks that it is calibrated.")
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X, y = data.data, 1 - data.target          # 1: malignant
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    cut = int(0.7 * len(y))
    tr, te = idx[:cut], idx[cut:]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    Xtr, Xte = (X[tr] - mu) / sd, (X[te] - mu) / sd
    m = LogisticRegression(C=0.5).fit(Xtr, y[tr])
    p = m.predict_proba(Xte)[:, 1]
    z = m.decision_function(Xte)
    from sklearn.metrics import roc_auc_score, roc_curve

    acc = float(np.mean((p > 0.5) == y[te]))
    fpr, tpr, _ = roc_curve(y[te], z)           # scikit-learn's, not computed here
    auc = float(roc_auc_score(y[te], z))
    bins = np.linspace(0, 1, 6)
    which = np.clip(np.digitize(p, bins) - 1, 0, 4)
    conf = np.array([p[which == b].mean() if np.any(which == b) else np.nan for b in range(5)])
    freq = np.array([y[te][which == b].mean() if np.any(which == b) else np.nan for b in range(5)])
    count = np.bincount(which, minlength=5)
    ece = float(np.nansum(count * np.abs(conf - freq)) / len(p))
    s.claims.append(meets("logistic regression separates malignant from benign tumours",
                          f"held-out accuracy {acc:.3f}, ROC AUC {auc:.3f} ({len(te)} tumours)",
                          [("accuracy", acc, ">=", 0.95), ("ROC AUC", auc, ">=", 0.98)]))
    s.claims.append(meets("sigma's outputs are calibrated probabilities",
                          f"expected calibration error {ece:.3f} over 5 bins",
                          [("expected calibration error", ece, "<", 0.1)]))
    s.headline = f"held-out accuracy {acc:.3f}, ROC AUC {auc:.3f}, calibration error {ece:.3f}"
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    ax[0].plot(fpr, tpr)
    ax[0].plot([0, 1], [0, 1], ":", c="gray")
    ax[0].set_xlabel("false positive rate")
    ax[0].set_ylabel("true positive rate")
    ax[0].set_title(f"ROC (AUC {auc:.3f})")
    ok = ~np.isnan(conf)
    lo, hi = wilson_interval(freq[ok] * count[ok], count[ok])
    ax[1].errorbar(conf[ok], freq[ok], yerr=np.maximum([freq[ok] - lo, hi - freq[ok]], 0), fmt="o-", capsize=3,
                   label="observed, 95 % Wilson interval")
    for c_, f_, n_ in zip(conf[ok], freq[ok], count[ok]):
        ax[1].annotate(f"n = {n_}", (c_, f_), (4, -12), textcoords="offset points", fontsize=7)
    ax[1].plot([0, 1], [0, 1], ":", c="gray")
    ax[1].legend(fontsize=7, loc="upper left")
    ax[1].set_xlabel("predicted probability")
    ax[1].set_ylabel("observed frequency")
    ax[1].set_title(f"reliability (ECE {ece:.3f})")
    ax[2].hist(z[y[te] == 0], bins=30, alpha=.6, label="benign")
    ax[2].hist(z[y[te] == 1], bins=30, alpha=.6, label="malignant")
    ax[2].axvline(0, c="gray", ls=":")
    ax[2].set_xlabel("decision function w . x + b")
    ax[2].legend(fontsize=8)
    ax[2].set_title("decision values by class")
    s.figures.append(Figure("logistic", "Left: ROC curve of logistic regression on held-out breast-cancer "
                            "data. Middle: reliability diagram, predicted probability against observed "
                            "frequency in 5 bins, with each bin's count and 95 % Wilson interval, close to the "
                            "diagonal. Right: histograms of the decision function for "
                            "benign and malignant tumours, split at 0.", png_of(fig)))
    return s
