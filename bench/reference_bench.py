"""Benchmark of the reference (pywasm) backend against stock pywasm: whole processes, side by side in one run.

For each module (by default the standard-Go ``sections-go`` and the small
C, Rust and Zig ``compute-float-c``, ``compute-hash-rust``,
``compute-int-zig``: corpus modules that import no ``api`` function, so that
stock pywasm can run them), it times:

- stock: ``python -m pywasm --wasi preview1 --wasi-dirs /:/ <module>``, pywasm
  2.2.3's own command, with the runtime's header line on its standard input;
- cold: ``wasm-runtime run <module> --backend pywasm`` with empty caches (no
  compiled interpreter, no module artifact): it rewrites pywasm, decodes the
  module in full and stores both;
- warm: the same call again: it loads the compiled interpreter and the
  module's artifact, and decodes only the function bodies the run calls.

The module is copied into a temporary folder (artifacts never land in the
corpus); ``XDG_CACHE_HOME`` points into it too (the compiled interpreter's
per-user folder). Stock, cold and warm calls alternate, so that load on the
machine hits all alike; figures are medians of wall-clock time, with the
children's CPU time (user + system) beside them, steadier on a busy machine.
The cache's trace checks that every cold call stored and every warm call
loaded both cache files. Targets (issue 14): the Go module's warm call at
most a quarter of stock's time; every small module's warm call no slower
than stock's.

``--breakdown`` then times the phases of a warm call of each module in a
fresh process through the backend API, in CPU seconds (imports, loading the
module, running it, and within that the function bodies decoded on first
call): where the remaining time goes.

Usage: python bench/reference_bench.py [--repeat N] [--module ID ...] [--breakdown]
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

from cache_bench import Series, runtime_command, timed

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "lib" / "runtime" / "wasm"
GO_MODULE = "sections-go"
SMALL_MODULES = ("compute-float-c", "compute-hash-rust", "compute-int-zig")
GO_TARGET = 4.0
HEADER = b'{"opts":[],"args":{},"config":{"path.sharelib":"/usr/share/sysinspect"},"ext":{},"host":{}}\n'
"""What wasm-runtime gives a guest on standard input for ``run <module>`` (no arguments), for stock pywasm too."""

BREAKDOWN = r"""
import io, json, sys, time
from pathlib import Path
started = time.process_time()
from sysinspect_wasm.spec import RunSpec
from sysinspect_wasm_reference import cache
from sysinspect_wasm_reference.backend import PywasmBackend
imported = time.process_time()
decoded = [0, 0.0]
first_use = cache.LazyBody.__getattr__
def timed(self, name):
    began = time.process_time()
    try:
        return first_use(self, name)
    finally:
        decoded[0] += 1
        decoded[1] += time.process_time() - began
cache.LazyBody.__getattr__ = timed
module = PywasmBackend().load(Path(sys.argv[1]))
loaded = time.process_time()
result = module.run(RunSpec(argv=("m",), stdin=sys.stdin.buffer.read()))
ran = time.process_time()
print(json.dumps({"status": module.cache_status, "imports": imported - started, "load": loaded - imported,
                  "run": ran - loaded, "bodies": decoded[0], "bodies_s": decoded[1], "functions": len(module._desc.func),
                  "exit": result.exit_code}))
"""


def timed_call(command: list[str], env: dict[str, str], series: Series) -> None:
    """One whole process of ``command`` (header on stdin) timed into ``series``; no output stops the benchmark."""
    wall, cpu, out = timed(command, HEADER, env)
    if not out:
        sys.exit(f"{' '.join(command)} printed nothing")
    series.wall.append(wall)
    series.cpu.append(cpu)


def _trace_lines(trace: Path) -> list[str]:
    lines = trace.read_text().splitlines() if trace.exists() else []
    trace.unlink(missing_ok=True)
    return [line.split(" pid=")[0] for line in lines]


def bench_module(module_id: str, repeat: int, work: Path, runtime: list[str]) -> dict[str, Series]:
    folder = work / module_id
    folder.mkdir()
    module = folder / f"{module_id}.wasm"
    shutil.copyfile(CORPUS / f"{module_id}.wasm", module)
    home_cache = work / f"{module_id}-user-cache"
    trace = work / "trace"
    env = {key: value for key, value in os.environ.items() if key != "SYSINSPECT_WASM_CACHE_DIR"}
    env.update({"XDG_CACHE_HOME": str(home_cache), "SYSINSPECT_WASM_CACHE_TRACE": str(trace)})
    stock_cmd = [sys.executable, "-m", "pywasm", "--wasi", "preview1", "--wasi-dirs", "/:/", str(module)]
    ours_cmd = [*runtime, "run", str(module), "--backend", "pywasm"]
    series = {"stock": Series(), "cold": Series(), "warm": Series()}
    for _ in range(repeat):
        timed_call(stock_cmd, env, series["stock"])
        shutil.rmtree(home_cache, ignore_errors=True)
        for stale in folder.glob("*.cwasm"):
            stale.unlink()
        _trace_lines(trace)
        timed_call(ours_cmd, env, series["cold"])
        events = _trace_lines(trace)
        if sorted(event.split()[0] for event in events) != ["compiled", "rewritten"]:
            sys.exit(f"{module_id}: a cold call should rewrite pywasm and store the module's artifact: {events}")
        timed_call(ours_cmd, env, series["warm"])
        events = _trace_lines(trace)
        if sorted(event.split()[0] for event in events) != ["loaded", "loaded"]:
            sys.exit(f"{module_id}: a warm call should load both cache files: {events}")
    return series


def breakdown(module_id: str, work: Path) -> dict[str, object]:
    module = work / module_id / f"{module_id}.wasm"
    env = dict(os.environ, XDG_CACHE_HOME=str(work / f"{module_id}-user-cache"))
    env.pop("SYSINSPECT_WASM_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", BREAKDOWN, str(module)], input=HEADER, env=env,
                          capture_output=True, check=True)
    facts: dict[str, object] = json.loads(done.stdout)
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="calls of each kind per module (default 3)")
    parser.add_argument("--module", action="append", metavar="ID",
                        help=f"a corpus module id (repeatable; default {GO_MODULE} and {', '.join(SMALL_MODULES)})")
    parser.add_argument("--breakdown", action="store_true", help="time the phases of each module's warm call")
    parser.add_argument("--runtime", help="the wasm-runtime command (default: the one beside this Python)")
    ns = parser.parse_args()
    modules = ns.module or [GO_MODULE, *SMALL_MODULES]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs); "
          f"{ns.repeat} calls of each kind per module, medians")
    results: dict[str, dict[str, Series]] = {}
    with tempfile.TemporaryDirectory(prefix="reference-bench-") as temp:
        work = Path(temp)
        started = time.monotonic()
        for module_id in modules:
            results[module_id] = bench_module(module_id, ns.repeat, work, runtime_command(ns.runtime))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
              f"({time.monotonic() - started:.0f} s)\n")
        print(f"{'module':<20} {'stock wall':>11} {'cold wall':>10} {'warm wall':>10} {'stock cpu':>10} "
              f"{'warm cpu':>9} {'stock/warm wall':>16} {'stock/warm cpu':>15} {'target':>12}")
        met = True
        for module_id, series in results.items():
            (stock_w, stock_c), (cold_w, _), (warm_w, warm_c) = ((series[k].median(), series[k].cpu_median())
                                                                 for k in ("stock", "cold", "warm"))
            target = GO_TARGET if module_id.endswith("-go") else 1.0
            ok = stock_w / warm_w >= target and stock_c / warm_c >= target
            met = met and ok
            print(f"{module_id:<20} {stock_w:>10.2f}s {cold_w:>9.2f}s {warm_w:>9.2f}s {stock_c:>9.2f}s {warm_c:>8.2f}s "
                  f"{stock_w / warm_w:>15.2f}x {stock_c / warm_c:>14.2f}x {'>= ' + format(target, '.0f') + 'x':>8} "
                  f"{'met' if ok else 'MISSED'}")
        print(f"\nall targets {'met' if met else 'NOT met'}")
        if ns.breakdown:
            print("\nwarm call through the backend API, one fresh process per module (CPU seconds):")
            print(f"{'module':<20} {'imports':>8} {'load':>7} {'run':>7}  of which bodies decoded on first call")
            for module_id in modules:
                facts = breakdown(module_id, work)
                print(f"{module_id:<20} {facts['imports']:>8.3f} {facts['load']:>7.3f} {facts['run']:>7.3f}  "
                      f"{facts['bodies_s']:.3f} s for {facts['bodies']} of {facts['functions']} functions "
                      f"(cache: {facts['status']})")


if __name__ == "__main__":
    main()
