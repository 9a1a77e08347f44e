"""Scaling model of a distributed sweep (docs/performance.md, "Distributed sweeps").

Measures on this machine, with a local Dask cluster of two spawned workers:

* ``o``: the round trip of one unit through the scheduler (submit, run an empty task, receive),
  with the engine's window of units in flight;
* ``c``: the client's work per received unit (merging its counts and deciding the point);
* ``w``: the client's write of results.json and the CSV after a finished point (the plot is
  redrawn at most every 10 s, so it is left out);

and reads from a results.json of a ``seeding = "common"`` sweep the number of units ``U`` (one
per Monte-Carlo batch), of points ``P`` and the mean simulation time per unit ``t``. The model:

    T(N) = max( ceil(U / N) * (t + o),  U * c + P * w )        S(N) = U * t / T(N)

(the workers' share, which cannot go below one unit per round, against the client's serial
share). Usage::

    PYTHONPATH=. python experiments/dask_scaling.py results/crn_4x4_16qam/results.json
"""

import argparse
import json
import math
import operator
import time

from kaq_sionna.app.executors import DaskExecutor
from kaq_sionna.app.results import write_all
from kaq_sionna.app.units import PointTally, Unit, pack_flags


def dispatch_round_trip(executor, units=400):
    """Seconds per empty unit through the scheduler, ``executor.capacity`` in flight."""
    client = executor.client
    client.submit(operator.add, 1, 1).result()  # warm
    start = time.perf_counter()
    futures = [client.submit(operator.add, i, 1, pure=False) for i in range(units)]
    client.gather(futures)
    return (time.perf_counter() - start) / units * min(executor.capacity, units) / 2


def client_merge_cost(blocks_per_unit=512, units=2000):
    """Seconds of the client's merge and decision per unit (a point that never stops)."""
    settings = {"num_target_block_errors": 10**9, "num_target_bit_errors": 0,
                "max_mc_iter": units}
    chunk = {"bit_errors": 3, "num_bits": 512 * 1024, "block_errors": 1,
             "num_blocks": blocks_per_unit, "seconds": 0.1,
             "blocks": pack_flags([True] + [False] * (blocks_per_unit - 1))}
    tally = PointTally(Unit(0, 0, 0.0, 0))
    start = time.perf_counter()
    for k in range(units):
        tally.results[k] = chunk
        tally.merge(settings)
    return (time.perf_counter() - start) / units


def write_cost(doc, out_dir, plot, repeats=5):
    """Seconds of one write of results.json and the CSV (and the plot if ``plot``)."""
    start = time.perf_counter()
    for _ in range(repeats):
        write_all(out_dir, doc, plot=plot)
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.json of a seeding = 'common' sweep")
    parser.add_argument("--out", default="/tmp/kaq-dask-scaling")
    args = parser.parse_args()
    doc = json.load(open(args.results))
    sweep = doc["scenario"]["sweep"]
    if sweep.get("seeding") != "common":
        raise SystemExit(f"{args.results}: expected a seeding = 'common' sweep")
    batch = sweep["batch_size"]
    streams = doc["scenario"]["link"]["num_tx"]
    units = sum(nb // (batch * streams) for c in doc["curves"] for nb in c["num_blocks"])
    points = sum(len(c["snr_db"]) for c in doc["curves"])
    t_unit = sum(sum(c["seconds"]) for c in doc["curves"]) / units
    executor = DaskExecutor(workers=2)
    try:
        o = dispatch_round_trip(executor)
    finally:
        executor.close()
    c = client_merge_cost(batch * streams)
    import pathlib
    pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
    w = write_cost(doc, args.out, plot=False)
    w_plot = write_cost(doc, args.out, plot=True)
    print(f"units U = {units}, points P = {points}, mean unit time t = {t_unit * 1e3:.1f} ms")
    print(f"dispatch round trip o = {o * 1e3:.2f} ms, client merge c = {c * 1e6:.1f} us/unit, "
          f"write w = {w * 1e3:.0f} ms/point (with the plot, drawn at most every 10 s: "
          f"{w_plot * 1e3:.0f} ms)")
    serial = units * t_unit
    print("| workers N | predicted T(N) [s] | speed-up S(N) | bound by |")
    print("| --- | --- | --- | --- |")
    for n in (1, 2, 8, 64, 512):
        workers_share = math.ceil(units / n) * (t_unit + (o if n > 1 else 0.0))
        client_share = units * c + points * w
        t = max(workers_share, client_share)
        what = "workers" if workers_share >= client_share else "client"
        if n >= units:
            what += f" (one unit each: U = {units})"
        print(f"| {n} | {t:.1f} | {serial / t:.1f} | {what} |")


if __name__ == "__main__":
    main()
