"""HARQ over PUSCH: the code blocks of a transport block as HARQLink's codewords."""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config

from kaq_sionna.core.params import SpecError
from kaq_sionna.registry import LinkContext, build_detector
from links import HARQLink, PUSCHLink
from links.registry import validate_harq

# 2 layers, 16 PRB, MCS 14: a 9992-bit transport block in two code blocks of E = 9216 bits
TWO_BLOCKS = {"num_tx": 2, "num_rx": 4, "num_bits_per_symbol": 4, "mcs_index": 14,
              "num_prb": 16}


@pytest.fixture(scope="module")
def link():
    return PUSCHLink(build_detector("lmmse", LinkContext(2, 4, 4)), **TWO_BLOCKS)


def test_round_one_is_bit_exact_with_the_tb_encoder(link):
    """rv 0 of HARQLink's per-code-block rate matcher, concatenated and scrambled, is what
    Sionna's TBEncoder sends for the same code-block payloads."""
    view = link.harq_view()
    enc = link._transmitter._tb_encoder
    assert (view.num_tx, view.k, view.n) == (2, enc._cb_size, enc.cw_lengths[0])
    config.seed = 1
    b = link._transmitter._binary_source([4, 1, link.tb_size])
    u = b
    if enc.k_padding > 0:
        u = tf.concat([b, tf.zeros([4, 1, enc.k_padding], b.dtype)], -1)
    u_cb = tf.reshape(enc.tb_crc_encoder(u), [4, 1, view.num_tx, -1])
    u_cb = enc.cb_crc_encoder(u_cb)[:, 0]                       # [4, C, cb_size]
    rm = HARQLink(view, max_transmissions=2).rate_matcher
    c = rm.select(rm.encode(u_cb), 0)                          # [4, C, E]
    sent = view._scrambler(tf.reshape(c, [4, 1, -1]))
    np.testing.assert_array_equal(sent.numpy(), enc(b).numpy())


def test_harq_over_pusch_lowers_bler_per_transport_block(link):
    harq = HARQLink(link, max_transmissions=2, storage="float32")  # takes the code-block view
    assert harq.base_link.harq_unit == "transport_block" and harq.num_tx == 2
    config.seed = 5
    _, _, stats = tf.function(harq.run)(tf.constant(32), tf.constant(7.0))
    failed = stats["failed"].numpy()                            # [rounds, batch, C]
    # the transport block is the unit: its code blocks fail, are stored and resent together
    assert np.all(failed == failed[..., :1])
    ntx = stats["num_transmissions"].numpy()
    assert np.all(ntx == ntx[:, :1])
    bler = failed[..., 0].mean(axis=1)
    # measured (seed 5, 32 TBs of 2 code blocks): round 1 BLER 0.625, after the IR
    # retransmission 0.031
    assert bler[0] > 0.3
    assert bler[1] < 0.5 * bler[0]
    assert stats["stored_bits"].numpy().max() > 0


def test_pusch_harq_scenario_keys():
    link = {"num_tx": 2, "num_bits_per_symbol": 4}
    full = validate_harq({"storage": ["float32", "uniform4"]}, "pusch", link)
    assert full["storage"] == ["float32", "uniform4"]
    with pytest.raises(SpecError, match="scalar storage schemes over PUSCH"):
        validate_harq({"storage": ["eqnet-l-4x4-16qam"], "storage_point": "rounds"}, "pusch",
                      {"num_tx": 4, "num_bits_per_symbol": 4})
