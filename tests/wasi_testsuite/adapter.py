"""wasi-testsuite runtime adapter for pywazero (see the suite's doc/adapters.md).

The suite's runner loads this file as a module (with its own Python, 3.12 or newer)
and runs each test as ``PYTHON -m pywazero run --engine ENGINE ...``, where

* ``PYWAZERO_PYTHON`` is a Python that can import pywazero (default: ``python3``),
* ``PYWAZERO_ENGINE`` is ``compiler`` (the default) or ``interpreter``,
* ``PYWAZERO_TIMEOUT`` is the per-test time limit in seconds (default 120: the
  interpreter is slow and CI machines are small; a hang still fails).

Standard library only: it runs in the runner's venv, not in the project's.
"""
import os
import shlex
import subprocess
from typing import Dict, List, Optional, Tuple

PYTHON = shlex.split(os.environ.get("PYWAZERO_PYTHON", "python3"), posix=(os.name != "nt"))
ENGINE = os.environ.get("PYWAZERO_ENGINE", "compiler")


def get_name() -> str:
    return f"pywazero-{ENGINE}"


def get_version() -> str:
    out = subprocess.run(PYTHON + ["-m", "pywazero", "version"], encoding="utf-8",
                         capture_output=True, check=True).stdout.split()
    return out[1] if len(out) > 1 else "0.0.0"  # "pywazero 0.1.0 (CPython ...)"


def get_wasi_versions() -> List[str]:
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> List[str]:
    return ["wasi:cli/command"]


def get_timeout_seconds() -> float:
    return float(os.environ.get("PYWAZERO_TIMEOUT", "120"))


def compute_argv(test_path: str,
                 args_env_root: Tuple[List[str], Dict[str, str], Optional[str]],
                 proposals: List[str],
                 wasi_world: str,
                 wasi_version: str) -> List[str]:
    args, env, root = args_env_root
    argv = PYTHON + ["-m", "pywazero", "run", "--engine", ENGINE]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    if root:
        argv += ["--mount", f"{root}:/"]
    # '--' so that guest arguments starting with '-' are not taken as options
    return argv + [test_path, "--"] + list(args)
