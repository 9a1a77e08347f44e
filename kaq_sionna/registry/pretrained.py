"""Shipped pretrained models as detectors and as EQ-Net models, by name.

The catalogue (:mod:`kaq_sionna.pretrained`) knows model folders and configs; this module
knows which implementation loads each model type (:data:`LOADERS`) and makes every shipped
model a registry entry (:func:`detector_spec`).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

from pathlib import Path

from kaq_sionna import pretrained
from kaq_sionna.core.params import REQUIRED, Param, SpecError
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
    label = f"pretrained model {name!r}"
    try:
        config = pretrained.config(name)
    except pretrained.DamagedModel as err:
        raise damaged_error(label, directory, str(err)) from None
    model_type = config.get("model")
    if model_type not in LOADERS:
        raise KeyError(f"pretrained model {name!r} has model type {model_type!r}; known types: "
                       f"{', '.join(sorted(LOADERS))}")
    return guarded_load(label, directory, lambda: LOADERS[model_type](name, config, directory,
                                                                      **kwargs))


_WARNED = set()


def warn_not_detecting(name, stream=None):
    """Warns once per process (on stderr) when the shipped model ``name`` is used as a detector
    although its own validation shows that it does not detect
    (:func:`kaq_sionna.pretrained.not_detecting`). Returns the warning text or `None`."""
    import sys

    reason = pretrained.not_detecting(name, pretrained.available().get(name, {}))
    if reason is None:
        return None
    text = f"warning: {name} used as a detector: {reason}"
    if name not in _WARNED:
        _WARNED.add(name)
        print(text, file=stream or sys.stderr, flush=True)
    return text


def damaged_error(label, directory, what):
    """The :class:`SpecError` of a damaged model: names the model, its folder and the damage."""
    return SpecError(label, "an intact model folder (config.json and weights as written by "
                     "kaq-sionna train; restore it, e.g. git checkout, or retrain)", what,
                     str(directory))


def guarded_load(label, directory, load):
    """``load()`` of a model, with every way a damaged model folder fails (weights that are
    truncated, not an npz, of the wrong shapes or count, non-finite; config keys missing or
    invalid) turned into :func:`damaged_error`. Weights are checked before loading
    (:func:`kaq_sionna.pretrained.weights_problem`) and the loaded model's variables after."""
    import zipfile

    import numpy as np

    from kaq_sionna.core.errors import PretrainedMismatch

    problem = pretrained.weights_problem(directory)
    if problem:
        raise damaged_error(label, directory, problem)
    try:
        model = load()
    except SpecError:
        raise
    except PretrainedMismatch as err:
        raise damaged_error(label, directory, str(err)) from None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, EOFError,
            zipfile.BadZipFile) as err:
        what = f"{type(err).__name__}: {err}" if not isinstance(err, KeyError) else \
            f"config.json or weights lack {err.args[0]!r}"
        raise damaged_error(label, directory, f"loading failed ({what})") from None
    for var in getattr(model, "weights", None) or ():
        value = np.asarray(var)
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            name = getattr(var, "path", None) or var.name
            raise damaged_error(label, directory, f"variable {name} holds non-finite values "
                                "(NaN or inf)")
    return model


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
        broken = pretrained.damaged().get(name)
        if broken is not None:
            raise SpecError(f"pretrained model {name!r}", "an intact model folder (restore it, "
                            "e.g. git checkout, or retrain)", broken)
        return None
    return model_spec(name, config, lambda: pretrained.model_dir(name),
                      f"pretrained model {name!r}")


def model_spec(name, config, directory, label, source="pretrained"):
    """The :class:`~kaq_sionna.registry.detectors.DetectorSpec` of a model folder (a shipped
    model, or one given by path): see :func:`detector_spec`.

    Parameters
    ----------
    name : str
        Registry name of the entry (used in error messages).
    config : dict
        The model's ``config.json``.
    directory : callable
        ``directory()`` returns the model's folder (looked up when the detector is built).
    label : str
        How errors and loaders name the model.
    """
    if config.get("model") not in LOADERS:
        raise SpecError(f"detector {name!r}", "a model folder whose config.json has a model "
                        f"type of {', '.join(sorted(LOADERS))}", repr(config.get("model")))
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
        warn_not_detecting(name)
        problem = pretrained.weights_problem(directory())
        if problem:  # found when the scenario is validated, before anything runs
            raise damaged_error(label, directory(), problem)
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
            return guarded_load(label, directory(), lambda: LOADERS[config["model"]](
                name, config, directory(), demapping_method=demapping_method,
                precision=ctx.precision))
        return guarded_load(label, directory(), lambda: build_post_training(
            directory(), config, ctx, quant, bits, demapping_method=demapping_method,
            label=label))

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
    return DetectorSpec(name, summary, params, factory, check, source=source)


#: Registry name of a trained model given by folder: ``[[detector]] path = "..."``.
MODEL_BY_PATH = "model"


def resolve_model_path(path):
    """The folder of a model given by ``path``: as given (absolute, or relative to the current
    directory), else relative to a scenario folder
    (:func:`kaq_sionna.registry.plugins.search_dirs`). ``SpecError`` if no folder there holds a
    ``config.json``."""
    from kaq_sionna.registry.plugins import search_dirs

    given = Path(path).expanduser()
    candidates = [given] + ([] if given.is_absolute() else [d / given for d in search_dirs()])
    for folder in candidates:
        if (folder / pretrained.CONFIG_FILE).is_file():
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise SpecError("[[detector]] path", "a trained model folder holding "
                    f"{pretrained.CONFIG_FILE} (e.g. results/train/<name>/model)",
                    f"{path!r} (looked in {tried})")


def path_model_spec(path):
    """The detector spec of the model folder ``path`` (see :func:`resolve_model_path`)."""
    folder = resolve_model_path(path)
    try:
        config = pretrained.read_config(folder)
    except pretrained.DamagedModel as err:
        raise damaged_error(f"model at {path}", folder, str(err)) from None
    label = f"model {config.get('name') or folder.name!r} at {path}"
    return model_spec(f"path = {path!r}", config, lambda: folder, label, source="path")


def _path_check(ctx, params):
    inner = path_model_spec(params["path"])
    own = {p.name for p in inner.params}
    for p in PATH_PARAMS[1:]:
        if p.name not in own and params[p.name] != p.default:
            raise SpecError(f"[[detector]] {p.name}", f"no {p.name} for this model (a "
                            f"{inner.summary})", repr(params[p.name]))
    if inner.check is not None:
        inner.check(ctx, {k: v for k, v in params.items() if k in own})


def _path_factory(ctx, path, **params):
    inner = path_model_spec(path)
    own = {p.name for p in inner.params}
    return inner.factory(ctx, **{k: v for k, v in params.items() if k in own})


PATH_PARAMS = (
    Param("path", str, REQUIRED, "folder of a trained model (config.json beside its weights), "
          "e.g. results/train/<name>/model; relative paths: from the current directory, "
          "else from the scenario's folder"),
    Param("demapping_method", str, "app", "demapping of the Gaussian approximation",
          choices=("app", "maxlog")),
    Param("quant", str, "trained", "unfolded models: 'trained', or the post-training "
          "variants 'fp16', 'ptq' of an fp32-trained model", choices=("trained", "fp16", "ptq")),
    Param("bits", int, 8, "unfolded models: bit width of quant = 'ptq'", min=2, max=16),
)

SPECS = (DetectorSpec(
    MODEL_BY_PATH, "a trained model by folder: [[detector]] path = \"results/train/x/model\" "
    "(validated like a shipped model: model type, system size)", PATH_PARAMS, _path_factory,
    _path_check, source="kaq_sionna"),)
