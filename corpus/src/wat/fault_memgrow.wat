;; fault-memgrow-wat: grows memory by 16 pages (1 MiB) forever, touching each
;; new page. Under a memory limit the runtime stops it with "memory limit";
;; an engine that answers memory.grow with -1 instead makes it exit 9.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $old i32)
    (loop $more
      (local.set $old (memory.grow (i32.const 16)))
      (if (i32.eq (local.get $old) (i32.const -1))
        (then (call $proc_exit (i32.const 9))))
      (i32.store8 (i32.mul (local.get $old) (i32.const 65536)) (i32.const 1))
      (br $more))))
