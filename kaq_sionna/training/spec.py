"""Training scenarios (``kaq-sionna train FILE``): TOML schema and validation.

The schema is documented in ``scenarios/README.md`` (section *Training
scenarios*). As for sweep scenarios (:mod:`kaq_sionna.app.scenario`), the whole
file is validated before anything runs; every error names the file, the key,
what was expected and what was found; unknown sections and keys are errors.
"""

import hashlib
import json
import re
from dataclasses import dataclass

from kaq_sionna.channels.cdl import CDL_PARAMS, channel_system_keys
from kaq_sionna.core.params import (
    REQUIRED,
    Param,
    SpecError,
    check_sections,
    drop_later_defaults,
    parse_located,
    read_toml_file,
)
from kaq_sionna.detection.unfolded import PROXES, X_INITS
from kaq_sionna.quantization.modes import MODES

MODEL_TYPES = ("pgdnet", "admmnet")

#: Keys added after models were trained; at these values they are left out of the fingerprint,
#: so that older checkpoints still resume (:func:`spec_fingerprint`).
FINGERPRINT_DEFAULTS = {"model": {"name_suffix": "", "x_init": "zero"}}


def spec_fingerprint(spec, quick, later_defaults):
    """Hash of a training scenario's canonical form (and ``quick``): a changed scenario is
    detected on resume.

    Parameters
    ----------
    spec : dict of dict
        The validated sections.
    quick : bool
    later_defaults : dict of dict
        ``{section: {key: value}}`` of keys added to the schema after models were
        trained; a key at that value is left out, so the old fingerprints stay valid.

    Output
    ------
    : str, 16 hex digits
    """
    spec = {section: drop_later_defaults(values, later_defaults.get(section, {}))
            for section, values in spec.items()}
    text = json.dumps({"spec": spec, "quick": bool(quick)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SCENARIO_KEYS = (
    Param("name", str, REQUIRED, "scenario name; default output directory results/train/<name>",
          plain_name=True),
    Param("seed", int, 0, "seed of every random draw (data, validation, calibration)", min=0),
    Param("description", str, "", "free text copied into the model's config.json"),
)
MODEL_KEYS = (
    Param("type", str, REQUIRED, "unfolded detector", choices=MODEL_TYPES),
    Param("num_layers", int, 5, "number of unfolded layers K", min=1, max=100),
    Param("quant", str, "fp32", "activation quantization mode (\"fp32-snr\": the fair "
          "full-precision reference, kaq's SNR-adaptive range without rounding)", choices=MODES),
    Param("bits", int, 8, "bit width of ptq / qat-mse / kaq", min=2, max=16),
    Param("quantize_intermediate", bool, False, "also quantize r^(k)"),
    Param("prox", str, "soft", "soft threshold (paper) or + QAM box clip", choices=PROXES),
    Param("x_init", str, "zero", "starting point x^(0): zero (paper) or the LMMSE estimate "
          "(warm start)", choices=X_INITS),
    Param("name_suffix", str, "", "appended to the model's canonical name (e.g. \"-ft50\" for "
          "a model trained longer than the shipped one of the same mode)"),
)
SYSTEM_KEYS = (
    Param("num_tx", int, 16, "transmitted streams", min=1, max=64),
    Param("num_rx", int, 16, "receive antennas", min=1, max=256),
    Param("num_bits_per_symbol", int, 4, "QAM order in bits", choices=(2, 4, 6, 8)),
    Param("snr_db", list, [0.0, 25.0], "[lo, hi]: Es/N0 in dB drawn uniformly per sample"),
    Param("channel", str, "rayleigh", "i.i.d. Rayleigh (the paper) or per-resource-element "
          "samples of an OFDM slot over CDL (kaq_sionna.channels.cdl.CDLSampler)",
          choices=("rayleigh", "cdl")),
    *CDL_PARAMS,
)
TRAINING_KEYS = (
    Param("epochs", int, 50, "training epochs (ptq: fp32 epochs before calibration)", min=0),
    Param("samples_per_epoch", int, 50000, "fresh samples per epoch", min=1),
    Param("batch_size", int, 128, "mini-batch size", min=1),
    Param("lr", float, 1e-3, "initial Adam learning rate", min=0.0, min_exclusive=True),
    Param("lr_halving_epochs", int, 10, "halve the learning rate every this many epochs", min=1),
    Param("epsilon", float, 0.1, "weight of the MMD term of eq. (16) (kaq only)", min=0.0),
    Param("init_from", str, "", "pretrained name or model directory to start from "
          "(\"\": the paper's initialisation)"),
    Param("val_samples", int, 10000, "size of the fixed held-out validation set", min=1),
    Param("calibration_samples", int, 4096, "samples of the step calibration (eq. (10))",
          min=1),
)
EVALUATION_KEYS = (
    Param("snr_db", list, [10.0, 15.0, 20.0], "Es/N0 points (dB) of the final BER"),
    Param("num_samples", int, 20000, "channel uses per point", min=1),
)
SECTIONS = {"scenario": SCENARIO_KEYS, "model": MODEL_KEYS, "system": SYSTEM_KEYS,
            "training": TRAINING_KEYS, "evaluation": EVALUATION_KEYS}
REQUIRED_SECTIONS = ("scenario", "model")

# --quick: a smoke test of the whole pipeline.
QUICK = {"epochs": 1, "samples_per_epoch": 512, "val_samples": 256, "calibration_samples": 256,
         "eval_samples": 500}


class TrainScenarioError(SpecError):
    """A training scenario is invalid (file, key, expectation, finding)."""


class ScenarioIdentity:
    """``name`` and ``seed`` of a training spec, read from its ``[scenario]`` section (shared by
    the PGD-Net/ADMM-Net, EQ-Net and SDNet specs)."""

    @property
    def name(self):
        return self.scenario["name"]

    @property
    def seed(self):
        return self.scenario["seed"]


@dataclass
class TrainSpec(ScenarioIdentity):
    """A validated training scenario; each section is a dict with defaults filled in."""

    path: str
    scenario: dict
    model: dict
    system: dict
    training: dict
    evaluation: dict

    def as_dict(self):
        return {"scenario": dict(self.scenario), "model": dict(self.model),
                "system": dict(self.system), "training": dict(self.training),
                "evaluation": dict(self.evaluation)}

    def fingerprint(self, quick=False):
        """Hash of the canonical form (and ``quick``): a changed scenario is detected on resume."""
        return spec_fingerprint(self.as_dict(), quick, FINGERPRINT_DEFAULTS)

    def effective(self, quick=False):
        """The training and evaluation settings of a full or a ``--quick`` run."""
        training, evaluation = dict(self.training), dict(self.evaluation)
        if quick:
            training["epochs"] = min(training["epochs"], QUICK["epochs"])
            for key in ("samples_per_epoch", "val_samples", "calibration_samples"):
                training[key] = min(training[key], QUICK[key])
            training["batch_size"] = min(training["batch_size"], training["samples_per_epoch"])
            evaluation["num_samples"] = min(evaluation["num_samples"], QUICK["eval_samples"])
        return training, evaluation


def parse_train_scenario(data, where="<train scenario>"):
    """Validates a training scenario given as a dict (parsed TOML).

    Output
    ------
    : :class:`TrainSpec`

    Raises
    ------
    TrainScenarioError
    """
    return parse_located(_parse, data, where, TrainScenarioError)


def _parse(data, where):
    out = check_sections(data, SECTIONS, REQUIRED_SECTIONS)
    out["system"] = channel_system_keys(out["system"])
    if out["system"]["channel"] == "rayleigh":
        del out["system"]["channel"]  # the original schema: fingerprints stay unchanged
    snr = out["system"]["snr_db"]
    if len(snr) != 2 or snr[0] > snr[1]:
        raise SpecError("[system] snr_db", "[lo, hi] with lo <= hi", repr(snr))
    if not out["evaluation"]["snr_db"]:
        raise SpecError("[evaluation] snr_db", "a non-empty list of numbers", "an empty list")
    if out["system"]["num_rx"] < out["system"]["num_tx"]:
        raise SpecError("[system] num_rx", f">= num_tx ({out['system']['num_tx']})",
                        out["system"]["num_rx"])
    suffix = out["model"]["name_suffix"]
    if suffix and not re.fullmatch(r"-[a-z0-9][a-z0-9-]*", suffix):
        raise SpecError("[model] name_suffix", "'' or '-' followed by lower-case letters, digits "
                        "and '-' (e.g. \"-ft50\")", repr(suffix))
    tr = out["training"]
    if tr["batch_size"] > tr["samples_per_epoch"]:
        raise SpecError("[training] batch_size", f"<= samples_per_epoch "
                        f"({tr['samples_per_epoch']})", tr["batch_size"])
    if tr["init_from"]:
        _check_init_from(tr["init_from"], out["model"], out["system"])
    return TrainSpec(where, out["scenario"], out["model"], out["system"], out["training"],
                     out["evaluation"])


def _check_init_from(init_from, model, system):
    from kaq_sionna.detection.unfolded_io import resolve_model

    try:
        _, config = resolve_model(init_from)
    except KeyError as err:
        raise SpecError("[training] init_from", "a pretrained model name or a model directory "
                        "(with config.json)", f"{init_from!r} ({err.args[0]})") from None
    layer, sys_ = config.get("layer", {}), config.get("system", {})
    checks = [("model type", config.get("model"), model["type"]),
              ("num_layers", layer.get("num_layers"), model["num_layers"]),
              ("prox", layer.get("prox"), model["prox"]),
              ("x_init", layer.get("x_init", "zero"), model["x_init"])]
    checks += [(k, sys_.get(k), system[k]) for k in ("num_tx", "num_rx", "num_bits_per_symbol")]
    for key, theirs, ours in checks:
        if theirs != ours:
            raise SpecError("[training] init_from", f"a model with {key} = {ours!r} "
                            "(as in this scenario)", f"{init_from!r} with {key} = {theirs!r}")


def load_train_scenario(path):
    """Reads and validates a training scenario TOML file.

    Raises
    ------
    TrainScenarioError
        If the file is missing, not valid TOML, or fails validation.
    """
    data = read_toml_file(path, "an existing training scenario TOML file",
                          TrainScenarioError)
    return parse_train_scenario(data, str(path))


__all__ = ["MODEL_TYPES", "QUICK", "TrainScenarioError", "TrainSpec", "load_train_scenario",
           "parse_train_scenario"]
