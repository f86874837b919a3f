"""Command line: ``wasm-runtime diff PATH`` for module authors, ``campaign`` for long unattended runs.

``main(argv)`` is the ``diff`` command (the ``wasm-runtime`` console script
calls it with the arguments after ``diff``); ``python -m
sysinspect_wasm_differential`` offers both commands, ``diff`` and
``campaign``, through :func:`module_main`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sysinspect_wasm.backends import BACKEND_NAMES
from sysinspect_wasm.errors import BackendUnavailable

from .campaign import Tally
from .corpus import ModuleHints
from .normalise import STABLE, Volatility
from .report import format_tally, normalisations_manual, summary_table
from .settings import BUDGETS, Budget, budget
from .wasminfo import is_command

EXIT_AGREE = 0
EXIT_DIVERGED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

DIFF_DESCRIPTION = """\
Run one WebAssembly module on both backends (wasmtime, the production engine,
and pywasm, the reference interpreter) on many generated examples and report
every difference in what they do.

A WASI command module (one that exports _start) is run the way wasm-runtime
runs it: hypothesis draws requests (options, arguments with arbitrary JSON,
config, host traits, ext), a small file tree shown to the guest as /, and the
answers api.exec gives; the guest gets the request's header on stdin. Exit
code, stdout, stderr, trap kind, host-API calls, log lines and the file tree
left behind are compared. No host command runs: api.exec is answered from a
recorded tape shared by both backends (--live-exec runs unknown commands for
real, once each).

Any other module is instantiated bare (it must import nothing) and each
exported function is called with drawn arguments; results, traps, exported
globals and memories are compared after each call.

Each divergence is shrunk to a minimal example and shown with both backends'
values side by side. Differences that are not bugs are normalised, by name:
{normalisations}
"""

DIFF_EPILOG = """\
exit status: 0 no divergence, 1 divergence found, 2 usage error, 3 a backend
is unavailable on this host.

examples:
  wasm-runtime diff mymodule.wasm
  wasm-runtime diff mymodule.wasm --examples 500 --seed 1234
  wasm-runtime diff clock.wasm --volatile stdout      (its stdout shows the time)
  wasm-runtime diff report.wasm --volatile /generated_at
"""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of examples, mutants, requests)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed, in any base Python reads (``1234``, ``0x4d2``)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _backends(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError("give two backends separated by a comma, e.g. wasmtime,pywasm")
    return parts[0], parts[1]


def diff_parser(prog: str = "wasm-runtime diff") -> argparse.ArgumentParser:
    """The argument parser of the ``diff`` command."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DIFF_DESCRIPTION.format(normalisations=normalisations_manual()),
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", type=Path, help="the module to compare (a .wasm file)")
    parser.add_argument("--examples", "-n", type=positive_int, default=100, metavar="N",
                        help="how many examples to draw (default 100)")
    parser.add_argument("--seed", "-s", type=seed_int, default=None, metavar="S",
                        help="seed for a reproducible run (default: a fresh one, printed)")
    parser.add_argument("--module-id", metavar="ID", default=None,
                        help="the module id the guest sees in its log lines (default: the file name without .wasm)")
    parser.add_argument("--volatile", action="append", default=[], metavar="WHAT",
                        help="output that depends on the clock or random numbers: a JSON Pointer into stdout "
                             "(e.g. /time), or stdout, stderr, logs; repeatable")
    parser.add_argument("--trace", action="store_true",
                        help="also compare the two backends' traces (every WASI and api.* call, as run --trace "
                             "shows them) call by call, and name the first call where they part")
    parser.add_argument("--live-exec", action="store_true",
                        help="run commands the guest asks api.exec for that are not on the tape, for real "
                             "(once each; both backends get the same answer)")
    parser.add_argument("--backends", type=_backends, default=BACKEND_NAMES, metavar="LEFT,RIGHT",
                        help="the two backends to compare (default wasmtime,pywasm)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="time limit of one run on one backend (default 60; a timeout makes the example inconclusive)")
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="write each divergent example's artefacts (e.g. the module) into DIR")
    return parser


def _volatility(items: Sequence[str]) -> Volatility:
    if not items:
        return STABLE
    pointers = tuple(i for i in items if i.startswith("/"))
    streams = {i for i in items if not i.startswith("/")}
    unknown = streams - {"stdout", "stderr", "logs"}
    if unknown:
        raise SystemExit(f"--volatile takes a JSON Pointer (/key) or stdout, stderr, logs; not {', '.join(sorted(unknown))}")
    return Volatility("given on the command line", pointers, "stdout" in streams, "stderr" in streams, "logs" in streams)


def _progress_printer(every: int) -> Callable[[Tally], None]:
    last = [time.monotonic()]

    def show(tally: Tally) -> None:
        if tally.runs % every == 0 or time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"   ... {tally.subject}: {tally.runs} examples, {tally.agreed} agreed, "
                  f"{sum(tally.inconclusive.values())} inconclusive, {tally.diverged} divergences", flush=True)

    return show


def _save(tally: Tally, folder: Path | None) -> None:
    if not tally.findings:
        return
    if folder is None:
        if not any(f.artefacts for f in tally.findings.values()):
            return
        folder = Path(tempfile.mkdtemp(prefix="sysinspect-diff-findings-"))
    folder.mkdir(parents=True, exist_ok=True)
    for number, finding in enumerate(tally.findings.values(), start=1):
        (folder / f"finding-{number}.txt").write_text(finding.example + "\n")
        for name, data in finding.artefacts.items():
            (folder / f"finding-{number}-{name}").write_bytes(data)
    print(f"artefacts of the divergent examples: {folder}")


def _corpus_hints(path: Path, module_id: str, chosen: Budget) -> ModuleHints | None:
    """The corpus manifest's hints when ``path`` is a module of the corpus (its cases, its volatile output)."""
    try:
        from .corpus import corpus_modules

        module = corpus_modules([module_id], chosen)[0]
    except (ImportError, KeyError):
        return None
    if module.path.resolve() != path.resolve():
        return None
    return module.hints


def main(argv: list[str] | None = None) -> int:
    """``wasm-runtime diff PATH [--examples N] [--seed S]``: compare the backends on one module."""
    from .corpus import command_campaign
    from .generated import instance_campaign

    args = diff_parser().parse_args(argv)
    path: Path = args.path
    try:
        wasm = path.read_bytes()
    except OSError as exc:
        print(f"wasm-runtime diff: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    module_id = args.module_id or (path.name[: -len(".wasm")] if path.name.endswith(".wasm") else path.name)
    chosen = budget("dev")
    if args.timeout is not None:
        chosen = replace(chosen, run_timeout=args.timeout, call_timeout=args.timeout)
    volatility = _volatility(args.volatile)
    command = is_command(wasm)
    kind = "WASI command: drawn requests" if command else "bare instance: drawn export calls"
    print(f"wasm-runtime diff: {path} ({kind}), {args.backends[0]} vs {args.backends[1]}, "
          f"{args.examples} examples" + (f", seed {args.seed}" if args.seed is not None else ""), flush=True)
    hints = _corpus_hints(path, module_id, chosen) or ModuleHints(module_id)
    if volatility.any:
        hints = replace(hints, volatility=volatility)
    elif hints.volatility.any:
        print(f"the corpus manifest marks {module_id} as {hints.volatility.reason}-dependent: "
              "its numbers and strings are compared by type only", flush=True)
    try:
        if command:
            tally = command_campaign(wasm, hints, args.examples, seed=args.seed,
                                     chosen=chosen, backends=args.backends, live_exec=args.live_exec,
                                     trace=args.trace)
        else:
            tally = instance_campaign(wasm, module_id, args.examples, seed=args.seed, chosen=chosen,
                                      backends=args.backends)
    except BackendUnavailable as exc:
        print(f"wasm-runtime diff: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(format_tally(tally))
    _save(tally, args.save)
    if tally.findings:
        print(f"\n{tally.diverged} divergence(s): the backends disagree on {module_id}. "
              f"Repeat this run with --seed {tally.seed}.")
        return EXIT_DIVERGED
    print(f"\nno divergence in {tally.runs} examples ({tally.agreed} compared, "
          f"{sum(tally.inconclusive.values())} inconclusive).")
    return EXIT_AGREE


CAMPAIGN_DESCRIPTION = """\
The whole differential campaign, unattended, in five stages:

  corpus        drawn requests on every corpus module (--per-module each)
  filesystem    drawn file trees and WASI filesystem scripts through the probe (--examples)
  generated     wasm-smith modules, every export called on both backends (--examples)
  instructions  single-instruction modules with drawn operands (--examples)
  sweep         every instruction on every pair of its edge-case operands

Progress is printed as it goes; a summary table and every divergence
(shrunk to a minimal example, both backends side by side) are printed at the
end. The one command for a long run:

  python -m sysinspect_wasm_differential campaign --examples 2000

Exit status 1 when anything diverged. Divergent generated modules are saved
(--save, or a fresh temporary folder) so they can be turned into regressions.
"""

STAGES = ("corpus", "filesystem", "generated", "instructions", "sweep")


def campaign_parser(prog: str = "python -m sysinspect_wasm_differential campaign") -> argparse.ArgumentParser:
    """The argument parser of the ``campaign`` command."""
    parser = argparse.ArgumentParser(prog=prog, description=CAMPAIGN_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", "-n", type=positive_int, default=BUDGETS["long"].generated_examples, metavar="N",
                        help=f"filesystem scripts, generated and instruction modules to try, each "
                             f"(default {BUDGETS['long'].generated_examples})")
    parser.add_argument("--per-module", type=positive_int, default=None, metavar="N",
                        help=f"requests per corpus module (default {BUDGETS['long'].corpus_examples}, "
                             f"{BUDGETS['long'].slow_corpus_examples} for the slow Go modules)")
    parser.add_argument("--seed", "-s", type=seed_int, default=None, metavar="S",
                        help="seed for a reproducible campaign (default: a fresh one, printed)")
    parser.add_argument("--only", choices=STAGES, action="append", default=None,
                        help="run only this stage (repeatable; default: all five)")
    parser.add_argument("--module", action="append", default=None, metavar="ID",
                        help="corpus modules to include (default: all); repeatable")
    parser.add_argument("--save", type=Path, default=None, metavar="DIR",
                        help="write divergent generated modules into DIR (default: a fresh temporary folder)")
    return parser


def campaign_main(argv: list[str] | None = None) -> int:
    """The long campaign: every stage in turn, progress as it goes, a summary table at the end."""
    from .corpus import command_campaign, corpus_modules
    from .filesystem import PROBE, filesystem_campaign
    from .findings import known_finding
    from .generated import generated_campaign, instruction_campaign
    from .sweep import sweep_campaign

    args = campaign_parser().parse_args(argv)
    stages = args.only or list(STAGES)
    chosen = budget("long")
    seed = args.seed
    if seed is None:
        from .campaign import new_seed

        seed = new_seed()
    print(f"differential campaign, seed {seed} (repeat with --seed {seed}); stages: {', '.join(stages)}", flush=True)
    tallies: list[Tally] = []
    try:
        if "corpus" in stages:
            modules = corpus_modules(args.module, chosen)
            for number, module in enumerate(modules, start=1):
                count = args.per_module or (chosen.slow_corpus_examples if module.hints.slow else chosen.corpus_examples)
                print(f"[{number}/{len(modules)}] corpus module {module.module_id}: {count} examples", flush=True)
                tally = command_campaign(module.path, module.hints, count, seed=seed, chosen=chosen,
                                         progress=_progress_printer(10))
                tallies.append(tally)
                print(f"   done: {tally.agreed} agreed, {tally.diverged} divergences, {tally.elapsed:.1f} s", flush=True)
        if "filesystem" in stages:
            if PROBE.is_file():
                print(f"filesystem probe: {args.examples} examples", flush=True)
                tallies.append(filesystem_campaign(args.examples, seed=seed, chosen=chosen, progress=_progress_printer(50)))
            else:
                print(f"filesystem probe: skipped, {PROBE} is missing: this install is incomplete, reinstall the package (a checkout rebuilds it with tests/guests/build_fsprobe.sh)", flush=True)
        if "generated" in stages:
            print(f"generated modules (wasm-smith): {args.examples} examples", flush=True)
            tallies.append(generated_campaign(args.examples, seed=seed, chosen=chosen, known=known_finding,
                                              progress=_progress_printer(50)))
            _save(tallies[-1], args.save)
        if "instructions" in stages:
            print(f"single-instruction modules: {args.examples} examples", flush=True)
            tallies.append(instruction_campaign(args.examples, seed=seed, chosen=chosen, known=known_finding,
                                                progress=_progress_printer(50)))
            _save(tallies[-1], args.save)
        if "sweep" in stages:
            print("instruction sweep: every instruction on its edge-case operands", flush=True)
            tallies.append(sweep_campaign(progress=_progress_printer(100)))
    except BackendUnavailable as exc:
        print(f"campaign: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print()
    for tally in tallies:
        if tally.findings or tally.expected:
            print(format_tally(tally))
            print()
    print(summary_table(tallies))
    diverged = sum(t.diverged for t in tallies)
    print(f"\nseed {seed}: " + (f"{diverged} divergence class(es) found" if diverged else "no divergence"))
    return EXIT_DIVERGED if diverged else EXIT_AGREE


MODULE_USAGE = """\
usage: python -m sysinspect_wasm_differential {diff,campaign,spec-suite,validity} ...

  diff PATH [--examples N] [--seed S]   compare the backends on one module (as wasm-runtime diff)
  campaign [--examples N] [--seed S]    the whole differential campaign, unattended
  spec-suite DIR [--backend B] [--jobs N]  the WebAssembly spec test suite through our executor interface
  validity [--examples N] [--seed S]    the validation differential: mutated modules, three judges

Run either with --help for the details.
"""


def module_main(argv: list[str] | None = None) -> int:
    """``python -m sysinspect_wasm_differential {diff,campaign} ...``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in ("-h", "--help"):
        print(MODULE_USAGE)
        return EXIT_AGREE if arguments else EXIT_USAGE
    command, rest = arguments[0], arguments[1:]
    if command == "diff":
        return main(rest)
    if command == "campaign":
        return campaign_main(rest)
    if command == "spec-suite":
        from .specsuite import main as spec_suite_main

        return spec_suite_main(rest)
    if command == "validity":
        from .validity import main as validity_main

        return validity_main(rest)
    print(MODULE_USAGE, file=sys.stderr)
    print(f"unknown command {command!r}", file=sys.stderr)
    return EXIT_USAGE
