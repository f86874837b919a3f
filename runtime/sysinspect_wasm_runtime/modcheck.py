"""``wasm-runtime check MODULE``: judge a module against the runtime's contract before it reaches a minion.

Each check gives one :class:`Finding` (pass, fail or skip, with the reason;
the measurements are ``info``):

- ``wasi-command``: a WebAssembly core module (not a WASI preview 2
  component) that validates and exports ``_start`` and ``memory``;
- ``imports``: every import is a WASI preview 1 function or a host function
  of the namespace ``api``, with the signature the runtime provides;
- ``man``: called with the option ``man``, it prints a module doc in the
  format of PROTOCOL.md 1.9;
- ``run``: a run with the doc's first example (or an empty request) ends
  within the time limit with retcode 0 and prints one JSON object;
- ``backends``: wasmtime and pywasm give the same answer to that request
  (pywasm in a process of its own, ended at its time budget: a skip, never
  a pass, when it runs out);
- ``size``, ``cold call``, ``warm call``: reported, never judged.

Runs use the executor interface with ``/`` read-only as guest ``/`` (a check
must not change the machine) and the host API as a minion has it. Modules
are loaded from their bytes, so no compiled artifact is left beside them; the
calls timed are whole ``wasm-runtime`` processes on a copy of the module in a
temporary sharelib with its own cache folder, so the cold call really
compiles.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sysinspect_wasm.backends import AUTO, PYWASM, WASMTIME, get_backend
from sysinspect_wasm.errors import BackendUnavailable, ModuleLoadError
from sysinspect_wasm.executor import Backend, Module
from sysinspect_wasm.hostapi import API_MODULE, HOST_FUNCTIONS
from sysinspect_wasm.jsonio import loads_serde
from sysinspect_wasm.library import MODULE_SUBDIR
from sysinspect_wasm.spec import Limits
from sysinspect_wasm.store.layout import CACHE_DIR_ENV
from sysinspect_wasm.traps import TrapKind
from sysinspect_wasm.wasmbinary import (
    MAGIC,
    SECTION_EXPORT,
    VERSION_1,
    DecodeError,
    Section,
    find_section,
    read_exports,
    read_import_signatures,
    read_sections,
)

from .header import build_header
from .output import OutputError, guest_data
from .protocol import TRAP_WORDS, guest_run_spec
from .request import RequestError, request_from_object
from .wasip1 import WASI_MODULE, WASI_SIGNATURES, describe

PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"
CHECKS = ("wasi-command", "imports", "man", "run", "backends", "size", "cold call", "warm call")
COMPONENT_VERSION = b"\x0d\x00\x01\x00"
"""The version and layer bytes of a WebAssembly component (what WASI preview 2 modules are)."""
LOG_STAMP = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\] - ")
WARM_CALLS = 3
NO_DOC_REQUEST = "an empty request (the module answers no module doc)"
"""How the run check names its request when the module doc gives none to take an example from."""


@dataclass(frozen=True)
class Finding:
    """One check's verdict."""

    check: str
    status: str
    reason: str
    value: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON data (``value`` only for the measurements)."""
        out: dict[str, Any] = {"check": self.check, "status": self.status, "reason": self.reason}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class CheckSettings:
    """How long a run may take, pywasm's budget, and whether to time whole calls."""

    timeout: float = 10.0
    pywasm_budget: float = 120.0
    timings: bool = True


@dataclass
class _Run:
    """A run's outcome, as the checks compare and judge it."""

    backend: str
    exit_code: int | None
    trap: TrapKind | None
    trap_text: str
    stdout: bytes
    stderr: bytes
    logs: list[str]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """The run as JSON data (output bytes in base64), for the pywasm worker's answer."""
        return {"backend": self.backend, "exit_code": self.exit_code, "trap": self.trap.value if self.trap else None,
                "trap_text": self.trap_text, "stdout": base64.b64encode(self.stdout).decode(),
                "stderr": base64.b64encode(self.stderr).decode(), "logs": self.logs, "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Run:
        """The run :meth:`as_json` wrote."""
        return cls(data["backend"], data["exit_code"], TrapKind(data["trap"]) if data["trap"] else None,
                   data["trap_text"], base64.b64decode(data["stdout"]), base64.b64decode(data["stderr"]),
                   list(data["logs"]), float(data["seconds"]))

    def comparable(self) -> tuple[Any, ...]:
        """What both backends must agree on: exit, trap kind, output, and the log lines less their time stamps."""
        return (self.exit_code, self.trap, self.stdout, [LOG_STAMP.sub("", line) for line in self.logs])


def _parse_json(data: bytes) -> tuple[bool, Any]:
    try:
        return True, loads_serde(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def _snippet(data: bytes, limit: int = 80) -> str:
    text = data.decode("utf-8", "replace").strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def doc_problems(doc: Any) -> list[str]:
    """Where ``doc`` departs from the module doc of PROTOCOL.md 1.9 (empty when it is one)."""
    if not isinstance(doc, dict):
        return [f"the answer is {type(doc).__name__} JSON, not an object"]
    problems = []
    for key in ("name", "description"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            problems.append(f'"{key}" must be a non-empty string' + ("" if key in doc else " (it is missing)"))
    for key in ("version", "author"):
        if key in doc and not _is_str(doc[key]):
            problems.append(f'"{key}" must be a string')
    lists: dict[str, tuple[tuple[str, ...], dict[str, Callable[[Any], bool]]]] = {
        "arguments": (("name", "description"), {"type": _is_str, "required": lambda v: isinstance(v, bool)}),
        "options": (("name", "description"), {}),
        "examples": (("code",), {"description": _is_str}),
    }
    for key, (required, optional) in lists.items():
        if key not in doc:
            continue
        items = doc[key]
        if not isinstance(items, list):
            problems.append(f'"{key}" must be a list of objects')
            continue
        for number, item in enumerate(items, 1):
            where = f'"{key}" item {number}'
            if not isinstance(item, dict):
                problems.append(f"{where} must be an object")
                continue
            problems += [f'{where} needs a string "{name}"' for name in required if not _is_str(item.get(name))]
            problems += [f'{where} has a "{name}" of the wrong type' for name, ok in optional.items()
                         if name in item and not ok(item[name])]
    if "returns" in doc:
        returns = doc["returns"]
        if not isinstance(returns, dict):
            problems.append('"returns" must be an object ({"description", "sample"})')
        elif "description" in returns and not _is_str(returns["description"]):
            problems.append('"returns" has a "description" that is not a string')
    return problems


def example_request(doc: Any) -> tuple[dict[str, Any], str]:
    """The request of the doc's first example, or ``{}``; and words saying which it is."""
    examples = doc.get("examples") if isinstance(doc, dict) else None
    if not isinstance(examples, list) or not examples:
        return {}, "an empty request (the doc has no example)"
    code = examples[0].get("code") if isinstance(examples[0], dict) else None
    ok, value = _parse_json(code.encode()) if isinstance(code, str) else (False, None)
    if not ok or not isinstance(value, dict):
        return {}, "an empty request (the first example's code is not a JSON request)"
    return value, f"the first example's request {json.dumps(value, ensure_ascii=False)}"


def execute(module: Any, backend: str, module_id: str, request: Mapping[str, Any], timeout: float,
            add_options: tuple[str, ...] = ()) -> _Run:
    """Run a loaded module on ``request`` as a minion would, with ``/`` read-only; raises :class:`RequestError`."""
    parsed = request_from_object(dict(request))
    header = build_header(parsed, add_options=add_options)
    spec = guest_run_spec(module_id, header, Path("/"), Limits(timeout=timeout), writable=False, allow_exec=True)
    started = time.monotonic()
    result = module.run(spec)
    seconds = time.monotonic() - started
    trap = result.trap
    text = str(trap).splitlines()[0] if trap is not None and str(trap) else ""  # a backtrace may follow
    return _Run(backend, None if trap is not None else result.exit_code, trap.kind if trap is not None else None,
                text, result.stdout, result.stderr, list(result.logs), seconds)


def pywasm_worker() -> None:
    """The pywasm side of ``backends``, in a process of its own: the budget ends it wherever it is.

    pywasm decodes a module in pure Python (seconds for a Go module), and
    nothing can interrupt that inside one process. Reads ``{"path",
    "module_id", "request", "timeout"}`` on stdin, writes ``{"run": ...}``,
    ``{"load_error": ...}`` or ``{"unavailable": ...}`` on stdout.
    """
    job = json.loads(sys.stdin.buffer.read())
    answer: dict[str, Any]
    try:
        module = get_backend(PYWASM).load(Path(job["path"]).read_bytes(), name=job["module_id"])
    except BackendUnavailable as exc:
        answer = {"unavailable": str(exc)}
    except ModuleLoadError as exc:
        answer = {"load_error": str(exc)}
    else:
        answer = {"run": execute(module, PYWASM, job["module_id"], job["request"], job["timeout"]).as_json()}
    sys.stdout.write(json.dumps(answer))


WORKER = "from sysinspect_wasm_runtime.modcheck import pywasm_worker; pywasm_worker()"


@dataclass
class ModuleCheck:
    """The checks of one module file, run in order; ``say`` hears each finding as it is made."""

    module_id: str
    path: Path
    settings: CheckSettings = field(default_factory=CheckSettings)
    say: Callable[[Finding], None] = lambda finding: None
    note: Callable[[str], None] = lambda text: None
    """Hears what a check that takes a while is doing (pywasm, the timed calls), before it is done."""
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, status: str, reason: str, value: float | None = None) -> Finding:
        """Record a finding and tell ``say``."""
        finding = Finding(check, status, reason, value)
        self.findings.append(finding)
        self.say(finding)
        return finding

    def skip_rest(self, reason: str) -> list[Finding]:
        """Skip every check not yet made, saying why."""
        done = {f.check for f in self.findings}
        for check in CHECKS:
            if check not in done:
                self.add(check, SKIP, reason)
        return self.findings

    # -- the checks ----------------------------------------------------------

    def run(self) -> list[Finding]:
        """Make every check; return the findings."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            self.add("wasi-command", FAIL, f"cannot read {self.path}: {exc.strerror or exc}")
            return self.skip_rest("the module cannot be read")
        primary = get_backend(AUTO)  # wasmtime where it can be imported, else pywasm
        loaded = self.check_command(data, primary)
        if loaded is None:
            self._size(data)
            return self.skip_rest("the module is not a WASI preview 1 command (see wasi-command)")
        module, sections = loaded
        if not self.check_imports(data, sections):
            self._size(data)
            return self.skip_rest("the module does not link against WASI preview 1 and the host API (see imports)")
        request, which = self.check_man(module, primary.name)
        run = self.check_run(module, primary.name, request, which)
        self.check_backends(run, request)
        self._size(data)
        if self._status("run") != PASS:
            self.add("cold call", SKIP, "the run does not pass, so calls are not timed")
            self.add("warm call", SKIP, "the run does not pass, so calls are not timed")
        elif not self.settings.timings:
            self.add("cold call", SKIP, "not timed (--no-timings)")
            self.add("warm call", SKIP, "not timed (--no-timings)")
        else:
            self.time_calls(data, request)
        return self.findings

    def _size(self, data: bytes) -> None:
        self.add("size", INFO, f"{len(data):,} bytes", float(len(data)))

    def _status(self, check: str) -> str | None:
        return next((f.status for f in self.findings if f.check == check), None)

    def check_command(self, data: bytes, backend: Backend) -> tuple[Module, tuple[Section, ...]] | None:
        """``wasi-command``; when it passes, the module loaded on ``backend`` and its sections, else ``None``."""
        if len(data) < 8 or not data.startswith(MAGIC):
            self.add("wasi-command", FAIL, "not a WebAssembly binary (it does not start with the bytes \\0asm)")
            return None
        if data[4:8] == COMPONENT_VERSION:
            self.add("wasi-command", FAIL, "a WebAssembly component (WASI preview 2), not a preview 1 core module: "
                     "build for wasm32-wasip1 (Rust: --target wasm32-wasip1; Go: GOOS=wasip1; C/Zig: wasm32-wasi)")
            return None
        if data[4:8] != VERSION_1:
            self.add("wasi-command", FAIL, f"a WebAssembly binary of unknown version {data[4:8].hex()}, not 1")
            return None
        try:
            sections = read_sections(data)
            export_section = find_section(sections, SECTION_EXPORT)
            exports = {e.name: e.kind for e in read_exports(data, export_section)} if export_section else {}
        except DecodeError as exc:
            self.add("wasi-command", FAIL, f"the module is truncated or malformed: {exc}")
            return None
        missing = [f"{what} {name!r}" for name, kind, what in (("_start", "func", "a function"),
                                                                 ("memory", "memory", "a memory"))
                   if exports.get(name) != kind]
        if missing:
            self.add("wasi-command", FAIL, f"it does not export {' or '.join(missing)}: a WASI command exports "
                     "both (a library or reactor module is not a command)")
            return None
        try:
            module = backend.load(data, name=self.module_id)
        except ModuleLoadError as exc:
            self.add("wasi-command", FAIL, f"it does not validate ({backend.name}): {exc}")
            return None
        self.add("wasi-command", PASS,
                 f"a WASI preview 1 command: validates ({backend.name}), exports _start and memory")
        return module, sections

    def check_imports(self, data: bytes, sections: tuple[Section, ...]) -> bool:
        """``imports``: WASI preview 1 and ``api`` functions only, each with the signature the runtime gives it."""
        problems: list[str] = []
        wasi: set[str] = set()
        api: set[str] = set()
        for entry, declared in read_import_signatures(data, sections):
            label = f"{entry.module}.{entry.name}"
            signature = (declared.params, declared.results) if declared is not None else None
            if entry.kind != "func":
                problems.append(f"{label} is imported as a {entry.kind}; the runtime provides functions only")
                continue
            table = {WASI_MODULE: WASI_SIGNATURES, API_MODULE: HOST_FUNCTIONS}.get(entry.module)
            if table is None:
                problems.append(f"{label}: the runtime provides no module {entry.module!r} "
                                f"(only {WASI_MODULE} and {API_MODULE})")
                continue
            expected = table.get(entry.name)
            if expected is None:
                known = ", ".join(sorted(HOST_FUNCTIONS)) if entry.module == API_MODULE else "WASI preview 1"
                problems.append(f"{label} does not exist (the runtime provides {known})")
            elif signature != expected:
                got = describe(signature) if signature is not None else "an unknown type"
                problems.append(f"{label} is imported as {got}, but the runtime provides {describe(expected)}")
            else:
                (wasi if entry.module == WASI_MODULE else api).add(entry.name)
        if problems:
            self.add("imports", FAIL, "; ".join(problems))
            return False
        self.add("imports", PASS, f"{len(wasi)} WASI preview 1 functions"
                 + (f", api: {', '.join(sorted(api))}" if api else ", no host API") + ", all with their signatures")
        return True

    def _failure(self, run: _Run, what: str) -> str | None:
        """Why a run is not a clean retcode-0 answer, or ``None`` when it is."""
        if run.trap is TrapKind.TIMEOUT:
            return f"{what} did not finish within {self.settings.timeout:g} s (a minion would stop it: retcode 5)"
        if run.trap is not None:
            words = TRAP_WORDS.get(run.trap.value, run.trap.value)
            return f"{what} trapped: {words} ({run.trap_text}; retcode 5)"
        if run.exit_code != 0:
            stderr = f"; its standard error: {_snippet(run.stderr)}" if run.stderr.strip() else ""
            return f"{what} exited with status {run.exit_code} (retcode 5){stderr}"
        return None

    def check_man(self, module: Any, backend: str) -> tuple[dict[str, Any], str]:
        """``man``; then the request the run check uses (the doc's first example, or ``{}``) and its words."""
        run = execute(module, backend, self.module_id, {}, self.settings.timeout, add_options=("man",))
        failure = self._failure(run, "the run with option man")
        if failure is not None:
            self.add("man", FAIL, failure)
            return {}, NO_DOC_REQUEST
        ok, doc = _parse_json(run.stdout)
        if not ok:
            self.add("man", FAIL, f"with option man it printed {_snippet(run.stdout) if run.stdout.strip() else 'nothing'}"
                     ", which is not JSON: print the module doc, one JSON object (PROTOCOL.md 1.9)")
            return {}, NO_DOC_REQUEST
        problems = doc_problems(doc)
        if problems:
            self.add("man", FAIL, "with option man it printed no module doc (PROTOCOL.md 1.9): " + "; ".join(problems))
            return {}, NO_DOC_REQUEST
        request, which = example_request(doc)
        counts = ", ".join(f"{key}: {len(doc.get(key) or [])}" for key in ("arguments", "options", "examples"))
        note = "" if request or not doc.get("examples") else \
            "; note: its first example's code is not a request's JSON, as PROTOCOL.md 1.9 asks"
        self.add("man", PASS, f"a module doc: {doc['name']!r}, {counts}{note}")
        return request, which

    def check_run(self, module: Any, backend: str, request: dict[str, Any], which: str) -> _Run | None:
        """``run``: the request ends within the limit with retcode 0 and prints one JSON object."""
        try:
            run = execute(module, backend, self.module_id, request, self.settings.timeout)
        except RequestError as exc:
            self.add("run", FAIL, f"{which} is not a valid request: {exc}")
            return None
        failure = self._failure(run, f"the run with {which}")
        if failure is None:
            ok, value = _parse_json(run.stdout)
            if not run.stdout.strip():
                failure = f"the run with {which} printed nothing: print one JSON object"
            elif not ok:
                failure = (f"the run with {which} printed text that is not JSON: {_snippet(run.stdout)} "
                           "(a minion gets it as data.data); print one JSON object")
            elif not isinstance(value, dict):
                failure = (f"the run with {which} printed JSON that is not an object ({type(value).__name__}); "
                           "print one JSON object, whose keys go into the response's data")
            else:
                try:
                    guest_data(run.stdout, run.logs)
                except OutputError as exc:
                    failure = f"the run with {which}: {exc} (retcode 6)"
        if failure is not None:
            self.add("run", FAIL, failure)
        else:
            self.add("run", PASS, f"retcode 0 in {run.seconds * 1000:.0f} ms ({backend}) with {which}", run.seconds)
        return run

    def check_backends(self, run: _Run | None, request: dict[str, Any]) -> None:
        """``backends``: pywasm answers the run's request as wasmtime did, within its budget."""
        if run is None:
            self.add("backends", SKIP, "there is no run to compare")
            return
        if run.backend != WASMTIME:
            self.add("backends", SKIP, "wasmtime cannot be used here, so there is nothing to compare pywasm with")
            return
        if run.trap is TrapKind.TIMEOUT:
            self.add("backends", SKIP, "the run did not finish on wasmtime, so the backends are not compared")
            return
        budget = self.settings.pywasm_budget
        job = {"path": str(self.path), "module_id": self.module_id, "request": request, "timeout": budget}
        self.note(f"  ... running it on pywasm too (budget {budget:g} s)")
        started = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-c", WORKER], input=json.dumps(job).encode(), capture_output=True,
                                  timeout=budget, check=False)
        except subprocess.TimeoutExpired:
            self.add("backends", SKIP, f"pywasm did not load and run the module within its budget of {budget:g} s "
                     "(--pywasm-budget SECONDS gives it more): not compared")
            return
        seconds = time.monotonic() - started
        ok, answer = _parse_json(done.stdout)
        if done.returncode != 0 or not ok or not isinstance(answer, dict):
            self.add("backends", FAIL, f"the pywasm process failed (exit status {done.returncode}): "
                     f"{_snippet(done.stderr, 400)}")
            return
        if "unavailable" in answer:
            self.add("backends", SKIP, f"pywasm cannot be used here: {answer['unavailable']}")
            return
        if "load_error" in answer:
            self.add("backends", FAIL, f"wasmtime loads the module, pywasm does not: {answer['load_error']}")
            return
        other = _Run.from_json(answer["run"])
        if other.trap is TrapKind.TIMEOUT:
            self.add("backends", SKIP, f"pywasm did not finish within its budget of {budget:g} s "
                     "(--pywasm-budget SECONDS gives it more): not compared")
            return
        mine, theirs = run.comparable(), other.comparable()
        if mine == theirs:
            self.add("backends", PASS, f"wasmtime and pywasm give the same answer (pywasm: {seconds:.1f} s, "
                     "loading included)")
            return
        labels = ("exit status", "trap", "standard output", "log lines")
        differences = [f"{label}: wasmtime {a!r}, pywasm {b!r}" for label, a, b in zip(labels, mine, theirs, strict=True)
                       if a != b]
        self.add("backends", FAIL, "wasmtime and pywasm answer differently (a module whose output depends on the "
                 "clock or on chance differs by nature): " + "; ".join(d[:300] for d in differences))

    def time_calls(self, data: bytes, request: dict[str, Any]) -> None:
        """``cold call`` and ``warm call``: whole ``wasm-runtime`` processes, as a minion spawns them."""
        self.note(f"  ... timing {WARM_CALLS + 1} wasm-runtime calls")
        with tempfile.TemporaryDirectory(prefix="wasm-runtime-check-") as work:
            root = Path(work)
            folder = root.joinpath(*MODULE_SUBDIR)
            folder.mkdir(parents=True)
            (folder / f"{self.module_id}.wasm").write_bytes(data)
            document = dict(request)
            args_key = "arguments" if "arguments" in document else "args"
            document[args_key] = {**dict(document.get(args_key) or {}), "rt.mod": self.module_id,
                                  "rt.backend": WASMTIME}
            document["config"] = {**dict(document.get("config") or {}), "path.sharelib": str(root)}
            document["timeout"] = max(1, math.ceil(self.settings.timeout))
            raw = json.dumps(document).encode()
            env = dict(os.environ, **{CACHE_DIR_ENV: str(root / "cache")})
            (root / "cache").mkdir(mode=0o700)

            def call() -> tuple[float, int | None]:
                started = time.monotonic()
                done = subprocess.run([sys.executable, "-m", "sysinspect_wasm_runtime"], input=raw,
                                      capture_output=True, env=env, cwd=root, check=False)
                seconds = time.monotonic() - started
                ok, response = _parse_json(done.stdout)
                return seconds, response.get("retcode") if ok and isinstance(response, dict) else None

            cold, retcode = call()
            warm = [call() for _ in range(WARM_CALLS)]
        note = "" if retcode == 0 and all(code == 0 for _, code in warm) else " (a call did not answer retcode 0)"
        self.add("cold call", INFO, f"{cold * 1000:.0f} ms: a wasm-runtime process that compiles the module "
                 f"(wasmtime){note}", cold)
        median = statistics.median(seconds for seconds, _ in warm)
        self.add("warm call", INFO, f"{median * 1000:.0f} ms: a wasm-runtime process with the compiled module "
                 f"cached (median of {WARM_CALLS}){note}", median)


def check_module(module_id: str, path: Path, settings: CheckSettings | None = None,
                 say: Callable[[Finding], None] | None = None, note: Callable[[str], None] | None = None) -> list[Finding]:
    """Every check of the module file ``path`` (whose id is ``module_id``)."""
    checker = ModuleCheck(module_id, path, settings or CheckSettings(), say or (lambda finding: None),
                          note or (lambda text: None))
    return checker.run()


def failed(findings: list[Finding]) -> bool:
    """Whether any check failed."""
    return any(f.status == FAIL for f in findings)


def format_finding(finding: Finding) -> str:
    """One line: status, check, reason."""
    return f"{finding.status.upper():<4}  {finding.check:<12}  {finding.reason}"
