;; trap-indirect-wat: call_indirect with a type that differs from the callee's
;; (indirect-call mismatch).
(module
  (type $unary (func (param i32) (result i32)))
  (type $nullary (func))
  (memory (export "memory") 1)
  (table 1 funcref)
  (elem (i32.const 0) $inc)
  (func $inc (type $unary) (i32.add (local.get 0) (i32.const 1)))
  (func (export "_start")
    (call_indirect (type $nullary) (i32.const 0))))
