"""The compiler engine's per-function code as bytes, and back.

A *code chunk* holds the translated functions of one module (the entries of
``CompiledWasm.codes``), so another process can run them without generating and
compiling their Python again.  Layout::

    b"PWZcode1" | u32 key length | key (ASCII) | sha256(payload) | payload

``key`` (:func:`code_key`) names everything the generated code depends on: the
Python implementation and its bytecode magic number, pywazero's version and a
fingerprint of its source, the code generator's switches and the runtime settings
baked into the code (fuel, interruption, the shallow call depth, the back-edge
hook).  It is compared as text *before* anything is unmarshalled: ``marshal`` may
crash on data from another Python, and code objects from another code generator
would misbehave.  The payload, checked against its digest next, is
``marshal.dumps(records)``, one record per function:

* ``(index, code, consts, callees, tail, defaults, helpers)``: ``code`` the
  function's code object, ``consts`` its constants as ``(name, value)`` pairs
  (plain data only), ``callees``/``tail`` the functions it calls / tail-calls,
  ``defaults`` the on-stack replacement defaults (or None), ``helpers`` the names
  of the runtime helpers it reads (looked up again in ``rt.BASE_NAMESPACE``).  Its
  per-instance caches are derived again from the code object's names.
* ``(index, None, reason)``: the function runs on the interpreter (``reason`` as in
  ``CompiledWasm.fallback_reasons``).

Functions whose constants are not plain data (GC casts, ``struct.new``, calls of GC
handlers: closures over process-wide canonical type ids, which another process
numbers differently) are left out; they are translated again when first called.

Code objects run when called: only chunks from a trusted source may be imported.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import struct
import sys
import types as _types
from typing import Any, Iterable, List, Optional, Tuple

from ...errors import SerializationError

__all__ = ["code_key", "export_codes", "import_codes", "python_tag", "source_fingerprint"]

CHUNK_MAGIC = b"PWZcode1"
_DIGEST = 32
_PLAIN_SCALARS = (int, float, complex, str, bytes, bool, type(None))


def python_tag() -> str:
    """The Python whose code objects and marshal format a blob holds:
    implementation name, version and bytecode magic number (code objects and
    ``marshal`` data are only exchanged between identical tags).

    >>> python_tag().startswith(sys.implementation.name)
    True
    """
    from importlib.util import MAGIC_NUMBER

    v = sys.implementation.version
    return "%s-%d.%d.%d-%s" % (sys.implementation.name, v.major, v.minor, v.micro, MAGIC_NUMBER.hex())


_FINGERPRINT: List[str] = []


def source_fingerprint() -> str:
    """A digest of pywazero's own source files (computed once per process): two
    checkouts with the same version but a different code generator must not share
    generated code.  Falls back to the version alone where the sources cannot be
    read (e.g. a zip import)."""
    if _FINGERPRINT:
        return _FINGERPRINT[0]
    from ..._version import __version__

    h = hashlib.sha256(__version__.encode())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        paths: List[str] = []
        for d, dirs, files in os.walk(root):
            dirs.sort()
            paths.extend(os.path.join(d, f) for f in files if f.endswith(".py"))
        for p in sorted(paths):
            h.update(os.path.relpath(p, root).encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    except OSError:
        pass
    _FINGERPRINT.append(h.hexdigest()[:20])
    return _FINGERPRINT[0]


def code_key(cw: Any) -> str:
    """The settings the generated code of ``CompiledWasm`` ``cw`` depends on, as
    text: chunks are imported only into a CompiledWasm with the same key."""
    from ..._version import __version__
    from . import codegen

    engine = cw.engine
    return "|".join([
        python_tag(), sys.byteorder, "pywazero-" + __version__, source_fingerprint(),
        "views=%d" % bool(codegen.MEMORY_VIEWS), "rem=%d" % bool(codegen.REMAINDER_MASKS),
        "fuel=%d" % bool(cw._fuel), "intr=%d" % bool(cw._intr),
        "inline=%d" % (cw.inliner is not None),
        # (only when listeners are on: keys of code made without them are unchanged)
        *(["listen=1"] if cw.listen is not None else []),
        "shallow=%d" % engine.shallow_depth, "hook=%r" % (engine.back_edge_hook,),
    ])


def _plain(v: Any) -> bool:
    """Whether ``v`` is data marshal keeps exactly (no object identity involved)."""
    if type(v) in _PLAIN_SCALARS:
        return True
    if type(v) in (tuple, frozenset):
        return all(_plain(x) for x in v)
    return False


def export_codes(cw: Any, indices: Optional[Iterable[int]] = None) -> bytes:
    """A code chunk with the translated functions of ``cw`` among ``indices``
    (defined-function indices; default: all of them)."""
    from . import _FALLBACK

    codes = cw.codes
    if indices is None:
        indices = range(len(codes))
    records: List[Tuple[Any, ...]] = []
    for i in sorted(set(indices)):
        if not 0 <= i < len(codes):
            raise ValueError("no defined function %r" % (i,))
        entry = codes[i]
        if entry is None:
            continue
        if entry is _FALLBACK:
            records.append((i, None, cw.fallback_reasons.get(i, "")))
            continue
        code, consts, callees, helpers, tail, _caches, defaults = entry
        if consts and not all(_plain(v) for v in consts.values()):
            continue
        records.append((i, code, tuple(consts.items()), tuple(callees),
                        None if tail is None else tuple(tail), defaults, tuple(n for n, _ in helpers)))
    payload = marshal.dumps(tuple(records))
    key = code_key(cw).encode("ascii")
    return b"".join([CHUNK_MAGIC, struct.pack("<I", len(key)), key,
                     hashlib.sha256(payload).digest(), payload])


def _bad(why: str) -> SerializationError:
    return SerializationError("corrupt compiled code: %s" % why)


def import_codes(cw: Any, data: Any, verified: bool = False) -> int:
    """Fill the untranslated entries of ``cw.codes`` from code chunk ``data``;
    returns how many were filled (0 for a chunk made under another key).
    ``verified``: the chunk's bytes were checked by a digest of the caller's (its
    own is then not computed again)."""
    from . import _FALLBACK, _instance_names_of
    from .rt import BASE_NAMESPACE

    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    n = len(data)
    if n < len(CHUNK_MAGIC) + 4 or bytes(data[:len(CHUNK_MAGIC)]) != CHUNK_MAGIC:
        raise _bad("not a code chunk")
    pos = len(CHUNK_MAGIC)
    (klen,) = struct.unpack_from("<I", data, pos)
    pos += 4
    if klen > n - pos - _DIGEST:
        raise _bad("truncated")
    key = bytes(data[pos:pos + klen])
    pos += klen
    if key != code_key(cw).encode("ascii"):
        return 0   # made by another Python, pywazero or settings: translated anew
    digest = bytes(data[pos:pos + _DIGEST])
    payload = data[pos + _DIGEST:]
    if not verified and hashlib.sha256(payload).digest() != digest:
        raise _bad("checksum mismatch (truncated or damaged)")
    try:
        records = marshal.loads(payload)
    except (ValueError, EOFError, TypeError) as e:   # pragma: no cover - digest checked
        raise _bad("unreadable (%s)" % e) from None
    codes = cw.codes
    count = 0
    if type(records) is not tuple:
        raise _bad("unexpected payload")
    for rec in records:
        if type(rec) is not tuple or len(rec) not in (3, 7) or type(rec[0]) is not int \
                or not 0 <= rec[0] < len(codes):
            raise _bad("unexpected record")
        i = rec[0]
        if codes[i] is not None:
            continue
        if rec[1] is None:
            codes[i] = _FALLBACK
            cw.fallback_reasons[i] = rec[2]
        else:
            _, code, consts, callees, tail, defaults, helper_names = rec
            if type(code) is not _types.CodeType:
                raise _bad("unexpected record")
            try:
                helpers = tuple((n, BASE_NAMESPACE[n]) for n in helper_names)
            except KeyError as e:   # pragma: no cover - the key covers the source
                raise _bad("unknown helper %s" % e) from None
            codes[i] = (code, dict(consts), list(callees), helpers,
                        None if tail is None else list(tail), _instance_names_of(code), defaults)
        count += 1
    return count
