"""``kaq-sionna bench link SCENARIO``: a scenario's link per detector, timed two ways.

* :func:`bench_modes` (default): seconds per Monte-Carlo batch of each ``[[detector]]``'s link in
  graph and XLA mode (or any ``--modes``), timed interleaved, with the first call (trace and
  compile) apart. Its result backs the ``[sweep] mode = "auto"`` table
  (:func:`kaq_sionna.app.exec_mode.hints_from_bench`).
* :func:`profile_link` (``--profile``): the share of each stage of the link's chain
  (source/encoder, channel, detector, decoder; ``stages()`` of the link) in the time of one
  batch.

Both build the links as a sweep does (scenario seed, ``[link]`` keys, the detector's
parameters) and call them as :func:`sionna.phy.utils.sim_ber` does: ``batch_size`` a Python
int (static shapes), ``ebno_db`` a float32 tensor. A ``[harq]`` scenario is measured on its
base link (without HARQ).
"""

import os
import statistics
import time

import tensorflow as tf
from sionna.phy import config

from kaq_sionna.app.scenario import axis_text
from kaq_sionna.core.provenance import machine, versions
from kaq_sionna.core.quiet_tf import stderr_silenced

__all__ = ["bench_modes", "profile_link", "STAGES"]

#: The stages :func:`profile_link` reports, in chain order (a link's ``stages()`` names).
STAGES = ("source/encoder", "channel", "detector", "decoder")


def _runs(scenario, labels):
    """The curves to measure (:class:`~kaq_sionna.app.scenario.RunEntry`) with their labels:
    one per detector and ``[sweep.link_axis]`` value (a ``[harq]`` scenario's storage schemes
    share one base link), of every ``[[detector]]`` or of those whose label is in ``labels``."""
    if labels:
        known = [d.label for d in scenario.detectors]
        unknown = [lb for lb in labels if lb not in known]
        if unknown:
            raise ValueError(f"--detectors: expected labels among {', '.join(known)}, found "
                             f"{', '.join(unknown)}")
    storages = {None, scenario.harq["storage"][0]} if scenario.harq else {None}
    return [(r.detector.label + ("" if r.axis is None else f", {axis_text(*r.axis)}"), r)
            for r in scenario.runs
            if r.storage in storages and (not labels or r.detector.label in labels)]


def _build(scenario, run):
    """The scenario's (base) link of one curve, as a sweep builds it."""
    from kaq_sionna.registry import build_detector
    from links.registry import build_link

    d = run.detector
    det = build_detector(d.name, scenario.link_context, **d.params)
    return build_link(scenario.link_type, det, scenario.sweep["snr_type"],
                      **scenario.link_params(run))


def _point(scenario, batch_size, snr_db):
    """Batch size and SNR of the measurement: given, or the scenario's batch size and the
    middle of its SNR grid."""
    grid = [float(s) for s in scenario.sweep["snr_db"]]
    return (batch_size or scenario.sweep["batch_size"],
            grid[len(grid) // 2] if snr_db is None else float(snr_db))


def _config(scenario, batch_size, snr_db, repeats, modes):
    return {"scenario": scenario.name, "scenario_path": str(scenario.path),
            "link_type": scenario.link_type, "link": dict(scenario.link),
            "harq": scenario.harq is not None, "batch_size": batch_size,
            "snr_db": snr_db, "snr_type": scenario.sweep["snr_type"], "repeats": repeats,
            "modes": list(modes), "load_average_at_start": list(os.getloadavg())}


def _result(kind, cfg, rows):
    return {"benchmark": kind, "config": cfg, "machine": {**machine(), "load_average_at_end":
                                                          list(os.getloadavg())},
            "versions": versions(), "rows": rows}


def _compiled(fn, mode):
    return fn if mode == "eager" else tf.function(fn, jit_compile=(mode == "xla"))


def _say(stream, text):
    if stream is not None:
        print(text, file=stream, flush=True)


def bench_modes(scenario, modes=("graph", "xla"), batch_size=None, snr_db=None, repeats=5,
                labels=None, stream=None):
    """Seconds per batch of each detector's link in each mode.

    For every detector, one link per mode is built and called once (trace, compile and one
    batch: ``first_call_s``); a mode whose first call raises is recorded with its error.
    Then ``repeats`` rounds call each working mode once in turn (interleaved, so that a
    change of machine load hits all modes alike).

    Output
    ------
    dict
        ``{"benchmark": "link-modes", "config", "machine", "versions", "rows"}``; a row is
        ``{"label", "detector", "family", "link_type", "modes": {mode: {"first_call_s",
        "median_s", "min_s", "max_s"} | {"error"}}, "xla_over_graph"}``.
    """
    from kaq_sionna.app.exec_mode import detector_family, hints_from_bench

    batch_size, snr_db = _point(scenario, batch_size, snr_db)
    cfg = _config(scenario, batch_size, snr_db, repeats, modes)
    ebno = tf.constant(snr_db, tf.float32)
    rows = []
    for label, run in _runs(scenario, labels):
        config.seed = scenario.seed
        d = run.detector
        fns, row = {}, {"label": label, "detector": d.name,
                        "family": detector_family(d.name, d.params),
                        "link_type": scenario.link_type, "modes": {}}
        for mode in modes:
            fn = _compiled(_build(scenario, run), mode)
            start = time.perf_counter()
            try:
                with stderr_silenced():
                    fn(batch_size=batch_size, ebno_db=ebno)[1].numpy()
            except Exception as err:  # noqa: BLE001 - recorded: the mode does not run here
                first = (str(err).strip().splitlines() or [""])[0][:300]
                row["modes"][mode] = {"error": f"{type(err).__name__}: {first}"}
                continue
            row["modes"][mode] = {"first_call_s": time.perf_counter() - start}
            fns[mode] = fn
        times = {mode: [] for mode in fns}
        for _ in range(repeats):
            for mode, fn in fns.items():
                start = time.perf_counter()
                fn(batch_size=batch_size, ebno_db=ebno)[1].numpy()
                times[mode].append(time.perf_counter() - start)
        for mode, t in times.items():
            row["modes"][mode].update(median_s=statistics.median(t), min_s=min(t), max_s=max(t))
        g, x = row["modes"].get("graph", {}), row["modes"].get("xla", {})
        if "median_s" in g and "median_s" in x:
            row["xla_over_graph"] = x["median_s"] / g["median_s"]
        rows.append(row)
        _say(stream, f"{label:>24}: " + ", ".join(
            f"{m} " + (f"{v['median_s']:.3f} s/batch (first call {v['first_call_s']:.1f} s)"
                       if "median_s" in v else f"FAILED ({v['error'][:80]})")
            for m, v in row["modes"].items())
            + (f", xla/graph {row['xla_over_graph']:.2f}" if "xla_over_graph" in row else ""))
    result = _result("link-modes", cfg, rows)
    hints = hints_from_bench([result])
    for row in rows:
        row["auto"] = hints.get((row["link_type"], row["family"]), "graph")
    return result


def profile_link(scenario, modes=("graph",), batch_size=None, snr_db=None, repeats=5, warmup=2,
                 labels=None, stream=None):
    """The share of each stage of a scenario's link in the time of one batch.

    Method: for every curve (detector, link-axis value) and mode, the link's ``stages()``
    (source/encoder, channel, detector, decoder) are each wrapped in their own
    ``tf.function`` (``jit_compile`` in XLA mode), and so is the whole link. Each is run
    ``warmup`` times (tracing, compiling). Then ``repeats`` repetitions each run every
    (curve, mode) once, in turn, so that a change of machine load hits all rows alike: the
    chain stage after stage, each stage on the previous stage's outputs, timing every stage up
    to its outputs in host memory, then one call of the whole link. A stage's time is its
    median over the repetitions; its share is that over the sum of the stage medians (the
    shares add up to 100 %). ``whole_s`` (the link as one function) shows what splitting costs
    or saves: one graph can overlap stages, split stages cannot.

    Output
    ------
    dict
        ``{"benchmark": "link-profile", "config", "machine", "versions", "rows"}``; a row is
        ``{"label", "detector", "mode", "stages": {name: {"median_s", "share"}}, "sum_s",
        "whole_s"}``.
    """
    batch_size, snr_db = _point(scenario, batch_size, snr_db)
    cfg = {**_config(scenario, batch_size, snr_db, repeats, modes), "warmup": warmup}
    ebno = tf.constant(snr_db, tf.float32)
    chains = []
    for label, run in _runs(scenario, labels):
        for mode in modes:
            config.seed = scenario.seed
            link = _build(scenario, run)
            names = [name for name, _ in link.stages()]
            if tuple(names) != STAGES:
                raise ValueError(f"{type(link).__name__}.stages() gives {names}, expected "
                                 f"{list(STAGES)}")
            chains.append({"label": label, "detector": run.detector.name, "mode": mode,
                           "stages": [(name, _compiled(fn, mode)) for name, fn in link.stages()],
                           "whole": _compiled(link, mode), "times": {n: [] for n in names},
                           "whole_times": []})
    with stderr_silenced():
        for chain in chains:
            for _ in range(warmup):
                _time_chain(chain, batch_size, ebno)
        for _ in range(repeats):
            for chain in chains:
                stage_times, whole_time = _time_chain(chain, batch_size, ebno)
                for name, t in stage_times.items():
                    chain["times"][name].append(t)
                chain["whole_times"].append(whole_time)
    rows = []
    for chain in chains:
        medians = {name: statistics.median(t) for name, t in chain["times"].items()}
        total = sum(medians.values())
        row = {"label": chain["label"], "detector": chain["detector"], "mode": chain["mode"],
               "stages": {name: {"median_s": m, "share": m / total}
                          for name, m in medians.items()},
               "sum_s": total, "whole_s": statistics.median(chain["whole_times"])}
        rows.append(row)
        _say(stream, f"{row['label']:>24} ({row['mode']}): " + ", ".join(
            f"{name} {v['share']:.1%}" for name, v in row["stages"].items())
            + f" of {total * 1e3:.0f} ms; whole link {row['whole_s'] * 1e3:.0f} ms")
    return _result("link-profile", cfg, rows)


def _time_chain(chain, batch_size, ebno):
    """Runs a chain's stages in order, then the whole link; their seconds."""
    out, times = (batch_size, ebno), {}
    for name, fn in chain["stages"]:
        start = time.perf_counter()
        out = fn(*out)
        _ = out[0].numpy()  # results in host memory: the stage has finished
        times[name] = time.perf_counter() - start
    start = time.perf_counter()
    chain["whole"](batch_size=batch_size, ebno_db=ebno)[1].numpy()
    return times, time.perf_counter() - start
