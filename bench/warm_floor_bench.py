"""Benchmark: a warm call through the synced launcher against the floor of any Python host of wasmtime.

For each Python asked for (default: the system's ``python3.11`` and pyenv's
3.13.0), both whole processes, interleaved call by call so that load on the
machine hits both alike:

- warm: ``<sharelib>/modules/runtime/wasm``, the ``linux-x86_64`` launcher of a
  bundle built by ``wasm-runtime bundle`` (or given with ``--bundle``), its
  library tree synced to ``<sharelib>/lib`` as a sync writes it; its PATH holds
  that Python's folder before the system's, so the launcher runs that Python
  (``-I -S -B boot.py``). The module's artifact is cached and its digest
  remembered (it is left alone for the memo's settling time first): a protocol
  call as a minion makes it all day. The cache's trace checks that every
  measured call loaded the artifact and none compiled or hashed;
- floor: ``python -I -S -c "import ctypes; ctypes.CDLL(<the synced tree's
  _libwasmtime.so>)"``: starting that Python and loading wasmtime's native
  library, which any Python host of wasmtime pays before doing anything.

It prints, per Python, the median wall-clock time of each (with the children's
CPU time beside it) and warm / floor (target <= 2.0, issue 19).

Usage: python bench/warm_floor_bench.py [--repeat N] [--module PATH] [--bundle DIR] [--python PATH ...]
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

from cache_bench import CORPUS, Series, timed
from launcher_bench import PYTHONS, SYSTEM_PATH, sync, the_bundle

from sysinspect_wasm.store.memo import SETTLE_NS

TARGET_RATIO = 2.0
DEFAULT_MODULE = CORPUS / "osrelease-c.wasm"
DEFAULT_PYTHONS = ("/usr/bin/python3.11", str(Path.home() / ".pyenv/versions/3.13.0/bin/python3"))
LIBRARY = ("wasmtime", "wasmtime", "linux-x86_64", "_libwasmtime.so")


def chosen_python(path: str) -> str:
    """The interpreter the launcher finds on ``path`` (its own search order), or "?"."""
    found = (shutil.which(name, path=path) for name in PYTHONS)
    return next((p for p in found if p), "?")


def measure(python: str, bundle: Path, module: Path, repeat: int, top: Path) -> tuple[str, Series, Series]:
    """(the interpreter the launcher ran, warm series, floor series) for one Python."""
    sharelib = top / f"sharelib-{Path(python).name}-{abs(hash(python)) % 10_000}"
    launcher = sync(bundle, sharelib, module)
    version_dir = next((sharelib / "lib" / "runtime" / "wasm-runtime").iterdir())
    library = version_dir.joinpath(*LIBRARY)
    path = f"{Path(python).parent}:{SYSTEM_PATH}"
    interpreter = chosen_python(path)
    if Path(interpreter).resolve() != Path(python).resolve():
        raise SystemExit(f"the launcher would run {interpreter}, not {python}: give the Python by a path whose "
                         f"folder holds it as python3.X")
    trace = top / f"trace-{sharelib.name}"
    env = {"PATH": path, "HOME": str(Path.home()), "SYSINSPECT_WASM_CACHE_TRACE": str(trace)}
    module_id = module.name[: -len(".wasm")]
    request = json.dumps({"arguments": {"rt.mod": module_id, "key": "VERSION"},
                          "config": {"path.sharelib": str(sharelib)}}).encode()
    floor = [python, "-I", "-S", "-c", f"import ctypes; ctypes.CDLL({str(library)!r})"]
    timed([str(launcher)], request, env)  # compiles and stores the artifact (and whatever a first call writes)
    time.sleep(SETTLE_NS / 1e9 + 0.5)  # the module settles: the next call remembers its digest
    for _ in range(3):
        timed([str(launcher)], request, env)
        timed(floor, b"", env)
    trace.unlink(missing_ok=True)
    warm, base = Series(), Series()
    answer = b""
    for _ in range(repeat):
        wall, cpu, answer = timed([str(launcher)], request, env)
        warm.wall.append(wall)
        warm.cpu.append(cpu)
        wall, cpu, _ = timed(floor, b"", env)
        base.wall.append(wall)
        base.cpu.append(cpu)
    events = [line.split()[0] for line in trace.read_text().splitlines()]
    if events != ["loaded"] * repeat:
        raise SystemExit(f"not every measured call was a warm load: {sorted(set(events))}")
    response = json.loads(answer)
    if response.get("retcode") != 0:
        raise SystemExit(f"the warm call failed: {response}")
    return interpreter, warm, base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=41, help="measured calls of each kind, per Python (default 41)")
    parser.add_argument("--module", help=f"the module to call (default: {DEFAULT_MODULE.name})")
    parser.add_argument("--bundle", help="a bundle already built (default: build one for linux-x86_64)")
    parser.add_argument("--python", action="append", help="an interpreter to run the launcher with (repeatable; "
                        "default: /usr/bin/python3.11 and ~/.pyenv/versions/3.13.0/bin/python3)")
    ns = parser.parse_args(argv)
    module = Path(ns.module).resolve() if ns.module else DEFAULT_MODULE
    pythons = ns.python or [p for p in DEFAULT_PYTHONS if os.access(p, os.X_OK)]
    with tempfile.TemporaryDirectory(prefix="warm-floor-bench-") as work:
        top = Path(work)
        bundle = the_bundle(ns.bundle, top)
        rows = [(python, *measure(python, bundle, module, ns.repeat, top)) for python in pythons]
    print(f"module {module.name} ({module.stat().st_size / 1e3:.0f} kB), {ns.repeat} calls of each kind per Python, "
          "interleaved call by call")
    print(f"{'python':44} {'warm wall':>10} {'floor wall':>11} {'warm cpu':>9} {'floor cpu':>10} {'warm/floor':>11}")
    met = True
    for _python, interpreter, warm, base in rows:
        ratio = warm.median() / base.median()
        met = met and ratio <= TARGET_RATIO
        version = subprocess.run([interpreter, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=False).stdout.strip()
        print(f"{interpreter + ' (' + version + ')':44} {warm.median() * 1e3:7.1f} ms {base.median() * 1e3:8.1f} ms "
              f"{warm.cpu_median() * 1e3:6.1f} ms {base.cpu_median() * 1e3:7.1f} ms {ratio:9.2f} x"
              f"  (cpu {warm.cpu_median() / base.cpu_median():.2f} x)")
    print(f"target warm / floor <= {TARGET_RATIO:.1f} x on every Python: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
