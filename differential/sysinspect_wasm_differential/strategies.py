"""Hypothesis strategies, composed from small named pieces.

Requests (:func:`requests`) are built from JSON values (:func:`json_values`:
unicode, deep nesting, numbers beyond 64 bits), option and argument names,
config, host traits and ext; :func:`command_cases` adds a stdin payload, a
small file tree for guest ``/`` and an ``api.exec`` tape. For generated
modules, :func:`smith_inputs` draws wasm-smith's input bytes and
configuration, and :func:`wasm_values` draws arguments of a given type.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from sysinspect_wasm.commands import CommandOutcome
from sysinspect_wasm.result import Value

from .filetree import DIRECTORY, Entry, FileTree, Symlink
from .harness import BaseCase, CommandCase
from .header import RequestError, guest_input
from .instructions import INSTRUCTIONS, InstructionCase
from .responder import RECORDED, UNKNOWN_ANSWER, CommandKey, Tape, command_key
from .smith import BOUNDARY_TYPES, ExportShape, Signature, SmithConfig

# -- JSON values ------------------------------------------------------------------

TEXT_ALPHABET = st.characters(exclude_categories=["Cs"])
"""Any Unicode scalar value: JSON on the wire is UTF-8, so lone surrogates cannot occur."""

SPECIAL_STRINGS = ("", " ", "\n", "\t", '"', "\\", "/", "\u00e9t\u00e9", "\u65e5\u672c", "\U0001f600", "\u0000",
                   "\u2028", "\ufeff", "null", "true", "0", "-1", "1e309", '{"a":1}', "~0~1", "a/b", "..", "../../etc")

BIG_NUMBERS = (2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30, -(10**40))


def json_text() -> st.SearchStrategy[str]:
    """Strings: mostly short arbitrary Unicode, sometimes one that is known to trip parsers."""
    return st.one_of(st.sampled_from(SPECIAL_STRINGS), st.text(TEXT_ALPHABET, max_size=24))


def json_numbers() -> st.SearchStrategy[int | float]:
    """Integers of any size (beyond i64 and u64 too) and finite floats."""
    return st.one_of(
        st.integers(min_value=-1000, max_value=1000),
        st.integers(),
        st.sampled_from(BIG_NUMBERS),
        st.floats(allow_nan=False, allow_infinity=False),
    )


def json_scalars() -> st.SearchStrategy[Any]:
    """null, booleans, numbers and strings."""
    return st.one_of(st.none(), st.booleans(), json_numbers(), json_text())


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value, nested a few levels."""
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(json_text(), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def deeply_nested(draw: st.DrawFn, max_depth: int = 100) -> Any:
    """A value nested ``1..max_depth`` levels deep (the runtime accepts up to 128)."""
    depth = draw(st.integers(min_value=1, max_value=max_depth))
    value: Any = draw(json_scalars())
    for _ in range(depth):
        value = [value] if draw(st.booleans()) else {draw(json_text()): value}
    return value


def any_json() -> st.SearchStrategy[Any]:
    """A JSON value: usually modest, sometimes deeply nested."""
    return st.one_of(json_values(), json_values(), json_values(), deeply_nested())


# -- request pieces ---------------------------------------------------------------


def names(known: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Option and argument names: the module's known ones, identifier-like ones, or anything."""
    pieces: list[st.SearchStrategy[str]] = [
        st.from_regex(r"[a-z][a-z0-9_.-]{0,12}", fullmatch=True),
        json_text(),
    ]
    if known:
        pieces.insert(0, st.sampled_from(list(known)))
    return st.one_of(*pieces)


def options(known: Sequence[str] = ()) -> st.SearchStrategy[list[str]]:
    """The request's options, sometimes with runtime-only ``rt.`` ones the runtime strips."""
    return st.lists(st.one_of(names(known), st.just("rt.logs")), max_size=5)


def arguments(known: Sequence[str] = (), module_id: str = "module") -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments, with ``rt.mod`` and sometimes ``rt.man`` as a runtime request has them."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        result: dict[str, Any] = {"rt.mod": module_id}
        # rare, and absent from the simplest example (hypothesis shrinks towards 0)
        if draw(st.integers(0, 9)) == 9:
            result["rt.man"] = True
        result.update(draw(st.dictionaries(names(known), any_json(), max_size=5)))
        result["rt.mod"] = module_id
        return result

    return build()


def config() -> st.SearchStrategy[dict[str, Any]]:
    """The minion's flattened configuration, sometimes with its own sharelib."""
    keys = st.one_of(st.sampled_from(["path.sharelib", "master.ip", "log.level", "modules.timeout"]), names())
    return st.dictionaries(keys, st.one_of(json_scalars(), st.just("/usr/share/sysinspect")), max_size=4)


def host() -> st.SearchStrategy[dict[str, Any]]:
    """Host context: traits (system.hostname, os.name, ...) and paths, or anything."""
    traits = st.dictionaries(
        st.one_of(st.sampled_from(["system.hostname", "system.os.name", "system.os.version", "hardware.cpu.total"]), names()),
        json_scalars(), max_size=5)
    return st.one_of(
        st.just({}),
        st.fixed_dictionaries({"traits": traits}, optional={"paths": st.dictionaries(names(), json_text(), max_size=3)}),
        st.dictionaries(names(), json_values(), max_size=3),
    )


def ext() -> st.SearchStrategy[dict[str, Any]]:
    """Extra pass-through data."""
    return st.dictionaries(names(), json_values(), max_size=3)


@st.composite
def requests(draw: st.DrawFn, module_id: str = "module", known_args: Sequence[str] = (),
             known_opts: Sequence[str] = ()) -> dict[str, Any]:
    """A request document as a minion writes it, valid for the runtime.

    Keys are sometimes missing, options/arguments appear under either of
    their two names, and unknown top-level keys (merged into ``ext``) occur.
    """
    document: dict[str, Any] = {}
    opts_key = draw(st.sampled_from(["opts", "options"]))
    args_key = draw(st.sampled_from(["args", "arguments"]))
    document[opts_key] = draw(options(known_opts))
    document[args_key] = draw(arguments(known_args, module_id))
    for key, strategy in (("config", config()), ("host", host()), ("ext", ext())):
        if draw(st.booleans()):
            document[key] = draw(strategy)
    if draw(st.integers(0, 4)) == 4:
        extra = draw(st.sampled_from(["pass", "id", "ext-key", "quiet"]))
        document[extra] = draw(st.booleans()) if extra == "quiet" else draw(json_values())
    return document


def with_module(request: Mapping[str, Any], module_id: str) -> dict[str, Any]:
    """``request`` (a case's, without ``rt.mod``) addressed to ``module_id``."""
    document = dict(request)
    key = "arguments" if "arguments" in document else "args"
    document[key] = {**dict(document.get(key) or {}), "rt.mod": module_id}
    return document


@st.composite
def perturbed(draw: st.DrawFn, base: Mapping[str, Any], module_id: str, known_args: Sequence[str] = (),
              known_opts: Sequence[str] = ()) -> dict[str, Any]:
    """A known-good request with drawn additions: more options, more or replaced arguments, host, ext."""
    document = with_module(base, module_id)
    opts_key = "options" if "options" in document else "opts"
    args_key = "arguments" if "arguments" in document else "args"
    document[opts_key] = list(document.get(opts_key) or []) + draw(options(known_opts))
    document[args_key] = {**document[args_key], **draw(st.dictionaries(names(known_args), any_json(), max_size=3))}
    document[args_key]["rt.mod"] = module_id
    for key, strategy in (("host", host()), ("ext", ext())):
        if draw(st.booleans()):
            document[key] = draw(strategy)
    return document


# -- stdin, files, tapes ----------------------------------------------------------


def stdin_payloads(header_line: bytes) -> st.SearchStrategy[bytes]:
    """The guest's stdin: the header line, rarely followed by bytes a guest should ignore."""
    return st.one_of(
        st.just(header_line),
        st.just(header_line),
        st.just(header_line),
        st.binary(max_size=64).map(lambda extra: header_line + extra),
    )


PATH_NAMES = ("etc", "var", "tmp", "data", "a", "b", "x.txt", "notes.md", "caf\u00e9", "sp ace", ".hidden",
              "\u65e5\u672c", "deep", "os-release", "hostname")

WELL_KNOWN_FILES = {
    "etc/os-release": st.sampled_from([
        b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
        b'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nVERSION_ID="20240101"\n',
        b"ID=alpine\nVERSION_ID=3.19.0\nPRETTY_NAME='Alpine Linux v3.19'\n",
        b"",
    ]),
    "etc/hostname": st.sampled_from([b"db1\n", b"caf\xc3\xa9-host\n", b""]),
    "etc/machine-id": st.just(b"0123456789abcdef0123456789abcdef\n"),
}


def file_contents() -> st.SearchStrategy[bytes]:
    """Small file contents: text, JSON, or arbitrary bytes."""
    return st.one_of(
        st.text(TEXT_ALPHABET, max_size=40).map(lambda s: s.encode("utf-8")),
        json_values(max_leaves=4).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=40),
    )


@st.composite
def file_trees(draw: st.DrawFn, max_entries: int = 8) -> FileTree:
    """A small tree for guest ``/``: sometimes /etc files a module reads, plus random entries.

    Symlink targets stay relative and inside the tree: the tree is a real
    host folder, and a sandbox bug must not turn a drawn link into a write
    outside it.
    """
    tree: dict[str, Entry] = {}
    for path, contents in WELL_KNOWN_FILES.items():
        if draw(st.booleans()):
            tree[path] = draw(contents)
    segment = st.sampled_from(PATH_NAMES)
    for _ in range(draw(st.integers(0, max_entries))):
        parts = draw(st.lists(segment, min_size=1, max_size=3))
        path = "/".join(parts)
        if any(path == p or path.startswith(p + "/") or p.startswith(path + "/") for p in tree):
            continue
        kind = draw(st.sampled_from(["file", "file", "dir", "link"]))
        if kind == "dir":
            tree[path] = DIRECTORY
        elif kind == "link":
            tree[path] = Symlink(draw(st.sampled_from(["x.txt", "../a", "missing", "."])))
        else:
            tree[path] = draw(file_contents())
    return tree


def command_outcomes() -> st.SearchStrategy[CommandOutcome]:
    """An answer a host command could give."""
    return st.builds(
        CommandOutcome,
        exit_code=st.one_of(st.sampled_from([0, 0, 1, 2, 127]), st.integers(0, 255)),
        stdout=st.text(TEXT_ALPHABET, max_size=60),
        stderr=st.one_of(st.just(""), st.text(TEXT_ALPHABET, max_size=30)),
    )


@st.composite
def tapes(draw: st.DrawFn, commands: Sequence[Sequence[str]] = ()) -> Tape:
    """An ``api.exec`` tape: the recorded answers, some redrawn, and a drawn fallback."""
    answers: dict[CommandKey, CommandOutcome] = dict(RECORDED)
    for argv in commands:
        if draw(st.booleans()):
            answers[command_key(list(argv), None)] = draw(command_outcomes())
    fallback = draw(st.one_of(st.just(UNKNOWN_ANSWER), command_outcomes()))
    return Tape(answers, fallback)


@st.composite
def command_cases(draw: st.DrawFn, module_id: str = "module", known_args: Sequence[str] = (),
                  known_opts: Sequence[str] = (), commands: Sequence[Sequence[str]] = (),
                  bases: Sequence[BaseCase] = ()) -> CommandCase:
    """One whole example for a command module: request, stdin, file tree, exec tape and host switches.

    With ``bases`` (the module's known-good cases), most examples start
    from one of them, as it is or with drawn additions, so that the module
    gets past its argument checks; the rest are drawn from scratch.
    """
    base: BaseCase | None = None
    # the simplest example (hypothesis's first, and what shrinking aims at) is the first case as it is
    if bases and draw(st.integers(0, 3)) < 3:
        base = draw(st.sampled_from(list(bases)))
    if base is not None:
        document = draw(st.one_of(st.just(with_module(base.request, module_id)),
                                  perturbed(base.request, module_id, known_args, known_opts)))
        files: FileTree = dict(base.files)
        if not files or draw(st.booleans()):
            files = draw(file_trees())
        writable, allow_exec, packagekit = base.writable, base.allow_exec, base.packagekit
    else:
        document = draw(requests(module_id, known_args, known_opts))
        files = draw(file_trees())
        writable = draw(st.sampled_from([True, True, True, False]))
        allow_exec = draw(st.sampled_from([True, True, True, False]))
        packagekit = draw(st.booleans())
    try:
        given = guest_input(document)
    except RequestError:
        assume(False)
        raise AssertionError("unreachable") from None
    stdin = draw(stdin_payloads(given.stdin))
    return CommandCase(document, given.header, stdin, files, draw(tapes(commands)), writable, allow_exec, packagekit,
                       base.limits if base is not None else None)


# -- WebAssembly values -------------------------------------------------------------

INT_EDGES = {
    "i32": (0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x80, 0xFF, 0x8000, 0xFFFF, 31, 32, 64, 65536,
            65535, 65532, 65528, 65520, 131072),
    "i64": (0, 1, 2, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
            0x1_0000_0000, 63, 64, 65536),
}
FLOAT_EDGES = {
    # zeros, ones, infinities, canonical and payload NaNs of both signs, smallest subnormal, largest finite
    "f32": (0x0000_0000, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0xFFC0_0000,
            0x7FA0_0001, 0x0000_0001, 0x7F7F_FFFF, 0x4F00_0000, 0xCF00_0000, 0x5F00_0000),
    "f64": (0, 0x8000_0000_0000_0000, 0x3FF0_0000_0000_0000, 0xBFF0_0000_0000_0000, 0x7FF0_0000_0000_0000,
            0xFFF0_0000_0000_0000, 0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0000, 0x7FF4_0000_0000_0001, 1,
            0x7FEF_FFFF_FFFF_FFFF, 0x41E0_0000_0000_0000, 0xC3E0_0000_0000_0000, 0x43F0_0000_0000_0000),
}
WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64, "v128": 128}


def _float_bits(kind: str) -> st.SearchStrategy[int]:
    if kind == "f32":
        return st.floats(width=32).map(lambda x: struct.unpack("<I", struct.pack("<f", x))[0])
    return st.floats().map(lambda x: struct.unpack("<Q", struct.pack("<d", x))[0])


def wasm_values(kind: str) -> st.SearchStrategy[Value]:
    """Arguments of WebAssembly type ``kind``: edge cases, small numbers, any bit pattern.

    References can only be passed as null from outside (a host has no
    function or extern references of the guest's to give).
    """
    if kind in ("funcref", "externref"):
        return st.just(Value(kind, 0))
    width = WIDTH[kind]
    pieces: list[st.SearchStrategy[int]] = [st.integers(0, (1 << width) - 1)]
    if kind in INT_EDGES:
        pieces += [st.sampled_from(INT_EDGES[kind]), st.integers(-16, 16).map(lambda n: n & ((1 << width) - 1))]
    if kind in FLOAT_EDGES:
        pieces += [st.sampled_from(FLOAT_EDGES[kind]), _float_bits(kind)]
    return st.one_of(*pieces).map(lambda bits: Value(kind, bits))


def wasm_arguments(params: Sequence[str]) -> st.SearchStrategy[list[Value]]:
    """One argument per parameter type."""
    return st.tuples(*(wasm_values(p) for p in params)).map(list)


# -- generated modules ----------------------------------------------------------------


def smith_seeds(min_size: int = 64, max_size: int = 4096) -> st.SearchStrategy[bytes]:
    """wasm-smith's input: its length drawn first, so that large modules are as likely as small ones."""
    return st.integers(min_size, max_size).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def signatures() -> st.SearchStrategy[Signature]:
    """A function type whose values can cross the export boundary on both backends."""
    types = st.sampled_from(BOUNDARY_TYPES)
    return st.tuples(st.lists(types, max_size=5).map(tuple), st.lists(types, max_size=3).map(tuple))


def export_shapes() -> st.SearchStrategy[ExportShape]:
    """The exports a generated module must have: 1 to 6 functions, maybe a memory, a few globals."""
    memory = st.one_of(st.none(), st.integers(0, 2).flatmap(lambda low: st.tuples(st.just(low), st.integers(max(low, 1), 4))))
    return st.builds(
        ExportShape,
        functions=st.lists(signatures(), min_size=1, max_size=6).map(tuple),
        memory=memory,
        globals=st.lists(st.tuples(st.sampled_from(BOUNDARY_TYPES), st.booleans()), max_size=4).map(tuple),
    )


def smith_configs() -> st.SearchStrategy[SmithConfig]:
    """wasm-smith configurations: each shared proposal on or off, module shape and fuel drawn.

    Mostly the exports are drawn too (:func:`export_shapes`), so that every
    module has functions to call whose types both backends can pass;
    sometimes wasm-smith chooses them freely.
    """
    return st.builds(
        SmithConfig,
        simd=st.booleans(),
        bulk_memory=st.booleans(),
        reference_types=st.booleans(),
        multi_value=st.booleans(),
        sign_extension=st.booleans(),
        saturating_float_to_int=st.booleans(),
        extended_const=st.booleans(),
        floats=st.sampled_from([True, True, False]),
        disallow_traps=st.booleans(),
        export_everything=st.sampled_from([True, True, True, False]),
        # a start function that traps leaves nothing to call: mostly none
        start_function=st.sampled_from([False, False, False, True]),
        max_funcs=st.integers(1, 16),
        max_instructions=st.integers(8, 120),
        max_tables=st.integers(1, 2),
        fuel=st.integers(10, 400),
        exports=st.one_of(export_shapes(), export_shapes(), export_shapes(), st.none()),
    )


def smith_inputs() -> st.SearchStrategy[tuple[bytes, SmithConfig]]:
    """A seed and a configuration: everything wasm-smith needs to build one module."""
    return st.tuples(smith_seeds(), smith_configs())


# -- single-instruction modules ---------------------------------------------------------

OFFSET_EDGES = (0, 1, 3, 4, 8, 15, 16, 65535, 65536, 0x7FFF_FFFF, 0xFFFF_FFFF)


@st.composite
def instruction_cases(draw: st.DrawFn) -> InstructionCase:
    """One instruction from the table, with its immediates drawn (lanes, shuffle pattern, offset, alignment)."""
    instruction = draw(st.sampled_from(INSTRUCTIONS))
    if instruction.immediate == "lane":
        return InstructionCase(instruction, lane=draw(st.integers(0, instruction.lanes - 1)))
    if instruction.immediate == "shuffle":
        return InstructionCase(instruction, shuffle=tuple(draw(st.lists(st.integers(0, 31), min_size=16, max_size=16))))
    if instruction.immediate == "memarg":
        offset = draw(st.one_of(st.sampled_from(OFFSET_EDGES), st.integers(0, 70000), st.integers(0, 0xFFFF_FFFF)))
        return InstructionCase(instruction, offset=offset, align=draw(st.integers(0, instruction.align_max)))
    return InstructionCase(instruction)


def instruction_modules() -> st.SearchStrategy[tuple[tuple[InstructionCase, ...], bytes]]:
    """A few instructions (one exported function each) and the bytes the module's memory starts with."""
    return st.tuples(
        st.lists(instruction_cases(), min_size=1, max_size=6).map(tuple),
        st.binary(max_size=64),
    )
