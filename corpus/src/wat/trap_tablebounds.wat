;; trap-tablebounds-wat: call_indirect with an index past the end of the table
;; (also classified as undefined table element).
(module
  (type $nullary (func))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $nop $nop)
  (func $nop (type $nullary))
  (func (export "_start")
    (call_indirect (type $nullary) (i32.const 5))))
