"""Inlining of small leaf functions and static ``call_indirect`` for the compiler.

A wasm-to-wasm rewrite of one function body, done before code generation (only
without fuel or interruption, whose counts and check points follow the original
instructions):

* **Leaf inlining.**  ``call k`` inside a loop of a small defined function ``k``
  that makes no calls, throws nothing and has only numeric locals
  (:data:`MAX_CALLEE` instructions at most; leaves it calls anywhere are inlined
  into it first) becomes the callee's body in a ``block`` of its results:
  the arguments are popped into fresh caller locals (``local.set`` in reverse
  order), its other locals are zeroed on each entry (unless its body sets them
  first, in its straight-line start), ``local.*`` indices move to those locals and
  ``return`` becomes ``br`` to the block.  Branch labels need no change: the block
  stands where the callee's function frame was.
* **Static tables.**  A table the module defines, does not export, initialises
  only with active segments of constant offsets and ``ref.func``/``ref.null``
  items, and never writes (no ``table.set/grow/fill``, no ``table.copy``/``init``
  into it, no initialiser expression) holds the same functions in every instance,
  known now.  A ``call_indirect`` through it whose type only one or two slots have
  (the same type index) is guarded by the index: ``if idx == slot`` a direct call
  (or the inlined body), else the original ``call_indirect``, which keeps every
  trap (null, out of range, signature mismatch) and its message exact.

The caller's growth is capped (:data:`MAX_GROWTH` instructions), and locals stay
within ``COMPILER_MAX_LOCALS``.  The result is validated like any body by the
engine, so a rewrite bug surfaces as a ValidationError (the original body is then
translated) rather than as wrong code.  An inlined frame does not count towards
the call depth and does not appear in a trap's wasm stack trace.

Example::

    from pywazero.engine.compiler.inline import Inliner
    f = module.funcs[3]
    rewritten = Inliner(module).rewrite(f, len(module.types[f.type_index].params))
    # None (nothing to inline) or (locals, body) for a replacement Function
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from ...wasm.impl_limits import COMPILER_MAX_LOCALS
from ...wasm.types import BLOCK_EMPTY, EXTERN_TABLE, F32, F64, I32, I64, blocktype_of_valtype

__all__ = ["Inliner", "MAX_CALLEE", "MAX_GROWTH", "MAX_CANDIDATES"]

MAX_CALLEE = 40        # instructions of an inlined leaf (its final `end` included)
MAX_NESTED = 120       # ... and with the leaves it calls inlined into it
MAX_GROWTH = 4000      # instructions one caller may grow by
MAX_CANDIDATES = 2     # slots of a static table speculated at one call_indirect
# the modules whose tables are checked for writes (every body is read once): at
# most this many instructions in all
MAX_SCAN = 400_000

_BLOCK, _LOOP, _IF, _ELSE, _END = 0x02, 0x03, 0x04, 0x05, 0x0B
_BR, _RETURN, _CALL, _CALL_INDIRECT = 0x0C, 0x0F, 0x10, 0x11
_LOCAL_GET, _LOCAL_SET, _LOCAL_TEE = 0x20, 0x21, 0x22
_DELEGATE = 0x18
_I32_CONST, _I32_EQ = 0x41, 0x46
_REF_NULL, _REF_FUNC = 0xD0, 0xD2
_OPENERS = frozenset((0x02, 0x03, 0x04, 0x06, 0x1F))
_NUMERIC = frozenset((I32, I64, F32, F64))
_ZERO = {I32: 0x41, I64: 0x42, F32: 0x43, F64: 0x44}
# calls of any kind, exceptions (a leaf's body must run as a block of its caller),
# and `unreachable`: a function with an explicit trap keeps its frame in the trap's
# wasm stack trace (an error path, not hot code)
_NOT_LEAF = frozenset((0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                       0x06, 0x07, 0x08, 0x09, 0x0A, 0x18, 0x19, 0x1F, 0x00))
# instructions that write a table: table.set, table.grow, table.fill (table index
# in imm), table.init (imm[1]), table.copy (imm[0]: the destination)
_TABLE_SET, _TABLE_GROW, _TABLE_FILL = 0x26, 0xFC000F, 0xFC0011
_TABLE_INIT, _TABLE_COPY = 0xFC000C, 0xFC000E


# instructions that may transfer control elsewhere than to the next one (besides
# traps, which end the call)
_CONTROL = frozenset((0x00, 0x04, 0x05, 0x0C, 0x0D, 0x0E, 0x0F, 0xD5, 0xD6, 0xFB0018, 0xFB0019))
_EVERYTHING: Set[int] = set()   # (identity: every table may be written)


class _Leaf:
    """What inlining defined function ``k`` needs: its body (without the final
    ``end``), parameter and local types, block type and the locals to zero."""

    __slots__ = ("body", "nparams", "ltypes", "blocktype", "zero")

    def __init__(self, body: List[Tuple[int, Any]], nparams: int, ltypes: List[int],
                 blocktype: int, zero: List[int]) -> None:
        self.body = body
        self.nparams = nparams
        self.ltypes = ltypes
        self.blocktype = blocktype
        self.zero = zero


def _set_before_read(body: List[Tuple[int, Any]], first: int) -> Set[int]:
    """Locals ``>= first`` that ``body``'s straight-line start (up to its first
    branch or ``if``; entering and leaving blocks and loops is straight) sets before
    anything mentions them: every read finds them set."""
    seen = set()
    out = set()
    for op, imm in body:
        if op in _CONTROL:
            break
        if op == _LOCAL_GET or op == _LOCAL_SET or op == _LOCAL_TEE:
            if imm >= first and imm not in seen:
                seen.add(imm)
                if op != _LOCAL_GET:
                    out.add(imm)
    return out


class Inliner:
    """The per-module facts of the rewrite (leaves, static tables), cached, and
    :meth:`rewrite` of one function."""

    def __init__(self, module: Any, func_types: Optional[List[int]] = None) -> None:
        self.module = module
        # (the type index of each function, imports first)
        self.func_types = module.func_types() if func_types is None else func_types
        self.nimp = len(self.func_types) - len(module.funcs)
        self._leaves: Dict[int, Optional[_Leaf]] = {}
        self._tables: Dict[int, Optional[List[Optional[int]]]] = {}
        # (table, type index) -> the (slot, function) pairs of a static table whose
        # function has that type (a table may have thousands of slots)
        self._typed_slots: Dict[Tuple[int, int], List[Tuple[int, int]]] = {}
        self._written: Optional[Set[int]] = None

    # -- leaves -------------------------------------------------------------------------
    def leaf(self, k: int) -> Optional[_Leaf]:
        """The inlining facts of function ``k`` (an index of the function space), or
        None when it is not a small leaf."""
        try:
            return self._leaves[k]
        except KeyError:
            pass
        leaf = None
        self._leaves[k] = None   # (while its own callees are looked at: no cycles)
        if k >= self.nimp:
            try:
                leaf = self._make_leaf(k)
            except Exception:  # noqa: BLE001 - (a body that does not decode: not a leaf)
                leaf = None
        self._leaves[k] = leaf
        return leaf

    def _make_leaf(self, k: int) -> Optional[_Leaf]:
        module = self.module
        funcs = module.funcs
        i = k - self.nimp
        func = funcs[i]
        if not func.decoded and i + 1 < len(funcs):
            # (a body not decoded yet is not counted either: counting decodes it;
            # the next body's start bounds its bytes, so a large one is seen at
            # once -- an instruction takes a byte at least, a small one rarely 8)
            nxt = funcs[i + 1]
            src = getattr(func, "_source", None)
            if src is not None and getattr(nxt, "_source", None) is src \
                    and nxt._pos - func._pos > 8 * MAX_CALLEE:
                return None
        if func.size > MAX_CALLEE:
            return None
        ftype = module.types[func.type_index]
        if len(ftype.results) > 1:
            return None
        ltypes = list(ftype.params) + func.local_types()
        if any(t not in _NUMERIC for t in ltypes):
            return None
        body = func.body if func.decoded else func.peek()[0]
        if not body or body[-1][0] != _END:
            return None
        nparams = len(ftype.params)
        calls = False
        for op, _ in body:
            if op in _NOT_LEAF:
                if op != _CALL:
                    return None
                calls = True
        if calls:
            # a leaf once its own callees are inlined (they are leaves themselves)
            made = _Rewrite(self, func, nparams, speculate=False, loops_only=False).run(body)
            if made is None:
                return None
            locals_, body = made
            if len(body) > MAX_NESTED or any(op in _NOT_LEAF for op, _ in body):
                return None
            ltypes = list(ftype.params)
            for c, t in locals_:
                ltypes.extend([t] * c)
        bt = blocktype_of_valtype(ftype.results[0]) if ftype.results else BLOCK_EMPTY
        preset = _set_before_read(body, nparams)
        # (the locals of leaves inlined into it are zeroed or set where they are
        # inlined: only its own need it)
        own = nparams + sum(c for c, _ in func.locals)
        zero = [j for j in range(nparams, own) if j not in preset]
        return _Leaf(list(body[:-1]), nparams, ltypes, bt, zero)

    # -- static tables ------------------------------------------------------------------
    def typed_slots(self, t: int, ti: int) -> Optional[List[Tuple[int, int]]]:
        """The ``(slot, function index)`` pairs of static table ``t`` whose function
        has type ``ti`` (None: the table is not static)."""
        slots = self.static_table(t)
        if slots is None:
            return None
        got = self._typed_slots.get((t, ti))
        if got is None:
            ftypes = self.func_types
            got = self._typed_slots[(t, ti)] = [(s, k) for s, k in enumerate(slots)
                                                 if k is not None and ftypes[k] == ti]
        return got

    def static_table(self, t: int) -> Optional[List[Optional[int]]]:
        """The function index in each slot of table ``t`` (None: null) when its
        contents are the same in every instance from instantiation on, else None."""
        try:
            return self._tables[t]
        except KeyError:
            pass
        slots = None
        try:
            slots = self._make_table(t)
        except Exception:  # noqa: BLE001 - (anything unexpected: not static)
            slots = None
        self._tables[t] = slots
        return slots

    def _make_table(self, t: int) -> Optional[List[Optional[int]]]:
        module = self.module
        k = t - sum(1 for imp in module.imports if imp.kind == EXTERN_TABLE)
        if k < 0:
            return None   # imported
        if any(e.kind == EXTERN_TABLE and e.index == t for e in module.exports):
            return None
        tt = module.tables[k]
        if getattr(tt, "address_type", I32) != I32 or module.table_init(k) is not None:
            return None
        n = tt.limits.min
        if n > 1 << 16:
            return None
        slots: List[Optional[int]] = [None] * n
        for seg in module.elems:
            if seg.mode != "active" or seg.table != t:
                continue
            off = seg.offset
            if not off or len(off) != 2 or off[0][0] != _I32_CONST or off[1][0] != _END:
                return None
            base = off[0][1] & 0xFFFFFFFF
            if base + len(seg.init) > n:
                return None   # (instantiation fails)
            for j, expr in enumerate(seg.init):
                if len(expr) != 2 or expr[1][0] != _END:
                    return None
                op, imm = expr[0]
                if op == _REF_FUNC:
                    slots[base + j] = imm
                elif op == _REF_NULL:
                    slots[base + j] = None
                else:
                    return None
        written = self._written_tables()
        if written is _EVERYTHING or t in written:
            return None
        return slots

    def _written_tables(self) -> Set[int]:
        """The tables some instruction of the module writes: as the decoder found
        them, else from reading every body (every table when the module is too large
        to read them all)."""
        written = self._written
        if written is None:
            known = getattr(self.module, "tables_written", None)
            written = self._written = known if known is not None else self._scan()
        return written

    def _scan(self) -> Set[int]:
        module = self.module
        funcs = module.funcs
        total = 0
        for f in funcs:
            total += f.size
            if total > MAX_SCAN:
                return _EVERYTHING
        written = set()
        for f in funcs:
            body = f.body if f.decoded else f.peek()[0]
            for op, imm in body:
                if op == _TABLE_SET or op == _TABLE_GROW or op == _TABLE_FILL:
                    written.add(imm)
                elif op == _TABLE_INIT:
                    written.add(imm[1])
                elif op == _TABLE_COPY:
                    written.add(imm[0])
        return written

    # -- the rewrite --------------------------------------------------------------------
    def rewrite(self, func: Any, nparams: int, origins: Optional[List[int]] = None,
                ) -> Optional[Tuple[List[Tuple[int, int]], List[Tuple[int, Any]]]]:
        """``(locals, body)`` of ``func`` (a function with ``nparams`` parameters:
        this module's, or one made from it) with its inlinable calls inlined and its
        static ``call_indirect``s guarded, or None when nothing changes.
        ``origins`` (a trap's diagnostics) is filled with the index in ``func``'s
        body each instruction of the new body comes from (an inlined body: the
        call's)."""
        return _Rewrite(self, func, nparams).run(origins=origins)


class _Rewrite:
    """One function's rewrite (see the module docstring)."""

    def __init__(self, inl: Inliner, func: Any, nparams: int, speculate: bool = True,
                 loops_only: bool = True) -> None:
        self.inl = inl
        self.func = func
        self.speculate = speculate
        # inline only inside loops (a function's own body), or anywhere (a leaf's
        # body, made of the leaves it calls)
        self.loops_only = loops_only
        self.nlocals: int = nparams + sum(c for c, _ in func.locals)
        self.new_locals: List[int] = []          # types of the locals added
        self.leaf_base: Dict[int, int] = {}      # callee -> its first local
        self.spill: Dict[Tuple[int, int], int] = {}   # (type, argument position) -> local
        self.index_local: Optional[int] = None
        self.growth = 0
        self.changed = False
        self.loops = 0   # loops around the instruction being rewritten (run)

    def _local(self, t: int) -> int:
        n = self.nlocals + len(self.new_locals)
        self.new_locals.append(t)
        return n

    def _room(self, locals_needed: int, instrs: int) -> bool:
        return (self.nlocals + len(self.new_locals) + locals_needed <= COMPILER_MAX_LOCALS
                and self.growth + instrs <= MAX_GROWTH)

    def run(self, body: Optional[List[Tuple[int, Any]]] = None, origins: Optional[List[int]] = None,
            ) -> Optional[Tuple[List[Tuple[int, int]], List[Tuple[int, Any]]]]:
        inl = self.inl
        if body is None:
            body = self.func.body
        speculate = self.speculate
        out: List[Tuple[int, Any]] = []
        # the openers of the constructs around the instruction, and how many of them
        # are loops: leaves are inlined only where a call may run many times a call
        # of this function (outside loops a call costs less than translating the
        # bigger body: CPython-WASI's start-up ran ~5% faster without inlining, and
        # no benchmark kernel slower than with it outside loops)
        opened: List[int] = []
        self.loops = 0 if self.loops_only else 1
        for j, ins in enumerate(body):
            if origins is not None:
                origins.extend([j - 1] * (len(out) - len(origins)))
            op = ins[0]
            if op in _OPENERS:
                opened.append(op)
                self.loops += op == _LOOP
            elif op == _END or op == _DELEGATE:
                if opened and opened.pop() == _LOOP:
                    self.loops -= 1
            elif op == _CALL:
                leaf = inl.leaf(ins[1]) if self.loops else None
                if leaf is not None and self._inline(out, ins[1], leaf, None):
                    continue
            elif op == _CALL_INDIRECT and speculate and self._speculate(out, ins[1]):
                continue
            out.append(ins)
        if origins is not None:
            origins.extend([len(body) - 1] * (len(out) - len(origins)))
        if not self.changed:
            return None
        return list(self.func.locals) + [(1, t) for t in self.new_locals], out

    def _inline(self, out: List[Tuple[int, Any]], k: int, leaf: _Leaf,
                args: Optional[List[int]]) -> bool:
        """Append leaf ``k``'s body; its arguments are on the stack, or in locals
        ``args``."""
        base = self.leaf_base.get(k)
        fresh = len(leaf.ltypes) if base is None else 0
        if not self._room(fresh, len(leaf.body) + 2 * len(leaf.ltypes) + 2):
            return False
        if base is None:
            base = self.leaf_base[k] = self.nlocals + len(self.new_locals)
            self.new_locals.extend(leaf.ltypes)
        np = leaf.nparams
        where = [base + j for j in range(len(leaf.ltypes))]
        start = len(out)
        if args is None:
            for j in range(np - 1, -1, -1):
                out.append((_LOCAL_SET, where[j]))
        else:
            where[:np] = args
        ltypes = leaf.ltypes
        for j in leaf.zero:
            out.append((_ZERO[ltypes[j]], 0))
            out.append((_LOCAL_SET, where[j]))
        out.append((_BLOCK, leaf.blocktype))
        depth = 0
        for ins in leaf.body:
            op = ins[0]
            if op == _LOCAL_GET or op == _LOCAL_SET or op == _LOCAL_TEE:
                ins = (op, where[ins[1]])
            elif op == _RETURN:
                ins = (_BR, depth)
            elif op in _OPENERS:
                depth += 1
            elif op == _END:
                depth -= 1
            out.append(ins)
        out.append((_END, None))
        self.growth += len(out) - start
        self.changed = True
        return True

    def _speculate(self, out: List[Tuple[int, Any]], imm: Tuple[int, int]) -> bool:
        """Append the guarded form of ``call_indirect imm`` through a static table;
        False (nothing appended) when it does not apply."""
        ti, t = imm
        inl = self.inl
        cands = inl.typed_slots(t, ti)
        if not cands or len(cands) > MAX_CANDIDATES:
            return False
        ftype = inl.module.types[ti]
        if len(ftype.results) > 1 or not hasattr(ftype, "params"):
            return False
        params = list(ftype.params)
        bt = blocktype_of_valtype(ftype.results[0]) if ftype.results else BLOCK_EMPTY
        need = sum(1 for j, p in enumerate(params) if (p, j) not in self.spill)
        need += self.index_local is None
        if not self._room(need, 8 * len(cands) + 3 * len(params) + 4):
            return False
        if self.index_local is None:
            self.index_local = self._local(I32)
        args = []
        for j, p in enumerate(params):
            n = self.spill.get((p, j))
            if n is None:
                n = self.spill[(p, j)] = self._local(p)
            args.append(n)
        idx = self.index_local
        start = len(out)
        out.append((_LOCAL_SET, idx))
        for n in reversed(args):
            out.append((_LOCAL_SET, n))
        for s, k in cands:
            out += [(_LOCAL_GET, idx), (_I32_CONST, s), (_I32_EQ, None), (_IF, bt)]
            leaf = inl.leaf(k) if self.loops else None
            if leaf is None or not self._inline(out, k, leaf, args):
                out += [(_LOCAL_GET, n) for n in args]
                out.append((_CALL, k))
            out.append((_ELSE, None))
        out += [(_LOCAL_GET, n) for n in args]
        out += [(_LOCAL_GET, idx), (_CALL_INDIRECT, imm)]
        out += [(_END, None)] * len(cands)
        self.growth += len(out) - start
        self.changed = True
        return True
