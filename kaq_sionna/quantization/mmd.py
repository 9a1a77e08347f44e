r"""Kernel maximum mean discrepancy (MMD) with learnable Gaussian bandwidths
(eqs. (11)-(14) of the KAQ paper) and a mechanism against bandwidth collapse.

The collapse pitfall
--------------------
Eq. (11) is minimised by the training loop with respect to everything that is
learnable, including the kernel bandwidths :math:`\sigma`. For any two sample
sets, :math:`\mathrm{MMD}^2 \to 0` as :math:`\sigma \to \infty` (every kernel
value tends to 1), so gradient descent on free bandwidths drives them to
infinity, after which the loss measures nothing.

The mechanism used here (``bounded=True``, the default): each bandwidth is tied
to the data scale,

.. math::
    \sigma_j = m \cdot \exp\left(L \tanh\theta_j\right), \qquad L = \ln(\rho_{\max}),

where :math:`m` is the median pairwise distance of the pooled samples (the
"median heuristic", recomputed for every batch, no gradient) and
:math:`\theta_j` is the learnable parameter. Whatever the optimiser does to
:math:`\theta_j`, :math:`\sigma_j \in [m/\rho_{\max}, m\rho_{\max}]`
(``max_ratio`` :math:`=\rho_{\max}`, default 4), i.e. the kernel always
resolves distances at the scale of the data and the MMD keeps separating
different distributions. Optionally (``adversarial=True``) the gradient
reaching :math:`\theta` is reversed, so that minimising the total loss
*maximises* the discrepancy with respect to the bandwidths (the MMD-GAN
choice: the kernel looks for the scale at which the two sets differ most).

``bounded=False`` gives free bandwidths :math:`\sigma_j = e^{\theta_j}` (the
literal reading of the paper), which exhibits the collapse.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import math

import keras
import numpy as np
import tensorflow as tf
from sionna.phy.config import config, dtypes

KERNELS = ("mixture", "per-term")


def _rdtype(precision):
    return dtypes[precision or config.precision]["tf"]["rdtype"]


def pairwise_sq_dists(a, b):
    r"""Squared Euclidean distances between the rows of ``a`` and ``b``.

    Input
    -----
    a : [n, d], tf.float
    b : [m, d], tf.float

    Output
    ------
    : [n, m], tf.float
        :math:`\|a_i - b_j\|^2` (clipped at 0 against round-off).
    """
    aa = tf.reduce_sum(tf.square(a), -1)[:, None]
    bb = tf.reduce_sum(tf.square(b), -1)[None, :]
    return tf.maximum(aa + bb - 2.0 * tf.matmul(a, b, transpose_b=True), 0.0)


def median_pairwise_distance(z):
    """Median of the pairwise distances ``||z_i - z_j||`` over ``i != j`` (no gradient).

    Input
    -----
    z : [n, d], tf.float, ``n >= 2``

    Output
    ------
    : scalar tf.float
    """
    z = tf.stop_gradient(z)
    n = tf.shape(z)[0]
    d2 = tf.sort(tf.reshape(pairwise_sq_dists(z, z), [-1]))
    # the n diagonal zeros are the n smallest values; take the median of the rest
    off = n * n - n
    return tf.sqrt(tf.gather(d2, n + off // 2))


def gaussian_kernel(d2, sigma):
    r"""Gaussian kernel of eq. (12), :math:`\exp(-d^2 / (2\sigma^2))`, averaged over
    the bandwidths in ``sigma`` (a mixture of Gaussian kernels).

    Input
    -----
    d2 : [n, m], tf.float
        Squared distances.
    sigma : [J], tf.float
        Bandwidths.

    Output
    ------
    : [n, m], tf.float
    """
    return tf.reduce_mean(tf.exp(-d2[..., None] / (2.0 * tf.square(sigma))), axis=-1)


def mmd2(x, y, sigma, kernel="mixture"):
    r"""Squared MMD between two sample sets, eq. (11) (biased V-statistic).

    .. math::
        \frac{1}{B^2}\sum_{i,j} k(x_i, x_j) + \frac{1}{B^2}\sum_{i,j} k(y_i, y_j)
        - \frac{2}{B^2}\sum_{i,j} k(x_i, y_j)

    Parameters
    ----------
    kernel : "mixture" | "per-term"
        ``"mixture"``: every term uses the same kernel, the average of Gaussian
        kernels with the bandwidths ``sigma`` (a characteristic kernel, so the
        result is a proper squared MMD: >= 0 and 0 for identical sets).
        ``"per-term"``: the literal reading of eqs. (11)-(12), one bandwidth per
        term (``sigma = [sigma_1, sigma_2, sigma_3]`` for the ``xx``, ``yy`` and
        ``xy`` terms); with unequal bandwidths this is *not* a divergence (it is
        non-zero for identical sets and can be negative). Kept for ablations.

    Input
    -----
    x : [n, d], tf.float
    y : [m, d], tf.float
    sigma : [J], tf.float
        Bandwidths (``J = 3`` for ``"per-term"``).

    Output
    ------
    : scalar tf.float
    """
    dxx, dyy, dxy = pairwise_sq_dists(x, x), pairwise_sq_dists(y, y), pairwise_sq_dists(x, y)
    if kernel == "mixture":
        sx = sy = sxy = sigma
    elif kernel == "per-term":
        sx, sy, sxy = sigma[0:1], sigma[1:2], sigma[2:3]
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, found {kernel!r}")
    return (tf.reduce_mean(gaussian_kernel(dxx, sx)) + tf.reduce_mean(gaussian_kernel(dyy, sy))
            - 2.0 * tf.reduce_mean(gaussian_kernel(dxy, sxy)))


@tf.custom_gradient
def _reverse_gradient(x):
    return tf.identity(x), lambda dy: -dy


class KernelMMD(keras.layers.Layer):
    r"""Squared MMD (eq. (11)) with learnable Gaussian bandwidths (eq. (12)) that
    cannot collapse.

    See the module docstring for the collapse pitfall and the bounded
    parametrisation :math:`\sigma_j = m\,\exp(L\tanh\theta_j)` around the
    median pairwise distance :math:`m`.

    Parameters
    ----------
    num_kernels : int
        Number of bandwidths ``J`` (3 in the paper: :math:`\sigma_1, \sigma_2, \sigma_3`).
    kernel : "mixture" | "per-term"
        See :func:`mmd2`.
    bounded : bool
        If `True` (default), bandwidths stay within ``[m / max_ratio, m * max_ratio]``;
        if `False`, :math:`\sigma_j = e^{\theta_j}` are free (collapse-prone).
    max_ratio : float > 1
        Bound on :math:`\sigma_j / m` and :math:`m / \sigma_j`.
    init_ratios : tuple of float
        Initial :math:`\sigma_j / m` (bounded) or initial :math:`\sigma_j` (free).
    adversarial : bool
        If `True`, the gradient reaching the bandwidth parameters is reversed:
        a loop minimising the loss maximises the MMD over the bandwidths.
    min_scale : float
        Floor on :math:`m` (all-equal samples would otherwise give zero bandwidths).
    median_max_samples : int
        :math:`m` is computed from at most this many samples of each set (the
        first ones): sorting all pairwise distances is quadratic in memory and
        the median is a stable statistic.
    precision : None | "single" | "double"

    Input
    -----
    x : [n, d], tf.float
        Samples of the first distribution (e.g. full-precision activations).
    y : [m, d], tf.float
        Samples of the second distribution (e.g. quantized activations).

    Output
    ------
    : scalar tf.float
        :math:`\mathrm{MMD}^2`.
    """

    def __init__(self, num_kernels=3, kernel="mixture", bounded=True, max_ratio=4.0,
                 init_ratios=(0.5, 1.0, 2.0), adversarial=False, min_scale=1e-3,
                 median_max_samples=64, precision=None, **kwargs):
        super().__init__(dtype=_rdtype(precision), autocast=False, **kwargs)
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, found {kernel!r}")
        if kernel == "per-term" and num_kernels != 3:
            raise ValueError("kernel='per-term' needs num_kernels=3 (sigma_1, sigma_2, sigma_3)")
        if len(init_ratios) != num_kernels:
            raise ValueError(f"init_ratios needs {num_kernels} values, found {len(init_ratios)}")
        if max_ratio <= 1:
            raise ValueError(f"max_ratio must be > 1, found {max_ratio}")
        self.kernel, self.bounded, self.adversarial = kernel, bounded, adversarial
        self.max_ratio, self.min_scale = float(max_ratio), float(min_scale)
        self.median_max_samples = int(median_max_samples)
        self._log_bound = math.log(self.max_ratio)
        ratios = np.asarray(init_ratios, dtype=np.float64)
        if bounded:
            if np.any(np.abs(np.log(ratios)) >= self._log_bound):
                raise ValueError(f"init_ratios must lie strictly within (1/{max_ratio}, "
                                 f"{max_ratio}), found {init_ratios}")
            theta0 = np.arctanh(np.log(ratios) / self._log_bound)
        else:
            theta0 = np.log(ratios)
        self.theta = self.add_weight(name="bandwidth_theta", shape=[num_kernels],
                                     initializer=keras.initializers.Constant(theta0))
        self.built = True

    def bandwidths(self, scale=None):
        """The bandwidths :math:`\\sigma_j` for a data scale ``m`` (ignored if unbounded).

        Output
        ------
        : [J], tf.float
        """
        theta = tf.convert_to_tensor(self.theta)
        if self.adversarial:
            theta = _reverse_gradient(theta)
        if not self.bounded:
            return tf.exp(theta)
        m = tf.maximum(tf.cast(scale, theta.dtype), self.min_scale)
        return m * tf.exp(self._log_bound * tf.tanh(theta))

    def call(self, x, y):
        scale = None
        if self.bounded:
            n = self.median_max_samples
            scale = median_pairwise_distance(tf.concat([x[:n], y[:n]], 0))
        return mmd2(x, y, self.bandwidths(scale), self.kernel)


__all__ = ["KERNELS", "pairwise_sq_dists", "median_pairwise_distance", "gaussian_kernel",
           "mmd2", "KernelMMD"]
