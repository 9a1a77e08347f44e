"""Probe: why EQ-Net's estimation encoder f_E did not learn at 4x4 16-QAM, and what fixes it.

Retrains only stage 2 (f_E, L1 feature loss of eq. (19) against the frozen f_Q) on top of a
trained model's f_Q and g_Q, on that model's cached training data, with one of these variants:

* ``raw``: the paper's inputs (y, H, sigma_n), as the trainer does;
* ``raw-aug``: the same with random receive rotations y -> U y, H -> U H (U Haar unitary) and
  random stream permutations per sample (both leave the ML soft bits unchanged / permuted);
* ``mf``: matched-filter inputs (H^H y, H^H H, sigma_n);
* ``mf-perm``: ``mf`` with random stream permutations;
* ``lmmse-perm``: (LMMSE estimate, H^H H, sigma_n) with random stream permutations (what
  ``estimation_inputs = "lmmse"`` and ``augment = "permutations"`` now do in the trainer);
* ``lmmse-perm-dist``: ``lmmse-perm`` trained on the distortion of g_Q(f_E(.)) instead of the
  feature loss.

Prints, per epoch, the training loss, the validation feature loss and the validation
hard-decision BER of g_Q(f_E(.)) (and of the source soft bits).

Needs ``results/train/<model>/data.npz`` and ``.../model/`` (run ``kaq-sionna train`` of the
model first; neither is committed). Run with the package installed (one thread, ~4 s per epoch
at 4x4 16-QAM); the outcome is in docs/eqnet.md::

    nice -n 10 python experiments/eqnet_stage2_probe.py lmmse-perm --epochs 30 \
        --model eqnet-l-4x4-16qam
"""

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]  # the repository (results/train/ lives there)
VARIANTS = ("raw", "raw-aug", "mf", "mf-perm", "lmmse-perm", "lmmse-perm-dist")


def haar_unitary(rng, batch, n):
    z = (rng.standard_normal((batch, n, n)) + 1j * rng.standard_normal((batch, n, n))) / 2 ** .5
    q, r = np.linalg.qr(z)
    d = np.diagonal(r, axis1=1, axis2=2)
    return q * (d / np.abs(d))[:, None, :]


def transform(kind, y, h, no):
    """(y-input, h-input) of f_E for the variant's input kind, numpy complex64."""
    if kind == "raw":
        return y, h
    hh = np.conj(np.swapaxes(h, 1, 2))
    g = hh @ h
    mf = np.einsum("bij,bj->bi", hh, y)
    if kind == "mf":
        return mf.astype(np.complex64), g.astype(np.complex64)
    a = g + no[:, None, None] * np.eye(h.shape[-1])
    x = np.linalg.solve(a, mf[..., None])[..., 0]
    return x.astype(np.complex64), g.astype(np.complex64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--model", default="eqnet-l-4x4-16qam",
                        help="training output directory name under results/train/")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    import tensorflow as tf

    import kaq_sionna  # noqa: F401  (quiet TensorFlow)
    from kaq_sionna.softbits.eqnet import EQNet, feature_loss, load_eqnet, softbit_distortion
    from kaq_sionna.training.eqnet_data import split_indices

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    run = ROOT / "results" / "train" / args.model
    d = np.load(run / "data.npz")
    src = load_eqnet(run / "model")
    kind = args.variant.split("-")[0]
    # f_E's input sizes of the "lmmse" layout fit the mf inputs too (num_tx-sized vectors)
    m = EQNet(src.num_tx, src.num_rx, src.num_bits_per_symbol, src.latent_dim, "L",
              src.bits_per_feature, seed=7,
              estimation_inputs="raw" if kind == "raw" else "lmmse")
    for a, b in zip(m.quantization_variables + m.decoder_variables,
                    src.quantization_variables + src.decoder_variables, strict=True):
        a.assign(b)
    if kind == "mf":  # feed mf inputs through the raw path's layers of the lmmse layout
        m.estimation_inputs = "raw"
        m.num_rx = m.num_tx
    y, h, no, sb, bits = d["y"], d["h"], d["no"], d["softbits"], d["bits"]
    tr, va, _ = split_indices(len(no), 2026)  # the trainer's split (scenario seed 2026)
    nr, nt = h.shape[1], h.shape[2]
    if kind == "lmmse":
        def inputs(y, h, no):
            return y, h            # the model computes the LMMSE inputs itself
    else:
        def inputs(y, h, no):
            return transform(kind, y, h, no)

    def s_of(no_, n):
        return (no_[:, None, None] * np.eye(n)).astype(np.complex64)

    s_dim = nr if kind != "mf" else nt
    opt = tf.keras.optimizers.Adam(args.lr)
    variables = m.estimation_variables
    use_dist = args.variant.endswith("dist")

    @tf.function(reduce_retracing=True)
    def step(y_b, h_b, s_b, sb_b):
        z = m.encode(sb_b)
        with tf.GradientTape() as tape:
            z_hat = m.estimate_features(y_b, h_b, s_b)
            if use_dist:
                loss = tf.reduce_mean(softbit_distortion(sb_b, m.decode(z_hat)))
            else:
                loss = tf.reduce_mean(feature_loss(z, z_hat))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    rng = np.random.default_rng(1)
    yv, hv = inputs(y[va], h[va], no[va])
    sv = s_of(no[va], s_dim)
    zv = m.encode(sb[va]).numpy()
    ber_src = np.mean((sb[va] > 0) != (bits[va] > 0))
    bs = args.batch_size
    for epoch in range(args.epochs):
        t0, losses = time.time(), []
        order = rng.permutation(tr)
        for i in range(len(order) // bs):
            idx = order[i * bs:(i + 1) * bs]
            y_b, h_b, sb_b = y[idx], h[idx], sb[idx]
            if args.variant == "raw-aug":
                u = haar_unitary(rng, bs, nr)
                y_b, h_b = np.einsum("bij,bj->bi", u, y_b), u @ h_b
            if args.variant != "raw" and args.variant != "mf":  # stream permutations
                p = np.argsort(rng.random((bs, nt)), axis=1)
                h_b = np.take_along_axis(h_b, p[:, None, :], 2)
                sb_b = np.take_along_axis(sb_b, p[:, :, None], 1)
            y_b, h_b = inputs(y_b.astype(np.complex64), h_b.astype(np.complex64), no[idx])
            losses.append(float(step(tf.constant(y_b), tf.constant(h_b),
                                     tf.constant(s_of(no[idx], s_dim)), tf.constant(sb_b))))
        z_hat = m.estimate_features(yv, hv, sv).numpy()
        est = m.decode(z_hat).numpy()
        print(f"{args.variant} epoch {epoch + 1}: loss {np.mean(losses):.3f}  val feature loss "
              f"{np.mean(np.sum(np.abs(z_hat - zv), -1)):.3f}  val BER "
              f"{np.mean((est > 0) != (bits[va] > 0)):.4f} (source {ber_src:.4f})  "
              f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
