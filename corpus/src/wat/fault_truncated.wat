;; fault-truncated-wat: the build compiles this module and keeps only the first
;; two thirds of its bytes, so the shipped .wasm is cut off in the middle of
;; its code section: loading it must fail as an invalid module.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"truncated\":false}\n")
  (func $padding (param $x i32) (result i32)
    (i32.add (i32.mul (local.get $x) (i32.const 31)) (i32.const 7)))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 20))
    (drop (call $padding (i32.const 1)))
    (drop (call $padding (i32.const 2)))
    (drop (call $padding (i32.const 3)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
