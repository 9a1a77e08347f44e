"""SDNet training scenarios (``[model] type = "sdnet"``): TOML schema and validation.

One format for the three roles of the learngene framework (docs/sdnet.md):

* ``role = "collective"``: the collective model, trained sequentially over the ``[[task]]``
  tables in order with EWC on its shared convolutional front, one checkpoint per task (and
  every ``checkpoint_every`` steps);
* ``role = "individual"``: a small model of ``size`` s / m / l for ONE ``[[task]]`` (its target
  task), built from the learngene of the collective model named by ``learngene_from`` (a
  shipped model name or a model directory), ``learngene_layers`` layers at ``placement``, and
  fine-tuned for ``steps`` steps on ``train_samples`` samples (0: fresh samples every step).
  The learngene extraction is part of this role: the inherited layers are written to
  ``<out>/learngene/``. ``inherit = false`` is the scratch baseline (the same architecture,
  randomly initialised).
* ``role = "full-transfer"``: the *full transfer* baseline of the issue ("fine-tuning the whole
  collective model"): the whole front of the collective model ``learngene_from`` (every conv
  layer, its weights copied) + a new head of the collective model's head size, every weight
  fine-tuned on ONE ``[[task]]`` with the same ``[training]`` budget as an individual model.
* ``role = "quantize"`` (beyond the paper): an existing SDNet ``init_from`` (its architecture and
  weights) with an activation quantizer ``quant`` of ``bits`` bits on every hidden layer
  (:class:`~kaq_sionna.detection.sdnet.SDNet`, ``quantizer``), calibrated on ``calib_samples``
  samples of the ``[[task]]`` and then fine-tuned (every weight and the quantizer's parameters);
  ``quant = "fp32"`` fine-tunes the float model with the same budget (the fair reference).

The schema is documented in ``scenarios/README.md`` (section *Training scenarios*, SDNet). As for
every scenario, the whole file is validated before anything runs; every error names the file, the
key, what was expected and what was found; unknown sections and keys are errors.
"""

import hashlib
import json
from dataclasses import dataclass

from kaq_sionna.core.params import (
    REQUIRED,
    Param,
    SpecError,
    check_params,
    check_sections,
    parse_located,
    read_toml_file,
)
from kaq_sionna.detection.sdnet import INDIVIDUAL_SIZES
from kaq_sionna.training.spec import ScenarioIdentity, TrainScenarioError

__all__ = ["QUICK", "ROLES", "SDNetTrainSpec", "load_sdnet_scenario", "parse_sdnet_scenario",
           "task_slug"]

ROLES = ("collective", "individual", "full-transfer", "quantize")
#: Activation quantization modes of ``role = "quantize"`` (:mod:`kaq_sionna.quantization.modes`).
QUANT_MODES = ("fp32", "qat-mse", "kaq", "kaq-step-only", "kaq-mmd-only")
PLACEMENTS = ("bottom", "top")
CDL_MODELS = ("A", "B", "C", "D", "E")

SCENARIO_KEYS = (
    Param("name", str, REQUIRED, "scenario name; default output directory results/train/<name> "
          "and the shipped model's name", plain_name=True),
    Param("seed", int, 0, "seed of every random draw (initialisation, data, evaluation)", min=0),
    Param("description", str, "", "free text copied into the model's config.json"),
)
MODEL_KEYS = (
    Param("type", str, REQUIRED, "model type", choices=("sdnet",)),
    Param("role", str, REQUIRED, "the collective model (sequential tasks with EWC) or an "
          "individual model (learngene + new layers, one target task), or the full-transfer "
          "baseline (the collective's whole front + a new head, one target task), or an existing "
          "model quantized and fine-tuned (quantize)",
          choices=ROLES),
    # collective
    Param("conv_layers", int, 4, "collective: convolutional layers of the front (conv0..)",
          min=1, max=12),
    Param("conv_width", int, 16, "collective: channels of each front layer", min=1, max=256),
    Param("head_units", list, [64.0], "collective: widths of the head's ReLU dense layers"),
    Param("head_reduce", int, 2, "collective: channels of the head's 1x1 convolution", min=1,
          max=64),
    # individual
    Param("size", str, "m", "individual: size (new layers, width, head; "
          "kaq_sionna.detection.sdnet.INDIVIDUAL_SIZES)", choices=tuple(INDIVIDUAL_SIZES)),
    Param("learngene_from", str, "", "individual / full-transfer: the collective model whose "
          "learngene (full-transfer: whole front) is inherited: a shipped model name (kaq-sionna "
          "list) or a model directory (results/train/<name>/model); \"\" only with inherit = "
          "false"),
    Param("learngene_layers", int, 2, "individual: layers of the learngene", min=1, max=12),
    Param("placement", str, "bottom", "individual: which front layers form the learngene and "
          "where they sit (bottom: the first layers, at the input; top: the last, under the head)",
          choices=PLACEMENTS),
    Param("inherit", bool, True, "individual: copy the learngene's weights (false: the same "
          "architecture randomly initialised, the scratch baseline)"),
    # quantize
    Param("init_from", str, "", "quantize: the SDNet model to quantize and fine-tune (a shipped "
          "model name or a model directory)"),
    Param("quant", str, "kaq", "quantize: activation quantization mode of the hidden layers",
          choices=QUANT_MODES),
    Param("bits", int, 8, "quantize: bit width of the activations", min=2, max=16),
    Param("epsilon", float, 0.1, "quantize: weight of the MMD loss of eq. (16) (kaq, "
          "kaq-mmd-only)", min=0.0),
    Param("calib_samples", int, 2048, "quantize: samples of the task the steps are calibrated on "
          "(eq. (10), the adaptive fit of eq. (15))", min=2),
)
TASK_KEYS = (
    Param("name", str, "", "task name (default: <ntx>x<nrx>-<qam>[-<channel>], e.g. "
          "4x8-16qam-kron38)"),
    Param("num_tx", int, REQUIRED, "transmitted streams", min=1, max=64),
    Param("num_rx", int, REQUIRED, "receive antennas", min=1, max=256),
    Param("num_bits_per_symbol", int, 4, "QAM order in bits", choices=(2, 4, 6, 8)),
    Param("channel", str, "rayleigh", "i.i.d. Rayleigh, Kronecker-correlated Rayleigh, or "
          "per-resource-element samples of an OFDM slot over CDL with LS estimation",
          choices=("rayleigh", "kronecker", "cdl")),
    Param("snr_db", list, [5.0, 20.0], "[lo, hi]: Es/N0 in dB drawn uniformly per sample"),
    Param("tx_corr", float, 0.0, "kronecker: exponential correlation at the transmitter",
          min=0.0, max=0.999),
    Param("rx_corr", float, 0.0, "kronecker: exponential correlation at the receiver",
          min=0.0, max=0.999),
    Param("cdl_model", str, "C", "cdl: 3GPP TR 38.901 CDL profile", choices=CDL_MODELS),
    Param("pilots", int, 16, "rayleigh/kronecker: orthogonal unit-energy pilots per stream of "
          "the LS estimate (error CN(0, N0/pilots), docs/conventions.md)", min=1),
)
TRAINING_KEYS = (
    Param("steps", int, 1500, "Adam steps per task (collective) or fine-tuning steps "
          "(individual)", min=0),
    Param("batch_size", int, 256, "mini-batch size", min=1),
    Param("lr", float, 1e-3, "Adam learning rate (a fresh Adam per task)", min=0.0,
          min_exclusive=True),
    Param("train_samples", int, 0, "0: fresh samples every step (unlimited data); N: a fixed "
          "training set of N samples per task, mini-batches drawn from it with replacement "
          "(few-sample fine-tuning)", min=0),
    Param("ewc_lambda", float, 100.0, "collective: EWC weight lambda (0: none)", min=0.0),
    Param("fisher_batches", int, 8, "collective: batches of the diagonal Fisher after a task",
          min=1),
    Param("checkpoint_every", int, 250, "steps between checkpoints (and a checkpoint at the "
          "end of every task)", min=1),
)
EVALUATION_KEYS = (
    Param("snr_db", list, [5.0, 10.0, 15.0, 20.0], "Es/N0 points (dB) of the final uncoded BER "
          "(SDNet, ZF and LMMSE on the same samples and LS CSI)"),
    Param("num_samples", int, 10000, "channel uses per point", min=1),
)
SECTIONS = {"scenario": SCENARIO_KEYS, "model": MODEL_KEYS, "training": TRAINING_KEYS,
            "evaluation": EVALUATION_KEYS}
REQUIRED_SECTIONS = ("scenario", "model")
COLLECTIVE_ONLY = ("conv_layers", "conv_width", "head_units", "head_reduce")
INDIVIDUAL_ONLY = ("size", "learngene_from", "learngene_layers", "placement", "inherit")
QUANTIZE_ONLY = ("init_from", "quant", "bits", "epsilon", "calib_samples")
#: keys a role does not take (given: an error; otherwise dropped from the parsed model)
UNUSED = {"collective": INDIVIDUAL_ONLY + QUANTIZE_ONLY,
          "individual": COLLECTIVE_ONLY + QUANTIZE_ONLY,
          "full-transfer": COLLECTIVE_ONLY + QUANTIZE_ONLY + ("size", "learngene_layers",
                                                             "placement", "inherit"),
          "quantize": COLLECTIVE_ONLY + INDIVIDUAL_ONLY}
#: the role each key belongs to, for the error message
KEY_ROLE = {**{k: "collective" for k in COLLECTIVE_ONLY},
            **{k: "individual" for k in INDIVIDUAL_ONLY},
            **{k: "quantize" for k in QUANTIZE_ONLY}}

# --quick: a smoke test of the whole pipeline (seconds).
QUICK = {"steps": 6, "batch_size": 64, "train_samples": 256, "fisher_batches": 2,
         "checkpoint_every": 3, "eval_samples": 500}


def task_slug(task):
    """``<ntx>x<nrx>-<qam>[-<channel>]`` of a task dict, e.g. ``4x8-16qam``, ``4x8-16qam-kron38``
    (Kronecker, tx 0.3, rx 0.8: tenths), ``4x4-16qam-cdlc``."""
    slug = f"{task['num_tx']}x{task['num_rx']}-{2 ** task['num_bits_per_symbol']}qam"
    if task["channel"] == "kronecker":
        tenths = [round(10 * task[k]) for k in ("tx_corr", "rx_corr")]
        return slug + "-kron" + "".join(str(t) for t in tenths)
    if task["channel"] == "cdl":
        return slug + "-cdl" + task["cdl_model"].lower()
    return slug


@dataclass
class SDNetTrainSpec(ScenarioIdentity):
    """A validated SDNet training scenario; each section a dict with defaults filled in,
    ``tasks`` the list of task dicts (names filled in)."""

    path: str
    scenario: dict
    model: dict
    tasks: list
    training: dict
    evaluation: dict

    @property
    def model_type(self):
        return "sdnet"

    @property
    def role(self):
        return self.model["role"]

    def as_dict(self):
        return {"scenario": dict(self.scenario), "model": dict(self.model),
                "task": [dict(t) for t in self.tasks], "training": dict(self.training),
                "evaluation": dict(self.evaluation)}

    def fingerprint(self, quick=False):
        """Hash of the canonical form (and ``quick``): a changed scenario is detected on resume."""
        text = json.dumps({"spec": self.as_dict(), "quick": bool(quick)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def effective(self, quick=False):
        """``(training, evaluation)`` settings of a full or a ``--quick`` run."""
        training, evaluation = dict(self.training), dict(self.evaluation)
        if quick:
            for key in ("steps", "batch_size", "fisher_batches", "checkpoint_every"):
                training[key] = min(training[key], QUICK[key])
            if training["train_samples"]:
                training["train_samples"] = min(training["train_samples"], QUICK["train_samples"])
            evaluation["num_samples"] = min(evaluation["num_samples"], QUICK["eval_samples"])
        return training, evaluation

    def canonical_name(self):
        """The name the naming contract gives this model: ``sdnet-<size>-<task>`` (individual;
        ``sdnet-<size>scratch-<task>`` without inheritance, ``-top`` for a top learngene),
        ``sdnet-collective-<last task>-<N>tasks`` (collective: the shipped detector is the
        front + the head of the last task), ``sdnet-fulltransfer-<task>`` (full transfer),
        ``init_from`` with the mode tag after its size, e.g. ``sdnet-m-kaq8-4x8-16qam-kron38``
        (quantize; ``-fp32`` for the float fine-tuning)."""
        if self.role == "quantize":
            from pathlib import Path

            from kaq_sionna.detection.unfolded_io import mode_tag

            src = Path(self.model["init_from"])
            base = src.parent.name if src.name == "model" else src.name
            head, _, rest = base.partition("-")
            size, _, rest = rest.partition("-")
            return f"{head}-{size}-{mode_tag(self.model['quant'], self.model['bits'])}-{rest}"
        if self.role == "full-transfer":
            return f"sdnet-fulltransfer-{task_slug(self.tasks[0])}"
        if self.role == "individual":
            size = self.model["size"] + ("" if self.model["inherit"] else "scratch")
            top = "-top" if self.model["inherit"] and self.model["placement"] == "top" else ""
            return f"sdnet-{size}-{task_slug(self.tasks[0])}{top}"
        return f"sdnet-collective-{task_slug(self.tasks[-1])}-{len(self.tasks)}tasks"


def parse_sdnet_scenario(data, where="<sdnet train scenario>"):
    """Validates an SDNet training scenario given as a dict (parsed TOML).

    Output
    ------
    : :class:`SDNetTrainSpec`

    Raises
    ------
    TrainScenarioError
    """
    return parse_located(_parse, data, where, TrainScenarioError)


def _check_pair(key, value):
    if len(value) != 2 or value[0] > value[1]:
        raise SpecError(key, "[lo, hi] with lo <= hi", repr(value))


def _parse_tasks(data, role):
    tables = data.get("task")
    if tables is None:
        raise SpecError("[[task]]", "at least one task table ([[task]] with num_tx, num_rx, ...)",
                        "nothing (the section is missing)")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SpecError("[[task]]", "an array of tables ([[task]], not [task])",
                        type(tables).__name__)
    if role != "collective" and len(tables) != 1:
        raise SpecError("[[task]]", f"exactly one task (the {role} model's target task)",
                        f"{len(tables)} tasks")
    if not tables:
        raise SpecError("[[task]]", "at least one task", "an empty list")
    tasks = []
    for i, table in enumerate(tables):
        where = f"[[task]] #{i + 1}"
        t = check_params(TASK_KEYS, table, where)
        _check_pair(f"{where} snr_db", t["snr_db"])
        if t["num_rx"] < t["num_tx"]:
            raise SpecError(f"{where} num_rx", f">= num_tx ({t['num_tx']}) (zero forcing)",
                            t["num_rx"])
        if t["channel"] != "cdl" and t["pilots"] < t["num_tx"]:
            raise SpecError(f"{where} pilots", f">= num_tx ({t['num_tx']}) (orthogonal pilots)",
                            t["pilots"])
        t["name"] = t["name"] or task_slug(t)
        tasks.append(t)
    names = [t["name"] for t in tasks]
    if len(set(names)) != len(names):
        raise SpecError("[[task]] name", "distinct task names (give name = ... to tell equal "
                        "tasks apart)", repr(names))
    return tasks


def _parse(data, where):
    tasks_data = {k: v for k, v in data.items() if k != "task"}
    out = check_sections(tasks_data, SECTIONS, REQUIRED_SECTIONS)
    model = out["model"]
    role = model["role"]
    given = data["model"]
    unused = UNUSED[role]
    for key in unused:
        if key in given:
            raise SpecError(f"[model] {key}", f"no {key} for role = {role!r} (it is a key of "
                            f"role = {KEY_ROLE[key]!r})", repr(given[key]))
    for key in unused:
        model.pop(key)
    tasks = _parse_tasks(data, role)
    if role == "collective":
        units = model["head_units"]
        if not units or any(u != int(u) or u < 1 for u in units):
            raise SpecError("[model] head_units", "a non-empty list of positive integers",
                            repr(units))
        model["head_units"] = [int(u) for u in units]
        if model["conv_layers"] < 1:
            raise SpecError("[model] conv_layers", ">= 1", model["conv_layers"])
    elif role == "quantize":
        if not model["init_from"]:
            raise SpecError("[model] init_from", "the SDNet model to quantize (a shipped model "
                            "name or a model directory)", "\"\"")
        _check_learngene_from(model, "init_from")
    elif role == "full-transfer":
        if not model["learngene_from"]:
            raise SpecError("[model] learngene_from", "the collective model whose whole front "
                            "is transferred (a shipped model name or a model directory)", "\"\"")
        _check_learngene_from(model)
    else:
        if not model["learngene_from"] and model["inherit"]:
            raise SpecError("[model] learngene_from", "the collective model to inherit from (a "
                            "shipped model name or a model directory), or inherit = false",
                            "\"\"")
        if model["learngene_from"]:
            _check_learngene_from(model)
    ev = out["evaluation"]
    if not ev["snr_db"]:
        raise SpecError("[evaluation] snr_db", "a non-empty list of numbers", "an empty list")
    tr = out["training"]
    if tr["train_samples"] and tr["batch_size"] > tr["train_samples"]:
        raise SpecError("[training] batch_size", f"<= train_samples ({tr['train_samples']})",
                        tr["batch_size"])
    return SDNetTrainSpec(where, out["scenario"], model, tasks, tr, ev)


def _check_learngene_from(model, key="learngene_from"):
    """The model named by ``key`` exists, is an SDNet and has enough front layers
    (``init_from``: is not quantized already)."""
    from kaq_sionna.detection.unfolded_io import resolve_model

    src = model[key]
    try:
        _, config = resolve_model(src)
    except KeyError as err:
        raise SpecError(f"[model] {key}", "a shipped SDNet model name or a model "
                        "directory (with config.json)", f"{src!r} ({err.args[0]})") from None
    if config.get("model") != "sdnet":
        raise SpecError(f"[model] {key}", "an SDNet model (config.json model = "
                        "'sdnet')", f"{src!r} of model type {config.get('model')!r}")
    if key == "init_from" and config.get("layer", {}).get("quantizer") is not None:
        raise SpecError("[model] init_from", "a float SDNet model (no quantizer)",
                        f"{src!r} with quantizer {config['layer']['quantizer']['mode']!r}")
    conv = config.get("layer", {}).get("conv", [])
    if "learngene_layers" in model and model["learngene_layers"] > len(conv):
        raise SpecError("[model] learngene_layers", f"<= {len(conv)} (the front layers of "
                        f"{src!r})", model["learngene_layers"])


def load_sdnet_scenario(path):
    """Reads and validates an SDNet training scenario TOML file.

    Raises
    ------
    TrainScenarioError
        If the file is missing, not valid TOML, or fails validation.
    """
    data = read_toml_file(path, "an existing training scenario TOML file", TrainScenarioError)
    return parse_sdnet_scenario(data, str(path))
