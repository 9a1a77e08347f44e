"""SDNet tasks and their data: a task = (antenna configuration, modulation, channel model, SNR
range, LS pilots).

Channels (all with the project's normalisation, ``docs/conventions.md``):

* ``"rayleigh"``: i.i.d. ``CN(0, 1/num_rx)``;
* ``"kronecker"``: ``R_rx^{1/2} G R_tx^{1/2} / sqrt(num_rx)``, exponential correlation
  ``tx_corr``, ``rx_corr``;
* ``"cdl"``: per-resource-element samples of an OFDM slot over 3GPP CDL ``cdl_model`` with
  Sionna's LS estimation and linear interpolation
  (:class:`kaq_sionna.channels.cdl.CDLSampler`, the inputs the detector sees in the OFDM link).

For the flat channels the receiver's channel is the pilot-based LS estimate with ``pilots``
orthogonal unit-energy pilots per stream, error ``CN(0, N0 / pilots)``
(:func:`kaq_sionna.channels.ls_csi_error_var`); ``s = N0 I``. Es/N0 is drawn uniformly in
``snr_db`` per sample (per slot for CDL).
"""

from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf
from sionna.phy.mapping import Constellation

from kaq_sionna.channels import ls_csi_error_var
from kaq_sionna.detection.sdnet import bits_from_indices

__all__ = ["CHANNELS", "Task", "task_batch"]

CHANNELS = ("rayleigh", "kronecker", "cdl")


@dataclass(frozen=True)
class Task:
    """One SDNet task (see the module docstring)."""

    name: str
    num_tx: int
    num_rx: int
    num_bits_per_symbol: int
    channel: str = "rayleigh"
    snr_db: tuple = (5.0, 20.0)
    tx_corr: float = 0.0
    rx_corr: float = 0.0
    cdl_model: str = "C"
    pilots: int = 16

    def __post_init__(self):
        if self.channel not in CHANNELS:
            raise ValueError(f"task {self.name}: channel must be one of {CHANNELS}, found "
                             f"{self.channel!r}")
        if self.channel != "cdl" and self.pilots < self.num_tx:
            raise ValueError(f"task {self.name}: pilots must be >= num_tx = {self.num_tx} "
                             f"(orthogonal pilots), found {self.pilots}")

    @property
    def dims(self):
        return (self.num_tx, self.num_rx, self.num_bits_per_symbol)

    def summary(self):
        ch = {"rayleigh": "Rayleigh", "kronecker": f"Kronecker tx {self.tx_corr} rx {self.rx_corr}",
              "cdl": f"CDL-{self.cdl_model} OFDM LS"}[self.channel]
        return (f"{self.num_tx}x{self.num_rx} {2 ** self.num_bits_per_symbol}-QAM, {ch}, "
                f"Es/N0 {self.snr_db[0]:g}-{self.snr_db[1]:g} dB")

    def as_dict(self):
        d = asdict(self)
        d["snr_db"] = list(self.snr_db)
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        d["snr_db"] = tuple(float(v) for v in d.get("snr_db", (5.0, 20.0)))
        return cls(**d)


def _sqrtm(r):
    w, v = np.linalg.eigh(r)
    return (v * np.sqrt(np.maximum(w, 0))) @ v.conj().T


def _exp_corr(rho, n):
    i = np.arange(n)
    return rho ** np.abs(i[:, None] - i[None, :])


def task_batch(task, num_samples, seed, snr_db=None):
    """Draws ``num_samples`` channel uses of ``task``.

    Input
    -----
    task : :class:`Task`
    num_samples : int
    seed : int
    snr_db : None | float | (float, float)
        Overrides the task's SNR range (a float: every sample at that Es/N0).

    Output
    ------
    y : [N, num_rx] tf.complex64
    h_hat : [N, num_rx, num_tx] tf.complex64
        LS channel estimate.
    s : [N, num_rx, num_rx] tf.complex64
    bits : [N, num_tx, num_bits_per_symbol] tf.float32
    """
    snr = task.snr_db if snr_db is None else snr_db
    ntx, nrx, nbps = task.dims
    if task.channel == "cdl":
        from kaq_sionna.channels.cdl import cdl_sampler

        sampler = cdl_sampler(ntx, nrx, nbps, {"cdl_model": task.cdl_model, "csi": "ls"})
        b = sampler(num_samples, tuple(snr) if isinstance(snr, (tuple, list)) else float(snr),
                    seed)
        return b.y, b.h, b.s, bits_from_indices(b.ind, nbps)
    gen = tf.random.Generator.from_seed(seed)
    points = Constellation("qam", nbps, precision="single").points
    ind = gen.uniform([num_samples, ntx], 0, 2 ** nbps, dtype=tf.int32)
    x = tf.gather(points, ind)

    def cn(shape):
        re_im = gen.normal(list(shape) + [2]) * np.sqrt(0.5).astype(np.float32)
        return tf.complex(re_im[..., 0], re_im[..., 1])

    h = cn([num_samples, nrx, ntx]) / np.sqrt(nrx).astype(np.complex64)
    if task.channel == "kronecker":
        rt = tf.constant(_sqrtm(_exp_corr(task.tx_corr, ntx)), tf.complex64)
        rr = tf.constant(_sqrtm(_exp_corr(task.rx_corr, nrx)), tf.complex64)
        h = tf.matmul(tf.matmul(rr, h), rt)
    if isinstance(snr, (tuple, list)):
        snr_v = gen.uniform([num_samples], snr[0], snr[1])
    else:
        snr_v = tf.fill([num_samples], float(snr))
    no = tf.pow(10.0, -snr_v / 10.0)
    y = tf.linalg.matvec(h, x) + cn([num_samples, nrx]) * tf.complex(tf.sqrt(no), 0.0)[:, None]
    err_std = tf.sqrt(ls_csi_error_var(no, task.pilots))
    h_hat = h + cn([num_samples, nrx, ntx]) * tf.complex(err_std, 0.0)[:, None, None]
    s = tf.complex(no, 0.0)[:, None, None] * tf.eye(nrx, dtype=tf.complex64)
    return y, h_hat, s, bits_from_indices(ind, nbps)
