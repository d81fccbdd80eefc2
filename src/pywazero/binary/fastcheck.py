"""A fused, single-pass check of a function body straight from the binary.

:class:`FastBodyChecker` reads a body's bytes once and checks both its encoding
and its typing for the instructions compiled C, C++ and Rust mostly consist of
(MVP numerics, locals and globals, loads and stores of memory 0, blocks of
numeric or type-index block types, branches, direct and ``call_indirect`` calls,
sign extension, saturating truncation, ``memory.copy``/``memory.fill``), without
building an instruction tuple, an offset list or a per-instruction call.

Its answer is either *valid* (the body decodes, and validates under the module's
features, exactly as the full decoder and validator would have it) or *don't
know*: anything outside its table, anything unusual (subtyping, an operand of
unreachable code, multi-byte block types, other memories or tables, ...) and
every error.  The decoder then reads that body the ordinary way, so every error
message, offset and ordering stays the full path's.  It must never call valid a
body the full path rejects; tests/unit/test_fastcheck.py checks that on the spec
suites' modules, on generated modules and on mutated bodies.

The typing rules are not restated here: the checker's table is built from the
validator's instruction table (:func:`pywazero.wasm.validation._table_for`, so
from :mod:`pywazero.wasm.opcodes`' signatures and the feature gates), and block
types, function types, globals, memories and tables come from the validator's
context for the module.

How it stays cheap: the operand stack is a list of value-type bytes with a
marker (0, never a type) under each control frame's operands, so a pop that
would cross into the enclosing frame fails an ordinary type comparison, and no
height is compared per instruction; reading past the section raises IndexError,
which (like every other surprise) just means *don't know*.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ..wasm import impl_limits as _L
from ..wasm import opcodes as _opc
from ..wasm import validation as _v
from ..wasm.types import F32, F64, FUNCREF, I32, I64
from . import decoder as _d

__all__ = ["FastBodyChecker"]

# The value types the checker follows; any other type (v128, references) in a
# signature, a local or a block type sends the body down the full path.
_FAST_TYPES = frozenset((I32, I64, F32, F64))
_MARK = 0  # frame marker on the operand stack (validation's _UNK: never a type)

# Fast kinds of the one-byte opcodes (0: don't know).
(_GIVE_UP, _BIN, _UN, _LOAD, _STORE, _LOCAL_SET, _LOCAL_TEE, _END, _BR_IF, _BLOCK, _LOOP, _IF,
 _ELSE, _BR, _CALL, _I64_CONST, _F32_CONST, _F64_CONST, _DROP, _SELECT, _RETURN, _BR_TABLE,
 _UNREACHABLE, _CALL_INDIRECT, _GLOBAL_GET, _GLOBAL_SET, _MEM_SIZE, _MEM_GROW, _PREFIX_FC,
 _NOP, _RETURN_CALL, _RETURN_CALL_INDIRECT) = range(32)

_u32 = _d._u32
_sleb = _d._sleb


class FastBodyChecker:
    """The fast path for one module (built once when the code section starts).

    ``ctx`` is the validator's context for the module (everything before the
    code section checked), ``kinds`` the decoder's opcode kind table of the
    module's features.  :meth:`check` is the per-body entry point."""

    __slots__ = ("kind", "p1", "res", "nat", "fc_un", "fc_mem", "blocks", "sigs", "calls",
                 "ci_ok", "ci_leb", "gget", "gset", "mem_ok", "check")

    def __init__(self, ctx: Any, kinds: List[int]) -> None:
        table = ctx.op_table
        fast = _FAST_TYPES
        kind = [_GIVE_UP] * 256
        p1: List[int] = [0] * 256    # the (top) operand's type
        res: List[int] = [0] * 256   # the result type (0: none)
        nat: List[int] = [0] * 256   # a memory access's natural alignment
        mem_ok = ctx.nmems >= 1 and ctx.mem_at[0] == I32
        for op in range(256):
            ent = table.get(op)
            if ent is None or kinds[op] == _d._K_ILLEGAL:
                continue
            k, p, r, extra = ent
            if k == _v.K_BIN and kinds[op] == _d._K_PLAIN:
                if p[0] == p[1] and p[0] in fast and r[0] in fast:
                    kind[op], p1[op], res[op] = _BIN, p[0], r[0]
            elif k == _v.K_UN and kinds[op] == _d._K_PLAIN:
                if p[0] in fast and r[0] in fast:
                    kind[op], p1[op], res[op] = _UN, p[0], r[0]
            elif k == _v.K_LOAD and mem_ok and r[0] in fast:
                kind[op], res[op], nat[op] = _LOAD, r[0], extra
            elif k == _v.K_STORE and mem_ok and p[1] in fast:
                kind[op], p1[op], nat[op] = _STORE, p[1], extra
        simple = {
            0x00: _UNREACHABLE, 0x01: _NOP, 0x02: _BLOCK, 0x03: _LOOP, 0x04: _IF, 0x05: _ELSE,
            0x0B: _END, 0x0C: _BR, 0x0D: _BR_IF, 0x0E: _BR_TABLE, 0x0F: _RETURN, 0x10: _CALL,
            0x11: _CALL_INDIRECT, 0x1A: _DROP, 0x1B: _SELECT, 0x21: _LOCAL_SET, 0x22: _LOCAL_TEE,
            0x23: _GLOBAL_GET, 0x24: _GLOBAL_SET, 0x42: _I64_CONST, 0x43: _F32_CONST,
            0x44: _F64_CONST, 0x12: _RETURN_CALL, 0x13: _RETURN_CALL_INDIRECT,
        }
        for op, k in simple.items():
            ent = table.get(op)
            if ent is not None and ent[0] != _v.K_DISABLED and kinds[op] != _d._K_ILLEGAL:
                kind[op] = k
        if mem_ok:
            for op, k in ((0x3F, _MEM_SIZE), (0x40, _MEM_GROW)):
                if table.get(op, (_v.K_DISABLED,))[0] == _v.K_MEMIDX:
                    kind[op] = k
        # 0xFC: the saturating truncations, memory.copy and memory.fill
        fc_un: List[Optional[Tuple[int, int]]] = [None] * 128
        fc_mem = [False] * 128
        for sub in range(128):
            ent = table.get(_opc.fc(sub))
            if ent is None or ent[0] == _v.K_DISABLED:
                continue
            if ent[0] == _v.K_UN and ent[1][0] in fast and ent[2][0] in fast:
                fc_un[sub] = (ent[1][0], ent[2][0])
            elif (sub == 10 and ent[0] == _v.K_MEMORY_COPY) or (sub == 11 and ent[0] == _v.K_MEMIDX):
                fc_mem[sub] = mem_ok
        kind[0xFC] = _PREFIX_FC
        self.kind, self.p1, self.res, self.nat = kind, p1, res, nat
        self.fc_un, self.fc_mem, self.mem_ok = fc_un, fc_mem, mem_ok
        # Block types by their first byte: the validator's own resolution (None:
        # the full path decides, e.g. v128, references, multi-byte type indices).
        blocks: List[Optional[Tuple[list, list]]] = [None] * 256
        cache: dict = {}
        for b in range(256):
            if b == 0x40:
                bt = -0x40
            elif b < 0x40:
                bt = b
            elif b in (0x7F, 0x7E, 0x7D, 0x7C):
                bt = b - 0x80
            else:
                continue
            try:
                bp, br, _sig = _v._resolve_blocktype(ctx, bt, cache)
            except _v._Fail:
                continue
            if all(t in fast for t in bp) and all(t in fast for t in br):
                blocks[b] = (list(bp), list(br))
        self.blocks = blocks
        # Function types as (params, results) lists, None when not followed here.
        sigs: List[Optional[Tuple[list, list]]] = []
        for t in ctx.types:
            if isinstance(t, tuple) and all(x in fast for x in t[0]) and all(x in fast for x in t[1]):
                sigs.append((t[0], t[1]))
            else:
                sigs.append(None)
        self.sigs = sigs
        ntypes = len(sigs)
        self.calls = [sigs[ti] if isinstance(ti, int) and 0 <= ti < ntypes else None
                      for ti in ctx.func_type_idx]
        self.ci_ok = (len(ctx.tables) >= 1 and ctx.tables[0] == FUNCREF and ctx.table_at[0] == I32)
        # (without reference types the table index is one zero byte, never a LEB)
        self.ci_leb = kinds[0x11] == _d._K_CALL_INDIRECT
        self.gget = [t if t in fast else 0 for t, _m in ctx.globals]
        self.gset = [t if (t in fast and m) else 0 for t, m in ctx.globals]
        self.check = self._check

    def _check(self, buf: bytes, pos: int, type_index: int,
               locals_: List[Tuple[int, int]]) -> int:
        """Check the body whose instructions start at ``buf[pos]``.  Returns the
        position after its final end when it is valid, or -1 when the full path
        must decide.  (Instructions are not counted: that would cost ~10% here.)"""
        try:
            sig = self.sigs[type_index]
        except (IndexError, TypeError):
            return -1
        if sig is None:
            return -1
        params, results = sig
        lt = list(params)
        fast = _FAST_TYPES
        for c, t in locals_:
            if t not in fast:
                return -1
            if c:
                if c + len(lt) > _L.MAX_FUNCTION_LOCALS:
                    return -1
                lt.extend([t] * c)
        try:
            return self._run(buf, pos, lt, results)
        except (IndexError, _d._Err, TypeError, KeyError):
            return -1

    def _run(self, buf: bytes, pos: int, lt: List[int], results: list) -> int:
        kind = self.kind
        p1 = self.p1
        res = self.res
        nat = self.nat
        blocks = self.blocks
        calls = self.calls
        u32 = _u32
        I32_ = I32
        st: List[int] = [_MARK]
        push = st.append
        pop = st.pop
        # control frames: (marker index, label types, end types, opener kind,
        # params, the enclosing frame's unreachable flag)
        ctrl: List[tuple] = [(0, results, results, _BLOCK, [], False)]
        h = 0            # the current frame's marker index
        unr = False      # the current frame is unreachable (after br, return, ...)
        while True:
            op = buf[pos]
            pos += 1
            if op == 0x20:  # local.get
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                push(lt[x])
                continue
            if op == 0x41:  # i32.const
                if buf[pos] < 0x80:
                    pos += 1
                elif buf[pos + 1] < 0x80:
                    pos += 2
                elif buf[pos + 2] < 0x80:
                    pos += 3
                else:
                    _x, pos = _sleb(buf, pos, 32)
                push(I32_)
                continue
            k = kind[op]
            if k == _BIN:
                t = p1[op]
                if st[-1] != t or st[-2] != t:
                    return -1
                pop()
                st[-1] = res[op]
            elif k == _LOAD:
                a = buf[pos]
                if a > nat[op]:
                    return -1
                if buf[pos + 1] < 0x80:
                    pos += 2
                else:
                    _x, pos = u32(buf, pos + 1)
                if st[-1] != I32_:
                    return -1
                st[-1] = res[op]
            elif k == _BR_IF:
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                if st[-1] != I32_:
                    return -1
                pop()
                lab = ctrl[-1 - x][1]
                if lab:
                    if st[-len(lab):] != lab:
                        return -1
            elif k == _LOCAL_TEE or k == _LOCAL_SET:
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                if st[-1] != lt[x]:
                    return -1
                if k == _LOCAL_SET:
                    pop()
            elif k == _END:
                fr = ctrl.pop()
                et = fr[2]
                ne = len(et)
                if unr:
                    have = len(st) - h - 1
                    if have > ne or (have and st[h + 1:] != et[ne - have:]):
                        return -1
                elif len(st) != h + 1 + ne or (ne and st[-ne:] != et):
                    return -1
                if fr[3] == _IF and fr[4] != et:
                    return -1
                del st[h:]
                if not ctrl:
                    return pos
                st.extend(et)
                unr = fr[5]
                h = ctrl[-1][0]
            elif k == _STORE:
                a = buf[pos]
                if a > nat[op]:
                    return -1
                if buf[pos + 1] < 0x80:
                    pos += 2
                else:
                    _x, pos = u32(buf, pos + 1)
                if st[-1] != p1[op] or st[-2] != I32_:
                    return -1
                del st[-2:]
            elif k == _BLOCK or k == _LOOP or k == _IF:
                sig = blocks[buf[pos]]
                if sig is None:
                    return -1
                pos += 1
                if k == _IF:
                    if st[-1] != I32_:
                        return -1
                    pop()
                bp, br = sig
                np_ = len(bp)
                if np_:
                    if st[-np_:] != bp:
                        return -1
                    del st[-np_:]
                ctrl.append((len(st), bp if k == _LOOP else br, br, k, bp, unr))
                h = len(st)
                push(_MARK)
                if np_:
                    st.extend(bp)
                unr = False
            elif k == _BR or k == _RETURN:
                if k == _BR:
                    x = buf[pos]
                    if x < 0x80:
                        pos += 1
                    else:
                        x, pos = u32(buf, pos)
                    lab = ctrl[-1 - x][1]
                else:
                    lab = results
                if lab:
                    if st[-len(lab):] != lab:
                        return -1
                del st[h + 1:]
                unr = True
            elif k == _CALL:
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                sig = calls[x]
                if sig is None:
                    return -1
                cp, cr = sig
                if cp:
                    np_ = len(cp)
                    if st[-np_:] != cp:
                        return -1
                    del st[-np_:]
                if cr:
                    st.extend(cr)
            elif k == _UN:
                if st[-1] != p1[op]:
                    return -1
                st[-1] = res[op]
            elif k == _I64_CONST:
                if buf[pos] < 0x80:
                    pos += 1
                else:
                    _x, pos = _sleb(buf, pos, 64)
                push(I64)
            elif k == _DROP:
                if st[-1] == _MARK:
                    return -1
                pop()
            elif k == _SELECT:
                t = st[-2]
                if st[-1] != I32_ or t == _MARK or st[-3] != t:
                    return -1
                del st[-2:]
            elif k == _ELSE:
                fr = ctrl[-1]
                if fr[3] != _IF:
                    return -1
                et = fr[2]
                ne = len(et)
                if unr:
                    have = len(st) - h - 1
                    if have > ne or (have and st[h + 1:] != et[ne - have:]):
                        return -1
                elif len(st) != h + 1 + ne or (ne and st[-ne:] != et):
                    return -1
                ctrl[-1] = (h, fr[1], et, _ELSE, fr[4], fr[5])
                del st[h + 1:]
                st.extend(fr[4])
                unr = False
            elif k == _BR_TABLE:
                start = pos
                cnt, pos = u32(buf, pos)
                if cnt > _v._MAX_BR_TABLE or cnt > len(buf) - start:
                    return -1
                labs = []
                for _ in range(cnt):
                    x = buf[pos]
                    if x < 0x80:
                        pos += 1
                    else:
                        x, pos = u32(buf, pos)
                    labs.append(x)
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                dt = ctrl[-1 - x][1]
                for x in labs:
                    lab = ctrl[-1 - x][1]
                    if lab is not dt and lab != dt:
                        return -1
                if st[-1] != I32_:
                    return -1
                pop()
                if dt:
                    if st[-len(dt):] != dt:
                        return -1
                del st[h + 1:]
                unr = True
            elif k == _UNREACHABLE:
                del st[h + 1:]
                unr = True
            elif k == _F32_CONST:
                pos += 4
                push(F32)
            elif k == _F64_CONST:
                pos += 8
                push(F64)
            elif k == _GLOBAL_GET or k == _GLOBAL_SET:
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                if k == _GLOBAL_GET:
                    t = self.gget[x]
                    if not t:
                        return -1
                    push(t)
                else:
                    t = self.gset[x]
                    if not t or st[-1] != t:
                        return -1
                    pop()
            elif k == _CALL_INDIRECT:
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                if buf[pos] == 0:
                    pos += 1
                else:  # (toolchains may pad the table index to 5 bytes)
                    tab, pos = u32(buf, pos)
                    if tab != 0 or not self.ci_leb:
                        return -1
                if not self.ci_ok:
                    return -1
                sig = self.sigs[x]
                if sig is None or st[-1] != I32_:
                    return -1
                pop()
                cp, cr = sig
                if cp:
                    np_ = len(cp)
                    if st[-np_:] != cp:
                        return -1
                    del st[-np_:]
                if cr:
                    st.extend(cr)
            elif k == _MEM_SIZE or k == _MEM_GROW:
                if buf[pos] != 0:
                    return -1
                pos += 1
                if k == _MEM_SIZE:
                    push(I32_)
                elif st[-1] != I32_:
                    return -1
            elif k == _PREFIX_FC:
                sub = buf[pos]
                pos += 1
                if sub < 8:
                    sig = self.fc_un[sub]
                    if sig is None or st[-1] != sig[0]:
                        return -1
                    st[-1] = sig[1]
                elif (sub == 10 or sub == 11) and self.fc_mem[sub]:
                    if buf[pos] != 0:
                        return -1
                    if sub == 10:
                        if buf[pos + 1] != 0:
                            return -1
                        pos += 2
                    else:
                        pos += 1
                    if st[-1] != I32_ or st[-2] != I32_ or st[-3] != I32_:
                        return -1
                    del st[-3:]
                else:
                    return -1
            elif k == _NOP:
                pass
            elif k == _RETURN_CALL or k == _RETURN_CALL_INDIRECT:
                # the callee's results must be the function's; then as after return
                x = buf[pos]
                if x < 0x80:
                    pos += 1
                else:
                    x, pos = u32(buf, pos)
                if k == _RETURN_CALL:
                    sig = calls[x]
                else:
                    if buf[pos] == 0:
                        pos += 1
                    else:
                        tab, pos = u32(buf, pos)
                        if tab != 0 or not self.ci_leb:
                            return -1
                    if not self.ci_ok or st[-1] != I32_:
                        return -1
                    pop()
                    sig = self.sigs[x]
                if sig is None or sig[1] != results:
                    return -1
                cp = sig[0]
                if cp:
                    if st[-len(cp):] != cp:
                        return -1
                del st[h + 1:]
                unr = True
            else:
                return -1
