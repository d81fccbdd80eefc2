"""Instruction-level emission of the compiler checked against values worked out here:
signed comparisons (the compiler writes them as range tests or sign-agreement tests
on the unsigned bit patterns, never with ``x ^ sign``), locals that start without an
initial value (assigned in the straight-line start of the body) next to locals that
must still read as zero, and a subtraction written for a constant of the top half."""
from __future__ import annotations

import pytest

import pywazero as wz

ENGINES = ["interpreter", "compiler"]
OPS = {"lt_s": lambda x, y: x < y, "le_s": lambda x, y: x <= y,
       "gt_s": lambda x, y: x > y, "ge_s": lambda x, y: x >= y}


def boundary(n: int):
    s = 1 << (n - 1)
    return [0, 1, 2, 1000, s - 2, s - 1, s, s + 1, s + 1000, (1 << n) - 2, (1 << n) - 1]


def signed(v: int, n: int) -> int:
    return v - (1 << n) if v >= 1 << (n - 1) else v


def comparison_module(n: int) -> str:
    t = "i%d" % n
    funcs = []
    for op in OPS:
        funcs.append('(func (export "%s") (param %s %s) (result i32) (%s.%s (local.get 0) (local.get 1)))'
                     % (op, t, t, t, op))
        for k, c in enumerate(boundary(n)):
            c = signed(c, n)
            funcs.append('(func (export "%s_r%d") (param %s) (result i32) (%s.%s (local.get 0) (%s.const %d)))'
                         % (op, k, t, t, op, t, c))
            funcs.append('(func (export "%s_l%d") (param %s) (result i32) (%s.%s (%s.const %d) (local.get 0)))'
                         % (op, k, t, t, op, t, c))
            # as a branch condition, the shape C loops produce
            funcs.append('(func (export "%s_b%d") (param %s) (result i32) (block (br_if 0 (%s.%s (local.get 0) '
                         '(%s.const %d))) (return (i32.const 7))) (i32.const 9))' % (op, k, t, t, op, t, c))
    return "(module %s)" % "\n".join(funcs)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [32, 64])
def test_signed_comparisons(engine, n):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        m = rt.instantiate(comparison_module(n))
        values = boundary(n)
        for op, py in OPS.items():
            f = m.function(op)
            for x in values:
                for y in values:
                    assert f(signed(x, n), signed(y, n)) == int(py(signed(x, n), signed(y, n))), (op, x, y)
            for k, c in enumerate(values):
                right, left, branch = (m.function("%s_%s%d" % (op, s, k)) for s in "rlb")
                for x in values:
                    sx, sc = signed(x, n), signed(c, n)
                    assert right(sx) == int(py(sx, sc)), (op, x, c)
                    assert left(sx) == int(py(sc, sx)), (op, c, x)
                    assert branch(sx) == (9 if py(sx, sc) else 7), (op, x, c)


LOCALS = """
(module
  ;; $x is set before anything branches: no initial value needed
  (func (export "straight") (param i32) (result i32) (local $x i32) (local $acc i32)
    (local.set $x (i32.mul (local.get 0) (i32.const 3)))
    (block (loop
      (br_if 1 (i32.eqz (local.get 0)))
      (local.set $acc (i32.add (local.get $acc) (local.get $x)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br 0)))
    (local.get $acc))
  ;; first set inside an if: reads 0 when the if is not taken
  (func (export "in_if") (param i32) (result i32) (local $x i32)
    (if (local.get 0) (then (local.set $x (i32.const 5))))
    (local.get $x))
  ;; first set after a br_if that may skip it
  (func (export "after_br_if") (param i32) (result i64) (local $x i64)
    (block (br_if 0 (local.get 0)) (local.set $x (i64.const 7)))
    (local.get $x))
  ;; read (in a loop) before the set that follows it
  (func (export "read_first") (param i32) (result i32) (local $x i32) (local $sum i32)
    (loop
      (local.set $sum (i32.add (local.get $sum) (local.get $x)))
      (local.set $x (i32.add (local.get $x) (i32.const 1)))
      (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $sum))
  ;; floats and references keep their zero/null when not set first
  (func (export "float") (param i32) (result f64) (local $x f64)
    (if (local.get 0) (then (local.set $x (f64.const 2.5))))
    (local.get $x))
  (func (export "ref") (param i32) (result i32) (local $r funcref)
    (if (local.get 0) (then (local.set $r (ref.func 0))))
    (ref.is_null (local.get $r)))
  (elem declare func 0)
  ;; sums with constants of the top half (written as subtractions)
  (func (export "dec") (param i32) (result i32) (i32.add (local.get 0) (i32.const -1)))
  (func (export "dec64") (param i64) (result i64) (i64.sub (local.get 0) (i64.const -9)))
  ;; counters stepped by small constants across 2**32 and 2**64
  (func (export "count") (param $i i32) (param $stop i32) (result i32) (local $n i32)
    (loop
      (local.set $i (i32.add (local.get $i) (i32.const 3)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if 0 (i32.ne (local.get $i) (local.get $stop))))
    (local.get $n))
  (func (export "count64") (param $i i64) (param $stop i64) (result i32) (local $n i32)
    (loop
      (local.set $i (i64.sub (local.get $i) (i64.const 5)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if 0 (i64.ne (local.get $i) (local.get $stop))))
    (local.get $n))
  (func (export "mix") (param i32 i32) (result i32)
    (i32.mul (i32.add (local.get 0) (i32.const -16)) (i32.add (local.get 1) (i32.const 0x80000000))))
)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_locals_and_top_half_constants(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        m = rt.instantiate(LOCALS)
        assert m.function("straight")(4) == 48
        assert m.function("in_if")(0) == 0 and m.function("in_if")(1) == 5
        assert m.function("after_br_if")(1) == 0 and m.function("after_br_if")(0) == 7
        assert m.function("read_first")(4) == 0 + 1 + 2 + 3
        assert m.function("float")(0) == 0.0 and m.function("float")(1) == 2.5
        assert m.function("ref")(0) == 1 and m.function("ref")(1) == 0
        for x in (0, 1, 15, 16, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF):
            assert m.function("dec")(signed(x, 32)) & 0xFFFFFFFF == (x - 1) & 0xFFFFFFFF
            assert m.function("dec64")(x) & (1 << 64) - 1 == x + 9
            for y in (0, 5, 0x7FFFFFFF, 0x80000001, 0xFFFFFFFF):
                want = ((x - 16) * (y + 0x80000000)) & 0xFFFFFFFF
                assert m.function("mix")(signed(x, 32), signed(y, 32)) & 0xFFFFFFFF == want, (x, y)
        assert m.function("dec64")(-1) & (1 << 64) - 1 == 8
        assert m.function("count")(signed(0xFFFFFFF7, 32), 6) == 5
        assert m.function("count")(signed(0xFFFFFFFE, 32), 1) == 1
        assert m.function("count64")(3, signed((3 - 35) % (1 << 64), 64)) == 7


WIDTHS = """
(module
  (memory (export "mem") 1)
  ;; operands of known width (zero-extending loads, shifts right, masks, comparisons):
  ;; sums and products that cannot reach 2**N need no mask, the others keep it
  (func (export "narrow_sum") (param i32) (result i32)
    (i32.add (i32.load8_u (local.get 0)) (i32.load16_u offset=2 (local.get 0))))
  (func (export "narrow_prod") (param i32) (result i32)
    (i32.mul (i32.load16_u (local.get 0)) (i32.load16_u offset=2 (local.get 0))))
  (func (export "prod_plus") (param i32) (result i32)
    (i32.add (i32.mul (i32.load16_u (local.get 0)) (i32.load16_u offset=2 (local.get 0)))
             (i32.load16_u offset=4 (local.get 0))))
  (func (export "shifted") (param i32 i32) (result i32)
    (i32.add (i32.shl (i32.load8_u (local.get 0)) (i32.const 24)) (local.get 1)))
  (func (export "halves") (param i32 i32) (result i32)
    (i32.mul (i32.shr_u (local.get 0) (i32.const 16)) (i32.shr_u (local.get 1) (i32.const 16))))
  (func (export "halves_plus") (param i32 i32) (result i32)
    (i32.add (i32.mul (i32.shr_u (local.get 0) (i32.const 15)) (i32.shr_u (local.get 1) (i32.const 16)))
             (i32.lt_u (local.get 0) (local.get 1))))
  (func (export "masked") (param i32 i32) (result i32)
    (i32.add (i32.and (local.get 0) (i32.const 0xFFFF)) (i32.and (local.get 1) (i32.const 0x7FFF0000))))
  (func (export "diff") (param i32) (result i32)
    (i32.add (i32.sub (i32.load8_u (local.get 0)) (i32.load8_u offset=1 (local.get 0))) (i32.const 3)))
  (func (export "wide64") (param i32) (result i64)
    (i64.mul (i64.load32_u (local.get 0)) (i64.load32_u offset=4 (local.get 0))))
  (func (export "wide64_plus") (param i32) (result i64)
    (i64.add (i64.mul (i64.load32_u (local.get 0)) (i64.load32_u offset=4 (local.get 0)))
             (i64.load32_u offset=8 (local.get 0))))
)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_operands_of_known_width(engine):
    import struct
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        m = rt.instantiate(WIDTHS)
        mem = m.memory("mem")
        f = {name: m.function(name) for name in (
            "narrow_sum", "narrow_prod", "prod_plus", "shifted", "halves", "halves_plus", "masked",
            "diff", "wide64", "wide64_plus")}
        M32, M64 = 0xFFFFFFFF, (1 << 64) - 1
        for words in ([0xFFFFFFFF] * 3, [0, 0, 0], [0x12345678, 0xFFFF0001, 0x8000FFFF], [0xFF, 0x1, 0xFFFFFFFF]):
            mem.write(0, struct.pack("<3I", *words))
            raw = struct.pack("<3I", *words)
            b = raw[0]
            h0, h1, h2 = struct.unpack_from("<3H", raw)
            w0, w1, w2 = words
            assert f["narrow_sum"](0) & M32 == b + h1
            assert f["narrow_prod"](0) & M32 == h0 * h1
            assert f["prod_plus"](0) & M32 == (h0 * h1 + h2) & M32
            assert f["diff"](0) & M32 == (raw[0] - raw[1] + 3) & M32
            assert f["wide64"](0) & M64 == w0 * w1
            assert f["wide64_plus"](0) & M64 == (w0 * w1 + w2) & M64
            for y in (0, 1, 0xFFFFFF, 0xFFFFFFFF, 0x80000000):
                assert f["shifted"](0, signed(y, 32)) & M32 == ((b << 24) + y) & M32
        for x in (0, 0xFFFF, 0x10000, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF):
            for y in (0, 0xFFFF, 0x1FFFF, 0xFFFFFFFF, 0x80000000):
                sx, sy = signed(x, 32), signed(y, 32)
                assert f["halves"](sx, sy) & M32 == (x >> 16) * (y >> 16)
                assert f["halves_plus"](sx, sy) & M32 == ((x >> 15) * (y >> 16) + (x < y)) & M32
                assert f["masked"](sx, sy) & M32 == (x & 0xFFFF) + (y & 0x7FFF0000)
