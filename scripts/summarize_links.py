"""Realistic-link results: SNR-at-BLER table and one figure for docs/links.md.

Reads the committed sweeps ``results/<scenario>/results.json`` of the OFDM/CDL, PUSCH and
robustness scenarios listed in ``SCENARIOS`` (missing ones are skipped and reported) and writes

* ``results/links/summary.json``: per scenario and curve, the Eb/N0 where BLER first falls to
  1e-1 (interpolated as in :func:`kaq_sionna.app.memory_study.snr_at_bler`; `None` when the curve
  stays above it on the grid, with its last BLER);
* ``results/links/bler.png``: one panel per scenario;

and prints the table (markdown).

Run from the repository root::

    python scripts/summarize_links.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "links"
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


def main():
    sys.path.insert(0, str(ROOT))
    from kaq_sionna.app.memory_study import snr_at_bler

    summary, missing = {}, []
    for name, title in SCENARIOS:
        path = ROOT / "results" / name / "results.json"
        if not path.exists():
            missing.append(name)
            continue
        doc = json.loads(path.read_text())
        curves = {}
        for c in doc["curves"]:
            label = c.get("label") or c["detector"]
            curves[label] = {"snr_db": c["snr_db"], "bler": c["bler"],
                             "num_blocks": c["num_blocks"],
                             "snr_at_bler_1e-1": snr_at_bler(c["snr_db"], c["bler"], TARGET)}
        summary[name] = {"title": title, "command": f"kaq-sionna run scenarios/{name}.toml",
                         "curves": curves}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    _plot(summary)
    _print_table(summary)
    if missing:
        print("\nnot run yet: " + ", ".join(missing))


def _cell(curve):
    if not curve["snr_db"]:
        return "running"
    snr = curve["snr_at_bler_1e-1"]
    if snr is not None:
        return f"{snr:.1f}"
    return f"> {curve['snr_db'][-1]:g} ({curve['bler'][-1]:.2f})"


def _print_table(summary):
    labels = []
    for s in summary.values():
        labels += [lab for lab in s["curves"] if lab not in labels]
    names = list(summary)
    print("Eb/N0 [dB] at BLER 1e-1 (\"> x (b)\": BLER b at the last grid point x)\n")
    print("| detector | " + " | ".join(summary[n]["title"] for n in names) + " |")
    print("| --- |" + " --- |" * len(names))
    for lab in labels:
        cells = [_cell(summary[n]["curves"][lab]) if lab in summary[n]["curves"] else "-"
                 for n in names]
        print(f"| {lab} | " + " | ".join(cells) + " |")


def _plot(summary):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(summary)
    if not n:
        return
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    for ax, s in zip(axes.flat, summary.values(), strict=False):
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
    fig.tight_layout()
    fig.savefig(OUT / "bler.png", dpi=110)


if __name__ == "__main__":
    main()
