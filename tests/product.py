"""The product as a user gets it: the sdist and the wheel built with PyPA's ``build``, the wheel installed into a
fresh virtual environment without the dev extras.

Tests that must hold for what ships (the protocol call, ``wasm-runtime bundle``, the minion-faithful deployment)
run the ``wasm-runtime`` of that environment, never the editable tree's: an editable install finds every file of
the checkout, so a module or data file the wheel leaves out only shows there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EPOCH = "315532800"
"""SOURCE_DATE_EPOCH of the builds (1980-01-01, the earliest time a zip holds): the wheel's and the sdist's bytes
depend on no clock."""


@dataclass(frozen=True)
class Product:
    """A built sdist and wheel, and a fresh environment the wheel is installed in."""

    sdist: Path
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def runtime(self) -> Path:
        return self.venv / "bin" / "wasm-runtime"

    def names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())


def build_distributions(out: Path, python: Path = Path(sys.executable), touched: float | None = None) -> tuple[Path, Path]:
    """``(sdist, wheel)`` built by ``python -m build`` from a copy of the checkout's tracked files (the wheel is
    built from the sdist, so the sdist is proven complete too). With ``touched``, every copied file gets that
    time instead of the checkout's, as in another clone of the same commit."""
    source = out / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        path = REPO / name
        if path.is_file():  # a file deleted in the work tree but not yet in the index is gone from the product too
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
            if touched is not None:
                os.utime(source / name, (touched, touched))
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "-m", "build", "--outdir", str(out / "dist"), str(source)], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -m build failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    sdists = sorted((out / "dist").glob("*.tar.gz"))
    wheels = sorted((out / "dist").glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, (sdists, wheels)
    return sdists[0], wheels[0]


def install(wheel: Path, venv: Path, python: Path = Path(sys.executable), extras: str = "") -> None:
    """A fresh virtual environment at ``venv`` with ``wheel`` installed (and its ``extras``, e.g. ``[toolchains]``)."""
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=300)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           f"{wheel}{extras}"], capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {wheel.name}{extras} failed ({done.returncode}):\n{done.stderr[-4000:]}")


def make_product(top: Path | None = None) -> Product:
    """Build and install the product under ``top`` (a new temporary folder by default)."""
    top = top or Path(tempfile.mkdtemp(prefix="sysinspect-product-"))
    top.chmod(0o755)  # the deploy tests run the bundle made from it as uid 65534
    sdist, wheel = build_distributions(top)
    install(wheel, top / "venv")
    return Product(sdist, wheel, top / "venv")
