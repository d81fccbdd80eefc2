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

How it stays cheap (~120-150 ns per instruction on CPython 3.11, against ~800
for decoding into tuples and validating those): the body's bytes are iterated
over (opcodes from a ``for`` loop, immediates with ``next``; one- and two-byte
LEB128 immediates inline, and the five-byte ones linkers pad relocated call
indices and addresses to); the operand stack is a list of value-type bytes with
a marker (0, never a type) under each control frame's operands, so a pop that
would cross into the enclosing frame fails an ordinary type comparison and no
height is compared per instruction; its top entry is a local variable (most
instructions only read or replace the top, and CPython specializes neither
``st[-1]`` nor ``st[-2]``); the opcode's kind is found by a tree of
comparisons ordered by how often compiled C uses each kind; a local index is
one byte in a function of at most 128 locals; instructions are not counted
(``Function.size`` counts on first read).  Running out of bytes (StopIteration),
an index out of range (IndexError) and an immediate the decoder would refuse all
just mean *don't know*.

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


def _leaves(st: List[int], h: int, top: int, et: List[int], unr: bool) -> bool:
    """Whether a block's values (``st`` above its marker at ``h``, then ``top``) are
    its end types ``et`` (non-empty), at an ``end`` or ``else``: after an
    unconditional branch (``unr``) only a suffix of them need be there."""
    if top == _MARK:   # (nothing above the frame's marker)
        return unr
    vals = st[h + 1:]
    vals.append(top)
    if unr:
        nv = len(vals)
        return nv <= len(et) and vals == et[len(et) - nv:]
    return vals == et

# Fast kinds of the one-byte opcodes (_GIVE_UP: don't know).  _run compares
# against these numbers literally (a constant is cheaper than a global in its
# loop), in a tree of comparisons: the numbers follow how often compiled C uses
# each kind (1-4 most, then 5-10), so a frequent kind costs 3-4 comparisons.
(_BIN, _LOAD, _LOCAL_SET, _LOCAL_TEE, _END, _BR_IF, _STORE, _BLOCK, _LOOP, _IF, _CALL, _UN, _BR,
 _I64_CONST, _DROP, _SELECT, _GLOBAL_GET, _GLOBAL_SET, _ELSE, _RETURN, _CALL_INDIRECT, _BR_TABLE,
 _UNREACHABLE, _F32_CONST, _F64_CONST, _MEM_SIZE, _MEM_GROW, _PREFIX_FC, _NOP, _RETURN_CALL,
 _RETURN_CALL_INDIRECT, _TRY_TABLE, _THROW, _THROW_REF, _GIVE_UP) = range(1, 36)
# A control frame's kind beyond its opener's: an ``if`` whose parameters are not
# its results (it needs an ``else``), and an ``if`` after its ``else``.
_IF_NEEDS_ELSE = 36
_AFTER_ELSE = 37
# The local instructions' kinds in a function of more than 128 locals.
_MANY_LOCAL_GET, _MANY_LOCAL_SET, _MANY_LOCAL_TEE = 38, 39, 40

# A control frame's part fixed by its opener: (label types, end types, frame
# kind, params).
_Frame = Tuple[List[int], List[int], int, List[int]]

# A call's signature as _run uses it: (last parameter or 0, the other parameters
# from the last to the first, last result or 0, the other results, all results).
_CallSig = Tuple[int, Tuple[int, ...], int, List[int], List[int]]


def _call_sig(params: List[int], results: List[int]) -> _CallSig:
    return (params[-1] if params else 0, tuple(reversed(params[:-1])),
            results[-1] if results else 0, list(results[:-1]), results)


class FastBodyChecker:
    """The fast path for one module (built once when the code section starts).

    ``ctx`` is the validator's context for the module (everything before the
    code section checked), ``kinds`` the decoder's opcode kind table of the
    module's features.  :meth:`check` is the per-body entry point."""

    __slots__ = ("kind", "p1", "res", "nat", "fc_un", "fc_mem", "blocks", "sigs", "calls",
                 "ci_ok", "ci_leb", "gget", "gset", "mem_ok", "fast", "tag_params", "csigs", "frames", "kind_many",
                 "check")

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
        kind_many = list(kind)
        kind_many[0x20], kind_many[0x21], kind_many[0x22] = _MANY_LOCAL_GET, _MANY_LOCAL_SET, _MANY_LOCAL_TEE
        self.kind_many = kind_many
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
        # What a block, loop or if opens, by kind and block type byte: (label
        # types, end types, frame kind, params); an if whose params are not its
        # results ends in an else: its end types are a list no stack matches.
        frames: List[List[Optional[_Frame]]] = [[] for _ in range(_IF + 1)]
        for k in (_BLOCK, _LOOP, _IF):
            for sig in blocks:
                if sig is None:
                    frames[k].append(None)
                    continue
                bp, br = sig
                if k == _IF and bp != br:
                    frames[k].append((br, [-1], _IF_NEEDS_ELSE, bp))
                else:
                    frames[k].append((bp if k == _LOOP else br, br, k, bp))
        self.frames = frames
        # Function types as (params, results) lists, None when not followed here.
        sigs: List[Optional[Tuple[List[int], List[int]]]] = []
        for t in ctx.types:
            if isinstance(t, tuple) and all(x in fast for x in t[0]) and all(x in fast for x in t[1]):
                sigs.append((t[0], t[1]))
            else:
                sigs.append(None)
        self.sigs = sigs
        ntypes = len(sigs)
        csigs = [None if sig is None else _call_sig(*sig) for sig in sigs]
        self.csigs = csigs
        self.calls = [csigs[ti] if isinstance(ti, int) and 0 <= ti < ntypes else None
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
            return self._run(iter(code), lt, results, len(lt) <= 0x80)
        except (_GiveUp, StopIteration, IndexError, TypeError, KeyError):
            return False

    def _run(self, it: Iterator[int], lt: List[int], results: List[int], few: bool) -> bool:
        # (iterating over the bytes is cheaper than indexing them; immediates are
        # read with next(it), the LEB128 helpers' rare bytes with nxt(); running out
        # of bytes raises StopIteration)
        #
        # The operand stack is ``st + [top]``: its top entry lives in a local
        # variable (most instructions read or replace only the top, and a local
        # costs a fraction of ``st[-1]``, which CPython does not specialize), the
        # rest in ``st``.  It always holds at least the function's marker.
        nxt = it.__next__
        # With at most 128 locals a local index is one byte: a longer one
        # (x >= 0x80) indexes past lt, IndexError, don't know.  With more, the
        # local instructions take kinds that read a full LEB128.
        kind = self.kind if few else self.kind_many
        lget = 0x20 if few else -1
        p1 = self.p1
        res = self.res
        nat = self.nat
        blocks = self.blocks
        frames = self.frames
        calls = self.calls
        u32 = _u32_rest
        I32_ = I32
        st: List[int] = []
        push = st.append
        pop = st.pop
        top = _MARK
        # control frames: (the enclosing frame's marker index, label types, end
        # types, frame kind, params, the enclosing frame's unreachable flag)
        ctrl: List[Tuple[int, List[int], List[int], int, List[int], bool]] = [
            (0, results, results, _BLOCK, [], False)]
        h = 0            # the current frame's marker index in st + [top]
        unr = False      # the current frame is unreachable (after br, return, ...)
        for op in it:
            if op == lget:  # local.get
                push(top)
                top = lt[next(it)]
                continue
            if op == 0x41:  # i32.const
                # (inline up to the fifth byte: linkers pad relocated addresses to
                # five bytes, and a helper call per such constant cost ~5% of a
                # module's check)
                if next(it) >= 0x80 and next(it) >= 0x80 and next(it) >= 0x80 and next(it) >= 0x80:
                    b = next(it)
                    # the fifth byte: no continuation, its unused bits equal to the sign bit
                    if b & 0x80 or (b & 0x78 != 0 and b & 0x78 != 0x78):
                        return False
                push(top)
                top = I32_
                continue
            k = kind[op]
            if k < 5:
                if k < 3:
                    if k == 1:  # BIN
                        t = p1[op]
                        if top != t or pop() != t:
                            return False
                        top = res[op]
                    else:  # LOAD
                        if next(it) > nat[op]:
                            return False
                        if next(it) >= 0x80 and next(it) >= 0x80:
                            _skip_u32(nxt, 2)
                        if top != I32_:
                            return False
                        top = res[op]
                elif k == 3:  # LOCAL_SET
                    if top != lt[next(it)]:
                        return False
                    top = pop()
                else:  # LOCAL_TEE
                    if top != lt[next(it)]:
                        return False
            elif k < 11:
                if k < 7:
                    if k == 5:  # END
                        fr = ctrl.pop()
                        et = fr[2]
                        if et:
                            if fr[3] == 36:   # an if without else, its params not its results
                                return False
                            if not _leaves(st, h, top, et, unr):
                                return False
                            if not ctrl:
                                # the body's declared size must end with this end
                                return next(it, None) is None
                            st[h:] = et
                        elif top != 0:
                            return False
                        elif not ctrl:
                            return next(it, None) is None
                        top = pop()
                        unr = fr[5]
                        h = fr[0]
                    else:  # BR_IF
                        x = next(it)
                        if x >= 0x80:
                            x = u32(x, nxt)
                        if top != I32_:
                            return False
                        top = pop()
                        lab = ctrl[-1 - x][1]
                        if lab:
                            n = len(lab)
                            if top != lab[-1] or (n > 1 and st[1 - n:] != lab[:-1]):
                                return False
                elif k == 7:  # STORE
                    if next(it) > nat[op]:
                        return False
                    if next(it) >= 0x80 and next(it) >= 0x80:
                        _skip_u32(nxt, 2)
                    if top != p1[op] or pop() != I32_:
                        return False
                    top = pop()
                else:  # BLOCK, LOOP, IF
                    fs = frames[k][next(it)]
                    if fs is None:
                        return False
                    if k == 10:
                        if top != I32_:
                            return False
                        top = pop()
                    lab, et, fk, bp = fs
                    if bp:
                        n = len(bp)
                        if top != bp[-1] or (n > 1 and st[1 - n:] != bp[:-1]):
                            return False
                        ctrl.append((h, lab, et, fk, bp, unr))
                        # the parameters move above the new marker
                        h = len(st) - n + 1
                        st.insert(h, 0)
                    else:
                        ctrl.append((h, lab, et, fk, bp, unr))
                        push(top)
                        top = 0
                        h = len(st)
                    unr = False
            elif k == 11:  # CALL
                x = next(it)
                if x >= 0x80:
                    # (inline: linkers pad function indices to five bytes; + and *
                    # take the continuation bits off, CPython specializes them)
                    b = next(it)
                    if b < 0x80:
                        x += b * 0x80 - 0x80
                    else:
                        c = next(it)
                        if c < 0x80:
                            x += b * 0x80 + c * 0x4000 - 0x4080
                        else:
                            d = next(it)
                            if d < 0x80:
                                x += b * 0x80 + c * 0x4000 + d * 0x200000 - 0x204080
                            else:
                                e = next(it)
                                if e > 0x0F:   # a value bit past 32, or a sixth byte
                                    return False
                                x += b * 0x80 + c * 0x4000 + d * 0x200000 + e * 0x10000000 - 0x10204080
                sig = calls[x]
                if sig is None:
                    return False
                cl, ci, rl, ri, _cr = sig
                if cl:
                    if top != cl:
                        return False
                    if ci:
                        for t in ci:
                            if pop() != t:
                                return False
                    top = pop()
                if rl:
                    push(top)
                    if ri:
                        st.extend(ri)
                    top = rl
            elif k == 12:  # UN
                if top != p1[op]:
                    return False
                top = res[op]
            elif k == 13:  # BR
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                lab = ctrl[-1 - x][1]
                if lab:
                    n = len(lab)
                    if top != lab[-1] or (n > 1 and st[1 - n:] != lab[:-1]):
                        return False
                del st[h:]
                top = _MARK
                unr = True
            elif k == 14:  # I64_CONST
                if next(it) >= 0x80 and next(it) >= 0x80:
                    _skip_s64(nxt, 2)
                push(top)
                top = I64
            elif k == 15:  # DROP
                if top == _MARK:
                    return False
                top = pop()
            elif k == 16:  # SELECT (untyped: numeric operands only, 0x7C..0x7F)
                if top != I32_:
                    return False
                t = pop()
                if t < 0x7C or pop() != t:
                    return False
                top = t
            elif k == 17:  # GLOBAL_GET
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                t = self.gget[x]
                if not t:
                    return False
                push(top)
                top = t
            elif k == 18:  # GLOBAL_SET
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                t = self.gset[x]
                if not t or top != t:
                    return False
                top = pop()
            elif k == 19:  # ELSE
                fr = ctrl[-1]
                if fr[3] != 10 and fr[3] != 36:
                    return False
                et = fr[1]   # (an if's label types are its results)
                if et:
                    if not _leaves(st, h, top, et, unr):
                        return False
                elif top != _MARK:
                    return False
                bp = fr[4]
                ctrl[-1] = (fr[0], et, et, _AFTER_ELSE, bp, fr[5])
                del st[h:]
                if bp:
                    push(_MARK)
                    st.extend(bp)
                    top = pop()
                else:
                    top = _MARK
                unr = False
            elif k == 20:  # RETURN
                if results:
                    n = len(results)
                    if top != results[-1] or (n > 1 and st[1 - n:] != results[:-1]):
                        return False
                del st[h:]
                top = _MARK
                unr = True
            elif k == 21 or k == 31:  # CALL_INDIRECT, RETURN_CALL_INDIRECT
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
                if tab != 0 or not self.ci_ok or top != I32_:
                    return False
                top = pop()
                sig = self.csigs[x]
                if sig is None:
                    return False
                cl, ci, rl, ri, cr = sig
                if k == 31 and cr != results:
                    return False
                if cl:
                    if top != cl:
                        return False
                    for t in ci:
                        if pop() != t:
                            return False
                    top = pop()
                if k == 31:
                    del st[h:]
                    top = _MARK
                    unr = True
                elif rl:
                    push(top)
                    if ri:
                        st.extend(ri)
                    top = rl
            elif k == 22:  # BR_TABLE
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
                if top != I32_:
                    return False
                top = pop()
                if dt:
                    n = len(dt)
                    if top != dt[-1] or (n > 1 and st[1 - n:] != dt[:-1]):
                        return False
                del st[h:]
                top = _MARK
                unr = True
            elif k == 23:  # UNREACHABLE
                del st[h:]
                top = _MARK
                unr = True
            elif k == 24:  # F32_CONST
                next(it), next(it), next(it), next(it)
                push(top)
                top = F32
            elif k == 25:  # F64_CONST
                next(it), next(it), next(it), next(it), next(it), next(it), next(it), next(it)
                push(top)
                top = F64
            elif k == 26:  # MEM_SIZE
                if next(it) != 0:
                    return False
                push(top)
                top = I32_
            elif k == 27:  # MEM_GROW
                if next(it) != 0 or top != I32_:
                    return False
            elif k == 28:  # PREFIX_FC
                sub = next(it)
                if sub < 8:
                    un = self.fc_un[sub]
                    if un is None or top != un[0]:
                        return False
                    top = un[1]
                elif (sub == 10 or sub == 11) and self.fc_mem[sub]:
                    if next(it) != 0 or (sub == 10 and next(it) != 0):
                        return False
                    if top != I32_ or pop() != I32_ or pop() != I32_:
                        return False
                    top = pop()
                else:
                    return False
            elif k == 29:  # NOP
                pass
            elif k == 30:  # RETURN_CALL: the callee's results must be the function's
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                sig = calls[x]
                if sig is None or sig[4] != results:
                    return False
                cl, ci = sig[0], sig[1]
                if cl:
                    if top != cl:
                        return False
                    for t in ci:
                        if pop() != t:
                            return False
                del st[h:]
                top = _MARK
                unr = True
            elif k == 32:  # TRY_TABLE: a block whose catch clauses branch out
                bsig = blocks[next(it)]
                if bsig is None:
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
                bp, br = bsig
                ctrl.append((h, br, br, _BLOCK, bp, unr))
                if bp:
                    n = len(bp)
                    if top != bp[-1] or (n > 1 and st[1 - n:] != bp[:-1]):
                        return False
                    h = len(st) - n + 1
                    st.insert(h, _MARK)
                else:
                    push(top)
                    top = _MARK
                    h = len(st)
                unr = False
            elif k == 33:  # THROW
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                tp = self.tag_params[x]
                if tp is None:
                    return False
                if tp:
                    n = len(tp)
                    if top != tp[-1] or (n > 1 and st[1 - n:] != tp[:-1]):
                        return False
                del st[h:]
                top = _MARK
                unr = True
            elif k == 34:  # THROW_REF
                if top != EXNREF:
                    return False
                del st[h:]
                top = _MARK
                unr = True
            elif k == 38 or k == 39 or k == 40:  # local.get/set/tee, more than 128 locals
                x = next(it)
                if x >= 0x80:
                    x = u32(x, nxt)
                t = lt[x]
                if k == 38:
                    push(top)
                    top = t
                elif top != t:
                    return False
                elif k == 39:
                    top = pop()
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
