"""Filesystem confinement: a real probe guest gets the same answer on both backends, and never reaches outside.

The probe (tests/guests/fsprobe.c, built by build_fsprobe.sh) reads one
command per line and prints "ok ..." or "err <ERRNO>". Every case runs in a
fresh tree against the answer wasmtime 50 gives (recorded by running the
same probe on wasmtime-py directly), so both backends are held to it: ``..``
above a preopen, absolute paths and symbolic links leading out are refused
with EPERM, and a read-only preopen refuses every change with EPERM.
Afterwards nothing outside the preopens, and nothing in a read-only one, may
have changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import load_backend
from sysinspect_wasm_differential.filesystem import PROBE

from sysinspect_wasm import Module, Preopen, RunSpec
from sysinspect_wasm.backends import BACKEND_NAMES

# command -> wasmtime's answer, with /sandbox (writable) and /ro (read-only) preopened;
# "ok dir *": a directory whose size depends on the host filesystem
SANDBOX_CASES = [
    ('read /sandbox/file.txt', 'ok hello\\n'),
    ('read /sandbox/sub/../file.txt', 'ok hello\\n'),
    ('read /sandbox/link_in/inner.txt', 'ok inner'),
    ('read /sandbox/link_in_file', 'ok hello\\n'),
    ('read /sandbox/link_in_dotdot', 'ok hello\\n'),
    ('read /sandbox/loop1', 'err ELOOP'),
    ('read /sandbox/dangling', 'err ENOENT'),
    ('read /etc/passwd', 'err ENOENT'),
    ('lstat /sandbox/link_out', 'ok link 10'),
    ('readlink /sandbox/link_out', 'ok ../outside'),
    ('list /sandbox', 'ok dangling/link,file.txt/file,link_abs/link,link_in/link,link_in_dotdot/link,link_in_file/link,link_out/link,link_out_file/link,loop1/link,loop2/link,sub/dir'),
    ('list /sandbox/link_in', 'ok inner.txt/file'),
    ('write /sandbox/dangling X', 'ok'),
    ('write /sandbox/new.txt hello', 'ok'),
    ('symlink ../outside /sandbox/up_link', 'ok'),
    ('unlink /sandbox/link_out', 'ok'),
    ('rename /sandbox/link_out_file /sandbox/moved_link', 'ok'),
    ('link /sandbox/link_out_file /sandbox/hard_link', 'ok'),
    ('mkdir /sandbox/link_out/', 'err EEXIST'),
    ('mkdir /sandbox/dangling', 'err EEXIST'),
    ('rmdir /sandbox/link_out', 'err ENOTDIR'),
    ('rename /sandbox/link_out/ /sandbox/l3', 'err ENOTDIR'),
    ('read /sandbox/../outside/secret.txt', 'err EPERM'),
    ('read /sandbox/sub/../../outside/secret.txt', 'err EPERM'),
    ('read /sandbox/link_out/secret.txt', 'err EPERM'),
    ('read /sandbox/link_out_file', 'err EPERM'),
    ('read /sandbox/link_abs/secret.txt', 'err EPERM'),
    ('stat /sandbox/link_out', 'err EPERM'),
    ('stat /sandbox/link_out_file', 'err EPERM'),
    ('stat /sandbox/..', 'err EPERM'),
    ('list /sandbox/link_out', 'err EPERM'),
    ('list /sandbox/link_abs', 'err EPERM'),
    ('readlink /sandbox/link_out/x', 'err EPERM'),
    ('write /sandbox/link_out/new.txt X', 'err EPERM'),
    ('write /sandbox/link_out_file X', 'err EPERM'),
    ('append /sandbox/link_out_file X', 'err EPERM'),
    ('create /sandbox/link_out/new.txt', 'err EPERM'),
    ('truncate /sandbox/link_out_file', 'err EPERM'),
    ('setsize /sandbox/link_out_file 0', 'err EPERM'),
    ('settimes /sandbox/link_out_file', 'err EPERM'),
    ('mkdir /sandbox/link_out/d', 'err EPERM'),
    ('rmdir /sandbox/link_out/', 'err EPERM'),
    ('unlink /sandbox/link_out/', 'err EPERM'),
    ('unlink /sandbox/link_out/secret.txt', 'err EPERM'),
    ('rename /sandbox/file.txt /sandbox/link_out/stolen.txt', 'err EPERM'),
    ('rename /sandbox/link_abs/secret.txt /sandbox/s', 'err EPERM'),
    ('rename /sandbox/sub /sandbox/link_out/sub', 'err EPERM'),
    ('link /sandbox/file.txt /sandbox/link_out/hard', 'err EPERM'),
    ('link /sandbox/link_out/secret.txt /sandbox/hard', 'err EPERM'),
    ('symlink x /sandbox/link_out/sl', 'err EPERM'),
    ('symlink /etc/passwd /sandbox/abs_link', 'err EPERM'),
    ('rawopen 3 /etc/passwd', 'err EPERM'),
    ('rawopen 3 /file.txt', 'err EPERM'),
    ('rawopen 3 ../outside/secret.txt', 'err EPERM'),
    ('rawopen 3 sub/../../outside/secret.txt', 'err EPERM'),
    ('rawopen 3 ..', 'err EPERM'),
    ('rawopen 3 link_out', 'err EPERM'),
    ('rawopen 3 link_out/../root/file.txt', 'err EPERM'),
    ('rawopen 3 link_abs', 'err EPERM'),
    ('rawopen 3 file.txt', 'ok'),
    ('rawopen 3 .', 'ok'),
    ('rawstat 3 /etc', 'err EPERM'),
    ('rawstat 3 sub/../..', 'err EPERM'),
    ('rawstat 3 link_abs', 'err EPERM'),
    ('rawstat 3 link_out', 'err EPERM'),
    ('rawmkdir 3 /abs', 'err EPERM'),
    ('rawmkdir 3 ../esc', 'err EPERM'),
    ('rawmkdir 3 link_out/x', 'err EPERM'),
    ('rawopen 4 ../root/file.txt', 'err EPERM'),
    ('read /ro/file.txt', 'ok ro-file'),
    ('read /ro/ro_link', 'ok ro-file'),
    ('list /ro', 'ok emptydir/dir,file.txt/file,ro_link/link,sub/dir'),
    ('write /ro/file.txt X', 'err EPERM'),
    ('write /ro/new.txt X', 'err EPERM'),
    ('append /ro/file.txt X', 'err EPERM'),
    ('create /ro/new.txt', 'err EPERM'),
    ('truncate /ro/file.txt', 'err EPERM'),
    ('setsize /ro/file.txt 0', 'err EPERM'),
    ('settimes /ro/file.txt', 'err EPERM'),
    ('settimes /ro/sub', 'err EPERM'),
    ('mkdir /ro/d', 'err EPERM'),
    ('mkdir /ro/sub', 'err EPERM'),
    ('rmdir /ro/emptydir', 'err EPERM'),
    ('rmdir /ro/nonexist', 'err EPERM'),
    ('unlink /ro/file.txt', 'err EPERM'),
    ('unlink /ro/ro_link', 'err EPERM'),
    ('unlink /ro/nonexist', 'err EPERM'),
    ('rename /ro/file.txt /ro/f2.txt', 'err EPERM'),
    ('rename /ro/file.txt /sandbox/f2.txt', 'err EPERM'),
    ('rename /sandbox/file.txt /ro/f2.txt', 'err EPERM'),
    ('link /ro/file.txt /ro/hard.txt', 'err EPERM'),
    ('link /ro/file.txt /sandbox/hard.txt', 'err EPERM'),
    ('link /sandbox/file.txt /ro/hard.txt', 'err EPERM'),
    ('symlink file.txt /ro/sl', 'err EPERM'),
    ('rawmkdir 4 x', 'err EPERM'),
]

# the same with the writable preopen at guest "/" (what upstream does with host "/")
ROOT_CASES = [
    ('read /file.txt', 'ok hello\\n'),
    ('read /../outside/secret.txt', 'err EPERM'),
    ('read /sub/../../outside/secret.txt', 'err EPERM'),
    ('read /link_out/secret.txt', 'err EPERM'),
    ('read /link_abs/secret.txt', 'err EPERM'),
    ('stat /', 'ok dir *'),
    ('stat /..', 'err EPERM'),
    ('list /', 'ok dangling/link,file.txt/file,link_abs/link,link_in/link,link_in_dotdot/link,link_in_file/link,link_out/link,link_out_file/link,loop1/link,loop2/link,sub/dir'),
    ('rawopen 3 /file.txt', 'err EPERM'),
    ('rawopen 3 ../file.txt', 'err EPERM'),
    ('rawstat 3 .', 'ok 3 *'),
    ('rawstat 3 ..', 'err EPERM'),
    ('write /new.txt a', 'ok'),
    ('write /../escape.txt a', 'err EPERM'),
    ('mkdir /etc', 'ok'),
    ('mkdir /../escape', 'err EPERM'),
    ('symlink /etc/passwd /abs', 'err EPERM'),
    ('rename /file.txt /../outside/stolen.txt', 'err EPERM'),
    ('read /ro/file.txt', 'ok ro-file'),
    ('write /ro/file.txt X', 'err EPERM'),
]

class Probes:
    """The probe, loaded at most once per backend."""

    def __init__(self) -> None:
        self.loaded: dict[str, Module] = {}

    def get(self, backend_name: str) -> Module:
        """The probe on ``backend_name`` (a skip when this host cannot import the backend)."""
        if backend_name not in self.loaded:
            self.loaded[backend_name] = load_backend(backend_name).load(PROBE, name="fsprobe")
        return self.loaded[backend_name]


@pytest.fixture(scope="module")
def probes() -> Iterator[Probes]:
    """The loaded probes for this module's tests, released when they are done.

    Released here, not at interpreter exit: wasmtime's finalizers fail
    (harmlessly, but noisily) once the interpreter is shutting down.
    """
    loaded = Probes()
    yield loaded
    loaded.loaded.clear()


def make_tree(base: Path) -> None:
    """outside/ (must never change), root/ (writable preopen) with links in and out, ro/ (read-only preopen)."""
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text("secret")
    root = base / "root"
    root.mkdir()
    (root / "file.txt").write_text("hello\n")
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_text("inner")
    for link, target in [
        ("link_out", "../outside"), ("link_out_file", "../outside/secret.txt"), ("link_abs", str(base / "outside")),
        ("link_in", "sub"), ("link_in_file", "file.txt"), ("link_in_dotdot", "sub/../file.txt"),
        ("loop1", "loop2"), ("loop2", "loop1"), ("dangling", "nowhere"),
    ]:
        os.symlink(target, root / link)
    ro = base / "ro"
    ro.mkdir()
    (ro / "file.txt").write_text("ro-file")
    (ro / "sub").mkdir()
    (ro / "emptydir").mkdir()
    os.symlink("file.txt", ro / "ro_link")


def snapshot(folder: Path) -> dict[str, tuple[str, str, int]]:
    """Everything in ``folder``: kind, contents or link target, modification time."""
    state = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            state[str(path.relative_to(folder))] = ("link", os.readlink(path), info.st_mtime_ns)
        elif path.is_dir():
            state[str(path.relative_to(folder))] = ("dir", "", info.st_mtime_ns)
        else:
            state[str(path.relative_to(folder))] = ("file", path.read_text(), info.st_mtime_ns)
    return state


def run_probe(module: Module, base: Path, commands: list[str], root_guest: str) -> list[str]:
    """Run the probe on ``commands`` with ``base``/root preopened at ``root_guest`` and ``base``/ro at /ro."""
    spec = RunSpec(
        stdin="".join(c + "\n" for c in commands).encode(),
        preopens=(Preopen(base / "root", root_guest, writable=True), Preopen(base / "ro", "/ro", writable=False)),
    )
    result = module.run(spec)
    assert result.ok, f"probe failed: {result.trap} {result.stderr!r}"
    return result.stdout.decode().splitlines()


def matches(answer: str, expected: str) -> bool:
    return answer.startswith(expected[:-1]) if expected.endswith("*") else answer == expected


def check_case(probes: Probes, backend_name: str, tmp_path: Path, command: str, expected: str, root_guest: str) -> None:
    make_tree(tmp_path)
    outside, read_only = snapshot(tmp_path / "outside"), snapshot(tmp_path / "ro")
    [answer] = run_probe(probes.get(backend_name), tmp_path, [command], root_guest)
    assert matches(answer, expected), f"{command!r} on {backend_name}: {answer!r}, wasmtime gives {expected!r}"
    assert snapshot(tmp_path / "outside") == outside, f"{command!r} on {backend_name} changed something outside"
    assert snapshot(tmp_path / "ro") == read_only, f"{command!r} on {backend_name} changed the read-only preopen"


@pytest.mark.parametrize("backend_name", BACKEND_NAMES)
@pytest.mark.parametrize(("command", "expected"), SANDBOX_CASES, ids=[c for c, _ in SANDBOX_CASES])
def test_sandbox_preopen(probes: Probes, backend_name: str, tmp_path: Path, command: str, expected: str) -> None:
    check_case(probes, backend_name, tmp_path, command, expected, "/sandbox")


@pytest.mark.parametrize("backend_name", BACKEND_NAMES)
@pytest.mark.parametrize(("command", "expected"), ROOT_CASES, ids=[c for c, _ in ROOT_CASES])
def test_preopen_at_guest_root(probes: Probes, backend_name: str, tmp_path: Path, command: str, expected: str) -> None:
    check_case(probes, backend_name, tmp_path, command, expected, "/")


def test_both_backends_agree_on_a_whole_session(probes: Probes, tmp_path: Path) -> None:
    """One run, every command in sequence (each sees the effects of the ones before), on both backends."""
    commands = [c for c, _ in SANDBOX_CASES]
    answers = {}
    for name in BACKEND_NAMES:
        base = tmp_path / name
        base.mkdir()
        make_tree(base)
        answers[name] = run_probe(probes.get(name), base, commands, "/sandbox")
        assert (base / "outside" / "secret.txt").read_text() == "secret"
        assert sorted(p.name for p in (base / "outside").iterdir()) == ["secret.txt"]
    assert answers["pywasm"] == answers["wasmtime"]
