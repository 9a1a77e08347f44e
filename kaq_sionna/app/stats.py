r"""Statistics of Monte-Carlo error counts: binomial confidence intervals, SNR crossings of a
target error rate, and gaps between two curves.

Every report, the HARQ memory study and the results files use these functions, so that a number
that is only a bound is never presented as a value.

Confidence intervals
--------------------
:func:`binomial_ci` is the Clopper-Pearson ("exact") interval at level :data:`CI_LEVEL`
(0.95): for ``k`` errors in ``n`` trials the two-sided interval
``[Beta(alpha/2; k, n-k+1), Beta(1-alpha/2; k+1, n-k)]``, and for ``k = 0`` the one-sided upper
bound ``Beta(level; 1, n) = 1 - (1-level)^(1/n)`` (lower bound 0). Clopper, C. J. and Pearson,
E. S., "The use of confidence or fiducial limits illustrated in the case of the binomial",
Biometrika 26 (1934). Quantiles from ``scipy.stats.beta``.

Crossings
---------
:func:`crossing` finds where a curve first falls from above ``target`` to at or below it. It
interpolates (linear in SNR, logarithmic in the error rate) **only** between two points that
both have errors and bracket the target. Otherwise it returns a bound:

* ``"upper"``: the curve falls from above the target straight to a point without any error at
  ``s1`` (crossing in ``(s0, s1]``, printed ``<= s1``), or it is already at or below the target
  at its first point ``s0`` (printed ``<= s0``);
* ``"lower"``: the curve stays above the target on the whole grid (printed ``> s_last``);
* ``"none"``: no points.

A value crossing also carries an interval: the crossings of the curves through the lower and
the upper confidence bounds of every point (the same rule, so a bound there widens the
interval to the grid). :func:`gap` subtracts two crossings interval-wise: the interval of
``A - B`` is ``[A.low - B.high, A.high - B.low]`` (each crossing's interval at level 0.95; the
pair holds jointly with probability at least 0.90, ignoring that the curves share random
numbers, which makes the gap's true uncertainty smaller).
"""

import math
from dataclasses import dataclass

__all__ = ["CI_LEVEL", "binomial_ci", "rate_ci", "Crossing", "rate_crossing", "crossing", "curve_crossing",
           "Gap", "gap", "fmt_snr", "fmt_gap", "COUNTS"]

#: Confidence level of every interval written to results and reports (docs/conventions.md).
CI_LEVEL = 0.95

#: metric -> (error count field, trial count field) of a results.json curve.
COUNTS = {"ber": ("bit_errors", "num_bits"), "bler": ("block_errors", "num_blocks")}


def binomial_ci(k, n, level=CI_LEVEL):
    """Clopper-Pearson interval of a binomial proportion.

    Input
    -----
    k : int
        Errors counted.
    n : int
        Trials (bits or blocks).
    level : float
        Confidence level.

    Output
    ------
    (low, high) : (float, float)
        Two-sided interval; for ``k = 0`` the one-sided upper bound at ``level`` and 0.
        ``(0.0, 1.0)`` if ``n = 0``.
    """
    from scipy.stats import beta

    k, n = int(k), int(n)
    if n <= 0:
        return 0.0, 1.0
    if k == 0:
        return 0.0, float(beta.ppf(level, 1, n))
    alpha = 1.0 - level
    low = float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k >= n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def rate_ci(errors, trials, level=CI_LEVEL):
    """``(lows, highs)``: :func:`binomial_ci` of every point of two count lists."""
    pairs = [binomial_ci(k, n, level) for k, n in zip(errors, trials, strict=True)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@dataclass(frozen=True)
class Crossing:
    """Where a curve crosses a target.

    ``kind`` is ``"value"`` (``snr_db`` interpolated, in ``[low, high]``), ``"upper"`` (the
    crossing is at most ``high``; ``low`` is the last grid point above the target or `None`),
    ``"lower"`` (more than ``low``; ``high`` `None`) or ``"none"`` (no points).
    """

    kind: str
    snr_db: float = None
    low: float = None
    high: float = None

    @property
    def is_value(self):
        return self.kind == "value"

    def as_dict(self, ndigits=4):
        def r(v):
            return None if v is None else round(v, ndigits)
        return {"kind": self.kind, "snr_db": r(self.snr_db), "low": r(self.low),
                "high": r(self.high)}


def rate_crossing(pts, target):
    """The rule of :func:`crossing` on ``(snr, rate)`` points sorted by SNR, without intervals."""
    if not pts:
        return Crossing("none")
    if pts[0][1] <= target:
        return Crossing("upper", high=pts[0][0])
    for (s0, b0), (s1, b1) in zip(pts, pts[1:], strict=False):
        if b0 > target >= b1:
            if b1 <= 0:  # no error at s1: the crossing is somewhere in (s0, s1]
                return Crossing("upper", low=s0, high=s1)
            t = (math.log(b0) - math.log(target)) / (math.log(b0) - math.log(b1))
            s = s0 + t * (s1 - s0)
            return Crossing("value", snr_db=s, low=s, high=s)
    return Crossing("lower", low=pts[-1][0])


def crossing(snr_db, errors, trials, target, level=CI_LEVEL):
    """SNR where a curve of error counts first falls to ``target`` (see the module docstring).

    Input
    -----
    snr_db : list of float
    errors, trials : list of int
        Error and trial counts per point (rate = errors / trials).
    target : float
    level : float
        Confidence level of the interval of a value crossing.

    Output
    ------
    : :class:`Crossing`
    """
    order = sorted(range(len(snr_db)), key=lambda i: snr_db[i])
    s = [float(snr_db[i]) for i in order]
    k = [errors[i] for i in order]
    n = [trials[i] for i in order]
    rate = [ki / ni if ni else 1.0 for ki, ni in zip(k, n, strict=True)]
    c = rate_crossing(list(zip(s, rate, strict=True)), target)
    if not c.is_value:
        return c
    lows, highs = rate_ci(k, n, level)
    early = rate_crossing(list(zip(s, lows, strict=True)), target)
    late = rate_crossing(list(zip(s, highs, strict=True)), target)
    low = early.snr_db if early.is_value else early.low  # None: below the grid
    high = late.snr_db if late.is_value else late.high  # None: beyond the grid
    return Crossing("value", snr_db=c.snr_db, low=low, high=high)


def curve_crossing(curve, metric, target, level=CI_LEVEL):
    """:func:`crossing` of a results.json curve's ``metric`` ("ber" or "bler")."""
    errors, trials = COUNTS[metric]
    return crossing(curve["snr_db"], curve[errors], curve[trials], target, level)


@dataclass(frozen=True)
class Gap:
    """``A - B`` of two crossings in dB: ``estimate`` when both are values, and the interval
    ``[low, high]`` (`None`: unbounded on that side)."""

    estimate: float = None
    low: float = None
    high: float = None

    def as_dict(self, ndigits=2):
        def r(v):
            return None if v is None else round(v, ndigits)
        return {"estimate": r(self.estimate), "low": r(self.low), "high": r(self.high)}


def gap(a, b):
    """The :class:`Gap` ``a - b`` of two :class:`Crossing`; `None` if either has no points."""
    if a.kind == "none" or b.kind == "none":
        return None
    est = a.snr_db - b.snr_db if a.is_value and b.is_value else None
    low = None if a.low is None or b.high is None else a.low - b.high
    high = None if a.high is None or b.low is None else a.high - b.low
    return Gap(est, low, high)


def fmt_snr(c, digits=2, unit=""):
    """A crossing as table text: ``12.34``, ``<= 12``, ``> 26`` or ``-``; accepts the dict of
    :meth:`Crossing.as_dict`."""
    if c is None:
        return "-"
    d = c.as_dict() if isinstance(c, Crossing) else c
    if d["kind"] == "value":
        return f"{d['snr_db']:.{digits}f}{unit}"
    if d["kind"] == "upper":
        return f"<= {d['high']:g}{unit}"
    if d["kind"] == "lower":
        return f"> {d['low']:g}{unit}"
    return "-"


def fmt_gap(g, digits=2, unit=" dB"):
    """A gap as table text: ``+0.25 [-0.10, +0.61] dB`` for two values, the interval alone for
    a bound (``[-1.00, -0.37] dB``, ``<= -0.37 dB``, ``> +1.2 dB``), ``-`` if unknown; accepts
    the dict of :meth:`Gap.as_dict`."""
    if g is None:
        return "-"
    d = g.as_dict() if isinstance(g, Gap) else g
    lo, hi, est = d["low"], d["high"], d["estimate"]
    if lo is None and hi is None:
        return "-" if est is None else f"{est:+.{digits}f} (interval open){unit}"
    if lo is None:
        interval = f"<= {hi:+.{digits}f}"
    elif hi is None:
        interval = f"> {lo:+.{digits}f}"
    else:
        interval = f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"
    if est is None:
        return interval + unit
    if lo is not None and hi is not None:
        return f"{est:+.{digits}f} {interval}{unit}"
    return f"{est:+.{digits}f} ({interval}){unit}"
