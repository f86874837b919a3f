;; F7: a module with two memories (the multi-memory proposal, standard since
;; WebAssembly 3.0) loads and runs on wasmtime; the reference backend refuses
;; it as an invalid module, because pywasm 2.2.3 implements one memory only.
;; Not a bug in either: a feature gap. wasm-smith configurations never ask for
;; it (generated modules have at most one memory); `wasm-runtime diff` reports
;; such a module as a load divergence, which is what a module author should see.
;; expect load wasmtime ok, pywasm invalid module
(module
  (memory 1)
  (memory $second 1)
  (func (export "f0") (result i32) (i32.load $second (i32.const 0))))
