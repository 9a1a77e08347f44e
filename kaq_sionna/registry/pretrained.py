"""Shipped pretrained models as detectors and as EQ-Net models, by name.

The catalogue (:mod:`kaq_sionna.pretrained`) knows model folders and configs; this module
knows which implementation loads each model type (:data:`LOADERS`) and makes every shipped
model a registry entry (:func:`detector_spec`).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

from kaq_sionna import pretrained
from kaq_sionna.core.params import Param, SpecError
from kaq_sionna.detection import sdnet_io, unfolded_io
from kaq_sionna.quantization.modes import STEP_MODES
from kaq_sionna.registry.detectors import DetectorSpec
from kaq_sionna.registry.unfolded import build_post_training
from kaq_sionna.softbits import eqnet

# model type (config.json "model") -> loader(name, config, directory, **kwargs)
LOADERS = {
    "pgdnet": unfolded_io.pretrained_loader,
    "admmnet": unfolded_io.pretrained_loader,
    "eqnet": eqnet.pretrained_loader,
    "sdnet": sdnet_io.pretrained_loader,
}


def load_pretrained(name, **kwargs):
    """Loads the shipped model ``name``.

    Parameters
    ----------
    name : str
    kwargs :
        Passed to the loader (unfolded detectors: ``output``, ``hard_out``,
        ``demapping_method``, ``precision``).

    Output
    ------
    : :class:`~kaq_sionna.detection.PGDNet`, :class:`~kaq_sionna.detection.ADMMNet`,
        :class:`~kaq_sionna.detection.sdnet.SDNet` or
        :class:`~kaq_sionna.softbits.eqnet.EQNet`

    Raises
    ------
    KeyError
        If no model of that name is found (the message lists the shipped ones, or says where a
        large model left out of the install is kept).
    """
    directory = pretrained.model_dir(name)
    config = pretrained.config(name)
    model_type = config.get("model")
    if model_type not in LOADERS:
        raise KeyError(f"pretrained model {name!r} has model type {model_type!r}; known types: "
                       f"{', '.join(sorted(LOADERS))}")
    return LOADERS[model_type](name, config, directory, **kwargs)


def detector_spec(name):
    """A :class:`~kaq_sionna.registry.detectors.DetectorSpec` for a shipped model, or `None`.

    The detector accepts the parameter ``demapping_method`` and serves only links
    whose ``num_tx``, ``num_rx`` and ``num_bits_per_symbol`` equal the model's
    (otherwise :class:`~kaq_sionna.core.params.SpecError` naming both).

    Unfolded models (``pgdnet``, ``admmnet``) also accept ``quant`` and ``bits``:
    ``quant = "trained"`` (default) is the model as shipped; ``"fp16"`` and
    ``"ptq"`` are the KAQ paper's post-training baselines of a model trained in
    fp32 (its parameters unchanged, activations cast to float16, or uniformly
    quantized to ``bits`` bits with static steps calibrated by eq. (10) on the
    registry's calibration set,
    :func:`kaq_sionna.registry.unfolded.build_post_training`). Asking
    for them on a model not trained in fp32, or giving ``bits`` without
    ``quant = "ptq"``, is a :class:`~kaq_sionna.core.params.SpecError`.
    """
    config = pretrained.available().get(name)
    if config is None:
        return None
    system = config.get("system", {})
    keys = ("num_tx", "num_rx", "num_bits_per_symbol")
    unfolded = config.get("model") in ("pgdnet", "admmnet")
    layer = config.get("layer") or {}
    qcfg = layer.get("quantizer")
    trained_fp32 = unfolded and qcfg is None
    trained_as = "fp32" if qcfg is None else (
        qcfg.get("mode", "?") + (str(qcfg.get("num_bits", "")) if qcfg.get("mode") in
                                 STEP_MODES else ""))

    def check(ctx, params):
        link = {k: getattr(ctx, k) for k in keys}
        model = {k: system.get(k) for k in keys}
        if link != model:
            fmt = ", ".join
            raise SpecError(f"detector {name!r}",
                            "a link of the model's size ("
                            + fmt(f"{k}={model[k]}" for k in keys) + ")",
                            "a link with " + fmt(f"{k}={link[k]}" for k in keys))
        quant = params.get("quant", "trained")
        if quant != "trained" and not trained_fp32:
            fp32_name = name.replace(f"-{trained_as.replace('-', '')}-", "-fp32-")
            hint = f", e.g. {fp32_name}" if fp32_name in pretrained.available() else ""
            raise SpecError(f"detector {name!r} quant",
                            f"'trained' (post-training fp16 / ptq need a model trained in fp32"
                            f"{hint})",
                            f"{quant!r} for a model trained with quantization {trained_as!r}")
        if unfolded and quant != "ptq" and params.get("bits", 8) != 8:
            raise SpecError(f"detector {name!r} bits", "bits only with quant = 'ptq'",
                            f"bits = {params['bits']} with quant = {quant!r}")

    def factory(ctx, demapping_method, quant="trained", bits=8):
        if quant == "trained":
            return load_pretrained(name, demapping_method=demapping_method, precision=ctx.precision)
        return build_post_training(pretrained.model_dir(name), config, ctx, quant, bits,
                                   demapping_method=demapping_method,
                                   label=f"pretrained model {name!r}")

    summary = (f"pretrained {config.get('model')} ({config.get('epochs')} epochs, "
               f"{system.get('num_tx')}x{system.get('num_rx')})")
    if config.get("model") == "sdnet":
        summary = (f"pretrained sdnet, {config.get('role')} model, "
                   f"{system.get('num_tx')}x{system.get('num_rx')} "
                   f"{2 ** system.get('num_bits_per_symbol', 0)}-QAM ({config.get('task_summary')})")
    params = (Param("demapping_method", str, "app", "demapping of the Gaussian approximation",
                    choices=("app", "maxlog")),)
    if unfolded:
        summary += f", trained {trained_as}"
        if trained_fp32:
            summary += "; quant = fp16 / ptq: post-training variants"
        params += (
            Param("quant", str, "trained", "'trained': as shipped; 'fp16', 'ptq': post-training "
                  "variants of an fp32-trained model (no retraining)",
                  choices=("trained", "fp16", "ptq")),
            Param("bits", int, 8, "bit width of quant = 'ptq'", min=2, max=16),
        )
    return DetectorSpec(name, summary, params, factory, check, source="pretrained")
