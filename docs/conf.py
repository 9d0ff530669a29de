"""Sphinx configuration of the sigmoid documentation (built strictly: -W)."""
import sigmoid

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
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
autosummary_generate = True
autodoc_typehints = "none"
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3
html_theme = "alabaster"
html_title = f"sigmoid {release}"
suppress_warnings = ["myst.header"]


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
