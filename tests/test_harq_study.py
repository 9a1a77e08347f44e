"""HARQ in scenarios (``[harq]``), HARQ fields in results.json, the soft-buffer memory model
(kaq_sionna.harq.memory) and the memory study (``kaq-sionna harq-memory``)."""

import json
import math
from pathlib import Path

import pytest

from kaq_sionna.app.cli import main
from kaq_sionna.app.memory_study import penalties, snr_at_bler
from kaq_sionna.app.results import HARQ_FIELDS, load_results, validate_results
from kaq_sionna.app.scenario import ScenarioError, parse_scenario
from kaq_sionna.app.sweep import run_sweep
from kaq_sionna.harq.memory import (
    LIFTING_SIZES,
    NRSoftBufferConfig,
    code_block_params,
    lbrm_prbs,
    soft_buffer_memory,
)

HARQ_TINY = """
[scenario]
name = "harq-tiny"
seed = 3

[link]
type = "coded_mimo"
num_tx = 2
num_rx = 2
num_bits_per_symbol = 4
k = 128
n = 256

[sweep]
snr_db = [0.0, 3.0]
batch_size = 16
max_mc_iter = 2
num_target_block_errors = 5
early_stop = false

[harq]
max_transmissions = 3
storage = ["float32", "uniform3"]

[[detector]]
name = "lmmse"
"""


def _scenario_dict(**harq):
    from kaq_sionna.core.params import tomllib

    data = tomllib.loads(HARQ_TINY)
    data["harq"].update(harq)
    return data


@pytest.mark.parametrize("harq, key, expected", [
    ({"rv_sequence": [0, 4]}, "rv_sequence", "integers in 0..3"),
    ({"rv_sequence": []}, "rv_sequence", "non-empty"),
    ({"max_transmissions": 0}, "max_transmissions", r"integer in \[1, 16\]"),
    ({"storage": ["uniform7"]}, "storage", "float32"),
    ({"storage": ["float32", "float32"]}, "storage", "distinct"),
    ({"combining": "cc"}, "combining", "ir"),
    ({"target_round": 4}, "target_round", "max_transmissions = 3"),
    ({"storage_point": "everywhere"}, "storage_point", "buffer"),
    ({"new_channel": True}, "new_channel", "known key"),
])
def test_bad_harq_settings_fail_before_running(harq, key, expected):
    with pytest.raises(ScenarioError, match=expected) as err:
        parse_scenario(_scenario_dict(**harq), "harq.toml")
    assert key in str(err.value) and "harq.toml" in str(err.value)


def test_harq_needs_a_coded_link():
    data = _scenario_dict()
    data["link"]["uncoded"] = True
    with pytest.raises(ScenarioError, match="coded link"):
        parse_scenario(data, "harq.toml")


def test_one_curve_per_detector_and_storage_and_fingerprint():
    sc = parse_scenario(_scenario_dict(), "harq.toml")
    assert [r.label for r in sc.runs] == ["lmmse / float32", "lmmse / uniform3"]
    assert sc.harq["rv_sequence"] == [0, 2, 3, 1] and sc.harq["calibrate"] is True
    other = parse_scenario(_scenario_dict(combining="chase"), "harq.toml")
    assert other.fingerprint != sc.fingerprint


@pytest.fixture(scope="module")
def harq_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("harq") / "out"
    doc = run_sweep(parse_scenario(_scenario_dict(), "harq.toml"), out, command="test")
    return out, doc


def test_harq_sweep_writes_per_round_fields(harq_sweep):
    out, _ = harq_sweep
    doc = load_results(out / "results.json")
    validate_results(doc)
    assert doc["complete"] and len(doc["curves"]) == 2
    for curve in doc["curves"]:
        for field in HARQ_FIELDS:
            assert len(curve[field]) == 2, field
        for i, rounds in enumerate(curve["bler_per_round"]):
            assert len(rounds) == 3
            # the failing set only shrinks
            assert all(a >= b for a, b in zip(rounds, rounds[1:], strict=False))
            assert curve["bler"][i] == rounds[-1]  # bler is the residual BLER
            assert 1.0 <= curve["mean_transmissions"][i] <= 3.0
            assert curve["goodput"][i] <= 128 * 4 / 256 + 1e-12
    fp32, uni = doc["curves"]
    assert fp32["storage"] == "float32" and fp32["storage_params"] == [{}, {}]
    assert all(p["clip"] > 0 for p in uni["storage_params"])  # fitted per point
    # uniform 3-bit storage holds 3/32 of the float32 bits for the same positions
    assert max(uni["stored_bits_max"]) <= 3 * 256 * 3 / 3 * 2  # <= 2 stored rounds x n
    csv = (out / "results.csv").read_text().splitlines()
    assert "bler_per_round" in csv[0] and len(csv) == 5


def test_harq_sweep_resumes_without_recomputing(harq_sweep, tmp_path):
    out, doc = harq_sweep
    again = run_sweep(parse_scenario(_scenario_dict(), "harq.toml"), out, command="other")
    assert again["curves"] == doc["curves"]
    assert again["command"] == "test"  # a finished run keeps the command that produced it


def test_snr_at_bler_interpolates_in_log_bler():
    t = (math.log(0.5) - math.log(0.1)) / (math.log(0.5) - math.log(0.01))
    assert snr_at_bler([0, 1, 2], [1.0, 0.5, 0.01], 0.1) == pytest.approx(1 + t)
    assert snr_at_bler([0, 1], [0.05, 0.01], 0.1) is None  # starts below the target
    assert snr_at_bler([0, 1], [0.9, 0.5], 0.1) is None  # never reaches it
    # no error at the next point: only a bound (kaq_sionna.app.stats.crossing returns it)
    assert snr_at_bler([0, 1], [0.9, 0.0], 0.1) is None


def test_penalties_against_float32():
    doc = {"scenario": {"harq": {"target_round": 2}}, "curves": [
        {"detector": "lmmse", "label": "a", "storage": "float32", "snr_db": [0, 1],
         "block_errors_per_round": [[100, 100], [100, 1]], "num_blocks": [100, 100]},
        {"detector": "lmmse", "label": "b", "storage": "uniform3", "snr_db": [0, 1, 2],
         "block_errors_per_round": [[100, 100], [100, 100], [100, 1]],
         "num_blocks": [100, 100, 100]},
        {"detector": "lmmse", "label": "c", "storage": "uniform2", "snr_db": [0, 1],
         "block_errors_per_round": [[100, 100], [100, 0]], "num_blocks": [100, 100]},
    ]}
    rows = penalties(doc, 0.1)
    assert rows[0]["penalty_db"] == 0
    assert rows[1]["penalty_db"] == pytest.approx(1.0)
    lo, hi = rows[1]["penalty"]["low"], rows[1]["penalty"]["high"]
    assert lo < 1.0 < hi
    # falls from BLER 1 to no error: a bound, never a value
    assert rows[2]["snr_db"] is None and rows[2]["snr_at_most_db"] == 1
    assert rows[2]["penalty_db"] is None and rows[2]["penalty_at_most_db"] is not None


# ---------------------------------------------------------------- memory model

def test_lifting_sizes_and_code_block_params_match_sionna():
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    assert len(LIFTING_SIZES) == 51 and LIFTING_SIZES[0] == 2 and LIFTING_SIZES[-1] == 384
    # cases where Sionna (which selects the base graph from k) and the TB rule agree
    for tbs, cbs, rate in ((8424, 8448 - 16, 0.9), (3000, 3024, 0.5), (500, 524, 0.3)):
        cb = code_block_params(tbs, cbs, rate)
        enc = LDPC5GEncoder(cbs, int(cbs / rate) // 2 * 2)
        # Sionna's n_ldpc counts the 2 Z_c punctured systematic columns; N of 38.212 does not
        assert (cb["z"], cb["k"], cb["n"]) == (enc.z, enc.k_ldpc, enc.n_ldpc - 2 * enc.z)
        assert cb["filler"] == cb["k"] - cbs


def test_memory_scales_with_bits_and_lbrm_only_shrinks():
    schemes = {"float32": 32, "uniform4": 4, "eqnet": 4.5}
    full = soft_buffer_memory(NRSoftBufferConfig(), schemes)
    lbrm = soft_buffer_memory(NRSoftBufferConfig(lbrm=True), schemes)
    tb = full["transport_block"]
    assert tb["num_cb"] * (tb["k"] - tb["filler"]) >= tb["tb_size"]
    per = full["soft_bits_per_process"]
    assert per["buffer"] == tb["num_cb"] * (tb["n"] - tb["filler"])
    assert per["rounds"] == 3 * tb["coded_bits_per_tx"]
    for name, bits in schemes.items():
        assert full["schemes"][name]["buffer"]["bits"] == 16 * per["buffer"] * bits
        assert full["schemes"][name]["buffer"]["saved_vs_float32"] == pytest.approx(
            1 - bits / 32)
    assert lbrm["transport_block"]["n_cb"] <= tb["n"]
    assert lbrm["schemes"]["float32"]["buffer"]["bits"] < full["schemes"]["float32"][
        "buffer"]["bits"]
    assert lbrm_prbs(273) == 273 and lbrm_prbs(100) == 107 and lbrm_prbs(20) == 32


@pytest.mark.parametrize("kwargs, match", [
    ({"num_prbs": 0}, "num_prbs"), ({"num_layers": 5}, "num_layers"),
    ({"coderate": 1.2}, "coderate"), ({"num_bits_per_symbol": 3}, "num_bits_per_symbol"),
])
def test_bad_memory_config_fails_clearly(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NRSoftBufferConfig(**kwargs)


def test_harq_memory_cli_from_existing_results(harq_sweep, tmp_path, capsys):
    out, _ = harq_sweep
    scen = tmp_path / "harq.toml"
    scen.write_text(HARQ_TINY)
    # the study reads <results-dir>/<scenario name>: reuse the module's sweep
    results_dir = out.parent
    (results_dir / "harq-tiny").mkdir(exist_ok=True)
    (results_dir / "harq-tiny" / "results.json").write_text((out / "results.json").read_text())
    mem = tmp_path / "mem"
    code = main(["harq-memory", "--scenario", str(scen), "--no-simulate", "--out", str(mem),
                 "--results-dir", str(results_dir), "--num-ues", "2"])
    assert code == 0
    doc = json.loads((mem / "memory.json").read_text())
    assert set(doc["bits_per_soft_bit"]) == {"float32", "uniform3"}
    assert doc["memory"]["full_buffer"]["config"]["num_ues"] == 2
    assert {p.name for p in mem.iterdir()} == {"memory.json", "memory.md",
                                               "memory_vs_penalty.png"}
    assert "uniform3" in capsys.readouterr().out


def test_harq_memory_cli_errors(tmp_path, capsys):
    scen = tmp_path / "harq.toml"
    scen.write_text(HARQ_TINY)
    assert main(["harq-memory", "--scenario", str(scen), "--no-simulate",
                 "--results-dir", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["harq-memory", "--scenario", str(scen), "--num-layers", "9"]) == 2
    assert "num_layers" in capsys.readouterr().err


def test_result_files_get_the_umask_mode_not_0600(tmp_path):
    import os

    from kaq_sionna.app.results import atomic_write_text

    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(umask)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644


def test_default_scenario_paths_resolve_from_any_folder(tmp_path, monkeypatch):
    from kaq_sionna.app.memory_study import DEFAULT_SCENARIOS, resolve_project_path

    monkeypatch.chdir(tmp_path)
    for name in DEFAULT_SCENARIOS:
        path = resolve_project_path(name)
        assert path.is_file() and path.is_absolute()
    assert resolve_project_path("no/such.toml") == Path("no/such.toml")  # left for the error
    (tmp_path / "local.toml").write_text("")
    assert resolve_project_path("local.toml") == Path("local.toml")  # the working dir first
