r"""Conversion of an export graph to a LiteRT (TFLite flatbuffer) model in fp32, fp16 or int8.

``tf.lite.TFLiteConverter`` of TensorFlow 2.19 does the conversion:

``"fp32"``
    Plain conversion, float32 weights and activations.
``"fp16"``
    Float16 *weights* (``target_spec.supported_types = [tf.float16]``); the CPU
    runtime de-quantizes them to float32 at load time and computes in float32
    (float16 arithmetic only happens on GPU delegates). Size halves, speed does not change.
``"int8"``
    Post-training integer quantization: every op whose output tensor
    :func:`is_int8` accepts gets int8 activations (per-tensor affine scale and
    zero point) and int8 weights, with ranges measured on a *representative
    dataset* drawn from the model's own training distribution
    (:mod:`kaq_sionna.deploy.data`). ``FakeQuantWithMinMaxArgs`` ops already
    in the graph (the learned activation steps of a quantized unfolded
    detector) fix their tensors' scales instead of the measured ranges. The
    other ops stay in float32 (the graph modules say which and why);
    ``QUANTIZE`` / ``DEQUANTIZE`` ops join the two. Inputs and outputs stay
    float32 (the model quantizes its inputs itself). The selective
    quantization uses TF's public (experimental)
    ``tf.lite.experimental.QuantizationDebugger`` with ``denylisted_nodes``.
"""

import contextlib
import os
import warnings

import tensorflow as tf

from kaq_sionna.core.quiet_tf import stderr_silenced

__all__ = ["PRECISIONS", "convert_graph", "tensor_names"]

PRECISIONS = ("fp32", "fp16", "int8")


@contextlib.contextmanager
def _quiet():
    # The converter logs MLIR passes and the deprecated tf.lite.Interpreter it uses for
    # calibration warns; none of it is actionable for the user.
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        with warnings.catch_warnings(), stderr_silenced():
            warnings.simplefilter("ignore")
            yield
    finally:
        if level is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = level


def _converter(graph):
    fn = graph.serve.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([fn], graph)


def tensor_names(model_content):
    """Names of the tensors produced by the ops of a LiteRT model (its "nodes").

    Input
    -----
    model_content : bytes

    Output
    ------
    : list of str
    """
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_content)
    details = {t["index"]: t["name"] for t in it.get_tensor_details()}
    return sorted({details[i] for op in it._get_ops_details() for i in op["outputs"]
                   if i in details})


def convert_graph(graph, precision, representative=None, is_int8=None):
    r"""Converts an export graph (a ``tf.Module`` with a ``serve`` ``tf.function``).

    Parameters
    ----------
    graph : :class:`~kaq_sionna.deploy.unfolded_graph.UnfoldedExportGraph` | :class:`~kaq_sionna.deploy.eqnet_graph.EQNetExportGraph`
    precision : "fp32" | "fp16" | "int8"
    representative : callable or None
        ``representative()`` yields dicts ``{input name: np.ndarray}`` (a few
        batches); required for ``"int8"``.
    is_int8 : callable or None
        ``is_int8(tensor_name) -> bool``: which ops an ``"int8"`` model quantizes
        (default: all that TFLite can).

    Output
    ------
    : bytes
        The TFLite flatbuffer.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, found {precision!r}")
    with _quiet():
        conv = _converter(graph)
        if precision == "fp32":
            return conv.convert()
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if precision == "fp16":
            conv.target_spec.supported_types = [tf.float16]
            return conv.convert()
        if representative is None:
            raise ValueError("an int8 conversion needs a representative dataset")
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                          tf.lite.OpsSet.TFLITE_BUILTINS]
        if is_int8 is None:
            return conv.convert()
        denylist = [n for n in tensor_names(_converter(graph).convert()) if not is_int8(n)]
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist)
        first = next(iter(representative()))
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=lambda: iter([list(first.values())]),
            debug_options=options)
        return debugger.get_nondebug_quantized_model()
