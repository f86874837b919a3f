;; fault-loop-wat: an endless loop (the runtime's timeout must stop it).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
