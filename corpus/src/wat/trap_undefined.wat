;; trap-undefined-wat: call_indirect through a table slot that holds no
;; function (undefined table element).
(module
  (type $nullary (func))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $nop)
  (func $nop (type $nullary))
  (func (export "_start")
    (call_indirect (type $nullary) (i32.const 1))))
