"""Timestep conditioning (sigmoid.nn.conditioning) and the denoiser: exact
backward passes by gradcheck, PyTorch parity (the same network written in
PyTorch, its state dict loaded here: outputs and every gradient), the FiLM
values, and what bad input gets."""
import math

import numpy as np
import pytest

import sigmoid.nn.conditioning as conditioning
from sigmoid.models import Denoiser
from sigmoid.nn import ConditionedResidualBlock, TimestepEmbedding, gradcheck, sinusoidal_embedding

# PyTorch parity: the fixture, the tolerances and the comparisons of test_nn
from test_nn import TOL, close, grads_match, tdtype, torch  # noqa: E402,F401


def torch_networks(torch):
    """The three networks written in PyTorch, as a user would write them."""
    nn, F = torch.nn, torch.nn.functional

    class TimestepEmbeddingT(nn.Module):
        def __init__(self, embedding_dim, frequency_dim, max_period=10000.0, scale=1000.0, dtype=None):
            super().__init__()
            self.frequency_dim, self.max_period, self.scale = frequency_dim, max_period, scale
            self.linear_1 = nn.Linear(frequency_dim, embedding_dim, dtype=dtype)
            self.act = nn.SiLU()
            self.linear_2 = nn.Linear(embedding_dim, embedding_dim, dtype=dtype)

        def forward(self, t):            # ADM's timestep_embedding, phases in float64
            half = self.frequency_dim // 2
            freqs = torch.exp(-math.log(self.max_period) * torch.arange(half, dtype=torch.float64) / half)
            args = (t.to(torch.float64) * self.scale)[:, None] * freqs[None]
            e = torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(self.linear_1.weight.dtype)
            return self.linear_2(self.act(self.linear_1(e)))

    class BlockT(nn.Module):
        def __init__(self, features, cond, hidden, gate=True, norm=True, eps=1e-6, dtype=None):
            super().__init__()
            self.gate, self.norm, self.eps = gate, norm, eps
            self.modulation = nn.Linear(cond, (3 if gate else 2) * features, dtype=dtype)
            self.fc1 = nn.Linear(features, hidden, dtype=dtype)
            self.fc2 = nn.Linear(hidden, features, dtype=dtype)

        def forward(self, x, c):
            m = self.modulation(F.silu(c))
            parts = m.chunk(3 if self.gate else 2, dim=-1)
            h = F.layer_norm(x, (x.shape[-1],), eps=self.eps) if self.norm else x
            h = h * (1 + parts[1]) + parts[0]
            y = self.fc2(F.silu(self.fc1(h)))
            return x + torch.sigmoid(parts[2]) * y if self.gate else x + y

    class DenoiserT(nn.Module):
        def __init__(self, features, width, n_blocks, embedding_dim, frequency_dim, gate=True, norm=True,
                     dtype=None):
            super().__init__()
            self.time_embedding = TimestepEmbeddingT(embedding_dim, frequency_dim, dtype=dtype)
            self.proj_in = nn.Linear(features, width, dtype=dtype)
            self.blocks = nn.ModuleList([BlockT(width, embedding_dim, 2 * width, gate, norm, dtype=dtype)
                                         for _ in range(n_blocks)])
            self.proj_out = nn.Linear(width, features, dtype=dtype)

        def forward(self, x, t):
            c = self.time_embedding(t)
            h = self.proj_in(x)
            for b in self.blocks:
                h = b(h, c)
            return self.proj_out(h)

    return TimestepEmbeddingT, BlockT, DenoiserT


# ------------------------------------------------------------ the embedding

def test_sinusoidal_embedding_is_adms_formula():
    t = np.array([0.0, 0.25, 0.999, 1.0, 3.5])
    got = sinusoidal_embedding(t, 10, max_period=500.0, scale=100.0)
    for i, ti in enumerate(t):
        for k in range(5):
            w = 500.0 ** (-k / 5)
            assert math.isclose(got[i, k], math.cos(100.0 * ti * w), abs_tol=1e-12)
            assert math.isclose(got[i, 5 + k], math.sin(100.0 * ti * w), abs_tol=1e-12)
    assert got.dtype == np.float64 and got.shape == (5, 10)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_timestep_embedding_matches_torch(torch, dt):
    T, _, _ = torch_networks(torch)
    torch.manual_seed(0)
    tm = T(16, 12, dtype=tdtype(torch, dt))
    m = TimestepEmbedding(16, 12, dtype=dt).load_state_dict(tm.state_dict())
    t = np.random.default_rng(0).random(9)
    tt = torch.tensor(t, requires_grad=True)
    out, ot = m(t), tm(tt)
    assert out.dtype == dt and out.shape == (9, 16)
    close(out, ot, dt)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(dt)
    dt_ours = m.backward(g)
    ot.backward(torch.from_numpy(g))
    assert dt_ours.shape == (9,) and dt_ours.dtype == np.float64
    # d/dt reaches 1000 omega_0 = 1000 times the features' gradient: compare relative to it
    np.testing.assert_allclose(dt_ours, tt.grad.numpy(), rtol=TOL[dt]["rtol"] * 100,
                               atol=TOL[dt]["atol"] * 1000 * np.abs(tt.grad.numpy()).max())
    grads_match(m, tm, dt)


def test_timestep_embedding_gradcheck():
    m = TimestepEmbedding(6, 8, scale=3.0, dtype=np.float64, rng=np.random.default_rng(2))
    assert gradcheck(m, (np.array([0.0, 0.3, 0.9, 1.0]),))
    m = TimestepEmbedding(5, 4, dtype=np.float64, rng=np.random.default_rng(3))      # scale 1000: steep in t
    assert gradcheck(m, (np.array([0.01, 0.5]),), eps=1e-8, rtol=1e-4, atol=1e-5)


def test_embed_is_forward_without_its_cache():
    m = TimestepEmbedding(6, 8, dtype=np.float64, rng=np.random.default_rng(4))
    t = np.array([0.1, 0.2])
    y = m(t)
    g = np.ones_like(y)
    before = m.backward(g)
    m.zero_grad()
    m(t)
    np.testing.assert_array_equal(m.embed(t), y)
    np.testing.assert_array_equal(m.backward(g), before)        # the cache of the forward pass survived


# ------------------------------------------------------------------ the block

BLOCK_CASES = [(True, True), (True, False), (False, True), (False, False)]


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("gate, norm", BLOCK_CASES)
@pytest.mark.parametrize("lead", [(7,), (2, 3)])
def test_block_matches_torch(torch, dt, gate, norm, lead):
    _, B, _ = torch_networks(torch)
    torch.manual_seed(1)
    tm = B(5, 4, 9, gate=gate, norm=norm, dtype=tdtype(torch, dt))
    m = ConditionedResidualBlock(5, 4, 9, gate=gate, norm=norm, dtype=dt).load_state_dict(tm.state_dict())
    r = np.random.default_rng(5)
    x, c = r.standard_normal(lead + (5,)).astype(dt), r.standard_normal(lead + (4,)).astype(dt)
    xt, ct = torch.tensor(x, requires_grad=True), torch.tensor(c, requires_grad=True)
    y, yt = m(x, c), tm(xt, ct)
    assert y.dtype == dt
    close(y, yt, dt)
    g = r.standard_normal(y.shape).astype(dt)
    dx, dc = m.backward(g)
    yt.backward(torch.from_numpy(g))
    close(dx, xt.grad, dt)
    close(dc, ct.grad, dt)
    grads_match(m, tm, dt)


@pytest.mark.parametrize("gate, norm", BLOCK_CASES)
def test_block_gradcheck(gate, norm):
    r = np.random.default_rng(6)
    m = ConditionedResidualBlock(4, 3, 6, gate=gate, norm=norm, zero_init=False, dtype=np.float64, rng=r)
    assert gradcheck(m, (r.standard_normal((5, 4)), r.standard_normal((5, 3))))
    assert gradcheck(m, (r.standard_normal((2, 2, 4)), r.standard_normal((2, 2, 3))))


def test_gradcheck_catches_a_gate_without_its_derivative(monkeypatch):
    """The check can fail: the gate's backward dropped (sigma'(g) taken as
    0) makes gradcheck name the modulation layer's gradient."""
    class Broken:
        def __getattr__(self, name):
            return getattr(conditioning.__dict__["_real_core"], name)

        @staticmethod
        def sigmoid_backward(x, g):
            return np.zeros_like(g)

    monkeypatch.setitem(conditioning.__dict__, "_real_core", conditioning._core)
    monkeypatch.setattr(conditioning, "_core", Broken())
    r = np.random.default_rng(7)
    m = ConditionedResidualBlock(3, 2, 4, zero_init=False, dtype=np.float64, rng=r)
    with pytest.raises(AssertionError, match="gradcheck: (input 1|parameter modulation)"):
        gradcheck(m, (r.standard_normal((4, 3)), r.standard_normal((4, 2))))


def test_zero_init_is_a_plain_residual_mlp_with_gate_one_half():
    r = np.random.default_rng(8)
    m = ConditionedResidualBlock(4, 3, dtype=np.float64, rng=r)
    c = r.standard_normal((6, 3))
    film = m.film(c)
    assert np.all(film["shift"] == 0) and np.all(film["scale"] == 0) and np.all(film["gate"] == 0.5)
    x = r.standard_normal((6, 4))
    xn = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-6)
    h = xn @ m.fc1.weight.data.T + m.fc1.bias.data
    mlp = (h / (1 + np.exp(-h))) @ m.fc2.weight.data.T + m.fc2.bias.data
    np.testing.assert_allclose(m(x, c), x + 0.5 * mlp, rtol=1e-13)
    assert m.hidden_features == 8 and m.modulation.weight.shape == (12, 3)


def test_film_gives_the_forwards_modulation():
    r = np.random.default_rng(9)
    m = ConditionedResidualBlock(3, 2, 5, norm=False, zero_init=False, dtype=np.float64, rng=r)
    x, c = r.standard_normal((4, 3)), r.standard_normal((4, 2))
    f = m.film(c)
    h = x * (1 + f["scale"]) + f["shift"]
    a = h @ m.fc1.weight.data.T + m.fc1.bias.data
    y = (a / (1 + np.exp(-a))) @ m.fc2.weight.data.T + m.fc2.bias.data
    np.testing.assert_allclose(m(x, c), x + f["gate"] * y, rtol=1e-13)
    assert set(ConditionedResidualBlock(3, 2, gate=False).film(c.astype(np.float32))) == {"shift", "scale"}


# --------------------------------------------------------------- the denoiser

@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("gate", [True, False])
def test_denoiser_matches_torch(torch, dt, gate):
    *_, D = torch_networks(torch)
    torch.manual_seed(2)
    tm = D(2, 8, 3, 6, 4, gate=gate, dtype=tdtype(torch, dt))
    m = Denoiser(2, 8, 3, 6, 4, gate=gate, dtype=dt).load_state_dict(tm.state_dict())
    assert [k for k, _ in m.named_parameters()] == list(tm.state_dict())
    r = np.random.default_rng(10)
    x, t = r.standard_normal((11, 2)).astype(dt), r.random(11)
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    y, yt = m(x, t), tm(xt, tt)
    close(y, yt, dt)
    g = r.standard_normal(y.shape).astype(dt)
    dx, dtime = m.backward(g)
    yt.backward(torch.from_numpy(g))
    close(dx, xt.grad, dt)
    np.testing.assert_allclose(dtime, tt.grad.numpy(), rtol=TOL[dt]["rtol"] * 100,
                               atol=TOL[dt]["atol"] * 1000 * np.abs(tt.grad.numpy()).max())
    grads_match(m, tm, dt)


def test_denoiser_gradcheck_and_film():
    r = np.random.default_rng(11)
    m = Denoiser(3, 6, 2, 5, 4, zero_init=False, dtype=np.float64, rng=r)
    x, t = r.standard_normal((4, 3)), r.random(4)
    assert gradcheck(m, (x, t), eps=1e-7, rtol=1e-5, atol=1e-7)
    film = m.film(np.array([0.1, 0.9]))
    assert len(film) == 2 and all(f["gate"].shape == (2, 6) for f in film)
    no_blocks = Denoiser(2, 4, 0, dtype=np.float64, rng=r)
    dx, dtime = no_blocks.backward(np.ones_like(no_blocks(np.zeros((3, 2)), np.zeros(3))))
    assert dx.shape == (3, 2) and np.all(dtime == 0)


# ------------------------------------------------------------------ bad input

def test_bad_input():
    with pytest.raises(ValueError, match="sinusoidal_embedding: dim must be even, got 5"):
        sinusoidal_embedding(np.zeros(2), 5)
    with pytest.raises(ValueError, match=r"sinusoidal_embedding: t must have shape \(batch,\), got shape \(2, 1\)"):
        sinusoidal_embedding(np.zeros((2, 1)), 4)
    with pytest.raises(ValueError, match="TimestepEmbedding: t contains nan or inf"):
        TimestepEmbedding(4, 4)(np.array([np.nan]))
    with pytest.raises(ValueError, match="TimestepEmbedding: frequency_dim must be even, got 3"):
        TimestepEmbedding(4, 3)
    with pytest.raises(ValueError, match="TimestepEmbedding: scale must be a finite number > 0, got 0"):
        TimestepEmbedding(4, 4, scale=0)
    with pytest.raises(ValueError, match="TimestepEmbedding.backward: called before forward"):
        TimestepEmbedding(4, 4).backward(np.zeros((1, 4), np.float32))
    m = ConditionedResidualBlock(4, 3)
    with pytest.raises(ValueError, match=r"ConditionedResidualBlock: x must have shape \(..., 4\), got \(2, 5\)"):
        m(np.zeros((2, 5), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"x has leading shape \(2,\) and c \(3,\)"):
        m(np.zeros((2, 4), np.float32), np.zeros((3, 3), np.float32))
    with pytest.raises(TypeError, match="ConditionedResidualBlock: input has dtype float64, the layer's parameters"):
        m(np.zeros((2, 4)), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="ConditionedResidualBlock.backward: called before forward"):
        m.backward(np.zeros((2, 4), np.float32))
    m(np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"ConditionedResidualBlock.backward: grad_output has shape \(3, 4\)"):
        m.backward(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="ConditionedResidualBlock: features must be an int >= 1, got 0"):
        ConditionedResidualBlock(0, 3)
    d = Denoiser(2, 4, 1)
    with pytest.raises(ValueError, match=r"Denoiser: x must have shape \(n, 2\), got \(3, 3\)"):
        d(np.zeros((3, 3), np.float32), np.zeros(3))
    with pytest.raises(ValueError, match=r"Denoiser: t must have shape \(3,\), one time per point, got \(2,\)"):
        d(np.zeros((3, 2), np.float32), np.zeros(2))
    with pytest.raises(ValueError, match="Denoiser.backward: called before forward"):
        Denoiser(2, 4, 1).backward(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="Denoiser: n_blocks must be an int >= 0, got -1"):
        Denoiser(2, 4, -1)
