"""The reference backend of the Sysinspect Wasm runtime: pywasm, made safe to run guests.

Importing this package re-compiles pywasm's interpreter (see :mod:`.loader`);
:class:`PywasmBackend` implements :class:`sysinspect_wasm.executor.Backend`.
"""

from .backend import PywasmBackend, PywasmInstance, PywasmModule

__all__ = ["PywasmBackend", "PywasmInstance", "PywasmModule"]
