"""Channels and SNR: flat-fading MIMO (:mod:`.flat`) and 3GPP CDL over OFDM (:mod:`.cdl`)."""

from kaq_sionna.channels.flat import (
    SNR_TYPES,
    FlatFadingMIMOChannel,
    add_csi_error,
    add_ls_csi_error,
    ls_csi_error_var,
    snr_db_to_no,
)

__all__ = ["SNR_TYPES", "FlatFadingMIMOChannel", "add_csi_error", "add_ls_csi_error",
           "ls_csi_error_var", "snr_db_to_no"]
