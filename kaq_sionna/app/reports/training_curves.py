"""Validation accuracy and MSE vs epoch of trained unfolded detectors (KAQ paper Fig. 5).

Reads the per-epoch history (``val_ber``, ``val_mse``) that ``kaq-sionna train`` writes to
``<results>/train/<model>/train.json`` (or, for a shipped model without one, the ``history``
of ``kaq_sionna/pretrained/models/<model>/config.json``) and plots, per model, the accuracy
``1 - val_ber`` (hard decisions on the detector's LLRs, fixed held-out validation set, SNR
uniform over the training range) and the symbol MSE against the epoch; prints each model's final
values.

Command (the figure of docs/kaq.md)::

    kaq-sionna report training-curves admmnet-qatmse8-4x4-16qam admmnet-kaq8-4x4-16qam \\
        admmnet-qatmse4-4x4-16qam admmnet-kaq4-4x4-16qam \\
        --reference admmnet-fp32-4x4-16qam -o results/kaq/fig5_admmnet_training.png

References
----------
Z. Ren et al., "Deep Unfolding with Kernel-based Quantization in MIMO Detection", ICML 2025 (the KAQ paper).
"""

import re
from pathlib import Path

from kaq_sionna.app.reports.common import (
    ReportError,
    display_path,
    load_json,
    pyplot,
    save_figure,
)

NAME = "training-curves"


def add_arguments(parser):
    parser.add_argument("models", nargs="+", help="model names (<results>/train/<name>/"
                        "train.json, else the shipped model's config.json) or train.json paths")
    parser.add_argument("-o", "--output", required=True, help="output PNG")
    parser.add_argument("--reference", default=None,
                        help="model whose final validation values are drawn as a line")
    parser.add_argument("--title", default=None)
    parser.add_argument("--results", default="results",
                        help="directory holding train/ (default: results)")


def load_history(spec, results="results"):
    """``(label, history)`` of a model name or a train.json / config.json path.

    Parameters
    ----------
    spec : str
        A path to a ``train.json`` (or a model ``config.json``, or a directory holding
        one), or a model name looked up in ``<results>/train/<name>/train.json`` and then
        ``kaq_sionna/pretrained/models/<name>/config.json``.
    results : str or Path
        The results directory.

    Output
    ------
    label : str
        The model's name.
    history : list of dict
        One entry per epoch with ``epoch``, ``val_ber``, ``val_mse``.

    Raises
    ------
    ReportError
        If nothing with a history is found (the message lists where it looked).
    """
    from kaq_sionna import pretrained

    path = Path(spec)
    candidates = ([path] if path.is_file() else
                  [path / "train.json", path / "config.json"] if path.is_dir() else
                  [Path(results) / "train" / spec / "train.json",
                   Path(pretrained.MODELS_DIR) / spec / "config.json"])
    for cand in candidates:
        if cand.is_file():
            doc = load_json(cand, "a training record with a per-epoch 'history'")
            history = doc.get("history")
            if not history:
                raise ReportError("history", "a per-epoch 'history'", "none",
                                  display_path(cand))
            label = doc.get("name") or (cand.parent.name if path.is_file() or path.is_dir()
                                        else spec)
            return label, history
    raise ReportError("model", "a model name or path with a training history",
                      f"{spec!r}: no file at " + ", ".join(display_path(c) for c in candidates))


def plot(curves, reference=None, title=None):
    """The figure (two panels: accuracy and MSE vs epoch).

    Input
    -----
    curves : list of (str, list of dict)
        ``(label, history)`` per model, from :func:`load_history`.
    reference : None or (str, list of dict)
        A model whose *final* validation values are drawn as a horizontal line
        (e.g. the fp32 model the quantized ones were fine-tuned from).
    title : str or None
    """
    plt = pyplot()
    fig, (ax_acc, ax_mse) = plt.subplots(1, 2, figsize=(11, 4.2))
    # line style by method (kaq solid, qat-mse dashed), colour by bit width
    colors, palette = {}, iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for label, history in curves:
        epochs = [h["epoch"] for h in history]
        match = re.search(r"-(kaq|qatmse|ptq|fp16|fp32)(\d*)-", label)
        method, bits = match.groups() if match else ("", label)
        style = {"kaq": "-", "qatmse": "--"}.get(method, "-.")
        if bits not in colors:
            colors[bits] = next(palette)
        kwargs = dict(linestyle=style, color=colors[bits], label=label)
        ax_acc.plot(epochs, [1.0 - h["val_ber"] for h in history], **kwargs)
        ax_mse.plot(epochs, [h["val_mse"] for h in history], **kwargs)
    if reference is not None:
        ref_label, ref_hist = reference
        last = ref_hist[-1]
        for ax, value in ((ax_acc, 1.0 - last["val_ber"]), (ax_mse, last["val_mse"])):
            ax.axhline(value, color="0.4", linestyle=":",
                       label=f"{ref_label} (final, epoch {last['epoch']})")
    ax_acc.set_ylabel("accuracy = 1 - validation BER")
    ax_mse.set_ylabel("validation symbol MSE")
    for ax in (ax_acc, ax_mse):
        ax.set_xlabel("training epoch")
        ax.grid(True, alpha=0.3)
    ax_acc.legend(fontsize=8)
    fig.suptitle(title or "validation accuracy vs training epoch")
    return fig


def run(args, provenance):
    curves = [load_history(m, args.results) for m in args.models]
    reference = load_history(args.reference, args.results) if args.reference else None
    out = save_figure(plot(curves, reference, args.title), args.output)
    for label, history in curves:
        last = history[-1]
        print(f"{label}: {len(history)} epochs, final val BER {last['val_ber']:.5f}, "
              f"val MSE {last['val_mse']:.5f}")
    print(f"wrote {display_path(out)}")
    return 0
