"""Post-training variants (the KAQ paper's FP16 and PTQ baselines) of a shipped fp32 model,
built by name through the detector registry (``quant``, ``bits`` of pretrained entries).

Margins were set after measuring (10000 channel uses, seeds 1 and 2, 15 dB, 4x4 16-QAM):
fp32 BER 0.157 / 0.159, fp16 within 6e-5 of it, ptq-8 +0.003, ptq-6 +0.08, ptq-2 0.51-0.52.
"""

import numpy as np
import pytest

from kaq_sionna import pretrained
from kaq_sionna.app.scenario import parse_scenario
from kaq_sionna.core.errors import PretrainedMismatch
from kaq_sionna.core.params import SpecError
from kaq_sionna.detection.unfolded_io import load_post_training
from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
from kaq_sionna.registry import LinkContext, build_detector, load_pretrained
from kaq_sionna.registry.detectors import get_detector_spec, validate_detector
from kaq_sionna.registry.unfolded import calibrate_for_link

FP32 = "pgdnet-fp32-4x4-16qam"
CTX = LinkContext(num_tx=4, num_rx=4, num_bits_per_symbol=4)
NUM_SAMPLES = 8000
SNR_DB = 15.0


def _ber(det, batch):
    llr = det(*batch.inputs).numpy()
    shifts = np.arange(3, -1, -1)
    bits = (batch.ind.numpy()[..., None] >> shifts) & 1
    return float(np.mean((llr > 0) != bits))


@pytest.fixture(scope="module")
def batch():
    return rayleigh_mimo_batch(4, 4, 4, NUM_SAMPLES, SNR_DB, seed=7)


@pytest.fixture(scope="module")
def ber_fp32(batch):
    return _ber(build_detector(FP32, CTX), batch)


def test_ptq8_close_to_fp32_and_ptq2_clearly_worse(batch, ber_fp32):
    ber8 = _ber(build_detector(FP32, CTX, quant="ptq", bits=8), batch)
    ber2 = _ber(build_detector(FP32, CTX, quant="ptq", bits=2), batch)
    assert 0.10 < ber_fp32 < 0.22  # the shipped model's level (~0.16 at 15 dB)
    assert abs(ber8 - ber_fp32) < 0.015
    assert ber2 > ber_fp32 + 0.2


def test_fp16_within_tight_margin_of_fp32(batch, ber_fp32):
    det = build_detector(FP32, CTX, quant="fp16")
    assert det.quantizer.mode == "fp16" and not det.quantizer.weights
    assert abs(_ber(det, batch) - ber_fp32) < 2e-3


def test_variants_keep_the_fp32_parameters_and_ptq_steps_are_calibrated():
    shipped = load_pretrained(FP32)
    det = build_detector(FP32, CTX, quant="ptq", bits=4)
    q = det.quantizer
    assert q.mode == "ptq" and q.num_bits == 4 and q.calibrated
    steps = q.step.numpy()
    assert steps.shape == (det.num_layers,)
    assert np.all(np.isfinite(steps)) and np.all(steps > 0)
    assert np.any(steps != 1.0)  # not the uncalibrated initial value
    for src, dst in zip(shipped.weights, det.weights, strict=False):
        assert src.name == dst.name
        np.testing.assert_array_equal(src.numpy(), dst.numpy())
    # the same calibration set as the registry's untrained detectors: recalibrating
    # with calibrate_for_link reproduces the steps
    calibrate_for_link(det, CTX)
    np.testing.assert_allclose(q.step.numpy(), steps, rtol=1e-6)
    # fewer bits, coarser steps (eq. (10): step = max|x| / (2^(b-1) - 1))
    det8 = build_detector(FP32, CTX, quant="ptq", bits=8)
    np.testing.assert_allclose(det8.quantizer.step.numpy() * 127, steps * 7, rtol=1e-5)


def test_admmnet_fp32_has_variants_too():
    name = "admmnet-fp32-4x4-16qam"
    if name not in pretrained.available():
        pytest.skip(f"{name} not shipped")
    det = build_detector(name, CTX, quant="ptq", bits=8)
    assert det.quantizer.calibrated and np.all(det.quantizer.step.numpy() > 0)


def test_trained_default_is_the_shipped_model():
    params = validate_detector(FP32, {}, CTX)
    assert params["quant"] == "trained" and params["bits"] == 8
    assert build_detector(FP32, CTX).quantizer is None
    kaq = build_detector("pgdnet-kaq8-4x4-16qam", CTX)
    assert kaq.quantizer.mode == "kaq"


def test_refusals_are_clear():
    with pytest.raises(SpecError, match="need a model trained in fp32.*pgdnet-fp32-4x4-16qam"
                                        ".*'ptq' for a model trained with quantization 'kaq8'"):
        validate_detector("pgdnet-kaq8-4x4-16qam", {"quant": "ptq"}, CTX)
    with pytest.raises(SpecError, match="'fp16' for a model trained with quantization "
                                        "'qat-mse4'"):
        validate_detector("pgdnet-qatmse4-4x4-16qam", {"quant": "fp16"}, CTX)
    with pytest.raises(SpecError, match="bits only with quant = 'ptq'.*bits = 4"):
        validate_detector(FP32, {"bits": 4}, CTX)
    with pytest.raises(SpecError, match="one of 'trained', 'fp16', 'ptq'.*'kaq'"):
        validate_detector(FP32, {"quant": "kaq"}, CTX)
    with pytest.raises(SpecError, match=r"in \[2, 16\].*17"):
        validate_detector(FP32, {"quant": "ptq", "bits": 17}, CTX)
    with pytest.raises(SpecError, match="num_tx=4, num_rx=4.*num_tx=2"):
        validate_detector(FP32, {"quant": "ptq"}, LinkContext(2, 2, 4))
    # the storage layer refuses too (not only the registry)
    directory = pretrained.model_dir("pgdnet-kaq8-4x4-16qam")
    with pytest.raises(PretrainedMismatch, match="trained with quantization 'kaq8'"):
        load_post_training(directory, "ptq", 8)
    with pytest.raises(ValueError, match="one of fp16, ptq"):
        load_post_training(pretrained.model_dir(FP32), "qat-mse", 8)


def test_listed_and_usable_in_a_scenario():
    spec = get_detector_spec(FP32)
    assert {p.name for p in spec.params} == {"demapping_method", "quant", "bits"}
    assert "post-training" in spec.summary
    scenario = parse_scenario({
        "scenario": {"name": "t"},
        "link": {"type": "coded_mimo", "uncoded": True},
        "sweep": {"snr_db": [10.0]},
        "detector": [{"name": FP32, "label": "ptq4", "quant": "ptq", "bits": 4},
                     {"name": FP32, "label": "fp16", "quant": "fp16"}],
    })
    assert [d.params["quant"] for d in scenario.detectors] == ["ptq", "fp16"]
