"""The wasmtime engine configuration, in one place.

Everything that changes the native code wasmtime produces is a field of
:class:`EngineSettings`, so that a compiled-artifact cache can key its
entries by :meth:`EngineSettings.fingerprint` (together with the module's
content and the rewriter's version). Engines are shared per settings value:
modules can only run on the engine that compiled them, and the epoch clock
(see :mod:`.epoch`) belongs to the engine.
"""

from __future__ import annotations

import _thread
import os
import zlib

from sysinspect_wasm import jsoncodec
from sysinspect_wasm.records import FrozenInstanceError, FrozenRecord
from sysinspect_wasm.spec import MIB
from sysinspect_wasm.store.key import sha256

from . import native
from .epoch import EpochClock
from .versions import INSTRUMENT_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    import wasmtime

    R = TypeVar("R")


def _once(function: Callable[[], R]) -> Callable[[], R]:
    """``functools.cache`` for a function without arguments (functools, with what it imports, stays unloaded)."""
    found: list[R] = []

    def cached() -> R:
        if not found:
            found.append(function())
        return found[0]

    cached.__doc__ = function.__doc__
    cached.__wrapped__ = function  # type: ignore[attr-defined]
    cached.cache_clear = found.clear  # type: ignore[attr-defined]
    return cached


@_once
def wasmtime_version() -> str:
    """The installed wasmtime-py version (its native library is versioned with it).

    Read from the name of the package's ``dist-info`` folder when there is
    exactly one beside it: every warm call needs this value, and importing
    ``importlib.metadata`` alone costs more than the rest of the cache lookup.
    """
    site = os.path.dirname(os.path.abspath(native.package_dir()))
    prefix, suffix = "wasmtime-", ".dist-info"
    try:
        found = [name for name in os.listdir(site) if name.startswith(prefix) and name.endswith(suffix)]
    except OSError:
        found = []
    if len(found) == 1:
        return found[0][len(prefix) : -len(suffix)]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wasmtime")
    except PackageNotFoundError:  # pragma: no cover - an unpackaged wasmtime checkout
        return "unknown"


_REWRITER_SOURCES = ("instrument.py",)
"""The rewriter's own files here; the shared instruction decoder and binary reader (:mod:`sysinspect_wasm.opcodes`,
:mod:`sysinspect_wasm.wasmbinary`) are added to them."""
_SHARED_SOURCES = ("opcodes.py", "wasmbinary.py")


@_once
def rewriter_digest() -> str:
    """The CRC-32 of the memory.grow rewriter's source files, in hex ("unknown" where they cannot be read).

    Part of the fingerprint beside :data:`~.versions.INSTRUMENT_VERSION`: a
    change to the rewriter recompiles cached modules even if nobody bumped
    the version. A checksum, not a digest, because every warm call computes
    it and it only has to notice an edit, as the artifact's own checksum
    only has to notice damage.
    """
    import sysinspect_wasm

    here = os.path.dirname(os.path.abspath(__file__))
    core = os.path.dirname(os.path.abspath(sysinspect_wasm.__file__))
    checksum = 0
    for path in (*(os.path.join(here, name) for name in _REWRITER_SOURCES),
                 *(os.path.join(core, name) for name in _SHARED_SOURCES)):
        try:
            with open(path, "rb") as source:
                checksum = zlib.crc32(source.read(), checksum)
        except OSError:
            return "unknown"
    return f"{checksum:08x}"


def _host() -> tuple[str, str]:
    """(machine, system) as :mod:`platform` names them, without importing it where ``os.uname`` exists."""
    uname = getattr(os, "uname", None)
    if uname is not None:
        info = uname()
        return info.machine, info.sysname
    import platform

    return platform.machine(), platform.system()


class EngineSettings(FrozenRecord):
    """How the engine compiles and runs guests.

    ``max_wasm_stack`` bounds the native stack guest code may use (a deeper
    recursion traps with ``stack overflow``); it must stay well below the
    stack of the threads that run guests (8 MiB by default on Linux).
    ``relaxed_simd_deterministic`` makes relaxed-SIMD results the same on
    every host, which differential testing relies on. Epoch interruption is
    always on: timeouts and the output caps depend on it.
    """

    __match_args__ = ("max_wasm_stack", "cranelift_opt_level", "nan_canonicalization", "relaxed_simd_deterministic",
                      "parallel_compilation")
    max_wasm_stack: int
    cranelift_opt_level: str
    nan_canonicalization: bool
    relaxed_simd_deterministic: bool
    parallel_compilation: bool

    def __init__(self, max_wasm_stack: int = 1 * MIB, cranelift_opt_level: str = "speed",
                 nan_canonicalization: bool = False, relaxed_simd_deterministic: bool = True,
                 parallel_compilation: bool = True) -> None:
        self.__dict__.update(max_wasm_stack=max_wasm_stack, cranelift_opt_level=cranelift_opt_level,
                             nan_canonicalization=nan_canonicalization,
                             relaxed_simd_deterministic=relaxed_simd_deterministic,
                             parallel_compilation=parallel_compilation)

    def config(self) -> wasmtime.Config:
        """A fresh wasmtime-py Config carrying these settings (:func:`engine_for` makes its engine with :meth:`native_engine`)."""
        import wasmtime

        config = wasmtime.Config()
        config.strategy = "cranelift"
        config.epoch_interruption = True
        config.max_wasm_stack = self.max_wasm_stack
        config.cranelift_opt_level = self.cranelift_opt_level
        config.cranelift_nan_canonicalization = self.nan_canonicalization
        config.wasm_relaxed_simd_deterministic = self.relaxed_simd_deterministic
        config.parallel_compilation = self.parallel_compilation
        return config

    def native_engine(self) -> int:
        """A new engine with these settings, through the lean binding (a ``wasm_engine_t*``; see :meth:`config`)."""
        return native.new_engine(max_wasm_stack=self.max_wasm_stack, cranelift_opt_level=self.cranelift_opt_level,
                                 nan_canonicalization=self.nan_canonicalization,
                                 relaxed_simd_deterministic=self.relaxed_simd_deterministic,
                                 parallel_compilation=self.parallel_compilation)

    def material(self) -> dict[str, Any]:
        """Everything that makes compiled code incompatible, as plain JSON values.

        These settings, the wasmtime version, the host target and the
        memory.grow rewriter's version and source; :meth:`fingerprint` is its
        digest.
        """
        machine, system = _host()
        return {
            "settings": {name: getattr(self, name) for name in self.__match_args__},
            "epoch_interruption": True,
            "wasmtime": wasmtime_version(),
            "machine": machine,
            "system": system,
            "instrument": INSTRUMENT_VERSION,
            "rewriter": rewriter_digest(),
        }

    def fingerprint(self) -> str:
        """A stable digest of :meth:`material`: equal fingerprints, interchangeable native code."""
        return _fingerprint(self)


class _Fingerprints:
    """The fingerprint per settings, computed once (``functools.cache`` without functools, which stays unloaded)."""

    def __init__(self) -> None:
        self._known: dict[EngineSettings, str] = {}

    def __call__(self, settings: EngineSettings) -> str:
        found = self._known.get(settings)
        if found is None:
            found = sha256(jsoncodec.dumps(settings.material(), sort_keys=True).encode()).hexdigest()
            self._known[settings] = found
        return found

    def cache_clear(self) -> None:
        """Forget every fingerprint (as ``functools.cache``'s ``cache_clear``)."""
        self._known.clear()


_fingerprint = _Fingerprints()


DEFAULT_SETTINGS = EngineSettings()


class _WasmtimePyEngine:
    """The field ``engine`` of :class:`EngineHandle`: wasmtime-py's Engine, made on first use around the native one.

    A warm call runs on the native engine alone (:attr:`EngineHandle.native`) and never imports wasmtime-py;
    compiling and bare instances ask for this, and get a wasmtime-py ``Engine`` holding a clone of the same
    engine (a reference to it), so modules and stores of either side work with both.
    """

    def __get__(self, handle: EngineHandle | None, owner: type | None = None) -> wasmtime.Engine:
        if handle is None:
            return self  # type: ignore[return-value]
        engine = handle.__dict__["engine"]
        if isinstance(engine, int):
            import ctypes

            import wasmtime
            from wasmtime import _ffi

            wrapper = wasmtime.Engine.__new__(wasmtime.Engine)
            wrapper._set_ptr(ctypes.cast(native.c.wasmtime_engine_clone(engine), ctypes.POINTER(_ffi.wasm_engine_t)))
            handle.__dict__["engine"] = engine = wrapper
            # The handle lives as long as the process; wasmtime-py, imported after it, is torn down before it at
            # exit, and its Engine could no longer delete itself then: release the clone while it still can.
            import atexit

            atexit.register(wrapper.close)
        return engine  # type: ignore[no-any-return]

    def __set__(self, handle: EngineHandle, value: object) -> None:
        raise FrozenInstanceError("cannot assign to field 'engine'")

    def __delete__(self, handle: EngineHandle) -> None:
        raise FrozenInstanceError("cannot delete field 'engine'")


class EngineHandle(FrozenRecord):
    """A wasmtime engine with its settings and its epoch clock.

    ``engine`` is wasmtime-py's Engine (made on first use, see :class:`_WasmtimePyEngine`); :attr:`native` is
    the same engine for the lean binding. Either may be given: a ``wasm_engine_t*`` (an int) or an Engine.
    """

    __match_args__ = ("settings", "engine", "clock")
    settings: EngineSettings
    engine: wasmtime.Engine = _WasmtimePyEngine()  # type: ignore[assignment]
    clock: EpochClock

    def __init__(self, settings: EngineSettings, engine: wasmtime.Engine | int, clock: EpochClock) -> None:
        from .epoch import engine_pointer

        self.__dict__.update(settings=settings, engine=engine, clock=clock, native=engine_pointer(engine))

    @property
    def native(self) -> Any:
        """The engine for the lean binding (:mod:`.native`)."""
        return self.__dict__["native"]


_ENGINES: dict[EngineSettings, EngineHandle] = {}
_ENGINES_LOCK = _thread.allocate_lock()


def engine_for(settings: EngineSettings = DEFAULT_SETTINGS) -> EngineHandle:
    """The process-wide engine for ``settings`` (created on first use)."""
    with _ENGINES_LOCK:
        handle = _ENGINES.get(settings)
        if handle is None:
            engine = settings.native_engine()
            handle = EngineHandle(settings, engine, EpochClock(engine))
            _ENGINES[settings] = handle
        return handle
