r"""Trainer of EQ-Net (EQ-Net paper, Sects. 2.6.1-2.6.3).

* **Data** (:mod:`~kaq_sionna.training.eqnet_data`): Sionna-simulated LDPC-coded
  transmissions at the scenario's SNRs, soft bits from the source detector,
  split 80/10/10. Generated once per output directory and cached in
  ``data.npz`` (with the fingerprint of what produced it), so a resumed run
  does not simulate again.
* **Stage 1** (``stage1_epochs``): :math:`f_Q` and :math:`g_Q` minimise eq. (18),
  the batch mean of the distortion eq. (15) between :math:`\Lambda` and
  :math:`g_Q(f_Q(\Lambda) + \mathbf u)`, :math:`\mathbf u \sim \mathcal N(0,
  \sigma_u^2)` (eqs. (16)-(17), :math:`\sigma_u = 10^{-3}`).
* **Stage 2** (``stage2_epochs``): the features :math:`\mathbf z = f_Q(\Lambda)` of
  the training and validation sets are computed once with the frozen
  :math:`f_Q`; :math:`f_E` minimises the L1 feature loss eq. (19) (or the MSE,
  ablation of Sect. 3.3). :math:`f_Q` and :math:`g_Q` do not change.
* **Codebooks**: one k-means++ scalar codebook of :math:`2^{N_b}` levels per
  latent feature, on the training features (Sect. 2.6.3).
* ``mode = "single-stage"`` (the baseline of Sect. 2.6.2 / Fig. 6): :math:`f_E`
  and :math:`g_Q` are trained together on eq. (18) applied to
  :math:`g_Q(f_E(\cdot))` for ``stage1_epochs + stage2_epochs`` epochs (the same
  number of gradient updates as the two stages); :math:`f_Q` stays untrained
  and no codebook is learned (an estimation-only model).

Adam with the scenario's learning rate in every stage (the paper: 0.001,
default TensorFlow parameters). Every epoch reshuffles the training set with a
seed derived from the scenario seed, the stage and the epoch; the last
incomplete batch is dropped. After every epoch: a progress line, the validation
distortion (eq. (15), averaged) of the quantization path :math:`g_Q(f_Q)` and of
the estimation path :math:`g_Q(f_E)` in ``train.json``'s history, and an atomic
checkpoint ``checkpoint.npz`` (weights, both Adam states, stage, epoch, history,
scenario fingerprint). Running the same command again resumes after the last
finished epoch and ends with the same weights as an uninterrupted run; a
changed scenario is refused (:class:`~kaq_sionna.training.trainer.TrainConflict`)
unless ``restart=True``.

At the end, test-set metrics (distortion of every path against the all-zero
soft bits, hard-decision BER of the estimated, quantized and source soft bits
per SNR) and the model (``<out>/model/``: weights + codebooks + config.json,
:func:`~kaq_sionna.softbits.eqnet.save_eqnet`).

The gradient steps are in :mod:`~kaq_sionna.training.eqnet_steps`, the validation and test
metrics in :mod:`~kaq_sionna.training.eqnet_metrics`, the checkpoint file in
:mod:`~kaq_sionna.training.checkpoint`.

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kaq_sionna.core.atomic_io import atomic_write_text
from kaq_sionna.core.provenance import git_commit
from kaq_sionna.detection.unfolded_io import channel_suffix
from kaq_sionna.softbits.eqnet import EQNet, canonical_name, save_eqnet
from kaq_sionna.training.checkpoint import load_checkpoint, read_state, save_checkpoint
from kaq_sionna.training.data import derive_seed
from kaq_sionna.training.eqnet_data import (
    generate_softbit_data,
    load_dataset,
    permute_streams,
    save_dataset,
    split_indices,
)
from kaq_sionna.training.eqnet_metrics import (
    batched,
    evaluate,
    inference_paths,
    validation_metrics,
)
from kaq_sionna.training.eqnet_steps import make_steps, stage_plan
from kaq_sionna.training.trainer import check_resumable, save_and_ship

__all__ = ["CHECKPOINT", "DATA_FILE", "build_model", "model_name", "train_eqnet"]

CHECKPOINT, DATA_FILE = "checkpoint.npz", "data.npz"


def build_model(spec):
    """The (untrained, seeded) :class:`~kaq_sionna.softbits.eqnet.EQNet` of a scenario."""
    m, s = spec.model, spec.system
    return EQNet(s["num_tx"], s["num_rx"], s["num_bits_per_symbol"],
                 latent_dim=m["latent_dim"], variant=m["variant"],
                 bits_per_feature=m["bits_per_feature"], hidden_width=m["hidden_width"] or None,
                 estimation_width=m["estimation_width"] or None, num_hidden=m["num_hidden"],
                 noise_sigma=spec.training["noise_sigma"],
                 seed=derive_seed(spec.seed, "eqnet-init") % 100_000,
                 estimation_inputs=m["estimation_inputs"])


def model_name(spec):
    """Pretrained name of the scenario's model (e.g. ``eqnet-l-2x2-64qam``; CDL-trained
    models end in ``-cdl<profile>``, as the unfolded detectors'; a two-stage model whose
    stage 2 used the MSE feature loss (the ablation of Sect. 3.3) ends in
    ``-mse-feature-loss``)."""
    s, t = spec.system, spec.training
    name = canonical_name(spec.model["variant"], s["num_tx"], s["num_rx"],
                          s["num_bits_per_symbol"], spec.model["latent_dim"],
                          t["mode"] == "single-stage", spec.model["estimation_inputs"])
    if t["mode"] == "two-stage" and t["feature_loss"] == "mse":
        name += "-mse-feature-loss"
    return name + channel_suffix(s)


# ----------------------------------------------------------------------------- checkpoints

def _checkpoint_arrays(model, opts):
    """The arrays of a checkpoint: the model's weights (``w000``, ...) and the state of each
    stage's optimizer (``o1_000``, ..., ``o2_000``, ... or ``osingle_000``, ...)."""
    arrays = {f"w{i:03d}": v.numpy() for i, (_, v) in enumerate(model.named_variables())}
    for key, opt in opts.items():
        arrays.update({f"o{key}_{i:03d}": v.numpy() for i, v in enumerate(opt.variables)})
    return arrays


def _restore(arrays, model, opts):
    """Loads the arrays of :func:`_checkpoint_arrays` into ``model`` and ``opts``."""
    for i, (_, v) in enumerate(model.named_variables()):
        v.assign(arrays[f"w{i:03d}"])
    for key, opt in opts.items():
        for i, v in enumerate(opt.variables):
            v.assign(arrays[f"o{key}_{i:03d}"])


# ----------------------------------------------------------------------------- data

def _prepare_data(spec, quick, out, say):
    """The data set of the scenario, split 80/10/10: from ``out/data.npz``, else copied from
    ``reuse_from``, else simulated (and cached in ``out/data.npz``).

    Output
    ------
    (train, val, test), data_seconds : the three splits and the seconds spent simulating
    (0 when the data was cached).
    """
    data_cfg, _ = spec.effective(quick)
    data_fp = spec.data_fingerprint(quick)
    ds = load_dataset(out / DATA_FILE, data_fp)
    data_seconds = 0.0
    if ds is None and data_cfg["reuse_from"]:
        ds = load_dataset(Path(data_cfg["reuse_from"]) / DATA_FILE, data_fp)
        if ds is None:
            say(f"data: no matching {DATA_FILE} in {data_cfg['reuse_from']} (reuse_from); "
                "simulating")
        else:
            say(f"data: reusing {Path(data_cfg['reuse_from']) / DATA_FILE}")
            save_dataset(out / DATA_FILE, ds, data_fp)
    if ds is None:
        say(f"generating data: source {data_cfg['source']}, {len(data_cfg['snr_db'])} SNRs x "
            f"{data_cfg['packets_per_snr']} packets of {data_cfg['n']} bits per stream")
        t0 = time.time()
        ds = generate_softbit_data(spec.system, data_cfg, spec.seed, spec.source, say)
        data_seconds = time.time() - t0
        save_dataset(out / DATA_FILE, ds, data_fp)
        say(f"data: {len(ds)} channel uses in {data_seconds:.1f} s "
            f"({1000 * data_seconds / len(ds):.2f} s per 1000)")
    else:
        say(f"data: {len(ds)} channel uses from {out / DATA_FILE}")
    i_train, i_val, i_test = split_indices(len(ds), spec.seed)
    return (ds.subset(i_train), ds.subset(i_val), ds.subset(i_test)), data_seconds


# ----------------------------------------------------------------------------- resume

def _make_optimizers(model, training):
    """One built Adam optimizer per stage (keys 1 and 2, or ``"single"``, as in
    :func:`~kaq_sionna.training.eqnet_steps.stage_plan`), over the variables that stage
    trains."""
    var_sets = {1: model.quantization_variables + model.decoder_variables,
                2: model.estimation_variables,
                "single": model.estimation_variables + model.decoder_variables}
    opts = {}
    for key in (("single",) if training["mode"] == "single-stage" else (1, 2)):
        opts[key] = keras.optimizers.Adam(training["lr"])
        opts[key].build(var_sets[key])
    return opts


def _start_or_resume(ckpt_path, restart, spec, quick, model, opts, data_seconds, say):
    """The training state: a new one, or (unless ``restart``) the one of the checkpoint at
    ``ckpt_path``, whose weights and optimizer states are then loaded into ``model`` and
    ``opts``; a checkpoint of another scenario raises
    :class:`~kaq_sionna.training.trainer.TrainConflict`."""
    state = {"fingerprint": spec.fingerprint(quick), "spec": spec.as_dict(), "quick": bool(quick),
             "seed": spec.seed, "stage_index": 0, "stage_epoch": 0, "epoch": 0, "history": [],
             "train_seconds": 0.0, "data_seconds": round(data_seconds, 1)}
    if ckpt_path.is_file() and not restart:
        old = read_state(ckpt_path)
        check_resumable(ckpt_path, old, spec, quick)
        state, arrays = load_checkpoint(ckpt_path)
        _restore(arrays, model, opts)
        state["data_seconds"] = max(state.get("data_seconds", 0.0), round(data_seconds, 1))
        say(f"resuming after epoch {state['epoch']} from {ckpt_path}")
    return state


# ----------------------------------------------------------------------------- stages

@dataclass
class _Run:
    """What the epochs of one :func:`train_eqnet` call share: the model and its training
    steps, the training and validation sets, and where progress goes."""

    spec: object
    training: dict
    model: EQNet
    opts: dict
    train: object  # SoftBitDataset
    val: object
    out: Path
    say: object
    steps: dict = field(init=False)
    paths: dict = field(init=False)
    batch_sizes: dict = field(init=False)
    s_train: np.ndarray = field(init=False)
    augment: bool = field(init=False)
    _features: dict = field(init=False, default_factory=dict)

    def __post_init__(self):
        self.steps = make_steps(self.model, self.opts, self.training, self.spec.seed)
        self.paths = inference_paths(self.model)
        n_train = len(self.train)
        self.batch_sizes = {1: min(self.training["stage1_batch_size"], n_train),
                            2: min(self.training["stage2_batch_size"], n_train)}
        self.batch_sizes["single"] = self.batch_sizes[2]
        self.s_train = self.train.s()
        self.augment = self.training["augment"] == "permutations"

    def stage2_features(self):
        """Frozen :math:`f_Q` features of the training and validation sets (the stage-2
        targets), computed once; with augmentation the training targets are computed per
        permuted batch instead (``None``)."""
        if not self._features:
            self._features["train"] = None if self.augment else batched(
                self.paths["feat"], len(self.train), self.train.softbits)
            self._features["val"] = batched(self.paths["feat"], len(self.val),
                                             self.val.softbits)
        return self._features["train"], self._features["val"]


def _quantizer_losses(run, perm, batch_size):
    """Stage 1: one epoch of :math:`f_Q` and :math:`g_Q` on eq. (18), batches of the
    training soft bits in the order ``perm``; the loss of every batch."""
    losses = []
    for b in range(len(run.train) // batch_size):  # the last incomplete batch is dropped
        idx = np.sort(perm[b * batch_size:(b + 1) * batch_size])
        losses.append(float(run.steps[1](tf.constant(run.train.softbits[idx]))))
    return losses


def _estimator_losses(run, stage, perm, batch_size, aug_rng, z_train):
    """Stage 2 (:math:`f_E` on the feature loss eq. (19), targets ``z_train`` or, with
    augmentation, the features of the permuted batch) or the single-stage baseline
    (:math:`f_E` and :math:`g_Q` on eq. (18)): one epoch; the loss of every batch."""
    losses = []
    for b in range(len(run.train) // batch_size):  # the last incomplete batch is dropped
        idx = np.sort(perm[b * batch_size:(b + 1) * batch_size])
        h_b, sb_b = run.train.h[idx], run.train.softbits[idx]
        if run.augment:
            h_b, sb_b = permute_streams(aug_rng, h_b, sb_b)
        if stage == 2:
            target = run.paths["feat"](tf.constant(sb_b)) if run.augment else z_train[idx]
        else:
            target = sb_b
        loss = run.steps[stage](tf.constant(run.train.y[idx]), tf.constant(h_b),
                                tf.constant(run.s_train[idx]), tf.constant(target))
        losses.append(float(loss))
    return losses


def _train_epoch(run, state, stage):
    """One epoch of ``stage`` (shuffled with a seed of the scenario seed, the stage and the
    epoch), then validation; updates ``state`` (epoch counters, history, seconds), saves the
    checkpoint and returns ``(entry, val, seconds)``."""
    seed = run.spec.seed
    t0 = time.time()
    perm = np.random.default_rng(derive_seed(seed, "eqnet-shuffle", stage,
                                             state["stage_epoch"])).permutation(len(run.train))
    z_train, z_val = run.stage2_features() if stage == 2 else (None, None)
    bs = run.batch_sizes[stage]
    if stage == 1:
        losses = _quantizer_losses(run, perm, bs)
    else:
        aug_rng = np.random.default_rng(derive_seed(seed, "eqnet-augment", stage,
                                                    state["stage_epoch"]))
        losses = _estimator_losses(run, stage, perm, bs, aug_rng, z_train)
    val = validation_metrics(run.paths, run.val, z_val, run.training["epsilon"], stage,
                             run.training["feature_loss"])
    seconds = time.time() - t0
    state["stage_epoch"] += 1
    state["epoch"] += 1
    entry = {"epoch": state["epoch"], "stage": stage, "stage_epoch": state["stage_epoch"],
             "loss": float(np.mean(losses)), **val, "seconds": round(seconds, 2)}
    state["history"].append(entry)
    state["train_seconds"] = state["train_seconds"] + seconds
    save_checkpoint(run.out / CHECKPOINT, _checkpoint_arrays(run.model, run.opts), state)
    return entry, val, seconds


def _report_epoch(run, state, stage, epochs, total_epochs, entry, val, seconds):
    """The progress line of an epoch and the unfinished ``train.json``."""
    parts = [f"epoch {state['epoch']}/{total_epochs}",
             f"stage {stage} ({state['stage_epoch']}/{epochs})", f"loss {entry['loss']:.4f}"]
    if "val_distortion_quant" in val:
        parts.append(f"val distortion g(f_Q) {val['val_distortion_quant']:.4f}")
    parts.append(f"g(f_E) {val['val_distortion_est']:.4f}")
    if "val_feature_loss" in val:
        parts.append(f"val feature loss {val['val_feature_loss']:.4f}")
    parts.append(f"{seconds:.1f} s")
    run.say("  ".join(parts))
    atomic_write_text(run.out / "train.json", json.dumps(
        {"name": run.spec.name, "finished": False, "epochs": state["epoch"],
         "history": state["history"]}, indent=2) + "\n")


def _train_stages(run, state, stop_after):
    """Runs the epochs of :func:`~kaq_sionna.training.eqnet_steps.stage_plan` not yet in
    ``state``; ``False`` when stopped after ``stop_after`` epochs of this call (the
    checkpoint is kept)."""
    plan = stage_plan(run.training)
    total_epochs = sum(e for _, e in plan)
    done_now = 0
    while state["stage_index"] < len(plan):
        stage, epochs = plan[state["stage_index"]]
        if state["stage_epoch"] >= epochs:
            state["stage_index"] += 1
            state["stage_epoch"] = 0
            continue
        if stop_after is not None and done_now >= stop_after:
            run.say(f"stopped after epoch {state['epoch']} (checkpoint kept)")
            return False
        entry, val, seconds = _train_epoch(run, state, stage)
        done_now += 1
        _report_epoch(run, state, stage, epochs, total_epochs, entry, val, seconds)
    return True


# ----------------------------------------------------------------------------- codebooks

def _fit_codebooks(run):
    """Sect. 2.6.3: one k-means++ scalar codebook per latent feature, on the training
    features."""
    t0 = time.time()
    model, training = run.model, run.training
    model.fit_codebooks(run.train.softbits, seed=derive_seed(run.spec.seed, "eqnet-kmeans"),
                        max_samples=training["codebook_samples"])
    run.say(f"codebooks: {model.latent_dim} features x {2 ** model.bits_per_feature} levels "
            f"(k-means++ on {min(len(run.train), training['codebook_samples'])} training "
            f"features, {time.time() - t0:.1f} s)")


# ----------------------------------------------------------------------------- records

def _report_test_metrics(metrics, model, say):
    """The progress lines of the test-set metrics of :func:`evaluate`."""
    d = metrics["distortion"]

    def fmt(x):
        return "-" if x is None else f"{x:.4f}"

    say(f"test distortion (eq. 15): g(f_E) {fmt(d['estimation'])}, g(f_Q) "
        f"{fmt(d['quantization_unquantized'])}, quantized {fmt(d['quantization'])} "
        f"({model.bits_per_soft_bit:g} bits per soft bit), zero soft bits "
        f"{fmt(d['zero_softbits'])}")
    for snr, row in metrics["ber_esno_db"].items():
        say(f"Es/N0 {snr:>5} dB: BER est {fmt(row['ber'])}  quantized "
            f"{fmt(row['ber_quantized'])}  source {fmt(row['ber_source'])}")


def _model_record(run, quick, test_ds, state, metrics, command):
    """The ``config.json`` record of the trained model: scenario, data, training settings,
    sizes, seconds, final metrics, history and provenance."""
    spec, training, model = run.spec, run.training, run.model
    data_cfg, _ = spec.effective(quick)
    single = training["mode"] == "single-stage"
    return {
        "name": spec.name,  # the training scenario's name; model_name(spec) describes it
        "canonical_name": model_name(spec),
        "system": {k: spec.system[k] for k in ("num_tx", "num_rx", "num_bits_per_symbol")},
        "channel": {k: spec.system[k] for k in ("channel", "tx_corr", "rx_corr")},
        "training_scenario": spec.as_dict(),
        "scenario_file": str(spec.path),
        "quick": bool(quick),
        "seed": spec.seed,
        "source": data_cfg["source"],
        "source_params": dict(spec.source),
        "training_snr_esno_db": list(data_cfg["snr_db"]),
        "ldpc": {"k": data_cfg["k"], "n": data_cfg["n"]},
        "packets_per_snr": data_cfg["packets_per_snr"],
        "num_samples": {"train": len(run.train), "val": len(run.val), "test": len(test_ds)},
        "training_mode": training["mode"],
        "epochs": state["epoch"],
        "epochs_stage1": 0 if single else training["stage1_epochs"],
        "epochs_stage2": 0 if single else training["stage2_epochs"],
        "batch_size": {"stage1": run.batch_sizes[1], "stage2": run.batch_sizes[2]},
        "lr": training["lr"],
        "epsilon": training["epsilon"],
        "noise_sigma": training["noise_sigma"],
        "feature_loss": training["feature_loss"],
        "bits_per_soft_bit": model.bits_per_soft_bit,
        "bits_per_channel_use": model.bits_per_channel_use,
        "data_seconds": state.get("data_seconds", 0.0),
        "train_seconds": round(state["train_seconds"], 1),
        "final_metrics": metrics,
        "history": state["history"],
        "command": command,
        "git_commit": git_commit(),
    }


# ----------------------------------------------------------------------------- training

def train_eqnet(spec, out, quick=False, restart=False, ship_dir=None, command=None, stream=None,
                stop_after=None):
    """Trains (or resumes training of) the EQ-Net of a training scenario.

    Parameters
    ----------
    spec : :class:`~kaq_sionna.training.eqnet_spec.EQNetTrainSpec`
    out : str or Path
        Output directory: ``data.npz``, ``checkpoint.npz``, ``train.json`` and ``model/``.
    quick : bool
        Tiny run for smoke tests (see :data:`~kaq_sionna.training.eqnet_spec.QUICK`).
    restart : bool
        Discard an existing checkpoint (also one of a different scenario).
    ship_dir : None or Path
        Also save the final model to ``ship_dir/<name>/`` (a shipped pretrained model).
    command : None or str
        Recorded in config.json.
    stream : file or None
        Progress lines (default ``sys.stdout``).
    stop_after : None or int
        Stop after this many epochs *of this call* (simulates an interruption;
        the checkpoint is kept and a later call resumes).

    Output
    ------
    : dict
        ``train.json``: name, finished, history, final metrics, seconds (or, when stopped
        by ``stop_after``, the checkpoint's training state).
    """
    stream = stream or sys.stdout
    out = Path(out)
    _, training = spec.effective(quick)
    single = training["mode"] == "single-stage"

    def say(text):
        print(text, file=stream, flush=True)

    (train_ds, val_ds, test_ds), data_seconds = _prepare_data(spec, quick, out, say)
    model = build_model(spec)
    opts = _make_optimizers(model, training)
    state = _start_or_resume(out / CHECKPOINT, restart, spec, quick, model, opts, data_seconds,
                             say)
    run = _Run(spec, training, model, opts, train_ds, val_ds, out, say)
    if not _train_stages(run, state, stop_after):
        return state
    if not single:
        _fit_codebooks(run)
    metrics = evaluate(model, test_ds, training["epsilon"], single_stage=single)
    _report_test_metrics(metrics, model, say)
    meta = _model_record(run, quick, test_ds, state, metrics, command)
    return save_and_ship(save_eqnet, run.model, run.out, meta, ship_dir, run.say,
                         {"epochs": meta["epochs"], "history": meta["history"]},
                         seconds=("data_seconds", "train_seconds"))
