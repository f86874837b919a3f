"""The bundle's parts that need no root and no build: the .spec made from the manual, the sync-name rule, ELF facts."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from sysinspect_wasm_runtime.manual import MANUAL, spec_document, to_yaml
from sysinspect_wasm_runtime.request import RT_ARGUMENTS, RT_OPTIONS

from sysinspect_wasm import clibrary
from sysinspect_wasm.store import layout

bundle = importlib.import_module("sysinspect_wasm_launcher.bundle")


def test_the_spec_names_every_runtime_argument_and_option_of_the_manual() -> None:
    spec = spec_document("9.8.7")
    assert spec["name"] == "runtime.wasm" and spec["version"] == "9.8.7" and spec["manpage"] == MANUAL
    arguments = {a["name"]: a for a in spec["arguments"]}
    assert set(arguments) == {*RT_ARGUMENTS, "write-dir", "[ANY]"}
    assert {o["name"] for o in spec["options"]} == set(RT_OPTIONS)
    assert all(item["description"] for item in arguments.values())
    # the manual's text, its lines joined: the same words as -m prints
    assert arguments["rt.memory-mb"]["description"].startswith("whole MiB, 1-4096 (default 256). Ceiling of the guest's")
    assert all("module: " in e["code"] for e in spec["examples"])


def test_the_spec_yaml_reads_back_as_the_document() -> None:
    document = spec_document("1.0")
    text = to_yaml(document)
    assert text.startswith('name: "runtime.wasm"\nversion: "1.0"\n')
    python = shutil.which("python3", path="/usr/bin")
    probe = subprocess.run([python or "python3", "-c", "import yaml"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("no PyYAML in the system Python to read it back with")
    done = subprocess.run([python or "python3", "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
                          input=text, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == document


def test_names_whose_checksum_files_would_collide_are_refused() -> None:
    tree = bundle.Tree()
    tree.add("lib/a/core.py", b"x")
    tree.add("lib/a/__pycache__/core.cpython-311.pyc", b"y")
    tree.add("lib/a/py.typed", b"")
    tree.check_sync_names()
    tree.add("lib/a/core.pyi", b"z")  # core.checksum.sha256, like core.py's
    with pytest.raises(bundle.BundleError, match=r"core\.checksum\.sha256"):
        tree.check_sync_names()


def test_elf_machine_reads_the_header() -> None:
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    header[18:20] = (183).to_bytes(2, "little")
    assert bundle.elf_machine(bytes(header)) == 183
    assert bundle.elf_machine(b"#!/usr/bin/env python3\n" + bytes(40)) is None
    assert set(bundle.DEFAULT_TARGETS) == {"linux-x86_64", "linux-arm64", "linux-arm", "linux-riscv"}


# -- boot.py and start.py: which native library, where bytecode may be kept ----------------------------------------------------

boot = importlib.import_module("sysinspect_wasm_launcher.boot")
start = importlib.import_module("sysinspect_wasm_launcher.start")


def elf_with_interpreter(interpreter: bytes, wide: bool = True) -> bytes:
    """A minimal ELF executable header whose one program header is PT_INTERP naming ``interpreter``."""
    if wide:
        header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0)
        offset = 64 + 56
        program = struct.pack("<IIQQQQQQ", 3, 4, offset, 0, 0, len(interpreter) + 1, len(interpreter) + 1, 1)
    else:
        header = b"\x7fELF\x01\x01\x01" + bytes(9) + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, 0, 52, 0, 0, 52, 32, 1, 0, 0, 0)
        offset = 52 + 32
        program = struct.pack("<IIIIIIII", 3, offset, 0, 0, len(interpreter) + 1, len(interpreter) + 1, 4, 1)
    return header + program + interpreter + b"\0"


def no_gnu_confstr(name: str) -> str | None:
    """A test double of os.confstr as musl's Python has it: CS_GNU_LIBC_VERSION is no name it knows."""
    raise ValueError(f"unrecognized configuration name {name}")


def test_the_c_library_of_the_interpreter_picks_the_native_library(tmp_path: Path) -> None:
    musl = tmp_path / "python-musl"
    musl.write_bytes(elf_with_interpreter(b"/lib/ld-musl-x86_64.so.1"))
    arm = tmp_path / "python-musl-arm"
    arm.write_bytes(elf_with_interpreter(b"/lib/ld-musl-armhf.so.1", wide=False))
    glibc = tmp_path / "python-glibc"
    glibc.write_bytes(elf_with_interpreter(b"/lib64/ld-linux-x86-64.so.2"))
    static = tmp_path / "python-static"
    static.write_bytes(b"#!/bin/sh\n")
    assert clibrary.c_library() == "glibc"  # this machine's interpreter (Debian: glibc), by confstr
    assert clibrary.elf_interpreter(sys.executable).startswith("/lib")  # and its real ELF header is read too
    assert clibrary.c_library(str(musl), no_gnu_confstr) == "musl"
    assert clibrary.c_library(str(arm), no_gnu_confstr) == "musl"
    assert clibrary.c_library(str(glibc), no_gnu_confstr) == "glibc"
    assert clibrary.c_library(str(static), no_gnu_confstr) == ""
    assert clibrary.c_library(str(tmp_path / "missing"), no_gnu_confstr) == ""

    tree = tmp_path / "tree"
    for root, native in (("wasmtime", "linux-x86_64"), ("wasmtime", "linux-aarch64"), ("wasmtime-musl", "linux-x86_64")):
        (tree / root / "wasmtime" / native).mkdir(parents=True)
        (tree / root / "wasmtime" / native / "_libwasmtime.so").write_bytes(b"\x7fELF")
    assert start.engine_path(str(tree), "linux-x86_64", "glibc") == str(tree / "wasmtime")
    assert start.engine_path(str(tree), "linux-x86_64", "musl") == str(tree / "wasmtime-musl")
    assert start.engine_path(str(tree), "linux-arm64", "glibc") == str(tree / "wasmtime")
    assert start.engine_path(str(tree), "linux-arm64", "musl") is None  # not in this tree: pywasm, not a wrong library
    assert start.engine_path(str(tree), "linux-x86_64", "") is None  # an unknown C library: never guess
    assert start.engine_path(str(tree), "linux-riscv", "glibc") is None


def test_the_bytecode_folder_follows_the_cache_s_folder_rule() -> None:
    env = {"HOME": "/root"}
    assert boot.bytecode_base(0, env) == "/root/.cache/sysinspect-wasm"
    assert boot.bytecode_base(0, {**env, "XDG_CACHE_HOME": "/srv/cache"}) == "/srv/cache/sysinspect-wasm"
    assert boot.bytecode_base(65534, env) == "/var/tmp/sysinspect-wasm-65534"  # root's HOME is not this uid's
    assert boot.bytecode_base(0, {}) == "/var/tmp/sysinspect-wasm-0"
    assert boot.bytecode_base(65534, {"SYSINSPECT_WASM_CACHE_DIR": "/srv/w"}) == "/srv/w"
    assert boot.bytecode_base(0, {"SYSINSPECT_WASM_CACHE_DIR": "relative", **env}) == "/root/.cache/sysinspect-wasm"


@pytest.mark.skipif(os.geteuid() != 0, reason="the cache's rule for root is what boot.py's must equal")
@pytest.mark.parametrize("env", [{"HOME": "/root"}, {"HOME": "/root", "XDG_CACHE_HOME": "/srv/cache"},
                                 {"HOME": "/root", "SYSINSPECT_WASM_CACHE_DIR": "/srv/w"},
                                 {"HOME": "/root", "SYSINSPECT_WASM_CACHE_DIR": "relative"}])
def test_boot_s_folder_rule_is_the_cache_s(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    # boot.py keeps its own copy of the rule: it must decide before it may import anything from the tree
    for name in ("HOME", "XDG_CACHE_HOME", "SYSINSPECT_WASM_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    folder, _ = layout.engine_folder()
    assert folder is not None and boot.bytecode_base(0, env) == str(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="gives folders to another uid: needs root")
def test_bytecode_is_kept_only_where_no_other_user_can_write(tmp_path: Path) -> None:
    top = tmp_path / "top"
    top.mkdir(mode=0o755)
    top.chmod(0o755)
    tmp_path.chmod(0o755)
    env = {"SYSINSPECT_WASM_CACHE_DIR": str(top / "cache")}
    folder, problem = boot.bytecode_folder(0, env)
    assert (folder, problem) == (str(top / "cache" / "bytecode"), "")
    st = os.stat(folder)
    assert (st.st_uid, st.st_mode & 0o777, os.stat(top / "cache").st_mode & 0o777) == (0, 0o700, 0o700)
    os.chmod(folder, 0o755)
    assert "mode 0700" in boot.bytecode_folder(0, env)[1]
    os.chmod(folder, 0o700)
    os.chown(folder, 65534, 65534)
    assert "uid 0" in boot.bytecode_folder(0, env)[1]  # another uid's folder: it could have put code there
    os.chown(folder, 0, 0)
    top.chmod(0o777)  # a folder above it that others can write: they could swap the whole tree
    assert "writable by other users" in boot.bytecode_folder(0, env)[1]
    top.chmod(0o1777)  # unless sticky, as /var/tmp is: then no one but the owner may rename or remove in it
    assert boot.bytecode_folder(0, env) == (folder, "")
    os.chown(top, 65534, 65534)
    assert "belongs to uid 65534" in boot.bytecode_folder(0, env)[1]
    os.chown(top, 0, 0)
    link = tmp_path / "link"
    link.symlink_to(top / "cache" / "bytecode")
    assert "not a folder" in boot.untrusted_reason(str(link), 0)  # never through a symlink


def test_a_python_keeps_the_tree_s_bytecode_only_if_the_bundle_says_it_is_its_own() -> None:
    tag = sys.implementation.cache_tag
    assert boot.ships_bytecode(tag, tag) and not boot.ships_bytecode("cpython-399", tag)
    assert not boot.ships_bytecode(None, tag) and not boot.ships_bytecode(tag, "")
    assert not boot.ships_bytecode(tag)  # the repository's boot.py: no bundle has told it anything
    source = bundle.boot_source("cpython-312").decode()
    assert 'BUNDLED_TAG = "cpython-312"' in source and 'BUNDLED_TAG = ""' not in source
    assert source.replace('"cpython-312"', '""') == bundle.BOOT_SOURCE.read_text()  # nothing else changes
