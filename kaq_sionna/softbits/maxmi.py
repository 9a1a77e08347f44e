r"""Maximum-mutual-information scalar LLR quantizer (Winkelbauer & Matz, SPAWC 2015).

Let :math:`B \to L \to Z` be a Markov chain: :math:`B \in \{0, 1\}` a code
bit, :math:`L` its LLR and :math:`Z = Q(L) \in \{0, \dots, K-1\}` the
quantizer's output (the stored code). :class:`MaxMIQuantizer` chooses the
:math:`K = 2^b` cells, intervals of the LLR axis, that maximise
:math:`I(B; Z)`, and reconstructs each code with the LLR of its cell,

.. math::
    \hat{\ell}_i = \ln\frac{P(B=1 \mid Z=i)}{P(B=0 \mid Z=i)},

so the decoder reads back exact (consistent) LLRs of the quantized channel.
This differs from MSE quantization (:class:`~kaq_sionna.softbits.scalar.UniformLLRQuantizer`),
whose levels are not LLRs of their cells and whose cells are not
information-optimal.

Reference
---------
A. Winkelbauer and G. Matz, "On quantization of log-likelihood ratios for
maximum mutual information," Proc. IEEE SPAWC 2015, Stockholm, June 2015,
and the authors' MATLAB code (``design_LLR_quant_samples.m``,
github.com/andreaswinkelbauer/spawc2015). Its sample-based algorithm is
implemented here (``method="lloyd"``): a Lloyd-Max-like alternation of

1. **level update** (the centroid in the KL sense): each cell's level is the
   LLR of the cell, :math:`\hat{\ell}_i = \ln \frac{\sum_{l \in
   \mathcal{C}_i} \sigma(l)}{\sum_{l \in \mathcal{C}_i} \sigma(-l)}`, where
   :math:`\sigma(l) = 1/(1+e^{-l}) = P(B=1 \mid L=l)` for consistent LLRs;
2. **boundary update** (nearest level in the KL sense): the boundary between
   levels :math:`\hat{\ell}_i < \hat{\ell}_{i+1}` is the LLR :math:`t` at which
   :math:`D(P_{B|L=t} \| P_{B|Z=i}) = D(P_{B|L=t} \| P_{B|Z=i+1})`,

   .. math::
       t_i = \ln \frac{\ln\bigl((1+e^{\hat{\ell}_{i+1}}) / (1+e^{\hat{\ell}_i})\bigr)}
                      {\ln\bigl((1+e^{-\hat{\ell}_i}) / (1+e^{-\hat{\ell}_{i+1}})\bigr)},

starting from equal-probability cells and stopping when the relative
increase of :math:`I(B;Z)` falls below a tolerance (the formulas are those
of the authors' code; the paper's text, and so its equation numbers, was not
at hand when this was written). Each step cannot decrease
:math:`I(B; Z)` for consistent LLRs (it is the Lloyd algorithm for the
distortion :math:`D(P_{B|L} \| P_{B|Z})`, whose mean is
:math:`I(B;L) - I(B;Z)`), so it converges to a local optimum; with
``symmetric=True`` the boundaries and levels are made odd-symmetric after each
step, like the authors' ``symmetrize`` option.

``method="dp"`` instead finds the globally optimal boundaries among the edges
of a fine histogram by dynamic programming (B. M. Kurkoski and H. Yagi,
"Quantization of binary-input discrete memoryless channels," IEEE Trans. Inf.
Theory, vol. 60, no. 8, pp. 4544-4552, 2014): for binary inputs an optimal
quantizer of the histogram bins merges bins contiguous in their posterior
ordering, which for consistent LLRs is the LLR ordering (with labels it is
the best quantizer whose cells are LLR intervals). It serves as an
optimality reference for the Lloyd iteration, and is the better choice for
labelled, mismatched LLRs, as it needs no posterior model.

Joint distribution of :math:`(B, L)`
-------------------------------------
For consistent LLRs (Sionna's convention :math:`\ln\frac{P(b=1)}{P(b=0)}`),
:math:`p(l \mid b=1) = e^{l} p(l \mid b=0)`, i.e. :math:`P(B=1 \mid L=l) =
\sigma(l)`: samples of :math:`L` alone determine the joint distribution, and
every sample contributes :math:`\sigma(l)` to :math:`P(B=1, Z)` and
:math:`\sigma(-l)` to :math:`P(B=0, Z)` (this is what the authors' code does;
no transmitted bits are needed). When the bits are given (``fit(llrs, bits)``),
the joint distribution is the empirical one instead (counts of ``(cell, bit)``
pairs), which is right also for mismatched LLRs (e.g. max-log demapping);
the boundary update still takes :math:`L` as the posterior LLR, the iteration
starts from the design for consistent LLRs (equal-probability tail cells may
hold one bit value only, whose LLR labels cannot identify), and a cell's
level is :math:`\ln\frac{n_1 + 1/2}{n_0 + 1/2}` (Krichevsky-Trofimov
estimate, finite for cells holding one bit value only). Levels are kept
within :math:`\pm\max|l|` of the training LLRs.

``compress`` / ``decompress`` are pure TensorFlow (``tf.searchsorted`` and
``tf.gather``; graph- and XLA-friendly); :meth:`MaxMIQuantizer.fit` uses numpy / scipy and
runs eagerly. The mutual-information estimates are in
:mod:`kaq_sionna.softbits.mutual_information` (re-exported here).
"""

import numbers

import numpy as np
import tensorflow as tf
from scipy.special import xlogy

from kaq_sionna.softbits.mutual_information import (
    _as_samples,
    _joint_mi,
    _posterior_weights,
    llr_mutual_information,
    quantized_mutual_information,
)
from kaq_sionna.softbits.scalar import ScalarCompressor, nan_to_erasure

__all__ = [
    "MAXMI_METHODS",
    "MaxMIQuantizer",
    "llr_mutual_information",
    "quantized_mutual_information",
]

MAXMI_METHODS = ("lloyd", "dp")
"""Fitting methods of :class:`MaxMIQuantizer`: the published algorithm or the DP reference."""


# ------------------------------------------------------------------ fitting helpers (numpy)

def _mass_edges(xs, num_cells):
    """Boundaries splitting sorted samples ``xs`` into ~equal-count, non-empty cells.

    Boundaries are midpoints between consecutive distinct values, so every cell
    holds at least one sample; fewer than ``num_cells - 1`` come back when
    ``xs`` has fewer distinct values.
    """
    u, cnt = np.unique(xs, return_counts=True)
    cum = np.cumsum(cnt)
    cuts = np.searchsorted(cum, np.arange(1, num_cells) * xs.size / num_cells, side="left")
    cuts = np.unique(np.clip(cuts, 0, u.size - 2)) if u.size > 1 else np.zeros(0, int)
    return (u[cuts] + u[cuts + 1]) / 2


class _Samples:
    """Sorted training samples with cumulative posterior masses, for O(K log N) cell statistics."""

    def __init__(self, x, b):
        order = np.argsort(x, kind="stable")
        self.x = x[order]
        w1, w0 = _posterior_weights(self.x, None if b is None else b[order])
        n = x.size
        self.c1 = np.concatenate([[0.0], np.cumsum(w1)]) / n
        self.c0 = np.concatenate([[0.0], np.cumsum(w0)]) / n
        # labels: Krichevsky-Trofimov (+1/2 count) estimate keeps the LLR of a
        # cell holding one bit value only finite; consistent weights are never 0
        self.smooth = 0.0 if b is None else 0.5 / n
        self.max_abs = float(np.max(np.abs(self.x)))

    def masses(self, t):
        """Joint masses P(B=1, Z=i), P(B=0, Z=i) of the cells (t_{i-1}, t_i]."""
        # samples in cells 0..i are those with l <= t_i (code = #thresholds < l)
        idx = np.concatenate([[0], np.searchsorted(self.x, t, side="right"), [self.x.size]])
        return np.diff(self.c1[idx]), np.diff(self.c0[idx])

    def levels(self, t, p1, p0):
        """Cell LLRs ln(P(B=1, Z=i) / P(B=0, Z=i)), within +-max|l|; empty cells get a level
        inside their interval."""
        with np.errstate(divide="ignore", invalid="ignore"):
            lv = np.log(p1 + self.smooth) - np.log(p0 + self.smooth)
        empty = (p1 + p0) <= 0
        if np.any(empty):
            ext = np.concatenate([[t[0] - 1.0], t, [t[-1] + 1.0]])
            lv[empty] = ((ext[:-1] + ext[1:]) / 2)[empty]
        return np.clip(lv, -self.max_abs, self.max_abs)


def _symmetrize(v):
    """Odd-symmetric version (v - reverse(v)) / 2, as the authors' ``symmetrize`` option."""
    return (v - v[::-1]) / 2


def _kl_boundaries(levels):
    r"""Boundaries where adjacent levels are KL-equidistant (boundary update of the paper)."""
    lo, hi = levels[:-1], levels[1:]
    # ln(1 + e^x) = logaddexp(0, x): stable for large |LLR|
    num = np.logaddexp(0.0, hi) - np.logaddexp(0.0, lo)
    den = np.logaddexp(0.0, -lo) - np.logaddexp(0.0, -hi)
    return np.log(num) - np.log(den)


def _fit_lloyd(s, num_levels, symmetric, max_iter, tol, init=None):
    """Winkelbauer-Matz alternating optimisation on samples; returns (thresholds, levels, mi)."""
    if init is not None:
        t = init
    else:
        t = _mass_edges(s.x, num_levels)  # equal-probability start (max. output entropy)
        if t.size < num_levels - 1:  # heavy ties: equal counts of distinct values instead
            t = _mass_edges(np.unique(s.x), num_levels)
    if symmetric:
        t = _symmetrize(t)
    p1, p0 = s.masses(t)
    lv = s.levels(t, p1, p0)
    if symmetric:
        lv = _symmetrize(lv)
    mi = _joint_mi(p1, p0)
    best = (t, lv, mi)
    for _ in range(max_iter):
        if not np.all(np.diff(lv) > 0):  # only possible with labels: no KL ordering
            break
        t = _kl_boundaries(lv)
        if symmetric:
            t = _symmetrize(t)
        p1, p0 = s.masses(t)
        lv = s.levels(t, p1, p0)
        if symmetric:
            lv = _symmetrize(lv)
        mi_old, mi = mi, _joint_mi(p1, p0)
        if mi > best[2]:
            best = (t, lv, mi)
        if mi - mi_old <= tol * mi:
            break
    return best


def _fit_dp(s, num_levels, num_bins):
    """Kurkoski-Yagi dynamic programme over a histogram; returns (thresholds, levels, mi)."""
    edges = _mass_edges(s.x, num_bins)
    m = edges.size + 1  # number of bins
    if m < num_levels:
        raise ValueError(f"method='dp' needs at least {num_levels} histogram bins, found {m} "
                         "(too few distinct LLRs)")
    b1, b0 = s.masses(edges)
    c1, c0 = np.concatenate([[0.0], np.cumsum(b1)]), np.concatenate([[0.0], np.cumsum(b0)])
    pi1, pi0 = c1[-1], c0[-1]
    # g[s, e]: contribution to I(B;Z) (nats) of a cell made of bins s..e-1
    q1, q0 = c1[None, :] - c1[:, None], c0[None, :] - c0[:, None]
    q1, q0 = np.maximum(q1, 0.0), np.maximum(q0, 0.0)
    g = (xlogy(q1, q1) + xlogy(q0, q0) - xlogy(q1 + q0, q1 + q0)
         - xlogy(q1, pi1) - xlogy(q0, pi0))
    g[np.tril_indices(m + 1)] = -np.inf  # a cell holds at least one bin (s < e)
    # value[e]: best total of k cells covering bins 0..e-1
    value = g[0].copy()
    back = np.zeros((num_levels, m + 1), np.int64)
    for k in range(1, num_levels):
        cand = value[:, None] + g
        back[k] = np.argmax(cand, axis=0)
        value = cand[back[k], np.arange(m + 1)]
    cuts, e = [], m
    for k in range(num_levels - 1, 0, -1):
        e = back[k, e]
        cuts.append(e)
    t = edges[np.array(cuts[::-1], np.int64) - 1]
    p1, p0 = s.masses(t)
    return t, s.levels(t, p1, p0), _joint_mi(p1, p0)


# ------------------------------------------------------------------ quantizer

class MaxMIQuantizer(ScalarCompressor):
    r"""Maximum-mutual-information ``num_bits``-bit LLR quantizer (Winkelbauer & Matz, SPAWC 2015).

    :math:`K = 2^b` cells :math:`\mathcal{C}_i = (t_{i-1}, t_i]` of the LLR
    axis (:math:`t_{-1} = -\infty`, :math:`t_{K-1} = +\infty`) chosen to
    maximise :math:`I(B; Z)`; code :math:`i` is read back as the LLR of its
    cell, :math:`\hat{\ell}_i = \ln\frac{P(B=1|Z=i)}{P(B=0|Z=i)}`. See the
    module docstring for the algorithm (the authors' sample-based Lloyd-type
    iteration; ``method="dp"`` for the exact dynamic programme of Kurkoski &
    Yagi over a fine histogram) and for how the joint distribution of bits
    and LLRs is obtained.

    There is no sensible quantizer before :meth:`fit`: the cells depend on the
    LLR distribution (SNR, detector, rounds combined). In a HARQ link,
    :meth:`links.HARQLink.calibrate_storage` calls :meth:`fit` with the LLRs
    the soft buffer would store.

    Parameters
    ----------
    num_bits : int
        Bits per soft bit :math:`b` in 1..8; codes are ``uint8``.
    per_position : bool
        If `True`, one quantizer per position of the last axis (e.g. the
        :math:`Q_m` bit positions of a QAM symbol, whose LLR statistics
        differ): :meth:`fit` takes ``[..., P]`` and :meth:`compress` /
        :meth:`decompress` quantize position ``p`` of the last axis with the
        ``p``-th quantizer. Default `False` (one quantizer for all LLRs).
    symmetric : bool
        Force odd-symmetric boundaries and levels (:math:`t_{K-2-i} = -t_i`,
        :math:`\hat{\ell}_{K-1-i} = -\hat{\ell}_i`), for LLRs whose distribution
        is symmetric (equiprobable bits, symmetric channel). Default `False`.
    method : "lloyd" (default) | "dp"
        The published iteration, or the dynamic programme over a histogram.
    precision : `None` (default) | "single" | "double"
        Precision of decompressed LLRs (`None`: :attr:`sionna.phy.config.precision`).
    dtype : `None` | tf.float32 | tf.float64
        Deprecated: use ``precision``.

    Input
    -----
    llr : [...] (or [..., P] with ``per_position``), tf.float
        LLRs (``compress``) / ``uint8`` codes (``decompress``).

    Output
    ------
    : same shape, ``uint8`` (``compress``) | :attr:`rdtype` (``decompress``)
        Codes in :math:`[0, 2^b)` / reconstructed LLRs (cell LLRs).
    """

    name = "maxmi"

    def __init__(self, num_bits, per_position=False, symmetric=False, method="lloyd",
                 precision=None, dtype=None):
        super().__init__(precision, dtype)
        if isinstance(num_bits, bool) or not isinstance(num_bits, numbers.Integral):
            raise TypeError(f"num_bits must be an integer, found {num_bits!r}")
        if not 1 <= num_bits <= 8:
            raise ValueError(f"num_bits must be in 1..8, found {num_bits}")
        if method not in MAXMI_METHODS:
            raise ValueError(f"method must be one of {MAXMI_METHODS}, found {method!r}")
        self._num_bits = int(num_bits)
        self._per_position = bool(per_position)
        self._symmetric = bool(symmetric)
        self._method = method
        self._thresholds = None  # [K-1] or [P, K-1], float64
        self._levels = None      # [K] or [P, K], float64
        self._fit_mi = None

    # ---------------------------------------------------------- properties

    @property
    def num_bits(self):
        """`int` : Bits per soft bit :math:`b`"""
        return self._num_bits

    @property
    def num_levels(self):
        """`int` : Number of cells / reconstruction levels :math:`2^b`"""
        return 2 ** self._num_bits

    @property
    def per_position(self):
        """`bool` : One quantizer per last-axis position"""
        return self._per_position

    @property
    def num_positions(self):
        """`int` | `None` : Number of last-axis positions fitted (``per_position``), else `None`"""
        return None if self._levels is None or not self._per_position else self._levels.shape[0]

    @property
    def symmetric(self):
        """`bool` : Odd-symmetric boundaries and levels"""
        return self._symmetric

    @property
    def method(self):
        """`str` : Fitting method, "lloyd" | "dp\""""
        return self._method

    @property
    def is_fitted(self):
        """`bool` : Whether :meth:`fit` has been called"""
        return self._levels is not None

    @property
    def thresholds(self):
        r"""`np.ndarray`, [2^b - 1] (or [P, 2^b - 1]), float : Sorted cell boundaries :math:`t_i`"""
        self._require_fit()
        return self._thresholds.copy()

    @property
    def levels(self):
        r"""`np.ndarray`, [2^b] (or [P, 2^b]), float : Cell LLRs, code ``i`` -> ``levels[i]``"""
        self._require_fit()
        return self._levels.copy()

    @property
    def training_mutual_information(self):
        """`float` | `np.ndarray` : :math:`I(B;Z)` in bits on the training LLRs of :meth:`fit`"""
        self._require_fit()
        return self._fit_mi

    @property
    def bits_per_soft_bit(self):
        return float(self._num_bits)

    @property
    def code_dtype(self):
        return tf.uint8

    def _require_fit(self):
        if self._levels is None:
            raise RuntimeError(
                f"MaxMIQuantizer({self._num_bits}) is not fitted: its cells depend on the LLR "
                "distribution; call fit(llrs) or HARQLink.calibrate_storage first")

    # ---------------------------------------------------------- fitting (numpy)

    def fit(self, llrs, bits=None, max_iter=500, tol=1e-9, max_samples=200_000, seed=0,
            num_bins=1024):
        r"""Designs the quantizer on training LLRs (numpy, eager).

        Runs eagerly; call it before tracing a graph that uses the quantizer
        (thresholds and levels are constants of traced graphs).

        Input
        -----
        llrs : array_like or tf.Tensor, float, [...] (``[..., P]`` with ``per_position``)
            Training LLRs (e.g. the soft-buffer contents at the operating
            point); non-finite values are dropped.
        bits : `None` (default) | array_like, 0/1, same shape as ``llrs``
            Transmitted bits. `None`: the LLRs are taken as consistent and
            the joint distribution of bit and LLR follows from the LLRs alone
            (:math:`P(B=1|L=l) = \sigma(l)`). Given: the empirical joint
            distribution of the labelled samples is used.
        max_iter : int
            Maximum number of iterations (``method="lloyd"``).
        tol : float
            Stop when the relative increase of :math:`I(B;Z)` in an iteration
            is at most ``tol`` (``method="lloyd"``).
        max_samples : int
            A random subset of at most this many samples (per position) is used.
        seed : int
            Seed of the subset.
        num_bins : int
            Histogram bins of ``method="dp"`` (equal-count bins; memory and
            time grow as ``num_bins**2``).

        Output
        ------
        self : MaxMIQuantizer
            With :attr:`thresholds` and :attr:`levels` set.
        """
        for nm, v, lo in (("max_iter", max_iter, 1), ("max_samples", max_samples, 1),
                          ("num_bins", num_bins, 2)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
                raise ValueError(f"{nm} must be an integer >= {lo}, found {v!r}")
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a finite number >= 0, found {tol!r}")
        x, b = _as_samples(llrs, bits)
        if self._per_position:
            if x.ndim < 1 or x.shape[-1] < 1:
                raise ValueError("per_position=True needs llrs of shape [..., P], "
                                 f"found {x.shape}")
            cols = range(x.shape[-1])
            x2 = x.reshape(-1, x.shape[-1])
            b2 = None if b is None else b.reshape(-1, x.shape[-1])
            fits = [self._fit_1d(x2[:, p], None if b2 is None else b2[:, p], max_iter, tol,
                                 max_samples, seed, num_bins, f"position {p}") for p in cols]
            self._thresholds = np.stack([f[0] for f in fits])
            self._levels = np.stack([f[1] for f in fits])
            self._fit_mi = np.array([f[2] for f in fits])
        else:
            t, lv, mi = self._fit_1d(x.ravel(), None if b is None else b.ravel(), max_iter,
                                        tol, max_samples, seed, num_bins, "llrs")
            self._thresholds, self._levels, self._fit_mi = t, lv, mi
        return self

    def _fit_1d(self, x, b, max_iter, tol, max_samples, seed, num_bins, what):
        keep = np.isfinite(x)
        x = x[keep]
        b = None if b is None else b[keep]
        if x.size > max_samples:
            sel = np.random.default_rng(seed).choice(x.size, max_samples, replace=False)
            x = x[sel]
            b = None if b is None else b[sel]
        k = self.num_levels
        if np.unique(x).size < k:
            raise ValueError(f"fit needs at least {k} distinct finite LLRs ({what}), found "
                             f"{np.unique(x).size}")
        s = _Samples(x, b)
        if self._method == "dp":
            return _fit_dp(s, k, num_bins)
        init = None
        if b is not None:
            # equal-probability cells at the tails can hold one bit value only, whose
            # (label) LLRs are not identifiable: start from the consistent-LLR design
            init = _fit_lloyd(_Samples(x, None), k, self._symmetric, max_iter, tol)[0]
        return _fit_lloyd(s, k, self._symmetric, max_iter, tol, init)

    def mutual_information(self, llrs, bits=None):
        r""":math:`I(B; Z)` of the fitted quantizer on ``llrs`` (numpy).

        Input
        -----
        llrs : array_like, float, [...] (``[..., P]`` with ``per_position``)
        bits : `None` (default) | array_like, 0/1
            As in :meth:`fit`: `None` takes the LLRs as consistent.

        Output
        ------
        : float (``[P]`` array with ``per_position``)
            Mutual information in bits between the bit and its code.
        """
        self._require_fit()
        x, b = _as_samples(llrs, bits)
        if not self._per_position:
            return quantized_mutual_information(x, np.searchsorted(self._thresholds, x), b)
        self._check_positions(x.shape[-1] if x.ndim else None)
        x2 = x.reshape(-1, x.shape[-1])
        b2 = None if b is None else b.reshape(-1, x.shape[-1])
        return np.array([quantized_mutual_information(
            x2[:, p], np.searchsorted(self._thresholds[p], x2[:, p]),
            None if b2 is None else b2[:, p]) for p in range(x2.shape[1])])

    def _check_positions(self, last_dim):
        p = self._levels.shape[0]
        if last_dim is not None and last_dim != p:
            raise ValueError(f"per_position quantizer fitted for {p} positions; the last axis "
                             f"has {last_dim}")

    # ---------------------------------------------------------- storage (TensorFlow)

    def compress(self, llr):
        self._require_fit()
        llr = tf.convert_to_tensor(llr)
        if not llr.dtype.is_floating:
            llr = tf.cast(llr, self._dtype)
        llr = nan_to_erasure(llr)  # NaN: the cell holding 0 (searchsorted puts NaN last)
        shape = tf.shape(llr)
        thr = tf.constant(self._thresholds, llr.dtype)
        if not self._per_position:
            # code = number of thresholds < llr, i.e. cell (t_{i-1}, t_i]
            codes = tf.searchsorted(thr[None, :], tf.reshape(llr, [1, -1]), side="left")
        else:
            self._check_positions(llr.shape[-1] if llr.shape.rank else None)
            p = self._levels.shape[0]
            vals = tf.transpose(tf.reshape(llr, [-1, p]))  # [P, M]: one search per position
            codes = tf.transpose(tf.searchsorted(thr, vals, side="left"))
        return tf.cast(tf.reshape(codes, shape), tf.uint8)

    def decompress(self, codes):
        self._require_fit()
        codes = tf.cast(tf.convert_to_tensor(codes), tf.int32)
        levels = tf.constant(self._levels, self._dtype)
        if not self._per_position:
            return tf.gather(levels, codes)
        self._check_positions(codes.shape[-1] if codes.shape.rank else None)
        p, k = self._levels.shape
        # flat table index p * K + code of position p
        return tf.gather(tf.reshape(levels, [-1]), codes + tf.range(p, dtype=tf.int32) * k)

    def __repr__(self):
        extra = ", per_position=True" if self._per_position else ""
        extra += ", symmetric=True" if self._symmetric else ""
        extra += f", method={self._method!r}" if self._method != "lloyd" else ""
        return (f"MaxMIQuantizer(num_bits={self._num_bits}{extra}, "
                f"fitted={self.is_fitted})")
