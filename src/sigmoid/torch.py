# The public path of sigmoid.interop.torch: the same objects, the same
# __all__ and the same documentation, listed once, there.
from .interop.torch import *  # noqa: F403
from .interop.torch import __all__, __doc__  # noqa: F401
