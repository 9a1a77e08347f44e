"""kaq-sionna reproduce: a re-run of a recorded sweep gives identical counts; an edited result
is flagged; small bit-error differences are reported as such."""

import copy
import json

import pytest

from kaq_sionna.app.cli import EXIT_NOT_REPRODUCED, main
from kaq_sionna.app.reproduce import (
    BITS,
    DIFFERENT,
    IDENTICAL,
    compare_curves,
    format_report,
    reproduce,
    scenario_from_record,
    summarize,
)
from kaq_sionna.app.results import load_results
from kaq_sionna.app.scenario import load_scenario
from kaq_sionna.app.sweep import run_sweep

TINY = """
[scenario]
name = "tiny-reproduce"
seed = 11

[link]
type = "coded_mimo"
num_tx = 2
num_rx = 2
num_bits_per_symbol = 2
k = 64
n = 128

[sweep]
snr_db = [-2.0, 2.0]
batch_size = 16
max_mc_iter = 2
num_target_block_errors = 10
early_stop = false

[[detector]]
name = "lmmse"

[[detector]]
name = "zf"
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reproduce")
    (tmp / "tiny.toml").write_text(TINY)
    run_sweep(load_scenario(tmp / "tiny.toml"), tmp / "out", command="test")
    return tmp / "out" / "results.json"


def test_scenario_from_record_has_the_recorded_fingerprint(recorded):
    doc = load_results(recorded)
    assert scenario_from_record(doc).fingerprint == doc["fingerprint"]


def test_rerun_is_identical(recorded):
    report = reproduce(recorded)
    assert report["verdict"] == IDENTICAL, format_report(report)
    assert [len(c["points"]) for c in report["curves"]] == [2, 2]
    assert all(p["verdict"] == IDENTICAL for c in report["curves"] for p in c["points"])
    assert "identical: all 4 points" in format_report(report)


def test_first_points_only(recorded):
    report = reproduce(recorded, points=1)
    assert report["verdict"] == IDENTICAL
    assert [[p["snr_db"] for p in c["points"]] for c in report["curves"]] == [[-2.0], [-2.0]]


def _edited(doc, field, delta):
    out = copy.deepcopy(doc)
    out["curves"][1][field][1] += delta
    return out


def test_edits_are_classified(recorded):
    doc = load_results(recorded)
    rerun = copy.deepcopy(doc)
    verdict, _ = summarize(compare_curves(_edited(doc, "bit_errors", 3), rerun))
    assert verdict == BITS
    verdict, text = summarize(compare_curves(_edited(doc, "bit_errors", 30), rerun))
    assert verdict == DIFFERENT and "1 of 4" in text
    curves = compare_curves(_edited(doc, "block_errors", 1), rerun)
    assert summarize(curves)[0] == DIFFERENT
    assert [p["verdict"] for p in curves[1]["points"]] == [IDENTICAL, DIFFERENT]
    fewer = copy.deepcopy(rerun)
    for f in ("snr_db", "bit_errors", "num_bits", "block_errors", "num_blocks"):
        fewer["curves"][0][f] = fewer["curves"][0][f][:1]
    assert summarize(compare_curves(doc, fewer))[0] == DIFFERENT  # a point the re-run lacks
    assert summarize(compare_curves(doc, fewer, partial=True))[0] == IDENTICAL


def test_cli_flags_an_edited_result(recorded, tmp_path, capsys):
    doc = json.loads(recorded.read_text())
    doc["curves"][0]["block_errors"][0] += 1
    edited = tmp_path / "results.json"
    edited.write_text(json.dumps(doc))
    code = main(["reproduce", str(edited), "--points", "1", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == EXIT_NOT_REPRODUCED
    assert "lmmse @ -2 dB: different" in out and "verdict: different" in out
    assert json.loads((tmp_path / "r.json").read_text())["verdict"] == DIFFERENT


def test_cli_refuses_a_training_record(tmp_path, capsys):
    path = tmp_path / "train.json"
    path.write_text("{}")
    assert main(["reproduce", str(path)]) == 2
    assert "training record" in capsys.readouterr().err
