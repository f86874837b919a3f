"""The validation differential: mutations, the three judges, the campaign, and the regressions it left (F15 to F18).

The judges are the real ones: wasmtime's validator configured as the
production backend, the reference backend's ``load``, and ``wasm-tools
validate --features wasm2,extended-const``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sysinspect_wasm_differential.findings import REGRESSIONS, VALIDITY_FINDINGS, ValidityFinding
from sysinspect_wasm_differential.judges import JUDGES, Verdict, agree, feature_set_difference, judge_all, signature
from sysinspect_wasm_differential.mutate import KINDS, Mutation, apply, apply_all, code_bodies, read_sections
from sysinspect_wasm_differential.smith import from_wat
from sysinspect_wasm_differential.validity import (
    Base,
    corpus_bases,
    reduce,
    spec_bases,
    validity_campaign,
)

from sysinspect_wasm import wasmbinary
from sysinspect_wasm.wasmbinary import DecodeError

pytest.importorskip("wasmtime")

TWO_FUNCTIONS = from_wat('(module (memory 1 2) (func (export "f") (result i32) i32.const 0 return)'
                         ' (func (export "g") (param i32) (result i32) local.get 0) (data (i32.const 0) "hi"))')

CI_EXAMPLES = int(os.environ.get("SYSINSPECT_VALIDITY_EXAMPLES", "150"))
"""The CI-length run's mutants (the long run is a documented command: README, 'Differential testing')."""
CI_SEED = 20


# -- mutations --------------------------------------------------------------------------------------------------


def test_after_end_appends_code_and_fixes_every_size() -> None:
    mutant = apply(TWO_FUNCTIONS, Mutation("after-end", at=1, data=b"\x41\x00\x1a"))
    sections = read_sections(mutant)
    assert sections is not None
    bodies = code_bodies(next(s for s in sections if s.id == 10).payload)
    assert bodies is not None and bodies[1].endswith(b"\x0b\x41\x00\x1a")
    verdicts = judge_all(mutant)
    assert not verdicts["wasm-tools"].valid and "operators remaining after end" in verdicts["wasm-tools"].reason


@pytest.mark.parametrize("width", [2, 3, 4, 5])
def test_leb_reencoding_stays_valid_up_to_five_bytes(width: int) -> None:
    sites = 2 * len(read_sections(TWO_FUNCTIONS) or []) + 2
    for at in range(sites):
        mutant = apply(TWO_FUNCTIONS, Mutation("leb", at=at, size=width - 2))
        assert mutant != TWO_FUNCTIONS or width == 1
        verdicts = judge_all(mutant)
        assert agree(verdicts) and verdicts["wasmtime"].valid, (at, verdicts)


def test_a_six_byte_leb_is_malformed_for_every_judge() -> None:
    mutant = apply(TWO_FUNCTIONS, Mutation("leb", at=0, size=4))
    verdicts = judge_all(mutant)
    assert agree(verdicts) and not verdicts["reference"].valid, verdicts


def test_section_edits() -> None:
    count = len(read_sections(TWO_FUNCTIONS) or [])
    swapped = apply(TWO_FUNCTIONS, Mutation("swap-sections", at=0, size=count - 1))
    assert sorted(swapped) == sorted(TWO_FUNCTIONS) and swapped != TWO_FUNCTIONS
    assert agree(judge_all(swapped)) and not judge_all(swapped)["reference"].valid
    doubled = apply(TWO_FUNCTIONS, Mutation("duplicate-section", at=1, size=1))
    assert len(read_sections(doubled) or []) == count + 1
    assert agree(judge_all(doubled))


def test_edits_go_on_after_an_earlier_edit_broke_the_header_or_left_bytes_after_the_last_body() -> None:
    """The mutator reads sections with the core's reader, less two of its rules, so that edits compound."""
    broken = apply(TWO_FUNCTIONS, Mutation("flip", at=0, data=b"\x01"))
    with pytest.raises(DecodeError):
        wasmbinary.read_sections(broken)
    assert [s.id for s in read_sections(broken) or []] == [s.id for s in read_sections(TWO_FUNCTIONS) or []]
    assert apply(broken, Mutation("duplicate-section", at=0)) != broken

    sections = read_sections(TWO_FUNCTIONS) or []
    code = next(s for s in sections if s.id == wasmbinary.SECTION_CODE)
    padded = code.payload + b"\x01\x0b"
    framed = wasmbinary.Section(wasmbinary.SECTION_CODE, 0, 0, len(padded))
    with pytest.raises(DecodeError, match="size mismatch"):
        wasmbinary.read_bodies(padded, framed)
    assert code_bodies(padded) == code_bodies(code.payload) and len(code_bodies(padded) or []) == 2


def test_byte_edits_and_unknown_kinds() -> None:
    assert apply(TWO_FUNCTIONS, Mutation("truncate", at=10)) == TWO_FUNCTIONS[:10]
    assert apply(TWO_FUNCTIONS, Mutation("delete", at=3, size=2)) == TWO_FUNCTIONS[:3] + TWO_FUNCTIONS[5:]
    assert apply(TWO_FUNCTIONS, Mutation("insert", at=8, data=b"\xff")) == TWO_FUNCTIONS[:8] + b"\xff" + TWO_FUNCTIONS[8:]
    assert apply(TWO_FUNCTIONS, Mutation("flip", at=9, data=b"\x00"))[9] == TWO_FUNCTIONS[9] ^ 1
    assert apply_all(b"\0asm\1\0\0\0\xff", [Mutation(kind) for kind in KINDS[4:]]) == b"\0asm\1\0\0\0\xff"
    with pytest.raises(ValueError, match="unknown mutation kind"):
        apply(TWO_FUNCTIONS, Mutation("twist"))


def test_reduce_keeps_the_disagreement_and_drops_the_rest() -> None:
    # a stand-in judge that disagrees exactly when the export section is there, whatever else the module holds
    def judge(wasm: bytes) -> dict[str, Verdict]:
        verdicts = judge_all(wasm)
        sections = read_sections(wasm) or []
        if any(s.id == 7 for s in sections):
            verdicts["reference"] = Verdict(not verdicts["reference"].valid, "stand-in")
        return verdicts

    sig = signature(judge(TWO_FUNCTIONS))
    reduced = reduce(TWO_FUNCTIONS, sig, judge)
    assert len(reduced) < len(TWO_FUNCTIONS)
    assert signature(judge(reduced)) == sig
    kept = [s.id for s in read_sections(reduced) or []]
    assert 7 in kept and 5 not in kept and 11 not in kept  # the memory and data go; the exports and their functions stay
    bodies = code_bodies(next(s for s in read_sections(reduced) or [] if s.id == 10).payload)
    assert bodies == [b"\x00\x00\x0b"] * 2  # no locals, unreachable, end


# -- the regressions ------------------------------------------------------------------------------------------


def _cases() -> list[Any]:
    cases: list[Any] = []
    for finding in VALIDITY_FINDINGS:
        for judge, valid in finding.verdicts:
            marks = [pytest.mark.xfail(strict=True, reason=f"{finding.id}: an upstream bug of {judge}")] \
                if judge in finding.upstream else []
            cases.append(pytest.param(finding, judge, valid, id=f"{finding.file}-{judge}", marks=marks))
    return cases


@pytest.mark.parametrize(("finding", "judge", "valid"), _cases())
def test_validity_regression(finding: ValidityFinding, judge: str, valid: bool) -> None:
    wasm = (REGRESSIONS / finding.file).read_bytes()
    verdict = judge_all(wasm)[judge]
    assert verdict.valid is valid, f"{finding.id} ({finding.title}): {judge} says {verdict}"


def test_feature_set_differences_are_named_and_nothing_else_is() -> None:
    for finding in VALIDITY_FINDINGS:
        wasm = (REGRESSIONS / finding.file).read_bytes()
        assert feature_set_difference(wasm, judge_all(wasm)) is finding.feature_set, finding.file


def test_every_regression_module_is_listed() -> None:
    listed = {f.file for f in VALIDITY_FINDINGS}
    assert {p.name for p in Path(REGRESSIONS).glob("*.wasm")} == listed
    text = (Path(REGRESSIONS).parent / "FINDINGS.md").read_text()
    assert all(f"regressions/{name}" in text for name in listed)


# -- the campaign ---------------------------------------------------------------------------------------------


def test_the_campaign_reaches_code_after_end_from_a_corpus_module_by_itself() -> None:
    """From a fixed seed and one corpus module: before rewrite 23 this was the disagreement F15 (FINDINGS.md)."""
    pools = {"corpus": corpus_bases(["compute-fib-wat"])}
    tally = validity_campaign(60, seed=1, pools=pools, smith_too=False)
    reached = [sig for sig in tally.verdicts if "operators remaining after end of function" in sig]
    assert reached, tally.summary()
    assert all(sig.startswith("wasmtime:invalid reference:invalid wasm-tools:invalid") for sig in reached)
    assert tally.findings == {}, tally.summary()


def test_ci_length_campaign_finds_no_disagreement() -> None:
    """The bounded run: corpus, spec-suite and wasm-smith bases; every class it meets is agreement or named."""
    pools = {"corpus": corpus_bases(), "spec": spec_bases()}
    assert len(pools["corpus"]) >= 20 and len(pools["spec"]) >= 100
    tally = validity_campaign(CI_EXAMPLES, seed=CI_SEED, pools=pools)
    print(tally.summary())
    assert tally.findings == {}, tally.summary()
    assert tally.agreed > CI_EXAMPLES // 2


def test_a_disagreement_is_shrunk_reduced_and_saved(tmp_path: Path) -> None:
    """A judge that wrongly accepts code after end (as the reference did) is caught, reduced and written out."""
    from sysinspect_wasm_differential.validity import save

    def lax(wasm: bytes) -> dict[str, Verdict]:
        verdicts = judge_all(wasm)
        if "operators remaining after end" in verdicts["reference"].reason:
            verdicts["reference"] = Verdict(True)
        return verdicts

    pools = {"base": [Base("two functions", TWO_FUNCTIONS)]}
    tally = validity_campaign(60, seed=3, pools=pools, smith_too=False, judge=lax)
    sigs = [s for s in tally.findings if "operators remaining after end" in s]
    assert sigs, tally.summary()
    found = tally.findings[sigs[0]]
    assert found.reduced is not None and len(found.reduced) <= len(found.wasm)
    written = save(tally, tmp_path)
    assert written and all(p.with_suffix(".json").is_file() for p in written)
    assert set(JUDGES) <= set(json.loads(written[0].with_suffix(".json").read_text())["verdicts"])
