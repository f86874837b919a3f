;; F2: pywasm 2.2.3 traps on i64.div_u whose quotient has its top bit set.
;; The quotient is pushed with ValInst.from_i64 (signed) instead of from_u64,
;; so struct.pack fails for quotients >= 2**63 (only possible with divisor 1);
;; the reference backend classifies that failure as "integer overflow".
;; Spec: i64.div_u traps only on a zero divisor. Wrong side: pywasm.
;; assert f0(i64:0x8000000000000005, i64:1) == (i64:0x8000000000000005)
;; assert f0(i64:0xffffffffffffffff, i64:1) == (i64:0xffffffffffffffff)
;; assert f0(i64:0xffffffffffffffff, i64:2) == (i64:0x7fffffffffffffff)
(module
  (func (export "f0") (param i64 i64) (result i64)
    (i64.div_u (local.get 0) (local.get 1))))
