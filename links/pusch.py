"""5G NR PUSCH over 3GPP CDL channels with a pluggable MIMO detector."""

import numpy as np
import tensorflow as tf
from sionna.phy import Block
from sionna.phy.mimo import StreamManagement
from sionna.phy.nr import PUSCHConfig, PUSCHReceiver, PUSCHTransmitter, TBDecoder
from sionna.phy.ofdm import OFDMDetector

from kaq_sionna.channels import SNR_TYPES, snr_db_to_no
from kaq_sionna.channels.cdl import CSI_MODES, CDLOFDMChannel
from links.decoding import DEFAULT_DECODER, check_decoder

PRECODING_MODES = ("non-codebook", "codebook")


def pusch_config(num_layers=2, num_antenna_ports=None, mcs_index=14, mcs_table=1, num_prb=16,
                 subcarrier_spacing_khz=30.0, precoding="non-codebook", tpmi=0,
                 dmrs_additional_position=1):
    """A :class:`~sionna.phy.nr.PUSCHConfig` for one user.

    DMRS: configuration type 1, single symbol, ports ``0..num_layers-1``, two CDM groups
    without data (so that up to four layers get orthogonal DMRS). Raises `ValueError`
    naming the parameter when Sionna refuses the combination.
    """
    if precoding not in PRECODING_MODES:
        raise ValueError(f"precoding must be one of {PRECODING_MODES}, found {precoding!r}")
    ports = num_layers if num_antenna_ports is None else num_antenna_ports
    if precoding == "non-codebook" and ports != num_layers:
        raise ValueError(f"non-codebook precoding sends one layer per antenna port: "
                         f"num_antenna_ports must equal the number of layers {num_layers}, "
                         f"found {ports}")
    if ports < num_layers:
        raise ValueError(f"num_antenna_ports must be >= the number of layers {num_layers}, "
                         f"found {ports}")
    if num_layers > 4:
        raise ValueError(f"PUSCH carries at most 4 layers, found {num_layers}")
    cfg = PUSCHConfig()
    try:
        cfg.carrier.subcarrier_spacing = subcarrier_spacing_khz
        cfg.carrier.n_size_grid = num_prb
        cfg.num_layers = num_layers
        cfg.num_antenna_ports = ports
        cfg.precoding = precoding
        if precoding == "codebook":
            cfg.tpmi = tpmi
        cfg.dmrs.config_type = 1
        cfg.dmrs.length = 1
        cfg.dmrs.additional_position = dmrs_additional_position
        cfg.dmrs.num_cdm_groups_without_data = 2
        cfg.dmrs.dmrs_port_set = list(range(num_layers))
        cfg.tb.mcs_table = mcs_table
        cfg.tb.mcs_index = mcs_index
        cfg.check_config()
    except (AssertionError, ValueError) as err:
        raise ValueError(f"invalid PUSCH configuration: {err or type(err).__name__}") from None
    return cfg


class PUSCHLink(Block):
    r"""5G NR PUSCH uplink (Sionna's PUSCHTransmitter / PUSCHReceiver) over a CDL channel.

    Chain: :class:`~sionna.phy.nr.PUSCHTransmitter` (transport-block CRC, code-block
    segmentation, 5G LDPC and rate matching, scrambling, QAM, layer mapping, DMRS,
    optional codebook precoding) -> CDL channel per resource element
    (:class:`kaq_sionna.channels.cdl.CDLOFDMChannel`, normalised as the flat links) and AWGN ->
    :class:`~sionna.phy.nr.PUSCHReceiver` with DMRS-based LS channel estimation (or
    perfect CSI) and ``detector`` as its ``mimo_detector`` inside
    :class:`~sionna.phy.ofdm.OFDMDetector` -> layer demapping -> TB decoding with CRC.

    A block counts as erroneous when any decoded transport-block bit differs; the
    CRC status is returned by :meth:`transmit` (the two agree except for the rare
    undetected error). The SNR is counted as in the flat links (per layer, data
    resource elements only, code rate of the MCS): ``docs/conventions.md``.

    Parameters
    ----------
    detector : callable | `None`
        Sionna MIMO detector ``det(y, h, s)`` with LLR output
        ``[..., num_tx, num_bits_per_symbol]``; `None` uses PUSCHReceiver's built-in
        LMMSE (max-log) detector.
    num_tx : int
        Layers (streams).
    num_rx : int
        Base-station antennas.
    num_bits_per_symbol : int
        Must be the modulation order of the MCS (checked).
    mcs_index, mcs_table : int
        TS 38.214 MCS (table 1: 64-QAM, 2: 256-QAM, ...).
    num_prb : int
    subcarrier_spacing_khz : float
    precoding : "non-codebook" | "codebook"
    num_antenna_ports : int | `None`
        User antennas (default ``num_tx``); with codebook precoding, ``tpmi`` selects
        the precoder.
    tpmi : int
    cdl_model, delay_spread_ns, ue_speed, carrier_frequency_ghz, polarization
        As in :class:`links.OFDMLink`.
    csi : "ls" | "perfect"
    snr_type : "ebno" | "esno"
    num_bp_iter : int
        Belief-propagation iterations of the LDPC decoder (per code block).
    decoder : "boxplus-phi" (default) | "boxplus" | "minsum" | "offset-minsum"
        Check-node update of the LDPC decoder (:mod:`links.decoding`).

    Input
    -----
    batch_size : int | tf.int32
    ebno_db : float | tf.float

    Output
    ------
    b : [batch_size, 1, tb_size], tf.float
        Transport-block bits.
    b_hat : [batch_size, 1, tb_size], tf.float
    """

    def __init__(self, detector, num_tx=2, num_rx=4, num_bits_per_symbol=4, mcs_index=14,
                 mcs_table=1, num_prb=16, subcarrier_spacing_khz=30.0,
                 precoding="non-codebook", num_antenna_ports=None, tpmi=0,
                 cdl_model="C", delay_spread_ns=300.0, ue_speed=3.0, carrier_frequency_ghz=3.5,
                 polarization="dual", csi="ls", snr_type="ebno", num_bp_iter=20,
                 decoder=DEFAULT_DECODER, precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if csi not in CSI_MODES:
            raise ValueError(f"csi must be one of {CSI_MODES}, found {csi!r}")
        if snr_type not in SNR_TYPES:
            raise ValueError(f"snr_type must be one of {SNR_TYPES}, found {snr_type!r}")
        check_decoder(decoder, num_bp_iter)
        self.decoder, self.num_bp_iter = decoder, num_bp_iter
        cfg = pusch_config(num_tx, num_antenna_ports, mcs_index, mcs_table, num_prb,
                           subcarrier_spacing_khz, precoding, tpmi)
        if cfg.tb.num_bits_per_symbol != num_bits_per_symbol:
            raise ValueError(f"num_bits_per_symbol = {num_bits_per_symbol} does not match MCS "
                             f"{mcs_index} of table {mcs_table} "
                             f"({cfg.tb.num_bits_per_symbol} bits per symbol)")
        self.config = cfg
        self.num_tx, self.num_rx = num_tx, num_rx
        self.num_bits_per_symbol = num_bits_per_symbol
        self.snr_type, self.csi = snr_type, csi
        # read outside any tf.function: target_coderate is not graph-safe (notes/sionna-1.2)
        self.coderate = float(cfg.tb.target_coderate)
        self.tb_size = int(cfg.tb_size)
        self.detector = detector

        self._transmitter = PUSCHTransmitter(cfg, return_bits=True, output_domain="freq",
                                             precision=precision)
        rg = self._transmitter.resource_grid
        self.resource_grid = rg
        self._channel = CDLOFDMChannel(rg, cdl_model, delay_spread_ns * 1e-9,
                                       carrier_frequency_ghz * 1e9, ue_speed,
                                       cfg.num_antenna_ports, num_rx, polarization, "freq",
                                       precision=precision)
        receiver_args = {"return_tb_crc_status": True, "precision": precision,
                         "channel_estimator": "perfect" if csi == "perfect" else None}
        if detector is not None:
            sm = StreamManagement(np.ones([1, 1], bool), num_tx)
            receiver_args["mimo_detector"] = OFDMDetector(detector, "bit", rg, sm,
                                                          precision=precision)
            receiver_args["stream_management"] = sm
        receiver_args["tb_decoder"] = TBDecoder(self._transmitter._tb_encoder,
                                                num_bp_iter=num_bp_iter, cn_update=decoder,
                                                precision=precision)
        self._receiver = PUSCHReceiver(self._transmitter, **receiver_args)

    def snr_to_no(self, ebno_db):
        """Noise variance per resource element for an SNR in dB."""
        return snr_db_to_no(ebno_db, self.snr_type, self.num_bits_per_symbol, self.coderate,
                            precision=self.precision)

    def transmit(self, batch_size, ebno_db):
        r"""One batch of slots.

        Output
        ------
        b, b_hat : [batch_size, 1, tb_size], tf.float
        crc_ok : [batch_size, 1], tf.bool
            Transport-block CRC status.
        """
        no = self.snr_to_no(ebno_db)
        x, b = self._transmitter(batch_size)
        h, h_freq = self._channel.draw(batch_size)
        y = self._channel(x, h, no)
        if self.csi == "perfect":
            b_hat, crc = self._receiver(y, no, h_freq)
        else:
            b_hat, crc = self._receiver(y, no)
        return b, b_hat, tf.cast(crc, tf.bool)

    def coded_llrs(self, batch_size, ebno_db):
        r"""The differentiable part of the chain, for training a detector through the link:
        the transport block's coded (scrambled) bits and the receiver's LLRs of them after
        layer demapping, i.e. what the TB decoder would receive.

        Output
        ------
        c : [batch_size, 1, num_coded_bits], tf.float
        llr : [batch_size, 1, num_coded_bits], tf.float
            ln p(1)/p(0), so ``BinaryCrossentropy(from_logits=True)(c, llr)`` is a loss.
        """
        tx = self._transmitter
        b = tx._binary_source([batch_size, 1, self.tb_size])
        c = tx._tb_encoder(b)
        return c, self.detect_coded_bits(c, self.snr_to_no(ebno_db))

    def detect_coded_bits(self, c, no, channel=None):
        r"""The physical layer between the TB encoder and the TB decoder: QAM, layer mapping,
        DMRS and resource grid (and precoding), the CDL channel and AWGN, channel estimation
        (LS or perfect), ``detector`` and layer demapping.

        Input
        -----
        c : [batch_size, 1, num_coded_bits], tf.float
            Coded, scrambled transport-block bits.
        no : tf.float
            Noise variance.
        channel : `None` | (h, h_freq)
            A realisation from the channel's ``draw`` (e.g. kept over HARQ rounds), else a
            new one.

        Output
        ------
        llr : [batch_size, 1, num_coded_bits], tf.float
            ln p(1)/p(0) of ``c``.
        """
        return self.detect(*self.send(c, no, channel))

    def send(self, c, no, channel=None):
        r"""The channel part of :meth:`detect_coded_bits`: QAM, layer mapping, DMRS and
        resource grid (and precoding), the CDL channel, AWGN and channel estimation.

        Output
        ------
        y : [batch_size, 1, num_rx, num_ofdm_symbols, fft_size], tf.complex
        h_hat, err_var : the channel estimate and its error variance (LS or perfect)
        no : tf.float
        """
        # Sionna's transmitter and receiver expose no hook between TB coding and
        # decoding, so their stages are called one by one here (same order as their call()).
        tx, rx = self._transmitter, self._receiver
        x = tx._resource_grid_mapper(tx._layer_mapper(tx._mapper(c)))
        if self.config.precoding == "codebook":
            x = tx._precoder(x)
        h, h_freq = self._channel.draw(tf.shape(c)[0]) if channel is None else channel
        y = self._channel(x, h, no)
        if self.csi == "perfect":
            if self.config.precoding == "codebook":
                raise NotImplementedError("perfect CSI with codebook precoding is only "
                                          "available through transmit()")
            h_hat, err_var = h_freq, tf.zeros([], self.rdtype)
        else:
            h_hat, err_var = rx._channel_estimator(y, no)
        return y, h_hat, err_var, no

    def detect(self, y, h_hat, err_var, no):
        r"""The detector part of :meth:`detect_coded_bits`: ``detector`` (inside
        :class:`~sionna.phy.ofdm.OFDMDetector`) and layer demapping.

        Output
        ------
        llr : [batch_size, 1, num_coded_bits], tf.float
        """
        rx = self._receiver
        return rx._layer_demapper(rx._mimo_detector(y, h_hat, err_var, no))

    def stages(self):
        """The chain as four consecutive stages, for ``kaq-sionna bench link --profile``:
        ``"source/encoder"`` (TB CRC, segmentation, LDPC, rate matching, scrambling)
        ``(batch_size, ebno_db) -> (c, no)``, ``"channel"`` (with channel estimation)
        ``(c, no) -> (y, h_hat, err_var, no)``, ``"detector"`` ``-> (llr,)`` and
        ``"decoder"`` (descrambling, rate recovery, LDPC, CRC) ``(llr,) -> (b_hat,)``.
        They call the components :meth:`transmit` calls, through :meth:`detect_coded_bits`'s
        path (the PUSCHTransmitter/PUSCHReceiver blocks themselves are not split).
        """
        tx = self._transmitter

        def source_encoder(batch_size, ebno_db):
            b = tx._binary_source([batch_size, 1, self.tb_size])
            return tx._tb_encoder(b), self.snr_to_no(ebno_db)

        return [("source/encoder", source_encoder), ("channel", self.send),
                ("detector", lambda *a: (self.detect(*a),)),
                ("decoder", lambda llr: (self._receiver._tb_decoder(llr)[0],))]

    def harq_view(self):
        """This link as HARQ codewords: its code blocks (:class:`links.PUSCHCodeBlocks`)."""
        from links.pusch_harq import PUSCHCodeBlocks

        return PUSCHCodeBlocks(self)

    def call(self, batch_size, ebno_db):
        b, b_hat, _ = self.transmit(batch_size, ebno_db)
        return b, b_hat


__all__ = ["PUSCHLink", "pusch_config", "PRECODING_MODES"]
