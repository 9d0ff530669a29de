"""What the documentation shows of ``sigmoid._accuracy``, the library's one
table of error bounds, as plain data (no Sphinx here, so that the tests can
check it): the rows of each table, and the single bounds that the prose
quotes.  ``sigmoid_docs.py`` turns them into the page's nodes.

A cell is text, or ``(role, target)``: a cross-reference to a Python object.
"""
from __future__ import annotations

DTYPES = ("float32", "float64", "float16", "bfloat16")


def _bound(n: int) -> str:
    return "0 (correctly rounded)" if n == 0 else f"{n}"


def ufunc_rows():
    from sigmoid import _accuracy as A

    rows = [[("data", f"sigmoid.{name}")] + [_bound(by_dtype[d]) for d in DTYPES]
            for name, by_dtype in A.UFUNCS.items()]
    return ["function", *DTYPES], rows


def loss_rows():
    from sigmoid import _accuracy as A

    rows = []
    for name, cases in A.LOSSES.items():
        for case, by_dtype in cases.items():
            words = A._CASE_WORDS[name, case].removeprefix("for ").replace("2**32", "2³²")
            rows.append([("func", f"sigmoid.{name}"), words]
                        + [_bound(by_dtype[d][i]) for d in ("float32", "float64") for i in (0, 1)])
    return ["loss", "case", "float32: loss", "float32: gradient", "float64: loss", "float64: gradient"], rows


def reduced_rows():
    """The bound of the sum and the mean of each loss (``reduced_bound``)."""
    from sigmoid import _accuracy as A

    rows = []
    for name, cases in A.LOSSES.items():
        for case in cases:
            words = A._CASE_WORDS[name, case].removeprefix("for ").replace("2**32", "2³²")
            rows.append([("func", f"sigmoid.{name}"), words]
                        + [_bound(A.reduced_bound(name, case, d)) for d in ("float32", "float64")])
    return ["loss", "case", "float32: sum, mean", "float64: sum, mean"], rows


def softmax_rows():
    from sigmoid import _accuracy as A

    rows = [[("func", f"sigmoid.{name}")] + [_bound(b[d]) for d in DTYPES] for name, b in A.SOFTMAX.items()]
    return ["function", *DTYPES], rows


def schedule_rows():
    from sigmoid import _accuracy as A
    from sigmoid import diffusion

    classes = {c.name: c.__name__ for c in (diffusion.LinearSchedule, diffusion.CosineSchedule,
                                            diffusion.SigmoidSchedule)}
    rows = [[("class", f"sigmoid.diffusion.{classes[name]}"), f"{b} ε·M(t)", f"{A.TIME_AT} ε"]
            for name, b in A.SCHEDULES.items()]
    return ["schedule", "log-SNR λ(t)", "time_at(λ(t)) − t"], rows


TABLES = {"ufuncs": ufunc_rows, "losses": loss_rows, "reduced": reduced_rows, "softmax": softmax_rows,
          "schedules": schedule_rows}


def ulp(spec: str) -> int:
    """A bound quoted in the prose: ``"ufuncs"``, the largest bound of any
    ufunc in any dtype; ``"NAME DTYPE"``, the bound of ufunc NAME in DTYPE
    (``"sigmoid_backward float32"``)."""
    from sigmoid import _accuracy as A

    words = spec.split()
    if words == ["ufuncs"]:
        return max(b for by_dtype in A.UFUNCS.values() for b in by_dtype.values())
    if len(words) == 2 and words[0] in A.UFUNCS and words[1] in A.UFUNCS[words[0]]:
        return A.ufunc_bound(*words)
    raise ValueError(f"{spec!r}: write 'ufuncs' or 'NAME DTYPE' with NAME one of {', '.join(A.UFUNCS)} "
                     f"and DTYPE one of {', '.join(A.DTYPES)}")
