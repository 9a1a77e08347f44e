r"""Exact packing of stored codes into bytes: the memory image of a compressor's output.

A compressor's codes (:class:`~kaq_sionna.softbits.Compressor`) are written to memory as one
contiguous bit stream: every code takes exactly ``num_bits`` bits and nothing is rounded up
until the very last byte, so ``n`` codes take exactly :math:`\lceil n \cdot
\mathrm{num\_bits} / 8 \rceil` bytes (:func:`num_packed_bytes`).

Layout (the same for every compressor):

* the codes are taken in row-major (C) order of the codes tensor;
* each code is written as ``num_bits`` bits, most significant bit first; integer codes are
  their value in :math:`[0, 2^{\mathrm{num\_bits}})`, floating-point codes (``float16``,
  ``float32``) their IEEE 754 bit pattern (sign bit first: big-endian);
* the bit stream fills the bytes from the most significant bit of byte 0 onwards; the unused
  low bits of the last byte are 0.

Example: six 6-bit codes take 36 bits, i.e. 5 bytes (the last 4 bits zero); two such
vectors take 72 bits, 9 bytes (not 10).

:func:`pack_bitstream` and :func:`unpack_bitstream` are pure TensorFlow (graph- and
XLA-friendly); the range check of integer codes runs in eager mode only.
"""

import math
import numbers

import tensorflow as tf

__all__ = ["num_packed_bytes", "pack_bitstream", "unpack_bitstream"]

#: Code dtypes stored as their IEEE bit pattern: dtype -> (bits, unsigned dtype of that width).
_FLOAT_CODES = {tf.float16: (16, tf.uint16), tf.float32: (32, tf.uint32)}


def num_packed_bytes(num_codes, num_bits):
    r"""Bytes of ``num_codes`` packed codes of ``num_bits`` bits: :math:`\lceil
    \mathrm{num\_codes} \cdot \mathrm{num\_bits} / 8 \rceil`.

    Input
    -----
    num_codes : int
    num_bits : int

    Output
    ------
    : int
    """
    return -(-int(num_codes) * int(num_bits) // 8)


def _check_num_bits(num_bits, code_dtype):
    if isinstance(num_bits, bool) or not isinstance(num_bits, numbers.Integral) \
            or not 1 <= num_bits <= 32:
        raise ValueError(f"num_bits must be an integer in 1..32, found {num_bits!r}")
    if code_dtype in _FLOAT_CODES and _FLOAT_CODES[code_dtype][0] != num_bits:
        raise ValueError(f"{code_dtype.name} codes take {_FLOAT_CODES[code_dtype][0]} bits, "
                         f"found num_bits={num_bits}")
    if code_dtype.is_integer and num_bits > 8 * code_dtype.size:
        raise ValueError(f"{code_dtype.name} codes cannot hold {num_bits} bits")


def _check_shape(shape):
    try:
        dims = [int(d) for d in tf.TensorShape(shape).as_list()]
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a fully known shape (list of non-negative ints), "
                         f"found {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"shape must have non-negative dimensions, found {shape!r}")
    return dims


def pack_bitstream(codes, num_bits, code_dtype=None):
    r"""Packs codes into one contiguous byte stream (layout: module docstring).

    Input
    -----
    codes : [...], tf.uint8 | tf.int | tf.float16 | tf.float32
        Codes as a compressor's ``compress`` returns them. Integer codes must be in
        :math:`[0, 2^{\mathrm{num\_bits}})` (checked in eager mode).
    num_bits : int
        Bits per code, 1..32 (the bit width of the dtype for floating-point codes).
    code_dtype : `None` | tf.DType
        The dtype the codes must have (`None`: the dtype of ``codes``). An integer
        ``code_dtype`` accepts codes of any integer dtype.

    Output
    ------
    : [ceil(num_codes * num_bits / 8)], tf.uint8
        The bytes, ``num_codes`` being the number of elements of ``codes``.

    Raises
    ------
    TypeError
        ``codes`` have a dtype other than ``code_dtype`` (or are not integer / float codes).
    ValueError
        ``num_bits`` out of range, or integer codes outside :math:`[0, 2^{\mathrm{num\_bits}})`.
    """
    codes = tf.convert_to_tensor(codes)
    code_dtype = codes.dtype if code_dtype is None else tf.as_dtype(code_dtype)
    _check_num_bits(num_bits, code_dtype)
    if code_dtype in _FLOAT_CODES:
        if codes.dtype != code_dtype:
            raise TypeError(f"codes must be {code_dtype.name} (what compress returns), found "
                            f"{codes.dtype.name}")
        flat = tf.reshape(tf.bitcast(codes, _FLOAT_CODES[code_dtype][1]), [-1])
    elif code_dtype.is_integer:
        if not codes.dtype.is_integer:
            raise TypeError(f"codes must be integer codes ({code_dtype.name}, what compress "
                            f"returns), found {codes.dtype.name}")
        flat = tf.reshape(codes, [-1])
        if tf.executing_eagerly() and flat.shape[0]:
            lo, hi = int(tf.reduce_min(flat)), int(tf.reduce_max(flat))
            if lo < 0 or hi >= 2 ** num_bits:
                raise ValueError(f"codes must be in [0, {2 ** num_bits}) ({num_bits} bits), "
                                 f"found values in [{lo}, {hi}]")
    else:
        raise TypeError(f"code_dtype must be an integer, float16 or float32 dtype, found "
                        f"{code_dtype.name}")
    flat = tf.cast(flat, tf.int64)
    if num_bits % 8 == 0:
        # whole bytes: big-endian bytes of every code
        shifts = tf.range(num_bits - 8, -1, -8, dtype=tf.int64)
        out = tf.bitwise.bitwise_and(tf.bitwise.right_shift(flat[:, None], shifts), 255)
        return tf.reshape(tf.cast(out, tf.uint8), [-1])
    shifts = tf.range(num_bits - 1, -1, -1, dtype=tf.int64)
    bits = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(flat[:, None], shifts), 1),
                   tf.uint8)
    bits = tf.reshape(bits, [-1])
    pad = (-tf.size(bits)) % 8
    bits = tf.reshape(tf.pad(bits, [[0, pad]]), [-1, 8])
    weights = tf.constant([128, 64, 32, 16, 8, 4, 2, 1], tf.int32)
    return tf.cast(tf.reduce_sum(tf.cast(bits, tf.int32) * weights, -1), tf.uint8)


def unpack_bitstream(packed, num_bits, shape, code_dtype):
    r"""Inverse of :func:`pack_bitstream`: the codes of ``shape`` read back from ``packed``.

    Input
    -----
    packed : [ceil(num_codes * num_bits / 8)], tf.uint8
        What :func:`pack_bitstream` returned.
    num_bits : int
        Bits per code.
    shape : list of int
        Shape of the codes that were packed (``num_codes`` is its number of elements).
    code_dtype : tf.DType
        dtype of the codes returned.

    Output
    ------
    : ``shape``, ``code_dtype``
        The codes, bit-identical to those packed.

    Raises
    ------
    TypeError
        ``packed`` is not ``uint8``.
    ValueError
        ``packed`` is not 1-D, or its length is not the number of bytes of
        ``num_codes`` codes of ``num_bits`` bits.
    """
    code_dtype = tf.as_dtype(code_dtype)
    _check_num_bits(num_bits, code_dtype)
    dims = _check_shape(shape)
    num_codes = math.prod(dims)
    packed = tf.convert_to_tensor(packed)
    if packed.dtype != tf.uint8:
        raise TypeError(f"packed must be uint8 bytes (what pack returns), found "
                        f"{packed.dtype.name}")
    nbytes = num_packed_bytes(num_codes, num_bits)
    if packed.shape.rank != 1 or packed.shape[0] not in (None, nbytes):
        raise ValueError(f"packed must have shape [{nbytes}] ({num_codes} codes of {num_bits} "
                         f"bits, shape {dims}), found shape {packed.shape}")
    width = num_bits
    b = tf.cast(packed, tf.int64)
    if width % 8 == 0:
        b = tf.reshape(b, [num_codes, width // 8])
        shifts = tf.range(width - 8, -1, -8, dtype=tf.int64)
    else:
        bits = tf.bitwise.bitwise_and(
            tf.bitwise.right_shift(b[:, None], tf.range(7, -1, -1, dtype=tf.int64)), 1)
        b = tf.reshape(tf.reshape(bits, [-1])[:num_codes * width], [num_codes, width])
        shifts = tf.range(width - 1, -1, -1, dtype=tf.int64)
    values = tf.reduce_sum(tf.bitwise.left_shift(b, shifts), -1)
    if code_dtype in _FLOAT_CODES:
        values = tf.bitcast(tf.cast(values, _FLOAT_CODES[code_dtype][1]), code_dtype)
    else:
        values = tf.cast(values, code_dtype)
    return tf.reshape(values, dims)
