"""Detectors from user code: ``module:factory`` names and installed entry points.

A ``[[detector]]`` may name a detector that lives outside kaq-sionna:

``name = "mydet:MatchedFilter"``
    ``mydet`` is imported from the folders of :func:`search_dirs` (the scenario layer adds
    each scenario's folder) or from the Python path; ``MatchedFilter`` is an attribute of it.
``name = "matched-filter"``
    an installed package declares the entry point ``matched-filter = "mydet:MatchedFilter"``
    in the group :data:`ENTRY_POINT_GROUP` (``[project.entry-points."kaq_sionna.detectors"]``
    in its ``pyproject.toml``).

The attribute (the *factory*) is one of:

* a :class:`~kaq_sionna.registry.detectors.DetectorSpec`: used as it is (its parameters,
  check and summary), under the ``module:factory`` name;
* a class (a Keras layer, a Sionna block, any class): instantiated per link as
  ``cls(ctx, **params)`` if its first constructor argument is named ``ctx`` or
  ``link_context``, else ``cls(**params)``; the instance is called as ``det(y, h, s)``;
* a function whose first argument is named ``ctx`` or ``link_context``: a factory,
  ``factory(ctx, **params)`` returns ``det(y, h, s)``;
* any other callable (a function ``det(y, h, s)``, a layer instance): the detector itself
  (no parameters).

The keyword arguments with defaults of a class or factory (``bool``, ``int``, ``float``,
``str``, list of numbers) become the detector's parameters: a scenario may set them, and any
other key is an error, as for the built-in detectors. Arguments without a default are
required.

:func:`provenance` records what ran: module, file, SHA-256 of the file, version (of the
installed distribution, else the module's ``__version__``); ``results.json`` keeps it under
``"external_detectors"``.
"""

import hashlib
import importlib
import inspect
import sys
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from kaq_sionna.core.params import REQUIRED, Param, SpecError
from kaq_sionna.registry.detectors import DetectorSpec

#: Entry-point group of installed detector plugins.
ENTRY_POINT_GROUP = "kaq_sionna.detectors"

_CONTEXT_ARGS = ("ctx", "link_context")
_PARAM_TYPES = (bool, int, float, str, list)
_SEARCH_DIRS = []


def add_search_dir(folder):
    """Adds ``folder`` to the folders plugin modules (and relative model paths) are looked up
    in, before the Python path. The scenario layer adds the folder of every scenario it
    reads, so a plugin module or a model folder beside a scenario is found from any current
    directory."""
    folder = str(Path(folder).resolve())
    if folder not in _SEARCH_DIRS:
        _SEARCH_DIRS.append(folder)


def search_dirs():
    """The folders added by :func:`add_search_dir`, in order."""
    return [Path(d) for d in _SEARCH_DIRS]


def is_plugin_name(name):
    """Whether ``name`` has the ``module:factory`` form."""
    return isinstance(name, str) and name.count(":") == 1 and all(name.split(":"))


@contextmanager
def _on_path(dirs):
    added = [d for d in map(str, dirs) if d not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for d in added:
            if d in sys.path:
                sys.path.remove(d)


def entry_points():
    """``{name: "module:attr"}`` of the installed plugins (group :data:`ENTRY_POINT_GROUP`)."""
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # pragma: no cover - Python < 3.10 API
        eps = metadata.entry_points().get(ENTRY_POINT_GROUP, [])
    return {ep.name: ep.value for ep in eps}


def load_factory(target, name=None):
    """Imports ``"module:attr"`` and returns ``(module, attr)``.

    Raises
    ------
    SpecError
        If the module cannot be imported or has no such attribute (the message says where
        modules are looked up).
    """
    name = name or target
    module_name, attr = target.split(":")
    where = ", ".join(str(d) for d in search_dirs()) or "no scenario folder"
    try:
        with _on_path(search_dirs()):
            module = importlib.import_module(module_name)
    except ImportError as err:
        raise SpecError(f"detector {name!r}", f"an importable module {module_name!r} (beside "
                        f"the scenario ({where}), on PYTHONPATH, or installed)",
                        f"{type(err).__name__}: {err}") from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if obj is None:
        public = sorted(k for k in vars(module) if not k.startswith("_"))
        raise SpecError(f"detector {name!r}", f"an attribute {attr!r} of module "
                        f"{module_name!r} ({module.__file__})",
                        "none; the module defines " + (", ".join(public[:12]) or "nothing"))
    return module, obj


def _first_arg(func):
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None, []
    return (params[0].name if params else None), params


def _declared_params(params, name):
    out = []
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        if p.default is inspect.Parameter.empty:
            typ = p.annotation if p.annotation in _PARAM_TYPES else str
            out.append(Param(p.name, typ, REQUIRED, f"argument of {name}"))
        elif p.default is None or type(p.default) in _PARAM_TYPES:
            typ = str if p.default is None else type(p.default)
            out.append(Param(p.name, typ, p.default, f"argument of {name}"))
    return tuple(out)


def spec_from_factory(name, obj, source="plugin"):
    """A :class:`DetectorSpec` named ``name`` for a plugin attribute ``obj`` (see the module
    docstring for the accepted forms)."""
    if isinstance(obj, DetectorSpec):
        return obj.renamed(name)
    doc = (inspect.getdoc(obj) or "").strip().splitlines()
    summary = f"plugin: {doc[0]}" if doc else f"plugin {name}"
    if inspect.isclass(obj):
        params = _first_arg(obj.__init__)[1][1:]  # without self
        wants_ctx = bool(params) and params[0].name in _CONTEXT_ARGS
        declared = _declared_params(params[1:] if wants_ctx else params, name)

        def factory(ctx, **kwargs):
            return obj(ctx, **kwargs) if wants_ctx else obj(**kwargs)
        return DetectorSpec(name, summary, declared, factory, source=source)
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        first, params = _first_arg(obj)
        if first in _CONTEXT_ARGS:
            declared = _declared_params(params[1:], name)
            return DetectorSpec(name, summary, declared, lambda ctx, **kw: obj(ctx, **kw),
                                source=source)
    if callable(obj):
        return DetectorSpec(name, summary, (), lambda ctx: obj, source=source)
    raise SpecError(f"detector {name!r}", "a DetectorSpec, a class, a factory(ctx, ...) or a "
                    "detector det(y, h, s)", f"{type(obj).__name__} {obj!r}")


def plugin_spec(name):
    """The :class:`DetectorSpec` of a plugin name (``module:factory`` or an installed entry
    point), or `None` if ``name`` is neither. A registry resolver."""
    if is_plugin_name(name):
        _, obj = load_factory(name)
    else:
        target = entry_points().get(name)
        if target is None:
            return None
        _, obj = load_factory(target, name)
    return spec_from_factory(name, obj)


def file_sha256(path):
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(name):
    """What the plugin ``name`` runs: ``{"module", "file", "sha256", "version",
    "entry_point"}`` (``file``/``sha256`` `None` for a module without a file)."""
    target = name if is_plugin_name(name) else entry_points().get(name)
    module, _ = load_factory(target, name)
    file = getattr(module, "__file__", None)
    top = module.__name__.split(".")[0]
    version = None
    try:
        dists = metadata.packages_distributions().get(top, [])
        version = metadata.version(dists[0]) if dists else None
    except (metadata.PackageNotFoundError, AttributeError):
        version = None
    version = version or getattr(module, "__version__", None)
    return {"module": module.__name__, "attribute": target.split(":")[1],
            "file": file, "sha256": file_sha256(file) if file else None,
            "version": None if version is None else str(version),
            "entry_point": None if is_plugin_name(name) else target}
