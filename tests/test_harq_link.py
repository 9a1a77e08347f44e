"""Soft-buffer storage (kaq_sionna.harq.soft_buffer) and links.HARQLink.

Operating points (2x2, 16-QAM, LMMSE, k=256, n=512, Eb/N0 per transmission),
measured with this file's helpers: at 10 dB round 1 never fails; at 2 dB
round 1 always fails, IR leaves ~8% failing after round 2 and chase ~90%.
"""

import numpy as np
import pytest

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly, before TF itself)

# isort: split
import tensorflow as tf
from sionna.phy import config
from sionna.phy.utils import sim_ber

from kaq_sionna.harq import CircularBufferRateMatcher, SoftBuffer
from kaq_sionna.registry import LinkContext, build_detector, make_compressor
from kaq_sionna.softbits import UniformLLRQuantizer
from links import CodedMIMOLink, HARQLink

K, N, NBPS = 256, 512, 4
HIGH_SNR, LOW_SNR = 10.0, 2.0
BATCH = 25  # codewords per stream: 50 codewords per batch


@pytest.fixture(scope="module")
def base_link():
    det = build_detector("lmmse", LinkContext(2, 2, NBPS))
    return CodedMIMOLink(det, 2, 2, NBPS, k=K, n=N)


def _stats(link, snr_db, seed=7, num_batches=1):
    """Paired runs: the same seed gives the same bits, channels and noise for every link."""
    config.seed = seed
    return link.statistics(BATCH, snr_db, num_batches=num_batches)


def _llr(shape, seed):
    return tf.constant(np.random.default_rng(seed).normal(0, 4, shape), tf.float32)


# ---------------------------------------------------------------- soft buffer

@pytest.fixture(scope="module")
def rm():
    return CircularBufferRateMatcher(K, N, NBPS)


@pytest.mark.parametrize("bits", [3, 8])
def test_stored_bits_buffer_point_count_received_positions(rm, bits):
    sb = SoftBuffer(rm, UniformLLRQuantizer(bits, clip=8.0), "buffer")
    state = sb.initial_state([3])
    assert sb.stored_bits(state).numpy().tolist() == [0, 0, 0]
    _, state = sb.update(state, _llr([3, N], 0), 0, 0)
    assert N <= rm.buffer_length
    assert sb.stored_bits(state).numpy().tolist() == [N * bits] * 3
    # IR: rv0 + rv2 store the union of both windows
    _, state_ir = sb.update(state, _llr([3, N], 1), 2, 1)
    union = np.union1d(rm.selection_indices[0], rm.selection_indices[2]).size
    assert N < union < 2 * N + 1
    assert sb.stored_bits(state_ir).numpy().tolist() == [union * bits] * 3
    assert state_ir["codes"].dtype == tf.uint8
    # chase: rv0 twice stores the same positions
    _, state_cc = sb.update(state, _llr([3, N], 2), 0, 1)
    assert sb.stored_bits(state_cc).numpy().tolist() == [N * bits] * 3


def test_stored_bits_wrap_around_is_the_buffer_length():
    rm_small = CircularBufferRateMatcher(K, 2048, NBPS, bg="bg2")  # E > N_cb - F
    assert rm_small.e > rm_small.buffer_length
    sb = SoftBuffer(rm_small, make_compressor("float16"), "buffer")
    _, state = sb.update(sb.initial_state([1]), _llr([1, 2048], 0), 0, 0)
    assert int(sb.stored_bits(state)[0]) == rm_small.buffer_length * 16


def test_stored_bits_rounds_point(rm):
    sb = SoftBuffer(rm, make_compressor("uniform4"), "rounds", max_rounds=3)
    state = sb.initial_state([2])
    _, state = sb.update(state, _llr([2, N], 0), 0, 0)
    assert sb.stored_bits(state).numpy().tolist() == [N * 4] * 2
    _, state = sb.update(state, _llr([2, N], 1), 0, 1)  # chase: still E per round
    assert sb.stored_bits(state).numpy().tolist() == [2 * N * 4] * 2
    with pytest.raises(ValueError, match="round_index"):
        sb.update(state, _llr([2, N], 1), 0, 3)


@pytest.mark.parametrize("point", ["buffer", "rounds"])
def test_float32_storage_combines_like_the_rate_matcher(rm, point):
    sb = SoftBuffer(rm, make_compressor("float32"), point)
    l0, l2 = _llr([2, N], 0), _llr([2, N], 1)
    buf1, state = sb.update(sb.initial_state([2]), l0, 0, 0)
    buf2, _ = sb.update(state, l2, 2, 1)
    ref1 = rm.accumulate(rm.empty_buffer([2]), l0, 0)
    ref2 = rm.accumulate(ref1, l2, 2)
    np.testing.assert_allclose(buf1.numpy(), ref1.numpy(), atol=1e-6)
    np.testing.assert_allclose(buf2.numpy(), ref2.numpy(), atol=1e-5)


def test_unreceived_positions_read_back_as_zero(rm):
    sb = SoftBuffer(rm, UniformLLRQuantizer(3, clip=8.0), "buffer")
    _, state = sb.update(sb.initial_state([1]), _llr([1, N], 0), 0, 0)
    back = sb.stored_buffer(state).numpy()[0]
    received = np.zeros(rm.buffer_length, bool)
    received[rm.selection_indices[0]] = True
    assert np.all(back[~received] == 0) and np.all(back[received] != 0)


# ---------------------------------------------------------------- HARQLink

def test_shapes_and_stats(base_link):
    link = HARQLink(base_link, max_transmissions=3)
    b, b_hat, s = link.run(4, HIGH_SNR)
    assert b.shape == (4, 2, K) and b_hat.shape == (4, 2, K)
    assert s["failed"].shape == (3, 4, 2) and s["failed"].dtype == tf.bool
    assert s["num_transmissions"].shape == (4, 2)
    assert s["stored_bits"].dtype == tf.int64
    assert link.rvs == (0, 2, 3)
    assert HARQLink(base_link, combining="chase").rvs == (0, 0, 0, 0)


def test_high_snr_needs_one_transmission(base_link):
    link = HARQLink(base_link, max_transmissions=2)
    s = _stats(link, HIGH_SNR)
    assert s["bler_per_round"][0] <= 0.02
    assert s["mean_transmissions"] <= 1.02
    assert s["goodput"] <= s["single_shot_rate"] + 1e-12
    assert s["goodput"] >= 0.98 * s["single_shot_rate"]
    assert s["single_shot_rate"] == K * NBPS / N


@pytest.fixture(scope="module")
def low_snr_stats(base_link):
    """Paired runs at LOW_SNR for several HARQ configurations."""
    links = {
        "ir": HARQLink(base_link),
        "chase": HARQLink(base_link, max_transmissions=2, combining="chase"),
        "ir-float16": HARQLink(base_link, max_transmissions=2, storage="float16"),
        "ir-uniform3": HARQLink(base_link, max_transmissions=2, storage="uniform3"),
        "ir-rounds": HARQLink(base_link, max_transmissions=3, storage_point="rounds"),
        "ir-2tx": HARQLink(base_link, max_transmissions=2),
    }
    return {name: _stats(link, LOW_SNR) for name, link in links.items()}


@pytest.mark.slow
def test_ir_retransmissions_reduce_bler_and_beat_chase(low_snr_stats):
    ir, cc = low_snr_stats["ir"], low_snr_stats["chase"]
    assert ir["bler_per_round"][0] >= 0.8  # round 1 mostly fails
    assert ir["bler_per_round"] == sorted(ir["bler_per_round"], reverse=True)
    assert ir["residual_bler"] <= ir["bler_per_round"][0] - 0.5
    assert ir["bler_per_round"][1] <= cc["bler_per_round"][1] - 0.4
    # round 1 is the same transmission for both (paired seed)
    assert ir["bler_per_round"][0] == cc["bler_per_round"][0]


@pytest.mark.slow
def test_goodput_and_transmissions_are_consistent(low_snr_stats):
    for s in low_snr_stats.values():
        assert 0 <= s["goodput"] <= s["single_shot_rate"]
        expected = s["single_shot_rate"] * (1 - s["residual_bler"]) / s["mean_transmissions"]
        assert s["goodput"] == pytest.approx(expected)
        r = len(s["bler_per_round"])
        assert s["mean_transmissions"] == pytest.approx(1 + sum(s["bler_per_round"][:r - 1]))


@pytest.mark.slow
def test_storage_precision_ordering(low_snr_stats):
    f32, f16, u3 = (low_snr_stats[k] for k in ("ir", "ir-float16", "ir-uniform3"))
    f32_2 = low_snr_stats["ir-2tx"]  # float32, same two rounds
    # float16 is within a small margin of float32, 3 bits are no better (paired seeds)
    for r in range(2):
        assert abs(f16["bler_per_round"][r] - f32["bler_per_round"][r]) <= 0.05
        assert u3["bler_per_round"][r] >= f32["bler_per_round"][r] - 0.02
    assert u3["bler_per_round"][1] >= f32["bler_per_round"][1] + 0.2
    # stored bits scale with the bit width (same received positions per round)
    assert f32["stored_bits_max"] % 32 == 0 and u3["stored_bits_max"] % 3 == 0
    assert f16["stored_bits_mean"] == pytest.approx(f32_2["stored_bits_mean"] / 2)
    assert u3["stored_bits_mean"] == pytest.approx(f32_2["stored_bits_mean"] * 3 / 32)


@pytest.mark.slow
def test_rounds_storage_point_matches_buffer_in_float32(low_snr_stats):
    buf, rounds = low_snr_stats["ir"], low_snr_stats["ir-rounds"]
    assert rounds["bler_per_round"] == buf["bler_per_round"][:3]
    # rounds store E x 32 bits per failed round; after round 1 both hold E soft bits
    assert rounds["stored_bits_mean_per_round"][0] == buf["stored_bits_mean_per_round"][0]
    # the worst codeword failed rounds 1 and 2: two stored rounds, vs the union of 2 windows
    assert rounds["bler_per_round"][1] > 0
    assert rounds["stored_bits_max"] == 2 * N * 32
    # here the windows of rv0 and rv2 are disjoint (k0(rv2) = 700 >= E = 512): the combined
    # buffer holds as many soft bits as two stored rounds
    assert buf["stored_bits_mean_per_round"][1] == rounds["stored_bits_mean_per_round"][1]


@pytest.mark.slow
def test_residual_bler_does_not_increase_with_max_transmissions(low_snr_stats):
    two, four = low_snr_stats["ir-2tx"], low_snr_stats["ir"]
    assert two["bler_per_round"] == four["bler_per_round"][:2]
    assert four["residual_bler"] <= two["residual_bler"]
    assert two["stored_bits_max"] == N * 32  # only round 1 is ever stored


def test_graph_mode_traces_once_and_sim_ber_drives_the_link(base_link):
    link = HARQLink(base_link, max_transmissions=2, storage="uniform4")
    fn = tf.function(link.run)
    for snr in (HIGH_SNR, LOW_SNR):
        fn(tf.constant(8), tf.constant(snr))
    assert fn.experimental_get_tracing_count() == 1
    config.seed = 3
    ber, bler = sim_ber(tf.function(link), [HIGH_SNR], batch_size=16, max_mc_iter=2,
                        num_target_block_errors=10, verbose=False, early_stop=False)
    assert float(bler[0]) <= 0.05 and float(ber[0]) <= 0.01


def test_invalid_settings_fail_clearly(base_link):
    with pytest.raises(ValueError, match="rv_sequence"):
        HARQLink(base_link, rv_sequence=(0, 4))
    with pytest.raises(ValueError, match="max_transmissions"):
        HARQLink(base_link, max_transmissions=0)
    with pytest.raises(ValueError, match="unknown storage scheme.*float32"):
        HARQLink(base_link, storage="uniform7")
    with pytest.raises(ValueError, match="combining"):
        HARQLink(base_link, combining="cc")
    with pytest.raises(ValueError, match="storage_point"):
        HARQLink(base_link, storage_point="everywhere")
    with pytest.raises(ValueError, match="new_channel_per_round"):
        HARQLink(base_link, new_channel_per_round="no")
    with pytest.raises(ValueError, match="target_round"):
        HARQLink(base_link, max_transmissions=2).statistics(4, HIGH_SNR, target_round=3)
    det = build_detector("lmmse", LinkContext(2, 2, NBPS))
    with pytest.raises(ValueError, match="uncoded"):
        HARQLink(CodedMIMOLink(det, 2, 2, NBPS, n=N, uncoded=True))


def test_calibrate_storage_fits_the_clip(base_link):
    q = UniformLLRQuantizer(3)
    link = HARQLink(base_link, max_transmissions=2, storage=q)
    assert link.storage is q and q.clip is None
    link.calibrate_storage(8, LOW_SNR)
    assert q.clip is not None and 0 < q.clip < 100
    with pytest.raises(TypeError, match="fit"):
        HARQLink(base_link, storage="float16").calibrate_storage(8, LOW_SNR)


class _ChannelSpy:
    """Detector that records the channel it is given (eager runs only)."""

    def __init__(self, det):
        self.det, self.channels = det, []

    def __call__(self, y, h, s):
        self.channels.append(h.numpy())
        return self.det(y, h, s)


@pytest.mark.parametrize("keep", [True, False])
def test_keep_channel_mode_reuses_the_round1_channel(keep):
    spy = _ChannelSpy(build_detector("lmmse", LinkContext(2, 2, NBPS)))
    link = HARQLink(CodedMIMOLink(spy, 2, 2, NBPS, k=K, n=N), max_transmissions=2,
                    new_channel_per_round=not keep)
    config.seed = 5
    link.run(4, LOW_SNR)  # round 1 always fails at this SNR: both rounds run
    assert len(spy.channels) == 2
    assert np.array_equal(spy.channels[0], spy.channels[1]) == keep


def test_statistics_stop_at_target_block_errors(base_link):
    link = HARQLink(base_link, max_transmissions=2)
    seen = []
    config.seed = 6
    stats = link.statistics(BATCH, LOW_SNR, num_batches=10, num_target_block_errors=1,
                            target_round=1, callback=lambda i, s: seen.append(i))
    # round 1 always fails at LOW_SNR: the first batch reaches the target
    assert stats["num_batches"] == 1 and seen == [0]
    assert stats["num_bits"] == stats["num_codewords"] * K
    assert 0 < stats["bit_errors"] <= stats["num_bits"]
