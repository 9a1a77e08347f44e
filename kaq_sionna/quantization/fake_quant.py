"""Uniform symmetric fake quantizer ``Q_b`` (eq. (9) of the KAQ paper) with the
straight-through estimator of eq. (19), and the step initialisation of eq. (10).

"Fake" quantization keeps floating-point tensors but restricts their values to
the integer grid ``step * {-q_max, ..., q_max}`` with ``q_max = 2^(b-1) - 1``,
which is what an integer implementation with a per-tensor scale computes.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import numpy as np
import tensorflow as tf

MIN_BITS, MAX_BITS = 2, 16


def check_num_bits(num_bits):
    """Returns ``num_bits`` if it is an integer in ``[2, 16]``, else raises ``ValueError``."""
    if isinstance(num_bits, bool) or not isinstance(num_bits, (int, np.integer)):
        raise ValueError(f"num_bits must be an integer in [{MIN_BITS}, {MAX_BITS}], "
                         f"found {num_bits!r} ({type(num_bits).__name__})")
    if not MIN_BITS <= num_bits <= MAX_BITS:
        raise ValueError(f"num_bits must be an integer in [{MIN_BITS}, {MAX_BITS}], "
                         f"found {num_bits}")
    return int(num_bits)


def qmax(num_bits):
    """Largest integer level ``2^(b-1) - 1`` of a symmetric ``b``-bit quantizer."""
    return 2 ** (check_num_bits(num_bits) - 1) - 1


def _unbroadcast(grad, shape):
    """Sums ``grad`` over the axes along which a tensor of ``shape`` was broadcast."""
    _, axes = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(grad), s1=shape)
    return tf.reshape(tf.reduce_sum(grad, axis=axes), shape)


def fake_quantize(x, step, num_bits):
    r"""Uniform symmetric fake quantizer with straight-through gradients.

    Forward (eq. (9), clipped to ``b`` bits):

    .. math::
        Q_b(x) = \Delta \cdot \mathrm{clip}\left(\mathrm{round}(x/\Delta),
                 -q_{\max}, q_{\max}\right), \qquad q_{\max} = 2^{b-1}-1 .

    Backward: the straight-through estimator of eq. (19),
    :math:`\partial Q_b/\partial x = 1` for
    :math:`|x| \le \Delta q_{\max}` and 0 outside; for the step,
    :math:`\partial Q_b/\partial \Delta = \mathrm{round}(x/\Delta) - x/\Delta`
    inside the range and :math:`\pm q_{\max}` outside (the derivative of the
    forward expression with ``round`` passed straight through, as in LSQ), so
    that a learnable step (eq. (18)) receives a gradient.

    Parameters
    ----------
    num_bits : int
        Bit width ``b`` in ``[2, 16]``; the output takes at most ``2^b - 1``
        distinct values per step.

    Input
    -----
    x : tf.float, any shape
        Activations.
    step : tf.float, broadcastable to ``x``
        Step size :math:`\Delta > 0` (values below the smallest normal number
        of the dtype are raised to it).

    Output
    ------
    : tf.float, shape of ``x`` broadcast with ``step``
        Quantized activations.
    """
    q_max = float(qmax(num_bits))
    step = tf.cast(step, x.dtype)
    return _fake_quantize(x, step, q_max)


def _fake_quantize(x, step, q_max):
    @tf.custom_gradient
    def quant(x, step):
        safe_step = tf.maximum(step, tf.constant(np.finfo(x.dtype.as_numpy_dtype).tiny,
                                                 x.dtype))
        v = x / safe_step
        levels = tf.clip_by_value(tf.round(v), -q_max, q_max)
        out = safe_step * levels  # eq. (9)

        def grad(dy):
            inside = tf.abs(v) <= q_max
            # eq. (19): straight-through inside the range, zero outside
            dx = tf.where(inside, dy, tf.zeros_like(dy))
            dstep = dy * tf.where(inside, tf.round(v) - v, levels)
            return _unbroadcast(dx, tf.shape(x)), _unbroadcast(dstep, tf.shape(step))

        return out, grad

    return quant(x, step)


def init_step(max_abs, num_bits):
    r"""Initial step of eq. (10): :math:`\Delta = \max|x| / (2^{b-1}-1)`.

    Input
    -----
    max_abs : float or array
        Largest absolute activation over the calibration set.

    Output
    ------
    : same type as ``max_abs``
    """
    return max_abs / qmax(num_bits)


def cast_fp16(x):
    """Rounds ``x`` to float16 and back (gradient passes straight through the casts)."""
    return tf.cast(tf.cast(x, tf.float16), x.dtype)


__all__ = ["MIN_BITS", "MAX_BITS", "check_num_bits", "qmax", "fake_quantize", "init_step",
           "cast_fp16"]
