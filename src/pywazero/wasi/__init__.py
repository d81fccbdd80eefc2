r"""WASI ``snapshot_preview1``: run WASI commands (C with wasi-libc, Rust, Zig, TinyGo,
Go's wasip1...).

>>> import io, pywazero as wz
>>> from pywazero import wasi
>>> rt = wz.Runtime()
>>> _ = wasi.instantiate(rt)
>>> out = io.BytesIO()
>>> m = rt.instantiate('''(module
...   (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
...   (memory (export "memory") 1)
...   (data (i32.const 8) "\\10\\00\\00\\00\\03\\00\\00\\00hi\\0a")
...   (func (export "_start") (drop (call $w (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0)))))''',
...   wz.ModuleConfig(stdout=out))
>>> out.getvalue()
b'hi\n'

:func:`instantiate` registers the host module once per runtime; the WASI state
(arguments, environment, stdio, mounts, clocks, random source, pre-opened sockets)
belongs to each *guest* instance and comes from the ``ModuleConfig`` it was
instantiated with (see :class:`pywazero.ModuleConfig`).  It is created on the
guest's first WASI call and kept on the instance; ``Module.close()``,
``Runtime.close()`` or :func:`close` release the files and sockets the guest opened
(so does dropping the instance).  A mount whose host directory is missing raises
``ValueError`` at that first call.

A guest gets only what its ``ModuleConfig`` grants: by default no arguments, no
environment, stdin at EOF, stdout/stderr discarded, no directories, no sockets
(``inherit_stdio=True``/``inherit_env=True`` or explicit streams grant them; the
``pywazero run`` command line grants the terminal, as ``wazero run`` does).

Descriptors: 0, 1, 2 are stdin, stdout, stderr; then one pre-opened directory per
``Mount`` in order (``fd_prestat_dir_name`` is its ``guest_path``); then the
pre-opened listening sockets of ``ModuleConfig.sockets``.  The table holds at most
``ModuleConfig.max_open_files`` descriptors (``EMFILE`` beyond).

Behaviour worth knowing (matching wasmtime where it can be checked):

* out-of-bounds pointers or lengths trap (wasmtime traps too), they never raise a
  Python exception into the host; so do invalid enum or flag values (a whence,
  clock id, advice, oflags, fdflags, fstflags, lookupflags, ... out of range), as
  in wasmtime; unaligned pointers are accepted (wasmtime traps);
* an escape attempt (absolute path, ``..`` above the directory descriptor, a symlink
  whose target is absolute or climbs out) fails with ``EPERM``;
* every write to a read-only mount fails with ``EPERM`` (opening for writing,
  O_CREAT, O_TRUNC, mkdir, unlink, rename, link, symlink, set size/times);
* ``proc_exit(code)`` raises :class:`pywazero.ExitError`; ``proc_raise(sig)`` of a
  terminating signal raises ``ExitError(128 + sig)``, signals whose default action is
  to ignore or stop return success, an unknown signal ``EINVAL`` (wasmtime traps on
  every ``proc_raise``; wazero does not implement it);
* ``fd_allocate`` extends the file to ``offset + len`` when it is shorter;
  ``path_link`` honours ``symlink_follow`` (wasmtime refuses it with ``EINVAL``);
  rights are tracked and enforced (``ENOTCAPABLE``), a descriptor opened without
  write rights is opened read-only on the host;
* one ``fd_read``/``fd_write``/``fd_pread``/``fd_pwrite``/``sock_recv``/``sock_send``
  moves at most ``preview1.MAX_IO_BYTES`` (16 MiB) through at most
  ``preview1.MAX_IOVECS`` (1024) iovecs and returns the short count, as POSIX
  allows (callers such as wasi-libc's stdio loop); so host memory per call stays
  bounded however the guest's iovecs add up or overlap;
* ``fd_readdir`` lists ``.`` and ``..`` first, then the entries sorted by name;
  the cookie of an entry is its position + 1;
* ``wasi_unstable`` (the pre-2020 ABI) is registered with the same functions except
  the ones whose ABI changed, which it implements with the old layouts:
  ``fd_filestat_get``/``path_filestat_get`` (filestat with a 32-bit ``nlink``),
  ``fd_seek`` (whence 0 = CUR, 1 = END, 2 = SET) and ``poll_oneoff`` (clock
  subscriptions with an ``identifier`` field); ``sock_accept`` did not exist there.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Union, cast

from ..wasm.instance import HostFunctionInstance, ModuleInstance

from .clock import FakeClock, SystemClock
from .errno import WasiError
from .fs import WasiState
from .preview1 import FUNCTIONS, NOT_IN_UNSTABLE, host_function

if TYPE_CHECKING:
    from ..api import Module
    from ..runtime import Runtime
    from .hostlog import LogSink

__all__ = ["instantiate", "close", "state", "FakeClock", "SystemClock", "WasiError",
           "SNAPSHOT_PREVIEW1", "UNSTABLE"]

SNAPSHOT_PREVIEW1 = "wasi_snapshot_preview1"
UNSTABLE = "wasi_unstable"


def host_functions(unstable: bool, log: Optional[LogSink] = None) -> Dict[str, HostFunctionInstance]:
    """The functions of ``wasi_snapshot_preview1`` (``unstable``: of
    ``wasi_unstable``) by name, logging their calls to ``log`` if given (see
    :mod:`.hostlog`)."""
    out = {}
    for fname in FUNCTIONS:
        if unstable and fname in NOT_IN_UNSTABLE:
            continue
        f = host_function(fname, unstable)
        if log is not None:
            from .hostlog import logged
            from .preview1 import _memory

            f = logged(f, fname, unstable, log, _memory)
        out[fname] = f
    return out


def _host_module(runtime: Runtime, name: str, unstable: bool, log: Optional[LogSink] = None) -> Module:
    from ..wasm.instance import ModuleInstance
    from ..wasm.types import EXTERN_FUNC

    inst = ModuleInstance(None, name)
    for fname, f in host_functions(unstable, log).items():
        f.module = inst
        inst.funcs.append(f)
        inst.exports[fname] = f
        inst.export_kinds[fname] = EXTERN_FUNC
    return runtime._add_instance(inst)


def instantiate(runtime: Runtime, *, unstable: bool = True, log: Optional[LogSink] = None) -> Module:
    """Register the ``wasi_snapshot_preview1`` host module in ``runtime`` (and
    ``wasi_unstable`` too unless ``unstable=False``) and return the preview1 module.
    Calling it again returns the already registered module.  ``log``: a text
    stream (or a callable taking each line) to which every WASI call is written,
    with its arguments and results decoded (:mod:`pywazero.wasi.hostlog`,
    ``pywazero run --host-logging``)."""
    existing = runtime.module(SNAPSHOT_PREVIEW1)
    if existing is not None:
        return existing
    mod = _host_module(runtime, SNAPSHOT_PREVIEW1, False, log)
    if unstable and runtime.module(UNSTABLE) is None:
        _host_module(runtime, UNSTABLE, True, log)
    return mod


def state(module: Union[Module, ModuleInstance]) -> WasiState:
    """The WASI state of a guest module (a :class:`pywazero.Module` or instance),
    created if the guest has not made a WASI call yet."""
    from .preview1 import state_of

    return state_of(getattr(module, "instance", module))


def close(module: Union[Module, ModuleInstance]) -> None:
    """Close the files and sockets a guest module opened through WASI (the
    pre-opened listening sockets and the host's stdio are left open)."""
    inst = cast(ModuleInstance, getattr(module, "instance", module))
    st = getattr(inst, "wasi_state", None)
    if st is not None:
        st.close_all()
        inst.wasi_state = None
