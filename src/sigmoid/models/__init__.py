"""The models the sigmoid is famous for, trained with this library's own
kernels and gradients."""
from .diffusion import Denoiser, DiffusionModel, two_moons
from .gan import GAN, mixture_of_gaussians
from .logistic import LogisticRegression
from .multilabel import MultiLabelClassifier
from .sequence import (
    SequenceClassifier,
    SequenceRegressor,
    adding_problem,
    first_symbol_task,
    vanishing_gradient_profile,
)

__all__ = ["Denoiser", "DiffusionModel", "GAN", "LogisticRegression", "MultiLabelClassifier", "SequenceClassifier",
           "SequenceRegressor", "adding_problem",
           "first_symbol_task", "mixture_of_gaussians", "two_moons",
           "vanishing_gradient_profile"]
