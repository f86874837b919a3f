"""Benchmark: a warm call through the synced launcher on each Python a minion may have, side by side.

The bundle carries bytecode for the Python that built it (3.11 here). The
launcher takes the newest Python it finds, and on any other version
``boot.py`` keeps the bytecode in the uid's own cache folder, written by the
first call. This measures what that buys: warm calls (a cached artifact, a
remembered digest) of one module through one synced launcher, on

- ``3.11``: the system's ``/usr/bin/python3``, with the tree's bytecode;
- ``3.12``, ``3.13``: pyenv's interpreters (``~/.pyenv/versions``), with
  bytecode in the cache folder;
- ``3.13 no cache``: 3.13 whose cache folder is refused (a folder above it is
  writable by everyone, so ``boot.py`` will not keep code there): every source
  compiled in memory on every call, which is what every non-bundling Python
  paid before.

With ``--before TREE`` (a checkout of an earlier commit with its own
``.venv``, made by ``scripts/bootstrap``), a second bundle is built by that
tree's runtime and synced beside the first, and its warm calls on 3.11 and
3.13 join the alternation as ``3.11 before`` and ``3.13 before``: what a
change to the start-up or the warm path buys, measured side by side.

The kinds alternate call by call, so that load on the machine hits them
alike; figures are medians of wall-clock time with the children's CPU time.

Usage: python bench/python_versions_bench.py [--repeat N] [--module PATH] [--bundle DIR] [--before TREE]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from cache_bench import Series, pick_module, timed
from launcher_bench import SYSTEM_PATH, TARGET, options, sync, the_bundle

from sysinspect_wasm.store.memo import SETTLE_NS

PYENV = Path.home() / ".pyenv" / "versions"


def pyenv_python(minor: int) -> Path | None:
    found = sorted(PYENV.glob(f"3.{minor}.*/bin/python3.{minor}"))
    return found[-1] if found else None


def main(argv: list[str] | None = None) -> int:
    parser = options(__doc__)
    parser.add_argument("--before", type=Path, help="an earlier checkout with its .venv: its 3.11 and 3.13 calls too")
    ns = parser.parse_args(argv)
    module = pick_module(ns.module)
    if ns.before is not None and not (ns.before / ".venv" / "bin" / "wasm-runtime").is_file():
        parser.error(f"{ns.before} has no .venv/bin/wasm-runtime: run 'bash scripts/bootstrap' there first")
    with tempfile.TemporaryDirectory(prefix="python-versions-bench-") as work:
        top = Path(work)
        trees = {"": the_bundle(ns.bundle, top)}
        if ns.before is not None:
            (top / "before").mkdir()
            trees[" before"] = the_bundle(None, top / "before", ns.before / ".venv" / "bin" / "wasm-runtime")
        launchers: dict[str, tuple[Path, bytes]] = {}
        for suffix, bundle in trees.items():
            sharelib = top / f"sharelib{suffix.strip()}"
            request = json.dumps({"arguments": {"rt.mod": module.name[: -len(".wasm")], "key": "VERSION"},
                                  "config": {"path.sharelib": str(sharelib)}}).encode()
            launchers[suffix] = (sync(bundle, sharelib, module), request)
        trace = top / "trace"
        open_cache = top / "everyone"  # writable by everyone, not sticky: boot.py refuses a bytecode folder below it
        open_cache.mkdir()
        open_cache.chmod(0o777)
        kinds: dict[str, tuple[Path, bytes, dict[str, str]]] = {}
        library = next(top.glob("sharelib/lib/runtime/wasm-runtime/*/wasmtime/wasmtime/linux-x86_64/_libwasmtime.so"))
        floors: dict[str, list[str]] = {}
        bare: dict[str, list[str]] = {}  # the interpreter alone: started, nothing imported, ended as a call ends
        plan = [("3.11", 11, "", top / "cache"), ("3.11 pyenv", 11, "", top / "cache"), ("3.12", 12, "", top / "cache"),
                ("3.13", 13, "", top / "cache"), ("3.13 no cache", 13, "", open_cache)]
        if ns.before is not None:
            plan += [("3.11 before", 11, " before", top / "cache-before"), ("3.13 before", 13, " before", top / "cache-before")]
        for label, minor, suffix, cache in plan:
            folder = top / label.replace(" ", "-")
            interpreter = "/usr/bin/python3"
            if label not in ("3.11", "3.11 before"):
                python = pyenv_python(minor)
                if python is None:
                    print(f"{label}: skipped, no Python 3.{minor} under {PYENV}")
                    continue
                folder.mkdir(exist_ok=True)
                if not (folder / python.name).exists():
                    (folder / python.name).symlink_to(python)
                interpreter = str(python)
            if not suffix and label != "3.13 no cache":  # the floor: this interpreter starting and loading the library
                floors[label] = [interpreter, "-I", "-S", "-c", f"import ctypes; ctypes.CDLL({str(library)!r})"]
                bare[label] = [interpreter, "-I", "-S", "-c", "import os; os._exit(0)"]
            launcher, request = launchers[suffix]
            kinds[label] = (launcher, request, {"PATH": f"{folder}:{SYSTEM_PATH}", "HOME": "/root",
                                                "XDG_CACHE_HOME": str(cache), "SYSINSPECT_WASM_CACHE_TRACE": str(trace)})
        for launcher, request, env in kinds.values():  # compile (the module; the bytecode), then let the digest settle
            timed([str(launcher)], request, env)
        time.sleep(SETTLE_NS / 1e9 + 0.5)
        for _ in range(3):
            for launcher, request, env in kinds.values():
                timed([str(launcher)], request, env)
        trace.unlink(missing_ok=True)
        series = {name: Series() for name in kinds}
        floor_series = {name: Series() for name in floors}
        bare_series = {name: Series() for name in bare}
        answers: dict[str, bytes] = {}
        for _ in range(ns.repeat):
            for name, (launcher, request, env) in kinds.items():
                wall, cpu, out = timed([str(launcher)], request, env)
                series[name].wall.append(wall)
                series[name].cpu.append(cpu)
                answers[name] = out
                if name in floors:
                    wall, cpu, _ = timed(floors[name], b"", {"PATH": SYSTEM_PATH})
                    floor_series[name].wall.append(wall)
                    floor_series[name].cpu.append(cpu)
                    wall, cpu, _ = timed(bare[name], b"", {"PATH": SYSTEM_PATH})
                    bare_series[name].wall.append(wall)
                    bare_series[name].cpu.append(cpu)
        events = [line.split()[0] for line in trace.read_text().splitlines()]
        if events.count("loaded") != len(kinds) * ns.repeat or "compiled" in events or "hashed" in events:
            raise SystemExit(f"not every measured call was a warm load: {sorted(set(events))}")
        if len({json.dumps(json.loads(out), sort_keys=True) for out in answers.values()}) != 1:
            raise SystemExit(f"the answers differ: {answers}")
    print(f"module {module.name}, {ns.repeat} warm calls of each kind through the synced {TARGET} launcher, alternating")
    print(f"{'python':14} {'median wall':>12} {'min wall':>10} {'median cpu':>11} {'wall / 3.11':>12} "
          f"{'its floor':>10} {'above floor':>12} {'bare start':>11}")
    base = series["3.11"].median()
    for name, row in series.items():
        floor = f"{floor_series[name].median() * 1e3:7.1f} ms {(row.median() - floor_series[name].median()) * 1e3:9.1f} ms" \
            f" {bare_series[name].median() * 1e3:8.1f} ms" if name in floor_series else ""
        print(f"{name:14} {row.median() * 1e3:10.1f} ms {min(row.wall) * 1e3:7.1f} ms "
              f"{row.cpu_median() * 1e3:8.1f} ms {row.median() / base:10.2f} x {floor}")
    print("its floor: the same interpreter starting (-I -S) and loading the tree's _libwasmtime.so with ctypes, "
          "measured between the calls; above floor: what the runtime itself costs on that Python; bare start: the "
          "interpreter alone (-I -S, nothing imported, os._exit as a call ends)")
    if "3.11" in bare_series:
        gaps = ", ".join(f"{name} +{(bare_series[name].median() - bare_series['3.11'].median()) * 1e3:.1f} ms"
                         for name in bare_series if name != "3.11")
        print(f"bare start against 3.11's: {gaps} (each interpreter's own, before any code of ours runs)")
    worst = max(series[name].median() / base for name in ("3.12", "3.13") if name in series)
    print(f"slowest of 3.12 and 3.13 / 3.11: {worst:.2f} x  target <= 1.15 x: {'met' if worst <= 1.15 else 'NOT met'}")
    for version in ("3.11", "3.13"):
        if f"{version} before" in series:
            now, then = series[version].median(), series[f"{version} before"].median()
            print(f"{version}: this tree / the tree before: {now / then:.2f} x ({(then - now) * 1e3:.1f} ms less a call)")
    if "3.11 pyenv" in series:  # the same build recipe as the 3.12 and 3.13 measured: the versions alone
        same = series["3.11 pyenv"].median()
        worst = max(series[name].median() / same for name in ("3.12", "3.13") if name in series)
        print(f"slowest of 3.12 and 3.13 / pyenv's 3.11 (built alike): {worst:.2f} x  "
              f"target <= 1.15 x: {'met' if worst <= 1.15 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
