"""``kaq-sionna train`` for SDNet scenarios: the collective and individual roles on tiny runs,
resume from a checkpoint, scenario validation, and the shipped SDNet models through the registry.
"""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import io
import json

import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna import pretrained
from kaq_sionna.app.cli import main
from kaq_sionna.detection.sdnet_io import load_learngene, load_sdnet
from kaq_sionna.training.sdnet_run import train_sdnet
from kaq_sionna.training.sdnet_spec import parse_sdnet_scenario
from kaq_sionna.training.spec import TrainScenarioError

TASK = {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 2, "snr_db": [5.0, 15.0]}
TRAINING = {"steps": 4, "batch_size": 32, "checkpoint_every": 2, "fisher_batches": 1}
EVALUATION = {"snr_db": [10.0], "num_samples": 200}


def _collective(**model):
    return {"scenario": {"name": "sdnet-collective-tiny", "seed": 3},
            "model": {"type": "sdnet", "role": "collective", "conv_layers": 2, "conv_width": 4,
                      "head_units": [8], **model},
            "task": [dict(TASK), dict(TASK, channel="kronecker", tx_corr=0.5, rx_corr=0.5)],
            "training": dict(TRAINING), "evaluation": dict(EVALUATION)}


def _individual(source, **model):
    return {"scenario": {"name": "sdnet-s-tiny", "seed": 4},
            "model": {"type": "sdnet", "role": "individual", "size": "s",
                      "learngene_from": str(source), "learngene_layers": 1, **model},
            "task": [dict(TASK, channel="kronecker", tx_corr=0.3, rx_corr=0.8)],
            "training": dict(TRAINING, train_samples=64), "evaluation": dict(EVALUATION)}


def _toml(data):
    lines = []

    def value(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    for section, table in data.items():
        for t in (table if isinstance(table, list) else [table]):
            lines.append(f"[[{section}]]" if isinstance(table, list) else f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in t.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def collective_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("collective")
    toml = out / "c.toml"
    toml.write_text(_toml(_collective()))
    assert main(["train", str(toml), "--out", str(out / "run")]) == 0
    return out / "run"


def test_cli_trains_the_collective_model(collective_dir):
    doc = json.loads((collective_dir / "train.json").read_text())
    assert doc["finished"] and doc["role"] == "collective"
    assert doc["command"].startswith("kaq-sionna train") and "commit" in doc
    assert "versions" in doc and len(doc["final_metrics"]) == 2
    # one checkpoint segment per 2 steps, 2 tasks x 4 steps
    assert [(h["task"], h["step"]) for h in doc["history"]] == [
        ("2x4-4qam", 2), ("2x4-4qam", 4), ("2x4-4qam-kron55", 2), ("2x4-4qam-kron55", 4)]
    config = json.loads((collective_dir / "model" / "config.json").read_text())
    assert config["canonical_name"] == "sdnet-collective-2x4-4qam-kron55-2tasks"
    assert config["detector_task"] == "2x4-4qam-kron55"
    det = load_sdnet(collective_dir / "model")
    assert [c["name"] for c in det.conv] == ["conv0", "conv1"]


def test_individual_inherits_the_learngene_and_resumes(collective_dir, tmp_path):
    spec = parse_sdnet_scenario(_individual(collective_dir / "model"))
    assert spec.canonical_name() == "sdnet-s-2x4-4qam-kron38"
    full = train_sdnet(spec, tmp_path / "full", stream=io.StringIO())
    cut = train_sdnet(spec, tmp_path / "cut", stream=io.StringIO(), stop_after=1)
    assert not cut.get("finished") and cut["step"] == 2  # killed after the first checkpoint
    log = io.StringIO()
    resumed = train_sdnet(spec, tmp_path / "cut", stream=log)
    assert "resuming at task 1, step 2" in log.getvalue()
    assert resumed["final_metrics"] == full["final_metrics"]
    a, b = (load_sdnet(tmp_path / d / "model").named_weights() for d in ("full", "cut"))
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    lg = load_learngene(tmp_path / "full" / "learngene")
    donor = load_sdnet(collective_dir / "model")
    np.testing.assert_array_equal(lg["weights"]["conv0/kernel"], donor.conv_layers[0].kernel.numpy())
    config = json.loads((tmp_path / "full" / "model" / "config.json").read_text())
    assert config["learngene"]["layers"] == ["conv0"] and config["role"] == "individual"
    assert 0 < config["learngene"]["inherited_ratio"] < 1


def _full_transfer(source, **model):
    return {"scenario": {"name": "sdnet-fulltransfer-tiny", "seed": 5},
            "model": {"type": "sdnet", "role": "full-transfer", "learngene_from": str(source),
                      **model},
            "task": [dict(TASK, channel="kronecker", tx_corr=0.3, rx_corr=0.8)],
            "training": dict(TRAINING, train_samples=64), "evaluation": dict(EVALUATION)}


def test_full_transfer_inherits_the_whole_front_and_resumes(collective_dir, tmp_path):
    from kaq_sionna.training.sdnet_run import build

    spec = parse_sdnet_scenario(_full_transfer(collective_dir / "model"))
    assert spec.canonical_name() == "sdnet-fulltransfer-2x4-4qam-kron38"
    donor = load_sdnet(collective_dir / "model")
    det, front = build(spec)
    # before fine-tuning: every front layer of the collective, bit-identical; a new head of
    # the collective's head size (its zero output layer: the untrained model is ZF)
    assert [c["name"] for c in det.conv] == [c["name"] for c in donor.conv]
    assert det.head_units == donor.head_units and det.head_reduce == donor.head_reduce
    got, ref = det.named_weights(), donor.named_weights()
    for c in donor.conv:
        for part in ("kernel", "bias"):
            key = f"{c['name']}/{part}"
            np.testing.assert_array_equal(got[key].numpy(), ref[key].numpy(), err_msg=key)
    assert not np.any(got["head_out/kernel"].numpy())
    assert det.num_params() == donor.num_params()
    full = train_sdnet(spec, tmp_path / "full", stream=io.StringIO())
    cut = train_sdnet(spec, tmp_path / "cut", stream=io.StringIO(), stop_after=1)
    assert not cut.get("finished") and cut["step"] == 2
    log = io.StringIO()
    resumed = train_sdnet(spec, tmp_path / "cut", stream=log)
    assert "resuming at task 1, step 2" in log.getvalue()
    assert resumed["final_metrics"] == full["final_metrics"]
    a, b = (load_sdnet(tmp_path / d / "model").named_weights() for d in ("full", "cut"))
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    # fine-tuning moved the transferred front (nothing frozen)
    assert not np.array_equal(a["conv0/kernel"].numpy(), ref["conv0/kernel"].numpy())
    config = json.loads((tmp_path / "full" / "model" / "config.json").read_text())
    assert config["role"] == "full-transfer" and config["size"] == "fulltransfer"
    assert config["transfer"]["layers"] == ["conv0", "conv1"]
    assert 0 < config["transfer"]["inherited_ratio"] < 1
    assert not (tmp_path / "full" / "learngene").exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d["model"].update(size="m"), "[model] size: expected no size for role = "
     "'full-transfer' (it is a key of role = 'individual')"),
    (lambda d: d["model"].update(inherit=False), "[model] inherit: expected no inherit"),
    (lambda d: d["model"].update(conv_width=8), "[model] conv_width: expected no conv_width"),
    (lambda d: d["model"].update(learngene_from=""), "[model] learngene_from: expected the "
     "collective model whose whole front is transferred"),
    (lambda d: d["task"].append(dict(TASK)), "[[task]]: expected exactly one task (the "
     "full-transfer model's target task)"),
])
def test_full_transfer_keys_are_checked(collective_dir, edit, needle):
    data = _full_transfer(collective_dir / "model")
    edit(data)
    with pytest.raises(TrainScenarioError) as err:
        parse_sdnet_scenario(data, "x.toml")
    assert needle in str(err.value)


def test_changed_scenario_is_refused_on_resume(collective_dir, tmp_path):
    spec = parse_sdnet_scenario(_individual(collective_dir / "model"))
    train_sdnet(spec, tmp_path / "o", stream=io.StringIO(), stop_after=1)
    other = parse_sdnet_scenario(_individual(collective_dir / "model", size="m"))
    from kaq_sionna.training.trainer import TrainConflict

    with pytest.raises(TrainConflict, match="size"):
        train_sdnet(other, tmp_path / "o", stream=io.StringIO())


def test_cli_quick_scratch_individual(tmp_path, capsys):
    data = _individual("", inherit=False)
    data["model"].pop("learngene_from")
    toml = tmp_path / "s.toml"
    toml.write_text(_toml(data))
    assert main(["train", str(toml), "--quick", "--out", str(tmp_path / "o")]) == 0
    config = json.loads((tmp_path / "o" / "model" / "config.json").read_text())
    assert config["canonical_name"] == "sdnet-sscratch-2x4-4qam-kron38"
    assert config["learngene"]["inherited_params"] == 0
    assert not (tmp_path / "o" / "learngene").exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d["model"].update(role="ensemble"), "[model] role: expected one of"),
    (lambda d: d["model"].update(size="xl"), "[model] size: expected one of 's', 'm', 'l'"),
    (lambda d: d["model"].update(placement="middle"), "[model] placement"),
    (lambda d: d["model"].update(conv_width=8), "[model] conv_width: expected no conv_width "
     "for role = 'individual'"),
    (lambda d: d["model"].update(learngene_from="no-such-model"), "[model] learngene_from: "
     "expected a shipped SDNet model name"),
    (lambda d: d["model"].update(learngene_from="pgdnet-fp32-4x4-16qam"),
     "expected an SDNet model"),
    (lambda d: d["model"].update(learngene_layers=9), "[model] learngene_layers: expected <= 2"),
    (lambda d: d["task"].append(dict(TASK)), "[[task]]: expected exactly one task"),
    (lambda d: d["task"][0].update(num_rx=1), "[[task]] #1 num_rx: expected >= num_tx"),
    (lambda d: d["task"][0].update(chanel="cdl"), "[[task]] #1 chanel: expected a known key"),
    (lambda d: d["task"][0].update(snr_db=[20.0, 5.0]), "[[task]] #1 snr_db: expected [lo, hi]"),
    (lambda d: d.update(task={"num_tx": 2}), "[[task]]: expected an array of tables"),
    (lambda d: d["training"].update(stepz=3), "[training] stepz: expected a known key"),
    (lambda d: d["training"].update(batch_size=65), "[training] batch_size: expected <= "
     "train_samples"),
    (lambda d: d.update(extra={}), "extra: expected one of the sections"),
])
def test_bad_keys_name_the_key(collective_dir, edit, needle):
    data = _individual(collective_dir / "model")
    edit(data)
    with pytest.raises(TrainScenarioError) as err:
        parse_sdnet_scenario(data, "x.toml")
    assert needle in str(err.value) and str(err.value).startswith("x.toml: ")


def test_collective_keys_are_checked():
    data = _collective(size="m")
    with pytest.raises(TrainScenarioError, match=r"\[model\] size: expected no size"):
        parse_sdnet_scenario(data)
    data = _collective(head_units=[8.5])
    with pytest.raises(TrainScenarioError, match="head_units: expected a non-empty list of "
                       "positive integers"):
        parse_sdnet_scenario(data)
    data = _collective()
    data["task"][1].pop("channel")
    data["task"][1].pop("tx_corr")
    data["task"][1].pop("rx_corr")
    with pytest.raises(TrainScenarioError, match="distinct task names"):
        parse_sdnet_scenario(data)


def test_cli_bad_sdnet_scenario_exits_2(tmp_path, capsys):
    data = _collective()
    data["model"]["role"] = "teacher"
    toml = tmp_path / "bad.toml"
    toml.write_text(_toml(data))
    assert main(["train", str(toml), "--quick", "--out", str(tmp_path / "o")]) == 2
    assert "[model] role: expected one of 'collective', 'individual', 'full-transfer'" in capsys.readouterr().err


SHIPPED = sorted(n for n, c in pretrained.available().items() if c.get("model") == "sdnet")


def test_sdnet_models_are_shipped():
    roles = {pretrained.config(n).get("role") for n in SHIPPED}
    sizes = {pretrained.config(n).get("size") for n in SHIPPED}
    assert "collective" in roles and {"s", "m", "l"} <= sizes


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_sdnet_loads_via_the_registry(name):
    from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
    from kaq_sionna.registry import LinkContext, build_detector

    config = pretrained.config(name)
    ntx, nrx, k = (config["system"][key] for key in ("num_tx", "num_rx", "num_bits_per_symbol"))
    assert config["name"] == name == config["canonical_name"]
    det = build_detector(name, LinkContext(ntx, nrx, k))
    b = rayleigh_mimo_batch(ntx, nrx, k, 8, 10.0, seed=1)
    llr = det(*b.inputs)
    assert llr.shape == (8, ntx, k) and llr.dtype == tf.float32
    assert np.all(np.isfinite(llr.numpy()))
    if config["role"] == "individual":
        assert config["learngene"]["from"] in SHIPPED
        assert config["task"]["name"] not in {t["name"] for t in
                                              pretrained.config(config["learngene"]["from"])["tasks"]}


def test_committed_sdnet_training_scenarios_validate():
    from pathlib import Path

    from kaq_sionna.training.sdnet_spec import load_sdnet_scenario

    files = sorted((Path(__file__).resolve().parents[1] / "scenarios" / "train").glob("sdnet-*.toml"))
    assert len(files) >= 4
    for path in files:
        spec = load_sdnet_scenario(path)
        assert spec.name == spec.canonical_name() == path.stem
