"""The package's layering, checked on the import graph (docs/ARCHITECTURE.md,
"Layers").  Every import counts, including the ones deferred into function bodies:
a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pywazero"

# The modules at the bottom, which every layer may import and which import nothing.
BOTTOM = {"errors", "_version"}

# Which layers each layer may import (besides the bottom).  A layer is a subpackage
# or a bottom module.  Modules directly under pywazero/ that are not at the bottom
# are the public API and may import anything.
ALLOWED: Dict[str, Set[str]] = {
    "errors": set(),
    "_version": set(),
    "wasm": set(),
    "binary": {"wasm"},
    "text": {"wasm"},
    "script": {"wasm", "binary", "text"},
    "engine": {"wasm"},
}


def _layer(module: str) -> str:
    """``pywazero.engine.compiler.codegen`` -> ``engine``; top-level modules other
    than ``errors`` -> ``api``."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "pywazero":
        return "external"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return parts[1] if parts[1] in BOTTOM else "api"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> List[Tuple[int, str]]:
    """(line, absolute module) for every pywazero import in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from . import x`` names a submodule: count it as one.
            if not node.module:
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, m) for line, m in found if m == "pywazero" or m.startswith("pywazero.")]


def _violations() -> List[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(_module_name(path))
        if layer not in ALLOWED:
            continue
        for line, target in _imports(path):
            to = _layer(target)
            if to != layer and to not in ALLOWED[layer] and (to not in BOTTOM or layer in BOTTOM):
                bad.append(f"{path.relative_to(PACKAGE)}:{line}: {layer} imports {target} ({to})")
    return bad


def test_layers_import_only_what_is_below_them():
    assert _violations() == []


@pytest.mark.parametrize("source, layer, target", [
    ("from ..engine import numerics\n", "wasm", "pywazero.engine"),
    ("from ..text.parser import parse_module_text\n", "binary", "pywazero.text.parser"),
    ("import pywazero.api\n", "engine", "pywazero.api"),
    ("from ..binary.decoder import decode_module\n", "text", "pywazero.binary.decoder"),
])
def test_the_check_sees_a_violation(tmp_path, monkeypatch, source, layer, target):
    # A planted file in a copy of the layout must be reported, so the check above is
    # not vacuously green.
    fake = tmp_path / "pywazero"
    for sub in ALLOWED:
        if sub not in BOTTOM:
            (fake / sub).mkdir(parents=True)
    (fake / layer / "planted.py").write_text("def f():\n    " + source)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    found = _violations()
    assert len(found) == 1 and target in found[0] and found[0].startswith(f"{layer}/planted.py:2:")
