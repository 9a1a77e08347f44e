"""Compares re-run sweeps with the committed ones, count by count.

For each scenario name, reads ``<new>/<name>/results.json`` (a re-run, e.g. from a clean
commit) and ``<old>/<name>/results.json`` (the committed sweep) and prints whether the SNR
grid, block errors, blocks and bits are identical, and at how many points the bit-error counts
differ (and by how much). Used for results/reruns.md.

Run from the repository root::

    python experiments/compare_reruns.py --new /path/to/rerun/results --old results NAME...
"""

import argparse
import json
from pathlib import Path

SAME = ("snr_db", "block_errors", "num_blocks", "num_bits", "block_errors_per_round")


def compare(new_doc, old_doc):
    """``(same_blocks, points_with_bit_diff, points, max_abs_diff, max_rel_diff)``."""
    pairs = list(zip(new_doc["curves"], old_doc["curves"], strict=True))
    same_blocks = all(a.get(f) == b.get(f) for a, b in pairs for f in SAME)
    diffs = [(abs(x - y), abs(x - y) / max(y, 1)) for a, b in pairs
             for x, y in zip(a["bit_errors"], b["bit_errors"], strict=True)]
    return (same_blocks, sum(1 for d, _ in diffs if d), len(diffs),
            max((d for d, _ in diffs), default=0), max((r for _, r in diffs), default=0.0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", required=True, help="folder of the re-run results")
    parser.add_argument("--old", default="results", help="folder of the committed results")
    parser.add_argument("names", nargs="+", help="scenario names")
    args = parser.parse_args(argv)
    print("| scenario | blocks identical | points with other bit errors | max diff (relative) |")
    print("| --- | --- | --- | --- |")
    for name in args.names:
        new = json.loads((Path(args.new) / name / "results.json").read_text())
        old = json.loads((Path(args.old) / name / "results.json").read_text())
        same, nd, n, mx, rel = compare(new, old)
        print(f"| {name} | {'yes' if same else 'NO'} | {nd} / {n} | {mx} ({rel:.1e}) |")


if __name__ == "__main__":
    main()
