"""Generalized linear models in three layers, after scikit-learn's
``linear_model/_glm``: the problem (:mod:`._problem`: the penalized loss, its
gradient, Hessian and Hessian-vector products on dense, sparse or Dask data,
binary or multinomial), the solvers (:mod:`._solvers`, each written once
against the problem's small interface), and the estimators on top
(:mod:`sigmoid.models.logistic`).  :mod:`._checks` holds the input checks."""
