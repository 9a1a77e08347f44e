r"""The activation quantizer attached to an unfolded detector, with the modes
compared in the KAQ paper.

=========  ==============================================================  ===========================
mode       what happens to each quantized activation                        learnable here
=========  ==============================================================  ===========================
fp32       nothing (full precision)                                         --
fp16       cast to float16 and back                                         --
ptq        :math:`Q_b` (eq. (9)) with a static step calibrated by eq. (10)   -- (no retraining)
qat-mse    :math:`Q_b` with a static learnable step (eq. (18)); MSE only     :math:`\Delta^{(k)}`
kaq        :math:`Q_b` with the SNR-adaptive step of eq. (15), and the      :math:`\alpha_k, \gamma_k,
           per-layer MMD loss of eq. (11) between the activation and its     \sigma^{(k)}_{1,2,3}`
           quantized version (learnable bandwidths, eq. (12))
=========  ==============================================================  ===========================

Ablation of KAQ's two ingredients (issue 3, docs/kaq.md), beyond the paper:

================  ========================================================  =====================
mode              what happens                                              learnable here
================  ========================================================  =====================
kaq-mmd-only      static learnable step (as ``qat-mse``) + the MMD loss     :math:`\Delta^{(k)},
                                                                            \sigma^{(k)}_{1,2,3}`
kaq-step-only     SNR-adaptive step of eq. (15), MSE loss only (no MMD)     :math:`\alpha_k,
                                                                            \gamma_k`
================  ========================================================  =====================

Fair full-precision reference (issue 20, docs/kaq.md), beyond the paper:

================  ========================================================  =====================
mode              what happens                                              learnable here
================  ========================================================  =====================
fp32-snr          the ``kaq`` quantizer without rounding: the SNR-adaptive  :math:`\alpha_k,
                  step of eq. (15) sets a saturation range,                 \gamma_k`
                  :math:`x \mapsto \mathrm{clip}(x, -q\Delta, q\Delta)`,
                  :math:`\Delta = \alpha_k\mathrm{SNR}^{-1/2}+\gamma_k`,
                  :math:`q = 2^{7}-1` (fixed parametrisation scale)
================  ========================================================  =====================

``fp32-snr`` gives a full-precision network exactly the per-sample side
information that ``kaq`` / ``kaq-step-only`` feed into theirs: since
:math:`\Delta\,\mathrm{clip}(\mathrm{round}(x/\Delta), -q, q)` becomes
:math:`\Delta\,\mathrm{clip}(x/\Delta, -q, q) = \mathrm{clip}(x, -q\Delta, q\Delta)`
once the rounding is removed, the only SNR-dependent operation left is the
saturation. The range is parametrised as for an 8-bit ``kaq`` quantizer
(:math:`q = 127`, calibrated in the same way), whatever ``num_bits`` says, so
one ``fp32-snr`` model serves as the reference of every bit width.

A *site* is one quantized activation tensor of the detector: ``("x", k)`` is
the signal estimate :math:`\mathbf{x}^{(k)}` leaving layer ``k`` (always), and
``("r", k)`` the intermediate :math:`\mathbf{r}^{(k)}` (only with
``quantize_intermediate=True``). Each site has its own step (Algorithm 1: one
:math:`\Delta^{(k)}` per layer).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf
from sionna.phy.config import config, dtypes

from kaq_sionna.quantization.adaptive import adaptive_step
from kaq_sionna.quantization.fake_quant import cast_fp16, check_num_bits, fake_quantize, qmax
from kaq_sionna.quantization.mmd import KernelMMD

MODES = ("fp32", "fp16", "ptq", "qat-mse", "kaq", "kaq-mmd-only", "kaq-step-only", "fp32-snr")
STEP_MODES = ("ptq", "qat-mse", "kaq", "kaq-mmd-only", "kaq-step-only")
#: Modes with the SNR-adaptive step of eq. (15) (alpha, gamma per site).
ADAPTIVE_MODES = ("kaq", "kaq-step-only")
#: Modes with a static step (one Delta per site); learnable unless ``ptq``.
STATIC_STEP_MODES = ("ptq", "qat-mse", "kaq-mmd-only")
#: Full-precision modes with the SNR-adaptive saturation range of eq. (15), no rounding.
SNR_CLIP_MODES = ("fp32-snr",)
#: Bit width whose q_max scales the fp32-snr range (the 8-bit kaq parametrisation).
SNR_CLIP_BITS = 8
#: Modes whose parameters are initialised from activation statistics (:meth:`Quantizer.calibrate`).
CALIBRATED_MODES = STEP_MODES + SNR_CLIP_MODES
#: Modes whose training adds the per-layer MMD loss of eq. (11) (weight epsilon, eq. (16)).
MMD_MODES = ("kaq", "kaq-mmd-only")


def check_mode(mode):
    """Returns ``mode`` if it is one of :data:`MODES`, else raises ``ValueError``."""
    if mode not in MODES:
        raise ValueError(f"quantization mode must be one of {', '.join(MODES)}, found {mode!r}")
    return mode


class Quantizer(keras.layers.Layer):
    r"""Decides how an unfolded detector's activations are quantized.

    Create it, pass it to a detector (``PGDNet(..., quantizer=q)``), then (for
    ``ptq``, ``qat-mse`` and ``kaq``) initialise the steps from activation
    statistics of the full-precision network with :meth:`calibrate`
    (Algorithm 1, step 2, and eq. (10)). A quantizer serves one detector.

    Parameters
    ----------
    mode : "fp32" | "fp16" | "ptq" | "qat-mse" | "kaq" | "kaq-mmd-only" | "kaq-step-only" | "fp32-snr"
        See the module docstring.
    num_bits : int
        Bit width ``b`` in ``[2, 16]`` (ignored by ``fp32``, ``fp16`` and ``fp32-snr``).
    quantize_intermediate : bool
        Also quantize the intermediate :math:`\mathbf{r}^{(k)}` of every layer.
    epsilon : float >= 0
        Weight of the MMD term in eq. (16); the detector adds
        ``epsilon * sum_k MMD_k`` to its Keras ``losses`` in training mode.
    calib_percentile : float in (0, 100]
        Percentile of the per-sample maxima :math:`\max_n |x_n^{(k)}|` used as
        :math:`\max|\mathbf{x}^{(k)}|` in eq. (10); 100 (default) is the
        paper's maximum over the calibration set.
    mmd_max_samples : int
        At most this many samples (the first ones of the flattened batch) enter
        each MMD (its cost is quadratic in the number of samples).
    mmd_kernel, mmd_bounded, mmd_max_ratio, mmd_adversarial :
        Passed to :class:`~kaq_sionna.quantization.mmd.KernelMMD` (``kernel``,
        ``bounded``, ``max_ratio``, ``adversarial``).
    step_init : float or None
        If given, every step (``gamma`` for ``kaq``, with ``alpha = 0``) is set
        to this value and the quantizer counts as calibrated.
    min_step : float
        Floor of the step (keeps a learnable or adaptive step positive).
    precision : None | "single" | "double"
    """

    def __init__(self, mode="fp32", num_bits=8, quantize_intermediate=False, epsilon=0.1,
                 calib_percentile=100.0, mmd_max_samples=256, mmd_kernel="mixture",
                 mmd_bounded=True, mmd_max_ratio=4.0, mmd_adversarial=False, step_init=None,
                 min_step=1e-6, precision=None, **kwargs):
        self.precision = precision or config.precision
        super().__init__(dtype=dtypes[self.precision]["tf"]["rdtype"], autocast=False, **kwargs)
        self.mode = check_mode(mode)
        self.num_bits = check_num_bits(num_bits)
        if epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, found {epsilon}")
        if not 0 < calib_percentile <= 100:
            raise ValueError(f"calib_percentile must be in (0, 100], found {calib_percentile}")
        if mmd_max_samples < 2:
            raise ValueError(f"mmd_max_samples must be >= 2, found {mmd_max_samples}")
        self.quantize_intermediate = bool(quantize_intermediate)
        self.epsilon = float(epsilon)
        self.calib_percentile = float(calib_percentile)
        self.mmd_max_samples = int(mmd_max_samples)
        self._mmd_kwargs = dict(kernel=mmd_kernel, bounded=mmd_bounded, max_ratio=mmd_max_ratio,
                                adversarial=mmd_adversarial)
        self.step_init, self.min_step = step_init, float(min_step)
        self.sites = None
        self.calibrated = mode not in CALIBRATED_MODES
        self._observing, self._records = False, None
        self.built = True

    # ------------------------------------------------------------------ setup
    @property
    def needs_snr(self):
        """Whether :meth:`quantize_site` needs the per-sample SNR (the adaptive step)."""
        return self.mode in ADAPTIVE_MODES + SNR_CLIP_MODES

    @property
    def needs_calibration(self):
        """Whether the parameters are initialised by :meth:`calibrate` (steps or ranges)."""
        return self.mode in CALIBRATED_MODES

    @property
    def uses_mmd(self):
        """Whether training adds the MMD loss of eq. (11) (``kaq``, ``kaq-mmd-only``)."""
        return self.mode in MMD_MODES

    @property
    def qmax(self):
        """Largest integer level :math:`2^{b-1}-1` (``fp32-snr``: the fixed 8-bit scale 127)."""
        return qmax(SNR_CLIP_BITS if self.mode in SNR_CLIP_MODES else self.num_bits)

    def attach(self, num_layers):
        """Creates the per-site parameters for a detector with ``num_layers`` layers.

        Called by the detector's constructor.

        Output
        ------
        : list of (str, int)
            The sites, ``("x", k)`` then (optionally) ``("r", k)``, ``k = 1..num_layers``.
        """
        if self.sites is not None:
            raise ValueError("this Quantizer is already attached to a detector; "
                             "create one Quantizer per detector")
        kinds = ("x", "r") if self.quantize_intermediate else ("x",)
        self.sites = [(kind, k) for kind in kinds for k in range(1, num_layers + 1)]
        n = len(self.sites)
        init = float(self.step_init) if self.step_init is not None else 1.0
        if self.mode in STATIC_STEP_MODES:
            self.step = self.add_weight(name="step", shape=[n], trainable=self.mode != "ptq",
                                        initializer=keras.initializers.Constant(init))
        if self.mode in ADAPTIVE_MODES + SNR_CLIP_MODES:
            # eq. (15): Delta^(k) = alpha_k SNR^(-1/2) + gamma_k
            self.alpha = self.add_weight(name="alpha", shape=[n],
                                         initializer=keras.initializers.Zeros())
            self.gamma = self.add_weight(name="gamma", shape=[n],
                                         initializer=keras.initializers.Constant(init))
        if self.mode in MMD_MODES:
            self.mmd = [KernelMMD(precision=self.precision, name=f"mmd_{kind}{k}",
                                  **self._mmd_kwargs) for kind, k in self.sites]
        if self.step_init is not None:
            self.calibrated = True
        return list(self.sites)

    def site_index(self, kind, k):
        """Index of site ``(kind, k)``, or `None` if that activation is not quantized."""
        try:
            return self.sites.index((kind, k))
        except ValueError:
            return None

    def mark_calibrated(self):
        """Declares the steps valid (e.g. after loading trained weights)."""
        self.calibrated = True

    # --------------------------------------------------------------- forward
    def step_size(self, site, snr=None):
        r"""Current step :math:`\Delta` of a site.

        Input
        -----
        site : int
            Site index.
        snr : None or tf.float, any shape
            Linear per-sample SNR (modes ``kaq``, ``kaq-step-only``, ``fp32-snr``).

        Output
        ------
        : tf.float, scalar (static step) or shape of ``snr`` (adaptive step)
        """
        if self.mode in STATIC_STEP_MODES:
            return tf.maximum(self.step[site], tf.cast(self.min_step, self.step.dtype))
        if self.mode in ADAPTIVE_MODES + SNR_CLIP_MODES:
            if snr is None:
                raise ValueError(f"mode {self.mode!r} needs the per-sample SNR")
            return adaptive_step(snr, self.alpha[site], self.gamma[site], self.min_step)
        raise ValueError(f"mode {self.mode!r} has no step")

    def quantize_site(self, x, site, snr=None, training=False):
        r"""Quantizes one activation tensor.

        Input
        -----
        x : [..., n, c], tf.float
            Activations; the last two axes belong to one sample (``c = 1`` for
            vectors), the leading axes are batch axes.
        site : int
            Site index (see :meth:`site_index`).
        snr : None or [..., 1, 1], tf.float
            Linear per-sample SNR, broadcastable to ``x`` (mode ``kaq``).
        training : bool
            If `True` and the mode is ``kaq``, the site's MMD is computed.

        Output
        ------
        x_q : [..., n, c], tf.float
            Quantized activations.
        mmd : scalar tf.float or None
            :math:`\mathcal{L}^{(k)}_{\mathrm{MMD}}` of eq. (11) between the
            samples of ``x`` (held fixed, the full-precision reference of
            eq. (13)) and of ``x_q``; `None` unless ``kaq`` and ``training``.
        """
        if self._observing:
            self._record(x, site, snr)
            return x, None
        if self.mode == "fp32":
            return x, None
        if self.mode == "fp16":
            return cast_fp16(x), None
        if not self.calibrated:
            raise RuntimeError(f"Quantizer(mode={self.mode!r}) is not calibrated: call "
                               "quantizer.calibrate(detector, (y, h, s)) first, or give "
                               "step_init, or mark_calibrated() after loading weights")
        if self.mode in SNR_CLIP_MODES:
            # eq. (9) without the rounding: only the SNR-adaptive saturation is left
            limit = self.qmax * self.step_size(site, snr)
            return tf.minimum(tf.maximum(x, -limit), limit), None
        x_q = fake_quantize(x, self.step_size(site, snr), self.num_bits)  # eq. (9)
        mmd = None
        if self.mode in MMD_MODES and training:
            dim = x.shape[-2] * x.shape[-1]
            a = tf.reshape(x, [-1, dim])[: self.mmd_max_samples]
            b = tf.reshape(x_q, [-1, dim])[: self.mmd_max_samples]
            mmd = self.mmd[site](tf.stop_gradient(a), b)  # eq. (11)
        return x_q, mmd

    # ----------------------------------------------------------- calibration
    def _record(self, x, site, snr):
        m = tf.reshape(tf.reduce_max(tf.abs(x), axis=[-2, -1]), [-1])
        rec = self._records.setdefault(site, ([], []))
        rec[0].append(m.numpy())
        if snr is not None:
            snr = tf.broadcast_to(tf.reshape(snr, tf.shape(snr)[:-2]), tf.shape(x)[:-2])
            rec[1].append(tf.reshape(snr, [-1]).numpy())

    @contextlib.contextmanager
    def observing(self):
        """Context in which :meth:`quantize_site` passes activations through unchanged and
        records their per-sample maxima (and SNRs)."""
        if not tf.executing_eagerly():
            raise RuntimeError("calibration runs eagerly (outside tf.function)")
        self._observing, self._records = True, {}
        try:
            yield self._records
        finally:
            self._observing = False

    def calibrate(self, detector, data):
        r"""Initialises the steps from full-precision activation statistics.

        Runs ``detector`` with quantization bypassed over ``data`` and sets, per
        site ``k``, with :math:`m_i = \max_n |x^{(k)}_{i,n}|` the per-sample
        maxima and :math:`P` the ``calib_percentile``-th percentile:

        * ``ptq``, ``qat-mse``: :math:`\Delta^{(k)} = P(m) / (2^{b-1}-1)`
          (eq. (10); the maximum for ``calib_percentile = 100``);
        * ``kaq``, ``kaq-step-only``, ``fp32-snr`` (with :math:`q_{\max} = 127`): a
          least-squares fit :math:`m_i / q_{\max} \approx
          \alpha_k s_i + \gamma_k` with :math:`s_i = \mathrm{SNR}_i^{-1/2}`,
          then :math:`\gamma_k` raised so that the fitted step covers the
          ``P``-th percentile of the samples (no clipping of the calibration
          set at 100); if the fitted :math:`\alpha_k \le 0`, :math:`\alpha_k = 0`
          and :math:`\gamma_k` is the eq. (10) step.

        Nothing to do for ``fp32`` and ``fp16``.

        Input
        -----
        detector : an unfolded detector this quantizer is attached to
        data : tuple ``(y, h, s)`` or iterable of such tuples
            Calibration batches in the detector's input format.

        Output
        ------
        : dict
            Per site name (e.g. ``"x3"``) the statistics used.
        """
        if getattr(detector, "quantizer", None) is not self:
            raise ValueError("calibrate() needs the detector this quantizer is attached to")
        if self.mode not in CALIBRATED_MODES:
            self.calibrated = True
            return {}
        batches = [data] if (isinstance(data, tuple) and len(data) == 3
                             and hasattr(data[0], "shape")) else list(data)
        with self.observing() as records:
            for y, h, s in batches:
                detector.estimate(y, h, s, training=False)
        q, pct, stats = self.qmax, self.calib_percentile, {}
        steps, alphas, gammas = [], [], []
        for i, (kind, k) in enumerate(self.sites):
            m = np.concatenate(records[i][0]).astype(np.float64)
            target = np.percentile(m, pct) / q  # eq. (10)
            stat = {"max_abs": float(np.percentile(m, pct)), "step": float(target)}
            if self.mode in ADAPTIVE_MODES + SNR_CLIP_MODES:
                s = np.concatenate(records[i][1]).astype(np.float64) ** -0.5
                a_mat = np.stack([s, np.ones_like(s)], 1)
                alpha, gamma = np.linalg.lstsq(a_mat, m / q, rcond=None)[0]
                if alpha <= 0 or not np.isfinite(alpha):
                    alpha, gamma = 0.0, target
                else:
                    gamma += np.percentile(m / q - alpha * s - gamma, pct)
                alphas.append(alpha)
                gammas.append(gamma)
                stat.update(alpha=float(alpha), gamma=float(gamma))
            steps.append(target)
            stats[f"{kind}{k}"] = stat
        if self.mode in ADAPTIVE_MODES + SNR_CLIP_MODES:
            self.alpha.assign(np.asarray(alphas, self.alpha.dtype))
            self.gamma.assign(np.maximum(np.asarray(gammas), self.min_step).astype(
                self.gamma.dtype))
        else:
            self.step.assign(np.maximum(np.asarray(steps), self.min_step).astype(
                self.step.dtype))
        self.calibrated = True
        return stats

    def get_config(self):
        cfg = super().get_config()
        cfg.update(mode=self.mode, num_bits=self.num_bits,
                   quantize_intermediate=self.quantize_intermediate, epsilon=self.epsilon,
                   calib_percentile=self.calib_percentile, mmd_max_samples=self.mmd_max_samples,
                   mmd_kernel=self._mmd_kwargs["kernel"], mmd_bounded=self._mmd_kwargs["bounded"],
                   mmd_max_ratio=self._mmd_kwargs["max_ratio"],
                   mmd_adversarial=self._mmd_kwargs["adversarial"], step_init=self.step_init,
                   min_step=self.min_step, precision=self.precision)
        return cfg


def make_quantizer(quantizer, precision=None):
    """``None`` -> `None`; a mode name -> ``Quantizer(mode)``; a :class:`Quantizer` as is."""
    if quantizer is None or isinstance(quantizer, Quantizer):
        return quantizer
    if isinstance(quantizer, str):
        return Quantizer(quantizer, precision=precision)
    raise TypeError(f"quantizer must be None, a mode name or a Quantizer, "
                    f"found {type(quantizer).__name__}")


__all__ = ["CALIBRATED_MODES", "MODES", "SNR_CLIP_MODES", "STEP_MODES", "check_mode", "Quantizer",
           "make_quantizer"]
