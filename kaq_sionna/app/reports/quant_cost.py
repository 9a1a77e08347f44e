"""Quantization cost against bit width: each quantizer's SNR penalty to a full-precision reference.

Reads coded-BLER sweeps (one per system size) whose curves are a full-precision reference
(``--reference``, e.g. ``admmnet-fp32snr``, the fair reference of docs/kaq.md section 3d) and
quantized models labelled ``<base>-<method><bits>`` (``method`` one of :data:`METHODS`, e.g.
``admmnet-kaq4``, ``admmnet-qatmse2``). The penalty of a curve at a target BLER is its crossing
minus the reference's (:func:`kaq_sionna.app.stats.gap`; > 0 dB: quantization costs SNR), with
the interval from the points' 95 % Clopper-Pearson intervals; where a crossing is only a bound
(:func:`kaq_sionna.app.stats.crossing`) the penalty is only that interval. Prints a markdown
table, writes ``quant_cost.json`` and the figure ``quant_cost.png`` (penalty vs bit width, one
panel per target) into ``--out``.

Command (docs/kaq.md section 3f)::

    kaq-sionna report quant-cost results/kaq_cost_curve_4x4_16qam results/kaq_cost_curve_16x16_16qam \\
        --reference admmnet-fp32snr --out results/kaq
"""

import re
from pathlib import Path

from kaq_sionna.app.reports.common import (
    ReportError,
    crossing_table,
    display_path,
    load_sweep,
    pyplot,
    save_figure,
    write_summary,
)
from kaq_sionna.app.stats import fmt_gap, fmt_snr

NAME = "quant-cost"

#: Quantizer tags of model names (the naming contract) that the report plots, in plot order.
METHODS = ("kaq", "qatmse")

_LABEL = re.compile(r"-(?P<method>" + "|".join(METHODS) + r")(?P<bits>\d+)(?:-|$)")


def add_arguments(parser):
    parser.add_argument("results", nargs="+", help="results.json files (or their directories), "
                        "one per system size")
    parser.add_argument("--reference", required=True,
                        help="label of the full-precision reference curve in every file")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.1, 0.01],
                        help="target BLERs (default 0.1 0.01)")
    parser.add_argument("--out", default="results/kaq",
                        help="folder of quant_cost.json and quant_cost.png (default results/kaq)")


def parse_label(label):
    """``(method, bits)`` of a curve label such as ``admmnet-kaq4``, or `None`."""
    m = _LABEL.search(label)
    return (m["method"], int(m["bits"])) if m else None


def system_name(doc):
    """``"4x4 16-QAM"`` from a results.json's link section, else the scenario name."""
    link = doc["scenario"].get("link", {})
    if {"num_tx", "num_rx", "num_bits_per_symbol"} <= link.keys():
        order = 2 ** int(link["num_bits_per_symbol"])
        return f"{link['num_tx']}x{link['num_rx']} {order}-QAM"
    return doc["scenario"]["scenario"]["name"]


def cost_rows(path, reference, targets):
    """Penalties of one sweep's quantized curves.

    Output
    ------
    : dict
        ``{"system", "results", "reference": {target: crossing}, "rows": [...]}``, a row
        ``{"label", "method", "bits", "<t>": crossing, "gap_<t>": gap}`` (dicts of
        :meth:`~kaq_sionna.app.stats.Crossing.as_dict` / :meth:`~kaq_sionna.app.stats.Gap.as_dict`).

    Raises
    ------
    ReportError
        If the sweep has no curve labelled ``reference`` or no quantized curve.
    """
    doc = load_sweep(path)
    labels = [c["label"] for c in doc["curves"]]
    if reference not in labels:
        raise ReportError("--reference", f"a curve label of the sweep ({', '.join(labels)})",
                          repr(reference), display_path(path))
    table, _ = crossing_table(doc, "bler", targets, reference)
    rows, ref = [], None
    for label, cells, _last in table:
        if label == reference:
            ref = {f"{t:g}": c.as_dict() for t, (c, _) in zip(targets, cells, strict=True)}
        tag = parse_label(label)
        if tag is None:
            continue
        row = {"label": label, "method": tag[0], "bits": tag[1]}
        for t, (c, g) in zip(targets, cells, strict=True):
            row[f"{t:g}"] = c.as_dict()
            row[f"gap_{t:g}"] = None if g is None else g.as_dict()
        rows.append(row)
    if not rows:
        raise ReportError("curves", "labels with a quantizer tag (-kaq<bits>, -qatmse<bits>)",
                          ", ".join(labels), display_path(path))
    rows.sort(key=lambda r: (METHODS.index(r["method"]), -r["bits"]))
    return {"system": system_name(doc), "results": display_path(path), "reference": ref,
            "rows": rows}


def markdown(systems, reference, targets):
    """One table over all systems: crossing and penalty per target."""
    head = " | ".join(f"Eb/N0 @ BLER {t:g} | penalty" for t in targets)
    lines = [f"| system | quantizer | bits | {head} |",
             "| --- | --- | --- |" + " --- | --- |" * len(targets)]
    for s in systems:
        ref = " | ".join(f"{fmt_snr(s['reference'][f'{t:g}'], unit=' dB')} | -" for t in targets)
        lines.append(f"| {s['system']} | {reference} (reference) | 32 | {ref} |")
        for r in s["rows"]:
            cells = " | ".join(f"{fmt_snr(r[f'{t:g}'], unit=' dB')} | {fmt_gap(r[f'gap_{t:g}'])}"
                               for t in targets)
            lines.append(f"| {s['system']} | {r['method']} | {r['bits']} | {cells} |")
    return "\n".join(lines)


def _draw_gap(ax, x, g, style, top):
    """One penalty: a marker with its interval, or a hollow arrow marker at a bound; a lower
    bound above the plotted range ``top`` is drawn at the top edge. Returns that bound (or
    `None`) so that the caller labels it once per bit width."""
    if g is None:
        return None
    lo, hi, est = g["low"], g["high"], g["estimate"]
    if est is not None:
        err = [[est - lo if lo is not None else 0.0], [hi - est if hi is not None else 0.0]]
        ax.errorbar([x], [est], yerr=err, fmt=style["marker"], color=style["color"], capsize=3)
    elif lo is not None and hi is not None:  # bound crossings on both sides: an interval
        ax.plot([x, x], [lo, hi], color=style["color"], lw=2, alpha=0.6)
    elif lo is not None and lo > top:
        ax.plot([x], [top], "^", mfc="none", color=style["color"], ms=9, clip_on=False)
        return lo
    elif lo is not None:
        ax.plot([x], [lo], "^", mfc="none", color=style["color"], ms=9)
    elif hi is not None:
        ax.plot([x], [hi], "v", mfc="none", color=style["color"], ms=9)
    return None


#: Penalties beyond this many dB are drawn as labelled bounds at the top of the plot.
PLOT_TOP_DB = 2.5


def figure(systems, reference, targets, path):
    """Penalty vs bit width, one panel per target; lines join value penalties."""
    plt = pyplot()
    colors = {"kaq": "tab:blue", "qatmse": "tab:orange"}
    markers = ["o", "s", "D", "P"]
    fig, axes = plt.subplots(1, len(targets), figsize=(5.2 * len(targets), 4.2), squeeze=False)
    for ax, t in zip(axes[0], targets, strict=True):
        off_top = {}  # bit width -> smallest lower bound drawn at the top edge
        for i, s in enumerate(systems):
            for method in METHODS:
                rows = [r for r in s["rows"] if r["method"] == method]
                if not rows:
                    continue
                style = {"color": colors[method], "marker": markers[i % len(markers)]}
                xs = [r["bits"] for r in rows]
                ests = [(r[f"gap_{t:g}"] or {}).get("estimate") for r in rows]
                ax.plot([x for x, e in zip(xs, ests, strict=True) if e is not None],
                        [e for e in ests if e is not None], marker=style["marker"],
                        color=style["color"], ls="-" if i == 0 else "--",
                        label=f"{method} ({s['system']})")
                for x, r in zip(xs, rows, strict=True):
                    bound = _draw_gap(ax, x, r[f"gap_{t:g}"], style, PLOT_TOP_DB)
                    if bound is not None:
                        off_top[x] = min(bound, off_top.get(x, bound))
        for x, bound in off_top.items():
            ax.annotate(f"> {bound:+.1f} dB", (x, PLOT_TOP_DB), textcoords="offset points",
                        xytext=(0, -16), ha="center", fontsize=8)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_ylim(top=PLOT_TOP_DB)
        ax.invert_xaxis()
        ax.set_xlabel("bits per activation")
        ax.set_ylabel(f"Eb/N0 penalty to {reference} [dB]")
        ax.set_title(f"BLER {t:g}")
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Cost of quantization against the fair full-precision reference "
                 "(hollow triangles: bounds)")
    fig.tight_layout()
    save_figure(fig, path)


def run(args, provenance):
    systems = [cost_rows(p, args.reference, args.targets) for p in args.results]
    print(markdown(systems, args.reference, args.targets))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_summary(out / "quant_cost.json", {"reference": args.reference,
                                           "targets": args.targets, "systems": systems},
                  provenance)
    figure(systems, args.reference, args.targets, out / "quant_cost.png")
    print(f"wrote {display_path(out / 'quant_cost.json')}, {display_path(out / 'quant_cost.png')}")
    return 0
