"""The per-instance WASI state: the file descriptor table, stdio and the mounts."""
from __future__ import annotations

import io
import os
import socket
import stat
import sys
from typing import Any, Dict, List, Optional

from .clock import SystemClock, random_source
from .errno import EBADF, EMFILE, WasiError
from .sandbox import open_root

# filetype
FT_UNKNOWN, FT_BLOCK, FT_CHAR, FT_DIR, FT_FILE, FT_SOCK_DGRAM, FT_SOCK_STREAM, FT_SYMLINK = range(8)

# fdflags
FDFLAG_APPEND, FDFLAG_DSYNC, FDFLAG_NONBLOCK, FDFLAG_RSYNC, FDFLAG_SYNC = 1, 2, 4, 8, 16

# rights
R_FD_DATASYNC = 1 << 0
R_FD_READ = 1 << 1
R_FD_SEEK = 1 << 2
R_FD_FDSTAT_SET_FLAGS = 1 << 3
R_FD_SYNC = 1 << 4
R_FD_TELL = 1 << 5
R_FD_WRITE = 1 << 6
R_FD_ADVISE = 1 << 7
R_FD_ALLOCATE = 1 << 8
R_PATH_CREATE_DIRECTORY = 1 << 9
R_PATH_CREATE_FILE = 1 << 10
R_PATH_LINK_SOURCE = 1 << 11
R_PATH_LINK_TARGET = 1 << 12
R_PATH_OPEN = 1 << 13
R_FD_READDIR = 1 << 14
R_PATH_READLINK = 1 << 15
R_PATH_RENAME_SOURCE = 1 << 16
R_PATH_RENAME_TARGET = 1 << 17
R_PATH_FILESTAT_GET = 1 << 18
R_PATH_FILESTAT_SET_SIZE = 1 << 19
R_PATH_FILESTAT_SET_TIMES = 1 << 20
R_FD_FILESTAT_GET = 1 << 21
R_FD_FILESTAT_SET_SIZE = 1 << 22
R_FD_FILESTAT_SET_TIMES = 1 << 23
R_PATH_SYMLINK = 1 << 24
R_PATH_REMOVE_DIRECTORY = 1 << 25
R_PATH_UNLINK_FILE = 1 << 26
R_POLL_FD_READWRITE = 1 << 27
R_SOCK_SHUTDOWN = 1 << 28
R_SOCK_ACCEPT = 1 << 29
R_ALL = (1 << 30) - 1

FILE_RIGHTS = (R_FD_DATASYNC | R_FD_READ | R_FD_SEEK | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_TELL
               | R_FD_WRITE | R_FD_ADVISE | R_FD_ALLOCATE | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_SIZE
               | R_FD_FILESTAT_SET_TIMES | R_POLL_FD_READWRITE)
DIR_RIGHTS = (R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_DATASYNC | R_PATH_CREATE_DIRECTORY
              | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_OPEN
              | R_FD_READDIR | R_PATH_READLINK | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET
              | R_PATH_FILESTAT_GET | R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES
              | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY
              | R_PATH_UNLINK_FILE)
STDIO_RIGHTS = R_FD_FDSTAT_SET_FLAGS | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE
SOCK_RIGHTS = (R_FD_READ | R_FD_WRITE | R_FD_FDSTAT_SET_FLAGS | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE
               | R_SOCK_SHUTDOWN)
LISTEN_RIGHTS = R_FD_FDSTAT_SET_FLAGS | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE | R_SOCK_ACCEPT

MAX_FDS = 1 << 16


def filetype_of(mode: int) -> int:
    if stat.S_ISREG(mode):
        return FT_FILE
    if stat.S_ISDIR(mode):
        return FT_DIR
    if stat.S_ISLNK(mode):
        return FT_SYMLINK
    if stat.S_ISCHR(mode):
        return FT_CHAR
    if stat.S_ISBLK(mode):
        return FT_BLOCK
    if stat.S_ISSOCK(mode):
        return FT_SOCK_STREAM
    return FT_UNKNOWN


class FileDesc:
    """One open descriptor.

    ``kind`` is "file" (``osfd``, an OS file descriptor, at ``host``), "dir"
    (``dir``, a :class:`~.sandbox.Dir`: an OS directory descriptor where the host
    has ``*at`` calls, so the descriptor stays bound to the directory it was opened
    on), "stdio" (``stream``, a Python object), "listener" or "socket" (``sock``, a
    Python socket).  ``root`` is the mount's host root (mounts are told apart by
    it)."""

    def __init__(self, kind: str, filetype: int, rights: int, inheriting: int = 0, *,
                 osfd: Optional[int] = None, host: Optional[str] = None, root: Optional[str] = None,
                 dir: Any = None, read_only: bool = False,
                 stream: Any = None, sock: Any = None, readable: bool = False,
                 writable: bool = False, fdflags: int = 0, preopen: Optional[str] = None) -> None:
        self.kind = kind
        self.filetype = filetype
        self.rights = rights
        self.inheriting = inheriting
        self.osfd = osfd
        self.host = host
        self.root = root
        self.dir = dir
        self.read_only = read_only
        self.stream = stream
        self.sock = sock
        self.readable = readable
        self.writable = writable
        self.fdflags = fdflags
        self.preopen = preopen
        self.dir_entries: Optional[List[Any]] = None  # fd_readdir snapshot
        self.pos = 0  # file position (emulated: reads/writes use pread/pwrite-like calls)
        self.owns_stream = False

    def require(self, right: int) -> None:
        from .errno import ENOTCAPABLE

        if not self.rights & right:
            raise WasiError(ENOTCAPABLE)

    def close(self) -> None:
        if self.dir is not None:
            self.dir.close()
        if self.osfd is not None:
            try:
                os.close(self.osfd)
            except OSError:
                pass
            self.osfd = None
        if self.kind == "socket" and self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        if self.owns_stream and self.stream is not None:
            try:
                self.stream.close()
            except Exception:
                pass


class _Inherit:
    """The process's own stream ``name`` (looked up at each use, so a later
    replacement of ``sys.stdout``, e.g. by a test harness, is honoured)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def target(self) -> Any:
        return getattr(sys, self.name)


class _Null:
    """What a guest gets for stdio the host did not grant: reads see EOF at once,
    writes are accepted and dropped (like ``/dev/null``)."""

    def read(self, n: int = -1) -> bytes:
        return b""

    read1 = read

    def write(self, data: Any) -> int:
        return len(data)

    def flush(self) -> None:
        pass


class WasiState:
    """Everything WASI keeps per guest instance."""

    # the runtime's execution limits (pywazero.engine.limits), set by preview1's
    # state_of: waits (poll_oneoff) end early on a deadline
    limits: Any

    def __init__(self, config: Any) -> None:
        self.args = [str(a) for a in (config.args if config is not None else ())]
        env: Dict[str, str] = {}
        if getattr(config, "inherit_env", False):
            env.update(os.environ)
        env.update(config.env if config is not None else {})
        self.environ = [f"{k}={v}" for k, v in env.items()]
        self.max_open_files = getattr(config, "max_open_files", MAX_FDS)
        self.clock = getattr(config, "clock", None) or SystemClock()
        self.random = random_source(getattr(config, "random", None))
        self.fds: Dict[int, FileDesc] = {}
        self._setup_stdio(config)
        for m in (config.mounts if config is not None else ()):
            root = os.path.realpath(m.host_dir)
            if not os.path.isdir(root):
                raise ValueError(f"mount {m.host_dir!r}: not a directory")
            rights = DIR_RIGHTS
            self.add(FileDesc("dir", FT_DIR, rights, DIR_RIGHTS | FILE_RIGHTS, host=root, root=root,
                              dir=open_root(root), read_only=bool(m.read_only),
                              preopen=m.guest_path))
        for s in (getattr(config, "sockets", None) or ()):
            self.add(FileDesc("listener", FT_SOCK_STREAM, LISTEN_RIGHTS, SOCK_RIGHTS, sock=s,
                              readable=True))

    def _setup_stdio(self, config: Any) -> None:
        inherit = getattr(config, "inherit_stdio", False)
        for fd, name in enumerate(("stdin", "stdout", "stderr")):
            src = getattr(config, name, None) if config is not None else None
            if src is None:
                # nothing granted: EOF / discarded, unless the host asked to inherit
                stream: Any = _Inherit(name) if inherit else _Null()
            elif isinstance(src, (bytes, bytearray, memoryview)) and fd == 0:
                stream = io.BytesIO(bytes(src))
            elif isinstance(src, str) and fd == 0:
                stream = io.BytesIO(src.encode())
            else:
                stream = src
            readable = fd == 0
            rights = STDIO_RIGHTS | (R_FD_READ if readable else R_FD_WRITE)
            self.fds[fd] = FileDesc("stdio", self._stdio_type(stream), rights, 0, stream=stream,
                                    readable=readable, writable=not readable)

    @staticmethod
    def _stdio_type(stream: Any) -> int:
        if isinstance(stream, _Null):
            return FT_UNKNOWN  # as wasmtime reports stdio it was not given
        target = stream.target() if isinstance(stream, _Inherit) else stream
        try:
            fileno = target.fileno()
            st = os.fstat(fileno)
        except Exception:
            return FT_CHAR if isinstance(stream, _Inherit) else FT_UNKNOWN
        if stat.S_ISCHR(st.st_mode):
            return FT_CHAR
        if stat.S_ISREG(st.st_mode):
            return FT_FILE
        if stat.S_ISSOCK(st.st_mode):
            return FT_SOCK_STREAM
        return FT_UNKNOWN

    def add(self, desc: FileDesc) -> int:
        fd = 0
        while fd in self.fds:
            fd += 1
        # the table's size is capped (ModuleConfig.max_open_files): each entry may hold
        # a host descriptor, and a guest must not exhaust the host process's
        if fd >= MAX_FDS or len(self.fds) >= self.max_open_files:
            desc.close()
            raise WasiError(EMFILE)
        self.fds[fd] = desc
        return fd

    def get(self, fd: int) -> FileDesc:
        d = self.fds.get(fd)
        if d is None:
            raise WasiError(EBADF)
        return d

    def close_all(self) -> None:
        """Close every descriptor the guest opened (the host's own stdio and the
        pre-opened listening sockets stay open)."""
        fds = self.fds
        self.fds = {}
        for d in fds.values():
            d.close()

    def __del__(self) -> None:  # an instance dropped without close(): no OS fd leaks
        try:
            self.close_all()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def is_socket(obj: Any) -> bool:
    return isinstance(obj, socket.socket)
