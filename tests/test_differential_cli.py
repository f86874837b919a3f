"""``wasm-runtime diff`` (sysinspect_wasm_differential.cli.main) and ``python -m sysinspect_wasm_differential``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_backend, wat_to_wasm
from sysinspect_wasm_differential.cli import EXIT_AGREE, EXIT_DIVERGED, EXIT_USAGE, main, module_main

from sysinspect_wasm.backends import PYWASM, WASMTIME

pytestmark = pytest.mark.slow

RANDOM_BYTES = r"""(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "0123456789abcdef")
  (data (i32.const 300) "{\22random\22:\22")
  ;; prints {"random":"<8 random bytes in hex>"} and a newline
  (func (export "_start") (local $i i32) (local $b i32)
    (drop (call $random_get (i32.const 100) (i32.const 8)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 8)))
        (local.set $b (i32.load8_u (i32.add (i32.const 100) (local.get $i))))
        (i32.store8 (i32.add (i32.const 311) (i32.shl (local.get $i) (i32.const 1)))
                    (i32.load8_u (i32.shr_u (local.get $b) (i32.const 4))))
        (i32.store8 (i32.add (i32.const 312) (i32.shl (local.get $i) (i32.const 1)))
                    (i32.load8_u (i32.and (local.get $b) (i32.const 15))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store8 (i32.const 327) (i32.const 34))
    (i32.store8 (i32.const 328) (i32.const 125))
    (i32.store8 (i32.const 329) (i32.const 10))
    (i32.store (i32.const 16) (i32.const 300))
    (i32.store (i32.const 20) (i32.const 30))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
"""

BARE = """(module
  (global (export "count") (mut i32) (i32.const 0))
  (func (export "add") (param i32 i32) (result i32)
    (global.set 0 (i32.add (global.get 0) (i32.const 1)))
    (i32.add (local.get 0) (local.get 1))))
"""


@pytest.fixture(autouse=True)
def both_backends() -> None:
    """Skip (with the reason) where either backend is unavailable."""
    load_backend(WASMTIME)
    load_backend(PYWASM)


@pytest.fixture
def random_module(tmp_path: Path) -> Path:
    """A WASI command that prints 8 random bytes: different on every run, so on every backend."""
    path = tmp_path / "random-bytes.wasm"
    path.write_bytes(wat_to_wasm(RANDOM_BYTES))
    return path


def corpus_module(module_id: str) -> Path:
    corpus = pytest.importorskip("sysinspect_wasm_corpus")
    path: Path = corpus.module_path(module_id)
    return path


def test_diff_on_a_corpus_module_reports_no_divergence(capsys: pytest.CaptureFixture[str]) -> None:
    status = main([str(corpus_module("osrelease-c")), "--examples", "6", "--seed", "7"])
    out = capsys.readouterr().out
    assert status == EXIT_AGREE, out
    assert "WASI command" in out and "no divergence in" in out and "seed 7" in out


def test_diff_on_a_random_bytes_module_reports_the_divergence(random_module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main([str(random_module), "--examples", "5", "--seed", "3"])
    out = capsys.readouterr().out
    assert status == EXIT_DIVERGED, out
    assert "DIVERGENCE in random-bytes: stdout" in out
    assert "wasmtime" in out and "pywasm" in out and '{"random":"' in out
    assert "request: " in out  # the minimal example is shown
    assert "Repeat this run with --seed 3" in out


def test_diff_masks_what_the_author_marks_volatile(random_module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main([str(random_module), "--examples", "3", "--seed", "3", "--volatile", "/random"])
    out = capsys.readouterr().out
    assert status == EXIT_AGREE, out
    assert "volatile-output" in out


def test_diff_on_a_bare_module_calls_its_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bare.wasm"
    path.write_bytes(wat_to_wasm(BARE))
    status = main([str(path), "--examples", "5", "--seed", "1"])
    out = capsys.readouterr().out
    assert status == EXIT_AGREE, out
    assert "bare instance" in out


def test_diff_help_teaches_and_usage_errors_are_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for words in ("PATH", "--examples", "--seed", "log-timestamp", "nan-payload", "api.exec", "exit status"):
        assert words in text
    assert main([str(tmp_path / "missing.wasm")]) == EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["x.wasm", "--examples", "0"])


@pytest.mark.parametrize(("option", "value", "says"), [("--examples", "0", "must be at least 1, not 0"),
                                                      ("--examples", "many", "not a whole number: 'many'"),
                                                      ("--seed", "1.5", "not a whole number: '1.5'")])
def test_validity_refuses_a_bad_count_or_seed_as_the_other_commands_do(
        capsys: pytest.CaptureFixture[str], option: str, value: str, says: str) -> None:
    with pytest.raises(SystemExit) as done:
        module_main(["validity", option, value])
    assert done.value.code == EXIT_USAGE
    assert says in capsys.readouterr().err


def test_module_entry_point_offers_diff_and_campaign(capsys: pytest.CaptureFixture[str]) -> None:
    assert module_main([]) == EXIT_USAGE
    assert module_main(["--help"]) == EXIT_AGREE
    assert "campaign" in capsys.readouterr().out
    assert module_main(["nonsense"]) == EXIT_USAGE


def test_python_dash_m_runs_a_short_campaign_with_a_summary_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sysinspect_wasm_differential", "campaign", "--only", "instructions",
         "--examples", "4", "--seed", "5"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "seed 5" in done.stdout
    assert "subject" in done.stdout and "TOTAL" in done.stdout and "no divergence" in done.stdout
