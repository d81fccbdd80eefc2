;; A small library for `pywazero run --preload mathlib=examples/cli_lib.wat`:
;; Euclid's gcd, and a counter kept in a global the library exports.
(module $mathlib
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (func $gcd (export "gcd") (param $a i64) (param $b i64) (result i64)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (if (result i64) (i64.eqz (local.get $b))
      (then (local.get $a))
      (else (return_call $gcd (local.get $b) (i64.rem_u (local.get $a) (local.get $b)))))))
