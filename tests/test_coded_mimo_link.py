"""CodedMIMOLink: shapes, dtypes, limiting behaviour, ML vs LMMSE, CSI error, gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sionna.phy.utils import sim_ber

from kaq_sionna.registry import LinkContext, build_detector
from links import CodedMIMOLink


def _bler(link, batch_size, snr_db, mode="graph"):
    fn = link if mode == "eager" else tf.function(link, jit_compile=(mode == "xla"))
    b, b_hat = fn(tf.constant(batch_size), tf.constant(snr_db))
    errors = tf.reduce_any(tf.not_equal(b, b_hat), axis=-1)
    return int(tf.reduce_sum(tf.cast(errors, tf.int32))), int(tf.size(errors))


def _link(name="lmmse", num_tx=2, num_rx=2, nbps=4, **kw):
    det = build_detector(name, LinkContext(num_tx, num_rx, nbps))
    kw.setdefault("k", 128)
    kw.setdefault("n", 256)
    return CodedMIMOLink(det, num_tx, num_rx, nbps, **kw)


@pytest.mark.parametrize("uncoded", [False, True])
def test_shapes_and_dtypes(uncoded):
    link = _link(num_tx=3, num_rx=4, uncoded=uncoded)
    b, b_hat = link(5, 10.0)
    length = 256 if uncoded else 128
    assert b.shape == (5, 3, length) and b_hat.shape == (5, 3, length)
    assert b.dtype == tf.float32 and b_hat.dtype == tf.float32
    assert set(np.unique(b_hat.numpy())) <= {0.0, 1.0}


def test_llrs_of_detect_codewords_have_codeword_shape():
    link = _link(num_tx=2, num_rx=2)
    c = tf.zeros([4, 2, 256])
    llr = link.detect_codewords(c, tf.constant(0.1))
    assert llr.shape == (4, 2, 256) and llr.dtype == tf.float32


def test_lmmse_bler_is_zero_at_high_and_one_at_low_snr():
    link = _link()
    errors, blocks = _bler(link, 64, 25.0)
    assert errors == 0 and blocks == 128
    errors, blocks = _bler(link, 64, -5.0)
    assert errors >= 0.95 * blocks


def test_sim_ber_drives_the_link():
    link = _link()
    ber, bler = sim_ber(tf.function(link), [-5.0, 25.0], batch_size=32, max_mc_iter=2,
                        num_target_block_errors=10, verbose=False, early_stop=False)
    assert bler[0] > 0.9 and bler[1] == 0.0


@pytest.mark.slow
def test_ml_is_no_worse_than_lmmse_in_2x2():
    # 2x2 16-QAM, rate 1/2 at a mid SNR where LMMSE has BLER ~0.3: ML must not lose.
    ml, lmmse = _link("ml", k=256, n=512), _link("lmmse", k=256, n=512)
    e_ml = e_lmmse = 0
    for seed in range(3):
        from sionna.phy import config
        config.seed = seed
        e_ml += _bler(ml, 200, 6.0)[0]
        config.seed = seed
        e_lmmse += _bler(lmmse, 200, 6.0)[0]
    # 1200 blocks each: the expected gap is large, a margin of 10% of LMMSE's errors
    # absorbs Monte-Carlo noise.
    assert e_lmmse > 50, "operating point lost: LMMSE should make errors here"
    assert e_ml <= 0.9 * e_lmmse


def test_csi_error_makes_lmmse_worse():
    perfect, noisy = _link(k=256, n=512), _link(k=256, n=512, csi_error_var=0.05)
    e_perfect, n_blocks = _bler(perfect, 256, 8.0)
    e_noisy, _ = _bler(noisy, 256, 8.0)
    assert e_noisy > e_perfect + 0.1 * n_blocks


def test_block_fading_and_kronecker_run():
    link = _link(fading="block", channel="kronecker", tx_corr=0.5, rx_corr=0.5)
    b, b_hat = link(4, 30.0)
    assert b.shape == b_hat.shape


class TinyTrainableDetector(keras.layers.Layer):
    """LMMSE LLRs times a learnable scale: the smallest trainable detector."""

    def __init__(self, num_bits_per_symbol):
        super().__init__()
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        self.lmmse = build_detector("lmmse", LinkContext(2, 2, num_bits_per_symbol))

    def call(self, y, h, s):
        return self.scale * self.lmmse(y, h, s)


@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_gradients_reach_a_trainable_detector(mode):
    det = TinyTrainableDetector(4)
    link = CodedMIMOLink(det, 2, 2, 4, k=128, n=256, soft_output=True)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_and_grad():
        with tf.GradientTape() as tape:
            b, logits = link(tf.constant(8), tf.constant(4.0))
            loss = bce(b, logits)
        return loss, tape.gradient(loss, det.trainable_weights)

    fn = loss_and_grad if mode == "eager" else tf.function(loss_and_grad,
                                                           jit_compile=(mode == "xla"))
    loss, grads = fn()
    assert np.isfinite(loss.numpy())
    assert len(grads) == 1 and grads[0] is not None and float(tf.abs(grads[0])) > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 250}, "multiple of num_bits_per_symbol"),
    ({"k": 300}, "0 < k < n"),
    ({"fading": "slow"}, "fading"),
    ({"snr_type": "sinr"}, "snr_type"),
    ({"layer_mapping": "diagonal"}, "layer_mapping"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _link(**kwargs)


def test_cyclic_layer_mapping_spreads_each_codeword_over_all_streams():
    """layer_mapping = "cyclic": codeword c's symbol j travels on stream (c + j) mod num_tx,
    and the LLRs come back in codeword order."""
    num_tx, nbps, n = 3, 2, 24

    def stream_marker(y, h, s):  # LLR = index of the stream the value was detected on
        shape = tf.concat([tf.shape(y)[:-1], [num_tx, nbps]], 0)
        marker = tf.reshape(tf.range(num_tx, dtype=tf.float32), [num_tx, 1])
        return tf.broadcast_to(marker, shape)

    for mapping in ("per-stream", "cyclic"):
        link = CodedMIMOLink(stream_marker, num_tx, num_tx, nbps, k=12, n=n,
                             layer_mapping=mapping)
        llr = link.detect_codewords(tf.zeros([2, num_tx, n]), tf.constant(0.1)).numpy()
        stream = llr.reshape(2, num_tx, n // nbps, nbps)[..., 0]  # [batch, codeword, use]
        c, j = np.meshgrid(np.arange(num_tx), np.arange(n // nbps), indexing="ij")
        expected = (c + j) % num_tx if mapping == "cyclic" else c
        np.testing.assert_array_equal(stream, np.broadcast_to(expected, stream.shape))


def test_cyclic_layer_mapping_is_inverted_at_the_receiver():
    # uncoded, noise-free enough for LMMSE to recover every bit: the transmit permutation
    # and the receive one are inverses
    link = _link(num_tx=3, num_rx=6, nbps=2, uncoded=True, snr_type="esno",
                 layer_mapping="cyclic")
    b, b_hat = link(4, 60.0)
    np.testing.assert_array_equal(b.numpy(), b_hat.numpy())


def test_eqnet_harq_storage_refuses_the_cyclic_layer_mapping():
    from kaq_sionna.core.params import SpecError
    from links.registry import validate_harq

    harq = {"storage": ["eqnet-l-4x4-16qam"], "storage_point": "rounds"}
    link = {"num_tx": 4, "num_bits_per_symbol": 4}
    assert validate_harq(dict(harq), "coded_mimo", link)["storage"] == harq["storage"]
    with pytest.raises(SpecError, match="layer_mapping"):
        validate_harq(dict(harq), "coded_mimo", {**link, "layer_mapping": "cyclic"})
    # scalar storage does not care about the order of the rows
    validate_harq({"storage": ["uniform4"]}, "coded_mimo", {**link, "layer_mapping": "cyclic"})
