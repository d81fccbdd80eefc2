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

How it stays cheap (~250-300 ns per instruction on CPython 3.11, against ~800
for decoding into tuples and validating those): the body's bytes are iterated
over (opcodes from a ``for`` loop, immediates with ``next``; one- and two-byte
LEB128 immediates inline); the operand stack is a list of value-type bytes with
a marker (0, never a type) under each control frame's operands, so a pop that
would cross into the enclosing frame fails an ordinary type comparison and no
height is compared per instruction; instructions are not counted
(``Function.size`` counts on first read).  Running out of bytes
(StopIteration), an index out of range (IndexError) and an immediate the decoder
would refuse all just mean *don't know*.

Unreachable code: after ``br``/``return``/``unreachable``/``br_table`` the
frame's operands are dropped down to its marker; instructions that only push
still work, anything popping below the marker gives up, and ``end``/``else``
accept what is left when it matches a suffix of the frame's results (the
polymorphic stack's rule, restricted to known types).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..wasm import impl_limits as _L
from ..wasm import opcodes as _opc
from ..wasm import validation as _v
from ..wasm.types import EXNREF, F32, F64, FUNCREF, I32, I64
from . import decoder as _d

__all__ = ["FastBodyChecker"]

# The value types the checker follows; any other type (v128, references) in a
# signature, a local or a block type sends the body down the full path.
_FAST_TYPES = frozenset((I32, I64, F32, F64))
_MARK = 0  # frame marker on the operand stack (validation's _UNK: never a type)

# Fast kinds of the one-byte opcodes (0: don't know).  _run compares against
# these numbers literally (a constant is cheaper than a global in its loop).
(_GIVE_UP, _BIN, _UN, _LOAD, _STORE, _LOCAL_SET, _LOCAL_TEE, _END, _BR_IF, _BLOCK, _LOOP, _IF,
 _ELSE, _BR, _CALL, _I64_CONST, _F32_CONST, _F64_CONST, _DROP, _SELECT, _RETURN, _BR_TABLE,
 _UNREACHABLE, _CALL_INDIRECT, _GLOBAL_GET, _GLOBAL_SET, _MEM_SIZE, _MEM_GROW, _PREFIX_FC,
 _NOP, _RETURN_CALL, _RETURN_CALL_INDIRECT, _TRY_TABLE, _THROW, _THROW_REF) = range(35)



class FastBodyChecker:
    """The fast path for one module (built once when the code section starts).

    ``ctx`` is the validator's context for the module (everything before the
    code section checked), ``kinds`` the decoder's opcode kind table of the
    module's features.  :meth:`check` is the per-body entry point."""

    __slots__ = ("kind", "p1", "res", "nat", "fc_un", "fc_mem", "blocks", "sigs", "calls",
                 "ci_ok", "ci_leb", "gget", "gset", "mem_ok", "fast", "tag_params", "check")

    def __init__(self, ctx: Any, kinds: List[int]) -> None:
        table = ctx.op_table
        # (exnref joins the followed types when the exception feature allows it:
        # C++ compiled with exceptions keeps caught exceptions in exnref locals)
        fast = _FAST_TYPES | {EXNREF} if EXNREF in ctx.valtypes else _FAST_TYPES
        self.fast = fast
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
            0x1F: _TRY_TABLE, 0x08: _THROW, 0x0A: _THROW_REF,
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
        blocks: List[Optional[Tuple[List[int], List[int]]]] = [None] * 256
        cache: Dict[Any, Any] = {}
        for b in range(256):
            if b == 0x40:
                bt = -0x40
            elif b < 0x40:
                bt = b
            elif b in (0x7F, 0x7E, 0x7D, 0x7C, EXNREF):
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
        sigs: List[Optional[Tuple[List[int], List[int]]]] = []
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
        # each tag's payload types (its type's parameters), None when not followed
        self.tag_params = [sigs[ti][0] if isinstance(ti, int) and 0 <= ti < ntypes and sigs[ti] is not None  # type: ignore[index]
                           and not sigs[ti][1] else None for ti in ctx.tags]  # type: ignore[index]
        self.gget = [t if t in fast else 0 for t, _m in ctx.globals]
        self.gset = [t if (t in fast and m) else 0 for t, m in ctx.globals]
        self.check = self._check

    def _check(self, code: bytes, type_index: int, locals_: List[Tuple[int, int]]) -> bool:
        """Whether ``code``, a body's instructions (its bytes after the local
        declarations, up to the end its size declares), is certainly a well-formed
        and valid body of a function of type ``type_index`` with ``locals_``.
        False means don't know: the full path decides."""
        try:
            sig = self.sigs[type_index]
        except (IndexError, TypeError):
            return False
        if sig is None:
            return False
        params, results = sig
        lt = list(params)
        fast = self.fast
        for c, t in locals_:
            if t not in fast:
                return False
            if c:
                if c + len(lt) > _L.MAX_FUNCTION_LOCALS:
                    return False
                lt.extend([t] * c)
        try:
            return self._run(iter(code), lt, results)
        except (_GiveUp, StopIteration, IndexError, TypeError, KeyError):
            return False

    def _run(self, it: Iterator[int], lt: List[int], results: List[int]) -> bool:
        # (iterating over the bytes is cheaper than indexing them; immediates are
        # read with next(it), the LEB128 helpers' rare bytes with nxt(); running out
        # of bytes raises StopIteration)
        nxt = it.__next__
        kind = self.kind
        p1 = self.p1
        res = self.res
        nat = self.nat
        blocks = self.blocks
        calls = self.calls
        u32 = _u32_rest
        I32_ = I32
        st: List[int] = [_MARK]
        push = st.append
        pop = st.pop
        # control frames: (marker index, label types, end types, opener kind,
        # params, the enclosing frame's unreachable flag)
        ctrl: List[Tuple[int, List[int], List[int], int, List[int], bool]] = [(0, results, results, 9, [], False)]
        h = 0            # the current frame's marker index
        unr = False      # the current frame is unreachable (after br, return, ...)
        for op in it:
            if op == 0x20:  # local.get
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                push(lt[x])
                continue
            if op == 0x41:  # i32.const
                # (inline up to the fifth byte: linkers pad relocated addresses to
                # five bytes, and a helper call per such constant cost ~8% of a
                # module's check)
                if next(it) >= 0x80 and next(it) >= 0x80 and next(it) >= 0x80 and next(it) >= 0x80:
                    b = next(it)
                    # the fifth byte: no continuation, its unused bits equal to the sign bit
                    if b & 0x80 or (b & 0x78 != 0 and b & 0x78 != 0x78):
                        return False
                push(I32_)
                continue
            k = kind[op]
            if k == 1:  # BIN
                t = p1[op]
                if st[-1] != t or st[-2] != t:
                    return False
                pop()
                st[-1] = res[op]
            elif k == 3:  # LOAD
                if next(it) > nat[op]:
                    return False
                if next(it) >= 0x80 and next(it) >= 0x80:
                    _skip_u32(nxt, 2)
                if st[-1] != I32_:
                    return False
                st[-1] = res[op]
            elif k == 5 or k == 6:  # LOCAL_SET, LOCAL_TEE
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                if st[-1] != lt[x]:
                    return False
                if k == 5:
                    pop()
            elif k == 8:  # BR_IF
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                if st[-1] != I32_:
                    return False
                pop()
                lab = ctrl[-1 - x][1]
                if lab:
                    if st[-len(lab):] != lab:
                        return False
            elif k == 7:  # END
                fr = ctrl.pop()
                et = fr[2]
                ne = len(et)
                if unr:
                    have = len(st) - h - 1
                    if have > ne or (have and st[h + 1:] != et[ne - have:]):
                        return False
                elif len(st) != h + 1 + ne or (ne and st[-ne:] != et):
                    return False
                if fr[3] == 11 and fr[4] != et:  # an if without else
                    return False
                if not ctrl:
                    # the body's declared size must end with this end
                    return next(it, None) is None
                del st[h:]
                st.extend(et)
                unr = fr[5]
                h = ctrl[-1][0]
            elif k == 4:  # STORE
                if next(it) > nat[op]:
                    return False
                if next(it) >= 0x80 and next(it) >= 0x80:
                    _skip_u32(nxt, 2)
                if st[-1] != p1[op] or st[-2] != I32_:
                    return False
                del st[-2:]
            elif k == 9 or k == 10 or k == 11:  # BLOCK, LOOP, IF
                sig = blocks[next(it)]
                if sig is None:
                    return False
                if k == 11:
                    if st[-1] != I32_:
                        return False
                    pop()
                bp, br = sig
                np_ = len(bp)
                if np_:
                    if st[-np_:] != bp:
                        return False
                    del st[-np_:]
                h = len(st)
                ctrl.append((h, bp if k == 10 else br, br, k, bp, unr))
                push(_MARK)
                if np_:
                    st.extend(bp)
                unr = False
            elif k == 13 or k == 20:  # BR, RETURN
                if k == 13:
                    x = next(it)
                    if x >= 0x80:
                        x = u32(x, nxt)
                    lab = ctrl[-1 - x][1]
                else:
                    lab = results
                if lab:
                    if st[-len(lab):] != lab:
                        return False
                del st[h + 1:]
                unr = True
            elif k == 14:  # CALL
                x = next(it)
                if x >= 0x80:
                    # (inline: linkers pad function indices to five bytes)
                    b = next(it)
                    x = (x & 0x7F) | ((b & 0x7F) << 7)
                    if b >= 0x80:
                        b = next(it)
                        x |= (b & 0x7F) << 14
                        if b >= 0x80:
                            b = next(it)
                            x |= (b & 0x7F) << 21
                            if b >= 0x80:
                                b = next(it)
                                if b & 0xF0:   # a value bit past 32, or a sixth byte
                                    return False
                                x |= b << 28
                sig = calls[x]
                if sig is None:
                    return False
                cp, cr = sig
                if cp:
                    np_ = len(cp)
                    if st[-np_:] != cp:
                        return False
                    del st[-np_:]
                if cr:
                    st.extend(cr)
            elif k == 2:  # UN
                if st[-1] != p1[op]:
                    return False
                st[-1] = res[op]
            elif k == 15:  # I64_CONST
                if next(it) >= 0x80 and next(it) >= 0x80:
                    _skip_s64(nxt, 2)
                push(I64)
            elif k == 18:  # DROP
                if st[-1] == _MARK:
                    return False
                pop()
            elif k == 19:  # SELECT (untyped: numeric operands only, 0x7C..0x7F)
                t = st[-2]
                if st[-1] != I32_ or t < 0x7C or st[-3] != t:
                    return False
                del st[-2:]
            elif k == 12:  # ELSE
                fr = ctrl[-1]
                if fr[3] != 11:
                    return False
                et = fr[2]
                ne = len(et)
                if unr:
                    have = len(st) - h - 1
                    if have > ne or (have and st[h + 1:] != et[ne - have:]):
                        return False
                elif len(st) != h + 1 + ne or (ne and st[-ne:] != et):
                    return False
                ctrl[-1] = (h, fr[1], et, 12, fr[4], fr[5])
                del st[h + 1:]
                st.extend(fr[4])
                unr = False
            elif k == 21:  # BR_TABLE
                cnt = next(it)
                if cnt >= 0x80:
                    cnt = u32(cnt, nxt)
                if cnt > _v._MAX_BR_TABLE:
                    return False
                labs = []
                for _ in range(cnt):   # (each label takes a byte: bounded by the body)
                    x = next(it)
                    if x >= 0x80:
                        x = u32(x, nxt)
                    labs.append(x)
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                dt = ctrl[-1 - x][1]
                for x in labs:
                    lab = ctrl[-1 - x][1]
                    if lab is not dt and lab != dt:
                        return False
                if st[-1] != I32_:
                    return False
                pop()
                if dt:
                    if st[-len(dt):] != dt:
                        return False
                del st[h + 1:]
                unr = True
            elif k == 22:  # UNREACHABLE
                del st[h + 1:]
                unr = True
            elif k == 16:  # F32_CONST
                next(it), next(it), next(it), next(it)
                push(F32)
            elif k == 17:  # F64_CONST
                next(it), next(it), next(it), next(it), next(it), next(it), next(it), next(it)
                push(F64)
            elif k == 24 or k == 25:  # GLOBAL_GET, GLOBAL_SET
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                if k == 24:
                    t = self.gget[x]
                    if not t:
                        return False
                    push(t)
                else:
                    t = self.gset[x]
                    if not t or st[-1] != t:
                        return False
                    pop()
            elif k == 23 or k == 31:  # CALL_INDIRECT, RETURN_CALL_INDIRECT
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                tab = next(it)
                # (toolchains may pad the table index to 5 bytes; without reference
                # types it is one zero byte)
                if tab >= 0x80:
                    if not self.ci_leb:
                        return False
                    tab = u32(tab, nxt)
                if tab != 0 or not self.ci_ok or st[-1] != I32_:
                    return False
                pop()
                sig = self.sigs[x]
                if sig is None:
                    return False
                cp, cr = sig
                if k == 31 and cr != results:
                    return False
                if cp:
                    np_ = len(cp)
                    if st[-np_:] != cp:
                        return False
                    del st[-np_:]
                if k == 31:
                    del st[h + 1:]
                    unr = True
                elif cr:
                    st.extend(cr)
            elif k == 30:  # RETURN_CALL: the callee's results must be the function's
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                sig = calls[x]
                if sig is None or sig[1] != results:
                    return False
                cp = sig[0]
                if cp:
                    if st[-len(cp):] != cp:
                        return False
                del st[h + 1:]
                unr = True
            elif k == 26 or k == 27:  # MEM_SIZE, MEM_GROW
                if next(it) != 0:
                    return False
                if k == 26:
                    push(I32_)
                elif st[-1] != I32_:
                    return False
            elif k == 28:  # PREFIX_FC
                sub = next(it)
                if sub < 8:
                    un = self.fc_un[sub]
                    if un is None or st[-1] != un[0]:
                        return False
                    st[-1] = un[1]
                elif (sub == 10 or sub == 11) and self.fc_mem[sub]:
                    if next(it) != 0 or (sub == 10 and next(it) != 0):
                        return False
                    if st[-1] != I32_ or st[-2] != I32_ or st[-3] != I32_:
                        return False
                    del st[-3:]
                else:
                    return False
            elif k == 29:  # NOP
                pass
            elif k == 32:  # TRY_TABLE: a block whose catch clauses branch out
                sig = blocks[next(it)]
                if sig is None:
                    return False
                cnt = next(it)
                if cnt >= 0x80:
                    cnt = u32(cnt, nxt)
                for _ in range(cnt):   # (each clause takes 2 bytes: bounded by the body)
                    ck = next(it)
                    if ck > 3:
                        return False
                    if ck < 2:   # catch / catch_ref: the tag's payload
                        x = next(it)
                        if x >= 0x80:
                            x = u32(x, nxt)
                        passed = self.tag_params[x]
                        if passed is None:
                            return False
                    else:
                        passed = []
                    x = next(it)
                    if x >= 0x80:
                        x = u32(x, nxt)
                    lab = ctrl[-1 - x][1]
                    if ck & 1:   # *_ref: also the exception, a (ref exn) <: exnref
                        if lab[:-1] != passed or lab[-1:] != [EXNREF]:
                            return False
                    elif lab != passed:
                        return False
                bp, br = sig
                np_ = len(bp)
                if np_:
                    if st[-np_:] != bp:
                        return False
                    del st[-np_:]
                h = len(st)
                ctrl.append((h, br, br, 9, bp, unr))
                push(_MARK)
                if np_:
                    st.extend(bp)
                unr = False
            elif k == 33 or k == 34:  # THROW, THROW_REF
                if k == 33:
                    x = next(it)
                    if x >= 0x80:
                        x = u32(x, nxt)
                    tp = self.tag_params[x]
                    if tp is None:
                        return False
                    if tp:
                        if st[-len(tp):] != tp:
                            return False
                elif st[-1] != EXNREF:
                    return False
                del st[h + 1:]
                unr = True
            else:
                return False
        return False   # (out of bytes before the final end)


class _GiveUp(Exception):
    """An immediate the decoder would refuse (the fast path just gives up)."""


def _u32_rest(b: int, nxt: Callable[[], int], b2: int = -1) -> int:
    """The rest of a u32 LEB128 whose first byte ``b`` has the continuation bit
    (``b2``: its second byte, when already read); the decoder's rules (at most 5
    bytes, value < 2**32)."""
    result = b & 0x7F
    b = nxt() if b2 < 0 else b2
    result |= (b & 0x7F) << 7
    if b < 0x80:
        return result
    b = nxt()
    result |= (b & 0x7F) << 14
    if b < 0x80:
        return result
    b = nxt()
    result |= (b & 0x7F) << 21
    if b < 0x80:
        return result
    b = nxt()
    if b & 0xF0:   # a value bit past 32, or a sixth byte
        raise _GiveUp
    return result | (b << 28)


def _last_byte(nxt: Callable[[], int], most: int, read: int) -> int:
    """Skip the continuation bytes of a LEB128 of at most ``most`` bytes, of which
    ``read`` bytes, all with the continuation bit, were read: -1 if it ends
    early, else its last possible byte (whose value bits the caller checks)."""
    for _ in range(most - 1 - read):
        if nxt() < 0x80:
            return -1
    return nxt()


def _skip_u32(nxt: Callable[[], int], read: int = 1) -> None:
    """Skip the rest of a u32 LEB128 (see _last_byte)."""
    b = _last_byte(nxt, 5, read)
    if b > 0 and b & 0xF0:   # a value bit past 32, or a sixth byte
        raise _GiveUp


def _skip_s32(nxt: Callable[[], int], read: int = 1) -> None:
    """Skip the rest of an s32 LEB128 (see _last_byte)."""
    b = _last_byte(nxt, 5, read)
    # the fifth byte: no continuation, and its unused bits equal to the sign bit
    if b > 0 and (b & 0x80 or (b & 0x78 != 0 and b & 0x78 != 0x78)):
        raise _GiveUp


def _skip_s64(nxt: Callable[[], int], read: int = 1) -> None:
    """Skip the rest of an s64 LEB128 (see _last_byte)."""
    b = _last_byte(nxt, 10, read)
    # the tenth byte: 0 or 0x7F (the sign bit repeated)
    if b > 0 and b != 0x7F:
        raise _GiveUp
