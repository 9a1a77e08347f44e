"""Training of the deep-unfolded detectors (PGD-Net, ADMM-Net) in any quantization mode.

* :mod:`~kaq_sionna.training.spec`: the training-scenario schema (``kaq-sionna train``).
* :mod:`~kaq_sionna.training.data`: seeded Rayleigh MIMO data sets (the project's channel model).
* :mod:`~kaq_sionna.training.trainer`: the trainer (eq. (16), Adam, learning-rate halving,
  per-epoch atomic checkpoints and resume).
* :mod:`~kaq_sionna.training.checkpoint`: the checkpoint file of both trainers (arrays and a
  JSON state, written atomically).
* EQ-Net (``[model] type = "eqnet"``): :mod:`~kaq_sionna.training.eqnet_spec` (schema),
  :mod:`~kaq_sionna.training.eqnet_data` (simulated soft bits),
  :mod:`~kaq_sionna.training.eqnet_steps` (the gradient steps of the stages),
  :mod:`~kaq_sionna.training.eqnet_metrics` (validation and test metrics) and
  :mod:`~kaq_sionna.training.eqnet_trainer` (the two-stage trainer).
* :mod:`~kaq_sionna.detection.unfolded_io`: saving a trained detector as a pretrained model and
  loading it back (registered as the loader of the ``pgdnet`` / ``admmnet`` model types).
"""

from kaq_sionna.detection.unfolded_io import (
    PretrainedMismatch,
    build_from_config,
    canonical_name,
    load_model,
    load_weights_into,
    save_model,
)
from kaq_sionna.training.data import derive_seed, training_set
from kaq_sionna.training.spec import TrainSpec, load_train_scenario, parse_train_scenario
from kaq_sionna.training.trainer import TrainConflict, evaluate_ber, train

__all__ = ["PretrainedMismatch", "TrainConflict", "TrainSpec", "build_from_config",
           "canonical_name", "derive_seed", "evaluate_ber", "load_model", "load_train_scenario",
           "load_weights_into", "parse_train_scenario", "save_model", "train", "training_set"]
