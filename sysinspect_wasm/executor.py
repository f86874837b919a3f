"""The executor interface every backend implements.

Kept as small as wasmtime's differential-fuzzing engine traits: a backend
loads a module; a module runs WASI commands or gives bare instances; an
instance calls exports and reads globals and memory.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from .result import ExportInfo, RunResult, Value
from .spec import Limits, RunSpec


class Instance(abc.ABC):
    """A bare instance of a module, for calling exports directly."""

    @abc.abstractmethod
    def exports(self) -> list[ExportInfo]:
        """The instance's exports in module order."""

    @abc.abstractmethod
    def call(self, name: str, args: Sequence[Value]) -> list[Value]:
        """Call exported function ``name``; a trap raises :class:`~sysinspect_wasm.errors.GuestTrap`."""

    @abc.abstractmethod
    def global_value(self, name: str) -> Value:
        """The current value of exported global ``name``."""

    @abc.abstractmethod
    def memory(self, name: str) -> bytes:
        """A copy of exported memory ``name``."""


class Module(abc.ABC):
    """A module loaded once by a backend, to be run many times.

    ``warnings`` holds what an operator should hear about how the module was
    loaded (e.g. a native-code cache that could not be used); empty when all
    went as it should.
    """

    name: str
    warnings: Sequence[str] = ()

    @abc.abstractmethod
    def run(self, spec: RunSpec) -> RunResult:
        """Run the module as a WASI command (its ``_start``) under ``spec``.

        Never raises for anything the guest does: every failure comes back as
        a classified trap in the result.
        """

    @abc.abstractmethod
    def instantiate(self, limits: Limits | None = None) -> Instance:
        """Instantiate without WASI or host API (for modules that import nothing).

        Raises :class:`~sysinspect_wasm.errors.ModuleLoadError` (kind ``link
        error``) when the module has imports, :class:`~sysinspect_wasm.errors.GuestTrap`
        when its start function traps.
        """


class Backend(abc.ABC):
    """An engine that turns module bytes into runnable modules."""

    name: ClassVar[str]

    @abc.abstractmethod
    def load(self, wasm: bytes | Path, *, name: str | None = None) -> Module:
        """Load (validate, compile or parse) a module from bytes or a path.

        Raises :class:`~sysinspect_wasm.errors.ModuleLoadError` when the bytes
        are not a valid module; the message names the module.
        """
