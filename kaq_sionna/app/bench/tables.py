"""The Markdown tables and the JSON file of a benchmark result.

``python -m kaq_sionna.app.bench.tables RESULT.json`` prints the per-thread-setting tables
(:func:`format_wide_table`) of a saved ``kaq-sionna bench detectors`` result.
"""

import json
import sys
from pathlib import Path

from kaq_sionna.core.atomic_io import atomic_write_text
from kaq_sionna.core.provenance import git_commit

__all__ = ["format_link_table", "format_modes_summary", "format_modes_table",
           "format_profile_table", "format_table",
           "format_wide_table", "write_json"]


def _fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def format_table(result):
    """Markdown table of a :func:`~kaq_sionna.app.bench.detectors.bench_detectors` result
    (plus the skipped cells)."""
    lines = ["| row | threads | batch | latency median [ms] | IQR [ms] | per channel use [us] "
             "| vs LMMSE | vs fp32 ref | weights [B] | activations [B/cu] |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    skipped = []
    for r in result["results"]:
        if "skipped" in r:
            skipped.append(f"- {r['row']} ({r['threads']} thr"
                           + (f", batch {r['batch_size']}" if "batch_size" in r else "")
                           + f"): skipped, {r['skipped']}")
            continue
        lat = r["latency_s"]
        mem = r["memory"]
        plus = "+" if mem.get("loops_not_expanded") else ""  # lower bounds
        act_s = f"{mem['activations_bytes_per_cu']:.0f}{plus}"
        lines.append(
            f"| {r['row']} | {r['threads']} | {r['batch_size']} | {lat['median'] * 1e3:.4g} | "
            f"{(lat['q3'] - lat['q1']) * 1e3:.2g} | "
            f"{lat['median'] / r['batch_size'] * 1e6:.3g} | {_fmt_ratio(r.get('vs_lmmse'))} | "
            f"{_fmt_ratio(r.get('vs_fp32_ref'))} | {mem['weights_bytes']}{plus} | {act_s} |")
    note = ("", "+: lower bound (loop bodies or called functions of the TF graph are not "
                "expanded)") if any(r.get("memory", {}).get("loops_not_expanded")
                                   for r in result["results"]) else ()
    return "\n".join(lines + list(note) + ([""] + skipped if skipped else []))


def format_wide_table(result, threads):
    """Markdown table of one thread setting: a row per detector, a column per batch size
    (median latency in ms with its IQR, ratio to LMMSE, ratio to the fp32 reference)."""
    batches = result["config"]["batch_sizes"]
    cells = {(r["row"], r["batch_size"]): r for r in result["results"]
             if r["threads"] == threads and "batch_size" in r}
    names = [r["name"] for r in result["config"]["rows"]]
    head = " | ".join(f"batch {b}: ms (IQR) / xLMMSE / xfp32" for b in batches)
    lines = [f"| row ({threads} thread{'s' if threads > 1 else ''}) | {head} | weights [B] | "
             "activations [B/cu] | fp32 ref |",
             "| --- | " + " | ".join("---" for _ in batches) + " | --- | --- | --- |"]
    for name in names:
        row, mem = [], None
        for b in batches:
            r = cells.get((name, b))
            if r is None:
                row.append("-")
            elif "skipped" in r:
                row.append("skipped")
            else:
                lat, mem = r["latency_s"], r["memory"]
                row.append(f"{lat['median'] * 1e3:.3g} ({(lat['q3'] - lat['q1']) * 1e3:.2g}) / "
                           f"{_fmt_ratio(r.get('vs_lmmse'))} / {_fmt_ratio(r.get('vs_fp32_ref'))}")
        if mem is None:
            continue
        plus = "+" if mem.get("loops_not_expanded") else ""
        ref = next(r["fp32_ref"] for r in result["config"]["rows"] if r["name"] == name) or "-"
        lines.append(f"| {name} | " + " | ".join(row) + f" | {mem['weights_bytes']}{plus} | "
                     f"{mem['activations_bytes_per_cu']:.0f}{plus} | {ref} |")
    return "\n".join(lines)


def format_link_table(result):
    """Markdown table of a :func:`~kaq_sionna.app.bench.link.bench_link` result."""
    lines = ["| mode | CodedMIMOLink [Mbit/s] | plain Sionna chain [Mbit/s] | ratio |",
             "| --- | --- | --- | --- |"]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['link_mbps']:.3f} ({r['link_range_mbps'][0]:.3f}-"
                     f"{r['link_range_mbps'][1]:.3f}) | {r['plain_mbps']:.3f} "
                     f"({r['plain_range_mbps'][0]:.3f}-{r['plain_range_mbps'][1]:.3f}) | "
                     f"{r['ratio']:.2f} |")
    return "\n".join(lines)


def format_modes_table(result):
    """Markdown table of a :func:`~kaq_sionna.app.bench.scenario_link.bench_modes` result:
    per detector and mode, median (min-max) seconds per batch and the first call."""
    modes = result["config"]["modes"]
    head = "| detector | family | " + " | ".join(
        f"{m} [s/batch] | {m} first call [s]" for m in modes) + " | xla/graph | auto (this run) |"
    lines = [head, "|" + " --- |" * (2 + 2 * len(modes) + 2)]
    for r in result["rows"]:
        cells = []
        for m in modes:
            v = r["modes"].get(m, {})
            if "median_s" in v:
                cells += [f"{v['median_s']:.3f} ({v['min_s']:.3f}-{v['max_s']:.3f})",
                          f"{v['first_call_s']:.1f}"]
            else:
                cells += ["fails" if "error" in v else "-", "-"]
        ratio = r.get("xla_over_graph")
        lines.append(f"| {r['label']} | {r['family']} | " + " | ".join(cells)
                     + f" | {_fmt_ratio(ratio)} | {r.get('auto', '-')} |")
    return "\n".join(lines)


def format_profile_table(result):
    """Markdown table of a :func:`~kaq_sionna.app.bench.scenario_link.profile_link` result:
    each stage's share of the summed stage times, and milliseconds per batch."""
    from kaq_sionna.app.bench.scenario_link import STAGES

    lines = ["| detector | mode | " + " | ".join(STAGES) + " | sum of stages [ms] | whole link "
             "[ms] |", "|" + " --- |" * (len(STAGES) + 4)]
    for r in result["rows"]:
        shares = " | ".join(f"{r['stages'][s]['share']:.1%} ({r['stages'][s]['median_s'] * 1e3:.0f})"
                            for s in STAGES)
        lines.append(f"| {r['label']} | {r['mode']} | {shares} | {r['sum_s'] * 1e3:.0f} | "
                     f"{r['whole_s'] * 1e3:.0f} |")
    return "\n".join(lines)


def write_json(path, result):
    """Writes a benchmark result to ``path`` (indented JSON, atomically), with the git commit of
    the code that measured it (``commit``, added if missing)."""
    result.setdefault("commit", git_commit())
    atomic_write_text(path, json.dumps(result, indent=2) + "\n")


def format_modes_summary(results, names=None):
    """Markdown table of several ``bench link SCENARIO`` mode results together: per (link
    type, detector family), the XLA / graph ratio of every row in every run, the largest
    and the mode ``"auto"`` takes from them (:func:`kaq_sionna.app.exec_mode.hints_from_bench`)."""
    from kaq_sionna.app.exec_mode import hints_from_bench

    names = names or [f"run {i + 1}" for i in range(len(results))]
    ratios = {}
    for name, result in zip(names, results, strict=True):
        for row in result["rows"]:
            xla = row["modes"].get("xla", {})
            value = "fails" if "error" in xla else row.get("xla_over_graph")
            if value is not None:
                ratios.setdefault((row["link_type"], row["family"]), []).append(
                    (name, row["label"], value))
    hints = hints_from_bench(results)
    lines = ["| link | family | xla / graph (row, run) | largest | auto |",
             "| --- | --- | --- | --- | --- |"]
    for key in sorted(ratios):
        cells = ratios[key]
        numbers = [v for _, _, v in cells if v != "fails"]
        worst = "fails" if len(numbers) < len(cells) else f"{max(numbers):.2f}"
        shown = ", ".join(f"{v if v == 'fails' else f'{v:.2f}'} ("
                          + ("" if label == key[1] else f"{label}, ") + f"{name})"
                          for name, label, v in cells)
        lines.append(f"| {key[0]} | {key[1]} | {shown} | {worst} | {hints[key]} |")
    return "\n".join(lines)


def _main(argv):
    """Prints the wide tables of the detector-benchmark result in the JSON file ``argv[0]``;
    given ``bench link SCENARIO`` mode results, their summary (:func:`format_modes_summary`),
    the runs named after their files."""
    results = [json.loads(Path(a).read_text()) for a in argv]
    if all(r.get("benchmark") == "link-modes" for r in results):
        print(format_modes_summary(results, [Path(a).stem.removeprefix(
            r["config"]["link_type"].replace("_", "-") + "-") for a, r in zip(argv, results,
                                                                              strict=True)]))
        return
    result = results[0]
    for t in result["config"]["thread_values"]:
        print(format_wide_table(result, t) + "\n")


if __name__ == "__main__":
    _main(sys.argv[1:])
