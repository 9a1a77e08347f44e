"""The Python API of the main job: run a scenario, plot its results.

:func:`run_scenario` does what ``kaq-sionna run`` does (same validation, same sweep, same
files in the output folder, same resumption) and returns the results document;
:func:`plot_results` draws BER/BLER curves of a results document or file into a matplotlib
figure, in a notebook as Sionna's ``PlotBER`` does.

Example
-------
>>> from kaq_sionna.app import plot_results, run_scenario
>>> doc = run_scenario("scenarios/quickstart.toml", out="results/mine", quick=True)
>>> fig = plot_results(doc)                      # or plot_results("results/mine")
>>> fig.savefig("mine.png")
"""

import io
import math
import shlex
import sys
from pathlib import Path

from kaq_sionna.app.results import SNR_LABELS, load_results
from kaq_sionna.app.scenario import load_scenario, parse_scenario
from kaq_sionna.app.sweep import run_sweep

#: z of the two-sided 95 % interval (error bars) and the one-sided 95 % upper bound of a
#: point without errors (``-ln 0.05 ~ 3``, the "rule of three": ``p < 3 / n``).
Z95 = 1.959964
ZERO_ERROR_BOUND = -math.log(0.05)


def run_scenario(scenario, out=None, quick=False, restart=False, stream=None):
    """Runs a scenario's sweep and returns its results document (``results.json``).

    Parameters
    ----------
    scenario : str, Path or dict
        A scenario TOML file, or a scenario as a dict (parsed TOML, same schema).
    out : str, Path or None
        Output folder (default ``results/<name>[-quick]``, as the CLI): ``results.json``,
        ``results.csv``, ``plot.png``; results already there are resumed.
    quick : bool
        The reduced ``[sweep.quick]`` run (``--quick``).
    restart : bool
        Discard results already in ``out`` (``--restart``).
    stream : file or None
        Progress table (default ``sys.stdout``).

    Output
    ------
    dict
        The results document, as written to ``out/results.json``. Its ``command`` is the
        ``kaq-sionna run`` command that re-runs it (for a scenario given as a dict, which has
        no file, ``command`` says so).

    Raises
    ------
    kaq_sionna.app.scenario.ScenarioError
        If the scenario is invalid (file, key, expected, found).
    kaq_sionna.app.sweep.ResumeConflict
        If ``out`` holds results of another scenario and ``restart`` is `False`.
    """
    if isinstance(scenario, dict):
        sc = parse_scenario(scenario, "<dict>")
        command = "(run_scenario with a scenario dict; no file to re-run)"
    else:
        sc = load_scenario(scenario)
        command = None
    out = Path(out) if out is not None else Path("results") / (
        sc.name + ("-quick" if quick else ""))
    if command is None:
        argv = ["run", str(scenario)] + (["--quick"] if quick else []) + ["--out", str(out)]
        command = "kaq-sionna " + " ".join(shlex.quote(a) for a in argv)
    return run_sweep(sc, out, quick=quick, restart=restart, command=command,
                     stream=stream or sys.stdout)


def _load(results):
    if isinstance(results, dict):
        return results
    path = Path(results)
    return load_results(path / "results.json" if path.is_dir() else path)


def wilson_interval(errors, n, z=Z95):
    """Wilson score interval ``(lo, hi)`` of a rate ``errors / n`` (``(0, 0)`` if ``n == 0``)."""
    if n <= 0:
        return 0.0, 0.0
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


_METRICS = {"ber": ("bit_errors", "num_bits", "BER"),
            "bler": ("block_errors", "num_blocks", "BLER")}


def plot_results(results, metrics=("ber", "bler"), detectors=None, errorbars=True, axes=None,
                 title=None):
    """BER / BLER against SNR of a results document, as a matplotlib figure.

    Every point is drawn: a point with errors at its rate (with its 95 % Wilson interval as an
    error bar, ``errorbars=True``), a point without errors as an open downward triangle at its
    one-sided 95 % upper bound ``3 / n`` (``n`` bits or blocks simulated), joined to the
    curve by a dotted line, so that error-free points read as bounds rather than vanishing
    from a log axis.

    Parameters
    ----------
    results : dict, str or Path
        A results document, a ``results.json`` file or the folder that holds it.
    metrics : sequence of str
        Panels, from ``"ber"`` and ``"bler"``.
    detectors : sequence of str or None
        Curves to draw, by label (default: all).
    errorbars : bool
        Draw 95 % intervals of points with errors.
    axes : sequence of matplotlib Axes or None
        Draw into these (one per metric) instead of a new figure.
    title : str or None
        Figure title (default: the scenario's name and ``snr_type``).

    Output
    ------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    doc = _load(results)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in _METRICS]
    if unknown:
        raise ValueError(f"metrics: expected a subset of {', '.join(_METRICS)}, found "
                         f"{unknown}")
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.2),
                                 squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(axes) if hasattr(axes, "__len__") else [axes]
        fig = axes[0].figure
    curves = [c for c in doc["curves"] if detectors is None or c["label"] in detectors]
    if detectors is not None and len(curves) < len(detectors):
        have = [c["label"] for c in doc["curves"]]
        missing = [d for d in detectors if d not in have]
        raise ValueError(f"detectors: expected labels of {have}, found {missing}")
    for ax, metric in zip(axes, metrics, strict=True):
        err_key, n_key, name = _METRICS[metric]
        for k, curve in enumerate(curves):
            color = f"C{k % 10}"
            xs, ys, lo, hi, bx, by = [], [], [], [], [], []
            for s, e, n in zip(curve["snr_db"], curve[err_key], curve[n_key], strict=True):
                if e > 0:
                    a, b = wilson_interval(e, n)
                    # max(0, .): rounding puts the Wilson bound a hair inside e / n at e = n
                    xs.append(s), ys.append(e / n)
                    lo.append(max(0.0, e / n - a)), hi.append(max(0.0, b - e / n))
                elif n > 0:
                    bx.append(s), by.append(min(1.0, ZERO_ERROR_BOUND / n))
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi] if errorbars else None, fmt="o-",
                            color=color, capsize=2, label=curve["label"])
            if bx:
                ax.plot(bx, by, "v", color=color, mfc="none",
                        label=None if xs else f"{curve['label']} (no errors)")
                if xs:
                    ax.plot([xs[-1], bx[0]], [ys[-1], by[0]], ":", color=color)
        ax.set_yscale("log")
        ax.set_xlabel(SNR_LABELS.get(doc.get("snr_type"), "SNR [dB]"))
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", title="open triangles: 95 % bound, no errors"
                      if any(0 in c[err_key] for c in curves) else None,
                      title_fontsize="x-small")
    if title is None:
        title = doc["scenario"]["scenario"]["name"] + (" (quick)" if doc.get("quick") else "")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_bytes(fig, fmt="png", dpi=110):
    """The figure rendered to bytes (for tests and files)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


__all__ = ["plot_results", "run_scenario", "wilson_interval"]
