# The public path of sigmoid.interop.array_api: the same objects, the same
# __all__ and the same documentation, listed once, there.
from .interop.array_api import *  # noqa: F403
from .interop.array_api import __all__, __doc__  # noqa: F401
