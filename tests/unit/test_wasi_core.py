"""WASI: args/environ, stdio, clocks, random, proc_*, poll_oneoff, sockets, bad
pointers, wasi_unstable, driven from WebAssembly on both engines."""
from __future__ import annotations

import io
import random
import socket
import struct
import sys

import pytest

import pywazero as wz
from pywazero import wasi
from pywazero.wasi import errno as E

from .wasi_harness import ENGINES, Guest


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


def test_errno_values_match_the_spec():
    # a sample straight from the witx $errno enum, plus its size
    assert (E.SUCCESS, E.E2BIG, E.EACCES, E.EBADF, E.EEXIST, E.EFAULT, E.EINVAL, E.EIO, E.EISDIR,
            E.ELOOP, E.ENOENT, E.ENOSYS, E.ENOTDIR, E.ENOTEMPTY, E.ENOTSUP, E.EPERM, E.EROFS,
            E.ESPIPE, E.EXDEV, E.ENOTCAPABLE) == (0, 1, 2, 8, 20, 21, 28, 29, 31, 32, 44, 52, 54,
                                                   55, 58, 63, 69, 70, 75, 76)
    assert len(E.NAMES) == 77 and E.name(44) == "ENOENT"


def test_every_function_is_registered(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    wasi.instantiate(rt)
    assert wasi.instantiate(rt) is not None  # idempotent
    names = set(rt.module("wasi_snapshot_preview1").exports)
    assert len(names) == 46 and "sock_accept" in names and "proc_raise" in names
    assert set(rt.module("wasi_unstable").exports) == names - {"sock_accept"}


def test_args_and_environ(engine):
    g = Guest(engine, args=["prog", "héllo", ""], env={"A": "1", "PATH": "/bin"})
    assert g.args_sizes_get(0, 4) == 0
    assert (g.u32(0), g.u32(4)) == (3, len("prog\0héllo\0\0".encode()))
    assert g.args_get(16, 64) == 0
    ptrs = [g.u32(16 + 4 * i) for i in range(3)]
    assert [g.mem.read_cstring(p) for p in ptrs] == ["prog", "héllo", ""]
    assert g.environ_sizes_get(0, 4) == 0
    assert (g.u32(0), g.u32(4)) == (2, len(b"A=1\0PATH=/bin\0"))
    assert g.environ_get(16, 64) == 0
    assert g.mem.read(64, 14) == b"A=1\0PATH=/bin\0"
    assert g.u32(20) == 68


def test_empty_args_and_environ(engine):
    g = Guest(engine)
    assert g.args_sizes_get(0, 4) == 0 and (g.u32(0), g.u32(4)) == (0, 0)
    assert g.environ_sizes_get(0, 4) == 0 and (g.u32(0), g.u32(4)) == (0, 0)
    assert g.args_get(0, 4) == 0 and g.environ_get(0, 4) == 0


def test_stdout_stderr_binary_and_text(engine):
    err = io.StringIO()
    g = Guest(engine, stderr=err)
    assert g.write(1, b"out\n") == (0, 4)
    assert g.write(2, "é\n".encode()) == (0, 3)
    assert g.config.stdout.getvalue() == b"out\n"
    assert err.getvalue() == "é\n"
    # several iovecs gathered in order, empty ones skipped
    a, b = g.s(b"ab"), g.s(b"cd")
    iov, n = g.iovs([a, (0, 0), b])
    assert g.fd_write(1, iov, n, 8) == 0 and g.u32(8) == 4
    assert g.config.stdout.getvalue() == b"out\nabcd"
    # stdout is not readable, stdin not writable
    assert g.read(1, 4)[0] == E.EBADF
    assert g.write(0, b"x")[0] == E.EBADF


def test_stdin_bytes_and_file_object(engine):
    g = Guest(engine, stdin=b"line one\nline two\n")
    assert g.read(0, 5) == (0, b"line ")
    buf1, buf2 = g.alloc(b"\0" * 4), g.alloc(b"\0" * 100)
    iov, n = g.iovs([(buf1, 4), (buf2, 100)])
    assert g.fd_read(0, iov, n, 8) == 0 and g.u32(8) == 13
    assert g.mem.read(buf1, 4) == b"one\n" and g.mem.read(buf2, 9) == b"line two\n"
    assert g.read(0, 10) == (0, b"")  # EOF
    g2 = Guest(engine, stdin=io.StringIO("text stdin"))
    assert g2.read(0, 100) == (0, b"text stdin")


def test_stdio_is_not_inherited_by_default(engine, capfdbinary, monkeypatch):
    # a guest gets no stdio unless the host grants it: stdin at EOF, output dropped
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"from host")))
    g = Guest(engine, stdout=None, stderr=None, stdin=None)
    assert g.write(1, b"to host stdout") == (0, 14)  # accepted, as /dev/null would
    assert g.write(2, b"to host stderr") == (0, 14)
    assert g.read(0, 100) == (0, b"")
    out = capfdbinary.readouterr()
    assert b"to host" not in out.out and b"to host" not in out.err
    assert sys.stdin.read() == "from host"  # untouched
    assert g.fd_fdstat_get(1, 0) == 0 and g.mem.read(0, 1) == bytes([0])  # unknown, as wasmtime
    fds = wasi.state(g.module).fds
    assert all(fds[i].stream is not sys.stdin for i in range(3))


def test_granting_one_stream(engine, capfdbinary):
    # stdout=sys.stdout grants only that one; bytes pass through the text layer unchanged
    g = Guest(engine, stdout=sys.stdout, stderr=None, stdin=None)
    assert g.write(1, b"caf\xc3\xa9 \xff") == (0, 7)
    assert g.write(2, b"dropped") == (0, 7)
    out = capfdbinary.readouterr()
    assert out.out.endswith(b"caf\xc3\xa9 \xff") and b"dropped" not in out.err


def test_inherited_stdio(engine, capfdbinary, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"from host")))
    g = Guest(engine, stdout=None, stderr=None, stdin=None, inherit_stdio=True)
    assert g.write(1, b"to host stdout") == (0, 14)
    assert g.write(2, b"to host stderr") == (0, 14)
    assert g.read(0, 100) == (0, b"from host")
    out = capfdbinary.readouterr()
    assert out.out.endswith(b"to host stdout") and out.err.endswith(b"to host stderr")


def test_stdio_fdstat_and_filestat(engine):
    g = Guest(engine)
    assert g.fd_fdstat_get(0, 0) == 0
    ft, flags, base, inh = struct.unpack("<BxHxxxxQQ", g.mem.read(0, 24))
    assert base & (1 << 1) and not base & (1 << 6) and not base & (1 << 2)  # read, no write/seek
    assert g.fd_fdstat_get(1, 0) == 0
    base = struct.unpack_from("<Q", g.mem.read(8, 8))[0]
    assert base & (1 << 6) and not base & (1 << 1)
    assert g.fd_filestat_get(1, 64) == 0
    assert g.fd_seek(1, 0, 0, 0) == E.ESPIPE
    assert g.fd_tell(1, 0) == E.ESPIPE
    assert g.fd_pread(0, *g.iovs([(8192, 4)]), 0, 0) == E.ESPIPE
    assert g.fd_pwrite(0, *g.iovs([(8192, 4)]), 0, 0) == E.EBADF  # stdin is not writable
    assert g.fd_sync(1) == E.EBADF and g.fd_datasync(1) == E.EBADF
    assert g.fd_fdstat_set_flags(1, 1) == 0
    assert g.fd_prestat_get(1, 0) == E.EBADF
    assert g.fd_readdir(1, 8192, 64, 0, 0) == E.EBADF


def test_clocks_are_injectable_and_deterministic(engine):
    g = Guest(engine, clock=wasi.FakeClock(start_ns=10, step_ns=5, resolution=7))
    assert g.clock_time_get(1, 0, 0) == 0 and g.u64(0) == 10
    assert g.clock_time_get(1, 0, 0) == 0 and g.u64(0) == 15
    assert g.clock_time_get(0, 0, 0) == 0 and g.u64(0) == 1609459200 * 10**9 + 20
    for cid in range(4):
        assert g.clock_res_get(cid, 8) == 0 and g.u64(8) == 7
    # an invalid enum value is a guest error: it traps, as in wasmtime
    with pytest.raises(wz.Trap, match="invalid clockid"):
        g.clock_time_get(4, 0, 0)
    with pytest.raises(wz.Trap, match="invalid clockid"):
        g.clock_res_get(99, 0)


def test_system_clock(engine):
    import time
    g = Guest(engine, clock=None)
    before = time.time_ns()
    assert g.clock_time_get(0, 1, 0) == 0
    assert g.u64(0) >= before
    for cid in range(4):
        assert g.clock_time_get(cid, 0, 0) == 0
        assert g.clock_res_get(cid, 8) == 0 and g.u64(8) >= 1
    assert g.clock_time_get(1, 0, 0) == 0
    a = g.u64(0)
    assert g.clock_time_get(1, 0, 0) == 0 and g.u64(0) >= a


def test_random_is_injectable(engine):
    g = Guest(engine, random=random.Random(42))
    assert g.random_get(100, 32) == 0
    assert g.mem.read(100, 32) == random.Random(42).randbytes(32)
    g2 = Guest(engine, random=lambda n: b"\xab" * n)
    assert g2.random_get(0, 5) == 0 and g2.mem.read(0, 6) == b"\xab" * 5 + b"\0"
    g3 = Guest(engine, random=None)
    assert g3.random_get(0, 64) == 0 and g3.mem.read(0, 64) != b"\0" * 64
    assert g3.random_get(0, 0) == 0


def test_proc_exit(engine):
    g = Guest(engine)
    with pytest.raises(wz.ExitError) as e:
        g.proc_exit(3)
    assert e.value.exit_code == 3
    with pytest.raises(wz.ExitError) as e:
        g.proc_exit(0xFFFFFFFF)
    assert e.value.exit_code == 0xFFFFFFFF


def test_proc_exit_from_start_function(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    wasi.instantiate(rt)
    src = ('(module (import "wasi_snapshot_preview1" "proc_exit" (func $e (param i32)))'
           ' (memory (export "memory") 1) (func (export "_start") (call $e (i32.const {})) unreachable))')
    rt.instantiate(src.format(0))  # exit code 0 counts as success
    with pytest.raises(wz.ExitError) as e:
        rt.instantiate(src.format(42))
    assert e.value.exit_code == 42


def test_proc_raise_and_sched_yield(engine):
    g = Guest(engine)
    assert g.sched_yield() == 0
    assert g.proc_raise(0) == 0
    assert g.proc_raise(16) == 0  # SIGCHLD: ignored by default
    assert g.proc_raise(31) == E.EINVAL
    with pytest.raises(wz.ExitError) as e:
        g.proc_raise(15)  # SIGTERM
    assert e.value.exit_code == 128 + 15


def test_bad_pointers_trap_and_never_leak_python_errors(engine):
    g = Guest(engine)
    size = g.mem.size
    calls = [
        lambda: g.fd_write(1, size - 4, 1, 0),           # iovec array out of bounds
        lambda: g.fd_write(1, g.iovs([(size - 2, 10)])[0], 1, 0),  # buffer out of bounds
        lambda: g.fd_write(1, g.iovs([(0, 0)])[0], 1, size),       # nwritten out of bounds
        lambda: g.args_sizes_get(size, 0),
        lambda: g.clock_time_get(0, 0, size - 7),
        lambda: g.random_get(size - 1, 2),
        lambda: g.random_get(0xFFFFFFFF, 1),
        lambda: g.fd_fdstat_get(1, size - 1),
        lambda: g.fd_read(0, 0xFFFFFFF8, 1, 0),
        lambda: g.path_open(3, 0, size - 1, 5, 0, 0, 0, 0, 0),
        lambda: g.poll_oneoff(size - 10, 0, 1, 0),
        lambda: g.fd_readdir(3, size - 1, 100, 0, 0),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(wz.Trap, match="out of bounds"):
            print(i, call())


def test_bad_fds(engine):
    g = Guest(engine)
    for fn, args in [("fd_close", (99,)), ("fd_fdstat_get", (99, 0)), ("fd_sync", (99,)),
                     ("fd_prestat_get", (99, 0)), ("fd_filestat_get", (99, 0)),
                     ("fd_seek", (99, 0, 0, 0)), ("fd_tell", (99, 0)), ("fd_renumber", (99, 1)),
                     ("fd_renumber", (1, 99)), ("fd_advise", (99, 0, 0, 0)),
                     ("fd_allocate", (99, 0, 1)), ("sock_shutdown", (99, 3)),
                     ("fd_fdstat_set_flags", (99, 0)), ("fd_fdstat_set_rights", (99, 0, 0)),
                     ("fd_filestat_set_size", (99, 0)), ("fd_filestat_set_times", (99, 0, 0, 0)),
                     ("fd_datasync", (99,)), ("fd_prestat_dir_name", (99, 0, 10)),
                     ("fd_readdir", (99, 0, 10, 0, 20)), ("sock_accept", (99, 0, 0))]:
        assert getattr(g, fn)(*args) == E.EBADF, fn
    assert g.read(99, 4)[0] == E.EBADF
    assert g.write(99, b"x")[0] == E.EBADF


def _subscription_clock(userdata, timeout, flags=0, clock_id=1):
    return struct.pack("<QB7xIxxxxQQH6x", userdata, 0, clock_id, timeout, 0, flags)


def _subscription_fd(userdata, tag, fd):
    return struct.pack("<QB7xI28x", userdata, tag, fd)


def _events(g, out, n):
    return [struct.unpack("<QHBxxxxxQH6x", g.mem.read(out + 32 * i, 32)) for i in range(n)]


def test_poll_oneoff_clock(engine):
    clock = wasi.FakeClock(step_ns=0)
    g = Guest(engine, clock=clock)
    subs = g.alloc(_subscription_clock(7, 1_000_000))
    out = g.alloc(b"\0" * 64)
    assert g.poll_oneoff(subs, out, 1, 0) == 0 and g.u32(0) == 1
    assert _events(g, out, 1) == [(7, 0, 0, 0, 0)]
    assert clock.time_ns(1) == 1_000_000  # slept on the injected clock
    # absolute deadline: 5 ms on the monotonic clock
    subs = g.alloc(_subscription_clock(8, 5_000_000, flags=1) + _subscription_clock(9, 10**9))
    assert g.poll_oneoff(subs, out, 2, 0) == 0 and g.u32(0) == 1
    assert _events(g, out, 1)[0][:2] == (8, 0)
    assert clock.time_ns(1) == 5_000_000
    # a deadline already passed fires at once
    subs = g.alloc(_subscription_clock(10, 1, flags=1))
    assert g.poll_oneoff(subs, out, 1, 0) == 0 and _events(g, out, 1)[0][:2] == (10, 0)
    assert g.poll_oneoff(subs, out, 0, 0) == E.EINVAL
    bad = g.alloc(_subscription_clock(11, 1, clock_id=9))
    assert g.poll_oneoff(bad, out, 1, 0) == E.EINVAL
    weird = g.alloc(struct.pack("<QB39x", 1, 7))
    assert g.poll_oneoff(weird, out, 1, 0) == E.EINVAL


def test_poll_oneoff_fd_readiness(engine):
    clock = wasi.FakeClock(step_ns=0)
    g = Guest(engine, clock=clock, stdin=b"abc")
    subs = g.alloc(_subscription_fd(1, 1, 0) + _subscription_fd(2, 2, 1) + _subscription_clock(3, 10**9))
    out = g.alloc(b"\0" * 96)
    assert g.poll_oneoff(subs, out, 3, 0) == 0
    evs = _events(g, out, g.u32(0))
    assert sorted(e[:3] for e in evs) == [(1, 0, 1), (2, 0, 2)]
    assert [e[3] for e in evs if e[0] == 1] == [3]  # bytes available on stdin
    assert clock.time_ns(1) == 0  # did not sleep
    # a closed descriptor fails the call; one of the wrong direction fails its event
    subs = g.alloc(_subscription_fd(4, 1, 42) + _subscription_fd(5, 2, 0))
    assert g.poll_oneoff(subs, out, 2, 0) == E.EBADF
    subs = g.alloc(_subscription_fd(5, 2, 0))
    assert g.poll_oneoff(subs, out, 1, 0) == 0
    assert [e[:3] for e in _events(g, out, g.u32(0))] == [(5, E.EBADF, 2)]


def test_poll_oneoff_blocks_on_a_pipe_stdin(engine):
    import os
    import sys
    import threading
    if sys.platform == "win32":
        pytest.skip("select() needs sockets on Windows")
    r, w = os.pipe()
    with os.fdopen(r, "rb", buffering=0) as rf:
        g = Guest(engine, stdin=rf, clock=None)
        subs = g.alloc(_subscription_fd(1, 1, 0))
        out = g.alloc(b"\0" * 32)
        t = threading.Timer(0.05, lambda: (os.write(w, b"late"), os.close(w)))
        t.start()
        assert g.poll_oneoff(subs, out, 1, 0) == 0  # blocks until the writer writes
        t.join()
        assert _events(g, out, 1)[0][:3] == (1, 0, 1)
        assert g.read(0, 10) == (0, b"late")
        # the writer has closed: end of file counts as readable, before any timeout
        subs = g.alloc(_subscription_fd(1, 1, 0) + _subscription_clock(2, 10**10))
        assert g.poll_oneoff(subs, out, 2, 0) == 0
        evs = _events(g, out, g.u32(0))
        assert [e[:3] for e in evs] == [(1, 0, 1)]


def test_fd_close_and_renumber(engine):
    g = Guest(engine)
    assert g.fd_renumber(1, 2) == 0  # stdout now at 2, 1 is gone
    assert g.write(2, b"x") == (0, 1) and g.config.stdout.getvalue() == b"x"
    assert g.write(1, b"y")[0] == E.EBADF
    assert g.fd_renumber(2, 2) == 0
    assert g.fd_close(2) == 0 and g.fd_close(2) == E.EBADF


def test_fdstat_set_rights(engine):
    g = Guest(engine)
    assert g.fd_fdstat_get(1, 0) == 0
    base = g.u64(8)
    assert g.fd_fdstat_set_rights(1, base | (1 << 2), 0) == E.ENOTCAPABLE  # cannot add
    assert g.fd_fdstat_set_rights(1, base & ~(1 << 6), 0) == 0
    assert g.write(1, b"x")[0] == E.ENOTCAPABLE
    with pytest.raises(wz.Trap, match="invalid fdflags"):
        g.fd_fdstat_set_flags(1, 1 << 7)


def test_wasi_unstable_differences(engine, tmp_path):
    (tmp_path / "f").write_bytes(b"0123456789")
    g = Guest(engine, module="wasi_unstable", mounts=[wz.Mount(str(tmp_path), "/")])
    p, n = g.s("f")
    assert g.path_open(3, 0, p, n, 0, 2 | 4 | 32 | (1 << 21), 0, 0, 0) == 0
    fd = g.u32(0)
    # whence: 0 = CUR, 1 = END, 2 = SET
    assert g.fd_seek(fd, 3, 2, 0) == 0 and g.u64(0) == 3
    assert g.fd_seek(fd, 2, 0, 0) == 0 and g.u64(0) == 5
    assert g.fd_seek(fd, (1 << 64) - 1, 1, 0) == 0 and g.u64(0) == 9
    # filestat with a 32-bit nlink: size at offset 24
    assert g.fd_filestat_get(fd, 100) == 0
    assert g.mem.read_u8(116) == 4 and g.u32(120) == 1 and g.u64(124) == 10
    assert g.path_filestat_get(3, 0, p, n, 200) == 0 and g.u64(224) == 10
    # clock subscription with an identifier field before the clock id
    sub = struct.pack("<QB7xQIxxxxQQH6x", 5, 0, 0, 1, 1000, 0, 0)
    subs = g.alloc(sub)
    assert g.poll_oneoff(subs, 300, 1, 0) == 0 and g.u32(0) == 1 and g.u64(300) == 5


def test_sockets(engine):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        g = Guest(engine, sockets=[listener])
        fd = 3  # no mounts: the listener is the first pre-open
        assert g.fd_fdstat_get(fd, 0) == 0 and g.mem.read_u8(0) == 6  # socket_stream
        assert g.fd_prestat_get(fd, 0) == E.EBADF
        # nothing pending: non-blocking accept says EAGAIN
        assert g.fd_fdstat_set_flags(fd, 4) == 0
        assert g.sock_accept(fd, 0, 0) == E.EAGAIN
        assert g.fd_fdstat_set_flags(fd, 0) == 0
        client = socket.create_connection(listener.getsockname())
        with client:
            assert g.sock_accept(fd, 0, 0) == 0
            conn = g.u32(0)
            assert g.sock_accept(fd, 2, 0) == E.EINVAL
            assert g.sock_accept(conn, 0, 0) == E.ENOTSOCK
            assert g.sock_recv(1, 0, 0, 0, 0, 4) == E.ENOTSOCK
            client.sendall(b"ping")
            buf = g.alloc(b"\0" * 16)
            iov, n = g.iovs([(buf, 16)])
            assert g.sock_recv(conn, iov, n, 1, 0, 4) == 0 and g.u32(0) == 4  # peek
            assert g.sock_recv(conn, iov, n, 0, 0, 4) == 0 and g.u32(0) == 4
            assert g.mem.read(buf, 4) == b"ping"
            iov, n = g.iovs([g.s(b"pong")])
            assert g.sock_send(conn, iov, n, 0, 0) == 0 and g.u32(0) == 4
            assert client.recv(4) == b"pong"
            assert g.write(conn, b"!") == (0, 1) and client.recv(1) == b"!"
            client.sendall(b"via fd_read")
            assert g.read(conn, 100) == (0, b"via fd_read")
            with pytest.raises(wz.Trap, match="invalid sdflags"):
                g.sock_shutdown(conn, 9)
            assert g.sock_shutdown(conn, 0) == E.EINVAL
            assert g.sock_shutdown(conn, 2) == 0
            assert client.recv(10) == b""  # the guest closed its write side
            assert g.fd_close(conn) == 0
        wasi.close(g.module)
        assert listener.fileno() != -1  # the host's listener stays open
    finally:
        listener.close()


def test_wasi_from_the_spec_start_function(engine):
    # the ModuleConfig is attached before the module's start function runs
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    wasi.instantiate(rt)
    out = io.BytesIO()
    rt.instantiate(r'''(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 8) "\10\00\00\00\05\00\00\00start")
      (func $s (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0))))
      (start $s))''', wz.ModuleConfig(stdout=out))
    assert out.getvalue() == b"start"


def test_memory_not_exported_uses_the_first_memory(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    wasi.instantiate(rt)
    m = rt.instantiate('''(module
      (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
      (memory 1)
      (func (export "f") (result i32) (call $r (i32.const 0) (i32.const 4))))''',
                       wz.ModuleConfig(random=lambda n: b"\1" * n))
    assert m.function("f")() == 0
    no_mem = rt.instantiate('''(module
      (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
      (func (export "y") (result i32) (call $y))
      (func (export "r") (result i32) (call $r (i32.const 0) (i32.const 4))))''')
    assert no_mem.function("y")() == 0
    with pytest.raises(wz.Trap, match="out of bounds"):
        no_mem.function("r")()


def test_poll_oneoff_pipe_timeout(engine):
    import os
    import sys
    if sys.platform == "win32":
        pytest.skip("select() needs sockets on Windows")
    r, w = os.pipe()
    try:
        with os.fdopen(r, "rb", buffering=0) as rf:
            for clock in (None, wasi.FakeClock()):  # select() with a timeout / the fake clock
                g = Guest(engine, stdin=rf, clock=clock)
                subs = g.alloc(_subscription_fd(1, 1, 0) + _subscription_clock(2, 1_000_000))
                out = g.alloc(b"\0" * 64)
                assert g.poll_oneoff(subs, out, 2, 0) == 0
                assert [e[:3] for e in _events(g, out, g.u32(0))] == [(2, 0, 0)]
                assert g.fd_fdstat_set_flags(0, 4) == 0  # non-blocking read: nothing yet
                assert g.read(0, 4)[0] == E.EAGAIN
    finally:
        os.close(w)
