"""Probe (issue 21): is "a briefly trained individual model beats ZF at a mid SNR" reliable enough
for a statistical test? Builds the size-s individual model from the shipped collective model's
learngene (bottom 2 layers), fine-tunes it for STEPS steps (fresh batches of 256) on the target
task 4x8 16-QAM Kronecker 0.3/0.8 with three initialisation/data seeds, and prints the BER and
bit cross entropy of the model and Sionna's ZF at Es/N0 = 10 dB on N channel uses, with the paired
z-score of the per-channel-use difference (positive: SDNet better) and the seconds taken.

Run: ``PYTHONPATH=. nice -n 19 python experiments/sdnet_brief_finetune.py STEPS N``
(docs/sdnet.md: 150 and 400 steps, N = 20000).
"""

import sys
import time

import numpy as np

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)


def _per_use(values, n):
    return np.reshape(values.numpy(), (n, -1))


def main(steps, n):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from sionna.phy.mimo import LinearDetector

    from kaq_sionna.detection.learngene import build_sized, extract_learngene
    from kaq_sionna.registry import load_pretrained
    from kaq_sionna.training.sdnet_tasks import Task, task_batch
    from kaq_sionna.training.sdnet_trainer import fit

    task = Task("t", 4, 8, 4, channel="kronecker", tx_corr=0.3, rx_corr=0.8)
    lg = extract_learngene(load_pretrained("sdnet-collective-4x8-16qam-3tasks"), 2, "bottom")
    zf = LinearDetector("zf", "bit", "app", "qam", 4)
    for seed in (1, 2, 3):
        t0 = time.time()
        det = build_sized("s", 4, 8, 4, lg, seed=seed)
        fit(det, task, steps, 256, 1e-3, seed)
        t1 = time.time()
        y, h, s, bits = task_batch(task, n, 4242 + seed, snr_db=10.0)
        res = {}
        for key, llr in (("sdnet", det.logits(y, h, s)), ("zf", zf(y, h, s))):
            llr = tf.cast(llr, tf.float32)
            err = tf.cast(tf.not_equal(tf.cast(llr > 0, tf.float32), bits), tf.float32)
            bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=bits, logits=llr)
            res[key] = (_per_use(err, n).mean(1), _per_use(bce, n).mean(1))
        d = [res["zf"][i] - res["sdnet"][i] for i in (0, 1)]
        z = [x.mean() / x.std() * np.sqrt(n) for x in d]
        print(f"seed {seed}: train {t1 - t0:.1f}s eval {time.time() - t1:.1f}s BER sdnet "
              f"{res['sdnet'][0].mean():.4f} zf {res['zf'][0].mean():.4f} paired z {z[0]:.1f}; "
              f"BCE {res['sdnet'][1].mean():.4f} zf {res['zf'][1].mean():.4f} z {z[1]:.1f}",
              flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
