"""``wasm-runtime precompile`` and ``wasm-runtime cache list|prune|clear``: the compiled-artifact cache by hand.

:func:`main` takes the command line from the command name on
(``["precompile", "--sharelib", "/srv/x"]``) and returns the exit status:
0 when everything asked for was done, 1 when some of it could not be
(a module that does not compile, an artifact that could not be stored or
removed), 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sysinspect_wasm.store import COMPILED, LOADED, maintenance
from sysinspect_wasm.store.key import cache_key
from sysinspect_wasm.store.layout import (
    CACHE_DIR_ENV,
    KEY_CHARS,
    LOCK_SUFFIX,
    SUFFIX,
    TEMP_SUFFIX,
    parse_memo_name,
    parse_name,
    parse_part_name,
)
from sysinspect_wasm.store.maintenance import Digests, Entry, Kind, State
from sysinspect_wasm.usage import PROG, UsageError

from . import cache

WHERE = f"""\
where artifacts live:
  Beside the modules, <sharelib>/lib/runtime/wasm/<id>.<key>.cwasm, unless
  --cache-dir or the environment variable {CACHE_DIR_ENV} (an absolute
  path; created with mode 0700 if missing) names a folder of their own: use one
  when the sharelib is read-only for the runtime's user. The runtime reads the
  same variable, so set it for the minion too. <key> starts the SHA-256 of the
  module's content and of the engine (wasmtime version, settings, target);
  a module that changes, or a new wasmtime, gets a new artifact.
  An artifact is only loaded from a file owned by the runtime's user or root
  that no one else can write, in a folder no one else can write either."""

PRECOMPILE_DESCRIPTION = f"""\
Compile every module of a sharelib to native code now, so that the first call
of each module on this node is as fast as the next ones: what a node does after
'sysinspect --sync'. Modules that already have a current artifact are only
checked; a module that does not compile is reported and the others go on.

{WHERE}"""

PRECOMPILE_EPILOG = f"""\
examples:
  {PROG} precompile                                 the default sharelib
  {PROG} precompile --sharelib /srv/sysinspect
  {PROG} precompile --cache-dir /var/cache/sysinspect-wasm   (read-only sharelib)

exit status: 0 every module has a current artifact; 1 a module failed to
compile or its artifact could not be stored (see its line); 2 usage error."""

CACHE_DESCRIPTION = f"""\
Inspect or clean the compiled artifacts (.cwasm) of a sharelib's modules.
Artifacts are a cache: removing any of them at any time is safe, the next call
compiles the module again.

  list    every artifact with its module, size, key and state:
            current   the artifact the runtime loads for the module as it is now
            stale     the module changed, or another engine or engine
                      configuration built it: it will never be loaded again
            orphan    its module is gone
            damaged   truncated, garbled or unreadable: the runtime would
                      remove and rebuild it
            untrusted others could have written it: the runtime refuses it
          then how many module digests are remembered (memos,
          .<id>.<8 hex>.memo.cwasm: a warm call whose module file is unchanged
          since, by inode, size, mtime and ctime, does not read and hash it)
  prune   remove everything but the current artifacts, memos of modules that
          changed or are gone, and leftovers of interrupted compilations
  clear   remove every artifact and memo

{WHERE}"""

CACHE_EPILOG = f"""\
examples:
  {PROG} cache list
  {PROG} cache list --sharelib /srv/sysinspect --json
  {PROG} cache prune --dry-run
  {PROG} cache clear && {PROG} precompile           rebuild everything

Only files named like artifacts or memos of this cache are touched; other
.cwasm files (e.g. upstream's <id>.cwasm) are listed as not managed and left
alone."""


def _parser() -> argparse.ArgumentParser:
    from sysinspect_wasm.library import DEFAULT_SHARELIB

    parser = argparse.ArgumentParser(prog=PROG, add_help=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-s", "--sharelib", metavar="PATH", default=DEFAULT_SHARELIB,
                         help=f"sharelib root holding lib/runtime/wasm/ (default {DEFAULT_SHARELIB})")
        sub.add_argument("--cache-dir", metavar="DIR",
                         help=f"folder of the artifacts (default: ${CACHE_DIR_ENV} if set, else beside the modules)")

    precompile = commands.add_parser("precompile", help="compile every module of a sharelib ahead of time",
                                     description=PRECOMPILE_DESCRIPTION, epilog=PRECOMPILE_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common(precompile)
    precompile.add_argument("-q", "--quiet", action="store_true", help="print only problems and the summary")

    cache_parser = commands.add_parser("cache", help="list, prune or clear compiled artifacts",
                                       description=CACHE_DESCRIPTION, epilog=CACHE_EPILOG,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = cache_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("list", "show every artifact with its module, size, key and state"),
                       ("prune", "remove stale, orphaned, damaged and untrusted artifacts, and stale memos"),
                       ("clear", "remove every artifact and remembered module digest")):
        action = actions.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}.\n\n{WHERE}",
                                    epilog=CACHE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        common(action)
        if name == "list":
            action.add_argument("--json", action="store_true", help="one JSON document with every detail (full keys)")
        else:
            action.add_argument("-n", "--dry-run", action="store_true", help="say what would be removed, remove nothing")
    return parser


def main(argv: list[str]) -> int:
    """Run ``precompile`` or ``cache list|prune|clear`` (``argv`` starts with the command); the exit status."""
    ns = _parser().parse_args(argv)
    try:
        if ns.command == "precompile":
            return precompile(ns)
        return {"list": cache_list, "prune": cache_prune, "clear": cache_clear}[ns.action](ns)
    except UsageError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return 2


# -- where things are ------------------------------------------------------------


def _module_folder(ns: argparse.Namespace) -> Path:
    from sysinspect_wasm.library import module_dir

    return module_dir(ns.sharelib)


def _modules(folder: Path) -> dict[str, str]:
    from sysinspect_wasm.library import modules

    try:
        return modules(folder)
    except OSError as exc:
        raise UsageError(f"cannot list the module folder {folder} ({exc.strerror or exc}); "
                         "give the sharelib root with --sharelib") from None


def _folders(ns: argparse.Namespace) -> list[Path]:
    """The module folder, the configured cache folder or, for a user other than root, its private folder when it
    has one (the runtime keeps artifacts there when it cannot write the module folder)."""
    return maintenance.module_folders(_module_folder(ns), ns.cache_dir)


# -- precompile ------------------------------------------------------------------


def precompile(ns: argparse.Namespace) -> int:
    """``precompile``: load every module of the sharelib through the cache, compiling what has no artifact."""
    from sysinspect_wasm.errors import ModuleLoadError

    from .backend import WasmtimeBackend

    folder = _module_folder(ns)
    found = _modules(folder)
    configured = maintenance.configured_folder(ns.cache_dir)
    backend = WasmtimeBackend(cache_dir=configured)
    where = f"artifacts in {configured}" if configured is not None else "artifacts beside the modules"
    print(f"precompiling {len(found)} module{'s' if len(found) != 1 else ''} of {folder} ({where})", flush=True)
    width = max((len(module_id) for module_id in found), default=0)
    counts = {"compiled": 0, "up to date": 0, "failed": 0, "not cached": 0}
    for number, module_id in enumerate(sorted(found), 1):
        prefix = f"[{number:>{len(str(len(found)))}}/{len(found)}] {module_id:<{width}}  "
        if not ns.quiet:
            print(prefix, end="", flush=True)
        started = time.monotonic()
        try:
            module = backend.load(Path(found[module_id]), name=module_id)
        except ModuleLoadError as exc:
            counts["failed"] += 1
            _line(ns, prefix, f"FAILED: {exc}", force=True)
            continue
        took = time.monotonic() - started
        status = module.cache_status
        if status == COMPILED:
            counts["compiled"] += 1
            text = f"compiled in {_seconds(took)} -> {module.artifact.name if module.artifact else '?'}"
        elif status == LOADED:
            counts["up to date"] += 1
            text = "up to date"
        else:
            counts["not cached"] += 1
            text = "NOT CACHED (see the warning)"
        problem = status not in (COMPILED, LOADED) or module.warnings
        _line(ns, prefix, text, force=bool(problem))
        for warning in module.warnings:
            _line(ns, " " * len(prefix), f"warning: {warning}", force=True)
    print("done: " + ", ".join(f"{n} {what}" for what, n in counts.items()), flush=True)
    return 1 if counts["failed"] or counts["not cached"] else 0


def _seconds(took: float) -> str:
    return f"{took:.1f} s" if took >= 1 else f"{took * 1000:.0f} ms"


def _line(ns: argparse.Namespace, prefix: str, text: str, *, force: bool = False) -> None:
    if not ns.quiet:
        print(text, flush=True)
    elif force:
        print(prefix + text, flush=True)


# -- cache list, prune, clear ------------------------------------------------------


def kind() -> Kind:
    """This cache's files, for :mod:`sysinspect_wasm.store.maintenance`: ``<id>.<key>.cwasm``, in the native
    formats, current under the default engine settings."""
    from .engine import DEFAULT_SETTINGS

    fingerprint = DEFAULT_SETTINGS.fingerprint()
    return Kind("", cache.FORMATS, cache.check_manifest, lambda digest: cache_key(digest, fingerprint),
                changed="the module changed since it was compiled",
                other_engine="another engine or engine configuration built it")


def _entries(folder: Path, digest: Callable[[Path], str | None]) -> Iterator[Entry]:
    """Every file named like an artifact in ``folder``, with its state."""
    try:
        yield from maintenance.entries(folder, [kind()], digest)
    except OSError as exc:
        raise UsageError(f"cannot list {folder} ({exc.strerror or exc})") from None


def _others(folder: Path) -> list[str]:
    """``.cwasm`` files in ``folder`` that this cache does not manage (and are not its lock or temporary files)."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    return [name for name in names if name.endswith(SUFFIX) and parse_name(name) is None
            and parse_memo_name(name) is None and parse_part_name(name) is None
            and not name.endswith((LOCK_SUFFIX, TEMP_SUFFIX))]


def cache_list(ns: argparse.Namespace) -> int:
    """``cache list``: every artifact with its module, size, key and state."""
    digest = Digests()
    folders = _folders(ns)
    if ns.json:
        document = [{"folder": str(folder), "artifacts": [entry.as_dict() for entry in _entries(folder, digest)],
                     "memos": [{"memo": str(path), "current": holds} for path, holds in maintenance.memos(folder)],
                     "not_managed": _others(folder)} for folder in folders]
        print(json.dumps(document, indent=2))
        return 0
    for index, folder in enumerate(folders):
        if index:
            print()
        entries = list(_entries(folder, digest))
        others = _others(folder)
        print(f"{folder}:")
        if not folder.is_dir():
            print("  no such folder")
            continue
        if not entries and not others:
            print("  no artifacts")
            continue
        rows = [(e.info.path.name, maintenance.human_size(e.info.size), e.info.key[:KEY_CHARS] or "-",
                 e.state + (f": {e.reason}" if e.reason else ""), _shown(e.module, folder)) for e in entries]
        rows += [(name, "", "-", "not managed by this cache", "-") for name in others]
        maintenance.print_table(rows)
        total = sum(e.info.size for e in entries)
        print(f"  {maintenance.plural(len(entries), 'artifact')}, {maintenance.human_size(total)}")
        memos = maintenance.memos(folder)
        if memos:
            stale = sum(1 for _, holds in memos if not holds)
            print(f"  {maintenance.plural(len(memos), 'remembered module digest')} (.memo.cwasm)"
                  + (f", {stale} of {'them' if len(memos) != 1 else 'it'} stale" if stale else ""))
    return 0


def _shown(module: str | None, folder: Path) -> str:
    """A module path as ``list`` shows it: its name when it lies in ``folder``."""
    if module is None:
        return "-"
    path = Path(module)
    return path.name if path.parent == folder else module


def cache_prune(ns: argparse.Namespace) -> int:
    """``cache prune``: remove every artifact that is not current, stale memos, and leftovers of interrupted compilations."""
    digest = Digests()
    return _remove(ns, lambda folder: [(e.info.path, e.info.size, f"{e.state}: {e.reason}")
                                       for e in _entries(folder, digest) if e.state != State.CURRENT],
                   lambda folder: [path for path, holds in maintenance.memos(folder) if not holds])


def cache_clear(ns: argparse.Namespace) -> int:
    """``cache clear``: remove every artifact and memo."""
    def everything(folder: Path) -> list[tuple[Path, int, str]]:
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(folder):
                if parse_name(entry.name) is not None:
                    with contextlib.suppress(OSError):
                        found.append((Path(entry.path), entry.stat(follow_symlinks=False).st_size, ""))
        return sorted(found)

    return _remove(ns, everything, lambda folder: [path for path, _ in maintenance.memos(folder)])


def _remove(ns: argparse.Namespace, choose: Callable[[Path], list[tuple[Path, int, str]]],
            memos: Callable[[Path], list[Path]]) -> int:
    remover = maintenance.Remover(ns.dry_run)
    for folder in _folders(ns):
        for path, size, reason in choose(folder):
            remover.artifact(path, size, reason)
        for path in maintenance.orphan_parts(folder):
            remover.other(path, "a part of an artifact that is gone")
        for path in memos(folder):
            remover.other(path, "a remembered module digest")
        for path in maintenance.locked_leftovers(folder, dry_run=ns.dry_run):
            print(f"{remover.verb} {path} (left over from an interrupted compilation)")
    return remover.summary()
