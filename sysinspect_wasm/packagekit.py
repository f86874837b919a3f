"""The PackageKit helpers of the ``api`` namespace, answered through ``pkcon``.

PackageKit is a system daemon reached over D-Bus; we drive it through its
command-line client ``pkcon`` via the same command runner as ``api.exec``,
so tests can answer for it without a daemon.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from .commands import CommandRunner, run_host_command
from .records import FrozenRecord

SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"


class PackageKit(FrozenRecord):
    """Answers the PackageKit helpers; ``probe`` tells whether the daemon can be reached."""

    __match_args__ = ("commands", "probe", "pkcon")
    commands: CommandRunner
    probe: Callable[[], bool] | None
    pkcon: str

    def __init__(self, commands: CommandRunner = run_host_command, probe: Callable[[], bool] | None = None,
                 pkcon: str = "pkcon") -> None:
        self.__dict__.update(commands=commands, probe=probe, pkcon=pkcon)

    def available(self) -> bool:
        """True when a PackageKit client and the system bus are both present."""
        if self.probe is not None:
            return self.probe()
        import shutil  # only asked when a guest calls a PackageKit helper

        return shutil.which(self.pkcon) is not None and os.path.exists(SYSTEM_BUS_SOCKET)

    def _pkcon(self, *args: str, timeout: float | None) -> dict[str, object]:
        return self.commands([self.pkcon, "--plain", *args], None, timeout).as_json()

    def status(self, timeout: float | None) -> dict[str, object]:
        """The daemon's backend details."""
        return self._pkcon("backend-details", timeout=timeout)

    def packages(self, timeout: float | None) -> dict[str, object]:
        """The installed packages."""
        return self._pkcon("get-packages", "--filter", "installed", timeout=timeout)

    def history(self, names: Sequence[str], count: int, timeout: float | None) -> dict[str, object]:
        """The last ``count`` transactions (pkcon has no per-package filter; names are echoed)."""
        result = self._pkcon("get-transactions", str(count), timeout=timeout)
        result["names"] = list(names)
        return result

    def install(self, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        """Install packages, without asking."""
        return self._pkcon("-y", "install", *names, timeout=timeout)

    def remove(self, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        """Remove packages, without asking."""
        return self._pkcon("-y", "remove", *names, timeout=timeout)

    def upgrade(self, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        """Update the named packages, or everything when no name is given."""
        return self._pkcon("-y", "update", *names, timeout=timeout)
