"""The sweep engine: submits the units of a sweep to an executor and turns their results into
finished SNR points, in an order that does not depend on the executor.

Per curve, the points are decided in SNR order and, within a point, on the chunks in chunk
order (:class:`kaq_sionna.app.units.PointTally`). A point is started only when it is certain to
be needed: the first unfinished point of a curve, and the next one once the point before it has
a block error (``early_stop`` ends a curve after a point without any; with ``early_stop = false``
every point is needed). Finished points are appended to the curve in SNR order and results.json
is written atomically after each (:func:`kaq_sionna.app.results.write_all`), with the per-block
error flags of ``"common"``-seeded points in ``blocks.npz`` beside it (for the paired
statistics, :mod:`kaq_sionna.app.paired`). Partly simulated points are not kept: a resumed run
re-simulates them from their first chunk, with the same seeds.
"""

import io
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from kaq_sionna.app.executors import UnitFailed
from kaq_sionna.app.paired import compare_flags, paired_entry
from kaq_sionna.app.results import append_point, write_all
from kaq_sionna.app.units import (
    WAIT,
    WHOLE_POINT,
    PointTally,
    Unit,
    chunk_seed,
    pack_flags,
    point_seed,
    unpack_flags,
)
from kaq_sionna.app.worker import make_task
from kaq_sionna.core.atomic_io import atomic_write_bytes
from kaq_sionna.core.errors import PretrainedMismatch
from kaq_sionna.core.params import SpecError

BLOCKS_FILE = "blocks.npz"

#: Seconds between two redraws of plot.png while a sweep runs (results.json and the CSV are
#: written after every point).
PLOT_INTERVAL = 10.0

#: Errors of a unit that reach the caller as they are (not as :class:`UnitFailed`): a damaged
#: model or an invalid parameter found while building a link is the user's to fix (exit 2), and
#: running out of memory has its own advice (``kaq-sionna run``).
PASSED_THROUGH = (SpecError, PretrainedMismatch, MemoryError, tf.errors.ResourceExhaustedError)


class _Curve:
    """The engine's state of one curve: its finished points (in ``doc``) and the tallies of the
    points being simulated."""

    def __init__(self, index, entry, curve):
        self.index = index
        self.entry = entry
        self.curve = curve
        self.tallies = {}  # snr_index -> PointTally
        self.finished = {}  # snr_index -> PointTally, waiting for the points before it
        self.resumed = len(curve["snr_db"])  # points read from results.json

    @property
    def done(self):
        return self.curve["done"]

    @property
    def next_index(self):
        """Grid index of the first point not yet in results.json."""
        return len(self.curve["snr_db"]) - len(self.curve.get("added_snr_db", []))


class SweepEngine:
    """Runs the grid of a sweep (and the points refinement adds) on an executor.

    Parameters
    ----------
    scenario : kaq_sionna.app.scenario.Scenario
    doc : dict
        The results document (resumed or new); updated in place.
    settings : dict
        ``scenario.sweep_settings(quick)``.
    executor : kaq_sionna.app.executors.Executor
    out_dir : str | Path
    progress : kaq_sionna.app.sweep._Progress-like
        ``header(label, index, total)`` and ``row(...)``.
    threads : int
        TensorFlow threads of an in-process run, passed with each task.
    """

    def __init__(self, scenario, doc, settings, executor, out_dir, progress, threads=0):
        self.scenario = scenario
        self.doc = doc
        self.settings = settings
        self.executor = executor
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.threads = threads
        self.grid = [float(s) for s in settings["snr_db"]]
        self.common = scenario.sweep.get("seeding") == "common"
        self.chunked = self.common and scenario.harq is None
        self.curves = [_Curve(i, e, c) for i, (e, c) in
                       enumerate(zip(scenario.runs, doc["curves"], strict=True))]
        self.outstanding = {}  # handle -> Unit
        self.blocks = self._load_blocks()  # (curve, snr_db) -> packed flags of a finished point
        self.reference = self._references()
        self.stop_when_resolved = bool(scenario.sweep.get("stop_when_resolved"))
        self.plotted = time.monotonic()  # when plot.png was last drawn
        self.shown = None  # curve whose header was printed last
        self.headers = set()  # curves whose table header was printed
        self.new_points = 0

    # ---------------------------------------------------------------- seeds and units
    def seed(self, unit):
        if self.common:
            return chunk_seed(self.scenario.seed, unit.snr_index, max(unit.chunk, 0))
        return point_seed(self.scenario.seed, self.scenario.runs[unit.curve].index,
                          unit.snr_index)

    def _submit(self, unit, tally):
        task = make_task(self.scenario, unit, self.settings, self.seed(unit), self.threads)
        self.outstanding[self.executor.submit(task)] = unit
        tally.submitted += 1

    def _new_tally(self, curve, snr_index, snr_db):
        chunk = 0 if self.chunked else WHOLE_POINT
        return PointTally(Unit(curve.index, snr_index, snr_db, chunk))

    # ---------------------------------------------------------------- the grid
    def run_grid(self, max_points=None):
        """Simulates every unfinished point of the grid. Returns `False` if it stopped after
        ``max_points`` new points (the run is then incomplete and resumable)."""
        try:
            while True:
                self._fill()
                if not self.outstanding:
                    return True
                self._receive()
                self._advance()
                if max_points is not None and self.new_points >= max_points:
                    return False
        finally:
            self._cancel(list(self.outstanding))

    def _needed(self, curve):
        """Grid indices of the points of ``curve`` that are certain to be needed, in order."""
        if curve.done:
            return []
        out = []
        for s in range(curve.next_index, len(self.grid)):
            out.append(s)
            before = curve.tallies.get(s) or curve.finished.get(s)
            if not self.settings["early_stop"]:
                continue
            if before is None or self._errors(before) == 0:
                break
        return out

    def _errors(self, tally):
        """Block errors of a tally that the early-stop rule counts (HARQ: the target round's)."""
        if self.scenario.harq is not None and tally.extra:
            return tally.extra["block_errors_per_round"][self.scenario.harq["target_round"] - 1]
        if tally.unit.chunk == WHOLE_POINT and not tally.final:
            return 0
        return tally.counts["block_errors"]

    def _fill(self):
        window = self.executor.capacity
        for curve in self.curves:
            for s in self._needed(curve):
                if len(self.outstanding) >= window:
                    return
                tally = curve.tallies.get(s)
                if tally is None and s not in curve.finished:
                    tally = curve.tallies[s] = self._new_tally(curve, s, self.grid[s])
                if tally is None or tally.final:
                    continue
                if tally.unit.chunk == WHOLE_POINT:
                    if tally.submitted == 0:
                        self._submit(tally.unit, tally)
                    continue
                for _ in range(tally.wanted(self.settings, window)):
                    if len(self.outstanding) >= window:
                        return
                    unit = Unit(curve.index, s, self.grid[s], tally.submitted)
                    self._submit(unit, tally)

    def _receive(self):
        handle, result, error = self.executor.next_result()
        unit = self.outstanding.pop(handle, None)
        if unit is None:  # cancelled, finished anyway
            return
        curve = self.curves[unit.curve]
        if error is not None:
            self._cancel(list(self.outstanding))
            if isinstance(error, PASSED_THROUGH):  # a bad model or parameter: the user's error
                raise error
            where = f"{curve.entry.label} at {unit.snr_db:g} dB"
            if unit.chunk != WHOLE_POINT:
                where += f" (chunk {unit.chunk})"
            raise UnitFailed(f"{where}: {type(error).__name__}: {error}") from error
        if "mode" in result and "mode" not in curve.curve:  # the execution mode it ran in
            curve.curve.update(result["mode"])
        warning = result.get("warning")
        if warning and warning not in self.doc.setdefault("warnings", []):
            print(f"warning: {warning}", file=self.progress.stream)
            self.doc["warnings"].append(warning)
        tally = curve.tallies.get(unit.snr_index)
        if tally is None or tally.final:
            return  # beyond the stopping point: discarded
        tally.results[max(unit.chunk, 0)] = result

    def _advance(self):
        """Merges received chunks (repeating while a merge unblocks another curve's paired
        rule), moves finished points to their curves and writes the results."""
        changed = True
        while changed:
            changed = False
            for curve in self.curves:
                for s, tally in sorted(curve.tallies.items()):
                    rule = self._resolved_rule(curve) if self.chunked else None
                    if tally.merge(self.settings, rule):
                        changed = True
                        self._live_row(curve, tally)
                    if tally.final:
                        del curve.tallies[s]
                        curve.finished[s] = tally
                        self._cancel([h for h, u in self.outstanding.items()
                                      if u.curve == curve.index and u.snr_index == s])
                self._flush(curve)

    def _flush(self, curve):
        """Appends the finished points of ``curve`` that follow its last one, in SNR order."""
        while not curve.done and curve.next_index in curve.finished:
            s = curve.next_index
            tally = curve.finished.pop(s)
            self._show_header(curve)
            self._append(curve, self.grid[s], tally)
            stop_early = self.settings["early_stop"] and self._errors(tally) == 0
            if stop_early:
                curve.curve["status"][-1] = "no errors - early stop"
            curve.curve["done"] = stop_early or s == len(self.grid) - 1
            self._final_row(curve, self.grid[s], tally, curve.curve["status"][-1])
            if curve.done:  # later points are not needed: drop them
                later = [h for h, u in self.outstanding.items() if u.curve == curve.index]
                self._cancel(later)
                curve.tallies.clear()
                curve.finished.clear()
            self.new_points += 1
            self.write(final=self.doc_complete())

    def _append(self, curve, snr, tally, insert=None):
        counts = dict(tally.counts)
        if insert is None:
            append_point(curve.curve, snr, counts, tally.seconds, tally.status)
            for key, value in tally.extra.items():
                curve.curve[key].append(value)
        else:
            insert(curve.curve, snr, counts, tally.seconds, tally.status)
        if self.chunked:
            self.blocks[(curve.index, float(snr))] = {**pack_flags(tally.block_flags()),
                                                      "chunks": tally.merged}

    # ---------------------------------------------------------------- paired statistics
    def _references(self):
        """curve index -> index of its reference curve (same link-axis value), for the paired
        statistics of ``"common"`` seeding; empty otherwise."""
        if not self.chunked:
            return {}
        runs = self.scenario.runs
        label = self.scenario.sweep.get("paired_reference") or runs[0].series
        out = {}
        for i, run in enumerate(runs):
            ref = next(j for j, r in enumerate(runs) if r.series == label and r.axis == run.axis)
            if ref != i:
                out[i] = ref
        return out

    def _reference_flags(self, curve_index, snr_index, chunk):
        """The reference curve's error flags of one chunk, `None` if it never simulates that
        chunk, or :data:`WAIT` if that is not known yet."""
        ref = self.curves[self.reference[curve_index]]
        packed = self.blocks.get((ref.index, float(self.grid[snr_index])))
        tally = ref.finished.get(snr_index) or ref.tallies.get(snr_index)
        if packed is not None:
            return _chunk_of(unpack_flags(packed), chunk, packed["n"] // max(packed["chunks"], 1))
        if tally is not None and (tally.final or tally.merged > chunk):
            flags = tally.block_flags()
            return _chunk_of(flags, chunk, len(flags) // max(tally.merged, 1))
        if ref.done or snr_index < ref.next_index:
            return None  # the reference stopped before this point (or has no flags stored)
        return WAIT

    def _resolved_rule(self, curve):
        if not self.stop_when_resolved or curve.index not in self.reference:
            return None
        from kaq_sionna.app.paired import paired_difference

        def rule(tally, chunk):
            own = tally.block_flags()
            ref = []
            for k in range(chunk + 1):
                flags = self._reference_flags(curve.index, tally.unit.snr_index, k)
                if flags is WAIT:
                    return WAIT
                if flags is None:
                    break
                ref.append(flags)
            if not ref:
                return False
            ref = np.concatenate(ref)
            c = compare_flags(own, ref)
            return paired_difference(c["only_detector"], c["only_reference"],
                                     c["num_blocks"])[3]
        return rule

    def paired(self):
        """The ``"paired"`` entries of results.json from the stored flags of finished points."""
        out = []
        for i, ref in sorted(self.reference.items()):
            a, r = self.curves[i], self.curves[ref]
            points = []
            for snr in a.curve["snr_db"]:
                fa, fr = self.blocks.get((i, float(snr))), self.blocks.get((ref, float(snr)))
                if fa is not None and fr is not None:
                    points.append((snr, compare_flags(unpack_flags(fa), unpack_flags(fr))))
            if points:
                out.append(paired_entry(a.entry.label, r.entry.label, points))
        return out

    # ---------------------------------------------------------------- storage
    def _load_blocks(self):
        path = self.out_dir / BLOCKS_FILE
        if not path.exists():
            return {}
        try:
            with np.load(path) as data:
                keys, ns, chunks = data["keys"], data["n"], data["chunks"]
                return {(int(k[0]), float(k[1])): {"n": int(n), "chunks": int(c),
                                                   "bits": data[f"b{j}"].tobytes()}
                        for j, (k, n, c) in enumerate(zip(keys, ns, chunks, strict=True))}
        except (OSError, ValueError, KeyError):  # damaged: paired statistics start over
            return {}

    def write(self, final=True):
        """results.json (with the paired entries), CSV, plot and blocks.npz, atomically. The plot
        (about 0.8 s to draw, the client's largest serial cost in a distributed run) is redrawn
        after a point at most every :data:`PLOT_INTERVAL` seconds, and always when ``final``."""
        if self.chunked:
            keys = sorted(self.blocks)
            buf = io.BytesIO()
            np.savez(buf, keys=np.array(keys, float).reshape(-1, 2),
                     n=np.array([self.blocks[k]["n"] for k in keys], np.int64),
                     chunks=np.array([self.blocks[k]["chunks"] for k in keys], np.int64),
                     **{f"b{j}": np.frombuffer(self.blocks[k]["bits"], np.uint8)
                        for j, k in enumerate(keys)})
            atomic_write_bytes(self.out_dir / BLOCKS_FILE, buf.getvalue())
            self.doc["paired"] = self.paired()
        self.doc["complete"] = all(c["done"] for c in self.doc["curves"])
        plot = final or time.monotonic() - self.plotted >= PLOT_INTERVAL
        write_all(self.out_dir, self.doc, plot=plot)
        if plot:
            self.plotted = time.monotonic()

    def doc_complete(self):
        return all(c["done"] for c in self.doc["curves"])

    def _cancel(self, handles):
        for h in handles:
            self.outstanding.pop(h, None)
        self.executor.cancel(handles)

    # ---------------------------------------------------------------- one extra point
    def simulate_added_point(self, curve_index, snr_db, snr_index, insert):
        """Simulates one point outside the grid (refinement) through the executor, with the
        same stopping rules, and inserts it into its curve with ``insert``."""
        curve = self.curves[curve_index]
        tally = self._new_tally(curve, snr_index, snr_db)
        try:
            while not tally.final:
                want = 1 if tally.unit.chunk == WHOLE_POINT and tally.submitted == 0 else \
                    tally.wanted(self.settings, self.executor.capacity)
                for _ in range(want):
                    chunk = WHOLE_POINT if tally.unit.chunk == WHOLE_POINT else tally.submitted
                    self._submit(Unit(curve_index, snr_index, snr_db, chunk), tally)
                handle, result, error = self.executor.next_result()
                unit = self.outstanding.pop(handle, None)
                if unit is None:
                    continue
                if isinstance(error, PASSED_THROUGH):
                    raise error
                if error is not None:
                    raise UnitFailed(f"{curve.entry.label} at {snr_db:g} dB: "
                                     f"{type(error).__name__}: {error}") from error
                tally.results[max(unit.chunk, 0)] = result
                tally.merge(self.settings)
        finally:
            self._cancel(list(self.outstanding))
        self._append(curve, snr_db, tally, insert=insert)
        return tally

    # ---------------------------------------------------------------- progress
    def _show_header(self, curve):
        """The curve's table header with its resumed points the first time a point of it is
        shown; later (a distributed run interleaves curves) a one-line reminder."""
        if self.shown == curve.index:
            return
        self.shown = curve.index
        if curve.index in self.headers:
            print(f"[{curve.index + 1}/{len(self.curves)}] {curve.entry.label}",
                  file=self.progress.stream)
            return
        self.headers.add(curve.index)
        self.progress.header(curve.entry.label, curve.index + 1, len(self.curves))
        c = curve.curve
        if c.get("mode_requested") == "auto":
            print(f"mode: {c['mode']} ({c.get('mode_note') or 'auto'})",
                  file=self.progress.stream)
        for j, snr in enumerate(c["snr_db"][:curve.resumed]):
            self.progress.row(snr, c["bit_errors"][j], c["num_bits"][j], c["block_errors"][j],
                              c["num_blocks"][j], c["seconds"][j], "resumed from results.json",
                              True)

    def _live_row(self, curve, tally):
        if tally.unit.chunk == WHOLE_POINT or not self.progress.live:
            return
        self._show_header(curve)
        c = tally.counts
        self.progress.row(tally.unit.snr_db, c["bit_errors"], c["num_bits"], c["block_errors"],
                          c["num_blocks"], tally.seconds,
                          f"iter {tally.merged}/{self.settings['max_mc_iter']}", final=False)

    def _final_row(self, curve, snr, tally, status):
        c = tally.counts
        self.progress.row(snr, c["bit_errors"], c["num_bits"], c["block_errors"],
                          c["num_blocks"], tally.seconds, status, final=True)


def _chunk_of(flags, chunk, per_chunk):
    """Flags of chunk ``chunk`` (``per_chunk`` blocks each), `None` past the end."""
    if per_chunk <= 0 or (chunk + 1) * per_chunk > len(flags):
        return None
    return flags[chunk * per_chunk:(chunk + 1) * per_chunk]


__all__ = ["SweepEngine", "BLOCKS_FILE"]
