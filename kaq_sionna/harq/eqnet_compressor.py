r"""EQ-Net as a HARQ soft-buffer compressor (storage point ``"rounds"``, the EQ-Net paper Fig. 3).

EQ-Net compresses the soft bits of one channel use of all ``N_t`` streams
jointly (a ``[N_t, Q_m]`` matrix -> ``latent_dim`` codes). In a HARQ link each
stream carries its own codeword, so the soft buffer holds, per codeword and
stored round, the ``E`` LLRs of that stream (:mod:`kaq_sionna.harq.soft_buffer`).
:class:`EQNetRoundCompressor` bridges the two:

* ``compress(llr)`` takes the ``[..., N_t, E]`` round LLRs of the ``N_t``
  codewords sent together (streams on axis -2, transmission order on the last
  axis: ``E / Q_m`` channel uses of ``Q_m`` bits), regroups them per channel
  use into ``[..., E / Q_m, N_t, Q_m]`` matrices, compresses each with EQ-Net
  into ``latent_dim`` codes, and hands each stream an equal share of the codes
  of every channel use: ``[..., N_t, (E / Q_m) (latent_dim / N_t)]``. The
  share is pure book-keeping (a feature belongs to no single stream); what a
  codeword "holds" is ``latent_dim / N_t`` codes of ``bits_per_feature`` bits
  per channel use, so the bit count is exact.
* ``decompress`` inverts this and returns ``[..., N_t, E]`` LLRs.

Because a joint code can only be written whole, it declares ``joint_streams =
True``: :class:`links.HARQLink` then stores a round for every stream of a batch
entry in which any stream failed (and counts those bits), so the matrices stay
consistent.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import tensorflow as tf

from kaq_sionna.softbits.packing import pack_bitstream, unpack_bitstream

__all__ = ["EQNetRoundCompressor", "EQNetRoundStorage"]


class EQNetRoundCompressor:
    r"""Joint-stream soft-bit compressor through a trained :class:`~kaq_sionna.softbits.eqnet.EQNet`.

    A :class:`~kaq_sionna.softbits.Compressor`: the codes of all codewords (``latent_dim /
    num_tx`` codes of ``bits_per_feature`` bits per codeword and channel use) pack into one
    contiguous bit stream (:meth:`pack`) of exactly ``num_stored_bits`` bits before the
    last byte's padding. LLRs come back in the model's precision (``eqnet.rdtype``).

    Parameters
    ----------
    eqnet : :class:`~kaq_sionna.softbits.eqnet.EQNet`
        A model with trained codebooks, for ``N_t`` streams of ``Q_m`` bits;
        ``latent_dim`` must be a multiple of ``N_t``.
    name : str
        Display name (e.g. the pretrained model's name).

    Input
    -----
    llr : [..., num_tx, E], tf.float
        ``compress``: LLRs of one round of the ``num_tx`` codewords sent
        together (``E`` a multiple of ``Q_m``).
    codes : [..., num_tx, E / Q_m * latent_dim / num_tx], tf.uint8
        ``decompress``: what ``compress`` returned.

    Output
    ------
    : codes (``compress``) | [..., num_tx, E], LLRs in ``eqnet.rdtype`` (``decompress``)
    """

    #: the soft bits of all streams of a channel use are coded together
    joint_streams = True
    storage_point = "rounds"

    def __init__(self, eqnet, name="eqnet"):
        if eqnet.latent_dim % eqnet.num_tx:
            raise ValueError(f"EQ-Net round compressor needs latent_dim to be a multiple of num_tx = "
                             f"{eqnet.num_tx}, found latent_dim = {eqnet.latent_dim}")
        eqnet._require_codebook()  # clear error if the model has no codebooks yet
        self.eqnet = eqnet
        self.name = name
        self.num_tx = eqnet.num_tx
        self.num_bits_per_symbol = eqnet.num_bits_per_symbol
        self._share = eqnet.latent_dim // eqnet.num_tx  # codes per stream per channel use

    @property
    def bits_per_soft_bit(self):
        """`float` : ``bits_per_feature * latent_dim / (num_tx * Q_m)``"""
        return float(self.eqnet.bits_per_soft_bit)

    @property
    def code_dtype(self):
        """`tf.DType` : dtype of the codes"""
        return tf.uint8

    def code_length(self, e):
        """Codes per codeword for ``e`` soft bits: ``e / Q_m * latent_dim / num_tx``."""
        if e % self.num_bits_per_symbol:
            raise ValueError(f"E = {e} is not a multiple of Q_m = {self.num_bits_per_symbol}")
        return e // self.num_bits_per_symbol * self._share

    def num_stored_bits(self, num_soft_bits):
        """Exact bits held by ``num_soft_bits`` stored soft bits of one codeword.

        Input
        -----
        num_soft_bits : [...], tf.int
            A multiple of ``Q_m`` (whole channel uses).

        Output
        ------
        : [...], tf.int64
            ``num_soft_bits / Q_m * (latent_dim / num_tx) * bits_per_feature``.
        """
        n = tf.cast(num_soft_bits, tf.int64)
        return n // self.num_bits_per_symbol * (self._share * self.eqnet.bits_per_feature)

    def pack(self, codes):
        """The codes ``[..., num_tx, L]`` as one contiguous bit stream, ``bits_per_feature``
        bits per code (layout: :mod:`kaq_sionna.softbits.packing`).

        Input
        -----
        codes : [..., num_tx, L], tf.uint8
            What :meth:`compress` returned.

        Output
        ------
        : [ceil(num_codes * bits_per_feature / 8)], tf.uint8
        """
        codes = tf.convert_to_tensor(codes)
        self._check(codes, "codes")
        return pack_bitstream(codes, self.eqnet.bits_per_feature, self.code_dtype)

    def unpack(self, packed, shape):
        """Inverse of :meth:`pack`: the codes of ``shape`` ``[..., num_tx, L]``, tf.uint8."""
        shape = list(shape)
        if len(shape) < 2 or shape[-2] != self.num_tx:
            raise ValueError(f"shape must have the {self.num_tx} streams on axis -2, found "
                             f"{shape}")
        return unpack_bitstream(packed, self.eqnet.bits_per_feature, shape, self.code_dtype)

    def _check(self, x, what):
        if x.shape.rank is not None and x.shape.rank >= 2 and x.shape[-2] is not None \
                and x.shape[-2] != self.num_tx:
            raise ValueError(f"{what} must have the {self.num_tx} streams on axis -2, found "
                             f"shape {x.shape}")

    def compress(self, llr):
        llr = tf.convert_to_tensor(llr)
        self._check(llr, "llr")
        q, nt = self.num_bits_per_symbol, self.num_tx
        lead = tf.shape(llr)[:-2]
        e = tf.shape(llr)[-1]
        x = tf.reshape(llr, tf.concat([lead, [nt, e // q, q]], 0))
        x = tf.experimental.numpy.moveaxis(x, -3, -2)  # [..., ncu, nt, q]
        codes = self.eqnet.compress(x)  # [..., ncu, latent]
        codes = tf.reshape(codes, tf.concat([lead, [e // q, nt, self._share]], 0))
        codes = tf.experimental.numpy.moveaxis(codes, -2, -3)  # [..., nt, ncu, share]
        return tf.reshape(codes, tf.concat([lead, [nt, (e // q) * self._share]], 0))

    def decompress(self, codes):
        codes = tf.convert_to_tensor(codes)
        self._check(codes, "codes")
        q, nt = self.num_bits_per_symbol, self.num_tx
        lead = tf.shape(codes)[:-2]
        ncu = tf.shape(codes)[-1] // self._share
        c = tf.reshape(codes, tf.concat([lead, [nt, ncu, self._share]], 0))
        c = tf.experimental.numpy.moveaxis(c, -3, -2)  # [..., ncu, nt, share]
        c = tf.reshape(c, tf.concat([lead, [ncu, nt * self._share]], 0))
        llr = self.eqnet.decompress(c)  # [..., ncu, nt, q]
        llr = tf.experimental.numpy.moveaxis(llr, -3, -2)  # [..., nt, ncu, q]
        return tf.reshape(llr, tf.concat([lead, [nt, ncu * q]], 0))

    def __call__(self, llr):
        return self.decompress(self.compress(llr))

    def __repr__(self):
        return (f"EQNetRoundCompressor({self.name}, "
                f"bits_per_soft_bit={self.bits_per_soft_bit:g})")


EQNetRoundStorage = EQNetRoundCompressor  # deprecated alias (old name of EQNetRoundCompressor)
