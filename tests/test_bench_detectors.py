"""``kaq-sionna bench detectors`` on a tiny configuration: runs, writes valid JSON (no
assertion on timings); memory accounting; bad options."""

import json

import numpy as np
import tensorflow as tf

from kaq_sionna.app.bench.detector_rows import default_rows
from kaq_sionna.app.bench.measure import tf_graph_memory
from kaq_sionna.app.cli import main
from kaq_sionna.deploy.runtime import liveness_peak


def test_bench_detectors_tiny_run_writes_json(tmp_path, capsys):
    out = tmp_path / "bench" / "detectors.json"
    code = main(["bench", "detectors", "--batch-sizes", "1,4", "--repeats", "2",
                 "--threads", "1", "--min-time", "0", "--models",
                 "pgdnet-kaq4/litert-int8,mmse-sic", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "| row | threads | batch |" in text
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "detectors" and doc["config"]["batch_sizes"] == [1, 4]
    # lmmse (ratio reference) and the fp32 references are added to the selection
    rows = {r["name"] for r in doc["config"]["rows"]}
    assert rows == {"lmmse", "mmse-sic", "pgdnet-kaq4/litert-int8", "pgdnet-fp32/litert-fp32",
                    "pgdnet-fp32/tf"}
    cells = {(r["row"], r["batch_size"]) for r in doc["results"]}
    assert cells == {(row, b) for row in rows for b in (1, 4)}
    for r in doc["results"]:
        assert r["threads"] == 1
        if "skipped" in r:
            continue
        lat = r["latency_s"]
        assert 0 < lat["q1"] <= lat["median"] <= lat["q3"]
        assert r["memory"]["weights_bytes"] >= 0 and r["memory"]["activations_bytes_per_cu"] > 0
        assert r["vs_lmmse"] is not None
    int8 = next(r for r in doc["results"] if r["row"] == "pgdnet-kaq4/litert-int8")
    assert int8["fp32_ref"] == "pgdnet-fp32/litert-fp32"
    assert "tensorflow" in doc["versions"] and doc["machine"]["cpu_count"] >= 1


def test_bench_detectors_bad_options(tmp_path, capsys):
    assert main(["bench", "detectors", "--batch-sizes", "0"]) == 2
    assert main(["bench", "detectors", "--threads", "two"]) == 2
    assert main(["bench", "detectors", "--models", "nope", "--repeats", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown row(s) nope" in err and "--threads" in err and "--batch-sizes" in err
    assert main(["bench", "detectors", "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_default_rows_cover_the_requested_detectors():
    names = {r.name for r in default_rows()}
    for name in ("lmmse", "kbest16", "ml", "mmse-sic", "pgdnet-fp32/tf",
                 "pgdnet-fp32/litert-fp32", "pgdnet-kaq4/litert-int8", "admmnet-fp32/tf",
                 "admmnet-fp32/litert-fp32", "admmnet-kaq4/litert-int8",
                 "eqnet-l/estimation/litert-fp32", "eqnet-l/quantization/litert-fp32"):
        assert name in names
    refs = {r.fp32_ref for r in default_rows()} - {None}
    assert refs <= names


def test_memory_accounting():
    # three tensors: 0-1 (10 B), 1-2 (20 B), 2-3 (5 B) -> peak 30 B at step 1
    assert liveness_peak(4, [(0, 1, 10), (1, 2, 20), (2, 3, 5)]) == 30

    w = tf.Variable(tf.ones([4, 4]))

    @tf.function
    def f(x):
        return tf.matmul(x, w) + 1.0

    mem = tf_graph_memory(f.get_concrete_function(tf.zeros([8, 4])), 8)
    assert mem["weights_bytes"] >= 64  # the variable (and the constant 1.0)
    # input (128 B) and matmul output (128 B) are alive together
    assert mem["activations_bytes_per_cu"] >= 32
    assert not mem["loops_not_expanded"]
    np.testing.assert_equal(liveness_peak(1, []), 0)
