"""Ways to spoil a cache file, shared by the cache tests: each leaves a file the cache must refuse to use.

``garble`` flips one byte (at ``at``, by default the middle), ``truncate``
drops the last ``cut`` bytes, ``group-writable`` makes it writable by its
group, ``symlink`` moves it to ``elsewhere`` and leaves a link in its place,
``remove`` deletes it. Cases a test needs beyond these stay in the test.
"""

from __future__ import annotations

from pathlib import Path

SPOILS = ("garble", "truncate", "group-writable", "symlink", "remove")


def spoil(path: Path, how: str, elsewhere: Path, *, at: int | None = None, cut: int = 1) -> None:
    """Spoil the file ``path`` as ``how`` names (see the module docstring)."""
    if how == "garble":
        data = bytearray(path.read_bytes())
        data[len(data) // 2 if at is None else at] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[:-cut])
    elif how == "group-writable":
        path.chmod(0o664)
    elif how == "symlink":
        path.rename(elsewhere)
        path.symlink_to(elsewhere)
    elif how == "remove":
        path.unlink()
    else:
        raise ValueError(f"no such way to spoil a cache file: {how!r} (one of {', '.join(SPOILS)})")
