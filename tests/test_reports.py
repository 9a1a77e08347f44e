"""`kaq-sionna report`: each report, run on the committed results, gives the committed summary;
bad input fails with exit code 2 and a message naming the report or the file."""

import json

import pytest

from kaq_sionna.app.cli import main
from kaq_sionna.app.reports import REPORTS

#: (report options, committed summary it regenerates)
SUMMARIES = [
    (["kaq"], "results/kaq/summary.json"),
    (["kaq", "--size", "16x16"], "results/kaq/summary_16x16.json"),
    (["eqnet"], "results/eqnet/summary.json"),
    (["eqnet-fig4"], "results/eqnet_fig4_csi_2x2_64qam/summary.json"),
    (["links"], "results/links/summary.json"),
    (["quant-cost", "results/kaq_cost_curve_4x4_16qam", "results/kaq_cost_curve_16x16_16qam",
      "--reference", "admmnet-fp32snr"], "results/kaq/quant_cost.json"),
]


@pytest.fixture
def at_root(root, monkeypatch):
    """Run from the repository root, as the docs' commands do (paths recorded relative)."""
    monkeypatch.chdir(root)
    return root


def _numbers(doc):
    return {k: v for k, v in doc.items() if k not in ("command", "commit")}


@pytest.mark.parametrize("argv, committed", SUMMARIES, ids=[" ".join(a) for a, _ in SUMMARIES])
def test_report_regenerates_the_committed_summary(argv, committed, at_root, tmp_path, capsys):
    expected = json.loads((at_root / committed).read_text())
    assert expected["command"] == "kaq-sionna " + " ".join(["report", *argv])
    assert expected["commit"] and not expected["commit"].endswith("-dirty")
    out = tmp_path / "out"
    assert main(["report", *argv, "--out", str(out)]) == 0
    written = json.loads((out / (committed.rsplit("/", 1)[1])).read_text())
    assert written["command"] == "kaq-sionna " + " ".join(["report", *argv, "--out", str(out)])
    assert "commit" in written
    assert _numbers(written) == _numbers(expected)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in out.glob("*.png"))
    assert len(list(out.glob("*.png"))) >= 1
    assert "wrote" in capsys.readouterr().out


def test_snr_table_agrees_with_the_eqnet_summary(at_root, tmp_path, capsys):
    """The table of one sweep equals the one the eqnet report computed for it."""
    name = "eqnet_fig7_4x4_16qam"
    out = tmp_path / "table.json"
    assert main(["report", "snr-table", f"results/{name}/results.json", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    table = json.loads(out.read_text())
    assert table["command"].startswith("kaq-sionna report snr-table results/")
    rows = table["tables"][f"results/{name}/results.json"]["curves"]
    summary = json.loads((at_root / "results/eqnet/summary.json").read_text())
    assert rows == summary["scenarios"][name]["curves"]
    for label in rows:
        assert f"| {label} |" in text


def test_training_curves_plot_and_final_values(at_root, tmp_path, capsys):
    models = ["admmnet-qatmse8-4x4-16qam", "admmnet-kaq8-4x4-16qam"]
    out = tmp_path / "fig5.png"
    assert main(["report", "training-curves", *models, "--reference", "admmnet-fp32-4x4-16qam",
                 "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    text = capsys.readouterr().out
    for model in models:
        history = json.loads((at_root / "results/train" / model / "train.json").read_text())
        last = history["history"][-1]
        assert (f"{model}: {len(history['history'])} epochs, final val BER "
                f"{last['val_ber']:.5f}, val MSE {last['val_mse']:.5f}") in text


def test_list_names_every_report(capsys):
    assert main(["report", "--list"]) == 0
    text = capsys.readouterr().out
    assert [line.split()[0] for line in text.splitlines()[:len(REPORTS)]] == list(REPORTS)


@pytest.mark.parametrize("argv, parts", [
    (["report", "nope"], ["report", "expected one of kaq, eqnet", "found 'nope'"]),
    (["report"], ["expected a report name", "found none"]),
    (["report", "kaq", "--size", "4-by-4"], ["--size", "<ntx>x<nrx>", "'4-by-4'"]),
    (["report", "kaq", "--size", "3x3"], ["results/kaq_fig4_3x3_16qam/results.json",
                                          "kaq-sionna run scenarios/kaq_fig4_3x3_16qam.toml",
                                          "no such file"]),
    (["report", "links", "--results", "nowhere"],
     ["nowhere/ofdm_cdl_c_4x4_16qam/results.json", "no such file"]),
    (["report", "snr-table", "results/nothing/results.json"],
     ["results/nothing/results.json", "no such file"]),
    (["report", "quant-cost", "results/kaq_cost_curve_4x4_16qam", "--reference", "nope",
      "--out", "x.png"], ["--reference", "admmnet-fp32snr", "'nope'"]),
    (["report", "quant-cost", "results/decoder_quickstart", "--reference",
      "lmmse, decoder=boxplus", "--out", "x.png"],
     ["-kaq<bits>", "results/decoder_quickstart:"]),
    (["report", "training-curves", "no-such-model", "-o", "x.png"],
     ["'no-such-model'", "results/train/no-such-model/train.json"]),
])
def test_bad_input_is_a_user_error_naming_the_cause(argv, parts, at_root, tmp_path, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for part in parts:
        assert part in err, f"{part!r} not in {err!r}"
    assert not (at_root / "x.png").exists()


def test_unreadable_results_file_names_the_file(tmp_path, capsys):
    bad = tmp_path / "sweep" / "results.json"
    bad.parent.mkdir()
    bad.write_text("{not json")
    assert main(["report", "snr-table", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "JSON syntax" in err
    bad.write_text(json.dumps({"schema_version": 1}))
    assert main(["report", "snr-table", str(bad)]) == 2
    assert "missing key" in capsys.readouterr().err


def test_bad_report_option_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", "kaq", "--no-such-option"])
    assert info.value.code == 2
    assert "--no-such-option" in capsys.readouterr().err


def test_provenance_ledger_is_current_and_lists_every_stale_file(at_root, tmp_path, capsys):
    from kaq_sionna.app.reports.provenance import collect

    out = tmp_path / "provenance.md"
    assert main(["report", "provenance", "--out", str(out)]) == 0
    assert out.read_text() == (at_root / "docs" / "provenance.md").read_text(), \
        "docs/provenance.md is out of date: run kaq-sionna report provenance"
    rows = collect("results")
    sweeps = [r for r in rows if r["kind"] == "sweep"]
    assert len(sweeps) >= 30 and all(r["command"] for r in sweeps)
    for r in rows:
        if r["status"] != "clean":
            assert f"`{r['path']}`" in out.read_text()


def test_provenance_classifies_commits(tmp_path):
    from kaq_sionna.app.reports.provenance import collect

    folder = tmp_path / "results" / "x"
    folder.mkdir(parents=True)
    for name, doc in (("a.json", {"commit": "abc"}), ("b.json", {"commit": "abc-dirty"}),
                      ("c.json", {"command": "kaq-sionna run s.toml"}), ("d.json", [1, 2])):
        (folder / name).write_text(json.dumps(doc))
    (folder / "e.json").write_text("{not json")
    rows = {r["path"].rsplit("/", 1)[1]: r for r in collect(tmp_path / "results")
            if "results" in r["path"]}
    assert rows["a.json"]["status"] == "clean" and rows["b.json"]["status"] == "dirty"
    assert rows["c.json"]["status"] == "none"
    assert rows["c.json"]["command"] == "kaq-sionna run s.toml"
    assert "d.json" not in rows and rows["e.json"]["kind"] == "unreadable"


@pytest.mark.parametrize("label, tag", [
    ("admmnet-kaq4", ("kaq", 4)), ("admmnet-qatmse2", ("qatmse", 2)),
    ("admmnet-kaq12-4x4-16qam", ("kaq", 12)), ("admmnet-fp32snr", None), ("lmmse", None),
    ("admmnet-kaqsteponly4", None), ("admmnet-lmmse-kaq4", ("kaq", 4)),
])
def test_quant_cost_reads_method_and_bits_from_the_label(label, tag):
    from kaq_sionna.app.reports.quant_cost import parse_label
    assert parse_label(label) == tag
