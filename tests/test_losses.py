"""The losses: argument checks, exactness against mpmath, the reductions,
the identities with softmax, and parity with PyTorch."""
import functools
import math

import mpmath as mp
import numpy as np
import pytest

import reference as R
from reference import ref_bce, ref_bce_probs, ref_focal
import samples
import sigmoid as S
from sigmoid import _core
from sigmoid._accuracy import loss_bound, reduced_bound, softmax_bound


# ------------------------------------------------------------ helpers

def rounded(values, dtype):
    return np.array([R.round_exact(v, dtype) for v in values], dtype=dtype)


def logits(dtype, per_binade, rng, top=1e9):
    x = samples.binades(dtype, per_binade, rng, hi=int(math.log2(top)))
    x = x[np.abs(x) <= top]
    return np.concatenate([x, np.array([0.0, -0.0, 1e9, -1e9, 30.0, -30.0, 745.0, -745.0], dtype=dtype)
                           if dtype == np.float64 else np.array([0.0, 1e9, -1e9, 88.0, -88.0], dtype=dtype)])


def targets(n, rng, dtype):
    y = rng.uniform(0, 1, n)
    y[: n // 3] = 0.0
    y[n // 3: 2 * n // 3] = 1.0
    return rng.permutation(y).astype(dtype)


# ------------------------------------------------------------- arguments

def test_shapes_must_match_exactly():
    with pytest.raises(ValueError, match=r"logits and targets must have the same shape, got \(4, 1\) and \(4,\)"):
        S.bce_with_logits(np.zeros((4, 1)), np.zeros(4))


@pytest.mark.parametrize("arg", ["weight", "pos_weight"])
def test_weights_must_broadcast(arg):
    with pytest.raises(ValueError, match=rf"{arg} of shape \(3,\) does not broadcast"):
        S.bce_with_logits(np.zeros((2, 4)), np.zeros((2, 4)), **{arg: np.ones(3)})
    with pytest.raises(ValueError, match=rf"{arg} of shape \(2, 1, 4\) does not broadcast"):
        S.bce_with_logits(np.zeros((2, 4)), np.zeros((2, 4)), **{arg: np.ones((2, 1, 4))})


def test_reduction_and_smoothing_are_checked():
    with pytest.raises(ValueError, match="reduction must be one of 'none', 'mean', 'sum', got 'avg'"):
        S.bce_with_logits(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\]"):
        S.bce_with_logits(np.zeros(2), np.zeros(2), label_smoothing=1.5)
    with pytest.raises(ValueError, match="gamma must be"):
        S.sigmoid_focal_loss(np.zeros(2), np.zeros(2), gamma=-1.0)


@pytest.mark.parametrize("f", [S.bce_with_logits, S.bce_with_logits_and_grad, S.sigmoid_focal_loss,
                               S.bce_with_logits_backward, S.sigmoid_focal_loss_and_grad])
def test_targets_outside_the_unit_interval(f):
    for bad in (1.5, -0.1, np.nan):
        y = np.array([0.0, bad, 1.0])
        with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\].*check_targets=False"):
            f(np.zeros(3), y)
    # check_targets=False computes the formula as written: at x = 0 against
    # mpmath's value of the same formula for the target 1.5
    y = np.array([0.0, 1.5, 1.0])
    out = f(np.zeros(3), y, check_targets=False)
    focal = f in (S.sigmoid_focal_loss, S.sigmoid_focal_loss_and_grad)
    ref = [ref_focal(0.0, b, 0.25, 2.0) if focal else ref_bce(0.0, b) for b in y.tolist()]
    bl, bg = _bounds("sigmoid_focal_loss" if focal else "bce_with_logits", "any", np.float64)
    if f is S.bce_with_logits:  # the mean
        _check("loss", np.array([out]), [mp.fsum(r[0] for r in ref) / 3], np.float64, bl + 1)
    elif f is S.bce_with_logits_backward:  # the gradient of the mean
        _check("gradient", out, [r[1] / 3 for r in ref], np.float64, bg)
    elif f is S.sigmoid_focal_loss:  # reduction "none"
        _check("loss", out, [r[0] for r in ref], np.float64, bl)
    else:
        loss, grad = out
        n = 3 if f is S.bce_with_logits_and_grad else 1
        want = [mp.fsum(r[0] for r in ref) / 3] if n == 3 else [r[0] for r in ref]
        _check("loss", np.atleast_1d(loss), want, np.float64, bl + (n == 3))
        _check("gradient", grad, [r[1] / n for r in ref], np.float64, bg)


def test_probabilities_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"probabilities and targets must lie in \[0, 1\]"):
        S.binary_cross_entropy(np.array([0.5, 1.2]), np.array([0.0, 1.0]))


def test_nan_logits_give_nan_and_integers_promote():
    assert np.isnan(S.bce_with_logits(np.array([np.nan, 0.0]), np.array([0.0, 1.0])))
    assert np.isnan(S.sigmoid_focal_loss(np.array([np.nan]), np.array([1.0]), reduction="sum"))
    loss = S.bce_with_logits(np.array([1, 2], dtype=np.int32), np.array([1, 0], dtype=np.int32))
    assert loss.dtype == np.float64
    assert S.bce_with_logits(np.array([1, 2], dtype=np.int8), np.array([1, 0], dtype=np.int8)).dtype == np.float16
    with pytest.raises(TypeError, match="argument 'logits' has dtype complex128"):
        S.bce_with_logits(np.array([1j]), np.array([1.0]))


# float32 logits where the loss of a 0/1 target moves by less than the
# error of log1p(e^-|x|) from one logit to the next (near 0: a kernel that
# takes that form there moves the wrong way millions of times over the 2^32
# logits), around the series' switch at |x| = 1/2, and where the loss adds
# x to a rounded log1p(e^-|x|)
_BCE_MONOTONE_CENTERS = [3e-8, 1e-3, 0.03, 0.3, 0.5, 1.5, 3.0, -0.0312, -0.2, -0.5, -4.25, -30.0]


@pytest.mark.parametrize("center", _BCE_MONOTONE_CENTERS)
def test_float32_bce_of_0_1_targets_never_moves_against_the_loss(center, isa):
    """2^17 consecutive float32 logits around each center: the loss of
    target 0 (softplus(x)) never falls as x rises, that of target 1
    (softplus(-x)) never rises, each within 1 ULP of the correctly rounded
    value, and the gradient sigma(x) - y never falls, on every instruction
    set.  tools/sweep_float32.py checks all 2^32 logits the same way."""
    c = np.float32(center)
    k = np.arange(-2**16, 2**16, dtype=np.int32)
    x = (np.abs(c).view(np.int32) + k).view(np.float32) * np.sign(c)
    x = np.sort(x)
    for y, direction in ((0.0, 1), (1.0, -1)):
        t = np.full_like(x, y)
        loss = S.bce_with_logits(x, t, reduction="none")
        moves = direction * np.diff(loss.astype(np.float64))
        assert not np.any(moves < 0), f"target {y}: the loss moves back at {x[1:][moves < 0][:4]}"
        assert R.ulp_distance(loss, R.fast32("softplus", direction * x)).max() <= 1
        grad = S.bce_with_logits_backward(x, t, reduction="none")
        falls = np.diff(grad.astype(np.float64)) < 0
        assert not np.any(falls), f"target {y}: the gradient falls at {x[1:][falls][:4]}"


@pytest.mark.parametrize("center", [1e-3, 0.3, 0.5, 1.5, 2.0, 3.0, 10.0])
def test_float64_bce_of_0_1_targets_never_moves_against_the_loss(center, isa):
    """2 10^5 consecutive doubles around each center and around its
    negative: the loss of target 0 never falls as x rises, that of target 1
    never rises (x + log1p(e^-|x|) is rounded once: rounded twice, it moves
    back tens of thousands of times in these windows), and the gradient
    never falls."""
    c = np.float64(center).view(np.int64)
    x = (c + np.arange(-10**5, 10**5, dtype=np.int64)).view(np.float64)
    for xs in (x, -x[::-1]):
        for y, direction in ((0.0, 1), (1.0, -1)):
            t = np.full_like(xs, y)
            moves = direction * np.diff(S.bce_with_logits(xs, t, reduction="none"))
            assert not np.any(moves < 0), f"target {y}: the loss moves back at {xs[1:][moves < 0][:4]}"
            falls = np.diff(S.bce_with_logits_backward(xs, t, reduction="none")) < 0
            assert not np.any(falls), f"target {y}: the gradient falls at {xs[1:][falls][:4]}"


@pytest.mark.parametrize("y", [0.0, 1.0, 0.1, 0.3, 0.7])
def test_float64_focal_loss_never_moves_against_the_loss(y, isa):
    """2^16 consecutive doubles around +-0.3, +-1.5 and, for soft targets,
    around the loss's minimum x* (the gradient's zero, from mpmath): the
    float64 focal loss (alpha 0.25, gamma 2) never moves against the true
    loss, which rises for target 0, falls for target 1, and falls up to x*
    and rises after it for the others.  Rounded in three steps it moved the
    wrong way thousands of times in each of these runs."""
    centers = [0.3, -0.3, 1.5, -1.5]
    xs = np.inf if y == 1.0 else -np.inf
    if 0 < y < 1:
        with mp.workdps(40):
            xs = float(mp.findroot(lambda t: ref_focal(t, y, 0.25, 2.0)[1], mp.log(mp.mpf(y) / (1 - mp.mpf(y)))))
        centers.append(xs)
    for c in centers:
        b = np.array([abs(c)]).view(np.int64)[0]
        x = np.sort((b + np.arange(-2**15, 2**15, dtype=np.int64)).view(np.float64) * np.sign(c))
        d = np.diff(S.sigmoid_focal_loss(x, np.full_like(x, y), alpha=0.25, gamma=2.0))
        wrong = ((x[1:] <= xs) & (d > 0)) | ((x[:-1] >= xs) & (d < 0))
        assert not np.any(wrong), f"target {y}: the loss moves the wrong way at {x[1:][wrong][:4]}"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bce_with_extreme_soft_targets_against_mpmath(dt):
    """Targets within 2^-53 of 1 with pos_weight above 1, and targets as
    small as 2^-1000, with logits near and far from the gradient's zero
    (beyond |x| = 690 in float64, where e^-|x| leaves the normal range), with
    weights and an incoming gradient that are not powers of two."""
    rng = np.random.default_rng(21)
    n = 1500
    bits = np.finfo(dt).nmant + 1
    y1 = 1 - np.exp2(-rng.integers(10, bits + 1, n).astype(np.float64))
    p1 = rng.choice([2.0, 4.0, 100.0, 1e6], n)
    emin = -1000 if dt == np.float64 else -120
    y2 = np.exp2(rng.uniform(emin, -20, n))
    p2 = rng.choice([0.5, 1.0, 3.0], n)
    y, p = np.concatenate([y1, y2]).astype(dt), np.concatenate([p1, p2]).astype(dt)
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    x = (np.log(p64 * y64 / (1 - y64)) * rng.uniform(0.7, 1.3, 2 * n)).astype(dt)
    w = rng.uniform(0.1, 3, 2 * n).astype(dt)
    go = rng.uniform(-2, 2, 2 * n).astype(dt)
    loss = S.bce_with_logits(x, y, weight=w, pos_weight=p, reduction="none")
    g = S.bce_with_logits_backward(x, y, go, weight=w, pos_weight=p, reduction="none")
    ref = [ref_bce(*a) for a in zip(x.tolist(), y.tolist(), w.tolist(), p.tolist())]
    bl, bg = _bounds("bce_with_logits", "any", dt)
    _check("loss", loss, [r[0] for r in ref], dt, bl)
    _check("grad", g, [r[1] * c for r, c in zip(ref, go.tolist())], dt, bg)


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_bce_at_infinite_logits_is_the_limit(dt, isa):
    """softplus(+-inf): inf where the logit is certain of the wrong class, 0
    where of the right one, and half-way targets inf both ways; the gradient
    sigma(x) - y its limit."""
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, -np.inf], dt)
    y = np.array([0, 0, 1, 1, 0.5, 0.5], dt)
    loss, grad = S.bce_with_logits_and_grad(x, y, reduction="none")
    np.testing.assert_array_equal(loss, np.array([np.inf, 0, 0, np.inf, np.inf, np.inf], dt))
    np.testing.assert_array_equal(grad, np.array([1, 0, 0, -1, 0.5, -0.5], dt))
    assert S.bce_with_logits(x[:4], y[:4], reduction="sum") == np.inf


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
def test_dtype_in_is_dtype_out(dt):
    x = np.linspace(-3, 3, 7).astype(dt)
    y = (x > 0).astype(dt)
    assert S.bce_with_logits(x, y).dtype == dt
    loss, grad = S.bce_with_logits_and_grad(x, y, reduction="none")
    assert loss.dtype == dt and grad.dtype == dt and grad.shape == x.shape
    assert S.sigmoid_focal_loss_and_grad(x, y)[1].dtype == dt
    assert S.binary_cross_entropy(S.sigmoid(x), y).dtype == dt
    assert S.softmax(x).dtype == dt and S.log_softmax(x).dtype == dt


@pytest.mark.parametrize("dt", [np.float16, np.float32])
def test_a_total_beyond_the_dtype_rounds_to_inf_without_a_warning(dt):
    """The sum is accumulated in float64 and rounded once to the dtype:
    past its largest finite value that is inf, with no overflow warning
    (warnings are errors here); a total equal to the largest stays finite."""
    big = np.finfo(dt).max
    x, y = np.full(4, big, dt), np.zeros(4, dt)     # each loss is softplus(x) = x
    total = S.bce_with_logits(x, y, reduction="sum")
    assert total.dtype == dt and total == np.inf
    mean, grad = S.bce_with_logits_and_grad(x, y)
    assert mean.dtype == dt and mean == big and grad.dtype == dt
    half = np.full(2, big / 2, dt)
    assert S.bce_with_logits(half, np.zeros(2, dt), reduction="sum") == big
    assert S.bce_with_logits(x.astype(x.dtype.newbyteorder()), y, reduction="sum") == np.inf


def test_grad_output_shapes():
    x, y = np.zeros((2, 3)), np.ones((2, 3))
    g = S.bce_with_logits_backward(x, y, np.arange(3.0), reduction="none")
    np.testing.assert_array_equal(g, -0.5 * np.arange(3.0)[None, :].repeat(2, 0))
    assert np.all(S.bce_with_logits_backward(x, y, 2.0, reduction="sum") == -1.0)
    assert np.all(S.bce_with_logits_backward(x, y, 6.0) == -0.5)  # mean: 6 / 6 elements
    with pytest.raises(ValueError, match="grad_output must be one number"):
        S.bce_with_logits_backward(x, y, np.ones(3))


# ------------------------------------------------------------- exactness

def _bounds(loss, case, dtype):
    """(loss, gradient) bounds from the library's one table of bounds."""
    return loss_bound(loss, case, dtype)


def _check(name, got, want_mp, dtype, bound, scale=None):
    want = rounded(want_mp, dtype)
    d = R.ulp_distance(got.astype(dtype), want)
    if scale is not None:  # cancellation allowed: measure against the larger term
        err = np.abs(got.astype(np.float64) - np.array([float(v) for v in want_mp]))
        ok = (d <= bound) | (err <= bound * np.finfo(dtype).eps * scale)
    else:
        ok = d <= bound
    i = int(np.argmax(np.where(ok, 0, d)))
    assert ok.all(), f"{name}: {d[i]} ULP at element {i}: got {got[i]!r}, want {want[i]!r}"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bce_with_logits_per_element_against_mpmath(dt):
    rng = np.random.default_rng(1)
    x = logits(dt, 6 if dt == np.float64 else 20, rng)
    n = x.size
    y = targets(n, rng, dt)
    w = np.exp2(rng.integers(-3, 4, n)).astype(dt)
    p = rng.choice(np.array([1.0, 0.5, 3.0], dtype=dt), n)
    loss, grad = S.bce_with_logits_and_grad(x, y, weight=w, pos_weight=p, reduction="none")
    ref = [ref_bce(*a) for a in zip(x.tolist(), y.tolist(), w.tolist(), p.tolist())]
    bl, bg = _bounds("bce_with_logits", "any", dt)
    _check("loss", loss, [r[0] for r in ref], dt, bl)
    _check("grad", grad, [r[1] for r in ref], dt, bg)
    # label smoothing: exact for the smoothed target as formed (one rounding)
    loss, grad = S.bce_with_logits_and_grad(x, y, reduction="none", label_smoothing=0.1)
    ref = [ref_bce(a, b, 1.0, 1.0, 0.1) for a, b in zip(x.tolist(), y.tolist())]
    _check("smoothed loss", loss, [r[0] for r in ref], dt, bl)
    _check("smoothed grad", grad, [r[1] for r in ref], dt, bg)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_bce_with_0_1_targets_against_mpmath(dt, reduction):
    """The usual case (targets 0 and 1, no weights) has its own kernels: on
    float lanes for float32 logits up to 40 in magnitude, on double lanes
    beyond.  Both round to within 1 ULP, the mean's gradient included."""
    rng = np.random.default_rng(11)
    x = samples.binades(dt, 12 if dt == np.float32 else 4, rng, hi=5)
    x = rng.permutation(np.concatenate([x[np.abs(x) <= 40], rng.uniform(-40, 40, 4000).astype(dt)]))
    # all of it in vectors the fast kernel takes, then the same values among
    # large logits that send their vectors to the double lanes
    x = np.concatenate([x, np.where(np.arange(x.size) % 7 == 3, dt(60.0), x)]).astype(dt)
    y = (rng.random(x.size) < 0.5).astype(dt)
    loss, grad = S.bce_with_logits_and_grad(x, y, reduction=reduction)
    ref = [ref_bce(a, b) for a, b in zip(x.tolist(), y.tolist())]
    scale = 1 / x.size if reduction == "mean" else 1
    bl, bg = _bounds("bce_with_logits", "0/1", dt)
    _check("gradient", grad, [r[1] * scale for r in ref], dt, bg)
    if reduction == "none":
        _check("loss", loss, [r[0] for r in ref], dt, bl)
    else:
        want = math.fsum(float(r[0]) for r in ref) / x.size
        assert abs(float(loss) - want) <= 2 * np.finfo(dt).eps * want


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bce_gradient_keeps_its_accuracy_at_its_zero(dt):
    """Soft targets and logits near logit(y), where (1 - y) sigma(x) and
    y sigma(-x) cancel: the double-double recomputation."""
    rng = np.random.default_rng(2)
    n = 3000
    y = rng.uniform(0.01, 0.99, n).astype(dt)
    x0 = np.log(y.astype(np.float64) / (1 - y.astype(np.float64)))
    x = (x0 * (1 + rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-12, -1, n))).astype(dt)
    g = S.bce_with_logits_backward(x, y, reduction="none")
    bg = _bounds("bce_with_logits", "any", dt)[1]
    _check("grad near zero", g, [ref_bce(a, b)[1] for a, b in zip(x.tolist(), y.tolist())], dt, bg)
    # down to the zero itself: logits within a few ulps of it, where the two
    # terms agree to 60 bits and more, with weights, pos_weight and an
    # incoming gradient that are not powers of two
    w = rng.uniform(0.1, 3, n).astype(dt)
    p = rng.uniform(0.2, 4, n).astype(dt)
    go = rng.uniform(-2, 2, n).astype(dt)
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    x0 = np.log(p64 * y64 / (1 - y64))
    x = (x0 * (1 + rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-17, -1, n))).astype(dt)
    g = S.bce_with_logits_backward(x, y, go, weight=w, pos_weight=p, reduction="none")
    ref = [ref_bce(*a)[1] * c for *a, c in zip(x.tolist(), y.tolist(), w.tolist(), p.tolist(), go.tolist())]
    _check("weighted grad near zero", g, ref, dt, bg)


def test_gradient_at_huge_logits_is_exactly_sigma_minus_y():
    for dt in (np.float32, np.float64):
        x = np.array([1e9, -1e9, 1e9, -1e9], dtype=dt)
        y = np.array([0.0, 0.0, 0.3, 0.7], dtype=dt)
        g = S.bce_with_logits_backward(x, y, reduction="none")
        # sigma(+-1e9) is exactly 1 or 0 in every dtype
        np.testing.assert_array_equal(g, (x > 0).astype(dt) - y)
        assert np.all(np.isfinite(S.bce_with_logits(x, y, reduction="none")))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.25, 1.0), (-1.0, 0.5), (0.75, 3.7), (0.4, 0.3)])
def test_focal_loss_per_element_against_mpmath(dt, alpha, gamma):
    """Every binade of logits, and the moderate logits where the two terms of
    the gradient for a soft target cancel (both within 4 ULP)."""
    rng = np.random.default_rng(3)
    x = logits(dt, 4 if dt == np.float64 else 12, rng)
    y = targets(x.size, rng, dt)
    xm = rng.uniform(-12, 12, 3000).astype(dt)
    x, y = np.concatenate([x, xm]), np.concatenate([y, rng.uniform(0, 1, xm.size).astype(dt)])
    loss, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=None if alpha < 0 else alpha, gamma=gamma)
    ref = [ref_focal(a, b, alpha, gamma) for a, b in zip(x.tolist(), y.tolist())]
    bl, bg = _bounds("sigmoid_focal_loss", "any", dt)
    _check("focal loss", loss, [r[0] for r in ref], dt, bl)
    _check("focal grad", grad, [r[1] for r in ref], dt, bg)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("alpha", [None, 0.75])
def test_focal_with_gamma_zero_is_alpha_t_times_bce(dt, alpha):
    """gamma = 0 removes the modulating factor: the loss is alpha_t times the
    cross-entropy, its gradient alpha_t (sigma(x) - y); against mpmath's
    cross-entropy (the library runs alpha=None through the BCE kernel, so
    comparing it with bce_with_logits would prove nothing)."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(3000) * 20).astype(dt)
    y = targets(3000, rng, dt)
    loss, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=alpha, gamma=0.0)
    ref = [ref_bce(a, b) for a, b in zip(x.tolist(), y.tolist())]
    a = None if alpha is None else mp.mpf(alpha)
    at = [1 if a is None else a * b + (1 - a) * (1 - b) for b in map(mp.mpf, y.tolist())]
    bl, bg = _bounds("sigmoid_focal_loss", "any", dt)
    _check("loss", loss, [t * r[0] for t, r in zip(at, ref)], dt, bl)
    _check("gradient", grad, [t * r[1] for t, r in zip(at, ref)], dt, bg,
           scale=np.array([float(t * max(abs(r[1]), b)) for t, r, b in zip(at, ref, y.tolist())]))


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1.0, 0.5), (0.4, 0.3), (0.75, 1.0)])
def test_focal_loss_float64_hard_ranges_against_mpmath(alpha, gamma):
    """float64, where the float64 focal loss is hardest to round: targets 0
    and 1 at logits 10 to 45 in magnitude (e^-|x| from 2^-14 to 2^-65, where
    log1p(e^-|x|) must keep its last bits), targets down to 2^-1000 and within
    2^-50 of 1, and logits of every size for those; each result within the
    table's bound (1 ULP: alpha_t, ce, m^gamma and the gradient's terms in
    double-double, rounded once)."""
    rng = np.random.default_rng(8)
    n = 1500
    xh = rng.uniform(10, 45, n) * rng.choice([-1, 1], n)
    yh = rng.integers(0, 2, n).astype(np.float64)
    k = rng.integers(20, 1000, n)
    ys = np.where(rng.integers(0, 2, n) == 1, np.ldexp(rng.uniform(1, 2, n), -k),
                  1 - np.ldexp(rng.uniform(1, 2, n), -rng.integers(2, 50, n)))
    xs = rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-3, 3, n)
    x, y = np.concatenate([xh, xs]), np.concatenate([yh, ys])
    loss, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=None if alpha < 0 else alpha, gamma=gamma)
    ref = [ref_focal(a, b, alpha, gamma) for a, b in zip(x.tolist(), y.tolist())]
    bl, bg = _bounds("sigmoid_focal_loss", "any", np.float64)
    _check("focal loss", loss, [r[0] for r in ref], np.float64, bl)
    _check("focal grad", grad, [r[1] for r in ref], np.float64, bg)


@pytest.mark.parametrize("gamma, lo, hi", [(2.0, 232, 250), (1.0, 355, 375)])
def test_focal_loss_float64_below_the_normal_range_against_mpmath(gamma, lo, hi):
    """float64 soft targets near e^x, at logits where m is small and the loss
    and gradient fall below 2^-1022 (about x e^(-(gamma + 1)|x|)), where
    m^gamma's power of two is applied to the rounded results: within 1 ULP."""
    rng = np.random.default_rng(12)
    x = -rng.uniform(lo, hi, 1500)
    y = np.exp(x) * np.exp(rng.uniform(-3, 3, x.size))
    loss, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=0.25, gamma=gamma, reduction="none")
    ref = [ref_focal(a, b, 0.25, gamma) for a, b in zip(x.tolist(), y.tolist())]
    for name, got, want in (("loss", loss, [r[0] for r in ref]), ("grad", grad, [r[1] for r in ref])):
        want = rounded(want, np.float64)
        assert np.count_nonzero(np.abs(want) < 2.0**-1022) > x.size // 2, f"the {name}s must lie below 2^-1022"
        d = R.ulp_distance(got, want)
        i = int(np.argmax(d))
        assert d[i] <= 1, f"focal {name}: {d[i]} ULP at x = {x[i]!r}, y = {y[i]!r}"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (0.4, 0.3), (-1.0, 3.7)])
def test_focal_gradient_near_its_zero_against_mpmath(dt, alpha, gamma):
    """Soft targets: logits from 41 to 10^9 ulps of the gradient's zero
    (found by mpmath), where (sigma(x) - y) and the modulating term cancel,
    are within the table's bound of the result; the 40 nearest on each side,
    where they cancel beyond double-double, within it relative to the larger
    term (the bound's note)."""
    rng = np.random.default_rng(9)
    itype = np.int64 if dt == np.float64 else np.int32
    far, near, yv = [], [], []
    for y in rng.uniform(0.03, 0.97, 5).astype(dt).tolist():
        with mp.workdps(40):
            z = mp.findroot(lambda t: ref_focal(t, y, alpha, gamma)[1], mp.log(mp.mpf(y) / (1 - mp.mpf(y))))
        zb = np.array([float(z)], dt).view(itype)[0].astype(np.int64)
        hi = 10**9 if dt == np.float64 else 10**5
        ks = rng.integers(41, hi, 40) * rng.choice([-1, 1], 40)
        sgn = 1 if zb >= 0 else -1   # same-sign neighbours (the zero is never at x = 0 here)
        far += [zb + sgn * k for k in ks]
        near += [zb + sgn * k for k in range(-40, 41)]
        yv.append(y)
    for name, bits in (("far", far), ("near", near)):
        x = np.array(bits, dtype=np.int64).astype(itype).view(dt)
        y = np.repeat(np.array(yv, dtype=dt), x.size // len(yv))
        _, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=None if alpha < 0 else alpha, gamma=gamma)
        ref = [ref_focal(a, b, alpha, gamma) for a, b in zip(x.tolist(), y.tolist())]
        bg = _bounds("sigmoid_focal_loss", "any", dt)[1]
        if name == "far":
            _check("focal grad near its zero", grad, [r[1] for r in ref], dt, bg)
        else:
            first = [abs(_sig_mp(a) - b) for a, b in zip(x.tolist(), y.tolist())]
            a = mp.mpf(alpha)
            at = [1 if alpha < 0 else a * b + (1 - a) * (1 - b) for b in map(mp.mpf, y.tolist())]
            m = [b * _sig_mp(-a) + (1 - mp.mpf(b)) * _sig_mp(a) for a, b in zip(x.tolist(), y.tolist())]
            scale = np.array([float(t * mm ** gamma * f) for t, mm, f in zip(at, m, first)])
            _check("focal grad at its zero", grad, [r[1] for r in ref], dt, bg, scale=scale)


def _same_bits(a, b):
    """Bit for bit, nan payloads aside; -0 and +0 differ."""
    a, b = np.asarray(a), np.asarray(b)
    it = {4: np.int32, 8: np.int64}[a.dtype.itemsize]
    return bool(np.all((a.view(it) == b.view(it)) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_loss_elements_do_not_depend_on_their_neighbours_or_the_isa(dt, isa):
    """Each element's loss and gradient is the same bits whatever its
    neighbours (the array shuffled, and a few elements alone) and under every
    instruction set as under the portable kernels (2, 4 or 8 lanes a
    vector): targets 0, 1 and soft mixed, logits on both sides of the
    kernels' switches (|x| 14, 37.5, 300, 690).  A kernel that picks a
    formula per vector rather than per lane fails this."""
    rng = np.random.default_rng(12)
    n = 30000
    x = rng.uniform(-1, 1, n) * 10.0 ** rng.uniform(-1, 3, n)
    y = np.where(rng.random(n) < 0.6, rng.integers(0, 2, n), rng.uniform(0, 1, n))
    x, y = x.astype(dt), y.astype(dt)
    perm = rng.permutation(n)
    calls = [lambda a, b: S.bce_with_logits_and_grad(a, b, reduction="none"),
             lambda a, b: S.bce_with_logits_and_grad(a, b, label_smoothing=0.1, reduction="none")]
    calls += [lambda a, b, al=al, ga=ga: S.sigmoid_focal_loss_and_grad(a, b, alpha=al, gamma=ga, reduction="none")
              for al, ga in ((0.25, 2.0), (None, 1.0), (0.4, 0.3), (0.75, 0.0))]
    old = _core._get_isa()
    try:
        _core._set_isa("portable")
        ref = [f(x, y) for f in calls]
    finally:
        _core._set_isa(old)
    for f, r in zip(calls, ref):
        whole = f(x, y)
        shuffled = f(x[perm], y[perm])
        alone = [f(x[i:i + 1], y[i:i + 1]) for i in range(40)]
        for j in range(2):
            assert _same_bits(whole[j], r[j]), f"{isa} differs from portable ({j})"
            assert _same_bits(whole[j][perm], shuffled[j]), f"{isa}: the shuffled array differs ({j})"
            assert _same_bits(whole[j][:40], np.concatenate([a[j] for a in alone])), f"{isa}: alone differs ({j})"


def _sig_mp(x):
    return 1 / (1 + mp.exp(-mp.mpf(x)))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bce_on_probabilities_against_mpmath(dt):
    rng = np.random.default_rng(5)
    q = np.concatenate([samples.binades(dt, 10, rng, signs=(1,), hi=-1), rng.uniform(0, 1, 2000),
                        [0.0, 1.0, 0.5]]).astype(dt)
    q = np.concatenate([q, (1 - q[:500]).astype(dt)])
    y = targets(q.size, rng, dt)
    w = np.where(rng.random(q.size) < 0.5, 1.0, rng.uniform(0.1, 3, q.size)).astype(dt)
    loss = S.binary_cross_entropy(q, y, weight=w, reduction="none")
    grad = S.binary_cross_entropy_backward(q, y, weight=w, reduction="none")
    ref = [ref_bce_probs(a, b, c) for a, b, c in zip(q.tolist(), y.tolist(), w.tolist())]
    bl, bg = _bounds("binary_cross_entropy", "any", dt)
    _check("bce loss", loss, [r[0] for r in ref], dt, bl)
    # q - y may cancel: exact (float64: with q (1 - q) and their quotient
    # in double-double)
    _check("bce grad", grad, [r[1] for r in ref], dt, bg)


# ------------------------------------------------------------ reductions

def test_mean_does_not_drift_with_n():
    rng = np.random.default_rng(6)
    n = 2_000_003
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    y = (rng.random(n) < 0.3).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    # an independent float64 form (NumPy's logaddexp, a few ulps), far
    # tighter than the float32 tolerance below
    per = (1 - y64) * np.logaddexp(0, x64) + y64 * np.logaddexp(0, -x64)
    exact = math.fsum(per.tolist()) / n
    mean = S.bce_with_logits(x, y)
    assert abs(float(mean) - exact) <= 1e-7 * exact
    loss, grad = S.bce_with_logits_and_grad(x, y)
    assert loss == mean
    np.testing.assert_allclose(grad, S.bce_with_logits_backward(x, y), rtol=0, atol=0)


def test_float32_sum_keeps_what_a_double_sum_drops(isa):
    """float32 losses are summed exactly (double-double) and rounded once.
    Sixteen losses of 20 first, one of them 20 + 2^-16 (so that every
    accumulator lane starts with one, for every vector width), add up to a
    midpoint of the float32 grid, 320 + 2^-16; then 65,520 losses of about
    4e-18 each, below half an ulp of a lane's running double sum, lift the
    exact total above it.  A plain double sum drops every one of them and
    rounds the midpoint to even (320); the exact sum rounds up.  65,536
    elements in all: one chunk of the pass (a chunk summed on its own would
    keep its small losses even in plain double)."""
    big = np.full(16, 20.0, dtype=np.float32)
    big[-1] = np.float32(20 + 2.0**-16)
    x = np.concatenate([big, np.full(2**16 - 16, -40.0, dtype=np.float32)])
    y = np.zeros_like(x)
    per = S.bce_with_logits(x, y, reduction="none")
    # the losses as planned: softplus(20) rounds to 20 in float32
    assert np.array_equal(per[:16], big) and 0 < per[16] < 1e-17
    want = np.float32(math.fsum(per.astype(np.float64).tolist()))
    assert want == np.float32(320 + 2.0**-15)
    assert S.bce_with_logits(x, y, reduction="sum") == want
    assert S.bce_with_logits_and_grad(x, y, reduction="sum")[0] == want


def test_results_do_not_depend_on_thread_count(threads):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 1000)) * 5
    y = rng.random((300, 1000))
    pw = rng.random(1000) + 0.5
    S.set_num_threads(1)
    one = S.bce_with_logits_and_grad(x, y, pos_weight=pw, reduction="sum")
    two = S.sigmoid_focal_loss_and_grad(x, y, reduction="mean")
    for t in (2, 3, 8):
        S.set_num_threads(t)
        a = S.bce_with_logits_and_grad(x, y, pos_weight=pw, reduction="sum")
        b = S.sigmoid_focal_loss_and_grad(x, y, reduction="mean")
        assert a[0] == one[0] and b[0] == two[0]
        np.testing.assert_array_equal(a[1], one[1])
        np.testing.assert_array_equal(b[1], two[1])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_each_element_is_computed_alike_wherever_it_sits(dt):
    """An element's result depends on its own inputs only: not on its
    neighbours (which decide how a vector is computed), its position, the
    instruction set or the thread count."""
    from sigmoid import _core

    rng = np.random.default_rng(12)
    n = 3000
    x = (rng.standard_normal(n) * 8).astype(dt)
    x[rng.random(n) < 0.03] *= 50  # beyond the float lanes' range
    y = (rng.random(n) < 0.4).astype(dt)
    soft = rng.random(n) < 0.03
    y[soft] = rng.random(soft.sum())
    calls = [
        lambda a, b: S.bce_with_logits_and_grad(a, b, reduction="none"),
        lambda a, b: S.bce_with_logits_and_grad(a, b, reduction="none", pos_weight=dt(2.0)),
        lambda a, b: S.sigmoid_focal_loss_and_grad(a, b),
    ]
    old = _core._get_isa()
    try:
        for call in calls:
            ref = None
            for isa in _core._supported_isas().split(","):
                _core._set_isa(isa)
                for shift in (0, 1, 5, 11):
                    got = call(np.concatenate([np.zeros(shift, dt), x]), np.concatenate([np.zeros(shift, dt), y]))
                    got = [r[shift:] for r in got]
                    if ref is None:
                        ref = got
                    for r, g in zip(ref, got):
                        np.testing.assert_array_equal(g, r, err_msg=f"{isa}, shifted by {shift}")
    finally:
        _core._set_isa(old)


def test_reductions_agree_with_each_other():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 5, 6))
    y = rng.random((4, 5, 6))
    w = rng.random((5, 1))
    none = S.bce_with_logits(x, y, weight=w, reduction="none")
    assert S.bce_with_logits(x, y, weight=w, reduction="sum") == pytest.approx(math.fsum(none.ravel()), rel=1e-15)
    assert S.bce_with_logits(x, y, weight=w) == pytest.approx(math.fsum(none.ravel()) / none.size, rel=1e-15)
    gn = S.bce_with_logits_backward(x, y, weight=w, reduction="none")
    np.testing.assert_allclose(S.bce_with_logits_backward(x, y, weight=w), gn / none.size, rtol=1e-15)
    # non-contiguous and reversed inputs give the same numbers
    xt, yt = x.transpose(2, 0, 1), y.transpose(2, 0, 1)
    np.testing.assert_array_equal(S.bce_with_logits(xt, yt, reduction="none"),
                                  S.bce_with_logits(np.ascontiguousarray(xt), np.ascontiguousarray(yt),
                                                    reduction="none"))
    np.testing.assert_array_equal(S.bce_with_logits(x[::-1], y[::-1], weight=w[::-1], reduction="none"),
                                  S.bce_with_logits(x[::-1].copy(), y[::-1].copy(), weight=w[::-1].copy(),
                                                    reduction="none"))
    assert np.isnan(S.bce_with_logits(np.empty(0), np.empty(0)))
    assert S.bce_with_logits(np.empty(0), np.empty(0), reduction="sum") == 0


def _reduction_case(case, n, dt, rng):
    """(function, arguments, keywords) of one kind of loss over n elements
    spanning many magnitudes (so that a plain sum would lose bits)."""
    x = (rng.standard_normal(n) * 8 * 10.0 ** rng.integers(-3, 3, n)).astype(dt)
    hard = (rng.random(n) < 0.4).astype(dt)
    soft = rng.random(n).astype(dt)
    if case == "bce, targets 0 and 1":
        return S.bce_with_logits, (x, hard), {}
    if case == "bce, soft targets, weight, pos_weight":
        return S.bce_with_logits, (x, soft), dict(weight=rng.random(n).astype(dt) * 3,
                                                  pos_weight=dt(2.5))
    if case == "bce, label smoothing":
        return S.bce_with_logits, (x, hard), dict(label_smoothing=0.1)
    if case == "focal":
        return S.sigmoid_focal_loss, (x, soft), dict(alpha=0.25, gamma=2.0)
    return S.binary_cross_entropy, (S.sigmoid(x), soft), {}


REDUCTION_CASES = ["bce, targets 0 and 1", "bce, soft targets, weight, pos_weight", "bce, label smoothing",
                   "focal", "probabilities"]


@pytest.mark.parametrize("case", REDUCTION_CASES)
def test_float64_sum_is_the_correctly_rounded_sum_of_the_elements(case, isa, threads):
    """The sum and mean of float64 losses, on every instruction set and
    thread count: the exactly rounded sum of the per-element losses
    (math.fsum), and that divided by n, across many chunks of the pass."""
    rng = np.random.default_rng(31)
    n = 300_007
    f, args, kw = _reduction_case(case, n, np.float64, rng)
    per = f(*args, reduction="none", **kw)
    exact = math.fsum(per.tolist())
    for t in (1, 2):
        S.set_num_threads(t)
        assert f(*args, reduction="sum", **kw) == exact
        assert f(*args, reduction="mean", **kw) == exact / n


@pytest.mark.parametrize("case", REDUCTION_CASES)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_sum_and_mean_against_mpmath(case, dt, isa):
    """The reduced loss against the exact sum of the exact losses (mpmath),
    within the table's bound: one ULP more than the elements' in float64;
    float32 losses are summed from their double values, within 1 ULP."""
    f, args, kw, total = _exact_total(case, dt)
    n = args[0].size
    loss = {S.bce_with_logits: "bce_with_logits", S.sigmoid_focal_loss: "sigmoid_focal_loss",
            S.binary_cross_entropy: "binary_cross_entropy"}[f]
    bound = reduced_bound(loss, "0/1" if case == "bce, targets 0 and 1" else "any", dt)
    for reduction, exact in (("sum", total), ("mean", total / n)):
        got = f(*args, reduction=reduction, **kw)
        d = int(R.ulp_distance(np.array([got], dtype=dt), np.array([R.round_exact(exact, dt)], dtype=dt))[0])
        assert d <= bound, f"{reduction}: {d} ULP"


@functools.lru_cache(maxsize=None)
def _exact_total(case, dt):
    """A case of 2001 elements and the exact sum of their exact losses."""
    n = 2001
    f, args, kw = _reduction_case(case, n, dt, np.random.default_rng(32))
    if f is S.binary_cross_entropy:
        ref = [ref_bce_probs(q, y)[0] for q, y in zip(*[a.tolist() for a in args])]
    elif f is S.sigmoid_focal_loss:
        ref = [ref_focal(x, y, 0.25, 2.0)[0] for x, y in zip(*[a.tolist() for a in args])]
    else:
        w = kw.get("weight", np.ones(n)).tolist()
        p = float(kw.get("pos_weight", 1.0))
        sm = kw.get("label_smoothing", 0.0)
        ref = [ref_bce(x, y, wi, p, sm)[0] for x, y, wi in zip(*[a.tolist() for a in args], w)]
    return f, args, kw, mp.fsum(ref)


# -------------------------------------------------------------- softmax

def test_two_class_softmax_is_the_sigmoid():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((5000, 2)) * 6
    d = z[:, 0] - z[:, 1]
    s0 = S.softmax(z)[:, 0]
    assert np.all(np.abs(s0 - S.sigmoid(d)) <= 2.0**-52 * (8 + np.abs(d)) * s0)
    y = (rng.random(5000) < 0.4).astype(np.float64)
    # the same loss ...
    onehot = np.stack([y, 1 - y], axis=1)
    ce = -(onehot * S.log_softmax(z)).sum(axis=1)
    np.testing.assert_allclose(S.bce_with_logits(d, y, reduction="none"), ce, rtol=1e-13, atol=1e-15)
    # ... and the same gradient: d ce / d z1 = softmax_1 - y = sigma(z1 - z2) - y
    # (softmax_1 - y cancels when softmax_1 is near y: absolute tolerance)
    np.testing.assert_allclose(S.bce_with_logits_backward(d, y, reduction="none"), S.softmax(z)[:, 0] - y,
                               rtol=1e-13, atol=4 * np.finfo(np.float64).eps)


def test_softmax_is_stable():
    x = np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]])
    s = S.softmax(x)
    assert np.all(np.isfinite(s)) and np.allclose(s.sum(axis=1), 1)
    np.testing.assert_array_equal(S.log_softmax(x)[0], [0.0, -1000.0, -2000.0])
    assert np.isnan(S.softmax(np.array([-np.inf, -np.inf]))).all()


# ----------------------------------------------------------------- torch

@pytest.fixture
def torch():
    """PyTorch, for the comparisons with it: only these tests skip without it."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")


def _torch_focal(x, y, alpha, gamma, reduction):
    """torchvision's sigmoid_focal_loss, written with torch ops."""
    import torch.nn.functional as F

    p = x.sigmoid()
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_against_torch_bce_with_logits(dt, reduction, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(10)
    shape = (3, 4, 5, 6)
    x = (rng.standard_normal(shape) * 4).astype(dt)
    y = rng.random(shape).astype(dt)
    w = rng.random((4, 1, 1)).astype(dt)
    pw = (rng.random(6) * 3).astype(dt)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tl = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(y), weight=torch.from_numpy(w),
                                            pos_weight=torch.from_numpy(pw), reduction=reduction)
    tl.backward(torch.ones_like(tl))
    loss, grad = S.bce_with_logits_and_grad(x, y, weight=w, pos_weight=pw, reduction=reduction)
    assert np.shape(loss) == tuple(tl.shape) and grad.shape == shape and grad.dtype == dt
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=TOL[dt])
    # torch's gradient cancels where (1 - y) sigma(x) and p y sigma(-x) meet:
    # its error there is relative to the larger term, not to the result
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    sig = np.exp(-np.logaddexp(0, -x64))  # NumPy's sigma, for the tolerance only
    terms = w * ((1 - y64) * sig + pw * y64 * (1 - sig))
    if reduction == "mean":
        terms = terms / x.size
    err = np.abs(grad - tx.grad.numpy())
    assert np.all(err <= TOL[dt] * np.abs(grad) + 8 * np.finfo(dt).eps * terms)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_against_torch_binary_cross_entropy(dt, reduction, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    q = rng.uniform(0.001, 0.999, (7, 9)).astype(dt)
    y = rng.random((7, 9)).astype(dt)
    w = rng.random(9).astype(dt)
    tq = torch.from_numpy(q.copy()).requires_grad_(True)
    tl = F.binary_cross_entropy(tq, torch.from_numpy(y), weight=torch.from_numpy(w), reduction=reduction)
    tl.backward(torch.ones_like(tl))
    np.testing.assert_allclose(S.binary_cross_entropy(q, y, weight=w, reduction=reduction), tl.detach().numpy(),
                               rtol=TOL[dt])
    np.testing.assert_allclose(S.binary_cross_entropy_backward(q, y, weight=w, reduction=reduction),
                               tq.grad.numpy(), rtol=TOL[dt])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_against_torch_focal(dt, reduction, torch):
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((50, 8)) * 3).astype(dt)
    y = (rng.random((50, 8)) < 0.3).astype(dt)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tl = _torch_focal(tx, torch.from_numpy(y), 0.25, 2.0, reduction)
    tl.backward(torch.ones_like(tl))
    loss, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=0.25, gamma=2.0, reduction=reduction)
    # torch forms 1 - p_t by subtraction: where p_t is near 1 its relative
    # error is eps / (1 - p_t), and (1 - p_t)^2 doubles it
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    sig, sig_neg = np.exp(-np.logaddexp(0, -x64)), np.exp(-np.logaddexp(0, x64))  # NumPy's, for the tolerance
    m = y64 * sig_neg + (1 - y64) * sig
    slack = TOL[dt] + 8 * np.finfo(dt).eps / m
    tloss, tgrad = tl.detach().numpy(), tx.grad.numpy()
    if reduction == "none":
        assert np.all(np.abs(loss - tloss) <= slack * np.abs(tloss))
    else:
        assert abs(loss - tloss) <= np.max(slack) * abs(tloss)
    assert np.all(np.abs(grad - tgrad) <= slack * (np.abs(tgrad) + np.finfo(dt).tiny))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1.0, 0.5), (0.0, 1.5)])
def test_focal_loss_at_infinite_logits_is_the_limit(dt, alpha, gamma):
    """q = 1 - p_t at the limit (1 - y at +inf, y at -inf): the loss is inf
    unless q = 0 (or alpha_t = 0), the gradient +-alpha_t q^(gamma + 1)."""
    x = np.array([-np.inf, np.inf, np.inf, -np.inf, np.inf, -np.inf], dtype=dt)
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 0.3], dtype=dt)
    loss, grad = S.sigmoid_focal_loss_and_grad(x, y, alpha=None if alpha < 0 else alpha, gamma=gamma)
    y64 = y.astype(np.float64)
    q = np.where(x > 0, 1 - y64, y64)
    at = np.ones(6) if alpha < 0 else alpha * y64 + (1 - alpha) * (1 - y64)
    np.testing.assert_array_equal(loss, np.where((q > 0) & (at > 0), np.inf, 0.0).astype(dt))
    np.testing.assert_allclose(grad, (np.sign(x) * at * q ** (gamma + 1)).astype(dt), rtol=4 * np.finfo(dt).eps)
    # and within the table's bound of the exact limit, for many targets
    rng = np.random.default_rng(14)
    yr = rng.uniform(0, 1, 400).astype(dt)
    for sign in (1, -1):
        xr = np.full(yr.size, sign * np.inf, dtype=dt)
        _, g = S.sigmoid_focal_loss_and_grad(xr, yr, alpha=None if alpha < 0 else alpha, gamma=gamma)
        a, ga = mp.mpf(alpha), mp.mpf(gamma)
        want = []
        for b in map(mp.mpf, yr.tolist()):
            qq = 1 - b if sign > 0 else b
            want.append(sign * (1 if alpha < 0 else a * b + (1 - a) * (1 - b)) * qq ** (ga + 1))
        _check(f"gradient at {sign * np.inf}", g, want, dt, _bounds("sigmoid_focal_loss", "any", dt)[1])


# ------------------------------------------------------------------ Dask

def test_dask_arrays_stay_lazy_and_agree_with_numpy():
    da = pytest.importorskip("dask.array", reason="needs dask")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((900, 6)).astype(np.float32)
    y = (rng.random((900, 6)) < 0.3).astype(np.float32)
    w = rng.random(6).astype(np.float32)
    calls = []

    def counted(block):
        calls.append(1)
        return block

    X = da.from_array(x, chunks=(300, 6)).map_blocks(counted, dtype=x.dtype, meta=np.empty((0, 0), x.dtype))
    Y = da.from_array(y, chunks=(200, 6))           # other chunks: aligned to the logits'
    calls.clear()
    for reduction in ("mean", "sum", "none"):
        loss, grad = S.bce_with_logits_and_grad(X, Y, pos_weight=w, reduction=reduction)
        assert isinstance(loss, da.Array) and isinstance(grad, da.Array) and not calls
        want_loss, want_grad = S.bce_with_logits_and_grad(x, y, pos_weight=w, reduction=reduction)
        np.testing.assert_allclose(loss.compute(), want_loss, rtol=1e-6)
        np.testing.assert_array_equal(grad.compute(), want_grad)
        assert grad.chunks == X.chunks and loss.dtype == np.float32
        calls.clear()
    loss, grad = S.sigmoid_focal_loss_and_grad(X, Y)
    np.testing.assert_array_equal(loss.compute(), S.sigmoid_focal_loss(x, y))
    g = S.bce_with_logits_backward(X, Y, X, reduction="none")
    np.testing.assert_array_equal(g.compute(), S.bce_with_logits_backward(x, y, x, reduction="none"))


def test_dask_bad_input():
    da = pytest.importorskip("dask.array", reason="needs dask")
    X = da.zeros((10, 3), chunks=5)
    with pytest.raises(ValueError, match=r"same shape, got \(10, 3\) and \(10, 1\)"):
        S.bce_with_logits(X, da.zeros((10, 1)))
    unknown = X[X[:, 0] >= 0]
    with pytest.raises(ValueError, match=r"unknown chunk sizes; call .compute_chunk_sizes\(\)"):
        S.bce_with_logits(unknown, unknown)
    with pytest.raises(ValueError, match="targets must lie in"):
        S.bce_with_logits(X, X + 2).compute()


# ======================================================================
# softmax and log_softmax: the limits at +-inf and NaN, empty and bad axes,
# no floating-point warnings, and exactness against mpmath, for float16,
# float32 and float64, 1-D and N-D, along every axis.

FLOATS = [np.float16, np.float32, np.float64]
SOFTMAX_PAIR = [S.softmax, S.log_softmax]


def softmax_ulp_bound(f, dtype):
    """The bound of `f` in `dtype` from the library's one table of bounds,
    which its docstring shows too."""
    return softmax_bound(f.__name__, dtype)


def exact_softmax_pair(row):
    """softmax and log_softmax of one slice of scores (finite or -inf, the
    maximum finite), exactly: mpmath at 60 digits.  The sum of the
    exponentials other than one maximum's is kept apart, so that the log of
    1 + rest keeps a rest far below 10^-60."""
    mp = R.mp
    with mp.workdps(60):
        z = [mp.mpf(float(v)) for v in row]
        m = max(z)
        z = [v - m for v in z]
        top = z.index(0)
        rest = mp.fsum(mp.exp(v) for j, v in enumerate(z) if j != top)
        lse = mp.log1p(rest)
        return [mp.exp(v) / (1 + rest) for v in z], [v - lse for v in z]


def softmax_reference(x, axis=-1):
    """(softmax, log_softmax) of x along axis, each correctly rounded to x's
    dtype, from exact_softmax_pair slice by slice."""
    xm = np.moveaxis(x, axis, -1)
    out = np.empty((2,) + xm.shape, x.dtype)
    for idx in np.ndindex(xm.shape[:-1]):
        for k, values in enumerate(exact_softmax_pair(xm[idx])):
            out[(k,) + idx] = [R.round_exact(v, x.dtype) for v in values]
    return np.moveaxis(out[0], -1, axis), np.moveaxis(out[1], -1, axis)


def within_ulp(got, want, bound):
    """Whether every element of got is within `bound` ULP of want (NaN only
    where want is NaN; infinities equal)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    return bool(np.all(R.ulp_distance(got, want) <= bound))


def sum_is_one(p, bound, axis=-1):
    """Whether the exact sum of each slice of p is within bound eps of 1,
    give or take `bound` smallest subnormals for each subnormal element (the
    docstring's consequence of a per-element bound)."""
    fi = np.finfo(p.dtype)
    pm = np.moveaxis(p, axis, -1)
    for idx in np.ndindex(pm.shape[:-1]):
        row = pm[idx].astype(np.float64)
        n_sub = np.count_nonzero((row > 0) & (row < fi.smallest_normal))
        slack = bound * (float(fi.eps) + n_sub * float(fi.smallest_subnormal))
        if not abs(math.fsum(row.tolist()) - 1.0) <= slack:
            return False
    return True


def accuracy_rows(dtype, rng):
    """Slices that stress the max-shift (far apart, inexact differences),
    the sum of the exponentials (many terms, tiny terms, equal terms) and the
    subnormal range."""
    fi = np.finfo(dtype)
    big, tiny = float(fi.max), float(fi.smallest_subnormal)
    # below `zero` every e^(x - m) rounds to 0; below `sub` it is subnormal
    zero, sub = {np.float16: (-17.5, -9.7), np.float32: (-104.5, -87.4), np.float64: (-745.5, -708.4)}[dtype]
    small = {np.float16: 8.0, np.float32: 17.0, np.float64: 37.0}[dtype]  # e^-small ~ eps: the rest is tiny
    rows = [
        rng.standard_normal(7) * 3,
        rng.standard_normal(60) * 30,
        rng.uniform(-1.5 * abs(zero), 1.5 * abs(zero), 40),   # x - m rounds when x and m differ in binade
        rng.uniform(zero, 0.0, 40),
        np.r_[0.0, rng.uniform(zero, sub, 40)],               # subnormal results, sum subnormal too
        np.r_[0.0, np.full(50, rng.uniform(zero, sub))],     # equal subnormal terms: their rounding adds up
        np.r_[0.0, -rng.uniform(small, small + 10, 40)],      # log_softmax of the max = -rest, tiny
        np.r_[0.0, np.full(300, -rng.uniform(1, 3))],         # many equal terms
        [big, -big], [big, big / 2, 0.0, -big], [-big, -big], [0.0, zero], [0.0, sub],
        [tiny, 0.0], [-tiny, 0.0], [0.0, -0.0], [1.0, 1.0, 1.0, 0.0], [-5.0, -5.0],
        [0.0, -np.inf, 1.0], [-np.inf, 5.0, -np.inf], [3.0],
    ]
    if dtype == np.float64:
        rows += [[1e308, -1e308], [0.0, -745.0], [700.25, 0.1, -700.3], 1e4 + rng.standard_normal(20)]
    with np.errstate(over="ignore"):
        return [np.asarray(r, dtype=np.float64).astype(dtype) for r in rows]


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_pair_accuracy_against_mpmath(dtype):
    rng = np.random.default_rng(70)
    for f in SOFTMAX_PAIR:
        bound = softmax_ulp_bound(f, dtype)
        assert bound <= 4
        for row in accuracy_rows(dtype, rng):
            want = softmax_reference(row)[SOFTMAX_PAIR.index(f)]
            got = f(row)
            assert got.dtype == dtype
            assert within_ulp(got, want, bound), (f.__name__, row, got, want)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_softmax_pair_accuracy_along_every_axis(dtype, axis):
    """N-D, every axis, and inputs laid out in every way (transposed, strided,
    read-only): each slice against mpmath, the input left as it was."""
    rng = np.random.default_rng(71 + axis)
    scale = {np.float16: 4.0, np.float32: 30.0, np.float64: 300.0}[dtype]
    base = (rng.standard_normal((4, 5, 6)) * scale).astype(dtype)
    layouts = [base, np.asfortranarray(base), base.transpose(2, 0, 1).copy().transpose(1, 2, 0),
               np.repeat(base, 2, axis=1)[:, ::2]]
    want = softmax_reference(base, axis)
    for layout, x in enumerate(layouts):
        np.testing.assert_array_equal(x, base)
        x.flags.writeable = False
        for f, w in zip(SOFTMAX_PAIR, want):
            got = f(x, axis=axis)
            assert got.dtype == dtype and got.flags.c_contiguous
            assert within_ulp(got, w, softmax_ulp_bound(f, dtype)), (f.__name__, layout)
        np.testing.assert_array_equal(x, base)


def test_softmax_pair_accuracy_with_many_classes():
    """5000 classes, along axis 0: the bound holds whatever the number of
    terms in the sum of the exponentials."""
    rng = np.random.default_rng(72)
    x = np.empty((5000, 2))
    x[:, 0] = -rng.uniform(1.0, 1.0 + 2.0**-20, 5000)
    x[:, 1] = -rng.uniform(30.0, 31.0, 5000)
    x[0] = 0.0
    want = softmax_reference(x, axis=0)
    for f, w in zip(SOFTMAX_PAIR, want):
        assert within_ulp(f(x, axis=0), w, softmax_ulp_bound(f, np.float64))


def test_log_softmax_where_a_plain_sum_rounds_up_at_every_term():
    """log_softmax of the maximum is -log1p(rest), rest the sum of the other
    exponentials: here e^(x - m) = 0.01 and 126 terms just over half an ulp
    of 0.01, so a sum that adds them one by one to 0.01 (as NumPy's
    pairwise sum does for the terms 8 apart) rounds up at each: 6 ULP off in
    float64, beyond the bound."""
    x = np.full((3, 128), np.log(0.55) - 59 * np.log(2))    # 0.55 ulp(0.01) = 0.55 2^-59
    x[:, 0] = np.log(0.01)
    x[:, 1] = 0.0
    x[1] = np.roll(x[1], 5)
    want = softmax_reference(x)
    for f, w in zip(SOFTMAX_PAIR, want):
        assert within_ulp(f(x), w, softmax_ulp_bound(f, np.float64))
    # the same check on NumPy's sum of the row (the maximum's 1 left out) sees "not held"
    others = np.exp(x[0])
    others[1] = 0.0
    plain = -np.log1p(np.sum(others))
    assert not within_ulp(plain, want[1][0, 1], softmax_ulp_bound(S.log_softmax, np.float64))


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_sums_to_one_within_the_documented_bound(dtype):
    rng = np.random.default_rng(73)
    bound = softmax_ulp_bound(S.softmax, dtype)
    for row in accuracy_rows(dtype, rng):
        if np.isfinite(np.max(row)):
            assert sum_is_one(S.softmax(row), bound), row
    x = (rng.standard_normal((50, 200)) * 10).astype(dtype)
    assert sum_is_one(S.softmax(x, axis=0), bound, axis=0)
    assert sum_is_one(S.softmax(x, axis=1), bound, axis=1)


@pytest.mark.parametrize("dtype", FLOATS)
def test_the_softmax_accuracy_checks_can_fail(dtype):
    """within_ulp and sum_is_one say "not held" for a result off by one ULP
    more than the bound, or summing to one eps more than the bound allows."""
    row = np.array([0.5, -1.0, 2.0, 0.0], dtype=dtype)
    want, _ = softmax_reference(row)
    bound = softmax_ulp_bound(S.softmax, dtype)
    off = want.copy()
    for _ in range(bound + 1):
        off[2] = np.nextafter(off[2], dtype(np.inf))
    assert within_ulp(want, want, bound) and not within_ulp(off, want, bound)
    assert sum_is_one(want, bound)
    bad = want.copy()
    bad[2] += dtype((bound + 1) * np.finfo(dtype).eps)
    assert not sum_is_one(bad, bound)


def _put(x, axis, index, values):
    """Write values into slice `index` (of the leading axes once `axis` is
    moved last) of x, in place."""
    np.moveaxis(x, axis, -1)[index] = values


SPECIAL_SHAPES = [((6,), 0), ((3, 6), 1), ((6, 3), 0), ((2, 6, 3), 1), ((3, 2, 6), -1)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, axis", SPECIAL_SHAPES)
@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_softmax_pair_at_plus_infinity(dtype, shape, axis, k):
    """k scores +inf in a slice: softmax 1/k at each, 0 at the others (-inf
    included); log_softmax -log(k) and -inf.  Other slices as if alone."""
    rng = np.random.default_rng(74 + k)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    finite = x.copy()
    first = (0,) * (len(shape) - 1)
    row = np.moveaxis(x, axis, -1)[first].copy()
    where = rng.permutation(6)
    row[where[:k]] = np.inf
    if k < 6:
        row[where[-1]] = -np.inf          # a -inf beside the +inf's
    _put(x, axis, first, row)
    mp = R.mp
    at_inf = row == np.inf
    want_p = np.where(at_inf, R.round_exact(mp.mpf(1) / k, dtype), 0.0).astype(dtype)
    want_l = np.where(at_inf, R.round_exact(-mp.log(k), dtype), -np.inf).astype(dtype)
    ref = softmax_reference(finite, axis)
    for f, w, want in zip(SOFTMAX_PAIR, ref, (want_p, want_l)):
        got = f(x, axis=axis)
        assert got.dtype == dtype
        bound = softmax_ulp_bound(f, dtype)
        assert within_ulp(np.moveaxis(got, axis, -1)[first], want, bound), (f.__name__, row, got)
        _put(got, axis, first, np.moveaxis(w, axis, -1)[first])
        assert within_ulp(got, w, bound)   # the other slices


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, axis", SPECIAL_SHAPES)
@pytest.mark.parametrize("case", ["all -inf", "nan", "nan and +inf", "nan and -inf", "nan only"])
def test_softmax_pair_slices_without_a_limit_are_nan(dtype, shape, axis, case):
    """A slice of only -inf, or with a NaN anywhere: NaN throughout; the
    other slices as if alone."""
    rng = np.random.default_rng(75)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    finite = x.copy()
    first = (0,) * (len(shape) - 1)
    row = np.moveaxis(x, axis, -1)[first].copy()
    i, j = rng.permutation(6)[:2]
    if case == "all -inf":
        row[:] = -np.inf
    elif case == "nan only":
        row[:] = np.nan
    else:
        row[i] = np.nan
        if case != "nan":
            row[j] = np.inf if case == "nan and +inf" else -np.inf
    _put(x, axis, first, row)
    for f, w in zip(SOFTMAX_PAIR, softmax_reference(finite, axis)):
        got = f(x, axis=axis)
        assert got.dtype == dtype
        assert np.isnan(np.moveaxis(got, axis, -1)[first]).all(), (f.__name__, case, got)
        _put(got, axis, first, np.moveaxis(w, axis, -1)[first])
        assert within_ulp(got, w, softmax_ulp_bound(f, dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.filterwarnings("error")
def test_softmax_pair_raises_no_floating_point_warning(dtype):
    """Every limit and extreme at once, under errstate(all="raise") with
    warnings as errors: each slice takes its own value."""
    fi = np.finfo(dtype)
    inf, nan = np.inf, np.nan
    x = np.array([[inf, 0.0, inf, -inf], [-inf, -inf, -inf, -inf], [nan, 0.0, 1.0, 2.0], [nan, inf, -inf, 0.0],
                  [fi.max, -fi.max, 0.0, -inf], [0.0, fi.smallest_subnormal, -fi.smallest_subnormal, -0.0],
                  [inf, inf, inf, inf], [0.0, -17.0, -110.0, -745.0]], dtype=dtype)
    with np.errstate(all="raise"):
        p, lp = S.softmax(x), S.log_softmax(x)
        pt, lpt = S.softmax(x.T, axis=0), S.log_softmax(x.T, axis=0)
    np.testing.assert_array_equal(pt.T, p)
    np.testing.assert_array_equal(lpt.T, lp)
    np.testing.assert_array_equal(p[0], [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(lp[0], np.array([-np.log(2), -inf, -np.log(2), -inf], dtype=dtype))
    assert np.isnan(p[1:4]).all() and np.isnan(lp[1:4]).all()
    np.testing.assert_array_equal(p[4], [1, 0, 0, 0])
    np.testing.assert_array_equal(lp[4], [0, -inf, -fi.max, -inf])
    np.testing.assert_array_equal(p[6], [0.25] * 4)
    assert np.isfinite(p[[5, 7]]).all() and np.isfinite(lp[5]).all()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, axis", [((3, 0), -1), ((3, 0), 1), ((0, 3), 0), ((0, 3), -1), ((2, 0, 4), 1),
                                         ((0,), 0), ((2, 0, 4), 0)])
def test_softmax_pair_on_an_empty_array(dtype, shape, axis):
    """An empty array, the axis of the classes empty or not: an empty result
    of the same shape and dtype, as NumPy's element-wise functions give."""
    x = np.zeros(shape, dtype)
    for f in SOFTMAX_PAIR:
        got = f(x, axis=axis)
        assert got.shape == shape and got.dtype == dtype


@pytest.mark.parametrize("f", SOFTMAX_PAIR)
def test_softmax_pair_axis_errors_name_the_function(f):
    name = f.__name__
    with pytest.raises(np.exceptions.AxisError,
                       match=rf"^{name}\(\): axis 2 is out of bounds for an array of dimension 2$"):
        f(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=rf"^{name}\(\): axis -3 is out of bounds for an array of dimension 2$"):
        f(np.zeros((2, 3)), axis=-3)
    with pytest.raises(IndexError, match=rf"^{name}\(\): axis -1 is out of bounds for an array of dimension 0$"):
        f(np.float64(1.0))
    for bad in (None, 1.0, True, (0, 1)):
        with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'axis' must be an integer, got "):
            f(np.zeros((2, 3)), axis=bad)
    np.testing.assert_array_equal(f(np.zeros((2, 3)), axis=np.int64(0)), f(np.zeros((2, 3)), axis=0))


def test_softmax_pair_all_minus_inf_is_nan_as_in_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    rng = np.random.default_rng(76)
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((5, 7)) * 10).astype(dtype)
        x[2] = -np.inf
        x[4, :3] = -np.inf
        tx = torch.from_numpy(x)
        # torch rounds x - max in the dtype, |x - max| eps relative in e^(x - max),
        # and takes the log of a sum near 1, eps absolute in log_softmax
        with np.errstate(invalid="ignore"):
            tol = (8 + np.abs(x - x.max(axis=1, keepdims=True))) * np.finfo(dtype).eps
        finite = np.isfinite(tol)                       # x and its slice's maximum finite
        for f, tf, relative in ((S.softmax, torch.softmax, True), (S.log_softmax, torch.log_softmax, False)):
            want = tf(tx, 1).numpy()
            got = f(x)
            assert np.isnan(got[2]).all()
            np.testing.assert_array_equal(got[~finite], want[~finite])   # 0 or -inf, and NaN
            scale = np.abs(want[finite]) if relative else 1.0
            assert np.all(np.abs(got[finite] - want[finite]) <= tol[finite] * scale)


# ------------------------------------------------------------- bfloat16

def test_losses_accept_bfloat16():
    """ml_dtypes' bfloat16: the losses compute in float32 (which holds every
    bfloat16 exactly) and round once; within 1 ULP of mpmath's value."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 needs ml_dtypes (in the test extra)")
    bf = np.dtype(ml_dtypes.bfloat16)
    rng = np.random.default_rng(40)
    x = (rng.standard_normal(500) * 6).astype(bf)
    y = rng.random(500).astype(bf)
    loss, grad = S.bce_with_logits_and_grad(x, y, reduction="none")
    assert loss.dtype == bf and grad.dtype == bf
    ref = [ref_bce(a, b) for a, b in zip(x.astype(np.float64).tolist(), y.astype(np.float64).tolist())]
    _check("loss", loss, [r[0] for r in ref], bf, 1)
    _check("gradient", grad, [r[1] for r in ref], bf, 1)
    assert np.asarray(S.bce_with_logits(x, y)).dtype == bf
    assert S.sigmoid_focal_loss(x, y).dtype == bf
    assert S.softmax(x).dtype == bf and S.log_softmax(x).dtype == bf
    # a float32 argument promotes the result to float32
    assert np.asarray(S.bce_with_logits(x, y.astype(np.float32))).dtype == np.float32


def test_an_unknown_loss_kind_is_refused():
    """The loss kinds are defined once in C and exported; the compiled pass
    refuses any other (it used to run the focal loss for an unknown one)."""
    from sigmoid import _core, losses

    assert (losses._BCE_LOGITS, losses._BCE_PROBS, losses._FOCAL) == (
        _core.LOSS_BCE_LOGITS, _core.LOSS_BCE_PROBS, _core.LOSS_FOCAL)
    x = np.zeros(3)
    for kind in (-1, 3, 99):
        with pytest.raises(ValueError, match=f"unknown loss kind {kind}"):
            _core._loss(kind, x, x, None, None, None, 0.0, -1.0, 0.0, 1.0, True, True)


# ------------------------------------------------------------------ out=

# (function, loss output, gradient output) for every loss function
_OUT_FUNCS = [
    (S.bce_with_logits, True, False),
    (S.bce_with_logits_backward, False, True),
    (S.bce_with_logits_and_grad, True, True),
    (S.binary_cross_entropy, True, False),
    (S.binary_cross_entropy_backward, False, True),
    (S.sigmoid_focal_loss, True, False),
    (S.sigmoid_focal_loss_backward, False, True),
    (S.sigmoid_focal_loss_and_grad, True, True),
]


def _out_inputs(f, shape, dt, rng):
    """Inputs for f: logits (probabilities for binary_cross_entropy) with
    soft targets near them, where the gradients cancel and are recomputed
    from the logits after the pass has written its block."""
    y = rng.uniform(0.01, 0.99, shape)
    if "binary_cross_entropy" in f.__name__:
        x = np.clip(y + rng.normal(0, 0.05, shape), 0.0, 1.0)
    else:
        x = np.log(y / (1 - y)) + rng.normal(0, 1e-5, shape)
        x.flat[::7] = 30 * rng.standard_normal(x.flat[::7].shape)
    return x.astype(dt), y.astype(dt)


def _outs(want_loss, want_grad, make):
    """out= for a function: one array, or the (loss, grad) pair"""
    if want_loss and want_grad:
        return (make(), make())
    return make()


def _as_pair(r, want_loss, want_grad):
    if want_loss and want_grad:
        return r
    return (r, None) if want_loss else (None, r)


@pytest.mark.parametrize("f,want_loss,want_grad", _OUT_FUNCS, ids=lambda v: getattr(v, "__name__", str(v)))
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_out_receives_the_results_bit_for_bit(f, want_loss, want_grad, dt, threads):
    """Outputs of the result's dtype, contiguous, strided and in Fortran
    order, over several chunks of the pass and on one and two threads:
    the same bits as the allocated results, written in place (the returned
    arrays are the ones passed), and nothing written between the strides."""
    rng = np.random.default_rng(11)
    x, y = _out_inputs(f, (300, 701), dt, rng)
    fresh = _as_pair(f(x, y, reduction="none"), want_loss, want_grad)
    layouts = [
        lambda: np.empty(x.shape, dt),
        lambda: np.full((300, 2 * 701), 7.0, dt)[:, ::2],
        lambda: np.empty(x.shape, dt, order="F"),
    ]
    for t in (1, 2):
        S.set_num_threads(t)
        for make in layouts:
            out = _outs(want_loss, want_grad, make)
            r = _as_pair(f(x, y, reduction="none", out=out), want_loss, want_grad)
            given = _as_pair(out, want_loss, want_grad)
            for got, o, ref in zip(r, given, fresh):
                if ref is None:
                    continue
                assert got is o
                np.testing.assert_array_equal(o, ref, strict=True)
                if o.base is not None and o.strides[1] == 2 * o.itemsize:
                    assert np.all(o.base[:, 1::2] == 7.0)


@pytest.mark.parametrize("f,want_loss,want_grad", [c for c in _OUT_FUNCS if c[2]],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_out_for_the_gradient_of_a_reduced_loss(f, want_loss, want_grad):
    rng = np.random.default_rng(12)
    x, y = _out_inputs(f, 5000, np.float32, rng)
    for reduction in ("mean", "sum"):
        ref = f(x, y, reduction=reduction)
        g = np.empty_like(x)
        out = (None, g) if want_loss else g
        r = f(x, y, reduction=reduction, out=out)
        if want_loss:
            assert r[0] == ref[0] and r[1] is g
            ref = ref[1]
        else:
            assert r is g
        np.testing.assert_array_equal(g, ref, strict=True)


@pytest.mark.parametrize("f,want_loss,want_grad", _OUT_FUNCS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_out_that_overlaps_an_input_or_needs_a_cast(f, want_loss, want_grad):
    """An output that is the logits themselves (or a view of the targets),
    or of another dtype than the result (float64 for float32 data, float32
    for float16 data), holds what the allocated result holds, cast."""
    rng = np.random.default_rng(13)
    x, y = _out_inputs(f, 20000, np.float32, rng)
    fresh = _as_pair(f(x, y, reduction="none"), want_loss, want_grad)
    k = 1 if want_grad else 0       # the output that overwrites the logits
    for where in ("logits", "targets"):
        xc, yc = x.copy(), y.copy()
        victim = xc if where == "logits" else yc
        out = [None, None]
        out[k] = victim
        if want_loss and want_grad:
            out[1 - k] = np.empty_like(x)
        r = _as_pair(f(xc, yc, reduction="none", out=tuple(out) if want_loss and want_grad else out[k]),
                     want_loss, want_grad)
        assert r[k] is victim
        np.testing.assert_array_equal(victim, fresh[k], strict=True)
    for data, out_dt in ((np.float32, np.float64), (np.float16, np.float32)):
        with np.errstate(under="ignore"):      # float16 logits near 0
            xd, yd = x.astype(data), y.astype(data)
        ref = _as_pair(f(xd, yd, reduction="none"), want_loss, want_grad)
        out = _outs(want_loss, want_grad, lambda: np.empty(x.shape, out_dt))
        r = _as_pair(f(xd, yd, reduction="none", out=out), want_loss, want_grad)
        for got, o, want in zip(r, _as_pair(out, want_loss, want_grad), ref):
            if want is not None:
                assert got is o
                np.testing.assert_array_equal(o, want.astype(out_dt), strict=True)


def test_a_refused_out_is_named_and_left_untouched():
    """Every refusal names the function and the argument, and writes
    nothing into the arrays it was given."""
    x = np.array([0.5, -2.0, 3.0], np.float32)
    y = np.array([1.0, 0.0, 0.5], np.float32)
    good = np.full(3, 7.0, np.float32)
    ro = np.full(3, 7.0, np.float32)
    ro.flags.writeable = False
    cases = [
        (S.bce_with_logits, dict(out=good), ValueError, r"bce_with_logits\(\): out receives per-element losses, "
                                                        r"which needs reduction='none', got reduction='mean'"),
        (S.bce_with_logits, dict(out=ro, reduction="none"), ValueError, r"bce_with_logits\(\): out is read-only"),
        (S.bce_with_logits_backward, dict(out=np.full(4, 7.0, np.float32)), ValueError,
         r"bce_with_logits_backward\(\): out has shape \(4,\), the result has shape \(3,\)"),
        (S.bce_with_logits_backward, dict(out=np.full((1, 3), 7.0, np.float32)), ValueError, r"out has shape"),
        (S.bce_with_logits_backward, dict(out=np.full(3, 7, np.int32)), TypeError,
         r"bce_with_logits_backward\(\): out has dtype int32, to which the float32 result cannot be cast"),
        (S.bce_with_logits_backward, dict(out=[7.0, 7.0, 7.0]), TypeError,
         r"bce_with_logits_backward\(\): out must be a NumPy array, got list"),
        (S.bce_with_logits_and_grad, dict(out=good), TypeError,
         r"bce_with_logits_and_grad\(\): out must be a tuple \(loss_out, grad_out\)"),
        (S.bce_with_logits_and_grad, dict(out=(good, None)), ValueError,
         r"bce_with_logits_and_grad\(\): out\[0\] receives per-element losses"),
        (S.bce_with_logits_and_grad, dict(out=(good, good[::-1]), reduction="none"), ValueError,
         r"bce_with_logits_and_grad\(\): out\[0\] and out\[1\] share memory"),
        (S.sigmoid_focal_loss_and_grad, dict(out=(None, np.full(3, 7, np.int64))), TypeError,
         r"sigmoid_focal_loss_and_grad\(\): out\[1\] has dtype int64"),
        (S.binary_cross_entropy_backward, dict(out=good, reduction="all"), ValueError,
         r"binary_cross_entropy_backward\(\): reduction must be one of"),
        (S.sigmoid_focal_loss, dict(out=good, alpha=2.0), ValueError, r"sigmoid_focal_loss\(\): alpha"),
    ]
    for f, kw, err, msg in cases:
        xin = np.clip(x, 0, 1) if "binary_cross_entropy" in f.__name__ else x
        with pytest.raises(err, match=msg):
            f(xin, y, **kw)
        for o in (kw["out"] if isinstance(kw["out"], tuple) else (kw["out"],)):
            if o is not None:
                assert np.all(np.asarray(o) == 7), (f.__name__, kw)
    # the inputs' own checks come first too
    with pytest.raises(ValueError, match="same shape"):
        S.bce_with_logits_backward(x, y[:2], out=good)
    assert np.all(good == 7)
    # targets outside [0, 1] are found by the pass: still an error
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        S.bce_with_logits_backward(x, np.array([1.0, 0.0, 1.5], np.float32), out=good)


def test_out_is_refused_for_dask_arrays():
    da = pytest.importorskip("dask.array")
    x = da.from_array(np.zeros(4))
    with pytest.raises(TypeError, match=r"bce_with_logits_backward\(\): out must be None for Dask arrays"):
        S.bce_with_logits_backward(x, x, out=np.empty(4))


def test_out_of_the_result_dtype_is_written_without_a_copy():
    """With an output of the computed dtype the pass writes into it: no
    array of the gradient's size is allocated (NumPy reports its
    allocations to tracemalloc)."""
    import tracemalloc
    rng = np.random.default_rng(14)
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(10**6).astype(dt)
        y = (rng.random(10**6) < 0.3).astype(dt)
        g = np.empty_like(x)
        for call in (lambda: S.bce_with_logits_and_grad(x, y, out=(None, g)),
                     lambda: S.sigmoid_focal_loss_backward(x, y, out=g)):
            tracemalloc.start()
            try:
                call()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < g.nbytes // 4, (dt, peak)   # the pass's block buffers: about 0.5 MB
        tracemalloc.start()
        try:
            S.bce_with_logits_and_grad(x, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak >= g.nbytes          # what the check would see of a copy
