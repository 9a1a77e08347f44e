r"""Saving and loading EQ-Net models: ``weights.npz`` + ``config.json`` directories.

:func:`save_eqnet` writes a model, :func:`load_eqnet` builds one from a directory,
:func:`load_weights_into` fills an existing :class:`~kaq_sionna.softbits.eqnet.EQNet`,
and :func:`pretrained_loader` is the loader :mod:`kaq_sionna.registry.pretrained` uses
for shipped models of type ``"eqnet"``.
"""

import io
import json
from pathlib import Path

import numpy as np

from kaq_sionna.core.atomic_io import atomic_write_bytes, atomic_write_text
from kaq_sionna.core.errors import PretrainedMismatch
from kaq_sionna.softbits.codebook import FeatureCodebook
from kaq_sionna.softbits.eqnet.model import LAYER_DEFAULTS, EQNet
from kaq_sionna.softbits.precision import resolve_precision

__all__ = ["CODEBOOK_KEY", "CONFIG_FILE", "WEIGHTS_FILE", "EQNetMismatch", "load_eqnet",
           "load_weights_into", "pretrained_loader", "save_eqnet"]

WEIGHTS_FILE, CONFIG_FILE = "weights.npz", "config.json"
CODEBOOK_KEY = "codebook_levels"


class EQNetMismatch(PretrainedMismatch):
    """A stored EQ-Net does not match the model it is loaded into (or its own config)."""


def save_eqnet(model, directory, meta=None):
    """Writes ``weights.npz`` then ``config.json`` (each atomically) to ``directory``.

    ``weights.npz`` holds the variables (``w000``, ... in
    :meth:`EQNet.named_variables` order), their stable names (``names``) and,
    if trained, the sorted codebook levels (``codebook_levels``,
    ``[latent_dim, 2**bits_per_feature]``); it loads with ``allow_pickle=False``.
    ``config.json`` holds ``model = "eqnet"``, ``layer`` (:meth:`EQNet.get_config`),
    ``codebooks`` (bool), ``system`` and everything in ``meta``.

    Output
    ------
    : dict, the config written
    """
    directory = Path(directory)
    named = model.named_variables()
    arrays = {f"w{i:03d}": v.numpy() for i, (_, v) in enumerate(named)}
    arrays["names"] = np.array([n for n, _ in named])
    if model.codebook is not None:
        arrays[CODEBOOK_KEY] = model.codebook.levels
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(directory / WEIGHTS_FILE, buf.getvalue())
    config = {"model": "eqnet", "layer": model.get_config(),
              "codebooks": model.codebook is not None,
              "system": {"num_tx": model.num_tx, "num_rx": model.num_rx,
                         "num_bits_per_symbol": model.num_bits_per_symbol}}
    config.update(meta or {})
    config["layer"] = model.get_config()  # meta cannot override the structure
    atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    return config


def _read_config(directory, label):
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise EQNetMismatch(f"{label}: no {CONFIG_FILE} in {directory}")
    return json.loads(path.read_text())


def load_weights_into(model, directory, config=None, label=None):
    """Loads a saved EQ-Net into an existing :class:`EQNet` after checking it matches.

    The stored ``layer`` config must equal ``model.get_config()`` (every key:
    sizes, variant, bits per feature, ...); then every stored variable's name and
    shape is checked. Codebooks are attached if stored.

    Raises
    ------
    EQNetMismatch
        Naming every differing key (stored value vs model value).
    """
    directory = Path(directory)
    label = label or f"EQ-Net model at {directory}"
    config = config if config is not None else _read_config(directory, label)
    if config.get("model") != "eqnet":
        raise EQNetMismatch(f"{label} is a {config.get('model')!r} model, not an 'eqnet' model")
    stored, ours = config.get("layer", {}), model.get_config()
    stored = {**LAYER_DEFAULTS, **stored}
    diff = [f"{k}: stored model has {stored.get(k)!r}, this EQNet has {ours[k]!r}"
            for k in ours if stored.get(k) != ours[k]]
    if diff:
        raise EQNetMismatch(f"{label} does not match this EQNet ({'; '.join(diff)})")
    with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as data:
        names = [str(n) for n in data["names"]]
        values = [data[f"w{i:03d}"] for i in range(len(names))]
        levels = data[CODEBOOK_KEY] if CODEBOOK_KEY in data.files else None
    named = model.named_variables()
    if len(named) != len(names):
        raise EQNetMismatch(f"{label}: {WEIGHTS_FILE} holds {len(names)} variables, the "
                            f"EQNet built from its config has {len(named)}")
    for (name, v), sname, value in zip(named, names, values, strict=True):
        if name != sname or tuple(v.shape) != value.shape:
            raise EQNetMismatch(f"{label}: stored variable {sname!r} {value.shape} does not "
                                f"match {name!r} {tuple(v.shape)}")
    for (_, v), value in zip(named, values, strict=True):
        v.assign(value)
    model.codebook = None
    if levels is not None:
        model.set_codebook(FeatureCodebook(levels))
    return model


def load_eqnet(directory, config=None, label=None, precision=None):
    """Builds the EQNet described by ``directory/config.json`` and loads its weights.

    Parameters
    ----------
    directory : str | Path
    config : `None` | dict
        The stored config, if already read.
    label : `None` | str
        Names the model in error messages.
    precision : `None` (default) | "single" | "double"
        Real dtype of the LLRs the model returns (weights and computations stay float32;
        `None`: :attr:`sionna.phy.config.precision`).

    Output
    ------
    : :class:`EQNet`, with codebooks if they were trained
    """
    directory = Path(directory)
    label = label or f"EQ-Net model at {directory}"
    config = config if config is not None else _read_config(directory, label)
    if config.get("model") != "eqnet":
        raise EQNetMismatch(f"{label} is a {config.get('model')!r} model, not an 'eqnet' model")
    resolve_precision(precision, owner=label)  # its own error, not "invalid layer config"
    try:
        model = EQNet(**config["layer"], precision=precision)
    except (KeyError, TypeError, ValueError) as err:
        raise EQNetMismatch(f"{label}: invalid layer config ({err})") from None
    return load_weights_into(model, directory, config, label)


def pretrained_loader(name, config, directory, demapping_method=None, precision=None):
    """Loader of shipped models of type ``eqnet`` (:mod:`kaq_sionna.registry.pretrained`).

    ``demapping_method`` (a parameter of the registry's pretrained entries) does
    not apply to EQ-Net and is ignored. EQ-Net computes in float32 whatever the
    ``precision`` (its inputs are cast); its LLRs are returned in the precision's real
    dtype (:class:`EQNet`).
    """
    del demapping_method
    return load_eqnet(directory, config=config, label=f"pretrained model {name!r}",
                      precision=precision)


