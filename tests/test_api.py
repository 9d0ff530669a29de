"""The public surface: names, types, docstrings and their examples."""
import doctest
import glob
import importlib
import io
import os
import pkgutil
import re
import types
import warnings

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
    # its examples run in test_every_public_name_has_a_running_example


def test_schedule_docstrings_state_the_bound_of_the_table():
    from sigmoid import diffusion
    from sigmoid._accuracy import schedule_text

    for cls in (diffusion.LinearSchedule, diffusion.CosineSchedule, diffusion.SigmoidSchedule):
        assert " ".join(schedule_text(cls.name).split()) in " ".join(cls.__doc__.split()), cls.__name__


# ------------------------------------------------------- every public name

# the command line: documented with its --help on the documentation's CLI
# page, not a library API
COMMAND = ("sigmoid.cli", "sigmoid.tour")
# the package a public module needs to be imported at all
PEERS = {"sigmoid.torch": "torch", "sigmoid.interop.torch": "torch"}
DOCS = os.path.join(os.path.dirname(__file__), "..", "docs")


def api_modules():
    """The public modules: ``sigmoid``, each ``sigmoid.<name>`` whose name
    has no leading underscore, and each deeper module its package lists in
    ``__all__`` as a module (``sigmoid.interop.torch``), but the command
    line's.  The
    modules of ``sigmoid/nn/`` and ``sigmoid/models/`` are their packages'
    implementation, re-exported by name."""
    found = ["sigmoid"]
    for info in pkgutil.walk_packages(sigmoid.__path__, "sigmoid."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name in COMMAND:
            continue
        parent = importlib.import_module(".".join(parts[:-1]))
        # listed as the module itself (imported lazily: not yet an attribute), not nn.gradcheck()
        attr = vars(parent).get(parts[-1])
        if len(parts) == 2 or (parts[-1] in getattr(parent, "__all__", ())
                               and (attr is None or isinstance(attr, types.ModuleType))):
            found.append(info.name)
    return found


API_MODULES = api_modules()


def has_peer(module_name):
    """Whether the package `module_name` needs (if any) imports."""
    peer = PEERS.get(module_name)
    if peer is None:
        return True
    try:
        importlib.import_module(peer)
    except ImportError:
        return False
    return True


def import_api_module(name):
    """The module, or a skip where it needs a peer that is not installed."""
    if not has_peer(name):
        pytest.skip(f"{name} needs {PEERS[name]}: PyTorch is not installed")
    return importlib.import_module(name)


def public_objects(module):
    """(name, object) for every name of the module's ``__all__`` that is
    not itself a module (``sigmoid.interop`` lists its submodules)."""
    assert module.__all__, module.__name__
    return [(n, getattr(module, n)) for n in module.__all__
            if f"{module.__name__}.{n}" not in API_MODULES      # (without importing it: it may need a peer)
            and not isinstance(getattr(module, n), types.ModuleType)]


def test_the_public_modules_are_found():
    """The walk finds what the documentation presents as the API, so a new
    public module is checked below without being listed anywhere."""
    for name in ("sigmoid", "sigmoid.losses", "sigmoid.nn", "sigmoid.optim", "sigmoid.models",
                 "sigmoid.diffusion", "sigmoid.interop.array_api", "sigmoid.interop.torch"):
        assert name in API_MODULES, name
    for name in API_MODULES:
        assert not name.startswith(("sigmoid.nn.", "sigmoid.models.", "sigmoid.tour")), name


_checked = {}       # id(object) -> problems found, so that aliases run once


def docstring_problems(qualname, obj):
    """What is missing from an object's docstring: a NumPy-style Examples
    section with at least one example that shows a result, every example
    of which runs and prints what it says (under ``np.errstate(all="raise")``
    and with warnings as errors, as every test)."""
    doc = getattr(obj, "__doc__", None)
    if not doc or not doc.strip():
        return ["no docstring"]
    problems = []
    if not re.search(r"^\s*Examples\n\s*-+\s*$", doc, re.M):
        problems.append("no Examples section")
    test = doctest.DocTestParser().get_doctest(doc, {}, qualname, None, 0)
    if not test.examples:
        return problems + ["no example"]
    if not any(e.want.strip() for e in test.examples):
        problems.append("no example shows its result")
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runner.run(test, out=report.write)
    if runner.failures:
        problems.append(f"{runner.failures} of {runner.tries} examples failed:\n{report.getvalue()}")
    return problems


@pytest.mark.parametrize("module_name", API_MODULES)
def test_every_public_name_has_a_running_example(module_name):
    module = import_api_module(module_name)
    assert module.__doc__ and module.__doc__.strip(), f"{module_name} has no docstring"
    objects = public_objects(module)
    if not objects:         # a namespace of modules (sigmoid.interop): they are checked one by one
        assert all(f"{module_name}.{n}" in API_MODULES for n in module.__all__), module.__all__
    bad = {}
    for name, obj in objects:
        if id(obj) not in _checked:
            _checked[id(obj)] = docstring_problems(f"{module_name}.{name}", obj)
        if _checked[id(obj)]:
            bad[name] = _checked[id(obj)]
    assert not bad, "\n".join(f"{module_name}.{k}: {'; '.join(v)}" for k, v in bad.items())


def test_the_docstring_check_fails_on_what_it_must_catch():
    """Each kind of defect is reported: the check cannot pass by default."""
    def f():
        pass

    assert docstring_problems("f", f) == ["no docstring"]
    f.__doc__ = "Summary."
    assert docstring_problems("f", f) == ["no Examples section", "no example"]
    f.__doc__ = "Summary.\n\nExamples\n--------\n>>> x = 1\n"
    assert docstring_problems("f", f) == ["no example shows its result"]
    f.__doc__ = "Summary.\n\nExamples\n--------\n>>> 1 + 1\n3\n"
    assert "1 of 1 examples failed" in docstring_problems("f", f)[0]
    f.__doc__ = "Summary.\n\nExamples\n--------\n>>> import numpy as np\n>>> np.float64(1) / 0\ninf\n"
    assert "examples failed" in docstring_problems("f", f)[0]           # a floating-point error
    f.__doc__ = ("Summary.\n\nExamples\n--------\n>>> import warnings\n"
                 ">>> warnings.warn('stale')\n>>> 1\n1\n")
    assert "examples failed" in docstring_problems("f", f)[0]           # a warning
    f.__doc__ = "Summary.\n\n    Examples\n    --------\n    >>> 1 + 1\n    2\n    "
    assert docstring_problems("f", f) == []


def test_lstm_gru_rnn_docstrings_carry_their_options():
    """The recurrent stacks' docstrings are real docstrings (not the value
    of a ``str.format`` expression, which leaves ``__doc__`` None) with the
    options they share filled in for each kind."""
    from sigmoid import nn

    for cls in (nn.LSTM, nn.GRU, nn.RNN):
        doc = cls.__doc__
        assert doc is not None, cls.__name__
        assert f"PyTorch's ``nn.{cls.__name__}``" in doc
        assert "{stack}" not in doc and "{kind}" not in doc and "{{" not in doc
        for option in ("num_layers", "bidirectional", "batch_first", "dropout", "weight_ih_l{k}"):
            assert option in doc, (cls.__name__, option)


def documented_objects(root=DOCS):
    """id() of every object the API reference (the pages under `root`)
    presents: each ``autosummary`` entry under its ``currentmodule``, every
    name of an ``automodule`` with ``:members:``."""
    seen = set()
    sources = glob.glob(os.path.join(root, "**", "*.rst"), recursive=True)
    sources += glob.glob(os.path.join(root, "**", "*.md"), recursive=True)
    for path in sources:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        current, in_summary = None, False
        for i, line in enumerate(lines):
            m = re.match(r"\s*\.\. (currentmodule|automodule|autosummary)::\s*(\S*)", line)
            if m:
                kind, arg = m.groups()
                in_summary = kind == "autosummary"
                if kind == "currentmodule":
                    current = arg
                elif kind == "automodule" and any(":members:" in x for x in lines[i + 1:i + 4]):
                    if has_peer(arg):
                        seen.update(id(o) for _, o in public_objects(importlib.import_module(arg)))
                continue
            if in_summary:
                entry = re.fullmatch(r"\s+([A-Za-z_][\w.]*)\s*", line)
                if entry and current:
                    obj = importlib.import_module(current)
                    for part in entry.group(1).split("."):
                        obj = getattr(obj, part)
                    seen.add(id(obj))
                elif line.strip() and not line.strip().startswith(":"):
                    in_summary = False
    return seen


def undocumented(root=DOCS):
    documented = documented_objects(root)
    missing = []
    for module_name in API_MODULES:
        if not has_peer(module_name):
            continue            # its names are checked where the peer is installed
        module = importlib.import_module(module_name)
        missing += [f"{module_name}.{n}" for n, o in public_objects(module) if id(o) not in documented]
    return missing


def test_every_public_name_is_in_the_api_reference():
    if not os.path.isdir(DOCS):
        pytest.skip("docs/ is not next to the tests")
    missing = undocumented()
    assert not missing, f"not in the API reference (docs/api.rst): {missing}"


def test_the_api_reference_check_sees_a_missing_name(tmp_path):
    """A reference without sigmoid.nn.GLU (and without the pages of the
    other modules) is reported as missing it."""
    if not os.path.isdir(DOCS):
        pytest.skip("docs/ is not next to the tests")
    with open(os.path.join(DOCS, "api.rst"), encoding="utf-8") as f:
        text = f.read()
    assert "\n   GLU\n" in text
    (tmp_path / "api.rst").write_text(text.replace("\n   GLU\n", "\n"), encoding="utf-8")
    missing = undocumented(str(tmp_path))
    assert "sigmoid.nn.GLU" in missing
    assert "sigmoid.nn.LSTM" not in missing and "sigmoid.bce_with_logits" not in missing
