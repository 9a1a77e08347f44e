"""The catalogue of shipped pretrained models: names, folders and configs, no implementations.

A model is a folder ``<name>/`` holding ``config.json`` (how it was trained: model type,
layer configuration, system, training scenario, seed, epochs, final metrics, commit) beside
its weights. Models are named ``<model>-<mode>-<ntx>x<nrx>-<modulation>`` (for example
``pgdnet-kaq8-16x16-16qam``, ``eqnet-l-2x2-64qam``).

Where models are looked up, in this order (:func:`search_path`):

1. :data:`MODELS_DIR`, the package's own ``models/`` folder (installed with the package);
2. the folders in the environment variable ``KAQ_SIONNA_MODELS`` (``os.pathsep``-separated);
3. the repository's ``models/`` folder, when the package runs from a checkout (large models,
   listed in :data:`LARGE_MODELS`, are kept there and left out of the installed wheel so that
   an install stays small; an editable install of a clone finds them).

This module only reads the catalogue. Building a detector or an EQ-Net from a shipped model is
the registry's job (:func:`kaq_sionna.registry.load_pretrained`), so that the catalogue does not
import any implementation.
"""

import json
import os
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
REPOSITORY_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
CONFIG_FILE = "config.json"
ENV_VAR = "KAQ_SIONNA_MODELS"

# Models kept in the repository's models/ folder, outside the installed package: name -> size
# of its weights in MB (they are the only models above 20 MB).
LARGE_MODELS = {"eqnet-l-16x16-16qam": 85}


def search_path():
    """The folders searched for models, in order (see the module docstring)."""
    dirs = [Path(MODELS_DIR)]
    dirs += [Path(d) for d in os.environ.get(ENV_VAR, "").split(os.pathsep) if d]
    if REPOSITORY_MODELS_DIR.is_dir():
        dirs.append(REPOSITORY_MODELS_DIR)
    return dirs


def available():
    """Configs of all models found on :func:`search_path`, keyed by name (first found wins)."""
    out = {}
    for folder in search_path():
        for cfg in sorted(folder.glob(f"*/{CONFIG_FILE}")):
            if cfg.parent.name not in out:
                with cfg.open() as fh:
                    out[cfg.parent.name] = json.load(fh)
    return out


def missing_message(name):
    """Why ``name`` is not available: a large model left out of the install, or unknown."""
    if name in LARGE_MODELS:
        return (f"pretrained model {name!r} ({LARGE_MODELS[name]} MB) is not part of the "
                "installed package: large models are kept in the repository's models/ folder; "
                "install from a clone (pip install -e .) or set "
                f"{ENV_VAR} to a folder that holds {name}/")
    shipped = ", ".join(sorted(available())) or "none yet"
    return f"no pretrained model named {name!r}; shipped models: {shipped}"


def model_dir(name):
    """The folder of the model ``name``.

    Raises
    ------
    KeyError
        If no folder on :func:`search_path` holds it (the message says why, see
        :func:`missing_message`).
    """
    for folder in search_path():
        if (folder / name / CONFIG_FILE).is_file():
            return folder / name
    raise KeyError(missing_message(name))


def config(name):
    """The ``config.json`` of the model ``name`` (``KeyError`` as :func:`model_dir`)."""
    return json.loads((model_dir(name) / CONFIG_FILE).read_text())
