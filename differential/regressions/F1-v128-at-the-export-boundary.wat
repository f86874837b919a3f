;; F1: the wasmtime backend aborts the whole Python process (SIGABRT, a Rust
;; panic "support for v128 is not implemented" in wasmtime's C API,
;; wasm_valtype_kind) as soon as it is asked about an export whose type
;; mentions v128: Instance.exports(), global_value() of a v128 global, call()
;; of a function with a v128 parameter. The module is valid and runs as a
;; WASI command; only the bare-instance interface dies. Wrong side: the
;; production backend (wasmtime-py's C API cannot describe v128; the wrapper
;; must not ask it). This file is run in a child process.
;; assert f(v128:0x1) == (v128:0x1)
(module
  (global (export "g") v128 (v128.const i64x2 0 0))
  (func (export "f") (param v128) (result v128) (local.get 0)))
