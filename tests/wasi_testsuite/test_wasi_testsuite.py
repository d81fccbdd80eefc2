"""The official WASI preview1 conformance suite (wasi-testsuite, a read-only copy in
``../shared/wasi-testsuite`` beside the clone; see its SOURCE.md) run against
pywazero on both engines: all 72 tests must pass.

The suite's runner needs Python 3.12 or newer (``PYWAZERO_WTS_PYTHON``, or pyenv's,
or ``python3.12``/``python3.13`` on PATH) with colorama and requests; a venv with
them is made once in the pytest cache.  The runner runs each test as a fresh
``python -m pywazero run --engine ENGINE`` (adapter.py) with this interpreter and
this checkout's pywazero.  Outside CI a missing Python 3.12 or suite skips; in CI
(``CI`` set) it fails.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

import pywazero

from ..suites import in_ci, wasi_testsuite_dir

HERE = Path(__file__).resolve().parent
SUITE = wasi_testsuite_dir()  # PYWAZERO_WTS_SUITE, else ../shared/wasi-testsuite
pytestmark = pytest.mark.wasi_testsuite  # skipped without the suite, required in CI (tests/conftest.py)
EXPECTED_TESTS = 72
#: the whole run of one engine (it takes about 40 s with the compiler, 2 min with
#: the interpreter on a small machine)
RUN_TIMEOUT = 1800


def _missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"CI needs {what}")
    pytest.skip(f"needs {what}")


def _is_312(python: str) -> bool:
    try:
        out = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == "True"


def find_python312() -> Optional[str]:
    """A Python 3.12 or newer to run the suite's runner with."""
    candidates: List[str] = []
    if os.environ.get("PYWAZERO_WTS_PYTHON"):
        candidates.append(os.environ["PYWAZERO_WTS_PYTHON"])
    if sys.version_info >= (3, 12) and sys.implementation.name == "cpython":
        candidates.append(sys.executable)
    roots = [os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")]
    if shutil.which("pyenv"):
        try:
            roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                                        timeout=60).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    for root in filter(None, roots):
        candidates += sorted(glob.glob(os.path.join(root, "versions", "3.1[2-9]*", "bin", "python3")))
    for name in ("python3.13", "python3.12", "python3.14"):
        path = shutil.which(name)
        if path:
            candidates.append(path)
    return next((c for c in candidates if _is_312(c)), None)


def _lock(path: Path):
    """An exclusive lock on ``path`` (xdist workers share the venv)."""
    f = open(path, "a+")
    try:
        import fcntl
        fcntl.flock(f, fcntl.LOCK_EX)
    except ImportError:  # pragma: no cover - Windows: no lock; workers may race once
        pass
    return f


@pytest.fixture(scope="session")
def runner_python(request, tmp_path_factory) -> str:
    """The venv's Python with colorama and requests."""
    python = find_python312()
    if python is None:
        _missing("Python 3.12 or newer for the wasi-testsuite runner (pyenv install 3.12)")
    if not (SUITE / "run-tests").is_file():
        _missing(f"the wasi-testsuite at {SUITE}")
    if getattr(request.config, "cache", None) is not None:
        cache = Path(request.config.cache.mkdir("wasi-testsuite-venv"))
    else:  # -p no:cacheprovider
        cache = tmp_path_factory.getbasetemp() / "wasi-testsuite-venv"
        cache.mkdir(exist_ok=True)
    with _lock(cache / "lock"):
        venv = cache / "venv"
        vpy = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        ok = vpy.exists() and subprocess.run([str(vpy), "-c", "import colorama, requests"],
                                             capture_output=True).returncode == 0
        if not ok:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
            pip = subprocess.run([str(vpy), "-m", "pip", "install", "-q", "colorama", "requests"],
                                 capture_output=True, text=True, timeout=600)
            if pip.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                pytest.fail("could not install the wasi-testsuite runner's needs "
                            f"(colorama, requests):\n{pip.stdout}\n{pip.stderr}")
    return str(vpy)


def _results(report: dict) -> tuple:
    passed, failed = 0, []
    for suite in report["results"]:
        for t in suite["tests"]:
            if t["outcome"] == "pass":
                passed += 1
            else:
                failed.append(f"{suite['name']} {t['name']}: {t['outcome']}: "
                              + "\n".join(t.get("failures") or [])[:2000])
    return passed, failed


@pytest.mark.parametrize("engine", ["compiler", "interpreter"])
def test_wasi_testsuite(engine, runner_python, tmp_path):
    suite = tmp_path / "wasi-testsuite"
    # a copy: the runner writes next to the tests (fs-tests.dir scratch files)
    shutil.copytree(SUITE, suite)
    for d, _, files in os.walk(suite):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    env = dict(os.environ)
    src = str(Path(pywazero.__file__).resolve().parents[1])
    env.update(PYWAZERO_PYTHON=sys.executable, PYWAZERO_ENGINE=engine,
               PYTHONPATH=src + os.pathsep + env.get("PYTHONPATH", ""))
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [runner_python, str(suite / "run-tests"), "-r", str(HERE / "adapter.py"),
         "--disable-colors", "--json-output-location", str(out)],
        cwd=suite, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert out.exists(), f"the runner failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    passed, failed = _results(json.loads(out.read_text()))
    assert not failed, "\n\n".join(failed)
    assert passed == EXPECTED_TESTS, proc.stdout[-4000:]
    assert proc.returncode == 0, proc.stdout[-4000:]
