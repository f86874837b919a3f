"""Calling the installed ``wasm-runtime`` as a minion does: one request on stdin, one line back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNTIME = Path(sys.executable).with_name("wasm-runtime")
LOGS_KEY = "__sysinspect-module-logs"
_STAMP = re.compile(r"^\[\d\d/\d\d/\d{4} \d\d:\d\d:\d\d\] - ")
STAMP = "[TIME] - "
RAN = "Wasm runtime executed successfully"


@dataclass(frozen=True)
class Answer:
    """What one runtime process gave back: the parsed (normalised) response, its raw line, its stderr."""

    response: dict[str, Any]
    line: bytes
    stderr: str


def normalise(response: dict[str, Any]) -> dict[str, Any]:
    """The response with each log line's timestamp replaced by ``[TIME]``: the only thing normalised."""
    data = response.get("data")
    if isinstance(data, dict) and isinstance(data.get(LOGS_KEY), list):
        data[LOGS_KEY] = [_STAMP.sub(STAMP, line) if isinstance(line, str) else line for line in data[LOGS_KEY]]
    return response


def call_raw(stdin: bytes, *, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None,
             stamps: bool = False) -> Answer:
    """Run the installed runtime in protocol mode on ``stdin``; it must exit 0 with exactly one JSON line.

    The response's log timestamps are normalised unless ``stamps`` is true.
    """
    assert RUNTIME.exists(), f"the console script {RUNTIME} is not installed (pip install -e .)"
    full_env = None if env is None else {**os.environ, **env}
    done = subprocess.run([str(RUNTIME)], input=stdin, capture_output=True, timeout=timeout, env=full_env,
                          cwd=cwd, check=False)
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, f"exit status {done.returncode}; stderr:\n{stderr}"
    assert done.stdout.endswith(b"\n") and done.stdout.count(b"\n") == 1, f"not one line: {done.stdout[:500]!r}"
    response = json.loads(done.stdout)
    assert isinstance(response, dict), response
    assert "Traceback" not in done.stdout.decode("utf-8", "replace")
    return Answer(response if stamps else normalise(response), done.stdout, stderr)


def call(request: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The normalised response to ``request``."""
    return call_raw(json.dumps(request).encode(), **kwargs).response


def ran(data: dict[str, Any], logs: list[str] | None = None, warning: list[str] | None = None) -> dict[str, Any]:
    """The response of a module that ran, with ``data`` merged after ``changed`` and the logs last."""
    response: dict[str, Any] = {"retcode": 0}
    if warning:
        response["warning"] = warning
    response["message"] = RAN
    response["data"] = {"changed": False, **data, LOGS_KEY: logs or []}
    return response


def failed(retcode: int, message: str, warning: list[str] | None = None, logs: list[str] | None = None) -> dict[str, Any]:
    """A failed response: retcode, message, ``{"changed": false}`` (plus the logs when the guest logged)."""
    response: dict[str, Any] = {"retcode": retcode}
    if warning:
        response["warning"] = warning
    response["message"] = message
    response["data"] = {"changed": False, **({LOGS_KEY: logs} if logs else {})}
    return response


def log_line(level: str, module: str, text: str) -> str:
    """A normalised ``api.log`` line."""
    return f"{STAMP}{level}: [{module}] {text}"
