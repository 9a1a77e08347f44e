"""Registry of links by scenario name (``[link] type``)."""

from dataclasses import dataclass

from kaq_sionna.channels.cdl import CDL_PARAMS
from kaq_sionna.core.params import Param, SpecError, check_params
from links.coded_mimo import LAYER_MAPPINGS, CodedMIMOLink
from links.decoding import DECODERS, DEFAULT_DECODER


@dataclass(frozen=True)
class LinkSpec:
    """How to build one link type from scenario keys.

    ``factory(detector, snr_type, **params)`` builds the link; ``check(params)``
    raises :class:`~kaq_sionna.core.params.SpecError` on inconsistent combinations.
    """

    name: str
    summary: str
    params: tuple
    factory: object
    check: object = None

    def as_dict(self):
        return {"name": self.name, "summary": self.summary,
                "params": [{"name": p.name, "type": p.type.__name__, "default": p.default,
                            "accepts": p.describe(), "help": p.help} for p in self.params]}


# LDPC5GEncoder limits (TS 38.212): k <= 8448 information bits.
LDPC_MAX_K = 8448


def _check_coded_mimo(p):
    nbps = p["num_bits_per_symbol"]
    if p["n"] % nbps:
        raise SpecError("[link] n", f"a multiple of num_bits_per_symbol = {nbps}", p["n"])
    if not p["uncoded"]:
        if p["k"] >= p["n"]:
            raise SpecError("[link] k", f"< n = {p['n']} (code rate below 1)", p["k"])
        if p["k"] > LDPC_MAX_K:
            raise SpecError("[link] k", f"<= {LDPC_MAX_K} (5G LDPC limit)", p["k"])
        if p["k"] / p["n"] < 1 / 5:
            raise SpecError("[link] k", f">= n/5 = {p['n'] / 5:g} (5G LDPC lowest rate 1/5)",
                            p["k"])


_NUM_BITS = Param("num_bits_per_symbol", int, 4, "QAM order in bits", choices=(2, 4, 6, 8))
# The LDPC decoder of every coded link (links.decoding).
_DECODER_PARAMS = (
    Param("num_bp_iter", int, 20, "LDPC belief-propagation iterations", min=1),
    Param("decoder", str, DEFAULT_DECODER, "LDPC check-node update (Sionna's LDPC5GDecoder "
          "cn_update): exact sum-product (boxplus-phi, boxplus), min-sum, offset min-sum",
          choices=DECODERS),
)

LINKS = {
    "coded_mimo": LinkSpec(
        "coded_mimo",
        "5G LDPC-coded spatial multiplexing over flat Rayleigh/Kronecker fading (CodedMIMOLink)",
        (
            Param("num_tx", int, 4, "transmitted streams", min=1, max=64),
            Param("num_rx", int, 4, "receive antennas", min=1, max=256),
            _NUM_BITS,
            Param("k", int, 512, "information bits per codeword", min=1),
            Param("n", int, 1024, "codeword length", min=2),
            Param("channel", str, "rayleigh", "fading model", choices=("rayleigh", "kronecker")),
            Param("tx_corr", float, 0.0, "Kronecker exponential tx correlation", min=0.0,
                  max=0.99),
            Param("rx_corr", float, 0.0, "Kronecker exponential rx correlation", min=0.0,
                  max=0.99),
            Param("fading", str, "fast", "new channel per channel use or per codeword",
                  choices=("fast", "block")),
            Param("csi_error_var", float, 0.0, "variance of the CSI error h_hat = h + e",
                  min=0.0),
            Param("csi_pilots", int, 0, "pilot-based LS CSI: orthogonal unit-energy pilots "
                  "per stream, error variance N0 / csi_pilots added (0: off)", min=0,
                  max=4096),
            Param("layer_mapping", str, "per-stream", "codeword to stream mapping: each stream its "
                  "own codeword, or codeword c's symbol j on stream (c + j) mod num_tx (every "
                  "codeword over all streams, as NR layer mapping)",
                  choices=LAYER_MAPPINGS),
            Param("uncoded", bool, False, "hard-decision BER of the detector, no LDPC"),
            *_DECODER_PARAMS,
        ),
        lambda detector, snr_type, **p: CodedMIMOLink(detector, snr_type=snr_type, **p),
        _check_coded_mimo,
    ),
}


def _ofdm_grid(p):
    """The resource grid of ``[link]`` keys ``p``; a bad grid is a :class:`SpecError`."""
    from kaq_sionna.channels.cdl import ofdm_resource_grid

    try:
        return ofdm_resource_grid(p["num_tx"], p["num_ofdm_symbols"], p["fft_size"],
                                  p["subcarrier_spacing_khz"] * 1e3, p["cyclic_prefix_length"],
                                  [int(v) for v in p["num_guard_carriers"]], p["dc_null"],
                                  [int(v) for v in p["pilot_ofdm_symbol_indices"]])
    except ValueError as err:
        raise SpecError("[link] resource grid", "a valid OFDM resource grid", str(err)) from None


def _check_int_list(p, key, length=None):
    values = p[key]
    if not all(float(v).is_integer() for v in values) or (length and len(values) != length):
        what = f"a list of {length} integers" if length else "a list of integers"
        raise SpecError(f"[link] {key}", what, values)


def _check_ofdm(p):
    _check_int_list(p, "num_guard_carriers", 2)
    _check_int_list(p, "pilot_ofdm_symbol_indices")
    if p["polarization"] == "dual":
        for key in ("num_tx", "num_rx"):
            if p[key] % 2:
                raise SpecError(f"[link] {key}", "an even number of antennas with "
                                "polarization = 'dual' (cross-polarised pairs)", p[key])
    rg = _ofdm_grid(p)
    n = int(rg.num_data_symbols) * p["num_bits_per_symbol"]
    k = round(p["coderate"] * n)
    if not 0 < k < n:
        raise SpecError("[link] coderate", f"a rate giving 0 < k < n = {n}", p["coderate"])
    if k > LDPC_MAX_K:
        raise SpecError("[link] coderate", f"k <= {LDPC_MAX_K} (5G LDPC limit); the grid "
                        f"carries n = {n} bits per stream, so coderate <= "
                        f"{LDPC_MAX_K / n:.3f} or a smaller grid", p["coderate"])
    if p["domain"] == "time" and p["csi"] == "perfect" and p["cyclic_prefix_length"] == 0:
        raise SpecError("[link] cyclic_prefix_length", "> 0 in the time domain", 0)


# CDL keys (kaq_sionna.channels.cdl) and receiver keys shared by the OFDM and PUSCH links.
_CDL_PARAMS = (
    *CDL_PARAMS,
    *_DECODER_PARAMS,
)

_OFDM_PARAMS = (
    Param("num_tx", int, 4, "streams (= user antennas, no precoding)", min=1, max=16),
    Param("num_rx", int, 4, "base-station antennas", min=1, max=64),
    _NUM_BITS,
    Param("coderate", float, 0.5, "LDPC code rate (k = round(coderate * n))", min=0.2,
          max=0.95),
    *_CDL_PARAMS,
    Param("subcarrier_spacing_khz", float, 30.0, "subcarrier spacing in kHz",
          choices=(15.0, 30.0, 60.0, 120.0)),
    Param("fft_size", int, 76, "subcarriers of the grid (including guards and DC)", min=4,
          max=4096),
    Param("num_ofdm_symbols", int, 14, "OFDM symbols per slot", min=2, max=28),
    Param("cyclic_prefix_length", int, 6, "cyclic prefix in samples", min=0),
    Param("num_guard_carriers", list, [5, 6], "guard subcarriers [left, right]"),
    Param("dc_null", bool, True, "null the DC subcarrier"),
    Param("pilot_ofdm_symbol_indices", list, [2, 11], "OFDM symbols carrying the Kronecker "
          "pilots"),
    Param("domain", str, "freq", "channel per resource element (freq) or on the waveform "
          "(time, includes inter-carrier interference)", choices=("freq", "time")),
    Param("interpolation", str, "lin", "pilot interpolation of the LS estimator",
          choices=("nn", "lin", "lin_time_avg")),
)


def _build_ofdm(detector, snr_type, **p):
    from links.ofdm import OFDMLink

    p = dict(p, num_guard_carriers=[int(v) for v in p["num_guard_carriers"]],
             pilot_ofdm_symbol_indices=[int(v) for v in p["pilot_ofdm_symbol_indices"]])
    return OFDMLink(detector, snr_type=snr_type, **p)


LINKS["ofdm"] = LinkSpec(
    "ofdm",
    "5G LDPC-coded MIMO-OFDM uplink over 3GPP CDL A-E with LS or perfect CSI (OFDMLink)",
    _OFDM_PARAMS, _build_ofdm, _check_ofdm)


def _check_pusch(p):
    from links.pusch import pusch_config

    ports = p["num_antenna_ports"] or None
    try:
        cfg = pusch_config(p["num_tx"], ports, p["mcs_index"], p["mcs_table"], p["num_prb"],
                           p["subcarrier_spacing_khz"], p["precoding"], p["tpmi"])
    except ValueError as err:
        raise SpecError("[link] PUSCH configuration", "a valid PUSCH configuration",
                        str(err)) from None
    if cfg.tb.num_bits_per_symbol != p["num_bits_per_symbol"]:
        raise SpecError("[link] num_bits_per_symbol", f"{cfg.tb.num_bits_per_symbol} (the "
                        f"modulation of MCS {p['mcs_index']} in table {p['mcs_table']})",
                        p["num_bits_per_symbol"])
    if p["polarization"] == "dual":
        for key, value in (("num_antenna_ports", ports or p["num_tx"]),
                           ("num_rx", p["num_rx"])):
            if value % 2:
                raise SpecError(f"[link] {key}", "an even number of antennas with "
                                "polarization = 'dual'", value)


_PUSCH_PARAMS = (
    Param("num_tx", int, 2, "layers (streams)", min=1, max=4),
    Param("num_rx", int, 4, "base-station antennas", min=1, max=64),
    _NUM_BITS,
    Param("mcs_index", int, 14, "TS 38.214 MCS index", min=0, max=28),
    Param("mcs_table", int, 1, "TS 38.214 MCS table (1: up to 64-QAM, 2: up to 256-QAM)",
          choices=(1, 2, 3, 4)),
    Param("num_prb", int, 16, "physical resource blocks", min=1, max=275),
    Param("subcarrier_spacing_khz", float, 30.0, "subcarrier spacing in kHz",
          choices=(15.0, 30.0, 60.0)),
    Param("precoding", str, "non-codebook", "PUSCH precoding", choices=("non-codebook",
                                                                         "codebook")),
    Param("num_antenna_ports", int, 0, "user antennas (0: one per layer)", min=0, max=4),
    Param("tpmi", int, 0, "transmit precoding matrix indicator (codebook precoding)", min=0,
          max=27),
    *_CDL_PARAMS,
)


def _build_pusch(detector, snr_type, **p):
    from links.pusch import PUSCHLink

    p = dict(p, num_antenna_ports=p["num_antenna_ports"] or None)
    return PUSCHLink(detector, snr_type=snr_type, **p)


LINKS["pusch"] = LinkSpec(
    "pusch",
    "5G NR PUSCH (transport-block CRC, DMRS, layer mapping) over 3GPP CDL (PUSCHLink)",
    _PUSCH_PARAMS, _build_pusch, _check_pusch)

HARQ_LINK_TYPES = ("coded_mimo", "ofdm", "pusch")


def validate_link(link_type, params):
    """Checks ``[link]`` keys for ``link_type``; returns the full parameter dict."""
    if link_type not in LINKS:
        raise SpecError("[link] type", "one of " + ", ".join(sorted(LINKS)), repr(link_type))
    spec = LINKS[link_type]
    full = check_params(spec.params, params, "[link]")
    if spec.check is not None:
        spec.check(full)
    return full


def build_link(link_type, detector, snr_type="ebno", **params):
    """Builds a link of registry type ``link_type`` around ``detector``."""
    full = validate_link(link_type, params)
    return LINKS[link_type].factory(detector, snr_type, **full)


# ---------------------------------------------------------------- HARQ ([harq] section)

HARQ_PARAMS = (
    Param("max_transmissions", int, 4, "maximum transmissions per codeword", min=1, max=16),
    Param("rv_sequence", list, [0, 2, 3, 1], "redundancy versions of successive rounds "
          "(integers in 0..3, cycled)"),
    Param("combining", str, "ir", "incremental redundancy or chase combining",
          choices=("ir", "chase")),
    Param("storage", list, ["float32"], "soft-buffer storage schemes, one curve per detector "
          "and scheme (see `kaq-sionna list`)"),
    Param("storage_point", str, "buffer", "store the combined circular buffer or each "
          "round's LLRs", choices=("buffer", "rounds")),
    Param("new_channel_per_round", bool, True, "draw a new channel for every round (false: "
          "keep round 1's channel)"),
    Param("calibrate", bool, True, "fit quantizers that need it (uniform clip, max-MI "
          "thresholds) on one batch at each SNR point before simulating it"),
    Param("target_round", int, 2, "round whose block errors the stopping rule counts "
          "(2: after the first retransmission)", min=1, max=16),
)


def _storage_names():
    """Scalar schemes and shipped EQ-Net models (name -> system dict or None)."""
    from kaq_sionna.registry.compressors import COMPRESSORS, eqnet_compressor_names

    return {**dict.fromkeys(COMPRESSORS), **eqnet_compressor_names()}


def _check_storage_model(name):
    """A damaged EQ-Net storage model is an error when the scenario is validated, before any
    curve runs (not when its link is built)."""
    from kaq_sionna import pretrained

    problem = pretrained.weights_problem(pretrained.model_dir(name))
    if problem:
        raise SpecError("[harq] storage", f"an intact EQ-Net model (folder "
                        f"{pretrained.model_dir(name)})", f"{name!r}: {problem}")


def validate_harq(params, link_type, link):
    """Checks a ``[harq]`` table for a link of type ``link_type`` with parameters ``link``.

    Returns the full parameter dict (``rv_sequence`` as ints, ``storage`` as names).
    """
    if link_type not in HARQ_LINK_TYPES:
        raise SpecError("[harq]", "a link type with HARQ support (" + ", ".join(HARQ_LINK_TYPES)
                        + ")", repr(link_type))
    if link.get("uncoded"):
        raise SpecError("[harq]", "a coded link ([link] uncoded = false)", "uncoded = true")
    given = dict(params)
    rvs, storage = given.pop("rv_sequence", None), given.pop("storage", None)
    full = check_params(HARQ_PARAMS, given, "[harq]")
    if rvs is not None:
        if not isinstance(rvs, list) or not rvs or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3 for v in rvs):
            raise SpecError("[harq] rv_sequence", "a non-empty list of integers in 0..3",
                            repr(rvs))
        full["rv_sequence"] = list(rvs)
    if storage is not None:
        known = _storage_names()
        if not isinstance(storage, list) or not storage or not all(
                isinstance(v, str) for v in storage):
            raise SpecError("[harq] storage", "a non-empty list of storage scheme names",
                            repr(storage))
        for name in storage:
            if name not in known:
                raise SpecError("[harq] storage", "names among " + ", ".join(known),
                                repr(name))
            system = known[name]
            if system is None:
                continue
            if link_type == "pusch":
                raise SpecError("[harq] storage", "scalar storage schemes over PUSCH (its "
                                "code blocks are not aligned with channel uses, which EQ-Net "
                                "codes)", repr(name))
            if link.get("layer_mapping", "per-stream") != "per-stream":
                raise SpecError("[harq] storage", "scalar storage schemes with [link] "
                                "layer_mapping = 'cyclic' (EQ-Net codes a channel use's soft-bit "
                                "matrix in stream order; the buffer holds it in codeword order)",
                                repr(name))
            size = {k: link[k] for k in ("num_tx", "num_bits_per_symbol")}
            if {k: system.get(k) for k in size} != size:
                raise SpecError("[harq] storage", f"an EQ-Net model for this link ({size})",
                                f"{name!r} for {system}")
            if params.get("storage_point") != "rounds":
                raise SpecError("[harq] storage_point", f"'rounds' for EQ-Net storage "
                                f"{name!r} (it compresses per-channel-use soft-bit matrices)",
                                repr(params.get("storage_point", "buffer")))
            _check_storage_model(name)
        if len(set(storage)) != len(storage):
            raise SpecError("[harq] storage", "distinct names", repr(storage))
        full["storage"] = list(storage)
    if full["target_round"] > full["max_transmissions"]:
        raise SpecError("[harq] target_round",
                        f"<= max_transmissions = {full['max_transmissions']}",
                        full["target_round"])
    return full


def build_harq_link(base_link, harq, storage):
    """Wraps ``base_link`` in a :class:`links.HARQLink` for one storage scheme of ``harq``."""
    from kaq_sionna.registry.compressors import resolve_compressor
    from links.harq import HARQLink

    compressor = resolve_compressor(storage, base_link.num_tx, base_link.num_bits_per_symbol)
    return HARQLink(base_link, max_transmissions=harq["max_transmissions"],
                    rv_sequence=tuple(harq["rv_sequence"]), combining=harq["combining"],
                    storage=compressor, storage_point=harq["storage_point"],
                    new_channel_per_round=harq["new_channel_per_round"])
