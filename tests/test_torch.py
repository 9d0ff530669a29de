"""Parity with PyTorch: forward values and autograd gradients, shapes and
dtypes.  Skipped where torch is not installed."""
import numpy as np
import pytest

import reference as R
import sigmoid as S

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
F = torch.nn.functional

TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}
# torch's own error is up to about 2 ULP; ours at most 2
RTOL = {np.float32: 5e-7, np.float64: 1e-15}


def inputs(dt, shape=(7, 33, 5)):
    rng = np.random.default_rng(11)
    return (6 * rng.standard_normal(shape)).astype(dt), rng.standard_normal(shape).astype(dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize(
    "ours, theirs",
    [
        ("sigmoid", torch.sigmoid),
        ("log_sigmoid", F.logsigmoid),
        ("silu", F.silu),
        ("hard_sigmoid", F.hardsigmoid),
        ("softplus", lambda t: F.softplus(t, beta=1.0, threshold=20.0)),
    ],
)
def test_forward(ours, theirs, dt):
    x, _ = inputs(dt)
    if ours == "softplus":  # torch returns x itself above its threshold
        x = np.clip(x, -15, 15)
    y = getattr(S, ours)(x)
    t = theirs(torch.from_numpy(x))
    assert t.dtype == TORCH_DTYPES[dt] and y.dtype == dt and y.shape == tuple(t.shape)
    np.testing.assert_allclose(y, t.numpy(), rtol=RTOL[dt], atol=np.finfo(dt).tiny)


def close_to_torch(ours, theirs, dt, atol):
    """Agreement to torch's own accuracy: relative, plus an absolute term for
    torch's formulas that round an intermediate near 1 (their error is
    absolute there; ours is relative)."""
    eps = np.finfo(dt).eps
    err = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    bound = RTOL[dt] * np.abs(theirs) + atol * eps + np.finfo(dt).tiny
    assert np.all(err <= bound), f"max excess {np.max(err - bound)} at {np.argmax(err - bound)}"


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_logit(dt):
    p = np.random.default_rng(2).uniform(0.001, 0.999, 999).astype(dt)
    # torch computes log(p / (1 - p)): the quotient's rounding is an absolute error
    close_to_torch(S.logit(p), torch.logit(torch.from_numpy(p)).numpy(), dt, atol=4)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize(
    "grad, fwd",
    [("sigmoid_backward", torch.sigmoid), ("silu_backward", F.silu), ("hard_sigmoid_backward", F.hardsigmoid)],
)
def test_backward_against_autograd(grad, fwd, dt):
    x, g = inputs(dt)
    if grad == "hard_sigmoid_backward":
        x[0, 0, :2] = [-3, 3]  # the kinks
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    fwd(tx).backward(torch.from_numpy(g))
    ours = getattr(S, grad)(x, g)
    assert ours.shape == tuple(tx.grad.shape) and ours.dtype == dt
    # torch's backward uses y (1 - y) from the rounded output y = sigma(x):
    # 1 - y carries an absolute error of half an ulp of 1, so its result is
    # off by about eps |g| absolutely; silu's x (1 - y) multiplies that by |x|
    atol = 2 * np.abs(g)
    if grad == "silu_backward":
        atol = 2 * np.abs(g) * (1 + np.abs(x))
    if grad == "hard_sigmoid_backward":
        # torch multiplies by 1/6 rounded to float32, in float64 too
        atol = np.abs(g) * 2.0**-24 / np.finfo(dt).eps
    close_to_torch(ours, tx.grad.numpy(), dt, atol=atol)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_backward_from_output_matches_torch_sigmoid_backward(dt):
    x, g = inputs(dt)
    y = S.sigmoid(x)
    t = torch.ops.aten.sigmoid_backward(torch.from_numpy(g), torch.from_numpy(y))
    close_to_torch(S.sigmoid_backward_from_output(y, g), t.numpy(), dt, atol=2 * np.abs(g))


def test_where_we_are_more_exact_than_torch():
    """float32 results that are subnormal: torch flushes to 0 for x in
    about [-103.97, -88.72]; the correctly rounded value is not 0."""
    x = np.array([-90.0, -100.0, -103.0], dtype=np.float32)
    want = R.exact("sigmoid", x.astype(np.float64), dtype=np.float32)
    assert np.all(want > 0)
    np.testing.assert_array_equal(S.sigmoid(x), want)
    assert np.all(torch.sigmoid(torch.from_numpy(x)).numpy() == 0)
