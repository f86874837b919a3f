"""``wasm-runtime build DIR``: compile a module project into ``DIR/lib/runtime/wasm/<id>.wasm``."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

from .modproject import Project, load_project
from .toolchains import TOOLCHAINS, Job, Say, cache_root


def build_project(folder: Path, say: Say, cache: Path | None = None) -> Path:
    """Build the project in ``folder``; say what happens; return the module's path.

    The module is compiled to a temporary file beside its final place and
    renamed over it, so a failed build leaves the previous module whole.
    ``cache`` holds the compilers' caches (default: the user's cache folder).
    """
    project: Project = load_project(folder)
    toolchain = TOOLCHAINS[project.language]
    toolchain.check()
    out = project.output
    out.parent.mkdir(parents=True, exist_ok=True)
    caches = (cache or cache_root()) / project.language
    say(f"building {project.module_id} ({project.language}, {toolchain.version()}) into {out}")
    if toolchain.first_build_note and not caches.exists():
        say(f"  (note: {toolchain.first_build_note})")
    started = time.monotonic()
    handle, temporary = tempfile.mkstemp(prefix=f".{project.module_id}.", suffix=".wasm.tmp", dir=out.parent)
    os.close(handle)
    try:
        job = Job(root=project.root, module_id=project.module_id, out=Path(temporary), cache=caches)
        toolchain.build(job, say)
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    data = out.read_bytes()
    say(f"built {out} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}, "
        f"{time.monotonic() - started:.1f} s)")
    return out
