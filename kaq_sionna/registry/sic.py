"""Registry entries of the SIC detectors (``mmse-sic``, ``zf-sic``; EQ-Net paper 2.1.2).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

from kaq_sionna.core.params import Param, SpecError
from kaq_sionna.detection.sic import ORDERS, MMSESICDetector, ZFSICDetector
from kaq_sionna.registry.detectors import DetectorSpec
from kaq_sionna.registry.sionna import DEMAPPING


def _needs_enough_antennas(ctx, params):
    if ctx.num_rx < ctx.num_tx:
        raise SpecError("[link] num_rx", f">= num_tx = {ctx.num_tx} for a QR-based SIC detector",
                        ctx.num_rx)


ORDER = Param("order", str, "fixed", "detection order: natural (last stream first) or "
              "a random permutation per channel use", choices=ORDERS)


def _sic(cls):
    def factory(ctx, demapping_method, order):
        return cls(ctx.num_bits_per_symbol, demapping_method, order, precision=ctx.precision)
    return factory


SPECS = (
    DetectorSpec("mmse-sic", "MMSE-SIC: QR of [H; sigma I], per-stream demapping "
                 "(EQ-Net paper 2.1.2)", (DEMAPPING, ORDER), _sic(MMSESICDetector),
                 _needs_enough_antennas, source="kaq_sionna"),
    DetectorSpec("zf-sic", "ZF-SIC: QR of H, per-stream demapping (EQ-Net paper 2.1.2)",
                 (DEMAPPING, ORDER), _sic(ZFSICDetector), _needs_enough_antennas,
                 source="kaq_sionna"),
)
