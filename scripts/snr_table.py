"""SNR-at-target table of any sweep: where each curve's BER or BLER first falls to each target.

Interpolation as :func:`kaq_sionna.app.memory_study.snr_at_bler` (linear in SNR, logarithmic in
the error rate, between the grid points around the first crossing); "not reached" with the
curve's last point when it never gets there on the grid. Gaps are to ``--reference`` (default:
the first curve); > 0 dB means the curve needs more SNR.

Run from the repository root, e.g.::

    python scripts/snr_table.py results/kaq_ablation_coded_4x4_16qam/results.json \
        --metric bler --targets 0.1 0.01 --reference "admmnet-kaq4 (both)"
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table(doc, metric, targets, reference=None):
    """``[(label, [(snr or None, gap or None) per target], last point)]`` of a results.json."""
    from kaq_sionna.app.memory_study import snr_at_bler

    rows = []
    for c in doc["curves"]:
        rows.append((c["label"], [snr_at_bler(c["snr_db"], c[metric], t) for t in targets],
                     (c["snr_db"][-1], c[metric][-1]) if c["snr_db"] else None))
    ref = next((r for r in rows if r[0] == reference), rows[0] if rows else None)
    out = []
    for label, snrs, last in rows:
        gaps = [None if s is None or r is None else round(s - r, 2)
                for s, r in zip(snrs, ref[1], strict=True)]
        out.append((label, list(zip(snrs, gaps, strict=True)), last))
    return out, ref[0] if ref else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.json files of kaq-sionna run")
    parser.add_argument("--metric", choices=("ber", "bler"), default="bler")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument("--reference", help="label of the reference curve (default: first)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    for path in args.results:
        doc = json.loads(Path(path).read_text())
        rows, ref = table(doc, args.metric, args.targets, args.reference)
        unit = doc.get("snr_type", "snr")
        print(f"### {path} ({args.metric.upper()} vs {unit}; gaps to {ref})\n")
        head = " | ".join(f"@ {args.metric.upper()} {t:g} | gap" for t in args.targets)
        print(f"| curve | {head} |")
        print("| --- |" + " --- | --- |" * len(args.targets))
        for label, cells, last in rows:
            parts = []
            for snr, gap in cells:
                if snr is None:
                    parts += [f"not reached ({last[1]:.3g} at {last[0]:g} dB)", "-"]
                else:
                    parts += [f"{snr:.2f} dB", "-" if gap is None else f"{gap:+.2f} dB"]
            print(f"| {label} | " + " | ".join(parts) + " |")
        print()


if __name__ == "__main__":
    main()
