"""WASI file system: every fd_*/path_* operation on tmp_path mounts, readdir with
cookies on a large directory, the sandbox (escapes refused), read-only mounts."""
from __future__ import annotations

import os
import struct
import sys

import pytest

import pywazero as wz
from pywazero import wasi
from pywazero.wasi import errno as E

from .wasi_harness import ENGINES, Guest

CREAT, DIRECTORY, EXCL, TRUNC = 1, 2, 4, 8
APPEND, NONBLOCK, SYNC, DSYNC = 1, 4, 16, 2
R_READ, R_SEEK, R_TELL, R_WRITE = 1 << 1, 1 << 2, 1 << 5, 1 << 6
READ_ONLY_RIGHTS = ((1 << 30) - 1) & ~(R_WRITE | 1 | (1 << 8) | (1 << 22))  # as wasi-libc's O_RDONLY
needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture(autouse=True, params=["fd", "path"])
def dir_kind(request, monkeypatch):
    """Every test runs with directories held as OS descriptors (``*at`` calls, where
    the host has them) and as host paths (the fallback for hosts without)."""
    from pywazero.wasi import fs, sandbox
    if request.param == "path":
        monkeypatch.setattr(fs, "open_root", sandbox.PathDir.open_root)
    elif not sandbox.HAVE_DIR_FD:
        pytest.skip("this host has no dir_fd support: directories are held by path")
    return request.param


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "root"
    d.mkdir()
    (d / "hello.txt").write_bytes(b"hello world\n")
    (d / "sub").mkdir()
    (d / "sub" / "inner.txt").write_bytes(b"inner")
    (tmp_path / "secret.txt").write_bytes(b"top secret")
    return d


def guest(engine, root, read_only=False, **kw):
    return Guest(engine, mounts=[wz.Mount(str(root), "/", read_only)], **kw)


def test_prestat(engine, root, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    g = Guest(engine, mounts=[wz.Mount(str(root), "/"), wz.Mount(str(other), "/data/other", True)])
    assert g.fd_prestat_get(3, 0) == 0 and g.mem.read_u8(0) == 0 and g.u32(4) == 1
    assert g.fd_prestat_dir_name(3, 100, 1) == 0 and g.mem.read(100, 1) == b"/"
    assert g.fd_prestat_get(4, 0) == 0 and g.u32(4) == len("/data/other")
    assert g.fd_prestat_dir_name(4, 100, 5) == E.ENAMETOOLONG
    assert g.fd_prestat_dir_name(4, 100, 11) == 0 and g.mem.read(100, 11) == b"/data/other"
    assert g.fd_prestat_get(5, 0) == E.EBADF
    assert g.fd_fdstat_get(3, 0) == 0 and g.mem.read_u8(0) == 3  # directory


def test_open_read_seek_tell(engine, root):
    g = guest(engine, root)
    err, fd = g.open("hello.txt", rights=READ_ONLY_RIGHTS)
    assert err == 0 and fd == 4
    assert g.read(fd, 5) == (0, b"hello")
    assert g.fd_tell(fd, 0) == 0 and g.u64(0) == 5
    assert g.fd_seek(fd, 1, 1, 0) == 0 and g.u64(0) == 6  # CUR
    assert g.read(fd, 100) == (0, b"world\n")
    assert g.fd_seek(fd, (1 << 64) - 2, 2, 0) == 0 and g.u64(0) == 10  # END - 2
    assert g.fd_seek(fd, 0, 0, 0) == 0 and g.u64(0) == 0  # SET
    assert g.fd_seek(fd, (1 << 64) - 1, 0, 0) == E.EINVAL  # before the start
    with pytest.raises(wz.Trap, match="invalid whence"):
        g.fd_seek(fd, 0, 3, 0)
    # pread does not move the position
    buf = g.alloc(b"\0" * 8)
    iov, n = g.iovs([(buf, 5)])
    assert g.fd_pread(fd, iov, n, 6, 0) == 0 and g.u32(0) == 5 and g.mem.read(buf, 5) == b"world"
    assert g.fd_tell(fd, 0) == 0 and g.u64(0) == 0
    assert g.fd_pread(fd, iov, n, 100, 0) == 0 and g.u32(0) == 0  # past the end
    # read-only descriptor
    assert g.write(fd, b"x")[0] == E.EBADF
    assert g.fd_pwrite(fd, iov, n, 0, 0) == E.EBADF
    assert g.fd_fdstat_get(fd, 0) == 0
    ft, flags, base, inh = struct.unpack("<BxHxxxxQQ", g.mem.read(0, 24))
    assert ft == 4 and flags == 0 and base & R_READ and not base & R_WRITE
    assert g.fd_close(fd) == 0 and g.read(fd, 1)[0] == E.EBADF


def test_create_write_pwrite_truncate(engine, root):
    g = guest(engine, root)
    err, fd = g.open("new.txt", oflags=CREAT)
    assert err == 0
    assert g.write(fd, b"abcdef") == (0, 6)
    iov, n = g.iovs([g.s(b"XY")])
    assert g.fd_pwrite(fd, iov, n, 1, 0) == 0 and g.u32(0) == 2
    assert g.fd_tell(fd, 0) == 0 and g.u64(0) == 6
    assert (root / "new.txt").read_bytes() == b"aXYdef"
    assert g.open("new.txt", oflags=CREAT | EXCL) == (E.EEXIST, g.u32(0))
    assert g.fd_filestat_set_size(fd, 3) == 0
    assert (root / "new.txt").read_bytes() == b"aXY"
    assert g.fd_filestat_set_size(fd, 5) == 0
    assert (root / "new.txt").read_bytes() == b"aXY\0\0"
    assert g.fd_close(fd) == 0
    err, fd = g.open("new.txt", oflags=TRUNC)
    assert err == 0 and (root / "new.txt").read_bytes() == b""
    assert g.fd_filestat_get(fd, 64) == 0 and g.decode_filestat(64)["size"] == 0


def test_append_and_sync_flags(engine, root):
    g = guest(engine, root)
    err, fd = g.open("hello.txt", fdflags=APPEND | SYNC | DSYNC)
    assert err == 0
    assert g.write(fd, b"more\n") == (0, 5)
    assert g.fd_seek(fd, 0, 0, 0) == 0
    assert g.write(fd, b"end\n") == (0, 4)  # still appends
    assert (root / "hello.txt").read_bytes() == b"hello world\nmore\nend\n"
    assert g.fd_fdstat_get(fd, 0) == 0 and struct.unpack_from("<H", g.mem.read(2, 2))[0] == APPEND | SYNC | DSYNC
    assert g.fd_fdstat_set_flags(fd, 0) == 0
    assert g.fd_seek(fd, 0, 0, 0) == 0 and g.write(fd, b"HE") == (0, 2)
    assert (root / "hello.txt").read_bytes().startswith(b"HEllo")
    assert g.fd_fdstat_set_flags(fd, NONBLOCK) == 0
    assert g.fd_sync(fd) == 0 and g.fd_datasync(fd) == 0
    assert g.fd_sync(3) == 0 and g.fd_datasync(3) == 0


def test_advise_allocate(engine, root):
    g = guest(engine, root)
    err, fd = g.open("hello.txt")
    for advice in range(6):
        assert g.fd_advise(fd, 0, 100, advice) == 0
    with pytest.raises(wz.Trap, match="invalid advice"):
        g.fd_advise(fd, 0, 100, 6)
    assert g.fd_advise(3, 0, 100, 0) == E.EBADF
    assert g.fd_allocate(fd, 0, 4) == 0 and (root / "hello.txt").stat().st_size == 12
    assert g.fd_allocate(fd, 10, 10) == 0 and (root / "hello.txt").stat().st_size == 20
    assert g.fd_allocate(3, 0, 1) == E.EBADF
    err, ro = g.open("sub/inner.txt", rights=READ_ONLY_RIGHTS)
    assert g.fd_allocate(ro, 0, 100) == E.ENOTCAPABLE


def test_filestat_and_times(engine, root):
    g = guest(engine, root)
    err, st = g.filestat("hello.txt")
    assert err == 0 and st["filetype"] == 4 and st["size"] == 12 and st["nlink"] == 1
    assert st["ino"] == os.stat(root / "hello.txt").st_ino
    assert g.filestat("sub")[1]["filetype"] == 3
    assert g.filestat("missing")[0] == E.ENOENT
    assert g.filestat("hello.txt/x")[0] == E.ENOTDIR
    p, n = g.s("hello.txt")
    # set both times explicitly, then only mtime; atime is kept
    assert g.path_filestat_set_times(3, 0, p, n, 1_000_000_000, 2_000_000_000, 1 | 4) == 0
    s = os.stat(root / "hello.txt")
    assert (s.st_atime_ns, s.st_mtime_ns) == (1_000_000_000, 2_000_000_000)
    assert g.path_filestat_set_times(3, 0, p, n, 0, 3_000_000_000, 4) == 0
    s = os.stat(root / "hello.txt")
    assert (s.st_atime_ns, s.st_mtime_ns) == (1_000_000_000, 3_000_000_000)
    # *_NOW uses the injected realtime clock
    assert g.path_filestat_set_times(3, 0, p, n, 0, 0, 2 | 8) == 0
    s = os.stat(root / "hello.txt")
    assert s.st_mtime_ns // 10**9 == 1609459200
    assert g.path_filestat_set_times(3, 0, p, n, 0, 0, 1 | 2) == E.EINVAL
    with pytest.raises(wz.Trap, match="invalid fstflags"):
        g.path_filestat_set_times(3, 0, p, n, 0, 0, 16)
    with pytest.raises(wz.Trap, match="invalid lookupflags"):
        g.path_filestat_set_times(3, 2, p, n, 0, 0, 0)
    err, fd = g.open("hello.txt")
    assert g.fd_filestat_set_times(fd, 5_000_000_000, 6_000_000_000, 1 | 4) == 0
    assert os.stat(root / "hello.txt").st_mtime_ns == 6_000_000_000
    assert g.fd_filestat_set_times(3, 7_000_000_000, 8_000_000_000, 1 | 4) == 0
    assert os.stat(root).st_mtime_ns == 8_000_000_000
    assert g.fd_filestat_get(fd, 64) == 0 and g.decode_filestat(64)["mtim"] == 6_000_000_000
    assert g.fd_filestat_get(3, 64) == 0 and g.decode_filestat(64)["filetype"] == 3


def test_directories(engine, root):
    g = guest(engine, root)
    assert g.pathcall("path_create_directory", 3, "d1") == 0 and (root / "d1").is_dir()
    assert g.pathcall("path_create_directory", 3, "d1") == E.EEXIST
    assert g.pathcall("path_create_directory", 3, "nope/d2") == E.ENOENT
    assert g.pathcall("path_create_directory", 3, "d1/d2/") == 0 and (root / "d1" / "d2").is_dir()
    assert g.pathcall("path_remove_directory", 3, "d1") == E.ENOTEMPTY
    assert g.pathcall("path_remove_directory", 3, "hello.txt") == E.ENOTDIR
    assert g.pathcall("path_remove_directory", 3, "missing") == E.ENOENT
    assert g.pathcall("path_remove_directory", 3, "d1/d2") == 0
    assert g.pathcall("path_remove_directory", 3, "d1") == 0 and not (root / "d1").exists()
    assert g.pathcall("path_remove_directory", 3, ".") == E.EINVAL
    # open a directory and work relative to it
    err, sub = g.open("sub", oflags=DIRECTORY, rights=READ_ONLY_RIGHTS)
    assert err == 0 and g.fd_fdstat_get(sub, 0) == 0 and g.mem.read_u8(0) == 3
    assert g.open("inner.txt", dirfd=sub)[0] == 0
    assert g.open("hello.txt", oflags=DIRECTORY)[0] == E.ENOTDIR
    assert g.open("sub", rights=R_WRITE)[0] == E.EISDIR
    assert g.read(sub, 4)[0] == E.EBADF
    assert g.fd_seek(sub, 0, 0, 0) == E.EBADF
    assert g.open("nothing")[0] == E.ENOENT
    assert g.open("")[0] == E.ENOENT
    assert g.open("x", oflags=CREAT | DIRECTORY)[0] == E.EINVAL
    assert g.open("hello.txt/")[0] == E.ENOTDIR
    assert g.open("hello.txt", dirfd=4 + 10)[0] == E.EBADF
    err, f = g.open("hello.txt")
    assert g.open("x", dirfd=f)[0] == E.ENOTDIR


def test_unlink_rename_link(engine, root):
    g = guest(engine, root)
    assert g.pathcall("path_unlink_file", 3, "sub") == E.EISDIR
    assert g.pathcall("path_unlink_file", 3, "missing") == E.ENOENT
    old, new = g.s("hello.txt"), g.s("sub/moved.txt")
    assert g.path_rename(3, *old, 3, *new) == 0
    assert (root / "sub" / "moved.txt").read_bytes() == b"hello world\n"
    assert g.path_rename(3, *old, 3, *new) == E.ENOENT
    # rename over an existing file replaces it
    a, b = g.s("sub/moved.txt"), g.s("sub/inner.txt")
    assert g.path_rename(3, *a, 3, *b) == 0 and (root / "sub" / "inner.txt").read_bytes() == b"hello world\n"
    # directory renames
    (root / "d").mkdir()
    (root / "full").mkdir()
    (root / "full" / "x").write_bytes(b"")
    assert g.path_rename(3, *g.s("sub"), 3, *g.s("sub/deeper")) == E.EINVAL
    assert g.path_rename(3, *g.s("sub"), 3, *g.s("full")) == E.ENOTEMPTY
    assert g.path_rename(3, *g.s("sub"), 3, *g.s("full/x")) == E.ENOTDIR
    assert g.path_rename(3, *g.s("full/x"), 3, *g.s("d")) == E.EISDIR
    assert g.path_rename(3, *g.s("sub"), 3, *g.s("d")) == 0 and (root / "d" / "inner.txt").exists()
    # hard links
    assert g.path_link(3, 0, *g.s("d/inner.txt"), 3, *g.s("hard")) == 0
    assert os.stat(root / "hard").st_nlink == 2 and g.filestat("hard")[1]["nlink"] == 2
    assert g.path_link(3, 0, *g.s("d/inner.txt"), 3, *g.s("hard")) == E.EEXIST
    assert g.path_link(3, 0, *g.s("d"), 3, *g.s("dirlink")) == E.EPERM
    assert g.path_link(3, 0, *g.s("nope"), 3, *g.s("x")) == E.ENOENT
    assert g.pathcall("path_unlink_file", 3, "hard") == 0 and not (root / "hard").exists()
    # descriptors of two directories
    err, d = g.open("d", oflags=DIRECTORY, rights=READ_ONLY_RIGHTS)  # (write rights: EISDIR)
    assert err == 0
    assert g.path_rename(d, *g.s("inner.txt"), 3, *g.s("back.txt")) == 0 and (root / "back.txt").exists()


@needs_symlinks
def test_symlinks(engine, root):
    g = guest(engine, root)
    assert g.path_symlink(*g.s("hello.txt"), 3, *g.s("ln")) == 0
    assert os.readlink(root / "ln") == "hello.txt"
    assert g.path_symlink(*g.s("x"), 3, *g.s("ln")) == E.EEXIST
    buf = g.alloc(b"\0" * 32)
    assert g.path_readlink(3, *g.s("ln"), buf, 32, 0) == 0 and g.u32(0) == 9
    assert g.mem.read(buf, 9) == b"hello.txt"
    assert g.path_readlink(3, *g.s("ln"), buf, 4, 0) == 0 and g.u32(0) == 4  # truncated
    assert g.path_readlink(3, *g.s("hello.txt"), buf, 32, 0) == E.EINVAL
    assert g.path_readlink(3, *g.s("nope"), buf, 32, 0) == E.ENOENT
    # follow or not
    assert g.filestat("ln", follow=True)[1]["filetype"] == 4
    assert g.filestat("ln", follow=False)[1]["filetype"] == 7
    assert g.open("ln", follow=True)[0] == 0
    assert g.open("ln", follow=False)[0] == E.ELOOP
    # directory symlinks in the middle of a path
    assert g.path_symlink(*g.s("sub"), 3, *g.s("sublink")) == 0
    err, fd = g.open("sublink/inner.txt", follow=False)
    assert err == 0 and g.read(fd, 10) == (0, b"inner")
    assert g.path_symlink(*g.s("../hello.txt"), 3, *g.s("sub/up")) == 0
    assert g.open("sub/up")[0] == 0  # ".." inside the mount is fine
    # loops
    assert g.path_symlink(*g.s("loop2"), 3, *g.s("loop1")) == 0
    assert g.path_symlink(*g.s("loop1"), 3, *g.s("loop2")) == 0
    assert g.open("loop1")[0] == E.ELOOP
    # unlinking a symlink removes the link, not the target
    assert g.pathcall("path_unlink_file", 3, "sublink") == 0
    assert (root / "sub" / "inner.txt").exists()
    # dangling link: readable as a link, but cannot be opened
    assert g.path_symlink(*g.s("nowhere"), 3, *g.s("dangling")) == 0
    assert g.open("dangling")[0] == E.ENOENT
    assert g.filestat("dangling", follow=False)[0] == 0
    # hard link to a symlink target with the follow flag
    assert g.path_link(3, 1, *g.s("ln"), 3, *g.s("hard")) == 0
    assert os.path.samefile(root / "hard", root / "hello.txt")
    # without it, a hard link to the symlink itself (on PyPy too, whose linkat
    # rejects follow_symlinks=False)
    assert g.path_link(3, 0, *g.s("ln"), 3, *g.s("hard2")) == 0
    assert os.path.islink(root / "hard2") and os.readlink(root / "hard2") == os.readlink(root / "ln")
    # creating through a symlink to a new file
    assert g.path_symlink(*g.s("created.txt"), 3, *g.s("tocreate")) == 0
    assert g.open("tocreate", oflags=CREAT)[0] == 0 and (root / "created.txt").exists()


def test_sandbox_escapes_are_refused(engine, root, tmp_path):
    g = guest(engine, root)
    for path in ["/etc/passwd", "/hello.txt", "../secret.txt", "sub/../../secret.txt", "..",
                 "sub/../..", "./../root/hello.txt", "sub/../../root/hello.txt"]:
        assert g.open(path)[0] == E.EPERM, path
        assert g.filestat(path)[0] == E.EPERM, path
    assert g.pathcall("path_create_directory", 3, "../evil") == E.EPERM
    assert g.pathcall("path_unlink_file", 3, "../secret.txt") == E.EPERM
    assert g.pathcall("path_remove_directory", 3, "..") == E.EPERM
    assert g.path_rename(3, *g.s("hello.txt"), 3, *g.s("../stolen")) == E.EPERM
    assert g.path_link(3, 0, *g.s("../secret.txt"), 3, *g.s("x")) == E.EPERM
    assert g.path_symlink(*g.s("/etc/passwd"), 3, *g.s("abs")) == E.EPERM
    assert not (tmp_path / "evil").exists() and not (tmp_path / "stolen").exists()
    assert (tmp_path / "secret.txt").read_bytes() == b"top secret"
    # a subdirectory descriptor cannot climb to its parent
    err, sub = g.open("sub", oflags=DIRECTORY, rights=READ_ONLY_RIGHTS)
    assert g.open("../hello.txt", dirfd=sub)[0] == E.EPERM
    assert g.open("inner.txt", dirfd=sub)[0] == 0
    assert g.open("sub/..", rights=READ_ONLY_RIGHTS)[0] == 0  # back at the root: allowed
    assert g.open("/", rights=READ_ONLY_RIGHTS)[0] == E.EPERM


@needs_symlinks
def test_symlink_escapes_are_refused(engine, root, tmp_path):
    os.symlink(str(tmp_path / "secret.txt"), root / "abs_out")
    os.symlink("../secret.txt", root / "rel_out")
    os.symlink("..", root / "parent")
    os.symlink(str(tmp_path), root / "dir_out")
    g = guest(engine, root)
    for path in ["abs_out", "rel_out", "parent/secret.txt", "dir_out/secret.txt", "parent"]:
        assert g.open(path)[0] == E.EPERM, path
        assert g.filestat(path)[0] == E.EPERM, path
    # the links themselves are visible when not followed
    assert g.filestat("abs_out", follow=False)[1]["filetype"] == 7
    # a link the guest creates is just as confined
    assert g.path_symlink(*g.s("../../secret.txt"), 3, *g.s("sub/mine")) == 0
    assert g.open("sub/mine")[0] == E.EPERM
    assert g.path_symlink(*g.s("../.."), 3, *g.s("sub/up2")) == 0
    assert g.open("sub/up2/secret.txt")[0] == E.EPERM
    assert g.pathcall("path_create_directory", 3, "sub/up2/evil") == E.EPERM
    assert g.open("sub/up2/evil", oflags=CREAT)[0] == E.EPERM
    assert g.path_filestat_set_times(3, 1, *g.s("rel_out"), 0, 0, 2 | 8) == E.EPERM
    assert g.path_link(3, 1, *g.s("rel_out"), 3, *g.s("stolen")) == E.EPERM
    # an intermediate symlink escaping even when the final component is not followed
    assert g.filestat("dir_out/secret.txt", follow=False)[0] == E.EPERM
    assert not (tmp_path / "evil").exists()
    assert (tmp_path / "secret.txt").read_bytes() == b"top secret"


def test_read_only_mount(engine, root):
    g = guest(engine, root, read_only=True)
    err, fd = g.open("hello.txt", rights=READ_ONLY_RIGHTS)
    assert err == 0 and g.read(fd, 5) == (0, b"hello")
    assert g.open("hello.txt")[0] == E.EPERM  # all rights include fd_write
    assert g.open("hello.txt", rights=READ_ONLY_RIGHTS, oflags=TRUNC)[0] == E.EPERM
    assert g.open("new", rights=READ_ONLY_RIGHTS, oflags=CREAT)[0] == E.EPERM
    assert g.pathcall("path_create_directory", 3, "d") == E.EPERM
    assert g.pathcall("path_unlink_file", 3, "hello.txt") == E.EPERM
    assert g.pathcall("path_remove_directory", 3, "sub") == E.EPERM
    assert g.path_rename(3, *g.s("hello.txt"), 3, *g.s("x")) == E.EPERM
    assert g.path_link(3, 0, *g.s("hello.txt"), 3, *g.s("x")) == E.EPERM
    assert g.path_symlink(*g.s("hello.txt"), 3, *g.s("x")) == E.EPERM
    assert g.path_filestat_set_times(3, 0, *g.s("hello.txt"), 0, 0, 8) == E.EPERM
    assert g.fd_filestat_set_times(fd, 0, 0, 8) == E.EPERM
    assert g.fd_filestat_set_times(3, 0, 0, 8) == E.EPERM
    assert g.fd_filestat_set_size(fd, 0) in (E.EPERM, E.ENOTCAPABLE)
    assert g.write(fd, b"x")[0] == E.EBADF
    assert sorted(os.listdir(root)) == ["hello.txt", "sub"]
    assert (root / "hello.txt").read_bytes() == b"hello world\n"
    # reading works as usual
    assert g.readdir_all(3) == [".", "..", "hello.txt", "sub"]
    assert g.filestat("sub/inner.txt")[1]["size"] == 5


def test_readdir_layout_and_truncation(engine, root):
    g = guest(engine, root)
    buf = g.alloc(b"\0" * 512)
    assert g.fd_readdir(3, buf, 512, 0, 0) == 0
    used = g.u32(0)
    data = g.mem.read(buf, used)
    entries = []
    off = 0
    while off < used:
        d_next, ino, namlen, ft = struct.unpack_from("<QQIB", data, off)
        entries.append((d_next, data[off + 24:off + 24 + namlen], ft, ino))
        off += 24 + namlen
    assert [(e[0], e[1], e[2]) for e in entries] == [(1, b".", 3), (2, b"..", 3), (3, b"hello.txt", 4), (4, b"sub", 3)]
    assert entries[2][3] == os.stat(root / "hello.txt").st_ino
    assert used == 4 * 24 + 1 + 2 + 9 + 3
    # a buffer ending inside the third entry's name: filled exactly, last entry cut
    small = 24 + 1 + 24 + 2 + 24 + 4
    assert g.fd_readdir(3, buf, small, 0, 0) == 0 and g.u32(0) == small
    assert g.mem.read(buf + small - 4, 4) == b"hell"
    # resume from a cookie
    assert g.fd_readdir(3, buf, 512, 3, 0) == 0
    assert g.mem.read(buf + 24, 3) == b"sub" and g.u32(0) == 27
    assert g.fd_readdir(3, buf, 512, 4, 0) == 0 and g.u32(0) == 0  # end
    assert g.fd_readdir(3, buf, 512, 99, 0) == 0 and g.u32(0) == 0
    err, f = g.open("hello.txt")
    assert g.fd_readdir(f, buf, 512, 0, 0) == E.EBADF


def test_readdir_large_directory(engine, root):
    big = root / "big"
    big.mkdir()
    names = [f"entry-{i:05d}-{'x' * (i % 17)}" for i in range(1200)]
    for n in names:
        (big / n).write_bytes(b"")
    g = guest(engine, root)
    err, fd = g.open("big", oflags=DIRECTORY, rights=READ_ONLY_RIGHTS)
    assert err == 0
    got = g.readdir_all(fd, buf_len=300)
    assert got == [".", ".."] + sorted(names)
    # a new listing from cookie 0 sees later changes
    (big / "zzz-late").write_bytes(b"")
    assert g.readdir_all(fd, buf_len=4096)[-1] == "zzz-late"


def test_close_releases_files(engine, root):
    g = guest(engine, root)
    err, fd = g.open("hello.txt")
    st = wasi.state(g.module)
    osfd = st.fds[fd].osfd
    wasi.close(g.module)
    with pytest.raises(OSError):
        os.fstat(osfd)


def test_mount_of_a_missing_directory(engine, tmp_path):
    g = Guest(engine, mounts=[wz.Mount(str(tmp_path / "missing"), "/")])
    with pytest.raises(ValueError):
        g.fd_prestat_get(3, 0)


def test_path_edge_cases(engine, root):
    g = guest(engine, root)
    assert g.open("a\0b")[0] == E.EINVAL
    p, n = g.s(b"\xff\xfe")
    assert g.path_open(3, 1, p, n, 0, READ_ONLY_RIGHTS, 0, 0, 0) == E.EILSEQ
    assert g.open("x" * 300)[0] == E.ENAMETOOLONG
    assert g.open("y" * 5000)[0] == E.ENAMETOOLONG
    err, fd = g.open("héllo wörld.txt", oflags=CREAT)
    assert err == 0 and (root / "héllo wörld.txt").exists()
    assert "héllo wörld.txt" in g.readdir_all(3)
    assert g.open("sub//inner.txt", rights=READ_ONLY_RIGHTS)[0] == 0
    assert g.open("./sub/./inner.txt", rights=READ_ONLY_RIGHTS)[0] == 0
    assert g.open("sub/inner.txt/..", rights=READ_ONLY_RIGHTS)[0] == E.ENOTDIR


def test_module_and_runtime_close_release_files(engine, root, dir_kind):
    import gc
    from pywazero.wasi import sandbox
    for how in ("module", "runtime", "gc"):
        rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
        wasi.instantiate(rt)
        from .wasi_harness import reexport_wat
        m = rt.instantiate(reexport_wat(), wz.ModuleConfig(mounts=[wz.Mount(str(root), "/")]))
        p = 4096
        m.memory().write(p, b"hello.txt")
        assert m.function("path_open")(3, 0, p, 9, 0, 2, 0, 0, 0) == 0
        osfds = [wasi.state(m).fds[m.memory().read_u32(0)].osfd]
        m.memory().write(p, b"sub")
        assert m.function("path_open")(3, 0, p, 3, 2, 2, 0, 0, 0) == 0  # a directory
        # directory descriptors (the mount's and the one opened) hold OS descriptors too
        osfds += [d.dir.fd for d in wasi.state(m).fds.values() if getattr(d.dir, "fd", None) is not None]
        assert len(osfds) == (3 if sandbox.HAVE_DIR_FD and dir_kind == "fd" else 1)
        for osfd in osfds:
            os.fstat(osfd)
        if how == "module":
            m.close()
        elif how == "runtime":
            rt.close()
        else:
            del m, rt  # dropped without close()
            gc.collect()
        for osfd in osfds:
            with pytest.raises(OSError):
                os.fstat(osfd)


@needs_symlinks
def test_race_defences(root, tmp_path):
    # a directory that was checked, then swapped for a symlink pointing out
    from pywazero.wasi import sandbox
    from pywazero.wasi.errno import WasiError
    os.symlink(str(tmp_path), root / "swapped")
    with pytest.raises(WasiError) as e:
        sandbox.check_parent_inside(str(root), str(root / "swapped" / "secret.txt"))
    assert e.value.errno == E.EPERM
    sandbox.check_parent_inside(str(root), str(root / "sub" / "inner.txt"))
    secret = tmp_path / "secret.txt"
    with open(secret, "rb") as f:
        st = os.fstat(f.fileno())
        assert not sandbox.same_file_inside(str(root), str(root / "swapped" / "secret.txt"), st)
    with open(root / "hello.txt", "rb") as f:
        assert sandbox.same_file_inside(str(root), str(root / "hello.txt"), os.fstat(f.fileno()))
        assert not sandbox.same_file_inside(str(root), str(root / "sub" / "inner.txt"), os.fstat(f.fileno()))


def _dir_kinds():
    from pywazero.wasi import sandbox
    kinds = [sandbox.PathDir]
    if sandbox.HAVE_DIR_FD:
        kinds.append(sandbox.FdDir)
    return kinds


def _tree_ids(top):
    """(dev, ino) of every directory and of every entry under ``top`` (links not
    followed), ``top`` included."""
    dirs, entries = set(), set()
    for d, ds, fs in os.walk(top):
        st = os.lstat(d)
        dirs.add((st.st_dev, st.st_ino))
        entries.add((st.st_dev, st.st_ino))
        for n in ds + fs:
            st = os.lstat(os.path.join(d, n))
            entries.add((st.st_dev, st.st_ino))
    return dirs, entries


def _open_fds():
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


@needs_symlinks
@pytest.mark.parametrize("kind", _dir_kinds(), ids=lambda k: k.__name__)
def test_random_paths_never_leave_the_mount(root, tmp_path, kind):
    import random as _random
    from pywazero.wasi import sandbox
    from pywazero.wasi.errno import WasiError
    (root / "sub" / "deep").mkdir()
    os.symlink("..", root / "sub" / "up")             # inside: back to root
    os.symlink("../..", root / "sub" / "up2")         # out
    os.symlink("deep/../../sub", root / "sub" / "zig")  # inside, winding
    os.symlink(str(tmp_path), root / "abs")           # out, absolute
    os.symlink("sub/up/sub/up/..", root / "sneaky")   # out after a detour
    comps = ["sub", "deep", "up", "up2", "zig", "abs", "sneaky", "..", ".", "", "hello.txt", "x"]
    rng = _random.Random(7)
    real_root = os.path.realpath(root)
    top = kind.open_root(real_root)
    bases = {(): top, ("sub",): top.subdir("sub")}
    bases[("sub", "deep")] = bases[("sub",)].subdir("deep")
    ids = {b: _tree_ids(os.path.join(real_root, *b)) for b in bases}
    fds_before = _open_fds()
    outcomes = set()
    for _ in range(3000):
        path = "/".join(rng.choice(comps) for _ in range(rng.randint(1, 6)))
        base = rng.choice(list(bases))
        try:
            res = sandbox.resolve(bases[base], path, rng.random() < 0.5)
        except WasiError as e:
            outcomes.add(e.errno)
            continue
        with res:
            outcomes.add(0)
            dirs, entries = ids[base]
            # the directory it ends in, and the entry itself, lie under the starting
            # directory (never above the descriptor, let alone the mount)
            st = res.dir.stat()
            assert (st.st_dev, st.st_ino) in dirs, (path, base)
            if res.lstat is not None:
                assert (res.lstat.st_dev, res.lstat.st_ino) in entries, (path, base)
            assert (res.depth == 0) == (res.name == "."), (path, base)
    assert {0, E.EPERM, E.ENOENT, E.ENOTDIR} <= outcomes
    assert _open_fds() == fds_before  # every directory a resolution opened was closed
    for d in bases.values():
        d.close()


@needs_symlinks
@pytest.mark.parametrize("kind", _dir_kinds(), ids=lambda k: k.__name__)
def test_deep_paths_and_symlink_hops(root, kind):
    from pywazero.wasi import sandbox
    from pywazero.wasi.errno import WasiError
    real_root = os.path.realpath(root)
    top = kind.open_root(real_root)
    # deeper than MAX_OPEN_DIRS: the walk closes and reopens directories, and comes
    # back up with ".." exactly to where it started
    depth = sandbox.MAX_OPEN_DIRS * 3
    (root / "/".join(["d"] * depth)).mkdir(parents=True)
    fds_before = _open_fds()
    with sandbox.resolve(top, "/".join(["d"] * depth + [".."] * depth + ["hello.txt"]), True) as res:
        assert res.depth == 1 and res.name == "hello.txt" and res.lstat.st_size == 12
    with sandbox.resolve(top, "/".join(["d"] * depth + [".."] * (depth - 1)), True) as res:
        assert res.depth == 1 and res.name == "d"
    assert _open_fds() == fds_before
    # 40 symlink hops resolve, the 41st is ELOOP
    for i in range(41):
        os.symlink(f"l{i + 1}" if i < 40 else "hello.txt", root / f"l{i}")
    with sandbox.resolve(top, "l1", True) as res:
        assert res.name == "hello.txt" and res.depth == 1
    with pytest.raises(WasiError) as e:
        sandbox.resolve(top, "l0", True)
    assert e.value.errno == E.ELOOP
    assert _open_fds() == fds_before
    top.close()
