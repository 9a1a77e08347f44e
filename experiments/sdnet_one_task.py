"""Diagnostic (issue 21): does SDNet learn anything beyond ZF on ONE task with fresh data?

Trains the collective architecture on a single task (fresh samples every step, unlimited data)
and prints the uncoded BER at fixed Es/N0 of SDNet, Sionna's ZF and LMMSE on the same
validation samples (the same LS CSI; seeds disjoint from the training seeds) every
``--eval-every`` steps.

Run: ``PYTHONPATH=. nice -n 19 python experiments/sdnet_one_task.py --steps 1500 --threads 1``
"""

import argparse
import time

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--eval-samples", type=int, default=10000)
    p.add_argument("--snr", type=float, nargs="*", default=[10.0, 15.0])
    p.add_argument("--task", default="4x8-16qam-rayleigh",
                   help="ntx x nrx - qam - channel (rayleigh | kron<tx><rx>, e.g. kron38)")
    p.add_argument("--head-units", type=int, default=0, help="0: the collective's head")
    p.add_argument("--conv-width", type=int, default=0, help="0: the collective's front")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from kaq_sionna.detection.sdnet import COLLECTIVE_CONV, COLLECTIVE_HEAD, SDNet
    from kaq_sionna.training.sdnet_tasks import Task
    from kaq_sionna.training.sdnet_trainer import evaluate_ber, fit, linear_ber

    dims, qam, channel = args.task.split("-")
    ntx, nrx = (int(v) for v in dims.split("x"))
    nbps = {"4qam": 2, "16qam": 4, "64qam": 6}[qam]
    kw = {}
    if channel.startswith("kron"):
        kw = {"channel": "kronecker", "tx_corr": int(channel[4]) / 10, "rx_corr": int(channel[5]) / 10}
    task = Task("diag", ntx, nrx, nbps, **kw)
    keras.utils.set_random_seed(args.seed)
    conv = COLLECTIVE_CONV if not args.conv_width else [
        dict(c, filters=args.conv_width) for c in COLLECTIVE_CONV]
    head = dict(COLLECTIVE_HEAD, **({"head_units": (args.head_units,)} if args.head_units else {}))
    det = SDNet(ntx, nrx, nbps, conv, **head)
    vseed = 990_000
    zf = linear_ber("zf", task, args.snr, args.eval_samples, vseed)
    lmmse = linear_ber("lmmse", task, args.snr, args.eval_samples, vseed)
    from sionna.phy.mimo import LinearDetector

    from kaq_sionna.detection.sdnet import bit_bce
    from kaq_sionna.training.sdnet_tasks import task_batch

    val = task_batch(task, args.eval_samples, vseed + 99)  # the task's SNR range

    def bce(d):
        llr = d.logits(*val[:3]) if hasattr(d, "logits") else d(*val[:3])
        return float(bit_bce(val[3], llr))

    bce_zf = bce(LinearDetector("zf", "bit", "app", "qam", nbps))
    print(f"task {task.summary()}; Es/N0 {args.snr}: ZF {zf}, LMMSE {lmmse}", flush=True)
    print(f"BCE over the task's SNR range: ZF {bce_zf:.4f}, LMMSE "
          f"{bce(LinearDetector('lmmse', 'bit', 'app', 'qam', nbps)):.4f}", flush=True)
    done, t0 = 0, time.time()
    while done < args.steps:
        n = min(args.eval_every, args.steps - done)
        fit(det, task, n, args.batch_size, args.lr, args.seed * 1000 + done)
        done += n
        ber = evaluate_ber(det, task, args.snr, args.eval_samples, vseed)
        print(f"step {done}: SDNet {[round(b, 4) for b in ber]}  BCE {bce(det):.4f} (ZF "
              f"{bce_zf:.4f})  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
