;; F5: pywasm 2.2.3 rounds twice in f32.convert_i64_s and f32.convert_i64_u:
;; i64 -> Python float (f64, rounded to 53 bits) -> f32 (rounded to 24 bits).
;; 0x0020000020000001 = 2**53 + 2**29 + 1 lies just above the midpoint between
;; two f32 values; rounding it to f64 first lands exactly on the midpoint, and
;; ties-to-even then rounds down. Spec (4.3.3 convert): rounded once, to
;; nearest. Correct: 0x5a000001; pywasm: 0x5a000000. Wrong side: pywasm.
;; assert f0(i64:0x0020000020000001) == (i32:0x5a000001)
;; assert f1(i64:0x0020000020000001) == (i32:0x5a000001)
(module
  (func (export "f0") (param i64) (result i32) (i32.reinterpret_f32 (f32.convert_i64_s (local.get 0))))
  (func (export "f1") (param i64) (result i32) (i32.reinterpret_f32 (f32.convert_i64_u (local.get 0)))))
