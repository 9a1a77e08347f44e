r"""Training data of EQ-Net: Sionna-simulated soft bits (EQ-Net paper, Sect. 2.6.3).

The chain is that of ``links.CodedMIMOLink`` up to the detector:
:class:`~sionna.phy.mapping.BinarySource` payloads of ``k`` bits per stream ->
:class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` ``(k, n)`` with the 5G bit
interleaver -> QAM :class:`~sionna.phy.mapping.Mapper` -> flat-fading MIMO
channel :class:`kaq_sionna.channels.FlatFadingMIMOChannel` (i.i.d.
``CN(0, 1/num_rx)`` Rayleigh by default, a new matrix per channel use) and
AWGN of variance ``N0 = 10^(-Es/N0 / 10)`` -> the *source* detector (any
registry name, built with :func:`kaq_sionna.registry.detectors.build_detector`;
``"ml"`` gives the exact ML soft bits of eq. (7)). A *packet* is one codeword
per stream, i.e. ``n / num_bits_per_symbol`` channel uses; every channel use is
one sample ``(y, H, N0, Lambda, coded bits)``. Data are drawn for each SNR of
the scenario (the paper uses six log-spaced values, i.e. evenly spaced in dB)
and split 80/10/10 into training, validation and test sets by a seeded
permutation.

Reproducibility: Sionna's global generator is re-seeded (``sionna.phy.config.seed``)
from the scenario seed, the SNR index and the chunk index before every chunk,
so a data set depends only on the scenario (not on the chunking of earlier
SNRs or on what ran before). This overwrites the global Sionna seed.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import io
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sionna.phy import config
from sionna.phy.channel import ApplyFlatFadingChannel
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Mapper

from kaq_sionna.channels import FlatFadingMIMOChannel
from kaq_sionna.channels.cdl import cdl_sampler
from kaq_sionna.core.atomic_io import atomic_write_bytes
from kaq_sionna.detection.ml import detector_chunk_size  # noqa: F401  (re-exported)
from kaq_sionna.registry.detectors import LinkContext, build_detector
from kaq_sionna.softbits.scalar import llr_to_softbit
from kaq_sionna.training.data import derive_seed

__all__ = ["FIELDS", "SoftBitDataset", "detector_chunk_size", "generate_softbit_data",
           "load_dataset", "num_samples", "permute_streams", "save_dataset", "split_indices"]

FIELDS = ("y", "h", "no", "softbits", "bits", "snr_index")
# Channel uses generated per chunk (before detection).
GENERATION_CHUNK = 8192


@dataclass
class SoftBitDataset:
    """Samples of one MIMO channel use each (numpy arrays, first axis = sample).

    Attributes
    ----------
    y : [N, num_rx], complex64
    h : [N, num_rx, num_tx], complex64
        Channel given to the detector (perfect CSI).
    no : [N], float32
        Noise variance ``N0`` (the noise covariance is ``N0 I``).
    softbits : [N, num_tx, num_bits_per_symbol], float32
        Source soft bits ``tanh(LLR / 2)``.
    bits : [N, num_tx, num_bits_per_symbol], uint8
        Transmitted (coded) bits.
    snr_index : [N], int8
        Index of the sample's SNR in ``snr_db``.
    snr_db : list of float
        Es/N0 values in dB.
    """

    y: np.ndarray
    h: np.ndarray
    no: np.ndarray
    softbits: np.ndarray
    bits: np.ndarray
    snr_index: np.ndarray
    snr_db: list

    def __len__(self):
        return len(self.no)

    def subset(self, idx):
        """The samples ``idx`` (an index array) as a new data set."""
        return SoftBitDataset(*(getattr(self, f)[idx] for f in FIELDS), list(self.snr_db))

    def s(self, idx=slice(None)):
        """Noise covariances ``N0 I`` of the samples ``idx``, ``[n, num_rx, num_rx]`` complex64."""
        nr = self.y.shape[-1]
        return (self.no[idx, None, None] * np.eye(nr, dtype=np.float32)).astype(np.complex64)


def split_indices(num_samples, seed, fractions=(0.8, 0.1, 0.1)):
    """Seeded permutation split into training / validation / test index arrays (80/10/10)."""
    perm = np.random.default_rng(derive_seed(seed, "split")).permutation(num_samples)
    n_train = int(round(fractions[0] * num_samples))
    n_val = int(round(fractions[1] * num_samples))
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]


def permute_streams(rng, h, softbits):
    """One random stream order per sample: the columns of ``h`` and the rows of
    ``softbits`` permuted together (``augment = "permutations"``).

    Relabelling the streams permutes the ML soft-bit matrix the same way (and
    leaves ``y`` unchanged), so each epoch sees new, exactly labelled samples.

    Input
    -----
    rng : numpy.random.Generator
    h : [n, num_rx, num_tx], complex
    softbits : [n, num_tx, num_bits_per_symbol], float

    Output
    ------
    h, softbits : the permuted copies
    """
    order = np.argsort(rng.random((h.shape[0], h.shape[-1])), axis=1)
    return (np.take_along_axis(h, order[:, None, :], 2),
            np.take_along_axis(softbits, order[:, :, None], 1))


class _Detect:
    """Runs the source detector in fixed-size chunks, XLA-compiled when possible."""

    def __init__(self, det, chunk, jit_compile, say):
        self.det, self.chunk, self.say = det, chunk, say
        self.fn = tf.function(self._call, jit_compile=jit_compile)
        self.jit = jit_compile

    def _call(self, y, h, s):
        return self.det(y, h, s)

    def __call__(self, y, h, s):
        n, c = y.shape[0], self.chunk
        out = []
        for i in range(0, n, c):
            yy, hh, ss = y[i:i + c], h[i:i + c], s[i:i + c]
            m = yy.shape[0]
            if m < c:  # pad the last chunk: one compiled shape
                pad = c - m
                yy = np.concatenate([yy, np.repeat(yy[:1], pad, 0)])
                hh = np.concatenate([hh, np.repeat(hh[:1], pad, 0)])
                ss = np.concatenate([ss, np.repeat(ss[:1], pad, 0)])
            try:
                llr = self.fn(tf.constant(yy), tf.constant(hh), tf.constant(ss))
            except Exception as err:  # noqa: BLE001 - any XLA failure: retry in graph mode
                if not self.jit:
                    raise
                self.say(f"  source detector does not compile with XLA "
                         f"({type(err).__name__}); using graph mode")
                self.jit = False
                self.fn = tf.function(self._call)
                llr = self.fn(tf.constant(yy), tf.constant(hh), tf.constant(ss))
            out.append(llr.numpy()[:m])
        return np.concatenate(out, 0)


def generate_softbit_data(system, data, seed, source_params=None, say=None):
    """Simulates the soft-bit data set of an EQ-Net training scenario.

    Parameters
    ----------
    system : dict
        ``num_tx``, ``num_rx``, ``num_bits_per_symbol``, ``channel``, ``tx_corr``,
        ``rx_corr``.
    data : dict
        ``source`` (registry detector name), ``snr_db`` (list, Es/N0 in dB),
        ``k``, ``n``, ``packets_per_snr``, ``jit_compile``, ``detector_batch``
        (0: :func:`detector_chunk_size`).
    seed : int
        Scenario seed.
    source_params : dict or None
        Parameters of the source detector (its registry parameters).
    say : callable or None
        Progress lines.

    Output
    ------
    : :class:`SoftBitDataset`
        ``len(snr_db) * packets_per_snr * n / num_bits_per_symbol`` samples, SNR-major.
    """
    say = say or (lambda text: None)
    nt, nr, nbps = system["num_tx"], system["num_rx"], system["num_bits_per_symbol"]
    k, n = data["k"], data["n"]
    ncu = n // nbps
    det = build_detector(data["source"], LinkContext(nt, nr, nbps, "single"),
                         **(source_params or {}))
    chunk = data["detector_batch"] or detector_chunk_size(nt, nbps)
    detect = _Detect(det, chunk, data["jit_compile"], say)
    if system["channel"] == "cdl":
        return _softbit_data_cdl(system, data, seed, detect, say)
    source = BinarySource(precision="single")
    encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=nbps, precision="single")
    mapper = Mapper("qam", nbps, precision="single")
    channel = FlatFadingMIMOChannel(nt, nr, system["channel"], system["tx_corr"],
                                    system["rx_corr"], precision="single")
    apply_channel = ApplyFlatFadingChannel(precision="single")
    packets_per_chunk = max(1, GENERATION_CHUNK // ncu)
    parts = {f: [] for f in FIELDS}
    for si, snr in enumerate(data["snr_db"]):
        t0 = time.time()
        no = float(10.0 ** (-snr / 10.0))  # Es/N0 = 1/N0 (kaq_sionna.channels)
        done, ci = 0, 0
        while done < data["packets_per_snr"]:
            g = min(packets_per_chunk, data["packets_per_snr"] - done)
            config.seed = derive_seed(seed, "eqnet-data", si, ci)
            b = source([g, nt, k])
            c = encoder(b)                                    # [g, nt, n]
            x = tf.transpose(mapper(c), [0, 2, 1])            # [g, ncu, nt]
            h = channel([g, ncu])                             # [g, ncu, nr, nt]
            y = apply_channel(x, h, tf.constant(no, tf.float32))
            y = tf.reshape(y, [g * ncu, nr]).numpy()
            h = tf.reshape(h, [g * ncu, nr, nt]).numpy()
            s = np.broadcast_to((no * np.eye(nr)).astype(np.complex64), (g * ncu, nr, nr))
            llr = detect(y, h, s)
            bits = tf.reshape(tf.transpose(tf.reshape(c, [g, nt, ncu, nbps]), [0, 2, 1, 3]),
                              [g * ncu, nt, nbps])
            parts["y"].append(y.astype(np.complex64))
            parts["h"].append(h.astype(np.complex64))
            parts["no"].append(np.full([g * ncu], no, np.float32))
            parts["softbits"].append(llr_to_softbit(tf.constant(llr, tf.float32)).numpy())
            parts["bits"].append(bits.numpy().astype(np.uint8))
            parts["snr_index"].append(np.full([g * ncu], si, np.int8))
            done += g
            ci += 1
        say(f"  data: Es/N0 {snr:g} dB, {done} packets ({done * ncu} channel uses), "
            f"{time.time() - t0:.1f} s")
    arrays = {f: np.concatenate(v, 0) for f, v in parts.items()}
    return SoftBitDataset(**arrays, snr_db=[float(v) for v in data["snr_db"]])


def _softbit_data_cdl(system, data, seed, detect, say):
    """:func:`generate_softbit_data` over CDL: per-resource-element samples of OFDM slots
    (:class:`kaq_sionna.channels.cdl.CDLSampler`) carrying uniformly random bits instead of LDPC
    codewords (the soft bits do not depend on the code), as many channel uses per SNR as
    the Rayleigh set would have. ``no`` holds the noise plus channel-estimation error
    variance that the detector was given (the mean diagonal of ``s``)."""
    nt, nr, nbps = system["num_tx"], system["num_rx"], system["num_bits_per_symbol"]
    sampler = cdl_sampler(nt, nr, nbps, system)
    per_snr = data["packets_per_snr"] * (data["n"] // nbps)
    parts = {f: [] for f in FIELDS}
    shifts = np.arange(nbps - 1, -1, -1)
    for si, snr in enumerate(data["snr_db"]):
        t0 = time.time()
        done, ci = 0, 0
        while done < per_snr:
            g = min(GENERATION_CHUNK, per_snr - done)
            batch = sampler(g, float(snr), derive_seed(seed, "eqnet-data-cdl", si, ci))
            llr = detect(batch.y.numpy(), batch.h.numpy(), batch.s.numpy())
            ind = batch.ind.numpy()
            parts["y"].append(batch.y.numpy().astype(np.complex64))
            parts["h"].append(batch.h.numpy().astype(np.complex64))
            no = np.real(np.diagonal(batch.s.numpy(), axis1=-2, axis2=-1)).mean(-1)
            parts["no"].append(no.astype(np.float32))
            parts["softbits"].append(llr_to_softbit(tf.constant(llr, tf.float32)).numpy())
            parts["bits"].append(((ind[..., None] >> shifts) & 1).astype(np.uint8))
            parts["snr_index"].append(np.full([g], si, np.int8))
            done += g
            ci += 1
        say(f"  data (CDL): Es/N0 {snr:g} dB, {done} channel uses, {time.time() - t0:.1f} s")
    arrays = {f: np.concatenate(v, 0) for f, v in parts.items()}
    return SoftBitDataset(**arrays, snr_db=[float(v) for v in data["snr_db"]])


def save_dataset(path, dataset, fingerprint):
    """Writes a data set (and the fingerprint of what produced it) atomically as ``.npz``."""
    buf = io.BytesIO()
    np.savez(buf, fingerprint=np.array(fingerprint), snr_db=np.array(dataset.snr_db),
             **{f: getattr(dataset, f) for f in FIELDS})
    atomic_write_bytes(path, buf.getvalue())


def load_dataset(path, fingerprint):
    """The data set stored at ``path`` if it was made with ``fingerprint``, else `None`."""
    try:
        with np.load(path, allow_pickle=False) as d:
            if str(d["fingerprint"]) != fingerprint:
                return None
            return SoftBitDataset(*(d[f] for f in FIELDS), [float(v) for v in d["snr_db"]])
    except (OSError, KeyError, ValueError):
        return None


def num_samples(data, num_bits_per_symbol):
    """Number of channel uses a data section produces."""
    return len(data["snr_db"]) * data["packets_per_snr"] * (data["n"] // num_bits_per_symbol)


