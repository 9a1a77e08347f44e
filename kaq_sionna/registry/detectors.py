"""Registry of detectors by name, used by scenarios, the CLI and ``kaq-sionna list``.

A :class:`DetectorSpec` says how to build a detector for a given link
(:class:`LinkContext`), which parameters it accepts (:class:`~kaq_sionna.core.params.Param`)
and which link configurations it cannot serve; :func:`build_detector` validates
and builds. This module holds the machinery only; the entries are registered in one
place, :mod:`kaq_sionna.registry` (its ``__init__``), when the package is imported.
"""

import dataclasses
import difflib
from dataclasses import dataclass

from kaq_sionna.core.params import REQUIRED, SpecError, check_params
from kaq_sionna.detection.context import LinkContext  # noqa: F401  (part of this interface)


@dataclass(frozen=True)
class DetectorSpec:
    """How to build one named detector.

    Parameters
    ----------
    name : str
        Registry name.
    summary : str
        One line for ``kaq-sionna list``.
    params : tuple of Param
        Accepted parameters (besides ``name``).
    factory : callable
        ``factory(ctx: LinkContext, **params)`` returns a callable ``det(y, h, s)``
        with LLR output ``[..., num_tx, num_bits_per_symbol]``.
    check : callable or None
        ``check(ctx, params)`` raises :class:`SpecError` when the detector cannot
        serve this link (e.g. a linear detector with fewer antennas than streams).
    source : str
        Where the entry comes from (``"sionna"``, ``"kaq-sionna"``, ``"pretrained"``,
        ``"plugin"``, ...), shown by ``kaq-sionna list``.

    Example
    -------
    A matched-filter detector with one parameter, registered under a new name (a plugin
    module can instead expose the spec, or just the factory, and be named in a scenario as
    ``name = "mymodule:SPEC"``, see :mod:`kaq_sionna.registry.plugins`):

    >>> import tensorflow as tf
    >>> from kaq_sionna.registry import (DetectorSpec, LinkContext, Param, build_detector,
    ...                                  register_detector)
    >>> def matched_filter(ctx, scale=1.0):
    ...     def det(y, h, s):  # y [..., M], h [..., M, K] -> LLR-like [..., K, bits]
    ...         z = tf.linalg.matvec(h, y, adjoint_a=True)
    ...         llr = tf.math.real(z)[..., None] * scale
    ...         return tf.tile(llr, [1] * (len(llr.shape) - 1) + [ctx.num_bits_per_symbol])
    ...     return det
    >>> spec = register_detector(DetectorSpec(
    ...     "my-mf", "matched filter (example)",
    ...     params=(Param("scale", float, 1.0, "LLR scale", min=0.0),),
    ...     factory=matched_filter, source="example"))
    >>> det = build_detector("my-mf", LinkContext(4, 4, 4), scale=2.0)
    >>> register_detector(spec)  # the name is taken now
    Traceback (most recent call last):
    ...
    ValueError: detector 'my-mf' is already registered (matched filter (example)); ...
    """

    name: str
    summary: str
    params: tuple = ()
    factory: object = None
    check: object = None
    source: str = "sionna"

    def renamed(self, name):
        """The same spec under another name (e.g. a plugin's ``module:factory``)."""
        return dataclasses.replace(self, name=name)

    def as_dict(self):
        return {
            "name": self.name,
            "summary": self.summary,
            "source": self.source,
            "params": [{"name": p.name, "type": p.type.__name__,
                        "default": None if p.default is REQUIRED else p.default,
                        **({"required": True} if p.default is REQUIRED else {}),
                        "accepts": p.describe(), "help": p.help}
                       for p in self.params],
        }


DETECTORS = {}
# Lookups for names outside DETECTORS (shipped pretrained models): (spec_of(name) -> spec or
# None, names() -> iterable of names for error messages).
_RESOLVERS = []


def register_detector(spec, replace=False):
    """Adds a detector to the registry; returns ``spec``.

    Parameters
    ----------
    spec : DetectorSpec
    replace : bool
        Replace an entry of the same name. Without it, registering a name that is already
        taken (a built-in such as ``"lmmse"``, a shipped model, or an earlier entry) raises
        :class:`ValueError`, so that a plugin cannot silently shadow a detector whose results
        were published under that name.
    """
    if not replace and spec.name in DETECTORS:
        raise ValueError(f"detector {spec.name!r} is already registered "
                         f"({DETECTORS[spec.name].summary}); choose another name, or pass "
                         "replace=True to replace it")
    if not replace and _resolved(spec.name) is not None:
        raise ValueError(f"detector {spec.name!r} is the name of a shipped model; choose "
                         "another name, or pass replace=True to shadow it")
    DETECTORS[spec.name] = spec
    return spec


def register_resolver(spec_of, names):
    """Adds a lookup for names not in :data:`DETECTORS` (e.g. every shipped model)."""
    _RESOLVERS.append((spec_of, names))


def _resolved(name):
    for spec_of, _ in _RESOLVERS:
        try:
            spec = spec_of(name)
        except SpecError:
            continue
        if spec is not None:
            return spec
    return None


def get_detector_spec(name):
    """The :class:`DetectorSpec` for ``name`` (a registered detector or a name a resolver knows,
    e.g. a shipped pretrained model), or a :class:`SpecError` listing known names."""
    if name in DETECTORS:
        return DETECTORS[name]
    for spec_of, _ in _RESOLVERS:
        spec = spec_of(name)
        if spec is not None:
            return spec
    raise SpecError("detector name", unknown_name_hint(name), repr(name))


def known_names():
    """Every detector name: registered entries, then the names the resolvers list."""
    return sorted(DETECTORS) + sorted(n for _, names in _RESOLVERS for n in names())


def closest_names(name, n=3):
    """The ``n`` known detector names closest to ``name`` (for error messages)."""
    names = known_names()
    close = difflib.get_close_matches(name, names, n=n, cutoff=0.0)
    return close or names[:n]


def unknown_name_hint(name):
    """What an unknown detector name should have been: the three closest known names, a
    pointer to ``kaq-sionna list`` and to the plugin and by-path forms."""
    close = ", ".join(repr(c) for c in closest_names(name))
    return (f"a known detector name (closest: {close}; all: `kaq-sionna list detectors`), "
            "a plugin 'module:factory', or a trained model by path = \"...\"")

def validate_detector(name, params, ctx, where_key="[[detector]]"):
    """Checks a detector's parameters against its spec and the link; returns the full params."""
    spec = get_detector_spec(name)
    full = check_params(spec.params, params, f"{where_key} ({name})")
    if spec.check is not None:
        spec.check(ctx, full)
    return full


def build_detector(name, ctx, **params):
    """Builds the detector ``name`` for a link described by ``ctx``.

    Output
    ------
    callable
        ``det(y, h, s) -> llr [..., num_tx, num_bits_per_symbol]``.
    """
    full = validate_detector(name, params, ctx)
    return get_detector_spec(name).factory(ctx, **full)
