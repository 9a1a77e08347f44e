r"""Inputs for calibrating and checking exported models, drawn from each model's own
training distribution (as recorded in its ``config.json``).

* PGD-Net / ADMM-Net: uncoded QAM over i.i.d. Rayleigh ``CN(0, 1/num_rx)``,
  Es/N0 uniform in ``training_snr_db`` (0-25 dB for the shipped models), by
  :func:`~kaq_sionna.quantization.calibration.rayleigh_mimo_batch`.
* EQ-Net: the same channel at the Es/N0 points of ``training_snr_esno_db``
  (equally many samples per point); the quantization encoder's input is the
  soft-bit source it was trained on (``source``, exact ML ``"app"`` for the
  shipped models) run on those channel uses, the decoder's input the codes of
  those soft bits.

Every draw is seeded (local generators: Sionna's global random state is not moved).
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from kaq_sionna.deploy.real_model import real_inputs
from kaq_sionna.quantization.calibration import rayleigh_mimo_batch

__all__ = ["Draw", "bits_of_indices", "draw_channel_uses", "training_snr_db"]


class Draw(NamedTuple):
    """A seeded draw of channel uses.

    Attributes
    ----------
    complex_inputs : tuple ``(y, h, s)`` of tf.complex64 tensors (the TF models' inputs)
    real : dict of np.float32 arrays ``y_real``, ``h_real``, ``s_real`` (the exported models')
    bits : [batch, num_tx, num_bits_per_symbol], np.int8, transmitted bits
    snr_db : [batch], np.float32
    """

    complex_inputs: tuple
    real: dict
    bits: np.ndarray
    snr_db: np.ndarray


def training_snr_db(config):
    """The model's training Es/N0: ``(lo, hi)`` (uniform) or a list of points, in dB."""
    if "training_snr_esno_db" in config:
        return [float(v) for v in config["training_snr_esno_db"]]
    lo, hi = config.get("training_snr_db", (0.0, 25.0))
    return (float(lo), float(hi))


def bits_of_indices(ind, num_bits_per_symbol):
    """Bits (MSB first, Sionna's QAM labelling) of constellation indices ``[...]`` -> ``[..., K]``."""
    ind = np.asarray(ind)
    shifts = np.arange(num_bits_per_symbol - 1, -1, -1)
    return ((ind[..., None] >> shifts) & 1).astype(np.int8)


def draw_channel_uses(config, num_samples, seed, snr_db=None):
    r"""Draws channel uses of a model's system from its training distribution.

    Parameters
    ----------
    config : dict
        The model's ``config.json`` (``system`` and the training SNR).
    num_samples : int
    seed : int
    snr_db : None, float, (lo, hi) or list of float
        Overrides the training SNR (a fixed point for a BER, e.g.); a list
        draws equally many samples per point (in order).

    Output
    ------
    : :class:`Draw`
    """
    system = config["system"]
    nt, nr, k = system["num_tx"], system["num_rx"], system["num_bits_per_symbol"]
    snr = training_snr_db(config) if snr_db is None else snr_db
    if isinstance(snr, list):
        counts = np.diff(np.linspace(0, num_samples, len(snr) + 1).round().astype(int))
        parts = [rayleigh_mimo_batch(nt, nr, k, int(c), float(v), seed=seed * 1000 + i,
                                     precision="single")
                 for i, (v, c) in enumerate(zip(snr, counts, strict=True)) if c > 0]
        snrs = np.concatenate([np.full(c, v, np.float32)
                               for v, c in zip(snr, counts, strict=True) if c > 0])
    else:
        parts = [rayleigh_mimo_batch(nt, nr, k, num_samples, snr, seed=seed, precision="single")]
        snrs = (-10.0 * np.log10(parts[0].no.numpy())).astype(np.float32)
    y, h, s = (np.concatenate([getattr(p, f).numpy() for p in parts]) for f in ("y", "h", "s"))
    ind = np.concatenate([p.ind.numpy() for p in parts])
    yr, hr, sr = real_inputs(y, h, s)

    return Draw((tf.constant(y), tf.constant(h), tf.constant(s)),
                {"y_real": yr, "h_real": hr, "s_real": sr}, bits_of_indices(ind, k), snrs)
