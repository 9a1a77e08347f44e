"""Hybrid ARQ over Sionna's 5G LDPC code.

:mod:`kaq_sionna.harq.rate_matching` implements the circular-buffer rate
matching of 3GPP TS 38.212 5.4.2 (redundancy versions, filler bits, limited
buffer rate matching, bit interleaving) with stateless soft-buffer combining;
:mod:`kaq_sionna.harq.soft_buffer` models the soft-buffer memory (:class:`SoftBuffer`:
what a failed round leaves, stored through a soft-bit compressor, with an exact bit count);
:mod:`kaq_sionna.harq.eqnet_compressor` makes EQ-Net such a compressor for per-round storage;
:mod:`kaq_sionna.harq.memory` dimensions the soft-buffer memory of an NR cell.
"""

from kaq_sionna.harq.rate_matching import (
    DEFAULT_RV_SEQUENCE,
    NUM_RVS,
    CircularBufferRateMatcher,
    FullBufferLDPC5GEncoder,
    k0_position,
    lbrm_n_ref,
    select_base_graph,
)
from kaq_sionna.harq.soft_buffer import (
    STORAGE_POINTS,
    SoftBuffer,
    SoftBufferStorage,  # deprecated alias of SoftBuffer
)

__all__ = [
    "DEFAULT_RV_SEQUENCE",
    "NUM_RVS",
    "STORAGE_POINTS",
    "CircularBufferRateMatcher",
    "FullBufferLDPC5GEncoder",
    "SoftBuffer",
    "SoftBufferStorage",
    "k0_position",
    "lbrm_n_ref",
    "select_base_graph",
]
