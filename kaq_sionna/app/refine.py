r"""Adaptive refinement of a sweep: SNR points added after the grid where a curve's crossing of a
target BLER is unresolved.

A scenario asks for it with ``[sweep] refine = {target_bler = 1e-2, width_db = 0.25,
max_points = 6}`` (default: no refinement, and the scenario's fingerprint is unchanged). After
every curve has finished its grid, each curve whose BLER crossing of ``target_bler``
(:func:`kaq_sionna.app.stats.curve_crossing`) is only a bound *inside* the grid - the curve falls
from above the target at ``s0`` straight to a point without any block error at ``s1``, so the
crossing is somewhere in ``(s0, s1]`` - gets a point at the middle of that bracket. This repeats
until

* the crossing is a value (the new point has errors and brackets the target with a neighbour:
  :mod:`~kaq_sionna.app.stats` then interpolates between two measured points), or
* the bracket ``(s0, s1]`` is at most ``width_db`` wide, or
* ``max_points`` points have been added to the curve.

Curves with a value crossing, a curve already at or below the target at its first point and a
curve above it on the whole grid get no point: refinement narrows brackets inside the grid, it
does not extend the grid.

An added point is an ordinary point of the curve (same stopping rules and fields, inserted in
SNR order); its ``status`` ends with ``"| added by refinement"`` and the curve lists the SNRs it
added in ``"added_snr_db"``. The ``k``-th point added to a curve is seeded like grid point
``len(grid) + k`` (:mod:`kaq_sionna.app.units`), so that a refined run is
reproducible and resumes where it stopped: the next point only depends on the points already
in results.json.

Not available with ``[harq]`` (the sweep's stopping rule counts another round than the residual
BLER).
"""

import bisect

from kaq_sionna.app.stats import curve_crossing
from kaq_sionna.core.params import REQUIRED, Param, SpecError, check_params

REFINE_KEYS = (
    Param("target_bler", float, REQUIRED, "BLER whose crossing is refined", min=0.0, max=1.0,
          min_exclusive=True),
    Param("width_db", float, 0.25, "stop when the bracket of the crossing is at most this wide "
          "[dB]", min=0.0, min_exclusive=True),
    Param("max_points", int, 6, "points added to one curve at most", min=1),
)

ADDED = "added by refinement"


def validate_refine(table, harq=False):
    """The ``[sweep] refine`` rule with defaults, or ``{}`` (no refinement) for ``None`` / ``{}``.

    Raises
    ------
    SpecError
        Naming the key, what was expected and what was found.
    """
    if table is None or table == {}:
        return {}
    if not isinstance(table, dict):
        raise SpecError("[sweep] refine", "a table such as {target_bler = 1e-2, width_db = 0.25, "
                        "max_points = 6}", repr(table))
    if harq:
        raise SpecError("[sweep] refine", "no refinement in a [harq] scenario", repr(table))
    return check_params(REFINE_KEYS, table, "[sweep] refine")


def next_point(curve, rule):
    """The SNR to add to ``curve`` (a results.json curve), or `None` if its crossing of
    ``rule["target_bler"]`` is resolved, outside the grid, narrower than ``rule["width_db"]``
    or the curve has ``rule["max_points"]`` added points."""
    if len(curve.get("added_snr_db", [])) >= rule["max_points"]:
        return None
    c = curve_crossing(curve, "bler", rule["target_bler"])
    if c.kind != "upper" or c.low is None or c.high - c.low <= rule["width_db"] + 1e-9:
        return None
    snr = round((c.low + c.high) / 2, 4)
    return None if snr in curve["snr_db"] else snr


def insert_point(curve, snr, counts, seconds, status):
    """Inserts a simulated point into ``curve`` in SNR order (every field of
    :data:`kaq_sionna.app.results.CURVE_FIELDS`) and lists its SNR in ``"added_snr_db"``."""
    i = bisect.bisect_left(sorted(curve["snr_db"]), snr)
    order = sorted(range(len(curve["snr_db"])), key=lambda j: curve["snr_db"][j])
    at = order[i] if i < len(order) else len(curve["snr_db"])
    nb, nbl = max(counts["num_bits"], 1), max(counts["num_blocks"], 1)
    values = {"snr_db": snr, "ber": counts["bit_errors"] / nb,
              "bler": counts["block_errors"] / nbl, "seconds": round(seconds, 3),
              "status": f"{status} | {ADDED}",
              **{k: counts[k] for k in ("bit_errors", "num_bits", "block_errors", "num_blocks")}}
    for f, v in values.items():
        curve[f].insert(at, v)
    curve.setdefault("added_snr_db", []).append(snr)


def refine_sweep(scenario, doc, settings, progress, engine):
    """Adds the points of the ``[sweep] refine`` rule of ``scenario`` to the finished curves of
    ``doc``, writing the results after every point. ``engine`` is the
    :class:`kaq_sionna.app.engine.SweepEngine` of the run (not imported here, which would be an
    import cycle): it simulates each added point on the run's executor, seeded like grid point
    ``len(grid) + k``."""
    rule = scenario.sweep.get("refine") or {}
    if not rule or scenario.harq is not None:
        return doc
    grid_len = len(settings["snr_db"])
    for index, (entry, curve) in enumerate(zip(scenario.runs, doc["curves"], strict=True)):
        if not curve["done"]:
            continue
        shown = False
        while (snr := next_point(curve, rule)) is not None:
            if not shown:
                progress.header(f"{entry.label}: refining the crossing of BLER "
                                f"{rule['target_bler']:g}", index + 1, len(scenario.runs))
                shown = True
            doc["complete"] = False
            tally = engine.simulate_added_point(
                index, snr, grid_len + len(curve.get("added_snr_db", [])), insert_point)
            c = tally.counts
            progress.row(snr, c["bit_errors"], c["num_bits"], c["block_errors"],
                         c["num_blocks"], tally.seconds, f"{tally.status} | {ADDED}", final=True)
            engine.write()
    return doc


__all__ = ["REFINE_KEYS", "validate_refine", "next_point", "insert_point", "refine_sweep",
           "ADDED"]
