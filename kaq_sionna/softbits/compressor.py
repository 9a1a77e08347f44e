"""The interface every soft-bit compressor implements (scalar quantizers, EQ-Net, HARQ wrappers).

The HARQ soft buffer (:mod:`kaq_sionna.harq.soft_buffer`), the ``quantized-llr`` detector
and the memory study only rely on what :class:`Compressor` declares.
"""

from typing import Protocol, runtime_checkable

__all__ = ["Compressor", "check_compressor"]


@runtime_checkable
class Compressor(Protocol):
    """A soft-bit compressor: LLRs -> codes written to memory -> LLRs read back.

    Attributes
    ----------
    bits_per_soft_bit : float
        Memory per stored soft bit (for joint compressors such as EQ-Net, the codes of a
        channel use over its soft bits; may be fractional).

    Methods
    -------
    compress(llr) -> codes
        ``llr [..., n]`` (scalar compressors) or ``[..., num_tx, num_bits_per_symbol]``
        (joint compressors), tf.float.
    decompress(codes) -> llr
        The LLRs read back, the shape :meth:`compress` was given.
    num_stored_bits(num_soft_bits) -> tf.int64
        Exact bits that ``num_soft_bits`` stored soft bits occupy.
    """

    @property
    def bits_per_soft_bit(self): ...

    def compress(self, llr): ...

    def decompress(self, codes): ...

    def num_stored_bits(self, num_soft_bits): ...


def check_compressor(obj, what="compressor"):
    """Returns ``obj`` if it implements :class:`Compressor`, else a ``TypeError`` naming what
    it lacks (``what`` names the argument in the message)."""
    missing = [a for a in ("compress", "decompress", "bits_per_soft_bit", "num_stored_bits")
               if not hasattr(obj, a)]
    if missing:
        raise TypeError(f"{what} must be a compressor (compress, decompress, bits_per_soft_bit, "
                        f"num_stored_bits); {obj!r} lacks {', '.join(missing)}")
    return obj
