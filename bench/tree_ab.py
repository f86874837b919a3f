"""Two checkouts' warm calls, interleaved: what a change costs a minion's call, measured side by side.

``cache_bench.py`` gives one tree's warm / floor; two of its runs one after
the other differ by more than a small change costs (the machine's load
shifts between them). This script runs the same warm protocol-mode call of a
Go module alternately with two trees' runtimes (each ``<tree>/.venv/bin/wasm-runtime``,
made by ``scripts/bootstrap``), so that load hits both alike, and prints
both medians and their ratio. Each tree gets its own temporary sharelib
(artifact and memo warmed first, the module left alone for the memo's
settling time) and its own bytecode folder.

``--backend pywasm`` makes the calls on the reference backend (``rt.backend``), each tree with its own
compiled-interpreter cache (``XDG_CACHE_HOME`` in the scratch folder), warmed like the artifact.

Usage: python bench/tree_ab.py BEFORE_TREE AFTER_TREE [--calls N] [--module ID] [--backend NAME]

For example, a worktree of main's last commit against the working tree:

    git worktree add /tmp/before HEAD && (cd /tmp/before && bash scripts/bootstrap)
    .venv/bin/python bench/tree_ab.py /tmp/before . --calls 100
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cache_bench import timed

from sysinspect_wasm.store.memo import SETTLE_NS

SETTLE_SECONDS = SETTLE_NS / 1e9 + 0.5
"""A little more than the memo's settling time."""


def call(runtime: Path, sharelib: Path, module_id: str, env: dict[str, str], backend: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one protocol-mode call of ``module_id`` (on ``backend``, else the default one)."""
    args = {"rt.mod": module_id} | ({"rt.backend": backend} if backend else {})
    request = json.dumps({"args": args, "config": {"path.sharelib": str(sharelib)}}).encode()
    wall, cpu, out = timed([str(runtime)], request, env)
    answer = json.loads(out)
    if answer.get("retcode") != 0:
        raise SystemExit(f"{runtime} failed: {answer}")
    return wall, cpu


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the tree before the change (with its .venv)")
    parser.add_argument("after", type=Path, help="the tree after the change (with its .venv)")
    parser.add_argument("--calls", type=int, default=60, help="warm calls per tree (default 60)")
    parser.add_argument("--module", default="osrelease-go", help="corpus module id (default osrelease-go)")
    parser.add_argument("--backend", choices=("wasmtime", "pywasm"), default=None,
                        help="the backend of every call (default: the runtime's own choice, wasmtime where it loads)")
    ns = parser.parse_args(argv)
    trees = {"before": ns.before.resolve(), "after": ns.after.resolve()}
    for tree in trees.values():
        if not (tree / ".venv" / "bin" / "wasm-runtime").exists():
            parser.error(f"{tree} has no .venv/bin/wasm-runtime: run 'bash scripts/bootstrap' there first")
    with tempfile.TemporaryDirectory(prefix="tree-ab-") as scratch:
        setup = {}
        for name, tree in trees.items():
            folder = Path(scratch) / name / "lib" / "runtime" / "wasm"
            folder.mkdir(parents=True)
            shutil.copy(tree / "corpus" / "lib" / "runtime" / "wasm" / f"{ns.module}.wasm", folder)
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SYSINSPECT_WASM_CACHE_DIR")}
            env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / f"pyc-{name}")
            env["XDG_CACHE_HOME"] = str(Path(scratch) / f"cache-{name}")  # the reference's compiled interpreter
            setup[name] = (tree / ".venv" / "bin" / "wasm-runtime", Path(scratch) / name, env)
        time.sleep(SETTLE_SECONDS)  # the copied module must settle before its digest is remembered
        for runtime, sharelib, env in setup.values():
            for _ in range(3):  # compile, remember the digest, write bytecode
                call(runtime, sharelib, ns.module, env, ns.backend)
        results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in trees}
        for index in range(ns.calls):
            order = list(trees) if index % 2 else list(reversed(list(trees)))
            for name in order:
                runtime, sharelib, env = setup[name]
                wall, cpu = call(runtime, sharelib, ns.module, env, ns.backend)
                results[name][0].append(wall)
                results[name][1].append(cpu)
    print(f"{ns.module}{f' on {ns.backend}' if ns.backend else ''}, {ns.calls} warm calls per tree, interleaved")
    for name, (walls, cpus) in results.items():
        print(f"  {name:<6}  {trees[name]}: median wall {statistics.median(walls) * 1000:.1f} ms, "
              f"median cpu {statistics.median(cpus) * 1000:.1f} ms")
    ratio_wall = statistics.median(results["after"][0]) / statistics.median(results["before"][0])
    ratio_cpu = statistics.median(results["after"][1]) / statistics.median(results["before"][1])
    print(f"after / before  {ratio_wall:.3f} x wall, {ratio_cpu:.3f} x cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
