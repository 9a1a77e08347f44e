"""Scalar soft-bit compressors of kaq_sionna.softbits: bit-exact codes, distortion, registry."""

import numpy as np
import pytest

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly, before TF itself)

# isort: split
import tensorflow as tf

from kaq_sionna.registry import COMPRESSORS, make_compressor
from kaq_sionna.softbits import (
    Float16Compressor,
    NoCompression,
    UniformLLRQuantizer,
    llr_to_softbit,
    softbit_to_llr,
)


def _bpsk_llrs(num, snr_db, seed=0):
    """LLRs of BPSK over AWGN: consistent Gaussians N(+-mu, 2 mu), mu = 4 Es/N0 / 2."""
    rng = np.random.default_rng(seed)
    no = 10 ** (-snr_db / 10)
    x = 1 - 2 * rng.integers(0, 2, num)
    y = x + rng.normal(0, np.sqrt(no / 2), num)
    return (-4 * y / no).astype(np.float32)  # ln p(b=1)/p(b=0) with b=1 -> x=-1


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_round_trip_is_idempotent_on_codes(name):
    comp = make_compressor(name)
    x = tf.constant(_bpsk_llrs(5000, 3.0))
    if getattr(comp, "is_fitted", True) is False:  # max-MI cells depend on the data
        comp.fit(x.numpy())
    codes = comp.compress(x)
    x1 = comp.decompress(codes)
    assert x1.dtype == tf.float32 and x1.shape == x.shape
    codes2 = comp.compress(x1)
    assert codes2.dtype == codes.dtype
    np.testing.assert_array_equal(codes2.numpy(), codes.numpy())
    np.testing.assert_array_equal(comp.decompress(codes2).numpy(), x1.numpy())


@pytest.mark.parametrize("num_bits", [1, 3, 4, 6, 8])
def test_uniform_codes_are_uint8_in_range_and_all_levels_used(num_bits):
    q = UniformLLRQuantizer(num_bits, clip=5.0)
    x = tf.constant(np.linspace(-20, 20, 20001), tf.float32)
    codes = q.compress(x).numpy()
    assert codes.dtype == np.uint8
    assert codes.min() == 0 and codes.max() == 2 ** num_bits - 1
    assert len(np.unique(codes)) == 2 ** num_bits
    # midrise: symmetric levels, no zero level, signs kept
    lv = q.levels
    np.testing.assert_allclose(lv, -lv[::-1], atol=1e-12)
    assert np.all(lv != 0)
    xq = q.decompress(codes).numpy()
    inside = np.abs(x.numpy()) > 1e-6
    assert np.all(np.sign(xq[inside]) == np.sign(x.numpy()[inside]))
    # error at most half a step inside the clipping range
    core = np.abs(x.numpy()) <= 5.0
    assert np.max(np.abs(xq[core] - x.numpy()[core])) <= q.step / 2 + 1e-5
    assert q.bits_per_soft_bit == float(num_bits)


def test_wide_uniform_codes_are_int32():
    q = UniformLLRQuantizer(10, clip=8.0)
    codes = q.compress(tf.constant([-100.0, 0.0, 100.0]))
    assert codes.dtype == tf.int32
    assert codes.numpy().tolist() == [0, 512, 1023]


def test_float16_error_bound_and_clipping():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 10, 10000), rng.normal(0, 1e-3, 1000)]).astype(np.float32)
    comp = Float16Compressor()
    codes = comp.compress(tf.constant(x))
    assert codes.dtype == tf.float16
    xq = comp.decompress(codes).numpy()
    assert np.all(np.abs(xq - x) <= 2.0 ** -11 * np.abs(x) + 2.0 ** -25)
    big = comp.decompress(comp.compress(tf.constant([1e6, -1e6]))).numpy()
    assert np.all(np.isfinite(big)) and big.tolist() == [65504.0, -65504.0]
    assert comp.bits_per_soft_bit == 16.0


def test_no_compression_is_exact():
    x = tf.constant(_bpsk_llrs(1000, 0.0))
    comp = NoCompression()
    np.testing.assert_array_equal(comp(x).numpy(), x.numpy())
    assert comp.bits_per_soft_bit == 32.0


def test_uniform_mse_decreases_with_bits_and_fitted_clip_is_optimal():
    llrs = _bpsk_llrs(50000, 2.0)
    mses = []
    for b in (2, 3, 4, 6, 8):
        q = UniformLLRQuantizer(b).fit(llrs)
        mse_tf = float(tf.reduce_mean((q(tf.constant(llrs)) - llrs) ** 2))
        assert mse_tf == pytest.approx(q.mse(llrs), rel=1e-3)
        mses.append(q.mse(llrs))
        # the fitted clip beats clearly bad clips and any clip on a fine grid
        assert q.mse(llrs) < 0.9 * q.mse(llrs, clip=0.2 * q.clip)
        assert q.mse(llrs) < 0.9 * q.mse(llrs, clip=5.0 * q.clip)
        grid = np.linspace(0.05, 1.0, 200) * np.abs(llrs).max()
        assert q.mse(llrs) <= min(q.mse(llrs, c) for c in grid) * 1.01
    assert all(a > b for a, b in zip(mses, mses[1:], strict=False)), mses


def test_unfitted_uniform_quantizer_fails_clearly():
    q = UniformLLRQuantizer(4)
    with pytest.raises(RuntimeError, match="fit"):
        q.compress(tf.constant([1.0]))
    with pytest.raises(ValueError, match="num_bits"):
        UniformLLRQuantizer(0)
    with pytest.raises(ValueError, match="clip"):
        UniformLLRQuantizer(4, clip=-1.0)


def test_softbit_conversion():
    llr = tf.constant(np.linspace(-10, 10, 201), tf.float32)
    s = llr_to_softbit(llr)
    assert float(tf.reduce_max(tf.abs(s))) <= 1.0
    np.testing.assert_allclose(softbit_to_llr(s).numpy(), llr.numpy(), atol=2e-2)
    edge = softbit_to_llr(tf.constant([-1.0, 1.0, 0.0]), llr_max=20.0).numpy()
    assert np.all(np.isfinite(edge)) and edge[0] < -10 and edge[1] > 10 and edge[2] == 0
    assert np.all(np.abs(edge) <= 20.0)


def test_registry_and_make_compressor():
    assert {"float32", "float16", "uniform8", "uniform6", "uniform4", "uniform3"} \
        <= set(COMPRESSORS)
    assert make_compressor("uniform6").bits_per_soft_bit == 6.0
    assert make_compressor("uniform4", clip=3.0).clip == 3.0
    q = UniformLLRQuantizer(5, clip=2.0)
    assert make_compressor(q) is q
    with pytest.raises(ValueError, match="float16.*uniform3"):
        make_compressor("uniform7")
    with pytest.raises(TypeError, match="compress"):
        make_compressor(object())


def test_graph_mode_matches_eager_and_bit_count_is_exact():
    q = UniformLLRQuantizer(3, clip=4.0)
    x = tf.constant(_bpsk_llrs(1000, 1.0))

    @tf.function(jit_compile=False)
    def roundtrip(v):
        return q.decompress(q.compress(v))

    np.testing.assert_array_equal(roundtrip(x).numpy(), q(x).numpy())
    n = tf.constant([0, 7, 1000], tf.int32)
    bits = q.num_stored_bits(n)
    assert bits.dtype == tf.int64 and bits.numpy().tolist() == [0, 21, 3000]
