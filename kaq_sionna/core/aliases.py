"""Deprecated module names: importing an old name gives the module that replaced it.

The package was restructured into layers (core, library, links, app); the old module paths keep
working through :class:`MovedModuleFinder` (installed by ``kaq_sionna/__init__.py``), with a
:class:`DeprecationWarning` naming the new path. The new paths are strings here, not imports,
so the core layer still imports nothing above it.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED_MODULES = {
    "kaq_sionna._quiet_tf": "kaq_sionna.core.quiet_tf",
    "kaq_sionna.params": "kaq_sionna.core.params",
    "kaq_sionna.cdl": "kaq_sionna.channels.cdl",
    "kaq_sionna.results": "kaq_sionna.app.results",
    "kaq_sionna.scenario": "kaq_sionna.app.scenario",
    "kaq_sionna.sweep": "kaq_sionna.app.sweep",
    "kaq_sionna.memory_study": "kaq_sionna.app.memory_study",
    "kaq_sionna.cli": "kaq_sionna.app.cli",
    "kaq_sionna.bench": "kaq_sionna.app.bench.link",
    "kaq_sionna.bench_detectors": "kaq_sionna.app.bench.detectors",
    "kaq_sionna.training.storage": "kaq_sionna.detection.unfolded_io",
    "kaq_sionna.detection.registry": "kaq_sionna.registry.detectors",
    "kaq_sionna.detection.unfolded_registry": "kaq_sionna.registry.unfolded",
    "kaq_sionna.detection.eqnet_registry": "kaq_sionna.registry.eqnet",
    "kaq_sionna.harq.eqnet_storage": "kaq_sionna.harq.eqnet_compressor",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new_name):
        self.new_name = new_name

    def create_module(self, spec):
        module = importlib.import_module(self.new_name)
        self._spec = module.__spec__  # the import machinery overwrites it with the alias's
        return module

    def exec_module(self, module):
        module.__spec__ = self._spec  # already executed: only restore its own spec


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Resolves the names of :data:`MOVED_MODULES` to their new modules."""

    def find_spec(self, fullname, path=None, target=None):
        new_name = MOVED_MODULES.get(fullname)
        if new_name is None:
            return None
        warnings.warn(f"{fullname} moved to {new_name}", DeprecationWarning, stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new_name))


def install():
    """Puts :class:`MovedModuleFinder` first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())  # before finders that might see stale files
