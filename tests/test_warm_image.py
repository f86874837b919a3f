"""The launcher's warm image (launcher/image.py): one file with the code of every module a warm call imports.

Each test lays out the library tree's Python part as the bundle writes it
(``library_tree`` with no native targets: the runtime's packages, pywasm and
the start-up, with this Python's hash-checked bytecode), and imports from it
in a fresh interpreter started as the launcher starts one (``-I -S -B``),
with the test environment's site-packages behind it for wasmtime-py (what
the tree's ``wasmtime/`` folder is to a minion). The whole launcher, on
every Python and uid a minion may have, is tests/test_deploy_minion.py's.
"""

from __future__ import annotations

import importlib
import json
import marshal
import os
import resource
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

bundle = importlib.import_module("sysinspect_wasm_launcher.bundle")
WARM_MODULES = importlib.import_module("sysinspect_wasm_launcher.warmpath").WARM_MODULES
image = importlib.import_module("sysinspect_wasm_launcher.image")

PROBE = r"""
import json, os, sys
here, folder, use = sys.argv[1], sys.argv[2], sys.argv[3] == "image"
sys.path[0:0] = [os.path.join(here, "python"), sys.argv[4]]
did = ""
if use:
    from sysinspect_wasm_launcher.image import use_image
    did = use_image(here, folder)
from sysinspect_wasm_launcher.warmpath import WARM_MODULES
import gc
report = {"gc": gc.isenabled(), "image": did}
for name in WARM_MODULES:
    __import__(name)
    module = sys.modules[name]
    report[name] = {"file": module.__file__, "origin": module.__spec__.origin, "cached": module.__cached__,
                    "path": getattr(module, "__path__", None), "loader": type(module.__loader__).__name__,
                    "parent": module.__spec__.parent, "package": module.__package__}
from importlib.resources import files
report["resource"] = files("sysinspect_wasm_runtime").joinpath("protocolmode.py").read_text().startswith("\x22")
print(json.dumps(report))
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The library tree's Python part, as a sync leaves it (files 0644, written now)."""
    root = tmp_path / "sharelib"
    bundle.library_tree("0.0.0", [], None, tmp_path / "wheels").write(root, 315532800)
    here = root / "lib" / "runtime" / "wasm-runtime" / "0.0.0"
    for path in here.rglob("*"):  # a sync writes every file anew: mtime now, not the bundle's
        if path.is_file():
            os.utime(path)
    return here


@pytest.fixture
def private(tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    return folder


def probe(here: Path, folder: Path, use: str = "image", limit: int | None = None) -> dict[str, object]:
    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", PROBE, str(here), str(folder), use,
                           sysconfig.get_paths()["purelib"]], capture_output=True, text=True, timeout=120,
                          preexec_fn=limited, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def image_file(here: Path, folder: Path) -> Path:
    return Path(image.image_path(str(folder), str(here)))


def test_every_warm_module_comes_from_the_image_as_an_ordinary_import_would_make_it(tree: Path, private: Path) -> None:
    ordinary = probe(tree, private, "ordinary")
    assert not image_file(tree, private).exists()
    first = probe(tree, private)  # makes the image, then serves from it
    assert first["image"] == image.MADE
    path = image_file(tree, private)
    st = path.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (os.geteuid(), 0o600)
    assert path.is_relative_to(private / str(tree).lstrip("/"))  # below the tree's path, as bytecode is laid out
    second = probe(tree, private)
    assert path.stat().st_mtime_ns == st.st_mtime_ns and second["image"] == image.READ  # read, not made again
    for report in (first, second):
        assert report["resource"] is True  # package data reads as before: the loader is still a source file loader
        assert report["gc"] is True  # off while the image is read, on again after
        for name in WARM_MODULES:
            served, plain = report[name], ordinary[name]
            assert isinstance(served, dict) and isinstance(plain, dict)
            assert served["loader"] == "ImageLoader" and plain["loader"] == "SourceFileLoader", name
            assert {k: v for k, v in served.items() if k != "loader"} == {k: v for k, v in plain.items() if k != "loader"}
    assert str(tree / "python" / "sysinspect_wasm" / "__init__.py") == ordinary["sysinspect_wasm"]["file"]  # type: ignore[index]
    # the image holds the warm modules and the start-up's own, and nothing else
    held = {record[0] for record in marshal.loads(path.read_bytes())[3]}
    assert held == {*WARM_MODULES, *image.LAUNCHER_MODULES}


def test_a_source_a_sync_wrote_anew_makes_the_image_again(tree: Path, private: Path) -> None:
    probe(tree, private)
    path = image_file(tree, private)
    made = path.stat().st_mtime_ns
    assert image.read_image(str(path), str(tree), os.geteuid()) is not None
    source = tree / "python" / "sysinspect_wasm_runtime" / "protocolmode.py"
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    assert image.read_image(str(path), str(tree), os.geteuid()) is None  # stale: not served
    report = probe(tree, private)
    assert report["sysinspect_wasm_runtime.protocolmode"]["loader"] == "ImageLoader"  # type: ignore[index]
    assert path.stat().st_mtime_ns != made
    assert image.read_image(str(path), str(tree), os.geteuid()) is not None


def test_an_image_is_read_only_when_it_is_this_uid_s_own_and_whole(tree: Path, private: Path) -> None:
    probe(tree, private)
    path = image_file(tree, private)
    here, uid = str(tree), os.geteuid()
    good = path.read_bytes()
    assert image.read_image(str(path), here, uid) is not None
    assert image.read_image(str(path), str(tree.parent), uid) is None  # another tree's
    assert image.read_image(str(path), here, uid + 1) is None  # not this uid's
    path.chmod(0o644)
    assert image.read_image(str(path), here, uid) is None  # others could have had a hand in it
    path.chmod(0o600)
    for broken in (good[: len(good) // 2], b"not marshal", marshal.dumps((image.IMAGE_FORMAT + 1, *marshal.loads(good)[1:])),
                   marshal.dumps((image.IMAGE_FORMAT, b"\0\0\r\n", here, ())), marshal.dumps(("a", "b")),
                   marshal.dumps((image.IMAGE_FORMAT, marshal.loads(good)[1], here, (("x", False),)))):
        path.write_bytes(broken)
        assert image.read_image(str(path), here, uid) is None, broken[:40]
    path.unlink()
    elsewhere = private / "elsewhere.img"
    elsewhere.write_bytes(good)
    elsewhere.chmod(0o600)
    path.symlink_to(elsewhere)
    assert image.read_image(str(path), here, uid) is None  # never through a symlink
    path.unlink()
    # whatever was wrong with it, the next call makes it again and is served from it
    assert probe(tree, private)["sysinspect_wasm"]["loader"] == "ImageLoader"  # type: ignore[index]
    assert image.read_image(str(path), here, uid) is not None


def test_an_image_that_cannot_be_kept_still_serves_the_call_that_made_it(tree: Path, private: Path) -> None:
    # RLIMIT_FSIZE far below the image's size (a minion's is 10 MiB): the write fails, nothing is left behind
    report = probe(tree, private, limit=64 * 1024)
    assert report["sysinspect_wasm"]["loader"] == "ImageLoader" and report["image"] == image.NOT_KEPT  # type: ignore[index]
    folder = image_file(tree, private).parent
    assert folder.is_dir() and list(folder.iterdir()) == []
    (private / "file").write_bytes(b"")  # a folder that cannot be made
    assert image.keep(str(private / "file" / "warm.img"), b"x") is False
    # a temporary file of the same name (a call with the same pid in another pid namespace) is not this call's
    theirs = private / f"warm.img.{os.getpid()}.tmp"
    theirs.write_bytes(b"theirs")
    assert image.keep(str(private / "warm.img"), b"x") is False
    assert theirs.read_bytes() == b"theirs" and not (private / "warm.img").exists()
    theirs.unlink()
    assert image.keep(str(private / "warm.img"), b"x") is True and (private / "warm.img").read_bytes() == b"x"
    assert (private / "warm.img").stat().st_mode & 0o777 == 0o600


def test_an_image_that_cannot_be_made_leaves_every_import_ordinary(tree: Path, private: Path) -> None:
    (tree / "python" / "sysinspect_wasm" / "clibrary.py").unlink()  # a module the image must hold is not there
    report = probe(tree, private)
    assert report["image"] == image.NOT_MADE
    assert {report[name]["loader"] for name in WARM_MODULES} == {"SourceFileLoader"}  # type: ignore[index]
    assert not image_file(tree, private).exists()


def engines(here: Path, env: dict[str, str], python: str = sys.executable) -> dict[str, dict[str, str]]:
    """``wasm-runtime engines --json`` as the launcher runs it (boot.py of the tree), with the environment ``env``."""
    done = subprocess.run([python, "-I", "-S", "-B", str(here / "boot.py"), "linux-x86_64", "--", "engines",
                           "--json"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    found: dict[str, dict[str, str]] = json.loads(done.stdout)
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="the private folder's rules of trust are checked for root's folders")
def test_engines_says_how_the_launcher_started_and_why_warm_calls_may_be_slow(tree: Path, tmp_path: Path) -> None:
    top = tmp_path / "top"
    top.mkdir(mode=0o755)
    top.chmod(0o755)
    tmp_path.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "SYSINSPECT_WASM_CACHE_DIR": str(top / "cache")}
    started = engines(tree, env)["launcher"]
    folder = str(top / "cache" / "bytecode")
    assert started == {"tree": str(tree), "target": "linux-x86_64", "c_library": "glibc", "private_folder": folder,
                       "refused": "", "bytecode": "the tree's", "warm_image": image.MADE,
                       "wasmtime_root": started["wasmtime_root"]}, started
    assert started["wasmtime_root"].startswith("none: pywasm only")  # this tree was laid out with no native library
    assert engines(tree, env)["launcher"]["warm_image"] == image.READ
    top.chmod(0o777)  # now anyone could swap the folder: nothing is read from it, and engines says why
    started = engines(tree, env)["launcher"]
    assert (started["private_folder"], started["warm_image"]) == ("", "not used (no private folder)"), started
    assert started["refused"] == f"{top} is writable by other users", started
    text = subprocess.run([sys.executable, "-I", "-S", "-B", str(tree / "boot.py"), "linux-x86_64", "--", "engines"],
                          capture_output=True, text=True, timeout=120, env=env, check=False).stdout
    assert f"private folder none ({top} is writable by other users)" in text, text
    top.chmod(0o755)


def test_a_stray_bytecode_file_of_another_python_does_not_take_its_private_folder(tree: Path, tmp_path: Path) -> None:
    """The tree carries the bundling Python's bytecode (its boot.py says whose); a .pyc of another Python left in it
    by an ad-hoc import does not make that Python skip its own bytecode folder."""
    found = sorted(Path.home().glob(".pyenv/versions/3.13.*/bin/python3.13"))
    if not found:
        pytest.skip("needs a Python 3.13 (pyenv's, on this machine)")
    cache = tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "SYSINSPECT_WASM_CACHE_DIR": str(cache)}
    stray = tree / "python" / "sysinspect_wasm" / "__pycache__" / "__init__.cpython-313.pyc"
    subprocess.run([str(found[-1]), "-c", f"import py_compile; py_compile.compile({str(stray.parent.parent / '__init__.py')!r})"],
                   check=True, timeout=60)
    assert stray.is_file()
    started = engines(tree, env, str(found[-1]))["launcher"]
    assert started["bytecode"] == f"this uid's, in {cache / 'bytecode'}", started
    assert f'BUNDLED_TAG = "{sys.implementation.cache_tag}"' in (tree / "boot.py").read_text()
