"""How a root Sysinspect minion spawns a module process (PROTOCOL.md 5.4), for tests that play the minion.

Not a test double: these are the very system calls the minion makes before
``exec``, made by a real ``preexec_fn`` in the child of ``subprocess``.
"""

from __future__ import annotations

import ctypes
import os
import resource
from collections.abc import Callable

FSIZE_LIMIT = 10 * 1024 * 1024
"""The minion's RLIMIT_FSIZE, soft and hard."""
NOBODY = 65534
PR_SET_NO_NEW_PRIVS = 38
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""A minion's PATH: system folders only (no virtual environment, no pyenv shims)."""


def minion_spawn(uid: int = 0, gid: int = 0, fsize: int = FSIZE_LIMIT) -> Callable[[], None]:
    """A ``preexec_fn`` doing what a root minion does before exec: umask 077, setgroups, setgid, setresuid,
    no_new_privs, RLIMIT_FSIZE ``fsize`` soft and hard."""

    def setup() -> None:
        os.umask(0o077)
        os.setgroups([])
        os.setgid(gid)
        os.setresuid(uid, uid, uid)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return setup


def minion_env(**extra: str) -> dict[str, str]:
    """The environment a minion passes on (its own), reduced to what a system service has: system PATH, root's HOME."""
    return {"PATH": SYSTEM_PATH, "HOME": "/root", "LANG": "C.UTF-8", **extra}
