r"""Paired comparison of two detectors that saw the same random realizations.

With ``[sweep] seeding = "common"`` every detector at an SNR point sees the same blocks in the
same order (:mod:`kaq_sionna.app.units`). Comparing detector ``A`` with a reference ``R`` on the
``n`` blocks both simulated (the common prefix of their chunks), only the *discordant* blocks
carry information about the difference: ``a`` blocks that ``A`` got wrong and ``R`` right, and
``r`` the other way round. The BLER difference is

.. math::
    \Delta = \mathrm{BLER}_A - \mathrm{BLER}_R = \frac{a - r}{n}.

Interval (:func:`paired_difference`): conditionally on the ``m = a + r`` discordant blocks,
``a`` is binomial with parameter ``p`` and ``Delta = m (2p - 1) / n``; the Clopper-Pearson
interval ``[p_lo, p_hi]`` of ``a`` out of ``m`` (:func:`kaq_sionna.app.stats.binomial_ci`, level
0.95) gives ``[m (2 p_lo - 1) / n, m (2 p_hi - 1) / n]``. The difference is *resolved* when that
interval excludes 0, which is the exact McNemar test at level 5 %. Without discordant blocks the
interval is ``[-u, u]`` with ``u`` the one-sided upper bound of the discordance rate (0 of
``n``). McNemar, Q., "Note on the sampling error of the difference between correlated
proportions or percentages", Psychometrika 12 (1947).

Why it pays (:func:`samples_ratio`): the variance of ``Delta`` from independent runs of ``n``
blocks each is ``(p_A (1 - p_A) + p_R (1 - p_R)) / n``; from paired blocks it is
``(p_a + p_r - (p_a - p_r)^2) / n`` with ``p_a = a / n``, ``p_r = r / n``. Their ratio is the
factor by which independent sampling needs more blocks for an interval of the same width.
"""

from kaq_sionna.app.stats import CI_LEVEL, binomial_ci


def paired_difference(only_a, only_ref, n, level=CI_LEVEL):
    """BLER difference ``A - R`` of paired blocks and its interval.

    Input
    -----
    only_a : int
        Blocks wrong for ``A`` only.
    only_ref : int
        Blocks wrong for the reference only.
    n : int
        Blocks both simulated.
    level : float

    Output
    ------
    (difference, low, high, resolved) : (float, float, float, bool)
        ``(0, -1, 1, False)`` if ``n = 0``.
    """
    only_a, only_ref, n = int(only_a), int(only_ref), int(n)
    if n <= 0:
        return 0.0, -1.0, 1.0, False
    m = only_a + only_ref
    diff = (only_a - only_ref) / n
    if m == 0:
        u = binomial_ci(0, n, level)[1]
        return diff, -u, u, False
    p_lo, p_hi = binomial_ci(only_a, m, level)
    low, high = m * (2 * p_lo - 1) / n, m * (2 * p_hi - 1) / n
    return diff, low, high, bool(low > 0 or high < 0)


def samples_ratio(errors_a, errors_ref, only_a, only_ref, n):
    """Blocks that independent runs need for the interval width paired blocks give, as a
    multiple of the paired blocks (`None` without errors)."""
    if n <= 0:
        return None
    pa, pr = errors_a / n, errors_ref / n
    paired = (only_a + only_ref) / n - ((only_a - only_ref) / n) ** 2
    independent = pa * (1 - pa) + pr * (1 - pr)
    if paired <= 0:
        return None if independent <= 0 else float("inf")
    return independent / paired


def compare_flags(flags_a, flags_ref):
    """Counts of the common prefix of two per-block error flag arrays.

    Output
    ------
    dict
        ``num_blocks``, ``errors``, ``reference_errors``, ``only_detector``,
        ``only_reference``.
    """
    n = min(len(flags_a), len(flags_ref))
    a, r = flags_a[:n], flags_ref[:n]
    return {"num_blocks": int(n), "errors": int(a.sum()), "reference_errors": int(r.sum()),
            "only_detector": int((a & ~r).sum()), "only_reference": int((r & ~a).sum())}


def paired_entry(label, reference, points):
    """The ``results.json`` entry of one pair: ``points`` is a list of ``(snr_db, counts)``
    with the counts of :func:`compare_flags`."""
    entry = {"detector": label, "reference": reference, "snr_db": [], "num_blocks": [],
             "only_detector": [], "only_reference": [], "bler_difference": [],
             "ci_low": [], "ci_high": [], "resolved": [], "samples_ratio": []}
    for snr, c in points:
        diff, low, high, resolved = paired_difference(c["only_detector"], c["only_reference"],
                                                      c["num_blocks"])
        ratio = samples_ratio(c["errors"], c["reference_errors"], c["only_detector"],
                              c["only_reference"], c["num_blocks"])
        entry["snr_db"].append(snr)
        entry["num_blocks"].append(c["num_blocks"])
        entry["only_detector"].append(c["only_detector"])
        entry["only_reference"].append(c["only_reference"])
        entry["bler_difference"].append(round(diff, 6))
        entry["ci_low"].append(round(low, 6))
        entry["ci_high"].append(round(high, 6))
        entry["resolved"].append(resolved)
        entry["samples_ratio"].append(None if ratio is None else round(ratio, 3))
    return entry


def paired_table(doc):
    """Plain-text table of a results document's ``"paired"`` entries (empty string if none)."""
    lines = []
    for e in doc.get("paired", []):
        lines.append(f"{e['detector']} - {e['reference']}: BLER difference, 95 % paired CI")
        for i, snr in enumerate(e["snr_db"]):
            mark = "resolved" if e["resolved"][i] else "not resolved"
            ratio = e["samples_ratio"][i]
            saving = "" if ratio is None or ratio == float("inf") else \
                f"  (independent runs: x{ratio:.3g} blocks)"
            lines.append(f"  {snr:8.2f} dB  {e['bler_difference'][i]:+.4f}  "
                         f"[{e['ci_low'][i]:+.4f}, {e['ci_high'][i]:+.4f}]  "
                         f"{e['num_blocks'][i]} blocks, {mark}{saving}")
    return "\n".join(lines)


__all__ = ["paired_difference", "samples_ratio", "compare_flags", "paired_entry",
           "paired_table"]
