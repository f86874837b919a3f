"""Paths as strings, spelled as :mod:`pathlib` spells them, for the warm call path.

``import pathlib`` costs a warm protocol call several milliseconds (it
imports ``fnmatch``, ``re``, ``urllib.parse``, ``ipaddress`` and more), so the
modules a warm call runs keep their paths as ``str`` and make a ``Path`` only
where a caller asks for one. Where such a string reaches an operator (in a
message or a warning) it must read exactly as ``str(Path(...))`` would:
:func:`pure` gives that spelling.
"""

from __future__ import annotations

import os


def pure(path: str | os.PathLike[str]) -> str:
    """``str(pathlib.PurePosixPath(path))``: repeated and trailing slashes and ``.`` parts dropped, ``..`` kept.

    Two leading slashes stay two, as POSIX leaves their meaning to the system (three or more become one).
    """
    text = os.fspath(path)
    if not text:
        return "."
    root = ""
    if text.startswith("/"):
        root = "//" if text.startswith("//") and not text.startswith("///") else "/"
    joined = "/".join(part for part in text.split("/") if part and part != ".")
    return root + joined if root or joined else "."


def name(path: str | os.PathLike[str]) -> str:
    """``PurePosixPath(path).name``: the last part of the path ("" for a root)."""
    parts = pure(path).rsplit("/", 1)
    last = parts[-1]
    return "" if last == "." and len(parts) == 1 else last


def stem(path: str | os.PathLike[str]) -> str:
    """``PurePosixPath(path).stem``: :func:`name` without its last suffix."""
    last = name(path)
    dot = last.rfind(".")
    return last[:dot] if 0 < dot < len(last) - 1 else last


def join(folder: str | os.PathLike[str], *parts: str) -> str:
    """``str(PurePosixPath(folder).joinpath(*parts))`` (an absolute part starts over, as there)."""
    return pure(os.path.join(os.fspath(folder), *parts))


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole file at ``path`` (``pathlib.Path.read_bytes`` without pathlib); raises ``OSError``."""
    with open(path, "rb") as file:
        return file.read()
