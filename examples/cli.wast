;; A spec-style script for `pywazero wast examples/cli.wast`: the library's gcd,
;; checked the way the WebAssembly spec tests check an engine.
(module $mathlib
  (func $gcd (export "gcd") (param $a i64) (param $b i64) (result i64)
    (if (result i64) (i64.eqz (local.get $b))
      (then (local.get $a))
      (else (return_call $gcd (local.get $b) (i64.rem_u (local.get $a) (local.get $b))))))
  (func (export "ratio") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1))))
(register "mathlib" $mathlib)

(assert_return (invoke "gcd" (i64.const 84) (i64.const 36)) (i64.const 12))
(assert_return (invoke "gcd" (i64.const 17) (i64.const 5)) (i64.const 1))
(assert_return (invoke "gcd" (i64.const 0) (i64.const 9)) (i64.const 9))
(assert_trap (invoke "ratio" (i32.const 1) (i32.const 0)) "integer divide by zero")

;; another module importing it, as --preload does from the shell
(module
  (import "mathlib" "gcd" (func $gcd (param i64 i64) (result i64)))
  (func (export "lcm") (param $a i64) (param $b i64) (result i64)
    (i64.mul (i64.div_u (local.get $a) (call $gcd (local.get $a) (local.get $b))) (local.get $b))))
(assert_return (invoke "lcm" (i64.const 4) (i64.const 6)) (i64.const 12))

(assert_invalid (module (func (result i32) (i64.const 1))) "type mismatch")
(assert_unlinkable
  (module (import "mathlib" "gcd" (func (param i32) (result i32))))
  "incompatible import type")
