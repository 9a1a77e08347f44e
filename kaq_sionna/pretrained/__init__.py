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
    """
    from kaq_sionna.detection.registry import DetectorSpec
    from kaq_sionna.params import Param, SpecError

    config = available().get(name)
    if config is None:
        return None
    system = config.get("system", {})
    keys = ("num_tx", "num_rx", "num_bits_per_symbol")

    def check(ctx, params):
        link = {k: getattr(ctx, k) for k in keys}
        model = {k: system.get(k) for k in keys}
        if link != model:
            fmt = ", ".join
            raise SpecError(f"detector {name!r}",
                            "a link of the model's size ("
                            + fmt(f"{k}={model[k]}" for k in keys) + ")",
                            "a link with " + fmt(f"{k}={link[k]}" for k in keys))

    def factory(ctx, demapping_method):
        return load(name, demapping_method=demapping_method, precision=ctx.precision)

    summary = (f"pretrained {config.get('model')} ({config.get('epochs')} epochs, "
               f"{system.get('num_tx')}x{system.get('num_rx')})")
    params = (Param("demapping_method", str, "app", "demapping of the Gaussian approximation",
                    choices=("app", "maxlog")),)
    return DetectorSpec(name, summary, params, factory, check, source="pretrained")
