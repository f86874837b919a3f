"""The wheel and the sdist, as ``pip install`` gives them to a user: what they hold and what they run.

The editable tree proves nothing here: it finds every file of the checkout. A
hand-kept package list once left ``sysinspect_wasm.store`` out of the wheel,
so both backends failed to import in every real install while the suite stayed
green. So every module and data file of the tree is accounted for in the wheel
(shipped, or named below with the reason it is not), and the installed
product answers a protocol call on both backends.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from product import REPO, Product, build_distributions, install

ROOTS = {
    "sysinspect_wasm": "sysinspect_wasm",
    "reference/sysinspect_wasm_reference": "sysinspect_wasm_reference",
    "production/sysinspect_wasm_production": "sysinspect_wasm_production",
    "runtime/sysinspect_wasm_runtime": "sysinspect_wasm_runtime",
    "differential/sysinspect_wasm_differential": "sysinspect_wasm_differential",
    "corpus": "sysinspect_wasm_corpus",
    "launcher": "sysinspect_wasm_launcher",
}
"""Each package root of the checkout and the import name it ships as: the expectation, written independently of
setup.py's discovery, so that a root setup.py forgets fails here."""
NOT_PACKAGED = ("tests/*", "bench/*", "scripts/*", "setup.py", "corpus/src/*")
"""Python files of the checkout that are no module of the product: tests, benchmarks, the build script and the
corpus's guest sources (Python files among them are build inputs)."""
NOT_SHIPPED = {
    "*/README.md": "documentation of the checkout (the project README is the wheel's long description)",
    "differential/FINDINGS.md": "documentation of the checkout",
    "corpus/.gitignore": "a file of the checkout",
    "corpus/modules.toml": "the corpus's catalogue: read by corpus/build.py, which rebuilds the corpus from a checkout",
    "corpus/src/*": "the corpus's guest sources: build inputs of corpus/build.py (the built modules ship)",
    "differential/regressions/*": "regression modules read by findings.regressions(), which only the test suite calls",
}
"""Non-Python files under a package root that the wheel leaves out, and why. Anything else there must ship."""
RUN_TIME_DATA = (
    "sysinspect_wasm_corpus/manifest.json",
    "sysinspect_wasm_corpus/lib/runtime/wasm/osrelease-go.wasm",
    "sysinspect_wasm_launcher/wasm-runtime.c",
    "sysinspect_wasm_launcher/boot.py",
    "sysinspect_wasm_differential/guests/fsprobe.wasm",
    "sysinspect_wasm_corpus/sdk/go/sysinspect.go",
    "sysinspect_wasm_runtime/templates/go/main.go",
    "sysinspect_wasm/py.typed",
)
"""Files the code opens at run time (the embedded library and its manifest, the launcher's source and boot script,
the filesystem probe of ``wasm-runtime diff``, the guest SDKs and project templates of ``wasm-runtime new``, the
type marker): named here as well, so that a rule above that
wrongly excluded one would still fail."""


def tracked() -> list[str]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in done.stdout.decode().split("\0") if name and (REPO / name).is_file()]


def shipped_as(name: str) -> str | None:
    """Where the checkout's file ``name`` lands in the wheel, ``None`` when it is under no package root."""
    for folder, package in ROOTS.items():
        if name.startswith(folder + "/"):
            return package + name[len(folder):]
    return None


def excluded(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def test_the_wheel_holds_every_module_and_data_file_of_the_tree(product: Product) -> None:
    names = product.names()
    missing, stray = [], []
    for name in tracked():
        if name.endswith(".py"):
            if excluded(name, NOT_PACKAGED):
                continue
            target = shipped_as(name)
            if target is None:
                stray.append(name)
            elif target not in names:
                missing.append(f"{name} (as {target})")
        else:
            target = shipped_as(name)
            if target is not None and not excluded(name, NOT_SHIPPED) and target not in names:
                missing.append(f"{name} (as {target})")
    assert not stray, f"Python files under no package root: add their root to setup.py's ROOTS and here: {stray}"
    assert not missing, f"the wheel leaves these out: {missing}"
    assert [data for data in RUN_TIME_DATA if data not in names] == []
    assert not [n for n in names if "/tests/" in n or n.startswith(("tests/", "bench/"))], "tests do not ship"


def test_the_sdist_holds_what_the_wheel_is_built_from(product: Product) -> None:
    with tarfile.open(product.sdist) as archive:
        members = {member.name.split("/", 1)[1] for member in archive.getmembers() if "/" in member.name}
    for needed in ("pyproject.toml", "setup.py", "README.md", "corpus/manifest.json", "launcher/wasm-runtime.c",
                   "sysinspect_wasm/store/trust.py"):
        assert needed in members, needed


def test_two_builds_of_one_commit_give_the_same_wheel_and_sdist_bytes(product: Product, tmp_path: Path) -> None:
    """The second build is made from copies with other file times, as another clone of the commit has."""
    again_sdist, again = build_distributions(tmp_path, touched=time.time())
    assert again.name == product.wheel.name and again_sdist.name == product.sdist.name
    if again.read_bytes() != product.wheel.read_bytes():
        with zipfile.ZipFile(product.wheel) as first, zipfile.ZipFile(again) as second:
            one = {i.filename: (i.date_time, i.external_attr, i.CRC) for i in first.infolist()}
            two = {i.filename: (i.date_time, i.external_attr, i.CRC) for i in second.infolist()}
        differ = sorted(name for name in one.keys() | two.keys() if one.get(name) != two.get(name))
        pytest.fail(f"two builds differ (the build's time or folder got into the wheel): {differ[:20]}")
    if again_sdist.read_bytes() != product.sdist.read_bytes():
        built, rebuilt = sdist_members(product.sdist), sdist_members(again_sdist)
        changed = sorted(name for name in built.keys() | rebuilt.keys() if built.get(name) != rebuilt.get(name))
        pytest.fail(f"two builds differ (a time, an owner, a mode or the order got into the sdist): gzip headers "
                    f"{product.sdist.read_bytes()[:10].hex()} and {again_sdist.read_bytes()[:10].hex()}, same order: "
                    f"{list(built) == list(rebuilt)}, members: "
                    f"{[(name, built.get(name), rebuilt.get(name)) for name in changed[:5]]}")


def sdist_members(sdist: Path) -> dict[str, tuple[object, ...]]:
    """Each member of ``sdist`` in its order: what a tar header holds, and a digest of the contents."""
    with tarfile.open(sdist) as archive:
        return {m.name: (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, m.type, m.size, m.pax_headers,
                         _digest(archive, m)) for m in archive.getmembers()}


def _digest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str | None:
    content = archive.extractfile(member) if member.isfile() else None
    return None if content is None else hashlib.sha256(content.read()).hexdigest()


def request_for(product: Product, backend: str) -> bytes:
    sharelib = subprocess.run([str(product.python), "-I", "-c",
                               "import sysinspect_wasm_corpus as c; print(c.library_root())"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert sharelib.startswith(str(product.venv)), sharelib  # the installed package's library, not the checkout's
    return json.dumps({"arguments": {"rt.mod": "osrelease-go", "key": "ID", "rt.backend": backend},
                       "options": ["nohello"], "config": {"path.sharelib": sharelib}}).encode()


@pytest.mark.parametrize("backend", ["wasmtime", "pywasm"])
def test_the_installed_runtime_answers_a_protocol_call(product: Product, backend: str) -> None:
    for _ in range(2):  # the first call compiles and caches, the second loads from the cache
        done = subprocess.run([str(product.runtime)], input=request_for(product, backend), capture_output=True,
                              timeout=600, cwd="/", check=False)
        assert done.returncode == 0, done.stderr.decode()
        lines = done.stdout.decode().splitlines()
        assert len(lines) == 1, lines
        answer = json.loads(lines[0])
        assert answer["retcode"] == 0, answer
        assert answer["data"]["ID"] == _os_release_id(), answer
        assert not [w for w in answer.get("warning", []) if "unavailable" in w or "cache" in w], answer


def _os_release_id() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ID":
            return value.strip().strip('"')
    raise KeyError("ID")


def test_the_installed_runtime_reports_its_engines(product: Product) -> None:
    version = subprocess.run([str(product.runtime), "-V"], capture_output=True, text=True, timeout=120, check=False)
    assert (version.returncode, version.stdout) == (0, "wasm-runtime 0.1.0\n"), version.stderr  # as upstream's clap
    done = subprocess.run([str(product.runtime), "engines", "--json"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["auto"] == "wasmtime" and found["python"]["c_library"].startswith("glibc"), found
    library = found["engines"]["wasmtime"]["library"]
    assert library.startswith(str(product.venv)) and library.endswith("linux-x86_64/_libwasmtime.so"), library
    assert found["engines"]["pywasm"] == {"available": True, "version": "2.2.3"}


@pytest.mark.slow
@pytest.mark.parametrize("minor", ["12", "13"])
def test_the_wheel_installs_and_answers_on_every_newer_python(product: Product, minor: str, tmp_path: Path) -> None:
    """pip users are on whatever Python they have: the same wheel into a fresh 3.12 and 3.13 environment."""
    found = sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
    if not found:
        pytest.skip(f"needs a Python 3.{minor} (pyenv's, on this machine)")
    other = Product(product.sdist, product.wheel, tmp_path / "venv")
    install(product.wheel, other.venv, python=found[-1])
    for backend in ("wasmtime", "pywasm"):
        done = subprocess.run([str(other.runtime)], input=request_for(other, backend), capture_output=True,
                              timeout=600, cwd="/", check=False)
        assert done.returncode == 0, done.stderr.decode()
        answer = json.loads(done.stdout)
        assert answer["retcode"] == 0 and answer["data"]["ID"] == _os_release_id(), (backend, answer)
        assert "warning" not in answer, answer
    engines = json.loads(subprocess.run([str(other.runtime), "engines", "--json"], capture_output=True, text=True,
                                        timeout=120, check=True).stdout)
    assert engines["python"]["version"].startswith(f"3.{minor}.") and engines["auto"] == "wasmtime", engines
