"""How well does a shipped EQ-Net quantizer code soft bits of another source than its training one?

Paper 004, Sect. 3.5 (Fig. 10c-d) applies a model trained on MMSE-SIC soft bits to LMMSE soft
bits. This script separates that shift from the model's own error: for each source detector and
Es/N0 it draws a fixed-seed i.i.d. Rayleigh set at the model's size
(:func:`kaq_sionna.detection.quantized_llr.fit_source_llrs`), passes the clipped LLRs through the
model's ``compress`` / ``decompress`` and reports the distortion of eq. (15) (with the one of
all-zero soft bits for scale), the fraction of soft bits whose sign the round trip flips, the
mean soft-bit magnitude, and the soft-bit positions (stream, bit) the model reconstructs worst
(lowest correlation between source and reconstructed soft bits). Prints a markdown table; with
``--out`` also writes JSON.

Run (with the package installed; one thread, ~1 min for the 16x16 model; the JSON files of
docs/eqnet.md)::

    python experiments/eqnet_source_shift.py --model eqnet-l-16x16-16qam \
        --out results/eqnet/source_shift_16x16_16qam.json
    python experiments/eqnet_source_shift.py --model eqnet-l-8x8-16qam \
        --out results/eqnet/source_shift_8x8_16qam.json
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="eqnet-l-16x16-16qam", help="shipped EQ-Net name")
    parser.add_argument("--sources", nargs="+", default=["mmse-sic", "lmmse"],
                        help="registry detectors giving the soft bits")
    parser.add_argument("--esno-db", nargs="+", type=float, default=[10.0, 14.0, 18.0])
    parser.add_argument("--samples", type=int, default=2000, help="channel uses per Es/N0")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", help="JSON output file")
    args = parser.parse_args(argv)
    import tensorflow as tf

    import kaq_sionna  # noqa: F401  (quiet TensorFlow)
    from kaq_sionna.core.atomic_io import atomic_write_text
    from kaq_sionna.core.provenance import git_commit
    from kaq_sionna.detection.quantized_llr import fit_source_llrs
    from kaq_sionna.registry import load_pretrained
    from kaq_sionna.registry.detectors import LinkContext, build_detector
    from kaq_sionna.softbits import llr_to_softbit
    from kaq_sionna.softbits.eqnet import softbit_distortion

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = load_pretrained(args.model)
    nt, nbps = model.num_tx, model.num_bits_per_symbol
    ctx = LinkContext(nt, model.num_rx, nbps, "single")
    rows = []
    for source in args.sources:
        det = build_detector(source, ctx)
        for esno in args.esno_db:
            llr = fit_source_llrs(det, nt, model.num_rx, nbps, [esno], args.samples, args.seed)
            llr = tf.constant(np.clip(llr, -20.0, 20.0).astype(np.float32))
            sb = llr_to_softbit(llr)
            rec = llr_to_softbit(model.decompress(model.compress(llr)))
            a, b = sb.numpy().reshape(len(sb), -1), rec.numpy().reshape(len(sb), -1)
            corr = [float(np.corrcoef(a[:, j], b[:, j])[0, 1]) for j in range(a.shape[1])]
            worst = [{"stream": int(j) // nbps, "bit": int(j) % nbps, "correlation": corr[j]}
                     for j in np.argsort(corr)[:3]]
            rows.append({
                "source": source, "esno_db": esno,
                "distortion": float(np.mean(softbit_distortion(sb, rec))),
                "distortion_zero_softbits": float(np.mean(softbit_distortion(sb,
                                                                              tf.zeros_like(sb)))),
                "sign_flips": float(np.mean(np.sign(rec.numpy()) != np.sign(sb.numpy()))),
                "mean_abs_softbit": float(np.mean(np.abs(sb.numpy()))),
                "worst_positions": worst,
            })
    print(f"{args.model}: {args.samples} channel uses per point, seed {args.seed}\n")
    print("| source | Es/N0 | distortion (eq. 15) | all-zero soft bits | sign flips | mean abs "
          "| worst positions (stream, bit): correlation |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        worst = ", ".join(f"({w['stream']}, {w['bit']}): {w['correlation']:.2f}"
                          for w in r["worst_positions"])
        print(f"| {r['source']} | {r['esno_db']:g} dB | {r['distortion']:.2f} | "
              f"{r['distortion_zero_softbits']:.2f} | {r['sign_flips']:.4f} | "
              f"{r['mean_abs_softbit']:.3f} | {worst} |")
    if args.out:
        doc = {"command": "python experiments/eqnet_source_shift.py " + " ".join(
            argv if argv is not None else sys.argv[1:]), "commit": git_commit(),
            "model": args.model,
            "samples": args.samples, "seed": args.seed, "rows": rows}
        atomic_write_text(Path(args.out), json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
