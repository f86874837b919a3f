;; F6: pywasm 2.2.3 quiets signalling NaNs in f32 operations the spec defines
;; bit for bit (f32.copysign, f32x4.abs, f32x4.neg): it converts the f32 to a
;; Python float (an f64) and back, and that conversion sets the quiet bit.
;; Spec (4.3.3 fcopysign, fabs, fneg): only the sign bit changes.
;; 0x7fa00001 must come back as 0x7fa00001 (copysign with +1) and as
;; 0xffa00001 (neg). Wrong side: pywasm.
;; assert f0(f32:0x7fa00001, f32:0x3f800000) == (i32:0x7fa00001)
;; assert f1(i64:0x7fa000017fa00001, i64:0) == (i64:0xffa00001ffa00001, i64:0x8000000080000000)
(module
  (func (export "f0") (param f32 f32) (result i32) (i32.reinterpret_f32 (f32.copysign (local.get 0) (local.get 1))))
  (func (export "f1") (param i64 i64) (result i64 i64) (local $v v128)
    (local.set $v (f32x4.neg (i64x2.replace_lane 1 (i64x2.splat (local.get 0)) (local.get 1))))
    (i64x2.extract_lane 0 (local.get $v))
    (i64x2.extract_lane 1 (local.get $v))))
