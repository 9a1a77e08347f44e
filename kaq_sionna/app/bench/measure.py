r"""Timing and memory measurement of the detector benchmark (one thread setting).

* **Timing**: :func:`time_batch` times every row at one batch size, *interleaved*
  (repetition 1 of every row, then repetition 2, ...), so that a change of machine load
  hits all rows alike. A repetition loops the call until ``min_time`` seconds have passed
  and divides, after :data:`WARMUP_CALLS` warm-up calls; a row whose timing would exceed
  the budget (predicted from the previous batch size, then from one call) is skipped with
  the reason.
* **Memory** of a TF graph: :func:`tf_graph_memory` (the LiteRT rows use
  :meth:`kaq_sionna.deploy.runtime.LiteRTModel.memory`), at batch :data:`MEMORY_BATCH`.
"""

import math
import time

import numpy as np

__all__ = ["MEMORY_BATCH", "WARMUP_CALLS", "time_batch", "time_calls", "tf_graph_memory"]

MEMORY_BATCH = 256
WARMUP_CALLS = 2


def tf_graph_memory(concrete_fn, batch_size):
    r"""Weights and peak live activations of a traced TF graph.

    Weights: bytes of the captured variables and of the graph's ``Const``
    tensors. Activations: peak over the graph's ops (creation order, a
    topological order) of the bytes of live op outputs (a tensor lives from its
    op to its last consumer); ops inside ``While`` / ``map_fn`` bodies and
    called functions are not expanded (``loops_not_expanded``), so for such
    graphs the number is a lower bound.

    Input
    -----
    concrete_fn : tf ConcreteFunction traced at a fixed batch size
    batch_size : int

    Output
    ------
    : dict
        ``weights_bytes``, ``activations_bytes_per_cu``, ``loops_not_expanded`` (bool).
    """
    from kaq_sionna.deploy.runtime import liveness_peak

    ops = concrete_fn.graph.get_operations()
    pos = {op.name: i for i, op in enumerate(ops)}
    n = len(ops)
    outputs = {t.name for t in concrete_fn.outputs}
    weights = sum(int(np.prod(v.shape)) * v.dtype.size for v in concrete_fn.variables)
    live, loops = [], False
    for i, op in enumerate(ops):
        if op.type in ("While", "StatelessWhile", "For", "PartitionedCall",
                       "StatefulPartitionedCall", "If", "StatelessIf"):
            loops = True
        for t in op.outputs:
            if t.dtype.name in ("resource", "variant", "string"):
                continue
            if not t.shape.is_fully_defined():
                continue
            nbytes = int(np.prod(t.shape.as_list())) * t.dtype.size
            if op.type == "Const":
                weights += nbytes
                continue
            if op.type == "ReadVariableOp":  # aliases a variable (counted as weights)
                continue
            last = max([pos[c.name] for c in t.consumers()], default=i)
            if t.name in outputs:
                last = n
            live.append((i, last, nbytes))
    return {"weights_bytes": int(weights),
            "activations_bytes_per_cu": liveness_peak(n, live) / batch_size,
            "loops_not_expanded": loops}


def time_calls(fn, n):
    """Seconds per call of ``fn()``, averaged over ``n`` calls in a row."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _skipped(row, threads, batch, msg, stream):
    """The result entry of a skipped cell (and its progress line)."""
    print(f"  [{threads} thr] {row} batch {batch}: skipped ({msg})", file=stream, flush=True)
    return {"row": row, "threads": threads, "batch_size": batch, "skipped": msg}


def time_batch(rows, built, batch, last, threads, config, stream):
    r"""Times every built row at one batch size, interleaved (module docstring).

    Parameters
    ----------
    rows : list of :class:`~kaq_sionna.app.bench.detector_rows.BenchRow`
        In timing order; rows not in ``built`` are left out.
    built : dict
        Row name -> ``(factory, memory)`` of :func:`~kaq_sionna.app.bench.row_calls.build_row`.
    batch : int
    last : dict
        Row name -> ``(batch, seconds per call)`` at the previous batch size (predicts
        the cost of this one); updated with this batch's single-call times.
    threads : int
        Recorded in the entries and progress lines.
    config : dict
        ``repeats``, ``min_time`` and ``max_cell_seconds`` (the budget of one cell).
    stream : file
        Progress lines.

    Output
    ------
    : list of dict
        One entry per row: latency statistics (median, quartiles, min, max in seconds),
        calls per repetition, repetitions and memory, or ``skipped`` with the reason
        (skipped cells first).
    """
    repeats, min_time, budget = config["repeats"], config["min_time"], config["max_cell_seconds"]
    results, active = [], {}
    for row in rows:
        if row.name not in built:
            continue
        if row.name in last:  # predicted from the previous batch size, before calling
            prev_batch, prev_t = last[row.name]
            guess = prev_t * max(batch / prev_batch, 1.0)
            if (repeats + WARMUP_CALLS) * guess > budget:
                results.append(_skipped(
                    row.name, threads, batch,
                    f"predicted {guess:.2f} s per call from batch {prev_batch}: "
                    f"{repeats} repetitions would take about "
                    f"{repeats * guess / 60:.1f} min > --max-cell-seconds {budget:g} s", stream))
                continue
        factory, memory = built[row.name]
        fn = factory(batch)
        for _ in range(WARMUP_CALLS - 1):
            fn()  # traces / allocates
        t1 = time_calls(fn, 1)
        last[row.name] = (batch, t1)
        inner = max(1, math.ceil(min_time / max(t1, 1e-7)))
        if repeats * inner * t1 > budget:
            results.append(_skipped(
                row.name, threads, batch,
                f"one call takes {t1:.2f} s: {repeats} repetitions would take "
                f"{repeats * inner * t1 / 60:.1f} min > --max-cell-seconds {budget:g} s", stream))
            continue
        active[row.name] = (fn, inner, [], memory)
    for _ in range(repeats):
        for fn, inner, times, _mem in active.values():
            times.append(time_calls(fn, inner))
    for name, (_fn, inner, times, memory) in active.items():
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        results.append({"row": name, "threads": threads, "batch_size": batch,
                        "latency_s": {"median": float(med), "q1": float(q1),
                                      "q3": float(q3), "min": float(min(times)),
                                      "max": float(max(times))},
                        "calls_per_repetition": inner, "repetitions": repeats,
                        "memory": memory})
    print(f"  [{threads} thr] batch {batch}: " + ", ".join(
        f"{n} {np.median(v[2]) * 1e3:.3g} ms" for n, v in active.items()),
        file=stream, flush=True)
    return results
