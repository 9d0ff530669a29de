"""Sphinx configuration of the sigmoid documentation (built strictly: -W).

The figures are drawn at build time by the code beside them (matplotlib's
plot directive), and the tables of bounds and the command's help are read
from the library (``_ext/sigmoid_docs.py``): none of them can go stale.
"""
import os
import sys

import sigmoid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext"))

project = "sigmoid"
author = "sigmoid developers"
copyright = "2026, sigmoid developers"
release = version = sigmoid.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
    "sigmoid_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
autosummary_generate = True
autodoc_typehints = "none"
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3
try:
    import torch  # noqa: F401
except ImportError:
    # sigmoid.torch's pages are then read with a stand-in for PyTorch: its
    # docstrings and signatures are this library's own
    autodoc_mock_imports = ["torch"]
html_theme = "alabaster"
html_title = f"sigmoid {release}"
suppress_warnings = ["myst.header"]
myst_enable_extensions = ["dollarmath", "colon_fence"]

# figures: drawn by the code in the page, once per build, without showing it
# (each page says in words what is measured and against what)
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.figsize": (6.4, 3.6), "figure.dpi": 110, "figure.constrained_layout.use": True,
                 "axes.grid": True, "grid.alpha": 0.3,
                 "savefig.bbox": "tight"}
plot_apply_rcparams = True
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\nimport sigmoid as sg\n"


def setup(app):
    """numpydoc's signature mangling, except for the ufuncs: their docstrings
    open with NumPy's ufunc signature line, which is shown as it is."""
    import numpy as np
    import numpydoc.numpydoc as nd

    listeners = app.events.listeners.get("autodoc-process-signature", [])
    for listener in list(listeners):
        if listener.handler is nd.mangle_signature:
            listeners.remove(listener)

            def mangle(app, what, name, obj, options, sig, retann, _orig=listener.handler):
                if isinstance(obj, np.ufunc):
                    return None
                return _orig(app, what, name, obj, options, sig, retann)

            app.connect("autodoc-process-signature", mangle)
