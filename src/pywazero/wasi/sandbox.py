"""Path resolution confined to a directory descriptor.

A guest path is resolved component by component starting from the directory a
descriptor holds.  ``..`` may not climb above that directory, absolute paths are
refused, and every symbolic link met on the way (already on disk or created by the
guest) is read and its target spliced in the same way: an absolute target, or one
that climbs out, is refused with ``EPERM`` (what wasmtime returns for an escape
attempt); more than :data:`MAX_SYMLINKS` links give ``ELOOP``.

A directory is a :class:`Dir`.  Where the host has ``*at`` system calls
(:data:`HAVE_DIR_FD`: Linux, macOS, the BSDs) it is :class:`FdDir`, an open OS
descriptor (``O_DIRECTORY|O_NOFOLLOW``): each component is opened relative to the
previous one without following symbolic links, and the final operation is an
``*at`` call on a name in the last directory opened (``os.stat(name, dir_fd=...,
follow_symlinks=False)``, ``os.open(name, O_NOFOLLOW, dir_fd=...)``, ...).  So a
guest descriptor stays bound to the directory it was opened on even if that
directory is renamed and a symlink to ``../../..`` planted under its old name, and
no host path is ever re-resolved by the OS.

Elsewhere (Windows) a directory is a :class:`PathDir`, a host path: every
component is checked with ``lstat`` the same way, but the final operation re-walks
the host path, so a directory renamed while a descriptor holds it is not
followed, and a host process racing to swap a checked directory for a symlink
cannot be ruled out.  As defence in depth there, the parent directory of every
operation must really lie inside the mount just before it
(:func:`check_parent_inside`) and an opened file must be the file its path really
resolves to inside the mount (:func:`same_file_inside`).  (Creating symlinks needs
privileges on Windows, which limits what a guest can plant.)
"""
from __future__ import annotations

import errno
import os
import stat
import sys
from typing import Any, List, Optional, Tuple

from .errno import EILSEQ, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTSUP, EPERM, WasiError

MAX_SYMLINKS = 40
_PYPY = sys.implementation.name == "pypy"
MAX_PATH = 4096


def decode_path(raw: bytes) -> str:
    if len(raw) > MAX_PATH:
        raise WasiError(ENAMETOOLONG)
    if b"\0" in raw:
        raise WasiError(EINVAL)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WasiError(EILSEQ) from None


def _split(path: str) -> List[str]:
    if path.startswith("/"):
        raise WasiError(EPERM)
    if os.sep != "/" and os.sep in path:  # pragma: no cover - Windows
        raise WasiError(EPERM)
    if os.altsep and os.altsep != "/" and os.altsep in path:  # pragma: no cover
        raise WasiError(EPERM)
    return path.split("/")


def _join(path: str, name: str) -> str:
    return path if name == "." else os.path.join(path, name)


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_AT_FUNCS = ("open", "stat", "mkdir", "rmdir", "unlink", "rename", "readlink", "symlink", "utime", "link")

#: whether directories are held as OS descriptors and used with ``*at`` calls
#: (otherwise by host path: see the module docstring)
HAVE_DIR_FD: bool = (
    all(getattr(os, f) in os.supports_dir_fd for f in _AT_FUNCS)
    and os.scandir in os.supports_fd and os.utime in os.supports_fd
    and os.stat in os.supports_follow_symlinks and os.utime in os.supports_follow_symlinks
    and bool(_O_DIRECTORY) and bool(_O_NOFOLLOW))


def _link_nofollow(src: str, dst: str, **dir_fds: Any) -> None:
    """``os.link(src, dst, follow_symlinks=False, **dir_fds)``: a symlink ``src`` is
    linked itself, never its target."""
    try:
        os.link(src, dst, follow_symlinks=False, **dir_fds)
    except OSError as e:
        # PyPy (7.3.11 at least) passes linkat() AT_SYMLINK_NOFOLLOW for
        # follow_symlinks=False, a flag linkat() rejects with EINVAL, and no flag (no
        # following either) for the default; so where that call failed so, the
        # default call is the one that does not follow
        if e.errno != errno.EINVAL or not _PYPY:
            raise
        os.link(src, dst, **dir_fds)


class Dir:
    """A directory a descriptor holds, and the operations on one name in it.  A
    name is one path component, never ``..``; ``"."`` names the directory itself.
    No operation follows a symbolic link in the name: :meth:`subdir` and
    :meth:`open` refuse one, the others act on the link itself (:func:`resolve`
    has already followed the links that are to be followed, checking each).  OS
    errors propagate as ``OSError``.  ``root_id`` is ``(st_dev, st_ino)`` of the
    mount's root."""

    __slots__ = ("root_id",)
    root_id: Tuple[int, int]

    def lstat(self, name: str) -> Optional[os.stat_result]:
        """The entry's ``lstat``, or None when it does not exist."""
        raise NotImplementedError

    def readlink(self, name: str) -> str:
        raise NotImplementedError

    def subdir(self, name: str) -> "Dir":
        """The directory ``name`` (not a symlink to one), opened."""
        raise NotImplementedError

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        """An OS descriptor on the file ``name`` (``O_NOFOLLOW`` added)."""
        raise NotImplementedError

    def mkdir(self, name: str) -> None:
        raise NotImplementedError

    def rmdir(self, name: str) -> None:
        raise NotImplementedError

    def unlink(self, name: str) -> None:
        raise NotImplementedError

    def symlink(self, target: str, name: str) -> None:
        raise NotImplementedError

    def rename(self, name: str, dst: "Dir", dst_name: str) -> None:
        """Rename ``name`` to ``dst_name`` in ``dst``, replacing it."""
        raise NotImplementedError

    def link(self, name: str, dst: "Dir", dst_name: str, is_symlink: bool) -> None:
        """Hard-link ``name`` (a link to the symlink itself when ``is_symlink``)."""
        raise NotImplementedError

    def utime(self, name: str, ns: Tuple[int, int]) -> None:
        """Set the entry's times (a symlink's own)."""
        raise NotImplementedError

    def stat(self) -> os.stat_result:
        """The directory's own ``stat``."""
        raise NotImplementedError

    def utime_self(self, ns: Tuple[int, int]) -> None:
        raise NotImplementedError

    def scandir(self) -> Any:
        """``os.scandir`` of the directory (a context manager)."""
        raise NotImplementedError

    def parent_stat(self) -> os.stat_result:
        """``stat`` of the directory's parent (its ``..``)."""
        raise NotImplementedError

    def fsync(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the directory holds (idempotent)."""

    def is_root(self) -> bool:
        st = self.stat()
        return (st.st_dev, st.st_ino) == self.root_id


class FdDir(Dir):
    """A directory held as an OS descriptor; every operation is an ``*at`` call."""

    __slots__ = ("fd",)

    def __init__(self, fd: int, root_id: Tuple[int, int]) -> None:
        self.fd: Optional[int] = fd
        self.root_id = root_id

    @classmethod
    def open_root(cls, host: str) -> "FdDir":
        fd = os.open(host, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        st = os.fstat(fd)
        return cls(fd, (st.st_dev, st.st_ino))

    def _fd(self) -> int:
        if self.fd is None:
            raise OSError(errno.EBADF, "directory closed")
        return self.fd

    def lstat(self, name: str) -> Optional[os.stat_result]:
        try:
            return os.stat(name, dir_fd=self._fd(), follow_symlinks=False)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            raise WasiError(ENOTDIR) from None

    def readlink(self, name: str) -> str:
        return os.readlink(name, dir_fd=self._fd())

    def subdir(self, name: str) -> "FdDir":
        fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self._fd())
        return FdDir(fd, self.root_id)

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        return os.open(name, flags | _O_NOFOLLOW | _O_CLOEXEC, mode, dir_fd=self._fd())

    def mkdir(self, name: str) -> None:
        os.mkdir(name, dir_fd=self._fd())

    def rmdir(self, name: str) -> None:
        os.rmdir(name, dir_fd=self._fd())

    def unlink(self, name: str) -> None:
        os.unlink(name, dir_fd=self._fd())

    def symlink(self, target: str, name: str) -> None:
        os.symlink(target, name, dir_fd=self._fd())

    def rename(self, name: str, dst: Dir, dst_name: str) -> None:
        assert isinstance(dst, FdDir)
        os.rename(name, dst_name, src_dir_fd=self._fd(), dst_dir_fd=dst._fd())

    def link(self, name: str, dst: Dir, dst_name: str, is_symlink: bool) -> None:
        assert isinstance(dst, FdDir)
        # never follow: linkat() without AT_SYMLINK_FOLLOW links the entry itself
        # (following would let a planted symlink to a host file become a hard link)
        if os.link not in os.supports_follow_symlinks:  # pragma: no cover - PyPy
            if is_symlink:
                raise WasiError(ENOTSUP)
            os.link(name, dst_name, src_dir_fd=self._fd(), dst_dir_fd=dst._fd())
            return
        _link_nofollow(name, dst_name, src_dir_fd=self._fd(), dst_dir_fd=dst._fd())

    def utime(self, name: str, ns: Tuple[int, int]) -> None:
        os.utime(name, ns=ns, dir_fd=self._fd(), follow_symlinks=False)

    def stat(self) -> os.stat_result:
        return os.fstat(self._fd())

    def utime_self(self, ns: Tuple[int, int]) -> None:
        os.utime(self._fd(), ns=ns)

    def scandir(self) -> Any:
        return os.scandir(self._fd())

    def parent_stat(self) -> os.stat_result:
        return os.stat("..", dir_fd=self._fd())

    def fsync(self) -> None:
        os.fsync(self._fd())

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:  # pragma: no cover
                pass


class PathDir(Dir):
    """A directory held as a host path under the mount's host root ``root`` (where
    the host lacks ``*at`` calls; see the module docstring)."""

    __slots__ = ("path", "root")

    def __init__(self, path: str, root: str, root_id: Tuple[int, int]) -> None:
        self.path = path
        self.root = root
        self.root_id = root_id

    @classmethod
    def open_root(cls, host: str) -> "PathDir":
        st = os.stat(host)
        return cls(host, host, (st.st_dev, st.st_ino))

    def _checked(self, name: str) -> str:
        host = _join(self.path, name)
        check_parent_inside(self.root, host)
        return host

    def lstat(self, name: str) -> Optional[os.stat_result]:
        return _lstat(_join(self.path, name))

    def readlink(self, name: str) -> str:
        target = os.readlink(_join(self.path, name))
        return os.fsdecode(target) if isinstance(target, bytes) else target

    def subdir(self, name: str) -> "PathDir":
        host = _join(self.path, name)
        st = os.lstat(host)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(errno.ELOOP, "is a symbolic link")
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory")
        return PathDir(host, self.root, self.root_id)

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        host = self._checked(name)
        fd = os.open(host, flags | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_BINARY", 0), mode)
        try:
            if not same_file_inside(self.root, host, os.fstat(fd)):
                raise WasiError(EPERM)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def mkdir(self, name: str) -> None:
        os.mkdir(self._checked(name))

    def rmdir(self, name: str) -> None:
        os.rmdir(self._checked(name))

    def unlink(self, name: str) -> None:
        os.unlink(self._checked(name))

    def symlink(self, target: str, name: str) -> None:
        os.symlink(target, self._checked(name))

    def rename(self, name: str, dst: Dir, dst_name: str) -> None:
        assert isinstance(dst, PathDir)
        os.replace(self._checked(name), dst._checked(dst_name))

    def link(self, name: str, dst: Dir, dst_name: str, is_symlink: bool) -> None:
        assert isinstance(dst, PathDir)
        src, target = self._checked(name), dst._checked(dst_name)
        if is_symlink:
            if os.link not in os.supports_follow_symlinks:
                raise WasiError(ENOTSUP)
            _link_nofollow(src, target)  # a link to the symlink itself
        else:  # (not a symlink: following is moot)
            os.link(src, target)

    def utime(self, name: str, ns: Tuple[int, int]) -> None:
        host = self._checked(name)
        if os.utime in os.supports_follow_symlinks:
            os.utime(host, ns=ns, follow_symlinks=False)
        elif os.path.islink(host):
            raise WasiError(ENOTSUP)
        else:
            os.utime(host, ns=ns)

    def stat(self) -> os.stat_result:
        return os.stat(self.path)

    def utime_self(self, ns: Tuple[int, int]) -> None:
        os.utime(self.path, ns=ns)

    def scandir(self) -> Any:
        return os.scandir(self.path)

    def parent_stat(self) -> os.stat_result:
        return os.stat(os.path.dirname(self.path) or self.path)

    def fsync(self) -> None:
        if sys.platform == "win32":  # pragma: no cover - directories cannot be opened
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_root(host: str) -> Dir:
    """The mount root ``host`` (a real path) as a :class:`Dir`."""
    return FdDir.open_root(host) if HAVE_DIR_FD else PathDir.open_root(host)


#: at most this many directories of one resolution are held open at once (deeper
#: ones are reopened from their parent when ``..`` comes back to them), so a deep
#: path does not use up the host's descriptors
MAX_OPEN_DIRS = 32


class Resolved:
    """A resolved guest path: the entry ``name`` in the directory ``dir`` (``"."``
    when the path names the starting directory itself), its ``lstat`` (None when
    it does not exist), ``trailing_slash``, and ``depth``, how many directories
    below the starting one the entry is (0: the starting directory itself).  It
    holds the directories it opened until :meth:`close` (use it with ``with``)."""

    __slots__ = ("dir", "name", "lstat", "trailing_slash", "depth", "_owned")

    def __init__(self, d: Dir, name: str, st: Optional[os.stat_result], trailing_slash: bool,
                 depth: int, owned: List[Dir]) -> None:
        self.dir = d
        self.name = name
        self.lstat = st
        self.trailing_slash = trailing_slash
        self.depth = depth
        self._owned = owned

    @property
    def host(self) -> Optional[str]:
        """The entry's host path where directories are held by path, else None."""
        return _join(self.dir.path, self.name) if isinstance(self.dir, PathDir) else None

    def close(self) -> None:
        owned, self._owned = self._owned, []
        for d in owned:
            d.close()

    def __enter__(self) -> "Resolved":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Walk:
    """The directories from the starting one down to the current one: ``names[i]``
    is the name of ``dirs[i]`` in ``dirs[i - 1]``; ``dirs[i]`` is None once closed
    to stay under MAX_OPEN_DIRS (reopened by name when needed)."""

    def __init__(self, base: Dir) -> None:
        self.dirs: List[Optional[Dir]] = [base]
        self.names: List[str] = ["."]

    def __len__(self) -> int:
        return len(self.dirs)

    def at(self, i: int) -> Dir:
        j = i
        while self.dirs[j] is None:  # (dirs[0], the starting directory, is never closed)
            j -= 1
        d = self.dirs[j]
        for k in range(j + 1, i + 1):
            d = d.subdir(self.names[k])  # type: ignore[union-attr]
            self.dirs[k] = d
        return d  # type: ignore[return-value]

    def push(self, d: Dir, name: str) -> None:
        self.dirs.append(d)
        self.names.append(name)
        old = len(self.dirs) - 1 - MAX_OPEN_DIRS
        if old > 0 and self.dirs[old] is not None:
            self.dirs[old].close()  # type: ignore[union-attr]
            self.dirs[old] = None

    def pop(self) -> None:
        d = self.dirs.pop()
        self.names.pop()
        if d is not None:
            d.close()

    def close_all(self) -> None:
        while len(self.dirs) > 1:
            self.pop()

    def owned(self) -> List[Dir]:
        return [d for d in self.dirs[1:] if d is not None]


def resolve(base: Dir, path: str, follow: bool) -> Resolved:
    """Resolve ``path`` relative to the directory ``base``.  Intermediate symlinks
    are always followed, the final one only when ``follow``.  Raises
    WasiError(EPERM) for escapes, ENOENT / ENOTDIR for missing or non-directory
    intermediate components, ELOOP for symlink cycles."""
    if path == "":
        raise WasiError(ENOENT)
    if path.startswith("/"):
        raise WasiError(EPERM)
    trailing = path.endswith("/")
    if trailing:
        follow = True
        path = path.rstrip("/") or "."
    todo = _split(path)
    todo.reverse()  # a stack: pop() gives the next component
    walk = _Walk(base)
    links = 0
    name: Optional[str] = None  # the final entry's name in the current directory
    st: Optional[os.stat_result] = None
    try:
        while todo:
            comp = todo.pop()
            last = not todo
            if comp in ("", "."):
                continue
            if comp == "..":
                if len(walk) <= 1:
                    raise WasiError(EPERM)
                walk.pop()
                continue
            top = walk.at(len(walk) - 1)
            st = top.lstat(comp)
            if st is None:
                if last:
                    name = comp
                    break
                raise WasiError(ENOENT)
            if stat.S_ISLNK(st.st_mode) and (not last or follow):
                links += 1
                if links > MAX_SYMLINKS:
                    raise WasiError(ELOOP)
                try:
                    target = top.readlink(comp)
                except OSError:
                    raise WasiError(ENOENT) from None
                if isinstance(target, bytes):  # pragma: no cover
                    target = os.fsdecode(target)
                if target == "":
                    raise WasiError(ENOENT)
                if target.startswith("/") or os.path.isabs(target):
                    raise WasiError(EPERM)
                comps = target.split("/")
                if target.endswith("/"):
                    comps.append(".")
                if last and not comps[-1]:
                    comps[-1] = "."
                todo.extend(reversed(comps))
                st = None
                continue
            if last:
                name = comp
                break
            if not stat.S_ISDIR(st.st_mode):
                raise WasiError(ENOTDIR)
            walk.push(top.subdir(comp), comp)
        if name is not None:
            d, depth = walk.at(len(walk) - 1), len(walk)
        else:  # the path names the directory reached: (its parent, its name)
            depth = len(walk) - 1
            if depth == 0:
                d, name = base, "."
            else:
                d, name = walk.at(depth - 1), walk.names[depth]
            st = d.lstat(name)
    except BaseException:
        walk.close_all()
        raise
    if trailing and st is not None and not stat.S_ISDIR(st.st_mode):
        walk.close_all()
        raise WasiError(ENOTDIR)
    return Resolved(d, name, st, trailing, depth, walk.owned())


def _lstat(host: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(host)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise WasiError(ENOTDIR) from None
    except ValueError:  # pragma: no cover - a name the host cannot represent
        raise WasiError(EINVAL) from None


def _inside(root: str, path: str) -> bool:
    real = os.path.normcase(os.path.realpath(path))
    base = os.path.normcase(root)
    try:
        return os.path.commonpath([base, real]) == base
    except ValueError:  # pragma: no cover - different drives on Windows
        return False


def check_parent_inside(root: str, host: str) -> None:
    """Raise EPERM unless the directory containing ``host`` really is inside
    ``root`` now (a checked path's directory swapped for a symlink meanwhile)."""
    if not _inside(root, os.path.dirname(host) or root):
        raise WasiError(EPERM)


def same_file_inside(root: str, host: str, opened: os.stat_result) -> bool:
    """Whether the file open as ``opened`` is the one ``host`` resolves to, inside
    ``root``."""
    real = os.path.realpath(host)
    if not _inside(root, real):
        return False
    try:
        return os.path.samestat(opened, os.stat(real))
    except OSError:
        return False
