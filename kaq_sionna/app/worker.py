"""Runs one work unit of a sweep (:mod:`kaq_sionna.app.units`), in the client process or on a
Dask worker.

A unit arrives as a plain dict (:func:`make_task`): the scenario as its parsed TOML data, the
folders plugins and models are looked up in, the curve, SNR point, chunk, seed and Monte-Carlo
settings. Never a Keras or Sionna object: the worker builds the link of each curve itself, once,
and keeps it (with its compiled function) for the next units of the same curve
(:func:`cached_link`). TensorFlow is not fork-safe, so workers are spawned processes
(:mod:`kaq_sionna.app.executors`); :func:`run_unit` sets TensorFlow's thread pools from the task
before the first operation of the process.
"""

import time

import numpy as np
import tensorflow as tf
from sionna.phy import config
from sionna.phy.utils import sim_ber

from kaq_sionna.app.exec_mode import compile_for_mode
from kaq_sionna.app.scenario import RunEntry, parse_scenario
from kaq_sionna.app.snr_range import out_of_range_warning
from kaq_sionna.app.units import WHOLE_POINT, pack_flags
from kaq_sionna.core.quiet_tf import stderr_silenced
from kaq_sionna.registry import plugins
from kaq_sionna.registry.detectors import build_detector

#: Per-process caches: scenario fingerprint -> Scenario; (fingerprint, curve, mode) -> link.
_SCENARIOS = {}
_LINKS = {}
_THREADS = {"set": None}


def compile_link(link, mode):
    """Wraps ``link`` for the execution mode ``"eager"``, ``"graph"`` or ``"xla"``."""
    if mode == "eager":
        return link
    return tf.function(link, jit_compile=(mode == "xla"))


def build_scenario_link(scenario, entry):
    """Builds the link of ``scenario`` around the detector of one ``[[detector]]`` entry
    (a :class:`~kaq_sionna.app.scenario.DetectorEntry`), or of one curve (a
    :class:`~kaq_sionna.app.scenario.RunEntry`): with its link-axis value, and in a
    ``[harq]`` scenario the :class:`links.HARQLink` around it with the run's storage
    scheme."""
    from links.registry import build_harq_link, build_link  # application layer

    run = entry if isinstance(entry, RunEntry) else RunEntry(entry)
    d = run.detector
    detector = build_detector(d.name, scenario.link_context, **d.params)
    link = build_link(scenario.link_type, detector, scenario.sweep["snr_type"],
                      **scenario.link_params(run))
    if run.storage is None:
        return link
    return build_harq_link(link, scenario.harq, run.storage)


def make_task(scenario, unit, settings, seed, threads=0):
    """The plain-dict description of ``unit`` (a :class:`~kaq_sionna.app.units.Unit`) that
    :func:`run_unit` runs; ``seed`` is the unit's seed, ``threads`` TensorFlow's intra/inter-op
    threads in the worker (0: TensorFlow's default)."""
    keys = ("batch_size", "max_mc_iter", "num_target_block_errors", "num_target_bit_errors",
            "mode")
    return {"scenario": scenario.raw, "where": scenario.path,
            "fingerprint": scenario.fingerprint,
            "search_dirs": [str(d.resolve()) for d in plugins.search_dirs()],
            "curve": unit.curve, "snr_db": float(unit.snr_db), "snr_index": unit.snr_index,
            "chunk": unit.chunk, "seed": int(seed), "threads": int(threads),
            "settings": {k: settings[k] for k in keys}}


def _scenario(task):
    fp = task["fingerprint"]
    if fp not in _SCENARIOS:
        for folder in task["search_dirs"]:
            plugins.add_search_dir(folder)
        scenario = parse_scenario(task["scenario"], task["where"])
        if scenario.fingerprint != fp:  # another kaq-sionna version on the worker
            raise RuntimeError(f"the worker reads {task['where']} as a different scenario "
                               f"(fingerprint {scenario.fingerprint}, client {fp}): install "
                               "the same kaq-sionna version on the client and every worker")
        _SCENARIOS[fp] = scenario
    return _SCENARIOS[fp]


def cached_link(scenario, curve, mode):
    """``(link, compiled link, warning)`` of one curve, built on first use in this process.
    The compiled link is a :class:`kaq_sionna.app.exec_mode.CompiledLink` in the curve's
    execution mode (``"auto"``: from a table, the same on every worker)."""
    key = (scenario.fingerprint, curve, mode)
    if key not in _LINKS:
        entry = scenario.runs[curve]
        link = build_scenario_link(scenario, entry)
        grid = [float(s) for s in scenario.sweep["snr_db"]]
        warning = out_of_range_warning(entry.label, entry.detector.name, entry.detector.params,
                                       link, grid)
        fn, _, _ = compile_for_mode(link, mode, scenario.link_type, entry.detector.name,
                                    entry.detector.params)
        _LINKS[key] = (link, fn, warning)
    return _LINKS[key]


def clear_cache():
    """Forgets the scenarios and links built in this process (an in-process run does so when it
    ends, so that its models are freed)."""
    _SCENARIOS.clear()
    _LINKS.clear()


def set_threads(threads):
    """TensorFlow's intra/inter-op thread pools of this process (once; 0 leaves the default)."""
    if not threads or _THREADS["set"] == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        _THREADS["set"] = threads
    except RuntimeError:  # TensorFlow already ran an operation here: it keeps its pools
        _THREADS["set"] = threads


def run_unit(task, on_batch=None):
    """Simulates one unit.

    Input
    -----
    task : dict
        From :func:`make_task`.
    on_batch : `None` | callable
        ``on_batch(counts, iterations, seconds)`` after each batch of a whole point (progress).

    Output
    ------
    dict
        ``bit_errors``, ``num_bits``, ``block_errors``, ``num_blocks``, ``seconds``,
        ``warning`` (or `None`); a chunk adds ``blocks`` (per-block error flags,
        :func:`~kaq_sionna.app.units.pack_flags`), a whole point ``status`` and ``extra``
        (the HARQ fields of a ``[harq]`` point, else empty).
    """
    set_threads(task["threads"])
    scenario = _scenario(task)
    settings = task["settings"]
    link, mc_fun, warning = cached_link(scenario, task["curve"], settings["mode"])
    config.seed = task["seed"]
    snr = task["snr_db"]
    with stderr_silenced():  # XLA/absl start-up lines on first compile
        if task["chunk"] != WHOLE_POINT:
            out = simulate_chunk(mc_fun, snr, settings)
        elif scenario.runs[task["curve"]].storage is None:
            counts, seconds, status = simulate_point(mc_fun, snr, settings, on_batch)
            out = {**counts, "seconds": seconds, "status": status, "extra": {}}
        else:
            reseed = task["seed"] if scenario.sweep.get("seeding") == "common" else None
            counts, seconds, status, extra = simulate_harq_point(
                link, snr, settings, scenario.harq, on_batch, reseed, compiled=mc_fun)
            out = {**counts, "seconds": seconds, "status": status, "extra": extra}
    out["warning"] = warning
    out["mode"] = mc_fun.record()
    return out


def simulate_chunk(mc_fun, snr_db, settings):
    """One Monte-Carlo batch: the counts sim_ber takes from it, and the per-block error flags."""
    start = time.perf_counter()
    b, b_hat = mc_fun(batch_size=settings["batch_size"],
                      ebno_db=tf.constant(snr_db, tf.float32))
    wrong = np.not_equal(np.asarray(b), np.asarray(b_hat))
    flags = wrong.reshape(-1, wrong.shape[-1]).any(axis=-1)
    return {"bit_errors": int(wrong.sum()), "num_bits": int(wrong.size),
            "block_errors": int(flags.sum()), "num_blocks": int(flags.size),
            "blocks": pack_flags(flags), "seconds": time.perf_counter() - start}


def simulate_point(mc_fun, snr_db, settings, on_batch=None):
    """One SNR point with sim_ber's stopping rules. Returns ``(counts, seconds, status)``."""
    counts = {}
    start = time.perf_counter()

    def callback(mc_iter, snr_idx, ebno_dbs, bit_errors, block_errors, nb_bits, nb_blocks):
        counts.update(bit_errors=int(bit_errors[0]), num_bits=int(nb_bits[0]),
                      block_errors=int(block_errors[0]), num_blocks=int(nb_blocks[0]))
        if on_batch is not None:
            on_batch(counts, int(mc_iter) + 1, time.perf_counter() - start)
        return sim_ber.CALLBACK_CONTINUE

    target_bits = settings["num_target_bit_errors"] or None
    sim_ber(mc_fun, tf.constant([snr_db], tf.float32), settings["batch_size"],
            settings["max_mc_iter"], num_target_bit_errors=target_bits,
            num_target_block_errors=settings["num_target_block_errors"],
            early_stop=False, verbose=False, callback=callback)
    seconds = time.perf_counter() - start
    if counts["block_errors"] >= settings["num_target_block_errors"]:
        status = "target block errors"
    elif target_bits and counts["bit_errors"] >= target_bits:
        status = "target bit errors"
    else:
        status = "max iterations"
    return counts, seconds, status


def simulate_harq_point(link, snr_db, settings, harq, on_batch=None, seed=None,
                        compiled=None):
    """One SNR point of a HARQ link: batches until the block errors after
    ``harq["target_round"]`` reach the target or ``max_mc_iter`` batches ran. A storage
    quantizer with ``calibrate`` is fitted first; with ``seed`` the seed is then set again, so
    that every storage scheme at the point sees the same random draws. ``compiled`` (a
    :class:`~kaq_sionna.app.exec_mode.CompiledLink` of ``link``) runs the statistics in its
    execution mode; without it, in ``settings["mode"]``."""
    start = time.perf_counter()
    storage_params = {}
    if harq["calibrate"] and hasattr(link.storage, "fit"):
        link.calibrate_storage(settings["batch_size"], snr_db)
        storage_params = fitted_storage_params(link.storage)
        if seed is not None:
            config.seed = seed

    def callback(i, st):
        if on_batch is not None:
            counts = {"bit_errors": st["bit_errors"], "num_bits": st["num_bits"],
                      "block_errors": st["block_errors_per_round"][-1],
                      "num_blocks": st["num_codewords"]}
            on_batch(counts, i + 1, time.perf_counter() - start)

    kwargs = {"num_batches": settings["max_mc_iter"],
               "num_target_block_errors": settings["num_target_block_errors"],
               "target_round": harq["target_round"], "callback": callback}
    if compiled is not None:
        stats = compiled.statistics(settings["batch_size"], snr_db, **kwargs)
    else:
        stats = link.statistics(settings["batch_size"], snr_db,
                                graph=settings["mode"] != "eager",
                                jit_compile=settings["mode"] == "xla", **kwargs)
    seconds = time.perf_counter() - start
    target_errors = stats["block_errors_per_round"][harq["target_round"] - 1]
    status = ("target block errors" if target_errors >= settings["num_target_block_errors"]
              else "max iterations")
    status += " | BLER per round " + " ".join(f"{b:.3g}" for b in stats["bler_per_round"])
    status += (f" | stored bits/codeword mean {stats['stored_bits_mean']:.0f}"
               f" max {stats['stored_bits_max']:.0f}")
    counts = {"bit_errors": stats["bit_errors"], "num_bits": stats["num_bits"],
              "block_errors": stats["block_errors_per_round"][-1],
              "num_blocks": stats["num_codewords"]}
    extra = {"bler_per_round": stats["bler_per_round"],
             "block_errors_per_round": stats["block_errors_per_round"],
             "mean_transmissions": stats["mean_transmissions"], "goodput": stats["goodput"],
             "stored_bits_mean": stats["stored_bits_mean"],
             "stored_bits_max": stats["stored_bits_max"], "storage_params": storage_params}
    return counts, seconds, status, extra


def fitted_storage_params(storage):
    """The fitted parameters of a storage quantizer, JSON-ready (e.g. ``{"clip": 9.3}``)."""
    out = {}
    for key in ("clip", "thresholds", "levels"):
        value = getattr(storage, key, None)
        if value is None or key != "clip" and not hasattr(storage, "thresholds"):
            continue
        out[key] = [round(float(v), 6) for v in value] if hasattr(value, "__len__") \
            else round(float(value), 6)
    return out


__all__ = ["compile_link", "build_scenario_link", "make_task", "cached_link", "clear_cache", "set_threads",
           "run_unit", "simulate_chunk", "simulate_point", "simulate_harq_point",
           "fitted_storage_params"]
