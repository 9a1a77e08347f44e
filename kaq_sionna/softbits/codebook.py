r"""Factorised scalar codebooks for the EQ-Net latent features (EQ-Net paper, Sect. 2.6.3).

EQ-Net quantizes its latent feature vector :math:`\mathbf z` (one vector of
``latent_dim`` features per MIMO channel use) with one *scalar* quantizer per
feature: each feature :math:`f` has its own codebook of :math:`2^{N_b}`
levels learned by k-means++ (Arthur & Vassilvitskii) on the features of the
training soft bits, after both training stages (Sect. 2.6.3 and 3.4: 64
levels, i.e. :math:`N_b = 6` bits per feature).

* :meth:`FeatureCodebook.fit` runs :func:`scipy.cluster.vq.kmeans2` with
  ``minit="++"`` and a seed, once per feature, eagerly (numpy/scipy).
* Levels are stored **sorted** per feature, so that code ``i`` is the
  ``i``-th smallest level and nearest-level encoding is a count of the
  decision thresholds (midpoints between neighbouring levels) a value
  exceeds: :meth:`FeatureCodebook.encode` and :meth:`FeatureCodebook.decode`
  are pure TensorFlow (``tf.function``/XLA friendly).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import warnings

import numpy as np
import tensorflow as tf

__all__ = ["FeatureCodebook"]


class FeatureCodebook:
    r"""One sorted scalar codebook of :math:`2^{N_b}` levels per latent feature.

    Parameters
    ----------
    levels : array_like, [num_features, 2**num_bits], float
        Reconstruction levels of each feature; sorted here (ascending).

    Input
    -----
    ``encode``: z : [..., num_features], tf.float
        Latent features.
    ``decode``: codes : [..., num_features], tf.uint8 | tf.int
        Code of each feature, in ``[0, 2**num_bits)``.

    Output
    ------
    ``encode``: [..., num_features], tf.uint8 (``num_bits <= 8``) | tf.int32
        Index of the nearest level (ties go to the lower level).
    ``decode``: [..., num_features], tf.float32
        The levels the codes point to.
    """

    def __init__(self, levels):
        levels = np.sort(np.asarray(levels, np.float32), axis=-1)
        if levels.ndim != 2 or levels.shape[1] < 2:
            raise ValueError("levels must have shape [num_features, num_levels >= 2], found "
                             f"{levels.shape}")
        num_levels = levels.shape[1]
        num_bits = int(round(np.log2(num_levels)))
        if 2 ** num_bits != num_levels:
            raise ValueError(f"the number of levels must be a power of two, found {num_levels}")
        if not np.all(np.isfinite(levels)):
            raise ValueError("levels must be finite")
        self._levels = levels
        self._num_bits = num_bits
        # Decision thresholds between neighbouring (sorted) levels: the nearest level of
        # z is the number of thresholds z exceeds (strictly, so a tie goes to the lower level).
        self._levels_tf = tf.constant(levels)
        self._thresholds_tf = tf.constant(0.5 * (levels[:, 1:] + levels[:, :-1]))

    @property
    def levels(self):
        """`np.ndarray`, [num_features, 2**num_bits], float32 : Sorted levels"""
        return self._levels.copy()

    @property
    def num_features(self):
        """`int` : Number of latent features (one codebook each)"""
        return self._levels.shape[0]

    @property
    def num_bits(self):
        r"""`int` : Bits per feature :math:`N_b`"""
        return self._num_bits

    @property
    def num_levels(self):
        """`int` : Levels per feature, ``2**num_bits``"""
        return self._levels.shape[1]

    @property
    def code_dtype(self):
        """`tf.DType` : ``uint8`` up to 8 bits per feature, else ``int32``"""
        return tf.uint8 if self._num_bits <= 8 else tf.int32

    @classmethod
    def fit(cls, features, num_bits=6, seed=0, max_samples=200_000, iters=30):
        r"""Learns one k-means++ codebook per feature (Sect. 2.6.3).

        Runs :func:`scipy.cluster.vq.kmeans2` (``minit="++"``) on each column
        of ``features``, eagerly. Empty clusters keep their k-means++ seed
        point (scipy's ``missing="warn"``, warnings silenced); with fewer
        distinct values than levels some levels coincide, which is harmless
        (those codes are never produced).

        Parameters
        ----------
        features : array_like, [num_samples, num_features], float
            Latent features of training soft bits (the frozen ``f_Q`` output).
        num_bits : int
            Bits per feature :math:`N_b` (``2**num_bits`` levels), 1..8.
        seed : int
            Seed of the subset and of k-means++ (one derived seed per feature).
        max_samples : int
            A random subset of at most this many rows is used.
        iters : int
            Lloyd iterations after the k-means++ initialisation.

        Output
        ------
        : :class:`FeatureCodebook`
        """
        from scipy.cluster.vq import kmeans2

        if isinstance(num_bits, bool) or not isinstance(num_bits, (int, np.integer)) \
                or not 1 <= num_bits <= 8:
            raise ValueError(f"num_bits must be an integer in 1..8, found {num_bits!r}")
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"features must have shape [num_samples, num_features], found "
                             f"{x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("features must be finite")
        rng = np.random.default_rng(seed)
        if x.shape[0] > max_samples:
            x = x[rng.choice(x.shape[0], max_samples, replace=False)]
        k = 2 ** num_bits
        if x.shape[0] < k:
            # k-means needs at least k points: repeat them (levels then coincide)
            x = np.tile(x, (int(np.ceil(k / x.shape[0])), 1))
        levels = np.empty([x.shape[1], k], np.float64)
        for f in range(x.shape[1]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "One of the clusters is empty"
                centroids, _ = kmeans2(x[:, f], k, iter=iters, minit="++",
                                       rng=np.random.default_rng([seed, f]))
            levels[f] = np.asarray(centroids).reshape(-1)
        return cls(levels)

    def encode(self, z):
        z = tf.cast(tf.convert_to_tensor(z), tf.float32)
        above = tf.cast(z[..., None] > self._thresholds_tf, tf.int32)
        return tf.cast(tf.reduce_sum(above, axis=-1), self.code_dtype)

    def decode(self, codes):
        codes = tf.cast(tf.convert_to_tensor(codes), tf.int32)
        # levels[f, codes[..., f]] for every feature f
        flat = tf.reshape(self._levels_tf, [-1])
        offsets = tf.range(self.num_features, dtype=tf.int32) * self.num_levels
        return tf.gather(flat, codes + offsets)

    def __repr__(self):
        return f"FeatureCodebook(num_features={self.num_features}, num_bits={self.num_bits})"
