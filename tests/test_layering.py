"""The layers depend one way: core -> backends -> runtime -> differential (and the launcher).

Every module of every installed package is parsed with ``ast``; each import
(at module level or inside a function, plus ``importlib.import_module`` of a
literal name) must name its own package or a package of a lower layer. The
command line's lazy dispatch of ``wasm-runtime diff`` and ``wasm-runtime
bundle`` is the one allowed upward step, and only from inside a function.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The layer of each package: a module may import only its own package and lower layers.
# Packages of one layer are independent of each other (the two backends, the two top tools).
LAYER = {
    "sysinspect_wasm": 0,  # the core: executor interface, results, traps, host API, cache rules
    "sysinspect_wasm_production": 1,  # wasmtime backend
    "sysinspect_wasm_reference": 1,  # pywasm backend
    "sysinspect_wasm_corpus": 1,  # the module corpus: data, reads its manifest with the core's JSON reader
    "sysinspect_wasm_runtime": 2,  # wasm-runtime: protocol and developer command line
    "sysinspect_wasm_differential": 3,  # the differential tester
    "sysinspect_wasm_launcher": 3,  # wasm-runtime bundle: launchers and library tree
}

# (importing module, imported module): the command line hands `diff` and `bundle` to the tools above
# it, importing them only when that subcommand runs, so a deployed runtime works without them.
LAZY_DISPATCH = {
    ("sysinspect_wasm_runtime.cli", "sysinspect_wasm_differential.cli"),
    ("sysinspect_wasm_runtime.cli", "sysinspect_wasm_launcher.bundle"),
}


@dataclass(frozen=True)
class Import:
    """One import statement (or literal ``import_module`` call) found in a module."""

    importer: str
    target: str
    line: int
    in_function: bool


def package_dirs() -> dict[str, Path]:
    """Package name -> its folder, as setup.py's ``ROOTS`` installs them (read as a literal, not run)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ROOTS" for t in node.targets):
            dirs: dict[str, str] = ast.literal_eval(node.value)
            return {name: ROOT / folder for name, folder in dirs.items()}
    raise AssertionError("setup.py has no ROOTS")


def module_name(package: str, folder: Path, path: Path) -> str:
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name of a relative import ``from <level dots><module> import ...``."""
    base = importer.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(source: str, importer: str, is_package: bool = False) -> list[Import]:
    """Every import of ``source`` (the module ``importer``), with whether it sits inside a function."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend(Import(importer, alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = (_resolve(importer, is_package, child.level, child.module) if child.level
                          else child.module or "")
                # `from pkg import mod` imports pkg.mod when mod is a module: check the longer name too
                found.append(Import(importer, target, child.lineno, in_function))
                found.extend(Import(importer, f"{target}.{alias.name}", child.lineno, in_function)
                             for alias in child.names if alias.name != "*")
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute | ast.Name)
                  and (child.func.attr if isinstance(child.func, ast.Attribute) else child.func.id) == "import_module"
                  and child.args and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)
                  and not child.args[0].value.startswith(".")):
                found.append(Import(importer, child.args[0].value, child.lineno, in_function))
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def violations(found: list[Import]) -> list[str]:
    """The imports of ``found`` that point up or sideways, each as a line saying where and what."""
    bad: list[str] = []
    for imp in found:
        own, other = imp.importer.split(".")[0], imp.target.split(".")[0]
        if other == own or other not in LAYER:
            continue  # the package itself, the standard library or a third-party dependency
        if LAYER[other] < LAYER[own]:
            continue
        if imp.in_function and any(imp.importer == a and (imp.target == b or imp.target.startswith(f"{b}."))
                                   for a, b in LAZY_DISPATCH):
            continue
        where = "inside a function" if imp.in_function else "at module level"
        bad.append(f"{imp.importer}:{imp.line} imports {imp.target} {where}: layer {LAYER[other]} from layer "
                   f"{LAYER[own]}; move what it needs down to a lower layer (see LAYER in tests/test_layering.py)")
    return bad


def all_imports() -> list[Import]:
    found: list[Import] = []
    for package, folder in package_dirs().items():
        for path in sorted(folder.rglob("*.py")):
            if "src" in path.relative_to(folder).parts:
                continue  # corpus/src: guest sources (Python guests are compiled to Wasm, not imported)
            name = module_name(package, folder, path)
            found.extend(imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"))
    return found


def test_every_installed_package_has_a_layer() -> None:
    assert set(package_dirs()) == set(LAYER), "give each package of pyproject.toml a layer in LAYER"


def test_imports_point_down_the_layers() -> None:
    found = all_imports()
    assert len(found) > 100, "the scan found too few imports to be reading the packages"
    assert violations(found) == []


def test_the_lazy_dispatch_exception_is_still_used() -> None:
    # An exception nobody needs any more should be removed, not kept as a silent hole.
    used = {(imp.importer, imp.target) for imp in all_imports()}
    for pair in LAZY_DISPATCH:
        assert pair in used, f"{pair} is listed in LAZY_DISPATCH but no longer imported"


@pytest.mark.parametrize(("importer", "source"), [
    # the violation this test was written for: a backend's cache commands importing the runtime's library
    ("sysinspect_wasm_production.cachecli",
     "def _parser():\n    from sysinspect_wasm_runtime.library import DEFAULT_SHARELIB\n"),
    ("sysinspect_wasm.backends", "import sysinspect_wasm_production\n"),
    ("sysinspect_wasm_reference.backend", "from sysinspect_wasm_production import cache\n"),
    ("sysinspect_wasm_runtime.protocol", "from sysinspect_wasm_differential import cli\n"),
    ("sysinspect_wasm_differential.harness", "import importlib\nimportlib.import_module('sysinspect_wasm_launcher')\n"),
    # the dispatch exception holds only inside a function
    ("sysinspect_wasm_runtime.cli", "from sysinspect_wasm_differential.cli import main\n"),
])
def test_an_upward_import_is_caught(importer: str, source: str) -> None:
    assert violations(imports_of(source, importer)) != []


@pytest.mark.parametrize(("importer", "source"), [
    ("sysinspect_wasm_production.cachecli", "def f():\n    from sysinspect_wasm.library import modules\n"),
    ("sysinspect_wasm_runtime.cli", "def f():\n    from sysinspect_wasm_differential.cli import main\n"),
    ("sysinspect_wasm_runtime.protocol", "from . import request\nimport sysinspect_wasm_reference\n"),
])
def test_a_downward_import_is_allowed(importer: str, source: str) -> None:
    assert violations(imports_of(source, importer)) == []
