"""Training loss of the KAQ paper, eq. (16).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import tensorflow as tf


def kaq_total_loss(x_true, x_hat, mmd_losses=None, epsilon=0.0):
    r"""Eq. (16): detection MSE plus the weighted sum of the per-layer MMD losses.

    .. math::
        \mathcal{L}_{\mathrm{total}} = \frac{1}{B}\sum_{i=1}^{B}
        \|\mathbf{x}_{\mathrm{true},i} - \mathbf{x}^{(K)}_{S,i}\|_2^2
        + \epsilon \sum_{k=1}^{K} \mathcal{L}^{(k)}_{\mathrm{MMD}}

    Input
    -----
    x_true : [..., n], tf.float or tf.complex
        Transmitted symbols (real-valued model of eq. (3), or complex:
        :math:`|\cdot|^2` of a complex entry is the sum of the squares of its
        two real components, so both give the same value).
    x_hat : [..., n], same dtype as ``x_true``
        Final-layer estimate :math:`\mathbf{x}^{(K)}_S`.
    mmd_losses : None, list of scalars or [num_sites] tf.float
        :math:`\mathcal{L}^{(k)}_{\mathrm{MMD}}` (e.g. ``UnfoldedEstimate.mmd``).
    epsilon : float
        Weight :math:`\epsilon` of the distribution-matching term.

    Output
    ------
    : scalar tf.float
    """
    err = x_true - x_hat
    if err.dtype.is_complex:
        sq = tf.square(tf.math.real(err)) + tf.square(tf.math.imag(err))
    else:
        sq = tf.square(err)
    mse = tf.reduce_mean(tf.reduce_sum(sq, axis=-1))  # mean over all batch axes (1/B sum_i)
    if mmd_losses is None or epsilon == 0:
        return mse
    if isinstance(mmd_losses, (list, tuple)):
        if not mmd_losses:
            return mse
        mmd_losses = tf.stack(mmd_losses)
    return mse + tf.cast(epsilon, mse.dtype) * tf.reduce_sum(tf.cast(mmd_losses, mse.dtype))


__all__ = ["kaq_total_loss"]
