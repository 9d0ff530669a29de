"""The tour's section on diffusion: sigma in the noise schedule (the
log-SNR, whose sigmoid is alpha_bar), in the sampling of training times
(logit-normal: sigma of a normal) and in the conditioning network (SiLU and
a sigma gate), measured and drawn.

The references are not this library: the schedules' exact values in
Python's decimal arithmetic (its own sine below), the sigmoid schedule's
crossing time in closed form, the normal distribution through
:func:`math.erf`, and, for the samples, independent draws of the data
themselves (the floor of the energy distance) and the data's best Gaussian
fit (what a model that learnt nothing but the mean and covariance gives).
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from decimal import Decimal

import numpy as np

from .. import _core
from .._accuracy import SCHEDULES
from ..diffusion import (
    CosineSchedule,
    LinearSchedule,
    LogitNormalTimesteps,
    SigmoidSchedule,
    UniformTimesteps,
    energy_distance,
)
from ..models.diffusion import Denoiser, DiffusionModel, two_moons
from ..models.gan import mixture_of_gaussians
from ._report import Figure, Section, agrees, meets, png_of
from ._sections import _context, _plt

_EPS = 2.0 ** -52
_PREC = 80          # decimal digits: 1 - alpha_bar at t = 1e-12 still has more than 60


# --------------------------------------------------------- exact references

def _pi(c) -> Decimal:
    """pi by Machin's formula, pi/4 = 4 atan(1/5) - atan(1/239), each
    arctangent by its series, summed to below the context's precision."""
    def atan_inv(n):
        x, total, k, sign = c.divide(1, n), Decimal(0), 1, 1
        power, n2 = x, n * n
        while True:
            term = c.divide(power, k)
            if term == 0 or c.compare(c.abs(term), Decimal(10) ** (-c.prec - 5)) < 0:
                return total
            total = c.add(total, term) if sign > 0 else c.subtract(total, term)
            power, k, sign = c.divide(power, n2), k + 2, -sign

    return c.multiply(4, c.subtract(c.multiply(4, atan_inv(5)), atan_inv(239)))


def _sin(x: Decimal, c) -> Decimal:
    """sin x for 0 <= x <= 2 by its Taylor series (terms fall below the
    precision after about 45 of them)."""
    total, term, k = Decimal(0), x, 1
    x2 = c.multiply(x, x)
    while term != 0 and c.compare(c.abs(term), Decimal(10) ** (-c.prec - 5)) >= 0:
        total = c.add(total, term)
        term = c.divide(c.multiply(c.minus(term), x2), (k + 1) * (k + 2))
        k += 2
    return total


def exact_log_snr(schedule, t: float) -> float:
    """lambda(t) = ln(alpha_bar / (1 - alpha_bar)) from the papers' formula
    for alpha_bar in 80-digit decimal arithmetic, rounded to float64 (+-inf
    where alpha_bar is 1 or 0).  Exact for the float t given."""
    c = _context(_PREC)
    T = Decimal(t)
    if isinstance(schedule, LinearSchedule):
        b0, b1 = Decimal(schedule.beta_min), Decimal(schedule.beta_max)
        i = c.add(c.multiply(b0, T), c.divide(c.multiply(c.subtract(b1, b0), c.multiply(T, T)), 2))
        ab = c.exp(c.minus(i))
    elif isinstance(schedule, CosineSchedule):
        s, half_pi = Decimal(schedule.s), c.divide(_pi(c), 2)

        def cos2(u):        # cos((u + s)/(1 + s) pi/2) = sin((1 - u)/(1 + s) pi/2), squared
            v = _sin(c.divide(c.multiply(c.subtract(1, u), half_pi), c.add(1, s)), c)
            return c.multiply(v, v)

        ab = c.divide(cos2(T), cos2(Decimal(0)))
    else:
        st, en, tau = (Decimal(v) for v in (schedule.start, schedule.end, schedule.tau))

        def sig(z):
            return c.divide(1, c.add(1, c.exp(c.minus(z))))

        vs, ve = sig(c.divide(st, tau)), sig(c.divide(en, tau))
        z = c.divide(c.add(c.multiply(T, c.subtract(en, st)), st), tau)
        ab = c.divide(c.subtract(ve, sig(z)), c.subtract(ve, vs))
    if ab == 1:
        return math.inf
    if ab <= 0:
        return -math.inf
    return float(c.subtract(c.ln(ab), c.ln(c.subtract(1, ab))))


def exact_crossing(start: float, end: float, tau: float) -> float:
    """The t at which the sigmoid schedule's log-SNR is 0: alpha_bar = 1/2,
    sigma(z) = (v_s + v_e)/2, t = (tau logit((v_s + v_e)/2) - start)/(end - start),
    in decimal arithmetic."""
    c = _context(_PREC)
    st, en, tau_d = Decimal(start), Decimal(end), Decimal(tau)

    def sig(z):
        return c.divide(1, c.add(1, c.exp(c.minus(z))))

    p = c.divide(c.add(sig(c.divide(st, tau_d)), sig(c.divide(en, tau_d))), 2)
    z = c.subtract(c.ln(p), c.ln(c.subtract(1, p)))
    return float(c.divide(c.subtract(c.multiply(tau_d, z), st), c.subtract(en, st)))


def _naive_log_snr(schedule, t):
    """logit(alpha_bar) by the papers' formulas in float64: what the
    library's formulas replace."""
    t = np.asarray(t, np.float64)
    with np.errstate(all="ignore"):
        if isinstance(schedule, LinearSchedule):
            ab = np.exp(-(schedule.beta_min * t + (schedule.beta_max - schedule.beta_min) * t * t / 2))
        elif isinstance(schedule, CosineSchedule):
            s = schedule.s
            ab = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2 / np.cos(s / (1 + s) * np.pi / 2) ** 2
        else:
            sg = lambda z: 1 / (1 + np.exp(-z))                                 # noqa: E731
            vs, ve = sg(schedule.start / schedule.tau), sg(schedule.end / schedule.tau)
            ab = (ve - sg((t * (schedule.end - schedule.start) + schedule.start) / schedule.tau)) / (ve - vs)
        return np.log(ab / (1 - ab))


def schedule_errors(schedule, lam_of_t, times) -> float:
    """The largest |lambda - exact| in units of eps M(t) (M as in
    sigmoid._accuracy.SCHEDULES); inf where an infinite end is missed or a
    finite value comes out infinite or NaN."""
    got = np.asarray(lam_of_t(np.asarray(times, np.float64)), np.float64)
    worst = 0.0
    for t, g in zip(list(times), got.tolist()):
        want = exact_log_snr(schedule, t)
        if math.isinf(want) or not math.isfinite(g):
            if g != want:
                return math.inf
            continue
        m = max(1.0, abs(want))
        if isinstance(schedule, SigmoidSchedule):
            m = max(m, abs(schedule.start) / schedule.tau, abs(schedule.end) / schedule.tau)
        worst = max(worst, abs(g - want) / (_EPS * m))
    return worst


def crossing_by_bisection(schedule) -> float:
    """The float t where this library's lambda(t) changes sign, by bisection
    over [0, 1] (lambda decreases from +inf to -inf)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if schedule.log_snr(mid) > 0:
            lo = mid
        else:
            hi = mid
    return lo if abs(schedule.log_snr(lo)) <= abs(schedule.log_snr(hi)) else hi


# ------------------------------------------------------------- the section

SCHEDULE_SET = {"linear": LinearSchedule(), "cosine": CosineSchedule(), "sigmoid": SigmoidSchedule()}
TAUS = (0.3, 0.5, 0.7, 0.9, 1.1)

#: the configurations compared at one training budget: (label, DiffusionModel keywords, samplers)
CONFIGS = [
    ("eps, linear", dict(objective="eps", schedule="linear"), ("ddpm", "ddim")),
    ("eps, cosine", dict(objective="eps", schedule="cosine"), ("ddpm", "ddim")),
    ("eps, sigmoid", dict(objective="eps", schedule="sigmoid"), ("ddpm", "ddim")),
    ("flow", dict(objective="flow"), ("euler",)),
    ("flow, logit-normal t", dict(objective="flow", timesteps="logit_normal"), ("euler",)),
]
#: the seeds of each configuration, full run and quick run
SEEDS = {False: (0, 1, 2), True: (0,)}
#: the network and budget of every configuration (the training steps: full run, quick run)
NETWORK = dict(width=32, n_blocks=2, embedding_dim=32, lr=8e-3)
#: (training steps, batch size) of the full run and of the quick run
BUDGET = {False: (400, 512), True: (200, 256)}
#: how near the floor the best configuration is claimed to come, at those budgets
FLOOR_FACTOR = {False: 2.5, True: 5.0}
N_EVAL = 1000           # points sampled and in each draw of the data
SAMPLE_STEPS = 50


def _schedule_claims(s: Section, plt) -> None:
    times = [0.0, 1e-12, 1e-9, 1e-6, 1e-3] + np.linspace(0.01, 0.99, 50).tolist() + \
            [1 - 1e-3, 1 - 1e-6, 1 - 1e-9, 1 - 1e-12, 1.0]
    errs = {k: schedule_errors(sch, sch.log_snr, times) for k, sch in SCHEDULE_SET.items()}
    s.claims.append(meets(
        "alpha_bar = sigma(lambda): each schedule's log-SNR, computed without cancellation, within its bound of "
        "exact decimal arithmetic over t in [0, 1], the ends t = 0 and t = 1 included",
        "largest error in eps max(1, |lambda|): " + ", ".join(f"{k} {v:.2f}" for k, v in errs.items())
        + f" ({len(times)} times each)",
        [(f"{k} (bound {SCHEDULES[k]})", v, "<=", SCHEDULES[k]) for k, v in errs.items()]))
    near = [1e-12, 1e-9, 1e-6, 1 - 1e-9, 1 - 1e-12]
    naive = {k: schedule_errors(sch, lambda t, sch=sch: _naive_log_snr(sch, t), near)
             for k, sch in SCHEDULE_SET.items()}
    s.claims.append(meets(
        "the textbook logit(alpha_bar) from the papers' formulas loses the digits near the ends",
        "its largest error near t = 0 and t = 1, in eps max(1, |lambda|): "
        + ", ".join(f"{k} {v:.3g}" for k, v in naive.items()),
        [(f"{k}", v, ">", 100 * SCHEDULES[k]) for k, v in naive.items()]))

    got = {tau: crossing_by_bisection(SigmoidSchedule(0.0, 3.0, tau)) for tau in TAUS}
    want = {tau: exact_crossing(0.0, 3.0, tau) for tau in TAUS}
    sym = {tau: crossing_by_bisection(SigmoidSchedule(-3.0, 3.0, tau)) for tau in TAUS}
    s.claims.append(agrees(
        "tau moves where the sigmoid schedule's SNR crosses 1 (start 0, end 3); with start = -end it stays at t = 1/2",
        {"start 0, end 3: t where lambda = 0": (list(got.values()), list(want.values())),
         "start -3, end 3": (list(sym.values()), [0.5] * len(TAUS))}, 1e-12,
        "; t where lambda = 0 for tau " + ", ".join(f"{tau}: {v:.4f}" for tau, v in got.items())))

    t = np.linspace(0, 1, 501)
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    for k, sch in SCHEDULE_SET.items():
        lam = sch.log_snr(t)
        ax[0].plot(t, np.clip(lam, -25, 25), label=f"{k} {sch!r}".replace("Schedule", ""))
        ax[1].plot(t, sch.alpha_bar(t), label=k)
    inner = t[1:-1]
    ax[0].plot(inner, -2 * _core.logit(inner), ":", c="gray", label="rectified flow: -2 logit(t)")
    ax[0].axhline(0, c="k", lw=.5)
    ax[0].set_ylim(-20, 20)
    ax[0].set_xlabel("t")
    ax[0].set_title("log-SNR lambda(t)")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("t")
    ax[1].set_title("alpha_bar(t) = sigma(lambda(t))")
    ax[1].legend(fontsize=8)
    for tau in TAUS:
        sch = SigmoidSchedule(0.0, 3.0, tau)
        line, = ax[2].plot(t, np.clip(sch.log_snr(t), -25, 25), label=f"tau = {tau}")
        ax[2].plot([got[tau]], [0], "o", c=line.get_color())
    ax[2].axhline(0, c="k", lw=.5)
    ax[2].set_ylim(-15, 15)
    ax[2].set_xlabel("t")
    ax[2].set_title("sigmoid schedule, start 0, end 3: tau")
    ax[2].legend(fontsize=8)
    s.figures.append(Figure("diffusion-schedules", "Left: the log-SNR of the linear, cosine and sigmoid schedules "
                            "against t, with the rectified flow's -2 logit(t). Middle: alpha_bar(t), the sigmoid of "
                            "the log-SNR. Right: the sigmoid schedule with start 0 and end 3 for five temperatures "
                            "tau, the dot where the SNR crosses 1 moving later as tau grows.", png_of(fig)))


def _timestep_claims(s: Section, plt) -> None:
    n = 200_000
    t_ln = LogitNormalTimesteps().sample(n, random_state=0)
    t_u = UniformTimesteps().sample(n, random_state=0)
    share_ln = float(np.mean((t_ln >= 0.25) & (t_ln <= 0.75)))
    share_u = float(np.mean((t_u >= 0.25) & (t_u <= 0.75)))
    # P(|u| <= ln 3) for u ~ N(0, 1): t = sigma(u) in [1/4, 3/4]
    want_ln = math.erf(math.log(3) / math.sqrt(2))
    se = math.sqrt(want_ln * (1 - want_ln) / n)
    s.claims.append(agrees(
        "logit-normal times t = sigma(u), u ~ N(0, 1), spend more of training in the middle of the trajectory",
        {"share of t in [1/4, 3/4], logit-normal, from erf(ln 3 / sqrt 2)": ([share_ln], [want_ln]),
         "uniform, from 1/2": ([share_u], [0.5])}, 4 * se,
        f"; logit-normal {share_ln:.4f}, uniform {share_u:.4f} ({n:,} draws; tolerance 4 standard errors)"))
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    bins = np.linspace(0, 1, 51)
    ax.hist(t_u, bins=bins, density=True, alpha=.45, label="uniform")
    ax.hist(t_ln, bins=bins, density=True, alpha=.45, label="logit-normal (0, 1)")
    x = np.linspace(0.001, 0.999, 400)
    ax.plot(x, LogitNormalTimesteps().pdf(x), c="C1")
    ax.axvspan(0.25, 0.75, color="gray", alpha=.1)
    ax.set_xlabel("training time t")
    ax.legend(fontsize=8)
    ax.set_title("where training is spent")
    s.figures.append(Figure("diffusion-timesteps", "Histograms of training times drawn uniformly and from the "
                            "logit-normal distribution, with its density; the shaded middle half of the interval "
                            "gets 73 % of the logit-normal draws.", png_of(fig)))


def _train(kw, seed, quick, X):
    steps, batch = BUDGET[quick]
    return DiffusionModel(**kw, **NETWORK, n_steps=steps, batch_size=batch, random_state=seed).fit(X)


def _quality_claims(s: Section, plt, quick: bool) -> None:
    steps, seeds = BUDGET[quick][0], SEEDS[quick]
    X = mixture_of_gaussians(4000, random_state=0)
    ref = mixture_of_gaussians(N_EVAL, random_state=1000)
    floors = [energy_distance(mixture_of_gaussians(N_EVAL, random_state=2000 + i), ref) for i in range(5)]
    floor = float(np.mean(floors))
    gauss = np.random.default_rng(3000).multivariate_normal(X.mean(0), np.cov(X.T), N_EVAL)
    gauss_d = energy_distance(gauss, ref)
    dist, models, drawn, seconds = {}, {}, {}, 0.0
    for label, kw, samplers in CONFIGS:
        for seed in seeds:
            t0 = time.perf_counter()
            m = _train(kw, seed, quick, X)
            seconds += time.perf_counter() - t0
            models[label, seed] = m
            for smp in samplers:
                pts = drawn[label, smp, seed] = m.sample(N_EVAL, smp, steps=SAMPLE_STEPS, random_state=100 + seed)
                dist.setdefault((label, smp), []).append(energy_distance(pts, ref))
    mean = {k: float(np.mean(v)) for k, v in dist.items()}
    best = min(mean, key=mean.get)
    worst = max(mean, key=mean.get)
    s.claims.append(meets(
        f"every configuration learns the ring: its samples are at most 3/4 as far from the data as the data's best "
        f"Gaussian fit ({steps} training steps, {len(seeds)} seed(s))",
        f"energy distance: Gaussian fit {gauss_d:.3f}; worst configuration {worst[0]} ({worst[1]}) "
        f"{mean[worst]:.3f}, best {best[0]} ({best[1]}) {mean[best]:.3f}",
        [(f"{label} ({smp}), mean over seeds", v, "<", 0.75 * gauss_d) for (label, smp), v in mean.items()]))
    bound = FLOOR_FACTOR[quick]
    s.claims.append(meets(
        f"the best configuration comes within {bound:g} times the floor, the distance between two independent "
        f"draws of the data",
        f"best: {best[0]} ({best[1]}) {mean[best]:.3f} (seeds {', '.join(f'{v:.3f}' for v in dist[best])}); "
        f"floor {floor:.3f} (from {min(floors):.3f} to {max(floors):.3f} over 5 pairs of draws)",
        [("best mean distance", mean[best], "<", bound * floor)]))
    s.notes.append("Energy distance to the same 1000 data points, mean over seeds (lowest, highest): "
                   + "; ".join(f"{label} with {smp}: {mean[label, smp]:.3f} ({min(v):.3f}, {max(v):.3f})"
                               for (label, smp), v in dist.items())
                   + f".  Training: {seconds:.1f} s for {len(models)} models.  Which wins is what was measured "
                   "here, at this budget, not a general ranking; where the spreads overlap the seeds do not "
                   "tell the configurations apart.")

    # ---- the conditioning network of the best noise-prediction model, against t
    eps_labels = [lab for lab, kw, _ in CONFIGS if kw["objective"] == "eps"]
    eps_best = min(((lab, smp) for lab, smp in mean if lab in eps_labels), key=mean.get)[0]
    m = models[eps_best, seeds[0]]
    tt = np.linspace(0, 1, 101)
    film = m.film(tt)
    film0 = Denoiser(2, NETWORK["width"], NETWORK["n_blocks"], NETWORK["embedding_dim"],
                     rng=np.random.default_rng(0)).film(tt)          # a network as fit() starts it

    def spread(f):      # per unit, the range of the gate over t; the mean over units and blocks
        return float(np.mean([np.ptp(b["gate"], axis=0).mean() for b in f]))

    def scale_spread(f):
        return float(np.mean([np.ptp(b["scale"], axis=0).mean() for b in f]))

    g1, g0, sc1 = spread(film), spread(film0), scale_spread(film)
    s.claims.append(meets(
        "the conditioning network learns to treat noisy and clean inputs differently: after training the sigma "
        "gates and the FiLM scales depend on t; at initialisation (adaLN-zero) they do not",
        f"{eps_best}, seed {seeds[0]}: mean range over t of a gate {g1:.3f} (at initialisation {g0:.3g}), of a FiLM "
        f"scale {sc1:.3f}",
        [("gate range after training", g1, ">", 0.05), ("FiLM scale range after training", sc1, ">", 0.05),
         ("gate range at initialisation", g0, "<=", 1e-6)]))
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    for i, b in enumerate(film):
        g = b["gate"]
        ax[0].plot(tt, g[:, :8], c=f"C{i}", lw=.7, alpha=.8)
        ax[0].plot(tt, g.mean(1), c=f"C{i}", lw=2.5, label=f"block {i}: mean over units")
        ax[1].plot(tt, np.abs(b["scale"]).mean(1), c=f"C{i}", label=f"block {i}: mean |scale|")
        ax[1].plot(tt, np.abs(b["shift"]).mean(1), c=f"C{i}", ls="--", label=f"block {i}: mean |shift|")
    ax[0].axhline(0.5, c="gray", ls=":", label="at initialisation: 1/2")
    ax[0].set_xlabel("t (0: data, 1: noise)")
    ax[0].set_title("sigma gates of the residual branches")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("t")
    ax[1].set_title("FiLM modulation (0 at initialisation)")
    ax[1].legend(fontsize=7)
    labels = [f"{lab}\n{smp}" for lab, smp in dist]
    vals = [mean[k] for k in dist]
    lo = [mean[k] - min(v) for k, v in dist.items()]
    hi = [max(v) - mean[k] for k, v in dist.items()]
    ax[2].barh(range(len(vals)), vals, xerr=[lo, hi], color=["C3" if k == best else "C0" for k in dist], alpha=.7)
    ax[2].axvspan(min(floors), max(floors), color="gray", alpha=.25, label="floor: two draws of the data")
    ax[2].axvline(gauss_d, c="k", ls=":", label="the data's Gaussian fit")
    ax[2].set_yticks(range(len(vals)), labels, fontsize=6)
    ax[2].invert_yaxis()
    ax[2].set_xlabel(f"energy distance to the data (mean, lowest to highest of {len(seeds)} seed(s))")
    ax[2].legend(fontsize=7, loc="lower right")
    ax[2].set_title(f"sample quality at {steps} training steps")
    s.figures.append(Figure("diffusion-conditioning", "Left: the sigma gates of the two residual blocks of the best "
                            "noise-prediction model as functions of t, eight units each and their mean; all 1/2 "
                            "before training. Middle: the mean size of the FiLM scale and shift against t. Right: "
                            "the energy distance of each configuration's samples to the data, mean and spread over "
                            f"{len(seeds)} seed(s), beside the floor and the data's Gaussian fit.", png_of(fig)))

    # ---- samples beside the data, for the best configuration; and the two moons
    label, smp = best
    kw = dict(CONFIGS[[c[0] for c in CONFIGS].index(label)][1])
    seed = seeds[int(np.argmin(dist[best]))]
    # the quick run draws the points it measured; the full run draws 2000 more
    pts = drawn[label, smp, seed] if quick else models[label, seed].sample(2000, smp, steps=SAMPLE_STEPS,
                                                                           random_state=7)
    Xm = two_moons(4000, random_state=0)
    ref_m = two_moons(N_EVAL, random_state=1000)
    floors_m = [energy_distance(two_moons(N_EVAL, random_state=2000 + i), ref_m) for i in range(5)]
    mm = _train(kw, 0, quick, Xm)
    pts_m = mm.sample(N_EVAL, smp, steps=SAMPLE_STEPS, random_state=7)
    d_m = energy_distance(pts_m, ref_m)
    gauss_m = energy_distance(np.random.default_rng(3000).multivariate_normal(Xm.mean(0), np.cov(Xm.T), N_EVAL),
                              ref_m)
    s.claims.append(meets(
        f"the same configuration ({label}, {smp}) learns the two moons: within 2 times the floor and 3/4 of the "
        f"Gaussian fit's distance",
        f"energy distance {d_m:.3f}; floor {np.mean(floors_m):.3f}, the data's Gaussian fit {gauss_m:.3f}",
        [("distance", d_m, "<", 0.75 * gauss_m), ("distance", d_m, "<", 2 * float(np.mean(floors_m)))]))
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.6))
    ax[0].scatter(X[:2000, 0], X[:2000, 1], s=2, c="k", alpha=.5, label="data")
    ax[0].scatter(pts[:, 0], pts[:, 1], s=2, c="C3", alpha=.5, label=f"samples: {label}, {smp}")
    ax[0].set_aspect("equal")
    ax[0].legend(fontsize=8, loc="center", markerscale=4)
    ax[0].set_title(f"8 Gaussians, energy distance {dist[best][seeds.index(seed)]:.3f}")
    ax[1].scatter(Xm[:1000, 0], Xm[:1000, 1], s=2, c="k", alpha=.5, label="data")
    ax[1].scatter(pts_m[:, 0], pts_m[:, 1], s=2, c="C3", alpha=.5, label="samples")
    ax[1].set_aspect("equal")
    ax[1].legend(fontsize=8, loc="upper right", markerscale=4)
    ax[1].set_title(f"two moons, energy distance {d_m:.3f}")
    s.figures.append(Figure("diffusion-samples", f"Samples of the best configuration ({label}, {smp} sampler, "
                            f"{SAMPLE_STEPS} steps) in red over the data in black: left the ring of 8 Gaussians, "
                            "right the two moons.", png_of(fig)))


def diffusion(quick: bool) -> Section:
    plt = _plt()
    s = Section("diffusion", "11. Diffusion: sigma in the noise schedule, the training times and the conditioning",
                "A diffusion model blends data and noise as x_t = alpha_t x0 + sigma_t eps with alpha_t^2 = alpha_bar(t) "
                "= sigma(lambda(t)), the sigmoid of the log signal-to-noise ratio; the sigmoid schedule draws "
                "alpha_bar itself from a sigmoid; logit-normal training times are the sigmoid of a normal; and the "
                "network is told t through SiLU = x sigma(x) and FiLM with a sigma gate.  Small networks are "
                "trained here on the ring of 8 Gaussians with each schedule and each way of drawing times, "
                f"{'one seed (quick run)' if quick else 'three seeds'} each, and judged by the energy distance of "
                "their samples to the data.")
    _schedule_claims(s, plt)
    _timestep_claims(s, plt)
    with _one_blas_thread():
        _quality_claims(s, plt, quick)
    if quick:
        s.notes.append(f"Quick run: each configuration trained once (seed {SEEDS[True][0]}) for "
                       f"{BUDGET[True][0]} steps of {BUDGET[True][1]} points, against the full run's "
                       f"{len(SEEDS[False])} seeds of {BUDGET[False][0]} steps of {BUDGET[False][1]}; hence the "
                       f"wider bound on the distance to the floor ({FLOOR_FACTOR[True]:g} times, not "
                       f"{FLOOR_FACTOR[False]:g}).")
    return s


def _one_blas_thread():
    """NumPy's BLAS on one thread while the small networks train (where
    threadpoolctl, a scikit-learn dependency, is installed): their products
    are small, and the section's time is that of one core."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # its notes on the OpenMP runtimes it finds
        return threadpool_limits(1, user_api="blas")
