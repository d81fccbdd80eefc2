"""WebAssembly values as command-line text: the arguments of ``pywazero run
--invoke FUNC ARGS...`` in and its results out.

Arguments are parsed by the parameter's type; results are printed so that they
read back as arguments (``nan``, ``inf``, ``-0.0`` included):

>>> from pywazero.wasm.types import F32, I32
>>> parse_value("-1", I32), parse_value("0xff", I32)
(4294967295, 255)
>>> format_value(I32, 4294967295), format_value(F32, parse_value("0.1", F32))
('-1', '0.1')
"""
from __future__ import annotations

import math
import re
import struct
from typing import Any

from .wasm import numerics as num
from .wasm.types import F32, F64, I32, I64, V128, is_ref, valtype_name

__all__ = ["ValueSyntaxError", "parse_value", "format_value", "can_parse"]

_INT = re.compile(r"^([+-]?)(?:0[xX]([0-9a-fA-F]+)|([0-9]+))$")
_WIDTH = {I32: 32, I64: 64}


class ValueSyntaxError(ValueError):
    """An argument that is not a value of its parameter's type (or cannot be
    given as text at all)."""


def can_parse(valtype: int) -> bool:
    """Whether a value of ``valtype`` can be written on the command line (numbers
    only: v128 and references cannot)."""
    return valtype in (I32, I64, F32, F64)


def parse_value(text: str, valtype: int) -> Any:
    """``text`` as a raw value of ``valtype`` (an unsigned bit pattern for i32/i64,
    a float for f32/f64).  Integers: decimal or ``0x`` hex, signed or unsigned
    range.  Floats: decimal or hex (``0x1.8p3``) notation, ``nan``, ``inf``,
    ``-inf``, ``-0``; an f32 rounds to the nearest single-precision value and
    must not overflow.  Raises :class:`ValueSyntaxError`."""
    if valtype in _WIDTH:
        return _parse_int(text, _WIDTH[valtype], valtype_name(valtype))
    if valtype == F64:
        return _parse_float(text, "f64")
    if valtype == F32:
        x = _parse_float(text, "f32")
        if math.isnan(x):
            # the canonical NaN of that sign, as a single-precision value
            return num.f32_from_bits(0xFFC00000 if math.copysign(1.0, x) < 0 else 0x7FC00000)
        try:
            return struct.unpack("<f", struct.pack("<f", x))[0]
        except OverflowError:
            raise ValueSyntaxError(f"{text!r} is out of range for f32") from None
    if not isinstance(valtype, int):   # a described reference type (RefType)
        raise ValueSyntaxError(f"a reference value ({valtype}) cannot be given on the command line")
    kind = "v128" if valtype == V128 else "reference" if is_ref(valtype) else "this type"
    raise ValueSyntaxError(f"a {kind} value ({valtype_name(valtype)}) cannot be given on the command line")


def _parse_int(text: str, bits: int, name: str) -> int:
    m = _INT.match(text)
    if m is None:
        raise ValueSyntaxError(f"{text!r} is not an {name} (expected a decimal or 0x hex integer)")
    sign, hexdigits, decimal = m.groups()
    value = int(hexdigits, 16) if hexdigits is not None else int(decimal, 10)
    if sign == "-":
        value = -value
    if not -(1 << (bits - 1)) <= value < (1 << bits):
        raise ValueSyntaxError(f"{text!r} does not fit in {name} "
                               f"({-(1 << (bits - 1))} to {(1 << bits) - 1})")
    return value & ((1 << bits) - 1)


def _parse_float(text: str, name: str) -> float:
    body = text.lstrip("+-")
    if not body or body != body.strip() or "_" in body:
        raise ValueSyntaxError(f"{text!r} is not an {name}")
    try:
        if body[:2] in ("0x", "0X"):
            x = float.fromhex(body)
            return -x if text.startswith("-") else x
        return float(text)
    except (ValueError, OverflowError):
        raise ValueSyntaxError(f"{text!r} is not an {name} (expected e.g. 1.5, -0, 1e-3, nan, inf)") from None


def _f32_text(x: float) -> str:
    # the shortest decimal that reads back as the same single-precision value
    for digits in range(1, 10):
        candidate = float(f"{x:.{digits}g}")
        try:
            if struct.unpack("<f", struct.pack("<f", candidate))[0] == x:
                return repr(candidate)
        except OverflowError:   # rounded up past the largest single
            continue
    return repr(x)


def format_value(valtype: int, raw: Any) -> str:
    """A raw result of ``valtype`` as text: signed decimal integers, floats as
    Python writes them (``nan``, ``inf``, ``-0.0``; f32 with the fewest digits
    that read back as the same value), v128 as 32 hex digits, references as
    ``null`` or their kind."""
    if valtype in _WIDTH:
        bits = _WIDTH[valtype]
        return str(raw - (1 << bits) if raw >> (bits - 1) else raw)
    if valtype in (F32, F64):
        if math.isnan(raw):
            return "-nan" if math.copysign(1.0, raw) < 0 else "nan"
        if math.isinf(raw):
            return "inf" if raw > 0 else "-inf"
        return _f32_text(raw) if valtype == F32 else repr(raw)
    if valtype == V128:
        return f"0x{raw:032x}"
    if raw is None:
        return "null"
    return _ref_text(raw)


def _ref_text(raw: Any) -> str:
    from .wasm.gcref import I31, Array, Struct
    from .wasm.instance import FunctionInstance

    if isinstance(raw, FunctionInstance):
        name = getattr(raw, "name", None)
        return f"<func {name}>" if name else "<func>"
    if isinstance(raw, I31):
        return f"<i31 {raw.value}>"
    if isinstance(raw, Struct):
        return "<struct>"
    if isinstance(raw, Array):
        return "<array>"
    return "<ref>"
