"""One error root: every exception class of the project derives from ``WasmRuntimeError``.

Each module of each installed package (and the corpus's build script) is
imported, and every exception class it defines is checked. Classes keep their
other bases (``ValueError``, ``ImportError``, ...) where callers catch those.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from types import ModuleType

import pytest
from test_layering import ROOT, module_name, package_dirs

from sysinspect_wasm.errors import WasmRuntimeError

# A BaseException on purpose: raised into the guest's thread when its time is up, it must get past
# every `except Exception` of pywasm, WASI and the host API (see its docstring).
OUTSIDE_THE_ROOT = {"sysinspect_wasm_reference.signals.DeadlineExceeded"}

# Modules that do their work when imported: the launcher's boot script and `python -m` entry points.
NOT_IMPORTED = {"sysinspect_wasm_launcher.boot"}


def project_modules() -> list[ModuleType]:
    found: list[ModuleType] = []
    for package, folder in package_dirs().items():
        for path in sorted(folder.rglob("*.py")):
            if "src" in path.relative_to(folder).parts or path.name == "__main__.py":
                continue
            name = module_name(package, folder, path)
            if name not in NOT_IMPORTED:
                found.append(importlib.import_module(name))
    spec = importlib.util.spec_from_file_location("corpus_build_script", ROOT / "corpus" / "build.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # dataclasses look their module up while the class is made
    spec.loader.exec_module(script)
    found.append(script)
    return found


def exception_classes(module: ModuleType) -> list[type[BaseException]]:
    return [value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__]


def outside_root(classes: list[type[BaseException]]) -> list[str]:
    names = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes if not issubclass(cls, WasmRuntimeError)]
    return [name for name in names if name not in OUTSIDE_THE_ROOT]


def test_every_exception_class_derives_from_the_root() -> None:
    classes = [cls for module in project_modules() for cls in exception_classes(module)]
    assert len(classes) > 20, "the scan found too few exception classes to be reading the packages"
    assert outside_root(classes) == []


def test_the_one_exception_is_still_needed() -> None:
    from sysinspect_wasm_reference.signals import DeadlineExceeded

    assert not issubclass(DeadlineExceeded, Exception)


def test_a_class_outside_the_root_is_caught() -> None:
    class Stray(ValueError):
        pass

    assert outside_root([Stray]) != []


@pytest.mark.parametrize(("path", "kept"), [
    ("sysinspect_wasm.jsonio.NumberOutOfRange", ValueError),
    ("sysinspect_wasm.records.FrozenInstanceError", AttributeError),
    ("sysinspect_wasm_reference.loader.EngineMismatch", ImportError),
    ("sysinspect_wasm_reference.validation.InvalidModule", ValueError),
    ("sysinspect_wasm_production.values.UnsupportedValue", ValueError),
    ("sysinspect_wasm_differential.campaign.Divergence", AssertionError),
    ("sysinspect_wasm_differential.wasminfo.FormatError", ValueError),
    ("sysinspect_wasm_differential.smith.SmithUnavailable", RuntimeError),
])
def test_classes_keep_the_base_their_callers_catch(path: str, kept: type[BaseException]) -> None:
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, kept) and issubclass(cls, WasmRuntimeError)


def test_the_usage_error_and_program_name_have_one_home() -> None:
    # defined once, in sysinspect_wasm/usage.py; both halves of the command line import them from there
    homes: list[str] = []
    for folder in package_dirs().values():
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and node.name == "UsageError":
                    homes.append(f"{path.relative_to(ROOT)}: class UsageError")
                elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                      and node.value.value == "wasm-runtime"
                      and any(isinstance(target, ast.Name) and target.id == "PROG" for target in node.targets)):
                    homes.append(f"{path.relative_to(ROOT)}: PROG")
    assert sorted(homes) == ["sysinspect_wasm/usage.py: PROG", "sysinspect_wasm/usage.py: class UsageError"]
