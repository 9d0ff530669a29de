"""sigmoid.diffusion: the noise schedules against mpmath (the ends t = 0 and
t = 1 included) and against the papers' own formulas, their discrete betas,
the training-time samplers against their distributions, the samplers
against Ho et al.'s algorithm and against exact solutions for Gaussian data,
the energy distance against SciPy, and what bad input gets."""
import math

import mpmath as mp
import numpy as np
import pytest

from sigmoid import logit
from sigmoid._accuracy import SCHEDULES, TIME_AT
from sigmoid.diffusion import (
    CosineSchedule,
    LinearSchedule,
    LogitNormalTimesteps,
    NoiseSchedule,
    SigmoidSchedule,
    UniformTimesteps,
    ddim_sample,
    ddpm_sample,
    energy_distance,
    euler_sample,
    get_schedule,
)

EPS = 2.0 ** -52

# each kind of schedule with its defaults and with parameters at the edges of their use
SCHEDULE_CASES = [
    LinearSchedule(), LinearSchedule(0.0, 20.0), LinearSchedule(1e-3, 1000.0), LinearSchedule(2.0, 2.5),
    CosineSchedule(), CosineSchedule(0.0), CosineSchedule(0.5),
    SigmoidSchedule(), SigmoidSchedule(0.0, 3.0, 0.3), SigmoidSchedule(0.0, 3.0, 1.1),
    SigmoidSchedule(-3.0, 3.0, 0.01), SigmoidSchedule(-10.0, 10.0, 5.0), SigmoidSchedule(-1.3, 2.7, 0.05),
    SigmoidSchedule(5.0, 10.0, 0.1), SigmoidSchedule(-7.1, -2.2, 0.3),
]


def _times():
    """The ends, subnormal and tiny t, t a few ulps from 1, and a spread of
    ordinary values."""
    rng = np.random.default_rng(0)
    ends = [0.0, 5e-324, 1e-310, 1e-300, 1e-200, 1e-30, 1e-16, 1e-10, 1e-5, 0.5, 1 - 2.0 ** -53, 1 - 1e-15,
            1 - 1e-10, 1 - 1e-5, 1.0]
    return np.concatenate([ends, rng.random(150), 10 ** rng.uniform(-20, 0, 40), 1 - 10 ** rng.uniform(-16, 0, 40)])


TIMES = _times()


def exact_alpha_bar(schedule, t, dps=700):
    """alpha_bar(t) from the papers' formulas in mpmath (700 digits: 1 -
    alpha_bar down to 1e-600 keeps 100), with t exact."""
    t = mp.mpf(float(t))
    with mp.workdps(dps):
        if isinstance(schedule, LinearSchedule):                       # Song et al. 2021, the VP SDE
            b0, b1 = mp.mpf(schedule.beta_min), mp.mpf(schedule.beta_max)
            return mp.exp(-(b0 * t + (b1 - b0) * t * t / 2))
        if isinstance(schedule, CosineSchedule):                       # Nichol & Dhariwal 2021, eq. 17
            s = mp.mpf(schedule.s)

            def f(u):
                return mp.cos((u + s) / (1 + s) * mp.pi / 2) ** 2

            return f(t) / f(0) if t < 1 else mp.mpf(0)
        start, end, tau = (mp.mpf(v) for v in (schedule.start, schedule.end, schedule.tau))   # Chen 2023, Alg. 1

        def sig(z):
            return 1 / (1 + mp.exp(-z))

        vs, ve = sig(start / tau), sig(end / tau)
        return (ve - sig((t * (end - start) + start) / tau)) / (ve - vs) if t < 1 else mp.mpf(0)


def exact_log_snr(schedule, t):
    with mp.workdps(700):
        ab = exact_alpha_bar(schedule, t)
        if ab == 1:
            return mp.inf
        if ab == 0:
            return -mp.inf
        return mp.log(ab / (1 - ab))


def _scale(schedule, lam):
    """M(t) of the bound: max(1, |lambda|), and for the sigmoid schedule
    max(|start|, |end|) / tau too (see sigmoid._accuracy.SCHEDULES)."""
    m = max(1.0, abs(lam))
    if isinstance(schedule, SigmoidSchedule):
        m = max(m, abs(schedule.start) / schedule.tau, abs(schedule.end) / schedule.tau)
    return m


def worst_log_snr_error(schedule, lam_of_t, times=TIMES):
    """The largest |lambda - exact| / (eps M(t)) over `times`; inf where an
    infinite exact value is not met exactly (or a finite one is given as
    inf or NaN)."""
    got = np.asarray(lam_of_t(times), np.float64)
    worst = 0.0
    for t, g in zip(times.tolist(), got.tolist()):
        want = exact_log_snr(schedule, t)
        if mp.isinf(want):
            if g != float(want):
                return math.inf
            continue
        if not math.isfinite(g):
            return math.inf
        worst = max(worst, abs(g - float(want)) / (EPS * _scale(schedule, float(want))))
    return worst


@pytest.mark.parametrize("schedule", SCHEDULE_CASES, ids=repr)
def test_log_snr_matches_mpmath_over_all_t(schedule):
    with np.errstate(under="ignore"):       # the naive reference products below underflow for subnormal t
        worst = worst_log_snr_error(schedule, schedule.log_snr)
    assert worst <= SCHEDULES[schedule.name], f"{schedule!r}: {worst:.2f} eps M(t)"


@pytest.mark.parametrize("schedule", [LinearSchedule(), CosineSchedule(), SigmoidSchedule(0.0, 3.0, 0.7)], ids=repr)
def test_the_check_fails_for_the_textbook_formula(schedule):
    """logit(alpha_bar) from the papers' formulas in float64 loses every
    digit near t = 0 (and for the cosine near t = 1): the same check that
    the library passes fails by orders of magnitude."""
    def naive(t):
        t = np.asarray(t, np.float64)
        with np.errstate(all="ignore"):
            if isinstance(schedule, LinearSchedule):
                ab = np.exp(-(schedule.beta_min * t + (schedule.beta_max - schedule.beta_min) * t * t / 2))
            elif isinstance(schedule, CosineSchedule):
                f = np.cos((t + schedule.s) / (1 + schedule.s) * np.pi / 2) ** 2
                ab = f / np.cos(schedule.s / (1 + schedule.s) * np.pi / 2) ** 2
            else:
                sg = lambda z: 1 / (1 + np.exp(-z))                             # noqa: E731
                vs, ve = sg(schedule.start / schedule.tau), sg(schedule.end / schedule.tau)
                ab = (ve - sg((t * (schedule.end - schedule.start) + schedule.start) / schedule.tau)) / (ve - vs)
            return np.log(ab / (1 - ab))

    assert worst_log_snr_error(schedule, naive) > 100 * SCHEDULES[schedule.name]


@pytest.mark.parametrize("schedule", SCHEDULE_CASES[::2], ids=repr)
def test_alpha_bar_and_its_complement_have_all_their_digits(schedule):
    t = TIMES
    with np.errstate(under="ignore"):
        ab, nv = schedule.alpha_bar(t), schedule.noise_variance(t)
        a, s = schedule.scales(t)
        bar, lam = schedule(t)
    assert np.array_equal(bar, ab) and np.array_equal(lam, schedule.log_snr(t))
    bound = SCHEDULES[schedule.name] + 1
    for ti, gab, gnv, ga, gs in zip(t.tolist(), ab.tolist(), nv.tolist(), a.tolist(), s.tolist()):
        with mp.workdps(700):
            want = exact_alpha_bar(schedule, ti)
            m = _scale(schedule, float(exact_log_snr(schedule, ti))) if 0 < want < 1 else 1.0
            for got, w in ((gab, want), (gnv, 1 - want), (ga, mp.sqrt(want)), (gs, mp.sqrt(1 - want))):
                w = float(w)
                if w == 0:
                    assert got == 0, (ti, got)
                else:
                    assert abs(got - w) <= bound * EPS * m * w + 1e-320, (schedule, ti, got, w)


def test_ends_of_the_schedules():
    for s in SCHEDULE_CASES:
        assert s.log_snr(0.0) == np.inf and s.alpha_bar(0.0) == 1 and s.noise_variance(0.0) == 0
        assert s.scales(0.0) == (1.0, 0.0)
        if isinstance(s, LinearSchedule):
            # alpha_bar(1) = exp(-(beta_min + beta_max) / 2)
            assert math.isclose(s.alpha_bar(1.0), math.exp(-(s.beta_min + s.beta_max) / 2), rel_tol=1e-14)
        else:
            assert s.log_snr(1.0) == -np.inf and s.alpha_bar(1.0) == 0 and s.noise_variance(1.0) == 1
            assert s.scales(1.0) == (0.0, 1.0)
    lam = LinearSchedule().log_snr(np.linspace(0, 1, 1001))
    assert np.all(np.diff(lam) < 0)                                      # decreasing


def test_cosine_and_sigmoid_follow_the_papers_in_the_middle():
    """Away from the ends, where the papers' float64 formulas are accurate,
    they agree with the library to their rounding."""
    t = np.linspace(0.05, 0.95, 91)
    s = 0.008
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2 / np.cos(s / (1 + s) * np.pi / 2) ** 2
    np.testing.assert_allclose(CosineSchedule(s).alpha_bar(t), f, rtol=1e-12)

    def chen_gamma(t, start=-3, end=3, tau=1.0):          # Chen (2023), Algorithm 1, without the clip
        sg = lambda z: 1 / (1 + np.exp(-z))                  # noqa: E731
        v_start, v_end = sg(start / tau), sg(end / tau)
        return (v_end - sg((t * (end - start) + start) / tau)) / (v_end - v_start)

    for start, end, tau in ((-3, 3, 1.0), (0, 3, 0.3), (0, 3, 1.1), (-3, 3, 0.5)):
        # the paper's difference of sigmoids is accurate to its rounding, absolutely
        np.testing.assert_allclose(SigmoidSchedule(start, end, tau).alpha_bar(t), chen_gamma(t, start, end, tau),
                                   rtol=1e-12, atol=1e-15)


def test_tau_moves_where_the_snr_crosses_one():
    """For start = 0, end = 3 the time of lambda = 0 moves with tau (Chen's
    Figure); for start = -end it stays at 1/2 whatever tau."""
    def crossing(start, end, tau):        # gamma = 1/2: sigma(z) = (v_s + v_e) / 2, z = (t (e - s) + s) / tau
        with mp.workdps(50):
            sg = lambda z: 1 / (1 + mp.exp(-z))                                # noqa: E731
            p = (sg(mp.mpf(start) / tau) + sg(mp.mpf(end) / tau)) / 2
            return float((tau * mp.log(p / (1 - p)) - start) / (end - start))

    ts = {}
    for tau in (0.3, 0.5, 0.7, 0.9, 1.1):
        sch = SigmoidSchedule(0.0, 3.0, tau)
        ts[tau] = float(sch.time_at(0.0))
        assert abs(ts[tau] - crossing(0.0, 3.0, tau)) < 4 * EPS
        assert abs(float(sch.log_snr(ts[tau]))) < 1e-14
        assert SigmoidSchedule(-3.0, 3.0, tau).log_snr(0.5) == 0.0
    assert all(np.diff(list(ts.values())) > 0.02)                        # a larger tau: later


@pytest.mark.parametrize("schedule", SCHEDULE_CASES, ids=repr)
def test_time_at_inverts_log_snr(schedule):
    t = np.concatenate([[0.0, 1e-300, 1e-12, 0.25, 0.5, 0.75, 1 - 1e-12], np.linspace(0, 1, 201)])
    with np.errstate(under="ignore"):
        lam = schedule.log_snr(t)
        keep = lam > schedule.log_snr(1.0)
        back = schedule.time_at(lam[keep])
    assert np.max(np.abs(back - t[keep])) <= TIME_AT * EPS
    assert schedule.time_at(np.inf) == 0.0
    assert abs(schedule.time_at(schedule.log_snr(1.0)) - 1.0) <= TIME_AT * EPS
    with pytest.raises(ValueError, match=r"time_at: log_snr must be >= log_snr\(1\)"):
        schedule.time_at(np.nan)


def test_time_at_below_the_range_is_an_error():
    with pytest.raises(ValueError, match=r"LinearSchedule.time_at: log_snr must be >= log_snr\(1\) = -10.04"):
        LinearSchedule().time_at(-11.0)
    assert CosineSchedule().time_at(-np.inf) == 1.0


# ------------------------------------------------------------------ betas

@pytest.mark.parametrize("schedule", SCHEDULE_CASES[::2], ids=repr)
@pytest.mark.parametrize("T", [1, 10, 1000])
def test_betas_match_mpmath_and_multiply_to_alpha_bar(schedule, T):
    b = schedule.betas(T)
    assert b.shape == (T,) and b.dtype == np.float64
    idx = sorted({0, 1, T // 2, T - 2, T - 1} & set(range(T)))
    for i in idx:                   # beta_(i+1) = 1 - alpha_bar((i+1)/T) / alpha_bar(i/T)
        with mp.workdps(700):
            want = float(1 - exact_alpha_bar(schedule, (i + 1) / T) / exact_alpha_bar(schedule, i / T))
        # the error of lambda, eps M, over the gap between neighbouring lambdas
        assert math.isclose(b[i], want, rel_tol=1e-9 if T == 1000 else 1e-13), (i, b[i], want)
    prod = np.cumprod(1 - b)
    with np.errstate(under="ignore"):
        ab = schedule.alpha_bar(np.arange(1, T + 1) / T)
    np.testing.assert_allclose(prod, ab, rtol=1e-10, atol=1e-15)     # 1 - beta: absolute rounding


def test_linear_betas_are_ddpms():
    """Ho et al.'s linspace(1e-4, 0.02, 1000) to within 2.1e-4, their
    products to within 8.2e-4, as the docstring says; and Nichol's clip at
    0.999."""
    ho = np.linspace(1e-4, 0.02, 1000)
    ours = LinearSchedule().betas(1000)
    assert 2e-4 < np.abs(ours - ho).max() < 2.1e-4
    assert 8e-4 < np.abs(np.cumprod(1 - ours) - np.cumprod(1 - ho)).max() < 8.2e-4
    b = CosineSchedule().betas(1000)
    assert b[-1] == 1.0 and np.all(b[:-1] < 1)
    clipped = CosineSchedule().betas(1000, max_beta=0.999)
    assert clipped[-1] == 0.999 and np.array_equal(clipped[:-1], np.minimum(b[:-1], 0.999))


def test_betas_bad_input():
    s = CosineSchedule()
    for steps in (0, -1, 2.0, True, "10"):
        with pytest.raises(ValueError, match="CosineSchedule.betas: steps must be an int >= 1"):
            s.betas(steps)
    for mb in (0.0, 1.5, np.nan):
        with pytest.raises(ValueError, match="CosineSchedule.betas: max_beta must be"):
            s.betas(10, max_beta=mb)


# -------------------------------------------------------------- bad input

@pytest.mark.parametrize("t, what", [(1.5, "1.5"), (-1e-300, "-1e-300"), (np.nan, "nan"),
                                     (np.array([0.2, 0.5, 2.0]), r"2.0 \(at index 2\)")])
def test_times_outside_the_unit_interval(t, what):
    for method in ("log_snr", "alpha_bar", "noise_variance", "scales", "__call__"):
        with pytest.raises(ValueError, match=rf"SigmoidSchedule.{method}: t must be in \[0, 1\], got {what}"):
            getattr(SigmoidSchedule(), method)(t)
    with pytest.raises(ValueError, match="t must be real numbers in"):
        CosineSchedule().log_snr("0.5")
    with pytest.raises(ValueError, match="t must be real numbers in"):
        CosineSchedule().log_snr(np.array([True]))


@pytest.mark.parametrize("make, message", [
    (lambda: LinearSchedule(20.0, 0.1), "LinearSchedule: beta_min must be < beta_max, got beta_min=20.0, beta_max=0.1"),
    (lambda: LinearSchedule(1.0, 1.0), "beta_min must be < beta_max"),
    (lambda: LinearSchedule(-0.1, 20.0), "LinearSchedule: beta_min must be >= 0, got -0.1"),
    (lambda: LinearSchedule(0.1, np.inf), "LinearSchedule: beta_max must be finite, got inf"),
    (lambda: CosineSchedule(np.nan), "CosineSchedule: s must be finite, got nan"),
    (lambda: CosineSchedule(-0.1), "CosineSchedule: s must be >= 0, got -0.1"),
    (lambda: SigmoidSchedule(3.0, 3.0), "SigmoidSchedule: start must be < end, got start=3.0, end=3.0"),
    (lambda: SigmoidSchedule(3.0, -3.0), "start must be < end"),
    (lambda: SigmoidSchedule(tau=0.0), "SigmoidSchedule: tau must be > 0, got 0.0"),
    (lambda: SigmoidSchedule(tau=-1.0), "SigmoidSchedule: tau must be > 0, got -1.0"),
    (lambda: SigmoidSchedule(start=-np.inf), "SigmoidSchedule: start must be finite, got -inf"),
    (lambda: SigmoidSchedule(tau=True), "SigmoidSchedule: tau must be a real number, got True"),
    (lambda: SigmoidSchedule(-1e308, 1e308, 1e-10), "overflows"),
    (lambda: LogitNormalTimesteps(std=0.0), "LogitNormalTimesteps: std must be > 0, got 0.0"),
    (lambda: LogitNormalTimesteps(mean=np.nan), "LogitNormalTimesteps: mean must be finite, got nan"),
    (lambda: get_schedule("quadratic"), "get_schedule: unknown schedule 'quadratic'"),
    (lambda: get_schedule(CosineSchedule(), s=0.1), "parameters"),
])
def test_bad_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_get_schedule_and_equality():
    assert get_schedule("cosine") == CosineSchedule() != CosineSchedule(0.01)
    assert get_schedule("sigmoid", start=0.0, end=3.0, tau=0.7) == SigmoidSchedule(0.0, 3.0, 0.7)
    s = LinearSchedule()
    assert get_schedule(s) is s and isinstance(s, NoiseSchedule)
    assert repr(s) == "LinearSchedule(beta_min=0.1, beta_max=20.0)"
    with pytest.raises(TypeError, match="get_schedule: schedule must be a name or a NoiseSchedule, got int"):
        get_schedule(3)


def test_dtypes_follow_t():
    s = CosineSchedule()
    assert s.log_snr(np.float32([0.5])).dtype == np.float32
    assert s.alpha_bar(np.array([0, 1])).dtype == np.float64
    a, sg = s.scales(np.float32([0.25, 0.75]))
    assert a.dtype == sg.dtype == np.float32
    assert isinstance(s.log_snr(0.5), np.float64)
    # float32 results are the float64 ones rounded
    t = np.linspace(0, 1, 33, dtype=np.float32)
    assert np.array_equal(s.alpha_bar(t), s.alpha_bar(t.astype(np.float64)).astype(np.float32))


# ------------------------------------------------------------ training times

def test_uniform_timesteps():
    from scipy import stats

    t = UniformTimesteps().sample(20000, random_state=1)
    assert t.shape == (20000,) and t.dtype == np.float64 and np.all((t >= 0) & (t < 1))
    assert stats.kstest(t, "uniform").pvalue > 0.01
    assert np.array_equal(t, UniformTimesteps().sample(20000, random_state=np.random.default_rng(1)))
    assert UniformTimesteps().pdf([0.0, 0.5, 1.0]).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("m, s", [(0.0, 1.0), (0.5, 1.0), (-1.0, 0.3)])
def test_logit_normal_timesteps_are_sigma_of_a_normal(m, s):
    from scipy import integrate, stats

    sampler = LogitNormalTimesteps(m, s)
    t = sampler.sample(20000, random_state=2)
    assert t.shape == (20000,) and np.all((t > 0) & (t < 1))
    u = np.log(t) - np.log1p(-t)                                         # NumPy's logit, not the library's
    assert stats.kstest(u, stats.norm(m, s).cdf).pvalue > 0.01
    # the share in the middle against the normal distribution's
    inside = np.mean((t >= 0.25) & (t <= 0.75))
    want = stats.norm(m, s).cdf(math.log(3)) - stats.norm(m, s).cdf(-math.log(3))
    assert abs(inside - want) < 4 * math.sqrt(want * (1 - want) / t.size)
    # the density: integrates to 1 and is the normal's by the change of variables
    total, _ = integrate.quad(lambda x: float(sampler.pdf(x)), 0, 1, limit=200)
    assert abs(total - 1) < 1e-8
    x = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(sampler.pdf(x), stats.norm(m, s).pdf(np.log(x / (1 - x))) / (x * (1 - x)),
                               rtol=1e-12)
    assert sampler.pdf([0.0, 1.0]).tolist() == [0.0, 0.0]
    assert np.array_equal(t, LogitNormalTimesteps(m, s).sample(20000, random_state=2))


def test_logit_normal_spends_more_time_in_the_middle_than_uniform():
    t_ln = LogitNormalTimesteps().sample(50000, random_state=3)
    t_u = UniformTimesteps().sample(50000, random_state=3)
    mid = lambda t: np.mean((t >= 0.25) & (t <= 0.75))                   # noqa: E731
    assert mid(t_ln) > 0.7 and abs(mid(t_u) - 0.5) < 0.01


def test_logit_normal_times_are_normal_flow_log_snrs():
    """For the rectified flow lambda(t) = -2 logit(t): with t = sigma(u), lambda = -2 u exactly in float64
    for moderate u (the library's logit inverts its sigmoid there)."""
    u = np.random.default_rng(4).standard_normal(1000)
    from sigmoid import sigmoid

    np.testing.assert_allclose(-2 * logit(sigmoid(u)), -2 * u, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n", [-1, 2.5, True, None])
def test_timestep_sampler_bad_n(n):
    for s in (UniformTimesteps(), LogitNormalTimesteps()):
        with pytest.raises(ValueError, match=r"Timesteps.sample: n must be an int >= 0"):
            s.sample(n)


# ------------------------------------------------------------------ samplers
# Gaussian data N(mu, v) in one dimension: the exact noise predictor and
# velocity, the references the samplers are run with.

MU, VAR = 1.5, 0.25


def exact_eps(schedule):
    def model(x, t):
        a, s = schedule.scales(t[:, None])
        # E[eps | x_t]: x_t ~ N(a mu, a^2 v + s^2), Cov(eps, x_t) = s
        return s * (x - a * MU) / (a * a * VAR + s * s)
    return model


def exact_velocity(x, t):
    t = t[:, None]
    var = (1 - t) ** 2 * VAR + t * t
    r = x - (1 - t) * MU
    return t * r / var - (MU + (1 - t) * VAR * r / var)     # E[eps | x_t] - E[x0 | x_t]


def test_ddpm_is_ho_et_als_algorithm_2():
    """On the grid i/T, ddpm_sample is Algorithm 2 of Ho et al. with the
    schedule's betas and the posterior variance beta~, step for step (the
    same noise draws)."""
    T = 25
    sch = LinearSchedule()
    model = exact_eps(sch)
    x1 = np.random.default_rng(5).standard_normal((200, 1))
    got = ddpm_sample(model, x1, sch, T, random_state=6)

    beta = sch.betas(T)
    alpha = 1 - beta
    abar = np.cumprod(alpha)
    rng = np.random.default_rng(6)
    x = x1.copy()
    for i in range(T, 0, -1):                               # t = T, ..., 1; abar[i - 1] is alpha_bar_t
        t = np.full(x.shape[0], i / T)
        eps = model(x, t)
        mean = (x - beta[i - 1] / np.sqrt(1 - abar[i - 1]) * eps) / np.sqrt(alpha[i - 1])
        if i > 1:
            var = (1 - abar[i - 2]) / (1 - abar[i - 1]) * beta[i - 1]
            x = mean + np.sqrt(var) * rng.standard_normal(x.shape)
        else:
            x = mean
    np.testing.assert_allclose(got, x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("sch", [LinearSchedule(), CosineSchedule(), SigmoidSchedule(0.0, 3.0, 0.7)], ids=repr)
def test_samplers_reach_gaussian_data_with_the_exact_predictor(sch):
    """DDIM integrates the probability-flow ODE, whose exact solution for
    Gaussian data maps the start x onto mu + sqrt(v) (x - a mu) / sqrt(a^2 v
    + s^2): its error falls as 1/steps (a first-order method).  DDPM's
    samples have the data's mean and variance."""
    x1 = np.random.default_rng(7).standard_normal((4000, 1))
    t_max = 1.0 if sch.alpha_bar(1.0) > 0 else float(sch.time_at(-12.0))
    a, s = sch.scales(t_max)
    exact = MU + math.sqrt(VAR) * (x1 - a * MU) / math.sqrt(a * a * VAR + s * s)
    err = {n: np.abs(ddim_sample(exact_eps(sch), x1, sch, n, t_max=t_max) - exact).max() for n in (200, 1000)}
    assert err[1000] < 0.02 and 3.5 < err[200] / err[1000] < 6, err
    x1 = np.random.default_rng(8).standard_normal((20000, 1))
    z = ddpm_sample(exact_eps(sch), x1, sch, 3000, random_state=8, t_max=t_max)
    # the variance's standard error is 1 %; its bias from the steps 5 % at 200 steps and under 1.5 % at 3000
    assert abs(z.mean() - MU) < 4 * math.sqrt(VAR / z.size) and abs(z.var() / VAR - 1) < 0.03


def test_euler_follows_the_rectified_flow_of_gaussian_data():
    """The exact velocity of the straight path carries x to mu + sqrt(v) x;
    Euler's error falls as 1/steps."""
    x1 = np.random.default_rng(9).standard_normal((1000, 1))
    err = [np.abs(euler_sample(exact_velocity, x1, n) - (MU + math.sqrt(VAR) * x1)).max() for n in (10, 100, 1000)]
    assert err[2] < 3e-3 and 8 < err[0] / err[1] < 12 and 8 < err[1] / err[2] < 12, err


def test_one_step_works_and_zero_steps_are_an_error():
    sch = LinearSchedule()
    x1 = np.random.default_rng(0).standard_normal((4, 3))
    point = lambda x, t: (x - sch.scales(t[:, None])[0] * 0.25) / sch.scales(t[:, None])[1]   # noqa: E731
    np.testing.assert_allclose(ddpm_sample(point, x1, sch, 1), 0.25, rtol=1e-12)
    np.testing.assert_allclose(ddim_sample(point, x1, sch, 1), 0.25, rtol=1e-12)
    np.testing.assert_allclose(euler_sample(lambda x, t: (x - 0.25) / t[:, None], x1, 1), 0.25, rtol=1e-12)
    for call in (lambda: ddpm_sample(point, x1, sch, 0), lambda: ddim_sample(point, x1, sch, 0),
                 lambda: euler_sample(point, x1, 0)):
        with pytest.raises(ValueError, match=r"_sample: steps must be an int >= 1, got 0"):
            call()


def test_ddim_with_eta_one_is_ddpm():
    sch = CosineSchedule()
    model = exact_eps(sch)
    x1 = np.random.default_rng(10).standard_normal((50, 1))
    a = ddpm_sample(model, x1, sch, 20, random_state=3, t_max=0.99)
    b = ddim_sample(model, x1, sch, 20, eta=1.0, random_state=3, t_max=0.99)
    c = ddim_sample(model, x1, sch, 20, eta=0.5, random_state=3, t_max=0.99)
    np.testing.assert_allclose(a, b, rtol=1e-13)
    assert not np.allclose(a, c)


def test_samplers_keep_the_dtype_and_leave_the_input_alone():
    sch = LinearSchedule()
    x1 = np.random.default_rng(11).standard_normal((8, 1)).astype(np.float32)
    copy = x1.copy()
    seen = []

    def model(x, t):
        seen.append((x.dtype, t.dtype, t.shape))
        return exact_eps(sch)(x.astype(np.float64), t).astype(np.float32)

    for out in (ddpm_sample(model, x1, sch, 3, random_state=0), ddim_sample(model, x1, sch, 3),
                euler_sample(lambda x, t: model(x, t), x1, 3)):
        assert out.dtype == np.float32 and out.shape == x1.shape
    assert np.array_equal(x1, copy)
    assert set(seen) == {(np.dtype(np.float32), np.dtype(np.float64), (8,))}


def test_clip_denoised():
    sch = LinearSchedule()
    x1 = np.random.default_rng(12).standard_normal((100, 2))
    far = lambda x, t: (x - sch.scales(t[:, None])[0] * 50.0) / sch.scales(t[:, None])[1]   # noqa: E731
    assert np.allclose(ddim_sample(far, x1, sch, 10), 50.0)
    assert np.allclose(ddim_sample(far, x1, sch, 10, clip_denoised=3.0), 3.0)
    y = ddpm_sample(far, x1, sch, 10, clip_denoised=(np.array([-1.0, -2.0]), np.array([1.0, 2.0])), random_state=0)
    assert np.allclose(y, [1.0, 2.0])
    with pytest.raises(ValueError, match="clip_denoised must be > 0"):
        ddim_sample(far, x1, sch, 10, clip_denoised=0.0)
    with pytest.raises(ValueError, match=r"clip_denoised \(low, high\) must be finite with low < high"):
        ddim_sample(far, x1, sch, 10, clip_denoised=(1.0, -1.0))


def test_sampler_bad_input():
    sch = CosineSchedule()
    model = exact_eps(sch)
    x1 = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"ddpm_sample: alpha_bar\(t_max\) = 0 for CosineSchedule\(s=0.008\)"):
        ddpm_sample(model, x1, sch, 10)
    with pytest.raises(ValueError, match=r"ddim_sample: t_max must be in \(0, 1\], got 1.5"):
        ddim_sample(model, x1, sch, 10, t_max=1.5)
    with pytest.raises(ValueError, match=r"euler_sample: t_max must be in \(0, 1\], got 0.0"):
        euler_sample(model, x1, 10, t_max=0.0)
    with pytest.raises(ValueError, match="ddim_sample: eta must be in"):
        ddim_sample(model, x1, sch, 10, eta=1.5, t_max=0.9)
    with pytest.raises(ValueError, match="ddim_sample: x must be a float32 or float64 array"):
        ddim_sample(model, np.zeros((3, 1), int), sch, 10, t_max=0.9)
    with pytest.raises(ValueError, match=r"ddim_sample: x must have shape \(n, ...\) with n >= 1, got shape \(\)"):
        ddim_sample(model, np.float64(0.0), sch, 10, t_max=0.9)
    with pytest.raises(ValueError, match="euler_sample: x contains nan or inf"):
        euler_sample(model, np.array([[np.nan]]), 10)
    with pytest.raises(ValueError, match=r"euler_sample: the model returned shape \(3,\) for x of shape \(3, 1\)"):
        euler_sample(lambda x, t: t, x1, 10)
    with pytest.raises(FloatingPointError, match="ddim_sample: the model's prediction at t = 0.9 is not finite"):
        ddim_sample(lambda x, t: x * np.nan, x1, sch, 10, t_max=0.9)
    with pytest.raises(TypeError, match="ddpm_sample: schedule must be a NoiseSchedule"):
        ddpm_sample(model, x1, "cosine", 10)


# ---------------------------------------------------------- energy distance

def test_energy_distance_is_scipys_in_one_dimension():
    from scipy import stats

    rng = np.random.default_rng(13)
    x, y = rng.standard_normal(300), rng.standard_normal(200) * 1.5 + 0.3
    assert math.isclose(energy_distance(x, y), stats.energy_distance(x, y), rel_tol=1e-12)
    assert math.isclose(energy_distance(x[:, None], y[:, None]), stats.energy_distance(x, y), rel_tol=1e-12)


def test_energy_distance_in_the_plane_by_pairwise_distances():
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(14)
    x, y = rng.standard_normal((700, 2)), rng.standard_normal((300, 2)) + [0.5, 0.0]
    want = math.sqrt(2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean())
    assert math.isclose(energy_distance(x, y), want, rel_tol=1e-12)
    assert energy_distance(x, x) == 0.0
    assert math.isclose(energy_distance(x, y), energy_distance(y[::-1], x), rel_tol=1e-12)


def test_energy_distance_tells_distributions_apart():
    rng = np.random.default_rng(15)
    a, b = rng.standard_normal((1000, 2)), rng.standard_normal((1000, 2))
    c = rng.standard_normal((1000, 2)) * [1.0, 1.3]
    floor = energy_distance(a, b)
    assert floor < 0.07 and energy_distance(a, c) > 2 * floor


@pytest.mark.parametrize("x, y, message", [
    (np.zeros((0, 2)), np.zeros((3, 2)), "energy_distance: x must be a non-empty real array"),
    (np.zeros((3, 2)), np.zeros((3, 3)), "x has 2 features per point and y 3"),
    (np.zeros((3, 2, 1)), np.zeros((3, 2)), r"x must be a non-empty real array of shape \(n,\) or \(n, d\)"),
    (np.array([[np.inf, 0.0]]), np.zeros((3, 2)), "energy_distance: x contains nan or inf"),
    (np.zeros(3), np.array(["a"]), "energy_distance: y must be"),
])
def test_energy_distance_bad_input(x, y, message):
    with pytest.raises(ValueError, match=message):
        energy_distance(x, y)
