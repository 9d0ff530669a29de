import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import sigmoid  # noqa: E402
from sigmoid import _core  # noqa: E402


@pytest.fixture(autouse=True)
def _fp_errors_raise():
    """Every test runs with floating-point errors raising."""
    with np.errstate(all="raise"):
        yield


@pytest.fixture(params=_core._supported_isas().split(","))
def isa(request):
    """Run a test once per instruction set this CPU supports."""
    old = _core._get_isa()
    _core._set_isa(request.param)
    yield request.param
    _core._set_isa(old)


@pytest.fixture
def threads():
    """Restore the thread count after a test changes it."""
    old = sigmoid.get_num_threads()
    yield
    sigmoid.set_num_threads(old)
