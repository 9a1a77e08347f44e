"""3GPP TR 38.901 CDL channels on an OFDM resource grid, normalised as the flat links.

Shared by :class:`links.OFDMLink` and :class:`links.PUSCHLink`: one uplink user
with ``num_ut_ant`` antennas, one base station with ``num_bs_ant`` antennas.
"""

import tensorflow as tf
from sionna.phy import Block
from sionna.phy.channel import (
    ApplyOFDMChannel,
    ApplyTimeChannel,
    cir_to_ofdm_channel,
    cir_to_time_channel,
    subcarrier_frequencies,
    time_lag_discrete_time_channel,
)
from sionna.phy.channel.tr38901 import CDL, AntennaArray

CDL_MODELS = ("A", "B", "C", "D", "E")
DOMAINS = ("freq", "time")
POLARIZATIONS = ("single", "dual")


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
