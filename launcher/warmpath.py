"""The modules of this project a warm protocol call imports: what the warm image (:mod:`.image`) holds.

A warm call (a cached artifact, a remembered digest) through the launcher
imports exactly these (and the standard library's). The launcher's start-up
reads their code from one file, the warm image, instead of finding,
checking and reading each one's bytecode:
about 1 ms of a warm call on Python 3.11, 2 ms on 3.13. A test holds this
list equal to what a warm call really imports
(tests/test_cache.py::test_a_warm_call_imports_only_what_the_allowlist_holds),
so a module that joins or leaves the warm path must join or leave it here.
"""

WARM_MODULES = (
    "sysinspect_wasm",
    "sysinspect_wasm.backends",
    "sysinspect_wasm.commands",
    "sysinspect_wasm.errors",
    "sysinspect_wasm.executor",
    "sysinspect_wasm.hostapi",
    "sysinspect_wasm.jsoncodec",
    "sysinspect_wasm.jsonio",
    "sysinspect_wasm.library",
    "sysinspect_wasm.paths",
    "sysinspect_wasm.records",
    "sysinspect_wasm.result",
    "sysinspect_wasm.spec",
    "sysinspect_wasm.store",
    "sysinspect_wasm.store.fileformat",
    "sysinspect_wasm.store.key",
    "sysinspect_wasm.store.layout",
    "sysinspect_wasm.store.memo",
    "sysinspect_wasm.store.trust",
    "sysinspect_wasm_production",
    "sysinspect_wasm_production.backend",
    "sysinspect_wasm_production.cache",
    "sysinspect_wasm_production.engine",
    "sysinspect_wasm_production.epoch",
    "sysinspect_wasm_production.hostbind",
    "sysinspect_wasm_production.native",
    "sysinspect_wasm_production.output",
    "sysinspect_wasm_production.program",
    "sysinspect_wasm_production.run",
    "sysinspect_wasm_production.versions",
    "sysinspect_wasm_runtime",
    "sysinspect_wasm_runtime.header",
    "sysinspect_wasm_runtime.output",
    "sysinspect_wasm_runtime.protocol",
    "sysinspect_wasm_runtime.protocolmode",
    "sysinspect_wasm_runtime.request",
    "sysinspect_wasm_runtime.response",
)
