"""Timeouts, the memory ceiling and output caps stop a guest the same way on both backends."""

from __future__ import annotations

import pytest
from conftest import wat_to_wasm
from wasi_wat import command, write_stdout

from sysinspect_wasm import Backend, Limits, RunSpec, TrapKind
from sysinspect_wasm.spec import MIB, WASM_PAGE

ENDLESS_LOOP = command("(loop $forever (br $forever))")
GROW_FOREVER = command("(loop $more (drop (memory.grow (i32.const 1))) (br $more))")


def test_endless_loop_is_stopped_by_the_timeout(backend: Backend) -> None:
    module = backend.load(wat_to_wasm(ENDLESS_LOOP), name="endless")
    result = module.run(RunSpec(limits=Limits(timeout=1.0)))  # the loop never ends by itself
    assert result.trap is not None and result.trap.kind is TrapKind.TIMEOUT


def test_output_before_a_timeout_is_kept(backend: Backend) -> None:
    wat = command(write_stdout(1024, 5) + "(loop $forever (br $forever))", extra='(data (i32.const 1024) "early")')
    result = backend.load(wat_to_wasm(wat), name="talks-then-loops").run(RunSpec(limits=Limits(timeout=0.5)))
    assert result.trap is not None and result.trap.kind is TrapKind.TIMEOUT
    assert result.stdout == b"early"


def test_growing_past_the_ceiling_is_stopped_with_memory_limit(backend: Backend) -> None:
    result = backend.load(wat_to_wasm(GROW_FOREVER), name="grows").run(RunSpec(limits=Limits(memory_bytes=4 * MIB)))
    assert result.trap is not None and result.trap.kind is TrapKind.MEMORY_LIMIT


def test_initial_memory_above_the_ceiling_is_a_memory_limit(backend: Backend) -> None:
    wat = command("", memory='(memory (export "memory") 100)')
    result = backend.load(wat_to_wasm(wat), name="big-start").run(RunSpec(limits=Limits(memory_bytes=MIB)))
    assert result.trap is not None and result.trap.kind is TrapKind.MEMORY_LIMIT


def grow_then_exit(pages: int) -> str:
    """A guest that grows by ``pages`` and exits with 7 if memory.grow said -1, else 0."""
    return command(
        f"(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1))"
        " (then (call $proc_exit (i32.const 7))))",
        memory='(memory (export "memory") 1 4)',
    )


def test_growing_past_the_declared_maximum_returns_minus_one(backend: Backend) -> None:
    result = backend.load(wat_to_wasm(grow_then_exit(10)), name="declared-max").run(RunSpec())
    assert (result.trap, result.exit_code) == (None, 7)


def test_growing_within_both_limits_succeeds(backend: Backend) -> None:
    result = backend.load(wat_to_wasm(grow_then_exit(3)), name="grows-ok").run(RunSpec())
    assert (result.trap, result.exit_code) == (None, 0)


def test_ceiling_above_pywasm_builtin_cap_is_honoured(backend: Backend) -> None:
    # pywasm on its own refuses to grow past 64 MiB; our ceiling must be the only limit.
    pages = 96 * MIB // WASM_PAGE
    wat = command(
        f"(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then (call $proc_exit (i32.const 7))))"
    )
    result = backend.load(wat_to_wasm(wat), name="big-grow").run(RunSpec(limits=Limits(memory_bytes=128 * MIB)))
    assert (result.trap, result.exit_code) == (None, 0)
    limited = backend.load(wat_to_wasm(wat), name="big-grow").run(RunSpec(limits=Limits(memory_bytes=64 * MIB)))
    assert limited.trap is not None and limited.trap.kind is TrapKind.MEMORY_LIMIT


def chatter(fd: int) -> str:
    """A guest that writes 1000-byte chunks of 'x' to ``fd`` forever."""
    return command(
        "(memory.fill (i32.const 1024) (i32.const 120) (i32.const 1000))"
        f"(loop $more {write_stdout(1024, 1000, fd)} (br $more))"
    )


@pytest.mark.parametrize("fd", [1, 2], ids=["stdout", "stderr"])
def test_output_past_the_cap_is_stopped_with_output_limit(backend: Backend, fd: int) -> None:
    limits = Limits(stdout_bytes=10_500, stderr_bytes=10_500, timeout=30)
    result = backend.load(wat_to_wasm(chatter(fd)), name="chatter").run(RunSpec(limits=limits))
    assert result.trap is not None and result.trap.kind is TrapKind.OUTPUT_LIMIT
    captured = result.stdout if fd == 1 else result.stderr
    assert captured == b"x" * 10_500


def test_output_exactly_at_the_cap_is_fine(backend: Backend) -> None:
    wat = command("(memory.fill (i32.const 1024) (i32.const 121) (i32.const 3000))" + write_stdout(1024, 3000))
    result = backend.load(wat_to_wasm(wat), name="exact").run(RunSpec(limits=Limits(stdout_bytes=3000)))
    assert result.ok and result.stdout == b"y" * 3000


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Limits(timeout=0)
    with pytest.raises(ValueError, match="memory_bytes"):
        Limits(memory_bytes=100)
