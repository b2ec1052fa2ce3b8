"""The layers of docs/architecture.md, checked on the code itself: no import cycle, and imports point downward only.

Every module under ``src/harmonix`` is read (not imported) with :mod:`ast`, and every import it holds counts: at
module level, inside a function, under ``if TYPE_CHECKING:``. ``from P import N`` is an import of module ``P.N``
when that module exists, else of ``P``. The contract is the data below (:data:`LAYER_OF`, :data:`PRIVATE`); a new
module fails :func:`test_every_module_has_a_layer` until someone decides where it belongs.

What today's code does against the contract and is not fixed yet is listed, each with why, in
:data:`KNOWN_BREACHES`; the test fails on a breach that is not listed and on a listed one that is gone, so the list
stays exactly true.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "harmonix"

# The layers of the product, lowest first: a module may import its own layer and those below, nothing above.
LAYERS = ("text", "field", "engines", "organisms", "hub", "surfaces")
BASE = "base"  # importable by every layer, importing none of them
MEASUREMENT = "measurement"  # the lab: may import anything, and nothing in the product imports it

# Module prefix -> layer (docs/architecture.md, "The layers"); the longest prefix that names a module wins. Modules
# the table does not name sit where their importers and imports put them (noted beside each).
LAYER_OF: Mapping[str, str] = {
    "harmonix.config": BASE,
    "harmonix.errors": BASE,
    "harmonix.progress": BASE,
    "harmonix.text": "text",
    "harmonix.metrics": "text",
    "harmonix.metatalk": "text",  # classifies a reply's words; Prose and Artist use it
    "harmonix.copyfilter": "text",  # word windows of a corpus; Sonnet uses it
    "harmonix.field": "field",
    "harmonix.engines": "engines",
    "harmonix.organisms": "organisms",
    "harmonix.observer": "organisms",  # the observer maths each organism (and the hub) reports
    "harmonix.meta": "hub",
    "harmonix.colony": "hub",
    "harmonix.service": "hub",
    "harmonix.finetune": "hub",
    "harmonix.cli": "surfaces",
    "harmonix.__main__": "surfaces",
    "harmonix.chat": "surfaces",
    "harmonix.server": "surfaces",
    "harmonix.client": "surfaces",
    "harmonix.render": "surfaces",
    "harmonix.documents": "surfaces",
    "harmonix.logs": "surfaces",  # the log lines of the CLI and the server
    "harmonix.lab": MEASUREMENT,  # bench, experiments, eval and its judges, training, the prompt sets and corpora
}

# The front door (``harmonix/__init__.py``): it names public classes of every layer for type checkers and loads
# them on first use (PEP 562), so at run time it imports nothing of Harmonix. Any module may take ``__version__``
# from it; ``from harmonix import NAME`` counts as an import of the module NAME comes from. Its own imports are
# held only to the rule that the product never imports the lab.
FACADE = "harmonix"

# Prefix -> the only prefix (besides the lab) allowed to import it: the storage backends are the field layer's
# business ("storage details" in the table); everything above reaches them through the Store interface.
PRIVATE: Mapping[str, str] = {
    "harmonix.field.sqlite": "harmonix.field",
    "harmonix.field.postgres": "harmonix.field",
}

# What a surface (the command line, the server, the page's routes) must not reach, whichever name it imports it
# by: the stores and their opening (colonies are administered through ``harmonix.Harmonix``) and the organisms
# themselves (only their protocol and registry, ``harmonix.organisms.base``). A name a package re-exports counts as
# the module it comes from (``from harmonix.field import Store`` is an import of ``harmonix.field.store``).
SURFACE_FORBIDDEN = ("harmonix.field.store", "harmonix.field.backends", "harmonix.field.sqlite",
                     "harmonix.field.postgres", "harmonix.field.audit", "harmonix.organisms")
SURFACE_ALLOWED = ("harmonix.organisms.base",)
SURFACE_FORBIDDEN_NAMES = {"harmonix.colony": frozenset({"open_config_store"})}
"""Names of a module a surface may import otherwise that open a store all the same."""

# (importer, imported) pairs that break the contract today, tolerated until fixed; remove each one when it goes.
# None since the command line reaches the lab only as a plugin (harmonix.cli.plugins) and colonies only through
# Harmonix.
KNOWN_BREACHES: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's target, resolved to a module of the package."""

    importer: str
    imported: str
    line: int


def modules_under(package: Path) -> dict[str, Path]:
    """Every module of the package at ``package`` (a directory), by dotted name; a package by its own name."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def within(module: str, prefix: str) -> bool:
    """``module`` is ``prefix`` or inside it (by dotted parts: ``harmonix.meta`` does not hold ``harmonix.metrics``)."""
    return module == prefix or module.startswith(prefix + ".")


def layer(module: str) -> str | None:
    """The layer of ``module`` by :data:`LAYER_OF` (``None`` when no prefix names it)."""
    prefixes = [prefix for prefix in LAYER_OF if within(module, prefix)]
    return LAYER_OF[max(prefixes, key=len)] if prefixes else None


def _type_checking_names(tree: ast.Module) -> dict[str, str]:
    """Name -> module of the ``from M import N`` statements under ``if TYPE_CHECKING:`` (the facade's public names)."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in ast.walk(node):
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    names.update({alias.asname or alias.name: statement.module for alias in statement.names})
    return names


def imports_in(source: str, module: str, *, is_package: bool, modules: Iterable[str],
               facade_names: Mapping[str, str]) -> list[Import]:
    """The imports of ``module`` (its ``source``) that land in ``modules``, every statement anywhere in the file."""
    known = set(modules)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    targets.append(f"{base}.{alias.name}")
                elif base == FACADE and alias.name in facade_names:
                    targets.append(facade_names[alias.name])
                else:
                    targets.append(base)
        for target in targets:
            resolved = resolve(target)
            if resolved is not None and resolved != module:
                found.append(Import(module, resolved, node.lineno))
    return found


def package_imports(package: Path) -> tuple[dict[str, Path], list[Import]]:
    """Every module of ``package`` and every import between them."""
    modules = modules_under(package)
    facade = modules.get(FACADE)
    facade_names = _type_checking_names(ast.parse(facade.read_text(encoding="utf-8"))) if facade else {}
    imports = [found for name, path in modules.items()
               for found in imports_in(path.read_text(encoding="utf-8"), name, is_package=path.name == "__init__.py",
                                       modules=modules, facade_names=facade_names)]
    return modules, imports


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports) as a path that ends where it starts, or ``None``."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in sorted(set(graph.get(node, ()))):
            if target in on_path:
                return path[path.index(target):] + [target]
            if target not in done:
                cycle = visit(target)
                if cycle is not None:
                    return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle is not None:
                return cycle
    return None


def breach(importer: str, imported: str) -> str | None:
    """Why ``importer`` must not import ``imported`` under the contract above, or ``None`` when it may."""
    importer_layer, imported_layer = layer(importer), layer(imported)
    if importer_layer == MEASUREMENT:
        return None
    if imported_layer == MEASUREMENT:
        return "the product imports the lab"
    if importer == FACADE or imported == FACADE or imported_layer == BASE:
        return None
    if importer_layer == BASE:
        return f"{importer} is used by every layer and must import none ({imported} is {imported_layer})"
    for private, home in PRIVATE.items():
        if within(imported, private) and not within(importer, home):
            return f"{private} is a storage detail of {home}"
    if importer_layer is None or imported_layer is None:
        return None  # reported by test_every_module_has_a_layer
    if LAYERS.index(imported_layer) > LAYERS.index(importer_layer):
        return f"upward: {importer_layer} imports {imported_layer}"
    return None


def breaches(imports: Iterable[Import]) -> dict[tuple[str, str], str]:
    """(importer, imported) -> the first place and why, for every import that breaks the contract."""
    found: dict[tuple[str, str], str] = {}
    for each in imports:
        why = breach(each.importer, each.imported)
        if why is not None:
            found.setdefault((each.importer, each.imported), f"line {each.line}: {why}")
    return found


def import_graph(imports: Iterable[Import]) -> dict[str, set[str]]:
    """Module -> the modules it imports; the facade's imports are left out, as they never run at import time."""
    graph: dict[str, set[str]] = {}
    for each in imports:
        if each.importer != FACADE:
            graph.setdefault(each.importer, set()).add(each.imported)
    return graph


def reexports(modules: Mapping[str, Path]) -> dict[tuple[str, str], str]:
    """(package, name) -> the module a package's ``__init__`` imports ``name`` from (``from M import name``)."""
    found = {}
    for package, path in modules.items():
        if path.name != "__init__.py" or package == FACADE:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.update({(package, alias.asname or alias.name): node.module for alias in node.names})
    return found


def surface_reaches(source: str, module: str, names_from: Mapping[tuple[str, str], str]) -> list[str]:
    """What ``module`` (a surface; its ``source``) imports that :data:`SURFACE_FORBIDDEN` keeps from it, each as
    "line N: imported (as name)"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        reached: list[tuple[str, str]] = []
        if isinstance(node, ast.Import):
            reached = [(alias.name, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                origin = names_from.get((node.module, alias.name), f"{node.module}.{alias.name}")
                if alias.name in SURFACE_FORBIDDEN_NAMES.get(node.module, frozenset()):
                    origin = f"{node.module}.{alias.name}"
                    found.append(f"line {node.lineno}: {origin}")
                    continue
                reached.append((origin, alias.name))
        for target, name in reached:
            if any(within(target, prefix) for prefix in SURFACE_FORBIDDEN) and \
                    not any(within(target, prefix) for prefix in SURFACE_ALLOWED):
                found.append(f"line {node.lineno}: {target} (as {name})")
    return found


MODULES, IMPORTS = package_imports(SOURCE)


def test_every_module_has_a_layer() -> None:
    unplaced = sorted(name for name in MODULES if name != FACADE and layer(name) is None)
    assert not unplaced, f"modules with no layer in LAYER_OF: {unplaced}"


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(IMPORTS))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_follow_the_layers() -> None:
    found = breaches(IMPORTS)
    new = {pair: why for pair, why in found.items() if pair not in KNOWN_BREACHES}
    gone = sorted(KNOWN_BREACHES - set(found))
    assert not new, "imports against docs/architecture.md's layers:\n" + "\n".join(
        f"{importer} -> {imported} ({why})" for (importer, imported), why in sorted(new.items()))
    assert not gone, f"fixed, so remove them from KNOWN_BREACHES: {gone}"


def test_surfaces_reach_colonies_only_through_the_hub() -> None:
    names_from = reexports(MODULES)
    reached = {name: found for name, path in MODULES.items() if layer(name) == "surfaces"
               if (found := surface_reaches(path.read_text(encoding="utf-8"), name, names_from))}
    assert not reached, "surfaces reaching a store or an organism:\n" + "\n".join(
        f"{name}: {', '.join(found)}" for name, found in sorted(reached.items()))


class TestTheChecker:
    """The checker itself, on made-up modules: it must see what it is there to catch."""

    def test_finds_a_cycle_and_reports_its_path(self) -> None:
        graph = {"harmonix.a": {"harmonix.b"}, "harmonix.b": {"harmonix.c"}, "harmonix.c": {"harmonix.a"},
                 "harmonix.d": {"harmonix.a"}}
        assert find_cycle(graph) == ["harmonix.a", "harmonix.b", "harmonix.c", "harmonix.a"]
        assert find_cycle({"harmonix.a": {"harmonix.b"}, "harmonix.b": set()}) is None

    def test_flags_upward_imports_and_only_those(self) -> None:
        imports = [Import("harmonix.text.tokens", "harmonix.field.store", 3),  # upward
                   Import("harmonix.errors", "harmonix.engines.llm", 4),  # base importing a layer
                   Import("harmonix.hub_less", "harmonix.text", 1),  # no layer: left to the placement test
                   Import("harmonix.colony", "harmonix.lab.bench.field", 5),  # the product importing the lab
                   Import("harmonix.cli", "harmonix.field.sqlite.store", 6),  # a storage detail
                   Import("harmonix.organisms.haiku", "harmonix.field", 7),  # downward
                   Import("harmonix.lab.bench.field", "harmonix.cli", 8),  # the lab may import anything
                   Import("harmonix.field.transfer", "harmonix", 9)]  # __version__ from the facade
        assert set(breaches(imports)) == {("harmonix.text.tokens", "harmonix.field.store"),
                                          ("harmonix.errors", "harmonix.engines.llm"),
                                          ("harmonix.colony", "harmonix.lab.bench.field"),
                                          ("harmonix.cli", "harmonix.field.sqlite.store")}

    def test_reads_every_import_of_a_package(self, tmp_path: Path) -> None:
        """Imports inside functions, relative ones and the facade's names are all seen."""
        package = tmp_path / "harmonix"
        for name, source in {
            "__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harmonix.field.b import B\n",
            "text/__init__.py": "",
            "text/a.py": "def late():\n    from harmonix.field import b\n    return b\n",
            "field/__init__.py": "from . import b\n",
            "field/b.py": "from ..text import a\nclass B: ...\n",
            "hub.py": "from harmonix import B\n",
        }.items():
            (package / name).parent.mkdir(parents=True, exist_ok=True)
            (package / name).write_text(source, encoding="utf-8")
        _, imports = package_imports(package)
        assert {(each.importer, each.imported) for each in imports} == {
            ("harmonix", "harmonix.field.b"), ("harmonix.text.a", "harmonix.field.b"),
            ("harmonix.field", "harmonix.field.b"), ("harmonix.field.b", "harmonix.text.a"),
            ("harmonix.hub", "harmonix.field.b")}
        assert find_cycle(import_graph(imports)) == ["harmonix.field.b", "harmonix.text.a", "harmonix.field.b"]
        assert ("harmonix.text.a", "harmonix.field.b") in breaches(imports)

    def test_flags_a_surface_that_opens_a_store_by_any_name(self) -> None:
        names_from = {("harmonix.field", "Store"): "harmonix.field.store",
                      ("harmonix.field", "Field"): "harmonix.field.field"}
        flagged = surface_reaches("from harmonix.field import Field, Store\n"
                                  "from harmonix.colony import Harmonix, open_config_store\n"
                                  "import harmonix.organisms.haiku\n"
                                  "from harmonix.organisms.base import plain\n"
                                  "def late():\n    from harmonix.field.backends import open_store\n",
                                  "harmonix.cli.colonies", names_from)
        assert flagged == ["line 1: harmonix.field.store (as Store)", "line 2: harmonix.colony.open_config_store",
                           "line 3: harmonix.organisms.haiku (as harmonix.organisms.haiku)",
                           "line 6: harmonix.field.backends.open_store (as open_store)"]
