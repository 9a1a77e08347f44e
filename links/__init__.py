"""End-to-end Sionna chains that take a detector as an argument.

Each link is a Sionna block ``link(batch_size, ebno_db) -> (b, b_hat)`` that
:func:`sionna.phy.utils.sim_ber` can drive. :class:`HARQLink` wraps a coded link in HARQ
processes. :data:`LINKS` is the registry the
scenarios and the CLI build links from.
"""

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly first)
from links.coded_mimo import CodedMIMOLink
from links.harq import HARQLink
from links.ofdm import OFDMLink
from links.pusch import PUSCHLink
from links.pusch_harq import PUSCHCodeBlocks
from links.registry import LINKS, LinkSpec, build_link

__all__ = ["CodedMIMOLink", "OFDMLink", "PUSCHLink", "PUSCHCodeBlocks", "HARQLink", "LINKS",
           "LinkSpec", "build_link"]
