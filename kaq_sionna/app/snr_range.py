"""Warns when a trained detector is swept outside the SNR range it was trained on.

A shipped model's (or a model folder's) ``config.json`` records its training SNR as Es/N0 in dB:
``training_snr_db = [lo, hi]`` (PGD-Net / ADMM-Net, drawn uniformly in the range) or
``training_snr_esno_db = [...]`` (EQ-Net, the values of its data). A sweep point is outside the
range when its Es/N0 (``-10 log10(N0)``, unit-energy constellations, docs/conventions.md; the
link converts Eb/N0 with its own code rate) lies below the smallest or above the largest training
value. The sweep says so once per curve, in its progress output and in ``results.json``
(``warnings``).
"""

import json
import math
from pathlib import Path

from kaq_sionna import pretrained

__all__ = ["training_esno_range", "out_of_range_warning"]


def _config_of(name, params):
    if params.get("path"):
        try:
            return json.loads((Path(params["path"]) / "config.json").read_text())
        except (OSError, ValueError):
            return None
    try:
        return pretrained.config(name)  # this model's config only, not the whole catalogue
    except (KeyError, OSError, ValueError):
        return None


def training_esno_range(name, params):
    """``(lo, hi)`` Es/N0 in dB the detector ``name`` was trained on, or `None` (not a trained
    model, or its config records no training SNR)."""
    config = _config_of(name, params or {})
    if not isinstance(config, dict):
        return None
    values = config.get("training_snr_db") or config.get("training_snr_esno_db")
    if not values:
        return None
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return min(values), max(values)


def out_of_range_warning(label, name, params, link, snr_db):
    """The warning text for a curve whose grid ``snr_db`` leaves the training range of its
    detector, or `None`. ``link.snr_to_no`` converts the grid to Es/N0."""
    span = training_esno_range(name, params)
    to_no = getattr(link, "snr_to_no", None) or getattr(getattr(link, "base_link", None),
                                                       "snr_to_no", None)
    if span is None or to_no is None or not snr_db:
        return None
    esno = [-10.0 * math.log10(float(to_no(float(s)))) for s in snr_db]
    outside = [s for s, e in zip(snr_db, esno, strict=True)
               if e < span[0] - 1e-6 or e > span[1] + 1e-6]
    if not outside:
        return None
    return (f"{label}: {len(outside)} of {len(snr_db)} SNR points lie outside the Es/N0 range "
            f"the model was trained on ({span[0]:g} to {span[1]:g} dB; the grid spans "
            f"{min(esno):.1f} to {max(esno):.1f} dB Es/N0): expect it to be off its design there")
