;; fault-importsig-wat: imports api.log with the wrong signature (one i32
;; instead of three): instantiation fails with a link error.
(module
  (import "api" "log" (func $log (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $log (i32.const 0))))
