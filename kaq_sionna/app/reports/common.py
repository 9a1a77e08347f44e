"""Helpers shared by the reports: reading committed results, SNR-at-target tables, writing
summaries (atomically, with the command and the commit) and figures.

Every report reads files under a results directory (``--results``, default ``results``) and
writes under an output directory; a file it needs and cannot read is a :class:`ReportError`
naming the file, what was expected there and how to produce it.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from kaq_sionna.app.memory_study import snr_at_bler
from kaq_sionna.app.results import figure_png, validate_results
from kaq_sionna.app.stats import curve_crossing, fmt_gap, fmt_snr, gap
from kaq_sionna.core.atomic_io import atomic_write_bytes, atomic_write_text
from kaq_sionna.core.params import SpecError
from kaq_sionna.core.provenance import git_commit

__all__ = ["ReportError", "Provenance", "display_path", "load_json", "load_sweep",
           "crossing_table", "crossing_row", "crossing_cells", "snr_at_bler", "write_summary",
           "save_figure", "pyplot", "curve_crossing", "gap", "fmt_snr", "fmt_gap"]


class ReportError(SpecError):
    """A report cannot run on its input: names the file, what was expected and what was found."""


@dataclass(frozen=True)
class Provenance:
    """What made a report's outputs: the exact CLI ``command`` and the git ``commit`` of the
    code, taken before the report writes anything."""

    command: str
    commit: str = None

    @classmethod
    def now(cls, command):
        return cls(command, git_commit())


def display_path(path):
    """``path`` relative to the working directory when it lies below it (as the docs cite
    files: ``results/<name>/results.json``), otherwise as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_json(path, expected):
    """The parsed JSON file at ``path``.

    Raises
    ------
    ReportError
        If the file is missing or is not valid JSON; ``expected`` says what the file should be
        and how it is made (e.g. ``"the sweep of kaq-sionna run scenarios/x.toml"``).
    """
    path = Path(path)
    if not path.is_file():
        raise ReportError("file", expected, "no such file", display_path(path))
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError("JSON syntax", f"valid JSON ({expected})", str(err),
                          display_path(path)) from None


def load_sweep(path):
    """The ``results.json`` of a ``kaq-sionna run`` at ``path``, its structure checked.

    ``path`` may also be the sweep's directory. The error for a missing file names the
    scenario to run (``scenarios/<directory name>.toml``).
    """
    path = Path(path)
    if path.is_dir() or path.suffix != ".json":
        path = path / "results.json"
    scenario = f"scenarios/{path.parent.name}.toml"
    doc = load_json(path, f"a results.json written by `kaq-sionna run {scenario}`")
    try:
        validate_results(doc)
    except ValueError as err:
        raise ReportError("structure", "a results.json of schema_version 1", str(err),
                          display_path(path)) from None
    return doc


def crossing_table(doc, metric, targets, reference=None):
    """SNR where each curve of a sweep first falls to each target, and the gaps to a reference.

    Crossings by :func:`kaq_sionna.app.stats.crossing` (interpolated only between two points
    with errors around the target, otherwise a bound), gaps by :func:`kaq_sionna.app.stats.gap`
    (an interval from the points' confidence intervals).

    Input
    -----
    doc : dict
        A results.json document.
    metric : "ber" | "bler"
    targets : list of float
    reference : str or None
        Label of the reference curve (default, or when no curve has that label: the first).

    Output
    ------
    rows : list of (str, list of (Crossing, Gap | None), (float, float) | None)
        Per curve: label, per target the crossing and the gap to the reference (> 0 means more
        SNR than the reference; `None` for an empty curve), and the curve's last point
        ``(snr_db, value)``.
    reference : str or None
        The label gaps are taken to.
    """
    rows = []
    for c in doc["curves"]:
        rows.append((c["label"], [curve_crossing(c, metric, t) for t in targets],
                     (c["snr_db"][-1], c[metric][-1]) if c["snr_db"] else None))
    ref = next((r for r in rows if r[0] == reference), rows[0] if rows else None)
    out = []
    for label, snrs, last in rows:
        gaps = [gap(s, r) for s, r in zip(snrs, ref[1], strict=True)]
        out.append((label, list(zip(snrs, gaps, strict=True)), last))
    return out, ref[0] if ref else None


def crossing_row(cells, last, targets):
    """A crossing-table row as summary JSON: per target ``t`` the crossing ``"<t>"`` and the
    gap ``"gap_<t>"`` (dicts of :meth:`~kaq_sionna.app.stats.Crossing.as_dict` /
    :meth:`~kaq_sionna.app.stats.Gap.as_dict`, gap `None` if unknown), and ``"last"``."""
    row = {f"{t:g}": c.as_dict() for t, (c, _) in zip(targets, cells, strict=True)}
    row["last"] = list(last) if last else None
    row.update({f"gap_{t:g}": None if g is None else g.as_dict()
                for t, (_, g) in zip(targets, cells, strict=True)})
    return row


def crossing_cells(row, targets):
    """The markdown cells (SNR, gap) per target of a :func:`crossing_row`; a curve still above
    the target at its last grid point shows that point's value."""
    cells = []
    for t in targets:
        c, g = row[f"{t:g}"], row[f"gap_{t:g}"]
        text = fmt_snr(c, unit=" dB")
        last = row["last"]
        if c["kind"] == "lower" and last:
            text += f" ({last[1]:.3g} at {last[0]:g} dB)"
        cells += [text, fmt_gap(g)]
    return cells


def write_summary(path, summary, provenance, indent=2):
    """Writes a summary JSON atomically, led by ``command`` (the exact CLI command) and
    ``commit`` (:func:`kaq_sionna.core.provenance.git_commit`) of ``provenance`` (a
    :class:`Provenance`). Returns the document."""
    doc = {"command": provenance.command, "commit": provenance.commit, **summary}
    atomic_write_text(path, json.dumps(doc, indent=indent) + "\n")
    return doc


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # keep a notebook's inline backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=120):
    """Writes a matplotlib figure to ``path`` as PNG, atomically, and closes it."""
    atomic_write_bytes(path, figure_png(fig, dpi=dpi))
    return Path(path)
