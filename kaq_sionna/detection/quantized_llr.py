r"""A soft-bit source followed by an LLR quantizer: ``decompress(compress(source(y, h, s)))``.

Paper 004 (EQ-Net), Sect. 3.4 and Fig. 9: the soft bits of a detector (the
*source*, e.g. exact ML) are stored with a budget of a few bits per soft bit
and read back before LDPC decoding. :class:`QuantizedLLRDetector` puts that
round trip inside a detector, so that any coded link measures the BLER cost of
the storage. It is registered as ``"quantized-llr"``
(:mod:`kaq_sionna.registry.quantized_llr`) with these parameters:

* ``source``: a registry detector name (default ``"ml"``, the paper's Fig. 9);
* ``quantizer``: a scalar storage scheme applied elementwise to the
  ``[..., N_t, K]`` LLRs (``"uniform<b>"``, ``"maxmi<b>"`` for ``b`` in
  1..8, ``"float16"``, ``"float32"``; see
  :data:`kaq_sionna.registry.compressors.COMPRESSORS`), or a shipped EQ-Net model
  (e.g. ``"eqnet-l-2x2-64qam"``) that codes the whole ``[N_t, K]`` matrix of a
  channel use jointly with
  :meth:`~kaq_sionna.softbits.eqnet.EQNet.compress` /
  :meth:`~kaq_sionna.softbits.eqnet.EQNet.decompress`;
* ``eqnet_latent``: ``"codebooks"`` (default) stores an EQ-Net's latent with its
  k-means codebooks; ``"unquantized"`` keeps the float latent,
  :math:`g_Q(f_Q(\Lambda))` (the paper's Fig. 5: the cost of the latent
  dimension alone, :class:`~kaq_sionna.softbits.eqnet.UnquantizedLatent`);
* ``eqnet_blockwise``: `True` lets an EQ-Net model for :math:`N_t` streams
  quantize a link with a multiple of :math:`N_t` streams by blocks of
  :math:`N_t` rows (:class:`~kaq_sionna.softbits.eqnet.BlockwiseEQNet`; the
  paper's Sect. 3.5 and Fig. 10c-d: a 16x16 model for 32x32 and 64x64);
* ``fit_esno_db`` and ``fit_samples``: the fitting set of the scalar
  quantizers that need one (``fit``: the uniform clipping level that
  minimises the MSE, the max-MI cells).

**Fitting (fair comparison).** Quantizers with a ``fit`` method are fitted
once, at build time, on the source's LLRs over a fixed-seed set of the same
kind the shipped EQ-Net's codebooks were trained on
(``scenarios/train/eqnet-l-2x2-64qam.toml``): uniformly random bits, QAM,
i.i.d. Rayleigh flat fading :class:`kaq_sionna.channels.FlatFadingMIMOChannel`
(a new matrix per channel use), ``fit_samples`` channel uses at each Es/N0 of
``fit_esno_db`` (default: the training scenario's six values, 12..27 dB). The
scalar quantizers are therefore fitted once for all SNRs, like EQ-Net's
codebooks, not re-fitted at each operating point. One quantizer serves all
bit positions, as in :func:`kaq_sionna.registry.resolve_compressor`.
Building reseeds Sionna's global random generator (``sionna.phy.config.seed``)
from ``fit_seed``.

**Clipping.** Source LLRs are clipped to :math:`\pm` ``llr_clip`` (default
20, the clipping of Sionna's LDPC decoder and of EQ-Net's output LLRs) before
fitting and before quantization; without it the uniform quantizer's MSE fit
would follow the ML LLRs of the highest SNRs (hundreds) and waste its levels.
It changes neither EQ-Net's input (soft bits :math:`\tanh(\ell/2)` saturate
in float32 well below 20) nor what the decoder sees from an unquantized source.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config

from kaq_sionna.channels import FlatFadingMIMOChannel
from kaq_sionna.core.seeding import derive_seed
from kaq_sionna.detection.ml import detector_chunk_size
from kaq_sionna.softbits.eqnet.unquantized import UnquantizedLatent  # re-exported (moved there)

__all__ = ["DEFAULT_FIT_ESNO_DB", "EQNET_LATENT", "QuantizedLLRDetector", "UnquantizedLatent",
           "fit_source_llrs"]

#: Es/N0 values (dB) of the shipped EQ-Net's training data (scenarios/train/eqnet-l-2x2-64qam.toml)
DEFAULT_FIT_ESNO_DB = [12.0, 15.0, 18.0, 21.0, 24.0, 27.0]

#: How an EQ-Net quantizer stores its latent: k-means codebooks, or the float32 features.
EQNET_LATENT = ("codebooks", "unquantized")


def _run_chunked(fns, y, h, s, chunk):
    """LLRs over numpy inputs, ``chunk`` channel uses per call: ``fns[0]`` (XLA), else ``fns[1]``."""
    out = []
    for i in range(0, y.shape[0], chunk):
        args = [tf.constant(v[i:i + chunk]) for v in (y, h, s)]
        while True:
            try:
                out.append(fns[0](*args).numpy())
                break
            except Exception:  # noqa: BLE001 - no XLA kernel: fall back to graph mode
                if len(fns) == 1:
                    raise
                fns.pop(0)
    return np.concatenate(out, 0)


def fit_source_llrs(source, num_tx, num_rx, num_bits_per_symbol, esno_db, samples_per_snr,
                    seed=0, precision=None):
    r"""LLRs of a source detector on a fixed-seed Rayleigh set (the quantizers' fitting data).

    Uniform random bits -> QAM -> i.i.d. Rayleigh ``CN(0, 1/num_rx)`` flat
    fading (:class:`kaq_sionna.channels.FlatFadingMIMOChannel`, a new matrix
    per channel use) -> AWGN with ``N0 = 10^(-Es/N0 / 10)`` -> ``source``.
    Reseeds ``sionna.phy.config.seed`` (from ``seed`` and the SNR index).

    Parameters
    ----------
    source : callable
        ``source(y, h, s) -> llr``.
    num_tx, num_rx, num_bits_per_symbol : int
    esno_db : list of float
        Es/N0 values in dB.
    samples_per_snr : int
        Channel uses per SNR.
    seed : int
    precision : `None` | "single" | "double"

    Output
    ------
    : [len(esno_db) * samples_per_snr, num_tx, num_bits_per_symbol], np.ndarray
        LLRs.
    """
    from sionna.phy.channel import ApplyFlatFadingChannel
    from sionna.phy.mapping import BinarySource, Mapper

    nt, nr, nbps = num_tx, num_rx, num_bits_per_symbol
    bsrc = BinarySource(precision=precision)
    mapper = Mapper("qam", nbps, precision=precision)
    channel = FlatFadingMIMOChannel(nt, nr, precision=precision)
    apply = ApplyFlatFadingChannel(precision=precision)
    chunk = detector_chunk_size(nt, nbps)
    fns = [tf.function(lambda a, b, c: source(a, b, c), jit_compile=True),
           tf.function(lambda a, b, c: source(a, b, c))]
    out = []
    for i, snr in enumerate(esno_db):
        config.seed = derive_seed(seed, "quantized-llr-fit", i)
        no = float(10.0 ** (-snr / 10.0))  # Es/N0 = 1/N0 (kaq_sionna.channels)
        x = mapper(bsrc([samples_per_snr, nt * nbps]))          # [N, nt]
        h = channel([samples_per_snr])                          # [N, nr, nt]
        y = apply(x, h, tf.constant(no, h.dtype.real_dtype))    # [N, nr]
        s = tf.cast(no * tf.eye(nr, batch_shape=[samples_per_snr]), h.dtype)
        out.append(_run_chunked(fns, y.numpy(), h.numpy(), s.numpy(), chunk))
    return np.concatenate(out, 0)


class QuantizedLLRDetector(Block):
    r"""A soft-bit source whose LLRs go through a quantizer's compress / decompress round trip.

    ``llr = quantizer.decompress(quantizer.compress(clip(source(y, h, s))))``:
    the LLRs the decoder reads back after storing the source's soft bits with
    ``quantizer`` (EQ-Net paper, Fig. 9). See the module docstring for the fitting
    of scalar quantizers and the clipping.

    Parameters
    ----------
    source : callable
        ``source(y, h, s) -> llr [..., num_tx, num_bits_per_symbol]``.
    quantizer : :class:`~kaq_sionna.softbits.Compressor`
        A scalar compressor (elementwise ``compress`` / ``decompress``; fitted
        if needed) or an :class:`~kaq_sionna.softbits.eqnet.EQNet` with
        codebooks, a :class:`~kaq_sionna.softbits.eqnet.BlockwiseEQNet` or an
        :class:`~kaq_sionna.softbits.eqnet.UnquantizedLatent` (``joint=True``).
    joint : bool
        `True` if ``quantizer`` codes ``[..., num_tx, num_bits_per_symbol]``
        matrices (EQ-Net).
    llr_clip : float
        Source LLRs are clipped to :math:`\pm` ``llr_clip`` first.
    precision : `None` | "single" | "double"

    Input
    -----
    y : [..., num_rx], tf.complex
    h : [..., num_rx, num_tx], tf.complex
    s : [..., num_rx, num_rx], tf.complex

    Output
    ------
    llr : [..., num_tx, num_bits_per_symbol], tf.float
        Reconstructed LLRs, in the dtype of the source's LLRs.
    """

    def __init__(self, source, quantizer, joint=False, llr_clip=20.0, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        self.source = source
        self.quantizer = quantizer
        self.joint = bool(joint)
        self.llr_clip = float(llr_clip)

    @property
    def bits_per_soft_bit(self):
        """`float` : Storage bits per soft bit of the quantizer"""
        return float(self.quantizer.bits_per_soft_bit)

    def call(self, y, h, s):
        llr = self.source(y, h, s)
        x = tf.clip_by_value(llr, -self.llr_clip, self.llr_clip)
        if self.joint:
            x = tf.cast(x, tf.float32)
        out = self.quantizer.decompress(self.quantizer.compress(x))
        return tf.cast(out, llr.dtype)
