"""The benchmark workloads: each as WebAssembly text and as the plain-Python
program a person would write for the same job.

Every workload has an exported wasm function and a Python function with the same
arguments and result, so a benchmark can check they agree before timing them.
"""
from __future__ import annotations

FIB_WAT = """
(module
  (func $fib (export "run") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2))))))))
"""


def fib_py(n: int) -> int:
    if n < 2:
        return n
    return fib_py(n - 1) + fib_py(n - 2)


# A 64-bit linear congruential loop: n iterations of x = x * a + c (mod 2**64).
LOOP_WAT = """
(module
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $x i64)
    (local.set $x (i64.const 1))
    (block $done
      (loop $top
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (i64.add (i64.mul (local.get $x) (i64.const 6364136223846793005))
                               (i64.const 1442695040888963407)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $x)))
"""


def loop_py(n: int) -> int:
    x = 1
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    return x - (1 << 64) if x >= 1 << 63 else x


# Sieve of Eratosthenes over linear memory: count the primes below n (n <= 65536*4).
SIEVE_WAT = """
(module
  (memory 4)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $j i32) (local $count i32)
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $count)))
"""


def sieve_py(n: int) -> int:
    marks = bytearray(n)
    count = 0
    for i in range(2, n):
        if not marks[i]:
            count += 1
            for j in range(i * i, n, i):
                marks[j] = 1
    return count


# n x n f64 matrix multiply; A[i][j] = i + j, B[i][j] = i - j; returns the sum of C.
MATMUL_WAT = """
(module
  (memory 8)
  (func (export "run") (param $n i32) (result f64)
    (local $i i32) (local $j i32) (local $k i32) (local $acc f64) (local $sum f64)
    (local $a i32) (local $b i32) (local $c i32)
    (local.set $b (i32.mul (i32.mul (local.get $n) (local.get $n)) (i32.const 8)))
    (local.set $c (i32.mul (local.get $b) (i32.const 2)))
    ;; fill A and B
    (local.set $i (i32.const 0))
    (block $fd (loop $fi
      (br_if $fd (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $j (i32.const 0))
      (block $gd (loop $gj
        (br_if $gd (i32.ge_u (local.get $j) (local.get $n)))
        (f64.store (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3))
                   (f64.convert_i32_s (i32.add (local.get $i) (local.get $j))))
        (f64.store (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3)))
                   (f64.convert_i32_s (i32.sub (local.get $i) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $gj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $fi)))
    ;; C = A x B, summing C as we go
    (local.set $i (i32.const 0))
    (block $id (loop $il
      (br_if $id (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $j (i32.const 0))
      (block $jd (loop $jl
        (br_if $jd (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $acc (f64.const 0))
        (local.set $k (i32.const 0))
        (block $kd (loop $kl
          (br_if $kd (i32.ge_u (local.get $k) (local.get $n)))
          (local.set $acc (f64.add (local.get $acc)
            (f64.mul
              (f64.load (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $k)) (i32.const 3)))
              (f64.load (i32.add (local.get $b)
                 (i32.shl (i32.add (i32.mul (local.get $k) (local.get $n)) (local.get $j)) (i32.const 3)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $kl)))
        (f64.store (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3)))
                   (local.get $acc))
        (local.set $sum (f64.add (local.get $sum) (local.get $acc)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $il)))
    (local.get $sum)))
"""


def matmul_py(n: int) -> float:
    a = [[float(i + j) for j in range(n)] for i in range(n)]
    b = [[float(i - j) for j in range(n)] for i in range(n)]
    total = 0.0
    for i in range(n):
        row = a[i]
        for j in range(n):
            acc = 0.0
            for k in range(n):
                acc += row[k] * b[k][j]
            total += acc
    return total


TINY_WAT = """
(module (func (export "run") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))
"""


def tiny_py(x: int) -> int:
    return x + 1


def many_functions_wat(count: int = 200) -> str:
    """A module of ``count`` small functions, a memory, a table and globals: the
    instantiate-many workload."""
    funcs = []
    for k in range(count):
        funcs.append(
            f"(func $f{k} (export \"f{k}\") (param i32) (result i32)"
            f" (i32.add (i32.mul (local.get 0) (i32.const {k + 1})) (global.get $g)))"
        )
    elems = " ".join(f"$f{k}" for k in range(count))
    return (
        "(module (memory 1) (global $g (mut i32) (i32.const 7)) (table "
        f"{count} funcref) (elem (i32.const 0) {elems}) (data (i32.const 0) \"hello\")\n"
        + "\n".join(funcs)
        + ")"
    )
