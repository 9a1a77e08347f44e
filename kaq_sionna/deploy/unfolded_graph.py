r"""PGD-Net and ADMM-Net as exportable real-valued TensorFlow graphs (TFLite builtin ops only).

:class:`UnfoldedExportGraph` re-expresses a trained
:class:`~kaq_sionna.detection.unfolded.PGDNet` / :class:`~kaq_sionna.detection.unfolded.ADMMNet`
(its parameters are read once and frozen as constants) on the real-valued
equivalent model (:mod:`kaq_sionna.deploy.real_model`), with the same forward
pass, the same linearised Gaussian approximation and the same demapping as the
TF detector (see the module docstring of :mod:`kaq_sionna.detection.unfolded`),
but only with operations that TFLite has as builtins:

* complex arithmetic -> real-valued model (inputs ``y_real``, ``h_real``, ``s_real``);
* ADMM-Net's Cholesky factorisation and ``cholesky_solve`` (no TFLite builtin; a
  select-TF op would need TensorFlow's Flex delegate at run time) ->
  the explicit inverses :math:`(\mathbf H^{\mathsf T}\mathbf H + \rho_k\mathbf I)^{-1}`,
  ``k = 1..K``, computed once per call by an unrolled Gauss-Jordan elimination
  without pivoting (exact in exact arithmetic; the matrices are symmetric positive
  definite, for which elimination without pivoting is stable), then one matrix
  product per layer;
* ``tf.linalg.diag_part`` -> a masked sum; ``atanh`` / ``logsumexp`` -> ``LOG``,
  ``EXP``, ``REDUCE_MAX``, ``SUM``;
* Sionna's complex :class:`~sionna.phy.mapping.Demapper` ->
  :func:`~kaq_sionna.deploy.real_model.real_demap`;
* ops that LiteRT's XNNPACK delegate does not take, and which would split the
  delegated graph into partitions joined by the builtin kernels (``SIGN``,
  ``GREATER``, ``CAST``, ``SELECT_V2``, ``ZEROS_LIKE``, ``SHAPE`` / ``FILL``,
  axis-dropping slices) -> clips, products with 0/1 indicators
  (:func:`positive_indicator`), ``PAD`` and ``RESHAPE``, with the same values
  (see :meth:`UnfoldedExportGraph._prox`).

The products with :math:`\mathbf H` multiply two run-time tensors. They cannot
become static-weight ``FULLY_CONNECTED`` layers, and XNNPACK does not take their
int8 ``BATCH_MATMUL`` (``docs/deployment.md``, section 6.4).

Quantization sites (:math:`\mathbf x^{(k)}`, and :math:`\mathbf r^{(k)}` with
``quantize_intermediate``) are written in one of two ways (``site_ops``):

``"float"``
    The fake quantizer of eq. (9) in float arithmetic, exactly as the TF model
    computes it (``round``, ``clip``, multiply by the step): the graph for the
    fp32 and fp16 exports.
``"fakequant"``
    TF ``FakeQuantWithMinMaxArgs`` ops, which the TFLite converter turns into
    int8 tensors whose scale *is* the learned step (a site with a static step
    :math:`\Delta`: range :math:`[-q_{\max}\Delta, q_{\max}\Delta]`, ``narrow_range``,
    so that the int8 scale is exactly :math:`\Delta` and the zero point 0). The
    SNR-adaptive step of ``kaq`` (eq. (15)) differs per sample, which a tensor's
    static scale cannot express: the site is written as the integer level
    tensor :math:`n = Q(x/\Delta_s)` (int8, scale 1, values in
    :math:`[-q_{\max}, q_{\max}]`) multiplied by the per-sample float step
    :math:`\Delta_s`. ``b < 8`` bits use int8 storage with only ``2^b - 1``
    levels used (TFLite has no int4 activation type).
"""

import numpy as np
import tensorflow as tf

from kaq_sionna.deploy.real_model import input_signature, real_demap
from kaq_sionna.detection.unfolded import MIN_GAIN, NO_INFO_VAR, ADMMNet, PGDNet
from kaq_sionna.quantization.fake_quant import qmax
from kaq_sionna.quantization.modes import ADAPTIVE_MODES, SNR_CLIP_MODES

__all__ = ["SCOPES", "SITE_OPS", "UnfoldedExportGraph", "gauss_jordan_inverse",
           "positive_indicator"]

SITE_OPS = ("float", "fakequant")
#: Name scopes of the graph's parts. An int8 export quantizes the ops of "network" except
#: those of its "float_*" sub-scopes (:func:`is_int8_node`).
SCOPES = {"network": "network", "inverse": "admm_inverse", "step": "adaptive_step",
          "soft_output": "soft_output", "site_scale": "float_site_scale",
          "xupdate": "float_admm_xupdate", "prox": "float_prox"}


def is_int8_node(tensor_name):
    """Whether an int8 export quantizes the op producing ``tensor_name``: the ops of a
    ``network`` scope except those of its ``float_*`` sub-scopes (fused ops are named
    after their first op)."""
    parts = tensor_name.split(";")[0].split("/")
    return parts[0].startswith(SCOPES["network"]) and not any(
        p.startswith("float_") for p in parts[1:])


def positive_indicator(t):
    r""":math:`[t > 0]` as float32 with ops XNNPACK delegates:
    :math:`\mathrm{clip}(t \cdot 2^{100}, 0, 1)`.

    Equal to ``tf.cast(t > 0, tf.float32)`` for every :math:`t \le 0` and every
    :math:`t \ge 2^{-100}`; in between (:math:`t` below :math:`8 \cdot 10^{-31}`: a
    difference of two float32 numbers near a threshold is a multiple of their ulp,
    so this needs a threshold below about :math:`2^{-76}`) it is below 1.

    Input
    -----
    t : tf.float32, any shape

    Output
    ------
    : tf.float32, the shape of ``t``
    """
    return tf.clip_by_value(t * 2.0 ** 100, 0.0, 1.0)


def gauss_jordan_inverse(a):
    r"""Inverse of symmetric positive definite matrices by unrolled Gauss-Jordan elimination.

    Elimination without pivoting on ``[A | I]``; step ``j`` normalises row ``j``
    and removes column ``j`` from every other row in one rank-1 update
    (:math:`\mathbf M \leftarrow \mathbf M - (\mathbf m_{:,j} - \mathbf e_j)
    \mathbf m_{j,:}/m_{jj}`). ``n`` steps of slices, a division and a
    broadcast product: TFLite builtins only.

    Input
    -----
    a : [..., n, n], tf.float32, static ``n``
        Symmetric positive definite matrices.

    Output
    ------
    : [..., n, n], tf.float32
        :math:`\mathbf A^{-1}`.
    """
    n = a.shape[-1]
    eye = tf.eye(n, dtype=a.dtype)
    # [A | I] as a zero padding plus a constant: broadcast_to a run-time shape would be
    # SHAPE and FILL ops, which XNNPACK does not take
    m = tf.pad(a, [[0, 0]] * (len(a.shape) - 1) + [[0, n]]) + tf.concat(
        [tf.zeros([n, n], a.dtype), eye], -1)  # [..., n, 2n]
    for j in range(n):
        row = m[..., j:j + 1, :] / m[..., j:j + 1, j:j + 1]  # [..., 1, 2n]
        col = m[..., :, j:j + 1] - eye[:, j:j + 1]  # [..., n, 1]
        m = m - col * row
    return m[..., n:]


class UnfoldedExportGraph(tf.Module):
    r"""A trained PGD-Net / ADMM-Net as a real-valued graph for the TFLite converter.

    Parameters
    ----------
    det : :class:`~kaq_sionna.detection.unfolded.PGDNet` | :class:`~kaq_sionna.detection.unfolded.ADMMNet`
        A trained (calibrated) single-precision detector with ``output="bit"``;
        its parameters are copied as constants.
    num_tx, num_rx : int
        System size (the graph has static antenna dimensions, free batch).
    site_ops : "float" | "fakequant"
        How quantization sites are written (module docstring).
    outputs : "llr" | "estimate"
        ``"llr"``: the detector (LLRs and the raw estimate); ``"estimate"``: the
        unfolded network alone (raw estimate, no soft output), to time the
        network without its soft-output head.

    Input
    -----
    y_real : [batch, 2 num_rx], tf.float32
    h_real : [batch, 2 num_rx, 2 num_tx], tf.float32
    s_real : [batch, 2 num_rx, 2 num_rx], tf.float32
        See :func:`~kaq_sionna.deploy.real_model.real_inputs`.

    Output
    ------
    dict with
    llr : [batch, num_tx, num_bits_per_symbol], tf.float32
        As the TF detector's LLRs (``outputs="llr"`` only).
    x_hat : [batch, 2 num_tx], tf.float32
        :math:`\mathbf x^{(K)}` on the integer grid (the paper's network output).
    """

    def __init__(self, det, num_tx, num_rx, site_ops="float", outputs="llr"):
        super().__init__()
        if not isinstance(det, (PGDNet, ADMMNet)):
            raise TypeError(f"expected a PGDNet or ADMMNet, found {type(det).__name__}")
        if site_ops not in SITE_OPS:
            raise ValueError(f"site_ops must be one of {SITE_OPS}, found {site_ops!r}")
        if outputs not in ("llr", "estimate"):
            raise ValueError(f"outputs must be 'llr' or 'estimate', found {outputs!r}")
        if det.precision != "single":
            raise ValueError("only single-precision detectors can be exported")
        if det._output != "bit" or det.hard_out:
            raise ValueError("export needs a detector with output='bit' and hard_out=False")
        self.kind = "pgdnet" if isinstance(det, PGDNet) else "admmnet"
        self.num_tx, self.num_rx = int(num_tx), int(num_rx)
        self.num_layers, self.k_bits = det.num_layers, det.num_bits_per_symbol
        self.prox_kind, self.demapping_method = det.prox, det.demapping_method
        self.grid_scale, self.grid_max = det.grid_scale, det.grid_max
        self.energy_per_dim = det.energy_per_dim
        self.site_ops, self.outputs = site_ops, outputs
        self.lam = det.lam.numpy().astype(np.float32)
        if self.kind == "pgdnet":
            self.eta = det.eta.numpy().astype(np.float32)
        else:
            self.rho = np.exp(det.log_rho.numpy().astype(np.float64)).astype(np.float32)
            self.tau = None if det.tau is None else det.tau.numpy().astype(np.float32)
        q = det.quantizer
        self.qmode = None if q is None or q.mode == "fp32" else q.mode
        if self.qmode in SNR_CLIP_MODES or det.x_init != "zero":
            raise ValueError("detectors with the fair-reference mode 'fp32-snr' or the LMMSE "
                             "warm start are not exported (not implemented in the graph)")
        if self.qmode == "fp16":
            raise ValueError("detectors with the post-training 'fp16' activation mode are not "
                             "exported; export the fp32 model with precision 'fp16' instead")
        self.sites = [] if self.qmode is None else list(q.sites)
        if self.qmode is not None:
            if not q.calibrated:
                raise ValueError("the detector's quantizer is not calibrated")
            self.num_bits, self.min_step = q.num_bits, q.min_step
            if site_ops == "fakequant" and self.num_bits > 8:
                raise ValueError(f"an int8 export needs sites of at most 8 bits, the model's "
                                 f"quantizer has {self.num_bits}")
            if self.qmode in ADAPTIVE_MODES:
                self.alpha = q.alpha.numpy().astype(np.float32)
                self.gamma = q.gamma.numpy().astype(np.float32)
            else:
                self.steps = np.maximum(q.step.numpy(), q.min_step).astype(np.float32)
        self.serve = tf.function(self._call, input_signature=input_signature(num_tx, num_rx),
                                 autograph=False)

    def __call__(self, y_real, h_real, s_real):
        return self.serve(y_real, h_real, s_real)

    # ------------------------------------------------------------------ pieces
    def _snr(self, h_real, s_real):
        # per_sample_snr on the real model: ||H||_F^2 = ||H~||_F^2 / 2, tr(S) = tr(S~)
        gain = tf.reduce_sum(tf.square(h_real), axis=[-2, -1]) / (2.0 * self.num_tx)
        eye = tf.eye(2 * self.num_rx, dtype=tf.float32)
        noise = tf.reduce_sum(s_real * eye, axis=[-2, -1]) / self.num_rx
        return gain / tf.maximum(noise, 1e-30)

    def _quant(self, kind, k, t, step):
        """Quantization site ``(kind, k)`` applied to ``t [B, N, C]``; ``step [B, 1, 1]`` (kaq)."""
        if self.qmode is None or (kind, k) not in self.sites:
            return t
        i = self.sites.index((kind, k))
        q = float(qmax(self.num_bits))
        if self.qmode in ADAPTIVE_MODES:
            with tf.name_scope(SCOPES["site_scale"]):  # per-sample step: float
                # eq. (15): Delta = max(alpha SNR^-1/2 + gamma, min_step)
                delta = tf.maximum(self.alpha[i] * step + self.gamma[i], self.min_step)
        else:
            delta = float(self.steps[i])
        if self.site_ops == "float":  # eq. (9), as kaq_sionna.quantization.fake_quant
            delta = tf.maximum(delta, np.finfo(np.float32).tiny)
            return delta * tf.clip_by_value(tf.round(t / delta), -q, q)
        # TFLite has no activation type below 8 bits (a 4-bit FakeQuant fails to convert:
        # "'isSigned' can only be set for 8/16-bits integer type"): a b-bit site is an int8
        # tensor of scale Delta whose values are clipped to the 2^b - 1 levels -q..q.
        q8 = float(qmax(8))
        if self.qmode in ADAPTIVE_MODES:  # integer levels (scale 1) times the per-sample step
            with tf.name_scope(SCOPES["site_scale"]):
                t = t * (1.0 / delta)
            levels = tf.quantization.fake_quant_with_min_max_args(
                t, min=-q8, max=q8, num_bits=8, narrow_range=True)
            with tf.name_scope(SCOPES["site_scale"]):
                x = levels * delta
                if self.num_bits < 8:
                    # clip to the levels -q..q after the rounding and the rescaling, in
                    # float: clipping to integers commutes with rounding to integers, and
                    # fl(n * delta) is monotonic in n. Before the FakeQuant (or right after
                    # it) the converter would make the clip int8 with the FakeQuant's scale
                    # (MINIMUM / MAXIMUM keep their input's scale), which XNNPACK does not take
                    bound = q * delta
                    x = tf.minimum(tf.maximum(x, -bound), bound)
                return x
        if self.num_bits < 8:  # int8 (the converter gives it the FakeQuant's scale)
            t = tf.clip_by_value(t, -q * delta, q * delta)
        return tf.quantization.fake_quant_with_min_max_args(
            t, min=-q8 * delta, max=q8 * delta, num_bits=8, narrow_range=True)

    def _prox(self, r, threshold):
        r"""Proximal step and its 0/1 derivative, in float, with ops XNNPACK delegates.

        :math:`\mathrm{sign}(r)\max(|r|-\lambda, 0)` (eqs. (7)-(8)) is written, exactly
        in floating point, as :math:`r - \mathrm{clip}(r, -\lambda, \lambda)` for
        :math:`\lambda \ge 0` (both forms round the same difference :math:`|r|-\lambda`)
        and as :math:`r - \lambda\,\mathrm{sign}(r)` for a learned :math:`\lambda < 0`
        (then :math:`|r| - \lambda > 0` always), with :math:`\mathrm{sign}(r) =
        \mathrm{clip}(r \cdot 2^{100}, -1, 1)` (exact unless
        :math:`0 < |r| < 2^{-100}`, as :func:`positive_indicator`). The derivative
        :math:`[|r| > \lambda]` is :func:`positive_indicator` of :math:`|r| - \lambda`.
        ``SIGN``, ``GREATER`` and ``CAST`` (the TF model's form) run outside XNNPACK and
        split the delegated graph; int8 ``ABS`` / ``MINIMUM`` / ``MAXIMUM`` are not
        delegated either, so the whole step stays in float (scope ``float_prox``)
        between two quantization sites.
        """
        threshold = float(threshold)
        with tf.name_scope(SCOPES["prox"]):
            if threshold >= 0.0:
                x = r - tf.clip_by_value(r, -threshold, threshold)
            else:
                x = r - threshold * tf.clip_by_value(r * 2.0 ** 100, -1.0, 1.0)
            slope = positive_indicator(tf.abs(r) - threshold)
            if self.prox_kind == "box":
                slope = slope * positive_indicator(self.grid_max - tf.abs(x))
                x = tf.clip_by_value(x, -self.grid_max, self.grid_max)
        return x, slope

    def _layers(self, hty, a, inv, quant, prox):
        r"""The K layers from the zero state; returns the last estimate ``[B, N, C]``.

        The first layer is written for :math:`\mathbf z = \mathbf u = \mathbf 0`
        (PGD: :math:`\mathbf r = \eta_1 \mathbf H^{\mathsf T}\mathbf y`; ADMM:
        :math:`\mathbf v = (\mathbf H^{\mathsf T}\mathbf H + \rho_1\mathbf I)^{-1}
        \mathbf H^{\mathsf T}\mathbf y`), the same values as the general step without
        its product with zeros (and without ``ZEROS_LIKE``, which XNNPACK does not take).
        """
        z = u = None  # zero state
        for k in range(1, self.num_layers + 1):
            if self.kind == "pgdnet":
                if z is None:
                    r = self.eta[k - 1] * hty
                else:
                    r = z - self.eta[k - 1] * (tf.matmul(a, z) - hty)
                r = quant("r", k, r)  # eq. (6)
                z = quant("x", k, prox(k, r, self.lam[k - 1]))  # eqs. (7)-(9)
            else:
                rho = self.rho[k - 1]
                with tf.name_scope(SCOPES["xupdate"]):
                    rhs = hty if z is None else hty + rho * (z - u)
                    v = tf.matmul(inv[k - 1], rhs)  # x-update
                v = quant("r", k, v)
                z = quant("x", k, prox(k, v if u is None else v + u,
                                       self.lam[k - 1] / rho))  # z-update
                if k < self.num_layers:
                    d = self.tau[k - 1] * (v - z)
                    u = d if u is None else u + d  # dual update
        return z

    # ------------------------------------------------------------------ graph
    def _call(self, y_real, h_real, s_real):
        c = self.grid_scale
        n = 2 * self.num_tx
        with tf.name_scope(SCOPES["network"]):
            yr = y_real * c  # eq. (2) on the integer grid
            hr = h_real
            hty = tf.matmul(hr, yr[..., None], transpose_a=True)  # [B, N, 1]
            a = tf.matmul(hr, hr, transpose_a=True)  # [B, N, N]
        inv = None
        if self.kind == "admmnet":
            with tf.name_scope(SCOPES["inverse"]):
                eye = tf.eye(n, dtype=tf.float32)
                stacked = a[:, None] + self.rho[:, None, None] * eye  # [B, K, N, N]
                inv_all = gauss_jordan_inverse(stacked)
                # slices, not tf.unstack: the int8 converter quantizes UNPACK outputs even
                # when the op is kept in float
                # (a reshape, not [:, k]: XNNPACK does not take a STRIDED_SLICE that drops
                # an axis)
                inv = [tf.reshape(inv_all[:, k:k + 1], [-1, n, n])
                       for k in range(self.num_layers)]
        step = None
        if self.qmode in ADAPTIVE_MODES:
            with tf.name_scope(SCOPES["step"]):
                snr = self._snr(h_real, s_real)
                step = tf.math.rsqrt(tf.maximum(snr, 1e-30))[:, None, None]  # SNR^-1/2

        slopes = {}

        def fwd_prox(k, r, thr):
            x, slope = self._prox(r, thr)
            with tf.name_scope(SCOPES["prox"]):  # the offset o_k, for the soft output only
                slopes[k] = (slope, x - slope * r)
            return x

        def fwd_quant(kind, k, t):
            return self._quant(kind, k, t, step)

        with tf.name_scope(SCOPES["network"]):
            x_real = tf.reshape(self._layers(hty, a, inv, fwd_quant, fwd_prox), [-1, n])
        if self.outputs == "estimate":
            return {"x_hat": tf.identity(x_real, name="x_hat")}

        with tf.name_scope(SCOPES["soft_output"]):
            llr = self._soft_output(x_real, hr, s_real, a, inv, slopes)
        return {"llr": llr, "x_hat": tf.identity(x_real, name="x_hat")}

    def _soft_output(self, x_real, hr, s_real, a, inv, slopes):
        # affine pass (Gaussian approximation): prox -> D r + o, quantizers -> identity
        c = self.grid_scale
        n = 2 * self.num_tx
        m = 2 * self.num_rx
        last = tf.one_hot(m, m + 1, dtype=tf.float32)
        ht = tf.transpose(hr, [0, 2, 1])
        rhs = tf.pad(ht, [[0, 0], [0, 0], [0, 1]])  # [B, N, M + 1]
        w_aff = self._layers(rhs, a, inv, lambda kind, k, t: t,
                             lambda k, r, thr: slopes[k][0] * r + slopes[k][1] * last)
        w, o = w_aff[..., :-1], tf.reshape(w_aff[..., -1:], [-1, n])
        b = tf.matmul(w, hr)  # [B, N, N]
        eye = tf.eye(n, dtype=tf.float32)
        mu = tf.reduce_sum(b * eye, -1)
        c2 = c * c
        noise = tf.reduce_sum(tf.matmul(w, s_real * c2) * w, axis=-1)  # diag(W S W^T)
        interference = self.energy_per_dim * (tf.reduce_sum(tf.square(b), -1) - tf.square(mu))
        # tf.where(mu > MIN_GAIN, ...) of the TF model as products with a 0/1 indicator
        # (GREATER, SELECT_V2 and the FILL of ones_like run outside XNNPACK)
        informative = positive_indicator(mu - MIN_GAIN)
        mu = informative * mu + (1.0 - informative)
        x_unb = informative * ((x_real - o) / mu)
        var = (informative * ((tf.maximum(interference, 0.0) + noise) / tf.square(mu))
               + (1.0 - informative) * NO_INFO_VAR)
        nt = self.num_tx
        no_eff = (var[..., :nt] + var[..., nt:]) / c2
        return real_demap(x_unb[..., :nt] / c, x_unb[..., nt:] / c, no_eff, self.k_bits,
                          self.demapping_method)
