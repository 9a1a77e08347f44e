r"""Mutual information between code bits and their LLRs, or the cells of a quantizer (numpy).

:math:`B \in \{0, 1\}` is a code bit, :math:`L` its LLR (Sionna's convention
:math:`\ln\frac{P(b=1)}{P(b=0)}`) and :math:`Z` the cell (code) a quantizer stores.
:func:`llr_mutual_information` estimates :math:`I(B; L)`, the bound any quantizer stays
below; :func:`quantized_mutual_information` estimates :math:`I(B; Z)` for the codes of any
compressor.

Joint distribution of :math:`(B, L)`: for consistent LLRs,
:math:`p(l \mid b=1) = e^{l} p(l \mid b=0)`, i.e. :math:`P(B=1 \mid L=l) = \sigma(l)`, so
samples of :math:`L` alone determine it (every sample contributes :math:`\sigma(l)` to
:math:`B=1` and :math:`\sigma(-l)` to :math:`B=0`); when the transmitted bits are given, the
empirical joint distribution of the labelled samples is used instead (right also for
mismatched LLRs, e.g. max-log demapping). The helpers here are shared with the max-MI
quantizer's fitting (:mod:`kaq_sionna.softbits.maxmi`).
"""

import numpy as np
from scipy.special import expit, xlogy

__all__ = ["llr_mutual_information", "quantized_mutual_information"]

_LN2 = np.log(2.0)


def _posterior_weights(x, bits):
    """Per-sample (P(B=1 | sample), P(B=0 | sample)): sigma(+-l), or the label itself."""
    if bits is None:
        return expit(x), expit(-x)
    w1 = bits.astype(np.float64)
    return w1, 1.0 - w1


def _as_samples(llrs, bits, name="llrs"):
    """float64 LLRs and {0,1} labels (or None), same shape, as numpy arrays."""
    x = np.asarray(llrs, np.float64)
    if bits is None:
        return x, None
    b = np.asarray(bits)
    if b.shape != x.shape:
        raise ValueError(f"bits must have the shape of {name} {x.shape}, found {b.shape}")
    if not np.all((b == 0) | (b == 1)):
        raise ValueError("bits must be 0 or 1")
    return x, b.astype(np.int8)


def _joint_mi(p1, p0):
    r"""I(B; Z) in bits from the joint masses P(B=1, Z=i), P(B=0, Z=i) (summing to 1)."""
    pz = p1 + p0
    pb = np.array([p1.sum(), p0.sum()])
    # I = H(B) + H(Z) - H(B, Z)
    nats = (np.sum(xlogy(p1, p1)) + np.sum(xlogy(p0, p0))
            - np.sum(xlogy(pz, pz)) - np.sum(xlogy(pb, pb)))
    return float(max(nats, 0.0) / _LN2)


def quantized_mutual_information(llrs, codes, bits=None):
    r"""Mutual information :math:`I(B; Z)` between bits and the cells of any quantizer (numpy).

    ``codes`` are the cell indices of ``llrs`` (e.g. the output of any
    compressor's ``compress``). The joint distribution of bit and code is
    estimated from consistent LLRs (each sample weighs :math:`\sigma(l)` for
    :math:`B=1` and :math:`\sigma(-l)` for :math:`B=0`) or, if ``bits`` are
    given, from the labels.

    Input
    -----
    llrs : array_like, float
        LLRs :math:`\ln\frac{P(b=1)}{P(b=0)}`.
    codes : array_like, int
        Cell indices, same shape as ``llrs``.
    bits : `None` (default) | array_like, 0/1
        Transmitted bits, same shape as ``llrs``.

    Output
    ------
    : float
        :math:`I(B; Z)` in bits.
    """
    x, b = _as_samples(llrs, bits)
    c = np.asarray(codes)
    if c.shape != x.shape:
        raise ValueError(f"codes must have the shape of llrs {x.shape}, found {c.shape}")
    x, c = x.ravel(), c.ravel().astype(np.int64)
    b = None if b is None else b.ravel()
    keep = ~np.isnan(x)
    x, c, b = x[keep], c[keep], None if b is None else b[keep]
    if x.size == 0:
        raise ValueError("quantized_mutual_information needs at least one non-NaN sample")
    _, c = np.unique(c, return_inverse=True)
    w1, w0 = _posterior_weights(x, b)
    return _joint_mi(np.bincount(c, w1) / x.size, np.bincount(c, w0) / x.size)


def llr_mutual_information(llrs, bits=None):
    r"""Estimate of :math:`I(B; L)` from LLR samples (numpy): the bound any quantizer stays below.

    Without ``bits`` the LLRs are taken as consistent:
    :math:`\hat{I} = h_2(\overline{\sigma(l)}) - \overline{h_2(\sigma(l))}`
    (then :math:`I(B;Z) \leq \hat{I}` holds exactly for the estimates of
    :func:`quantized_mutual_information`, by concavity of :math:`h_2`). With
    ``bits``, :math:`\hat{I} = h_2(\bar{b}) - \overline{\log_2(1 + e^{-(2b-1) l})}`,
    the cross-entropy estimate (a lower bound on :math:`I(B;L)` for mismatched LLRs).

    Input
    -----
    llrs : array_like, float
    bits : `None` (default) | array_like, 0/1

    Output
    ------
    : float
        Estimate of :math:`I(B; L)` in bits.
    """
    x, b = _as_samples(llrs, bits)
    x = x.ravel()
    keep = ~np.isnan(x)
    x, b = x[keep], None if b is None else b.ravel()[keep]
    if x.size == 0:
        raise ValueError("llr_mutual_information needs at least one non-NaN sample")
    x = np.clip(x, -700.0, 700.0)  # +-inf: h(sigma(l)) = 0 without 0 * inf
    if b is None:
        s1, s0 = expit(x), expit(-x)
        # h(sigma(l)) in nats: -ln sigma(l) = softplus(-l)
        h_cond = np.mean(s1 * np.logaddexp(0.0, -x) + s0 * np.logaddexp(0.0, x))
        p1 = float(np.mean(s1))
    else:
        h_cond = np.mean(np.logaddexp(0.0, -(2.0 * b - 1.0) * x))
        p1 = float(np.mean(b))
    pb = np.array([p1, 1.0 - p1])
    return float((-np.sum(xlogy(pb, pb)) - h_cond) / _LN2)
