"""Benchmark: a warm call through the synced launcher against a warm call through the pip-installed ``wasm-runtime``.

Both are whole processes in protocol mode, as a minion spawns them, on the
same module in the same temporary sharelib:

- launcher: ``<sharelib>/modules/runtime/wasm``, the ``linux-x86_64`` launcher
  of a bundle built by ``wasm-runtime bundle`` (or given with ``--bundle``),
  with the library tree synced to ``<sharelib>/lib``; its environment holds
  the system PATH only, so it runs the system's ``python3`` (``-I -S -B``,
  bytecode from the tree);
- pip: the ``wasm-runtime`` console script of this environment (the venv's
  Python, the project installed with pip).

Both load the artifact (the cache's trace checks that every measured call
loaded and none compiled); the module is left alone for the cache's settling
time first, so its digest is remembered. The two kinds alternate, so that
load on the machine hits both alike; figures are medians of wall-clock time,
with the children's CPU time beside them.

Usage: python bench/launcher_bench.py [--repeat N] [--module PATH] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cache_bench import Series, pick_module, timed

from sysinspect_wasm.store.memo import SETTLE_NS

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TARGET = "linux-x86_64"
PYTHONS = ("python3.14", "python3.13", "python3.12", "python3.11", "python3")


def sync(bundle: Path, sharelib: Path, module: Path) -> Path:
    """The launcher and library tree laid out as a sync writes them (launcher 0755, library files 0644)."""
    launcher = sharelib / "modules" / "runtime" / "wasm"
    launcher.parent.mkdir(parents=True)
    shutil.copyfile(bundle / TARGET / "wasm-runtime", launcher)
    launcher.chmod(0o755)
    for path in sorted((bundle / "lib").rglob("*")):
        if path.is_file():
            dest = sharelib / "lib" / path.relative_to(bundle / "lib")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            dest.chmod(0o644)
    modules = sharelib / "lib" / "runtime" / "wasm"
    modules.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(module, modules / module.name)
    return launcher


def options(doc: str | None) -> argparse.ArgumentParser:
    """The options every launcher benchmark takes: --repeat, --module, --bundle (a benchmark may add its own)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--repeat", type=int, default=21, help="measured calls of each kind (default 21)")
    parser.add_argument("--module", help="the module to call (default: the Go osrelease corpus module)")
    parser.add_argument("--bundle", help="a bundle already built (default: build one for linux-x86_64)")
    return parser


def arguments(doc: str | None, argv: list[str] | None) -> argparse.Namespace:
    """The common options (:func:`options`), parsed."""
    return options(doc).parse_args(argv)


def the_bundle(given: str | None, top: Path, runtime: Path | None = None) -> Path:
    """The bundle given with --bundle, else one built into ``top`` for linux-x86_64 by ``runtime`` (default: this
    environment's ``wasm-runtime``)."""
    if given:
        return Path(given)
    bundle = top / "bundle"
    runtime = runtime or Path(sys.executable).with_name("wasm-runtime")
    done = subprocess.run([str(runtime), "bundle", "--output", str(bundle), "--target", TARGET],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wasm-runtime bundle failed:\n{done.stderr}")
    return bundle


def main(argv: list[str] | None = None) -> int:
    ns = arguments(__doc__, argv)
    module = pick_module(ns.module)
    pip_runtime = Path(sys.executable).with_name("wasm-runtime")
    with tempfile.TemporaryDirectory(prefix="launcher-bench-") as work:
        top = Path(work)
        bundle = the_bundle(ns.bundle, top)
        sharelib = top / "sharelib"
        launcher = sync(bundle, sharelib, module)
        module_id = module.name[: -len(".wasm")]
        request = json.dumps({"arguments": {"rt.mod": module_id, "key": "VERSION"},
                              "config": {"path.sharelib": str(sharelib)}}).encode()
        trace = top / "trace"
        kinds = {
            "launcher": ([str(launcher)], {"PATH": SYSTEM_PATH, "HOME": "/root", "SYSINSPECT_WASM_CACHE_TRACE": str(trace)}),
            # its bytecode written during the warm-up (to a private prefix, whatever PYTHONDONTWRITEBYTECODE says),
            # as an installed package's is at install time
            "pip": ([str(pip_runtime)], {**{k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SYSINSPECT_WASM_CACHE_DIR")},
                                         "PYTHONPYCACHEPREFIX": str(top / "pycache"),
                                         "SYSINSPECT_WASM_CACHE_TRACE": str(trace)}),
        }
        for argv_, env in kinds.values():  # compile, then let the module settle so its digest is remembered
            timed(argv_, request, env)
        time.sleep(SETTLE_NS / 1e9 + 0.5)
        for _ in range(3):
            for argv_, env in kinds.values():
                timed(argv_, request, env)
        trace.unlink(missing_ok=True)
        series = {name: Series() for name in kinds}
        answers: dict[str, bytes] = {}
        for _ in range(ns.repeat):
            for name, (argv_, env) in kinds.items():
                wall, cpu, out = timed(argv_, request, env)
                series[name].wall.append(wall)
                series[name].cpu.append(cpu)
                answers[name] = out
        events = [line.split()[0] for line in trace.read_text().splitlines()]
        if events.count("loaded") != 2 * ns.repeat or "compiled" in events or "hashed" in events:
            raise SystemExit(f"not every measured call was a warm load: {sorted(set(events))}")
        if json.loads(answers["launcher"]) != json.loads(answers["pip"]):
            raise SystemExit(f"the two answers differ:\n{answers['launcher']!r}\n{answers['pip']!r}")
        found = (shutil.which(name, path=SYSTEM_PATH) for name in PYTHONS)
        python = next((path for path in found if path), "?")  # the launcher's own search order
    print(f"module {module.name} ({module.stat().st_size / 1e6:.1f} MB), {ns.repeat} warm calls of each kind, alternating")
    print(f"launcher: {launcher.name} -> {python} -I -S -B boot.py; pip: {pip_runtime} ({sys.version.split()[0]})")
    print(f"{'':10} {'median wall':>12} {'min wall':>10} {'median cpu':>11}")
    for name, row in series.items():
        print(f"{name:10} {row.median() * 1e3:10.1f} ms {min(row.wall) * 1e3:7.1f} ms {row.cpu_median() * 1e3:8.1f} ms")
    ratio = series["launcher"].median() / series["pip"].median()
    cpu_ratio = series["launcher"].cpu_median() / series["pip"].cpu_median()
    print(f"launcher / pip  {ratio:5.2f} x  (cpu {cpu_ratio:.2f} x)  target <= 1.00 x: {'met' if ratio <= 1.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
