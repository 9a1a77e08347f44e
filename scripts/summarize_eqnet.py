"""EQ-Net reproduction: SNR-at-BLER tables, the Fig. 6 curves and the claims numbers of docs/eqnet.md.

Reads the committed sweeps ``results/eqnet_fig{5,7,8,9,10,11_12}_*/results.json`` (missing ones
are skipped and reported), the Fig. 4 summary of ``scripts/eqnet_fig4_csi.py`` and the training
histories ``results/train/eqnet-l-2x2-64qam-lmmse-inputs/train.json`` (two stages) and
``results/train/eqnet-lsingle-2x2-64qam-lmmse-inputs/train.json`` (single stage), and writes

* ``results/eqnet/summary.json``: per scenario and curve the Eb/N0 where BLER first falls to
  1e-1 and 1e-2 (interpolated as :func:`kaq_sionna.app.memory_study.snr_at_bler`; `None` when the
  curve does not get there on the grid, with its last BLER), and the gap to the scenario's
  reference curve (its first curve: ML, or MMSE-SIC for Fig. 10);
* ``results/eqnet/fig6_two_stage_vs_single_stage.png``: validation distortion of the
  estimation path vs gradient updates (paper Fig. 6, left);
* ``results/eqnet/fig10.png``: the four panels of the paper's Fig. 10 (8x8 to 64x64) from the
  ``eqnet_fig10_*`` sweeps;

and prints the tables (markdown). A gap > 0 dB means the curve needs more SNR than the reference.

Run from the repository root::

    python scripts/summarize_eqnet.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "eqnet"
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


def crossings(doc):
    """Per curve label: the Eb/N0 at each target, the last point, and the gaps to the first curve
    (:func:`snr_table.table`)."""
    from snr_table import table  # scripts/snr_table.py, beside this script

    rows, _ = table(doc, "bler", TARGETS)
    out = {}
    for label, cells, last in rows:
        row = {f"{t:g}": snr for t, (snr, _) in zip(TARGETS, cells, strict=True)}
        row["last"] = list(last) if last else None
        row.update({f"gap_{t:g}": gap for t, (_, gap) in zip(TARGETS, cells, strict=True)})
        out[label] = row
    return out


def fig6(summary):
    """Validation distortion of g_Q(f_E) vs gradient updates, both training modes."""
    curves = {}
    for mode, run in FIG6_RUNS:
        path = ROOT / "results" / "train" / run / "train.json"
        if not path.is_file():
            print(f"(missing {path.relative_to(ROOT)})")
            continue
        doc = json.loads(path.read_text())
        n_train = 207_360  # 80 % of the 259,200 channel uses of the 2x2 64-QAM data
        updates, dist, total = [], [], 0
        for e in doc["history"]:
            bs = 1024 if e["stage"] == 1 else 256
            total += n_train // bs
            updates.append(total)
            dist.append(e["val_distortion_est"])
        curves[mode] = {"updates": updates, "val_distortion_est": dist,
                        "final": dist[-1] if dist else None,
                        "min": min(dist) if dist else None}
    summary["fig6"] = curves
    if not curves:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, c in curves.items():
        ax.semilogy(c["updates"], c["val_distortion_est"], label=mode)
    ax.set_xlabel("gradient updates")
    ax.set_ylabel("validation distortion (eq. 15) of g_Q(f_E)")
    ax.set_title("EQ-Net Fig. 6 (left): 2x2 64-QAM, LMMSE inputs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = OUT / "fig6_two_stage_vs_single_stage.tmp.png"
    fig.savefig(tmp, dpi=120)
    tmp.replace(OUT / "fig6_two_stage_vs_single_stage.png")
    for mode, c in curves.items():
        print(f"Fig. 6 {mode}: final validation distortion {c['final']:.3f}, "
              f"minimum {c['min']:.3f}, {c['updates'][-1]} updates")


def fig10():
    """The paper's Fig. 10 as one figure: coded BLER of each ``eqnet_fig10_*`` sweep, a panel
    per system size."""
    panels = [(name, title) for name, title in FIG10_PANELS
              if (ROOT / "results" / name / "results.json").is_file()]
    if not panels:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (name, title) in zip(axes[0], panels, strict=True):
        doc = json.loads((ROOT / "results" / name / "results.json").read_text())
        for c in doc["curves"]:
            pts = [(x, y) for x, y in zip(c["snr_db"], c["bler"], strict=True) if y > 0]
            if pts:
                ax.semilogy(*zip(*pts, strict=True), marker="o", ms=3, label=c["label"])
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("Eb/N0 [dB]")
        ax.set_ylim(1e-3, 1.05)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("BLER")
    fig.tight_layout()
    tmp = OUT / "fig10.tmp.png"
    fig.savefig(tmp, dpi=120)
    tmp.replace(OUT / "fig10.png")


def main():
    sys.path.insert(0, str(ROOT))
    from kaq_sionna.app.results import atomic_write_text

    OUT.mkdir(parents=True, exist_ok=True)
    summary = {"command": "python scripts/summarize_eqnet.py", "scenarios": {}}
    for name, title in SCENARIOS:
        path = ROOT / "results" / name / "results.json"
        if not path.is_file():
            print(f"(missing {path.relative_to(ROOT)})\n")
            continue
        doc = json.loads(path.read_text())
        table = crossings(doc)
        summary["scenarios"][name] = {"title": title, "complete": doc.get("complete"),
                                      "curves": table}
        ref = next(iter(table))
        print(f"### {title} ({name}; gaps to {ref})\n")
        print("| curve | Eb/N0 @ BLER 1e-1 | gap | Eb/N0 @ BLER 1e-2 | gap |")
        print("| --- | --- | --- | --- | --- |")
        for label, row in table.items():
            cells = []
            for t in TARGETS:
                v, g = row[f"{t:g}"], row[f"gap_{t:g}"]
                if v is None:
                    last = row["last"]
                    cells += [f"not reached ({last[1]:.3g} at {last[0]:g} dB)" if last else "-",
                              "-"]
                else:
                    cells += [f"{v:.2f} dB", "-" if g is None else f"{g:+.2f} dB"]
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
    fig4 = ROOT / "results" / "eqnet_fig4_csi_2x2_64qam" / "summary.json"
    if fig4.is_file():
        summary["fig4"] = json.loads(fig4.read_text())
    fig6(summary)
    fig10()
    atomic_write_text(OUT / "summary.json", json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
