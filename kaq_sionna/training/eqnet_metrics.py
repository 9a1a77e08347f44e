r"""Evaluation of an EQ-Net on a soft-bit data set (EQ-Net paper, eq. (15)): the validation after
every training epoch and the test metrics of a trained model.

The paths of the model are run as ``tf.function`` graphs in batches of :data:`EVAL_BATCH`
channel uses (:func:`inference_paths`, :func:`batched`).

References
----------
M. Arvinte, J. I. Tamir, "EQ-Net: Joint Deep Learning-Based Log-Likelihood Ratio Estimation and Quantization", EURASIP J. Wireless Commun. Netw., 2022 (the EQ-Net paper).
"""

import numpy as np
import tensorflow as tf

from kaq_sionna.softbits.eqnet import feature_loss, softbit_distortion

__all__ = ["EVAL_BATCH", "batched", "evaluate", "inference_paths", "validation_metrics"]

EVAL_BATCH = 8192


def batched(fn, n, *arrays):
    """``fn`` on the first ``n`` rows of ``arrays`` in batches of :data:`EVAL_BATCH`, the
    outputs concatenated (numpy)."""
    out = [fn(*(tf.constant(a[i:i + EVAL_BATCH]) for a in arrays)).numpy()
           for i in range(0, n, EVAL_BATCH)]
    return np.concatenate(out, 0)


def inference_paths(model):
    r"""The paths of ``model`` as ``tf.function`` graphs: ``quant`` :math:`g_Q(f_Q(\cdot))`,
    ``est`` the estimated soft bits :math:`g_Q(f_E(\cdot))`, ``feat`` :math:`f_Q`, ``fe``
    :math:`f_E`, ``qq`` the codebook-quantized path from LLRs."""
    return {
        "quant": tf.function(lambda sb: model.decode(model.encode(sb)), reduce_retracing=True),
        "est": tf.function(lambda y, h, s: model.estimate_softbits(y, h, s),
                           reduce_retracing=True),
        "feat": tf.function(lambda sb: model.encode(sb), reduce_retracing=True),
        "fe": tf.function(lambda y, h, s: model.estimate_features(y, h, s),
                          reduce_retracing=True),
        "qq": tf.function(lambda llr: model.decode(model.codebook.decode(model.compress(llr))),
                          reduce_retracing=True),
    }


def _distortion(target, est, eps):
    return softbit_distortion(tf.constant(target), tf.constant(est), eps).numpy()


def validation_metrics(paths, ds, z, eps, stage, feature_kind):
    """The validation entries of an epoch of ``stage``: mean distortion eq. (15) of the
    estimation path (``val_distortion_est``), of the quantization path except in the
    single-stage baseline (``val_distortion_quant``), and in stage 2 the feature loss
    against the targets ``z`` (``val_feature_loss``)."""
    n = len(ds)
    s = ds.s()
    est = batched(paths["est"], n, ds.y, ds.h, s)
    out = {"val_distortion_est": float(np.mean(_distortion(ds.softbits, est, eps)))}
    if stage != "single":
        rec = batched(paths["quant"], n, ds.softbits)
        out["val_distortion_quant"] = float(np.mean(_distortion(ds.softbits, rec, eps)))
    if stage == 2:
        z_hat = batched(paths["fe"], n, ds.y, ds.h, s)
        out["val_feature_loss"] = float(np.mean(feature_loss(z, z_hat, feature_kind).numpy()))
    return out


def evaluate(model, ds, epsilon=1e-3, single_stage=False):
    """Test metrics of a trained EQ-Net on a
    :class:`~kaq_sionna.training.eqnet_data.SoftBitDataset`.

    Output
    ------
    : dict
        ``distortion`` (mean eq. (15) of the estimation path, the quantization
        path without and with the codebooks, and of all-zero soft bits) and
        ``ber_esno_db`` (per SNR: hard-decision BER of the estimated soft bits
        ``ber``, of the source ``ber_source``, of the quantized source soft bits
        ``ber_quantized``, and the distortions at that SNR).
    """
    paths = inference_paths(model)
    n = len(ds)
    est = batched(paths["est"], n, ds.y, ds.h, ds.s())
    d_est = _distortion(ds.softbits, est, epsilon)
    d_zero = _distortion(ds.softbits, np.zeros_like(ds.softbits), epsilon)
    d_rec = d_q = qsb = None
    if not single_stage:
        d_rec = _distortion(ds.softbits, batched(paths["quant"], n, ds.softbits), epsilon)
    if model.codebook is not None:
        llr = 2.0 * np.arctanh(np.clip(ds.softbits, -1 + 1e-7, 1 - 1e-7))
        qsb = batched(paths["qq"], n, llr.astype(np.float32))
        d_q = _distortion(ds.softbits, qsb, epsilon)

    def mean(x, idx):
        return None if x is None else float(np.mean(x[idx]))

    def ber(sb, idx):
        return None if sb is None else float(np.mean((sb[idx] > 0) != (ds.bits[idx] == 1)))

    every = np.arange(n)
    out = {"num_samples": n,
           "distortion": {"estimation": mean(d_est, every),
                          "quantization_unquantized": mean(d_rec, every),
                          "quantization": mean(d_q, every),
                          "zero_softbits": mean(d_zero, every)},
           "ber_esno_db": {}}
    for si, snr in enumerate(ds.snr_db):
        idx = np.flatnonzero(ds.snr_index == si)
        out["ber_esno_db"][f"{snr:g}"] = {
            "ber": ber(est, idx), "ber_source": ber(ds.softbits, idx),
            "ber_quantized": ber(qsb, idx), "distortion_estimation": mean(d_est, idx),
            "distortion_quantization": mean(d_q, idx),
            "num_bits": int(idx.size * ds.bits[0].size)}
    return out
