"""Issue 20: the fair full-precision reference (quantizer mode ``fp32-snr``: kaq's
SNR-adaptive range without rounding), the depth parameter K and the LMMSE warm start
of the unfolded detectors."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.mimo import LinearDetector

from kaq_sionna.detection.unfolded import ADMMNet, PGDNet
from kaq_sionna.detection.unfolded_io import architecture_suffix, load_model, save_model
from kaq_sionna.quantization import Quantizer, kaq_total_loss, rayleigh_mimo_batch
from kaq_sionna.registry.detectors import LinkContext, build_detector
from kaq_sionna.training.spec import parse_train_scenario
from kaq_sionna.training.trainer import copy_core_weights, model_name

NTX, NRX, NBPS = 4, 4, 4


def batch(n, snr_db, seed, ntx=NTX, nrx=NRX):
    return rayleigh_mimo_batch(ntx, nrx, NBPS, n, snr_db, seed=seed)


def pair(cls, alpha, gamma, num_layers=3):
    """A plain fp32 detector (perturbed weights) and its fp32-snr twin with the same
    weights and the range coefficients ``alpha``, ``gamma``."""
    plain = cls(num_layers=num_layers, num_bits_per_symbol=NBPS)
    rng = np.random.default_rng(0)
    for v in plain.weights:
        v.assign(v.numpy() * (1 + 0.2 * rng.standard_normal(v.shape)))
    q = Quantizer("fp32-snr", step_init=1.0)
    fair = cls(num_layers=num_layers, num_bits_per_symbol=NBPS, quantizer=q)
    copy_core_weights(plain, fair)
    q.alpha.assign(np.full(q.alpha.shape, alpha, np.float32))
    q.gamma.assign(np.full(q.gamma.shape, gamma, np.float32))
    return plain, fair


# ------------------------------------------------------------------ fp32-snr
@pytest.mark.parametrize("cls", [PGDNet, ADMMNet])
def test_fp32_snr_equals_plain_fp32_when_the_range_never_binds(cls):
    plain, fair = pair(cls, alpha=0.0, gamma=1e6)  # range 1.27e8: never reached
    b = batch(64, [0.0, 25.0], 1)
    np.testing.assert_array_equal(plain(*b.inputs).numpy(), fair(*b.inputs).numpy())
    np.testing.assert_array_equal(plain.estimate(*b.inputs).x_real.numpy(),
                                  fair.estimate(*b.inputs).x_real.numpy())


@pytest.mark.parametrize("cls", [PGDNet, ADMMNet])
def test_fp32_snr_differs_only_through_the_snr(cls):
    """With a binding range, the estimate depends on s only through the per-sample SNR:
    constant in s when alpha = 0, changed by s when alpha > 0; the plain network's
    estimate never depends on s."""
    b = batch(64, 10.0, 2)
    y, h, s = b.inputs
    plain, fair_const = pair(cls, alpha=0.0, gamma=0.005)  # range 0.635 on the integer grid
    _, fair_snr = pair(cls, alpha=0.02, gamma=0.0)  # range 2.54 / sqrt(SNR)
    for det in (plain, fair_const):
        np.testing.assert_array_equal(det.estimate(y, h, s).x_real.numpy(),
                                      det.estimate(y, h, 4.0 * s).x_real.numpy())
    assert not np.allclose(fair_const.estimate(y, h, s).x_real.numpy(),
                           plain.estimate(y, h, s).x_real.numpy())  # the range does bind
    x1 = fair_snr.estimate(y, h, s).x_real.numpy()
    x4 = fair_snr.estimate(y, h, 4.0 * s).x_real.numpy()
    assert np.mean(np.abs(x1 - x4) > 1e-4) > 0.2
    # the range is 127 alpha SNR^(-1/2) (6 dB more noise doubles it)
    limit = 127 * 0.02 / np.sqrt(per_sample_snr_np(h, s))
    assert np.all(np.abs(x1) <= limit[:, None] * (1 + 1e-5))


def per_sample_snr_np(h, s):
    h, s = h.numpy(), s.numpy()
    gain = np.sum(np.abs(h) ** 2, axis=(-2, -1)) / h.shape[-1]
    return gain / (np.trace(s, axis1=-2, axis2=-1).real / h.shape[-2])


@pytest.mark.parametrize("cls", [PGDNet, ADMMNet])
def test_fp32_snr_gradients_reach_every_parameter(cls):
    q = Quantizer("fp32-snr")
    det = cls(num_layers=3, num_bits_per_symbol=NBPS, quantizer=q)
    cal = batch(512, [0.0, 25.0], 3)
    q.calibrate(det, cal.inputs)
    # a tighter range than the calibrated one, so that it binds for some samples
    q.gamma.assign(q.gamma * 0.5)
    q.alpha.assign(q.alpha * 0.5)
    b = batch(256, [0.0, 25.0], 4)
    with tf.GradientTape() as tape:
        loss = kaq_total_loss(det.to_real(b.x), det.estimate(*b.inputs).x_real)
    names = {v.name for v in det.trainable_variables}
    assert {"alpha", "gamma"} <= names
    for v, g in zip(det.trainable_variables, tape.gradient(loss, det.trainable_variables),
                    strict=True):
        assert g is not None and np.all(np.isfinite(g.numpy())), v.name
        assert np.any(g.numpy() != 0), v.name


def test_fp32_snr_calibration_covers_the_activations():
    q = Quantizer("fp32-snr", num_bits=4)  # num_bits does not change the range's scale
    det = PGDNet(num_layers=3, num_bits_per_symbol=NBPS, quantizer=q)
    assert not q.calibrated and q.needs_calibration and q.qmax == 127
    cal = batch(1024, [0.0, 25.0], 5)
    plain = PGDNet(num_layers=3, num_bits_per_symbol=NBPS)
    stats = q.calibrate(det, cal.inputs)
    assert q.calibrated and set(stats) == {"x1", "x2", "x3"}
    # at 100 %, the calibrated range clips nothing of the calibration set
    np.testing.assert_allclose(det.estimate(*cal.inputs).x_real.numpy(),
                               plain.estimate(*cal.inputs).x_real.numpy(), rtol=0, atol=1e-5)


def test_fp32_snr_in_specs_registry_and_names(tmp_path):
    spec = parse_train_scenario({
        "scenario": {"name": "t"}, "model": {"type": "admmnet", "quant": "fp32-snr"},
        "system": {"num_tx": 4, "num_rx": 4}})
    assert model_name(spec) == "admmnet-fp32snr-4x4-16qam"
    ctx = LinkContext(num_tx=NTX, num_rx=NRX, num_bits_per_symbol=NBPS)
    det = build_detector("pgdnet", ctx, quant="fp32-snr")
    assert det.quantizer.mode == "fp32-snr" and det.quantizer.calibrated
    save_model(det, tmp_path / "m", {"system": {"num_tx": NTX, "num_rx": NRX,
                                                "num_bits_per_symbol": NBPS}})
    back = load_model(tmp_path / "m")
    b = batch(32, 12.0, 6)
    np.testing.assert_array_equal(det(*b.inputs).numpy(), back(*b.inputs).numpy())


# ------------------------------------------------------------------- depth K
@pytest.mark.parametrize("num_layers", [5, 10, 15])
@pytest.mark.parametrize("cls,per_layer", [(PGDNet, {"eta": 0, "lambda": 0}),
                                           (ADMMNet, {"log_rho": 0, "lambda": 0, "tau": -1})])
def test_depth_scales_the_weights_and_keeps_the_shapes(cls, per_layer, num_layers):
    q = Quantizer("kaq", 4, step_init=0.3)
    det = cls(num_layers=num_layers, num_bits_per_symbol=NBPS, quantizer=q)
    own = {v.name: v.shape for v in det.weights if id(v) not in {id(w) for w in q.weights}}
    assert own == {name: (num_layers + extra,) for name, extra in per_layer.items()}
    assert len(q.sites) == num_layers and q.alpha.shape == (num_layers,)
    b = batch(8, 10.0, 7, ntx=3, nrx=5)
    est = det.estimate(*b.inputs)
    assert len(est.layers) == num_layers and est.x_real.shape == (8, 6)
    assert det(*b.inputs).shape == (8, 3, NBPS)


@pytest.mark.parametrize("num_layers", [5, 10, 15])
def test_depth_in_training_specs_and_names(num_layers):
    spec = parse_train_scenario({
        "scenario": {"name": "t"}, "system": {"num_tx": 4, "num_rx": 4},
        "model": {"type": "pgdnet", "quant": "kaq", "bits": 4, "num_layers": num_layers,
                  "x_init": "lmmse"}})
    suffix = "-lmmse" if num_layers == 5 else f"-k{num_layers}-lmmse"
    assert model_name(spec) == "pgdnet-kaq4-4x4-16qam" + suffix
    assert architecture_suffix(5) == ""


def test_new_keys_keep_old_fingerprints():
    base = {"scenario": {"name": "t"}, "model": {"type": "pgdnet"},
            "system": {"num_tx": 4, "num_rx": 4}}
    explicit = {**base, "model": {"type": "pgdnet", "x_init": "zero"}}
    warm = {**base, "model": {"type": "pgdnet", "x_init": "lmmse"}}
    fp = parse_train_scenario(base).fingerprint()
    assert parse_train_scenario(explicit).fingerprint() == fp
    assert parse_train_scenario(warm).fingerprint() != fp


# ---------------------------------------------------------------- warm start
def lmmse_numpy(det, b):
    c = det.grid_scale
    y, h, s = (v.numpy().astype(np.complex128) for v in b.inputs)
    yr = np.concatenate([y.real, y.imag], -1) * c
    hr = np.block([[h.real, -h.imag], [h.imag, h.real]])
    sigma2 = np.trace(s, axis1=-2, axis2=-1).real * c ** 2 / (2 * h.shape[-2])
    a = np.swapaxes(hr, -1, -2) @ hr + (sigma2 / det.energy_per_dim)[:, None, None] * np.eye(
        hr.shape[-1])
    return np.linalg.solve(a, (np.swapaxes(hr, -1, -2) @ yr[..., None]))[..., 0]


def test_warm_start_with_zero_steps_is_the_lmmse_detector():
    """eta = lambda = 0: x^(K) = x^(0) = the LMMSE estimate (numpy reference), and the
    Gaussian-approximation LLRs are those of Sionna's LMMSE detector."""
    det = PGDNet(num_layers=3, num_bits_per_symbol=NBPS, x_init="lmmse", eta_init=0.0,
                 lambda_init=0.0)
    b = batch(256, [5.0, 20.0], 8)
    x = det.estimate(*b.inputs).x_real.numpy()
    np.testing.assert_allclose(x, lmmse_numpy(det, b), rtol=0, atol=2e-4)
    ref = LinearDetector("lmmse", "bit", "app", num_bits_per_symbol=NBPS,
                         constellation_type="qam")
    ours, theirs = det(*b.inputs).numpy(), ref(*b.inputs).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3)


def test_warm_start_admm_with_infinite_penalty_is_the_lmmse_estimate():
    det = ADMMNet(num_layers=2, num_bits_per_symbol=NBPS, x_init="lmmse", rho_init=1e7,
                  lambda_init=0.0)
    b = batch(128, [5.0, 20.0], 9)
    np.testing.assert_allclose(det.estimate(*b.inputs).x_real.numpy(), lmmse_numpy(det, b),
                               rtol=0, atol=1e-3)


@pytest.mark.parametrize("cls", [PGDNet, ADMMNet])
def test_warm_start_linearisation_is_exact_and_saved(cls, tmp_path):
    det = cls(num_layers=4, num_bits_per_symbol=NBPS, x_init="lmmse")
    b = batch(64, 12.0, 10)
    w, o = det.linearization(*b.inputs)
    yr = tf.concat([tf.math.real(b.y), tf.math.imag(b.y)], -1) * det.grid_scale
    np.testing.assert_allclose((tf.linalg.matvec(w, yr) + o).numpy(),
                               det.estimate(*b.inputs).x_real.numpy(), rtol=0, atol=1e-3)
    save_model(det, tmp_path / "m", {"system": {"num_tx": NTX, "num_rx": NRX,
                                                "num_bits_per_symbol": NBPS}})
    back = load_model(tmp_path / "m")
    assert back.x_init == "lmmse"
    np.testing.assert_array_equal(det(*b.inputs).numpy(), back(*b.inputs).numpy())
