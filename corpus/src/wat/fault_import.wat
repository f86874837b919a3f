;; fault-import-wat: imports a host function the runtime does not provide
;; (api.no_such_function): instantiation fails with a link error.
(module
  (import "api" "no_such_function" (func $missing (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $missing (i32.const 0)))))
