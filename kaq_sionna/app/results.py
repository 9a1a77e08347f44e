"""``results.json`` (versioned schema), CSV and plot of a sweep, written atomically.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "scenario": {...validated scenario, see kaq_sionna.app.scenario...},
      "scenario_file": "scenarios/quickstart.toml",
      "fingerprint": "16 hex digits of the scenario's hash",
      "quick": false,
      "command": "kaq-sionna run scenarios/quickstart.toml",
      "versions": {"kaq_sionna": ..., "sionna": ..., "tensorflow": ..., "numpy": ..., "python": ...},
      "commit": "git commit of the code, or null",
      "machine": {"platform": ..., "cpu_count": ...},
      "seed": 42,
      "snr_type": "ebno",
      "complete": true,
      "external_detectors": {"MF": {"kind": "plugin", "module": "mydet", "file": ...,
                                    "sha256": ..., "version": ...}},   (only if any)
      "curves": [
        {"detector": "kbest", "label": "kbest", "params": {...}, "done": true,
         "snr_db": [...], "ber": [...], "bler": [...], "bit_errors": [...], "num_bits": [...],
         "block_errors": [...], "num_blocks": [...], "seconds": [...], "status": [...]}
      ]
    }

Every curve also carries the 95 % Clopper-Pearson interval of each point's BER and BLER
(:data:`CI_FIELDS`: ``ber_ci_low``, ``ber_ci_high``, ``bler_ci_low``, ``bler_ci_high``;
a point without errors has the one-sided upper bound and 0, see docs/conventions.md), computed
from the counts whenever the file is written (:func:`add_intervals`; files written before they
existed get them on read with the same function). They are derived data, not part of the
scenario or its fingerprint.

A curve holds only finished SNR points; ``done`` says whether the detector's
sweep ended (all points, or early stop after an error-free point).

With a ``[harq]`` section there is one curve per detector and storage scheme
(``"storage": "uniform4"``); ``ber``/``bler``/``bit_errors``/``block_errors``
count what is still wrong after the last round each codeword needed (residual
errors), ``num_blocks`` counts codewords (HARQ processes), and every point adds
the fields of :data:`HARQ_FIELDS`: ``bler_per_round`` and
``block_errors_per_round`` (lists of ``max_transmissions`` values: codewords
still failing after round r), ``mean_transmissions``, ``goodput`` (information
bits delivered per stream channel use), ``stored_bits_mean`` and
``stored_bits_max`` (peak soft-buffer occupancy per codeword, exact bits) and
``storage_params`` (the quantizer's fitted parameters at that point, e.g.
``{"clip": 9.3}``, or ``{}``).

With a ``[sweep.link_axis]`` (``"scenario": {"sweep": {"link_axis": {"csi_error_var":
[0.0, 0.01]}}}``) there is one curve per detector (and storage scheme) and value, in this
order of nesting; each such curve adds ``"link_axis": {"name": "csi_error_var", "value": 0.01}``
and ``"series"`` (its label without the value, e.g. ``"ML"``; the label is
``"ML, csi_error_var=0.01"``). The CSV then has a column named after the parameter, and the
plot shows BER and BLER against the parameter (one line per series) when the SNR grid has one
point, else against SNR with one line per curve.
"""

import csv
import io
import json
import math
import os
import platform
import sys
from pathlib import Path

from kaq_sionna.core.atomic_io import atomic_write_bytes, atomic_write_text  # noqa: F401  (re-exported)
from kaq_sionna.core.provenance import git_commit, versions  # noqa: F401  (re-exported)

SCHEMA_VERSION = 1
CURVE_FIELDS = ("snr_db", "ber", "bler", "bit_errors", "num_bits", "block_errors",
                "num_blocks", "seconds", "status")
CI_FIELDS = ("ber_ci_low", "ber_ci_high", "bler_ci_low", "bler_ci_high")
HARQ_FIELDS = ("bler_per_round", "block_errors_per_round", "mean_transmissions", "goodput",
               "stored_bits_mean", "stored_bits_max", "storage_params")


def new_results(scenario, quick, command):
    """An empty results document for ``scenario`` (one empty curve per detector)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": scenario.as_dict(),
        "scenario_file": scenario.path,
        "fingerprint": scenario.fingerprint,
        "quick": bool(quick),
        "command": command,
        "versions": versions(),
        "commit": git_commit(),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "seed": scenario.seed,
        "snr_type": scenario.sweep["snr_type"],
        "complete": False,
        "curves": [_new_curve(run, scenario.harq is not None) for run in scenario.runs],
        **_external(scenario),
    }


def _external(scenario):
    """``{"external_detectors": {...}}`` for a scenario with plugins or models by path (see
    :func:`kaq_sionna.app.scenario.external_detectors`), else ``{}``."""
    from kaq_sionna.app.scenario import external_detectors

    found = external_detectors(scenario)
    return {"external_detectors": found} if found else {}


def _new_curve(run, harq):
    d = run.detector
    curve = {"detector": d.name, "label": run.label, "params": d.params, "done": False,
             **{f: [] for f in CURVE_FIELDS}}
    if harq:
        curve["storage"] = run.storage
        curve.update({f: [] for f in HARQ_FIELDS})
    if run.axis is not None:
        curve["link_axis"] = {"name": run.axis[0], "value": run.axis[1]}
        curve["series"] = run.series
    return curve


def append_point(curve, snr, counts, seconds, status):
    """Appends one finished SNR point (its counts, run time and stopping status) to a curve."""
    nb, nbl = max(counts["num_bits"], 1), max(counts["num_blocks"], 1)
    curve["snr_db"].append(snr)
    curve["ber"].append(counts["bit_errors"] / nb)
    curve["bler"].append(counts["block_errors"] / nbl)
    for key in ("bit_errors", "num_bits", "block_errors", "num_blocks"):
        curve[key].append(counts[key])
    curve["seconds"].append(round(seconds, 3))
    curve["status"].append(status)


def axis_name(doc):
    """The ``[link]`` key of a results document's link axis, or `None`."""
    return next((c["link_axis"]["name"] for c in doc["curves"] if "link_axis" in c), None)


def curve_fields(curve):
    """The per-point fields of ``curve`` (with the HARQ ones if it has them)."""
    return CURVE_FIELDS + (HARQ_FIELDS if "storage" in curve else ())


def load_results(path):
    """A results document, with the confidence intervals (:func:`add_intervals`) of files
    written before they existed."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if isinstance(doc, dict) and isinstance(doc.get("curves"), list) and not all(
            "bler_ci_low" in c for c in doc["curves"]):
        try:
            add_intervals(doc)
        except (KeyError, TypeError, ValueError):
            pass  # malformed: validate_results names the problem
    return doc


def validate_results(doc):
    """Checks the structure of a results document; raises ``ValueError`` naming the problem."""
    for key in ("schema_version", "scenario", "versions", "commit", "seed", "curves"):
        if key not in doc:
            raise ValueError(f"results.json: missing key {key!r}")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"results.json: schema_version {doc['schema_version']}, "
                         f"expected {SCHEMA_VERSION}")
    for curve in doc["curves"]:
        missing = [f for f in curve_fields(curve) if f not in curve]
        if missing:
            raise ValueError(f"results.json: curve {curve.get('label')!r} lacks {missing}")
        lengths = {f: len(curve[f]) for f in curve_fields(curve)}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"results.json: curve {curve['label']!r} has fields of different "
                             f"lengths {lengths}")


def add_intervals(doc):
    """Adds (or refreshes) the :data:`CI_FIELDS` of every curve of a results document from its
    counts (:func:`kaq_sionna.app.stats.rate_ci`); returns ``doc``."""
    from kaq_sionna.app.stats import CI_LEVEL, COUNTS, rate_ci

    for curve in doc["curves"]:
        for metric, (errors, trials) in COUNTS.items():
            lows, highs = rate_ci(curve[errors], curve[trials])
            curve[f"{metric}_ci_low"] = [float(f"{v:.6g}") for v in lows]
            curve[f"{metric}_ci_high"] = [float(f"{v:.6g}") for v in highs]
    doc["ci_level"] = CI_LEVEL
    return doc


def strict_json(doc, indent=2):
    """``doc`` as strict JSON text (RFC 8259: no ``NaN`` / ``Infinity``): a non-finite number
    becomes ``null`` and its place is listed in ``doc["non_finite"]`` (e.g.
    ``"curves[0].storage_params[2].clip"``), so that every JSON reader can read the file and
    nothing is hidden."""
    found = []

    def clean(value, where):
        if isinstance(value, float) and not math.isfinite(value):
            found.append(where)
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    try:
        return json.dumps(doc, indent=indent, allow_nan=False) + "\n"
    except ValueError:
        cleaned = clean(doc, "")
        cleaned["non_finite"] = sorted(set(found) | set(doc.get("non_finite", [])))
        return json.dumps(cleaned, indent=indent, allow_nan=False) + "\n"


def write_all(out_dir, doc, plot=True):
    """Writes results.json (strict JSON, :func:`strict_json`), results.csv and (if ``plot``)
    plot.png into ``out_dir`` (each atomically), after :func:`add_intervals`."""
    out_dir = Path(out_dir)
    add_intervals(doc)
    atomic_write_text(out_dir / "results.json", strict_json(doc))
    atomic_write_text(out_dir / "results.csv", to_csv(doc))
    if plot:
        atomic_write_bytes(out_dir / "plot.png", plot_png(doc))


def to_csv(doc):
    buf = io.StringIO()
    writer = csv.writer(buf)
    harq = any("storage" in c for c in doc["curves"])
    axis = axis_name(doc)
    fields = CURVE_FIELDS + (HARQ_FIELDS if harq else ())
    if all("bler_ci_low" in c for c in doc["curves"]):
        fields += CI_FIELDS
    # snr_type says what snr_db is: "ebno" (Eb/N0) or "esno" (Es/N0), docs/conventions.md
    snr_type = doc.get("snr_type", "ebno")
    writer.writerow(["detector", "label", "snr_type", *(["storage"] if harq else []),
                     *([axis] if axis else []), *fields])
    for curve in doc["curves"]:
        for i in range(len(curve["snr_db"])):
            cells = [_csv_cell(curve[f][i]) for f in fields]
            writer.writerow([curve["detector"], curve["label"], snr_type,
                             *([curve["storage"]] if harq else []),
                             *([_csv_cell(curve["link_axis"]["value"])] if axis else []),
                             *cells])
    return buf.getvalue()


def _csv_cell(value):
    if isinstance(value, list):
        return ";".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


SNR_LABELS = {"ebno": r"$E_b/N_0$ [dB]", "esno": r"$E_s/N_0$ [dB]"}


def plot_png(doc, error_bars=None):
    """BER and BLER vs SNR, log y-axis, one labelled line per detector. Returns PNG bytes.

    ``error_bars`` (default: ``[sweep] error_bars`` of the scenario) draws each point's
    confidence interval (:data:`CI_FIELDS`; a point without errors as a downward arrow from its
    upper bound)."""
    if error_bars is None:
        error_bars = bool(doc["scenario"].get("sweep", {}).get("error_bars", False))
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # keep a notebook's inline backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    link = doc["scenario"]["link"]
    uncoded = link.get("uncoded", False)
    harq = doc["scenario"].get("harq")
    if harq:
        target = harq["target_round"]
        panels = ((_round_bler(target - 1), f"BLER after round {target}", True),
                  (_round_bler(-1), "residual BLER", True),
                  (lambda c: c["goodput"], "goodput [bit / stream channel use]", False))
    else:
        panels = ((lambda c: c["ber"], "BER", True), (lambda c: c["bler"], "BLER", True))
    bars = {"BER": "ber", "BLER": "bler"} if error_bars and not harq else {}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2))
    axis = axis_name(doc)
    against_axis = axis and len({s for c in doc["curves"] for s in c["snr_db"]}) == 1
    if against_axis:
        _plot_against_axis(doc, axis, axes, panels)
    for ax, (values, title, log) in zip(axes, () if against_axis else panels, strict=False):
        for curve in doc["curves"]:
            pts = [(s, v) for s, v in zip(curve["snr_db"], values(curve), strict=True)
                   if v > 0 or not log]
            if pts:
                xs, ys = zip(*pts, strict=True)
                (line,) = (ax.semilogy if log else ax.plot)(xs, ys, "o-", label=curve["label"])
                if title in bars and f"{bars[title]}_ci_low" in curve:
                    _error_bars(ax, curve, bars[title], line.get_color())
        ax.set_xlabel(SNR_LABELS.get(doc.get("snr_type"), "SNR [dB]"))
        ax.set_ylabel(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, f"no {title} > 0 measured", transform=ax.transAxes,
                    ha="center")
    name = doc["scenario"]["scenario"]["name"]
    what = "uncoded" if uncoded else f"LDPC k={link.get('k')} n={link.get('n')}"
    if harq:
        what += (f", HARQ {harq['combining'].upper()} x{harq['max_transmissions']}, "
                 f"{harq['storage_point']} storage")
    if axis:
        what += f", {axis} swept"
    fig.suptitle(f"{name}: {link.get('num_tx')}x{link.get('num_rx')}, "
                 f"{2 ** link.get('num_bits_per_symbol', 0)}-QAM, {link.get('channel')}, {what}"
                 + (" (quick)" if doc.get("quick") else ""))
    return figure_png(fig)


def _error_bars(ax, curve, metric, color):
    """Confidence intervals of a curve's points; a zero-error point: a hollow down-triangle at
    its upper bound."""
    for x, v, lo, hi in zip(curve["snr_db"], curve[metric], curve[f"{metric}_ci_low"],
                            curve[f"{metric}_ci_high"], strict=True):
        if v > 0:
            ax.errorbar([x], [v], yerr=[[v - lo], [hi - v]], color=color, capsize=2, lw=0.8)
        else:
            ax.plot([x], [hi], "v", color=color, ms=4, mfc="none")


def _plot_against_axis(doc, axis, axes, panels):
    """The panels of a one-SNR-point sweep with a link axis: each series (detector, storage)
    against the axis values; a symmetric-log x-axis when the values span decades."""
    series = {}
    for curve in doc["curves"]:
        series.setdefault(curve["series"], []).append(curve)
    values = [c["link_axis"]["value"] for c in doc["curves"]]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    snr = next(s for c in doc["curves"] for s in c["snr_db"])
    for ax, (metric, title, log) in zip(axes, panels, strict=True):
        for label, curves in series.items():
            pts = [(c["link_axis"]["value"], metric(c)[0]) for c in curves if c["snr_db"]]
            pts = [(x, y) for x, y in pts if y > 0 or not log]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            if not numeric:
                xs = [str(x) for x in xs]
            (ax.semilogy if log else ax.plot)(xs, ys, "o-", label=label)
        positive = sorted({v for v in values if numeric and v > 0})
        if positive and positive[-1] > 10 * positive[0]:
            ax.set_xscale("symlog", linthresh=positive[0])
        ax.set_xlabel(f"{axis} ({SNR_LABELS.get(doc.get('snr_type'), 'SNR')} = {snr:g} dB)"
                      .replace(" [dB]", ""))
        ax.set_ylabel(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")


def _round_bler(r):
    return lambda curve: [rounds[r] for rounds in curve["bler_per_round"]]


def figure_png(fig, dpi=110):
    """PNG bytes of a matplotlib figure (laid out tightly); closes the figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
