;; An app whose imports come from another module: run it with
;;   pywazero run --preload mathlib=examples/cli_lib.wat --invoke reduce examples/cli_app.wat 84 36
(module $app
  (import "mathlib" "gcd" (func $gcd (param i64 i64) (result i64)))
  (import "mathlib" "calls" (global $calls (mut i32)))
  ;; a fraction in lowest terms: two results, printed one per line
  (func (export "reduce") (param $num i64) (param $den i64) (result i64 i64)
    (local $d i64)
    (local.set $d (call $gcd (local.get $num) (local.get $den)))
    (i64.div_s (local.get $num) (local.get $d))
    (i64.div_s (local.get $den) (local.get $d)))
  ;; how many steps (calls) the library's gcd took: its global, shared through the import
  (func (export "gcd_steps") (param i64 i64) (result i32)
    (drop (call $gcd (local.get 0) (local.get 1)))
    (global.get $calls))
  (func (export "mean") (param f64 f64) (result f64)
    (f64.mul (f64.add (local.get 0) (local.get 1)) (f64.const 0.5))))
