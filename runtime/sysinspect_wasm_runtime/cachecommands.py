"""``wasm-runtime precompile`` and ``wasm-runtime cache list|prune|clear``, for both backends' files.

Each backend's command line lives with the backend:
``sysinspect_wasm_production.cachecli`` (the native cache; it needs
wasmtime, and its parser gives ``--help``) and
``sysinspect_wasm_reference.cachecli`` (the pywasm backend's decoded modules
and compiled interpreter). This module chooses which to run, and serves the
pywasm backend alone where wasmtime cannot be imported.

``precompile`` prepares the backend the runtime would choose (``auto``:
wasmtime where it can be imported, else pywasm); ``--backend`` names one.
``cache`` commands cover the files of both backends. With ``--json`` the
reference backend's folders are appended to the native command's document,
each marked ``"backend": "pywasm"``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Callable

from sysinspect_wasm.backends import AUTO, BACKEND_CHOICES, PYWASM, WASMTIME
from sysinspect_wasm.library import DEFAULT_SHARELIB
from sysinspect_wasm.usage import PROG


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, add_help=False)
    parser.add_argument("command", choices=("precompile", "cache"))
    parser.add_argument("action", nargs="?", choices=("list", "prune", "clear"))
    parser.add_argument("-s", "--sharelib", default=DEFAULT_SHARELIB)
    parser.add_argument("--cache-dir")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-n", "--dry-run", action="store_true")
    return parser


def split_backend(args: list[str]) -> tuple[list[str], str]:
    """``args`` without ``--backend NAME`` (or ``--backend=NAME``), and that name (``auto`` when absent)."""
    rest, chosen, skip = [], "auto", False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == "--backend" and index + 1 < len(args):
            chosen, skip = args[index + 1], True
        elif arg.startswith("--backend="):
            chosen = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest, chosen


def run(args: list[str]) -> int:
    """``precompile`` or ``cache ...`` for both backends' files (``args`` starts with the command); the exit status."""
    args, backend = split_backend(args)
    if backend not in BACKEND_CHOICES:
        sys.stderr.write(f"{PROG}: unknown backend {backend!r} for {args[0]}: choose one of {', '.join(BACKEND_CHOICES)}\n")
        return 2
    native: Callable[[list[str]], int] | None
    try:
        from sysinspect_wasm_production.cachecli import main as native
    except ImportError:
        native = None
    asks_help = "-h" in args or "--help" in args
    if native is not None and (asks_help or backend == WASMTIME or (args[0] == "precompile" and backend == AUTO)):
        return native(args)
    if native is None and backend == WASMTIME:
        sys.stderr.write(f"{PROG}: {args[0]} --backend wasmtime needs wasmtime, which cannot be imported here\n")
        return 1
    if asks_help or (len(args) < 2 and args[0] == "cache"):
        sys.stderr.write(f"{PROG}: wasmtime cannot be imported here: '{PROG} {args[0]}' manages the pywasm "
                         f"backend's cache only; usage: {PROG} precompile [-s SHARELIB] [--cache-dir DIR] | "
                         f"{PROG} cache list|prune|clear [-s SHARELIB] [--cache-dir DIR] [--json] [-n]\n")
        return 0 if asks_help else 2
    ns, unknown = _parser().parse_known_args(args)
    if unknown:
        sys.stderr.write(f"{PROG}: unrecognised arguments: {' '.join(unknown)}\n")
        return 2
    from sysinspect_wasm_reference import cachecli as reference

    if ns.command == "precompile":
        return reference.precompile(ns)
    action = {"list": reference.cache_list, "prune": reference.cache_prune, "clear": reference.cache_clear}[ns.action]
    if native is None or backend == PYWASM:
        return action(ns, [])
    if ns.json and ns.action == "list":
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            status = native(args)
        document = json.loads(captured.getvalue())
        return max(status, action(ns, document))
    status = native(args)
    print()
    return max(status, action(ns, []))
