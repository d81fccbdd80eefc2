;; A library module: Euclid's gcd (recursive), linked into linking_app.wat by
;; examples/linking.py.
(module $lib
  (func $gcd (export "gcd") (param $a i32) (param $b i32) (result i32)
    (if (result i32) (i32.eqz (local.get $b))
      (then (local.get $a))
      (else (call $gcd (local.get $b) (i32.rem_u (local.get $a) (local.get $b)))))))
