"""MIMO detectors with the Sionna signature ``det(y, h, s)`` and their registry."""

from kaq_sionna.detection.ml import ChunkedMLDetector
from kaq_sionna.detection.quantized_llr import QuantizedLLRDetector
from kaq_sionna.detection.registry import (
    DETECTORS,
    DetectorSpec,
    LinkContext,
    build_detector,
    get_detector_spec,
    register_detector,
    validate_detector,
)
from kaq_sionna.detection.sic import MMSESICDetector, SICDetector, ZFSICDetector
from kaq_sionna.detection.sionna_baselines import MMSEPICWithoutPrior
from kaq_sionna.detection.unfolded import ADMMNet, PGDNet, UnfoldedDetector, UnfoldedEstimate

__all__ = ["ChunkedMLDetector", "MMSESICDetector", "SICDetector", "ZFSICDetector",
           "ADMMNet", "PGDNet", "UnfoldedDetector", "UnfoldedEstimate", "DETECTORS", "DetectorSpec", "LinkContext", "MMSEPICWithoutPrior", "QuantizedLLRDetector", "build_detector",
           "get_detector_spec", "register_detector", "validate_detector"]
