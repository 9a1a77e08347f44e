r"""What can be exported: a shipped model (or one part of it), its export graph, the
data it is calibrated and checked on, and its TensorFlow twin.

:func:`export_target` resolves a pretrained name (``kaq-sionna list``) and a part:

==========================  ============  =======================================================
model                       part          exported function
==========================  ============  =======================================================
``pgdnet-*``, ``admmnet-*``  ``detector``  ``(y_real, h_real, s_real) -> llr, x_hat``
                            ``network``   ``(y_real, h_real, s_real) -> x_hat`` (no soft output)
``eqnet-*``                 ``estimation`` ``(y_real, h_real, s_real) -> llr`` (f_E + g_Q)
                            ``encoder``   ``llr -> codes, z`` (f_Q + codebooks)
                            ``decoder``   ``codes -> llr`` (codebooks + g_Q)
==========================  ============  =======================================================

A target's :meth:`~ExportTarget.sample` draws inputs from the model's training
distribution (:mod:`kaq_sionna.deploy.data`) and runs the TF model on them: the
reference the exported model is checked against.
"""

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from kaq_sionna import pretrained
from kaq_sionna.deploy.data import draw_channel_uses
from kaq_sionna.deploy.eqnet_graph import EQNetExportGraph
from kaq_sionna.deploy.unfolded_graph import UnfoldedExportGraph, is_int8_node
from kaq_sionna.quantization.modes import STEP_MODES
from kaq_sionna.registry import load_pretrained

__all__ = ["CALIBRATION_SEED", "PARTS", "ExportTarget", "Sample", "export_target"]

#: Parts per model type; the first is the default.
PARTS = {"pgdnet": ("detector", "network"), "admmnet": ("detector", "network"),
         "eqnet": ("estimation", "encoder", "decoder")}
#: Seed of the representative (calibration) dataset; checks use other seeds.
CALIBRATION_SEED = 20260101
_CHUNK = 256


class Sample(NamedTuple):
    """Inputs of the exported model and what the TF model returns for them.

    Attributes
    ----------
    inputs : dict of np.ndarray, the exported model's inputs
    reference : dict of np.ndarray, the TF model's outputs (same keys as the export's)
    bits : None or [batch, num_tx, num_bits_per_symbol] np.int8, transmitted bits
    """

    inputs: dict
    reference: dict
    bits: np.ndarray = None


class ExportTarget:
    """A shipped model (one part of it) ready to be exported and checked.

    Parameters
    ----------
    name : str
        Pretrained model name.
    part : str or None
        See the module docstring (`None`: the model type's default).

    Raises
    ------
    KeyError
        Unknown model name (the message lists the shipped models).
    ValueError
        A part the model does not have.
    """

    def __init__(self, name, part=None):
        models = pretrained.available()
        if name not in models:
            shipped = ", ".join(sorted(models)) or "none yet"
            raise KeyError(f"no pretrained model named {name!r}; shipped models: {shipped}")
        self.name, self.config = name, models[name]
        self.model_type = self.config.get("model")
        if self.model_type not in PARTS:
            raise ValueError(f"model {name!r} has type {self.model_type!r}; exportable types: "
                             f"{', '.join(PARTS)}")
        part = part or PARTS[self.model_type][0]
        if part not in PARTS[self.model_type]:
            raise ValueError(f"part: expected one of {', '.join(PARTS[self.model_type])} for "
                             f"{self.model_type} model {name!r}, found {part!r}")
        self.part = part
        self.model = load_pretrained(name, **({"precision": "single"}
                                              if self.model_type != "eqnet" else {}))
        system = self.config["system"]
        self.num_tx, self.num_rx = system["num_tx"], system["num_rx"]
        self.num_bits_per_symbol = system["num_bits_per_symbol"]
        self._source = None
        self._fns = {}

    # ------------------------------------------------------------------ properties
    @property
    def trained_quantized(self):
        """Whether the model was trained with quantized activations (qat-mse, kaq, ptq)."""
        q = (self.config.get("layer") or {}).get("quantizer")
        return self.model_type != "eqnet" and q is not None and q.get("mode") in STEP_MODES

    @property
    def default_precision(self):
        """``"int8"`` for a model trained with quantized activations, else ``"fp32"``."""
        return "int8" if self.trained_quantized else "fp32"

    @property
    def fp32_twin_name(self):
        """The shipped fp32-trained model of the same family and system, or `None`."""
        if self.model_type == "eqnet":
            return None
        parts = self.name.split("-")
        twin = "-".join([parts[0], "fp32", *parts[2:]])
        return twin if twin != self.name and twin in pretrained.available() else None

    # ------------------------------------------------------------------ graphs
    def graph(self, precision):
        """The export graph for ``precision`` (``"int8"`` writes learned steps as FakeQuant)."""
        if self.model_type == "eqnet":
            return EQNetExportGraph(self.model, self.part, int8=precision == "int8")
        site_ops = "fakequant" if precision == "int8" else "float"
        outputs = "llr" if self.part == "detector" else "estimate"
        return UnfoldedExportGraph(self.model, self.num_tx, self.num_rx, site_ops, outputs)

    def is_int8(self, tensor_name):
        """Which ops an int8 export quantizes (by the name of their output tensor)."""
        return is_int8_node(tensor_name)

    # ------------------------------------------------------------------ data
    def _tf(self, key, fn):
        if key not in self._fns:
            self._fns[key] = tf.function(fn)
        return self._fns[key]

    def _chunked(self, key, fn, *args):
        f = self._tf(key, fn)
        n = int(args[0].shape[0])
        outs = [f(*(a[i:i + _CHUNK] for a in args)) for i in range(0, n, _CHUNK)]
        if isinstance(outs[0], dict):
            return {k: np.concatenate([o[k].numpy() for o in outs]) for k in outs[0]}
        return np.concatenate([o.numpy() for o in outs])

    def _source_llr(self, draw):
        """LLRs of EQ-Net's training soft-bit source (exact ML for the shipped models)."""
        if self._source is None:
            from kaq_sionna.registry.detectors import LinkContext, build_detector

            self._source = build_detector(
                self.config.get("source", "ml"),
                LinkContext(self.num_tx, self.num_rx, self.num_bits_per_symbol, "single"),
                **self.config.get("source_params", {}))
        return self._chunked("source", self._source, *draw.complex_inputs).astype(np.float32)

    def sample(self, num_samples, seed, snr_db=None):
        """Draws inputs from the training distribution and runs the TF model on them.

        Parameters
        ----------
        num_samples : int
        seed : int
        snr_db : None, float, (lo, hi) or list
            Overrides the training SNR (:func:`~kaq_sionna.deploy.data.draw_channel_uses`).

        Output
        ------
        : :class:`Sample`
        """
        draw = draw_channel_uses(self.config, num_samples, seed, snr_db)
        m = self.model
        if self.model_type != "eqnet":
            def run(y, h, s):
                est = m.estimate(y, h, s, linearize=self.part == "detector")
                out = {"x_hat": est.x_real}
                if self.part == "detector":
                    out["llr"] = m(y, h, s)
                return out
            return Sample(draw.real, self._chunked("unfolded", run, *draw.complex_inputs),
                          draw.bits)
        if self.part == "estimation":
            llr = self._chunked("estimate", m.estimate, *draw.complex_inputs)
            return Sample(draw.real, {"llr": llr}, draw.bits)
        llr = self._source_llr(draw)
        codes = self._chunked("compress", m.compress, tf.constant(llr)).astype(np.int32)
        if self.part == "encoder":
            from kaq_sionna.softbits.scalar import llr_to_softbit

            z = self._chunked("encode", lambda v: m.encode(llr_to_softbit(v)),
                              tf.constant(llr))
            return Sample({"llr": llr}, {"codes": codes, "z": z}, draw.bits)
        ref = self._chunked("decompress", m.decompress, tf.constant(codes))
        return Sample({"codes": codes}, {"llr": ref}, draw.bits)

    def representative(self, num_samples=1024, batch_size=64, seed=CALIBRATION_SEED):
        """A representative dataset for int8 calibration: ``num_samples`` inputs drawn
        from the training distribution, yielded in batches of dicts."""
        inputs = self.sample(num_samples, seed).inputs

        def gen():
            for i in range(0, num_samples, batch_size):
                yield {k: v[i:i + batch_size] for k, v in inputs.items()}

        return gen


def export_target(name, part=None):
    """:class:`ExportTarget` of a shipped model name (and part)."""
    return ExportTarget(name, part)
