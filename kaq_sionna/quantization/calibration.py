"""Calibration (and small training) sets for unfolded detectors: Rayleigh MIMO
batches drawn from a local, seeded random generator.

The model is that of :mod:`kaq_sionna.channels` and ``docs/conventions.md``:
``h`` i.i.d. ``CN(0, 1/num_rx)``, unit-energy QAM symbols from Sionna's
:class:`~sionna.phy.mapping.Constellation`, ``s = N0 I`` with
``Es/N0 = 1/N0``. A local :class:`tf.random.Generator` is used so that drawing
a calibration set does not move Sionna's global random state.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

from typing import NamedTuple

import tensorflow as tf
from sionna.phy.config import config, dtypes
from sionna.phy.mapping import Constellation


class MIMOBatch(NamedTuple):
    """A batch of flat-fading MIMO channel uses (shapes for batch shape ``[B]``).

    x : [B, num_tx] tf.complex, transmitted symbols; ind : [B, num_tx] tf.int32,
    their constellation indices; y : [B, num_rx]; h : [B, num_rx, num_tx];
    s : [B, num_rx, num_rx]; no : [B] tf.float, noise variance per sample.
    """

    x: tf.Tensor
    ind: tf.Tensor
    y: tf.Tensor
    h: tf.Tensor
    s: tf.Tensor
    no: tf.Tensor

    @property
    def inputs(self):
        """``(y, h, s)``, the detector's inputs."""
        return self.y, self.h, self.s


def rayleigh_mimo_batch(num_tx, num_rx, num_bits_per_symbol, batch_size, snr_db,
                        seed=None, precision=None):
    r"""Draws a batch of uncoded QAM transmissions over i.i.d. Rayleigh MIMO channels.

    Parameters
    ----------
    num_tx, num_rx : int
    num_bits_per_symbol : int
        QAM order in bits.
    batch_size : int
    snr_db : float or (float, float)
        Es/N0 in dB, or a range from which each sample's SNR is drawn uniformly
        (the KAQ paper trains with SNR uniform in 0-25 dB).
    seed : None, int or tf.random.Generator
        Seed of a new local generator, a generator to draw from (e.g. inside a
        ``tf.function`` training step), or `None` for Sionna's global generator.
    precision : None | "single" | "double"

    Output
    ------
    : :class:`MIMOBatch`
    """
    precision = precision or config.precision
    rdtype = dtypes[precision]["tf"]["rdtype"]
    cdtype = dtypes[precision]["tf"]["cdtype"]
    if isinstance(seed, tf.random.Generator):
        gen = seed
    else:
        gen = tf.random.Generator.from_seed(seed) if seed is not None else config.tf_rng
    points = Constellation("qam", num_bits_per_symbol, precision=precision).points
    ind = gen.uniform([batch_size, num_tx], 0, 2 ** num_bits_per_symbol, dtype=tf.int32)
    x = tf.gather(points, ind)

    def cn(shape, var):
        re_im = gen.normal(shape + [2], dtype=rdtype) * tf.sqrt(tf.cast(var, rdtype) / 2)
        return tf.complex(re_im[..., 0], re_im[..., 1])

    h = cn([batch_size, num_rx, num_tx], 1.0 / num_rx)
    if isinstance(snr_db, (tuple, list)):
        snr = gen.uniform([batch_size], snr_db[0], snr_db[1], dtype=rdtype)
    else:
        snr = tf.fill([batch_size], tf.cast(snr_db, rdtype))
    no = tf.pow(tf.cast(10.0, rdtype), -snr / 10.0)
    noise = cn([batch_size, num_rx], 1.0) * tf.cast(tf.sqrt(no), cdtype)[:, None]
    y = tf.linalg.matvec(h, x) + noise
    s = tf.cast(no, cdtype)[:, None, None] * tf.eye(num_rx, dtype=cdtype)
    return MIMOBatch(x, ind, y, h, s, no)


__all__ = ["MIMOBatch", "rayleigh_mimo_batch"]
