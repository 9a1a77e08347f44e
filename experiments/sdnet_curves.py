"""Issue 21: tabulate the SDNet adaptation-speed and sample-efficiency curves (docs/sdnet.md,
section "Adaptation speed and sample efficiency with the CLI models").

Reads results/train/sdnet-{m,mscratch,fulltransfer}-4x8-16qam-kron38-{steps<S>,n<N>}/train.json
(trained from scenarios/train/sdnet-curves/) and prints two markdown tables of the uncoded BER
(and bit cross entropy) at Es/N0 = 10 dB from each run's own evaluation (``final_metrics``:
10,000 channel uses, ZF on the same samples and LS CSI).

    PYTHONPATH=. python experiments/sdnet_curves.py
"""
import argparse
import json
from pathlib import Path

TASK = "4x8-16qam-kron38"
MODELS = [("m", "learngene m"), ("mscratch", "scratch m"), ("fulltransfer", "full transfer")]


def point(root, kind, tag, snr):
    path = Path(root) / f"sdnet-{kind}-{TASK}-{tag}" / "train.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    if not doc.get("finished", True):
        return None
    fm = doc["final_metrics"][TASK]
    i = fm["snr_esno_db"].index(snr)
    return fm["ber"][i], fm["bce"][i], fm["ber_zf"][i], fm["bce_zf"][i]


def table(root, title, header, tags, snr):
    print(f"{title}\n")
    print("| model | " + " | ".join(header) + " |")
    print("| --- |" + " --- |" * len(header))
    zf = None
    for kind, label in MODELS:
        cells = []
        for tag in tags:
            p = point(root, kind, tag, snr)
            if p is None:
                cells.append("-")
                continue
            cells.append(f"{p[0]:.4f} ({p[1]:.4f})")
            zf = zf or p
        print(f"| {label} | " + " | ".join(cells) + " |")
    if zf:
        print(f"| ZF (same samples, every column) | {zf[2]:.4f} ({zf[3]:.4f}) |" + " |" * (len(header) - 1))
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="results/train")
    ap.add_argument("--steps", type=int, nargs="+", default=[50, 150, 500])
    ap.add_argument("--samples", type=int, nargs="+", default=[256, 1000, 4000, 16000])
    ap.add_argument("--snr", type=float, default=10.0)
    a = ap.parse_args()
    table(a.root, f"Adaptation speed: BER (BCE, nats) at {a.snr:g} dB after S steps of fresh batches of 256",
          [f"S = {s}" for s in a.steps], [f"steps{s}" for s in a.steps], a.snr)
    table(a.root, f"Sample efficiency: BER (BCE, nats) at {a.snr:g} dB after 500 steps on a fixed set of N channel uses",
          [f"N = {n}" for n in a.samples], [f"n{n}" for n in a.samples], a.snr)


if __name__ == "__main__":
    main()
