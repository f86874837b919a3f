"""The request campaign on WASI command modules: the corpus, and ``wasm-runtime diff`` on one module.

For a command module hypothesis draws whole examples
(:func:`.strategies.command_cases`: a request, the stdin it becomes, a file
tree for guest ``/`` and an ``api.exec`` tape); both backends run the module
on it and :func:`.compare.compare_runs` compares everything they did.
Argument and option names are steered towards the ones the module
documents: the manifest's, or those in the module's own ``man`` output.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from sysinspect_wasm.jsonio import compact_json
from sysinspect_wasm.spec import Limits

from .campaign import Divergence, Tally, run_campaign
from .compare import Comparison, compare_runs, trap_kind
from .filetree import describe_entry
from .harness import DEFAULT_BACKENDS, BaseCase, CommandCase, ModulePair
from .header import guest_input
from .normalise import STABLE, Volatility
from .responder import RECORDED, UNKNOWN_ANSWER
from .settings import Budget, budget
from .strategies import command_cases


@dataclass(frozen=True)
class ModuleHints:
    """What steers the drawn requests for one module, and what of its output is volatile."""

    module_id: str
    known_args: tuple[str, ...] = ()
    known_opts: tuple[str, ...] = ()
    commands: tuple[tuple[str, ...], ...] = ()
    volatility: Volatility = STABLE
    slow: bool = False
    bases: tuple[BaseCase, ...] = ()
    limits: Limits | None = None


@dataclass(frozen=True)
class CorpusModule:
    """One corpus module: its id, file and hints."""

    module_id: str
    path: Path
    hints: ModuleHints


def _names(items: Any) -> list[str]:
    found: list[str] = []
    if isinstance(items, list):
        for item in items:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                found.append(item["name"])
    elif isinstance(items, dict):
        found.extend(k for k in items if isinstance(k, str))
    return found


def names_from_documentation(stdout: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Argument and option names from a module's ``man`` output (the tutorial's doc layout)."""
    try:
        document = json.loads(stdout)
    except ValueError:
        return (), ()
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document = document["data"]
    if not isinstance(document, dict):
        return (), ()
    args = _names(document.get("arguments")) + _names(document.get("args"))
    opts = _names(document.get("options")) + _names(document.get("opts"))
    return tuple(dict.fromkeys(args)), tuple(dict.fromkeys(opts))


def discover_hints(pair: ModulePair, hints: ModuleHints, limits: Limits) -> ModuleHints:
    """Add the names the module documents (asked once with option ``man``, on the first backend only)."""
    if not pair.loaded:
        return hints
    document = {"args": {"rt.mod": hints.module_id, "rt.man": True}}
    given = guest_input(document)
    case = CommandCase(document, given.header, given.stdin)
    left = pair.run_one(0, case, limits)
    args, opts = names_from_documentation(left.result.stdout)
    return replace(hints, known_args=tuple(dict.fromkeys(hints.known_args + args)),
                   known_opts=tuple(dict.fromkeys((*hints.known_opts, *opts, "man"))))


def compare_loads(pair: ModulePair) -> Comparison:
    """Compare how the two backends took a module that at least one of them could not load."""
    comparison = Comparison(pair.backend_names[0], pair.backend_names[1])
    left, right = pair.load_errors
    if trap_kind(left) != trap_kind(right):
        comparison.differ("load", "", left or "loaded", right or "loaded")
    return comparison


def describe_case(case: CommandCase) -> str:
    """The example for a report: request, stdin (when it is more than the header), files, tape changes."""
    lines = ["request: " + compact_json(case.request)]
    header_line = compact_json(case.header).encode() + b"\n"
    if case.stdin != header_line:
        lines.append(f"stdin: {case.stdin!r}")
    if case.files:
        lines.append("files under guest /:")
        lines += [f"  /{path}: {describe_entry(entry)}" for path, entry in sorted(case.files.items())]
    if not case.writable:
        lines.append("guest / is read-only")
    if not case.allow_exec:
        lines.append("api.exec is refused by the host")
    if case.packagekit:
        lines.append("PackageKit was asked for, but differential runs never reach a bus (its helpers answer errors)")
    if case.limits is not None:
        lines.append(f"limits: {case.limits}")
    changed = {k: v for k, v in case.tape.answers.items() if RECORDED.get(k) != v}
    for (argv, cwd), outcome in changed.items():
        lines.append(f"api.exec {list(argv)} (cwd {cwd}) answers {outcome.as_json()}")
    if case.tape.fallback != UNKNOWN_ANSWER:
        lines.append(f"api.exec of any other command answers {case.tape.fallback.as_json()}")
    return "\n".join(lines)


def command_campaign(wasm: bytes | Path, hints: ModuleHints, examples: int, *, seed: int | None = None,
                     chosen: Budget | None = None, backends: Sequence[str] = DEFAULT_BACKENDS,
                     derandomize: bool = False, live_exec: bool = False,
                     progress: Callable[[Tally], None] | None = None, trace: bool = False) -> Tally:
    """Draw ``examples`` examples for one command module and compare the backends on each (``trace``: their
    WASI and host API calls too, call by call)."""
    chosen = chosen or budget()
    limits = hints.limits or Limits(timeout=chosen.run_timeout)
    tally = Tally(hints.module_id, progress=progress)
    pair = ModulePair(wasm, hints.module_id, backends, trace=trace)
    if not pair.loaded:
        with contextlib.suppress(Divergence):  # recorded in the tally
            tally.check(compare_loads(pair), lambda: "loading the module")
        return tally
    hints = discover_hints(pair, hints, limits)

    return run_campaign(tally, cases_for(hints), case_checker(pair, hints, limits, tally, live_exec=live_exec),
                        examples=examples, seed=seed, derandomize=derandomize)


def cases_for(hints: ModuleHints) -> st.SearchStrategy[CommandCase]:
    """The examples drawn for one module, steered by its hints."""
    return command_cases(hints.module_id, hints.known_args, hints.known_opts, hints.commands, hints.bases)


def case_checker(pair: ModulePair, hints: ModuleHints, limits: Limits, tally: Tally,
                 *, live_exec: bool = False) -> Callable[[CommandCase], None]:
    """The body of a command-module campaign: run one example on both backends and score it."""

    def check(case: CommandCase) -> None:
        left, right = pair.run_case(case, limits, live_exec=live_exec)
        tally.check(compare_runs(left, right, hints.volatility), lambda: describe_case(case))

    return check


# -- the corpus -----------------------------------------------------------------------

SLOW_BYTES = 1_000_000
"""Modules larger than this (the Go ones, about 4.4 MB) take tens of seconds per run on the interpreter."""


def costly(entry: Any, limits: Limits | None, chosen: Budget) -> bool:
    """Whether a module's examples are expensive, so that budgets give it fewer.

    The Go modules (megabytes, tens of seconds per run on the interpreter),
    the benchmarks (their size arguments make the interpreter crawl), and
    modules that only ever stop at a short timeout (each example costs the
    timeout twice).
    """
    if entry.size > SLOW_BYTES or "benchmark" in entry.purpose.lower():
        return True
    return limits is not None and limits.timeout is not None and limits.timeout < chosen.run_timeout


def base_case(case: Any, chosen: Budget) -> BaseCase:
    """A corpus case (``sysinspect_wasm_corpus.Case``) as the starting point of drawn examples.

    The case's root decides the file tree and its writability: ``tree`` its
    fixture files, ``scratch`` an empty writable folder, ``host`` and
    ``none`` a drawn read-only tree (a differential run never shows the
    host's own files: both backends must see the same world). Its limits
    are kept, with the budget's timeout when it sets none.
    """
    limits = dict(case.limits)
    return BaseCase(
        name=case.name,
        request=dict(case.request),
        limits=Limits(
            timeout=float(limits.get("timeout", chosen.run_timeout)),
            **{k: int(v) for k, v in limits.items() if k in ("memory_bytes", "stdout_bytes", "stderr_bytes")},
        ),
        writable=case.root == "scratch",
        allow_exec=case.allow_exec,
        packagekit=bool(case.packagekit),
        files={path: text.encode() for path, text in case.tree.items()} if case.root == "tree" else {},
    )


def _commands(host_state: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    commands: list[tuple[str, ...]] = []
    for item in host_state:
        if item.startswith("/"):
            continue
        argv = tuple(item.split())
        commands += [argv, (f"/usr/bin/{argv[0]}", *argv[1:])]
    return tuple(commands)


def _case_names(cases: Sequence[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    args: dict[str, None] = {}
    opts: dict[str, None] = {}
    for case in cases:
        request = case.request
        for key in (request.get("arguments") or request.get("args") or {}):
            if not str(key).startswith("rt."):
                args[str(key)] = None
        for option in (request.get("options") or request.get("opts") or []):
            if isinstance(option, str) and not option.startswith("rt."):
                opts[option] = None
    return tuple(args), tuple(opts)


def corpus_modules(ids: Iterable[str] | None = None, chosen: Budget | None = None) -> list[CorpusModule]:
    """The corpus modules (all, or those in ``ids``) with hints and base cases from the manifest."""
    # imported by name: the corpus package is mapped only at install time, and mypy does not see it
    corpus: Any = importlib.import_module("sysinspect_wasm_corpus")
    chosen = chosen or budget()
    entries = {entry.id: entry for entry in corpus.manifest()}
    wanted = list(ids) if ids is not None else sorted(entries)
    found = []
    for module_id in wanted:
        if module_id not in entries:
            raise KeyError(f"no corpus module {module_id!r} (see python corpus/build.py --list)")
        entry = entries[module_id]
        args, opts = _case_names(entry.cases)
        marks = tuple(entry.nondeterministic)
        bases = tuple(base_case(c, chosen) for c in entry.cases)
        # a module whose every case sets the same limits (an endless loop with a 1 s timeout,
        # a memory hog with 16 MiB) gets them for the examples drawn from scratch too
        shared = {b.limits for b in bases}
        limits = shared.pop() if len(shared) == 1 else None
        hints = ModuleHints(
            module_id,
            known_args=args,
            known_opts=opts,
            commands=_commands(entry.host_state),
            volatility=Volatility(reason=", ".join(marks), structure=True) if marks else STABLE,
            slow=costly(entry, limits, chosen),
            bases=bases,
            limits=limits,
        )
        found.append(CorpusModule(module_id, corpus.module_path(module_id), hints))
    return found
