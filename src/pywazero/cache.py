"""The on-disk compilation cache: :class:`CompilationCache`.

A runtime configured with ``RuntimeConfig(cache=CompilationCache(dir))`` looks every
binary module it compiles up in ``dir`` first.  On a hit the module comes back from
its serialized form (``Runtime.deserialize``: no validation, and every function a
previous run translated is already translated); on a miss it is compiled as usual
and its serialized form is stored.  Functions translated while the module runs are
added to the entry when the module (or its runtime) is closed, and at interpreter
exit, so the next process starts with them.

An entry is one file, ``<key>.pwzc``: a header (magic, payload length, SHA-256 of
the payload) and the payload, ``CompiledModule.serialize()``'s bytes.  The key
hashes everything the generated code depends on (see :meth:`CompilationCache.key`).
Entries are written to a temporary file in the same directory and renamed over the
old one (``os.replace``), so readers see a whole entry or none, whatever the number
of concurrent writers; an entry that is truncated, corrupt or from another build is
ignored and rebuilt.  Because entries hold code that runs in the process, the
directory must be private to the user (see docs/SECURITY.md).
"""
from __future__ import annotations

import atexit
import os
import stat
import struct
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

if TYPE_CHECKING:
    from .runtime import CompiledModule, Runtime

# an entry file's identity: (inode, size, mtime in ns)
_Stamp = Tuple[int, int, int]
# a cached module's slot: [cache, key, functions translated when last stored, stamp]
_Slot = List[Any]

__all__ = ["CompilationCache", "CacheError"]

_MAGIC = b"pywazero-cache\x00\x01"       # 16 bytes: the envelope's own format version
_HEADER = struct.Struct("<16sQ32s")      # magic, payload length, sha256(payload)
_SUFFIX = ".pwzc"
_TMP_PREFIX = ".tmp-"
# POSIX ownership and mode checks; Windows has neither (its ACLs are not checked:
# keep the cache under the user's profile there)
_POSIX = os.name == "posix"


class CacheError(ValueError):
    """The cache directory or one of its entries is not safe to use: not a
    directory, owned by another user, or writable by group or others.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); os.chmod(d, 0o777)
    >>> CompilationCache(d)
    Traceback (most recent call last):
    ...
    pywazero.cache.CacheError: ...
    """


def _check_private(path: str, st: os.stat_result, what: str) -> None:
    """Refuse ``path`` unless it belongs to this user and only it may write it:
    whoever can write an entry chooses code this process will run."""
    if not _POSIX:
        return
    if st.st_uid != os.geteuid():
        raise CacheError(f"compilation cache {what} {path!r} is owned by another user "
                         f"(uid {st.st_uid}); it must belong to uid {os.geteuid()}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(f"compilation cache {what} {path!r} is writable by group or others "
                         f"(mode {stat.S_IMODE(st.st_mode):o}); its entries hold code that "
                         f"runs, so it must be private (chmod 700)")


def build_fingerprint() -> bytes:
    """What makes this process's generated code what it is, besides the module and
    the runtime's settings: pywazero's version and the digest of its own source
    files (a development tree changes code without changing the version), the
    Python implementation, version and bytecode magic (code objects are
    marshalled), and the byte order (it chooses how memory is read)."""
    from . import __version__
    from .engine.compiler.persist import python_tag, source_fingerprint

    return "|".join([__version__, python_tag(), sys.version, sys.byteorder,
                     source_fingerprint()]).encode("utf-8", "surrogateescape")


class CompilationCache:
    """A directory of compiled modules, shared by the runtimes (and processes) that
    use it (in the spirit of wazero's ``NewCompilationCacheWithDir``).

    The directory is created (mode 0700) if missing.  It must belong to the current
    user and not be writable by group or others, or :class:`CacheError` is raised:
    entries hold Python code objects that the process runs.  (On Windows these POSIX
    checks are skipped; keep the cache under the user's profile.)

    >>> import pywazero, tempfile, os
    >>> cache = pywazero.CompilationCache(os.path.join(tempfile.mkdtemp(), "wasm"))
    >>> rt = pywazero.Runtime(pywazero.RuntimeConfig(cache=cache))
    >>> wasm = pywazero.wat2wasm('(module (func (export "f") (result i32) i32.const 7))')
    >>> rt.instantiate(rt.compile(wasm)).function("f")()   # miss: compiled and stored
    7
    >>> rt.close()                                        # adds translated functions
    >>> rt2 = pywazero.Runtime(pywazero.RuntimeConfig(cache=cache))
    >>> rt2.instantiate(rt2.compile(wasm)).function("f")()  # hit: loaded, not compiled
    7
    >>> len(cache.entries())
    1

    Only binary modules are cached (text is compiled as usual).  Writing is best
    effort: an entry that cannot be written (disk full, read-only directory) leaves
    the module compiled and working.  Nothing is ever evicted: :meth:`clear` empties
    the directory.
    """

    def __init__(self, directory: "Union[str, os.PathLike[str]]") -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a str or path, not {type(directory).__name__}")
        path = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        if not os.path.isdir(path):
            try:
                os.makedirs(path, mode=0o700)
            except FileExistsError:
                pass  # (made meanwhile, or a file: checked below)
            except OSError as e:
                raise CacheError(f"cannot create compilation cache directory {path!r}: "
                                 f"{e.strerror or e}") from None
        try:
            st = os.stat(path)
        except OSError as e:
            raise CacheError(f"cannot use compilation cache directory {path!r}: {e.strerror or e}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise CacheError(f"compilation cache path {path!r} is not a directory")
        _check_private(path, st, "directory")
        self.directory = path
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CompilationCache({self.directory!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompilationCache) and other.directory == self.directory

    def __hash__(self) -> int:
        return hash(self.directory)

    def __reduce__(self) -> Any:
        # (a RuntimeConfig holding a cache pickles as the directory: the receiving
        # process checks it again)
        return (CompilationCache, (self.directory,))

    # -- keys and entries -----------------------------------------------------------
    @staticmethod
    def key(data: bytes, runtime: Runtime) -> str:
        """The entry name of module ``data`` compiled by ``runtime``: a SHA-256 over
        the module's bytes, :func:`build_fingerprint` and the runtime settings that
        change generated code (engine, core features, fuel, interruption, call
        depth, the compiler's back-edge hook)."""
        import hashlib

        cfg = runtime.config
        settings = (runtime.engine, int(cfg.core_features), cfg.consume_fuel, cfg.interruptible,
                    cfg.max_call_depth, getattr(runtime._engine, "back_edge_hook", None))
        h = hashlib.sha256(build_fingerprint())
        h.update(repr(settings).encode())
        h.update(b"\0")
        h.update(data)
        return h.hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key + _SUFFIX)

    def entries(self) -> List[str]:
        """The paths of the entries in the directory."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(os.path.join(self.directory, n) for n in names if n.endswith(_SUFFIX))

    def clear(self) -> None:
        """Remove every entry (and temporary file left by a writer that died)."""
        for name in os.listdir(self.directory):
            if name.endswith(_SUFFIX) or name.startswith(_TMP_PREFIX):
                try:
                    os.unlink(os.path.join(self.directory, name))
                except OSError:
                    pass

    def read(self, key: str) -> Optional[bytes]:
        """The payload stored under ``key``, or None when there is none or it is
        truncated or corrupt.  Raises :class:`CacheError` for an entry that is not a
        regular file of this user writable only by it."""
        return self._read(key)[0]

    def _read(self, key: str) -> Tuple[Optional[bytes], Optional[_Stamp]]:
        """(payload or None, the entry's stamp or None): see read."""
        path = self._path(key)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None, None
        except OSError as e:
            if _POSIX and os.path.islink(path):
                raise CacheError(f"compilation cache entry {path!r} is a symbolic link") from None
            raise CacheError(f"cannot read compilation cache entry {path!r}: {e.strerror or e}") from None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CacheError(f"compilation cache entry {path!r} is not a regular file")
            _check_private(path, st, "entry")
            try:
                blob = f.read()
            except OSError:
                return None, None
        return _unwrap(blob), _stamp(st)

    def _stamp_of(self, key: str) -> Optional[_Stamp]:
        try:
            return _stamp(os.stat(self._path(key)))
        except OSError:
            return None

    def write(self, key: str, payload: bytes) -> bool:
        """Store ``payload`` under ``key`` atomically (a temporary file in the same
        directory, renamed over the entry); False when it could not be written."""
        return self._write(key, payload) is not None

    def _write(self, key: str, payload: bytes) -> Optional[_Stamp]:
        """write; the new entry's stamp, None when it could not be written."""
        import hashlib
        import tempfile

        header = _HEADER.pack(_MAGIC, len(payload), hashlib.sha256(payload).digest())
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".part", dir=self.directory)
        except OSError:
            return None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(payload)
                f.flush()
                # (on disk before the rename: a crash never leaves a torn entry)
                os.fsync(f.fileno())
                # (the rename keeps inode and times: this identifies our entry)
                stamp = _stamp(os.fstat(f.fileno()))
            os.replace(tmp, self._path(key))
            return stamp
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return None

    # -- what Runtime.compile and close use -------------------------------------------
    def _compile(self, runtime: Runtime, data: bytes,
                 compile_fresh: Callable[[bytes], CompiledModule]) -> CompiledModule:
        """``runtime``'s CompiledModule of binary module ``data``: from the entry if
        there is a usable one, else ``compile_fresh(data)``, stored."""
        key = self.key(data, runtime)
        payload, stamp = self._read(key)
        if payload is not None:
            compiled = _load(runtime, payload)
            if compiled is not None:
                _track(compiled, self, key, stamp)
                return compiled
        compiled = compile_fresh(data)
        _track(compiled, self, key, self._store(compiled, key))
        return compiled

    def _store(self, compiled: CompiledModule, key: str) -> Optional[_Stamp]:
        payload = _dump(compiled)
        return None if payload is None else self._write(key, payload)

    def _flush(self, compiled: CompiledModule, key: str, known: int,
               stamp: Optional[_Stamp]) -> Tuple[int, Optional[_Stamp]]:
        """Rewrite ``compiled``'s entry if it holds more translated functions than
        ``known`` (what the entry had when loaded or last written), merged with what
        another process wrote meanwhile (if the entry is no longer ``stamp``, the
        one loaded or written); the new (known, stamp)."""
        if compiled.closed:
            return known, stamp
        # (functions run only on the cheap tier's interpreter are translated too, so
        # the next process finds compiled code for every function this one used)
        translate_used = getattr(compiled._code, "translate_used", None)
        if translate_used is not None:
            translate_used()
        count = _translated(compiled)
        if count <= known:
            return known, stamp
        with self._lock:
            if stamp is None or self._stamp_of(key) != stamp:
                try:
                    payload = self.read(key)
                except CacheError:
                    payload = None   # (refused to read: replaced by ours, never run)
                if payload is not None:
                    _merge(compiled, payload)
            new = self._store(compiled, key)
        return _translated(compiled), new


def _stamp(st: os.stat_result) -> _Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


# -- the serialized form (CompiledModule.serialize / Runtime.deserialize) ----------------
def _dump(compiled: CompiledModule) -> Optional[bytes]:
    try:
        return compiled.serialize()
    except Exception:  # noqa: BLE001 - a module that cannot be stored is still compiled
        return None


def _load(runtime: Runtime, payload: bytes) -> Optional[CompiledModule]:
    """The module of a stored payload, or None if it cannot be loaded (from another
    build, or corrupt past the envelope's check): the entry is then rebuilt."""
    try:
        return runtime.deserialize(payload)
    except Exception:  # noqa: BLE001 - never trusted, never a crash: compiled again
        return None


def _translated(compiled: CompiledModule) -> int:
    """How many functions the engine has translated for ``compiled`` (what an entry
    gains by being written again; the interpreter's code is not stored)."""
    translated = getattr(compiled._code, "translated", None)
    return 0 if translated is None else len(translated())


def _merge(compiled: CompiledModule, payload: bytes) -> None:
    """Add to ``compiled`` the translated functions of ``payload`` (an entry written
    by another process) that it lacks, so the entry written next is a superset."""
    from .serialize import read_header

    try:
        header, _, code = read_header(payload)
        importer = getattr(compiled._code, "import_codes", None)
        if (importer is not None and len(code) and header["engine"] == compiled._runtime.engine
                and header.get("funcs") == len(compiled.module.funcs)):
            importer(code)
    except Exception:  # noqa: BLE001 - unusable: ours replaces it
        pass


def _unwrap(blob: bytes) -> Optional[bytes]:
    """The payload of an entry's bytes, or None unless it is whole and intact."""
    if len(blob) < _HEADER.size:
        return None
    magic, length, digest = _HEADER.unpack_from(blob)
    if magic != _MAGIC or len(blob) - _HEADER.size != length:
        return None
    import hashlib

    payload = blob[_HEADER.size:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    return payload


# -- modules to flush: on close, and at interpreter exit for those still open -------------
# A runtime holds the slots of the cached modules it compiled (so a module dropped
# by its user, e.g. ``rt.instantiate(rt.compile(data))``, is still flushed: its
# instances use its code) until the module or the runtime is closed; the runtimes
# are held weakly, for the flush at exit.
_runtimes: "weakref.WeakSet[Runtime]" = weakref.WeakSet()
_lock = threading.Lock()


def _slots(runtime: Runtime) -> Dict[CompiledModule, _Slot]:
    slots: Optional[Dict[CompiledModule, _Slot]] = runtime.__dict__.get("_cache_slots")
    if slots is None:
        slots = runtime._cache_slots = {}
        _runtimes.add(runtime)
    return slots


def _track(compiled: CompiledModule, cache: CompilationCache, key: str, stamp: Optional[_Stamp]) -> None:
    with _lock:
        _slots(compiled._runtime)[compiled] = [cache, key, _translated(compiled), stamp]


def flush(compiled: CompiledModule) -> None:
    """Write what ``compiled`` translated since its entry was loaded or written (no-op
    for a module not from a cache)."""
    with _lock:
        slot = _slots(compiled._runtime).get(compiled)
    if slot is None:
        return
    cache, key, known, stamp = slot
    try:
        slot[2], slot[3] = cache._flush(compiled, key, known, stamp)
    except Exception:  # noqa: BLE001 - best effort: the cache never breaks a close
        pass


def release(compiled: CompiledModule) -> None:
    """Flush ``compiled`` and forget it (CompiledModule.close)."""
    flush(compiled)
    with _lock:
        _slots(compiled._runtime).pop(compiled, None)


def release_runtime(runtime: Runtime) -> None:
    """Flush every cached module of ``runtime`` and forget them (Runtime.close)."""
    with _lock:
        modules = list(_slots(runtime))
    for compiled in modules:
        flush(compiled)
    with _lock:
        _slots(runtime).clear()
        _runtimes.discard(runtime)


@atexit.register
def _flush_all() -> None:
    with _lock:
        runtimes = list(_runtimes)
    for runtime in runtimes:
        release_runtime(runtime)
