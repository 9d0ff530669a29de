"""sigmoid.optim: SGD and Adam against torch.optim (single-tensor path), and
on their own (no torch needed): skipped parameters, in-place updates,
state_dict round trips, argument checking and the docstring examples."""
import copy
import doctest
import re

import numpy as np
import pytest

import sigmoid.optim
from sigmoid.nn import Module, Parameter
from sigmoid.optim import SGD, Adam, Optimizer, clip_grad_norm

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-6, np.float64: 1e-12}
SHAPES = [(3,), (4, 5), (2, 3, 2), (37,)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is needed only to compare with torch.optim")


def _init(rng, shape, dtype):
    # magnitudes in [1, 2]: the runs below move a parameter by well under 1,
    # so none passes near zero, where a relative comparison means nothing
    mag = rng.uniform(1.0, 2.0, shape)
    return (mag * rng.choice([-1.0, 1.0], shape)).astype(dtype)


def _params(dtype, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [Parameter(_init(rng, s, dtype)) for s in shapes]


# --------------------------------------------------------- against torch

SGD_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.9, dampening=0.5),
    dict(lr=0.01, momentum=0.9, nesterov=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, momentum=0.8, weight_decay=0.05, nesterov=True),
    dict(lr=0.01, maximize=True),
    dict(lr=0.01, momentum=0.9, dampening=0.2, weight_decay=0.1, maximize=True),
    dict(lr=0.01, momentum=0.7, nesterov=True, weight_decay=0.02, maximize=True),
]

ADAM_CASES = [
    dict(),
    dict(lr=0.02),
    dict(lr=0.02, amsgrad=True),
    dict(lr=0.02, weight_decay=0.1),
    dict(lr=0.02, maximize=True),
    dict(lr=0.02, amsgrad=True, weight_decay=0.1, maximize=True),
    dict(lr=0.02, betas=(0.3, 0.5), eps=1e-6),          # 1 - beta1 >= 0.5: lerp's other branch
    dict(lr=0.02, betas=(0.0, 0.9), amsgrad=True, weight_decay=0.01),
]


def _compare_with_torch(torch, kind, dtype, options, groups=None, steps=7, seed=1, schedule=False):
    """Run ours and torch's side by side on the same gradients (changing every
    step, of a random scale so that amsgrad's maximum matters; parameter 2
    has no gradient at step 3) and compare parameters and buffers after every
    step."""
    rtol = RTOL[dtype]
    ours = _params(dtype, seed)
    theirs = [torch.tensor(p.data.copy()) for p in ours]
    ours_cls = {"sgd": SGD, "adam": Adam}[kind]
    theirs_cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind]
    if groups is None:
        opt = ours_cls(ours, **options)
        topt = theirs_cls(theirs, foreach=False, **options)
    else:
        opt = ours_cls([dict(params=[ours[i] for i in idx], **o) for idx, o in groups], **options)
        topt = theirs_cls([dict(params=[theirs[i] for i in idx], **o) for idx, o in groups],
                          foreach=False, **options)
    rng = np.random.default_rng(seed + 100)
    for step in range(steps):
        if schedule and step == 3:
            for g, tg in zip(opt.param_groups, topt.param_groups):
                g["lr"] *= 0.5
                tg["lr"] *= 0.5
        scale = rng.uniform(0.2, 1.0)
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            if step == 3 and i == 2:
                p.grad = None
                tp.grad = None
                continue
            g = (scale * rng.standard_normal(p.shape)).astype(dtype)
            p.grad = g.copy()
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            assert p.data.dtype == dtype
            np.testing.assert_allclose(p.data, tp.numpy(), rtol=rtol, atol=0,
                                       err_msg=f"parameter {i} after step {step + 1}")
            assert (p in opt.state) == (tp in topt.state)
            if p not in opt.state:
                continue
            mine, ref = opt.state[p], topt.state[tp]
            assert set(mine) == set(ref)
            for k, v in ref.items():
                if k == "step":
                    assert mine[k] == int(v.item())
                    continue
                v = v.numpy()
                assert mine[k].dtype == dtype
                # a buffer may sit near zero (m, a momentum): compare to its scale
                np.testing.assert_allclose(mine[k], v, rtol=rtol, atol=rtol * np.abs(v).max(),
                                           err_msg=f"{k} of parameter {i} after step {step + 1}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("options", SGD_CASES, ids=repr)
def test_sgd_matches_torch(torch, dtype, options):
    _compare_with_torch(torch, "sgd", dtype, options)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("options", ADAM_CASES, ids=repr)
def test_adam_matches_torch(torch, dtype, options):
    _compare_with_torch(torch, "adam", dtype, options)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_sgd_param_groups_match_torch(torch, dtype):
    groups = [([0, 1], dict(lr=0.02, momentum=0.9)),
              ([2, 3], dict(lr=0.005, nesterov=True, weight_decay=0.1))]
    _compare_with_torch(torch, "sgd", dtype, dict(lr=0.01, momentum=0.5), groups=groups, schedule=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_adam_param_groups_match_torch(torch, dtype):
    groups = [([0, 2], dict(lr=0.03, amsgrad=True)),
              ([1, 3], dict(lr=0.001, betas=(0.8, 0.99), maximize=True))]
    _compare_with_torch(torch, "adam", dtype, dict(lr=0.01, weight_decay=0.01), groups=groups, schedule=True)


@pytest.mark.parametrize("kind, options", [("sgd", o) for o in SGD_CASES] +
                         [("adam", o) for o in ADAM_CASES if not o.get("weight_decay")], ids=repr)
def test_float32_multiply_adds_round_once_as_torchs(torch, kind, options):
    """The multiply-adds round once in float32, as PyTorch's fused kernels
    (on a CPU with FMA): SGD's parameters and Adam's moments (which do not
    pass through the square root, where the two may differ by an ulp) are
    torch's bit for bit, step after step.  The comparison with a relative
    tolerance above cannot see a product rounded to float32 before the
    sum; this one can."""
    shapes = [(37,), (64, 33)]              # long enough for torch's vector loops and their tails
    ours = _params(np.float32, 3, shapes)
    theirs = [torch.tensor(p.data.copy()) for p in ours]
    opt = {"sgd": SGD, "adam": Adam}[kind](ours, **options)
    topt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind](theirs, foreach=False, **options)
    rng = np.random.default_rng(4)
    for step in range(20):
        for p, tp in zip(ours, theirs):
            g = (rng.uniform(0.2, 1.0) * rng.standard_normal(p.shape)).astype(np.float32)
            p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            pairs = ([("data", p.data, tp.numpy())] if kind == "sgd" else
                     [(k, opt.state[p][k], topt.state[tp][k].numpy()) for k in ("exp_avg", "exp_avg_sq")])
            for name, mine, ref in pairs:
                np.testing.assert_array_equal(mine, ref, err_msg=f"{name} of parameter {i} after step {step + 1}")


# ------------------------------------------------ the rules, without torch

def test_sgd_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.25, weight_decay=0.5)
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 2.0])
    p.grad = g1
    opt.step()
    d1 = g1 + 0.5 * np.array([1.0, -2.0])            # weight decay; first buffer = d1
    x1 = np.array([1.0, -2.0]) - 0.1 * d1
    np.testing.assert_allclose(p.data, x1, rtol=1e-15)
    p.grad = g2
    opt.step()
    d2 = g2 + 0.5 * x1
    b2 = 0.9 * d1 + 0.75 * d2
    np.testing.assert_allclose(p.data, x1 - 0.1 * b2, rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], b2, rtol=1e-15)


def test_sgd_nesterov_maximize_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    opt = SGD([p], lr=0.1, momentum=0.5, nesterov=True, maximize=True)
    g = np.array([0.5, 1.0])
    p.grad = g
    opt.step()
    # buffer = -g; step direction -g + 0.5 * (-g)
    np.testing.assert_allclose(p.data, np.array([1.0, -2.0]) + 0.1 * 1.5 * g, rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_adam_first_step_is_lr_times_sign(dtype):
    # after one step m_hat = g and v_hat = g^2: p moves by lr g / (|g| + eps)
    p = Parameter(np.array([1.0, -2.0, 3.0], dtype=dtype))
    g = np.array([0.5, -4.0, 1e-3], dtype=dtype)
    opt = Adam([p], lr=0.01)
    p.grad = g
    opt.step()
    expected = np.array([1.0, -2.0, 3.0]) - 0.01 * g / (np.abs(g) + 1e-8)
    np.testing.assert_allclose(p.data, expected, rtol=10 * np.finfo(dtype).eps)
    assert opt.state[p]["step"] == 1


def test_adam_amsgrad_keeps_the_maximum():
    p = Parameter(np.zeros(2))
    opt = Adam([p], amsgrad=True, betas=(0.9, 0.5))
    p.grad = np.array([4.0, 0.0])
    opt.step()
    p.grad = np.array([0.0, 1.0])
    opt.step()
    s = opt.state[p]
    np.testing.assert_array_equal(s["exp_avg_sq"], [4.0, 0.5])
    np.testing.assert_array_equal(s["max_exp_avg_sq"], [8.0, 0.5])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.1)],
                         ids=["sgd", "adam"])
def test_params_without_grad_are_skipped(make):
    ps = _params(np.float64)
    before = [p.data.copy() for p in ps]
    opt = make(ps)
    for i, p in enumerate(ps):
        p.grad = None if i == 1 else np.ones(p.shape)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(ps[1].data, before[1])
    assert ps[1] not in opt.state
    assert ps[1].grad is None
    for i in (0, 2, 3):
        assert ps[i] in opt.state
        assert not np.array_equal(ps[i].data, before[i])


def test_sgd_without_momentum_keeps_no_state():
    ps = _params(np.float64)
    opt = SGD(ps, lr=0.1)
    for p in ps:
        p.grad = np.ones(p.shape)
    opt.step()
    assert opt.state == {}


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True),
                                  lambda ps: Adam(ps, lr=0.1, weight_decay=0.1, maximize=True)],
                         ids=["sgd", "adam"])
def test_updates_in_place_and_leaves_grads_alone(make):
    p = Parameter(np.arange(1.0, 5.0))
    array, view = p.data, p.data[:2]
    opt = make([p])
    g = np.array([1.0, -1.0, 2.0, 0.5])
    p.grad = g
    opt.step()
    assert p.data is array
    assert np.shares_memory(view, p.data) and not np.array_equal(view, [1.0, 2.0])
    np.testing.assert_array_equal(g, [1.0, -1.0, 2.0, 0.5])
    assert p.grad is g
    for buf in opt.state[p].values():
        if isinstance(buf, np.ndarray):
            assert not np.shares_memory(buf, g) and not np.shares_memory(buf, p.data)


def test_a_module_sees_the_update():
    class Affine(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(np.ones(3))
            self.bias = Parameter(np.zeros(1))

    m = Affine()
    opt = SGD(m.parameters(), lr=0.5)
    m.weight.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(m.state_dict()["weight"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(m.bias.data, [0.0])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1, amsgrad=True)], ids=["sgd", "adam"])
def test_buffers_keep_the_parameter_dtype(make):
    p = Parameter(np.ones(3, dtype=np.float32))
    opt = make([p])
    p.grad = np.array([1.0, 2.0, 3.0], dtype=np.float64)    # converted to float32
    opt.step()
    opt.step()
    assert p.data.dtype == np.float32
    for k, v in opt.state[p].items():
        if k != "step":
            assert v.dtype == np.float32, k


def test_zero_grad():
    ps = _params(np.float64)
    opt = SGD(ps, lr=0.1)
    for p in ps:
        p.grad = np.ones(p.shape)
    grads = [p.grad for p in ps]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(ps, grads):
        assert p.grad is g and not g.any()
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_step_returns_the_closures_value():
    p = Parameter(np.ones(2))
    opt = SGD([p], lr=0.5)

    def closure():
        p.grad = 2 * p.data
        return float(np.sum(p.data ** 2))

    assert opt.step(closure) == 2.0
    np.testing.assert_array_equal(p.data, [0.0, 0.0])
    assert opt.step() is None


def test_param_groups_take_the_defaults():
    a, b, c = _params(np.float64, shapes=[(2,), (3,), (4,)])
    opt = Adam([{"params": [a]}, {"params": b, "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.01, amsgrad=True)
    g0, g1 = opt.param_groups
    assert g0["params"] == [a] and g1["params"] == [b]
    assert g0["lr"] == 0.01 and g0["betas"] == (0.9, 0.999) and g0["amsgrad"] is True
    assert g1["lr"] == 0.5 and g1["betas"] == (0.5, 0.6) and g1["amsgrad"] is True
    opt.add_param_group({"params": [c], "eps": 1e-3})
    assert opt.param_groups[2]["eps"] == 1e-3 and opt.param_groups[2]["lr"] == 0.01
    assert isinstance(opt, Optimizer)
    assert "Parameter Group 2" in repr(opt)


def test_named_parameters():
    class Two(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(np.ones(2))
            self.bias = Parameter(np.zeros(2))

    m = Two()
    opt = SGD(m.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["params"] == [m.weight, m.bias]
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match="mixes named and unnamed"):
        SGD([("weight", m.weight), m.bias])


# ------------------------------------------------------------ state dicts

def _state_equal(a, b):
    assert set(a) == set(b)
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k])
            assert a[k].dtype == b[k].dtype
        else:
            assert a[k] == b[k]


ROUND_TRIP = [
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (SGD, dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    (Adam, dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.01)),
    (Adam, dict(lr=0.05, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("cls, options", ROUND_TRIP, ids=lambda x: getattr(x, "__name__", repr(x)))
def test_each_parameter_is_updated_as_if_alone(cls, options):
    """One group of float32 and float64 parameters, each skipping a
    gradient now and then (so their step counts part): every parameter and
    its state end as they do under an optimizer of that parameter alone.
    (Adam updates the parameters of one dtype and step together, over flat
    buffers; a wrong offset, or a step count or dtype shared across a run,
    breaks this.)"""
    rng = np.random.default_rng(8)
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32]
    shapes = [(4, 5), (3,), (37,), (2, 2), (1,)]
    init = [_init(rng, s, d) for s, d in zip(shapes, dtypes)]
    together = [Parameter(a.copy()) for a in init]
    alone = [Parameter(a.copy()) for a in init]
    opt = cls(together, **options)
    opts = [cls([p], **options) for p in alone]
    for step in range(9):
        for i, (p, q) in enumerate(zip(together, alone)):
            g = None if (step + i) % 4 == 0 else rng.standard_normal(p.shape).astype(p.data.dtype)
            p.grad, q.grad = (None, None) if g is None else (g.copy(), g.copy())
        opt.step()
        for o in opts:
            o.step()
        for i, (p, q, o) in enumerate(zip(together, alone, opts)):
            np.testing.assert_array_equal(p.data, q.data, err_msg=f"parameter {i} after step {step + 1}")
            assert p.data.dtype == dtypes[i]
            assert (p in opt.state) == (q in o.state)
            if p in opt.state:
                _state_equal(opt.state[p], o.state[q])


@pytest.mark.parametrize("cls, options", ROUND_TRIP, ids=lambda x: getattr(x, "__name__", repr(x)))
def test_loading_a_state_into_the_same_optimizer_rewinds_it(cls, options):
    """Save, step twice, load what was saved, step: the parameters and the
    state are those of one step from the save (the buffers the optimizer
    keeps between steps must follow the loaded state, not the newer one)."""
    rng = np.random.default_rng(6)
    ps = _params(np.float32, seed=4)
    opt = cls(ps, **options)
    grads = [[rng.standard_normal(p.shape).astype(np.float32) for p in ps] for _ in range(5)]

    def step(gs):
        for p, g in zip(ps, gs):
            p.grad = g.copy()
        opt.step()

    for gs in grads[:2]:
        step(gs)
    saved, data = opt.state_dict(), [p.data.copy() for p in ps]
    step(grads[2])
    expected, expected_state = [p.data.copy() for p in ps], opt.state_dict()
    step(grads[3])
    step(grads[4])
    opt.load_state_dict(saved)
    for p, d in zip(ps, data):
        p.data[...] = d
    step(grads[2])
    for i, (p, e) in enumerate(zip(ps, expected)):
        np.testing.assert_array_equal(p.data, e, err_msg=f"parameter {i}")
    got = opt.state_dict()
    for i in expected_state["state"]:
        _state_equal(got["state"][i], expected_state["state"][i])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("cls, options", ROUND_TRIP, ids=lambda x: getattr(x, "__name__", repr(x)))
def test_state_dict_round_trip_reproduces_the_next_step(cls, options, dtype):
    rng = np.random.default_rng(5)
    ps = _params(dtype, seed=3)
    groups = [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.01}]
    opt = cls(groups, **options)
    for step in range(3):
        for i, p in enumerate(ps):
            # parameter 3 never has a gradient, so it has no state
            p.grad = None if i == 3 else rng.standard_normal(p.shape).astype(dtype)
        opt.step()
    saved = opt.state_dict()
    frozen = copy.deepcopy(saved)
    assert set(saved["state"]) == {0, 1, 2}
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]

    # a second optimizer with other options over copies of the parameters
    qs = [Parameter(p.data.copy()) for p in ps]
    other = cls([{"params": qs[:2]}, {"params": qs[2:]}], lr=0.5)
    other.load_state_dict(saved)
    assert [{k: v for k, v in g.items() if k != "params"} for g in other.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    for p, q in zip(ps, qs):
        assert (p in opt.state) == (q in other.state)
        if p in opt.state:
            _state_equal(opt.state[p], other.state[q])
            for k, v in other.state[q].items():
                if isinstance(v, np.ndarray):   # copies, not the saved arrays
                    i = qs.index(q)
                    assert not np.shares_memory(v, saved["state"][i][k])
                    assert not np.shares_memory(v, opt.state[p][k])

    grads = [rng.standard_normal(p.shape).astype(dtype) for p in ps]
    for p, q, g in zip(ps, qs, grads):
        p.grad, q.grad = g.copy(), g.copy()
    opt.step()
    other.step()
    for p, q in zip(ps, qs):
        np.testing.assert_array_equal(p.data, q.data)
        _state_equal(opt.state[p], other.state[q])
    # the saved dict did not move with the optimizer
    for i, buffers in frozen["state"].items():
        _state_equal(buffers, saved["state"][i])


def test_load_state_dict_casts_to_the_parameter_dtype():
    p = Parameter(np.ones(3))
    opt = Adam([p])
    p.grad = np.ones(3)
    opt.step()
    q = Parameter(np.ones(3, dtype=np.float32))
    other = Adam([q])
    other.load_state_dict(opt.state_dict())
    assert other.state[q]["exp_avg"].dtype == np.float32
    assert other.state[q]["step"] == 1


def test_load_state_dict_refuses_a_mismatch_and_loads_nothing():
    a, b = _params(np.float64, shapes=[(2,), (3,)])
    opt = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = np.ones(2), np.ones(3)
    opt.step()
    saved = opt.state_dict()

    c, d = _params(np.float64, shapes=[(2,), (4,)])
    target = SGD([c, d], lr=0.3, momentum=0.9)
    with pytest.raises(ValueError, match=re.escape("SGD.load_state_dict: buffer 'momentum_buffer' of parameter 1 "
                                                   "has shape (3,), the parameter has (4,)")):
        target.load_state_dict(saved)
    assert target.state == {} and target.param_groups[0]["lr"] == 0.3

    with pytest.raises(ValueError, match="the state dict has 1 parameter group"):
        SGD([{"params": [c]}, {"params": [d]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="parameter group 0 of the state dict has 2 parameter"):
        SGD([c]).load_state_dict(saved)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        SGD([c]).load_state_dict({"state": {}})
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'momentum'"):
        Adam([a, b]).load_state_dict(saved)


# ------------------------------------------------------------- bad input

def _p():
    return Parameter(np.zeros(3))


BAD = [
    (SGD, dict(lr=-0.1), ValueError, "SGD: lr must be >= 0, got -0.1"),
    (SGD, dict(lr=float("nan")), ValueError, "SGD: lr must be >= 0, got nan"),
    (SGD, dict(lr="0.1"), TypeError, "SGD: lr must be a real number, got '0.1'"),
    (SGD, dict(momentum=-0.9), ValueError, "SGD: momentum must be >= 0, got -0.9"),
    (SGD, dict(weight_decay=-1e-4), ValueError, "SGD: weight_decay must be >= 0, got -0.0001"),
    (SGD, dict(nesterov=True), ValueError, "SGD: Nesterov momentum requires a momentum and zero dampening"),
    (SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError,
     "SGD: Nesterov momentum requires a momentum and zero dampening"),
    (Adam, dict(lr=-1e-3), ValueError, "Adam: lr must be >= 0, got -0.001"),
    (Adam, dict(betas=(1.0, 0.999)), ValueError, "Adam: betas[0] must be in [0, 1), got 1.0"),
    (Adam, dict(betas=(-0.1, 0.999)), ValueError, "Adam: betas[0] must be in [0, 1), got -0.1"),
    (Adam, dict(betas=(0.9, 1.5)), ValueError, "Adam: betas[1] must be in [0, 1), got 1.5"),
    (Adam, dict(betas=(0.9,)), TypeError, "Adam: betas must be a pair of numbers (beta1, beta2), got (0.9,)"),
    (Adam, dict(eps=-1e-8), ValueError, "Adam: eps must be >= 0, got -1e-08"),
    (Adam, dict(weight_decay=-0.1), ValueError, "Adam: weight_decay must be >= 0, got -0.1"),
]


@pytest.mark.parametrize("cls, options, error, message", BAD, ids=[m for *_, m in BAD])
def test_bad_options(cls, options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        cls([_p()], **options)
    # the same option given for a group only
    with pytest.raises(error, match=re.escape(message)):
        cls([{"params": [_p()]}, {"params": [_p()], **options}])


@pytest.mark.parametrize("cls", [SGD, Adam])
def test_bad_params(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=f"{name}: got an empty parameter list"):
        cls([])
    with pytest.raises(ValueError, match=f"{name}: got an empty parameter list"):
        cls(p for p in [])
    with pytest.raises(ValueError, match=f"{name}: got an empty parameter list"):
        cls([{"params": []}])
    with pytest.raises(TypeError, match=f"{name}: parameter 1 of group 0 is a ndarray, not a sigmoid.nn.Parameter"):
        cls([_p(), np.zeros(3)])
    with pytest.raises(TypeError, match=f"{name}: parameter 0 of group 1 is a float, not a sigmoid.nn.Parameter"):
        cls([{"params": [_p()]}, {"params": [1.0]}])
    with pytest.raises(TypeError, match=f"{name}: params must be an iterable .* got a single Parameter"):
        cls(_p())
    with pytest.raises(TypeError, match=f"{name}: params must be an iterable .* got int"):
        cls(3)
    with pytest.raises(TypeError, match=f"{name}: params must be an ordered collection"):
        cls({_p()})
    with pytest.raises(TypeError, match=f"{name}: parameter 0 of group 0 holds int64 data"):
        cls([Parameter(np.zeros(3, dtype=np.int64))])
    p = _p()
    with pytest.raises(ValueError, match=f"{name}: parameter group 0 lists a parameter more than once"):
        cls([p, p])
    with pytest.raises(ValueError, match=f"{name}: some parameters appear in more than one parameter group"):
        cls([{"params": [p]}, {"params": [_p(), p]}])
    with pytest.raises(TypeError, match=f"{name}: unknown option\\(s\\) 'learning_rate'"):
        cls([{"params": [p], "learning_rate": 0.1}])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps)],
                         ids=["sgd", "adam"])
def test_grad_of_the_wrong_shape(make):
    a, b = _p(), _p()
    opt = make([{"params": [a]}, {"params": [b]}])
    a.grad = np.ones(3)
    b.grad = np.ones((3, 1))
    name = type(opt).__name__
    with pytest.raises(ValueError, match=re.escape(f"{name}.step: parameter 0 of group 1 has data of shape (3,) "
                                                   f"but a grad of shape (3, 1); nothing was updated")):
        opt.step()
    np.testing.assert_array_equal(a.data, np.zeros(3))
    assert opt.state == {}


# -------------------------------------------------------------- doctests

def test_docstring_examples_run():
    result = doctest.testmod(sigmoid.optim, optionflags=doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} example(s) of sigmoid.optim failed"


def test_clip_grad_norm():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros((1, 2), np.float32))
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([[0.0, 4.0]], np.float32)
    assert clip_grad_norm([a, b, Parameter(np.zeros(1))], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.hypot(a.grad[0], b.grad[0, 1]), 1.0, rtol=1e-5)
    assert b.grad.dtype == np.float32
    a.grad = np.array([0.3, 0.4])
    b.grad = None
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(a.grad, [0.3, 0.4])        # below the bound: untouched
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([a], 0.0)
