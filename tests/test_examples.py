"""Every example in examples/ runs and prints what its README promises."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def _wasi_available() -> bool:
    try:
        import pywazero.wasi as wasi
    except ImportError:
        return False
    return hasattr(wasi, "instantiate")


needs_wasi = pytest.mark.skipif(not _wasi_available(), reason="pywazero.wasi is not available")


def run(argv, cwd=ROOT):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "src") + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable] + argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=120)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def test_host_function():
    code, out, err = run([os.path.join(EXAMPLES, "host_function.py")])
    assert code == 0, err
    assert out.splitlines() == [
        "  wasm: after 1, the sum is 1",
        "  wasm: after 2, the sum is 5",
        "  wasm: after 3, the sum is 14",
        "  wasm: after 4, the sum is 30",
        "sum_of_squares(4) = 30",
    ]


def test_strings():
    code, out, err = run([os.path.join(EXAMPLES, "strings.py")])
    assert code == 0, err
    assert out.splitlines() == [
        "  wasm says: Hello, Wörld!",
        "reverse('stressed') = 'desserts'",
        "checksum of bytes 0..9 = 45",
    ]


def test_multiple_results():
    code, out, err = run([os.path.join(EXAMPLES, "multiple_results.py")])
    assert code == 0, err
    assert out.splitlines() == [
        "divmod(17, 5) = (3, 2)",
        "stats(7, 4) = (11, 5.5, 1)",
        "spread(3, 11) = 8",
    ]


@pytest.mark.parametrize("engine", [[], ["--interpreter"]])
def test_linking_and_tracing(engine):
    code, out, err = run([os.path.join(EXAMPLES, "linking.py")] + engine)
    assert code == 0, err
    stub = "unknown import called: 'env'.'on_error' was defined as a trap (Linker.define_unknown_imports_as_traps)"
    assert out.splitlines() == [
        "--> app.reduce(84, 36)",
        "  --> lib.gcd(84, 36)",
        "    --> lib.gcd(36, 12)",
        "      --> lib.gcd(12, 0)",
        "      <-- lib.gcd = 12",
        "    <-- lib.gcd = 12",
        "  <-- lib.gcd = 12",
        "  python: reduced to 7/3 (divided by 12)",
        "<-- app.reduce",
        "--> app.reduce(1, 0)",
        "<-- app.reduce !! Trap: " + stub,
        "trap: " + stub,
    ]


@needs_wasi
def test_run_wasi_from_python(tmp_path):
    # from another directory: the script finds its files next to itself
    code, out, err = run([os.path.join(EXAMPLES, "run_wasi.py")], cwd=str(tmp_path))
    assert code == 0, err
    lines = out.splitlines()
    assert "Hello, Python! (from WebAssembly)" in lines
    assert 'first line of hello.c, read by cat.wasm: /* hello: a WASI "hello world".  ' \
           "Greets its first argument, if any." in lines
    assert any(line.startswith("cat /etc/passwd exited with 1: cat: /etc/passwd: ") for line in lines)


@needs_wasi
@pytest.mark.parametrize("engine", [[], ["--interpreter"]])
def test_hello_from_the_shell(engine):
    code, out, err = run(["-m", "pywazero", "run"] + engine + ["examples/hello.wasm"])
    assert (code, out, err) == (0, "Hello, world! (from WebAssembly)\n", "")
    code, out, err = run(["-m", "pywazero", "run"] + engine + ["examples/hello.wasm", "pywazero"])
    assert (code, out) == (0, "Hello, pywazero! (from WebAssembly)\n")


@needs_wasi
@pytest.mark.parametrize("engine", [[], ["--interpreter"]])
def test_cat_from_the_shell(engine):
    code, out, err = run(["-m", "pywazero", "run", "--mount", "examples:/ex:ro"] + engine +
                         ["examples/cat.wasm", "/ex/hello.c", "/ex/cat.c"])
    assert code == 0, err
    with open(os.path.join(EXAMPLES, "hello.c")) as f1, open(os.path.join(EXAMPLES, "cat.c")) as f2:
        assert out == f1.read() + f2.read()


@needs_wasi
def test_cat_stdin_and_errors():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(ROOT, "src")
    p = subprocess.run([sys.executable, "-m", "pywazero", "run", "examples/cat.wasm"], cwd=ROOT,
                       input=b"piped through\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=120)
    assert (p.returncode, p.stdout) == (0, b"piped through\n")
    code, out, err = run(["-m", "pywazero", "run", "--mount", "examples:/ex", "examples/cat.wasm",
                          "/ex/missing.txt"])
    assert code == 1 and out == "" and err.startswith("cat: /ex/missing.txt: ")


def test_inspect_example():
    code, out, err = run(["-m", "pywazero", "inspect", "examples/strings.wat"])
    assert code == 0, err
    assert "module name: strings" in out and "  greet: func [i32 i32] -> []" in out


def _console_commands(path):
    """(command, expected output, exit status) for each ``$ pywazero ...`` line of the
    ```console blocks of a Markdown file; ``[exit status N]`` after the output gives N."""
    import re
    import shlex

    text = open(path, encoding="utf-8").read()
    found = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            status = 0
            m = re.search(r"^\[exit status (\d+)\]\n\Z", output, re.M)
            if m:
                status, output = int(m.group(1)), output[:m.start()]
            found.append((shlex.split(command), output, status))
    return found


CLI_MD = _console_commands(os.path.join(EXAMPLES, "cli.md"))


def test_cli_md_has_the_promised_commands():
    words = {w for argv, _, _ in CLI_MD for w in argv}
    assert {"--invoke", "--preload", "wast", "--engine"} <= words and len(CLI_MD) >= 7


@pytest.mark.parametrize("argv, output, status", CLI_MD, ids=[" ".join(a[1:4]) for a, _, _ in CLI_MD])
def test_cli_md(argv, output, status):
    assert argv[0] == "pywazero"
    code, out, err = run(["-m", "pywazero"] + argv[1:])
    assert (out + err, code) == (output, status)


def test_cli_md_inspect_json():
    import json

    code, out, err = run(["-m", "pywazero", "inspect", "--json", "examples/cli_lib.wat"])
    assert code == 0, err
    assert json.loads(out)["globals"] == [{"index": 0, "type": "i32", "mutable": True, "imported": False,
                                           "init": "i32.const 0", "value": 0}]
    with open(os.path.join(EXAMPLES, "cli.md"), encoding="utf-8") as f:
        assert '"init": "i32.const 0", "value": 0}]' in f.read()
