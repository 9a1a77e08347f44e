r"""HARQ soft-buffer storage: what a failed round leaves, stored through a compressor.

A HARQ receiver keeps, between the rounds of a process, the soft information
of the failed transmissions. This module models that memory explicitly: the
stored data go through a compressor (:class:`~kaq_sionna.softbits.Compressor`) and
:class:`SoftBuffer` reports exactly how many bits it holds per codeword (the compressor's
``num_stored_bits``, which is the size of the codes' memory image ``pack(codes)`` before the
last byte's padding). Two storage points are modelled:

``storage_point="buffer"`` (the combined circular buffer, scalar compressors)
    After a failed round, the combined soft buffer of
    :class:`~kaq_sionna.harq.rate_matching.CircularBufferRateMatcher`
    (length ``N_cb - F``, received LLRs summed per position, TS 38.212 5.4.2)
    is compressed and stored; the next round adds its fresh LLRs to the
    decompressed buffer. Only positions received in at least one round are
    stored (a position never transmitted holds no information and needs no
    memory; it reads back as 0). Stored bits per codeword =
    (number of distinct buffer positions received so far) x
    ``bits_per_soft_bit``. Filler bits are never stored. Each failed round
    re-quantizes the whole combined buffer, so quantization errors do not
    accumulate round after round in the stored values beyond one re-quantization.

``storage_point="rounds"`` (per-round soft-bit matrices before combining)
    After a failed round, that round's ``E`` received LLRs are compressed and
    stored as they came out of the detector (transmission order, i.e.
    interleaved: reshaped to ``[..., E / Q_m, Q_m]`` they are the soft bits of
    one stream per channel use), and the combining happens at decode time from
    the decompressed rounds plus the fresh one. This is the storage point of
    EQ-Net (EQ-Net paper, Fig. 3 and Sect. 2.7: the failed soft codeword is split
    into per-channel-use soft-bit matrices, each compressed; at the next
    transmission they are reconstructed and soft-combined). Stored bits per
    codeword = (number of stored rounds) x ``E`` x ``bits_per_soft_bit``
    (or the compressor's ``num_stored_bits``).

The API is stateless: the stored state is a ``dict`` of tensors that goes in
and out of :meth:`SoftBuffer.update`; nothing is kept in the object.
The state holds the codes themselves (what is in memory, e.g. ``uint8``), so
the bit count is that of the data actually held, not an estimate.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import numbers

import numpy as np
import tensorflow as tf

from kaq_sionna.harq.rate_matching import NUM_RVS, CircularBufferRateMatcher
from kaq_sionna.softbits import NoCompression, check_compressor

__all__ = ["STORAGE_POINTS", "SoftBuffer", "SoftBufferStorage"]

STORAGE_POINTS = ("buffer", "rounds")
"""Where the soft buffer stores: the combined circular buffer or each round's LLRs."""


class SoftBuffer:
    r"""Soft-buffer memory of HARQ processes, stored through a compressor.

    See the module docstring for the two storage points. One HARQ round is

    .. code-block:: python

        state = sb.initial_state([batch, num_tx])          # before round 1
        for r, rv in enumerate(rvs):
            buffer_llr, stored = sb.update(state, llr_r, rv, r)
            b_hat = rm.decode(buffer_llr)                   # decode the combination
            state = stored                                  # kept only if decoding failed
        bits = sb.stored_bits(state)                        # exact, per codeword

    ``update`` returns the combined buffer to decode (stored data
    decompressed plus the fresh reception) and the state that would be
    stored if the round fails. Decoding itself is the rate matcher's.

    Parameters
    ----------
    rate_matcher : :class:`~kaq_sionna.harq.rate_matching.CircularBufferRateMatcher`
        Rate matching of the HARQ process (buffer length, ``E``, rv windows).
    storage : :class:`~kaq_sionna.softbits.Compressor` | `None`
        The compressor of the stored soft bits (`None`: float32, no compression). By name:
        :func:`kaq_sionna.registry.make_compressor` (``"float16"``, ``"uniform8"``, ...).
    storage_point : "buffer" (default) | "rounds"
    max_rounds : int
        Number of per-round slots for ``storage_point="rounds"`` (the maximum
        number of transmissions; the last round of a process is never stored,
        so ``max_transmissions - 1`` slots suffice, but round indices up to
        ``max_rounds - 1`` are accepted).

    State
    -----
    ``storage_point="buffer"``:
        ``codes``: [..., buffer_length], ``compressor.code_dtype`` (compressed
        combined buffer); ``received``: [..., buffer_length], tf.bool
        (positions received so far, i.e. stored).
    ``storage_point="rounds"``:
        ``codes``: [..., max_rounds, L], code dtype (compressed LLRs of each
        round, in transmission order; ``L = E`` for scalar compressors, or
        ``compressor.code_length(E)``, e.g. for EQ-Net); ``stored``: [..., max_rounds], tf.bool;
        ``rv``: [max_rounds], tf.int32 (redundancy version of each slot, shared
        by the batch).
    """

    def __init__(self, rate_matcher, storage=None, storage_point="buffer", max_rounds=4):
        if not isinstance(rate_matcher, CircularBufferRateMatcher):
            raise TypeError("rate_matcher must be a CircularBufferRateMatcher, found "
                            f"{type(rate_matcher).__name__}")
        if storage_point not in STORAGE_POINTS:
            raise ValueError(f"storage_point must be one of {STORAGE_POINTS}, "
                             f"found {storage_point!r}")
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, numbers.Integral) \
                or max_rounds < 1:
            raise ValueError(f"max_rounds must be a positive integer, found {max_rounds!r}")
        self._rm = rate_matcher
        if isinstance(storage, str):
            raise TypeError(f"storage must be a compressor object, found the name {storage!r}: "
                            "build it with kaq_sionna.registry.make_compressor(name)")
        self._compressor = (NoCompression() if storage is None
                            else check_compressor(storage, "storage"))
        if getattr(self._compressor, "joint_streams", False) and storage_point != "rounds":
            raise ValueError(f"storage {self._compressor!r} codes the soft bits of all streams "
                             "of a channel use jointly (EQ-Net): it needs storage_point="
                             f"'rounds', found {storage_point!r}")
        self._point = storage_point
        self._max_rounds = int(max_rounds)
        self._rdtype = rate_matcher.rdtype
        # [4, buffer_length] positions covered by each rv window
        covered = np.zeros([NUM_RVS, rate_matcher.buffer_length], bool)
        for rv in range(NUM_RVS):
            covered[rv, rate_matcher.selection_indices[rv]] = True
        self._covered = tf.constant(covered)

    @property
    def compressor(self):
        """Compressor the stored data go through"""
        return self._compressor

    @property
    def storage_point(self):
        """`str` : "buffer" | "rounds\""""
        return self._point

    @property
    def bits_per_soft_bit(self):
        """`float` : Bits per stored soft bit of the compressor"""
        return float(self._compressor.bits_per_soft_bit)

    @property
    def max_rounds(self):
        """`int` : Number of per-round slots (``storage_point="rounds"``)"""
        return self._max_rounds

    def _code_dtype(self):
        dt = getattr(self._compressor, "code_dtype", None)
        if dt is None:
            dt = self._compressor.compress(tf.zeros([1], self._rdtype)).dtype
        return tf.as_dtype(dt)

    def _code_length(self):
        """Codes per codeword and stored round (``E`` for scalar compressors)."""
        if hasattr(self._compressor, "code_length"):
            return int(self._compressor.code_length(self._rm.e))
        return self._rm.e

    def _decompress(self, codes):
        return tf.cast(self._compressor.decompress(codes), self._rdtype)

    def initial_state(self, batch_shape):
        """Empty soft buffer (nothing stored).

        Input
        -----
        batch_shape : list of int | 1-D int tensor
            Leading dimensions (e.g. ``[batch_size, num_tx]``).

        Output
        ------
        state : dict of tensors (see the class docstring)
        """
        batch_shape = tf.cast(batch_shape, tf.int32)
        cdt = self._code_dtype()
        if self._point == "buffer":
            shape = tf.concat([batch_shape, [self._rm.buffer_length]], 0)
            return {"codes": tf.zeros(shape, cdt), "received": tf.zeros(shape, tf.bool)}
        shape = tf.concat([batch_shape, [self._max_rounds, self._code_length()]], 0)
        return {"codes": tf.zeros(shape, cdt),
                "stored": tf.zeros(shape[:-1], tf.bool),
                "rv": tf.zeros([self._max_rounds], tf.int32)}

    def stored_buffer(self, state):
        """The combined soft buffer read back from memory (before a new reception).

        Input
        -----
        state : dict of tensors

        Output
        ------
        : [..., buffer_length], tf.float
            Decompressed combined LLRs; 0 at positions not stored.
        """
        if self._point == "buffer":
            llr = self._decompress(state["codes"])
            return tf.where(state["received"], llr, tf.zeros_like(llr))
        stored = state["stored"]
        batch_shape = tf.shape(stored)[:-1]
        buf = self._rm.empty_buffer(batch_shape)
        for r in range(self._max_rounds):
            # one slot at a time: [..., E] codes of all codewords (streams on axis -2)
            llr = self._decompress(state["codes"][..., r, :])
            llr = tf.where(stored[..., r, None], llr, tf.zeros_like(llr))
            buf = self._rm.accumulate(buf, llr, state["rv"][r])
        return buf

    def update(self, state, llr, rv, round_index):
        r"""Combines a new reception with the stored data; returns what a failure stores.

        Input
        -----
        state : dict of tensors
            Stored state after the previous rounds (:meth:`initial_state`
            before the first).
        llr : [..., E], tf.float
            Received LLRs of this round (detector output order).
        rv : int | scalar tf.int
            Redundancy version of this round.
        round_index : int
            0-based index of this round (the slot used with
            ``storage_point="rounds"``; unused with ``"buffer"``).

        Output
        ------
        buffer_llr : [..., buffer_length], tf.float
            Combined soft buffer to decode: decompressed stored data plus the
            fresh LLRs (the fresh LLRs are never quantized before decoding).
        new_state : dict of tensors
            State to keep if this round fails: with ``"buffer"``, the
            compressed ``buffer_llr`` and the union of received positions;
            with ``"rounds"``, the compressed ``llr`` in slot ``round_index``.
        """
        llr = tf.cast(llr, self._rdtype)
        buffer_llr = self._rm.accumulate(self.stored_buffer(state), llr, rv)
        if self._point == "buffer":
            covered = tf.gather(self._covered, self._rm._rv_index(rv))
            received = tf.logical_or(state["received"], covered)
            return buffer_llr, {"codes": self._compressor.compress(buffer_llr),
                                "received": received}
        if isinstance(round_index, bool) or not isinstance(round_index, numbers.Integral) \
                or not 0 <= round_index < self._max_rounds:
            raise ValueError(f"round_index must be an int in 0..{self._max_rounds - 1}, "
                             f"found {round_index!r}")
        slot = tf.one_hot(round_index, self._max_rounds, on_value=True, off_value=False)
        codes = tf.where(slot[:, None], tf.expand_dims(self._compressor.compress(llr), -2),
                         state["codes"])
        stored = tf.logical_or(state["stored"], slot)
        rv_slots = tf.where(slot, self._rm._rv_index(rv), state["rv"])
        return buffer_llr, {"codes": codes, "stored": stored, "rv": rv_slots}

    def num_stored_soft_bits(self, state):
        """Number of soft bits held per codeword.

        Input
        -----
        state : dict of tensors

        Output
        ------
        : [...], tf.int64
            ``"buffer"``: distinct buffer positions received so far;
            ``"rounds"``: stored rounds x ``E``.
        """
        if self._point == "buffer":
            return tf.reduce_sum(tf.cast(state["received"], tf.int64), -1)
        return tf.reduce_sum(tf.cast(state["stored"], tf.int64), -1) * self._rm.e

    def stored_bits(self, state):
        """Exact number of bits held per codeword.

        Input
        -----
        state : dict of tensors

        Output
        ------
        : [...], tf.int64
            :meth:`num_stored_soft_bits` x ``bits_per_soft_bit`` (through the
            compressor's ``num_stored_bits`` when it has one).
        """
        n = self.num_stored_soft_bits(state)
        if hasattr(self._compressor, "num_stored_bits"):
            return tf.cast(self._compressor.num_stored_bits(n), tf.int64)
        bits = float(self._compressor.bits_per_soft_bit)
        if bits != int(bits):
            raise NotImplementedError("a compressor with fractional bits_per_soft_bit must "
                                      "define num_stored_bits(num_soft_bits)")
        return n * int(bits)

    def where(self, keep_new, new_state, old_state):
        """Per-codeword choice between two states (e.g. store only for failed codewords).

        Input
        -----
        keep_new : [...], tf.bool
            Batch-shaped mask.
        new_state, old_state : dict of tensors

        Output
        ------
        : dict of tensors
        """
        out = {}
        for key, new in new_state.items():
            old = old_state[key]
            if key == "rv":  # shared by the batch: a slot's rv is the same for all codewords
                out[key] = new
                continue
            mask = keep_new
            for _ in range(new.shape.rank - keep_new.shape.rank):
                mask = mask[..., None]
            out[key] = tf.where(mask, new, old)
        return out


SoftBufferStorage = SoftBuffer  # deprecated alias (old name of SoftBuffer)
