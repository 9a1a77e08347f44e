import os
from pathlib import Path

import pytest

import kaq_sionna  # noqa: F401  (imports TensorFlow quietly)

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def root():
    return ROOT


@pytest.fixture(autouse=True)
def _fixed_seed():
    from sionna.phy import config
    config.seed = 1234
    yield
