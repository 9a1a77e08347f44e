"""Shipped pretrained models: ``models/<name>/config.json`` beside the weights.

Models are named ``<model>-<mode>-<ntx>x<nrx>-<modulation>`` (for example
``pgdnet-kaq8-16x16-16qam``); the JSON config records how each was trained.
:func:`available` lists what is shipped; the capabilities that train models
register a loader for their ``model`` type with :func:`register_loader`.
"""

import json
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
_LOADERS = {}


def register_loader(model_type, loader):
    """``loader(name, config, directory)`` returns the detector for a shipped model."""
    _LOADERS[model_type] = loader


def available():
    """Configs of all shipped models, keyed by name."""
    out = {}
    for cfg in sorted(MODELS_DIR.glob("*/config.json")):
        with cfg.open() as fh:
            out[cfg.parent.name] = json.load(fh)
    return out


def load(name):
    """Loads the shipped model ``name``.

    Raises
    ------
    KeyError
        If no model of that name is shipped (the message lists the shipped ones).
    """
    models = available()
    if name not in models:
        shipped = ", ".join(sorted(models)) or "none yet"
        raise KeyError(f"no pretrained model named {name!r}; shipped models: {shipped}")
    config = models[name]
    model_type = config.get("model")
    if model_type not in _LOADERS:
        raise KeyError(f"pretrained model {name!r} has model type {model_type!r}, "
                       "for which no loader is registered")
    return _LOADERS[model_type](name, config, MODELS_DIR / name)
