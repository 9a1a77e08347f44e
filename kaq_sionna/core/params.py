"""Declarative parameter specifications shared by the registries and the scenario schema.

A :class:`Param` says what a key accepts; :func:`check_value` turns a value
found in a scenario (or on the command line) into a clear :class:`SpecError`
naming the key, what was expected and what was found.
"""

import copy
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib


class SpecError(ValueError):
    """A user-facing configuration error: names the key, the expectation and the finding."""

    def __init__(self, key, expected, found, where=None):
        self.key, self.expected, self.found, self.where = key, expected, found, where
        super().__init__(self._text())

    def _text(self):
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.key}: expected {self.expected}, found {self.found}"

    def located(self, where):
        """The same error with a location prefix (e.g. the scenario file)."""
        return SpecError(self.key, self.expected, self.found, where)


_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list"}


@dataclass(frozen=True)
class Param:
    """One configuration key.

    Parameters
    ----------
    name : str
    type : type
        ``bool``, ``int``, ``float``, ``str`` or ``list`` (of numbers).
    default : object
        Default value; ``REQUIRED`` if the key must be given.
    help : str
    choices : tuple or None
        Allowed values.
    min, max : number or None
        Inclusive bounds (``min_exclusive`` makes the lower bound strict).
    """

    name: str
    type: type
    default: object
    help: str = ""
    choices: tuple = None
    min: float = None
    max: float = None
    min_exclusive: bool = False
    extra: dict = field(default_factory=dict)
    plain_name: bool = False  # a str used as a file or folder name: no path, no '..'

    def describe(self):
        """Short human description of the accepted values."""
        if self.plain_name:
            return PLAIN_NAME_TEXT
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        text = _TYPE_NAMES[self.type]
        if self.min is not None and self.max is not None:
            text += f" in [{self.min}, {self.max}]"
        elif self.min is not None:
            text += f" {'>' if self.min_exclusive else '>='} {self.min}"
        elif self.max is not None:
            text += f" <= {self.max}"
        return text


REQUIRED = object()

#: Names that become a file or folder name (scenario names -> results/<name>/): a name, never a
#: path, so that no scenario writes outside its output folder.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
PLAIN_NAME_TEXT = ("a string, a plain name (letters, digits, '.', '_', '+', '-'; starting "
                   "with a letter or digit; no '/', no '..', at most 128 characters)")


def is_plain_name(value):
    """True if ``value`` is usable as one file or folder name (see :data:`PLAIN_NAME`)."""
    return isinstance(value, str) and PLAIN_NAME.fullmatch(value) is not None \
        and ".." not in value


def _type_ok(value, typ):
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typ is list:
        return isinstance(value, list) and all(_type_ok(v, float) for v in value)
    return isinstance(value, typ)


def check_value(param, value, key=None):
    """Returns ``value`` converted to the parameter's type, or raises :class:`SpecError`."""
    key = key or param.name
    if not _type_ok(value, param.type):
        raise SpecError(key, param.describe(), f"{value!r} ({type(value).__name__})")
    if param.choices is not None and value not in param.choices:
        raise SpecError(key, param.describe(), repr(value))
    if param.plain_name and not is_plain_name(value):
        raise SpecError(key, param.describe(), repr(value))
    values = value if param.type is list else [value]
    for v in values if param.type in (float, list) else []:
        if not math.isfinite(v):  # TOML reads nan, inf, -inf as floats
            raise SpecError(key, "a finite number" + (
                f" ({param.describe()})" if param.describe() != "a number" else ""), repr(value))
    for v in values if param.type in (int, float, list) else []:
        too_low = param.min is not None and (v <= param.min if param.min_exclusive
                                             else v < param.min)
        too_high = param.max is not None and v > param.max
        if too_low or too_high:
            raise SpecError(key, param.describe(), repr(value))
    if param.type is float:
        return float(value)
    if param.type is list:
        return [float(v) for v in value]
    return value


def check_params(params, given, where_key):
    """Validates a dict of user values against a tuple of :class:`Param`.

    Unknown keys and missing required keys are errors. Returns the complete
    dict with defaults filled in. ``where_key`` prefixes key names in errors
    (e.g. ``"[link]"``).
    """
    by_name = {p.name: p for p in params}
    for key in given:
        if key not in by_name:
            known = ", ".join(sorted(by_name)) or "no keys"
            raise SpecError(f"{where_key} {key}", f"a known key ({known})",
                            f"unknown key {key!r}")
    out = {}
    for p in params:
        if p.name in given:
            out[p.name] = check_value(p, given[p.name], f"{where_key} {p.name}")
        elif p.default is REQUIRED:
            raise SpecError(f"{where_key} {p.name}", p.describe(), "nothing (the key is required)")
        else:
            out[p.name] = p.default
    return out


def read_toml_file(path, what, error_cls=SpecError):
    """Parses a TOML file; a missing file or bad syntax raises ``error_cls`` naming the file.

    ``what`` describes the expected file (e.g. ``"an existing scenario TOML file"``).
    """
    path = Path(path)
    if not path.is_file():
        raise error_cls("file", what, f"no file at {path}", str(path))
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise error_cls("TOML syntax", "valid TOML", str(err), str(path)) from None


def diff_keys(old, new, prefix=""):
    """Dotted keys whose values differ between two nested dicts, as ``"key: old -> new"``."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += diff_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def drop_later_defaults(values, defaults):
    """``values`` without the keys of ``defaults`` that hold their default value there: keys
    added to a schema after results or checkpoints were fingerprinted stay out of the
    fingerprint until they are set, so the old fingerprints remain valid."""
    return {k: v for k, v in values.items() if k not in defaults or defaults[k] != v}


def parse_located(parse, data, where, error_cls):
    """Runs ``parse(copy_of_data, where)``; a :class:`SpecError` it raises comes out as
    ``error_cls`` located at ``where`` (e.g. the scenario file)."""
    try:
        return parse(copy.deepcopy(data), where)
    except error_cls:
        raise
    except SpecError as err:
        raise error_cls(err.key, err.expected, err.found, where) from None


def check_sections(data, sections, required, extra=()):
    """Validates the tables of a TOML document section by section.

    ``sections`` maps a section name to its tuple of :class:`Param`; sections in
    ``required`` must be present; ``extra`` names further allowed top-level keys
    (validated by the caller). Returns ``{section: full parameter dict}``.
    """
    known = (*sections, *extra)
    for key in data:
        if key not in known:
            raise SpecError(key, "one of the sections " + ", ".join(sorted(known)),
                            f"unknown key {key!r}")
    out = {}
    for sec, params in sections.items():
        if sec not in data and sec in required:
            raise SpecError(f"[{sec}]", "a table", "nothing (the section is missing)")
        table = data.get(sec, {})
        if not isinstance(table, dict):
            raise SpecError(f"[{sec}]", "a table", type(table).__name__)
        out[sec] = check_params(params, table, f"[{sec}]")
    return out
