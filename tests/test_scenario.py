"""Scenario validation: every error class fails at once, naming file, key, expectation, finding."""

import copy

import pytest

from kaq_sionna.app.scenario import ScenarioError, load_scenario, parse_scenario

BASE = {
    "scenario": {"name": "t", "seed": 1},
    "link": {"type": "coded_mimo", "num_tx": 2, "num_rx": 2, "num_bits_per_symbol": 2,
             "k": 64, "n": 128},
    "sweep": {"snr_db": [0.0, 2.0], "batch_size": 8, "max_mc_iter": 1},
    "detector": [{"name": "lmmse"}, {"name": "kbest", "list_size": 4}],
}


def _with(path, value):
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()


def test_valid_scenario_fills_defaults():
    sc = parse_scenario(BASE, "x.toml")
    assert sc.link["channel"] == "rayleigh" and sc.sweep["snr_type"] == "ebno"
    assert [d.label for d in sc.detectors] == ["lmmse", "kbest"]
    assert sc.detectors[1].params["list_size"] == 4


def test_fingerprint_changes_with_the_scenario():
    a = parse_scenario(BASE).fingerprint
    assert a == parse_scenario(copy.deepcopy(BASE)).fingerprint
    assert a != parse_scenario(_with(("link", "k"), 32)).fingerprint


@pytest.mark.parametrize("path, value, key, expected, found", [
    (("link", "num_tx"), "4", "[link] num_tx", "an integer", "'4'"),                  # type
    (("link", "num_bits_per_symbol"), 5, "[link] num_bits_per_symbol", "one of 2, 4, 6, 8",
     "5"),                                                                              # range
    (("link", "k"), 128, "[link] k", "< n = 128", "128"),                              # k >= n
    (("link", "num_rx"), 1, "[link] num_rx", ">= num_tx = 2", "1"),                    # linear
    (("sweep", "batch_size"), 0, "[sweep] batch_size", ">= 1", "0"),                   # batch
    (("sweep", "snr_db"), [], "[sweep] snr_db", "non-empty", "empty list"),            # grid
    (("detector",), [{"name": "sphere"}], "detector name", "closest:", "'sphere'"),      # det
    (("link", "type"), "satellite", "[link] type", "one of coded_mimo", "'satellite'"),  # link
    (("link", "antennas"), 4, "[link] antennas", "a known key", "unknown key"),        # key
    (("sweep", "snr_type"), "sinr", "[sweep] snr_type", "one of 'ebno', 'esno'", "'sinr'"),
    (("scenario", "name"), _DELETE, "[scenario] name", "a string", "required"),
    (("detector",), [{"name": "kbest", "list_size": -1}], "list_size", ">= 1", "-1"),
    (("detector",), [{"name": "lmmse"}, {"name": "lmmse"}], "label", "not used by another",
     "'lmmse'"),
])
def test_each_error_names_file_key_expectation_and_finding(path, value, key, expected, found):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_with(path, value), "bad.toml")
    msg = str(info.value)
    assert msg.startswith("bad.toml: ")
    for part in (key, expected, found):
        assert part in msg, f"{part!r} not in {msg!r}"


def test_infeasible_ml_is_refused():
    data = _with(("detector",), [{"name": "ml"}])
    data["link"].update(num_tx=5, num_rx=5, num_bits_per_symbol=4, k=128, n=256)
    with pytest.raises(ScenarioError, match=r"\(ml\).*<= 16.*1048576 candidates"):
        parse_scenario(data, "bad.toml")


def test_unknown_section_is_an_error():
    data = copy.deepcopy(BASE)
    data["outputs"] = {}
    with pytest.raises(ScenarioError, match="outputs"):
        parse_scenario(data, "bad.toml")


def test_file_errors(tmp_path):
    with pytest.raises(ScenarioError, match="no file at"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("[scenario\nname = 1\n")
    with pytest.raises(ScenarioError, match="broken.toml: TOML syntax"):
        load_scenario(bad)


def test_shipped_scenarios_are_valid(root):
    files = sorted((root / "scenarios").glob("*.toml"))
    assert files, "no scenarios shipped"
    for path in files:
        load_scenario(path)


def test_committed_results_match_their_scenarios(root):
    """Every results/<name>/results.json of a shipped scenario carries that scenario's current
    fingerprint, so `kaq-sionna run` finds it complete instead of refusing it as another run;
    keys added to the schema later are left out at their defaults (scenario.LATER_DEFAULTS)."""
    import json

    checked = 0
    for path in sorted((root / "scenarios").glob("*.toml")):
        scenario = load_scenario(path)
        results = root / "results" / scenario.name / "results.json"
        if results.is_file():
            assert json.loads(results.read_text())["fingerprint"] == scenario.fingerprint, path
            checked += 1
    assert checked > 10


def test_later_keys_count_in_the_fingerprint_away_from_their_defaults():
    base = parse_scenario(BASE, "x.toml").fingerprint
    assert parse_scenario(_with(("link", "layer_mapping"), "cyclic"), "x.toml").fingerprint != base


def _with_axis(axis, **link):
    data = copy.deepcopy(BASE)
    data["sweep"]["link_axis"] = axis
    data["link"].update(link)
    for key in axis:
        if link.get(key, _DELETE) is _DELETE:
            data["link"].pop(key, None)
    return data


def test_link_axis_gives_one_curve_per_detector_and_value():
    sc = parse_scenario(_with_axis({"csi_error_var": [0, 0.01]}), "x.toml")
    assert sc.link_axis == ("csi_error_var", [0.0, 0.01])
    assert "csi_error_var" not in sc.link  # the axis gives its values
    assert [r.label for r in sc.runs] == [
        "lmmse, csi_error_var=0", "lmmse, csi_error_var=0.01",
        "kbest, csi_error_var=0", "kbest, csi_error_var=0.01"]
    # each value reuses the seeds (index) of its detector's curve
    assert [r.index for r in sc.runs] == [0, 0, 1, 1]
    assert sc.link_params(sc.runs[1])["csi_error_var"] == 0.01
    assert sc.as_dict()["sweep"]["link_axis"] == {"csi_error_var": [0.0, 0.01]}
    assert sc.fingerprint != parse_scenario(BASE, "x.toml").fingerprint


def test_a_scenario_without_link_axis_keeps_its_curves():
    """No axis: one curve per detector, seeded by its position, as before the key existed
    (its fingerprint is checked by test_committed_results_match_their_scenarios)."""
    sc = parse_scenario(BASE, "x.toml")
    assert sc.sweep["link_axis"] == {} and sc.link_axis is None
    assert [(r.label, r.index, r.axis) for r in sc.runs] == [("lmmse", 0, None),
                                                             ("kbest", 1, None)]


@pytest.mark.parametrize("axis, link, key, expected, found", [
    ({"antennas": [1, 2]}, {}, "[sweep.link_axis] antennas", "a parameter of the 'coded_mimo'",
     "unknown key 'antennas'"),
    ({"num_tx": [1, 2]}, {"num_tx": 2}, "[sweep.link_axis] num_tx", "one system size", "'num_tx'"),
    ({"csi_error_var": [0.0]}, {"csi_error_var": 0.0}, "[sweep.link_axis] csi_error_var",
     "in one place only", "[link] csi_error_var = 0.0 as well"),
    ({"csi_error_var": [0.0, -0.1]}, {}, "[sweep.link_axis] csi_error_var value #2",
     "a number >= 0.0", "-0.1"),
    ({"csi_error_var": []}, {}, "[sweep.link_axis] csi_error_var", "a non-empty list", "[]"),
    ({"csi_error_var": 0.1}, {}, "[sweep.link_axis] csi_error_var", "a non-empty list", "0.1"),
    ({"csi_error_var": [0.1, 0.1]}, {}, "value #2", "differ", "0.1 twice"),
    ({"csi_error_var": [0.1], "tx_corr": [0.5]}, {}, "[sweep.link_axis]", "exactly one",
     "2 keys (csi_error_var, tx_corr)"),
    ({"channel": ["rayleigh", "rician"]}, {}, "[sweep.link_axis] channel value #2",
     "one of 'rayleigh', 'kronecker'", "'rician'"),
    ({"k": [64, 200]}, {}, "[sweep.link_axis] k value #2", "< n = 128", "200"),
    ({"n": [128, 60]}, {}, "[sweep.link_axis] n value #2 (60, checked as [link] k)",
     "< n = 60", "64"),
    ({"channel": ["rayleigh"]}, {"k": 100, "n": 98}, "[link] k", "< n = 98", "100"),
])
def test_link_axis_errors_name_key_expectation_and_finding(axis, link, key, expected, found):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_with_axis(axis, **link), "bad.toml")
    msg = str(info.value)
    assert msg.startswith("bad.toml: ")
    for part in (key, expected, found):
        assert part in msg, f"{part!r} not in {msg!r}"
