r"""QR-based successive interference cancellation (SIC) detectors with soft-bit output:
MMSE-SIC and ZF-SIC as in the EQ-Net paper, Section 2.1.2 (eqs. (8)-(12)).

Registered as ``"mmse-sic"`` and ``"zf-sic"`` in :mod:`kaq_sionna.registry.sic`.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config
from sionna.phy.mapping import Demapper

ORDERS = ("fixed", "random")


class SICDetector(Block):
    r"""Common base of :class:`MMSESICDetector` and :class:`ZFSICDetector`.

    Model: :math:`\mathbf{y} = \mathbf{H}\mathbf{x} + \mathbf{n}` with
    :math:`\mathbf{H}\in\mathbb{C}^{N_r\times N_t}`, :math:`N_r \ge N_t`, QAM symbols of
    unit average energy and :math:`\mathbf{n}\sim\mathcal{CN}(\mathbf{0}, N_0\mathbf{I})`.
    The QR decomposition :math:`\underline{\mathbf{H}} = \mathbf{Q}\mathbf{R}` of the
    (augmented, eq. (8)) channel gives :math:`\tilde{\mathbf{y}} = \mathbf{Q}_1^{\mathsf{H}}
    \mathbf{y}` (eqs. (9)-(10), :math:`\mathbf{Q}_1` = first :math:`N_r` rows of
    :math:`\mathbf{Q}`). Streams are detected from :math:`i=N_t` up to :math:`i=1`
    (eqs. (11)-(12)):

    .. math::
        \hat{y}_i = \tilde{y}_i - \sum_{j=i+1}^{N_t} r_{i,j}\,\check{x}_j,

    where :math:`\check{x}_j` is the hard decision (nearest constellation point) on the
    already detected stream :math:`j`. Each :math:`\hat{y}_i` is turned into a scalar
    equivalent channel :math:`\hat{x}_i = x_i + w_i`, :math:`w_i` of variance
    :math:`N_{0,i}` (subclass-specific, see there), and its soft bits come from Sionna's
    :class:`~sionna.phy.mapping.Demapper` (eq. (5), marginalising over the bits of
    stream :math:`i` only). :math:`N_{0,i}` assumes the previous decisions are correct,
    as the paper does.

    The noise covariance ``s`` is assumed white, :math:`\mathbf{S} = N_0\mathbf{I}`; the
    detector uses :math:`N_0 = \mathrm{Re}\{\mathrm{tr}(\mathbf{S})\}/N_r` per channel use
    (a non-white ``s`` is thereby replaced by white noise of the same total power; whiten
    beforehand, e.g. with :func:`sionna.phy.mimo.whiten_channel`, if that matters).

    Parameters
    ----------
    num_bits_per_symbol : int
        QAM order in bits (even), e.g. 4 for 16-QAM.
    demapping_method : "app" | "maxlog"
        Demapping method of the per-stream :class:`~sionna.phy.mapping.Demapper`.
    order : "fixed" | "random"
        Detection order. ``"fixed"``: the last stream first, as in eq. (11).
        ``"random"``: an independent uniformly random permutation of the streams per
        channel use (the paper's "random order"), drawn from
        :attr:`sionna.phy.config.tf_rng`; the output is permuted back, so that
        ``llr[..., k, :]`` always belongs to input stream ``k``.
    hard_out : bool
        If `True`, hard-decided bits (0./1.) instead of LLRs.
    precision : None | "single" | "double"
        Precision of computations and outputs (Sionna's
        :attr:`~sionna.phy.config.Config.precision` if `None`).

    Input
    -----
    y : [..., num_rx], tf.complex
        Received signals.
    h : [..., num_rx, num_tx], tf.complex
        Channel matrices (``num_tx`` must be known statically, ``num_rx >= num_tx``).
    s : [..., num_rx, num_rx], tf.complex
        Noise covariance matrices, assumed :math:`N_0\mathbf{I}`.

    Output
    ------
    : [..., num_tx, num_bits_per_symbol], tf.float
        LLRs :math:`\ln P(b=1)/P(b=0)` (Sionna's convention), or hard bits.
    """

    # True for MMSE-SIC (augmented channel of eq. (8)), False for ZF-SIC.
    _mmse = None

    def __init__(self, num_bits_per_symbol, demapping_method="app", order="fixed",
                 hard_out=False, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if demapping_method not in ("app", "maxlog"):
            raise ValueError(f"demapping_method must be 'app' or 'maxlog', "
                             f"found {demapping_method!r}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, found {order!r}")
        self.num_bits_per_symbol = int(num_bits_per_symbol)
        self.demapping_method = demapping_method
        self.order = order
        self._demapper = Demapper(demapping_method, "qam", self.num_bits_per_symbol,
                                  hard_out=hard_out, precision=precision)
        self._points = self._demapper.constellation.points
        # Guards of the divisions by |r_ii|^2 (ZF) and |r_ii|^2 - N0 (MMSE), which vanish
        # only for rank-deficient channels: keeps the LLRs finite there.
        finfo = np.finfo(self.rdtype.as_numpy_dtype)
        self._tiny = tf.constant(finfo.tiny, self.rdtype)
        self._eps = tf.constant(finfo.eps, self.rdtype)

    @property
    def constellation(self):
        """:class:`~sionna.phy.mapping.Constellation` used for decisions and demapping."""
        return self._demapper.constellation

    def _equivalent_channel(self, y_hat, r_ii, no):
        """Maps ``y_hat_i`` [B] to ``(x_hat_i, no_eff_i)`` [B] (subclass-specific)."""
        raise NotImplementedError

    def _hard_decision(self, x_hat):
        # Nearest constellation point ([B] -> [B]); what is cancelled in eq. (12).
        dist = tf.abs(tf.expand_dims(x_hat, -1) - self._points)
        return tf.gather(self._points, tf.argmin(dist, axis=-1, output_type=tf.int32))

    def call(self, y, h, s):
        num_rx = y.shape[-1]
        num_tx = h.shape[-1]
        if num_tx is None or num_rx is None:
            raise ValueError("num_rx and num_tx must be known statically")
        batch_shape = tf.shape(y)[:-1]
        # Vectorise over one flattened batch dimension B.
        y = tf.reshape(y, [-1, num_rx])
        h = tf.reshape(h, [-1, num_rx, num_tx])
        s = tf.reshape(s, [-1, num_rx, num_rx])
        no = tf.math.real(tf.linalg.trace(s)) / tf.cast(num_rx, self.rdtype)  # [B]

        if self.order == "random":
            # perm[b, k]: input stream detected at position k (columns of H permuted).
            rnd = config.tf_rng.uniform(tf.stack([tf.shape(h)[0], num_tx]), dtype=self.rdtype)
            perm = tf.argsort(rnd, axis=-1)
            h = tf.gather(h, perm, axis=2, batch_dims=1)

        if self._mmse:
            # Eq. (8): [H; sigma_n I] (unit symbol energy), so that R^H R = H^H H + N0 I.
            sigma = tf.complex(tf.sqrt(no), tf.zeros_like(no))
            eye = tf.eye(num_tx, dtype=self.cdtype)
            h_qr = tf.concat([h, sigma[:, None, None] * eye], axis=1)
        else:
            h_qr = h
        q, r = tf.linalg.qr(h_qr)  # q [B, N_r(+N_t), N_t], r [B, N_t, N_t]
        # Eqs. (9)-(10): only the first N_r rows of Q act on y.
        y_t = tf.linalg.matvec(q[:, :num_rx, :], y, adjoint_a=True)  # [B, N_t]

        x_hat = [None] * num_tx
        no_eff = [None] * num_tx
        x_dec = []  # hard decisions of streams i+1, ..., N_t (in that order)
        for i in range(num_tx - 1, -1, -1):
            y_hat = y_t[:, i]
            if x_dec:  # eq. (12): cancel the already detected streams
                y_hat -= tf.reduce_sum(r[:, i, i + 1:] * tf.stack(x_dec, axis=-1), axis=-1)
            x_hat[i], no_eff[i] = self._equivalent_channel(y_hat, r[:, i, i], no)
            x_dec.insert(0, self._hard_decision(x_hat[i]))

        llr = self._demapper(tf.stack(x_hat, axis=-1), tf.stack(no_eff, axis=-1))
        llr = tf.reshape(llr, [-1, num_tx, self.num_bits_per_symbol])
        if self.order == "random":
            llr = tf.gather(llr, tf.argsort(perm, axis=-1), axis=1, batch_dims=1)
        return tf.reshape(llr, tf.concat([batch_shape, [num_tx, self.num_bits_per_symbol]], 0))


class MMSESICDetector(SICDetector):
    r"""MMSE-SIC detector with soft-bit output (EQ-Net paper, Section 2.1.2).

    QR decomposition of the augmented channel (eq. (8))
    :math:`\underline{\mathbf{H}} = [\mathbf{H}; \sigma_n\mathbf{I}_{N_t}] = \mathbf{Q}\mathbf{R}`,
    :math:`\sigma_n^2 = N_0` (the MMSE extension of the QR decomposition the paper cites
    as [39]: the extra rows carry :math:`\sigma_n`, so that
    :math:`\mathbf{R}^{\mathsf{H}}\mathbf{R} = \mathbf{H}^{\mathsf{H}}\mathbf{H} + N_0\mathbf{I}`
    for unit-energy symbols), :math:`\mathbf{Q} = [\mathbf{Q}_1; \mathbf{Q}_2]`. Since
    :math:`\mathbf{Q}_1^{\mathsf{H}}\mathbf{H} = \mathbf{R} - \sigma_n\mathbf{Q}_2^{\mathsf{H}}`
    and :math:`\mathbf{Q}_2 = \sigma_n\mathbf{R}^{-1}`, the noise of eq. (10) is exactly

    .. math::
        \tilde{\mathbf{n}} = \mathbf{Q}_1^{\mathsf{H}}\mathbf{n}
            - \sigma_n\mathbf{Q}_2^{\mathsf{H}}\mathbf{x},

    whose :math:`i`-th entry holds a bias term :math:`-\frac{N_0}{r_{i,i}^*}x_i` and
    residual interference from the not yet detected streams :math:`j<i`. After the
    cancellation of eq. (12) (correct decisions assumed), the bias is removed and the rest
    is treated as Gaussian noise (the paper's :math:`\hat{n}_i`):

    .. math::
        \hat{y}_i = g_i x_i + w_i, \quad
        g_i = \frac{|r_{i,i}|^2 - N_0}{r_{i,i}^*}, \quad
        \mathrm{Var}(w_i) = N_0\Big(1 - \frac{N_0}{|r_{i,i}|^2}\Big),

    so the demapper gets

    .. math::
        \hat{x}_i = \frac{\hat{y}_i}{g_i}, \qquad N_{0,i} = \frac{N_0}{|r_{i,i}|^2 - N_0}.

    This is the unbiased per-stream MMSE SINR :math:`|r_{i,i}|^2/N_0 - 1`; for the first
    detected stream it equals that of the LMMSE equalizer
    (:func:`sionna.phy.mimo.lmmse_equalizer`). The same unbiased :math:`\hat{x}_i` is used
    for the hard decision that is cancelled.

    See :class:`SICDetector` for parameters, inputs and outputs.
    """

    _mmse = True

    def _equivalent_channel(self, y_hat, r_ii, no):
        r2 = tf.square(tf.abs(r_ii))
        # |r_ii|^2 - N0 >= 0 is a Schur complement of H^H H (R^H R = H^H H + N0 I); it is
        # 0 when stream i is unobservable, and rounding can make it negative.
        den = tf.maximum(r2 - no, self._eps * r2 + self._tiny)
        x_hat = y_hat * tf.math.conj(r_ii) / tf.complex(den, tf.zeros_like(den))
        return x_hat, no / den


class ZFSICDetector(SICDetector):
    r"""ZF-SIC detector with soft-bit output (EQ-Net paper, Section 2.1.2, last paragraph).

    QR decomposition of the channel itself, :math:`\mathbf{H} = \mathbf{Q}\mathbf{R}` (no
    augmentation in eq. (8)), so :math:`\tilde{\mathbf{n}} = \mathbf{Q}^{\mathsf{H}}\mathbf{n}`
    in eq. (10) is white with variance :math:`N_0` (orthonormal columns of
    :math:`\mathbf{Q}`). After the cancellation of eq. (12):

    .. math::
        \hat{x}_i = \frac{\hat{y}_i}{r_{i,i}}, \qquad N_{0,i} = \frac{N_0}{|r_{i,i}|^2}.

    See :class:`SICDetector` for parameters, inputs and outputs.
    """

    _mmse = False

    def _equivalent_channel(self, y_hat, r_ii, no):
        r2 = tf.maximum(tf.square(tf.abs(r_ii)), self._tiny)
        x_hat = y_hat * tf.math.conj(r_ii) / tf.complex(r2, tf.zeros_like(r2))
        return x_hat, no / r2
