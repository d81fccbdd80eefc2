"""Implementation limits: the most of each thing a module may declare.

The specification lets a module declare up to 2^32-1 of almost anything; an engine
that took that literally would let a few dozen bytes (a function declaring four
million locals) cost gigabytes.  Like every production engine, pywazero refuses
modules beyond fixed limits with a :class:`~pywazero.ValidationError` (the binary
decoder keeps to what the binary format says, checking counts against the bytes
left before reading anything, so nothing is sized from a count before these checks
run); they are the
limits of the WebAssembly JavaScript API ("Implementation-defined limits"), which
browsers and wasmparser (wasmtime's validator) share, so a module any of them
accepts is accepted here too.  Where the JS API has no number, wasmparser's is used
(element segments, tables, memories, ``br_table`` targets).

Everything else a module can make large (data bytes, the items of a segment, the
instructions of a body, nesting depth) is paid for by bytes of input and costs
time and memory proportional to them: the compiler hands functions past
:data:`COMPILER_MAX_INSTRUCTIONS`, :data:`COMPILER_MAX_LOCALS` or
:data:`COMPILER_MAX_DEPTH` to the interpreter.
"""
from __future__ import annotations

__all__ = [
    "MAX_TYPES", "MAX_FUNCTIONS", "MAX_IMPORTS", "MAX_EXPORTS", "MAX_GLOBALS",
    "MAX_ELEMENT_SEGMENTS", "MAX_DATA_SEGMENTS", "MAX_TABLES", "MAX_MEMORIES",
    "MAX_FUNCTION_LOCALS", "MAX_FUNCTION_PARAMS", "MAX_FUNCTION_RESULTS", "MAX_FUNCTION_SIZE",
    "MAX_BR_TABLE_TARGETS", "MAX_SEGMENT_ITEMS",
    "COMPILER_MAX_INSTRUCTIONS", "COMPILER_MAX_LOCALS", "COMPILER_MAX_DEPTH",
    "INTERPRETER_MAX_STACK_SLOTS", "MAX_ARRAY_NEW_FIXED",
]

#: operands of one array.new_fixed (GC; the limit the JS API and wasmtime use)
MAX_ARRAY_NEW_FIXED = 10_000
#: types in the type section
MAX_TYPES = 1_000_000
#: functions, imported and defined
MAX_FUNCTIONS = 1_000_000
#: imports (of all kinds)
MAX_IMPORTS = 100_000
#: exports
MAX_EXPORTS = 100_000
#: globals, imported and defined
MAX_GLOBALS = 1_000_000
#: element segments (wasmparser)
MAX_ELEMENT_SEGMENTS = 100_000
#: data segments
MAX_DATA_SEGMENTS = 100_000
#: tables, imported and defined (wasmparser)
MAX_TABLES = 100
#: memories, imported and defined (wasmparser)
MAX_MEMORIES = 100
#: locals of one function, its parameters included
MAX_FUNCTION_LOCALS = 50_000
#: parameters of a function type
MAX_FUNCTION_PARAMS = 1_000
#: results of a function type
MAX_FUNCTION_RESULTS = 1_000
#: instructions of one function body (the JS API limits its bytes to this number,
#: and every instruction takes at least one byte)
MAX_FUNCTION_SIZE = 7_654_321
#: labels of one ``br_table`` (wasmparser)
MAX_BR_TABLE_TARGETS = 128 * 1024
#: items of one element segment (the JS API's most table entries in one
#: initialisation)
MAX_SEGMENT_ITEMS = 10_000_000

#: functions of more instructions run on the interpreter under the compiler engine
#: (Python's own compiler needs hundreds of bytes per generated line, and more for
#: deep nesting, so a huge body would cost far more than its size)
COMPILER_MAX_INSTRUCTIONS = 100_000
#: functions with more locals (parameters included) run on the interpreter under
#: the compiler engine (each local is a Python local initialised on entry)
COMPILER_MAX_LOCALS = 2_000
#: functions whose blocks nest deeper run on the interpreter under the compiler
#: engine (the code generator's state grows with the nesting depth)
COMPILER_MAX_DEPTH = 2_000
#: the most locals all frames of one interpreter call stack may hold together (8
#: bytes each): a call past it traps "call stack exhausted" (checked only when
#: calling a function with thousands of locals)
INTERPRETER_MAX_STACK_SLOTS = 1 << 24
