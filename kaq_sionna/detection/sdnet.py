r"""SDNet: a convolutional MIMO detector fed with the ZF estimate and the estimated channel.

After Zhang, Guo, Li, Wen, Geng and Jin, *Efficient Deployment of Deep MIMO Detection Using
Learngene*, arXiv 2503.16931 (2025; IEEE TWC 2026). Only the paper's abstract is available:
the network takes "zero-forcing detection outputs and least squares-estimated CSI" and its
reusable segment (the *learngene*) is made of convolutional layers. Everything else here is
this project's choice, stated in ``docs/sdnet.md``:

* **Input image.** With the real-valued equivalent
  :math:`\mathbf{H}_r = \begin{bmatrix}\Re H & -\Im H\\ \Im H & \Re H\end{bmatrix}`
  (:math:`2N_r \times 2N_t`) and :math:`\hat{\mathbf{x}}_{zf} = (\hat H^H \hat H)^{-1}\hat H^H y`
  stacked as :math:`[\Re\hat x; \Im\hat x]`, row :math:`i` of the image
  (:math:`2N_t \times (2 + 2N_r)`, one channel) is :math:`[\hat x_{zf,r,i},\ \sigma_{zf,i},\
  \sqrt{N_r}\,(\mathbf{H}_r^T)_{i,:}]`: one row per real stream, the ZF estimate, the
  standard deviation of its noise per real dimension
  :math:`\sigma_{zf,k} = \sqrt{N_0 [(\hat H^H\hat H)^{-1}]_{kk} / 2}` (what Sionna's ZF
  demapper uses; computed from the same two inputs and ``s``, a choice of this project), then
  the channel column of that stream (scaled to unit-variance entries, so that configurations
  with different :math:`N_r` see the same statistics). ZF components are clipped to
  :math:`\pm` ``zf_clip`` and the noise deviations to ``zf_clip`` (ill-conditioned LS
  estimates).
* **Convolutional front** (the learngene candidates): ``Conv2D`` layers, ``same`` padding,
  ReLU, each with its own name. Their parameters do not depend on :math:`N_t, N_r`, so a
  segment of them can be inherited by a model of another antenna configuration.
* **Dense head**: a 1x1 convolution to ``head_reduce`` channels (``head_reduce``), flatten,
  the Es/N0 in dB / 10 (from ``s``) appended, ReLU dense layers (``head_dense<i>``) and a linear
  output (``head_out``) of :math:`N_t K` bit LLRs.
* **Residual on ZF demapping** (``residual=True``, a choice of this project): the network's
  output is added to the ZF estimate's exact (app) bit LLRs, Sionna's
  :class:`~sionna.phy.mapping.Demapper` with per-stream noise variance
  :math:`N_0[(\hat H^H\hat H)^{-1}]_{kk}`, and the output layer starts at zero, so that an
  untrained SDNet is the ZF detector and training learns the correction.
* **Activation quantization** (``quantizer``, beyond the paper, docs/sdnet.md): a
  :class:`~kaq_sionna.quantization.Quantizer` (the KAQ machinery of the unfolded detectors:
  modes ``kaq`` with the SNR-adaptive step of eq. (15) and the MMD loss, ``qat-mse``, ...) with
  one site per hidden activation, after the ReLU of every front layer, of ``head_reduce`` and
  of every ``head_dense<i>`` (sites ``("x", 1..)`` in that order). The per-sample SNR of the
  adaptive step is :func:`~kaq_sionna.quantization.per_sample_snr` of ``h`` and ``s``. The
  input image, the output layer and the ZF front end (residual) stay in float.
* **Calibration**: the output is trained as the logit of :math:`P(b=1)` with binary cross
  entropy on the bits (:func:`bit_bce`), so it is an LLR in Sionna's sign convention
  :math:`\ln P(b=1|y)/P(b=0|y)`.

Weights and computation are float32; the LLRs are cast to the real dtype of ``precision``.
"""

import keras
import numpy as np
import tensorflow as tf
from sionna.phy import config
from sionna.phy.config import dtypes

from kaq_sionna.quantization.adaptive import per_sample_snr
from kaq_sionna.quantization.modes import make_quantizer

__all__ = ["COLLECTIVE_CONV", "INDIVIDUAL_SIZES", "SDNet", "SDNetCollective", "bit_bce", "bits_from_indices", "conv_spec",
           "count_params", "sdnet_features", "zf_estimate"]

DEFAULT_ZF_CLIP = 4.0
#: Quantizer settings stored in an SDNet's architecture (``"quantizer"``; absent: float).
QUANT_KEYS = ("mode", "num_bits", "epsilon", "calib_percentile", "mmd_max_samples", "mmd_kernel",
              "mmd_bounded", "mmd_max_ratio", "mmd_adversarial", "min_step")


def conv_spec(name, filters, kernel=3):
    """One convolutional layer of an SDNet architecture: ``{"name", "filters", "kernel"}``."""
    return {"name": str(name), "filters": int(filters), "kernel": int(kernel)}


def zf_estimate(y, h, eps=1e-6, return_inverse=False):
    r"""Zero-forcing estimate :math:`(H^H H + \epsilon I)^{-1} H^H y`.

    Input
    -----
    y : [..., num_rx], tf.complex64
    h : [..., num_rx, num_tx], tf.complex64
    eps : float
        Diagonal loading (numerical safety only; 1e-6 against unit-variance columns).

    return_inverse : bool
        Also return the diagonal of :math:`(H^H H + \epsilon I)^{-1}`.

    Output
    ------
    : [..., num_tx], tf.complex64
    diag : [..., num_tx], tf.float32 (only with ``return_inverse``)
    """
    hh = tf.linalg.adjoint(h)
    gram = tf.matmul(hh, h)
    num_tx = tf.shape(h)[-1]
    gram = gram + tf.cast(eps, gram.dtype) * tf.eye(num_tx, dtype=gram.dtype)
    rhs = tf.linalg.matvec(hh, y)[..., None]
    x = tf.linalg.solve(gram, rhs)[..., 0]
    if not return_inverse:
        return x
    return x, tf.math.real(tf.linalg.diag_part(tf.linalg.inv(gram)))


def sdnet_features(y, h, s, zf_clip=DEFAULT_ZF_CLIP):
    r"""SDNet's input image and SNR feature (see the module docstring).

    Input
    -----
    y : [B, num_rx], tf.complex
    h : [B, num_rx, num_tx], tf.complex
    s : [B, num_rx, num_rx], tf.complex
        Noise covariance; its mean diagonal is taken as ``N0``.

    Output
    ------
    image : [B, 2 num_tx, 2 + 2 num_rx, 1], tf.float32
    snr : [B, 1], tf.float32
        Es/N0 in dB / 10.
    """
    y, h, s = (tf.cast(t, tf.complex64) for t in (y, h, s))
    num_rx = h.shape[-2]
    x, inv_diag = zf_estimate(y, h, return_inverse=True)
    xr = tf.clip_by_value(tf.concat([tf.math.real(x), tf.math.imag(x)], -1), -zf_clip, zf_clip)
    no = tf.reduce_mean(tf.math.real(tf.linalg.diag_part(s)), -1, keepdims=True)
    sigma = tf.minimum(tf.sqrt(tf.maximum(no * inv_diag / 2, 0.0)), zf_clip)
    sigma = tf.concat([sigma, sigma], -1)
    hr, hi = tf.math.real(h), tf.math.imag(h)
    # H_r^T = [[Re H^T, Im H^T], [-Im H^T, Re H^T]]: rows = real streams
    ht = tf.linalg.matrix_transpose
    top = tf.concat([ht(hr), ht(hi)], -1)          # [B, Nt, 2Nr]
    bottom = tf.concat([-ht(hi), ht(hr)], -1)      # [B, Nt, 2Nr]
    hrt = tf.concat([top, bottom], -2) * np.sqrt(num_rx).astype(np.float32)
    image = tf.concat([xr[..., None], sigma[..., None], hrt], -1)[..., None]
    snr = -tf.math.log(tf.maximum(no, 1e-12)) / np.log(10.0).astype(np.float32)  # dB / 10
    return image, snr


def bits_from_indices(ind, num_bits_per_symbol):
    """Bits ``[..., num_bits_per_symbol]`` (float32, MSB first, Sionna's QAM labelling) of
    constellation indices ``ind`` (int)."""
    shifts = tf.range(num_bits_per_symbol - 1, -1, -1, dtype=ind.dtype)
    return tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(ind[..., None], shifts), 1),
                   tf.float32)


def bit_bce(bits, llr):
    """Mean binary cross entropy of bits given LLRs ``ln P(b=1)/P(b=0)`` (logits), in nats."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(bits, tf.float32), logits=tf.cast(llr, tf.float32)))


#: The collective model's front: four 3x3 convolutions of 16 channels (``conv0`` at the input).
COLLECTIVE_CONV = tuple(conv_spec(f"conv{i}", 16) for i in range(4))
COLLECTIVE_HEAD = {"head_units": (64,), "head_reduce": 2}

#: Individual model sizes: new conv layers (depth, width) and head width; with an inherited
#: learngene they are the layers around it (:func:`kaq_sionna.detection.learngene.new_layers`).
INDIVIDUAL_SIZES = {
    "s": {"depth": 1, "width": 8, "head_units": (32,), "head_reduce": 2},
    "m": {"depth": 2, "width": 16, "head_units": (64,), "head_reduce": 2},
    "l": {"depth": 3, "width": 32, "head_units": (128,), "head_reduce": 4},
}


def _make_conv(spec):
    layer = keras.layers.Conv2D(spec["filters"], spec["kernel"], padding="same",
                                activation="relu", name=spec["name"], dtype="float32")
    return layer


def count_params(layers):
    """Number of scalar parameters of an iterable of built Keras layers."""
    return int(sum(int(np.prod(w.shape)) for layer in layers for w in layer.weights))


class SDNet(keras.layers.Layer):
    r"""SDNet detector ``det(y, h, s) -> LLRs`` (Sionna MIMO detector signature).

    Parameters
    ----------
    num_tx, num_rx : int
        Streams and receive antennas.
    num_bits_per_symbol : int
        QAM order in bits ``K``.
    conv : list of dict
        Convolutional front, bottom (input side) first, each :func:`conv_spec`
        ``{"name", "filters", "kernel"}``; names are unique.
    head_units : tuple of int
        Widths of the ReLU dense layers of the head.
    head_reduce : int
        Channels of the head's 1x1 convolution.
    conv_layers : `None` | list of keras.layers.Conv2D
        Existing layers to use for the front instead of new ones (shared with another
        SDNet, e.g. the collective model's heads share one front); must match ``conv``.
    zf_clip : float
        Clip of the ZF components.
    output : "bit"
        Only bit LLRs.
    hard_out : bool
        Hard decisions (0./1.) instead of LLRs.
    precision : `None` | "single" | "double"
        Dtype of the output (`None`: ``sionna.phy.config.precision``).
    quantizer : `None` | str | :class:`~kaq_sionna.quantization.Quantizer`
        Activation quantizer of the hidden layers (module docstring; a mode name builds
        ``Quantizer(mode)``; single precision only); `None`: float activations.

    Input
    -----
    y : [..., num_rx], tf.complex
    h : [..., num_rx, num_tx], tf.complex
        Channel (estimate), e.g. LS-estimated.
    s : [..., num_rx, num_rx], tf.complex
        Noise covariance.

    Output
    ------
    : [..., num_tx, num_bits_per_symbol], tf.float
        LLRs ``ln P(b=1|y)/P(b=0|y)`` (or hard bits).
    """

    def __init__(self, num_tx, num_rx, num_bits_per_symbol, conv, head_units=(128,),
                 head_reduce=4, conv_layers=None, zf_clip=DEFAULT_ZF_CLIP, residual=True,
                 output="bit", hard_out=False, precision=None, quantizer=None, **kwargs):
        super().__init__(dtype="float32", autocast=False, **kwargs)
        if output != "bit":
            raise ValueError(f"SDNet: output must be 'bit', found {output!r}")
        names = [c["name"] for c in conv]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"SDNet: conv layer names must be unique and non-empty: {names}")
        if any(n.startswith("head_") for n in names):
            raise ValueError("SDNet: conv layer names must not start with 'head_'")
        self.num_tx, self.num_rx = int(num_tx), int(num_rx)
        self.num_bits_per_symbol = int(num_bits_per_symbol)
        self.conv = [dict(c) for c in conv]
        self.head_units = tuple(int(u) for u in head_units)
        self.head_reduce = int(head_reduce)
        self.zf_clip = float(zf_clip)
        self.residual = bool(residual)
        if self.residual:
            from sionna.phy.mapping import Demapper

            self._demapper = Demapper("app", "qam", self.num_bits_per_symbol,
                                      precision="single")
        self.hard_out = bool(hard_out)
        self.precision = precision or config.precision
        self._rdtype = dtypes[self.precision]["tf"]["rdtype"]
        rows, cols = 2 * self.num_tx, 2 + 2 * self.num_rx
        channels = 1
        if conv_layers is None:
            conv_layers = [_make_conv(c) for c in self.conv]
        if len(conv_layers) != len(self.conv):
            raise ValueError("SDNet: conv_layers must match conv")
        self.conv_layers = list(conv_layers)
        for spec, layer in zip(self.conv, self.conv_layers, strict=True):
            if layer.filters != spec["filters"] or layer.kernel_size[0] != spec["kernel"]:
                raise ValueError(f"SDNet: shared layer {layer.name} does not match {spec}")
            if not layer.built:
                layer.build((None, rows, cols, channels))
            channels = spec["filters"]
        self.head_layers = [keras.layers.Conv2D(self.head_reduce, 1, activation="relu",
                                                name="head_reduce", dtype="float32")]
        self.head_layers[0].build((None, rows, cols, channels))
        width = rows * cols * self.head_reduce + 1
        for i, units in enumerate(self.head_units):
            dense = keras.layers.Dense(units, activation="relu", name=f"head_dense{i}",
                                       dtype="float32")
            dense.build((None, width))
            self.head_layers.append(dense)
            width = units
        out = keras.layers.Dense(self.num_tx * self.num_bits_per_symbol, name="head_out",
                                 dtype="float32",
                                 kernel_initializer="zeros" if self.residual else "glorot_uniform")
        out.build((None, width))
        self.head_layers.append(out)
        self.quantizer = make_quantizer(quantizer, "single")
        if self.quantizer is not None:
            if self.quantizer.precision != "single":
                raise ValueError("SDNet: the quantizer must have precision 'single'")
            if self.quantizer.quantize_intermediate:
                raise ValueError("SDNet: quantize_intermediate is not supported (one site per "
                                 "hidden layer)")
            self.quantizer.attach(len(self.conv_layers) + len(self.head_layers) - 1)

    # ------------------------------------------------------------------ structure
    def named_layers(self):
        """``[(name, layer), ...]``: the front (bottom first) then the head."""
        return [(c["name"], layer) for c, layer in zip(self.conv, self.conv_layers,
                                                        strict=True)] + \
            [(layer.name, layer) for layer in self.head_layers]

    def layer_by_name(self, name):
        for n, layer in self.named_layers():
            if n == name:
                return layer
        raise KeyError(f"SDNet has no layer {name!r}; layers: "
                       f"{', '.join(n for n, _ in self.named_layers())}")

    def named_weights(self):
        """``{"<layer>/kernel": variable, "<layer>/bias": variable, ...}`` in layer order,
        then the quantizer's (:meth:`quantizer_weights`)."""
        out = {}
        for name, layer in self.named_layers():
            out[f"{name}/kernel"] = layer.kernel
            out[f"{name}/bias"] = layer.bias
        out.update(self.quantizer_weights())
        return out

    def quantizer_weights(self):
        """``{"quantizer/<step|alpha|gamma>": variable, "quantizer/<mmd_x<k>>/<name>": ...}``
        (empty without quantizer)."""
        q, out = self.quantizer, {}
        if q is None:
            return out
        for attr in ("step", "alpha", "gamma"):
            if hasattr(q, attr):
                out[f"quantizer/{attr}"] = getattr(q, attr)
        for mmd in getattr(q, "mmd", []):
            for w in mmd.weights:
                out[f"quantizer/{mmd.name}/{w.name}"] = w
        return out

    def architecture(self):
        """JSON-serialisable description (enough to rebuild the network)."""
        return {"num_tx": self.num_tx, "num_rx": self.num_rx,
                "num_bits_per_symbol": self.num_bits_per_symbol, "conv": [dict(c) for c in
                                                                          self.conv],
                "head_units": list(self.head_units), "head_reduce": self.head_reduce,
                "zf_clip": self.zf_clip, "residual": self.residual,
                **({} if self.quantizer is None else {"quantizer": {
                    k: self.quantizer.get_config()[k] for k in QUANT_KEYS}})}

    def num_params(self, names=None):
        """Parameters of the layers ``names`` (default: all)."""
        layers = [layer for n, layer in self.named_layers() if names is None or n in names]
        return count_params(layers)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self.architecture())
        cfg.pop("quantizer", None)
        cfg.update(hard_out=self.hard_out, precision=self.precision)
        return cfg

    # ------------------------------------------------------------------ forward
    def network(self, image, snr, q_snr=None, training=False):
        """The network after the ZF front end: ``(image, snr) -> correction [B, num_tx, K]``
        (before the residual ZF LLRs), and the per-site MMDs (``kaq`` in training, else
        an empty list).

        ``q_snr`` [B] is the linear per-sample SNR of an adaptive quantizer step."""
        q, mmds = self.quantizer, []
        site = 0

        def quant(z):
            nonlocal site
            if q is None:
                return z
            shape = tf.shape(z)
            n = int(np.prod(z.shape[1:]))
            snr_q = None if q_snr is None else tf.reshape(q_snr, [-1, 1, 1])
            z_q, mmd = q.quantize_site(tf.reshape(z, [-1, n, 1]), site, snr_q,
                                       training=training)
            site += 1
            if mmd is not None:
                mmds.append(mmd)
            return tf.reshape(z_q, shape)

        z = image
        for layer in self.conv_layers:
            z = quant(layer(z))
        z = quant(self.head_layers[0](z))
        z = tf.concat([tf.reshape(z, [tf.shape(z)[0], -1]), snr], -1)
        for layer in self.head_layers[1:-1]:
            z = quant(layer(z))
        z = self.head_layers[-1](z)
        return tf.reshape(z, [-1, self.num_tx, self.num_bits_per_symbol]), mmds

    def estimate(self, y, h, s, training=False):
        """:meth:`logits` (the forward pass :meth:`Quantizer.calibrate
        <kaq_sionna.quantization.Quantizer.calibrate>` runs)."""
        return self.forward(y, h, s, training)[0]

    def logits(self, y, h, s):
        """Float32 LLRs ``[..., num_tx, K]`` (the differentiable output)."""
        return self.forward(y, h, s)[0]

    def forward(self, y, h, s, training=False):
        r"""``(llr, reg)``: :meth:`logits` and the quantizer's regulariser
        :math:`\epsilon\sum_k \mathrm{MMD}_k` of eq. (16) (``kaq`` with ``training``; else
        0.0), to be added to the training loss."""
        batch_shape = tf.shape(y)[:-1]
        y = tf.reshape(y, [-1, self.num_rx])
        h = tf.reshape(h, [-1, self.num_rx, self.num_tx])
        s = tf.reshape(s, [-1, self.num_rx, self.num_rx])
        z, snr = sdnet_features(y, h, s, self.zf_clip)
        q_snr = None
        if self.quantizer is not None and self.quantizer.needs_snr:
            q_snr = per_sample_snr(tf.cast(h, tf.complex64), tf.cast(s, tf.complex64))
        z, mmds = self.network(z, snr, q_snr, training=training)
        reg = 0.0
        if mmds and self.quantizer.epsilon > 0:
            reg = self.quantizer.epsilon * tf.add_n(mmds)  # eq. (16)
        if self.residual:
            z = z + self.zf_llr(y, h, s)
        shape = tf.concat([batch_shape, [self.num_tx, self.num_bits_per_symbol]], 0)
        return tf.reshape(z, shape), reg

    def zf_llr(self, y, h, s):
        """The residual's ZF app LLRs ``[B, num_tx, K]`` (float32) of ``y [B, num_rx]``,
        ``h [B, num_rx, num_tx]``, ``s [B, num_rx, num_rx]`` (see the module docstring)."""
        x, inv_diag = zf_estimate(tf.cast(y, tf.complex64), tf.cast(h, tf.complex64),
                                  return_inverse=True)
        no = tf.reduce_mean(tf.math.real(tf.linalg.diag_part(tf.cast(s, tf.complex64))), -1,
                            keepdims=True)
        llr = self._demapper(x, tf.maximum(no * inv_diag, 1e-9))
        return tf.reshape(llr, [-1, self.num_tx, self.num_bits_per_symbol])

    def call(self, y, h, s, training=None):
        llr, reg = self.forward(y, h, s, training=bool(training))
        if not isinstance(reg, float):
            self.add_loss(reg)
        if self.hard_out:
            llr = tf.cast(llr > 0, tf.float32)
        return tf.cast(llr, self._rdtype)


class SDNetCollective:
    """The collective model: one convolutional front shared by one SDNet head per task.

    The tasks of a collective model may differ in antenna configuration and modulation, so
    each has its own head (input and output sizes differ); the front is the part trained
    across all tasks (with EWC, :mod:`kaq_sionna.training.sdnet_trainer`) and the source of
    the learngene.

    Parameters
    ----------
    conv : list of dict
        The front (:func:`conv_spec` entries), bottom first.
    tasks : dict
        ``{task name: (num_tx, num_rx, num_bits_per_symbol)}``, in training order.
    head_units, head_reduce, zf_clip :
        As for :class:`SDNet` (the same for every head).
    """

    def __init__(self, conv, tasks, head_units=(128,), head_reduce=4, zf_clip=DEFAULT_ZF_CLIP,
                 precision=None):
        self.conv = [dict(c) for c in conv]
        self.conv_layers = [_make_conv(c) for c in self.conv]
        self.models = {}
        for name, (ntx, nrx, nbps) in tasks.items():
            self.models[name] = SDNet(ntx, nrx, nbps, self.conv, head_units, head_reduce,
                                      conv_layers=self.conv_layers, zf_clip=zf_clip,
                                      precision=precision, name=f"sdnet_{name}")

    def front_weights(self):
        """``{"<layer>/kernel" | "<layer>/bias": variable}`` of the shared front."""
        out = {}
        for c, layer in zip(self.conv, self.conv_layers, strict=True):
            out[f"{c['name']}/kernel"] = layer.kernel
            out[f"{c['name']}/bias"] = layer.bias
        return out

    def named_weights(self):
        """Every variable: the front's, then ``"<task>:<head layer>/<kernel|bias>"``."""
        out = dict(self.front_weights())
        for task, model in self.models.items():
            for layer in model.head_layers:
                out[f"{task}:{layer.name}/kernel"] = layer.kernel
                out[f"{task}:{layer.name}/bias"] = layer.bias
        return out
