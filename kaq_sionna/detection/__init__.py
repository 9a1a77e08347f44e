"""MIMO detectors with the Sionna signature ``det(y, h, s)``.

Building a detector by name (``"lmmse"``, ``"pgdnet-kaq8-4x4-16qam"``, ...) is the registry's
job: :func:`kaq_sionna.registry.build_detector`.
"""

import warnings

from kaq_sionna.detection.context import LinkContext
from kaq_sionna.detection.ml import ChunkedMLDetector
from kaq_sionna.detection.quantized_llr import QuantizedLLRDetector
from kaq_sionna.detection.sic import MMSESICDetector, SICDetector, ZFSICDetector
from kaq_sionna.detection.sionna_baselines import MMSEPICWithoutPrior
from kaq_sionna.detection.unfolded import ADMMNet, PGDNet, UnfoldedDetector, UnfoldedEstimate

__all__ = ["ADMMNet", "ChunkedMLDetector", "LinkContext", "MMSEPICWithoutPrior",
           "MMSESICDetector", "PGDNet", "QuantizedLLRDetector", "SICDetector",
           "UnfoldedDetector", "UnfoldedEstimate", "ZFSICDetector"]

# Registry names this package exported before the registry moved to kaq_sionna.registry.
_MOVED_TO_REGISTRY = ("DETECTORS", "DetectorSpec", "build_detector", "get_detector_spec",
                      "register_detector", "validate_detector")


def __getattr__(name):
    # Deprecated aliases: resolved at call time so that detection never imports the registry
    # (which sits above it) when the package is imported.
    if name in _MOVED_TO_REGISTRY:
        import importlib

        warnings.warn(f"kaq_sionna.detection.{name} moved to kaq_sionna.registry.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("kaq_sionna.registry"), name)
    raise AttributeError(f"module 'kaq_sionna.detection' has no attribute {name!r}")
