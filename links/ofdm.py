"""LDPC-coded MIMO-OFDM uplink over 3GPP CDL channels with a pluggable MIMO detector."""

import numpy as np
import tensorflow as tf
from sionna.phy import Block
from sionna.phy.fec.ldpc import LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Mapper
from sionna.phy.mimo import StreamManagement
from sionna.phy.ofdm import (
    OFDMDetector,
    ResourceGridMapper,
)

from kaq_sionna.channels import SNR_TYPES, snr_db_to_no
from kaq_sionna.channels.cdl import CSI_MODES, CDLFrontEnd, ofdm_resource_grid
from links.decoding import DEFAULT_DECODER, check_decoder, ldpc_decoder

INTERPOLATIONS = ("nn", "lin", "lin_time_avg")


class OFDMLink(Block):
    r"""5G-LDPC-coded MIMO-OFDM uplink over a 3GPP TR 38.901 CDL channel.

    Chain: :class:`~sionna.phy.mapping.BinarySource` ->
    :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` ``(k, n)`` with the 5G bit interleaver
    (one codeword per stream and slot, ``n = num_data_symbols * num_bits_per_symbol``,
    ``k = round(coderate * n)``) -> QAM -> :class:`~sionna.phy.ofdm.ResourceGridMapper`
    (Kronecker pilots) -> CDL channel (:class:`kaq_sionna.channels.cdl.CDLOFDMChannel`, frequency or
    time domain with OFDM (de)modulation) and AWGN -> LS channel estimation with
    interpolation (or perfect CSI) -> ``detector(y, h, s)`` inside
    :class:`~sionna.phy.ofdm.OFDMDetector`, which adds the channel-estimation error
    variance to the noise covariance ``s`` -> :class:`~sionna.phy.fec.ldpc.LDPC5GDecoder`.

    One user with ``num_tx`` antennas sends ``num_tx`` streams (no precoding) to a base
    station with ``num_rx`` antennas. The channel is normalised as in the flat links
    (unit expected column energy; ``docs/conventions.md``), so detectors trained on
    i.i.d. Rayleigh see channels of the same scale. The SNR counts the energy of data
    resource elements only (no pilot or cyclic-prefix overhead): at the same
    ``ebno_db`` the noise variance equals the flat link's.

    Parameters
    ----------
    detector : callable
        Sionna MIMO detector signature ``det(y, h, s)`` with LLR output
        ``[..., num_tx, num_bits_per_symbol]``.
    num_tx, num_rx : int
        Streams (= user antennas) and base-station antennas.
    num_bits_per_symbol : int
    coderate : float
        LDPC code rate (``k = round(coderate * n)``).
    cdl_model : "A" | "B" | "C" | "D" | "E"
    delay_spread_ns : float
    ue_speed : float
        m/s.
    carrier_frequency_ghz, subcarrier_spacing_khz : float
    fft_size, num_ofdm_symbols, cyclic_prefix_length : int
    num_guard_carriers : (int, int)
    dc_null : bool
    pilot_ofdm_symbol_indices : list of int
    polarization : "single" | "dual"
        Antenna arrays of both ends (dual: cross-polarised pairs).
    domain : "freq" | "time"
    csi : "ls" | "perfect"
    interpolation : "nn" | "lin" | "lin_time_avg"
        Pilot interpolation of the LS estimator.
    snr_type : "ebno" | "esno"
    num_bp_iter : int
        Belief-propagation iterations of the LDPC decoder.
    decoder : "boxplus-phi" (default) | "boxplus" | "minsum" | "offset-minsum"
        Check-node update of the LDPC decoder (:mod:`links.decoding`).
    soft_output : bool
        If `True`, ``b_hat`` holds the decoder's LLRs (for training through the link).

    Input
    -----
    batch_size : int | tf.int32
        Slots simulated (each carries ``num_tx`` codewords).
    ebno_db : float | tf.float

    Output
    ------
    b : [batch_size, num_tx, k], tf.float
    b_hat : [batch_size, num_tx, k], tf.float
    """

    def __init__(self, detector, num_tx=4, num_rx=4, num_bits_per_symbol=4, coderate=0.5,
                 cdl_model="C", delay_spread_ns=300.0, ue_speed=3.0, carrier_frequency_ghz=3.5,
                 subcarrier_spacing_khz=30.0, fft_size=76, num_ofdm_symbols=14,
                 cyclic_prefix_length=6, num_guard_carriers=(5, 6), dc_null=True,
                 pilot_ofdm_symbol_indices=(2, 11), polarization="dual", domain="freq",
                 csi="ls", interpolation="lin", snr_type="ebno", num_bp_iter=20,
                 soft_output=False, decoder=DEFAULT_DECODER, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if csi not in CSI_MODES:
            raise ValueError(f"csi must be one of {CSI_MODES}, found {csi!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, "
                             f"found {interpolation!r}")
        if snr_type not in SNR_TYPES:
            raise ValueError(f"snr_type must be one of {SNR_TYPES}, found {snr_type!r}")
        check_decoder(decoder, num_bp_iter)
        self.decoder, self.num_bp_iter = decoder, num_bp_iter
        self.detector = detector
        self.num_tx, self.num_rx = num_tx, num_rx
        self.num_bits_per_symbol = num_bits_per_symbol
        self.snr_type, self.csi, self.domain = snr_type, csi, domain
        self.soft_output = soft_output
        self.uncoded = False
        rg = ofdm_resource_grid(num_tx, num_ofdm_symbols, fft_size,
                                subcarrier_spacing_khz * 1e3, cyclic_prefix_length,
                                num_guard_carriers, dc_null, pilot_ofdm_symbol_indices,
                                precision=precision)
        self.resource_grid = rg
        self.n = int(rg.num_data_symbols) * num_bits_per_symbol
        self.k = int(round(coderate * self.n))
        if not 0 < self.k < self.n:
            raise ValueError(f"coderate must give 0 < k < n = {self.n}, found {coderate}")
        self.coderate = self.k / self.n
        self.num_channel_uses = int(rg.num_data_symbols)

        self._source = BinarySource(precision=precision)
        self._encoder = LDPC5GEncoder(self.k, self.n, num_bits_per_symbol=num_bits_per_symbol,
                                      precision=precision)
        self._decoder = ldpc_decoder(self._encoder, decoder, num_bp_iter,
                                     hard_out=not soft_output, precision=precision)
        self._mapper = Mapper("qam", num_bits_per_symbol, precision=precision)
        self._rg_mapper = ResourceGridMapper(rg, precision=precision)
        self._front = CDLFrontEnd(rg, cdl_model, delay_spread_ns * 1e-9,
                                  carrier_frequency_ghz * 1e9, ue_speed, num_tx, num_rx,
                                  polarization, domain, csi, interpolation, precision=precision)
        sm = StreamManagement(np.ones([1, 1], int), num_tx)
        self._ofdm_detector = OFDMDetector(detector, "bit", rg, sm, precision=precision)


    def source_bits(self, batch_size):
        """Fresh information bits ``[batch_size, num_tx, k]`` from the link's binary source."""
        return self._source([batch_size, self.num_tx, self.k])

    def snr_to_no(self, ebno_db):
        """Noise variance per resource element for an SNR in dB (data REs only)."""
        return snr_db_to_no(ebno_db, self.snr_type, self.num_bits_per_symbol, self.coderate,
                            precision=self.precision)

    def draw_channel(self, batch_size):
        """One CDL realisation per slot: the pair ``(h, h_freq)`` of
        :meth:`kaq_sionna.channels.cdl.CDLOFDMChannel.draw` (e.g. kept across HARQ rounds)."""
        return self._front.draw(batch_size)

    def receive(self, x_rg, no, h=None):
        r"""Channel, noise and channel estimation for a mapped resource grid.

        Input
        -----
        x_rg : [batch, 1, num_tx, num_ofdm_symbols, fft_size], tf.complex
        no : scalar tf.float
        h : `None` | output of :meth:`draw_channel`

        Output
        ------
        y : [batch, 1, num_rx, num_ofdm_symbols, fft_size], tf.complex
        h_hat : [batch, 1, num_rx, 1, num_tx, num_ofdm_symbols, num_effective_subcarriers]
        err_var : tf.float, broadcastable to ``h_hat``
        """
        return self._front(x_rg, no, h)

    def detect_codewords(self, c, no, h=None):
        r"""Maps coded bits onto the grid, sends them and returns the detector's LLRs.

        Input
        -----
        c : [batch_size, num_tx, n], tf.float
        no : scalar tf.float
        h : `None` | output of :meth:`draw_channel`

        Output
        ------
        llr : [batch_size, num_tx, n], tf.float
        """
        return self.detect(*self.send(c, no, h))

    def send(self, c, no, h=None):
        r"""The channel part of :meth:`detect_codewords`: QAM, resource grid, CDL channel,
        noise and channel estimation.

        Output
        ------
        y, h_hat, err_var : as :meth:`receive`
        no : scalar tf.float
        """
        x_rg = self._rg_mapper(tf.expand_dims(self._mapper(c), 1))
        y, h_hat, err_var = self.receive(x_rg, no, h)
        return y, h_hat, err_var, no

    def detect(self, y, h_hat, err_var, no):
        r"""The detector part of :meth:`detect_codewords` (the detector inside
        :class:`~sionna.phy.ofdm.OFDMDetector`).

        Output
        ------
        llr : [batch_size, num_tx, n], tf.float
        """
        llr = self._ofdm_detector(y, h_hat, err_var, no)  # [batch, 1, num_tx, n]
        return tf.reshape(tf.cast(llr, self.rdtype), [tf.shape(y)[0], self.num_tx, self.n])

    def stages(self):
        """The chain as four consecutive stages, for ``kaq-sionna bench link --profile``
        (as :meth:`links.CodedMIMOLink.stages`; ``"channel"`` includes channel estimation).

        Output
        ------
        list of (name, fn)
            ``"source/encoder"`` ``(batch_size, ebno_db) -> (c, no)``, ``"channel"``
            ``(c, no) -> (y, h_hat, err_var, no)``, ``"detector"`` ``-> (llr,)``,
            ``"decoder"`` ``(llr,) -> (b_hat,)``.
        """
        def source_encoder(batch_size, ebno_db):
            return self._encoder(self.source_bits(batch_size)), self.snr_to_no(ebno_db)

        return [("source/encoder", source_encoder), ("channel", self.send),
                ("detector", lambda *a: (self.detect(*a),)),
                ("decoder", lambda llr: (self._decoder(llr),))]

    def call(self, batch_size, ebno_db):
        no = self.snr_to_no(ebno_db)
        b = self._source([batch_size, self.num_tx, self.k])
        llr = self.detect_codewords(self._encoder(b), no)
        return b, self._decoder(llr)


__all__ = ["OFDMLink", "INTERPOLATIONS"]
