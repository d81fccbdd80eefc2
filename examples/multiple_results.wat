;; multiple_results.wat: functions returning several values, in both directions.
(module $multi
  ;; a host function with two results (see multiple_results.py)
  (import "env" "min_max" (func $min_max (param i32 i32) (result i32 i32)))

  ;; divmod(a, b) -> (quotient, remainder)
  (func (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_s (local.get $a) (local.get $b))
    (i32.rem_s (local.get $a) (local.get $b)))

  ;; stats(a, b) -> (sum as i64, mean as f64, a larger than b as i32)
  (func (export "stats") (param $a i32) (param $b i32) (result i64 f64 i32)
    (i64.add (i64.extend_i32_s (local.get $a)) (i64.extend_i32_s (local.get $b)))
    (f64.div (f64.convert_i32_s (i32.add (local.get $a) (local.get $b))) (f64.const 2))
    (i32.gt_s (local.get $a) (local.get $b)))

  ;; spread(a, b) -> max - min, using the host's two results
  (func (export "spread") (param $a i32) (param $b i32) (result i32)
    (local $lo i32) (local $hi i32)
    (call $min_max (local.get $a) (local.get $b))
    (local.set $hi)
    (local.set $lo)
    (i32.sub (local.get $hi) (local.get $lo))))
