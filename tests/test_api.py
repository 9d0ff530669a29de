"""The public surface: names, types, docstrings and their examples."""
import doctest
import re

import numpy as np
import pytest

import sigmoid

UFUNCS_1 = ["sigmoid", "log_sigmoid", "softplus", "logit", "hard_sigmoid", "silu"]
UFUNCS_2 = [
    "sigmoid_backward",
    "sigmoid_backward_from_output",
    "hard_sigmoid_backward",
    "silu_backward",
]
LOSSES = [
    "bce_with_logits",
    "bce_with_logits_backward",
    "bce_with_logits_and_grad",
    "binary_cross_entropy",
    "binary_cross_entropy_backward",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_backward",
    "sigmoid_focal_loss_and_grad",
    "softmax",
    "log_softmax",
]
DOCUMENTED = sorted(UFUNCS_1 + UFUNCS_2 + LOSSES + ["expit", "set_num_threads", "get_num_threads"])


def test_all_is_exactly_the_documented_surface():
    assert sorted(sigmoid.__all__) == DOCUMENTED
    for name in sigmoid.__all__:
        assert hasattr(sigmoid, name)


@pytest.mark.parametrize("name", UFUNCS_1 + UFUNCS_2)
def test_every_function_is_a_real_ufunc(name):
    f = getattr(sigmoid, name)
    assert isinstance(f, np.ufunc)
    assert f.__name__ == name
    assert f.nin == (1 if name in UFUNCS_1 else 2)
    assert f.nout == 1
    sig = "e->e f->f d->d" if f.nin == 1 else "ee->e ff->f dd->d"
    assert f.types == sig.split()


def test_expit_is_sigmoid():
    assert sigmoid.expit is sigmoid.sigmoid


def test_version_and_typing_marker():
    import importlib.resources

    assert re.fullmatch(r"\d+\.\d+\.\d+", sigmoid.__version__)
    assert importlib.resources.files("sigmoid").joinpath("py.typed").is_file()


@pytest.mark.parametrize("name", UFUNCS_1 + UFUNCS_2)
def test_docstring_follows_the_template(name):
    doc = getattr(sigmoid, name).__doc__
    first = doc.split("\n\n")[1].strip()  # after NumPy's signature line
    assert first.endswith(".") and "\n" not in first, "one-line summary"
    for section in ("Parameters", "Returns", "Notes", "Examples", "See also"):
        assert re.search(rf"^{section}\n-+$", doc, re.M), section
    assert ".. math::" in doc
    assert "Special values" in doc
    assert re.search(r"Accuracy: .*(ULP|correctly rounded)", doc)
    assert ">>> " in doc
    for dt in ("float16", "float32", "float64"):
        assert dt in doc


@pytest.mark.parametrize("name", LOSSES)
def test_loss_docstrings_follow_the_template(name):
    doc = getattr(sigmoid, name).__doc__
    assert doc.split("\n")[0].strip().endswith(".")
    for section in ("Parameters", "Returns", "Notes", "Examples", "See also"):
        assert re.search(rf"^\s*{section}\n\s*-+$", doc, re.M), section
    assert ".. math::" in doc and "Special values" in doc and "Accuracy" in doc and ">>> " in doc


def _run_doctest(name, obj):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(obj.__doc__, {}, name, None, 0)
    assert test.examples, f"{name} has no examples"
    # an example that shows no output checks nothing: at least one must
    assert any(e.want.strip() for e in test.examples), f"{name}: no example shows its result"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} example(s) of {name} failed"


@pytest.mark.parametrize("name", UFUNCS_1 + UFUNCS_2 + LOSSES + ["set_num_threads"])
def test_docstring_examples_run(name):
    with np.errstate(all="ignore"):  # doctests may print; errstate is tested elsewhere
        _run_doctest(name, getattr(sigmoid, name))


# ------------------------------------------------------------------ diffusion

DIFFUSION = ["NoiseSchedule", "LinearSchedule", "CosineSchedule", "SigmoidSchedule", "get_schedule",
             "UniformTimesteps", "LogitNormalTimesteps", "ddpm_sample", "ddim_sample", "euler_sample",
             "energy_distance"]
DIFFUSION_NN = ["TimestepEmbedding", "ConditionedResidualBlock", "sinusoidal_embedding"]
DIFFUSION_MODELS = ["Denoiser", "DiffusionModel", "two_moons"]


def test_diffusion_surface():
    import sigmoid.diffusion
    import sigmoid.models
    import sigmoid.nn

    assert sorted(sigmoid.diffusion.__all__) == sorted(DIFFUSION)
    assert set(DIFFUSION_NN) <= set(sigmoid.nn.__all__) and set(DIFFUSION_MODELS) <= set(sigmoid.models.__all__)
    for module, names in ((sigmoid.diffusion, DIFFUSION), (sigmoid.nn, DIFFUSION_NN),
                          (sigmoid.models, DIFFUSION_MODELS)):
        for name in names:
            assert getattr(module, name).__module__.startswith("sigmoid."), name


@pytest.mark.parametrize("where, name", [("diffusion", n) for n in DIFFUSION if n != "NoiseSchedule"]
                         + [("nn", n) for n in DIFFUSION_NN] + [("models", n) for n in DIFFUSION_MODELS])
def test_diffusion_docstrings(where, name):
    import importlib

    obj = getattr(importlib.import_module(f"sigmoid.{where}"), name)
    doc = obj.__doc__
    first = doc.split("\n\n")[0].strip()
    assert first.endswith(".") and "\n" not in first, f"{name}: one-line summary"
    assert re.search(r"^\s*Examples\n\s*-+$", doc, re.M), name
    assert re.search(r"(19|20)\d\d", doc) or name in ("two_moons", "get_schedule", "Denoiser"), \
        f"{name}: the paper it comes from"
    if name not in ("two_moons", "get_schedule"):
        assert "math::" in doc or ":math:" in doc, name          # the formula
    _run_doctest(name, obj)


def test_schedule_docstrings_state_the_bound_of_the_table():
    from sigmoid import diffusion
    from sigmoid._accuracy import schedule_text

    for cls in (diffusion.LinearSchedule, diffusion.CosineSchedule, diffusion.SigmoidSchedule):
        assert " ".join(schedule_text(cls.name).split()) in " ".join(cls.__doc__.split()), cls.__name__
