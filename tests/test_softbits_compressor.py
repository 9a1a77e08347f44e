"""The Compressor interface (kaq_sionna.softbits.compressor) for every compressor: Protocol
membership, exact packing (pack / unpack, byte count, num_stored_bits), precision, names."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly, before TF itself)

# isort: split
import tensorflow as tf
from sionna.phy import config

from kaq_sionna.harq import SoftBuffer, SoftBufferStorage
from kaq_sionna.harq.eqnet_compressor import EQNetRoundCompressor, EQNetRoundStorage
from kaq_sionna.registry import COMPRESSORS, make_compressor, resolve_compressor
from kaq_sionna.softbits import (
    Compressor,
    Float16Compressor,
    Float16Storage,
    MaxMIQuantizer,
    NoCompression,
    UniformLLRQuantizer,
    check_compressor,
    pack_bitstream,
    unpack_bitstream,
)
from kaq_sionna.softbits.eqnet import (
    BlockwiseEQNet,
    EQNet,
    UnquantizedLatent,
    load_eqnet,
    save_eqnet,
)

NT, Q = 2, 6  # the paper's 2x2 64-QAM: 6 features x 6 bits = 36 bits per 12 soft bits


@pytest.fixture(scope="module")
def eqnet():
    """An untrained 2x2 64-QAM EQ-Net with codebooks fitted on random soft bits."""
    net = EQNet(NT, NT, Q, estimation_width=32, seed=3)
    sb = np.tanh(np.random.default_rng(0).normal(0, 2, [3000, NT, Q]) / 2).astype(np.float32)
    net.fit_codebooks(sb, seed=0)
    return net


def _llr(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(0, 6, shape), tf.float32)


def _fitted(comp, seed=0):
    if getattr(comp, "is_fitted", True) is False:
        comp.fit(_llr([4000, 4], seed).numpy())
    return comp


# Every compressor, with a function giving (llr, number of soft bits) for a size parameter:
# soft bits for the scalar ones, channel uses (or rounds of E soft bits) for the joint ones.
def _scalar(n):
    return _llr([n]), n


def _cases(eqnet):
    maxmi_pp = MaxMIQuantizer(3, per_position=True).fit(_llr([2000, 4]).numpy())
    return {
        **{name: (_fitted(make_compressor(name)), _scalar) for name in COMPRESSORS},
        "uniform12": (UniformLLRQuantizer(12, clip=16.0), _scalar),  # int32 codes
        "maxmi3-per-position": (maxmi_pp, lambda n: (_llr([n, 4]), 4 * n)),
        "eqnet": (eqnet, lambda c: (_llr([c, NT, Q]), c * NT * Q)),
        "eqnet-blockwise": (BlockwiseEQNet(eqnet, 3 * NT),
                            lambda c: (_llr([c, 3 * NT, Q]), c * 3 * NT * Q)),
        "eqnet-rounds": (EQNetRoundCompressor(eqnet),
                         lambda r: (_llr([r, NT, 5 * Q]), r * NT * 5 * Q)),
        "eqnet-unquantized": (UnquantizedLatent(eqnet),
                              lambda c: (_llr([c, NT, Q]), c * NT * Q)),
    }


CASES = sorted([*COMPRESSORS, "uniform12", "maxmi3-per-position", "eqnet", "eqnet-blockwise",
                "eqnet-rounds", "eqnet-unquantized"])
SIZES = [1, 2, 3, 5, 7, 13, 100]


@pytest.fixture(scope="module")
def cases(eqnet):
    return _cases(eqnet)


def _expected_bytes(comp, num_soft_bits):
    """ceil(N * bits_per_soft_bit / 8) in exact rational arithmetic."""
    bits = Fraction(comp.bits_per_soft_bit).limit_denominator(10_000) * num_soft_bits
    return math.ceil(bits / 8)


# ----------------------------------------------------------------------------- Protocol

@pytest.mark.parametrize("case", CASES)
def test_every_compressor_is_a_compressor(cases, case):
    comp, _ = cases[case]
    assert isinstance(comp, Compressor)
    assert check_compressor(comp) is comp


def test_objects_without_the_interface_are_refused():
    class NoPack:
        bits_per_soft_bit = 8.0

        def compress(self, llr): ...

        def decompress(self, codes): ...

        def num_stored_bits(self, n): ...

    assert not isinstance(NoPack(), Compressor)
    with pytest.raises(TypeError, match="storage must be a compressor.*lacks pack, unpack"):
        check_compressor(NoPack(), "storage")


# ----------------------------------------------------------------------------- packing

@pytest.mark.parametrize("num_bits", [1, 3, 4, 6, 8, 12, 16])
@pytest.mark.parametrize("num_codes", [0, 1, 5, 7, 13])
def test_bitstream_matches_numpy_packbits(num_bits, num_codes):
    rng = np.random.default_rng(num_bits * 100 + num_codes)
    dtype = np.uint8 if num_bits <= 8 else np.int32
    codes = rng.integers(0, 2 ** num_bits, [num_codes]).astype(dtype)
    # independent reference: every code's bits MSB first, concatenated, numpy's packbits
    bits = (codes.astype(np.int64)[:, None] >> np.arange(num_bits - 1, -1, -1)) & 1
    ref = np.packbits(bits.astype(np.uint8).ravel())
    packed = pack_bitstream(codes, num_bits)
    assert packed.dtype == tf.uint8
    np.testing.assert_array_equal(packed.numpy(), ref)
    back = unpack_bitstream(packed, num_bits, [num_codes], tf.as_dtype(dtype))
    np.testing.assert_array_equal(back.numpy(), codes)


@pytest.mark.parametrize("dtype,big_endian", [(np.float16, ">f2"), (np.float32, ">f4")])
def test_float_codes_are_their_big_endian_ieee_bytes(dtype, big_endian):
    x = np.array([1.5, -2.0, np.nan, np.inf, -0.0, 6.1e-5, 65504.0], dtype)
    packed = pack_bitstream(x, 8 * x.itemsize)
    np.testing.assert_array_equal(packed.numpy(),
                                  np.frombuffer(x.astype(big_endian).tobytes(), np.uint8))
    back = unpack_bitstream(packed, 8 * x.itemsize, x.shape, tf.as_dtype(dtype)).numpy()
    np.testing.assert_array_equal(back.view(np.uint8), x.view(np.uint8))  # NaN, -0 included


def test_paper_layout_six_bit_codes():
    # two channel uses of 6 codes x 6 bits: 72 bits in 9 bytes (row-aligned: 10)
    codes = np.array([[1, 63, 0, 0, 0, 0], [63, 63, 63, 63, 63, 63]], np.uint8)
    packed = pack_bitstream(codes, 6).numpy()
    assert packed.shape == (9,)
    np.testing.assert_array_equal(packed[:2], [0x07, 0xF0])  # 000001 111111 000000 ...
    assert packed[4] == 0x0F and np.all(packed[5:] == 0xFF)


def test_pack_works_in_an_xla_graph():
    f = tf.function(lambda c: pack_bitstream(c, 6), jit_compile=True)
    codes = tf.constant([[1, 63], [2, 3]], tf.uint8)
    np.testing.assert_array_equal(f(codes).numpy(), pack_bitstream(codes, 6).numpy())


@pytest.mark.parametrize("case", CASES)
def test_exact_round_trip_and_byte_count(cases, case):
    comp, make = cases[case]
    for size in SIZES:
        llr, num_soft_bits = make(size)
        codes = comp.compress(llr)
        packed = comp.pack(codes)
        assert packed.dtype == tf.uint8 and packed.shape.rank == 1
        # exactly ceil(N * bits_per_soft_bit / 8) bytes: one contiguous bit stream
        assert packed.shape[0] == _expected_bytes(comp, num_soft_bits), (case, size)
        # num_stored_bits is the packed size in bits before the last byte's padding
        stored = int(comp.num_stored_bits(num_soft_bits))
        assert packed.shape[0] == math.ceil(stored / 8)
        assert Fraction(stored) == (Fraction(comp.bits_per_soft_bit).limit_denominator(10_000)
                                    * num_soft_bits)
        back = comp.unpack(packed, codes.shape)
        assert back.dtype == codes.dtype and back.shape == codes.shape
        np.testing.assert_array_equal(np.asarray(back).view(np.uint8) if back.dtype.is_floating
                                      else back.numpy(),
                                      np.asarray(codes).view(np.uint8) if back.dtype.is_floating
                                      else codes.numpy())
        np.testing.assert_array_equal(comp.decompress(back).numpy(),
                                      comp.decompress(codes).numpy())


def test_eqnet_packs_36_bits_per_channel_use_not_40(eqnet):
    assert eqnet.bits_per_channel_use == 36 and eqnet.bytes_per_channel_use == 5
    for c in (1, 2, 3, 10, 108):
        codes = eqnet.compress(_llr([c, NT, Q], c))
        assert eqnet.pack(codes).shape == (math.ceil(36 * c / 8),)
    # the HARQ study's count: 3 bits per soft bit exactly
    assert int(eqnet.num_stored_bits(12 * 108)) == 3 * 12 * 108


def test_shipped_eqnet_round_compressor_packs_three_bits_per_soft_bit():
    comp = resolve_compressor("eqnet-l-2x2-64qam", NT, Q)
    assert comp.bits_per_soft_bit == 3.0
    llr = _llr([3, NT, 7 * Q], 5)
    codes = comp.compress(llr)
    packed = comp.pack(codes)
    n = 3 * NT * 7 * Q
    assert packed.shape == (math.ceil(3 * n / 8),) and int(comp.num_stored_bits(n)) == 3 * n
    np.testing.assert_array_equal(comp.decompress(comp.unpack(packed, codes.shape)).numpy(),
                                  comp.decompress(codes).numpy())


def test_deprecated_row_aligned_packing_still_works(eqnet):
    codes = eqnet.compress(_llr([4, NT, Q]))
    with pytest.warns(DeprecationWarning, match="pack_codes"):
        packed = eqnet.pack_codes(codes)
    assert packed.shape == (4, eqnet.bytes_per_channel_use)
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(eqnet.unpack_codes(packed), codes.numpy())


def test_packing_errors_name_the_argument(eqnet, cases):
    u4 = UniformLLRQuantizer(4, clip=8.0)
    with pytest.raises(TypeError, match=r"codes must be integer codes \(uint8.*found float32"):
        u4.pack(tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"codes must be in \[0, 16\) \(4 bits\), found values "
                                         r"in \[0, 16\]"):
        u4.pack(tf.constant([0, 16], tf.uint8))
    with pytest.raises(TypeError, match="codes must be float16.*found float32"):
        Float16Compressor().pack(tf.constant([1.0]))
    codes = u4.compress(_llr([13]))  # 52 bits: 7 bytes
    packed = u4.pack(codes)
    with pytest.raises(ValueError, match=r"packed must have shape \[7\] \(13 codes of 4 bits, "
                                         r"shape \[13\]\), found shape \(6,\)"):
        u4.unpack(packed[:6], [13])
    with pytest.raises(ValueError, match=r"packed must have shape \[8\] \(15 codes"):
        u4.unpack(packed, [15])  # 60 bits: 8 bytes
    with pytest.raises(TypeError, match="packed must be uint8 bytes.*found int32"):
        u4.unpack(tf.cast(packed, tf.int32), [13])
    with pytest.raises(ValueError, match="shape must be a fully known shape"):
        u4.unpack(packed, [None, 13])
    with pytest.raises(ValueError, match=r"codes must have shape \[\.\.\., 6\] \(latent_dim\)"):
        eqnet.pack(tf.zeros([3, 5], tf.uint8))
    with pytest.raises(ValueError, match=r"shape must be \[\.\.\., 6\] \(latent_dim\)"):
        eqnet.unpack(tf.zeros([3], tf.uint8), [4])
    rounds = cases["eqnet-rounds"][0]
    with pytest.raises(ValueError, match="2 streams on axis -2"):
        rounds.unpack(tf.zeros([3], tf.uint8), [3, 4])


# ----------------------------------------------------------------------------- precision

def test_default_precision_is_sionnas_and_single_stays_float32(cases):
    for name in COMPRESSORS:
        comp = cases[name][0]
        assert comp.precision == "single" and comp.rdtype == tf.float32
        assert comp.decompress(comp.compress(_llr([5]))).dtype == tf.float32
    saved = config.precision
    try:
        config.precision = "double"
        assert NoCompression().rdtype == tf.float64
        assert UniformLLRQuantizer(4, clip=8.0).decompress(tf.constant([3], tf.uint8)).dtype \
            == tf.float64
    finally:
        config.precision = saved


def test_double_precision_decompresses_in_float64():
    llr = _llr([200])
    q32 = UniformLLRQuantizer(4, clip=8.0)
    q64 = UniformLLRQuantizer(4, clip=8.0, precision="double")
    codes = q32.compress(llr)
    np.testing.assert_array_equal(q64.compress(llr).numpy(), codes.numpy())
    out = q64.decompress(codes)
    assert out.dtype == tf.float64
    np.testing.assert_array_equal(out.numpy(), (codes.numpy() + 0.5) * 1.0 - 8.0)  # step 1
    assert Float16Compressor(precision="double").decompress(tf.constant([1.5], tf.float16)) \
        .dtype == tf.float64


def test_dtype_is_deprecated_and_mapped():
    with pytest.warns(DeprecationWarning, match="use precision='double'"):
        q = MaxMIQuantizer(3, dtype=tf.float64)
    assert q.precision == "double" and q.rdtype == tf.float64
    with pytest.warns(DeprecationWarning, match="use precision='single'"):
        assert NoCompression(dtype="float32").precision == "single"
    with pytest.raises(ValueError, match="precision must be None, 'single' or 'double', found "
                                         "'half'"):
        UniformLLRQuantizer(4, precision="half")
    with pytest.raises(TypeError, match="must be float32 or float64, found"):
        NoCompression(dtype=tf.float16)
    with pytest.raises(ValueError, match="not both"):
        NoCompression(precision="single", dtype=tf.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NoCompression(precision="double")  # the new spelling does not warn


def test_eqnet_precision_casts_only_its_output(eqnet, tmp_path):
    assert eqnet.precision == "single"
    save_eqnet(eqnet, tmp_path / "m")
    net64 = load_eqnet(tmp_path / "m", precision="double")
    assert net64.precision == "double" and net64.get_config() == eqnet.get_config()
    assert all(v.dtype == "float32" for _, v in net64.named_variables())
    llr = _llr([4, NT, Q])
    codes = eqnet.compress(llr)
    np.testing.assert_array_equal(net64.compress(llr).numpy(), codes.numpy())
    for a, b in ((net64.decompress(codes), eqnet.decompress(codes)),
                 (net64.reconstruct(llr), eqnet.reconstruct(llr)),
                 (UnquantizedLatent(net64).decompress(eqnet.encode(tf.tanh(llr / 2))),
                  UnquantizedLatent(eqnet).decompress(eqnet.encode(tf.tanh(llr / 2))))):
        assert a.dtype == tf.float64 and b.dtype == tf.float32
        np.testing.assert_array_equal(a.numpy(), b.numpy().astype(np.float64))
    y = tf.complex(_llr([3, NT], 1), _llr([3, NT], 2))
    h = tf.complex(_llr([3, NT, NT], 3), _llr([3, NT, NT], 4))
    s = tf.eye(NT, batch_shape=[3], dtype=tf.complex64)
    out64, out32 = net64(y, h, s), eqnet(y, h, s)
    assert out64.dtype == tf.float64 and out32.dtype == tf.float32
    np.testing.assert_array_equal(out64.numpy(), out32.numpy().astype(np.float64))
    with pytest.raises(ValueError, match="precision must be None, 'single' or 'double'"):
        load_eqnet(tmp_path / "m", precision="float64")


# ----------------------------------------------------------------------------- names

def test_deprecated_names_are_aliases():
    from kaq_sionna.detection.quantized_llr import UnquantizedLatent as FromDetection

    assert Float16Storage is Float16Compressor
    assert EQNetRoundStorage is EQNetRoundCompressor
    assert SoftBufferStorage is SoftBuffer
    assert FromDetection is UnquantizedLatent
    assert COMPRESSORS["float16"] is Float16Compressor
