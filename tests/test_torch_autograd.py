"""sigmoid.torch: the custom operators over the fused compiled kernels,
against PyTorch's own functions (F.binary_cross_entropy_with_logits,
torchvision's focal-loss formula, nn.LSTMCell, nn.GRUCell): values and
gradients, gradcheck in float64, zero-copy, half precision against float64,
double backward, opcheck, torch.compile(fullgraph=True), and the argument
errors."""
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
    # the operator itself: both outputs, so the Jacobian of the gradient
    # output (the Hessian's diagonal, by its own compiled pass) is checked too
    _gc(lambda x: torch.ops.sigmoid.bce_with_logits_and_grad(x, y, w, pw, reduction), x)


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
    with pytest.raises(TypeError, match="share one dtype"):
        ST.bce_with_logits(torch.zeros(4, dtype=torch.float16), torch.zeros(4, dtype=torch.bfloat16))
    for dt in (torch.int32, torch.complex64, torch.float8_e4m3fn):
        with pytest.raises(TypeError, match=f"dtype {dt}, which is not supported"):
            ST.bce_with_logits(torch.zeros(4, dtype=dt), torch.zeros(4, dtype=dt))


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
                                  "lstm_cell", "gru_cell", "LSTMCell", "GRUCell", "BCEWithLogitsFunction",
                                  "SigmoidFocalLossFunction", "LSTMPointwiseFunction", "GRUPointwiseFunction"])
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


def test_one_public_path():
    """sigmoid.torch is the public name of sigmoid.interop.torch: the same
    objects, one list of names and one documentation, and every object names
    the public module as its home (help(), the docs and pickles use it)."""
    import pickle

    assert ST.__all__ is impl.__all__ and ST.__doc__ is impl.__doc__
    assert sorted(n for n in vars(ST) if not n.startswith("_")) == sorted(ST.__all__)
    for name in ST.__all__:
        obj = getattr(ST, name)
        assert obj is getattr(impl, name) and obj.__module__ == "sigmoid.torch", name
    cell = ST.LSTMCell(3, 2)
    again = pickle.loads(pickle.dumps(cell))
    assert type(again) is ST.LSTMCell
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), cell.state_dict().values()))


def test_function_names_of_earlier_versions_still_apply():
    """The four torch.autograd.Function names of earlier versions keep their
    ``apply`` with its positional arguments: PyTorch's values and gradients
    (the same checks as for the functions, through the old spelling)."""
    gen = torch.Generator().manual_seed(29)
    x = torch.randn(5, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = _targets((5, 3), torch.float64, gen)
    w, pw = torch.rand(5, 3, dtype=torch.float64, generator=gen), torch.rand(3, dtype=torch.float64, generator=gen)
    x64 = x.detach().clone().requires_grad_(True)
    ours = ST.BCEWithLogitsFunction.apply(x, y, w, pw, "sum")
    ref = F.binary_cross_entropy_with_logits(x64, y, weight=w, pos_weight=pw, reduction="sum")
    torch.testing.assert_close(ours, ref, rtol=1e-13, atol=0)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(x.grad, x64.grad, rtol=1e-13, atol=1e-16)
    x.grad = x64.grad = None
    torch.testing.assert_close(ST.SigmoidFocalLossFunction.apply(x, y, 0.3, 1.5, "none"),
                               _torch_focal(x64, y, 0.3, 1.5, "none"), rtol=1e-12, atol=1e-15)
    gates = torch.randn(3, 8, dtype=torch.float64, generator=gen)
    c = torch.randn(3, 2, dtype=torch.float64, generator=gen)
    for a, b in zip(ST.LSTMPointwiseFunction.apply(gates, c), _torch_lstm_step(gates, c)):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-15)
    gi, gh = (torch.randn(3, 6, dtype=torch.float64, generator=gen) for _ in range(2))
    torch.testing.assert_close(ST.GRUPointwiseFunction.apply(gi, gh, c), _torch_gru_step(gi, gh, c),
                               rtol=1e-13, atol=1e-15)


# ------------------------------------------------------- half precision

HALF = [torch.float16, torch.bfloat16]


def _half_ulps(got, want, dtype):
    """|got - want| in units of the last place of `dtype` at `want` (a
    float64 reference; subnormal spacing below the smallest normal)."""
    fi = torch.finfo(dtype)
    want = want.detach().double()
    mag = want.abs().clamp_min(fi.smallest_normal)
    ulp = torch.exp2(torch.floor(torch.log2(mag))) * fi.eps
    return ((got.detach().double() - want).abs() / ulp)


def _within_one_half_ulp(got, want, dtype, what, cancels=False):
    """Within one ULP of `dtype`: a float32 result within a few float32 ULP,
    rounded once.  Where the formula itself cancels (`cancels`: a gradient
    such as dz = dh (h_prev - n)), the float32 result is a few float32 ULP
    of its terms, not of itself: 64 float32 ULP of the largest element are
    allowed on top (half precision's own ULP is 2^13 or 2^16 times larger)."""
    assert got.dtype == dtype, what
    err = (got.detach().double() - want.detach().double()).abs()
    if cancels:
        err = (err - 64 * torch.finfo(torch.float32).eps * want.detach().double().abs().max()).clamp_min(0)
    d = _half_ulps(want + err, want, dtype) if cancels else _half_ulps(got, want, dtype)
    assert d.max() <= 1, f"{what}: {d.max().item()} ULP of {dtype} from the float64 result"


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_half_precision_rounds_the_float32_result_once(dtype, reduction):
    """float16 / bfloat16 logits: the loss and the gradient within one ULP of
    the dtype from PyTorch's float64 function of the same (exactly widened)
    values, so computed in float32 and rounded once, not in half precision."""
    gen = torch.Generator().manual_seed(20)
    x = (torch.randn(64, 3, generator=gen) * 6).to(dtype).requires_grad_(True)
    y = torch.rand(64, 3, generator=gen).to(dtype)
    w = (torch.rand(3, generator=gen) + 0.5).to(dtype)
    x64 = x.detach().double().requires_grad_(True)
    ours = ST.bce_with_logits(x, y, weight=w, pos_weight=2.0, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(x64, y.double(), weight=w.double(),
                                             pos_weight=torch.tensor(2.0, dtype=torch.float64), reduction=reduction)
    _within_one_half_ulp(ours, ref, dtype, "loss")
    go = torch.randn(ref.shape, generator=gen).to(dtype)
    ours.backward(go)
    ref.backward(go.double())
    _within_one_half_ulp(x.grad, x64.grad, dtype, "gradient")


@pytest.mark.parametrize("dtype", HALF)
def test_focal_half_precision_rounds_the_float32_result_once(dtype):
    gen = torch.Generator().manual_seed(21)
    x = (torch.rand(200, generator=gen) * 12 - 6).to(dtype).requires_grad_(True)
    y = _targets((200,), torch.float32, gen).to(dtype)
    x64 = x.detach().double().requires_grad_(True)
    ours = ST.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0)
    ref = _torch_focal(x64, y.double(), 0.25, 2.0, "none")
    _within_one_half_ulp(ours, ref, dtype, "focal loss")
    ours.sum().backward()
    ref.sum().backward()
    _within_one_half_ulp(x.grad, x64.grad, dtype, "focal gradient")


def _torch_lstm_step(gates, c):
    i, f, g, o = gates.chunk(4, dim=1)
    c1 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c1), c1


def _torch_gru_step(gi, gh, h):
    ir, iz, in_ = gi.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    return (1 - z) * torch.tanh(in_ + r * hn) + z * h


@pytest.mark.parametrize("dtype", HALF)
def test_pointwise_steps_half_precision(dtype):
    """The LSTM and GRU steps on half-precision tensors: outputs and every
    gradient within one ULP of the dtype from the same step written with
    torch operations in float64."""
    gen = torch.Generator().manual_seed(22)
    B, H = 6, 5

    def r(*shape, scale=2.0):
        return (torch.randn(*shape, generator=gen) * scale).to(dtype).requires_grad_(True)

    gates, c = r(B, 4 * H), r(B, H)
    wide = [t.detach().double().requires_grad_(True) for t in (gates, c)]
    dh, dc = torch.randn(B, H, generator=gen).to(dtype), torch.randn(B, H, generator=gen).to(dtype)
    h1, c1 = ST.lstm_pointwise(gates, c)
    h2, c2 = _torch_lstm_step(*wide)
    _within_one_half_ulp(h1, h2, dtype, "lstm h")
    _within_one_half_ulp(c1, c2, dtype, "lstm c")
    torch.autograd.backward([h1, c1], [dh, dc])
    torch.autograd.backward([h2, c2], [dh.double(), dc.double()])
    _within_one_half_ulp(gates.grad, wide[0].grad, dtype, "lstm d gates", cancels=True)
    _within_one_half_ulp(c.grad, wide[1].grad, dtype, "lstm d c_prev", cancels=True)

    gi, gh, h = r(B, 3 * H), r(B, 3 * H), r(B, H)
    wide = [t.detach().double().requires_grad_(True) for t in (gi, gh, h)]
    out = ST.gru_pointwise(gi, gh, h)
    ref = _torch_gru_step(*wide)
    _within_one_half_ulp(out, ref, dtype, "gru h")
    out.backward(dh)
    # h_prev's gradient from gru_pointwise is the direct part dh z; the part
    # through gh is gh's gradient (see gru_pointwise)
    ref.backward(dh.double())
    for got, want, name in zip((gi.grad, gh.grad, h.grad), [t.grad for t in wide], ("gi", "gh", "h_prev")):
        _within_one_half_ulp(got, want, dtype, f"gru d {name}", cancels=True)


@pytest.mark.parametrize("dtype", HALF)
def test_cells_in_half_precision_keep_the_dtype(dtype):
    torch.manual_seed(23)
    for Ours, Ref in ((ST.LSTMCell, torch.nn.LSTMCell), (ST.GRUCell, torch.nn.GRUCell)):
        ref = Ref(6, 4, dtype=dtype)
        ours = Ours(6, 4, dtype=dtype)
        ours.load_state_dict(ref.state_dict())
        wide = Ref(6, 4, dtype=torch.float64)
        wide.load_state_dict({k: v.double() for k, v in ref.state_dict().items()})
        x = torch.randn(5, 6, dtype=dtype)
        a, b = ours(x), wide(x.double())
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            assert u.dtype == dtype
            # the products are torch's, in half precision: a few ULP of the dtype
            assert _half_ulps(u, v, dtype).max() <= 8, Ours.__name__


def test_autocast_gives_float32_results_as_pytorch_does():
    """Under CPU autocast (bfloat16), PyTorch's BCE with logits and its cells
    return float32; so do ours, with the same values to float32 rounding
    for the loss (both compute in float32 from the same bfloat16 logits)."""
    torch.manual_seed(24)
    lin = torch.nn.Linear(6, 3)
    x = torch.randn(16, 6)
    y = (torch.rand(16, 3) > 0.5).float()

    def step(loss_fn):
        lin.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = lin(x)
            assert z.dtype == torch.bfloat16
            loss = loss_fn(z, y)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in lin.parameters()]

    (l1, g1), (l2, g2) = step(ST.bce_with_logits), step(F.binary_cross_entropy_with_logits)
    assert l1.dtype == l2.dtype == torch.float32
    torch.testing.assert_close(l1, l2, rtol=1e-6, atol=0)
    for a, b in zip(g1, g2):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-4)   # bfloat16 backward matmuls
    for Ours, Ref in ((ST.LSTMCell, torch.nn.LSTMCell), (ST.GRUCell, torch.nn.GRUCell)):
        ref = Ref(6, 4)
        ours = Ours(6, 4)
        ours.load_state_dict(ref.state_dict())
        full = ref(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            a, b = ours(x), ref(x)
        for u, v, w in zip(*((t if isinstance(t, tuple) else (t,)) for t in (a, b, full))):
            assert u.dtype == v.dtype == torch.float32
            # products in bfloat16 (8 bits): both within bfloat16's error of float32
            torch.testing.assert_close(u, w, rtol=0, atol=2e-2)


# ------------------------------------------------------ double backward

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_double_backward(reduction):
    """Second derivatives by gradgradcheck (float64 central differences of
    the first), and against PyTorch's own double backward."""
    gen = torch.Generator().manual_seed(25)
    x = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    y = _targets((4, 3), torch.float64, gen)
    w = torch.rand(4, 3, dtype=torch.float64, generator=gen) + 0.5
    pw = torch.rand(3, dtype=torch.float64, generator=gen) * 2
    assert torch.autograd.gradgradcheck(lambda x: ST.bce_with_logits(x, y, weight=w, pos_weight=pw,
                                                                      reduction=reduction), (x,))
    v = torch.randn(4, 3, dtype=torch.float64, generator=gen)
    second = []
    for f in (ST.bce_with_logits, F.binary_cross_entropy_with_logits):
        x2 = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x2, y, weight=w, pos_weight=pw, reduction=reduction).sum(), x2,
                                   create_graph=True)
        (hv,) = torch.autograd.grad((g * v).sum(), x2)
        second.append(hv)
    torch.testing.assert_close(second[0], second[1], rtol=1e-12, atol=1e-15)


def test_bce_third_derivative_raises():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y = torch.rand(5, dtype=torch.float64)
    (g,) = torch.autograd.grad(ST.bce_with_logits(x, y), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="bce_with_logits .its third derivative.: double backward is not"):
        torch.autograd.grad(h.sum(), x)


def test_no_double_backward_says_so():
    """The focal loss and the recurrent steps: the first derivative with
    create_graph=True is the usual one; a second one raises, naming the
    function."""
    gen = torch.Generator().manual_seed(26)
    x = torch.randn(6, dtype=torch.float64, generator=gen, requires_grad=True)
    y = (torch.rand(6, generator=gen) > 0.5).double()
    gates = torch.randn(2, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    c = torch.randn(2, 2, dtype=torch.float64, generator=gen, requires_grad=True)
    gi, gh = (torch.randn(2, 6, dtype=torch.float64, generator=gen, requires_grad=True) for _ in range(2))
    cases = [("sigmoid_focal_loss", lambda: ST.sigmoid_focal_loss(x, y).sum(), [x]),
             ("lstm_pointwise", lambda: sum(t.sum() for t in ST.lstm_pointwise(gates, c)), [gates, c]),
             ("gru_pointwise", lambda: ST.gru_pointwise(gi, gh, c).sum(), [gi, gh, c])]
    for name, f, inputs in cases:
        once = torch.autograd.grad(f(), inputs)
        first = torch.autograd.grad(f(), inputs, create_graph=True)
        for a, b in zip(first, once):
            torch.testing.assert_close(a.detach(), b, rtol=0, atol=0)
        with pytest.raises(RuntimeError, match=f"sigmoid.torch.{name}: double backward is not supported"):
            torch.autograd.grad(sum((g * g).sum() for g in first), inputs)


# ---------------------------------------------- custom ops, torch.compile

def _op_samples():
    gen = torch.Generator().manual_seed(27)

    def r(*s, grad=True):
        return torch.randn(*s, dtype=torch.float64, generator=gen, requires_grad=grad)

    y = torch.rand(4, 3, dtype=torch.float64, generator=gen)
    w, pw = torch.rand(4, 3, dtype=torch.float64, generator=gen), torch.rand(3, dtype=torch.float64, generator=gen)
    ops = torch.ops.sigmoid
    act = torch.rand(2, 8, dtype=torch.float64, generator=gen)
    return [
        # the loss-only operators have no autograd formula: the functions
        # call them only where no gradient is needed
        (ops.bce_with_logits, (r(4, 3, grad=False), y, w, pw, "mean")),
        (ops.bce_with_logits_and_grad, (r(4, 3), y, w, pw, "none")),
        (ops.bce_with_logits_and_grad, (r(4, 3), y, None, None, "sum")),
        (ops.bce_with_logits_hessian, (r(4, 3, grad=False), y, w, pw, "mean")),
        (ops.sigmoid_focal_loss, (r(4, 3, grad=False), y, 0.25, 2.0, "none")),
        (ops.sigmoid_focal_loss_and_grad, (r(4, 3), y, 0.25, 2.0, "mean")),
        (ops.lstm_pointwise, (r(2, 8), r(2, 2))),
        (ops.lstm_pointwise_backward, (r(2, 2, grad=False), r(2, 2, grad=False), act, r(2, 2, grad=False),
                                       torch.tanh(r(2, 2, grad=False)))),
        (ops.gru_pointwise, (r(2, 6), r(2, 6), r(2, 2))),
        (ops.gru_pointwise_backward, (r(2, 2, grad=False), act, r(2, 2, grad=False))),
    ]


def test_custom_ops_pass_opcheck():
    """Each kernel is a torch.library custom operator whose schema, fake
    kernel (shapes, dtypes and strides of the real outputs) and autograd
    registration pass PyTorch's own checks."""
    for op, args in _op_samples():
        utils = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")
        if op is torch.ops.sigmoid.sigmoid_focal_loss_and_grad:
            # the last differentiates every output, the gradient output too:
            # a second derivative, which the focal loss refuses (tested above)
            utils = utils[:3]
        result = torch.library.opcheck(op, args, test_utils=utils)
        assert set(result.values()) == {"SUCCESS"}, (op, result)


class _Model(torch.nn.Module):
    """An LSTM and a GRU cell unrolled over a sequence, a linear read-out,
    and both losses: every operator of sigmoid.torch in one graph."""

    def __init__(self):
        super().__init__()
        self.lstm, self.gru, self.out = ST.LSTMCell(3, 4), ST.GRUCell(4, 4), torch.nn.Linear(4, 2)

    def forward(self, xs, y):
        state = hx = None
        for t in range(xs.shape[0]):
            state = self.lstm(xs[t], state)
            hx = self.gru(state[0], hx)
        z = self.out(hx)
        return ST.bce_with_logits(z, y, pos_weight=2.0) + ST.sigmoid_focal_loss(z, y, reduction="mean")


def _model_data():
    torch.manual_seed(28)
    return _Model(), torch.randn(5, 8, 3), (torch.rand(8, 2) > 0.5).float()


def _loss_and_grads(model, xs, y):
    model.zero_grad()
    loss = model(xs, y)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def test_compile_fullgraph_has_no_graph_break():
    """torch.compile(fullgraph=True) raises at the first graph break; it
    compiles the model, and forward and backward give eager's values.
    Dynamo's own count of breaks is 0 and the model is one graph."""
    model, xs, y = _model_data()
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(xs, y)
    assert explained.graph_break_count == 0 and explained.graph_count == 1, explained.break_reasons
    eager = _loss_and_grads(model, xs, y)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    got = _loss_and_grads(compiled, xs, y)
    torch.testing.assert_close(got[0], eager[0], rtol=0, atol=0)
    for a, b in zip(got[1], eager[1]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_fullgraph_with_inductor():
    """The default backend (Inductor, which compiles C++ around the
    operators: some 40 s on two cores when its cache is cold) gives eager's
    values to float32 rounding."""
    model, xs, y = _model_data()
    torch._dynamo.reset()
    eager = _loss_and_grads(model, xs, y)
    got = _loss_and_grads(torch.compile(model, fullgraph=True), xs, y)
    torch.testing.assert_close(got[0], eager[0], rtol=1e-6, atol=1e-7)
    for a, b in zip(got[1], eager[1]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()


def test_cuda_tensors_are_refused_with_a_clear_message():
    """A CUDA tensor (a fake one: this test needs no GPU) is refused before
    anything runs, saying why and what to use instead."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        g, gi, c = (torch.empty(*s, device="cuda") for s in ((4, 8), (4, 6), (4, 2)))
        for call in (lambda: ST.bce_with_logits(g, g), lambda: ST.sigmoid_focal_loss(g, g),
                     lambda: ST.lstm_pointwise(g, c), lambda: ST.gru_pointwise(gi, gi, c),
                     lambda: ST.LSTMCell(8, 2)(g), lambda: ST.GRUCell(8, 2)(g)):
            with pytest.raises(TypeError, match=r"is on device cuda:0; sigmoid.torch runs its compiled kernels on "
                                                r"CPU tensors only \(move the tensor with .cpu\(\), or use "
                                                r"sigmoid.array_api"):
                call()
