;; F8: path_remove_directory on a directory named with a trailing slash
;; ("d/"): wasmtime answers EINVAL (28) and keeps the directory; the
;; reference backend removes it (0), as POSIX rmdir("d/") does on Linux
;; (and, for a non-empty directory, answers ENOTEMPTY where wasmtime still
;; says EINVAL). WASI preview 1 leaves it open: the WASI test suite says
;; "different platforms disagree ... so we won't test that behavior".
;; Production, like upstream Sysinspect, runs wasmtime, so module authors see
;; EINVAL there; the reference should answer the same to be a faithful oracle.
;; Run as a WASI command with a tree holding the empty directory d.
;; tree d/
;; expect stdout {"errno":28}
(module
  (import "wasi_snapshot_preview1" "path_remove_directory" (func $rmdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "d/")
  (data (i32.const 200) "{\22errno\22:00}\0a")
  (func (export "_start") (local $e i32)
    (local.set $e (call $rmdir (i32.const 3) (i32.const 100) (i32.const 2)))
    (i32.store8 (i32.const 209) (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
    (i32.store8 (i32.const 210) (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
