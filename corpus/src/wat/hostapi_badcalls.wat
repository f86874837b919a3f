;; hostapi-badcalls-wat: makes malformed host API calls and prints what each
;; returned, as a JSON list. Every one must return -2 (or, for api.log, be
;; ignored) without trapping: pointers past memory, negative pointers, zero
;; lengths and capacities, a request that is not JSON, a request without
;; argv, an empty argv, invalid UTF-8. The last entries are well-formed calls:
;; header_has of "/opts" (1), header_has of a missing pointer (0), and
;; header_get of "/nope" into a 2-byte buffer (the 4-byte "null" cut to 2).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "api" "log" (func $log (param i32 i32 i32)))
  (import "api" "exec" (func $exec (param i32 i32 i32 i32) (result i32)))
  (import "api" "header" (func $header (param i32 i32) (result i32)))
  (import "api" "header_has" (func $has (param i32 i32) (result i32)))
  (import "api" "header_get" (func $get (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "not json")               ;; 8 bytes
  (data (i32.const 1040) "{\"cwd\":\"/\"}")         ;; 11 bytes: no argv
  (data (i32.const 1056) "{\"argv\":[]}")           ;; 11 bytes: empty argv
  (data (i32.const 1072) "\ff\fe/x")                ;; 4 bytes: invalid UTF-8
  (data (i32.const 1088) "/opts")                   ;; 5 bytes
  (data (i32.const 1104) "/nope")                   ;; 5 bytes
  (global $out (mut i32) (i32.const 4096))
  (global $first (mut i32) (i32.const 1))
  (func $byte (param $b i32)
    (i32.store8 (global.get $out) (local.get $b))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))
  ;; append "," (except first) and the signed decimal of $v
  (func $num (param $v i32)
    (local $tmp i32) (local $div i32)
    (if (i32.eqz (global.get $first)) (then (call $byte (i32.const 44))))
    (global.set $first (i32.const 0))
    (if (i32.lt_s (local.get $v) (i32.const 0))
      (then (call $byte (i32.const 45)) (local.set $v (i32.sub (i32.const 0) (local.get $v)))))
    (local.set $div (i32.const 1000000000))
    (loop $skip
      (if (i32.and (i32.gt_u (local.get $div) (i32.const 1)) (i32.lt_u (local.get $v) (local.get $div)))
        (then (local.set $div (i32.div_u (local.get $div) (i32.const 10))) (br $skip))))
    (loop $digits
      (call $byte (i32.add (i32.const 48) (i32.div_u (local.get $v) (local.get $div))))
      (local.set $v (i32.rem_u (local.get $v) (local.get $div)))
      (local.set $div (i32.div_u (local.get $div) (i32.const 10)))
      (br_if $digits (i32.ne (local.get $div) (i32.const 0)))))
  (func (export "_start")
    ;; api.log with bad arguments: silently ignored, must not trap
    (call $log (i32.const 1) (i32.const 70000) (i32.const 4))
    (call $log (i32.const 1) (i32.const -1) (i32.const 4))
    (call $log (i32.const 1) (i32.const 1024) (i32.const 0))
    (call $log (i32.const 1) (i32.const 1072) (i32.const 4))
    (call $byte (i32.const 91))
    (call $num (call $header (i32.const 65530) (i32.const 100)))       ;; output past memory
    (call $num (call $header (i32.const -8) (i32.const 100)))          ;; negative pointer
    (call $num (call $header (i32.const 8192) (i32.const 0)))          ;; zero capacity
    (call $num (call $has (i32.const 70000) (i32.const 5)))            ;; pointer past memory
    (call $num (call $has (i32.const 1088) (i32.const 0)))             ;; zero length
    (call $num (call $has (i32.const 1072) (i32.const 4)))             ;; invalid UTF-8
    (call $num (call $get (i32.const 1088) (i32.const 5) (i32.const 8192) (i32.const -1)))   ;; negative capacity
    (call $num (call $exec (i32.const 1024) (i32.const 8) (i32.const 8192) (i32.const 256))) ;; not JSON
    (call $num (call $exec (i32.const 1040) (i32.const 11) (i32.const 8192) (i32.const 256)));; no argv
    (call $num (call $exec (i32.const 1056) (i32.const 11) (i32.const 8192) (i32.const 256)));; empty argv
    (call $num (call $exec (i32.const 1056) (i32.const 11) (i32.const 65500) (i32.const 256)));; output past memory
    (call $num (call $has (i32.const 1088) (i32.const 5)))             ;; "/opts": 1
    (call $num (call $has (i32.const 1104) (i32.const 5)))             ;; "/nope": 0
    (call $num (call $get (i32.const 1104) (i32.const 5) (i32.const 8192) (i32.const 2)))    ;; cut to 2
    (call $byte (i32.const 93))
    (call $byte (i32.const 10))
    (i32.store (i32.const 0) (i32.const 4096))
    (i32.store (i32.const 4) (i32.sub (global.get $out) (i32.const 4096)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
