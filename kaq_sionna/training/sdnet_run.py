r"""``kaq-sionna train`` for SDNet scenarios (:mod:`~kaq_sionna.training.sdnet_spec`).

* **Collective** (``role = "collective"``): :class:`~kaq_sionna.detection.sdnet.SDNetCollective`
  (one shared convolutional front, one head per task) trained over the tasks in order; from the
  second task on, the loss adds the EWC penalty of the front
  (:class:`~kaq_sionna.training.sdnet_trainer.EWC`); after each task the diagonal Fisher of the
  front is accumulated and the weights anchored. A fresh Adam per task.
* **Individual** (``role = "individual"``): the learngene (``learngene_layers`` layers at
  ``placement``) is extracted from the collective model ``learngene_from``
  (:func:`~kaq_sionna.detection.learngene.extract_learngene`), written to ``<out>/learngene/``
  and inherited by a model of ``size``
  (:func:`~kaq_sionna.detection.learngene.build_sized`; ``inherit = false``: scratch), then every
  weight is fine-tuned (nothing frozen, as in Learngene).
* **Full transfer** (``role = "full-transfer"``, the issue's baseline "fine-tuning the whole
  collective model"): every front layer of ``learngene_from`` (weights copied) + a new head of
  the collective model's head size for the target task, every weight fine-tuned exactly as an
  individual model (same data seeds, steps, optimizer).
* **Quantize** (``role = "quantize"``, beyond the paper): the SDNet ``init_from`` rebuilt with an
  activation quantizer (``quant``, ``bits``, ``epsilon``) on its hidden layers, its weights
  copied, the quantizer calibrated on ``calib_samples`` channel uses of the task
  (:meth:`~kaq_sionna.quantization.Quantizer.calibrate`, seed derived from the scenario seed),
  then every weight and the quantizer's parameters fine-tuned on the bit cross entropy plus the
  MMD term of eq. (16) (``kaq``).

Data: with ``train_samples = 0`` every step draws a fresh batch of the task, seeded from
(scenario seed, task index, step); otherwise one fixed set of ``train_samples`` channel uses per
task and mini-batches drawn from it with replacement, seeded from (seed, task, step). So the data
of a step depends only on those, and a resumed run sees the batches an uninterrupted one would.

Checkpoints: ``<out>/checkpoint.npz`` (all weights, the Adam state, the EWC state, task index,
step, history, scenario fingerprint) every ``checkpoint_every`` steps and at the end of every
task, written atomically. Running the same command again resumes from it; a changed scenario
is refused (:class:`~kaq_sionna.training.trainer.TrainConflict`) unless ``restart``.

At the end: uncoded BER and bit cross entropy of the model and of Sionna's ZF and LMMSE (the same
samples, the same LS CSI) at the evaluation Es/N0 points, on every task of the collective / the target task
(seeds disjoint from the training seeds); the model in ``<out>/model/`` (the collective model is
saved as the SDNet of its last task: the front + that task's head; all heads stay in the
checkpoint), ``train.json`` and, with ``ship_dir``, the shipped model ``ship_dir/<name>/``.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from kaq_sionna.core.atomic_io import atomic_write_text
from kaq_sionna.core.provenance import git_commit
from kaq_sionna.core.seeding import derive_seed
from kaq_sionna.detection.sdnet import bit_bce, conv_spec
from kaq_sionna.detection.sdnet_io import save_learngene, save_sdnet
from kaq_sionna.training.checkpoint import load_checkpoint, read_state, save_checkpoint
from kaq_sionna.training.sdnet_tasks import Task, task_batch
from kaq_sionna.training.sdnet_trainer import EWC, fisher_diagonal
from kaq_sionna.training.trainer import check_resumable, save_and_ship

__all__ = ["CHECKPOINT", "build", "train_sdnet"]

CHECKPOINT = "checkpoint.npz"


def _tasks(spec):
    return [Task(**{k: (tuple(v) if k == "snr_db" else v) for k, v in t.items()})
            for t in spec.tasks]


def _init_seed(spec):
    return derive_seed(spec.seed, "sdnet-init") % 100_000


def build(spec):
    """The untrained (seeded) model of a scenario.

    Output
    ------
    collective : ``(SDNetCollective, None)``; individual : ``(SDNet, learngene dict)``;
    full-transfer : ``(SDNet, dict of the transferred front)`` (a learngene dict of every front
    layer, ``placement = "bottom"``); quantize : ``(SDNet, calibration statistics)``.
    """
    import keras

    from kaq_sionna.detection.learngene import build_sized, extract_learngene
    from kaq_sionna.detection.sdnet import SDNetCollective

    tasks = _tasks(spec)
    m = spec.model
    if spec.role == "collective":
        keras.utils.set_random_seed(_init_seed(spec))
        conv = [conv_spec(f"conv{i}", m["conv_width"]) for i in range(m["conv_layers"])]
        return SDNetCollective(conv, {t.name: t.dims for t in tasks}, m["head_units"],
                               m["head_reduce"]), None
    if spec.role == "quantize":
        return _build_quantized(spec, tasks[0])
    if m["learngene_from"]:
        from kaq_sionna.detection.sdnet_io import load_sdnet
        from kaq_sionna.detection.unfolded_io import resolve_model

        directory, config = resolve_model(m["learngene_from"])
        donor = load_sdnet(directory, config=config, label=f"learngene_from {m['learngene_from']!r}")
        if spec.role == "full-transfer":
            from kaq_sionna.detection.learngene import build_individual

            front = extract_learngene(donor, len(donor.conv), "bottom")
            det = build_individual(*tasks[0].dims, front, [], head_units=donor.head_units,
                                   head_reduce=donor.head_reduce, seed=_init_seed(spec),
                                   name="sdnet_fulltransfer")
            return det, front
    else:  # scratch without a donor: the collective architecture's layer names and widths
        from kaq_sionna.detection.sdnet import COLLECTIVE_CONV

        keras.utils.set_random_seed(_init_seed(spec))
        donor = SDNetCollective(COLLECTIVE_CONV, {"t": tasks[0].dims})
    learngene = extract_learngene(donor, m["learngene_layers"], m["placement"])
    det = build_sized(m["size"], *tasks[0].dims, learngene, inherit=m["inherit"],
                      seed=_init_seed(spec), name=f"sdnet_{m['size']}")
    return det, learngene


def _build_quantized(spec, task):
    """``init_from`` with the scenario's quantizer, weights copied, quantizer calibrated."""
    from kaq_sionna.detection.sdnet import QUANT_KEYS
    from kaq_sionna.detection.sdnet_io import build_from_config, load_sdnet
    from kaq_sionna.detection.unfolded_io import resolve_model
    from kaq_sionna.quantization.modes import Quantizer

    m = spec.model
    directory, config = resolve_model(m["init_from"])
    donor = load_sdnet(directory, config=config, label=f"init_from {m['init_from']!r}")
    if m["quant"] == "fp32":
        return donor, {}
    qcfg = Quantizer(m["quant"], m["bits"], epsilon=m["epsilon"],
                     precision="single").get_config()
    layer = dict(donor.architecture(), quantizer={k: qcfg[k] for k in QUANT_KEYS})
    det = build_from_config(layer, name="sdnet_quantized")
    variables = det.named_weights()
    for key, v in donor.named_weights().items():
        variables[key].assign(v)
    y, h, s, _ = task_batch(task, m["calib_samples"], derive_seed(spec.seed, "sdnet-calib"))
    stats = det.quantizer.calibrate(det, (y, h, s))
    return det, stats


def _models(spec, model):
    """``[(task, SDNet)]`` in training order."""
    tasks = _tasks(spec)
    if spec.role == "collective":
        return [(t, model.models[t.name]) for t in tasks]
    return [(tasks[0], model)]


def _named_weights(model):
    return model.named_weights()


class _Trainer:
    """The state of one :func:`train_sdnet` call: model, per-task optimizer, EWC, data."""

    def __init__(self, spec, quick, out, say):
        self.spec, self.out, self.say = spec, Path(out), say
        self.training, self.evaluation = spec.effective(quick)
        self.model, self.learngene = build(spec)
        self.pairs = _models(spec, self.model)
        self.ewc = EWC(self.training["ewc_lambda"])
        self.front = self.model.front_weights() if spec.role == "collective" else None
        self._opt_task, self.opt, self._step_fn, self._train_set = None, None, None, None

    # ------------------------------------------------------------------ per task
    def optimizer(self, t_index):
        """The Adam of task ``t_index`` (new when the task changes) and its step function."""
        import keras

        if self._opt_task == t_index:
            return self.opt
        _, det = self.pairs[t_index]
        variables = det.trainable_variables
        self.opt = keras.optimizers.Adam(self.training["lr"])
        self.opt.build(variables)
        penalty = None
        if self.front is not None and self.ewc.fisher and self.ewc.lam > 0:
            front, ewc = self.front, self.ewc
            penalty = lambda: ewc.penalty(front)  # noqa: E731
        opt = self.opt

        @tf.function(reduce_retracing=True)
        def step(y, h, s, bits):
            with tf.GradientTape() as tape:
                llr, reg = det.forward(y, h, s, training=True)  # reg: eq. (16) MMD (kaq) or 0
                loss = bit_bce(bits, llr)
                total = loss + reg + (penalty() if penalty is not None else 0.0)
            opt.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
            return loss

        self._step_fn, self._opt_task, self._train_set = step, t_index, None
        return self.opt

    def batch(self, t_index, step):
        task, _ = self.pairs[t_index]
        tr, seed = self.training, self.spec.seed
        if not tr["train_samples"]:
            return task_batch(task, tr["batch_size"], derive_seed(seed, "sdnet-data", t_index,
                                                                  step))
        if self._train_set is None:
            self._train_set = task_batch(task, tr["train_samples"],
                                         derive_seed(seed, "sdnet-train-set", t_index))
        rng = np.random.default_rng(derive_seed(seed, "sdnet-batch", t_index, step))
        idx = rng.integers(0, tr["train_samples"], tr["batch_size"])
        return [tf.gather(t, idx) for t in self._train_set]

    def run_steps(self, t_index, start, stop):
        self.optimizer(t_index)
        losses = []
        for i in range(start, stop):
            losses.append(float(self._step_fn(*self.batch(t_index, i))))
        return losses

    def consolidate(self, t_index):
        """EWC after task ``t_index`` of the collective (no-op for an individual model)."""
        if self.front is None:
            return
        task, det = self.pairs[t_index]
        fisher = fisher_diagonal(det, self.front, task, self.training["fisher_batches"],
                                 self.training["batch_size"],
                                 derive_seed(self.spec.seed, "sdnet-fisher", t_index))
        self.ewc.consolidate(self.front, fisher)
        self._opt_task = None  # the next task's step function includes the new penalty

    # ------------------------------------------------------------------ checkpoints
    def arrays(self):
        arrays = {f"w:{k}": v.numpy() for k, v in _named_weights(self.model).items()}
        if self.opt is not None:
            arrays.update({f"o:{i:03d}": v.numpy() for i, v in enumerate(self.opt.variables)})
        arrays.update(self.ewc.state())
        return arrays

    def restore(self, arrays, state):
        for k, v in _named_weights(self.model).items():
            v.assign(arrays[f"w:{k}"])
        self.ewc.load_state(arrays)
        if state["step"] > 0 and state["task_index"] < len(self.pairs):
            opt = self.optimizer(state["task_index"])
            for i, v in enumerate(opt.variables):
                v.assign(arrays[f"o:{i:03d}"])


def _start_or_resume(trainer, ckpt, restart, spec, quick, say):
    state = {"fingerprint": spec.fingerprint(quick), "spec": spec.as_dict(), "quick": bool(quick),
             "seed": spec.seed, "task_index": 0, "step": 0, "history": [], "tasks_done": [],
             "train_seconds": 0.0}
    if ckpt.is_file() and not restart:
        check_resumable(ckpt, read_state(ckpt), spec, quick)
        state, arrays = load_checkpoint(ckpt)
        trainer.restore(arrays, state)
        say(f"resuming at task {state['task_index'] + 1}, step {state['step']} from {ckpt}")
    return state


def _train(trainer, state, stop_after):
    """Runs the remaining segments; ``False`` when stopped after ``stop_after`` segments of
    this call (the checkpoint is kept)."""
    tr, ckpt = trainer.training, trainer.out / CHECKPOINT
    n_tasks, done_now = len(trainer.pairs), 0
    while state["task_index"] < n_tasks:
        t_index = state["task_index"]
        task, _ = trainer.pairs[t_index]
        if stop_after is not None and done_now >= stop_after:
            trainer.say(f"stopped at task {t_index + 1}, step {state['step']} (checkpoint kept)")
            return False
        if state["step"] == 0:
            trainer.say(f"task {t_index + 1}/{n_tasks} {task.name}: {task.summary()}, "
                        f"{tr['steps']} steps")
        start = state["step"]
        stop = min(tr["steps"], start + tr["checkpoint_every"])
        t0 = time.time()
        losses = trainer.run_steps(t_index, start, stop) if stop > start else []
        state["step"] = stop
        entry = {"task": task.name, "step": stop,
                 "loss": float(np.mean(losses)) if losses else None}
        if stop >= tr["steps"]:
            trainer.consolidate(t_index)
            state["tasks_done"].append({"task": task.name, "steps": tr["steps"]})
            state["task_index"], state["step"] = t_index + 1, 0
        seconds = time.time() - t0
        entry["seconds"] = round(seconds, 2)
        state["history"].append(entry)
        state["train_seconds"] += seconds
        save_checkpoint(ckpt, trainer.arrays(), state)
        done_now += 1
        loss = "-" if entry["loss"] is None else f"{entry['loss']:.4f}"
        trainer.say(f"  {task.name} step {stop}/{tr['steps']}  loss {loss}  {seconds:.1f} s")
        atomic_write_text(trainer.out / "train.json", json.dumps(
            {"name": trainer.spec.name, "finished": False, "history": state["history"]},
            indent=2) + "\n")
    return True


def _point_metrics(det, task, snr, num_samples, seed):
    """``(BER, BCE)`` of ``det`` (an SDNet's logits or a Sionna detector's LLRs) on
    ``num_samples`` channel uses of ``task`` at Es/N0 ``snr`` (seed ``seed``)."""
    y, h, s, bits = task_batch(task, num_samples, seed, snr_db=float(snr))
    llr = det.logits(y, h, s) if hasattr(det, "logits") else det(y, h, s)
    llr = tf.cast(llr, tf.float32)
    ber = tf.reduce_mean(tf.cast(tf.not_equal(tf.cast(llr > 0, tf.float32), bits), tf.float32))
    return float(ber), float(bit_bce(bits, llr))


def _evaluate(trainer):
    """Uncoded BER and bit cross entropy (nats per bit) of the model, ZF and LMMSE per task at
    the evaluation points, on the same samples (seeds disjoint from the training seeds)."""
    from sionna.phy.mimo import LinearDetector

    ev, seed = trainer.evaluation, trainer.spec.seed
    metrics = {}
    for t_index, (task, det) in enumerate(trainer.pairs):
        dets = {"": det, "_zf": LinearDetector("zf", "bit", "app", "qam",
                                               task.num_bits_per_symbol),
                "_lmmse": LinearDetector("lmmse", "bit", "app", "qam", task.num_bits_per_symbol)}
        row = {"snr_esno_db": list(ev["snr_db"]), "num_samples": ev["num_samples"]}
        for suffix, d in dets.items():
            pts = [_point_metrics(d, task, snr, ev["num_samples"],
                                  derive_seed(seed, "sdnet-eval", t_index, i))
                   for i, snr in enumerate(ev["snr_db"])]
            row["ber" + suffix] = [p[0] for p in pts]
            row["bce" + suffix] = [p[1] for p in pts]
        metrics[task.name] = row
        for i, snr in enumerate(row["snr_esno_db"]):
            trainer.say(f"{task.name} Es/N0 {snr:>5g} dB: BER SDNet {row['ber'][i]:.4f}  ZF "
                        f"{row['ber_zf'][i]:.4f}  LMMSE {row['ber_lmmse'][i]:.4f}   BCE SDNet "
                        f"{row['bce'][i]:.4f}  ZF {row['bce_zf'][i]:.4f}  LMMSE "
                        f"{row['bce_lmmse'][i]:.4f}")
    return metrics


def _meta(trainer, state, quick, metrics, command):
    from kaq_sionna.detection.learngene import inherited_ratio

    spec = trainer.spec
    task, det = trainer.pairs[-1]
    meta = {
        "name": spec.name,
        "canonical_name": spec.canonical_name(),
        "role": spec.role,
        "system": {"num_tx": task.num_tx, "num_rx": task.num_rx,
                   "num_bits_per_symbol": task.num_bits_per_symbol},
        "task": task.as_dict(),
        "tasks": [t.as_dict() for t, _ in trainer.pairs],
        "description": spec.scenario["description"],
        "training_scenario": spec.as_dict(),
        "scenario_file": str(spec.path),
        "quick": bool(quick),
        "seed": spec.seed,
        "training": dict(trainer.training),
        "num_params": det.num_params(),
        "train_seconds": round(state["train_seconds"], 1),
        "final_metrics": metrics,
        "history": state["history"],
        "command": command,
        "git_commit": git_commit(),
    }
    if spec.role == "full-transfer":
        lg = trainer.learngene
        names = [c["name"] for c in lg["layers"]]
        meta["transfer"] = {
            "from": spec.model["learngene_from"], "layers": names,
            "inherited_params": det.num_params(names),
            "inherited_ratio": inherited_ratio(det, lg)}
        meta["size"] = "fulltransfer"
    elif spec.role == "individual":
        lg = trainer.learngene
        names = [c["name"] for c in lg["layers"]]
        inherit = spec.model["inherit"]
        meta["learngene"] = {
            "from": spec.model["learngene_from"] or None, "layers": names,
            "placement": lg["placement"], "inherited": inherit,
            "inherited_params": det.num_params(names) if inherit else 0,
            "inherited_ratio": inherited_ratio(det, lg) if inherit else 0.0}
        meta["size"] = spec.model["size"]
    elif spec.role == "quantize":
        from kaq_sionna.detection.unfolded_io import resolve_model

        _, donor = resolve_model(spec.model["init_from"])
        meta["quantization"] = {k: spec.model[k] for k in ("init_from", "quant", "bits",
                                                           "epsilon", "calib_samples")}
        meta["quantization"]["calibration"] = trainer.learngene
        meta["size"] = donor.get("size")
    else:
        meta["detector_task"] = task.name
    return meta


def train_sdnet(spec, out, quick=False, restart=False, ship_dir=None, command=None, stream=None,
                stop_after=None):
    """Trains (or resumes training of) the SDNet of a training scenario.

    Parameters
    ----------
    spec : :class:`~kaq_sionna.training.sdnet_spec.SDNetTrainSpec`
    out : str or Path
        Output directory: ``checkpoint.npz``, ``train.json``, ``model/`` (and ``learngene/``).
    quick : bool
        Tiny run for smoke tests (:data:`~kaq_sionna.training.sdnet_spec.QUICK`).
    restart : bool
        Discard an existing checkpoint (also one of a different scenario).
    ship_dir : None or Path
        Also save the final model to ``ship_dir/<name>/`` (a shipped pretrained model).
    command : None or str
        Recorded in config.json and train.json.
    stream : file or None
        Progress lines (default ``sys.stdout``).
    stop_after : None or int
        Stop after this many checkpoint segments *of this call* (simulates an interruption).

    Output
    ------
    : dict
        ``train.json`` (or, when stopped by ``stop_after``, the checkpoint's training state).
    """
    stream = stream or sys.stdout
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def say(text):
        print(text, file=stream, flush=True)

    trainer = _Trainer(spec, quick, out, say)
    if spec.role != "quantize" and trainer.learngene is not None and \
            spec.model.get("inherit", False):
        save_learngene(trainer.learngene, out / "learngene",
                       {"from": spec.model["learngene_from"], "command": command,
                        "git_commit": git_commit()})
    state = _start_or_resume(trainer, out / CHECKPOINT, restart, spec, quick, say)
    if not _train(trainer, state, stop_after):
        return state
    metrics = _evaluate(trainer)
    meta = _meta(trainer, state, quick, metrics, command)
    _, det = trainer.pairs[-1]
    return save_and_ship(save_sdnet, det, out, meta, ship_dir, say,
                         {"role": spec.role, "history": state["history"]})
