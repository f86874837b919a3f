;; compute-fib-wat: naive recursive Fibonacci of 22 (about 57,000 calls),
;; printed as a bare JSON number: a call-heavy benchmark with a known answer.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  ;; write the decimal digits of $v followed by "\n" ending at offset 128; return the start offset
  (func $itoa (param $v i32) (result i32)
    (local $p i32)
    (local.set $p (i32.const 127))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (i32.ne (local.get $v) (i32.const 0))))
    (local.get $p))
  (func (export "_start")
    (local $start i32)
    (local.set $start (call $itoa (call $fib (i32.const 22))))
    (i32.store (i32.const 0) (local.get $start))
    (i32.store (i32.const 4) (i32.sub (i32.const 128) (local.get $start)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
