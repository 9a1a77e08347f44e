"""Sweeps: results.json schema, resumption, changed-scenario refusal, CLI exit codes."""

import json
import subprocess
import sys

import pytest

from kaq_sionna.app.cli import main
from kaq_sionna.app.results import CURVE_FIELDS, SCHEMA_VERSION, load_results, validate_results
from kaq_sionna.app.scenario import load_scenario
from kaq_sionna.app.sweep import ResumeConflict, run_sweep, summary_table

TINY = """
[scenario]
name = "tiny"
seed = 7

[link]
type = "coded_mimo"
num_tx = 2
num_rx = 2
num_bits_per_symbol = 2
k = 64
n = 128

[sweep]
snr_db = [-4.0, 0.0, 4.0]
batch_size = 16
max_mc_iter = 2
num_target_block_errors = 10
early_stop = false

[[detector]]
name = "lmmse"

[[detector]]
name = "zf"
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _curves_without_time(doc):
    return [{k: v for k, v in c.items() if k != "seconds"} for c in doc["curves"]]


def test_results_files_and_schema(tiny, tmp_path):
    out = tmp_path / "out"
    doc = run_sweep(load_scenario(tiny), out, command="test")
    assert {p.name for p in out.iterdir()} == {"results.json", "results.csv", "plot.png"}
    saved = load_results(out / "results.json")
    validate_results(saved)
    assert saved["schema_version"] == SCHEMA_VERSION and saved["complete"] is True
    assert saved["seed"] == 7 and saved["versions"]["sionna"].startswith("1.2")
    assert [c["detector"] for c in saved["curves"]] == ["lmmse", "zf"]
    for curve in saved["curves"]:
        assert curve["snr_db"] == [-4.0, 0.0, 4.0]
        assert all(len(curve[f]) == 3 for f in CURVE_FIELDS)
        assert all(0 <= b <= 1 for b in curve["bler"])
        assert curve["num_blocks"][0] >= 2 * 16  # 2 streams x 16 codewords at least
    assert saved["curves"] == json.loads(json.dumps(doc["curves"]))
    csv_lines = (out / "results.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 1 + 6
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_resumed_run_equals_uninterrupted_run(tiny, tmp_path):
    scenario = load_scenario(tiny)
    full = run_sweep(scenario, tmp_path / "full")
    partial = run_sweep(scenario, tmp_path / "resumed", max_points=2)
    assert not partial["complete"]
    assert load_results(tmp_path / "resumed" / "results.json")["complete"] is False
    resumed = run_sweep(scenario, tmp_path / "resumed")
    assert resumed["complete"]
    assert _curves_without_time(resumed) == _curves_without_time(full)


def test_changed_scenario_is_refused_unless_restarted(tiny, tmp_path):
    run_sweep(load_scenario(tiny), tmp_path / "o", max_points=1)
    tiny.write_text(TINY.replace("k = 64", "k = 32"))
    changed = load_scenario(tiny)
    with pytest.raises(ResumeConflict, match="link.k"):
        run_sweep(changed, tmp_path / "o")
    doc = run_sweep(changed, tmp_path / "o", restart=True, max_points=1)
    assert doc["scenario"]["link"]["k"] == 32


def test_early_stop_skips_points_after_an_error_free_one(tiny, tmp_path):
    tiny.write_text(TINY.replace("early_stop = false", "early_stop = true")
                    .replace("[-4.0, 0.0, 4.0]", "[30.0, 31.0]"))
    doc = run_sweep(load_scenario(tiny), tmp_path / "o")
    for curve in doc["curves"]:
        assert curve["snr_db"] == [30.0] and curve["done"]
        assert curve["status"] == ["no errors - early stop"]
    assert doc["complete"]


def test_cli_exit_codes(tiny, tmp_path, capsys):
    assert main(["list"]) == 0
    assert "kbest" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {"lmmse", "zf", "kbest", "ep", "mmse-pic", "ml"} <= {d["name"] for d in
                                                               listing["detectors"]}
    assert [lk["name"] for lk in listing["links"]] == ["coded_mimo", "ofdm", "pusch"]

    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("num_bits_per_symbol = 2", "num_bits_per_symbol = 3"))
    assert main(["run", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "num_bits_per_symbol" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()  # nothing ran

    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert main(["run", str(tiny), "--quick", "--out", str(tmp_path / "q")]) == 0
    assert load_results(tmp_path / "q" / "results.json")["quick"] is True
    # a full run into the quick run's directory must not mix results
    assert main(["run", str(tiny), "--out", str(tmp_path / "q")]) == 2
    assert "--restart" in capsys.readouterr().err


def test_user_error_has_no_traceback_in_a_real_process(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("k = 64", "k = 200"))
    proc = subprocess.run([sys.executable, "-m", "kaq_sionna", "run", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "[link] k" in proc.stderr and "Traceback" not in proc.stderr
    assert "cuda" not in proc.stderr.lower()  # the TF import noise is hidden


def test_sigterm_keeps_finished_points_and_rerun_resumes(tiny, tmp_path):
    import os
    import signal
    import time

    # many slow-enough points, so that the sweep is still running when the signal arrives
    # (after the first point has been written; the first point includes the tracing)
    grid = ", ".join(f"{-4.0 + 0.25 * i:.2f}" for i in range(30))
    tiny.write_text(TINY.replace("[-4.0, 0.0, 4.0]", f"[{grid}]")
                    .replace("max_mc_iter = 2", "max_mc_iter = 6")
                    .replace("num_target_block_errors = 10", "num_target_block_errors = 1000000"))
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "kaq_sionna", "run", str(tiny), "--out",
                             str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    while not (out / "results.json").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no SNR point finished in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert "resume" in proc.stderr.read()
    kept = load_results(out / "results.json")
    validate_results(kept)
    assert not kept["complete"] and len(kept["curves"][0]["snr_db"]) >= 1
    doc = run_sweep(load_scenario(tiny), out)
    assert doc["complete"]
    first = kept["curves"][0]
    n = len(first["snr_db"])
    assert doc["curves"][0]["block_errors"][:n] == first["block_errors"]


def test_bench_link_writes_json_and_rejects_bad_modes(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "link", "--batch-size", "2", "--repeats", "1", "--modes", "graph",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["mode"] for r in result["rows"]] == ["graph"]
    row = result["rows"][0]
    assert row["link_mbps"] > 0 and row["plain_mbps"] > 0
    assert row["ratio"] == pytest.approx(row["link_mbps"] / row["plain_mbps"])
    assert main(["bench", "link", "--modes", "graph,turbo"]) == 2
    assert "turbo" in capsys.readouterr().err


def test_link_axis_curves_equal_runs_with_the_value_in_link(tmp_path):
    """A [sweep.link_axis] curve reuses its detector's seeds: it equals the curve of the same
    scenario with [link] <key> = value. results.json, CSV and summary table name the value."""
    axis_toml = TINY.replace("snr_db = [-4.0, 0.0, 4.0]", "snr_db = [0.0]").replace(
        "[[detector]]", "[sweep.link_axis]\ncsi_error_var = [0.0, 0.1]\n\n[[detector]]", 1)
    path = tmp_path / "axis.toml"
    path.write_text(axis_toml)
    doc = run_sweep(load_scenario(path), tmp_path / "axis")
    assert [c["label"] for c in doc["curves"]] == [
        "lmmse, csi_error_var=0", "lmmse, csi_error_var=0.1",
        "zf, csi_error_var=0", "zf, csi_error_var=0.1"]
    assert doc["curves"][1]["link_axis"] == {"name": "csi_error_var", "value": 0.1}
    assert doc["curves"][1]["series"] == "lmmse"
    for value in (0.0, 0.1):
        plain = tmp_path / f"plain{value}.toml"
        plain.write_text(axis_toml.replace("[sweep.link_axis]\ncsi_error_var = [0.0, 0.1]\n",
                                           "").replace(
            "n = 128\n", f"n = 128\ncsi_error_var = {value}\n"))
        ref = run_sweep(load_scenario(plain), tmp_path / f"plain{value}")
        for curve in ref["curves"]:
            twin = next(c for c in doc["curves"]
                        if c["series"] == curve["label"] and c["link_axis"]["value"] == value)
            for key in ("bit_errors", "num_bits", "block_errors", "num_blocks"):
                assert twin[key] == curve[key], (value, curve["label"], key)
    header, first = (tmp_path / "axis" / "results.csv").read_text().splitlines()[:2]
    assert header.startswith("detector,label,snr_type,csi_error_var,snr_db")
    assert first.startswith('lmmse,"lmmse, csi_error_var=0",ebno,0.0,0.0')
    table = summary_table(doc).splitlines()
    assert table[0].split() == ["BLER", "lmmse", "zf"]
    assert table[2].split()[:2] == ["0.00", "csi_error_var=0.1"]
    assert (tmp_path / "axis" / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_progress_table_and_csv_name_the_snr_and_the_harq_counts():
    import io

    from kaq_sionna.app.results import to_csv
    from kaq_sionna.app.sweep import _Progress

    assert _Progress(io.StringIO(), "esno").HEADER.lstrip().startswith("Es/N0 [dB]")
    plain = _Progress(io.StringIO(), "ebno").HEADER
    harq = _Progress(io.StringIO(), "ebno", harq=True).HEADER
    assert plain.lstrip().startswith("Eb/N0 [dB]") and "block errors" in plain
    assert "residual errs" in harq and "codewords" in harq and "block errors" not in harq
    doc = {"snr_type": "esno", "curves": [
        {"detector": "lmmse", "label": "lmmse", "snr_db": [1.0], "ber": [0.1], "bler": [0.5],
         "bit_errors": [1], "num_bits": [10], "block_errors": [1], "num_blocks": [2],
         "seconds": [0.1], "status": ["ok"]}]}
    header, row = to_csv(doc).splitlines()[:2]
    assert header.startswith("detector,label,snr_type,snr_db") and row.startswith("lmmse,lmmse,esno")
