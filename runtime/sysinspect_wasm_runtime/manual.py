"""The runtime's own manual, printed by ``wasm-runtime --man``."""

from __future__ import annotations

MANUAL = """\
WASM-RUNTIME(1)                    Sysinspect                    WASM-RUNTIME(1)

NAME
  runtime.wasm-runtime - run WebAssembly (WASI) modules as Sysinspect modules

SYNOPSIS
  wasm-runtime < request.json           protocol mode, as a minion calls it
  wasm-runtime -m | -l [-s PATH] | -i MODULE [-s PATH]
  wasm-runtime run MODULE [--arg KEY=VALUE ...] [--opt NAME ...] ...

DESCRIPTION
  A drop-in for Sysinspect's Rust runtime module of the same name. A minion
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

EXAMPLES
  echo '{"args": {"rt.mod": "hello"}}' | wasm-runtime
  echo '{"opts": ["rt.list"]}' | wasm-runtime
  echo '{"args": {"rt.mod": "hello", "rt.backend": "pywasm"}, "timeout": 5}' | wasm-runtime
  wasm-runtime run ./hello.wasm --arg key=VERSION --opt nohello
  wasm-runtime run osrelease-go --arg key=VERSION     (embedded library)
  wasm-runtime --embedded -l
"""
