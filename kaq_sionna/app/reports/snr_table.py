"""Any sweep: the SNR where each curve's BER or BLER first falls to each target, with gaps.

Crossings by :func:`kaq_sionna.app.stats.crossing`: interpolated (linear in SNR, logarithmic in
the error rate) only between two points with errors around the target; otherwise a bound,
printed as one: "<= x dB" (the curve falls to zero errors at x, or starts below the target),
"> x dB" (still above the target at the last grid point x, with its value there). Gaps are to
``--reference`` (default: the first curve), > 0 dB means the curve needs more SNR; each carries
an interval from the points' 95 % Clopper-Pearson intervals ("+0.25 [-0.10, +0.61] dB"), or is
only that interval when a crossing is a bound. Prints one markdown table per results
file; ``--json FILE`` also writes the tables.

Command, e.g.::

    kaq-sionna report snr-table results/kaq_ablation_coded_4x4_16qam/results.json \\
        --metric bler --targets 0.1 0.01 --reference "admmnet-kaq4 (both)"
"""

from kaq_sionna.app.reports.common import (
    crossing_cells,
    crossing_row,
    crossing_table,
    display_path,
    load_sweep,
    write_summary,
)

NAME = "snr-table"


def add_arguments(parser):
    parser.add_argument("results", nargs="+", help="results.json files (or their directories) "
                        "of kaq-sionna run")
    parser.add_argument("--metric", choices=("ber", "bler"), default="bler")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument("--reference", help="label of the reference curve (default: first)")
    parser.add_argument("--json", help="also write the tables to this JSON file")


def tables(paths, metric, targets, reference=None):
    """``{path: {"snr_type", "reference", "curves": {label: row}}}``, a row as
    :func:`~kaq_sionna.app.reports.common.crossing_row`."""
    out = {}
    for path in paths:
        doc = load_sweep(path)
        rows, ref = crossing_table(doc, metric, targets, reference)
        curves = {}
        for label, cells, last in rows:
            curves[label] = crossing_row(cells, last, targets)
        out[display_path(path)] = {"snr_type": doc.get("snr_type", "snr"), "reference": ref,
                                   "curves": curves}
    return out


def markdown(tables_, metric, targets):
    """The tables as markdown text."""
    lines = []
    for path, t in tables_.items():
        lines += [f"### {path} ({metric.upper()} vs {t['snr_type']}; gaps to {t['reference']})",
                  "",
                  "| curve | " + " | ".join(f"@ {metric.upper()} {x:g} | gap" for x in targets)
                  + " |",
                  "| --- |" + " --- | --- |" * len(targets)]
        for label, row in t["curves"].items():
            parts = crossing_cells(row, targets)
            lines.append(f"| {label} | " + " | ".join(parts) + " |")
        lines.append("")
    return "\n".join(lines)


def run(args, provenance):
    result = tables(args.results, args.metric, args.targets, args.reference)
    print(markdown(result, args.metric, args.targets))
    if args.json:
        write_summary(args.json, {"metric": args.metric, "targets": args.targets,
                                  "tables": result}, provenance)
        print(f"wrote {display_path(args.json)}")
    return 0
