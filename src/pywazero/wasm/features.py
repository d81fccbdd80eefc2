"""WebAssembly core feature sets: which post-1.0 proposals a module may use.

pywazero implements WebAssembly 2.0, which is 1.0 plus six proposals merged into
the core specification (and the mutable-global proposal that was merged into 1.0
itself).  :class:`CoreFeatures` switches them on and off one by one, like
wazero's ``api.CoreFeatures`` and wasmtime's per-proposal ``Config`` switches.
The binary decoder and the validator follow the rules of the enabled set; with
:attr:`CoreFeatures.V2` (the default everywhere) they follow the 2.0 specification.

The flags are independent switches: no flag implies another.  Disabling a feature
rejects its instructions, value types and binary encodings (a ``DecodeError`` for
encodings the older binary format did not have, a ``ValidationError`` naming the
feature otherwise), and restores the older, stricter typing rules the feature
relaxed (see each flag).

>>> from pywazero import CoreFeatures, Runtime, RuntimeConfig, ValidationError
>>> CoreFeatures.SIMD in CoreFeatures.V2, CoreFeatures.SIMD in CoreFeatures.V1
(True, False)
>>> no_simd = CoreFeatures.V2 & ~CoreFeatures.SIMD
>>> sorted(no_simd.feature_names())[:3]
['bulk-memory', 'multi-value', 'mutable-global']
>>> rt = Runtime(RuntimeConfig(core_features=CoreFeatures.V1))   # WebAssembly 1.0
>>> try:
...     rt.compile('(module (func (param i32) (result i32) local.get 0 i32.extend8_s))')
... except ValidationError as e:
...     print(e.reason)
i32.extend8_s requires the sign-extension-ops feature
>>> with_sign_ext = Runtime(RuntimeConfig(core_features=CoreFeatures.V1 | CoreFeatures.SIGN_EXTENSION_OPS))
>>> [e.name for e in with_sign_ext.compile(
...     '(module (func (export "f") (param i32) (result i32) local.get 0 i32.extend8_s))').exports]
['f']
"""
from __future__ import annotations

import enum
from typing import List

__all__ = ["CoreFeatures", "feature_name", "check_features"]


class CoreFeatures(enum.IntFlag):
    """A set of WebAssembly core features (combine with ``|``, test with ``in``).

    * ``MUTABLE_GLOBAL``: importing and exporting mutable globals (part of 1.0).
    * ``SIGN_EXTENSION_OPS``: ``i32.extend8_s`` ... ``i64.extend32_s`` (0xC0-0xC4).
    * ``NONTRAPPING_FLOAT_TO_INT``: the saturating ``*.trunc_sat_*`` conversions
      (0xFC 0-7).
    * ``MULTI_VALUE``: functions and blocks with several results, blocks with
      parameters.  Without it, more than one result (or any block parameter) is
      ``"invalid result arity"``.
    * ``BULK_MEMORY``: ``memory.init/copy/fill``, ``data.drop``,
      ``table.init/copy``, ``elem.drop``, passive data and element segments and
      the data count section.
    * ``REFERENCE_TYPES``: ``funcref``/``externref`` values (locals, parameters,
      globals, blocks), ``externref`` tables, several tables, ``ref.*``,
      ``table.get/set/size/grow/fill``, typed ``select``, declarative element
      segments and the table index of ``call_indirect``.  Without it: at most one
      table (``"multiple tables"``), ``call_indirect``'s table immediate is a single
      zero byte (``"zero flag expected"``) and ``br_table`` follows 1.0's rule (every
      label has exactly the default label's type).
    * ``SIMD``: the ``v128`` type and the 0xFD instructions.

    WebAssembly 3.0 adds:

    * ``TAIL_CALL``: ``return_call``, ``return_call_indirect`` (and, with
      ``FUNCTION_REFERENCES``, ``return_call_ref``).
    * ``EXTENDED_CONST``: ``i32/i64.add/sub/mul`` and ``global.get`` of any
      immutable global in constant expressions.
    * ``MULTI_MEMORY``: several memories; every memory instruction has a memory index.
    * ``MEMORY64``: memories and tables with i64 addresses (``i64`` address type).
    * ``EXCEPTIONS``: tags, ``throw``, ``throw_ref``, ``try_table``, ``exnref``.
    * ``LEGACY_EXCEPTIONS``: the pre-standard ``try``/``catch``/``catch_all``/
      ``delegate``/``rethrow`` that toolchains still emit; not part of 3.0 and so
      not in ``V3``: ask for it.
    * ``FUNCTION_REFERENCES``: typed references ``(ref null? ht)``, ``call_ref``,
      ``ref.as_non_null``, ``br_on_null``, ``br_on_non_null``, non-defaultable
      locals, table initialisers.
    * ``RELAXED_SIMD``: the relaxed SIMD instructions (0xFD 0x100-0x113).
    * ``GC``: structs, arrays, i31, casts, recursive types and subtyping.

    ``V1`` is WebAssembly 1.0 (mutable globals only), ``V2`` WebAssembly 2.0,
    ``V3`` WebAssembly 3.0 (everything but ``LEGACY_EXCEPTIONS``).  ``DEFAULT``
    is what :class:`~pywazero.RuntimeConfig` uses: all of WebAssembly 3.0
    (``V3``); legacy exception handling must be asked for.
    """

    MUTABLE_GLOBAL = 1 << 0
    SIGN_EXTENSION_OPS = 1 << 1
    NONTRAPPING_FLOAT_TO_INT = 1 << 2
    MULTI_VALUE = 1 << 3
    BULK_MEMORY = 1 << 4
    REFERENCE_TYPES = 1 << 5
    SIMD = 1 << 6
    TAIL_CALL = 1 << 7
    EXTENDED_CONST = 1 << 8
    MULTI_MEMORY = 1 << 9
    MEMORY64 = 1 << 10
    EXCEPTIONS = 1 << 11
    LEGACY_EXCEPTIONS = 1 << 12
    FUNCTION_REFERENCES = 1 << 13
    RELAXED_SIMD = 1 << 14
    GC = 1 << 15

    V1 = MUTABLE_GLOBAL
    V2 = (MUTABLE_GLOBAL | SIGN_EXTENSION_OPS | NONTRAPPING_FLOAT_TO_INT | MULTI_VALUE
          | BULK_MEMORY | REFERENCE_TYPES | SIMD)
    V3 = (V2 | TAIL_CALL | EXTENDED_CONST | MULTI_MEMORY | MEMORY64 | EXCEPTIONS
          | FUNCTION_REFERENCES | RELAXED_SIMD | GC)
    ALL = V3 | LEGACY_EXCEPTIONS
    DEFAULT = V3

    def feature_names(self) -> List[str]:
        """The proposal names of the features in this set, e.g. ``['simd']``."""
        value = int(self)
        return [name for flag, name in _NAMES.items() if value & flag]


_NAMES = {
    CoreFeatures.MUTABLE_GLOBAL: "mutable-global",
    CoreFeatures.SIGN_EXTENSION_OPS: "sign-extension-ops",
    CoreFeatures.NONTRAPPING_FLOAT_TO_INT: "nontrapping-float-to-int",
    CoreFeatures.MULTI_VALUE: "multi-value",
    CoreFeatures.BULK_MEMORY: "bulk-memory",
    CoreFeatures.REFERENCE_TYPES: "reference-types",
    CoreFeatures.SIMD: "simd",
    CoreFeatures.TAIL_CALL: "tail-call",
    CoreFeatures.EXTENDED_CONST: "extended-const",
    CoreFeatures.MULTI_MEMORY: "multi-memory",
    CoreFeatures.MEMORY64: "memory64",
    CoreFeatures.EXCEPTIONS: "exceptions",
    CoreFeatures.LEGACY_EXCEPTIONS: "legacy-exceptions",
    CoreFeatures.FUNCTION_REFERENCES: "function-references",
    CoreFeatures.RELAXED_SIMD: "relaxed-simd",
    CoreFeatures.GC: "gc",
}


def feature_name(flag: CoreFeatures) -> str:
    """The proposal name of one feature: ``feature_name(CoreFeatures.SIMD) == 'simd'``."""
    return _NAMES[flag]


def check_features(features: object) -> CoreFeatures:
    """``features`` as a :class:`CoreFeatures` (negative sets, from ``~`` on older
    Pythons, are masked to the known features); TypeError if it is not a
    CoreFeatures, ValueError if it has bits no feature uses."""
    if not isinstance(features, CoreFeatures):
        raise TypeError(f"core features must be a CoreFeatures, not {type(features).__name__}")
    value = int(features)
    if value < 0:
        # ``~CoreFeatures.SIMD`` is negative on Python < 3.11: "all but SIMD".
        return CoreFeatures(value & int(CoreFeatures.ALL))
    if value & ~int(CoreFeatures.ALL):
        raise ValueError(f"core features has unknown bits: {value:#x}")
    return features
