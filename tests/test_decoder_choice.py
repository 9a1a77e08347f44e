"""[link] decoder: Sionna's LDPC check-node updates in every coded link, against Sionna's own
decoder built independently with the same cn_update."""

import pytest
import tensorflow as tf
from sionna.phy import config
from sionna.phy.fec.ldpc import LDPC5GDecoder
from sionna.phy.nr import TBDecoder

from kaq_sionna.app.scenario import parse_scenario
from kaq_sionna.core.params import SpecError
from kaq_sionna.registry import LinkContext, build_detector
from links import HARQLink
from links.decoding import DECODERS
from links.registry import build_link, validate_link

SMALL = {
    "coded_mimo": {"num_tx": 2, "num_rx": 2, "k": 128, "n": 256},
    "ofdm": {"num_tx": 2, "num_rx": 4, "fft_size": 28, "num_guard_carriers": [1, 2],
             "num_ofdm_symbols": 6, "pilot_ofdm_symbol_indices": [1]},
    "pusch": {"num_tx": 2, "num_rx": 4, "mcs_index": 14, "num_prb": 4},
}


def _link(link_type, **kw):
    p = SMALL[link_type]
    det = build_detector("lmmse", LinkContext(p["num_tx"], p["num_rx"], 4))
    return build_link(link_type, det, **{**p, **kw})


def _noisy_llrs(shape):
    """LLRs of the all-zero codeword (ln p(1)/p(0) < 0 on average) near the decoding
    threshold, so that the check-node updates decode some words differently."""
    config.seed = 7
    return -1.2 + 2.0 * tf.random.normal(shape)


@pytest.mark.parametrize("link_type", ["coded_mimo", "ofdm"])
def test_link_decodes_as_sionnas_decoder_with_the_same_cn_update(link_type):
    outputs = {}
    for decoder in DECODERS:
        link = _link(link_type, decoder=decoder, num_bp_iter=8)
        llr = _noisy_llrs([64, link.num_tx, link.n])
        ref = LDPC5GDecoder(link._encoder, cn_update=decoder, num_iter=8, hard_out=True)
        ours = link.stages()[-1][1](llr)[0]
        assert link.decoder == decoder and link.num_bp_iter == 8
        assert tf.reduce_all(tf.equal(ours, ref(llr))), decoder
        outputs[decoder] = ours
    # the test is only meaningful if the updates differ on these LLRs
    assert not tf.reduce_all(tf.equal(outputs["minsum"], outputs["boxplus-phi"]))


def test_pusch_tb_decoder_uses_the_chosen_cn_update():
    outputs = {}
    for decoder in ("boxplus-phi", "minsum"):
        link = _link("pusch", decoder=decoder, num_bp_iter=8)
        enc = link._transmitter._tb_encoder
        llr = _noisy_llrs([16, 1, enc.n])
        ref = TBDecoder(enc, num_bp_iter=8, cn_update=decoder)
        ours = link.stages()[-1][1](llr)[0]
        assert tf.reduce_all(tf.equal(ours, ref(llr)[0])), decoder
        outputs[decoder] = ours
    assert not tf.reduce_all(tf.equal(outputs["minsum"], outputs["boxplus-phi"]))


@pytest.mark.parametrize("link_type", ["coded_mimo", "ofdm", "pusch"])
def test_harq_link_inherits_the_base_links_decoder(link_type):
    from sionna.phy.fec.ldpc.decoding import cn_update_offset_minsum

    base = _link(link_type, decoder="offset-minsum", num_bp_iter=7)
    harq = HARQLink(base, max_transmissions=2)
    assert (harq.decoder, harq.num_bp_iter) == ("offset-minsum", 7)
    assert harq.rate_matcher.decoder._cn_update is cn_update_offset_minsum
    assert int(harq.rate_matcher.decoder.num_iter) == 7


@pytest.mark.parametrize("link_type", ["coded_mimo", "ofdm", "pusch"])
def test_a_bad_decoder_names_the_key_the_choices_and_the_value(link_type):
    with pytest.raises(SpecError) as err:
        validate_link(link_type, {**SMALL[link_type], "decoder": "belief"})
    text = str(err.value)
    assert "[link] decoder" in text and "offset-minsum" in text and "belief" in text


def test_decoder_at_its_default_keeps_the_fingerprint():
    base = {"scenario": {"name": "x"}, "link": {"type": "coded_mimo", **SMALL["coded_mimo"]},
            "sweep": {"snr_db": [0.0]}, "detector": [{"name": "lmmse"}]}
    same = {**base, "link": {**base["link"], "decoder": "boxplus-phi"}}
    other = {**base, "link": {**base["link"], "decoder": "minsum"}}
    fp = parse_scenario(base).fingerprint
    assert parse_scenario(same).fingerprint == fp != parse_scenario(other).fingerprint
