r"""SNR-adaptive quantization step of eq. (15) of the KAQ paper,
:math:`\Delta^{(k)} = \alpha_k\,\mathrm{SNR}^{-1/2} + \gamma_k`, with the SNR
computed per sample from the detector's own inputs ``h`` and ``s``.

SNR definition (consistent with ``docs/conventions.md``): for unit-energy
constellations and channels normalised so that
:math:`\mathbb{E}\|\mathbf{H}\|_F^2 = N_t`, the per-sample SNR is

.. math::
    \mathrm{SNR} = \frac{\|\mathbf{H}\|_F^2 / N_t}{\mathrm{tr}(\mathbf{S}) / N_r},

the received energy per stream over the noise power per receive antenna. With
``s = N0 I`` its average over channel realisations is the link's
:math:`E_s/N_0 = 1/N_0`; per sample it also follows the instantaneous channel
gain.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import tensorflow as tf


def per_sample_snr(h, s):
    r"""Per-sample SNR (linear) from the channel and the noise covariance.

    Input
    -----
    h : [..., num_rx, num_tx], tf.complex
        Channel matrices.
    s : [..., num_rx, num_rx], tf.complex
        Noise covariance matrices.

    Output
    ------
    : [...], tf.float
        :math:`(\|H\|_F^2 / N_t) / (\mathrm{tr}(S) / N_r)`.
    """
    num_rx = tf.cast(tf.shape(h)[-2], h.dtype.real_dtype)
    num_tx = tf.cast(tf.shape(h)[-1], h.dtype.real_dtype)
    gain = tf.reduce_sum(tf.square(tf.abs(h)), axis=[-2, -1]) / num_tx
    noise = tf.math.real(tf.linalg.trace(s)) / num_rx
    tiny = tf.constant(1e-30, gain.dtype)
    return gain / tf.maximum(noise, tiny)


def adaptive_step(snr, alpha, gamma, min_step=1e-6):
    r"""Eq. (15): :math:`\Delta = \alpha\,\mathrm{SNR}^{-1/2} + \gamma`, floored at ``min_step``.

    For :math:`\alpha > 0` the step decreases as the SNR increases (the
    activations' noise spread shrinks); :math:`\gamma` is the step reached at
    infinite SNR.

    Input
    -----
    snr : tf.float, any shape
        Linear SNR (e.g. from :func:`per_sample_snr`).
    alpha, gamma : tf.float, broadcastable to ``snr``

    Output
    ------
    : tf.float, broadcast shape
    """
    snr = tf.convert_to_tensor(snr)
    inv_sqrt = tf.math.rsqrt(tf.maximum(snr, tf.constant(1e-30, snr.dtype)))
    return tf.maximum(alpha * inv_sqrt + gamma, tf.cast(min_step, snr.dtype))  # eq. (15)


__all__ = ["per_sample_snr", "adaptive_step"]
