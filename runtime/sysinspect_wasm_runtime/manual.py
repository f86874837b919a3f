"""The runtime's own manual, printed by ``wasm-runtime --man``, and the module-doc ``.spec`` made from it.

The manual is the one source of the runtime's arguments and options: the
``.spec`` sidecar a SysMaster reads when the launcher is registered
(:func:`spec_document`, written by ``wasm-runtime bundle``) takes them from
its RUNTIME ARGUMENTS and RUNTIME OPTIONS sections, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

MANUAL = """\
WASM-RUNTIME(1)                    Sysinspect                    WASM-RUNTIME(1)

NAME
  runtime.wasm - run WebAssembly (WASI) modules as Sysinspect modules

SYNOPSIS
  wasm-runtime < request.json           protocol mode, as a minion calls it
  wasm-runtime -m | -l [-s PATH] | -i MODULE [-s PATH]
  wasm-runtime run MODULE [--arg KEY=VALUE ...] [--opt NAME ...] ...

DESCRIPTION
  A drop-in for Sysinspect's Rust Wasm runtime, registered on the SysMaster
  as runtime.wasm (see DEPLOYMENT). A minion
  spawns it once per action, writes one JSON request (ModRequest) on its
  standard input and reads one JSON response (ModResponse) line from its
  standard output. The process always exits 0 in protocol mode; success or
  failure travels in the response's "retcode". Nothing but that one line is
  ever written to standard output.

  Modules are WASI preview 1 commands stored as
      <path.sharelib>/lib/runtime/wasm/<id>.wasm
  where path.sharelib comes from the request's "config" (default
  /usr/share/sysinspect). A module id is matched against the listing of that
  folder only: "../x", "/etc/passwd", "a/b" or an id with a NUL byte are
  simply not found. Symlinks and .cwasm artifacts are not modules.

IN A MODEL
  module: wasm.<id>            current Sysinspect: the minion calls
                               runtime.wasm and adds the argument
                               rt.mod: <id>. The id may hold dots:
                               wasm.net.probe gives rt.mod: net.probe,
                               which runs net.probe.wasm.
  module: runtime.wasm-runtime the older form (the Sysinspect tutorial's),
    args: {rt.mod: <id>}       with rt.mod given in the state's arguments.

REQUEST
  {"args": {"rt.mod": "hello", "key": "VERSION"}, "opts": ["nohello"],
   "timeout": 10, "config": {...}, "host": {...}, "ext": {...}}
  Every key is optional. "options"/"opts" is a list of strings, "arguments"/
  "args" an object, "timeout" whole seconds 0-255 (0: no limit), "quiet" a
  boolean (accepted, not used). Any other top-level key is merged into "ext".
  A request that is empty, not UTF-8, not a JSON object, larger than 16 MiB,
  nested deeper than 128 levels, or has a key of the wrong type is answered
  with retcode 2 and a message saying what was wrong.

RUNTIME ARGUMENTS ("args")
  rt.mod        string. The id of the module to run. Missing or not in the
                library: retcode 4, 'Module "<id>" was not found'.
  rt.man        true: ask the module for its documentation; the runtime adds
                the option "man" before calling it.
  rt.rootfs     absolute path. The host directory shown to the guest as "/"
                (instead of the host's "/"). Not absolute, missing, or not a
                directory: retcode 4, before the module runs.
  write-dir     the same as rt.rootfs; the name upstream actually reads. It has
                no rt. prefix, so the guest sees it among its args too. When
                both are given they must name the same directory.
  rt.backend    auto | wasmtime | pywasm (default auto). wasmtime compiles to
                native code; pywasm is a pure-Python interpreter (slow, runs
                anywhere). auto is wasmtime where it can be imported, else
                pywasm with a warning. Unknown value: retcode 2; a backend
                that cannot be imported here: retcode 4.
  rt.memory-mb  whole MiB, 1-4096 (default 256). Ceiling of the guest's linear
                memory; growing past it stops the guest with retcode 5,
                "memory limit".
  rt.output-kb  whole KiB, 1-1048576 (default: 8192 for stdout, 1024 for
                stderr). Caps each of the guest's standard output and error;
                one byte more stops the guest with retcode 5, "output limit"
                (never a silently cut result).
  rt.sandbox    true: the same as the option rt.sandbox (accepted as an
                argument too, so that a misplaced switch still sandboxes).

RUNTIME OPTIONS ("opts")
  rt.list       list the available modules instead of running one:
                data {"changed": false, "modules": [...]}, sorted.
  rt.sandbox    run the module sandboxed: its "/" (the host's, or rt.rootfs)
                is read-only (every write, create, rename or delete fails),
                api.exec is refused with {"error": "api.exec is refused: ..."}
                and the PackageKit helpers with {"error": "the PackageKit
                helpers are refused: ..."} (packagekit_available is 0; no bus
                is contacted). Upstream lists this option as planned; this
                runtime implements it.
  rt.logs       accepted for compatibility; log lines are always returned.

  Every rt.* name is removed before the request reaches the guest. An rt.*
  name not listed here is ignored with a warning in the response.

WHAT THE GUEST GETS
  stdin   one line of compact JSON and a newline, the header:
            {"opts":[...],"args":{...},"config":{...},"ext":{...},"host":{...}}
          opts/args without rt.*, in the request's order; config with the
          default path.sharelib filled in; host {} when the request had none.
          The bytes are serde_json's, as upstream writes them: floats in
          ryu's spelling (1e20, 0.00001, 1e-7, -0.0), integers beyond 64 bits
          read as floats, non-ASCII as raw UTF-8.
  argv    one entry, the module id (argv[0]); upstream passes none, but Go's
          flag package and C programs expect argv[0] to exist.
  env     empty. No network.
  files   the host's "/" (or rt.rootfs) preopened as guest "/", writable
          unless rt.sandbox.
  api.*   log, exec, header, header_has, header_get and the PackageKit
          helpers (packagekit_available, packagekit_status,
          packagekit_packages, packagekit_history, packagekit_install,
          packagekit_remove, packagekit_upgrade), answered over the system
          D-Bus ($DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket)
          with upstream's JSON; install, remove and upgrade refuse an empty
          list of names; without a bus the helpers answer {"error": ...}.
  time    the request's "timeout": past it the guest is stopped, retcode 5.

WHAT THE RUNTIME MAKES OF THE OUTPUT
  data always starts as {"changed": false}; then, by what the guest printed:
    a JSON object          its keys are merged in (it may set "changed")
    other JSON             {"data": <value>}
    text that is not JSON  {"data": "<the text, unchanged>"}
    nothing / whitespace   {"data": null}
  "__sysinspect-module-logs" holds the guest's api.log lines
  ("[DD/MM/YYYY HH:MM:SS] - LEVEL: [<id>] <msg>"), [] when there were none;
  they are also kept on a failed run. Guest standard error is copied to the
  runtime's standard error and reported as a warning in the response.

RETURN CODES
  0  the module ran ("Wasm runtime executed successfully"), or rt.list
  1  internal error of the runtime (the traceback is on its stderr)
  2  invalid request (not JSON, wrong types, bad rt.* value)
  3  the module folder cannot be listed ("Failed to get WASM modules: ...")
  4  set-up failed ("Failed to initialize Wasm runtime: ...") or
     'Module "<id>" was not found'
  5  'Failed to run module "<id>": ...': invalid module, link error, a trap,
     timeout, memory or output limit, or "module exited with status N"
  6  the guest's output cannot be used ("Failed to set response data: ...",
     e.g. standard output that is not UTF-8)

COMMAND LINE
  -m, --man             this manual
  -l, --list-modules    list the modules of the sharelib (-s) or --embedded
  -s, --sharelib PATH   sharelib root for -l, -i and run
                        (default /usr/share/sysinspect)
  --embedded            use the module library shipped with this runtime
  -i, --info MODULE     the module's documentation (it is called with the
                        option "man"), as readable text
  run MODULE ...        developer mode: build a request from flags, answer it
                        through the same code path, print the response
                        pretty-printed; exit status = retcode
  -V/--version, -h/--help

WRITING A MODULE
  new DIR --lang L      a module project in DIR (L: go, c, zig, rust; the
                        module id is DIR's name), with our SDK copied in
  build DIR             compile it into DIR/lib/runtime/wasm/<id>.wasm
                        (toolchains: pip install
                        'sysinspect-wasm-runtime[toolchains]'; Rust: rustc
                        with its wasm32-wasip1 or wasm32-wasi target)
  check MODULE          judge a module against this contract: one line a
                        check, exit status 1 when one fails (--json)
  sdk LANG --output DIR the guest SDK of one language, for other builds
  Publish: sysinspect module -A --path DIR/lib -l

DEPLOYMENT
  wasm-runtime bundle --output DIR writes, per target (linux-x86_64,
  linux-arm64, linux-arm, linux-riscv), DIR/<target>/wasm-runtime: a small
  static ELF launcher, with its DIR/<target>/wasm-runtime.spec, and DIR/lib,
  the library tree the launchers run (this runtime, pywasm, wasmtime where it
  has a native library). Register each launcher as runtime.wasm and publish
  the tree as a library; DIR/REGISTER.md has the exact commands. A minion
  needs Python 3.11 or newer and nothing else.

EXAMPLES
  echo '{"args": {"rt.mod": "hello"}}' | wasm-runtime
  echo '{"opts": ["rt.list"]}' | wasm-runtime
  echo '{"args": {"rt.mod": "hello", "rt.backend": "pywasm"}, "timeout": 5}' | wasm-runtime
  wasm-runtime run ./hello.wasm --arg key=VERSION --opt nohello
  wasm-runtime run osrelease-go --arg key=VERSION     (embedded library)
  wasm-runtime --embedded -l
"""


# -- the module-doc .spec ------------------------------------------------------------

SPEC_NAME = "runtime.wasm"
SPEC_AUTHOR = "sysinspect-wasm-runtime contributors"
SPEC_DESCRIPTION = ("Runs WebAssembly (WASI preview 1) modules as Sysinspect modules, on wasmtime (native code, "
                    "cached) or pywasm (pure Python): a Python drop-in for Sysinspect's Wasm runtime.")
_TYPES = {"rt.mod": "string", "rt.man": "bool", "rt.rootfs": "string", "write-dir": "string", "rt.backend": "string",
          "rt.memory-mb": "int", "rt.output-kb": "int", "rt.sandbox": "bool"}
"""The spec's ``type`` of each runtime argument (the manual says it in words)."""


def _section(title: str) -> list[tuple[str, str]]:
    """``(name, text)`` of every entry of the manual's section ``title``: a name at column 2, its text beside it
    and on the lines indented below it."""
    lines = MANUAL.split("\n")
    start = lines.index(title) + 1
    entries: list[tuple[str, list[str]]] = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break  # the next section
        name, _, text = line.strip().partition(" ")
        if line.startswith("  ") and not line.startswith("   ") and (name.startswith("rt.") or name == "write-dir") \
                and text.startswith(" "):
            entries.append((name, [text.strip()]))
        elif line.startswith(" " * 16) and entries:
            entries[-1][1].append(line.strip())
    return [(name, " ".join(text)) for name, text in entries]


def spec_document(version: str) -> dict[str, Any]:
    """The runtime's module documentation (Sysinspect's module-doc format), for the launcher's ``.spec`` sidecar."""
    arguments = [{"name": name, "type": _TYPES.get(name, "string"), "required": False, "description": text}
                 for name, text in _section("RUNTIME ARGUMENTS (\"args\")")]
    arguments.append({"name": "[ANY]", "type": "any", "required": False,
                      "description": "Every other argument is passed to the module, in the header on its stdin."})
    options = [{"name": name, "description": text} for name, text in _section("RUNTIME OPTIONS (\"opts\")")]
    return {
        "name": SPEC_NAME,
        "version": version,
        "author": SPEC_AUTHOR,
        "description": SPEC_DESCRIPTION,
        "options": options,
        "arguments": arguments,
        "examples": [
            {"description": "Run the module lib/runtime/wasm/osrelease-go.wasm of the sharelib, with an argument",
             "code": "osrelease:\n  module: wasm.osrelease-go\n  args:\n    key: PRETTY_NAME"},
            {"description": "A dotted id: runs lib/runtime/wasm/net.probe.wasm",
             "code": "probe:\n  module: wasm.net.probe"},
            {"description": "The older form (Sysinspect's tutorial): the dispatcher named, rt.mod given",
             "code": "osrelease:\n  module: runtime.wasm-runtime\n  args:\n    rt.mod: osrelease-go\n    key: VERSION"},
            {"description": "A sandboxed run on the pywasm backend",
             "code": "check:\n  module: wasm.headerinfo-c\n  opts: [rt.sandbox]\n  args:\n    rt.backend: pywasm"},
        ],
        "returns": {
            "retcode": 0,
            "message": "Wasm runtime executed successfully",
            "data": {"changed": False, "__sysinspect-module-logs": []},
        },
        "manpage": MANUAL,
    }


def to_yaml(value: object, indent: int = 0) -> str:
    """``value`` (dicts, lists, strings, numbers, booleans) as block YAML; every string double-quoted as JSON
    writes it, which YAML reads back as the same string."""
    import json
    import re

    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            name = key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key) else json.dumps(key)
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{name}:\n{to_yaml(item, indent + 2)}")
            else:
                out.append(f"{pad}{name}: {to_yaml(item).strip()}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            text = to_yaml(item, indent + 2)
            out.append(f"{pad}- {text[indent + 2:]}")
        return "".join(out)
    return pad + json.dumps(value, ensure_ascii=False) + "\n"
