"""``kaq-sionna reproduce``: re-simulates the scenario a ``results.json`` records and compares the
counts point by point.

The scenario is rebuilt from the record itself (``"scenario"``, checked against its
``"fingerprint"``), not from the scenario file, which may have changed since. The sweep runs into
a temporary folder with the recorded ``--quick`` setting and the same seeds
(:func:`kaq_sionna.app.sweep.point_seed`), so that the same code gives the same counts; with
``points`` only the first ``points`` grid points of each curve are simulated (no refinement).

Each compared point (matched by curve label and SNR) is

* ``identical``: block errors, blocks, bits and bit errors (and, with ``[harq]``, the block
  errors of every round) are equal;
* ``bit errors within N``: everything but the bit errors is equal and these differ by at most
  ``bit_tolerance`` bits. Re-runs from a clean commit give identical block counts but EP and the
  KAQ-quantized detectors can flip the sign of a few LLRs that sit within a float32 rounding
  error of zero, depending on the order of floating-point reductions (results/reruns.md);
* ``different``: anything else, or a recorded point that the re-run did not reach (or the
  reverse).

The report also states what can explain a difference: a recorded commit with ``-dirty`` (the
code is not in git), code (``kaq_sionna/``, ``links/``, ``pyproject.toml``) that differs between
the recorded commit and the checked-out tree, and package versions that differ.
"""

import copy
import io
import subprocess
import tempfile
from pathlib import Path

from kaq_sionna.app.results import load_results, validate_results
from kaq_sionna.app.scenario import parse_scenario
from kaq_sionna.core.provenance import git_commit, versions

#: Folders and files whose changes can change a simulation's counts.
CODE_PATHS = ("kaq_sionna", "links", "pyproject.toml")
#: Default largest bit-error difference reported as "bit errors within N" rather than different.
BIT_TOLERANCE = 10
IDENTICAL, BITS, DIFFERENT = "identical", "bit errors within", "different"


class ReproduceError(Exception):
    """The file is not a results record that can be re-simulated."""


def scenario_from_record(doc):
    """The :class:`~kaq_sionna.app.scenario.Scenario` a results document records (validated as a
    scenario file would be)."""
    rec = copy.deepcopy(doc["scenario"])
    sweep = rec.get("sweep", {})
    quick = {k: v for k, v in sweep.pop("quick", {}).items() if v is not None}
    if not sweep.get("link_axis"):
        sweep.pop("link_axis", None)
    sweep = {k: v for k, v in sweep.items() if not (k == "refine" and not v)}
    data = {"scenario": rec["scenario"], "link": rec["link"], "sweep": {**sweep, "quick": quick},
            "detector": [{"name": d["name"], "label": d["label"], **d["params"]}
                         for d in rec["detector"]]}
    if rec.get("harq") is not None:
        data["harq"] = rec["harq"]
    where = doc.get("scenario_file") or "<results.json>"
    if doc.get("scenario_file"):
        from kaq_sionna.registry import plugins

        plugins.add_search_dir(Path(doc["scenario_file"]).parent)
    return parse_scenario(data, where)


def first_points(scenario, quick, points):
    """``scenario`` with the grid of the (quick) run cut to its first ``points`` values and no
    refinement."""
    raw = copy.deepcopy(scenario.raw)  # re-validated, so that workers read the same scenario
    sweep = raw["sweep"]
    if quick and scenario.quick.get("snr_db") is not None:
        sweep["quick"]["snr_db"] = sweep["quick"]["snr_db"][:points]
    else:
        sweep["snr_db"] = sweep["snr_db"][:points]
    sweep.pop("refine", None)
    return parse_scenario(raw, scenario.path)


def _code_changed(commit):
    """Whether the code (:data:`CODE_PATHS`) of the checked-out tree differs from ``commit``:
    `True`, `False`, or `None` if git cannot tell (unknown commit, no repository)."""
    root = Path(__file__).resolve().parents[2]
    try:
        r = subprocess.run(["git", "diff", "--quiet", commit, "--", *CODE_PATHS], cwd=root,
                           capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: False, 1: True}.get(r.returncode)


def provenance_notes(doc):
    """Sentences on the recorded commit and versions against the checked-out code."""
    notes = []
    recorded = doc.get("commit")
    current = git_commit()
    if not recorded:
        notes.append("the results record no commit: the code that produced them is unknown")
    else:
        sha = recorded.removesuffix("-dirty")
        if recorded.endswith("-dirty"):
            notes.append(f"the recorded commit {recorded} is -dirty: the results were produced "
                         "with uncommitted changes, which are not in git")
        changed = _code_changed(sha)
        if changed is None:
            notes.append(f"git cannot compare the recorded commit {sha[:12]} with the "
                         "checked-out code (commit not in this repository?)")
        elif changed:
            notes.append(f"the checked-out code differs from the recorded commit {sha[:12]} in "
                         + ", ".join(CODE_PATHS))
        else:
            notes.append(f"the checked-out code ({', '.join(CODE_PATHS)}) equals the recorded "
                         f"commit {sha[:12]}")
    if current is None:
        notes.append("the checked-out code is not a git checkout")
    elif current.endswith("-dirty"):
        notes.append(f"the checked-out tree ({current}) has uncommitted changes")
    now = versions()
    rec_versions = doc.get("versions") or {}
    diff = [f"{k} {rec_versions.get(k)} -> {now[k]}" for k in now if rec_versions.get(k) != now[k]]
    if diff:
        notes.append("versions differ: " + ", ".join(diff))
    return notes


def _point_fields(curve):
    fields = ["block_errors", "num_blocks", "num_bits"]
    if "block_errors_per_round" in curve:
        fields.append("block_errors_per_round")
    return fields


def compare_curves(recorded, rerun, bit_tolerance=BIT_TOLERANCE, partial=False):
    """Point-by-point comparison of two results documents of one scenario.

    Input
    -----
    recorded, rerun : dict
        Results documents.
    bit_tolerance : int
        Largest bit-error difference classed ``bit errors within`` (others are ``different``).
    partial : bool
        The re-run simulated only the first points, or the recorded run is incomplete: a point
        that only one side has is not compared.

    Output
    ------
    list of dict
        One per recorded curve: ``label`` and ``points``, a list of ``{"snr_db", "verdict",
        "recorded", "rerun"}`` (the counts; ``None`` for a point one side lacks).
    """
    out = []
    reruns = {c["label"]: c for c in rerun["curves"]}
    for curve in recorded["curves"]:
        other = reruns.get(curve["label"], {"snr_db": []})
        fields = _point_fields(curve) + ["bit_errors"]
        rec = {s: {f: curve[f][i] for f in fields} for i, s in enumerate(curve["snr_db"])}
        new = {s: {f: other[f][i] for f in fields if f in other}
               for i, s in enumerate(other["snr_db"])}
        points = []
        for snr in sorted(set(rec) | set(new)):
            a, b = rec.get(snr), new.get(snr)
            if (a is None or b is None) and partial:
                continue
            if a is None or b is None:
                verdict = DIFFERENT
            elif a == b:
                verdict = IDENTICAL
            elif all(a[f] == b.get(f) for f in fields if f != "bit_errors") and \
                    abs(a["bit_errors"] - b["bit_errors"]) <= bit_tolerance:
                verdict = BITS
            else:
                verdict = DIFFERENT
            points.append({"snr_db": snr, "verdict": verdict, "recorded": a, "rerun": b})
        out.append({"label": curve["label"], "points": points})
    return out


def summarize(curves):
    """``(verdict, text)`` of a comparison: ``identical``, ``bit errors within`` (with the
    largest difference) or ``different``."""
    pts = [p for c in curves for p in c["points"]]
    n_diff = sum(p["verdict"] == DIFFERENT for p in pts)
    bits = [abs(p["recorded"]["bit_errors"] - p["rerun"]["bit_errors"]) for p in pts
            if p["verdict"] == BITS]
    if not pts:
        return DIFFERENT, "no point compared"
    if n_diff:
        return DIFFERENT, f"different: {n_diff} of {len(pts)} points differ"
    if bits:
        return BITS, (f"block counts identical at all {len(pts)} points; bit errors within "
                      f"{max(bits)} at {len(bits)} points (LLR sign flips, see "
                      "results/reruns.md)")
    return IDENTICAL, f"identical: all {len(pts)} points"


def _counts_text(c):
    if c is None:
        return "(no point)"
    return f"{c['block_errors']}/{c['num_blocks']} blocks, {c['bit_errors']}/{c['num_bits']} bits"


def format_report(report):
    """The comparison as text: notes, one line per curve, then every point that is not
    identical."""
    lines = [f"reproduce {report['path']}" + (f" (first {report['points']} points of each "
                                               "curve)" if report["points"] else "")]
    lines += [f"  note: {n}" for n in report["notes"]]
    width = max(12, *(len(c["label"]) + 2 for c in report["curves"]))
    lines.append("")
    lines.append("curve".ljust(width) + f"{'points':>8}{'identical':>11}{'bits only':>11}"
                 f"{'different':>11}")
    for c in report["curves"]:
        v = [p["verdict"] for p in c["points"]]
        lines.append(c["label"].ljust(width) + f"{len(v):>8}{v.count(IDENTICAL):>11}"
                     f"{v.count(BITS):>11}{v.count(DIFFERENT):>11}")
    odd = [(c["label"], p) for c in report["curves"] for p in c["points"]
           if p["verdict"] != IDENTICAL]
    if odd:
        lines.append("")
        for label, p in odd:
            what = p["verdict"]
            if what == BITS:
                what = f"bit errors differ by {abs(p['recorded']['bit_errors'] - p['rerun']['bit_errors'])}"
            lines.append(f"  {label} @ {p['snr_db']:g} dB: {what}: recorded "
                         f"{_counts_text(p['recorded'])}; re-run {_counts_text(p['rerun'])}")
    lines.append("")
    lines.append(f"verdict: {report['summary']}")
    return "\n".join(lines)


def reproduce(path, points=None, out=None, bit_tolerance=BIT_TOLERANCE, stream=None):
    """Re-simulates the scenario of a ``results.json`` and compares the counts.

    Input
    -----
    path : str or Path
        A ``results.json`` (or its folder).
    points : int or None
        Re-simulate only the first ``points`` grid points of each curve.
    out : str, Path or None
        Folder of the re-run (default: a temporary folder, removed afterwards).
    bit_tolerance : int
        See :func:`compare_curves`.
    stream : file or None
        Progress of the re-run (default: discarded).

    Output
    ------
    dict
        ``path``, ``points``, ``notes``, ``curves`` (:func:`compare_curves`), ``verdict`` and
        ``summary`` (:func:`summarize`), ``rerun_commit``.
    """
    from kaq_sionna.app.sweep import run_sweep

    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if path.name == "train.json":
        raise ReproduceError(f"{path}: a training record; re-run its \"command\" to train again "
                             "(reproduce re-simulates sweeps, results/<name>/results.json)")
    try:
        doc = load_results(path)
        validate_results(doc)
    except (OSError, ValueError) as err:
        raise ReproduceError(f"{path}: expected a results.json of a sweep ({err})") from None
    if points is not None and points < 1:
        raise ReproduceError(f"--points: expected a positive integer, found {points}")
    scenario = scenario_from_record(doc)
    notes = provenance_notes(doc)
    if doc.get("fingerprint") and scenario.fingerprint != doc["fingerprint"]:
        notes.append(f"the recorded scenario hashes to {scenario.fingerprint}, not to the "
                     f"recorded fingerprint {doc['fingerprint']} (written by an older schema?)")
    if not doc.get("complete"):
        notes.append("the recorded run is incomplete: only its finished points are compared")
    quick = bool(doc.get("quick"))
    run_scenario = first_points(scenario, quick, points) if points else scenario
    stream = stream or io.StringIO()
    with tempfile.TemporaryDirectory(prefix="kaq-reproduce-") as tmp:
        target = Path(out) if out else Path(tmp)
        rerun = run_sweep(run_scenario, target, quick=quick, restart=True,
                          command=f"kaq-sionna reproduce {path}", stream=stream)
    curves = compare_curves(doc, rerun, bit_tolerance,
                            partial=bool(points) or not doc.get("complete"))
    verdict, summary = summarize(curves)
    return {"path": str(path), "points": points, "notes": notes, "curves": curves,
            "verdict": verdict, "summary": summary, "rerun_commit": rerun.get("commit")}


__all__ = ["reproduce", "compare_curves", "summarize", "format_report", "scenario_from_record",
           "provenance_notes", "ReproduceError", "BIT_TOLERANCE"]
