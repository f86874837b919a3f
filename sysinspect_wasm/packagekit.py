"""The PackageKit helpers of the ``api`` namespace, answered over the system D-Bus as upstream answers them.

Upstream (PROTOCOL.md 2.1) talks to the PackageKit daemon on the system bus:
service and object ``org.freedesktop.PackageKit`` / ``/org/freedesktop/PackageKit``,
one transaction object per operation, whose ``Package``, ``ErrorCode`` and
``Finished`` signals carry the results. We make the same method calls, in the
same order, through ``jeepney`` (a pure-Python D-Bus client), and give the
same answers:

* ``available``: a system-bus connection can be made (upstream's zbus proxy is
  a local object, so the daemon itself is not asked);
* ``status``: the daemon's properties plus ``GetDaemonState`` and ``GetTransactionList``;
* ``packages``: ``GetPackages(installed)`` on a new transaction, one object per ``Package`` signal;
* ``history``: ``GetPackageHistory(names, count)``, each entry's variants as plain JSON values;
* ``install`` / ``remove`` / ``upgrade``: refused without names (never "everything"),
  else ``Resolve`` to available (install) or installed (remove, upgrade) package ids,
  then ``InstallPackages`` / ``RemovePackages`` / ``UpdatePackages``.

Every failure raises :class:`PackageKitError` whose text is upstream's: its
``SysinspectError::ModuleError`` prefix ``Error loading module: `` and then
``PackageKit D-Bus error: ...`` or the operation's own words.

The bus is ``$DBUS_SYSTEM_BUS_ADDRESS`` or the standard system socket, as for
zbus's ``Connection::system()``; a test points ``address`` at another bus.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from .errors import WasmRuntimeError
from .records import FrozenRecord

PK_SERVICE = "org.freedesktop.PackageKit"
PK_PATH = "/org/freedesktop/PackageKit"
PK_IFACE = "org.freedesktop.PackageKit"
PK_TX_IFACE = "org.freedesktop.PackageKit.Transaction"
FILTER_NONE = 0
FILTER_INSTALLED = 1 << 2
TRANSACTION_FLAGS_NONE = 0
ERROR_PREFIX = "Error loading module: "
"""What upstream's ``SysinspectError::ModuleError`` puts before every PackageKit error."""
UNREACHABLE_ADDRESS = "unix:path=/nonexistent/sysinspect-wasm-no-system-bus"
DEFAULT_TIMEOUT = 3600.0
"""Seconds a PackageKit operation may take when the request set no timeout (installs can be long)."""
SIGNAL_QUEUE = 1 << 20
"""Signals kept while a transaction runs: one ``Package`` signal per installed package."""


class PackageKitError(WasmRuntimeError):
    """A PackageKit helper failed; ``str()`` is the text upstream writes under ``"error"``."""

    def __init__(self, text: str) -> None:
        super().__init__(ERROR_PREFIX + text)


def _dbus_error(detail: str) -> PackageKitError:
    return PackageKitError(f"PackageKit D-Bus error: {detail}")


def from_variant(signature: str, value: Any) -> Any:
    """A D-Bus variant (as jeepney gives it: signature and value) as a plain JSON value.

    Nested variants (``v``, ``av``, ``a{sv}``) are unwrapped; structs become
    lists, byte arrays lists of numbers, dictionaries objects (keys as text).
    """
    if signature == "v":
        return from_variant(*value)
    if signature == "av":
        return [from_variant(*item) for item in value]
    if signature == "a{sv}":
        return {str(k): from_variant(*v) for k, v in value.items()}
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


def split_package_id(package_id: str) -> tuple[str, str, str, str] | None:
    """``name;version;arch;data`` as its four parts (the last may hold more ``;``), or None."""
    parts = package_id.split(";", 3)
    if len(parts) != 4:
        return None
    return parts[0], parts[1], parts[2], parts[3]


INFO_INSTALLED = 1
INSTALLED_DATA = ("installed", "auto:", "manual:")
"""How the data part of an installed package's id starts: ``installed...`` (upstream's only test) and, since
PackageKit 1.2's apt backend, ``auto:<origin>`` or ``manual:<origin>``."""


def is_installed_id(package_id: str, info: int = 0) -> bool:
    """Is this a package id of an installed package (its ``info`` is INSTALLED, or its data says so)?"""
    parts = split_package_id(package_id)
    return parts is not None and (info == INFO_INSTALLED or parts[3].startswith(INSTALLED_DATA))


def is_available_id(package_id: str, info: int = 0) -> bool:
    """Is this a well-formed package id of a package that is not installed?"""
    return split_package_id(package_id) is not None and not is_installed_id(package_id, info)


class _Bus:
    """One blocking connection to the bus, for one helper call."""

    def __init__(self, address: str | None, deadline: float) -> None:
        from jeepney.io.blocking import open_dbus_connection  # only when a guest calls a PackageKit helper

        self.deadline = deadline
        try:
            self.conn = open_dbus_connection(bus="SYSTEM" if address is None else address,
                                             auth_timeout=max(0.001, min(5.0, self._left())))
        except Exception as exc:  # connect/auth errors come as OSError, ValueError, AuthenticationError...
            shown = address if address is not None else "the system bus"
            raise _dbus_error(f"cannot connect to {shown}: {exc}") from None

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _dbus_error("timed out waiting for the PackageKit daemon")
        return left

    def close(self) -> None:
        self.conn.close()

    def _io(self, action: Callable[[float], Any], late: str, broken: str) -> Any:
        """Run one blocking bus operation within the deadline; a timeout or a broken connection is a D-Bus error."""
        try:
            return action(self._left())
        except TimeoutError:
            raise _dbus_error(late) from None
        except OSError as exc:
            raise _dbus_error(f"{broken}: {exc}") from None

    def call(self, path: str, interface: str, member: str, signature: str | None = None,
             body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """Call a method of PackageKit's object ``path``; its reply's body, or the D-Bus error raised."""
        from jeepney import DBusAddress, DBusErrorResponse, MessageType, new_method_call

        message = new_method_call(DBusAddress(path, bus_name=PK_SERVICE, interface=interface), member, signature, body)
        reply = self._io(lambda left: self.conn.send_and_get_reply(message, timeout=left),
                         f"no answer to {member} in time", member)
        if reply.header.message_type == MessageType.error:
            error = DBusErrorResponse(reply)
            detail = error.data[0] if error.data and isinstance(error.data[0], str) else "no details"
            raise _dbus_error(f"{error.name}: {detail}")
        body_out: tuple[Any, ...] = reply.body
        return body_out

    def property(self, name: str) -> Any:
        """One property of the PackageKit root object."""
        (_, value), = self.call(PK_PATH, "org.freedesktop.DBus.Properties", "Get", "ss", (PK_IFACE, name))
        return value

    def transaction(self, member: str, signature: str, body: tuple[Any, ...],
                    failure: str) -> list[tuple[int, str, str]]:
        """Create a transaction, call ``member`` on it, gather its ``Package`` signals until ``Finished``.

        An ``ErrorCode`` signal raises with ``failure`` (e.g. ``PackageKit resolve failed``).
        """
        from jeepney import HeaderFields, MatchRule, MessageType, message_bus

        (tx_path,) = self.call(PK_PATH, PK_IFACE, "CreateTransaction")
        # Subscribe before the call: the daemon may signal before it replies. The bus filters by the service's
        # name; our local filter has no sender (signals carry the daemon's unique name), the path is unique.
        bus_rule = MatchRule(type="signal", sender=PK_SERVICE, interface=PK_TX_IFACE, path=tx_path)
        local_rule = MatchRule(type="signal", interface=PK_TX_IFACE, path=tx_path)
        # and to the daemon leaving the bus (it quits when idle, or crashes): then no Finished ever comes
        owner_rule = MatchRule(type="signal", sender="org.freedesktop.DBus", interface="org.freedesktop.DBus",
                               member="NameOwnerChanged")
        owner_rule.add_arg_condition(0, PK_SERVICE)
        for rule in (bus_rule, owner_rule):
            add_match = message_bus.AddMatch(rule)
            reply = self._io(lambda left: self.conn.send_and_get_reply(add_match, timeout=left),  # noqa: B023 (called at once)
                             "no answer to AddMatch in time", "cannot subscribe to the transaction's signals")
            if reply.header.message_type == MessageType.error:  # without the match the signals never come
                raise _dbus_error(f"the bus refused to deliver the transaction's signals: {reply.body}")
        packages: list[tuple[int, str, str]] = []
        queue: deque[Any] = deque(maxlen=SIGNAL_QUEUE)
        with self.conn.filter(local_rule, queue=queue), self.conn.filter(owner_rule, queue=queue):
            self.call(tx_path, PK_TX_IFACE, member, signature, body)
            while True:
                signal = self._io(lambda left: self.conn.recv_until_filtered(queue, timeout=left),
                                  f"the PackageKit transaction {member} did not finish in time",
                                  f"the bus connection broke during {member}")
                name = signal.header.fields.get(HeaderFields.member)
                if name == "NameOwnerChanged":
                    if signal.body[2] == "":
                        raise _dbus_error(f"the PackageKit daemon left the bus during {member}")
                elif name == "Package":
                    info, package_id, summary = signal.body
                    packages.append((int(info), str(package_id), str(summary)))
                elif name == "ErrorCode":
                    code, details = signal.body
                    raise PackageKitError(f"{failure} with error code {code}: {details}")
                elif name == "Finished":
                    return packages


def changed_ids(reported: Sequence[tuple[int, str, str]], resolved: Sequence[str]) -> list[str]:
    """A change's ``changed``, as upstream: the package ids the transaction's ``Package`` signals named, sorted and
    deduplicated, or the resolved ids when it named none (so a successful change never answers an empty list)."""
    named = sorted({package_id for _, package_id, _ in reported})
    return named or list(resolved)


class PackageKit(FrozenRecord):
    """Answers the PackageKit helpers over D-Bus.

    ``address`` is the bus to use: ``None`` for the system bus
    (``$DBUS_SYSTEM_BUS_ADDRESS`` or ``/var/run/dbus/system_bus_socket``).
    :meth:`unreachable` gives one whose bus never answers (a host without
    D-Bus), for runs that must not reach the host's daemon.
    """

    __match_args__ = ("address",)
    address: str | None

    def __init__(self, address: str | None = None) -> None:
        self.__dict__.update(address=address)

    @classmethod
    def unreachable(cls) -> PackageKit:
        """A PackageKit on a bus address that cannot be connected to: available is 0, the rest answer errors."""
        return cls(UNREACHABLE_ADDRESS)

    def _bus(self, timeout: float | None) -> _Bus:
        return _Bus(self.address, time.monotonic() + (DEFAULT_TIMEOUT if timeout is None else timeout))

    def available(self, timeout: float | None = 5.0) -> bool:
        """True when a connection to the bus can be made (upstream's test)."""
        try:
            self._bus(timeout).close()
        except PackageKitError:
            return False
        return True

    def status(self, timeout: float | None) -> dict[str, object]:
        """The daemon's state: upstream's ``PackageKitStatus`` fields, in its order."""
        bus = self._bus(timeout)
        try:
            backend_name = bus.property("BackendName")
            distro_id = bus.property("DistroId")
            (daemon_state,) = bus.call(PK_PATH, PK_IFACE, "GetDaemonState")
            locked = bus.property("Locked")
            network_state = bus.property("NetworkState")
            version_major = bus.property("VersionMajor")
            version_micro = bus.property("VersionMicro")
            version_minor = bus.property("VersionMinor")
            (transactions,) = bus.call(PK_PATH, PK_IFACE, "GetTransactionList")
        finally:
            bus.close()
        return {"available": True, "backend_name": backend_name, "daemon_state": daemon_state,
                "distro_id": distro_id, "locked": bool(locked), "network_state": network_state,
                "transactions": list(transactions), "version_major": version_major,
                "version_micro": version_micro, "version_minor": version_minor}

    def packages(self, timeout: float | None) -> list[dict[str, object]]:
        """The installed packages: one object per ``Package`` signal of ``GetPackages(installed)``."""
        bus = self._bus(timeout)
        try:
            found = bus.transaction("GetPackages", "t", (FILTER_INSTALLED,), "PackageKit transaction failed")
        finally:
            bus.close()
        result: list[dict[str, object]] = []
        for info, package_id, summary in found:
            parts = split_package_id(package_id)
            if parts is None:
                raise PackageKitError(f"PackageKit returned malformed package id '{package_id}'")
            name, version, arch, data = parts
            result.append({"info": info, "package_id": package_id, "name": name, "version": version, "arch": arch,
                           "data": data, "summary": summary})
        return result

    def history(self, names: Sequence[str], count: int, timeout: float | None) -> dict[str, object]:
        """``GetPackageHistory(names, count)``: ``{name: [{key: value}, ...]}``, keys sorted."""
        bus = self._bus(timeout)
        try:
            (history,) = bus.call(PK_PATH, PK_IFACE, "GetPackageHistory", "asu", (list(names), count))
        finally:
            bus.close()
        # a{saa{sv}}: per name, its entries; each entry's variants as plain values, keys sorted as upstream's BTreeMap
        return {name: [{key: from_variant(*entry[key]) for key in sorted(entry)} for entry in entries]
                for name, entries in sorted(history.items())}

    def _resolve(self, bus: _Bus, names: Sequence[str], installed: bool) -> list[str]:
        found = bus.transaction("Resolve", "tas", (FILTER_NONE, list(names)), "PackageKit resolve failed")
        select = is_installed_id if installed else is_available_id
        ids = sorted({package_id for info, package_id, _ in found if select(package_id, info)})
        if not ids:
            what = "installed" if installed else "installable"
            raise PackageKitError(f"PackageKit could not resolve {what} package ids for {', '.join(names)}")
        return ids

    def _change(self, op: str, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        if not names:
            # never "everything": an empty list must not become a full-system operation
            raise PackageKitError(f"PackageKit {op} requires at least one package name")
        bus = self._bus(timeout)
        try:
            ids = self._resolve(bus, names, installed=op != "install")
            if op == "remove":
                # allow_deps true, autoremove false, as upstream
                reported = bus.transaction("RemovePackages", "tasbb", (TRANSACTION_FLAGS_NONE, ids, True, False),
                                           "PackageKit remove failed")
            else:
                method = "InstallPackages" if op == "install" else "UpdatePackages"
                reported = bus.transaction(method, "tas", (TRANSACTION_FLAGS_NONE, ids), f"PackageKit {op} failed")
        finally:
            bus.close()
        return {"action": op, "requested": list(names), "package_ids": ids, "changed": changed_ids(reported, ids)}

    def install(self, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        """Resolve ``names`` to installable ids and install them."""
        return self._change("install", names, timeout)

    def remove(self, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        """Resolve ``names`` to installed ids and remove them (dependants too, no autoremove)."""
        return self._change("remove", names, timeout)

    def upgrade(self, names: Sequence[str], timeout: float | None) -> dict[str, object]:
        """Resolve ``names`` to installed ids and update them."""
        return self._change("upgrade", names, timeout)
