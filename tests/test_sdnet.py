"""SDNet (learngene paper, arXiv 2503.16931): shapes and dtypes, gradient flow, the input image
against a numpy reference, use in CodedMIMOLink, save/load, the registry entry, and the
LS-CSI pilot model of the flat link (error variance N0 / P)."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.channels import add_ls_csi_error, ls_csi_error_var
from kaq_sionna.core.errors import PretrainedMismatch
from kaq_sionna.detection.sdnet import COLLECTIVE_CONV, SDNet, conv_spec, sdnet_features
from kaq_sionna.detection.sdnet_io import load_sdnet, save_sdnet
from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
from kaq_sionna.registry import LinkContext, build_detector
from links import CodedMIMOLink

SMALL = [conv_spec("c0", 4), conv_spec("c1", 4)]


def _batch(ntx=2, nrx=4, nbps=4, n=16, snr=10.0, seed=3):
    return rayleigh_mimo_batch(ntx, nrx, nbps, n, snr, seed=seed)


@pytest.mark.parametrize("precision, dtype", [("single", tf.float32), ("double", tf.float64)])
def test_shapes_and_dtypes(precision, dtype):
    det = SDNet(2, 4, 4, SMALL, (8,), 2, precision=precision)
    b = rayleigh_mimo_batch(2, 4, 4, 6, 10.0, seed=1, precision=precision)
    y, h, s = b.inputs
    out = det(tf.reshape(y, [2, 3, 4]), tf.reshape(h, [2, 3, 4, 2]), tf.reshape(s, [2, 3, 4, 4]))
    assert out.shape == (2, 3, 2, 4) and out.dtype == dtype
    hard = SDNet(2, 4, 4, SMALL, (8,), 2, hard_out=True)(*_batch().inputs)
    assert set(np.unique(hard.numpy())) <= {0.0, 1.0}


def test_untrained_residual_sdnet_is_sionna_zf():
    """The output layer starts at zero, so the untrained SDNet gives the ZF app LLRs."""
    from sionna.phy.mimo import LinearDetector

    b = _batch(n=64)
    zf = LinearDetector("zf", "bit", "app", "qam", 4)(*b.inputs)
    np.testing.assert_allclose(SDNet(2, 4, 4, SMALL, (8,), 2)(*b.inputs).numpy(), zf.numpy(),
                               rtol=1e-3, atol=1e-3)


def test_gradients_reach_every_weight():
    det = SDNet(2, 4, 4, SMALL, (8,), 2, residual=False)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(det(*_batch().inputs)))
    grads = tape.gradient(loss, det.trainable_variables)
    assert len(grads) == 2 * len(det.named_layers()) == len(det.named_weights())
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_input_image_matches_numpy_reference():
    b = _batch(ntx=2, nrx=3, n=4)
    image, snr = sdnet_features(*b.inputs)
    y, h = b.y.numpy(), b.h.numpy()
    for i in range(4):
        hc = h[i]
        x = np.linalg.solve(hc.conj().T @ hc, hc.conj().T @ y[i])
        sig = np.sqrt(0.1 * np.diag(np.linalg.inv(hc.conj().T @ hc)).real / 2)
        hr = np.block([[hc.real, -hc.imag], [hc.imag, hc.real]])
        ref = np.concatenate([np.clip(np.r_[x.real, x.imag], -4, 4)[:, None],
                              np.minimum(np.r_[sig, sig], 4)[:, None], np.sqrt(3) * hr.T], 1)
        np.testing.assert_allclose(image[i, :, :, 0].numpy(), ref, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(snr.numpy(), 1.0, rtol=1e-5)  # 10 dB / 10


def test_works_in_coded_mimo_link_with_ls_csi():
    det = build_detector("sdnet", LinkContext(2, 4, 4))
    link = CodedMIMOLink(det, num_tx=2, num_rx=4, num_bits_per_symbol=4, k=256, n=512,
                         csi_pilots=4)
    b, b_hat = link(4, 10.0)
    assert b.shape == b_hat.shape == (4, 2, 256)
    uncoded = CodedMIMOLink(det, num_tx=2, num_rx=4, num_bits_per_symbol=4, n=64, uncoded=True,
                            csi_pilots=4)
    b, b_hat = tf.function(uncoded)(8, tf.constant(10.0))
    assert b.shape == b_hat.shape == (8, 2, 64)


def test_save_load_round_trip_and_mismatch(tmp_path):
    det = SDNet(2, 4, 4, SMALL, (8,), 2)
    save_sdnet(det, tmp_path, {"system": {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 4}})
    again = load_sdnet(tmp_path)
    inputs = _batch().inputs
    np.testing.assert_array_equal(det(*inputs).numpy(), again(*inputs).numpy())
    np.savez(tmp_path / "weights.npz", **{k: v.numpy() for k, v in
                                          list(det.named_weights().items())[:-1]})
    with pytest.raises(PretrainedMismatch, match="missing"):
        load_sdnet(tmp_path)


def test_registry_sizes_share_the_learngene_layer_names():
    ctx = LinkContext(4, 8, 4)
    names = {size: [n for n, _ in build_detector("sdnet", ctx, size=size).named_layers()]
             for size in ("collective", "s", "m", "l")}
    assert names["collective"][:4] == [c["name"] for c in COLLECTIVE_CONV]
    for size in ("s", "m", "l"):
        assert names[size][:2] == ["conv0", "conv1"]


def test_ls_csi_error_variance_follows_the_snr():
    assert ls_csi_error_var(0.1, 8) == pytest.approx(0.0125)
    with pytest.raises(ValueError):
        ls_csi_error_var(0.1, 0)
    tf.random.set_seed(7)
    h = tf.zeros([20000, 4, 2], tf.complex64)
    no = tf.constant([0.1] * 10000 + [0.01] * 10000)
    e = add_ls_csi_error(h, no, 4).numpy()
    var_hi, var_lo = np.mean(np.abs(e[:10000]) ** 2), np.mean(np.abs(e[10000:]) ** 2)
    # 80,000 complex samples each: relative standard error of the variance ~0.35 %
    assert var_hi == pytest.approx(0.025, rel=0.03)
    assert var_lo == pytest.approx(0.0025, rel=0.03)


def test_link_ls_csi_error_is_snr_dependent():
    captured = []

    def spy(y, h, s):
        captured.append(h)
        return tf.zeros(tf.concat([tf.shape(h)[:-2], [2, 2]], 0))

    link = CodedMIMOLink(spy, num_tx=2, num_rx=2, num_bits_per_symbol=2, n=512, uncoded=True,
                         snr_type="esno", csi_pilots=2)
    tf.random.set_seed(1)
    c = tf.zeros([64, 2, 512])
    h = link.draw_channel(64)
    link.detect_codewords(c, tf.constant(0.1), h=h)
    err = (captured[-1] - h).numpy()
    assert np.mean(np.abs(err) ** 2) == pytest.approx(0.05, rel=0.05)
    assert CodedMIMOLink(spy, num_tx=2, num_rx=2, num_bits_per_symbol=2, n=512,
                         uncoded=True).csi_pilots == 0
