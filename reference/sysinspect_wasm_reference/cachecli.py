"""The pywasm backend's part of ``wasm-runtime precompile`` and ``wasm-runtime cache list|prune|clear``.

Its files are

- module artifacts ``<id>.<key>.pywasm.cwasm`` (see :mod:`.cache`), beside
  the modules, in the configured cache folder, or in an unprivileged user's
  private folder, and
- the compiled interpreter ``pywasm-<version>.<key>.pywasm-engine.cwasm``
  (see :mod:`.loader`), in the configured folder, root's
  ``~/.cache/sysinspect-wasm`` or another user's private folder.

Their states are :class:`sysinspect_wasm.store.maintenance.State`, told by
the same rules as the native cache's. The runtime's command line
(``sysinspect_wasm_runtime.cachecommands``) runs these functions after the
native cache's, or alone where wasmtime cannot be imported. Each takes the
parsed command line (``sharelib``, ``cache_dir``, ``quiet``, ``json``,
``dry_run``) and returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sysinspect_wasm.backends import PYWASM
from sysinspect_wasm.library import module_dir, modules
from sysinspect_wasm.store import COMPILED, LOADED, Damaged, maintenance
from sysinspect_wasm.store.fileformat import Formats
from sysinspect_wasm.store.layout import engine_folder
from sysinspect_wasm.store.maintenance import Digests, Entry, Kind, State
from sysinspect_wasm.usage import PROG

from . import cache, loader

LEFTOVER_SECONDS = 600
"""A temporary file of these caches older than this is left over from an interrupted write (a write takes well
under a second, and these writers hold no lock that would tell)."""


def _module_manifest(manifest: dict[str, Any]) -> None:
    if not isinstance(manifest.get("module_sha256"), str):
        raise Damaged("garbled (manifest without the module's digest)")


def _engine_key() -> str:
    return loader.ENGINE_CODE.key if loader.ENGINE_CODE is not None else ""


KINDS = [
    Kind(cache.KIND, Formats(cache.FORMAT), _module_manifest, cache.module_key,
         changed="the module changed since it was decoded", other_engine="another pywasm interpreter decoded it"),
    Kind(loader.ENGINE_KIND, Formats(loader.ENGINE_FORMAT), current_key=_engine_key,
         other_engine="another pywasm, rewriter or Python made it", what="(the pywasm interpreter)"),
]
"""The reference backend's files: decoded modules, and the compiled interpreter."""


def folders(ns: argparse.Namespace) -> list[Path]:
    """The module folder, the configured cache folder (else a user's private one) and the interpreter's."""
    found = maintenance.module_folders(module_dir(ns.sharelib), ns.cache_dir)
    engine, _ = engine_folder(ns.cache_dir)
    return found if engine is None or engine in found else [*found, engine]


def _entries(folder: Path, digest: Digests) -> list[Entry]:
    try:
        return list(maintenance.entries(folder, KINDS, digest))
    except OSError:
        return []


def precompile(ns: argparse.Namespace) -> int:
    """Decode every module of the sharelib for the pywasm backend, storing what has no current artifact."""
    from sysinspect_wasm.errors import ModuleLoadError

    from .backend import PywasmBackend

    folder = module_dir(ns.sharelib)
    try:
        found = modules(folder)
    except OSError as exc:
        sys.stderr.write(f"{PROG}: cannot list the module folder {folder} ({exc.strerror or exc}); "
                         "give the sharelib root with --sharelib\n")
        return 2
    configured = maintenance.configured_folder(ns.cache_dir)
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
        if module.cache_status == COMPILED:
            counts["decoded"] += 1
            text = f"decoded in {time.monotonic() - started:.2f} s -> {module.artifact.name if module.artifact else '?'}"
        elif module.cache_status == LOADED:
            counts["up to date"] += 1
            text = "up to date"
        else:
            counts["not cached"] += 1
            text = "NOT CACHED (see the warning)"
        if not ns.quiet or module.warnings or module.cache_status not in (COMPILED, LOADED):
            print(f"  {module_id:<{width}}  {text}")
        for warning in module.warnings:
            print(f"  {' ' * width}  warning: {warning}")
    print("done: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 1 if counts["failed"] or counts["not cached"] else 0


def cache_list(ns: argparse.Namespace, document: list[Any]) -> int:
    """``cache list``: the reference backend's files, appended to the native command's JSON ``document`` if any."""
    digest = Digests()
    if ns.json:
        document += [{"folder": str(folder), "backend": PYWASM,
                      "artifacts": [e.as_dict() for e in _entries(folder, digest)]} for folder in folders(ns)]
        print(json.dumps(document, indent=2))
        return 0
    print("pywasm backend (decoded modules, .pywasm.cwasm; the compiled interpreter, .pywasm-engine.cwasm):")
    for folder in folders(ns):
        entries = _entries(folder, digest)
        print(f"{folder}:")
        if not entries:
            print("  no artifacts" if folder.is_dir() else "  no such folder")
            continue
        maintenance.print_table([(e.info.path.name, maintenance.human_size(e.info.size), e.info.key[:16] or "-",
                                  e.state + (f": {e.reason}" if e.reason else ""), e.module or "-") for e in entries])
        print(f"  {maintenance.plural(len(entries), 'artifact')}, "
              f"{maintenance.human_size(sum(e.info.size for e in entries))}")
    return 0


def _remove(ns: argparse.Namespace, everything: bool) -> int:
    remover = maintenance.Remover(ns.dry_run)
    digest = Digests()
    for folder in folders(ns):
        for entry in _entries(folder, digest):
            if everything or entry.state != State.CURRENT:
                remover.artifact(entry.info.path, entry.info.size,
                                 f"{entry.state}: {entry.reason}" if entry.reason else str(entry.state))
        for path in maintenance.old_temporaries(folder, (cache.KIND + ".", loader.ENGINE_KIND + "."), LEFTOVER_SECONDS):
            remover.other(path, "left over from an interrupted write")
    return remover.summary("pywasm backend: ")


def cache_prune(ns: argparse.Namespace, _document: list[Any]) -> int:
    """``cache prune``: remove every reference-backend file that is not current, and leftovers of interrupted writes."""
    return _remove(ns, everything=False)


def cache_clear(ns: argparse.Namespace, _document: list[Any]) -> int:
    """``cache clear``: remove every reference-backend file."""
    return _remove(ns, everything=True)
