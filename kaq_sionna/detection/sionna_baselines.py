"""Sionna's MIMO detectors adapted for the registry: a zero-prior MMSE-PIC with the plain
``det(y, h, s)`` signature, and a guard for K-Best at 16x16 16-QAM."""

import contextlib
import types

import numpy as np
import sionna.phy.mimo.detection as _sionna_detection
import tensorflow as tf
from sionna.phy import Block
from sionna.phy.mimo import MMSEPICDetector


@contextlib.contextmanager
def bounded_path_counts():
    """Sionna 1.2's KBestDetector computes ``num_points ** num_streams`` as a Python int and
    passes it to ``np.minimum``, which overflows for 2**63 paths or more (16x16 16-QAM).
    Within this context its module sees an ``np.minimum`` that caps Python ints at 2**62 (the
    result is ``min(k, ...)`` = k either way)."""
    def minimum(a, b):
        cap = 2 ** 62
        return np.minimum(min(a, cap) if isinstance(a, int) else a,
                          min(b, cap) if isinstance(b, int) else b)

    shim = types.SimpleNamespace(**{n: getattr(np, n) for n in dir(np) if not n.startswith("__")})
    shim.minimum = minimum
    saved = _sionna_detection.np
    _sionna_detection.np = shim
    try:
        yield
    finally:
        _sionna_detection.np = saved


class MMSEPICWithoutPrior(Block):
    """:class:`~sionna.phy.mimo.MMSEPICDetector` with a zero prior (no decoder feedback),
    so that it has the plain ``det(y, h, s)`` signature."""

    def __init__(self, num_bits_per_symbol, num_iter=1, demapping_method="maxlog",
                 precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self.num_bits_per_symbol = num_bits_per_symbol
        self._det = MMSEPICDetector("bit", demapping_method, num_iter, "qam",
                                    num_bits_per_symbol, precision=precision)

    def call(self, y, h, s):
        prior_shape = tf.concat([tf.shape(h)[:-2], [tf.shape(h)[-1], self.num_bits_per_symbol]],
                                0)
        return self._det(y, h, s, tf.zeros(prior_shape, self.rdtype))
