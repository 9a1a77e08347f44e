"""Soft bits: LLR/soft-bit conversion and soft-bit compressors.

Every compressor implements :class:`Compressor` (:mod:`.compressor`):
:mod:`.conversion` holds the LLR <-> soft-bit conversion, :mod:`.scalar` the scalar
compressors (float32, float16, uniform ``b``-bit with clipping), :mod:`.maxmi` the
maximum-mutual-information LLR quantizer of Winkelbauer & Matz (SPAWC 2015; it must be
fitted, e.g. by ``HARQLink.calibrate_storage``), :mod:`.mutual_information` the
mutual-information estimates of quantized and unquantized LLRs, :mod:`.eqnet` EQ-Net.
Compressors by name are in :mod:`kaq_sionna.registry.compressors`.
"""

from kaq_sionna.softbits.compressor import Compressor, check_compressor
from kaq_sionna.softbits.conversion import llr_to_softbit, softbit_to_llr
from kaq_sionna.softbits.maxmi import MAXMI_METHODS, MaxMIQuantizer
from kaq_sionna.softbits.mutual_information import (
    llr_mutual_information,
    quantized_mutual_information,
)
from kaq_sionna.softbits.scalar import (
    DEFAULT_UNIFORM_CLIP,
    Float16Storage,
    NoCompression,
    ScalarCompressor,
    UniformLLRQuantizer,
)

__all__ = [
    "DEFAULT_UNIFORM_CLIP",
    "MAXMI_METHODS",
    "Compressor",
    "Float16Storage",
    "MaxMIQuantizer",
    "NoCompression",
    "ScalarCompressor",
    "UniformLLRQuantizer",
    "check_compressor",
    "llr_mutual_information",
    "llr_to_softbit",
    "quantized_mutual_information",
    "softbit_to_llr",
]
