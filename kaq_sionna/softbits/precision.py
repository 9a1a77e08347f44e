"""Sionna's precision convention for soft-bit compressors: ``precision=None | "single" |
"double"``, `None` meaning :attr:`sionna.phy.config.precision`.

Compressors used to take ``dtype=`` (the dtype of the LLRs they read back);
:func:`resolve_precision` still accepts it, with a :class:`DeprecationWarning`, mapping
``float32`` to ``"single"`` and ``float64`` to ``"double"``.
"""

import warnings

import tensorflow as tf
from sionna.phy import config
from sionna.phy.config import dtypes

__all__ = ["PRECISIONS", "resolve_precision"]

#: Values of ``precision`` besides `None`.
PRECISIONS = ("single", "double")

_DTYPE_TO_PRECISION = {tf.float32: "single", tf.float64: "double"}


def resolve_precision(precision=None, dtype=None, owner="compressor", stacklevel=3):
    """The precision and its real dtype, from ``precision`` or the deprecated ``dtype``.

    Input
    -----
    precision : `None` (default) | "single" | "double"
        `None` uses :attr:`sionna.phy.config.precision` (read now).
    dtype : `None` (default) | tf.float32 | tf.float64
        Deprecated spelling of ``precision`` (:class:`DeprecationWarning`).
    owner : str
        Names the caller in messages.
    stacklevel : int
        Of the warning (3: the caller of the function that calls this one).

    Output
    ------
    precision : "single" | "double"
    rdtype : tf.float32 | tf.float64
        Its real dtype (``sionna.phy.config.dtypes``).

    Raises
    ------
    ValueError
        ``precision`` is not `None`, "single" or "double", or both arguments are given.
    TypeError
        ``dtype`` is not float32 or float64.
    """
    if dtype is not None:
        if precision is not None:
            raise ValueError(f"{owner}: give precision or the deprecated dtype, not both "
                             f"(found precision={precision!r}, dtype={dtype!r})")
        try:
            dt = tf.as_dtype(dtype)
        except TypeError:
            dt = None
        if dt not in _DTYPE_TO_PRECISION:
            raise TypeError(f"{owner}: dtype (deprecated, use precision='single' | 'double') "
                            f"must be float32 or float64, found {dtype!r}")
        precision = _DTYPE_TO_PRECISION[dt]
        warnings.warn(f"{owner}: dtype= is deprecated, use precision={precision!r} "
                      f"(dtype={dt.name})", DeprecationWarning, stacklevel=stacklevel)
    if precision is None:
        precision = config.precision
    if precision not in PRECISIONS:
        raise ValueError(f"{owner}: precision must be None, 'single' or 'double', found "
                         f"{precision!r}")
    return precision, dtypes[precision]["tf"]["rdtype"]
