"""The developer half of ``wasm-runtime``: the upstream flags (``-l``, ``-i``, ``-m``), ``run``, and the commands
other packages implement (``diff``, ``precompile``, ``cache``, ``bundle``).

:func:`sysinspect_wasm_runtime.protocolmode.main` hands any call with
arguments to :func:`command_line`; a minion's call (no arguments) never
imports this module, so its imports need not follow the warm path's rules.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sysinspect_wasm.usage import PROG, UsageError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import TextIO

    from .response import ModResponse

DELEGATED = {
    "diff": "compare the wasmtime and pywasm backends on one module (see 'wasm-runtime diff --help')",
    "precompile": "prepare every module of a sharelib ahead of time (after a sync): native code, or with --backend pywasm decoded modules",
    "cache": "list, prune or clear the cached .cwasm artifacts of both backends (see 'wasm-runtime cache --help')",
    "bundle": "write the launchers and library tree a SysMaster registers (see 'wasm-runtime bundle --help')",
    "engines": "which Python, C library and engines run guests here, and which one auto picks (see 'wasm-runtime engines --help')",
}
"""Commands implemented by other packages of the project; their own parsers read the arguments."""
AUTHOR_HELP = {
    "new": "create a module project (Go, C, Zig or Rust) using our SDK (see 'wasm-runtime new --help')",
    "build": "build a module project into DIR/lib/runtime/wasm/<id>.wasm (see 'wasm-runtime build --help')",
    "check": "judge a module against the runtime's contract before publishing it (see 'wasm-runtime check --help')",
    "sdk": "write the guest SDK of one language into a folder (see 'wasm-runtime sdk --help')",
}
"""The module authors' commands and their one-line help. Kept here, not in ``authorcli``, so that building this
parser (every ``run``, ``-l``, ``-i``, ``--help``) does not import the toolkit and its toolchains."""


# -- the command line -------------------------------------------------------

DESCRIPTION = """\
Sysinspect's Wasm runtime module (runtime.wasm), in Python.

Without arguments it speaks the module protocol: one JSON request on standard
input, one JSON response line on standard output, exit status 0. That is how
a Sysinspect minion calls it. The flags below are for people."""

EPILOG = """\
protocol mode (what a minion does):
  echo '{"args": {"rt.mod": "hello", "key": "VERSION"}}' | wasm-runtime
  echo '{"opts": ["rt.list"], "config": {"path.sharelib": "/srv/sharelib"}}' | wasm-runtime

library and documentation:
  wasm-runtime -l                       modules in /usr/share/sysinspect/lib/runtime/wasm
  wasm-runtime --embedded -l            modules shipped with this runtime (no Sysinspect needed)
  wasm-runtime --embedded -i osrelease-go   a module's own documentation, as text
  wasm-runtime -m                       the runtime's manual: every rt.* argument and option

developer mode (no Sysinspect needed):
  wasm-runtime run osrelease-go --arg key=VERSION      (a module of the embedded library)
  wasm-runtime run ./build/hello.wasm --arg key=VERSION --opt nohello
  wasm-runtime run uname-c --sandbox --backend pywasm --timeout 5
  wasm-runtime run hello --request saved-request.json --host-json host.json
  See 'wasm-runtime run --help'.

write a module (see 'wasm-runtime new --help'):
  wasm-runtime new hello --lang go|c|zig|rust   then build hello, check hello, run it

register it on a SysMaster (an ELF launcher per target, and its library tree):
  wasm-runtime bundle --output ./bundle        (see ./bundle/REGISTER.md)
  sysinspect module -A --path ./bundle/linux-x86_64/wasm-runtime --name runtime.wasm
  sysinspect module -A --path ./bundle/lib -l
  in models: module: wasm.<id>   (older form: module: runtime.wasm-runtime, args: {rt.mod: <id>})
"""

RUN_DESCRIPTION = """\
Run one module the way a minion would, without Sysinspect: the flags build a
request, the request goes through exactly the code path of protocol mode, and
the response is printed pretty. The exit status is the response's retcode.

MODULE is a path to a .wasm file (anything with a '/' or ending in .wasm), or
a module id, looked up in --sharelib if given, else in
/usr/share/sysinspect/lib/runtime/wasm, else in the embedded library."""

RUN_EPILOG = """\
examples:
  wasm-runtime run ./hello.wasm
  wasm-runtime run osrelease-c --arg key=PRETTY_NAME --opt nohello
  wasm-runtime run headerinfo-c --opt check --host-json host.json
  wasm-runtime run sections-go --arg 'tags:=["a", "b"]' --config minion.id=m1
  wasm-runtime run uname-c --sandbox --timeout 10 --memory-mb 64
  wasm-runtime run osrelease-c --opt man     (the module's documentation, as JSON)
"""


def _parser() -> argparse.ArgumentParser:
    import argparse

    from sysinspect_wasm.backends import BACKEND_CHOICES

    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # -V as upstream's clap-generated flag: "NAME VERSION" on stdout, exit 0
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}",
                        help="print the runtime's name and version and exit")
    parser.add_argument("-m", "--man", "--manual", action="store_true", help="print the runtime's manual and exit")
    parser.add_argument("-l", "--list-modules", "--list-plugins", dest="list_modules", action="store_true",
                        help="list the available modules (of --sharelib, or --embedded)")
    parser.add_argument("-s", "--sharelib", metavar="PATH",
                        help="sharelib root holding lib/runtime/wasm/ (default /usr/share/sysinspect)")
    parser.add_argument("--embedded", action="store_true",
                        help="use the module library shipped with this runtime instead of a sharelib")
    parser.add_argument("-i", "--info", metavar="MODULE",
                        help="print a module's own documentation (the module is called with the option 'man')")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    run = commands.add_parser("run", help="run a module from the command line (developer mode)",
                              description=RUN_DESCRIPTION, epilog=RUN_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("module", metavar="MODULE", help="path to a .wasm file, or a module id")
    run.add_argument("--arg", "-a", action="append", default=[], metavar="KEY=VALUE",
                     help="keyword argument with a string value; KEY:=JSON gives a typed value (repeatable)")
    run.add_argument("--opt", "-o", action="append", default=[], metavar="NAME", help="option (repeatable)")
    run.add_argument("--config", "-c", action="append", default=[], metavar="KEY=VALUE",
                     help="config entry, e.g. path.sharelib=/srv/x; KEY:=JSON for a typed value (repeatable)")
    run.add_argument("--host-json", metavar="FILE", help="JSON object for the request's 'host' (traits, paths)")
    run.add_argument("--request", metavar="FILE", help="start from this JSON request ('-' for stdin); flags add to it")
    run.add_argument("--backend", "-b", choices=BACKEND_CHOICES, help="rt.backend (default auto)")
    run.add_argument("--timeout", "-t", type=int, metavar="SECONDS", help="the request's timeout, 0-255")
    run.add_argument("--sandbox", action="store_true", help="rt.sandbox: read-only /, api.exec refused")
    run.add_argument("--memory-mb", type=int, metavar="N", help="rt.memory-mb: linear-memory ceiling in MiB")
    run.add_argument("--output-kb", type=int, metavar="N", help="rt.output-kb: cap on guest stdout/stderr in KiB")
    run.add_argument("--rootfs", metavar="DIR", help="rt.rootfs: host directory shown to the guest as /")
    run.add_argument("--sharelib", "-s", dest="run_sharelib", metavar="PATH", help="look module ids up in this sharelib")
    run.add_argument("--embedded", dest="run_embedded", action="store_true", help="look module ids up in the embedded library")
    run.add_argument("--compact", action="store_true", help="print the response as the one line a minion reads")
    run.add_argument("--trace", action="store_true",
                     help="write a line per WASI and api.* call the module makes, as it returns, to stderr")
    run.add_argument("--trace-file", metavar="FILE", help="like --trace, into FILE instead of stderr")
    for name, text in DELEGATED.items():
        commands.add_parser(name, help=text, add_help=False)
    for name, text in AUTHOR_HELP.items():
        commands.add_parser(name, help=text, add_help=False)
    return parser


def _fail(text: str, status: int = 2) -> int:
    sys.stderr.write(f"{PROG}: {text}\n")
    return status


def _default_sharelib() -> str:
    from sysinspect_wasm.library import DEFAULT_SHARELIB

    return DEFAULT_SHARELIB


def _embedded_sharelib() -> Path | None:
    """The sharelib root of the module corpus shipped with this package, if installed.

    It holds ``lib/runtime/wasm/<id>.wasm`` like a node's sharelib, so that
    modules can be tried without a Sysinspect installation.
    """
    import importlib

    from sysinspect_wasm.library import module_dir

    try:
        corpus = importlib.import_module("sysinspect_wasm_corpus")
    except ImportError:
        return None
    root = Path(corpus.library_root())
    return root if module_dir(root).is_dir() else None


def _embedded() -> Path:
    root = _embedded_sharelib()
    if root is None:
        raise UsageError("the embedded module library is not installed (package sysinspect_wasm_corpus)")
    return root


def _sharelib_choice(sharelib: str | None, embedded: bool) -> Path | None:
    if sharelib is not None and embedded:
        raise UsageError("give --sharelib or --embedded, not both")
    if embedded:
        return _embedded()
    return Path(sharelib) if sharelib is not None else None


def resolve_module(spec: str, sharelib: Path | None) -> tuple[str, Path, Path | None]:
    """Where module ``spec`` (a path or an id) lives: ``(id, module folder, sharelib root or None)``.

    An id is looked up in ``sharelib`` when given; otherwise in the default
    sharelib and then in the embedded library. A path's folder is used as the
    module folder; when it is ``<root>/lib/runtime/wasm`` its root is the sharelib.
    """
    from sysinspect_wasm.library import MODULE_SUBDIR, MODULE_SUFFIX, module_dir, modules

    if "/" in spec or spec.endswith(MODULE_SUFFIX):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise UsageError(f"no such module file: {spec}")
        path = path.resolve()
        if not path.name.endswith(MODULE_SUFFIX) or path.name == MODULE_SUFFIX:
            raise UsageError(f"a module file must be named <id>{MODULE_SUFFIX}: {spec}")
        folder = path.parent
        root = folder.parents[len(MODULE_SUBDIR) - 1] if folder.parts[-len(MODULE_SUBDIR):] == MODULE_SUBDIR else None
        return path.name[: -len(MODULE_SUFFIX)], folder, root
    if sharelib is not None:
        return spec, module_dir(sharelib), sharelib
    candidates = [Path(_default_sharelib())]
    embedded = _embedded_sharelib()
    if embedded is not None:
        candidates.append(embedded)
    for root in candidates:
        try:
            if spec in modules(module_dir(root)):
                return spec, module_dir(root), root
        except OSError:
            continue
    return spec, module_dir(candidates[0]), candidates[0]


def _key_value(text: str, flag: str) -> tuple[str, Any]:
    from sysinspect_wasm.jsonio import loads_serde

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"{flag} wants KEY=VALUE or KEY:=JSON, not {text!r}")
    if key.endswith(":"):
        try:
            return key[:-1], loads_serde(value)
        except ValueError as exc:
            raise UsageError(f"{flag} {key[:-1]}:= wants JSON after ':=' ({exc})") from None
    return key, value


def _load_json(source: str, what: str) -> Any:
    from sysinspect_wasm.jsonio import loads_serde

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return loads_serde(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read {what} from {source}: {exc}") from None


def build_run_request(ns: argparse.Namespace, module_id: str, sharelib: Path | None) -> dict[str, Any]:
    """The request that ``run`` flags describe (as a minion would write it)."""
    request: dict[str, Any] = {}
    if ns.request:
        base = _load_json(ns.request, "the request")
        if not isinstance(base, dict):
            raise UsageError("--request must hold a JSON object")
        request = dict(base)
    opts_key = "options" if "options" in request else "opts"
    args_key = "arguments" if "arguments" in request else "args"
    opts = list(request.get(opts_key) or [])
    args = dict(request.get(args_key) or {})
    config = dict(request.get("config") or {})

    opts += ns.opt
    args.update(_key_value(item, "--arg") for item in ns.arg)
    config.update(_key_value(item, "--config") for item in ns.config)
    args["rt.mod"] = module_id
    if sharelib is not None:
        config.setdefault("path.sharelib", str(sharelib))
    for flag, name in (("backend", "rt.backend"), ("memory_mb", "rt.memory-mb"), ("output_kb", "rt.output-kb"),
                       ("rootfs", "rt.rootfs")):
        value = getattr(ns, flag)
        if value is not None:
            args[name] = value
    if ns.sandbox and "rt.sandbox" not in opts:
        opts.append("rt.sandbox")
    if ns.timeout is not None:
        request["timeout"] = ns.timeout
    if ns.host_json:
        request["host"] = _load_json(ns.host_json, "--host-json")
    request[opts_key] = opts
    request[args_key] = args
    if config:
        request["config"] = config
    return request


def _answer(document: dict[str, Any], folder: Path | None, trace: Callable[[str], None] | None = None) -> ModResponse:
    from .protocol import bad_request, handle
    from .request import RequestError, request_from_object

    try:
        request = request_from_object(document)
    except RequestError as exc:
        return bad_request(str(exc))
    return handle(request, folder=folder, trace=trace)


def _print_json(value: Any, compact: bool = False) -> None:
    import json

    if compact:
        from sysinspect_wasm.jsonio import compact_json

        print(compact_json(value))
    else:
        print(json.dumps(value, indent=2, ensure_ascii=False))


def cmd_run(ns: argparse.Namespace) -> int:
    """``wasm-runtime run``: developer mode."""
    sharelib = _sharelib_choice(ns.run_sharelib if ns.run_sharelib is not None else ns.sharelib,
                                ns.run_embedded or ns.embedded)
    module_id, folder, root = resolve_module(ns.module, sharelib)
    request = build_run_request(ns, module_id, root)
    if ns.trace_file is not None:
        try:
            sink = open(ns.trace_file, "w", encoding="utf-8")  # noqa: SIM115 (closed below, after the run)
        except OSError as exc:
            return _fail(f"cannot write the trace file {ns.trace_file}: {exc.strerror or exc}")
        with sink:
            response = _answer(request, folder, _trace_to(sink))
    else:
        response = _answer(request, folder, _trace_to(sys.stderr) if ns.trace else None)
    _print_json(response.as_dict(), ns.compact)
    return response.retcode


def _trace_to(stream: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()  # a line per call as it returns, even if the guest then hangs

    return write


def cmd_list(ns: argparse.Namespace) -> int:
    """``wasm-runtime -l``: the module library, one id a line."""
    root = _sharelib_choice(ns.sharelib, ns.embedded) or Path(_default_sharelib())
    response = _answer({"options": ["rt.list"], "config": {"path.sharelib": str(root)}}, None)
    if response.retcode != 0:
        hint = "" if ns.embedded else f" ('{PROG} --embedded -l' lists the modules shipped with this runtime)"
        return _fail(f"{response.message}{hint}", response.retcode)
    from sysinspect_wasm.library import module_dir

    names = response.data.get("modules", [])
    print(f"Available Wasm/WASI modules in {module_dir(root)}:")
    for number, name in enumerate(names, 1):
        print(f" {number}. {name}")
    if not names:
        print(" (none)")
    return 0


def cmd_info(ns: argparse.Namespace) -> int:
    """``wasm-runtime -i MODULE``: the module's documentation as text."""
    from .moddoc import find_doc, render_doc

    module_id, folder, root = resolve_module(ns.info, _sharelib_choice(ns.sharelib, ns.embedded))
    request: dict[str, Any] = {"options": ["man"], "arguments": {"rt.mod": module_id}}
    if root is not None:
        request["config"] = {"path.sharelib": str(root)}
    response = _answer(request, folder)
    if response.retcode != 0:
        return _fail(response.message, response.retcode)
    doc = find_doc(response.data)
    if doc is None:
        sys.stderr.write(f"{PROG}: module {module_id!r} printed no documentation object for the option 'man'; "
                         "its response was:\n")
        _print_json(response.as_dict())
        return 1
    sys.stdout.write(render_doc(doc))
    return 0


def _delegated(args: list[str]) -> int | None:
    """Run the commands other packages and modules implement (``diff``, ``cache``, ``new``...); None for the rest."""
    if args and args[0] in AUTHOR_HELP:  # new, build, check, sdk: the module authors' toolkit
        from .authorcli import main as author_main

        return author_main(args[0], args[1:])
    if not args or args[0] not in DELEGATED:
        return None
    if args[0] == "diff":
        try:
            from sysinspect_wasm_differential.cli import main as diff_main
        except ImportError as exc:  # a deployed runtime (wasm-runtime bundle) leaves the tester out
            return _fail(f"diff needs the differential tester, which is not installed here ({exc}); "
                         "run it where the whole project is installed", 1)
        return diff_main(args[1:])
    if args[0] == "engines":
        from .engines import main as engines_main

        return engines_main(args[1:])
    if args[0] == "bundle":
        import importlib

        try:  # by name: the package's folder (launcher/) is not its import name, as for the corpus
            bundle = importlib.import_module("sysinspect_wasm_launcher.bundle")
        except ImportError as exc:
            return _fail(f"bundle is a build tool of the installed project, not part of a deployed runtime ({exc}); "
                         "run it on the SysMaster where the project is installed", 1)
        status: int = bundle.main(args[1:])
        return status
    from .cachecommands import run as cache_main  # the native cache's commands, with the pywasm backend's files

    return cache_main(args)


def command_line(args: list[str]) -> int:
    """Everything but protocol mode: the upstream flags, ``run``, ``--help`` and ``--version``."""
    status = _delegated(args)
    if status is not None:
        return status
    ns = _parser().parse_args(args)
    chosen = [name for name, on in (("-m", ns.man), ("-l", ns.list_modules), ("-i", ns.info is not None),
                                    ("run", ns.command == "run")) if on]
    try:
        if len(chosen) > 1:
            raise UsageError(f"{' and '.join(chosen)} cannot be combined: give one")
        if ns.man:
            from .manual import MANUAL

            sys.stdout.write(MANUAL)
            return 0
        if ns.list_modules:
            return cmd_list(ns)
        if ns.info is not None:
            return cmd_info(ns)
        if ns.command == "run":
            return cmd_run(ns)
    except UsageError as exc:
        return _fail(str(exc))
    return _fail(f"nothing to do: give -m, -l, -i MODULE or run MODULE; without arguments {PROG} reads a "
                 f"request on standard input (see {PROG} --help)")
