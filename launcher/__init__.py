"""The launcher a SysMaster registers as ``runtime.wasm`` (``wasm-runtime.c``) and ``wasm-runtime bundle``."""
