"""Executes every tutorial notebook in fast mode (KAQ_TUTORIAL_FAST=1) and fails on any cell
error, e.g. a notebook importing a name that no longer exists.

The notebooks run on copies (in a temporary folder), with a kernel of this interpreter
(``tutorials/run_notebooks.py`` writes a kernel spec pointing at ``sys.executable``); the
committed notebooks and their full-run outputs are never rewritten. All of them together take
about 2.5 minutes on 2 CPU cores (tutorials/README.md).
"""

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("nbclient", reason="the tutorials need the test extra: pip install -e '.[test]'")
pytest.importorskip("ipykernel", reason="the tutorials need the test extra: pip install -e '.[test]'")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
_spec = importlib.util.spec_from_file_location("run_notebooks", TUTORIALS / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

NOTEBOOKS = run_notebooks.notebooks()


def test_the_seven_tutorials_exist():
    assert len(NOTEBOOKS) == 7, [nb.name for nb in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_committed_notebook_has_full_run_outputs(path):
    """Committed from a full run: every code cell executed, at least one plot, no error, and
    not the fast mode."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "a code cell was not executed"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot"
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "full mode" in text and "FAST mode" not in text


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_notebook_runs_in_fast_mode(path, tmp_path):
    before = path.read_bytes()
    # raises nbclient.exceptions.CellExecutionError (with the failing cell) on any error
    run_notebooks.execute(path, fast=True, out_path=tmp_path / path.name)
    assert path.read_bytes() == before  # committed outputs untouched


# ---- the library changes the tutorials and the first-run experience needed -------------------

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
snr_db = [0.0, 4.0]
batch_size = 8
max_mc_iter = 1
num_target_block_errors = 10
early_stop = false

[[detector]]
name = "lmmse"
"""


def test_resumed_run_says_how_many_points_it_reused(tmp_path, capsys):
    from kaq_sionna.app.cli import main

    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    assert "reused" not in capsys.readouterr().out          # a fresh folder: simulated
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "reused 2 of 2 SNR points already in" in text and "--restart" in text


def test_plot_results_at_bler_one_and_inline_backend_kept(tmp_path):
    """A point with every block wrong used to give a negative error bar (ValueError), and
    writing plot.png switched a notebook's backend to Agg (plots stopped showing)."""
    import matplotlib
    import matplotlib.pyplot as plt

    from kaq_sionna.app.api import plot_results
    from kaq_sionna.app.results import plot_png

    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        doc = json.loads((TUTORIALS.parent / "results/kaq_coded_4x4_16qam/results.json").read_text())
        assert any(e == n for c in doc["curves"]
                   for e, n in zip(c["block_errors"], c["num_blocks"], strict=True))
        plt.close(plot_results(doc, metrics=("bler",)))
        plot_png(doc)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
