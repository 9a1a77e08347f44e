"""Paired comparison (issue 21) of trained SDNet models with Sionna's ZF at one Es/N0, on the
evaluation samples that ``kaq-sionna train`` used for the model's ``final_metrics`` (the same
seed, so the same channel uses and LS CSI): BER and bit cross entropy of each, and the paired
z-score of the per-channel-use difference (positive: SDNet better).

Run: ``PYTHONPATH=. nice -n 19 python experiments/sdnet_paired.py --threads 1 \\
results/train/sdnet-{s,m,l,mscratch}-4x8-16qam-kron38 --snr-index 1``
"""

import argparse
import json
from pathlib import Path

import numpy as np

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="training output directories (train.json, model/)")
    p.add_argument("--snr-index", type=int, default=1, help="index into [evaluation] snr_db")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from sionna.phy.mimo import LinearDetector

    from kaq_sionna.core.seeding import derive_seed
    from kaq_sionna.detection.sdnet_io import load_sdnet
    from kaq_sionna.training.sdnet_tasks import Task, task_batch

    for run in args.runs:
        config = json.loads((Path(run) / "model" / "config.json").read_text())
        task = Task.from_dict(config["task"])
        t_index = len(config["tasks"]) - 1
        snr = config["training_scenario"]["evaluation"]["snr_db"][args.snr_index]
        n = config["training_scenario"]["evaluation"]["num_samples"]
        seed = derive_seed(config["seed"], "sdnet-eval", t_index, args.snr_index)
        y, h, s, bits = task_batch(task, n, seed, snr_db=float(snr))
        det = load_sdnet(Path(run) / "model")
        zf = LinearDetector("zf", "bit", "app", "qam", task.num_bits_per_symbol)
        out = {}
        for key, llr in (("sdnet", det.logits(y, h, s)), ("zf", zf(y, h, s))):
            llr = tf.cast(llr, tf.float32)
            err = tf.cast(tf.not_equal(tf.cast(llr > 0, tf.float32), bits), tf.float32)
            bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=bits, logits=llr)
            out[key] = (np.reshape(err.numpy(), (n, -1)).mean(1),
                        np.reshape(bce.numpy(), (n, -1)).mean(1))
        z = [(out["zf"][i] - out["sdnet"][i]).mean() / (out["zf"][i] - out["sdnet"][i]).std()
             * np.sqrt(n) for i in (0, 1)]
        print(f"{config['name']} {task.name} Es/N0 {snr:g} dB, {n} channel uses: BER SDNet "
              f"{out['sdnet'][0].mean():.4f} ZF {out['zf'][0].mean():.4f} (paired z {z[0]:+.1f});"
              f" BCE SDNet {out['sdnet'][1].mean():.4f} ZF {out['zf'][1].mean():.4f} "
              f"(paired z {z[1]:+.1f})", flush=True)


if __name__ == "__main__":
    main()
