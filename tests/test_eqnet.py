"""EQ-Net (EQ-Net paper): model shapes, codebooks, bit-exact packing, a tiny training run
(quantization distortion, estimation sign convention), save/load and mismatch refusal,
checkpoint resume, stage 2 leaving g_Q unchanged, the single-stage baseline, use as a
detector and as a quantizer in ``links.CodedMIMOLink``, pretrained registration, the
``kaq-sionna train`` command and scenario validation."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
from kaq_sionna.registry import load_pretrained
import json
import math
import shutil

import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna import pretrained
from kaq_sionna.app.cli import main
from kaq_sionna.registry.detectors import LinkContext, build_detector
from kaq_sionna.core.params import SpecError
from kaq_sionna.softbits.codebook import FeatureCodebook
from kaq_sionna.softbits.eqnet import (
    BlockwiseEQNet,
    EQNet,
    EQNetMismatch,
    load_eqnet,
    load_weights_into,
    pack_codes,
    save_eqnet,
    softbit_distortion,
    unpack_codes,
)
from kaq_sionna.softbits.scalar import llr_to_softbit
from kaq_sionna.training.eqnet_data import load_dataset, split_indices
from kaq_sionna.training.eqnet_spec import load_eqnet_scenario, parse_eqnet_scenario
from kaq_sionna.training.eqnet_trainer import DATA_FILE, train_eqnet
from kaq_sionna.training.spec import TrainScenarioError
from kaq_sionna.training.trainer import TrainConflict

NULL = open("/dev/null", "w")  # noqa: SIM115 - progress lines of the trainer

# 2x2 QPSK, exact ML soft bits, a short (32, 64) LDPC code: cheap and fully deterministic.
TINY = {
    "scenario": {"name": "tiny-eqnet", "seed": 3},
    "model": {"type": "eqnet", "bits_per_feature": 4},
    "system": {"num_tx": 2, "num_rx": 2, "num_bits_per_symbol": 2},
    "data": {"source": "ml", "snr_db": [4.0, 12.0], "k": 32, "n": 64, "packets_per_snr": 150,
             "jit_compile": False},
    "training": {"stage1_epochs": 8, "stage2_epochs": 20, "stage1_batch_size": 128,
                 "stage2_batch_size": 128, "lr": 2e-3, "codebook_samples": 5000},
}


def tiny(**sections):
    data = json.loads(json.dumps(TINY))
    for sec, values in sections.items():
        data.setdefault(sec, {}).update(values)
    return parse_eqnet_scenario(data, "tiny.toml")


def stored(directory):
    with np.load(directory / "weights.npz", allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


def random_inputs(nt=2, nr=2, batch=(5, 3), seed=0):
    rng = np.random.default_rng(seed)

    def cn(*shape):
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)

    y, h = cn(*batch, nr), cn(*batch, nr, nt) / np.sqrt(2 * nr)
    s = np.broadcast_to(0.1 * np.eye(nr), (*batch, nr, nr)).astype(np.complex64)
    return tf.constant(y), tf.constant(h), tf.constant(s)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny scenario trained once (two stages + codebooks), ~10 s."""
    out = tmp_path_factory.mktemp("eqnet") / "run"
    doc = train_eqnet(tiny(), out, stream=NULL)
    return out, doc, load_eqnet(out / "model")


# ----------------------------------------------------------------------------- model

def test_shapes_dtypes_and_sizes():
    det = EQNet(2, 2, 6, estimation_width=32)
    assert det.latent_dim == 6 and det.hidden_width == 48  # 3 N_t, 4 N_t K
    assert det.bits_per_channel_use == 36 and det.bits_per_soft_bit == 3.0  # Sect. 3.4
    assert det.bytes_per_channel_use == 5
    assert int(det.num_stored_bits(12 * 108)) == 36 * 108
    assert int(det.num_stored_bits(13)) == 72  # a partial matrix costs a whole code vector
    y, h, s = random_inputs()
    llr = det(y, h, s)
    assert llr.shape == (5, 3, 2, 6) and llr.dtype == tf.float32
    np.testing.assert_array_equal(llr.numpy(), det.estimate(y, h, s).numpy())
    assert np.all(np.abs(llr.numpy()) <= det.llr_max)
    with pytest.raises(RuntimeError, match="no latent codebooks"):
        det.compress(tf.zeros([4, 2, 6]))
    with pytest.raises(RuntimeError, match="no latent codebooks"):
        det.decompress(tf.zeros([4, 6], tf.uint8))
    rng = np.random.default_rng(1)
    llr_in = (4 * rng.normal(size=[300, 2, 6])).astype(np.float32)
    det.fit_codebooks(llr_to_softbit(llr_in).numpy(), seed=0)
    codes = det.compress(llr_in.reshape(3, 100, 2, 6))
    assert codes.shape == (3, 100, 6) and codes.dtype == tf.uint8
    assert codes.numpy().max() < 2 ** det.bits_per_feature
    rec = det.decompress(codes)
    assert rec.shape == (3, 100, 2, 6) and rec.dtype == tf.float32
    with pytest.raises(ValueError, match=r"\[\.\.\., 2, 6\]"):
        det.compress(tf.zeros([4, 3, 6]))
    # pure TensorFlow: the same codes and LLRs inside tf.function
    f = tf.function(lambda x: det.compress(x))
    g = tf.function(lambda c: det.decompress(c))
    np.testing.assert_array_equal(f(tf.constant(llr_in)).numpy(), det.compress(llr_in).numpy())
    np.testing.assert_array_equal(g(codes).numpy(), rec.numpy())


def test_architecture_sizes_2x2_64qam():
    det = EQNet(2, 2, 6)
    count = {k: sum(int(np.prod(v.shape)) for v in getattr(det, k)) for k in
             ("quantization_variables", "decoder_variables", "estimation_variables")}
    # f_Q: 12 -> 6 x 48 -> 6; g_Q: 12 branches of 6 -> 6 x 48 -> 1; f_E width 192, one block
    assert count["quantization_variables"] == 12 * 48 + 48 + 5 * (48 * 48 + 48) + 48 * 6 + 6
    assert count["decoder_variables"] == 12 * (6 * 48 + 48 + 5 * (48 * 48 + 48) + 48 + 1)
    assert count["estimation_variables"] == (
        (4 + 8 + 1) * 192 + 3 * 192 + 3 * 192 * 192 + 192 + 8 * (192 * 192 + 192) + 192 * 6 + 6)
    p = EQNet(2, 2, 6, variant="P")
    assert len(p.fe_blocks) == 3 and len(det.fe_blocks) == 1


def test_distortion_eq15():
    target = tf.constant([[[0.5, -1.0]]])
    est = tf.constant([[[0.0, -0.5]]])
    want = 0.25 / (0.5 + 1e-3) + 0.25 / (1.0 + 1e-3)
    np.testing.assert_allclose(softbit_distortion(target, est).numpy(), [want], rtol=1e-6)


# ----------------------------------------------------------------------------- codes

@pytest.mark.parametrize("num_bits,num_features", [(6, 6), (4, 12), (3, 5), (1, 7), (8, 3)])
def test_pack_unpack_round_trip(num_bits, num_features):
    rng = np.random.default_rng(num_bits * 100 + num_features)
    codes = rng.integers(0, 2 ** num_bits, size=(4, 9, num_features)).astype(np.uint8)
    packed = pack_codes(codes, num_bits)
    assert packed.dtype == np.uint8
    assert packed.shape == (4, 9, math.ceil(num_bits * num_features / 8))
    np.testing.assert_array_equal(unpack_codes(packed, num_bits, num_features), codes)


def test_pack_layout_and_range():
    # codes 1 and 63 with 6 bits: 000001 111111 -> 00000111 11110000
    np.testing.assert_array_equal(pack_codes(np.array([1, 63]), 6), [0x07, 0xF0])
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        pack_codes(np.array([64]), 6)
    with pytest.raises(ValueError, match="5 bytes"):
        unpack_codes(np.zeros([3, 4], np.uint8), 6, 6)


def test_codebook_sorted_and_nearest():
    rng = np.random.default_rng(0)
    feats = np.concatenate([np.tanh(rng.normal(size=[3000, 2])),
                            rng.uniform(-1, 1, size=[3000, 1])], 1)
    cb = FeatureCodebook.fit(feats, num_bits=3, seed=7)
    again = FeatureCodebook.fit(feats, num_bits=3, seed=7)
    np.testing.assert_array_equal(cb.levels, again.levels)  # seeded
    assert cb.levels.shape == (3, 8)
    assert np.all(np.diff(cb.levels, axis=1) > 0)  # sorted, distinct
    levels = cb.levels
    mid = 0.5 * (levels[:, 1:] + levels[:, :-1])
    z = np.concatenate([rng.uniform(-1.2, 1.2, size=[500, 3]), levels.T, mid.T], 0)
    z = z.astype(np.float32)
    codes = cb.encode(z).numpy()
    assert codes.dtype == np.uint8
    dist = np.abs(z[:, :, None].astype(np.float64) - levels[None])
    np.testing.assert_array_equal(codes[:500], np.argmin(dist[:500], -1))  # nearest level
    chosen = np.take_along_axis(dist, codes[..., None].astype(int), -1)[..., 0]
    assert np.all(chosen <= dist.min(-1) + 1e-6)  # levels and (rounded) midpoints too
    np.testing.assert_array_equal(codes[500:508], np.tile(np.arange(8), (3, 1)).T)
    # a value exactly on a decision threshold goes to the lower level
    thr = cb._thresholds_tf.numpy()
    np.testing.assert_array_equal(cb.encode(thr.T).numpy(), np.tile(np.arange(7), (3, 1)).T)
    np.testing.assert_array_equal(cb.decode(codes).numpy(), levels[np.arange(3), codes])
    with pytest.raises(ValueError, match="power of two"):
        FeatureCodebook(np.zeros([2, 5]))


# ----------------------------------------------------------------------------- training

def test_tiny_training_quantizes_and_estimates(trained):
    out, doc, model = trained
    spec = tiny()
    data = json.loads((out / "train.json").read_text())
    assert data["finished"] and data["epochs"] == 28
    hist = data["history"]
    assert [h["stage"] for h in hist] == [1] * 8 + [2] * 20
    assert hist[7]["val_distortion_quant"] < 0.5 * hist[0]["val_distortion_quant"]
    assert hist[-1]["val_feature_loss"] < hist[8]["val_feature_loss"]
    # quantization mode on held-out ML LLRs: far below the all-zero soft bits
    ds = load_dataset(out / DATA_FILE, spec.data_fingerprint())
    _, _, test = split_indices(len(ds), spec.seed)
    t = ds.subset(test)
    llr = 2 * np.arctanh(np.clip(t.softbits, -1 + 1e-6, 1 - 1e-6))
    rec = llr_to_softbit(model.decompress(model.compress(llr)))
    d_q = float(np.mean(softbit_distortion(t.softbits, rec)))
    d_zero = float(np.mean(softbit_distortion(t.softbits, np.zeros_like(t.softbits))))
    assert d_q < 0.25 * d_zero
    m = doc["final_metrics"]
    assert m["distortion"]["quantization"] == pytest.approx(d_q, rel=1e-4)
    # Sionna's LLR sign convention end to end: LLR > 0 <=> bit 1 at 12 dB
    high = m["ber_esno_db"]["12"]
    assert high["ber_source"] < 0.05 and high["ber_quantized"] < 0.05
    assert high["ber"] < 0.3  # estimation mode: far from random (0.5) after a tiny training


def test_stage2_leaves_quantizer_unchanged_and_resume_equals_uninterrupted(tmp_path):
    spec = tiny(data={"packets_per_snr": 10},
                training={"stage1_epochs": 2, "stage2_epochs": 2, "stage1_batch_size": 64,
                          "stage2_batch_size": 64})
    train_eqnet(spec, tmp_path / "full", stream=NULL)
    state = train_eqnet(spec, tmp_path / "cut", stream=NULL, stop_after=2)
    assert state["epoch"] == 2 and not (tmp_path / "cut" / "model").exists()
    # stage 2 changes f_E only: f_Q and g_Q after stage 1 (checkpoint) == final model
    full = stored(tmp_path / "full" / "model")
    names = [str(n) for n in full["names"]]
    with np.load(tmp_path / "cut" / "checkpoint.npz", allow_pickle=False) as ck:
        for i, name in enumerate(names):
            same = np.array_equal(ck[f"w{i:03d}"], full[f"w{i:03d}"])
            assert same == (not name.startswith("fe_")), name
    state = train_eqnet(spec, tmp_path / "cut", stream=NULL, stop_after=1)  # into stage 2
    assert state["epoch"] == 3
    doc = train_eqnet(spec, tmp_path / "cut", stream=NULL)
    assert doc["epochs"] == 4
    cut = stored(tmp_path / "cut" / "model")
    assert set(cut) == set(full) and "codebook_levels" in cut
    for key in full:
        np.testing.assert_array_equal(cut[key], full[key])
    # a changed scenario is refused
    with pytest.raises(TrainConflict, match="training.lr"):
        train_eqnet(tiny(data={"packets_per_snr": 10},
                         training={"stage1_epochs": 2, "stage2_epochs": 2, "lr": 0.01,
                                   "stage1_batch_size": 64, "stage2_batch_size": 64}),
                    tmp_path / "cut", stream=NULL)


def test_single_stage_baseline(tmp_path):
    spec = tiny(data={"packets_per_snr": 10},
                training={"mode": "single-stage", "stage1_epochs": 1, "stage2_epochs": 1})
    doc = train_eqnet(spec, tmp_path, stream=NULL)
    assert doc["name"] == "tiny-eqnet"  # the training scenario's name
    assert [h["stage"] for h in doc["history"]] == ["single", "single"]
    assert "val_distortion_est" in doc["history"][0]
    model = load_eqnet(tmp_path / "model")
    assert model.codebook is None
    with pytest.raises(RuntimeError, match="no latent codebooks"):
        model.compress(tf.zeros([1, 2, 2]))


# ----------------------------------------------------------------------------- storage

def test_save_load_round_trip_and_mismatch(trained, tmp_path):
    out, _, model = trained
    save_eqnet(model, tmp_path / "copy", {"note": "round trip"})
    again = load_eqnet(tmp_path / "copy")
    y, h, s = random_inputs(seed=3)
    np.testing.assert_array_equal(again(y, h, s).numpy(), model(y, h, s).numpy())
    llr = tf.constant(np.random.default_rng(2).normal(size=[50, 2, 2]).astype(np.float32) * 3)
    np.testing.assert_array_equal(again.compress(llr).numpy(), model.compress(llr).numpy())
    np.testing.assert_array_equal(again.decompress(again.compress(llr)).numpy(),
                                  model.decompress(model.compress(llr)).numpy())
    cfg = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert cfg["model"] == "eqnet" and cfg["codebooks"] and cfg["note"] == "round trip"
    with pytest.raises(EQNetMismatch, match="latent_dim: stored model has 6, this EQNet has 4"):
        load_weights_into(EQNet(2, 2, 2, latent_dim=4), out / "model")
    with pytest.raises(EQNetMismatch, match="variant: stored model has 'L'"):
        load_weights_into(EQNet(2, 2, 2, variant="P", bits_per_feature=4), out / "model")
    cfg["model"] = "pgdnet"
    (tmp_path / "copy" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(EQNetMismatch, match="not an 'eqnet' model"):
        load_eqnet(tmp_path / "copy")


def test_blockwise_large_mimo(trained):
    _, _, model = trained  # trained for 2 streams
    big = BlockwiseEQNet(model, 8)
    llr = tf.constant(np.random.default_rng(4).normal(size=[5, 8, 2]).astype(np.float32) * 3)
    codes = big.compress(llr)
    assert codes.shape == (5, 4, model.latent_dim) and codes.dtype == tf.uint8
    rec = big.decompress(codes)
    assert rec.shape == (5, 8, 2)
    ref = model.decompress(model.compress(tf.reshape(llr, [5, 4, 2, 2])))
    np.testing.assert_array_equal(rec.numpy(), tf.reshape(ref, [5, 8, 2]).numpy())
    # exact packing: 5 x 4 code vectors of latent_dim x bits_per_feature bits, contiguous
    assert big.pack(codes).shape == (math.ceil(20 * model.bits_per_channel_use / 8),)
    np.testing.assert_array_equal(big.unpack(big.pack(codes), codes.shape).numpy(),
                                  codes.numpy())
    with pytest.raises(ValueError, match="multiple"):
        BlockwiseEQNet(model, 7)


def test_pretrained_name_loads_and_serves_as_detector(trained, tmp_path, monkeypatch):
    out, doc, model = trained
    assert doc["name"] == "tiny-eqnet"
    shutil.copytree(out / "model", tmp_path / doc["name"])
    monkeypatch.setattr(pretrained, "MODELS_DIR", tmp_path)
    loaded = load_pretrained(doc["name"])
    y, h, s = random_inputs(seed=5)
    np.testing.assert_array_equal(loaded(y, h, s).numpy(), model(y, h, s).numpy())
    det = build_detector(doc["name"], LinkContext(2, 2, 2))
    assert det(y, h, s).shape == (5, 3, 2, 2)
    with pytest.raises(SpecError, match="num_tx=2"):
        build_detector(doc["name"], LinkContext(4, 4, 2))


# ----------------------------------------------------------------------------- links

def test_detector_and_quantizer_in_coded_mimo_link(trained):
    from links.coded_mimo import CodedMIMOLink

    _, _, model = trained
    link = CodedMIMOLink(model, 2, 2, 2, k=32, n=64, snr_type="esno")
    for run in (link, tf.function(lambda b, e: link(b, e))):
        b, b_hat = run(16, tf.constant(12.0))
        assert b.shape == b_hat.shape == (16, 2, 32)
        assert np.all(np.isfinite(b_hat.numpy()))
    # quantization mode behind exact ML: decodes at high SNR (sign convention kept)
    ml = build_detector("ml", LinkContext(2, 2, 2))

    def quantized_ml(y, h, s):
        return model.decompress(model.compress(ml(y, h, s)))

    qlink = CodedMIMOLink(quantized_ml, 2, 2, 2, k=32, n=64, snr_type="esno")
    for run in (qlink, tf.function(lambda b, e: qlink(b, e))):
        b, b_hat = run(64, tf.constant(14.0))
        bler = np.mean(np.any(b.numpy() != b_hat.numpy(), -1))
        assert bler < 0.05


# ----------------------------------------------------------------------------- CLI, schema

QUICK_TOML = """
[scenario]
name = "cli-eqnet"
seed = 1

[model]
type = "eqnet"

[system]
num_tx = 2
num_rx = 2
num_bits_per_symbol = 2

[data]
source = "ml"
snr_db = [6.0, 10.0]
k = 32
n = 64
packets_per_snr = 50

[training]
stage1_epochs = 30
stage2_epochs = 30
"""


def test_cli_quick_training(tmp_path, capsys):
    path = tmp_path / "eqnet.toml"
    path.write_text(QUICK_TOML)
    assert main(["train", str(path), "--quick", "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert "epoch 4/4" in text and "stage 2 (2/2)" in text
    model = load_eqnet(tmp_path / "out" / "model")
    assert model.codebook is not None and model.num_tx == 2
    doc = json.loads((tmp_path / "out" / "train.json").read_text())
    assert doc["finished"] and doc["name"] == "cli-eqnet"
    cfg = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert cfg["quick"] and cfg["packets_per_snr"] == 2 and cfg["epochs"] == 4
    # --ship refuses quick runs, as for the unfolded detectors
    assert main(["train", str(path), "--quick", "--ship", "--out", str(tmp_path / "o2")]) == 2


@pytest.mark.parametrize("edit,key,expected,found", [
    (("[training]", "[training]\nepochs = 3"), "[training] epochs", "a known key",
     "unknown key 'epochs'"),
    (('type = "eqnet"', 'type = "eqnett"'), "[model] type", "'eqnet'", "'eqnett'"),
    (('type = "eqnet"', 'type = "eqnet"\nvariant = "Q"'), "[model] variant",
     "one of 'L', 'P'", "'Q'"),
    (("snr_db = [6.0, 10.0]", "snr_db = []"), "[data] snr_db", "a non-empty list",
     "an empty list"),
    (("n = 64", "n = 63"), "[data] n", "a multiple of num_bits_per_symbol = 2", "63"),
    (('source = "ml"', 'source = "nope"'), "detector name", "known detector name", "'nope'"),
    (("[data]", "[source]\nlist_size = 4\n\n[data]"), "[source] (ml) list_size",
     "a known key", "unknown key 'list_size'"),
])
def test_bad_scenario_is_refused(tmp_path, capsys, edit, key, expected, found):
    path = tmp_path / "bad.toml"
    path.write_text(QUICK_TOML.replace(*edit))
    with pytest.raises(TrainScenarioError) as err:
        from kaq_sionna.training.eqnet_spec import scenario_model_type

        if scenario_model_type(path) == "eqnet":
            load_eqnet_scenario(path)
    msg = str(err.value)
    assert str(path) in msg and key in msg and expected in msg and found in msg
    assert main(["train", str(path), "--quick", "--out", str(tmp_path / "o")]) == 2
    assert key in capsys.readouterr().err


def test_source_detector_must_serve_the_system():
    with pytest.raises(TrainScenarioError, match=r"\(ml\)"):
        tiny(system={"num_tx": 8, "num_rx": 8, "num_bits_per_symbol": 4})
