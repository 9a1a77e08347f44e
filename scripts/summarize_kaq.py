"""KAQ reproduction at 4x4 16-QAM: figures, SNR-at-target table and the claims table of docs/kaq.md.

Reads the committed sweep results ``results/kaq_fig4_4x4_16qam/results.json`` (uncoded BER vs
Es/N0) and ``results/kaq_coded_4x4_16qam/results.json`` (coded BLER vs Eb/N0) and writes

* ``results/kaq/fig4_ber_4x4_16qam.png``: paper Fig. 4 layout, one panel per network;
* ``results/kaq/coded_bler_4x4_16qam.png``: the same for coded BLER;
* ``results/kaq/summary.json``: per curve the SNR where BER crosses 1e-1 and 1e-2 and BLER
  crosses 1e-1 and 1e-2, and the gaps of the claims table;

and prints both tables (markdown). The crossing SNR is interpolated linearly in SNR and
logarithmically in the error rate between the two grid points around the first crossing
(:func:`kaq_sionna.app.memory_study.snr_at_bler`); `None` / "not reached" when the curve never
gets there on the grid. A gap ``A - B`` > 0 dB means A needs more SNR than B.

Run from the repository root::

    python scripts/summarize_kaq.py                 # 4x4
    python scripts/summarize_kaq.py --size 16x16    # the paper's size: results/kaq_*_16x16_16qam
                                                    # -> results/kaq/summary_16x16.json, *_16x16_16qam.png
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "kaq"


def sources(size):
    """The Fig. 4 and coded-BLER result files of system size ``size`` ("4x4" or "16x16")."""
    return (ROOT / "results" / f"kaq_fig4_{size}_16qam" / "results.json",
            ROOT / "results" / f"kaq_coded_{size}_16qam" / "results.json")

NETS = ("pgdnet", "admmnet")
VARIANTS = ("fp32", "fp16", "ptq8", "ptq4", "qatmse8", "qatmse4", "kaq8", "kaq4")


def snr_at(snr_db, rate, target):
    """SNR (dB) where an error-rate curve first falls to ``target``, or `None`."""
    sys.path.insert(0, str(ROOT))
    from kaq_sionna.app.memory_study import snr_at_bler

    return snr_at_bler(snr_db, rate, target)


def curves(path):
    """``{label: curve}`` of a results.json (empty if the file does not exist)."""
    if not Path(path).is_file():
        return {}
    return {c["label"]: c for c in json.loads(Path(path).read_text())["curves"]}


def crossings(doc_curves, key, targets):
    """Per label, the SNR at each target of the ``key`` ("ber" or "bler") curve."""
    return {label: {f"{t:g}": snr_at(c["snr_db"], c[key], t) for t in targets}
            for label, c in doc_curves.items()}


def ber_at(doc_curves, label, snr_db):
    """Uncoded BER of ``label`` at ``snr_db`` (a grid point), or `None`."""
    c = doc_curves.get(label)
    if c is None or snr_db not in c["snr_db"]:
        return None
    return c["ber"][c["snr_db"].index(snr_db)]


def gap(table, a, b, target):
    """``snr(a) - snr(b)`` at ``target`` in dB, or `None` if either is missing."""
    sa, sb = table.get(a, {}).get(target), table.get(b, {}).get(target)
    return None if sa is None or sb is None else round(sa - sb, 2)


def fmt(value, unit=" dB"):
    return "not reached" if value is None else f"{value:+.2f}{unit}" if unit else f"{value:.2f}"


def plot(doc_curves, key, xlabel, out, title):
    """One panel per network: its variants, with LMMSE and K-Best as references."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"fp32": "k", "fp16": "0.5", "ptq": "tab:purple", "qatmse": "tab:blue",
              "kaq": "tab:red"}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, net in zip(axes, NETS, strict=True):
        for ref, style in (("lmmse", "g-o"), ("kbest", "c-s")):
            if ref in doc_curves:
                c = doc_curves[ref]
                ax.semilogy(c["snr_db"], [v if v > 0 else float("nan") for v in c[key]],
                            style, ms=4, lw=1.2, label=ref)
        for var in VARIANTS:
            label = f"{net}-{var}"
            if label not in doc_curves:
                continue
            c = doc_curves[label]
            method = var if var.startswith("fp") else var.rstrip("0123456789")
            ls = ":" if var.endswith("4") else "-"
            ax.semilogy(c["snr_db"], [v if v > 0 else float("nan") for v in c[key]],
                        linestyle=ls, marker="o", ms=3, color=colors[method], label=var)
        ax.set_title({"pgdnet": "PGD-Net (K=5)", "admmnet": "ADMM-Net (K=5)"}[net])
        ax.set_xlabel(xlabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
    fig.text(0.5, 0.005, "points without any error are not drawn", ha="center", fontsize=8)
    axes[0].set_ylabel(key.upper())
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    size = argv[argv.index("--size") + 1] if "--size" in argv else "4x4"
    FIG4, CODED = sources(size)
    unc, cod = curves(FIG4), curves(CODED)
    # supplements (models shipped after a sweep started): their curves join, the main file wins
    for main_curves, path in ((unc, FIG4), (cod, CODED)):
        extra = path.parent.with_name(path.parent.name + "_admm_qatmse") / "results.json"
        for label, curve in curves(extra).items():
            main_curves.setdefault(label, curve)
    ber = crossings(unc, "ber", (1e-1, 1e-2))
    bler = crossings(cod, "bler", (1e-1, 1e-2))
    rows = []
    for net in NETS:
        pairs = []
        for bits in (8, 4):
            kaq, qat, ptq = f"{net}-kaq{bits}", f"{net}-qatmse{bits}", f"{net}-ptq{bits}"
            pairs += [("KAQ close to FP16", kaq, f"{net}-fp16"),
                      ("KAQ better than QAT-MSE", kaq, qat),
                      ("KAQ vs PTQ (same bits)", kaq, ptq),
                      ("KAQ vs LMMSE", kaq, "lmmse")]
        pairs += [("no error floor at low bit width", f"{net}-kaq4", f"{net}-kaq8"),
                  ("fp32 network vs LMMSE", f"{net}-fp32", "lmmse")]
        for claim, a, b in pairs:
            rows.append({"claim": claim, "a": a, "b": b,
                         "uncoded_ber_1e-1": gap(ber, a, b, "0.1"),
                         "uncoded_ber_1e-2": gap(ber, a, b, "0.01"),
                         "ber_25db": [ber_at(unc, a, 25.0), ber_at(unc, b, 25.0)],
                         "coded_bler_1e-1": gap(bler, a, b, "0.1"),
                         "coded_bler_1e-2": gap(bler, a, b, "0.01")})
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {"sources": [str(p.relative_to(ROOT)) for p in (FIG4, CODED) if p.is_file()],
               "uncoded_esno_db_at_ber": ber, "coded_ebno_db_at_bler": bler, "gaps_db": rows,
               "uncoded_ber_at_25db": {k: c["ber"][-1] for k, c in unc.items()
                                       if c["snr_db"] and c["snr_db"][-1] == 25.0}}
    name = "summary.json" if size == "4x4" else f"summary_{size}.json"
    (OUT / name).write_text(json.dumps(summary, indent=2) + "\n")
    note = " (paper Fig. 4 is 16x16)" if size == "4x4" else " (paper Fig. 4)"
    if unc:
        plot(unc, "ber", r"$E_s/N_0$ [dB]", OUT / f"fig4_ber_{size}_16qam.png",
             f"Uncoded BER, {size} 16-QAM, Rayleigh{note}")
    if cod:
        plot(cod, "bler", r"$E_b/N_0$ [dB]", OUT / f"coded_bler_{size}_16qam.png",
             f"Coded BLER, {size} 16-QAM, LDPC (512, 1024), Rayleigh")

    labels = sorted(set(ber) | set(bler), key=lambda s: (s not in ("lmmse", "kbest"), s))
    print("| detector | Es/N0 @ BER 1e-1 | Es/N0 @ BER 1e-2 | BER @ 25 dB "
          "| Eb/N0 @ BLER 1e-1 | Eb/N0 @ BLER 1e-2 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for lab in labels:
        b, bl = ber.get(lab, {}), bler.get(lab, {})
        b25 = summary["uncoded_ber_at_25db"].get(lab)
        print(f"| {lab} | {fmt(b.get('0.1'), '')} | {fmt(b.get('0.01'), '')} | "
              + ("-" if b25 is None else f"{b25:.3g}")
              + f" | {fmt(bl.get('0.1'), '')} | {fmt(bl.get('0.01'), '')} |")
    print()
    print("| claim | A - B | uncoded @ BER 1e-1 | uncoded @ BER 1e-2 | BER A / B @ 25 dB "
          "| coded @ BLER 1e-1 | coded @ BLER 1e-2 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        b25 = " / ".join("-" if v is None else f"{v:.3g}" for v in r["ber_25db"])
        print(f"| {r['claim']} | {r['a']} - {r['b']} | {fmt(r['uncoded_ber_1e-1'])} | "
              f"{fmt(r['uncoded_ber_1e-2'])} | {b25} | {fmt(r['coded_bler_1e-1'])} | "
              f"{fmt(r['coded_bler_1e-2'])} |")
    print(f"\nwrote {OUT / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
