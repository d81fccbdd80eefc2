"""Integer code shapes of the compiler's arithmetic, at their edge values, on the
interpreter and both memory schemes of the compiler: rotates by a literal used as
unmasked ("raw") forms inside xor/add chains, differences and narrow sums reduced
with ``%`` instead of ``&``.  Expected values come from a Python model of each
function."""
from __future__ import annotations

import itertools

import pytest

import pywazero as wz
from pywazero.engine.compiler import codegen

from .test_calls_memory import rt  # noqa: F401  (a pytest fixture)

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def u(vals, mask=M32):
    """Results as unsigned numbers (exports return signed ones)."""
    return [v & mask for v in vals] if isinstance(vals, (list, tuple)) else vals & mask


def rotl(x: int, k: int, n: int) -> int:
    k %= n
    return ((x << k) | (x >> (n - k))) & ((1 << n) - 1)


def rotr(x: int, k: int, n: int) -> int:
    return rotl(x, -k % n, n)


ROTATES = """
(module
  (func (export "rotl32") (param i32) (result i32 i32 i32 i32 i32)
    (i32.rotl (local.get 0) (i32.const 0)) (i32.rotl (local.get 0) (i32.const 1))
    (i32.rotl (local.get 0) (i32.const 31)) (i32.rotl (local.get 0) (i32.const 32))
    (i32.rotl (local.get 0) (i32.const 37)))
  (func (export "rotr32") (param i32) (result i32 i32 i32 i32)
    (i32.rotr (local.get 0) (i32.const 0)) (i32.rotr (local.get 0) (i32.const 7))
    (i32.rotr (local.get 0) (i32.const 31)) (i32.rotr (local.get 0) (i32.const -1)))
  (func (export "rotl64") (param i64) (result i64 i64 i64 i64)
    (i64.rotl (local.get 0) (i64.const 1)) (i64.rotl (local.get 0) (i64.const 63))
    (i64.rotl (local.get 0) (i64.const 64)) (i64.rotr (local.get 0) (i64.const 13)))
  ;; SHA-256's sigma: three rotates xored, added to more words, masked once
  (func (export "sigma") (param i32 i32 i32) (result i32)
    (i32.add
      (i32.add
        (i32.xor (i32.xor (i32.rotr (local.get 0) (i32.const 2)) (i32.rotr (local.get 0) (i32.const 13)))
                 (i32.rotr (local.get 0) (i32.const 22)))
        (i32.and (local.get 1) (local.get 2)))
      (i32.rotl (i32.add (local.get 1) (local.get 2)) (i32.const 5))))
  ;; a rotate of a rotate, shifted and compared: the raw form must not leak
  (func (export "nested") (param i32) (result i32 i32 i32 i32)
    (i32.rotl (i32.rotl (local.get 0) (i32.const 30)) (i32.const 9))
    (i32.shr_u (i32.rotl (local.get 0) (i32.const 3)) (i32.const 1))
    (i32.lt_s (i32.rotr (local.get 0) (i32.const 1)) (i32.const 0))
    (i32.eq (i32.rotl (local.get 0) (i32.const 16)) (i32.rotr (local.get 0) (i32.const 16))))
  (func (export "load") (param i32) (result i32)
    (i32.load (i32.rotl (local.get 0) (i32.const 8))))
  (memory 1)
  (data (i32.const 256) "\\01\\02\\03\\04")
)
"""

VALUES32 = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0x12345678, 0xDEADBEEF]
VALUES64 = [0, 1, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, M64, 0x0123456789ABCDEF]


def test_rotates_by_literals(rt):
    m = rt.instantiate(rt.compile(ROTATES))
    f = m.exports
    for x in VALUES32:
        assert u(f["rotl32"](x)) == [rotl(x, k, 32) for k in (0, 1, 31, 32, 37)]
        assert u(f["rotr32"](x)) == [rotr(x, k, 32) for k in (0, 7, 31, M32)]
        assert u(f["nested"](x)) == [rotl(rotl(x, 30, 32), 9, 32), rotl(x, 3, 32) >> 1,
                                  int(rotr(x, 1, 32) >= 0x80000000),
                                  int(rotl(x, 16, 32) == rotr(x, 16, 32))]
    for x in VALUES64:
        assert u(f["rotl64"](x), M64) == [rotl(x, 1, 64), rotl(x, 63, 64), x, rotr(x, 13, 64)]
    for x, y, z in itertools.product(VALUES32[::2], repeat=3):
        want = (rotr(x, 2, 32) ^ rotr(x, 13, 32) ^ rotr(x, 22, 32)) + (y & z) + rotl((y + z) & M32, 5, 32)
        assert u(f["sigma"](x, y, z)) == want & M32
    assert u(f["load"](rotr(256, 8, 32))) == 0x04030201
    assert u(f["load"](0xFF)) == 0        # rotl(0xFF, 8) = 0xFF00: within the page
    with pytest.raises(wz.Trap):
        f["load"](0xFF00)              # 0xFF0000 is not


REMAINDERS = """
(module
  (memory 1)
  (func (export "diff") (param i32 i32) (result i32 i32)
    (i32.sub (local.get 0) (local.get 1))
    (i32.sub (i32.sub (local.get 0) (local.get 1)) (i32.const 3)))
  (func (export "diff64") (param i64 i64) (result i64) (i64.sub (local.get 0) (local.get 1)))
  ;; sums with a narrow operand (a byte, a flag)
  (func (export "narrow") (param i32 i32) (result i32 i32 i32)
    (i32.add (local.get 0) (i32.and (local.get 1) (i32.const 255)))
    (i32.add (i32.lt_u (local.get 1) (local.get 0)) (local.get 0))
    (i32.add (local.get 0) (i32.load8_u (local.get 1))))
  (func (export "narrow64") (param i64 i64) (result i64)
    (i64.add (local.get 0) (i64.and (local.get 1) (i64.const 0xFFFF))))
  ;; a pointer stepped by a difference: the sum is a load address
  (func (export "walk") (param i32 i32 i32) (result i32)
    (i32.load8_u (i32.add (local.get 0) (i32.sub (local.get 1) (local.get 2)))))
  (data (i32.const 0) "\\ff\\01\\02")
  (data (i32.const 65535) "\\07")
)
"""


def test_differences_and_narrow_sums(rt):
    m = rt.instantiate(rt.compile(REMAINDERS))
    f = m.exports
    for x, y in itertools.product(VALUES32, repeat=2):
        assert u(f["diff"](x, y)) == [(x - y) & M32, (x - y - 3) & M32]
        assert u(f["narrow"](x, y % 3)) == [(x + (y % 3 & 255)) & M32, (x + int(y % 3 < x)) & M32,
                                         (x + (0xFF, 1, 2)[y % 3]) & M32]
    for x, y in itertools.product(VALUES64, repeat=2):
        assert u(f["diff64"](x, y), M64) == (x - y) & M64
        assert u(f["narrow64"](x, y), M64) == (x + (y & 0xFFFF)) & M64
    assert u(f["walk"](65535, 0, 0)) == 7
    assert u(f["walk"](0, 1, 0)) == 1
    assert u(f["walk"](2, 0, 2)) == 0xFF
    with pytest.raises(wz.Trap):
        f["walk"](1, 0, 2)             # 1 + (0 - 2) = 0xFFFFFFFF
    with pytest.raises(wz.Trap):
        f["walk"](65535, 1, 0)


def test_remainder_masks_are_emitted():
    # (guards the test above: it exercises the % forms only if they are generated)
    if not codegen.REMAINDER_MASKS:
        pytest.skip("CPython only")
    from pywazero.engine.compiler import dump
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        cm = r.compile(REMAINDERS)
        assert "((l0 - l1) % 4294967296)" in dump(cm, 0)
        assert dump(cm, 2).count("% 4294967296") == 3
        rot = dump(r.compile(ROTATES), 3)
        assert rot.count("0xFFFFFFFF") == 2     # (rotl needs (y + z) masked)
