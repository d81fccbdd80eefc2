;; strings.wat: strings and bytes in linear memory.  The host writes into memory it
;; gets from alloc, then calls functions that take (pointer, length) pairs.
(module $strings
  (import "env" "print" (func $print (param i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 0) "Hello, ")

  ;; alloc(n) -> pointer to n fresh bytes (a bump allocator: never frees)
  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.const 1)))))
    (local.get $p))

  ;; greet(name, len): prints "Hello, <name>!" through the host's print
  (func (export "greet") (param $name i32) (param $len i32)
    (local $out i32)
    (local.set $out (call $alloc (i32.add (local.get $len) (i32.const 8))))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 7))
    (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $name) (local.get $len))
    (i32.store8 (i32.add (local.get $out) (i32.add (local.get $len) (i32.const 7))) (i32.const 33))
    (call $print (local.get $out) (i32.add (local.get $len) (i32.const 8))))

  ;; reverse(p, len): reverses bytes in place
  (func (export "reverse") (param $p i32) (param $len i32)
    (local $q i32) (local $t i32)
    (local.set $q (i32.sub (i32.add (local.get $p) (local.get $len)) (i32.const 1)))
    (block $done
      (loop $swap
        (br_if $done (i32.ge_s (local.get $p) (local.get $q)))
        (local.set $t (i32.load8_u (local.get $p)))
        (i32.store8 (local.get $p) (i32.load8_u (local.get $q)))
        (i32.store8 (local.get $q) (local.get $t))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $q (i32.sub (local.get $q) (i32.const 1)))
        (br $swap))))

  ;; checksum(p, len) -> the sum of the bytes
  (func (export "checksum") (param $p i32) (param $len i32) (result i32)
    (local $sum i32) (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $sum)))
