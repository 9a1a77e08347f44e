"""The catalogue of shipped pretrained models: names, folders and configs, no implementations.

A model is a folder ``<name>/`` holding ``config.json`` (how it was trained: model type,
layer configuration, system, training scenario, seed, epochs, final metrics, commit) beside
its weights. Models are named ``<model>-<mode>-<ntx>x<nrx>-<modulation>`` (for example
``pgdnet-kaq8-16x16-16qam``, ``eqnet-l-2x2-64qam``); unfolded detectors other than the paper's
K = 5 from zero add ``-k<K>`` and ``-lmmse`` (LMMSE warm start), e.g.
``admmnet-fp32snr-4x4-16qam-k10-lmmse`` (``fp32snr``: the fair full-precision reference).

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


#: Shipped models whose own validation shows that they do not detect (use them as quantizers
#: only): name -> the evidence. ``kaq-sionna list`` marks them and using one as a detector warns.
NOT_DETECTING = {
    "eqnet-l-4x4-16qam": (
        "estimation with the paper's inputs (y, H, sigma) does not detect: its validation BER is "
        "0.29-0.32 at every Es/N0 (config.json final_metrics; the LMMSE source 0.16-0.23) and "
        "every OFDM run gave BLER 1.0; use eqnet-l-4x4-16qam-lmmse-inputs as a detector, this "
        "model as a quantizer only"),
    "eqnet-p-4x4-16qam": (
        "estimation with the paper's inputs (y, H, sigma) does not detect: its validation BER is "
        "0.39-0.41 at every Es/N0 (config.json final_metrics); use "
        "eqnet-p-4x4-16qam-lmmse-inputs as a detector, this model as a quantizer only"),
}


def not_detecting(name, config):
    """Why the model ``name`` must not be used as a detector, or `None`: listed in
    :data:`NOT_DETECTING`, or an EQ-Net whose estimation stage was never trained (a
    quantization-only model, its ``config.json`` says so)."""
    if name in NOT_DETECTING:
        return NOT_DETECTING[name]
    if (config.get("model") == "eqnet" and config.get("training_mode") == "two-stage"
            and not config.get("epochs_stage2")):
        return ("a quantization-only EQ-Net (stage 2, the estimation encoder, was skipped): "
                "use it as a quantizer (quantized-llr, [harq] storage), not as a detector")
    return None


class DamagedModel(ValueError):
    """A model folder whose config.json or weights cannot be used; the message says what is
    wrong (without the model's name: callers add it)."""


#: Keys every config.json holds (model type and system size); the loaders need more.
SYSTEM_KEYS = ("num_tx", "num_rx", "num_bits_per_symbol")


def read_config(folder):
    """The ``config.json`` of the model folder ``folder``, checked for the keys every model
    has (``model``, ``system`` with :data:`SYSTEM_KEYS`).

    Raises
    ------
    DamagedModel
        Naming what is wrong: unreadable, not UTF-8, not JSON, not an object, a key missing or
        of the wrong type.
    """
    path = Path(folder) / CONFIG_FILE
    try:
        cfg = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise DamagedModel(f"{CONFIG_FILE} is not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise DamagedModel(f"{CONFIG_FILE} is not valid JSON ({err.msg} at line {err.lineno} "
                           f"column {err.colno})") from None
    except OSError as err:
        raise DamagedModel(f"{CONFIG_FILE} cannot be read ({err.strerror or err})") from None
    if not isinstance(cfg, dict):
        raise DamagedModel(f"{CONFIG_FILE} holds a JSON {type(cfg).__name__}, not an object")
    if not isinstance(cfg.get("model"), str):
        raise DamagedModel(f"{CONFIG_FILE} lacks the model type (key 'model', a string; found "
                           f"{cfg.get('model')!r})")
    system = cfg.get("system")
    if not isinstance(system, dict):
        raise DamagedModel(f"{CONFIG_FILE} lacks the system (key 'system', an object with "
                           f"{', '.join(SYSTEM_KEYS)}; found {system!r})")
    for key in SYSTEM_KEYS:
        v = system.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise DamagedModel(f"{CONFIG_FILE}: system {key}: expected a positive integer, "
                               f"found {v!r}")
    return cfg


_WEIGHTS_CHECKED = {}


def weights_problem(folder):
    """What is wrong with the weight files (``*.npz``) of the model folder ``folder``, or
    `None`: missing, truncated or not an npz archive, or holding non-finite (NaN, inf) values.
    Shapes are checked by the loaders against the network. Results are cached per file
    (path, size, modification time)."""
    files = sorted(Path(folder).glob("*.npz"))
    if not files:
        return "no weights file (*.npz) in the folder"
    for f in files:
        try:
            st = f.stat()
        except OSError as err:
            return f"{f.name} cannot be read ({err.strerror or err})"
        key = (str(f.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _WEIGHTS_CHECKED:
            _WEIGHTS_CHECKED[key] = _npz_problem(f)
        if _WEIGHTS_CHECKED[key]:
            return _WEIGHTS_CHECKED[key]
    return None


def _npz_problem(path):
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                arr = data[name]
                if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                    return (f"{path.name}: {name} holds {bad} non-finite value"
                            f"{'s' if bad > 1 else ''} (NaN or inf)")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        return f"{path.name} is truncated or not an npz archive ({type(err).__name__}: {err})"
    return None


def _scan():
    ok, bad = {}, {}
    for folder in search_path():
        for cfg in sorted(folder.glob(f"*/{CONFIG_FILE}")):
            name = cfg.parent.name
            if name in ok or name in bad:
                continue
            try:
                ok[name] = read_config(cfg.parent)
            except DamagedModel as err:
                bad[name] = f"{err} (in {cfg.parent})"
    return ok, bad


def available():
    """Configs of all usable models found on :func:`search_path`, keyed by name (first found
    wins). A model whose config.json is damaged is left out (see :func:`damaged`), so that one
    damaged model does not break the others."""
    return _scan()[0]


def damaged():
    """Models on :func:`search_path` whose config.json is damaged: name -> what is wrong."""
    return _scan()[1]


def missing_message(name):
    """Why ``name`` is not available: a large model left out of the install, or unknown."""
    if name in LARGE_MODELS:
        return (f"pretrained model {name!r} ({LARGE_MODELS[name]} MB) is not part of the "
                "installed package: large models are kept in the repository's models/ folder; "
                "install from a clone (pip install -e .) or set "
                f"{ENV_VAR} to a folder that holds {name}/")
    broken = damaged()
    if name in broken:
        return f"pretrained model {name!r} is damaged: {broken[name]}"
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
    """The ``config.json`` of the model ``name`` (``KeyError`` as :func:`model_dir`;
    :class:`DamagedModel` as :func:`read_config`)."""
    return read_config(model_dir(name))
