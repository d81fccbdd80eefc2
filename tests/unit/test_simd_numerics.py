"""SIMD numerics (pywazero.engine.simd): every lane-wise integer operation against a
plain per-lane reference written from the spec, float lanes against the scalar
numerics (with the spec's NaN rules), and hand-picked boundary cases."""
from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pywazero.wasm import numerics as N
from pywazero.engine import simd as S
from pywazero.wasm import opcodes
from pywazero.wasm.types import F32, F64, I32, I64, V128

MASK = (1 << 128) - 1


def lanes(v, w):
    return [(v >> (k * w)) & ((1 << w) - 1) for k in range(128 // w)]


def slanes(v, w):
    return [x - (1 << w) if x >> (w - 1) else x for x in lanes(v, w)]


def join(xs, w):
    r = 0
    for k, x in enumerate(xs):
        r |= (x & ((1 << w) - 1)) << (k * w)
    return r


def sat(x, lo, hi):
    return max(lo, min(hi, x))


W = {"i8x16": 8, "i16x8": 16, "i32x4": 32, "i64x2": 64}


def ref_int_binary(shape, op, a, b):
    w = W[shape]
    ua, ub, sa, sb = lanes(a, w), lanes(b, w), slanes(a, w), slanes(b, w)
    smin, smax, umax = -(1 << (w - 1)), (1 << (w - 1)) - 1, (1 << w) - 1
    cmp = {
        "eq": lambda: [x == y for x, y in zip(ua, ub)],
        "ne": lambda: [x != y for x, y in zip(ua, ub)],
        "lt_s": lambda: [x < y for x, y in zip(sa, sb)],
        "lt_u": lambda: [x < y for x, y in zip(ua, ub)],
        "gt_s": lambda: [x > y for x, y in zip(sa, sb)],
        "gt_u": lambda: [x > y for x, y in zip(ua, ub)],
        "le_s": lambda: [x <= y for x, y in zip(sa, sb)],
        "le_u": lambda: [x <= y for x, y in zip(ua, ub)],
        "ge_s": lambda: [x >= y for x, y in zip(sa, sb)],
        "ge_u": lambda: [x >= y for x, y in zip(ua, ub)],
    }
    if op in cmp:
        return join([-1 if c else 0 for c in cmp[op]()], w)
    res = {
        "add": lambda: [x + y for x, y in zip(ua, ub)],
        "sub": lambda: [x - y for x, y in zip(ua, ub)],
        "mul": lambda: [x * y for x, y in zip(ua, ub)],
        "min_s": lambda: [min(x, y) for x, y in zip(sa, sb)],
        "min_u": lambda: [min(x, y) for x, y in zip(ua, ub)],
        "max_s": lambda: [max(x, y) for x, y in zip(sa, sb)],
        "max_u": lambda: [max(x, y) for x, y in zip(ua, ub)],
        "add_sat_s": lambda: [sat(x + y, smin, smax) for x, y in zip(sa, sb)],
        "add_sat_u": lambda: [sat(x + y, 0, umax) for x, y in zip(ua, ub)],
        "sub_sat_s": lambda: [sat(x - y, smin, smax) for x, y in zip(sa, sb)],
        "sub_sat_u": lambda: [sat(x - y, 0, umax) for x, y in zip(ua, ub)],
        "avgr_u": lambda: [(x + y + 1) // 2 for x, y in zip(ua, ub)],
        "q15mulr_sat_s": lambda: [sat((x * y + 0x4000) >> 15, smin, smax) for x, y in zip(sa, sb)],
    }
    if op in res:
        return join(res[op](), w)
    m = re.match(r"extmul_(low|high)_i\d+x\d+_([su])$", op)
    if m:
        get = slanes if m.group(2) == "s" else lanes
        n = 128 // w
        sl = slice(0, n) if m.group(1) == "low" else slice(n, 2 * n)
        return join([x * y for x, y in zip(get(a, w // 2)[sl], get(b, w // 2)[sl])], w)
    m = re.match(r"narrow_i(\d+)x\d+_([su])$", op)
    if m:
        ws = int(m.group(1))
        xs = slanes(a, ws) + slanes(b, ws)
        lo, hi = (smin, smax) if m.group(2) == "s" else (0, umax)
        return join([sat(x, lo, hi) for x in xs], w)
    if op == "swizzle":
        return join([ua[i] if i < 16 else 0 for i in ub], 8)
    if op == "dot_i16x8_s":
        p = [x * y for x, y in zip(slanes(a, 16), slanes(b, 16))]
        return join([p[2 * k] + p[2 * k + 1] for k in range(4)], 32)
    raise KeyError(op)


def ref_int_unary(shape, op, a):
    w = W[shape]
    ua, sa = lanes(a, w), slanes(a, w)
    if op == "abs":
        return join([abs(x) for x in sa], w)
    if op == "neg":
        return join([-x for x in ua], w)
    if op == "popcnt":
        return join([bin(x).count("1") for x in ua], w)
    m = re.match(r"extend_(low|high)_i\d+x\d+_([su])$", op)
    if m:
        src = slanes(a, w // 2) if m.group(2) == "s" else lanes(a, w // 2)
        n = 128 // w
        return join(src[:n] if m.group(1) == "low" else src[n:], w)
    m = re.match(r"extadd_pairwise_i\d+x\d+_([su])$", op)
    if m:
        src = slanes(a, w // 2) if m.group(1) == "s" else lanes(a, w // 2)
        return join([src[2 * k] + src[2 * k + 1] for k in range(128 // w)], w)
    raise KeyError(op)


def ref_int_to_i32(shape, op, a):
    w = W[shape]
    if op == "all_true":
        return int(all(lanes(a, w)))
    if op == "bitmask":
        return sum(1 << k for k, x in enumerate(slanes(a, w)) if x < 0)
    raise KeyError(op)


def ref_shift(shape, op, a, s):
    w = W[shape]
    s %= w
    if op == "shl":
        return join([x << s for x in lanes(a, w)], w)
    if op == "shr_u":
        return join([x >> s for x in lanes(a, w)], w)
    return join([x >> s for x in slanes(a, w)], w)


INT_SHAPES = ("i8x16", "i16x8", "i32x4", "i64x2")


def ops_of(shape, sig):
    out = []
    for info in opcodes.BY_NAME.values():
        if (info.name.startswith(shape + ".") and info.imm == opcodes.IMM_NONE
                and info.op >= (opcodes.PREFIX_FD << 16)
                and ".relaxed_" not in info.name  # see test_relaxed_simd.py
                and (info.params, info.results) == sig):
            out.append(info.name)
    return out


INT_BINARY = [n for s in INT_SHAPES for n in ops_of(s, ((V128, V128), (V128,)))]
INT_UNARY = [n for s in INT_SHAPES for n in ops_of(s, ((V128,), (V128,)))
             if "trunc_sat" not in n]
INT_TO_I32 = [n for s in INT_SHAPES for n in ops_of(s, ((V128,), (I32,)))]
SHIFTS = [n for s in INT_SHAPES for n in ops_of(s, ((V128, I32), (V128,)))]

EDGE = [0, MASK, 1 << 127, (1 << 127) - 1, 0x80 * (MASK // 0xFF), 0x7F * (MASK // 0xFF),
        0x8000 * (MASK // 0xFFFF), 0x7FFF * (MASK // 0xFFFF), 0x80000000 * (MASK // 0xFFFFFFFF),
        0x01 * (MASK // 0xFF), 0xFF00FF00FF00FF00FF00FF00FF00FF00, 0x0123456789ABCDEFFEDCBA9876543210]
v128s = st.one_of(st.sampled_from(EDGE), st.integers(0, MASK),
                  st.lists(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF]),
                           min_size=16, max_size=16).map(lambda xs: join(xs, 8)))


@pytest.mark.parametrize("name", INT_BINARY)
@settings(max_examples=60, deadline=None)
@given(a=v128s, b=v128s)
def test_int_binary(name, a, b):
    shape, op = name.split(".")
    assert S.FUNCTIONS[name](a, b) == ref_int_binary(shape, op, a, b)
    assert S.FUNCTIONS[name](a, a) == ref_int_binary(shape, op, a, a)


@pytest.mark.parametrize("name", INT_UNARY)
@settings(max_examples=60, deadline=None)
@given(a=v128s)
def test_int_unary(name, a):
    shape, op = name.split(".")
    assert S.FUNCTIONS[name](a) == ref_int_unary(shape, op, a)


@pytest.mark.parametrize("name", INT_TO_I32)
@settings(max_examples=60, deadline=None)
@given(a=v128s)
def test_int_reductions(name, a):
    shape, op = name.split(".")
    assert S.FUNCTIONS[name](a) == ref_int_to_i32(shape, op, a)


@pytest.mark.parametrize("name", SHIFTS)
@settings(max_examples=60, deadline=None)
@given(a=v128s, s=st.one_of(st.integers(0, 130), st.integers(0, 0xFFFFFFFF)))
def test_shifts(name, a, s):
    shape, op = name.split(".")
    assert S.FUNCTIONS[name](a, s) == ref_shift(shape, op, a, s)


def test_bitwise():
    a, b, c = 0xF0F0 << 100 | 0x1234, 0xFF00FF << 60 | 0xABCD, (1 << 127) | 0xFF0F
    assert S.v128_not(0) == MASK
    assert S.v128_and(a, b) == a & b and S.v128_or(a, b) == a | b and S.v128_xor(a, b) == a ^ b
    assert S.v128_andnot(a, b) == a & ~b & MASK
    assert S.v128_bitselect(a, b, c) == (a & c) | (b & ~c & MASK)
    assert S.v128_any_true(0) == 0 and S.v128_any_true(1 << 127) == 1


def test_lanes_splat_shuffle():
    v = join(range(16), 8)
    assert S.i8x16_splat(0x1FF) == 0xFF * (MASK // 0xFF)
    assert S.i16x8_splat(0xFFFF8000) == join([0x8000] * 8, 16)
    assert S.i64x2_splat(0xFFFFFFFFFFFFFFFF) == MASK
    assert S.i8x16_extract_lane_s(join([0] * 15 + [0x80], 8), 15) == 0xFFFFFF80
    assert S.i8x16_extract_lane_u(join([0] * 15 + [0x80], 8), 15) == 0x80
    assert S.i16x8_extract_lane_s(join([0x8001] * 8, 16), 3) == 0xFFFF8001
    assert S.i32x4_extract_lane(join([1, 2, 3, 4], 32), 2) == 3
    assert S.i64x2_extract_lane(join([5, 6], 64), 1) == 6
    assert S.i8x16_replace_lane(v, 3, 0x1FF) == join([0, 1, 2, 0xFF] + list(range(4, 16)), 8)
    assert S.i16x8_replace_lane(0, 7, 0xABCDE) == 0xBCDE << 112
    assert S.i32x4_replace_lane(MASK, 0, 0) == MASK ^ 0xFFFFFFFF
    assert S.i64x2_replace_lane(0, 1, 7) == 7 << 64
    assert S.i8x16_shuffle(v, join(range(16, 32), 8), bytes([31, 0, 16, 15] * 4)) == \
        join([31, 0, 16, 15] * 4, 8)
    assert S.i8x16_swizzle(v, join([15, 16, 255, 0x80, 0] + [1] * 11, 8)) == \
        join([15, 0, 0, 0, 0] + [1] * 11, 8)


def test_f32_lane_bits_preserved():
    snan = 0x7FA00000
    v = join([snan, 0xFFC00001, 0x80000000, 0x3F800000], 32)
    assert S.f32x4_neg(v) == join([0xFFA00000, 0x7FC00001, 0, 0xBF800000], 32)
    assert S.f32x4_abs(v) == join([snan, 0x7FC00001, 0, 0x3F800000], 32)
    assert S.f32x4_extract_lane(v, 0) is not None
    assert N.f32_to_bits(S.f32x4_extract_lane(v, 0)) == snan
    assert S.f32x4_replace_lane(0, 2, N.f32_from_bits(snan)) == snan << 64
    assert S.f32x4_splat(N.f32_from_bits(snan)) == join([snan] * 4, 32)
    d = join([0x7FF0000000000001, 0x8000000000000000], 64)
    assert S.f64x2_neg(d) == join([0xFFF0000000000001, 0], 64)
    assert S.f64x2_abs(S.f64x2_neg(d)) == join([0x7FF0000000000001, 0], 64)
    assert S.f64x2_extract_lane(d, 0) != S.f64x2_extract_lane(d, 0)
    assert S.f64x2_replace_lane(d, 1, 1.0) == join([0x7FF0000000000001, 0x3FF0000000000000], 64)
    # pmin/pmax return an operand's lane bit-exactly, even a NaN.
    a = join([snan, 0x3F800000, 0x80000000, 0x7F800000], 32)
    b = join([0x3F800000, snan, 0x00000000, 0xFF800000], 32)
    assert S.f32x4_pmin(a, b) == join([snan, 0x3F800000, 0x80000000, 0xFF800000], 32)
    assert S.f32x4_pmax(a, b) == join([snan, 0x3F800000, 0x80000000, 0x7F800000], 32)


# --- float lanes against the scalar functions -----------------------------------------

F32_SPECIAL = [0, 0x80000000, 1, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,
               0xFFC00000, 0x7FA00000, 0x7FC00001, 0x3F800000, 0x3F000000, 0x3FC00000, 0x40200000,
               0x4B000001, 0xCF000000, 0x4F800000, 0x4F000000, 0xBF7FFFFF, 0x00800000]
F64_SPECIAL = [0, 0x8000000000000000, 1, 0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000,
               0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
               0x3FF0000000000000, 0x3FE0000000000000, 0x4004000000000000, 0x41E0000000000000,
               0xC1E0000000000000, 0x41EFFFFFFFE00000, 0x47EFFFFFE0000000, 0x36A0000000000000,
               0x3FF8000000000000]
f32_lane = st.one_of(st.sampled_from(F32_SPECIAL), st.integers(0, 0xFFFFFFFF))
f64_lane = st.one_of(st.sampled_from(F64_SPECIAL), st.integers(0, 0xFFFFFFFFFFFFFFFF))
f32_vec = st.lists(f32_lane, min_size=4, max_size=4).map(lambda xs: join(xs, 32))
f64_vec = st.lists(f64_lane, min_size=2, max_size=2).map(lambda xs: join(xs, 64))


def nan_ok(bits, w, inputs):
    """``bits`` is a NaN satisfying the spec: arithmetic, canonical if every NaN
    among ``inputs`` (lane bits) is canonical."""
    mb = 23 if w == 32 else 52
    ex = ((1 << (w - 1 - mb)) - 1) << mb
    quiet = 1 << (mb - 1)
    if bits & ex != ex or not bits & quiet:
        return False
    nans = [x for x in inputs if x & ex == ex and x & ((1 << mb) - 1)]
    if all(x & ((1 << mb) - 1) == quiet for x in nans):
        return bits & ((1 << mb) - 1) == quiet
    return True


def lane_ok(got, want, w, inputs):
    if want != want:
        return nan_ok(got, w, inputs)
    wb = N.f32_to_bits(want) if w == 32 else N.f64_to_bits(want)
    return got == wb


FLOAT_BIN = {op: (getattr(N, "f32_" + op), getattr(N, "f64_" + op))
             for op in ("add", "sub", "mul", "div", "min", "max")}
FLOAT_UN = {op: (getattr(N, "f32_" + op), getattr(N, "f64_" + op))
            for op in ("sqrt", "ceil", "floor", "trunc", "nearest")}


@pytest.mark.parametrize("op", sorted(FLOAT_BIN))
@settings(max_examples=80, deadline=None)
@given(a=f32_vec, b=f32_vec, c=f64_vec, d=f64_vec)
def test_float_binary_lanes(op, a, b, c, d):
    f32, f64 = FLOAT_BIN[op]
    r = S.FUNCTIONS["f32x4." + op](a, b)
    for x, y, g in zip(lanes(a, 32), lanes(b, 32), lanes(r, 32)):
        assert lane_ok(g, f32(N.f32_from_bits(x), N.f32_from_bits(y)), 32, [x, y]), (op, x, y, g)
    r = S.FUNCTIONS["f64x2." + op](c, d)
    for x, y, g in zip(lanes(c, 64), lanes(d, 64), lanes(r, 64)):
        assert lane_ok(g, f64(N.f64_from_bits(x), N.f64_from_bits(y)), 64, [x, y]), (op, x, y, g)


@pytest.mark.parametrize("op", sorted(FLOAT_UN))
@settings(max_examples=80, deadline=None)
@given(a=f32_vec, c=f64_vec)
def test_float_unary_lanes(op, a, c):
    f32, f64 = FLOAT_UN[op]
    r = S.FUNCTIONS["f32x4." + op](a)
    for x, g in zip(lanes(a, 32), lanes(r, 32)):
        assert lane_ok(g, f32(N.f32_from_bits(x)), 32, [x]), (op, x, g)
    r = S.FUNCTIONS["f64x2." + op](c)
    for x, g in zip(lanes(c, 64), lanes(r, 64)):
        assert lane_ok(g, f64(N.f64_from_bits(x)), 64, [x]), (op, x, g)


@settings(max_examples=80, deadline=None)
@given(a=f32_vec, b=f32_vec, c=f64_vec, d=f64_vec)
def test_float_compare_and_pminmax(a, b, c, d):
    for op in ("eq", "ne", "lt", "gt", "le", "ge"):
        f = getattr(N, "f32_" + op)
        r = S.FUNCTIONS["f32x4." + op](a, b)
        assert lanes(r, 32) == [0xFFFFFFFF if f(N.f32_from_bits(x), N.f32_from_bits(y)) else 0
                                for x, y in zip(lanes(a, 32), lanes(b, 32))]
        f = getattr(N, "f64_" + op)
        r = S.FUNCTIONS["f64x2." + op](c, d)
        assert lanes(r, 64) == [2 ** 64 - 1 if f(N.f64_from_bits(x), N.f64_from_bits(y)) else 0
                                for x, y in zip(lanes(c, 64), lanes(d, 64))]
    F, D = N.f32_from_bits, N.f64_from_bits
    assert S.f32x4_pmin(a, b) == join([y if F(y) < F(x) else x
                                       for x, y in zip(lanes(a, 32), lanes(b, 32))], 32)
    assert S.f32x4_pmax(a, b) == join([y if F(x) < F(y) else x
                                       for x, y in zip(lanes(a, 32), lanes(b, 32))], 32)
    assert S.f64x2_pmin(c, d) == join([y if D(y) < D(x) else x
                                       for x, y in zip(lanes(c, 64), lanes(d, 64))], 64)
    assert S.f64x2_pmax(c, d) == join([y if D(x) < D(y) else x
                                       for x, y in zip(lanes(c, 64), lanes(d, 64))], 64)


@settings(max_examples=60, deadline=None)
@given(a=f32_vec, c=f64_vec, i=v128s)
def test_conversions(a, c, i):
    F, D = N.f32_from_bits, N.f64_from_bits
    assert lanes(S.i32x4_trunc_sat_f32x4_s(a), 32) == [N.i32_trunc_sat_f32_s(F(x)) for x in lanes(a, 32)]
    assert lanes(S.i32x4_trunc_sat_f32x4_u(a), 32) == [N.i32_trunc_sat_f32_u(F(x)) for x in lanes(a, 32)]
    assert lanes(S.i32x4_trunc_sat_f64x2_s_zero(c), 32) == \
        [N.i32_trunc_sat_f64_s(D(x)) for x in lanes(c, 64)] + [0, 0]
    assert lanes(S.i32x4_trunc_sat_f64x2_u_zero(c), 32) == \
        [N.i32_trunc_sat_f64_u(D(x)) for x in lanes(c, 64)] + [0, 0]
    assert lanes(S.f32x4_convert_i32x4_s(i), 32) == \
        [N.f32_to_bits(N.f32_convert_i32_s(x)) for x in lanes(i, 32)]
    assert lanes(S.f32x4_convert_i32x4_u(i), 32) == \
        [N.f32_to_bits(N.f32_convert_i32_u(x)) for x in lanes(i, 32)]
    assert lanes(S.f64x2_convert_low_i32x4_s(i), 64) == \
        [N.f64_to_bits(N.f64_convert_i32_s(x)) for x in lanes(i, 32)[:2]]
    assert lanes(S.f64x2_convert_low_i32x4_u(i), 64) == \
        [N.f64_to_bits(N.f64_convert_i32_u(x)) for x in lanes(i, 32)[:2]]
    r = lanes(S.f32x4_demote_f64x2_zero(c), 32)
    assert r[2:] == [0, 0]
    for x, g in zip(lanes(c, 64), r):
        assert lane_ok(g, N.f32_demote_f64(D(x)), 32, []) or (
            D(x) != D(x) and nan_ok(g, 32, [0x7FA00000] if x & 0x7FFFFFFFFFFFFFFF != 0x7FF8000000000000
                                    else [0x7FC00000]))
    r = lanes(S.f64x2_promote_low_f32x4(a), 64)
    for x, g in zip(lanes(a, 32)[:2], r):
        want = N.f64_promote_f32(F(x))
        if want != want:
            assert nan_ok(g, 64, [0x7FF8000000000000 if x & 0x7FFFFFFF == 0x7FC00000 else 0x7FF4000000000000])
        else:
            assert g == N.f64_to_bits(want)


def test_float_rounding_cases():
    one = 0x3F800000
    a = join([one, 0x7F7FFFFF, 0x00000001, 0x4B800000], 32)
    b = join([0x33800000, 0x7F7FFFFF, 0x3F000000, 0x3F800000], 32)  # 2**-24, max, 0.5, 1
    assert lanes(S.f32x4_add(a, b), 32) == [one, 0x7F800000, 0x3F000000, 0x4B800000]
    assert lanes(S.f32x4_mul(a, b), 32) == [0x33800000, 0x7F800000, 0x00000000, 0x4B800000]
    assert lanes(S.f32x4_div(a, 0), 32) == [0x7F800000] * 4
    assert lanes(S.f32x4_div(0, 0), 32)[0] & 0x7FC00000 == 0x7FC00000
    assert lanes(S.f32x4_convert_i32x4_u(join([16777217, 16777219, 0xFFFFFFFF, 0x80000000], 32)), 32) \
        == [0x4B800000, 0x4B800002, 0x4F800000, 0x4F000000]
    assert lanes(S.f32x4_nearest(join([0x40200000, 0xBF000000, 0x3FC00000, 0x4B000001], 32)), 32) \
        == [0x40000000, 0x80000000, 0x40000000, 0x4B000001]


# --- coverage and templates ----------------------------------------------------------

def test_every_simd_instruction_has_a_function():
    skip = (opcodes.IMM_MEMARG, opcodes.IMM_MEMARG_LANE, opcodes.IMM_V128)
    names = sorted(i.name for i in opcodes.BY_NAME.values()
                   if i.op >= (opcodes.PREFIX_FD << 16) and i.imm not in skip)
    assert names == sorted(S.FUNCTIONS) and len(names) == 213 + 20  # 2.0 SIMD + relaxed SIMD
    for n in names:
        assert getattr(S, n.replace(".", "_")) is S.FUNCTIONS[n]
        assert n in S.INLINE


SAMPLE = {V128: [0, MASK, 0x0123456789ABCDEFFEDCBA9876543210, join([0x7FA00000, 0xFFC00000, 1, 0x80000000], 32)],
          I32: [0, 0x80000000, 7], I64: [0, 2 ** 64 - 1], F32: [0.0, -1.5, N.f32_from_bits(0x7FA00000)],
          F64: [-0.0, 2.5]}


@pytest.mark.parametrize("name", sorted(S.INLINE))
def test_inline_templates(name):
    info = opcodes.BY_NAME[name]
    tpl = S.INLINE[name]
    arity = len(info.params)
    kw = {}
    if info.imm == opcodes.IMM_LANE:
        kw["lane"] = "LANE"
    if info.imm == opcodes.IMM_SHUFFLE:
        kw["lanes"] = "LANES"
    args = ["a%d" % k for k in range(arity)]
    if name not in S.NEEDS_TEMP:
        assert [tpl.count("{%d}" % k) for k in range(arity)] == [1] * arity
        pos = [tpl.index("{%d}" % k) for k in range(arity)]
        assert pos == sorted(pos)
        body = tpl.format(*["%s if True else 0" % a for a in args], **kw)
    else:
        body = tpl.format(*args, **kw)
    ns = dict(S.NAMESPACE)
    exec("def f(%s):\n    return %s\n" % (", ".join(args + ["LANE=0", "LANES=b''"]), body), ns)
    combos = [[]]
    for t in info.params:
        combos = [c + [v] for c in combos for v in SAMPLE[t]]
    fn = S.FUNCTIONS[name]
    for c in combos:
        if info.imm == opcodes.IMM_LANE:
            for lane in (0, info.lanes - 1):
                want = fn(c[0], lane, *c[1:])
                got = ns["f"](*c, LANE=lane)
                assert repr(got) == repr(want) or (got != got and want != want)
        elif info.imm == opcodes.IMM_SHUFFLE:
            lanes_ = bytes(range(31, -1, -2))
            assert ns["f"](*c, LANES=lanes_) == fn(*c, lanes_)
        else:
            assert ns["f"](*c) == fn(*c)


@pytest.mark.parametrize("name", sorted(S.FUNCTIONS))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_results_well_formed(name, data):
    info = opcodes.BY_NAME[name]
    strat = {V128: st.one_of(v128s, f32_vec, f64_vec), I32: st.integers(0, 0xFFFFFFFF),
             I64: st.integers(0, 2 ** 64 - 1), F32: st.integers(0, 0xFFFFFFFF).map(N.f32_from_bits),
             F64: st.integers(0, 2 ** 64 - 1).map(N.f64_from_bits)}
    args = [data.draw(strat[t]) for t in info.params]
    if info.imm == opcodes.IMM_LANE:
        args.insert(1, data.draw(st.integers(0, info.lanes - 1)))
    elif info.imm == opcodes.IMM_SHUFFLE:
        args.append(bytes(data.draw(st.lists(st.integers(0, 31), min_size=16, max_size=16))))
    r = S.FUNCTIONS[name](*args)
    (rt,) = info.results
    if rt == V128:
        assert type(r) is int and 0 <= r <= MASK
    elif rt == I32:
        assert type(r) is int and 0 <= r < 2 ** 32
    elif rt == I64:
        assert type(r) is int and 0 <= r < 2 ** 64
    elif rt == F32:
        assert type(r) is float and (r != r or N.round_f32(r) == r or math.isinf(r))
    else:
        assert type(r) is float
