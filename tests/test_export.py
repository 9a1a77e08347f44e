"""LiteRT export: the shipped quantized 4x4 detectors as int8 models that agree with their
TF twins within the stated tolerance; fp32 / fp16 exports; EQ-Net parts; CLI errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.app.cli import main
from kaq_sionna.deploy import TOLERANCES, ExportTarget, LiteRTModel, check_export, export_model
from kaq_sionna.deploy.real_model import real_demap
from kaq_sionna.deploy.unfolded_graph import gauss_jordan_inverse

QUANTIZED_4X4 = [f"{fam}-{mode}-4x4-16qam" for fam in ("pgdnet", "admmnet")
                 for mode in ("kaq8", "kaq4", "qatmse8", "qatmse4")]
# small but statistically safe: 300 channel uses = 4800 bits; the int8 models measured
# 0.93-0.97 hard-decision agreement against a 0.90 bound
CHECK = {"num_samples": 300, "seed": 99}


@pytest.mark.parametrize("name", QUANTIZED_4X4)
def test_int8_export_of_quantized_models_agrees_with_tf(name):
    target, precision, content = export_model(name, calibration_samples=256)
    assert precision == "int8"
    report = check_export(target, content, precision, **CHECK)
    llr = report["outputs"]["llr"]
    assert report["passed"], report["outputs"]
    assert llr["hard_agreement"] >= TOLERANCES["int8"]["agreement"]
    # the network really is integer: int8 matrix products and int8 quantization sites
    assert report["ops"]["int8"].get("BATCH_MATMUL", 0) >= 1
    assert report["ops"]["int8"].get("QUANTIZE", 0) >= target.model.num_layers
    assert report["memory"]["weights_bytes"] > 0
    # restructured for XNNPACK: no SIGN / GREATER / CAST / SELECT_V2 / ZEROS_LIKE, and the
    # int8 ops left to the builtin kernels are the products of two run-time tensors (and,
    # for a static 4-bit step, the clip that the converter gives the site's int8 scale)
    ops = {op for by_type in report["ops"].values() for op in by_type}
    assert not ops & {"SIGN", "GREATER", "CAST", "SELECT_V2", "ZEROS_LIKE"}, ops
    allowed = {"BATCH_MATMUL"} | ({"MINIMUM", "MAXIMUM"} if "qatmse4" in name else set())
    assert set(report["delegation"]["undelegated"].get("int8", {})) <= allowed, \
        report["delegation"]


def test_int8_sites_have_the_learned_step_as_scale():
    # 4-bit sites are int8 tensors of scale Delta (LiteRT has no 4-bit activations)
    target, _, content = export_model("pgdnet-qatmse4-4x4-16qam", "int8",
                                      calibration_samples=64)
    steps = target.model.quantizer.step.numpy()
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=content)
    scales = np.array([t["quantization"][0] for t in it.get_tensor_details()
                       if t["dtype"] == np.int8 and t["quantization"][1] == 0])
    for step in steps:  # (the site is fused with its clip to the 15 levels -7..7)
        assert np.any(np.abs(scales - step) <= 1e-5 * step), (step, scales)


@pytest.mark.parametrize("name,precision", [("admmnet-kaq4-4x4-16qam", "fp32"),
                                            ("pgdnet-qatmse8-4x4-16qam", "fp16")])
def test_float_exports_agree_closely(name, precision):
    target, _, content = export_model(name, precision)
    report = check_export(target, content, precision, **CHECK)
    assert report["passed"], report["outputs"]
    assert report["outputs"]["llr"]["hard_agreement"] >= TOLERANCES[precision]["agreement"]
    assert "int8" not in report["ops"]


@pytest.mark.parametrize("name,precision", [("pgdnet-fp32-16x16-16qam", "fp32"),
                                            ("admmnet-kaq4-16x16-16qam", "fp32")])
def test_16x16_float_exports_agree_closely(name, precision):
    # the 16x16 models have learned thresholds lambda_k < 0 (the prox rewrite covers both signs)
    target, _, content = export_model(name, precision)
    assert (target.model.lam.numpy() < 0).any()
    report = check_export(target, content, precision, num_samples=200, seed=7)
    assert report["passed"], report["outputs"]


def test_eqnet_parts_export(tmp_path):
    est = ExportTarget("eqnet-l-2x2-64qam", "estimation")
    _, _, content = export_model(est.name, "int8", target=est, calibration_samples=128)
    report = check_export(est, content, "int8", **CHECK)
    assert report["passed"]
    # g_Q as one int8 FULLY_CONNECTED per branch and layer (static weights): no
    # BATCH_MATMUL, and the whole model is one XNNPACK partition
    m = est.model
    num_branches = m.num_tx * m.num_bits_per_symbol
    assert "BATCH_MATMUL" not in {op for ops in report["ops"].values() for op in ops}
    assert report["ops"]["int8"]["FULLY_CONNECTED"] >= num_branches * m.num_hidden
    assert report["delegation"]["partitions"] == 1
    assert report["delegation"]["undelegated"] == {}
    enc = ExportTarget("eqnet-l-2x2-64qam", "encoder")
    _, _, content = export_model(enc.name, "fp32", target=enc)
    report = check_export(enc, content, "fp32", num_samples=200, seed=5)
    assert report["passed"] and report["outputs"]["codes"]["agreement"] >= 0.999
    model = LiteRTModel(content)
    assert model.input_names == ["llr"] and set(model.output_names) == {"codes", "z"}


@pytest.mark.parametrize("prox", ["soft", "box"])
def test_export_prox_equals_the_tf_prox(prox):
    # r - clip(r, -lam, lam) (lam >= 0) and r - lam sign(r) (lam < 0) are the soft threshold
    # sign(r) relu(|r| - lam) bit for bit; the slopes are [|r| > lam] (and [|x| < a_max])
    from types import SimpleNamespace

    from kaq_sionna.deploy.unfolded_graph import UnfoldedExportGraph, positive_indicator
    from kaq_sionna.detection.unfolded import soft_threshold

    rng = np.random.default_rng(3)
    graph = SimpleNamespace(prox_kind=prox, grid_max=3.0)
    for lam in (0.37, -0.21, 0.0):
        lam32 = np.float32(lam)
        r = np.concatenate([rng.normal(scale=2.0, size=2000), [lam32, -lam32, 0.0, 3.37, -3.37],
                            np.nextafter(lam32, [np.inf, -np.inf])]).astype(np.float32)
        r = tf.constant(r)
        x, slope = UnfoldedExportGraph._prox(graph, r, lam32)
        ref = soft_threshold(r, lam32)
        ref_slope = tf.cast(tf.abs(r) > lam32, tf.float32)
        if prox == "box":
            ref_slope = ref_slope * tf.cast(tf.abs(ref) < 3.0, tf.float32)
            ref = tf.clip_by_value(ref, -3.0, 3.0)
        np.testing.assert_array_equal(x.numpy(), ref.numpy())
        np.testing.assert_array_equal(slope.numpy(), ref_slope.numpy())
    t = tf.constant([-1.0, -1e-30, 0.0, 2.0 ** -100, 1e-20, 1.0, 1e30], tf.float32)
    np.testing.assert_array_equal(positive_indicator(t).numpy(), [0, 0, 0, 1, 1, 1, 1])


def test_eqnet_with_lmmse_inputs_is_refused_for_estimation():
    # the export graph has no LMMSE front end: it used to write a model that failed its
    # check (hard-decision agreement 0.53), now it refuses with the reason
    target = ExportTarget("eqnet-l-2x2-64qam-lmmse-inputs", "estimation")
    with pytest.raises(ValueError, match="estimation_inputs='raw'"):
        target.graph("fp32")


def test_gauss_jordan_inverse_and_real_demapper():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(64, 8, 8)).astype(np.float32) / np.sqrt(8)
    a = h.transpose(0, 2, 1) @ h + 0.05 * np.eye(8, dtype=np.float32)
    inv = gauss_jordan_inverse(tf.constant(a)).numpy()
    np.testing.assert_allclose(inv @ a, np.broadcast_to(np.eye(8), a.shape), atol=2e-3)

    from sionna.phy.mapping import Demapper

    x = tf.complex(*(tf.constant(rng.normal(size=(32, 4)).astype(np.float32)) for _ in "ri"))
    no = tf.constant(rng.uniform(0.01, 1.0, size=(32, 4)).astype(np.float32))
    for method in ("app", "maxlog"):
        ref = Demapper(method, "qam", 4)(x, no).numpy().reshape(32, 4, 4)
        ours = real_demap(tf.math.real(x), tf.math.imag(x), no, 4, method).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def test_cli_export_writes_model_and_report(tmp_path, capsys):
    out, report = tmp_path / "m" / "pgd.tflite", tmp_path / "r.json"
    code = main(["export", "pgdnet-kaq8-4x4-16qam", "--out", str(out), "--precision", "fp32",
                 "--check-samples", "200", "--report", str(report), "--ber",
                 "--ber-snr", "15", "--ber-samples", "200"])
    assert code == 0
    text = capsys.readouterr().out
    assert "hard_agreement" in text and "PASSED" in text and "uncoded BER" in text
    assert out.stat().st_size > 1000
    doc = json.loads(report.read_text())
    assert doc["passed"] and doc["ber"][0]["snr_db"] == 15.0
    assert doc["ber"][0]["fp32_model"] == "pgdnet-fp32-4x4-16qam"


def test_cli_export_bad_input(tmp_path, capsys):
    assert main(["export", "no-such-model", "--out", str(tmp_path / "x.tflite")]) == 2
    assert "no pretrained model named 'no-such-model'" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    for bad in (tmp_path, blocker / "sub" / "x.tflite"):  # a directory; under a file
        assert main(["export", "pgdnet-kaq8-4x4-16qam", "--out", str(bad)]) == 2
        err = capsys.readouterr().err
        assert "error: --out" in err and "Traceback" not in err
    assert main(["export", "pgdnet-kaq8-4x4-16qam", "--part", "encoder",
                 "--out", str(tmp_path / "x.tflite")]) == 2
    assert "part: expected one of detector, network" in capsys.readouterr().err
    assert not (tmp_path / "x.tflite").exists()
