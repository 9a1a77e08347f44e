r"""Circular-buffer rate matching of 3GPP TS 38.212 5.4.2 over Sionna's 5G LDPC code.

Sionna 1.2 implements only the first transmission of 5G LDPC rate matching:
:class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` ``(k, n)`` outputs the ``n`` bits
that follow the ``2 Z_c`` punctured systematic bits, i.e. the bit selection of
TS 38.212 5.4.2.1 for redundancy version 0 (``k_0 = 0``, ``E = n``, no limited
buffer). This module adds the full circular buffer and the redundancy versions
needed for hybrid ARQ with incremental redundancy (IR) or chase combining:

* :class:`FullBufferLDPC5GEncoder` encodes into the whole filler-free circular
  buffer and is the encoder the matching :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`
  is bound to;
* :class:`CircularBufferRateMatcher` cuts the ``E`` transmitted bits of a
  redundancy version out of that buffer (bit selection 5.4.2.1 and bit
  interleaving 5.4.2.2), scatter-adds received LLRs back into a soft buffer and
  decodes it.

Everything is stateless: the soft buffer is a tensor that goes in and out of
:meth:`CircularBufferRateMatcher.accumulate`, and the redundancy version is a
call argument that may be a tensor, so one traced graph serves all four
redundancy versions.
"""

import numbers

import numpy as np
import tensorflow as tf
from sionna.phy import Object
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

__all__ = [
    "DEFAULT_RV_SEQUENCE",
    "NUM_RVS",
    "CircularBufferRateMatcher",
    "FullBufferLDPC5GEncoder",
    "k0_position",
    "lbrm_n_ref",
    "select_base_graph",
]

NUM_RVS = 4
"""Number of redundancy versions (``rv_id`` in 0..3)."""

DEFAULT_RV_SEQUENCE = (0, 2, 3, 1)
"""Default order of redundancy versions over the transmissions of a HARQ process."""

# TS 38.212 Table 5.4.2.1-2: k_0 = floor(num[rv] * N_cb / (den * Z_c)) * Z_c
_K0_NUMERATORS = {"bg1": (0, 17, 33, 56), "bg2": (0, 13, 25, 43)}
# N = 66 Z_c (BG1) or 50 Z_c (BG2): the denominators of Table 5.4.2.1-2
_N_OVER_Z = {"bg1": 66, "bg2": 50}


def _check_int(name, value, low=None, high=None):
    """Return ``value`` as ``int`` or raise a clear error."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, found {value!r} ({type(value).__name__})")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, found {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, found {value}")
    return value


def _check_bg(bg):
    if bg not in ("bg1", "bg2"):
        raise ValueError(f"bg must be 'bg1' or 'bg2', found {bg!r}")
    return bg


def select_base_graph(k, coderate):
    r"""LDPC base graph for ``k`` information bits at code rate ``coderate``.

    This is the rule of :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` (TS 38.212
    6.2.2 / 7.2.2 with ``k`` in place of the transport block size ``A``): base
    graph 2 if ``k <= 292``, or ``k <= 3824`` and ``coderate <= 0.67``, or
    ``coderate <= 0.25``; base graph 1 otherwise. With ``coderate = k / E``
    it selects what ``LDPC5GEncoder(k, E)`` selects.

    Parameters
    ----------
    k : int
        Number of information bits per code block (``K'`` in 38.212).
    coderate : float
        Code rate used for the selection, e.g. ``k / E`` of the first transmission.

    Output
    ------
    bg : "bg1" | "bg2"
    """
    if k <= 292 or (k <= 3824 and coderate <= 0.67) or coderate <= 0.25:
        return "bg2"
    return "bg1"


def k0_position(bg, rv, n_cb, z):
    r"""Starting position :math:`k_0` of redundancy version ``rv`` (TS 38.212 Table 5.4.2.1-2).

    .. math::
        k_0 = \left\lfloor \frac{a_{rv} N_{cb}}{b Z_c} \right\rfloor Z_c,
        \quad (a_0, a_1, a_2, a_3) =
        \begin{cases} (0, 17, 33, 56),\ b = 66 & \text{BG1}\\
                      (0, 13, 25, 43),\ b = 50 & \text{BG2}\end{cases}

    Parameters
    ----------
    bg : "bg1" | "bg2"
        LDPC base graph.
    rv : int
        Redundancy version ``rv_id`` in 0..3.
    n_cb : int
        Circular buffer length :math:`N_{cb}` (filler bits included).
    z : int
        Lifting size :math:`Z_c`.

    Output
    ------
    k0 : int
        Index into the circular buffer :math:`d_0, \dots, d_{N_{cb}-1}` of
        5.4.2.1 (filler bits counted as positions).
    """
    bg = _check_bg(bg)
    rv = _check_int("rv", rv, 0, NUM_RVS - 1)
    n_cb = _check_int("n_cb", n_cb, 1)
    z = _check_int("z", z, 1)
    # integer arithmetic: no floating-point rounding at exact multiples
    return (_K0_NUMERATORS[bg][rv] * n_cb) // (_N_OVER_Z[bg] * z) * z


def lbrm_n_ref(tbs_lbrm, num_code_blocks=1):
    r"""Limited-buffer length :math:`N_{ref}` of TS 38.212 5.4.2.1.

    .. math::
        N_{ref} = \left\lfloor \frac{TBS_{LBRM}}{C \cdot R_{LBRM}} \right\rfloor,
        \quad R_{LBRM} = 2/3

    Parameters
    ----------
    tbs_lbrm : int
        :math:`TBS_{LBRM}` (TS 38.214 5.1.3.2 / 6.1.4.2 for the maximum
        configuration of the UE).
    num_code_blocks : int
        Number of code blocks :math:`C` of the transport block.

    Output
    ------
    n_ref : int
    """
    tbs_lbrm = _check_int("tbs_lbrm", tbs_lbrm, 1)
    num_code_blocks = _check_int("num_code_blocks", num_code_blocks, 1)
    # TBS / (C * 2/3) = 3 TBS / (2 C), exactly in integers
    return (3 * tbs_lbrm) // (2 * num_code_blocks)


class FullBufferLDPC5GEncoder(LDPC5GEncoder):
    r"""5G LDPC encoder whose output is the whole filler-free circular buffer.

    Same code construction as :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder`
    (base graph, lifting size :math:`Z_c`, parity-check matrix) but the output
    is the circular buffer :math:`d_0, \dots, d_{N_{cb}-1}` of TS 38.212
    5.4.2.1 with the :math:`F = K - K'` filler bits (``<NULL>``) removed:
    mother codeword bits :math:`c_{2Z_c}, \dots` in order, length
    ``n = N_cb - F``. The public encoder refuses this ``n`` whenever filler
    bits exist (its code rate check ``k/n >= 1/3`` for BG1 and ``>= 1/5`` for
    BG2 is meant for a single transmission), so this class builds the
    ordinary encoder at rate 1/2 and then sets its output length to
    ``N_cb - F``; Sionna's encoding path (fill, encode the mother codeword,
    remove fillers, drop the first :math:`2Z_c` bits, keep ``n`` bits) is then
    exactly the full-buffer encoding. The tests check that the output
    satisfies the parity checks and matches the public encoder on its allowed
    range.

    :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` bound to this encoder with
    ``prune_pcm=False`` decodes a full soft buffer (with LBRM, the positions
    beyond :math:`N_{cb}` are treated as punctured).

    Parameters
    ----------
    k : int
        Number of information bits :math:`K'` (12..8448; at most 3840 for BG2).
    bg : "bg1" | "bg2"
        Base graph (explicit: the usual rate-based selection needs the rate
        of a transmission, see :func:`select_base_graph`).
    n_cb : `None` (default) | int
        Circular buffer length :math:`N_{cb}` including filler bits.
        `None` gives the full buffer :math:`N = 66 Z_c` (BG1) or
        :math:`50 Z_c` (BG2); a smaller value is limited buffer rate
        matching. It must contain all filler positions, i.e.
        :math:`N_{cb} \geq K - 2Z_c`.
    precision : `None` (default) | "single" | "double"
        Precision of the output.

    Input
    -----
    bits : [..., k], tf.float
        Information bits.

    Output
    ------
    : [..., n_cb - num_filler], tf.float
        Filler-free circular buffer.
    """

    def __init__(self, k, bg, n_cb=None, precision=None, **kwargs):
        k = _check_int("k", k, 12, 8448)
        bg = _check_bg(bg)
        # rate 1/2 is accepted by LDPC5GEncoder for both base graphs; the
        # output length is changed below
        super().__init__(k, 2 * k, bg=bg, precision=precision, **kwargs)
        missing = [a for a in ("_n", "_coderate", "_bg") if not hasattr(self, a)]
        if missing or self._bg != bg:
            raise RuntimeError(
                "FullBufferLDPC5GEncoder relies on LDPC5GEncoder attributes "
                f"{missing or ['_bg']} of Sionna 1.2; this Sionna version differs")
        self._n_full = self.n_ldpc - 2 * self.z
        self._num_filler = self.k_ldpc - self.k
        if 2 * self.z > self.k:  # cannot happen for 38.212 lifting sizes
            raise ValueError(f"k={k} is smaller than 2 Z_c={2 * self.z}")
        if n_cb is None:
            n_cb = self._n_full
        n_cb = _check_int("n_cb", n_cb, self.k_ldpc - 2 * self.z, self._n_full)
        self._n_cb = n_cb
        self._n = n_cb - self._num_filler
        self._coderate = self.k / self._n

    @property
    def bg(self):
        """`str`, "bg1" | "bg2" : Base graph"""
        return self._bg

    @property
    def n_full(self):
        r"""`int` : Full circular buffer length :math:`N` (66 or 50 :math:`Z_c`), fillers included"""
        return self._n_full

    @property
    def n_cb(self):
        r"""`int` : Circular buffer length :math:`N_{cb}`, fillers included"""
        return self._n_cb

    @property
    def num_filler(self):
        r"""`int` : Number of filler bits :math:`F = K - K'`"""
        return self._num_filler


class CircularBufferRateMatcher(Object):
    r"""5G LDPC circular-buffer rate matching with redundancy versions (TS 38.212 5.4.2).

    Built on the code of :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` (same
    base graph, lifting size :math:`Z_c` and parity-check matrix), it provides
    the four steps of a HARQ round, all stateless and graph-friendly:

    1. :meth:`encode`: information bits to the filler-free circular buffer;
    2. :meth:`select`: the ``E`` bits of redundancy version ``rv``: bit
       selection of 5.4.2.1 (start :math:`k_0`, wrap-around modulo
       :math:`N_{cb}`, filler bits skipped) followed by the bit interleaver of
       5.4.2.2 with ``Q_m = num_bits_per_symbol`` rows. ``select(encode(b), 0)``
       equals ``LDPC5GEncoder(k, E, num_bits_per_symbol)(b)`` bit-exactly;
    3. :meth:`accumulate`: de-interleave ``E`` received LLRs and add them into
       the soft buffer at the positions they were selected from;
    4. :meth:`decode`: belief-propagation decoding of the soft buffer with
       :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`.

    **Soft buffer.** The soft buffer has shape ``[..., buffer_length]`` with
    ``buffer_length = N_cb - F``: position ``j`` holds the summed LLR of
    circular-buffer bit :math:`d_i` of 5.4.2.1 where ``i = j`` for
    :math:`i < K' - 2Z_c` and ``i = j + F`` after the filler range (the
    ``<NULL>`` positions are not stored; the decoder inserts them as known
    zeros). It is in the order of :meth:`encode`'s output, not interleaved;
    positions never received hold 0. Start from :meth:`empty_buffer` (or any
    zero tensor). LLRs follow Sionna's logit convention
    :math:`\ln\frac{p(b=1)}{p(b=0)}`.

    **Incremental redundancy vs chase combining.** Incremental redundancy
    uses a different ``rv`` in each round (default order
    :data:`DEFAULT_RV_SEQUENCE` = 0, 2, 3, 1); chase combining is calling
    :meth:`accumulate` with the same ``rv`` every round (usually 0), which adds
    the LLRs of identical retransmissions.

    **No retracing per rv.** The circular-buffer indices of all four
    redundancy versions (selection and interleaving combined) are precomputed
    at construction as one ``[4, E]`` int32 constant, and :meth:`select` /
    :meth:`accumulate` gather the row of the ``rv`` argument with
    ``tf.gather``. When ``rv`` is passed as a scalar int tensor, a
    ``tf.function`` is traced once and serves all redundancy versions (a
    Python ``int`` is a constant of the trace and retraces per value, as
    usual in TensorFlow). A Python ``int`` is range-checked at once; a tensor
    ``rv`` by a ``tf.debugging`` assertion, which XLA (``jit_compile=True``)
    drops, so under XLA an out-of-range tensor ``rv`` is not reported.

    ``E`` is given per code block; computing :math:`E_r` from the number of
    coded bits of a transport block (5.4.2.1, with :math:`C`, :math:`G`,
    :math:`N_L`) is the caller's task, as is scrambling.

    Parameters
    ----------
    k : int
        Number of information bits per code block :math:`K'` (12..8448).
    e : int
        Number of bits per transmission :math:`E` (rate-matching output
        length), a positive multiple of ``num_bits_per_symbol``. ``E`` may
        exceed the buffer, the selection then wraps around (repetition).
    num_bits_per_symbol : int | `None`
        Modulation order :math:`Q_m`, the number of rows of the bit
        interleaver of 5.4.2.2. `None` means no interleaving (same as 1).
    bg : `None` (default) | "bg1" | "bg2"
        Base graph. `None` selects it like ``LDPC5GEncoder(k, e)``, from
        ``k`` and the rate ``k / e`` of one transmission
        (:func:`select_base_graph`).
    lbrm : bool (default `False`)
        Limited buffer rate matching: :math:`N_{cb} = \min(N, N_{ref})`
        instead of :math:`N_{cb} = N` (5.4.2.1). Requires ``n_ref`` or
        ``tbs_lbrm``.
    n_ref : `None` (default) | int
        :math:`N_{ref}` for LBRM, given directly.
    tbs_lbrm : `None` (default) | int
        :math:`TBS_{LBRM}` for LBRM; :math:`N_{ref} =
        \lfloor TBS_{LBRM} / (C R_{LBRM}) \rfloor` with :math:`R_{LBRM} = 2/3`
        (:func:`lbrm_n_ref`).
    num_code_blocks : int (default 1)
        Number of code blocks :math:`C` of the transport block (used with
        ``tbs_lbrm`` only).
    num_iter : int (default 20)
        Belief-propagation iterations of the decoder.
    llr_max : float (default 20)
        Clipping value of :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`. It clips
        the soft buffer at the decoder input too, so it can bind on combined
        buffers (several strong receptions summed); raise it if combined
        reliabilities above 20 matter. It is also the magnitude given to the
        known filler bits.
    cn_update : str (default "boxplus-phi")
        Check-node update rule of the decoder.
    decoder_kwargs : `None` (default) | dict
        Further keyword arguments for :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`
        (``hard_out``, ``return_infobits``, ``cn_schedule``, ...).
    precision : `None` (default) | "single" | "double"
        Precision of buffers and outputs; `None` uses
        :attr:`sionna.phy.config.precision`.

    Note
    ----
    The decoder is bound to :class:`FullBufferLDPC5GEncoder` with
    ``prune_pcm=False``: the soft buffer covers every variable node, and
    Sionna's pruning slices an empty graph when nothing is punctured. With
    LBRM (:math:`N_{cb} < N`) the bits beyond :math:`N_{cb}` are punctured and
    pruning is enabled.
    """

    def __init__(self, k, e, num_bits_per_symbol, *, bg=None, lbrm=False, n_ref=None,
                 tbs_lbrm=None, num_code_blocks=1, num_iter=20, llr_max=20.0,
                 cn_update="boxplus-phi", decoder_kwargs=None, precision=None):
        super().__init__(precision=precision)
        k = _check_int("k", k, 12, 8448)
        e = _check_int("e", e, 1)
        if num_bits_per_symbol is not None:
            num_bits_per_symbol = _check_int("num_bits_per_symbol", num_bits_per_symbol, 1)
            if e % num_bits_per_symbol:
                raise ValueError(
                    f"e={e} must be a multiple of num_bits_per_symbol={num_bits_per_symbol} "
                    "(TS 38.212 5.4.2.2 interleaves E/Q_m columns)")
        if bg is None:
            bg = select_base_graph(k, k / e)
        bg = _check_bg(bg)
        if bg == "bg2" and k > 3840:
            raise ValueError(f"k={k} exceeds 3840, the maximum for base graph 2")
        if not isinstance(llr_max, numbers.Real) or llr_max <= 0:
            raise ValueError(f"llr_max must be a positive number, found {llr_max!r}")

        # circular buffer length N_cb (5.4.2.1)
        if not isinstance(lbrm, bool):
            raise TypeError(f"lbrm must be bool, found {lbrm!r}")
        if lbrm:
            if (n_ref is None) == (tbs_lbrm is None):
                raise ValueError("lbrm=True requires exactly one of n_ref or tbs_lbrm")
            if n_ref is None:
                n_ref = lbrm_n_ref(tbs_lbrm, num_code_blocks)
            n_ref = _check_int("n_ref", n_ref, 1)
        elif n_ref is not None or tbs_lbrm is not None:
            raise ValueError("n_ref / tbs_lbrm are only used with lbrm=True")
        self._n_ref = n_ref

        # code construction shared with LDPC5GEncoder
        probe = FullBufferLDPC5GEncoder(k, bg, precision=precision)
        n_full = probe.n_full
        n_cb = n_full if not lbrm else min(n_full, n_ref)
        filler_end = probe.k_ldpc - 2 * probe.z
        if n_cb < filler_end:
            raise ValueError(
                f"N_cb={n_cb} (N_ref={n_ref}) is shorter than the systematic part "
                f"K-2Z_c={filler_end} of the circular buffer; check n_ref / tbs_lbrm")
        self._encoder = (probe if n_cb == n_full
                         else FullBufferLDPC5GEncoder(k, bg, n_cb=n_cb, precision=precision))

        self._k = k
        self._e = e
        self._bg = bg
        self._z = probe.z
        self._num_bits_per_symbol = num_bits_per_symbol
        self._n_full = n_full
        self._n_cb = n_cb
        self._num_filler = probe.num_filler
        self._filler_start = k - 2 * self._z  # first <NULL> position in d
        self._buffer_length = n_cb - self._num_filler
        self._k0 = tuple(k0_position(bg, rv, n_cb, self._z) for rv in range(NUM_RVS))

        # [4, E] buffer index of the t-th output bit f_t of each rv
        if num_bits_per_symbol is None:
            perm = np.arange(e)
        else:
            # f_{i + j Q_m} = e_{i E/Q_m + j} (5.4.2.2), Sionna's generator
            perm, _ = self._encoder.generate_out_int(e, num_bits_per_symbol)
        starts = np.array([self._buffer_index(k0) for k0 in self._k0])
        self._sel_idx_np = (starts[:, None] + perm[None, :]) % self._buffer_length
        self._sel_idx = tf.constant(self._sel_idx_np, tf.int32)

        self._llr_max = float(llr_max)
        kwargs = dict(decoder_kwargs or {})
        for name in ("encoder", "prune_pcm", "num_iter", "llr_max", "cn_update", "precision"):
            if name in kwargs:
                raise ValueError(f"decoder_kwargs must not set {name!r}; use the parameter")
        self._decoder = LDPC5GDecoder(self._encoder, cn_update=cn_update, num_iter=num_iter,
                                      llr_max=self._llr_max, prune_pcm=n_cb < n_full,
                                      precision=precision, **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def k(self):
        """`int` : Number of information bits :math:`K'`"""
        return self._k

    @property
    def e(self):
        """`int` : Number of transmitted bits per round :math:`E`"""
        return self._e

    @property
    def coderate(self):
        """`float` : Rate ``k / e`` of one transmission"""
        return self._k / self._e

    @property
    def num_bits_per_symbol(self):
        """`int` | `None` : Modulation order :math:`Q_m` of the bit interleaver"""
        return self._num_bits_per_symbol

    @property
    def bg(self):
        """`str`, "bg1" | "bg2" : Base graph"""
        return self._bg

    @property
    def z(self):
        r"""`int` : Lifting size :math:`Z_c`"""
        return self._z

    @property
    def n_full(self):
        r"""`int` : Full circular buffer length :math:`N` = 66 :math:`Z_c` (BG1) or 50 :math:`Z_c` (BG2)"""
        return self._n_full

    @property
    def n_ref(self):
        r"""`int` | `None` : :math:`N_{ref}` of LBRM (`None` without LBRM)"""
        return self._n_ref

    @property
    def n_cb(self):
        r"""`int` : Circular buffer length :math:`N_{cb}` (fillers included)"""
        return self._n_cb

    @property
    def num_filler(self):
        r"""`int` : Number of filler bits :math:`F = K - K'`"""
        return self._num_filler

    @property
    def filler_positions(self):
        r"""`range` : Positions of the filler bits in :math:`d_0, \dots, d_{N_{cb}-1}`"""
        return range(self._filler_start, self._filler_start + self._num_filler)

    @property
    def buffer_length(self):
        r"""`int` : Length :math:`N_{cb} - F` of the (filler-free) soft buffer"""
        return self._buffer_length

    @property
    def k0_values(self):
        r"""`tuple` of 4 `int` : :math:`k_0` of rv 0..3 (positions in :math:`d`)"""
        return self._k0

    @property
    def selection_indices(self):
        """`np.ndarray`, [4, e], int : Soft-buffer index of each transmitted bit, per rv

        Row ``rv`` holds, for every output bit after interleaving, the index
        into the filler-free buffer it was taken from:
        ``select(cb, rv)[..., t] == cb[..., selection_indices[rv, t]]``.
        """
        return self._sel_idx_np.copy()

    @property
    def llr_max(self):
        """`float` : Decoder clipping value"""
        return self._llr_max

    @property
    def encoder(self):
        """:class:`FullBufferLDPC5GEncoder` : Encoder into the filler-free circular buffer"""
        return self._encoder

    @property
    def decoder(self):
        """:class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` : Decoder of the soft buffer"""
        return self._decoder

    # ------------------------------------------------------------------ helpers
    def _buffer_index(self, pos):
        """Filler-free buffer index of circular-buffer position ``pos`` (not a filler)."""
        return pos - min(max(pos - self._filler_start, 0), self._num_filler)

    def _rv_index(self, rv):
        """Validate ``rv`` and return it as a scalar int32 tensor (with range check)."""
        if isinstance(rv, (bool, np.bool_)):
            raise TypeError(f"rv must be an integer in 0..3, found {rv!r}")
        if isinstance(rv, numbers.Integral):
            return tf.constant(_check_int("rv", rv, 0, NUM_RVS - 1), tf.int32)
        if isinstance(rv, numbers.Number):
            raise TypeError(f"rv must be an integer in 0..3, found {rv!r}")
        rv = tf.convert_to_tensor(rv)
        if not rv.dtype.is_integer:
            raise TypeError(f"rv must be an integer tensor, found dtype {rv.dtype.name}")
        if rv.shape.rank is not None and rv.shape.rank != 0:
            raise ValueError(f"rv must be a scalar, found shape {rv.shape}")
        rv = tf.cast(rv, tf.int32)
        check = tf.debugging.assert_equal(
            tf.logical_and(rv >= 0, rv < NUM_RVS), True,
            message="rv must be in 0..3")
        with tf.control_dependencies([check]):
            return tf.identity(rv)

    def _check_last_dim(self, x, length, what):
        n = x.shape[-1] if x.shape.rank else None
        if n is not None and n != length:
            raise ValueError(f"{what} must have last dimension {length}, found shape {x.shape}")

    def k0(self, rv):
        r"""Starting position :math:`k_0` of redundancy version ``rv`` (Table 5.4.2.1-2).

        Input
        -----
        rv : int | scalar tf.int
            Redundancy version in 0..3.

        Output
        ------
        k0 : int (for an int ``rv``) | scalar tf.int32
            Position in the circular buffer :math:`d` (filler positions
            counted), see :func:`k0_position`.
        """
        if isinstance(rv, numbers.Integral) and not isinstance(rv, (bool, np.bool_)):
            return self._k0[_check_int("rv", rv, 0, NUM_RVS - 1)]
        return tf.gather(tf.constant(self._k0, tf.int32), self._rv_index(rv))

    def circular_buffer_positions(self, rv):
        r"""Positions in :math:`d` of the bits :math:`e_0, \dots, e_{E-1}` of ``rv``.

        The bit selection of 5.4.2.1 before interleaving, in the numbering of
        the specification (filler positions counted, values in
        ``0..n_cb-1``); for inspection and tests.

        Input
        -----
        rv : int
            Redundancy version in 0..3.

        Output
        ------
        : np.ndarray, [e], int
        """
        rv = _check_int("rv", rv, 0, NUM_RVS - 1)
        q = (self._buffer_index(self._k0[rv]) + np.arange(self._e)) % self._buffer_length
        return np.where(q < self._filler_start, q, q + self._num_filler)

    def empty_buffer(self, batch_shape):
        """All-zero soft buffer.

        Input
        -----
        batch_shape : list of int | tf.TensorShape | 1-D int tensor
            Leading dimensions.

        Output
        ------
        : [*batch_shape, buffer_length], tf.float
        """
        shape = tf.concat([tf.cast(batch_shape, tf.int32), [self._buffer_length]], axis=0)
        return tf.zeros(shape, self.rdtype)

    # ------------------------------------------------------------------ processing
    def encode(self, bits):
        """Encode information bits into the filler-free circular buffer.

        Input
        -----
        bits : [..., k], tf.float
            Binary information bits.

        Output
        ------
        : [..., buffer_length], tf.float
            Circular buffer :math:`d` of 5.4.2.1 without filler bits (see the
            class docstring for the indexing).
        """
        bits = tf.cast(bits, self.rdtype)
        self._check_last_dim(bits, self._k, "bits")
        return self._encoder(bits)

    def select(self, cb, rv):
        r"""Bits transmitted in redundancy version ``rv``: bit selection and interleaving.

        Implements :math:`e_k = d_{(k_0 + j) \bmod N_{cb}}` skipping ``<NULL>``
        (5.4.2.1) and :math:`f_{i + jQ_m} = e_{iE/Q_m + j}` (5.4.2.2). Works for
        bits and for soft values alike (it is a gather).

        Input
        -----
        cb : [..., buffer_length], tf.float
            Filler-free circular buffer (output of :meth:`encode`).
        rv : int | scalar tf.int
            Redundancy version in 0..3; a tensor avoids retracing.

        Output
        ------
        : [..., e], same dtype as ``cb``
            Rate-matched and interleaved bits, ready for the mapper.
        """
        cb = tf.convert_to_tensor(cb)
        self._check_last_dim(cb, self._buffer_length, "cb")
        idx = tf.gather(self._sel_idx, self._rv_index(rv))
        return tf.gather(cb, idx, axis=-1)

    def accumulate(self, buffer_llr, llr, rv):
        r"""De-rate-match the LLRs of one reception and add them to the soft buffer.

        Inverts :meth:`select`: the ``E`` LLRs are de-interleaved and
        scatter-added at the buffer positions of redundancy version ``rv``
        (positions selected twice by a wrapping window receive both LLRs).
        Chase combining is calling this with the same ``rv`` each round;
        incremental redundancy with a new ``rv`` each round. The ``rv`` row
        of a precomputed ``[4, E]`` index constant is gathered with the ``rv``
        tensor, so a ``tf.function`` traced with a tensor ``rv`` serves all
        four redundancy versions without retracing.

        Input
        -----
        buffer_llr : [..., buffer_length], tf.float
            Soft buffer (zeros before the first round, :meth:`empty_buffer`).
        llr : [..., e], tf.float
            Received LLRs :math:`\ln\frac{p(b=1)}{p(b=0)}` of the ``E``
            transmitted (interleaved) bits, e.g. the demapper output.
        rv : int | scalar tf.int
            Redundancy version of the reception, in 0..3.

        Output
        ------
        : [..., buffer_length], tf.float
            Updated soft buffer (a new tensor; the input is not modified).
        """
        buffer_llr = tf.cast(buffer_llr, self.rdtype)
        llr = tf.cast(llr, self.rdtype)
        self._check_last_dim(buffer_llr, self._buffer_length, "buffer_llr")
        self._check_last_dim(llr, self._e, "llr")
        idx = tf.gather(self._sel_idx, self._rv_index(rv))
        shape = tf.shape(buffer_llr)
        buf_t = tf.transpose(tf.reshape(buffer_llr, [-1, self._buffer_length]))  # [L, B]
        llr_t = tf.transpose(tf.reshape(llr, [-1, self._e]))  # [E, B]
        buf_t = tf.tensor_scatter_nd_add(buf_t, idx[:, None], llr_t)
        return tf.reshape(tf.transpose(buf_t), shape)

    def decode(self, buffer_llr, num_iter=None):
        """Decode the soft buffer with :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`.

        The decoder clips the buffer to ``+-llr_max`` first.

        Input
        -----
        buffer_llr : [..., buffer_length], tf.float
            Soft buffer (logits :math:`\\ln\\frac{p(b=1)}{p(b=0)}`).
        num_iter : `None` (default) | int
            Overrides the number of BP iterations.

        Output
        ------
        : [..., k], tf.float
            Decoded information bits (hard decisions unless ``hard_out=False``
            was given in ``decoder_kwargs``; all codeword bits if
            ``return_infobits=False``).
        """
        buffer_llr = tf.cast(buffer_llr, self.rdtype)
        self._check_last_dim(buffer_llr, self._buffer_length, "buffer_llr")
        return self._decoder(buffer_llr, num_iter=num_iter)
