;; trap-conversion-wat: i32.trunc_f64_s of NaN (invalid conversion to integer).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (i32.trunc_f64_s (f64.div (f64.const 0) (f64.const 0))))))
