"""Paper 004 (EQ-Net) Fig. 4: coded BLER at one SNR vs the CSI error variance.

Runs ``scenarios/eqnet_fig4_csi_2x2_64qam.toml`` once per CSI error variance of
:data:`VARIANCES` (only ``[link] csi_error_var`` and the scenario name change; each run
resumes like ``kaq-sionna run``), into ``results/eqnet_fig4_csi_2x2_64qam/var_<v>/``, then writes

* ``results/eqnet_fig4_csi_2x2_64qam/summary.json``: BLER per detector and variance;
* ``results/eqnet_fig4_csi_2x2_64qam/plot.png``: BLER vs CSI error variance, one line per detector.

Run from the repository root (one thread, ~15 min)::

    nice -n 10 python scripts/eqnet_fig4_csi.py [--quick]
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "eqnet_fig4_csi_2x2_64qam.toml"
OUT = ROOT / "results" / "eqnet_fig4_csi_2x2_64qam"
#: CSI error variances per channel entry (entries have variance 1/num_rx = 0.5).
VARIANCES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sweeps (smoke test)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import tomllib

    import kaq_sionna  # noqa: F401  (quiet TensorFlow)
    from kaq_sionna.app.results import atomic_write_text
    from kaq_sionna.app.scenario import parse_scenario
    from kaq_sionna.app.sweep import run_sweep

    base = tomllib.loads(SCENARIO.read_text())
    out = OUT if not args.quick else OUT.with_name(OUT.name + "-quick")
    summary = {"scenario": str(SCENARIO.relative_to(ROOT)), "variances": list(VARIANCES),
               "command": "python scripts/eqnet_fig4_csi.py" + (" --quick" if args.quick else ""),
               "curves": {}}
    for var in VARIANCES:
        data = json.loads(json.dumps(base))
        data["link"]["csi_error_var"] = var
        data["scenario"]["name"] = f"{base['scenario']['name']}_var{var:g}"
        scenario = parse_scenario(data, f"{SCENARIO} with csi_error_var = {var:g}")
        print(f"=== csi_error_var = {var:g}", flush=True)
        doc = run_sweep(scenario, out / f"var_{var:g}", quick=args.quick,
                        command=summary["command"])
        for curve in doc["curves"]:
            entry = summary["curves"].setdefault(curve["label"], {"bler": [], "block_errors": [],
                                                                  "num_blocks": []})
            for key in entry:
                entry[key].append(curve[key][0] if curve[key] else None)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    plot(summary, out / "plot.png", base["sweep"]["snr_db"][0])
    for label, entry in summary["curves"].items():
        print(f"{label:32s} " + "  ".join(f"{b:.3g}" if b is not None else "-"
                                          for b in entry["bler"]))


def plot(summary, path, snr_db):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = [max(v, 3e-4) for v in summary["variances"]]  # 0 drawn at the left edge
    for label, entry in summary["curves"].items():
        ax.loglog(x, [max(b, 1e-4) if b is not None else float("nan") for b in entry["bler"]],
                  "o-", label=label)
    ax.set_xlabel("CSI error variance per entry (leftmost point: perfect CSI)")
    ax.set_ylabel("BLER")
    ax.set_title(f"EQ-Net Fig. 4: 2x2 64-QAM, Eb/N0 = {snr_db} dB")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(path)


if __name__ == "__main__":
    main()
