"""Training checkpoints: named arrays and a JSON training state in one ``.npz`` file, written
atomically (an interrupted run never leaves a half-written checkpoint)."""

import io
import json

import numpy as np

from kaq_sionna.core.atomic_io import atomic_write_bytes

__all__ = ["load_checkpoint", "read_state", "save_checkpoint"]


def save_checkpoint(path, arrays, state):
    """Writes ``arrays`` (name -> array) and ``state`` (JSON-serialisable, stored as the
    array ``"state"``) to the ``.npz`` file ``path``, atomically."""
    arrays = {**arrays, "state": np.array(json.dumps(state))}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path):
    """``(state, arrays)`` of a checkpoint written by :func:`save_checkpoint`."""
    with np.load(path, allow_pickle=False) as data:
        state = json.loads(str(data["state"]))
        arrays = {k: data[k] for k in data.files if k != "state"}
    return state, arrays


def read_state(path):
    """The training state of a checkpoint (its arrays are not read)."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["state"]))
