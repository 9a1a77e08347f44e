r"""``kaq-sionna export``: a shipped model to a LiteRT (TFLite flatbuffer) file.

:func:`export_model` builds the model's export graph
(:class:`~kaq_sionna.deploy.targets.ExportTarget`), converts it
(:func:`~kaq_sionna.deploy.convert.convert_graph`) and returns the flatbuffer;
:func:`write_model` writes it atomically. Precision ``"auto"`` is ``"int8"``
for PGD-Net / ADMM-Net trained with quantized activations (qat-mse, kaq) and
``"fp32"`` otherwise; any model can be exported in any of fp32, fp16 and int8
(an int8 export of an fp32-trained model is plain post-training quantization).

What stays in float in an int8 detector, and why:

* the soft-output head (linearisation, LLR variance, demapping: ``DIV``,
  ``EXP``, ``LOG``, ``REDUCE_MAX``, ...): divisions by data-dependent
  variances and log-sum-exps over a wide range, which one int8 scale per
  tensor cannot resolve;
* KAQ's SNR-adaptive step (eq. (15)) and the rescaling by it: a per-sample
  step cannot be a tensor's static scale, so the site is int8 integer levels
  (scale 1) times a float per-sample step;
* ADMM-Net's :math:`(\mathbf H^{\mathsf T}\mathbf H+\rho_k\mathbf I)^{-1}`
  (Gauss-Jordan, divisions) and the x-update product with it: its entries reach
  :math:`1/\rho_k` (43 for admmnet-kaq4, :math:`\rho_2 = e^{-3.75}`), which one
  per-tensor int8 scale cannot cover together with the typical entries;
* the proximal step ``r - clip(r, -lambda, lambda)``, its 0/1 slope and the
  offset of the soft output: XNNPACK has no int8 ``ABS`` / ``MINIMUM`` /
  ``MAXIMUM`` / ``SIGN`` (they would run on the builtin kernels and split the
  delegated graph), and with the product ``sign(r) * relu(|r| - lambda)`` in int8
  the converter gave it a calibrated range orders of magnitude too wide in the
  network-only export of pgdnet-kaq4 (seen in the tensors' scales during
  development; that export then failed its tolerance);
* complex arithmetic does not exist in the export at all (real-valued model).

``int8_everywhere=True`` (``--int8-everywhere``) quantizes all of these too, for
comparison: pgdnet-kaq8 then agrees with its TF twin on 72% of the hard
decisions and admmnet-kaq4 on 61% (``docs/deployment.md``).

4-bit models: LiteRT has no activation type below int8 (a 4-bit
``FakeQuant`` does not convert), so 4-bit sites are int8 tensors of scale
:math:`\Delta` restricted to the 15 levels -7..7: the same values as the
TF model's sites, but as large and as fast as 8-bit.
"""

import os
from pathlib import Path

from kaq_sionna.core.atomic_io import atomic_write_bytes
from kaq_sionna.deploy.convert import PRECISIONS, convert_graph
from kaq_sionna.deploy.targets import ExportTarget

__all__ = ["CALIBRATION_SAMPLES", "check_writable", "export_model", "write_model"]

#: Channel uses in the representative dataset of an int8 export.
CALIBRATION_SAMPLES = 1024


def resolve_precision(target, precision):
    """``precision`` with ``"auto"`` resolved (module docstring); ``ValueError`` if unknown."""
    if precision == "auto":
        return target.default_precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected auto or one of {', '.join(PRECISIONS)}, "
                         f"found {precision!r}")
    return precision


def export_model(name, precision="auto", part=None, calibration_samples=CALIBRATION_SAMPLES,
                 target=None, int8_everywhere=False):
    r"""Exports a shipped model (one part of it) to a LiteRT flatbuffer.

    Parameters
    ----------
    name : str
        Pretrained model name (``kaq-sionna list``).
    precision : "auto" | "fp32" | "fp16" | "int8"
    part : None | str
        See :mod:`kaq_sionna.deploy.targets` (default: ``detector`` / ``estimation``).
    calibration_samples : int
        Representative dataset size of an int8 export (channel uses of the
        model's training distribution).
    target : :class:`~kaq_sionna.deploy.targets.ExportTarget` or None
        Reuse an already loaded target.
    int8_everywhere : bool
        int8: quantize every op the converter can, without the float islands
        listed in the module docstring (to measure what they are for).

    Output
    ------
    target : :class:`~kaq_sionna.deploy.targets.ExportTarget`
    precision : str
        The resolved precision.
    content : bytes
        The flatbuffer.

    Raises
    ------
    KeyError
        Unknown model name.
    ValueError
        Bad part or precision.
    """
    target = target or ExportTarget(name, part)
    precision = resolve_precision(target, precision)
    representative = None
    if precision == "int8":
        n = calibration_samples
        if target.model_type == "eqnet" and target.part != "estimation":
            n = min(n, 512)  # the ML soft-bit source is costly
        representative = target.representative(n)
    is_int8 = None if int8_everywhere else target.is_int8
    content = convert_graph(target.graph(precision), precision, representative, is_int8)
    return target, precision, content


def check_writable(path, option="--out"):
    """Raises ``OSError`` with a clear message (naming ``option``) if ``path`` cannot be
    written as a file; creates its folder if needed."""
    path = Path(path)
    if path.is_dir():
        raise OSError(f"{option} {path}: is a directory, expected a file name")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"{option} {path}: cannot create the folder {parent} "
                      f"({err.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise OSError(f"{option} {path}: the folder {parent} is not writable")


def write_model(path, content):
    """Writes the flatbuffer atomically (temporary file + rename)."""
    check_writable(path)
    atomic_write_bytes(path, content)
