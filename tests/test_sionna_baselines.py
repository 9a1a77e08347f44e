"""Sionna's detectors through the registry at sizes where Sionna 1.2 needs help."""

import numpy as np
import sionna.phy.mimo.detection as sionna_detection

from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
from kaq_sionna.registry import LinkContext, build_detector


def test_kbest_builds_for_16x16_16qam_and_beats_lmmse():
    # 16 ** 16 = 2 ** 64 candidate paths overflowed np.minimum inside Sionna's KBestDetector
    kbest = build_detector("kbest", LinkContext(16, 16, 4))
    assert sionna_detection.np is np  # the workaround restores Sionna's numpy
    b = rayleigh_mimo_batch(16, 16, 4, 200, 25.0, seed=1)
    bits = (b.ind.numpy()[..., None] >> np.arange(3, -1, -1)) & 1
    ber = {name: np.mean((det(*b.inputs).numpy() > 0) != bits)
           for name, det in (("kbest", kbest),
                             ("lmmse", build_detector("lmmse", LinkContext(16, 16, 4))))}
    assert ber["kbest"] < 0.5 * ber["lmmse"]
