r"""LiteRT export of SDNet's network part (issue 21 item 5, docs/deployment.md section 8).

SDNet's ZF front end solves :math:`(\hat H^H\hat H + \epsilon I)x = \hat H^H y` with
``tf.linalg.solve`` (``MatrixSolve``) and inverts the Gram matrix for the noise deviations;
LiteRT has no builtin kernel for either. The export therefore keeps the front end **outside**
the LiteRT model, like the ``network`` parts of the unfolded detectors:

* in float (TensorFlow / numpy on the host): the input image and SNR feature
  (:func:`~kaq_sionna.detection.sdnet.sdnet_features`) and the residual's ZF app LLRs
  (:meth:`~kaq_sionna.detection.sdnet.SDNet.zf_llr`);
* in the LiteRT model: ``(image [B, 2Nt, 2+2Nr, 1], snr [B, 1]) -> correction [B, Nt, K]``, the
  convolutional front and the head (the network's learned part); the detector's LLRs are
  ``correction + zf_llr``.

**Quantization.** ``int8`` is full-integer post-training quantization of the network graph
(:func:`~kaq_sionna.deploy.convert.convert_graph`, all ops int8, inputs and outputs float32) with
1024 representative samples of the model's training task (seed
:data:`~kaq_sionna.deploy.targets.CALIBRATION_SEED`). The graph is the float network: a KAQ
site's per-sample step (eq. (15)) cannot be a static tensor scale, so every activation gets the
converter's calibrated static per-tensor scale instead; the TF twin it is checked against is the
model as trained, with its KAQ fake quantizers.

**Check** (:func:`check_sdnet_export`): 2000 channel uses of the task (seed
:data:`~kaq_sionna.deploy.check.CHECK_SEED`, Es/N0 drawn over the task's training range), the TF
twin's LLRs against ``LiteRT correction + zf_llr``, with the statistics and tolerances of
:mod:`kaq_sionna.deploy.check` (hard-decision agreement, relative mean LLR error after clipping
to +-20).
"""

import numpy as np
import tensorflow as tf

from kaq_sionna.deploy.check import CHECK_SEED, TOLERANCES, compare_outputs
from kaq_sionna.deploy.convert import convert_graph
from kaq_sionna.deploy.runtime import LiteRTModel
from kaq_sionna.deploy.targets import CALIBRATION_SEED
from kaq_sionna.detection.sdnet import sdnet_features
from kaq_sionna.quantization.adaptive import per_sample_snr

__all__ = ["SDNetNetworkGraph", "check_sdnet_export", "export_sdnet_network", "network_inputs"]


class SDNetNetworkGraph(tf.Module):
    """``serve(image, snr) -> {"correction": [B, num_tx, K]}``: the float network of ``det``
    (its conv front and head, without quantizer and without the ZF residual), its weights
    frozen as constants (``CONV_2D`` / ``FULLY_CONNECTED`` with fused ReLU)."""

    def __init__(self, det):
        super().__init__()
        self.num_tx, self.num_bits_per_symbol = det.num_tx, det.num_bits_per_symbol
        const = lambda v: tf.constant(v.numpy())  # noqa: E731
        self.convs = [(const(layer.kernel), const(layer.bias))
                      for layer in [*det.conv_layers, det.head_layers[0]]]
        self.denses = [(const(layer.kernel), const(layer.bias)) for layer in det.head_layers[1:]]
        rows, cols = 2 * det.num_tx, 2 + 2 * det.num_rx
        self.flat = rows * cols * det.head_reduce
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, rows, cols, 1], tf.float32, name="image"),
            tf.TensorSpec([None, 1], tf.float32, name="snr")])

    def _serve(self, image, snr):
        z = image
        for kernel, bias in self.convs:  # the front and head_reduce: same padding, ReLU
            z = tf.nn.relu(tf.nn.conv2d(z, kernel, 1, "SAME") + bias)
        z = tf.concat([tf.reshape(z, [-1, self.flat]), snr], -1)
        for i, (kernel, bias) in enumerate(self.denses):
            z = tf.matmul(z, kernel) + bias
            if i < len(self.denses) - 1:  # head_dense<i>: ReLU; head_out: linear
                z = tf.nn.relu(z)
        return {"correction": tf.reshape(z, [-1, self.num_tx, self.num_bits_per_symbol])}


def network_inputs(det, y, h, s):
    """``{"image", "snr"}`` (np.float32) of the exported network for ``y, h, s``."""
    image, snr = sdnet_features(y, h, s, det.zf_clip)
    return {"image": image.numpy(), "snr": snr.numpy()}


def _tf_twin(det, y, h, s):
    """The TF model's correction (with its quantizer) and LLRs, and the ZF LLRs."""
    image, snr = sdnet_features(y, h, s, det.zf_clip)
    q_snr = None
    if det.quantizer is not None and det.quantizer.needs_snr:
        q_snr = per_sample_snr(tf.cast(h, tf.complex64), tf.cast(s, tf.complex64))
    corr, _ = det.network(image, snr, q_snr)
    zf = det.zf_llr(y, h, s) if det.residual else tf.zeros_like(corr)
    return corr.numpy(), (corr + zf).numpy(), zf.numpy()


def export_sdnet_network(det, task, precision="int8", num_calib=1024, batch_size=64):
    """The LiteRT flatbuffer (bytes) of ``det``'s network in ``precision`` ("fp32", "fp16",
    "int8"); ``task`` (:class:`~kaq_sionna.training.sdnet_tasks.Task`) supplies the int8
    representative dataset."""
    from kaq_sionna.training.sdnet_tasks import task_batch

    graph = SDNetNetworkGraph(det)
    representative = None
    if precision == "int8":
        y, h, s, _ = task_batch(task, num_calib, CALIBRATION_SEED)
        inputs = network_inputs(det, y, h, s)

        def representative():
            for i in range(0, num_calib, batch_size):
                yield {k: v[i:i + batch_size] for k, v in inputs.items()}

    return convert_graph(graph, precision, representative)


def check_sdnet_export(det, task, model_content, precision, num_samples=2000, seed=CHECK_SEED,
                       snr_db=None):
    """Agreement of an exported network with its TF twin (module docstring).

    Output
    ------
    : dict
        ``{"precision", "num_samples", "seed", "snr_db", "stats": {"llr": ..., "correction":
        ...}, "tolerance", "within_tolerance"}``.
    """
    from kaq_sionna.training.sdnet_tasks import task_batch

    y, h, s, _ = task_batch(task, num_samples, seed, snr_db=snr_db)
    corr, llr, zf = _tf_twin(det, y, h, s)
    model = LiteRTModel(model_content=model_content, num_threads=1)
    inputs = network_inputs(det, y, h, s)
    got = [model(**{k: v[i:i + 1024] for k, v in inputs.items()})["correction"]
           for i in range(0, num_samples, 1024)]
    got = np.concatenate(got)
    stats = compare_outputs({"llr": llr, "correction": corr}, {"llr": got + zf,
                                                               "correction": got})
    tol = TOLERANCES[precision]
    within = (stats["llr"]["hard_agreement"] >= tol["agreement"]
              and stats["llr"]["rel_err_mean"] <= tol["rel_err_mean"])
    return {"precision": precision, "num_samples": num_samples, "seed": seed,
            "snr_db": snr_db, "stats": stats,
            "tolerance": {k: tol[k] for k in ("agreement", "rel_err_mean")},
            "within_tolerance": bool(within)}
