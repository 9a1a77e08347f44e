"""One thread setting of the detector benchmark in its own process (TF fixes its thread pools
at start-up): :func:`run_worker` launches ``python -m kaq_sionna.app.bench.worker``, which runs
:func:`measure_thread_setting` and writes its result as JSON."""

import json
import subprocess
import sys
from pathlib import Path

from kaq_sionna.app.bench.detector_rows import BenchRow, parse_system
from kaq_sionna.app.bench.measure import time_batch
from kaq_sionna.app.bench.row_calls import build_row

__all__ = ["WORKER_MODULE", "measure_thread_setting", "run_worker"]

WORKER_MODULE = "kaq_sionna.app.bench.worker"


def measure_thread_setting(config, threads, export_dir, stream):
    """Measures every row at every batch size with ``threads`` threads (in this process).

    Parameters
    ----------
    config : dict
        The ``config`` of a :func:`~kaq_sionna.app.bench.detectors.bench_detectors` result.
    threads : int
    export_dir : str or Path
        Folder of the converted LiteRT models (shared by the workers of one run).
    stream : file
        Progress lines.

    Output
    ------
    : dict
        ``threads``, ``tensorflow`` (version) and ``results``: rows that could not be built
        (``skipped``), then per batch size the entries of
        :func:`~kaq_sionna.app.bench.measure.time_batch`.
    """
    import tensorflow as tf

    from kaq_sionna.core.params import SpecError
    from kaq_sionna.registry.detectors import LinkContext

    nt, nr, k = parse_system(config["system"])
    ctx = LinkContext(nt, nr, k, "single")
    rows = [BenchRow(**r) for r in config["rows"]]
    built, results = {}, []
    for row in rows:
        try:
            built[row.name] = build_row(row, ctx, export_dir, threads, config["xnnpack"])
        except (KeyError, ValueError, SpecError) as err:
            msg = err.args[0] if isinstance(err, KeyError) else str(err)
            print(f"  [{threads} thr] {row.name}: skipped ({msg})", file=stream, flush=True)
            results.append({"row": row.name, "threads": threads, "skipped": msg})
    last = {}  # row -> (batch, seconds per call) of the previous batch size
    for batch in config["batch_sizes"]:
        results += time_batch(rows, built, batch, last, threads, config, stream)
    return {"threads": threads, "tensorflow": tf.__version__, "results": results}


def run_worker(config, threads, tmp, stream=None):
    """Runs :func:`measure_thread_setting` in a new process and returns its result.

    Parameters
    ----------
    config : dict
        Written to ``tmp/config.json`` for the worker.
    threads : int
    tmp : str or Path
        Folder of the run: the worker's config and output, and the converted LiteRT models.
    stream : file or None
        The worker's progress lines are copied there.

    Output
    ------
    : dict
        The worker's result; :class:`RuntimeError` if the worker fails.
    """
    cfg_path, out_path = Path(tmp) / "config.json", Path(tmp) / f"out-{threads}.json"
    cfg_path.write_text(json.dumps(config))
    if stream is not None:
        print(f"worker: {threads} thread(s)", file=stream, flush=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", WORKER_MODULE, str(cfg_path), str(threads), str(tmp),
         str(out_path)], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if stream is not None:
            print(line, end="", file=stream, flush=True)
    if proc.wait() != 0:
        raise RuntimeError(f"benchmark worker ({threads} threads) failed with exit code "
                           f"{proc.returncode}")
    return json.loads(out_path.read_text())


def _main(argv):
    """``python -m kaq_sionna.app.bench.worker CONFIG THREADS EXPORT_DIR OUT``."""
    cfg_path, threads, export_dir, out_path = argv
    threads = int(threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import kaq_sionna  # noqa: F401  (quiet TF import)

    config = json.loads(Path(cfg_path).read_text())
    out = measure_thread_setting(config, threads, export_dir, sys.stdout)
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    _main(sys.argv[1:])
