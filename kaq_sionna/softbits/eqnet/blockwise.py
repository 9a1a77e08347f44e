r"""EQ-Net for more streams than it was trained for, by blocks of rows (EQ-Net paper, Sect. 3.5).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import warnings

import tensorflow as tf

__all__ = ["BlockwiseEQNet"]


class BlockwiseEQNet:
    r"""Quantizes soft-bit matrices of ``M`` streams by blocks of ``N_t`` rows (Sect. 3.5).

    A model trained for ``N_t`` streams (e.g. 16) compresses the soft bits of a
    larger system (32 or 64 streams) by splitting each ``[M, K]`` matrix into
    ``M / N_t`` consecutive row blocks and compressing each one independently
    (EQ-Net paper, Fig. 10c-d). A :class:`~kaq_sionna.softbits.Compressor` like
    :class:`EQNet` (the codes of a block are the model's); LLRs come back in the
    model's precision.

    Parameters
    ----------
    model : :class:`EQNet`
        A model with trained codebooks.
    num_streams : int
        ``M``, a multiple of ``model.num_tx``.

    Input
    -----
    ``compress``: llr : [..., num_streams, num_bits_per_symbol], tf.float
    ``decompress``: codes : [..., num_streams / num_tx, latent_dim], tf.uint8

    Output
    ------
    ``compress``: [..., num_streams / num_tx, latent_dim], tf.uint8
    ``decompress``: [..., num_streams, num_bits_per_symbol], the model's ``rdtype``
    """

    def __init__(self, model, num_streams):
        if num_streams % model.num_tx:
            raise ValueError(f"num_streams={num_streams} must be a multiple of the model's "
                             f"num_tx={model.num_tx}")
        self.model = model
        self.num_streams = int(num_streams)
        self.num_blocks = self.num_streams // model.num_tx

    @property
    def bits_per_soft_bit(self):
        """`float` : As the model's"""
        return self.model.bits_per_soft_bit

    @property
    def bits_per_channel_use(self):
        """`int` : ``num_blocks * model.bits_per_channel_use``"""
        return self.num_blocks * self.model.bits_per_channel_use

    @property
    def code_dtype(self):
        return tf.uint8

    def num_stored_bits(self, num_soft_bits):
        """Exact number of stored bits (see :meth:`EQNet.num_stored_bits`)."""
        return self.model.num_stored_bits(num_soft_bits)

    def compress(self, llr):
        m = self.model
        llr = tf.convert_to_tensor(llr)
        if llr.shape.rank is not None and tuple(llr.shape[-2:]) != (self.num_streams,
                                                                     m.num_bits_per_symbol):
            raise ValueError(f"llr must have shape [..., {self.num_streams}, "
                             f"{m.num_bits_per_symbol}], found {llr.shape}")
        shape = tf.concat([tf.shape(llr)[:-2], [self.num_blocks, m.num_tx,
                                                m.num_bits_per_symbol]], 0)
        return m.compress(tf.reshape(llr, shape))

    def decompress(self, codes):
        m = self.model
        llr = m.decompress(codes)  # [..., blocks, N_t, K]
        shape = tf.concat([tf.shape(llr)[:-3], [self.num_streams, m.num_bits_per_symbol]], 0)
        return tf.reshape(llr, shape)

    def pack(self, codes):
        """The codes ``[..., num_blocks, latent_dim]`` as one contiguous bit stream
        (:meth:`EQNet.pack`): ``ceil(num_codes * bits_per_feature / 8)`` bytes, tf.uint8."""
        self._check_codes(codes)
        return self.model.pack(codes)

    def unpack(self, packed, shape):
        """Inverse of :meth:`pack`: codes of ``shape`` ``[..., num_blocks, latent_dim]``."""
        shape = list(shape)
        if len(shape) < 2 or shape[-2] != self.num_blocks:
            raise ValueError(f"shape must be [..., {self.num_blocks}, {self.model.latent_dim}] "
                             f"(num_blocks, latent_dim), found {shape}")
        return self.model.unpack(packed, shape)

    def _check_codes(self, codes):
        codes = tf.convert_to_tensor(codes)
        if codes.shape.rank is not None and (codes.shape.rank < 2 or codes.shape[-2] not in
                                             (None, self.num_blocks)):
            raise ValueError(f"codes must have shape [..., {self.num_blocks}, "
                             f"{self.model.latent_dim}] (num_blocks, latent_dim), found "
                             f"{codes.shape}")

    def pack_codes(self, codes):
        """Deprecated: row-aligned bytes ``[..., num_blocks, bytes_per_channel_use]``
        (:meth:`EQNet.pack_codes`); the exact memory image is :meth:`pack`."""
        warnings.warn("BlockwiseEQNet.pack_codes is deprecated; use pack (contiguous, exact)",
                      DeprecationWarning, stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self.model.pack_codes(codes)

    def unpack_codes(self, packed):
        """Deprecated: inverse of :meth:`pack_codes`."""
        warnings.warn("BlockwiseEQNet.unpack_codes is deprecated; use unpack",
                      DeprecationWarning, stacklevel=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return self.model.unpack_codes(packed)

