"""Where a result or a model came from: the git commit of the code and package versions."""

import os
import platform
import subprocess
from pathlib import Path


def git_commit():
    """The commit of the checked-out code (with ``-dirty`` if modified), or `None`."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
        return sha + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions():
    """Versions of kaq_sionna, Sionna, TensorFlow, NumPy and Python (for result records)."""
    import numpy
    import sionna
    import tensorflow

    import kaq_sionna
    return {"kaq_sionna": kaq_sionna.__version__, "sionna": sionna.__version__,
            "tensorflow": tensorflow.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def package_versions(distributions):
    """Python's version and the installed versions of the named distributions (``None`` for
    one that is not installed), e.g. ``("tensorflow", "sionna-no-rt")``."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in distributions:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def machine():
    """The machine a benchmark ran on: platform, CPU count and processor."""
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}
