"""Registry of detectors by name, used by scenarios, the CLI and ``kaq-sionna list``.

A :class:`DetectorSpec` says how to build a detector for a given link
(:class:`LinkContext`), which parameters it accepts (:class:`~kaq_sionna.params.Param`)
and which link configurations it cannot serve; :func:`build_detector` validates
and builds. Later capabilities (unfolded detectors, EQ-Net, pretrained models)
add their entries with :func:`register_detector`.
"""

from dataclasses import dataclass

from kaq_sionna.params import SpecError, check_params


@dataclass(frozen=True)
class LinkContext:
    """What a detector needs to know about the link it is plugged into."""

    num_tx: int
    num_rx: int
    num_bits_per_symbol: int
    precision: str = None


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


def register_detector(spec):
    """Adds (or replaces) a detector in the registry."""
    DETECTORS[spec.name] = spec
    return spec


def get_detector_spec(name):
    """The :class:`DetectorSpec` for ``name`` (a registered detector or a shipped pretrained
    model, see :func:`kaq_sionna.pretrained.detector_spec`), or a :class:`SpecError` listing
    known names."""
    _ensure_loaded()
    if name in DETECTORS:
        return DETECTORS[name]
    from kaq_sionna import pretrained

    spec = pretrained.detector_spec(name)
    if spec is None:
        names = sorted(DETECTORS) + sorted(pretrained.available())
        raise SpecError("detector name", "one of " + ", ".join(names), repr(name))
    return spec


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


def _ensure_loaded():
    # Importing the modules that register detectors; kept lazy so that
    # ``registry`` itself stays import-cycle free.
    from kaq_sionna.detection import (  # noqa: F401
        eqnet_registry,
        quantized_llr,
        sic,
        sionna_baselines,
        unfolded_registry,
    )
