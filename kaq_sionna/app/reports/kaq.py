"""KAQ reproduction (docs/kaq.md): Fig. 4 and coded-BLER figures, SNR-at-target and claims tables.

Reads the sweeps ``<results>/kaq_fig4_<size>_16qam/results.json`` (uncoded BER vs Es/N0) and
``<results>/kaq_coded_<size>_16qam/results.json`` (coded BLER vs Eb/N0), joined by the curves of
the supplements ``..._admm_qatmse/results.json`` when they exist (models shipped after a sweep
started; the main file wins), and writes to ``<out>`` (default ``<results>/kaq``)

* ``summary.json`` (``summary_<size>.json`` for another size than 4x4): per curve the SNR where
  BER crosses 1e-1 and 1e-2 and BLER crosses 1e-1 and 1e-2, the gaps of the claims table and
  the uncoded BER at 25 dB;
* ``fig4_ber_<size>_16qam.png``: paper Fig. 4 layout, one panel per network;
* ``coded_bler_<size>_16qam.png``: the same for coded BLER;

and prints both tables (markdown). Crossings by :func:`kaq_sionna.app.stats.crossing`: a value
only between two points with errors around the target, otherwise a bound ("<= x": the curve
falls to zero errors at x or starts below the target; "> x": still above it at the last grid
point x). A gap ``A - B`` > 0 dB means A needs more SNR than B; it carries the interval from the
points' 95 % Clopper-Pearson intervals ("-0.19 [-0.45, +0.08] dB"), and is only an interval
when a crossing is a bound.

Commands::

    kaq-sionna report kaq                 # 4x4 -> results/kaq/summary.json
    kaq-sionna report kaq --size 16x16    # the paper's size -> results/kaq/summary_16x16.json
"""

import re
from pathlib import Path

from kaq_sionna.app.reports.common import (
    ReportError,
    curve_crossing,
    display_path,
    fmt_gap,
    fmt_snr,
    load_sweep,
    pyplot,
    save_figure,
    write_summary,
)
from kaq_sionna.app.stats import gap as crossing_gap

NAME = "kaq"
NETS = ("pgdnet", "admmnet")
VARIANTS = ("fp32", "fp16", "ptq8", "ptq4", "qatmse8", "qatmse4", "kaq8", "kaq4")


def add_arguments(parser):
    parser.add_argument("--size", default="4x4",
                        help="system size <ntx>x<nrx> of the sweeps (default 4x4; the paper's "
                        "Fig. 4 is 16x16)")
    parser.add_argument("--results", default="results",
                        help="directory holding the sweeps (default: results)")
    parser.add_argument("--out", default=None, help="output directory (default: <results>/kaq)")


def sources(results, size):
    """The Fig. 4 and coded-BLER result files of system size ``size`` under ``results``."""
    return (Path(results) / f"kaq_fig4_{size}_16qam" / "results.json",
            Path(results) / f"kaq_coded_{size}_16qam" / "results.json")


def supplement(path):
    """The ``*_admm_qatmse`` supplement of a sweep's results.json."""
    return path.parent.with_name(path.parent.name + "_admm_qatmse") / "results.json"


def curves(doc):
    """``{label: curve}`` of a results document."""
    return {c["label"]: c for c in doc["curves"]}


def crossings(doc_curves, key, targets):
    """Per label, the :class:`~kaq_sionna.app.stats.Crossing` at each target of the ``key``
    ("ber" or "bler") curve."""
    return {label: {f"{t:g}": curve_crossing(c, key, t) for t in targets}
            for label, c in doc_curves.items()}


def ber_at(doc_curves, label, snr_db):
    """Uncoded BER of ``label`` at ``snr_db`` (a grid point), or `None`."""
    c = doc_curves.get(label)
    if c is None or snr_db not in c["snr_db"]:
        return None
    return c["ber"][c["snr_db"].index(snr_db)]


def gap(table, a, b, target):
    """``snr(a) - snr(b)`` at ``target``: the dict of a :class:`~kaq_sionna.app.stats.Gap`
    (estimate and interval in dB), or `None` if either curve is missing."""
    sa, sb = table.get(a, {}).get(target), table.get(b, {}).get(target)
    g = None if sa is None or sb is None else crossing_gap(sa, sb)
    return None if g is None else g.as_dict()


def claims(unc, ber, bler):
    """The rows of the claims table: per claim the gaps A - B of the two curves."""
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
    return rows


def _as_dicts(table):
    return {label: {t: c.as_dict() for t, c in row.items()} for label, row in table.items()}


def summarize(results="results", size="4x4"):
    """The summary document (without command and commit) and the curves it was made from.

    Output
    ------
    summary : dict
        ``sources``, ``uncoded_esno_db_at_ber``, ``coded_ebno_db_at_bler``, ``gaps_db``,
        ``uncoded_ber_at_25db``.
    unc, cod : dict
        ``{label: curve}`` of the uncoded and the coded sweeps (supplements joined).
    """
    fig4, coded = sources(results, size)
    unc, cod = curves(load_sweep(fig4)), curves(load_sweep(coded))
    used = [fig4, coded]
    for main_curves, path in ((unc, fig4), (cod, coded)):
        extra = supplement(path)
        if extra.is_file():
            used.append(extra)
            for label, curve in curves(load_sweep(extra)).items():
                main_curves.setdefault(label, curve)
    ber = crossings(unc, "ber", (1e-1, 1e-2))
    bler = crossings(cod, "bler", (1e-1, 1e-2))
    summary = {"sources": [display_path(p) for p in used],
               "uncoded_esno_db_at_ber": _as_dicts(ber), "coded_ebno_db_at_bler": _as_dicts(bler),
               "gaps_db": claims(unc, ber, bler),
               "uncoded_ber_at_25db": {k: c["ber"][-1] for k, c in unc.items()
                                       if c["snr_db"] and c["snr_db"][-1] == 25.0}}
    return summary, unc, cod


def plot(doc_curves, key, xlabel, title):
    """One panel per network: its variants, with LMMSE and K-Best as references."""
    plt = pyplot()
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
    return fig


def tables(summary):
    """The two markdown tables (SNR at target per detector, claims) as text."""
    ber, bler = summary["uncoded_esno_db_at_ber"], summary["coded_ebno_db_at_bler"]
    labels = sorted(set(ber) | set(bler), key=lambda s: (s not in ("lmmse", "kbest"), s))
    lines = ["| detector | Es/N0 @ BER 1e-1 | Es/N0 @ BER 1e-2 | BER @ 25 dB "
             "| Eb/N0 @ BLER 1e-1 | Eb/N0 @ BLER 1e-2 |",
             "| --- | --- | --- | --- | --- | --- |"]
    for lab in labels:
        b, bl = ber.get(lab, {}), bler.get(lab, {})
        b25 = summary["uncoded_ber_at_25db"].get(lab)
        lines.append(f"| {lab} | {fmt_snr(b.get('0.1'))} | {fmt_snr(b.get('0.01'))} | "
                     + ("-" if b25 is None else f"{b25:.3g}")
                     + f" | {fmt_snr(bl.get('0.1'))} | {fmt_snr(bl.get('0.01'))} |")
    lines += ["", "| claim | A - B | uncoded @ BER 1e-1 | uncoded @ BER 1e-2 | BER A / B @ 25 dB "
              "| coded @ BLER 1e-1 | coded @ BLER 1e-2 |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in summary["gaps_db"]:
        b25 = " / ".join("-" if v is None else f"{v:.3g}" for v in r["ber_25db"])
        lines.append(f"| {r['claim']} | {r['a']} - {r['b']} | {fmt_gap(r['uncoded_ber_1e-1'])} | "
                     f"{fmt_gap(r['uncoded_ber_1e-2'])} | {b25} | {fmt_gap(r['coded_bler_1e-1'])} | "
                     f"{fmt_gap(r['coded_bler_1e-2'])} |")
    return "\n".join(lines)


def run(args, provenance):
    size = args.size
    if not re.fullmatch(r"\d+x\d+", size):
        raise ReportError("--size", "a system size <ntx>x<nrx> such as 4x4 or 16x16", repr(size))
    out = Path(args.out) if args.out else Path(args.results) / "kaq"
    summary, unc, cod = summarize(args.results, size)
    name = "summary.json" if size == "4x4" else f"summary_{size}.json"
    write_summary(out / name, summary, provenance)
    note = " (paper Fig. 4 is 16x16)" if size == "4x4" else " (paper Fig. 4)"
    figures = [
        save_figure(plot(unc, "ber", r"$E_s/N_0$ [dB]",
                         f"Uncoded BER, {size} 16-QAM, Rayleigh{note}"),
                    out / f"fig4_ber_{size}_16qam.png"),
        save_figure(plot(cod, "bler", r"$E_b/N_0$ [dB]",
                         f"Coded BLER, {size} 16-QAM, LDPC (512, 1024), Rayleigh"),
                    out / f"coded_bler_{size}_16qam.png")]
    print(tables(summary))
    print("\nwrote " + ", ".join(display_path(p) for p in (out / name, *figures)))
    return 0
