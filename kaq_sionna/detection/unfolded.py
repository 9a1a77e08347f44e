r"""Deep-unfolded MIMO detectors of the KAQ paper: PGD-Net (eqs. (6)-(8)) and
ADMM-Net (ADMM on eq. (5)), with optional activation quantization
(:mod:`kaq_sionna.quantization`).

Real-valued model and scaling
-----------------------------
The detectors work on the real-valued equivalent of eqs. (2)-(3),
:math:`\tilde{\mathbf y} = \tilde{\mathbf H}\tilde{\mathbf x} + \tilde{\mathbf n}`
with :math:`\tilde{\mathbf y} = [\Re\mathbf y; \Im\mathbf y]` and
:math:`\tilde{\mathbf H} = [\Re\mathbf H, -\Im\mathbf H; \Im\mathbf H, \Re\mathbf H]`
(Sionna's :func:`~sionna.phy.mimo.complex2real_channel` layout), and on the
paper's *integer* constellation grid: ``y`` and ``x`` are multiplied by
``c = 1 / d`` where ``d`` is the smallest real coordinate of Sionna's unit-energy
QAM, so that the real coordinates of the symbols are the odd integers
:math:`\{\pm 1, \pm 3, \dots\}` as in the paper's simulations (16-QAM:
:math:`\mathcal X = \{\pm 1, \pm 3\}`, ``c = sqrt(10)``). ``H`` is not scaled.
The initial values :math:`\eta_k = 0.1`, :math:`\lambda_k = 0.05` and the
activation ranges seen by the quantizer therefore have the paper's meaning.
Inputs and outputs follow Sionna's conventions (unit-energy symbols).

The iterations use ``y`` and ``h`` as given (the white-noise objective of
eq. (5)); the noise covariance ``s`` enters the LLR variance and, for the
``kaq`` quantizer, the per-sample SNR of eq. (15).

Soft output: a linearised Gaussian approximation
------------------------------------------------
The networks only output an estimate :math:`\hat{\mathbf x} = \mathbf x^{(K)}`.
To demap it, the network is linearised per sample at its operating point:
every proximal step is replaced by its first-order expansion
:math:`\mathrm{prox}(\mathbf r) \approx \mathbf D_k\mathbf r + \mathbf o_k`
(:math:`\mathbf D_k` = 0/1 slope of the soft threshold at the forward pass's
:math:`\mathbf r^{(k)}`, :math:`\mathbf o_k = \mathrm{prox}(\mathbf r^{(k)}) -
\mathbf D_k \mathbf r^{(k)}` = the threshold offsets) and every quantizer by
the identity (its straight-through derivative). The layers are then affine in
:math:`\tilde{\mathbf y}`: :math:`\hat{\mathbf x} \approx \mathbf W\tilde{\mathbf y}
+ \mathbf o` (``W`` and ``o`` come from running the same layers on
:math:`[\mathbf H^{\mathsf T}, \mathbf 0]`; without quantizer the identity is
exact, see :meth:`UnfoldedDetector.linearization`). With
:math:`\mathbf B = \mathbf W\tilde{\mathbf H}`, :math:`E_r` the energy per real
symbol coordinate and :math:`\tilde{\mathbf S}` the real-valued noise
covariance, each real component is modelled as
:math:`\hat x_n - o_n = \mu_n x_n + e_n`, Gaussian :math:`e_n`, with

.. math::
    \mu_n = B_{nn}, \qquad
    \sigma_n^2 = \frac{E_r \sum_{j\neq n} B_{nj}^2
    + [\mathbf W \tilde{\mathbf S}\mathbf W^{\mathsf T}]_{nn}}{\mu_n^2}

the residual-interference-plus-noise variance of the bias-corrected estimate
:math:`(\hat x_n - o_n)/\mu_n` (for an LMMSE ``W`` this is Sionna's LMMSE
post-detection variance). Quantization error enters through :math:`\hat x_n`
but is not counted in :math:`\sigma_n^2`. A component with
:math:`\mu_n < 10^{-2}` (e.g. zeroed by the last threshold) is treated as
carrying no information (LLRs ~ 0). The complex symbol of stream ``k`` gets
the bias-corrected estimate and the noise variance
:math:`\sigma^2_{\Re} + \sigma^2_{\Im}` (rescaled to unit energy) and goes
through Sionna's :class:`~sionna.phy.mapping.Demapper` (LLRs) or
:class:`~sionna.phy.mapping.SymbolDemapper` (logits / hard indices; hard
decisions are thus taken on the bias-corrected estimate, the paper's raw
estimate is :attr:`UnfoldedEstimate.x_hat`).

Consequence: in full precision the soft output is that of the masked linear
estimator :math:`\mathbf W\tilde{\mathbf y}`, so the thresholds
:math:`\lambda_k` act on the LLRs only through the active sets (a loss on the
LLRs gives them no gradient; the MSE of eq. (16) does). Calibration measured
in ``tests/test_unfolded.py``: briefly trained PGD-Net, 4x4 16-QAM, 15 dB:
worst LLR bin off by ~0.016 in probability; the untrained paper
initialisation: ~0.08.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import math
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from sionna.phy.config import config, dtypes
from sionna.phy.mapping import Constellation, Demapper, SymbolDemapper
from sionna.phy.mimo import complex2real_covariance, complex2real_matrix, complex2real_vector

from kaq_sionna.quantization.adaptive import per_sample_snr
from kaq_sionna.quantization.modes import make_quantizer

OUTPUTS = ("bit", "symbol")
PROXES = ("soft", "box")
#: Starting point x^(0): the paper's zero vector, or the LMMSE estimate (a linear warm start).
X_INITS = ("zero", "lmmse")
DEMAPPING_METHODS = ("app", "maxlog")
# Gaussian approximation: below this gain mu_n a component is treated as carrying no
# information about its symbol (estimate 0, variance NO_INFO_VAR on the integer grid).
MIN_GAIN = 1e-2
NO_INFO_VAR = 1e6


class UnfoldedEstimate(NamedTuple):
    r"""What one forward pass of an unfolded detector produces.

    x_hat : [..., num_tx] tf.complex
        Final estimate :math:`\mathbf x^{(K)}` in Sionna's unit-energy scale
        (not bias-corrected; the paper's output).
    x_real : [..., 2 num_tx] tf.float
        The same in the real-valued model on the integer grid (eq. (3)).
    layers : list of [..., 2 num_tx] tf.float
        :math:`\mathbf x^{(k)}`, ``k = 1..K`` (after quantization), integer grid.
    mmd : None or [num_sites] tf.float
        Per-site :math:`\mathcal L^{(k)}_{\mathrm{MMD}}` (``kaq`` quantizer in training mode).
    x_unbiased : None or [..., num_tx] tf.complex
        Bias-corrected estimate :math:`\hat x/\mu` (unit-energy scale).
    no_eff : None or [..., num_tx] tf.float
        Its error variance (see the module docstring).
    """

    x_hat: tf.Tensor
    x_real: tf.Tensor
    layers: list
    mmd: tf.Tensor = None
    x_unbiased: tf.Tensor = None
    no_eff: tf.Tensor = None


def soft_threshold(r, lam):
    r"""Soft-thresholding proximal operator of eq. (8), :math:`\mathrm{sign}(r)\max(|r|-\lambda, 0)`."""
    return tf.sign(r) * tf.nn.relu(tf.abs(r) - lam)


class _ForwardOps:
    """Quantization and proximal steps of the forward pass; records the prox slopes
    and offsets for the affine linearisation and the per-site MMD losses."""

    def __init__(self, det, snr, training):
        self.det, self.snr, self.training = det, snr, training
        self.mmds, self.slopes = [], {}

    def quant(self, kind, k, t):
        q = self.det.quantizer
        site = None if q is None else q.site_index(kind, k)
        if site is None:
            return t
        t_q, mmd = q.quantize_site(t, site, self.snr, training=self.training)
        if mmd is not None:
            self.mmds.append(mmd)
        return t_q

    def prox(self, k, r, threshold):
        x, slope = self.det._proximal(r, threshold)
        self.slopes[k] = (slope, x - slope * r)
        return x


class _AffineOps:
    """First-order expansion of the forward pass: prox -> D r + o (o in the last
    column), quantizers -> identity (straight-through)."""

    def __init__(self, slopes, num_cols):
        self.slopes = slopes
        self.last = tf.one_hot(num_cols - 1, num_cols)

    def quant(self, kind, k, t):
        return t

    def prox(self, k, r, threshold):
        slope, offset = self.slopes[k]
        return slope * r + offset * tf.cast(self.last, r.dtype)


class UnfoldedDetector(keras.layers.Layer):
    r"""Base of the deep-unfolded detectors: real-valued model (eqs. (2)-(3)),
    quantization sites, Gaussian-approximation LLRs and hard decisions.

    Subclasses define the learnable parameters and one layer of the iteration
    (:meth:`_init_state`, :meth:`_prepare`, :meth:`_layer`, :meth:`_estimate_of`).

    Parameters
    ----------
    num_layers : int
        Number of unfolded iterations ``K``.
    num_bits_per_symbol : int
        QAM order in bits (even: 2, 4, 6, 8).
    output : "bit" | "symbol"
        LLRs (or hard bits) per stream and bit, or logits (or hard indices) per stream.
    hard_out : bool
        Hard decisions instead of soft values.
    demapping_method : "app" | "maxlog"
        Demapping of the Gaussian approximation (``output="bit"``).
    quantizer : None, str or :class:`~kaq_sionna.quantization.Quantizer`
        Activation quantizer (a mode name builds ``Quantizer(mode)``); `None` = fp32.
    prox : "soft" | "box"
        ``"soft"`` (default): the soft threshold of eq. (8), faithful to the
        paper. ``"box"``: the soft threshold followed by a clip to the
        constellation's box :math:`[-a_{\max}, a_{\max}]` on the integer grid
        (:math:`a_{\max} = 2^{b/2}-1`), i.e. the prox of
        :math:`\lambda\|x\|_1 + \iota_{\mathrm{box}}(x)` -- a QAM-aware
        variant beyond the paper.
    x_init : "zero" | "lmmse"
        Starting point :math:`\mathbf x^{(0)}` (and ADMM-Net's :math:`\mathbf z^{(0)}`).
        ``"zero"`` (default): the paper's :math:`\mathbf 0`. ``"lmmse"``: the
        linear MMSE estimate on the integer grid, a warm start beyond the paper,

        .. math::
            \mathbf x^{(0)} = \left(\mathbf H^{\mathsf T}\mathbf H
            + \frac{\sigma^2}{E_r}\mathbf I\right)^{-1}\mathbf H^{\mathsf T}\mathbf y,
            \qquad \sigma^2 = \frac{\mathrm{tr}(\tilde{\mathbf S})}{2N_r},

        with :math:`E_r` the energy per real coordinate and :math:`\sigma^2`
        the mean noise variance per real dimension (exact LMMSE for white
        noise ``s = N0 I``; for coloured noise the white-noise filter of the
        same mean power). It is linear in :math:`\mathbf H^{\mathsf T}\mathbf y`,
        so the linearised Gaussian approximation stays exact in fp32; with
        all steps :math:`\eta_k = 0` and thresholds :math:`\lambda_k = 0` PGD-Net
        returns it unchanged, and its LLRs are those of Sionna's LMMSE detector.
    precision : None | "single" | "double"

    Input
    -----
    y : [..., num_rx], tf.complex
        Received signals.
    h : [..., num_rx, num_tx], tf.complex
        Channel matrices.
    s : [..., num_rx, num_rx], tf.complex
        Noise covariance matrices.
    training : bool
        Training mode: the ``kaq`` quantizer computes its MMD losses and the
        detector adds ``epsilon * sum_k MMD_k`` to :attr:`losses`.

    Output
    ------
    One of:

    : [..., num_tx, num_bits_per_symbol], tf.float
        LLRs ln(p(1)/p(0)) (or hard bits), ``output="bit"``.
    : [..., num_tx, 2**num_bits_per_symbol], tf.float
        Symbol logits, ``output="symbol"``.
    : [..., num_tx], tf.int32
        Hard symbol indices, ``output="symbol"`` and ``hard_out=True``.
    """

    def __init__(self, num_layers=5, num_bits_per_symbol=4, output="bit", hard_out=False,
                 demapping_method="app", quantizer=None, prox="soft", x_init="zero",
                 precision=None, **kwargs):
        self.precision = precision or config.precision
        super().__init__(dtype=dtypes[self.precision]["tf"]["rdtype"], autocast=False, **kwargs)
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an integer >= 1, found {num_layers!r}")
        if (isinstance(num_bits_per_symbol, bool) or not isinstance(num_bits_per_symbol, int)
                or num_bits_per_symbol < 2 or num_bits_per_symbol % 2):
            raise ValueError("num_bits_per_symbol must be an even integer >= 2 (square QAM), "
                             f"found {num_bits_per_symbol!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, found {output!r}")
        if prox not in PROXES:
            raise ValueError(f"prox must be one of {PROXES}, found {prox!r}")
        if x_init not in X_INITS:
            raise ValueError(f"x_init must be one of {X_INITS}, found {x_init!r}")
        self.x_init = x_init
        if demapping_method not in DEMAPPING_METHODS:
            raise ValueError(f"demapping_method must be one of {DEMAPPING_METHODS}, "
                             f"found {demapping_method!r}")
        self.num_layers, self.num_bits_per_symbol = num_layers, num_bits_per_symbol
        self._output, self.hard_out, self.prox = output, bool(hard_out), prox
        self.demapping_method = demapping_method
        self._rdtype = dtypes[self.precision]["tf"]["rdtype"]
        self._cdtype = dtypes[self.precision]["tf"]["cdtype"]

        self.constellation = Constellation("qam", num_bits_per_symbol, precision=self.precision)
        pts = self.constellation.points.numpy()
        self.grid_scale = float(1.0 / np.min(np.abs(pts.real)))  # c: unit energy -> odd integers
        self.grid_max = float(2 ** (num_bits_per_symbol // 2) - 1)  # a_max on the integer grid
        self.energy_per_dim = float(np.mean(np.abs(pts) ** 2) * self.grid_scale ** 2 / 2)
        if output == "bit":
            self._demapper = Demapper(demapping_method, constellation=self.constellation,
                                      hard_out=hard_out, precision=self.precision)
        else:
            self._demapper = SymbolDemapper(constellation=self.constellation, hard_out=hard_out,
                                            precision=self.precision)

        self.quantizer = make_quantizer(quantizer, self.precision)
        if self.quantizer is not None:
            if self.quantizer.precision != self.precision:
                raise ValueError(f"quantizer precision {self.quantizer.precision!r} differs from "
                                 f"the detector's {self.precision!r}")
            self.quantizer.attach(num_layers)
        self._create_weights()
        self.built = True

    # ------------------------------------------------------------ subclass API
    def _create_weights(self):
        raise NotImplementedError

    def _init_state(self, hty, x0):
        """Initial state for right-hand sides ``hty [..., N, C]`` and the starting estimate
        ``x0 [..., N, C]`` (:meth:`_start`)."""
        raise NotImplementedError

    def _warm_start_filter(self, a, s):
        """``(H^T H + sigma^2 / E_r I)^{-1}`` ``[..., N, N]`` of the LMMSE warm start, or `None`
        for ``x_init = "zero"`` (see the class docstring)."""
        if self.x_init == "zero":
            return None
        c2 = tf.cast(self.grid_scale ** 2, self._rdtype)
        num_rx = tf.cast(tf.shape(s)[-1], self._rdtype)
        sigma2 = tf.math.real(tf.linalg.trace(s)) * c2 / (2.0 * num_rx)  # per real dimension
        reg = sigma2 / tf.cast(self.energy_per_dim, self._rdtype)
        eye = tf.eye(a.shape[-1], dtype=a.dtype)
        return tf.linalg.inv(a + reg[..., None, None] * eye)

    @staticmethod
    def _start(hty, warm):
        """``x^(0)``: zero, or the warm-start filter applied to ``hty [..., N, C]``."""
        return tf.zeros_like(hty) if warm is None else tf.matmul(warm, hty)

    def _prepare(self, a):
        """Per-call quantities shared by all layers (e.g. factorisations) from ``a = H^T H``."""
        return None

    def _layer(self, k, state, hty, a, ctx, ops):
        """Layer ``k`` (1-based) applied to ``state`` (tensors ``[..., N, C]``).

        ``ops.quant(kind, k, t)`` quantizes a site and ``ops.prox(k, r, threshold)``
        applies the proximal step; both are replaced by their linearisations
        in the affine pass of the Gaussian approximation."""
        raise NotImplementedError

    def _estimate_of(self, state):
        """The signal estimate ``x^(k)`` ``[..., N, C]`` carried by a state."""
        return state[0]

    # --------------------------------------------------------------- helpers
    def _proximal(self, r, threshold):
        """Proximal step and its derivative (0/1) w.r.t. ``r``."""
        x = soft_threshold(r, threshold)  # eqs. (7)-(8)
        slope = tf.cast(tf.abs(r) > threshold, r.dtype)
        if self.prox == "box":
            slope = slope * tf.cast(tf.abs(x) < self.grid_max, r.dtype)
            x = tf.clip_by_value(x, -self.grid_max, self.grid_max)
        return x, slope

    def _real_model(self, y, h):
        c = tf.cast(self.grid_scale, self._rdtype)
        yr = complex2real_vector(y) * c  # eq. (2) on the integer grid
        hr = complex2real_matrix(h)
        return yr, hr

    def to_real(self, x):
        """Complex unit-energy symbols ``[..., num_tx]`` -> real integer-grid ``[..., 2 num_tx]``."""
        return complex2real_vector(tf.cast(x, self._cdtype)) * tf.cast(self.grid_scale,
                                                                       self._rdtype)

    def to_complex(self, x_real):
        """Inverse of :meth:`to_real`."""
        n = x_real.shape[-1] // 2
        c = tf.cast(self.grid_scale, self._rdtype)
        return tf.complex(x_real[..., :n] / c, x_real[..., n:] / c)

    # --------------------------------------------------------------- forward
    def estimate(self, y, h, s, training=False, linearize=False):
        r"""Runs the unfolded network.

        Input
        -----
        y : [..., num_rx], tf.complex
        h : [..., num_rx, num_tx], tf.complex
        s : [..., num_rx, num_rx], tf.complex
        training : bool
            Computes the ``kaq`` MMD losses.
        linearize : bool
            Also computes the Gaussian approximation (``x_unbiased``, ``no_eff``).

        Output
        ------
        : :class:`UnfoldedEstimate`
        """
        y, h, s = (tf.cast(v, self._cdtype) for v in (y, h, s))
        yr, hr = self._real_model(y, h)
        hty = tf.matmul(hr, yr[..., None], transpose_a=True)  # H^T y, [..., N, 1]
        a = tf.matmul(hr, hr, transpose_a=True)  # H^T H, [..., N, N]
        ctx = self._prepare(a)
        warm = self._warm_start_filter(a, s)

        snr = None
        if self.quantizer is not None and self.quantizer.needs_snr:
            snr = per_sample_snr(h, s)[..., None, None]  # eq. (15) input, per sample
        ops = _ForwardOps(self, snr, bool(training))
        state, layers = self._init_state(hty, self._start(hty, warm)), []
        for k in range(1, self.num_layers + 1):
            state = self._layer(k, state, hty, a, ctx, ops)
            layers.append(self._estimate_of(state)[..., 0])
        x_real = layers[-1]
        est = UnfoldedEstimate(self.to_complex(x_real), x_real, layers,
                               tf.stack(ops.mmds) if ops.mmds else None)
        if not linearize:
            return est
        x_unb, no_eff = self._gaussian_approximation(x_real, yr, hr, s, a, ctx, ops.slopes, warm)
        return est._replace(x_unbiased=x_unb, no_eff=no_eff)

    def linearization(self, y, h, s):
        r"""Affine linearisation of the network at its operating point.

        Output
        ------
        w : [..., 2 num_tx, 2 num_rx], tf.float
            :math:`\mathbf W`, the derivative of the output w.r.t. the
            (integer-grid) real-valued ``y``.
        o : [..., 2 num_tx], tf.float
            Offset: without quantizer the output is exactly
            :math:`\mathbf W\tilde{\mathbf y} + \mathbf o` (integer grid).
        """
        y, h, s = (tf.cast(v, self._cdtype) for v in (y, h, s))
        yr, hr = self._real_model(y, h)
        hty = tf.matmul(hr, yr[..., None], transpose_a=True)
        a = tf.matmul(hr, hr, transpose_a=True)
        ctx = self._prepare(a)
        warm = self._warm_start_filter(a, s)
        snr = None
        if self.quantizer is not None and self.quantizer.needs_snr:
            snr = per_sample_snr(h, s)[..., None, None]
        ops = _ForwardOps(self, snr, False)
        state = self._init_state(hty, self._start(hty, warm))
        for k in range(1, self.num_layers + 1):
            state = self._layer(k, state, hty, a, ctx, ops)
        return self._affine_pass(hr, a, ctx, ops.slopes, warm)

    def _affine_pass(self, hr, a, ctx, slopes, warm=None):
        # The layers with every prox replaced by its first-order expansion at the
        # forward pass's operating point (slope D, offset o) and quantizers by
        # the identity (STE), run on [H^T, 0]: columns 0..M-1 give W, the last
        # column the accumulated offset.
        ht = tf.linalg.matrix_transpose(hr)  # [..., N, M]
        rhs = tf.concat([ht, tf.zeros_like(ht[..., :1])], -1)  # [..., N, M + 1]
        ops = _AffineOps(slopes, rhs.shape[-1])
        state = self._init_state(rhs, self._start(rhs, warm))  # the warm start is linear in rhs
        for k in range(1, self.num_layers + 1):
            state = self._layer(k, state, rhs, a, ctx, ops)
        w_aff = self._estimate_of(state)
        return w_aff[..., :-1], w_aff[..., -1]

    def _gaussian_approximation(self, x_real, yr, hr, s, a, ctx, slopes, warm=None):
        w, o = self._affine_pass(hr, a, ctx, slopes, warm)
        b = tf.matmul(w, hr)  # [..., N, N]: x_hat - o = B x + W n (+ quantization error)
        mu = tf.linalg.diag_part(b)
        c2 = tf.cast(self.grid_scale ** 2, self._rdtype)
        sr = complex2real_covariance(s) * c2  # noise covariance on the integer grid
        noise = tf.reduce_sum(tf.matmul(w, sr) * w, axis=-1)  # diag(W S W^T)
        interference = self.energy_per_dim * (tf.reduce_sum(tf.square(b), -1) - tf.square(mu))
        # A component that the network has (nearly) disconnected from its own
        # symbol (e.g. zeroed by the last soft threshold) carries no information:
        # estimate 0 with a huge variance, i.e. LLRs ~ 0.
        informative = mu > MIN_GAIN
        mu = tf.where(informative, mu, tf.ones_like(mu))
        x_unb = tf.where(informative, (x_real - o) / mu, tf.zeros_like(mu))
        var = tf.where(informative, (tf.maximum(interference, 0.0) + noise) / tf.square(mu),
                       tf.cast(NO_INFO_VAR, self._rdtype) * tf.ones_like(mu))
        n = var.shape[-1] // 2
        no_eff = (var[..., :n] + var[..., n:]) / c2  # complex, unit-energy scale
        return self.to_complex(x_unb), no_eff

    def call(self, y, h, s, training=None):
        est = self.estimate(y, h, s, training=bool(training), linearize=True)
        if est.mmd is not None and self.quantizer.epsilon > 0:
            # eq. (16), distribution-matching term
            self.add_loss(tf.cast(self.quantizer.epsilon, self._rdtype)
                          * tf.reduce_sum(est.mmd))
        out = self._demapper(est.x_unbiased, est.no_eff)
        if self._output == "bit":
            shape = tf.concat([tf.shape(out)[:-1], [-1, self.num_bits_per_symbol]], 0)
            out = tf.reshape(out, shape)
        return out

    #: Meaning of each learned parameter (by weight name), shown by :meth:`describe`.
    PARAMETER_MEANINGS = {
        "eta": "gradient step eta_k of eq. (6), x <- x - eta_k (H^T H x - H^T y)",
        "lambda": "soft threshold lambda_k of eq. (8), prox(r) = sign(r) max(|r| - lambda, 0): "
                  "lambda > 0 shrinks towards 0, lambda < 0 expands away from it",
        "log_rho": "ADMM penalty as log: rho_k = exp(log_rho_k) (x-update, eq. (5))",
        "step": "static quantizer step Delta of each site (eq. (9))",
        "alpha": "SNR-adaptive step, eq. (15): Delta = alpha SNR^(-1/2) + gamma",
        "gamma": "SNR-adaptive step, eq. (15): the constant term gamma",
        "bandwidth_theta": "MMD-KDE kernel bandwidths of a site (eq. (13)) as stored: log "
                           "ratios theta (ratio exp(theta); tanh-bounded when the quantizer "
                           "bounds them)",
    }

    def describe(self, as_dict=False):
        """The learned parameters by name, with their values and meaning.

        Parameters
        ----------
        as_dict : bool
            Return a JSON-ready dict instead of text.

        Output
        ------
        str or dict
            The architecture (layers, constellation, proximal operator), every learned
            parameter of the detector per layer (:attr:`PARAMETER_MEANINGS`), and the quantizer:
            mode, bits, quantized sites, steps or adaptive-step coefficients, MMD bandwidths.
        """
        def values(v):
            return [round(float(x), 6) for x in np.ravel(v.numpy())]

        theirs = set() if self.quantizer is None else {id(w) for w in self.quantizer.weights}
        own = [w for w in self.weights if id(w) not in theirs]
        doc = {"type": type(self).__name__, "num_layers": self.num_layers,
               "num_bits_per_symbol": self.num_bits_per_symbol, "prox": self.prox,
               "x_init": self.x_init,
               "demapping_method": self.demapping_method,
               "parameters": {w.name: {"values": values(w),
                                       "meaning": self.PARAMETER_MEANINGS.get(w.name, "")}
                              for w in own},
               "quantizer": None}
        if "log_rho" in doc["parameters"]:
            doc["parameters"]["rho"] = {"values": values(self.rho),
                                        "meaning": "rho_k = exp(log_rho_k)"}
        q = self.quantizer
        if q is not None:
            sites = [f"{kind}{k}" for kind, k in (q.sites or [])]
            qdoc = {"mode": q.mode, "num_bits": q.num_bits, "sites": sites, "parameters": {}}
            for name in ("step", "alpha", "gamma"):
                w = getattr(q, name, None)
                if w is not None and hasattr(w, "numpy"):
                    qdoc["parameters"][name] = {"values": values(w),
                                                "meaning": self.PARAMETER_MEANINGS[name]}
            for m in getattr(q, "mmd", None) or []:
                qdoc["parameters"].setdefault("mmd_bandwidths", {})[m.name] = \
                    [values(w) for w in m.weights]
            doc["quantizer"] = qdoc
        return doc if as_dict else _describe_text(doc)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(num_layers=self.num_layers, num_bits_per_symbol=self.num_bits_per_symbol,
                   output=self._output, hard_out=self.hard_out,
                   demapping_method=self.demapping_method, prox=self.prox,
                   x_init=self.x_init, precision=self.precision,
                   quantizer=None if self.quantizer is None else self.quantizer.get_config())
        return cfg


class PGDNet(UnfoldedDetector):
    r"""Deep-unfolded proximal gradient descent (PGD-Net), eqs. (6)-(8) of the KAQ paper.

    Layer ``k = 1..K`` on the real-valued integer-grid model (see the module
    docstring), starting from :math:`\mathbf x^{(0)} = \mathbf 0` (or the LMMSE
    estimate, ``x_init="lmmse"``):

    .. math::
        \mathbf r^{(k)} &= \mathbf x^{(k-1)} - \eta_k \mathbf H^{\mathsf T}
                          (\mathbf H \mathbf x^{(k-1)} - \mathbf y)  &\text{eq. (6)}\\
        \mathbf x^{(k)} &= Q\left(\mathrm{prox}_{\lambda_k}\left(Q(\mathbf r^{(k)})\right)\right)
                          &\text{eqs. (7)-(9)}

    with the soft threshold of eq. (8) (``prox="box"`` adds a clip to the
    constellation box), :math:`Q` the attached quantizer (identity for
    :math:`\mathbf r^{(k)}` unless ``quantize_intermediate``), learnable
    :math:`\eta_k` (initialised to ``eta_init`` = 0.1) and :math:`\lambda_k`
    (``lambda_init`` = 0.05). :math:`\lambda_k` is not constrained to be positive.

    Parameters
    ----------
    num_layers : int
        ``K`` (5 in the paper).
    num_bits_per_symbol : int
    output, hard_out, demapping_method, quantizer, prox, x_init, precision :
        See :class:`UnfoldedDetector`.
    eta_init, lambda_init : float
        Initial step sizes and thresholds.

    Input
    -----
    y : [..., num_rx], tf.complex
    h : [..., num_rx, num_tx], tf.complex
    s : [..., num_rx, num_rx], tf.complex
    training : bool

    Output
    ------
    : [..., num_tx, num_bits_per_symbol] tf.float (``output="bit"``), or
      [..., num_tx, 2**num_bits_per_symbol] tf.float / [..., num_tx] tf.int32
      (``output="symbol"``). See :class:`UnfoldedDetector`.
    """

    def __init__(self, num_layers=5, num_bits_per_symbol=4, output="bit", quantizer=None,
                 eta_init=0.1, lambda_init=0.05, **kwargs):
        self._eta_init, self._lambda_init = float(eta_init), float(lambda_init)
        super().__init__(num_layers=num_layers, num_bits_per_symbol=num_bits_per_symbol,
                         output=output, quantizer=quantizer, **kwargs)

    def _create_weights(self):
        k = self.num_layers
        self.eta = self.add_weight(name="eta", shape=[k],
                                   initializer=keras.initializers.Constant(self._eta_init))
        self.lam = self.add_weight(name="lambda", shape=[k],
                                   initializer=keras.initializers.Constant(self._lambda_init))

    def _init_state(self, hty, x0):
        return (x0,)

    def _layer(self, k, state, hty, a, ctx, ops):
        x = state[0]
        r = x - self.eta[k - 1] * (tf.matmul(a, x) - hty)  # eq. (6)
        r = ops.quant("r", k, r)
        x = ops.prox(k, r, self.lam[k - 1])  # eqs. (7)-(8)
        x = ops.quant("x", k, x)  # eq. (9)
        return (x,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(eta_init=self._eta_init, lambda_init=self._lambda_init)
        return cfg


class ADMMNet(UnfoldedDetector):
    r"""Deep-unfolded ADMM (ADMM-Net) for the objective of eq. (5).

    Eq. (5) is split as :math:`\min_{\mathbf x,\mathbf z} \frac12\|\mathbf y -
    \mathbf H\mathbf x\|^2 + \lambda\|\mathbf z\|_1` s.t. :math:`\mathbf x =
    \mathbf z` (scaled dual :math:`\mathbf u`). Layer ``k = 1..K``, from
    :math:`\mathbf z^{(0)} = \mathbf u^{(0)} = \mathbf 0`, on the real-valued
    integer-grid model:

    .. math::
        \mathbf v^{(k)} &= Q\left((\mathbf H^{\mathsf T}\mathbf H + \rho_k \mathbf I)^{-1}
            \left(\mathbf H^{\mathsf T}\mathbf y + \rho_k(\mathbf z^{(k-1)} - \mathbf u^{(k-1)})
            \right)\right) &\text{(x-update)}\\
        \mathbf z^{(k)} &= Q\left(\mathrm{prox}_{\lambda_k/\rho_k}
            \left(\mathbf v^{(k)} + \mathbf u^{(k-1)}\right)\right) &\text{(z-update, eq. (8))}\\
        \mathbf u^{(k)} &= \mathbf u^{(k-1)} + \tau_k\left(\mathbf v^{(k)} - \mathbf z^{(k)}\right)
            &\text{(dual update)}

    The layer's signal estimate :math:`\mathbf x^{(k)}` (output, and the
    quantization site ``("x", k)``) is :math:`\mathbf z^{(k)}`;
    :math:`\mathbf v^{(k)}` is the intermediate site ``("r", k)`` (quantized
    only with ``quantize_intermediate``); the dual accumulator
    :math:`\mathbf u^{(k)}` stays in full precision. Learnable per layer:
    penalty :math:`\rho_k = e^{w_k}` (kept positive; initialised to
    ``rho_init`` = 10 = 1/0.1, so that the x-update is a proximal-point step of
    size :math:`1/\rho_k`, matching PGD-Net's :math:`\eta_k = 0.1`), threshold
    :math:`\lambda_k` (``lambda_init`` = 0.05) and dual step :math:`\tau_k`,
    ``k = 1..K-1`` (``tau_init`` = 1, plain ADMM; the last layer's dual update
    would not be used and is omitted). The linear system is solved by a Cholesky
    factorisation per layer.

    Parameters
    ----------
    num_layers : int
    num_bits_per_symbol : int
    output, hard_out, demapping_method, quantizer, prox, x_init, precision :
        See :class:`UnfoldedDetector` (``x_init="lmmse"`` starts from
        :math:`\mathbf z^{(0)}` = the LMMSE estimate, :math:`\mathbf u^{(0)} = \mathbf 0`).
    rho_init, lambda_init, tau_init : float

    Input
    -----
    y : [..., num_rx], tf.complex
    h : [..., num_rx, num_tx], tf.complex
    s : [..., num_rx, num_rx], tf.complex
    training : bool

    Output
    ------
    As :class:`PGDNet`.
    """

    def __init__(self, num_layers=5, num_bits_per_symbol=4, output="bit", quantizer=None,
                 rho_init=10.0, lambda_init=0.05, tau_init=1.0, **kwargs):
        if rho_init <= 0:
            raise ValueError(f"rho_init must be > 0, found {rho_init}")
        self._rho_init, self._lambda_init = float(rho_init), float(lambda_init)
        self._tau_init = float(tau_init)
        super().__init__(num_layers=num_layers, num_bits_per_symbol=num_bits_per_symbol,
                         output=output, quantizer=quantizer, **kwargs)

    def _create_weights(self):
        k = self.num_layers
        self.log_rho = self.add_weight(
            name="log_rho", shape=[k],
            initializer=keras.initializers.Constant(math.log(self._rho_init)))
        self.lam = self.add_weight(name="lambda", shape=[k],
                                   initializer=keras.initializers.Constant(self._lambda_init))
        # the dual update of the last layer would not be used: K - 1 dual steps
        self.tau = None
        if k > 1:
            self.tau = self.add_weight(name="tau", shape=[k - 1],
                                       initializer=keras.initializers.Constant(self._tau_init))

    @property
    def rho(self):
        """Penalties :math:`\\rho_k = e^{w_k}`, ``[K]``."""
        return tf.exp(self.log_rho)

    def _prepare(self, a):
        n = a.shape[-1]
        eye = tf.eye(n, dtype=a.dtype)
        rho = self.rho
        return [tf.linalg.cholesky(a + rho[k] * eye) for k in range(self.num_layers)]

    def _init_state(self, hty, x0):
        return (x0, tf.zeros_like(hty))

    def _layer(self, k, state, hty, a, ctx, ops):
        z, u = state
        rho = self.rho[k - 1]
        v = tf.linalg.cholesky_solve(ctx[k - 1], hty + rho * (z - u))  # x-update
        v = ops.quant("r", k, v)
        z = ops.prox(k, v + u, self.lam[k - 1] / rho)  # z-update, eq. (8)
        z = ops.quant("x", k, z)
        if k < self.num_layers:
            u = u + self.tau[k - 1] * (v - z)  # dual update
        return (z, u)

    PARAMETER_MEANINGS = {
        **UnfoldedDetector.PARAMETER_MEANINGS,
        "lambda": "soft threshold of the z-update, eq. (8), applied as lambda_k / rho_k: "
                  "prox(r) = sign(r) max(|r| - lambda_k / rho_k, 0); lambda > 0 shrinks towards "
                  "0, lambda < 0 expands away from it",
        "tau": "dual step tau_k (K - 1 values), u <- u + tau_k (v - z)",
    }

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rho_init=self._rho_init, lambda_init=self._lambda_init,
                   tau_init=self._tau_init)
        return cfg


__all__ = ["OUTPUTS", "PROXES", "X_INITS", "UnfoldedEstimate", "UnfoldedDetector", "PGDNet", "ADMMNet",
           "soft_threshold"]


def _fmt(values):
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _describe_text(doc):
    """The text form of :meth:`UnfoldedDetector.describe`."""
    start = "" if doc["x_init"] == "zero" else f", x^(0) {doc['x_init']}"
    lines = [f"{doc['type']}: {doc['num_layers']} layers, {2 ** doc['num_bits_per_symbol']}-QAM, "
             f"prox {doc['prox']}{start}, demapping {doc['demapping_method']}",
             "learned parameters (one value per layer k = 1..K):"]
    for name, p in doc["parameters"].items():
        lines.append(f"  {name:<10} {_fmt(p['values'])}")
        if p["meaning"]:
            lines.append(f"  {'':<10} {p['meaning']}")
    q = doc["quantizer"]
    if q is None:
        lines.append("quantizer: none (fp32 activations)")
        return "\n".join(lines)
    lines.append(f"quantizer: mode {q['mode']}, {q['num_bits']} bits, "
                 f"{len(q['sites'])} sites ({', '.join(q['sites'])})")
    for name, p in q["parameters"].items():
        if name == "mmd_bandwidths":
            for site, bws in p.items():
                lines.append(f"  {site:<10} MMD bandwidths {', '.join(_fmt(b) for b in bws)}")
            continue
        lines.append(f"  {name:<10} {_fmt(p['values'])}   (per site)")
        lines.append(f"  {'':<10} {p['meaning']}")
    return "\n".join(lines)
