"""Format: payload, JSON manifest, fixed footer; with the payload in part files when it is too large for one.

A cache file is its payload (the backend's: wasmtime's serialized module,
the pywasm backend's body index or marshalled interpreter), a JSON manifest
(what it was made from; the backend decides the fields), then a fixed
footer (:data:`FOOTER`): format, manifest length, payload length, the full
key, the CRC-32 of payload and manifest, and a magic number. A file whose
footer, length, key or checksum does not hold is
:class:`~sysinspect_wasm.store.Damaged`. CRC-32 catches damage (a
truncated, garbled or half-copied file) as well as SHA-256 would at a third
of the cost (measured on a 10 MB artifact: 1.4 ms against 4.8 ms, on every
warm call); who may write the file is checked instead (:mod:`.trust`).

Parts. A process may not write a file past its ``RLIMIT_FSIZE`` (a root
minion sets 10 MiB, and a standard-Go module's native code is larger). A
backend that allows it gives a second, *parted* format: the payload is in
part files ``.<stem>.<n>.part.cwasm`` of at most the limit (at most
:data:`PART_BYTES_MAX`, no more than :data:`MAX_PARTS` of them), and the
file itself holds only the manifest (with the parts' lengths, ``"parts"``)
and the footer, whose payload length and checksum still cover the whole
payload. Every part is opened and checked like a cache file (:mod:`.trust`,
its length) and read into memory while its checksum is computed: memory,
not a file, because writing a copy would pass the same limit. Parts are
written before the file that names them (:mod:`.concurrency`), so a reader
sees none or all.
"""

from __future__ import annotations

import os
import zlib

from .. import jsoncodec
from ..records import FrozenRecord
from . import Damaged
from .key import chunks
from .layout import part_name
from .trust import open_trusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAGIC = b"sysiwasm"


class _FooterLayout:
    """``struct.Struct("<IIQ32sI8s")``, without the module struct (every warm call reads a footer, and struct
    with its extension module costs it 0.3 to 0.4 ms to import): little-endian format and manifest length (4 bytes
    each), payload length (8), key (32, NUL-padded), CRC-32 (4), magic (8)."""

    size = 60
    _INTS = ((0, 4), (4, 8), (8, 16))

    def pack(self, fmt: int, meta_len: int, payload_len: int, key: bytes, checksum: int, magic: bytes) -> bytes:
        return b"".join((fmt.to_bytes(4, "little"), meta_len.to_bytes(4, "little"), payload_len.to_bytes(8, "little"),
                         key[:32].ljust(32, b"\0"), checksum.to_bytes(4, "little"), magic[:8].ljust(8, b"\0")))

    def unpack(self, raw: bytes) -> tuple[int, int, int, bytes, int, bytes]:
        if len(raw) != self.size:  # a file that shrank while it was read
            raise Damaged(f"truncated ({len(raw)} bytes of a {self.size}-byte cache footer)")
        fmt, meta_len, payload_len = (int.from_bytes(raw[start:end], "little") for start, end in self._INTS)
        return fmt, meta_len, payload_len, bytes(raw[16:48]), int.from_bytes(raw[48:52], "little"), bytes(raw[52:60])


FOOTER = _FooterLayout()
"""format, manifest length, payload length, key, CRC-32 of payload and manifest, magic."""
PART_BYTES_MAX = 10 * 1024 * 1024
"""Largest part file: a root minion spawns modules with RLIMIT_FSIZE at 10 MiB (PROTOCOL.md 5.4)."""
MAX_PARTS = 64
"""Most parts a payload is split into: a limit so small that it needs more is not worth caching under."""
MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest whole file a cache without parts writes (and reads): a minion's RLIMIT_FSIZE, soft and hard."""


class Formats(FrozenRecord):
    """The format numbers a backend writes: ``whole`` (payload in the file) and ``parted`` (0: it has none)."""

    __match_args__ = ("whole", "parted")
    whole: int
    parted: int

    def __init__(self, whole: int, parted: int = 0) -> None:
        self.__dict__.update(whole=whole, parted=parted)

    def named(self) -> str:
        return f"{self.whole} or {self.parted}" if self.parted else str(self.whole)


class Footer(FrozenRecord):
    """A cache file's footer, once its magic, format and length hold (see :func:`read_footer`)."""

    __match_args__ = ("fmt", "meta_len", "payload_len", "key", "checksum", "parted")
    fmt: int
    meta_len: int
    payload_len: int
    key: bytes
    checksum: int
    parted: bool

    def __init__(self, fmt: int, meta_len: int, payload_len: int, key: bytes, checksum: int, parted: bool) -> None:
        self.__dict__.update(fmt=fmt, meta_len=meta_len, payload_len=payload_len, key=key, checksum=checksum,
                             parted=parted)

    @property
    def meta_at(self) -> int:
        """Where the manifest starts: after the payload, unless that is in parts."""
        return 0 if self.parted else self.payload_len


def _footer(raw: bytes, size: int, formats: Formats) -> Footer:
    fmt, meta_len, payload_len, key, checksum, magic = FOOTER.unpack(raw)
    if magic != MAGIC:
        raise Damaged("truncated or garbled (no cache footer at its end)")
    if fmt not in (formats.whole, formats.parted or formats.whole):
        raise Damaged(f"written in cache format {fmt}, not {formats.named()}")
    parted = fmt != formats.whole
    held = meta_len + (0 if parted else payload_len)
    if held != size - FOOTER.size or payload_len == 0:
        raise Damaged(f"truncated or garbled ({size} bytes, its footer describes {held + FOOTER.size})")
    return Footer(fmt, meta_len, payload_len, key, checksum, parted)


def read_footer(fd: int, size: int, formats: Formats) -> Footer:
    """The footer of the cache file of ``size`` bytes open at ``fd``; raises :class:`~sysinspect_wasm.store.Damaged`."""
    if size < FOOTER.size:
        raise Damaged(f"truncated ({size} bytes, shorter than the cache footer)")
    return _footer(os.pread(fd, FOOTER.size, size - FOOTER.size), size, formats)


def json_object(meta: bytes | memoryview) -> dict[str, Any]:
    """A manifest's JSON object; raises :class:`~sysinspect_wasm.store.Damaged` for anything else."""
    try:
        manifest = jsoncodec.loads(bytes(meta))
    except ValueError:
        raise Damaged("garbled (unreadable manifest)") from None
    if not isinstance(manifest, dict):
        raise Damaged("garbled (unreadable manifest)")
    return manifest


def encode_manifest(manifest: dict[str, Any]) -> bytes:
    return jsoncodec.dumps(manifest, sort_keys=True).encode()


def pack(payload: bytes | bytearray | memoryview, manifest: dict[str, Any], key: str, fmt: int) -> list[bytes | bytearray | memoryview]:
    """The pieces of a whole cache file: payload, manifest, footer."""
    meta = encode_manifest(manifest)
    checksum = zlib.crc32(meta, zlib.crc32(payload))
    return [payload, meta, FOOTER.pack(fmt, len(meta), len(payload), bytes.fromhex(key), checksum, MAGIC)]


def pack_parted(payload: bytes | bytearray | memoryview, manifest: dict[str, Any], key: str, fmt: int,
                part_bytes: int) -> tuple[list[memoryview], list[bytes]]:
    """``(parts, pieces of the file naming them)`` for ``payload`` cut into parts of ``part_bytes`` at most.

    Raises :class:`ValueError` naming the sizes when that takes more than :data:`MAX_PARTS` parts.
    """
    size = min(part_bytes, PART_BYTES_MAX)
    if -(-len(payload) // size) > MAX_PARTS:
        raise ValueError(f"{len(payload)} bytes would need more than {MAX_PARTS} parts of {size} bytes")
    view = memoryview(payload)
    parts = [view[at : at + size] for at in range(0, len(payload), size)]
    meta = encode_manifest({**manifest, "parts": [len(part) for part in parts]})
    checksum = zlib.crc32(meta, zlib.crc32(payload))
    return parts, [meta, FOOTER.pack(fmt, len(meta), len(payload), bytes.fromhex(key), checksum, MAGIC)]


def unpack(data: bytes, key: str | None, fmt: int) -> tuple[bytes, dict[str, Any], str]:
    """``(payload, manifest, key)`` of a whole cache file read into ``data``, once footer, length, key and
    checksum hold (``key=None`` accepts any). Raises :class:`~sysinspect_wasm.store.Damaged`."""
    size = len(data)
    if size < FOOTER.size:
        raise Damaged(f"truncated ({size} bytes, shorter than the cache footer)")
    footer = _footer(data[size - FOOTER.size :], size, Formats(fmt))
    _check_key(footer, key)
    body = memoryview(data)[: footer.payload_len + footer.meta_len]
    if zlib.crc32(body) != footer.checksum:
        raise Damaged("garbled (checksum mismatch)")
    return bytes(body[: footer.payload_len]), json_object(body[footer.payload_len :]), footer.key.hex()


def _check_key(footer: Footer, key: str | bytes | None) -> None:
    if key is not None and footer.key != (bytes.fromhex(key) if isinstance(key, str) else key):
        raise Damaged("built from other module content or by another engine (its key differs)")


def verify(fd: int, size: int, key: bytes | None, formats: Formats, dfd: int | None = None,
           name: str = "") -> tuple[bytes, dict[str, Any], bytearray | None]:
    """``(key, manifest, payload)`` of the cache file open at ``fd`` once its footer, length, key and checksum hold.

    ``key=None`` accepts any key. The payload is ``None`` for a whole file
    (it was checked in place: the caller may map the file itself); for a
    parted one it is the bytes of its parts, read from folder ``dfd`` (the
    file's own name is ``name``). Raises :class:`~sysinspect_wasm.store.Damaged`
    (:class:`~sysinspect_wasm.store.Untrusted` for a part others could have written).
    """
    footer = read_footer(fd, size, formats)
    _check_key(footer, key)
    meta = os.pread(fd, footer.meta_len, footer.meta_at)
    if len(meta) != footer.meta_len:
        raise Damaged("truncated while it was read")
    payload: bytearray | None = None
    manifest: dict[str, Any] | None = None  # read first only when it lists the parts
    crc = read = 0
    if not footer.parted:
        for chunk in chunks(fd, footer.payload_len):
            crc = zlib.crc32(chunk, crc)
            read += len(chunk)
        if read != footer.payload_len:
            raise Damaged("truncated while it was read")
    else:
        if dfd is None:
            raise Damaged("in parts, and its folder is unknown")
        manifest = json_object(meta)
        payload, crc = read_parts(dfd, name, part_lengths(manifest, footer.payload_len), crc)
    if zlib.crc32(meta, crc) != footer.checksum:
        raise Damaged("garbled (checksum mismatch)")
    return footer.key, manifest if manifest is not None else json_object(meta), payload


def read_manifest(fd: int, size: int, formats: Formats) -> tuple[bytes, dict[str, Any]]:
    """``(key, manifest)`` of the cache file open at ``fd``, checking its footer but not its checksum."""
    footer = read_footer(fd, size, formats)
    return footer.key, json_object(os.pread(fd, footer.meta_len, footer.meta_at))


def part_lengths(manifest: dict[str, Any], payload_len: int) -> list[int]:
    """The lengths of the parts a parted file's manifest lists, once they add up to its payload."""
    parts = manifest.get("parts")
    if (not isinstance(parts, list) or not 0 < len(parts) <= MAX_PARTS
            or not all(type(n) is int and 0 < n <= PART_BYTES_MAX for n in parts) or sum(parts) != payload_len):
        raise Damaged("garbled (its manifest does not describe its parts)")
    return parts


def read_parts(dfd: int, artifact: str, lengths: list[int], crc: int) -> tuple[bytearray, int]:
    """The payload in the parts of ``artifact`` in folder ``dfd``, and the running CRC-32 over it.

    Each part must pass the rules of trust and have its length; raises
    :class:`~sysinspect_wasm.store.Damaged` (:class:`~sysinspect_wasm.store.Untrusted`
    for a part others could have written).
    """
    payload = bytearray(sum(lengths))
    view = memoryview(payload)
    offset = 0
    for index, length in enumerate(lengths):
        name = part_name(artifact, index)
        opened = open_trusted(dfd, name, f"its part {name}")
        if opened is None:
            raise Damaged(f"incomplete (its part {name} is missing)")
        fd, st = opened
        try:
            if st.st_size != length:
                raise Damaged(f"truncated or garbled (its part {name} has {st.st_size} bytes, not {length})")
            done = 0
            while done < length:
                count = os.preadv(fd, [view[offset + done : offset + length]], done)
                if not count:
                    raise Damaged(f"truncated while it was read (part {name})")
                done += count
        finally:
            os.close(fd)
        crc = zlib.crc32(view[offset : offset + length], crc)
        offset += length
    return payload, crc
