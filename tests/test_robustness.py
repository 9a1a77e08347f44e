"""Issue 19: every bad input a clear error (exit 2, the cause named), no silent garbage, no lost
results from concurrent runs or damaged files. One section per class of fault."""

import json
import math

import pytest

from kaq_sionna.app.cli import main
from kaq_sionna.app.results import strict_json
from kaq_sionna.core.params import SpecError, check_params

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
{link_extra}

[sweep]
snr_db = {snr}
batch_size = 16
max_mc_iter = 1
num_target_block_errors = 10
early_stop = false

[[detector]]
name = "lmmse"
"""


def write_tiny(folder, snr="[0.0, 4.0]", link_extra="", name="tiny"):
    path = folder / f"{name}.toml"
    path.write_text(TINY.format(snr=snr, link_extra=link_extra).replace('"tiny"', f'"{name}"'))
    return path


# ---- class 1: non-finite and absurd numbers ----------------------------------------------

NON_FINITE = (math.nan, math.inf, -math.inf)


def _float_params():
    from kaq_sionna.app.scenario import QUICK_KEYS, SWEEP_KEYS
    from kaq_sionna.registry import DETECTORS
    from links.registry import HARQ_PARAMS, LINKS

    groups = [(f"[link] ({n})", spec.params) for n, spec in LINKS.items()]
    groups += [(f"[[detector]] ({n})", spec.params) for n, spec in DETECTORS.items()]
    groups += [("[harq]", HARQ_PARAMS), ("[sweep]", SWEEP_KEYS), ("[sweep.quick]", QUICK_KEYS)]
    return [(where, p) for where, params in groups for p in params
            if p.type is float or p.type is list and p.name == "snr_db"]


def test_every_float_key_refuses_nan_and_inf():
    params = _float_params()
    assert len(params) > 15
    for where, p in params:
        for bad in NON_FINITE:
            value = [0.0, bad] if p.type is list else bad
            with pytest.raises(SpecError) as err:
                check_params((p,), {p.name: value}, where)
            text = str(err.value)
            assert p.name in text and ("finite" in text or "one of" in text), (where, p.name)


@pytest.mark.parametrize("snr, link_extra, key", [
    ("[inf]", "", "snr_db"), ("[0.0, nan]", "", "snr_db"), ("[-inf]", "", "snr_db"),
    ("[1e308]", "", "snr_db"), ("[-400.0]", "", "snr_db"),
    ("[0.0]", "csi_error_var = nan", "csi_error_var"),
    ("[0.0]", "csi_error_var = inf", "csi_error_var"),
    ("[0.0]", 'channel = "kronecker"\ntx_corr = nan', "tx_corr"),
    ("[0.0]", 'channel = "kronecker"\nrx_corr = -inf', "rx_corr"),
])
def test_cli_refuses_non_finite_and_absurd_values(tmp_path, capsys, snr, link_extra, key):
    path = write_tiny(tmp_path, snr, link_extra)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert key in err and "expected" in err and "Traceback" not in err
    assert not out.exists()  # refused before anything ran


def test_results_json_is_strict_json():
    doc = {"curves": [{"ber": [0.1, math.nan], "storage_params": [{"clip": math.inf}]}]}
    text = strict_json(doc)
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert back["curves"][0]["ber"] == [0.1, None]
    assert back["non_finite"] == ["curves[0].ber[1]", "curves[0].storage_params[0].clip"]
    assert strict_json({"a": 1.0}) == json.dumps({"a": 1.0}, indent=2) + "\n"


def test_cli_float_options_refuse_nan(capsys):
    assert main(["harq-memory", "--no-simulate", "--target-bler", "nan"]) == 2
    assert "--target-bler" in capsys.readouterr().err
    assert main(["bench", "detectors", "--min-time", "nan"]) == 2
    assert "--min-time" in capsys.readouterr().err


# ---- class 2: output folder, plain names, one run per folder, stale temp files ----------

def test_output_path_is_checked_before_anything_runs(tmp_path, capsys, monkeypatch):
    path = write_tiny(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out, found in ((a_file, "found a file"), (a_file / "sub", "under the file")):
        assert main(["run", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and found in err and "Traceback" not in err
        assert "BER" not in err  # nothing simulated
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # (the tests run as root: no chmod)
    assert main(["run", str(path), "--out", str(tmp_path / "ro")]) == 2
    err = capsys.readouterr().err
    assert "Permission denied" in err and "written" in err


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", "..", ".hidden", "", "a b"])
def test_scenario_names_are_plain(tmp_path, capsys, name):
    path = tmp_path / "s.toml"
    path.write_text(TINY.format(snr="[0.0]", link_extra="").replace('"tiny"', json.dumps(name)))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "[scenario] name" in err and "plain name" in err


def test_second_run_on_a_folder_is_refused_naming_the_first(tmp_path, capsys):
    import os

    from kaq_sionna.app.outdir import LOCK_NAME, output_lock

    path = write_tiny(tmp_path)
    out = tmp_path / "out"
    with output_lock(out, command="kaq-sionna run first.toml"):
        for extra in ([], ["--quick"]):
            assert main(["run", str(path), "--out", str(out), *extra]) == 2
            err = capsys.readouterr().err
            assert f"process {os.getpid()}" in err and "first.toml" in err
            assert "run in progress" in err
        assert not (out / "results.json").exists()
    assert not (out / LOCK_NAME).exists()  # released and removed on exit
    assert main(["run", str(path), "--out", str(out)]) == 0


def test_lock_of_a_killed_run_is_released_and_its_temp_files_cleaned(tmp_path, capsys):
    import signal
    import subprocess
    import sys

    from kaq_sionna.app.outdir import LOCK_NAME

    path = write_tiny(tmp_path)
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from kaq_sionna.app.outdir import output_lock\n"
        f"with output_lock({str(out)!r}, 'holder'):\n"
        "    print('locked', flush=True); time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(path), "--out", str(out)]) == 2
        assert f"process {holder.pid}" in capsys.readouterr().err
        (out / ".results.json.abc123.tmp").write_text('{"half": ')  # a killed atomic write
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.stdout.close()
    assert (out / LOCK_NAME).exists()  # left behind by kill -9, but no longer locked
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["plot.png", "results.csv", "results.json"]


def test_concurrent_runs_on_one_folder_lose_no_point(tmp_path):
    """Two real processes on one folder: the second is refused while the first runs; every
    point of the first is in results.json afterwards."""
    import subprocess
    import sys
    import time

    from kaq_sionna.app.outdir import LOCK_NAME

    path = write_tiny(tmp_path, snr="[-4.0, -2.0, 0.0, 2.0, 4.0]")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "kaq_sionna", "run", str(path), "--out", str(out)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / LOCK_NAME).exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run([*cmd, "--quick"], capture_output=True, text=True, timeout=300)
    first_out, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    if second.returncode != 0:  # refused while the first ran (the usual case)
        assert second.returncode == 2 and f"process {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"] and not doc["quick"]
    assert doc["curves"][0]["snr_db"] == [-4.0, -2.0, 0.0, 2.0, 4.0]


# ---- class 3: damaged results.json ------------------------------------------------------

def _damage_cases():
    def field_missing(doc):
        del doc["curves"][0]["ber"]

    def key_missing(doc):
        del doc["curves"]

    def curves_not_list(doc):
        doc["curves"] = 5

    def schema(doc):
        doc["schema_version"] = 99

    def short_field(doc):
        doc["curves"][0]["bler"].pop()

    def no_curve(doc):
        doc["curves"] = []

    def not_object(doc):
        return [1, 2]

    return {
        "truncated": ("bytes", lambda text: text[: len(text) // 2].encode(), "not valid JSON"),
        "not JSON": ("bytes", lambda text: b"hello", "not valid JSON"),
        "empty": ("bytes", lambda text: b"", "not valid JSON"),
        "not UTF-8": ("bytes", lambda text: b"\xff\xfe" + text.encode("utf-16-le"),
                      "not UTF-8"),
        "schema_version": ("doc", schema, "schema_version 99"),
        "missing field": ("doc", field_missing, "lacks ['ber']"),
        "missing key": ("doc", key_missing, "missing key 'curves'"),
        "curves not a list": ("doc", curves_not_list, "damaged"),
        "fields of different lengths": ("doc", short_field, "different lengths"),
        "curves missing": ("doc", no_curve, "0 curves"),
        "a JSON list": ("doc", not_object, "not an object"),
        "a directory": ("dir", None, "a directory"),
    }


@pytest.fixture(scope="module")
def finished_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    path = write_tiny(folder)
    assert main(["run", str(path), "--out", str(folder / "out"), "--quick"]) == 0
    return path, (folder / "out" / "results.json").read_text()


@pytest.mark.parametrize("case", list(_damage_cases()))
def test_damaged_results_json_is_named_and_restart_recovers(tmp_path, capsys, finished_results,
                                                           case):
    path, good = finished_results
    kind, damage, what = _damage_cases()[case]
    out = tmp_path / "out"
    out.mkdir()
    target = out / "results.json"
    if kind == "bytes":
        target.write_bytes(damage(good))
    elif kind == "doc":
        doc = json.loads(good)
        doc = damage(doc) or doc
        target.write_text(json.dumps(doc))
    else:
        target.mkdir()
    before = sorted(p.name for p in out.iterdir())
    assert main(["run", str(path), "--out", str(out), "--quick"]) == 2
    err = capsys.readouterr().err
    assert f"results.json in {out} is damaged (" in err and what in err, err
    assert "use --restart to discard it or --out elsewhere" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == before  # left as it was
    assert main(["run", str(path), "--out", str(out), "--quick", "--restart"]) == 0
    assert json.loads(target.read_text())["complete"]


# ---- class 4: damaged models ------------------------------------------------------------

MODEL = "pgdnet-fp32-4x4-16qam"

MODEL_SCENARIO = """
[scenario]
name = "model-fault"
seed = 3

[link]
type = "coded_mimo"
num_tx = 4
num_rx = 4
num_bits_per_symbol = 4
k = 64
n = 128

[sweep]
snr_db = [5.0]
batch_size = 8
max_mc_iter = 1
num_target_block_errors = 10

[[detector]]
name = "lmmse"

[[detector]]
path = "{path}"
label = "copy"
"""


def _npz_rewrite(folder, change):
    import numpy as np

    with np.load(folder / "weights.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    with open(folder / "weights.npz", "wb") as fh:
        np.savez(fh, **arrays)


def _config_rewrite(folder, change):
    cfg = json.loads((folder / "config.json").read_text())
    change(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def _model_faults():
    import numpy as np

    def nan_weight(a):
        a["w000"] = a["w000"].copy()
        a["w000"][1] = np.nan

    def inf_weight(a):
        a["w001"] = np.full_like(a["w001"], np.inf)

    def wrong_shape(a):
        a["w000"] = np.zeros((7,), a["w000"].dtype)

    def missing_var(a):
        del a["w001"]
        a["names"] = a["names"][:1]

    return {
        "truncated weights": (lambda f: (f / "weights.npz").write_bytes(
            (f / "weights.npz").read_bytes()[:100]), "truncated or not an npz"),
        "weights not npz": (lambda f: (f / "weights.npz").write_text("hello"),
                            "truncated or not an npz"),
        "weights missing": (lambda f: (f / "weights.npz").unlink(), "no weights file"),
        "NaN weights": (lambda f: _npz_rewrite(f, nan_weight), "non-finite"),
        "inf weights": (lambda f: _npz_rewrite(f, inf_weight), "non-finite"),
        "wrong shapes": (lambda f: _npz_rewrite(f, wrong_shape), "has shape (7,)"),
        "a variable missing": (lambda f: _npz_rewrite(f, missing_var), "variables"),
        "config not JSON": (lambda f: (f / "config.json").write_text("{"), "not valid JSON"),
        "config not UTF-8": (lambda f: (f / "config.json").write_bytes(b"\xff{}"),
                             "not UTF-8"),
        "config a list": (lambda f: (f / "config.json").write_text("[]"), "not an object"),
        "config without system": (lambda f: _config_rewrite(f, lambda c: c.pop("system")),
                                  "'system'"),
        "config bad num_tx": (lambda f: _config_rewrite(
            f, lambda c: c["system"].update(num_tx="four")), "num_tx"),
        "config without layer": (lambda f: _config_rewrite(f, lambda c: c.pop("layer")),
                                 "layer"),
        "config bad layer": (lambda f: _config_rewrite(
            f, lambda c: c["layer"].update(num_layers="five")), "loading failed"),
    }


def _copy_model(tmp_path, name=MODEL, as_name="copy-model"):
    import shutil

    from kaq_sionna import pretrained

    target = tmp_path / "models" / as_name
    shutil.copytree(pretrained.model_dir(name), target)
    return target


@pytest.mark.parametrize("fault", list(_model_faults()))
def test_damaged_model_by_path_is_named(tmp_path, capsys, fault):
    damage, what = _model_faults()[fault]
    folder = _copy_model(tmp_path)
    damage(folder)
    scenario = tmp_path / "s.toml"
    scenario.write_text(MODEL_SCENARIO.format(path=folder))
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(folder) in err and what in err, err
    if out.exists() and (out / "results.json").exists():  # failed at build: lmmse kept
        doc = json.loads((out / "results.json").read_text())
        assert doc["curves"][0]["done"] and doc["curves"][0]["snr_db"] == [5.0]


def test_one_damaged_shipped_model_breaks_nothing_else(tmp_path, capsys, monkeypatch):
    from kaq_sionna import pretrained
    from kaq_sionna.app.scenario import load_scenario

    bad_config = _copy_model(tmp_path, as_name="broken-config-4x4-16qam")
    (bad_config / "config.json").write_text("{ truncated")
    nan_weights = _copy_model(tmp_path, as_name="nan-weights-4x4-16qam")
    _npz_rewrite(nan_weights, lambda a: a.update(w000=a["w000"] * float("nan")))
    monkeypatch.setenv(pretrained.ENV_VAR, str(tmp_path / "models"))

    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "DAMAGED broken-config-4x4-16qam" in text and "not valid JSON" in text
    assert MODEL in text and "nan-weights-4x4-16qam" in text
    assert main(["list", "models"]) == 0
    assert "DAMAGED broken-config" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listing["damaged"]] == ["broken-config-4x4-16qam"]
    for name, what in (("broken-config-4x4-16qam", "not valid JSON"),
                       ("nan-weights-4x4-16qam", "non-finite")):
        assert main(["list", name]) == 2
        err = capsys.readouterr().err
        assert name in err and what in err and "Traceback" not in err
        scenario = tmp_path / f"{name}.toml"
        scenario.write_text(MODEL_SCENARIO.replace('path = "{path}"', f'name = "{name}"'))
        assert main(["run", str(scenario), "--out", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert name in err and what in err and "Traceback" not in err
    # other models and HARQ scenarios (EQ-Net storage from the catalogue) are unaffected
    scenario = tmp_path / "good.toml"
    scenario.write_text(MODEL_SCENARIO.replace('path = "{path}"', f'name = "{MODEL}"'))
    assert main(["run", str(scenario), "--out", str(tmp_path / "good"), "--quick"]) == 0
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sc = load_scenario(root / "scenarios" / "harq_4x4_16qam.toml")
    assert sc.harq is not None


def test_export_check_fails_on_non_finite_outputs():
    import numpy as np

    from kaq_sionna.deploy.check import _non_finite, format_check

    assert _non_finite({"llr": np.array([1.0, np.nan, np.inf]), "codes": np.array([1, 2])}) \
        == {"llr": 2}
    assert _non_finite({"llr": np.zeros(3)}) == {}
    report = {"model": "m", "part": "detector", "precision": "fp32", "num_samples": 1,
              "seed": 0, "outputs": {}, "tolerance": {}, "primary": "llr", "passed": False,
              "non_finite": {"tf": {"llr": 3}},
              "memory": {"file_bytes": 1, "weights_bytes": 1, "weights_runtime_bytes": 1,
                         "activations_bytes_per_cu": 1.0}, "ops": {}}
    assert "the TF model gives non-finite outputs" in format_check(report)


# ---- class 5: resource limits, Ctrl-C at start-up, bench of a size without models -------

def test_out_of_memory_names_the_key_to_lower(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    import kaq_sionna.app.sweep as sweep

    def oom(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor "
                                               "with shape[1000000,64,64]\n" * 30)

    monkeypatch.setattr(sweep, "run_sweep", oom)
    path = write_tiny(tmp_path)
    for extra, key in (([], "[sweep] batch_size"), (["--quick"], "[sweep.quick] batch_size")):
        assert main(["run", str(path), "--out", str(tmp_path / "o"), *extra]) == 2
        err = capsys.readouterr().err
        assert key in err and "out of memory" in err and len(err.strip().splitlines()) == 1


def test_out_of_memory_in_harq_memory_and_train_is_one_line(tmp_path, capsys, monkeypatch, root):
    import tensorflow as tf

    import kaq_sionna.app.memory_study as study
    import kaq_sionna.training.trainer as trainer

    def oom(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating\n" * 30)

    monkeypatch.setattr(study, "run_memory_study", oom)
    assert main(["harq-memory", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "[sweep] batch_size" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setattr(trainer, "train", oom)
    spec = root / "scenarios" / "train" / "pgdnet-kaq8-4x4-16qam.toml"
    assert main(["train", str(spec), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "batch_size" in err and str(spec) in err
    assert len(err.strip().splitlines()) == 1


# Ctrl-C while TensorFlow loads, made deterministic: the subprocess puts a stand-in for
# kaq_sionna.core.quiet_tf in sys.modules whose import_quietly raises KeyboardInterrupt (as a
# SIGINT during the import does), then imports the package as the command or as a library.
_INTERRUPTED_IMPORT = """
import sys, types
fake = types.ModuleType("kaq_sionna.core.quiet_tf")
def import_quietly():
    raise KeyboardInterrupt
fake.import_quietly = import_quietly
sys.modules["kaq_sionna.core.quiet_tf"] = fake
sys.argv[0] = {argv0!r}
import kaq_sionna
"""


@pytest.mark.parametrize("argv0, command", [("-m", True), ("kaq-sionna", True),
                                            ("my_script.py", False)])
def test_ctrl_c_during_start_up_exits_130_without_traceback(argv0, command):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _INTERRUPTED_IMPORT.format(argv0=argv0)],
                          capture_output=True, text=True, timeout=300)
    if command:
        assert proc.returncode == 130, (proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "interrupted" in proc.stderr
    else:  # a library user's session keeps Python's own KeyboardInterrupt
        assert proc.returncode != 0 and "KeyboardInterrupt" in proc.stderr


def test_bench_detectors_without_shipped_models_says_so_once(monkeypatch, capsys):
    import io

    import kaq_sionna.app.bench.detectors as bench

    seen = {}

    def fake_worker(config, threads, tmp, stream):
        seen["rows"] = [r["name"] for r in config["rows"]]
        return {"results": []}

    monkeypatch.setattr(bench, "run_worker", fake_worker)
    stream = io.StringIO()
    result = bench.bench_detectors("3x3-16qam", [1], ["1"], 1, 0.0, 1.0, stream=stream)
    text = stream.getvalue()
    assert text.count("no shipped model of size 3x3-16qam") == 1
    assert seen["rows"] == ["lmmse", "kbest16", "ml", "mmse-sic"]
    assert "pgdnet-fp32-3x3-16qam" in result["config"]["models_not_shipped"]
    stream = io.StringIO()
    bench.bench_detectors("4x4-16qam", [1], ["1"], 1, 0.0, 1.0, stream=stream)
    assert "no shipped model" not in stream.getvalue()


# ---- class 6: numerical guards ----------------------------------------------------------

def test_compressors_map_nan_llrs_to_erasures():
    import numpy as np

    from kaq_sionna.softbits.maxmi import MaxMIQuantizer
    from kaq_sionna.softbits.scalar import (
        Float16Compressor,
        NoCompression,
        UniformLLRQuantizer,
    )

    rng = np.random.default_rng(0)
    train = rng.normal(4.0, 3.0, 20000) * rng.choice([-1.0, 1.0], 20000)
    llr = np.array([np.nan, 5.0, -5.0, np.nan, 0.3], np.float32)
    uniform = UniformLLRQuantizer(4, clip=16.0)
    compressors = [NoCompression(), Float16Compressor(), uniform,
                   MaxMIQuantizer(3, symmetric=True).fit(train)]
    for comp in compressors:
        out = np.asarray(comp(llr))
        assert np.all(np.isfinite(out)), comp
        erasure = np.abs(out[[0, 3]])
        # the smallest magnitude the code can hold (exactly 0 when it has a zero level)
        assert np.all(erasure <= uniform.step / 2 + 1e-6) or np.all(
            erasure <= np.min(np.abs(np.asarray(comp(np.zeros(1, np.float32))))) + 1e-6), comp


def test_uniform_clip_fit_is_robust_to_one_outlier():
    import numpy as np

    from kaq_sionna.softbits.scalar import UniformLLRQuantizer

    rng = np.random.default_rng(1)
    llrs = rng.normal(0.0, 5.0, 50000)
    clean = UniformLLRQuantizer(4).fit(llrs).clip
    spoiled = UniformLLRQuantizer(4).fit(np.append(llrs, [1e30, np.nan, np.inf])).clip
    assert abs(spoiled - clean) < 0.05 * clean


def test_model_that_does_not_detect_is_marked_and_warns(tmp_path, capsys):
    from kaq_sionna.app.scenario import load_scenario
    from kaq_sionna.registry import pretrained as reg

    name = "eqnet-l-4x4-16qam"
    assert main(["list", "models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(name + " "))
    assert "does not detect" in line
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    entry = next(m for m in listing["pretrained"] if m["name"] == name)
    assert "0.29-0.32" in entry["not_detecting"]
    reg._WARNED.discard(name)
    scenario = tmp_path / "s.toml"
    scenario.write_text(MODEL_SCENARIO.replace('path = "{path}"', f'name = "{name}"'))
    load_scenario(scenario)
    load_scenario(scenario)
    err = capsys.readouterr().err
    assert err.count(f"warning: {name} used as a detector") == 1


def test_quantization_only_and_listed_models_are_marked_from_their_configs():
    from kaq_sionna import pretrained

    shipped = pretrained.available()
    marked = {n for n, c in shipped.items() if pretrained.not_detecting(n, c)}
    assert set(pretrained.NOT_DETECTING) <= marked
    quant_only = {n for n, c in shipped.items() if c.get("model") == "eqnet"
                  and c.get("training_mode") == "two-stage" and not c.get("epochs_stage2")}
    assert quant_only and quant_only <= marked  # e.g. the Fig. 5 latent-size models
    detecting = {"eqnet-l-2x2-64qam-lmmse-inputs", "pgdnet-kaq8-4x4-16qam"}
    assert not detecting & marked
    # the evidence: every marked EQ-Net's validation BER stays above 0.25 at every Es/N0
    for name in marked:
        rows = shipped[name].get("final_metrics", {}).get("ber_esno_db", {}).values()
        assert all(r["ber"] > 0.25 for r in rows), name


def test_eqnet_isolates_a_nan_llr_as_an_erasure():
    import numpy as np

    from kaq_sionna.registry import load_pretrained
    from kaq_sionna.softbits.eqnet import UnquantizedLatent

    model = load_pretrained("eqnet-l-2x2-64qam")
    rng = np.random.default_rng(7)
    llr = (4.0 * rng.standard_normal((8, 2, 6))).astype(np.float32)
    with_nan = llr.copy()
    with_nan[0, 1, 3] = np.nan
    erased = llr.copy()
    erased[0, 1, 3] = 0.0
    for q in (model, UnquantizedLatent(model)):
        out = np.asarray(q.decompress(q.compress(with_nan)))
        assert np.all(np.isfinite(out))
        np.testing.assert_array_equal(out, np.asarray(q.decompress(q.compress(erased))))
        # the other channel uses are untouched by the NaN
        np.testing.assert_array_equal(out[1:], np.asarray(q.decompress(q.compress(llr)))[1:])
    assert np.all(np.isfinite(np.asarray(model.reconstruct(with_nan))))


def test_detector_outside_its_training_snr_range_warns_once(tmp_path, capsys):
    import json

    from kaq_sionna.app.snr_range import training_esno_range

    assert training_esno_range("pgdnet-kaq8-4x4-16qam", {}) == (0.0, 25.0)
    assert training_esno_range("lmmse", {}) is None
    text = TINY.replace("num_tx = 2\nnum_rx = 2\nnum_bits_per_symbol = 2",
                        "num_tx = 4\nnum_rx = 4\nnum_bits_per_symbol = 4")
    text += '\n[[detector]]\nname = "pgdnet-kaq8-4x4-16qam"\n'
    # Eb/N0 8 dB is Es/N0 11 dB (rate 1/2, 16-QAM): inside; Eb/N0 30 dB is 33 dB: outside
    for snr, warned in (("[8.0]", False), ("[8.0, 30.0]", True)):
        path = tmp_path / "w.toml"
        path.write_text(text.format(snr=snr, link_extra=""))
        out = tmp_path / f"out{len(snr)}"
        assert main(["run", str(path), "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        doc = json.loads((out / "results.json").read_text())
        if warned:
            assert printed.count("warning: pgdnet-kaq8-4x4-16qam") == 1
            assert len(doc["warnings"]) == 1 and "1 of 2 SNR points" in doc["warnings"][0]
            assert "0 to 25 dB" in doc["warnings"][0]
        else:
            assert "warning:" not in printed and not doc.get("warnings")


def test_damaged_eqnet_storage_model_is_refused_when_the_scenario_is_validated(
        tmp_path, monkeypatch, root):
    from kaq_sionna import pretrained
    from kaq_sionna.app.scenario import ScenarioError, load_scenario

    broken = _copy_model(tmp_path, name="eqnet-l-4x4-16qam", as_name="eqnet-broken-4x4-16qam")
    _npz_rewrite(broken, lambda a: a.update(w000=a["w000"] * float("nan")))
    monkeypatch.setenv(pretrained.ENV_VAR, str(tmp_path / "models"))
    text = (root / "scenarios" / "harq_4x4_16qam_rounds.toml").read_text().replace(
        '"eqnet-l-4x4-16qam"]', '"eqnet-broken-4x4-16qam"]')
    scenario = tmp_path / "harq.toml"
    scenario.write_text(text)
    with pytest.raises((ScenarioError, SpecError)) as err:
        load_scenario(scenario)
    assert "eqnet-broken-4x4-16qam" in str(err.value) and "non-finite" in str(err.value)
