"""Adaptive refinement ([sweep] refine): points are added only where a curve's BLER crossing is
an unresolved bound inside the grid; they are ordinary, marked points; default off."""

import copy

import pytest

from kaq_sionna.app import sweep, worker
from kaq_sionna.app.refine import ADDED, next_point
from kaq_sionna.app.results import load_results, validate_results
from kaq_sionna.app.scenario import ScenarioError, parse_scenario
from kaq_sionna.app.stats import curve_crossing

BASE = {
    "scenario": {"name": "refine-test", "seed": 3},
    "link": {"type": "coded_mimo", "num_tx": 2, "num_rx": 2, "num_bits_per_symbol": 2,
             "k": 64, "n": 128},
    "sweep": {"snr_db": [0.0, 1.0, 2.0, 3.0], "batch_size": 16, "max_mc_iter": 2,
              "num_target_block_errors": 10, "mode": "eager",
              "refine": {"target_bler": 0.01, "width_db": 0.25, "max_points": 6}},
    "detector": [{"name": "lmmse", "label": "steep"}, {"name": "lmmse", "label": "graded"},
                 {"name": "lmmse", "label": "flat"}],
}

# BLER of the fake detectors: "steep" falls from 0.5 to no error between 1 and 2 dB (at 1.3 dB);
# "graded" crosses 1e-2 between two points with errors; "flat" stays above the target.
BLER = {"steep": lambda s: 0.5 if s < 1.3 else 0.0,
        "graded": lambda s: 10 ** (-s),
        "flat": lambda s: 0.3}


def _fake_point(mc_fun, snr_db, settings, on_batch=None):
    n = 10_000
    k = round(BLER[getattr(mc_fun, "link", mc_fun)](snr_db) * n)
    return ({"bit_errors": 3 * k, "num_bits": 64 * n, "block_errors": k, "num_blocks": n},
            0.0, "fake")


@pytest.fixture
def fake_links(monkeypatch):
    monkeypatch.setattr(worker, "build_scenario_link", lambda scenario, entry: entry.detector.label)
    monkeypatch.setattr(worker, "simulate_point", _fake_point)


def test_points_are_added_only_where_the_crossing_is_unresolved(fake_links, tmp_path):
    scenario = parse_scenario(BASE)
    doc = sweep.run_sweep(scenario, tmp_path, stream=open(tmp_path / "log", "w"))
    steep, graded, flat = doc["curves"]
    # steep: (1, 2] -> 1.5 (no error) -> (1, 1.5] -> 1.25 (errors) -> (1.25, 1.5]: 0.25 wide
    assert steep["added_snr_db"] == [1.5, 1.25]
    assert steep["snr_db"] == [0.0, 1.0, 1.25, 1.5, 2.0]
    assert [s.endswith(ADDED) for s in steep["status"]] == [False, False, True, True, False]
    c = curve_crossing(steep, "bler", 0.01)
    assert (c.kind, c.low, c.high) == ("upper", 1.25, 1.5)
    assert "added_snr_db" not in graded and graded["snr_db"] == [0.0, 1.0, 2.0, 3.0]
    assert curve_crossing(graded, "bler", 0.02).is_value
    assert "added_snr_db" not in flat and flat["snr_db"] == [0.0, 1.0, 2.0, 3.0]
    saved = load_results(tmp_path / "results.json")
    validate_results(saved)
    assert saved["complete"] and saved["curves"][0]["snr_db"] == steep["snr_db"]
    assert len(saved["curves"][0]["bler_ci_high"]) == 5
    # a second run resumes: nothing left to add
    again = sweep.run_sweep(scenario, tmp_path, stream=open(tmp_path / "log", "w"))
    assert again["curves"][0]["snr_db"] == steep["snr_db"]


def test_budget_and_width():
    curve = {"snr_db": [0.0, 4.0], "block_errors": [50, 0], "num_blocks": [100, 100],
             "bler": [0.5, 0.0]}
    rule = {"target_bler": 0.01, "width_db": 0.25, "max_points": 2}
    assert next_point(curve, rule) == 2.0
    assert next_point({**curve, "added_snr_db": [2.0, 1.0]}, rule) is None  # budget spent
    assert next_point(curve, {**rule, "width_db": 4.0}) is None  # bracket narrow enough
    below = {**curve, "block_errors": [0, 0], "bler": [0.0, 0.0]}
    assert next_point(below, rule) is None  # crossing before the grid: not extended


def test_default_off_keeps_the_fingerprint():
    plain = copy.deepcopy(BASE)
    del plain["sweep"]["refine"]
    off = copy.deepcopy(plain)
    off["sweep"]["refine"] = {}
    assert parse_scenario(plain).fingerprint == parse_scenario(off).fingerprint
    assert parse_scenario(plain).fingerprint != parse_scenario(BASE).fingerprint
    assert parse_scenario(BASE).sweep["refine"] == {"target_bler": 0.01, "width_db": 0.25,
                                                   "max_points": 6}


@pytest.mark.parametrize("refine, key", [({"width_db": 0.2}, "target_bler"),
                                         ({"target_bler": 2.0}, "target_bler"),
                                         ({"target_bler": 0.1, "points": 3}, "points"),
                                         (0.25, "refine")])
def test_bad_rules_are_refused(refine, key):
    bad = copy.deepcopy(BASE)
    bad["sweep"]["refine"] = refine
    with pytest.raises(ScenarioError, match=key):
        parse_scenario(bad)
