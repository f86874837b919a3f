"""The PackageKit helpers against the real packagekitd on the system D-Bus, from real guests on both backends.

Only what leaves the machine unchanged runs here: status, the installed
packages, history, and the requests that must be refused before anything
runs. Installing, removing and upgrading are tested for their D-Bus call
sequence against FakePackageKitDaemon, a test double (test_backend_hostapi.py).
The system bus must run (``bash scripts/system-bus`` starts it; ``.ci/run``
does); packagekitd is activated on it by the bus.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pkfake import fake_packagekitd
from protocol.harness import call
from test_backend_hostapi import answer, api_guest, pk_call, run

from sysinspect_wasm import Backend, HostContext
from sysinspect_wasm.packagekit import PackageKit

if TYPE_CHECKING:
    import corpus  # mypy knows the package by its folder; it is installed as sysinspect_wasm_corpus
else:
    import sysinspect_wasm_corpus as corpus

STATUS_KEYS = ["available", "backend_name", "daemon_state", "distro_id", "locked", "network_state", "transactions",
               "version_major", "version_micro", "version_minor"]


def require_system_packagekit() -> PackageKit:
    """The host's PackageKit; skipped on a developer machine without a system bus, an error in CI."""
    packagekit = PackageKit()
    if not packagekit.available():
        message = "the system D-Bus does not run: start it with 'bash scripts/system-bus' (as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return packagekit


@pytest.fixture
def host() -> HostContext:
    """A host API whose PackageKit is the real daemon on the system bus."""
    return HostContext(module_id="probe", packagekit=require_system_packagekit())


def installed_by_dpkg() -> set[tuple[str, str]]:
    """(name, version) of every package dpkg has installed ("ii")."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return {(name, version) for name, version, status in rows if status.startswith("ii")}


def test_available_on_the_system_bus(backend: Backend, host: HostContext) -> None:
    value, _ = answer(run(backend, api_guest("packagekit_available", 0, []), host))
    assert value == 1


def test_status_has_upstreams_fields(backend: Backend, host: HostContext) -> None:
    _, status = pk_call(backend, host, "packagekit_status")
    assert isinstance(status, dict) and list(status) == STATUS_KEYS, status
    assert status["available"] is True and status["backend_name"] == "apt"
    assert isinstance(status["locked"], bool) and isinstance(status["transactions"], list)
    assert all(isinstance(status[k], int) for k in ("network_state", "version_major", "version_micro", "version_minor"))


def test_packages_agree_with_dpkg(backend: Backend, host: HostContext) -> None:
    before = installed_by_dpkg()
    value, packages = pk_call(backend, host, "packagekit_packages", pages=64)  # a 4 MiB answer buffer
    assert value < 64 * 65536 - 4096, "the answer filled the buffer: it was cut"
    assert isinstance(packages, list)
    assert {(p["name"], p["version"]) for p in packages} == before == installed_by_dpkg()
    for package in packages:
        assert list(package) == ["info", "package_id", "name", "version", "arch", "data", "summary"]
        assert package["package_id"] == ";".join([package["name"], package["version"], package["arch"], package["data"]])


def test_history_answers_for_a_named_package(backend: Backend, host: HostContext) -> None:
    _, history = pk_call(backend, host, "packagekit_history", b'{"names": ["bash"], "count": 2}')
    assert isinstance(history, dict) and set(history) <= {"bash"}, history
    for entries in history.values():
        assert isinstance(entries, list) and len(entries) <= 2 and all(isinstance(e, dict) for e in entries)


@pytest.mark.parametrize("op", ["install", "remove", "upgrade"])
def test_changes_without_names_are_refused_and_nothing_runs(backend: Backend, host: HostContext, op: str) -> None:
    before = installed_by_dpkg()
    _, data = pk_call(backend, host, f"packagekit_{op}", b'{"names": []}')
    assert data == {"error": f"Error loading module: PackageKit {op} requires at least one package name"}
    assert installed_by_dpkg() == before


def test_bad_json_and_bad_pointers(backend: Backend, host: HostContext) -> None:
    _, data = pk_call(backend, host, "packagekit_history", b"{names")
    assert data == {"error": "invalid PackageKit history request: Expecting property name enclosed in double quotes "
                             "at line 1 column 2"}
    value, _ = answer(run(backend, api_guest("packagekit_status", 2, [70000, 10]), host))
    assert value == -2
    value, _ = answer(run(backend, api_guest("packagekit_install", 4, [-1, 4, "out", 10], b"{}"), host))
    assert value == -2


@pytest.fixture
def bus_without_packagekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private bus on which nothing owns org.freedesktop.PackageKit: a host whose daemon is missing."""
    folder: Path = tmp_path_factory.mktemp("bus")
    with fake_packagekitd(folder) as fake:
        fake.close_service()
        yield fake.address


def test_no_daemon_on_the_bus(backend: Backend, bus_without_packagekit: str) -> None:
    host = HostContext(module_id="probe", packagekit=PackageKit(bus_without_packagekit))
    value, _ = answer(run(backend, api_guest("packagekit_available", 0, []), host))
    assert value == 1  # as upstream: a bus connection is all "available" asks for
    _, data = pk_call(backend, host, "packagekit_status")
    assert isinstance(data, dict) and data["error"].startswith(
        "Error loading module: PackageKit D-Bus error: org.freedesktop.DBus.Error.ServiceUnknown: ")


# -- through the corpus's hostview modules: guests written as upstream's are, using the SDK wrappers --------------

HOSTVIEW = ["hostview-c", "hostview-rust", "hostview-zig", "hostview-go"]
BACKENDS = ["wasmtime", "pywasm"]
# Go on the interpreter takes about 13 s a run: it gets the status case only.
SLOW = {("hostview-go", "pywasm")}


def hostview(module: str, backend: str, **args: object) -> dict[str, Any]:
    """Run a hostview module through ``wasm-runtime`` as a minion does; its data."""
    if backend == "wasmtime":
        pytest.importorskip("wasmtime")
    require_system_packagekit()
    response = call({"args": {"rt.mod": module, "rt.backend": backend, **args},
                     "config": {"path.sharelib": str(corpus.library_root())}})
    assert response["retcode"] == 0, response
    data: dict[str, Any] = response["data"]
    assert data["pk_available"] is True
    return data


def pairs(fast_only: bool = True) -> list[Any]:
    return [pytest.param(m, b, id=f"{m}-{b}") for m in HOSTVIEW for b in BACKENDS
            if not (fast_only and (m, b) in SLOW)]


@pytest.mark.parametrize(("module", "backend"), pairs(fast_only=False))
def test_sdk_status(module: str, backend: str) -> None:
    status = hostview(module, backend, pk="status")["pk"]
    assert list(status) == STATUS_KEYS or sorted(status) == STATUS_KEYS, status  # Go's and Rust's SDKs re-encode
    assert status["available"] is True and status["backend_name"] == "apt"


@pytest.mark.parametrize(("module", "backend"), [pytest.param("hostview-c", b, id=f"hostview-c-{b}") for b in BACKENDS]
                         + [pytest.param(m, "wasmtime", id=f"{m}-wasmtime") for m in HOSTVIEW[1:]])
def test_sdk_packages_agree_with_dpkg(module: str, backend: str) -> None:
    packages = hostview(module, backend, pk="packages")["pk"]
    assert {(p["name"], p["version"]) for p in packages} == installed_by_dpkg()


@pytest.mark.parametrize(("module", "backend"), pairs())
def test_sdk_history(module: str, backend: str) -> None:
    history = hostview(module, backend, pk="history", names=["bash", "dpkg"], count=1)["pk"]
    assert isinstance(history, dict) and set(history) <= {"bash", "dpkg"}
    assert all(isinstance(entries, list) and len(entries) <= 1 for entries in history.values())


@pytest.mark.parametrize(("module", "backend", "op"), [
    pytest.param(p.values[0], p.values[1], op, id=f"{p.id}-{op}") for p in pairs()
    for op in (["install", "remove", "upgrade"] if p.values[0] == "hostview-c" else ["upgrade"])])
def test_sdk_changes_without_names_are_refused(module: str, backend: str, op: str) -> None:
    before = installed_by_dpkg()
    data = hostview(module, backend, pk=op, names=[])
    assert data["pk"] == {"error": f"Error loading module: PackageKit {op} requires at least one package name"}
    assert installed_by_dpkg() == before


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ["status", "packages", "history", "install", "remove", "upgrade"])
def test_sandbox_refuses_every_helper(backend: str, op: str) -> None:
    if backend == "wasmtime":
        pytest.importorskip("wasmtime")
    require_system_packagekit()
    response = call({"args": {"rt.mod": "hostview-c", "rt.backend": backend, "pk": op, "names": ["bash"]},
                     "opts": ["rt.sandbox"], "config": {"path.sharelib": str(corpus.library_root())}})
    assert response["retcode"] == 0, response
    assert response["data"]["pk_available"] is False
    assert response["data"]["pk"] == {
        "error": "the PackageKit helpers are refused: the runtime runs this module with rt.sandbox"}
