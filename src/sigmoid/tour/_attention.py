"""The tour's section on sigma in attention and contrastive learning:
sigmoid attention, gated attention, the SigLIP loss.

Every claim is decided by a verdict of :mod:`._report` against a reference
that is not the code under test: the formulas written out in NumPy (the
(L, S) weights formed, which the library never does), a peer trained in
the same run (the ungated layer; the softmax contrastive loss, written in
NumPy here), or a bound the claim states.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from .. import attention, siglip_loss, siglip_loss_and_grad
from .. import sigmoid as _sigmoid
from ..nn import Linear, MultiheadAttention, Parameter
from ..optim import Adam
from ._report import Figure, Section, agrees, meets, png_of
from ._sections import _plt

__all__ = ["attention_section", "numpy_sigma", "numpy_softmax", "numpy_siglip", "infonce", "gated_sink_task",
           "contrastive", "sink_claims", "contrastive_claim", "sigmoid_attention_claims", "siglip_blocks_claim"]


def _one_blas_thread():
    """The products here are small: one BLAS thread is faster than several
    (and on a loaded machine, much faster).  threadpoolctl comes with
    scikit-learn, which the tour needs; without it, nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


# ------------------------------------------------------------ references
# Written out in NumPy, independent of the library's kernels.

def numpy_sigma(x):
    """1/(1 + e^-x) from NumPy's exp, for arguments well inside (-700, 700).

    Examples
    --------
    >>> float(numpy_sigma(np.float64(0.0)))
    0.5
    """
    return 1.0 / (1.0 + np.exp(-x))


def numpy_softmax(s):
    """Max-shifted softmax of each row, NumPy only.

    Examples
    --------
    >>> numpy_softmax(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def numpy_siglip(x, y, t_prime, b):
    """The SigLIP loss with the B x B logits formed, from NumPy's logaddexp.

    Examples
    --------
    >>> round(numpy_siglip(np.eye(2), np.eye(2), 0.0, 0.0), 6)
    1.006409
    """
    u = math.exp(t_prime) * (x @ y.T) + b
    z = 2 * np.eye(len(x)) - 1
    return float(np.sum(np.logaddexp(0.0, -z * u)) / len(x))


def infonce(ea, eb, t_prime):
    """The symmetric softmax contrastive loss (InfoNCE, CLIP's) of unit
    embeddings at temperature e^t', and its gradients with respect to ea,
    eb and t'; NumPy only.

    Examples
    --------
    >>> loss, da, db, dt = infonce(np.eye(2), np.eye(2), 0.0)
    >>> round(loss, 6), round(dt, 6)   # log(1 + e^-1); the pairs pull t up
    (0.313262, -0.268941)
    """
    B = len(ea)
    t = math.exp(t_prime)
    logits = t * (ea @ eb.T)
    loss, G = 0.0, np.zeros_like(logits)
    for lg, transpose in ((logits, False), (logits.T, True)):
        p = numpy_softmax(lg)
        loss += -np.mean(np.log(p[np.arange(B), np.arange(B)])) / 2
        p[np.arange(B), np.arange(B)] -= 1
        G += (p.T if transpose else p) / (2 * B)
    return float(loss), t * G @ eb, t * G.T @ ea, float(np.sum(G * logits))


# ------------------------------------------------------- (1) sigmoid attention

def _weights(q, k, score, bias=None):
    """The attention weights of every query, from the library's attention:
    with v the identity, the output rows are the weights themselves."""
    kw = {"bias": bias} if score == "sigmoid" else {}
    return attention(q, k, np.eye(len(k)), score=score, **kw)


def competition(seed: int = 0):
    """Weights of 8 queries on 16 keys, then on the same keys and one more:
    the library's sigmoid and softmax weights, and the formulas' (NumPy)."""
    rng = np.random.default_rng(seed)
    d = 16
    q, k = rng.standard_normal((8, d)), rng.standard_normal((16, d))
    extra = rng.standard_normal((1, d))
    k2 = np.vstack([k, extra])
    b = -math.log(16)
    s = q @ k.T / math.sqrt(d)
    s_new = q @ extra.T / math.sqrt(d)
    ref_sig = numpy_sigma(s + b)
    ref_soft = numpy_softmax(s)
    # the softmax of 17 keys: the 16 old weights times Z/(Z + e^s_new) = 1/(1 + e^s_new / Z)
    z = np.exp(s - s.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)
    factor = 1.0 / (1.0 + np.exp(s_new - s.max(axis=1, keepdims=True)) / z)
    return dict(sig16=_weights(q, k, "sigmoid", b), sig17=_weights(q, k2, "sigmoid", b),
                soft16=_weights(q, k, "softmax"), soft17=_weights(q, k2, "softmax"),
                ref_sig=ref_sig, ref_soft=ref_soft, factor=factor)


def output_norms(ns, seed: int = 0, queries: int = 32, d: int = 16):
    """Mean output norm of sigmoid attention over `queries` queries and n
    keys with values of mean 1 (unit noise), with b = -log n and with b = 0;
    and, at the largest n, the formula's output (NumPy) for comparison."""
    rng = np.random.default_rng(seed)
    with_b, without_b = [], []
    for n in ns:
        q, k = rng.standard_normal((queries, d)), rng.standard_normal((n, d))
        v = 1.0 + rng.standard_normal((n, d))
        o_b = attention(q, k, v, score="sigmoid")
        with_b.append(float(np.linalg.norm(o_b, axis=1).mean()))
        without_b.append(float(np.linalg.norm(attention(q, k, v, score="sigmoid", bias=0.0), axis=1).mean()))
    ref = numpy_sigma(q @ k.T / math.sqrt(d) - math.log(ns[-1])) @ v
    return np.array(with_b), np.array(without_b), (o_b, ref)


# -------------------------------------------------------- (2) gated attention

T_SEQ, N_VALUES = 16, 4
BOS, QUERY = 0, N_VALUES + 1


def sink_batch(rng, n):
    """Sequences of the gated-attention task: a first token (BOS), then
    value tokens 1..4 and query tokens; a query must output the value of
    the token before it (one-hot), every other token 0, so that most
    positions need the attention to do nothing."""
    tok = rng.integers(1, N_VALUES + 1, (n, T_SEQ))
    tok[:, 0] = BOS
    for i in range(n):
        qs = rng.choice(np.arange(2, T_SEQ, 2), size=3, replace=False) + rng.integers(0, 2)
        tok[i, qs[qs < T_SEQ]] = QUERY
    y = np.zeros((n, T_SEQ, N_VALUES))
    for t in range(1, T_SEQ):
        is_q = tok[:, t] == QUERY
        y[is_q, t, tok[is_q, t - 1] - 1] = 1
    return tok, y


def gated_sink_task(gate, steps: int, seed: int = 0, E: int = 16, heads: int = 2, weight_decay: float = 0.03,
                    batch: int = 64, lr: float = 1e-2):
    """One causal attention layer (embeddings, MultiheadAttention, a linear
    read-out) trained with Adam for `steps` steps on batches of `batch`
    sequences of :func:`sink_batch` at learning rate `lr`, L2 weight decay on
    the query/key/value projection (the large logits a sink needs).  Returns
    the attention mass on the first token (every head, every query after
    position 1, held-out sequences), the gate values (or None) and the
    accuracy on the query positions."""
    rng = np.random.default_rng(seed)
    dt = np.float64
    vocab = N_VALUES + 2
    emb = Parameter(rng.standard_normal((vocab, E)) * 0.5)
    pos = Parameter(rng.standard_normal((T_SEQ, E)) * 0.5)
    mha = MultiheadAttention(E, heads, batch_first=True, gate=gate, dtype=dt, rng=rng)
    read = Linear(E, N_VALUES, dtype=dt, rng=rng)
    rest = [emb, pos] + [p for n, p in mha.named_parameters() if n != "in_proj_weight"] + read.parameters()
    opt = Adam([{"params": [mha.in_proj_weight], "weight_decay": weight_decay}, {"params": rest}], lr=lr)
    with _one_blas_thread():
        for _ in range(steps):
            tok, y = sink_batch(rng, batch)
            x = emb.data[tok] + pos.data
            h, _ = mha(x, x, x, is_causal=True)
            pred = read(h)
            for p in [mha.in_proj_weight] + rest:
                p.grad = None
            dq, dk, dv = mha.backward(read.backward(2 * (pred - y) / len(pred)))
            dx = dq + dk + dv
            emb.grad = np.zeros_like(emb.data)
            np.add.at(emb.grad, tok, dx)
            pos.grad = dx.sum(axis=0)
            opt.step()
        tok, y = sink_batch(np.random.default_rng(seed + 1000), 256)
        x = emb.data[tok] + pos.data
        h, w = mha(x, x, x, is_causal=True, need_weights=True, average_attn_weights=False)
        gates = None if gate is None else _sigmoid(mha.gate_proj(x))
        pred = read(h)
    asked = y.sum(axis=-1) > 0
    acc = float(np.mean(pred.argmax(-1)[asked] == y.argmax(-1)[asked]))
    return w[:, :, 2:, 0].ravel(), gates, acc


# --------------------------------------------------------- (3) the SigLIP loss

def _views(seed: int, k: int = 16, d_in: int = 32, noise: float = 1.0):
    """Two noisy linear views of a shared latent: a sampler of pairs."""
    rng = np.random.default_rng(seed)
    A, B = (rng.standard_normal((d_in, k)) / math.sqrt(k) for _ in range(2))

    def sample(n, r):
        z = r.standard_normal((n, k))
        return z @ A.T + noise * r.standard_normal((n, d_in)), z @ B.T + noise * r.standard_normal((n, d_in))

    return sample


def _unit(W, x):
    h = x @ W.T
    n = np.linalg.norm(h, axis=1, keepdims=True)
    return h / n, n


def _unit_backward(x, e, n, de):
    """The gradient of a linear encoder's weights through e = h/|h|."""
    return ((de - e * np.sum(e * de, axis=1, keepdims=True)) / n).T @ x


def contrastive(loss: str, batch: int, steps: int, seed: int = 0, d_emb: int = 16):
    """Two linear encoders trained with Adam on batches of pairs with the
    SigLIP loss (the library's) or InfoNCE (NumPy, above); returns the
    top-1 retrieval accuracy on 1000 held-out pairs, both directions
    averaged (counted with NumPy)."""
    sample = _views(seed)
    rng = np.random.default_rng(seed + 1)
    Wa = Parameter(rng.standard_normal((d_emb, 32)) / math.sqrt(32))
    Wb = Parameter(rng.standard_normal((d_emb, 32)) / math.sqrt(32))
    tp, b = Parameter(np.array([math.log(10.0)])), Parameter(np.array([-10.0]))
    opt = Adam([Wa, Wb, tp] + ([b] if loss == "sigmoid" else []), lr=1e-2)
    with _one_blas_thread():
        for _ in range(steps):
            xa, xb = sample(batch, rng)
            (ea, na), (eb, nb) = _unit(Wa.data, xa), _unit(Wb.data, xb)
            if loss == "sigmoid":
                _, da, db, dtp, dbb = siglip_loss_and_grad(ea, eb, float(tp.data[0]), float(b.data[0]))
                b.grad = np.array([dbb])
            else:
                _, da, db, dtp = infonce(ea, eb, float(tp.data[0]))
            Wa.grad, Wb.grad = _unit_backward(xa, ea, na, da), _unit_backward(xb, eb, nb, db)
            tp.grad = np.array([dtp])
            opt.step()
        xa, xb = sample(1000, np.random.default_rng(seed + 99))
        sim = _unit(Wa.data, xa)[0] @ _unit(Wb.data, xb)[0].T
    hits = np.arange(1000)
    return float((np.mean(sim.argmax(1) == hits) + np.mean(sim.argmax(0) == hits)) / 2)


# ---------------------------------------------------------------- verdicts
# The claims of parts (2) and (3) from their measurements, so that the tests
# can feed them measurements that miss.

def sink_claims(sink_plain, sink_gated, acc_plain, acc_gated, gates, note=""):
    """The claims on the attention sink and on the gates' sparsity."""
    m_plain, m_gated = float(np.mean(sink_plain)), float(np.mean(sink_gated))
    gates = np.asarray(gates, np.float64).ravel()
    med = float(np.median(gates)) if gates.size else math.nan
    low = float(np.mean(gates < 0.1)) if gates.size else math.nan
    return [meets("gated attention: the gated layer's attention mass on the first token (the sink) is far below "
                  "the ungated one's",
                  f"mean attention on the first token: {m_plain:.3f} ungated, {m_gated:.3f} gated; query accuracy "
                  f"{acc_plain:.3f} and {acc_gated:.3f}{note}",
                  [("gated / ungated", m_gated / m_plain if m_plain > 0 else math.nan, "<", 0.5),
                   ("ungated accuracy", acc_plain, ">=", 0.95), ("gated accuracy", acc_gated, ">=", 0.95)]),
            meets("the gate values are sparse: most heads are switched off for most queries",
                  f"median gate {med:.3f}, {low:.0%} of gate values below 0.1",
                  [("median gate value", med, "<", 0.25), ("share below 0.1", low, ">", 0.3)])]


def contrastive_claim(batches, acc_sigmoid, acc_softmax):
    """SigLIP's retrieval against InfoNCE's, batch size by batch size."""
    return meets("SigLIP's sigmoid loss retrieves as well as the softmax (InfoNCE) loss or better at small batch sizes",
                 "top-1 retrieval (1000 held-out pairs), sigmoid vs softmax: " + ", ".join(
                     f"batch {bs}: {a:.3f} vs {b:.3f}" for bs, a, b in zip(batches, acc_sigmoid, acc_softmax)),
                 [(f"batch {bs}: sigmoid - softmax", a - b, ">=", -0.01)
                  for bs, a, b in zip(batches, acc_sigmoid, acc_softmax)])


def sigmoid_attention_claims(quick: bool):
    """The claims of part (1), with what the figure draws."""
    claims = []
    c = competition()
    claims.append(agrees("sigmoid attention: a key's weight is sigma(q.k/sqrt(d) + b) whatever the other keys; adding a "
                         "key changes no other weight",
                         {"16 keys": (c["sig16"], c["ref_sig"]), "the same 16 among 17": (c["sig17"][:, :16], c["ref_sig"])},
                         1e-15, " (8 queries; NumPy's formula for the 16 keys alone)"))
    claims.append(agrees("softmax attention: adding a key shrinks every other weight by Z/(Z + e^s_new)",
                         {"16 keys": (c["soft16"], c["ref_soft"]),
                          "the same 16 among 17": (c["soft17"][:, :16], c["ref_soft"] * c["factor"])},
                         1e-15, f"; factors {c['factor'].min():.3f} to {c['factor'].max():.3f}"))
    ns = [64, 512, 4096, 8192] if quick else [64, 128, 256, 512, 1024, 2048, 4096, 8192]
    nb, nob, (o, ref) = output_norms(ns)
    claims.append(meets("with b = -log n the output norm stays bounded as n grows from 64 to 8192; without b it grows",
                        f"mean |o| from n = 64 to 8192: {nb[0]:.3g} to {nb[-1]:.3g} with b = -log n, "
                        f"{nob[0]:.3g} to {nob[-1]:.3g} with b = 0 (values of mean 1)",
                        [("growth with b = -log n", nb[-1] / nb[0], "<=", 2.0),
                         ("growth with b = 0", nob[-1] / nob[0], ">=", 32.0)]))
    claims.append(agrees("the tiled sigmoid attention at n = 8192 is the formula's", {"32 queries": (o, ref)}, 1e-12,
                         " (NumPy, the 32 x 8192 weights formed)"))
    return claims, c, (ns, nb, nob)


def siglip_blocks_claim(B: int = 300):
    """The SigLIP loss in blocks of 7, 64 and B against NumPy's loss of
    the whole B x B matrix."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((B, 16)), rng.standard_normal((B, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    full = numpy_siglip(x, y, math.log(10.0), -10.0)
    return agrees("the SigLIP loss in blocks equals the loss of the whole matrix to rounding",
                  {f"blocks of {n}": (siglip_loss(x, y, math.log(10.0), -10.0, block_size=n), full)
                   for n in (7, 64, B)}, 1e-13 * full, f" (B = {B}; NumPy's logaddexp on the {B} x {B} logits)")


# ------------------------------------------------------------------ section

#: the gated-attention runs, full and quick: (Adam steps, seeds, sequences a batch, learning rate); the quick
#: run trains on smaller batches at a larger rate, the same task, layer and claims
SINK_BUDGET = {False: (400, [0, 1, 2], 64, 1e-2), True: (120, [0], 16, 3e-2)}
#: the contrastive runs, full and quick: (batch sizes, Adam steps, seeds); the quick run leaves out the
#: batch of 256, whose softmax over 256 x 256 logits costs most
CONTRASTIVE_BUDGET = {False: ([16, 32, 64, 128, 256], 300, [0, 1, 2]), True: ([16, 64], 200, [0])}


def attention_section(quick: bool) -> Section:
    plt = _plt()
    s = Section("attention", "11. Sigma in attention and contrastive learning",
                "Three places where sigma now meets its users.  Sigmoid attention (Ramapuram et al., 2024) weighs "
                "each key by sigma(q.k/sqrt(d) + b) instead of a softmax over the keys: no row sum, so keys do not "
                "compete, and b = -log n keeps the output bounded as n grows.  Gated attention (Qiu et al., 2025) "
                "multiplies the attention output by a sigmoid gate of the layer's input: a query can switch a head "
                "off, and no longer needs to park its attention on the first token (the 'attention sink').  The "
                "SigLIP loss (Zhai et al., 2023) makes every image-text pair a binary problem: no normalization "
                "over the batch, so it is computed in blocks, and it does well at small batch sizes.")

    # (1) no competition, bounded outputs
    claims, c, (ns, nb, nob) = sigmoid_attention_claims(quick)
    s.claims += claims

    # (2) gated attention: the sink
    steps, seeds, batch, lr = SINK_BUDGET[quick]
    runs = {g: [gated_sink_task(g, steps, seed, batch=batch, lr=lr) for seed in seeds] for g in (None, "headwise")}
    sink = {g: np.concatenate([r[0] for r in runs[g]]) for g in runs}
    acc = {g: float(np.mean([r[2] for r in runs[g]])) for g in runs}
    gates = np.concatenate([r[1].ravel() for r in runs["headwise"]])
    s.claims += sink_claims(sink[None], sink["headwise"], acc[None], acc["headwise"], gates,
                            f" ({len(seeds)} seed(s), {steps} Adam steps of {batch} sequences, learning rate {lr:g})")

    # (3) SigLIP against InfoNCE at small batch sizes; the chunked loss
    batches, csteps, cseeds = CONTRASTIVE_BUDGET[quick]
    accs = {loss: [float(np.mean([contrastive(loss, bs, csteps, sd) for sd in cseeds])) for bs in batches]
            for loss in ("sigmoid", "softmax")}
    s.claims.append(contrastive_claim(batches, accs["sigmoid"], accs["softmax"]))
    s.claims.append(siglip_blocks_claim())

    # figures
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    i = np.arange(17)
    ax[0].bar(i[:16] - 0.2, c["soft16"][0], 0.4, label="softmax, 16 keys")
    ax[0].bar(i - 0.2 + 0.4, np.append(c["soft17"][0, :16], c["soft17"][0, 16]), 0.4, label="softmax, +1 key")
    ax[0].plot(i[:16], c["sig16"][0], "ko", ms=4, label="sigmoid, 16 keys")
    ax[0].plot(i, c["sig17"][0], "r+", ms=8, label="sigmoid, +1 key")
    ax[0].set_xlabel("key")
    ax[0].set_ylabel("weight of query 0")
    ax[0].set_title("sigmoid weights do not compete")
    ax[0].legend(fontsize=7)
    ax[1].loglog(ns, nb, "o-", label="b = -log n")
    ax[1].loglog(ns, nob, "s-", label="b = 0")
    ax[1].set_xlabel("keys n")
    ax[1].set_ylabel("mean output norm")
    ax[1].set_title("sigmoid attention, values of mean 1")
    ax[1].legend(fontsize=8)
    ax[2].semilogx(batches, accs["sigmoid"], "o-", label="sigmoid (SigLIP)")
    ax[2].semilogx(batches, accs["softmax"], "s-", label="softmax (InfoNCE)")
    ax[2].set_xlabel("batch size")
    ax[2].set_ylabel("top-1 retrieval")
    ax[2].set_title("paired views, linear encoders")
    ax[2].legend(fontsize=8)
    s.figures.append(Figure("attention_sigmoid",
                            "Left: the weights of one query over 16 keys, then over the same keys and one more: the "
                            "sigmoid weights stay put, the softmax weights all shrink. Middle: the mean output norm "
                            "of sigmoid attention against the number of keys, log-log: flat with b = -log n, growing "
                            "in proportion to n with b = 0. Right: held-out top-1 retrieval of encoders trained with "
                            "the sigmoid and the softmax contrastive loss, against the batch size.", png_of(fig)))
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    bins = np.linspace(0, 1, 41)
    ax[0].hist(sink[None], bins, alpha=.6, label="ungated")
    ax[0].hist(sink["headwise"], bins, alpha=.6, label="gated (headwise)")
    ax[0].set_xlabel("attention weight on the first token")
    ax[0].set_ylabel("queries x heads")
    ax[0].set_title("the attention sink")
    ax[0].legend(fontsize=8)
    ax[1].hist(gates, bins, color="C2")
    ax[1].set_xlabel("gate value sigma(x W + b)")
    ax[1].set_title("gate values of the gated layer")
    s.figures.append(Figure("attention_gate",
                            "Left: histograms of the attention weight each query (after position 1) and head puts on "
                            "the first token, for the ungated and the gated layer trained on the same task. Right: "
                            "the gated layer's gate values, piled up near 0.", png_of(fig)))
    s.notes.append("The gated-attention task: after a first token, value tokens 1..4 and query tokens; a query "
                   "outputs the value before it, every other position 0.  Both layers (16 features, 2 heads, causal) "
                   "are trained alike: Adam, L2 weight decay 0.03 on the query/key/value projection, whose large "
                   "logits a sink needs.  The ungated layer must put its attention somewhere and parks it on the "
                   "first token, whose value it makes 0; the gated layer closes its gate instead.")
    if quick:
        s.notes.append(f"Quick run: the gated-attention layers trained for {steps} steps on batches of {batch} "
                       f"sequences at learning rate {lr:g}, one seed (the full run: "
                       f"{SINK_BUDGET[False][0]} steps of {SINK_BUDGET[False][2]}, three seeds); the contrastive "
                       f"losses compared at batch sizes {' and '.join(map(str, batches))}, one seed (the full run: "
                       f"{', '.join(map(str, CONTRASTIVE_BUDGET[False][0]))}, three seeds).")
    return s
