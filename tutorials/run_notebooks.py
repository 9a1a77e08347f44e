"""Executes the tutorial notebooks with a kernel of the running interpreter.

    python tutorials/run_notebooks.py --full --inplace     # make tutorials: full run, outputs kept
    python tutorials/run_notebooks.py --fast               # fast mode on copies (what the tests do)
    python tutorials/run_notebooks.py --fast 03_*.ipynb    # some of them

The kernel is the interpreter that runs this script (a kernel spec written to a temporary
folder points at ``sys.executable``), so the notebooks see the same packages, whichever
Jupyter kernels are installed. ``--fast`` sets ``KAQ_TUTORIAL_FAST=1`` for the kernel; the
notebooks shrink batches, SNR grids and training steps when it is set. Without ``--inplace``
the executed notebooks are written to ``--out`` (default: a temporary folder), never over the
committed ones. The working directory of every kernel is ``tutorials/``.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KERNEL_NAME = "kaq-sionna-tutorials"
FAST_ENV = "KAQ_TUTORIAL_FAST"


def notebooks(patterns=()):
    """The tutorial notebooks, in order (``patterns``: globs relative to tutorials/)."""
    if not patterns:
        return sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    found = []
    for pattern in patterns:
        found += sorted(HERE.glob(Path(pattern).name))
    return found


def ensure_kernel(prefix):
    """Writes a kernel spec running ``sys.executable`` under ``prefix`` and puts it on
    Jupyter's search path; returns its name."""
    spec_dir = Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kaq-sionna tutorials", "language": "python"}))
    paths = [str(Path(prefix) / "share" / "jupyter")]
    if os.environ.get("JUPYTER_PATH"):
        paths.append(os.environ["JUPYTER_PATH"])
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)
    return KERNEL_NAME


def execute(path, fast, out_path, timeout=1200):
    """Executes the notebook ``path`` and writes it (with outputs) to ``out_path``.

    Returns the wall time in seconds. Raises ``nbclient.exceptions.CellExecutionError`` on
    the first cell that fails (after writing the partly executed notebook).
    """
    import nbformat
    from nbclient import NotebookClient

    os.environ[FAST_ENV] = "1" if fast else "0"
    # the kernel imports this checkout's kaq_sionna and links first
    pp = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in pp.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([pp] if pp else []))
    with tempfile.TemporaryDirectory() as prefix:
        kernel = ensure_kernel(prefix)
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, kernel_name=kernel, timeout=timeout,
                                resources={"metadata": {"path": str(HERE)}})
        start = time.perf_counter()
        try:
            client.execute()
        finally:
            seconds = time.perf_counter() - start
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                         "language": "python"}
            nbformat.write(nb, out_path)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--fast", action="store_true", help="KAQ_TUTORIAL_FAST=1")
    mode.add_argument("--full", action="store_true", help="full run (committed outputs)")
    parser.add_argument("--inplace", action="store_true", help="overwrite the notebooks")
    parser.add_argument("--out", help="folder for the executed copies (default: temporary)")
    parser.add_argument("patterns", nargs="*", help="notebooks (globs), default all")
    args = parser.parse_args(argv)
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="kaq-tutorials-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for nb in notebooks(args.patterns):
        target = nb if args.inplace else out_dir / nb.name
        print(f"{nb.name} ({'fast' if args.fast else 'full'}) ...", end=" ", flush=True)
        seconds = execute(nb, args.fast, target)
        total += seconds
        print(f"{seconds:.0f} s -> {target}", flush=True)
    print(f"total {total:.0f} s")


if __name__ == "__main__":
    main()
