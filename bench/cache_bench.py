"""Benchmark of the compiled-artifact cache: cold call, warm call and the floor, for a Go module.

Every figure is a whole process, as a minion runs it:

- cold: ``wasm-runtime`` in protocol mode with no artifact (it compiles and stores one);
- warm: the same call again (it loads the artifact; the module's digest is
  remembered, so the module is not read: the module is left alone for the
  cache's settling time first, as a module synced a while ago is);
- unremembered: the warm call with the memo removed before each run (it reads
  and hashes the module, and writes the memo again): what every warm call
  paid before memos, and what a call pays in the seconds after a sync;
- backend: a script that loads the module through the production backend
  (cache included) and runs it, without the runtime around it: the difference
  to the warm call is the runtime's share, the difference to the floor the
  backend's (with the shared core ``sysinspect_wasm``);
- floor: a minimal Python script that imports only wasmtime, maps the very
  artifact the runtime stored with ``Module.deserialize_file``, and runs
  ``_start`` with the header line on WASI stdin (an in-memory file, as the
  runtime gives it where Linux has ``memfd_create``). Nothing can load the module
  faster from Python; the warm call's distance to it is what the runtime adds.
  Like the runtime, the scripts end with ``os._exit`` (wasmtime's worker
  threads may panic during interpreter shutdown, and the runtime skips it).

Targets (issue 4): warm <= 1.25 x floor, cold >= 20 x warm. Warm, floor
and the other runs alternate, so that load on the machine hits both alike; figures are
medians of wall-clock time, with the children's CPU time beside them (less
sensitive to a busy machine). The module is copied into a temporary sharelib
so that artifacts never land in the corpus. Bytecode for all children goes to
a temporary ``PYTHONPYCACHEPREFIX`` (written during the warm-up runs), so an
environment with ``PYTHONDONTWRITEBYTECODE`` set does not make every call
compile the runtime's Python sources.

With ``--breakdown`` it also times each phase of a warm load in fresh
processes (imports by package, reading and hashing the module, checking and
mapping the artifact, running the guest): what the warm call's distance to
the floor is made of.

Usage: python bench/cache_bench.py [--repeat N] [--cold-repeat N] [--module PATH] [--runtime CMD] [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "lib" / "runtime" / "wasm"
PREFERRED = "osrelease-go"
WARM_TARGET = 1.25
COLD_TARGET = 20.0

FLOOR = r"""
import os, sys, wasmtime
artifact, header, settings = sys.argv[1], sys.argv[2], __import__("json").loads(sys.argv[3])
config = wasmtime.Config()
config.strategy = "cranelift"
config.epoch_interruption = True
config.max_wasm_stack = settings["max_wasm_stack"]
config.cranelift_opt_level = settings["cranelift_opt_level"]
config.cranelift_nan_canonicalization = settings["nan_canonicalization"]
config.wasm_relaxed_simd_deterministic = settings["relaxed_simd_deterministic"]
config.parallel_compilation = settings["parallel_compilation"]
engine = wasmtime.Engine(config)
module = wasmtime.Module.deserialize_file(engine, artifact)
store = wasmtime.Store(engine)
store.set_epoch_deadline(1 << 62)
wasi = wasmtime.WasiConfig()
wasi.argv = ["guest"]
fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
os.write(fd, header.encode() + b"\n")
wasi.stdin_file = f"/proc/self/fd/{fd}"
os.close(fd)
wasi.inherit_stdout()
wasi.preopen_dir("/", "/")
store.set_wasi(wasi)
linker = wasmtime.Linker(engine)
linker.define_wasi()
i32 = wasmtime.ValType.i32()
linker.define_func("api", "log", wasmtime.FuncType([i32, i32, i32], []), lambda *args: None)
try:
    linker.instantiate(store, module).exports(store)["_start"](store)
    status = 0
except wasmtime.ExitTrap as exit:
    status = exit.code
os._exit(status)
"""

BACKEND = r"""
import json, os, sys
from pathlib import Path
from sysinspect_wasm_production import WasmtimeBackend
from sysinspect_wasm import HostContext, Preopen, RunSpec
path, header = Path(sys.argv[1]), sys.argv[2]
module = WasmtimeBackend().load(path, name=path.stem)
spec = RunSpec(argv=(path.stem,), stdin=header.encode() + b"\n", preopens=(Preopen(Path("/"), "/", writable=True),),
               host=HostContext(module_id=path.stem, header=json.loads(header)))
result = module.run(spec)
sys.stdout.buffer.write(result.stdout)
sys.stdout.flush()
os._exit(0 if result.ok and module.cache_status == "loaded" else 1)
"""


# One warm load and run, in the runtime's import order, timing each step.
PROBE = r"""
import os, sys, time
marks = []
def mark(label):
    marks.append((label, time.perf_counter()))
mark("start")
import wasmtime
mark("import wasmtime (the floor pays it too)")
import json
mark("import json (the floor pays it too)")
from sysinspect_wasm_runtime import header, output, protocol, protocolmode, request, response
mark("import sysinspect_wasm_runtime (protocol path)")
import sysinspect_wasm.backends, sysinspect_wasm.hostapi, sysinspect_wasm.spec
mark("import sysinspect_wasm (what the protocol path uses)")
import sysinspect_wasm_production
from sysinspect_wasm_production import cache, engine
from sysinspect_wasm.store import key as store_key, layout, memo
mark("import sysinspect_wasm_production (+ .cache, and the store it uses)")
from pathlib import Path
source = Path(sys.argv[1])
handle = engine.engine_for()
mark("engine")
dfd = os.open(source.parent, os.O_RDONLY | os.O_DIRECTORY)
digest, key = memo.content_key(source, dfd, handle.settings.material(), handle.settings.fingerprint)
mark("content key, remembered (engine material, stat, read the memo)")
fd = os.open(source.parent / layout.file_name(source.name[:-5], key), os.O_RDONLY)
cache.verify_artifact(fd, os.fstat(fd).st_size, bytes.fromhex(key))
mark("verify the artifact (footer, CRC-32 of all of it)")
module = wasmtime.Module.deserialize_file(handle.engine, f"/proc/self/fd/{fd}")
mark("deserialize_file")
from sysinspect_wasm import HostContext, Preopen, RunSpec
from sysinspect_wasm_production import WasmtimeBackend
loaded = WasmtimeBackend().load(source)
assert loaded.cache_status == "loaded"
mark("the same load again, through the backend (all of the above)")
head = json.loads(sys.argv[2])
result = loaded.run(RunSpec(argv=(source.stem,), stdin=sys.argv[2].encode() + b"\n",
                            preopens=(Preopen(Path("/"), "/", writable=True),),
                            host=HostContext(module_id=source.stem, header=head)))
assert result.ok, result
mark("run the guest (the floor runs it too)")
import _hashlib
mark("for comparison, not remembered: import _hashlib (loads OpenSSL)")
store_key.file_digest(source)
mark("for comparison, not remembered: read and SHA-256 the module")
loaded.program.layout
mark("for comparison, not used: import the decoder, read the module again, decode its layout")
with open(source.parent / layout.file_name(source.name[:-5], key), "rb") as artifact:
    wasmtime.Module.deserialize(handle.engine, artifact.read())
mark("for comparison, not used: read the artifact and deserialize it from bytes")
print(json.dumps([[label, t - marks[i][1]] for i, (label, t) in enumerate(marks[1:])]))
sys.stdout.flush()
os._exit(0)
"""


@dataclass
class Series:
    """Wall-clock and CPU seconds of repeated runs of one kind."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self) -> float:
        """Median wall-clock seconds."""
        return statistics.median(self.wall)

    def cpu_median(self) -> float:
        """Median CPU seconds (user + system) of the child."""
        return statistics.median(self.cpu)


def pick_module(given: str | None) -> Path:
    """The module to measure: ``given``, else the Go osrelease module, else the corpus's largest Go module."""
    if given:
        return Path(given).resolve()
    preferred = CORPUS / f"{PREFERRED}.wasm"
    if preferred.is_file():
        return preferred
    go = sorted(CORPUS.glob("*-go.wasm"), key=lambda p: p.stat().st_size)
    if not go:
        raise SystemExit(f"no Go module in {CORPUS} (is the corpus built?); give one with --module")
    return go[-1]


def runtime_command(given: str | None) -> list[str]:
    """The runtime as a command: ``given``, else the venv's ``wasm-runtime``, else ``python -m``."""
    if given:
        return shlex.split(given)
    script = Path(sys.executable).with_name("wasm-runtime")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "sysinspect_wasm_runtime"]


def timed(argv: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, float, bytes]:
    """Run ``argv``; (wall seconds, child CPU seconds, stdout)."""
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with status {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    return wall, cpu, done.stdout


def breakdown(module: Path, header: str, env: dict[str, str], repeat: int) -> None:
    """Print the median time of each phase of a warm load and run of ``module`` (its artifact must exist)."""
    samples: dict[str, list[float]] = {}
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", PROBE, str(module), header], capture_output=True, env=env,
                              check=False)
        if done.returncode != 0:
            raise SystemExit(done.stderr.decode(errors="replace"))
        for label, seconds in json.loads(done.stdout):
            samples.setdefault(label, []).append(seconds)
    print()
    print(f"a warm load and run, phase by phase (medians of {repeat} fresh processes):")
    for label, values in samples.items():
        print(f"  {statistics.median(values) * 1e3:7.2f} ms  {label}")


def main(argv: list[str] | None = None) -> int:
    """Measure and print cold, warm and floor side by side."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=21, help="warm and floor runs each (default 21)")
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold runs (default 3; each compiles)")
    parser.add_argument("--module", help="a Go module (.wasm); default: corpus osrelease-go or the largest Go module")
    parser.add_argument("--runtime", help="the runtime command (default: the venv's wasm-runtime)")
    parser.add_argument("--breakdown", action="store_true", help="also time each phase of a warm load")
    ns = parser.parse_args(argv)

    from sysinspect_wasm_production import DEFAULT_SETTINGS

    from sysinspect_wasm.store.layout import parse_memo_name

    source = pick_module(ns.module)
    module_id = source.name.removesuffix(".wasm")
    runtime = runtime_command(ns.runtime)
    work = Path(tempfile.mkdtemp(prefix="sysinspect-cache-bench-"))
    try:
        folder = work / "sharelib" / "lib" / "runtime" / "wasm"
        folder.mkdir(parents=True)
        shutil.copyfile(source, folder / source.name)
        trace = work / "trace"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SYSINSPECT_WASM_CACHE_DIR")}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        env["SYSINSPECT_WASM_CACHE_TRACE"] = str(trace)
        sharelib = str(work / "sharelib")
        request = json.dumps({"args": {"rt.mod": module_id, "key": "VERSION"}, "config": {"path.sharelib": sharelib}}).encode()
        header = json.dumps({"opts": [], "args": {"key": "VERSION"}, "config": {"path.sharelib": sharelib},
                             "ext": {}, "host": {}}, separators=(",", ":"), ensure_ascii=False)
        settings = json.dumps(DEFAULT_SETTINGS.material()["settings"])

        def artifacts() -> list[Path]:
            return sorted(folder.glob(f"{module_id}.*.cwasm"))

        def events() -> list[str]:
            lines = trace.read_text().split() if trace.exists() else []
            trace.unlink(missing_ok=True)
            return [word for word in lines if word in ("compiled", "loaded", "hashed")]

        def forget() -> None:
            for memo in folder.iterdir():
                if parse_memo_name(memo.name) == module_id:
                    memo.unlink()

        def check(out: bytes, what: str) -> None:
            text = out.decode(errors="replace")
            if "VERSION" not in text:
                raise SystemExit(f"the {what} run did not answer with VERSION: {text[:500]}")

        print(f"module   {source} ({source.stat().st_size / 1e6:.1f} MB)")
        print(f"runtime  {' '.join(runtime)}")
        cold = Series()
        for number in range(ns.cold_repeat):
            for stale in artifacts():
                stale.unlink()
            wall, cpu, out = timed(runtime, request, env)
            check(out, "cold")
            if [e for e in events() if e != "hashed"] != ["compiled"]:
                raise SystemExit("a cold run did not compile exactly once (see SYSINSPECT_WASM_CACHE_TRACE)")
            if number > 0 or ns.cold_repeat == 1:  # the first also writes every .pyc
                cold.wall.append(wall)
                cold.cpu.append(cpu)
            print(f"  cold run {number + 1}: {wall:.3f} s", flush=True)
        (artifact,) = artifacts()
        print(f"artifact {artifact.name} ({artifact.stat().st_size / 1e6:.1f} MB)")

        # a module synced moments ago is read and hashed on every call until it has been left alone for a while
        import time

        from sysinspect_wasm.store.memo import SETTLE_NS

        st = (folder / source.name).stat()
        settle = (max(st.st_mtime_ns, st.st_ctime_ns) + SETTLE_NS - time.time_ns()) / 1e9
        if settle > 0:
            print(f"waiting {settle:.1f} s for the module to settle (its digest is remembered after that)")
            time.sleep(settle + 0.1)

        kinds = {
            "warm": (runtime, request),
            "unremembered": (runtime, request),
            "backend": ([sys.executable, "-c", BACKEND, str(folder / source.name), header], b""),
            "floor": ([sys.executable, "-c", FLOOR, str(artifact), header, settings], b""),
        }

        def one(kind: str) -> tuple[float, float, list[str]]:
            command, stdin = kinds[kind]
            if kind == "unremembered":
                forget()
            wall, cpu, out = timed(command, stdin, env)
            check(out, kind)
            return wall, cpu, events()

        for _ in range(3):  # warm-up: page cache, bytecode, the memo
            for kind in kinds:
                one(kind)
        series = {kind: Series() for kind in kinds}
        expected = {"warm": ["loaded"], "unremembered": ["hashed", "loaded"], "backend": ["loaded"], "floor": []}
        for _ in range(ns.repeat):
            for kind in kinds:
                wall, cpu, seen = one(kind)
                if seen != expected[kind]:
                    raise SystemExit(f"a {kind} run did not do what it should (trace {seen}, not {expected[kind]})")
                series[kind].wall.append(wall)
                series[kind].cpu.append(cpu)
        warm, floor = series["warm"], series["floor"]

        print()
        print(f"{'':12} {'median wall':>12} {'min wall':>10} {'median cpu':>11}   runs")
        for label, row in (("cold", cold), *series.items()):
            print(f"{label:12} {row.median() * 1e3:10.1f} ms {min(row.wall) * 1e3:7.1f} ms "
                  f"{row.cpu_median() * 1e3:8.1f} ms   {len(row.wall)}")
        warm_ratio = warm.median() / floor.median()
        cold_ratio = cold.median() / warm.median()
        print()
        print(f"warm / floor  {warm_ratio:6.2f} x  (cpu {warm.cpu_median() / floor.cpu_median():.2f} x)  "
              f"target <= {WARM_TARGET}: {'met' if warm_ratio <= WARM_TARGET else 'MISSED'}")
        print(f"cold / warm   {cold_ratio:6.1f} x  (cpu {cold.cpu_median() / warm.cpu_median():.1f} x)  "
              f"target >= {COLD_TARGET:g}: {'met' if cold_ratio >= COLD_TARGET else 'MISSED'}")
        unremembered = series["unremembered"]
        print(f"unremembered / floor  {unremembered.median() / floor.median():.2f} x  "
              f"(cpu {unremembered.cpu_median() / floor.cpu_median():.2f} x)  no target: the first seconds after a sync")
        if ns.breakdown:
            breakdown(folder / source.name, header, env, ns.repeat)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
