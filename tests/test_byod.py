"""Bring your own detector or model: plugins in scenarios, models by path, registration,
closest-name suggestions, ``--ship`` refusals and the Python API (issue 17)."""

import hashlib
import json
import shlex
import shutil

import matplotlib
import numpy as np
import pytest
import tensorflow as tf

from kaq_sionna import pretrained
from kaq_sionna.app.api import plot_results, run_scenario, wilson_interval
from kaq_sionna.app.cli import UserError, main, ship_target
from kaq_sionna.app.scenario import load_scenario
from kaq_sionna.registry import (
    DETECTORS,
    DetectorSpec,
    LinkContext,
    Param,
    SpecError,
    build_detector,
    get_detector_spec,
    register_detector,
)

PLUGIN = '''
"""A matched-filter detector written outside kaq-sionna."""
import keras
from sionna.phy.mimo import LinearDetector

__version__ = "0.3"


class MatchedFilter(keras.layers.Layer):
    """Matched filter + APP demapper."""

    def __init__(self, ctx, scale=1.0):
        super().__init__()
        self.scale = scale
        self.det = LinearDetector("mf", "bit", "app", "qam", ctx.num_bits_per_symbol)

    def call(self, y, h, s):
        return self.scale * self.det(y, h, s)


def zf(ctx):
    return LinearDetector("zf", "bit", "app", "qam", ctx.num_bits_per_symbol)
'''

LINK = """
[link]
type = "coded_mimo"
num_tx = {n}
num_rx = {n}
num_bits_per_symbol = {m}
k = 64
n = 128

[sweep]
snr_db = [0.0, 30.0]
batch_size = 16
max_mc_iter = 2
num_target_block_errors = 10
early_stop = false
"""


def scenario_text(name, detectors, n=2, m=2):
    return (f'[scenario]\nname = "{name}"\nseed = 3\n' + LINK.format(n=n, m=m)
            + "".join(f"\n[[detector]]\n{d}\n" for d in detectors))


def _curves(doc):
    return [{k: v for k, v in c.items() if k != "seconds"} for c in doc["curves"]]


@pytest.fixture
def project(tmp_path, monkeypatch, request):
    """A user's folder with a plugin module (unique name per test) beside a scenario; the
    current directory is elsewhere."""
    folder = tmp_path / "proj"
    folder.mkdir()
    module = f"mydet_{request.node.name.split('[')[0][5:]}"
    (folder / f"{module}.py").write_text(PLUGIN)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return folder, module


def test_plugin_runs_through_the_cli_and_its_command_reruns(project, tmp_path):
    folder, module = project
    toml = folder / "mine.toml"
    toml.write_text(scenario_text("mine", ['name = "lmmse"',
                                           f'name = "{module}:MatchedFilter"\nlabel = "MF"\n'
                                           "scale = 2.0",
                                           f'name = "{module}:zf"']))
    out = tmp_path / "out"
    assert main(["run", str(toml), "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert [c["label"] for c in doc["curves"]] == ["lmmse", "MF", f"{module}:zf"]
    assert doc["curves"][1]["params"] == {"scale": 2.0}
    mf = doc["external_detectors"]["MF"]
    source = folder / f"{module}.py"
    assert mf["kind"] == "plugin" and mf["module"] == module and mf["version"] == "0.3"
    assert mf["file"] == str(source)
    assert mf["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert "lmmse" not in doc["external_detectors"]
    # the recorded command re-runs as written and gives the same curves
    argv = shlex.split(doc["command"])
    assert argv[0] == "kaq-sionna"
    shutil.rmtree(out)
    assert main(argv[1:]) == 0
    assert _curves(json.loads((out / "results.json").read_text())) == _curves(doc)


def test_plugin_parameters_are_validated(project):
    folder, module = project
    toml = folder / "bad.toml"
    toml.write_text(scenario_text("bad", [f'name = "{module}:MatchedFilter"\nscal = 2.0']))
    with pytest.raises(SpecError, match=r"scal: expected a known key \(scale\)"):
        load_scenario(toml)
    toml.write_text(scenario_text("bad", [f'name = "{module}:Nope"']))
    with pytest.raises(SpecError, match="attribute 'Nope'.*MatchedFilter"):
        load_scenario(toml)
    toml.write_text(scenario_text("bad", ['name = "no_such_module_xyz:det"']))
    with pytest.raises(SpecError, match="importable module 'no_such_module_xyz'"):
        load_scenario(toml)


def test_unknown_name_suggests_the_three_closest():
    with pytest.raises(SpecError) as err:
        get_detector_spec("pgdnet-kaq4-4x4-16qm")
    text = str(err.value)
    assert "closest: 'pgdnet-kaq4-4x4-16qam'" in text and "kaq-sionna list" in text
    assert text.count("'") <= 10 and len(text) < 400  # three names, not the registry
    with pytest.raises(SpecError, match="closest: 'lmmse'"):
        get_detector_spec("lmse")


def test_register_detector_refuses_to_replace_unless_asked():
    def factory(ctx, scale=1.0):
        return DETECTORS["lmmse"].factory(ctx, **{p.name: p.default
                                                  for p in DETECTORS["lmmse"].params})

    spec = DetectorSpec("byod-test-mf", "test entry",
                        (Param("scale", float, 1.0, "unused"),), factory, source="test")
    try:
        register_detector(spec)
        assert build_detector("byod-test-mf", LinkContext(2, 2, 2), scale=3.0) is not None
        with pytest.raises(ValueError, match="already registered.*replace=True"):
            register_detector(spec)
        register_detector(spec, replace=True)
        with pytest.raises(ValueError, match="already registered"):
            register_detector(DetectorSpec("lmmse", "shadow", (), factory))
        shipped = next(iter(pretrained.available()))
        with pytest.raises(ValueError, match="shipped model"):
            register_detector(DetectorSpec(shipped, "shadow", (), factory))
    finally:
        DETECTORS.pop("byod-test-mf", None)


SHIPPED = "pgdnet-kaq4-4x4-16qam"


def test_model_by_path_beside_the_scenario(project, tmp_path):
    folder, _ = project
    shutil.copytree(pretrained.model_dir(SHIPPED), folder / "train" / "my-kaq4" / "model")
    toml = folder / "bypath.toml"
    toml.write_text(scenario_text("bypath", ['path = "train/my-kaq4/model"',
                                             f'name = "{SHIPPED}"'], n=4, m=4))
    scenario = load_scenario(toml)
    entry = scenario.detectors[0]
    assert (entry.name, entry.label) == ("model", "my-kaq4")
    assert entry.params["path"] == "train/my-kaq4/model"
    doc = run_scenario(toml, out=tmp_path / "o", stream=open("/dev/null", "w"))  # noqa: SIM115
    assert [len(c["snr_db"]) for c in doc["curves"]] == [2, 2]
    ctx = LinkContext(4, 4, 4)
    y = tf.complex(tf.random.normal([8, 4]), tf.random.normal([8, 4]))
    h = tf.complex(tf.random.normal([8, 4, 4]), tf.random.normal([8, 4, 4]))
    s = tf.eye(4, batch_shape=[8], dtype=tf.complex64) * 0.1
    by_path = build_detector("model", ctx, path=str(folder / "train" / "my-kaq4" / "model"))
    np.testing.assert_array_equal(by_path(y, h, s).numpy(),
                                  build_detector(SHIPPED, ctx)(y, h, s).numpy())
    record = doc["external_detectors"]["my-kaq4"]
    assert record["kind"] == "model" and record["model"] == "pgdnet"
    # validated like a shipped model: the system size, the model type
    toml.write_text(scenario_text("bypath", ['path = "train/my-kaq4/model"']))
    with pytest.raises(SpecError, match="num_tx=4, num_rx=4.*num_tx=2"):
        load_scenario(toml)
    toml.write_text(scenario_text("bypath", ['path = "train/nothing/model"']))
    with pytest.raises(SpecError, match="path: expected a trained model folder"):
        load_scenario(toml)
    cfg = folder / "train" / "my-kaq4" / "model" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "model": "lista"}))
    toml.write_text(scenario_text("bypath", ['path = "train/my-kaq4/model"'], n=4, m=4))
    with pytest.raises(SpecError, match="model type of admmnet, eqnet, pgdnet"):
        load_scenario(toml)


def test_ship_refuses_to_overwrite_and_names_from_the_scenario(monkeypatch, tmp_path):
    with pytest.raises(UserError, match=f"{SHIPPED!r} is already shipped.*--overwrite"):
        ship_target(SHIPPED)
    with pytest.raises(UserError, match="not a registry entry"):
        ship_target("lmmse")
    assert ship_target("my-tiny-kaq4") == pretrained.MODELS_DIR
    assert ship_target(SHIPPED, overwrite=True) == pretrained.MODELS_DIR
    monkeypatch.setattr(pretrained, "REPOSITORY_MODELS_DIR", tmp_path / "site" / "models")
    with pytest.raises(UserError, match="development checkout.*path ="):
        ship_target("my-tiny-kaq4")


def test_run_scenario_equals_the_cli(project, tmp_path):
    folder, module = project
    toml = folder / "same.toml"
    toml.write_text(scenario_text("same", ['name = "lmmse"', f'name = "{module}:zf"']))
    api_doc = run_scenario(str(toml), out=tmp_path / "api",
                           stream=open("/dev/null", "w"))  # noqa: SIM115
    assert main(["run", str(toml), "--out", str(tmp_path / "cli")]) == 0
    cli_doc = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert api_doc == json.loads((tmp_path / "api" / "results.json").read_text())
    drop = ("command", "curves", "machine")
    assert {k: v for k, v in api_doc.items() if k not in drop} == \
        {k: v for k, v in cli_doc.items() if k not in drop}
    assert _curves(api_doc) == _curves(cli_doc)
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == \
        sorted(p.name for p in (tmp_path / "cli").iterdir())
    # the API's command re-runs with the CLI
    assert shlex.split(api_doc["command"])[:2] == ["kaq-sionna", "run"]
    import kaq_sionna
    assert kaq_sionna.run_scenario is run_scenario and kaq_sionna.plot_results is plot_results


def test_plot_results_shows_zero_error_points_as_bounds(tmp_path):
    doc = {"scenario": {"scenario": {"name": "p"}}, "snr_type": "ebno", "curves": [
        {"label": "A", "snr_db": [0.0, 2.0, 4.0], "bit_errors": [50, 5, 0],
         "num_bits": [1000, 1000, 3000], "block_errors": [10, 1, 0], "num_blocks": [20, 20, 60]},
        {"label": "B", "snr_db": [0.0], "bit_errors": [0], "num_bits": [300],
         "block_errors": [0], "num_blocks": [3]}]}
    fig = plot_results(doc)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    ber = fig.axes[0]
    points = {(round(x, 6), round(y, 6)) for line in ber.get_lines()
              for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)}
    assert (4.0, round(2.995732 / 3000, 6)) in points  # the bound of A's error-free point
    assert (0.0, round(2.995732 / 300, 6)) in points   # B has no errors at all: still drawn
    assert "B (no errors)" in ber.get_legend_handles_labels()[1]
    lo, hi = wilson_interval(5, 1000)
    assert lo < 0.005 < hi
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps(doc))
    assert len(plot_results(tmp_path / "r", metrics="bler").axes) == 1
    with pytest.raises(ValueError, match="labels of"):
        plot_results(doc, detectors=["C"])


def test_describe_lists_learned_parameters_by_name():
    from kaq_sionna.registry import load_pretrained

    det = load_pretrained(SHIPPED)
    doc = det.describe(as_dict=True)
    np.testing.assert_allclose(doc["parameters"]["eta"]["values"], det.eta.numpy(), rtol=1e-5)
    assert set(doc["parameters"]) == {"eta", "lambda"}
    q = doc["quantizer"]
    assert (q["mode"], q["num_bits"]) == ("kaq", 4) and {"alpha", "gamma"} <= set(q["parameters"])
    text = det.describe()
    assert "sign(r) max(|r| - lambda, 0)" in text and "Delta = alpha SNR^(-1/2) + gamma" in text
    admm = load_pretrained("admmnet-fp32-4x4-16qam").describe(as_dict=True)
    assert {"log_rho", "rho", "lambda", "tau"} <= set(admm["parameters"])
    assert admm["quantizer"] is None and len(admm["parameters"]["tau"]["values"]) == 4
    eq = load_pretrained("eqnet-l-2x2-64qam").describe(as_dict=True)
    assert (eq["latent_dim"], eq["bits_per_feature"]) == (6, 6)
    assert eq["codebooks"]["levels_per_feature"] == 64


def test_cli_list_model_and_filter(capsys):
    assert main(["list", SHIPPED]) == 0
    assert "eta" in capsys.readouterr().out
    assert main(["list", "models", "--system", "4x4-16qam"]) == 0
    out = capsys.readouterr().out
    assert SHIPPED in out and "16x16" not in out
    assert main(["list", "no-such-model"]) == 2
