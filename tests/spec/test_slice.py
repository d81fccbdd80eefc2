"""The spec slice (PYWAZERO_SPEC_SLICE) that CI's matrix legs run: parsing, checking,
and that pytest really runs only the listed scripts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import runner
from .slice import SliceError, read_slice, selected

REPO = Path(__file__).resolve().parents[2]
SUBSET = REPO / "tests" / "fast_subset.txt"


def test_read_slice_takes_spec_lines_only(tmp_path):
    f = tmp_path / "subset.txt"
    f.write_text("# comment\ntests/unit\nspec: wast-2.0/i32.wast\n\nspec:wast-3.0/gc/i31.wast  \n")
    assert read_slice(f) == ["wast-2.0/i32.wast", "wast-3.0/gc/i31.wast"]


def test_no_slice_means_everything():
    assert selected(["a.wast"], env="") is None


def test_unknown_or_empty_slice_is_an_error(tmp_path):
    f = tmp_path / "subset.txt"
    f.write_text("spec: wast-2.0/i32.wast\nspec: wast-2.0/nope.wast\n")
    with pytest.raises(SliceError, match="nope.wast"):
        selected(["wast-2.0/i32.wast"], env=str(f))
    f.write_text("tests/unit\n")
    with pytest.raises(SliceError, match="no 'spec: KEY' lines"):
        selected(["wast-2.0/i32.wast"], env=str(f))
    with pytest.raises(SliceError, match="cannot read"):
        selected([], env=str(tmp_path / "missing.txt"))


def test_committed_subset_covers_2_0_and_3_0():
    keys = read_slice(SUBSET)
    assert len(keys) == len(set(keys))
    assert any(k.startswith("wast-2.0/") for k in keys)
    assert any(k.startswith("wast-3.0/") for k in keys)
    spec = runner.spec_dir()
    if spec.is_dir():
        assert selected(runner.discover(spec), env=str(SUBSET)) == keys


@pytest.mark.skipif(not runner.spec_dir().is_dir(), reason="needs the spec suite (PYWAZERO_SPEC_DIR)")
def test_pytest_runs_only_the_slice(tmp_path):
    f = tmp_path / "subset.txt"
    f.write_text("spec: wast-2.0/i32.wast\nspec: wast-3.0/gc/i31.wast\n")
    env = dict(os.environ, PYWAZERO_SPEC_SLICE=str(f))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--collect-only", "-q",
         str(REPO / "tests" / "spec" / "test_spec.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    ids = [line for line in out.stdout.splitlines() if "::test_spec[" in line]
    wanted = ("wast-2.0/i32.wast", "wast-3.0/gc/i31.wast")
    assert all(line.endswith(tuple(k + "]" for k in wanted)) for line in ids), ids
    assert all(any(line.endswith(k + "]") for line in ids) for k in wanted), ids
    assert len(ids) == 2 * len(runner.ENGINES)
