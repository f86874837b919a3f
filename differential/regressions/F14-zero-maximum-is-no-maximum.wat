;; F14: pywasm 2.2.3 keeps a table's or memory's maximum as 0 when there is
;; none, so a declared maximum of 0 reads as "unbounded": memory.grow and
;; table.grow of (memory 0 0) and (table 0 0) succeed. Spec (4.5.3 grow,
;; limits): the size may never exceed the declared maximum, so both give -1.
;; Wrong side: pywasm. Found by the spec test suite runner's review of limits.
;; assert grow_memory() == (i32:0xffffffff)
;; assert grow_table() == (i32:0xffffffff)
;; assert grow_bounded() == (i32:0x00000000)
(module
  (memory 0 0)
  (table 0 0 funcref)
  (func (export "grow_memory") (result i32) (memory.grow (i32.const 1)))
  (func (export "grow_table") (result i32) (table.grow (ref.null func) (i32.const 1)))
  (func (export "grow_bounded") (result i32) (i32.const 0)))
