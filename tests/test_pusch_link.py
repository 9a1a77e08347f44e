"""PUSCHLink: Sionna's PUSCH with our detector as mimo_detector."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config
from sionna.phy.mimo import LinearDetector

from kaq_sionna.core.params import SpecError
from kaq_sionna.registry import LinkContext, build_detector
from links import PUSCHLink
from links.registry import validate_link

SMALL = {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 4, "mcs_index": 14, "num_prb": 4}


def test_passed_lmmse_matches_the_receivers_builtin_lmmse():
    ours = PUSCHLink(LinearDetector("lmmse", "bit", "maxlog", "qam", 4), **SMALL)
    builtin = PUSCHLink(None, **SMALL)
    out = {}
    for name, link in (("ours", ours), ("builtin", builtin)):
        config.seed = 7
        out[name] = link.transmit(16, tf.constant(9.0))
    b1, b_hat1, crc1 = out["ours"]
    b2, b_hat2, crc2 = out["builtin"]
    np.testing.assert_array_equal(b1.numpy(), b2.numpy())
    np.testing.assert_array_equal(b_hat1.numpy(), b_hat2.numpy())
    np.testing.assert_array_equal(crc1.numpy(), crc2.numpy())
    # a meaningful comparison: some blocks fail and some pass at this SNR
    assert 0 < int(tf.reduce_sum(tf.cast(crc1, tf.int32))) < 16


def test_crc_status_agrees_with_bit_errors_and_shapes():
    link = PUSCHLink(build_detector("lmmse", LinkContext(2, 4, 4)), **SMALL)
    b, b_hat, crc = link.transmit(16, tf.constant(9.0))
    assert b.shape == b_hat.shape == (16, 1, link.tb_size) and crc.shape == (16, 1)
    correct = tf.reduce_all(tf.equal(b, b_hat), axis=-1)
    np.testing.assert_array_equal(correct.numpy(), crc.numpy())


def test_perfect_csi_lmmse_decodes_at_high_snr_and_ls_is_no_better():
    errors = {}
    for csi in ("perfect", "ls"):
        link = PUSCHLink(build_detector("lmmse", LinkContext(2, 4, 4)), csi=csi, **SMALL)
        config.seed = 3
        b, b_hat = tf.function(link)(tf.constant(16), tf.constant(30.0))
        assert int(tf.reduce_sum(tf.cast(tf.not_equal(b, b_hat), tf.int32))) == 0
        config.seed = 5
        b, b_hat = tf.function(link)(tf.constant(32), tf.constant(9.0))
        errors[csi] = int(tf.reduce_sum(tf.cast(tf.reduce_any(tf.not_equal(b, b_hat), -1),
                                                tf.int32)))
    assert errors["ls"] >= errors["perfect"]


class ScaledLMMSE(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        self.lmmse = build_detector("lmmse", LinkContext(2, 4, 4))

    def call(self, y, h, s):
        return self.scale * self.lmmse(y, h, s)


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_gradients_reach_a_trainable_detector_through_coded_llrs(mode):
    det = ScaledLMMSE()
    link = PUSCHLink(det, **SMALL)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_and_grad():
        with tf.GradientTape() as tape:
            c, llr = link.coded_llrs(tf.constant(4), tf.constant(8.0))
            loss = bce(c, llr)
        return tape.gradient(loss, det.trainable_variables)

    fn = loss_and_grad if mode == "eager" else tf.function(loss_and_grad)
    (grad,) = fn()
    assert grad is not None and np.isfinite(float(grad)) and float(grad) != 0.0


def test_shipped_pgdnet_runs_as_pusch_detector():
    det = build_detector("pgdnet-kaq8-4x4-16qam", LinkContext(4, 4, 4))
    link = PUSCHLink(det, **{**SMALL, "num_tx": 4})
    b, b_hat = tf.function(link)(tf.constant(2), tf.constant(20.0))
    assert b_hat.shape == (2, 1, link.tb_size)


@pytest.mark.parametrize("key,value,expected", [
    ("num_bits_per_symbol", 6, "MCS 14"),          # MCS 14 of table 1 is 16-QAM
    ("cdl_model", "X", "one of"),
    ("num_tx", 5, r"\[1, 4\]"),
    ("num_antenna_ports", 4, "non-codebook"),      # 2 layers on 4 ports needs a codebook
    ("num_rx", 3, "even number"),
])
def test_invalid_pusch_parameters_fail_clearly(key, value, expected):
    with pytest.raises(SpecError, match=expected):
        validate_link("pusch", {**SMALL, key: value})


def test_codebook_precoding_decodes_at_high_snr():
    det = build_detector("lmmse", LinkContext(2, 4, 4))
    for csi in ("ls", "perfect"):
        link = PUSCHLink(det, **{**SMALL, "num_antenna_ports": 4}, precoding="codebook", tpmi=0,
                         csi=csi)
        _, _, crc = link.transmit(8, tf.constant(30.0))
        assert bool(tf.reduce_all(crc))
