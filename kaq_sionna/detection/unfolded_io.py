"""Trained unfolded detectors as pretrained models: ``<dir>/weights.npz`` + ``<dir>/config.json``.

``weights.npz`` holds the detector's variables (``w000``, ``w001``, ... in
:attr:`keras.layers.Layer.weights` order, the detector's own parameters then
the quantizer's steps and MMD bandwidths) and their names (``names``); it
loads with ``allow_pickle=False``. ``config.json`` records the model type, the
layer configuration, the quantizer, the system, the training scenario, seed,
epochs, final metrics and the git commit. Loading builds the detector from the
config, checks every stored variable against it (name and shape) and refuses
any mismatch with a :class:`PretrainedMismatch` naming what differs.
:func:`load_post_training` loads an fp32-trained model with a post-training
quantizer (the paper's FP16 and PTQ baselines, no retraining).

:mod:`kaq_sionna.registry.pretrained` loads shipped models of the types ``pgdnet``
and ``admmnet`` with :func:`pretrained_loader`.

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import io
import json
from pathlib import Path

import numpy as np

from kaq_sionna import pretrained
from kaq_sionna.core.atomic_io import atomic_write_bytes, atomic_write_text
from kaq_sionna.core.errors import PretrainedMismatch
from kaq_sionna.detection.unfolded import ADMMNet, PGDNet
from kaq_sionna.quantization.modes import STEP_MODES, Quantizer

CLASSES = {"pgdnet": PGDNet, "admmnet": ADMMNet}
WEIGHTS_FILE, CONFIG_FILE = "weights.npz", "config.json"
QUANT_KEYS = ("mode", "num_bits", "quantize_intermediate", "epsilon", "calib_percentile",
              "mmd_max_samples", "mmd_kernel", "mmd_bounded", "mmd_max_ratio",
              "mmd_adversarial", "min_step")
POST_TRAINING_MODES = ("fp16", "ptq")


def model_type_of(det):
    """``"pgdnet"`` or ``"admmnet"`` for a detector instance."""
    for name, cls in CLASSES.items():
        if type(det) is cls:
            return name
    raise TypeError(f"not an unfolded detector: {type(det).__name__}")


def mode_tag(quant, bits):
    """``fp32``, ``fp16``, ``ptq8``, ``qatmse4``, ``kaq8``... as used in pretrained names."""
    if quant in ("fp32", "fp16"):
        return quant
    if quant == "fp32-snr":  # no bit width: the range's parametrisation is fixed
        return "fp32snr"
    return f"{quant.replace('-', '')}{bits}"


def canonical_name(model_type, quant, bits, num_tx, num_rx, num_bits_per_symbol):
    """Pretrained name ``<model>-<mode>-<ntx>x<nrx>-<M>qam``, e.g. ``pgdnet-kaq8-4x4-16qam``."""
    return (f"{model_type}-{mode_tag(quant, bits)}-{num_tx}x{num_rx}-"
            f"{2 ** num_bits_per_symbol}qam")


def architecture_suffix(num_layers, x_init="zero"):
    """Name suffix of an architecture other than the paper's (K = 5 layers from x^(0) = 0):
    ``-k<K>`` for another depth, ``-lmmse`` for the LMMSE warm start, e.g.
    ``admmnet-kaq4-4x4-16qam-k10-lmmse``."""
    return ("" if num_layers == 5 else f"-k{num_layers}") + \
        ("" if x_init == "zero" else f"-{x_init}")


def channel_suffix(system):
    """Name suffix of models trained on CDL (``-cdlc`` for CDL-C), empty for Rayleigh."""
    if system.get("channel") == "cdl":
        return f"-cdl{system['cdl_model'].lower()}"
    return ""


def layer_config(det):
    """The JSON-serialisable description of a detector's structure."""
    cfg = det.get_config()
    layer = {k: cfg[k] for k in ("num_layers", "num_bits_per_symbol", "prox")}
    if cfg["x_init"] != "zero":  # added later: older configs have no key and start from zero
        layer["x_init"] = cfg["x_init"]
    layer["init"] = {k: cfg[k] for k in ("eta_init", "lambda_init", "rho_init", "tau_init")
                     if k in cfg}
    q = det.quantizer
    layer["quantizer"] = None if q is None else {k: q.get_config()[k] for k in QUANT_KEYS}
    return layer


def build_from_config(model_type, layer, output="bit", hard_out=False, demapping_method="app",
                      precision=None):
    """Builds an (untrained, uncalibrated) detector from a :func:`layer_config` dict."""
    if model_type not in CLASSES:
        raise PretrainedMismatch(f"model type {model_type!r} is not one of {sorted(CLASSES)}")
    qcfg = layer.get("quantizer")
    quantizer = None
    if qcfg is not None:
        quantizer = Quantizer(precision=precision, **qcfg)
    return CLASSES[model_type](num_layers=layer["num_layers"],
                               num_bits_per_symbol=layer["num_bits_per_symbol"], output=output,
                               hard_out=hard_out, demapping_method=demapping_method,
                               quantizer=quantizer, prox=layer["prox"],
                               x_init=layer.get("x_init", "zero"), precision=precision,
                               **layer.get("init", {}))


def save_model(det, directory, meta):
    """Writes ``weights.npz`` then ``config.json`` (each atomically) to ``directory``.

    Parameters
    ----------
    det : PGDNet or ADMMNet
    directory : str or Path
    meta : dict
        Anything else for config.json; must hold ``system`` (``num_tx``, ``num_rx``,
        ``num_bits_per_symbol``). ``model`` and ``layer`` are filled in here.

    Output
    ------
    : dict, the config written
    """
    directory = Path(directory)
    arrays = {f"w{i:03d}": v.numpy() for i, v in enumerate(det.weights)}
    arrays["names"] = np.array([v.name for v in det.weights])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(directory / WEIGHTS_FILE, buf.getvalue())
    config = {"model": model_type_of(det), "layer": layer_config(det), **meta}
    if config["system"]["num_bits_per_symbol"] != det.num_bits_per_symbol:
        raise PretrainedMismatch("system num_bits_per_symbol differs from the detector's")
    atomic_write_text(directory / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    return config


def _check_structure(det, config, label):
    """Raises :class:`PretrainedMismatch` if ``det``'s structure differs from ``config``."""
    expected = {"model": config.get("model"), **{k: config["layer"].get(k) for k in
                                                 ("num_layers", "num_bits_per_symbol", "prox")}}
    qcfg = config["layer"].get("quantizer")
    expected["quant"] = "fp32" if qcfg is None else qcfg["mode"]
    expected["bits"] = None if qcfg is None or qcfg["mode"] not in STEP_MODES else qcfg["num_bits"]
    expected["quantize_intermediate"] = bool(qcfg and qcfg["quantize_intermediate"])
    expected["x_init"] = config["layer"].get("x_init", "zero")
    q = det.quantizer
    actual = {"model": model_type_of(det), "num_layers": det.num_layers,
              "num_bits_per_symbol": det.num_bits_per_symbol, "prox": det.prox,
              "quant": "fp32" if q is None else q.mode,
              "bits": None if q is None or q.mode not in STEP_MODES else q.num_bits,
              "quantize_intermediate": bool(q and q.quantize_intermediate),
              "x_init": det.x_init}
    if config.get("system", {}).get("num_bits_per_symbol", actual["num_bits_per_symbol"]) \
            != expected["num_bits_per_symbol"]:
        raise PretrainedMismatch(f"{label}: config.json is inconsistent: system "
                                 "num_bits_per_symbol differs from layer num_bits_per_symbol")
    diff = [f"{k}: model has {expected[k]!r}, detector has {actual[k]!r}"
            for k in expected if expected[k] != actual[k]]
    if diff:
        raise PretrainedMismatch(f"{label} does not match the detector ({'; '.join(diff)})")


def load_weights_into(det, directory, config=None, label=None):
    """Loads a saved model's weights into an existing detector after checking it matches.

    Checks the model type, ``num_layers``, ``num_bits_per_symbol``, ``prox``, quantization
    mode and bits against ``config.json``, then every stored variable's name and shape.
    Marks the quantizer calibrated.

    Raises
    ------
    PretrainedMismatch
    """
    directory = Path(directory)
    label = label or f"pretrained model at {directory}"
    if config is None:
        config = json.loads((directory / CONFIG_FILE).read_text())
    _check_structure(det, config, label)
    with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as data:
        names = [str(n) for n in data["names"]]
        values = [data[f"w{i:03d}"] for i in range(len(names))]
    variables = det.weights
    if len(variables) != len(names):
        raise PretrainedMismatch(f"{label}: {WEIGHTS_FILE} holds {len(names)} variables "
                                 f"({', '.join(names)}), the detector built from its config "
                                 f"has {len(variables)} ({', '.join(v.name for v in variables)})")
    for v, name, value in zip(variables, names, values, strict=True):
        if v.name != name or tuple(v.shape) != value.shape:
            raise PretrainedMismatch(
                f"{label}: stored variable {name!r} has shape {value.shape}, but the detector "
                f"(num_layers={det.num_layers}) expects {v.name!r} with shape {tuple(v.shape)}")
    for v, value in zip(variables, values, strict=True):
        v.assign(value.astype(v.dtype))
    if det.quantizer is not None:
        det.quantizer.mark_calibrated()
    return det


def load_model(directory, output="bit", hard_out=False, demapping_method="app", precision=None,
               config=None, label=None):
    """Builds the detector described by ``directory/config.json`` and loads its weights.

    Output
    ------
    : PGDNet or ADMMNet, ready to use (quantizer calibrated)
    """
    directory = Path(directory)
    if config is None:
        config = json.loads((directory / CONFIG_FILE).read_text())
    det = build_from_config(config["model"], config["layer"], output=output, hard_out=hard_out,
                            demapping_method=demapping_method, precision=precision)
    return load_weights_into(det, directory, config, label)


def load_post_training(directory, quant, bits=8, output="bit", hard_out=False,
                       demapping_method="app", precision=None, config=None, label=None):
    r"""Builds an fp32-trained model with a post-training quantizer and loads its weights.

    The KAQ paper's FP16 and PTQ baselines are the trained full-precision network
    run with quantized activations, without retraining. The detector is built
    from ``config.json`` with ``Quantizer(quant, bits)`` attached, and the fp32
    model's parameters (checked as by :func:`load_model`) are copied into it.
    For ``ptq`` the steps are *not* calibrated here: call
    ``det.quantizer.calibrate(det, (y, h, s))`` (eq. (10)) before using it, e.g.
    with :func:`kaq_sionna.registry.unfolded.calibrate_for_link`.

    Parameters
    ----------
    directory : str or Path
        Model directory (``weights.npz`` + ``config.json``) of an fp32-trained model.
    quant : "fp16" | "ptq"
        Post-training quantization mode (:data:`POST_TRAINING_MODES`).
    bits : int
        Bit width of ``ptq`` (2..16; ignored by ``fp16``).
    output, hard_out, demapping_method, precision :
        As for :func:`load_model`.
    config : dict or None
        The model's config (read from ``directory`` if `None`).
    label : str or None
        How errors name the model.

    Output
    ------
    : PGDNet or ADMMNet
        With the fp32 parameters and an attached quantizer (uncalibrated for ``ptq``).

    Raises
    ------
    PretrainedMismatch
        If the model was not trained in fp32 (its config has a quantizer).
    ValueError
        If ``quant`` is not a post-training mode.
    """
    if quant not in POST_TRAINING_MODES:
        raise ValueError(f"post-training quantization mode must be one of "
                         f"{', '.join(POST_TRAINING_MODES)}, found {quant!r}")
    directory = Path(directory)
    label = label or f"pretrained model at {directory}"
    if config is None:
        config = json.loads((directory / CONFIG_FILE).read_text())
    qcfg = config["layer"].get("quantizer")
    if qcfg is not None:
        trained = mode_tag(qcfg["mode"], qcfg.get("num_bits"))
        raise PretrainedMismatch(f"{label} was trained with quantization {trained!r}; "
                                 f"post-training {quant!r} needs a model trained in fp32")
    fp32 = load_model(directory, output=output, hard_out=hard_out,
                      demapping_method=demapping_method, precision=precision, config=config,
                      label=label)
    layer = {**config["layer"], "quantizer": {"mode": quant, "num_bits": bits}}
    det = build_from_config(config["model"], layer, output=output, hard_out=hard_out,
                            demapping_method=demapping_method, precision=precision)
    # the detector's own parameters come first in ``weights``, the quantizer's after them
    core = det.weights[:len(fp32.weights)]
    for src, dst in zip(fp32.weights, core, strict=True):
        if src.name != dst.name or tuple(src.shape) != tuple(dst.shape):
            raise PretrainedMismatch(f"{label}: cannot copy {src.name} {tuple(src.shape)} "
                                     f"into {dst.name} {tuple(dst.shape)}")
        dst.assign(src)
    return det


def pretrained_loader(name, config, directory, **kwargs):
    """Loader of shipped models of the types ``pgdnet`` and ``admmnet``."""
    return load_model(directory, config=config, label=f"pretrained model {name!r}", **kwargs)


def resolve_model(name_or_dir):
    """``(directory, config)`` of a pretrained name or a model directory; ``KeyError`` if none."""
    shipped = pretrained.available()
    if name_or_dir in shipped:
        return pretrained.model_dir(name_or_dir), shipped[name_or_dir]
    path = Path(name_or_dir)
    if (path / CONFIG_FILE).is_file():
        return path, json.loads((path / CONFIG_FILE).read_text())
    names = ", ".join(sorted(shipped)) or "none shipped"
    raise KeyError(f"neither a pretrained model ({names}) nor a directory with {CONFIG_FILE}")


__all__ = ["CLASSES", "POST_TRAINING_MODES", "PretrainedMismatch", "build_from_config",
           "architecture_suffix", "canonical_name", "layer_config", "load_model", "load_post_training",
           "load_weights_into", "mode_tag", "model_type_of", "pretrained_loader",
           "resolve_model", "save_model"]
