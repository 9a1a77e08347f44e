"""Resumable Monte-Carlo sweeps of a scenario over its SNR grid.

The units of a sweep (:mod:`kaq_sionna.app.units`) run on an executor
(:mod:`kaq_sionna.app.executors`: in this process by default, or on a Dask cluster with
``workers``/``scheduler``) and :class:`kaq_sionna.app.engine.SweepEngine` decides every point on
them in an order that does not depend on the executor, so a serial and a distributed run give
identical counts. With ``[sweep] seeding = "per-detector"`` (the default of older scenarios)
each SNR point is one call of :func:`sionna.phy.utils.sim_ber` seeded from (scenario seed,
detector index, SNR index); with ``"common"`` each Monte-Carlo batch is seeded from (scenario
seed, SNR index, batch index) only, so every detector at a point sees the same realizations
(common random numbers, paired statistics in results.json). With a ``[sweep.link_axis]`` every
value of the axis reuses the seeds of its detector's curve. After every point the results are
written atomically; a re-run of the same command resumes after the last finished point, and
refuses to mix results of a changed scenario unless told to start over.
"""

import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from kaq_sionna.app.engine import SweepEngine
from kaq_sionna.app.executors import make_executor
from kaq_sionna.app.outdir import guarded_output
from kaq_sionna.app.results import (
    append_point,
    load_results,
    new_results,
    validate_results,
)
from kaq_sionna.app.scenario import axis_text
from kaq_sionna.app.stats import binomial_ci
from kaq_sionna.app.units import point_seed
from kaq_sionna.app.worker import build_scenario_link, compile_link
from kaq_sionna.core.params import diff_keys


class ResumeConflict(Exception):
    """The output directory holds results of a different scenario or run type."""


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
              max_points=None, workers=0, scheduler=None, threads_per_worker=1, threads=0,
              executor=None):
    """Sweeps every detector of ``scenario`` over its SNR grid, resuming finished points.

    Parameters
    ----------
    scenario : kaq_sionna.app.scenario.Scenario
    out_dir : str or Path
        Receives results.json, results.csv and plot.png after every point (and blocks.npz with
        ``[sweep] seeding = "common"``).
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
    workers : int
        Run the units on a local Dask cluster of this many worker processes (0: in this
        process).
    scheduler : str or None
        Run the units on the Dask cluster of this scheduler address (or scheduler file).
    threads_per_worker : int
        TensorFlow threads in each Dask worker.
    threads : int
        TensorFlow threads of an in-process run (0: TensorFlow's default; recorded only).
    executor : kaq_sionna.app.executors.Executor or None
        Use this executor (not closed here) instead of making one from the options above.

    Output
    ------
    dict
        The results document (also written to ``out_dir``).

    Raises
    ------
    kaq_sionna.app.executors.UnitFailed
        A unit raised (the message names the detector, SNR point and error); the points
        finished before it are kept in results.json.
    """
    stream = stream or sys.stdout
    settings = scenario.sweep_settings(quick)
    doc = open_results(scenario, out_dir, quick, restart, command)
    progress = _Progress(stream, settings.get("snr_type", "ebno"), harq=scenario.harq is not None)
    own = executor is None
    if own:
        executor = make_executor(workers, scheduler, threads_per_worker, threads,
                                 on_batch=_batch_progress(progress))
    try:
        doc["execution"] = executor.describe()
        engine = SweepEngine(scenario, doc, settings, executor, out_dir, progress, threads)
        with _sigterm_as_interrupt():
            try:
                finished = engine.run_grid(max_points)
            except KeyboardInterrupt:
                engine.write()  # the plot of the points kept
                raise
            if not finished:
                engine.write()
                return doc
            if scenario.sweep.get("refine"):  # [sweep] refine: points added after the grid
                from kaq_sionna.app.refine import refine_sweep
                refine_sweep(scenario, doc, settings, progress, engine)
        engine.write()
    finally:
        if own:
            executor.close()
    return doc


def _batch_progress(progress):
    """Live progress rows of a whole-point unit run in this process."""
    def on_batch(task, counts, iterations, seconds):
        progress.row(task["snr_db"], counts["bit_errors"], counts["num_bits"],
                     counts["block_errors"], counts["num_blocks"], seconds,
                     f"iter {iterations}/{task['settings']['max_mc_iter']}", final=False)
    return on_batch


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
           "build_scenario_link", "append_point", "summary_table"]
