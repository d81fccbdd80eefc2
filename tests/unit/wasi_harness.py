"""Helpers for the WASI tests: a WAT module that imports every WASI function and
re-exports it under the same name (so tests drive each one from WebAssembly with
chosen arguments), and a :class:`Guest` wrapper with memory helpers."""
from __future__ import annotations

import random
import struct
from typing import Any, Dict, Iterable, Tuple

import pywazero as wz
from pywazero import wasi
from pywazero.wasi.preview1 import FUNCTIONS, NOT_IN_UNSTABLE

ENGINES = ("interpreter", "compiler")
ALL_RIGHTS = (1 << 30) - 1
SCRATCH = 4096  # strings and buffers go from here; results at 0..4095

_TYPE = {wz.I32: "i32", wz.I64: "i64"}


def reexport_wat(module: str = "wasi_snapshot_preview1", pages: int = 4) -> str:
    parts = ["(module"]
    body = []
    for name, (_impl, params) in FUNCTIONS.items():
        if module == "wasi_unstable" and name in NOT_IN_UNSTABLE:
            continue
        ps = " ".join(_TYPE[p] for p in params)
        pdecl = f"(param {ps})" if ps else ""
        res = "" if name == "proc_exit" else "(result i32)"
        parts.append(f'  (import "{module}" "{name}" (func ${name} {pdecl} {res}))')
        gets = " ".join(f"(local.get {i})" for i in range(len(params)))
        body.append(f'  (func (export "{name}") {pdecl} {res} (call ${name} {gets}))')
    parts.append(f'  (memory (export "memory") {pages})')
    parts.extend(body)
    parts.append(")")
    return "\n".join(parts)


_CACHE: Dict[Tuple[str, str], Tuple[Any, Any]] = {}


def runtime_and_module(engine: str, module: str = "wasi_snapshot_preview1") -> Tuple[Any, Any]:
    key = (engine, module)
    if key not in _CACHE:
        rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
        wasi.instantiate(rt)
        _CACHE[key] = (rt, rt.compile(reexport_wat(module)))
    return _CACHE[key]


class Guest:
    """A guest instance whose exports are the WASI functions themselves."""

    def __init__(self, engine: str, module: str = "wasi_snapshot_preview1", **config: Any) -> None:
        config.setdefault("clock", wasi.FakeClock())
        config.setdefault("random", random.Random(1234))
        config.setdefault("stdout", __import__("io").BytesIO())
        config.setdefault("stderr", __import__("io").BytesIO())
        config.setdefault("stdin", b"")
        rt, compiled = runtime_and_module(engine, module)
        self.config = wz.ModuleConfig(**config)
        self.module = rt.instantiate(compiled, self.config)
        self.mem = self.module.memory()
        self._next = SCRATCH

    def __getattr__(self, name: str) -> Any:
        if name in FUNCTIONS:
            return self.module.function(name)
        raise AttributeError(name)

    # -- memory helpers
    def alloc(self, data: bytes) -> int:
        p = self._next
        self.mem.write(p, data)
        self._next += (len(data) + 7) & ~7 or 8
        return p

    def s(self, text: "str | bytes") -> Tuple[int, int]:
        b = text.encode() if isinstance(text, str) else text
        return self.alloc(b), len(b)

    def u32(self, p: int) -> int:
        return self.mem.read_u32(p)

    def u64(self, p: int) -> int:
        return self.mem.read_u64(p)

    def iovs(self, bufs: Iterable[Tuple[int, int]]) -> Tuple[int, int]:
        bufs = list(bufs)
        data = b"".join(struct.pack("<II", p, n) for p, n in bufs)
        return self.alloc(data or b"\0" * 8), len(bufs)

    # -- common operations (return (errno, value))
    def open(self, path: str, oflags: int = 0, rights: int = ALL_RIGHTS, fdflags: int = 0,
             dirfd: int = 3, follow: bool = True, inheriting: int = ALL_RIGHTS) -> Tuple[int, int]:
        p, n = self.s(path)
        err = self.path_open(dirfd, 1 if follow else 0, p, n, oflags, rights, inheriting, fdflags, 0)
        return err, self.u32(0)

    def write(self, fd: int, data: bytes) -> Tuple[int, int]:
        iov, n = self.iovs([self.s(data)])
        err = self.fd_write(fd, iov, n, 8)
        return err, self.u32(8)

    def read(self, fd: int, n: int) -> Tuple[int, bytes]:
        buf = self.alloc(b"\0" * max(n, 1))
        iov, cnt = self.iovs([(buf, n)])
        err = self.fd_read(fd, iov, cnt, 8)
        got = self.u32(8) if err == 0 else 0
        return err, self.mem.read(buf, got)

    def pathcall(self, fn: str, dirfd: int, path: str, *rest: int) -> int:
        p, n = self.s(path)
        return getattr(self, fn)(dirfd, p, n, *rest)

    def filestat(self, path: str, follow: bool = True, dirfd: int = 3) -> Tuple[int, Dict[str, int]]:
        p, n = self.s(path)
        err = self.path_filestat_get(dirfd, 1 if follow else 0, p, n, 64)
        return err, self.decode_filestat(64)

    def decode_filestat(self, p: int) -> Dict[str, int]:
        dev, ino, ft, nlink, size, at, mt, ct = struct.unpack("<QQB7xQQQQQ", self.mem.read(p, 64))
        return dict(dev=dev, ino=ino, filetype=ft, nlink=nlink, size=size, atim=at, mtim=mt, ctim=ct)

    def readdir_all(self, fd: int, buf_len: int = 256) -> list:
        """Every entry name, reading with a small buffer and cookies."""
        names = []
        cookie = 0
        while True:
            buf = self.alloc(b"\0" * buf_len)
            assert self.fd_readdir(fd, buf, buf_len, cookie, 8) == 0
            used = self.u32(8)
            data = self.mem.read(buf, used)
            off = 0
            progressed = False
            while off + 24 <= used:
                d_next, ino, namlen, ft = struct.unpack_from("<QQIB", data, off)
                if off + 24 + namlen > used:
                    break  # truncated: read again from this cookie
                names.append(data[off + 24:off + 24 + namlen].decode())
                cookie = d_next
                off += 24 + namlen
                progressed = True
            if used < buf_len:
                return names
            assert progressed, "buffer too small for one entry"


class _WasmtimeMemory:
    def __init__(self, store: Any, mem: Any) -> None:
        self._store = store
        self._mem = mem

    @property
    def size(self) -> int:
        return self._mem.data_len(self._store)

    def write(self, p: int, data: bytes) -> None:
        self._mem.write(self._store, bytes(data), p)

    def read(self, p: int, n: int) -> bytes:
        return bytes(self._mem.read(self._store, p, p + n))

    def read_u8(self, p: int) -> int:
        return self.read(p, 1)[0]

    def read_u32(self, p: int) -> int:
        return struct.unpack("<I", self.read(p, 4))[0]

    def read_u64(self, p: int) -> int:
        return struct.unpack("<Q", self.read(p, 8))[0]


class WasmtimeGuest(Guest):
    """The same interface run by wasmtime (a dev-only oracle)."""

    def __init__(self, mounts: Any = (), **_ignored: Any) -> None:  # noqa: D401
        import wasmtime

        engine = wasmtime.Engine()
        self._store = wasmtime.Store(engine)
        cfg = wasmtime.WasiConfig()
        for m in mounts:
            cfg.preopen_dir(m.host_dir, m.guest_path, not m.read_only)
        self._store.set_wasi(cfg)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        inst = linker.instantiate(self._store, wasmtime.Module(engine, reexport_wat()))
        self._exports = inst.exports(self._store)
        self.mem = _WasmtimeMemory(self._store, self._exports["memory"])
        self._next = SCRATCH

    def __getattr__(self, name: str) -> Any:
        if name in FUNCTIONS:
            f = self._exports[name]
            params = FUNCTIONS[name][1]

            def call(*args: int) -> Any:
                conv = []
                for t, a in zip(params, args):
                    bits = 32 if t == wz.I32 else 64
                    conv.append(a - (1 << bits) if a >= 1 << (bits - 1) else a)
                return f(self._store, *conv)
            return call
        raise AttributeError(name)
