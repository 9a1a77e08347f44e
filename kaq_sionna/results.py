"""``results.json`` (versioned schema), CSV and plot of a sweep, written atomically.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "scenario": {...validated scenario, see kaq_sionna.scenario...},
      "scenario_file": "scenarios/quickstart.toml",
      "fingerprint": "16 hex digits of the scenario's hash",
      "quick": false,
      "command": "kaq-sionna run scenarios/quickstart.toml",
      "versions": {"kaq_sionna": ..., "sionna": ..., "tensorflow": ..., "numpy": ..., "python": ...},
      "commit": "git commit of the code, or null",
      "machine": {"platform": ..., "cpu_count": ...},
      "seed": 42,
      "snr_type": "ebno",
      "complete": true,
      "curves": [
        {"detector": "kbest", "label": "kbest", "params": {...}, "done": true,
         "snr_db": [...], "ber": [...], "bler": [...], "bit_errors": [...], "num_bits": [...],
         "block_errors": [...], "num_blocks": [...], "seconds": [...], "status": [...]}
      ]
    }

A curve holds only finished SNR points; ``done`` says whether the detector's
sweep ended (all points, or early stop after an error-free point).
"""

import csv
import io
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1
CURVE_FIELDS = ("snr_db", "ber", "bler", "bit_errors", "num_bits", "block_errors",
                "num_blocks", "seconds", "status")


def atomic_write_bytes(path, data):
    """Writes ``data`` to ``path`` through a temporary file in the same folder and a rename,
    so that a reader (or an interrupted run) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def git_commit():
    """The commit of the checked-out code (with ``-dirty`` if modified), or `None`."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions():
    import numpy
    import sionna
    import tensorflow

    import kaq_sionna
    return {"kaq_sionna": kaq_sionna.__version__, "sionna": sionna.__version__,
            "tensorflow": tensorflow.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def new_results(scenario, quick, command):
    """An empty results document for ``scenario`` (one empty curve per detector)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": scenario.as_dict(),
        "scenario_file": scenario.path,
        "fingerprint": scenario.fingerprint,
        "quick": bool(quick),
        "command": command,
        "versions": versions(),
        "commit": git_commit(),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "seed": scenario.seed,
        "snr_type": scenario.sweep["snr_type"],
        "complete": False,
        "curves": [{"detector": d.name, "label": d.label, "params": d.params, "done": False,
                    **{f: [] for f in CURVE_FIELDS}} for d in scenario.detectors],
    }


def load_results(path):
    with open(path) as fh:
        return json.load(fh)


def validate_results(doc):
    """Checks the structure of a results document; raises ``ValueError`` naming the problem."""
    for key in ("schema_version", "scenario", "versions", "commit", "seed", "curves"):
        if key not in doc:
            raise ValueError(f"results.json: missing key {key!r}")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"results.json: schema_version {doc['schema_version']}, "
                         f"expected {SCHEMA_VERSION}")
    for curve in doc["curves"]:
        lengths = {f: len(curve[f]) for f in CURVE_FIELDS}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"results.json: curve {curve['label']!r} has fields of different "
                             f"lengths {lengths}")


def write_all(out_dir, doc):
    """Writes results.json, results.csv and plot.png into ``out_dir`` (each atomically)."""
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "results.json", json.dumps(doc, indent=2) + "\n")
    atomic_write_text(out_dir / "results.csv", to_csv(doc))
    atomic_write_bytes(out_dir / "plot.png", plot_png(doc))


def to_csv(doc):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["detector", "label", *CURVE_FIELDS])
    for curve in doc["curves"]:
        for i in range(len(curve["snr_db"])):
            writer.writerow([curve["detector"], curve["label"],
                             *[curve[f][i] for f in CURVE_FIELDS]])
    return buf.getvalue()


SNR_LABELS = {"ebno": r"$E_b/N_0$ [dB]", "esno": r"$E_s/N_0$ [dB]"}


def plot_png(doc):
    """BER and BLER vs SNR, log y-axis, one labelled line per detector. Returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    link = doc["scenario"]["link"]
    uncoded = link.get("uncoded", False)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, title in ((axes[0], "ber", "BER"), (axes[1], "bler", "BLER")):
        for curve in doc["curves"]:
            pts = [(s, v) for s, v in zip(curve["snr_db"], curve[metric], strict=True) if v > 0]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.semilogy(xs, ys, "o-", label=curve["label"])
        ax.set_xlabel(SNR_LABELS.get(doc.get("snr_type"), "SNR [dB]"))
        ax.set_ylabel(title)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"no {title} > 0 measured", transform=ax.transAxes,
                    ha="center")
    name = doc["scenario"]["scenario"]["name"]
    what = "uncoded" if uncoded else f"LDPC k={link.get('k')} n={link.get('n')}"
    fig.suptitle(f"{name}: {link.get('num_tx')}x{link.get('num_rx')}, "
                 f"{2 ** link.get('num_bits_per_symbol', 0)}-QAM, {link.get('channel')}, {what}"
                 + (" (quick)" if doc.get("quick") else ""))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
