"""Registry of detectors by name, used by scenarios, the CLI and ``kaq-sionna list``.

A :class:`DetectorSpec` says how to build a detector for a given link
(:class:`LinkContext`), which parameters it accepts (:class:`~kaq_sionna.core.params.Param`)
and which link configurations it cannot serve; :func:`build_detector` validates
and builds. This module holds the machinery only; the entries are registered in one
place, :mod:`kaq_sionna.registry` (its ``__init__``), when the package is imported.
"""

from dataclasses import dataclass

from kaq_sionna.core.params import SpecError, check_params
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
    """

    name: str
    summary: str
    params: tuple
    factory: object
    check: object = None
    source: str = "sionna"

    def as_dict(self):
        return {
            "name": self.name,
            "summary": self.summary,
            "source": self.source,
            "params": [{"name": p.name, "type": p.type.__name__,
                        "default": p.default, "accepts": p.describe(), "help": p.help}
                       for p in self.params],
        }


DETECTORS = {}
# Lookups for names outside DETECTORS (shipped pretrained models): (spec_of(name) -> spec or
# None, names() -> iterable of names for error messages).
_RESOLVERS = []


def register_detector(spec):
    """Adds (or replaces) a detector in the registry."""
    DETECTORS[spec.name] = spec
    return spec


def register_resolver(spec_of, names):
    """Adds a lookup for names not in :data:`DETECTORS` (e.g. every shipped model)."""
    _RESOLVERS.append((spec_of, names))


def get_detector_spec(name):
    """The :class:`DetectorSpec` for ``name`` (a registered detector or a name a resolver knows,
    e.g. a shipped pretrained model), or a :class:`SpecError` listing known names."""
    if name in DETECTORS:
        return DETECTORS[name]
    for spec_of, _ in _RESOLVERS:
        spec = spec_of(name)
        if spec is not None:
            return spec
    names = sorted(DETECTORS) + sorted(n for _, names in _RESOLVERS for n in names())
    raise SpecError("detector name", "one of " + ", ".join(names), repr(name))

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
