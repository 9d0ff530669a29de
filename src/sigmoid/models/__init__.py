"""The models the sigmoid is famous for, trained with this library's own
kernels and gradients."""
from .gan import GAN, mixture_of_gaussians
from .multilabel import MultiLabelClassifier

__all__ = ["GAN", "MultiLabelClassifier", "mixture_of_gaussians"]
