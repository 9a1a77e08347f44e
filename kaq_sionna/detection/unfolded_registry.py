"""Registry entries for the deep-unfolded detectors (``pgdnet``, ``admmnet``).

Built detectors are *untrained* (the paper's initial parameters). For the
``ptq``, ``qat-mse`` and ``kaq`` modes the quantizer's steps are calibrated at
build time (eq. (10), Algorithm 1 step 2) on a synthetic Rayleigh set drawn
with a fixed seed for the link's dimensions, SNR uniform in 0-25 dB (the
paper's range); fp32 and fp16 need no calibration. Pretrained models will be
registered under their own names by :mod:`kaq_sionna.pretrained`.

Registered by importing this module (``registry._ensure_loaded`` does).
"""

from kaq_sionna.detection.registry import DetectorSpec, register_detector
from kaq_sionna.detection.unfolded import DEMAPPING_METHODS, PROXES, ADMMNet, PGDNet
from kaq_sionna.params import Param
from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
from kaq_sionna.quantization.modes import MODES, STEP_MODES, Quantizer

CALIBRATION_SAMPLES = 4096
CALIBRATION_SNR_DB = (0.0, 25.0)
CALIBRATION_SEED = 20250101

COMMON_PARAMS = (
    Param("num_layers", int, 5, "number of unfolded layers K", min=1),
    Param("quant", str, "fp32", "activation quantization mode", choices=MODES),
    Param("bits", int, 8, "bit width of ptq / qat-mse / kaq", min=2, max=16),
    Param("quantize_intermediate", bool, False, "also quantize r^(k)"),
    Param("prox", str, "soft", "soft threshold (paper) or soft threshold + QAM box clip",
          choices=PROXES),
    Param("demapping_method", str, "app", "demapping of the Gaussian approximation",
          choices=DEMAPPING_METHODS),
)


def build_unfolded(cls, ctx, num_layers, quant, bits, quantize_intermediate, prox,
                   demapping_method, calibration_samples=CALIBRATION_SAMPLES,
                   calibration_seed=CALIBRATION_SEED):
    """Builds an (untrained) unfolded detector for a link and calibrates its quantizer.

    Output
    ------
    : :class:`~kaq_sionna.detection.unfolded.UnfoldedDetector`
        ``det(y, h, s) -> llr [..., num_tx, num_bits_per_symbol]``.
    """
    quantizer = None
    if quant != "fp32":
        quantizer = Quantizer(quant, bits, quantize_intermediate=quantize_intermediate,
                              precision=ctx.precision)
    det = cls(num_layers=num_layers, num_bits_per_symbol=ctx.num_bits_per_symbol,
              output="bit", quantizer=quantizer, prox=prox, demapping_method=demapping_method,
              precision=ctx.precision)
    if quant in STEP_MODES:
        batch = rayleigh_mimo_batch(ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol,
                                    calibration_samples, CALIBRATION_SNR_DB,
                                    seed=calibration_seed, precision=ctx.precision)
        quantizer.calibrate(det, batch.inputs)
    return det


for _name, _cls, _summary in (
    ("pgdnet", PGDNet, "deep-unfolded PGD (KAQ paper eqs. 6-8), untrained, optional "
                       "quantization; LLRs from a linearised Gaussian approximation"),
    ("admmnet", ADMMNet, "deep-unfolded ADMM on KAQ paper eq. 5, untrained, optional "
                         "quantization; LLRs from a linearised Gaussian approximation"),
):
    register_detector(DetectorSpec(
        _name, _summary, COMMON_PARAMS,
        (lambda cls: lambda ctx, **p: build_unfolded(cls, ctx, **p))(_cls),
        source="kaq_sionna"))
