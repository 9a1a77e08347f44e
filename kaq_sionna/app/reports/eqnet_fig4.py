"""EQ-Net Fig. 4 (docs/eqnet.md): coded BLER vs CSI error variance at one SNR, per detector.

Reads the sweep of ``scenarios/eqnet_fig4_csi_2x2_64qam.toml`` (one Eb/N0 point, a
``[sweep.link_axis]`` over ``csi_error_var``), ``<results>/eqnet_fig4_csi_2x2_64qam/results.json``,
and writes to ``<out>`` (default: that sweep's directory)

* ``summary.json``: per detector the BLER, block errors and blocks at each CSI error variance;
* ``fig4.png``: BLER vs CSI error variance, one line per detector (the leftmost point is
  perfect CSI);

and prints the BLER table (markdown). The sweep itself::

    nice -n 10 kaq-sionna run scenarios/eqnet_fig4_csi_2x2_64qam.toml

Command::

    kaq-sionna report eqnet-fig4
"""

from pathlib import Path

from kaq_sionna.app.reports.common import (
    ReportError,
    display_path,
    load_sweep,
    pyplot,
    save_figure,
    write_summary,
)

NAME = "eqnet-fig4"
SCENARIO = "eqnet_fig4_csi_2x2_64qam"
AXIS = "csi_error_var"


def add_arguments(parser):
    parser.add_argument("--results", default="results",
                        help="directory holding the sweep (default: results)")
    parser.add_argument("--out", default=None,
                        help=f"output directory (default: <results>/{SCENARIO})")


def summarize(doc, source):
    """BLER, block errors and blocks per detector and CSI error variance of the sweep ``doc``
    (read from ``source``, recorded as such).

    Raises
    ------
    ReportError
        If the sweep has no link axis over ``csi_error_var`` or more than one SNR point.
    """
    axis = doc["scenario"]["sweep"].get("link_axis") or {}
    if AXIS not in axis:
        raise ReportError("[sweep.link_axis]", f"a sweep over {AXIS}",
                          repr(axis) if axis else "no link axis", source)
    grid = sorted({s for c in doc["curves"] for s in c["snr_db"]})
    if len(grid) != 1:
        raise ReportError("[sweep] snr_db", "one simulated SNR point", repr(grid), source)
    variances = axis[AXIS]
    curves = {}
    for curve in doc["curves"]:
        entry = curves.setdefault(curve["series"], {"bler": [None] * len(variances),
                                                    "block_errors": [None] * len(variances),
                                                    "num_blocks": [None] * len(variances)})
        i = variances.index(curve["link_axis"]["value"])
        for key, values in entry.items():
            values[i] = curve[key][0] if curve[key] else None
    return {"source": source, "scenario": doc.get("scenario_file"),
            "run_command": doc.get("command"), "complete": doc.get("complete"),
            "snr_db": grid[0], "variances": list(variances), "curves": curves}


def plot(summary):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    x = [max(v, 3e-4) for v in summary["variances"]]  # 0 drawn at the left edge
    for label, entry in summary["curves"].items():
        ax.loglog(x, [max(b, 1e-4) if b is not None else float("nan") for b in entry["bler"]],
                  "o-", label=label)
    ax.set_xlabel("CSI error variance per entry (leftmost point: perfect CSI)")
    ax.set_ylabel("BLER")
    ax.set_title(f"EQ-Net Fig. 4: 2x2 64-QAM, Eb/N0 = {summary['snr_db']} dB")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def table(summary):
    """BLER per detector (rows) and CSI error variance (columns), markdown."""
    lines = ["| detector | " + " | ".join(f"{v:g}" for v in summary["variances"]) + " |",
             "| --- |" + " --- |" * len(summary["variances"])]
    for label, entry in summary["curves"].items():
        lines.append(f"| {label} | " + " | ".join("-" if b is None else f"{b:.3g}"
                                                 for b in entry["bler"]) + " |")
    return "\n".join(lines)


def run(args, provenance):
    path = Path(args.results) / SCENARIO / "results.json"
    out = Path(args.out) if args.out else path.parent
    summary = summarize(load_sweep(path), display_path(path))
    write_summary(out / "summary.json", summary, provenance)
    figure = save_figure(plot(summary), out / "fig4.png")
    print(f"BLER at Eb/N0 = {summary['snr_db']:g} dB vs CSI error variance\n")
    print(table(summary))
    print(f"\nwrote {display_path(out / 'summary.json')}, {display_path(figure)}")
    return 0
