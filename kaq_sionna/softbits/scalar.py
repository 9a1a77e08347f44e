r"""Scalar soft-bit (LLR) compressors for soft-buffer storage.

Every compressor has the interface the HARQ soft buffer
(:mod:`kaq_sionna.harq.soft_buffer`) and the EQ-Net quantizer share:

* ``compress(llr) -> codes``: what is written to memory. Bit-exact: integer
  codes (``uint8`` for up to 8 bits, ``int32`` above) or a ``float16`` /
  ``float32`` array for the floating-point formats;
* ``decompress(codes) -> llr``: the LLRs reconstructed from memory;
* ``bits_per_soft_bit``: the number of bits one stored soft bit occupies
  (32, 16 or ``b``), and :meth:`ScalarCompressor.num_stored_bits`, the exact
  integer number of bits ``n`` stored soft bits occupy.

``compress`` and ``decompress`` are pure TensorFlow (graph- and XLA-friendly,
no numpy); :meth:`UniformLLRQuantizer.fit` uses numpy and scipy and runs
eagerly, before a graph is traced.

LLRs follow Sionna's convention :math:`\ln\frac{P(b=1)}{P(b=0)}`; soft bits are
:math:`\tanh(\mathrm{LLR}/2)` (EQ-Net's :math:`\Lambda`, eq. (3) of paper 004).
"""

import numbers

import numpy as np
import tensorflow as tf

from kaq_sionna.softbits.conversion import llr_to_softbit, softbit_to_llr

__all__ = [
    "DEFAULT_UNIFORM_CLIP",
    "Float16Storage",
    "NoCompression",
    "ScalarCompressor",
    "UniformLLRQuantizer",
    "llr_to_softbit",
    "softbit_to_llr",
]

_FLOAT16_MAX = 65504.0


class ScalarCompressor:
    """Base class of scalar soft-bit compressors (one code per soft bit).

    Subclasses define :meth:`compress`, :meth:`decompress` and
    :attr:`bits_per_soft_bit`.

    Parameters
    ----------
    dtype : tf.DType
        Float dtype of the LLRs returned by :meth:`decompress` (default
        ``tf.float32``).
    """

    #: `str` : registry-style name of the scheme
    name = "scalar"

    def __init__(self, dtype=tf.float32):
        dtype = tf.as_dtype(dtype)
        if not dtype.is_floating:
            raise TypeError(f"dtype must be a float dtype, found {dtype.name}")
        self._dtype = dtype

    @property
    def dtype(self):
        """`tf.DType` : dtype of decompressed LLRs"""
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

    Input
    -----
    llr : [...], tf.float
        LLRs (``compress``) / ``float32`` codes (``decompress``).

    Output
    ------
    : [...], tf.float32
        ``compress`` returns the LLRs cast to ``float32``; ``decompress``
        casts them to :attr:`dtype`.
    """

    name = "float32"

    @property
    def bits_per_soft_bit(self):
        return 32.0

    @property
    def code_dtype(self):
        return tf.float32

    def compress(self, llr):
        return tf.cast(llr, tf.float32)

    def decompress(self, codes):
        return tf.cast(codes, self._dtype)


class Float16Storage(ScalarCompressor):
    r"""IEEE half-precision storage (16 bits per soft bit).

    LLRs are clipped to the largest finite ``float16`` (65504) and rounded to
    nearest; the relative error is at most :math:`2^{-11}` for
    :math:`|\mathrm{LLR}| \geq 2^{-14}` (normal range) and the absolute error
    at most :math:`2^{-25}` below it.

    Input
    -----
    llr : [...], tf.float
        LLRs (``compress``) / ``float16`` codes (``decompress``).

    Output
    ------
    : [...], tf.float16 (``compress``) | :attr:`dtype` (``decompress``)
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
    dtype : tf.DType
        dtype of decompressed LLRs.

    Input
    -----
    llr : [...], tf.float
        LLRs (``compress``) / codes (``decompress``).

    Output
    ------
    : [...], ``uint8`` | ``int32`` (``compress``) | :attr:`dtype` (``decompress``)
    """

    name = "uniform"

    def __init__(self, num_bits, clip=None, dtype=tf.float32):
        super().__init__(dtype)
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
        x = x[np.isfinite(x)]
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


#: Default clipping level of the registry's uniform quantizers, in LLR units:
#: 16 is below the LDPC decoder clipping (``llr_max = 20``); use
#: :meth:`UniformLLRQuantizer.fit` for an MSE-optimal level at an operating point.
DEFAULT_UNIFORM_CLIP = 16.0
