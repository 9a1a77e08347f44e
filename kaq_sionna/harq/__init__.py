"""Hybrid ARQ over Sionna's 5G LDPC code.

:mod:`kaq_sionna.harq.rate_matching` implements the circular-buffer rate
matching of 3GPP TS 38.212 5.4.2 (redundancy versions, filler bits, limited
buffer rate matching, bit interleaving) with stateless soft-buffer combining.
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

__all__ = [
    "DEFAULT_RV_SEQUENCE",
    "NUM_RVS",
    "CircularBufferRateMatcher",
    "FullBufferLDPC5GEncoder",
    "k0_position",
    "lbrm_n_ref",
    "select_base_graph",
]
