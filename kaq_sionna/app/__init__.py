"""The application layer: scenarios, the sweep engine, results files, reports, benchmarks and the
``kaq-sionna`` command. It imports the library (:mod:`kaq_sionna`'s other subpackages) and the
links (:mod:`links`); nothing imports it.

The Python API (:mod:`kaq_sionna.app.api`):

>>> from kaq_sionna.app import plot_results, run_scenario
>>> doc = run_scenario("scenarios/quickstart.toml", out="results/mine", quick=True)
>>> fig = plot_results(doc)
"""

__all__ = ["plot_results", "run_scenario"]


def __getattr__(name):  # the API is imported on first use (it imports the sweep engine)
    if name in __all__:
        from kaq_sionna.app import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
