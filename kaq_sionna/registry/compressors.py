"""Soft-bit compressors by name: the scalar schemes and the shipped EQ-Net models.

Every compressor implements :class:`kaq_sionna.softbits.Compressor`. Names are what
scenarios write in ``[harq] storage`` and in ``quantized-llr``'s ``quantizer``:
:data:`COMPRESSORS` (``float32``, ``float16``, ``uniform8/6/4/3``, ``maxmi4/3``) and the names
of shipped EQ-Net models (:func:`eqnet_compressor_names`), which
:func:`resolve_compressor` wraps for HARQ storage
(:class:`~kaq_sionna.harq.eqnet_compressor.EQNetRoundCompressor`).
"""

from kaq_sionna import pretrained
from kaq_sionna.harq.eqnet_compressor import EQNetRoundCompressor
from kaq_sionna.registry.pretrained import load_pretrained
from kaq_sionna.softbits import (
    DEFAULT_UNIFORM_CLIP,
    Float16Compressor,
    MaxMIQuantizer,
    NoCompression,
    UniformLLRQuantizer,
    check_compressor,
)


def _uniform(num_bits):
    def make(clip=DEFAULT_UNIFORM_CLIP):
        return UniformLLRQuantizer(num_bits, clip=clip)
    make.__doc__ = f"{num_bits}-bit uniform midrise quantizer (clip {DEFAULT_UNIFORM_CLIP})"
    return make


def _maxmi(num_bits):
    def make(**kwargs):
        return MaxMIQuantizer(num_bits, **kwargs)
    make.__doc__ = (f"{num_bits}-bit max-MI LLR quantizer (Winkelbauer & Matz); unfitted: "
                    "call fit(llrs) or HARQLink.calibrate_storage before use")
    return make


COMPRESSORS = {
    "float32": NoCompression,
    "float16": Float16Compressor,
    "uniform8": _uniform(8),
    "uniform6": _uniform(6),
    "uniform4": _uniform(4),
    "uniform3": _uniform(3),
    "maxmi4": _maxmi(4),
    "maxmi3": _maxmi(3),
}
"""Scalar compressors by name: name -> constructor (keyword arguments optional)."""


def make_compressor(name, **kwargs):
    """Builds a scalar compressor from its name (or returns a compressor as is).

    Parameters
    ----------
    name : str | :class:`~kaq_sionna.softbits.Compressor`
        A key of :data:`COMPRESSORS`, or a compressor, returned unchanged.
    **kwargs :
        Passed to the constructor (e.g. ``clip=8.0`` for the uniform ones).

    Output
    ------
    : :class:`~kaq_sionna.softbits.Compressor`

    Raises
    ------
    TypeError
        ``name`` is neither a string nor a compressor, or keyword arguments come with an object.
    ValueError
        Unknown name.
    """
    if not isinstance(name, str):
        if kwargs:
            raise TypeError("keyword arguments are only used with a compressor name")
        return check_compressor(name, f"storage (names: {', '.join(COMPRESSORS)})")
    if name not in COMPRESSORS:
        raise ValueError(f"unknown storage scheme {name!r}; known: " + ", ".join(COMPRESSORS))
    return COMPRESSORS[name](**kwargs)


def eqnet_compressor_names():
    """Names of shipped EQ-Net models usable as compressors, with their ``system`` dicts."""
    return {name: cfg.get("system", {}) for name, cfg in pretrained.available().items()
            if cfg.get("model") == "eqnet"}


def resolve_compressor(name, num_tx=None, num_bits_per_symbol=None):
    """A HARQ storage compressor from a name: a key of :data:`COMPRESSORS` or a shipped
    EQ-Net model's name (wrapped in
    :class:`~kaq_sionna.harq.eqnet_compressor.EQNetRoundCompressor`).

    Parameters
    ----------
    name : str | :class:`~kaq_sionna.softbits.Compressor`
        Objects are returned unchanged.
    num_tx, num_bits_per_symbol : int | `None`
        The link's; an EQ-Net model of another size is refused.

    Output
    ------
    : :class:`~kaq_sionna.softbits.Compressor`
    """
    if not isinstance(name, str) or name in COMPRESSORS:
        return make_compressor(name)
    models = eqnet_compressor_names()
    if name not in models:
        raise ValueError(f"unknown storage scheme {name!r}; known: "
                         + ", ".join([*COMPRESSORS, *models]))
    system = models[name]
    for key, value in (("num_tx", num_tx), ("num_bits_per_symbol", num_bits_per_symbol)):
        if value is not None and system.get(key) != value:
            raise ValueError(f"EQ-Net storage {name!r} is for {key} = {system.get(key)}, "
                             f"the link has {key} = {value}")
    return EQNetRoundCompressor(load_pretrained(name), name)


# The names these had before the compressors got a registry of their own (deprecated).
STORAGE_SCHEMES = COMPRESSORS
make_storage = make_compressor
eqnet_storage_names = eqnet_compressor_names
resolve_storage = resolve_compressor
