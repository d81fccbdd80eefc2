"""Unit tests for the validator, on hand-built Module objects."""
from __future__ import annotations

import pytest

from pywazero.errors import CompileError, ValidationError
from pywazero.wasm.module import (
    MODE_ACTIVE,
    MODE_DECLARATIVE,
    MODE_PASSIVE,
    DataSegment,
    ElementSegment,
    Export,
    Function,
    FunctionInfo,
    Global,
    Import,
    Module,
)
from pywazero.wasm.opcodes import fc, fd
from pywazero.wasm.types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    V128,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)
from pywazero.wasm.validation import validate_function, validate_module

END = (0x0B, None)
ELSE = (0x05, None)
UNREACHABLE = (0x00, None)
NOP = (0x01, None)
DROP = (0x1A, None)
SELECT = (0x1B, None)
I32_ADD = (0x6A, None)
I32_SUB = (0x6B, None)
I64_ADD = (0x7C, None)
RETURN = (0x0F, None)
EMPTY = -0x40


def i32(v=0):
    return (0x41, v)


def i64(v=0):
    return (0x42, v)


def f32(v=0):
    return (0x43, v)


def v128(v=0):
    return (fd(12), v)


def lget(i):
    return (0x20, i)


def bt(t):
    """Block type with a single result of value type t."""
    return t - 0x80


def make(body, params=(), results=(), locals_=(), types=(), **kw):
    """A module whose function 0 (type 0) has ``body`` (``end`` appended)."""
    m = Module(types=[FuncType(tuple(params), tuple(results))] + list(types), **kw)
    m.funcs.insert(0, Function(0, list(locals_), list(body) + [END]))
    return m


def ok(*args, **kw):
    m = make(*args, **kw)
    validate_module(m)
    return m


def bad(reason, *args, **kw):
    m = make(*args, **kw)
    with pytest.raises(ValidationError) as ei:
        validate_module(m)
    assert ei.value.reason.startswith(reason), ei.value.reason
    return ei.value


# ------------------------------------------------------------------ basics & errors

def test_simple_function_and_error_location():
    ok([lget(0), lget(1), I32_ADD], params=(I32, I32), results=(I32,))
    e = bad("type mismatch", [lget(0), lget(1), I64_ADD], params=(I32, I32), results=(I32,))
    assert isinstance(e, CompileError)
    assert e.func_index == 0
    assert e.instruction == "i64.add"
    assert e.offset is None and e.where == "instruction #2"


def test_error_offset_from_binary_offsets_and_func_index_counts_imports():
    m = Module(types=[FuncType((), (I32,))],
               imports=[Import("m", "f", EXTERN_FUNC, 0)],
               funcs=[Function(0, [], [i64(1), END], offsets=[0x20, 0x22])])
    with pytest.raises(ValidationError) as ei:
        validate_module(m)
    assert ei.value.func_index == 1
    assert ei.value.offset == 0x22
    assert ei.value.instruction == "end"


def test_result_count_and_underflow():
    bad("type mismatch", [], results=(I32,))
    bad("type mismatch", [i32(), i32()], results=(I32,))
    bad("type mismatch", [I32_ADD], results=(I32,))
    bad("type mismatch", [i32(), DROP, DROP])


def test_locals_and_globals():
    ok([lget(2), (0x21, 1), lget(0), DROP], params=(I32, F32), locals_=[(1, F32)])
    bad("unknown local 3", [lget(3), DROP], params=(I32, F32), locals_=[(1, F32)])
    bad("type mismatch", [i32(), (0x21, 1)], params=(I32, F32))
    ok([i32(), (0x22, 0), DROP], params=(I32,))
    glob = [Global(GlobalType(I32, True), [i32(), END]), Global(GlobalType(I64), [i64(), END])]
    ok([(0x23, 1), DROP, i32(), (0x24, 0)], globals=list(glob))
    bad("global is immutable", [i64(), (0x24, 1)], globals=list(glob))
    bad("unknown global 2", [(0x23, 2), DROP], globals=list(glob))


def test_local_counts_beyond_the_implementation_limit_are_refused():
    # (spec-valid, but 2^32-1 locals would cost gigabytes: the limit is the JS API's)
    bad("too many locals", [(0x20, 2**32 - 2), DROP], locals_=[(2**32 - 1, I32)])
    bad("too many locals", [], params=(I64,), locals_=[(10, I64), (2**31, I64)])
    bad("too many locals", [], params=(I64,), locals_=[(49_999, I64), (1, I32)])
    m = ok([(0x20, 49_999), DROP], params=(I64,), locals_=[(49_999, I32)])
    assert m.funcs[0].info.max_stack == 1
    bad("unknown local 50000", [(0x20, 50_000), DROP], params=(I64,), locals_=[(49_999, I32)])


# ------------------------------------------------------------------ polymorphism

def test_unreachable_makes_stack_polymorphic():
    ok([UNREACHABLE, I32_ADD], results=(I32,))
    ok([UNREACHABLE], results=(I32, F64))
    bad("type mismatch", [UNREACHABLE, i64(), I32_ADD], results=(I32,))
    ok([UNREACHABLE, SELECT, DROP])
    ok([UNREACHABLE, SELECT, i32(), I32_ADD], results=(I32,))
    bad("type mismatch", [UNREACHABLE, SELECT, i64(), I32_ADD, DROP])
    bad("type mismatch", [(0x0C, 0), i32(), i64()], results=(I32,))
    ok([RETURN, (0x6A, None), DROP])
    ok([UNREACHABLE, (0xD1, None), DROP])  # ref.is_null of unknown
    bad("type mismatch", [UNREACHABLE, i32(), (0xD1, None), DROP])


def test_polymorphism_is_per_block():
    # unreachable inside a block does not make the enclosing block polymorphic
    bad("type mismatch", [(0x02, EMPTY), UNREACHABLE, END, I32_ADD, DROP])
    ok([(0x02, bt(I32)), UNREACHABLE, END], results=(I32,))
    # values outside a block cannot be popped inside it, even if unreachable follows
    bad("type mismatch", [i32(), (0x02, EMPTY), DROP, END, DROP])
    ok([i32(), (0x02, EMPTY), UNREACHABLE, DROP, END, DROP])
    # the unreachable remainder still has to produce the block's results' types
    bad("type mismatch", [(0x02, bt(I32)), UNREACHABLE, i64(), END], results=(I32,))


def test_br_and_return_arity():
    ok([(0x02, bt(I32)), i32(1), (0x0C, 0), END], results=(I32,))
    bad("type mismatch", [(0x02, bt(I32)), (0x0C, 0), END], results=(I32,))
    ok([(0x02, EMPTY), i32(), (0x0C, 1), END, i32()], results=(I32,))
    # operands outside the block cannot be used by a branch inside it
    bad("type mismatch", [i32(), (0x02, EMPTY), (0x0C, 1), END], results=(I32,))
    bad("unknown label 2", [(0x02, EMPTY), (0x0C, 2), END])
    ok([i32(7), i32(1), (0x0D, 0)], results=(I32,))
    bad("type mismatch", [i32(1), (0x0D, 0)], results=(I32,))
    ok([i64(), RETURN], results=(I64,))
    bad("type mismatch", [i32(), RETURN], results=(I64,))


# ------------------------------------------------------------------ multi-value

def test_multi_value_blocks_with_type_index():
    types = [FuncType((I32, I32), (I32,)), FuncType((I32,), (I32, I64))]
    ok([i32(1), i32(2), (0x02, 1), I32_ADD, END], results=(I32,), types=types)
    bad("type mismatch", [i32(1), (0x02, 1), I32_ADD, END], results=(I32,), types=types)
    bad("type mismatch", [i32(1), i64(2), (0x02, 1), DROP, END], results=(I32,), types=types)
    ok([i32(1), (0x02, 2), i64(5), END, DROP], results=(I32,), types=types)
    bad("unknown type 3", [(0x02, 3), END], types=types)
    # a loop's label takes its parameters, a block's its results
    ok([i32(1), (0x03, 2), (0x0C, 0), END, DROP, DROP], types=types)
    bad("type mismatch", [i32(1), (0x03, 2), i64(0), (0x0C, 0), END, DROP, DROP], types=types)
    ok([i32(1), (0x02, 2), i64(0), (0x0C, 0), END, DROP, DROP], types=types)


def test_if_else_types():
    types = [FuncType((I32,), (I32,))]
    ok([i32(1), (0x04, bt(I32)), i32(2), ELSE, i32(3), END], results=(I32,))
    bad("type mismatch", [i32(1), (0x04, bt(I32)), i32(2), ELSE, i64(3), END], results=(I32,))
    bad("type mismatch", [(0x04, EMPTY), END])  # condition missing
    # if without else: its type must be [t*] -> [t*]
    bad("type mismatch", [i32(1), (0x04, bt(I32)), i32(2), END], results=(I32,))
    ok([i32(5), i32(1), (0x04, 1), i32(1), I32_ADD, END], results=(I32,), types=types)
    # else starts again from the parameters
    ok([i32(5), i32(1), (0x04, 1), ELSE, i32(2), I32_SUB, END], results=(I32,), types=types)
    bad("type mismatch", [i32(5), i32(1), (0x04, 1), DROP, ELSE, END], results=(I32,), types=types)
    # else outside an if, or twice
    bad("else", [(0x02, EMPTY), ELSE, END])
    bad("else", [i32(), (0x04, EMPTY), ELSE, ELSE, END])


# ------------------------------------------------------------------ br_table

def test_br_table_arity_and_types():
    blocks = [(0x02, bt(I32)), (0x02, bt(I32))]
    ok(blocks + [i32(7), i32(0), (0x0E, ((0, 1), 1)), END, END], results=(I32,))
    # different arity
    bad("type mismatch", [(0x02, bt(I32)), (0x02, EMPTY), i32(7), i32(0),
                          (0x0E, ((0,), 1)), END, i32(1), END], results=(I32,))
    # same arity, different types, reachable: no common operand type
    bad("type mismatch", [(0x02, bt(F32)), (0x02, bt(I32)), i32(7), i32(0),
                          (0x0E, ((0,), 1)), END, DROP, f32(), END, DROP])
    # ... but after unreachable the operand is bottom, which matches both (2.0 rule)
    ok([(0x02, bt(F32)), (0x02, bt(I32)), UNREACHABLE,
        (0x0E, ((0, 1), 1)), END, DROP, f32(), END, DROP])
    bad("unknown label 3", [i32(0), (0x0E, ((0, 3), 0))])
    bad("unknown label 1", [i32(0), (0x0E, ((), 1))])
    bad("type mismatch", [i64(0), (0x0E, ((), 0))])


# ------------------------------------------------------------------ select

def test_select_forms():
    ok([i32(1), i32(2), i32(0), SELECT], results=(I32,))
    ok([v128(), v128(), i32(0), SELECT, DROP])
    bad("type mismatch", [i32(1), i64(2), i32(0), SELECT, DROP])
    bad("type mismatch", [(0xD0, FUNCREF), (0xD0, FUNCREF), i32(0), SELECT, DROP])
    ok([(0xD0, FUNCREF), (0xD0, FUNCREF), i32(0), (0x1C, (FUNCREF,)), DROP])
    ok([(0xD0, EXTERNREF), (0xD0, EXTERNREF), i32(0), (0x1C, (EXTERNREF,)), DROP])
    bad("type mismatch", [(0xD0, FUNCREF), (0xD0, EXTERNREF), i32(0), (0x1C, (FUNCREF,)), DROP])
    bad("invalid result arity", [i32(), i32(), i32(0), (0x1C, ()), DROP])
    bad("invalid result arity", [i32(), i32(), i32(0), (0x1C, (I32, I32)), DROP])
    # one known operand fixes the other's type after unreachable
    bad("type mismatch", [UNREACHABLE, i64(), i32(0), SELECT, I32_ADD, DROP])
    bad("type mismatch", [UNREACHABLE, (0xD0, FUNCREF), i32(0), SELECT, DROP])


# ------------------------------------------------------------------ references

def _two_funcs(body0, **kw):
    m = make(body0, **kw)
    m.funcs.append(Function(0, [], [END]))
    return m


def test_ref_func_must_be_declared():
    body = [(0xD2, 1), DROP]
    m = _two_funcs(body)
    with pytest.raises(ValidationError, match="undeclared function reference"):
        validate_module(m)
    # a reference in another function's body does not declare it
    m = _two_funcs(body)
    m.funcs[1].body = [(0xD2, 1), DROP, END]
    with pytest.raises(ValidationError, match="undeclared function reference"):
        validate_module(m)
    for decl in (
        dict(exports=[Export("f", EXTERN_FUNC, 1)]),
        dict(elems=[ElementSegment(MODE_DECLARATIVE, FUNCREF, [[(0xD2, 1), END]])]),
        dict(globals=[Global(GlobalType(FUNCREF), [(0xD2, 1), END])]),
    ):
        validate_module(_two_funcs(body, **decl))
    m = _two_funcs([(0xD2, 2), DROP], exports=[Export("f", EXTERN_FUNC, 2)])
    with pytest.raises(ValidationError):
        validate_module(m)


def test_ref_null_and_is_null():
    ok([(0xD0, EXTERNREF), (0xD1, None)], results=(I32,))
    bad("type mismatch", [i32(), (0xD1, None)], results=(I32,))
    bad("type mismatch", [(0xD0, EXTERNREF)], results=(FUNCREF,))


# ------------------------------------------------------------------ constant expressions

def test_global_init_constant_expressions():
    imp = [Import("m", "g", EXTERN_GLOBAL, GlobalType(I32)),
           Import("m", "mg", EXTERN_GLOBAL, GlobalType(I32, True))]

    def check(init, valtype=I32, imports=imp):
        m = Module(imports=list(imports), globals=[Global(GlobalType(valtype), init)])
        validate_module(m)

    check([(0x23, 0), END])
    check([v128(), END], V128)
    check([(0xD0, EXTERNREF), END], EXTERNREF)
    with pytest.raises(ValidationError, match="constant expression required"):
        check([(0x23, 1), END])  # mutable import
    with pytest.raises(ValidationError, match="unknown global 2"):
        check([(0x23, 2), END])  # itself (a module-defined global)
    with pytest.raises(ValidationError, match="constant expression required"):
        check([i32(), i32(), I32_ADD, END])
    with pytest.raises(ValidationError, match="constant expression required"):
        check([i32(), NOP, END])
    with pytest.raises(ValidationError, match="type mismatch"):
        check([i32(), i32(), END])
    with pytest.raises(ValidationError, match="type mismatch"):
        check([END])
    with pytest.raises(ValidationError, match="type mismatch"):
        check([i64(), END])
    with pytest.raises(ValidationError, match="unknown function 0"):
        check([(0xD2, 0), END], FUNCREF)
    m = Module(imports=list(imp), globals=[Global(GlobalType(I32), [i32(), END]),
                                           Global(GlobalType(I32), [(0x23, 2), END])])
    with pytest.raises(ValidationError, match="unknown global") as ei:
        validate_module(m)
    assert ei.value.where == "global 3"


def test_element_and_data_segments():
    t = [TableType(FUNCREF, Limits(1)), TableType(EXTERNREF, Limits(1))]
    fn = [(0xD2, 0), END]
    ok([], tables=list(t), elems=[ElementSegment(MODE_ACTIVE, FUNCREF, [fn], 0, [i32(), END])])
    bad("type mismatch", [], tables=list(t),
        elems=[ElementSegment(MODE_ACTIVE, FUNCREF, [fn], 1, [i32(), END])])
    bad("type mismatch", [], tables=list(t),
        elems=[ElementSegment(MODE_ACTIVE, FUNCREF, [fn], 0, [i64(), END])])
    bad("type mismatch", [], elems=[ElementSegment(MODE_PASSIVE, EXTERNREF, [fn])])
    bad("unknown table 2", [], tables=list(t),
        elems=[ElementSegment(MODE_ACTIVE, FUNCREF, [fn], 2, [i32(), END])])
    bad("constant expression required", [], tables=list(t),
        elems=[ElementSegment(MODE_ACTIVE, FUNCREF, [fn], 0, [i32(), i32(), I32_ADD, END])])
    mem = [MemoryType(Limits(1))]
    ok([], mems=list(mem), datas=[DataSegment(MODE_ACTIVE, b"x", 0, [i32(), END]),
                                  DataSegment(MODE_PASSIVE, b"y")])
    bad("unknown memory 0", [], datas=[DataSegment(MODE_ACTIVE, b"x", 0, [i32(), END])])
    bad("type mismatch", [], mems=list(mem), datas=[DataSegment(MODE_ACTIVE, b"x", 0, [f32(), END])])


# ------------------------------------------------------------------ module level

def test_module_level_rules():
    def inv(reason, **kw):
        with pytest.raises(ValidationError) as ei:
            validate_module(Module(**kw))
        assert ei.value.reason.startswith(reason), ei.value.reason

    mem = MemoryType(Limits(1))
    inv("multiple memories", mems=[mem, mem])
    inv("multiple memories", mems=[mem], imports=[Import("m", "m", EXTERN_MEMORY, mem)])
    validate_module(Module(mems=[MemoryType(Limits(65536, 65536))]))
    inv("memory size must be at most 65536 pages (4GiB)", mems=[MemoryType(Limits(65537))])
    inv("memory size must be at most 65536 pages (4GiB)", mems=[MemoryType(Limits(0, 65537))])
    inv("size minimum must not be greater than maximum", mems=[MemoryType(Limits(2, 1))])
    inv("size minimum must not be greater than maximum", tables=[TableType(FUNCREF, Limits(2, 1))])
    validate_module(Module(tables=[TableType(FUNCREF, Limits(0, 2**32 - 1))] * 2))  # multiple tables ok
    inv("table size must be at most 2^32-1", tables=[TableType(FUNCREF, Limits(2**32))])
    inv("unknown type 0", imports=[Import("m", "f", EXTERN_FUNC, 0)])
    inv("unknown type 1", types=[FuncType()], funcs=[Function(1, [], [END])])
    f = Function(0, [], [END])
    inv("start function", types=[FuncType((I32,), ())], funcs=[f], start=0)
    inv("unknown function 1", types=[FuncType()], funcs=[Function(0, [], [END])], start=1)
    validate_module(Module(types=[FuncType()], funcs=[Function(0, [], [END])], start=0))
    inv("duplicate export name", types=[FuncType()], funcs=[Function(0, [], [END])],
        exports=[Export("a", EXTERN_FUNC, 0), Export("a", EXTERN_FUNC, 0)])
    inv("unknown function 1", exports=[Export("a", EXTERN_FUNC, 1)])
    inv("unknown table 0", exports=[Export("a", EXTERN_TABLE, 0)])
    inv("unknown memory 0", exports=[Export("a", EXTERN_MEMORY, 0)])
    inv("unknown global 0", exports=[Export("a", EXTERN_GLOBAL, 0)])


def test_memory_and_bulk_instructions():
    mem = dict(mems=[MemoryType(Limits(1))])
    ok([i32(), (0x28, (2, 0, 0))], results=(I32,), **mem)
    bad("unknown memory 0", [i32(), (0x28, (2, 0, 0))], results=(I32,))
    bad("alignment must not be larger than natural", [i32(), (0x28, (3, 0, 0))], results=(I32,), **mem)
    ok([i32(), i64(), (0x3C, (0, 0, 0))], **mem)
    bad("alignment must not be larger than natural", [i32(), i64(), (0x3C, (1, 0, 0))], **mem)
    ok([(0x3F, 0), (0x40, 0)], results=(I32,), **mem)
    bad("unknown memory 0", [(0x3F, 0)], results=(I32,))
    seg = dict(datas=[DataSegment(MODE_PASSIVE, b"")], data_count=1)
    ok([i32(), i32(), i32(), (fc(8), (0, 0)), (fc(9), 0)], **mem, **seg)
    bad("unknown data segment 1", [(fc(9), 1)], **mem, **seg)
    bad("unknown data segment 0", [i32(), i32(), i32(), (fc(8), (0, 0))], **mem)
    ok([i32(), i32(), i32(), (fc(10), (0, 0)), i32(), i32(), i32(), (fc(11), 0)], **mem)
    bad("unknown memory 0", [i32(), i32(), i32(), (fc(11), 0)])


def test_table_instructions():
    tabs = dict(tables=[TableType(FUNCREF, Limits(1)), TableType(EXTERNREF, Limits(1))],
                elems=[ElementSegment(MODE_PASSIVE, FUNCREF, [])])
    ok([i32(), (0x25, 1)], results=(EXTERNREF,), **tabs)
    ok([i32(), (0xD0, EXTERNREF), (0x26, 1)], **tabs)
    bad("type mismatch", [i32(), (0xD0, FUNCREF), (0x26, 1)], **tabs)
    ok([(0xD0, FUNCREF), i32(), (fc(15), 0), (fc(16), 1), I32_ADD], results=(I32,), **tabs)
    ok([i32(), (0xD0, EXTERNREF), i32(), (fc(17), 1)], **tabs)
    bad("unknown table 2", [(fc(16), 2)], results=(I32,), **tabs)
    ok([i32(), i32(), i32(), (fc(14), (0, 0))], **tabs)
    bad("type mismatch", [i32(), i32(), i32(), (fc(14), (0, 1))], **tabs)
    ok([i32(), i32(), i32(), (fc(12), (0, 0)), (fc(13), 0)], **tabs)
    bad("type mismatch", [i32(), i32(), i32(), (fc(12), (0, 1))], **tabs)
    bad("unknown elem segment 1", [(fc(13), 1)], **tabs)
    bad("unknown elem segment 1", [i32(), i32(), i32(), (fc(12), (1, 0))], **tabs)
    # call_indirect needs a funcref table
    ok([i32(), (0x11, (0, 0))], **tabs)
    bad("type mismatch", [i32(), (0x11, (0, 1))], **tabs)
    bad("unknown table 0", [i32(), (0x11, (0, 0))])
    bad("unknown type 5", [i32(), (0x11, (5, 0))], **tabs)


def test_calls():
    types = [FuncType((I64, F32), (I32,))]
    m = make([i64(), f32(), (0x10, 1)], results=(I32,), types=types)
    m.funcs.append(Function(1, [], [i32(), END]))
    validate_module(m)
    m = make([f32(), i64(), (0x10, 1)], results=(I32,), types=types)
    m.funcs.append(Function(1, [], [i32(), END]))
    with pytest.raises(ValidationError, match="type mismatch"):
        validate_module(m)
    bad("unknown function 1", [(0x10, 1)])


# ------------------------------------------------------------------ SIMD

def test_simd_lanes_and_alignment():
    mem = dict(mems=[MemoryType(Limits(1))])
    ok([v128(), (fd(21), 15)], results=(I32,))
    bad("invalid lane index", [v128(), (fd(21), 16)], results=(I32,))
    ok([v128(), (fd(29), 1)], results=(I64,))
    bad("invalid lane index", [v128(), (fd(29), 2)], results=(I64,))
    ok([v128(), f32(), (fd(32), 3)], results=(V128,))
    bad("type mismatch", [v128(), i32(), (fd(32), 3)], results=(V128,))
    ok([v128(), v128(), (fd(13), bytes(range(16, 32)))], results=(V128,))
    bad("invalid lane index", [v128(), v128(), (fd(13), bytes([32] + [0] * 15))], results=(V128,))
    ok([i32(), (fd(0), (4, 0, 0))], results=(V128,), **mem)
    bad("alignment must not be larger than natural", [i32(), (fd(0), (5, 0, 0))], results=(V128,), **mem)
    bad("alignment must not be larger than natural", [i32(), (fd(7), (1, 0, 0))], results=(V128,), **mem)
    ok([i32(), v128(), (fd(84), (0, 0, 0, 15))], results=(V128,), **mem)
    bad("invalid lane index", [i32(), v128(), (fd(84), (0, 0, 0, 16))], results=(V128,), **mem)
    bad("alignment must not be larger than natural", [i32(), v128(), (fd(87), (4, 0, 0, 0))],
        results=(V128,), **mem)
    ok([i32(), v128(), (fd(91), (3, 0, 0, 1))], **mem)
    bad("invalid lane index", [i32(), v128(), (fd(91), (3, 0, 0, 2))], **mem)
    bad("unknown memory 0", [i32(), v128(), (fd(91), (3, 0, 0, 1))])
    ok([v128(), i32(3), (fd(107), None)], results=(V128,))  # i8x16.shl
    bad("type mismatch", [v128(), v128(), (fd(107), None)], results=(V128,))


# ------------------------------------------------------------------ FunctionInfo

def test_function_info_partner_map():
    body = [
        (0x02, EMPTY),            # 0 block
        (0x03, bt(I32)),          # 1   loop
        i32(1),                   # 2
        END,                      # 3   end loop
        (0x04, EMPTY),            # 4   if
        NOP,                      # 5
        ELSE,                     # 6   else
        (0x04, EMPTY), i32(0), (0x0D, 0),  # 7 if (no else) 8 9
        END,                      # 10  end inner if
        END,                      # 11  end if
        END,                      # 12 end block
    ]
    # inner if needs a condition: rewrite 7..10 so the test body is valid
    body[7:11] = [i32(0), (0x04, EMPTY), (0x0C, 0), END]
    m = ok(body)
    info = m.funcs[0].info
    assert isinstance(info, FunctionInfo)
    assert info.partner == {0: 12, 12: 0, 1: 3, 3: 1, 4: 11, 11: 4, 6: 4, 8: 10, 10: 8}
    assert info.else_of == {4: 6}
    assert info.block_types == {0: ((), ()), 1: ((), (I32,)), 4: ((), ()), 8: ((), ())}
    assert info.heights == {0: 0, 1: 0, 4: 0, 8: 0}
    assert info.max_stack == 1


def test_function_info_heights_and_block_types_with_params():
    types = [FuncType((I32, I32), (I64,))]
    body = [
        i64(0), i32(1), i32(2),   # 0 1 2
        (0x02, 1),                # 3 block [i32 i32] -> [i64]
        DROP, DROP, i64(3),       # 4 5 6
        END,                      # 7
        I64_ADD,                  # 8
    ]
    m = ok(body, results=(I64,), types=types)
    info = m.funcs[0].info
    assert info.block_types == {3: ((I32, I32), (I64,))}
    assert info.heights == {3: 1}
    assert info.max_stack == 3
    assert info.partner == {3: 7, 7: 3}



def test_function_info_branch_heights():
    body = [
        i64(0),                   # 0
        (0x02, bt(I32)),          # 1 block -> i32, entered at height 1
        i32(5), i32(1),           # 2 3
        (0x0D, 0),                # 4 br_if 0: height 2 once the condition is popped
        i32(0),                   # 5
        (0x0E, ([0], 0)),         # 6 br_table: height 2 once the index is popped
        END,                      # 7
        DROP,                     # 8
        (0x0C, 0),                # 9 br to the function's label at height 1
        I32_ADD, DROP,            # 10 11 unreachable code
    ]
    info = ok(body).funcs[0].info
    assert info.heights == {1: 1}
    assert info.branch_heights == {4: 2, 6: 2, 9: 1}


def test_deep_nesting_uses_no_recursion():
    depth = 20000
    body = [(0x02, EMPTY)] * depth + [END] * depth
    m = ok(body)
    info = m.funcs[0].info
    assert info.partner[0] == 2 * depth - 1
    assert info.partner[depth - 1] == depth


def test_validate_function_single_body():
    m = make([i32(1)], results=(I32,))
    info = validate_function(m, 0)
    assert m.funcs[0].info is info and info.max_stack == 1


# ------------------------------------------------------------------ robustness

@pytest.mark.parametrize("body", [
    [lget(None)],                  # immediate of the wrong type
    [(0x28, (2, 0))],              # memarg too short
    [(0x0E, 5)],                   # br_table immediate not a pair
    [(0xFFFF, None)],              # unknown opcode
    [(0x02, EMPTY)],               # missing end of block (function end closes it)
    [END, NOP],                    # instruction after the function's end
    [(0x02, 0x7F)],                # block type index out of range
    [(0x02, -0x30)],               # block type that is no value type
    [(0x20, -1)],                  # negative index must not wrap around
])
def test_broken_bodies_raise_validation_error(body):
    m = Module(types=[FuncType()], funcs=[Function(0, [], list(body) + [END])],
               mems=[MemoryType(Limits(1))])
    with pytest.raises(ValidationError):
        validate_module(m)


def test_body_without_final_end():
    m = Module(types=[FuncType()], funcs=[Function(0, [], [NOP])])
    with pytest.raises(ValidationError):
        validate_module(m)
    m = Module(types=[FuncType()], funcs=[Function(0, [], [])])
    with pytest.raises(ValidationError):
        validate_module(m)


def test_validate_function_in_a_grown_copy_reuses_the_context(monkeypatch):
    """The compiler validates on-stack-replacement variants in copies of a module with
    a type and a function appended: their context extends the module's (no pass over
    the whole module), and checks the new function as a fresh one would."""
    import copy

    from pywazero.wasm import validation

    m = make([i32(1)], results=(I32,))
    validate_function(m, 0)
    built = []
    real = validation._Context.__init__
    monkeypatch.setattr(validation._Context, "__init__",
                        lambda self, *a, **k: (built.append(1), real(self, *a, **k))[1])

    def grown(body, params, results):
        g = copy.copy(m)
        g.types = m.types + [FuncType(tuple(params), tuple(results))]
        g.funcs = m.funcs + [Function(len(m.types), [], list(body) + [END])]
        return g

    g = grown([lget(1), lget(0), I32_SUB], (I32, I32), (I32,))
    info = validate_function(g, 1)
    assert info.max_stack == 2 and built == []
    # the appended type is the one the body is checked against
    g = grown([lget(1)], (I32, I64), (I32,))
    with pytest.raises(ValidationError) as ei:
        validate_function(g, 1)
    assert built == []
    monkeypatch.setattr(validation._Context, "__init__", real)
    fresh = grown([lget(1)], (I32, I64), (I32,))
    fresh.__dict__.pop("_body_ctx")
    with pytest.raises(ValidationError) as fe:
        validate_function(fresh, 1)
    assert ei.value.reason == fe.value.reason and "type mismatch" in ei.value.reason
    # the module's own context is left as it was
    assert validate_function(m, 0).max_stack == 1
