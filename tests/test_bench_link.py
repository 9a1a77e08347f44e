"""Link stages and `kaq-sionna bench link SCENARIO [--profile]` (runs, not timings)."""

import json

import pytest
import tensorflow as tf
from sionna.phy import config

from kaq_sionna.app.bench.scenario_link import STAGES
from kaq_sionna.app.cli import main
from kaq_sionna.registry import LinkContext, build_detector
from links.registry import build_link

SMALL = {
    "coded_mimo": {"num_tx": 2, "num_rx": 2, "k": 128, "n": 256},
    "ofdm": {"num_tx": 2, "num_rx": 4, "fft_size": 28, "num_guard_carriers": [1, 2],
             "num_ofdm_symbols": 6, "pilot_ofdm_symbol_indices": [1]},
    "pusch": {"num_tx": 2, "num_rx": 4, "mcs_index": 14, "num_prb": 4},
}

TINY = """
[scenario]
name = "tiny"
seed = 3

[link]
type = "coded_mimo"
num_tx = 2
num_rx = 2
k = 128
n = 256

[sweep]
snr_db = [4.0, 6.0]
batch_size = 8
{axis}

[[detector]]
name = "lmmse"

[[detector]]
name = "kbest"
list_size = 4
"""


@pytest.mark.parametrize("link_type", ["coded_mimo", "ofdm", "pusch"])
def test_the_stages_run_what_the_link_runs(link_type):
    """Chained in order, the stages draw the same random numbers as the link's call and give
    the same decoded bits (eager mode, same seed)."""
    p = SMALL[link_type]
    det = build_detector("lmmse", LinkContext(p["num_tx"], p["num_rx"], 4))
    link = build_link(link_type, det, **p)
    assert [name for name, _ in link.stages()] == list(STAGES)
    config.seed = 11
    _, b_hat = link(4, tf.constant(6.0))
    config.seed = 11
    out = (4, tf.constant(6.0))
    for _, fn in link.stages():
        out = fn(*out)
    assert out[0].shape == b_hat.shape
    assert tf.reduce_all(tf.equal(out[0], b_hat))


def _write(tmp_path, axis=""):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(axis=axis))
    return str(path)


def test_profile_reports_every_stage_with_shares_adding_to_one(tmp_path, capsys):
    out = tmp_path / "profile.json"
    assert main(["bench", "link", _write(tmp_path), "--profile", "--repeats", "2",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["label"] for r in result["rows"]] == ["lmmse", "kbest"]
    for row in result["rows"]:
        assert list(row["stages"]) == list(STAGES) and row["mode"] == "graph"
        shares = [s["share"] for s in row["stages"].values()]
        assert all(s > 0 for s in shares) and sum(shares) == pytest.approx(1.0, abs=1e-9)
    printed = capsys.readouterr().out
    assert "| detector | mode | source/encoder | channel | detector | decoder |" in printed


def test_modes_bench_times_each_curve_of_a_link_axis(tmp_path):
    out = tmp_path / "modes.json"
    axis = '[sweep.link_axis]\ndecoder = ["boxplus-phi", "minsum"]'
    assert main(["bench", "link", _write(tmp_path, axis), "--detectors", "lmmse",
                 "--modes", "graph,eager", "--repeats", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["label"] for r in result["rows"]] == ["lmmse, decoder=boxplus-phi",
                                                     "lmmse, decoder=minsum"]
    for row in result["rows"]:
        assert row["family"] == "lmmse" and set(row["modes"]) == {"graph", "eager"}
        assert all(v["median_s"] > 0 for v in row["modes"].values())


def test_bench_link_options_fail_clearly(tmp_path, capsys):
    assert main(["bench", "link", "--profile"]) == 2
    assert "expected a scenario" in capsys.readouterr().err
    assert main(["bench", "link", _write(tmp_path), "--detectors", "nope"]) == 2
    assert "expected labels among lmmse, kbest" in capsys.readouterr().err
    assert main(["bench", "detectors", _write(tmp_path)]) == 2
    assert main(["bench", "link", _write(tmp_path), "--threads", "1,all"]) == 2
    assert "one positive integer" in capsys.readouterr().err
