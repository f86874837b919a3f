"""The wasmtime engine configuration, in one place.

Everything that changes the native code wasmtime produces is a field of
:class:`EngineSettings`, so that a compiled-artifact cache can key its
entries by :meth:`EngineSettings.fingerprint` (together with the module's
content and the rewriter's version). Engines are shared per settings value:
modules can only run on the engine that compiled them, and the epoch clock
(see :mod:`.epoch`) belongs to the engine.
"""

from __future__ import annotations

import hashlib
import json
import platform
import threading
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version

import wasmtime

from .epoch import EpochClock
from .instrument import INSTRUMENT_VERSION

MIB = 1024 * 1024


def wasmtime_version() -> str:
    """The installed wasmtime-py version (its native library is versioned with it)."""
    try:
        return version("wasmtime")
    except PackageNotFoundError:  # pragma: no cover - an unpackaged wasmtime checkout
        return "unknown"


@dataclass(frozen=True)
class EngineSettings:
    """How the engine compiles and runs guests.

    ``max_wasm_stack`` bounds the native stack guest code may use (a deeper
    recursion traps with ``stack overflow``); it must stay well below the
    stack of the threads that run guests (8 MiB by default on Linux).
    ``relaxed_simd_deterministic`` makes relaxed-SIMD results the same on
    every host, which differential testing relies on. Epoch interruption is
    always on: timeouts and the output caps depend on it.
    """

    max_wasm_stack: int = 1 * MIB
    cranelift_opt_level: str = "speed"
    nan_canonicalization: bool = False
    relaxed_simd_deterministic: bool = True
    parallel_compilation: bool = True

    def config(self) -> wasmtime.Config:
        """A fresh wasmtime Config carrying these settings."""
        config = wasmtime.Config()
        config.strategy = "cranelift"
        config.epoch_interruption = True
        config.max_wasm_stack = self.max_wasm_stack
        config.cranelift_opt_level = self.cranelift_opt_level
        config.cranelift_nan_canonicalization = self.nan_canonicalization
        config.wasm_relaxed_simd_deterministic = self.relaxed_simd_deterministic
        config.parallel_compilation = self.parallel_compilation
        return config

    def fingerprint(self) -> str:
        """A stable digest of everything that makes compiled code incompatible.

        Covers these settings, the wasmtime version, the host target and the
        memory.grow rewriter's version.
        """
        material = {
            "settings": asdict(self),
            "epoch_interruption": True,
            "wasmtime": wasmtime_version(),
            "machine": platform.machine(),
            "system": platform.system(),
            "instrument": INSTRUMENT_VERSION,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


DEFAULT_SETTINGS = EngineSettings()


@dataclass(frozen=True)
class EngineHandle:
    """A wasmtime engine with its settings and its epoch clock."""

    settings: EngineSettings
    engine: wasmtime.Engine
    clock: EpochClock


_ENGINES: dict[EngineSettings, EngineHandle] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(settings: EngineSettings = DEFAULT_SETTINGS) -> EngineHandle:
    """The process-wide engine for ``settings`` (created on first use)."""
    with _ENGINES_LOCK:
        handle = _ENGINES.get(settings)
        if handle is None:
            engine = wasmtime.Engine(settings.config())
            handle = EngineHandle(settings, engine, EpochClock(engine))
            _ENGINES[settings] = handle
        return handle
