"""KAQ-quantized SDNet (issue 21 item 5, docs/sdnet.md): one quantizer site per hidden layer,
gradients reach the quantizer's parameters, save/load is bit-identical, the ``quantize``
training role, and the int8 LiteRT export of the network agrees with its TF twin."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import json

import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.detection.sdnet import SDNet, conv_spec
from kaq_sionna.detection.sdnet_io import load_sdnet, save_sdnet
from kaq_sionna.quantization.modes import Quantizer
from kaq_sionna.training.sdnet_tasks import Task, task_batch

SMALL = [conv_spec("c0", 4), conv_spec("c1", 4)]
TASK = Task(name="2x4-16qam", num_tx=2, num_rx=4, num_bits_per_symbol=4, channel="rayleigh",
            snr_db=(5.0, 20.0))
META = {"system": {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 4}}


def _quantized(mode="kaq", bits=8, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    det = SDNet(2, 4, 4, SMALL, (8,), 2, quantizer=Quantizer(mode, bits, epsilon=0.1))
    for layer in det.head_layers[-1:]:  # the residual head starts at zero: make it non-trivial
        layer.kernel.assign(np.random.default_rng(seed).normal(0, 0.3, layer.kernel.shape))
    y, h, s, _ = task_batch(TASK, 256, 7)
    det.quantizer.calibrate(det, (y, h, s))
    return det


def test_sites_one_per_hidden_layer_and_quantized_values():
    det = _quantized()
    # c0, c1, head_reduce, head_dense0
    assert det.quantizer.sites == [("x", k) for k in range(1, 5)]
    assert set(det.quantizer_weights()) == {"quantizer/alpha", "quantizer/gamma",
                                            *(f"quantizer/mmd_x{k}/bandwidth_theta"
                                              for k in range(1, 5))}
    y, h, s, _ = task_batch(TASK, 64, 8)
    fp = SDNet(2, 4, 4, SMALL, (8,), 2)
    for k, v in fp.named_weights().items():
        v.assign(det.named_weights()[k])
    a, b = det.logits(y, h, s).numpy(), fp.logits(y, h, s).numpy()
    assert not np.array_equal(a, b)  # quantization changes the output ...
    assert np.mean((a > 0) == (b > 0)) > 0.95  # ... a little at 8 bits


def test_gradients_reach_quantizer_parameters():
    det = _quantized()
    y, h, s, bits = task_batch(TASK, 128, 9)
    with tf.GradientTape() as tape:
        llr, reg = det.forward(y, h, s, training=True)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(bits, llr)) + reg
    assert float(reg) > 0  # the MMD term of eq. (16)
    grads = dict(zip([v.path for v in det.trainable_variables],
                     tape.gradient(loss, det.trainable_variables), strict=True))
    q = det.quantizer_weights()
    for name in ("quantizer/alpha", "quantizer/gamma", "quantizer/mmd_x1/bandwidth_theta"):
        g = grads[q[name].path]
        assert g is not None and float(tf.norm(g)) > 0, name


@pytest.mark.parametrize("mode, bits", [("kaq", 8), ("qat-mse", 4)])
def test_save_load_bit_identical(tmp_path, mode, bits):
    det = _quantized(mode, bits)
    save_sdnet(det, tmp_path, META)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["layer"]["quantizer"]["mode"] == mode
    assert config["layer"]["quantizer"]["num_bits"] == bits
    back = load_sdnet(tmp_path)
    assert back.quantizer.calibrated and back.quantizer.mode == mode
    assert list(back.named_weights()) == list(det.named_weights())
    for k, v in det.named_weights().items():
        np.testing.assert_array_equal(back.named_weights()[k].numpy(), v.numpy())
    y, h, s, _ = task_batch(TASK, 64, 10)
    np.testing.assert_array_equal(back.logits(y, h, s).numpy(), det.logits(y, h, s).numpy())


def test_quantize_role_spec_and_name():
    from kaq_sionna.training.sdnet_spec import TrainScenarioError, parse_sdnet_scenario

    data = {"scenario": {"name": "x"},
            "model": {"type": "sdnet", "role": "quantize", "init_from": "sdnet-m-4x8-16qam-kron38",
                      "quant": "kaq", "bits": 4},
            "task": [{"num_tx": 4, "num_rx": 8, "channel": "kronecker", "tx_corr": 0.3,
                      "rx_corr": 0.8}]}
    spec = parse_sdnet_scenario(data)
    assert spec.canonical_name() == "sdnet-m-kaq4-4x8-16qam-kron38"
    assert "learngene_from" not in spec.model
    bad = dict(data, model=dict(data["model"], size="m"))
    with pytest.raises(TrainScenarioError, match="size"):
        parse_sdnet_scenario(bad)


def test_int8_export_agrees_with_tf_twin():
    from kaq_sionna.deploy.check import TOLERANCES
    from kaq_sionna.deploy.runtime import LiteRTModel
    from kaq_sionna.deploy.sdnet_export import check_sdnet_export, export_sdnet_network

    det = _quantized()
    content = export_sdnet_network(det, TASK, "int8", num_calib=256)
    ops = LiteRTModel(model_content=content).op_summary()
    assert ops["int8"]["CONV_2D"] == 3 and ops["int8"]["FULLY_CONNECTED"] == 2
    report = check_sdnet_export(det, TASK, content, "int8", num_samples=1000)
    llr = report["stats"]["llr"]
    assert llr["hard_agreement"] >= TOLERANCES["int8"]["agreement"]
    assert llr["rel_err_mean"] <= TOLERANCES["int8"]["rel_err_mean"]
    assert report["within_tolerance"]
    # fp32 export of a float network: the fp32 tolerance
    fp = SDNet(2, 4, 4, SMALL, (8,), 2)
    for k, v in fp.named_weights().items():
        v.assign(det.named_weights()[k])
    assert check_sdnet_export(fp, TASK, export_sdnet_network(fp, TASK, "fp32"), "fp32",
                              num_samples=1000)["within_tolerance"]
