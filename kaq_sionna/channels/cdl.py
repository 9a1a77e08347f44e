"""3GPP TR 38.901 CDL channels on an OFDM resource grid, normalised as the flat links.

Used by :class:`links.OFDMLink` and :class:`links.PUSCHLink` and by the trainers
(:class:`CDLSampler` draws per-resource-element detector inputs): one uplink user
with ``num_ut_ant`` antennas, one base station with ``num_bs_ant`` antennas.
"""

import numpy as np
import tensorflow as tf
from sionna.phy import Block, config
from sionna.phy.channel import (
    ApplyOFDMChannel,
    ApplyTimeChannel,
    cir_to_ofdm_channel,
    cir_to_time_channel,
    subcarrier_frequencies,
    time_lag_discrete_time_channel,
)
from sionna.phy.channel.tr38901 import CDL, AntennaArray
from sionna.phy.mapping import Constellation
from sionna.phy.ofdm import (
    LSChannelEstimator,
    OFDMDemodulator,
    OFDMModulator,
    RemoveNulledSubcarriers,
    ResourceGrid,
    ResourceGridMapper,
)

from kaq_sionna.core.params import Param
from kaq_sionna.quantization.calibration import MIMOBatch

CDL_MODELS = ("A", "B", "C", "D", "E")
DOMAINS = ("freq", "time")
POLARIZATIONS = ("single", "dual")
CSI_MODES = ("ls", "perfect")


def ofdm_resource_grid(num_streams, num_ofdm_symbols=14, fft_size=76,
                       subcarrier_spacing=30e3, cyclic_prefix_length=6,
                       num_guard_carriers=(5, 6), dc_null=True,
                       pilot_ofdm_symbol_indices=(2, 11), precision=None):
    """One transmitter's :class:`~sionna.phy.ofdm.ResourceGrid` with ``num_streams`` streams and
    orthogonal Kronecker pilots on the OFDM symbols ``pilot_ofdm_symbol_indices``.

    Raises `ValueError` naming the parameter when the grid cannot be built.
    """
    symbols = list(pilot_ofdm_symbol_indices)
    if not symbols or any(not 0 <= i < num_ofdm_symbols for i in symbols) \
            or len(set(symbols)) != len(symbols):
        raise ValueError(f"pilot_ofdm_symbol_indices must be distinct indices in "
                         f"0..{num_ofdm_symbols - 1}, found {symbols}")
    if len(symbols) >= num_ofdm_symbols:
        raise ValueError("pilot_ofdm_symbol_indices leave no OFDM symbol for data "
                         f"({len(symbols)} of {num_ofdm_symbols})")
    if cyclic_prefix_length > fft_size:
        raise ValueError(f"cyclic_prefix_length must be <= fft_size = {fft_size}, "
                         f"found {cyclic_prefix_length}")
    guards = list(num_guard_carriers)
    effective = fft_size - sum(guards) - int(dc_null)
    if len(guards) != 2 or min(guards) < 0 or effective <= 0:
        raise ValueError(f"num_guard_carriers must be two counts >= 0 leaving subcarriers "
                         f"for data in fft_size = {fft_size}, found {guards}")
    if effective % num_streams:
        raise ValueError(f"the {effective} effective subcarriers (fft_size - guards - DC) must "
                         f"be a multiple of the number of streams {num_streams} for "
                         "orthogonal Kronecker pilots")
    return ResourceGrid(num_ofdm_symbols=num_ofdm_symbols, fft_size=fft_size,
                        subcarrier_spacing=subcarrier_spacing, num_tx=1,
                        num_streams_per_tx=num_streams,
                        cyclic_prefix_length=cyclic_prefix_length,
                        num_guard_carriers=guards, dc_null=dc_null, pilot_pattern="kronecker",
                        pilot_ofdm_symbol_indices=symbols, precision=precision)


def antenna_array(num_ant, polarization, carrier_frequency, precision=None):
    """A uniform linear :class:`~sionna.phy.channel.tr38901.AntennaArray` of ``num_ant``
    elements: ``num_ant`` vertically polarised ones, or ``num_ant / 2`` cross-polarised pairs
    with ``polarization="dual"``."""
    if polarization not in POLARIZATIONS:
        raise ValueError(f"polarization must be one of {POLARIZATIONS}, found {polarization!r}")
    dual = polarization == "dual"
    if dual and num_ant % 2:
        raise ValueError(f"dual polarization needs an even number of antennas, found {num_ant}")
    return AntennaArray(num_rows=1, num_cols=num_ant // 2 if dual else num_ant,
                        polarization=polarization, polarization_type="cross" if dual else "V",
                        antenna_pattern="38.901", carrier_frequency=carrier_frequency,
                        precision=precision)


class CDLOFDMChannel(Block):
    r"""Uplink CDL channel applied to an OFDM resource grid.

    Wraps :class:`~sionna.phy.channel.tr38901.CDL` with the channel normalised so
    that every transmit antenna's column has unit expected energy summed over the
    receive antennas (``E ||h_k||^2 = 1``), as in the flat links
    (``docs/conventions.md``): Sionna's per-link normalisation (unit energy per
    antenna pair, averaged over the grid) divided by ``sqrt(num_bs_ant)``.

    ``domain="freq"`` applies the channel per resource element
    (:class:`~sionna.phy.channel.ApplyOFDMChannel`; no inter-carrier interference);
    ``domain="time"`` convolves the OFDM waveform with the discrete-time channel
    (:class:`~sionna.phy.channel.ApplyTimeChannel`, includes ICI from mobility and
    delays beyond the cyclic prefix); the caller modulates and demodulates.

    Parameters
    ----------
    resource_grid : :class:`~sionna.phy.ofdm.ResourceGrid`
    model : "A" | "B" | "C" | "D" | "E"
    delay_spread : float
        RMS delay spread in seconds.
    carrier_frequency : float
        Hz.
    ue_speed : float
        User speed in m/s.
    num_ut_ant, num_bs_ant : int
    polarization : "single" | "dual"
    domain : "freq" | "time"

    Input
    -----
    x : [batch, 1, num_ut_ant, num_ofdm_symbols, fft_size] (freq) or
        [batch, 1, num_ut_ant, num_time_samples] (time), tf.complex
    h : first output of :meth:`draw`
    no : scalar tf.float, noise variance

    Output
    ------
    y : [batch, 1, num_bs_ant, num_ofdm_symbols, fft_size] (freq) or
        [batch, 1, num_bs_ant, num_time_samples + l_tot - 1] (time), tf.complex
    """

    def __init__(self, resource_grid, model="C", delay_spread=100e-9, carrier_frequency=3.5e9,
                 ue_speed=0.0, num_ut_ant=4, num_bs_ant=4, polarization="single",
                 domain="freq", precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if model not in CDL_MODELS:
            raise ValueError(f"CDL model must be one of {CDL_MODELS}, found {model!r}")
        if domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, found {domain!r}")
        self.resource_grid, self.domain = resource_grid, domain
        self.num_bs_ant = num_bs_ant
        ut = antenna_array(num_ut_ant, polarization, carrier_frequency, precision)
        bs = antenna_array(num_bs_ant, polarization, carrier_frequency, precision)
        self._cdl = CDL(model, delay_spread, carrier_frequency, ut, bs, "uplink",
                        min_speed=ue_speed, precision=precision)
        rg = resource_grid
        self._scale = tf.cast(num_bs_ant ** -0.5, self.cdtype)
        self._frequencies = subcarrier_frequencies(rg.fft_size, rg.subcarrier_spacing,
                                                   precision=precision)
        if domain == "freq":
            self._apply = ApplyOFDMChannel(precision=precision)
        else:
            self._l_min, self._l_max = time_lag_discrete_time_channel(rg.bandwidth)
            self._l_tot = self._l_max - self._l_min + 1
            self._apply = ApplyTimeChannel(rg.num_time_samples, self._l_tot, precision=precision)

    def draw(self, batch_size):
        r"""Draws one channel realisation per batch entry.

        Output
        ------
        h : tf.complex
            What :meth:`call` applies: ``h_freq`` (freq) or
            [batch, 1, num_bs_ant, 1, num_ut_ant, num_time_samples + l_tot - 1, l_tot] (time).
        h_freq : [batch, 1, num_bs_ant, 1, num_ut_ant, num_ofdm_symbols, fft_size], tf.complex
            Per-resource-element response (perfect CSI); in the time domain, sampled at the
            start of each OFDM symbol (after its cyclic prefix), as in Sionna's tutorials.
        """
        rg = self.resource_grid
        if self.domain == "freq":
            a, tau = self._cdl(batch_size, rg.num_ofdm_symbols, 1 / rg.ofdm_symbol_duration)
            h = cir_to_ofdm_channel(self._frequencies, a, tau, normalize=True) * self._scale
            return h, h
        a, tau = self._cdl(batch_size, rg.num_time_samples + self._l_tot - 1, rg.bandwidth)
        h_time = cir_to_time_channel(rg.bandwidth, a, tau, self._l_min, self._l_max,
                                     normalize=True) * self._scale
        step = rg.fft_size + rg.cyclic_prefix_length
        a_sym = a[..., rg.cyclic_prefix_length:-1:step][..., :rg.num_ofdm_symbols]
        h_freq = cir_to_ofdm_channel(self._frequencies, a_sym, tau, normalize=True)
        return h_time, h_freq * self._scale

    def call(self, x, h, no):
        """Applies channel ``h`` (from :meth:`draw`) and AWGN of variance ``no`` to ``x``."""
        return self._apply(x, h, no)


class CDLFrontEnd(Block):
    r"""One OFDM slot from the mapped grid to the detector's inputs: CDL channel and AWGN
    (:class:`CDLOFDMChannel`; in the time domain with OFDM modulation and demodulation), then
    LS channel estimation with interpolation or perfect CSI. Shared by
    :class:`links.OFDMLink` and :class:`CDLSampler`.

    Parameters
    ----------
    resource_grid : :class:`~sionna.phy.ofdm.ResourceGrid`
    model, delay_spread, carrier_frequency, ue_speed, num_ut_ant, num_bs_ant, polarization,
    domain
        As in :class:`CDLOFDMChannel`.
    csi : "ls" | "perfect"
    interpolation : "nn" | "lin" | "lin_time_avg"
        Pilot interpolation of the LS estimator.

    Input
    -----
    x_rg : [batch, 1, num_ut_ant, num_ofdm_symbols, fft_size], tf.complex
    no : tf.float, scalar or [batch]
        Noise variance per resource element.
    h : `None` | output of :meth:`draw`
        `None` draws a new channel.

    Output
    ------
    y : [batch, 1, num_bs_ant, num_ofdm_symbols, fft_size], tf.complex
    h_hat : [batch, 1, num_bs_ant, 1, num_ut_ant, num_ofdm_symbols, num_effective_subcarriers]
    err_var : tf.float, broadcastable to ``h_hat``
    """

    def __init__(self, resource_grid, model="C", delay_spread=300e-9, carrier_frequency=3.5e9,
                 ue_speed=3.0, num_ut_ant=4, num_bs_ant=4, polarization="dual",
                 domain="freq", csi="ls", interpolation="lin", precision=None, **kwargs):
        super().__init__(precision=precision, **kwargs)
        if csi not in CSI_MODES:
            raise ValueError(f"csi must be one of {CSI_MODES}, found {csi!r}")
        self.csi, self.domain = csi, domain
        rg = resource_grid
        self._channel = CDLOFDMChannel(rg, model, delay_spread, carrier_frequency, ue_speed,
                                       num_ut_ant, num_bs_ant, polarization, domain,
                                       precision=precision)
        if domain == "time":
            self._modulator = OFDMModulator(rg.cyclic_prefix_length, precision=precision)
            self._demodulator = OFDMDemodulator(rg.fft_size, self._channel._l_min,
                                                rg.cyclic_prefix_length, precision=precision)
        self._estimator = LSChannelEstimator(rg, interpolation_type=interpolation,
                                             precision=precision)
        self._remove_nulled = RemoveNulledSubcarriers(rg, precision=precision)

    def draw(self, batch_size):
        """One channel realisation per slot: :meth:`CDLOFDMChannel.draw`."""
        return self._channel.draw(batch_size)

    def call(self, x_rg, no, h=None):
        if h is None:
            h = self.draw(tf.shape(x_rg)[0])
        h_apply, h_freq = h
        if self.domain == "freq":
            y = self._channel(x_rg, h_apply, no)
        else:
            y = self._demodulator(self._channel(self._modulator(x_rg), h_apply, no))
        if self.csi == "perfect":
            return y, self._remove_nulled(h_freq), tf.zeros([], self.rdtype)
        h_hat, err_var = self._estimator(y, no)
        return y, h_hat, err_var


# Scenario keys of a CDL channel, shared by the OFDM/PUSCH links and the trainers' [system].
CDL_PARAMS = (
    Param("cdl_model", str, "C", "3GPP TR 38.901 CDL profile", choices=CDL_MODELS),
    Param("delay_spread_ns", float, 300.0, "RMS delay spread in ns", min=0.0, max=10000.0,
          min_exclusive=True),
    Param("ue_speed", float, 3.0, "user speed in m/s", min=0.0, max=150.0),
    Param("carrier_frequency_ghz", float, 3.5, "carrier frequency in GHz", min=0.5, max=100.0),
    Param("polarization", str, "dual", "antenna arrays at both ends: single (vertical) or "
          "dual (cross-polarised pairs)", choices=POLARIZATIONS),
    Param("csi", str, "ls", "LS channel estimation or perfect CSI", choices=CSI_MODES),
)


class CDLSampler:
    r"""Per-resource-element detector inputs ``(y, h_hat, s)`` drawn from an OFDM slot over
    a CDL channel: the samples a detector sees inside :class:`links.OFDMLink`, for training
    on realistic channels.

    Each slot carries uniformly random QAM symbols on its data resource elements
    (Kronecker pilots elsewhere), goes through the CDL channel (frequency domain,
    normalised as in :class:`CDLOFDMChannel`) with AWGN at one Es/N0 per slot, and
    is estimated by LS with linear interpolation (or known perfectly). Every data
    resource element becomes one sample; ``s = (N0 + sum_k err_var_k) I`` as in
    :class:`~sionna.phy.ofdm.OFDMDetector` for a single transmitter.

    Parameters
    ----------
    num_tx, num_rx, num_bits_per_symbol : int
    cdl_model, delay_spread_ns, ue_speed, carrier_frequency_ghz, polarization, csi
        As in :data:`CDL_PARAMS`.
    fft_size, num_ofdm_symbols : int
        Grid of :func:`ofdm_resource_grid` (defaults of :class:`links.OFDMLink`).
    """

    def __init__(self, num_tx, num_rx, num_bits_per_symbol, cdl_model="C",
                 delay_spread_ns=300.0, ue_speed=3.0, carrier_frequency_ghz=3.5,
                 polarization="dual", csi="ls", fft_size=76, num_ofdm_symbols=14,
                 precision="single"):
        self.num_tx, self.num_rx = num_tx, num_rx
        self.rg = ofdm_resource_grid(num_tx, num_ofdm_symbols, fft_size, precision=precision)
        self._points = Constellation("qam", num_bits_per_symbol, precision=precision).points
        self._nbps = num_bits_per_symbol
        self._front = CDLFrontEnd(self.rg, cdl_model, delay_spread_ns * 1e-9,
                                  carrier_frequency_ghz * 1e9, ue_speed, num_tx, num_rx,
                                  polarization, "freq", csi, "lin", precision=precision)
        self._rg_mapper = ResourceGridMapper(self.rg, precision=precision)
        self._remove_nulled = RemoveNulledSubcarriers(self.rg, precision=precision)
        # data resource elements of the (nulled-carrier-free) grid, same for every stream
        mask = self.rg.pilot_pattern.mask.numpy()[0, 0].reshape(-1)  # [sym * eff_sc]
        self._data_re = tf.constant(np.flatnonzero(mask == 0), tf.int32)
        self.samples_per_slot = int(self._data_re.shape[0])

    def __call__(self, num_samples, snr_db, seed):
        r"""Draws ``num_samples`` resource elements (from ``ceil(num_samples /
        samples_per_slot)`` slots).

        Input
        -----
        num_samples : int
        snr_db : float | (float, float)
            Es/N0 in dB, fixed or uniform per slot.
        seed : int
            Seeds Sionna's generator (channel, noise) and the symbols.

        Output
        ------
        : :class:`~kaq_sionna.quantization.calibration.MIMOBatch` with ``num_samples`` entries
        """
        config.seed = seed
        gen = tf.random.Generator.from_seed(seed)
        nt, nr = self.num_tx, self.num_rx
        slots = -(-num_samples // self.samples_per_slot)
        ind = gen.uniform([slots, 1, nt, self.samples_per_slot], 0, 2 ** self._nbps, tf.int32)
        x_rg = self._rg_mapper(tf.gather(self._points, ind))
        if isinstance(snr_db, (tuple, list)):
            snr = gen.uniform([slots], snr_db[0], snr_db[1])
        else:
            snr = tf.fill([slots], tf.cast(snr_db, tf.float32))
        no = tf.pow(10.0, -snr / 10.0)
        y, h_hat, err_var = self._front(x_rg, no)
        # [slots, 1, nr, 1, nt, sym, sc] -> summed over streams, per data RE (0 with perfect CSI)
        err = tf.reshape(tf.reduce_sum(tf.broadcast_to(err_var, tf.shape(h_hat)), 4)
                         [:, 0, :, 0], [slots, nr, -1])
        err = tf.gather(err, self._data_re, axis=-1)               # [slots, nr, n_re]
        y = tf.reshape(self._remove_nulled(y)[:, 0], [slots, nr, -1])
        y = tf.transpose(tf.gather(y, self._data_re, axis=-1), [0, 2, 1])   # [slots, n_re, nr]
        h_hat = tf.reshape(h_hat[:, 0, :, 0], [slots, nr, nt, -1])
        h_hat = tf.transpose(tf.gather(h_hat, self._data_re, axis=-1), [0, 3, 1, 2])
        diag = no[:, None, None] + tf.transpose(err, [0, 2, 1])   # [slots, n_re, nr]
        s = tf.linalg.diag(tf.complex(diag, 0.0))
        ind = tf.transpose(ind[:, 0], [0, 2, 1])                   # [slots, n_re, nt]

        def flat(t, tail):
            return tf.reshape(t, [-1, *tail])[:num_samples]

        return MIMOBatch(x=flat(tf.gather(self._points, ind), [nt]), ind=flat(ind, [nt]),
                         y=flat(y, [nr]), h=flat(h_hat, [nr, nt]), s=flat(s, [nr, nr]),
                         no=flat(tf.broadcast_to(no[:, None], [slots, self.samples_per_slot]),
                                 []))


def channel_system_keys(system):
    """A trainer's ``[system]`` without the CDL keys unless ``channel = "cdl"``, so that
    Rayleigh scenarios keep their fingerprints and configs."""
    out = dict(system)
    if out.get("channel") != "cdl":
        for p in CDL_PARAMS:
            out.pop(p.name, None)
    return out


_SAMPLERS = {}


def cdl_sampler(num_tx, num_rx, num_bits_per_symbol, system):
    """The :class:`CDLSampler` of a trainer's ``[system]`` (built once per configuration)."""
    params = {p.name: system.get(p.name, p.default) for p in CDL_PARAMS}
    key = (num_tx, num_rx, num_bits_per_symbol, tuple(sorted(params.items())))
    if key not in _SAMPLERS:
        _SAMPLERS[key] = CDLSampler(num_tx, num_rx, num_bits_per_symbol, **params)
    return _SAMPLERS[key]
