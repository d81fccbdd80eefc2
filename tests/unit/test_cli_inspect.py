"""``pywazero inspect [--json]``: function names, globals' types and initial values,
segment counts and the rest, in JSON and in the text output."""
from __future__ import annotations

import json
import pathlib

import pytest

import pywazero

from .test_cli import assert_one_line_error, run_cli, write

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

RICH = """(module $rich
  (import "env" "log" (func $log (param i32)))
  (import "env" "g" (global $g i32))
  (import "env" "mem" (memory 1 2))
  (table $t (export "t") 3 funcref)
  (table i64 1 externref)
  (memory i64 2)
  (tag $oops (export "oops") (param i32 f64))
  (global $a (export "a") i32 (i32.const -5))
  (global $b (mut i64) (i64.const 0xffffffffffffffff))
  (global $c f32 (f32.const 1.5))
  (global $d f64 (f64.const nan))
  (global $e f64 (f64.const -inf))
  (global $f v128 (v128.const i32x4 1 2 3 4))
  (global $h funcref (ref.null func))
  (global $i funcref (ref.func $run))
  (global $j i32 (i32.add (global.get $g) (i32.const 2)))
  (global $k f32 (f32.const nan:0x200))
  (func $run (export "run") (param i32) (result i32) (local.get 0))
  (func $helper)
  (elem (i32.const 0) $run $helper)
  (elem declare func $run)
  (data (memory 0) (i32.const 0) "abc")
  (data "passive")
  (data (memory 0) (i32.const 8) "x")
  (start $helper))
"""


@pytest.fixture
def rich(tmp_path):
    data = pywazero.wat2wasm(RICH)
    name = b"my-section"
    payload = b"12345"
    body = bytes([len(name)]) + name + payload
    data += bytes([0, len(body)]) + body
    return write(tmp_path, "rich.wasm", data)


def inspect_json(path):
    code, out, err = run_cli(["inspect", "--json", path])
    assert (code, err) == (0, "")
    return json.loads(out)


def test_json_globals(rich):
    info = inspect_json(rich)
    g = {x["index"]: x for x in info["globals"]}
    assert g[0] == {"index": 0, "type": "i32", "mutable": False, "imported": True, "import": "env.g"}
    assert (g[1]["value"], g[1]["init"], g[1]["mutable"]) == (-5, "i32.const -5", False)
    assert (g[2]["value"], g[2]["type"], g[2]["mutable"]) == (-1, "i64", True)
    assert g[3]["value"] == 1.5 and g[3]["type"] == "f32"
    assert g[4]["value"] == "nan" and g[5]["value"] == "-inf"
    assert g[6]["value"] == "0x00000004000000030000000200000001" and g[6]["type"] == "v128"
    assert g[7]["value"] is None and g[7]["init"] == "ref.null func"
    # not plain constants: shown as expressions, no value
    assert "value" not in g[8] and g[8]["init"] == "ref.func 1 ($run)"
    assert "value" not in g[9] and g[9]["init"] == "global.get 0; i32.const 2; i32.add"
    assert g[10]["value"] == "nan:0x200"
    assert all(not x["imported"] for x in info["globals"][1:])


def test_json_functions_segments_sections(rich):
    info = inspect_json(rich)
    assert info["module_name"] == "rich"
    assert info["functions"] == {"imported": 1, "defined": 2, "names": [
        {"index": 0, "name": "log"}, {"index": 1, "name": "run"}, {"index": 2, "name": "helper"}]}
    assert info["start"] == {"index": 2, "name": "helper"}
    assert info["data_segments"] == 3 and info["element_segments"] == 2
    names = [c["name"] for c in info["custom_sections"]]
    assert "my-section" in names and "name" in names
    assert {"name": "my-section", "size": 5} in info["custom_sections"]


def test_json_imports_exports_memories_tables_tags(rich):
    info = inspect_json(rich)
    assert info["imports"] == [
        {"module": "env", "name": "log", "kind": "func", "type": "[i32] -> []"},
        {"module": "env", "name": "g", "kind": "global", "type": "i32"},
        {"module": "env", "name": "mem", "kind": "memory", "address_type": "i32", "min": 1, "max": 2}]
    exports = {e["name"]: e for e in info["exports"]}
    assert exports["run"] == {"name": "run", "kind": "func", "type": "[i32] -> [i32]"}
    assert exports["a"] == {"name": "a", "kind": "global", "type": "i32"}
    assert exports["t"] == {"name": "t", "kind": "table", "element_type": "funcref", "address_type": "i32",
                            "min": 3, "max": None}
    assert exports["oops"]["kind"] == "tag" and exports["oops"]["type"].startswith("[i32 f64]")
    assert info["memories"] == [
        {"index": 0, "address_type": "i32", "imported": True, "min": 1, "max": 2},
        {"index": 1, "address_type": "i64", "imported": False, "min": 2, "max": None}]
    assert info["tables"] == [
        {"index": 0, "element_type": "funcref", "address_type": "i32", "imported": False, "min": 3, "max": None},
        {"index": 1, "element_type": "externref", "address_type": "i64", "imported": False, "min": 1,
         "max": None}]
    assert len(info["tags"]) == 1 and info["tags"][0]["type"].startswith("[i32 f64]")


def test_text_output_has_the_same_facts(rich):
    code, out, err = run_cli(["inspect", rich])
    assert (code, err) == (0, "")
    for line in ["  0: i32 (imported from env.g)", "  1: i32 = -5", "  2: (mut i64) = -1", "  3: f32 = 1.5",
                 "  4: f64 = nan", "  5: f64 = -inf", "  6: v128 = 0x00000004000000030000000200000001",
                 "  7: funcref = null", "  8: funcref = (ref.func 1 ($run))",
                 "  9: i32 = (global.get 0; i32.const 2; i32.add)",
                 "function names (3):\n  0: log\n  1: run\n  2: helper",
                 "functions: 2 defined, 1 imported", "start function: 2 (helper)",
                 "data segments: 3", "element segments: 2", "  my-section: 5 bytes",
                 "memories (2):\n  0: min 1, max 2 pages (imported)\n  1: i64 min 2 pages"]:
        assert line in out, line


def test_json_of_a_compiled_c_program():
    info = inspect_json(str(EXAMPLES / "hello.wasm"))
    names = {f["name"] for f in info["functions"]["names"]}
    assert {"main", "printf", "_start"} <= names
    assert {"module": "wasi_snapshot_preview1", "name": "fd_write", "kind": "func",
            "type": "[i32 i32 i32 i32] -> [i32]"} in info["imports"]
    # the stack pointer: a mutable i32 global holding a plain constant
    sp = info["globals"][0]
    assert sp["mutable"] and sp["type"] == "i32" and isinstance(sp["value"], int) and sp["value"] > 0


def test_json_of_an_empty_module(tmp_path):
    info = inspect_json(write(tmp_path, "e.wat", "(module)"))
    assert info["module_name"] is None and info["start"] is None
    assert all(info[k] == [] for k in ("imports", "exports", "memories", "tables", "globals", "tags",
                                       "custom_sections"))
    assert info["functions"] == {"imported": 0, "defined": 0, "names": []}


def test_json_errors(tmp_path):
    code, out, err = run_cli(["inspect", "--json", str(tmp_path / "none.wasm")])
    assert out == "" and assert_one_line_error(code, err, "no such file") is None
    path = write(tmp_path, "invalid.wat", "(module (func (result i32) (i64.const 1)))")
    code, out, err = run_cli(["inspect", "--json", path])
    assert out == ""
    assert_one_line_error(code, err, "invalid module")


def test_help_mentions_json():
    code, out, _ = run_cli(["inspect", "--help"])
    assert code == 0 and "--json" in out


GC = """(module
  (type $s (struct (field i32)))
  (type $f (func (param i32) (result i32)))
  (global $g (ref null $s) (ref.null $s))
  (global $h (ref $s) (struct.new $s (i32.const 5)))
  (table $t 2 (ref null $f))
  (func $fn (type $f) (local.get 0))
  (func (export "take") (param (ref null $f))))"""


def test_json_typed_references(tmp_path):
    path = write(tmp_path, "gc.wat", GC)
    info = inspect_json(path)
    g0, g1 = info["globals"]
    assert g0["type"] == "(ref null (struct (field i32)))" and g0["value"] is None
    assert g1["type"] == "(ref (struct (field i32)))" and "value" not in g1
    assert g1["init"] == "i32.const 5; struct.new 0"
    assert info["tables"][0]["element_type"] == "(ref null (func (param i32) (result i32)))"
    # and such a parameter cannot be given on the command line
    code, _, err = run_cli(["run", "--invoke", "take", path, "0"])
    assert code == 2 and "reference value ((ref null (func (param i32) (result i32)))) cannot be given" in err
