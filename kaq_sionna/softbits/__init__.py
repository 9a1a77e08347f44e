"""Soft bits: LLR/soft-bit conversion and soft-bit compressors for storage.

:mod:`kaq_sionna.softbits.scalar` holds the scalar compressors (float32,
float16, uniform ``b``-bit with clipping) with the
``compress / decompress / bits_per_soft_bit`` interface used by the HARQ soft
buffer (:mod:`kaq_sionna.harq.soft_buffer`), and a registry of storage schemes.
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

__all__ = [
    "DEFAULT_UNIFORM_CLIP",
    "STORAGE_SCHEMES",
    "Float16Storage",
    "NoCompression",
    "ScalarCompressor",
    "UniformLLRQuantizer",
    "llr_to_softbit",
    "make_storage",
    "softbit_to_llr",
]
