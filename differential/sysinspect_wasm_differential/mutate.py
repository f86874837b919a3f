"""Near-valid modules: small, named edits of a valid module's bytes (the validation differential's input).

Each :class:`Mutation` is one edit of a kind in :data:`KINDS`, with drawn
numbers that are reduced modulo what the module has (a position modulo its
length, a section index modulo its section count), so that every drawn
mutation applies to every module and hypothesis can shrink the numbers
freely. A structural edit of bytes that no longer parse as sections (an
earlier edit broke them) changes nothing: the module is judged as it is.

The kinds are the ways a decoder or validator is most often lax: a flipped,
inserted or deleted byte, a truncation, sections out of order or repeated,
a LEB128 number re-encoded longer than it needs (valid up to its width,
malformed past it), and instructions after the ``end`` that closes a
function body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sysinspect_wasm.wasmbinary import SECTION_CODE, DecodeError, Section, encode_u, frame_sections, read_bodies, read_u

HEADER = 8
"""The magic number and the version: the sections start after them."""

KINDS = ("flip", "insert", "delete", "truncate", "swap-sections", "duplicate-section", "leb", "after-end")
"""Every kind of mutation, in the order hypothesis shrinks towards (the first is the simplest)."""

SNIPPETS: tuple[bytes, ...] = (
    b"\x01",  # nop
    b"\x00",  # unreachable
    b"\x0b",  # a second end
    b"\x41\x00\x1a",  # i32.const 0, drop
    b"\x02\x40\x0b",  # block, end
    b"\x02\x40\x41\x00\x0f\x0b",  # block, i32.const 0, return, end
    b"\x0f",  # return
    b"\x41\x00\x0f\x0b",  # i32.const 0, return, end
)
"""Well-formed instruction sequences to append after a body's final ``end`` (drawn bytes are appended too)."""


@dataclass(frozen=True)
class Mutation:
    """One edit: its kind, two drawn numbers and drawn bytes (each kind reads what it needs)."""

    kind: str
    at: int = 0
    size: int = 0
    data: bytes = b"\x00"

    def __str__(self) -> str:
        return f"{self.kind}(at={self.at}, size={self.size}, data={self.data.hex() or '-'})"


@dataclass(frozen=True)
class RawSection:
    """A section as raw bytes: its id and payload."""

    id: int
    payload: bytes

    def encode(self, size_width: int = 0) -> bytes:
        return bytes([self.id]) + _leb(len(self.payload), size_width) + self.payload


def _leb(value: int, width: int = 0) -> bytes:
    """``value`` as unsigned LEB128, padded to ``width`` bytes when that is longer than it needs."""
    plain = encode_u(value)
    if width <= len(plain):
        return plain
    return bytes(b | 0x80 for b in plain) + b"\x80" * (width - len(plain) - 1) + b"\x00"


def read_sections(wasm: bytes) -> list[RawSection] | None:
    """The module's sections, or None when its bytes do not frame as sections (its header is not looked at)."""
    try:
        framed = frame_sections(wasm)
    except DecodeError:
        return None
    return [RawSection(s.id, wasm[s.payload_start:s.end]) for s in framed]


def join(wasm: bytes, sections: Sequence[RawSection], widths: dict[int, int] | None = None) -> bytes:
    """``wasm``'s header followed by ``sections`` (section ``i``'s size padded to ``widths[i]`` bytes)."""
    widths = widths or {}
    return wasm[:HEADER] + b"".join(s.encode(widths.get(i, 0)) for i, s in enumerate(sections))


def code_bodies(payload: bytes) -> list[bytes] | None:
    """A code section's function bodies (each without its size), or None when it does not frame.

    Bytes after the last body are left out (an earlier edit may have left some): they are not a body to edit.
    """
    try:
        spans = read_bodies(payload, Section(SECTION_CODE, 0, 0, len(payload)), exact=False)  # the payload alone
    except DecodeError:
        return None
    return [payload[start:end] for start, end in spans]


def code_section(sections: Sequence[RawSection]) -> tuple[int, list[bytes]] | None:
    """The index of the code section among ``sections`` and its function bodies; None without one, or when its
    bodies do not frame."""
    index = next((i for i, s in enumerate(sections) if s.id == SECTION_CODE), None)
    bodies = code_bodies(sections[index].payload) if index is not None else None
    return None if index is None or bodies is None else (index, bodies)


def code_payload(bodies: Sequence[bytes]) -> bytes:
    """A code section's payload holding ``bodies``."""
    return encode_u(len(bodies)) + b"".join(encode_u(len(b)) + b for b in bodies)


def apply(wasm: bytes, mutation: Mutation) -> bytes:
    """``wasm`` with ``mutation`` made (unchanged where the mutation finds nothing to edit)."""
    kind, at, size, data = mutation.kind, mutation.at, mutation.size, mutation.data
    if kind == "flip":
        if not wasm:
            return wasm
        pos = at % len(wasm)
        return wasm[:pos] + bytes([wasm[pos] ^ (data[0] if data and data[0] else 0x01)]) + wasm[pos + 1:]
    if kind == "insert":
        pos = at % (len(wasm) + 1)
        return wasm[:pos] + data + wasm[pos:]
    if kind == "delete":
        if not wasm:
            return wasm
        pos = at % len(wasm)
        return wasm[:pos] + wasm[pos + max(size, 1):]
    if kind == "truncate":
        return wasm[:at % len(wasm)] if wasm else wasm
    sections = read_sections(wasm)
    if not sections:
        return wasm
    if kind == "swap-sections":
        i, j = at % len(sections), size % len(sections)
        sections[i], sections[j] = sections[j], sections[i]
        return join(wasm, sections)
    if kind == "duplicate-section":
        i = at % len(sections)
        sections.insert(size % (len(sections) + 1), sections[i])
        return join(wasm, sections)
    if kind == "leb":
        return _reencode(wasm, sections, at, size)
    if kind == "after-end":
        return _after_end(wasm, sections, at, data)
    raise ValueError(f"unknown mutation kind {kind!r} (one of {', '.join(KINDS)})")


def _reencode(wasm: bytes, sections: list[RawSection], at: int, size: int) -> bytes:
    """Re-encode one LEB128 longer: a section's size, its first count, or a function body's size.

    ``size`` picks the new width, 2 to 6 bytes: up to 5 a u32 stays well-formed, 6 is malformed.
    """
    width = 2 + size % 5
    sites = [(i, -1) for i in range(len(sections))] + [(i, 0) for i, s in enumerate(sections) if s.id != 0]
    found = code_section(sections)
    code, bodies = found if found is not None else (None, None)
    if code is not None and bodies:
        sites += [(code, n + 1) for n in range(len(bodies))]
    index, site = sites[at % len(sites)]
    if site == -1:  # the section's own size
        return join(wasm, sections, {index: width})
    section = sections[index]
    if site == 0:  # the first number of the payload: a count (or the start function, the data count)
        try:
            value, end = read_u(section.payload, 0)
        except DecodeError:
            return wasm
        sections[index] = RawSection(section.id, _leb(value, width) + section.payload[end:])
        return join(wasm, sections)
    assert bodies is not None
    body = bodies[site - 1]
    before = b"".join(encode_u(len(b)) + b for b in bodies[:site - 1])
    after = b"".join(encode_u(len(b)) + b for b in bodies[site:])
    payload = encode_u(len(bodies)) + before + _leb(len(body), width) + body + after
    sections[index] = RawSection(section.id, payload)
    return join(wasm, sections)


def _after_end(wasm: bytes, sections: list[RawSection], at: int, data: bytes) -> bytes:
    """Append ``data`` (instructions) after the final ``end`` of one function body, sizes adjusted."""
    found = code_section(sections)
    if found is None or not found[1]:
        return wasm
    code, bodies = found
    n = at % len(bodies)
    bodies[n] = bodies[n] + data
    sections[code] = RawSection(SECTION_CODE, code_payload(bodies))
    return join(wasm, sections)


def apply_all(wasm: bytes, mutations: Sequence[Mutation]) -> bytes:
    """``wasm`` with every mutation made, in order."""
    for mutation in mutations:
        wasm = apply(wasm, mutation)
    return wasm
