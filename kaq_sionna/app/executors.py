"""Where the units of a sweep run: in the client process, or on a Dask cluster.

Both implement :class:`Executor`; the sweep engine (:mod:`kaq_sionna.app.engine`) submits the
same units in the same order to either and decides every point on the chunks in chunk order,
so a serial and a distributed run of a scenario give identical counts.

* :class:`InProcessExecutor` (the default): runs each unit when the engine asks for the next
  result, in submission order.
* :class:`DaskExecutor`: a local cluster of ``workers`` spawned worker processes (Dask's nanny
  starts them with ``spawn``; TensorFlow is not fork-safe), or an existing cluster at
  ``scheduler`` (``dask scheduler`` + ``dask worker`` on each machine, or dask-jobqueue's
  ``SLURMCluster``; docs/distributed.md). A unit on a worker that dies is re-run on another by
  Dask's scheduler (same seed, so the same result).
"""

import os
from typing import Protocol, runtime_checkable

from kaq_sionna.app.worker import clear_cache, run_unit


class UnitFailed(Exception):
    """A unit raised on a worker; the message names the curve, the SNR point and the error."""


@runtime_checkable
class Executor(Protocol):
    """Runs units (plain-dict tasks of :func:`kaq_sionna.app.worker.make_task`)."""

    #: How many units the engine keeps submitted at once.
    capacity: int

    def submit(self, task):
        """Starts ``task``; returns a handle."""

    def next_result(self):
        """Waits for one submitted unit: ``(handle, result, error)`` (one of the two `None`)."""

    def cancel(self, handles):
        """Drops units whose results are no longer needed (best effort)."""

    def describe(self):
        """A JSON-ready description for results.json."""

    def close(self):
        """Releases workers."""


class InProcessExecutor:
    """Runs the units in this process, one at a time, in submission order.

    ``on_batch(task, counts, iterations, seconds)`` reports progress inside a whole-point unit.
    """

    capacity = 1

    def __init__(self, threads=0, on_batch=None):
        self.threads = threads
        self.on_batch = on_batch
        self._queue = []
        self._next = 0

    def submit(self, task):
        handle = self._next
        self._next += 1
        self._queue.append((handle, task))
        return handle

    def next_result(self):
        handle, task = self._queue.pop(0)
        report = None
        if self.on_batch is not None:
            def report(counts, iterations, seconds):
                self.on_batch(task, counts, iterations, seconds)
        try:
            return handle, run_unit(task, report), None
        except Exception as err:  # noqa: BLE001  (reported with the unit by the engine)
            return handle, None, err

    def cancel(self, handles):
        dropped = set(handles)
        self._queue = [(h, t) for h, t in self._queue if h not in dropped]

    def describe(self):
        return {"backend": "in-process", "threads": self.threads}

    def close(self):
        self._queue = []
        clear_cache()


class DaskExecutor:
    """Units as Dask futures, on a new local cluster or an existing one.

    Parameters
    ----------
    workers : int
        Worker processes of a local cluster (ignored with ``scheduler``).
    scheduler : `None` | str
        Address of an existing scheduler (``tcp://host:8786``), or a scheduler file path.
    threads_per_worker : int
        TensorFlow intra/inter-op threads in each worker process (each worker runs one unit at a
        time).
    """

    def __init__(self, workers=2, scheduler=None, threads_per_worker=1):
        import dask
        from dask.distributed import Client, LocalCluster, as_completed

        self.threads = threads_per_worker
        self.cluster = None
        threads = str(threads_per_worker)
        if scheduler:
            if os.path.isfile(scheduler):
                self.client = Client(scheduler_file=scheduler)
            else:
                self.client = Client(scheduler, timeout="30s")
        else:
            env = {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads,
                   "OMP_NUM_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "3"}
            with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=40, env=env)
            self.client = Client(self.cluster)
        self.scheduler = scheduler or self.cluster.scheduler_address
        slots = sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())
        self.capacity = max(2, 2 * slots)
        self._done = as_completed()
        self._submitted = 0
        self._workers = []

    def submit(self, task):
        # Loose affinity: the units of one curve go to one worker when it is free, so that few
        # workers build (load, trace) the same link; any worker may still take them.
        self._submitted += 1
        if self._submitted % 64 == 1:
            self._workers = sorted(self.client.scheduler_info()["workers"])
        where = {}
        if self._workers:
            where = {"workers": [self._workers[task["curve"] % len(self._workers)]],
                     "allow_other_workers": True}
        future = self.client.submit(run_unit, {**task, "threads": self.threads}, pure=False,
                                    **where)
        self._done.add(future)
        return future

    def next_result(self):
        while True:
            future = next(self._done)
            if future.cancelled():
                continue
            try:
                return future, future.result(), None
            except Exception as err:  # noqa: BLE001  (reported with the unit by the engine)
                return future, None, err

    def cancel(self, handles):
        handles = list(handles)
        if handles:
            self.client.cancel(handles)

    def describe(self):
        info = self.client.scheduler_info()["workers"]
        return {"backend": "dask", "scheduler": "local cluster" if self.cluster else
                self.scheduler, "workers": len(info), "threads_per_worker": self.threads}

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(workers=0, scheduler=None, threads_per_worker=1, threads=0, on_batch=None):
    """The executor of ``kaq-sionna run``'s options: Dask with ``--workers N`` (N >= 1) or
    ``--scheduler``, else in-process."""
    if scheduler or workers:
        return DaskExecutor(workers or 2, scheduler, threads_per_worker)
    return InProcessExecutor(threads, on_batch)


__all__ = ["Executor", "InProcessExecutor", "DaskExecutor", "UnitFailed", "make_executor"]
