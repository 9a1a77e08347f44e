r"""Row-aligned byte layout of EQ-Net codes: one code vector (channel use) per whole number of
bytes.

This layout allows random access per channel use but rounds every vector up to whole bytes;
the exact, contiguous packing of the stored bits is the compressor's ``pack`` / ``unpack``
(:class:`~kaq_sionna.softbits.Compressor`).
"""

import math

import numpy as np

__all__ = ["pack_codes", "unpack_codes"]


def _check_num_bits(num_bits):
    if isinstance(num_bits, bool) or not isinstance(num_bits, (int, np.integer)) \
            or not 1 <= num_bits <= 8:
        raise ValueError(f"bits per feature must be an integer in 1..8, found {num_bits!r}")


def pack_codes(codes, num_bits):
    r"""Packs integer codes into bytes: ``ceil(num_bits * F / 8)`` bytes per code vector.

    Layout of one code vector ``codes[..., 0:F]`` (one channel use): the codes
    are written in feature order, each as ``num_bits`` bits, most significant
    bit first; the resulting ``num_bits * F``-bit string fills the bytes from
    the most significant bit of byte 0 onwards, and the unused low bits of the
    last byte are 0. Example (``num_bits = 6``, ``F = 6``): 36 bits in 5 bytes,
    the last 4 bits zero.

    Parameters
    ----------
    codes : array_like, [..., F], integer in ``[0, 2**num_bits)``
    num_bits : int, 1..8

    Output
    ------
    : np.ndarray, [..., ceil(num_bits * F / 8)], uint8
    """
    _check_num_bits(num_bits)
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() >= 2 ** num_bits):
        raise ValueError(f"codes must be in [0, {2 ** num_bits}), found values in "
                         f"[{codes.min()}, {codes.max()}]")
    bits = np.unpackbits(codes.astype(np.uint8)[..., None], axis=-1)[..., 8 - num_bits:]
    bits = bits.reshape(codes.shape[:-1] + (codes.shape[-1] * num_bits,))
    return np.packbits(bits, axis=-1)  # pads the last byte with zeros


def unpack_codes(packed, num_bits, num_features):
    """Inverse of :func:`pack_codes`.

    Parameters
    ----------
    packed : array_like, [..., ceil(num_bits * num_features / 8)], uint8
    num_bits : int, 1..8
    num_features : int

    Output
    ------
    : np.ndarray, [..., num_features], uint8
    """
    _check_num_bits(num_bits)
    packed = np.asarray(packed, np.uint8)
    nbytes = math.ceil(num_bits * num_features / 8)
    if packed.shape[-1:] != (nbytes,):
        raise ValueError(f"packed codes must have {nbytes} bytes in the last axis "
                         f"({num_features} features x {num_bits} bits), found shape "
                         f"{packed.shape}")
    bits = np.unpackbits(packed, axis=-1)[..., :num_bits * num_features]
    bits = bits.reshape(packed.shape[:-1] + (num_features, num_bits))
    weights = (1 << np.arange(num_bits - 1, -1, -1)).astype(np.uint8)
    return (bits * weights).sum(-1, dtype=np.uint8)

