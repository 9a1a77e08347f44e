"""OFDMLink over CDL: shapes, CSI modes, gradients, HARQ, parameter errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.core.params import SpecError
from kaq_sionna.registry import LinkContext, build_detector
from links import HARQLink, OFDMLink
from links.registry import validate_harq, validate_link

# A small grid: 28 subcarriers (1 + 2 guards, DC null -> 24 effective), 6 symbols, 1 pilot symbol
SMALL = {"fft_size": 28, "num_guard_carriers": [1, 2], "num_ofdm_symbols": 6,
         "pilot_ofdm_symbol_indices": [1]}


def _link(detector=None, num_tx=2, num_rx=4, **kw):
    detector = detector or build_detector("lmmse", LinkContext(num_tx, num_rx, 4))
    return OFDMLink(detector, num_tx=num_tx, num_rx=num_rx, num_bits_per_symbol=4,
                    **{**SMALL, **kw})


def _errors(link, batch_size, snr_db):
    """Bit and block errors of one graph-mode batch."""
    b, b_hat = tf.function(link)(tf.constant(batch_size), tf.constant(snr_db))
    diff = tf.not_equal(b, b_hat)
    return (int(tf.reduce_sum(tf.cast(diff, tf.int32))),
            int(tf.reduce_sum(tf.cast(tf.reduce_any(diff, -1), tf.int32))), int(tf.size(b)))


def test_shapes_code_length_and_llrs():
    link = _link()
    # 24 effective subcarriers x 5 data symbols x 4 bits
    assert link.n == 480 and link.k == 240
    b, b_hat = link(3, 10.0)
    assert b.shape == b_hat.shape == (3, 2, 240) and b_hat.dtype == tf.float32
    llr = link.detect_codewords(tf.zeros([3, 2, 480]), tf.constant(0.1))
    assert llr.shape == (3, 2, 480)


def test_channel_columns_have_unit_energy():
    link = _link(num_tx=2, num_rx=4)
    h, h_freq = link.draw_channel(64)
    energy = tf.reduce_mean(tf.reduce_sum(tf.abs(h_freq) ** 2, axis=2))
    assert abs(float(energy) - 1.0) < 0.15


@pytest.mark.parametrize("domain", ["freq", "time"])
def test_perfect_csi_lmmse_decodes_at_high_snr(domain):
    link = _link(csi="perfect", domain=domain, cdl_model="C")
    _, block_errors, _ = _errors(link, 32, 35.0)
    assert block_errors == 0
    _, block_errors, _ = _errors(link, 32, -5.0)
    assert block_errors >= 60  # of 64 codewords


def test_ls_estimation_is_no_better_than_perfect_csi():
    from sionna.phy import config

    bits = {}
    for csi in ("perfect", "ls"):
        config.seed = 99  # same bits, channels and noise for both
        bits[csi], _, total = _errors(_link(csi=csi), 64, 12.0)
    assert bits["ls"] >= bits["perfect"]
    assert bits["perfect"] < 0.2 * total  # the comparison is not between two failures


class ScaledLMMSE(keras.layers.Layer):
    """LMMSE LLRs times a learnable scale: the smallest trainable detector."""

    def __init__(self, num_tx, num_rx):
        super().__init__()
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        self.lmmse = build_detector("lmmse", LinkContext(num_tx, num_rx, 4))

    def call(self, y, h, s):
        return self.scale * self.lmmse(y, h, s)


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_gradients_reach_a_trainable_detector(mode):
    det = ScaledLMMSE(2, 4)
    link = _link(det, soft_output=True)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_and_grad():
        with tf.GradientTape() as tape:
            b, logits = link(tf.constant(4), tf.constant(8.0))
            loss = bce(b, logits)
        return tape.gradient(loss, det.trainable_variables)

    fn = loss_and_grad if mode == "eager" else tf.function(loss_and_grad)
    (grad,) = fn()
    assert grad is not None and np.isfinite(float(grad)) and float(grad) != 0.0


@pytest.mark.parametrize("name", ["pgdnet-kaq8-4x4-16qam", "admmnet-qatmse4-4x4-16qam",
                                  "eqnet-l-4x4-16qam"])
def test_shipped_learned_detectors_plug_in(name):
    det = build_detector(name, LinkContext(4, 4, 4))
    link = _link(det, num_tx=4, num_rx=4, csi="ls")
    b, b_hat = tf.function(link)(tf.constant(2), tf.constant(15.0))
    assert b_hat.shape == (2, 4, link.k)


@pytest.mark.parametrize("keep_channel", [True, False])
def test_harq_over_ofdm_lowers_the_bler(keep_channel):
    link = HARQLink(_link(csi="perfect"), max_transmissions=3,
                    new_channel_per_round=not keep_channel)
    _, _, stats = tf.function(link.run)(tf.constant(32), tf.constant(1.0))
    failed = tf.reduce_mean(tf.cast(stats["failed"], tf.float32), axis=[1, 2]).numpy()
    assert failed[0] > 0.8 and failed[-1] < failed[0] - 0.4


@pytest.mark.parametrize("key,value,expected", [
    ("cdl_model", "F", "one of"),
    ("num_tx", 3, "even number"),           # dual polarisation needs pairs
    ("pilot_ofdm_symbol_indices", [14], "pilot_ofdm_symbol_indices"),
    ("num_guard_carriers", [40, 40], "num_guard_carriers"),
    ("fft_size", 30, "multiple of the number of streams"),  # 30 - 11 - 1 = 18 carriers, 4 streams
    ("coderate", 0.9, "8448"),             # fft 1024 -> n > 9384 bits, k > 8448
    ("delay_spread_ns", -5.0, "delay_spread_ns"),
])
def test_invalid_ofdm_parameters_fail_clearly(key, value, expected):
    params = {"num_tx": 4, "num_rx": 4}
    if key == "coderate":
        params["fft_size"] = 1024
    params[key] = value
    with pytest.raises(SpecError, match=expected):
        validate_link("ofdm", params)


def test_constructor_errors_name_the_parameter():
    det = build_detector("lmmse", LinkContext(2, 4, 4))
    with pytest.raises(ValueError, match="csi"):
        OFDMLink(det, num_tx=2, csi="genie", **SMALL)
    with pytest.raises(ValueError, match="CDL model"):
        OFDMLink(det, num_tx=2, cdl_model="Z", **SMALL)


def test_harq_section_accepts_ofdm_and_pusch_and_refuses_other_types():
    link = validate_link("ofdm", {"num_tx": 4, "num_rx": 4})
    assert validate_harq({"max_transmissions": 2}, "ofdm", link)["max_transmissions"] == 2
    assert validate_harq({"max_transmissions": 3}, "pusch", {})["max_transmissions"] == 3
    with pytest.raises(SpecError, match="HARQ support"):
        validate_harq({}, "satellite", {})
