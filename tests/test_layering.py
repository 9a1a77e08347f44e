"""The import structure: no cycles, and imports only along core <- library <- links <- app.

Every module of ``kaq_sionna`` and ``links`` is parsed with ``ast``; every import counts,
including those inside functions. A package's ``__init__`` is a module like any other (it runs
whenever one of its submodules is imported, so its imports are part of any cycle through it).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kaq_sionna", "links")

# Layer of each top-level part; an import may only go to the same or a lower layer.
LIBRARY = ("quantization", "channels", "pretrained", "softbits", "detection", "harq",
           "registry", "training", "deploy")
LAYERS = {"core": 0, **dict.fromkeys(LIBRARY, 1), "links": 2, "app": 3}
LAYER_NAMES = {0: "core", 1: "library", 2: "links", 3: "app"}
# The one import against the order: kaq_sionna.run_scenario / plot_results, a lazy module
# __getattr__ in kaq_sionna/__init__.py (importing the package never runs it).
ALLOWED = {("kaq_sionna", "kaq_sionna.app.api")}


def module_files():
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def internal_imports(modules):
    """``{module: {imported module, ...}}`` for imports of our own modules (all of them)."""
    graph = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                candidates = [f"{base}.{a.name}" for a in node.names] + [base]
                candidates = [c for c in candidates if c in modules][:1] or [base]
            else:
                continue
            for target in candidates:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = {t for t in targets if (name, t) not in ALLOWED}
    return graph


def layer_of(module):
    parts = module.split(".")
    if parts[0] == "links":
        return LAYERS["links"]
    if len(parts) == 1:
        return LAYERS["core"]  # kaq_sionna/__init__.py: the quiet TensorFlow import only
    if parts[1] in ("__main__",):
        return LAYERS["app"]
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: {parts[1]!r} is in no layer; add it to LAYERS in "
                             f"{Path(__file__).name}")
    return LAYERS[parts[1]]


def find_cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.fixture(scope="module")
def graph():
    return internal_imports(module_files())


def test_the_graph_is_read(graph):
    # guards the parser: known edges must be found, including imports inside functions
    assert "kaq_sionna.core.params" in graph["kaq_sionna.registry.detectors"]
    assert "links.registry" in graph["kaq_sionna.app.worker"]
    assert len(graph) > 60
    assert "kaq_sionna.registry.pretrained" in graph["kaq_sionna.registry.quantized_llr"]
    assert layer_of("kaq_sionna.core.params") < layer_of("kaq_sionna.softbits.scalar") \
        < layer_of("links.harq") < layer_of("kaq_sionna.app.cli")


def test_no_import_cycle(graph):
    assert find_cycles(graph) == []


def test_no_import_cycle_between_library_packages(graph):
    packages = {}
    for module, targets in graph.items():
        src = ".".join(module.split(".")[:2])
        for t in targets:
            dst = ".".join(t.split(".")[:2])
            if src != dst and src.split(".")[-1] in LIBRARY and dst.split(".")[-1] in LIBRARY:
                packages.setdefault(src, set()).add(dst)
    assert find_cycles(packages) == []


def test_imports_follow_the_layer_order(graph):
    upward = [f"{m} ({LAYER_NAMES[layer_of(m)]}) imports {t} ({LAYER_NAMES[layer_of(t)]})"
              for m, targets in sorted(graph.items()) for t in sorted(targets)
              if layer_of(t) > layer_of(m)]
    assert upward == []


def test_the_allowed_import_is_lazy():
    # kaq_sionna/__init__.py imports the app only inside its module __getattr__
    tree = ast.parse((ROOT / "kaq_sionna" / "__init__.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("app" in (getattr(n, "module", "") or "") for n in top)
    lazy = [n for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "__getattr__"
            for n in ast.walk(f) if isinstance(n, ast.ImportFrom)]
    assert [n.module for n in lazy] == ["kaq_sionna.app"]


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("old, new", [("kaq_sionna.cli", "kaq_sionna.app.cli"),
                                      ("kaq_sionna.params", "kaq_sionna.core.params"),
                                      ("kaq_sionna.detection.registry",
                                       "kaq_sionna.registry.detectors")])
def test_old_module_names_import_the_new_modules_with_a_warning(old, new):
    import importlib
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new  # the alias leaves the new module's own spec


def test_old_console_entry_point_still_resolves():
    import importlib
    import sys

    import kaq_sionna.app.cli as cli

    sys.modules.pop("kaq_sionna.cli", None)
    with pytest.warns(DeprecationWarning):
        assert importlib.import_module("kaq_sionna.cli").main is cli.main
