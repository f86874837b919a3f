;; shape-empty-wat: prints nothing and exits 0 (the runtime returns data.data = null).
(module
  (memory (export "memory") 1)
  (func (export "_start")))
