"""The executor interface every backend implements.

Kept as small as wasmtime's differential-fuzzing engine traits: a backend
loads a module; a module runs WASI commands or gives bare instances; an
instance calls exports and reads globals and memory. A bare instance may
import from other instances of the same backend (the WebAssembly spec test
suite's ``spectest`` module and ``register``): that is the one addition
beyond wasmtime's traits, and it needs nothing but a mapping from import
module names to instances.

Errors a caller can cause (everything else a guest does is a trap):

- :class:`~sysinspect_wasm.errors.ModuleLoadError`, kind ``invalid module``,
  from :meth:`Backend.load`: bytes that are not a valid module (or an
  unreadable path);
- :class:`~sysinspect_wasm.errors.ModuleLoadError`, kind ``link error``,
  from :meth:`Module.instantiate`: an import that ``imports`` does not
  provide, or provides with another type, or instances of different stores
  or backends given together;
- :class:`KeyError` from :meth:`Instance.call`, :meth:`Instance.global_value`
  and :meth:`Instance.memory`: no export of that name and kind;
- :class:`TypeError` from :meth:`Instance.call`: arguments whose types are
  not the function's parameters; :class:`ValueError`: a value whose bits do
  not fit its type, or a non-null ``funcref`` passed in;
- :class:`~sysinspect_wasm.errors.GuestTrap`: the guest trapped (a start
  function, an active segment out of bounds, a called export), or a limit
  stopped it;
- :class:`~sysinspect_wasm.errors.WasmRuntimeError` itself from
  :meth:`Module.run`: the host cannot set up what ``spec`` asks for (a
  preopened directory that cannot be opened); nothing the guest does
  raises from ``run``, every guest failure is a trap in the result.

:meth:`Instance.exports` and the ``name``/``warnings`` of a module do not
raise. The exceptions above are the whole contract: the builtin
``KeyError``/``TypeError``/``ValueError`` for a caller's wrong arguments,
and subclasses of the project's one root ``WasmRuntimeError`` for the rest
(every exception class of the project derives from it). Anything else that
escapes a backend is a bug of that backend. Tested by
``tests/test_backend_traps.py`` and ``tests/test_backend_linking.py`` (both
backends), ``tests/test_production_instance.py`` (the argument errors) and
``tests/test_errors.py`` (the one root).
"""

from __future__ import annotations

import abc

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence
    from typing import ClassVar

    from .result import ExportInfo, RunResult, Value
    from .spec import Limits, RunSpec


class Instance(abc.ABC):
    """A bare instance of a module, for calling exports directly."""

    @abc.abstractmethod
    def exports(self) -> list[ExportInfo]:
        """The instance's exports in module order; never raises."""

    @abc.abstractmethod
    def call(self, name: str, args: Sequence[Value]) -> list[Value]:
        """Call exported function ``name``; a trap raises :class:`~sysinspect_wasm.errors.GuestTrap`.

        :class:`KeyError` when there is no such function, :class:`TypeError`
        for arguments of other types than its parameters, :class:`ValueError`
        for a value whose bits do not fit its type or a non-null ``funcref``.
        """

    @abc.abstractmethod
    def global_value(self, name: str) -> Value:
        """The current value of exported global ``name``; :class:`KeyError` when there is no such global."""

    @abc.abstractmethod
    def memory(self, name: str) -> bytes:
        """A copy of exported memory ``name``; :class:`KeyError` when there is no such memory."""


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
        a classified trap in the result. Raises
        :class:`~sysinspect_wasm.errors.WasmRuntimeError` only when the host
        cannot provide what ``spec`` asks for (a preopen that cannot be opened).
        """

    @abc.abstractmethod
    def module_bytes(self) -> bytes | None:
        """The module's bytes as its author built them, which a run's ``frames`` refer to (a trap's backtrace and
        diagnosis read them); read from the file at most once, and only if asked. ``None``: no longer to be had
        (the file changed since it was loaded, or cannot be read)."""

    @abc.abstractmethod
    def instantiate(self, limits: Limits | None = None, imports: Mapping[str, Instance] | None = None) -> Instance:
        """Instantiate without WASI or host API; import ``m::n`` is export ``n`` of ``imports[m]``.

        The new instance shares one store with the instances in ``imports``
        (so an imported memory, table or mutable global is the same object on
        both sides, as linking requires), whether or not it imports from
        them; ``limits`` apply to its calls, and the memory ceiling of the
        store is that of the store's first instance. Raises
        :class:`~sysinspect_wasm.errors.ModuleLoadError` (kind ``link
        error``) when an import is missing or has another type, or
        ``imports`` holds instances of different stores;
        :class:`~sysinspect_wasm.errors.GuestTrap` when initialisation (an
        active segment out of bounds) or the start function traps. Whatever
        such a failed instantiation wrote to imported memories and tables
        stays written, as the spec says.
        """


class Backend(abc.ABC):
    """An engine that turns module bytes into runnable modules."""

    name: ClassVar[str]

    @abc.abstractmethod
    def load(self, wasm: bytes | str | os.PathLike[str], *, name: str | None = None) -> Module:
        """Load (validate, compile or parse) a module from bytes or a path (a ``str`` or a ``Path``, as the caller
        has it: protocol mode keeps pathlib off a warm call by passing a ``str``).

        Raises :class:`~sysinspect_wasm.errors.ModuleLoadError` when the bytes
        are not a valid module; the message names the module.
        """
