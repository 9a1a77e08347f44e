"""The ``quantized-llr`` detector: a source's LLRs through a quantizer's compress/decompress."""

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config
from sionna.phy.channel import ApplyFlatFadingChannel
from sionna.phy.mapping import BinarySource, Mapper

from kaq_sionna.channels import FlatFadingMIMOChannel
from kaq_sionna.core.params import SpecError
from kaq_sionna.detection import QuantizedLLRDetector
from kaq_sionna.registry.detectors import LinkContext, build_detector, validate_detector
from kaq_sionna.softbits import llr_mutual_information

CTX = LinkContext(2, 2, 6, "single")
FIT = 300  # channel uses per fitting SNR: small, the tests only need a sensible fit


def _link_data(esno_db, num, seed):
    """Uncoded 2x2 64-QAM over i.i.d. Rayleigh: bits [num, 2, 6] and (y, h, s)."""
    config.seed = seed
    bits = BinarySource(precision="single")([num, 2, 6])
    x = Mapper("qam", 6, precision="single")(tf.reshape(bits, [num, 12]))
    h = FlatFadingMIMOChannel(2, 2, precision="single")([num])
    no = 10.0 ** (-esno_db / 10.0)
    y = ApplyFlatFadingChannel(precision="single")(x, h, tf.constant(no, tf.float32))
    s = tf.cast(no * tf.eye(2, batch_shape=[num]), tf.complex64)
    return bits.numpy(), (y, h, s)


@pytest.fixture(scope="module")
def dets():
    return {q: build_detector("quantized-llr", CTX, quantizer=q, fit_samples=FIT)
            for q in ("maxmi3", "uniform1", "uniform3", "eqnet-l-2x2-64qam")}


@pytest.fixture(scope="module")
def data():
    # Es/N0 18 dB (moderate for 2x2 64-QAM ML: uncoded BER ~0.1), fixed seed
    return _link_data(18.0, 3000, seed=1)


def test_shapes_and_type(dets):
    _, (y, h, s) = _link_data(18.0, 35, seed=3)
    y, h, s = (tf.reshape(v, [5, 7, *v.shape[1:]]) for v in (y, h, s))
    for det in dets.values():
        assert isinstance(det, QuantizedLLRDetector)
        llr = det(y, h, s)
        assert llr.shape == (5, 7, 2, 6) and llr.dtype == tf.float32
    assert dets["uniform3"].bits_per_soft_bit == 3.0
    assert dets["eqnet-l-2x2-64qam"].bits_per_soft_bit == 3.0


def test_uniform3_at_most_8_values_per_position(dets, data):
    llr = dets["uniform3"](*data[1]).numpy().reshape(-1, 12)
    counts = [np.unique(llr[:, p]).size for p in range(12)]
    assert max(counts) <= 8 and min(counts) >= 2


def test_eqnet_path_is_compress_decompress(dets, data):
    det = dets["eqnet-l-2x2-64qam"]
    assert det.joint
    llr = det.source(*data[1])
    eqnet = det.quantizer
    ref = eqnet.decompress(eqnet.compress(llr)).numpy()
    np.testing.assert_allclose(det(*data[1]).numpy(), ref, rtol=0, atol=1e-5)


def test_ml_maxmi3_close_to_ml(dets, data):
    bits, inputs = data
    llr_ml = np.clip(dets["maxmi3"].source(*inputs).numpy(), -20, 20)
    llr_q = dets["maxmi3"](*inputs).numpy()
    llr_u1 = dets["uniform1"](*inputs).numpy()
    ber = {k: float(np.mean((v > 0) != bits)) for k, v in
           (("ml", llr_ml), ("maxmi3", llr_q), ("uniform1", llr_u1))}
    # measured (seed 1, 36k bits): ML 0.0969, ML + max-MI 3 bit 0.0979
    assert abs(ber["maxmi3"] - ber["ml"]) < 0.005
    # a midrise 1-bit quantizer keeps every sign: its hard decisions are ML's, so the
    # soft information is what separates it: I(B; L_hat) (cross-entropy estimate, labels)
    assert ber["uniform1"] == ber["ml"]
    mi = {k: llr_mutual_information(v, bits) for k, v in
          (("ml", llr_ml), ("maxmi3", llr_q), ("uniform1", llr_u1))}
    # measured: ML 0.703, max-MI 3 bit 0.695, uniform 1 bit -0.35 (over-confident +-9.7)
    assert mi["maxmi3"] > mi["ml"] - 0.03
    assert mi["maxmi3"] > mi["uniform1"] + 0.5


def test_bad_names_fail_clearly():
    with pytest.raises(SpecError, match="quantizer"):
        validate_detector("quantized-llr", {"quantizer": "maxmi9"}, CTX)
    with pytest.raises(SpecError, match="quantizer"):
        validate_detector("quantized-llr", {"quantizer": "nope"}, CTX)
    with pytest.raises(SpecError, match="detector name"):
        validate_detector("quantized-llr", {"source": "nope"}, CTX)
    with pytest.raises(SpecError, match="num_bits_per_symbol = 4"):
        validate_detector("quantized-llr", {"quantizer": "eqnet-l-2x2-64qam"},
                          LinkContext(2, 2, 4, "single"))
    with pytest.raises(SpecError, match="num_tx = 4"):
        validate_detector("quantized-llr", {"source": "lmmse", "quantizer": "eqnet-l-2x2-64qam"},
                          LinkContext(4, 4, 6, "single"))
    with pytest.raises(SpecError, match="fit_samples"):
        validate_detector("quantized-llr", {"fit_samples": 0}, CTX)


def test_unquantized_latent_is_closer_than_codebooks(dets, data):
    """eqnet_latent = "unquantized": g_Q(f_Q(.)) without the codebooks (Fig. 5); it costs
    32 bits per feature and reconstructs at least as well as the 6-bit codes."""
    det = build_detector("quantized-llr", CTX, quantizer="eqnet-l-2x2-64qam",
                         eqnet_latent="unquantized")
    assert det.bits_per_soft_bit == 32.0 * 6 / 12
    eqnet = dets["eqnet-l-2x2-64qam"].quantizer
    llr_src = np.clip(det.source(*data[1]).numpy(), -20, 20)
    ref = eqnet.reconstruct(tf.constant(llr_src)).numpy()
    np.testing.assert_allclose(det(*data[1]).numpy(), ref, rtol=0, atol=1e-4)
    from kaq_sionna.softbits import llr_to_softbit
    from kaq_sionna.softbits.eqnet import softbit_distortion

    def distortion(llr):
        return float(np.mean(softbit_distortion(llr_to_softbit(llr_src),
                                                llr_to_softbit(tf.constant(llr)))))

    assert distortion(ref) <= distortion(dets["eqnet-l-2x2-64qam"](*data[1]).numpy())
    with pytest.raises(SpecError, match="eqnet_latent"):
        validate_detector("quantized-llr", {"quantizer": "maxmi3",
                                            "eqnet_latent": "unquantized"}, CTX)


def test_blockwise_eqnet_quantizes_a_larger_link_by_row_blocks(dets):
    """eqnet_blockwise (EQ-Net paper, Sect. 3.5): the 2x2 64-QAM model on a 4x4 64-QAM link codes
    each channel use's [4, 6] LLR matrix as two independent [2, 6] blocks."""
    ctx4 = LinkContext(4, 4, 6, "single")
    det = build_detector("quantized-llr", ctx4, source="lmmse", quantizer="eqnet-l-2x2-64qam",
                         eqnet_blockwise=True)
    assert det.joint and det.bits_per_soft_bit == 3.0
    assert det.quantizer.bits_per_channel_use == 2 * 36
    config.seed = 5
    num = 200
    x = Mapper("qam", 6, precision="single")(BinarySource(precision="single")([num, 24]))
    h = FlatFadingMIMOChannel(4, 4, precision="single")([num])
    no = 10.0 ** (-20.0 / 10.0)
    y = ApplyFlatFadingChannel(precision="single")(tf.reshape(x, [num, 4]), h,
                                                   tf.constant(no, tf.float32))
    s = tf.cast(no * tf.eye(4, batch_shape=[num]), tf.complex64)
    llr_src = tf.clip_by_value(det.source(y, h, s), -20.0, 20.0)
    out = det(y, h, s).numpy()
    assert out.shape == (num, 4, 6)
    model = dets["eqnet-l-2x2-64qam"].quantizer
    for b in range(2):  # each block is the 2x2 model's own round trip
        rows = llr_src[:, 2 * b:2 * b + 2]
        np.testing.assert_allclose(out[:, 2 * b:2 * b + 2],
                                   model.decompress(model.compress(rows)).numpy(), atol=1e-5)
    # a block round trip keeps most hard decisions of the source
    assert np.mean(np.sign(out) == np.sign(llr_src.numpy())) > 0.95


def test_blockwise_refusals():
    params = {"source": "lmmse", "quantizer": "eqnet-l-2x2-64qam", "eqnet_blockwise": True}
    with pytest.raises(SpecError, match="divisor"):  # 3 streams: not a multiple of 2
        validate_detector("quantized-llr", params, LinkContext(3, 3, 6, "single"))
    with pytest.raises(SpecError, match="eqnet_latent"):
        validate_detector("quantized-llr", {**params, "eqnet_latent": "unquantized"},
                          LinkContext(4, 4, 6, "single"))
    with pytest.raises(SpecError, match="eqnet_blockwise"):
        validate_detector("quantized-llr", {"quantizer": "maxmi3", "eqnet_blockwise": True}, CTX)
