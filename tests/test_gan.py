"""GAN: training on the ring of 8 Gaussians converges (D near 1/2, samples
near the modes, most modes covered); the gradients of both losses against
central differences; the generator step leaves D alone; reproducibility."""
import contextlib
import doctest
import warnings

import numpy as np
import pytest

from sigmoid.models import gan as gan_module
from sigmoid.models.gan import GAN, mixture_of_gaussians

K, RADIUS = 8, 2.0
CENTRES = RADIUS * np.stack([np.cos(2 * np.pi * np.arange(K) / K), np.sin(2 * np.pi * np.arange(K) / K)], axis=1)
LAST = 200            # steps averaged at the end of training


def _nearest_mode(points):
    d = np.linalg.norm(points[:, None, :] - CENTRES[None], axis=2)
    return d.argmin(axis=1), d.min(axis=1)


def _one_blas_thread():
    """BLAS on one thread, when threadpoolctl (a scikit-learn dependency) is
    there: the products here are small (128 x 64 x 64), and on a loaded
    machine a second BLAS thread makes training 4 to 5 times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # threadpoolctl's notes on the OpenMP runtimes it finds
        return threadpool_limits(1, user_api="blas")


@pytest.fixture(scope="module")
def trained():
    X = mixture_of_gaussians(5000, k=K, radius=RADIUS, random_state=0)
    with _one_blas_thread():
        return GAN(random_state=0).fit(X)      # the defaults: 1000 steps, about a second


def test_mixture_of_gaussians():
    X = mixture_of_gaussians(4000, k=K, radius=RADIUS, std=0.02, random_state=0)
    assert X.shape == (4000, 2) and X.dtype == np.float64
    mode, dist = _nearest_mode(X)
    assert dist.max() < 0.15                                        # 7 std
    assert 0.015 < np.sqrt(np.mean(dist ** 2) / 2) < 0.025          # the std per axis
    counts = np.bincount(mode, minlength=K)
    assert counts.min() > 0.8 * 4000 / K
    np.testing.assert_array_equal(X, mixture_of_gaussians(4000, random_state=0))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        mixture_of_gaussians(10, k=0)
    with pytest.raises(ValueError, match="std must be a finite number >= 0"):
        mixture_of_gaussians(10, std=-1.0)


def test_training_converges_on_eight_gaussians(trained):
    h = trained.history_
    assert trained.n_iter_ == 1000
    assert h.steps == list(range(1, 1001))
    d_real, d_fake = np.mean(h["d_real"][-LAST:]), np.mean(h["d_fake"][-LAST:])
    d_loss, g_loss = np.mean(h["d_loss"][-LAST:]), np.mean(h["g_loss"][-LAST:])
    samples = trained.sample(4000, random_state=1).astype(np.float64)
    mode, dist = _nearest_mode(samples)
    share = np.bincount(mode, minlength=K) / len(samples)
    print(f"\nGAN on {K} Gaussians (radius {RADIUS}, std 0.02), 1000 steps, last {LAST} steps: "
          f"sigma(D(real)) {d_real:.3f}, sigma(D(fake)) {d_fake:.3f}, L_D {d_loss:.3f} (2 log 2 = 1.386), "
          f"L_G {g_loss:.3f} (log 2 = 0.693); samples: mean distance to the nearest mode {dist.mean():.3f}, "
          f"median {np.median(dist):.3f}; share per mode {np.round(share, 3)}")
    # measured over seeds 0..5 (float32 and float64): sigma(D) 0.515 to 0.523
    # on real, 0.478 to 0.486 on fake; mean distance 0.107 to 0.152; all 8
    # modes hold 10% to 15% of the samples
    assert abs(d_real - 0.5) < 0.1 and abs(d_fake - 0.5) < 0.1
    assert d_real > d_fake                        # D still tells them apart a little
    assert dist.mean() < 0.15 * RADIUS
    assert np.sum(share >= 0.02) >= 6
    # what training changed: one step leaves the samples near the origin
    X = mixture_of_gaussians(5000, k=K, radius=RADIUS, random_state=0)
    untrained = GAN(n_steps=1, random_state=0).fit(X).sample(4000, random_state=1).astype(np.float64)
    assert _nearest_mode(untrained)[1].mean() > 4 * dist.mean()


def test_discriminator_proba_on_a_grid(trained):
    g = np.linspace(-3, 3, 31)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    p = trained.discriminator_proba(grid)
    assert p.shape == (grid.shape[0],) and p.dtype == np.float32
    assert np.all((p >= 0) & (p <= 1))
    with pytest.raises(ValueError, match=r"points must have shape \(n, 2\)"):
        trained.discriminator_proba(np.zeros((3, 3)))


def test_sample(trained):
    a = trained.sample(10, random_state=5)
    np.testing.assert_array_equal(a, trained.sample(10, random_state=5))
    assert a.shape == (10, 2) and a.dtype == np.float32
    assert not np.array_equal(trained.sample(10), trained.sample(10))   # the model's own generator moves on
    assert trained.sample(0).shape == (0, 2)
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        trained.sample(-1)


def test_reproducible_with_random_state():
    X = mixture_of_gaussians(500, random_state=0)
    kw = dict(n_steps=30, batch_size=32, generator_hidden=(16,), discriminator_hidden=(16,))
    a, b, c = (GAN(random_state=s, **kw).fit(X) for s in (3, 3, 4))
    assert a.history_.as_dict() == b.history_.as_dict()
    np.testing.assert_array_equal(a.sample(20, random_state=0), b.sample(20, random_state=0))
    assert a.history_["g_loss"] != c.history_["g_loss"]


def _small_gan(dtype=np.float64):
    X = mixture_of_gaussians(200, random_state=0)
    gan = GAN(latent_dim=3, generator_hidden=(5, 4), discriminator_hidden=(4, 3), n_steps=3, batch_size=8,
              random_state=0, dtype=dtype).fit(X)
    return gan, X


def test_generator_step_leaves_the_discriminator_unchanged():
    gan, _ = _small_gan(np.float32)
    d_before = gan.discriminator_.state_dict()
    g_before = gan.generator_.state_dict()
    d_state = {id(p): {k: np.copy(v) for k, v in s.items() if k != "step"}
               for p, s in gan._opt_d.state.items()}
    # D has trained (its Adam holds moments for every parameter), so the
    # loops below compare something
    assert len(d_state) == len(gan.discriminator_.parameters()) > 0
    assert all(len(v) >= 2 for v in d_state.values())
    gan._g_step(8, np.random.default_rng(0))
    for k, v in gan.discriminator_.state_dict().items():
        np.testing.assert_array_equal(v, d_before[k])
    assert all(p.grad is None for p in gan.discriminator_.parameters())
    for p, s in gan._opt_d.state.items():                      # nor D's Adam moments
        for k, v in d_state[id(p)].items():
            np.testing.assert_array_equal(s[k], v)
    assert any(not np.array_equal(v, g_before[k]) for k, v in gan.generator_.state_dict().items())


def _central_differences(params, f, eps=1e-6):
    out = []
    for p in params:
        flat = p.data.reshape(-1)
        num = np.empty(flat.size)
        for j in range(flat.size):
            v = flat[j]
            flat[j] = v + eps
            up = f()
            flat[j] = v - eps
            down = f()
            flat[j] = v
            num[j] = (up - down) / (2 * eps)
        out.append(num.reshape(p.shape))
    return out


def test_generator_gradient_through_the_discriminator():
    gan, _ = _small_gan()
    z = np.random.default_rng(1).standard_normal((6, 3))

    def loss():
        gan.generator_.zero_grad()
        return gan._g_loss_and_grads(z)

    L = loss()
    analytic = [p.grad.copy() for p in gan.generator_.parameters()]
    # L_G written out: mean softplus(-D(G(z)))
    assert L == pytest.approx(np.mean(np.logaddexp(0, -gan.discriminator_(gan.generator_(z)))), rel=1e-12)
    numeric = _central_differences(gan.generator_.parameters(), loss)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-9)


def test_discriminator_gradient():
    gan, X = _small_gan()
    real = X[:6]
    z = np.random.default_rng(1).standard_normal((6, 3))

    def loss():
        gan.discriminator_.zero_grad()
        return gan._d_loss_and_grads(real, z)[0]

    L = loss()
    analytic = [p.grad.copy() for p in gan.discriminator_.parameters()]
    assert all(p.grad is None for p in gan.generator_.parameters())
    D, G = gan.discriminator_, gan.generator_
    expected = np.mean(np.logaddexp(0, -D(real))) + np.mean(np.logaddexp(0, D(G(z))))
    assert L == pytest.approx(expected, rel=1e-12)
    numeric = _central_differences(gan.discriminator_.parameters(), loss)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-9)


def test_bad_input():
    with pytest.raises(ValueError, match=r"X must be a 2-D array of points \(n_samples, n_features\)"):
        GAN(n_steps=1).fit(np.zeros(10))
    with pytest.raises(ValueError, match="X contains nan or inf"):
        GAN(n_steps=1).fit(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="d_steps must be an int >= 1"):
        GAN(n_steps=1, d_steps=0).fit(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="activation must be one of"):
        GAN(n_steps=1, activation="gelu").fit(np.zeros((10, 2)))
    with pytest.raises(AttributeError, match="not fitted yet"):
        GAN().sample(3)
    with pytest.raises(ValueError, match="invalid parameter 'n_step'"):
        GAN().set_params(n_step=3)


def test_d_steps_and_other_dimensions():
    X = np.random.default_rng(0).standard_normal((100, 3))
    gan = GAN(n_steps=4, d_steps=3, batch_size=16, random_state=0).fit(X)
    assert gan._opt_d.state[gan.discriminator_.parameters()[0]]["step"] == 12
    assert gan._opt_g.state[gan.generator_.parameters()[0]]["step"] == 4
    assert gan.sample(5).shape == (5, 3)
    assert len(gan.history_["d_loss"]) == 4


def test_verbose_progress_bar(capsys):
    pytest.importorskip("tqdm")
    GAN(n_steps=5, batch_size=8, verbose=True, random_state=0).fit(mixture_of_gaussians(50, random_state=0))
    assert "GAN" in capsys.readouterr().err


def test_docstring_examples():
    result = doctest.testmod(gan_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
