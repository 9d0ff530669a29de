"""The README's examples run and print what the README says."""
import doctest
import os

import numpy as np

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_examples():
    if not os.path.exists(README):  # an installed copy of the tests without the sources
        import pytest

        pytest.skip("README.md is not next to the tests")
    with np.errstate(all="ignore"):
        result = doctest.testfile(README, module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0
