"""Sysinspect's Wasm runtime module (``runtime.wasm``; the tutorial's ``runtime.wasm-runtime``) in Python.

A minion spawns ``wasm-runtime`` once per action, writes one JSON request to
its standard input and reads one JSON response line from its standard output;
see :mod:`sysinspect_wasm_runtime.protocol`. Nothing is imported here, so that
the protocol path pays only for what it uses.
"""

__version__ = "0.1.0"
