"""Every shipped model loads and gives bit-identical outputs on a fixed input.

The reference, ``tests/data/shipped_model_outputs.npz``, was written by
``python experiments/shipped_model_outputs.py`` from the code before the package was
restructured (see the file's docstring); a change of layout, loading or naming that alters
any model's output fails here.
"""

from pathlib import Path

import numpy as np
import pytest

from kaq_sionna import pretrained

REFERENCE = Path(__file__).parent / "data" / "shipped_model_outputs.npz"
EXPERIMENT = Path(__file__).resolve().parent.parent / "experiments" / "shipped_model_outputs.py"


def _reference():
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


def _outputs_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("shipped_model_outputs", EXPERIMENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE_ARRAYS = _reference()
MODELS = sorted({k.split("/")[0] for k in REFERENCE_ARRAYS})


def test_every_shipped_model_has_a_reference():
    assert sorted(pretrained.available()) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_outputs_are_bit_identical(name):
    outputs = _outputs_module().model_outputs(name, pretrained.config(name))
    expected = {k: v for k, v in REFERENCE_ARRAYS.items() if k.startswith(f"{name}/")}
    assert sorted(outputs) == sorted(expected)
    for key, value in outputs.items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)
