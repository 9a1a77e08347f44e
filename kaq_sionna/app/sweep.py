"""Resumable Monte-Carlo sweeps of a scenario over its SNR grid.

Each SNR point of each detector is one call of :func:`sionna.phy.utils.sim_ber`
(same stopping rules: target block/bit errors, maximum iterations), seeded from
(scenario seed, detector index, SNR index) so that a point gives the same
result whether the run was interrupted before it or not. With a
``[sweep.link_axis]`` every value of the axis reuses the seeds of its
detector's curve: the curve at value v is the one the scenario with
``[link] <key> = v`` gives. After every point the
results are written atomically; a re-run of the same command resumes after the
last finished point, and refuses to mix results of a changed scenario unless
told to start over.
"""

import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import tensorflow as tf
from sionna.phy import config
from sionna.phy.utils import sim_ber

from kaq_sionna.app.outdir import guarded_output
from kaq_sionna.app.results import load_results, new_results, validate_results, write_all
from kaq_sionna.app.scenario import RunEntry, axis_text
from kaq_sionna.app.snr_range import out_of_range_warning
from kaq_sionna.app.stats import binomial_ci
from kaq_sionna.core.params import diff_keys
from kaq_sionna.core.quiet_tf import stderr_silenced
from kaq_sionna.registry.detectors import build_detector


class ResumeConflict(Exception):
    """The output directory holds results of a different scenario or run type."""


def point_seed(seed, detector_index, snr_index):
    """Seed of one SNR point: independent of the points simulated before it."""
    return (seed * 1_000_003 + detector_index * 10_007 + snr_index) % (2**31 - 1)


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


def open_results(scenario, out_dir, quick, restart, command):
    """Loads resumable results from ``out_dir`` or starts new ones.

    Raises
    ------
    ResumeConflict
        If ``out_dir/results.json`` belongs to another scenario or run type and
        ``restart`` is `False`.
    """
    path = Path(out_dir) / "results.json"
    if (path.exists() or path.is_symlink()) and not restart:
        doc = load_checked_results(path)
        if doc.get("fingerprint") != scenario.fingerprint or doc.get("quick") != bool(quick):
            changed = diff_keys(doc.get("scenario", {}), scenario.as_dict())
            if doc.get("quick") != bool(quick):
                changed.append("--quick")
            raise ResumeConflict(
                f"{path} holds results of a different run (changed: {', '.join(changed)}). "
                "Use --restart to discard them, or --out to write elsewhere.")
        if len(doc["curves"]) != len(scenario.runs):
            raise ResumeConflict(f"results.json in {path.parent} is damaged ({len(doc['curves'])}"
                                 f" curves, the scenario has {len(scenario.runs)}); use "
                                 "--restart to discard it or --out elsewhere")
        if not doc.get("complete"):  # a finished run keeps the command that produced it
            doc["command"] = command
        return doc
    if restart and path.is_dir() and not path.is_symlink():  # a damaged "file": set aside
        path.rename(path.with_name(f"results.json.discarded-{time.strftime('%Y%m%d-%H%M%S')}"))
    return new_results(scenario, quick, command)


def load_checked_results(path):
    """``load_results`` + ``validate_results`` of an existing results.json; a damaged file
    (truncated, not JSON, not UTF-8, a directory, unknown schema_version, missing fields) raises
    :class:`ResumeConflict` saying so, never a traceback."""
    path = Path(path)
    try:
        doc = load_results(path)
        if not isinstance(doc, dict):
            raise ValueError(f"a JSON {type(doc).__name__}, not an object")
        validate_results(doc)
        for curve in doc["curves"]:
            if not isinstance(curve, dict) or not isinstance(curve.get("done"), bool):
                raise ValueError("a curve without its 'done' flag")
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError,
            AttributeError) as err:
        what = _damage(err)
        raise ResumeConflict(f"results.json in {path.parent} is damaged ({what}); use "
                             "--restart to discard it or --out elsewhere") from None
    return doc


def _damage(err):
    """A short description of what is wrong with a results.json, from the error reading it."""
    import json

    if isinstance(err, IsADirectoryError):
        return "a directory, not a file"
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text: byte {err.start}"
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
    if isinstance(err, OSError):
        return f"cannot be read: {err.strerror or err}"
    if isinstance(err, KeyError):
        return f"missing field {err.args[0]!r}"
    return str(err).removeprefix("results.json: ")


class _Progress:
    """sim_ber-style progress table, one row per SNR point, live while it runs.

    The first column names the SNR the scenario sweeps (Eb/N0 or Es/N0, docs/conventions.md).
    For a ``[harq]`` scenario the block columns count codewords (HARQ processes) and the
    residual block errors after the last round each codeword needed; the status adds the BLER
    after each round and the stored bits per codeword (mean and peak, see scenarios/README.md).
    """

    SNR_COLUMN = {"ebno": "Eb/N0 [dB]", "esno": "Es/N0 [dB]"}
    FORMAT = "{:>10} |{:>11} |{:>11} |{:>21} |{:>12} |{:>12} |{:>14} |{:>12} |{:>12} |  {}"

    def __init__(self, stream, snr_type="ebno", harq=False):
        self.stream = stream
        blocks = ("residual errs", "codewords") if harq else ("block errors", "num blocks")
        self.HEADER = self.FORMAT.format(self.SNR_COLUMN.get(snr_type, "SNR [dB]"), "BER",
                                         "BLER", "BLER 95% CI", "bit errors", "num bits",
                                         *blocks, "runtime [s]", "status")
        # Live (carriage-return) updates only on a terminal; logs get final rows.
        self.live = getattr(stream, "isatty", lambda: False)()

    def header(self, label, index, total):
        print(f"\n[{index}/{total}] {label}", file=self.stream)
        print(self.HEADER, file=self.stream)
        print("-" * len(self.HEADER), file=self.stream)

    def row(self, snr, be, nb, ble, nbl, seconds, status, final):
        if not (final or self.live):
            return
        ber = be / nb if nb else 0.0
        bler = ble / nbl if nbl else 0.0
        lo, hi = binomial_ci(ble, nbl) if final else (float("nan"), float("nan"))
        ci = f"[{lo:.3g}, {hi:.3g}]"
        text = (f"{snr:>10.2f} |{ber:>11.4e} |{bler:>11.4e} |{ci:>21} |{be:>12d} |{nb:>12d} |"
                f"{ble:>14d} |{nbl:>12d} |{seconds:>12.1f} |  {status}")
        print(text, end="\n" if final else "\r", file=self.stream, flush=True)


def _simulate_harq_point(link, snr_db, settings, harq, progress):
    """One SNR point of a HARQ link: batches until the block errors after
    ``harq["target_round"]`` reach the target or ``max_mc_iter`` batches ran."""
    start = time.perf_counter()
    storage_params = {}
    if harq["calibrate"] and hasattr(link.storage, "fit"):
        link.calibrate_storage(settings["batch_size"], snr_db)
        storage_params = fitted_storage_params(link.storage)

    def callback(i, st):
        progress.row(snr_db, st["bit_errors"], st["num_bits"], st["block_errors_per_round"][-1],
                     st["num_codewords"], time.perf_counter() - start,
                     f"iter {i + 1}/{settings['max_mc_iter']}", final=False)

    stats = link.statistics(settings["batch_size"], snr_db, num_batches=settings["max_mc_iter"],
                            graph=settings["mode"] != "eager",
                            jit_compile=settings["mode"] == "xla",
                            num_target_block_errors=settings["num_target_block_errors"],
                            target_round=harq["target_round"], callback=callback)
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


def _simulate_point(mc_fun, snr_db, settings, progress):
    """One SNR point with sim_ber's stopping rules. Returns the counts of the point."""
    counts = {}
    start = time.perf_counter()

    def callback(mc_iter, snr_idx, ebno_dbs, bit_errors, block_errors, nb_bits, nb_blocks):
        counts.update(bit_errors=int(bit_errors[0]), num_bits=int(nb_bits[0]),
                      block_errors=int(block_errors[0]), num_blocks=int(nb_blocks[0]),
                      iterations=int(mc_iter) + 1)
        progress.row(snr_db, counts["bit_errors"], counts["num_bits"], counts["block_errors"],
                     counts["num_blocks"], time.perf_counter() - start,
                     f"iter {counts['iterations']}/{settings['max_mc_iter']}", final=False)
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


@contextmanager
def _sigterm_as_interrupt():
    """Turns SIGTERM into KeyboardInterrupt so that a killed run stops like Ctrl-C."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@guarded_output  # output folder checked and locked (one run at a time) before anything runs
def run_sweep(scenario, out_dir, quick=False, restart=False, command="", stream=None,
              max_points=None):
    """Sweeps every detector of ``scenario`` over its SNR grid, resuming finished points.

    Parameters
    ----------
    scenario : kaq_sionna.app.scenario.Scenario
    out_dir : str or Path
        Receives results.json, results.csv and plot.png after every point.
    quick : bool
        Reduced sweep (``[sweep.quick]`` settings).
    restart : bool
        Discard results already in ``out_dir`` instead of resuming them.
    command : str
        The command line, recorded in results.json.
    stream : file
        Where progress goes (default stdout).
    max_points : int or None
        Stop after simulating this many new points (leaves a resumable,
        incomplete run; used to test resumption).

    Output
    ------
    dict
        The results document (also written to ``out_dir``).
    """
    stream = stream or sys.stdout
    settings = scenario.sweep_settings(quick)
    grid = [float(s) for s in settings["snr_db"]]
    doc = open_results(scenario, out_dir, quick, restart, command)
    progress = _Progress(stream, settings.get("snr_type", "ebno"), harq=scenario.harq is not None)
    simulated = 0
    with _sigterm_as_interrupt():
        runs = scenario.runs
        for d_idx, (entry, curve) in enumerate(zip(runs, doc["curves"], strict=True)):
            if curve["done"]:
                continue
            progress.header(entry.label, d_idx + 1, len(runs))
            for done_idx, snr in enumerate(curve["snr_db"]):
                progress.row(snr, curve["bit_errors"][done_idx], curve["num_bits"][done_idx],
                             curve["block_errors"][done_idx], curve["num_blocks"][done_idx],
                             curve["seconds"][done_idx], "resumed from results.json", True)
            link = build_scenario_link(scenario, entry)
            warning = out_of_range_warning(entry.label, entry.detector.name,
                                           entry.detector.params, link, grid)
            if warning and warning not in doc.setdefault("warnings", []):
                print(f"warning: {warning}", file=stream)
                doc["warnings"].append(warning)
            mc_fun = compile_link(link, settings["mode"])
            for s_idx in range(len(curve["snr_db"]), len(grid)):
                if max_points is not None and simulated >= max_points:
                    return doc
                config.seed = point_seed(scenario.seed, entry.index, s_idx)
                with stderr_silenced():  # XLA/absl start-up lines on first compile
                    if entry.storage is None:
                        counts, seconds, status = _simulate_point(mc_fun, grid[s_idx],
                                                                  settings, progress)
                        extra = {}
                    else:
                        counts, seconds, status, extra = _simulate_harq_point(
                            link, grid[s_idx], settings, scenario.harq, progress)
                simulated += 1
                _append_point(curve, grid[s_idx], counts, seconds, status)
                for key, value in extra.items():
                    curve[key].append(value)
                # HARQ: stop on the round the stopping rule counts, not the residual
                errors = counts["block_errors"] if entry.storage is None else \
                    extra["block_errors_per_round"][scenario.harq["target_round"] - 1]
                stop_early = settings["early_stop"] and errors == 0
                if stop_early:
                    curve["status"][-1] = "no errors - early stop"
                curve["done"] = stop_early or s_idx == len(grid) - 1
                progress.row(grid[s_idx], counts["bit_errors"], counts["num_bits"],
                             counts["block_errors"], counts["num_blocks"], seconds,
                             curve["status"][-1], final=True)
                doc["complete"] = all(c["done"] for c in doc["curves"])
                write_all(out_dir, doc)
                if stop_early:
                    break
        if scenario.sweep.get("refine"):  # [sweep] refine: points added after the grid
            from kaq_sionna.app.refine import refine_sweep
            refine_sweep(scenario, doc, out_dir, settings, progress, sys.modules[__name__])
    doc["complete"] = all(c["done"] for c in doc["curves"])
    write_all(out_dir, doc)
    return doc


def _append_point(curve, snr, counts, seconds, status):
    nb, nbl = max(counts["num_bits"], 1), max(counts["num_blocks"], 1)
    curve["snr_db"].append(snr)
    curve["ber"].append(counts["bit_errors"] / nb)
    curve["bler"].append(counts["block_errors"] / nbl)
    for key in ("bit_errors", "num_bits", "block_errors", "num_blocks"):
        curve[key].append(counts[key])
    curve["seconds"].append(round(seconds, 3))
    curve["status"].append(status)


def summary_table(doc):
    """Plain-text BLER table (rows: SNR, columns: detectors) for the end of a run."""
    curves = doc["curves"]
    harq = doc["scenario"].get("harq")
    title, values = "BLER", (lambda c: c["bler"])
    if harq:  # the BLER after the round the stopping rule counts (first retransmission)
        r = harq["target_round"]
        title, values = f"BLER r{r}", (lambda c: [p[r - 1] for p in c["bler_per_round"]])
    snrs = sorted({s for c in curves for s in c["snr_db"]})
    # columns: curves, or with a link axis the series (rows then per SNR and axis value)
    columns = {}
    for c in curves:
        columns.setdefault(c.get("series", c["label"]), []).append(c)
    axis_values = [None]
    if any("link_axis" in c for c in curves):
        axis_values = list(dict.fromkeys(c["link_axis"]["value"] for c in curves))
    width = max(12, *(len(label) + 2 for label in columns))
    first = max(10, *(len(_row_label(curves, s, v)) + 2 for s in snrs for v in axis_values))
    lines = [title.ljust(first) + "".join(label.rjust(width) for label in columns)]
    for snr in snrs:
        for value in axis_values:
            cells = []
            for column in columns.values():
                vals = [b for c in column
                        if value is None or c["link_axis"]["value"] == value
                        for s, b in zip(c["snr_db"], values(c), strict=True) if s == snr]
                cells.append((f"{vals[0]:.3e}" if vals else "-").rjust(width))
            lines.append(_row_label(curves, snr, value).ljust(first) + "".join(cells))
    return "\n".join(lines)


def _row_label(curves, snr, value):
    if value is None:
        return f"{snr:.2f}"
    name = next(c["link_axis"]["name"] for c in curves if "link_axis" in c)
    return f"{snr:.2f} {axis_text(name, value)}"


__all__ = ["ResumeConflict", "run_sweep", "open_results", "point_seed", "compile_link",
           "build_scenario_link", "summary_table"]
