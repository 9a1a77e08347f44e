"""Speed benchmarks (not tests): speed is measured here and reported as ratios within one run.

* :mod:`~kaq_sionna.app.bench.link`: ``kaq-sionna bench link``, the information-bit
  throughput of :class:`links.CodedMIMOLink` against a plain Sionna chain.
* :mod:`~kaq_sionna.app.bench.detectors`: ``kaq-sionna bench detectors``, latency and memory
  of MIMO detectors in TF and LiteRT (the method is described there), built from

  * :mod:`~kaq_sionna.app.bench.detector_rows`: what is measured (the rows);
  * :mod:`~kaq_sionna.app.bench.row_calls`: a row as a callable (TF graph or LiteRT model);
  * :mod:`~kaq_sionna.app.bench.measure`: timing and memory measurement;
  * :mod:`~kaq_sionna.app.bench.worker`: one thread setting in its own process;
* :mod:`~kaq_sionna.app.bench.tables`: the Markdown tables and the JSON file of a result.
"""
