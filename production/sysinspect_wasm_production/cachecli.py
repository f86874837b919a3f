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
from typing import Any

from sysinspect_wasm.records import FrozenRecord
from sysinspect_wasm.usage import PROG, UsageError

from . import cache

WHERE = f"""\
where artifacts live:
  Beside the modules, <sharelib>/lib/runtime/wasm/<id>.<key>.cwasm, unless
  --cache-dir or the environment variable {cache.CACHE_DIR_ENV} (an absolute
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
                         help=f"folder of the artifacts (default: ${cache.CACHE_DIR_ENV} if set, else beside the modules)")

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


def _cache_folder(ns: argparse.Namespace) -> Path | None:
    folder, warning = cache.configured_dir(ns.cache_dir)
    if warning:
        sys.stderr.write(f"{PROG}: warning: {warning}\n")
    return folder


def _folders(ns: argparse.Namespace) -> list[Path]:
    """The module folder and, when one is configured, the cache folder; for a user other than root, its private
    folder too, when it has one (the runtime keeps artifacts there when it cannot write the module folder)."""
    folders = [_module_folder(ns)]
    configured = _cache_folder(ns)
    if configured is not None and configured not in folders:
        folders.append(configured)
    private = cache.private_dir()
    if configured is None and os.geteuid() != 0 and private.is_dir():
        folders.append(private)
    return folders


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover - unreachable


# -- precompile ------------------------------------------------------------------


def precompile(ns: argparse.Namespace) -> int:
    """``precompile``: load every module of the sharelib through the cache, compiling what has no artifact."""
    from sysinspect_wasm.errors import ModuleLoadError

    from .backend import WasmtimeBackend

    folder = _module_folder(ns)
    found = _modules(folder)
    configured = _cache_folder(ns)
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
        if status == cache.COMPILED:
            counts["compiled"] += 1
            text = f"compiled in {_seconds(took)} -> {module.artifact.name if module.artifact else '?'}"
        elif status == cache.LOADED:
            counts["up to date"] += 1
            text = "up to date"
        else:
            counts["not cached"] += 1
            text = "NOT CACHED (see the warning)"
        problem = status not in (cache.COMPILED, cache.LOADED) or module.warnings
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


class Entry(FrozenRecord):
    """One artifact file and its state (see :data:`CACHE_DESCRIPTION`)."""

    __match_args__ = ("info", "state", "reason", "module")
    info: cache.ArtifactInfo
    state: str
    reason: str
    module: str | None

    def __init__(self, info: cache.ArtifactInfo, state: str, reason: str, module: str | None) -> None:
        self.__dict__.update(info=info, state=state, reason=reason, module=module)

    def as_dict(self) -> dict[str, Any]:
        """Everything known about the artifact, for ``--json``."""
        manifest = self.info.manifest
        return {
            "artifact": str(self.info.path),
            "size": self.info.size,
            "state": self.state,
            "reason": self.reason,
            "module": self.module,
            "module_id": manifest.get("module_id"),
            "key": self.info.key or None,
            "module_sha256": manifest.get("module_sha256"),
            "engine": manifest.get("engine"),
            "created": manifest.get("created"),
        }


def _digests() -> Callable[[Path], str | None]:
    """A function giving the content digest of a module file (each file read once), ``None`` when unreadable."""
    known: dict[Path, str | None] = {}

    def digest(path: Path) -> str | None:
        if path not in known:
            try:
                known[path] = cache.content_digest(path.read_bytes())
            except OSError:
                known[path] = None
        return known[path]

    return digest


def _entries(folder: Path, digest: Callable[[Path], str | None]) -> Iterator[Entry]:
    """Every file named like an artifact in ``folder``, with its state."""
    from .engine import DEFAULT_SETTINGS

    fingerprint = DEFAULT_SETTINGS.fingerprint()
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot list {folder} ({exc.strerror or exc})") from None
    for name in names:
        parsed = cache.parse_artifact_name(name)
        if parsed is None:
            continue
        info = cache.inspect(folder / name)
        yield _classify(info, parsed, folder, fingerprint, digest)


def _classify(info: cache.ArtifactInfo, parsed: tuple[str, str], folder: Path, fingerprint: str,
              digest: Callable[[Path], str | None]) -> Entry:
    manifest = info.manifest
    if not manifest:
        return Entry(info, "damaged", info.problem, None)
    recorded = manifest.get("module")
    module = folder / Path(recorded).name if isinstance(recorded, str) else None
    if module is None or not module.is_file():  # the sharelib may have moved since: the recorded path is a fallback
        module = Path(recorded) if isinstance(recorded, str) else None
    if info.problem:
        return Entry(info, "untrusted", info.problem, str(module) if module else None)
    if not info.key.startswith(parsed[1]):
        return Entry(info, "damaged", "its name does not match its key", str(module) if module else None)
    if module is None or not module.is_file():
        return Entry(info, "orphan", "its module is gone", str(recorded) if recorded else None)
    current = digest(module)
    if current is None:
        return Entry(info, "orphan", "its module cannot be read", str(module))
    if current != manifest.get("module_sha256"):
        return Entry(info, "stale", "the module changed since it was compiled", str(module))
    if info.key != cache.cache_key(current, fingerprint):
        return Entry(info, "stale", "another engine or engine configuration built it", str(module))
    return Entry(info, "current", "", str(module))


def _others(folder: Path) -> list[str]:
    """``.cwasm`` files in ``folder`` that this cache does not manage (and are not its lock or temporary files)."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    return [name for name in names if name.endswith(cache.SUFFIX) and cache.parse_artifact_name(name) is None
            and cache.parse_memo_name(name) is None and cache.parse_part_name(name) is None
            and not name.endswith((cache.LOCK_SUFFIX, cache.TEMP_SUFFIX))]


def _memos(folder: Path) -> list[tuple[Path, bool]]:
    """The memo files in ``folder`` (remembered module digests), each with whether it still describes its module."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    return [(folder / name, cache.memo_holds(folder / name)) for name in names
            if cache.parse_memo_name(name) is not None]


def cache_list(ns: argparse.Namespace) -> int:
    """``cache list``: every artifact with its module, size, key and state."""
    digest = _digests()
    folders = _folders(ns)
    if ns.json:
        document = [{"folder": str(folder), "artifacts": [entry.as_dict() for entry in _entries(folder, digest)],
                     "memos": [{"memo": str(path), "current": holds} for path, holds in _memos(folder)],
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
        rows = [(e.info.path.name, _size(e.info.size), e.info.key[: cache.KEY_CHARS] or "-",
                 e.state + (f": {e.reason}" if e.reason else ""), _shown(e.module, folder)) for e in entries]
        rows += [(name, "", "-", "not managed by this cache", "-") for name in others]
        header = ("ARTIFACT", "SIZE", "KEY", "STATE", "MODULE")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        for row in [header, *rows]:
            print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        total = sum(e.info.size for e in entries)
        print(f"  {len(entries)} artifact{'s' if len(entries) != 1 else ''}, {_size(total)}")
        memos = _memos(folder)
        if memos:
            stale = sum(1 for _, holds in memos if not holds)
            print(f"  {len(memos)} remembered module digest{'s' if len(memos) != 1 else ''} (.memo.cwasm)"
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
    digest = _digests()
    return _remove(ns, lambda folder: [(e.info.path, e.info.size, f"{e.state}: {e.reason}")
                                       for e in _entries(folder, digest) if e.state != "current"],
                   lambda folder: [path for path, holds in _memos(folder) if not holds])


def cache_clear(ns: argparse.Namespace) -> int:
    """``cache clear``: remove every artifact and memo."""
    def everything(folder: Path) -> list[tuple[Path, int, str]]:
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(folder):
                if cache.parse_artifact_name(entry.name) is not None:
                    with contextlib.suppress(OSError):
                        found.append((Path(entry.path), entry.stat(follow_symlinks=False).st_size, ""))
        return sorted(found)

    return _remove(ns, everything, lambda folder: [path for path, _ in _memos(folder)])


def _remove(ns: argparse.Namespace, choose: Callable[[Path], list[tuple[Path, int, str]]],
            memos: Callable[[Path], list[Path]]) -> int:
    verb = "would remove" if ns.dry_run else "removed"
    failures = 0
    removed = 0
    freed = 0

    def unlink(path: Path) -> bool:
        """Remove ``path`` (unless a dry run): False when it was not there or could not be removed."""
        nonlocal failures
        if ns.dry_run:
            return True
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            failures += 1
            print(f"cannot remove {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
        return True

    for folder in _folders(ns):
        for path, size, reason in choose(folder):
            if unlink(path):
                removed += 1
                freed += size
                print(f"{verb} {path} ({_size(size)}{', ' + reason if reason else ''})")
                if not ns.dry_run:
                    cache.remove_parts(path)
        for path in _orphan_parts(folder):
            if unlink(path):
                print(f"{verb} {path} (a part of an artifact that is gone)")
        for path in memos(folder):
            if unlink(path):
                print(f"{verb} {path} (a remembered module digest)")
        for path in _leftovers(folder, dry_run=ns.dry_run):
            print(f"{verb} {path} (left over from an interrupted compilation)")
    print(f"{verb} {removed} artifact{'s' if removed != 1 else ''}, {_size(freed)}")
    return 1 if failures else 0


def _orphan_parts(folder: Path) -> list[Path]:
    """Part files in ``folder`` whose artifact file is gone and that no compilation is writing (parts are written
    before their artifact file, under the artifact's lock file, which exists only while a compilation runs)."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in sorted(names):
        artifact = cache.parse_part_name(name)
        if artifact is not None and artifact not in names and f".{artifact[: -len(cache.SUFFIX)]}{cache.LOCK_SUFFIX}" not in names:
            found.append(folder / name)
    return found


def _leftovers(folder: Path, *, dry_run: bool) -> list[Path]:
    """Lock and temporary files in ``folder`` that no compilation holds (removed unless ``dry_run``).

    A compilation holds its lock file for as long as its temporary file
    exists, so both are left over exactly when that lock can be taken.
    """
    try:
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        with os.scandir(dfd) as listing:
            names = sorted(entry.name for entry in listing)
        stems: dict[str, list[str]] = {}
        for name in names:
            if name.startswith(".") and name.endswith(cache.LOCK_SUFFIX):
                stems.setdefault(name[1 : -len(cache.LOCK_SUFFIX)], []).append(name)
            elif name.startswith(".") and name.endswith(cache.TEMP_SUFFIX):
                stem = name[1 : -len(cache.TEMP_SUFFIX)].rpartition(".")[0]
                stems.setdefault(stem, []).append(name)
        found = []
        for stem, files in stems.items():
            lock_name = f".{stem}{cache.LOCK_SUFFIX}"
            lock = cache.try_lock(dfd, lock_name)
            if lock is None:
                continue  # a compilation is under way
            left = lock_name in files  # else try_lock made it, and releasing removes it again
            try:
                for name in files:
                    if name != lock_name and not dry_run:
                        with contextlib.suppress(OSError):
                            os.unlink(name, dir_fd=dfd)
            finally:
                if dry_run and left:
                    os.close(lock)
                else:
                    cache.release_lock(dfd, lock_name, lock)
            found += [folder / name for name in files]
        return found
    finally:
        os.close(dfd)
