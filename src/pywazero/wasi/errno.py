"""WASI preview1 ``errno`` values (exactly the numbering of the witx ``$errno``
enum) and the mapping from host ``OSError``s to them."""
from __future__ import annotations

import errno as _os_errno
from typing import Dict

_NAMES = (
    "SUCCESS", "2BIG", "ACCES", "ADDRINUSE", "ADDRNOTAVAIL", "AFNOSUPPORT", "AGAIN",
    "ALREADY", "BADF", "BADMSG", "BUSY", "CANCELED", "CHILD", "CONNABORTED",
    "CONNREFUSED", "CONNRESET", "DEADLK", "DESTADDRREQ", "DOM", "DQUOT", "EXIST",
    "FAULT", "FBIG", "HOSTUNREACH", "IDRM", "ILSEQ", "INPROGRESS", "INTR", "INVAL",
    "IO", "ISCONN", "ISDIR", "LOOP", "MFILE", "MLINK", "MSGSIZE", "MULTIHOP",
    "NAMETOOLONG", "NETDOWN", "NETRESET", "NETUNREACH", "NFILE", "NOBUFS", "NODEV",
    "NOENT", "NOEXEC", "NOLCK", "NOLINK", "NOMEM", "NOMSG", "NOPROTOOPT", "NOSPC",
    "NOSYS", "NOTCONN", "NOTDIR", "NOTEMPTY", "NOTRECOVERABLE", "NOTSOCK", "NOTSUP",
    "NOTTY", "NXIO", "OVERFLOW", "OWNERDEAD", "PERM", "PIPE", "PROTO",
    "PROTONOSUPPORT", "PROTOTYPE", "RANGE", "ROFS", "SPIPE", "SRCH", "STALE",
    "TIMEDOUT", "TXTBSY", "XDEV", "NOTCAPABLE",
)

#: errno value -> name without the ``E`` (``NAMES[8] == "BADF"``)
NAMES: Dict[int, str] = dict(enumerate(_NAMES))

SUCCESS = 0
E2BIG = 1
EACCES = 2
EADDRINUSE = 3
EADDRNOTAVAIL = 4
EAFNOSUPPORT = 5
EAGAIN = 6
EALREADY = 7
EBADF = 8
EBADMSG = 9
EBUSY = 10
ECANCELED = 11
ECHILD = 12
ECONNABORTED = 13
ECONNREFUSED = 14
ECONNRESET = 15
EDEADLK = 16
EDESTADDRREQ = 17
EDOM = 18
EDQUOT = 19
EEXIST = 20
EFAULT = 21
EFBIG = 22
EHOSTUNREACH = 23
EIDRM = 24
EILSEQ = 25
EINPROGRESS = 26
EINTR = 27
EINVAL = 28
EIO = 29
EISCONN = 30
EISDIR = 31
ELOOP = 32
EMFILE = 33
EMLINK = 34
EMSGSIZE = 35
EMULTIHOP = 36
ENAMETOOLONG = 37
ENETDOWN = 38
ENETRESET = 39
ENETUNREACH = 40
ENFILE = 41
ENOBUFS = 42
ENODEV = 43
ENOENT = 44
ENOEXEC = 45
ENOLCK = 46
ENOLINK = 47
ENOMEM = 48
ENOMSG = 49
ENOPROTOOPT = 50
ENOSPC = 51
ENOSYS = 52
ENOTCONN = 53
ENOTDIR = 54
ENOTEMPTY = 55
ENOTRECOVERABLE = 56
ENOTSOCK = 57
ENOTSUP = 58
ENOTTY = 59
ENXIO = 60
EOVERFLOW = 61
EOWNERDEAD = 62
EPERM = 63
EPIPE = 64
EPROTO = 65
EPROTONOSUPPORT = 66
EPROTOTYPE = 67
ERANGE = 68
EROFS = 69
ESPIPE = 70
ESRCH = 71
ESTALE = 72
ETIMEDOUT = 73
ETXTBSY = 74
EXDEV = 75
ENOTCAPABLE = 76

# host errno (by the name the host's ``errno`` module gives it) -> WASI errno
_HOST: Dict[int, int] = {}
for _value, _name in NAMES.items():
    _host = getattr(_os_errno, "E" + _name, None)
    if _host is not None and _value:
        _HOST.setdefault(_host, _value)
for _alias, _target in (("EWOULDBLOCK", EAGAIN), ("EOPNOTSUPP", ENOTSUP), ("EDEADLOCK", EDEADLK),
                        ("ENOTEMPTY", ENOTEMPTY), ("WSAEWOULDBLOCK", EAGAIN)):
    _host = getattr(_os_errno, _alias, None)
    if _host is not None:
        _HOST.setdefault(_host, _target)


def name(value: int) -> str:
    """``name(44) == "ENOENT"``; ``"ESUCCESS"`` for 0."""
    return "E" + NAMES.get(value, f"UNKNOWN({value})")


class WasiError(Exception):
    """Raised inside the implementation: the function returns ``errno``."""

    def __init__(self, errno: int) -> None:
        super().__init__(name(errno))
        self.errno = errno


def from_oserror(exc: BaseException) -> int:
    """The WASI errno for a host ``OSError`` (``EIO`` when there is no match)."""
    if isinstance(exc, WasiError):
        return exc.errno
    code = getattr(exc, "errno", None)
    if code is not None and code in _HOST:
        return _HOST[code]
    winerror = getattr(exc, "winerror", None)
    if winerror is not None:  # pragma: no cover - Windows
        return {2: ENOENT, 3: ENOENT, 5: EACCES, 17: EXDEV, 32: EBUSY, 80: EEXIST, 145: ENOTEMPTY,
                183: EEXIST, 267: ENOTDIR, 1314: EPERM}.get(winerror, EIO)
    if isinstance(exc, FileNotFoundError):
        return ENOENT
    if isinstance(exc, FileExistsError):
        return EEXIST
    if isinstance(exc, IsADirectoryError):
        return EISDIR
    if isinstance(exc, NotADirectoryError):
        return ENOTDIR
    if isinstance(exc, PermissionError):
        return EACCES
    return EIO
