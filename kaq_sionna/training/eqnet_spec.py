"""EQ-Net training scenarios (``[model] type = "eqnet"``): TOML schema and validation.

The schema is documented in ``scenarios/README.md`` (section *Training
scenarios*, EQ-Net). As for every scenario, the whole file is validated before
anything runs; every error names the file, the key, what was expected and what
was found; unknown sections and keys are errors. The soft-bit source is a
detector registry name, validated (with its ``[source]`` parameters) against
the scenario's system size.
"""

import hashlib
import json
from dataclasses import dataclass

from kaq_sionna.channels.cdl import CDL_PARAMS, channel_system_keys
from kaq_sionna.core.params import (
    REQUIRED,
    Param,
    SpecError,
    check_sections,
    parse_located,
    read_toml_file,
)
from kaq_sionna.registry.detectors import LinkContext, validate_detector
from kaq_sionna.softbits.eqnet import ESTIMATION_INPUTS, VARIANTS
from kaq_sionna.training.spec import (
    MODEL_TYPES,
    ScenarioIdentity,
    TrainScenarioError,
    spec_fingerprint,
)

__all__ = ["AUGMENTATIONS", "EQNetTrainSpec", "QUICK", "TRAINING_MODES", "load_eqnet_scenario",
           "parse_eqnet_scenario", "scenario_model_type"]

TRAINING_MODES = ("two-stage", "single-stage")
AUGMENTATIONS = ("none", "permutations")
#: Keys added after models were trained; at these values they are left out of the
#: fingerprint, so that older checkpoints still resume (training.spec.spec_fingerprint).
FINGERPRINT_DEFAULTS = {"model": {"estimation_inputs": "raw"}, "training": {"augment": "none"}}

SCENARIO_KEYS = (
    Param("name", str, REQUIRED, "scenario name; default output directory results/train/<name>",
          plain_name=True),
    Param("seed", int, 0, "seed of every random draw (data, split, initialisation, shuffling)",
          min=0),
    Param("description", str, "", "free text copied into the model's config.json"),
)
MODEL_KEYS = (
    Param("type", str, REQUIRED, "model type", choices=("eqnet",)),
    Param("variant", str, "L", "residual blocks of f_E: L = 1, P = 3 (Sect. 3.3)",
          choices=tuple(VARIANTS)),
    Param("latent_dim", int, 0, "latent features (0: 3 num_tx, Sect. 2.5.4)", min=0),
    Param("bits_per_feature", int, 6, "bits N_b of each latent feature's codebook", min=1, max=8),
    Param("hidden_width", int, 0, "width of f_Q and of each g_Q branch (0: 4 num_tx K)", min=0),
    Param("estimation_width", int, 0, "width of f_E (0: 16 num_tx K)", min=0),
    Param("num_hidden", int, 6, "hidden layers of f_Q and of each g_Q branch", min=1, max=20),
    Param("estimation_inputs", str, "raw", "inputs of f_E: the paper's (y, H, sigma_n), or "
          "(LMMSE estimate, H^H H, sigma_n) (beyond the paper)", choices=ESTIMATION_INPUTS),
)
SYSTEM_KEYS = (
    Param("num_tx", int, 2, "transmitted streams N_t", min=1, max=64),
    Param("num_rx", int, 2, "receive antennas", min=1, max=256),
    Param("num_bits_per_symbol", int, 6, "QAM order in bits K", choices=(2, 4, 6, 8)),
    Param("channel", str, "rayleigh", "flat-fading model (kaq_sionna.channels) or "
          "per-resource-element samples of an OFDM slot over CDL (kaq_sionna.channels.cdl.CDLSampler)",
          choices=("rayleigh", "kronecker", "cdl")),
    Param("tx_corr", float, 0.0, "exponential correlation at the transmitter (kronecker)",
          min=0.0, max=0.999),
    Param("rx_corr", float, 0.0, "exponential correlation at the receiver (kronecker)",
          min=0.0, max=0.999),
    *CDL_PARAMS,
)
DATA_KEYS = (
    Param("source", str, "ml", "registry detector giving the soft bits to learn"),
    Param("snr_db", list, REQUIRED, "Es/N0 values in dB (the paper: six, log-spaced)"),
    Param("k", int, 324, "information bits of the 5G LDPC code", min=1),
    Param("n", int, 648, "codeword bits of the 5G LDPC code", min=2),
    Param("packets_per_snr", int, 1000, "codewords per stream and SNR (n / K channel uses "
          "each)", min=1),
    Param("jit_compile", bool, True, "XLA-compile the source detector (graph mode if it fails)"),
    Param("detector_batch", int, 0, "channel uses per detector call (0: automatic)", min=0),
    Param("reuse_from", str, "", "training output directory whose data.npz to reuse if it was "
          "made from the same [system], [data], [source] and seed (\"\": always simulate)"),
)
TRAINING_KEYS = (
    Param("mode", str, "two-stage", "EQ-Net's two stages or the single-stage baseline "
          "(Sect. 2.6.2, Fig. 6)", choices=TRAINING_MODES),
    Param("stage1_epochs", int, 100, "epochs of stage 1 (f_Q + g_Q, eq. (18))", min=0),
    Param("stage2_epochs", int, 100, "epochs of stage 2 (f_E, eq. (19))", min=0),
    Param("stage1_batch_size", int, 1024, "mini-batch size of stage 1", min=1),
    Param("stage2_batch_size", int, 256, "mini-batch size of stage 2 (and of the single-stage "
          "baseline)", min=1),
    Param("lr", float, 1e-3, "Adam learning rate (both stages)", min=0.0, min_exclusive=True),
    Param("epsilon", float, 1e-3, "stabilisation constant of the distortion, eq. (15)",
          min=0.0, min_exclusive=True),
    Param("noise_sigma", float, 1e-3, "sigma_u of the Gaussian noise on the latent in "
          "stage 1 (eqs. (16)-(18))", min=0.0),
    Param("feature_loss", str, "l1", "stage-2 feature loss: l1 (eq. (19)) or mse "
          "(ablation, Sect. 3.3)", choices=("l1", "mse")),
    Param("codebook_samples", int, 200000, "training features used by k-means++", min=1),
    Param("augment", str, "none", "stage-2 / single-stage data augmentation: 'permutations' "
          "draws a random stream order per sample and epoch (columns of H and rows of the "
          "soft bits permuted together; ML soft bits are equivariant to it)",
          choices=AUGMENTATIONS),
)
SECTIONS = {"scenario": SCENARIO_KEYS, "model": MODEL_KEYS, "system": SYSTEM_KEYS,
            "data": DATA_KEYS, "training": TRAINING_KEYS}
REQUIRED_SECTIONS = ("scenario", "model", "data")
OPTIONAL_TABLES = ("source",)  # free parameters of the source detector

# --quick: a smoke test of the whole pipeline (well under a minute).
QUICK = {"packets_per_snr": 2, "stage1_epochs": 2, "stage2_epochs": 2, "stage1_batch_size": 256,
         "stage2_batch_size": 256, "codebook_samples": 2000}


@dataclass
class EQNetTrainSpec(ScenarioIdentity):
    """A validated EQ-Net training scenario; each section is a dict with defaults filled in."""

    path: str
    scenario: dict
    model: dict
    system: dict
    data: dict
    source: dict
    training: dict

    @property
    def model_type(self):
        return "eqnet"

    def as_dict(self):
        return {"scenario": dict(self.scenario), "model": dict(self.model),
                "system": dict(self.system), "data": dict(self.data),
                "source": dict(self.source), "training": dict(self.training)}

    def fingerprint(self, quick=False):
        """Hash of the canonical form (and ``quick``): a changed scenario is detected on resume."""
        return spec_fingerprint(self.as_dict(), quick, FINGERPRINT_DEFAULTS)

    def data_fingerprint(self, quick=False):
        """Hash of what the data set depends on (system, data, source, seed, quick)."""
        data, _ = self.effective(quick)
        data.pop("reuse_from")  # where to look, not what the data are
        text = json.dumps({"system": self.system, "data": data, "source": self.source,
                           "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def effective(self, quick=False):
        """``(data, training)`` settings of a full or a ``--quick`` run."""
        data, training = dict(self.data), dict(self.training)
        if quick:
            data["packets_per_snr"] = min(data["packets_per_snr"], QUICK["packets_per_snr"])
            for key in ("stage1_epochs", "stage2_epochs", "stage1_batch_size", "stage2_batch_size",
                        "codebook_samples"):
                training[key] = min(training[key], QUICK[key])
        return data, training


def scenario_model_type(path):
    """``[model] type`` of a training scenario file (``None`` if absent), after checking
    that it is a known one (``pgdnet``, ``admmnet``, ``eqnet``, ``sdnet``).

    Raises
    ------
    TrainScenarioError
        Missing file, bad TOML, or an unknown model type.
    """
    data = read_toml_file(path, "an existing training scenario TOML file", TrainScenarioError)
    model = data.get("model")
    if not isinstance(model, dict) or "type" not in model:
        return None
    known = (*MODEL_TYPES, "eqnet", "sdnet")
    if model["type"] not in known:
        raise TrainScenarioError("[model] type", "one of " + ", ".join(repr(t) for t in known),
                                 repr(model["type"]), str(path))
    return model["type"]


def parse_eqnet_scenario(data, where="<eqnet train scenario>"):
    """Validates an EQ-Net training scenario given as a dict (parsed TOML).

    Output
    ------
    : :class:`EQNetTrainSpec`

    Raises
    ------
    TrainScenarioError
    """
    return parse_located(_parse, data, where, TrainScenarioError)


def _parse(data, where):
    out = check_sections(data, SECTIONS, REQUIRED_SECTIONS, OPTIONAL_TABLES)
    out["system"] = channel_system_keys(out["system"])
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise SpecError("[source]", "a table of source-detector parameters",
                        type(source).__name__)
    sys_, dat, mdl = out["system"], out["data"], out["model"]
    if not dat["snr_db"]:
        raise SpecError("[data] snr_db", "a non-empty list of numbers", "an empty list")
    if dat["n"] % sys_["num_bits_per_symbol"]:
        raise SpecError("[data] n", f"a multiple of num_bits_per_symbol = "
                        f"{sys_['num_bits_per_symbol']}", dat["n"])
    if not dat["k"] < dat["n"]:
        raise SpecError("[data] k", f"< n = {dat['n']}", dat["k"])
    if mdl["latent_dim"] == 0:
        mdl["latent_dim"] = 3 * sys_["num_tx"]
    ctx = LinkContext(sys_["num_tx"], sys_["num_rx"], sys_["num_bits_per_symbol"], "single")
    full = validate_detector(dat["source"], source, ctx, where_key="[source]")
    return EQNetTrainSpec(where, out["scenario"], mdl, sys_, dat, full, out["training"])


def load_eqnet_scenario(path):
    """Reads and validates an EQ-Net training scenario TOML file.

    Raises
    ------
    TrainScenarioError
        If the file is missing, not valid TOML, or fails validation.
    """
    data = read_toml_file(path, "an existing training scenario TOML file", TrainScenarioError)
    return parse_eqnet_scenario(data, str(path))
