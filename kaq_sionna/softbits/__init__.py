"""Soft bits: LLR/soft-bit conversion and soft-bit compressors.

Every compressor implements :class:`Compressor` (:mod:`.compressor`: ``compress``,
``decompress``, ``bits_per_soft_bit``, ``num_stored_bits``, and the exact memory image
``pack`` / ``unpack``). One module per job:

* :mod:`.conversion`: LLR <-> soft bit (:func:`llr_to_softbit`, :func:`softbit_to_llr`);
* :mod:`.scalar`: the scalar compressors (float32 :class:`NoCompression`,
  :class:`Float16Compressor`, uniform ``b``-bit with clipping :class:`UniformLLRQuantizer`);
* :mod:`.maxmi`: the maximum-mutual-information LLR quantizer of Winkelbauer & Matz (SPAWC
  2015; it must be fitted, e.g. by ``HARQLink.calibrate_storage``);
* :mod:`.mutual_information`: mutual-information estimates of quantized and unquantized LLRs;
* :mod:`.packing`: the contiguous bit-stream layout every ``pack`` uses;
* :mod:`.precision`: Sionna's ``precision=None | "single" | "double"`` for compressors;
* :mod:`.codebook`, :mod:`.eqnet`: EQ-Net (imported on demand: it needs Keras).

Compressors by name are in :mod:`kaq_sionna.registry.compressors`.
"""

from kaq_sionna.softbits.compressor import COMPRESSOR_MEMBERS, Compressor, check_compressor
from kaq_sionna.softbits.conversion import llr_to_softbit, softbit_to_llr
from kaq_sionna.softbits.maxmi import MAXMI_METHODS, MaxMIQuantizer
from kaq_sionna.softbits.mutual_information import (
    llr_mutual_information,
    quantized_mutual_information,
)
from kaq_sionna.softbits.packing import num_packed_bytes, pack_bitstream, unpack_bitstream
from kaq_sionna.softbits.precision import PRECISIONS, resolve_precision
from kaq_sionna.softbits.scalar import (
    DEFAULT_UNIFORM_CLIP,
    Float16Compressor,
    Float16Storage,  # deprecated alias of Float16Compressor
    NoCompression,
    ScalarCompressor,
    UniformLLRQuantizer,
)

__all__ = [
    "COMPRESSOR_MEMBERS",
    "DEFAULT_UNIFORM_CLIP",
    "MAXMI_METHODS",
    "PRECISIONS",
    "Compressor",
    "Float16Compressor",
    "Float16Storage",
    "MaxMIQuantizer",
    "NoCompression",
    "ScalarCompressor",
    "UniformLLRQuantizer",
    "check_compressor",
    "llr_mutual_information",
    "llr_to_softbit",
    "num_packed_bytes",
    "pack_bitstream",
    "quantized_mutual_information",
    "resolve_precision",
    "softbit_to_llr",
    "unpack_bitstream",
]
