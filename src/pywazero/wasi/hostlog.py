"""Logging of WASI calls (``pywazero run --host-logging``, like ``wazero run
-hostlogging=...``): each call of a WASI function is written as one line before it
runs, with its arguments decoded (paths and strings read from the guest's memory,
clock ids, whence and errno names), and one line after, with the errno name and the
values it wrote back through its result pointers::

    --> wasi_snapshot_preview1.path_open(fd=3, dirflags=0x1, path="hello.c", oflags=0x0, fs_rights_base=0xfbffebe, fs_rights_inheriting=0xfffffff, fdflags=0x0)
    <-- errno=SUCCESS opened_fd=4

>>> import io, pywazero as wz
>>> from pywazero import wasi
>>> rt = wz.Runtime()
>>> log = io.StringIO()
>>> _ = wasi.instantiate(rt, log=log)
>>> _ = rt.instantiate(open("examples/hello.wasm", "rb").read())
>>> for line in log.getvalue().splitlines()[-2:]: print(line)
--> wasi_snapshot_preview1.fd_write(fd=1, iovs=2 iovecs)
<-- errno=SUCCESS nwritten=33

Functions without a description here are logged with their raw arguments.
"""
from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

if TYPE_CHECKING:
    from ..listener import TextSink

from ..wasm.instance import HostFunctionInstance
from .errno import NAMES

__all__ = ["logged", "SIGNATURES"]

# Parameter kinds: "int" (decimal), "hex" (flags, rights), "ptr" (an address),
# "str" (a pointer and a length: the bytes as a string; takes two parameters),
# "clock" (a clock id), "whence", "out32"/"out64"/"outfd" (a result pointer: the u32/
# u64/fd written there is shown after a successful call), "outstr" (a buffer pointer
# then its length, shown after the call: what was written), "iovs" (iovec array and
# count: the count), "stat" (a filestat pointer: filetype and size after the call),
# "fdstat" (filetype and flags after), "prestat" (the name length after), "argv"
# (an array of string pointers: the strings after; as many as the guest has).
SIGNATURES: Dict[str, Sequence[Tuple[str, str]]] = {
    "args_get": (("argv", "argv"), ("argv_buf", "ptr")),
    "args_sizes_get": (("argc", "out32"), ("argv_len", "out32")),
    "environ_get": (("environ", "argv"), ("environ_buf", "ptr")),
    "environ_sizes_get": (("environc", "out32"), ("environ_len", "out32")),
    "clock_res_get": (("id", "clock"), ("resolution", "out64")),
    "clock_time_get": (("id", "clock"), ("precision", "int"), ("timestamp", "out64")),
    "random_get": (("buf", "ptr"), ("buf_len", "int")),
    "proc_exit": (("rval", "int"),),
    "proc_raise": (("sig", "int"),),
    "sched_yield": (),
    "fd_advise": (("fd", "int"), ("offset", "int"), ("len", "int"), ("advice", "int")),
    "fd_allocate": (("fd", "int"), ("offset", "int"), ("len", "int")),
    "fd_close": (("fd", "int"),),
    "fd_datasync": (("fd", "int"),),
    "fd_sync": (("fd", "int"),),
    "fd_fdstat_get": (("fd", "int"), ("stat", "fdstat")),
    "fd_fdstat_set_flags": (("fd", "int"), ("flags", "hex")),
    "fd_fdstat_set_rights": (("fd", "int"), ("fs_rights_base", "hex"), ("fs_rights_inheriting", "hex")),
    "fd_filestat_get": (("fd", "int"), ("buf", "stat")),
    "fd_filestat_set_size": (("fd", "int"), ("size", "int")),
    "fd_filestat_set_times": (("fd", "int"), ("atim", "int"), ("mtim", "int"), ("fst_flags", "hex")),
    "fd_pread": (("fd", "int"), ("iovs", "iovs"), ("offset", "int"), ("nread", "out32")),
    "fd_pwrite": (("fd", "int"), ("iovs", "iovs"), ("offset", "int"), ("nwritten", "out32")),
    "fd_read": (("fd", "int"), ("iovs", "iovs"), ("nread", "out32")),
    "fd_write": (("fd", "int"), ("iovs", "iovs"), ("nwritten", "out32")),
    "fd_prestat_get": (("fd", "int"), ("prestat", "prestat")),
    "fd_prestat_dir_name": (("fd", "int"), ("path", "outstr")),
    "fd_readdir": (("fd", "int"), ("buf", "ptr"), ("buf_len", "int"), ("cookie", "int"), ("bufused", "out32")),
    "fd_renumber": (("fd", "int"), ("to", "int")),
    "fd_seek": (("fd", "int"), ("offset", "sint"), ("whence", "whence"), ("newoffset", "out64")),
    "fd_tell": (("fd", "int"), ("offset", "out64")),
    "path_create_directory": (("fd", "int"), ("path", "str")),
    "path_filestat_get": (("fd", "int"), ("flags", "hex"), ("path", "str"), ("buf", "stat")),
    "path_filestat_set_times": (("fd", "int"), ("flags", "hex"), ("path", "str"), ("atim", "int"),
                                ("mtim", "int"), ("fst_flags", "hex")),
    "path_link": (("old_fd", "int"), ("old_flags", "hex"), ("old_path", "str"), ("new_fd", "int"),
                  ("new_path", "str")),
    "path_open": (("fd", "int"), ("dirflags", "hex"), ("path", "str"), ("oflags", "hex"),
                  ("fs_rights_base", "hex"), ("fs_rights_inheriting", "hex"), ("fdflags", "hex"),
                  ("opened_fd", "out32")),
    "path_readlink": (("fd", "int"), ("path", "str"), ("buf", "ptr"), ("buf_len", "int"),
                      ("bufused", "out32")),
    "path_remove_directory": (("fd", "int"), ("path", "str")),
    "path_rename": (("fd", "int"), ("old_path", "str"), ("new_fd", "int"), ("new_path", "str")),
    "path_symlink": (("old_path", "str"), ("fd", "int"), ("new_path", "str")),
    "path_unlink_file": (("fd", "int"), ("path", "str")),
    "poll_oneoff": (("in", "ptr"), ("out", "ptr"), ("nsubscriptions", "int"), ("nevents", "out32")),
    "sock_accept": (("fd", "int"), ("flags", "hex"), ("fd_new", "out32")),
    "sock_recv": (("fd", "int"), ("ri_data", "iovs"), ("ri_flags", "hex"), ("ro_datalen", "out32"),
                  ("ro_flags", "out32")),
    "sock_send": (("fd", "int"), ("si_data", "iovs"), ("si_flags", "hex"), ("so_datalen", "out32")),
    "sock_shutdown": (("fd", "int"), ("how", "int")),
}

_CLOCKS = {0: "realtime", 1: "monotonic", 2: "process_cputime_id", 3: "thread_cputime_id"}
_WHENCE = {0: "SET", 1: "CUR", 2: "END"}
_WHENCE_UNSTABLE = {0: "CUR", 1: "END", 2: "SET"}
_FILETYPES = {0: "unknown", 1: "block_device", 2: "character_device", 3: "directory",
              4: "regular_file", 5: "socket_dgram", 6: "socket_stream", 7: "symbolic_link"}
_TWO = ("str", "iovs", "outstr")


def _read(mem: Any, ptr: int, n: int) -> Optional[bytes]:
    if mem is None or ptr < 0 or n < 0 or ptr + n > len(mem):
        return None
    return bytes(mem[ptr:ptr + n])


def _string(b: Optional[bytes]) -> str:
    if b is None:
        return "<out of bounds>"
    # (quoted, control characters escaped; bytes that are not UTF-8 as \\xNN)
    return json.dumps(b.decode("utf-8", "backslashreplace"), ensure_ascii=False)


def _u(mem: Any, ptr: int, fmt: str) -> Any:
    b = _read(mem, ptr, struct.calcsize(fmt))
    return None if b is None else struct.unpack(fmt, b)[0]


def _fields(sig: Sequence[Tuple[str, str]], args: Sequence[Any]) -> Iterator[Tuple[str, str, Any, Any]]:
    """``(name, kind, value, length)`` for each parameter of ``sig`` the call has:
    kinds in ``_TWO`` take two arguments (a pointer and its length), the others one
    (length 0)."""
    i = 0
    for name, kind in sig:
        if i >= len(args):
            return
        v = args[i]
        i += 1
        n = 0
        if kind in _TWO:
            n = args[i] if i < len(args) else 0
            i += 1
        yield name, kind, v, n


def _describe_in(sig: Sequence[Tuple[str, str]], args: Sequence[Any], mem: Any, unstable: bool) -> str:
    out = []
    for name, kind, v, n in _fields(sig, args):
        if kind in _TWO:
            if kind == "str":
                out.append("%s=%s" % (name, _string(_read(mem, v, n))))
            elif kind == "iovs":
                out.append("%s=%d iovec%s" % (name, n, "" if n == 1 else "s"))
            else:   # outstr: shown after the call
                out.append("%s_len=%d" % (name, n))
        elif kind in ("out32", "out64", "stat", "fdstat", "prestat", "argv"):
            continue
        elif kind == "hex":
            out.append("%s=0x%x" % (name, v))
        elif kind == "ptr":
            out.append("%s=0x%x" % (name, v))
        elif kind == "clock":
            out.append("%s=%s" % (name, _CLOCKS.get(v, str(v))))
        elif kind == "whence":
            out.append("%s=%s" % (name, (_WHENCE_UNSTABLE if unstable else _WHENCE).get(v, str(v))))
        elif kind == "sint":
            out.append("%s=%d" % (name, v - (1 << 64) if v >= 1 << 63 else v))
        else:
            out.append("%s=%d" % (name, v))
    return ", ".join(out)


def _strings(mem: Any, ptr: int, count: int) -> str:
    items = []
    for k in range(count):
        p = _u(mem, ptr + 4 * k, "<I")
        if p is None:
            break
        end = mem.find(b"\0", p) if p < len(mem) else -1
        items.append(_string(_read(mem, p, end - p) if end >= 0 else None))
    return "[%s]" % ", ".join(items)


def _describe_out(sig: Sequence[Tuple[str, str]], args: Sequence[Any], mem: Any, unstable: bool,
                  inst: Any = None) -> str:
    out = []
    for name, kind, v, n in _fields(sig, args):
        if kind in _TWO:
            if kind == "outstr":
                out.append("%s=%s" % (name, _string(_read(mem, v, n))))
        elif kind == "out32":
            out.append("%s=%s" % (name, _u(mem, v, "<I")))
        elif kind == "out64":
            out.append("%s=%s" % (name, _u(mem, v, "<Q")))
        elif kind == "argv":
            st = getattr(inst, "wasi_state", None)
            strings = (st.args if name == "argv" else st.environ) if st is not None else []
            out.append("%s=%s" % (name, _strings(mem, v, len(strings))))
        elif kind == "fdstat":
            ftype = _u(mem, v, "<B")
            out.append("filetype=%s flags=0x%x" % (_FILETYPES.get(ftype, ftype), _u(mem, v + 2, "<H") or 0))
        elif kind == "prestat":
            out.append("pr_name_len=%s" % _u(mem, v + 4, "<I"))
        elif kind == "stat":
            ftype = _u(mem, v + 16, "<B")
            size = _u(mem, v + (24 if unstable else 32), "<Q")
            out.append("filetype=%s size=%s" % (_FILETYPES.get(ftype, ftype), size))
    return " ".join(out)


#: where WASI calls are logged: a text stream, or a callable taking each line
LogSink = Union["TextSink", Callable[[str], object]]


def logged(f: HostFunctionInstance, name: str, unstable: bool, stream: LogSink,
           memory_of: Callable[[Any], Any]) -> HostFunctionInstance:
    """WASI host function ``f`` (named ``name``) logging its calls to ``stream`` (a
    text stream, or a callable taking each line)."""
    write: Callable[[str], Any] = stream if callable(stream) and not hasattr(stream, "write") \
        else (lambda s: stream.write(s + "\n"))
    sig = SIGNATURES.get(name)
    raw = f.raw
    qual = f.name

    def logging_raw(inst: Any, args: List[Any]) -> List[Any]:
        mem = memory_of(inst) if inst is not None else None
        if sig is None:
            desc = ", ".join(str(a) for a in args)
        else:
            desc = _describe_in(sig, args, mem, unstable)
        write("--> %s(%s)" % (qual, desc))
        try:
            res = raw(inst, args)
        except BaseException as e:
            write("<-- %s%s" % (type(e).__name__, ": " + str(e).splitlines()[0] if str(e) else ""))
            raise
        if res:
            errno = res[0]
            line = "errno=%s" % NAMES.get(errno, errno)
            if errno == 0 and sig is not None:
                more = _describe_out(sig, args, memory_of(inst) if inst is not None else None, unstable, inst)
                if more:
                    line += " " + more
            write("<-- " + line)
        else:
            write("<--")
        return res

    return HostFunctionInstance(f.type, logging_raw, f.name)

