r"""Trainer of the deep-unfolded detectors (KAQ paper, section 4 protocol).

* Loss: eq. (16), :func:`~kaq_sionna.quantization.kaq_total_loss` of the
  final-layer estimate on the integer grid, plus
  :math:`\epsilon\sum_k\mathcal L^{(k)}_{\mathrm{MMD}}` for ``kaq`` (MSE only
  for every other mode).
* Adam, learning rate ``lr`` halved every ``lr_halving_epochs`` epochs, mini-batches
  of ``batch_size``; every epoch draws ``samples_per_epoch`` fresh samples
  (:mod:`~kaq_sionna.training.data`, SNR uniform in the scenario's range); a
  last incomplete batch is dropped.
* Modes: ``fp32`` / ``fp16`` train as they are. ``ptq`` trains the fp32 network
  (``epochs`` epochs, from ``init_from`` if given; ``epochs = 0`` with an fp32
  ``init_from`` is pure PTQ), then calibrates the steps (eq. (10)) without any
  retraining. ``qat-mse`` / ``kaq`` start from ``init_from`` (typically the fp32
  model: fine-tuning) or from the paper's initialisation, calibrate the steps
  (Algorithm 1 step 2) and train every parameter, steps included.
* After every epoch: a progress line (loss, validation BER and MSE on a fixed
  held-out set, seconds) and an atomic checkpoint ``checkpoint.npz`` (weights,
  Adam state, epoch, seed, history and the scenario fingerprint). Running the
  same command again resumes after the last finished epoch; a changed scenario
  is refused (:class:`TrainConflict`) unless ``restart=True``. With a fixed
  seed, an interrupted and resumed run ends with the same weights as an
  uninterrupted one.
* At the end: BER at the evaluation SNRs (Es/N0) against Sionna's LMMSE on the
  same data, and the model saved to ``<out>/model/`` (weights + config.json,
  see :mod:`~kaq_sionna.detection.unfolded_io`).

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import json
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sionna.phy.mimo import LinearDetector

from kaq_sionna.core.atomic_io import atomic_write_text
from kaq_sionna.core.params import diff_keys
from kaq_sionna.core.provenance import git_commit, versions
from kaq_sionna.detection.unfolded_io import (
    CLASSES,
    architecture_suffix,
    canonical_name,
    channel_suffix,
    load_model,
    resolve_model,
    save_model,
)
from kaq_sionna.quantization.losses import kaq_total_loss
from kaq_sionna.quantization.modes import MMD_MODES, Quantizer
from kaq_sionna.training.checkpoint import load_checkpoint, save_checkpoint
from kaq_sionna.training.data import training_set

CHECKPOINT = "checkpoint.npz"


class TrainConflict(Exception):
    """The output directory holds a checkpoint of a different training scenario."""


def check_resumable(ckpt_path, old_state, spec, quick):
    """Raises :class:`TrainConflict` (naming the changed keys) when the checkpoint state
    ``old_state`` at ``ckpt_path`` was not made by ``spec`` with the same ``quick`` flag."""
    if old_state["fingerprint"] == spec.fingerprint(quick):
        return
    changes = diff_keys(old_state["spec"], spec.as_dict())
    if old_state.get("quick") != bool(quick):
        changes.append(f"quick: {old_state.get('quick')} -> {bool(quick)}")
    raise TrainConflict(f"{ckpt_path} belongs to a different training scenario "
                        f"({'; '.join(changes) or 'changed'}); pass --restart to "
                        "discard it, or use another --out")


def bit_labels(ind, num_bits_per_symbol):
    """Bit labels (Sionna's QAM labelling, MSB first) of symbol indices, ``[..., nbps]``."""
    ind = np.asarray(ind)[..., None]
    shifts = np.arange(num_bits_per_symbol - 1, -1, -1)
    return (ind >> shifts) & 1


def build_detector(spec, quantized=True, precision=None):
    """The detector of a training scenario (``quantized=False``: its fp32 twin)."""
    m = spec.model
    quantizer = None
    if quantized and m["quant"] != "fp32":
        quantizer = Quantizer(m["quant"], m["bits"], quantize_intermediate=m[
            "quantize_intermediate"], epsilon=spec.training["epsilon"], precision=precision)
    return CLASSES[m["type"]](num_layers=m["num_layers"],
                              num_bits_per_symbol=spec.system["num_bits_per_symbol"],
                              quantizer=quantizer, prox=m["prox"],
                              x_init=m.get("x_init", "zero"), precision=precision)


def _core_variables(det):
    q = set() if det.quantizer is None else {id(v) for v in det.quantizer.weights}
    return [v for v in det.weights if id(v) not in q]


def copy_core_weights(src, dst):
    """Copies the detector parameters (eta/lambda, rho/lambda/tau), not the quantizer's."""
    for a, b in zip(_core_variables(src), _core_variables(dst), strict=True):
        if a.name != b.name or a.shape != b.shape:
            raise ValueError(f"cannot copy {a.name} {a.shape} into {b.name} {b.shape}")
        b.assign(a)


def init_from_model(det, init_from):
    """Copies the detector parameters of a saved model (pretrained name or directory)."""
    directory, config = resolve_model(init_from)
    src = load_model(directory, config=config, label=f"init_from {init_from!r}")
    copy_core_weights(src, det)
    return config


def evaluate_ber(det, batch):
    """Hard-decision BER (sign of the LLRs) and symbol MSE of ``x_hat`` on a batch."""
    llr = det(*batch.inputs).numpy()
    nbps = llr.shape[-1]
    ber = float(np.mean((llr > 0) != bit_labels(batch.ind.numpy(), nbps)))
    mse = None
    if hasattr(det, "estimate"):
        x_hat = det.estimate(*batch.inputs).x_hat.numpy()
        mse = float(np.mean(np.abs(x_hat - batch.x.numpy()) ** 2))
    return ber, mse


def _checkpoint_arrays(det, opt):
    """The arrays of a checkpoint: the detector's weights (``w000``, ...) and the optimizer
    state (``o000``, ...)."""
    arrays = {f"w{i:03d}": v.numpy() for i, v in enumerate(det.weights)}
    arrays.update({f"o{i:03d}": v.numpy() for i, v in enumerate(opt.variables)})
    return arrays


def _restore(arrays, det, opt):
    """Loads the arrays of :func:`_checkpoint_arrays` into ``det`` and ``opt`` (their numbers
    must match)."""
    weights = [arrays[f"w{i:03d}"] for i in range(sum(k.startswith("w") for k in arrays))]
    opt_values = [arrays[f"o{i:03d}"] for i in range(sum(k.startswith("o") for k in arrays))]
    for v, value in zip(det.weights, weights, strict=True):
        v.assign(value)
    for v, value in zip(opt.variables, opt_values, strict=True):
        v.assign(value)


def _make_step(det, opt, epsilon):
    use_mmd = det.quantizer is not None and det.quantizer.uses_mmd and epsilon > 0

    @tf.function(reduce_retracing=True)
    def step(y, h, s, x):
        with tf.GradientTape() as tape:
            est = det.estimate(y, h, s, training=use_mmd)
            loss = kaq_total_loss(det.to_real(x), est.x_real,
                                  est.mmd if use_mmd else None, epsilon)  # eq. (16)
        variables = det.trainable_variables
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables, strict=True))
        return loss

    return step


def _prepare_detector(spec, training, say):
    """The detector to train: quantized during training (except ``ptq``), initialised from
    ``init_from`` if given, its steps calibrated for the step modes (Algorithm 1, step 2).

    Output
    ------
    det, init_cfg : the detector and the ``config.json`` of ``init_from`` (or ``None``)
    """
    det = build_detector(spec, quantized=spec.model["quant"] != "ptq")
    init_cfg = None
    if training["init_from"]:
        init_cfg = init_from_model(det, training["init_from"])
        say(f"initialised from {training['init_from']} (fine-tuning)")
    if det.quantizer is not None and det.quantizer.needs_calibration:
        cal = training_set(spec.system, training["calibration_samples"], spec.seed, "calib")
        det.quantizer.calibrate(det, cal.inputs)  # Algorithm 1, step 2
    return det, init_cfg


def _start_or_resume(ckpt_path, restart, spec, quick, det, opt, say):
    """The training state: a new one, or (unless ``restart``) the one of the checkpoint at
    ``ckpt_path``, whose weights and optimizer state are then loaded into ``det`` and
    ``opt``; a checkpoint of another scenario raises :class:`TrainConflict`."""
    state = {"fingerprint": spec.fingerprint(quick), "spec": spec.as_dict(), "quick": bool(quick),
             "seed": spec.seed, "epoch": 0, "history": [], "train_seconds": 0.0}
    if ckpt_path.is_file() and not restart:
        old, arrays = load_checkpoint(ckpt_path)
        check_resumable(ckpt_path, old, spec, quick)
        _restore(arrays, det, opt)
        if det.quantizer is not None:
            det.quantizer.mark_calibrated()
        state = old
        say(f"resuming after epoch {state['epoch']} from {ckpt_path}")
    return state


def _train_epoch(det, opt, step, state, spec, training, val):
    """One epoch on fresh samples (learning rate halved every ``lr_halving_epochs``), then
    the validation BER and MSE; updates ``state`` and returns the history entry and the
    seconds of the epoch."""
    epoch = state["epoch"]
    t0 = time.time()
    lr = training["lr"] * 0.5 ** (epoch // training["lr_halving_epochs"])
    opt.learning_rate.assign(lr)
    data = training_set(spec.system, training["samples_per_epoch"], spec.seed, "train", epoch)
    bs = training["batch_size"]
    losses = []
    for i in range(training["samples_per_epoch"] // bs):  # the last incomplete batch is dropped
        sl = slice(i * bs, (i + 1) * bs)
        losses.append(float(step(data.y[sl], data.h[sl], data.s[sl], data.x[sl])))
    val_ber, val_mse = evaluate_ber(det, val)
    seconds = time.time() - t0
    entry = {"epoch": epoch + 1, "lr": lr, "loss": float(np.mean(losses)),
             "val_ber": val_ber, "val_mse": val_mse, "seconds": round(seconds, 2)}
    state["history"].append(entry)
    state["epoch"] = epoch + 1
    state["train_seconds"] = state["train_seconds"] + seconds
    return entry, seconds


def _final_detector(det, spec, training, say):
    """The detector to save: ``det``, or for ``ptq`` its quantized twin with the steps
    calibrated on the trained fp32 network (eq. (10), no retraining)."""
    if spec.model["quant"] != "ptq":
        return det
    final = build_detector(spec, quantized=True)
    copy_core_weights(det, final)
    cal = training_set(spec.system, training["calibration_samples"], spec.seed, "calib")
    final.quantizer.calibrate(final, cal.inputs)  # eq. (10), no retraining
    say("ptq: calibrated the steps of the trained fp32 network (no retraining)")
    return final


def model_name(spec):
    """Pretrained name of the scenario's model (e.g. ``pgdnet-kaq4-4x4-16qam``; another depth
    than K = 5 or the LMMSE warm start add ``-k<K>`` / ``-lmmse``, CDL-trained models
    ``-cdl<profile>``, then the scenario's ``name_suffix``)."""
    m, system = spec.model, spec.system
    return canonical_name(m["type"], m["quant"], m["bits"], system["num_tx"], system["num_rx"],
                          system["num_bits_per_symbol"]) \
        + architecture_suffix(m["num_layers"], m.get("x_init", "zero")) \
        + channel_suffix(system) + m.get("name_suffix", "")


def _model_record(spec, quick, training, state, init_cfg, val_metrics, metrics, command):
    """The ``config.json`` record of the trained model: scenario, training settings, seconds,
    final metrics (``val_metrics`` = validation BER and MSE), history and provenance."""
    m, system = spec.model, spec.system
    val_ber, val_mse = val_metrics
    return {
        "name": spec.name,  # the training scenario's name (kaq-sionna train --ship refuses
        "canonical_name": model_name(spec),  # to overwrite a shipped model of that name)
        "system": {k: system[k] for k in ("num_tx", "num_rx", "num_bits_per_symbol")},
        "training_snr_db": list(system["snr_db"]),
        "training_scenario": spec.as_dict(),
        "scenario_file": str(spec.path),
        "quick": bool(quick),
        "seed": spec.seed,
        "epochs": state["epoch"],
        "samples_per_epoch": training["samples_per_epoch"],
        "batch_size": training["batch_size"],
        "lr": training["lr"],
        "lr_halving_epochs": training["lr_halving_epochs"],
        "epsilon": training["epsilon"] if m["quant"] in MMD_MODES else 0.0,
        "init_from": training["init_from"] or None,
        "init_from_commit": None if init_cfg is None else init_cfg.get("git_commit"),
        "train_seconds": round(state["train_seconds"], 1),
        "final_metrics": {"val_ber": val_ber, "val_mse": val_mse,
                          "val_samples": training["val_samples"], "ber_esno_db": metrics},
        "history": state["history"],
        "command": command,
        "git_commit": git_commit(),
    }


def provenance_record(meta):
    """What ``train.json`` records of how it was made, as ``results.json`` does: the command,
    the scenario file, the commit of the code (``-dirty`` if modified) and package versions."""
    return {"command": meta.get("command"), "scenario_file": meta.get("scenario_file"),
            "commit": meta.get("git_commit"), "versions": versions()}


def save_and_ship(save, model, out, meta, ship_dir, say, fields, seconds=("train_seconds",)):
    """Saves ``model`` with ``save(model, folder, meta)`` to ``<out>/model/`` (and
    ``ship_dir/<name>/``) and writes the finished ``train.json``, which it returns: ``name``,
    ``finished``, the trainer's own ``fields`` (e.g. ``epochs`` and ``history``), the final
    metrics, the ``seconds`` entries of ``meta`` and the provenance. Shared by the trainers of
    the unfolded detectors, EQ-Net and SDNet."""
    name = meta["name"]
    out = Path(out)
    config = save(model, out / "model", meta)
    if ship_dir is not None:
        save(model, Path(ship_dir) / name, meta)
        say(f"shipped as pretrained model {name} ({Path(ship_dir) / name})")
    doc = {"name": name, "finished": True, **fields, "final_metrics": config["final_metrics"],
           **{key: meta[key] for key in seconds}, **provenance_record(meta)}
    atomic_write_text(out / "train.json", json.dumps(doc, indent=2) + "\n")
    return doc


def train(spec, out, quick=False, restart=False, stream=None, stop_after=None, ship_dir=None,
          command=None):
    """Trains (or resumes training of) the detector of a training scenario.

    Parameters
    ----------
    spec : :class:`~kaq_sionna.training.spec.TrainSpec`
    out : str or Path
        Output directory: ``checkpoint.npz``, ``train.json`` and ``model/``.
    quick : bool
        Reduced run for smoke tests (see :data:`~kaq_sionna.training.spec.QUICK`).
    restart : bool
        Discard an existing checkpoint (also one of a different scenario).
    stream : file or None
        Progress lines (default ``sys.stdout``).
    stop_after : None or int
        Stop after this many epochs *of this call* (simulates an interruption;
        the checkpoint is kept and a later call resumes).
    ship_dir : None or Path
        Also save the final model to ``ship_dir/<canonical name>/``.
    command : None or str
        Recorded in config.json.

    Output
    ------
    : dict
        ``train.json``: scenario, history, final metrics, model name, finished.
    """
    stream = stream or sys.stdout
    out = Path(out)
    training, evaluation = spec.effective(quick)
    ckpt_path = out / CHECKPOINT

    def say(text):
        print(text, file=stream, flush=True)

    det, init_cfg = _prepare_detector(spec, training, say)
    opt = keras.optimizers.Adam(training["lr"])
    opt.build(det.trainable_variables)
    state = _start_or_resume(ckpt_path, restart, spec, quick, det, opt, say)

    val = training_set(spec.system, training["val_samples"], spec.seed, "val")
    step = _make_step(det, opt,
                      training["epsilon"] if spec.model["quant"] in MMD_MODES else 0.0)
    done_now = 0
    while state["epoch"] < training["epochs"]:
        if stop_after is not None and done_now >= stop_after:
            say(f"stopped after epoch {state['epoch']} (checkpoint kept)")
            return state
        entry, seconds = _train_epoch(det, opt, step, state, spec, training, val)
        save_checkpoint(ckpt_path, _checkpoint_arrays(det, opt), state)
        done_now += 1
        say(f"epoch {entry['epoch']}/{training['epochs']}  lr {entry['lr']:.2e}  "
            f"loss {entry['loss']:.4f}  val BER {entry['val_ber']:.4f}  "
            f"val MSE {entry['val_mse']:.4f}  {seconds:.1f} s")

    final = _final_detector(det, spec, training, say)
    metrics = final_metrics(final, spec.system, evaluation, spec.seed)
    val_metrics = evaluate_ber(final, val)
    for snr, row in metrics.items():
        say(f"Es/N0 {snr:>5} dB: BER {row['ber']:.5f}  (LMMSE {row['ber_lmmse']:.5f}, "
            f"{row['num_bits']} bits)")
    meta = _model_record(spec, quick, training, state, init_cfg, val_metrics, metrics, command)
    return save_and_ship(save_model, final, out, meta, ship_dir, say,
                         {"epochs": meta["epochs"], "history": meta["history"]})


def final_metrics(det, system, evaluation, seed):
    """BER of ``det`` and of Sionna's LMMSE on the same seeded data per evaluation Es/N0."""
    lmmse = LinearDetector("lmmse", "bit", "app", "qam", system["num_bits_per_symbol"])
    out = {}
    for snr in evaluation["snr_db"]:
        b = training_set(system, evaluation["num_samples"], seed, "eval", snr, snr_db=snr)
        ber, mse = evaluate_ber(det, b)
        ber_l, _ = evaluate_ber(lmmse, b)
        nbits = int(np.prod(b.ind.shape)) * system["num_bits_per_symbol"]
        out[f"{snr:g}"] = {"ber": ber, "ber_lmmse": ber_l, "mse": mse, "num_bits": nbits}
    return out


__all__ = ["CHECKPOINT", "TrainConflict", "bit_labels", "build_detector", "copy_core_weights",
           "evaluate_ber", "final_metrics", "init_from_model", "model_name", "train"]
