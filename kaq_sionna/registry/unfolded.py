"""Registry entries for the deep-unfolded detectors (``pgdnet``, ``admmnet``).

Built detectors are *untrained* (the paper's initial parameters). For the
``ptq``, ``qat-mse`` and ``kaq`` modes the quantizer's steps are calibrated at
build time (eq. (10), Algorithm 1 step 2) on a synthetic Rayleigh set drawn
with a fixed seed for the link's dimensions, SNR uniform in 0-25 dB (the
paper's range); fp32 and fp16 need no calibration (:func:`calibrate_for_link`).
Pretrained models are registry entries under their own names
(:mod:`kaq_sionna.registry.pretrained`); their post-training variants (the paper's FP16 and
PTQ baselines of a shipped fp32 model, :func:`build_post_training`) are
calibrated on the same set.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

from kaq_sionna.core.params import Param
from kaq_sionna.detection.unfolded import DEMAPPING_METHODS, PROXES, X_INITS, ADMMNet, PGDNet
from kaq_sionna.detection.unfolded_io import load_post_training
from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
from kaq_sionna.quantization.modes import MODES, Quantizer
from kaq_sionna.registry.detectors import DetectorSpec

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
    Param("x_init", str, "zero", "starting point x^(0): zero (paper) or the LMMSE estimate",
          choices=X_INITS),
)


def calibrate_for_link(det, ctx, calibration_samples=CALIBRATION_SAMPLES,
                       calibration_seed=CALIBRATION_SEED):
    """Calibrates the steps of a detector's quantizer for a link (eq. (10), Algorithm 1 step 2).

    The calibration set is ``calibration_samples`` Rayleigh channel uses of the
    link's dimensions, Es/N0 uniform in :data:`CALIBRATION_SNR_DB`, drawn with
    ``calibration_seed`` (:func:`~kaq_sionna.quantization.calibration.rayleigh_mimo_batch`);
    the same for every detector of the registry. Nothing happens without a
    quantizer or for modes without steps (fp32, fp16).

    Input
    -----
    det : :class:`~kaq_sionna.detection.unfolded.UnfoldedDetector`
    ctx : :class:`~kaq_sionna.registry.detectors.LinkContext`
    calibration_samples : int
    calibration_seed : int

    Output
    ------
    : dict
        Per site the statistics used (:meth:`~kaq_sionna.quantization.Quantizer.calibrate`),
        empty if nothing was calibrated.
    """
    quantizer = det.quantizer
    if quantizer is None or not quantizer.needs_calibration:
        return {}
    batch = rayleigh_mimo_batch(ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol,
                                calibration_samples, CALIBRATION_SNR_DB,
                                seed=calibration_seed, precision=ctx.precision)
    return quantizer.calibrate(det, batch.inputs)


def build_unfolded(cls, ctx, num_layers, quant, bits, quantize_intermediate, prox,
                   demapping_method, x_init="zero", calibration_samples=CALIBRATION_SAMPLES,
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
              x_init=x_init, precision=ctx.precision)
    calibrate_for_link(det, ctx, calibration_samples, calibration_seed)
    return det


def build_post_training(directory, config, ctx, quant, bits, demapping_method="app", label=None,
                        calibration_samples=CALIBRATION_SAMPLES,
                        calibration_seed=CALIBRATION_SEED):
    """A post-training variant of an fp32-trained model: the paper's FP16 or PTQ baseline.

    Loads the model's fp32 parameters with ``Quantizer(quant, bits)`` attached
    (:func:`kaq_sionna.detection.unfolded_io.load_post_training`, no retraining) and,
    for ``ptq``, calibrates the static steps with :func:`calibrate_for_link`
    (eq. (10), the same calibration set as :func:`build_unfolded`).

    Parameters
    ----------
    directory : str or Path
        Model directory of an fp32-trained PGD-Net or ADMM-Net.
    config : dict
        Its config.json.
    ctx : :class:`~kaq_sionna.registry.detectors.LinkContext`
    quant : "fp16" | "ptq"
    bits : int
        Bit width of ``ptq`` (2..16).
    demapping_method : "app" | "maxlog"
    label : str or None
        How errors name the model.

    Output
    ------
    : :class:`~kaq_sionna.detection.unfolded.UnfoldedDetector`
        ``det(y, h, s) -> llr [..., num_tx, num_bits_per_symbol]``.
    """
    det = load_post_training(directory, quant, bits, demapping_method=demapping_method,
                             precision=ctx.precision, config=config, label=label)
    calibrate_for_link(det, ctx, calibration_samples, calibration_seed)
    return det


def _unfolded_spec(name, cls, summary):
    return DetectorSpec(name, summary, COMMON_PARAMS,
                        lambda ctx, **p: build_unfolded(cls, ctx, **p), source="kaq_sionna")


SPECS = (
    _unfolded_spec("pgdnet", PGDNet, "deep-unfolded PGD (KAQ paper eqs. 6-8), untrained, "
                   "optional quantization; LLRs from a linearised Gaussian approximation"),
    _unfolded_spec("admmnet", ADMMNet, "deep-unfolded ADMM on KAQ paper eq. 5, untrained, "
                   "optional quantization; LLRs from a linearised Gaussian approximation"),
)
