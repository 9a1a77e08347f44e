"""Registry entry ``"quantized-llr"``: a soft-bit source detector whose LLRs go through a
compressor (:class:`~kaq_sionna.detection.quantized_llr.QuantizedLLRDetector`; EQ-Net paper,
Sect. 3.4 and Fig. 9).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import re

import numpy as np

from kaq_sionna.core.params import Param, SpecError, check_params
from kaq_sionna.detection.quantized_llr import (
    DEFAULT_FIT_ESNO_DB,
    EQNET_LATENT,
    QuantizedLLRDetector,
    fit_source_llrs,
)
from kaq_sionna.registry.compressors import (
    COMPRESSORS,
    eqnet_compressor_names,
    resolve_compressor,
)
from kaq_sionna.registry.detectors import DetectorSpec, build_detector, get_detector_spec
from kaq_sionna.registry.pretrained import load_pretrained
from kaq_sionna.softbits import DEFAULT_UNIFORM_CLIP, MaxMIQuantizer, UniformLLRQuantizer
from kaq_sionna.softbits.eqnet import BlockwiseEQNet, UnquantizedLatent

_SCALAR_PATTERN = re.compile(r"^(uniform|maxmi)([1-8])$")


def resolve_quantizer(name, num_tx=None, num_bits_per_symbol=None, blockwise=False):
    r"""A fresh LLR quantizer from its name.

    Parameters
    ----------
    name : str
        ``"uniform<b>"`` or ``"maxmi<b>"`` with ``b`` in 1..8, any scalar scheme of
        :data:`kaq_sionna.registry.compressors.COMPRESSORS`, or a shipped EQ-Net model name.
    num_tx, num_bits_per_symbol : int | `None`
        The link's; an EQ-Net model of another size is refused (of another
        ``num_bits_per_symbol`` always, of another ``num_tx`` unless
        ``blockwise`` and ``num_tx`` is a multiple of the model's).
    blockwise : bool
        Quantize by blocks of the model's ``num_tx`` rows
        (:class:`~kaq_sionna.softbits.eqnet.BlockwiseEQNet`, the EQ-Net paper Sect. 3.5).

    Output
    ------
    : (quantizer, joint)
        ``joint`` is `True` for an :class:`~kaq_sionna.softbits.eqnet.EQNet`
        or a :class:`~kaq_sionna.softbits.eqnet.BlockwiseEQNet` (codes
        ``[..., N_t, K]`` matrices), `False` for a scalar compressor.

    Raises
    ------
    SpecError
        Unknown name, or an EQ-Net model of another link size.
    """
    key = "[[detector]] (quantized-llr) quantizer"
    m = _SCALAR_PATTERN.match(name) if isinstance(name, str) else None
    if m is not None and name not in COMPRESSORS:
        bits = int(m.group(2))
        if m.group(1) == "uniform":
            return UniformLLRQuantizer(bits, clip=DEFAULT_UNIFORM_CLIP), False
        return MaxMIQuantizer(bits), False
    models = eqnet_compressor_names()
    if name not in COMPRESSORS and name not in models:
        raise SpecError(key, "uniform1..8, maxmi1..8, one of "
                        + ", ".join([*COMPRESSORS, *models]), repr(name))
    if name in models:
        system = models[name]
        nbps = system.get("num_bits_per_symbol")
        if num_bits_per_symbol is not None and nbps != num_bits_per_symbol:
            raise SpecError(key, f"an EQ-Net model for the link's num_bits_per_symbol = "
                            f"{num_bits_per_symbol}",
                            f"{name!r}, a model for num_bits_per_symbol = {nbps}")
        model_tx = system.get("num_tx")
        by_blocks = num_tx is not None and num_tx != model_tx
        if by_blocks and not (blockwise and num_tx % model_tx == 0):
            raise SpecError(key, f"an EQ-Net model for the link's num_tx = {num_tx} (or, with "
                            f"eqnet_blockwise = true, for a divisor of it)",
                            f"{name!r}, a model for num_tx = {model_tx}")
        # The model itself (HARQ storage wraps it; quantized-llr does not)
        model = load_pretrained(name)
        return (BlockwiseEQNet(model, num_tx) if by_blocks else model), True
    return resolve_compressor(name, num_tx, num_bits_per_symbol), False



_PARAMS = (
    Param("source", str, "ml", "registry name of the soft-bit source detector"),
    Param("quantizer", str, "maxmi3", "uniform1..8, maxmi1..8, float16, float32 (elementwise) "
          "or a shipped EQ-Net model name (joint over the streams of a channel use)"),
    Param("eqnet_latent", str, "codebooks", "an EQ-Net quantizer's latent: stored with its "
          "k-means codebooks, or unquantized float32 features (EQ-Net paper, Fig. 5)",
          choices=EQNET_LATENT),
    Param("eqnet_blockwise", bool, False, "an EQ-Net model for N_t streams quantizes a link "
          "with a multiple of N_t streams by blocks of N_t rows (EQ-Net paper, Sect. 3.5)"),
    Param("fit_esno_db", list, list(DEFAULT_FIT_ESNO_DB),
          "Es/N0 values (dB) of the fitting set of quantizers that need fitting (default: "
          "those of the shipped EQ-Net's training data)"),
    Param("fit_samples", int, 2000, "channel uses per fitting SNR", min=1),
    Param("fit_seed", int, 0, "seed of the fitting set", min=0),
    Param("llr_clip", float, 20.0, "source LLRs are clipped to +-llr_clip before quantization",
          min=0.0, min_exclusive=True),
)


def _check(ctx, params):
    """Validates the parameters; returns the resolved ``(quantizer, joint)`` so that the build
    does not load an EQ-Net model a second time."""
    if params["source"] == "quantized-llr":
        raise SpecError("[[detector]] (quantized-llr) source", "a soft-bit source detector",
                        "'quantized-llr' itself")
    spec = get_detector_spec(params["source"])  # SpecError listing the names if unknown
    if spec.check is not None:
        spec.check(ctx, check_params(spec.params, {}, f"[[detector]] ({params['source']})"))
    if not params["fit_esno_db"]:
        raise SpecError("[[detector]] (quantized-llr) fit_esno_db", "a non-empty list", "[]")
    blockwise = params.get("eqnet_blockwise", False)
    q, joint = resolve_quantizer(params["quantizer"], ctx.num_tx, ctx.num_bits_per_symbol,
                                 blockwise)
    if params.get("eqnet_latent", "codebooks") == "unquantized" and not joint:
        raise SpecError("[[detector]] (quantized-llr) eqnet_latent",
                        "'codebooks' for a scalar quantizer ('unquantized' applies to EQ-Net "
                        "models only)", f"'unquantized' with quantizer {params['quantizer']!r}")
    if blockwise and not joint:
        raise SpecError("[[detector]] (quantized-llr) eqnet_blockwise",
                        "false for a scalar quantizer (blocks apply to EQ-Net models only)",
                        f"true with quantizer {params['quantizer']!r}")
    if params.get("eqnet_latent", "codebooks") == "unquantized" and isinstance(q, BlockwiseEQNet):
        raise SpecError("[[detector]] (quantized-llr) eqnet_latent",
                        "'codebooks' when the model quantizes by blocks (eqnet_blockwise)",
                        "'unquantized'")
    return q, joint


def build_quantized_llr(ctx, source, quantizer, fit_esno_db, fit_samples, fit_seed=0,
                        llr_clip=20.0, eqnet_latent="codebooks", eqnet_blockwise=False):
    """Factory of the ``"quantized-llr"`` registry entry (see :class:`QuantizedLLRDetector`)."""
    q, joint = _check(ctx, {"source": source, "quantizer": quantizer,
                            "fit_esno_db": fit_esno_db, "eqnet_latent": eqnet_latent,
                            "eqnet_blockwise": eqnet_blockwise})
    det = build_detector(source, ctx)
    if joint and eqnet_latent == "unquantized":
        q = UnquantizedLatent(q)
    if hasattr(q, "fit"):
        llrs = fit_source_llrs(det, ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol,
                               fit_esno_db, fit_samples, fit_seed, ctx.precision)
        q.fit(np.clip(llrs, -llr_clip, llr_clip))
    return QuantizedLLRDetector(det, q, joint, llr_clip, precision=ctx.precision)


SPECS = (DetectorSpec(
    "quantized-llr",
    "a source detector's LLRs stored with a quantizer (scalar uniform / max-MI fitted on a "
    "Rayleigh set, or a shipped EQ-Net) and read back (EQ-Net paper, Fig. 9)",
    _PARAMS, build_quantized_llr, _check, source="kaq"),)
