"""``kaq-sionna bench link``: the simulated information-bit throughput of
:class:`links.CodedMIMOLink` against a plain Sionna chain written inline from the same
components, in eager, graph and XLA modes (timed interleaved, reported as ratios within
one run).
"""

import statistics
import time

import tensorflow as tf
from sionna.phy.channel import ApplyFlatFadingChannel, GenerateFlatFadingChannel
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Mapper
from sionna.phy.mimo import LinearDetector
from sionna.phy.utils import ebnodb2no

from kaq_sionna.core.provenance import machine
from kaq_sionna.core.quiet_tf import stderr_silenced

__all__ = ["bench_link", "plain_sionna_chain"]

def plain_sionna_chain(num_tx, num_rx, num_bits_per_symbol, k, n):
    """The reference: the same Sionna components as CodedMIMOLink, inline, LMMSE app."""
    source = BinarySource()
    encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=num_bits_per_symbol)
    decoder = LDPC5GDecoder(encoder, hard_out=True)
    mapper = Mapper("qam", num_bits_per_symbol)
    gen_channel = GenerateFlatFadingChannel(num_tx, num_rx)
    apply_channel = ApplyFlatFadingChannel()
    detector = LinearDetector("lmmse", "bit", "app", "qam", num_bits_per_symbol)
    ncu = n // num_bits_per_symbol

    def chain(batch_size, ebno_db):
        no = ebnodb2no(ebno_db, num_bits_per_symbol, k / n)
        b = source([batch_size, num_tx, k])
        x = tf.transpose(mapper(encoder(b)), [0, 2, 1])
        h = gen_channel(batch_size * ncu) / tf.cast(tf.sqrt(float(num_rx)), tf.complex64)
        h = tf.reshape(h, [batch_size, ncu, num_rx, num_tx])
        y = apply_channel(x, h, no)
        s = tf.cast(no, tf.complex64) * tf.eye(num_rx, batch_shape=[batch_size, ncu],
                                               dtype=tf.complex64)
        llr = tf.transpose(detector(y, h, s), [0, 2, 1, 3])
        return b, decoder(tf.reshape(llr, [batch_size, num_tx, n]))

    return chain


def _interleaved_rates(fns, batch_size, ebno_db, info_bits, repeats):
    """Bits/s of each function, timed alternately so that a load change hits all alike.

    Output
    ------
    list of (median, min, max) in bit/s, one per function.
    """
    args = (tf.constant(batch_size), tf.constant(ebno_db))
    with stderr_silenced():
        for fn in fns:
            fn(*args)  # trace / compile
    rates = [[] for _ in fns]
    for _ in range(repeats):
        for fn, r in zip(fns, rates, strict=True):
            start = time.perf_counter()
            _ = fn(*args)[1].numpy()
            r.append(info_bits / (time.perf_counter() - start))
    return [(statistics.median(r), min(r), max(r)) for r in rates]


def bench_link(num_tx=4, num_rx=4, num_bits_per_symbol=4, k=1024, n=2048, batch_size=256,
               ebno_db=5.0, repeats=5, modes=("eager", "graph", "xla"), stream=None):
    """Measures Mbit/s of information bits of CodedMIMOLink and of the plain chain.

    Output
    ------
    dict
        ``{"config": ..., "machine": ..., "rows": [{mode, link_mbps, plain_mbps, ratio, ...}]}``
    """
    from kaq_sionna.registry import LinkContext, build_detector
    from links import CodedMIMOLink

    info_bits = batch_size * num_tx * k
    rows = []
    for mode in modes:
        det = build_detector("lmmse", LinkContext(num_tx, num_rx, num_bits_per_symbol))
        link = CodedMIMOLink(det, num_tx, num_rx, num_bits_per_symbol, k, n)
        plain = plain_sionna_chain(num_tx, num_rx, num_bits_per_symbol, k, n)
        if mode != "eager":
            link = tf.function(link, jit_compile=(mode == "xla"))
            plain = tf.function(plain, jit_compile=(mode == "xla"))
        ours, ref = _interleaved_rates((link, plain), batch_size, ebno_db, info_bits, repeats)
        row = {"mode": mode, "link_mbps": ours[0] / 1e6, "link_range_mbps": [r / 1e6 for r in
                                                                             ours[1:]],
               "plain_mbps": ref[0] / 1e6, "plain_range_mbps": [r / 1e6 for r in ref[1:]],
               "ratio": ours[0] / ref[0]}
        rows.append(row)
        if stream is not None:
            print(f"{mode:>6}: CodedMIMOLink {row['link_mbps']:.3f} Mbit/s, plain Sionna "
                  f"{row['plain_mbps']:.3f} Mbit/s, ratio {row['ratio']:.2f}", file=stream,
                  flush=True)
    return {
        "benchmark": "link",
        "config": {"num_tx": num_tx, "num_rx": num_rx, "num_bits_per_symbol": num_bits_per_symbol,
                   "k": k, "n": n, "batch_size": batch_size, "ebno_db": ebno_db,
                   "repeats": repeats, "detector": "lmmse (app)", "ldpc_iterations": 20},
        "machine": machine(),
        "versions": {"tensorflow": tf.__version__},
        "rows": rows,
    }
