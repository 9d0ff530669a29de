"""What the models share (sigmoid.models._training): scikit-learn's
parameter protocol and its "not fitted" error in every model."""
import numpy as np
import pytest

from sigmoid import models
from sigmoid.models._training import Estimator, NotFittedError

# every model, and a method that needs a fitted model with its arguments
UNFITTED = [
    (lambda: models.LogisticRegression(), "predict_proba", (np.zeros((2, 3)),)),
    (lambda: models.MultiLabelClassifier(), "predict_proba", (np.zeros((2, 3)),)),
    (lambda: models.GAN(), "sample", (4,)),
    (lambda: models.SequenceClassifier(), "predict_proba", (np.zeros((2, 5, 1)),)),
    (lambda: models.SequenceRegressor(), "predict", (np.zeros((2, 5, 1)),)),
    (lambda: models.DiffusionModel(), "sample", (4,)),
]


@pytest.mark.parametrize("make, method, args", UNFITTED)
def test_every_model_raises_the_not_fitted_error_scikit_learn_expects(make, method, args):
    """A ValueError and an AttributeError, and scikit-learn's own
    NotFittedError once scikit-learn is imported, with its wording."""
    model = make()
    with pytest.raises(NotFittedError, match=rf"This {type(model).__name__} instance is not fitted yet"):
        getattr(model, method)(*args)
    with pytest.raises(ValueError):
        getattr(model, method)(*args)
    with pytest.raises(AttributeError):
        getattr(model, method)(*args)
    sklearn_exceptions = pytest.importorskip("sklearn.exceptions")
    with pytest.raises(sklearn_exceptions.NotFittedError):
        getattr(model, method)(*args)


@pytest.mark.parametrize("make, method, args", UNFITTED)
def test_every_model_has_the_parameter_protocol(make, method, args):
    model = make()
    assert isinstance(model, Estimator)
    params = model.get_params()
    assert params and model.set_params(**params) is model
    with pytest.raises(ValueError, match="invalid parameter 'no_such_parameter'"):
        model.set_params(no_such_parameter=1)
    assert repr(model).startswith(type(model).__name__ + "(")
