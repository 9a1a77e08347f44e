"""LDPC-coded spatial multiplexing over flat-fading MIMO channels.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import tensorflow as tf
from sionna.phy import Block
from sionna.phy.channel import ApplyFlatFadingChannel
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Mapper
from sionna.phy.utils import hard_decisions

from kaq_sionna.channels import (
    SNR_TYPES,
    FlatFadingMIMOChannel,
    add_csi_error,
    add_ls_csi_error,
    snr_db_to_no,
)
from links.decoding import DEFAULT_DECODER, check_decoder, ldpc_decoder

#: Codeword-to-stream mappings of :class:`CodedMIMOLink`.
LAYER_MAPPINGS = ("per-stream", "cyclic")


class CodedMIMOLink(Block):
    r"""5G-LDPC-coded spatial multiplexing of ``num_tx`` streams over ``num_rx`` antennas.

    Chain: :class:`~sionna.phy.mapping.BinarySource` ->
    :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` ``(k, n)`` with the 5G bit
    interleaver -> QAM :class:`~sionna.phy.mapping.Mapper` -> flat-fading MIMO
    channel (:class:`kaq_sionna.channels.FlatFadingMIMOChannel`) and AWGN ->
    ``detector(y, h_hat, s)`` -> :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`.

    ``num_tx`` codewords of ``n`` bits are sent in ``n / num_bits_per_symbol``
    channel uses. With ``layer_mapping="per-stream"`` every stream carries its own
    codeword (V-BLAST); with ``"cyclic"`` symbol ``j`` of codeword ``c`` is sent on
    stream ``(c + j) mod num_tx``, so that every codeword visits all streams
    equally, as a 5G NR codeword spread over its layers and as the EQ-Net paper's
    codewords "grouped in MIMO vectors" (EQ-Net paper, Sect. 2.6.3). The difference
    matters when the streams are unequal: a SIC detector's detection order, or a
    quantizer that reconstructs some positions of the ``[N_t, K]`` soft-bit matrix
    worse than others. With ``fading="fast"`` each
    channel use sees an independent channel matrix; with ``fading="block"`` one
    matrix holds for the whole codeword. The detector receives the channel
    estimate ``h_hat = h + e``, ``e ~ CN(0, csi_error_var)``, and the noise
    covariance ``s = N0 I`` (it is not told about the CSI error). The SNR
    convention is that of :mod:`kaq_sionna.channels` (``docs/conventions.md``).

    Parameters
    ----------
    detector : callable
        Any callable with the Sionna MIMO detector signature ``det(y, h, s)``
        returning LLRs ``[..., num_tx, num_bits_per_symbol]`` (ln p(1)/p(0)),
        e.g. a :class:`sionna.phy.mimo.LinearDetector` with ``output="bit"`` or
        a trainable :class:`keras.layers.Layer`.
    num_tx, num_rx : int
        Number of streams and of receive antennas.
    num_bits_per_symbol : int
        QAM order in bits (2, 4, 6 or 8).
    k, n : int
        Information and codeword length of the 5G LDPC code (``n`` multiple of
        ``num_bits_per_symbol``).
    channel : "rayleigh" | "kronecker"
    tx_corr, rx_corr : float
        Exponential correlation coefficients of the Kronecker model.
    fading : "fast" | "block"
    csi_error_var : float
        Variance of the additive CSI error.
    csi_pilots : int
        If ``> 0``, ``h_hat`` is a pilot-based LS estimate: ``csi_pilots`` orthogonal
        unit-energy pilot symbols per stream, error ``CN(0, N0 / csi_pilots)`` at the
        link's SNR (:func:`kaq_sionna.channels.ls_csi_error_var`), added to
        ``csi_error_var``. ``0`` (default): no estimation error beyond ``csi_error_var``.
    uncoded : bool
        If `True`, no LDPC: ``n`` random bits per stream are mapped directly and
        ``b_hat`` holds the detector's hard decisions (``k`` is ignored).
    snr_type : "ebno" | "esno"
        Meaning of the ``ebno_db`` input.
    layer_mapping : "per-stream" | "cyclic"
        Codeword-to-stream mapping (see above).
    num_bp_iter : int
        Belief-propagation iterations of the LDPC decoder.
    decoder : "boxplus-phi" (default) | "boxplus" | "minsum" | "offset-minsum"
        Check-node update of the LDPC decoder (:mod:`links.decoding`).
    soft_output : bool
        If `True`, ``b_hat`` holds the decoder's output LLRs (logits) instead of
        hard bits, so that a loss can be back-propagated to the detector.

    Input
    -----
    batch_size : int or tf.int32
        Number of codewords per stream.
    ebno_db : float or tf.float
        SNR in dB (Eb/N0 or Es/N0, see ``snr_type``).

    Output
    ------
    b : [batch_size, num_tx, k] (``n`` if uncoded), tf.float
        Transmitted information bits.
    b_hat : [batch_size, num_tx, k] (``n`` if uncoded), tf.float
        Decoded bits (or LLRs with ``soft_output=True``).
    """

    def __init__(self, detector, num_tx=4, num_rx=4, num_bits_per_symbol=4, k=512, n=1024,
                 channel="rayleigh", tx_corr=0.0, rx_corr=0.0, fading="fast",
                 csi_error_var=0.0, csi_pilots=0, uncoded=False, snr_type="ebno", num_bp_iter=20,
                 soft_output=False, layer_mapping="per-stream", decoder=DEFAULT_DECODER,
                 precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if n % num_bits_per_symbol:
            raise ValueError(f"n={n} must be a multiple of num_bits_per_symbol="
                             f"{num_bits_per_symbol}")
        if fading not in ("fast", "block"):
            raise ValueError(f"fading must be 'fast' or 'block', found {fading!r}")
        if layer_mapping not in LAYER_MAPPINGS:
            raise ValueError(f"layer_mapping must be one of {LAYER_MAPPINGS}, found "
                             f"{layer_mapping!r}")
        if snr_type not in SNR_TYPES:
            raise ValueError(f"snr_type must be one of {SNR_TYPES}, found {snr_type!r}")
        if not uncoded and not 0 < k < n:
            raise ValueError(f"k must satisfy 0 < k < n, found k={k}, n={n}")
        check_decoder(decoder, num_bp_iter)
        self.decoder, self.num_bp_iter = decoder, num_bp_iter
        self.detector = detector
        self.num_tx, self.num_rx = num_tx, num_rx
        self.num_bits_per_symbol = num_bits_per_symbol
        self.n, self.k = n, (n if uncoded else k)
        self.uncoded, self.snr_type, self.fading = uncoded, snr_type, fading
        self.csi_error_var = float(csi_error_var)
        if csi_pilots < 0:
            raise ValueError(f"csi_pilots must be >= 0, found {csi_pilots}")
        self.csi_pilots = int(csi_pilots)
        self.soft_output = soft_output
        self.coderate = 1.0 if uncoded else k / n
        self.num_channel_uses = n // num_bits_per_symbol
        self.layer_mapping = layer_mapping
        # cyclic: codeword c's symbol j is sent on stream (c + j) mod num_tx, i.e. stream t
        # at channel use j carries codeword (t - j) mod num_tx
        j, i = tf.meshgrid(tf.range(self.num_channel_uses), tf.range(num_tx), indexing="ij")
        self._stream_to_codeword = (i - j) % num_tx   # [ncu, num_tx], i = stream
        self._codeword_to_stream = (i + j) % num_tx   # [ncu, num_tx], i = codeword

        self._source = BinarySource(precision=precision)
        self._mapper = Mapper("qam", num_bits_per_symbol, precision=precision)
        self._channel = FlatFadingMIMOChannel(num_tx, num_rx, channel, tx_corr, rx_corr,
                                              precision=precision)
        self._apply_channel = ApplyFlatFadingChannel(precision=precision)
        if not uncoded:
            self._encoder = LDPC5GEncoder(k, n, num_bits_per_symbol=num_bits_per_symbol,
                                          precision=precision)
            self._decoder = ldpc_decoder(self._encoder, decoder, num_bp_iter,
                                         hard_out=not soft_output, precision=precision)


    def source_bits(self, batch_size):
        """Fresh information bits ``[batch_size, num_tx, k]`` from the link's binary source."""
        return self._source([batch_size, self.num_tx, self.k])

    def snr_to_no(self, ebno_db):
        """Noise variance for an SNR in dB under this link's ``snr_type`` and code rate."""
        return snr_db_to_no(ebno_db, self.snr_type, self.num_bits_per_symbol, self.coderate,
                            precision=self.precision)

    def draw_channel(self, batch_size):
        r"""Draws the channel matrices of one codeword per stream.

        Input
        -----
        batch_size : int | tf.int32

        Output
        ------
        h : [batch_size, n / num_bits_per_symbol, num_rx, num_tx], tf.complex
            One matrix per channel use (``fading="fast"``) or the same matrix
            repeated over the codeword (``fading="block"``).
        """
        ncu = self.num_channel_uses
        if self.fading == "fast":
            return self._channel([batch_size, ncu])
        return tf.repeat(self._channel([batch_size, 1]), ncu, axis=1)

    def detect_codewords(self, c, no, h=None):
        r"""Maps coded bits, sends them over the channel and returns the detector's LLRs.

        This is the part of the chain between encoder and decoder; HARQ links
        call it once per transmission.

        Input
        -----
        c : [batch_size, num_tx, n], tf.float
            Coded (and interleaved) bits of one codeword per stream.
        no : scalar tf.float
            Noise variance.
        h : `None` (default) | [batch_size, n / num_bits_per_symbol, num_rx, num_tx], tf.complex
            Channel to use (e.g. kept across HARQ rounds, see :meth:`draw_channel`);
            `None` draws a new one. Noise and CSI error are always drawn anew.

        Output
        ------
        llr : [batch_size, num_tx, n], tf.float
            Channel LLRs (ln p(1)/p(0)) of the coded bits.
        """
        return self.detect(*self.send(c, no, h))

    def send(self, c, no, h=None):
        r"""The channel part of :meth:`detect_codewords`: QAM, (cyclic layer mapping), fading,
        noise, and the receiver's channel estimate.

        Input
        -----
        c : [batch_size, num_tx, n], tf.float
        no : scalar tf.float
        h : `None` (default) | [batch_size, n / num_bits_per_symbol, num_rx, num_tx], tf.complex

        Output
        ------
        y : [batch_size, n / num_bits_per_symbol, num_rx], tf.complex
        h_hat : [batch_size, n / num_bits_per_symbol, num_rx, num_tx], tf.complex
        s : [batch_size, n / num_bits_per_symbol, num_rx, num_rx], tf.complex
            Noise covariance ``N0 I`` given to the detector.
        """
        # [batch, num_tx, ncu] -> channel uses first: [batch, ncu, num_tx]
        x = tf.transpose(self._mapper(c), [0, 2, 1])
        if self.layer_mapping == "cyclic":
            x = self._per_channel_use_gather(x, self._stream_to_codeword)
        if h is None:
            h = self.draw_channel(tf.shape(c)[0])
        y = self._apply_channel(x, h, no)
        if self.csi_pilots:
            h_hat = add_ls_csi_error(h, no, self.csi_pilots, self.csi_error_var)
        else:
            h_hat = add_csi_error(h, self.csi_error_var)
        s = tf.cast(no, self.cdtype) * tf.eye(self.num_rx, dtype=self.cdtype)
        s = tf.broadcast_to(s, tf.concat([tf.shape(y), [self.num_rx]], 0))
        return y, h_hat, s

    def detect(self, y, h_hat, s):
        r"""The detector part of :meth:`detect_codewords`: ``detector(y, h_hat, s)`` and the LLRs
        back in codeword order.

        Output
        ------
        llr : [batch_size, num_tx, n], tf.float
        """
        batch_size = tf.shape(y)[0]
        nbps, ncu = self.num_bits_per_symbol, self.num_channel_uses
        llr = self.detector(y, h_hat, s)  # [batch, ncu, num_tx, nbps]
        llr = tf.cast(tf.reshape(llr, [batch_size, ncu, self.num_tx, nbps]), self.rdtype)
        if self.layer_mapping == "cyclic":
            llr = self._per_channel_use_gather(llr, self._codeword_to_stream)
        llr = tf.transpose(llr, [0, 2, 1, 3])
        return tf.reshape(llr, [batch_size, self.num_tx, self.n])

    def decode(self, llr):
        """LDPC decoding of channel LLRs ``[batch_size, num_tx, n]`` (hard decisions if uncoded)."""
        if self.uncoded:
            return llr if self.soft_output else hard_decisions(llr)
        return self._decoder(llr)

    def stages(self):
        """The chain as four consecutive stages, for ``kaq-sionna bench link --profile``.

        Output
        ------
        list of (name, fn)
            ``"source/encoder"`` ``(batch_size, ebno_db) -> (c, no)``, ``"channel"``
            ``(c, no) -> (y, h_hat, s)``, ``"detector"`` ``(y, h_hat, s) -> (llr,)``,
            ``"decoder"`` ``(llr,) -> (b_hat,)``: each takes the previous one's outputs, and
            together they run what :meth:`call` runs, in the same order.
        """
        def source_encoder(batch_size, ebno_db):
            b = self.source_bits(batch_size)
            return (b if self.uncoded else self._encoder(b)), self.snr_to_no(ebno_db)

        return [("source/encoder", source_encoder), ("channel", self.send),
                ("detector", lambda y, h_hat, s: (self.detect(y, h_hat, s),)),
                ("decoder", lambda llr: (self.decode(llr),))]

    @staticmethod
    def _per_channel_use_gather(x, index):
        """``out[b, j, i, ...] = x[b, j, index[j, i], ...]`` for ``x`` of shape
        ``[batch, ncu, num_tx, ...]`` and ``index`` of shape ``[ncu, num_tx]``."""
        perm = [1, 0] + list(range(2, len(x.shape)))
        out = tf.gather(tf.transpose(x, perm), index, axis=2, batch_dims=1)
        return tf.transpose(out, perm)

    def call(self, batch_size, ebno_db):
        no = self.snr_to_no(ebno_db)
        b = self._source([batch_size, self.num_tx, self.k])
        c = b if self.uncoded else self._encoder(b)
        return b, self.decode(self.detect_codewords(c, no))
