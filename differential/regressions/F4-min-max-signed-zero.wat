;; F4: pywasm 2.2.3 orders +0 and -0 wrongly in min and max (f32, f64, f32x4,
;; f64x2): it uses Python's min()/max(), which return the first argument when
;; the two compare equal, and +0 == -0. Spec (4.3.3 fmin, fmax): min(+0, -0)
;; is -0 and max(-0, +0) is +0, in either order. Wrong side: pywasm.
;; assert f0(f32:0x00000000, f32:0x80000000) == (i32:0x80000000)
;; assert f1(f32:0x80000000, f32:0x00000000) == (i32:0x00000000)
;; assert f2(f64:0x0000000000000000, f64:0x8000000000000000) == (i64:0x8000000000000000)
;; assert f3(f64:0x8000000000000000, f64:0x0000000000000000) == (i64:0x0000000000000000)
;; assert f4(i64:0, i64:0, i64:0x8000000080000000, i64:0x8000000080000000) == (i64:0x8000000080000000, i64:0x8000000080000000)
(module
  (func (export "f0") (param f32 f32) (result i32) (i32.reinterpret_f32 (f32.min (local.get 0) (local.get 1))))
  (func (export "f1") (param f32 f32) (result i32) (i32.reinterpret_f32 (f32.max (local.get 0) (local.get 1))))
  (func (export "f2") (param f64 f64) (result i64) (i64.reinterpret_f64 (f64.min (local.get 0) (local.get 1))))
  (func (export "f3") (param f64 f64) (result i64) (i64.reinterpret_f64 (f64.max (local.get 0) (local.get 1))))
  (func (export "f4") (param i64 i64 i64 i64) (result i64 i64) (local $v v128)
    (local.set $v (f32x4.min
      (i64x2.replace_lane 1 (i64x2.splat (local.get 0)) (local.get 1))
      (i64x2.replace_lane 1 (i64x2.splat (local.get 2)) (local.get 3))))
    (i64x2.extract_lane 0 (local.get $v))
    (i64x2.extract_lane 1 (local.get $v))))
