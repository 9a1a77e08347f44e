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
  :func:`tf_graph_memory`).

TF rows run as ``tf.function`` graphs (no XLA) on complex inputs; LiteRT rows
on the real-valued inputs (:func:`~kaq_sionna.deploy.real_model.real_inputs`,
converted once outside the timed region), with the default op resolver
(XNNPACK delegate) or, with ``xnnpack=False`` (``--no-xnnpack``), the builtin
kernels only. A thread setting runs in its own worker process (TF fixes
its thread pools at start-up), one after the other; the LiteRT models are
converted once, by the first worker, into a temporary folder.

Rows whose timing would exceed ``max_cell_seconds`` (predicted from one call)
are skipped with the reason in the output (exhaustive ML at large batches).
"""

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kaq_sionna.app.results import atomic_write_text

__all__ = ["BenchRow", "DEFAULT_BATCH_SIZES", "add_ratios", "bench_detectors", "default_rows",
           "extra_rows", "format_table", "format_wide_table", "tf_graph_memory", "write_json"]

DEFAULT_BATCH_SIZES = (1, 16, 8192)
MEMORY_BATCH = 256
WARMUP_CALLS = 2


@dataclass(frozen=True)
class BenchRow:
    """One benchmarked detector.

    Attributes
    ----------
    name : str
        Row name (``--models`` selects by it).
    runtime : "tf" | "litert"
    precision : "fp32" | "fp16" | "int8" | "fake-quant" (TF twin of a quantized model)
    source : str
        Registry detector name (``lmmse``, ``kbest``, ``ml``, ``mmse-sic``) or pretrained name.
    part : str or None
        Export part (``detector``, ``network``, ``estimation``, ``quantization`` =
        encoder then decoder).
    fp32_ref : str or None
        Row name of the fp32 reference of the ratio column.
    params : dict
        Registry parameters.
    """

    name: str
    runtime: str
    precision: str
    source: str
    part: str = None
    fp32_ref: str = None
    params: dict = field(default_factory=dict)


def extra_rows(system="4x4-16qam"):
    """Rows that run only when named in ``models``: EQ-Net's quantization encoder
    (f_Q + codebooks) and decoder (codebooks + g_Q) timed separately in LiteRT."""
    eq = f"eqnet-l-{system}"
    rows = []
    for part in ("encoder", "decoder"):
        rows += [BenchRow(f"eqnet-l/{part}/litert-fp32", "litert", "fp32", eq, part),
                 BenchRow(f"eqnet-l/{part}/litert-int8", "litert", "int8", eq, part,
                          f"eqnet-l/{part}/litert-fp32")]
    return rows


def default_rows(system="4x4-16qam"):
    """The rows of the default benchmark for ``system`` (shipped models of that system)."""
    rows = [BenchRow("lmmse", "tf", "fp32", "lmmse"),
            BenchRow("kbest16", "tf", "fp32", "kbest", params={"list_size": 16}),
            BenchRow("ml", "tf", "fp32", "ml"),
            BenchRow("mmse-sic", "tf", "fp32", "mmse-sic")]
    for fam in ("pgdnet", "admmnet"):
        fp32, kaq4, qat4 = (f"{fam}-{m}-{system}" for m in ("fp32", "kaq4", "qatmse4"))
        rows += [
            BenchRow(f"{fam}-fp32/tf", "tf", "fp32", fp32, "detector"),
            BenchRow(f"{fam}-kaq4/tf", "tf", "fake-quant", kaq4, "detector", f"{fam}-fp32/tf"),
            BenchRow(f"{fam}-fp32/litert-fp32", "litert", "fp32", fp32, "detector",
                     f"{fam}-fp32/tf"),
            BenchRow(f"{fam}-fp32/litert-fp16", "litert", "fp16", fp32, "detector",
                     f"{fam}-fp32/litert-fp32"),
            BenchRow(f"{fam}-kaq4/litert-int8", "litert", "int8", kaq4, "detector",
                     f"{fam}-fp32/litert-fp32"),
            BenchRow(f"{fam}-qatmse4/litert-int8", "litert", "int8", qat4, "detector",
                     f"{fam}-fp32/litert-fp32"),
            BenchRow(f"{fam}-fp32/litert-fp32/network", "litert", "fp32", fp32, "network",
                     f"{fam}-fp32/tf"),
            BenchRow(f"{fam}-kaq4/litert-int8/network", "litert", "int8", kaq4, "network",
                     f"{fam}-fp32/litert-fp32/network"),
        ]
    for variant in ("l", "p"):  # EQ-Net-L always; EQ-Net-P when it is shipped
        eq, tag = f"eqnet-{variant}-{system}", f"eqnet-{variant}"
        if variant == "p":
            from kaq_sionna import pretrained

            if eq not in pretrained.available():
                continue
        for part in ("estimation", "quantization"):
            rows += [
                BenchRow(f"{tag}/{part}/tf", "tf", "fp32", eq, part),
                BenchRow(f"{tag}/{part}/litert-fp32", "litert", "fp32", eq, part,
                         f"{tag}/{part}/tf"),
                BenchRow(f"{tag}/{part}/litert-int8", "litert", "int8", eq, part,
                         f"{tag}/{part}/litert-fp32"),
            ]
    return rows


def _parse_system(system):
    try:
        ant, mod = system.split("-")
        nt, nr = (int(v) for v in ant.split("x"))
        order = int(mod.removesuffix("qam"))
        k = int(round(math.log2(order)))
        if 2 ** k != order or nt < 1 or nr < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"system: expected <ntx>x<nrx>-<M>qam (e.g. 4x4-16qam), found "
                         f"{system!r}") from None
    return nt, nr, k


# ---------------------------------------------------------------------------- memory (TF)

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


# ---------------------------------------------------------------------------- callables

def _build_row(row, ctx, export_dir, threads, xnnpack=True):
    """Returns ``(factory, memory)`` for a row: ``factory(batch)`` draws a batch and returns
    a function that runs one call on it; ``memory`` is a dict (weights, activations)."""
    import tensorflow as tf

    from kaq_sionna.quantization.calibration import rayleigh_mimo_batch
    from kaq_sionna.registry.detectors import build_detector

    nt, nr, k = ctx.num_tx, ctx.num_rx, ctx.num_bits_per_symbol

    def draw(batch):
        return rayleigh_mimo_batch(nt, nr, k, batch, (0.0, 25.0), seed=1234 + batch,
                                   precision="single")

    model = None
    if row.source not in ("lmmse", "kbest", "ml", "mmse-sic"):
        from kaq_sionna.registry import load_pretrained

        model = load_pretrained(row.source, **({} if row.source.startswith("eqnet")
                                               else {"precision": "single"}))

    def llr_of(y, h, s):  # input of the quantization path: EQ-Net's own estimate
        return model.estimate(y, h, s)

    if row.runtime == "tf":
        if model is None:
            call = build_detector(row.source, ctx, **row.params)
        elif row.part == "quantization":  # compress + decompress of given LLRs
            def call(llr):
                return model.decompress(model.compress(llr))
        elif row.part == "network":
            def call(y, h, s):
                return model.estimate(y, h, s).x_real
        else:
            call = model
        fn = tf.function(call)

        def args_of(batch):
            y, h, s = draw(batch).inputs
            return (llr_of(y, h, s),) if row.part == "quantization" else (y, h, s)

        def factory(batch):
            args = args_of(batch)
            return lambda: fn(*args).numpy()

        cf = fn.get_concrete_function(*args_of(MEMORY_BATCH))
        return factory, tf_graph_memory(cf, MEMORY_BATCH)

    # LiteRT
    from kaq_sionna.deploy.export import export_model
    from kaq_sionna.deploy.real_model import real_inputs
    from kaq_sionna.deploy.runtime import LiteRTModel

    parts = ("encoder", "decoder") if row.part == "quantization" else (row.part,)
    models = []
    for part in parts:
        path = Path(export_dir) / f"{row.source}-{part}-{row.precision}.tflite"
        if not path.exists():
            _, _, content = export_model(row.source, row.precision, part)
            path.write_bytes(content)
        models.append(LiteRTModel(model_path=str(path), num_threads=threads,
                                  xnnpack=xnnpack))
    memory = [m.memory(MEMORY_BATCH) for m in models]
    memory = {key: sum(m[key] for m in memory) for key in memory[0]}

    def factory(batch):
        y, h, s = draw(batch).inputs
        yr, hr, sr = real_inputs(y, h, s)
        if row.part == "encoder":
            llr = llr_of(y, h, s).numpy()
            return lambda: models[0](llr=llr)
        if row.part == "decoder":
            codes = model.compress(llr_of(y, h, s)).numpy().astype(np.int32)
            return lambda: models[0](codes=codes)
        if row.part == "quantization":
            llr = llr_of(y, h, s).numpy()
            enc, dec = models

            def run():
                codes = enc(llr=llr)["codes"]
                return dec(codes=codes)["llr"]
            return run
        m = models[0]
        return lambda: m(y_real=yr, h_real=hr, s_real=sr)

    return factory, memory


# ---------------------------------------------------------------------------- timing

def _time_calls(fn, n):
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _worker(config, threads, export_dir, stream):
    """Measures every row at every batch size with ``threads`` threads (one process)."""
    import tensorflow as tf

    from kaq_sionna.core.params import SpecError
    from kaq_sionna.registry.detectors import LinkContext

    nt, nr, k = _parse_system(config["system"])
    ctx = LinkContext(nt, nr, k, "single")
    rows = [BenchRow(**r) for r in config["rows"]]
    repeats, min_time = config["repeats"], config["min_time"]
    built, results = {}, []
    for row in rows:
        try:
            built[row.name] = _build_row(row, ctx, export_dir, threads, config["xnnpack"])
        except (KeyError, ValueError, SpecError) as err:
            msg = err.args[0] if isinstance(err, KeyError) else str(err)
            print(f"  [{threads} thr] {row.name}: skipped ({msg})", file=stream, flush=True)
            results.append({"row": row.name, "threads": threads, "skipped": msg})
    last = {}  # row -> (batch, seconds per call) of the previous batch size
    budget = config["max_cell_seconds"]
    for batch in config["batch_sizes"]:
        active = {}
        for row in rows:
            if row.name not in built:
                continue
            if row.name in last:  # predicted from the previous batch size, before calling
                prev_batch, prev_t = last[row.name]
                guess = prev_t * max(batch / prev_batch, 1.0)
                if (repeats + WARMUP_CALLS) * guess > budget:
                    msg = (f"predicted {guess:.2f} s per call from batch {prev_batch}: "
                           f"{repeats} repetitions would take about "
                           f"{repeats * guess / 60:.1f} min > --max-cell-seconds {budget:g} s")
                    print(f"  [{threads} thr] {row.name} batch {batch}: skipped ({msg})",
                          file=stream, flush=True)
                    results.append({"row": row.name, "threads": threads, "batch_size": batch,
                                    "skipped": msg})
                    continue
            factory, memory = built[row.name]
            fn = factory(batch)
            for _ in range(WARMUP_CALLS - 1):
                fn()  # traces / allocates
            t1 = _time_calls(fn, 1)
            last[row.name] = (batch, t1)
            inner = max(1, math.ceil(min_time / max(t1, 1e-7)))
            if repeats * inner * t1 > budget:
                msg = (f"one call takes {t1:.2f} s: {repeats} repetitions would take "
                       f"{repeats * inner * t1 / 60:.1f} min > --max-cell-seconds {budget:g} s")
                print(f"  [{threads} thr] {row.name} batch {batch}: skipped ({msg})",
                      file=stream, flush=True)
                results.append({"row": row.name, "threads": threads, "batch_size": batch,
                                "skipped": msg})
                continue
            active[row.name] = (fn, inner, [], memory)
        for _ in range(repeats):
            for fn, inner, times, _mem in active.values():
                times.append(_time_calls(fn, inner))
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
    return {"threads": threads, "tensorflow": tf.__version__, "results": results}


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
        Row names to run (default: :func:`default_rows`; :func:`extra_rows` only when
        named); ``lmmse`` is always added (the ratio reference), as is each selected
        row's ``fp32_ref``.
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
    _parse_system(system)
    rows = default_rows(system)
    by_name = {r.name: r for r in rows + extra_rows(system)}
    if models:
        unknown = [m for m in models if m not in by_name]
        if unknown:
            raise ValueError(f"--models: unknown row(s) {', '.join(unknown)}; rows: "
                             f"{', '.join(by_name)}")
        wanted = {"lmmse", *models}
        for m in list(wanted):
            ref = by_name[m].fp32_ref
            while ref:
                wanted.add(ref)
                ref = by_name[ref].fp32_ref
        rows = [r for r in by_name.values() if r.name in wanted]
    thread_values = _thread_values(threads)
    config = {"system": system, "batch_sizes": [int(b) for b in batch_sizes],
              "threads": list(threads), "thread_values": thread_values, "repeats": int(repeats),
              "min_time": float(min_time), "max_cell_seconds": float(max_cell_seconds),
              "rows": [asdict(r) for r in rows], "tf_mode": "graph (tf.function, no XLA)",
              "memory_batch": MEMORY_BATCH, "warmup_calls": WARMUP_CALLS,
              "xnnpack": bool(xnnpack)}
    workers, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kaq-bench-") as tmp:
        for t in thread_values:
            cfg_path, out_path = Path(tmp) / "config.json", Path(tmp) / f"out-{t}.json"
            cfg_path.write_text(json.dumps(config))
            if stream is not None:
                print(f"worker: {t} thread(s)", file=stream, flush=True)
            proc = subprocess.Popen(
                [sys.executable, "-m", "kaq_sionna.app.bench_detectors", str(cfg_path), str(t),
                 tmp, str(out_path)], stdout=subprocess.PIPE, text=True)
            for line in proc.stdout:
                if stream is not None:
                    print(line, end="", file=stream, flush=True)
            if proc.wait() != 0:
                raise RuntimeError(f"benchmark worker ({t} threads) failed with exit code "
                                   f"{proc.returncode}")
            workers.append(json.loads(out_path.read_text()))
    result = {"benchmark": "detectors", "config": config,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "processor": platform.processor() or platform.machine(),
                          "load_average_at_end": list(os.getloadavg())},
              "versions": _versions(), "seconds": time.perf_counter() - start,
              "results": [r for w in workers for r in w["results"]]}
    add_ratios(result)
    return result


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("tensorflow", "sionna-no-rt", "ai-edge-litert", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


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


def _fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def format_table(result):
    """Markdown table of a :func:`bench_detectors` result (plus the skipped cells)."""
    lines = ["| row | threads | batch | latency median [ms] | IQR [ms] | per channel use [us] "
             "| vs LMMSE | vs fp32 ref | weights [B] | activations [B/cu] |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    skipped = []
    for r in result["results"]:
        if "skipped" in r:
            skipped.append(f"- {r['row']} ({r['threads']} thr"
                           + (f", batch {r['batch_size']}" if "batch_size" in r else "")
                           + f"): skipped, {r['skipped']}")
            continue
        lat = r["latency_s"]
        mem = r["memory"]
        plus = "+" if mem.get("loops_not_expanded") else ""  # lower bounds
        act_s = f"{mem['activations_bytes_per_cu']:.0f}{plus}"
        lines.append(
            f"| {r['row']} | {r['threads']} | {r['batch_size']} | {lat['median'] * 1e3:.4g} | "
            f"{(lat['q3'] - lat['q1']) * 1e3:.2g} | "
            f"{lat['median'] / r['batch_size'] * 1e6:.3g} | {_fmt_ratio(r.get('vs_lmmse'))} | "
            f"{_fmt_ratio(r.get('vs_fp32_ref'))} | {mem['weights_bytes']}{plus} | {act_s} |")
    note = ("", "+: lower bound (loop bodies or called functions of the TF graph are not "
                "expanded)") if any(r.get("memory", {}).get("loops_not_expanded")
                                   for r in result["results"]) else ()
    return "\n".join(lines + list(note) + ([""] + skipped if skipped else []))


def format_wide_table(result, threads):
    """Markdown table of one thread setting: a row per detector, a column per batch size
    (median latency in ms with its IQR, ratio to LMMSE, ratio to the fp32 reference)."""
    batches = result["config"]["batch_sizes"]
    cells = {(r["row"], r["batch_size"]): r for r in result["results"]
             if r["threads"] == threads and "batch_size" in r}
    names = [r["name"] for r in result["config"]["rows"]]
    head = " | ".join(f"batch {b}: ms (IQR) / xLMMSE / xfp32" for b in batches)
    lines = [f"| row ({threads} thread{'s' if threads > 1 else ''}) | {head} | weights [B] | "
             "activations [B/cu] | fp32 ref |",
             "| --- | " + " | ".join("---" for _ in batches) + " | --- | --- | --- |"]
    for name in names:
        row, mem = [], None
        for b in batches:
            r = cells.get((name, b))
            if r is None:
                row.append("-")
            elif "skipped" in r:
                row.append("skipped")
            else:
                lat, mem = r["latency_s"], r["memory"]
                row.append(f"{lat['median'] * 1e3:.3g} ({(lat['q3'] - lat['q1']) * 1e3:.2g}) / "
                           f"{_fmt_ratio(r.get('vs_lmmse'))} / {_fmt_ratio(r.get('vs_fp32_ref'))}")
        if mem is None:
            continue
        plus = "+" if mem.get("loops_not_expanded") else ""
        ref = next(r["fp32_ref"] for r in result["config"]["rows"] if r["name"] == name) or "-"
        lines.append(f"| {name} | " + " | ".join(row) + f" | {mem['weights_bytes']}{plus} | "
                     f"{mem['activations_bytes_per_cu']:.0f}{plus} | {ref} |")
    return "\n".join(lines)


def write_json(path, result):
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")


def _main(argv):
    if argv and argv[0] == "--table":  # python -m kaq_sionna.app.bench_detectors --table JSON
        result = json.loads(Path(argv[1]).read_text())
        for t in result["config"]["thread_values"]:
            print(format_wide_table(result, t) + "\n")
        return
    cfg_path, threads, export_dir, out_path = argv
    threads = int(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import kaq_sionna  # noqa: F401  (quiet TF import)

    config = json.loads(Path(cfg_path).read_text())
    out = _worker(config, threads, export_dir, sys.stdout)
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    _main(sys.argv[1:])
