r"""The real-valued equivalent model that the exported (LiteRT) detectors take as input,
and a QAM demapper written with real-valued operations only.

TFLite has no complex arithmetic worth the name (no complex ``BATCH_MATMUL``,
no complex division, and no integer quantization of complex tensors), so every
exported detector works on the real-valued equivalent of
:math:`\mathbf y = \mathbf H\mathbf x + \mathbf n` (KAQ paper eqs. (2)-(3);
Sionna's :func:`~sionna.phy.mimo.complex2real_vector` /
:func:`~sionna.phy.mimo.complex2real_matrix` /
:func:`~sionna.phy.mimo.complex2real_covariance` layout):

.. math::
    \tilde{\mathbf y} = \begin{bmatrix}\Re\mathbf y\\ \Im\mathbf y\end{bmatrix},\qquad
    \tilde{\mathbf H} = \begin{bmatrix}\Re\mathbf H & -\Im\mathbf H\\
                                       \Im\mathbf H & \Re\mathbf H\end{bmatrix},\qquad
    \tilde{\mathbf S} = \frac12\begin{bmatrix}\Re\mathbf S & -\Im\mathbf S\\
                                              \Im\mathbf S & \Re\mathbf S\end{bmatrix}.

The conversion (:func:`real_inputs`) runs outside the exported model, in the
caller (it is a re-arrangement of memory, no arithmetic).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import numpy as np
import tensorflow as tf
from sionna.phy.mapping import Constellation
from sionna.phy.mimo import complex2real_covariance, complex2real_matrix, complex2real_vector

__all__ = ["INPUT_NAMES", "real_inputs", "input_signature", "qam_bit_labels", "qam_points", "real_demap",
           "llr_from_softbits"]

#: Names of the three inputs of every exported detector, in call order.
INPUT_NAMES = ("y_real", "h_real", "s_real")


def real_inputs(y, h, s):
    r"""Complex detector inputs to the exported models' real-valued inputs (float32, numpy).

    Input
    -----
    y : [batch, num_rx], complex
    h : [batch, num_rx, num_tx], complex
    s : [batch, num_rx, num_rx], complex

    Output
    ------
    y_real : [batch, 2 num_rx], np.float32
        :math:`[\Re\mathbf y; \Im\mathbf y]`, unit-energy scale.
    h_real : [batch, 2 num_rx, 2 num_tx], np.float32
    s_real : [batch, 2 num_rx, 2 num_rx], np.float32
        Real-valued noise covariance (half the variance per real dimension).
    """
    y, h, s = (tf.cast(v, tf.complex64) for v in (y, h, s))
    return (complex2real_vector(y).numpy().astype(np.float32),
            complex2real_matrix(h).numpy().astype(np.float32),
            complex2real_covariance(s).numpy().astype(np.float32))


def input_signature(num_tx, num_rx):
    """``tf.TensorSpec`` of :data:`INPUT_NAMES` with a free batch dimension."""
    return [tf.TensorSpec([None, 2 * num_rx], tf.float32, name="y_real"),
            tf.TensorSpec([None, 2 * num_rx, 2 * num_tx], tf.float32, name="h_real"),
            tf.TensorSpec([None, 2 * num_rx, 2 * num_rx], tf.float32, name="s_real")]


def qam_bit_labels(num_bits_per_symbol):
    r"""Indices of the constellation points whose bit ``i`` is 0 and 1.

    Same labelling as Sionna's :class:`~sionna.phy.mapping.SymbolLogits2LLRs`
    (point index ``j`` carries the bits of ``j`` in binary, MSB first).

    Output
    ------
    c0, c1 : [2**(K-1), K], np.int32
    """
    k = num_bits_per_symbol
    bits = (np.arange(2 ** k)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
    c0 = np.stack([np.where(bits[:, i] == 0)[0] for i in range(k)], 1).astype(np.int32)
    c1 = np.stack([np.where(bits[:, i] == 1)[0] for i in range(k)], 1).astype(np.int32)
    return c0, c1


def qam_points(num_bits_per_symbol):
    """Sionna's unit-energy QAM points (complex numpy, computed eagerly)."""
    with tf.init_scope():
        return Constellation("qam", num_bits_per_symbol).points.numpy()


def real_demap(x_re, x_im, no, num_bits_per_symbol, method="app"):
    r"""QAM demapping with real-valued operations; equals Sionna's
    :class:`~sionna.phy.mapping.Demapper` on ``x_re + j x_im``.

    .. math::
        \mathrm{LLR}_i = \underset{c\in\mathcal C_{i,1}}{\mathrm{LSE}}
        \left(-\frac{|x-c|^2}{N_0}\right) - \underset{c\in\mathcal C_{i,0}}{\mathrm{LSE}}
        \left(-\frac{|x-c|^2}{N_0}\right)

    (``"maxlog"``: max instead of log-sum-exp), with :math:`N_0` floored at the
    smallest normal float32 as in Sionna.

    Input
    -----
    x_re, x_im : [..., n], tf.float32
        Equalised symbols (unit-energy scale).
    no : [..., n], tf.float32
        Their noise variances.
    num_bits_per_symbol : int
    method : "app" | "maxlog"

    Output
    ------
    : [..., n, num_bits_per_symbol], tf.float32
        LLRs :math:`\ln\frac{P(b=1)}{P(b=0)}`.
    """
    pts = qam_points(num_bits_per_symbol)
    p_re = tf.constant(pts.real.astype(np.float32))
    p_im = tf.constant(pts.imag.astype(np.float32))
    d2 = tf.square(x_re[..., None] - p_re) + tf.square(x_im[..., None] - p_im)  # [..., n, P]
    no = tf.maximum(no, tf.constant(np.finfo(np.float32).tiny, tf.float32))
    logits = -d2 / no[..., None]
    c0, c1 = qam_bit_labels(num_bits_per_symbol)
    e0 = tf.gather(logits, c0, axis=-1)  # [..., n, P/2, K]
    e1 = tf.gather(logits, c1, axis=-1)
    if method == "maxlog":
        return tf.reduce_max(e1, axis=-2) - tf.reduce_max(e0, axis=-2)
    return _logsumexp(e1) - _logsumexp(e0)


def _logsumexp(e):
    # log-sum-exp over axis -2 with builtin TFLite ops only (REDUCE_MAX, EXP, SUM, LOG)
    m = tf.reduce_max(e, axis=-2, keepdims=True)
    return tf.squeeze(m, -2) + tf.math.log(tf.reduce_sum(tf.exp(e - m), axis=-2))


def llr_from_softbits(softbit, llr_max):
    r""":math:`2\,\mathrm{artanh}(\Lambda)` clipped to :math:`\pm` ``llr_max``, as
    :func:`~kaq_sionna.softbits.scalar.softbit_to_llr`, with ``LOG`` and ``DIV`` only
    (TFLite has no ``ATANH``).

    Input
    -----
    softbit : [...], tf.float32, in [-1, 1]

    Output
    ------
    : [...], tf.float32
    """
    eps = float(np.finfo(np.float32).eps)
    s = tf.clip_by_value(softbit, -1.0 + eps, 1.0 - eps)
    llr = tf.math.log((1.0 + s) / (1.0 - s))
    return tf.clip_by_value(llr, -llr_max, llr_max)
