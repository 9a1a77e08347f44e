r"""Checks an exported model against its TensorFlow twin on the same inputs.

:func:`check_export` draws ``num_samples`` inputs from the model's training
distribution (seeded, not the calibration seed), runs the TF model and the
LiteRT model and reports, for the primary output:

* LLR outputs (``detector``, ``estimation``, ``decoder``): the **hard-decision
  agreement** (fraction of bits with the same sign of the LLR, i.e. the same
  hard decision ``llr > 0``) and the **LLR error** ``|llr_litert - llr_tf|``
  (mean, 99th percentile, max; also relative to the mean ``|llr_tf|``), both
  LLRs first clipped to :data:`LLR_CLIP` = 20 (an LDPC decoder's input clip:
  beyond it, differences carry no information). The raw estimate ``x_hat`` of
  the unfolded detectors gets the same error statistics.
* Codes (``encoder``): the fraction of identical codes, and the error of the latent ``z``.

Tolerances (:data:`TOLERANCES`), per export precision, on the primary output:
hard-decision agreement at least, relative mean LLR error at most (codes:
exact agreement for fp32 / fp16, agreement within one codebook level for int8):

=========  =========  ===============  =============================================================
precision  agreement  rel. LLR error   why
=========  =========  ===============  =============================================================
fp32       0.999      0.005            the same float32 arithmetic in another order (and other
                                       ``tanh`` / ``exp`` kernels): a bit flips only when its LLR
                                       is within rounding of 0 or a value sits at a quantizer's
                                       rounding tie; near-saturated soft bits (EQ-Net) turn ulps
                                       into LLR differences of up to ~0.1
fp16       0.99       0.02             fp16 weights: parameters rounded to 11 significant bits
                                       (the learned steps of a quantized model move its grid)
int8       0.90       0.50             int8 activations in the whole network: each intermediate
                                       tensor is rounded to 1/255 of its calibrated range. The
                                       bound admits the measured cost of the shipped models
                                       (agreement 0.94-0.99, ``docs/deployment.md``) and rejects
                                       a broken export (0.61-0.72 with ``--int8-everywhere``)
int8 codes 0.99 within one level       the int8 hidden layers move the latent by about 0.004 on
                                       average (eqnet-l-4x4-16qam), a fraction of the spacing of
                                       the codebook levels, so codes move by one level at most
=========  =========  ===============  =============================================================

The BER of an export (:func:`ber_table`) is the other half of the answer:
hard-decision BER of the LiteRT model, of its TF twin and of the fp32-trained
model of the same family at fixed Es/N0 points.
"""

import time

import numpy as np

from kaq_sionna.deploy.runtime import LiteRTModel

__all__ = ["CHECK_SEED", "LLR_CLIP", "TOLERANCES", "ber_table", "check_export",
           "compare_outputs", "format_check"]

LLR_CLIP = 20.0
CHECK_SEED = 4242
TOLERANCES = {"fp32": {"agreement": 0.999, "rel_err_mean": 5e-3},
              "fp16": {"agreement": 0.99, "rel_err_mean": 2e-2},
              "int8": {"agreement": 0.90, "rel_err_mean": 0.5, "agreement_within_1": 0.99}}


def _run(model, inputs, batch_size=1024):
    n = len(next(iter(inputs.values())))
    outs = [model(**{k: v[i:i + batch_size] for k, v in inputs.items()})
            for i in range(0, n, batch_size)]
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def _errors(ref, got, clip=None):
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    if clip is not None:
        ref, got = np.clip(ref, -clip, clip), np.clip(got, -clip, clip)
    err = np.abs(got - ref)
    scale = float(np.mean(np.abs(ref)))
    return {"abs_err_mean": float(err.mean()), "abs_err_p99": float(np.percentile(err, 99)),
            "abs_err_max": float(err.max()), "ref_abs_mean": scale,
            "rel_err_mean": float(err.mean() / scale) if scale > 0 else float(err.mean())}


def compare_outputs(reference, outputs):
    """Agreement and error statistics of every output (module docstring).

    Input
    -----
    reference, outputs : dict of np.ndarray
        TF and LiteRT outputs (same keys and shapes).

    Output
    ------
    : dict
        Per output name a dict of statistics; ``llr`` has ``hard_agreement``,
        ``codes`` has ``agreement`` and ``mean_abs_level_diff``.
    """
    stats = {}
    for key, ref in reference.items():
        got = outputs[key]
        if got.shape != ref.shape:
            raise ValueError(f"output {key!r}: LiteRT shape {got.shape} differs from TF "
                             f"shape {ref.shape}")
        if key == "codes":
            diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
            stats[key] = {"agreement": float(np.mean(diff == 0)),
                          "agreement_within_1": float(np.mean(diff <= 1)),
                          "mean_abs_level_diff": float(np.mean(diff))}
        elif key == "llr":
            stats[key] = {"hard_agreement": float(np.mean((got > 0) == (ref > 0))),
                          **_errors(ref, got, LLR_CLIP), "clip": LLR_CLIP}
        else:
            stats[key] = _errors(ref, got)
    return stats


def check_export(target, model_content, precision, num_samples=2000, seed=CHECK_SEED,
                 num_threads=1):
    r"""Compares an exported model with its TF twin on the same inputs.

    Parameters
    ----------
    target : :class:`~kaq_sionna.deploy.targets.ExportTarget`
    model_content : bytes
        The LiteRT flatbuffer.
    precision : "fp32" | "fp16" | "int8"
        Selects the tolerance.
    num_samples : int
        Channel uses drawn from the training distribution.
    seed : int
    num_threads : int

    Output
    ------
    : dict
        ``model``, ``part``, ``precision``, ``num_samples``, ``seed``, ``outputs``
        (:func:`compare_outputs`), ``primary`` (output name), ``tolerance``,
        ``passed`` (bool), ``ops`` (op types by output dtype), ``delegation``
        (XNNPACK partitions and the ops left to the builtin kernels,
        :meth:`~kaq_sionna.deploy.runtime.LiteRTModel.delegation`), ``memory``.
    """
    sample = target.sample(num_samples, seed)
    model = LiteRTModel(model_content, num_threads=num_threads)
    outputs = _run(model, sample.inputs)
    stats = compare_outputs(sample.reference, outputs)
    primary = "codes" if "codes" in stats else ("llr" if "llr" in stats else "x_hat")
    tol = dict(TOLERANCES[precision])
    s = stats[primary]
    within = tol.pop("agreement_within_1", None)
    if primary == "codes":
        tol = {"agreement": tol["agreement"]} if within is None else {
            "agreement_within_1": within}
        passed = all(s[k] >= v for k, v in tol.items())
    elif primary == "llr":
        passed = s["hard_agreement"] >= tol["agreement"] and s["rel_err_mean"] <= tol[
            "rel_err_mean"]
    else:
        tol = {"rel_err_mean": tol["rel_err_mean"]}
        passed = s["rel_err_mean"] <= tol["rel_err_mean"]
    # NaN compares false with every tolerance, so non-finite outputs must fail explicitly
    non_finite = {side: bad for side, bad in (("tf", _non_finite(sample.reference)),
                                              ("export", _non_finite(outputs))) if bad}
    return {"model": target.name, "part": target.part, "precision": precision,
            "num_samples": int(num_samples), "seed": int(seed),
            "inputs": "training distribution of the model (kaq_sionna.deploy.data)",
            "outputs": stats, "primary": primary, "tolerance": tol,
            "passed": bool(passed) and not non_finite, "non_finite": non_finite,
            "ops": model.op_summary(), "delegation": model.delegation(),
            "memory": model.memory()}


def _non_finite(outputs):
    """``{output name: number of NaN / inf values}`` of the float outputs that have any."""
    out = {}
    for name, value in outputs.items():
        arr = np.asarray(value)
        if arr.dtype.kind in "fc":
            bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            if bad:
                out[name] = bad
    return out


def ber_table(target, model_content, snr_db, num_samples=20000, seed=CHECK_SEED + 1,
              num_threads=1, stream=None):
    r"""Uncoded hard-decision BER of the exported model, its TF twin and the fp32-trained
    model of the same family, at fixed Es/N0 (same channel uses for all three).

    Parameters
    ----------
    target : :class:`~kaq_sionna.deploy.targets.ExportTarget`
        A ``detector`` or ``estimation`` target.
    model_content : bytes
    snr_db : list of float
        Es/N0 points in dB.
    num_samples : int
        Channel uses per point (``num_samples * num_tx * num_bits_per_symbol`` bits).
    seed : int
    num_threads : int
    stream : file or None
        Progress lines.

    Output
    ------
    : list of dict
        Per point: ``snr_db``, ``num_bits``, ``ber_litert``, ``ber_tf``, ``ber_fp32``
        (`None` without an fp32 twin), ``fp32_model``, ``hard_agreement``, ``seconds``.
    """
    if target.part not in ("detector", "estimation"):
        raise ValueError(f"a BER needs a detector export, not the {target.part!r} part")
    from kaq_sionna.deploy.targets import ExportTarget

    model = LiteRTModel(model_content, num_threads=num_threads)
    twin_name = target.fp32_twin_name
    twin = ExportTarget(twin_name) if twin_name else None
    rows = []
    for i, snr in enumerate(snr_db):
        start = time.perf_counter()
        sample = target.sample(num_samples, seed + i, snr_db=float(snr))
        out = _run(model, sample.inputs)
        bits = sample.bits

        def ber(llr, bits=bits):
            return float(np.mean((llr > 0) != (bits > 0)))

        row = {"snr_db": float(snr), "num_bits": int(bits.size),
               "ber_litert": ber(out["llr"]), "ber_tf": ber(sample.reference["llr"]),
               "ber_fp32": None, "fp32_model": twin_name,
               "hard_agreement": float(np.mean((out["llr"] > 0) ==
                                               (sample.reference["llr"] > 0)))}
        if twin is not None:
            row["ber_fp32"] = ber(twin.sample(num_samples, seed + i, snr_db=float(snr))
                                  .reference["llr"])
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        if stream is not None:
            print(f"  Es/N0 {snr:5.1f} dB: BER LiteRT {row['ber_litert']:.4f}, TF "
                  f"{row['ber_tf']:.4f}" + (f", fp32 {row['ber_fp32']:.4f}"
                                           if row["ber_fp32"] is not None else ""),
                  file=stream, flush=True)
    return rows


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def format_check(report, ber_rows=None):
    """Human-readable text of a :func:`check_export` report (and :func:`ber_table` rows)."""
    lines = [f"check: {report['model']} [{report['part']}] {report['precision']} LiteRT vs TF, "
             f"{report['num_samples']} channel uses from the training distribution "
             f"(seed {report['seed']})"]
    for key, s in report["outputs"].items():
        lines.append(f"  {key:>6}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in s.items()))
    tol = ", ".join(f"{k} {'>=' if k.startswith('agreement') else '<='} {v}"
                    for k, v in report["tolerance"].items())
    lines.append(f"  tolerance ({report['precision']}, on {report['primary']}): {tol} -> "
                 + ("PASSED" if report["passed"] else "FAILED"))
    for side, bad in report.get("non_finite", {}).items():
        what = "the exported model" if side == "export" else "the TF model"
        lines.append(f"  FAILED: {what} gives non-finite outputs (NaN or inf): "
                     + ", ".join(f"{k} {v} values" for k, v in bad.items()))
    mem = report["memory"]
    lines.append(f"  file {mem['file_bytes']} B, weights {mem['weights_bytes']} B "
                 f"({mem['weights_runtime_bytes']} B at run time), activations "
                 f"{mem['activations_bytes_per_cu']:.0f} B per channel use (peak live)")
    for dtype, ops in report["ops"].items():
        lines.append(f"  ops with {dtype} output: " + ", ".join(f"{k} {v}"
                                                                 for k, v in ops.items()))
    dlg = report.get("delegation")
    if dlg:
        left = ", ".join(f"{k} {v} ({dtype})" for dtype, ops in dlg["undelegated"].items()
                         for k, v in ops.items()) or "none"
        lines.append(f"  XNNPACK: {dlg['delegated_ops']} of {dlg['total_ops']} ops in "
                     f"{dlg['partitions']} partition(s); builtin kernels: {left}")
    if ber_rows:
        lines.append("  uncoded BER (hard decisions, same channel uses):")
        lines.append("    Es/N0 [dB] | LiteRT | TF twin | fp32 model | agreement | bits")
        for r in ber_rows:
            fp32 = "-" if r["ber_fp32"] is None else f"{r['ber_fp32']:.4f}"
            lines.append(f"    {r['snr_db']:10.1f} | {r['ber_litert']:.4f} | {r['ber_tf']:.4f} "
                         f"| {fp32} | {r['hard_agreement']:.4f} | {r['num_bits']}")
    return "\n".join(lines)
