r"""The HARQ soft-buffer memory study behind ``kaq-sionna harq-memory``.

Two halves, joined in one table and one plot:

* **measured**: the HARQ scenarios (``scenarios/harq_*.toml``, one curve per
  storage scheme) are swept with :func:`kaq_sionna.app.sweep.run_sweep` (resuming
  what is already in ``results/<scenario>/``); for every curve the SNR at
  which the BLER after the first retransmission (round ``target_round`` of
  the scenario) crosses ``target_bler`` is interpolated (linear in SNR, log
  in BLER, between the two points around the first crossing), and the
  penalty of a scheme is that SNR minus the float32 curve's for the same
  detector;
* **modelled**: the soft-buffer memory of a cell
  (:func:`kaq_sionna.harq.memory.soft_buffer_memory`) for every scheme, with
  and without limited buffer rate matching.

This module is application layer (it runs sweeps, hence links) like
:mod:`kaq_sionna.app.sweep`.
"""

import json
import math
from dataclasses import replace
from pathlib import Path

from kaq_sionna.app.results import atomic_write_bytes, atomic_write_text, figure_png
from kaq_sionna.harq.memory import NRSoftBufferConfig, soft_buffer_memory

__all__ = ["DEFAULT_SCENARIOS", "snr_at_bler", "penalties", "storage_bits",
           "run_memory_study"]

DEFAULT_SCENARIOS = ("scenarios/harq_2x2_64qam.toml", "scenarios/harq_4x4_16qam.toml",
                     "scenarios/harq_2x2_64qam_rounds.toml",
                     "scenarios/harq_4x4_16qam_rounds.toml")


def snr_at_bler(snr_db, bler, target=0.1):
    """SNR where a BLER curve first falls to ``target`` (log-BLER interpolation).

    Input
    -----
    snr_db, bler : list of float
        Points of the curve.
    target : float

    Output
    ------
    : float | `None`
        `None` if the curve never reaches ``target`` or starts below it.
    """
    pts = sorted(zip(snr_db, bler, strict=True))
    if not pts or pts[0][1] <= target:
        return None
    for (s0, b0), (s1, b1) in zip(pts, pts[1:], strict=False):
        if b0 > target >= b1:
            if b1 <= 0:  # no error measured at s1: the crossing is at most s1
                return s1
            t = (math.log(b0) - math.log(target)) / (math.log(b0) - math.log(b1))
            return s0 + t * (s1 - s0)
    return None


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
        One per curve: ``detector``, ``storage``, ``snr_db`` (`None` if not
        reached in the grid), ``penalty_db`` (`None` if it or the float32
        reference is missing), and for a curve still above the target at its
        last point ``snr_above_db`` / ``penalty_above_db``: lower bounds (the
        last grid point), else `None`.
    """
    r = doc["scenario"]["harq"]["target_round"]
    rows = []
    for c in doc["curves"]:
        bler = [p[r - 1] for p in c["bler_per_round"]]
        snr = snr_at_bler(c["snr_db"], bler, target_bler)
        # still above the target at the last point: the crossing is beyond the grid
        beyond = c["snr_db"][-1] if snr is None and bler and bler[-1] > target_bler else None
        rows.append({"detector": c["detector"], "label": c["label"], "storage": c["storage"],
                     "snr_db": snr, "snr_above_db": beyond})
    ref = {row["detector"]: row["snr_db"] for row in rows if row["storage"] == "float32"}
    for row in rows:
        base = ref.get(row["detector"])
        row["penalty_db"] = (None if base is None or row["snr_db"] is None
                             else row["snr_db"] - base)
        row["penalty_above_db"] = (None if base is None or row["snr_above_db"] is None
                                   else row["snr_above_db"] - base)
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
                     simulate=True, command="", stream=None, results_dir="results"):
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

    Output
    ------
    : dict
        The ``memory.json`` document.
    """
    from kaq_sionna.app.results import load_results
    from kaq_sionna.app.scenario import ScenarioError, load_scenario
    from kaq_sionna.app.sweep import run_sweep

    config = config or NRSoftBufferConfig()
    scenario_paths = scenario_paths or DEFAULT_SCENARIOS
    scenarios = [load_scenario(p) for p in scenario_paths]  # validate all before running
    for sc in scenarios:
        if sc.harq is None:
            raise ScenarioError("[harq]", "a HARQ scenario (with a [harq] section)",
                                "no [harq] section", sc.path)
    measured, schemes, rounds_only = [], {}, []
    for sc in scenarios:
        res_dir = Path(results_dir) / (sc.name + ("-quick" if quick else ""))
        if simulate:
            doc = run_sweep(sc, res_dir, quick=quick, restart=restart, stream=stream,
                            command=command + f"  # sweep of {sc.path}")
        elif (res_dir / "results.json").exists():
            doc = load_results(res_dir / "results.json")
        else:
            raise FileNotFoundError(f"{res_dir}/results.json does not exist: run without "
                                    "--no-simulate (or kaq-sionna run " + sc.path + ") first")
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


def _fmt(value, spec, above=None):
    if value is None and above is not None:
        return "> " + format(above, spec)
    return "n/a" if value is None else format(value, spec)


def memory_table(doc):
    """Markdown tables: penalties per scenario and scheme, and the cell memory per scheme."""
    lines = [f"Eb/N0 at BLER {doc['target_bler']:g} after the first retransmission and penalty "
             "against float32 storage at the same storage point (`> x`: still above the "
             "target at the last grid point x).", "",
             "| scenario | detector | storage | bits/soft bit | SNR [dB] | penalty [dB] |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for m in doc["measured"]:
        for row in m["rows"]:
            lines.append(f"| {m['scenario']} | {row['detector']} | {row['storage']} | "
                         f"{doc['bits_per_soft_bit'][row['storage']]:g} | "
                         f"{_fmt(row['snr_db'], '.2f', row['snr_above_db'])} | "
                         f"{_fmt(row['penalty_db'], '+.2f', row['penalty_above_db'])} |")
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
