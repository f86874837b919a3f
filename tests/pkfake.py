"""FakePackageKitDaemon: a test double of packagekitd, on a private D-Bus of its own.

Installing, removing or upgrading packages on the real daemon would change
the machine, so the D-Bus call sequence of those helpers is tested against
this double instead: a real ``dbus-daemon`` (session configuration, its own
socket) on which a thread owns ``org.freedesktop.PackageKit`` and answers the
methods the helpers call, emitting ``Package``, ``ErrorCode`` and
``Finished`` signals from per-transaction objects as packagekitd does. Every
PackageKit method call it receives is recorded in :attr:`calls`. Nothing
here touches the host's packages or its system bus.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PK = "org.freedesktop.PackageKit"
TX_IFACE = "org.freedesktop.PackageKit.Transaction"
INFO_INSTALLED, INFO_AVAILABLE = 1, 2
EXIT_SUCCESS = 1

PROPERTIES = {"BackendName": ("s", "fake"), "DistroId": ("s", "fake;1;x86_64"), "Locked": ("b", False),
              "NetworkState": ("u", 2), "VersionMajor": ("u", 1), "VersionMicro": ("u", 6), "VersionMinor": ("u", 2)}

# The fake's package universe: (info, package id, summary). Resolving "broken" fails with an ErrorCode;
# resolving "vanish" makes the daemon leave the bus mid-transaction.
PACKAGES = [
    (INFO_INSTALLED, "vim;2:9.0;amd64;manual:debian", "Vi IMproved"),
    (INFO_AVAILABLE, "vim;2:9.1;amd64;debian", "Vi IMproved"),
    (INFO_AVAILABLE, "git;1:2.39;amd64;debian", "fast, scalable, distributed revision control system"),
    (INFO_INSTALLED, "zstd;1.5.4;amd64;auto:debian", "fast lossless compression"),
]
# What a change transaction reports in Package signals, per package id it was given (default: that id, once), as
# packagekitd reports what it changes: installing git pulls in git-man and names git twice, out of order; upgrading
# zstd reports nothing at all.
INFO_INSTALLING, INFO_UPDATING = 12, 11
CHANGE_REPORTS: dict[str, list[tuple[int, str, str]]] = {
    "git;1:2.39;amd64;debian": [(INFO_INSTALLING, "git;1:2.39;amd64;debian", "git"),
                                (INFO_INSTALLING, "git-man;1:2.39;all;debian", "git documentation"),
                                (INFO_INSTALLING, "git;1:2.39;amd64;debian", "git")],
    "zstd;1.5.4;amd64;auto:debian": [],
}
HISTORY = {"vim": [{"info": ("u", 1), "source": ("s", "debian"), "timestamp": ("t", 1700000000),
                    "user-id": ("u", 0), "version": ("s", "2:9.0")}]}


class FakePackageKitDaemon:
    """A test double of packagekitd on a private bus; ``address`` is the bus to point ``PackageKit`` at."""

    def __init__(self, folder: Path) -> None:
        self.address = f"unix:path={folder / 'fake-system-bus'}"
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._bus = subprocess.Popen(["dbus-daemon", "--session", f"--address={self.address}", "--nofork",
                                      "--print-address"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._bus.stdout is not None
        self._bus.stdout.readline()  # printed once the bus listens
        self._conn = open_dbus_connection(self.address)
        reply = self._conn.send_and_get_reply(message_bus.RequestName(PK))
        assert reply.body == (1,), f"the fake could not own {PK}: {reply.body}"
        self._transactions = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-packagekitd", daemon=True)
        self._thread.start()

    def close_service(self) -> None:
        """Stop serving and give up the name: the bus stays, with no PackageKit on it."""
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._conn.close()

    def close(self) -> None:
        """Stop serving and end the private bus."""
        if not self._stop.is_set():
            self.close_service()
        self._bus.terminate()
        self._bus.wait(timeout=5)

    def method_names(self) -> list[str]:
        """The PackageKit methods called so far, in order (property reads included as ``Get:<name>``)."""
        return [name for name, _ in self.calls]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            if message.header.message_type == MessageType.method_call:
                self._answer(message)

    def _answer(self, message: Any) -> None:
        fields = message.header.fields
        member, path = fields[HeaderFields.member], fields[HeaderFields.path]
        body = message.body
        if member == "Get":
            self.calls.append((f"Get:{body[1]}", ()))
            self._conn.send(new_method_return(message, "v", (PROPERTIES[body[1]],)))
            return
        self.calls.append((member, tuple(body)))
        if member == "CreateTransaction":
            self._transactions += 1
            self._conn.send(new_method_return(message, "o", (f"/{self._transactions}_fake",)))
        elif member == "GetDaemonState":
            self._conn.send(new_method_return(message, "s", ("fake state",)))
        elif member == "GetTransactionList":
            self._conn.send(new_method_return(message, "as", ([],)))
        elif member == "GetPackageHistory":
            names, _count = body
            self._conn.send(new_method_return(message, "a{saa{sv}}", ({n: HISTORY[n] for n in names if n in HISTORY},)))
        elif member in ("GetPackages", "Resolve", "InstallPackages", "RemovePackages", "UpdatePackages"):
            self._conn.send(new_method_return(message))
            self._run_transaction(path, member, body)
        else:
            self._conn.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s", (member,)))

    def _run_transaction(self, path: str, member: str, body: tuple[Any, ...]) -> None:
        tx = DBusAddress(path, interface=TX_IFACE)
        if member == "GetPackages":
            emitted = [p for p in PACKAGES if p[0] == INFO_INSTALLED]
        elif member == "Resolve":
            names = body[1]
            if "vanish" in names:  # the daemon dies mid-transaction: no Finished will ever come
                self._stop.set()
                self._conn.close()
                return
            if "broken" in names:
                self._conn.send(new_signal(tx, "ErrorCode", "us", (8, "the fake's repository is broken")))
                self._conn.send(new_signal(tx, "Finished", "uu", (2, 0)))
                return
            emitted = [p for p in PACKAGES if p[1].split(";")[0] in names]
        else:
            emitted = [p for package_id in body[1] for p in CHANGE_REPORTS.get(package_id, [(INFO_INSTALLED, package_id, "")])]
        for package in emitted:
            self._conn.send(new_signal(tx, "Package", "uss", package))
        self._conn.send(new_signal(tx, "Finished", "uu", (EXIT_SUCCESS, 5)))


@contextmanager
def fake_packagekitd(folder: Path) -> Iterator[FakePackageKitDaemon]:
    """A running :class:`FakePackageKitDaemon`, stopped afterwards."""
    daemon = FakePackageKitDaemon(folder)
    try:
        yield daemon
    finally:
        daemon.close()
