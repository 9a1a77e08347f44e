"""Quantization: Q_b with STE (eqs. 9, 10, 19), modes and calibration, the
SNR-adaptive step (eq. 15), the MMD loss and its bandwidth collapse (eqs. 11-14),
the total loss (eq. 16)."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.detection.unfolded import ADMMNet, PGDNet
from kaq_sionna.quantization import (
    KernelMMD,
    Quantizer,
    adaptive_step,
    check_num_bits,
    fake_quantize,
    kaq_total_loss,
    median_pairwise_distance,
    mmd2,
    per_sample_snr,
    qmax,
    rayleigh_mimo_batch,
)


def data(n=512, snr=(0.0, 25.0), seed=11):
    return rayleigh_mimo_batch(4, 4, 4, n, snr, seed=seed)


# -------------------------------------------------------------------- Q_b, STE
@pytest.mark.parametrize("num_bits", [2, 3, 4, 8])
def test_fake_quantizer_levels_and_error(num_bits):
    rng = np.random.default_rng(0)
    step = 0.37
    x = tf.constant(rng.normal(0, 2.0 * step * qmax(num_bits), 20000), tf.float32)
    q = fake_quantize(x, step, num_bits).numpy()
    assert len(np.unique(q)) <= 2 ** num_bits
    np.testing.assert_allclose(q / step, np.round(q / step), atol=1e-4)  # on the grid
    inside = np.abs(x.numpy()) <= step * qmax(num_bits)
    assert inside.mean() > 0.3 and (~inside).mean() > 0.05  # both regimes exercised
    assert np.all(np.abs(q[inside] - x.numpy()[inside]) <= step / 2 + 1e-5)
    np.testing.assert_allclose(np.abs(q[~inside]), step * qmax(num_bits), rtol=1e-6)


def test_straight_through_estimator():
    step, b = tf.Variable(0.5), 3  # qmax = 3: range [-1.5, 1.5]
    x = tf.Variable([-2.0, -1.5, -0.6, 0.1, 0.74, 1.5, 1.6, 4.0])
    with tf.GradientTape(persistent=True) as tape:
        q = fake_quantize(x, step, b)
        total = tf.reduce_sum(q)
    dx = tape.gradient(total, x).numpy()
    np.testing.assert_array_equal(dx, [0, 1, 1, 1, 1, 1, 0, 0])  # eq. (19)
    v = x.numpy() / 0.5
    expected = np.where(np.abs(v) <= 3, np.round(v) - v, np.clip(np.round(v), -3, 3)).sum()
    np.testing.assert_allclose(tape.gradient(total, step).numpy(), expected, rtol=1e-5)


def test_fake_quantizer_broadcast_step_gradient():
    x = tf.random.stateless_normal([4, 8, 1], seed=[1, 2])
    step = tf.Variable(tf.fill([4, 1, 1], 0.2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(fake_quantize(x, step, 4)))
    g = tape.gradient(loss, step)
    assert g.shape == (4, 1, 1) and np.all(np.isfinite(g.numpy()))


def test_bad_arguments():
    for bad in (1, 17, 8.0, True, "8"):
        with pytest.raises(ValueError, match="num_bits"):
            check_num_bits(bad)
    with pytest.raises(ValueError, match="num_bits"):
        Quantizer("ptq", 1)
    with pytest.raises(ValueError, match="quantization mode"):
        Quantizer("int8")
    with pytest.raises(ValueError, match="epsilon"):
        Quantizer("kaq", epsilon=-1.0)
    with pytest.raises(ValueError, match="max_ratio"):
        KernelMMD(max_ratio=1.0)
    det = PGDNet(num_layers=2, quantizer=Quantizer("ptq", 8))
    with pytest.raises(RuntimeError, match="not calibrated"):
        det(*data(8).inputs)
    with pytest.raises(ValueError, match="attached"):
        Quantizer("ptq").calibrate(det, data(8).inputs)


# -------------------------------------------------------- modes, calibration
def test_fp16_mode_rounds_to_half_precision():
    b = data(64)
    ref = PGDNet(num_layers=3).estimate(*b.inputs).layers
    half = PGDNet(num_layers=3, quantizer="fp16").estimate(*b.inputs).layers
    np.testing.assert_array_equal(half[0].numpy(),
                                  ref[0].numpy().astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(half[-1].numpy(), ref[-1].numpy(), atol=2e-2)


@pytest.mark.parametrize("cls", [PGDNet, ADMMNet])
def test_ptq_calibration_is_eq10_and_quantizes_every_layer(cls):
    b = data(512)
    fp = cls(num_layers=3)
    q = Quantizer("ptq", 3, quantize_intermediate=True)
    det = cls(num_layers=3, quantizer=q)
    stats = q.calibrate(det, b.inputs)
    assert set(stats) == {"x1", "x2", "x3", "r1", "r2", "r3"}
    for k, layer in enumerate(fp.estimate(*b.inputs).layers, start=1):
        expected = np.abs(layer.numpy()).max() / qmax(3)  # eq. (10)
        np.testing.assert_allclose(q.step[q.site_index("x", k)].numpy(), expected, rtol=1e-5)
    for k, layer in enumerate(det.estimate(*b.inputs).layers, start=1):
        levels = layer.numpy() / q.step[q.site_index("x", k)].numpy()
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
        assert len(np.unique(np.round(levels))) <= 2 ** 3


def test_kaq_calibration_covers_every_sample_and_step_is_per_sample():
    b = data(1024)
    q = Quantizer("kaq", 4)
    det = PGDNet(num_layers=3, quantizer=q)
    stats = q.calibrate(det, b.inputs)
    snr = per_sample_snr(b.h, b.s).numpy()
    layers = PGDNet(num_layers=3).estimate(*b.inputs).layers
    for k, layer in enumerate(layers, start=1):
        site = q.site_index("x", k)
        assert stats[f"x{k}"]["alpha"] >= 0
        step = q.step_size(site, tf.constant(snr)).numpy()
        assert step.shape == snr.shape
        assert np.all(step * q.qmax >= np.abs(layer.numpy()).max(-1) * (1 - 1e-5))
    # measured: activations spread more at low SNR, so alpha > 0 for the later layers
    assert max(stats[f"x{k}"]["alpha"] for k in (1, 2, 3)) > 0


def test_gradients_reach_quantizer_parameters():
    b = data(128, (5.0, 20.0))
    for mode, names in (("qat-mse", {"eta", "lambda", "step"}),
                        ("kaq", {"eta", "lambda", "alpha", "gamma", "bandwidth_theta"}),
                        # the ablation modes: one ingredient each
                        ("kaq-mmd-only", {"eta", "lambda", "step", "bandwidth_theta"}),
                        ("kaq-step-only", {"eta", "lambda", "alpha", "gamma"})):
        q = Quantizer(mode, 4, mmd_max_samples=64, epsilon=1.0)
        det = PGDNet(num_layers=3, quantizer=q)
        q.calibrate(det, b.inputs)
        with tf.GradientTape() as tape:
            est = det.estimate(*b.inputs, training=True)
            loss = kaq_total_loss(det.to_real(b.x), est.x_real, est.mmd, q.epsilon)  # eq. (16)
        grads = tape.gradient(loss, det.trainable_variables)
        assert {v.name for v in det.trainable_variables} == names
        for v, g in zip(det.trainable_variables, grads, strict=True):
            assert g is not None and np.all(np.isfinite(g.numpy())), v.name
            assert np.any(g.numpy() != 0), v.name
        assert q.uses_mmd == (mode in ("kaq", "kaq-mmd-only"))
        assert q.needs_snr == (mode in ("kaq", "kaq-step-only"))
        if q.uses_mmd:
            assert est.mmd.shape == (3,)
        else:
            assert est.mmd is None


def test_ablation_modes_step_kinds():
    """kaq-mmd-only quantizes with one static step per site whatever the SNR; kaq-step-only
    with the per-sample adaptive step of eq. (15), calibrated as kaq's."""
    b = data(512)
    snr = per_sample_snr(b.h, b.s)
    steps = {}
    for mode in ("kaq", "kaq-mmd-only", "kaq-step-only"):
        q = Quantizer(mode, 4)
        q.calibrate(PGDNet(num_layers=3, quantizer=q), b.inputs)
        steps[mode] = q.step_size(q.site_index("x", 3), snr).numpy()
    assert np.ndim(steps["kaq-mmd-only"]) == 0
    np.testing.assert_allclose(steps["kaq-step-only"], steps["kaq"], rtol=1e-6)
    assert steps["kaq"].shape == snr.shape and np.ptp(steps["kaq"]) > 0


def test_total_loss_eq16():
    x = tf.constant([[1 + 1j, -1 - 3j], [3 + 1j, 1 - 1j]], tf.complex64)
    x_hat = tf.constant([[0.5 + 1j, -1 - 2j], [3 + 0j, 1 - 1j]], tf.complex64)
    mse = ((0.25 + 1.0) + 1.0) / 2
    np.testing.assert_allclose(kaq_total_loss(x, x_hat).numpy(), mse, rtol=1e-6)
    np.testing.assert_allclose(kaq_total_loss(x, x_hat, [0.1, 0.3], 0.5).numpy(), mse + 0.2,
                               rtol=1e-6)


# ------------------------------------------------------------- adaptive step
def test_adaptive_step_decreases_with_snr():
    snr_db = np.linspace(0, 25, 11)
    step = adaptive_step(tf.constant(10 ** (snr_db / 10), tf.float32), 0.3, 0.05).numpy()
    assert np.all(np.diff(step) < 0)
    np.testing.assert_allclose(step, 0.3 * 10 ** (-snr_db / 20) + 0.05, rtol=1e-5)  # eq. (15)
    assert np.all(np.diff(adaptive_step(tf.constant([1.0, 10.0, 100.0]), -0.3, 1.0)) > 0)


def test_per_sample_snr_matches_convention():
    b = rayleigh_mimo_batch(4, 4, 4, 4000, 10.0, seed=5)
    snr = per_sample_snr(b.h, b.s).numpy()
    gain = np.sum(np.abs(b.h.numpy()) ** 2, axis=(-2, -1)) / 4
    np.testing.assert_allclose(snr, gain / b.no.numpy(), rtol=1e-5)
    assert abs(snr.mean() / 10.0 - 1) < 0.03  # averages to Es/N0 = 1/N0


# ----------------------------------------------------------------------- MMD
def two_gaussians(n=256, seed=0):
    rng = np.random.default_rng(seed)
    p = tf.constant(rng.normal(0, 1, (n, 1)), tf.float32)
    p2 = tf.constant(rng.normal(0, 1, (n, 1)), tf.float32)
    q = tf.constant(rng.normal(1, 1, (n, 1)), tf.float32)
    return p, p2, q


def test_mmd_separates_distributions():
    p, p2, q = two_gaussians()
    sigma = tf.constant([0.5, 1.0, 2.0])
    same, diff = mmd2(p, p2, sigma).numpy(), mmd2(p, q, sigma).numpy()
    assert diff > 10 * same and diff > 0.05  # measured: ~0.15 vs ~0.004
    np.testing.assert_allclose(mmd2(p, p, sigma).numpy(), 0.0, atol=1e-6)
    assert KernelMMD()(p, q).numpy() > 10 * KernelMMD()(p, p2).numpy()
    m = median_pairwise_distance(tf.concat([p, q], 0)).numpy()
    assert 0.8 < m < 1.6  # |N(0,1) mixture differences|: median ~1.1


def minimise_over_bandwidths(mmd, p, q, steps=150):
    opt = tf.keras.optimizers.Adam(0.1)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = mmd(p, q)
        opt.apply_gradients(zip(tape.gradient(loss, mmd.trainable_variables),
                                mmd.trainable_variables, strict=True))
        return loss

    for _ in range(steps):
        step()


def test_bandwidth_collapse_and_its_prevention():
    """Minimising the MMD w.r.t. the bandwidths: free bandwidths leave the data
    scale (towards 0, where every MMD tends to 2/B, or towards infinity, where it
    tends to 0) and the loss stops separating N(0,1) from N(1,1); bounded ones
    stay within [m/4, 4m] of the median distance m and keep separating."""
    p, p2, q = two_gaussians()
    free = KernelMMD(bounded=False)
    gap_before = free(p, q).numpy() - free(p, p2).numpy()
    minimise_over_bandwidths(free, p, q)
    sigma = free.bandwidths().numpy()
    assert np.all((sigma < 0.05) | (sigma > 20.0)), sigma  # measured: ~0.007, ~0.008, ~45
    gap_after = free(p, q).numpy() - free(p, p2).numpy()
    assert gap_after < 0.1 * gap_before, (gap_before, gap_after)  # the collapse

    bounded = KernelMMD()
    minimise_over_bandwidths(bounded, p, q)
    m = median_pairwise_distance(tf.concat([p, q], 0))
    sigma = bounded.bandwidths(m).numpy()
    assert np.all(np.isfinite(sigma)) and np.all(sigma <= 4.0 * m.numpy() * (1 + 1e-5))
    diff, same = bounded(p, q).numpy(), bounded(p2, p).numpy()
    assert diff > 5 * same and diff - same > 0.01  # measured: ~0.066 vs ~0.0025

    adversarial = KernelMMD(adversarial=True)
    start = adversarial(p, q).numpy()
    minimise_over_bandwidths(adversarial, p, q, steps=50)
    assert adversarial(p, q).numpy() > start  # bandwidths move to maximise the MMD


def test_per_term_kernel_is_literal_eq11():
    p, _, q = two_gaussians(64)
    sig = tf.constant([0.5, 1.0, 2.0])
    d = lambda a, b: tf.reduce_sum(tf.square(a[:, None] - b[None]), -1)  # noqa: E731
    k = lambda d2, s: tf.reduce_mean(tf.exp(-d2 / (2 * s ** 2)))  # noqa: E731
    expected = k(d(p, p), 0.5) + k(d(q, q), 1.0) - 2 * k(d(p, q), 2.0)
    np.testing.assert_allclose(mmd2(p, q, sig, "per-term").numpy(), expected.numpy(), rtol=1e-5)
