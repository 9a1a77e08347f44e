r"""EQ-Net's training losses (EQ-Net paper): the soft-bit distortion (eq. (15)) and the feature
loss of the estimation stage (eq. (19)).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import tensorflow as tf

__all__ = ["DISTORTION_EPSILON", "feature_loss", "softbit_distortion"]

#: Stabilisation constant of the distortion (eq. (15)).
DISTORTION_EPSILON = 1e-3


def softbit_distortion(target, estimate, epsilon=DISTORTION_EPSILON):
    r"""Weighted squared error of a soft-bit matrix, eq. (15).

    .. math::
        L(\tilde\Lambda, \Lambda) = \sum_{i=1}^{N_t}\sum_{k=1}^{K}
        \frac{(\tilde\Lambda_{i,k} - \Lambda_{i,k})^2}{|\Lambda_{i,k}| + \epsilon}

    Errors on confident soft bits weigh less than errors on uncertain ones;
    :math:`\epsilon` bounds the weight of soft bits close to 0.

    Input
    -----
    target : [..., num_tx, num_bits_per_symbol], tf.float
        Reference soft bits :math:`\Lambda` (e.g. ML).
    estimate : [..., num_tx, num_bits_per_symbol], tf.float
        Reconstructed or estimated soft bits :math:`\tilde\Lambda`.
    epsilon : float
        Stabilisation constant (paper: 0.001).

    Output
    ------
    : [...], tf.float
        Distortion of each soft-bit matrix (average over a batch: eq. (18)).
    """
    target = tf.convert_to_tensor(target)
    estimate = tf.cast(estimate, target.dtype)
    w = 1.0 / (tf.abs(target) + tf.cast(epsilon, target.dtype))
    return tf.reduce_sum(w * tf.square(estimate - target), axis=[-2, -1])


def feature_loss(target, estimate, kind="l1"):
    r"""Feature loss of the estimation stage: :math:`\lVert f_E(\cdot) - \mathbf z\rVert_1`
    (eq. (19)), or the squared error (``kind="mse"``, the ablation of Sect. 3.3).

    Input
    -----
    target : [..., latent_dim], tf.float
        Frozen features :math:`\mathbf z = f_Q(\Lambda)`.
    estimate : [..., latent_dim], tf.float
        :math:`f_E(\mathbf y, \mathbf H, \sigma_n)`.
    kind : "l1" | "mse"

    Output
    ------
    : [...], tf.float
        Per-sample loss (sum over the features).
    """
    diff = tf.cast(estimate, tf.float32) - tf.cast(target, tf.float32)
    if kind == "l1":
        return tf.reduce_sum(tf.abs(diff), axis=-1)
    if kind == "mse":
        return tf.reduce_sum(tf.square(diff), axis=-1)
    raise ValueError(f"kind must be 'l1' or 'mse', found {kind!r}")

