"""The host API: the functions a guest imports from the module namespace ``api``.

Written once, backend-neutral. A backend binds each name in
:data:`HOST_FUNCTIONS` to :meth:`HostApi.call`, handing it a
:class:`GuestMemory` view of the calling instance's exported ``memory`` (or
``None`` when the guest exports none). Every bad call returns -2; nothing a
guest passes can make the host raise, trap or crash.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .commands import CommandRunner, run_host_command
from .jsonio import compact_json_bytes, resolve_pointer
from .packagekit import PackageKit
from .records import FrozenRecord
from .result import HostCall

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


class GuestMemory(Protocol):
    """A view of the calling guest's linear memory."""

    def size(self) -> int:
        """The memory's current size in bytes."""
        ...

    def read(self, ptr: int, length: int) -> bytes:
        """Bytes at ``[ptr, ptr+length)``; the caller has checked the bounds."""
        ...

    def write(self, ptr: int, data: bytes) -> None:
        """Store ``data`` at ``ptr``; the caller has checked the bounds."""
        ...


class BadCall(Exception):
    """A call the guest got wrong: answered with -2."""


class HostContext(FrozenRecord):
    """What the host API knows about the run: header, module id, and its powers.

    ``header`` and ``packagekit`` left out (or ``None``) get fresh defaults:
    an empty header and ``PackageKit()``.
    """

    __match_args__ = ("module_id", "header", "allow_exec", "exec_refusal", "commands", "packagekit", "clock")
    module_id: str
    header: Mapping[str, Any]
    allow_exec: bool
    exec_refusal: str
    commands: CommandRunner
    packagekit: PackageKit
    clock: Callable[[], float]

    def __init__(self, module_id: str = "module", header: Mapping[str, Any] | None = None, allow_exec: bool = True,
                 exec_refusal: str = "api.exec is disabled on this host", commands: CommandRunner = run_host_command,
                 packagekit: PackageKit | None = None, clock: Callable[[], float] = time.time) -> None:
        self.__dict__.update(module_id=module_id, header={} if header is None else header, allow_exec=allow_exec,
                             exec_refusal=exec_refusal, commands=commands,
                             packagekit=PackageKit() if packagekit is None else packagekit, clock=clock)


class HostApi:
    """The state of the host API during one run: logs and recorded calls."""

    def __init__(self, context: HostContext, deadline: float | None = None) -> None:
        self.context = context
        self.deadline = deadline
        self.header_bytes = compact_json_bytes(dict(context.header))
        self.logs: list[str] = []
        self.calls: list[HostCall] = []

    # -- dispatch -------------------------------------------------------

    def call(self, name: str, memory: GuestMemory | None, args: tuple[int, ...]) -> int | None:
        """Run host function ``name`` with raw i32 ``args``; never raises for guest mistakes."""
        handler: Callable[..., int | None] = getattr(self, "_fn_" + name)
        record: dict[str, Any] = {}
        try:
            result = handler(memory, record, *args)
        except BadCall:
            result = BAD_CALL
        self.calls.append(
            HostCall(name, tuple(args), record.get("request"), record.get("output"), result)
        )
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
            return json.loads(text)
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

    def _pk_answer(self, action: Callable[[], dict[str, object]]) -> dict[str, object]:
        if not self.context.packagekit.available():
            return {"error": "PackageKit is not available on this host"}
        if not self.context.allow_exec:
            return {"error": self.context.exec_refusal}
        return action()

    def _pk_request(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, with_count: bool = False) -> tuple[list[str], int]:
        request = self._read_json(memory, ptr, length, record)
        if not isinstance(request, dict):
            raise BadCall
        names = request.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadCall
        count = request.get("count", 10) if with_count else 10
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BadCall
        return names, count

    def _fn_packagekit_available(self, memory: GuestMemory | None, record: dict[str, Any]) -> int:
        return 1 if self.context.packagekit.available() else 0

    def _fn_packagekit_status(self, memory: GuestMemory | None, record: dict[str, Any], out_ptr: int, out_cap: int) -> int:
        self._check_out(memory, out_ptr, out_cap)
        answer = self._pk_answer(lambda: self.context.packagekit.status(self.remaining()))
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(answer), record)

    def _fn_packagekit_packages(self, memory: GuestMemory | None, record: dict[str, Any], out_ptr: int, out_cap: int) -> int:
        self._check_out(memory, out_ptr, out_cap)
        answer = self._pk_answer(lambda: self.context.packagekit.packages(self.remaining()))
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(answer), record)

    def _fn_packagekit_history(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        names, count = self._pk_request(memory, record, ptr, length, with_count=True)
        self._check_out(memory, out_ptr, out_cap)
        answer = self._pk_answer(lambda: self.context.packagekit.history(names, count, self.remaining()))
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(answer), record)

    def _pk_change(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int,
                   action: Callable[[list[str], float | None], dict[str, object]], needs_names: bool) -> int:
        names, _ = self._pk_request(memory, record, ptr, length)
        if needs_names and not names:
            raise BadCall
        self._check_out(memory, out_ptr, out_cap)
        answer = self._pk_answer(lambda: action(names, self.remaining()))
        return self._write(memory, out_ptr, out_cap, compact_json_bytes(answer), record)

    def _fn_packagekit_install(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_change(memory, record, ptr, length, out_ptr, out_cap, self.context.packagekit.install, True)

    def _fn_packagekit_remove(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_change(memory, record, ptr, length, out_ptr, out_cap, self.context.packagekit.remove, True)

    def _fn_packagekit_upgrade(self, memory: GuestMemory | None, record: dict[str, Any], ptr: int, length: int, out_ptr: int, out_cap: int) -> int:
        return self._pk_change(memory, record, ptr, length, out_ptr, out_cap, self.context.packagekit.upgrade, False)
