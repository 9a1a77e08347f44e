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
