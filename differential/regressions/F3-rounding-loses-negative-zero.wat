;; F3: pywasm 2.2.3 loses the sign of zero in ceil, floor, trunc and nearest
;; (f32, f64, f32x4, f64x2): it computes float(math.ceil(x)) etc., and Python's
;; integer result has no negative zero. Spec (4.3.3 fceil, ffloor, ftrunc,
;; fnearest): -0 stays -0, and a negative value rounding to zero gives -0.
;; Wrong side: pywasm. Results are returned as bits (reinterpret) so that
;; nothing is normalised.
;; assert f0(f32:0xbf000000) == (i32:0x80000000)
;; assert f1(f32:0x80000000) == (i32:0x80000000)
;; assert f2(f64:0xbfe6666666666666) == (i64:0x8000000000000000)
;; assert f3(f64:0xbfd0000000000000) == (i64:0x8000000000000000)
;; assert f4(i64:0x3f000000bf000000, i64:0) == (i64:0x3f80000080000000, i64:0)
(module
  (func (export "f0") (param f32) (result i32) (i32.reinterpret_f32 (f32.ceil (local.get 0))))
  (func (export "f1") (param f32) (result i32) (i32.reinterpret_f32 (f32.floor (local.get 0))))
  (func (export "f2") (param f64) (result i64) (i64.reinterpret_f64 (f64.trunc (local.get 0))))
  (func (export "f3") (param f64) (result i64) (i64.reinterpret_f64 (f64.nearest (local.get 0))))
  (func (export "f4") (param i64 i64) (result i64 i64) (local $v v128)
    (local.set $v (f32x4.ceil (i64x2.replace_lane 1 (i64x2.splat (local.get 0)) (local.get 1))))
    (i64x2.extract_lane 0 (local.get $v))
    (i64x2.extract_lane 1 (local.get $v))))
