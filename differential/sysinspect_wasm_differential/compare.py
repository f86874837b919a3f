"""The comparator: both backends' observations side by side, every difference listed.

Two kinds of observation are compared here and nowhere else:

* a WASI command run (:class:`RunObservation`: the :class:`RunResult` and the
  file tree the guest left behind), for corpus modules and ``wasm-runtime diff``;
* a bare instance driven export by export (:class:`InstanceTrace`), for
  generated modules.

The only normalisations applied are the named ones in :mod:`.normalise`;
each comparison records which of them actually changed something, and
whether the example was poisoned (inconclusive) rather than compared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sysinspect_wasm.result import ExportInfo, HostCall, RunResult, Value
from sysinspect_wasm.traps import Frame, Trap

from .filetree import Snapshot, describe_entry
from .normalise import (
    LOG_TIMESTAMP,
    NAN_PAYLOAD,
    STABLE,
    TRACE_CLOCK,
    TRAP_SITE,
    VOLATILE_OUTPUT,
    Normalisation,
    Volatility,
    agreed_limit,
    canonical_value,
    mask_stream,
    normalise_logs,
    normalise_trace,
    poisoning,
)

T = TypeVar("T")

SHOWN_BYTES = 400
"""How much of a byte string a difference shows."""


@dataclass(frozen=True)
class Difference:
    """One observed difference: what differs, and each side's value rendered for people."""

    aspect: str
    where: str
    left: str
    right: str

    def __str__(self) -> str:
        place = f" ({self.where})" if self.where else ""
        return f"{self.aspect}{place}: {self.left} | {self.right}"


@dataclass
class Comparison:
    """The result of comparing two observations of the same example."""

    left_name: str
    right_name: str
    differences: list[Difference] = field(default_factory=list)
    normalised: list[Normalisation] = field(default_factory=list)
    poisoned: Normalisation | None = None

    @property
    def agree(self) -> bool:
        """True when nothing differs (a poisoned example also has no differences)."""
        return not self.differences

    @property
    def conclusive(self) -> bool:
        """False when a normalisation poisoned the example."""
        return self.poisoned is None

    def signature(self) -> str:
        """The aspects that differ, e.g. ``stdout+exit code``: one divergence class per signature."""
        return "+".join(sorted({d.aspect for d in self.differences}))

    def differ(self, aspect: str, where: str, left: object, right: object) -> None:
        """Record a difference, rendering both sides."""
        self.differences.append(Difference(aspect, where, render(left), render(right)))

    def applied(self, normalisation: Normalisation) -> None:
        """Record that ``normalisation`` changed something in this comparison."""
        if normalisation not in self.normalised:
            self.normalised.append(normalisation)


def render(value: object) -> str:
    """A one-line rendering of an observed value, long byte strings cut."""
    if value is None:
        return "(none)"
    if isinstance(value, bytes):
        shown = repr(value[:SHOWN_BYTES])
        return shown + (f"... ({len(value)} bytes)" if len(value) > SHOWN_BYTES else "")
    if isinstance(value, Trap):
        return f"trap {value.kind.value}"
    if isinstance(value, Value):
        return str(value)
    if isinstance(value, list | tuple) and all(isinstance(v, Value) for v in value):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _limited(comparison: Comparison, left: Trap | None, right: Trap | None) -> bool:
    """Apply the limit normalisations; True when nothing more is to be compared."""
    limit = poisoning(left, right)
    if limit is None:
        return False
    if agreed_limit(left, right):
        comparison.applied(limit)
    else:
        comparison.poisoned = limit
    return True


def trap_kind(trap: Trap | None) -> str | None:
    """The comparable part of a trap: its kind (never its message, see ``trap-message``)."""
    return None if trap is None else trap.kind.value


# -- WASI command runs --------------------------------------------------------


@dataclass(frozen=True)
class RunObservation:
    """What one backend did with one example: the run's result and the file tree left behind."""

    backend: str
    result: RunResult
    files: Snapshot | None = None
    trace: tuple[str, ...] | None = None  # the --trace lines of the run (None: not traced)


def _host_call_view(call: HostCall, mask_request: bool) -> tuple[object, ...]:
    request = "<volatile>" if mask_request and call.function == "log" else call.request
    return (call.function, call.args, request, call.output, call.result)


def _compare_sequences(
    comparison: Comparison, aspect: str, left: Sequence[T], right: Sequence[T], show: Callable[[T], object]
) -> None:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            comparison.differ(aspect, f"#{index}", show(a), show(b))
            return
    if len(left) != len(right):
        shorter = min(len(left), len(right))
        extra_left = show(left[shorter]) if len(left) > shorter else "(no more)"
        extra_right = show(right[shorter]) if len(right) > shorter else "(no more)"
        comparison.differ(aspect, f"{len(left)} vs {len(right)} entries, first extra #{shorter}", extra_left, extra_right)


def _show_call(call: tuple[object, ...]) -> str:
    function, args, request, output, result = call
    text = f"{function}{args} -> {result}"
    if request is not None:
        text += f" request={render(request)}"
    if isinstance(output, bytes):
        text += f" wrote={render(output)}"
    return text


def compare_runs(left: RunObservation, right: RunObservation, volatility: Volatility = STABLE) -> Comparison:
    """Compare two runs of the same command module on the same example.

    Exit code, trap kind, stdout, stderr, host-API calls, log lines and the
    resulting file tree; after the named normalisations only.
    """
    comparison = Comparison(left.backend, right.backend)
    a, b = left.result, right.result
    if _limited(comparison, a.trap, b.trap):
        return comparison

    if trap_kind(a.trap) != trap_kind(b.trap):
        comparison.differ("trap", "", a.trap, b.trap)
    elif a.trap is not None:
        _compare_frames(comparison, a.frames, b.frames)
    if a.exit_code != b.exit_code:
        comparison.differ("exit code", "", a.exit_code, b.exit_code)

    for aspect, data_a, data_b, pointers, whole, structure in (
        ("stdout", a.stdout, b.stdout, volatility.stdout_pointers, volatility.stdout, volatility.structure),
        ("stderr", a.stderr, b.stderr, (), volatility.stderr, False),
    ):
        masked_a, changed_a = mask_stream(data_a, pointers, whole, structure)
        masked_b, changed_b = mask_stream(data_b, pointers, whole, structure)
        if changed_a or changed_b:
            comparison.applied(VOLATILE_OUTPUT)
        if masked_a != masked_b:
            offset = _first_difference(masked_a, masked_b)
            where = f"{len(masked_a)} vs {len(masked_b)} bytes, first difference at byte {offset}"
            comparison.differ(aspect, where, _window(masked_a, offset), _window(masked_b, offset))

    logs_a, logs_b = normalise_logs(a.logs), normalise_logs(b.logs)
    if logs_a != list(a.logs) or logs_b != list(b.logs):
        comparison.applied(LOG_TIMESTAMP)
    if volatility.logs:
        if logs_a or logs_b:
            comparison.applied(VOLATILE_OUTPUT)
        logs_a, logs_b = ["<volatile>"] * len(logs_a), ["<volatile>"] * len(logs_b)
    _compare_sequences(comparison, "logs", logs_a, logs_b, lambda line: line)

    calls_a = [_host_call_view(c, volatility.logs) for c in a.host_calls]
    calls_b = [_host_call_view(c, volatility.logs) for c in b.host_calls]
    _compare_sequences(comparison, "host calls", calls_a, calls_b, _show_call)

    if left.trace is not None and right.trace is not None:
        trace_a, trace_b = normalise_trace(left.trace), normalise_trace(right.trace)
        if trace_a != list(left.trace) or trace_b != list(right.trace):
            comparison.applied(TRACE_CLOCK)
        _compare_sequences(comparison, "trace", trace_a, trace_b, lambda line: line)

    if left.files is not None and right.files is not None:
        for path in sorted(set(left.files) | set(right.files)):
            entry_a, entry_b = left.files.get(path), right.files.get(path)
            if entry_a != entry_b:
                comparison.differ("files", "/" + path, describe_entry(entry_a), describe_entry(entry_b))
    return comparison


def _show_frame(frame: Frame) -> str:
    return f"function {frame.func_index} at module offset 0x{frame.module_offset:x}"


def _compare_frames(comparison: Comparison, left: Sequence[Frame], right: Sequence[Frame]) -> None:
    """The backtraces of a trap both sides agree on: every frame, the innermost one's offset aside (TRAP_SITE)."""
    if not left or not right:  # a side that could not read its stack says nothing about it
        return
    if left[0].func_index == right[0].func_index and left[0] != right[0]:
        comparison.applied(TRAP_SITE)
        left, right = [right[0], *left[1:]], right
    _compare_sequences(comparison, "backtrace", left, right, _show_frame)


def _first_difference(a: bytes, b: bytes) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


CONTEXT_BYTES = 80


def _window(data: bytes, offset: int) -> bytes | str:
    """The bytes around ``offset`` (the whole stream when it is short)."""
    if len(data) <= SHOWN_BYTES:
        return data
    start = max(0, offset - CONTEXT_BYTES)
    return f"...{data[start:offset + CONTEXT_BYTES]!r}..." if start else f"{data[:offset + CONTEXT_BYTES]!r}..."


# -- generated modules: bare instances ----------------------------------------


@dataclass(frozen=True)
class CallOutcome:
    """What one call of an export did on one backend, and the exported state after it.

    ``error`` is a harness-level failure (the backend raised something other
    than a trap): always a bug in a backend wrapper.
    """

    values: tuple[Value, ...] | None = None
    trap: Trap | None = None
    error: str | None = None
    globals: tuple[tuple[str, Value], ...] = ()
    memories: tuple[tuple[str, bytes], ...] = ()


@dataclass
class InstanceTrace:
    """Everything one backend did with one generated module, step by step."""

    backend: str
    load_error: Trap | None = None
    instantiate_trap: Trap | None = None
    instantiate_error: str | None = None
    exports: list[ExportInfo] = field(default_factory=list)
    calls: list[CallOutcome] = field(default_factory=list)


def _canonical(comparison: Comparison, values: Sequence[Value]) -> list[Value]:
    canonical = [canonical_value(v) for v in values]
    if canonical != list(values):
        comparison.applied(NAN_PAYLOAD)
    return canonical


def _compare_memory(comparison: Comparison, where: str, a: bytes, b: bytes) -> None:
    if a == b:
        return
    if len(a) != len(b):
        comparison.differ("memory", f"{where}: size", f"{len(a)} bytes", f"{len(b)} bytes")
        return
    offsets = [i for i in range(len(a)) if a[i] != b[i]]
    first = offsets[0]
    window = slice(first, min(first + 16, len(a)))
    comparison.differ(
        "memory", f"{where}: {len(offsets)} bytes differ, first at 0x{first:x}", a[window].hex(" "), b[window].hex(" ")
    )


def compare_call(comparison: Comparison, where: str, a: CallOutcome, b: CallOutcome) -> bool:
    """Compare one call's outcomes into ``comparison``; False when the rest of the example is poisoned."""
    if a.error is not None or b.error is not None:
        if a.error != b.error:
            comparison.differ("backend error", where, a.error, b.error)
        return False
    if _limited(comparison, a.trap, b.trap):
        return False
    if trap_kind(a.trap) != trap_kind(b.trap):
        comparison.differ("trap", where, a.trap if a.trap else render(a.values), b.trap if b.trap else render(b.values))
    elif a.values is not None and b.values is not None:
        values_a, values_b = _canonical(comparison, a.values), _canonical(comparison, b.values)
        if values_a != values_b:
            comparison.differ("result", where, values_a, values_b)
    globals_b = dict(b.globals)
    for name, value in a.globals:
        other = globals_b.get(name)
        if other is None:
            continue
        value_a, value_b = _canonical(comparison, [value, other])
        if value_a != value_b:
            comparison.differ("global", f"{where}: global {name!r}", value_a, value_b)
    memories_b = dict(b.memories)
    for name, data in a.memories:
        if name in memories_b:
            _compare_memory(comparison, f"{where}: memory {name!r}", data, memories_b[name])
    return True


def _show_export(info: ExportInfo) -> str:
    if info.kind == "func":
        return f"{info.kind} {info.name!r} ({' '.join(info.params)}) -> ({' '.join(info.results)})"
    return f"{info.kind} {info.name!r}"


def compare_traces(left: InstanceTrace, right: InstanceTrace, steps: Sequence[str] = ()) -> Comparison:
    """Compare two backends' traces of the same generated module and call plan.

    ``steps`` names each call for the report (``f3(i32:1, f64:nan)``).
    Load, instantiation, the export list, then each call's result or trap
    and the exported globals and memories after it; a stack overflow or a
    timeout on either side stops the comparison there.
    """
    comparison = Comparison(left.backend, right.backend)
    if (left.load_error is None) != (right.load_error is None):
        comparison.differ("load", "", left.load_error or "loaded", right.load_error or "loaded")
        return comparison
    if left.load_error is not None:
        return comparison
    if left.instantiate_error is not None or right.instantiate_error is not None:
        if left.instantiate_error != right.instantiate_error:
            comparison.differ("backend error", "instantiate", left.instantiate_error, right.instantiate_error)
        return comparison
    if _limited(comparison, left.instantiate_trap, right.instantiate_trap):
        return comparison
    if trap_kind(left.instantiate_trap) != trap_kind(right.instantiate_trap):
        comparison.differ("instantiate", "start function and segments",
                          left.instantiate_trap or "instantiated", right.instantiate_trap or "instantiated")
        return comparison
    if left.instantiate_trap is not None:
        return comparison
    _compare_sequences(comparison, "exports", left.exports, right.exports, _show_export)
    if comparison.differences:
        return comparison
    for index, (a, b) in enumerate(zip(left.calls, right.calls, strict=False)):
        where = steps[index] if index < len(steps) else f"call #{index}"
        if not compare_call(comparison, f"#{index} {where}", a, b):
            break
    return comparison
