"""The host API: the functions a guest imports from the module namespace ``api``.

Written once, backend-neutral. A backend binds each name in
:data:`HOST_FUNCTIONS` to :meth:`HostApi.call`, handing it a
:class:`GuestMemory` view of the calling instance's exported ``memory`` (or
``None`` when the guest exports none). Every bad call returns -2; nothing a
guest passes can make the host raise, trap or crash.
"""

from __future__ import annotations

import time

from . import jsoncodec
from .commands import run_host_command
from .errors import WasmRuntimeError
from .jsonio import compact_json_bytes, loads_serde, resolve_pointer
from .records import FrozenRecord
from .result import HostCall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from .interfaces import CommandRunner, GuestMemory
    from .packagekit import PackageKit

API_MODULE = "api"
BAD_CALL = -2

LOG_LEVELS = {0: "DEBUG", 1: "INFO", 2: "WARN", 3: "ERROR"}

# name -> (parameter types, result types); every parameter is an i32.
HOST_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "log": (("i32",) * 3, ()),
    "exec": (("i32",) * 4, ("i32",)),
    "header": (("i32",) * 2, ("i32",)),
    "header_has": (("i32",) * 2, ("i32",)),
    "header_get": (("i32",) * 4, ("i32",)),
    "packagekit_available": ((), ("i32",)),
    "packagekit_status": (("i32",) * 2, ("i32",)),
    "packagekit_packages": (("i32",) * 2, ("i32",)),
    "packagekit_history": (("i32",) * 4, ("i32",)),
    "packagekit_install": (("i32",) * 4, ("i32",)),
    "packagekit_remove": (("i32",) * 4, ("i32",)),
    "packagekit_upgrade": (("i32",) * 4, ("i32",)),
}


class BadCall(WasmRuntimeError):
    """A call the guest got wrong: answered with -2."""


class HostContext(FrozenRecord):
    """What the host API knows about the run: header, module id, and its powers.

    ``allow_exec`` false refuses ``api.exec`` (answering ``exec_refusal``)
    and the PackageKit helpers (``packagekit_available`` is 0, the others
    answer ``packagekit_refusal``) without running or contacting anything.

    ``header`` left out (or ``None``) is an empty header. ``packagekit``
    left out (``None``) is the system bus's PackageKit, made
    (:meth:`HostApi.packagekit`) when a guest first calls a PackageKit
    helper: the module that talks to it is not imported by a call that
    never does.
    """

    __match_args__ = ("module_id", "header", "allow_exec", "exec_refusal", "commands", "packagekit", "clock",
                      "packagekit_refusal")
    module_id: str
    header: Mapping[str, Any]
    allow_exec: bool
    exec_refusal: str
    commands: CommandRunner
    packagekit: PackageKit | None
    clock: Callable[[], float]
    packagekit_refusal: str

    def __init__(self, module_id: str = "module", header: Mapping[str, Any] | None = None, allow_exec: bool = True,
                 exec_refusal: str = "api.exec is disabled on this host", commands: CommandRunner = run_host_command,
                 packagekit: PackageKit | None = None, clock: Callable[[], float] = time.time,
                 packagekit_refusal: str = "the PackageKit helpers are disabled on this host") -> None:
        self.__dict__.update(module_id=module_id, header={} if header is None else header, allow_exec=allow_exec,
                             exec_refusal=exec_refusal, commands=commands,
                             packagekit=packagekit, clock=clock,
                             packagekit_refusal=packagekit_refusal)


class HostApi:
    """The state of the host API during one run: logs and recorded calls."""

    def __init__(self, context: HostContext, deadline: float | None = None) -> None:
        self.context = context
        self.deadline = deadline
        self._header_bytes: bytes | None = None
        self.logs: list[str] = []
        self.calls: list[HostCall] = []
        self.observe: Callable[[HostCall], None] | None = None  # told of each call as it returns (--trace)
        self._packagekit: PackageKit | None = None

    @property
    def header_bytes(self) -> bytes:
        """The header as ``api.header`` gives it, serialised when a guest first asks (most never do)."""
        if self._header_bytes is None:
            self._header_bytes = compact_json_bytes(dict(self.context.header))
        return self._header_bytes

    # -- dispatch -------------------------------------------------------

    def call(self, name: str, memory: GuestMemory | None, args: tuple[int, ...]) -> int | None:
        """Run host function ``name`` with raw i32 ``args``; never raises for guest mistakes."""
        handler: Callable[..., int | None] = getattr(self, "_fn_" + name)
        record: dict[str, Any] = {}
        try:
            result = handler(memory, record, *args)
        except BadCall:
            result = BAD_CALL
        call = HostCall(name, tuple(args), record.get("request"), record.get("output"), result)
        self.calls.append(call)
        if self.observe is not None:
            self.observe(call)
        return result

    # -- memory helpers ---------------------------------------------------

    @staticmethod
    def _region_ok(memory: GuestMemory | None, ptr: int, length: int) -> bool:
        return memory is not None and ptr >= 0 and length > 0 and ptr + length <= memory.size()

    def _read(self, memory: GuestMemory | None, ptr: int, length: int) -> bytes:
        if not self._region_ok(memory, ptr, length):
            raise BadCall
        assert memory is not None
        return memory.read(ptr, length)

    def _read_text(self, memory: GuestMemory | None, ptr: int, length: int, record: dict[str, Any]) -> str:
        try:
            text = self._read(memory, ptr, length).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadCall from exc
        record["request"] = text
        return text

    def _read_json(self, memory: GuestMemory | None, ptr: int, length: int, record: dict[str, Any]) -> Any:
        text = self._read_text(memory, ptr, length, record)
        try:
            return jsoncodec.loads(text)  # json.loads without importing json (and re) into the call
        except ValueError as exc:
            raise BadCall from exc

    def _check_out(self, memory: GuestMemory | None, out_ptr: int, out_cap: int) -> None:
        if not self._region_ok(memory, out_ptr, out_cap):
            raise BadCall

    def _write(self, memory: GuestMemory | None, out_ptr: int, out_cap: int, data: bytes, record: dict[str, Any]) -> int:
        self._check_out(memory, out_ptr, out_cap)
        assert memory is not None
        data = data[:out_cap]
        memory.write(out_ptr, data)
        record["output"] = data
        return len(data)

    def remaining(self) -> float | None:
        """Seconds left before the run's deadline (``None``: no deadline)."""
        if self.deadline is None:
            return None
        return max(0.001, self.deadline - time.monotonic())

    # -- api.log ----------------------------------------------------------

    def _fn_log(self, memory: GuestMemory | None, record: dict[str, Any], level: int, ptr: int, length: int) -> None:
        try:
            text = self._read_text(memory, ptr, length, record)
        except BadCall:
            return None  # upstream ignores bad log calls silently
        stamp = time.strftime("%d/%m/%Y %H:%M:%S", time.localtime(self.context.clock()))
        name = LOG_LEVELS.get(level, "INFO")
        self.logs.append(f"[{stamp}] - {name}: [{self.context.module_id}] {text}")
        return None

    # -- api.exec ---------------------------------------------------------

    def _fn_exec(self, memory: GuestMemory | None, record: dict[str, Any], req_ptr: int, req_len: int, out_ptr: int, out_cap: int) -> int:
        request = self._read_json(memory, req_ptr, req_len, record)
        self._check_out(memory, out_ptr, out_cap)
        if not isinstance(request, dict):
            raise BadCall
        argv = request.get("argv")
        cwd = request.get("cwd")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise BadCall
        if cwd is not None and not isinstance(cwd, str):
            raise BadCall
        if not self.context.allow_exec:
            answer: dict[str, Any] = {"error": self.context.exec_refusal}
        elif any("\0" in a for a in argv) or (cwd is not None and "\0" in cwd):
            answer = {"error": "argv and cwd must not contain NUL bytes"}
        else:
            answer = self.context.commands(argv, cwd, self.remaining()).as_json()
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(answer), record)

    # -- api.header* ------------------------------------------------------

    def _fn_header(self, memory: GuestMemory | None, record: dict[str, Any], out_ptr: int, out_cap: int) -> int:
        return self._write(memory, out_ptr, out_cap, self.header_bytes, record)

    def _pointer(self, memory: GuestMemory | None, ptr: int, length: int, record: dict[str, Any]) -> tuple[bool, Any]:
        pointer = self._read_text(memory, ptr, length, record).strip()
        return resolve_pointer(self.context.header, pointer)

    def _fn_header_has(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int) -> int:
        found, _ = self._pointer(memory, ptr, length, record)
        return 1 if found else 0

    def _fn_header_get(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        found, value = self._pointer(memory, ptr, length, record)
        self._check_out(memory, out_ptr, out_cap)
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(value if found else None), record)

    # -- api.packagekit_* -------------------------------------------------
    #
    # As upstream (PROTOCOL.md 2.1): -2 only for a bad region or a guest without memory; a request that is not
    # the expected JSON, a refusal and every PackageKit or D-Bus failure are {"error": ...} answers.

    def packagekit(self) -> PackageKit:
        """The context's PackageKit, or the system bus's (made once per run, on first use)."""
        if self.context.packagekit is not None:
            return self.context.packagekit
        if self._packagekit is None:
            from .packagekit import PackageKit

            self._packagekit = PackageKit()
        return self._packagekit

    def _pk_write(self, memory: GuestMemory | None, record: dict[str, Any], out_ptr: int, out_cap: int,
                  action: Callable[[], object]) -> int:
        from .packagekit import PackageKitError

        if not self.context.allow_exec:
            answer: object = {"error": self.context.packagekit_refusal}
        else:
            try:
                answer = action()
            except PackageKitError as exc:
                answer = {"error": str(exc)}
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(answer), record)

    def _pk_request(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int,
                    out_cap: int, op: str) -> tuple[list[str], int] | str:
        """The request's names and count (default 10), or the error text for a request serde_json would refuse."""
        raw = self._read(memory, ptr, length)
        self._check_out(memory, out_ptr, out_cap)
        record["request"] = raw.decode("utf-8", "replace")
        reason = None
        try:
            request = loads_serde(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            reason = f"invalid UTF-8 at byte {exc.start}"
        except ValueError as exc:
            if jsoncodec.is_decode_error(exc):  # a json.JSONDecodeError
                reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}"  # type: ignore[attr-defined]
            else:
                reason = str(exc)
        if reason is None:
            fields = _names_request(request)
            if isinstance(fields, str):
                reason = fields
            else:
                return fields
        return f"invalid PackageKit {op} request: {reason}"

    def _fn_packagekit_available(self, memory: GuestMemory | None, record: dict[str, Any]) -> int:
        if not self.context.allow_exec:
            return 0  # refused helpers are not available: no bus is contacted
        return 1 if self.packagekit().available() else 0

    def _fn_packagekit_status(self, memory: GuestMemory | None, record: dict[str, Any], out_ptr: int, out_cap: int) -> int:
        self._check_out(memory, out_ptr, out_cap)
        return self._pk_write(memory, record, out_ptr, out_cap, lambda: self.packagekit().status(self.remaining()))

    def _fn_packagekit_packages(self, memory: GuestMemory | None, record: dict[str, Any], out_ptr: int, out_cap: int) -> int:
        self._check_out(memory, out_ptr, out_cap)
        return self._pk_write(memory, record, out_ptr, out_cap, lambda: self.packagekit().packages(self.remaining()))

    def _pk_named(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int,
                  out_cap: int, op: str) -> int:
        parsed = self._pk_request(memory, record, ptr, length, out_ptr, out_cap, op)
        if isinstance(parsed, str):
            return self._write(memory, out_ptr, out_cap, compact_json_bytes({"error": parsed}), record)
        names, count = parsed
        packagekit = self.packagekit()
        actions: dict[str, Callable[[], object]] = {
            "history": lambda: packagekit.history(names, count, self.remaining()),
            "install": lambda: packagekit.install(names, self.remaining()),
            "remove": lambda: packagekit.remove(names, self.remaining()),
            "upgrade": lambda: packagekit.upgrade(names, self.remaining()),
        }
        return self._pk_write(memory, record, out_ptr, out_cap, actions[op])

    def _fn_packagekit_history(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_named(memory, record, ptr, length, out_ptr, out_cap, "history")

    def _fn_packagekit_install(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_named(memory, record, ptr, length, out_ptr, out_cap, "install")

    def _fn_packagekit_remove(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_named(memory, record, ptr, length, out_ptr, out_cap, "remove")

    def _fn_packagekit_upgrade(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_named(memory, record, ptr, length, out_ptr, out_cap, "upgrade")


U32_MAX = (1 << 32) - 1


def _names_request(request: Any) -> tuple[list[str], int] | str:
    """Upstream's ``{names: Vec<String> = [], count: Option<u32>}`` as serde reads it, or what is wrong.

    serde's derived structs also read a sequence ``[names, count]``; unknown
    object members are ignored; a ``null`` count is the default 10.
    """
    if isinstance(request, list):
        if len(request) > 2:
            return f"invalid length {len(request)}, expected at most 2 elements ([names, count])"
        request = dict(zip(("names", "count"), request, strict=False))
    if not isinstance(request, dict):
        return 'expected an object like {"names": ["pkg"], "count": 10}'
    names = request.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return '"names" must be a list of package names (strings)'
    count = request.get("count")
    if count is None:
        count = 10
    elif isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= U32_MAX:
        return f'"count" must be a whole number from 0 to {U32_MAX}'
    return names, count


def __getattr__(name: str) -> object:
    # GuestMemory lives in .interfaces (a typing.Protocol); still importable from here, where it was first defined
    if name == "GuestMemory":
        from .interfaces import GuestMemory

        return GuestMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
