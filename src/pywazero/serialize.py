"""The serialized form of a :class:`~pywazero.CompiledModule`.

Made by ``CompiledModule.serialize()`` (and ``pickle``), read by
``Runtime.deserialize(data)``.  Layout::

    MAGIC (8 bytes) | u32 header length | header (JSON) | module | code | sha256 (32 bytes)

* ``header``: ``format`` (this layout's version), ``pywazero`` (the version that
  wrote it), ``python`` (implementation, version and bytecode magic number:
  :func:`~pywazero.engine.compiler.persist.python_tag`), ``features`` (the core
  features the module was validated under, an int), ``engine`` (the engine whose
  code follows) and the byte lengths of ``module`` and ``code``.
* ``module``: the module's original binary (text modules: their binary encoding),
  validated when it was first compiled, so loading decodes it without validating
  again and without reading function bodies until they are used.
* ``code``: the engine's per-function code: for the compiler a code chunk of
  :mod:`pywazero.engine.compiler.persist` (marshalled code objects of the functions
  translated so far); empty for the interpreter, whose per-function code is rebuilt
  on first call.
* the digest covers everything before it: a truncated or damaged blob is refused
  before anything in it is decoded or unmarshalled.

Loading refuses (:class:`~pywazero.SerializationError`) another format, another
pywazero version and another Python (implementation or bytecode version), so blobs
are not portable between Python versions; keep the ``.wasm`` to compile anew
there.  A runtime whose core features differ validates the carried module under its
own features (as ``compile`` would); code for another engine, or for other
code-affecting settings (fuel, interruption, call depth), is ignored and the
functions are translated again when called.

Deserializing runs code objects from the blob: only load blobs from a source you
trust (your own cache, your own processes), never from users.
"""
from __future__ import annotations

import hashlib
import json
import struct
from typing import TYPE_CHECKING, Any, Dict, Tuple, Union

if TYPE_CHECKING:
    from .runtime import CompiledModule, Runtime

from .errors import SerializationError

__all__ = ["MAGIC", "FORMAT", "dumps", "loads", "read_header"]

MAGIC = b"\x89PWZmod\n"
FORMAT = 1
_DIGEST = 32
_MAX_HEADER = 1 << 16


def dumps(cm: CompiledModule, translate_used: bool = False) -> bytes:
    """The serialized form of compiled module ``cm`` (see the module docstring);
    ``translate_used``: see ``CompiledModule.serialize``."""
    from . import __version__
    from .engine.compiler.persist import python_tag

    module = cm.module   # (ValueError when closed)
    # (export_codes, translate_used, translated: the compiler's code only)
    code_obj: Any = cm._engine_code()
    export = getattr(code_obj, "export_codes", None)
    if translate_used and export is not None:
        code_obj.translate_used()
    # (pickling the same module again, e.g. once per task, costs nothing while no
    # function was translated since: the blob is kept with its count)
    filled = len(code_obj.translated()) if export is not None else 0
    cached = cm._serialized
    if cached is not None and cached[0] == filled:
        return cached[1]
    wasm = cm._wasm_bytes()
    code = export() if export is not None else b""
    header = json.dumps({
        "format": FORMAT, "pywazero": __version__, "python": python_tag(),
        "features": int(cm._runtime.config.core_features), "engine": cm._runtime.engine,
        "module": len(wasm), "code": len(code), "funcs": len(module.funcs),
    }, sort_keys=True).encode()
    parts = [MAGIC, struct.pack("<I", len(header)), header, wasm, code]
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    parts.append(h.digest())
    blob = b"".join(parts)
    cm._serialized = (filled, blob)
    return blob


def read_header(data: object) -> Tuple[Dict[str, Any], memoryview, memoryview]:
    """Check blob ``data`` (format, integrity, pywazero and Python versions) and
    return its header with views of its module bytes and code; raises
    :class:`~pywazero.SerializationError` with the reason otherwise."""
    from . import __version__
    from .engine.compiler.persist import python_tag

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"serialized module must be bytes, not {type(data).__name__}")
    view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
    n = len(view)
    if n < len(MAGIC) or view[:len(MAGIC)] != MAGIC:
        raise SerializationError("not a serialized pywazero module (bad magic)")
    if n < len(MAGIC) + 4 + _DIGEST:
        raise SerializationError("corrupt serialized module: truncated")
    body = view[:n - _DIGEST]
    if hashlib.sha256(body).digest() != view[n - _DIGEST:]:
        raise SerializationError("corrupt serialized module: checksum mismatch (truncated or damaged)")
    (hlen,) = struct.unpack_from("<I", view, len(MAGIC))
    start = len(MAGIC) + 4
    try:
        if hlen > _MAX_HEADER or start + hlen > len(body):
            raise ValueError("header length")
        header = json.loads(bytes(view[start:start + hlen]).decode())
        if not isinstance(header, dict):
            raise ValueError("header")
        fmt = header.get("format")
        if fmt != FORMAT:
            raise SerializationError(f"serialized module has format {fmt!r}, this pywazero reads "
                                     f"format {FORMAT}: compile the module again")
        version, python = header["pywazero"], header["python"]
        if version != __version__:
            raise SerializationError(f"serialized module was made by pywazero {version}, this is "
                                     f"pywazero {__version__}: compile the module again")
        if python != python_tag():
            raise SerializationError(f"serialized module was made by Python {python}, this is "
                                     f"{python_tag()}: compile the module again")
        mlen, clen = header["module"], header["code"]
        if not (isinstance(mlen, int) and isinstance(clen, int) and isinstance(header["features"], int)
                and isinstance(header["engine"], str)) or start + hlen + mlen + clen != len(body):
            raise ValueError("lengths")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        if isinstance(e, SerializationError):
            raise
        raise SerializationError(f"corrupt serialized module: bad header ({e})") from None
    pos = start + hlen
    return header, body[pos:pos + mlen], body[pos + mlen:]


def loads(runtime: Runtime, data: Union[bytes, bytearray, memoryview]) -> CompiledModule:
    """The CompiledModule of ``runtime`` serialized in ``data`` (see the module
    docstring for what is refused and what is rebuilt)."""
    from .binary.decoder import decode_module
    from .errors import DecodeError
    from .runtime import CompiledModule
    from .wasm.features import CoreFeatures

    header, wasm_view, code = read_header(data)
    wasm = bytes(wasm_view)
    features = runtime.config.core_features
    if int(features) != header["features"]:
        # validated under other rules: validate under this runtime's, as compile does
        cm = runtime.compile(wasm)
    else:
        try:
            module = decode_module(wasm, CoreFeatures(header["features"]), trusted=True)
        except DecodeError as e:  # pragma: no cover - the digest matched: a writer's bug
            raise SerializationError(f"corrupt serialized module: {e}") from None
        cm = CompiledModule(module, runtime)
        cm._wasm = wasm
        runtime._check_memory_limits(cm)
    code_obj = cm._engine_code()
    if header["engine"] == runtime.engine and len(code):
        importer = getattr(code_obj, "import_codes", None)
        if importer is not None:
            if header.get("funcs") != len(cm.module.funcs):
                raise SerializationError("corrupt serialized module: code for another module")
            importer(code, verified=True)
    return cm
