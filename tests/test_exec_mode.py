"""[sweep] mode: compile_for_mode, the deterministic "auto" choice, the XLA-to-graph fallback, the
hint table against the committed benchmark, and XLA giving graph mode's statistics."""

import json
import math

import pytest
import tensorflow as tf
from sionna.phy import config
from sionna.phy.utils import sim_ber

from kaq_sionna.app.exec_mode import (
    AUTO_DEFAULT,
    AUTO_HINTS,
    CompiledLink,
    compile_for_mode,
    detector_family,
    hints_from_bench,
)
from kaq_sionna.app.scenario import load_scenario, parse_scenario
from kaq_sionna.core.params import SpecError
from kaq_sionna.registry import LinkContext, build_detector
from links import CodedMIMOLink


class _NoXLALink:
    """A link with an op XLA cannot compile (a Python function): graph mode runs it."""

    def __call__(self, batch_size, ebno_db):
        b = tf.zeros([batch_size, 8])
        return b, tf.py_function(lambda x: x, [b], tf.float32)


def test_families_of_builtins_models_and_quantized_llr():
    assert detector_family("lmmse") == "lmmse"
    assert detector_family("pgdnet-kaq8-4x4-16qam") == "pgdnet"
    assert detector_family("admmnet-fp32-16x16-16qam") == "admmnet"
    assert detector_family("quantized-llr", {"source": "mmse-sic"}) == "quantized-llr/mmse-sic"
    assert detector_family("quantized-llr", {}) == "quantized-llr/ml"
    assert detector_family("mymodule:factory") == "mymodule:factory"


def test_explicit_modes_are_kept_and_auto_reads_the_table():
    link = _NoXLALink()
    for mode in ("eager", "graph", "xla"):
        fn, used, note = compile_for_mode(link, mode, "coded_mimo", "lmmse")
        assert (used, fn.mode, fn.requested, note) == (mode, mode, mode, "")
    for (link_type, family), hint in AUTO_HINTS.items():
        name = family.split("/")[0]
        params = {"source": family.split("/")[1]} if "/" in family else {}
        fn, used, note = compile_for_mode(link, "auto", link_type, name, params)
        assert used == hint and fn.requested == "auto" and link_type in note
    fn, used, note = compile_for_mode(link, "auto", "coded_mimo", "mymodule:factory")
    assert used == AUTO_DEFAULT and "no benchmark hint" in note
    # a family measured on coded_mimo only: its coded_mimo hint on the other links
    assert ("pusch", "ml") not in AUTO_HINTS
    fn, used, note = compile_for_mode(link, "auto", "pusch", "ml")
    assert used == AUTO_HINTS[("coded_mimo", "ml")] and "measured on coded_mimo" in note
    with pytest.raises(ValueError, match="auto"):
        compile_for_mode(link, "fast", "coded_mimo", "lmmse")


def test_auto_falls_back_to_graph_where_xla_fails_and_says_why():
    fn = CompiledLink(_NoXLALink(), "xla", requested="auto", note="auto: hint", fallback=True)
    b, b_hat = fn(batch_size=3, ebno_db=tf.constant(0.0))
    assert b_hat.shape == (3, 8)
    record = fn.record()
    assert record["mode"] == "graph" and record["mode_requested"] == "auto"
    assert record["mode_note"].startswith("XLA failed at the first call")
    fn(batch_size=3, ebno_db=tf.constant(0.0))  # stays in graph mode
    assert fn.mode == "graph"


def test_explicit_xla_does_not_fall_back():
    fn, _, _ = compile_for_mode(_NoXLALink(), "xla", "coded_mimo", "lmmse")
    with pytest.raises(Exception):  # noqa: B017 - whatever TF raises for an uncompilable op
        fn(batch_size=3, ebno_db=tf.constant(0.0))


def test_scenarios_accept_auto_and_keep_graph_as_default():
    base = {"scenario": {"name": "x"}, "link": {"type": "coded_mimo"},
            "sweep": {"snr_db": [0.0]}, "detector": [{"name": "lmmse"}]}
    assert parse_scenario(base).sweep["mode"] == "graph"
    auto = {**base, "sweep": {"snr_db": [0.0], "mode": "auto"}}
    assert parse_scenario(auto).sweep["mode"] == "auto"
    with pytest.raises(SpecError, match="mode"):
        parse_scenario({**base, "sweep": {"snr_db": [0.0], "mode": "fast"}})


def test_the_hint_table_is_what_the_committed_benchmarks_say(root):
    """AUTO_HINTS must be hints_from_bench of the committed results/bench/modes/*.json."""
    results = [json.loads(p.read_text()) for p in sorted((root / "results/bench/modes").glob(
        "*.json"))]
    assert results, "no committed results/bench/modes/*.json"
    assert AUTO_HINTS == hints_from_bench(results)


def test_hints_take_xla_only_where_it_won_in_every_row():
    def row(family, graph, xla):
        return {"link_type": "coded_mimo", "family": family,
                "modes": {"graph": {"median_s": graph}, "xla": xla}}

    rows = [row("a", 1.0, {"median_s": 0.5}), row("a", 1.0, {"median_s": 0.85}),  # all <= 0.9
            row("b", 1.0, {"median_s": 0.3}), row("b", 1.0, {"median_s": 1.2}),   # one loses
            row("c", 1.0, {"median_s": 0.95}),                                    # > 0.9
            row("d", 1.0, {"median_s": 0.5}), row("d", 1.0, {"error": "no kernel"})]
    assert hints_from_bench([{"rows": rows[:4]}, {"rows": rows[4:]}]) == {
        ("coded_mimo", "a"): "xla", ("coded_mimo", "b"): "graph", ("coded_mimo", "c"): "graph",
        ("coded_mimo", "d"): "graph"}


def test_benchmark_scenarios_are_valid(root):
    for path in sorted((root / "scenarios/bench").glob("*.toml")):
        load_scenario(path)


# --------------------------------------------------- XLA gives graph mode's statistics

# detector, parameters, Eb/N0 [dB] with a BLER near 0.3-0.7 on the quickstart link
# (results/quickstart/results.json)
FAMILIES = [
    ("lmmse", {}, 8.5),
    ("ep", {}, 8.0),
    ("kbest", {"list_size": 16, "llr_clip": 4.0}, 8.5),
    ("pgdnet-kaq8-4x4-16qam", {}, 10.0),
    ("admmnet-kaq8-4x4-16qam", {}, 9.0),
    ("quantized-llr", {"source": "lmmse", "quantizer": "uniform4"}, 8.5),
]


def _counts(name, params, snr, mode):
    config.seed = 5
    det = build_detector(name, LinkContext(4, 4, 4), **params)
    link = CodedMIMOLink(det, 4, 4, 4, k=512, n=1024)
    fn, _, _ = compile_for_mode(link, mode, "coded_mimo", name, params)
    counts = {}

    def keep(mc_iter, snr_idx, ebno_dbs, bit_errors, block_errors, nb_bits, nb_blocks):
        counts.update(errors=int(block_errors[0]), blocks=int(nb_blocks[0]))
        return sim_ber.CALLBACK_CONTINUE

    sim_ber(fn, tf.constant([snr], tf.float32), 32, 4, early_stop=False, verbose=False,
            callback=keep)
    return counts["errors"], counts["blocks"], fn.mode


@pytest.mark.slow
@pytest.mark.parametrize("name,params,snr", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_xla_and_graph_give_the_same_bler(name, params, snr):
    e_graph, n_graph, m_graph = _counts(name, params, snr, "graph")
    e_xla, n_xla, m_xla = _counts(name, params, snr, "xla")
    assert (m_graph, m_xla) == ("graph", "xla") and n_graph == n_xla == 512
    p = (e_graph + e_xla) / (n_graph + n_xla)
    assert 0.05 < p < 0.95, "choose an SNR with a BLER away from 0 and 1"
    # two-proportion z test at 5 standard deviations (both runs: 512 codewords)
    sd = math.sqrt(p * (1 - p) * (1 / n_graph + 1 / n_xla))
    assert abs(e_graph / n_graph - e_xla / n_xla) <= 5 * sd
