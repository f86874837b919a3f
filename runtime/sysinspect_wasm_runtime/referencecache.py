"""The pywasm backend's part of ``wasm-runtime precompile`` and ``wasm-runtime cache list|prune|clear``.

The native cache's commands live in ``sysinspect_wasm_production.cachecli``
(they need wasmtime); this module adds the reference backend's files to the
same commands, and serves them alone where wasmtime cannot be imported:

- module artifacts ``<id>.<key>.pywasm.cwasm`` (see
  ``sysinspect_wasm_reference.cache``), beside the modules or in the cache
  folder, and
- the compiled interpreter ``pywasm-<version>.<key>.pywasm-engine.cwasm``, in
  the cache folder or the per-user one (``~/.cache/sysinspect-wasm``).

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
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sysinspect_wasm.backends import AUTO, BACKEND_CHOICES, PYWASM, WASMTIME
from sysinspect_wasm.library import DEFAULT_SHARELIB, module_dir, modules
from sysinspect_wasm.usage import PROG

LEFTOVER_SECONDS = 600
"""A temporary file of the reference caches older than this is left over from an interrupted write (a write
takes well under a second)."""


class Entry:
    """One cache file of the reference backend and its state (``current``, ``stale``, ``orphan``, ``damaged``,
    ``untrusted``), with why and its module."""

    def __init__(self, path: Path, size: int, key: str, state: str, reason: str, module: str | None) -> None:
        self.path = path
        self.size = size
        self.key = key
        self.state = state
        self.reason = reason
        self.module = module

    def as_dict(self) -> dict[str, Any]:
        return {"artifact": str(self.path), "size": self.size, "key": self.key, "state": self.state,
                "reason": self.reason, "module": self.module}


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
    if ns.command == "precompile":
        return precompile(ns)
    if native is None or backend == PYWASM:
        return {"list": cache_list, "prune": cache_prune, "clear": cache_clear}[ns.action](ns, [])
    if ns.json and ns.action == "list":
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            status = native(args)
        document = json.loads(captured.getvalue())
        return max(status, cache_list(ns, document))
    status = native(args)
    print()
    return max(status, {"list": cache_list, "prune": cache_prune, "clear": cache_clear}[ns.action](ns, []))


# -- where the files are ---------------------------------------------------------------


def _configured(ns: argparse.Namespace) -> Path | None:
    from sysinspect_wasm import store

    folder, warning = store.configured_dir(ns.cache_dir)
    if warning:
        sys.stderr.write(f"{PROG}: warning: {warning}\n")
    return folder


def _folders(ns: argparse.Namespace) -> list[Path]:
    """The module folder, the configured cache folder and the compiled interpreter's folder."""
    from sysinspect_wasm import store

    folders = [module_dir(ns.sharelib)]
    configured = _configured(ns)
    for folder in (configured, configured or store.user_dir()):
        if folder is not None and folder not in folders:
            folders.append(folder)
    return folders


def _entries(folder: Path) -> Iterator[Entry]:
    from sysinspect_wasm_reference import cache, loader

    from sysinspect_wasm import store

    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except FileNotFoundError:
        return
    for name in names:
        kind = cache.KIND if store.parse_name(name, cache.KIND) else (
            loader.ENGINE_KIND if store.parse_name(name, loader.ENGINE_KIND) else None)
        if kind is None:
            continue
        path = folder / name
        fmt = cache.FORMAT if kind == cache.KIND else loader.ENGINE_FORMAT
        try:
            data = store.read_trusted(None, path) or b""
            _, manifest, key = store.unpack(data, None, fmt)
        except PermissionError as exc:
            yield Entry(path, _size_of(path), "", "untrusted", str(exc), None)
            continue
        except (store.Damaged, OSError) as exc:
            yield Entry(path, _size_of(path), "", "damaged", str(exc), None)
            continue
        if not key.startswith(store.parse_name(name, kind)[1]):  # type: ignore[index]
            yield Entry(path, len(data), key, "damaged", "its name does not match its key", None)
        elif kind == loader.ENGINE_KIND:
            current = loader.ENGINE_CODE is not None and key == loader.ENGINE_CODE.key
            yield Entry(path, len(data), key, "current" if current else "stale",
                        "" if current else "another pywasm, rewriter or Python made it", "(the pywasm interpreter)")
        else:
            yield _module_entry(path, len(data), key, manifest, folder)


def _size_of(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _module_entry(path: Path, size: int, key: str, manifest: dict[str, Any], folder: Path) -> Entry:
    from sysinspect_wasm_reference import cache

    from sysinspect_wasm import store

    recorded = manifest.get("module")
    module = folder / Path(recorded).name if isinstance(recorded, str) else None
    if module is None or not module.is_file():  # the sharelib may have moved since: the recorded path is a fallback
        module = Path(recorded) if isinstance(recorded, str) else None
    if module is None or not module.is_file():
        return Entry(path, size, key, "orphan", "its module is gone", recorded if isinstance(recorded, str) else None)
    try:
        digest = store.sha256_hex(module.read_bytes())
    except OSError:
        return Entry(path, size, key, "orphan", "its module cannot be read", str(module))
    if digest != manifest.get("module_sha256"):
        return Entry(path, size, key, "stale", "the module changed since it was decoded", str(module))
    if key != cache.module_key(digest):
        return Entry(path, size, key, "stale", "another pywasm interpreter decoded it", str(module))
    return Entry(path, size, key, "current", "", str(module))


def _leftovers(folder: Path) -> list[Path]:
    from sysinspect_wasm_reference import cache, loader

    from sysinspect_wasm import store

    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            name = entry.name
            ours = f"{cache.KIND}." in name or f"{loader.ENGINE_KIND}." in name
            if name.startswith(".") and name.endswith(store.TEMP_SUFFIX) and ours \
                    and entry.stat(follow_symlinks=False).st_mtime < time.time() - LEFTOVER_SECONDS:
                found.append(Path(entry.path))
    return sorted(found)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MiB"


# -- the commands ------------------------------------------------------------------------


def precompile(ns: argparse.Namespace) -> int:
    """Decode every module of the sharelib for the pywasm backend, storing what has no current artifact."""
    from sysinspect_wasm_reference import cache, loader
    from sysinspect_wasm_reference.backend import PywasmBackend

    from sysinspect_wasm.errors import ModuleLoadError

    folder = module_dir(ns.sharelib)
    try:
        found = modules(folder)
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot list the module folder {folder} ({exc.strerror or exc}); "
                         "give the sharelib root with --sharelib\n")
        return 2
    configured = _configured(ns)
    engine = loader.ENGINE_CODE
    where = f"artifacts in {configured}" if configured is not None else "artifacts beside the modules"
    print(f"decoding {len(found)} module{'s' if len(found) != 1 else ''} of {folder} for the pywasm backend ({where})")
    if engine is not None:
        print(f"the pywasm interpreter: {engine.status}" + (f" ({engine.path})" if engine.path else "")
              + (f"; {engine.problem}" if engine.problem else ""))
    backend = PywasmBackend(cache_dir=configured)
    counts = {"decoded": 0, "up to date": 0, "failed": 0, "not cached": 0}
    width = max((len(module_id) for module_id in found), default=0)
    for module_id in sorted(found):
        started = time.monotonic()
        try:
            module = backend.load(Path(found[module_id]), name=module_id)
        except ModuleLoadError as exc:
            counts["failed"] += 1
            print(f"  {module_id:<{width}}  FAILED: {exc}")
            continue
        if module.cache_status == cache.STORED:
            counts["decoded"] += 1
            text = f"decoded in {time.monotonic() - started:.2f} s -> {module.artifact.name if module.artifact else '?'}"
        elif module.cache_status == cache.LOADED:
            counts["up to date"] += 1
            text = "up to date"
        else:
            counts["not cached"] += 1
            text = "NOT CACHED (see the warning)"
        if not ns.quiet or module.warnings or module.cache_status not in (cache.STORED, cache.LOADED):
            print(f"  {module_id:<{width}}  {text}")
        for warning in module.warnings:
            print(f"  {' ' * width}  warning: {warning}")
    print("done: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 1 if counts["failed"] or counts["not cached"] else 0


def cache_list(ns: argparse.Namespace, document: list[Any]) -> int:
    """``cache list``: the reference backend's files, appended to the native command's JSON ``document`` if any."""
    folders = _folders(ns)
    if ns.json:
        document += [{"folder": str(folder), "backend": PYWASM, "artifacts": [e.as_dict() for e in _entries(folder)]}
                     for folder in folders]
        print(json.dumps(document, indent=2))
        return 0
    print("pywasm backend (decoded modules, .pywasm.cwasm; the compiled interpreter, .pywasm-engine.cwasm):")
    for folder in folders:
        entries = list(_entries(folder))
        print(f"{folder}:")
        if not entries:
            print("  no artifacts" if folder.is_dir() else "  no such folder")
            continue
        rows = [(e.path.name, _size(e.size), e.key[:16] or "-", e.state + (f": {e.reason}" if e.reason else ""),
                 e.module or "-") for e in entries]
        header = ("ARTIFACT", "SIZE", "KEY", "STATE", "MODULE")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        print(f"  {len(entries)} artifact{'s' if len(entries) != 1 else ''}, {_size(sum(e.size for e in entries))}")
    return 0


def _remove(ns: argparse.Namespace, choose: Callable[[Entry], bool]) -> int:
    verb = "would remove" if ns.dry_run else "removed"
    removed = failures = freed = 0
    for folder in _folders(ns):
        chosen = [(e.path, e.size, f"{e.state}: {e.reason}" if e.reason else e.state) for e in _entries(folder)
                  if choose(e)]
        chosen += [(path, _size_of(path), "left over from an interrupted write") for path in _leftovers(folder)]
        for path, size, reason in chosen:
            if not ns.dry_run:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    failures += 1
                    print(f"cannot remove {path}: {exc.strerror or exc}", file=sys.stderr)
                    continue
            removed += 1
            freed += size
            print(f"{verb} {path} ({_size(size)}, {reason})")
    print(f"pywasm backend: {verb} {removed} artifact{'s' if removed != 1 else ''}, {_size(freed)}")
    return 1 if failures else 0


def cache_prune(ns: argparse.Namespace, _document: list[Any]) -> int:
    """``cache prune``: remove every reference-backend file that is not current, and leftovers of interrupted writes."""
    return _remove(ns, lambda entry: entry.state != "current")


def cache_clear(ns: argparse.Namespace, _document: list[Any]) -> int:
    """``cache clear``: remove every reference-backend file."""
    return _remove(ns, lambda entry: True)
