"""Learngene with SDNet: the inherited layers are bit-identical before fine-tuning, the
transferred-parameter ratio is counted from the models, placement bottom/top, EWC's penalty
(zero at the anchor, growing away from it), the collective model's per-task checkpoint and
resume, and the LS-CSI task data."""

import kaq_sionna  # noqa: F401, I001  (imports TensorFlow quietly, before TF itself)
import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna.detection.learngene import (
    build_sized,
    extract_learngene,
    inherited_ratio,
    learngene_names,
)
from kaq_sionna.detection.sdnet import COLLECTIVE_CONV, SDNetCollective, conv_spec
from kaq_sionna.detection.sdnet_io import load_learngene, save_learngene
from kaq_sionna.training.checkpoint import read_state
from kaq_sionna.training.sdnet_tasks import Task, task_batch
from kaq_sionna.training.sdnet_trainer import EWC, train_collective

TASKS = {"a": (4, 8, 4), "b": (8, 8, 2)}


def _collective():
    return SDNetCollective(COLLECTIVE_CONV, TASKS)


@pytest.mark.parametrize("placement", ["bottom", "top"])
@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_learngene_is_bit_identical_after_inheritance(placement, size, tmp_path):
    col = _collective()
    lg = extract_learngene(col, 2, placement)
    save_learngene(lg, tmp_path, {"source": "test"})
    lg = load_learngene(tmp_path)
    det = build_sized(size, 2, 4, 4, lg, seed=5)
    names = learngene_names(list(COLLECTIVE_CONV), 2, placement)
    order = [n for n, _ in det.named_layers()]
    if placement == "bottom":
        assert order[:2] == names
    else:
        assert order[order.index("head_reduce") - 2:order.index("head_reduce")] == names
    front = col.front_weights()
    for n in names:
        for w in ("kernel", "bias"):
            np.testing.assert_array_equal(det.named_weights()[f"{n}/{w}"].numpy(),
                                          front[f"{n}/{w}"].numpy())
    det(*task_batch(Task("t", 2, 4, 4), 4, 1)[:3])  # runs on another antenna configuration


def test_scratch_has_the_same_architecture_without_inheritance():
    lg = extract_learngene(_collective(), 2, "bottom")
    scratch = build_sized("m", 4, 8, 4, lg, inherit=False, seed=5)
    inherited = build_sized("m", 4, 8, 4, lg, seed=5)
    assert [n for n, _ in scratch.named_layers()] == [n for n, _ in inherited.named_layers()]
    assert not np.array_equal(scratch.named_weights()["conv0/kernel"].numpy(),
                              lg["weights"]["conv0/kernel"])


def test_parameter_ratio_is_counted_from_the_models():
    lg = extract_learngene(_collective(), 2, "bottom")
    lg_params = sum(int(np.prod(v.shape)) for v in lg["weights"].values())
    assert lg_params == (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 16 + 16)
    ratios = {}
    for size in ("s", "m", "l"):
        det = build_sized(size, 4, 8, 4, lg)
        total = sum(int(np.prod(v.shape)) for v in det.trainable_variables)
        ratios[size] = inherited_ratio(det, lg)
        assert ratios[size] == pytest.approx(lg_params / total)
    assert ratios["s"] > ratios["m"] > ratios["l"]


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away():
    v = {"w": tf.Variable(np.ones((3, 3), np.float32))}
    ewc = EWC(lam=10.0)
    assert float(ewc.penalty(v)) == 0.0
    ewc.consolidate(v, {"w": np.full((3, 3), 0.5, np.float32)})
    assert float(ewc.penalty(v)) == 0.0
    values = []
    for d in (0.1, 0.2, 0.4):
        v["w"].assign(np.ones((3, 3), np.float32) + d)
        values.append(float(ewc.penalty(v)))
    assert 0 < values[0] < values[1] < values[2]
    assert values[0] == pytest.approx(0.5 * 10.0 * 9 * 0.5 * 0.01, rel=1e-4)


def test_collective_checkpoints_per_task_and_resumes(tmp_path):
    tasks = [Task("a", 2, 4, 2, pilots=4), Task("b", 2, 2, 2, "kronecker", tx_corr=0.5,
                                                  rx_corr=0.5, pilots=4)]
    conv = [conv_spec("conv0", 4), conv_spec("conv1", 4)]
    ck = tmp_path / "ck.npz"
    col, ewc, record = train_collective(conv, tasks[:1] + tasks[1:], 3, 16, 1e-3, 1.0, 1, 7,
                                        checkpoint=ck, head_units=(8,))
    assert [r["task"] for r in read_state(ck)["record"]] == ["a", "b"]
    assert set(ewc.fisher) == set(col.front_weights())
    again, _, _ = train_collective(conv, tasks, 3, 16, 1e-3, 1.0, 1, 99, checkpoint=ck,
                                   head_units=(8,))
    for k, v in col.named_weights().items():
        np.testing.assert_array_equal(v.numpy(), again.named_weights()[k].numpy())


def test_task_ls_error_variance():
    t = Task("t", 2, 4, 2, snr_db=(10.0, 10.0), pilots=8)
    y, h_hat, s, bits = task_batch(t, 4000, 3, snr_db=10.0)
    assert bits.shape == (4000, 2, 2) and s.shape == (4000, 4, 4)
    # h_hat = h + e: E|h_hat|^2 = 1/num_rx + N0/P = 0.25 + 0.0125
    assert np.mean(np.abs(h_hat.numpy()) ** 2) == pytest.approx(0.2625, rel=0.03)
