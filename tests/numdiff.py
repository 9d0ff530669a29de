"""Float64 central differences, for the gradient tests."""
import numpy as np


def central_differences(f, a, eps=1e-6):
    """d f() / d a, element by element, by (f(a + eps) - f(a - eps)) / (2 eps);
    `a` is changed in place and restored."""
    g = np.empty(a.shape, np.float64)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        up = f()
        a[i] = old - eps
        g[i] = (up - f()) / (2 * eps)
        a[i] = old
    return g
