"""The crossing and gap tables that docs/ cite are regenerated from the committed results and
must appear in the docs verbatim: a changed result or a changed crossing rule fails here until
the docs are updated (re-run the report and paste its tables)."""

import json

import pytest

from kaq_sionna.app.reports import kaq, links, quant_cost, snr_table


@pytest.fixture
def at_root(root, monkeypatch):
    monkeypatch.chdir(root)
    return root


def _blocks(text):
    """The markdown tables of ``text`` (runs of lines starting with '|')."""
    out, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            out.append("\n".join(cur))
            cur = []
    return out


def _assert_tables_in(doc_path, generated):
    doc = doc_path.read_text()
    for table in _blocks(generated):
        assert table in doc, (f"{doc_path.name} lacks this table as the report now prints it "
                              f"(update the doc):\n{table}")


def test_links_tables_match_the_committed_results(at_root):
    _assert_tables_in(at_root / "docs/links.md", links.tables(links.summarize("results")))


def test_kaq_16x16_tables_match_the_committed_results(at_root):
    summary, _, _ = kaq.summarize("results", "16x16")
    _assert_tables_in(at_root / "docs/kaq.md", kaq.tables(summary))


def test_quant_cost_table_matches_the_committed_results(at_root):
    systems = [quant_cost.cost_rows(f"results/kaq_cost_curve_{size}_16qam", "admmnet-fp32snr",
                                    [0.1, 0.01]) for size in ("4x4", "16x16")]
    _assert_tables_in(at_root / "docs/kaq.md",
                      quant_cost.markdown(systems, "admmnet-fp32snr", [0.1, 0.01]))


def test_no_bound_is_printed_as_a_crossing(at_root):
    """The four corrected conclusions of issue 18 stay bounds/intervals, or are resolved by
    refined sweeps inside their former bounds."""
    summary, _, _ = kaq.summarize("results", "16x16")
    bler = summary["coded_ebno_db_at_bler"]
    # QAT-MSE 4 bit: the bound (11, 12] dB resolved by a point added at 11.5 dB ([sweep] refine)
    qat4 = bler["admmnet-qatmse4"]["0.01"]
    assert qat4["kind"] == "value" and 11.0 < qat4["snr_db"] <= 12.0
    refined = json.loads((at_root / "results/kaq_coded_16x16_16qam_admm_qatmse/results.json")
                         .read_text())
    curve = next(c for c in refined["curves"] if c["label"] == "admmnet-qatmse4")
    assert curve["added_snr_db"] == [11.5]
    assert bler["kbest"]["0.1"]["kind"] == "upper"
    gap = next(r for r in summary["gaps_db"] if (r["a"], r["b"]) ==
               ("admmnet-kaq4", "admmnet-qatmse4"))["coded_bler_1e-2"]
    assert -1.30 <= gap["low"] < gap["estimate"] < gap["high"] <= -0.05  # was [-1.30, -0.05]
    pusch = links.summarize("results")["pusch_cdl_b"]["curves"]["kbest"]
    assert pusch["snr_at_bler_1e-1"]["kind"] == "upper"
    assert pusch["gap_to_lmmse_1e-1"]["low"] < 0
    text = (at_root / "docs/kaq.md").read_text() + (at_root / "docs/links.md").read_text()
    for wrong in ("1.1-1.3 dB behind\nLMMSE", "12.00 dB, 0.67 dB after LMMSE)",
                  "BLER 1e-1 at 14.0 dB, 3.4 dB after LMMSE"):
        assert wrong not in text


@pytest.mark.parametrize("results, doc, targets, reference", [
    ("results/pusch_cdl_b_kbest/results.json", "docs/links.md", [0.1], "lmmse, csi=ls"),
    ("results/pusch_cdl_b_kbest/results.json", "docs/links.md", [0.1], "lmmse, csi=perfect"),
    ("results/kaq_coded_16x16_16qam_kbest/results.json", "docs/kaq.md", [0.1, 0.01], "lmmse"),
])
def test_refined_kbest_tables_match_the_committed_results(results, doc, targets, reference,
                                                          at_root):
    """Issue 18: K-Best against LMMSE on the refined grids, as `kaq-sionna report snr-table`
    prints it."""
    tables_ = snr_table.tables([results], "bler", targets, reference)
    assert next(iter(tables_.values()))["reference"] == reference
    _assert_tables_in(at_root / doc, snr_table.markdown(tables_, "bler", targets))
