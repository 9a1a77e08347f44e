r"""The code blocks of a PUSCH transport block as the codewords of a HARQ process.

:class:`links.HARQLink` runs HARQ over any link that transmits ``num_tx``
codewords of ``n`` rate-matched bits per batch entry (``detect_codewords``).
A PUSCH transport block is different: TB CRC, segmentation into ``C`` code
blocks (each with its CB CRC when ``C > 1``), LDPC and rate matching per code
block (TS 38.212 5.4.2, ``E_r`` bits each), concatenation, scrambling, then
QAM, layer mapping and DMRS over all layers. :class:`PUSCHCodeBlocks` presents
that physical layer to HARQLink:

* a "codeword" is one code block: ``k`` = the code-block size of Sionna's
  :class:`~sionna.phy.nr.TBEncoder` (payload + CB CRC), ``n`` = ``E_r``, and
  the ``C`` code blocks of a transport block sit on the codeword axis
  (``num_tx = C``); HARQLink's rate matcher builds each code block's circular
  buffer and redundancy version (bit selection and the 5.4.2.2 interleaver
  per code block, bit-exact with the TB encoder for rv 0);
* :meth:`detect_codewords` concatenates the code blocks, scrambles (the TB
  encoder's scrambler), maps, layer-maps and sends them through the PUSCH
  link's channel and receiver (LS or perfect CSI, the detector under test),
  and returns the descrambled LLRs per code block;
* ``harq_unit = "transport_block"``: HARQLink retransmits and stores the whole
  transport block while any of its code blocks fails (NR HARQ without
  code-block-group retransmission); a transport block succeeds when all its
  code blocks decode (the genie CRC of HARQLink, per transport block).

The code-block payloads are drawn as independent random bits (the TB CRC and
CB CRC bits of a real transport block are functions of the payload; with a
genie CRC this changes no error statistic). All code blocks must have the same
``E_r`` (true whenever the data resource elements divide evenly), otherwise
the constructor says so.
"""

import numpy as np
import tensorflow as tf
from sionna.phy import Block
from sionna.phy.fec.scrambling import Descrambler
from sionna.phy.mapping import BinarySource

from kaq_sionna.harq.rate_matching import select_base_graph

__all__ = ["PUSCHCodeBlocks"]


class PUSCHCodeBlocks(Block):
    r"""HARQ view of a :class:`links.PUSCHLink`: its code blocks as codewords.

    Parameters
    ----------
    pusch_link : links.PUSCHLink

    Attributes
    ----------
    k : int
        Code-block size (payload + CB CRC) of the TB encoder.
    n : int
        Rate-matched bits per code block ``E_r``.
    num_tx : int
        Code blocks per transport block ``C`` (the codeword axis of HARQLink).
    num_bits_per_symbol : int
    harq_unit : "transport_block"

    Input (``detect_codewords``)
    ----------------------------
    c : [batch_size, num_code_blocks, n], tf.float
        Rate-matched, interleaved code-block bits (before scrambling).
    no : tf.float
        Noise variance (:meth:`snr_to_no`).
    h : `None` | (h, h_freq)
        A channel drawn by :meth:`draw_channel` (kept over rounds), else a new one.

    Output (``detect_codewords``)
    -----------------------------
    llr : [batch_size, num_code_blocks, n], tf.float
        Descrambled LLRs (ln p(1)/p(0)) of the code-block bits.
    """

    harq_unit = "transport_block"

    def __init__(self, pusch_link, **kwargs):
        super().__init__(precision=pusch_link.precision, **kwargs)
        self._link = pusch_link
        enc = pusch_link._transmitter._tb_encoder
        cw = np.asarray(enc.cw_lengths)
        if np.any(cw != cw[0]):
            raise ValueError(f"HARQ over PUSCH needs code blocks of equal rate-matched length; "
                             f"this configuration has E_r = {cw.tolist()} (choose num_prb or "
                             f"the MCS so that the data resource elements divide evenly)")
        self.k = int(enc._cb_size)
        self.n = int(cw[0])
        self.num_tx = int(enc.num_cbs)
        self.num_bits_per_symbol = int(pusch_link.num_bits_per_symbol)
        self.snr_type = pusch_link.snr_type
        bg = select_base_graph(self.k, self.k / self.n)
        if bg != enc.ldpc_encoder._bg:
            raise ValueError(f"the TB encoder uses base graph {enc.ldpc_encoder._bg}, the rate "
                             f"matcher would choose {bg} for k = {self.k}, E = {self.n}")
        self._scrambler = enc.scrambler
        # as Sionna's TBDecoder: the scrambler's sequence applied to LLRs (sign flips)
        self._descrambler = None if enc.scrambler is None else Descrambler(
            enc.scrambler, binary=False, precision=pusch_link.precision)
        self._source = BinarySource(precision=pusch_link.precision)

    @property
    def num_bp_iter(self):
        """`int` : LDPC iterations of the PUSCH link's decoder"""
        return self._link.num_bp_iter

    @property
    def decoder(self):
        """`str` : Check-node update of the PUSCH link's decoder"""
        return self._link.decoder

    @property
    def pusch_link(self):
        """The wrapped :class:`links.PUSCHLink`"""
        return self._link


    def source_bits(self, batch_size):
        """Fresh information bits ``[batch_size, num_tx, k]`` from the link's binary source."""
        return self._source([batch_size, self.num_tx, self.k])

    def snr_to_no(self, ebno_db):
        """Noise variance of the PUSCH link (its SNR convention and code rate)."""
        return self._link.snr_to_no(ebno_db)

    def draw_channel(self, batch_size):
        """A channel realisation ``(h, h_freq)`` to keep over the rounds of a process."""
        return self._link._channel.draw(batch_size)

    def detect_codewords(self, c, no, h=None):
        batch = tf.shape(c)[0]
        bits = tf.reshape(tf.cast(c, self.rdtype), [batch, 1, self.num_tx * self.n])
        if self._scrambler is not None:
            bits = self._scrambler(bits)
        llr = tf.cast(self._link.detect_coded_bits(bits, no, h), self.rdtype)  # [batch, 1, G]
        if self._descrambler is not None:
            llr = self._descrambler(llr)
        return tf.reshape(llr, [batch, self.num_tx, self.n])

    def call(self, c, no):
        return self.detect_codewords(c, no)
