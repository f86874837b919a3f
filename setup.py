"""Package discovery and a reproducible sdist for setuptools (everything else is in pyproject.toml).

The import packages live in folders that do not bear their names (``corpus/`` is ``sysinspect_wasm_corpus``,
``reference/sysinspect_wasm_reference`` is itself), so a static ``packages.find`` cannot map them. ``ROOTS``
names each top-level package's folder once; every package below a root is found, never listed: a hand-kept
list once left ``sysinspect_wasm.store`` out of the wheel (tests/test_product.py holds the wheel to the tree).

setuptools writes the wheel reproducibly when ``SOURCE_DATE_EPOCH`` is set, but not the sdist: its tar holds
each file's and folder's time of the checkout and of the build (``PKG-INFO``, ``*.egg-info``, every folder), the
builder's uid, gid and user name, and modes as the umask left them, and its gzip header holds the time of the
build. :class:`ReproducibleSdist` writes the same members in the same order with those fixed, so two builds of
one commit give the same bytes (tests/test_product.py checks it).
"""

from __future__ import annotations

import gzip
import os
import tarfile

from setuptools import find_packages, setup
from setuptools.command.sdist import sdist

ROOTS = {
    "sysinspect_wasm": "sysinspect_wasm",
    "sysinspect_wasm_reference": "reference/sysinspect_wasm_reference",
    "sysinspect_wasm_production": "production/sysinspect_wasm_production",
    "sysinspect_wasm_runtime": "runtime/sysinspect_wasm_runtime",
    "sysinspect_wasm_differential": "differential/sysinspect_wasm_differential",
    "sysinspect_wasm_corpus": "corpus",
    "sysinspect_wasm_launcher": "launcher",
}


def discovered() -> list[str]:
    """Every root and every package (a folder with ``__init__.py``) below it."""
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return sorted(found)


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` (the reproducible-builds convention the wheel follows too), or None when unset."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value else None


def normalised(info: tarfile.TarInfo, mtime: int | None) -> tarfile.TarInfo:
    """A member as any builder writes it: owned by 0:0 with no names, mode 0644 or 0755 (what git keeps: executable
    or not), and at ``mtime`` when given."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.isdir() or info.mode & 0o111 else 0o644
    if mtime is not None:
        info.mtime = mtime
    return info


class ReproducibleSdist(sdist):  # type: ignore[misc]  # setuptools is untyped
    """``sdist`` whose ``.tar.gz`` depends only on the release tree's names, contents and executable bits (and on
    ``SOURCE_DATE_EPOCH``, every member's time when set; else the files' own times stay, as setuptools keeps them).

    The members are added as setuptools adds them (``tarfile.add`` of the release folder: each folder's entries
    sorted by name); the gzip header carries no name and the time ``SOURCE_DATE_EPOCH`` (0 when unset).
    Other formats, and an explicit ``--owner``/``--group``, go to setuptools unchanged.
    """

    def make_archive(self, base_name: str, format: str, root_dir: str | None = None, base_dir: str | None = None,
                     owner: str | None = None, group: str | None = None) -> str:
        if format != "gztar" or root_dir is not None or base_dir is None or owner or group:
            return str(super().make_archive(base_name, format, root_dir, base_dir, owner, group))
        archive = base_name + ".tar.gz"
        mtime = source_date_epoch()
        if not self.dry_run:
            os.makedirs(os.path.dirname(archive) or ".", exist_ok=True)
            with open(archive, "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime or 0) as packed, \
                    tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(base_dir, filter=lambda info: normalised(info, mtime))
        return archive


setup(package_dir=ROOTS, packages=discovered(), cmdclass={"sdist": ReproducibleSdist})
