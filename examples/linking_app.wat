;; An application module importing from the library (lib.gcd), from Python
;; (env.report) and an optional hook nobody provides (env.on_error), which
;; examples/linking.py turns into a trap stub.
(module $app
  (import "lib" "gcd" (func $gcd (param i32 i32) (result i32)))
  (import "env" "report" (func $report (param i32 i32 i32)))
  (import "env" "on_error" (func $on_error (param i32)))
  (func $reduce (export "reduce") (param $n i32) (param $d i32)
    (local $g i32)
    (if (i32.eqz (local.get $d)) (then (call $on_error (local.get $n)) (return)))
    (local.set $g (call $gcd (local.get $n) (local.get $d)))
    (call $report (i32.div_u (local.get $n) (local.get $g))
                  (i32.div_u (local.get $d) (local.get $g))
                  (local.get $g))))
