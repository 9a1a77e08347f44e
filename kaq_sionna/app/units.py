r"""The work units of a sweep and the in-order decision of when an SNR point is finished.

A sweep is a set of units; each is one call of :func:`kaq_sionna.app.worker.run_unit` on
``(curve, SNR point, chunk)``. How a unit is seeded and how large it is depends on the scenario's
``[sweep] seeding`` (docs/conventions.md, "Seeding and common random numbers"):

``"per-detector"`` (the default of scenarios written before it existed)
    A unit is a whole SNR point: :func:`sionna.phy.utils.sim_ber` with the stopping rules, seeded
    from (scenario seed, curve index, SNR index) by :func:`point_seed`. Detectors at one point
    see different channels.
``"common"`` (common random numbers)
    A unit is one Monte-Carlo batch (a *chunk*), seeded from (scenario seed, SNR index, chunk
    index) only by :func:`chunk_seed`, so that every detector at a point sees the same bits,
    channels and noise in the same order. :class:`PointTally` merges the chunks of a point in
    chunk order and applies the stopping rules after each one, exactly as ``sim_ber`` does
    after each batch; chunks computed beyond the stopping point are discarded. The counts
    therefore do not depend on how many workers ran the chunks, nor in which order they
    finished. A ``[harq]`` point is one unit in both modes (its statistics run batch by batch
    inside the unit), seeded by :func:`chunk_seed` with chunk 0 in the common mode.

This module holds no TensorFlow code: the decisions are plain Python on the counts.
"""

from dataclasses import dataclass, field

import numpy as np

#: ``[sweep] seeding`` values.
SEEDINGS = ("per-detector", "common")

#: Chunk index of a unit that simulates a whole SNR point.
WHOLE_POINT = -1

_MODULUS = 2**31 - 1


def point_seed(seed, detector_index, snr_index):
    """Seed of one SNR point of one curve (``"per-detector"`` seeding): independent of the
    points simulated before it."""
    return (seed * 1_000_003 + detector_index * 10_007 + snr_index) % _MODULUS


def chunk_seed(seed, snr_index, chunk_index):
    """Seed of one chunk of one SNR point (``"common"`` seeding): the same for every detector,
    independent of every other chunk."""
    return (seed * 1_000_003 + (snr_index + 1) * 7_919_177 + chunk_index * 104_729 + 1) \
        % _MODULUS


@dataclass(frozen=True)
class Unit:
    """One unit of work: ``curve`` (index into ``scenario.runs``), ``snr_index`` (grid index, or
    ``len(grid) + k`` for the ``k``-th point added by refinement), ``snr_db`` and ``chunk``
    (:data:`WHOLE_POINT` for a unit that simulates a whole point)."""

    curve: int
    snr_index: int
    snr_db: float
    chunk: int = WHOLE_POINT


#: Status of a point stopped by the paired rule (``[sweep] stop_when_resolved``).
RESOLVED = "difference resolved"

#: :meth:`PointTally.merge` is waiting for the reference curve's chunk.
WAIT = object()


@dataclass
class PointTally:
    """The chunks of one SNR point of one curve, merged in chunk order.

    ``results`` holds received, not yet merged chunk results (``{chunk: result}``); ``counts``
    the sums over the merged chunks; ``blocks`` the per-block error flags of each merged chunk
    (``"common"`` seeding, for the paired statistics); ``status`` the stopping reason once the
    point is finished (then nothing more is merged).
    """

    unit: Unit
    results: dict = field(default_factory=dict)
    counts: dict = field(default_factory=lambda: {"bit_errors": 0, "num_bits": 0,
                                                  "block_errors": 0, "num_blocks": 0})
    blocks: list = field(default_factory=list)
    merged: int = 0
    submitted: int = 0
    seconds: float = 0.0
    status: str = None
    extra: dict = field(default_factory=dict)

    @property
    def final(self):
        return self.status is not None

    @property
    def pending(self):
        """Chunks submitted and not merged (running, or received out of order)."""
        return self.submitted - self.merged

    def merge(self, settings, resolved=None):
        """Merges received chunks in order, deciding after each whether the point stops.

        Input
        -----
        settings : dict
            The sweep settings (``max_mc_iter``, ``num_target_block_errors``,
            ``num_target_bit_errors``).
        resolved : `None` | callable
            ``resolved(tally, chunk) -> bool | WAIT``: the paired rule after merging ``chunk``
            (``True``: the difference to the reference is resolved, stop the point).

        Output
        ------
        bool
            Whether at least one chunk was merged.
        """
        progressed = False
        while not self.final and self.merged in self.results:
            if self.unit.chunk == WHOLE_POINT:  # a whole point: counts and status as given
                result = self.results.pop(self.merged)
                self._add(result)
                self.status = result["status"]
                self.extra = result.get("extra", {})
                return True
            result = self.results.pop(self.merged)
            self._add(result)
            self.merged += 1
            self.status = self._stopping(settings)
            if self.status is None and resolved is not None:
                verdict = resolved(self, self.merged - 1)
                if verdict is WAIT:  # undo: decide this chunk once the reference is known
                    self._remove(result)
                    self.merged -= 1
                    self.results[self.merged] = result
                    break
                if verdict:
                    self.status = RESOLVED
            progressed = True
        return progressed

    def _add(self, result):
        for key in self.counts:
            self.counts[key] += int(result[key])
        self.seconds += float(result["seconds"])
        if "blocks" in result:
            self.blocks.append(result["blocks"])

    def _remove(self, result):
        for key in self.counts:
            self.counts[key] -= int(result[key])
        self.seconds -= float(result["seconds"])
        if "blocks" in result:
            self.blocks.pop()

    def _stopping(self, settings):
        """sim_ber's stopping rules on the merged chunks, or `None` to go on."""
        if self.counts["block_errors"] >= settings["num_target_block_errors"]:
            return "target block errors"
        target_bits = settings.get("num_target_bit_errors") or 0
        if target_bits and self.counts["bit_errors"] >= target_bits:
            return "target bit errors"
        if self.merged >= settings["max_mc_iter"]:
            return "max iterations"
        return None

    def wanted(self, settings, window):
        """How many more chunks to submit now: enough to reach the stopping rule at the error
        rate seen so far (at least one while none is pending, at most ``window`` pending),
        never beyond ``max_mc_iter``. Chunks submitted beyond the stopping point are wasted,
        never wrong."""
        if self.final or self.unit.chunk == WHOLE_POINT:
            return 0
        left = settings["max_mc_iter"] - self.submitted
        if self.merged == 0:
            need = 1
        elif self.counts["block_errors"] == 0:
            need = window
        else:
            rate = self.counts["block_errors"] / self.merged
            need = int(np.ceil((settings["num_target_block_errors"]
                                - self.counts["block_errors"]) / rate))
        return max(0, min(left, need - self.pending, window - self.pending))

    def block_flags(self):
        """Per-block error flags of the merged chunks, concatenated (bool array)."""
        if not self.blocks:
            return np.zeros(0, bool)
        return np.concatenate([unpack_flags(b) for b in self.blocks])


def pack_flags(flags):
    """``{"n": len, "bits": bytes}`` of a bool array (compact for pickling and storage)."""
    flags = np.asarray(flags, bool).ravel()
    return {"n": int(flags.size), "bits": np.packbits(flags).tobytes()}


def unpack_flags(packed):
    """The bool array of :func:`pack_flags`."""
    bits = np.frombuffer(packed["bits"], np.uint8)
    return np.unpackbits(bits, count=packed["n"]).astype(bool)


__all__ = ["SEEDINGS", "WHOLE_POINT", "RESOLVED", "WAIT", "point_seed", "chunk_seed", "Unit",
           "PointTally", "pack_flags", "unpack_flags"]
