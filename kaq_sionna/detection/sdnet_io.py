"""SDNet models and learngenes on disk: ``weights.npz`` + ``config.json`` (models) and
``learngene.npz`` + ``learngene.json`` (learngenes), each file written atomically.

``weights.npz`` holds one array per variable, keyed ``"<layer>/kernel"`` and ``"<layer>/bias"``
(:meth:`~kaq_sionna.detection.sdnet.SDNet.named_weights`; a quantized model also
``"quantizer/..."``: steps and MMD bandwidths), loaded with ``allow_pickle=False``.
``config.json`` records ``"model": "sdnet"``, the architecture (``"layer"``), the system, how
the model was trained (role, task, learngene, scenario, seed, steps, metrics, commit). Loading
builds the network from the config and refuses any missing, extra or misshapen variable with a
:class:`~kaq_sionna.core.errors.PretrainedMismatch`. :mod:`kaq_sionna.registry.pretrained`
loads shipped models of type ``sdnet`` with :func:`pretrained_loader`.
"""

import io
import json
from pathlib import Path

import numpy as np

from kaq_sionna.core.atomic_io import atomic_write_bytes, atomic_write_text
from kaq_sionna.core.errors import PretrainedMismatch
from kaq_sionna.detection.sdnet import SDNet
from kaq_sionna.quantization.modes import Quantizer

__all__ = ["CONFIG_FILE", "LEARNGENE_FILE", "LEARNGENE_META", "WEIGHTS_FILE", "build_from_config",
           "load_learngene", "load_sdnet", "pretrained_loader", "save_learngene", "save_sdnet"]

WEIGHTS_FILE, CONFIG_FILE = "weights.npz", "config.json"
LEARNGENE_FILE, LEARNGENE_META = "learngene.npz", "learngene.json"


def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_sdnet(det, directory, meta):
    """Writes ``weights.npz`` then ``config.json`` of ``det`` to ``directory``.

    ``meta`` must hold ``system`` (``num_tx``, ``num_rx``, ``num_bits_per_symbol``, equal to the
    detector's); ``model`` and ``layer`` are filled in here. Returns the config written.
    """
    directory = Path(directory)
    arrays = {k: v.numpy() for k, v in det.named_weights().items()}
    atomic_write_bytes(directory / WEIGHTS_FILE, _npz_bytes(arrays))
    config = {"model": "sdnet", "layer": det.architecture(), **meta}
    system = config["system"]
    for key in ("num_tx", "num_rx", "num_bits_per_symbol"):
        if system[key] != getattr(det, key):
            raise PretrainedMismatch(f"system {key}={system[key]} differs from the detector's "
                                     f"{getattr(det, key)}")
    atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    return config


def build_from_config(layer, hard_out=False, precision=None, name=None):
    """An (untrained) :class:`SDNet` from the ``"layer"`` entry of a config (with its activation
    quantizer if the entry has ``"quantizer"``; uncalibrated)."""
    qcfg = layer.get("quantizer")
    quantizer = None if qcfg is None else Quantizer(precision="single", **qcfg)
    return SDNet(layer["num_tx"], layer["num_rx"], layer["num_bits_per_symbol"], layer["conv"],
                 layer["head_units"], layer["head_reduce"], zf_clip=layer["zf_clip"],
                 residual=layer.get("residual", True),
                 hard_out=hard_out, precision=precision, quantizer=quantizer, name=name)


def load_weights_into(det, arrays, label):
    """Assigns ``{"<layer>/kernel": array}`` to ``det`` after checking names and shapes."""
    variables = det.named_weights()
    missing, extra = sorted(set(variables) - set(arrays)), sorted(set(arrays) - set(variables))
    if missing or extra:
        raise PretrainedMismatch(f"{label}: stored variables do not match the network "
                                 f"(missing: {missing or 'none'}; unexpected: {extra or 'none'})")
    for key, v in variables.items():
        if tuple(v.shape) != arrays[key].shape:
            raise PretrainedMismatch(f"{label}: {key} has shape {arrays[key].shape}, the network "
                                     f"expects {tuple(v.shape)}")
    for key, v in variables.items():
        v.assign(arrays[key].astype(np.float32))
    if det.quantizer is not None:
        det.quantizer.mark_calibrated()
    return det


def load_sdnet(directory, hard_out=False, precision=None, config=None, label=None):
    """Builds the SDNet described by ``directory/config.json`` and loads its weights."""
    directory = Path(directory)
    label = label or f"SDNet model at {directory}"
    if config is None:
        config = json.loads((directory / CONFIG_FILE).read_text())
    if config.get("model") != "sdnet":
        raise PretrainedMismatch(f"{label}: model type {config.get('model')!r} is not 'sdnet'")
    det = build_from_config(config["layer"], hard_out=hard_out, precision=precision)
    with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return load_weights_into(det, arrays, label)


def pretrained_loader(name, config, directory, hard_out=False, precision=None, **_):
    """Loader of shipped ``sdnet`` models (:data:`kaq_sionna.registry.pretrained.LOADERS`)."""
    return load_sdnet(directory, hard_out=hard_out, precision=precision, config=config,
                      label=f"pretrained model {name!r}")


def save_learngene(learngene, directory, meta):
    """Writes ``learngene.npz`` (its weights) and ``learngene.json`` (layers, placement, meta)."""
    directory = Path(directory)
    atomic_write_bytes(directory / LEARNGENE_FILE, _npz_bytes(learngene["weights"]))
    doc = {"layers": learngene["layers"], "placement": learngene["placement"], **meta}
    atomic_write_text(directory / LEARNGENE_META, json.dumps(doc, indent=2) + "\n")
    return doc


def load_learngene(directory):
    """The learngene saved by :func:`save_learngene` (``{"layers", "weights", "placement"}``)."""
    directory = Path(directory)
    doc = json.loads((directory / LEARNGENE_META).read_text())
    with np.load(directory / LEARNGENE_FILE, allow_pickle=False) as data:
        weights = {k: data[k] for k in data.files}
    expected = {f"{c['name']}/{w}" for c in doc["layers"] for w in ("kernel", "bias")}
    if set(weights) != expected:
        raise PretrainedMismatch(f"learngene at {directory}: arrays {sorted(weights)} do not "
                                 f"match its layers {sorted(expected)}")
    return {"layers": doc["layers"], "weights": weights, "placement": doc["placement"]}
