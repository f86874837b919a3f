;; hostapi-nomemory-wat: exports no memory at all and calls api.header_has; the
;; host must answer -2 (a guest without memory), not trap. The module imports
;; nothing from WASI (wasmtime's WASI refuses every call, even proc_exit, from a
;; guest without memory): it finishes normally when the answer is -2 and
;; executes `unreachable` otherwise.
(module
  (import "api" "header_has" (func $has (param i32 i32) (result i32)))
  (func (export "_start")
    (if (i32.ne (call $has (i32.const 0) (i32.const 4)) (i32.const -2))
      (then unreachable))))
