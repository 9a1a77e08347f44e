"""Training of the unfolded detectors: loss decrease, checkpoint/resume determinism,
save/load round trip, mismatch detection, training-scenario validation, the
``kaq-sionna train`` command and pretrained names in the detector registry."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import json
import os
import shutil

import numpy as np
import pytest

from kaq_sionna import pretrained
from kaq_sionna.app.cli import main
from kaq_sionna.registry.detectors import LinkContext, build_detector, get_detector_spec
from kaq_sionna.core.params import SpecError
from kaq_sionna.training import (
    PretrainedMismatch,
    load_model,
    load_weights_into,
    parse_train_scenario,
    train,
    training_set,
)
from kaq_sionna.training.trainer import build_detector as build_training_detector

TINY = {
    "scenario": {"name": "tiny", "seed": 5},
    "model": {"type": "pgdnet", "num_layers": 3, "quant": "fp32"},
    "system": {"num_tx": 2, "num_rx": 2, "num_bits_per_symbol": 4, "snr_db": [10.0, 20.0]},
    "training": {"epochs": 2, "samples_per_epoch": 1024, "batch_size": 128, "lr": 0.01,
                 "val_samples": 256, "calibration_samples": 256},
    "evaluation": {"snr_db": [15.0], "num_samples": 200},
}


def tiny(**sections):
    data = json.loads(json.dumps(TINY))
    for sec, values in sections.items():
        data[sec].update(values)
    return parse_train_scenario(data, "tiny.toml")


def weights(directory):
    with np.load(directory / "model" / "weights.npz", allow_pickle=False) as d:
        return [d[k] for k in sorted(d.files) if k != "names"]


def test_one_epoch_reduces_the_loss(tmp_path):
    spec = tiny(training={"epochs": 1})
    doc = train(spec, tmp_path / "a", stream=open("/dev/null", "w"))
    # loss of the untrained network on the first training batch vs the epoch mean
    det = build_training_detector(spec)
    b = training_set(spec.system, 1024, spec.seed, "train", 0)
    from kaq_sionna.quantization import kaq_total_loss
    loss0 = float(kaq_total_loss(det.to_real(b.x), det.estimate(*b.inputs).x_real))
    trained = load_model(tmp_path / "a" / "model")
    loss1 = float(kaq_total_loss(trained.to_real(b.x), trained.estimate(*b.inputs).x_real))
    assert doc["history"][0]["loss"] < loss0
    assert loss1 < 0.9 * loss0


def test_resume_equals_uninterrupted(tmp_path):
    spec = tiny(model={"quant": "kaq", "bits": 6}, training={"samples_per_epoch": 512})
    null = open("/dev/null", "w")
    train(spec, tmp_path / "full", stream=null)
    state = train(spec, tmp_path / "cut", stream=null, stop_after=1)
    assert state["epoch"] == 1 and not (tmp_path / "cut" / "model").exists()
    doc = train(spec, tmp_path / "cut", stream=null)  # resumes at epoch 2
    assert doc["epochs"] == 2
    for a, b in zip(weights(tmp_path / "full"), weights(tmp_path / "cut"), strict=True):
        np.testing.assert_array_equal(a, b)
    # a changed scenario is refused, --restart accepted
    from kaq_sionna.training import TrainConflict
    with pytest.raises(TrainConflict, match="training.lr"):
        train(tiny(model={"quant": "kaq", "bits": 6},
                   training={"samples_per_epoch": 512, "lr": 0.02}),
              tmp_path / "cut", stream=null)


def test_save_load_round_trip_and_mismatch(tmp_path):
    spec = tiny(model={"quant": "qat-mse", "bits": 4}, training={"epochs": 1})
    train(spec, tmp_path / "r", stream=open("/dev/null", "w"))
    model_dir = tmp_path / "r" / "model"
    det1, det2 = load_model(model_dir), load_model(model_dir)
    b = training_set(spec.system, 300, 9, "x", snr_db=15.0)
    np.testing.assert_array_equal(det1(*b.inputs).numpy(), det2(*b.inputs).numpy())
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["model"] == "pgdnet" and cfg["layer"]["quantizer"]["num_bits"] == 4
    assert cfg["epochs"] == 1 and "ber_esno_db" in cfg["final_metrics"]

    # into a detector with another structure
    other = build_training_detector(tiny(model={"num_layers": 4, "quant": "qat-mse", "bits": 4}))
    with pytest.raises(PretrainedMismatch, match="num_layers: model has 3, detector has 4"):
        load_weights_into(other, model_dir)
    # a config.json that does not match its weights
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    cfg["layer"]["num_layers"] = 5
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PretrainedMismatch, match=r"expects 'eta' with shape \(5,\)"):
        load_model(bad)


@pytest.mark.parametrize("section,key,value,needle", [
    ("model", "type", "lista", "[model] type: expected one of 'pgdnet', 'admmnet'"),
    ("model", "bits", 1, "[model] bits"),
    ("training", "epochs", -1, "[training] epochs"),
    ("training", "batchsize", 3, "[training] batchsize: expected a known key"),
    ("system", "snr_db", [20.0, 10.0], "[system] snr_db: expected [lo, hi]"),
    ("training", "init_from", "nope", "[training] init_from"),
    ("model", "name_suffix", "ft50", "[model] name_suffix: expected '' or '-' followed by"),
])
def test_scenario_validation_names_the_key(section, key, value, needle):
    data = json.loads(json.dumps(TINY))
    data[section][key] = value
    with pytest.raises(SpecError) as err:
        parse_train_scenario(data, "t.toml")
    assert needle in str(err.value) and str(err.value).startswith("t.toml: ")


def test_name_suffix_names_the_model_and_keeps_fingerprints(tmp_path):
    assert tiny(model={"name_suffix": ""}).fingerprint() == tiny().fingerprint()
    spec = tiny(model={"name_suffix": "-ft2"}, training={"epochs": 1})
    assert spec.fingerprint() != tiny().fingerprint()
    doc = train(spec, tmp_path / "run", stream=open(os.devnull, "w"))  # noqa: SIM115
    assert doc["name"] == "tiny"  # the training scenario's name
    assert load_model_config(tmp_path / "run")["canonical_name"] == "pgdnet-fp32-2x2-16qam-k3-ft2"  # K = 3: -k3


def load_model_config(run):
    return json.loads((run / "model" / "config.json").read_text())


def test_cli_train_quick(tmp_path, capsys):
    toml = tmp_path / "t.toml"
    toml.write_text('[scenario]\nname = "t"\n[model]\ntype = "admmnet"\nnum_layers = 2\n'
                    '[system]\nnum_tx = 2\nnum_rx = 2\n[evaluation]\nsnr_db = [10.0]\n')
    assert main(["train", str(toml), "--quick", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "model" / "weights.npz").is_file()
    assert "epoch 1/1" in capsys.readouterr().out
    toml.write_text('[scenario]\nname = "t"\n[model]\ntype = "admmnet"\nlayers = 2\n')
    assert main(["train", str(toml), "--quick", "--out", str(tmp_path / "o")]) == 2
    assert "[model] layers" in capsys.readouterr().err


def test_pretrained_name_builds_through_registry(tmp_path, monkeypatch):
    spec = tiny(training={"epochs": 1})
    models = tmp_path / "models"
    train(spec, tmp_path / "t", stream=open("/dev/null", "w"), ship_dir=models)
    monkeypatch.setattr(pretrained, "MODELS_DIR", models)
    name = "tiny"  # the training scenario's name
    assert name in pretrained.available()
    assert get_detector_spec(name).source == "pretrained"
    det = build_detector(name, LinkContext(2, 2, 4))
    b = training_set(spec.system, 100, 3, "y", snr_db=20.0)
    ref = load_model(models / name)
    np.testing.assert_array_equal(det(*b.inputs).numpy(), ref(*b.inputs).numpy())
    with pytest.raises(SpecError, match="num_tx=2, num_rx=2.*found a link with num_tx=4"):
        build_detector(name, LinkContext(4, 4, 4))
