r"""The HARQ soft-buffer memory study behind ``kaq-sionna harq-memory``.

Two halves, joined in one table and one plot:

* **measured**: the HARQ scenarios (``scenarios/harq_*.toml``, one curve per
  storage scheme) are swept with :func:`kaq_sionna.app.sweep.run_sweep` (resuming
  what is already in ``results/<scenario>/``); for every curve the SNR at
  which the BLER after the first retransmission (round ``target_round`` of
  the scenario) crosses ``target_bler`` is found by
  :func:`kaq_sionna.app.stats.crossing` (interpolated, linear in SNR, log in
  BLER, only between two points with block errors around the target;
  otherwise a bound), and the penalty of a scheme is that SNR minus the
  float32 curve's for the same detector, with its interval;
* **modelled**: the soft-buffer memory of a cell
  (:func:`kaq_sionna.harq.memory.soft_buffer_memory`) for every scheme, with
  and without limited buffer rate matching.

This module is application layer (it runs sweeps, hence links) like
:mod:`kaq_sionna.app.sweep`.
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

from kaq_sionna.app.results import atomic_write_bytes, atomic_write_text, figure_png
from kaq_sionna.app.stats import crossing, gap, rate_crossing
from kaq_sionna.harq.memory import NRSoftBufferConfig, soft_buffer_memory

__all__ = ["DEFAULT_SCENARIOS", "snr_at_bler", "penalties", "storage_bits",
           "run_memory_study"]

DEFAULT_SCENARIOS = ("scenarios/harq_2x2_64qam.toml", "scenarios/harq_4x4_16qam.toml",
                     "scenarios/harq_2x2_64qam_rounds.toml",
                     "scenarios/harq_4x4_16qam_rounds.toml")


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def resolve_project_path(path):
    """``path`` as given when it exists from the working directory, else from the project root
    (so ``scenarios/harq_2x2_64qam.toml`` works from any folder of a checkout)."""
    path = Path(path)
    if path.exists() or path.is_absolute() or not (PROJECT_ROOT / path).exists():
        return path
    return PROJECT_ROOT / path


def snr_at_bler(snr_db, bler, target=0.1):
    """SNR where a BLER curve first falls to ``target``, only when it is a value.

    Kept for callers that have rates but no counts; the rule is
    :func:`kaq_sionna.app.stats.crossing` (which also returns bounds and intervals: use it).

    Input
    -----
    snr_db, bler : list of float
        Points of the curve.
    target : float

    Output
    ------
    : float | `None`
        `None` unless two points with errors bracket ``target`` (a curve that falls from above
        the target to zero errors only bounds the crossing; so does one that starts below it or
        never reaches it).
    """
    c = rate_crossing(sorted(zip(map(float, snr_db), bler, strict=True)), target)
    return c.snr_db if c.is_value else None


def penalties(doc, target_bler=0.1):
    """SNR at ``target_bler`` after the first retransmission, and penalty vs float32.

    Input
    -----
    doc : dict
        A ``results.json`` of a ``[harq]`` scenario.
    target_bler : float

    Output
    ------
    : list of dict
        One per curve: ``detector``, ``storage``, ``crossing`` (the dict of a
        :class:`~kaq_sionna.app.stats.Crossing`), ``snr_db`` (`None` unless the crossing is a
        value), ``penalty`` (the dict of a :class:`~kaq_sionna.app.stats.Gap` to the float32
        curve of the same detector, or `None`), ``penalty_db`` (its estimate), and bounds:
        ``snr_above_db`` / ``penalty_above_db`` for a curve still above the target at its last
        point (lower bounds), ``snr_at_most_db`` / ``penalty_at_most_db`` for one that falls to
        zero errors or starts below the target (upper bounds), else `None`.
    """
    r = doc["scenario"]["harq"]["target_round"]
    rows, found = [], {}
    for c in doc["curves"]:
        errors = [p[r - 1] for p in c["block_errors_per_round"]]
        cr = crossing(c["snr_db"], errors, c["num_blocks"], target_bler)
        found[c["label"]] = cr
        rows.append({"detector": c["detector"], "label": c["label"], "storage": c["storage"],
                     "crossing": cr.as_dict(), "snr_db": cr.snr_db,
                     "snr_above_db": cr.low if cr.kind == "lower" else None,
                     "snr_at_most_db": cr.high if cr.kind == "upper" else None})
    ref = {row["detector"]: found[row["label"]] for row in rows if row["storage"] == "float32"}
    for row in rows:
        base = ref.get(row["detector"])
        g = None if base is None else gap(found[row["label"]], base)
        row["penalty"] = None if g is None else g.as_dict()
        row["penalty_db"] = None if g is None else g.estimate
        own = found[row["label"]]
        row["penalty_above_db"] = (g.low if g is not None and own.kind == "lower" else None)
        row["penalty_at_most_db"] = (g.high if g is not None and own.kind == "upper"
                                     else None)
    return rows


def _joint_streams(name):
    from kaq_sionna.registry.compressors import eqnet_compressor_names

    return name in eqnet_compressor_names()


def storage_bits(name):
    """Bits per soft bit of a storage scheme name."""
    from kaq_sionna.registry.compressors import resolve_compressor

    return float(resolve_compressor(name).bits_per_soft_bit)


def run_memory_study(scenario_paths=DEFAULT_SCENARIOS, out_dir="results/harq-memory",
                     quick=False, restart=False, config=None, target_bler=0.1,
                     simulate=True, command="", stream=None, results_dir="results",
                     workers=0, scheduler=None, threads_per_worker=1, threads=0):
    """Runs (or resumes) the HARQ sweeps, then writes the memory study.

    Parameters
    ----------
    scenario_paths : sequence of str
        ``[harq]`` scenario files.
    out_dir : str | Path
        Receives ``memory.json``, ``memory.md`` and ``memory_vs_penalty.png``.
    quick : bool
        Quick sweeps (``results/<name>-quick``).
    restart : bool
        Discard existing sweep results.
    config : NRSoftBufferConfig | `None`
        Cell configuration of the memory model (default: 100 MHz, 273 PRB,
        4 layers, 256-QAM, R = 0.926, 16 processes, 1 UE).
    target_bler : float
        BLER after the first retransmission at which penalties are read.
    simulate : bool
        `False`: only read results already on disk (no sweep).
    results_dir : str | Path
        The sweeps go to ``<results_dir>/<scenario name>[-quick]``.
    command : str
        Recorded in ``memory.json``.
    stream : file
        Progress output.
    workers, scheduler, threads_per_worker, threads
        Where the sweeps run (see :func:`kaq_sionna.app.sweep.run_sweep`); one executor serves
        every scenario.

    Output
    ------
    : dict
        The ``memory.json`` document.
    """
    from kaq_sionna.app.executors import make_executor
    from kaq_sionna.app.results import load_results
    from kaq_sionna.app.scenario import ScenarioError, load_scenario
    from kaq_sionna.app.sweep import run_sweep

    config = config or NRSoftBufferConfig()
    scenario_paths = [resolve_project_path(p) for p in scenario_paths or DEFAULT_SCENARIOS]
    scenarios = [load_scenario(p) for p in scenario_paths]  # validate all before running
    for sc in scenarios:
        if sc.harq is None:
            raise ScenarioError("[harq]", "a HARQ scenario (with a [harq] section)",
                                "no [harq] section", sc.path)
    measured, schemes, rounds_only = [], {}, []
    docs = []
    executor = make_executor(workers, scheduler, threads_per_worker, threads) \
        if simulate else None
    try:
        for sc in scenarios:
            res_dir = Path(results_dir) / (sc.name + ("-quick" if quick else ""))
            if simulate:
                docs.append(run_sweep(sc, res_dir, quick=quick, restart=restart, stream=stream,
                                      command=command + f"  # sweep of {sc.path}",
                                      executor=executor))
            elif (res_dir / "results.json").exists():
                docs.append(load_results(res_dir / "results.json"))
            else:
                raise FileNotFoundError(f"{res_dir}/results.json does not exist: run without "
                                        "--no-simulate (or kaq-sionna run " + sc.path
                                        + ") first")
    finally:
        if executor is not None:
            executor.close()
    for sc, doc in zip(scenarios, docs, strict=True):
        res_dir = Path(results_dir) / (sc.name + ("-quick" if quick else ""))
        measured.append({"scenario": sc.name, "results": str(res_dir / "results.json"),
                         "complete": doc.get("complete", False),
                         "target_round": sc.harq["target_round"],
                         "rows": penalties(doc, target_bler)})
        for name in sc.harq["storage"]:
            schemes[name] = storage_bits(name)
            if _joint_streams(name):
                rounds_only.append(name)
    memory = {("lbrm" if lbrm else "full_buffer"):
              soft_buffer_memory(replace(config, lbrm=lbrm), schemes)
              for lbrm in (False, True)}
    doc = {"command": command, "target_bler": target_bler, "quick": bool(quick),
           "bits_per_soft_bit": schemes, "rounds_only": rounds_only, "measured": measured,
           "memory": memory}
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "memory.json", json.dumps(doc, indent=2) + "\n")
    atomic_write_text(out_dir / "memory.md", memory_table(doc))
    atomic_write_bytes(out_dir / "memory_vs_penalty.png", plot_memory_vs_penalty(doc))
    return doc


def _fmt(value, spec, above=None, at_most=None):
    if value is None and above is not None:
        return "> " + format(above, spec)
    if value is None and at_most is not None:
        return "<= " + format(at_most, spec)
    return "n/a" if value is None else format(value, spec)


def memory_table(doc):
    """Markdown tables: penalties per scenario and scheme, and the cell memory per scheme."""
    lines = [f"Eb/N0 at BLER {doc['target_bler']:g} after the first retransmission and penalty "
             "against float32 storage at the same storage point (`> x`: still above the "
             "target at the last grid point x; `<= x`: falls to zero block errors at x).", "",
             "| scenario | detector | storage | bits/soft bit | SNR [dB] | penalty [dB] |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for m in doc["measured"]:
        for row in m["rows"]:
            lines.append(f"| {m['scenario']} | {row['detector']} | {row['storage']} | "
                         f"{doc['bits_per_soft_bit'][row['storage']]:g} | "
                         f"{_fmt(row['snr_db'], '.2f', row['snr_above_db'], row.get('snr_at_most_db'))} | "
                         f"{_fmt(row['penalty_db'], '+.2f', row['penalty_above_db'], row.get('penalty_at_most_db'))} |")
    full = doc["memory"]["full_buffer"]
    cfg, tb = full["config"], full["transport_block"]
    lines += ["", f"Cell soft-buffer memory: {cfg['num_prbs']} PRB, {cfg['num_layers']} layers, "
              f"{2 ** cfg['num_bits_per_symbol']}-QAM, R = {cfg['coderate']:g}, "
              f"{cfg['num_harq_processes']} HARQ processes x {cfg['num_ues']} UE(s); TB "
              f"{tb['tb_size']} bits in {tb['num_cb']} code blocks "
              f"({tb['bg'].upper()}, Z_c = {tb['z']}, N = {tb['n']}); LBRM N_cb = "
              f"{doc['memory']['lbrm']['transport_block']['n_cb']}.", "",
              "| storage | bits/soft bit | buffer, full [MiB] | buffer, LBRM [MiB] | "
              "rounds (x{}) [MiB] | saved vs float32 |".format(cfg["max_transmissions"] - 1),
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, bits in doc["bits_per_soft_bit"].items():
        f, lb = full["schemes"][name], doc["memory"]["lbrm"]["schemes"][name]
        joint = name in doc.get("rounds_only", [])  # EQ-Net: no combined-buffer storage
        buf = "-" if joint else f"{f['buffer']['mebibytes']:.1f}"
        buf_lbrm = "-" if joint else f"{lb['buffer']['mebibytes']:.1f}"
        lines.append(f"| {name} | {bits:g} | {buf} | {buf_lbrm} | "
                     f"{f['rounds']['mebibytes']:.1f} | "
                     f"{100 * f['rounds']['saved_vs_float32']:.1f}% |")
    return "\n".join(lines) + "\n"


def plot_memory_vs_penalty(doc):
    """Memory saved against float32 (x) vs SNR penalty (y), one marker per scheme. PNG bytes."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # keep a notebook's inline backend
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = "os^Dv<>p"
    for i, m in enumerate(doc["measured"]):
        saved = {r["storage"]: 100 * (1 - doc["bits_per_soft_bit"][r["storage"]] / 32)
                 for r in m["rows"]}
        pts = [(saved[r["storage"]], r["penalty_db"], r["storage"]) for r in m["rows"]
               if r["penalty_db"] is not None]
        above = [(saved[r["storage"]], r["penalty_above_db"], r["storage"] + " (>)")
                 for r in m["rows"] if r["penalty_above_db"] is not None]
        if not pts + above:
            continue
        line = None
        if pts:
            xs, ys, _ = zip(*pts, strict=True)
            (line,) = ax.plot(xs, ys, markers[i % len(markers)], label=m["scenario"], ms=7,
                              alpha=0.8)
        for x, y, _ in above:  # lower bounds: hollow up-triangles at the bound
            ax.plot([x], [y], "^", mfc="none", ms=9, color=line.get_color() if line else "k")
        for x, y, name in pts + above:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4),
                        fontsize="x-small")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("soft-buffer memory saved vs float32 [%]")
    ax.set_ylabel(f"SNR penalty at BLER {doc['target_bler']:g} after 1st retx [dB]\n"
                  "(hollow ^: lower bound, not reached on the grid)", fontsize="small")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no penalty measured (grid too short?)", transform=ax.transAxes,
                ha="center")
    ax.set_title("HARQ soft-buffer storage: memory saved vs SNR penalty"
                 + (" (quick)" if doc.get("quick") else ""))
    return figure_png(fig)
