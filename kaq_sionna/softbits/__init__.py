"""Soft bits: LLR/soft-bit conversion and soft-bit compressors for storage.

:mod:`kaq_sionna.softbits.scalar` holds the scalar compressors (float32,
float16, uniform ``b``-bit with clipping) with the
``compress / decompress / bits_per_soft_bit`` interface used by the HARQ soft
buffer (:mod:`kaq_sionna.harq.soft_buffer`), and a registry of storage schemes.
:mod:`kaq_sionna.softbits.maxmi` adds the maximum-mutual-information LLR
quantizer of Winkelbauer & Matz (SPAWC 2015), registered as ``"maxmi4"`` and
``"maxmi3"`` (it must be fitted, e.g. by ``HARQLink.calibrate_storage``), and
mutual-information estimates of quantized and unquantized LLRs.
"""

from kaq_sionna.softbits.scalar import (
    DEFAULT_UNIFORM_CLIP,
    STORAGE_SCHEMES,
    Float16Storage,
    NoCompression,
    ScalarCompressor,
    UniformLLRQuantizer,
    llr_to_softbit,
    make_storage,
    softbit_to_llr,
)

# isort: split
# imported after scalar: adds its entries to STORAGE_SCHEMES
from kaq_sionna.softbits.maxmi import (
    MAXMI_METHODS,
    MaxMIQuantizer,
    llr_mutual_information,
    quantized_mutual_information,
)

__all__ = [
    "DEFAULT_UNIFORM_CLIP",
    "MAXMI_METHODS",
    "STORAGE_SCHEMES",
    "Float16Storage",
    "MaxMIQuantizer",
    "NoCompression",
    "ScalarCompressor",
    "UniformLLRQuantizer",
    "llr_mutual_information",
    "llr_to_softbit",
    "make_storage",
    "quantized_mutual_information",
    "softbit_to_llr",
]
