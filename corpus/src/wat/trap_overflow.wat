;; trap-overflow-wat: i32.div_s of INT32_MIN by -1 (integer overflow).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))))
