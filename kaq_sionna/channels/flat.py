"""Flat-fading MIMO channels and the project's SNR convention.

Both the links and the trainers draw channels from here, so that a detector is
trained and evaluated on exactly the same model. The SNR convention is written
once in ``docs/conventions.md``:

* constellations have unit average energy (``E_s = 1`` per stream);
* channel entries are ``CN(0, 1/num_rx)`` (the KAQ paper's ``N(0, 1/N_r)`` per
  real dimension of the real-valued equivalent, up to the factor 1/2 that the
  complex model carries in each of the real and imaginary parts);
* ``Es/N0 = 1 / N0``: energy per transmitted symbol and stream over the noise
  power spectral density of each receive antenna;
* ``Eb/N0 = Es/N0 / (r * num_bits_per_symbol)`` for code rate ``r``, computed
  with :func:`sionna.phy.utils.ebnodb2no`.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import tensorflow as tf
from sionna.phy.channel import GenerateFlatFadingChannel, KroneckerModel, exp_corr_mat
from sionna.phy.utils import complex_normal, ebnodb2no

SNR_TYPES = ("ebno", "esno")


def snr_db_to_no(snr_db, snr_type, num_bits_per_symbol, coderate, precision=None):
    r"""Noise variance ``N0`` for an SNR in dB under the project's convention.

    Parameters
    ----------
    snr_db : float or tf.Tensor
        SNR in dB, any shape.
    snr_type : "ebno" | "esno"
        Whether ``snr_db`` is Eb/N0 (per information bit) or Es/N0 (per symbol).
    num_bits_per_symbol : int
        Bits per constellation symbol.
    coderate : float
        Code rate ``k/n`` (1 for uncoded transmission).

    Output
    ------
    no : tf.float, same shape as ``snr_db``
        Noise variance per complex receive sample.
    """
    if snr_type == "ebno":
        return ebnodb2no(snr_db, num_bits_per_symbol, coderate, precision=precision)
    if snr_type == "esno":
        return ebnodb2no(snr_db, 1, 1.0, precision=precision)
    raise ValueError(f"snr_type must be one of {SNR_TYPES}, found {snr_type!r}")


class FlatFadingMIMOChannel:
    r"""Draws flat-fading MIMO channel matrices with entries of variance ``1/num_rx``.

    ``channel="rayleigh"`` gives i.i.d. ``CN(0, 1/num_rx)`` entries;
    ``channel="kronecker"`` gives ``R_rx^{1/2} G R_tx^{1/2} / sqrt(num_rx)`` with
    exponential correlation matrices ``R[i, j] = rho^{|i-j|}``
    (:func:`sionna.phy.channel.exp_corr_mat`).

    Parameters
    ----------
    num_tx : int
        Number of transmitted streams (columns of ``h``).
    num_rx : int
        Number of receive antennas (rows of ``h``).
    channel : "rayleigh" | "kronecker"
    tx_corr, rx_corr : float in [0, 1)
        Exponential correlation coefficients (Kronecker model only).

    Input
    -----
    shape : list of int
        Batch shape ``[...]``.

    Output
    ------
    h : [..., num_rx, num_tx], tf.complex
    """

    def __init__(self, num_tx, num_rx, channel="rayleigh", tx_corr=0.0, rx_corr=0.0,
                 precision=None):
        self.num_tx, self.num_rx = num_tx, num_rx
        spatial_corr = None
        if channel == "kronecker":
            spatial_corr = KroneckerModel(
                exp_corr_mat(tx_corr, num_tx, precision=precision),
                exp_corr_mat(rx_corr, num_rx, precision=precision),
            )
        elif channel != "rayleigh":
            raise ValueError(f"channel must be 'rayleigh' or 'kronecker', found {channel!r}")
        self._gen = GenerateFlatFadingChannel(num_tx, num_rx, spatial_corr=spatial_corr,
                                              precision=precision)
        self._scale = tf.cast(tf.sqrt(1.0 / num_rx), self._gen.cdtype)

    def __call__(self, shape):
        num = 1
        for d in shape:
            num *= d
        h = self._gen(num) * self._scale
        return tf.reshape(h, tf.concat([shape, [self.num_rx, self.num_tx]], 0))


def add_csi_error(h, csi_error_var):
    r"""Channel estimate ``h_hat = h + e`` with ``e ~ CN(0, csi_error_var)`` i.i.d."""
    if csi_error_var == 0:
        return h
    precision = "double" if h.dtype == tf.complex128 else "single"
    return h + complex_normal(tf.shape(h), var=csi_error_var, precision=precision)


def ls_csi_error_var(no, num_pilots):
    r"""Error variance of pilot-based least-squares channel estimation.

    Pilot model (``docs/conventions.md``, *CSI error*): every stream sends
    ``num_pilots >= num_tx`` pilot symbols of unit energy, mutually orthogonal across
    streams (``X_p X_p^H = num_pilots I``), through the same channel and noise as the data:
    ``Y_p = H X_p + N_p``. The LS estimate ``H_hat = Y_p X_p^H (X_p X_p^H)^{-1} = H + N_p
    X_p^H / num_pilots`` has i.i.d. error entries ``CN(0, N0 / num_pilots)``.

    Input
    -----
    no : float or tf.float
        Noise variance ``N0`` (any shape).
    num_pilots : int
        Pilot symbols per stream (``> 0``).

    Output
    ------
    : same type and shape as ``no``, ``N0 / num_pilots``
    """
    if num_pilots <= 0:
        raise ValueError(f"num_pilots must be > 0, found {num_pilots}")
    return no / num_pilots


def add_ls_csi_error(h, no, num_pilots, csi_error_var=0.0):
    r"""LS channel estimate ``h_hat = h + e`` of the pilot model of :func:`ls_csi_error_var`.

    ``e ~ CN(0, N0 / num_pilots + csi_error_var)`` i.i.d.; ``no`` is a scalar or has the
    batch shape of ``h`` without its last two dimensions (one noise variance per matrix).
    """
    precision = "double" if h.dtype == tf.complex128 else "single"
    rdtype = tf.float64 if precision == "double" else tf.float32
    var = ls_csi_error_var(tf.cast(no, rdtype), num_pilots) + tf.cast(csi_error_var, rdtype)
    var = tf.broadcast_to(tf.reshape(var, tf.concat([tf.shape(var), [1, 1]], 0)), tf.shape(h))
    e = complex_normal(tf.shape(h), precision=precision)
    return h + e * tf.cast(tf.sqrt(var), h.dtype)


__all__ = ["SNR_TYPES", "snr_db_to_no", "FlatFadingMIMOChannel", "add_csi_error",
           "add_ls_csi_error", "ls_csi_error_var"]
