"""The three judges of a module's validity: wasmtime, the reference backend, and ``wasm-tools validate``.

- ``wasmtime``: wasmtime's validator under the production backend's engine
  configuration (what ``Backend.load`` of the wasmtime backend refuses);
- ``reference``: ``Backend.load`` of the pywasm backend, uncached (a full
  decode, our structural checks and our validator);
- ``wasm-tools``: ``wasm-tools validate --features`` :data:`OUR_FEATURES`,
  the WebAssembly 2.0 feature set both backends take (plus extended
  constant expressions, which the reference evaluates and wasmtime enables).

wasmtime 50 enables WebAssembly 3.0 by default (FINDINGS.md F10), so where
it alone accepts, :func:`feature_set_difference` asks ``wasm-tools`` again
with :data:`WASMTIME_FEATURES`: a module valid there is a feature-set
difference (``normalise.FEATURE_SET``), not a bug.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Any

from sysinspect_wasm.backends import PYWASM, get_backend
from sysinspect_wasm.errors import ModuleLoadError

from .smith import wasm_tools

JUDGES = ("wasmtime", "reference", "wasm-tools")
OUR_FEATURES = "wasm2,extended-const"
"""``wasm-tools validate --features``: what the reference backend implements (FINDINGS.md F7, F10)."""
WASMTIME_FEATURES = "wasm3,threads"
"""The proposals wasmtime 50 enables by default: the WebAssembly 3.0 set, and threads (shared memories, atomics)."""
TOOL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Verdict:
    """One judge's answer: valid or not, and (when not) its reason."""

    valid: bool
    reason: str = ""

    def __str__(self) -> str:
        return "valid" if self.valid else f"invalid ({self.reason})"


def _wasmtime_engine() -> Any:
    from sysinspect_wasm_production.engine import engine_for

    return engine_for().engine  # the production backend's own engine (one per process)


def judge_wasmtime(wasm: bytes) -> Verdict:
    """wasmtime's validator, configured as the production backend configures it."""
    import wasmtime

    try:
        wasmtime.Module.validate(_wasmtime_engine(), wasm)
    except wasmtime.WasmtimeError as exc:
        return Verdict(False, _last_line(str(exc)))
    return Verdict(True)


def judge_reference(wasm: bytes) -> Verdict:
    """The reference backend's ``load`` of the bytes (uncached: the full decode, every check)."""
    try:
        get_backend(PYWASM).load(wasm, name="mutant")
    except ModuleLoadError as exc:
        return Verdict(False, str(exc).removeprefix("module 'mutant' is not a valid WebAssembly module: "))
    return Verdict(True)


def judge_wasm_tools(wasm: bytes, features: str = OUR_FEATURES) -> Verdict:
    """``wasm-tools validate --features FEATURES`` of the bytes."""
    done = subprocess.run([wasm_tools(), "validate", "--features", features, "-"], input=wasm, capture_output=True,
                          timeout=TOOL_TIMEOUT, check=False)
    if done.returncode == 0:
        return Verdict(True)
    return Verdict(False, _last_line(done.stderr.decode(errors="replace")))


def judge_all(wasm: bytes) -> dict[str, Verdict]:
    """Every judge's verdict on ``wasm``, by the names of :data:`JUDGES`."""
    return {"wasmtime": judge_wasmtime(wasm), "reference": judge_reference(wasm), "wasm-tools": judge_wasm_tools(wasm)}


def feature_set_difference(wasm: bytes, verdicts: dict[str, Verdict]) -> bool:
    """wasmtime alone accepts, and the module is valid WebAssembly 3.0: the feature sets differ, nothing else."""
    if not verdicts["wasmtime"].valid or verdicts["reference"].valid or verdicts["wasm-tools"].valid:
        return False
    return judge_wasm_tools(wasm, WASMTIME_FEATURES).valid


_OFFSET = re.compile(r"\s*\(at offset 0x[0-9a-f]+\)")
_NUMBER = re.compile(r"0x[0-9a-fA-F]+|\d+")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else text.strip()
    return _OFFSET.sub("", re.sub(r"^\d+:\s*", "", last))


def reason_class(reason: str) -> str:
    """A reason with its numbers and offsets masked: the same class of error for different modules."""
    return _NUMBER.sub("N", _OFFSET.sub("", reason))


def signature(verdicts: dict[str, Verdict]) -> str:
    """The disagreement class: who accepts, and the class of the reason the refusing side gives.

    The reason is the ``wasm-tools`` one when it refuses (it words each rule
    once), else the first refusing judge's.
    """
    pattern = " ".join(f"{name}:{'valid' if verdicts[name].valid else 'invalid'}" for name in JUDGES)
    refusing = [name for name in ("wasm-tools", "wasmtime", "reference") if not verdicts[name].valid]
    why = reason_class(verdicts[refusing[0]].reason) if refusing else ""
    return f"{pattern} | {why}" if why else pattern


def agree(verdicts: dict[str, Verdict]) -> bool:
    """All three judges give the same answer."""
    return len({v.valid for v in verdicts.values()}) == 1
