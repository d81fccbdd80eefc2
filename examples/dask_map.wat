;; dask_map.wat: a CPU-bound function for examples/dask_map.py.
;; count_primes(lo, hi) counts the primes in [lo, hi) by trial division.
(module
  (func $is_prime (param $n i32) (result i32)
    (local $d i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (i32.const 0))))
    (local.set $d (i32.const 2))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.mul (local.get $d) (local.get $d)) (local.get $n)))
        (if (i32.eqz (i32.rem_u (local.get $n) (local.get $d)))
          (then (return (i32.const 0))))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br $next)))
    (i32.const 1))
  (func (export "count_primes") (param $lo i32) (param $hi i32) (result i32)
    (local $count i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $lo) (local.get $hi)))
        (local.set $count (i32.add (local.get $count) (call $is_prime (local.get $lo))))
        (local.set $lo (i32.add (local.get $lo) (i32.const 1)))
        (br $next)))
    (local.get $count)))
