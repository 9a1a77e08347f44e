"""EQ-Net as HARQ soft-buffer storage (kaq_sionna.harq.eqnet_compressor): layout, bit count,
and HARQLink with joint-stream storage at the "rounds" point."""

import numpy as np
import pytest

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly, before TF itself)

# isort: split
import tensorflow as tf
from sionna.phy import config

from kaq_sionna.harq import CircularBufferRateMatcher, SoftBuffer
from kaq_sionna.harq.eqnet_compressor import EQNetRoundCompressor
from kaq_sionna.registry import LinkContext, build_detector
from kaq_sionna.registry import resolve_compressor as resolve_storage
from kaq_sionna.softbits.eqnet import EQNet
from links import CodedMIMOLink, HARQLink

NT, Q, K, N = 2, 4, 128, 256


@pytest.fixture(scope="module")
def eqnet():
    """An untrained EQ-Net whose codebooks are fitted on random soft bits: enough to check
    the storage layout and book-keeping (not its distortion)."""
    net = EQNet(NT, NT, Q, seed=1)
    rng = np.random.default_rng(0)
    sb = np.tanh(rng.normal(0, 2, [4000, NT, Q]) / 2).astype(np.float32)
    net.fit_codebooks(sb, seed=0)
    return net


def _llr(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(0, 4, shape), tf.float32)


def test_layout_is_eqnet_per_channel_use(eqnet):
    st = EQNetRoundCompressor(eqnet)
    llr = _llr([3, NT, N])
    codes = st.compress(llr)
    assert codes.dtype == tf.uint8 and codes.shape == [3, NT, N // Q * 3]
    out = st.decompress(codes)
    assert out.shape == llr.shape
    # reference: regroup per channel use [3, ncu, NT, Q] and use EQ-Net directly
    per_cu = tf.transpose(tf.reshape(llr, [3, NT, N // Q, Q]), [0, 2, 1, 3])
    ref = eqnet.decompress(eqnet.compress(per_cu))  # [3, ncu, NT, Q]
    ref = tf.reshape(tf.transpose(ref, [0, 2, 1, 3]), [3, NT, N])
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6, atol=1e-6)
    # codes are a rearrangement of EQ-Net's codes: same multiset per batch entry
    direct = eqnet.compress(per_cu).numpy().reshape(3, -1)
    np.testing.assert_array_equal(np.sort(direct, 1), np.sort(codes.numpy().reshape(3, -1), 1))


def test_bits_are_exact(eqnet):
    st = EQNetRoundCompressor(eqnet)
    assert st.bits_per_soft_bit == 6 * 3 * NT / (NT * Q)
    assert int(st.num_stored_bits(N)) == N // Q * 3 * 6
    assert st.code_length(N) * 6 == int(st.num_stored_bits(N))
    with pytest.raises(ValueError, match="multiple of Q_m"):
        st.code_length(N + 1)


def test_soft_buffer_rounds_point_with_eqnet(eqnet):
    rm = CircularBufferRateMatcher(K, N, Q)
    sb = SoftBuffer(rm, EQNetRoundCompressor(eqnet), "rounds", max_rounds=2)
    state = sb.initial_state([2, NT])
    llr = _llr([2, NT, N], 3)
    _, stored = sb.update(state, llr, 0, 0)
    assert stored["codes"].shape == [2, NT, 2, N // Q * 3]
    assert np.all(sb.stored_bits(stored).numpy() == N // Q * 3 * 6)
    # what is read back is EQ-Net's reconstruction of the round, at the rv-0 positions
    back = sb.stored_buffer(stored)
    expected = rm.accumulate(rm.empty_buffer([2, NT]), EQNetRoundCompressor(eqnet)(llr), 0)
    np.testing.assert_allclose(back.numpy(), expected.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="storage_point='rounds'"):
        SoftBuffer(rm, EQNetRoundCompressor(eqnet), "buffer")


def test_harq_link_stores_whole_channel_uses(eqnet):
    det = build_detector("lmmse", LinkContext(NT, NT, Q))
    link = HARQLink(CodedMIMOLink(det, NT, NT, Q, k=K, n=N), max_transmissions=2,
                    storage=EQNetRoundCompressor(eqnet), storage_point="rounds")
    config.seed = 4
    b, b_hat, st = link.run(8, 3.0)
    failed1 = st["failed"][0].numpy()
    stored = st["stored_bits"].numpy()
    any_failed = failed1.any(axis=-1)
    # every stream of a batch entry with a failed stream holds the round (joint code)
    assert np.all(stored[any_failed] == N // Q * 3 * 6)
    assert np.all(stored[~any_failed] == 0)
    assert b_hat.shape == b.shape


def test_resolve_storage_names():
    assert resolve_storage("uniform4").bits_per_soft_bit == 4
    with pytest.raises(ValueError, match="unknown storage scheme 'eqnet-nope'"):
        resolve_storage("eqnet-nope")
