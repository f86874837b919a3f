;; trap-truncrange-wat: i32.trunc_f64_s of 1e10, a finite value out of the i32
;; range. The Wasm spec test suite calls this trap "integer overflow" (NaN is
;; the "invalid conversion" case).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (i32.trunc_f64_s (f64.const 1e10)))))
