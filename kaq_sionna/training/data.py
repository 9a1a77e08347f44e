"""Seeded training, validation and evaluation sets for the unfolded detectors.

Every set is drawn by :func:`~kaq_sionna.quantization.calibration.rayleigh_mimo_batch`
(the model of :mod:`kaq_sionna.channels`: i.i.d. ``CN(0, 1/num_rx)`` Rayleigh
channel, unit-energy QAM, ``Es/N0 = 1/N0``), or with ``[system] channel = "cdl"`` by
:class:`kaq_sionna.channels.cdl.CDLSampler` (per-resource-element samples of OFDM slots over
CDL with LS or perfect CSI, one Es/N0 per slot), from a generator whose seed
is derived from the scenario seed and a tag (``"train"`` and the epoch,
``"val"``, ``"calib"``, ``"eval"`` and the SNR). The data of an epoch
therefore depends only on ``(seed, epoch)``: a resumed run sees exactly the
batches an uninterrupted run would have seen.
"""

from kaq_sionna.channels.cdl import cdl_sampler
from kaq_sionna.core.seeding import derive_seed  # noqa: F401  (re-exported)
from kaq_sionna.quantization.calibration import rayleigh_mimo_batch


def training_set(system, num_samples, seed, *tags, snr_db=None, precision=None):
    """Draws a seeded set of uncoded QAM transmissions over Rayleigh MIMO channels.

    Parameters
    ----------
    system : dict
        ``num_tx``, ``num_rx``, ``num_bits_per_symbol`` and ``snr_db`` (``[lo, hi]``,
        Es/N0 in dB drawn uniformly per sample).
    num_samples : int
    seed : int
        Scenario seed.
    tags : str or int
        Identify the set (e.g. ``"train", epoch``); see :func:`derive_seed`.
    snr_db : None, float or (float, float)
        Overrides ``system["snr_db"]`` (e.g. a fixed evaluation SNR).
    precision : None | "single" | "double"

    Output
    ------
    : :class:`~kaq_sionna.quantization.calibration.MIMOBatch`
    """
    snr = tuple(system["snr_db"]) if snr_db is None else snr_db
    if system.get("channel", "rayleigh") == "cdl":
        sampler = cdl_sampler(system["num_tx"], system["num_rx"], system["num_bits_per_symbol"],
                              system)
        return sampler(num_samples, snr, derive_seed(seed, *tags))
    return rayleigh_mimo_batch(system["num_tx"], system["num_rx"], system["num_bits_per_symbol"],
                               num_samples, snr, seed=derive_seed(seed, *tags),
                               precision=precision)


__all__ = ["derive_seed", "training_set"]
