;; fault-nostart-wat: a valid module that exports memory and a function, but
;; no `_start`: it is not a WASI command.
(module
  (memory (export "memory") 1)
  (func (export "main") (result i32) (i32.const 0)))
