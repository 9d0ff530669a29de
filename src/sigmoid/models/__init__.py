"""The models the sigmoid is famous for, trained with this library's own
kernels and gradients."""
