r"""``kaq-sionna bench detectors``: latency and memory of MIMO detectors, TF and LiteRT.

One run measures, for every *row* (a detector in one runtime and precision),
every batch size and every thread setting:

* **latency per batch** (one call on ``batch`` channel uses): median and
  inter-quartile range over ``repeats`` timed repetitions after two warm-up
  calls; a repetition loops the call until ``min_time`` seconds have passed
  and divides (so that a 30 microsecond call is not timed with a clock of the
  same resolution). Within one thread setting and batch size the rows are
  timed *interleaved* (repetition 1 of every row, then repetition 2, ...), so a
  change of machine load hits all rows alike and the ratios stay comparable;
* **ratios** against Sionna's LMMSE (TF) and against the row's fp32
  reference (``fp32_ref``: the same family's fp32 model in the same runtime,
  or TF fp32 for a LiteRT fp32 row), both measured in the same run;
* **memory**: weights (bytes of the constants a row holds: variables and
  graph constants in TF, stored constant tensors in LiteRT) and activations per
  channel use (peak of the tensors alive at once over the op sequence at batch
  256, divided by 256; :meth:`kaq_sionna.deploy.runtime.LiteRTModel.memory`,
  :func:`~kaq_sionna.app.bench.measure.tf_graph_memory`).

TF rows run as ``tf.function`` graphs (no XLA) on complex inputs; LiteRT rows
on the real-valued inputs (:func:`~kaq_sionna.deploy.real_model.real_inputs`,
converted once outside the timed region), with the default op resolver
(XNNPACK delegate) or, with ``xnnpack=False`` (``--no-xnnpack``), the builtin
kernels only. A thread setting runs in its own worker process (TF fixes
its thread pools at start-up, :mod:`~kaq_sionna.app.bench.worker`), one after the
other; the LiteRT models are converted once, by the first worker, into a temporary
folder.

Rows whose timing would exceed ``max_cell_seconds`` (predicted from one call)
are skipped with the reason in the output (exhaustive ML at large batches).
"""

import os
import sys
import tempfile
import time
from dataclasses import asdict

from kaq_sionna.app.bench.detector_rows import parse_system, select_rows
from kaq_sionna.app.bench.measure import MEMORY_BATCH, WARMUP_CALLS
from kaq_sionna.app.bench.worker import run_worker
from kaq_sionna.core.provenance import machine, package_versions

__all__ = ["DEFAULT_BATCH_SIZES", "add_ratios", "bench_detectors"]

DEFAULT_BATCH_SIZES = (1, 16, 8192)
VERSIONED_PACKAGES = ("tensorflow", "sionna-no-rt", "ai-edge-litert", "numpy")


def _thread_values(threads):
    """``"all"`` -> ``os.cpu_count()``, other entries as integers."""
    return [(os.cpu_count() or 1) if t == "all" else int(t) for t in threads]


def bench_detectors(system="4x4-16qam", batch_sizes=DEFAULT_BATCH_SIZES, threads=("1", "all"),
                    repeats=15, min_time=0.02, max_cell_seconds=60.0, models=None,
                    xnnpack=True, stream=None):
    r"""Runs the detector benchmark (module docstring); one worker process per thread setting.

    Parameters
    ----------
    system : str
        ``<ntx>x<nrx>-<M>qam`` of the shipped models.
    batch_sizes : sequence of int
    threads : sequence of str
        Integers or ``"all"`` (``os.cpu_count()``).
    repeats : int
    min_time : float
        Seconds per timed repetition (calls are looped until then).
    max_cell_seconds : float
        Budget of one (row, batch) timing; above it the cell is skipped.
    models : None or list of str
        Row names to run (default: :func:`~kaq_sionna.app.bench.detector_rows.default_rows`;
        :func:`~kaq_sionna.app.bench.detector_rows.extra_rows` only when named); ``lmmse``
        is always added (the ratio reference), as is each selected row's ``fp32_ref``.
    xnnpack : bool
        LiteRT rows with the default op resolver (XNNPACK delegate) or with the
        builtin kernels only.
    stream : file or None
        Progress lines.

    Output
    ------
    : dict
        ``benchmark``, ``config``, ``machine``, ``versions``, ``results`` (one
        entry per row, thread setting and batch: latency statistics, memory,
        ``vs_lmmse``, ``vs_fp32_ref``, or ``skipped`` with the reason).
    """
    parse_system(system)
    rows, missing = _shipped_only(select_rows(system, models), system, stream)
    thread_values = _thread_values(threads)
    config = {"system": system, "batch_sizes": [int(b) for b in batch_sizes],
              "threads": list(threads), "thread_values": thread_values, "repeats": int(repeats),
              "min_time": float(min_time), "max_cell_seconds": float(max_cell_seconds),
              "rows": [asdict(r) for r in rows], "tf_mode": "graph (tf.function, no XLA)",
              "memory_batch": MEMORY_BATCH, "warmup_calls": WARMUP_CALLS,
              "xnnpack": bool(xnnpack)}
    if missing:
        config["models_not_shipped"] = missing
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kaq-bench-") as tmp:
        workers = [run_worker(config, t, tmp, stream) for t in thread_values]
    result = {"benchmark": "detectors", "config": config,
              "machine": {**machine(), "load_average_at_end": list(os.getloadavg())},
              "versions": package_versions(VERSIONED_PACKAGES),
              "seconds": time.perf_counter() - start,
              "results": [r for w in workers for r in w["results"]]}
    add_ratios(result)
    return result


def _shipped_only(rows, system, stream):
    """``rows`` without those whose pretrained model is not shipped, and the names of the
    missing models; says so once on ``stream`` (instead of one failure per row and cell)."""
    from kaq_sionna import pretrained
    from kaq_sionna.registry import DETECTORS

    shipped = pretrained.available()
    missing = sorted({r.source for r in rows
                      if r.source not in DETECTORS and r.source not in shipped})
    if missing:
        kept = [r for r in rows if r.source not in missing]
        sizes = sorted({f"{c['system']['num_tx']}x{c['system']['num_rx']}-"
                        f"{2 ** c['system']['num_bits_per_symbol']}qam" for c in shipped.values()})
        only_baselines = all(r.source in DETECTORS for r in kept)
        text = (f"note: no shipped model of size {system} (sizes with shipped models: "
                f"{', '.join(sizes)}); only the Sionna baselines are timed"
                if only_baselines else
                f"note: not shipped for {system}: {', '.join(missing)}; their rows are skipped")
        print(text, file=stream or sys.stdout, flush=True)
        rows = kept
    return rows, missing


def add_ratios(result):
    """Adds ``vs_lmmse`` and ``fp32_ref`` / ``vs_fp32_ref`` (median latency ratios within
    one thread setting and batch size) to every timed entry of a result."""
    rows = {r["name"]: r for r in result["config"]["rows"]}
    timed = {(r["row"], r["threads"], r["batch_size"]): r for r in result["results"]
             if "latency_s" in r}
    for (name, t, b), r in timed.items():
        lm = timed.get(("lmmse", t, b))
        r["vs_lmmse"] = r["latency_s"]["median"] / lm["latency_s"]["median"] if lm else None
        ref = rows[name].get("fp32_ref")
        other = timed.get((ref, t, b)) if ref else None
        r["fp32_ref"] = ref
        r["vs_fp32_ref"] = (r["latency_s"]["median"] / other["latency_s"]["median"]
                            if other else None)

