"""Blocks needed to separate two detectors at a point, with and without common random numbers
(docs/performance.md, "Common random numbers").

Reads the ``"paired"`` entries of a ``seeding = "common"`` results.json. For a BLER difference
``d`` the two-sided 95 % normal interval excludes 0 once ``n >= 1.96^2 v / d^2`` blocks per
detector, with ``v = p_a + p_r - d^2`` for paired blocks (``p_a``, ``p_r``: rates of the blocks
only the detector / only the reference got wrong) and ``v = p_A (1 - p_A) + p_R (1 - p_R)`` for
two independent runs (docs/conventions.md, "Paired BLER differences"). Usage::

    PYTHONPATH=. python experiments/crn_samples.py results/crn_4x4_16qam/results.json
"""

import json
import sys

Z = 1.959964


def rows(doc):
    curves = {c["label"]: c for c in doc["curves"]}
    for e in doc.get("paired", []):
        det, ref = curves[e["detector"]], curves[e["reference"]]
        for i, snr in enumerate(e["snr_db"]):
            n = e["num_blocks"][i]
            if n == 0:
                continue
            j, k = det["snr_db"].index(snr), ref["snr_db"].index(snr)
            a, r = e["only_detector"][i] / n, e["only_reference"][i] / n
            d = a - r
            # the error rates on the n common blocks
            p_ref = ref["block_errors"][k] / ref["num_blocks"][k]
            p_det = p_ref + d
            if d == 0:
                continue
            paired = Z**2 * (a + r - d * d) / d**2
            independent = Z**2 * (p_det * (1 - p_det) + p_ref * (1 - p_ref)) / d**2
            yield (e["detector"], e["reference"], snr, det["bler"][j], ref["bler"][k], d,
                   paired, independent, e["resolved"][i])


def main(path):
    doc = json.load(open(path))
    print("| detector - reference | Eb/N0 [dB] | BLER detector | BLER reference | difference "
          "| blocks to resolve, paired | blocks, independent runs | ratio | resolved here |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for det, ref, snr, bd, br, d, paired, indep, resolved in rows(doc):
        print(f"| {det} - {ref} | {snr:g} | {bd:.3g} | {br:.3g} | {d:+.4f} | {paired:,.0f} "
              f"| {indep:,.0f} | {indep / paired:.1f} | {'yes' if resolved else 'no'} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/crn_4x4_16qam/results.json")
