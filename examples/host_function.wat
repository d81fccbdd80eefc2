;; host_function.wat: WebAssembly calling Python.  Imports two functions the host
;; (host_function.py) provides and exports sum_of_squares, which uses them.
(module $squares
  (import "env" "square" (func $square (param i32) (result i32)))
  (import "env" "log" (func $log (param i32 i32)))

  ;; sum_of_squares(n) = square(1) + ... + square(n), logging each step
  (func (export "sum_of_squares") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (local.set $i (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.gt_s (local.get $i) (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (call $square (local.get $i))))
        (call $log (local.get $i) (local.get $sum))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum)))
