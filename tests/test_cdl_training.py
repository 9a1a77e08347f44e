"""Training on realistic channels: CDLSampler, the trainers' [system] channel = "cdl"."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import json

import numpy as np
import pytest

from kaq_sionna.channels.cdl import CDLSampler
from kaq_sionna.registry import LinkContext, build_detector
from kaq_sionna.core.params import SpecError
from kaq_sionna.training import parse_train_scenario, train, training_set
from kaq_sionna.training.eqnet_data import generate_softbit_data
from kaq_sionna.training.eqnet_spec import parse_eqnet_scenario

NULL = open("/dev/null", "w")  # noqa: SIM115 - progress lines of the trainer


def _bits(ind, nbps):
    return ((ind.numpy()[..., None] >> np.arange(nbps - 1, -1, -1)) & 1).astype(np.float32)


def _ber(batch, nbps=4):
    det = build_detector("lmmse", LinkContext(batch.h.shape[-1], batch.h.shape[-2], nbps))
    llr = det(*batch.inputs).numpy().reshape(*batch.ind.shape, nbps)
    return float(np.mean((llr > 0) != (_bits(batch.ind, nbps) > 0.5)))


@pytest.fixture(scope="module")
def samplers():
    return {csi: CDLSampler(2, 4, 4, csi=csi, fft_size=28, num_ofdm_symbols=14)
            for csi in ("perfect", "ls")}


def test_sampler_shapes_noise_covariance_and_determinism(samplers):
    perfect, ls = samplers["perfect"], samplers["ls"]
    b = perfect(1000, 15.0, seed=4)
    assert b.y.shape == (1000, 4) and b.h.shape == (1000, 4, 2) and b.s.shape == (1000, 4, 4)
    assert b.ind.shape == (1000, 2) and b.no.shape == (1000,)
    no = 10 ** -1.5
    np.testing.assert_allclose(b.s.numpy(), no * np.eye(4)[None].repeat(1000, 0), rtol=1e-5)
    # LS: the estimation error variance is added on the diagonal, nothing off it
    s = ls(1000, 15.0, seed=4).s.numpy()
    diag = np.real(np.diagonal(s, axis1=1, axis2=2))
    assert np.all(diag > no) and np.allclose(s - np.einsum("bi,ij->bij", diag, np.eye(4)), 0)
    again = perfect(1000, 15.0, seed=4)
    np.testing.assert_array_equal(b.y.numpy(), again.y.numpy())


def test_sampler_samples_decode_and_ls_is_no_better(samplers):
    # the symbols the detector sees are the ones sent: LMMSE BER is low at high SNR
    assert _ber(samplers["perfect"](3000, 30.0, seed=1)) < 0.05
    assert _ber(samplers["ls"](3000, 12.0, seed=1)) >= _ber(samplers["perfect"](3000, 12.0,
                                                                                 seed=1))


KAQ_TINY = {
    "scenario": {"name": "tiny-cdl", "seed": 5},
    "model": {"type": "admmnet", "num_layers": 3, "quant": "kaq", "bits": 8},
    "system": {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 4, "snr_db": [10.0, 20.0],
               "channel": "cdl", "cdl_model": "A", "csi": "ls"},
    "training": {"epochs": 1, "samples_per_epoch": 512, "batch_size": 128,
                 "val_samples": 256, "calibration_samples": 256},
    "evaluation": {"snr_db": [15.0], "num_samples": 200},
}


def test_kaq_trainer_draws_cdl_samples_and_trains(tmp_path):
    spec = parse_train_scenario(json.loads(json.dumps(KAQ_TINY)), "tiny.toml")
    assert spec.system["channel"] == "cdl" and spec.system["cdl_model"] == "A"
    batch = training_set(spec.system, 300, spec.seed, "val")
    rayleigh = training_set({**spec.system, "channel": "rayleigh"}, 300, spec.seed, "val")
    # CDL channels are not i.i.d.: the two sets differ in their channel statistics
    assert not np.allclose(batch.h.numpy(), rayleigh.h.numpy())
    doc = train(spec, tmp_path / "m", stream=NULL)
    assert doc["finished"] and np.isfinite(doc["history"][-1]["loss"])


def test_rayleigh_scenarios_keep_their_system_section():
    data = json.loads(json.dumps(KAQ_TINY))
    del data["system"]["channel"], data["system"]["cdl_model"], data["system"]["csi"]
    spec = parse_train_scenario(data, "tiny.toml")
    assert set(spec.system) == {"num_tx", "num_rx", "num_bits_per_symbol", "snr_db"}
    data["system"]["cdl_model"] = "Q"
    with pytest.raises(SpecError, match="cdl_model"):
        parse_train_scenario(data, "tiny.toml")


def test_eqnet_data_over_cdl():
    spec = parse_eqnet_scenario({
        "scenario": {"name": "tiny-eqnet-cdl", "seed": 3},
        "model": {"type": "eqnet", "bits_per_feature": 4},
        "system": {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 2, "channel": "cdl",
                   "csi": "perfect"},
        "data": {"source": "lmmse", "snr_db": [5.0, 25.0], "k": 32, "n": 64,
                 "packets_per_snr": 20, "jit_compile": False},
    }, "tiny.toml")
    data = generate_softbit_data(spec.system, spec.data, spec.seed)
    per_snr = 20 * 64 // 2
    assert len(data) == 2 * per_snr and data.bits.shape == (2 * per_snr, 2, 2)
    # soft bits agree in sign with the transmitted bits far more often at 25 dB than at 5 dB
    agree = (data.softbits > 0) == (data.bits > 0)
    low, high = agree[:per_snr].mean(), agree[per_snr:].mean()
    assert high > 0.97 and high > low
    np.testing.assert_allclose(data.no[:per_snr], 10 ** -0.5, rtol=1e-5)
    assert tuple(data.s(slice(0, 3)).shape) == (3, 4, 4)
    # CDL-trained EQ-Nets are named like the unfolded detectors: a -cdl<profile> suffix
    from kaq_sionna.training.eqnet_trainer import model_name

    assert model_name(spec) == "eqnet-l-2x4-4qam-cdlc"
    # the MSE feature-loss ablation (Sect. 3.3) is named apart from the L1 model it mirrors
    spec.training["feature_loss"] = "mse"
    assert model_name(spec) == "eqnet-l-2x4-4qam-mse-feature-loss-cdlc"
    spec.training["mode"] = "single-stage"  # no stage 2: the feature loss plays no part
    assert model_name(spec) == "eqnet-lsingle-2x4-4qam-cdlc"
