"""The functions of ``wasi_snapshot_preview1`` (and the ``wasi_unstable`` variants).

Each function receives the calling :class:`~pywazero.wasm.instance.ModuleInstance`,
finds (or lazily creates) that instance's :class:`~.fs.WasiState` from its
``ModuleConfig``, and returns a WASI errno.  Guest pointers are bounds-checked: an
out-of-bounds pointer or length traps (as wasmtime does), it never raises a Python
exception into the host.
"""
from __future__ import annotations

import io
import os
import select
import socket
import stat
import struct
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import ExitError, Trap
from ..wasm.instance import HostFunctionInstance, MemoryInstance, ModuleInstance
from ..wasm.types import I32, I64, FuncType
from . import fs as F
from .errno import (
    EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTEMPTY, ENOTSOCK, ENOTSUP,
    EPERM, ESPIPE, EAGAIN, EBUSY, SUCCESS, ENOTCAPABLE, EXDEV, EILSEQ, WasiError, from_oserror,
)
from .fs import FileDesc, WasiState, _Inherit, _Null
from .sandbox import Dir, Resolved, decode_path, resolve

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_U16 = struct.Struct("<H")
_IOVEC = struct.Struct("<II")

#: the most bytes one fd_read/fd_write/fd_pread/fd_pwrite/sock_recv/sock_send moves
#: (and so the most host memory it allocates): beyond it the guest gets a short count
MAX_IO_BYTES = 16 << 20
#: the most iovecs one such call looks at (POSIX's usual IOV_MAX)
MAX_IOVECS = 1024
_M64 = (1 << 64) - 1

# oflags, lookupflags, fstflags, whence, eventtype, subclockflags
O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
LOOKUP_SYMLINK_FOLLOW = 1
FST_ATIM, FST_ATIM_NOW, FST_MTIM, FST_MTIM_NOW = 1, 2, 4, 8
EVENT_CLOCK, EVENT_FD_READ, EVENT_FD_WRITE = 0, 1, 2
SUBCLOCK_ABSTIME = 1
EVENTRW_HANGUP = 1

_WRITE_RIGHTS = F.R_FD_WRITE | F.R_FD_DATASYNC | F.R_FD_ALLOCATE | F.R_FD_FILESTAT_SET_SIZE
_READ_RIGHTS = F.R_FD_READ | F.R_FD_READDIR

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_HAS_PREAD = hasattr(os, "pread")


class Mem:
    """Bounds-checked access to the caller's memory."""

    __slots__ = ("data", "fn")

    def __init__(self, data: bytearray, fn: str) -> None:
        self.data = data
        self.fn = fn

    def check(self, p: int, n: int) -> None:
        if p + n > len(self.data):
            raise Trap(f"out of bounds memory access: wasi {self.fn} pointer {p} length {n}")

    def read(self, p: int, n: int) -> bytes:
        self.check(p, n)
        return bytes(self.data[p:p + n])

    def write(self, p: int, b: bytes) -> None:
        self.check(p, len(b))
        self.data[p:p + len(b)] = b

    def u32(self, p: int) -> int:
        self.check(p, 4)
        v: int = _U32.unpack_from(self.data, p)[0]
        return v

    def u64(self, p: int) -> int:
        self.check(p, 8)
        v: int = _U64.unpack_from(self.data, p)[0]
        return v

    def w8(self, p: int, v: int) -> None:
        self.check(p, 1)
        self.data[p] = v

    def w16(self, p: int, v: int) -> None:
        self.check(p, 2)
        _U16.pack_into(self.data, p, v)

    def w32(self, p: int, v: int) -> None:
        self.check(p, 4)
        _U32.pack_into(self.data, p, v & 0xFFFFFFFF)

    def w64(self, p: int, v: int) -> None:
        self.check(p, 8)
        _U64.pack_into(self.data, p, v & _M64)

    def iovecs(self, p: int, n: int) -> List[Tuple[int, int]]:
        """The (pointer, length) pairs of the ``n`` iovecs at ``p`` that one call
        transfers: at most MAX_IOVECS of them and MAX_IO_BYTES in total (the last one
        shortened).  Guest lengths add up without bound (16,000 overlapping 128 KiB
        iovecs over two pages are 2 GB), so a larger request gets a short count,
        as POSIX allows for readv/writev; each pair used is bounds-checked (traps)."""
        self.check(p, 8 * n)
        out = []
        room = MAX_IO_BYTES
        unpack = _IOVEC.unpack_from
        for i in range(min(n, MAX_IOVECS)):
            buf, ln = unpack(self.data, p + 8 * i)
            self.check(buf, ln)
            if ln >= room:
                out.append((buf, room))
                break
            out.append((buf, ln))
            room -= ln
        return out

    def gather(self, iovs: List[Tuple[int, int]]) -> bytes:
        """The bytes of ``iovs`` (from :meth:`iovecs`, so at most MAX_IO_BYTES)."""
        data = self.data
        if len(iovs) == 1:
            buf, ln = iovs[0]
            return bytes(data[buf:buf + ln])
        out = bytearray()
        for buf, ln in iovs:
            out += data[buf:buf + ln]
        return bytes(out)

    def path(self, p: int, n: int) -> str:
        return decode_path(self.read(p, n))

    def scatter(self, iovs: List[Tuple[int, int]], data: bytes) -> None:
        off = 0
        for buf, ln in iovs:
            chunk = data[off:off + ln]
            if not chunk:
                break
            self.data[buf:buf + len(chunk)] = chunk
            off += len(chunk)


def _total(iovs: List[Tuple[int, int]]) -> int:
    return sum(ln for _, ln in iovs)


def state_of(inst: Any) -> WasiState:
    """The WASI state of the calling instance, created on first use."""
    if inst is None:
        raise Trap("wasi functions must be called from a WebAssembly module")
    st = getattr(inst, "wasi_state", None)
    if st is None:
        config = getattr(inst, "config", None)
        st = WasiState(config)
        # the runtime's execution limits: waits (poll_oneoff) end early on a deadline
        st.limits = next((f.engine.limits for f in inst.funcs
                          if getattr(getattr(f, "engine", None), "limits", None) is not None), None)
        if config is not None:
            inst.wasi_state = st
        # else: called from the module's spec start function, before Runtime.instantiate
        # attached the ModuleConfig: a default state serves that call, and is not kept
    return st


def _memory(inst: ModuleInstance) -> bytearray:
    m: object = inst.exports.get("memory")
    if not isinstance(m, MemoryInstance):
        m = inst.mems[0] if inst.mems else None
    if m is None:  # functions without pointers still work; any pointer is out of bounds
        return bytearray()
    return m.data


def _invalid(what: str) -> Trap:
    """An argument that is not a valid value of its enum or flags type: a guest
    error, which traps (as in wasmtime)."""
    return Trap(f"invalid {what} value")


def _s64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


# -- helpers -------------------------------------------------------------------------

def _check_writable_mount(d: FileDesc) -> None:
    if d.read_only:
        raise WasiError(EPERM)


def _dir(st: WasiState, fd: int, right: int, not_dir: int = EBADF) -> FileDesc:
    """The directory descriptor ``fd`` (another kind gives ``not_dir``: EBADF, or
    ENOTDIR for path_open, as wasmtime) holding ``right``."""
    d = st.get(fd)
    if d.kind != "dir":
        raise WasiError(not_dir)
    d.require(right)
    return d


def _file(st: WasiState, fd: int) -> FileDesc:
    d = st.get(fd)
    if d.kind == "dir":
        raise WasiError(EBADF)
    return d


def _stat_desc(d: FileDesc) -> Optional[os.stat_result]:
    if d.kind == "file":
        return os.fstat(d.osfd)  # type: ignore[arg-type]
    if d.kind == "dir":
        st: os.stat_result = d.dir.stat()
        return st
    if d.kind == "stdio":
        target = d.stream.target() if isinstance(d.stream, _Inherit) else d.stream
        try:
            return os.fstat(target.fileno())
        except Exception:
            return None
    return None


def _write_filestat(mem: Mem, p: int, s: Optional[os.stat_result], filetype: Optional[int],
                    unstable: bool) -> None:
    if s is None:
        vals = (0, 0, filetype or 0, 0, 0, 0, 0, 0)
    else:
        ft = F.filetype_of(s.st_mode) if filetype is None else filetype
        vals = (s.st_dev, s.st_ino, ft, s.st_nlink, s.st_size, s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns)
    dev, ino, ft, nlink, size, at, mt, ct = vals
    if unstable:
        mem.check(p, 56)
        buf = struct.pack("<QQBxxxIQQQQ", dev & _M64, ino & _M64, ft, nlink & 0xFFFFFFFF, size,
                          at & _M64, mt & _M64, ct & _M64)
    else:
        mem.check(p, 64)
        buf = struct.pack("<QQB7xQQQQQ", dev & _M64, ino & _M64, ft, nlink & _M64, size,
                          at & _M64, mt & _M64, ct & _M64)
    mem.write(p, buf)


def _check_fst(fst: int) -> None:
    if fst & ~0xF:
        raise _invalid("fstflags")
    if (fst & FST_ATIM and fst & FST_ATIM_NOW) or (fst & FST_MTIM and fst & FST_MTIM_NOW):
        raise WasiError(EINVAL)


def _check_lookup(flags: int) -> None:
    if flags & ~LOOKUP_SYMLINK_FOLLOW:
        raise _invalid("lookupflags")


def _new_times(st: WasiState, cur: os.stat_result, atim: int, mtim: int,
               fst: int) -> Optional[Tuple[int, int]]:
    """The (atime, mtime) in ns that ``fst`` asks for, from the current ``cur`` (None:
    nothing to change)."""
    if (fst & FST_ATIM and fst & FST_ATIM_NOW) or (fst & FST_MTIM and fst & FST_MTIM_NOW):
        raise WasiError(EINVAL)
    if not fst:
        return None
    now = st.clock.time_ns(0) if fst & (FST_ATIM_NOW | FST_MTIM_NOW) else 0
    a = atim if fst & FST_ATIM else now if fst & FST_ATIM_NOW else cur.st_atime_ns
    m = mtim if fst & FST_MTIM else now if fst & FST_MTIM_NOW else cur.st_mtime_ns
    return a, m


def _set_times(st: WasiState, target: Any, atim: int, mtim: int, fst: int, follow: bool = True) -> None:
    cur = os.stat(target, follow_symlinks=follow) if not isinstance(target, int) else os.fstat(target)
    times = _new_times(st, cur, atim, mtim, fst)
    if times is None:
        return
    a, m = times
    if isinstance(target, int):
        if os.utime in os.supports_fd:
            os.utime(target, ns=(a, m))
            return
        raise WasiError(ENOTSUP)  # pragma: no cover - callers pass paths there
    if not follow and os.utime not in os.supports_follow_symlinks:  # pragma: no cover
        if os.path.islink(target):
            raise WasiError(ENOTSUP)
        follow = True
    if follow:
        os.utime(target, ns=(a, m))
    else:
        os.utime(target, ns=(a, m), follow_symlinks=False)


def _stream_target(d: FileDesc) -> Any:
    t = d.stream.target() if isinstance(d.stream, _Inherit) else d.stream
    if t is None:
        raise WasiError(EBADF)
    return t


def _read_stream(d: FileDesc, n: int) -> bytes:
    t = _stream_target(d)
    if d.fdflags & F.FDFLAG_NONBLOCK and not _ready_for_read(d):
        raise WasiError(EAGAIN)
    if isinstance(d.stream, _Inherit):
        # the process's own stdin: read the OS descriptor directly, so nothing is
        # left in a Python buffer where select() (poll_oneoff, non-blocking reads)
        # cannot see it
        try:
            fileno = t.fileno()
        except Exception:
            fileno = None
        if fileno is not None:
            return os.read(fileno, n) if n else b""
        t = getattr(t, "buffer", t)
    elif isinstance(t, io.TextIOBase) and getattr(t, "buffer", None) is not None:
        t = t.buffer  # type: ignore[attr-defined]  # (checked just above)  # e.g. stdin=sys.stdin: read1 returns what is there, read(n) would wait for n
    reader = getattr(t, "read1", None) or t.read
    data = reader(n) if n else b""
    if data is None:
        raise WasiError(EAGAIN)
    if isinstance(data, str):
        data = data.encode("utf-8")
    return data


def _write_stream(d: FileDesc, data: bytes) -> int:
    t = _stream_target(d)
    if isinstance(d.stream, _Inherit):
        b = getattr(t, "buffer", None)
        if b is not None:
            b.write(data)
            b.flush()
            return len(data)
        t.write(data.decode("utf-8", "replace"))
        t.flush()
        return len(data)
    if isinstance(t, io.TextIOBase):
        b = getattr(t, "buffer", None)
        if b is not None:  # e.g. stdout=sys.stdout: the bytes go through unchanged
            t.flush()
            b.write(data)
            b.flush()
            return len(data)
        t.write(data.decode("utf-8", "replace"))
    else:
        try:
            t.write(data)
        except TypeError:  # a text-only file-like object
            t.write(data.decode("utf-8", "replace"))
    flush = getattr(t, "flush", None)
    if flush is not None:
        flush()
    return len(data)


def _selectable(d: FileDesc) -> Any:
    """An object select() can wait on for ``d``, or None (always ready)."""
    if d.kind in ("socket", "listener"):
        return d.sock
    if d.kind == "stdio":
        try:
            t = _stream_target(d)
            fileno = t.fileno()
        except Exception:
            return None
        if sys.platform == "win32":  # pragma: no cover - select() only takes sockets there
            return None
        return fileno
    return None


def _ready_for_read(d: FileDesc) -> bool:
    obj = _selectable(d)
    if obj is None:
        return True
    try:
        r, _, _ = select.select([obj], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(r)


def _pread(d: FileDesc, n: int, offset: int) -> bytes:
    if _HAS_PREAD:
        return os.pread(d.osfd, n, offset)  # type: ignore[arg-type]
    # (a "file" descriptor always has its osfd)
    cur = os.lseek(d.osfd, 0, os.SEEK_CUR)  # type: ignore[arg-type]  # pragma: no cover - Windows
    try:  # pragma: no cover
        os.lseek(d.osfd, offset, os.SEEK_SET)  # type: ignore[arg-type]
        return os.read(d.osfd, n)  # type: ignore[arg-type]
    finally:  # pragma: no cover
        os.lseek(d.osfd, cur, os.SEEK_SET)  # type: ignore[arg-type]


def _pwrite(d: FileDesc, data: bytes, offset: int) -> int:
    if hasattr(os, "pwrite"):
        return os.pwrite(d.osfd, data, offset)  # type: ignore[arg-type]
    cur = os.lseek(d.osfd, 0, os.SEEK_CUR)  # type: ignore[arg-type]  # pragma: no cover - Windows
    try:  # pragma: no cover
        os.lseek(d.osfd, offset, os.SEEK_SET)  # type: ignore[arg-type]
        return os.write(d.osfd, data)  # type: ignore[arg-type]
    finally:  # pragma: no cover
        os.lseek(d.osfd, cur, os.SEEK_SET)  # type: ignore[arg-type]


def _sync_after_write(d: FileDesc) -> None:
    if d.fdflags & (F.FDFLAG_SYNC | F.FDFLAG_DSYNC | F.FDFLAG_RSYNC) and d.osfd is not None:
        (getattr(os, "fdatasync", None) or os.fsync)(d.osfd)


# -- args, environ, clocks, random ------------------------------------------------

def _strings_get(mem: Mem, items: List[str], ptrs: int, buf: int) -> None:
    encoded = [s.encode("utf-8") + b"\0" for s in items]
    mem.check(ptrs, 4 * len(encoded))
    mem.check(buf, sum(len(e) for e in encoded))
    for i, e in enumerate(encoded):
        mem.w32(ptrs + 4 * i, buf)
        mem.write(buf, e)
        buf += len(e)


def _strings_sizes(mem: Mem, items: List[str], count_p: int, size_p: int) -> None:
    mem.w32(count_p, len(items))
    mem.w32(size_p, sum(len(s.encode("utf-8")) + 1 for s in items))


def args_get(st: WasiState, mem: Mem, argv: int, buf: int) -> int:
    _strings_get(mem, st.args, argv, buf)
    return SUCCESS


def args_sizes_get(st: WasiState, mem: Mem, count_p: int, size_p: int) -> int:
    _strings_sizes(mem, st.args, count_p, size_p)
    return SUCCESS


def environ_get(st: WasiState, mem: Mem, environ: int, buf: int) -> int:
    _strings_get(mem, st.environ, environ, buf)
    return SUCCESS


def environ_sizes_get(st: WasiState, mem: Mem, count_p: int, size_p: int) -> int:
    _strings_sizes(mem, st.environ, count_p, size_p)
    return SUCCESS


def clock_res_get(st: WasiState, mem: Mem, clock_id: int, res_p: int) -> int:
    if clock_id > 3:
        raise _invalid("clockid")
    mem.w64(res_p, st.clock.resolution_ns(clock_id))
    return SUCCESS


def clock_time_get(st: WasiState, mem: Mem, clock_id: int, precision: int, time_p: int) -> int:
    if clock_id > 3:
        raise _invalid("clockid")
    mem.check(time_p, 8)
    mem.w64(time_p, st.clock.time_ns(clock_id))
    return SUCCESS


def random_get(st: WasiState, mem: Mem, buf: int, n: int) -> int:
    mem.check(buf, n)
    # in pieces of at most MAX_IO_BYTES, so the temporaries stay bounded (a request
    # that fits in one piece asks the source once: seeded output stays as it was)
    while n:
        k = min(n, MAX_IO_BYTES)
        data = bytes(st.random(k))
        if len(data) != k:
            raise ValueError("random source returned the wrong number of bytes")
        mem.write(buf, data)
        buf += k
        n -= k
    return SUCCESS


# -- fd_* ------------------------------------------------------------------------------

def fd_advise(st: WasiState, mem: Mem, fd: int, offset: int, length: int, advice: int) -> int:
    if advice > 5:
        raise _invalid("advice")
    d = _file(st, fd)
    if d.kind != "file":
        return EBADF
    d.require(F.R_FD_ADVISE)
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(d.osfd, _s64(offset), _s64(length), advice)  # type: ignore[arg-type]  # WASI and POSIX agree on 0..5
    return SUCCESS


def fd_allocate(st: WasiState, mem: Mem, fd: int, offset: int, length: int) -> int:
    d = _file(st, fd)
    if d.kind != "file":
        return ESPIPE if d.kind == "stdio" else EBADF
    d.require(F.R_FD_ALLOCATE)
    _check_writable_mount(d)
    if not d.writable:
        return EBADF
    end = offset + length
    if end > (1 << 63) - 1:
        return EINVAL
    if os.fstat(d.osfd).st_size < end:  # type: ignore[arg-type]
        os.ftruncate(d.osfd, end)  # type: ignore[arg-type]
    return SUCCESS


def fd_close(st: WasiState, mem: Mem, fd: int) -> int:
    d = st.get(fd)
    del st.fds[fd]
    d.close()
    return SUCCESS


def fd_datasync(st: WasiState, mem: Mem, fd: int) -> int:
    return _sync(st, fd, F.R_FD_DATASYNC, getattr(os, "fdatasync", None) or os.fsync)


def fd_sync(st: WasiState, mem: Mem, fd: int) -> int:
    return _sync(st, fd, F.R_FD_SYNC, os.fsync)


def _sync(st: WasiState, fd: int, right: int, fn: Callable[[int], None]) -> int:
    d = st.get(fd)
    if d.kind == "file":
        d.require(right)
        fn(d.osfd)  # type: ignore[arg-type]
    elif d.kind == "dir":
        try:
            d.dir.fsync()
        except OSError:
            pass
    else:
        return EBADF
    return SUCCESS


def fd_fdstat_get(st: WasiState, mem: Mem, fd: int, p: int) -> int:
    mem.check(p, 24)
    d = st.get(fd)
    mem.write(p, struct.pack("<BxHxxxxQQ", d.filetype, d.fdflags, d.rights, d.inheriting))
    return SUCCESS


def fd_fdstat_set_flags(st: WasiState, mem: Mem, fd: int, flags: int) -> int:
    if flags & ~0x1F:
        raise _invalid("fdflags")
    d = st.get(fd)
    d.require(F.R_FD_FDSTAT_SET_FLAGS)
    if d.kind in ("socket", "listener"):
        d.sock.setblocking(not flags & F.FDFLAG_NONBLOCK)
    if d.kind == "dir" and flags & ~F.FDFLAG_NONBLOCK:
        return EINVAL
    d.fdflags = flags
    return SUCCESS


def fd_fdstat_set_rights(st: WasiState, mem: Mem, fd: int, base: int, inheriting: int) -> int:
    d = st.get(fd)
    if base & ~d.rights or inheriting & ~d.inheriting:
        return ENOTCAPABLE
    d.rights = base
    d.inheriting = inheriting
    return SUCCESS


def fd_filestat_get(st: WasiState, mem: Mem, fd: int, p: int, unstable: bool = False) -> int:
    d = st.get(fd)
    d.require(F.R_FD_FILESTAT_GET)
    s = _stat_desc(d)
    ft = d.filetype if d.kind in ("stdio", "socket", "listener") else None
    if d.kind == "stdio" and s is not None:
        ft = None
    _write_filestat(mem, p, s, ft, unstable)
    return SUCCESS


def fd_filestat_set_size(st: WasiState, mem: Mem, fd: int, size: int) -> int:
    d = _file(st, fd)
    if d.kind != "file":
        return EBADF
    _check_writable_mount(d)
    if size > (1 << 63) - 1 or not d.writable:
        return EINVAL
    d.require(F.R_FD_FILESTAT_SET_SIZE)
    os.ftruncate(d.osfd, size)  # type: ignore[arg-type]
    return SUCCESS


def fd_filestat_set_times(st: WasiState, mem: Mem, fd: int, atim: int, mtim: int, fst: int) -> int:
    _check_fst(fst)
    d = st.get(fd)
    if d.kind not in ("file", "dir"):
        return EBADF
    d.require(F.R_FD_FILESTAT_SET_TIMES)
    _check_writable_mount(d)
    if d.kind == "dir":
        times = _new_times(st, d.dir.stat(), atim, mtim, fst)
        if times is not None:
            d.dir.utime_self(times)
    elif os.utime in os.supports_fd:
        _set_times(st, d.osfd, atim, mtim, fst)
    else:  # pragma: no cover - Windows: by path
        _set_times(st, d.host, atim, mtim, fst)
    return SUCCESS


def fd_pread(st: WasiState, mem: Mem, fd: int, iovs_p: int, n: int, offset: int, nread_p: int) -> int:
    d = _file(st, fd)
    iovs = mem.iovecs(iovs_p, n)
    mem.check(nread_p, 4)
    if not d.readable:
        return EBADF
    if d.kind != "file":
        return ESPIPE
    d.require(F.R_FD_READ | F.R_FD_SEEK)
    if offset > (1 << 63) - 1:
        return EINVAL
    data = _pread(d, _total(iovs), offset)
    mem.scatter(iovs, data)
    mem.w32(nread_p, len(data))
    return SUCCESS


def fd_pwrite(st: WasiState, mem: Mem, fd: int, iovs_p: int, n: int, offset: int, nwritten_p: int) -> int:
    d = _file(st, fd)
    iovs = mem.iovecs(iovs_p, n)
    mem.check(nwritten_p, 4)
    if not d.writable:
        return EBADF
    if d.kind != "file":
        return ESPIPE
    d.require(F.R_FD_WRITE | F.R_FD_SEEK)
    _check_writable_mount(d)
    if offset > (1 << 63) - 1:
        return EINVAL
    data = mem.gather(iovs)
    written = _pwrite(d, data, offset) if data else 0
    _sync_after_write(d)
    mem.w32(nwritten_p, written)
    return SUCCESS


def fd_read(st: WasiState, mem: Mem, fd: int, iovs_p: int, n: int, nread_p: int) -> int:
    d = _file(st, fd)
    iovs = mem.iovecs(iovs_p, n)
    mem.check(nread_p, 4)
    total = _total(iovs)
    if not d.readable:
        return EBADF
    d.require(F.R_FD_READ)
    if d.kind == "file":
        data = os.read(d.osfd, total) if total else b""  # type: ignore[arg-type]
    elif d.kind == "stdio":
        data = _read_stream(d, total)
    elif d.kind == "socket":
        data = d.sock.recv(total) if total else b""
    else:
        return ENOTSUP
    mem.scatter(iovs, data)
    mem.w32(nread_p, len(data))
    return SUCCESS


def fd_write(st: WasiState, mem: Mem, fd: int, iovs_p: int, n: int, nwritten_p: int) -> int:
    d = _file(st, fd)
    iovs = mem.iovecs(iovs_p, n)
    mem.check(nwritten_p, 4)
    if not d.writable:
        return EBADF
    d.require(F.R_FD_WRITE)
    if d.kind == "stdio" and isinstance(d.stream, _Null):
        mem.w32(nwritten_p, _total(iovs))  # output nobody was granted: not even copied
        return SUCCESS
    data = mem.gather(iovs)
    if d.kind == "file":
        _check_writable_mount(d)
        if d.fdflags & F.FDFLAG_APPEND:
            os.lseek(d.osfd, 0, os.SEEK_END)  # type: ignore[arg-type]
        written = os.write(d.osfd, data) if data else 0  # type: ignore[arg-type]
        _sync_after_write(d)
    elif d.kind == "stdio":
        written = _write_stream(d, data) if data else 0
    elif d.kind == "socket":
        written = d.sock.send(data) if data else 0
    else:
        return ENOTSUP
    mem.w32(nwritten_p, written)
    return SUCCESS


def fd_prestat_get(st: WasiState, mem: Mem, fd: int, p: int) -> int:
    d = st.get(fd)
    if d.preopen is None:
        return EBADF
    mem.check(p, 8)
    mem.write(p, struct.pack("<BxxxI", 0, len(d.preopen.encode("utf-8"))))
    return SUCCESS


def fd_prestat_dir_name(st: WasiState, mem: Mem, fd: int, p: int, n: int) -> int:
    d = st.get(fd)
    if d.preopen is None:
        return ENOTDIR if d.kind == "file" else EBADF  # (as wasmtime)
    name = d.preopen.encode("utf-8")
    if n < len(name):
        return ENAMETOOLONG
    mem.write(p, name)
    return SUCCESS


def _dir_entries(d: FileDesc) -> List[Tuple[bytes, int, int]]:
    here = d.dir.stat()
    # the mount's root shows itself as its parent: nothing above it is the guest's
    parent = here if d.dir.is_root() else d.dir.parent_stat()
    out = [(b".", here.st_ino, F.FT_DIR), (b"..", parent.st_ino, F.FT_DIR)]
    rest = []
    with d.dir.scandir() as it:
        for e in it:
            try:
                if e.is_symlink():
                    ft = F.FT_SYMLINK
                elif e.is_dir(follow_symlinks=False):
                    ft = F.FT_DIR
                elif e.is_file(follow_symlinks=False):
                    ft = F.FT_FILE
                else:
                    ft = F.filetype_of(e.stat(follow_symlinks=False).st_mode)
                ino = e.inode()
            except OSError:
                continue
            rest.append((os.fsencode(e.name), ino, ft))
    rest.sort()
    return out + rest


def fd_readdir(st: WasiState, mem: Mem, fd: int, buf: int, buf_len: int, cookie: int, used_p: int) -> int:
    mem.check(buf, buf_len)
    mem.check(used_p, 4)
    d = st.get(fd)
    if d.kind != "dir":
        return EBADF
    d.require(F.R_FD_READDIR)
    if cookie == 0 or d.dir_entries is None:
        d.dir_entries = _dir_entries(d)
    entries = d.dir_entries
    if cookie > len(entries):
        mem.w32(used_p, 0)
        return SUCCESS
    out = bytearray()
    for i in range(cookie, len(entries)):
        if len(out) >= buf_len:
            break
        name, ino, ft = entries[i]
        out += struct.pack("<QQIB3x", i + 1, ino & _M64, len(name), ft) + name
    out = out[:buf_len]
    mem.write(buf, bytes(out))
    mem.w32(used_p, len(out))
    return SUCCESS


def fd_renumber(st: WasiState, mem: Mem, fd: int, to: int) -> int:
    d = st.get(fd)
    target = st.get(to)
    if fd == to:
        return SUCCESS
    target.close()
    st.fds[to] = d
    del st.fds[fd]
    return SUCCESS


_WHENCE = {0: os.SEEK_SET, 1: os.SEEK_CUR, 2: os.SEEK_END}
_WHENCE_UNSTABLE = {0: os.SEEK_CUR, 1: os.SEEK_END, 2: os.SEEK_SET}


def fd_seek(st: WasiState, mem: Mem, fd: int, offset: int, whence: int, new_p: int,
            unstable: bool = False) -> int:
    d = _file(st, fd)
    mem.check(new_p, 8)
    w = (_WHENCE_UNSTABLE if unstable else _WHENCE).get(whence)
    if w is None:
        raise _invalid("whence")
    if d.kind != "file":
        return ESPIPE
    offset = _s64(offset)
    d.require(F.R_FD_TELL if offset == 0 and w == os.SEEK_CUR else F.R_FD_SEEK)
    mem.w64(new_p, os.lseek(d.osfd, offset, w))  # type: ignore[arg-type]
    return SUCCESS


def fd_tell(st: WasiState, mem: Mem, fd: int, p: int) -> int:
    d = _file(st, fd)
    mem.check(p, 8)
    if d.kind != "file":
        return ESPIPE
    d.require(F.R_FD_TELL)
    mem.w64(p, os.lseek(d.osfd, 0, os.SEEK_CUR))  # type: ignore[arg-type]
    return SUCCESS


# -- path_* --------------------------------------------------------------------------
#
# Every path is resolved from the descriptor's own directory (sandbox.resolve), and
# the operation then acts on one name in the directory resolution ended in: with an
# ``*at`` call on an OS directory descriptor where the host has them, so nothing is
# re-resolved by host path (see sandbox.py).

def _resolve(d: FileDesc, path: str, follow: bool) -> Resolved:
    return resolve(d.dir, path, follow)


def _final_is_dot(path: str) -> bool:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last in (".", "..", "")


def path_create_directory(st: WasiState, mem: Mem, fd: int, p: int, n: int) -> int:
    path = mem.path(p, n)
    d = _dir(st, fd, F.R_PATH_CREATE_DIRECTORY)
    _check_writable_mount(d)
    with _resolve(d, path, False) as res:
        if res.lstat is not None:
            return EEXIST
        res.dir.mkdir(res.name)
    return SUCCESS


def path_filestat_get(st: WasiState, mem: Mem, fd: int, flags: int, p: int, n: int, buf: int,
                      unstable: bool = False) -> int:
    path = mem.path(p, n)
    _check_lookup(flags)
    d = _dir(st, fd, F.R_PATH_FILESTAT_GET)
    mem.check(buf, 56 if unstable else 64)
    with _resolve(d, path, bool(flags & LOOKUP_SYMLINK_FOLLOW)) as res:
        if res.lstat is None:
            return ENOENT
        _write_filestat(mem, buf, res.lstat, None, unstable)
    return SUCCESS


def path_filestat_set_times(st: WasiState, mem: Mem, fd: int, flags: int, p: int, n: int,
                            atim: int, mtim: int, fst: int) -> int:
    path = mem.path(p, n)
    _check_lookup(flags)
    _check_fst(fst)
    d = _dir(st, fd, F.R_PATH_FILESTAT_SET_TIMES)
    _check_writable_mount(d)
    with _resolve(d, path, bool(flags & LOOKUP_SYMLINK_FOLLOW)) as res:
        if res.lstat is None:
            return ENOENT
        times = _new_times(st, res.lstat, atim, mtim, fst)
        if times is not None:  # (a symlink's own times: a followed one was resolved)
            res.dir.utime(res.name, times)
    return SUCCESS


def path_link(st: WasiState, mem: Mem, old_fd: int, old_flags: int, old_p: int, old_n: int,
              new_fd: int, new_p: int, new_n: int) -> int:
    old_path = mem.path(old_p, old_n)
    new_path = mem.path(new_p, new_n)
    _check_lookup(old_flags)
    od = _dir(st, old_fd, F.R_PATH_LINK_SOURCE)
    nd = _dir(st, new_fd, F.R_PATH_LINK_TARGET)
    _check_writable_mount(nd)
    _check_writable_mount(od)
    with _resolve(od, old_path, bool(old_flags & LOOKUP_SYMLINK_FOLLOW)) as old:
        if old.lstat is None:
            return ENOENT
        if stat.S_ISDIR(old.lstat.st_mode):
            return EPERM
        with _resolve(nd, new_path, False) as new:
            if new.lstat is not None:
                return EEXIST
            if new.trailing_slash:
                return ENOENT
            if od.root != nd.root:
                return EXDEV  # mounts are separate file systems
            old.dir.link(old.name, new.dir, new.name, stat.S_ISLNK(old.lstat.st_mode))
    return SUCCESS


def path_open(st: WasiState, mem: Mem, fd: int, dirflags: int, p: int, n: int, oflags: int,
              rights_base: int, rights_inh: int, fdflags: int, fd_out: int) -> int:
    path = mem.path(p, n)
    mem.check(fd_out, 4)
    _check_lookup(dirflags)
    if oflags & ~0xF:
        raise _invalid("oflags")
    if fdflags & ~0x1F:
        raise _invalid("fdflags")
    d = _dir(st, fd, F.R_PATH_OPEN, ENOTDIR)
    if oflags & O_DIRECTORY and oflags & (O_CREAT | O_TRUNC):
        return EINVAL  # (as wasmtime, whatever the path names)
    if oflags & O_CREAT:
        d.require(F.R_PATH_CREATE_FILE)
    if oflags & O_TRUNC and not d.rights & F.R_PATH_FILESTAT_SET_SIZE:
        return EPERM  # truncating is setting a size through the directory (as wasmtime)
    want_write = bool(rights_base & _WRITE_RIGHTS)
    want_read = bool(rights_base & _READ_RIGHTS) or not want_write
    if d.read_only and (want_write or oflags & (O_CREAT | O_TRUNC)):
        return EPERM
    with _resolve(d, path, bool(dirflags & LOOKUP_SYMLINK_FOLLOW)) as res:
        s = res.lstat
        if s is None:
            if not oflags & O_CREAT:
                return ENOENT
            if oflags & O_DIRECTORY or res.trailing_slash:
                return EISDIR if res.trailing_slash else EINVAL
        else:
            if oflags & O_CREAT and res.trailing_slash:
                return EISDIR
            if oflags & O_CREAT and oflags & O_EXCL:
                return EEXIST
            if stat.S_ISLNK(s.st_mode):
                return ELOOP
            if stat.S_ISDIR(s.st_mode) and oflags & O_CREAT:
                return EISDIR
            if stat.S_ISDIR(s.st_mode):
                # only the right to write data makes it a write open (a directory's
                # own rights include fd_datasync, and reopening one with them works)
                if rights_base & F.R_FD_WRITE or oflags & O_TRUNC:
                    return EISDIR
                sub = res.dir.subdir(res.name)
                nd = FileDesc("dir", F.FT_DIR, rights_base & d.inheriting & F.DIR_RIGHTS,
                              rights_inh & d.inheriting, root=d.root, dir=sub,
                              read_only=d.read_only, fdflags=fdflags)
                mem.w32(fd_out, st.add(nd))
                return SUCCESS
            if oflags & O_DIRECTORY:
                return ENOTDIR
        flags = _O_BINARY | _O_CLOEXEC | _O_NOFOLLOW
        if want_write:
            flags |= os.O_RDWR if want_read and rights_base & F.R_FD_READ else os.O_WRONLY
        else:
            flags |= os.O_RDONLY
        if oflags & O_CREAT:
            flags |= os.O_CREAT
        if oflags & O_EXCL:
            flags |= os.O_EXCL
        if oflags & O_TRUNC:
            flags |= os.O_TRUNC
        if fdflags & F.FDFLAG_SYNC:
            flags |= getattr(os, "O_SYNC", 0)
        if fdflags & F.FDFLAG_DSYNC:
            flags |= getattr(os, "O_DSYNC", 0)
        if fdflags & F.FDFLAG_RSYNC:
            flags |= getattr(os, "O_RSYNC", 0)
        osfd = res.dir.open(res.name, flags, 0o666)
        host = res.host
    readable = bool(flags & os.O_RDWR) or not want_write
    rights = rights_base & d.inheriting & F.FILE_RIGHTS
    if not want_write:
        rights &= ~_WRITE_RIGHTS
    nd = FileDesc("file", F.FT_FILE, rights, rights_inh & d.inheriting, osfd=osfd, host=host,
                  root=d.root, read_only=d.read_only, readable=readable,
                  writable=want_write, fdflags=fdflags)
    try:
        new_fd = st.add(nd)
    except BaseException:
        nd.close()
        raise
    mem.w32(fd_out, new_fd)
    return SUCCESS


def path_readlink(st: WasiState, mem: Mem, fd: int, p: int, n: int, buf: int, buf_len: int,
                  used_p: int) -> int:
    path = mem.path(p, n)
    d = _dir(st, fd, F.R_PATH_READLINK)
    mem.check(buf, buf_len)
    mem.check(used_p, 4)
    with _resolve(d, path, False) as res:
        if res.lstat is None:
            return ENOENT
        if not stat.S_ISLNK(res.lstat.st_mode):
            return EINVAL
        target = os.fsencode(res.dir.readlink(res.name))[:buf_len]
    mem.write(buf, target)
    mem.w32(used_p, len(target))
    return SUCCESS


def path_remove_directory(st: WasiState, mem: Mem, fd: int, p: int, n: int) -> int:
    path = mem.path(p, n)
    d = _dir(st, fd, F.R_PATH_REMOVE_DIRECTORY)
    _check_writable_mount(d)
    with _resolve(d, path, False) as res:
        if res.lstat is None:
            return ENOENT
        if not stat.S_ISDIR(res.lstat.st_mode):
            return ENOTDIR
        if path.endswith("/") or _final_is_dot(path):
            return EINVAL  # (as wasmtime: "dir/", "." and ".." are not removable names)
        if res.depth == 0:
            return EBUSY
        try:
            res.dir.rmdir(res.name)
        except OSError as e:
            if from_oserror(e) == EEXIST:  # some systems say EEXIST for a non-empty directory
                return ENOTEMPTY
            raise
    return SUCCESS


def _is_empty_dir(parent: Dir, name: str) -> bool:
    sub = parent.subdir(name)
    try:
        with sub.scandir() as it:
            return next(iter(it), None) is None
    finally:
        sub.close()


def path_rename(st: WasiState, mem: Mem, fd: int, old_p: int, old_n: int, new_fd: int, new_p: int,
                new_n: int) -> int:
    old_path = mem.path(old_p, old_n)
    new_path = mem.path(new_p, new_n)
    od = _dir(st, fd, F.R_PATH_RENAME_SOURCE)
    nd = _dir(st, new_fd, F.R_PATH_RENAME_TARGET)
    _check_writable_mount(od)
    _check_writable_mount(nd)
    with _resolve(od, old_path, False) as old:
        if old.lstat is None:
            return ENOENT
        with _resolve(nd, new_path, False) as new:
            if old.depth == 0 or new.depth == 0:
                return EBUSY
            if od.root != nd.root:
                return EXDEV  # mounts are separate file systems
            old_dir = stat.S_ISDIR(old.lstat.st_mode)
            if new.lstat is not None:
                new_dir = stat.S_ISDIR(new.lstat.st_mode)
                if old_dir and not new_dir:
                    return ENOTDIR
                if new_dir and not old_dir:
                    return EISDIR
                if new_dir and not os.path.samestat(old.lstat, new.lstat) and \
                        not _is_empty_dir(new.dir, new.name):
                    return ENOTEMPTY
            elif (old.trailing_slash or new.trailing_slash) and not old_dir:
                return ENOTDIR
            # (a directory moved into itself: the OS refuses it with EINVAL)
            old.dir.rename(old.name, new.dir, new.name)
    return SUCCESS


def path_symlink(st: WasiState, mem: Mem, old_p: int, old_n: int, fd: int, new_p: int, new_n: int) -> int:
    target = mem.path(old_p, old_n)
    path = mem.path(new_p, new_n)
    d = _dir(st, fd, F.R_PATH_SYMLINK)
    _check_writable_mount(d)
    if target.startswith("/") or target == "":
        return EPERM if target else ENOENT
    with _resolve(d, path, False) as res:
        if res.lstat is not None:
            return EEXIST
        if res.trailing_slash:
            return ENOENT
        res.dir.symlink(target, res.name)
    return SUCCESS


def path_unlink_file(st: WasiState, mem: Mem, fd: int, p: int, n: int) -> int:
    path = mem.path(p, n)
    d = _dir(st, fd, F.R_PATH_UNLINK_FILE)
    _check_writable_mount(d)
    with _resolve(d, path, False) as res:
        if res.lstat is None:
            return ENOENT
        if stat.S_ISDIR(res.lstat.st_mode):
            return EISDIR
        if res.trailing_slash:
            return ENOTDIR
        res.dir.unlink(res.name)
    return SUCCESS


# -- poll, proc, sched -----------------------------------------------------------------

def poll_oneoff(st: WasiState, mem: Mem, in_p: int, out_p: int, nsubs: int, nevents_p: int,
                unstable: bool = False) -> int:
    if nsubs == 0:
        return EINVAL
    sub_size = 56 if unstable else 48
    mem.check(in_p, sub_size * nsubs)
    mem.check(out_p, 32 * nsubs)
    mem.check(nevents_p, 4)
    data = mem.data
    clocks: List[Tuple[int, int]] = []      # (userdata, deadline on the clock's own timeline)
    fd_subs: List[Tuple[int, int, FileDesc]] = []
    events: List[Tuple[int, int, int, int, int]] = []  # userdata, errno, type, nbytes, flags
    for i in range(nsubs):
        base = in_p + i * sub_size
        userdata = _U64.unpack_from(data, base)[0]
        tag = data[base + 8]
        if tag == EVENT_CLOCK:
            u = base + (24 if unstable else 16)
            clock_id = _U32.unpack_from(data, u)[0]
            timeout = _U64.unpack_from(data, u + 8)[0]
            flags = _U16.unpack_from(data, u + 24)[0]
            if clock_id > 3:
                return EINVAL
            now = st.clock.time_ns(clock_id)
            remaining = timeout - now if flags & SUBCLOCK_ABSTIME else timeout
            clocks.append((userdata, remaining))
        elif tag in (EVENT_FD_READ, EVENT_FD_WRITE):
            fd = _U32.unpack_from(data, base + 16)[0]
            d = st.fds.get(fd)
            if d is None:
                return EBADF
            if not d.rights & F.R_POLL_FD_READWRITE:
                return ENOTCAPABLE
            if d.kind == "dir" or (tag == EVENT_FD_READ and not d.readable) or (
                    tag == EVENT_FD_WRITE and not d.writable and d.kind != "listener"):
                # not ready for that ever: reported in the event (as a bad descriptor)
                events.append((userdata, EBADF, tag, 0, 0))
            else:
                fd_subs.append((userdata, tag, d))
        else:
            return EINVAL
    if not events:
        ready = _poll_fds(fd_subs, 0.0)
        if ready:  # deadlines already passed are reported too
            events.extend((u, SUCCESS, EVENT_CLOCK, 0, 0) for u, t in clocks if t <= 0)
        elif clocks:
            wait = max(0, min(t for _, t in clocks))
            if fd_subs and any(_selectable(d) is not None for _, _, d in fd_subs) and \
                    isinstance(st.clock, _system_clock_type()):
                ready = _poll_fds(fd_subs, wait / 1e9)
                if not ready:
                    events.extend((u, SUCCESS, EVENT_CLOCK, 0, 0) for u, t in clocks if t <= wait)
            else:
                lim = getattr(st, "limits", None)
                if lim is not None and lim.interruptible and isinstance(st.clock, _system_clock_type()):
                    lim.sleep(wait / 1e9)   # traps if the runtime is interrupted meanwhile
                else:
                    st.clock.sleep_ns(wait)
                events.extend((u, SUCCESS, EVENT_CLOCK, 0, 0) for u, t in clocks if t <= wait)
        elif not ready:
            ready = _poll_fds(fd_subs, None)
        events.extend(ready)
    else:
        events.extend(_poll_fds(fd_subs, 0.0))
    for j, (u, err, typ, nbytes, flags) in enumerate(events):
        struct.pack_into("<QHBxxxxxQH6x", data, out_p + 32 * j, u, err, typ, nbytes, flags)
    mem.w32(nevents_p, len(events))
    return SUCCESS


def _system_clock_type() -> type:
    from .clock import SystemClock

    return SystemClock


def _poll_fds(subs: List[Tuple[int, int, FileDesc]], timeout: Optional[float]) -> List[Tuple[int, int, int, int, int]]:
    """Events for the ready subscriptions, waiting up to ``timeout`` seconds (None:
    forever) for at least one."""
    if not subs:
        return []
    ready: List[Tuple[int, int, int, int, int]] = []
    rlist, wlist = [], []
    for u, tag, d in subs:
        obj = _selectable(d)
        if obj is None:
            ready.append((u, SUCCESS, tag, _nbytes(d, tag), 0))
        elif tag == EVENT_FD_READ:
            rlist.append((obj, u))
        else:
            wlist.append((obj, u))
    if ready or not (rlist or wlist):
        return ready
    try:
        r, w, _ = select.select([o for o, _ in rlist], [o for o, _ in wlist], [], timeout)
    except (OSError, ValueError):
        r = [o for o, _ in rlist]
        w = [o for o, _ in wlist]
    for o, u in rlist:
        if o in r:
            ready.append((u, SUCCESS, EVENT_FD_READ, 1, 0))
    for o, u in wlist:
        if o in w:
            ready.append((u, SUCCESS, EVENT_FD_WRITE, 0, 0))
    return ready


def _nbytes(d: FileDesc, tag: int) -> int:
    if tag == EVENT_FD_READ and d.kind == "file":
        try:
            size = os.fstat(d.osfd).st_size  # type: ignore[arg-type]
            return max(0, size - os.lseek(d.osfd, 0, os.SEEK_CUR))  # type: ignore[arg-type]
        except OSError:
            return 0
    if tag == EVENT_FD_READ and d.kind == "stdio" and isinstance(d.stream, io.BytesIO):
        return max(0, len(d.stream.getbuffer()) - d.stream.tell())
    return 0


def proc_exit(st: WasiState, mem: Mem, code: int) -> None:
    raise ExitError(code)


# WASI signal numbers whose default action is to ignore (chld, cont, urg, winch) or
# to stop (stop, tstp, ttin, ttou: there is no job control, so also nothing happens)
_IGNORED_SIGNALS = {16, 17, 18, 19, 20, 21, 22, 27}


def proc_raise(st: WasiState, mem: Mem, sig: int) -> int:
    if sig > 30:
        return EINVAL
    if sig == 0 or sig in _IGNORED_SIGNALS:
        return SUCCESS
    # a terminating signal: the process ends as a shell reports a signal death
    raise ExitError(128 + sig)


def sched_yield(st: WasiState, mem: Mem) -> int:
    time.sleep(0)
    return SUCCESS


# -- sockets -----------------------------------------------------------------------------

def sock_accept(st: WasiState, mem: Mem, fd: int, flags: int, fd_out: int) -> int:
    mem.check(fd_out, 4)
    if flags & ~0x1F:
        raise _invalid("fdflags")
    d = st.get(fd)
    if d.kind != "listener":
        return ENOTSOCK
    d.require(F.R_SOCK_ACCEPT)
    if flags & ~F.FDFLAG_NONBLOCK:
        return EINVAL
    if d.fdflags & F.FDFLAG_NONBLOCK:
        r, _, _ = select.select([d.sock], [], [], 0)
        if not r:
            return EAGAIN
    conn, _addr = d.sock.accept()
    conn.setblocking(not flags & F.FDFLAG_NONBLOCK)
    nd = FileDesc("socket", F.FT_SOCK_STREAM, F.SOCK_RIGHTS, 0, sock=conn, readable=True,
                  writable=True, fdflags=flags)
    try:
        mem.w32(fd_out, st.add(nd))
    except BaseException:
        nd.close()
        raise
    return SUCCESS


def _sock(st: WasiState, fd: int) -> FileDesc:
    d = st.get(fd)
    if d.kind != "socket":
        raise WasiError(ENOTSOCK)
    return d


def sock_recv(st: WasiState, mem: Mem, fd: int, iovs_p: int, n: int, ri_flags: int, datalen_p: int,
              oflags_p: int) -> int:
    d = _sock(st, fd)
    iovs = mem.iovecs(iovs_p, n)
    mem.check(datalen_p, 4)
    mem.check(oflags_p, 2)
    if ri_flags & ~3:
        raise _invalid("riflags")
    d.require(F.R_FD_READ)
    flags = (socket.MSG_PEEK if ri_flags & 1 else 0) | (getattr(socket, "MSG_WAITALL", 0) if ri_flags & 2 else 0)
    total = _total(iovs)
    data = d.sock.recv(total, flags) if total else b""
    mem.scatter(iovs, data)
    mem.w32(datalen_p, len(data))
    mem.w16(oflags_p, 0)
    return SUCCESS


def sock_send(st: WasiState, mem: Mem, fd: int, iovs_p: int, n: int, si_flags: int, datalen_p: int) -> int:
    d = _sock(st, fd)
    iovs = mem.iovecs(iovs_p, n)
    mem.check(datalen_p, 4)
    if si_flags:
        raise _invalid("siflags")
    d.require(F.R_FD_WRITE)
    data = mem.gather(iovs)
    sent = d.sock.send(data) if data else 0
    mem.w32(datalen_p, sent)
    return SUCCESS


def sock_shutdown(st: WasiState, mem: Mem, fd: int, how: int) -> int:
    if how & ~3:
        raise _invalid("sdflags")
    d = _sock(st, fd)
    d.require(F.R_SOCK_SHUTDOWN)
    modes = {1: socket.SHUT_RD, 2: socket.SHUT_WR, 3: socket.SHUT_RDWR}
    if how not in modes:
        return EINVAL
    d.sock.shutdown(modes[how])
    return SUCCESS


# -- the table ---------------------------------------------------------------------------

_i, _I = I32, I64

#: name -> (implementation, params); every function returns an errno (i32) except
#: proc_exit, which returns nothing
FUNCTIONS: Dict[str, Tuple[Callable[..., Any], Tuple[int, ...]]] = {
    "args_get": (args_get, (_i, _i)),
    "args_sizes_get": (args_sizes_get, (_i, _i)),
    "environ_get": (environ_get, (_i, _i)),
    "environ_sizes_get": (environ_sizes_get, (_i, _i)),
    "clock_res_get": (clock_res_get, (_i, _i)),
    "clock_time_get": (clock_time_get, (_i, _I, _i)),
    "fd_advise": (fd_advise, (_i, _I, _I, _i)),
    "fd_allocate": (fd_allocate, (_i, _I, _I)),
    "fd_close": (fd_close, (_i,)),
    "fd_datasync": (fd_datasync, (_i,)),
    "fd_fdstat_get": (fd_fdstat_get, (_i, _i)),
    "fd_fdstat_set_flags": (fd_fdstat_set_flags, (_i, _i)),
    "fd_fdstat_set_rights": (fd_fdstat_set_rights, (_i, _I, _I)),
    "fd_filestat_get": (fd_filestat_get, (_i, _i)),
    "fd_filestat_set_size": (fd_filestat_set_size, (_i, _I)),
    "fd_filestat_set_times": (fd_filestat_set_times, (_i, _I, _I, _i)),
    "fd_pread": (fd_pread, (_i, _i, _i, _I, _i)),
    "fd_prestat_get": (fd_prestat_get, (_i, _i)),
    "fd_prestat_dir_name": (fd_prestat_dir_name, (_i, _i, _i)),
    "fd_pwrite": (fd_pwrite, (_i, _i, _i, _I, _i)),
    "fd_read": (fd_read, (_i, _i, _i, _i)),
    "fd_readdir": (fd_readdir, (_i, _i, _i, _I, _i)),
    "fd_renumber": (fd_renumber, (_i, _i)),
    "fd_seek": (fd_seek, (_i, _I, _i, _i)),
    "fd_sync": (fd_sync, (_i,)),
    "fd_tell": (fd_tell, (_i, _i)),
    "fd_write": (fd_write, (_i, _i, _i, _i)),
    "path_create_directory": (path_create_directory, (_i, _i, _i)),
    "path_filestat_get": (path_filestat_get, (_i, _i, _i, _i, _i)),
    "path_filestat_set_times": (path_filestat_set_times, (_i, _i, _i, _i, _I, _I, _i)),
    "path_link": (path_link, (_i, _i, _i, _i, _i, _i, _i)),
    "path_open": (path_open, (_i, _i, _i, _i, _i, _I, _I, _i, _i)),
    "path_readlink": (path_readlink, (_i, _i, _i, _i, _i, _i)),
    "path_remove_directory": (path_remove_directory, (_i, _i, _i)),
    "path_rename": (path_rename, (_i, _i, _i, _i, _i, _i)),
    "path_symlink": (path_symlink, (_i, _i, _i, _i, _i)),
    "path_unlink_file": (path_unlink_file, (_i, _i, _i)),
    "poll_oneoff": (poll_oneoff, (_i, _i, _i, _i)),
    "proc_exit": (proc_exit, (_i,)),
    "proc_raise": (proc_raise, (_i,)),
    "sched_yield": (sched_yield, ()),
    "random_get": (random_get, (_i, _i)),
    "sock_accept": (sock_accept, (_i, _i, _i)),
    "sock_recv": (sock_recv, (_i, _i, _i, _i, _i, _i)),
    "sock_send": (sock_send, (_i, _i, _i, _i, _i)),
    "sock_shutdown": (sock_shutdown, (_i, _i)),
}

#: the functions whose ``wasi_unstable`` ABI differs (filestat layout, seek whence,
#: clock subscription layout); they take ``unstable=True`` there
UNSTABLE_VARIANTS = ("fd_filestat_get", "path_filestat_get", "fd_seek", "poll_oneoff")

#: functions ``wasi_unstable`` lacks
NOT_IN_UNSTABLE = ("sock_accept",)


def host_function(name: str, unstable: bool = False) -> HostFunctionInstance:
    impl, params = FUNCTIONS[name]
    results: Tuple[int, ...] = () if name == "proc_exit" else (I32,)
    kwargs = {"unstable": True} if unstable and name in UNSTABLE_VARIANTS else {}

    def raw(inst: Any, args: List[Any]) -> List[Any]:
        st = state_of(inst)
        mem = Mem(_memory(inst), name)
        try:
            r = impl(st, mem, *args, **kwargs)
        except WasiError as e:
            r = e.errno
        except OSError as e:
            r = from_oserror(e)
        except (OverflowError, ValueError):
            r = EINVAL
        except UnicodeError:
            r = EILSEQ
        if not results:
            return []
        return [r]

    module = "wasi_unstable" if unstable else "wasi_snapshot_preview1"
    return HostFunctionInstance(FuncType(params, results), raw, f"{module}.{name}")
