"""Numeric literals of the WebAssembly text format (spec section "Text / Values").

Every function takes the literal's text exactly as the lexer produced it and either
returns its value or raises :class:`ValueError` whose message is the reason in the
words the spec tests use: ``"unknown operator"`` for text that is not a literal of
the expected kind, ``"constant out of range"`` for a literal that is well formed but
does not fit.  Callers turn that into a :class:`~pywazero.errors.DecodeError` that
names the position.

* :func:`parse_int` reads an uninterpreted integer (``iN``: signed or unsigned form)
  and returns its unsigned bit pattern.
* :func:`parse_uint` reads an unsigned integer (``uN``), as used for indices,
  offsets, alignments and lane indices.
* :func:`parse_f32_bits` / :func:`parse_f64_bits` read a float literal and return
  its raw IEEE-754 bits.  Rounding is round-to-nearest, ties-to-even, computed
  exactly from the literal (never through an intermediate double for f32).

>>> hex(parse_int("-1", 32)), parse_uint("0x1_0", 32)
('0xffffffff', 16)
>>> hex(parse_f32_bits("0x1.fffffep127")), hex(parse_f64_bits("-nan:0x1"))
('0x7f7fffff', '0xfff0000000000001')
"""
from __future__ import annotations

import re
import struct
from typing import Tuple

__all__ = ["parse_int", "parse_uint", "parse_f32_bits", "parse_f64_bits"]

_MALFORMED = "unknown operator"
_RANGE = "constant out of range"

_DEC = r"[0-9](?:_?[0-9])*"
_HEX = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"

_INT_RE = re.compile(r"([+-]?)(?:0x(%s)|(%s))\Z" % (_HEX, _DEC))
_UINT_RE = re.compile(r"(?:0x(%s)|(%s))\Z" % (_HEX, _DEC))
_DEC_FLOAT_RE = re.compile(r"(%s)(?:\.(%s)?)?(?:[eE]([+-]?%s))?\Z" % (_DEC, _DEC, _DEC))
_HEX_FLOAT_RE = re.compile(r"0x(%s)(?:\.(%s)?)?(?:[pP]([+-]?%s))?\Z" % (_HEX, _HEX, _DEC))
_NAN_PAYLOAD_RE = re.compile(r"nan:0x(%s)\Z" % _HEX)

# Significant digits kept from a decimal mantissa.  Any value halfway between two
# doubles has at most 767 significant decimal digits, so 800 digits plus a "sticky"
# digit standing for whatever follows decides the rounding exactly.
_MAX_DEC_DIGITS = 800
# Hex digits kept from a hexadecimal mantissa (plus a sticky digit): far more bits
# than any halfway value between two doubles needs.
_MAX_HEX_DIGITS = 300


def _digits_value(digits: str, base: int) -> int:
    return int(digits, base) if digits else 0


# --- integers ------------------------------------------------------------------

def parse_int(text: str, bits: int) -> int:
    """The value of an ``iN`` literal (``N == bits``) as an unsigned bit pattern.

    Accepts ``uN`` (no sign, ``0 <= n < 2**N``) and ``sN`` (explicit sign,
    ``-2**(N-1) <= n < 2**(N-1)``) forms, decimal or ``0x`` hexadecimal, with single
    underscores between digits.

    >>> parse_int("0xffff_ffff", 32), parse_int("-0x8000_0000", 32)
    (4294967295, 2147483648)
    """
    if text.isdigit() and text.isascii():
        v = _plain_decimal(text)
        if v >> bits:
            raise ValueError(_RANGE)
        return v
    m = _INT_RE.match(text)
    if m is None:
        raise ValueError(_MALFORMED)
    sign, hx, dec = m.groups()
    v = _magnitude(hx, dec)
    if sign == "-":
        if v > 1 << (bits - 1):
            raise ValueError(_RANGE)
        return -v & ((1 << bits) - 1)
    if sign == "+":
        if v >= 1 << (bits - 1):
            raise ValueError(_RANGE)
        return v
    if v >> bits:
        raise ValueError(_RANGE)
    return v


def _plain_decimal(text: str) -> int:
    """The value of a run of ASCII digits; far too many digits is out of range
    (and would make ``int`` slow)."""
    if len(text) > 40:
        text = text.lstrip("0") or "0"
        if len(text) > 40:
            raise ValueError(_RANGE)
    return int(text)


def _magnitude(hx: "str | None", dec: "str | None") -> int:
    """The value of the hex or decimal digits (with underscores) a literal matched."""
    if hx is not None:
        digits, base = hx.replace("_", "").lstrip("0"), 16
    else:
        digits, base = dec.replace("_", "").lstrip("0"), 10  # type: ignore[union-attr]
    if len(digits) > 40:
        raise ValueError(_RANGE)
    return _digits_value(digits, base)


def parse_uint(text: str, bits: int) -> int:
    """The value of a ``uN`` literal: no sign; decimal or ``0x`` hexadecimal.

    >>> parse_uint("4_096", 32)
    4096
    """
    if text.isdigit() and text.isascii():
        v = _plain_decimal(text)
    else:
        m = _UINT_RE.match(text)
        if m is None:
            raise ValueError(_MALFORMED)
        v = _magnitude(*m.groups())
    if v >> bits:
        raise ValueError(_RANGE)
    return v


# --- floats --------------------------------------------------------------------

class _Format:
    __slots__ = ("mant_bits", "exp_bits", "emin", "emax", "bias", "sign_bit",
                 "exp_mask", "canonical_nan", "max_log10", "min_log10", "max_log2", "min_log2")

    def __init__(self, mant_bits: int, exp_bits: int) -> None:
        self.mant_bits = mant_bits
        self.exp_bits = exp_bits
        self.bias = (1 << (exp_bits - 1)) - 1
        self.emax = self.bias
        self.emin = 1 - self.bias
        self.sign_bit = 1 << (mant_bits + exp_bits)
        self.exp_mask = ((1 << exp_bits) - 1) << mant_bits
        self.canonical_nan = self.exp_mask | (1 << (mant_bits - 1))
        # Literal magnitudes beyond these bounds certainly overflow / round to zero.
        self.max_log2 = self.emax + 2
        self.min_log2 = self.emin - mant_bits - 2
        self.max_log10 = self.max_log2 * 30103 // 100000 + 2
        self.min_log10 = self.min_log2 * 30103 // 100000 - 2


_F32 = _Format(23, 8)
_F64 = _Format(52, 11)


def _round(num: int, den: int, fmt: _Format) -> Tuple[int, bool]:
    """Round the positive rational ``num/den`` to ``fmt`` (nearest, ties to even).

    Returns ``(bits, tie)`` where ``bits`` is the magnitude's encoding and ``tie`` says
    the value was exactly halfway between two neighbours.  Raises ValueError when the
    rounded value is not finite.
    """
    mant_bits = fmt.mant_bits
    e = num.bit_length() - den.bit_length()
    # Make 2**e <= num/den < 2**(e+1).
    if e >= 0:
        if num < den << e:
            e -= 1
    elif num << -e < den:
        e -= 1
    if e < fmt.emin:
        e = fmt.emin  # subnormal: the quantum stays 2**(emin - mant_bits)
    shift = mant_bits - e
    if shift >= 0:
        q, r = divmod(num << shift, den)
    else:
        q, r = divmod(num, den << -shift)
        den = den << -shift
    r2 = r << 1
    tie = r2 == den
    if r2 > den or (tie and q & 1):
        q += 1
        if q >> (mant_bits + 1):
            q >>= 1
            e += 1
    if e > fmt.emax:
        raise ValueError(_RANGE)
    if q >> mant_bits:
        return ((e + fmt.bias) << mant_bits) | (q - (1 << mant_bits)), tie
    return q, tie  # subnormal (or zero)


def _exponent(exp: str) -> int:
    """The value of an exponent's digits (with sign and underscores), clamped far
    beyond any finite float so that absurd exponents cost nothing."""
    if not exp:
        return 0
    estr = exp.replace("_", "")
    neg = estr[0] == "-"
    estr = estr.lstrip("+-").lstrip("0")
    ev = 10 ** 12 if len(estr) > 12 else (int(estr) if estr else 0)
    return -ev if neg else ev


def _decimal_magnitude(intpart: str, frac: str, exp: str, fmt: _Format) -> int:
    digits = (intpart + frac).replace("_", "").lstrip("0")
    if not digits:
        return 0
    k = -len(frac.replace("_", ""))
    k += _exponent(exp)
    if len(digits) > _MAX_DEC_DIGITS:
        tail = digits[_MAX_DEC_DIGITS:]
        k += len(tail) - 1
        digits = digits[:_MAX_DEC_DIGITS] + ("1" if tail.strip("0") else "0")
    nd = len(digits)
    if nd - 1 + k > fmt.max_log10:
        raise ValueError(_RANGE)
    if nd + k < fmt.min_log10:
        return 0
    d = int(digits)
    if k >= 0:
        return _round(d * 10 ** k, 1, fmt)[0]
    return _round(d, 10 ** -k, fmt)[0]


def _hex_magnitude(intpart: str, frac: str, exp: str, fmt: _Format) -> int:
    frac = frac.replace("_", "")
    digits = (intpart.replace("_", "") + frac).lstrip("0")
    if not digits:
        return 0
    e2 = -4 * len(frac)
    e2 += _exponent(exp)
    if len(digits) > _MAX_HEX_DIGITS:
        tail = digits[_MAX_HEX_DIGITS:]
        e2 += 4 * (len(tail) - 1)
        digits = digits[:_MAX_HEX_DIGITS] + ("1" if tail.strip("0") else "0")
    m = int(digits, 16)
    top = m.bit_length() + e2  # 2**(top-1) <= value < 2**top
    if top - 1 > fmt.max_log2:
        raise ValueError(_RANGE)
    if top < fmt.min_log2:
        return 0
    if e2 >= 0:
        return _round(m << e2, 1, fmt)[0]
    return _round(m, 1 << -e2, fmt)[0]


def _split_sign(text: str) -> Tuple[bool, str]:
    if text[:1] == "-":
        return True, text[1:]
    if text[:1] == "+":
        return False, text[1:]
    return False, text


def _float_bits(text: str, fmt: _Format) -> int:
    neg, body = _split_sign(text)
    sign = fmt.sign_bit if neg else 0
    if not body:
        raise ValueError(_MALFORMED)
    c = body[0]
    if c == "i" or c == "n":
        if body == "inf":
            return sign | fmt.exp_mask
        if body == "nan":
            return sign | fmt.canonical_nan
        m = _NAN_PAYLOAD_RE.match(body)
        if m is None:
            raise ValueError(_MALFORMED)
        payload = int(m.group(1).replace("_", ""), 16)
        if not 1 <= payload < (1 << fmt.mant_bits):
            raise ValueError(_RANGE)
        return sign | fmt.exp_mask | payload
    if body.startswith("0x"):
        m = _HEX_FLOAT_RE.match(body)
        if m is None:
            raise ValueError(_MALFORMED)
        ip, fp, ep = m.groups()
        return sign | _hex_magnitude(ip, fp or "", ep or "", fmt)
    m = _DEC_FLOAT_RE.match(body)
    if m is None:
        raise ValueError(_MALFORMED)
    ip, fp, ep = m.groups()
    if fmt is _F64:
        # Python's float() rounds decimal strings correctly (nearest, ties to even).
        d = float(body.replace("_", "") if "_" in body else body)
        if d == float("inf"):
            raise ValueError(_RANGE)
        bits: int = struct.unpack("<Q", struct.pack("<d", d))[0]
        return sign | bits
    # f32: round the (correctly rounded) double, unless that double lies exactly
    # halfway between two f32 values, where double rounding could go wrong.
    d = float(body.replace("_", "") if "_" in body else body)
    if d != float("inf"):
        if d == 0.0:
            return sign
        num, den = d.as_integer_ratio()
        try:
            bits, tie = _round(num, den, fmt)
        except ValueError:
            tie = True  # might be the literal is just below the overflow threshold
            bits = 0
        if not tie:
            return sign | bits
    return sign | _decimal_magnitude(ip, fp or "", ep or "", fmt)


def parse_f32_bits(text: str) -> int:
    """The raw bits (u32) of an ``f32`` literal: decimal or hex float, ``inf``,
    ``nan``, ``nan:0x...``, with optional sign.

    >>> hex(parse_f32_bits("-0x1p-149")), hex(parse_f32_bits("nan:0x200000"))
    ('0x80000001', '0x7fa00000')
    """
    return _float_bits(text, _F32)


def parse_f64_bits(text: str) -> int:
    """The raw bits (u64) of an ``f64`` literal.

    >>> hex(parse_f64_bits("1.5")), hex(parse_f64_bits("-inf"))
    ('0x3ff8000000000000', '0xfff0000000000000')
    """
    return _float_bits(text, _F64)
