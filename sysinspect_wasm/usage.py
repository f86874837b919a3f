"""The command line's name and its one usage error.

Both halves of the ``wasm-runtime`` command line use them: the runtime's
(``run``, ``-l``, ``-i``, ...) and the production backend's cache commands
(``precompile``, ``cache``), which may not import the runtime above them.
"""

from __future__ import annotations

from .errors import WasmRuntimeError

PROG = "wasm-runtime"
"""The program name every usage line and error message starts with."""


class UsageError(WasmRuntimeError):
    """A command-line mistake; the text says what to do instead (exit status 2)."""
