"""Handlers for the less frequent instructions: ``fn(S, inst, a, b)`` operates on the
operand stack ``S`` of the current frame and the frame's module instance ``inst``.

Keeping them out of the dispatch loop keeps that loop short.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

from ...errors import Trap, WasmException
from ...wasm import opcodes as ops
from ...wasm.module import Module
from ...wasm.types import I64
from ...wasm import bulk

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
_oob_mem = bulk.oob_memory
_oob_table = bulk.oob_table


def memory_size(S: List[Any], inst: Any, a: int, b: Any) -> None:
    S.append(len(inst.mems[a].data) >> 16)


def memory_grow(S: List[Any], inst: Any, a: int, b: Any) -> None:
    S[-1] = inst.mems[a].grow(S[-1]) & _M32


def memory_grow64(S: List[Any], inst: Any, a: int, b: Any) -> None:
    # a 64-bit memory (memory64): -1 is the i64 all-ones
    S[-1] = inst.mems[a].grow(S[-1]) & _M64


def memory_fill(S: List[Any], inst: Any, a: int, b: Any) -> None:
    n = S.pop()
    val = S.pop()
    bulk.memory_fill(inst.mems[a].data, S.pop(), val, n)


def memory_copy(S: List[Any], inst: Any, a: int, b: int) -> None:
    n = S.pop()
    s = S.pop()
    bulk.memory_copy(inst.mems[a].data, inst.mems[b].data, S.pop(), s, n)


def memory_init(S: List[Any], inst: Any, a: int, b: int) -> None:
    n = S.pop()
    s = S.pop()
    bulk.memory_init(inst.mems[b].data, inst.datas, a, S.pop(), s, n)


def data_drop(S: List[Any], inst: Any, a: int, b: Any) -> None:
    inst.datas[a] = b""


def ref_null(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    S.append(None)


def ref_is_null(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    S[-1] = 1 if S[-1] is None else 0


def ref_func(S: List[Any], inst: Any, a: int, b: Any) -> None:
    S.append(inst.funcs[a])


def ref_as_non_null(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    if S[-1] is None:
        raise Trap("null reference")


def br_on_null_test(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    """Before br_on_null's conditional branch: a null is dropped and the branch
    taken (1), anything else stays for the fall-through (0)."""
    if S[-1] is None:
        S[-1] = 1
    else:
        S.append(0)


def br_on_non_null_test(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    """Before br_on_non_null's conditional branch: a non-null reference stays as
    the label's last value (branch taken, 1), a null is dropped (0)."""
    if S[-1] is None:
        S[-1] = 0
    else:
        S.append(1)


def table_get(S: List[Any], inst: Any, a: int, b: Any) -> None:
    elems = inst.tables[a].elements
    i = S[-1]
    if i >= len(elems):
        raise _oob_table()
    S[-1] = elems[i]


def table_set(S: List[Any], inst: Any, a: int, b: Any) -> None:
    v = S.pop()
    i = S.pop()
    elems = inst.tables[a].elements
    if i >= len(elems):
        raise _oob_table()
    elems[i] = v


def table_size(S: List[Any], inst: Any, a: int, b: Any) -> None:
    S.append(len(inst.tables[a].elements))


def table_grow(S: List[Any], inst: Any, a: int, b: Any) -> None:
    n = S.pop()
    init = S[-1]
    S[-1] = inst.tables[a].grow(n, init) & _M32


def table_grow64(S: List[Any], inst: Any, a: int, b: Any) -> None:
    n = S.pop()
    init = S[-1]
    S[-1] = inst.tables[a].grow(n, init) & _M64


def table_fill(S: List[Any], inst: Any, a: int, b: Any) -> None:
    n = S.pop()
    val = S.pop()
    bulk.table_fill(inst.tables[a].elements, S.pop(), val, n)


def table_copy(S: List[Any], inst: Any, a: int, b: int) -> None:
    n = S.pop()
    s = S.pop()
    bulk.table_copy(inst.tables[a].elements, inst.tables[b].elements, S.pop(), s, n)


def table_init(S: List[Any], inst: Any, a: int, b: int) -> None:
    n = S.pop()
    s = S.pop()
    bulk.table_init(inst.tables[b].elements, inst.elems, a, S.pop(), s, n)


def elem_drop(S: List[Any], inst: Any, a: int, b: Any) -> None:
    inst.elems[a] = []


def _unsupported(name: str) -> Callable[..., Any]:
    def handler(S: List[Any], inst: Any, a: Any, b: Any) -> None:
        raise Trap(f"{name} is not supported by the interpreter")

    handler.__name__ = name.replace(".", "_")
    return handler


_FC = ops.fc

# op -> handler; a, b come from the immediate
_TABLE = {
    0x3F: memory_size,
    0x40: memory_grow,
    0xD0: ref_null,
    0xD1: ref_is_null,
    0xD2: ref_func,
    0xD4: ref_as_non_null,
    0x25: table_get,
    0x26: table_set,
    _FC(8): memory_init,
    _FC(9): data_drop,
    _FC(10): memory_copy,
    _FC(11): memory_fill,
    _FC(12): table_init,
    _FC(13): elem_drop,
    _FC(14): table_copy,
    _FC(15): table_grow,
    _FC(16): table_size,
    _FC(17): table_fill,
}


def _simd_handler(op: int, imm: Any) -> Tuple[Callable[..., Any], Any, Any]:
    """SIMD instructions come from engine/simd.py when it exists."""
    info = ops.BY_OP[op]
    try:
        from .. import simd
    except ImportError:
        return _unsupported(info.name), None, None
    make = getattr(simd, "interpreter_handler", None)
    if make is None:
        return _unsupported(info.name), None, None
    made: Tuple[Callable[..., Any], Any, Any] = make(op, imm)
    return made


def lookup(op: int, imm: Any, module: Module) -> Tuple[Callable[..., Any], Any, Any]:
    """``(handler, a, b)`` for instruction ``(op, imm)``."""
    fn = _TABLE.get(op)
    if fn is memory_grow and module.mem_types()[imm].address_type == I64:
        fn = memory_grow64
    elif fn is table_grow and module.table_types()[imm].address_type == I64:
        fn = table_grow64
    if fn is not None:
        if isinstance(imm, tuple):
            a, b = imm[0], imm[1]
        else:
            a, b = imm, None
        return fn, a, b
    if op >> 16 == ops.PREFIX_FB or op == 0xD3:
        from ...wasm import gcops as gc

        return gc.lookup(op, imm, module)
    info = ops.BY_OP.get(op)
    if info is None:
        raise ValueError(f"unknown opcode {op:#x}")
    if op >> 16 == 0xFD and info.params is not None:
        return _simd_handler(op, imm)
    raise ValueError(f"the interpreter cannot translate {info.name}")


# -- SIMD memory access (the lane arithmetic itself lives in engine/simd.py) ---------

def _simd_mem_handlers() -> Dict[int, Any]:
    from .. import simd

    def rd(inst: Any, mem: int, ea: int, n: int) -> int:
        data = inst.mems[mem].data
        if ea + n > len(data):
            raise _oob_mem()
        return int.from_bytes(data[ea:ea + n], "little")

    def wr(inst: Any, mem: int, ea: int, n: int, v: int) -> None:
        data = inst.mems[mem].data
        if ea + n > len(data):
            raise _oob_mem()
        data[ea:ea + n] = v.to_bytes(n, "little")

    def load(n: int, post: Any) -> Callable[..., Any]:
        def h(S: List[Any], inst: Any, off: int, mem: int) -> None:
            v = rd(inst, mem, S[-1] + off, n)
            S[-1] = v if post is None else post(v)
        return h

    def store(S: List[Any], inst: Any, off: int, mem: int) -> None:
        v = S.pop()
        wr(inst, mem, S.pop() + off, 16, v)

    def load_lane(n: int) -> Callable[..., Any]:
        bits = n * 8
        mask = (1 << bits) - 1

        def h(S: List[Any], inst: Any, off: int, b: Any) -> None:
            mem, lane = b
            v = S.pop()
            x = rd(inst, mem, S[-1] + off, n)
            shift = lane * bits
            S[-1] = (v & ~(mask << shift) & ((1 << 128) - 1)) | (x << shift)
        return h

    def store_lane(n: int) -> Callable[..., Any]:
        bits = n * 8
        mask = (1 << bits) - 1

        def h(S: List[Any], inst: Any, off: int, b: Any) -> None:
            mem, lane = b
            v = S.pop()
            wr(inst, mem, S.pop() + off, n, (v >> (lane * bits)) & mask)
        return h

    fd = ops.fd
    return {
        fd(0): load(16, None),
        fd(1): load(8, simd.i16x8_extend_low_i8x16_s), fd(2): load(8, simd.i16x8_extend_low_i8x16_u),
        fd(3): load(8, simd.i32x4_extend_low_i16x8_s), fd(4): load(8, simd.i32x4_extend_low_i16x8_u),
        fd(5): load(8, simd.i64x2_extend_low_i32x4_s), fd(6): load(8, simd.i64x2_extend_low_i32x4_u),
        fd(7): load(1, simd.i8x16_splat), fd(8): load(2, simd.i16x8_splat),
        fd(9): load(4, simd.i32x4_splat), fd(10): load(8, simd.i64x2_splat),
        fd(92): load(4, None), fd(93): load(8, None),
        fd(11): store,
        fd(84): load_lane(1), fd(85): load_lane(2), fd(86): load_lane(4), fd(87): load_lane(8),
        fd(88): store_lane(1), fd(89): store_lane(2), fd(90): store_lane(4), fd(91): store_lane(8),
    }


_SIMD_MEM: Dict[int, Any] = {}


def _ternary(f: Callable[..., Any]) -> Callable[..., Any]:
    def h(S: List[Any], inst: Any, a: Any, b: Any) -> None:
        z = S.pop()
        y = S.pop()
        S[-1] = f(S[-1], y, z)

    h.__name__ = getattr(f, "__name__", "ternary")
    return h


def simd_translate(op: int, imm: Any) -> Tuple[str, Any, Any, Any]:
    """How the interpreter runs SIMD instruction ``(op, imm)``:
    ``("un", f)`` / ``("bin", f)`` (pure functions of the operands) or
    ``("rare", handler, a, b)``."""
    from .. import simd

    info = ops.BY_OP[op]
    if info.imm in (ops.IMM_MEMARG, ops.IMM_MEMARG_LANE):
        if not _SIMD_MEM:
            _SIMD_MEM.update(_simd_mem_handlers())
        h = _SIMD_MEM[op]
        if info.imm == ops.IMM_MEMARG:
            return ("rare", h, imm[1], imm[2])
        return ("rare", h, imm[1], (imm[2], imm[3]))
    f = simd.FUNCTIONS[info.name]
    n = len(info.params)  # type: ignore[arg-type]  # (a SIMD instruction has them)
    if info.imm == ops.IMM_LANE:
        lane = imm
        if n == 1:
            return ("un", lambda v: f(v, lane), None, None)
        return ("bin", lambda v, x: f(v, lane, x), None, None)
    if info.imm == ops.IMM_SHUFFLE:
        lanes = bytes(imm)
        return ("bin", lambda a, b: f(a, b, lanes), None, None)
    if n == 1:
        return ("un", f, None, None)
    if n == 2:
        return ("bin", f, None, None)
    return ("rare", _ternary(f), None, None)


# -- exception handling (the handlers' search is in __init__.py) ---------------------

def throw(S: List[Any], inst: Any, a: int, b: int) -> None:
    """``throw a``: the tag's ``b`` payload values are the topmost."""
    if b:
        values = tuple(S[-b:])
        del S[-b:]
    else:
        values = ()
    raise WasmException._raw(inst.tags[a], values)


def throw_ref(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    """``throw_ref`` (and legacy ``rethrow``, whose exception is pushed first): an
    exnref is the WasmException object itself."""
    exc = S.pop()
    if exc is None:
        raise Trap("null exception reference")
    raise exc.with_traceback(None)
