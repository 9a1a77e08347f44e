"""Does EQ-Net's estimation mode beat the baselines on its own test data (uncoded BER)?

Uncoded hard-decision BER per Es/N0 on an EQ-Net training run's test split, for the ML
source soft bits, the baseline detectors and every shipped EQ-Net model of the same size.
Reads ``results/train/<run>/data.npz`` (made by ``kaq-sionna train``; the split is the
trainer's 80/10/10 with the scenario's seed) and prints a markdown table; with ``--out`` also
writes it as JSON.

Run from the repository root with the package installed (one thread, ~1 min at 4x4 16-QAM;
``data.npz`` is not committed: ``kaq-sionna train scenarios/train/<run>.toml`` makes it)::

    python experiments/eqnet_test_ber.py --run eqnet-l-4x4-16qam --seed 2026 \
        --out results/eqnet/test_ber_4x4_16qam.json
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]  # the repository (results/train/ lives there)
BASELINES = ("lmmse", "zf-sic", "mmse-sic", "kbest")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="eqnet-l-4x4-16qam",
                        help="training output directory name under results/train/")
    parser.add_argument("--seed", type=int, default=2026, help="the training scenario's seed")
    parser.add_argument("--out", help="JSON output file")
    args = parser.parse_args(argv)
    import tensorflow as tf

    import kaq_sionna  # noqa: F401  (quiet TensorFlow)
    from kaq_sionna import pretrained
    from kaq_sionna.core.atomic_io import atomic_write_text
    from kaq_sionna.core.provenance import git_commit
    from kaq_sionna.registry.detectors import LinkContext, build_detector
    from kaq_sionna.training.eqnet_data import split_indices

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    d = np.load(ROOT / "results" / "train" / args.run / "data.npz")
    _, _, test = split_indices(len(d["no"]), args.seed)
    y, h, no, bits = d["y"][test], d["h"][test], d["no"][test], d["bits"][test]
    snr_index, snrs = d["snr_index"][test], [float(v) for v in d["snr_db"]]
    nr, nt, nbps = h.shape[1], h.shape[2], bits.shape[-1]
    s = (no[:, None, None] * np.eye(nr)).astype(np.complex64)
    ctx = LinkContext(nt, nr, nbps)
    system = {"num_tx": nt, "num_rx": nr, "num_bits_per_symbol": nbps}
    # shipped EQ-Nets of this size whose f_E was trained (not the Fig. 5 autoencoders)
    names = [*BASELINES, *sorted(n for n, c in pretrained.available().items()
                                 if c.get("model") == "eqnet" and c.get("system") == system
                                 and (c.get("epochs_stage2") or c.get("training_mode")
                                      == "single-stage"))]
    llrs = {"ML (source)": np.arctanh(np.clip(d["softbits"][test], -1 + 1e-7, 1 - 1e-7))}
    for name in names:
        det = build_detector(name, ctx)
        out = [det(tf.constant(y[i:i + 4096]), tf.constant(h[i:i + 4096]),
                   tf.constant(s[i:i + 4096])).numpy() for i in range(0, len(no), 4096)]
        llrs[name] = np.concatenate(out)
    table = {}
    for name, llr in llrs.items():
        err = (llr > 0) != (bits > 0)
        table[name] = [float(np.mean(err[snr_index == i])) for i in range(len(snrs))]
    print("| detector | " + " | ".join(f"{v:g} dB" for v in snrs) + " |")
    print("| --- |" + " --- |" * len(snrs))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in row) + " |")
    if args.out:
        doc = {"run": args.run, "num_test_samples": int(len(no)), "esno_db": snrs,
               "ber": table, "command": "python experiments/eqnet_test_ber.py "
               + " ".join(argv if argv is not None else sys.argv[1:]), "commit": git_commit()}
        atomic_write_text(Path(args.out), json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
