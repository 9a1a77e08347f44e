"""EQ-Net's estimation inputs beyond the paper (``estimation_inputs="lmmse"``) and the
stream-permutation augmentation of its trainer."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import json

import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.registry.detectors import LinkContext, build_detector
from kaq_sionna.softbits.eqnet import EQNet, EQNetMismatch, load_eqnet, save_eqnet
from kaq_sionna.softbits.scalar import llr_to_softbit
from kaq_sionna.training.eqnet_data import permute_streams
from kaq_sionna.training.eqnet_trainer import train_eqnet

from test_eqnet import NULL, random_inputs, tiny


def haar_unitary(n, batch, rng):
    z = (rng.normal(size=(batch, n, n)) + 1j * rng.normal(size=(batch, n, n))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=1, axis2=2)
    return q * (d / np.abs(d))[:, None, :]


def test_lmmse_inputs_shapes_save_load_and_mismatch(tmp_path):
    det = EQNet(2, 4, 4, estimation_inputs="lmmse", estimation_width=32)
    assert det.fe_y.kernel.shape[0] == 2 * 2 and det.fe_h.kernel.shape[0] == 2 * 2 * 2
    raw = EQNet(2, 4, 4, estimation_width=32)
    assert raw.fe_y.kernel.shape[0] == 2 * 4 and raw.fe_h.kernel.shape[0] == 2 * 4 * 2
    y, h, s = random_inputs(nt=2, nr=4)
    llr = det(y, h, s)
    assert llr.shape == (5, 3, 2, 4) and llr.dtype == tf.float32
    np.testing.assert_array_equal(tf.function(det.estimate)(y, h, s).numpy(), llr.numpy())
    # links run detectors under XLA (no complex MatrixSolve there: the LMMSE inputs use Cholesky)
    xla = tf.function(det.estimate, jit_compile=True)(y, h, s).numpy()
    np.testing.assert_allclose(xla, llr.numpy(), atol=1e-3)
    save_eqnet(det, tmp_path / "m")
    again = load_eqnet(tmp_path / "m")
    assert again.estimation_inputs == "lmmse"
    np.testing.assert_array_equal(again(y, h, s).numpy(), llr.numpy())
    with pytest.raises(EQNetMismatch, match="estimation_inputs: stored model has 'lmmse', "
                                            "this EQNet has 'raw'"):
        from kaq_sionna.softbits.eqnet import load_weights_into

        load_weights_into(EQNet(2, 4, 4, estimation_width=32), tmp_path / "m")
    with pytest.raises(ValueError, match="estimation_inputs must be one of"):
        EQNet(2, 2, 2, estimation_inputs="mf")


def test_config_without_estimation_inputs_loads_as_paper_inputs(tmp_path):
    """Models saved before the option existed are the paper's (raw inputs)."""
    save_eqnet(EQNet(2, 2, 2, estimation_width=16), tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    cfg = json.loads(path.read_text())
    del cfg["layer"]["estimation_inputs"]
    path.write_text(json.dumps(cfg))
    assert load_eqnet(tmp_path / "m").estimation_inputs == "raw"


def test_lmmse_inputs_are_invariant_to_a_receive_rotation():
    """(x_lmmse, H^H H) does not change under y -> U y, H -> U H (U unitary), as the ML
    soft bits do not; the paper's raw inputs do change."""
    rng = np.random.default_rng(5)
    y, h, s = (t.numpy() for t in random_inputs(nt=2, nr=3, batch=(64,), seed=2))
    u = haar_unitary(3, 64, rng)
    y_rot = np.einsum("bij,bj->bi", u, y).astype(np.complex64)
    h_rot = (u @ h).astype(np.complex64)
    for inputs, invariant in (("lmmse", True), ("raw", False)):
        det = EQNet(2, 3, 4, estimation_inputs=inputs, estimation_width=32, seed=1)
        a = det.estimate_features(y, h, s).numpy()
        b = det.estimate_features(y_rot, h_rot, s).numpy()
        assert np.allclose(a, b, atol=1e-4) == invariant, inputs


def test_ml_soft_bits_follow_a_stream_permutation():
    """What augment = "permutations" relies on: permuting the columns of H permutes the
    rows of the ML soft-bit matrix (y unchanged)."""
    ml = build_detector("ml", LinkContext(3, 3, 2))
    y, h, s = random_inputs(nt=3, nr=3, batch=(200,), seed=7)
    sb = llr_to_softbit(ml(y, h, s)).numpy()
    h_p, sb_p = permute_streams(np.random.default_rng(0), h.numpy(), sb)
    assert not np.allclose(h_p, h.numpy())  # some samples were actually permuted
    got = llr_to_softbit(ml(y, tf.constant(h_p), s)).numpy()
    np.testing.assert_allclose(got, sb_p, atol=1e-4)


def test_fingerprint_keeps_older_checkpoints_and_names_the_inputs():
    base = tiny()
    explicit = tiny(model={"estimation_inputs": "raw"}, training={"augment": "none"})
    assert base.fingerprint() == explicit.fingerprint()
    assert tiny(training={"augment": "permutations"}).fingerprint() != base.fingerprint()
    lm = tiny(model={"estimation_inputs": "lmmse"})
    assert lm.fingerprint() != base.fingerprint()
    assert lm.data_fingerprint() == base.data_fingerprint()  # same data can be reused


def test_training_with_lmmse_inputs_and_permutations(tmp_path):
    spec = tiny(model={"estimation_inputs": "lmmse"}, data={"packets_per_snr": 60},
                training={"augment": "permutations", "stage1_epochs": 4, "stage2_epochs": 6})
    doc = train_eqnet(spec, tmp_path, stream=NULL)
    # named from the training scenario; the canonical name records what the model is
    assert doc["name"] == spec.name
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["canonical_name"] == "eqnet-l-2x2-4qam-lmmse-inputs"
    stage2 = [e["val_feature_loss"] for e in doc["history"] if e["stage"] == 2]
    assert stage2[-1] < 0.8 * stage2[0]
    model = load_eqnet(tmp_path / "model")
    assert model.estimation_inputs == "lmmse" and model.codebook is not None
    # estimation beats all-zero soft bits on held-out data (it learned to detect)
    dist = doc["final_metrics"]["distortion"]
    assert dist["estimation"] < dist["zero_softbits"]


def test_registry_name_eqnet_resolves_to_the_shipped_model():
    from kaq_sionna.core.params import SpecError
    from kaq_sionna.softbits.eqnet import EQNet as Model

    ctx = LinkContext(2, 2, 6)
    det = build_detector("eqnet", ctx)
    assert isinstance(det, Model) and det.estimation_inputs == "lmmse"
    assert build_detector("eqnet", ctx, estimation_inputs="raw").estimation_inputs == "raw"
    y, h, s = random_inputs(nt=2, nr=2)
    assert det(y, h, s).shape == (5, 3, 2, 6)
    with pytest.raises(SpecError, match="none for 3x3, 16-QAM"):
        build_detector("eqnet", LinkContext(3, 3, 4))
