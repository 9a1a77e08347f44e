"""Sweeps on Dask: common random numbers, paired statistics, results independent of the executor
(a real scheduler and two real spawned worker processes on localhost), a worker killed mid-run,
a worker that raises."""

import copy
import json
import os
import signal
import textwrap

import numpy as np
import pytest

from kaq_sionna.app.cli import main
from kaq_sionna.app.engine import BLOCKS_FILE
from kaq_sionna.app.executors import DaskExecutor, UnitFailed
from kaq_sionna.app.paired import paired_difference, samples_ratio
from kaq_sionna.app.scenario import ScenarioError, parse_scenario
from kaq_sionna.app.sweep import run_sweep
from kaq_sionna.app.units import PointTally, Unit, chunk_seed, pack_flags, unpack_flags

COUNTS = ("snr_db", "bit_errors", "num_bits", "block_errors", "num_blocks", "status")

CRN = {
    "scenario": {"name": "crn-test", "seed": 5},
    "link": {"type": "coded_mimo", "num_tx": 2, "num_rx": 2, "num_bits_per_symbol": 2,
             "k": 64, "n": 128},
    "sweep": {"snr_db": [2.0, 4.0, 6.0, 12.0], "batch_size": 16, "max_mc_iter": 6,
              "num_target_block_errors": 20, "seeding": "common"},
    "detector": [{"name": "lmmse", "label": "A"}, {"name": "lmmse", "label": "B"},
                 {"name": "zf", "label": "ZF"}],
}


def _scenario(**sweep):
    data = copy.deepcopy(CRN)
    data["sweep"].update(sweep)
    return parse_scenario(data)


def _counts(doc):
    return [{k: c[k] for k in COUNTS} for c in doc["curves"]]


def _quiet(tmp_path):
    return open(tmp_path / "progress.log", "w")


@pytest.fixture(scope="module")
def cluster():
    """A real local cluster: scheduler + 2 spawned worker processes (1 thread each)."""
    ex = DaskExecutor(workers=2, threads_per_worker=1)
    yield ex
    ex.close()


@pytest.fixture(scope="module")
def serial_crn(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return run_sweep(_scenario(), out, stream=open(out / "log", "w")), out


def test_common_random_numbers_give_identical_detectors_identical_counts(serial_crn):
    doc, out = serial_crn
    a, b, zf = doc["curves"]
    assert {k: a[k] for k in COUNTS if k != "status"} == \
        {k: b[k] for k in COUNTS if k != "status"}
    assert a["done"] and zf["done"]
    pairs = {p["detector"]: p for p in doc["paired"]}
    assert set(pairs) == {"B", "ZF"} and all(p["reference"] == "A" for p in pairs.values())
    assert pairs["B"]["only_detector"] == pairs["B"]["only_reference"] == [0] * len(a["snr_db"])
    # ZF is worse than LMMSE on the same blocks: more blocks wrong for ZF only, resolved at 6 dB
    z = pairs["ZF"]
    i6 = z["snr_db"].index(6.0)
    assert z["only_detector"][i6] > 3 * z["only_reference"][i6] and z["resolved"][i6]
    assert z["ci_low"][i6] <= z["bler_difference"][i6] <= z["ci_high"][i6]
    assert (out / BLOCKS_FILE).exists()


def test_per_detector_seeding_draws_other_channels_for_the_same_detector(tmp_path):
    doc = run_sweep(_scenario(seeding="per-detector"), tmp_path, stream=_quiet(tmp_path))
    a, b, _ = doc["curves"]
    assert a["bit_errors"] != b["bit_errors"]
    assert "paired" not in doc


def test_serial_and_two_worker_processes_give_identical_results(cluster, serial_crn, tmp_path):
    doc, _ = serial_crn
    dist = run_sweep(_scenario(), tmp_path, stream=_quiet(tmp_path), executor=cluster)
    assert _counts(dist) == _counts(doc)
    assert dist["paired"] == doc["paired"]
    assert dist["execution"]["backend"] == "dask" and dist["execution"]["workers"] == 2


def test_per_detector_seeding_through_the_cli_scheduler_option(cluster, tmp_path):
    """``kaq-sionna run --scheduler ADDRESS`` on the running cluster equals the serial run."""
    from kaq_sionna.core.params import tomllib

    data = copy.deepcopy(CRN)
    data["sweep"].update(seeding="per-detector", snr_db=[4.0, 8.0])
    toml = tmp_path / "sc.toml"
    toml.write_text(_to_toml(data))
    assert tomllib.loads(toml.read_text()) == data
    assert main(["run", str(toml), "--out", str(tmp_path / "s")]) == 0
    assert main(["run", str(toml), "--out", str(tmp_path / "d"),
                 "--scheduler", cluster.scheduler]) == 0
    serial, dist = (json.loads((tmp_path / d / "results.json").read_text()) for d in "sd")
    assert _counts(dist) == _counts(serial)
    assert dist["execution"]["scheduler"] == cluster.scheduler
    assert "--scheduler" in dist["command"]


def _to_toml(data):
    """The TOML text of a scenario dict (tables of scalars and lists, arrays of tables)."""
    def value(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()
    lines = []
    for section, table in data.items():
        if isinstance(table, list):
            for item in table:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {value(v)}" for k, v in item.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def test_a_worker_killed_mid_run_changes_nothing(cluster, serial_crn, tmp_path):
    doc, _ = serial_crn
    pids = list(cluster.client.run(os.getpid).values())
    received = []

    class Killing:  # the cluster, killing one worker process after the first result
        capacity = cluster.capacity

        def __getattr__(self, name):
            return getattr(cluster, name)

        def next_result(self):
            out = cluster.next_result()
            received.append(out)
            if len(received) == 1:
                os.kill(pids[0], signal.SIGKILL)
            return out

    dist = run_sweep(_scenario(), tmp_path, stream=_quiet(tmp_path), executor=Killing())
    assert len(received) > 1
    assert _counts(dist) == _counts(doc)
    cluster.client.wait_for_workers(2, timeout=120)  # the nanny restarted it


def test_a_worker_that_raises_names_detector_and_point(cluster, tmp_path):
    (tmp_path / "failing_det.py").write_text(textwrap.dedent("""
        from sionna.phy.mimo import LinearDetector

        def make(ctx):
            det = LinearDetector("lmmse", "bit", "app", num_bits_per_symbol=ctx.num_bits_per_symbol,
                                 constellation_type="qam")
            def call(y, h, s):
                import tensorflow as tf
                tf.debugging.assert_less(tf.reduce_mean(tf.abs(y)), 0.0, "detector exploded")
                return det(y, h, s)
            return call
    """))
    data = copy.deepcopy(CRN)
    data["detector"] = [{"name": "lmmse", "label": "A"},
                        {"name": "failing_det:make", "label": "Broken"}]
    (tmp_path / "sc.toml").write_text("")  # the plugin folder is the scenario's folder
    from kaq_sionna.registry import plugins
    plugins.add_search_dir(tmp_path)
    sc = parse_scenario(data, str(tmp_path / "sc.toml"))
    with pytest.raises(UnitFailed, match=r"(?s)Broken at 2 dB.*detector exploded"):
        run_sweep(sc, tmp_path / "dask", stream=_quiet(tmp_path), executor=cluster)
    # in one process the curves run in order: A's finished points are kept
    with pytest.raises(UnitFailed, match=r"(?s)Broken at 2 dB.*detector exploded"):
        run_sweep(sc, tmp_path / "serial", stream=_quiet(tmp_path))
    saved = json.loads((tmp_path / "serial" / "results.json").read_text())
    assert not saved["complete"] and saved["curves"][0]["done"]
    assert saved["curves"][0]["snr_db"] and not saved["curves"][1]["snr_db"]


def test_stop_when_resolved_stops_early_and_deterministically(cluster, tmp_path):
    sc = _scenario(stop_when_resolved=True, max_mc_iter=30, num_target_block_errors=200,
                   snr_db=[6.0, 8.0])
    serial = run_sweep(sc, tmp_path / "s", stream=_quiet(tmp_path))
    zf = serial["curves"][2]
    assert "difference resolved" in zf["status"]
    assert min(zf["num_blocks"]) < 30 * 32  # before max iterations
    dist = run_sweep(sc, tmp_path / "d", stream=_quiet(tmp_path), executor=cluster)
    assert _counts(dist) == _counts(serial)


def test_a_resumed_run_keeps_the_paired_statistics(serial_crn, tmp_path):
    doc, _ = serial_crn
    sc = _scenario()
    run_sweep(sc, tmp_path, stream=_quiet(tmp_path), max_points=3)
    again = run_sweep(sc, tmp_path, stream=_quiet(tmp_path))
    assert _counts(again) == _counts(doc) and again["paired"] == doc["paired"]


# ---------------------------------------------------------------- pure logic
def test_chunks_are_merged_in_order_whatever_the_arrival_order():
    settings = {"num_target_block_errors": 5, "num_target_bit_errors": 0, "max_mc_iter": 10}
    chunks = [{"bit_errors": e, "num_bits": 100, "block_errors": e, "num_blocks": 4,
               "seconds": 0.0, "blocks": pack_flags([1] * e + [0] * (4 - e))}
              for e in (1, 0, 3, 2, 4)]
    finals = []
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]):
        t = PointTally(Unit(0, 0, 0.0, 0))
        for k in order:
            t.results[k] = chunks[k]
            t.merge(settings)
        finals.append((t.merged, dict(t.counts), t.status))
    assert finals[0] == finals[1] == finals[2]
    assert finals[0][0] == 4 and finals[0][1]["block_errors"] == 6  # stopped at chunk 3
    assert finals[0][2] == "target block errors"


def test_chunk_seeds_do_not_depend_on_the_detector_and_differ_between_chunks():
    seeds = {chunk_seed(5, s, k) for s in range(20) for k in range(50)}
    assert len(seeds) == 1000


def test_packed_flags_round_trip():
    flags = np.random.default_rng(0).random(77) < 0.3
    assert np.array_equal(unpack_flags(pack_flags(flags)), flags)


def test_paired_interval_is_mcnemars_exact_test():
    diff, low, high, resolved = paired_difference(9, 1, 100)
    assert diff == pytest.approx(0.08) and low > 0 and resolved  # exact McNemar p = 0.021
    diff, low, high, resolved = paired_difference(7, 2, 100)
    assert low < 0 < high and not resolved  # p = 0.18
    _, low, high, resolved = paired_difference(0, 0, 100)
    assert low < 0 < high and not resolved
    # shared errors make the paired comparison cheaper than independent runs
    assert samples_ratio(30, 25, 6, 1, 100) > 5


def test_pairing_options_are_validated():
    with pytest.raises(ScenarioError, match="paired_reference.*'A', 'B', 'ZF'.*'LMMSE'"):
        _scenario(paired_reference="LMMSE")
    with pytest.raises(ScenarioError, match="stop_when_resolved.*seeding"):
        _scenario(seeding="per-detector", stop_when_resolved=True)
    assert _scenario(paired_reference="ZF").sweep["paired_reference"] == "ZF"


def test_cli_execution_options_are_checked_before_anything_runs(tmp_path, capsys):
    path = tmp_path / "sc.toml"
    path.write_text("")
    assert main(["run", str(path), "--workers", "-1"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["run", str(path), "--workers", "2", "--scheduler", "tcp://x:1"]) == 2
    assert "found both" in capsys.readouterr().err
    assert main(["run", str(path), "--threads-per-worker", "0"]) == 2


def test_in_process_is_the_default_executor(serial_crn):
    doc, _ = serial_crn
    assert doc["execution"]["backend"] == "in-process"


def test_harq_points_run_on_the_cluster_with_identical_results(cluster, tmp_path):
    data = copy.deepcopy(CRN)
    data["link"].update(num_bits_per_symbol=4, k=128, n=256)
    data["sweep"].update(snr_db=[0.0, 3.0], max_mc_iter=2, num_target_block_errors=5,
                         early_stop=False)
    data["harq"] = {"max_transmissions": 3, "storage": ["float32", "uniform3"]}
    data["detector"] = [{"name": "lmmse", "label": "A"}, {"name": "lmmse", "label": "B"}]
    sc = parse_scenario(data)
    serial = run_sweep(sc, tmp_path / "s", stream=_quiet(tmp_path))
    dist = run_sweep(sc, tmp_path / "d", stream=_quiet(tmp_path), executor=cluster)
    fields = COUNTS + ("block_errors_per_round", "stored_bits_max")
    assert [{k: c[k] for k in fields} for c in dist["curves"]] == \
        [{k: c[k] for k in fields} for c in serial["curves"]]
    # common seeding: the same detector and storage under two labels gives the same counts
    a_float, _, b_float, b_uniform = serial["curves"]
    assert a_float["block_errors_per_round"] == b_float["block_errors_per_round"]
    assert b_uniform["storage"] == "uniform3"
