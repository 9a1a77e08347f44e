"""Activation quantization of unfolded detectors: the fake quantizer ``Q_b`` with
STE (KAQ paper eqs. (9), (10), (19)), the modes fp32 / fp16 / ptq / qat-mse /
kaq, the MMD loss with learnable, collapse-proof bandwidths (eqs. (11)-(14)),
the SNR-adaptive step (eq. (15)) and the total loss (eq. (16)).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

from kaq_sionna.quantization.adaptive import adaptive_step, per_sample_snr
from kaq_sionna.quantization.calibration import MIMOBatch, rayleigh_mimo_batch
from kaq_sionna.quantization.fake_quant import (
    MAX_BITS,
    MIN_BITS,
    cast_fp16,
    check_num_bits,
    fake_quantize,
    init_step,
    qmax,
)
from kaq_sionna.quantization.losses import kaq_total_loss
from kaq_sionna.quantization.mmd import KernelMMD, median_pairwise_distance, mmd2
from kaq_sionna.quantization.modes import MODES, STEP_MODES, Quantizer, check_mode, make_quantizer

__all__ = ["MAX_BITS", "MIN_BITS", "MODES", "STEP_MODES", "KernelMMD", "MIMOBatch", "Quantizer",
           "adaptive_step", "cast_fp16", "check_mode", "check_num_bits", "fake_quantize",
           "init_step", "kaq_total_loss", "make_quantizer", "median_pairwise_distance", "mmd2",
           "per_sample_snr", "qmax", "rayleigh_mimo_batch"]
