"""Where the test suites kept outside the repository are read from, and the message
given when one is missing (used by tests/conftest.py and the tests that read them)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    """True under CI (``CI`` set to anything but empty/0/false/no), where every suite is required."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def spec_suite_dir() -> Path:
    """The WebAssembly spec tests (``wast-1.0/``, ``wast-2.0/``, ``wast-3.0/`` ...):
    ``PYWAZERO_SPEC_DIR``, else ``../shared/spec`` beside the clone."""
    env = os.environ.get("PYWAZERO_SPEC_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "spec"


def wasi_testsuite_dir() -> Path:
    """The wasi-testsuite (``run-tests``, ``tests/``): ``PYWAZERO_WTS_SUITE``, else
    ``../shared/wasi-testsuite`` beside the clone."""
    env = os.environ.get("PYWAZERO_WTS_SUITE")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "wasi-testsuite"


def spec_suite_missing() -> Optional[str]:
    """None when the spec tests are there, else the one message that says where to put them."""
    root = spec_suite_dir()
    # a directory without any of the expected folders is as good as none
    if root.is_dir() and any((root / sub).is_dir() for sub in ("wast-1.0", "wast-2.0", "wast-3.0")):
        return None
    return (f"WebAssembly spec tests not found at {root}: put the spec suite there "
            "(folders wast-1.0/, wast-2.0/, wast-3.0/ of .wast files) or point "
            "PYWAZERO_SPEC_DIR at it (default: ../shared/spec beside the clone)")


def wasi_testsuite_missing() -> Optional[str]:
    """None when the wasi-testsuite is there, else the message that says where to put it."""
    root = wasi_testsuite_dir()
    if (root / "run-tests").is_file():
        return None
    return (f"wasi-testsuite not found at {root}: put a copy of "
            "github.com/WebAssembly/wasi-testsuite (branch prod/testsuite-base) there or point "
            "PYWAZERO_WTS_SUITE at it (default: ../shared/wasi-testsuite beside the clone)")
