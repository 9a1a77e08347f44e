r"""The interface every soft-bit compressor implements (scalar quantizers, EQ-Net, HARQ wrappers).

The HARQ soft buffer (:mod:`kaq_sionna.harq.soft_buffer`), the ``quantized-llr`` detector
and the memory study only rely on what :class:`Compressor` declares.

Implementations: :class:`~kaq_sionna.softbits.NoCompression` (float32),
:class:`~kaq_sionna.softbits.Float16Compressor`,
:class:`~kaq_sionna.softbits.UniformLLRQuantizer`,
:class:`~kaq_sionna.softbits.MaxMIQuantizer`, :class:`~kaq_sionna.softbits.eqnet.EQNet`,
:class:`~kaq_sionna.softbits.eqnet.BlockwiseEQNet`,
:class:`~kaq_sionna.softbits.eqnet.UnquantizedLatent` and
:class:`~kaq_sionna.harq.eqnet_compressor.EQNetRoundCompressor`.
"""

from typing import Protocol, runtime_checkable

__all__ = ["COMPRESSOR_MEMBERS", "Compressor", "check_compressor"]

#: What :class:`Compressor` declares (checked by :func:`check_compressor`).
COMPRESSOR_MEMBERS = ("bits_per_soft_bit", "compress", "decompress", "num_stored_bits", "pack",
                      "unpack")


@runtime_checkable
class Compressor(Protocol):
    r"""A soft-bit compressor: LLRs -> codes written to memory -> LLRs read back.

    ``isinstance(obj, Compressor)`` is `True` for any object with these members (a
    :func:`typing.runtime_checkable` Protocol: pluggability by signature, not inheritance).

    **Exact memory.** The memory image of the codes of ``N`` stored soft bits is
    ``pack(codes)``, exactly

    .. math::
        \left\lceil \frac{\texttt{num\_stored\_bits}(N)}{8} \right\rceil
        = \left\lceil \frac{N \cdot \texttt{bits\_per\_soft\_bit}}{8} \right\rceil

    bytes in total (the equality holds whenever ``codes`` encode whole code units, e.g.
    whole channel uses for EQ-Net): the bits of all codes are written contiguously
    (layout: :mod:`kaq_sionna.softbits.packing`), only the last byte is padded, and
    ``num_stored_bits(N)`` is the packed size in bits before that padding.
    ``decompress(unpack(pack(codes), codes.shape))`` equals ``decompress(codes)`` bit for bit.

    Attributes
    ----------
    bits_per_soft_bit : float
        Memory per stored soft bit (for joint compressors such as EQ-Net, the bits of a
        channel use's codes over its soft bits; may be fractional).

    Methods
    -------
    compress(llr) -> codes
        ``llr [..., n]`` (scalar compressors) or ``[..., num_tx, num_bits_per_symbol]``
        (joint compressors), tf.float. ``codes`` are integer codes (``uint8`` or ``int32``)
        or floating-point values (``float16``, ``float32``), bit-exact.
    decompress(codes) -> llr
        The LLRs read back, the shape :meth:`compress` was given, in the compressor's
        precision (``precision=None | "single" | "double"`` at construction, Sionna's
        convention).
    num_stored_bits(num_soft_bits) -> tf.int64
        Exact bits that ``num_soft_bits`` stored soft bits occupy.
    pack(codes) -> packed
        ``[ceil(num_stored_bits(N) / 8)]``, ``tf.uint8``: the codes as one contiguous bit
        stream (row-major order, each code most significant bit first). Raises
        ``TypeError`` for codes of the wrong dtype, ``ValueError`` for integer codes out
        of range or of the wrong shape.
    unpack(packed, shape) -> codes
        Inverse of :meth:`pack`: the codes of ``shape`` (the shape of the codes that were
        packed), bit-identical, in the dtype :meth:`compress` returns. Raises
        ``TypeError`` if ``packed`` is not ``uint8`` and ``ValueError`` if its length is
        not the packed size of ``shape``.
    """

    @property
    def bits_per_soft_bit(self): ...

    def compress(self, llr): ...

    def decompress(self, codes): ...

    def num_stored_bits(self, num_soft_bits): ...

    def pack(self, codes): ...

    def unpack(self, packed, shape): ...


def check_compressor(obj, what="compressor"):
    """Returns ``obj`` if it implements :class:`Compressor`, else a ``TypeError`` naming what
    it lacks (``what`` names the argument in the message)."""
    missing = [a for a in COMPRESSOR_MEMBERS if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{what} must be a compressor ({', '.join(COMPRESSOR_MEMBERS)}); "
                        f"{obj!r} lacks {', '.join(missing)}")
    return obj
