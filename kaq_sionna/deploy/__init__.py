"""Deployment: shipped detectors exported to LiteRT (TFLite) models, run with the
``ai-edge-litert`` interpreter and checked against their TensorFlow twins.

Small modules with one job each:

* :mod:`~kaq_sionna.deploy.real_model`: the real-valued inputs and demapper;
* :mod:`~kaq_sionna.deploy.unfolded_graph`, :mod:`~kaq_sionna.deploy.eqnet_graph`:
  the models as graphs of TFLite builtin ops;
* :mod:`~kaq_sionna.deploy.data`: calibration / check data from each model's
  training distribution;
* :mod:`~kaq_sionna.deploy.targets`: what can be exported (model, part, TF twin);
* :mod:`~kaq_sionna.deploy.convert`: fp32 / fp16 / int8 conversion;
* :mod:`~kaq_sionna.deploy.runtime`: the LiteRT interpreter and memory accounting;
* :mod:`~kaq_sionna.deploy.check`: agreement with the TF model, tolerances, BER;
* :mod:`~kaq_sionna.deploy.export`: ``kaq-sionna export``;
* :mod:`~kaq_sionna.deploy.sdnet_export`: SDNet's network part (the ZF front end stays
  outside), fp32 / fp16 / int8, checked against its TF twin.

See ``docs/deployment.md``.
"""

from kaq_sionna.deploy.check import TOLERANCES, ber_table, check_export, format_check
from kaq_sionna.deploy.convert import PRECISIONS, convert_graph
from kaq_sionna.deploy.export import export_model, write_model
from kaq_sionna.deploy.real_model import real_inputs
from kaq_sionna.deploy.runtime import LiteRTModel
from kaq_sionna.deploy.targets import PARTS, ExportTarget

__all__ = ["PARTS", "PRECISIONS", "TOLERANCES", "ExportTarget", "LiteRTModel", "ber_table",
           "check_export", "convert_graph", "export_model", "format_check", "real_inputs",
           "write_model"]
