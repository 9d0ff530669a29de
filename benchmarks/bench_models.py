"""Benchmark the training of sigmoid.models against the same networks in PyTorch.

Each case builds this library's model and a PyTorch one of the same
architecture, loads our initial weights into it, and trains both on the same
data, batch and optimizer (Adam with the same hyper-parameters); it prints
the median time of

  * MultiLabelClassifier: one epoch, ``fit`` with ``max_iter=1`` (it
    builds the network and a fresh Adam, as the PyTorch epoch does too:
    loads the initial weights, makes a new Adam, then the mini-batches),
    4096 samples, 256 features, 20 labels, hidden (100,), ReLU, L2 alpha
    1e-4, at the default batch ("auto": 200) and at batch 32;
  * GAN: one training step, the discriminator's update then the
    generator's (the steps ``fit`` runs, ``_d_step`` and ``_g_step``; the
    model has no public one-step call), the default networks (latent 2,
    hidden (64, 64) each, tanh, Adam lr 2e-3, betas (0.5, 0.999)), batch
    128, on mixture_of_gaussians;
  * SequenceClassifier, LSTM and GRU: one update as in ``fit``'s loop
    (forward, loss, backward, clip_grad_norm at 1, Adam step; not the
    per-step history of gradient norms), batch 64, 50 steps, input 32,
    hidden 128, two classes (one logit, binary cross-entropy);

ours and torch timed in turn, round after round, so both see the same load,
and the ratio ours / torch (below 1: ours is faster).  Before timing, each
case checks that both sides compute the same thing: the loss of the first
epoch (MultiLabelClassifier) or of the first two steps / updates, which
depend on the weights and on one Adam update, must agree to 1e-5 relative
(printed; the run stops if they do not), and every loss after the timing
must be finite.  The matrix products are NumPy's BLAS (named with its core
type in the header) against PyTorch's own.

    python benchmarks/bench_models.py [--threads N] [--repeat R] [--quick] [--profile]

--quick uses small sizes (a check in seconds).  --profile also times every
case again with every width 1 (the same batches and steps), whose time is
the fixed cost per call (Python, checks, NumPy's dispatch), printed as a
share of the full time for both sides, and runs cProfile over our side of
every case slower than torch.  With more than one thread on a loaded
machine PyTorch's worker threads wait on each other: compare at
--threads 1 there.
"""
import argparse
import cProfile
import os
import pstats
import sys

from _timing import blas_threads_from_argv, with_threads  # noqa: E402  (before NumPy: it sets the BLAS threads)

blas_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402
from _process import alternating_medians  # noqa: E402

import sigmoid  # noqa: E402
from sigmoid import _core  # noqa: E402
from sigmoid.models import GAN, MultiLabelClassifier, SequenceClassifier  # noqa: E402
from sigmoid.models.gan import mixture_of_gaussians  # noqa: E402
from sigmoid.optim import Adam, clip_grad_norm  # noqa: E402

TOLERANCE = 1e-5   # relative difference allowed between the two sides' losses (float32)

FULL = dict(mlc_n=4096, mlc_features=256, mlc_labels=20, mlc_hidden=(100,), mlc_batches=("auto", 32),
            gan_batch=128, gan_hidden=(64, 64), gan_points=4096, seq_batch=64, seq_steps=50, seq_input=32, seq_hidden=128)
QUICK = dict(mlc_n=512, mlc_features=32, mlc_labels=5, mlc_hidden=(16,), mlc_batches=("auto", 32),
             gan_batch=32, gan_hidden=(16, 16), gan_points=256, seq_batch=8, seq_steps=10, seq_input=4, seq_hidden=16)


def narrow(size):
    """`size` with every width 1 (features, labels, hidden units, input),
    the batches and steps kept: the same calls on arrays too small to
    cost anything, so their time is the fixed cost per call (Python, the
    modules' checks, NumPy's dispatch, the optimizer's loop)."""
    return dict(size, mlc_features=1, mlc_labels=1, mlc_hidden=(1,), gan_hidden=(1, 1), seq_input=1, seq_hidden=1)


def run_cases(torch, size, repeat):
    """Every case: (name, batch, {"ours": s, "torch": s}, our side's callable)."""
    results = [multilabel_case(torch, size, b, repeat) for b in size["mlc_batches"]]
    results.append(gan_case(torch, size, repeat))
    results += [sequence_case(torch, size, cell, repeat) for cell in ("lstm", "gru")]
    return results


def blas_description():
    """NumPy's BLAS, with its core type and threads (threadpoolctl's, when
    installed, else OPENBLAS_CORETYPE)."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:                      # older NumPy: no dict form
        name = "unknown BLAS"
    core = os.environ.get("OPENBLAS_CORETYPE")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "its default")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                core = core or info.get("architecture")
                threads = info.get("num_threads", threads)
                break
    return f"NumPy's BLAS {name}, core {core or 'unknown (OPENBLAS_CORETYPE unset)'}, {threads} thread(s)"


def check_same(case, ours, theirs):
    """Print the two sides' losses and stop the run if they differ by more
    than TOLERANCE (relative): the timings would compare different work."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    rel = float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-30)))
    print(f"  check {case}: losses ours {np.array2string(ours, precision=7)}, "
          f"torch {np.array2string(theirs, precision=7)}, max relative difference {rel:.1e}", flush=True)
    if not rel <= TOLERANCE:
        raise SystemExit(f"bench_models: {case}: the losses of ours and torch differ by {rel:.1e} "
                         f"(> {TOLERANCE:g}); the two sides do not compute the same thing")


def check_finite(case, *losses):
    if not np.all(np.isfinite(losses)):
        raise SystemExit(f"bench_models: {case}: a loss after the timing is not finite: {losses}")


def to_torch_state(torch, state):
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


# ------------------------------------------------------------- the cases

def multilabel_case(torch, size, batch, repeat):
    """One epoch of MultiLabelClassifier.fit against the same epoch in torch."""
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    n, d, L = size["mlc_n"], size["mlc_features"], size["mlc_labels"]
    X = rng.standard_normal((n, d)).astype(np.float32)
    Y = (X @ rng.standard_normal((d, L)) / np.sqrt(d) > 0.5).astype(np.float32)
    sizes = size["mlc_hidden"]
    alpha, lr, seed = 1e-4, 1e-3, 0
    clf = MultiLabelClassifier(hidden_layer_sizes=sizes, alpha=alpha, learning_rate_init=lr, batch_size=batch,
                               max_iter=1, random_state=seed)
    b = min(200, n) if batch == "auto" else batch
    # the initial weights and the first epoch's order, drawn as fit draws them
    r = np.random.default_rng(seed)
    net = clf._build(tuple(sizes), d, L, np.float32, r)
    order = torch.from_numpy(r.permutation(n))
    init = to_torch_state(torch, net.state_dict())
    layers = []
    for k in range(len(sizes) + 1):
        layers.append(torch.nn.Linear(((d,) + tuple(sizes))[k], (tuple(sizes) + (L,))[k]))
        if k < len(sizes):
            layers.append(torch.nn.ReLU())
    tnet = torch.nn.Sequential(*layers)
    weights = [m.weight for m in tnet if isinstance(m, torch.nn.Linear)]
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def torch_epoch(alpha=alpha):
        tnet.load_state_dict(init)
        opt = torch.optim.Adam(tnet.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        total = 0.0
        for s in range(0, n, b):
            i = order[s:s + b]
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(tnet(Xt[i]), Yt[i])
            # the L2 term of the model: alpha / (2 n L) sum ||W||^2 over the batch's n
            loss = loss + (0.5 * alpha / (len(i) * L)) * sum(w.pow(2).sum() for w in weights)
            loss.backward()
            opt.step()
            total += loss.item() * len(i)
        return total / n

    def ours_epoch():
        return clf.fit(X, Y).loss_curve_[0]

    # alpha 1e-4 moves the loss by about 1e-6: the check runs a second
    # epoch with an L2 term large enough to show a mistake in it
    checked = [ours_epoch(), clf.set_params(alpha=0.5).fit(X, Y).loss_curve_[0]]
    clf.set_params(alpha=alpha)
    check_same(f"MultiLabelClassifier batch {b}, epoch loss at alpha {alpha:g} and 0.5", checked,
               [torch_epoch(), torch_epoch(0.5)])
    t = alternating_medians({"ours": ours_epoch, "torch": torch_epoch}, repeat)
    check_finite("MultiLabelClassifier", ours_epoch(), torch_epoch())
    return f"MultiLabelClassifier epoch ({-(-n // b)} batches)", b, t, ours_epoch


def gan_case(torch, size, repeat):
    """One GAN step (discriminator, then generator) against the same in torch."""
    F = torch.nn.functional
    B = size["gan_batch"]
    X = mixture_of_gaussians(size["gan_points"], random_state=0).astype(np.float32)
    gan = GAN(generator_hidden=size["gan_hidden"], discriminator_hidden=size["gan_hidden"], batch_size=B, n_steps=1,
              random_state=0).fit(X)   # builds the networks
    lr, betas = float(gan.lr), tuple(gan.betas)
    gan._opt_g = Adam(gan.generator_.parameters(), lr=lr, betas=betas)      # fresh, as fit makes them
    gan._opt_d = Adam(gan.discriminator_.parameters(), lr=lr, betas=betas)

    def mlp(widths):
        layers = []
        for i in range(len(widths) - 1):
            layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2:
                layers.append(torch.nn.Tanh())
        return torch.nn.Sequential(*layers)

    G = mlp((gan.latent_dim,) + tuple(gan.generator_hidden) + (2,))
    D = mlp((2,) + tuple(gan.discriminator_hidden) + (1,))
    G.load_state_dict(to_torch_state(torch, gan.generator_.state_dict()))
    D.load_state_dict(to_torch_state(torch, gan.discriminator_.state_dict()))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    Xt = torch.from_numpy(X)
    ones_real = torch.cat([torch.ones(B, 1), torch.zeros(B, 1)])
    ones = torch.ones(B, 1)

    def torch_d(real, z):
        with torch.no_grad():
            fake = G(z)
        opt_d.zero_grad()
        loss = 2 * F.binary_cross_entropy_with_logits(D(torch.cat([real, fake])), ones_real)
        loss.backward()
        opt_d.step()
        return loss.item()

    def torch_g(z):
        opt_g.zero_grad()
        loss = F.binary_cross_entropy_with_logits(D(G(z)), ones)
        loss.backward()           # D's gradients too, dropped by the next zero_grad, as ours drops them
        opt_g.step()
        return loss.item()

    # the check: the same real batch and noise on both sides, two steps
    rng = np.random.default_rng(2)
    ours_losses, torch_losses = [], []
    for _ in range(2):
        real = X[rng.integers(0, X.shape[0], B)]
        z1, z2 = (rng.standard_normal((B, gan.latent_dim)).astype(np.float32) for _ in range(2))
        gan._opt_d.zero_grad()
        d_loss = gan._d_loss_and_grads(real, z1)[0]
        gan._opt_d.step()
        gan._opt_g.zero_grad()
        g_loss = gan._g_loss_and_grads(z2)
        gan._opt_g.step()
        ours_losses += [d_loss, g_loss]
        torch_losses += [torch_d(torch.from_numpy(real), torch.from_numpy(z1)), torch_g(torch.from_numpy(z2))]
    check_same("GAN, d_loss and g_loss of two steps", ours_losses, torch_losses)

    def ours_step():
        d_loss = gan._d_step(X[gan._rng.integers(0, X.shape[0], B)], gan._rng)[0]
        return d_loss, gan._g_step(B, gan._rng)

    def torch_step():
        d_loss = torch_d(Xt[torch.randint(0, X.shape[0], (B,))], torch.randn(B, gan.latent_dim))
        return d_loss, torch_g(torch.randn(B, gan.latent_dim))

    t = alternating_medians({"ours": ours_step, "torch": torch_step}, repeat)
    check_finite("GAN", *ours_step(), *torch_step())
    return "GAN step (D then G)", B, t, ours_step


def sequence_case(torch, size, cell, repeat):
    """One SequenceClassifier update against the same in torch."""
    F = torch.nn.functional
    B, T, I, H = size["seq_batch"], size["seq_steps"], size["seq_input"], size["seq_hidden"]
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4 * B, T, I)).astype(np.float32)
    y = (X[:, 0, 0] > 0).astype(np.int64)
    m = SequenceClassifier(cell=cell, hidden_size=H, batch_size=B, n_steps=1, random_state=0).fit(X, y)
    params = m._parameters()
    opt = Adam(params, lr=float(m.lr))                          # fresh, as fit makes it
    rnn = getattr(torch.nn, cell.upper())(I, H, batch_first=True)
    head = torch.nn.Linear(H, 1)
    rnn.load_state_dict(to_torch_state(torch, m.rnn_.state_dict()))
    head.load_state_dict(to_torch_state(torch, m.head_.state_dict()))
    tparams = list(rnn.parameters()) + list(head.parameters())
    topt = torch.optim.Adam(tparams, lr=float(m.lr))
    c = float(m.clip_grad_norm)
    batches = [rng.permutation(X.shape[0])[:B] for _ in range(2)]

    def ours_update(idx):
        m.rnn_.train()
        with np.errstate(under="ignore"):
            opt.zero_grad()
            out = m._forward(X[idx])
            loss, dout, _ = m._loss(out, y[idx])
            m._backward(dout, T)
            clip_grad_norm(params, c)
            opt.step()
        return loss

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))

    def torch_update(idx):
        idx = torch.from_numpy(idx)
        topt.zero_grad()
        out, _ = rnn(Xt[idx])
        loss = F.binary_cross_entropy_with_logits(head(out[:, -1])[:, 0], yt[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tparams, c)
        topt.step()
        return loss.item()

    check_same(f"SequenceClassifier {cell.upper()}, loss of two updates",
               [ours_update(i) for i in batches], [torch_update(i) for i in batches])
    t = alternating_medians({"ours": lambda: ours_update(batches[0]), "torch": lambda: torch_update(batches[0])},
                            repeat)
    check_finite(f"SequenceClassifier {cell}", ours_update(batches[1]), torch_update(batches[1]))
    return f"SequenceClassifier {cell.upper()} update (T={T}, I={I}, H={H})", B, t, lambda: ours_update(batches[0])


# ------------------------------------------------------------ profiling

def profile(name, run, calls, top=12):
    """cProfile over `calls` runs of our side: the functions with the most
    time of their own (the NumPy operations they make inline, such as @
    and the ufuncs, count as their caller's own time)."""
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(calls):
        run()
    pr.disable()
    st = pstats.Stats(pr)
    total = st.total_tt
    print(f"\nprofile of ours, {name}: {total / calls * 1e3:.2f} ms per call under cProfile; "
          f"own time of the top functions:")
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (file, line, fn), (cc, nc, tt, ct, _) in rows:
        where = f"{os.path.basename(file)}:{line}({fn})" if line else fn
        print(f"  {tt / total * 100:5.1f} %  {tt / calls * 1e3:8.3f} ms  {nc // calls:>6} calls  {where}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="small sizes, a check in seconds")
    p.add_argument("--profile", action="store_true", help="cProfile our side of the cases slower than torch")
    a = p.parse_args(argv)
    threads = a.threads or sigmoid.get_num_threads()
    torch = with_threads(threads)
    if torch is None:
        raise SystemExit("bench_models: PyTorch is not installed; every case compares against it")
    size = QUICK if a.quick else FULL
    repeat = min(a.repeat, 3) if a.quick else a.repeat
    print(f"sigmoid {_core._get_isa()} kernels, {sigmoid.get_num_threads()} thread(s); {blas_description()}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); float32; "
          f"load average {os.getloadavg()[0]:.2f}; {'quick sizes' if a.quick else 'full sizes'}, "
          f"median of {repeat}", flush=True)
    results = run_cases(torch, size, repeat)
    print(f"\n{'case':<52} {'batch':>5} {'ours':>11} {'torch':>11} {'ours/torch':>10}")
    for name, b, t, _ in results:
        print(f"{name:<52} {b:>5} {t['ours'] * 1e3:>8.2f} ms {t['torch'] * 1e3:>8.2f} ms "
              f"{t['ours'] / t['torch']:>9.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if a.profile:
        print("\nfixed cost per call: the same cases with every width 1 (same batches and steps), as a share of "
              "the time at the sizes above")
        for (name, b, t, _), (_, _, t1, _) in zip(results, run_cases(torch, narrow(size), repeat)):
            print(f"{name:<52} {b:>5} ours {t1['ours'] * 1e3:>7.2f} ms ({t1['ours'] / t['ours']:>4.0%})  "
                  f"torch {t1['torch'] * 1e3:>7.2f} ms ({t1['torch'] / t['torch']:>4.0%})")
        for name, b, t, run in results:
            if t["ours"] > t["torch"]:
                profile(f"{name}, batch {b}", run, max(3, int(0.5 / t["ours"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
