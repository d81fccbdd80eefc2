"""Path resolution confined to a mount.

A guest path is resolved component by component against a directory descriptor
(its mount's host root plus the components leading to it).  ``..`` may not climb
above that directory, absolute paths are refused, and every symbolic link met on the
way (already on disk or created by the guest) is read and its target spliced in the
same way: an absolute target, or one that climbs out, is refused with ``EPERM``
(what wasmtime returns for an escape attempt).  The host path returned is built only
from components checked this way, so the guest never names a host location outside
its mount.  (A host process racing to swap a checked directory for a symlink between
the check and the use cannot be ruled out without ``openat``-style calls everywhere;
as defence in depth, final components are opened with ``O_NOFOLLOW`` where the host
has it, an opened file must be the file its path really resolves to inside the mount
(:func:`same_file_inside`), and the parent directory of every mutation is checked to
really lie inside the mount just before it (:func:`check_parent_inside`).)
"""
from __future__ import annotations

import os
import stat
from typing import List, Optional, Tuple

from .errno import EILSEQ, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EPERM, WasiError

MAX_SYMLINKS = 40
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


def host_join(root: str, parts: List[str]) -> str:
    return os.path.join(root, *parts) if parts else root


class Resolved:
    """The result of resolving a guest path: ``parts`` (components from the mount's
    root), ``host`` (the host path), ``trailing_slash`` and ``lstat`` (None when the
    final component does not exist)."""

    __slots__ = ("parts", "host", "trailing_slash", "lstat")

    def __init__(self, parts: List[str], host: str, trailing_slash: bool, st: Optional[os.stat_result]) -> None:
        self.parts = parts
        self.host = host
        self.trailing_slash = trailing_slash
        self.lstat = st

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else "."


def resolve(root: str, base: List[str], path: str, follow: bool) -> Resolved:
    """Resolve ``path`` relative to the directory ``base`` (components under the
    mount host directory ``root``).  Intermediate symlinks are always followed, the
    final one only when ``follow``.  Raises WasiError(EPERM) for escapes, ENOENT /
    ENOTDIR for missing or non-directory intermediate components, ELOOP for symlink
    cycles."""
    if path == "":
        raise WasiError(ENOENT)
    if path.startswith("/"):
        raise WasiError(EPERM)
    trailing = path.endswith("/")
    if trailing:
        follow = True
        path = path.rstrip("/") or "."
    todo = _split(path)
    floor = len(base)
    cur = list(base)
    links = 0
    todo.reverse()  # a stack: pop() gives the next component
    st: Optional[os.stat_result] = None
    while todo:
        comp = todo.pop()
        last = not todo
        if comp in ("", "."):
            if last:
                st = _lstat(host_join(root, cur))
            continue
        if comp == "..":
            if len(cur) <= floor:
                raise WasiError(EPERM)
            cur.pop()
            if last:
                st = _lstat(host_join(root, cur))
            continue
        cur.append(comp)
        host = host_join(root, cur)
        st = _lstat(host)
        if st is None:
            if last:
                break
            raise WasiError(ENOENT)
        if stat.S_ISLNK(st.st_mode) and (not last or follow):
            links += 1
            if links > MAX_SYMLINKS:
                raise WasiError(ELOOP)
            try:
                target = os.readlink(host)
            except OSError:
                raise WasiError(ENOENT) from None
            if isinstance(target, bytes):  # pragma: no cover
                target = os.fsdecode(target)
            cur.pop()
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
            if not todo:  # pragma: no cover - a target always has a component
                break
            continue
        if not last and not stat.S_ISDIR(st.st_mode):
            raise WasiError(ENOTDIR)
    if trailing and st is not None and not stat.S_ISDIR(st.st_mode):
        raise WasiError(ENOTDIR)
    return Resolved(cur, host_join(root, cur), trailing, st)


def _lstat(host: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(host)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise WasiError(ENOTDIR) from None
    except ValueError:  # pragma: no cover - a name the host cannot represent
        raise WasiError(EINVAL) from None


def split_parent(res: Resolved) -> Tuple[List[str], str]:
    """(parent components, final name) of a resolved path."""
    if not res.parts:
        raise WasiError(EPERM)
    return res.parts[:-1], res.parts[-1]


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
