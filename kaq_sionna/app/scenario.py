"""Scenario files: TOML parsing and validation before anything runs.

The schema is documented in ``scenarios/README.md``. Every user error raises
:class:`ScenarioError` with one message naming the file, the key, what was
expected and what was found; unknown keys are errors.

This module belongs to the application layer (with :mod:`kaq_sionna.app.sweep` and
:mod:`kaq_sionna.app.cli`): it validates ``[link]`` against :data:`links.LINKS`.
The library layers (detection, quantization, softbits, harq, training) never
import :mod:`links`.
"""

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from kaq_sionna.app.exec_mode import EXECUTION_MODES
from kaq_sionna.app.refine import validate_refine
from kaq_sionna.app.units import SEEDINGS
from kaq_sionna.channels import SNR_TYPES
from kaq_sionna.core.params import (
    REQUIRED,
    Param,
    SpecError,
    check_params,
    drop_later_defaults,
    parse_located,
    read_toml_file,
)
from kaq_sionna.registry import plugins
from kaq_sionna.registry.detectors import LinkContext, validate_detector
from kaq_sionna.registry.pretrained import MODEL_BY_PATH, resolve_model_path

#: Parameters added to the schema after results were committed: at these values they are left
#: out of the fingerprint, so that finished runs still match their scenario and resume (as
#: :func:`kaq_sionna.training.spec.spec_fingerprint` does for training scenarios).
LATER_DEFAULTS = {
    "link": {"coded_mimo": {"layer_mapping": "per-stream", "csi_pilots": 0,
                            "decoder": "boxplus-phi"},
             "ofdm": {"decoder": "boxplus-phi"}, "pusch": {"decoder": "boxplus-phi"}},
    "sweep": {"link_axis": {}, "error_bars": False, "refine": {}, "seeding": "per-detector",
              "paired_reference": "", "stop_when_resolved": False},
    "detector": {"quantized-llr": {"eqnet_latent": "codebooks", "eqnet_blockwise": False}},
}


class ScenarioError(SpecError):
    """A scenario file is invalid; the message names file, key, expectation and finding."""


SCENARIO_KEYS = (
    Param("name", str, REQUIRED, "scenario name; default output directory results/<name>",
          plain_name=True),
    Param("seed", int, 0, "seed of every random draw of the run", min=0),
    Param("description", str, "", "free text shown in results.json"),
)

#: The SNR values a scenario may ask for, in dB (docs: scenarios/README.md). Far outside the
#: range any detector or link here is meant for; beyond it float32 arithmetic breaks down
#: (noise variances of 1e-30 and below) and plots lose their scale.
SNR_DB_RANGE = (-50.0, 100.0)

SWEEP_KEYS = (
    Param("snr_db", list, REQUIRED, "SNR grid in dB (non-empty list of numbers)",
          min=SNR_DB_RANGE[0], max=SNR_DB_RANGE[1]),
    Param("snr_type", str, "ebno", "Eb/N0 or Es/N0, see docs/conventions.md", choices=SNR_TYPES),
    Param("batch_size", int, 256, "codewords per stream per Monte-Carlo iteration", min=1),
    Param("max_mc_iter", int, 100, "maximum Monte-Carlo iterations per SNR point", min=1),
    Param("num_target_block_errors", int, 100, "stop a point after this many block errors",
          min=1),
    Param("num_target_bit_errors", int, 0, "stop a point after this many bit errors (0: off)",
          min=0),
    Param("early_stop", bool, True, "skip the remaining points of a detector after a point "
          "without errors"),
    # "graph" stays the default so that committed results keep their fingerprints; new
    # scenarios should write mode = "auto" (kaq_sionna.app.exec_mode)
    Param("mode", str, "graph", "execution mode of the link; auto: XLA or graph per detector "
          "and link type, from a committed benchmark", choices=EXECUTION_MODES),
    Param("seeding", str, "per-detector", "how units are seeded: 'common' gives every detector "
          "at a point the same realizations (common random numbers, paired statistics; write "
          "it in new scenarios), 'per-detector' seeds each point from the detector index "
          "(scenarios written before it existed)", choices=SEEDINGS),
    Param("paired_reference", str, "", "label of the detector the others are compared with "
          "on paired blocks ('common' seeding; default: the first detector)"),
    Param("stop_when_resolved", bool, False, "stop a point of a detector once its paired BLER "
          "difference to the reference excludes 0 at 95 % ('common' seeding)"),
    Param("error_bars", bool, False, "draw each point's 95 % confidence interval in plot.png "
          "(intervals are always in results.json and the CSV)"),
)

#: ``[link]`` keys a link axis may not sweep: detectors are validated (and pretrained models
#: chosen) for one system size.
AXIS_EXCLUDED = ("num_tx", "num_rx", "num_bits_per_symbol")

# --quick: a reduced sweep for smoke tests; [sweep.quick] may override these.
QUICK_KEYS = (
    Param("snr_db", list, None, "SNR grid of the quick run (default: the full grid)",
          min=SNR_DB_RANGE[0], max=SNR_DB_RANGE[1]),
    Param("batch_size", int, 32, "batch size of the quick run", min=1),
    Param("max_mc_iter", int, 2, "maximum iterations per point of the quick run", min=1),
    Param("num_target_block_errors", int, 20, "target block errors of the quick run", min=1),
)


@dataclass
class DetectorEntry:
    """One ``[[detector]]`` table: registry name, display label and full parameters."""

    name: str
    label: str
    params: dict = field(default_factory=dict)

    def as_dict(self):
        return {"name": self.name, "label": self.label, "params": dict(self.params)}


@dataclass(frozen=True)
class RunEntry:
    """One curve of a sweep: a detector, with ``[harq]`` one soft-buffer storage scheme, and
    with ``[sweep.link_axis]`` one value of the swept ``[link]`` parameter.

    ``index`` is the curve's position among the (detector, storage) curves of the scenario
    without its link axis; the sweep seeds the curve's points from it, so that every value of
    the axis sees the random draws the scenario run with ``[link] <key> = value`` would see.
    """

    detector: DetectorEntry
    storage: str = None
    axis: tuple = None
    index: int = 0

    @property
    def series(self):
        """The label without the link-axis value: detector label (and storage scheme)."""
        if self.storage is None:
            return self.detector.label
        return f"{self.detector.label} / {self.storage}"

    @property
    def label(self):
        if self.axis is None:
            return self.series
        return f"{self.series}, {axis_text(*self.axis)}"

    @property
    def link_overrides(self):
        """``[link]`` keys this curve sets on top of the scenario's (its link-axis value)."""
        return {} if self.axis is None else {self.axis[0]: self.axis[1]}


def axis_text(name, value):
    """``"name=value"`` of a link-axis point (numbers with ``:g``)."""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{name}={shown}"


@dataclass
class Scenario:
    """A validated scenario.

    ``as_dict()`` is the canonical form stored in ``results.json``; its hash
    (:attr:`fingerprint`) detects a changed scenario when a run is resumed.
    """

    path: str
    name: str
    seed: int
    description: str
    link_type: str
    link: dict
    sweep: dict
    quick: dict
    detectors: list
    harq: dict = None
    #: The parsed TOML data the scenario was validated from (what a Dask worker receives).
    raw: dict = None

    def as_dict(self):
        doc = {
            "scenario": {"name": self.name, "seed": self.seed, "description": self.description},
            "link": {"type": self.link_type, **self.link},
            "sweep": {**self.sweep, "quick": dict(self.quick)},
            "detector": [d.as_dict() for d in self.detectors],
        }
        if self.harq is not None:
            doc["harq"] = dict(self.harq)
        return doc

    @property
    def link_axis(self):
        """``(key, [values])`` of the ``[sweep.link_axis]``, or `None`."""
        axis = self.sweep.get("link_axis") or {}
        return next(iter(axis.items()), None)

    @property
    def runs(self):
        """The curves of a sweep: one per detector, times the storage schemes with ``[harq]``,
        times the values of the ``[sweep.link_axis]`` (in this order of nesting)."""
        storages = [None] if self.harq is None else self.harq["storage"]
        base = [(d, st) for d in self.detectors for st in storages]
        axis = self.link_axis
        if axis is None:
            return [RunEntry(d, st, None, i) for i, (d, st) in enumerate(base)]
        key, values = axis
        return [RunEntry(d, st, (key, v), i) for i, (d, st) in enumerate(base) for v in values]

    def link_params(self, run):
        """The ``[link]`` parameters of one curve (a :class:`RunEntry`)."""
        return {**self.link, **run.link_overrides}

    @property
    def fingerprint(self):
        doc = self.as_dict()
        doc["sweep"] = drop_later_defaults(doc["sweep"], LATER_DEFAULTS["sweep"])
        doc["link"] = drop_later_defaults(doc["link"],
                                          LATER_DEFAULTS["link"].get(self.link_type, {}))
        for d in doc["detector"]:
            d["params"] = drop_later_defaults(d["params"],
                                              LATER_DEFAULTS["detector"].get(d["name"], {}))
        text = json.dumps(doc, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def link_context(self):
        return LinkContext(self.link["num_tx"], self.link["num_rx"],
                           self.link["num_bits_per_symbol"])

    def sweep_settings(self, quick=False):
        """The Monte-Carlo settings of a full or a ``--quick`` run."""
        settings = dict(self.sweep)
        if quick:
            settings.update({k: v for k, v in self.quick.items() if v is not None})
        return settings


def _section(data, key, where, required=True):
    if key not in data:
        if required:
            raise ScenarioError(f"[{key}]", "a table", "nothing (the section is missing)", where)
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise ScenarioError(f"[{key}]", "a table", f"{type(value).__name__}", where)
    return value


def parse_scenario(data, where="<scenario>"):
    """Validates a scenario given as a dict (parsed TOML). Returns a :class:`Scenario`."""
    scenario = parse_located(_parse, data, where, ScenarioError)
    scenario.raw = copy.deepcopy(data)
    return scenario


def _parse(data, where):
    from links.registry import validate_harq, validate_link  # application layer

    known = {"scenario", "link", "sweep", "detector", "harq"}
    for key in data:
        if key not in known:
            raise ScenarioError(key, "one of the sections " + ", ".join(sorted(known)),
                                f"unknown key {key!r}", where)
    head = check_params(SCENARIO_KEYS, _section(data, "scenario", where), "[scenario]")

    link = dict(_section(data, "link", where))
    if "type" not in link:
        raise SpecError("[link] type", "a link type (e.g. 'coded_mimo')",
                        "nothing (the key is required)")
    link_type = link.pop("type")
    if not isinstance(link_type, str):
        raise SpecError("[link] type", "a string", repr(link_type))
    link_given = dict(link)
    axis_table = _section(data, "sweep", where).get("link_axis")
    if axis_table is None:
        variants = [validate_link(link_type, link)]
    else:  # the [link] keys are validated with each value of the axis
        axis_key, axis_values, variants = _parse_link_axis(axis_table, link_type, link_given)
    link = variants[0]

    sweep = dict(_section(data, "sweep", where))
    quick = sweep.pop("quick", {})
    if not isinstance(quick, dict):
        raise SpecError("[sweep.quick]", "a table", type(quick).__name__)
    sweep.pop("link_axis", None)
    refine = sweep.pop("refine", None)
    sweep = check_params(SWEEP_KEYS, sweep, "[sweep]")
    sweep["refine"] = validate_refine(refine, harq="harq" in data)
    quick = check_params(QUICK_KEYS, quick, "[sweep.quick]")
    for key, grid in (("[sweep] snr_db", sweep["snr_db"]), ("[sweep.quick] snr_db",
                                                            quick["snr_db"])):
        if grid is not None and not grid:
            raise SpecError(key, "a non-empty list of numbers", "an empty list")

    ctx = LinkContext(link["num_tx"], link["num_rx"], link["num_bits_per_symbol"])
    detectors = _parse_detectors(data.get("detector"), ctx)
    sweep["link_axis"] = {}
    if axis_table is not None:
        sweep["link_axis"] = {axis_key: axis_values}
        link = {k: v for k, v in link.items() if k != axis_key}
    harq = None
    if "harq" in data:
        for variant in variants:  # every value of a link axis must suit [harq]
            harq = validate_harq(_section(data, "harq", where), link_type, variant)
    _check_pairing(sweep, detectors, harq is not None)
    return Scenario(where, head["name"], head["seed"], head["description"], link_type, link,
                    sweep, quick, detectors, harq)


def _check_pairing(sweep, detectors, harq):
    """``[sweep] paired_reference`` names a detector; it and ``stop_when_resolved`` need
    ``seeding = "common"`` without ``[harq]``."""
    paired = {k: sweep[k] for k in ("paired_reference", "stop_when_resolved") if sweep[k]}
    for key, value in paired.items():
        if sweep["seeding"] != "common":
            raise SpecError(f"[sweep] {key}", "seeding = \"common\" as well (paired blocks "
                            "need common random numbers)", f"seeding = {sweep['seeding']!r}")
        if harq:
            raise SpecError(f"[sweep] {key}", "a scenario without [harq] (HARQ points are "
                            "not compared on paired blocks)", repr(value))
    ref = sweep["paired_reference"]
    labels = [d.label for d in detectors]
    if ref and ref not in labels:
        raise SpecError("[sweep] paired_reference", "the label of a [[detector]] ("
                        + ", ".join(repr(x) for x in labels) + ")", repr(ref))


def _parse_link_axis(table, link_type, link_given):
    """Validates ``[sweep.link_axis]``: one ``[link]`` key of ``link_type`` with a non-empty list
    of distinct values, each checked with the link's rules (:func:`links.registry.validate_link`)
    together with the other ``[link]`` keys.

    Output
    ------
    key : str
    values : list
        The validated values (converted as the key's :class:`Param` does).
    variants : list of dict
        The full ``[link]`` parameters at each value.
    """
    from links.registry import LINKS, validate_link  # application layer

    where = "[sweep.link_axis]"
    if not isinstance(table, dict):
        raise SpecError(where, "a table of one [link] key and its list of values (e.g. "
                        "link_axis = {csi_error_var = [0.0, 0.01]})", repr(table))
    if len(table) != 1:
        raise SpecError(where, "exactly one [link] key (one axis besides the SNR)",
                        f"{len(table)} keys" + (f" ({', '.join(table)})" if table else ""))
    key, values = next(iter(table.items()))
    names = [p.name for p in LINKS[link_type].params if p.name not in AXIS_EXCLUDED]
    if key in AXIS_EXCLUDED:
        raise SpecError(f"{where} {key}", "a [link] key other than "
                        + ", ".join(AXIS_EXCLUDED) + " (detectors are built for one system "
                        "size: use one scenario per size)", repr(key))
    if key not in names:
        raise SpecError(f"{where} {key}", f"a parameter of the {link_type!r} link ("
                        + ", ".join(names) + ")", f"unknown key {key!r}")
    if key in link_given:
        raise SpecError(f"{where} {key}", f"the key in one place only (the axis gives its "
                        f"values; remove [link] {key})", f"[link] {key} = {link_given[key]!r} "
                        "as well")
    if not isinstance(values, list) or not values:
        raise SpecError(f"{where} {key}", "a non-empty list of values", repr(values))
    checked = []
    for value in values:
        try:
            checked.append(validate_link(link_type, {**link_given, key: value}))
        except SpecError as err:
            checked.append(err)
    errors = [c for c in checked if isinstance(c, SpecError)]
    if len(errors) == len(checked) and all(e.key != f"[link] {key}" for e in errors):
        raise errors[0]  # the other [link] keys are wrong whatever the axis value
    out, variants = [], []
    for i, (value, variant) in enumerate(zip(values, checked, strict=True)):
        if isinstance(variant, SpecError):
            at = f"{where} {key} value #{i + 1}"
            if variant.key != f"[link] {key}":
                at += f" ({value!r}, checked as {variant.key})"
            raise SpecError(at, variant.expected, variant.found)
        if variant[key] in out:
            raise SpecError(f"{where} {key} value #{i + 1}", "values that differ from each "
                            "other", f"{value!r} twice")
        out.append(variant[key])
        variants.append(variant)
    return key, out, variants


def _parse_detectors(tables, ctx):
    if not isinstance(tables, list) or not tables:
        raise SpecError("[[detector]]", "at least one [[detector]] table",
                        "none" if tables is None else repr(tables))
    entries, labels = [], set()
    for i, table in enumerate(tables):
        key = f"[[detector]] #{i + 1}"
        if not isinstance(table, dict):
            raise SpecError(key, "a table", repr(table))
        table = dict(table)
        name = table.pop("name", None)
        if "path" in table and name in (None, MODEL_BY_PATH):  # a trained model by folder
            name = MODEL_BY_PATH
            table.setdefault("label", _model_label(table["path"]))
        if not isinstance(name, str):
            raise SpecError(f"{key} name", "a detector name (see `kaq-sionna list`)",
                            "nothing" if name is None else repr(name))
        label = table.pop("label", name)
        if not isinstance(label, str):
            raise SpecError(f"{key} label", "a string", repr(label))
        if label in labels:
            raise SpecError(f"{key} label", "a label not used by another detector "
                            "(add label = \"...\" to tell them apart)", repr(label))
        labels.add(label)
        params = validate_detector(name, table, ctx, where_key=key)
        entries.append(DetectorEntry(name, label, params))
    return entries


def _model_label(path):
    """Default label of a model given by path: its folder's name, or the training run's name
    for ``results/train/<name>/model``."""
    if not isinstance(path, str):
        return "model"
    parts = Path(path).parts
    if len(parts) >= 2 and parts[-1] == "model":
        return parts[-2]
    return parts[-1] if parts else "model"


def load_scenario(path):
    """Reads and validates a scenario TOML file.

    The scenario's folder is added to the folders where plugin modules (``name =
    "module:factory"``) and relative model paths (``path = "..."``) are looked up
    (:func:`kaq_sionna.registry.plugins.add_search_dir`).

    Raises
    ------
    ScenarioError
        If the file is missing, is not valid TOML, or fails validation.
    """
    data = read_toml_file(path, "an existing scenario TOML file", ScenarioError)
    plugins.add_search_dir(Path(path).parent)
    return parse_scenario(data, str(path))


def external_detectors(scenario):
    """Provenance of the detectors of ``scenario`` that are not part of kaq-sionna, keyed by
    label: plugins (module, file, SHA-256 of the file, version; see
    :func:`kaq_sionna.registry.plugins.provenance`) and models by path (folder, name, model
    type, SHA-256 of its files, training commit). Empty if there are none."""
    out = {}
    for d in scenario.detectors:
        if d.name == MODEL_BY_PATH:
            folder = resolve_model_path(d.params["path"])
            config = json.loads((folder / "config.json").read_text())
            digest = hashlib.sha256()
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    digest.update(f.relative_to(folder).as_posix().encode())
                    digest.update(plugins.file_sha256(f).encode())
            out[d.label] = {"kind": "model", "path": d.params["path"],
                            "folder": str(folder.resolve()), "name": config.get("name"),
                            "model": config.get("model"), "sha256": digest.hexdigest(),
                            "git_commit": config.get("git_commit")}
        elif plugins.is_plugin_name(d.name) or d.name in plugins.entry_points():
            out[d.label] = {"kind": "plugin", "name": d.name, **plugins.provenance(d.name)}
    return out
