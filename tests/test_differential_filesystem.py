"""The filesystem campaign: drawn file trees and WASI filesystem scripts through the probe, on both backends.

The probe (tests/guests/fsprobe.c) answers each command with ``ok ...`` or
``err ERRNO``; every answer and the tree left behind must be the same on
wasmtime and on pywasm. Example counts come from
``sysinspect_wasm_differential.settings``.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import load_backend
from hypothesis import given
from sysinspect_wasm_differential.campaign import Finding, Tally
from sysinspect_wasm_differential.compare import Comparison, compare_runs
from sysinspect_wasm_differential.filesystem import PROBE, filesystem_cases, script_checker
from sysinspect_wasm_differential.filetree import DIRECTORY, FileTree
from sysinspect_wasm_differential.findings import BY_ID, KnownFinding, known_script, load_regression
from sysinspect_wasm_differential.harness import CommandCase, ModulePair
from sysinspect_wasm_differential.settings import budget, suite_settings
from sysinspect_wasm_differential.smith import from_wat

from sysinspect_wasm.backends import PYWASM, WASMTIME
from sysinspect_wasm.spec import Limits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probe() -> ModulePair:
    """The probe, loaded once by both backends."""
    load_backend(WASMTIME)
    load_backend(PYWASM)
    if not PROBE.is_file():
        pytest.skip(f"{PROBE} is missing (tests/guests/build_fsprobe.sh builds it)")
    return ModulePair(PROBE, "fsprobe")


def test_filesystem_scripts_agree(probe: ModulePair) -> None:
    """Every probe answer and the resulting tree agree, for drawn trees (writable or not) and scripts."""
    tally = Tally("filesystem")
    limits = Limits(timeout=budget().run_timeout)

    check = script_checker(probe, limits, tally)

    @suite_settings("filesystem")
    @given(filesystem_cases())
    def agrees(case: CommandCase) -> None:
        check(case)

    agrees()
    assert tally.agreed > 0


WASI_FINDINGS = [BY_ID["F8"], BY_ID["F9"]]


@pytest.mark.parametrize(
    "finding",
    [pytest.param(f, id=f.id, marks=[pytest.mark.xfail(strict=True, reason=f"{f.id}: {f.title} (open)")]
                  if f.open else []) for f in WASI_FINDINGS],
)
def test_wasi_finding_regression_agrees(probe: ModulePair, finding: KnownFinding) -> None:
    """F8, F9: the regression command gives wasmtime's (upstream's) answer, and the same on both backends."""
    regression = load_regression(finding)
    pair = ModulePair(from_wat(regression.text), finding.id)
    tree: FileTree = {name.rstrip("/"): DIRECTORY if name.endswith("/") else b"" for name in regression.tree}
    left, right = pair.run_case(CommandCase({}, {}, b"", tree), Limits(timeout=30))
    assert left.result.stdout == regression.stdout, f"wasmtime no longer answers as recorded: revisit {finding.id}"
    differences = compare_runs(left, right).differences
    assert not differences, "\n".join(str(d) for d in differences)


def test_open_wasi_findings_are_recognised_in_a_campaign_and_nothing_else_is() -> None:
    """An open finding keeps a campaign green only for its own trigger and its own kinds of difference.

    F8 and F9 are fixed, so the recorded list excuses neither any more; the
    recognition itself is checked with them reopened.
    """
    comparison = Comparison(WASMTIME, PYWASM)
    comparison.differ("stdout", "", b"err EINVAL\n", b"ok\n")
    finding = Finding("filesystem", comparison, "")
    assert known_script("rmdir /d/\n", finding) is None
    assert known_script("symlink x.txt /x.txt/\n", finding) is None
    reopened = [dataclasses.replace(f, open=True) for f in WASI_FINDINGS]
    assert known_script("stat /a\nrmdir /d/\n", finding, reopened) == "F8"
    assert known_script("symlink x.txt /x.txt/\n", finding, reopened) == "F9"
    assert known_script("link /f /g/\nrmdir /d/\n", finding, reopened) == "F8+F9"
    assert known_script("rmdir /d\nsymlink /d/ x\n", finding, reopened) is None
    comparison.differ("exit code", "", 0, 1)
    assert known_script("rmdir /d/\n", finding, reopened) is None
