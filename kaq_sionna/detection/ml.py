r"""Exact maximum-likelihood soft bits for large candidate sets, evaluated in chunks.

Sionna's :class:`~sionna.phy.mimo.MaximumLikelihoodDetector` enumerates all
:math:`2^{N_t K}` transmit vectors (:math:`K` bits per symbol) for every channel use at once, so its memory grows
with ``batch x candidates x num_rx``: for 4x4 16-QAM (65536 candidates) a batch of a
few thousand channel uses needs tens of GiB. :class:`ChunkedMLDetector` runs the same
detector over the flattened batch in chunks of ``chunk_size`` channel uses, one chunk
after the other (a ``tf.map_fn`` with ``parallel_iterations=1``, a while loop under
XLA), so the peak memory is bounded by the chunk.

Measured cost, 4x4 16-QAM (65536 candidates), ``demapping_method="app"``, default chunk
of 128 channel uses, per 1000 channel uses, on the 2-core CPU machine while other jobs
kept its load average at ~5 (so upper bounds; ../shared/notes/sionna-1.2.md has the
unchunked detector on an idle machine at 7.3-8 s graph / 1.5-1.9 s XLA)::

    eager 14.5-17.4 s, graph (tf.function) 16.7-16.8 s, XLA (jit_compile=True) 4.0-4.1 s
    peak resident memory of the whole process: ~1.2 GiB (XLA), ~1.4 GiB (graph);
    an earlier run at a lower load, chunks of 32 / 128 / 512: XLA 3.0 / 2.9 / 4.6 s,
    graph 17.9 / 11.7 / 20.6 s, peak ~0.9 / ~1.2 / ~2.3-3.3 GiB.

Command (from the repository root, in the venv)::

    python - <<'EOF'
    import time, numpy as np, tensorflow as tf, kaq_sionna  # noqa
    from kaq_sionna.detection import ChunkedMLDetector
    from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
    y, h, s = rayleigh_mimo_batch(4, 4, 4, 1000, 10.0, seed=1).inputs
    det = ChunkedMLDetector(4, 4, "app")  # chunk_size=None -> 128 channel uses
    for mode, f in [("eager", det), ("graph", tf.function(det)),
                    ("xla", tf.function(det, jit_compile=True))]:
        f(y, h, s)  # warm-up (tracing / XLA compilation)
        ts = []
        for _ in range(3):
            t0 = time.perf_counter(); f(y, h, s).numpy(); ts.append(time.perf_counter() - t0)
        print(mode, "s per 1000 channel uses:", np.round(ts, 2))
    EOF

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import tensorflow as tf
from sionna.phy import Block
from sionna.phy.mimo import MaximumLikelihoodDetector

# Budget (bytes) for the largest intermediate of one chunk, the
# [chunk, candidates, num_rx] complex tensor of all H x; Sionna holds a few tensors of
# that size at once, so the peak is a small multiple of it.
DEFAULT_CHUNK_BYTES = 256 * 2 ** 20


class ChunkedMLDetector(Block):
    r"""Exhaustive ML detector with bit (LLR) output, evaluated in chunks of channel uses.

    Computes exactly what :class:`~sionna.phy.mimo.MaximumLikelihoodDetector`
    ``("bit", demapping_method, num_tx, "qam", num_bits_per_symbol)`` computes (eq. (7)
    of the EQ-Net paper for ``"app"``), but over the flattened batch in chunks of
    ``chunk_size`` channel uses, so that the memory stays bounded for large candidate
    sets (e.g. 4x4 16-QAM, 65536 candidates). The last chunk is padded by repeating
    the last channel use; padded results are discarded.

    Parameters
    ----------
    num_tx : int
        Number of transmitted streams.
    num_bits_per_symbol : int
        QAM order in bits, e.g. 4 for 16-QAM.
    demapping_method : "app" | "maxlog"
        Exact (log-sum-exp) or max-log LLRs.
    chunk_size : None | int
        Channel uses per chunk. `None` chooses it so that the
        ``[chunk, 2**(num_tx*num_bits_per_symbol), num_rx]`` complex tensor of all
        :math:`\mathbf{H}\mathbf{x}` fits in ``chunk_bytes`` (for 4x4 16-QAM in single
        precision and the default budget: 128). A batch smaller than a chunk is processed
        as one chunk of its own size.
    chunk_bytes : int
        Memory budget used when ``chunk_size`` is `None`.
    precision : None | "single" | "double"
        Precision of computations and outputs (Sionna's
        :attr:`~sionna.phy.config.Config.precision` if `None`).

    Input
    -----
    y : [..., num_rx], tf.complex
        Received signals.
    h : [..., num_rx, num_tx], tf.complex
        Channel matrices (``num_rx`` must be known statically).
    s : [..., num_rx, num_rx], tf.complex
        Noise covariance matrices (full rank).

    Output
    ------
    : [..., num_tx, num_bits_per_symbol], tf.float
        LLRs :math:`\ln P(b=1)/P(b=0)`.
    """

    def __init__(self, num_tx, num_bits_per_symbol, demapping_method="app", chunk_size=None,
                 chunk_bytes=DEFAULT_CHUNK_BYTES, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if chunk_size is not None and int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive integer, found {chunk_size!r}")
        self.num_tx = int(num_tx)
        self.num_bits_per_symbol = int(num_bits_per_symbol)
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.chunk_bytes = int(chunk_bytes)
        self._ml = MaximumLikelihoodDetector("bit", demapping_method, self.num_tx, "qam",
                                             self.num_bits_per_symbol, precision=precision)

    @property
    def num_candidates(self):
        """int : Number of candidate transmit vectors, ``2**(num_tx*num_bits_per_symbol)``."""
        return 2 ** (self.num_tx * self.num_bits_per_symbol)

    def _chunk(self, num_rx):
        if self.chunk_size is not None:
            return self.chunk_size
        per_use = self.num_candidates * num_rx * self.cdtype.size
        return max(1, self.chunk_bytes // per_use)

    def call(self, y, h, s):
        num_rx = y.shape[-1]
        if num_rx is None:
            raise ValueError("num_rx must be known statically")
        num_tx, nbps = self.num_tx, self.num_bits_per_symbol
        batch_shape = tf.shape(y)[:-1]
        y = tf.reshape(y, [-1, num_rx])
        h = tf.reshape(h, [-1, num_rx, num_tx])
        s = tf.reshape(s, [-1, num_rx, num_rx])

        chunk = self._chunk(num_rx)
        if y.shape[0] is not None:  # static batch (always under XLA): no oversized chunk
            chunk = max(1, min(chunk, y.shape[0]))
        n = tf.shape(y)[0]
        num_chunks = (n + chunk - 1) // chunk
        # Pad to whole chunks by repeating the last channel use (a zero s would not be
        # invertible); the padded outputs are cut off below.
        ind = tf.minimum(tf.range(num_chunks * chunk), tf.maximum(n - 1, 0))

        def chunked(x):
            x = tf.gather(x, ind)
            return tf.reshape(x, tf.concat([[num_chunks, chunk], tf.shape(x)[1:]], 0))

        llr = tf.map_fn(lambda a: self._ml(*a), (chunked(y), chunked(h), chunked(s)),
                        fn_output_signature=tf.TensorSpec([chunk, num_tx, nbps], self.rdtype),
                        parallel_iterations=1)
        llr = tf.reshape(llr, [-1, num_tx, nbps])[:n]
        return tf.reshape(llr, tf.concat([batch_shape, [num_tx, nbps]], 0))



__all__ = ["ChunkedMLDetector", "DEFAULT_CHUNK_BYTES"]


def detector_chunk_size(num_tx, num_bits_per_symbol, budget=2 ** 23):
    """Channel uses per detector call: bounded so that exhaustive ML (``2**(num_tx K)``
    candidates per channel use) stays within memory; 64..4096."""
    return int(max(64, min(4096, budget // 2 ** (num_tx * num_bits_per_symbol))))
