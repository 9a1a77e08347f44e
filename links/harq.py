r"""Hybrid ARQ over any link that exposes ``detect_codewords``: IR or chase, with soft-buffer storage.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import numbers

import numpy as np
import tensorflow as tf
from sionna.phy import Block

from kaq_sionna.harq import (
    DEFAULT_RV_SEQUENCE,
    NUM_RVS,
    STORAGE_POINTS,
    CircularBufferRateMatcher,
    SoftBuffer,
)
from kaq_sionna.registry.compressors import resolve_compressor
from links.decoding import DEFAULT_DECODER, check_decoder
from links.interfaces import HARQ_BASE_LINK_MEMBERS

__all__ = ["COMBINING_MODES", "HARQLink"]

COMBINING_MODES = ("ir", "chase")
"""``"ir"``: incremental redundancy (new rv per round); ``"chase"``: same rv every round."""


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, found {value!r}")
    return int(value)


class HARQLink(Block):
    r"""HARQ process per codeword around a coded link (TS 38.212 5.4.2 rate matching).

    Each codeword of the base link (one per stream) is a HARQ process: its
    ``k`` information bits are encoded into the 5G LDPC circular buffer
    (:class:`~kaq_sionna.harq.rate_matching.CircularBufferRateMatcher`) and
    round ``r`` sends the ``E = base_link.n`` bits of redundancy version
    ``rv_sequence[r]`` (incremental redundancy) or of ``rv_sequence[0]`` every
    round (chase combining) through ``base_link.detect_codewords`` (mapper,
    channel, detector; a new channel and noise realisation per round). The
    receiver adds the fresh LLRs to the soft buffer read back from memory
    (:class:`~kaq_sionna.harq.soft_buffer.SoftBuffer`, through the
    ``storage`` compressor at ``storage_point``), decodes with Sionna's
    :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`, and stops the process on
    success; on failure it stores what the round leaves and retransmits,
    up to ``max_transmissions`` rounds. The last round of a process is never
    stored (the process ends).

    Round 1 is bit-exactly the base link's transmission
    (``select(encode(b), 0) == LDPC5GEncoder(k, n, Q_m)(b)``), so round-1 BLER
    equals the base link's BLER for the same decoder settings.

    **Success check.** A genie CRC: a codeword succeeds when its decoded
    information bits equal the transmitted ones (an ideal CRC without
    overhead and without undetected errors). A base link with ``harq_unit =
    "transport_block"`` (:class:`links.PUSCHCodeBlocks`: the codewords are the
    code blocks of one transport block) makes the transport block the unit:
    all its code blocks are retransmitted and stored until every one decodes.

    **Batch simulation.** A round is simulated for the whole batch (the
    graph has a static, unrolled loop of ``max_transmissions`` rounds);
    codewords that already succeeded are masked: their result, transmission
    count and stored bits are frozen, and the extra rounds they go through are
    neither counted as channel uses nor as stored bits. A round after which no
    codeword of the batch is left is skipped (``tf.cond``).

    **Statistics** (:meth:`run`, :meth:`statistics`): round-``r`` BLER is
    the fraction of codewords still failing after round ``r`` (so the last
    one is the residual BLER); the mean number of transmissions; goodput =
    delivered information bits / channel uses of all rounds sent, per stream
    channel use (one QAM symbol of one stream), bounded by the single-shot
    rate ``k Q_m / n`` (equality when every codeword succeeds in round 1;
    multiply by ``num_tx`` for bits per MIMO channel use); stored bits per
    codeword = bits held in the soft buffer after its last stored (failed)
    round, i.e. the peak occupancy of its process (0 if round 1 succeeds).

    Parameters
    ----------
    base_link : :class:`links.interfaces.HARQBaseLink`
        A coded link (:class:`links.CodedMIMOLink`, :class:`links.OFDMLink`, or a
        :class:`links.PUSCHLink`, whose ``harq_view()`` is used); not in uncoded mode.
        A link with ``harq_view()`` (``links.PUSCHLink``) is replaced by that
        view (:class:`links.PUSCHCodeBlocks`), which ``base_link`` then returns.
    max_transmissions : int
        Maximum number of transmissions per codeword (>= 1).
    rv_sequence : tuple of int
        Redundancy versions of successive rounds, each in 0..3 (cycled if
        shorter than ``max_transmissions``). Default 0, 2, 3, 1.
    combining : "ir" (default) | "chase"
        Incremental redundancy or chase combining (``rv_sequence[0]`` every
        round).
    storage : str | :class:`~kaq_sionna.softbits.Compressor`
        A compressor, or its name (``"float32"``, ``"float16"``, ``"uniform8"``, ... a shipped
        EQ-Net model; :func:`kaq_sionna.registry.resolve_compressor`).
    storage_point : "buffer" (default) | "rounds"
        Store the combined circular buffer, or each round's LLRs before
        combining (EQ-Net's storage point, the EQ-Net paper Fig. 3); see
        :mod:`kaq_sionna.harq.soft_buffer`.
    new_channel_per_round : bool
        `True` (default): every round draws a new channel realisation (a
        retransmission late enough to see independent fading). `False`: the
        channel drawn for round 1 is kept for all rounds of the process (slow
        fading, retransmissions within the coherence time); noise and CSI error
        are drawn anew every round. Needs a base link with ``draw_channel``.
    num_bp_iter : `None` (default) | int
        Belief-propagation iterations of the decoder; `None`: the base link's
        ``num_bp_iter`` (20 if it has none).
    llr_max : float
        LLR clipping of the decoder (Sionna's default 20).
    decoder : `None` (default) | "boxplus-phi" | "boxplus" | "minsum" | "offset-minsum"
        Check-node update of the decoder (:mod:`links.decoding`); `None`: the base
        link's ``decoder`` ("boxplus-phi" if it has none).

    Input
    -----
    batch_size : int | tf.int32
        Number of codewords per stream.
    ebno_db : float | tf.float
        SNR in dB, with the base link's ``snr_type`` and code rate ``k/n``
        (the SNR of one transmission).

    Output
    ------
    b : [batch_size, num_tx, k], tf.float
        Transmitted information bits.
    b_hat : [batch_size, num_tx, k], tf.float
        Decoded bits after the last round each codeword needed (so BLER of
        ``(b, b_hat)``, e.g. from :func:`sionna.phy.utils.sim_ber`, is the
        residual BLER).
    """

    def __init__(self, base_link, max_transmissions=4, rv_sequence=DEFAULT_RV_SEQUENCE,
                 combining="ir", storage="float32", storage_point="buffer",
                 new_channel_per_round=True, num_bp_iter=None, llr_max=20.0, decoder=None,
                 **kwargs):
        if hasattr(base_link, "harq_view"):  # e.g. PUSCHLink: its HARQ codewords are code blocks
            base_link = base_link.harq_view()
        missing = [a for a in HARQ_BASE_LINK_MEMBERS if not hasattr(base_link, a)]
        if missing:
            raise TypeError(f"base_link {type(base_link).__name__} lacks {', '.join(missing)}; "
                            "HARQLink needs a coded link implementing links.interfaces."
                            "HARQBaseLink, such as links.CodedMIMOLink")
        if getattr(base_link, "uncoded", False):
            raise ValueError("HARQLink needs a coded base link; found uncoded=True")
        super().__init__(precision=base_link.precision, **kwargs)
        self._max_tx = _check_int("max_transmissions", max_transmissions, 1)
        if isinstance(rv_sequence, (str, bytes)) or not hasattr(rv_sequence, "__len__") \
                or len(rv_sequence) == 0:
            raise ValueError(f"rv_sequence must be a non-empty sequence of ints in 0..3, "
                             f"found {rv_sequence!r}")
        for rv in rv_sequence:
            if isinstance(rv, bool) or not isinstance(rv, numbers.Integral) \
                    or not 0 <= rv < NUM_RVS:
                raise ValueError(f"rv_sequence entries must be ints in 0..3, found {rv!r} "
                                 f"in {tuple(rv_sequence)!r}")
        if combining not in COMBINING_MODES:
            raise ValueError(f"combining must be one of {COMBINING_MODES}, found {combining!r}")
        if storage_point not in STORAGE_POINTS:
            raise ValueError(f"storage_point must be one of {STORAGE_POINTS}, "
                             f"found {storage_point!r}")
        if not isinstance(new_channel_per_round, bool):
            raise ValueError("new_channel_per_round must be True or False, found "
                             f"{new_channel_per_round!r}")
        if not new_channel_per_round and not hasattr(base_link, "draw_channel"):
            raise TypeError(f"new_channel_per_round=False needs a base link with draw_channel; "
                            f"{type(base_link).__name__} has none")
        self._new_channel = new_channel_per_round
        self._base = base_link
        # links.PUSCHCodeBlocks: the codewords are the code blocks of one transport block
        self._tb_level = getattr(base_link, "harq_unit", "codeword") == "transport_block"
        self._combining = combining
        self._rv_sequence = tuple(int(rv) for rv in rv_sequence)
        if combining == "chase":
            self._rvs = (self._rv_sequence[0],) * self._max_tx
        else:
            self._rvs = tuple(self._rv_sequence[r % len(self._rv_sequence)]
                              for r in range(self._max_tx))
        self.k, self.n = int(base_link.k), int(base_link.n)
        self.num_tx = int(base_link.num_tx)
        self.num_bits_per_symbol = int(base_link.num_bits_per_symbol)
        self.coderate = self.k / self.n
        # the base link's decoder settings, so that round 1 decodes as the base link does
        if num_bp_iter is None:
            num_bp_iter = getattr(base_link, "num_bp_iter", 20)
        if decoder is None:
            decoder = getattr(base_link, "decoder", DEFAULT_DECODER)
        check_decoder(decoder, num_bp_iter)
        self.num_bp_iter, self.decoder = num_bp_iter, decoder
        self._rm = CircularBufferRateMatcher(self.k, self.n, self.num_bits_per_symbol,
                                             num_iter=num_bp_iter, llr_max=llr_max,
                                             cn_update=decoder, precision=base_link.precision)
        # storing happens after failed rounds 1..max_tx-1 only
        storage = resolve_compressor(storage, self.num_tx, self.num_bits_per_symbol)
        self._storage = SoftBuffer(self._rm, storage, storage_point,
                                   max_rounds=max(self._max_tx - 1, 1))

    # ------------------------------------------------------------------ properties
    @property
    def base_link(self):
        """The wrapped link"""
        return self._base

    @property
    def max_transmissions(self):
        """`int` : Maximum number of transmissions per codeword"""
        return self._max_tx

    @property
    def rvs(self):
        """`tuple` of int : Redundancy version of each round (length ``max_transmissions``)"""
        return self._rvs

    @property
    def combining(self):
        """`str` : "ir" | "chase\""""
        return self._combining

    @property
    def rate_matcher(self):
        """:class:`~kaq_sionna.harq.rate_matching.CircularBufferRateMatcher` of the process"""
        return self._rm

    @property
    def soft_buffer(self):
        """:class:`~kaq_sionna.harq.soft_buffer.SoftBuffer` of the process"""
        return self._storage

    @property
    def storage(self):
        """Compressor of the soft buffer"""
        return self._storage.compressor

    @property
    def single_shot_rate(self):
        """`float` : ``k Q_m / n``, information bits per stream channel use of one transmission"""
        return self.k * self.num_bits_per_symbol / self.n

    # ------------------------------------------------------------------ processing
    def run(self, batch_size, ebno_db):
        r"""Simulates a batch of HARQ processes and returns per-codeword statistics.

        Graph-friendly (wrap it in ``tf.function``).

        Input
        -----
        batch_size : int | tf.int32
        ebno_db : float | tf.float

        Output
        ------
        b : [batch_size, num_tx, k], tf.float
        b_hat : [batch_size, num_tx, k], tf.float
        stats : dict
            ``failed``: [max_transmissions, batch_size, num_tx], tf.bool,
            codeword still failing after round r;
            ``num_transmissions``: [batch_size, num_tx], tf.int32;
            ``stored_bits``: [batch_size, num_tx], tf.int64, bits held after
            the codeword's last stored round (peak occupancy);
            ``stored_bits_per_round``: [max_transmissions, batch_size, num_tx],
            tf.int64, bits held after round r (0 when nothing is stored).
        """
        base, rm, sb = self._base, self._rm, self._storage
        no = base.snr_to_no(ebno_db)
        b = base.source_bits(batch_size)
        cb = rm.encode(b)
        batch_shape = tf.shape(b)[:-1]
        h = None if self._new_channel else base.draw_channel(batch_size)
        state = sb.initial_state(batch_shape)
        active = tf.ones(batch_shape, tf.bool)
        b_hat = tf.zeros_like(b)
        num_tx = tf.zeros(batch_shape, tf.int32)
        peak_bits = tf.zeros(batch_shape, tf.int64)
        failed, bits_per_round = [], []
        for r, rv in enumerate(self._rvs):
            def one_round(r=r, rv=rv, state=state, active=active, b_hat=b_hat,
                          num_tx=num_tx, peak_bits=peak_bits):
                c = rm.select(cb, rv)
                llr = base.detect_codewords(c, no) if h is None else \
                    base.detect_codewords(c, no, h)
                buffer_llr, new_state = sb.update(state, llr, rv, min(r, sb.max_rounds - 1))
                dec = tf.cast(rm.decode(buffer_llr), b.dtype)
                ok = tf.reduce_all(tf.equal(dec, b), axis=-1)  # genie CRC
                if self._tb_level:  # a transport block succeeds when all its code blocks do
                    ok = tf.broadcast_to(tf.reduce_all(ok, axis=-1, keepdims=True), tf.shape(ok))
                b_hat = tf.where(active[..., None], dec, b_hat)
                num_tx += tf.cast(active, tf.int32)
                fail = tf.logical_and(active, tf.logical_not(ok))
                bits = tf.zeros_like(peak_bits)
                if r < self._max_tx - 1:  # the last round is never stored
                    store = self._store_mask(fail)
                    state = sb.where(store, new_state, state)
                    bits = tf.where(store, sb.stored_bits(state), bits)
                    peak_bits = tf.where(store, bits, peak_bits)
                return state, fail, b_hat, num_tx, peak_bits, bits

            if r == 0:
                out = one_round()
            else:  # skip the round (channel, detector, decoder) once every process ended
                out = tf.cond(tf.reduce_any(active), one_round,
                              lambda state=state, active=active, b_hat=b_hat, num_tx=num_tx,
                              peak_bits=peak_bits: (state, active, b_hat, num_tx, peak_bits,
                                                    tf.zeros_like(peak_bits)))
            state, active, b_hat, num_tx, peak_bits, bits = out
            failed.append(active)
            bits_per_round.append(bits)
        stats = {"failed": tf.stack(failed), "num_transmissions": num_tx,
                 "stored_bits": peak_bits, "stored_bits_per_round": tf.stack(bits_per_round)}
        return b, b_hat, stats

    def _store_mask(self, fail):
        """Codewords whose round is stored: the failed ones, or, for a compressor that
        codes the soft bits of all streams of a channel use jointly (``joint_streams``,
        e.g. EQ-Net), every stream of a batch entry where any stream failed: the joint
        code of a channel use can only be written whole."""
        if getattr(self._storage.compressor, "joint_streams", False):
            return tf.broadcast_to(tf.reduce_any(fail, axis=-1, keepdims=True), tf.shape(fail))
        return fail

    def call(self, batch_size, ebno_db):
        b, b_hat, _ = self.run(batch_size, ebno_db)
        return b, b_hat

    def calibrate_storage(self, batch_size, ebno_db):
        r"""Fits the storage quantizer's clipping level to this link's soft buffer.

        Runs one round (rv of round 1) eagerly at ``ebno_db`` and calls
        ``storage.fit`` on the LLRs a failed round 1 would store: the received
        positions of the combined buffer (``storage_point="buffer"``) or the
        round's ``E`` LLRs (``"rounds"``). The fitted clipping level is a
        Python constant of traced graphs: call this before tracing (the
        ``tf.function`` of :meth:`statistics` is reset here; a graph of your
        own must be traced again).

        Input
        -----
        batch_size : int
        ebno_db : float

        Output
        ------
        : compressor
            The fitted storage compressor.
        """
        comp = self._storage.compressor
        if not hasattr(comp, "fit"):
            raise TypeError(f"storage {comp!r} has no fit method; nothing to calibrate")
        base, rm = self._base, self._rm
        b = base.source_bits(batch_size)
        rv = self._rvs[0]
        llr = base.detect_codewords(rm.select(rm.encode(b), rv), base.snr_to_no(ebno_db))
        if self._storage.storage_point == "buffer":
            buf = rm.accumulate(rm.empty_buffer(tf.shape(b)[:-1]), llr, rv).numpy()
            samples = buf[..., np.unique(rm.selection_indices[rv])]
        else:
            samples = llr.numpy()
        comp.fit(samples)
        self._run_fn = None
        return comp

    def statistics(self, batch_size, ebno_db, num_batches=1, graph=True,
                   num_target_block_errors=None, target_round=None, callback=None,
                   jit_compile=False):
        r"""HARQ statistics at one SNR, accumulated over batches.

        Input
        -----
        batch_size : int
            Codewords per stream per batch.
        ebno_db : float
        num_batches : int
            Maximum number of batches.
        graph : bool
            Run :meth:`run` in a ``tf.function`` (traced once per link).
        jit_compile : bool
            Compile that function with XLA (needs ``graph=True``).
        num_target_block_errors : `None` (default) | int
            Stop early once the codewords still failing after round
            ``target_round`` reach this count (Monte-Carlo stopping rule).
        target_round : `None` (default) | int
            1-based round the stopping rule counts (default: 2, the first
            retransmission, or 1 if ``max_transmissions == 1``).
        callback : `None` (default) | callable
            ``callback(batch_index, stats)`` after every batch with the
            statistics so far (e.g. for progress).

        Output
        ------
        : dict of Python numbers / lists
            ``bler_per_round`` (list, length ``max_transmissions``: fraction
            of codewords still failing after round r), ``block_errors_per_round``,
            ``residual_bler``, ``bit_errors`` and ``num_bits`` (information
            bits wrong after the last round each codeword needed),
            ``mean_transmissions``, ``goodput`` (information bits delivered
            per stream channel use over all rounds sent), ``goodput_per_mimo_use``
            (``num_tx`` x goodput), ``single_shot_rate`` (``k Q_m / n``, the
            goodput bound), ``stored_bits_mean``, ``stored_bits_max`` (per
            codeword, peak occupancy of its process), ``stored_bits_mean_per_round``
            (list: mean over all codewords of bits held after round r),
            ``num_codewords``, ``num_batches``.
        """
        num_batches = _check_int("num_batches", num_batches, 1)
        if target_round is None:
            target_round = min(2, self._max_tx)
        target_round = _check_int("target_round", target_round, 1)
        if target_round > self._max_tx:
            raise ValueError(f"target_round must be <= max_transmissions = {self._max_tx}, "
                             f"found {target_round}")
        if num_target_block_errors is not None:
            num_target_block_errors = _check_int("num_target_block_errors",
                                                 num_target_block_errors, 1)
        if graph:
            if getattr(self, "_run_fn", None) is None \
                    or self._run_fn_jit != bool(jit_compile):
                self._run_fn = tf.function(self.run, jit_compile=bool(jit_compile))
                self._run_fn_jit = bool(jit_compile)
            fn = self._run_fn
            args = (tf.constant(batch_size, tf.int32), tf.constant(ebno_db, self.rdtype))
        else:
            fn, args = self.run, (batch_size, ebno_db)
        acc = {"errors": np.zeros(self._max_tx, np.int64),
               "bits_sum": np.zeros(self._max_tx, np.float64),
               "ntx": 0, "cw": 0, "peak_sum": 0.0, "peak_max": 0, "bit_errors": 0,
               "batches": 0}
        for i in range(num_batches):
            b, b_hat, s = fn(*args)
            failed = s["failed"].numpy()
            acc["errors"] += failed.reshape(self._max_tx, -1).sum(axis=1)
            acc["bits_sum"] += s["stored_bits_per_round"].numpy().reshape(
                self._max_tx, -1).sum(axis=1)
            acc["ntx"] += int(s["num_transmissions"].numpy().sum())
            peak = s["stored_bits"].numpy()
            acc["peak_sum"] += float(peak.sum())
            acc["peak_max"] = max(acc["peak_max"], int(peak.max()))
            acc["bit_errors"] += int(tf.reduce_sum(tf.cast(tf.not_equal(b, b_hat),
                                                           tf.int64)).numpy())
            acc["cw"] += failed[0].size
            acc["batches"] += 1
            stats = self._summarise(acc)
            if callback is not None:
                callback(i, stats)
            if num_target_block_errors is not None \
                    and acc["errors"][target_round - 1] >= num_target_block_errors:
                break
        return stats

    def _summarise(self, acc):
        cw, errors = acc["cw"], acc["errors"]
        delivered = (cw - int(errors[-1])) * self.k
        channel_uses = acc["ntx"] * (self.n // self.num_bits_per_symbol)
        goodput = delivered / channel_uses
        return {
            "bler_per_round": (errors / cw).tolist(),
            "block_errors_per_round": errors.tolist(),
            "residual_bler": float(errors[-1] / cw),
            "bit_errors": acc["bit_errors"],
            "num_bits": cw * self.k,
            "mean_transmissions": acc["ntx"] / cw,
            "goodput": goodput,
            "goodput_per_mimo_use": goodput * self.num_tx,
            "single_shot_rate": self.single_shot_rate,
            "stored_bits_mean": acc["peak_sum"] / cw,
            "stored_bits_max": acc["peak_max"],
            "stored_bits_mean_per_round": (acc["bits_sum"] / cw).tolist(),
            "num_codewords": cw,
            "num_batches": acc["batches"],
        }
