"""kaq-sionna: quantized receiver blocks and HARQ soft-bit storage in Sionna 5G links.

Importing the package imports TensorFlow and Sionna quietly (see
:mod:`kaq_sionna.core.quiet_tf`) and keeps the module names of before the layered layout
working, with a deprecation warning (:mod:`kaq_sionna.core.aliases`).

Layers, each importing only the ones before it: :mod:`kaq_sionna.core` <- the library
(:mod:`~kaq_sionna.quantization`, :mod:`~kaq_sionna.channels`, :mod:`~kaq_sionna.pretrained`,
:mod:`~kaq_sionna.softbits`, :mod:`~kaq_sionna.detection`, :mod:`~kaq_sionna.harq`,
:mod:`~kaq_sionna.registry`, :mod:`~kaq_sionna.training`, :mod:`~kaq_sionna.deploy`) <- the
links (package ``links``) <- :mod:`kaq_sionna.app`.

One convenience entry point breaks that order on purpose: ``kaq_sionna.run_scenario`` and
``kaq_sionna.plot_results`` are :func:`kaq_sionna.app.run_scenario` and
:func:`kaq_sionna.app.plot_results`, imported lazily on first use (a module ``__getattr__``),
so that importing the package never imports the application layer
(``tests/test_layering.py`` allows exactly this import).
"""

from kaq_sionna.core import aliases
from kaq_sionna.core.quiet_tf import import_quietly

try:
    import_quietly()
except KeyboardInterrupt:  # Ctrl-C while TensorFlow loads: the command exits 130, no traceback
    import os as _os
    import sys as _sys

    if _os.path.basename(_sys.argv[0]) != "kaq-sionna" and _sys.argv[0] != "-m":
        raise  # a library user's session: the usual KeyboardInterrupt
    print("\ninterrupted", file=_sys.stderr)
    raise SystemExit(130) from None
aliases.install()

__version__ = "0.1.0"


_APP_API = ("run_scenario", "plot_results")


def __getattr__(name):
    """``kaq_sionna.run_scenario`` / ``kaq_sionna.plot_results``: the application's Python API
    (:mod:`kaq_sionna.app.api`), imported on first use."""
    if name in _APP_API:
        from kaq_sionna.app import api  # the one allowed import of app (see the docstring)

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
