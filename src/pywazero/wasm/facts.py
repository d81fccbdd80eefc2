"""The engines' facts about a body of a validated module, without validating it again.

An engine translating a function needs its :class:`~pywazero.wasm.module.FunctionInfo`
(block structure, resolved block types, operand-stack heights at block entries and
branches).  The validator computes it, but a module compiled by ``Runtime.compile``
has had every body validated already (most by the fast body check, which keeps
nothing), and running the validator again on each function's first call costs as
much as validating it did.  :func:`function_info` instead takes one pass over the
body that tracks only the operand-stack *height*: the types were checked, so every
instruction's effect on the height is known from its opcode (and, for calls and
blocks, from the module's types).

The heights are the validator's, unreachable code included: there the validator's
stack is polymorphic (a pop below the frame's base takes nothing), which a height
clamped at the frame's base reproduces; in reachable code of a valid body the clamp
never applies.  ``tests/unit/test_facts.py`` compares the two on every function of
the spec suites' valid modules and of the committed C programs.

Only bodies of a validated module that were decoded from its bytes (not rewritten,
not built by hand) are trusted; anything else, and any instruction outside the
common core set this pass knows (reference, table, SIMD lane, exception, GC and
tail-call instructions), goes through
:func:`~pywazero.wasm.validation.validate_function` as before.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .module import FunctionInfo, Module
from .validation import (
    _EMPTY,
    K_BIN,
    K_BLOCK,
    K_BR,
    K_BR_IF,
    K_BR_TABLE,
    K_CALL,
    K_CALL_INDIRECT,
    K_DATA_DROP,
    K_DROP,
    K_ELSE,
    K_END,
    K_GLOBAL_GET,
    K_GLOBAL_SET,
    K_IF,
    K_LOAD,
    K_LOCAL_GET,
    K_LOCAL_SET,
    K_LOCAL_TEE,
    K_MEMIDX,
    K_MEMORY_COPY,
    K_MEMORY_INIT,
    K_PUSH,
    K_RETURN,
    K_SELECT,
    K_SELECT_T,
    K_SIG,
    K_STORE,
    K_UN,
    K_UNREACHABLE,
    _body_context,
    _Context,
    _resolve_blocktype,
    validate_function,
)

__all__ = ["function_info"]

# What the pass does per instruction: _SIMPLE pops and pushes fixed counts; the
# others are control, calls and branches.
_SIMPLE, _BLOCK, _IF, _ELSE, _END, _BR, _BR_IF, _BR_TABLE, _STOP, _CALL, _CALL_INDIRECT = range(11)

_FIXED = {K_BIN: (2, 1), K_UN: (1, 1), K_PUSH: (0, 1), K_LOCAL_GET: (0, 1), K_GLOBAL_GET: (0, 1),
          K_LOCAL_SET: (1, 0), K_GLOBAL_SET: (1, 0), K_LOCAL_TEE: (1, 1), K_LOAD: (1, 1),
          K_STORE: (2, 0), K_DROP: (1, 0), K_SELECT: (3, 1), K_SELECT_T: (3, 1),
          K_MEMORY_COPY: (3, 0), K_MEMORY_INIT: (3, 0), K_DATA_DROP: (0, 0)}
_CONTROL = {K_BLOCK: _BLOCK, K_IF: _IF, K_ELSE: _ELSE, K_END: _END, K_BR: _BR, K_BR_IF: _BR_IF,
            K_BR_TABLE: _BR_TABLE, K_RETURN: _STOP, K_UNREACHABLE: _STOP, K_CALL: _CALL,
            K_CALL_INDIRECT: _CALL_INDIRECT}


def _effects(ctx: _Context) -> Dict[int, Tuple[int, int, int]]:
    """Opcode -> (action, pops, pushes) for the instructions the pass knows, from the
    validator's table of ``ctx`` (built once per context)."""
    table = getattr(ctx, "_facts_effects", None)
    if table is None:
        table = {}
        for op, ent in ctx.op_table.items():
            k = ent[0]
            if k in _FIXED:
                table[op] = (_SIMPLE,) + _FIXED[k]
            elif k == K_SIG or k == K_MEMIDX:
                table[op] = (_SIMPLE, len(ent[1]), len(ent[2]))
            elif k in _CONTROL:
                table[op] = (_CONTROL[k], 0, 0)
        ctx._facts_effects = table  # type: ignore[attr-defined]
    return table


def function_info(module: Module, index: int) -> FunctionInfo:
    """The :class:`FunctionInfo` of defined function ``index`` (``module.funcs[index]``),
    also stored in its ``info``: computed from stack heights alone for a body decoded
    from a validated module, else by validating the body.

    >>> from pywazero.binary.decoder import decode_module
    >>> m = decode_module(bytes.fromhex(   # (func (result i32) block (result i32) i32.const 1 end)
    ...     "0061736d010000000105016000017f030201000a09010700027f41010b0b"), validate=True)
    >>> info = function_info(m, 0)
    >>> info.partner[0], info.heights[0], info.max_stack
    (2, 0, 1)
    """
    func = module.funcs[index]
    info = func.info
    if info is not None:
        return info
    if "_features" in module.__dict__ and func.from_source:
        info = _heights_pass(_body_context(module), func.type_index, func.body)
        if info is not None:
            func.info = info
            return info
    return validate_function(module, index)


def _heights_pass(ctx: _Context, type_index: int, body: List[Any]) -> Optional[FunctionInfo]:
    """The facts of a valid ``body`` (None: it has an instruction the pass does not
    know)."""
    effects = _effects(ctx)
    get = effects.get
    # (validated: every type a call, call_indirect or the function names is a func type)
    types: List[Any] = ctx.types
    func_type_idx = ctx.func_type_idx
    results = types[type_index][1]
    partner: Dict[int, int] = {}
    else_of: Dict[int, int] = {}
    block_types: Dict[int, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {}
    heights: Dict[int, int] = {}
    branch_heights: Dict[int, int] = {}
    bt_cache: Dict[Any, Any] = {}
    # a frame: [opener pc, base height, label arity, result arity, param arity]
    nres = len(results)
    frames: List[List[int]] = [[-1, 0, nres, nres, 0]]
    base = 0
    h = 0
    mx = 0
    for pc, ins in enumerate(body):
        e = get(ins[0])
        if e is None:
            return None
        a = e[0]
        if a == _SIMPLE:
            h -= e[1]
            if h < base:
                h = base
            h += e[2]
        elif a == _BR_IF:
            h -= 1
            if h < base:
                h = base
            branch_heights[pc] = h
            n = frames[-1 - ins[1]][2]
            if h - n < base:
                h = base + n
        elif a == _CALL or a == _CALL_INDIRECT:
            if a == _CALL:
                p, r = types[func_type_idx[ins[1]]]
            else:
                h -= 1
                if h < base:
                    h = base
                p, r = types[ins[1][0]]
            h -= len(p)
            if h < base:
                h = base
            h += len(r)
        elif a == _BLOCK or a == _IF:
            if a == _IF:
                h -= 1
                if h < base:
                    h = base
            bp, br, sig = _resolve_blocktype(ctx, ins[1], bt_cache)
            n = len(bp)
            hb = h - n
            if hb < base:
                hb = base
            h = hb + n
            frames.append([pc, hb, n if ins[0] == 0x03 else len(br), len(br), n])
            base = hb
            block_types[pc] = sig
            heights[pc] = hb
        elif a == _END:
            top = frames.pop()
            h = top[1] + top[3]
            if not frames:
                if h > mx:
                    mx = h
                break
            opener = top[0]
            partner[opener] = pc
            partner[pc] = opener
            base = frames[-1][1]
        elif a == _ELSE:
            top = frames[-1]
            h = top[1] + top[4]
            partner[pc] = top[0]
            else_of[top[0]] = pc
        elif a == _BR:
            branch_heights[pc] = h
            h = base
        elif a == _BR_TABLE:
            h -= 1
            if h < base:
                h = base
            branch_heights[pc] = h
            h = base
        else:   # return, unreachable
            h = base
        if h > mx:
            mx = h
    # (empty mappings shared, as the validator does)
    return FunctionInfo(partner=partner or _EMPTY, else_of=else_of or _EMPTY, max_stack=mx,
                        block_types=block_types or _EMPTY, heights=heights or _EMPTY,
                        branch_heights=branch_heights or _EMPTY, catches=_EMPTY)
