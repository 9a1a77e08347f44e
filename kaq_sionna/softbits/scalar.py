r"""Scalar soft-bit (LLR) compressors for soft-buffer storage: one code per soft bit.

Every compressor implements :class:`~kaq_sionna.softbits.Compressor`:

* ``compress(llr) -> codes``: what is written to memory. Bit-exact: integer
  codes (``uint8`` for up to 8 bits, ``int32`` above) or a ``float16`` /
  ``float32`` array for the floating-point formats;
* ``decompress(codes) -> llr``: the LLRs reconstructed from memory, in the
  compressor's precision (``precision=None | "single" | "double"``);
* ``bits_per_soft_bit``: the number of bits one stored soft bit occupies
  (32, 16 or ``b``), and :meth:`ScalarCompressor.num_stored_bits`, the exact
  integer number of bits ``n`` stored soft bits occupy;
* ``pack(codes)`` / ``unpack(packed, shape)``: the codes as a contiguous byte
  stream of exactly :math:`\lceil n b / 8 \rceil` bytes
  (:mod:`kaq_sionna.softbits.packing`).

``compress``, ``decompress``, ``pack`` and ``unpack`` are pure TensorFlow (graph- and
XLA-friendly, no numpy); :meth:`UniformLLRQuantizer.fit` uses numpy and scipy and runs
eagerly, before a graph is traced.

LLRs follow Sionna's convention :math:`\ln\frac{P(b=1)}{P(b=0)}`. The LLR <-> soft-bit
conversion lives in :mod:`kaq_sionna.softbits.conversion` (re-exported here).
"""

import numbers

import numpy as np
import tensorflow as tf

from kaq_sionna.softbits.conversion import (  # noqa: F401  (nan_to_erasure re-exported)
    llr_to_softbit,
    nan_to_erasure,
    softbit_to_llr,
)
from kaq_sionna.softbits.packing import pack_bitstream, unpack_bitstream
from kaq_sionna.softbits.precision import resolve_precision

__all__ = [
    "DEFAULT_UNIFORM_CLIP",
    "Float16Compressor",
    "Float16Storage",
    "NoCompression",
    "ScalarCompressor",
    "UniformLLRQuantizer",
    # re-exported from kaq_sionna.softbits.conversion (other modules import them from here)
    "llr_to_softbit",
    "softbit_to_llr",
]

_FLOAT16_MAX = 65504.0


class ScalarCompressor:
    """Base class of scalar soft-bit compressors (one code per soft bit).

    Subclasses define :meth:`compress`, :meth:`decompress`,
    :attr:`bits_per_soft_bit` (an integer number of bits) and :attr:`code_dtype`;
    :meth:`num_stored_bits`, :meth:`pack` and :meth:`unpack` follow from them.

    Parameters
    ----------
    precision : `None` (default) | "single" | "double"
        Precision of the LLRs returned by :meth:`decompress` (float32 | float64);
        `None` uses :attr:`sionna.phy.config.precision`.
    dtype : `None` | tf.float32 | tf.float64
        Deprecated: use ``precision`` (``float32`` -> "single", ``float64`` -> "double").
    """

    #: `str` : registry-style name of the scheme
    name = "scalar"

    def __init__(self, precision=None, dtype=None):
        # the warning points at the user's call, through a subclass's __init__ if there is one
        depth = 3 if type(self).__init__ is ScalarCompressor.__init__ else 4
        self._precision, self._dtype = resolve_precision(precision, dtype, type(self).__name__,
                                                         stacklevel=depth)

    @property
    def precision(self):
        """`str` : "single" | "double", the precision of decompressed LLRs"""
        return self._precision

    @property
    def rdtype(self):
        """`tf.DType` : dtype of decompressed LLRs (float32 | float64)"""
        return self._dtype

    @property
    def dtype(self):
        """`tf.DType` : dtype of decompressed LLRs (same as :attr:`rdtype`)"""
        return self._dtype

    @property
    def bits_per_soft_bit(self):
        """`float` : Bits occupied by one stored soft bit"""
        raise NotImplementedError

    @property
    def code_dtype(self):
        """`tf.DType` : dtype of the codes returned by :meth:`compress`"""
        raise NotImplementedError

    def num_stored_bits(self, num_soft_bits):
        """Exact number of bits that ``num_soft_bits`` stored soft bits occupy.

        Input
        -----
        num_soft_bits : [...], tf.int
            Number of stored soft bits (e.g. per codeword).

        Output
        ------
        : [...], tf.int64
            ``num_soft_bits * bits_per_soft_bit`` (exact: scalar compressors
            use an integer number of bits per soft bit).
        """
        bits = self.bits_per_soft_bit
        if float(bits) != int(bits):
            raise NotImplementedError(
                f"{type(self).__name__} has a fractional bits_per_soft_bit={bits}; "
                "it must override num_stored_bits")
        return tf.cast(num_soft_bits, tf.int64) * int(bits)

    @property
    def bits_per_code(self):
        """`int` : Bits of one code in memory (:attr:`bits_per_soft_bit`)"""
        return int(self.bits_per_soft_bit)

    def pack(self, codes):
        r"""The codes as one contiguous byte stream (layout: :mod:`kaq_sionna.softbits.packing`).

        Input
        -----
        codes : [...], :attr:`code_dtype`
            What :meth:`compress` returned (integer codes may come in any integer dtype).

        Output
        ------
        : [ceil(n * bits_per_soft_bit / 8)], tf.uint8
            ``n`` the number of codes; ``8 * size - num_stored_bits(n)`` is below 8.
        """
        return pack_bitstream(codes, self.bits_per_code, self.code_dtype)

    def unpack(self, packed, shape):
        """Inverse of :meth:`pack`.

        Input
        -----
        packed : [ceil(n * bits_per_soft_bit / 8)], tf.uint8
        shape : list of int
            Shape of the codes that were packed (``n`` elements).

        Output
        ------
        : ``shape``, :attr:`code_dtype`
            The codes, bit-identical.
        """
        return unpack_bitstream(packed, self.bits_per_code, shape, self.code_dtype)

    def compress(self, llr):
        """Codes written to memory; see the subclass."""
        raise NotImplementedError

    def decompress(self, codes):
        """LLRs read back from memory; see the subclass."""
        raise NotImplementedError

    def __call__(self, llr):
        """``decompress(compress(llr))``: the distortion the storage introduces."""
        return self.decompress(self.compress(llr))

    def __repr__(self):
        return f"{type(self).__name__}(bits_per_soft_bit={self.bits_per_soft_bit:g})"


class NoCompression(ScalarCompressor):
    r"""Full-precision storage: LLRs kept as ``float32`` (32 bits per soft bit).

    Parameters
    ----------
    precision : `None` (default) | "single" | "double"
        Precision of decompressed LLRs (`None`: :attr:`sionna.phy.config.precision`).
    dtype : `None` | tf.float32 | tf.float64
        Deprecated: use ``precision``.

    Input
    -----
    llr : [...], tf.float
        LLRs (``compress``) / ``float32`` codes (``decompress``).

    Output
    ------
    : [...], tf.float32 (``compress``) | :attr:`rdtype` (``decompress``)
        ``compress`` returns the LLRs cast to ``float32``; ``decompress``
        casts them to the precision's dtype.
    """

    name = "float32"

    @property
    def bits_per_soft_bit(self):
        return 32.0

    @property
    def code_dtype(self):
        return tf.float32

    def compress(self, llr):
        return tf.cast(nan_to_erasure(llr), tf.float32)

    def decompress(self, codes):
        return tf.cast(codes, self._dtype)


class Float16Compressor(ScalarCompressor):
    r"""IEEE half-precision storage (16 bits per soft bit).

    LLRs are clipped to the largest finite ``float16`` (65504) and rounded to
    nearest; the relative error is at most :math:`2^{-11}` for
    :math:`|\mathrm{LLR}| \geq 2^{-14}` (normal range) and the absolute error
    at most :math:`2^{-25}` below it.

    Parameters
    ----------
    precision : `None` (default) | "single" | "double"
        Precision of decompressed LLRs (`None`: :attr:`sionna.phy.config.precision`).
    dtype : `None` | tf.float32 | tf.float64
        Deprecated: use ``precision``.

    Input
    -----
    llr : [...], tf.float
        LLRs (``compress``) / ``float16`` codes (``decompress``).

    Output
    ------
    : [...], tf.float16 (``compress``) | :attr:`rdtype` (``decompress``)
    """

    name = "float16"

    @property
    def bits_per_soft_bit(self):
        return 16.0

    @property
    def code_dtype(self):
        return tf.float16

    def compress(self, llr):
        llr = tf.convert_to_tensor(llr)
        llr = nan_to_erasure(llr)
        return tf.cast(tf.clip_by_value(llr, -_FLOAT16_MAX, _FLOAT16_MAX), tf.float16)

    def decompress(self, codes):
        return tf.cast(codes, self._dtype)


class UniformLLRQuantizer(ScalarCompressor):
    r"""Uniform ``num_bits``-bit LLR quantizer with clipping, midrise.

    LLRs are clipped to :math:`[-c, c]` and mapped to :math:`L = 2^b` cells of
    width :math:`\Delta = 2c / L`. It is a **midrise** quantizer: the
    reconstruction levels are

    .. math::
        \hat{\ell}_i = -c + (i + \tfrac12)\Delta, \quad i = 0, \dots, L-1,

    symmetric about 0 with no zero level, so every stored soft bit keeps its
    sign (hard decision) and the :math:`L` levels are all used (a midtread
    quantizer with an even number of levels is asymmetric). Code
    :math:`i = \min(\lfloor (\mathrm{clip}(\ell) + c) / \Delta \rfloor, L-1)`,
    in :math:`[0, 2^b)`. Positions that were never received are not stored
    by the soft buffer (they would otherwise read back as :math:`\pm\Delta/2`).

    The clipping level :math:`c` is either given or chosen by :meth:`fit`,
    which minimises the mean squared error on training LLRs.

    Parameters
    ----------
    num_bits : int
        Bits per soft bit :math:`b` in 1..16. Codes are ``uint8`` for
        :math:`b \leq 8` and ``int32`` otherwise.
    clip : `None` (default) | float
        Clipping level :math:`c > 0`. `None` requires :meth:`fit` before use.
    precision : `None` (default) | "single" | "double"
        Precision of decompressed LLRs (`None`: :attr:`sionna.phy.config.precision`).
    dtype : `None` | tf.float32 | tf.float64
        Deprecated: use ``precision``.

    Input
    -----
    llr : [...], tf.float
        LLRs (``compress``) / codes (``decompress``).

    Output
    ------
    : [...], ``uint8`` | ``int32`` (``compress``) | :attr:`rdtype` (``decompress``)
    """

    name = "uniform"

    def __init__(self, num_bits, clip=None, precision=None, dtype=None):
        super().__init__(precision, dtype)
        if isinstance(num_bits, bool) or not isinstance(num_bits, numbers.Integral):
            raise TypeError(f"num_bits must be an integer, found {num_bits!r}")
        if not 1 <= num_bits <= 16:
            raise ValueError(f"num_bits must be in 1..16, found {num_bits}")
        self._num_bits = int(num_bits)
        self._clip = None
        if clip is not None:
            self.clip = clip

    @property
    def num_bits(self):
        """`int` : Bits per soft bit :math:`b`"""
        return self._num_bits

    @property
    def num_levels(self):
        """`int` : Number of reconstruction levels :math:`2^b`"""
        return 2 ** self._num_bits

    @property
    def clip(self):
        """`float` | `None` : Clipping level :math:`c`"""
        return self._clip

    @clip.setter
    def clip(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not np.isfinite(value) or value <= 0:
            raise ValueError(f"clip must be a finite positive number, found {value!r}")
        self._clip = float(value)

    @property
    def step(self):
        r"""`float` : Cell width :math:`\Delta = 2c / 2^b`"""
        return 2.0 * self._require_clip() / self.num_levels

    @property
    def levels(self):
        """`np.ndarray`, [2^b], float : Reconstruction levels, code ``i`` -> ``levels[i]``"""
        return -self._require_clip() + (np.arange(self.num_levels) + 0.5) * self.step

    @property
    def bits_per_soft_bit(self):
        return float(self._num_bits)

    @property
    def code_dtype(self):
        return tf.uint8 if self._num_bits <= 8 else tf.int32

    def _require_clip(self):
        if self._clip is None:
            raise RuntimeError(
                f"UniformLLRQuantizer({self._num_bits}) has no clipping level: pass clip=... "
                "or call fit(llrs) first")
        return self._clip

    def compress(self, llr):
        c = self._require_clip()
        llr = tf.convert_to_tensor(llr)
        if not llr.dtype.is_floating:
            llr = tf.cast(llr, self._dtype)
        llr = nan_to_erasure(llr)  # NaN: the cell next to 0, not an arbitrary cast of NaN
        idx = tf.floor((tf.clip_by_value(llr, -c, c) + c) / self.step)
        idx = tf.clip_by_value(idx, 0.0, float(self.num_levels - 1))
        return tf.cast(idx, self.code_dtype)

    def decompress(self, codes):
        c = self._require_clip()
        codes = tf.convert_to_tensor(codes)
        return (tf.cast(codes, self._dtype) + 0.5) * self.step - c

    def mse(self, llrs, clip=None):
        """Mean squared error of quantizing ``llrs`` with clipping level ``clip`` (numpy).

        Input
        -----
        llrs : array_like, float
            Sample LLRs.
        clip : `None` (default) | float
            Clipping level; `None` uses :attr:`clip`.

        Output
        ------
        : float
        """
        x = np.asarray(llrs, np.float64).ravel()
        c = self._require_clip() if clip is None else float(clip)
        step = 2.0 * c / self.num_levels
        idx = np.clip(np.floor((np.clip(x, -c, c) + c) / step), 0, self.num_levels - 1)
        return float(np.mean((x - ((idx + 0.5) * step - c)) ** 2))

    def fit(self, llrs, max_samples=200_000, seed=0):
        r"""Sets the clipping level that minimises the MSE on ``llrs``.

        Minimises :math:`E[(\ell - Q_c(\ell))^2]` over :math:`c \in
        (0, \max|\ell|]` with :func:`scipy.optimize.minimize_scalar`
        (bounded Brent). The objective is evaluated on a log-spaced grid
        first and the bounded search runs on the bracket around the best grid
        point, since the MSE is not unimodal in :math:`c` for few bits.
        Runs eagerly (numpy/scipy); call it before tracing a graph that uses
        the quantizer.

        Input
        -----
        llrs : array_like or tf.Tensor, float
            Training LLRs (e.g. soft-buffer contents at the operating SNR);
            non-finite values are dropped.
        max_samples : int
            A random subset of at most this many LLRs is used.
        seed : int
            Seed of the subset.

        Output
        ------
        self : UniformLLRQuantizer
            With :attr:`clip` set.
        """
        from scipy.optimize import minimize_scalar

        x = np.asarray(llrs, np.float64).ravel()
        x = robust_sample(x[np.isfinite(x)])
        if x.size == 0 or not np.any(x != 0):
            raise ValueError("fit needs at least one finite, non-zero LLR")
        if x.size > max_samples:
            x = np.random.default_rng(seed).choice(x, max_samples, replace=False)
        hi = float(np.max(np.abs(x)))
        grid = np.geomspace(hi * 1e-3, hi, 256)
        mses = np.array([self.mse(x, c) for c in grid])
        i = int(np.argmin(mses))
        lo_b, hi_b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        res = minimize_scalar(lambda c: self.mse(x, c), bounds=(lo_b, hi_b), method="bounded",
                              options={"xatol": 1e-4 * hi})
        best = float(res.x) if res.fun <= mses[i] else float(grid[i])
        self.clip = best
        return self

    def __repr__(self):
        return f"UniformLLRQuantizer(num_bits={self._num_bits}, clip={self._clip})"


#: LLRs whose magnitude exceeds this multiple of the 99th percentile of |LLR| are outliers
#: (e.g. one overflowed value) and are left out of :meth:`UniformLLRQuantizer.fit`.
OUTLIER_FACTOR = 100.0


def robust_sample(x):
    """The finite LLRs ``x`` (numpy, 1-D) without outliers: magnitudes above
    :data:`OUTLIER_FACTOR` times the 99th percentile of ``|x|`` (when that percentile is
    positive). One stray value of 1e30 would otherwise set the clip of a fit to 1e30 and put
    every ordinary LLR into the middle cells."""
    if x.size == 0:
        return x
    q = float(np.quantile(np.abs(x), 0.99))
    return x[np.abs(x) <= OUTLIER_FACTOR * q] if q > 0 else x



#: Default clipping level of the registry's uniform quantizers, in LLR units:
#: 16 is below the LDPC decoder clipping (``llr_max = 20``); use
#: :meth:`UniformLLRQuantizer.fit` for an MSE-optimal level at an operating point.
DEFAULT_UNIFORM_CLIP = 16.0

Float16Storage = Float16Compressor  # deprecated alias (old name of Float16Compressor)
