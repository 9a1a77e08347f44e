"""Any sweep: the SNR where each curve's BER or BLER first falls to each target, with gaps.

Interpolation as :func:`kaq_sionna.app.memory_study.snr_at_bler` (linear in SNR, logarithmic in
the error rate, between the grid points around the first crossing); "not reached" with the
curve's last point when it never gets there on the grid. Gaps are to ``--reference`` (default:
the first curve); > 0 dB means the curve needs more SNR. Prints one markdown table per results
file; ``--json FILE`` also writes the tables.

Command, e.g.::

    kaq-sionna report snr-table results/kaq_ablation_coded_4x4_16qam/results.json \\
        --metric bler --targets 0.1 0.01 --reference "admmnet-kaq4 (both)"
"""

from kaq_sionna.app.reports.common import (
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
    """``{path: {"snr_type", "reference", "curves": {label: row}}}`` where a row holds, per
    target ``t``, the SNR ``"<t>"`` and the gap ``"gap_<t>"`` (dB or `None`), and ``"last"``
    (the curve's last point ``[snr_db, value]`` or `None`)."""
    out = {}
    for path in paths:
        doc = load_sweep(path)
        rows, ref = crossing_table(doc, metric, targets, reference)
        curves = {}
        for label, cells, last in rows:
            row = {f"{t:g}": snr for t, (snr, _) in zip(targets, cells, strict=True)}
            row["last"] = list(last) if last else None
            row.update({f"gap_{t:g}": g for t, (_, g) in zip(targets, cells, strict=True)})
            curves[label] = row
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
            parts = []
            for x in targets:
                snr, gap = row[f"{x:g}"], row[f"gap_{x:g}"]
                if snr is None:
                    last = row["last"]
                    parts += [f"not reached ({last[1]:.3g} at {last[0]:g} dB)", "-"]
                else:
                    parts += [f"{snr:.2f} dB", "-" if gap is None else f"{gap:+.2f} dB"]
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
