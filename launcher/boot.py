"""The deployed runtime's entry point: the launcher runs ``python -I -S -B boot.py TARGET -- ARGUMENTS``.

It sits at the top of the library tree a SysMaster publishes
(``<sharelib>/lib/runtime/wasm-runtime/<version>/``). It checks that this is
Python 3.11 or newer, puts the tree's ``python/`` folder on ``sys.path``,
picks this uid's private folder, and hands over to the start-up in
``python/sysinspect_wasm_launcher/`` (:mod:`.image`, then :mod:`.start`).

The private folder holds code this uid runs (root's: code root runs): the
bytecode of any Python the tree carries none for (the launcher takes the
newest Python it finds, not the one that built the bundle) and the warm
image (:mod:`.image`). So it must be a folder no other user can write
(:func:`bytecode_folder`), and this must be known before anything is read
from it; that decision is why this file holds more than a hand-over. It is
a script, compiled on every run: only that decision lives here, everything
else is imported with bytecode. (Compiling a script costs less than
compiling an imported module without bytecode: the first ``compile()`` of a
process builds the ``ast`` node types, about 1 ms on 3.12 and 3.13.)

Nothing is ever written into the synced tree: a sync deletes every file it
does not list. Without a private folder to trust, sources are compiled in
memory on every call and the image is not used: slower, but correct.

Written in syntax every Python 3 reads, so that a ``python3`` older than 3.11
answers with a ModResponse saying so, not with a SyntaxError.
"""

import os
import stat
import sys

if False:  # the names of the type comments, for mypy only: a minion's Python never imports typing here
    from collections.abc import Mapping  # noqa: F401

CACHE_DIR_ENV = "SYSINSPECT_WASM_CACHE_DIR"  # the cache's own setting (sysinspect_wasm.store.layout)
PRIVATE_ROOT = "/var/tmp"
USER_DIR_NAME = "sysinspect-wasm"
BYTECODE = "bytecode"
BUNDLED_TAG = ""
"""The cache tag of the Python whose bytecode the tree carries: ``wasm-runtime bundle`` writes it here."""


def answer_too_old():
    # type: () -> None
    """A ModResponse for a python3 older than 3.11 (the runtime itself needs 3.11)."""
    import json

    if not sys.stdin.isatty():
        sys.stdin.buffer.read()  # the minion writes the request first: let it, then answer
    found = sys.executable + " is Python " + ".".join(str(part) for part in sys.version_info[:3])
    message = ("Failed to initialize Wasm runtime: the runtime needs Python 3.11 or newer, and " + found
               + "; install Python 3.11 or newer on this minion (the launcher looks for python3.14 ... python3.11, "
               + "then python3, on PATH, then in /usr/bin and /usr/local/bin)")
    sys.stdout.write(json.dumps({"retcode": 4, "message": message, "data": {"changed": False}}) + "\n")
    sys.stdout.flush()


def ships_bytecode(cache_tag, bundled=None):
    # type: (str | None, str | None) -> bool
    """Whether the tree carries bytecode for the interpreter whose cache tag is ``cache_tag``: the bundle's
    Python's (``bundled``, default :data:`BUNDLED_TAG`). Known from the bundle, not from the files: a stray
    ``.pyc`` of another Python (an operator's ad-hoc import) must not make that Python skip its own folder."""
    bundled = BUNDLED_TAG if bundled is None else bundled
    return cache_tag is not None and cache_tag == bundled


def bytecode_base(uid, environ):
    # type: (int, Mapping[str, str]) -> str
    """The cache folder whose ``bytecode/`` subfolder holds this uid's bytecode: the cache's own rule for files
    that belong to no module (sysinspect_wasm.store.layout.engine_folder): the configured folder, else root's
    ``~/.cache/sysinspect-wasm``, else (another uid: a minion keeps root's HOME when it drops to it) the
    private folder ``/var/tmp/sysinspect-wasm-<uid>``."""
    configured = environ.get(CACHE_DIR_ENV, "")
    if os.path.isabs(configured):
        return configured
    if uid == 0:
        base = environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):
            home = environ.get("HOME", "")
            base = os.path.join(home, ".cache") if os.path.isabs(home) else ""
        if base:
            return os.path.join(base, USER_DIR_NAME)
    return os.path.join(PRIVATE_ROOT, USER_DIR_NAME + "-" + str(uid))


def untrusted_reason(folder, uid):
    # type: (str, int) -> str
    """Why the bytecode folder ``folder`` must not be used ("" when it may be).

    Bytecode is code this uid runs (root's: code root runs), so the cache's
    rules of trust hold, and more: the folder is a real folder (no symlink)
    of this uid, mode 0700; every folder above it belongs to this uid or to
    root and is writable by no one else, unless sticky (``/var/tmp``), so no
    other user can put a folder of theirs in its place.
    """
    try:
        st = os.lstat(folder)
    except OSError as exc:
        return "cannot read " + folder + " (" + (exc.strerror or str(exc)) + ")"
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        return folder + " is not a folder of uid " + str(uid) + " with mode 0700"
    above = os.path.realpath(os.path.dirname(folder))  # the folders the path really goes through
    while True:
        try:
            st = os.lstat(above)
        except OSError as exc:
            return "cannot read " + above + " (" + (exc.strerror or str(exc)) + ")"
        if st.st_uid not in (uid, 0):
            return above + " belongs to uid " + str(st.st_uid)
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
            return above + " is writable by other users"
        if above == os.path.dirname(above):
            return ""
        above = os.path.dirname(above)


def bytecode_folder(uid, environ):
    # type: (int, Mapping[str, str]) -> tuple[str | None, str]
    """``(folder, "")`` where this uid's bytecode may be kept (made mode 0700 if missing), or ``(None, why)``."""
    base = bytecode_base(uid, environ)
    folder = os.path.join(base, BYTECODE)
    for path in (base, folder):  # the base too is made 0700: the native cache's private folder rule needs that
        if not os.path.isdir(path):
            try:  # noqa: SIM105 - contextlib would be one more import on every call
                os.makedirs(path, 0o700)
            except OSError:
                pass  # made by a concurrent call, or impossible: the check below says which
    problem = untrusted_reason(folder, uid)
    return (None, problem) if problem else (folder, "")


def main():
    # type: () -> None
    if sys.version_info < (3, 11):  # noqa: UP036 - a minion may have an older python3: answer it, do not crash
        answer_too_old()
        sys.exit(0)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "python"))
    folder, refused = bytecode_folder(os.geteuid(), os.environ)
    image = ""
    bundled = ships_bytecode(sys.implementation.cache_tag)
    if folder is not None:
        if not bundled:
            sys.pycache_prefix = folder  # importlib reads and writes <folder>/<source's absolute folder>/<name>.<tag>.pyc
            sys.dont_write_bytecode = False  # the launcher's -B keeps bytecode out of the tree; this folder is not in it
        # the tree's python/ holds this package under its import name; mypy knows its sources as the folder launcher/
        from sysinspect_wasm_launcher.image import use_image  # type: ignore[import-not-found]

        image = use_image(here, folder)
    from sysinspect_wasm_launcher.start import start  # type: ignore[import-not-found]

    start(here, sys.argv[1:], folder or "", refused, image, bundled)


if __name__ == "__main__":
    main()
