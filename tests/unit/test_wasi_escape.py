"""The renamed-directory sandbox escape (issue 9, review item 1), as a WebAssembly
program calling WASI directly, on both engines.

With a writable mount, the guest creates a directory, opens it (descriptor D),
renames it inside the mount, plants a symlink under the old name pointing to
``../../..`` (out of the mount), and then works through D: stats, lists, reads
links, changes times, opens and reads files.  D must stay bound to the directory
it was opened on (as in wasmtime), so every one of those sees only that
directory's (empty) contents: ENOENT, never anything of the host.  Through the
mount's own descriptor the planted symlink is refused (EPERM) as before.
"""
from __future__ import annotations

import os
import struct
import sys

import pytest

import pywazero as wz
from pywazero import wasi
from pywazero.wasi import errno as E

from .wasi_harness import ENGINES

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows; "
                                "there directories are held by path (see wasi/sandbox.py)")

ENOENT, EBADF, EPERM = E.ENOENT, E.EBADF, E.EPERM
RIGHTS = ((1 << 30) - 1) & ~(1 << 6)  # everything but fd_write: directories refuse it
O_DIRECTORY = 2
RESULTS, FD_D, FD_HOSTDIR, FD_FILE = 0x800, 0x7F0, 0x7F4, 0x7EC
LINK_USED, LIST_USED, HOSTLIST_USED, NREAD = 0x7F8, 0x7FC, 0x7E8, 0x7E0
IOVEC, STATBUF, FSTATBUF, LINKBUF = 0x7D0, 0x900, 0x980, 0xA00
LISTBUF, HOSTLISTBUF, READBUF = 0x1000, 0x2000, 0x3000
STEPS = ("mkdir victim", "open victim", "rename victim moved", "symlink victim", "stat through D",
         "readdir D", "readlink through D", "open host dir through D", "readdir host dir",
         "set times through D", "open file through D", "read file", "stat through the mount",
         "stat D itself", "fstat D", "set times of host dir", "set times of D")

_IMPORTS = {
    "path_create_directory": "i32 i32 i32", "path_open": "i32 i32 i32 i32 i32 i64 i64 i32 i32",
    "path_rename": "i32 i32 i32 i32 i32 i32", "path_symlink": "i32 i32 i32 i32 i32",
    "path_filestat_get": "i32 i32 i32 i32 i32", "fd_readdir": "i32 i32 i32 i64 i32",
    "path_readlink": "i32 i32 i32 i32 i32 i32", "path_filestat_set_times": "i32 i32 i32 i32 i64 i64 i32",
    "fd_read": "i32 i32 i32 i32", "fd_filestat_get": "i32 i32", "fd_filestat_set_times": "i32 i64 i64 i32",
}


def attack_wat(target: str, stat_name: str, list_name: str, link_name: str, times_name: str,
               touch: bool = True) -> str:
    """The attack; step i's errno goes to RESULTS + 4 * i.  Without ``touch`` the
    set-times steps ask for no change (so a regression cannot alter real host
    directories' times)."""
    fst = 5 if touch else 0  # atim | mtim
    strings = {}
    data = []
    at = 0x20
    for key, text in (("victim", "victim"), ("moved", "moved"), ("target", target),
                      ("stat", stat_name), ("list", list_name), ("link", link_name),
                      ("times", times_name), ("via", "victim/" + stat_name), ("dot", ".")):
        raw = text.encode()
        strings[key] = (at, len(raw))
        data.append(f'  (data (i32.const {at}) "{text}")')
        at += len(raw) + 1
        assert at < 0x700
    s = {k: f"(i32.const {p}) (i32.const {n})" for k, (p, n) in strings.items()}
    d = f"(i32.load (i32.const {FD_D}))"
    steps = [
        f"(call $path_create_directory (i32.const 3) {s['victim']})",
        f"(call $path_open (i32.const 3) (i32.const 0) {s['victim']} (i32.const {O_DIRECTORY}) "
        f"(i64.const {RIGHTS}) (i64.const {RIGHTS}) (i32.const 0) (i32.const {FD_D}))",
        f"(call $path_rename (i32.const 3) {s['victim']} (i32.const 3) {s['moved']})",
        f"(call $path_symlink {s['target']} (i32.const 3) {s['victim']})",
        f"(call $path_filestat_get {d} (i32.const 1) {s['stat']} (i32.const {STATBUF}))",
        f"(call $fd_readdir {d} (i32.const {LISTBUF}) (i32.const 4096) (i64.const 0) (i32.const {LIST_USED}))",
        f"(call $path_readlink {d} {s['link']} (i32.const {LINKBUF}) (i32.const 256) (i32.const {LINK_USED}))",
        f"(call $path_open {d} (i32.const 1) {s['list']} (i32.const {O_DIRECTORY}) "
        f"(i64.const {RIGHTS}) (i64.const {RIGHTS}) (i32.const 0) (i32.const {FD_HOSTDIR}))",
        f"(call $fd_readdir (i32.load (i32.const {FD_HOSTDIR})) (i32.const {HOSTLISTBUF}) (i32.const 4096) "
        f"(i64.const 0) (i32.const {HOSTLIST_USED}))",
        f"(call $path_filestat_set_times {d} (i32.const 0) {s['times']} (i64.const 1000000000) "
        f"(i64.const 1000000000) (i32.const {fst}))",
        f"(call $path_open {d} (i32.const 1) {s['stat']} (i32.const 0) (i64.const {RIGHTS}) "
        f"(i64.const {RIGHTS}) (i32.const 0) (i32.const {FD_FILE}))",
        f"(call $fd_read (i32.load (i32.const {FD_FILE})) (i32.const {IOVEC}) (i32.const 1) (i32.const {NREAD}))",
        f"(call $path_filestat_get (i32.const 3) (i32.const 1) {s['via']} (i32.const {STATBUF}))",
        f"(call $path_filestat_get {d} (i32.const 0) {s['dot']} (i32.const {STATBUF}))",
        f"(call $fd_filestat_get {d} (i32.const {FSTATBUF}))",
        f"(call $fd_filestat_set_times (i32.load (i32.const {FD_HOSTDIR})) (i64.const 1000000000) "
        f"(i64.const 1000000000) (i32.const {fst}))",
        f"(call $fd_filestat_set_times {d} (i64.const 1000000000) (i64.const 1000000000) (i32.const {fst}))",
    ]
    assert len(steps) == len(STEPS)
    imports = [f'  (import "wasi_snapshot_preview1" "{name}" (func ${name} (param {ps}) (result i32)))'
               for name, ps in _IMPORTS.items()]
    body = "\n".join(f"    (i32.store (i32.const {RESULTS + 4 * i}) {call})" for i, call in enumerate(steps))
    return "\n".join([
        "(module", *imports, '  (memory (export "memory") 1)', *data,
        '  (func (export "_start")',
        # descriptors that were never opened stay invalid (EBADF), not fd 0
        f"    (i32.store (i32.const {FD_HOSTDIR}) (i32.const 0xffff))",
        f"    (i32.store (i32.const {FD_FILE}) (i32.const 0xffff))",
        f"    (i32.store (i32.const {IOVEC}) (i32.const {READBUF}))",
        f"    (i32.store (i32.const {IOVEC + 4}) (i32.const 4096))",
        body, "  )", ")"])


def run_attack(engine: str, mount: str, **names: str):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    try:
        wasi.instantiate(rt)
        mod = rt.instantiate(rt.compile(attack_wat(**names)),
                             wz.ModuleConfig(mounts=[wz.Mount(mount, "/")], start_functions=()))
        mod.exports["_start"]() if hasattr(mod, "exports") else mod.function("_start")()
        mem = mod.memory()
        errs = {STEPS[i]: mem.read_u32(RESULTS + 4 * i) for i in range(len(STEPS))}
        listing = mem.read(LISTBUF, mem.read_u32(LIST_USED))
        ino_dot = struct.unpack_from("<Q", mem.read(STATBUF + 8, 8))[0]
        ino_fstat = struct.unpack_from("<Q", mem.read(FSTATBUF + 8, 8))[0]
        return errs, _names(listing), ino_dot, ino_fstat
    finally:
        rt.close()


def _names(buf: bytes):
    out, p = [], 0
    while p + 24 <= len(buf):
        n = struct.unpack_from("<I", buf, p + 16)[0]
        out.append(buf[p + 24:p + 24 + n])
        p += 24 + n
    return out


def _expect_contained(errs, listing, ino_dot, ino_fstat, moved_ino):
    assert errs == {
        "mkdir victim": 0, "open victim": 0, "rename victim moved": 0, "symlink victim": 0,
        "stat through D": ENOENT, "readdir D": 0, "readlink through D": ENOENT,
        "open host dir through D": ENOENT, "readdir host dir": EBADF, "set times through D": ENOENT,
        "open file through D": ENOENT, "read file": EBADF, "stat through the mount": EPERM,
        "stat D itself": 0, "fstat D": 0, "set times of host dir": EBADF, "set times of D": 0,
    }
    # D is the renamed directory, empty: nothing of the host is listed
    assert listing == [b".", b".."]
    assert ino_dot == ino_fstat
    if moved_ino is not None:
        assert ino_dot == moved_ino


def _host_tree(tmp_path):
    """``(outside, mount)``: host files the attack aims at (``secret.txt``, the symlink
    ``hostlink`` to it, the directory ``hostdir``) in ``outside``, three levels above
    the empty ``mount`` (so ``../../..`` from the mount is ``outside``)."""
    outside = tmp_path / "outside"
    mount = outside / "a" / "b" / "mount"
    mount.mkdir(parents=True)
    (outside / "secret.txt").write_bytes(b"top secret")
    os.symlink("secret.txt", outside / "hostlink")
    (outside / "hostdir").mkdir()
    return outside, mount


@pytest.mark.parametrize("engine", ENGINES)
def test_renamed_directory_descriptor_stays_inside(engine, tmp_path):
    outside, mount = _host_tree(tmp_path)
    (outside / "hostdir" / "private").write_bytes(b"")
    for p in (outside / "secret.txt", outside / "hostdir", outside):
        os.utime(p, ns=(5 * 10**18, 5 * 10**18))
    errs, listing, ino_dot, ino_fstat = run_attack(
        engine, str(mount), target="../../..", stat_name="secret.txt", list_name="hostdir",
        link_name="hostlink", times_name="secret.txt")
    _expect_contained(errs, listing, ino_dot, ino_fstat, os.stat(mount / "moved").st_ino)
    for p in (outside / "secret.txt", outside / "hostdir", outside):  # host times untouched
        st = os.stat(p)
        assert (st.st_atime_ns, st.st_mtime_ns) == (5 * 10**18, 5 * 10**18), p
    assert os.stat(mount / "moved").st_mtime_ns == 10**9  # D's own times were set
    assert os.readlink(mount / "victim") == "../../.."  # the plant itself was allowed (as wasmtime)


@pytest.mark.skipif(not os.path.isfile("/etc/passwd") or not os.path.isdir("/proc/self"),
                    reason="needs /etc/passwd and /proc")
@pytest.mark.parametrize("engine", ENGINES)
def test_renamed_directory_descriptor_cannot_see_etc(engine, tmp_path):
    mount = tmp_path / "mount"
    mount.mkdir()
    depth = len(os.path.realpath(mount).strip(os.sep).split(os.sep))
    errs, listing, ino_dot, ino_fstat = run_attack(
        engine, str(mount), target="/".join([".."] * depth), stat_name="etc/passwd", list_name="etc",
        link_name="proc/self/exe", times_name="no-such-file-anywhere", touch=False)
    _expect_contained(errs, listing, ino_dot, ino_fstat, os.stat(mount / "moved").st_ino)


def test_wasmtime_sees_the_same(tmp_path):
    """The expected errnos above are wasmtime's (a dev-only oracle)."""
    wasmtime = pytest.importorskip("wasmtime")
    outside, mount = _host_tree(tmp_path)
    wat = attack_wat(target="../../..", stat_name="secret.txt", list_name="hostdir",
                     link_name="hostlink", times_name="secret.txt")
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    cfg = wasmtime.WasiConfig()
    cfg.preopen_dir(str(mount), "/")
    store.set_wasi(cfg)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    exports = linker.instantiate(store, wasmtime.Module(engine, wat)).exports(store)
    exports["_start"](store)
    raw = bytes(exports["memory"].read(store, 0, 0x4000))
    errs = {STEPS[i]: struct.unpack_from("<I", raw, RESULTS + 4 * i)[0] for i in range(len(STEPS))}
    listing = _names(raw[LISTBUF:LISTBUF + struct.unpack_from("<I", raw, LIST_USED)[0]])
    ino_dot = struct.unpack_from("<Q", raw, STATBUF + 8)[0]
    ino_fstat = struct.unpack_from("<Q", raw, FSTATBUF + 8)[0]
    # (wasmtime reports its own inode numbers, not the host's)
    _expect_contained(errs, listing, ino_dot, ino_fstat, None)
