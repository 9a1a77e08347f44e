"""Paired BLER difference of any two detectors of a committed common-seeded sweep, from its
per-block error flags (``blocks.npz``): the exact McNemar interval of
:mod:`kaq_sionna.app.paired`, for pairs the scenario's ``paired_reference`` does not cover
(e.g. full transfer vs learngene m, learngene m vs scratch m; issue 21, docs/sdnet.md).

Run: PYTHONPATH=. python experiments/sdnet_paired_blocks.py results/sdnet_4x8_16qam_kron38 \
        sdnet-fulltransfer sdnet-m-4x8-16qam-kron38 sdnet-mscratch
(pairs: the first label against each of the others; labels as in results.json ``curves``).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from kaq_sionna.app.paired import compare_flags, paired_difference
from kaq_sionna.app.units import unpack_flags


def load_flags(results_dir):
    """``{(curve label, snr_db): bool flags}`` of a sweep's blocks.npz."""
    doc = json.loads((Path(results_dir) / "results.json").read_text())
    labels = [c.get("label", c["detector"]) for c in doc["curves"]]
    out = {}
    with np.load(Path(results_dir) / "blocks.npz") as data:
        for j, (key, n) in enumerate(zip(data["keys"], data["n"], strict=True)):
            packed = {"n": int(n), "bits": data[f"b{j}"].tobytes()}
            out[(labels[int(key[0])], float(key[1]))] = unpack_flags(packed)
    return out, doc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("label")
    parser.add_argument("others", nargs="+")
    args = parser.parse_args(argv)
    flags, doc = load_flags(args.results_dir)
    print(f"{args.results_dir} (commit {doc.get('commit', '?')[:7]})")
    for other in args.others:
        print(f"{args.label} - {other}: BLER difference, 95 % paired CI (McNemar)")
        snrs = sorted({s for (lab, s) in flags if lab == args.label})
        for snr in snrs:
            if (other, snr) not in flags:
                continue
            c = compare_flags(flags[(args.label, snr)], flags[(other, snr)])
            diff, lo, hi, res = paired_difference(c["only_detector"], c["only_reference"],
                                                  c["num_blocks"])
            print(f"  {snr:6.2f} dB  {diff:+.4f}  [{lo:+.4f}, {hi:+.4f}]  "
                  f"{c['num_blocks']} blocks ({c['only_detector']} / {c['only_reference']} "
                  f"discordant), {'resolved' if res else 'not resolved'}")


if __name__ == "__main__":
    main()
