;; trap-stack-wat: recursion a billion calls deep, adding one per level; no
;; engine has a stack that deep, so it ends in a stack overflow.
(module
  (memory (export "memory") 1)
  (func $depth (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $depth (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "_start")
    (drop (call $depth (i32.const 1000000000)))))
