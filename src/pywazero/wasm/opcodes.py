"""The instruction set: opcode numbers, text names, immediate kinds and stack signatures.

An instruction in the module model is a tuple ``(op, imm)``.  ``op`` is an int: the
opcode byte for one-byte instructions, and ``(prefix << 16) | sub`` for the 0xFC and
0xFD prefixed ones (``0xFC0008`` is ``memory.init``, ``0xFD000C`` is ``v128.const``).
``imm`` depends on the immediate kind (see ``IMM_*`` below); it is ``None`` when the
instruction has no immediates.

This table is the single source for the decoder, encoder, text parser and validator.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional, Tuple

from .types import F32, F64, I32, I64, V128

# Immediate kinds and the Python value carried in ``imm``:
IMM_NONE = 0          # None
IMM_BLOCK = 1         # int: block type in s33 form (see types.BLOCK_EMPTY)
IMM_LABEL = 2         # int: label index
IMM_BR_TABLE = 3      # (tuple of label indices, default label index)
IMM_FUNC = 4          # int: function index
IMM_CALL_INDIRECT = 5  # (type index, table index)
IMM_LOCAL = 6         # int: local index
IMM_GLOBAL = 7        # int: global index
IMM_TABLE = 8         # int: table index
IMM_SELECT_T = 9      # tuple of value types
IMM_MEMARG = 10       # (align exponent, offset, memory index)
IMM_MEMORY = 11       # int: memory index (memory.size, memory.grow, memory.fill)
IMM_I32 = 12          # int: signed value in [-2**31, 2**31)
IMM_I64 = 13          # int: signed value in [-2**63, 2**63)
IMM_F32 = 14          # int: raw IEEE-754 bits (u32), so NaN payloads survive
IMM_F64 = 15          # int: raw IEEE-754 bits (u64)
IMM_REFTYPE = 16      # int: the nullable reference type of a heap type (ref.null ht:
                     # ref_type(ht); FUNCREF for ref.null func)
IMM_MEMORY_INIT = 17  # (data index, memory index)
IMM_DATA = 18         # int: data index
IMM_MEMORY_COPY = 19  # (destination memory index, source memory index)
IMM_TABLE_INIT = 20   # (element index, table index)
IMM_ELEM = 21         # int: element index
IMM_TABLE_COPY = 22   # (destination table index, source table index)
IMM_V128 = 23         # int: the 128-bit value, unsigned, little-endian lanes
IMM_SHUFFLE = 24      # bytes of length 16: lane indices
IMM_LANE = 25         # int: lane index
IMM_MEMARG_LANE = 26  # (align exponent, offset, memory index, lane index)
IMM_TAG = 27          # int: tag index (throw, legacy catch)
IMM_TRY_TABLE = 28    # (block type, tuple of catch clauses): a clause is
#                       (CATCH_*, tag index or None, label index)

# try_table catch clause kinds, numbered as in the binary format.
CATCH = 0
CATCH_REF = 1
CATCH_ALL = 2
CATCH_ALL_REF = 3
CATCH_NAMES = ("catch", "catch_ref", "catch_all", "catch_all_ref")
# (numbered apart from the kinds other 3.0 proposals add)
IMM_TYPE = 40         # int: type index (call_ref, return_call_ref)
# GC (0xFB prefix)
IMM_FIELD = 50        # (type index, field index): struct.get/set
IMM_TYPE_N = 51       # (type index, u32 count): array.new_fixed
IMM_TYPE_DATA = 52    # (type index, data index): array.new_data, array.init_data
IMM_TYPE_ELEM = 53    # (type index, elem index): array.new_elem, array.init_elem
IMM_TYPE_TYPE = 54    # (destination type index, source type index): array.copy
IMM_CAST = 55         # int: the target reference type (ref.test, ref.cast); the
                      # opcode says the nullability in the binary
IMM_BR_ON_CAST = 56   # (label, source reference type, target reference type)

PREFIX_FB = 0xFB
PREFIX_FC = 0xFC
PREFIX_FD = 0xFD


def fb(sub: int) -> int:
    return (PREFIX_FB << 16) | sub


def fc(sub: int) -> int:
    return (PREFIX_FC << 16) | sub


def fd(sub: int) -> int:
    return (PREFIX_FD << 16) | sub


class OpInfo(NamedTuple):
    op: int
    name: str
    imm: int
    # Operand types consumed and produced, for the "plain" instructions whose typing
    # is fixed; None for instructions the validator types by hand (control flow,
    # variables, parametric, reference, table and bulk-memory instructions).
    params: Optional[Tuple[int, ...]]
    results: Optional[Tuple[int, ...]]
    # log2 of the natural alignment for memory accesses (alignment immediates may
    # not exceed it), else None.
    natural_align: Optional[int] = None
    # For lane instructions, the number of lanes (lane index must be below it).
    lanes: Optional[int] = None


_LETTER = {"i": I32, "I": I64, "f": F32, "F": F64, "v": V128}


def _sig(s: Optional[str]) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]:
    if s is None:
        return None, None
    p, r = s.split(":")
    return tuple(_LETTER[c] for c in p), tuple(_LETTER[c] for c in r)


BY_OP: Dict[int, OpInfo] = {}
BY_NAME: Dict[str, OpInfo] = {}


def _add(op: int, name: str, imm: int = IMM_NONE, sig: Optional[str] = None,
         align: Optional[int] = None, lanes: Optional[int] = None) -> None:
    params, results = _sig(sig)
    info = OpInfo(op, name, imm, params, results, align, lanes)
    assert op not in BY_OP and name not in BY_NAME, name
    BY_OP[op] = info
    BY_NAME[name] = info


# --- control -------------------------------------------------------------------
_add(0x00, "unreachable")
_add(0x01, "nop", sig=":")
_add(0x02, "block", IMM_BLOCK)
_add(0x03, "loop", IMM_BLOCK)
_add(0x04, "if", IMM_BLOCK)
_add(0x05, "else")
# exception handling (0x08 throw, 0x0A throw_ref, 0x1F try_table) and the legacy
# instructions (0x06 try, 0x07 catch, 0x09 rethrow, 0x18 delegate, 0x19 catch_all)
_add(0x06, "try", IMM_BLOCK)
_add(0x07, "catch", IMM_TAG)
_add(0x08, "throw", IMM_TAG)
_add(0x09, "rethrow", IMM_LABEL)
_add(0x0A, "throw_ref")
_add(0x18, "delegate", IMM_LABEL)
_add(0x19, "catch_all")
_add(0x1F, "try_table", IMM_TRY_TABLE)
_add(0x0B, "end")
_add(0x0C, "br", IMM_LABEL)
_add(0x0D, "br_if", IMM_LABEL)
_add(0x0E, "br_table", IMM_BR_TABLE)
_add(0x0F, "return")
_add(0x10, "call", IMM_FUNC)
_add(0x11, "call_indirect", IMM_CALL_INDIRECT)
_add(0x12, "return_call", IMM_FUNC)                    # tail calls (3.0)
_add(0x13, "return_call_indirect", IMM_CALL_INDIRECT)
# --- parametric ----------------------------------------------------------------
_add(0x1A, "drop")
_add(0x1B, "select")
_add(0x1C, "select_t", IMM_SELECT_T)  # text form is "select (result t)"
# --- variables -----------------------------------------------------------------
_add(0x20, "local.get", IMM_LOCAL)
_add(0x21, "local.set", IMM_LOCAL)
_add(0x22, "local.tee", IMM_LOCAL)
_add(0x23, "global.get", IMM_GLOBAL)
_add(0x24, "global.set", IMM_GLOBAL)
# --- table ---------------------------------------------------------------------
_add(0x25, "table.get", IMM_TABLE)
_add(0x26, "table.set", IMM_TABLE)
# --- memory --------------------------------------------------------------------
for _op, _name, _sg, _al in [
    (0x28, "i32.load", "i:i", 2), (0x29, "i64.load", "i:I", 3),
    (0x2A, "f32.load", "i:f", 2), (0x2B, "f64.load", "i:F", 3),
    (0x2C, "i32.load8_s", "i:i", 0), (0x2D, "i32.load8_u", "i:i", 0),
    (0x2E, "i32.load16_s", "i:i", 1), (0x2F, "i32.load16_u", "i:i", 1),
    (0x30, "i64.load8_s", "i:I", 0), (0x31, "i64.load8_u", "i:I", 0),
    (0x32, "i64.load16_s", "i:I", 1), (0x33, "i64.load16_u", "i:I", 1),
    (0x34, "i64.load32_s", "i:I", 2), (0x35, "i64.load32_u", "i:I", 2),
    (0x36, "i32.store", "ii:", 2), (0x37, "i64.store", "iI:", 3),
    (0x38, "f32.store", "if:", 2), (0x39, "f64.store", "iF:", 3),
    (0x3A, "i32.store8", "ii:", 0), (0x3B, "i32.store16", "ii:", 1),
    (0x3C, "i64.store8", "iI:", 0), (0x3D, "i64.store16", "iI:", 1),
    (0x3E, "i64.store32", "iI:", 2),
]:
    _add(_op, _name, IMM_MEMARG, _sg, _al)
_add(0x3F, "memory.size", IMM_MEMORY, ":i")
_add(0x40, "memory.grow", IMM_MEMORY, "i:i")
# --- numeric -------------------------------------------------------------------
_add(0x41, "i32.const", IMM_I32, ":i")
_add(0x42, "i64.const", IMM_I64, ":I")
_add(0x43, "f32.const", IMM_F32, ":f")
_add(0x44, "f64.const", IMM_F64, ":F")


def _series(start: int, prefix: str, names: str, sig: str) -> None:
    for k, n in enumerate(names.split()):
        _add(start + k, f"{prefix}.{n}", IMM_NONE, sig)


_add(0x45, "i32.eqz", sig="i:i")
_series(0x46, "i32", "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u", "ii:i")
_add(0x50, "i64.eqz", sig="I:i")
_series(0x51, "i64", "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u", "II:i")
_series(0x5B, "f32", "eq ne lt gt le ge", "ff:i")
_series(0x61, "f64", "eq ne lt gt le ge", "FF:i")
_series(0x67, "i32", "clz ctz popcnt", "i:i")
_series(0x6A, "i32", "add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr", "ii:i")
_series(0x79, "i64", "clz ctz popcnt", "I:I")
_series(0x7C, "i64", "add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr", "II:I")
_series(0x8B, "f32", "abs neg ceil floor trunc nearest sqrt", "f:f")
_series(0x92, "f32", "add sub mul div min max copysign", "ff:f")
_series(0x99, "f64", "abs neg ceil floor trunc nearest sqrt", "F:F")
_series(0xA0, "f64", "add sub mul div min max copysign", "FF:F")
for _op, _name, _sg in [
    (0xA7, "i32.wrap_i64", "I:i"),
    (0xA8, "i32.trunc_f32_s", "f:i"), (0xA9, "i32.trunc_f32_u", "f:i"),
    (0xAA, "i32.trunc_f64_s", "F:i"), (0xAB, "i32.trunc_f64_u", "F:i"),
    (0xAC, "i64.extend_i32_s", "i:I"), (0xAD, "i64.extend_i32_u", "i:I"),
    (0xAE, "i64.trunc_f32_s", "f:I"), (0xAF, "i64.trunc_f32_u", "f:I"),
    (0xB0, "i64.trunc_f64_s", "F:I"), (0xB1, "i64.trunc_f64_u", "F:I"),
    (0xB2, "f32.convert_i32_s", "i:f"), (0xB3, "f32.convert_i32_u", "i:f"),
    (0xB4, "f32.convert_i64_s", "I:f"), (0xB5, "f32.convert_i64_u", "I:f"),
    (0xB6, "f32.demote_f64", "F:f"),
    (0xB7, "f64.convert_i32_s", "i:F"), (0xB8, "f64.convert_i32_u", "i:F"),
    (0xB9, "f64.convert_i64_s", "I:F"), (0xBA, "f64.convert_i64_u", "I:F"),
    (0xBB, "f64.promote_f32", "f:F"),
    (0xBC, "i32.reinterpret_f32", "f:i"), (0xBD, "i64.reinterpret_f64", "F:I"),
    (0xBE, "f32.reinterpret_i32", "i:f"), (0xBF, "f64.reinterpret_i64", "I:F"),
    (0xC0, "i32.extend8_s", "i:i"), (0xC1, "i32.extend16_s", "i:i"),
    (0xC2, "i64.extend8_s", "I:I"), (0xC3, "i64.extend16_s", "I:I"),
    (0xC4, "i64.extend32_s", "I:I"),
]:
    _add(_op, _name, IMM_NONE, _sg)
# --- reference -----------------------------------------------------------------
_add(0xD0, "ref.null", IMM_REFTYPE)
_add(0xD1, "ref.is_null")
_add(0xD2, "ref.func", IMM_FUNC)
# --- typed function references (WebAssembly 3.0) ---------------------------------
_add(0x14, "call_ref", IMM_TYPE)
_add(0x15, "return_call_ref", IMM_TYPE)
_add(0xD4, "ref.as_non_null")
_add(0xD5, "br_on_null", IMM_LABEL)
_add(0xD6, "br_on_non_null", IMM_LABEL)
# --- GC (WebAssembly 3.0): ref.eq and the 0xFB prefix --------------------------------
_add(0xD3, "ref.eq")
for _k, _name, _imm in [
    (0, "struct.new", IMM_TYPE), (1, "struct.new_default", IMM_TYPE),
    (2, "struct.get", IMM_FIELD), (3, "struct.get_s", IMM_FIELD), (4, "struct.get_u", IMM_FIELD),
    (5, "struct.set", IMM_FIELD),
    (6, "array.new", IMM_TYPE), (7, "array.new_default", IMM_TYPE), (8, "array.new_fixed", IMM_TYPE_N),
    (9, "array.new_data", IMM_TYPE_DATA), (10, "array.new_elem", IMM_TYPE_ELEM),
    (11, "array.get", IMM_TYPE), (12, "array.get_s", IMM_TYPE), (13, "array.get_u", IMM_TYPE),
    (14, "array.set", IMM_TYPE), (15, "array.len", IMM_NONE), (16, "array.fill", IMM_TYPE),
    (17, "array.copy", IMM_TYPE_TYPE), (18, "array.init_data", IMM_TYPE_DATA),
    (19, "array.init_elem", IMM_TYPE_ELEM),
    (20, "ref.test", IMM_CAST), (21, "ref.test_null", IMM_CAST),
    (22, "ref.cast", IMM_CAST), (23, "ref.cast_null", IMM_CAST),
    (24, "br_on_cast", IMM_BR_ON_CAST), (25, "br_on_cast_fail", IMM_BR_ON_CAST),
    (26, "any.convert_extern", IMM_NONE), (27, "extern.convert_any", IMM_NONE),
    (28, "ref.i31", IMM_NONE), (29, "i31.get_s", IMM_NONE), (30, "i31.get_u", IMM_NONE),
]:
    _add(fb(_k), _name, _imm)
#: GC instructions whose text name covers two opcodes: ``ref.test (ref null $t)`` is
#: ``ref.test_null`` (0xFB 21) in the binary.
NULLABLE_CAST_OP = {fb(20): fb(21), fb(22): fb(23)}

# --- 0xFC prefix -----------------------------------------------------------------
for _k, (_name, _sg) in enumerate([
    ("i32.trunc_sat_f32_s", "f:i"), ("i32.trunc_sat_f32_u", "f:i"),
    ("i32.trunc_sat_f64_s", "F:i"), ("i32.trunc_sat_f64_u", "F:i"),
    ("i64.trunc_sat_f32_s", "f:I"), ("i64.trunc_sat_f32_u", "f:I"),
    ("i64.trunc_sat_f64_s", "F:I"), ("i64.trunc_sat_f64_u", "F:I"),
]):
    _add(fc(_k), _name, IMM_NONE, _sg)
_add(fc(8), "memory.init", IMM_MEMORY_INIT, "iii:")
_add(fc(9), "data.drop", IMM_DATA, ":")
_add(fc(10), "memory.copy", IMM_MEMORY_COPY, "iii:")
_add(fc(11), "memory.fill", IMM_MEMORY, "iii:")
_add(fc(12), "table.init", IMM_TABLE_INIT, "iii:")
_add(fc(13), "elem.drop", IMM_ELEM, ":")
_add(fc(14), "table.copy", IMM_TABLE_COPY, "iii:")
_add(fc(15), "table.grow", IMM_TABLE)
_add(fc(16), "table.size", IMM_TABLE, ":i")
_add(fc(17), "table.fill", IMM_TABLE)

# --- 0xFD prefix: SIMD -----------------------------------------------------------
for _k, _name, _al in [
    (0, "v128.load", 4), (1, "v128.load8x8_s", 3), (2, "v128.load8x8_u", 3),
    (3, "v128.load16x4_s", 3), (4, "v128.load16x4_u", 3),
    (5, "v128.load32x2_s", 3), (6, "v128.load32x2_u", 3),
    (7, "v128.load8_splat", 0), (8, "v128.load16_splat", 1),
    (9, "v128.load32_splat", 2), (10, "v128.load64_splat", 3),
    (92, "v128.load32_zero", 2), (93, "v128.load64_zero", 3),
]:
    _add(fd(_k), _name, IMM_MEMARG, "i:v", _al)
_add(fd(11), "v128.store", IMM_MEMARG, "iv:", 4)
for _k, _name, _al, _sg in [
    (84, "v128.load8_lane", 0, "iv:v"), (85, "v128.load16_lane", 1, "iv:v"),
    (86, "v128.load32_lane", 2, "iv:v"), (87, "v128.load64_lane", 3, "iv:v"),
    (88, "v128.store8_lane", 0, "iv:"), (89, "v128.store16_lane", 1, "iv:"),
    (90, "v128.store32_lane", 2, "iv:"), (91, "v128.store64_lane", 3, "iv:"),
]:
    _add(fd(_k), _name, IMM_MEMARG_LANE, _sg, _al, 16 >> _al)
_add(fd(12), "v128.const", IMM_V128, ":v")
_add(fd(13), "i8x16.shuffle", IMM_SHUFFLE, "vv:v", lanes=32)
_add(fd(14), "i8x16.swizzle", IMM_NONE, "vv:v")
for _k, (_name, _sg) in enumerate([
    ("i8x16.splat", "i:v"), ("i16x8.splat", "i:v"), ("i32x4.splat", "i:v"),
    ("i64x2.splat", "I:v"), ("f32x4.splat", "f:v"), ("f64x2.splat", "F:v"),
]):
    _add(fd(15 + _k), _name, IMM_NONE, _sg)
for _k, _name, _sg, _n in [
    (21, "i8x16.extract_lane_s", "v:i", 16), (22, "i8x16.extract_lane_u", "v:i", 16),
    (23, "i8x16.replace_lane", "vi:v", 16),
    (24, "i16x8.extract_lane_s", "v:i", 8), (25, "i16x8.extract_lane_u", "v:i", 8),
    (26, "i16x8.replace_lane", "vi:v", 8),
    (27, "i32x4.extract_lane", "v:i", 4), (28, "i32x4.replace_lane", "vi:v", 4),
    (29, "i64x2.extract_lane", "v:I", 2), (30, "i64x2.replace_lane", "vI:v", 2),
    (31, "f32x4.extract_lane", "v:f", 4), (32, "f32x4.replace_lane", "vf:v", 4),
    (33, "f64x2.extract_lane", "v:F", 2), (34, "f64x2.replace_lane", "vF:v", 2),
]:
    _add(fd(_k), _name, IMM_LANE, _sg, lanes=_n)

_CMP_INT = "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u"
_CMP_FLOAT = "eq ne lt gt le ge"
_SIMD_PLAIN = [
    (35, "i8x16", _CMP_INT, "vv:v"),
    (45, "i16x8", _CMP_INT, "vv:v"),
    (55, "i32x4", _CMP_INT, "vv:v"),
    (65, "f32x4", _CMP_FLOAT, "vv:v"),
    (71, "f64x2", _CMP_FLOAT, "vv:v"),
    (77, "v128", "not", "v:v"),
    (78, "v128", "and andnot or xor", "vv:v"),
    (82, "v128", "bitselect", "vvv:v"),
    (83, "v128", "any_true", "v:i"),
    (94, "f32x4", "demote_f64x2_zero", "v:v"),
    (95, "f64x2", "promote_low_f32x4", "v:v"),
    (96, "i8x16", "abs neg popcnt", "v:v"),
    (99, "i8x16", "all_true bitmask", "v:i"),
    (101, "i8x16", "narrow_i16x8_s narrow_i16x8_u", "vv:v"),
    (103, "f32x4", "ceil floor trunc nearest", "v:v"),
    (107, "i8x16", "shl shr_s shr_u", "vi:v"),
    (110, "i8x16", "add add_sat_s add_sat_u sub sub_sat_s sub_sat_u", "vv:v"),
    (116, "f64x2", "ceil floor", "v:v"),
    (118, "i8x16", "min_s min_u max_s max_u", "vv:v"),
    (122, "f64x2", "trunc", "v:v"),
    (123, "i8x16", "avgr_u", "vv:v"),
    (124, "i16x8", "extadd_pairwise_i8x16_s extadd_pairwise_i8x16_u", "v:v"),
    (126, "i32x4", "extadd_pairwise_i16x8_s extadd_pairwise_i16x8_u", "v:v"),
    (128, "i16x8", "abs neg", "v:v"),
    (130, "i16x8", "q15mulr_sat_s", "vv:v"),
    (131, "i16x8", "all_true bitmask", "v:i"),
    (133, "i16x8", "narrow_i32x4_s narrow_i32x4_u", "vv:v"),
    (135, "i16x8", "extend_low_i8x16_s extend_high_i8x16_s extend_low_i8x16_u extend_high_i8x16_u", "v:v"),
    (139, "i16x8", "shl shr_s shr_u", "vi:v"),
    (142, "i16x8", "add add_sat_s add_sat_u sub sub_sat_s sub_sat_u", "vv:v"),
    (148, "f64x2", "nearest", "v:v"),
    (149, "i16x8", "mul min_s min_u max_s max_u", "vv:v"),
    (155, "i16x8", "avgr_u extmul_low_i8x16_s extmul_high_i8x16_s extmul_low_i8x16_u extmul_high_i8x16_u", "vv:v"),
    (160, "i32x4", "abs neg", "v:v"),
    (163, "i32x4", "all_true bitmask", "v:i"),
    (167, "i32x4", "extend_low_i16x8_s extend_high_i16x8_s extend_low_i16x8_u extend_high_i16x8_u", "v:v"),
    (171, "i32x4", "shl shr_s shr_u", "vi:v"),
    (174, "i32x4", "add", "vv:v"),
    (177, "i32x4", "sub", "vv:v"),
    (181, "i32x4", "mul min_s min_u max_s max_u dot_i16x8_s", "vv:v"),
    (188, "i32x4", "extmul_low_i16x8_s extmul_high_i16x8_s extmul_low_i16x8_u extmul_high_i16x8_u", "vv:v"),
    (192, "i64x2", "abs neg", "v:v"),
    (195, "i64x2", "all_true bitmask", "v:i"),
    (199, "i64x2", "extend_low_i32x4_s extend_high_i32x4_s extend_low_i32x4_u extend_high_i32x4_u", "v:v"),
    (203, "i64x2", "shl shr_s shr_u", "vi:v"),
    (206, "i64x2", "add", "vv:v"),
    (209, "i64x2", "sub", "vv:v"),
    (213, "i64x2", "mul eq ne lt_s gt_s le_s ge_s", "vv:v"),
    (220, "i64x2", "extmul_low_i32x4_s extmul_high_i32x4_s extmul_low_i32x4_u extmul_high_i32x4_u", "vv:v"),
    (224, "f32x4", "abs neg", "v:v"),
    (227, "f32x4", "sqrt", "v:v"),
    (228, "f32x4", "add sub mul div min max pmin pmax", "vv:v"),
    (236, "f64x2", "abs neg", "v:v"),
    (239, "f64x2", "sqrt", "v:v"),
    (240, "f64x2", "add sub mul div min max pmin pmax", "vv:v"),
    (248, "i32x4", "trunc_sat_f32x4_s trunc_sat_f32x4_u", "v:v"),
    (250, "f32x4", "convert_i32x4_s convert_i32x4_u", "v:v"),
    (252, "i32x4", "trunc_sat_f64x2_s_zero trunc_sat_f64x2_u_zero", "v:v"),
    (254, "f64x2", "convert_low_i32x4_s convert_low_i32x4_u", "v:v"),
]
for _start, _shape, _names, _sg in _SIMD_PLAIN:
    for _k, _nm in enumerate(_names.split()):
        _add(fd(_start + _k), f"{_shape}.{_nm}", IMM_NONE, _sg)

# Relaxed SIMD (WebAssembly 3.0), 0xFD 0x100-0x113; see engine/simd.py for the
# deterministic semantics pywazero gives them.
for _k, (_name, _sg) in enumerate([
    ("i8x16.relaxed_swizzle", "vv:v"),
    ("i32x4.relaxed_trunc_f32x4_s", "v:v"), ("i32x4.relaxed_trunc_f32x4_u", "v:v"),
    ("i32x4.relaxed_trunc_f64x2_s_zero", "v:v"), ("i32x4.relaxed_trunc_f64x2_u_zero", "v:v"),
    ("f32x4.relaxed_madd", "vvv:v"), ("f32x4.relaxed_nmadd", "vvv:v"),
    ("f64x2.relaxed_madd", "vvv:v"), ("f64x2.relaxed_nmadd", "vvv:v"),
    ("i8x16.relaxed_laneselect", "vvv:v"), ("i16x8.relaxed_laneselect", "vvv:v"),
    ("i32x4.relaxed_laneselect", "vvv:v"), ("i64x2.relaxed_laneselect", "vvv:v"),
    ("f32x4.relaxed_min", "vv:v"), ("f32x4.relaxed_max", "vv:v"),
    ("f64x2.relaxed_min", "vv:v"), ("f64x2.relaxed_max", "vv:v"),
    ("i16x8.relaxed_q15mulr_s", "vv:v"),
    ("i16x8.relaxed_dot_i8x16_i7x16_s", "vv:v"),
    ("i32x4.relaxed_dot_i8x16_i7x16_add_s", "vvv:v"),
]):
    _add(fd(0x100 + _k), _name, IMM_NONE, _sg)

#: The first relaxed SIMD sub-opcode (0xFD 0x100): ops at or above ``fd(RELAXED_SIMD_FIRST)``
#: need the relaxed-simd feature.
RELAXED_SIMD_FIRST = 0x100

# Constant-expression instructions (WebAssembly 2.0), besides global.get and end.
CONST_OPS = frozenset((0x41, 0x42, 0x43, 0x44, 0xD0, 0xD2, fd(12)))
# ... and the ones GC adds.
GC_CONST_OPS = frozenset((fb(0), fb(1), fb(6), fb(7), fb(8), fb(26), fb(27), fb(28)))

OP_END = 0x0B
OP_ELSE = 0x05
OP_TRY = 0x06
OP_CATCH = 0x07
OP_THROW = 0x08
OP_RETHROW = 0x09
OP_THROW_REF = 0x0A
OP_DELEGATE = 0x18
OP_CATCH_ALL = 0x19
OP_TRY_TABLE = 0x1F


def op_name(op: int) -> str:
    """Text name of an opcode: ``op_name(0x6A) == 'i32.add'``."""
    info = BY_OP.get(op)
    if info is not None:
        return info.name
    if op > 0xFFFF:
        return f"<0x{op >> 16:x} {op & 0xFFFF}>"
    return f"<0x{op:x}>"
