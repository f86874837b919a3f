"""The bundle's parts that need no root and no build: the .spec made from the manual, the sync-name rule, ELF facts."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess

import pytest
from sysinspect_wasm_runtime.manual import MANUAL, spec_document, to_yaml
from sysinspect_wasm_runtime.request import RT_ARGUMENTS, RT_OPTIONS

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
