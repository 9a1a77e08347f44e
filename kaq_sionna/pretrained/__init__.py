"""Shipped pretrained models: ``models/<name>/config.json`` beside the weights.

Models are named ``<model>-<mode>-<ntx>x<nrx>-<modulation>`` (for example
``pgdnet-kaq8-16x16-16qam``); the JSON config records how each was trained.
:func:`available` lists what is shipped; the capabilities that train models
register a loader for their ``model`` type with :func:`register_loader`
(the unfolded detectors' loader lives in :mod:`kaq_sionna.training.storage`).
Shipped names are also detector names (:func:`detector_spec`, used by
:func:`kaq_sionna.detection.registry.get_detector_spec`).
"""

import json
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
_LOADERS = {}


def register_loader(model_type, loader):
    """``loader(name, config, directory, **kwargs)`` returns the detector for a shipped model."""
    _LOADERS[model_type] = loader


def _ensure_loaders():
    from kaq_sionna.softbits import eqnet  # noqa: F401  (registers eqnet)
    from kaq_sionna.training import storage  # noqa: F401  (registers pgdnet / admmnet)


def available():
    """Configs of all shipped models, keyed by name."""
    out = {}
    for cfg in sorted(Path(MODELS_DIR).glob("*/config.json")):
        with cfg.open() as fh:
            out[cfg.parent.name] = json.load(fh)
    return out


def load(name, **kwargs):
    """Loads the shipped model ``name``.

    Parameters
    ----------
    name : str
    kwargs :
        Passed to the loader (unfolded detectors: ``output``, ``hard_out``,
        ``demapping_method``, ``precision``).

    Raises
    ------
    KeyError
        If no model of that name is shipped (the message lists the shipped ones).
    """
    _ensure_loaders()
    models = available()
    if name not in models:
        shipped = ", ".join(sorted(models)) or "none yet"
        raise KeyError(f"no pretrained model named {name!r}; shipped models: {shipped}")
    config = models[name]
    model_type = config.get("model")
    if model_type not in _LOADERS:
        raise KeyError(f"pretrained model {name!r} has model type {model_type!r}, "
                       "for which no loader is registered")
    return _LOADERS[model_type](name, config, Path(MODELS_DIR) / name, **kwargs)


def detector_spec(name):
    """A :class:`~kaq_sionna.detection.registry.DetectorSpec` for a shipped model, or `None`.

    The detector accepts the parameter ``demapping_method`` and serves only links
    whose ``num_tx``, ``num_rx`` and ``num_bits_per_symbol`` equal the model's
    (otherwise :class:`~kaq_sionna.params.SpecError` naming both).

    Unfolded models (``pgdnet``, ``admmnet``) also accept ``quant`` and ``bits``:
    ``quant = "trained"`` (default) is the model as shipped; ``"fp16"`` and
    ``"ptq"`` are the KAQ paper's post-training baselines of a model trained in
    fp32 (its parameters unchanged, activations cast to float16, or uniformly
    quantized to ``bits`` bits with static steps calibrated by eq. (10) on the
    registry's calibration set,
    :func:`kaq_sionna.detection.unfolded_registry.build_post_training`). Asking
    for them on a model not trained in fp32, or giving ``bits`` without
    ``quant = "ptq"``, is a :class:`~kaq_sionna.params.SpecError`.
    """
    from kaq_sionna.detection.registry import DetectorSpec
    from kaq_sionna.params import Param, SpecError
    from kaq_sionna.quantization.modes import STEP_MODES

    config = available().get(name)
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
            hint = f", e.g. {fp32_name}" if fp32_name in available() else ""
            raise SpecError(f"detector {name!r} quant",
                            f"'trained' (post-training fp16 / ptq need a model trained in fp32"
                            f"{hint})",
                            f"{quant!r} for a model trained with quantization {trained_as!r}")
        if unfolded and quant != "ptq" and params.get("bits", 8) != 8:
            raise SpecError(f"detector {name!r} bits", "bits only with quant = 'ptq'",
                            f"bits = {params['bits']} with quant = {quant!r}")

    def factory(ctx, demapping_method, quant="trained", bits=8):
        if quant == "trained":
            return load(name, demapping_method=demapping_method, precision=ctx.precision)
        from kaq_sionna.detection.unfolded_registry import build_post_training

        _ensure_loaders()
        return build_post_training(Path(MODELS_DIR) / name, config, ctx, quant, bits,
                                   demapping_method=demapping_method,
                                   label=f"pretrained model {name!r}")

    summary = (f"pretrained {config.get('model')} ({config.get('epochs')} epochs, "
               f"{system.get('num_tx')}x{system.get('num_rx')})")
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
