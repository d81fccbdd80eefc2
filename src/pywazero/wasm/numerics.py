"""Exact WebAssembly scalar numerics, shared by the interpreter and the compiler.

Value representation (fixed project-wide):

* i32 / i64: Python ints holding the *unsigned* bit pattern.
* f64: a Python float.
* f32: a Python float whose value is exactly representable in single precision.
  A f32 NaN with bits ``s | 0x7F800000 | m`` is the double with bits
  ``s << 32 | 0x7FF0000000000000 | m << 29``, so payloads (and signalling NaNs)
  survive; :func:`f32_from_bits` / :func:`f32_to_bits` implement that mapping.

Every numeric instruction ``x.y`` of the table in :mod:`pywazero.wasm.opcodes`
(except constants, memory access and ``nop``) has a function ``x_y`` here taking and
returning values in that representation; traps raise :class:`~pywazero.errors.Trap`.

Notes on the floating-point strategy:

* f64 arithmetic is the host's IEEE double arithmetic.  Python raises on float
  division by zero and in ``math`` functions on NaN / infinities, so those paths are
  handled explicitly.
* f32 ``add``/``sub``/``mul``/``div``/``sqrt`` are computed in double precision and
  then rounded to single precision: double has more than ``2*24 + 2`` bits, so the
  double rounding is innocuous.  Integer -> f32 conversions round straight from the
  integer instead (going through double would round twice).
* NaN results: the host's NaN propagation (quieting the payload of an input NaN, or
  producing the default NaN) always yields a canonical NaN when all NaN inputs were
  canonical and an arithmetic NaN otherwise, which is what the spec asks for.  Paths
  where no host arithmetic touches the NaN quiet it explicitly (:func:`quiet_nan`).

Tables for the engines:

* ``FUNCTIONS``: instruction name -> function.
* ``INLINE``: instruction name -> Python expression template for the code generator,
  e.g. ``'i32.add': '((({0}) + ({1})) & 0xFFFFFFFF)'``.  ``{0}``, ``{1}`` are the
  operands (bottom of the stack first); every placeholder is parenthesized in the
  template, so any expression may be substituted.  Templates that may trap call the
  helper of the same name (``i32_div_s(...)``), at least on their slow path.
* ``NEEDS_TEMP``: instructions whose template mentions an operand more than once.  Bind
  *every* operand of those to a temporary local (in operand order) and substitute the
  names; the template may then evaluate them in any order.  Every other template
  evaluates each operand exactly once, in operand order.
* ``NAMESPACE``: the globals the templates need (helpers, struct methods, and each
  instruction function under its ``x_y`` name); put it in the generated code's globals.
  The f32 arithmetic templates assign the name ``_nt`` (with ``:=``): generated code
  must not use that name itself, nor put such a template in a comprehension's
  iterable (where ``:=`` is not allowed).
"""
from __future__ import annotations

import math
import re
import struct
from typing import Any, Callable, Dict, Tuple

from ..errors import Trap

__all__ = [
    "f32_from_bits", "f32_to_bits", "f64_from_bits", "f64_to_bits", "round_f32",
    "quiet_nan", "INLINE", "NEEDS_TEMP", "NAMESPACE", "FUNCTIONS",
]

# --- bit conversions ---------------------------------------------------------------

_S_F32 = struct.Struct("<f")
_S_U32 = struct.Struct("<I")
_S_F64 = struct.Struct("<d")
_S_U64 = struct.Struct("<Q")
# (typed: what each format unpacks to)
_pack_f32: Callable[[float], bytes] = _S_F32.pack
_unpack_f32: Callable[[bytes], Tuple[float]] = _S_F32.unpack
_pack_u32: Callable[[int], bytes] = _S_U32.pack
_unpack_u32: Callable[[bytes], Tuple[int]] = _S_U32.unpack
_pack_f64: Callable[[float], bytes] = _S_F64.pack
_unpack_f64: Callable[[bytes], Tuple[float]] = _S_F64.unpack
_pack_u64: Callable[[int], bytes] = _S_U64.pack
_unpack_u64: Callable[[bytes], Tuple[int]] = _S_U64.unpack

_copysign = math.copysign
_fabs = math.fabs
_sqrt = math.sqrt
_ceil = math.ceil
_floor = math.floor

_INF = float("inf")
_CANONICAL_NAN = _unpack_f64(_pack_u64(0x7FF8000000000000))[0]
# Smallest double that rounds to infinity in single precision (the midpoint between
# the largest f32 and 2**128; a tie goes to the even neighbour, 2**128).
_F32_LIMIT = 2.0 ** 128 - 2.0 ** 103
_TWO52 = 4503599627370496.0  # from 2**52 up, every double is an integer
_MASK64 = 0xFFFFFFFFFFFFFFFF

_DIV_ZERO = "integer divide by zero"
_OVERFLOW = "integer overflow"
_INVALID = "invalid conversion to integer"


def f64_from_bits(b: int) -> float:
    return _unpack_f64(_pack_u64(b))[0]


def f64_to_bits(x: float) -> int:
    return _unpack_u64(_pack_f64(x))[0]


def f32_from_bits(b: int) -> float:
    if (b & 0x7FFFFFFF) > 0x7F800000:  # NaN: map it by hand (struct may quiet it)
        return _unpack_f64(_pack_u64(
            ((b & 0x80000000) << 32) | 0x7FF0000000000000 | ((b & 0x7FFFFF) << 29)))[0]
    return _unpack_f32(_pack_u32(b))[0]


def _f32_nan_bits(x: float) -> int:
    d = _unpack_u64(_pack_f64(x))[0]
    m = (d >> 29) & 0x7FFFFF
    return ((d >> 32) & 0x80000000) | 0x7F800000 | (m if m else 0x400000)


def f32_to_bits(x: float) -> int:
    if x == x:
        try:
            return _unpack_u32(_pack_f32(x))[0]
        except OverflowError:  # not a f32 value at all; treat as having rounded
            return 0x7F800000 if x > 0 else 0xFF800000
    return _f32_nan_bits(x)


def _nan_to_f32(x: float) -> float:
    """A NaN double as the mapped f32 NaN (sign and top payload bits kept)."""
    d = _unpack_u64(_pack_f64(x))[0]
    m = d & 0x000FFFFFE0000000
    return _unpack_f64(_pack_u64((d & 0xFFF0000000000000) | (m if m else 0x0008000000000000)))[0]


def round_f32(x: float) -> float:
    """Round a double to the nearest single-precision value (ties to even)."""
    if -_F32_LIMIT < x < _F32_LIMIT:
        return _unpack_f32(_pack_f32(x))[0]
    if x == x:
        return _copysign(_INF, x)
    return _nan_to_f32(x)


def quiet_nan(x: float) -> float:
    """``x`` (a NaN, f64 or mapped f32) with the quiet bit set."""
    return _unpack_f64(_pack_u64(_unpack_u64(_pack_f64(x))[0] | 0x0008000000000000))[0]


# --- i32 -----------------------------------------------------------------------------

def i32_eqz(a: int) -> int:
    return 0 if a else 1


def i32_eq(a: int, b: int) -> int:
    return 1 if a == b else 0


def i32_ne(a: int, b: int) -> int:
    return 1 if a != b else 0


def i32_lt_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) < (b ^ 0x80000000) else 0


def i32_lt_u(a: int, b: int) -> int:
    return 1 if a < b else 0


def i32_gt_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) > (b ^ 0x80000000) else 0


def i32_gt_u(a: int, b: int) -> int:
    return 1 if a > b else 0


def i32_le_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) <= (b ^ 0x80000000) else 0


def i32_le_u(a: int, b: int) -> int:
    return 1 if a <= b else 0


def i32_ge_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) >= (b ^ 0x80000000) else 0


def i32_ge_u(a: int, b: int) -> int:
    return 1 if a >= b else 0


def i32_clz(a: int) -> int:
    return 32 - a.bit_length()


def i32_ctz(a: int) -> int:
    a |= 0x100000000
    return (a & -a).bit_length() - 1


if hasattr(int, "bit_count"):  # Python 3.10+
    def i32_popcnt(a: int) -> int:
        return a.bit_count()
else:  # pragma: no cover - Python 3.9
    def i32_popcnt(a: int) -> int:
        return bin(a).count("1")


def i32_add(a: int, b: int) -> int:
    return (a + b) & 0xFFFFFFFF


def i32_sub(a: int, b: int) -> int:
    return (a - b) & 0xFFFFFFFF


def i32_mul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFF


def i32_div_s(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    if a & 0x80000000:
        if b & 0x80000000:
            if a == 0x80000000 and b == 0xFFFFFFFF:
                raise Trap(_OVERFLOW)
            return (0x100000000 - a) // (0x100000000 - b)
        return -((0x100000000 - a) // b) & 0xFFFFFFFF
    if b & 0x80000000:
        return -(a // (0x100000000 - b)) & 0xFFFFFFFF
    return a // b


def i32_div_u(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    return a // b


def i32_rem_s(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    if b & 0x80000000:
        b = 0x100000000 - b
    if a & 0x80000000:
        return -((0x100000000 - a) % b) & 0xFFFFFFFF
    return a % b


def i32_rem_u(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    return a % b


def i32_and(a: int, b: int) -> int:
    return a & b


def i32_or(a: int, b: int) -> int:
    return a | b


def i32_xor(a: int, b: int) -> int:
    return a ^ b


def i32_shl(a: int, b: int) -> int:
    return (a << (b & 31)) & 0xFFFFFFFF


def i32_shr_s(a: int, b: int) -> int:
    return (((a ^ 0x80000000) - 0x80000000) >> (b & 31)) & 0xFFFFFFFF


def i32_shr_u(a: int, b: int) -> int:
    return a >> (b & 31)


def i32_rotl(a: int, b: int) -> int:
    b &= 31
    return ((a << b) | (a >> (32 - b))) & 0xFFFFFFFF


def i32_rotr(a: int, b: int) -> int:
    b &= 31
    return ((a >> b) | (a << (32 - b))) & 0xFFFFFFFF


def i32_extend8_s(a: int) -> int:
    return (((a & 0xFF) ^ 0x80) - 0x80) & 0xFFFFFFFF


def i32_extend16_s(a: int) -> int:
    return (((a & 0xFFFF) ^ 0x8000) - 0x8000) & 0xFFFFFFFF


def i32_wrap_i64(a: int) -> int:
    return a & 0xFFFFFFFF


# --- i64 -----------------------------------------------------------------------------

_B63 = 0x8000000000000000
_B64 = 0x10000000000000000


def i64_eqz(a: int) -> int:
    return 0 if a else 1


def i64_eq(a: int, b: int) -> int:
    return 1 if a == b else 0


def i64_ne(a: int, b: int) -> int:
    return 1 if a != b else 0


def i64_lt_s(a: int, b: int) -> int:
    return 1 if (a ^ _B63) < (b ^ _B63) else 0


def i64_lt_u(a: int, b: int) -> int:
    return 1 if a < b else 0


def i64_gt_s(a: int, b: int) -> int:
    return 1 if (a ^ _B63) > (b ^ _B63) else 0


def i64_gt_u(a: int, b: int) -> int:
    return 1 if a > b else 0


def i64_le_s(a: int, b: int) -> int:
    return 1 if (a ^ _B63) <= (b ^ _B63) else 0


def i64_le_u(a: int, b: int) -> int:
    return 1 if a <= b else 0


def i64_ge_s(a: int, b: int) -> int:
    return 1 if (a ^ _B63) >= (b ^ _B63) else 0


def i64_ge_u(a: int, b: int) -> int:
    return 1 if a >= b else 0


def i64_clz(a: int) -> int:
    return 64 - a.bit_length()


def i64_ctz(a: int) -> int:
    a |= _B64
    return (a & -a).bit_length() - 1


i64_popcnt = i32_popcnt


def i64_add(a: int, b: int) -> int:
    return (a + b) & 0xFFFFFFFFFFFFFFFF


def i64_sub(a: int, b: int) -> int:
    return (a - b) & 0xFFFFFFFFFFFFFFFF


def i64_mul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFFFFFFFFFF


def i64_div_s(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    if a & _B63:
        if b & _B63:
            if a == _B63 and b == _MASK64:
                raise Trap(_OVERFLOW)
            return (_B64 - a) // (_B64 - b)
        return -((_B64 - a) // b) & 0xFFFFFFFFFFFFFFFF
    if b & _B63:
        return -(a // (_B64 - b)) & 0xFFFFFFFFFFFFFFFF
    return a // b


def i64_div_u(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    return a // b


def i64_rem_s(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    if b & _B63:
        b = _B64 - b
    if a & _B63:
        return -((_B64 - a) % b) & 0xFFFFFFFFFFFFFFFF
    return a % b


def i64_rem_u(a: int, b: int) -> int:
    if not b:
        raise Trap(_DIV_ZERO)
    return a % b


def i64_and(a: int, b: int) -> int:
    return a & b


def i64_or(a: int, b: int) -> int:
    return a | b


def i64_xor(a: int, b: int) -> int:
    return a ^ b


def i64_shl(a: int, b: int) -> int:
    return (a << (b & 63)) & 0xFFFFFFFFFFFFFFFF


def i64_shr_s(a: int, b: int) -> int:
    return (((a ^ _B63) - _B63) >> (b & 63)) & 0xFFFFFFFFFFFFFFFF


def i64_shr_u(a: int, b: int) -> int:
    return a >> (b & 63)


def i64_rotl(a: int, b: int) -> int:
    b &= 63
    return ((a << b) | (a >> (64 - b))) & 0xFFFFFFFFFFFFFFFF


def i64_rotr(a: int, b: int) -> int:
    b &= 63
    return ((a >> b) | (a << (64 - b))) & 0xFFFFFFFFFFFFFFFF


def i64_extend8_s(a: int) -> int:
    return (((a & 0xFF) ^ 0x80) - 0x80) & 0xFFFFFFFFFFFFFFFF


def i64_extend16_s(a: int) -> int:
    return (((a & 0xFFFF) ^ 0x8000) - 0x8000) & 0xFFFFFFFFFFFFFFFF


def i64_extend32_s(a: int) -> int:
    return (((a & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF


def i64_extend_i32_s(a: int) -> int:
    return ((a ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF


def i64_extend_i32_u(a: int) -> int:
    return a


# --- floating point: shared by f32 and f64 -------------------------------------------
# Functions whose result is one of the inputs, or an integral value of an input, keep
# single-precision values single-precision, so f32 and f64 share them.

def f64_eq(a: float, b: float) -> int:
    return 1 if a == b else 0


def f64_ne(a: float, b: float) -> int:
    return 1 if a != b else 0


def f64_lt(a: float, b: float) -> int:
    return 1 if a < b else 0


def f64_gt(a: float, b: float) -> int:
    return 1 if a > b else 0


def f64_le(a: float, b: float) -> int:
    return 1 if a <= b else 0


def f64_ge(a: float, b: float) -> int:
    return 1 if a >= b else 0


f64_abs = _fabs
f64_copysign = _copysign


def f64_neg(x: float) -> float:
    return -x


def f64_min(a: float, b: float) -> float:
    if a < b:
        return a
    if b < a:
        return b
    if a == b:
        # Equal: only the zeros need care, and min(-0, +0) is -0.
        return a if a else -(-a - b)
    return a + b  # a NaN: the host propagates it quietly


def f64_max(a: float, b: float) -> float:
    if a > b:
        return a
    if b > a:
        return b
    if a == b:
        return a if a else a + b  # max(-0, +0) is +0
    return a + b


def f64_ceil(x: float) -> float:
    if -_TWO52 < x < _TWO52:
        return _copysign(float(_ceil(x)), x)
    return x if x == x else quiet_nan(x)


def f64_floor(x: float) -> float:
    if -_TWO52 < x < _TWO52:
        return _copysign(float(_floor(x)), x)
    return x if x == x else quiet_nan(x)


def f64_trunc(x: float) -> float:
    if -_TWO52 < x < _TWO52:
        return _copysign(float(int(x)), x)
    return x if x == x else quiet_nan(x)


def f64_nearest(x: float) -> float:
    if -_TWO52 < x < _TWO52:
        # round() of a float rounds half to even.
        return _copysign(float(round(x)), x)
    return x if x == x else quiet_nan(x)


def f64_sqrt(x: float) -> float:
    if x >= 0.0:  # includes -0.0 (whose root is -0.0) and +inf
        return _sqrt(x)
    if x == x:
        return _CANONICAL_NAN
    return quiet_nan(x)


def f64_add(a: float, b: float) -> float:
    return a + b


def f64_sub(a: float, b: float) -> float:
    return a - b


def f64_mul(a: float, b: float) -> float:
    return a * b


def f64_div(a: float, b: float) -> float:
    if b:
        return a / b
    # Division by a zero: +-inf, or a NaN for 0/0 and NaN/0 (the host's
    # multiplication gets the sign and the NaN right).
    return a * _copysign(_INF, b)


f32_eq = f64_eq
f32_ne = f64_ne
f32_lt = f64_lt
f32_gt = f64_gt
f32_le = f64_le
f32_ge = f64_ge
f32_abs = f64_abs
f32_neg = f64_neg
f32_copysign = f64_copysign
f32_min = f64_min
f32_max = f64_max
f32_ceil = f64_ceil
f32_floor = f64_floor
f32_trunc = f64_trunc
f32_nearest = f64_nearest


# --- f32 arithmetic (rounded to single precision) --------------------------------------

def f32_add(a: float, b: float) -> float:
    r = a + b
    if -_F32_LIMIT < r < _F32_LIMIT:
        return _unpack_f32(_pack_f32(r))[0]
    return r * 1e300  # +-inf stays, too large becomes +-inf, a NaN propagates


def f32_sub(a: float, b: float) -> float:
    r = a - b
    if -_F32_LIMIT < r < _F32_LIMIT:
        return _unpack_f32(_pack_f32(r))[0]
    return r * 1e300


def f32_mul(a: float, b: float) -> float:
    r = a * b
    if -_F32_LIMIT < r < _F32_LIMIT:
        return _unpack_f32(_pack_f32(r))[0]
    return r * 1e300


def f32_div(a: float, b: float) -> float:
    if not b:
        return a * _copysign(_INF, b)
    r = a / b
    if -_F32_LIMIT < r < _F32_LIMIT:
        return _unpack_f32(_pack_f32(r))[0]
    return r * 1e300


def f32_sqrt(x: float) -> float:
    if x >= 0.0:
        return _unpack_f32(_pack_f32(_sqrt(x)))[0]
    if x == x:
        return _CANONICAL_NAN
    return quiet_nan(x)


# --- conversions -------------------------------------------------------------------

def i32_trunc_f64_s(x: float) -> int:
    if -2147483649.0 < x < 2147483648.0:
        return int(x) & 0xFFFFFFFF
    raise Trap(_OVERFLOW if x == x else _INVALID)


def i32_trunc_f64_u(x: float) -> int:
    if -1.0 < x < 4294967296.0:
        return int(x)
    raise Trap(_OVERFLOW if x == x else _INVALID)


def i64_trunc_f64_s(x: float) -> int:
    if -9223372036854775808.0 <= x < 9223372036854775808.0:
        return int(x) & 0xFFFFFFFFFFFFFFFF
    raise Trap(_OVERFLOW if x == x else _INVALID)


def i64_trunc_f64_u(x: float) -> int:
    if -1.0 < x < 18446744073709551616.0:
        return int(x)
    raise Trap(_OVERFLOW if x == x else _INVALID)


def i32_trunc_sat_f64_s(x: float) -> int:
    if -2147483649.0 < x < 2147483648.0:
        return int(x) & 0xFFFFFFFF
    if x != x:
        return 0
    return 0x7FFFFFFF if x > 0.0 else 0x80000000


def i32_trunc_sat_f64_u(x: float) -> int:
    if -1.0 < x < 4294967296.0:
        return int(x)
    if x > 0.0:
        return 0xFFFFFFFF
    return 0


def i64_trunc_sat_f64_s(x: float) -> int:
    if -9223372036854775808.0 <= x < 9223372036854775808.0:
        return int(x) & 0xFFFFFFFFFFFFFFFF
    if x != x:
        return 0
    return 0x7FFFFFFFFFFFFFFF if x > 0.0 else 0x8000000000000000


def i64_trunc_sat_f64_u(x: float) -> int:
    if -1.0 < x < 18446744073709551616.0:
        return int(x)
    if x > 0.0:
        return 0xFFFFFFFFFFFFFFFF
    return 0


i32_trunc_f32_s = i32_trunc_f64_s
i32_trunc_f32_u = i32_trunc_f64_u
i64_trunc_f32_s = i64_trunc_f64_s
i64_trunc_f32_u = i64_trunc_f64_u
i32_trunc_sat_f32_s = i32_trunc_sat_f64_s
i32_trunc_sat_f32_u = i32_trunc_sat_f64_u
i64_trunc_sat_f32_s = i64_trunc_sat_f64_s
i64_trunc_sat_f32_u = i64_trunc_sat_f64_u


def _round_int(n: int, bits: int) -> float:
    """``n > 0`` rounded (ties to even) to ``bits`` significant bits, as a float."""
    s = n.bit_length() - bits
    if s <= 0:
        return float(n)
    q = n >> s
    r = n - (q << s)
    h = 1 << (s - 1)
    if r > h or (r == h and q & 1):
        q += 1
    return float(q << s)  # at most 54 bits of which the low ones are zero: exact


def f32_convert_i32_s(a: int) -> float:
    # An i32 is exact as a double, so a single rounding to f32 happens here.
    return _unpack_f32(_pack_f32(float((a ^ 0x80000000) - 0x80000000)))[0]


def f32_convert_i32_u(a: int) -> float:
    return _unpack_f32(_pack_f32(float(a)))[0]


def f32_convert_i64_u(a: int) -> float:
    if a < 0x20000000000000:  # exact as a double: round once, from there
        return _unpack_f32(_pack_f32(float(a)))[0]
    return _round_int(a, 24)


def f32_convert_i64_s(a: int) -> float:
    if a < 0x20000000000000:
        return _unpack_f32(_pack_f32(float(a)))[0]
    if a & _B63:
        a = _B64 - a
        if a < 0x20000000000000:
            return -_unpack_f32(_pack_f32(float(a)))[0]
        return -_round_int(a, 24)
    return _round_int(a, 24)


def f64_convert_i32_s(a: int) -> float:
    return float((a ^ 0x80000000) - 0x80000000)


def f64_convert_i32_u(a: int) -> float:
    return float(a)


def f64_convert_i64_u(a: int) -> float:
    if a < 0x20000000000000:
        return float(a)
    return _round_int(a, 53)


def f64_convert_i64_s(a: int) -> float:
    if a < 0x20000000000000:
        return float(a)
    if a & _B63:
        a = _B64 - a
        if a < 0x20000000000000:
            return -float(a)
        return -_round_int(a, 53)
    return _round_int(a, 53)


def f32_demote_f64(x: float) -> float:
    if -_F32_LIMIT < x < _F32_LIMIT:
        return _unpack_f32(_pack_f32(x))[0]
    if x == x:
        return _copysign(_INF, x)
    # A NaN: keep the sign and the top payload bits, and make it quiet.
    return _unpack_f64(_pack_u64(
        (_unpack_u64(_pack_f64(x))[0] | 0x0008000000000000) & 0xFFFFFFFFE0000000))[0]


def f64_promote_f32(x: float) -> float:
    return x if x == x else quiet_nan(x)


i32_reinterpret_f32 = f32_to_bits
f32_reinterpret_i32 = f32_from_bits
i64_reinterpret_f64 = f64_to_bits
f64_reinterpret_i64 = f64_from_bits


# --- tables for the engines ----------------------------------------------------------

def _collect() -> Dict[str, Callable[..., Any]]:
    from . import opcodes

    out = {}
    g = globals()
    for info in opcodes.BY_NAME.values():
        name = info.name
        if info.params is None or info.op >= (opcodes.PREFIX_FD << 16):
            continue
        if name.endswith(".const") or name == "nop" or info.imm != opcodes.IMM_NONE:
            continue
        out[name] = g[name.replace(".", "_")]
    return out


#: instruction name -> function, for every scalar numeric instruction.
FUNCTIONS = _collect()

_M32 = "0xFFFFFFFF"
_M64 = "0xFFFFFFFFFFFFFFFF"
_POPCNT = "({0}).bit_count()" if hasattr(int, "bit_count") else 'bin({0}).count("1")'

INLINE: Dict[str, str] = {}


def _inline_int(t: str, mask: str, bits: int, sign: str) -> None:
    shift = str(bits - 1)
    sx0 = f"(({{0}} ^ {sign}) - {sign})"
    INLINE.update({
        f"{t}.eqz": "(0 if {0} else 1)",
        f"{t}.eq": "(1 if {0} == {1} else 0)",
        f"{t}.ne": "(1 if {0} != {1} else 0)",
        f"{t}.lt_u": "(1 if {0} < {1} else 0)",
        f"{t}.gt_u": "(1 if {0} > {1} else 0)",
        f"{t}.le_u": "(1 if {0} <= {1} else 0)",
        f"{t}.ge_u": "(1 if {0} >= {1} else 0)",
        f"{t}.lt_s": f"(1 if ({{0}} ^ {sign}) < ({{1}} ^ {sign}) else 0)",
        f"{t}.gt_s": f"(1 if ({{0}} ^ {sign}) > ({{1}} ^ {sign}) else 0)",
        f"{t}.le_s": f"(1 if ({{0}} ^ {sign}) <= ({{1}} ^ {sign}) else 0)",
        f"{t}.ge_s": f"(1 if ({{0}} ^ {sign}) >= ({{1}} ^ {sign}) else 0)",
        f"{t}.clz": f"({bits} - ({{0}}).bit_length())",
        f"{t}.ctz": f"((({{0}} | {1 << bits:#x}) & -({{0}} | {1 << bits:#x})).bit_length() - 1)",
        f"{t}.popcnt": _POPCNT,
        f"{t}.add": f"(({{0}} + {{1}}) & {mask})",
        f"{t}.sub": f"(({{0}} - {{1}}) & {mask})",
        f"{t}.mul": f"(({{0}} * {{1}}) & {mask})",
        f"{t}.and": "({0} & {1})",
        f"{t}.or": "({0} | {1})",
        f"{t}.xor": "({0} ^ {1})",
        f"{t}.shl": f"(({{0}} << ({{1}} & {shift})) & {mask})",
        f"{t}.shr_s": f"(({sx0} >> ({{1}} & {shift})) & {mask})",
        f"{t}.shr_u": f"({{0}} >> ({{1}} & {shift}))",
        f"{t}.rotl": f"((({{0}} << ({{1}} & {shift})) | ({{0}} >> ({bits} - ({{1}} & {shift})))) & {mask})",
        f"{t}.rotr": f"((({{0}} >> ({{1}} & {shift})) | ({{0}} << ({bits} - ({{1}} & {shift})))) & {mask})",
        f"{t}.extend8_s": f"(((({{0}} & 0xFF) ^ 0x80) - 0x80) & {mask})",
        f"{t}.extend16_s": f"(((({{0}} & 0xFFFF) ^ 0x8000) - 0x8000) & {mask})",
    })


_inline_int("i32", _M32, 32, "0x80000000")
_inline_int("i64", _M64, 64, "0x8000000000000000")
INLINE["i64.extend32_s"] = f"(((({{0}} & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) & {_M64})"
INLINE["i32.wrap_i64"] = f"({{0}} & {_M32})"
INLINE["i64.extend_i32_s"] = f"((({{0}} ^ 0x80000000) - 0x80000000) & {_M64})"
INLINE["i64.extend_i32_u"] = "({0})"

for _t in ("f32", "f64"):
    INLINE.update({
        f"{_t}.eq": "(1 if {0} == {1} else 0)",
        f"{_t}.ne": "(1 if {0} != {1} else 0)",
        f"{_t}.lt": "(1 if {0} < {1} else 0)",
        f"{_t}.gt": "(1 if {0} > {1} else 0)",
        f"{_t}.le": "(1 if {0} <= {1} else 0)",
        f"{_t}.ge": "(1 if {0} >= {1} else 0)",
        f"{_t}.abs": "_fabs({0})",
        f"{_t}.neg": "(-{0})",
        f"{_t}.copysign": "_copysign({0}, {1})",
    })
INLINE.update({
    "f64.add": "({0} + {1})",
    "f64.sub": "({0} - {1})",
    "f64.mul": "({0} * {1})",
    "f64.convert_i32_s": "float(({0} ^ 0x80000000) - 0x80000000)",
    "f64.convert_i32_u": "float({0})",
    "f32.convert_i32_s": "_unpack_f32(_pack_f32(float(({0} ^ 0x80000000) - 0x80000000)))[0]",
    "f32.convert_i32_u": "_unpack_f32(_pack_f32(float({0})))[0]",
    "f64.reinterpret_i64": "_unpack_f64(_pack_u64({0}))[0]",
    "i64.reinterpret_f64": "_unpack_u64(_pack_f64({0}))[0]",
    "f64.promote_f32": "({0} if {0} == {0} else quiet_nan({0}))",
    "f32.reinterpret_i32":
        "(_unpack_f32(_pack_u32({0}))[0] if ({0} & 0x7FFFFFFF) <= 0x7F800000 else f32_from_bits({0}))",
    "i32.reinterpret_f32": "(_unpack_u32(_pack_f32({0}))[0] if {0} == {0} else f32_to_bits({0}))",
    "f64.div": "({0} / {1} if {1} else f64_div({0}, {1}))",
    "f32.sqrt": "(_unpack_f32(_pack_f32(_sqrt({0})))[0] if {0} >= 0.0 else f32_sqrt({0}))",
    "f64.sqrt": "(_sqrt({0}) if {0} >= 0.0 else f64_sqrt({0}))",
    "f64.convert_i64_u": "(float({0}) if {0} < 0x20000000000000 else f64_convert_i64_u({0}))",
    "f32.convert_i64_u":
        "(_unpack_f32(_pack_f32(float({0})))[0] if {0} < 0x20000000000000 else f32_convert_i64_u({0}))",
    "f64.convert_i64_s": "(float({0}) if {0} < 0x20000000000000 else f64_convert_i64_s({0}))",
    "f32.convert_i64_s":
        "(_unpack_f32(_pack_f32(float({0})))[0] if {0} < 0x20000000000000 else f32_convert_i64_s({0}))",
})
# f32 arithmetic: compute in double, keep it in the local "_nt", round it to single.
_LIM = repr(_F32_LIMIT)
_F32_ROUND = ("(_unpack_f32(_pack_f32(_nt))[0] if -%s < (_nt := {0} %%s {1}) < %s else _nt * 1e300)"
              % (_LIM, _LIM))
for _t, _op in (("add", "+"), ("sub", "-"), ("mul", "*")):
    INLINE["f32." + _t] = _F32_ROUND % _op
INLINE["f32.div"] = ("(f32_div({0}, {1}) if not {1} else (_unpack_f32(_pack_f32(_nt))[0] "
                     "if -%s < (_nt := {0} / {1}) < %s else _nt * 1e300))" % (_LIM, _LIM))
INLINE["f32.demote_f64"] = ("(_unpack_f32(_pack_f32({0}))[0] if -%s < {0} < %s else f32_demote_f64({0}))"
                            % (_LIM, _LIM))
for _t in ("f32", "f64"):
    INLINE[_t + ".min"] = "({0} if {0} < {1} else {1} if {1} < {0} else %s_min({0}, {1}))" % _t
    INLINE[_t + ".max"] = "({0} if {0} > {1} else {1} if {1} > {0} else %s_max({0}, {1}))" % _t
    for _op, _fn in (("ceil", "_ceil"), ("floor", "_floor"), ("trunc", "int"), ("nearest", "round")):
        INLINE["%s.%s" % (_t, _op)] = (
            "(_copysign(float(%s({0})), {0}) if -4503599627370496.0 < {0} < 4503599627370496.0 "
            "else %s_%s({0}))" % (_fn, _t, _op))
_TRUNC_LIMITS = {
    "i32_s": ("-2147483649.0 < {0} < 2147483648.0", "& 0xFFFFFFFF"),
    "i32_u": ("-1.0 < {0} < 4294967296.0", ""),
    "i64_s": ("-9223372036854775808.0 <= {0} < 9223372036854775808.0", "& 0xFFFFFFFFFFFFFFFF"),
    "i64_u": ("-1.0 < {0} < 18446744073709551616.0", ""),
}
for _t in ("i32", "i64"):
    for _sx in ("s", "u"):
        _cond, _mask = _TRUNC_LIMITS[_t + "_" + _sx]
        for _f in ("f32", "f64"):
            for _sat in ("", "sat_"):
                _n = "%s.trunc_%s%s_%s" % (_t, _sat, _f, _sx)
                INLINE[_n] = "(int({0}) %s if %s else %s({0}))" % (_mask, _cond, _n.replace(".", "_"))
    _sign = "0x80000000" if _t == "i32" else "0x8000000000000000"
    # The common case (no trap, non-negative operands) inline, the rest in the helper.
    INLINE[_t + ".div_u"] = "({0} // {1} if {1} else %s_div_u({0}, {1}))" % _t
    INLINE[_t + ".rem_u"] = "({0} %% {1} if {1} else %s_rem_u({0}, {1}))" % _t
    INLINE[_t + ".div_s"] = ("({0} // {1} if {0} < %s and 0 < {1} < %s else %s_div_s({0}, {1}))"
                             % (_sign, _sign, _t))
    INLINE[_t + ".rem_s"] = ("({0} %% {1} if {0} < %s and 0 < {1} < %s else %s_rem_s({0}, {1}))"
                             % (_sign, _sign, _t))


def _calls() -> None:
    from .opcodes import BY_NAME

    for name in FUNCTIONS:
        if name not in INLINE:
            args = ", ".join("{%d}" % k for k in range(len(BY_NAME[name].params)))  # type: ignore[arg-type]
            INLINE[name] = "%s(%s)" % (name.replace(".", "_"), args)


_calls()

# Operands may be any expression: parenthesize every placeholder.
for _name in INLINE:
    INLINE[_name] = re.sub(r"\{(\d)\}", r"({\1})", INLINE[_name])

#: instructions whose template mentions an operand more than once
NEEDS_TEMP = frozenset(n for n, tpl in INLINE.items() if any(tpl.count("{%d}" % k) > 1 for k in range(3)))

#: the globals the INLINE templates need (also every instruction function by name)
NAMESPACE: Dict[str, Callable[..., Any]] = {
    "_fabs": _fabs, "_copysign": _copysign, "_sqrt": _sqrt, "_ceil": _ceil, "_floor": _floor,
    "_pack_u32": _pack_u32, "_unpack_u32": _unpack_u32,
    "_pack_f32": _pack_f32, "_unpack_f32": _unpack_f32,
    "_pack_f64": _pack_f64, "_unpack_f64": _unpack_f64,
    "_pack_u64": _pack_u64, "_unpack_u64": _unpack_u64,
    "quiet_nan": quiet_nan, "round_f32": round_f32,
    "f32_from_bits": f32_from_bits, "f32_to_bits": f32_to_bits,
    "f64_from_bits": f64_from_bits, "f64_to_bits": f64_to_bits,
}
for _fname, _func in FUNCTIONS.items():
    NAMESPACE[_fname.replace(".", "_")] = _func
