"""The WASI test programs' cases, and runners for pywazero and (when installed)
wasmtime, the oracle the expectations in ``expected.json`` were recorded with.

Each case runs a program from ``bin/`` in a fresh tree::

    root/work/         mounted at /sandbox (the programs chdir there, argv[1])
    root/ro/ro.txt     mounted read-only at /ro (some cases)
    root/secret.txt    outside every mount; sandbox escapes try to reach it

and is judged on the guest's stdout, its exit status (as ``pywazero run`` reports
it: the exit code, 134 for a trap) and the files left in ``root/work``.

Regenerate the expectations with wasmtime (``pip install wasmtime``)::

    python -m tests.wasi.harness --regen
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "bin")
EXPECTED = os.path.join(HERE, "expected.json")
TRAP_EXIT = 134


def _no_setup(root: str) -> None:
    pass


def _sandbox_setup(root: str) -> None:
    work = os.path.join(root, "work")
    with open(os.path.join(root, "secret.txt"), "w") as f:
        f.write("top secret\n")
    os.makedirs(os.path.join(root, "outside-dir"))
    with open(os.path.join(root, "outside-dir", "secret.txt"), "w") as f:
        f.write("also secret\n")
    os.symlink(os.path.join(root, "secret.txt"), os.path.join(work, "outside-link"))
    os.symlink(os.path.join(root, "outside-dir"), os.path.join(work, "outside-dir-link"))


#: the host's times of what escape_rename must not touch
ESCAPE_TIMES_NS = 5 * 10**18


def _escape_setup(root: str) -> None:
    """Host files just outside the mount, for escape_rename to look for."""
    with open(os.path.join(root, "secret.txt"), "w") as f:
        f.write("top secret\n")
    os.makedirs(os.path.join(root, "outside-dir"))
    os.symlink("secret.txt", os.path.join(root, "host-link"))
    for name in ("secret.txt", "outside-dir"):
        os.utime(os.path.join(root, name), ns=(ESCAPE_TIMES_NS, ESCAPE_TIMES_NS))


@dataclass
class Case:
    name: str
    program: str
    args: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    setup: Callable[[str], None] = _no_setup
    read_only_mount: bool = False
    # files whose content is not compared (only existence and type)
    volatile: Tuple[str, ...] = ()


CASES = [
    Case("stdio", "stdio", stdin=b"hello from stdin\n" + bytes(range(256)) * 40),
    Case("stdio_empty", "stdio"),
    Case("args_env", "args_env", args=["one", "two words", "", "ünïcödé", "--flag"],
         env={"GREETING": "hello world", "EMPTY": "", "EQUALS": "a=b=c", "UNICODE": "ü"}),
    Case("args_none", "args_env"),
    Case("clocks", "clocks"),
    Case("random", "random"),
    Case("files", "files", args=["/sandbox"]),
    Case("readdir", "readdir", args=["/sandbox"]),
    Case("sandbox", "sandbox", args=["/sandbox", "/ro"], setup=_sandbox_setup, read_only_mount=True),
    Case("escape_rename", "escape_rename", args=["/sandbox"], setup=_escape_setup),
    Case("exit_0", "exit", args=["0"]),
    Case("exit_3", "exit", args=["3"]),
    Case("exit_125", "exit", args=["125"]),
    Case("exit_return_7", "exit", args=["return", "7"]),
    Case("exit_atexit_5", "exit", args=["atexit", "5"]),
    Case("exit_usage", "exit"),
    Case("trap_unreachable", "trap", args=["unreachable"]),
    Case("trap_divzero", "trap", args=["divzero"]),
    Case("trap_oob", "trap", args=["oob"]),
    Case("trap_badcall", "trap", args=["badcall"]),
    Case("trap_recurse", "trap", args=["recurse"]),
    Case("trap_none", "trap", args=["none"]),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def make_tree(case: Case, root: str) -> None:
    os.makedirs(os.path.join(root, "work"))
    os.makedirs(os.path.join(root, "ro"))
    with open(os.path.join(root, "ro", "ro.txt"), "w") as f:
        f.write("read-only content\n")
    case.setup(root)


def snapshot(case: Case, root: str) -> Dict[str, str]:
    """The files left in ``root/work`` (and ``root/ro``, as ``<ro>/...``, when it is
    mounted): path -> "dir", "symlink -> target" or "file <size> <sha256 prefix>"."""
    out: Dict[str, str] = {}
    trees = [(os.path.join(root, "work"), "")]
    if case.read_only_mount:  # must come out unchanged
        trees.append((os.path.join(root, "ro"), "<ro>/"))
    for top, prefix in trees:
        _walk(case, root, top, prefix, out)
    return dict(sorted(out.items()))


def _walk(case: Case, root: str, work: str, prefix: str, out: Dict[str, str]) -> None:
    for dirpath, dirnames, filenames in os.walk(work):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = prefix + os.path.relpath(full, work).replace(os.sep, "/")
            if os.path.islink(full):
                target = os.readlink(full)
                if os.path.isabs(target):
                    target = "<abs>/" + os.path.relpath(target, root).replace(os.sep, "/")
                out[rel] = "symlink -> " + target
            elif os.path.isdir(full):
                out[rel] = "dir"
            elif rel in case.volatile:
                out[rel] = "file"
            else:
                with open(full, "rb") as f:
                    data = f.read()
                out[rel] = f"file {len(data)} {hashlib.sha256(data).hexdigest()[:16]}"


def mount_args(case: Case, root: str) -> List[str]:
    out = ["--mount", os.path.join(root, "work") + ":/sandbox"]
    if case.read_only_mount:
        out += ["--mount", os.path.join(root, "ro") + ":/ro:ro"]
    return out


def cli_argv(case: Case, root: str, engine: str) -> List[str]:
    argv = ["run"] + mount_args(case, root)
    for k, v in case.env.items():
        argv += ["--env", f"{k}={v}"]
    if engine == "interpreter":
        argv.append("--interpreter")
    return argv + [os.path.join(BIN, case.program + ".wasm"), "--"] + case.args


def run_pywazero(case: Case, root: str, engine: str) -> Tuple[int, bytes, bytes]:
    """Run ``case`` through ``pywazero.cli.main`` in-process."""
    from pywazero import cli

    out, err = io.BytesIO(), io.BytesIO()
    code = cli.main(cli_argv(case, root, engine), stdin=io.BytesIO(case.stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def run_wasmtime(case: Case, root: str) -> Tuple[int, bytes, bytes]:
    """Run ``case`` under wasmtime's Python API with the same mounts, args and env."""
    import wasmtime

    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    wasi = wasmtime.WasiConfig()
    wasi.argv = [case.program + ".wasm"] + case.args
    wasi.env = list(case.env.items())
    io_dir = os.path.join(root, ".io")
    os.makedirs(io_dir, exist_ok=True)
    paths = {n: os.path.join(io_dir, n) for n in ("stdin", "stdout", "stderr")}
    with open(paths["stdin"], "wb") as f:
        f.write(case.stdin)
    wasi.stdin_file = paths["stdin"]
    wasi.stdout_file = paths["stdout"]
    wasi.stderr_file = paths["stderr"]
    wasi.preopen_dir(os.path.join(root, "work"), "/sandbox")
    if case.read_only_mount:
        wasi.preopen_dir(os.path.join(root, "ro"), "/ro", False)
    store.set_wasi(wasi)
    module = wasmtime.Module.from_file(engine, os.path.join(BIN, case.program + ".wasm"))
    code = 0
    try:
        instance = linker.instantiate(store, module)
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        code = e.code
    except wasmtime.Trap:
        code = TRAP_EXIT
    except wasmtime.WasmtimeError as e:
        if "exit status" in str(e):
            code = int(str(e).split("exit status")[1].split()[0])
        else:
            code = TRAP_EXIT
    del store
    outs = []
    for n in ("stdout", "stderr"):
        with open(paths[n], "rb") as f:
            outs.append(f.read())
    return code, outs[0], outs[1]


def result(case: Case, root: str, code: int, stdout: bytes) -> dict:
    return {"exit": code, "stdout": stdout.decode("utf-8", "replace"), "files": snapshot(case, root)}


def load_expected() -> Dict[str, dict]:
    with open(EXPECTED, encoding="utf-8") as f:
        return json.load(f)


def regen() -> None:  # pragma: no cover - dev tool
    import tempfile

    expected = {}
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "root")
            make_tree(case, root)
            code, out, err = run_wasmtime(case, root)
            expected[case.name] = result(case, root, code, out)
            sys.stderr.write(f"{case.name}: exit {code}\n{err.decode(errors='replace')}")
    with open(EXPECTED, "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--regen"]:
        regen()
    else:
        sys.exit("usage: python -m tests.wasi.harness --regen")
