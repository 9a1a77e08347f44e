"""MIMO detectors with the Sionna signature ``det(y, h, s)`` and their registry."""

from kaq_sionna.detection.registry import (
    DETECTORS,
    DetectorSpec,
    LinkContext,
    build_detector,
    get_detector_spec,
    register_detector,
    validate_detector,
)
from kaq_sionna.detection.sionna_baselines import MMSEPICWithoutPrior

__all__ = ["DETECTORS", "DetectorSpec", "LinkContext", "MMSEPICWithoutPrior", "build_detector",
           "get_detector_spec", "register_detector", "validate_detector"]
