"""Max-MI LLR quantizer (kaq_sionna.softbits.maxmi, Winkelbauer & Matz, SPAWC 2015).

BPSK over AWGN gives exactly consistent LLRs, so I(B; Z) of any quantizer can be
estimated from the LLRs alone; the reference numbers (200k samples, Es/N0 = 0 dB)
are I(B;L) = 0.7215 and, max-MI vs MSE-fitted uniform, 0.7145 vs 0.7015 (3 bits),
0.7197 vs 0.7153 (4 bits).
"""

import numpy as np
import pytest

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly, before TF itself)

# isort: split
import tensorflow as tf
from sionna.phy import config

from kaq_sionna.registry import COMPRESSORS, make_compressor
from kaq_sionna.softbits import (
    MaxMIQuantizer,
    UniformLLRQuantizer,
    llr_mutual_information,
    quantized_mutual_information,
)

SNR_DB = 0.0
NUM = 200_000
UNFITTED = r"call fit\(llrs\) or HARQLink\.calibrate_storage first"


def _bpsk(num=NUM, snr_db=SNR_DB, seed=0):
    """Consistent LLRs of BPSK over AWGN and their bits, Sionna's sign convention.

    Sionna maps bit b to x = 1 - 2b; with complex noise of variance N0 (N0/2 on
    the real part), ln p(y|b=1)/p(y|b=0) = -4y/N0.
    """
    rng = np.random.default_rng(seed)
    no = 10 ** (-snr_db / 10)
    b = rng.integers(0, 2, num)
    y = (1 - 2 * b) + rng.normal(0, np.sqrt(no / 2), num)
    return -4 * y / no, b


@pytest.fixture(scope="module")
def data():
    return _bpsk()


@pytest.fixture(scope="module")
def fitted(data):
    llr, _ = data
    return {nb: MaxMIQuantizer(nb).fit(llr) for nb in range(1, 7)}


def _uniform_mi(llr, num_bits):
    u = UniformLLRQuantizer(num_bits).fit(llr)
    return quantized_mutual_information(llr, u.compress(tf.constant(llr, tf.float32)).numpy())


# ---------------------------------------------------------------- information

@pytest.mark.parametrize("num_bits, margin", [(1, -1e-9), (2, 1e-2), (3, 5e-3), (4, 2e-3)])
def test_beats_mse_fitted_uniform_quantizer(data, fitted, num_bits, margin):
    llr, _ = data
    mi_maxmi = fitted[num_bits].mutual_information(llr)
    # 1 bit: both are the sign; above, the max-MI cells are clearly better
    assert mi_maxmi >= _uniform_mi(llr, num_bits) + margin


def test_mi_increases_with_bits_and_stays_below_llr_mi(data, fitted):
    llr, b = data
    mis = [fitted[nb].mutual_information(llr) for nb in range(1, 7)]
    i_bl = llr_mutual_information(llr)
    assert np.all(np.diff(mis) > 0)
    assert max(mis) <= i_bl  # exact for the consistent estimates (Jensen)
    assert i_bl - mis[-1] < 5e-4  # 6 bits lose almost nothing
    # consistent and label-based estimates agree
    assert llr_mutual_information(llr, b) == pytest.approx(i_bl, abs=3e-3)
    assert fitted[3].mutual_information(llr, b) == pytest.approx(mis[2], abs=3e-3)
    assert fitted[3].training_mutual_information == pytest.approx(mis[2], abs=1e-12)


@pytest.mark.parametrize("num_bits", [2, 4])
def test_lloyd_iteration_reaches_the_dp_optimum(data, fitted, num_bits):
    llr, _ = data
    dp = MaxMIQuantizer(num_bits, method="dp").fit(llr, num_bins=512)
    assert fitted[num_bits].mutual_information(llr) == pytest.approx(
        dp.mutual_information(llr), abs=1e-4)


# ---------------------------------------------------------------- levels and cells

def test_levels_are_sorted_symmetric_cell_llrs(data, fitted):
    llr, b = data
    q = fitted[3]
    lv, t = q.levels, q.thresholds
    assert lv.shape == (8,) and t.shape == (7,)
    # sorted, and each boundary lies between its two levels
    assert np.all(lv[:-1] < t) and np.all(t < lv[1:])
    np.testing.assert_allclose(lv, -lv[::-1], atol=0.1)
    np.testing.assert_allclose(t, -t[::-1], atol=0.1)
    # each level is the empirical LLR ln(n1/n0) of its cell, within sampling error
    codes = q.compress(tf.constant(llr, tf.float32)).numpy()
    n1 = np.bincount(codes[b == 1], minlength=8)
    n0 = np.bincount(codes[b == 0], minlength=8)
    assert n1.min() > 20 and n0.min() > 20
    emp = np.log(n1 / n0)
    assert np.all(np.abs(lv - emp) < 4 * np.sqrt(1 / n1 + 1 / n0) + 1e-3), (lv, emp)
    # and, exactly, ln(sum sigma(l) / sum sigma(-l)) over the cell (the level update)
    s1 = np.bincount(codes, 1 / (1 + np.exp(-llr)), minlength=8)
    s0 = np.bincount(codes, 1 / (1 + np.exp(llr)), minlength=8)
    np.testing.assert_allclose(lv, np.log(s1 / s0), atol=1e-4)


def test_symmetric_option_is_exactly_odd(data, fitted):
    llr, _ = data
    q = MaxMIQuantizer(4, symmetric=True).fit(llr)
    np.testing.assert_array_equal(q.levels, -q.levels[::-1])
    np.testing.assert_array_equal(q.thresholds, -q.thresholds[::-1])
    assert q.thresholds[7] == 0.0
    assert q.mutual_information(llr) == pytest.approx(fitted[4].mutual_information(llr), abs=2e-4)


def test_labels_give_empirical_levels_for_mismatched_llrs(data):
    llr, b = data
    half = llr / 2  # under-confident (mismatched) LLRs: true cell LLRs are twice as large
    q = MaxMIQuantizer(3).fit(half, bits=b)
    codes = q.compress(tf.constant(half, tf.float32)).numpy()
    n1 = np.bincount(codes[b == 1], minlength=8)
    n0 = np.bincount(codes[b == 0], minlength=8)
    # label fit: levels are the (Krichevsky-Trofimov) empirical cell LLRs, exactly
    np.testing.assert_allclose(q.levels, np.log((n1 + 0.5) / (n0 + 0.5)), rtol=1e-9)
    # ... which are the cell LLRs of the true (consistent) LLRs
    s1 = np.bincount(codes, 1 / (1 + np.exp(-llr)), minlength=8)
    s0 = np.bincount(codes, 1 / (1 + np.exp(llr)), minlength=8)
    assert np.all(np.abs(q.levels - np.log(s1 / s0)) < 4 * np.sqrt(1 / n1 + 1 / n0) + 1e-3)
    # without labels the levels would be those of the mismatched LLRs: half as large
    q_c = MaxMIQuantizer(3).fit(half)
    assert np.all(np.abs(q.levels[[0, -1]]) > 1.5 * np.abs(q_c.levels[[0, -1]]))


# ---------------------------------------------------------------- storage interface

@pytest.mark.parametrize("num_bits", [1, 3, 6])
def test_round_trip_codes_dtype_and_shapes(data, fitted, num_bits):
    llr, _ = data
    q = fitted[num_bits]
    k = 2 ** num_bits
    lv = tf.constant(q.levels, tf.float32)
    codes = q.compress(lv)
    assert codes.dtype == tf.uint8 and q.code_dtype == tf.uint8
    np.testing.assert_array_equal(codes.numpy(), np.arange(k))
    np.testing.assert_array_equal(q.decompress(codes).numpy(), lv.numpy())
    x = tf.constant(llr[:4 * 5 * 6].reshape(4, 5, 6), tf.float32)
    c = q.compress(x)
    assert c.shape == x.shape and c.dtype == tf.uint8
    assert int(tf.reduce_min(c)) >= 0 and int(tf.reduce_max(c)) < k
    # code = number of thresholds below the LLR (cells (t_{i-1}, t_i])
    np.testing.assert_array_equal(c.numpy(), np.searchsorted(q.thresholds.astype(np.float32),
                                                             x.numpy()))
    xq = q.decompress(c)
    assert xq.shape == x.shape and xq.dtype == tf.float32
    np.testing.assert_array_equal(q.compress(xq).numpy(), c.numpy())  # idempotent
    all_codes = q.compress(tf.constant(llr, tf.float32)).numpy()
    assert np.unique(all_codes).size == k
    q64 = MaxMIQuantizer(num_bits, precision="double").fit(llr)
    np.testing.assert_array_equal(q64.decompress(c).numpy(), q.levels[c.numpy()])


def test_works_in_tf_function_and_xla(fitted):
    q = fitted[4]
    x = tf.constant(np.random.default_rng(1).normal(0, 3, [16, 40]), tf.float32)
    eager = q.decompress(q.compress(x)).numpy()
    for jit in (False, True):
        fn = tf.function(lambda v: q.decompress(q.compress(v)), jit_compile=jit)
        np.testing.assert_array_equal(fn(x).numpy(), eager)


def test_per_position_mode(data):
    llr, b = data
    # two bit positions of different reliability, e.g. the two bits of a 16-QAM axis
    pos = np.stack([llr[:50_000], _bpsk(50_000, 6.0, seed=1)[0]], axis=-1)
    q = MaxMIQuantizer(3, per_position=True).fit(pos.reshape(100, 500, 2))
    assert q.per_position and q.num_positions == 2
    assert q.thresholds.shape == (2, 7) and q.levels.shape == (2, 8)
    singles = [MaxMIQuantizer(3).fit(pos[:, p]) for p in range(2)]
    for p in range(2):
        np.testing.assert_allclose(q.levels[p], singles[p].levels)
    assert q.levels[1, -1] > q.levels[0, -1] + 1  # the reliable position gets larger levels
    x = tf.constant(pos[:30].reshape(3, 10, 2), tf.float32)
    codes = q.compress(x)
    assert codes.shape == x.shape and codes.dtype == tf.uint8
    for p in range(2):
        np.testing.assert_array_equal(codes.numpy()[..., p],
                                      singles[p].compress(x[..., p]).numpy())
        np.testing.assert_array_equal(q.decompress(codes).numpy()[..., p],
                                      singles[p].decompress(codes[..., p]).numpy())
    mi = q.mutual_information(pos)
    assert mi.shape == (2,) and mi[1] > mi[0]
    np.testing.assert_allclose(mi, [s.mutual_information(pos[:, p])
                                    for p, s in enumerate(singles)])
    fn = tf.function(lambda v: q.decompress(q.compress(v)))
    np.testing.assert_array_equal(fn(x).numpy(), q.decompress(codes).numpy())
    with pytest.raises(ValueError, match="2 positions"):
        q.compress(tf.zeros([4, 3]))


# ---------------------------------------------------------------- errors and registry

def test_unfitted_use_and_bad_arguments_fail_clearly(data):
    llr, b = data
    q = MaxMIQuantizer(4)
    assert not q.is_fitted
    for use in (lambda: q.compress(tf.zeros([3])), lambda: q.decompress(tf.zeros([3], tf.uint8)),
                lambda: q.levels, lambda: q.thresholds, lambda: q.mutual_information(llr)):
        with pytest.raises(RuntimeError, match=UNFITTED):
            use()
    for bad in (0, 9, -1):
        with pytest.raises(ValueError, match="num_bits"):
            MaxMIQuantizer(bad)
    for bad in (3.0, True, "4"):
        with pytest.raises(TypeError, match="num_bits"):
            MaxMIQuantizer(bad)
    with pytest.raises(ValueError, match="method"):
        MaxMIQuantizer(3, method="kmeans")
    with pytest.raises(ValueError, match="distinct"):
        MaxMIQuantizer(3).fit([0.5, -1.0, 2.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="shape"):
        MaxMIQuantizer(3).fit(llr, bits=b[:10])
    with pytest.raises(ValueError, match="0 or 1"):
        MaxMIQuantizer(3).fit(llr[:100], bits=2 * b[:100])
    with pytest.raises(ValueError, match="max_iter"):
        MaxMIQuantizer(3).fit(llr, max_iter=0)


def test_registry_and_stored_bits():
    assert {"maxmi3", "maxmi4"} <= set(COMPRESSORS)
    assert {"float32", "float16", "uniform3", "uniform4"} <= set(COMPRESSORS)
    q3 = make_compressor("maxmi3")
    assert isinstance(q3, MaxMIQuantizer) and not q3.is_fitted
    assert q3.bits_per_soft_bit == 3 and q3.num_bits == 3
    assert make_compressor("maxmi4", symmetric=True).symmetric
    assert make_compressor("uniform4").clip == 16.0  # the uniform registry entries are unchanged
    # stored bits are exact and known before fitting
    n = tf.constant([[0, 5], [1000, 2 ** 31 - 1]])
    bits = make_compressor("maxmi4").num_stored_bits(n)
    assert bits.dtype == tf.int64
    np.testing.assert_array_equal(bits.numpy(), [[0, 20], [4000, 4 * (2 ** 31 - 1)]])
    with pytest.raises(RuntimeError, match=UNFITTED):
        q3.compress(tf.zeros([2]))


# ---------------------------------------------------------------- HARQ link

def test_harq_link_stores_four_bits_per_soft_bit_after_calibration():
    from kaq_sionna.harq import CircularBufferRateMatcher
    from kaq_sionna.registry import LinkContext, build_detector
    from links import CodedMIMOLink, HARQLink

    k, n, nbps = 128, 256, 2  # 2x2 QPSK, rate 1/2
    base = CodedMIMOLink(build_detector("lmmse", LinkContext(2, 2, nbps)), 2, 2, nbps, k=k, n=n)
    link = HARQLink(base, max_transmissions=2, storage="maxmi4")
    q = link.storage
    assert isinstance(q, MaxMIQuantizer) and not q.is_fitted
    config.seed = 5
    assert link.calibrate_storage(16, 0.0) is q and q.is_fitted
    assert np.all(np.diff(q.levels) > 0)
    config.seed = 7
    s = link.statistics(16, 0.0)  # round 1 fails at 0 dB: its window is stored
    bler1 = s["bler_per_round"][0]
    assert bler1 > 0.5
    # only round 1 is ever stored: the distinct positions of the rv0 window, 4 bits each
    soft_bits = np.unique(CircularBufferRateMatcher(k, n, nbps).selection_indices[0]).size
    assert s["stored_bits_max"] == 4 * soft_bits
    assert s["stored_bits_mean_per_round"][0] == pytest.approx(4 * soft_bits * bler1)
    assert s["stored_bits_mean_per_round"][1] == 0.0
