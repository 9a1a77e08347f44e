"""EQ-Net reproduction (docs/eqnet.md): SNR-at-BLER tables, Fig. 6 and Fig. 10, claims numbers.

Reads the sweeps ``<results>/eqnet_fig{5,7,8,9,10,11_12}_*/results.json`` (:data:`SCENARIOS`),
the Fig. 4 CSI study ``<results>/eqnet_fig4_csi_2x2_64qam/results.json``
(:mod:`~kaq_sionna.app.reports.eqnet_fig4`) and the training histories
``<results>/train/eqnet-l-2x2-64qam-lmmse-inputs/train.json`` (two stages) and
``<results>/train/eqnet-lsingle-2x2-64qam-lmmse-inputs/train.json`` (single stage), and writes
to ``<out>`` (default ``<results>/eqnet``)

* ``summary.json``: per scenario and curve the Eb/N0 where BLER first falls to 1e-1 and 1e-2
  (:func:`kaq_sionna.app.reports.common.crossing_table`: a value only between two points with
  errors, otherwise a bound "<= x" / "> x"), and the gap to the scenario's reference curve (its
  first curve: ML, or MMSE-SIC for Fig. 10) with its interval; the Fig. 4 BLER per detector and CSI error
  variance; the Fig. 6 validation distortions;
* ``fig6_two_stage_vs_single_stage.png``: validation distortion of the estimation path vs
  gradient updates (paper Fig. 6, left);
* ``fig10.png``: the four panels of the paper's Fig. 10 (8x8 to 64x64);

and prints the tables (markdown). A gap > 0 dB means the curve needs more SNR than the
reference.

Command::

    kaq-sionna report eqnet
"""

from pathlib import Path

from kaq_sionna.app.reports import eqnet_fig4
from kaq_sionna.app.reports.common import (
    crossing_cells,
    crossing_row,
    crossing_table,
    display_path,
    load_json,
    load_sweep,
    pyplot,
    save_figure,
    write_summary,
)

NAME = "eqnet"
SCENARIOS = (
    ("eqnet_fig5_2x2_64qam", "Fig. 5: latent dimension, 2x2 64-QAM, ML soft bits"),
    ("eqnet_fig7_4x4_16qam", "Fig. 7: estimation, 4x4 16-QAM"),
    ("eqnet_fig7_4x4_16qam_feature_loss", "Fig. 7 / Sect. 3.3: L1 vs MSE feature loss, 4x4 16-QAM"),
    ("eqnet_fig8_2x2_64qam", "Fig. 8: estimation, 2x2 64-QAM (+ Fig. 6 right: single stage)"),
    ("eqnet_fig9_2x2_64qam", "Fig. 9: quantization of ML soft bits, 2x2 64-QAM"),
    ("eqnet_fig10_8x8_16qam", "Fig. 10a: quantization of MMSE-SIC soft bits, 8x8 16-QAM"),
    ("eqnet_fig10_16x16_16qam", "Fig. 10b: quantization of MMSE-SIC soft bits, 16x16 16-QAM"),
    ("eqnet_fig10_32x32_16qam", "Fig. 10c: LMMSE soft bits, 32x32 16-QAM, 16x16 model by blocks"),
    ("eqnet_fig10_64x64_16qam", "Fig. 10d: LMMSE soft bits, 64x64 16-QAM, 16x16 model by blocks"),
    ("eqnet_fig9_2x2_64qam_cyclic", "Fig. 9 with every codeword over all streams"),
    ("eqnet_fig10_8x8_16qam_cyclic", "Fig. 10a with every codeword over all streams"),
    ("eqnet_fig10_16x16_16qam_cyclic", "Fig. 10b with every codeword over all streams"),
    ("eqnet_fig10_32x32_16qam_cyclic", "Fig. 10c with every codeword over all streams"),
    ("eqnet_fig11_12_cdl_a_2x2_64qam", "Figs. 11-12: Rayleigh-trained, tested on CDL-A"),
)
FIG10_PANELS = (("eqnet_fig10_8x8_16qam", "Fig. 10a: 8x8, MMSE-SIC soft bits"),
                ("eqnet_fig10_16x16_16qam", "Fig. 10b: 16x16, MMSE-SIC soft bits"),
                ("eqnet_fig10_32x32_16qam", "Fig. 10c: 32x32, LMMSE soft bits"),
                ("eqnet_fig10_64x64_16qam", "Fig. 10d: 64x64, LMMSE soft bits"))
TARGETS = (0.1, 0.01)
FIG6_RUNS = (("two-stage", "eqnet-l-2x2-64qam-lmmse-inputs"),
             ("single-stage", "eqnet-lsingle-2x2-64qam-lmmse-inputs"))
#: Fig. 6: training channel uses of the 2x2 64-QAM data (80 % of 259,200) and batch sizes of
#: the two stages, to count gradient updates.
FIG6_TRAIN_SAMPLES = 207_360
FIG6_BATCH = {1: 1024, 2: 256}


def add_arguments(parser):
    parser.add_argument("--results", default="results",
                        help="directory holding the sweeps and train/ (default: results)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: <results>/eqnet)")


def crossings(doc):
    """Per curve label: the Eb/N0 at each target, the last point, and the gaps to the first
    curve."""
    rows, _ = crossing_table(doc, "bler", TARGETS)
    return {label: crossing_row(cells, last, TARGETS) for label, cells, last in rows}


def fig6_curves(results):
    """Validation distortion of g_Q(f_E) vs gradient updates, both training modes."""
    curves = {}
    for mode, run in FIG6_RUNS:
        path = Path(results) / "train" / run / "train.json"
        doc = load_json(path, f"the training record of `kaq-sionna train` for {run} "
                        "(scenarios/train_*.toml)")
        updates, dist, total = [], [], 0
        for e in doc["history"]:
            total += FIG6_TRAIN_SAMPLES // FIG6_BATCH[1 if e["stage"] == 1 else 2]
            updates.append(total)
            dist.append(e["val_distortion_est"])
        curves[mode] = {"updates": updates, "val_distortion_est": dist,
                        "final": dist[-1] if dist else None,
                        "min": min(dist) if dist else None}
    return curves


def fig6_plot(curves):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, c in curves.items():
        ax.semilogy(c["updates"], c["val_distortion_est"], label=mode)
    ax.set_xlabel("gradient updates")
    ax.set_ylabel("validation distortion (eq. 15) of g_Q(f_E)")
    ax.set_title("EQ-Net Fig. 6 (left): 2x2 64-QAM, LMMSE inputs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def fig10_plot(docs):
    """The paper's Fig. 10 as one figure: coded BLER of each ``eqnet_fig10_*`` sweep, a panel
    per system size (``docs``: scenario name -> results document)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(FIG10_PANELS), figsize=(4.2 * len(FIG10_PANELS), 3.8),
                             squeeze=False)
    for ax, (name, title) in zip(axes[0], FIG10_PANELS, strict=True):
        for c in docs[name]["curves"]:
            pts = [(x, y) for x, y in zip(c["snr_db"], c["bler"], strict=True) if y > 0]
            if pts:
                ax.semilogy(*zip(*pts, strict=True), marker="o", ms=3, label=c["label"])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("Eb/N0 [dB]")
        ax.set_ylim(1e-3, 1.05)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("BLER")
    return fig


def summarize(results="results"):
    """The summary document (without command and commit) and the sweeps it was made from
    (scenario name -> results document)."""
    docs = {name: load_sweep(Path(results) / name / "results.json") for name, _ in SCENARIOS}
    summary = {"scenarios": {}}
    for name, title in SCENARIOS:
        summary["scenarios"][name] = {"title": title, "complete": docs[name].get("complete"),
                                      "curves": crossings(docs[name])}
    fig4_path = Path(results) / eqnet_fig4.SCENARIO / "results.json"
    summary["fig4"] = eqnet_fig4.summarize(load_sweep(fig4_path), display_path(fig4_path))
    summary["fig6"] = fig6_curves(results)
    return summary, docs


def tables(summary):
    """The per-scenario markdown tables and the Fig. 6 lines, as text."""
    lines = []
    for name, entry in summary["scenarios"].items():
        table = entry["curves"]
        ref = next(iter(table))
        lines += [f"### {entry['title']} ({name}; gaps to {ref})", "",
                  "| curve | Eb/N0 @ BLER 1e-1 | gap | Eb/N0 @ BLER 1e-2 | gap |",
                  "| --- | --- | --- | --- | --- |"]
        for label, row in table.items():
            cells = crossing_cells(row, TARGETS)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    for mode, c in summary["fig6"].items():
        lines.append(f"Fig. 6 {mode}: final validation distortion {c['final']:.3f}, "
                     f"minimum {c['min']:.3f}, {c['updates'][-1]} updates")
    return "\n".join(lines)


def run(args, provenance):
    out = Path(args.out) if args.out else Path(args.results) / "eqnet"
    summary, docs = summarize(args.results)
    figures = [save_figure(fig6_plot(summary["fig6"]),
                           out / "fig6_two_stage_vs_single_stage.png"),
               save_figure(fig10_plot(docs), out / "fig10.png")]
    write_summary(out / "summary.json", summary, provenance)
    print(tables(summary))
    print("\nwrote " + ", ".join(display_path(p) for p in (out / "summary.json", *figures)))
    return 0
