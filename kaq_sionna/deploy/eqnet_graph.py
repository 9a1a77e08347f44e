r"""EQ-Net's three networks as exportable real-valued TensorFlow graphs (TFLite builtin ops).

A trained :class:`~kaq_sionna.softbits.eqnet.EQNet` is exported as one of three parts
(its weights are copied as constants; the arithmetic is that of the TF model):

``"estimation"``
    Estimation encoder :math:`f_E` + decoder :math:`g_Q` (eq. (20)):
    ``(y_real, h_real, s_real) -> llr`` (the detector path, :meth:`EQNet.estimate`).
``"encoder"``
    Quantization encoder :math:`f_Q` (eq. (16)) and the per-feature codebooks:
    ``llr -> codes`` (:meth:`EQNet.compress`; codes as int32 in ``[0, 2**N_b)``).
``"decoder"``
    Codebook look-up and decoder :math:`g_Q` (eq. (17)): ``codes -> llr``
    (:meth:`EQNet.decompress`).

Differences from the TF model, all exact: the complex inputs are replaced by the
real-valued model (:mod:`kaq_sionna.deploy.real_model`; ``H`` is re-ordered to
EQ-Net's ``[Re vec(H), Im vec(H)]`` inside the graph), ``atanh`` by ``log``,
and the codebook's nearest-level search by a count of exceeded thresholds
(as :class:`~kaq_sionna.softbits.codebook.FeatureCodebook` does).

:math:`g_Q`'s branches are written as one dense chain each (one
``FULLY_CONNECTED`` op per branch and layer, constant weights), not as the TF
model's batched product per layer: XNNPACK runs an int8 ``FULLY_CONNECTED`` with
static weights with its int8 kernels, but not an int8 ``BATCH_MATMUL``, which
the builtin kernel then ran 3.7-11.5x slower than fp32 (``docs/deployment.md``,
section 6). The whole estimation export is one XNNPACK partition.

In an int8 export only the hidden dense layers (scope ``network``) are
quantized. In float stay: the LLR <-> soft-bit conversions (``tanh``, ``log``,
clipping to ``llr_max``; scope ``soft_output``); the codebook comparison and
look-up (scope ``codebook``); the last layer of :math:`g_Q` (``float_out``:
an int8 ``tanh`` output has the step 1/128, which caps :math:`|\mathrm{LLR}|`
at :math:`\ln 255 \approx 5.5`); and the latent layer of :math:`f_Q`
(``float_latent``: its int8 rounding, up to 1/256, would move latents across
the codebook's decision thresholds, which are about :math:`2/2^{N_b}` apart).
"""

import numpy as np
import tensorflow as tf

from kaq_sionna.deploy.real_model import input_signature, llr_from_softbits
from kaq_sionna.softbits.eqnet.model import EQNet

__all__ = ["EQNET_PARTS", "EQNetExportGraph", "float_tanh"]

EQNET_PARTS = ("estimation", "encoder", "decoder")


def _const(variable):
    """A variable's value as a float32 numpy constant (read eagerly, also while tracing)."""
    with tf.init_scope():
        return np.asarray(variable.numpy(), np.float32)


def _dense(x, layer, activation=None):
    w, b = (_const(v) for v in layer.weights)
    y = tf.matmul(x, w) + b
    return _activate(y, activation)


def _activate(y, activation):
    if activation == "relu":
        return tf.nn.relu(y)
    if activation == "tanh":
        return tf.tanh(y)
    return y


def _concat_tree(xs, fan_in=4):
    """``tf.concat(xs, -1)`` as a tree of concatenations of at most ``fan_in`` tensors:
    XNNPACK delegates a ``CONCATENATION`` only up to a few inputs (LiteRT 2.3)."""
    while len(xs) > 1:
        xs = [tf.concat(xs[i:i + fan_in], -1) if len(xs[i:i + fan_in]) > 1 else xs[i]
              for i in range(0, len(xs), fan_in)]
    return xs[0]


def float_tanh(x):
    r""":math:`\tanh x = 1 - 2/(1 + e^{2x})` with ``EXP``, ``ADD`` and ``DIV``.

    The int8 converter gives a ``TANH`` op a fixed int8 output (step 1/128) even
    when the op itself is kept in float (it inserts a quantize/de-quantize
    pair), so float islands of an int8 export write tanh this way. ``x`` is
    clipped to :math:`\pm 15` first (:math:`\tanh 15` is 1 in float32), so that
    ``EXP`` never overflows (calibration statistics must stay finite).
    """
    x = tf.clip_by_value(x, -15.0, 15.0)
    return 1.0 - 2.0 / (1.0 + tf.exp(2.0 * x))


class EQNetExportGraph(tf.Module):
    r"""One part of a trained EQ-Net as a real-valued graph for the TFLite converter.

    Parameters
    ----------
    model : :class:`~kaq_sionna.softbits.eqnet.EQNet`
    part : "estimation" | "encoder" | "decoder"
        See the module docstring.
    int8 : bool
        Graph for an int8 export: the tanh of the float islands is written as
        :func:`float_tanh`.

    Input
    -----
    ``estimation``: y_real [batch, 2 num_rx], h_real [batch, 2 num_rx, 2 num_tx],
    s_real [batch, 2 num_rx, 2 num_rx], tf.float32
    (:func:`~kaq_sionna.deploy.real_model.real_inputs`).
    ``encoder``: llr [batch, num_tx, num_bits_per_symbol], tf.float32.
    ``decoder``: codes [batch, latent_dim], tf.int32.

    Output
    ------
    dict with
    ``estimation``, ``decoder``: llr [batch, num_tx, num_bits_per_symbol], tf.float32
    ``encoder``: codes [batch, latent_dim], tf.int32, and z [batch, latent_dim],
    tf.float32 (the latent before the codebook).
    """

    def __init__(self, model, part="estimation", int8=False):
        super().__init__()
        if not isinstance(model, EQNet):
            raise TypeError(f"expected an EQNet, found {type(model).__name__}")
        if part not in EQNET_PARTS:
            raise ValueError(f"part must be one of {EQNET_PARTS}, found {part!r}")
        if part == "estimation" and model.estimation_inputs != "raw":
            # the graph below is f_E on (y, H, sigma); an LMMSE front end is not written
            raise ValueError(f"part 'estimation' exports models with estimation_inputs='raw' "
                             f"only; this model's f_E takes {model.estimation_inputs!r} "
                             f"inputs (parts 'encoder' and 'decoder' do not depend on it)")
        if part != "estimation" and model.codebook is None:
            raise ValueError(f"part {part!r} needs a model with trained codebooks")
        self.model, self.part = model, part
        self._tanh = float_tanh if int8 else tf.tanh
        nt, nr, k = model.num_tx, model.num_rx, model.num_bits_per_symbol
        if part == "estimation":
            sig = input_signature(nt, nr)
        elif part == "encoder":
            sig = [tf.TensorSpec([None, nt, k], tf.float32, name="llr")]
        else:
            sig = [tf.TensorSpec([None, model.latent_dim], tf.int32, name="codes")]
        self.serve = tf.function(getattr(self, f"_{part}"), input_signature=sig, autograph=False)
        if model.codebook is not None:
            levels = model.codebook.levels.astype(np.float32)  # sorted, [F, L]
            self.levels = levels
            self.thresholds = 0.5 * (levels[:, 1:] + levels[:, :-1])

    def __call__(self, *args):
        return self.serve(*args)

    # ------------------------------------------------------------------ networks
    def _gq(self, z):
        r"""g_Q: [B, latent] -> soft bits [B, num_tx, K] (Fig. 2b), one dense chain per branch.

        Each of the :math:`N_t K` branches is its own chain of ``tf.matmul(x, W)`` with
        constant ``W`` [in, units]: one ``FULLY_CONNECTED`` op per branch and layer,
        which XNNPACK runs in int8 (static filter and bias). The TF model's batched
        form (``x [nk, B, in] @ W [nk, in, units]``) would convert to one
        ``BATCH_MATMUL`` per layer, whose int8 version XNNPACK does not take
        (the builtin kernel then runs it, 3.7-11.5x slower than fp32;
        ``docs/deployment.md``, section 6). The branches' last hidden outputs are
        concatenated once; the one-unit output layer (``float_out``) is then one float
        ``FULLY_CONNECTED`` with the block-diagonal weight ``[nk * width, nk]`` (branch
        ``i``'s output weights in rows ``i * width ... (i + 1) * width - 1`` of column
        ``i``). An element-wise product and a sum per branch would need fewer weights
        (``nk * width`` instead of ``nk**2 * width``), but it keeps two float copies of
        the ``[B, nk * width]`` activations alive: 8192 instead of 5120 bytes per
        channel use at 4x4 16-QAM, and the same latency within noise.
        """
        m = self.model
        nk = m.num_tx * m.num_bits_per_symbol
        hidden = [(_const(layer.kernel), _const(layer.bias)) for layer in m.gq[:-1]]
        outs = []
        for i in range(nk):
            x = z  # the first layer's input is shared by the branches
            for kern, bias in hidden:
                x = tf.nn.relu(tf.matmul(x, kern[i]) + bias[i])  # [B, units]
            outs.append(x)
        x = _concat_tree(outs)  # [B, nk * units]
        with tf.name_scope("float_out"):  # int8 tanh output would cap |LLR| at ln(255)
            kern, bias = _const(m.gq[-1].kernel), _const(m.gq[-1].bias)  # [nk, w, 1], [nk, 1]
            w = kern.shape[1]
            block = np.zeros([nk * w, nk], np.float32)  # block-diagonal [nk w, nk]
            for i in range(nk):
                block[i * w:(i + 1) * w, i] = kern[i, :, 0]
            x = self._tanh(tf.matmul(x, block) + bias[:, 0])  # [B, nk]
            return tf.reshape(x, [-1, m.num_tx, m.num_bits_per_symbol])

    def _estimation(self, y_real, h_real, s_real):
        m = self.model
        nt, nr = m.num_tx, m.num_rx
        with tf.name_scope("network"):
            # EQ-Net's layout: [Re vec(H), Im vec(H)] (row-major H [nr, nt])
            h_re = tf.reshape(h_real[:, :nr, :nt], [-1, nr * nt])
            h_im = tf.reshape(h_real[:, nr:, :nt], [-1, nr * nt])
            h_flat = tf.concat([h_re, h_im], -1)
            eye = tf.eye(2 * nr, dtype=tf.float32)
            n0 = tf.reduce_sum(s_real * eye, axis=[-2, -1]) / nr  # Re tr(S) / N_r
            sigma = tf.sqrt(tf.maximum(n0, 0.0))[:, None]
            x = tf.concat([_dense(y_real, m.fe_y, "relu"), _dense(h_flat, m.fe_h, "relu"),
                           _dense(sigma, m.fe_n, "relu")], -1)  # early fusion
            for block in m.fe_blocks:
                branches = []
                for pre, skip in zip(block.pre, block.skip, strict=True):
                    x = _dense(x, pre, "relu")
                    branches.append(_dense(x, skip, "relu"))
                for post, r in zip(block.post, branches, strict=True):
                    x = tf.maximum(_dense(x, post) + r, 0.0)
            z = _dense(x, m.fe_out)
            softbits = self._gq(z)
        with tf.name_scope("soft_output"):
            return {"llr": llr_from_softbits(softbits, m.llr_max)}

    def _encoder(self, llr):
        m = self.model
        with tf.name_scope("soft_output"):
            x = self._tanh(llr / 2.0)  # soft bits, eq. (3)
        with tf.name_scope("network"):
            x = tf.reshape(x, [-1, m.num_tx * m.num_bits_per_symbol])
            for layer in m.fq[:-1]:
                x = _dense(x, layer, "relu")
            with tf.name_scope("float_latent"):  # finer than the codebook's level spacing
                z = self._tanh(_dense(x, m.fq[-1]))
        with tf.name_scope("codebook"):
            above = tf.cast(z[..., None] > self.thresholds, tf.int32)
            codes = tf.reduce_sum(above, axis=-1)
        return {"codes": codes, "z": z}

    def _decoder(self, codes):
        m = self.model
        with tf.name_scope("codebook"):
            num_levels = self.levels.shape[1]
            offsets = np.arange(m.latent_dim, dtype=np.int32) * num_levels
            z = tf.gather(self.levels.reshape(-1), codes + offsets)  # [B, latent]
        with tf.name_scope("network"):
            softbits = self._gq(z)
        with tf.name_scope("soft_output"):
            return {"llr": llr_from_softbits(softbits, m.llr_max)}
