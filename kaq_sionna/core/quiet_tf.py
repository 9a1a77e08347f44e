"""Import TensorFlow and Sionna without the CUDA start-up noise of the TF wheel.

The CUDA-enabled TensorFlow wheel prints cuDNN/cuBLAS factory registrations and
``cuInit`` failures on a CPU-only machine. Part of it is written to file
descriptor 2 before TF's logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL``
alone does not hide it (see ``../shared/notes/sionna-1.2.md``). We redirect
fd 2 to ``/dev/null`` for the duration of the import only.

Set ``KAQ_SIONNA_VERBOSE_TF=1`` to see everything TF prints.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def stderr_silenced():
    """Redirects file descriptor 2 to /dev/null (unless KAQ_SIONNA_VERBOSE_TF=1)."""
    if os.environ.get("KAQ_SIONNA_VERBOSE_TF") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. some notebook kernels)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_quietly():
    """Import ``tensorflow`` and ``sionna.phy`` once, silencing start-up noise."""
    if "tensorflow" in sys.modules and "sionna.phy" in sys.modules:
        return
    verbose = os.environ.get("KAQ_SIONNA_VERBOSE_TF") == "1"
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_silenced():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        # Touch the device list so that cuInit runs (and fails) while silenced.
        tf.config.list_physical_devices()
        import sionna.phy  # noqa: F401
