"""Deployment through Sysinspect itself, played step by step as PROTOCOL.md section 5 describes.

The test is the SysMaster and the minion; everything else is real: the
bundle is built by ``wasm-runtime bundle`` (zig cc, pip for the foreign
wasmtime wheel), checked by the master's registration rules (5.1), laid out
in a fresh sharelib as a sync writes it (5.2), called as the minion resolves
and spawns a dispatcher (5.3, 5.4: umask 077, setgroups, setgid/setresuid,
no_new_privs, RLIMIT_FSIZE 10 MiB, as root and as uid 65534), with an
environment of system PATH entries only, so that the launcher finds Debian's
own ``/usr/bin/python3``, which has no third-party package the runtime uses.
Whether a call compiled or loaded is read from the cache's own trace
(``SYSINSPECT_WASM_CACHE_TRACE``), never from timing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minion import FSIZE_LIMIT, NOBODY, minion_env, minion_spawn
from product import Product

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "lib" / "runtime" / "wasm"
SYSTEM_PYTHON = Path("/usr/bin/python3")
ALL_TARGETS = ("linux-x86_64", "linux-arm64", "linux-arm", "linux-riscv", "freebsd-x86_64")
MACHINES = {"linux-x86_64": 62, "linux-arm64": 183, "linux-arm": 40, "linux-riscv": 243, "freebsd-x86_64": 62}
"""ELF e_machine of each target's launcher (PROTOCOL.md 5.1)."""
SYSINSPECT_ARCH = {62: "x86_64", 183: "arm64", 40: "arm", 243: "riscv"}
MODULES = ("osrelease-go", "osrelease-c", "osrelease-rust", "headerinfo-c", "textreport-go", "fault-loop-c",
           "hostview-c")
PRIVATE = Path("/var/tmp") / f"sysinspect-wasm-{NOBODY}"
TRAPS = Path(__file__).resolve().parent / "guests" / "traps"

if os.geteuid() != 0 or not SYSTEM_PYTHON.exists():
    pytest.skip("plays a root minion: needs root and a system /usr/bin/python3", allow_module_level=True)


def project_version() -> str:
    from importlib.metadata import version

    return version("sysinspect-wasm-runtime")


def os_release(key: str) -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        name, _, value = line.partition("=")
        if name == key:
            return value.strip().strip('"')
    raise KeyError(key)


# -- the SysMaster (5.1) ------------------------------------------------------------


def build(runtime: Path, output: Path, *targets: str) -> None:
    done = subprocess.run([str(runtime), "bundle", "--output", str(output), *(a for t in targets for a in ("--target", t))],
                          capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr
    assert "sysinspect module -A --path ./lib -l" in done.stdout
    assert done.stdout == (output / "REGISTER.md").read_text()


@pytest.fixture(scope="module")
def bundle(product: Product) -> Iterator[Path]:
    """Every target's launcher and the library tree, built once by the ``wasm-runtime bundle`` of the product:
    the wheel installed into a fresh environment (tests/product.py), not the checkout."""
    top = Path(tempfile.mkdtemp(prefix="sysinspect-bundle-"))
    build(product.runtime, top / "bundle", *ALL_TARGETS)
    yield top / "bundle"
    shutil.rmtree(top, ignore_errors=True)


def elf_facts(data: bytes) -> dict[str, Any]:
    """What a SysMaster reads of an ELF file: class, machine, EI_OSABI and the section names."""
    assert data[:4] == b"\x7fELF", "not an ELF file: the SysMaster would store it as a noarch script"
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    machine = struct.unpack(order + "H", data[18:20])[0]
    if wide:
        shoff, = struct.unpack(order + "Q", data[40:48])
        shentsize, shnum, shstrndx = struct.unpack(order + "HHH", data[58:64])
    else:
        shoff, = struct.unpack(order + "I", data[32:36])
        shentsize, shnum, shstrndx = struct.unpack(order + "HHH", data[46:52])
    headers = [data[shoff + i * shentsize : shoff + (i + 1) * shentsize] for i in range(shnum)]

    def offset(header: bytes) -> tuple[int, int]:
        if wide:
            return struct.unpack(order + "QQ", header[24:40])
        return struct.unpack(order + "II", header[16:24])

    strings_at, _ = offset(headers[shstrndx])
    names = []
    for header in headers:
        start = strings_at + struct.unpack(order + "I", header[:4])[0]
        names.append(data[start : data.index(b"\0", start)].decode())
    return {"machine": machine, "osabi": data[7], "sections": names}


def sysinspect_os(facts: dict[str, Any]) -> str:
    """The OS label a SysMaster gives an ELF file (5.1): from section names, else EI_OSABI, else linux."""
    for name in ("freebsd", "netbsd", "openbsd"):
        if any(name in section for section in facts["sections"]):
            return name
    return {9: "freebsd", 12: "openbsd", 2: "netbsd"}.get(facts["osabi"], "linux")


def read_spec(path: Path) -> dict[str, Any]:
    """The .spec sidecar, read by a YAML parser: the system Python's PyYAML when it has one, else a reader of the
    block YAML with JSON scalars the bundle writes (top-level scalars and the names in lists)."""
    done = subprocess.run([str(SYSTEM_PYTHON), "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
                           str(path)], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        parsed: dict[str, Any] = json.loads(done.stdout)
        return parsed
    document: dict[str, Any] = {}
    section = ""
    for line in path.read_text().splitlines():
        top = re.fullmatch(r"([a-z]+):(?: (.*))?", line)
        if top:
            section = top.group(1)
            document[section] = json.loads(top.group(2)) if top.group(2) else []
        item = re.fullmatch(r"  - name: (.*)", line)
        if item and isinstance(document.get(section), list):
            document[section].append({"name": json.loads(item.group(1))})
    return document


def test_the_launchers_pass_the_sysmaster_s_registration_rules(bundle: Path) -> None:
    from sysinspect_wasm_runtime.request import RT_ARGUMENTS, RT_OPTIONS

    for target in ALL_TARGETS:
        launcher = bundle / target / "wasm-runtime"
        assert launcher.name == "wasm-runtime"  # the only name runtime.wasm may be registered from
        assert launcher.stat().st_mode & 0o777 == 0o755
        facts = elf_facts(launcher.read_bytes())
        assert facts["machine"] == MACHINES[target], target
        label = sysinspect_os(facts)
        assert label == target.split("-")[0], (target, facts["osabi"])
        # stored as bin/<os>/<arch>/runtime/wasm: the arch Sysinspect reads is the one the target names
        assert SYSINSPECT_ARCH[facts["machine"]] == target.split("-")[1], target
        assert launcher.stat().st_size < 200_000, "the launcher should be small"
        spec = read_spec(bundle / target / "wasm-runtime.spec")
        assert spec["name"] == "runtime.wasm" and spec["version"] == project_version() and spec["description"]
        assert {a["name"] for a in spec["arguments"]} == {*RT_ARGUMENTS, "write-dir", "[ANY]"}
        assert {o["name"] for o in spec["options"]} == set(RT_OPTIONS)
        if "code" in spec["examples"][0]:  # (the fallback reader keeps names only)
            assert any("module: wasm." in e["code"] for e in spec["examples"])
    assert "module: wasm.osrelease-go" in (bundle / "linux-x86_64" / "wasm-runtime.spec").read_text()


def c_library_needed(library: bytes) -> str:
    """The C library a shared library names in its dynamic strings: glibc's ``libc.so.6`` or musl's ``libc.so``."""
    if b"libc.so.6\0" in library:
        return "glibc"
    return "musl" if b"\0libc.so\0" in library else "unknown"


def test_foreign_payloads_carry_the_right_engine(bundle: Path) -> None:
    top = bundle / "lib" / "runtime" / "wasm-runtime" / project_version()
    libraries = {}
    for root in ("wasmtime", "wasmtime-musl"):
        for path in (top / root / "wasmtime").glob("*/_libwasmtime.so"):
            data = path.read_bytes()
            libraries[f"{root}/{path.parent.name}"] = (elf_facts(data)["machine"], c_library_needed(data))
        assert (top / root / "wasmtime" / "_ffi.py").is_file()  # each root a whole wasmtime-py, beside its libraries
    # arm and riscv: no wheel, pywasm only
    assert libraries == {"wasmtime/linux-x86_64": (62, "glibc"), "wasmtime/linux-aarch64": (183, "glibc"),
                         "wasmtime-musl/linux-x86_64": (62, "musl"), "wasmtime-musl/linux-aarch64": (183, "musl")}
    tree = top / "wasmtime" / "wasmtime"
    start = (tree.parents[1] / "python" / "sysinspect_wasm_launcher" / "start.py").read_text()
    assert '"linux-arm64": "linux-aarch64"' in start and "linux-riscv" not in start and '"linux-arm"' not in start
    assert (tree.parents[1] / "python" / "pywasm" / "core.py").is_file()


# -- the sync (5.2) ------------------------------------------------------------------


class Sharelib:
    """A minion's sharelib as a sync leaves it, and the master's index of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.index: set[Path] = set()

    def _write(self, source: Path, dest: Path, mode: int) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        for folder in [dest.parent, *dest.parent.parents]:
            if folder == self.root.parent:
                break
            folder.chmod(0o755)
        shutil.copyfile(source, dest)
        dest.chmod(mode)
        checksum = dest.with_name(dest.name.rsplit(".", 1)[0] if "." in dest.name.lstrip(".") else dest.name)
        checksum = checksum.with_name(checksum.name + ".checksum.sha256")
        checksum.write_text(hashlib.sha256(source.read_bytes()).hexdigest())
        checksum.chmod(0o644)
        self.index |= {dest, checksum}

    def sync(self, bundle: Path, target: str, modules: dict[str, Path]) -> None:
        """The launcher of ``target`` as ``modules/runtime/wasm`` (0755); the library tree and the operator's
        modules file by file, 0644, symlinks left out; a checksum file beside each."""
        self._write(bundle / target / "wasm-runtime", self.root / "modules" / "runtime" / "wasm", 0o755)
        lib = bundle / "lib"
        for path in sorted(lib.rglob("*")):
            assert not path.is_symlink(), f"{path}: a symlink never reaches a minion"
            if path.is_file():
                self._write(path, self.root / "lib" / path.relative_to(lib), 0o644)
        for name, source in modules.items():
            self._write(source, self.root / "lib" / "runtime" / "wasm" / name, 0o644)

    def wipe_unknown(self) -> list[Path]:
        """What every sync does last: delete each file under modules/ and lib/ the index does not list."""
        removed = []
        for top in ("modules", "lib"):
            for path in sorted((self.root / top).rglob("*")):
                if (path.is_file() or path.is_symlink()) and path not in self.index:
                    path.unlink()
                    removed.append(path)
        return removed

    def files(self) -> set[Path]:
        return {p for p in self.root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def sharelib(bundle: Path) -> Iterator[Sharelib]:
    root = Path(tempfile.mkdtemp(prefix="sysinspect-sharelib-"))
    root.chmod(0o755)
    synced = Sharelib(root)
    modules = {f"{m}.wasm": CORPUS / f"{m}.wasm" for m in MODULES}
    modules["net.probe.wasm"] = CORPUS / "osrelease-c.wasm"  # a dotted id
    modules["trapchain-c.wasm"] = TRAPS / "trapchain-c.wasm"  # built with DWARF: traps three calls deep
    synced.sync(bundle, "linux-x86_64", modules)
    shutil.rmtree(PRIVATE, ignore_errors=True)
    yield synced
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(PRIVATE, ignore_errors=True)


def test_the_sync_layout(sharelib: Sharelib) -> None:
    launcher = sharelib.root / "modules" / "runtime" / "wasm"
    assert launcher.stat().st_mode & 0o777 == 0o755 and (launcher.parent / "wasm.checksum.sha256").is_file()
    lib_files = [p for p in (sharelib.root / "lib").rglob("*") if p.is_file()]
    assert lib_files and all(p.stat().st_mode & 0o777 == 0o644 for p in lib_files)
    assert (sharelib.root / "lib" / "runtime" / "wasm" / "osrelease-go.checksum.sha256").is_file()


# -- the minion's call (5.3, 5.4) ------------------------------------------------------


class Trace:
    """The cache's trace file, writable by every uid the test spawns."""

    def __init__(self, root: Path) -> None:
        self.path = root / "trace"

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
        self.path.touch()
        self.path.chmod(0o666)

    def events(self, stem: str) -> list[str]:
        return [line.split()[0] for line in self.path.read_text().splitlines()
                if line.split()[0] in ("compiled", "loaded") and line.split()[1].startswith(stem + ".")]


@pytest.fixture
def trace(tmp_path: Path) -> Iterator[Trace]:
    folder = Path(tempfile.mkdtemp(prefix="sysinspect-trace-"))
    folder.chmod(0o755)
    found = Trace(folder)
    found.reset()
    yield found
    shutil.rmtree(folder, ignore_errors=True)


def model_call(module: str, args: dict[str, Any] | None = None, opts: list[str] | None = None) -> dict[str, Any]:
    """The arguments and options a minion sends for a state ``module: <module>`` (5.3)."""
    arguments = dict(args or {})
    if module.startswith("wasm."):
        arguments.setdefault("rt.mod", module[len("wasm."):])
    return {"arguments": arguments, "options": list(opts or [])}


def answer_of(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """What the minion makes of the process (5.4): exit 0, trimmed stdout a JSON object with retcode and message."""
    assert done.returncode == 0, f"child exit {done.returncode}; stderr: {done.stderr.decode()}"
    out = done.stdout.strip()
    assert out[:1] in (b"{", b"["), (out, done.stderr.decode())
    answer: dict[str, Any] = json.loads(out)
    assert "retcode" in answer and isinstance(answer.get("message"), str) and answer["message"], answer
    return answer


def call(sharelib: Sharelib, state: dict[str, Any], *, uid: int = 0, trace: Trace | None = None,
         command: list[str] | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Spawn the dispatcher as a root minion does, write the request, read the answer."""
    request = {key: value for key, value in state.items() if value}
    request["config"] = {"path.sharelib": str(sharelib.root), "minion.id": "m1"}
    request["host"] = {"traits": {"system.os.name": "Linux"}}
    extra = {"SYSINSPECT_WASM_CACHE_TRACE": str(trace.path)} if trace else {}
    done = subprocess.run(command or [str(sharelib.root / "modules" / "runtime" / "wasm")], input=json.dumps(request).encode(),
                          capture_output=True, timeout=300, cwd="/", env=env or minion_env(**extra),
                          preexec_fn=minion_spawn(uid=uid, gid=uid, fsize=FSIZE_LIMIT), check=False)
    return answer_of(done)


def test_corpus_modules_answer_on_both_backends(sharelib: Sharelib) -> None:
    expected = os_release("ID")
    for module, backend in (("wasm.osrelease-go", "auto"), ("wasm.osrelease-c", "pywasm"),
                            ("wasm.osrelease-rust", "wasmtime"), ("wasm.osrelease-c", "wasmtime")):
        answer = call(sharelib, model_call(module, {"key": "ID", "rt.backend": backend}, ["nohello"]))
        assert answer["retcode"] == 0 and answer["data"]["ID"] == expected, (module, backend, answer)
        slow = [w for w in answer.get("warning", []) if "pywasm backend" in w]
        assert not slow, answer  # auto found wasmtime in the synced tree
    header = call(sharelib, model_call("wasm.headerinfo-c"))
    assert header["retcode"] == 0, header


def test_the_packagekit_helpers_work_from_the_synced_tree(sharelib: Sharelib) -> None:
    """The tree carries the D-Bus client: a guest reaches the real packagekitd through the deployed launcher."""
    from test_packagekit_system import STATUS_KEYS, require_system_packagekit

    require_system_packagekit()
    for backend in ("wasmtime", "pywasm"):
        answer = call(sharelib, model_call("wasm.hostview-c", {"pk": "status", "rt.backend": backend}))
        assert answer["retcode"] == 0, answer
        assert answer["data"]["pk_available"] is True, (backend, answer)
        status = answer["data"]["pk"]
        assert list(status) == STATUS_KEYS and status["backend_name"] == "apt", (backend, status)


def test_a_trap_names_its_source_line_from_the_synced_tree(sharelib: Sharelib) -> None:
    """The tree carries the DWARF reader: a trap's message names the innermost frame's file and line on a minion too."""
    for backend in ("wasmtime", "pywasm"):
        answer = call(sharelib, model_call("wasm.trapchain-c", {"rt.backend": backend}))
        assert answer["retcode"] != 0, answer
        assert answer["message"].endswith("integer divide by zero in divide_share (trapchain.c:7)"), (backend, answer)


def test_the_old_form_and_a_dotted_id(sharelib: Sharelib) -> None:
    old = call(sharelib, {"arguments": {"rt.mod": "osrelease-c", "key": "ID"}, "options": ["nohello"]})
    assert old["retcode"] == 0 and old["data"]["ID"] == os_release("ID")
    dotted = call(sharelib, model_call("wasm.net.probe", {"key": "ID"}, ["nohello"]))
    assert dotted["retcode"] == 0 and dotted["data"]["ID"] == os_release("ID")
    listed = call(sharelib, {"options": ["rt.list"]})
    assert "net.probe" in listed["data"]["modules"] and "textreport-go" in listed["data"]["modules"]


def watch_a_running_call(sharelib: Sharelib, env: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    """``(argv of the process the launcher became, the answer)`` for a call of an endless guest stopped by its
    timeout: the process is looked at from outside while the guest runs."""
    request = json.dumps({"arguments": {"rt.mod": "fault-loop-c", "rt.backend": "pywasm"}, "timeout": 2,
                          "config": {"path.sharelib": str(sharelib.root)}}).encode()
    child = subprocess.Popen([str(sharelib.root / "modules" / "runtime" / "wasm")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd="/",
                             preexec_fn=minion_spawn())
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    child.stdin.write(request)
    child.stdin.close()
    # looked at until the launcher has become Python, or the call ends (the guest's 2 s timeout ends it): no clock
    argv: list[str] = []
    while "-I" not in argv and child.poll() is None:
        try:
            argv = Path(f"/proc/{child.pid}/cmdline").read_bytes().decode().split("\0")
        except FileNotFoundError:
            break
        time.sleep(0.05)
    out, err = child.stdout.read(), child.stderr.read()
    child.wait(timeout=60)
    answer = answer_of(subprocess.CompletedProcess(child.args, child.returncode, out, err))
    assert answer["retcode"] == 5 and "timeout" in answer["message"], answer
    return argv, answer


def test_the_launcher_runs_the_system_python_isolated(sharelib: Sharelib) -> None:
    """The process the launcher became, and what it ignores."""
    imposter = Path(tempfile.mkdtemp(prefix="sysinspect-imposter-"))
    try:
        # PYTHONPATH comes before the standard library on sys.path: a json.py there would shadow the real one;
        # sitecustomize and usercustomize run at start-up unless site is off
        user_site = imposter / "home" / ".local" / "lib" / "python3.11" / "site-packages"
        for path in (imposter / "pythonpath" / "json.py", imposter / "pythonpath" / "sitecustomize.py",
                     user_site / "usercustomize.py"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("raise SystemExit('imposter imported')\n")
        env = minion_env(PYTHONPATH=str(imposter / "pythonpath"), HOME=str(imposter / "home"), PYTHONHOME="/nowhere")
        argv, _ = watch_a_running_call(sharelib, env)
        python = os.path.realpath(argv[0])
        assert python.startswith("/usr/bin/python3"), argv  # Debian's own, found on the system PATH
        assert argv[1:4] == ["-I", "-S", "-B"], argv
        assert argv[4].startswith(str(sharelib.root / "lib" / "runtime" / "wasm-runtime")) and argv[5:7] == ["linux-x86_64", "--"]
    finally:
        shutil.rmtree(imposter, ignore_errors=True)


PYENV = Path("/root/.pyenv/versions")


def pyenv_python(minor: str) -> Path:
    found = sorted(PYENV.glob(f"3.{minor}.*/bin/python3.{minor}"))
    if not found:
        pytest.skip(f"needs a Python 3.{minor} (pyenv's, on this machine) besides the system's")
    return found[-1]


def test_the_launcher_takes_the_newest_python_and_runs_on_it(sharelib: Sharelib) -> None:
    """python3.13 before python3.12 before the system's python3.11, on PATH before /usr/bin: and the runtime
    runs on 3.13 (its bytecode goes to root's own cache folder, never into the synced tree)."""
    newer = Path(tempfile.mkdtemp(prefix="sysinspect-pythons-"))
    try:
        for minor in ("12", "13"):
            (newer / f"python3.{minor}").symlink_to(pyenv_python(minor))
        argv, _ = watch_a_running_call(sharelib, minion_env(PATH=f"{newer}:{minion_env()['PATH']}"))
        assert argv[0] == str(newer / "python3.13"), argv
        before = sharelib.files()
        answer = call(sharelib, model_call("wasm.osrelease-go", {"key": "ID"}, ["nohello"]),
                      env=minion_env(PATH=f"{newer}:{minion_env()['PATH']}"))
        assert answer["retcode"] == 0 and answer["data"]["ID"] == os_release("ID"), answer
        assert {p for p in sharelib.files() - before if not p.name.endswith(".cwasm")} == set()  # no bytecode here
    finally:
        shutil.rmtree(newer, ignore_errors=True)


def test_a_python3_older_than_3_11_answers_with_a_modresponse(sharelib: Sharelib) -> None:
    """The only interpreter left is an old python3 (a folder holding it mounted over /usr/bin, in a private mount
    namespace): boot.py, which any Python 3 can read, answers."""
    old = pyenv_python("10")
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    folders = Path(tempfile.mkdtemp(prefix="sysinspect-oldpython-"))
    try:
        (folders / "bin").mkdir()
        (folders / "empty").mkdir()
        (folders / "bin" / "python3").symlink_to(old)
        launcher = sharelib.root / "modules" / "runtime" / "wasm"
        script = (f"mount --bind {folders / 'empty'} /usr/local/bin && mount --bind {folders / 'bin'} /usr/bin && "
                  f"exec {launcher}")
        answer = call(sharelib, model_call("wasm.osrelease-c"), command=["unshare", "-m", "/bin/sh", "-c", script])
        assert answer["retcode"] == 4, answer
        assert "needs Python 3.11 or newer" in answer["message"] and "/usr/bin/python3 is Python 3.10" in answer["message"]
    finally:
        shutil.rmtree(folders, ignore_errors=True)


def test_without_its_library_tree_the_launcher_says_what_to_publish(bundle: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="sysinspect-notree-"))
    try:
        bare = Sharelib(root)
        bare._write(bundle / "linux-x86_64" / "wasm-runtime", root / "modules" / "runtime" / "wasm", 0o755)
        answer = call(bare, model_call("wasm.osrelease-c"))
        assert answer["retcode"] == 4, answer
        message = answer["message"]
        assert f"{root}/lib/runtime/wasm-runtime/{project_version()}/boot.py" in message, message
        assert "sysinspect module -A --path DIR/lib -l" in message, message
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_an_offline_build_takes_the_wheels_from_a_folder_and_is_the_same_bundle(bundle: Path, product: Product,
                                                                                 tmp_path: Path) -> None:
    """Built again, offline and in another folder, the bundle is the fixture's byte for byte: it is reproducible
    (no build path, time or order in it)."""
    from importlib.metadata import version

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    done = subprocess.run([str(product.runtime), "bundle", "--output", str(tmp_path / "b"), "--target", "linux-arm64",
                           "--wheel-dir", str(wheels)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1 and "no wasmtime" in done.stderr and "pip download" in done.stderr, done.stderr
    launcher_bundle = importlib.import_module("sysinspect_wasm_launcher.bundle")
    cached = sorted(launcher_bundle.wheel_cache().glob(f"wasmtime-{version('wasmtime')}-*.whl"))
    # the fixture downloaded three: aarch64 for glibc, x86_64 and aarch64 for musl (x86_64 glibc is installed)
    assert len(cached) >= 3, f"the bundle fixture downloaded the foreign wheels into the operator's cache: {cached}"
    for wheel in cached:
        shutil.copy(wheel, wheels)
    build_args = ("--wheel-dir", str(wheels), *(a for t in ALL_TARGETS for a in ("--target", t)))
    done = subprocess.run([str(product.runtime), "bundle", "--output", str(tmp_path / "b"), *build_args],
                          capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr
    assert launcher_bundle.digest_tree(tmp_path / "b") == launcher_bundle.digest_tree(bundle)
    assert str(tmp_path) not in "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "b").rglob("*")
                                        if p.is_file() and p.suffix in (".pyc", ".spec", ".md", ""))


def test_a_go_module_past_the_size_limit_loads_on_its_second_call(sharelib: Sharelib, trace: Trace) -> None:
    state = model_call("wasm.textreport-go", {"data": {"cpu": 4}})
    first = call(sharelib, state, trace=trace)
    assert first["retcode"] == 0 and first["data"]["text"] == "cpu: 4\n", first
    assert trace.events("textreport-go") == ["compiled"]
    folder = sharelib.root / "lib" / "runtime" / "wasm"
    parts = sorted(folder.glob(".textreport-go.*.part.cwasm"))
    assert len(parts) >= 2 and all(p.stat().st_size <= FSIZE_LIMIT for p in parts), parts
    assert sum(p.stat().st_size for p in parts) > FSIZE_LIMIT  # the native code itself is over the limit
    second = call(sharelib, state, trace=trace)
    assert second["data"] == first["data"] and "warning" not in second, second
    assert trace.events("textreport-go") == ["compiled", "loaded"]


def test_a_header_larger_than_the_file_size_limit_reaches_the_guest(sharelib: Sharelib) -> None:
    """The guest's stdin (the header) is larger than any file the process may write: it goes through a pipe."""
    answer = call(sharelib, model_call("wasm.headerinfo-c", {"blob": "x" * (FSIZE_LIMIT + (1 << 20)),
                                                             "rt.backend": "wasmtime"}))
    assert answer["retcode"] == 0 and answer["data"]["header_is_stdin"] is True, answer


def test_an_unprivileged_uid_gets_a_private_cache(sharelib: Sharelib, trace: Trace) -> None:
    before = sharelib.files()
    state = model_call("wasm.osrelease-go", {"key": "ID"}, ["nohello"])
    for _ in range(2):
        answer = call(sharelib, state, uid=NOBODY, trace=trace)
        assert answer["retcode"] == 0 and answer["data"]["ID"] == os_release("ID") and "warning" not in answer, answer
    assert trace.events("osrelease-go") == ["compiled", "loaded"]
    st = PRIVATE.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (NOBODY, 0o700)
    assert sorted(PRIVATE.glob("osrelease-go.*.cwasm")), list(PRIVATE.iterdir())
    assert sharelib.files() == before  # uid 65534 wrote nothing into the sharelib
    trace.reset()
    big = model_call("wasm.textreport-go", {"data": {"n": 1}})
    for _ in range(2):
        assert call(sharelib, big, uid=NOBODY, trace=trace)["data"]["text"] == "n: 1\n"
    assert trace.events("textreport-go") == ["compiled", "loaded"]
    assert all(p.stat().st_size <= FSIZE_LIMIT for p in PRIVATE.iterdir())
    # the pywasm backend's caches follow the same rules: its decoded module and its compiled interpreter go to
    # the private folder too (not to HOME, which is root's), so the second call decodes and rewrites nothing
    trace.reset()
    reference = model_call("wasm.osrelease-c", {"key": "ID", "rt.backend": "pywasm"}, ["nohello"])
    for _ in range(2):
        answer = call(sharelib, reference, uid=NOBODY, trace=trace)
        assert answer["retcode"] == 0 and answer["data"]["ID"] == os_release("ID") and "warning" not in answer, answer
    assert trace.events("osrelease-c") == ["compiled", "loaded"]
    engine = [line.split()[0] for line in trace.path.read_text().splitlines() if "pywasm-engine" in line]
    assert engine[-1] == "loaded", engine
    assert sorted(PRIVATE.glob("osrelease-c.*.pywasm.cwasm")) and sorted(PRIVATE.glob("*.pywasm-engine.cwasm"))
    assert sharelib.files() == before


def test_after_a_sync_wipes_unknown_files_the_next_call_rebuilds(sharelib: Sharelib, trace: Trace) -> None:
    state = model_call("wasm.osrelease-go", {"key": "ID"}, ["nohello"])
    call(sharelib, state, trace=trace)
    removed = sharelib.wipe_unknown()
    assert any(p.name.endswith(".cwasm") for p in removed), removed
    assert all(p.name.endswith(".cwasm") for p in removed), removed  # the runtime keeps nothing else there
    trace.reset()
    answer = call(sharelib, state, trace=trace)
    assert answer["retcode"] == 0 and answer["data"]["ID"] == os_release("ID"), answer
    assert trace.events("osrelease-go") == ["compiled"]
    assert call(sharelib, state, trace=trace)["retcode"] == 0
    assert trace.events("osrelease-go") == ["compiled", "loaded"]


def test_the_pywasm_only_payload_runs_a_corpus_module(sharelib: Sharelib) -> None:
    """What a riscv or arm minion runs (no wasmtime for them), played on this machine: boot.py for linux-riscv."""
    boot = sharelib.root / "lib" / "runtime" / "wasm-runtime" / project_version() / "boot.py"
    for target in ("linux-riscv", "linux-arm"):
        answer = call(sharelib, model_call("wasm.osrelease-c", {"key": "ID"}, ["nohello"]),
                      command=[str(SYSTEM_PYTHON), "-I", "-S", "-B", str(boot), target, "--"])
        assert answer["retcode"] == 0 and answer["data"]["ID"] == os_release("ID"), answer
        assert any("ran on the pywasm backend" in w for w in answer["warning"]), answer


def test_the_command_line_through_the_launcher(sharelib: Sharelib) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(sharelib.root / "modules" / "runtime" / "wasm"), *args], capture_output=True,
                              text=True, env=minion_env(), timeout=60, check=False)

    done = run("-m")
    assert done.returncode == 0 and "runtime.wasm - run WebAssembly" in done.stdout and "module: wasm.<id>" in done.stdout
    listed = run("-l", "-s", str(sharelib.root))
    assert listed.returncode == 0 and "textreport-go" in listed.stdout, listed.stderr
    for tool in ("diff", "bundle"):  # build and test tools, left out of the deployed tree: a clear error
        left_out = run(tool, "--help")
        assert left_out.returncode == 1 and "Traceback" not in left_out.stderr, left_out.stderr
        assert "not installed here" in left_out.stderr or "not part of a deployed runtime" in left_out.stderr


def test_without_any_python_the_launcher_answers_itself(sharelib: Sharelib, tmp_path: Path) -> None:
    """Every interpreter hidden in a private mount namespace (unshare -m): /usr/bin (and /bin, its link on Debian)
    and /usr/local/bin covered by an empty folder; the static launcher needs neither."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to hide the interpreters")
    empty = Path(tempfile.mkdtemp(prefix="sysinspect-empty-"))
    try:
        launcher = sharelib.root / "modules" / "runtime" / "wasm"
        script = (f"mount --bind {empty} /usr/local/bin && mount --bind {empty} /usr/bin && "
                  f"{'mount --bind ' + str(empty) + ' /bin && ' if not Path('/bin').is_symlink() else ''}exec {launcher}")
        answer = call(sharelib, model_call("wasm.osrelease-c"), command=["unshare", "-m", "/bin/sh", "-c", script])
        assert answer["retcode"] == 4, answer
        message = answer["message"]
        assert "no Python 3.11 or newer" in message and "/usr/bin" in message and "/usr/local/bin" in message, message
        assert "PATH=" in message, message
    finally:
        shutil.rmtree(empty, ignore_errors=True)


# -- every Python a minion may have ---------------------------------------------------------------------------------


def pycs(folder: Path) -> dict[Path, int]:
    """Every bytecode file under ``folder`` and its mtime in ns."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*.pyc")} if folder.is_dir() else {}


@pytest.mark.parametrize("uid", [0, NOBODY], ids=["root", "nobody"])
@pytest.mark.parametrize("minor", ["11", "12", "13"])
def test_every_python_a_minion_may_have_runs_the_synced_tree(sharelib: Sharelib, minor: str, uid: int) -> None:
    """The launcher on Python 3.11 (the system's: the tree carries its bytecode), 3.12 and 3.13 (pyenv's: no
    bytecode in the tree), as root and as uid 65534 with root's HOME, under the minion's umask and RLIMIT_FSIZE.

    Each call runs in a private mount namespace whose ``/root`` is a fresh folder holding only a view of
    ``/root/.pyenv`` (uid 65534 cannot enter the real ``/root``, where pyenv keeps its Pythons): so root's own
    cache folder is a fresh one too. The bytecode of a Python the tree does not carry goes to the uid's cache
    folder (root: ``~/.cache/sysinspect-wasm/bytecode``; another uid: ``/var/tmp/sysinspect-wasm-<uid>/bytecode``),
    mode 0700, written by the first call, read and not rewritten by the next, never into the synced tree, and
    written anew for sources a sync rewrote. The warm image (launcher/image.py) follows the same rules, on every
    Python: one file of the uid's, 0600, made by the first call, read by the next, made again after a sync."""
    if minor == "11":
        python = SYSTEM_PYTHON
    else:
        python = pyenv_python(minor)
        assert python.is_relative_to(PYENV.parent.parent), python  # under /root: the view below makes it reachable
    view = Path(tempfile.mkdtemp(prefix="sysinspect-root-view-"))
    view.chmod(0o755)
    (view / ".pyenv").mkdir()
    pythons = view / "pythons"
    pythons.mkdir(mode=0o755)
    pythons.chmod(0o755)
    if minor != "11":
        (pythons / f"python3.{minor}").symlink_to(python)
    bytecode = (view / ".cache" / "sysinspect-wasm" / "bytecode") if uid == 0 else PRIVATE / "bytecode"
    shutil.rmtree(PRIVATE / "bytecode", ignore_errors=True)
    launcher = sharelib.root / "modules" / "runtime" / "wasm"
    env = minion_env(PATH=f"/root/pythons:{minion_env()['PATH']}")

    def spawn(*args: str) -> list[str]:
        """The command: into a mount namespace with the view over /root, then down to ``uid``, then the launcher."""
        script = (f"mount --bind /root/.pyenv {view / '.pyenv'} && mount --rbind {view} /root && exec setpriv "
                  f"--reuid={uid} --regid={uid} --clear-groups --no-new-privs {launcher} {' '.join(args)}")
        return ["unshare", "-m", "/bin/sh", "-c", script]

    try:
        engines = subprocess.run(spawn("engines", "--json"), capture_output=True, text=True, env=env, cwd="/",
                                 timeout=300, preexec_fn=minion_spawn(), check=False)
        assert engines.returncode == 0, engines.stderr
        found = json.loads(engines.stdout)
        assert found["python"]["version"].startswith(f"3.{minor}."), found
        assert found["auto"] == "wasmtime", found
        assert found["engines"]["wasmtime"]["library"] == str(
            sharelib.root / "lib" / "runtime" / "wasm-runtime" / project_version() / "wasmtime" / "wasmtime"
            / "linux-x86_64" / "_libwasmtime.so"), found  # the glibc build, for this glibc interpreter
        started = found["launcher"]  # how the launcher started: where this uid's bytecode and warm image are kept
        private = "/root/.cache/sysinspect-wasm/bytecode" if uid == 0 else str(PRIVATE / "bytecode")
        assert (started["private_folder"], started["refused"], started["warm_image"]) == (private, "", "made"), started
        assert started["bytecode"] == ("the tree's" if minor == "11" else f"this uid's, in {private}"), started

        state = model_call("wasm.osrelease-go", {"key": "ID"}, ["nohello"])
        before = sharelib.files()
        first = call(sharelib, state, command=spawn(), env=env)
        assert first["retcode"] == 0 and first["data"]["ID"] == os_release("ID") and "warning" not in first, first
        written = pycs(bytecode)
        tree = bytecode / str(sharelib.root).lstrip("/") / "lib" / "runtime" / "wasm-runtime" / project_version()
        image = tree / f"warm.cpython-3{minor}.img"
        st = image.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o600)
        made = st.st_mtime_ns
        ours = [p for p in written if p.is_relative_to(tree)]
        if minor == "11":
            assert not ours, ours  # the tree's own bytecode serves 3.11
        else:
            assert any(p.name == f"protocolmode.cpython-3{minor}.pyc" for p in ours), sorted(written)[:5]
            assert any("wasmtime" in p.parts and p.name.startswith("_bindings.") for p in ours)
            st = bytecode.stat()
            assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o700)
            assert all(p.stat().st_uid == uid for p in ours)
        second = call(sharelib, state, command=spawn(), env=env)
        assert second["data"] == first["data"], second
        assert pycs(bytecode) == written and image.stat().st_mtime_ns == made  # read, not rewritten
        assert {p for p in sharelib.files() - before if not p.name.endswith(".cwasm")} == set()  # nothing in the tree

        # a sync writes every file anew: new mtimes, so the image is made again, and the bytecode of each source
        # the tree carries none for (3.11: the tree's hash-checked bytecode still holds)
        sources = sorted((sharelib.root / "lib" / "runtime" / "wasm-runtime").rglob("protocolmode.py"))
        for source in sources:
            os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
        third = call(sharelib, state, command=spawn(), env=env)
        assert third["data"] == first["data"], third
        changed = [p for p, mtime in pycs(bytecode).items() if written.get(p) != mtime]
        assert [p.name for p in changed] == ([] if minor == "11" else [f"protocolmode.cpython-3{minor}.pyc"]), changed
        assert image.stat().st_mtime_ns != made
    finally:
        shutil.rmtree(view, ignore_errors=True)
        shutil.rmtree(PRIVATE / "bytecode", ignore_errors=True)
