"""Execution mode of a sweep's link: ``[sweep] mode`` = eager, graph, xla or auto.

``"auto"`` runs a curve in XLA where XLA was faster than graph mode for its link type and
detector family under every measured condition, else in graph mode. The choice is read from
:data:`AUTO_HINTS`, a table derived from a committed benchmark
(``results/bench/modes/*.json``, ``kaq-sionna bench link SCENARIO --modes graph,xla``,
docs/performance.md "Execution modes"). The choice is a table lookup, never a timing made
during the run: every machine and every worker process of a distributed sweep makes the same
choice, so a sweep gives the same counts however it is run. A link that XLA cannot compile
runs in graph mode; that too is the same everywhere (for the same TensorFlow and Sionna).

The sweep engine calls :func:`compile_for_mode` once per curve::

    fn, mode, note = compile_for_mode(link, settings["mode"], scenario.link_type,
                                      entry.detector.name, entry.detector.params)
    sim_ber(fn, ...)                        # fn(batch_size=..., ebno_db=...) -> (b, b_hat)
    fn.statistics(batch_size, snr_db, ...)  # a HARQLink: HARQLink.statistics in that mode
    curve.update(fn.record())               # mode, mode_requested, mode_note (after the run)

``fn.mode`` and ``fn.note`` change only if XLA fails at the first call (the fallback).
"""

import tensorflow as tf

__all__ = ["AUTO_DEFAULT", "AUTO_HINTS", "CompiledLink", "EXECUTION_MODES", "XLA_MARGIN",
           "auto_mode", "compile_for_mode", "detector_family", "hints_from_bench"]

#: ``[sweep] mode`` values.
EXECUTION_MODES = ("eager", "graph", "xla", "auto")

#: ``"auto"`` picks XLA for a (link type, detector family) when XLA's median time per batch was
#: at most this fraction of graph mode's in every benchmark run: a margin against timing noise,
#: and against XLA's compile time (seconds to a minute per curve), paid once per curve.
XLA_MARGIN = 0.9

#: ``"auto"`` for a (link type, family) the table does not list.
AUTO_DEFAULT = "graph"

#: (link type, detector family) -> "xla" | "graph": :func:`hints_from_bench` of the committed
#: results/bench/modes/*.json, runs at different machine loads and thread counts
#: (tests/test_exec_mode.py checks that they agree), measured with ``kaq-sionna bench link
#: scenarios/bench/modes_<link>.toml --json ...``; see docs/performance.md, "Execution modes".
AUTO_HINTS = {
    ("coded_mimo", "admmnet"): "graph",
    ("coded_mimo", "ep"): "graph",
    ("coded_mimo", "eqnet"): "graph",
    ("coded_mimo", "kbest"): "xla",
    ("coded_mimo", "lmmse"): "graph",
    ("coded_mimo", "ml"): "xla",
    ("coded_mimo", "mmse-pic"): "graph",
    ("coded_mimo", "mmse-sic"): "graph",
    ("coded_mimo", "pgdnet"): "graph",
    ("coded_mimo", "quantized-llr/lmmse"): "graph",
    ("coded_mimo", "quantized-llr/ml"): "xla",
    ("coded_mimo", "quantized-llr/mmse-sic"): "graph",
    ("coded_mimo", "sdnet"): "graph",
    ("coded_mimo", "zf"): "graph",
    ("coded_mimo", "zf-sic"): "graph",
    ("ofdm", "admmnet"): "graph",
    ("ofdm", "ep"): "graph",
    ("ofdm", "eqnet"): "graph",
    ("ofdm", "kbest"): "xla",
    ("ofdm", "lmmse"): "graph",
    ("ofdm", "mmse-sic"): "graph",
    ("ofdm", "pgdnet"): "graph",
    ("ofdm", "quantized-llr/mmse-sic"): "graph",
    ("pusch", "admmnet"): "graph",
    ("pusch", "ep"): "graph",
    ("pusch", "kbest"): "xla",
    ("pusch", "lmmse"): "graph",
    ("pusch", "mmse-sic"): "graph",
    ("pusch", "pgdnet"): "graph",
}


def detector_family(name, params=None):
    """The family of a ``[[detector]]`` for :data:`AUTO_HINTS`: the registry name of a built-in
    detector (``"lmmse"``, ``"kbest"``, ...), the model type of a shipped or trained model
    (``"pgdnet-kaq8-4x4-16qam"`` -> ``"pgdnet"``), and for ``quantized-llr`` the family of its
    source detector (which dominates its cost) as ``"quantized-llr/<source>"``. A plugin keeps
    its name (no hint: graph mode).

    Parameters
    ----------
    name : str
        The ``[[detector]] name``.
    params : dict | `None`
        Its validated parameters (``path`` of a model by folder, ``source`` of
        ``quantized-llr``).
    """
    from kaq_sionna import pretrained
    from kaq_sionna.registry import DETECTORS

    params = params or {}
    if name == "quantized-llr":
        return "quantized-llr/" + detector_family(params.get("source", "ml"))
    if name == "model" and params.get("path"):
        from kaq_sionna.registry.pretrained import resolve_model_path

        try:
            return pretrained.read_config(resolve_model_path(params["path"])).get("model", name)
        except (ValueError, OSError):  # a damaged model fails later, where it is loaded
            return name
    if name in DETECTORS:
        return name
    try:
        return pretrained.config(name).get("model", name)
    except (KeyError, ValueError, OSError):
        return name


def auto_mode(link_type, family):
    """``(mode, reason)`` that ``"auto"`` uses for a link type and detector family
    (:func:`detector_family`): "xla" or "graph", from :data:`AUTO_HINTS`.

    A family measured on ``coded_mimo`` only takes that hint on the other link types too
    (the detector's graph is the same, and every family measured on several links got the
    same answer on all of them, docs/performance.md); a family measured nowhere runs in
    :data:`AUTO_DEFAULT` mode.
    """
    hint = AUTO_HINTS.get((link_type, family))
    if hint is not None:
        return hint, f"auto: {hint} for {family} on {link_type} (results/bench/modes/*.json)"
    hint = AUTO_HINTS.get(("coded_mimo", family))
    if hint is not None:
        return hint, (f"auto: {hint} for {family} (measured on coded_mimo, not on {link_type}; "
                      "results/bench/modes/*.json)")
    return AUTO_DEFAULT, f"auto: no benchmark hint for {family}, {AUTO_DEFAULT} mode"


def hints_from_bench(results, margin=XLA_MARGIN):
    """The :data:`AUTO_HINTS` entries that ``bench link SCENARIO --modes graph,xla`` results
    support.

    The rows of one (link type, family), over all ``results``, are pooled: "xla" only if
    XLA compiled in every one of them and its median seconds per batch were at most ``margin``
    times graph mode's in every one, else "graph". The runs differ in machine load and
    threads, and whether XLA pays depends on both (docs/performance.md): the rule picks XLA
    only where it was faster under every measured condition, so that "auto" is never slower
    than graph mode in any of them.

    Input
    -----
    results : list of dict
        :func:`kaq_sionna.app.bench.scenario_link.bench_modes` results (e.g. the committed
        ``results/bench/modes/*.json``).

    Output
    ------
    dict
        ``{(link_type, family): "xla" | "graph"}``.
    """
    import math

    pooled = {}
    for result in results:
        for row in result["rows"]:
            graph, xla = row["modes"].get("graph", {}), row["modes"].get("xla")
            if "median_s" not in graph or not xla:
                continue
            ratio = math.inf if "error" in xla else xla["median_s"] / graph["median_s"]
            pooled.setdefault((row["link_type"], row["family"]), []).append(ratio)
    return {key: "xla" if max(r) <= margin else "graph" for key, r in pooled.items()}


class CompiledLink:
    """A link wrapped for one execution mode; a drop-in ``mc_fun`` for
    :func:`sionna.phy.utils.sim_ber`.

    With ``fallback=True`` (``"auto"`` chose XLA) the first call that fails under XLA is
    repeated in graph mode, and the link stays in graph mode; :attr:`mode` and :attr:`note`
    say so. A failure after the first successful call is not caught. An explicit
    ``mode = "xla"`` has no fallback: the error is raised as before.

    Attributes
    ----------
    link : sionna.phy.Block
        The wrapped link.
    requested : str
        The ``[sweep] mode`` asked for.
    mode : str
        The mode in use: "eager", "graph" or "xla".
    note : str
        Why (the hint, or the XLA error that caused the fallback).
    """

    def __init__(self, link, mode, requested=None, note="", fallback=False):
        if mode not in ("eager", "graph", "xla"):
            raise ValueError(f"mode must be 'eager', 'graph' or 'xla', found {mode!r}")
        self.link = link
        self.requested = requested or mode
        self.note = note
        self._fallback = fallback and mode == "xla"
        self._set_mode(mode)

    def _set_mode(self, mode):
        self.mode = mode
        self._fn = self.link if mode == "eager" else tf.function(self.link,
                                                                 jit_compile=(mode == "xla"))

    def _guarded(self, run):
        """``run()`` with the XLA-to-graph fallback of the first call."""
        if not self._fallback:
            return run()
        try:
            out = run()
        except Exception as err:  # noqa: BLE001 - any XLA failure: retry in graph mode
            first = (str(err).strip().splitlines() or [""])[0][:200]
            self.note = (f"XLA failed at the first call ({type(err).__name__}: {first}); "
                         "graph mode")
            self._fallback = False
            self._set_mode("graph")
            return run()
        self._fallback = False
        return out

    def __call__(self, *args, **kwargs):
        return self._guarded(lambda: self._fn(*args, **kwargs))

    def statistics(self, *args, **kwargs):
        """:meth:`links.HARQLink.statistics` of the wrapped HARQ link in this mode."""
        return self._guarded(lambda: self.link.statistics(
            *args, graph=self.mode != "eager", jit_compile=self.mode == "xla", **kwargs))

    def record(self):
        """What results.json records for the curve: ``{"mode", "mode_requested",
        "mode_note"}`` (read it after the curve ran: a fallback changes it)."""
        return {"mode": self.mode, "mode_requested": self.requested, "mode_note": self.note}


def compile_for_mode(link, mode, link_type, detector_name, detector_params=None):
    """Wraps a curve's link for ``[sweep] mode``; ``"auto"`` picks XLA or graph from
    :data:`AUTO_HINTS` (deterministic: the same on every machine and worker).

    Parameters
    ----------
    link : sionna.phy.Block
        The curve's link (a :class:`links.HARQLink` for a ``[harq]`` curve: its
        :meth:`CompiledLink.statistics` then runs ``HARQLink.statistics`` in the mode).
    mode : "eager" | "graph" | "xla" | "auto"
    link_type : str
        ``[link] type`` (a HARQ curve looks up its base link's type).
    detector_name : str
        ``[[detector]] name``.
    detector_params : dict | `None`
        Its parameters (see :func:`detector_family`).

    Output
    ------
    fn : CompiledLink
        Callable as ``fn(batch_size, ebno_db) -> (b, b_hat)``.
    used_mode : "eager" | "graph" | "xla"
        The mode chosen (``fn.mode`` after the first call, if XLA fell back).
    note : str
        Why, for the progress output ("" for an explicit mode).
    """
    if mode not in EXECUTION_MODES:
        raise ValueError(f"mode must be one of {EXECUTION_MODES}, found {mode!r}")
    if mode != "auto":
        fn = CompiledLink(link, mode)
    else:
        used, note = auto_mode(link_type, detector_family(detector_name, detector_params))
        fn = CompiledLink(link, used, requested="auto", note=note, fallback=True)
    return fn, fn.mode, fn.note
