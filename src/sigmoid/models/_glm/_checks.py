"""The checks of the inputs of a linear classifier: X (dense, scipy.sparse or
Dask), the labels, the sample weights, and the errors and warnings they raise
(the classes of :mod:`sigmoid.models._training`, instances of
scikit-learn's classes of the same names once :mod:`sklearn` has been
imported).  Nothing here computes a model."""
from __future__ import annotations

import numbers
import sys
import warnings

import numpy as np

from ...interop.dask import is_dask_array  # noqa: F401  (the library's one Dask detector)
from .._training import DataConversionWarning, _flavoured


# ------------------------------------------------------------------ X


def describe_nonfinite(name, a):
    if np.isnan(a).any():
        return f"Input {name} contains NaN."
    return f"Input {name} contains infinity or a value too large for dtype({str(a.dtype)!r})."


def check_finite(name, a):
    # a finite sum proves every element finite (one pass, no temporary);
    # otherwise look element by element for the message
    with np.errstate(over="ignore", invalid="ignore"):
        total = a.sum()
    if not np.isfinite(total) and not np.isfinite(a).all():
        raise ValueError(describe_nonfinite(name, a))


def is_sparse(X):
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def feature_names(X):
    cols = getattr(X, "columns", None)
    if cols is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray(cols, dtype=object)
    if names.ndim != 1 or names.size == 0:
        return None
    types = sorted({type(v).__qualname__ for v in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, but your input has "
            f"{types} as feature name / column name types. If you want feature names to be stored and "
            "validated, you must convert them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input data, or convert them "
            "all to a non-string data type."
        )
    return names if types == ["str"] else None


def _check_shape(shape, ndim, owner):
    if ndim != 2:
        if ndim < 2:
            raise ValueError(
                f"Expected 2D array, got {ndim}D array instead. Reshape your data either using "
                "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
                "contains a single sample."
            )
        raise ValueError(f"Found array with dim {ndim}. {owner} expected <= 2.")
    n, d = shape
    if n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required "
                         f"by {owner}.")


def _check_dtype_kind(dtype, owner):
    kind = dtype.kind
    if kind == "c":
        raise ValueError("Complex data not supported")
    if kind in "USV" or kind in "mM":
        raise ValueError(f"{owner} needs numeric X, got an array of dtype {dtype}; "
                         "convert your data to numbers explicitly")


def as_csr(X, owner):
    """A scipy.sparse X as a valid, canonical CSR matrix of float32 or
    float64 (float32 and float64 CSR with sorted indices and no repeated
    entries kept without a copy; other formats and dtypes converted once, as
    scikit-learn does), its stored values finite, its indices checked once
    (the one-pass kernels of _csr.c rely on them)."""
    import scipy.sparse as sp

    _check_shape(X.shape, len(X.shape), owner)
    _check_dtype_kind(X.dtype, owner)
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    n, d = X.shape
    data, indices, indptr = X.data, X.indices, X.indptr
    if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
        kind = np.int64 if np.int64 in (indices.dtype, indptr.dtype) else np.int32
        indices, indptr = indices.astype(kind), indptr.astype(kind)
    nnz = int(indptr[-1]) if indptr.size == n + 1 else -1
    if (nnz < 0 or indptr[0] != 0 or nnz > min(data.size, indices.size) or
            (n > 0 and np.any(indptr[1:] < indptr[:-1]))):
        raise ValueError(f"{owner}: X is not a valid CSR matrix (indptr of length {indptr.size} for {n} rows, "
                         "or not non-decreasing from 0)")
    if data.size != nnz or indices.size != nnz:
        data, indices = data[:nnz], indices[:nnz]
    if nnz and (int(indices.min()) < 0 or int(indices.max()) >= d):
        raise ValueError(f"{owner}: X is not a valid CSR matrix (a column index outside [0, {d}))")
    check_finite("X", data)
    data = np.ascontiguousarray(data)
    indices = np.ascontiguousarray(indices)
    indptr = np.ascontiguousarray(indptr)
    if not (data is X.data and indices is X.indices and indptr is X.indptr):
        X = sp.csr_matrix((data, indices, indptr), shape=(n, d), copy=False)
    if not X.has_canonical_format:
        # repeated (row, column) entries are summed, on a copy: the diagonal
        # of X^T diag(h) X needs each entry once
        X = X.copy()
        X.sum_duplicates()
    return X


def as_numeric_2d(X, owner, accept_sparse=True):
    """X as a float32 or float64 2-D ndarray, or a CSR matrix (see
    :func:`as_csr`); float32 and float64 kept, other numbers converted to
    float64, no copy when none is needed."""
    if X is None:
        raise ValueError(f"{owner} expected an array-like X, got None")
    if is_sparse(X):
        if not accept_sparse:
            raise TypeError(f"{owner} does not support sparse input X (got a {type(X).__name__}); "
                            "convert it to a dense array with X.toarray()")
        return as_csr(X, owner)
    X = np.asarray(X)
    _check_dtype_kind(X.dtype, owner)
    if X.dtype.kind == "O":
        X = X.astype(np.float64)  # TypeError/ValueError from NumPy name the bad element
    elif X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    _check_shape(X.shape, X.ndim, owner)
    check_finite("X", X)
    return X


# ------------------------------------------------------------------ y and the weights


def label_repr(c):
    return repr(c.item() if isinstance(c, np.generic) else c)


CONTINUOUS = ("Unknown label type: continuous. Maybe you are trying to fit a classifier, which expects "
              "discrete classes on a regression target with continuous values.")


def check_label_array(y, n_samples, owner, stacklevel=5):
    """The checks of y that need no pass over its values (NumPy or Dask):
    present, dense, 1-D (a column vector is raveled, with scikit-learn's
    warning), n_samples long, of a label dtype.  Returns y."""
    if y is None:
        raise ValueError(f"{owner} requires y to be passed, but the target y is None.")
    if is_sparse(y):
        raise TypeError(f"{owner} does not support a sparse y; pass a 1-D array of labels")
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
            "(n_samples, ), for example using ravel().",
            _flavoured(DataConversionWarning),
            stacklevel=stacklevel,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if y.shape[0] != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n_samples}, {y.shape[0]}]")
    if y.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    if y.dtype.kind in "mMV":
        raise ValueError(f"Unknown label type: labels of dtype {y.dtype}")
    return y


def check_n_classes(classes):
    """A ValueError unless the labels hold at least two classes."""
    if classes.size < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data contains only one "
            f"class: {label_repr(classes[0])}"
        )


def check_targets(y, n_samples, owner):
    """(classes, codes as intp): y validated as class labels, codes[i] the
    index of y[i] in the sorted classes."""
    if y is not None and not is_sparse(y):
        y = np.asarray(y)
    y = check_label_array(y, n_samples, owner)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(describe_nonfinite("y", y))
        if np.any(y != np.trunc(y)):
            raise ValueError(CONTINUOUS)
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError as exc:
        types = sorted({type(v).__qualname__ for v in y.tolist()})
        raise TypeError(f"y must be uniformly strings or numbers, got labels of types {types}") from exc
    check_n_classes(classes)
    return classes, codes.reshape(-1).astype(np.intp)


def check_sample_weight(sample_weight, n_samples):
    """sample_weight as float64 of shape (n_samples,), or None (a new array:
    the caller's is never written)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sw = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        sw = np.asarray(sample_weight)
        if sw.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight must be numbers, got dtype {sw.dtype}")
        sw = sw.astype(np.float64)  # always a copy
        if sw.ndim != 1:
            raise ValueError(f"Sample weights must be 1D array or scalar, got shape {sw.shape}")
        if sw.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n_samples,)}!")
    if not np.isfinite(sw).all():
        raise ValueError(describe_nonfinite("sample_weight", sw))
    if np.any(sw < 0):
        raise ValueError("Negative values in data passed to sample_weight")
    return sw


def class_weights(class_weight, classes, counts):
    """The weight of each class (float64, shape (n_classes,)) from the
    estimator's `class_weight` (None, "balanced" or a dict of label to
    weight; missing labels weigh 1) and the (weighted) count of each class."""
    K = classes.size
    if class_weight is None:
        return np.ones(K)
    if isinstance(class_weight, str):  # "balanced": sum(counts) / (K * count), 1 for an empty class
        counts = np.asarray(counts, dtype=np.float64)
        with np.errstate(divide="ignore"):
            out = counts.sum() / (K * counts)
        return np.where(counts > 0, out, 1.0)
    keys = {(k.item() if isinstance(k, np.generic) else k) for k in class_weight}
    labels = [c.item() if isinstance(c, np.generic) else c for c in classes]
    unknown = [k for k in keys if k not in labels]
    if unknown:
        raise ValueError(f"The given class_weight dict must have the class labels as keys; "
                         f"{sorted(map(repr, unknown))} are not among the classes {labels!r}")
    out = np.array([float(class_weight.get(c, class_weight.get(classes[i], 1.0))) for i, c in enumerate(labels)])
    if not (np.isfinite(out).all() and np.all(out >= 0)):
        raise ValueError(f"class_weight values must be finite and non-negative, got {class_weight!r}")
    return out


def check_weighted_classes(classes, weight_per_class):
    """A ValueError unless at least two classes have a positive weight."""
    if not np.any(weight_per_class > 0):
        raise ValueError("Sample weights must contain at least one non-zero number (all sample weights, times "
                         "the class weights, are zero).")
    present = weight_per_class > 0
    if np.count_nonzero(present) < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes with non-zero weight, but only class "
            f"{label_repr(classes[int(np.argmax(present))])} has any."
        )


# ------------------------------------------------------------------ Dask arrays


def unknown_chunks_error(name):
    return ValueError(
        f"{name} is a Dask array with unknown chunk sizes (NaN in {name}.chunks), but its shape is needed to "
        f"check the inputs; call {name}.compute_chunk_sizes() first (or build it with known lengths, e.g. "
        "DataFrame.to_dask_array(lengths=True)) so that nothing is computed silently."
    )


def _has_unknown(chunks):
    return any(np.isnan(c) for c in chunks)


def dask_2d(X, owner, need_rows):
    """X as a Dask array of float32 or float64, chunked along rows only."""
    if is_sparse(getattr(X, "_meta", None)):
        raise TypeError(f"{owner} does not support Dask arrays of sparse blocks; pass dense blocks, or a "
                        "scipy.sparse matrix in memory")
    _check_dtype_kind(X.dtype, owner)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        _check_shape(X.shape, X.ndim, owner)
    if _has_unknown(X.chunks[1]) or (_has_unknown(X.chunks[0]) and (need_rows or X.numblocks[1] > 1)):
        raise unknown_chunks_error("X")
    n, d = X.shape
    if need_rows and n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    if d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required "
                         f"by {owner}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def dask_1d(a, rows, name):
    """`a` (Dask or not) as a 1-D Dask array with the row chunks `rows`."""
    import dask.array as da

    if is_dask_array(a):
        if _has_unknown(a.chunks[0]):
            raise unknown_chunks_error(name)
        if a.chunks[0] != rows and a.shape[0] == sum(rows):
            a = a.rechunk((rows,) + a.chunks[1:])
        return a
    a = np.asarray(a)
    return da.from_array(a, chunks=(rows,) + a.shape[1:]) if a.ndim >= 1 and a.shape[0] == sum(rows) else a


def encode_block(yb, classes):
    return np.searchsorted(classes, yb).astype(np.intp)


def weights_block(codes, sb, class_w):
    w = class_w[codes]
    return w if sb is None else sb * w
