r"""EQ-Net: joint soft-bit estimation and quantization (EQ-Net paper, Sect. 2.6, Figs. 1-3).

EQ-Net represents the soft-bit matrix :math:`\Lambda \in [-1, 1]^{N_t \times K}`
of one MIMO channel use (``N_t`` streams of a :math:`2^K`-QAM; soft bits
:math:`\Lambda = \tanh(\mathrm{LLR}/2)`, eq. (3)) by a latent feature vector
:math:`\mathbf z \in (-1, 1)^{3 N_t}` (the upper bound of Theorems 2 and 3) and
uses three fully connected networks (Fig. 1):

* the **quantization encoder** :math:`f_Q` (eq. (16)), :math:`\Lambda \mapsto
  \mathbf z`: the flattened soft bits (``N_t K`` values) go through six hidden
  layers of width :math:`4 N_t K` with ReLU and a ``tanh`` latent layer of
  size ``latent_dim`` (default :math:`3 N_t`) (Fig. 2a);
* the **quantization decoder** :math:`g_Q` (eq. (17)), :math:`\mathbf z \mapsto
  \tilde\Lambda`, with the branched architecture of Fig. 2b: the latent vector
  is processed by :math:`K N_t` parallel networks, one per soft bit, each with
  six hidden layers of width :math:`4 N_t K` (ReLU) and a one-unit ``tanh``
  output; the branches share nothing but their input (implemented as batched
  matrix products, :class:`~.layers.BranchedDense`);
* the **estimation encoder** :math:`f_E` (eq. (19)-(20)),
  :math:`(\mathbf y, \mathbf H, \sigma_n) \mapsto \hat{\mathbf z}`: one dense
  ReLU layer per input (real and imaginary parts of the flattened ``y`` and
  ``H``, and :math:`\sigma_n = \sqrt{N_0}`), concatenation (early fusion),
  then residual blocks (:class:`~.layers.ResidualBlock`, six hidden layers each;
  EQ-Net-L: one block, EQ-Net-P: three, Sect. 3.3) and a linear output layer
  of size ``latent_dim`` (Fig. 2c).

Estimation mode (eq. (20)): :math:`\tilde\Lambda = g_Q(f_E(\mathbf y, \mathbf H,
\sigma_n))`. Quantization mode (eqs. (16)-(17)): :math:`\tilde\Lambda =
g_Q(Q(f_Q(\Lambda)))` where :math:`Q` is one scalar k-means++ codebook of
:math:`2^{N_b}` levels per latent feature (Sect. 2.6.3, :mod:`~kaq_sionna.
softbits.codebook`), i.e. exactly :math:`N_b \cdot` ``latent_dim`` bits per
channel use. Both modes share :math:`g_Q` (Fig. 3). LLRs follow Sionna's
convention :math:`\ln\frac{P(b=1)}{P(b=0)}` and are converted with
:func:`~kaq_sionna.softbits.scalar.llr_to_softbit` /
:func:`~kaq_sionna.softbits.scalar.softbit_to_llr` (clipped).

Beyond the paper, behind an option whose default keeps the paper's inputs
(``estimation_inputs="raw"``): ``estimation_inputs="lmmse"`` feeds :math:`f_E`
the LMMSE estimate :math:`\hat{\mathbf x} = (\mathbf G + N_0\mathbf I)^{-1}
\mathbf H^{\mathsf H}\mathbf y` and the Gram matrix :math:`\mathbf G =
\mathbf H^{\mathsf H}\mathbf H` instead of :math:`\mathbf y` and
:math:`\mathbf H` (still one dense layer per input). Given :math:`N_0`, the pair
:math:`(\hat{\mathbf x}, \mathbf G)` is an invertible function of the
sufficient statistic :math:`(\mathbf H^{\mathsf H}\mathbf y, \mathbf G)` of the
ML soft bits, so no information is lost; what changes is that the network
no longer has to learn the matched filter and the inversion from a few
hundred thousand samples (docs/eqnet.md: with the raw inputs and our CPU-sized
data, f_E does not learn to detect at 4x4).

Two details the paper leaves to Fig. 2, taken from the authors' public
implementation (github.com/utcsilab/eq-net): the width of :math:`f_E` is
:math:`16 N_t K` by default (``estimation_width``), and a residual block is
three ReLU layers, each with a ReLU residual branch, followed by three linear
layers to each of which one branch is added before the ReLU
(:class:`~.layers.ResidualBlock`).

The model is :class:`EQNet` here; its layers are in :mod:`.layers`, its losses in
:mod:`.losses`, the byte layout of its codes in :mod:`.codes`, the blockwise wrapper in
:mod:`.blockwise`, saving and loading in :mod:`.model_io`. The trainer is
:mod:`kaq_sionna.training.eqnet_trainer` (two stages, then the codebooks).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import math
import warnings

import keras
import numpy as np
import tensorflow as tf

from kaq_sionna.softbits.codebook import FeatureCodebook
from kaq_sionna.softbits.conversion import llr_to_softbit, nan_to_erasure, softbit_to_llr
from kaq_sionna.softbits.eqnet.codes import _check_num_bits, pack_codes, unpack_codes
from kaq_sionna.softbits.eqnet.layers import BranchedDense, ResidualBlock, _dense
from kaq_sionna.softbits.packing import pack_bitstream, unpack_bitstream
from kaq_sionna.softbits.precision import resolve_precision

__all__ = ["ESTIMATION_INPUTS", "LAYER_DEFAULTS", "VARIANTS", "EQNet", "canonical_name"]

#: Residual blocks of the estimation encoder per variant (Sect. 3.3).
VARIANTS = {"L": 1, "P": 3}
#: What f_E receives: the paper's (y, H, sigma_n), or (LMMSE estimate, Gram matrix, sigma_n).
ESTIMATION_INPUTS = ("raw", "lmmse")
#: Layer-config keys added after models were shipped, with the value older configs imply.
LAYER_DEFAULTS = {"estimation_inputs": "raw"}


class EQNet(keras.layers.Layer):
    r"""EQ-Net soft-bit estimator and quantizer (EQ-Net paper, Sect. 2.6, Figs. 1-2).

    See the module docstring for the architecture. Weights and all computations are
    float32 whatever the ``precision``; the LLRs it returns (:meth:`estimate`,
    :meth:`decompress`, :meth:`reconstruct`) are cast to the precision's real dtype.
    Weights are created at construction (deterministically from ``seed``); the codebooks
    of the quantization mode are learned after training (:meth:`fit_codebooks`) or loaded
    with the model.

    Calling the layer as ``det(y, h, s)`` runs :meth:`estimate`, so an EQNet
    is a Sionna-style MIMO detector with LLR output (usable in
    ``links.CodedMIMOLink`` and the detector registry). In quantization mode it is a
    :class:`~kaq_sionna.softbits.Compressor` (:meth:`compress`, :meth:`decompress`,
    :meth:`num_stored_bits`, :meth:`pack`, :meth:`unpack`).

    Parameters
    ----------
    num_tx : int
        Number of streams :math:`N_t`.
    num_rx : int
        Number of receive antennas :math:`N_r` (input size of :math:`f_E`).
    num_bits_per_symbol : int
        Bits per QAM symbol :math:`K`.
    latent_dim : None | int
        Size of the latent feature vector (default :math:`3 N_t`, Sect. 2.5.4).
    variant : "L" | "P"
        Number of residual blocks of :math:`f_E`: one (L) or three (P).
    bits_per_feature : int
        :math:`N_b`, bits of each latent feature's codebook, 1..8 (default 6).
    hidden_width : None | int
        Width of :math:`f_Q` and of each :math:`g_Q` branch (default :math:`4 N_t K`).
    estimation_width : None | int
        Width of :math:`f_E` (default :math:`16 N_t K`, the authors' code).
    estimation_inputs : "raw" | "lmmse"
        Inputs of :math:`f_E`: the paper's :math:`(\mathbf y, \mathbf H, \sigma_n)`
        (default), or :math:`(\hat{\mathbf x}_\mathrm{LMMSE}, \mathbf H^{\mathsf H}
        \mathbf H, \sigma_n)` (beyond the paper; see the module docstring).
    num_hidden : int
        Hidden layers of :math:`f_Q` and of each :math:`g_Q` branch (paper: 6).
    noise_sigma : float
        :math:`\sigma_u` of the training noise on the latent (eqs. (16)-(18));
        used by the trainer, not by inference.
    llr_max : float
        Clipping of the output LLRs (:func:`~kaq_sionna.softbits.scalar.softbit_to_llr`).
    seed : int
        Weight initialisation seed.
    precision : `None` (default) | "single" | "double"
        Real dtype of the LLRs returned (float32 | float64); `None` uses
        :attr:`sionna.phy.config.precision`. Not part of the stored structure
        (:meth:`get_config`).

    Input
    -----
    y : [..., num_rx], tf.complex
        Received signals.
    h : [..., num_rx, num_tx], tf.complex
        Channel (estimate).
    s : [..., num_rx, num_rx], tf.complex
        Noise covariance; :math:`N_0 = \Re(\mathrm{tr}(\mathbf S)) / N_r` and
        :math:`\sigma_n = \sqrt{N_0}`.

    Output
    ------
    llr : [..., num_tx, num_bits_per_symbol], :attr:`rdtype`
        LLRs :math:`\ln\frac{P(b=1)}{P(b=0)} = 2\,\mathrm{artanh}(\tilde\Lambda)`.
    """

    def __init__(self, num_tx, num_rx, num_bits_per_symbol, latent_dim=None, variant="L",
                 bits_per_feature=6, hidden_width=None, estimation_width=None, num_hidden=6,
                 noise_sigma=1e-3, llr_max=20.0, seed=0, estimation_inputs="raw",
                 precision=None, **kwargs):
        super().__init__(dtype="float32", autocast=False, **kwargs)
        self._precision, self._rdtype = resolve_precision(precision, owner="EQNet")
        for key, value in (("num_tx", num_tx), ("num_rx", num_rx),
                           ("num_bits_per_symbol", num_bits_per_symbol),
                           ("num_hidden", num_hidden), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < (0 if key == "seed" else 1):
                raise ValueError(f"{key} must be a positive integer, found {value!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}, found {variant!r}")
        if estimation_inputs not in ESTIMATION_INPUTS:
            raise ValueError(f"estimation_inputs must be one of {ESTIMATION_INPUTS}, "
                             f"found {estimation_inputs!r}")
        _check_num_bits(bits_per_feature)
        self.num_tx, self.num_rx = int(num_tx), int(num_rx)
        self.num_bits_per_symbol = int(num_bits_per_symbol)
        nk = self.num_tx * self.num_bits_per_symbol
        self.latent_dim = int(latent_dim or 3 * self.num_tx)
        self.variant = variant
        self.estimation_inputs = estimation_inputs
        self.num_blocks = VARIANTS[variant]
        self.bits_per_feature = int(bits_per_feature)
        self.hidden_width = int(hidden_width or 4 * nk)
        self.estimation_width = int(estimation_width or 16 * nk)
        self.num_hidden = int(num_hidden)
        self.noise_sigma = float(noise_sigma)
        self.llr_max = float(llr_max)
        self.seed = int(seed)
        w, we, d = self.hidden_width, self.estimation_width, self.latent_dim
        s0 = 1000 * self.seed  # distinct initialiser seed per layer

        # f_Q (Fig. 2a): flattened soft bits -> num_hidden x ReLU(w) -> tanh(latent_dim)
        self.fq = [_dense(w, "relu", s0 + i, f"fq_dense{i}", nk if i == 0 else w)
                   for i in range(self.num_hidden)]
        self.fq.append(_dense(d, "tanh", s0 + 50, "fq_latent", w))
        # g_Q (Fig. 2b): N_t K branches of num_hidden x ReLU(w) -> tanh(1)
        self.gq = [BranchedDense(nk, d if i == 0 else w, w, "relu", shared_input=i == 0,
                                 seed=s0 + 100 + i, name=f"gq_branch{i}")
                   for i in range(self.num_hidden)]
        self.gq.append(BranchedDense(nk, w, 1, "tanh", seed=s0 + 150, name="gq_out"))
        # f_E (Fig. 2c): one ReLU layer per input, concatenation, residual blocks, linear out
        raw = estimation_inputs == "raw"
        self.fe_y = _dense(we, "relu", s0 + 200, "fe_in_y",
                           2 * (self.num_rx if raw else self.num_tx))
        self.fe_h = _dense(we, "relu", s0 + 201, "fe_in_h",
                           2 * self.num_tx * (self.num_rx if raw else self.num_tx))
        self.fe_n = _dense(we, "relu", s0 + 202, "fe_in_sigma", 1)
        self.fe_blocks = [ResidualBlock(3 * we if b == 0 else we, we, seed=s0 + 300 + 10 * b,
                                        name=f"fe_block{b}") for b in range(self.num_blocks)]
        self.fe_out = _dense(d, None, s0 + 400, "fe_latent", we)
        self.codebook = None
        self.built = True

    # ------------------------------------------------------------------ structure
    def get_config(self):
        """Structure of the model (what :func:`save_eqnet` writes as ``layer``)."""
        return {"num_tx": self.num_tx, "num_rx": self.num_rx,
                "num_bits_per_symbol": self.num_bits_per_symbol, "latent_dim": self.latent_dim,
                "variant": self.variant, "bits_per_feature": self.bits_per_feature,
                "hidden_width": self.hidden_width, "estimation_width": self.estimation_width,
                "num_hidden": self.num_hidden, "noise_sigma": self.noise_sigma,
                "llr_max": self.llr_max, "estimation_inputs": self.estimation_inputs}

    @property
    def quantization_variables(self):
        """Variables of :math:`f_Q` (trained in stage 1)"""
        return [v for layer in self.fq for v in layer.trainable_variables]

    @property
    def decoder_variables(self):
        """Variables of :math:`g_Q` (trained in stage 1, frozen in stage 2)"""
        return [v for layer in self.gq for v in layer.trainable_variables]

    @property
    def estimation_variables(self):
        """Variables of :math:`f_E` (trained in stage 2)"""
        layers = [self.fe_y, self.fe_h, self.fe_n, *self.fe_blocks, self.fe_out]
        return [v for layer in layers for v in layer.trainable_variables]

    def named_variables(self):
        """``[(stable name, variable)]`` of every weight, in a fixed order (f_Q, g_Q, f_E)."""
        out = []
        layers = [*self.fq, *self.gq, self.fe_y, self.fe_h, self.fe_n]
        for block in self.fe_blocks:
            layers += [*block.pre, *block.skip, *block.post]
        layers.append(self.fe_out)
        for layer in layers:
            for v in layer.weights:
                out.append((f"{layer.name}/{v.name}", v))
        return out

    @property
    def precision(self):
        """`str` : "single" | "double", the precision of the LLRs returned"""
        return self._precision

    @property
    def rdtype(self):
        """`tf.DType` : dtype of the LLRs returned (float32 | float64)"""
        return self._rdtype

    # ------------------------------------------------------------------ sizes
    @property
    def num_soft_bits(self):
        """`int` : Soft bits per channel use, ``num_tx * num_bits_per_symbol``"""
        return self.num_tx * self.num_bits_per_symbol

    @property
    def bits_per_channel_use(self):
        r"""`int` : Stored bits per channel use, :math:`N_b \cdot` ``latent_dim``"""
        return self.bits_per_feature * self.latent_dim

    @property
    def bytes_per_channel_use(self):
        """`int` : Bytes per channel use in the row-aligned layout of :meth:`pack_codes`
        (bits rounded up; the exact memory image is :meth:`pack`)"""
        return math.ceil(self.bits_per_channel_use / 8)

    @property
    def bits_per_soft_bit(self):
        r"""`float` : :math:`N_b \cdot` ``latent_dim`` / (``num_tx * num_bits_per_symbol``)"""
        return self.bits_per_channel_use / self.num_soft_bits

    @property
    def code_dtype(self):
        """`tf.DType` : dtype of the codes (``uint8``)"""
        return tf.uint8

    def describe(self, as_dict=False):
        """The model's structure and learned quantizer, by name.

        Output
        ------
        str or dict
            System, variant, estimation inputs, latent size, residual blocks, widths, bits
            per feature and the codebooks (one per latent feature: levels, and their range),
            bits per soft bit, and the number of trained weights of each part (``fe_*``:
            estimation encoder f_E, ``fq``: quantization encoder, ``gq``: decoder).
        """
        parts = {}
        for name in ("fe_y", "fe_h", "fe_n", "fe_blocks", "fe_out", "fq", "gq"):
            part = getattr(self, name, None)
            layers = part if isinstance(part, (list, tuple)) else [part]
            count = sum(int(np.prod(w.shape)) for layer in layers if layer is not None
                        for w in getattr(layer, "weights", []))
            parts[name] = count
        doc = {"type": "EQNet", "system": f"{self.num_tx}x{self.num_rx}, "
               f"{2 ** self.num_bits_per_symbol}-QAM", "variant": self.variant,
               "estimation_inputs": self.estimation_inputs, "latent_dim": self.latent_dim,
               "num_blocks": self.num_blocks, "hidden_width": self.hidden_width,
               "estimation_width": self.estimation_width, "bits_per_feature":
               self.bits_per_feature, "bits_per_soft_bit": round(self.bits_per_soft_bit, 4),
               "llr_max": self.llr_max, "weights_per_part": parts, "codebooks": None}
        if self.codebook is not None:
            levels = np.asarray(self.codebook.levels)
            doc["codebooks"] = {"num_features": int(self.codebook.num_features),
                                "levels_per_feature": int(self.codebook.num_levels),
                                "min": [round(float(v), 4) for v in levels[:, 0]],
                                "max": [round(float(v), 4) for v in levels[:, -1]]}
        if as_dict:
            return doc
        lines = [f"EQNet {doc['variant']}: {doc['system']}, estimation inputs "
                 f"{doc['estimation_inputs']}, {doc['num_blocks']} residual blocks, widths "
                 f"{doc['hidden_width']} / {doc['estimation_width']}",
                 f"latent size {doc['latent_dim']} x {doc['bits_per_feature']} bits per feature "
                 f"= {doc['bits_per_soft_bit']} bits per soft bit; LLR clip {doc['llr_max']}",
                 "trained weights per part: " + ", ".join(f"{k} {v}" for k, v in parts.items())]
        cb = doc["codebooks"]
        if cb is None:
            lines.append("codebooks: none fitted (estimation only)")
        else:
            lines.append(f"codebooks: {cb['num_features']} features x "
                         f"{cb['levels_per_feature']} levels (k-means, Sect. 2.6.3)")
            for i, (lo, hi) in enumerate(zip(cb["min"], cb["max"], strict=True)):
                lines.append(f"  feature {i}: levels in [{lo:.4g}, {hi:.4g}]")
        return "\n".join(lines)

    def num_stored_bits(self, num_soft_bits):
        """Exact number of bits ``num_soft_bits`` stored soft bits occupy.

        Soft bits are stored per channel use (``num_tx * num_bits_per_symbol``
        of them) as :attr:`bits_per_channel_use` bits; a partial matrix still
        costs a whole code vector. It is the size in bits of :meth:`pack` of the codes,
        before the last byte is padded.

        Input
        -----
        num_soft_bits : [...], tf.int

        Output
        ------
        : [...], tf.int64
        """
        n = tf.cast(num_soft_bits, tf.int64)
        per = self.num_soft_bits
        return (n + per - 1) // per * self.bits_per_channel_use

    # ------------------------------------------------------------------ networks
    def encode(self, softbits):
        r"""Quantization encoder :math:`f_Q` (eq. (16)).

        Input
        -----
        softbits : [..., num_tx, num_bits_per_symbol], tf.float

        Output
        ------
        z : [..., latent_dim], tf.float32, in (-1, 1)
        """
        x = tf.cast(softbits, tf.float32)
        self._check_matrix(x, "softbits")
        batch = tf.shape(x)[:-2]
        x = tf.reshape(x, [-1, self.num_soft_bits])
        for layer in self.fq:
            x = layer(x)
        return tf.reshape(x, tf.concat([batch, [self.latent_dim]], 0))

    def decode(self, z):
        r"""Quantization decoder :math:`g_Q` (eq. (17), Fig. 2b).

        Input
        -----
        z : [..., latent_dim], tf.float

        Output
        ------
        softbits : [..., num_tx, num_bits_per_symbol], tf.float32, in (-1, 1)
        """
        z = tf.cast(z, tf.float32)
        batch = tf.shape(z)[:-1]
        x = tf.reshape(z, [-1, self.latent_dim])
        for layer in self.gq:
            x = layer(x)                      # [N_t K branches, batch, width]
        x = tf.transpose(x[..., 0])           # [batch, N_t K]: soft bits row-major
        return tf.reshape(x, tf.concat([batch, [self.num_tx, self.num_bits_per_symbol]], 0))

    def estimate_features(self, y, h, s):
        r"""Estimation encoder :math:`f_E(\mathbf y, \mathbf H, \sigma_n)` (eq. (19)).

        Input
        -----
        y : [..., num_rx], tf.complex
        h : [..., num_rx, num_tx], tf.complex
        s : [..., num_rx, num_rx], tf.complex

        Output
        ------
        z_hat : [..., latent_dim], tf.float32
        """
        y = tf.cast(y, tf.complex64)
        h = tf.cast(h, tf.complex64)
        s = tf.cast(s, tf.complex64)
        batch = tf.shape(y)[:-1]
        y = tf.reshape(y, [-1, self.num_rx])
        hf = tf.reshape(h, [-1, self.num_rx * self.num_tx])
        s = tf.reshape(s, [-1, self.num_rx, self.num_rx])
        n0 = tf.math.real(tf.linalg.trace(s)) / self.num_rx
        if self.estimation_inputs == "lmmse":
            y, hf = self._lmmse_inputs(y, tf.reshape(hf, [-1, self.num_rx, self.num_tx]), n0)
        y_r = tf.concat([tf.math.real(y), tf.math.imag(y)], -1)
        h_r = tf.concat([tf.math.real(hf), tf.math.imag(hf)], -1)
        sigma = tf.sqrt(tf.maximum(n0, 0.0))[:, None]
        x = tf.concat([self.fe_y(y_r), self.fe_h(h_r), self.fe_n(sigma)], -1)  # early fusion
        for block in self.fe_blocks:
            x = block(x)
        return tf.reshape(self.fe_out(x), tf.concat([batch, [self.latent_dim]], 0))

    def _lmmse_inputs(self, y, h, n0):
        r"""``(x_hat [b, num_tx], G [b, num_tx * num_tx])`` for ``estimation_inputs="lmmse"``.

        :math:`N_0 \mathbf I` is the noise covariance f_E is told about
        (:math:`\sigma_n` input); a coloured ``s`` is reduced to it as for the
        paper's inputs.
        """
        hh = tf.linalg.adjoint(h)
        g = tf.matmul(hh, h)
        eye = tf.eye(self.num_tx, dtype=g.dtype)
        a = g + tf.cast(n0, g.dtype)[:, None, None] * eye
        # Cholesky, not tf.linalg.solve: XLA has no complex MatrixSolve (links run under XLA)
        x = tf.linalg.cholesky_solve(tf.linalg.cholesky(a), tf.matmul(hh, y[..., None]))[..., 0]
        return x, tf.reshape(g, [-1, self.num_tx * self.num_tx])

    def estimate_softbits(self, y, h, s):
        r""":math:`g_Q(f_E(\mathbf y, \mathbf H, \sigma_n))` (eq. (20)), soft bits
        ``[..., num_tx, num_bits_per_symbol]``."""
        return self.decode(self.estimate_features(y, h, s))

    def estimate(self, y, h, s):
        """Estimation mode: LLRs ``[..., num_tx, num_bits_per_symbol]``, :attr:`rdtype`
        (see the class)."""
        return tf.cast(softbit_to_llr(self.estimate_softbits(y, h, s), self.llr_max),
                       self._rdtype)

    def call(self, y, h, s, training=None):
        del training  # no layer behaves differently in training
        return self.estimate(y, h, s)

    def reconstruct(self, llr):
        r"""Quantization path without numerical quantization: :math:`g_Q(f_Q(\Lambda))` as
        LLRs (:attr:`rdtype`)."""
        llr = nan_to_erasure(tf.cast(llr, tf.float32))  # a NaN soft bit is an erasure (0)
        return tf.cast(softbit_to_llr(self.decode(self.encode(llr_to_softbit(llr))),
                                      self.llr_max), self._rdtype)

    # ------------------------------------------------------------------ quantization mode
    def set_codebook(self, codebook):
        """Attaches the latent codebooks (a :class:`~kaq_sionna.softbits.codebook.FeatureCodebook`)."""
        if codebook.num_features != self.latent_dim or codebook.num_bits != self.bits_per_feature:
            raise ValueError(f"codebook has {codebook.num_features} features x "
                             f"{codebook.num_bits} bits, the model needs {self.latent_dim} x "
                             f"{self.bits_per_feature}")
        self.codebook = codebook

    def fit_codebooks(self, softbits, seed=0, max_samples=200_000, batch_size=65536):
        r"""Learns the per-feature k-means++ codebooks on training soft bits (Sect. 2.6.3).

        Runs eagerly (:math:`f_Q` in batches, then scipy).

        Input
        -----
        softbits : [num_samples, num_tx, num_bits_per_symbol], float
            Training soft bits (not LLRs).
        seed : int

        Output
        ------
        : :class:`~kaq_sionna.softbits.codebook.FeatureCodebook`, also attached.
        """
        softbits = np.asarray(softbits, np.float32)
        z = np.concatenate([self.encode(softbits[i:i + batch_size]).numpy()
                            for i in range(0, len(softbits), batch_size)], 0)
        cb = FeatureCodebook.fit(z, self.bits_per_feature, seed=seed, max_samples=max_samples)
        self.set_codebook(cb)
        return cb

    def _require_codebook(self):
        if self.codebook is None:
            raise RuntimeError(
                "this EQNet has no latent codebooks yet, so compress/decompress are "
                "unavailable: train them with fit_codebooks(softbits) (the trainer does it "
                "after the two stages) or load a trained model")
        return self.codebook

    def _check_matrix(self, x, what):
        tail = tuple(x.shape[-2:])
        if x.shape.rank is not None and (x.shape.rank < 2 or any(
                d is not None and d != e for d, e in
                zip(tail, (self.num_tx, self.num_bits_per_symbol), strict=True))):
            raise ValueError(f"{what} must have shape [..., {self.num_tx}, "
                             f"{self.num_bits_per_symbol}] (num_tx, num_bits_per_symbol), "
                             f"found {x.shape}")

    def compress(self, llr):
        r"""Quantization mode, encoder side: LLRs of any source to integer codes.

        Soft bits :math:`\tanh(\mathrm{LLR}/2)` -> :math:`f_Q` -> nearest level
        of each feature's codebook. Pure TensorFlow.

        Input
        -----
        llr : [..., num_tx, num_bits_per_symbol], tf.float

        Output
        ------
        codes : [..., latent_dim], tf.uint8
            One code in ``[0, 2**bits_per_feature)`` per latent feature:
            exactly :attr:`bits_per_channel_use` bits per channel use.
        """
        cb = self._require_codebook()
        llr = tf.convert_to_tensor(llr)
        if not llr.dtype.is_floating:
            llr = tf.cast(llr, tf.float32)
        self._check_matrix(llr, "llr")
        # A NaN LLR is an erasure (soft bit 0): without this one NaN entry would make the
        # whole latent vector, and so every LLR of the channel use, NaN or arbitrary.
        llr = nan_to_erasure(tf.cast(llr, tf.float32))
        return cb.encode(self.encode(llr_to_softbit(llr)))

    def decompress(self, codes):
        r"""Quantization mode, decoder side: codes to LLRs, :math:`g_Q(Q(\mathbf z))`.

        Input
        -----
        codes : [..., latent_dim], tf.uint8 | tf.int

        Output
        ------
        llr : [..., num_tx, num_bits_per_symbol], :attr:`rdtype`
        """
        cb = self._require_codebook()
        codes = tf.convert_to_tensor(codes)
        self._check_codes(codes, "codes")
        return tf.cast(softbit_to_llr(self.decode(cb.decode(codes)), self.llr_max),
                       self._rdtype)

    def _check_codes(self, codes, what):
        if codes.shape.rank is not None and (codes.shape.rank < 1 or codes.shape[-1] not in
                                             (None, self.latent_dim)):
            raise ValueError(f"{what} must have shape [..., {self.latent_dim}] (latent_dim), "
                             f"found {codes.shape}")

    def pack(self, codes):
        r"""The codes as one contiguous bit stream: exactly :attr:`bits_per_channel_use` bits
        per channel use, only the last byte padded (layout: :mod:`kaq_sionna.softbits.packing`).

        Input
        -----
        codes : [..., latent_dim], tf.uint8 | tf.int
            What :meth:`compress` returned, ``C`` channel uses.

        Output
        ------
        : [ceil(C * bits_per_channel_use / 8)], tf.uint8
            ``C * bits_per_channel_use = num_stored_bits(C * num_soft_bits)`` bits before padding.
        """
        codes = tf.convert_to_tensor(codes)
        self._check_codes(codes, "codes")
        return pack_bitstream(codes, self.bits_per_feature, self.code_dtype)

    def unpack(self, packed, shape):
        """Inverse of :meth:`pack`.

        Input
        -----
        packed : [ceil(C * bits_per_channel_use / 8)], tf.uint8
        shape : list of int
            Shape ``[..., latent_dim]`` of the codes that were packed.

        Output
        ------
        : ``shape``, tf.uint8
            The codes, bit-identical.
        """
        shape = list(shape)
        if not shape or shape[-1] != self.latent_dim:
            raise ValueError(f"shape must be [..., {self.latent_dim}] (latent_dim), found "
                             f"{shape}")
        return unpack_bitstream(packed, self.bits_per_feature, shape, self.code_dtype)

    def pack_codes(self, codes):
        """Deprecated: row-aligned bytes ``[..., bytes_per_channel_use]`` (layout:
        :func:`~kaq_sionna.softbits.eqnet.codes.pack_codes`; numpy, eager). Every channel
        use is rounded up to whole bytes; the exact memory image is :meth:`pack`."""
        warnings.warn("EQNet.pack_codes rounds every channel use up to whole bytes and is "
                      "deprecated; use EQNet.pack (contiguous, exact)", DeprecationWarning,
                      stacklevel=2)
        return pack_codes(np.asarray(codes), self.bits_per_feature)

    def unpack_codes(self, packed):
        """Deprecated: inverse of :meth:`pack_codes`, ``uint8`` codes ``[..., latent_dim]``."""
        warnings.warn("EQNet.unpack_codes is deprecated; use EQNet.unpack", DeprecationWarning,
                      stacklevel=2)
        return unpack_codes(packed, self.bits_per_feature, self.latent_dim)



def canonical_name(variant, num_tx, num_rx, num_bits_per_symbol, latent_dim=None,
                   single_stage=False, estimation_inputs="raw"):
    """Pretrained name ``eqnet-<mode>-<ntx>x<nrx>-<M>qam``, e.g. ``eqnet-l-2x2-64qam``.

    ``<mode>`` is the variant (``l``, ``p``), followed by ``z<latent_dim>`` for a
    non-default latent size and ``single`` for the single-stage baseline; a
    model whose f_E takes LMMSE inputs ends in ``-lmmse-inputs``.
    """
    mode = variant.lower()
    if latent_dim is not None and latent_dim != 3 * num_tx:
        mode += f"z{latent_dim}"
    if single_stage:
        mode += "single"
    suffix = "" if estimation_inputs == "raw" else f"-{estimation_inputs}-inputs"
    return f"eqnet-{mode}-{num_tx}x{num_rx}-{2 ** num_bits_per_symbol}qam{suffix}"

