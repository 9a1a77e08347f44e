"""Realistic links (docs/links.md): Eb/N0 at BLER 1e-1 per OFDM/PUSCH scenario, BLER figure.

Reads the sweeps ``<results>/<scenario>/results.json`` of the OFDM/CDL, PUSCH and robustness
scenarios of :data:`SCENARIOS` and writes to ``<out>`` (default ``<results>/links``)

* ``summary.json``: per scenario and curve the Eb/N0 where BLER first falls to 1e-1
  (:func:`kaq_sionna.app.stats.crossing`: a value only between two points with block errors
  around the target, otherwise a bound) and the gap to LMMSE (estimate and the interval from
  the points' 95 % Clopper-Pearson intervals), with the curve's points;
* ``bler.png``: one panel per scenario;

and prints the two tables (markdown; "<= x": BLER falls from above 1e-1 to zero block errors at
x; "> x (b)": BLER b at the last grid point x).

Command::

    kaq-sionna report links
"""

from pathlib import Path

from kaq_sionna.app.reports.common import (
    curve_crossing,
    display_path,
    fmt_gap,
    fmt_snr,
    gap,
    load_sweep,
    pyplot,
    save_figure,
    write_summary,
)

NAME = "links"
SCENARIOS = (
    ("ofdm_cdl_c_4x4_16qam", "OFDM CDL-C, LS"),
    ("ofdm_cdl_c_4x4_16qam_perfect", "OFDM CDL-C, perfect"),
    ("ofdm_cdl_a_4x4_16qam", "OFDM CDL-A, LS"),
    ("ofdm_cdl_a_4x4_16qam_perfect", "OFDM CDL-A, perfect"),
    ("pusch_cdl_b", "PUSCH CDL-B, LS"),
    ("pusch_cdl_b_perfect", "PUSCH CDL-B, perfect"),
    ("robustness_cdl_c", "robustness: CDL-C, LS"),
    ("robustness_cdl_a", "robustness: CDL-A, LS"),
)
TARGET = 0.1
REFERENCE = "lmmse"


def add_arguments(parser):
    parser.add_argument("--results", default="results",
                        help="directory holding the sweeps (default: results)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: <results>/links)")


def summarize(results="results"):
    """``{scenario: {title, command, curves: {label: {snr_db, bler, num_blocks,
    snr_at_bler_1e-1, gap_to_lmmse_1e-1}}}}`` of the sweeps under ``results`` (crossing and gap
    as the dicts of :class:`~kaq_sionna.app.stats.Crossing` and :class:`~kaq_sionna.app.stats.Gap`;
    gap `None` without an LMMSE curve)."""
    summary = {}
    for name, title in SCENARIOS:
        doc = load_sweep(Path(results) / name / "results.json")
        found = {(c.get("label") or c["detector"]): curve_crossing(c, "bler", TARGET)
                 for c in doc["curves"]}
        ref = found.get(REFERENCE)
        curves = {}
        for c in doc["curves"]:
            label = c.get("label") or c["detector"]
            g = None if ref is None else gap(found[label], ref)
            curves[label] = {"snr_db": c["snr_db"], "bler": c["bler"],
                             "block_errors": c["block_errors"], "num_blocks": c["num_blocks"],
                             "snr_at_bler_1e-1": found[label].as_dict(),
                             "gap_to_lmmse_1e-1": None if g is None else g.as_dict()}
        summary[name] = {"title": title, "command": f"kaq-sionna run scenarios/{name}.toml",
                         "curves": curves}
    return summary


def _cell(curve):
    if not curve["snr_db"]:
        return "running"
    c = curve["snr_at_bler_1e-1"]
    if c["kind"] == "lower":
        return f"> {c['low']:g} ({curve['bler'][-1]:.2f})"
    return fmt_snr(c, digits=1)


def _gap_cell(curve):
    if not curve["snr_db"]:
        return "running"
    return fmt_gap(curve["gap_to_lmmse_1e-1"], digits=1, unit="")


def table(scenarios, gaps=False):
    """The markdown table: a row per curve label, a column per scenario; Eb/N0 at BLER 1e-1,
    or (``gaps``) the gap to LMMSE there."""
    labels = []
    for s in scenarios.values():
        labels += [lab for lab in s["curves"] if lab not in labels]
    names = list(scenarios)
    cell = _gap_cell if gaps else _cell
    lines = ["| detector | " + " | ".join(scenarios[n]["title"] for n in names) + " |",
             "| --- |" + " --- |" * len(names)]
    for lab in labels:
        cells = [cell(scenarios[n]["curves"][lab]) if lab in scenarios[n]["curves"] else "-"
                 for n in names]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tables(scenarios):
    """Both tables with their headings, as printed."""
    return "\n".join([
        "Eb/N0 [dB] at BLER 1e-1 (\"<= x\": falls to zero block errors at x; \"> x (b)\": "
        "BLER b at the last grid point x)", "", table(scenarios), "",
        "Gap to LMMSE [dB] at BLER 1e-1 (> 0: needs more SNR than LMMSE; [low, high]: from the "
        "95 % Clopper-Pearson intervals of the points)", "", table(scenarios, gaps=True)])


def plot(scenarios):
    plt = pyplot()
    n = len(scenarios)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    for ax, s in zip(axes.flat, scenarios.values(), strict=False):
        for lab, c in s["curves"].items():
            ax.semilogy(c["snr_db"], [max(b, 1e-4) for b in c["bler"]], "o-", ms=3, label=lab)
        ax.set_title(s["title"], fontsize=10)
        ax.set_xlabel("Eb/N0 [dB]")
        ax.set_ylabel("BLER")
        ax.set_ylim(1e-3, 1.05)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig


def run(args, provenance):
    out = Path(args.out) if args.out else Path(args.results) / "links"
    scenarios = summarize(args.results)
    write_summary(out / "summary.json", {"scenarios": scenarios}, provenance, indent=1)
    figure = save_figure(plot(scenarios), out / "bler.png", dpi=110)
    print(tables(scenarios))
    print(f"\nwrote {display_path(out / 'summary.json')}, {display_path(figure)}")
    return 0
