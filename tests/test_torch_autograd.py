"""sigmoid.torch: the autograd Functions over the fused compiled kernels,
against PyTorch's own functions (F.binary_cross_entropy_with_logits,
torchvision's focal-loss formula, nn.LSTMCell, nn.GRUCell): values and
gradients, gradcheck in float64, zero-copy, and the argument errors."""
import doctest
import importlib

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch): sigmoid.torch needs it")
F = torch.nn.functional

ST = importlib.import_module("sigmoid.torch")
impl = importlib.import_module("sigmoid.interop.torch")
import reference as R  # noqa: E402
from sigmoid import _core  # noqa: E402
from sigmoid import losses as _losses  # noqa: E402

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def _close(a, b, dtype):
    torch.testing.assert_close(a, b, **TOL[dtype])


def _torch_focal(x, y, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, written with torch operations."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _targets(shape, dtype, gen):
    y = torch.rand(shape, dtype=dtype, generator=gen)
    hard = torch.rand(shape, generator=gen) < 0.6
    return torch.where(hard, (y > 0.5).to(dtype), y)


# ------------------------------------------------------------------ BCE

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["none", "tensors", "numbers", "pos_weight_row"])
def test_bce_matches_torch(dtype, reduction, weights):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(32, 5, dtype=dtype, generator=gen) * 4).requires_grad_(True)
    y = _targets((32, 5), dtype, gen)
    kw = {}
    if weights == "tensors":
        kw = {"weight": torch.rand(32, 5, dtype=dtype, generator=gen) + 0.5,
              "pos_weight": torch.rand(32, 5, dtype=dtype, generator=gen) * 3}
    elif weights == "numbers":
        kw = {"weight": 0.5, "pos_weight": 2.5}
    elif weights == "pos_weight_row":
        kw = {"pos_weight": torch.tensor([1.0, 2.0, 3.0, 0.5, 4.0], dtype=dtype)}
    x2 = x.detach().clone().requires_grad_(True)
    tkw = {k: (torch.tensor(v, dtype=dtype) if isinstance(v, float) else v) for k, v in kw.items()}
    if weights == "numbers":
        tkw["weight"] = tkw["weight"].expand(32, 5)
        tkw["pos_weight"] = tkw["pos_weight"].expand(5)
    ours = ST.bce_with_logits(x, y, reduction=reduction, **kw)
    ref = F.binary_cross_entropy_with_logits(x2, y, reduction=reduction, **tkw)
    assert ours.dtype == dtype and ours.shape == ref.shape
    _close(ours, ref, dtype)
    go = torch.randn(ref.shape, dtype=dtype, generator=gen)
    ours.backward(go)
    ref.backward(go)
    _close(x.grad, x2.grad, dtype)


def test_bce_saves_the_gradient_of_one_pass(monkeypatch):
    """The forward pass calls bce_with_logits_and_grad once; the backward
    pass calls no kernel."""
    calls = []
    real = _losses.bce_with_logits_and_grad

    def spy(*a, **k):
        calls.append("and_grad")
        return real(*a, **k)

    monkeypatch.setattr(_losses, "bce_with_logits_and_grad", spy)
    monkeypatch.setattr(_losses, "bce_with_logits", lambda *a, **k: calls.append("loss_only"))
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    loss = ST.bce_with_logits(x, torch.ones(10, dtype=torch.float64))
    assert calls == ["and_grad"]
    (loss * 3).backward()
    assert calls == ["and_grad"]
    # d/dx of 3 mean(BCE(x, 1)) = 3 (sigma(x) - 1) / 10 = -3 sigma(-x) / 10, with
    # sigma from NumPy's exp (not this library's)
    xn = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), -3 / (1 + np.exp(xn)) / 10, rtol=1e-14)


def test_bce_without_grad_computes_the_loss_only(monkeypatch):
    monkeypatch.setattr(_losses, "bce_with_logits_and_grad", None)  # would fail if called
    x = torch.randn(10, dtype=torch.float64)
    loss = ST.bce_with_logits(x, torch.ones(10, dtype=torch.float64))
    assert not loss.requires_grad
    _close(loss, F.binary_cross_entropy_with_logits(x, torch.ones(10, dtype=torch.float64)), torch.float64)


def test_bce_extreme_logits_are_finite():
    x = torch.tensor([1e9, -1e9, 1e4, -1e4, 100.0, -100.0], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.3, 0.7], dtype=torch.float32)
    loss = ST.bce_with_logits(x, y, reduction="none")
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(x.grad).all()
    x2 = x.detach().clone().requires_grad_(True)
    ref = F.binary_cross_entropy_with_logits(x2, y, reduction="none")
    ref.sum().backward()
    _close(loss, ref, torch.float32)
    _close(x.grad, x2.grad, torch.float32)


# ---------------------------------------------------------------- focal

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (None, 1.5), (0.6, 0.0)])
def test_focal_matches_torchvision_formula(dtype, reduction, alpha, gamma):
    gen = torch.Generator().manual_seed(1)
    # |x| <= 6: torchvision's 1 - p_t keeps 1e-5 relative accuracy in float32
    x = (torch.rand(40, 3, dtype=dtype, generator=gen) * 12 - 6).requires_grad_(True)
    y = _targets((40, 3), dtype, gen)
    x2 = x.detach().clone().requires_grad_(True)
    ours = ST.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma, reduction=reduction)
    ref = _torch_focal(x2, y, alpha, gamma, reduction)
    assert ours.dtype == dtype and ours.shape == ref.shape
    _close(ours, ref, dtype)
    go = torch.randn(ref.shape, dtype=dtype, generator=gen)
    ours.backward(go)
    ref.backward(go)
    _close(x.grad, x2.grad, dtype)


def test_focal_none_scales_the_saved_gradient_elementwise():
    """grad_output element k times the focal loss's derivative at element k
    (the defaults alpha = 0.25, gamma = 2), the derivative from mpmath."""
    x = torch.randn(7, dtype=torch.float64, requires_grad=True)
    y = (torch.rand(7) > 0.5).double()
    go = torch.arange(7, dtype=torch.float64)
    ST.sigmoid_focal_loss(x, y).backward(go)
    d = np.array([float(R.ref_focal(a, b, 0.25, 2.0)[1]) for a, b in zip(x.tolist(), y.tolist())])
    np.testing.assert_allclose(x.grad.numpy(), go.numpy() * d, rtol=1e-14)


# -------------------------------------------------------------- gradcheck

def _gc(f, *inputs):
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_bce(reduction):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = _targets((4, 3), torch.float64, gen)
    w = torch.rand(4, 3, dtype=torch.float64, generator=gen)
    pw = torch.rand(3, dtype=torch.float64, generator=gen) * 2
    _gc(lambda x: ST.bce_with_logits(x, y, weight=w, pos_weight=pw, reduction=reduction), x)
    _gc(lambda x: impl.BCEWithLogitsFunction.apply(x, y, None, None, reduction), x)


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_gradcheck_focal(reduction):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = _targets((4, 3), torch.float64, gen)
    _gc(lambda x: ST.sigmoid_focal_loss(x, y, alpha=0.3, gamma=1.5, reduction=reduction), x)


def test_gradcheck_lstm_pointwise():
    gen = torch.Generator().manual_seed(4)
    gates = torch.randn(3, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    c = torch.randn(3, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    _gc(ST.lstm_pointwise, gates, c)
    # only h used (dc is materialised as zeros), only c used
    _gc(lambda g, c: ST.lstm_pointwise(g, c)[0], gates, c)
    _gc(lambda g, c: ST.lstm_pointwise(g, c)[1], gates, c)


def test_gradcheck_gru_pointwise():
    gen = torch.Generator().manual_seed(5)
    gi = torch.randn(3, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    gh = torch.randn(3, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    h = torch.randn(3, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    _gc(ST.gru_pointwise, gi, gh, h)


def test_gradcheck_cells():
    gen = torch.Generator().manual_seed(6)
    B, I, H = 2, 3, 2

    def r(*s):
        return torch.randn(*s, dtype=torch.float64, generator=gen, requires_grad=True)

    x, h, c = r(B, I), r(B, H), r(B, H)
    _gc(lambda x, h, c, wi, wh, bi, bh: ST.lstm_cell(x, (h, c), wi, wh, bi, bh),
        x, h, c, r(4 * H, I), r(4 * H, H), r(4 * H), r(4 * H))
    _gc(lambda x, h, wi, wh, bi, bh: ST.gru_cell(x, h, wi, wh, bi, bh),
        x, h, r(3 * H, I), r(3 * H, H), r(3 * H), r(3 * H))


# ---------------------------------------------------------------- cells

def _params(cell):
    return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_cell_matches_torch(dtype):
    torch.manual_seed(7)
    B, I, H = 5, 6, 4
    ref_cell = torch.nn.LSTMCell(I, H, dtype=dtype)
    cell = ST.LSTMCell(I, H, dtype=dtype)
    cell.load_state_dict(ref_cell.state_dict())  # the same parameters and names
    x = torch.randn(B, I, dtype=dtype, requires_grad=True)
    h0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
    c0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
    wh, wc = torch.randn(B, H, dtype=dtype), torch.randn(B, H, dtype=dtype)

    def run(c):
        h1, c1 = c(x, (h0, c0))
        h2, c2 = c(x * 0.5, (h1, c1))  # two steps: gradients flow through the state
        ((h2 * wh).sum() + (c2 * wc).sum()).backward()
        grads = [x.grad.clone(), h0.grad.clone(), c0.grad.clone()] + [p.grad.clone() for p in _params(c)]
        for t in (x, h0, c0):
            t.grad = None
        return (h2.detach(), c2.detach()), grads

    (h, c), g = run(cell)
    (hr, cr), gr = run(ref_cell)
    _close(h, hr, dtype)
    _close(c, cr, dtype)
    for a, b in zip(g, gr):
        _close(a, b, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_cell_matches_torch(dtype):
    torch.manual_seed(8)
    B, I, H = 5, 6, 4
    ref_cell = torch.nn.GRUCell(I, H, dtype=dtype)
    cell = ST.GRUCell(I, H, dtype=dtype)
    cell.load_state_dict(ref_cell.state_dict())
    x = torch.randn(B, I, dtype=dtype, requires_grad=True)
    h0 = torch.randn(B, H, dtype=dtype, requires_grad=True)
    w = torch.randn(B, H, dtype=dtype)

    def run(c):
        h2 = c(x * 0.5, c(x, h0))
        (h2 * w).sum().backward()
        grads = [x.grad.clone(), h0.grad.clone()] + [p.grad.clone() for p in _params(c)]
        x.grad = h0.grad = None
        return h2.detach(), grads

    h, g = run(cell)
    hr, gr = run(ref_cell)
    _close(h, hr, dtype)
    for a, b in zip(g, gr):
        _close(a, b, dtype)


def test_cells_unbatched_no_state_and_no_bias():
    torch.manual_seed(9)
    for Ours, Ref in ((ST.LSTMCell, torch.nn.LSTMCell), (ST.GRUCell, torch.nn.GRUCell)):
        ref = Ref(3, 2, bias=False, dtype=torch.float64)
        ours = Ours(3, 2, bias=False, dtype=torch.float64)
        ours.load_state_dict(ref.state_dict())
        x = torch.randn(3, dtype=torch.float64)
        a, b = ours(x), ref(x)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            assert u.shape == v.shape == (2,)
            _close(u, v, torch.float64)


def test_lstm_saturated_gates_give_the_limits_not_nan():
    """Pre-activations i = 1e4, f = -1e4, g = 50, o = -50: the gates are 1,
    0, 1 and sigma(-50); the gradients of the saturated gates are exactly 0,
    the others those of the formulas (torch autograd in float64, rounded)."""
    a = [[1e4, -1e4, 50.0, -50.0]]
    gates = torch.tensor(a, dtype=torch.float32, requires_grad=True)
    c = torch.ones(1, 1, requires_grad=True)
    h, c1 = ST.lstm_pointwise(gates, c)
    (h + c1).sum().backward()
    assert torch.isfinite(gates.grad).all() and torch.isfinite(c.grad).all()
    # the same cell written with torch operations, in float64
    g64 = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    c64 = torch.ones(1, 1, dtype=torch.float64, requires_grad=True)
    i, f, g, o = torch.sigmoid(g64[:, :1]), torch.sigmoid(g64[:, 1:2]), torch.tanh(g64[:, 2:3]), torch.sigmoid(g64[:, 3:])
    cw = f * c64 + i * g
    hw = o * torch.tanh(cw)
    (hw + cw).sum().backward()
    for got, want in ((h, hw), (c1, cw), (gates.grad, g64.grad), (c.grad, c64.grad)):
        want = want.detach().to(torch.float32)
        torch.testing.assert_close(got.detach(), want, rtol=2e-7, atol=0)
    # i, f and g saturate: no gradient at all passes through them
    assert gates.grad[0, 0] == 0 and gates.grad[0, 1] == 0 and c.grad[0, 0] == 0


def test_in_place_change_of_a_saved_input_is_detected():
    c = torch.randn(2, 3, dtype=torch.float64)
    gates = torch.randn(2, 12, dtype=torch.float64, requires_grad=True)
    h, _ = ST.lstm_pointwise(gates, c)
    c.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        h.sum().backward()


# ------------------------------------------------------------- zero-copy

def test_numpy_view_shares_memory():
    t = torch.randn(4, 5, dtype=torch.float32, requires_grad=True)
    v = impl._as_numpy(t)
    assert v.__array_interface__["data"][0] == t.data_ptr()
    assert v.dtype == np.float32 and v.shape == (4, 5)
    # a non-contiguous tensor is made contiguous once (a copy), never silently strided
    tt = t.detach().t()
    assert impl._as_numpy(tt).flags.c_contiguous


def test_kernels_read_and_write_tensor_memory(monkeypatch):
    """The kernels receive views of the tensors' memory, and the outputs are
    the tensors the kernels wrote."""
    seen = {}
    real_f, real_b = _core._lstm_forward, _core._lstm_backward

    def fwd(*args):
        seen["fwd"] = [a.__array_interface__["data"][0] for a in args]
        return real_f(*args)

    def bwd(*args):
        seen["bwd"] = [a.__array_interface__["data"][0] for a in args]
        return real_b(*args)

    monkeypatch.setattr(_core, "_lstm_forward", fwd)
    monkeypatch.setattr(_core, "_lstm_backward", bwd)
    gates = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    c = torch.randn(3, 2, dtype=torch.float64)
    h, c1 = ST.lstm_pointwise(gates, c)
    assert seen["fwd"][:4] == [gates.data_ptr(), c.data_ptr(), h.data_ptr(), c1.data_ptr()]
    dh = torch.randn(3, 2, dtype=torch.float64)
    torch.autograd.backward([h], [dh])
    assert seen["bwd"][0] == dh.data_ptr()
    assert seen["bwd"][5] == gates.grad.data_ptr()  # the kernel wrote the gradient in place

    pointers = {}
    real_loss = _losses.bce_with_logits_and_grad

    def loss_spy(x, y, **kw):
        pointers["x"], pointers["y"] = x.__array_interface__["data"][0], y.__array_interface__["data"][0]
        return real_loss(x, y, **kw)

    monkeypatch.setattr(_losses, "bce_with_logits_and_grad", loss_spy)
    x = torch.randn(100, dtype=torch.float32, requires_grad=True)
    y = torch.rand(100, dtype=torch.float32)
    ST.bce_with_logits(x, y)
    assert pointers == {"x": x.data_ptr(), "y": y.data_ptr()}


# ---------------------------------------------------------------- errors

def test_cuda_or_meta_tensors_raise_type_error():
    x = torch.empty(4, device="meta")
    with pytest.raises(TypeError, match="CPU tensors only"):
        ST.bce_with_logits(x, x)
    with pytest.raises(TypeError, match="CPU tensors only"):
        ST.lstm_pointwise(torch.empty(2, 8, device="meta"), torch.empty(2, 2, device="meta"))
    if torch.cuda.is_available():
        g = torch.zeros(4, device="cuda")
        with pytest.raises(TypeError, match="CPU tensors only"):
            ST.sigmoid_focal_loss(g, g)


def test_mixed_dtypes_raise_type_error():
    x32, y64 = torch.zeros(4), torch.zeros(4, dtype=torch.float64)
    with pytest.raises(TypeError, match="share one dtype"):
        ST.bce_with_logits(x32, y64)
    with pytest.raises(TypeError, match="share one dtype"):
        ST.bce_with_logits(x32, x32, weight=torch.ones(4, dtype=torch.float64))
    with pytest.raises(TypeError, match="share one dtype"):
        ST.lstm_pointwise(torch.zeros(2, 8), torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="share one dtype"):
        ST.gru_pointwise(torch.zeros(2, 6), torch.zeros(2, 6), torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="not supported"):
        ST.bce_with_logits(torch.zeros(4, dtype=torch.float16), torch.zeros(4, dtype=torch.float16))


def test_other_argument_errors():
    x = torch.zeros(4, requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        ST.bce_with_logits(x, torch.zeros(4, requires_grad=True))
    with pytest.raises(ValueError, match="same shape"):
        ST.bce_with_logits(x, torch.zeros(4, 1))
    with pytest.raises(ValueError, match="reduction"):
        ST.sigmoid_focal_loss(x, torch.zeros(4), reduction="avg")
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        ST.bce_with_logits(x, torch.full((4,), 2.0))
    with pytest.raises(ValueError, match=r"expected \(B, 4H\)"):
        ST.lstm_pointwise(torch.zeros(2, 7), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        ST.lstm_pointwise(np.zeros((2, 8)), torch.zeros(2, 2))


# ------------------------------------------------------------- docstrings

@pytest.mark.parametrize("name", ["bce_with_logits", "sigmoid_focal_loss", "lstm_pointwise", "gru_pointwise",
                                  "lstm_cell", "gru_cell", "LSTMCell", "GRUCell"])
def test_docstring_examples_run(name):
    obj = getattr(ST, name)
    doc = obj.__doc__
    assert doc.split("\n")[0].strip().endswith(".")
    if not isinstance(obj, type):
        for section in ("Parameters", "Returns", "Notes", "Examples", "See also"):
            assert f"\n    {section}\n    {'-' * len(section)}\n" in doc, section
        assert ".. math::" in doc and "Special values" in doc and "Accuracy" in doc
    torch.manual_seed(0)
    test = doctest.DocTestParser().get_doctest(doc, {}, name, None, 0)
    # an example that shows no output checks nothing: at least one must
    assert any(e.want.strip() for e in test.examples), f"{name}: no example shows its result"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_public_module_reexports_the_implementation():
    assert ST.__all__ == impl.__all__
    for name in ST.__all__:
        assert getattr(ST, name) is getattr(impl, name)
