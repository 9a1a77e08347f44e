r"""Training SDNet: sequential collective training with EWC, and few-sample fine-tuning.

* :class:`EWC`: elastic weight consolidation (Kirkpatrick et al., *Overcoming catastrophic
  forgetting in neural networks*, PNAS 2017), the regulariser the original Learngene (Wang,
  Geng et al., AAAI 2022) trains its collective model with: after task :math:`t` the diagonal
  empirical Fisher :math:`F_{t,i} = E[(\partial \ell/\partial\theta_i)^2]` of the shared front
  is accumulated and the weights are anchored, and later tasks add
  :math:`\frac{\lambda}{2}\sum_i F_i(\theta_i-\theta^*_i)^2` to the bit cross entropy.
* :func:`train_collective`: the collective model (:class:`~kaq_sionna.detection.sdnet.
  SDNetCollective`, one shared front, one head per task) over a task list in order, one
  checkpoint per finished task (an interrupted run resumes at the next task).
* :func:`fit`: the training loop (Adam, BCE on bits) of one SDNet on fresh data per step or on
  a fixed small training set (fine-tuning with few samples); every parameter is trained
  (nothing frozen, as in Learngene).
* :func:`evaluate_ber`: uncoded BER of an SDNet and of Sionna's ZF / LMMSE on the same samples
  (the same LS CSI).
"""

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from kaq_sionna.detection.sdnet import SDNetCollective, bit_bce
from kaq_sionna.training.checkpoint import load_checkpoint, save_checkpoint
from kaq_sionna.training.sdnet_tasks import Task, task_batch

__all__ = ["EWC", "evaluate_ber", "fisher_diagonal", "fit", "linear_ber", "train_collective"]


class EWC:
    """Accumulated diagonal Fisher and anchor weights of a set of named variables."""

    def __init__(self, lam):
        self.lam = float(lam)
        self.fisher, self.anchor = {}, {}

    def consolidate(self, variables, fisher):
        """Adds ``fisher`` (name -> array) and anchors the current values of ``variables``."""
        for k, f in fisher.items():
            self.fisher[k] = self.fisher.get(k, 0.0) + np.asarray(f, np.float32)
        self.anchor = {k: np.array(v.numpy(), copy=True) for k, v in variables.items()}

    def penalty(self, variables):
        r""":math:`\frac{\lambda}{2}\sum_i F_i (\theta_i - \theta^*_i)^2` (0 before any task)."""
        total = tf.constant(0.0)
        for k, f in self.fisher.items():
            total += tf.reduce_sum(f * tf.square(variables[k] - self.anchor[k]))
        return 0.5 * self.lam * total

    def state(self):
        arrays = {f"ewc_fisher:{k}": v for k, v in self.fisher.items()}
        arrays.update({f"ewc_anchor:{k}": v for k, v in self.anchor.items()})
        return arrays

    def load_state(self, arrays):
        self.fisher = {k.split(":", 1)[1]: v for k, v in arrays.items()
                       if k.startswith("ewc_fisher:")}
        self.anchor = {k.split(":", 1)[1]: v for k, v in arrays.items()
                       if k.startswith("ewc_anchor:")}


def fisher_diagonal(model, variables, task, num_batches, batch_size, seed):
    """Empirical diagonal Fisher of ``variables`` (name -> tf.Variable) for ``model`` on
    ``num_batches`` fresh batches of ``task``: mean over batches of squared batch gradients of
    the bit cross entropy, scaled by the batch size (a per-sample Fisher estimate)."""
    names = list(variables)
    acc = {k: np.zeros(variables[k].shape, np.float32) for k in names}
    for i in range(num_batches):
        y, h, s, bits = task_batch(task, batch_size, seed + i)
        with tf.GradientTape() as tape:
            loss = bit_bce(bits, model.logits(y, h, s))
        grads = tape.gradient(loss, [variables[k] for k in names])
        for k, g in zip(names, grads, strict=True):
            acc[k] += batch_size * np.square(g.numpy()) / num_batches
    return acc


def fit(model, task, steps, batch_size, lr, seed, train_set=None, extra_loss=None,
        log_every=0, log=None):
    """Trains ``model`` (all its weights) with Adam on the bit cross entropy.

    Parameters
    ----------
    train_set : None | (y, h, s, bits)
        A fixed training set (mini-batches drawn from it with replacement, seeded); `None`
        draws a fresh batch of ``task`` per step.
    extra_loss : None | callable
        ``extra_loss() -> scalar`` added to the loss (e.g. an EWC penalty).

    Output
    ------
    : list of float, the loss every ``log_every`` steps (empty if 0)
    """
    import keras

    opt = keras.optimizers.Adam(lr)
    variables = model.trainable_variables
    opt.build(variables)

    @tf.function(reduce_retracing=True)
    def step(y, h, s, bits):
        with tf.GradientTape() as tape:
            loss = bit_bce(bits, model.logits(y, h, s))
            total = loss + (extra_loss() if extra_loss is not None else 0.0)
        opt.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
        return loss

    rng = np.random.default_rng(seed)
    history = []
    for i in range(steps):
        if train_set is None:
            batch = task_batch(task, batch_size, seed * 100003 + i)
        else:
            idx = rng.integers(0, int(train_set[0].shape[0]), batch_size)
            batch = [tf.gather(t, idx) for t in train_set]
        loss = step(*batch)
        if log_every and (i + 1) % log_every == 0:
            history.append(float(loss))
            if log:
                log(f"  step {i + 1}/{steps} loss {float(loss):.4f}")
    return history


def evaluate_ber(det, task, snr_db, num_samples, seed):
    """Uncoded BER of ``det`` (hard decisions of its LLRs) on ``num_samples`` channel uses of
    ``task`` at each Es/N0 in ``snr_db`` (seeds ``seed + index``), as a list."""
    out = []
    for i, snr in enumerate(snr_db):
        y, h, s, bits = task_batch(task, num_samples, seed + i, snr_db=float(snr))
        llr = det.logits(y, h, s) if hasattr(det, "logits") else det(y, h, s)
        out.append(float(tf.reduce_mean(tf.cast(tf.not_equal(tf.cast(llr > 0, tf.float32),
                                                             bits), tf.float32))))
    return out


def linear_ber(kind, task, snr_db, num_samples, seed):
    """:func:`evaluate_ber` of Sionna's ``LinearDetector(kind)`` (``"zf"``, ``"lmmse"``) with
    app demapping, on the same samples (same LS CSI)."""
    from sionna.phy.mimo import LinearDetector

    det = LinearDetector(kind, "bit", "app", "qam", task.num_bits_per_symbol)
    return evaluate_ber(det, task, snr_db, num_samples, seed)


def train_collective(conv, tasks, steps_per_task, batch_size, lr, ewc_lambda, fisher_batches,
                     seed, checkpoint=None, head_units=(64,), head_reduce=2, log=None):
    """Sequential training of the collective model over ``tasks`` with EWC on the front.

    Parameters
    ----------
    conv : list of dict
        The front (conv specs).
    tasks : list of :class:`~kaq_sionna.training.sdnet_tasks.Task`
    checkpoint : None | str | Path
        ``.npz`` written after every task (all weights, EWC state, finished tasks); if it
        exists, training resumes after its last finished task.

    Output
    ------
    collective : :class:`~kaq_sionna.detection.sdnet.SDNetCollective`
    ewc : :class:`EWC`
    record : list of dict, per task: name, steps, final loss
    """
    import keras

    keras.utils.set_random_seed(seed)
    collective = SDNetCollective(conv, {t.name: t.dims for t in tasks}, head_units,
                                 head_reduce)
    ewc = EWC(ewc_lambda)
    record, done = [], 0
    if checkpoint is not None and Path(checkpoint).is_file():
        state, arrays = load_checkpoint(checkpoint)
        if state["tasks"] != [t.as_dict() for t in tasks]:
            raise ValueError(f"{checkpoint}: written for other tasks; delete it to restart")
        for k, v in collective.named_weights().items():
            v.assign(arrays[k])
        ewc.load_state(arrays)
        record, done = state["record"], len(state["record"])
        if log:
            log(f"resuming after task {done}/{len(tasks)} from {checkpoint}")
    front = collective.front_weights()
    for t_index in range(done, len(tasks)):
        task = tasks[t_index]
        model = collective.models[task.name]
        if log:
            log(f"task {t_index + 1}/{len(tasks)} {task.name}: {task.summary()}")
        penalty = (lambda: ewc.penalty(front)) if ewc.fisher else None
        hist = fit(model, task, steps_per_task, batch_size, lr, seed + 1000 * (t_index + 1),
                   extra_loss=penalty, log_every=max(1, steps_per_task // 5), log=log)
        fisher = fisher_diagonal(model, front, task, fisher_batches, batch_size,
                                 seed + 1000 * (t_index + 1) + 500)
        ewc.consolidate(front, fisher)
        record.append({"task": task.name, "steps": steps_per_task,
                       "final_loss": hist[-1] if hist else None})
        if checkpoint is not None:
            arrays = {k: v.numpy() for k, v in collective.named_weights().items()}
            arrays.update(ewc.state())
            save_checkpoint(checkpoint, arrays, {"tasks": [t.as_dict() for t in tasks],
                                                 "record": record})
    return collective, ewc, record


def tasks_from_json(text):
    """Tasks from a JSON list of task dicts."""
    return [Task.from_dict(d) for d in json.loads(text)]
