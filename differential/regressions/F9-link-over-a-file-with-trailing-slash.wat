;; F9: creating a symbolic link or a hard link named "f/" where f is an
;; existing regular file: wasmtime answers ENOTDIR (54); the reference
;; backend answers EEXIST (20), which is what Linux symlinkat/linkat say.
;; WASI preview 1 itself does not say; wasmtime's own WASI test programs
;; (path_symlink_trailing_slashes) require ENOTDIR on Unix for exactly this
;; case, and production, like upstream Sysinspect, runs wasmtime: the
;; reference should answer the same to be a faithful oracle.
;; Run as a WASI command with a tree holding the regular file f.
;; tree f
;; expect stdout {"symlink":54,"link":54}
(module
  (import "wasi_snapshot_preview1" "path_symlink" (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link" (func $link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "f/")
  (data (i32.const 110) "t")
  (data (i32.const 120) "f")
  (data (i32.const 200) "{\22symlink\22:00,\22link\22:00}\0a")
  (func $digits (param $at i32) (param $n i32)
    (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 1)) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))
  (func (export "_start")
    (call $digits (i32.const 211)
      (call $symlink (i32.const 110) (i32.const 1) (i32.const 3) (i32.const 100) (i32.const 2)))
    (call $digits (i32.const 221)
      (call $link (i32.const 3) (i32.const 0) (i32.const 120) (i32.const 1) (i32.const 3) (i32.const 100) (i32.const 2)))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 25))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
