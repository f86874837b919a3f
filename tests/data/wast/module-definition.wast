;; Our own script (not part of the 2.0 suite): the WebAssembly 3.0 test suite's module definitions and instances,
;; (module definition $m ...) and (module instance $i $m), which wasm-tools json-from-wast gives as the commands
;; module_definition and module_instance.

;; a definition is only loaded: its start function does not run until an instance is made
(module definition $counter
  (global $n (mut i32) (i32.const 10))
  (func $start (global.set $n (i32.add (global.get $n) (i32.const 1))))
  (start $start)
  (func (export "get") (result i32) (global.get $n))
  (func (export "bump") (global.set $n (i32.add (global.get $n) (i32.const 1)))))

;; each instance has its own state
(module instance $a $counter)
(module instance $b $counter)
(invoke $a "bump")
(invoke $a "bump")
(assert_return (invoke $a "get") (i32.const 13))
(assert_return (invoke $b "get") (i32.const 11))

;; an unnamed instance of a named definition becomes the current module
(module instance $counter)
(assert_return (invoke "get") (i32.const 11))
(invoke "bump")
(assert_return (invoke "get") (i32.const 12))
(assert_return (invoke $a "get") (i32.const 13))

;; an instance can be registered and imported from, as a module can
(module definition $shared
  (memory (export "mem") 1)
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))
(module instance $s1 $shared)
(register "shared" $s1)
(module definition $user
  (import "shared" "mem" (memory 1))
  (func (export "peek") (param i32) (result i32) (i32.load (local.get 0))))
(invoke $s1 "store" (i32.const 8) (i32.const 42))
(module instance $u $user)
(assert_return (invoke $u "peek" (i32.const 8)) (i32.const 42))
(module instance $s2 $shared)
(assert_return (invoke $s2 "load" (i32.const 8)) (i32.const 0))

;; an unnamed definition: module instance without a definition name takes the last one
(module definition (func (export "seven") (result i32) (i32.const 7)))
(module instance $seven)
(assert_return (invoke $seven "seven") (i32.const 7))
(module instance)
(assert_return (invoke "seven") (i32.const 7))
