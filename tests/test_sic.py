"""MMSE-SIC / ZF-SIC soft-bit detectors (EQ-Net paper 2.1.2) and the chunked exact ML
detector: shapes, a numpy successive-nulling reference, high-SNR decisions, BER ordering,
random detection order, graph/XLA and the registry entries."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import itertools

import numpy as np
import pytest
import tensorflow as tf
from sionna.phy import config
from sionna.phy.mapping import BinarySource, Demapper, Mapper
from sionna.phy.mimo import LinearDetector, MaximumLikelihoodDetector
from sionna.phy.utils import complex_normal

from kaq_sionna.channels import FlatFadingMIMOChannel
from kaq_sionna.detection import ChunkedMLDetector, MMSESICDetector, ZFSICDetector
from kaq_sionna.registry import LinkContext, build_detector
from kaq_sionna.core.params import SpecError

SIC = [MMSESICDetector, ZFSICDetector]


def uncoded(n, ntx, nrx, nbps, esno_db, seed, precision="single"):
    """Uncoded QAM over Rayleigh CN(0, 1/nrx) channels: bits [n, ntx, nbps], y, h, s."""
    config.seed = seed
    cdtype = tf.complex64 if precision == "single" else tf.complex128
    bits = BinarySource(precision=precision)([n, ntx * nbps])
    x = Mapper("qam", nbps, precision=precision)(bits)
    h = FlatFadingMIMOChannel(ntx, nrx, precision=precision)([n])
    no = 10.0 ** (-esno_db / 10.0)
    y = tf.linalg.matvec(h, x) + complex_normal([n, nrx], var=no, precision=precision)
    s = tf.eye(nrx, batch_shape=[n], dtype=cdtype) * tf.cast(no, cdtype)
    return np.reshape(bits.numpy(), [n, ntx, nbps]), y, h, s


def ber(det, data):
    bits, y, h, s = data
    return float(np.mean((det(y, h, s).numpy() > 0) != bits))


# --------------------------------------------------------------------- shapes
@pytest.mark.parametrize("cls", SIC)
@pytest.mark.parametrize("order", ["fixed", "random"])
def test_output_shape_and_dtype(cls, order):
    _, y, h, s = uncoded(6, 3, 5, 4, 10.0, seed=1)
    y, h, s = tf.reshape(y, [2, 3, 5]), tf.reshape(h, [2, 3, 5, 3]), tf.reshape(s, [2, 3, 5, 5])
    llr = cls(4, order=order)(y, h, s)
    assert llr.shape == (2, 3, 3, 4) and llr.dtype == tf.float32
    assert np.all(np.isfinite(llr.numpy()))
    hard = cls(4, order=order, hard_out=True)(y, h, s).numpy()
    assert hard.shape == (2, 3, 3, 4) and set(np.unique(hard)) <= {0.0, 1.0}
    _, y, h, s = uncoded(4, 2, 2, 2, 10.0, seed=1, precision="double")
    llr = cls(2, order=order, precision="double")(y, h, s)
    assert llr.shape == (4, 2, 2) and llr.dtype == tf.float64


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        MMSESICDetector(4, order="sorted")
    with pytest.raises(ValueError, match="demapping_method"):
        ZFSICDetector(4, demapping_method="exact")
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkedMLDetector(2, 4, chunk_size=0)


# ------------------------------------------------------------- numpy reference
def successive_nulling(y, h, no, points, mmse):
    """Textbook SIC without QR: for i = K-1, ..., 0, cancel the decided streams > i and
    null streams < i with the LMMSE (or ZF) filter of the reduced channel H[:, :i+1];
    the unbiased estimate and its noise variance (Sionna's lmmse/zf_equalizer)."""
    n, _, k = h.shape
    x_hat, no_eff = np.zeros([n, k], complex), np.zeros([n, k])
    for b in range(n):
        y_c = y[b].copy()
        for i in range(k - 1, -1, -1):
            hi = h[b, :, :i + 1]
            gram = hi.conj().T @ hi
            if mmse:
                w = np.linalg.solve(gram + no[b] * np.eye(i + 1), hi.conj().T)
                d = np.real((w @ hi)[i, i])
                x_hat[b, i], no_eff[b, i] = (w @ y_c)[i] / d, 1.0 / d - 1.0
            else:
                w = np.linalg.solve(gram, hi.conj().T)
                x_hat[b, i] = (w @ y_c)[i]
                no_eff[b, i] = no[b] * np.real(np.linalg.inv(gram)[i, i])
            x_dec = points[np.argmin(np.abs(x_hat[b, i] - points))]
            y_c = y_c - h[b, :, i] * x_dec
    return x_hat, no_eff


@pytest.mark.parametrize("cls", SIC)
@pytest.mark.parametrize("ntx, nrx", [(4, 4), (3, 5)])
def test_matches_successive_nulling_reference(cls, ntx, nrx):
    """QR-based SIC (eqs. (8)-(12)) equals successive LMMSE/ZF nulling with the same
    order and decisions: checks the augmentation, the cancellation, the bias removal and
    the effective noise variance of every stream."""
    nbps, esno_db = 4, 14.0
    _, y, h, s = uncoded(150, ntx, nrx, nbps, esno_db, seed=3, precision="double")
    det = cls(nbps, precision="double")
    no = np.full([150], 10.0 ** (-esno_db / 10.0))
    x_hat, no_eff = successive_nulling(y.numpy(), h.numpy(), no,
                                       det.constellation.points.numpy(), cls is MMSESICDetector)
    demapper = Demapper("app", "qam", nbps, precision="double")
    ref = np.reshape(demapper(tf.constant(x_hat), tf.constant(no_eff)).numpy(), [150, ntx, nbps])
    np.testing.assert_allclose(det(y, h, s).numpy(), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("cls, equalizer", [(MMSESICDetector, "lmmse"), (ZFSICDetector, "zf")])
def test_first_detected_stream_equals_linear_detector(cls, equalizer):
    # The last stream is detected first, with nothing cancelled yet.
    _, y, h, s = uncoded(300, 4, 4, 4, 12.0, seed=4, precision="double")
    sic = cls(4, precision="double")(y, h, s).numpy()
    lin = LinearDetector(equalizer, "bit", "app", "qam", 4, precision="double")(y, h, s).numpy()
    np.testing.assert_allclose(sic[:, -1], lin[:, -1], rtol=1e-6, atol=1e-6)
    assert not np.allclose(sic[:, 0], lin[:, 0], atol=1e-2)  # the others do benefit from SIC


# ------------------------------------------------------------------ statistics
@pytest.mark.parametrize("nbps, max_ber", [(2, 2e-3), (4, 1e-2)])
def test_high_snr_decisions(nbps, max_ber):
    # 4x4 Rayleigh without ordering has diversity 1 on the first stream: nearly error-free.
    data = uncoded(2000, 4, 4, nbps, 30.0, seed=5)
    assert ber(MMSESICDetector(nbps), data) < max_ber
    # With 8 receive antennas: error-free.
    data = uncoded(2000, 4, 8, nbps, 30.0, seed=5)
    assert ber(MMSESICDetector(nbps), data) == 0.0
    assert ber(ZFSICDetector(nbps), data) == 0.0


@pytest.mark.parametrize("cls", SIC)
def test_unobservable_stream(cls):
    # A zero channel column: that stream gets LLRs 0, the others are still detected.
    bits, _, h, s = uncoded(200, 4, 8, 4, 30.0, seed=11)
    x = Mapper("qam", 4)(tf.constant(bits.reshape([200, 16]), tf.float32))
    h = h * tf.constant([1, 1, 0, 1], h.dtype)
    y = tf.linalg.matvec(h, x) + complex_normal([200, 8], var=1e-3)
    llr = cls(4)(y, h, s).numpy()
    assert np.all(np.isfinite(llr)) and np.all(np.abs(llr[:, 2]) < 1e-3)
    keep = [0, 1, 3]
    assert np.array_equal(llr[:, keep] > 0, bits[:, keep].astype(bool))


def test_uncoded_ber_ordering():
    # Measured over 8 seeds at this point: ML/MMSE-SIC 0.16-0.19, MMSE-SIC/LMMSE
    # 0.71-0.78, MMSE-SIC/ZF-SIC 0.48-0.52, random/fixed order 0.96-1.06.
    data = uncoded(8000, 4, 4, 2, 12.0, seed=6)
    ml = ber(MaximumLikelihoodDetector("bit", "app", 4, "qam", 2), data)
    mmse_sic = ber(MMSESICDetector(2), data)
    zf_sic = ber(ZFSICDetector(2), data)
    lmmse = ber(LinearDetector("lmmse", "bit", "app", "qam", 2), data)
    assert ml < 0.4 * mmse_sic
    assert mmse_sic < 0.9 * lmmse
    assert mmse_sic < 0.7 * zf_sic
    for cls, fixed in ((MMSESICDetector, mmse_sic), (ZFSICDetector, zf_sic)):
        assert ber(cls(2, order="random"), data) == pytest.approx(fixed, rel=0.15)


@pytest.mark.parametrize("cls", SIC)
def test_random_order_is_a_per_sample_permutation(cls):
    """Every channel use's random-order LLRs equal the fixed-order LLRs of one column
    permutation of H (mapped back to the input streams), and several orders are used."""
    ntx, nbps, n = 4, 4, 40
    _, y, h, s = uncoded(n, ntx, 4, nbps, 15.0, seed=7, precision="double")
    fixed = cls(nbps, precision="double")
    per_perm = []
    for perm in itertools.permutations(range(ntx)):
        llr = fixed(y, tf.gather(h, perm, axis=-1), s).numpy()
        per_perm.append(llr[:, np.argsort(perm)])
    per_perm = np.stack(per_perm, 1)  # [n, 24, ntx, nbps]
    rnd = cls(nbps, order="random", precision="double")(y, h, s).numpy()[:, None]
    match = np.all(np.isclose(rnd, per_perm, rtol=1e-8, atol=1e-8), axis=(2, 3))  # [n, 24]
    assert np.all(match.any(axis=1))
    assert len(set(np.argmax(match, axis=1))) >= 8


# ------------------------------------------------------------------ graph / XLA
def test_graph_and_xla():
    bits, y, h, s = uncoded(24, 4, 8, 4, 30.0, seed=8)
    y, h, s = tf.reshape(y, [2, 12, 8]), tf.reshape(h, [2, 12, 8, 4]), tf.reshape(s, [2, 12, 8, 8])
    bits = bits.reshape([2, 12, 4, 4])
    for cls in SIC:
        det = cls(4)
        eager = det(y, h, s).numpy()
        for fn in (tf.function(det), tf.function(det, jit_compile=True)):
            np.testing.assert_allclose(fn(y, h, s).numpy(), eager, rtol=1e-3, atol=1e-3)
        # Random order under XLA: still error-free and in input-stream order.
        rnd = tf.function(cls(4, order="random"), jit_compile=True)(y, h, s).numpy()
        assert rnd.shape == (2, 12, 4, 4) and np.array_equal(rnd > 0, bits.astype(bool))


# ---------------------------------------------------------------- chunked ML
@pytest.mark.parametrize("method", ["app", "maxlog"])
def test_chunked_ml_equals_sionna_ml(method):
    _, y, h, s = uncoded(21, 2, 2, 4, 8.0, seed=9)
    y, h, s = tf.reshape(y, [3, 7, 2]), tf.reshape(h, [3, 7, 2, 2]), tf.reshape(s, [3, 7, 2, 2])
    ref = MaximumLikelihoodDetector("bit", method, 2, "qam", 4)(y, h, s).numpy()
    det = ChunkedMLDetector(2, 4, method, chunk_size=4)  # 21 = 5 * 4 + 1
    out = det(y, h, s).numpy()
    assert out.shape == (3, 7, 2, 4)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    xla = tf.function(det, jit_compile=True)(y, h, s).numpy()
    np.testing.assert_allclose(xla, ref, rtol=1e-4, atol=1e-4)


def test_registry_ml_4x4_16qam_is_chunked_and_exact():
    _, y, h, s = uncoded(3, 4, 4, 4, 10.0, seed=10)
    det = build_detector("ml", LinkContext(4, 4, 4))
    assert isinstance(det, ChunkedMLDetector)
    ref = MaximumLikelihoodDetector("bit", "app", 4, "qam", 4)(y, h, s).numpy()
    np.testing.assert_allclose(det(y, h, s).numpy(), ref, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------- registry
def test_registry():
    ctx = LinkContext(4, 4, 4)
    det = build_detector("mmse-sic", ctx)
    assert isinstance(det, MMSESICDetector)
    assert (det.order, det.demapping_method) == ("fixed", "app")
    det = build_detector("zf-sic", ctx, order="random", demapping_method="maxlog")
    assert isinstance(det, ZFSICDetector)
    assert (det.order, det.demapping_method) == ("random", "maxlog")
    assert isinstance(build_detector("ml", LinkContext(2, 2, 4)), MaximumLikelihoodDetector)
    with pytest.raises(SpecError, match="order"):
        build_detector("mmse-sic", ctx, order="sorted")
    for name in ("mmse-sic", "zf-sic"):
        with pytest.raises(SpecError, match="num_rx.*>= num_tx = 4"):
            build_detector(name, LinkContext(4, 3, 4))
    with pytest.raises(SpecError, match=r"<= 16.*4 x 6 = 24 bits"):
        build_detector("ml", LinkContext(4, 4, 6))
    with pytest.raises(SpecError, match=r"<= 16.*3 x 6 = 18 bits"):
        build_detector("ml", LinkContext(3, 3, 6))
