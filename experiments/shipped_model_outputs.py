"""Outputs of every shipped model on a fixed input, to check a refactor changes nothing.

Writes ``tests/data/shipped_model_outputs.npz``: for each shipped model, the
LLRs of the detector it loads as (unfolded models and EQ-Net models with a
trained estimation encoder) on a fixed batch of Rayleigh channel uses, and for
EQ-Net models the codes and reconstructed LLRs of a fixed batch of soft bits.
``tests/test_shipped_models.py`` compares freshly loaded models with this file
bit for bit.

Run: ``python experiments/shipped_model_outputs.py [--out PATH]`` (from a clean commit).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)

ROOT = Path(__file__).resolve().parent.parent
BATCH = 16
SEED = 20261125


def fixed_input(num_tx, num_rx, seed=SEED):
    """A fixed (y, h, s) batch: Rayleigh h, unit-energy Gaussian x, noise variance 0.1."""
    import tensorflow as tf

    rng = np.random.default_rng(seed + 1000 * num_tx + num_rx)
    cn = lambda *shape: (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)  # noqa: E731
    h = cn(BATCH, num_rx, num_tx) / np.sqrt(num_rx)
    x = cn(BATCH, num_tx)
    no = 0.1
    y = np.einsum("bij,bj->bi", h, x) + np.sqrt(no) * cn(BATCH, num_rx)
    s = np.broadcast_to(no * np.eye(num_rx), (BATCH, num_rx, num_rx))
    c64 = lambda a: tf.constant(np.asarray(a), tf.complex64)  # noqa: E731
    return c64(y), c64(h), c64(s)


def fixed_llr(num_tx, num_bits_per_symbol, seed=SEED):
    """Fixed LLRs ``[BATCH, num_tx, num_bits_per_symbol]`` (Gaussian, std 4)."""
    rng = np.random.default_rng(seed + 7 * num_tx + num_bits_per_symbol)
    return (4.0 * rng.standard_normal((BATCH, num_tx, num_bits_per_symbol))).astype(np.float32)


def model_outputs(name, config):
    """Arrays keyed ``<name>/<what>`` for one shipped model."""
    from kaq_sionna.registry import LinkContext, build_detector

    system = config["system"]
    ntx, nrx, m = system["num_tx"], system["num_rx"], system["num_bits_per_symbol"]
    out = {}
    estimates = config.get("model") != "eqnet" or config.get("epochs_stage2")
    if estimates:
        det = build_detector(name, LinkContext(ntx, nrx, m))
        out[f"{name}/llr"] = np.asarray(det(*fixed_input(ntx, nrx)))
    if config.get("model") == "eqnet":
        from kaq_sionna.registry import load_pretrained

        model = load_pretrained(name)
        if model.codebook is None:  # unquantized-latent models (no codebook to compress with)
            out[f"{name}/reconstructed"] = np.asarray(model.reconstruct(fixed_llr(ntx, m)))
            return out
        codes = model.compress(fixed_llr(ntx, m))
        out[f"{name}/codes"] = np.asarray(codes)
        out[f"{name}/reconstructed"] = np.asarray(model.decompress(codes))
    return out


def main(argv=None):
    from kaq_sionna import pretrained

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "tests" / "data" / "shipped_model_outputs.npz"))
    parser.add_argument("--models", nargs="*", help="only these models (default: all shipped)")
    args = parser.parse_args(argv)
    arrays = {}
    for name, config in sorted(pretrained.available().items()):
        if args.models and name not in args.models:
            continue
        print(name, file=sys.stderr, flush=True)
        arrays.update(model_outputs(name, config))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {len(arrays)} arrays to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
