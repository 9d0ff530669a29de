"""Properties that must hold for every float input (hypothesis)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import sigmoid as S

floats64 = st.floats(allow_nan=False, allow_infinity=True, width=64)
floats32 = st.floats(allow_nan=False, allow_infinity=True, width=32)


@settings(max_examples=2000, deadline=None)
@given(floats64, floats64)
def test_sigmoid_is_monotone_and_bounded(a, b):
    lo, hi = min(a, b), max(a, b)
    s_lo, s_hi = S.sigmoid(lo), S.sigmoid(hi)
    assert 0 <= s_lo <= s_hi <= 1
    assert S.log_sigmoid(lo) <= S.log_sigmoid(hi) <= 0
    assert S.softplus(lo) <= S.softplus(hi)


@settings(max_examples=2000, deadline=None)
@given(floats32)
def test_float32_relations(x):
    x = np.float32(x)
    s = S.sigmoid(x)
    assert s.dtype == np.float32
    assert S.softplus(x) >= max(x, np.float32(0))
    assert S.log_sigmoid(x) <= 0
    d = S.sigmoid_backward(x, np.float32(1))
    assert 0 <= d <= 0.25
    # sigma(x) + sigma(-x) = 1 up to one rounding of each
    assert abs(float(s) + float(S.sigmoid(-x)) - 1) <= 2**-24
    h = S.hard_sigmoid(x)
    assert 0 <= h <= 1


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=0, max_value=1, width=64))
def test_logit_sign_and_symmetry(p):
    v = S.logit(p)
    assert np.sign(v) == np.sign(p - 0.5) or (p == 0.5 and v == 0)
    q = 1 - p
    if 1 - q == p:  # p and 1 - p both exact
        assert S.logit(q) == -v
