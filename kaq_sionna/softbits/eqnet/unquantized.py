r"""EQ-Net's quantization autoencoder with an unquantized (float32) latent (EQ-Net paper, Fig. 5).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import tensorflow as tf

from kaq_sionna.softbits.conversion import llr_to_softbit, nan_to_erasure, softbit_to_llr
from kaq_sionna.softbits.packing import pack_bitstream, unpack_bitstream

__all__ = ["UnquantizedLatent"]


class UnquantizedLatent:
    r"""An EQ-Net's quantization autoencoder without numerical quantization of the latent:
    ``compress`` gives the float32 features :math:`f_Q(\Lambda)`, ``decompress`` the LLRs of
    :math:`g_Q(\mathbf z)` (EQ-Net paper, Fig. 5: the cost of the latent dimension alone).

    A :class:`~kaq_sionna.softbits.Compressor` whose codes are the ``latent_dim`` float32
    features of a channel use: ``32 * latent_dim`` bits per channel use, packed as their
    IEEE bit patterns (:mod:`kaq_sionna.softbits.packing`). It needs no codebooks.

    Parameters
    ----------
    eqnet : :class:`~kaq_sionna.softbits.eqnet.EQNet`

    Input
    -----
    ``compress``: llr : [..., num_tx, num_bits_per_symbol], tf.float
    ``decompress``: z : [..., latent_dim], tf.float32

    Output
    ------
    ``compress``: z : [..., latent_dim], tf.float32
    ``decompress``: llr : [..., num_tx, num_bits_per_symbol], the model's ``rdtype``
    """

    def __init__(self, eqnet):
        self.eqnet = eqnet

    @property
    def bits_per_channel_use(self):
        """`int` : 32 bits per latent feature, ``32 * latent_dim``"""
        return 32 * self.eqnet.latent_dim

    @property
    def bits_per_soft_bit(self):
        """`float` : 32 bits per latent feature over the soft bits of a channel use"""
        return 32.0 * self.eqnet.latent_dim / self.eqnet.num_soft_bits

    @property
    def code_dtype(self):
        """`tf.DType` : dtype of the codes (``float32``)"""
        return tf.float32

    def num_stored_bits(self, num_soft_bits):
        """Exact bits of ``num_soft_bits`` stored soft bits: a whole latent vector per
        (started) channel use, ``ceil(num_soft_bits / (num_tx K)) * 32 * latent_dim``.

        Input
        -----
        num_soft_bits : [...], tf.int

        Output
        ------
        : [...], tf.int64
        """
        n = tf.cast(num_soft_bits, tf.int64)
        per = self.eqnet.num_soft_bits
        return (n + per - 1) // per * self.bits_per_channel_use

    def compress(self, llr):
        return self.eqnet.encode(llr_to_softbit(nan_to_erasure(llr)))  # NaN: an erasure

    def decompress(self, z):
        return tf.cast(softbit_to_llr(self.eqnet.decode(z), self.eqnet.llr_max),
                       self.eqnet.rdtype)

    def pack(self, codes):
        """The float32 features ``[..., latent_dim]`` as bytes (32 bits each, big-endian
        IEEE 754), ``[4 * num_features]``, tf.uint8."""
        codes = tf.convert_to_tensor(codes)
        self.eqnet._check_codes(codes, "codes")
        return pack_bitstream(codes, 32, tf.float32)

    def unpack(self, packed, shape):
        """Inverse of :meth:`pack`: the float32 features of ``shape`` ``[..., latent_dim]``."""
        shape = list(shape)
        if not shape or shape[-1] != self.eqnet.latent_dim:
            raise ValueError(f"shape must be [..., {self.eqnet.latent_dim}] (latent_dim), "
                             f"found {shape}")
        return unpack_bitstream(packed, 32, shape, tf.float32)

    def __call__(self, llr):
        return self.decompress(self.compress(llr))

    def __repr__(self):
        return f"UnquantizedLatent(bits_per_soft_bit={self.bits_per_soft_bit:g})"
