r"""LLR <-> soft-bit conversion: :math:`\Lambda = \tanh(\mathrm{LLR}/2)` and its clipped inverse.

LLRs follow Sionna's convention :math:`\ln\frac{P(b=1)}{P(b=0)}`; soft bits are
:math:`\tanh(\mathrm{LLR}/2)` (EQ-Net's :math:`\Lambda`, eq. (3) of the EQ-Net paper).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import numpy as np
import tensorflow as tf

__all__ = ["llr_to_softbit", "nan_to_erasure", "softbit_to_llr"]


def llr_to_softbit(llr):
    r"""Soft bit :math:`\Lambda = \tanh(\mathrm{LLR}/2)` (eq. (3) of the EQ-Net paper).

    With Sionna's sign convention, :math:`\Lambda = P(b=1) - P(b=0)`.

    Input
    -----
    llr : [...], tf.float
        LLRs :math:`\ln\frac{P(b=1)}{P(b=0)}`.

    Output
    ------
    : [...], tf.float
        Soft bits in :math:`[-1, 1]`.
    """
    llr = tf.convert_to_tensor(llr)
    return tf.math.tanh(llr / 2)


def softbit_to_llr(softbit, llr_max=20.0):
    r"""LLR :math:`2\,\mathrm{artanh}(\Lambda)`, clipped to :math:`\pm` ``llr_max``.

    Inverse of :func:`llr_to_softbit`. Soft bits are first clipped to
    :math:`\pm(1-\epsilon)` (machine epsilon of their dtype) so that
    :math:`\pm 1` give finite values, then the LLR is clipped to
    :math:`\pm` ``llr_max`` (20 is the default clipping of Sionna's
    :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`).

    Input
    -----
    softbit : [...], tf.float
        Soft bits in :math:`[-1, 1]`.
    llr_max : float
        Clipping level of the output.

    Output
    ------
    : [...], tf.float
        LLRs.
    """
    softbit = tf.convert_to_tensor(softbit)
    if not softbit.dtype.is_floating:
        raise TypeError(f"softbit must be a float tensor, found {softbit.dtype.name}")
    eps = float(np.finfo(softbit.dtype.as_numpy_dtype).eps)
    s = tf.clip_by_value(softbit, -1.0 + eps, 1.0 - eps)
    llr = 2.0 * tf.math.atanh(s)
    return tf.clip_by_value(llr, -llr_max, llr_max)


def nan_to_erasure(llr):
    """``llr`` with NaN replaced by 0 (an erasure: no information), so that a compressor never
    turns a NaN into a confident stored LLR. Infinities are kept (compressors clip them)."""
    llr = tf.convert_to_tensor(llr)
    if not llr.dtype.is_floating:
        return llr
    return tf.where(tf.math.is_nan(llr), tf.zeros_like(llr), llr)
