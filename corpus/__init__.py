"""The Sysinspect Wasm module corpus: real WASI modules in Go, C, Zig, Rust and WAT.

This package is the runtime's embedded default module library. Its folder is
laid out as a Sysinspect sharelib (``lib/runtime/wasm/<id>.wasm``) and its
``manifest.json`` describes every module: language, toolchain, hashes, what it
exercises, and the cases (request, expected output) tests run it with.

The expectation helpers here are shared by the corpus tests (executor level:
:func:`check_run`) and the runtime's protocol tests (response level:
:func:`check_response`).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sysinspect_wasm.jsonio import resolve_pointer

__all__ = [
    "LIBRARY",
    "PROTOCOL_LOG_KEY",
    "Case",
    "ModuleEntry",
    "Toolchain",
    "case_by_name",
    "check_response",
    "check_run",
    "header_for",
    "header_line",
    "library_root",
    "manifest",
    "manifest_document",
    "module_by_id",
    "module_path",
    "parse_log_line",
    "resolve",
    "write_tree",
]

LIBRARY = Path("lib") / "runtime" / "wasm"
PROTOCOL_LOG_KEY = "__sysinspect-module-logs"
_ROOT = Path(__file__).resolve().parent
_RUNTIME_REQUEST_KEYS = {"timeout", "quiet", "options", "opts", "arguments", "args", "config", "host", "ext"}
_LOG_LINE = re.compile(r"^\[(\d\d/\d\d/\d{4} \d\d:\d\d:\d\d)\] - (DEBUG|INFO|WARN|ERROR): \[([^\]]*)\] (.*)$", re.S)


@dataclass(frozen=True)
class Toolchain:
    """The compiler a module was built with."""

    name: str
    version: str
    command: str


@dataclass(frozen=True)
class Case:
    """One way to run a module and what it must produce.

    ``request`` is a ModRequest without ``rt.mod``; ``root`` says what the guest
    sees as ``/`` (``host``, ``tree``, ``scratch`` or ``none``); ``expect`` holds
    the expectations described in ``corpus/README.md``.
    """

    name: str
    request: Mapping[str, Any]
    expect: Mapping[str, Any]
    root: str = "host"
    tree: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, float] = field(default_factory=dict)
    allow_exec: bool = True
    packagekit: bool | None = None
    requires_files: tuple[str, ...] = ()

    @property
    def trap(self) -> str | None:
        """The expected trap kind (a TrapKind value), or None for a run that finishes."""
        value = self.expect.get("trap")
        return str(value) if value is not None else None

    @property
    def exit_code(self) -> int | None:
        """The expected exit code (None when a trap is expected)."""
        value = self.expect.get("exit_code")
        return int(value) if value is not None else None

    def missing_requirements(self) -> list[str]:
        """Host files this case needs that are absent here."""
        return [p for p in self.requires_files if not Path(p).exists()]


@dataclass(frozen=True)
class ModuleEntry:
    """A module of the corpus, as the manifest describes it."""

    id: str
    language: str
    category: str
    purpose: str
    exercises: tuple[str, ...]
    source: str
    sources: tuple[str, ...]
    sdk: str | None
    toolchain: Toolchain
    source_sha256: str
    wasm_sha256: str
    size: int
    api_imports: tuple[str, ...]
    wasi: bool
    nondeterministic: tuple[str, ...]
    host_state: tuple[str, ...]
    cases: tuple[Case, ...]
    family: str | None = None
    truncated: bool = False

    @property
    def path(self) -> Path:
        """The module's .wasm file."""
        return module_path(self.id)


def library_root() -> Path:
    """The sharelib root of the corpus: the folder that holds ``lib/runtime/wasm``."""
    return _ROOT


def module_path(module_id: str) -> Path:
    """The .wasm file of a module listed in the manifest; KeyError for an unknown id."""
    if module_id not in {m.id for m in manifest()}:
        raise KeyError(f"no corpus module {module_id!r}")
    return _ROOT / LIBRARY / f"{module_id}.wasm"


@cache
def manifest_document() -> dict[str, Any]:
    """The parsed ``manifest.json`` (toolchains, modules, ...)."""
    document: dict[str, Any] = json.loads((_ROOT / "manifest.json").read_text(encoding="utf-8"))
    return document


def _case(raw: Mapping[str, Any]) -> Case:
    return Case(
        name=str(raw["name"]),
        request=dict(raw.get("request", {})),
        expect=dict(raw.get("expect", {})),
        root=str(raw.get("root", "host")),
        tree=dict(raw.get("tree", {})),
        limits=dict(raw.get("limits", {})),
        allow_exec=bool(raw.get("allow_exec", True)),
        packagekit=raw.get("packagekit"),
        requires_files=tuple(raw.get("requires_files", ())),
    )


@cache
def _entries() -> tuple[ModuleEntry, ...]:
    out = []
    for raw in manifest_document()["modules"]:
        tool = raw["toolchain"]
        out.append(ModuleEntry(
            id=raw["id"],
            language=raw["language"],
            category=raw["category"],
            purpose=raw["purpose"],
            exercises=tuple(raw["exercises"]),
            source=raw["source"],
            sources=tuple(raw["sources"]),
            sdk=raw.get("sdk"),
            toolchain=Toolchain(tool["name"], tool["version"], tool["command"]),
            source_sha256=raw["source_sha256"],
            wasm_sha256=raw["wasm_sha256"],
            size=int(raw["size"]),
            api_imports=tuple(raw["api_imports"]),
            wasi=bool(raw["wasi"]),
            nondeterministic=tuple(raw["nondeterministic"]),
            host_state=tuple(raw["host_state"]),
            cases=tuple(_case(c) for c in raw["cases"]),
            family=raw.get("family"),
            truncated=bool(raw.get("truncated", False)),
        ))
    return tuple(out)


def manifest() -> list[ModuleEntry]:
    """Every module of the corpus, sorted by id."""
    return list(_entries())


def module_by_id(module_id: str) -> ModuleEntry:
    """The manifest entry of one module; KeyError for an unknown id."""
    for entry in _entries():
        if entry.id == module_id:
            return entry
    raise KeyError(f"no corpus module {module_id!r}")


def case_by_name(module_id: str, name: str) -> Case:
    """One case of one module; KeyError when either is unknown."""
    for case in module_by_id(module_id).cases:
        if case.name == name:
            return case
    raise KeyError(f"module {module_id!r} has no case {name!r}")


# ------------------------------------------------------------ the header ---


def _is_runtime(name: object) -> bool:
    return isinstance(name, str) and name.startswith("rt.")


def header_for(request: Mapping[str, Any]) -> dict[str, Any]:
    """The header a guest receives for ``request`` (PROTOCOL.md 1.5).

    ``opts`` and ``args`` come from ``options``/``opts`` and
    ``arguments``/``args`` without ``rt.*`` names; ``config`` gets the default
    ``path.sharelib``; unknown top-level keys are merged into ``ext`` (the
    top-level key wins); ``host`` is ``{}`` when absent. Key order is the
    protocol's: opts, args, config, ext, host.
    """
    opts = request.get("options", request.get("opts")) or []
    args = request.get("arguments", request.get("args")) or {}
    config = dict(request.get("config") or {})
    config.setdefault("path.sharelib", "/usr/share/sysinspect")
    ext = dict(request.get("ext") or {})
    for key, value in request.items():
        if key not in _RUNTIME_REQUEST_KEYS:
            ext[key] = value
    return {
        "opts": [o for o in opts if not _is_runtime(o)],
        "args": {k: v for k, v in args.items() if not _is_runtime(k)},
        "config": config,
        "ext": ext,
        "host": dict(request.get("host") or {}),
    }


def header_line(header: Mapping[str, Any]) -> bytes:
    """The header as the guest reads it on stdin: compact serde-style JSON and a newline."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8") + b"\n"


def write_tree(case: Case, folder: Path) -> None:
    """Create a case's tree fixture (``{relative path: text}``) under ``folder``."""
    for rel, text in case.tree.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# ---------------------------------------------------------- placeholders ---


def _os_release(key: str) -> str | None:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        line = line.strip()
        name, sep, value = line.partition("=")
        if not sep or name != key:
            continue
        if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        return value
    return None


def _fnv1a64(data: bytes) -> str:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFF_FFFF_FFFF_FFFF
    return f"{value:016x}"


def _header_of(stdin: bytes) -> Any:
    line = stdin.split(b"\n", 1)[0]
    try:
        return json.loads(line.decode("utf-8"))
    except ValueError:
        return None


def resolve(value: Any, stdin: bytes = b"") -> Any:
    """Replace the placeholders in an expected value with what this host says.

    ``{"$os_release": KEY}`` (the unquoted value, or None), ``{"$file_text": PATH}``
    (contents, stripped), ``{"$command": ARGV}`` (the command's stdout,
    stripped), ``{"$header": POINTER}`` (the value at that JSON Pointer in the
    header line that starts ``stdin``, or None), ``{"$stdin_len": true}``,
    ``{"$stdin_sha256": true}``, ``{"$stdin_fnv1a64": true}`` (of the bytes the
    guest received).
    """
    if isinstance(value, list):
        return [resolve(v, stdin) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "$header":
            found, got = resolve_pointer(_header_of(stdin), str(arg))
            return got if found else None
        if key == "$os_release":
            return _os_release(str(arg))
        if key == "$file_text":
            return Path(str(arg)).read_text(encoding="utf-8").strip()
        if key == "$command":
            done = subprocess.run([str(a) for a in arg], capture_output=True, check=False)
            return done.stdout.decode("utf-8", "replace").strip()
        if key == "$stdin_len":
            return len(stdin)
        if key == "$stdin_sha256":
            return hashlib.sha256(stdin).hexdigest()
        if key == "$stdin_fnv1a64":
            return _fnv1a64(stdin)
    return {k: resolve(v, stdin) for k, v in value.items()}


# ---------------------------------------------------------- expectations ---


def parse_log_line(line: str) -> tuple[str, str, str] | None:
    """Split ``[DD/MM/YYYY HH:MM:SS] - LEVEL: [module] message`` into (level, module, message)."""
    match = _LOG_LINE.match(line)
    if match is None:
        return None
    return match.group(2), match.group(3), match.group(4)


def _check_logs(expected: Sequence[Mapping[str, str]], logs: Sequence[str], module_id: str | None) -> list[str]:
    problems: list[str] = []
    parsed = [parse_log_line(line) for line in logs]
    if any(p is None for p in parsed):
        problems.append(f"log lines not in the protocol format: {logs!r}")
        return problems
    got = [p for p in parsed if p is not None]
    if len(got) != len(expected):
        return [f"expected {len(expected)} log lines, got {len(got)}: {logs!r}"]
    for want, (level, module, message) in zip(expected, got, strict=True):
        if level != want["level"]:
            problems.append(f"log level {level}, expected {want['level']}: {message!r}")
        if module_id is not None and module != module_id:
            problems.append(f"log line names module {module!r}, expected {module_id!r}")
        if "text" in want and message != want["text"]:
            problems.append(f"log message {message!r}, expected {want['text']!r}")
        if "startswith" in want and not message.startswith(want["startswith"]):
            problems.append(f"log message {message!r} does not start with {want['startswith']!r}")
    return problems


def _check_stdout(expect: Mapping[str, Any], stdout: bytes, stdin: bytes) -> list[str]:
    problems: list[str] = []
    text = stdout.decode("utf-8", "replace")
    parsed: Any = None
    parse_error: str | None = None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        parse_error = str(exc)
    show = text if len(text) < 400 else text[:400] + "..."
    if "stdout_text" in expect and text != expect["stdout_text"]:
        problems.append(f"stdout {show!r}, expected {expect['stdout_text']!r}")
    if expect.get("stdout_empty") and text.strip():
        problems.append(f"stdout should be empty or blank, got {show!r}")
    if "stdout_regex" in expect and re.fullmatch(expect["stdout_regex"], text, re.S) is None:
        problems.append(f"stdout {show!r} does not match {expect['stdout_regex']!r}")
    if "stdout_min_bytes" in expect and len(stdout) < int(expect["stdout_min_bytes"]):
        problems.append(f"stdout has {len(stdout)} bytes, expected at least {expect['stdout_min_bytes']}")
    if "stdout_sha256" in expect and hashlib.sha256(stdout).hexdigest() != expect["stdout_sha256"]:
        problems.append("stdout's sha256 differs from the expected one")
    json_keys = ("stdout_json", "stdout_json_subset", "stdout_json_keys")
    if any(k in expect for k in json_keys) and parse_error is not None:
        problems.append(f"stdout is not JSON ({parse_error}): {show!r}")
        return problems
    if "stdout_json" in expect:
        want = resolve(expect["stdout_json"], stdin)
        if parsed != want:
            problems.append(f"stdout JSON {parsed!r}, expected {want!r}")
    if "stdout_json_subset" in expect:
        want = resolve(expect["stdout_json_subset"], stdin)
        if not isinstance(parsed, dict):
            problems.append(f"stdout JSON is not an object: {show!r}")
        else:
            for key, value in want.items():
                if parsed.get(key, object()) != value:
                    problems.append(f"stdout JSON {key!r} is {parsed.get(key)!r}, expected {value!r}")
    if "stdout_json_keys" in expect and (
        not isinstance(parsed, dict) or sorted(parsed) != sorted(expect["stdout_json_keys"])
    ):
        keys = sorted(parsed) if isinstance(parsed, dict) else None
        problems.append(f"stdout JSON keys {keys!r}, expected {sorted(expect['stdout_json_keys'])!r}")
    return problems


def check_run(
    case: Case,
    *,
    exit_code: int | None,
    trap: str | None,
    stdout: bytes,
    stderr: bytes,
    logs: Sequence[str],
    stdin: bytes,
    module_id: str | None = None,
    root: Path | None = None,
) -> list[str]:
    """Compare one run with a case's expectations; return the problems (empty: it passed).

    ``trap`` is the TrapKind value of the run's trap (None when it finished),
    ``stdin`` the bytes the guest received (for the ``$stdin_*``
    placeholders), ``root`` the host folder shown as guest ``/`` (for
    ``files``).
    """
    expect = case.expect
    problems: list[str] = []
    if trap != case.trap:
        problems.append(f"trap {trap!r}, expected {case.trap!r}")
    if case.trap is None and exit_code != case.exit_code:
        problems.append(f"exit code {exit_code!r}, expected {case.exit_code!r}")
    problems += _check_stdout(expect, stdout, stdin)
    err = stderr.decode("utf-8", "replace")
    if "stderr_text" in expect and err != expect["stderr_text"]:
        problems.append(f"stderr {err!r}, expected {expect['stderr_text']!r}")
    for piece in expect.get("stderr_contains", ()):
        if piece not in err:
            problems.append(f"stderr lacks {piece!r}: {err[:400]!r}")
    if "logs" in expect:
        problems += _check_logs(expect["logs"], logs, module_id)
    for rel, text in expect.get("files", {}).items():
        if root is None:
            problems.append(f"cannot check file {rel}: no root folder given")
            continue
        path = root / rel
        if not path.is_file():
            problems.append(f"file {rel} was not written")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"file {rel} holds {path.read_text(encoding='utf-8')!r}, expected {text!r}")
    return problems


def check_response(
    case: Case,
    response: Mapping[str, Any],
    *,
    request: Mapping[str, Any] | None = None,
    module_id: str | None = None,
) -> list[str]:
    """Compare a runtime's ModResponse for a case with the case's expectations (PROTOCOL.md 1.6, 1.7).

    ``request`` is the request actually sent (default: the case's); the header
    the guest must have received is derived from it, for the ``$header`` and
    ``$stdin_*`` placeholders. Checks the retcode (0 when the module finishes
    with exit code 0, else 5), and for successful runs how stdout was merged
    into ``data`` and the log lines under ``__sysinspect-module-logs``.
    Expectations on the raw streams (stderr, exact bytes, files) are left to
    :func:`check_run`.
    """
    problems: list[str] = []
    ok = case.trap is None and case.exit_code == 0
    want_retcode = 0 if ok else 5
    if response.get("retcode") != want_retcode:
        problems.append(f"retcode {response.get('retcode')!r}, expected {want_retcode}: {response.get('message')!r}")
    if not ok:
        return problems
    stdin = header_line(header_for(case.request if request is None else request))
    data = response.get("data") or {}
    expect = case.expect
    if data.get("changed", object()) not in (True, False):
        problems.append(f"data['changed'] is missing or not a boolean: {data.get('changed')!r}")
    if "logs" in expect:
        problems += _check_logs(expect["logs"], data.get(PROTOCOL_LOG_KEY, []), module_id)
    if "stdout_json" in expect:
        want = resolve(expect["stdout_json"], stdin)
        if isinstance(want, dict):
            for key, value in want.items():
                if key != PROTOCOL_LOG_KEY and data.get(key, object()) != value:
                    problems.append(f"data[{key!r}] is {data.get(key)!r}, expected {value!r}")
        elif data.get("data", object()) != want:
            problems.append(f"data['data'] is {data.get('data')!r}, expected {want!r}")
    if "stdout_json_subset" in expect:
        for key, value in resolve(expect["stdout_json_subset"], stdin).items():
            if data.get(key, object()) != value:
                problems.append(f"data[{key!r}] is {data.get(key)!r}, expected {value!r}")
    if "stdout_json_keys" in expect:
        missing = [k for k in expect["stdout_json_keys"] if k not in data]
        if missing:
            problems.append(f"data lacks the keys {missing!r}")
    if expect.get("stdout_empty") and data.get("data", object()) is not None:
        problems.append(f"data['data'] is {data.get('data')!r}, expected null")
    if "stdout_text" in expect and "stdout_json" not in expect and not expect.get("stdout_empty"):
        got = data.get("data")
        if not isinstance(got, str) or got.strip() != expect["stdout_text"].strip():
            problems.append(f"data['data'] is {got!r}, expected the text {expect['stdout_text']!r}")
    return problems
